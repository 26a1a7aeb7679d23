"""Unit tests of scripts/bench_report.py: results.md rendered from a
results.json of known values.

    python3 -m unittest discover -s scripts -p 'test_*.py'
"""

import json
import unittest

import bench_report
import bench_stats as st


def record(name, stack, flavor, times, machine_cpu, tree_cpu, codes, calls=None, **more):
    r = {"name": name, "command": f"bench/contenders/{name}.sh", "stack": stack, "flavor": flavor}
    r.update(st.summary(times))
    r.update(
        user=None,
        system=None,
        exit_codes=codes,
        machine_cpu=st.summary(machine_cpu),
        process_tree_cpu=st.summary(tree_cpu),
        calls=calls,
    )
    r.update({k: v if isinstance(v, int) else st.summary(v) for k, v in more.items()})
    return r


def results(parallel=2, findings=(), flavor="v2", new_floors=True, batch_floor_wall=(3.5, 4.0, 4.5)):
    """One round of chain under v2, as `--smoke` measures it, or under v1.
    Without new_floors, the floors of the last full run before the batch of
    floors and the machine CPU of a start of compose v1 were measured."""
    chain = [
        record("seed-002", "chain", flavor, [36.0], [4.6], [0.35], [0], {"total": 3, "compose": 3, "exit_code": 0}),
        record("seed-004", "chain", flavor, [35.0], [4.5], [0.28], [0]),
        record("hand-tuned", "chain", flavor, [6.0], [2.4], [0.36], [0]),
        record(
            "testbed", "chain", flavor, [2.7, 3.3, 3.0], [1.8, 1.9, 1.86], [0.36, 0.36, 0.36], [0, 0, 0],
            {"total": 16, "compose": 3, "exit_code": 0}, ready_in=[2.1], own_ms=[9, 14, 9], docker_calls=[15, 15, 15],
        ),
    ]
    if parallel:
        chain.append(record("parallel", "chain", flavor, [5.0], [6.0], [0.8], [0, 0], runs_at_once=parallel))
    floor_chain = {"name": "floor-chain", "flavor": flavor, "machine_cpu": st.summary([1.5]), "wall": st.summary([2.5]),
                   "process_tree_cpu": st.summary([0.13])}
    if flavor == "v1":
        floor_chain["compose_start"] = st.summary([0.6])
        if new_floors:
            floor_chain["compose_start_machine_cpu"] = st.summary([0.5])
    floors = [floor_chain]
    if parallel and new_floors:
        floors.append({"name": "floor-batch", "flavor": flavor, "wall": st.summary(list(batch_floor_wall)),
                       "machine_cpu": st.summary([4.0, 5.0, 6.0]), "process_tree_cpu": st.summary([0.9])})
    return {
        "benchmark": {
            "date": "2026-12-07 19:00:00 UTC", "machine": "x86_64", "cpus": 2, "engine": "20.10.24 (API 1.41)",
            "compose_v2": "Docker Compose version v2.40.3", "compose_v1": "docker-compose version 1.29.2",
            "testbed": "testbed 0.1.0", "git": "abc1234", "src_dirty": False, "command": "bash scripts/bench.sh --smoke",
            "runs": 1, "flavors": [flavor], "stacks": ["chain"], "parallel": parallel, "shards": 0,
            "shards_file": "fixtures/bench-shards/compose.yml", "discarded": 0,
            "probe": {"image": "testbed-busybox:latest", "command": "sleep 1", "health": "true"},
        },
        "results": chain,
        "floors": floors,
        "startup": [{"command": "testbed --version", "unit": "ms", **st.summary([1.5, 1.6, 7.0])},
                    {"command": "/bin/true (floor)", "unit": "ms", **st.summary([0.8])}],
        "findings": list(findings),
    }


def rendered(data):
    # Through JSON and back, as bench.py writes it and the report reads it.
    return bench_report.render(json.loads(json.dumps(data))).splitlines()


