#!/usr/bin/env python3
"""Benchmarks `testbed run` against the runner scripts it replaces, on the
local engine, under both compose flavors.

    python3 scripts/bench.py [-n RUNS] [--flavor v2|v1|both] [--stack chain|wide|fail|all]
                             [--parallel N] [--shards N] [--out DIR] [--smoke]

(`bash scripts/bench.sh` takes the same flags.) Defaults: 5 runs, both
flavors, all stacks, 8 parallel runs, 3 shards; results in bench/.
`--smoke` is one round of chain under v2 with 2 runs at once and no shards,
into a temporary directory (or --out): a check that the bench works, in a
few minutes, not a measurement.

Stacks are fixtures/bench-<stack>. The contenders are the shell files in
bench/contenders/, one each, which name what they run:

    seed-002    compose up -d <deps>; compose run --rm tests; down
    seed-004    compose up --abort-on-container-exit --exit-code-from tests; down
    hand-tuned  v2: up -d --wait <deps>; run --rm -T tests; down -v -t 0
                v1: up -d <deps>; poll `docker inspect` until ready; the same
    testbed     target/release/testbed run -v -f F --compose <flavor>

For each stack and flavor, every round runs each contender once, in an order
that rotates from round to round, and times the whole run. On chain each round
has more slots in the rotation: N testbed runs started at once, timed from
the first start to the last exit, and as many chain floors at once (--parallel
0 leaves both out); `testbed run --shards N` of fixtures/bench-shards and one
plain run of it (--shards 0 leaves them out); and the chain floor. On wide:
one wide-stack service alone, until the daemon reports it healthy and until
its healthcheck passes under `docker exec` (bench/contenders/probe.sh), and
the wide floor.

Every timed run also records two CPU times: the machine's during it (busy
time in /proc/stat, every process: clients, daemons, containers), and its
own process tree's (user and sys of the contender and every descendant it
waited for, from this program's children's rusage around the run).

Before the rounds of each stack and flavor, each contender runs once more,
untimed (testbed's run doubles as its warm-up), with `docker`,
`docker-compose` and the compose v2 plugin replaced by shims that log one
line per start and exec the real binary: its docker/compose calls per run.

The floors are what the engine alone needs, with the docker CLI doing
nothing but that (bench/contenders/floor-*.sh): for wide, ten containers
like the wide stack's created and started at once, until the last start +
1 s; for chain, the containers of one run created, started in the order
depends_on allows (api 1 s after db, db's `sleep 1`), run and removed in 10
docker CLI calls, with the stack's own commands and healthchecks (its
machine CPU, wall time and process-tree CPU); in
the v1 rounds, also a `docker-compose config -q`, a start of compose v1 (its
wall time and machine CPU); and N chain floors started at once, each on a
network of its own, timed like the batch of N testbed runs, each after three
`config -q` in the v1 rounds (bench/contenders/floor-batch.sh). Then, once:
`testbed --version` against /bin/true.

Every run gets its own project name; after each, the bench checks that no
container, network or volume of that project is left, and aborts if one is.
A wrong exit code is recorded as a finding. Runs wait for an idle engine, and
a timed run during which someone else created a container is thrown away and
redone. The results go to results.json (each run's record with hyperfine's
field names: mean, stddev, median, min, max, times, user, system,
exit_codes) and results.md, rendered from it by scripts/bench_report.py, in
the output directory; the Markdown also to stdout.

It builds what it needs first: scripts/build-images.sh and cargo build --release.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bench_report
import bench_stats as st

ROOT = Path(__file__).resolve().parent.parent
CONTENDER_DIR = ROOT / "bench" / "contenders"
TESTBED = ROOT / "target" / "release" / "testbed"
SHARDS_FILE = "fixtures/bench-shards/compose.yml"
CONTENDERS = bench_report.CONTENDERS
PROJECT_LABEL = "com.docker.compose.project"
VERSION_RUNS = 20
QUIET_WAIT_MAX = 3600  # seconds to wait for someone else's containers to go
MAX_TRIES = 10  # attempts per measurement while the engine is shared

# What every dependency of fixtures/bench-wide runs; select_stack checks that
# the file still says so for each one of them.
PROBE_IMAGE = "testbed-busybox:latest"
PROBE_COMMAND = "sleep 1; touch /tmp/ready; exec sleep 3600"
PROBE_HEALTH = "test -f /tmp/ready"

COMPOSE = {"v2": ["docker", "compose"], "v1": ["docker-compose"]}
# Nothing from the caller's environment may steer compose or testbed
# (GITLAB_CI=true would switch testbed's output to GitLab sections).
UNSET = ("COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "GITLAB_CI")


class BenchError(Exception):
    """A reason to stop the bench, after cleaning up."""


def note(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def tail(path, n):
    """The last n lines of a log."""
    try:
        return Path(path).read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


# ---------------------------------------------------------------- options


def positive(text):
    if not re.fullmatch(r"[1-9][0-9]*", text):
        raise argparse.ArgumentTypeError(f"not a positive number: {text}")
    return int(text)


def count(text):
    if not re.fullmatch(r"0|[1-9][0-9]*", text):
        raise argparse.ArgumentTypeError(f"not a number: {text}")
    return int(text)


def shards(text):
    n = count(text)
    # testbed runs --shards 1 as a plain run, with nothing to compare.
    if n == 1:
        raise argparse.ArgumentTypeError("--shards 1 is a plain run; give 0 or at least 2")
    return n


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bash scripts/bench.sh",
        description="Benchmarks `testbed run` against the runner scripts it replaces; see the top of scripts/bench.py.",
    )
    p.add_argument("-n", dest="runs", type=positive, default=5, help="rounds per stack and flavor (default 5)")
    p.add_argument("--flavor", choices=["v2", "v1", "both"], default="both", help="compose flavor (default both)")
    p.add_argument("--stack", choices=["chain", "wide", "fail", "all"], default="all", help="fixtures/bench-<S> (default all)")
    p.add_argument(
        "--parallel", type=count, default=8, metavar="N", help="on chain, also start N testbed runs, and N chain floors, at once in each round (default 8; 0 skips both)"
    )
    p.add_argument(
        "--shards",
        type=shards,
        metavar="N",
        default=3,
        help="on chain, also time `testbed run --shards N` of fixtures/bench-shards against one plain run of it (default 3; 0 skips it)",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="where results.json and results.md go (default bench/; with --smoke, a temporary directory)")
    p.add_argument(
        "--smoke", action="store_true", help="one round of chain under v2, 2 runs at once, no shards: a check that the bench works"
    )
    opts = p.parse_args(argv)
    if opts.smoke:
        opts.runs, opts.flavor, opts.stack, opts.parallel, opts.shards = 1, "v2", "chain", 2, 0
    opts.flavors = ["v2", "v1"] if opts.flavor == "both" else [opts.flavor]
    opts.stacks = ["chain", "wide", "fail"] if opts.stack == "all" else [opts.stack]
    if opts.out is None:
        opts.out = Path(tempfile.mkdtemp(prefix="testbed-bench-smoke.")) if opts.smoke else ROOT / "bench"
    return opts


# ---------------------------------------------------------------- measuring


def machine_ticks():
    return st.busy_ticks(Path("/proc/stat").read_text())


def children_cpu():
    """(user, sys) CPU seconds of this program's children that ended and were
    waited for, each with the descendants it waited for itself."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime, ru.ru_stime


