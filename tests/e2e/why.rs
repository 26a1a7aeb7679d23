//! A failed start says why, on the real engine: each dependency given up
//! on with its state, what its healthcheck said, an OOM kill, the end of
//! its log and the fix that fits, on screen, in JUnit and in the report.

use serde_json::Value;

use crate::common::engine::assert_clean;
use crate::common::{Flavor, Testbed, per_flavor};
use crate::output::check_schema;

/// The fixture `name` run with `--junit` and `--report` in a fresh
/// directory: the output, the JUnit XML and the report.
fn reported(name: &str, flavor: Flavor, args: &[&str]) -> (crate::common::Output, String, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let (junit, report) = (tmp.path().join("junit.xml"), tmp.path().join("run.json"));
    let out = Testbed::fixture(name)
        .flavor(flavor)
        .project(name)
        .args(args.iter().copied())
        .args([
            "--junit",
            junit.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ])
        .output();
    let xml = std::fs::read_to_string(&junit).unwrap();
    let json = check_schema(&report);
    (out, xml, json)
}

fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {report:#}"))
}

fn a_timeout_shows_the_healthchecks_output_and_the_log(flavor: Flavor) {
    let (out, xml, json) = reported("why-not-ready", flavor, &["--wait-timeout", "10s"]);
    assert_eq!(out.code, Some(124), "{out}");
    // What the check said, and the service's own log, on screen.
    assert!(out.stderr.contains("──── db ────"), "{out}");
    assert!(
        out.stderr
            .contains("exit 1, run by testbed: HEALTH-MARKER-9c2: connection refused"),
        "{out}"
    );
    assert!(
        out.stderr.contains("db: LOG-MARKER-5e1 listening soon"),
        "{out}"
    );
    // The timeline: db started and never got ready, which held back the
    // tests; api, waiting for it, never started.
    let row = |start: &str| {
        out.stderr
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no row starting {start:?}\n{out}"))
    };
    let (db, api) = (row("* db "), row("  api "));
    assert!(db.ends_with("█ not ready: starting"), "{out}");
    assert!(api.ends_with("░ not ready: not started"), "{out}");
    assert!(!api.contains('█'), "{out}");
    assert!(xml.contains("HEALTH-MARKER-9c2"), "{xml}");
    assert!(xml.contains("LOG-MARKER-5e1"), "{xml}");
    let db = service(&json, "db");
    assert_eq!(db["not_ready"], "starting");
    let last = db["health"].as_array().unwrap().last().unwrap();
    assert_eq!(last["by"], "testbed");
    assert_eq!(last["exit_code"], 1);
    assert!(
        last["output"]
            .as_str()
            .unwrap()
            .contains("HEALTH-MARKER-9c2")
    );
    assert!(db["timeline"]["created_s"].as_f64().unwrap() >= 0.0, "{db}");
    assert!(db["timeline"]["started_s"].as_f64().is_some(), "{db}");
    assert_eq!(db["timeline"]["ready_s"], Value::Null);
    assert_clean(&out.project);
}
per_flavor!(a_timeout_shows_the_healthchecks_output_and_the_log);

fn a_dependency_killed_for_memory_says_so(flavor: Flavor) {
    let (out, xml, json) = reported("oom-dependency", flavor, &[]);
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.stderr
            .contains("exited with code 137, killed: out of memory (limit 20 MiB)"),
        "{out}"
    );
    assert!(out.error_line().contains("killed: out of memory"), "{out}");
    assert!(out.stderr.contains("raise its mem_limit"), "{out}");
    assert!(
        xml.contains("killed: out of memory (limit 20 MiB)"),
        "{xml}"
    );
    let cache = service(&json, "cache");
    assert_eq!(cache["oom_killed"], true);
    assert_eq!(cache["exit_code"], 137);
    assert_eq!(cache["memory_limit_bytes"], 20 * 1024 * 1024);
    assert_clean(&out.project);
}
per_flavor!(a_dependency_killed_for_memory_says_so);

fn tests_killed_for_memory_keep_137_and_say_so(flavor: Flavor) {
    let (out, xml, json) = reported("oom-tests", flavor, &[]);
    assert_eq!(out.code, Some(137), "{out}");
    assert_eq!(out.stdout, "api-ok\n", "{out}");
    assert!(
        out.stderr
            .contains("exit 137, killed: out of memory (limit 20 MiB)"),
        "the summary names the OOM kill\n{out}"
    );
    assert!(
        out.stderr
            .contains("tests failed (exit 137, killed: out of memory"),
        "{out}"
    );
    assert!(
        xml.contains("the tests exited with code 137, killed: out of memory (limit 20 MiB)"),
        "{xml}"
    );
    assert_eq!(json["tests_exit_code"], 137);
    assert_eq!(json["tests_oom_killed"], true);
    assert_clean(&out.project);
}
per_flavor!(tests_killed_for_memory_keep_137_and_say_so);

fn a_healthcheck_that_cannot_run_is_named(flavor: Flavor) {
    let out = Testbed::fixture("health-missing")
        .flavor(flavor)
        .project("health-missing")
        .args(["--wait-timeout", "10s"])
        .output();
    assert_eq!(out.code, Some(124), "{out}");
    assert!(
        out.stderr.contains(
            "hint: the healthcheck of `db` cannot run `pg_isready -U postgres`: is that program in its image?"
        ),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(a_healthcheck_that_cannot_run_is_named);
