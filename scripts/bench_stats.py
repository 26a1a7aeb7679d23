"""The bench's statistics and what it reads from its runs, without I/O.

scripts/bench.py measures; this module summarises the measurements the way
hyperfine's JSON export does (mean, stddev, median, min, max, times), works
out the floors and targets, and reads the lines that the runs print (testbed's
`-v` lines, the call-counting shims' log, /proc/stat). scripts/bench_report.py
renders them. scripts/test_bench_stats.py tests it.
"""

import re
import statistics

# The targets that the Targets table holds the measurements against.
CHAIN_WALL_GOAL = {"v2": 0.45, "v1": 0.70}  # testbed / hand-tuned, wall
CHAIN_SEED_GOAL = 0.15  # testbed / seed-002, wall
TREE_CPU_GOAL = 1.1  # testbed / hand-tuned, process-tree CPU (v2)
MACHINE_CPU_GOAL = 1.3  # a chain run's machine CPU / the chain floor's
BATCH_CPU_GOAL = 1.3  # machine CPU per run of the batch / one run's
READY_MARGIN = 0.3  # wide: "ready in" at most the floor + this, in s
OWN_TIME_GOAL_MS = 100  # testbed's own time per run
PARALLEL_GOAL = 1.25  # N runs at once / the engine's CPU-floor bound
SHARDS_GOAL = 1.8  # --shards N / one plain run, wall
VERSION_GOAL_MS = 5  # testbed --version

# The `sleep 1` before a bench stack's service (db on chain, each of wide's)
# is ready: nothing is ready sooner after its start.
READY_AFTER_SECS = 1.0
# compose v1 starts this many times in a run that keeps compose for the
# model, the create and the tests' run.
COMPOSE_V1_STARTS = 3


def summary(values):
    """hyperfine's statistics of a list of measurements: mean, stddev (None
    below two values, as hyperfine leaves it out), median (the middle value,
    or the mean of the two middle ones), min, max, and the values themselves."""
    values = list(values)
    if not values:
        return {"mean": None, "stddev": None, "median": None, "min": None, "max": None, "times": []}
    return {
        "mean": statistics.fmean(values),
        "stddev": statistics.stdev(values) if len(values) > 1 else None,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "times": values,
    }


def ratio(a, b):
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def difference(a, b):
    """a - b, or None when either is missing."""
    if a is None or b is None:
        return None
    return a - b


def code_summary(codes):
    """Exit codes counted, lowest code first: "0×5" or "0×1, 3×4"."""
    counts = {}
    for code in sorted(codes):
        counts[code] = counts.get(code, 0) + 1
    return ", ".join(f"{code}×{n}" for code, n in counts.items())


# ---------------------------------------------------------------- floors


def chain_wall_floor(floor_wall, compose_start):
    """The wall time a run of chain needs at least: the chain floor's wall
    time (db's second included), and under v1 (compose_start given) three
    starts of compose. None without the floor."""
    if floor_wall is None:
        return None
    return floor_wall + COMPOSE_V1_STARTS * (compose_start or 0)


def wide_floor(floor_ready, compose_start):
    """The "ready in" the wide stack needs at least: the wide floor, and
    under v1 (compose_start given) a start of compose before the first
    create. None without the floor."""
    if floor_ready is None:
        return None
    return floor_ready + (compose_start or 0)


def chain_cpu_floor_ratio(floor_cpu, compose_start_cpu):
    """The lowest machine CPU a run of chain under v1 can have, over the
    chain floor's: the floor's and three starts of compose (compose_start_cpu,
    the machine CPU of one), over the floor's. None without either, as
    under v2, which has no compose start of its own to add."""
    if floor_cpu is None or compose_start_cpu is None:
        return None
    return ratio(floor_cpu + COMPOSE_V1_STARTS * compose_start_cpu, floor_cpu)


def batch_cpu_floor_ratio(batch_cpu, runs, floor_cpu, compose_start_cpu):
    """The same ratio as the batch target's for the floors: the machine CPU
    per floor of `runs` chain floors at once over one floor's, with three
    starts of compose beside each floor under v1 (compose_start_cpu given),
    as floor-batch.sh runs them. Runs that wait together live longer, and
    the stack's healthchecks run for as long as they live. None without
    the floors."""
    if batch_cpu is None or floor_cpu is None:
        return None
    one = floor_cpu + COMPOSE_V1_STARTS * (compose_start_cpu or 0)
    return ratio(batch_cpu / runs, one)


def parallel_bound(floor_cpu, runs, cpus):
    """The wall time `runs` chain runs at once need at least: the chain
    floor's machine CPU for each, spread over the CPUs."""
    if floor_cpu is None:
        return None
    return floor_cpu * runs / cpus


