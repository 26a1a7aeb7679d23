#!/usr/bin/env bash
# Benchmarks `testbed run` against the runner scripts it replaces, on the local
# engine, under both compose flavors.
#
#   bash scripts/bench.sh [-n RUNS] [--flavor v2|v1|both] [--stack chain|wide|fail|all]
#
# Defaults: 5 runs, both flavors, all stacks. Stacks are fixtures/bench-<stack>.
# For each stack and flavor, every round runs each contender once, in an order
# that rotates from round to round (round-robin), and times the whole run:
#
#   seed-002    compose up -d <deps>; compose run --rm tests; rc=$?; compose down; exit $rc
#   seed-004    compose up --abort-on-container-exit --exit-code-from tests; rc=$?; compose down; exit $rc
#   hand-tuned  v2: up -d --wait <deps>; run --rm -T tests; down -v -t 0
#               v1: up -d <deps>; poll `docker inspect` every 0.2 s until every
#                   container is healthy (or running, without a healthcheck);
#                   run --rm -T tests; down -v -t 0
#   testbed     target/release/testbed run -f F --compose <flavor>
#
# Every run gets its own project name. After each one the script checks that no
# container, network or volume of that project is left, and aborts if one is.
# A contender that returns the wrong exit code is recorded as a finding, not
# hidden. Runs wait for an idle engine, and a run during which someone else
# created a container on it is thrown away and redone. The tables go to stdout and to bench/results.md.
#
# It builds what it needs first: scripts/build-images.sh and cargo build --release.
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TESTBED="$ROOT/target/release/testbed"
RESULTS="$ROOT/bench/results.md"
CONTENDERS=(seed-002 seed-004 hand-tuned testbed)
PROJECT_LABEL="com.docker.compose.project"
VERSION_RUNS=20
PROBE_RUNS=5
QUIET_WAIT_MAX=3600     # seconds to wait for someone else's containers to go
MAX_TRIES=10            # attempts per measurement while the engine is shared

RUNS=5
FLAVORS=(v2 v1)
STACKS=(chain wide fail)
COMMAND_LINE="bash scripts/bench.sh${*:+ $*}"

# Filled in as the benchmark goes.
declare -A TIMES=()     # "stack|flavor|contender" -> wall times in seconds, space-separated
declare -A CODES=()     # "stack|flavor|contender" -> exit codes, space-separated
declare -A READY=()     # "stack|flavor" -> testbed's "ready in" seconds, space-separated
FINDINGS=()
DISCARDED=0             # runs thrown away because the engine was shared
RUN_SECS=""
RUN_RC=0
RUN_LOG=""
CURRENT_PROJECT=""      # the project a run is using, for the cleanup trap
PROBE_CONTAINER=""
LOGDIR=""

# Measured once, after the stacks.
VERSION_ROW=""
TRUE_ROW=""
PROBE_MEDIAN=""

# Set per stack and flavor by select_flavor and select_stack.
FLAVOR=""
STACK=""
EXPECTED=0
COMPOSE=()
FILE=""
DEPS=()

die() { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

usage() {
    echo "usage: bash scripts/bench.sh [-n RUNS] [--flavor v2|v1|both] [--stack chain|wide|fail|all]"
    echo "defaults: -n 5 --flavor both --stack all; see the top of scripts/bench.sh"
    exit "${1:-0}"
}

bad_usage() { echo "bench: $*" >&2; usage 2 >&2; }

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            -n)
                [ $# -ge 2 ] || bad_usage "-n needs a number"
                [[ "$2" =~ ^[1-9][0-9]*$ ]] || bad_usage "-n: not a positive number: $2"
                RUNS="$2"; shift 2 ;;
            --flavor)
                [ $# -ge 2 ] || bad_usage "--flavor needs v2, v1 or both"
                case "$2" in
                    v2|v1) FLAVORS=("$2") ;;
                    both) FLAVORS=(v2 v1) ;;
                    *) bad_usage "--flavor: expected v2, v1 or both, got: $2" ;;
                esac
                shift 2 ;;
            --stack)
                [ $# -ge 2 ] || bad_usage "--stack needs chain, wide, fail or all"
                case "$2" in
                    chain|wide|fail) STACKS=("$2") ;;
                    all) STACKS=(chain wide fail) ;;
                    *) bad_usage "--stack: expected chain, wide, fail or all, got: $2" ;;
                esac
                shift 2 ;;
            -h|--help) usage 0 ;;
            *) bad_usage "unknown argument: $1" ;;
        esac
    done
}

