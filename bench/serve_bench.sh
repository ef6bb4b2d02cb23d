#!/bin/sh
# bench/serve_bench.sh - what continuous batching buys: aggregate generation
# throughput of `ajar serve --parallel 8` under 1, 4 and 8 concurrent
# streaming clients (bench/serve_load.c), and optionally the same against
# llama.cpp's llama-server on the same model, threads and slots.
#
# For each server: start it on 127.0.0.1 (loopback only), wait for /health,
# then for each client count C send REQUESTS x C streaming chat requests of
# exactly MAX_TOKENS tokens each (ignore_eos), C at a time, after one
# untimed warm-up request. Reported per run: aggregate completion tokens/s
# (all tokens / wall time), time to first token p50/p99, errors; then the
# ratio of tokens/s at the most clients to tokens/s at 1 client. With
# ROBUST=1 (the default) a last run against ajar mixes malformed and aborted
# requests in (serve_load --robust, ROBUST_REQUESTS of them) and checks
# /health, that ajar_slots_busy is back to 0, and that the server's resident
# memory (VmRSS) after it is within RSS_SLACK_KB of its level after the
# client series (every slot and buffer touched: the idle level under load).
#
# Environment:
#   AJAR          ajar binary (default build/release/ajar)
#   MODEL         GGUF model (default models/llama-160m-q8_0.gguf)
#   LLAMA_SERVER  llama.cpp's llama-server binary (optional)
#   PARALLEL      slots (--parallel / -np; default 8)
#   CLIENTS       client counts (default "1 4 8")
#   REQUESTS      requests per client in each run (default 4)
#   MAX_TOKENS    tokens per request (default 64)
#   PROMPT        the prompt (serve_load's default otherwise)
#   THREADS       threads per server (default 2)
#   CTX           context positions per slot (default 512)
#   CACHE_TYPE    ajar's KV cache type (default f16, llama-server's default)
#   ROBUST        1 (default): also run the robustness mix against ajar; 0: skip
#   ROBUST_REQUESTS  requests in the robustness mix (default 2000)
#   RSS_SLACK_KB  allowed growth of VmRSS over the mix (default 8192)
#   CC            C compiler for serve_load.c (default cc; needs libcurl's headers)
#   OUT           also write the report there
# Needs python3 (to read serve_load's JSON) and curl (to wait for /health).
# Progress goes to stderr, the Markdown report to stdout.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
AJAR=${AJAR:-build/release/ajar}
MODEL=${MODEL:-models/llama-160m-q8_0.gguf}
LLAMA_SERVER=${LLAMA_SERVER:-}
PARALLEL=${PARALLEL:-8}
CLIENTS=${CLIENTS:-"1 4 8"}
REQUESTS=${REQUESTS:-4}
MAX_TOKENS=${MAX_TOKENS:-64}
PROMPT=${PROMPT:-}
THREADS=${THREADS:-2}
CTX=${CTX:-512}
CACHE_TYPE=${CACHE_TYPE:-f16}
ROBUST=${ROBUST:-1}
ROBUST_REQUESTS=${ROBUST_REQUESTS:-2000}
RSS_SLACK_KB=${RSS_SLACK_KB:-8192}
CC=${CC:-cc}
OUT=${OUT:-}

say() { echo "serve_bench: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$AJAR" ] || die "no ajar binary at $AJAR (build the ajar target, or set AJAR)"
[ -f "$MODEL" ] || die "no model at $MODEL (see bench/README.md, Models)"
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"
if [ -n "$LLAMA_SERVER" ] && [ ! -x "$LLAMA_SERVER" ]; then
	say "LLAMA_SERVER=$LLAMA_SERVER is not executable: skipping llama-server"
	LLAMA_SERVER=
fi

tmp=$(mktemp -d)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

say "building serve_load"
$CC -O2 -std=c11 -D_GNU_SOURCE -o "$tmp/serve_load" "$here/serve_load.c" -lcurl -lpthread -lm ||
	die "could not build bench/serve_load.c (libcurl4-openssl-dev installed?)"

