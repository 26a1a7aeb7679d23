#!/usr/bin/env bash
# Benchmarks `testbed run` against the runner scripts it replaces, on the local
# engine, under both compose flavors: runs scripts/bench.py (Python 3, standard
# library only), which says at its top what is measured and how.
#
#   bash scripts/bench.sh [-n RUNS] [--flavor v2|v1|both] [--stack chain|wide|fail|all]
#                         [--parallel N] [--shards N] [--out DIR] [--smoke]
#
# Defaults: 5 runs, both flavors, all stacks, 8 parallel runs, 3 shards; it
# writes bench/results.json and bench/results.md. --smoke is one round of
# chain under v2 with 2 runs at once and no shards, into a temporary
# directory: a check that the bench works, not a measurement.
# The contenders are the shell files in bench/contenders/.
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/bench.py" "$@"