# ---------------------------------------------------------------- engine state

# Everything of project $1 still on the engine, one "kind id" a line.
project_leftovers() {
    local project="$1" id
    for id in $(docker ps -aq --filter "label=$PROJECT_LABEL=$project"); do echo "container $id"; done
    for id in $(docker network ls -q --filter "label=$PROJECT_LABEL=$project"); do echo "network $id"; done
    # compose v1 and v2 both name the default network <project>_default.
    for id in $(docker network ls -q --filter "name=^${project}_default\$"); do echo "network $id"; done
    for id in $(docker volume ls -q --filter "label=$PROJECT_LABEL=$project"); do echo "volume $id"; done
}

# Removes whatever project $1 left behind, straight through the engine.
force_remove_project() {
    local project="$1" ids
    ids="$(docker ps -aq --filter "label=$PROJECT_LABEL=$project")"
    # shellcheck disable=SC2086 # one argument per id
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
    ids="$(docker network ls -q --filter "label=$PROJECT_LABEL=$project"; docker network ls -q --filter "name=^${project}_default\$")"
    # shellcheck disable=SC2086
    [ -z "$ids" ] || docker network rm $ids >/dev/null 2>&1 || true
    ids="$(docker volume ls -q --filter "label=$PROJECT_LABEL=$project")"
    # shellcheck disable=SC2086
    [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1 || true
}

on_exit() {
    local rc=$?
    if [ -n "$CURRENT_PROJECT" ]; then
        note "cleaning up project $CURRENT_PROJECT"
        force_remove_project "$CURRENT_PROJECT"
    fi
    if [ -n "$PROBE_CONTAINER" ]; then
        docker rm -f "$PROBE_CONTAINER" >/dev/null 2>&1 || true
    fi
    [ -z "$LOGDIR" ] || rm -rf "$LOGDIR"
    exit "$rc"
}

# ---------------------------------------------------------------- contenders
# Each runs in a subshell with errexit off (see run_one), so `rc=$?` sees the
# real status, exactly as in the runner scripts they stand for.

compose() { "${COMPOSE[@]}" "$@"; }

contender_seed_002() {
    local p="$1" rc
    compose -p "$p" -f "$FILE" up -d "${DEPS[@]}"
    compose -p "$p" -f "$FILE" run --rm tests; rc=$?
    compose -p "$p" -f "$FILE" down
    return "$rc"
}

contender_seed_004() {
    local p="$1" rc
    compose -p "$p" -f "$FILE" up --abort-on-container-exit --exit-code-from tests; rc=$?
    compose -p "$p" -f "$FILE" down
    return "$rc"
}

# v1 has no `up --wait`: poll every container of the project until each is
# healthy, or running when it has no healthcheck. Gives up after 120 s.
wait_ready_v1() {
    local p="$1" deadline=$((SECONDS + 120)) ids states
    while [ "$SECONDS" -lt "$deadline" ]; do
        ids="$(docker ps -aq --filter "label=$PROJECT_LABEL=$p")"
        if [ -n "$ids" ]; then
            # shellcheck disable=SC2086 # one argument per id
            states="$(docker inspect --format '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)"
            if ! grep -qvE '^running/(healthy|none)$' <<<"$states"; then
                return 0
            fi
        fi
        sleep 0.2
    done
    echo "wait_ready_v1: not ready after 120 s" >&2
    return 1
}

contender_hand_tuned() {
    local p="$1" rc
    if [ "$FLAVOR" = v2 ]; then
        compose -p "$p" -f "$FILE" up -d --wait "${DEPS[@]}"
    else
        compose -p "$p" -f "$FILE" up -d "${DEPS[@]}" && wait_ready_v1 "$p"
    fi
    compose -p "$p" -f "$FILE" run --rm -T tests; rc=$?
    compose -p "$p" -f "$FILE" down -v -t 0
    return "$rc"
}

# testbed names its own project; run_one reads the name from its stderr.
contender_testbed() {
    "$TESTBED" run -f "$FILE" --compose "${COMPOSE[*]}"
}

# ---------------------------------------------------------------- measuring

select_flavor() {
    FLAVOR="$1"
    case "$FLAVOR" in
        v2) COMPOSE=(docker compose) ;;
        v1) COMPOSE=(docker-compose) ;;
    esac
}

