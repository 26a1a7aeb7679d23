//! What testbed refuses before it starts anything: bad flags, bad compose
//! files, unknown services, no docker. None of it needs the real engine
//! (the e2e tests these came from ran them there, under both compose
//! flavors, though testbed reads the files itself before compose runs);
//! each case is checked against the fake docker, under both `--compose`
//! values where compose is named, and must leave nothing on it.

use crate::common::{Flavor, ROOT, Testbed};
use crate::support::{Fake, Recorded};

/// Asserts what every refused run has in common: `code`, the one `error:`
/// line holding each of `error`, stderr holding each of `stderr`, and
/// nothing created.
fn assert_refused(run: &Recorded, case: &str, code: i32, error: &[&str], stderr: &[&str]) {
    assert_eq!(run.code, Some(code), "{case}\n{}", run.describe());
    let line = run.error_line();
    for needle in error {
        assert!(
            line.contains(needle),
            "{case}: the error lacks {needle:?}\n{}",
            run.describe()
        );
    }
    for needle in stderr {
        assert!(
            run.stderr.contains(needle),
            "{case}: stderr lacks {needle:?}\n{}",
            run.describe()
        );
    }
    run.assert_no_compose("up").assert_nothing_left();
}

/// Was the e2e tests `malformed_compose_file_exits_125`,
/// `compose_file_without_services_exits_125`, `unknown_x_testbed_key_is_named`
/// and `wrong_x_testbed_type_is_named` (each under both flavors).
#[test]
fn a_bad_compose_file_is_an_engine_failure_naming_the_problem() {
    let cases = [
        ("malformed.yml", "malformed.yml"),
        ("no-services.yml", "no services"),
        ("x-testbed-unknown-key.yml", "servce"),
        ("x-testbed-bad-type.yml", "wait-timeout"),
    ];
    for (file, needle) in cases {
        for flavor in [Flavor::V1, Flavor::V2] {
            let path = format!("{ROOT}/fixtures/bad/{file}");
            let run = Fake::new()
                .args(&["-f", &path, "--compose", flavor.compose()])
                .run();
            let case = format!("{file} under {}", flavor.compose());
            assert_refused(&run, &case, 125, &[needle], &[]);
        }
    }
}

/// Was the e2e tests `missing_compose_file_is_a_usage_error` and
/// `bad_flag_value_is_a_usage_error`, and the sequence tests
/// `an_unknown_test_service_is_a_usage_error` and
/// `an_unknown_service_in_services_is_a_usage_error_listing_them`.
#[test]
fn usage_errors_exit_2_before_anything_is_created() {
    struct Case {
        args: &'static [&'static str],
        services: &'static str,
        error: &'static [&'static str],
        stderr: &'static [&'static str],
    }
    let cases = [
        Case {
            args: &["-f", "nope.yml"],
            services: "db tests",
            error: &["nope.yml"],
            stderr: &[],
        },
        Case {
            args: &["--wait-timeout", "abc"],
            services: "db tests",
            error: &["--wait-timeout", "abc"],
            stderr: &[],
        },
        Case {
            args: &["--service", "nope"],
            services: "db tests",
            error: &[],
            stderr: &["`nope`", "db, tests"],
        },
        Case {
            args: &["--services", "nope"],
            services: "db cache tests",
            error: &[],
            stderr: &["`nope`", "cache, db, tests"],
        },
    ];
    for case in cases {
        let run = Fake::new()
            .args(case.args)
            .env("FAKE_SERVICES", case.services)
            .run();
        let name = case.args.join(" ");
        assert_refused(&run, &name, 2, case.error, case.stderr);
    }
}

/// Was the e2e test `missing_docker_exits_127`.
#[test]
fn missing_docker_exits_127() {
    let empty = tempfile::tempdir().unwrap();
    let run = Fake::new()
        .env("PATH", empty.path().to_str().unwrap())
        .run();
    assert_refused(&run, "no docker", 127, &["docker"], &[]);
}

/// `testbed doctor` against the fake docker, with `env` set.
fn doctor(env: &[(&str, &str)]) -> Recorded {
    // Colour would be on under GITLAB_CI; the lines are compared as text.
    let mut fake = Fake::with(Testbed::new("doctor")).env("NO_COLOR", "1");
    for (name, value) in env {
        fake = fake.env(name, value);
    }
    fake.run()
}

/// Was the e2e test of the same name.
#[test]
fn doctor_without_docker_exits_127() {
    let out = doctor(&[("PATH", "/nonexistent")]);
    assert_eq!(out.code, Some(127), "{}", out.describe());
    assert_eq!(out.stdout_line("✗ docker: "), "✗ docker: not found on PATH");
    assert!(
        out.stdout_line("  hint: ")
            .contains("apt-get install docker.io")
    );
}

/// Was the e2e test of the same name, there with a real docker that found
/// no daemon at DOCKER_HOST; here the fake says so.
#[test]
fn doctor_shows_the_gitlab_variables_and_a_tls_mismatch() {
    let out = doctor(&[
        ("GITLAB_CI", "true"),
        ("CI_JOB_ID", "4242"),
        ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
        ("DOCKER_TLS_CERTDIR", "/certs"),
        ("FAKE_DAEMON_DOWN", "1"),
    ]);
    assert_eq!(out.code, Some(125), "{}", out.describe());
    assert_eq!(
        out.stdout_line("· CI: "),
        "· CI: GitLab CI: job 4242, DOCKER_HOST=tcp://127.0.0.1:2375, DOCKER_TLS_CERTDIR=/certs"
    );
    assert!(
        out.stdout.contains(
            "  hint: DOCKER_TLS_CERTDIR is set, so the dind service listens with TLS on 2376"
        ),
        "{}",
        out.describe()
    );
}
