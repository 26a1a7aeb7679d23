#!/usr/bin/env bash
# The chaos soak: N `testbed run`s of fixtures/soak (four services), each
# interrupted at a random moment between 0 and 6 s with a random signal:
# SIGINT, SIGTERM, SIGTERM twice (the second 0.1 to 1 s later) or SIGKILL,
# alternating compose v2 and v1; and, one run in five instead, a failed
# create: a run of fixtures/crdb-name with --keep-names while a container
# of the soak holds its fixed name, so that compose fails on it while its
# other creates are under way (exit 125). It records each exit code, and once the
# reaper's documented bound (15 s, docs/cleanup.md) has passed since a run
# ended, counts what that run left on the engine by testbed's label
# (`testbed.run=<project>`): containers, networks, volumes; and volumes named
# `<project>_…` that have no labels.
#
# It prints one summary line on stdout, and exits 1 on any leak, wrong exit
# code or run that did not end in time; a line on stderr names each of them,
# and the logs of those runs are kept. The right codes are 130, 143 and 137
# for the signal sent, or 0 when the run ended, its tests passed, before the
# signal came or before it could change the outcome; 125 for a failed create.
#
#   scripts/soak.sh [-n RUNS] [-j JOBS] [-s SEED]
#
#   -n RUNS   how many runs (default 200; at most 1000)
#   -j JOBS   runs at once (default 2)
#   -s SEED   seed of the random signals and moments (default: random); the
#             summary names it, to replay a soak
#
# TESTBED=path runs that binary; otherwise `cargo build` makes one. It only
# talks to the local Docker engine, and removes whatever its runs left.
# bench/soak.md records a full run.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=200
parallel=2
seed=$((RANDOM * 32768 + RANDOM))
while getopts "n:j:s:" option; do
    case $option in
    n) runs=$OPTARG ;;
    j) parallel=$OPTARG ;;
    s) seed=$OPTARG ;;
    *)
        sed -n 's/^#   //p' "$0" >&2
        exit 2
        ;;
    esac
done
if ! [[ $runs =~ ^[0-9]+$ && $runs -ge 1 && $runs -le 1000 ]]; then
    echo "soak: -n takes 1 to 1000 runs" >&2
    exit 2
fi
if ! [[ $parallel =~ ^[0-9]+$ && $parallel -ge 1 && $parallel -le 8 ]]; then
    echo "soak: -j takes 1 to 8 jobs" >&2
    exit 2
fi

# The reaper removes a killed run's stack within this many seconds.
REAP_BOUND=15
# A run that has not exited this long after its signal has hung.
RUN_LIMIT=90

if [[ -z ${TESTBED:-} ]]; then
    cargo build --quiet --bin testbed
    TESTBED=${CARGO_TARGET_DIR:-target}/debug/testbed
fi
fixture=fixtures/soak/compose.yml
# The failed creates' stack, and the fixed name it loses.
collides=fixtures/crdb-name/compose.yml
held=crdb-name-crdb
work=$(mktemp -d "${TMPDIR:-/tmp}/testbed-soak.XXXXXX")
prefix=soak-$$-$((seed % 100000))

# one_run I FLAVOR SIGNAL MOMENT_MS GAP_MS: runs testbed, signals it (a
# second SIGTERM GAP_MS after the first), waits for it at most RUN_LIMIT,
# and writes "code ended-at-epoch-seconds ended-first hung" to
# $work/I.result.
one_run() {
    local i=$1 flavor=$2 signal=$3 moment=$4 gap=$5
    local log=$work/$i.log ended_first=0 hung=0 code=0
    if [[ $signal == FAILCREATE ]]; then
        "$TESTBED" run -f "$collides" --keep-names --compose "$flavor" -p "$prefix-$i" >"$log" 2>&1 &
    else
        "$TESTBED" run -f "$fixture" --compose "$flavor" -p "$prefix-$i" >"$log" 2>&1 &
    fi
    local pid=$!
    [[ $signal == FAILCREATE ]] || sleep "$(seconds "$moment")"
    # A failed kill: testbed had exited already.
    case $signal in
    SIGINT) kill -INT "$pid" 2>/dev/null || ended_first=1 ;;
    SIGTERM) kill -TERM "$pid" 2>/dev/null || ended_first=1 ;;
    SIGTERMx2)
        kill -TERM "$pid" 2>/dev/null || ended_first=1
        sleep "$(seconds "$gap")"
        kill -TERM "$pid" 2>/dev/null || true
        ;;
    SIGKILL) kill -KILL "$pid" 2>/dev/null || ended_first=1 ;;
    FAILCREATE) ;;
    esac
    local limit=$((SECONDS + RUN_LIMIT))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= limit)); then
            hung=1
            kill -KILL "$pid"
        fi
        sleep 0.2
    done
    wait "$pid" || code=$?
    # Whole or not at all: the main loop reads it while runs go on.
    echo "$code $(date +%s) $ended_first $hung" >"$work/$i.result.part"
    mv "$work/$i.result.part" "$work/$i.result"
}

# seconds MS: MS milliseconds as seconds, for sleep.
seconds() {
    printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# expected SIGNAL: the exit code that signal gives.
expected() {
    case $1 in
    SIGINT) echo 130 ;;
    SIGTERM | SIGTERMx2) echo 143 ;;
    SIGKILL) echo 137 ;;
    FAILCREATE) echo 125 ;;
    esac
}

