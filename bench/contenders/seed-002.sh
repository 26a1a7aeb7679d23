#!/usr/bin/env bash
# seed 002's runner: up -d <deps>; run --rm tests; down. Exits with the tests' code.
# Run by scripts/bench.py with BENCH_COMPOSE ("docker compose" or
# "docker-compose"), BENCH_PROJECT, BENCH_FILE and BENCH_DEPS (the services
# other than tests, space-separated); no errexit, so rc=$? is the real status.
# shellcheck disable=SC2086 # BENCH_COMPOSE and BENCH_DEPS are word lists
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" up -d $BENCH_DEPS
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" run --rm tests; rc=$?
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" down
exit "$rc"
