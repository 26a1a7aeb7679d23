//! Real-engine end-to-end tests: `testbed run` against the fixtures on the
//! local Docker engine, under compose v1 and v2. Each test checks the exit
//! code, what was printed, and that the project left nothing behind.
//! They are `#[ignore]`d, so that `cargo test` shows them as such; run them
//! with `cargo test -- --include-ignored`, where a missing engine fails
//! them, saying how to start it (`bash scripts/setup-engine.sh`).

#[path = "../common/mod.rs"]
mod common;

mod artifacts;
mod ci;
mod doctor;
mod existing;
mod gc;
mod images;
mod job;
mod job_image;
mod labels;
mod output;
mod own_files;
mod podman;
mod profiles;
mod reaper;
mod remote;
mod session;
mod shards;
mod ssh;
mod startup;
mod timeline;
mod why;

use common::engine::{assert_clean, docker};
use common::{
    Flavor, RUN_TIMEOUT, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor, per_flavor_cases,
};

/// Under `CI=true` the real-engine tests must run: a CI that ran `cargo
/// test` without `--include-ignored` would be green having proved nothing.
/// (With it, a missing engine fails each of them.)
#[test]
fn under_ci_the_engine_tests_are_not_left_out() {
    if std::env::var("CI").as_deref() != Ok("true") {
        return;
    }
    let included = std::env::args().any(|a| a == "--include-ignored" || a == "--ignored");
    assert!(
        included,
        "CI=true, but the real-engine tests are ignored: run `cargo test -- --include-ignored`"
    );
}

/// Whether `line` holds `word` as a whole word, not inside another one
/// (`dep`, not `dependencies`).
fn names(line: &str, word: &str) -> bool {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .any(|w| w == word)
}

// ---- exit codes --------------------------------------------------------

