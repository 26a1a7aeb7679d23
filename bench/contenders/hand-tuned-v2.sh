#!/usr/bin/env bash
# The hand-tuned runner under compose v2: up -d --wait <deps>; run --rm -T
# tests; down -v -t 0. Run by scripts/bench.py with BENCH_COMPOSE,
# BENCH_PROJECT, BENCH_FILE and BENCH_DEPS (see seed-002.sh).
# shellcheck disable=SC2086 # BENCH_COMPOSE and BENCH_DEPS are word lists
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" up -d --wait $BENCH_DEPS
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" run --rm -T tests; rc=$?
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" down -v -t 0
exit "$rc"
