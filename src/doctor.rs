//! `testbed doctor`: what testbed finds where it runs, one line per question
//! (docker, the daemon, compose, our container, artifacts, GitLab, cgroups),
//! each with the fix for what is wrong. `run` prints the same diagnosis when
//! it cannot reach docker or compose.

use std::fmt;
use std::path::{Path, PathBuf};

use console::style;

use crate::ci::Ci;
use crate::engine::endpoint::Via;
use crate::engine::stack::Stack;
use crate::engine::{Daemon, DaemonKind, Docker, Engine};
use crate::exit::Exit;
use crate::rewrite::{self, Change, Rewrites};
use crate::topology::artifacts::{self, ArtifactsMode, Facts, Whereabouts};
use crate::topology::mounts::{self, Seen};

/// What one line of the diagnosis says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    pub topic: &'static str,
    pub text: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Good,
    /// `run` cannot work until this is fixed; the exit code it would have.
    Bad(Exit),
    /// A fact, neither good nor bad.
    Note,
}

impl Finding {
    fn good(topic: &'static str, text: impl Into<String>) -> Finding {
        Finding {
            verdict: Verdict::Good,
            topic,
            text: text.into(),
            hint: None,
        }
    }

    fn bad(
        exit: Exit,
        topic: &'static str,
        text: impl Into<String>,
        hint: Option<String>,
    ) -> Finding {
        Finding {
            verdict: Verdict::Bad(exit),
            topic,
            text: text.into(),
            hint,
        }
    }

    fn note(topic: &'static str, text: impl Into<String>) -> Finding {
        Finding {
            verdict: Verdict::Note,
            topic,
            text: text.into(),
            hint: None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = match self.verdict {
            Verdict::Good => style("✓").green().bold(),
            Verdict::Bad(_) => style("✗").red().bold(),
            Verdict::Note => style("·").dim(),
        };
        write!(f, "{mark} {}: {}", self.topic, self.text)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  {} {hint}", style("hint:").cyan().bold())?;
        }
        Ok(())
    }
}

/// What the diagnosis looks at beyond the environment.
pub struct Inputs<'a> {
    /// `--compose`, if given.
    pub compose: Option<&'a str>,
    pub parent_container: Option<&'a str>,
    /// The artifacts directory to decide a strategy for.
    pub artifacts: PathBuf,
    /// The directory whose bind mounts to say what happens to: the
    /// current one.
    pub project: PathBuf,
    /// The compose files, when there are: what `run` would rewrite in them
    /// is said too.
    pub files: Option<Vec<PathBuf>>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The CI, detected or given with `--ci`.
    pub ci: Ci,
}

/// Looks at everything and returns one finding per line.
pub fn diagnose(inputs: &Inputs) -> Vec<Finding> {
    let env = inputs.env;
    let mut findings = Vec::new();
    let docker = match Docker::find_in(None, env) {
        Ok(docker) => {
            let version = docker
                .cmd(["--version"])
                .read()
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|_| "version unknown".into());
            findings.push(Finding::good(
                "docker",
                format!("{} ({version})", docker.program().display()),
            ));
            Some(docker)
        }
        Err(failure) => {
            findings.push(Finding::bad(
                Exit::NotFound,
                "docker",
                "not found on PATH",
                failure.hint,
            ));
            None
        }
    };
    let mut daemon = None;
    let daemon_ok = docker.as_ref().is_some_and(|docker| {
        let endpoint = docker.endpoint();
        let target = match endpoint.via {
            Via::Default => format!("the local socket, {}", endpoint.host),
            Via::DockerHost | Via::Context(_) => endpoint.to_string(),
        };
        match docker.ping() {
            Ok(found) => {
                findings.push(Finding::good(
                    "daemon",
                    format!("{found}, reached through {target}"),
                ));
                daemon = Some(found);
                true
            }
            Err(failure) => {
                let why = failure.error.root_cause().to_string();
                let why = why.lines().next().unwrap_or_default().to_string();
                findings.push(Finding::bad(
                    Exit::Engine,
                    "daemon",
                    format!("no answer through {target}: {why}"),
                    failure.hint,
                ));
                false
            }
        }
    });
    if docker.is_some() {
        findings.push(compose(inputs.compose));
    }
    if let (Some(docker), true) = (&docker, daemon_ok) {
        findings.push(events(docker));
        findings.extend(container_and_artifacts(docker, inputs));
    }
    if let Some(Daemon {
        kind: DaemonKind::Podman,
        ..
    }) = &daemon
    {
        findings.push(Finding::note(
            "healthchecks",
            "podman runs them only where systemd runs; testbed runs each itself, and \
             judges one that never passes unhealthy by the engine's rules",
        ));
        if let Some(docker) = &docker {
            let backend = docker.podman_network_backend();
            findings.push(service_names(backend.as_deref(), &Helpers::installed()));
        }
    }
    if let (Some(files), Some(daemon)) = (&inputs.files, &daemon) {
        findings.extend(rewrites(files, inputs.compose, &daemon.version));
    }
    findings.push(ci(inputs.ci, env));
    findings.push(Finding::note("cgroup", cgroup_version()));
    findings
}