# left I: what run I left by testbed's label (and volumes by name), as
# "containers: N (NAME STATE, ...), networks: N, volumes: N" when there is
# anything; it is then removed.
left() {
    local filter=label=testbed.run=$prefix-$1 ids
    local -a containers networks volumes
    ids=$(docker ps -aq --filter "$filter")
    read -ra containers <<<"$ids"
    ids=$(docker network ls -q --filter "$filter")
    read -ra networks <<<"$ids"
    ids=$(docker volume ls -q --filter "$filter")
    read -ra volumes <<<"$ids"
    # A container that lands after its named volume was removed gets it
    # anew from the daemon, without labels: look by compose's name too.
    ids=$(docker volume ls -q --filter "name=$prefix-${1}_")
    for id in $ids; do
        if [[ $id == "$prefix-${1}_"* && " ${volumes[*]} " != *" $id "* ]]; then
            volumes+=("$id")
        fi
    done
    if ((${#containers[@]} + ${#networks[@]} + ${#volumes[@]} == 0)); then
        return
    fi
    echo "containers: ${#containers[@]} ($(docker ps -a --filter "$filter" \
        --format '{{.Names}} {{.State}}' | paste -sd, -)), networks: ${#networks[@]}," \
        "volumes: ${#volumes[@]}"
    ((${#containers[@]} == 0)) || docker rm -f -v "${containers[@]}" >/dev/null
    ((${#networks[@]} == 0)) || docker network rm "${networks[@]}" >/dev/null
    ((${#volumes[@]} == 0)) || docker volume rm -f "${volumes[@]}" >/dev/null
}

declare -a flavors signals moments gaps
declare -A codes=()
leaks=0
wrong=0
hangs=0
checked=0

# check I: judges run I, once it ended at least REAP_BOUND ago.
check() {
    local i=$1 code ended ended_first hung found
    if ! read -r code ended ended_first hung <"$work/$i.result"; then
        echo "soak: run $i left no result (its log: $work/$i.log)" >&2
        hangs=$((hangs + 1))
        checked=$((checked + 1))
        return
    fi
    codes[$code]=$((${codes[$code]:-0} + 1))
    local want
    want=$(expected "${signals[i]}")
    local bad=0
    if ((hung)); then
        echo "soak: run $i (${flavors[i]}, ${signals[i]} at ${moments[i]} ms) did not exit within ${RUN_LIMIT}s of its signal" >&2
        hangs=$((hangs + 1))
        bad=1
    elif [[ ${signals[i]} == FAILCREATE && $code != "$want" ]]; then
        echo "soak: run $i (${flavors[i]}, a failed create) exited $code, not $want" >&2
        wrong=$((wrong + 1))
        bad=1
    elif [[ $code != "$want" && $code != 0 ]] || { ((ended_first)) && [[ $code != 0 ]]; }; then
        echo "soak: run $i (${flavors[i]}, ${signals[i]} at ${moments[i]} ms) exited $code, not $want or 0" >&2
        wrong=$((wrong + 1))
        bad=1
    fi
    found=$(left "$i")
    if [[ -n $found ]]; then
        echo "soak: run $i (${flavors[i]}, ${signals[i]} at ${moments[i]} ms, exit $code) left $found" >&2
        leaks=$((leaks + 1))
        bad=1
    fi
    ((bad)) || rm -f "$work/$i.log"
    rm -f "$work/$i.result"
    checked=$((checked + 1))
}

# check_due [wait]: checks the runs that ended at least REAP_BOUND ago; with
# `wait`, waits for all of them.
check_due() {
    local i ended now
    for ((i = checked; i < runs; i++)); do
        [[ -s $work/$i.result ]] || break
        read -r _ ended _ _ <"$work/$i.result"
        now=$(date +%s)
        if ((now < ended + REAP_BOUND)); then
            [[ ${1:-} == wait ]] || break
            sleep $((ended + REAP_BOUND - now))
        fi
        check "$i"
    done
}

RANDOM=$seed
kinds=(SIGINT SIGTERM SIGTERMx2 SIGKILL FAILCREATE)
# Held for the whole soak, without testbed's labels: no run's leak.
docker rm -f "$held" >/dev/null 2>&1 || true
docker create --name "$held" testbed-busybox:latest true >/dev/null
trap 'docker rm -f "$held" >/dev/null 2>&1 || true' EXIT
started=$(date +%s)
for ((i = 0; i < runs; i++)); do
    if ((i % 2 == 0)); then flavors[i]="docker compose"; else flavors[i]="docker-compose"; fi
    signals[i]=${kinds[RANDOM % 5]}
    moments[i]=$((RANDOM % 6001))
    gaps[i]=$((100 + RANDOM % 901))
    while (($(jobs -rp | wc -l) >= parallel)); do
        wait -n || true
    done
    # Runs are judged in order: a finished one waits for those before it.
    check_due
    # Its stderr would only have bash's word on the SIGKILLs, which are ours.
    one_run "$i" "${flavors[i]}" "${signals[i]}" "${moments[i]}" "${gaps[i]}" 2>/dev/null &
done
wait
check_due wait
took=$(($(date +%s) - started))

summary=""
for code in $(printf '%s\n' "${!codes[@]}" | sort -n); do
    summary+=" $code:${codes[$code]}"
done
echo "soak: $runs runs in $((took / 60))m$((took % 60))s (seed $seed, $parallel at once, v2 and v1 alternating):" \
    "$leaks leaked, $wrong wrong exit codes, $hangs hung; exit codes${summary}"
if ((leaks + wrong + hangs > 0)); then
    echo "soak: the logs of those runs are in $work" >&2
    exit 1
fi
rm -rf "$work"
