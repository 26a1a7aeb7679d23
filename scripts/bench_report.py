"""bench/results.md, rendered from the results that scripts/bench.py writes
to bench/results.json: the tables, the floors and the Targets table.

    python3 scripts/bench_report.py bench/results.json   # Markdown on stdout

scripts/test_bench_report.py tests it.
"""

import json
import sys

import bench_stats as st

CONTENDERS = ["seed-002", "seed-004", "hand-tuned", "testbed"]
FLAVOR_NAMES = {"v2": "docker compose", "v1": "docker-compose"}


# ---------------------------------------------------------------- numbers


def f3(value):
    return "-" if value is None else f"{value:.3f}"


def f2(value):
    return "-" if value is None else f"{value:.2f}"


def signed(value):
    return "-" if value is None else f"{value:+.2f}"


def whole(value):
    return "-" if value is None else f"{value:.0f}"


def times_sign(value):
    return "-" if value is None else f"{f2(value)}×"


class Results:
    """The results of one bench run, as read back from results.json."""

    def __init__(self, data):
        self.data = data
        self.bench = data["benchmark"]
        self.flavors = self.bench["flavors"]
        self.stacks = self.bench["stacks"]
        self.parallel = self.bench["parallel"]
        self.shards = self.bench["shards"]
        self.cpus = self.bench["cpus"]

    def has_stack(self, stack):
        return stack in self.stacks

    def with_parallel(self):
        return self.has_stack("chain") and self.parallel > 0

    def with_shards(self):
        return self.has_stack("chain") and self.shards > 0

    def record(self, stack, flavor, name):
        """The record of `name` on stack and flavor, or an empty one."""
        for r in self.data["results"]:
            if (r["stack"], r["flavor"], r["name"]) == (stack, flavor, name):
                return r
        return {}

    def floor(self, name, flavor):
        for f in self.data["floors"]:
            if (f["name"], f["flavor"]) == (name, flavor):
                return f
        return {}

    def median(self, stack, flavor, name, measure=None):
        """The median wall time of a record, or of one of its measures."""
        r = self.record(stack, flavor, name)
        return (r.get(measure) or {}).get("median") if measure else r.get("median")

    def floor_median(self, name, flavor, measure):
        return (self.floor(name, flavor).get(measure) or {}).get("median")

    def chain_wall_floor(self, flavor):
        return st.chain_wall_floor(
            self.floor_median("floor-chain", flavor, "wall"),
            self.floor_median("floor-chain", flavor, "compose_start"),
        )

    def wide_floor(self, flavor):
        return st.wide_floor(
            self.floor_median("floor-wide", flavor, "ready"),
            self.floor_median("floor-wide", flavor, "compose_start"),
        )

    def parallel_bound(self, flavor):
        return st.parallel_bound(self.floor_median("floor-chain", flavor, "machine_cpu"), self.parallel, self.cpus)

    def chain_cpu_floor_ratio(self, flavor):
        return st.chain_cpu_floor_ratio(
            self.floor_median("floor-chain", flavor, "machine_cpu"),
            self.floor_median("floor-chain", flavor, "compose_start_machine_cpu"),
        )

    def batch_cpu_floor_ratio(self, flavor):
        return st.batch_cpu_floor_ratio(
            self.floor_median("floor-batch", flavor, "machine_cpu"),
            self.parallel,
            self.floor_median("floor-chain", flavor, "machine_cpu"),
            self.floor_median("floor-chain", flavor, "compose_start_machine_cpu"),
        )

    def per_run_cpu(self, stack, flavor, name):
        """The median machine CPU of one run: of the batch over its runs."""
        r = self.record(stack, flavor, name)
        cpu = (r.get("machine_cpu") or {}).get("median")
        return None if cpu is None else cpu / r.get("runs_at_once", 1)

    def per_flavor(self, value):
        """"<v2> s in the v2 rounds, <v1> s in the v1 rounds", "-" for a
        value missing."""
        shown = [(flavor, value(flavor)) for flavor in self.flavors]
        return ", ".join(f"{'-' if v is None else f'{v:.2f} s'} in the {flavor} rounds" for flavor, v in shown)