/// What `run` would rewrite in the files, as `-v` lists it change by
/// change: their fixed names and host ports, and what the engine predates.
fn rewrites(files: &[PathBuf], compose: Option<&str>, daemon: &str) -> Option<Finding> {
    let engine = Engine::detect(compose, None, false).ok()?;
    let stack =
        Stack::new(&engine, "testbed-doctor", files, "tests").with_profiles(vec!["*".into()]);
    let model = stack.compose("config").read().ok()?;
    let major: u32 = daemon.split('.').next()?.trim().parse().ok()?;
    let every = Rewrites {
        names: true,
        ports: true,
        start_interval: major < 25,
    };
    let changes = rewrite::rewrite(&model, every).ok()?.map(|r| r.changes);
    let changes = changes.unwrap_or_default();
    let count = |kind: fn(&Change) -> bool| changes.iter().filter(|c| kind(c)).count();
    let names = count(|c| matches!(c, Change::Name { .. }));
    let ports = count(|c| matches!(c, Change::Port { .. }));
    let mut said = vec![if names + ports == 0 {
        "no fixed container_name or host port to isolate".to_string()
    } else {
        format!(
            "`run` drops {names} container_name and moves {ports} fixed host ports to ones the \
             daemon picks (`up` keeps them unless --isolate)"
        )
    }];
    for change in &changes {
        if matches!(
            change,
            Change::HostNetwork { .. } | Change::StartInterval { .. }
        ) {
            said.push(change.to_string());
        }
    }
    Some(Finding::note("files", said.join("; ")))
}

