//! `--shards N` on the real engine: N isolated stacks at once, each test
//! container told its place (CI_NODE_INDEX, CI_NODE_TOTAL), numbered across
//! GitLab's parallel jobs; one failing shard's code; every stack removed
//! after SIGTERM, and after SIGKILL by the reapers.

use std::time::Instant;

use crate::common::engine::{assert_clean, wait_until_reaped};
use crate::common::{Flavor, REAP_BOUND, RUN_TIMEOUT, Running, START_TIMEOUT, Testbed, per_flavor};
use crate::output::check_schema;

/// The projects of `shards` shards of `project`.
fn shard_projects(project: &str, shards: u32) -> Vec<String> {
    (1..=shards).map(|i| format!("{project}-s{i}")).collect()
}

fn three_shards_pass_each_told_its_place(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = tmp.path().join("out");
    let out = Testbed::fixture("shards")
        .flavor(flavor)
        .project("shards")
        .args([
            "-v",
            "--shards",
            "3",
            "--artifacts",
            artifacts.to_str().unwrap(),
        ])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    for shard in 1..=3 {
        // Each shard's timeline, in a block of its own.
        let header = format!("──── s{shard}: {}-s{shard} ────", out.project);
        let block = out.stderr.split(&header).nth(1);
        let block = block.unwrap_or_else(|| panic!("no {header}\n{out}"));
        assert!(
            block.lines().nth(1).is_some_and(|l| l.contains('█')),
            "{out}"
        );
    }
    // Every command echoed says whose it is, also those of the threads a
    // shard starts to do things at once (the daemon check, the listings of
    // its teardown).
    let unclaimed: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("+ ")).collect();
    assert!(unclaimed.is_empty(), "{unclaimed:#?}\n{out}");
    for i in 1..=3 {
        let place = std::fs::read_to_string(artifacts.join(format!("shard-{i}/node.txt")));
        assert_eq!(place.unwrap(), format!("{i}/3\n"), "{out}");
        assert!(artifacts.join(format!("shard-{i}/logs/api.log")).is_file());
        // Each shard's output in one piece, whole lines only.
        let block = format!("shard {i} of 3: 3 tests\nshard {i} of 3: passed\n");
        assert!(out.stdout.contains(&block), "{out}");
        assert!(
            out.stderr
                .contains(&format!("[s{i}] testbed: running tests")),
            "{out}"
        );
    }
    assert!(out.stderr.contains("──── shards ────"), "{out}");
    assert!(
        out.stderr.contains("testbed: 3 shards passed after"),
        "{out}"
    );
    for project in shard_projects(&out.project, 3) {
        assert!(out.stderr.contains(&project), "{out}");
        assert_clean(&project);
    }
}
per_flavor!(three_shards_pass_each_told_its_place);

fn a_failing_shard_gives_its_code_and_the_others_still_report(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = tmp.path().join("out");
    let report = tmp.path().join("run.json");
    let out = Testbed::fixture("shards")
        .flavor(flavor)
        .project("shards-fail")
        .env("FAIL_SHARD", "2")
        .args(["--shards", "3", "--artifacts", artifacts.to_str().unwrap()])
        .args(["--report", report.to_str().unwrap()])
        .output();
    assert_eq!(out.code, Some(7), "{out}");
    assert!(out.stdout.contains("shard 2: 1 failed"), "{out}");
    assert!(
        out.stderr.contains("1 of 3 shards failed (exit 7)"),
        "{out}"
    );
    for i in [1, 3] {
        assert!(
            artifacts.join(format!("shard-{i}/node.txt")).is_file(),
            "{out}"
        );
    }
    assert!(artifacts.join("shard-2/logs/tests.log").is_file(), "{out}");
    let json = check_schema(&report);
    let codes: Vec<i64> = json["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["exit_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [0, 7, 0], "{json}");
    assert_eq!(json["exit_code"], 7);
    for project in shard_projects(&out.project, 3) {
        assert_clean(&project);
    }
}
per_flavor!(a_failing_shard_gives_its_code_and_the_others_still_report);

fn gitlab_parallel_jobs_reach_the_tests_and_number_the_shards(flavor: Flavor) {
    let node = |run: Testbed| {
        run.flavor(flavor)
            .env("CI_NODE_INDEX", "2")
            .env("CI_NODE_TOTAL", "4")
    };
    let plain = node(Testbed::fixture("shards").project("node")).output();
    assert_eq!(plain.code, Some(0), "{plain}");
    assert!(plain.stdout.contains("shard 2 of 4: passed"), "{plain}");
    assert_clean(&plain.project);

    let sharded = node(Testbed::fixture("shards").project("node-shards"))
        .args(["--shards", "2"])
        .output();
    assert_eq!(sharded.code, Some(0), "{sharded}");
    assert!(sharded.stdout.contains("shard 3 of 8: passed"), "{sharded}");
    assert!(sharded.stdout.contains("shard 4 of 8: passed"), "{sharded}");
    for project in shard_projects(&sharded.project, 2) {
        assert_clean(&project);
    }
}
per_flavor!(gitlab_parallel_jobs_reach_the_tests_and_number_the_shards);

/// `shards` shards of long tests, once every shard runs them, and the
/// project they share.
fn running_shards(flavor: Flavor, scenario: &str, shards: u32) -> (Running, String) {
    let run = Testbed::fixture("shards")
        .flavor(flavor)
        .project(scenario)
        .env("TEST_SLEEP", "120")
        .args(["--shards", &shards.to_string()])
        .spawn();
    for i in 1..=shards {
        run.wait_for_stderr(&format!("[s{i}] testbed: running tests"), START_TIMEOUT);
    }
    let project = run.project().unwrap().to_string();
    (run, project)
}

fn sigterm_removes_every_shards_stack_and_exits_143(flavor: Flavor) {
    let (run, project) = running_shards(flavor, "shards-term", 3);
    run.signal(libc::SIGTERM);
    let out = run.finish(RUN_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    assert!(out.stderr.contains("interrupted by SIGTERM"), "{out}");
    for project in shard_projects(&project, 3) {
        assert_clean(&project);
    }
}
per_flavor!(sigterm_removes_every_shards_stack_and_exits_143);

fn sigkill_leaves_nothing_once_the_reapers_are_done(flavor: Flavor) {
    let (run, project) = running_shards(flavor, "shards-kill", 2);
    let killed = Instant::now();
    run.signal(libc::SIGKILL);
    let out = run.finish(RUN_TIMEOUT);
    assert_eq!(out.code, None, "testbed was not killed\n{out}");
    for project in shard_projects(&project, 2) {
        wait_until_reaped(&project, REAP_BOUND);
    }
    let took = killed.elapsed();
    assert!(took <= REAP_BOUND, "reaped after {took:?}\n{out}");
}
per_flavor!(sigkill_leaves_nothing_once_the_reapers_are_done);