@dataclass
class Measure:
    """One timed run: epoch start and end, the machine's and the process
    tree's CPU seconds, and exit codes (one per process)."""

    start: float
    end: float
    machine_cpu: float
    user: float
    system: float
    codes: list

    @property
    def wall(self):
        return self.end - self.start

    @property
    def tree_cpu(self):
        return self.user + self.system


def measure(commands, env, logs):
    """Starts every command at once, each with its log, and times them from
    the first start to the last exit."""
    hz = os.sysconf("SC_CLK_TCK")
    ticks, (user, system) = machine_ticks(), children_cpu()
    start = time.time()
    procs = []
    try:
        for command, log in zip(commands, logs):
            with open(log, "w") as out:
                procs.append(subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
        codes = [p.wait() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                # SIGTERM is a cancelled CI job to testbed: it tears its stack down.
                p.terminate()
                p.wait()
    end = time.time()
    user_after, system_after = children_cpu()
    return Measure(start, end, (machine_ticks() - ticks) / hz, user_after - user, system_after - system, codes)


@dataclass
class Samples:
    """Everything measured of one contender on one stack and flavor."""

    times: list = field(default_factory=list)
    machine_cpu: list = field(default_factory=list)
    user: list = field(default_factory=list)
    system: list = field(default_factory=list)
    exit_codes: list = field(default_factory=list)
    ready_in: list = field(default_factory=list)
    own_ms: list = field(default_factory=list)
    docker_calls: list = field(default_factory=list)
    calls: dict = None

    def add(self, m):
        # To the microsecond and the millisecond of CPU (a clock tick is 10 ms).
        self.times.append(round(m.wall, 6))
        self.machine_cpu.append(round(m.machine_cpu, 3))
        self.user.append(round(m.user, 3))
        self.system.append(round(m.system, 3))
        self.exit_codes += m.codes

    def record(self, name, stack, flavor, command, runs_at_once=None):
        """The record results.json holds: hyperfine's fields, and ours."""
        r = {"name": name, "command": command, "stack": stack, "flavor": flavor}
        r.update(st.summary(self.times))
        r["user"] = st.summary(self.user)["mean"]
        r["system"] = st.summary(self.system)["mean"]
        r["exit_codes"] = self.exit_codes
        r["machine_cpu"] = st.summary(self.machine_cpu)
        r["process_tree_cpu"] = st.summary([round(u + s, 3) for u, s in zip(self.user, self.system)])
        r["calls"] = self.calls
        if runs_at_once:
            r["runs_at_once"] = runs_at_once
        if name == "testbed":
            r["ready_in"] = st.summary(self.ready_in)
            r["own_ms"] = st.summary(self.own_ms)
            r["docker_calls"] = st.summary(self.docker_calls)
        return r


def chain_floor_containers(networks):
    """The containers that floor-chain.sh names after each of its networks."""
    return [f"{net}-{s}" for net in networks for s in ("db", "api", "worker", "tests")]


class Bench:
    def __init__(self, opts, logdir):
        self.opts = opts
        self.logdir = logdir
        self.pid = os.getpid()
        self.floor_label = f"testbed-bench-floor={self.pid}"
        self.env = {k: v for k, v in os.environ.items() if k not in UNSET and not k.startswith("TESTBED_")}
        self.samples = {}  # (stack, flavor, name) -> Samples
        self.floors = {}  # (name, flavor) -> {measure: [values]}
        self.findings = []
        self.discarded = 0
        self.startup = []
        self.no_own_line_noted = False
        # What the cleanup removes if the bench stops half-way.
        self.current_projects = []
        self.probe_container = None
        self.shims = None
        # Set per stack and flavor by select.
        self.stack = self.flavor = None
        self.file = None
        self.deps = []
        self.expected = 0

    # ------------------------------------------------------------ engine

    def docker(self, *args, check=True):
        """docker's stdout, one item a line."""
        out = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, check=check)
        return out.stdout.split()

    def compose(self, *args):
        out = subprocess.run(COMPOSE[self.flavor] + list(args), env=self.env, capture_output=True, text=True, check=True)
        return out.stdout

    def project_leftovers(self, project):
        """Everything of the project still on the engine, "kind id" each."""
        label = f"label={PROJECT_LABEL}={project}"
        left = [f"container {i}" for i in self.docker("ps", "-aq", "--filter", label)]
        left += [f"network {i}" for i in self.docker("network", "ls", "-q", "--filter", label)]
        # compose v1 and v2 both name the default network <project>_default.
        left += [f"network {i}" for i in self.docker("network", "ls", "-q", "--filter", f"name=^{project}_default$")]
        left += [f"volume {i}" for i in self.docker("volume", "ls", "-q", "--filter", label)]
        return left

    def force_remove_project(self, project):
        label = f"label={PROJECT_LABEL}={project}"
        ids = self.docker("ps", "-aq", "--filter", label, check=False)
        if ids:
            self.docker("rm", "-f", "-v", *ids, check=False)
        ids = self.docker("network", "ls", "-q", "--filter", label, check=False)
        ids += self.docker("network", "ls", "-q", "--filter", f"name=^{project}_default$", check=False)
        if ids:
            self.docker("network", "rm", *ids, check=False)
        ids = self.docker("volume", "ls", "-q", "--filter", label, check=False)
        if ids:
            self.docker("volume", "rm", "-f", *ids, check=False)

    def floor_leftovers(self, check=True):
        """The containers and the networks of the floors still on the engine."""
        label = f"label={self.floor_label}"
        containers = self.docker("ps", "-aq", "--filter", label, check=check)
        return containers, self.docker("network", "ls", "-q", "--filter", label, check=check)

    def remove_floor(self):
        containers, networks = self.floor_leftovers(check=False)
        if containers:
            self.docker("rm", "-f", "-v", *containers, check=False)
        if networks:
            self.docker("network", "rm", *networks, check=False)

    def cleanup(self):
        for project in self.current_projects:
            note(f"cleaning up project {project}")
            self.force_remove_project(project)
        if self.probe_container:
            self.docker("rm", "-f", self.probe_container, check=False)
        self.remove_floor()

    def wait_for_quiet_engine(self):
        """Waits until the engine holds no container at all. Ours are all
        removed after each run, so anything there belongs to someone else
        sharing the engine, and would skew the timings."""
        waited = 0
        while self.docker("ps", "-aq"):
            if waited == 0:
                note("  the engine holds containers that are not ours; waiting for it to be idle")
            if waited >= QUIET_WAIT_MAX:
                raise BenchError(f"the engine was not idle within {QUIET_WAIT_MAX} s")
            time.sleep(5)
            waited += 5

    def foreign_activity(self, ours, start, end):
        """Names of containers created between start and end that belong to
        none of the projects or containers in `ours`: another user of the
        engine, active during our run."""
        out = subprocess.run(
            ["docker", "events", "--since", f"{start:.6f}", "--until", f"{end:.6f}", "--filter", "type=container",
             "--filter", "event=create", "--format",
             '{{index .Actor.Attributes "com.docker.compose.project"}} {{.Actor.Attributes.name}}'],
            env=self.env, capture_output=True, text=True, check=True,
        ).stdout
        foreign = []
        for line in out.splitlines():
            words = line.split()
            if words and words[0] not in ours and words[-1] not in ours:
                foreign.append(words[-1])
        return foreign

    def assert_no_leftovers(self, who, project, log):
        self.abort_on_leftovers(who, f"in project {project}", self.project_leftovers(project), log)

    def assert_no_floor_leftovers(self, who, log):
        containers, networks = self.floor_leftovers()
        left = [f"container {i}" for i in containers] + [f"network {i}" for i in networks]
        self.abort_on_leftovers(who, f"under the label {self.floor_label}", left, log)

    def abort_on_leftovers(self, who, where, left, log):
        """Aborts if `left`, "kind id" each, is not empty."""
        if not left:
            return
        note(f"LEAK: {who} ({self.stack}, {self.flavor}) left this behind {where}:")
        for item in left:
            print(f"  {item}", file=sys.stderr)
        note("last lines of its output:")
        print("\n".join(tail(log, 30)), file=sys.stderr)
        raise BenchError(f"{who} did not clean up after itself; aborting (the leftovers are being removed)")

    def until_undisturbed(self, attempt):
        """Runs attempt, a measurement that returns None when someone else
        used the engine meanwhile, until one is undisturbed."""
        for _ in range(MAX_TRIES):
            result = attempt()
            if result is not None:
                return result
            self.discarded += 1
        raise BenchError(f"the engine stayed shared for {MAX_TRIES} attempts; no clean measurement")

    # ------------------------------------------------------------ contenders

    def select(self, stack, flavor):
        self.stack, self.flavor = stack, flavor
        self.file = f"fixtures/bench-{stack}/compose.yml"
        if not (ROOT / self.file).is_file():
            raise BenchError(f"{self.file} is missing")
        self.deps = sorted(s for s in self.compose("-f", self.file, "config", "--services").split() if s != "tests")
        if not self.deps:
            raise BenchError(f"{self.file}: no dependencies found")
        if stack == "wide":
            text = (ROOT / self.file).read_text()
            problems = st.wide_fixture_problems(text, len(self.deps), PROBE_IMAGE, PROBE_COMMAND, PROBE_HEALTH)
            if problems:
                raise BenchError(f"{self.file}: {'; '.join(problems)}; update the probe in scripts/bench.py")
        self.expected = 3 if stack == "fail" else 0

    def script(self, name, flavor=None):
        """The contender's shell file: hand-tuned has one per flavor."""
        if name == "hand-tuned":
            return CONTENDER_DIR / f"hand-tuned-{flavor or self.flavor}.sh"
        if name in ("testbed", "parallel", "shards", "shards-plain"):
            return CONTENDER_DIR / "testbed.sh"
        return CONTENDER_DIR / f"{name}.sh"

    def contender_env(self, name, project, counting=False):
        env = dict(self.env)
        env.update(
            BENCH_COMPOSE=" ".join(COMPOSE[self.flavor]),
            BENCH_PROJECT=project,
            BENCH_FILE=SHARDS_FILE if name.startswith("shards") else self.file,
            BENCH_DEPS=" ".join(self.deps),
            TESTBED=str(TESTBED),
        )
        if name == "shards":
            env["BENCH_SHARDS"] = str(self.opts.shards)
        if counting:
            env["PATH"] = f"{self.shims.bin}:{env['PATH']}"
            env["DOCKER_CONFIG"] = str(self.shims.config)
        return env

    def projects_of(self, name, project, log):
        """The projects a run used: the one the bench gave it, or the ones
        testbed named itself (one per shard with --shards)."""
        output = Path(log).read_text(errors="replace")
        if name in ("testbed", "shards-plain"):
            named = [st.testbed_project(output)]
            if named[0] is None:
                self.die_with_log(log, f"{name} did not print its project name")
            return named
        if name == "shards":
            named = st.shard_projects(output)
            if not st.shards_complete(named, self.opts.shards):
                self.die_with_log(log, f"testbed --shards {self.opts.shards} did not name its shards' projects: {named}")
            return named
        return [project]

    def die_with_log(self, log, message):
        print("\n".join(tail(log, 30)), file=sys.stderr)
        raise BenchError(f"{message} (log above)")

    def attempt(self, name, round_, counting=False):
        """One run of contender `name` as round round_. Aborts if it leaves
        anything behind; returns None if the engine was shared meanwhile
        (never for a counting run, whose calls do not depend on it)."""
        project = f"bench-{self.stack}-{self.flavor}-{name}-r{round_}-{self.pid}"
        log = self.logdir / f"{project}.log"
        self.wait_for_quiet_engine()
        self.current_projects = [project]
        if counting:
            self.shims.calls_log.write_text("")
        m = measure([["bash", str(self.script(name))]], self.contender_env(name, project, counting), [log])
        self.current_projects = projects = self.projects_of(name, project, log)
        for p in projects:
            self.assert_no_leftovers(name, p, log)
        self.current_projects = []
        if not counting:
            foreign = self.foreign_activity(projects, m.start, m.end)
            if foreign:
                note(f"  discarded {name} ({m.wall:.3f}s): the engine was shared ({' '.join(foreign[:3])}...)")
                return None
        return m, log

    def run_one(self, name, round_, counting=False):
        m, log = self.until_undisturbed(lambda: self.attempt(name, round_, counting))
        samples = self.samples.setdefault((self.stack, self.flavor, name), Samples())
        rc = m.codes[0]
        what = f"round {round_}"
        if counting:
            total, compose = st.count_calls(self.shims.calls_log.read_text())
            samples.calls = {"total": total, "compose": compose, "exit_code": rc}
            what = "untimed counted run"
            note(f"  {what} of {name}: {m.wall:.3f}s, {total} docker/compose calls ({compose} compose), exit {rc}")
        else:
            samples.add(m)
            note(f"  {what} {name}: {m.wall:.3f}s, {m.machine_cpu:.2f} CPU-s (its processes {m.tree_cpu:.2f}), exit {rc}")
        if rc != self.expected:
            self.finding(f"{name} on {self.stack} ({self.flavor}), {what}: exit code {rc}, expected {self.expected}", log)
        if name == "testbed" and not counting:
            self.record_testbed_lines(samples, Path(log).read_text(errors="replace"))

    def finding(self, text, log):
        self.findings.append(text)
        note("  ^ unexpected exit code; last lines of its output:")
        print("\n".join(f"    | {line}" for line in tail(log, 15)), file=sys.stderr)

    def record_testbed_lines(self, samples, output):
        ready = st.ready_in(output)
        if ready is not None:
            samples.ready_in.append(ready)
        own = st.own_time(output)
        if own is None:
            if not self.no_own_line_noted:
                note('  testbed -v printed no "docker calls kept the run busy" line; its own time goes unmeasured')
                self.no_own_line_noted = True
            return
        samples.docker_calls.append(own[0])
        samples.own_ms.append(own[1])

    def attempt_batch(self, round_):
        """One batch of --parallel testbed runs of the stack, started at
        once. Aborts if they do not name as many distinct projects, or one
        leaves anything behind; None if the engine was shared meanwhile."""
        n = self.opts.parallel
        self.wait_for_quiet_engine()
        logs = [self.logdir / f"bench-{self.stack}-{self.flavor}-parallel-r{round_}-{i}.log" for i in range(1, n + 1)]
        command = ["bash", str(self.script("parallel"))]
        try:
            m = measure([command] * n, self.contender_env("parallel", ""), logs)
        finally:
            named = [st.testbed_project(log.read_text(errors="replace")) for log in logs]
            self.current_projects = [p for p in named if p]
        if len(set(self.current_projects)) != n:
            missing = next((log for log, p in zip(logs, named) if p is None), logs[0])
            self.die_with_log(missing, f"{n} parallel testbed runs did not print {n} distinct project names: {named}")
        for i, (project, log) in enumerate(zip(named, logs), 1):
            self.assert_no_leftovers(f"parallel testbed run {i}", project, log)
        self.current_projects = []
        foreign = self.foreign_activity(named, m.start, m.end)
        if foreign:
            note(f"  discarded {n}× testbed ({m.wall:.3f}s): the engine was shared ({' '.join(foreign[:3])}...)")
            return None
        return m, logs

    def run_batch(self, round_):
        n = self.opts.parallel
        m, logs = self.until_undisturbed(lambda: self.attempt_batch(round_))
        note(
            f"  round {round_} {n}× testbed at once: {m.wall:.3f}s, {m.machine_cpu:.2f} CPU-s"
            f" (its processes {m.tree_cpu:.2f}), exits {' '.join(map(str, m.codes))}"
        )
        self.samples.setdefault((self.stack, self.flavor, "parallel"), Samples()).add(m)
        for i, (rc, log) in enumerate(zip(m.codes, logs), 1):
            if rc != 0:
                self.finding(f"{n}× testbed at once on {self.stack} ({self.flavor}), round {round_}, run {i}: exit code {rc}, expected 0", log)

    # ------------------------------------------------------------ probes and floors

    def side(self, name, values):
        """Adds one measurement of a probe or floor: {measure: value}."""
        kept = self.floors.setdefault((name, self.flavor), {})
        for measure_name, value in values.items():
            kept.setdefault(measure_name, []).append(round(value, 6))
        shown = ", ".join(f"{k} {v:.3f}" for k, v in values.items())
        note(f"  {name}: {shown}")

    def floor_env(self, name):
        env = dict(self.env)
        env.update(
            BENCH_NAME=name, BENCH_FLOOR_LABEL=self.floor_label, BENCH_IMAGE=PROBE_IMAGE,
            BENCH_COMMAND=PROBE_COMMAND, BENCH_HEALTH=PROBE_HEALTH,
        )
        return env

    def run_marked(self, script, name, *args):
        """Runs a floor or probe script that prints its own `name=value`
        marks; dies if it fails."""
        log = self.logdir / f"{name}.log"
        with open(log, "w") as err:
            out = subprocess.run(["bash", str(CONTENDER_DIR / script), *args], env=self.floor_env(name),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True)
        if out.returncode != 0:
            self.die_with_log(log, f"{script} failed with exit code {out.returncode}")
        return st.key_values(out.stdout)

    def probe_once(self, mode):
        """One wide-stack service alone (probe.sh): seconds until ready."""
        self.wait_for_quiet_engine()
        self.probe_container = name = f"bench-probe-{self.pid}-{mode}"
        marks = self.run_marked("probe.sh", name, mode)
        disturbed = self.foreign_activity([name], marks["start"], time.time())
        self.probe_container = None
        return None if disturbed else {"ready": marks["end"] - marks["start"]}

    def compose_v1_start(self, stack):
        """One `docker-compose config -q` of the stack, which asks the engine
        nothing: a start of compose v1 at the least, timed like a contender."""
        log = self.logdir / f"compose-start-{stack}.log"
        command = ["docker-compose", "-p", f"bench-floor-{self.pid}", "-f", f"fixtures/bench-{stack}/compose.yml",
                   "config", "-q"]
        m = measure([command], self.env, [log])
        if m.codes[0] != 0:
            self.die_with_log(log, f"`{' '.join(command)}` failed with exit code {m.codes[0]}")
        return m

    def floor_wide_once(self):
        """Ten wide-stack containers at once (floor-wide.sh): from just
        before the network is created until the last start + 1 s."""
        self.wait_for_quiet_engine()
        net = f"bench-floor-{self.pid}"
        marks = self.run_marked("floor-wide.sh", net)
        if self.foreign_activity([f"{net}-s{i:02d}" for i in range(1, 11)], marks["start"], time.time()):
            return None
        values = {"ready": marks["last_start"] + st.READY_AFTER_SECS - marks["start"]}
        if self.flavor == "v1":
            values["compose_start"] = self.compose_v1_start("wide").wall
        return values

    def floor_chain_once(self):
        """One chain run's containers alone (floor-chain.sh), timed like a
        contender: machine CPU, wall and process-tree CPU."""
        self.wait_for_quiet_engine()
        net = f"bench-floor-{self.pid}"
        log = self.logdir / f"{net}.log"
        m = measure([["bash", str(CONTENDER_DIR / "floor-chain.sh")]], self.floor_env(net), [log])
        if m.codes[0] != 0:
            self.die_with_log(log, f"floor-chain.sh failed with exit code {m.codes[0]}")
        self.assert_no_floor_leftovers("floor-chain.sh", log)
        values = {"machine_cpu": m.machine_cpu, "wall": m.wall, "process_tree_cpu": m.tree_cpu}
        if self.flavor == "v1":
            compose = self.compose_v1_start("chain")
            values["compose_start"] = compose.wall
            values["compose_start_machine_cpu"] = compose.machine_cpu
        if self.foreign_activity(chain_floor_containers([net]), m.start, time.time()):
            return None
        return values

    def floor_batch_once(self):
        """As many chain floors at once as the batch has testbed runs
        (floor-batch.sh), each on a network of its own and, under v1, each
        after three starts of compose: timed like the batch, from the first
        start to the last exit (wall, machine CPU, process-tree CPU)."""
        self.wait_for_quiet_engine()
        n = self.opts.parallel
        net = f"bench-floor-{self.pid}"
        log = self.logdir / f"{net}-batch.log"
        env = dict(self.floor_env(net), BENCH_FILE=self.file)
        if self.flavor == "v1":
            env["BENCH_COMPOSE_STARTS"] = str(st.COMPOSE_V1_STARTS)
        m = measure([["bash", str(CONTENDER_DIR / "floor-batch.sh"), str(n)]], env, [log])
        if m.codes[0] != 0:
            self.die_with_log(log, f"floor-batch.sh {n} failed with exit code {m.codes[0]}")
        self.assert_no_floor_leftovers(f"floor-batch.sh {n}", log)
        if self.foreign_activity(chain_floor_containers([f"{net}-{i}" for i in range(1, n + 1)]), m.start, m.end):
            return None
        return {"wall": m.wall, "machine_cpu": m.machine_cpu, "process_tree_cpu": m.tree_cpu}

    def run_side(self, slot):
        attempts = {
            "probe-daemon": lambda: self.probe_once("daemon"),
            "probe-exec": lambda: self.probe_once("exec"),
            "floor-wide": self.floor_wide_once,
            "floor-chain": self.floor_chain_once,
            "floor-batch": self.floor_batch_once,
        }
        self.side(slot, self.until_undisturbed(attempts[slot]))

    # ------------------------------------------------------------ rounds

    def slots(self):
        slots = list(CONTENDERS)
        if self.stack == "chain":
            slots.append("floor-chain")
            if self.opts.parallel > 0:
                slots += ["parallel", "floor-batch"]
            if self.opts.shards > 0:
                slots += ["shards", "shards-plain"]
        if self.stack == "wide":
            slots += ["probe-daemon", "probe-exec", "floor-wide"]
        return slots

    def bench_stack_flavor(self):
        """All rounds of the selected stack and flavor. Round r starts with
        slot r (mod the number of slots), so no contender always runs first
        or after the same one; what is compared is measured in the same
        rounds, as the machine's speed can drift over half an hour."""
        slots = self.slots()
        compose = " ".join(COMPOSE[self.flavor])
        note(f"== {self.stack} / {self.flavor} ({compose}), {self.opts.runs} round(s), expected exit code {self.expected}")
        self.run_one("testbed", 0, counting=True)  # also the warm-up
        for name in CONTENDERS:
            if name != "testbed":
                self.run_one(name, 0, counting=True)
        for round_ in range(1, self.opts.runs + 1):
            for i in range(len(slots)):
                slot = slots[(round_ - 1 + i) % len(slots)]
                if slot == "parallel":
                    self.run_batch(round_)
                elif slot.startswith(("probe-", "floor-")):
                    self.run_side(slot)
                else:
                    self.run_one(slot, round_)

    def time_startup(self):
        note(f"timing testbed --version ({VERSION_RUNS} runs)")
        env = dict(self.env, BENCH_RUNS=str(VERSION_RUNS))
        for what, command in (("testbed --version", [str(TESTBED), "--version"]), ("/bin/true (floor)", ["/bin/true"])):
            out = subprocess.run(["bash", str(CONTENDER_DIR / "startup.sh"), *command], env=env, capture_output=True,
                                 text=True, check=True).stdout
            self.startup.append({"command": what, "unit": "ms", **st.summary([float(v) for v in out.split()])})

    # ------------------------------------------------------------ results

    def results(self, argv):
        records = []
        for (stack, flavor, name), samples in self.samples.items():
            at_once = self.opts.parallel if name == "parallel" else None
            script = self.script(name, flavor).relative_to(ROOT)
            records.append(samples.record(name, stack, flavor, str(script), at_once))
        floors = []
        for (name, flavor), measures in self.floors.items():
            floors.append({"name": name, "flavor": flavor, **{k: st.summary(v) for k, v in measures.items()}})
        return {
            "benchmark": self.machine(argv),
            "results": records,
            "floors": floors,
            "startup": self.startup,
            "findings": self.findings,
        }

    def machine(self, argv):
        def output(*command):
            try:
                out = subprocess.run(command, env=self.env, capture_output=True, text=True, cwd=ROOT)
            except OSError:
                return "?"
            return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "?"

        return {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "machine": platform.machine(),
            "cpus": len(os.sched_getaffinity(0)),
            "engine": output("docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"),
            "compose_v2": output("docker", "compose", "version"),
            "compose_v1": output("docker-compose", "version"),
            "testbed": output(str(TESTBED), "--version"),
            "git": output("git", "rev-parse", "--short", "HEAD"),
            "src_dirty": subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=ROOT).returncode != 0,
            "command": " ".join(["bash scripts/bench.sh", *argv]),
            "runs": self.opts.runs,
            "flavors": self.opts.flavors,
            "stacks": self.opts.stacks,
            "parallel": self.opts.parallel,
            "shards": self.opts.shards,
            "shards_file": SHARDS_FILE,
            "discarded": self.discarded,
            "probe": {"image": PROBE_IMAGE, "command": PROBE_COMMAND, "health": PROBE_HEALTH},
        }


