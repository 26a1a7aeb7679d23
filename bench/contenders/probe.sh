#!/usr/bin/env bash
# One wide-stack service alone: the same image, command and healthcheck under
# `docker run -d`. Prints `start=<epoch s>` (just before `docker run`) and
# `end=<epoch s>`, when, with $1 =
#   daemon: the daemon's first passing health check ended (the End timestamp
#           the daemon itself recorded in .State.Health.Log), i.e. the moment
#           it reported the container healthy;
#   exec:   the healthcheck's command first passed under `docker exec`, run
#           back to back from when `docker run -d` returns (what testbed does).
# Then removes the container. Gives up after 30 s. Run by scripts/bench.py
# with BENCH_NAME (the container), BENCH_IMAGE, BENCH_COMMAND and BENCH_HEALTH.
set -e
mode="$1"
start="$EPOCHREALTIME"
echo "start=$start"

past_deadline() { awk -v s="$start" -v n="$EPOCHREALTIME" 'BEGIN { exit !(n - s > 30) }'; }

docker run -d --name "$BENCH_NAME" --health-cmd "$BENCH_HEALTH" --health-interval 1s \
    --health-timeout 1s --health-retries 30 "$BENCH_IMAGE" /bin/sh -c "$BENCH_COMMAND" >/dev/null
if [ "$mode" = exec ]; then
    until docker exec "$BENCH_NAME" /bin/sh -c "$BENCH_HEALTH" 2>/dev/null; do
        ! past_deadline || { echo "probe: not ready after 30 s" >&2; exit 1; }
    done
    echo "end=$EPOCHREALTIME"
else
    until [ "$(docker inspect --format '{{.State.Health.Status}}' "$BENCH_NAME")" = healthy ]; do
        ! past_deadline || { echo "probe: not healthy after 30 s" >&2; exit 1; }
        sleep 0.05
    done
    end="$(docker inspect --format '{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{.End.UnixNano}}{{"\n"}}{{end}}{{end}}' "$BENCH_NAME" | awk 'NR == 1')"
    [ -n "$end" ] || { echo "probe: healthy, but the health log holds no passing check" >&2; exit 1; }
    awk -v ns="$end" 'BEGIN { printf "end=%.6f\n", ns / 1e9 }'
fi
docker rm -f "$BENCH_NAME" >/dev/null