select_stack() {
    STACK="$1"
    FILE="fixtures/bench-$STACK/compose.yml"
    [ -f "$FILE" ] || die "$FILE is missing"
    mapfile -t DEPS < <(compose -f "$FILE" config --services | grep -vx tests | sort)
    [ "${#DEPS[@]}" -gt 0 ] || die "$FILE: no dependencies found"
    case "$STACK" in
        fail) EXPECTED=3 ;;
        *) EXPECTED=0 ;;
    esac
}

# Waits until the engine holds no container at all. Ours are all removed after
# each run, so anything there belongs to someone else sharing the engine, and
# would skew the timings.
wait_for_quiet_engine() {
    local waited=0
    while [ -n "$(docker ps -aq)" ]; do
        if [ "$waited" -eq 0 ]; then
            note "  the engine holds containers that are not ours; waiting for it to be idle"
        fi
        [ "$waited" -lt "$QUIET_WAIT_MAX" ] || die "the engine was not idle within $QUIET_WAIT_MAX s"
        sleep 5
        waited=$((waited + 5))
    done
}

# Names of containers created between $2 and $3 (epoch seconds) by anyone but
# project $1: another user of the engine, active during our run.
foreign_activity() {
    docker events --since "$2" --until "$3" --filter type=container --filter event=create \
        --format '{{index .Actor.Attributes "com.docker.compose.project"}} {{.Actor.Attributes.name}}' \
        | awk -v p="$1" '$1 != p { print $NF }'
}

# One timed attempt of contender $1 in round $2: sets RUN_SECS, RUN_RC and
# RUN_LOG. Aborts if the contender leaves anything behind. Returns 1 if the
# engine was shared during the attempt, so its time does not count.
attempt() {
    local contender="$1" round="$2" project start end leftovers foreign
    project="bench-$STACK-$FLAVOR-$contender-r$round-$$"
    RUN_LOG="$LOGDIR/$project.log"
    RUN_RC=0
    wait_for_quiet_engine
    CURRENT_PROJECT="$project"

    start="$EPOCHREALTIME"
    ( set +e; "contender_${contender//-/_}" "$project" ) </dev/null >"$RUN_LOG" 2>&1 || RUN_RC=$?
    end="$EPOCHREALTIME"
    RUN_SECS="$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')"

    if [ "$contender" = testbed ]; then
        # Check the project testbed itself generated.
        project="$(sed -n 's/^testbed: project //p' "$RUN_LOG" | head -n 1)"
        if [ -z "$project" ]; then
            tail -n 30 "$RUN_LOG" >&2
            die "testbed did not print its project name (log above)"
        fi
        CURRENT_PROJECT="$project"
    fi

    leftovers="$(project_leftovers "$project")"
    if [ -n "$leftovers" ]; then
        echo "bench: LEAK: $contender ($STACK, $FLAVOR) left this behind in project $project:" >&2
        printf '  %s\n' "$leftovers" >&2
        echo "bench: last lines of its output:" >&2
        tail -n 30 "$RUN_LOG" >&2
        die "$contender did not clean up after itself; aborting (the leftovers are being removed)"
    fi
    CURRENT_PROJECT=""

    foreign="$(foreign_activity "$project" "$start" "$end")"
    if [ -n "$foreign" ]; then
        note "  discarded $contender (${RUN_SECS}s): the engine was shared ($(head -n 3 <<<"$foreign" | paste -sd' ')...)"
        return 1
    fi
}