fn passing_suite_exits_0(flavor: Flavor) {
    let out = Testbed::fixture("example")
        .flavor(flavor)
        .project("pass")
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("1 passed"), "{out}");
    assert!(out.stderr.contains("tests passed"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(passing_suite_exits_0);

fn failing_suite_exits_1_and_shows_dependency_logs(flavor: Flavor) {
    let out = Testbed::fixture("example")
        .flavor(flavor)
        .project("fail")
        .env("EXAMPLE_FAIL", "1")
        .output();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stdout.contains("1 failed"), "{out}");
    assert!(out.stderr.contains("──── db log ────"), "{out}");
    assert!(out.stderr.contains("──── api log ────"), "{out}");
    assert!(out.stderr.contains("tests failed (exit 1)"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(failing_suite_exits_1_and_shows_dependency_logs);

fn test_exit_codes_pass_through(flavor: Flavor) {
    for code in [1, 3, 42] {
        let out = Testbed::fixture("basic")
            .flavor(flavor)
            .project("code")
            .command(["sh", "-c", &format!("exit {code}")])
            .output();
        assert_eq!(out.code, Some(code), "{out}");
        assert!(
            out.stderr.contains(&format!("tests failed (exit {code})")),
            "{out}"
        );
        assert_clean(&out.project);
    }
}
per_flavor!(test_exit_codes_pass_through);

fn killed_test_container_exits_137(flavor: Flavor) {
    let run = Testbed::fixture("slow-test")
        .flavor(flavor)
        .project("kill")
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().unwrap().to_string();
    docker(&["kill", &format!("{project}-tests-run")]);
    let out = run.finish(RUN_TIMEOUT);
    assert_eq!(out.code, Some(137), "{out}");
    assert!(out.stderr.contains("tests failed (exit 137)"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(killed_test_container_exits_137);

fn test_command_that_cannot_be_invoked_exits_126(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("noexec")
        .command(["no-such-test-runner"])
        .output();
    assert_eq!(out.code, Some(126), "{out}");
    assert!(out.error_line().contains("could not be started"), "{out}");
    assert!(out.stderr.contains("no-such-test-runner"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(test_command_that_cannot_be_invoked_exits_126);

// ---- dependencies that do not become ready -----------------------------

fn never_healthy_dependency_times_out_with_124(flavor: Flavor) {
    let out = Testbed::fixture("never-healthy")
        .flavor(flavor)
        .project("never")
        .args(["--wait-timeout", "3s"])
        .output();
    assert_eq!(out.code, Some(124), "{out}");
    let error = out.error_line();
    assert!(error.contains("not ready") && names(error, "dep"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(never_healthy_dependency_times_out_with_124);

/// The deadline also covers `up` itself (creating, maybe pulling): a timeout
/// that strikes before `up` returns must still say which services it was.
fn readiness_timeout_during_up_names_the_dependencies(flavor: Flavor) {
    let out = Testbed::fixture("never-healthy")
        .flavor(flavor)
        .project("upslow")
        .args(["--wait-timeout", "1ms"])
        .output();
    assert_eq!(out.code, Some(124), "{out}");
    assert!(names(out.error_line(), "dep"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(readiness_timeout_during_up_names_the_dependencies);

fn unhealthy_dependency_fails_with_125(flavor: Flavor) {
    let out = Testbed::fixture("unhealthy")
        .flavor(flavor)
        .project("unhealthy")
        .output();
    assert_eq!(out.code, Some(125), "{out}");
    let error = out.error_line();
    assert!(
        error.contains("`dep`") && error.contains("unhealthy"),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(unhealthy_dependency_fails_with_125);

fn crashing_dependency_fails_with_125_and_shows_its_log(flavor: Flavor) {
    let out = Testbed::fixture("crash")
        .flavor(flavor)
        .project("crash")
        .output();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.stderr.contains("FATAL: cannot open database file"),
        "{out}"
    );
    assert!(out.error_line().contains("`dep`"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(crashing_dependency_fails_with_125_and_shows_its_log);

fn dependencies_without_healthcheck_are_ready_once_running(flavor: Flavor) {
    let out = Testbed::fixture("no-healthcheck")
        .flavor(flavor)
        .project("nohc")
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("starting dep1, dep2"), "{out}");
    assert_eq!(out.stdout, "tests ran\n", "{out}");
    assert_clean(&out.project);
}
per_flavor!(dependencies_without_healthcheck_are_ready_once_running);

// ---- signals -----------------------------------------------------------

/// testbed interrupted by `signal` while the tests run: it tears down,
/// says so by `name`, and exits with `code`, 128+n.
fn interrupted_mid_test(flavor: Flavor, signal: libc::c_int, code: i32, name: &str) {
    let run = Testbed::fixture("slow-test")
        .flavor(flavor)
        .project(&name.to_lowercase())
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    run.signal(signal);
    let out = run.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(code), "{out}");
    assert!(
        out.stderr.contains(&format!("interrupted by {name}")),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor_cases!(interrupted_mid_test {
    sigint_mid_test_exits_130_and_tears_down: (libc::SIGINT, 130, "SIGINT");
    sigterm_mid_test_exits_143_and_tears_down: (libc::SIGTERM, 143, "SIGTERM");
    sighup_mid_test_exits_129_and_tears_down: (libc::SIGHUP, 129, "SIGHUP");
});

// ---- project names -----------------------------------------------------

fn parallel_runs_get_distinct_generated_names(flavor: Flavor) {
    let runs: Vec<_> = (0..4)
        .map(|_| Testbed::fixture("example").flavor(flavor).spawn())
        .collect();
    let outs: Vec<_> = runs.into_iter().map(|r| r.finish(RUN_TIMEOUT)).collect();
    let mut names = Vec::new();
    for out in &outs {
        assert_eq!(out.code, Some(0), "{out}");
        assert!(
            out.project.starts_with("tb-"),
            "no generated name announced\n{out}"
        );
        assert!(
            out.project
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_')),
            "{out}"
        );
        names.push(out.project.clone());
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "generated names collide: {names:?}");
    for name in &names {
        assert_clean(name);
    }
}
per_flavor!(parallel_runs_get_distinct_generated_names);

// ---- bad input ---------------------------------------------------------
//
// What testbed checks before it runs compose (a missing or malformed file,
// `x-testbed`, flags, a missing docker) is tested against the fake docker,
// in tests/sequence/usage.rs.

fn unknown_service_is_a_usage_error_listing_the_services(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("nosvc")
        .args(["-s", "nope"])
        .output();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.error_line().contains("`nope`"), "{out}");
    let hint = out
        .stderr
        .lines()
        .find(|l| l.starts_with("hint:"))
        .unwrap_or_default();
    assert!(names(hint, "dep") && names(hint, "tests"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(unknown_service_is_a_usage_error_listing_the_services);

fn unreachable_daemon_exits_125_with_a_hint(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("nodaemon")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.error_line().contains("/nonexistent/docker.sock"),
        "{out}"
    );
    assert!(out.stderr.lines().any(|l| l.starts_with("hint:")), "{out}");
    // The diagnosis of `testbed doctor` follows, without repeating the hint.
    let diagnosis = out
        .stderr
        .split_once("──── testbed doctor ────\n")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no diagnosis\n{out}"));
    assert!(diagnosis.starts_with("✓ docker: "), "{out}");
    assert!(
        diagnosis
            .contains("✗ daemon: no answer through DOCKER_HOST=unix:///nonexistent/docker.sock"),
        "{out}"
    );
    assert!(!diagnosis.contains("hint:"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(unreachable_daemon_exits_125_with_a_hint);

// ---- options -----------------------------------------------------------

fn dry_run_prints_the_commands_and_starts_nothing(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("dry")
        .args(["--dry-run"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    let p = format!("{} -p {}", flavor.compose(), out.project);
    let has = |what: &str| {
        out.stdout
            .lines()
            .any(|l| l.contains(&p) && l.contains(what))
    };
    assert!(has(" up --no-start "), "no `up` command\n{out}");
    assert!(
        has(&format!(" run --name {}-tests-run ", out.project)),
        "no `run`\n{out}"
    );
    let label = format!("labelled com.docker.compose.project={}", out.project);
    assert!(
        out.stdout
            .lines()
            .last()
            .is_some_and(|l| l.contains(&label)),
        "no teardown\n{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(dry_run_prints_the_commands_and_starts_nothing);

fn dry_run_with_a_stop_timeout_prints_compose_down(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("dry-down")
        .args(["--dry-run", "--stop-timeout", "5s"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    let down = format!("{} -p {} ", flavor.compose(), out.project);
    assert!(
        out.stdout
            .lines()
            .last()
            .is_some_and(|l| l.contains(&down) && l.ends_with(" down -v --remove-orphans -t 5")),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(dry_run_with_a_stop_timeout_prints_compose_down);

fn keep_leaves_the_dependencies_and_prints_a_working_down_command(flavor: Flavor) {
    // Its own directory, where the kept stack is recorded.
    let dir = tempfile::tempdir().unwrap();
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("keep")
        .args(["--keep"])
        .dir(dir.path())
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    let running = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={}", out.project),
        "--filter",
        "label=com.docker.compose.service=dep",
        "--filter",
        "status=running",
    ]);
    assert!(
        !running.trim().is_empty(),
        "`dep` is not running after --keep\n{out}"
    );
    // `stack P is up; rerun the tests with …, remove it with `testbed down`
    // (or: <compose> … down …)`.
    let down = out
        .stderr
        .lines()
        .find_map(|l| l.split_once("(or: ")?.1.strip_suffix(')'))
        .filter(|l| l.contains(" down ") && l.contains(&out.project))
        .unwrap_or_else(|| panic!("no down command printed\n{out}"));
    let removed = std::process::Command::new("sh")
        .args(["-c", down])
        .current_dir(common::ROOT)
        .output()
        .unwrap();
    assert!(
        removed.status.success(),
        "`{down}` failed: {}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert_clean(&out.project);
}
per_flavor!(keep_leaves_the_dependencies_and_prints_a_working_down_command);

fn env_passes_a_secret_without_printing_it(flavor: Flavor) {
    let secret = "s3cr3t-value-123";
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("secret")
        .env("SECRET_TOKEN", secret)
        .args(["-v", "-e", "SECRET_TOKEN"])
        .command([
            "sh",
            "-c",
            &format!("test \"$SECRET_TOKEN\" = {secret} && echo got-secret"),
        ])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("got-secret"), "{out}");
    assert!(
        !out.stdout.contains(secret) && !out.stderr.contains(secret),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(env_passes_a_secret_without_printing_it);

fn test_container_knows_its_project_name(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("projvar")
        .command(["sh", "-c", "echo \"project=$TESTBED_PROJECT\""])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, format!("project={}\n", out.project), "{out}");
    assert_clean(&out.project);
}
per_flavor!(test_container_knows_its_project_name);

fn logs_never_hides_dependency_logs_on_failure(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("lognever")
        .args(["--logs", "never"])
        .command(["sh", "-c", "exit 1"])
        .output();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(!out.stderr.contains("──── dep"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(logs_never_hides_dependency_logs_on_failure);

fn logs_always_shows_dependency_logs_on_success(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("logalways")
        .args(["--logs", "always"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("──── dep log ────"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(logs_always_shows_dependency_logs_on_success);

// ---- output ------------------------------------------------------------

fn stdout_holds_only_the_tests_output(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("stdout")
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "tests ran\n", "{out}");
    let first = out.stderr.lines().next().unwrap_or_default();
    assert_eq!(first, format!("testbed: project {}", out.project), "{out}");
    assert_clean(&out.project);
}
per_flavor!(stdout_holds_only_the_tests_output);

fn verbose_echoes_the_docker_commands(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("verbose")
        .args(["-v"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("+ docker") && l.contains(" up --no-start")),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(verbose_echoes_the_docker_commands);
