"""Unit tests of scripts/bench_stats.py:

    python3 -m unittest discover -s scripts -p 'test_*.py'
"""

import unittest

import bench_stats as st


class Summary(unittest.TestCase):
    def test_median_of_an_odd_count_is_the_middle_value(self):
        self.assertEqual(st.summary([3.0, 1.0, 2.0])["median"], 2.0)

    def test_median_of_an_even_count_is_the_mean_of_the_middle_two(self):
        self.assertEqual(st.summary([4.0, 1.0, 3.0, 2.0])["median"], 2.5)

    def test_summary_has_hyperfines_fields(self):
        s = st.summary([2.0, 4.0, 9.0])
        self.assertEqual(s["mean"], 5.0)
        self.assertEqual(s["median"], 4.0)
        self.assertEqual((s["min"], s["max"]), (2.0, 9.0))
        self.assertEqual(s["times"], [2.0, 4.0, 9.0])
        # The sample standard deviation (n - 1), as hyperfine's.
        self.assertAlmostEqual(s["stddev"], 13.0**0.5)

    def test_one_value_has_no_stddev(self):
        s = st.summary([1.5])
        self.assertIsNone(s["stddev"])
        self.assertEqual((s["mean"], s["median"], s["min"], s["max"]), (1.5, 1.5, 1.5, 1.5))

    def test_no_values_summarise_to_nothing(self):
        s = st.summary([])
        self.assertEqual(s["times"], [])
        self.assertTrue(all(s[k] is None for k in ("mean", "stddev", "median", "min", "max")))

    def test_ratio_and_difference_need_both_values(self):
        self.assertEqual(st.ratio(3.0, 2.0), 1.5)
        self.assertIsNone(st.ratio(None, 2.0))
        self.assertIsNone(st.ratio(3.0, None))
        self.assertIsNone(st.ratio(3.0, 0))
        self.assertAlmostEqual(st.difference(3.2, 2.9), 0.3)
        self.assertIsNone(st.difference(3.2, None))

    def test_exit_codes_are_counted_lowest_first(self):
        self.assertEqual(st.code_summary([0, 0, 0]), "0×3")
        self.assertEqual(st.code_summary([3, 0, 3, 3, 3]), "0×1, 3×4")
        self.assertEqual(st.code_summary([]), "")


class Floors(unittest.TestCase):
    def test_chain_wall_floor_adds_three_compose_starts_under_v1(self):
        self.assertAlmostEqual(st.chain_wall_floor(2.544, None), 2.544)
        self.assertAlmostEqual(st.chain_wall_floor(2.446, 0.44), 2.446 + 3 * 0.44)
        self.assertIsNone(st.chain_wall_floor(None, 0.44))

    def test_wide_floor_adds_one_compose_start_under_v1(self):
        self.assertAlmostEqual(st.wide_floor(2.873, 0.378), 3.251)
        self.assertAlmostEqual(st.wide_floor(2.881, None), 2.881)
        self.assertIsNone(st.wide_floor(None, None))

    def test_v1_machine_cpu_floor_adds_three_compose_starts_to_the_chain_floors(self):
        # (1.5 + 3 × 0.5) / 1.5: twice the chain floor's.
        self.assertAlmostEqual(st.chain_cpu_floor_ratio(1.5, 0.5), 2.0)
        self.assertAlmostEqual(st.chain_cpu_floor_ratio(2.0, 0.4), 1.6)
        # Under v2, no compose start of its own: no floor of that ratio.
        self.assertIsNone(st.chain_cpu_floor_ratio(1.5, None))
        self.assertIsNone(st.chain_cpu_floor_ratio(None, 0.5))

    def test_batch_cpu_floor_is_the_floors_own_batch_ratio(self):
        # 8 floors at once took 16 s of CPU, 2 s each, against 1.6 s alone.
        self.assertAlmostEqual(st.batch_cpu_floor_ratio(16.0, 8, 1.6, None), 1.25)
        # Under v1 each floor also starts compose three times, in the batch too.
        self.assertAlmostEqual(st.batch_cpu_floor_ratio(32.0, 8, 1.6, 0.8), 1.0)
        self.assertIsNone(st.batch_cpu_floor_ratio(None, 8, 1.6, None))
        self.assertIsNone(st.batch_cpu_floor_ratio(16.0, 8, None, None))

    def test_parallel_bound_spreads_the_floor_cpu_of_every_run_over_the_cpus(self):
        self.assertAlmostEqual(st.parallel_bound(1.55, 8, 2), 6.2)
        self.assertIsNone(st.parallel_bound(None, 8, 2))


class Verdict(unittest.TestCase):
    def test_at_or_below_the_limit_is_met(self):
        self.assertEqual(st.verdict(0.46, 0.50), "met")
        self.assertEqual(st.verdict(0.50, 0.50), "met")

    def test_above_the_limit_is_missed(self):
        self.assertEqual(st.verdict(0.77, 0.70, floor=0.66), "missed")

    def test_a_miss_whose_floor_is_above_the_limit_is_out_of_reach(self):
        self.assertEqual(st.verdict(0.9, 0.70, floor=0.8), "missed: the engine alone needs more")

    def test_without_a_value_or_a_limit_there_is_no_data(self):
        self.assertEqual(st.verdict(None, 0.5), "no data")
        self.assertEqual(st.verdict(3.2, None), "no data")