# Runs contender $1 once as round $2, retrying while the engine is shared,
# and records its time and exit code. With $3 = warmup, records nothing.
run_one() {
    local contender="$1" round="$2" mode="${3:-}" tries=0 ready
    until attempt "$contender" "$round"; do
        DISCARDED=$((DISCARDED + 1))
        tries=$((tries + 1))
        [ "$tries" -lt "$MAX_TRIES" ] || die "the engine stayed shared for $MAX_TRIES attempts; no clean measurement"
    done

    if [ "$mode" = warmup ]; then
        note "  warm-up $contender: ${RUN_SECS}s, exit $RUN_RC"
        return 0
    fi
    note "  round $round $contender: ${RUN_SECS}s, exit $RUN_RC"

    local key="$STACK|$FLAVOR|$contender"
    TIMES[$key]="${TIMES[$key]:-} $RUN_SECS"
    CODES[$key]="${CODES[$key]:-} $RUN_RC"
    if [ "$RUN_RC" -ne "$EXPECTED" ]; then
        FINDINGS+=("$contender on $STACK ($FLAVOR), round $round: exit code $RUN_RC, expected $EXPECTED")
        note "  ^ unexpected exit code $RUN_RC (expected $EXPECTED); last lines of its output:"
        tail -n 15 "$RUN_LOG" | sed 's/^/    | /' >&2
    fi
    if [ "$contender" = testbed ]; then
        ready="$(sed -n 's/^testbed: ready in \([0-9.]*\)s$/\1/p' "$RUN_LOG" | head -n 1)"
        [ -z "$ready" ] || READY["$STACK|$FLAVOR"]="${READY["$STACK|$FLAVOR"]:-} $ready"
    fi
}

# All rounds for the selected stack and flavor. Round r starts with contender
# number r (mod 4), so no contender always runs first or after the same one.
bench_stack_flavor() {
    local round i n="${#CONTENDERS[@]}"
    note "== $STACK / $FLAVOR (${COMPOSE[*]}), $RUNS round(s), expected exit code $EXPECTED"
    run_one testbed 0 warmup
    for ((round = 1; round <= RUNS; round++)); do
        for ((i = 0; i < n; i++)); do
            run_one "${CONTENDERS[(round - 1 + i) % n]}" "$round"
        done
    done
}

# ---------------------------------------------------------------- statistics

# Reads numbers, one a line; prints "median min max".
stats() {
    sort -g | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "- - -"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f %.3f %.3f\n", m, v[1], v[NR]
        }'
}

median_of() { tr ' ' '\n' <<<"$1" | grep . | stats | cut -d' ' -f1; }

# "0×5" or "3×4, 0×1"
code_summary() {
    tr ' ' '\n' <<<"$1" | grep . | sort -n | uniq -c | awk '{ printf "%s%s×%s", (NR > 1 ? ", " : ""), $2, $1 }'
}

# Median wall time of `testbed --version` in ms, and of /bin/true as the
# floor for starting any process from this shell.
time_startup() {
    local what="$1" i start end
    shift
    for ((i = 0; i < VERSION_RUNS; i++)); do
        start="$EPOCHREALTIME"
        "$@" >/dev/null
        end="$EPOCHREALTIME"
        awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }'
    done | stats | awk -v w="$what" '{ printf "| %s | %s | %s | %s |\n", w, $1, $2, $3 }'
}

# The time one wide-stack service needs to turn healthy on its own: the same
# image, command and healthcheck under plain `docker run`, polled every 50 ms
# from just before `docker run` until its health is "healthy". Sets PROBE_MEDIAN.
probe_single_service() {
    local i start now status times=""
    for ((i = 0; i < PROBE_RUNS; i++)); do
        wait_for_quiet_engine
        PROBE_CONTAINER="bench-probe-$$-$i"
        start="$EPOCHREALTIME"
        docker run -d --name "$PROBE_CONTAINER" \
            --health-cmd 'test -f /tmp/ready' --health-interval 1s \
            --health-timeout 1s --health-retries 30 \
            testbed-busybox:latest /bin/sh -c 'sleep 1; touch /tmp/ready; exec sleep 3600' >/dev/null
        while :; do
            status="$(docker inspect --format '{{.State.Health.Status}}' "$PROBE_CONTAINER")"
            now="$EPOCHREALTIME"
            [ "$status" != healthy ] || break
            if awk -v s="$start" -v n="$now" 'BEGIN { exit !(n - s > 30) }'; then
                die "probe container not healthy after 30 s"
            fi
            sleep 0.05
        done
        docker rm -f "$PROBE_CONTAINER" >/dev/null
        PROBE_CONTAINER=""
        times+=" $(awk -v s="$start" -v n="$now" 'BEGIN { printf "%.3f", n - s }')"
    done
    PROBE_MEDIAN="$(median_of "$times")"
}

