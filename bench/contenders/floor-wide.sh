#!/usr/bin/env bash
# The wide floor: ten containers like the wide stack's dependencies, on a
# network of their own, created at once and then started at once. Prints
# `start=<epoch s>` (just before the network is created) and
# `last_start=<epoch s>` (the last container's .State.StartedAt, by the
# daemon's clock), then removes them. Run by scripts/bench.py with BENCH_NAME
# (the network; the containers are BENCH_NAME-s01 to -s10),
# BENCH_FLOOR_LABEL, BENCH_IMAGE, BENCH_COMMAND and BENCH_HEALTH (the wide
# stack's command and healthcheck).
set -e
net="$BENCH_NAME"
echo "start=$EPOCHREALTIME"
docker network create --label "$BENCH_FLOOR_LABEL" "$net" >/dev/null
for i in $(seq -w 1 10); do
    docker create --label "$BENCH_FLOOR_LABEL" --network "$net" --name "$net-s$i" \
        --health-cmd "$BENCH_HEALTH" --health-interval 1s --health-timeout 1s \
        --health-retries 30 "$BENCH_IMAGE" /bin/sh -c "$BENCH_COMMAND" >/dev/null &
done
wait
ids="$(docker ps -aq --filter "label=$BENCH_FLOOR_LABEL")"
for i in $ids; do docker start "$i" >/dev/null & done
wait
# shellcheck disable=SC2086 # one argument per id
last="$(docker inspect --format '{{.State.StartedAt}}' $ids | while read -r i; do date -d "$i" +%s.%N; done | sort -g | tail -n 1)"
echo "last_start=$last"
# shellcheck disable=SC2086
docker rm -f -v $ids >/dev/null
docker network rm "$net" >/dev/null