class WhatRunsPrint(unittest.TestCase):
    PROC_STAT = "cpu  100 5 30 9000 40 6 7 8 0 0\ncpu0 50 2 15 4500 20 3 3 4 0 0\nintr 1\n"

    def test_busy_ticks_are_user_nice_system_irq_softirq_and_steal_of_all_cpus(self):
        # Not idle (9000) nor iowait (40).
        self.assertEqual(st.busy_ticks(self.PROC_STAT), 100 + 5 + 30 + 6 + 7 + 8)

    def test_busy_ticks_need_the_cpu_line(self):
        with self.assertRaises(ValueError):
            st.busy_ticks("cpu0 1 2 3 4 5 6 7 8\n")

    def test_compose_calls_are_counted_among_all_calls(self):
        log = "\n".join(
            [
                "docker compose",  # docker compose ...
                "docker ps",
                "docker-compose up",  # v1
                "docker-compose-plugin run",  # the plugin on its own
                "docker composer",  # no such thing, but not compose
                "",
            ]
        )
        self.assertEqual(st.count_calls(log), (5, 3))

    def test_no_calls(self):
        self.assertEqual(st.count_calls(""), (0, 0))

    TESTBED = "\n".join(
        [
            "2026-12-04T20:01:03.123Z testbed: project tb-1234-ab12",
            "2026-12-04T20:01:04.5+01:00 testbed: ready in 3.2s",
            "testbed: 15 docker calls kept the run busy for 2.9s; the rest, 12 ms, was testbed's own",
            "testbed: 16 docker calls kept the run busy for 3.0s; the rest, 9 ms, was testbed's own",
        ]
    )

    def test_testbed_lines_lose_their_timestamps(self):
        self.assertEqual(st.testbed_project(self.TESTBED), "tb-1234-ab12")
        self.assertEqual(st.ready_in(self.TESTBED), 3.2)

    def test_the_last_own_time_line_counts(self):
        self.assertEqual(st.own_time(self.TESTBED), (16, 9))

    def test_output_without_the_lines_gives_nothing(self):
        self.assertIsNone(st.testbed_project("testbed: ready in 1s"))
        self.assertIsNone(st.ready_in("ready in 3s"))
        self.assertIsNone(st.own_time("testbed: 15 docker calls kept the run busy"))

    def test_shard_projects_are_named_once_each(self):
        out = "\n".join(
            [
                "[s2] testbed: project tb-9-s2",
                "[s1] testbed: project tb-9-s1",
                "[s1] testbed: ready in 1.0s",
                "[s3] 2026-12-04T20:01:03Z testbed: project tb-9-s3",
                "[s2] testbed: project tb-9-s2",
            ]
        )
        # The timestamp after the shard's tag is not stripped: that line does
        # not count, as in the old driver.
        self.assertEqual(st.shard_projects(out), ["tb-9-s1", "tb-9-s2"])

    def test_shards_are_complete_with_every_index_of_one_base(self):
        self.assertTrue(st.shards_complete(["tb-9-s1", "tb-9-s2", "tb-9-s3"], 3))
        self.assertFalse(st.shards_complete(["tb-9-s1", "tb-9-s2"], 3))
        self.assertFalse(st.shards_complete(["tb-9-s1", "tb-8-s2", "tb-9-s3"], 3))
        self.assertFalse(st.shards_complete(["tb-9-s2", "tb-9-s3", "tb-9-s4"], 3))

    def test_key_values_read_the_marks_of_floors_and_probes(self):
        out = "start=1733600000.250000\nnoise\nlast_start=1733600001.75\nError: x=y\n"
        self.assertEqual(st.key_values(out), {"start": 1733600000.25, "last_start": 1733600001.75})


class WideFixture(unittest.TestCase):
    SERVICE = "\n".join(
        [
            "  s{i}:",
            "    image: testbed-busybox:latest",
            '    command: ["/bin/sh", "-c", "sleep 1; exec sleep 3600"]',
            "    healthcheck:",
            '      test: ["CMD", "/bin/sh", "-c", "test -f /tmp/ready"]',
            "      interval: 1s",
            "      timeout: 1s",
            "      retries: 30",
        ]
    )
    TESTS = "  tests:\n    image: testbed-busybox:latest\n"

    def problems(self, text):
        return st.wide_fixture_problems(text, 2, "testbed-busybox:latest", "sleep 1; exec sleep 3600", "test -f /tmp/ready")

    def test_services_like_the_probe_have_no_problem(self):
        text = "services:\n" + self.SERVICE.format(i=1) + "\n" + self.SERVICE.format(i=2) + "\n" + self.TESTS
        self.assertEqual(self.problems(text), [])

    def test_a_service_with_another_interval_or_image_is_named(self):
        other = self.SERVICE.format(i=2).replace("interval: 1s", "interval: 2s").replace("busybox:latest", "alpine")
        text = "services:\n" + self.SERVICE.format(i=1) + "\n" + other + "\n" + self.TESTS
        self.assertEqual(
            self.problems(text),
            ["not all of its 2 dependencies have `interval: 1s`", "not every service uses testbed-busybox:latest"],
        )


if __name__ == "__main__":
    unittest.main()
