#!/bin/sh
# bench/guard_overhead.sh - what auth + quota + audit add per request on
# loopback (bench/guard_overhead.c says how). Starts `ajar serve` on the
# fixture model with a fresh SQLite store in a temporary folder (set
# STORE_DIR to put it on another disk: the audit row's fsync is most of the
# cost), makes a key of bench/policy_bench.json's "bench" tier (limits so
# high they never refuse, so the quota is counted but never in the way) with
# `ajar keys create`, and runs the driver.
#
# Usage: bench/guard_overhead.sh [REQUESTS [CLIENTS]]
#   AJAR_BIN   the binary (default build/release/ajar)
#   MODEL      default ../shared/fixtures/models/stories260K.gguf
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
AJAR_BIN=${AJAR_BIN:-$root/build/release/ajar}
MODEL=${MODEL:-$root/../shared/fixtures/models/stories260K.gguf}
N=${1:-2000}
C=${2:-1}
dir=$(mktemp -d "${STORE_DIR:-/tmp}/ajar-guard-bench-XXXXXX")
drv=$dir/guard_overhead
cc -O2 -std=c11 -D_GNU_SOURCE -o "$drv" "$root/bench/guard_overhead.c" -lcurl -lpthread -lm
store="sqlite:$dir/store.db"
policy=$root/bench/policy_bench.json
key=$("$AJAR_BIN" keys create --tier bench --owner bench --json --policy "$policy" --store "$store" |
	sed -n 's/.*"key": *"\([^"]*\)".*/\1/p')
"$AJAR_BIN" serve -m "$MODEL" --port 0 --threads 1 --policy "$policy" --store "$store" --admin-key-file "$dir/admin.key" \
	>"$dir/out" 2>"$dir/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
url=
for _ in $(seq 100); do
	url=$(sed -n 's/.*at \(http:[^ ]*\)\/ .*/\1/p' "$dir/out" | head -1)
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { cat "$dir/err"; exit 1; }
echo "store: $dir ($(df -T "$dir" | awk 'NR==2{print $2}'))"
"$drv" "$url" "$key" -n "$N" -c "$C"
rows=$("$AJAR_BIN" audit export --since 0 --store "$store" | wc -l)
echo "audit rows written: $rows"
