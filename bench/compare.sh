#!/bin/sh
# bench/compare.sh - ajar against llama.cpp's llama-bench (and optionally
# ik_llama.cpp's) on the same model files and thread count.
#
# For each model the programs run in turn, REPS times over
# (ajar, llama.cpp, ik_llama.cpp, ajar, llama.cpp, ...), so that a slow
# spell of the machine (another job, thermal throttling) hits all of them
# alike. Each run measures prompt processing (pp, PP tokens in one batch)
# and generation (tg, TG tokens one at a time) with INNER timed repetitions
# after its own warm-up. The table reports, per model and test, the mean and
# sample standard deviation of all per-repetition tokens/s values and the
# ratio of ajar's mean to each competitor's.
#
# It also measures memory bandwidth with bench/stream.c (STREAM triad, same
# thread count) and puts generation speed against its bound: bandwidth /
# bytes of weights read per generated token (`ajar bench --json`'s
# tg_bytes_per_token: every tensor but the token embedding, of which one row
# is read).
#
# Nothing here builds llama.cpp: point LLAMA_BENCH / IK_LLAMA_BENCH at
# prebuilt binaries; a competitor that is not set or not executable is
# skipped with a note.
#
# Environment:
#   AJAR            ajar binary (default build/release/ajar)
#   LLAMA_BENCH     llama.cpp's llama-bench (optional)
#   IK_LLAMA_BENCH  ik_llama.cpp's llama-bench (optional)
#   MODELS          space-separated GGUF files (default: tinyllama-{q4_0,q8_0,f16}.gguf in MODEL_DIR)
#   MODEL_DIR       default models
#   THREADS         default 2
#   REPS            alternations (default 3)
#   INNER           timed repetitions inside each run, -r (default 1)
#   PP, TG          test sizes (default 512, 128; 0 skips that test)
#   CACHE_TYPE      ajar's KV cache type (default f16, llama-bench's default)
#   STREAM          1 (default) measures bandwidth; 0 skips it
#   CC              C compiler for stream.c (default cc)
#   OUT             also write the report to this file
#
# Needs python3 (to read the JSON both programs print).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
AJAR=${AJAR:-build/release/ajar}
LLAMA_BENCH=${LLAMA_BENCH:-}
IK_LLAMA_BENCH=${IK_LLAMA_BENCH:-}
MODEL_DIR=${MODEL_DIR:-models}
MODELS=${MODELS:-"$MODEL_DIR/tinyllama-q4_0.gguf $MODEL_DIR/tinyllama-q8_0.gguf $MODEL_DIR/tinyllama-f16.gguf"}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
INNER=${INNER:-1}
PP=${PP:-512}
TG=${TG:-128}
CACHE_TYPE=${CACHE_TYPE:-f16}
STREAM=${STREAM:-1}
CC=${CC:-cc}
OUT=${OUT:-}

note() { printf 'compare.sh: %s\n' "$*" >&2; }
die() { note "$*"; exit 1; }

case "$THREADS$REPS$INNER$PP$TG" in *[!0-9]*) die "THREADS, REPS, INNER, PP and TG must be whole numbers" ;; esac
[ -x "$AJAR" ] || die "AJAR=$AJAR is not an executable ajar binary (build it, or set AJAR)"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to read the benchmark JSON"

