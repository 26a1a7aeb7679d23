//! `testbed doctor` on the real engine: a healthy machine, and a daemon that
//! is not there. A missing docker and what it says about GitLab need no
//! engine: tests/sequence/usage.rs; its whole output is a snapshot in
//! tests/sequence/snapshots.rs.

use crate::common::engine::require;
use crate::common::{Output, ROOT, Testbed};

/// `testbed doctor` in the repository, with `env` set.
fn doctor(env: &[(&str, &str)]) -> Output {
    // Colour would be on under GITLAB_CI; the lines are compared as text.
    let mut doctor = Testbed::new("doctor").env("NO_COLOR", "1");
    for (name, value) in env {
        doctor = doctor.env(name, value);
    }
    doctor.output()
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn doctor_on_a_working_machine_exits_0() {
    require();
    let out = doctor(&[]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout_line("✓ docker: ").contains("Docker version"));
    assert!(
        out.stdout_line("✓ daemon: Docker Engine ")
            .ends_with("reached through the local socket, unix:///var/run/docker.sock")
    );
    let compose = out.stdout_line("✓ compose: ");
    assert!(compose.contains("docker compose 2.") && compose.contains("will be used"));
    assert!(
        compose.contains("also found: docker-compose 1.29"),
        "{compose}"
    );
    assert_eq!(
        out.stdout_line("· container: "),
        "· container: not in a container"
    );
    assert_eq!(
        out.stdout_line("· artifacts: "),
        format!(
            "· artifacts: bind for {ROOT} (testbed runs on the daemon's machine, so the directory is bind-mounted)"
        )
    );
    assert!(out.stdout_line("· CI: ").contains("none detected"));
    assert!(out.stdout_line("· cgroup: v").len() > 10);
    assert!(!out.stdout.contains('✗'), "{out}");
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn doctor_names_an_unreachable_daemon_with_the_fix_and_exits_125() {
    require();
    let out = doctor(&[("DOCKER_HOST", "tcp://127.0.0.1:1")]);
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.stdout_line("✗ daemon: ").starts_with(
            "✗ daemon: no answer through DOCKER_HOST=tcp://127.0.0.1:1: Cannot connect"
        ),
        "{out}"
    );
    assert!(
        out.stdout_line("  hint: ").contains("DOCKER_TLS_CERTDIR"),
        "{out}"
    );
    // Nothing about containers can be known without the daemon.
    assert!(!out.stdout.contains("container:"), "{out}");
}