def row_of(lines, start):
    found = [line for line in lines if line.startswith(start)]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} rows start with {start!r}")
    return [cell.strip() for cell in found[0].strip("|").split("|")]


class Render(unittest.TestCase):
    def test_a_contenders_row_has_its_medians_ratio_calls_and_codes(self):
        lines = rendered(results())
        self.assertEqual(
            row_of(lines, "| testbed |"), ["testbed", "3.000", "2.700", "3.300", "1.00×", "1.860", "0.360", "16 (3)", "0×3"]
        )
        self.assertEqual(row_of(lines, "| seed-002 |")[4], "12.00×")
        # seed-004's counted run is missing: no calls, not zero.
        self.assertEqual(row_of(lines, "| seed-004 |")[7], "- (-)")

    def test_the_batch_is_compared_with_one_run_and_with_the_floors_at_once(self):
        # Wall 5.0 over the floors' 4.0, machine CPU 6.0 over theirs 5.0.
        self.assertEqual(
            row_of(rendered(results()), "| v2 | 5.000 |"),
            ["v2", "5.000", "5.000", "5.000", "3.000", "1.67×", "6.000", "0.800", "1.25×", "1.20×", "0×2"],
        )

    def test_the_floors_at_once_are_among_the_floors(self):
        lines = rendered(results())
        self.assertEqual(
            row_of(lines, "| chain, in the v2 rounds: 2 chain floors started at once")[1:], ["4.000", "3.500", "4.500"]
        )
        self.assertEqual(row_of(lines, "| chain, in the v2 rounds: the same 2, their machine CPU")[1:], ["5.000", "4.000", "6.000"])
        self.assertIn("the starts of compose of a run under v1. So: 4.00 s in the v2 rounds.", lines)
        # Under v1, each of the floors starts compose three times first.
        v1 = rendered(results(flavor="v1"))
        self.assertIn("each after three `docker-compose config -q` of it", row_of(v1, "| chain, in the v1 rounds: 2 chain")[0])

    def test_machine_cpu_per_run_sits_beside_the_chain_floor(self):
        lines = rendered(results())
        self.assertEqual(row_of(lines, "| chain / v2 | testbed |"), ["chain / v2", "testbed", "1.860", "1.500", "1.24×"])
        # The batch's CPU over its two runs.
        self.assertEqual(
            row_of(lines, "| chain / v2 | testbed, one of 2 at once |"),
            ["chain / v2", "testbed, one of 2 at once", "3.000", "1.500", "2.00×"],
        )

    def test_targets_hold_each_run_of_chain_to_1_3_times_the_floors_machine_cpu(self):
        lines = rendered(results())
        self.assertEqual(
            row_of(lines, "| chain/v2: a testbed run's machine CPU"),
            ["chain/v2: a testbed run's machine CPU / the chain floor's (medians)", "1.24×", "<= 1.3×", "-", "met"],
        )
        # A run of the batch costs 3.0 s of machine CPU, a run alone 1.86 s;
        # a floor of the 2 at once 5.0 / 2 = 2.5 s, a floor alone 1.5 s.
        self.assertEqual(
            row_of(lines, "| chain/v2: machine CPU per run of 2 at once")[1:],
            ["1.61×", "<= 1.3×", "1.67×", "missed: the engine alone needs more"],
        )

    def test_wall_targets_carry_the_floor_and_their_verdict(self):
        lines = rendered(results())
        # testbed 3.0 / hand-tuned 6.0; floor 2.5 / 6.0, db's second included.
        self.assertEqual(row_of(lines, "| chain/v2: testbed / hand-tuned, wall")[1:], ["0.50×", "<= 0.45×", "0.42×", "missed"])
        self.assertEqual(row_of(lines, "| chain/v2: testbed / seed-002, wall")[1:], ["0.08×", "<= 0.15×", "0.07×", "met"])
        # The goal: 2 runs at once need 2 × 1.5 / 2 CPUs = 1.5 s at least, 1.25 × that.
        # The floor: 2 chain floors at once took 4.0 s, above the goal.
        self.assertEqual(
            row_of(lines, "| chain/v2: 2 runs at once (median)")[1:],
            ["5.000 s", "<= 1.88 s", "4.00 s", "missed: the engine alone needs more"],
        )
        # Floors at once within the goal: the miss is testbed's.
        quick = rendered(results(batch_floor_wall=[1.7]))
        self.assertEqual(row_of(quick, "| chain/v2: 2 runs at once (median)")[1:], ["5.000 s", "<= 1.88 s", "1.70 s", "missed"])
        self.assertEqual(row_of(lines, "| chain/v2: testbed's own time")[1:], ["9 ms", "<= 100 ms", "-", "met"])
        self.assertEqual(row_of(lines, "| testbed --version (median)")[1:], ["1.600 ms", "<= 5 ms", "-", "met"])

    def test_under_v1_a_runs_machine_cpu_has_three_compose_starts_as_its_floor(self):
        data = results(flavor="v1")
        testbed = next(r for r in data["results"] if r["name"] == "testbed")
        testbed["machine_cpu"] = st.summary([3.3])
        lines = rendered(data)
        # 3.3 / 1.5; the floor (1.5 + 3 × 0.5) / 1.5, above the goal.
        self.assertEqual(
            row_of(lines, "| chain/v1: a testbed run's machine CPU")[1:],
            ["2.20×", "<= 1.3×", "2.00×", "missed: the engine alone needs more"],
        )
        self.assertEqual(row_of(lines, "| chain, in the v1 rounds: the same `config -q`")[1:], ["0.500", "0.500", "0.500"])
        self.assertIn("that is (floor + 3 × `config -q`) / floor: 2.00× in the v1 rounds, the", lines)

    def test_results_without_the_new_floors_render_them_as_missing(self):
        # As bench/results.json of the last full run before them.
        lines = rendered(results(flavor="v1", new_floors=False))
        self.assertEqual(row_of(lines, "| v1 | 5.000 |")[-3:], ["-", "-", "0×2"])
        self.assertEqual(row_of(lines, "| chain, in the v1 rounds: 2 chain floors")[1:], ["-", "-", "-"])
        self.assertEqual(row_of(lines, "| chain, in the v1 rounds: the same `config -q`")[1:], ["-", "-", "-"])
        self.assertEqual(row_of(lines, "| chain/v1: a testbed run's machine CPU")[1:], ["1.24×", "<= 1.3×", "-", "met"])
        self.assertEqual(row_of(lines, "| chain/v1: 2 runs at once (median)")[1:], ["5.000 s", "<= 1.88 s", "-", "missed"])
        self.assertIn("the starts of compose of a run under v1. So: - in the v1 rounds.", lines)

    def test_without_parallel_runs_neither_the_batch_nor_its_targets_appear(self):
        text = "\n".join(rendered(results(parallel=0)))
        self.assertIn("no parallel runs (--parallel 0)", text)
        self.assertNotIn("at once (median)", text)
        self.assertNotIn("one of 0 at once", text)
        self.assertNotIn("floors started at once", text)

    def test_stacks_not_measured_have_no_tables(self):
        text = "\n".join(rendered(results()))
        self.assertNotIn("### wide /", text)
        self.assertNotIn("Wide stack", text)
        self.assertNotIn("--shards", text.split("- command:")[1].split("\n")[0].replace("no shards runs (--shards 0)", ""))

    def test_findings_are_listed_or_their_absence_said(self):
        self.assertEqual(rendered(results())[-1], "Every contender returned the expected exit code in every run.")
        lines = rendered(results(findings=["seed-002 on chain (v2), round 1: exit code 1, expected 0"]))
        self.assertEqual(lines[-1], "- seed-002 on chain (v2), round 1: exit code 1, expected 0")


if __name__ == "__main__":
    unittest.main()
