#!/usr/bin/env bash
# The hand-tuned runner under compose v1, which has no `up --wait`: up -d
# <deps>, then poll `docker inspect` every 0.2 s until every container of the
# project is healthy, or running when it has no healthcheck (at most 120 s);
# run --rm -T tests; down -v -t 0. Run by scripts/bench.py with
# BENCH_COMPOSE, BENCH_PROJECT, BENCH_FILE and BENCH_DEPS (see seed-002.sh).

wait_ready() {
    local deadline=$((SECONDS + 120)) ids states
    while [ "$SECONDS" -lt "$deadline" ]; do
        ids="$(docker ps -aq --filter "label=com.docker.compose.project=$BENCH_PROJECT")"
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086 # one argument per id
            states="$(docker inspect --format '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)"
            if ! grep -qvE '^running/(healthy|none)$' <<<"$states"; then
                return 0
            fi
        fi
        sleep 0.2
    done
    echo "hand-tuned: not ready after 120 s" >&2
    return 1
}

# shellcheck disable=SC2086 # BENCH_COMPOSE and BENCH_DEPS are word lists
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" up -d $BENCH_DEPS && wait_ready
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" run --rm -T tests; rc=$?
$BENCH_COMPOSE -p "$BENCH_PROJECT" -f "$BENCH_FILE" down -v -t 0
exit "$rc"
