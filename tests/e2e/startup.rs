//! testbed's own startup: depends_on conditions kept, healthchecks run by
//! testbed rather than at the daemon's interval, one-shot jobs, and the
//! default teardown that kills instead of stopping.

use std::time::Duration;

use crate::common::engine::{assert_clean, docker};
use crate::common::{Flavor, RUN_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};

fn conditions_are_kept_and_healthchecks_do_not_wait_for_the_interval(flavor: Flavor) {
    // The daemon would first check db and api after 30 s each.
    let out = Testbed::fixture("depends")
        .flavor(flavor)
        .project("depends")
        .args(["-v", "--wait-timeout", "20s"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "api-ok\ndb-ok\n", "{out}");
    let order: Vec<&str> = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("testbed: ")?.split_once(" ready after "))
        .map(|(service, _)| service)
        .collect();
    assert_eq!(order.last(), Some(&"api"), "api must be ready last\n{out}");
    assert!(order.contains(&"db") && order.contains(&"migrate"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(conditions_are_kept_and_healthchecks_do_not_wait_for_the_interval);

fn a_failed_one_shot_dependency_stops_the_run_with_its_log(flavor: Flavor) {
    let out = Testbed::fixture("depends")
        .flavor(flavor)
        .project("depends-fail")
        .env("MIGRATE_EXIT", "2")
        .output();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.error_line()
            .contains("dependency `migrate` exited with code 2"),
        "{out}"
    );
    assert!(out.stderr.contains("migrated"), "its log is shown\n{out}");
    assert_clean(&out.project);
}
per_flavor!(a_failed_one_shot_dependency_stops_the_run_with_its_log);

fn a_dependent_that_never_gets_to_start_is_named_on_timeout(flavor: Flavor) {
    let out = Testbed::fixture("waits-for")
        .flavor(flavor)
        .project("waits-for")
        .args(["--wait-timeout", "10s"])
        .output();
    assert_eq!(out.code, Some(124), "{out}");
    let error = out.error_line();
    assert!(error.contains("not ready after 10s"), "{out}");
    // Under v1, compose may be the one that waits: when dep ran before it
    // created app, it waits for dep's health before it creates app.
    assert!(
        error.contains("app (not started: waiting for dep to be healthy)")
            || error.contains("app (not created: waiting for dep to be healthy)"),
        "{out}"
    );
    assert!(error.contains("dep (health: starting)"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(a_dependent_that_never_gets_to_start_is_named_on_timeout);

fn teardown_kills_services_that_ignore_sigterm_at_once(flavor: Flavor) {
    // Every long-running service of bench-chain ignores SIGTERM: a graceful
    // stop of its three levels would take 3 x 10 s.
    let out = Testbed::fixture("bench-chain")
        .flavor(flavor)
        .project("kill")
        .args(["-v"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    let torn: f64 = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("testbed: torn down in ")?.strip_suffix('s'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no teardown time\n{out}"));
    assert!(
        Duration::from_secs_f64(torn) < Duration::from_secs(10),
        "teardown took {torn}s\n{out}"
    );
    assert!(!out.stderr.contains(" down -v"), "no compose down\n{out}");
    assert_clean(&out.project);
}
per_flavor!(teardown_kills_services_that_ignore_sigterm_at_once);

fn a_stop_timeout_stops_gracefully_with_compose_down(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("graceful")
        .args(["-v", "--stop-timeout", "3s"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("+ ") && l.ends_with(" down -v --remove-orphans -t 3")),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(a_stop_timeout_stops_gracefully_with_compose_down);

/// Compose v1 takes about half a second from its first create to its
/// exit: db, which waits for nothing, is started meanwhile; api and
/// worker, which wait for it, only once compose is done.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn under_v1_what_waits_for_nothing_starts_while_compose_creates_the_rest() {
    crate::common::engine::require();
    let out = Testbed::fixture("bench-chain")
        .flavor(Flavor::V1)
        .project("early")
        .args(["-v"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    let listed = lines
        .iter()
        .position(|l| l.contains("+ docker ps -aq --no-trunc"))
        .unwrap_or_else(|| panic!("no listing of the created containers\n{out}"));
    let starts = |lines: &[&str]| {
        lines
            .iter()
            .filter(|l| l.contains("+ docker start "))
            .count()
    };
    assert_eq!(
        starts(&lines[..listed]),
        1,
        "db starts during the create\n{out}"
    );
    assert_eq!(
        starts(&lines[listed..]),
        2,
        "api and worker after it\n{out}"
    );
    assert_clean(&out.project);
}

fn a_dependency_without_healthcheck_that_crashes_at_once_fails_the_start(flavor: Flavor) {
    let out = Testbed::fixture("crash-no-healthcheck")
        .flavor(flavor)
        .project("crash-no-hc")
        .output();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.error_line()
            .contains("dependency `cache` exited with code 3 before the tests could start"),
        "{out}"
    );
    assert!(
        out.stderr.contains("FATAL: cannot bind"),
        "its log is shown\n{out}"
    );
    assert!(!out.stdout.contains("TESTS-RAN"), "the tests ran\n{out}");
    assert_clean(&out.project);
}
per_flavor!(a_dependency_without_healthcheck_that_crashes_at_once_fails_the_start);

fn a_dependency_killed_during_the_tests_is_named_and_the_tests_code_kept(flavor: Flavor) {
    let reports = tempfile::tempdir().unwrap();
    let (junit, report) = (reports.path().join("j.xml"), reports.path().join("r.json"));
    let run = Testbed::fixture("slow-test")
        .flavor(flavor)
        .project("killed-during")
        .args(["--junit", junit.to_str().unwrap()])
        .args(["--report", report.to_str().unwrap()])
        .command(["/bin/sh", "-c", "echo 'tests started'; sleep 5"])
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().expect("the run has a project").to_string();
    let dep = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        "label=com.docker.compose.service=dep",
    ]);
    docker(&["kill", dep.trim()]);
    let out = run.finish(RUN_TIMEOUT);
    assert_eq!(out.code, Some(0), "the tests' own code\n{out}");
    let named = |l: &str| l.contains("dep exited with code 137") && l.contains("into the tests");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("warning") && named(l)),
        "{out}"
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("died during the tests: ") && named(l)),
        "the summary\n{out}"
    );
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("dep stays up"), "{junit}");
    let report = crate::output::check_schema(&report);
    let died = &report["died_during_tests"][0];
    assert_eq!(died["service"], "dep", "{report}");
    assert_eq!(died["exit_code"], 137, "{report}");
    assert_eq!(report["tests_exit_code"], 0, "{report}");
    assert_clean(&out.project);
}
per_flavor!(a_dependency_killed_during_the_tests_is_named_and_the_tests_code_kept);

fn a_dependency_waited_on_as_healthy_that_exits_0_fails_the_start(flavor: Flavor) {
    let out = Testbed::fixture("exits-zero")
        .flavor(flavor)
        .project("exits-zero")
        .output();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.error_line().contains(
            "dependency `db` exited with code 0 (api waits for it to be healthy) before the tests could start"
        ),
        "{out}"
    );
    assert!(
        out.stderr.contains("usage: db --data-dir DIR"),
        "its log\n{out}"
    );
    assert!(!out.stdout.contains("TESTS-RAN"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(a_dependency_waited_on_as_healthy_that_exits_0_fails_the_start);
