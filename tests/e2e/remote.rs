//! Daemons that cannot see testbed's files, reached the ways users reach
//! them: a Docker context that points at the engine over TCP (created by
//! the test in a DOCKER_CONFIG of its own), chosen with `docker context
//! use` or `DOCKER_CONTEXT`.

use std::path::{Path, PathBuf};

use crate::common::engine::{assert_clean, docker_with, tcp_daemon};
use crate::common::{Flavor, Testbed, per_flavor};

/// A DOCKER_CONFIG of the test's own, so that the user's contexts and
/// `currentContext` stay as they are. It sees the user's CLI plugins, the
/// compose v2 plugin among them.
pub struct DockerConfig {
    dir: tempfile::TempDir,
}

impl DockerConfig {
    pub fn new() -> DockerConfig {
        let dir = tempfile::tempdir().unwrap();
        let user = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".docker"));
        let plugins = user.join("cli-plugins");
        if plugins.exists() {
            std::os::unix::fs::symlink(&plugins, dir.path().join("cli-plugins")).unwrap();
        }
        // docker-py (compose v1) looks for contexts beside a config.json,
        // and finds none without one.
        std::fs::write(dir.path().join("config.json"), "{}\n").unwrap();
        DockerConfig { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `docker <args>` with this config, which must succeed.
    pub fn docker(&self, args: &[&str]) -> String {
        docker_with(args, &[("DOCKER_CONFIG", self.path().to_str().unwrap())])
    }

    /// A context named `name` whose daemon is at `host`.
    pub fn context(&self, name: &str, host: &str) {
        self.docker(&[
            "context",
            "create",
            name,
            "--docker",
            &format!("host={host}"),
        ]);
    }

    /// `testbed` with this config in its environment.
    pub fn testbed(&self, testbed: Testbed) -> Testbed {
        testbed.env("DOCKER_CONFIG", self.path().to_str().unwrap())
    }
}

/// How a test picks the context.
#[derive(Debug, Clone, Copy)]
enum Chosen {
    /// `docker context use`, which writes `currentContext` into the config.
    Used,
    /// `DOCKER_CONTEXT`, with the config's own at `default`.
    Variable,
}

fn a_context_over_tcp_is_remote_and_artifacts_are_copied(flavor: Flavor) {
    let config = DockerConfig::new();
    let host = tcp_daemon();
    config.context("tb-tcp", &host);
    for chosen in [Chosen::Used, Chosen::Variable] {
        let tmp = tempfile::tempdir().unwrap();
        let mut testbed = config.testbed(
            Testbed::fixture("artifacts")
                .flavor(flavor)
                .project(&format!("ctx-{chosen:?}").to_lowercase())
                .args(["-v", "--artifacts", tmp.path().to_str().unwrap()]),
        );
        match chosen {
            Chosen::Used => {
                config.docker(&["context", "use", "tb-tcp"]);
            }
            Chosen::Variable => {
                config.docker(&["context", "use", "default"]);
                testbed = testbed.env("DOCKER_CONTEXT", "tb-tcp");
            }
        }
        let out = testbed.output();
        assert_eq!(out.code, Some(0), "{chosen:?}\n{out}");
        let reason =
            format!("artifacts: copy (docker context `tb-tcp` ({host}) is not a local socket");
        assert!(out.stderr.contains(&reason), "{chosen:?}\n{out}");
        let result = std::fs::read_to_string(tmp.path().join("result.txt"));
        assert_eq!(result.ok().as_deref(), Some("done\n"), "{chosen:?}\n{out}");
        assert!(tmp.path().join("logs/dep.log").is_file(), "{out}");
        // Compose v1 reads `currentContext`, but not DOCKER_CONTEXT: it is
        // told the context.
        if flavor == Flavor::V1 {
            let told = format!("+ docker-compose --context tb-tcp -p {} ", out.project);
            assert!(out.stderr.contains(&told), "{chosen:?}\n{out}");
        }
        assert_clean(&out.project);
    }
}
per_flavor!(a_context_over_tcp_is_remote_and_artifacts_are_copied);

/// `doctor` names the context and where it points; DOCKER_HOST wins over
/// it, as in the docker CLI.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn doctor_names_the_context_and_docker_host_wins_over_it() {
    crate::common::engine::require();
    let config = DockerConfig::new();
    let host = tcp_daemon();
    config.context("tb-tcp", &host);
    let doctor = |docker_host: Option<&str>| {
        let mut doctor = config
            .testbed(Testbed::new("doctor"))
            .env("NO_COLOR", "1")
            .env("DOCKER_CONTEXT", "tb-tcp");
        if let Some(docker_host) = docker_host {
            doctor = doctor.env("DOCKER_HOST", docker_host);
        }
        doctor.output()
    };
    let out = doctor(None);
    assert_eq!(out.code, Some(0), "{out}");
    let daemon = out.stdout_line("✓ daemon: Docker Engine ");
    assert!(
        daemon.ends_with(&format!("reached through docker context `tb-tcp` ({host})")),
        "{out}"
    );
    assert!(
        out.stdout_line("· artifacts: ")
            .starts_with("· artifacts: copy for "),
        "{out}"
    );
    let socket = "unix:///var/run/docker.sock";
    let out = doctor(Some(socket));
    assert_eq!(out.code, Some(0), "{out}");
    let daemon = out.stdout_line("✓ daemon: Docker Engine ");
    assert!(
        daemon.ends_with(&format!("reached through DOCKER_HOST={socket}")),
        "{out}"
    );
}
