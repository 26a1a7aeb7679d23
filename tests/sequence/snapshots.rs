//! Snapshots (insta) of what testbed prints, against the fake docker, which
//! answers the same way every time: the summary at the end of a run,
//! `testbed doctor`, the plan of `--dry-run`, and the block about a
//! dependency that was not ready. The reporter's own unit tests
//! (src/report/reporter/tests.rs) snapshot what it says in each output mode
//! from synthetic events; these keep a few whole runs. What changes from run to
//! run (the project name, temporary paths, durations, timestamps, pids) is
//! redacted; the snapshots live in tests/sequence/snapshots/.
//!
//! A change to one of these outputs fails its test and leaves a
//! `.snap.new` beside the snapshot; review it, then accept it with
//! `INSTA_UPDATE=always cargo test --test sequence snapshots` (or
//! `cargo insta review`, where cargo-insta is installed).

use crate::common::Testbed;
use crate::support::{Fake, Recorded};

/// `text` with every regex metacharacter escaped.
fn escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// The redactions for what changes between two runs of the same case.
fn redactions(run: &Recorded) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    if !run.project.is_empty() {
        settings.add_filter(&escape(&run.project), "[PROJECT]");
    }
    // The fake engine's directory: /tmp/testbed-seq-XXXXXX/{bin,work}.
    settings.add_filter(r"/\S*/testbed-seq-[^/\s]+", "[TMP]");
    // Durations keep their width where they are right-aligned in a table
    // cell (two spaces, then seven characters), as `0.1s` does.
    settings.add_filter(r"  \d\d\.\ds\b", "   N.Ns");
    settings.add_filter(r"   \d\d\d\.\ds\b", "    N.Ns");
    settings.add_filter(r"\b\d+\.\ds\b", "N.Ns");
    settings.add_filter(
        r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
        "[TIMESTAMP]",
    );
    settings.add_filter(r"\bprocess \d+", "process [PID]");
    // GitLab's sections carry the Unix time.
    settings.add_filter(r"section_(start|end):\d+:", "section_$1:[UNIX]:");
    // v1 or v2, as this machine has it.
    settings.add_filter(r"(?m)^· cgroup: .*$", "· cgroup: [VERSION]");
    settings
}

/// From the summary's heading to the end of stderr.
fn summary(run: &Recorded) -> &str {
    let at = run
        .stderr
        .find("──── summary ────")
        .unwrap_or_else(|| panic!("no summary\n{}", run.describe()));
    &run.stderr[at..]
}

#[test]
fn the_summary_at_the_end_of_a_run() {
    let cases = [
        // The tests wait for db to be healthy: the hint says what compose
        // alone would have waited for.
        ("passed", vec![("FAKE_DEPENDS", "tests:db:service_healthy")]),
        ("tests_failed", vec![("FAKE_TEST_EXIT", "3")]),
        ("dependency_unhealthy", vec![("FAKE_HEALTH", "unhealthy")]),
        (
            "healthy_after_probes",
            vec![
                ("FAKE_SERVICES", "migrate db tests"),
                ("FAKE_EXIT", "migrate=0"),
                ("FAKE_HEALTH", "starting migrate=none"),
                ("FAKE_HEALTHY_AFTER", "2"),
            ],
        ),
    ];
    for (name, env) in cases {
        // Too narrow for the timeline, whose bars follow the fake's
        // timing: the table instead.
        let mut fake = Fake::new().env("COLUMNS", "40");
        for (key, value) in env {
            fake = fake.env(key, value);
        }
        let run = fake.run();
        redactions(&run).bind(|| {
            insta::assert_snapshot!(format!("summary_{name}"), summary(&run));
        });
    }
}

/// From the first block about a dependency given up on to the end of
/// stderr.
fn failure_block(run: &Recorded, service: &str) -> String {
    let markers = [
        format!(":testbed_not_ready_{service}"),
        format!("──── {service} ────"),
    ];
    let at = markers
        .iter()
        .filter_map(|marker| run.stderr.find(marker.as_str()))
        .min()
        .unwrap_or_else(|| panic!("no block about {service}\n{}", run.describe()));
    // Back to the start of its line, where GitLab's escape codes begin.
    let at = run.stderr[..at].rfind('\n').map_or(0, |n| n + 1);
    run.stderr[at..].replace('\x1b', "\\e")
}

/// End to end in GitLab's mode; the reporter's own tests show the block in
/// each mode.
#[test]
fn the_failure_block_in_gitlab() {
    let run = Fake::new()
        .env("FAKE_HEALTH", "unhealthy")
        .env("TESTBED_OUTPUT", "gitlab")
        .env("COLUMNS", "40")
        .run();
    redactions(&run).bind(|| {
        insta::assert_snapshot!("failure_block_gitlab", failure_block(&run, "db"));
    });
}

#[test]
fn the_plan_of_dry_run() {
    let profiles_and_build = [
        ("FAKE_SERVICES", "console db tests"),
        ("FAKE_PROFILES", "tests:test console:debug"),
        ("FAKE_BUILD", "tests"),
    ];
    /// A name, the flags, the fake's variables.
    type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
    let cases: [Case; 4] = [
        ("default", &[], &[]),
        ("stop_timeout", &["--stop-timeout", "3s"], &[]),
        (
            "artifacts_and_env",
            &[
                "--artifacts",
                "out",
                "-e",
                "LEVEL=debug",
                "--",
                "pytest",
                "-x",
            ],
            &[],
        ),
        ("profiles_and_a_built_image", &[], &profiles_and_build),
    ];
    for (name, args, env) in cases {
        let mut fake = Fake::new().args(&["--dry-run"]).args(args);
        for (key, value) in env {
            fake = fake.env(key, value);
        }
        let run = fake.run();
        run.assert_code(0);
        redactions(&run).bind(|| {
            insta::assert_snapshot!(format!("dry_run_{name}"), run.stdout);
        });
    }
}

#[test]
fn doctor_output() {
    let cases = [
        ("healthy", vec![]),
        (
            // Named, so that the hint does not depend on whether this
            // machine has a /var/run/docker.sock.
            "daemon_down",
            vec![
                ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
                ("FAKE_DAEMON_DOWN", "1"),
            ],
        ),
        ("no_compose_plugin", vec![("FAKE_NO_COMPOSE_PLUGIN", "1")]),
        (
            "gitlab_tls_mismatch",
            vec![
                ("GITLAB_CI", "true"),
                ("CI_JOB_ID", "4242"),
                ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
                ("DOCKER_TLS_CERTDIR", "/certs"),
                ("FAKE_DAEMON_DOWN", "1"),
            ],
        ),
    ];
    for (name, env) in cases {
        let mut fake = Fake::with(Testbed::new("doctor")).env("NO_COLOR", "1");
        for (key, value) in env {
            fake = fake.env(key, value);
        }
        let run = fake.run();
        let text = format!("exit code: {:?}\n{}", run.code, run.stdout);
        redactions(&run).bind(|| {
            insta::assert_snapshot!(format!("doctor_{name}"), text);
        });
    }
}
