#!/usr/bin/env bash
# Runs the command in its arguments BENCH_RUNS times and prints each run's
# wall time in ms, process start to exit, as seen from bash: scripts/bench.py
# times `testbed --version` and /bin/true with it.
for ((i = 0; i < BENCH_RUNS; i++)); do
    start="$EPOCHREALTIME"
    "$@" >/dev/null
    end="$EPOCHREALTIME"
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }'
done
