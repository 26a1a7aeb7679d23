#!/usr/bin/env bash
# testbed: `testbed run -v -f F --compose <flavor>`; -v only adds stderr lines,
# the last of which says how much of the run was testbed's own time. testbed
# names its own project and prints it first. Run by scripts/bench.py with
# TESTBED (the binary), BENCH_FILE and BENCH_COMPOSE; with BENCH_SHARDS set,
# also `--shards BENCH_SHARDS`.
exec "$TESTBED" run -v -f "$BENCH_FILE" --compose "$BENCH_COMPOSE" ${BENCH_SHARDS:+--shards "$BENCH_SHARDS"}
