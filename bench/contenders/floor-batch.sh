#!/usr/bin/env bash
# $1 chain floors at once: starts $1 copies of floor-chain.sh together, the
# i-th with BENCH_NAME-i as its network (its containers BENCH_NAME-i-db and
# so on), waits for them all, and fails, naming each copy that failed, if
# one did. With BENCH_COMPOSE_STARTS=k (3 in the v1 rounds), each copy first
# runs `docker-compose -f BENCH_FILE config -q` k times, one after another:
# the starts of compose v1 of a run under v1. scripts/bench.py times it like
# the batch of testbed runs (wall, machine CPU, process-tree CPU). Run with
# BENCH_NAME, BENCH_FLOOR_LABEL, BENCH_IMAGE and BENCH_FILE.
floor="$(dirname "${BASH_SOURCE[0]}")/floor-chain.sh"
pids=()
for ((i = 1; i <= $1; i++)); do
    (
        for ((k = 0; k < ${BENCH_COMPOSE_STARTS:-0}; k++)); do
            docker-compose -p "$BENCH_NAME-$i" -f "$BENCH_FILE" config -q || exit
        done
        BENCH_NAME="$BENCH_NAME-$i" exec bash "$floor"
    ) &
    pids+=("$!")
done
rc=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "floor-batch: copy $((i + 1)) failed with exit code $?" >&2; rc=1; }
done
exit "$rc"
