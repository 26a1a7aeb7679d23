#!/usr/bin/env bash
# The chain floor: the containers of one chain run and nothing else, in the
# order its depends_on allows, in 10 docker CLI calls: a network; the three
# dependencies created at once; db started, then 1 s, the earliest its
# `sleep 1` lets it be healthy, which api waits for; api started (ready as
# soon as httpd listens, which worker waits for), then worker; the tests'
# container run to its end; then all of it removed. The containers are the
# stack's own (fixtures/bench-chain): its commands and its healthchecks,
# which the daemon runs every second whoever started them, as it would for
# any tool. Nothing waits on them, or on anything but that second.
# scripts/bench.py times it like a contender (wall, machine CPU,
# process-tree CPU). Run with BENCH_NAME (the network; the containers are
# BENCH_NAME-db, -api, -worker and -tests), BENCH_FLOOR_LABEL and
# BENCH_IMAGE.
set -e
net="$BENCH_NAME"
every_second=(--health-interval 1s --health-timeout 1s --health-retries 30)
docker network create --label "$BENCH_FLOOR_LABEL" "$net" >/dev/null
create() {
    docker create --label "$BENCH_FLOOR_LABEL" --network "$net" --name "$net-$1" "${@:2}" >/dev/null
}
create db --health-cmd 'test -f /tmp/ready' "${every_second[@]}" \
    "$BENCH_IMAGE" /bin/sh -c 'sleep 1; touch /tmp/ready; exec sleep 3600' &
db=$!
create api --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/' "${every_second[@]}" \
    "$BENCH_IMAGE" /bin/sh -c "mkdir -p /www && echo 'hello from api' > /www/index.html && exec httpd -f -p 8080 -h /www" &
api=$!
create worker "$BENCH_IMAGE" sleep 3600 &
worker=$!
wait "$db"
wait "$api"
wait "$worker"
docker start "$net-db" >/dev/null
sleep 1
docker start "$net-api" >/dev/null
docker start "$net-worker" >/dev/null
docker run --label "$BENCH_FLOOR_LABEL" --network "$net" --name "$net-tests" "$BENCH_IMAGE" \
    /bin/sh -c "wget -q -O - http://$net-api:8080/ && echo 'bench-chain: ok'"
docker rm -f -v "$net-db" "$net-api" "$net-worker" "$net-tests" >/dev/null
docker network rm "$net" >/dev/null