class Shims:
    """A `docker` and a `docker-compose` in bin/, each a wrapper of the real
    one on PATH that logs "<program> <first argument>" to calls_log and
    execs it; and in config/, a docker configuration that is the real one
    but for its compose v2 plugin, a wrapper that logs
    "docker-compose-plugin <first argument>" when it is started on its own.
    The docker CLI starts it with DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND set
    (and once more to ask for its metadata), as part of `docker compose
    ...`, which is one line already."""

    PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                   "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")

    def __init__(self, logdir, env):
        self.bin = logdir / "shim"
        self.config = logdir / "shim-config"
        self.calls_log = logdir / "calls.log"
        (self.config / "cli-plugins").mkdir(parents=True)
        self.bin.mkdir()
        for name in ("docker", "docker-compose"):
            real = shutil.which(name, path=env["PATH"])
            if real:
                self.write(self.bin / name, f'echo "{name} $1" >>"{self.calls_log}"\nexec "{real}" "$@"\n')
        config = Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")
        if config.is_dir():
            for entry in config.iterdir():
                if entry.name != "cli-plugins":
                    (self.config / entry.name).symlink_to(entry)
        for d in (config / "cli-plugins", *map(Path, self.PLUGIN_DIRS)):
            plugin = d / "docker-compose"
            if os.access(plugin, os.X_OK):
                self.write(
                    self.config / "cli-plugins" / "docker-compose",
                    'if [ -z "$DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND" ] && [ "$1" != docker-cli-plugin-metadata ]; then\n'
                    f'    echo "docker-compose-plugin $1" >>"{self.calls_log}"\nfi\nexec "{plugin}" "$@"\n',
                )
                break

    @staticmethod
    def write(path, body):
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)


