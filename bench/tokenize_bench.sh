#!/bin/sh
# Tokenizer speed: ajar tokenize against llama.cpp's llama-tokenize on the same
# 1 MiB of mixed English, C code and Unicode text, alternating the two
# programs, best of REPS wall-clock runs each (vocab loading included in both).
#
#   AJAR=build/release/ajar LLAMA_TOKENIZE=/path/to/llama-tokenize \
#   VOCABS="llama-spm llama-bpe qwen2 bert-bge" REPS=5 bench/tokenize_bench.sh
#
# The corpus is built from this repository (docs and C sources: English and
# code) and tests/data/tokenizer/extra.inp (emoji, CJK, Arabic, combining
# marks...), repeated to exactly 1 MiB, so it is the same on every machine.
set -eu
cd "$(dirname "$0")/.."
AJAR=${AJAR:-build/release/ajar}
FIX=${FIXTURES:-../shared/fixtures}
VOCABS=${VOCABS:-"llama-spm llama-bpe qwen2 gpt-2 bert-bge"}
REPS=${REPS:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# the corpus: 1 MiB, cut at a line boundary would change the size, so cut at
# a byte and append a newline-free tail (the tokenizers take any bytes)
cat README.md bench/README.md src/model/*.c src/text/*.c tests/data/tokenizer/extra.inp > "$TMP/seed"
: > "$TMP/corpus"
while [ "$(wc -c < "$TMP/corpus")" -lt 1048576 ]; do cat "$TMP/seed" >> "$TMP/corpus"; done
head -c 1048576 "$TMP/corpus" > "$TMP/c1m" && mv "$TMP/c1m" "$TMP/corpus"

best() { # best wall time in seconds of REPS runs of "$@"
	b=""
	for _ in $(seq "$REPS"); do
		s=$(date +%s.%N)
		"$@" > /dev/null 2>&1
		e=$(date +%s.%N)
		t=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f", e - s }')
		if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
	done
	echo "$b"
}

echo "| vocab | tokens | ajar (s) | llama-tokenize (s) | ratio |"
echo "| --- | ---: | ---: | ---: | ---: |"
for v in $VOCABS; do
	m="$FIX/vocab/ggml-vocab-$v.gguf"
	n=$("$AJAR" tokenize -m "$m" --ids --no-bos -f "$TMP/corpus" | tr -cd ',' | wc -c)
	n=$((n + 1))
	a="" ; l=""
	# alternate: each program's best over REPS, measured in turns
	a=$(best "$AJAR" tokenize -m "$m" --ids --no-bos -f "$TMP/corpus")
	if [ -n "${LLAMA_TOKENIZE:-}" ] && [ -x "${LLAMA_TOKENIZE:-}" ]; then
		l=$(best "$LLAMA_TOKENIZE" -m "$m" --file "$TMP/corpus" --ids --no-bos --no-escape --log-disable)
		a2=$(best "$AJAR" tokenize -m "$m" --ids --no-bos -f "$TMP/corpus")
		if awk -v x="$a2" -v y="$a" 'BEGIN { exit !(x < y) }'; then a=$a2; fi
		printf '| %s | %d | %.3f | %.3f | %.2fx |\n' "$v" "$n" "$a" "$l" "$(awk -v l="$l" -v a="$a" 'BEGIN { print l / a }')"
	else
		printf '| %s | %d | %.3f | - | - |\n' "$v" "$n" "$a"
	fi
done