def times(k, value):
    """k × value, or None without the value."""
    return None if value is None else k * value


def plus(a, value):
    """a + value, or None without the value."""
    return None if value is None else a + value


def verdict(value, limit, floor=None):
    """A target's verdict: "met" when value <= limit, "no data" without a
    value or a limit, and a miss whose floor is above the limit is out of
    this machine's reach."""
    if value is None or limit is None:
        return "no data"
    if value <= limit:
        return "met"
    if floor is not None and floor > limit:
        return "missed: the engine alone needs more"
    return "missed"


# ---------------------------------------------------------------- what runs print

BUSY_FIELDS = (1, 2, 3, 6, 7, 8)  # user, nice, system, irq, softirq, steal


def busy_ticks(proc_stat):
    """The machine's busy CPU time in clock ticks, from the text of
    /proc/stat: user, nice, system, irq, softirq and steal of every CPU."""
    for line in proc_stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            return sum(int(fields[i]) for i in BUSY_FIELDS)
    raise ValueError("/proc/stat has no `cpu` line")


COMPOSE_CALL = re.compile(r"^docker( compose$|-compose |-compose-plugin )")


def count_calls(log):
    """(calls, compose calls) in the shims' log, one "<program> <first
    argument>" a line: `docker compose`, `docker-compose` and the plugin
    started on its own are compose calls."""
    lines = [line for line in log.splitlines() if line.strip()]
    return len(lines), sum(1 for line in lines if COMPOSE_CALL.match(line))


TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-][0-9:]+) ")


def testbed_lines(output):
    """testbed's lines, without the timestamp that starts each of them when
    stderr is not a terminal."""
    return [TIMESTAMP.sub("", line) for line in output.splitlines()]


def testbed_project(output):
    """The project testbed named (it prints it first), or None."""
    for line in testbed_lines(output):
        if line.startswith("testbed: project "):
            return line[len("testbed: project ") :]
    return None


SHARD_PROJECT = re.compile(r"^\[s\d+\] testbed: project (.+)$")


def shard_projects(output):
    """The projects that `testbed run --shards` named, sorted, once each, as
    each shard printed its own ("[s2] testbed: project <project>-s2")."""
    found = {m.group(1) for m in map(SHARD_PROJECT.match, testbed_lines(output)) if m}
    return sorted(found)


def shards_complete(projects, shards):
    """Whether projects are exactly <base>-s1 .. <base>-s<shards>."""
    bases = [p[: -len("-s1")] for p in projects if p.endswith("-s1")]
    if len(bases) != 1 or len(projects) != shards:
        return False
    return sorted(projects) == sorted(f"{bases[0]}-s{i}" for i in range(1, shards + 1))


READY_IN = re.compile(r"^testbed: ready in ([0-9.]+)s$")


def ready_in(output):
    """The seconds of testbed's first "ready in" line, or None."""
    for line in testbed_lines(output):
        m = READY_IN.match(line)
        if m:
            return float(m.group(1))
    return None


OWN_TIME = re.compile(
    r"^testbed: (\d+) docker calls kept the run busy for [0-9.]+s; the rest, (\d+) ms, was testbed's own$"
)


def own_time(output):
    """(docker calls, own ms) from the last line of `testbed run -v` that
    says them:
      testbed: 40 docker calls kept the run busy for 3.63s; the rest, 19 ms, was testbed's own
    or None."""
    found = None
    for line in testbed_lines(output):
        m = OWN_TIME.match(line)
        if m:
            found = (int(m.group(1)), int(m.group(2)))
    return found


def key_values(output):
    """The `name=value` lines of a floor's or probe's output, values as
    numbers."""
    values = {}
    for line in output.splitlines():
        name, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[a-z_]+", name):
            values[name] = float(value)
    return values


def wide_fixture_problems(text, dependencies, image, command, health):
    """What makes fixtures/bench-wide unlike the probe: every one of its
    `dependencies` must have the probe's command and healthcheck, and every
    service its image. An empty list when it is alike."""
    problems = []
    lines = text.splitlines()
    for want in (
        f'    command: ["/bin/sh", "-c", "{command}"]',
        f'      test: ["CMD", "/bin/sh", "-c", "{health}"]',
        "      interval: 1s",
        "      timeout: 1s",
        "      retries: 30",
    ):
        if lines.count(want) != dependencies:
            problems.append(f"not all of its {dependencies} dependencies have `{want.strip()}`")
    images = [line for line in lines if re.match(r"^ +image:", line)]
    if images.count(f"    image: {image}") != len(images):
        problems.append(f"not every service uses {image}")
    return problems
