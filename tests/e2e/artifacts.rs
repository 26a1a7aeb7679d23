//! Artifacts and logs on the host: bind-mounted, copied out, copied through a
//! daemon reached over TCP, after a failure and after an interruption.

use std::path::Path;

use crate::common::engine::{assert_clean, tcp_daemon};
use crate::common::{Flavor, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};

/// The JUnit file the fixture's tests write to reports/junit.xml.
pub const JUNIT: &str = "<testsuite name=\"api\" tests=\"1\"><testcase name=\"answers\" classname=\"api\"/></testsuite>\n";

/// A test command that leaves a file in the artifacts and fails with 3.
pub const PARTIAL_THEN_FAIL: &str = "echo partial > $ARTIFACTS_DIR/partial.txt; exit 3";

/// The fixture's tests write reports/junit.xml and result.txt, and its
/// dependency logs a line on stdout and one on stderr.
pub fn run(flavor: Flavor, scenario: &str, dir: &Path) -> Testbed {
    Testbed::fixture("artifacts")
        .flavor(flavor)
        .project(scenario)
        .args(["-v", "--artifacts", dir.to_str().unwrap()])
}

pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{file} in {}: {e}", dir.display()))
}

/// A log line as `docker logs --timestamps` writes it: `2026-…Z text`.
fn has_timestamped_line(log: &str, text: &str) -> bool {
    log.lines().any(|line| {
        line.split_once(' ').is_some_and(|(stamp, rest)| {
            stamp.ends_with('Z') && stamp.contains('T') && rest == text
        })
    })
}

pub fn assert_logs_saved(dir: &Path, out: &impl std::fmt::Display) {
    let dep = read(dir, "logs/dep.log");
    assert!(has_timestamped_line(&dep, "dep says hello"), "{dep}\n{out}");
    assert!(has_timestamped_line(&dep, "dep warns"), "{dep}\n{out}");
}

fn passing_run_brings_back_artifacts_and_logs(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("build/api_tests");
    let out = run(flavor, "art-pass", &dir).output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("artifacts: bind ("), "{out}");
    assert_eq!(read(&dir, "result.txt"), "done\n");
    assert_eq!(read(&dir, "reports/junit.xml"), JUNIT);
    assert_logs_saved(&dir, &out);
    let tests = read(&dir, "logs/tests.log");
    assert!(
        has_timestamped_line(&tests, "tests wrote their artifacts"),
        "{tests}"
    );
    assert!(
        out.stderr.contains(&format!(
            "artifacts: 2 files and 2 logs in {}/",
            dir.display()
        )),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(passing_run_brings_back_artifacts_and_logs);

fn failing_run_still_brings_back_artifacts_and_logs(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(flavor, "art-fail", tmp.path())
        .command(["sh", "-c", PARTIAL_THEN_FAIL])
        .output();
    assert_eq!(out.code, Some(3), "{out}");
    assert_eq!(read(tmp.path(), "partial.txt"), "partial\n");
    assert_logs_saved(tmp.path(), &out);
    assert_clean(&out.project);
}
per_flavor!(failing_run_still_brings_back_artifacts_and_logs);

fn copy_mode_merges_files_and_skips_links(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("earlier.txt"), "kept\n").unwrap();
    let script = "cd $ARTIFACTS_DIR && echo new > new.txt && mkdir -p sub && echo x > sub/x \
                  && ln -s /etc/passwd passwd && ln -s / logs";
    let out = run(flavor, "art-copy", tmp.path())
        .args(["--artifacts-mode", "copy"])
        .command(["sh", "-c", script])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr
            .contains("artifacts: copy (--artifacts-mode copy)"),
        "{out}"
    );
    assert_eq!(read(tmp.path(), "earlier.txt"), "kept\n");
    assert_eq!(read(tmp.path(), "new.txt"), "new\n");
    assert_eq!(read(tmp.path(), "sub/x"), "x\n");
    assert!(
        tmp.path().join("passwd").symlink_metadata().is_err(),
        "{out}"
    );
    assert!(tmp.path().join("logs").symlink_metadata().unwrap().is_dir());
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: not copied"))
        .unwrap_or_else(|| panic!("no warning about the links\n{out}"));
    assert!(warning.contains("passwd -> /etc/passwd"), "{out}");
    assert_logs_saved(tmp.path(), &out);
    assert_clean(&out.project);
}
per_flavor!(copy_mode_merges_files_and_skips_links);

fn a_daemon_over_tcp_gets_the_files_copied(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let host = tcp_daemon();
    let out = run(flavor, "art-tcp", tmp.path())
        .env("DOCKER_HOST", &host)
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "artifacts: copy (DOCKER_HOST={host} is not a local socket"
        )),
        "{out}"
    );
    assert_eq!(read(tmp.path(), "result.txt"), "done\n");
    assert_eq!(read(tmp.path(), "reports/junit.xml"), JUNIT);
    assert_logs_saved(tmp.path(), &out);
    assert_clean(&out.project);
}
per_flavor!(a_daemon_over_tcp_gets_the_files_copied);

fn sigterm_after_the_tests_wrote_files_still_collects(flavor: Flavor) {
    for mode in ["bind", "copy"] {
        let tmp = tempfile::tempdir().unwrap();
        let running = run(flavor, &format!("art-term-{mode}"), tmp.path())
            .args(["--artifacts-mode", mode])
            .command([
                "sh",
                "-c",
                "echo partial > $ARTIFACTS_DIR/partial.txt; echo tests started; sleep 300",
            ])
            .spawn();
        running.wait_for_stdout("tests started", START_TIMEOUT);
        running.signal(libc::SIGTERM);
        let out = running.finish(SIGNAL_TIMEOUT);
        assert_eq!(out.code, Some(143), "{mode}\n{out}");
        assert_eq!(
            read(tmp.path(), "partial.txt"),
            "partial\n",
            "{mode}\n{out}"
        );
        assert_logs_saved(tmp.path(), &out);
        let tests = read(tmp.path(), "logs/tests.log");
        assert!(has_timestamped_line(&tests, "tests started"), "{tests}");
        assert_clean(&out.project);
    }
}
per_flavor!(sigterm_after_the_tests_wrote_files_still_collects);

fn a_failed_dependency_still_leaves_its_log(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let out = Testbed::fixture("crash")
        .flavor(flavor)
        .project("art-crash")
        .args(["--artifacts", tmp.path().to_str().unwrap()])
        .output();
    assert_eq!(out.code, Some(125), "{out}");
    let log = read(tmp.path(), "logs/dep.log");
    assert!(
        has_timestamped_line(&log, "FATAL: cannot open database file"),
        "{log}\n{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(a_failed_dependency_still_leaves_its_log);

fn volumes_from_outside_a_container_is_a_usage_error(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(flavor, "art-vf", tmp.path())
        .args(["--artifacts-mode", "volumes-from"])
        .output();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.error_line().contains(
            "--artifacts-mode volumes-from cannot work here: testbed does not run in a container"
        ),
        "{out}"
    );
    assert!(
        out.stderr.contains("hint: leave --artifacts-mode at auto"),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(volumes_from_outside_a_container_is_a_usage_error);