def prepare(opts, env):
    note("building the image (scripts/build-images.sh)")
    subprocess.run(["bash", "scripts/build-images.sh"], stdout=sys.stderr, check=True, env=env)
    note("building testbed (cargo build --release)")
    subprocess.run(["cargo", "build", "--release", "--quiet"], check=True, env=env)
    if not os.access(TESTBED, os.X_OK):
        raise BenchError(f"{TESTBED} was not built")
    if "v1" in opts.flavors and not shutil.which("docker-compose"):
        raise BenchError("docker-compose (v1) not found")
    if "v2" in opts.flavors and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        raise BenchError("the docker compose plugin (v2) is not installed")


def run(opts, argv, logdir):
    bench = Bench(opts, logdir)
    try:
        prepare(opts, bench.env)
        bench.shims = Shims(logdir, bench.env)
        for stack in opts.stacks:
            for flavor in opts.flavors:
                bench.select(stack, flavor)
                bench.bench_stack_flavor()
        bench.time_startup()
    finally:
        bench.cleanup()
    results = bench.results(argv)
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = bench_report.render(results)
    (opts.out / "results.md").write_text(markdown)
    sys.stdout.write(markdown)
    note(f"results written to {opts.out / 'results.json'} and {opts.out / 'results.md'}")


def on_sigterm(signum, frame):
    raise SystemExit(143)


def main(argv):
    opts = parse_args(argv)
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, on_sigterm)
    logdir = Path(tempfile.mkdtemp(prefix="testbed-bench."))
    try:
        run(opts, argv, logdir)
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as e:
        print(f"bench: error: `{' '.join(map(str, e.cmd))}` failed with exit code {e.returncode}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
