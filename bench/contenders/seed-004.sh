#!/usr/bin/env bash
# seed 004's runner: up --abort-on-container-exit --exit-code-from tests; down.
# Run by scripts/bench.py with BENCH_COMPOSE, BENCH_PROJECT and BENCH_FILE
# (see seed-002.sh).
# shellcheck disable=SC2086 # BENCH_COMPOSE is a word list
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" up --abort-on-container-exit --exit-code-from tests; rc=$?
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" down
exit "$rc"