def row(*cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def stats3(summary):
    """median, min and max of a summary, three decimals."""
    summary = summary or {}
    return f3(summary.get("median")), f3(summary.get("min")), f3(summary.get("max"))


# ---------------------------------------------------------------- sections


def header(res):
    b = res.bench
    notes = ""
    if res.with_parallel():
        notes = f"; on chain, one batch of {res.parallel} testbed runs at once per round, in the rotation"
    elif res.has_stack("chain"):
        notes = "; no parallel runs (--parallel 0)"
    if res.with_shards():
        notes += f"; on chain, one `--shards {res.shards}` run and one plain run of {b['shards_file']} per round, in the rotation"
    elif res.has_stack("chain"):
        notes += "; no shards runs (--shards 0)"
    dirty = ", src/ with uncommitted changes" if b.get("src_dirty") else ""
    return [
        "# testbed benchmark",
        "",
        f"- date: {b['date']}",
        f"- machine: {b['machine']}, {b['cpus']} CPUs",
        f"- docker engine: {b['engine']}",
        f"- compose v2: {b['compose_v2']}",
        f"- compose v1: {b['compose_v1']}",
        f"- testbed: {b['testbed']} (target/release/testbed, git {b['git']}{dirty})",
        f"- command: `{b['command']}` ({b['runs']} round(s) per stack and flavor; contender order rotates each round;"
        " before the rounds of each stack and flavor, one untimed run per contender under the call-counting shims,"
        f" testbed's first, as its warm-up{notes})",
        "- runs discarded and redone because another user's containers were created on the engine during them:"
        f" {b['discarded']}",
        "",
        "Wall time of a whole run, from start to exit, cleanup included. Ratios are",
        "each contender's median over testbed's median on the same stack and flavor.",
        "testbed runs with `-v`, which only adds lines on stderr.",
        "",
        "Machine CPU is the machine's busy time during the run (/proc/stat): every",
        "process, the clients, the daemons and the containers. Process-tree CPU is",
        "user + sys of the contender's own processes: its script or testbed and",
        "every descendant it waited for (the driver's children's rusage around the",
        "run), so the docker and compose clients, not dockerd, containerd or the",
        "containers.",
        "",
        "docker/compose calls: from one more, untimed run of each contender before",
        "the rounds, with `docker` and `docker-compose` on PATH replaced by",
        "shims that log each invocation and exec the real binary, and the compose",
        "v2 plugin too, in a docker configuration of the shims' own. Every start of",
        "one of them is one call, by the contender or anything it started;",
        "`docker compose ...` is one call (the docker CLI's own starts of the",
        "plugin are part of it), a start of the plugin on its own (as testbed runs",
        "it) is one, and the count in brackets is the compose calls.",
        "",
    ]


def stack_table(res, stack, flavor):
    tb = res.median(stack, flavor, "testbed")
    lines = [
        f"### {stack} / {flavor} ({FLAVOR_NAMES[flavor]})",
        "",
        "| contender | median (s) | min (s) | max (s) | median / testbed | machine CPU, median (s)"
        " | process-tree CPU, median (s) | docker/compose calls (of them compose) | exit codes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in CONTENDERS:
        r = res.record(stack, flavor, c)
        calls = r.get("calls") or {}
        lines.append(
            row(
                c,
                *stats3(r),
                times_sign(st.ratio(r.get("median"), tb)),
                f3(res.median(stack, flavor, c, "machine_cpu")),
                f3(res.median(stack, flavor, c, "process_tree_cpu")),
                f"{calls.get('total', '-')} ({calls.get('compose', '-')})",
                st.code_summary(r.get("exit_codes", [])),
            )
        )
    return lines + [""]


def parallel_section(res):
    n = res.parallel
    lines = [
        f"### {n} testbed runs on chain at once",
        "",
        f"One more slot in each round's rotation on chain: {n} runs of the testbed",
        "contender's command (`testbed run -v -f fixtures/bench-chain/compose.yml",
        "--compose <flavor>`), started at once, each with the project name it",
        "generates, timed from the first start to the last exit. Each run must exit 0",
        "and leave nothing of its project behind. Compared with the median of the",
        "single timed testbed runs on chain in the same flavor, and with that of",
        f"{n} chain floors at once in the same rounds (in \"What the engine alone",
        f"needs\"): the engine's work for {n} runs at once and nothing else.",
        "",
        f"| flavor | {n} at once, median (s) | min (s) | max (s) | one run, median (s) | {n} at once / one"
        " | machine CPU of the batch, median (s) | process-tree CPU of the batch, median (s)"
        f" | wall, {n} at once / {n} floors at once (medians) | machine CPU, {n} at once / {n} floors at once (medians)"
        " | exit codes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for flavor in res.flavors:
        r = res.record("chain", flavor, "parallel")
        one = res.median("chain", flavor, "testbed")
        cpu = res.median("chain", flavor, "parallel", "machine_cpu")
        lines.append(
            row(
                flavor,
                *stats3(r),
                f3(one),
                times_sign(st.ratio(r.get("median"), one)),
                f3(cpu),
                f3(res.median("chain", flavor, "parallel", "process_tree_cpu")),
                times_sign(st.ratio(r.get("median"), res.floor_median("floor-batch", flavor, "wall"))),
                times_sign(st.ratio(cpu, res.floor_median("floor-batch", flavor, "machine_cpu"))),
                st.code_summary(r.get("exit_codes", [])),
            )
        )
    return lines + [""]


def shards_section(res):
    n = res.shards
    shards_file = res.bench["shards_file"]
    lines = [
        f"### `testbed run --shards {n}` against one plain run",
        "",
        f"Two more slots in each round's rotation on chain, on {shards_file}",
        "(an api with a healthcheck; tests that reach it, then take 3 s in every",
        f"shard): `testbed run -v --shards {n}`, which starts {n} isolated stacks at",
        "once and runs the tests in each, and one plain `testbed run -v` of the same",
        "stack. Each is timed whole, must exit 0 and must leave nothing behind",
        "(every `<project>-s<i>` of the shards). The shards' readiness waits and",
        f"tests overlap; the ratio shows how much on {res.cpus} CPUs.",
        "",
        f"| flavor | --shards {n}, median (s) | min (s) | max (s) | plain run, median (s) | min (s) | max (s)"
        " | shards / plain | machine CPU, shards / plain, medians (s)"
        " | process-tree CPU, shards / plain, medians (s) | exit codes (shards; plain) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for flavor in res.flavors:
        shards = res.record("chain", flavor, "shards")
        plain = res.record("chain", flavor, "shards-plain")
        lines.append(
            row(
                flavor,
                *stats3(shards),
                *stats3(plain),
                times_sign(st.ratio(shards.get("median"), plain.get("median"))),
                f"{f3(res.median('chain', flavor, 'shards', 'machine_cpu'))}"
                f" / {f3(res.median('chain', flavor, 'shards-plain', 'machine_cpu'))}",
                f"{f3(res.median('chain', flavor, 'shards', 'process_tree_cpu'))}"
                f" / {f3(res.median('chain', flavor, 'shards-plain', 'process_tree_cpu'))}",
                f"{st.code_summary(shards.get('exit_codes', []))}; {st.code_summary(plain.get('exit_codes', []))}",
            )
        )
    return lines + [""]


def wide_section(res):
    probe = res.bench["probe"]
    lines = [
        "### Wide stack: from `up` to all healthy, against one service alone",
        "",
        "testbed's \"ready in\" line: from the start of its `compose up --no-start`",
        "(creating the network and all ten containers) until every dependency is",
        "ready, as testbed prints it, to 0.1 s; one value per timed testbed run above.",
        "",
        "The slowest single service's own time to healthy: all ten dependencies of",
        "fixtures/bench-wide have the same image, command and healthcheck (the bench",
        "checks the file), so it is the time of any one of them alone. The bench runs",
        "one once in each round on wide, in the rotation, on an otherwise idle engine",
        "(bench/contenders/probe.sh):",
        "",
        f"    docker run -d --health-cmd '{probe['health']}' --health-interval 1s --health-timeout 1s \\",
        f"        --health-retries 30 {probe['image']} /bin/sh -c '{probe['command']}'",
        "",
        "and measures from just before `docker run` until the daemon reports it",
        "healthy: the end of the daemon's first passing health check, by the daemon's",
        "own timestamp in `.State.Health.Log` (same clock, local engine): the",
        "reference below. Both times include creating and starting the container.",
        "The daemon runs its first check one interval (1 s) after the container starts,",
        "about when the file appears (`sleep 1` from the start), so it reports healthy",
        "at that first check or, when the check comes just before the file, one",
        "interval later.",
        "",
        "For comparison only: as many more runs of the same container, measured until",
        "the healthcheck's command first passes under `docker exec`, run back to back",
        "from when `docker run -d` returns. That is how testbed itself checks, so it",
        "can see a service ready before the daemon would report it healthy.",
        "",
        "The readiness target is against neither: it is against the engine's floor",
        "for ten such containers at once, and under v1 a start of compose before",
        "them (in \"What the engine alone needs\"; the last column here is against",
        "the containers alone).",
        "",
        "| one service alone, in the rounds of, until | median (s) | min (s) | max (s) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for flavor in res.flavors:
        lines.append(
            row(f"{flavor}: the daemon reports healthy (reference)", *stats3(res.floor("probe-daemon", flavor).get("ready")))
        )
        lines.append(
            row(
                f"{flavor}: its healthcheck command passes under `docker exec`",
                *stats3(res.floor("probe-exec", flavor).get("ready")),
            )
        )
    lines += [
        "",
        "| flavor | testbed \"ready in\" median (s) | min (s) | max (s) | median minus reference (s)"
        " | median minus `docker exec` time (s) | median minus the engine's floor (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for flavor in res.flavors:
        ready = res.record("wide", flavor, "testbed").get("ready_in")
        med = (ready or {}).get("median")
        lines.append(
            row(
                flavor,
                *stats3(ready),
                signed(st.difference(med, res.floor_median("probe-daemon", flavor, "ready"))),
                signed(st.difference(med, res.floor_median("probe-exec", flavor, "ready"))),
                signed(st.difference(med, res.floor_median("floor-wide", flavor, "ready"))),
            )
        )
    return lines + [""]


def floors_section(res):
    lines = [
        "### What the engine alone needs",
        "",
        "Floors for the targets they bound, measured once in each round of the stack",
        "they bound, with the docker CLI doing nothing but the work itself, on an",
        "otherwise idle engine (bench/contenders/floor-wide.sh, floor-chain.sh and",
        "floor-batch.sh).",
        "",
        "| floor | median | min | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for flavor in res.flavors:
        if res.has_stack("wide"):
            wide = res.floor("floor-wide", flavor)
            lines.append(
                row(
                    f"wide, in the {flavor} rounds: a network and ten containers like the wide stack's, created at"
                    " once, then started at once: until the last one's start (daemon's clock) + 1 s, the earliest"
                    " its `sleep 1` can make it ready (s)",
                    *stats3(wide.get("ready")),
                )
            )
            if flavor == "v1":
                lines.append(
                    row(
                        "wide, in the v1 rounds: one `docker-compose config -q` of it, which asks the engine nothing:"
                        " a start of compose v1, which `up` pays before its first create (wall, s)",
                        *stats3(wide.get("compose_start")),
                    )
                )
        if res.has_stack("chain"):
            chain = res.floor("floor-chain", flavor)
            lines.append(
                row(
                    f"chain, in the {flavor} rounds: the containers of one run alone, in 10 docker CLI calls: a"
                    " network, three dependencies created at once, then started as depends_on allows (db, 1 s"
                    " for its `sleep 1`, api, worker; the stack's own commands and healthchecks, which nothing"
                    " waits on), the tests' container run, all removed:"
                    " machine CPU (s)",
                    *stats3(chain.get("machine_cpu")),
                )
            )
            lines.append(row(f"chain, in the {flavor} rounds: the same, its wall time (s)", *stats3(chain.get("wall"))))
            lines.append(
                row(
                    f"chain, in the {flavor} rounds: the same, the CPU of those 10 docker CLI calls (process tree, s)",
                    *stats3(chain.get("process_tree_cpu")),
                )
            )
            if flavor == "v1":
                lines.append(
                    row(
                        "chain, in the v1 rounds: one `docker-compose config -q` of it, which asks the engine"
                        " nothing: a start of compose v1 (wall, s)",
                        *stats3(chain.get("compose_start")),
                    )
                )
                lines.append(
                    row(
                        "chain, in the v1 rounds: the same `config -q`, its machine CPU (s)",
                        *stats3(chain.get("compose_start_machine_cpu")),
                    )
                )
        if res.with_parallel():
            batch = res.floor("floor-batch", flavor)
            n = res.parallel
            each = ", each after three `docker-compose config -q` of it, one after another" if flavor == "v1" else ""
            lines.append(
                row(
                    f"chain, in the {flavor} rounds: {n} chain floors started at once, each on a network of its"
                    f" own{each}: from the first start to the last exit (wall, s)",
                    *stats3(batch.get("wall")),
                )
            )
            lines.append(
                row(f"chain, in the {flavor} rounds: the same {n}, their machine CPU (s)", *stats3(batch.get("machine_cpu")))
            )
    lines.append("")
    if res.has_stack("chain"):
        lines += [
            "A run of chain cannot be quicker than the chain floor's wall time: api",
            "may not start before db is healthy, db's `sleep 1` makes it ready 1 s",
            "after its start at the earliest, and worker and the tests wait in turn",
            "for api and worker, as the floor does. Under v1, a run that keeps compose",
            "for what only compose knows (the model, the create, the tests' run)",
            "starts it three times, each a start of Python at the least: three",
            f"`config -q` more. So: {res.per_flavor(res.chain_wall_floor)}.",
            "Over a contender's median, that is the lowest ratio to it this machine",
            "allows. The CPU of the floor's 10 calls is the least a run driven through",
            "the docker CLI spends in its own processes (one start of the CLI per",
            "container, network and removal, no compose): over hand-tuned's, the",
            "lowest process-tree CPU ratio to it that such a run can reach.",
            "",
        ]
        if "v1" in res.flavors:
            lines += [
                "Those three starts of compose cost machine CPU too, which the chain floor",
                "leaves out: under v1, a run of chain needs at least the chain floor's",
                "machine CPU and three times that of one `config -q`. Over the floor's,",
                f"that is (floor + 3 × `config -q`) / floor: {times_sign(res.chain_cpu_floor_ratio('v1'))} in the v1 rounds, the",
                "lowest ratio of a run's machine CPU to the chain floor's that this machine",
                "allows under v1, which the Targets table shows beside that target.",
                "",
            ]
    if res.with_parallel():
        n = res.parallel
        lines += [
            f"{n} runs at once need at least {n} times the chain floor's machine CPU, spread",
            f"over the {res.cpus} CPUs, whatever the tool: {res.per_flavor(res.parallel_bound)}.",
            "That is the engine's CPU-floor bound, which the Targets table holds the",
            "batch's median against. The floor's containers run the stack's own",
            "healthchecks, every second for as long as they live, as they would under",
            "any tool; it leaves out compose and any check of testbed's own. Its",
            "machine CPU counts every process on the machine: the bench sees only",
            "other users' containers, so a build running beside it inflates the floor",
            "and the bound with it, and the target looks easier than it is. It needs",
            "an otherwise idle machine, not only an idle engine.",
            "",
            f"The bound takes the work of the {n} runs to spread over every CPU. The",
            "engine serialises part of it (its iptables changes wait for one lock),",
            f"so the bench also measures {n} chain floors started at once, once in each",
            f"round of chain, in the rotation: {n} copies of floor-chain.sh, each on a",
            "network of its own, timed from the first start to the last exit; each",
            "must exit 0 and leave nothing. Under v1 each copy first runs",
            "`docker-compose config -q` of the stack three times, one after another:",
            "the starts of compose of a run under v1. So:"
            f" {res.per_flavor(lambda flavor: res.floor_median('floor-batch', flavor, 'wall'))}.",
            f"That is the engine floor beside the target for {n} runs at once in the",
            "Targets table: where it is above the goal, the goal is out of this",
            "machine's reach.",
            "",
        ]
    return lines


def machine_cpu_section(res):
    """Machine CPU per run of every contender and of the batches, beside the
    chain floor's."""
    lines = [
        "### Machine CPU per run, beside the chain floor",
        "",
        "The machine's busy time (/proc/stat) during one run, median over the rounds;",
        "for the batch of parallel runs, the batch's over its runs. On chain, beside",
        "the chain floor's in the same rounds (the engine's work for one run of",
        f"chain, nothing else): the Targets table holds a run of chain to at most {st.MACHINE_CPU_GOAL}×",
        "the floor. The other stacks have no floor of their own.",
        "",
        "Runs that share the machine live longer, and the stack's healthchecks run",
        "for as long as they live, so a run of a batch costs more than a run alone",
        "whatever the tool. The Targets table holds a run of the batch to at most",
        f"{st.BATCH_CPU_GOAL}× a run alone, beside the same ratio for the floors: the",
        "machine CPU per floor of the chain floors at once over one floor's (under",
        "v1, each with its three `config -q`).",
        "",
        "| stack / flavor | run | machine CPU per run, median (s) | chain floor's, median (s) | per run / floor |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for stack in res.stacks:
        for flavor in res.flavors:
            names = list(CONTENDERS)
            if stack == "chain" and res.with_parallel():
                names.append("parallel")
            if stack == "chain" and res.with_shards():
                names += ["shards", "shards-plain"]
            for name in names:
                cpu = res.per_run_cpu(stack, flavor, name)
                on_chain = stack == "chain" and not name.startswith("shards")
                floor = res.floor_median("floor-chain", flavor, "machine_cpu") if on_chain else None
                lines.append(
                    row(
                        f"{stack} / {flavor}",
                        run_name(res, name),
                        f3(cpu),
                        f3(floor),
                        times_sign(st.ratio(cpu, floor)) if on_chain else "-",
                    )
                )
    return lines + [""]


def run_name(res, name):
    if name == "parallel":
        return f"testbed, one of {res.parallel} at once"
    if name == "shards":
        return f"testbed --shards {res.shards} (bench-shards)"
    if name == "shards-plain":
        return "testbed (bench-shards)"
    return name


def own_time_section(res):
    lines = [
        "### testbed's own time per run",
        "",
        "From the last line of `testbed run -v` (\"N docker calls kept the run busy",
        "for Ts; the rest, M ms, was testbed's own\"): the run's wall time by testbed's",
        "own clock, minus the time during which at least one docker call it made was",
        "running. One value per timed testbed run above.",
        "",
        "| stack / flavor | own time median (ms) | min (ms) | max (ms) | docker calls (median) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for stack in res.stacks:
        for flavor in res.flavors:
            r = res.record(stack, flavor, "testbed")
            own = r.get("own_ms") or {}
            lines.append(
                row(
                    f"{stack} / {flavor}",
                    whole(own.get("median")),
                    whole(own.get("min")),
                    whole(own.get("max")),
                    whole((r.get("docker_calls") or {}).get("median")),
                )
            )
    return lines + [""]


def startup_section(res):
    startup = res.data["startup"]
    lines = [
        "### Startup: `testbed --version`",
        "",
        f"Median of {len(startup[0]['times']) if startup else 0} runs, process start to exit, as seen from bash.",
        "",
        "| command | median (ms) | min (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for s in startup:
        lines.append(row(s["command"], *stats3(s)))
    return lines + [""]


def target_row(what, value, limit, unit, floor=None):
    """One row of the Targets table; values are shown as the table shows
    them (ratios and limits to two decimals, medians of seconds to three)."""
    value_text, value_num = value
    shown_floor = "-" if floor is None else f"{f2(floor)}{unit}"
    shown_value = "-" if value_num is None else f"{value_text}{unit}"
    shown_limit = "-" if limit is None else f"{limit}{unit}"
    return row(what, shown_value, f"<= {shown_limit}", shown_floor, st.verdict(value_num, limit_number(limit), floor))


def limit_number(limit):
    return None if limit is None else float(limit)


def shown(value, fmt):
    """A measured value as shown, and the number the verdict compares: the
    shown one, so that the table never says 0.50 > 0.50."""
    if value is None:
        return ("-", None)
    text = fmt(value)
    return (text, float(text))


def goal(value, fmt=f2):
    """A computed goal as shown, or None without it."""
    return None if value is None else fmt(value)


def targets(res):
    lines = ["### Targets", "", "| target | measured | goal | engine floor | |", "| --- | ---: | ---: | ---: | --- |"]
    if res.has_stack("chain"):
        for flavor in res.flavors:
            tb = res.median("chain", flavor, "testbed")
            ht = res.median("chain", flavor, "hand-tuned")
            seed = res.median("chain", flavor, "seed-002")
            wall_floor = res.chain_wall_floor(flavor)
            lines.append(
                target_row(
                    f"chain/{flavor}: testbed / hand-tuned, wall (medians)",
                    shown(st.ratio(tb, ht), f2),
                    f"{st.CHAIN_WALL_GOAL[flavor]:.2f}",
                    "×",
                    rounded(st.ratio(wall_floor, ht)),
                )
            )
            if flavor == "v2":
                ht_tree = res.median("chain", flavor, "hand-tuned", "process_tree_cpu")
                lines.append(
                    target_row(
                        f"chain/{flavor}: testbed / hand-tuned, process-tree CPU (medians)",
                        shown(st.ratio(res.median("chain", flavor, "testbed", "process_tree_cpu"), ht_tree), f2),
                        f"{st.TREE_CPU_GOAL}",
                        "×",
                        rounded(st.ratio(res.floor_median("floor-chain", flavor, "process_tree_cpu"), ht_tree)),
                    )
                )
            lines.append(
                target_row(
                    f"chain/{flavor}: testbed / seed-002, wall (medians)",
                    shown(st.ratio(tb, seed), f2),
                    f"{st.CHAIN_SEED_GOAL:.2f}",
                    "×",
                    rounded(st.ratio(wall_floor, seed)),
                )
            )
            floor_cpu = res.floor_median("floor-chain", flavor, "machine_cpu")
            lines.append(
                target_row(
                    f"chain/{flavor}: a testbed run's machine CPU / the chain floor's (medians)",
                    shown(st.ratio(res.per_run_cpu("chain", flavor, "testbed"), floor_cpu), f2),
                    f"{st.MACHINE_CPU_GOAL}",
                    "×",
                    rounded(res.chain_cpu_floor_ratio(flavor)),
                )
            )
            if res.with_parallel():
                lines.append(
                    target_row(
                        f"chain/{flavor}: machine CPU per run of {res.parallel} at once / one run's (medians)",
                        shown(
                            st.ratio(
                                res.per_run_cpu("chain", flavor, "parallel"),
                                res.per_run_cpu("chain", flavor, "testbed"),
                            ),
                            f2,
                        ),
                        f"{st.BATCH_CPU_GOAL}",
                        "×",
                        rounded(res.batch_cpu_floor_ratio(flavor)),
                    )
                )
    if res.has_stack("wide"):
        for flavor in res.flavors:
            floor = rounded(res.wide_floor(flavor))
            ready = (res.record("wide", flavor, "testbed").get("ready_in") or {}).get("median")
            lines.append(
                target_row(
                    f"wide/{flavor}: `up` to all healthy (testbed \"ready in\", median) vs the engine's floor"
                    f" + {st.READY_MARGIN} s",
                    shown(ready, f3),
                    goal(st.plus(st.READY_MARGIN, floor)),
                    " s",
                    floor,
                )
            )
    for stack in res.stacks:
        for flavor in res.flavors:
            own = (res.record(stack, flavor, "testbed").get("own_ms") or {}).get("median")
            lines.append(
                target_row(
                    f"{stack}/{flavor}: testbed's own time per run (median)",
                    shown(own, whole),
                    f"{st.OWN_TIME_GOAL_MS}",
                    " ms",
                )
            )
    if res.with_parallel():
        for flavor in res.flavors:
            bound = rounded(res.parallel_bound(flavor))
            lines.append(
                target_row(
                    f"chain/{flavor}: {res.parallel} runs at once (median) vs {st.PARALLEL_GOAL}× the engine's"
                    " CPU-floor bound",
                    shown(res.median("chain", flavor, "parallel"), f3),
                    goal(st.times(st.PARALLEL_GOAL, bound)),
                    " s",
                    rounded(res.floor_median("floor-batch", flavor, "wall")),
                )
            )
    if res.with_shards():
        for flavor in res.flavors:
            lines.append(
                target_row(
                    f"bench-shards/{flavor}: `--shards {res.shards}` / one plain run, wall (medians)",
                    shown(st.ratio(res.median("chain", flavor, "shards"), res.median("chain", flavor, "shards-plain")), f2),
                    f"{st.SHARDS_GOAL}",
                    "×",
                )
            )
    version = next((s for s in res.data["startup"] if s["command"] == "testbed --version"), {})
    lines.append(
        target_row("testbed --version (median)", shown(version.get("median"), f3), f"{st.VERSION_GOAL_MS}", " ms")
    )
    return lines + [""]


def rounded(value):
    """A floor to two decimals, as the table shows it and compares it."""
    return None if value is None else round(value, 2)


def findings(res):
    lines = ["### Exit-code findings", ""]
    if not res.data["findings"]:
        return lines + ["Every contender returned the expected exit code in every run."]
    return lines + [f"- {f}" for f in res.data["findings"]]


def render(data):
    """results.md, from the results as bench.py writes them."""
    res = Results(data)
    lines = header(res)
    for stack in res.stacks:
        for flavor in res.flavors:
            lines += stack_table(res, stack, flavor)
    if res.with_parallel():
        lines += parallel_section(res)
    if res.with_shards():
        lines += shards_section(res)
    if res.has_stack("wide"):
        lines += wide_section(res)
    lines += floors_section(res)
    lines += machine_cpu_section(res)
    lines += own_time_section(res)
    lines += startup_section(res)
    lines += targets(res)
    lines += findings(res)
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) != 2:
        print("usage: python3 scripts/bench_report.py RESULTS.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        sys.stdout.write(render(json.load(f)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