# ---------------------------------------------------------------- report

stack_table() {
    local stack="$1" flavor="$2" c key tb_median med min max ratio
    tb_median="$(median_of "${TIMES["$stack|$flavor|testbed"]}")"
    echo "### $stack / $flavor ($( [ "$flavor" = v2 ] && echo 'docker compose' || echo 'docker-compose'))"
    echo
    echo "| contender | median (s) | min (s) | max (s) | median / testbed | exit codes |"
    echo "| --- | ---: | ---: | ---: | ---: | --- |"
    for c in "${CONTENDERS[@]}"; do
        key="$stack|$flavor|$c"
        read -r med min max < <(tr ' ' '\n' <<<"${TIMES[$key]}" | grep . | stats)
        ratio="$(awk -v a="$med" -v b="$tb_median" 'BEGIN { printf "%.2f", a / b }')"
        echo "| $c | $med | $min | $max | ${ratio}× | $(code_summary "${CODES[$key]}") |"
    done
    echo
}

report() {
    local stack flavor ready_med ready_min ready_max
    echo "# testbed benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- machine: $(uname -m), $(nproc) CPUs"
    echo "- docker engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
    echo "- compose v2: $(docker compose version 2>/dev/null | head -n 1)"
    echo "- compose v1: $(docker-compose version 2>/dev/null | head -n 1)"
    echo "- testbed: $("$TESTBED" --version) (target/release/testbed, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ', src/ with uncommitted changes'))"
    echo "- command: \`$COMMAND_LINE\` ($RUNS round(s) per stack and flavor; contender order rotates each round; one untimed testbed warm-up per stack and flavor)"
    echo "- runs discarded and redone because another user's containers were created on the engine during them: $DISCARDED"
    echo
    echo "Wall time of a whole run, from start to exit, cleanup included. Ratios are"
    echo "each contender's median over testbed's median on the same stack and flavor."
    echo
    for stack in "${STACKS[@]}"; do
        for flavor in "${FLAVORS[@]}"; do
            stack_table "$stack" "$flavor"
        done
    done

    echo "### Startup: \`testbed --version\`"
    echo
    echo "Median of $VERSION_RUNS runs, process start to exit, as seen from bash."
    echo
    echo "| command | median (ms) | min (ms) | max (ms) |"
    echo "| --- | ---: | ---: | ---: |"
    echo "$VERSION_ROW"
    echo "$TRUE_ROW"
    echo

    if [ -n "$PROBE_MEDIAN" ]; then
        echo "### Wide stack: testbed's readiness wait vs one service alone"
        echo
        echo "One wide-stack service on its own (same image, command and healthcheck under"
        echo "\`docker run\`, polled every 50 ms until healthy), median of $PROBE_RUNS: **${PROBE_MEDIAN} s**."
        echo "By design it is healthy at the first health check that finds /tmp/ready: the"
        echo "file appears after \`sleep 1\`, and checks run every 1 s from 1 s after start, so"
        echo "1-2 s. testbed's \"ready in\" counts from the start of its \`compose up -d\`, so it"
        echo "also holds creating and starting all ten containers (printed to 0.1 s)."
        echo
        echo "| flavor | testbed \"ready in\" median (s) | min (s) | max (s) | minus one service alone (s) |"
        echo "| --- | ---: | ---: | ---: | ---: |"
        for flavor in "${FLAVORS[@]}"; do
            read -r ready_med ready_min ready_max < <(tr ' ' '\n' <<<"${READY["wide|$flavor"]:-}" | grep . | stats)
            echo "| $flavor | $ready_med | $ready_min | $ready_max | $(awk -v a="$ready_med" -v b="$PROBE_MEDIAN" 'BEGIN { printf "%+.2f", a - b }') |"
        done
        echo
    fi

    targets
    echo "### Exit-code findings"
    echo
    if [ "${#FINDINGS[@]}" -eq 0 ]; then
        echo "Every contender returned the expected exit code in every run."
    else
        printf -- '- %s\n' "${FINDINGS[@]}"
    fi
}