/// Which compose `run` would use, and which others are there.
fn compose(choice: Option<&str>) -> Finding {
    let flavors: Vec<(String, Option<String>)> = [
        ("docker compose", "plugin"),
        ("docker-compose", "standalone"),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let version = Engine::detect(Some(name), None, true)
            .ok()
            .and_then(|e| e.compose_version)
            .map(|version| format!("{version} {kind}"));
        (name.to_string(), version)
    })
    .collect();
    let found: Vec<String> = flavors
        .iter()
        .filter_map(|(name, version)| Some(format!("{name} {}", version.as_ref()?)))
        .collect();
    match Engine::detect(choice, None, true) {
        Ok(engine) => {
            let others: Vec<&String> = found
                .iter()
                .filter(|f| !f.starts_with(&format!("{} ", engine.compose_name)))
                .collect();
            let also = match others.as_slice() {
                [] => String::new(),
                others => format!(
                    "; also found: {}",
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            Finding::good(
                "compose",
                format!("{} will be used{also}", engine.describe_compose()),
            )
        }
        Err(failure) => Finding::bad(
            Exit::NotFound,
            "compose",
            failure.error.to_string(),
            failure.hint,
        ),
    }
}

/// How a run learns what its containers do: from the engine's events, or,
/// where the engine (or a proxy before it) does not serve them, by asking
/// `docker inspect` over and over. A bounded window of the past answers at
/// once either way.
fn events(docker: &Docker) -> Finding {
    let listed = docker
        .cmd([
            "events",
            "--since",
            "1",
            "--until",
            "2",
            "--filter",
            "type=container",
        ])
        .read();
    match listed {
        Ok(_) => Finding::note(
            "events",
            "the engine serves them: a run learns of starts, deaths and health from them",
        ),
        Err(error) => {
            let why = error.root_cause().to_string();
            let why = why.lines().next().unwrap_or_default().to_string();
            Finding::note(
                "events",
                format!("not served ({why}): a run asks `docker inspect` instead, more often"),
            )
        }
    }
}

/// Which of podman's network helpers this machine has. A podman that
/// serves the socket from elsewhere has its own, unseen from here.
#[derive(Debug, Default)]
struct Helpers {
    netavark: bool,
    aardvark_dns: bool,
    cni_bridge: bool,
    dnsname: bool,
}

impl Helpers {
    /// Podman's default `helper_binaries_dir` and `cni_plugin_dirs`.
    fn installed() -> Helpers {
        let podman = [
            "/usr/local/libexec/podman",
            "/usr/local/lib/podman",
            "/usr/libexec/podman",
            "/usr/lib/podman",
        ];
        let cni = [
            "/usr/local/libexec/cni",
            "/usr/libexec/cni",
            "/usr/local/lib/cni",
            "/usr/lib/cni",
            "/opt/cni/bin",
        ];
        let found =
            |dirs: &[&str], name: &str| dirs.iter().any(|d| Path::new(d).join(name).exists());
        Helpers {
            netavark: found(&podman, "netavark"),
            aardvark_dns: found(&podman, "aardvark-dns"),
            cni_bridge: found(&cni, "bridge"),
            dnsname: found(&cni, "dnsname"),
        }
    }
}

/// Whether a podman stack's containers find each other by service name:
/// netavark does it with aardvark-dns, CNI only with the dnsname plugin.
/// A helper is judged missing only where the backend itself is installed
/// here, so that a podman serving the socket from elsewhere is not.
fn service_names(backend: Option<&str>, helpers: &Helpers) -> Finding {
    const TOPIC: &str = "service names";
    match backend {
        Some("netavark") if helpers.netavark && !helpers.aardvark_dns => Finding::bad(
            Exit::Engine,
            TOPIC,
            "netavark without aardvark-dns: containers cannot reach each other by service name",
            Some("install aardvark-dns (Debian and Fedora package it by that name)".into()),
        ),
        Some("netavark") => Finding::good(TOPIC, "resolved by aardvark-dns on netavark's networks"),
        Some("cni") if helpers.cni_bridge && !helpers.dnsname => Finding::bad(
            Exit::Engine,
            TOPIC,
            "CNI without the dnsname plugin: containers cannot reach each other by service name",
            Some(
                "install the dnsname CNI plugin, or set network_backend = \"netavark\" under \
                 [network] in /etc/containers/containers.conf and install netavark and aardvark-dns"
                    .into(),
            ),
        ),
        Some("cni") => Finding::note(TOPIC, "CNI resolves them only with its dnsname plugin"),
        Some(other) => Finding::note(TOPIC, format!("podman's network backend is {other}")),
        None => Finding::note(
            TOPIC,
            "not checked: without the podman client, testbed cannot ask which network backend \
             podman uses; netavark resolves them with aardvark-dns, CNI with its dnsname plugin",
        ),
    }
}

fn container_and_artifacts(docker: &Docker, inputs: &Inputs) -> Vec<Finding> {
    let remote = docker.remote();
    let whereabouts = artifacts::detect(docker, inputs.parent_container);
    let container = match &whereabouts {
        Whereabouts::Host => Finding::note("container", "not in a container"),
        Whereabouts::Elsewhere(candidate) => Finding::note(
            "container",
            format!(
                "in a container ({candidate}) that the daemon does not know: Docker-in-Docker or a remote daemon"
            ),
        ),
        Whereabouts::Container { id, .. } => {
            Finding::good("container", format!("{id}, confirmed by the daemon"))
        }
    };
    let facts = Facts {
        remote,
        root: artifacts::running_as_root(),
        whereabouts,
    };
    let strategy = match artifacts::choose(ArtifactsMode::Auto, &inputs.artifacts, &facts) {
        Ok(chosen) => Finding::note(
            "artifacts",
            format!(
                "{} for {} ({})",
                chosen.strategy.name(),
                inputs.artifacts.display(),
                chosen.reason
            ),
        ),
        Err(failure) => Finding::note("artifacts", failure.error.to_string()),
    };
    let project = std::fs::canonicalize(&inputs.project).unwrap_or(inputs.project.clone());
    let shown = project.display();
    let binds = match mounts::seen(&project, &facts) {
        Seen::AsIs => format!("as they are: the daemon sees {shown} at the same path"),
        Seen::At(at) => format!("repointed: the daemon finds {shown} at {}", at.display()),
        Seen::Seeded { why, .. } | Seen::Hidden(why) => format!(
            "seeded: the daemon cannot see {shown} ({why}), so what the stack mounts of it is \
             copied into a volume of the run, and what it writes to read-write mounts comes back"
        ),
    };
    vec![container, strategy, Finding::note("bind mounts", binds)]
}

/// The CI this runs in, as `run` tells it: its job, its place among
/// parallel jobs, and in GitLab the variables that decide the daemon.
fn ci(ci: Ci, env: &dyn Fn(&str) -> Option<String>) -> Finding {
    if ci == Ci::None {
        return Finding::note(
            "CI",
            "none detected (no GITLAB_CI, GITHUB_ACTIONS, BUILDKITE, TF_BUILD, CIRCLECI or \
             JENKINS_URL)",
        );
    }
    let mut shown = Vec::new();
    if let Some(job) = ci.job(env) {
        shown.push(format!("job {job}"));
    }
    if let Some(node) = ci.node(env) {
        shown.push(format!("parallel job {} of {}", node.index, node.total));
    }
    if ci == Ci::Gitlab {
        let daemon = ["DOCKER_HOST", "DOCKER_TLS_CERTDIR", "DOCKER_TLS_VERIFY"];
        shown.extend(
            daemon
                .into_iter()
                .filter_map(|name| Some(format!("{name}={}", env(name)?))),
        );
    }
    let hint = match (env("DOCKER_HOST"), env("DOCKER_TLS_CERTDIR")) {
        (Some(host), Some(dir)) if host.ends_with(":2375") && !dir.is_empty() => Some(
            "DOCKER_TLS_CERTDIR is set, so the dind service listens with TLS on 2376, not 2375: set DOCKER_TLS_CERTDIR: \"\"".to_string(),
        ),
        _ => None,
    };
    let text = match shown.is_empty() {
        true => ci.name().to_string(),
        false => format!("{}: {}", ci.name(), shown.join(", ")),
    };
    Finding {
        verdict: Verdict::Note,
        topic: "CI",
        text,
        hint,
    }
}

fn cgroup_version() -> &'static str {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2 (unified): /proc/1/cpuset names no container here"
    } else {
        "v1"
    }
}

