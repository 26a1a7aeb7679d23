#!/usr/bin/env bash
# The chain floor: the containers of one chain run and nothing else, in the
# order its depends_on allows, in 10 docker CLI calls: a network; the three
# dependencies created at once; db started, then 1 s, the earliest its
# `sleep 1` lets it be healthy, which api waits for; api started (ready as
# soon as httpd listens, which worker waits for), then worker; the tests'
# container run to its end; then all of it removed. No healthcheck runs and
# nothing waits but that second. scripts/bench.py times it like a contender
# (wall, machine CPU, process-tree CPU). Run with BENCH_NAME (the network;
# the containers are BENCH_NAME-db, -api, -worker and -tests),
# BENCH_FLOOR_LABEL and BENCH_IMAGE.
set -e
net="$BENCH_NAME"
docker network create --label "$BENCH_FLOOR_LABEL" "$net" >/dev/null
pids=()
for s in db api worker; do
    docker create --label "$BENCH_FLOOR_LABEL" --network "$net" --name "$net-$s" "$BENCH_IMAGE" sleep 3600 >/dev/null &
    pids+=("$!")
done
for pid in "${pids[@]}"; do
    wait "$pid"
done
docker start "$net-db" >/dev/null
sleep 1
docker start "$net-api" >/dev/null
docker start "$net-worker" >/dev/null
docker run --label "$BENCH_FLOOR_LABEL" --network "$net" --name "$net-tests" "$BENCH_IMAGE" true
docker rm -f -v "$net-db" "$net-api" "$net-worker" "$net-tests" >/dev/null
docker network rm "$net" >/dev/null