# The issue's targets: on chain, testbed's median at most 0.6x hand-tuned's
# and 0.15x seed-002's; `testbed --version` at most 5 ms.
target_row() {
    local what="$1" value="$2" limit="$3" unit="$4"
    awk -v w="$what" -v v="$value" -v l="$limit" -v u="$unit" 'BEGIN {
        printf "| %s | %s%s | <= %s%s | %s |\n", w, v, u, l, u, (v <= l ? "met" : "missed")
    }'
}

targets() {
    local flavor tb
    echo "### Targets"
    echo
    echo "| target | measured | goal | |"
    echo "| --- | ---: | ---: | --- |"
    if [[ " ${STACKS[*]} " == *" chain "* ]]; then
        for flavor in "${FLAVORS[@]}"; do
            tb="$(median_of "${TIMES["chain|$flavor|testbed"]}")"
            target_row "chain/$flavor: testbed / hand-tuned" \
                "$(awk -v a="$tb" -v b="$(median_of "${TIMES["chain|$flavor|hand-tuned"]}")" 'BEGIN { printf "%.2f", a / b }')" 0.6 "×"
            target_row "chain/$flavor: testbed / seed-002" \
                "$(awk -v a="$tb" -v b="$(median_of "${TIMES["chain|$flavor|seed-002"]}")" 'BEGIN { printf "%.2f", a / b }')" 0.15 "×"
        done
    fi
    target_row "testbed --version (median)" "$(cut -d'|' -f3 <<<"$VERSION_ROW" | tr -d ' ')" 5 " ms"
    echo
}

# ---------------------------------------------------------------- main

prepare() {
    note "building the image (scripts/build-images.sh)"
    bash scripts/build-images.sh >&2
    note "building testbed (cargo build --release)"
    cargo build --release --quiet
    [ -x "$TESTBED" ] || die "$TESTBED was not built"
    command -v docker-compose >/dev/null 2>&1 || [[ " ${FLAVORS[*]} " != *" v1 "* ]] \
        || die "docker-compose (v1) not found"
    docker compose version >/dev/null 2>&1 || [[ " ${FLAVORS[*]} " != *" v2 "* ]] \
        || die "the docker compose plugin (v2) is not installed"
}

main() {
    parse_args "$@"
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # Nothing from the caller's environment may steer compose or testbed.
    local var
    unset COMPOSE_PROJECT_NAME COMPOSE_FILE COMPOSE_PROFILES
    for var in $(compgen -e); do
        [[ "$var" != TESTBED_* ]] || unset "$var"
    done
    LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/testbed-bench.XXXXXX")"
    prepare

    local stack flavor
    for stack in "${STACKS[@]}"; do
        for flavor in "${FLAVORS[@]}"; do
            select_flavor "$flavor"
            select_stack "$stack"
            bench_stack_flavor
        done
    done

    note "timing testbed --version ($VERSION_RUNS runs)"
    VERSION_ROW="$(time_startup "testbed --version" "$TESTBED" --version)"
    TRUE_ROW="$(time_startup "/bin/true (floor)" /bin/true)"
    if [[ " ${STACKS[*]} " == *" wide "* ]]; then
        note "timing one wide-stack service alone ($PROBE_RUNS runs)"
        probe_single_service
    fi

    local out
    out="$(report)"
    mkdir -p "$(dirname "$RESULTS")"
    printf '%s\n' "$out" >"$RESULTS"
    printf '%s\n' "$out"
    note "results written to ${RESULTS#"$ROOT"/}"
}

main "$@"