/// The exit code `run` would have for the worst problem found, if any.
pub fn verdict(findings: &[Finding]) -> Option<Exit> {
    findings.iter().find_map(|f| match f.verdict {
        Verdict::Bad(exit) => Some(exit),
        _ => None,
    })
}

/// Prints the findings, one per line (two with a hint).
pub fn print(findings: &[Finding], out: &mut dyn std::io::Write) {
    for finding in findings {
        // A closed output must not turn a diagnosis into a crash.
        let _ = writeln!(out, "{finding}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helpers(netavark: bool, aardvark_dns: bool, cni_bridge: bool, dnsname: bool) -> Helpers {
        Helpers {
            netavark,
            aardvark_dns,
            cni_bridge,
            dnsname,
        }
    }

    #[test]
    fn service_names_need_the_backends_dns_helper() {
        let cases = [
            (
                Some("netavark"),
                helpers(true, true, false, false),
                Verdict::Good,
            ),
            (
                Some("netavark"),
                helpers(true, false, false, false),
                Verdict::Bad(Exit::Engine),
            ),
            (
                Some("cni"),
                helpers(false, false, true, false),
                Verdict::Bad(Exit::Engine),
            ),
            (
                Some("cni"),
                helpers(false, false, true, true),
                Verdict::Note,
            ),
            // The podman serving the socket runs elsewhere: its helpers
            // are not this machine's.
            (
                Some("netavark"),
                helpers(false, false, false, false),
                Verdict::Good,
            ),
            (
                Some("cni"),
                helpers(false, false, false, false),
                Verdict::Note,
            ),
            (None, helpers(true, false, true, false), Verdict::Note),
        ];
        for (backend, helpers, verdict) in cases {
            let finding = service_names(backend, &helpers);
            assert_eq!(
                finding.verdict, verdict,
                "{backend:?} {helpers:?}: {finding}"
            );
        }
    }
}
