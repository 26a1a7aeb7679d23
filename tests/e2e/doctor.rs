//! `testbed doctor` on the real engine: a healthy machine, a daemon that is
//! not there, a missing docker, and what it says about GitLab.

use std::process::{Command, Stdio};

use crate::support::{ROOT, engine_ready};

struct Doctor {
    code: Option<i32>,
    stdout: String,
}

fn doctor(env: &[(&str, &str)]) -> Doctor {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_testbed"));
    cmd.arg("doctor").current_dir(ROOT).stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("TESTBED_") || name.starts_with("CI_") || name == "GITLAB_CI" {
            cmd.env_remove(name);
        }
    }
    // Colour would be on under GITLAB_CI; the lines are compared as text.
    cmd.env("NO_COLOR", "1");
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("cannot start testbed");
    Doctor {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

impl Doctor {
    fn line(&self, start: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting with `{start}`:\n{}", self.stdout))
    }
}

#[test]
fn doctor_on_a_working_machine_exits_0() {
    if !engine_ready() {
        return;
    }
    let out = doctor(&[]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(out.line("✓ docker: ").contains("Docker version"));
    assert!(
        out.line("✓ daemon: engine ")
            .ends_with("reached through the local socket")
    );
    let compose = out.line("✓ compose: ");
    assert!(compose.contains("docker compose 2.") && compose.contains("will be used"));
    assert!(
        compose.contains("also found: docker-compose 1.29"),
        "{compose}"
    );
    assert_eq!(out.line("· container: "), "· container: not in a container");
    assert_eq!(
        out.line("· artifacts: "),
        format!(
            "· artifacts: bind for {ROOT} (testbed runs on the daemon's machine, so the directory is bind-mounted)"
        )
    );
    assert!(out.line("· GitLab CI: ").contains("not detected"));
    assert!(out.line("· cgroup: v").len() > 10);
    assert!(!out.stdout.contains('✗'), "{}", out.stdout);
}

#[test]
fn doctor_names_an_unreachable_daemon_with_the_fix_and_exits_125() {
    if !engine_ready() {
        return;
    }
    let out = doctor(&[("DOCKER_HOST", "tcp://127.0.0.1:1")]);
    assert_eq!(out.code, Some(125), "{}", out.stdout);
    assert!(
        out.line("✗ daemon: ").starts_with(
            "✗ daemon: no answer through DOCKER_HOST=tcp://127.0.0.1:1: Cannot connect"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.line("  hint: ").contains("DOCKER_TLS_CERTDIR"),
        "{}",
        out.stdout
    );
    // Nothing about containers can be known without the daemon.
    assert!(!out.stdout.contains("container:"), "{}", out.stdout);
}

#[test]
fn doctor_without_docker_exits_127() {
    if !engine_ready() {
        return;
    }
    let out = doctor(&[("PATH", "/nonexistent")]);
    assert_eq!(out.code, Some(127), "{}", out.stdout);
    assert_eq!(out.line("✗ docker: "), "✗ docker: not found on PATH");
    assert!(out.line("  hint: ").contains("apt-get install docker.io"));
}

#[test]
fn doctor_shows_the_gitlab_variables_and_a_tls_mismatch() {
    if !engine_ready() {
        return;
    }
    let out = doctor(&[
        ("GITLAB_CI", "true"),
        ("CI_JOB_ID", "4242"),
        ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
        ("DOCKER_TLS_CERTDIR", "/certs"),
    ]);
    assert_eq!(out.code, Some(125), "{}", out.stdout);
    assert_eq!(
        out.line("· GitLab CI: "),
        "· GitLab CI: detected: CI_JOB_ID=4242, DOCKER_HOST=tcp://127.0.0.1:2375, DOCKER_TLS_CERTDIR=/certs"
    );
    assert!(
        out.stdout.contains(
            "  hint: DOCKER_TLS_CERTDIR is set, so the dind service listens with TLS on 2376"
        ),
        "{}",
        out.stdout
    );
}