# The competitors that are present: "name path" lines.
work=$(mktemp -d "${TMPDIR:-/tmp}/ajar-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
: > "$work/programs"
if [ -n "$LLAMA_BENCH" ] && [ -x "$LLAMA_BENCH" ]; then
	echo "llama.cpp $LLAMA_BENCH" >> "$work/programs"
else
	note "LLAMA_BENCH is not set or not executable: skipping llama.cpp"
fi
if [ -n "$IK_LLAMA_BENCH" ] && [ -x "$IK_LLAMA_BENCH" ]; then
	echo "ik_llama.cpp $IK_LLAMA_BENCH" >> "$work/programs"
elif [ -n "$IK_LLAMA_BENCH" ]; then
	note "IK_LLAMA_BENCH=$IK_LLAMA_BENCH is not executable: skipping ik_llama.cpp"
fi

# Memory bandwidth.
gbps=""
if [ "$STREAM" = 1 ]; then
	if "$CC" -O3 -march=native -pthread -o "$work/stream" "$here/stream.c" 2> "$work/stream.log"; then
		line=$("$work/stream" -t "$THREADS") || line=""
		note "$line"
		gbps=$(printf '%s\n' "$line" | sed -n 's/^triad: \([0-9.]*\) GB\/s.*/\1/p')
	else
		note "could not compile bench/stream.c with $CC (see below); no bandwidth bound"
		cat "$work/stream.log" >&2
	fi
fi

# The runs, alternating programs.
mi=0
for model in $MODELS; do
	mi=$((mi + 1))
	if [ ! -f "$model" ]; then
		note "$model: no such file, skipped"
		continue
	fi
	echo "$mi $model" >> "$work/models"
	rep=1
	while [ "$rep" -le "$REPS" ]; do
		note "$(basename "$model"): round $rep of $REPS: ajar"
		if ! "$AJAR" bench -m "$model" -p "$PP" -n "$TG" -t "$THREADS" -r "$INNER" \
			--cache-type "$CACHE_TYPE" --json < /dev/null > "$work/run.$mi.ajar.$rep.json" 2> "$work/err"; then
			note "ajar failed on $model: $(cat "$work/err")"
			rm -f "$work/run.$mi.ajar.$rep.json"
		fi
		while read -r name path; do
			note "$(basename "$model"): round $rep of $REPS: $name"
			if ! "$path" -m "$model" -p "$PP" -n "$TG" -t "$THREADS" -r "$INNER" -o json \
				< /dev/null > "$work/run.$mi.$name.$rep.json" 2> "$work/err"; then
				note "$name failed on $model: $(tail -n 3 "$work/err")"
				rm -f "$work/run.$mi.$name.$rep.json"
			fi
		done < "$work/programs"
		rep=$((rep + 1))
	done
done
[ -f "$work/models" ] || die "none of the models exist: $MODELS"

python3 - "$work" "$THREADS" "$PP" "$TG" "$REPS" "$INNER" "${gbps:-}" "$CACHE_TYPE" > "$work/report.md" <<'EOF'
import glob, json, math, os, sys

work, threads, pp, tg, reps, inner, gbps, cache = sys.argv[1:9]
gbps = float(gbps) if gbps else None
programs = ["ajar"] + [l.split(" ", 1)[0] for l in open(os.path.join(work, "programs")).read().splitlines() if l]
models = [l.split(" ", 1) for l in open(os.path.join(work, "models")).read().splitlines() if l]

def stats(v):
    if not v:
        return None
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd, len(v)

def samples(mi, prog, test):
    """All per-repetition tokens/s of one program on one model and test."""
    out, extra = [], {}
    for path in sorted(glob.glob(os.path.join(work, "run.%s.%s.*.json" % (mi, prog)))):
        try:
            data = json.load(open(path))
        except ValueError:
            continue
        if prog == "ajar":
            out += data.get(test + "_samples") or []
            extra = data
        else:
            for t in data if isinstance(data, list) else [data]:
                is_pp = t.get("n_prompt", 0) > 0 and t.get("n_gen", 0) == 0
                is_tg = t.get("n_gen", 0) > 0 and t.get("n_prompt", 0) == 0
                if (test == "pp" and is_pp) or (test == "tg" and is_tg):
                    out += t.get("samples_ts") or []
    return out, extra

def fmt(s):
    return "%.2f ± %.2f" % (s[0], s[1]) if s else "n/a"

tests = [t for t, n in (("pp", int(pp)), ("tg", int(tg))) if n > 0]
head = ["model", "test", "ajar t/s"]
for p in programs[1:]:
    head += ["%s t/s" % p, "ajar / %s" % p]
print("Threads: %s; %s round(s) alternating %s; %s timed repetition(s) per run after a warm-up; ajar KV cache %s."
      % (threads, reps, ", ".join(programs), inner, cache))
print()
print("| " + " | ".join(head) + " |")
print("|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|")
bound_rows = []
for mi, path in models:
    name = os.path.basename(path)
    for test in tests:
        n = pp if test == "pp" else tg
        row = [name, "%s%s" % (test, n)]
        a, info = samples(mi, "ajar", test)
        sa = stats(a)
        row.append(fmt(sa))
        comp = {}
        for p in programs[1:]:
            s = stats(samples(mi, p, test)[0])
            comp[p] = s
            row.append(fmt(s))
            row.append("%.2f" % (sa[0] / s[0]) if sa and s and s[0] > 0 else "n/a")
        print("| " + " | ".join(row) + " |")
        if test == "tg" and info.get("tg_bytes_per_token"):
            bound_rows.append((name, info["tg_bytes_per_token"], sa, comp))

if gbps and bound_rows:
    print()
    print("Generation against the memory-bandwidth bound: STREAM triad %.2f GB/s with %s threads; "
          "bound = bandwidth / weight bytes read per token." % (gbps, threads))
    print()
    head = ["model", "MB read / token", "bound t/s", "ajar t/s", "ajar % of bound"]
    for p in programs[1:]:
        head += ["%s t/s" % p, "%s %% of bound" % p]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for name, bpt, sa, comp in bound_rows:
        bound = gbps * 1e9 / bpt
        row = [name, "%.1f" % (bpt / 1e6), "%.2f" % bound, fmt(sa), "%.0f%%" % (100 * sa[0] / bound) if sa else "n/a"]
        for p in programs[1:]:
            s = comp[p]
            row += [fmt(s), "%.0f%%" % (100 * s[0] / bound) if s else "n/a"]
        print("| " + " | ".join(row) + " |")
EOF
cat "$work/report.md"
if [ -n "$OUT" ]; then
	cp "$work/report.md" "$OUT"
fi
