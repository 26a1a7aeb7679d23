#!/usr/bin/env bash
# The chain floor: the containers of one chain run and nothing else, in 7
# docker CLI calls: a network, three dependencies started at once (no
# healthcheck, no waiting), the tests' container run to its end, then all of
# it removed. scripts/bench.py times it like a contender (wall, machine CPU,
# process-tree CPU). Run with BENCH_NAME (the network; the containers are
# BENCH_NAME-db, -api, -worker and -tests), BENCH_FLOOR_LABEL and BENCH_IMAGE.
set -e
net="$BENCH_NAME"
docker network create --label "$BENCH_FLOOR_LABEL" "$net" >/dev/null
for s in db api worker; do
    docker run -d --label "$BENCH_FLOOR_LABEL" --network "$net" --name "$net-$s" "$BENCH_IMAGE" sleep 3600 >/dev/null &
done
wait
docker run --label "$BENCH_FLOOR_LABEL" --network "$net" --name "$net-tests" "$BENCH_IMAGE" true
docker rm -f -v "$net-db" "$net-api" "$net-worker" "$net-tests" >/dev/null
docker network rm "$net" >/dev/null