# wait_health URL SECONDS: until GET /health answers 200.
wait_health() {
	i=0
	while [ "$i" -lt $(($2 * 10)) ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$1/health" 2>/dev/null || true)
		[ "$code" = 200 ] && return 0
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# rss_kb PID: resident memory of a process in kB.
rss_kb() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

start_ajar() {
	"$AJAR" serve -m "$MODEL" --host 127.0.0.1 --port 0 --parallel "$PARALLEL" --threads "$THREADS" \
		--ctx "$CTX" --cache-type "$CACHE_TYPE" --store "sqlite:$tmp/store.db" \
		--admin-key-file "$tmp/admin.key" >"$tmp/ajar.out" 2>"$tmp/ajar.err" &
	server_pid=$!
	i=0
	url=
	while [ "$i" -lt 1200 ] && [ -z "$url" ]; do
		url=$(sed -n 's|.*\(http://127\.0\.0\.1:[0-9][0-9]*\)/.*|\1|p' "$tmp/ajar.out" | head -n 1)
		[ -n "$url" ] && break
		kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/ajar.err" >&2; die "ajar serve exited"; }
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$url" ] || die "ajar serve printed no address"
	wait_health "$url" 120 || { cat "$tmp/ajar.err" >&2; die "ajar serve: /health never answered 200"; }
	# Every request goes through the guard (key check, audit row) with the
	# admin key made for this fresh store; llama-server gets no key.
	key=$(cat "$tmp/admin.key")
}

start_llama() {
	key=
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# llama-server's -c is the whole cache, shared out among the -np slots.
	"$LLAMA_SERVER" -m "$MODEL" --host 127.0.0.1 --port "$port" -np "$PARALLEL" -t "$THREADS" \
		-c $((CTX * PARALLEL)) --metrics >"$tmp/llama.out" 2>"$tmp/llama.err" &
	server_pid=$!
	url="http://127.0.0.1:$port"
	wait_health "$url" 300 || { tail -n 20 "$tmp/llama.err" >&2; die "llama-server: /health never answered 200"; }
}

# run_series NAME: the client counts against the server at $url.
run_series() {
	for c in $CLIENTS; do
		n=$((REQUESTS * c))
		say "$1: $c client(s), $n requests of $MAX_TOKENS tokens"
		if [ -n "$PROMPT" ]; then
			"$tmp/serve_load" -u "$url" ${key:+--key "$key"} -c "$c" -n "$n" -m "$MAX_TOKENS" -w 1 --prompt "$PROMPT" --json \
				>"$tmp/run.json" || say "$1: $c clients: serve_load reported errors"
		else
			"$tmp/serve_load" -u "$url" ${key:+--key "$key"} -c "$c" -n "$n" -m "$MAX_TOKENS" -w 1 --json \
				>"$tmp/run.json" || say "$1: $c clients: serve_load reported errors"
		fi
		printf '%s\t%s\n' "$1" "$(cat "$tmp/run.json")" >>"$tmp/results.tsv"
	done
}

: >"$tmp/results.tsv"
say "ajar: starting $AJAR serve on $MODEL (--parallel $PARALLEL, $THREADS threads, ctx $CTX, cache $CACHE_TYPE)"
start_ajar
run_series ajar
robust_report=
if [ "$ROBUST" = 1 ]; then
	rss_before=$(rss_kb "$server_pid")
	say "ajar: robustness mix ($PARALLEL clients, $ROBUST_REQUESTS requests; VmRSS now $rss_before kB)"
	if "$tmp/serve_load" -u "$url" ${key:+--key "$key"} -c "$PARALLEL" -n "$ROBUST_REQUESTS" -m 8 -w 0 --robust >"$tmp/robust.txt" 2>"$tmp/robust.err"; then
		robust_report="passed"
	else
		robust_report="FAILED"
		cat "$tmp/robust.err" >&2
	fi
	sleep 1 # let the last aborted streams' slots be freed
	rss_after=$(rss_kb "$server_pid")
	if [ $((rss_after - rss_before)) -gt "$RSS_SLACK_KB" ]; then
		robust_report="FAILED (VmRSS grew from $rss_before kB to $rss_after kB)"
	else
		robust_report="$robust_report; VmRSS $rss_before kB before, $rss_after kB after ($ROBUST_REQUESTS requests)"
	fi
fi
stop_server

if [ -n "$LLAMA_SERVER" ]; then
	say "llama.cpp: starting $LLAMA_SERVER on $MODEL"
	start_llama
	run_series llama.cpp
	stop_server
fi

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
report=$(
	python3 - "$tmp/results.tsv" "$MODEL" "$PARALLEL" "$THREADS" "$MAX_TOKENS" "$REQUESTS" "$CTX" "$cpu" <<'EOF'
import json, os, sys
path, model, parallel, threads, max_tokens, reqs, ctx, cpu = sys.argv[1:9]
rows = []
for line in open(path):
    name, js = line.rstrip("\n").split("\t", 1)
    rows.append((name, json.loads(js)))
print(f"Model `{os.path.basename(model)}`, {parallel} slots, {threads} threads, {max_tokens} tokens per request "
      f"(ignore_eos), {reqs} requests per client, ctx {ctx} per slot; CPU: {cpu or 'unknown'}.")
print()
print("| server | clients | requests | tokens/s (aggregate) | TTFT p50 ms | TTFT p99 ms | latency p50 ms | errors |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, r in rows:
    print(f"| {name} | {r['clients']} | {r['requests']} | {r['tokens_per_s']:.1f} | {r['ttft_p50_ms']:.0f} | "
          f"{r['ttft_p99_ms']:.0f} | {r['latency_p50_ms']:.0f} | {r['errors']} |")
print()
for name in dict.fromkeys(n for n, _ in rows):
    runs = [r for n, r in rows if n == name]
    one = [r for r in runs if r["clients"] == 1]
    most = max(runs, key=lambda r: r["clients"])
    if one and one[0]["tokens_per_s"] > 0 and most["clients"] > 1:
        print(f"- {name}: {most['clients']} clients vs 1: **{most['tokens_per_s'] / one[0]['tokens_per_s']:.2f}x** "
              f"aggregate tokens/s")
EOF
)
if [ -n "$robust_report" ]; then
	report="$report
- ajar robustness mix (malformed, oversized, invalid UTF-8, aborted streams; /health, slots back to 0): $robust_report"
fi
echo "$report"
if [ -n "$OUT" ]; then
	echo "$report" >"$OUT"
fi
if [ -n "$robust_report" ] && [ "${robust_report#passed}" = "$robust_report" ]; then
	sed 's/^/    /' "$tmp/robust.txt" >&2
	exit 1
fi
