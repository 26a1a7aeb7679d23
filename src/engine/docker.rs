//! Finding `docker` and a compose flavor, and checking that the daemon
//! answers, before anything is started.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};

use crate::engine::cmd::{Cmd, Observer};
use crate::engine::endpoint::{self, Endpoint, Via};
use crate::engine::model::{self, Container};
use crate::exit::{Exit, Failure};

/// The label compose puts on everything of a project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// Makes compose v1 reach an `ssh://` daemon through paramiko.
const PARAMIKO: &str = "COMPOSE_PARAMIKO_SSH";

/// The docker client alone: what the reaper, `gc` and `ls` need.
#[derive(Debug, Clone)]
pub struct Docker {
    program: PathBuf,
    /// Hears of each command, and has it echoed (`-v`); none without `-v`.
    observer: Option<Arc<dyn Observer>>,
    /// The daemon, read once.
    endpoint: Endpoint,
}

impl Docker {
    /// The `docker` on PATH, and the daemon it talks to; `observer` is
    /// shown each command before it runs (`-v`), and told how long it ran.
    pub fn find(observer: Option<Arc<dyn Observer>>) -> Result<Docker, Failure> {
        Docker::find_in(observer, &|name| std::env::var(name).ok())
    }

    /// `find`, with `DOCKER_HOST` looked up by `env`. Unless it is set, the
    /// CLI says which context is active and where it points.
    pub fn find_in(
        observer: Option<Arc<dyn Observer>>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Docker, Failure> {
        let mut docker = Docker {
            program: find_docker()?,
            observer,
            endpoint: Endpoint::resolve(None, None),
        };
        let docker_host = env("DOCKER_HOST").filter(|host| !host.is_empty());
        // Without a context named, the CLI uses the default one: there is
        // nothing to ask, and each `docker` process costs.
        let inspected = match (&docker_host, endpoint::named_context(env)) {
            (None, Some(_)) => docker
                .cmd(["context", "inspect", "--format", endpoint::INSPECT_FORMAT])
                .read()
                .ok(),
            _ => None,
        };
        docker.endpoint = Endpoint::resolve(docker_host.as_deref(), inspected.as_deref());
        Ok(docker)
    }

    /// The daemon it talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The daemon's address when `DOCKER_HOST` or a context chose it.
    pub fn host(&self) -> Option<&str> {
        self.endpoint.chosen_host()
    }

    /// The endpoint, described, when the daemon is reached over the network
    /// rather than a local socket: such a daemon cannot see our filesystem.
    pub fn remote(&self) -> Option<String> {
        self.endpoint.remote()
    }

    /// A `docker …` command.
    pub fn cmd<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let label = format!("docker {}", args.first().map(String::as_str).unwrap_or(""));
        Cmd::new(&self.program)
            .args(args)
            .label(label)
            .observed_by(self.observer.clone())
            .echo(self.echoes())
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Whether its commands are echoed (`-v`).
    pub fn echoes(&self) -> bool {
        self.observer.is_some()
    }

    /// Who hears of its commands.
    pub fn observer(&self) -> Option<Arc<dyn Observer>> {
        self.observer.clone()
    }

    /// Checks that the daemon answers, and says which engine it is.
    pub fn ping(&self) -> Result<Daemon, Failure> {
        let format = "{{.Server.Version}} {{range .Server.Components}}{{.Name}};{{end}}";
        let cmd = self.cmd(["version", "--format", format]);
        let output = cmd.output().map_err(Failure::engine)?;
        if output.status.success() {
            return Ok(Daemon::parse(&String::from_utf8_lossy(&output.stdout)));
        }
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        let hint = match &self.endpoint.via {
            Via::Context(name) => format!(
                "check the context with `docker context inspect {name}`, or go back to the local socket with `docker context use default`"
            ),
            Via::DockerHost | Via::Default => {
                daemon_hint(self.host(), Path::new(DEFAULT_SOCKET).exists(), &stderr)
            }
        };
        let error = cmd
            .check(&output)
            .context(format!(
                "the Docker daemon at {} does not answer",
                self.endpoint
            ))
            .unwrap_err();
        Err(Failure::engine(error).with_hint(hint).of_environment())
    }

    /// Podman's network backend (`netavark` or `cni`), which decides how
    /// containers find each other by service name. The Docker API does not
    /// say it, so this asks the podman client, where there is one, about
    /// the same endpoint.
    pub fn podman_network_backend(&self) -> Option<String> {
        let podman = which::which("podman").ok()?;
        let format = "{{.Host.NetworkBackend}}";
        let host = &self.endpoint.host;
        let backend = Cmd::new(podman)
            .args(["--remote", "--url", host, "info", "--format", format])
            .label("podman info")
            .observed_by(self.observer.clone())
            .echo(self.echoes())
            .read()
            .ok()?;
        Some(backend.trim().to_string()).filter(|backend| !backend.is_empty())
    }

    /// Every container of compose project `project`, one-off containers
    /// (the tests') included only when asked for.
    pub fn project_containers(
        &self,
        project: &str,
        one_offs: bool,
    ) -> anyhow::Result<Vec<Container>> {
        let mut cmd = self
            .cmd(["ps", "-aq", "--no-trunc"])
            .args(["--filter", &format!("label={PROJECT_LABEL}={project}")]);
        if !one_offs {
            cmd = cmd.args(["--filter", "label=com.docker.compose.oneoff=False"]);
        }
        let ids = cmd.read()?;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        self.inspect(&ids, true)
    }

    /// The state of the given containers; unknown ones are left out.
    /// `echo: false` keeps a polling loop out of the `-v` output.
    pub fn inspect(&self, ids: &[&str], echo: bool) -> anyhow::Result<Vec<Container>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let output = self
            .cmd(["inspect"])
            .args(ids.iter().copied())
            .echo(echo && self.echoes())
            .output()?;
        // `docker inspect` prints what it found even when some ids are gone.
        let json = String::from_utf8_lossy(&output.stdout);
        if json.trim().is_empty() {
            return Ok(Vec::new());
        }
        model::parse_inspect(&json)
    }
}

/// Which compose: the Python v1 (1.x), or v2, whose commands and output
/// differ in places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeFlavor {
    V1,
    V2,
}

impl ComposeFlavor {
    /// The flavor of a compose that reports `version`, e.g. `1.29.2` or
    /// `2.40.3`.
    pub fn of_version(version: &str) -> ComposeFlavor {
        if version.starts_with("1.") {
            ComposeFlavor::V1
        } else {
            ComposeFlavor::V2
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ComposeFlavor::V1 => "v1",
            ComposeFlavor::V2 => "v2",
        }
    }
}

/// The engine behind the socket, as `docker version` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub kind: DaemonKind,
    /// Its own version: `20.10.24` for Docker, `4.3.1` for podman.
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonKind {
    Docker,
    /// Podman's Docker-compatible API: its server components include a
    /// "Podman Engine".
    Podman,
}

impl Daemon {
    /// From `<version> <component>;<component>;…`. (Not a tab: the
    /// docker CLI lines up a format with tabs as a table, in spaces.)
    fn parse(answer: &str) -> Daemon {
        let (version, components) = answer.trim().split_once(' ').unwrap_or((answer.trim(), ""));
        let podman = components.split(';').any(|c| c == "Podman Engine");
        Daemon {
            kind: if podman {
                DaemonKind::Podman
            } else {
                DaemonKind::Docker
            },
            version: version.trim().to_string(),
        }
    }

    /// Its major version; 0 when it cannot be read.
    pub fn major(&self) -> u32 {
        let major = self.version.split('.').next().unwrap_or_default();
        major.trim().parse().unwrap_or(0)
    }
}

/// The docker client and the compose command testbed drives.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    compose_program: PathBuf,
    compose_prefix: Vec<String>,
    /// Variables every compose command gets.
    compose_env: Vec<(String, String)>,
    /// How compose is invoked, e.g. `docker compose`, for messages.
    pub compose_name: String,
    pub flavor: ComposeFlavor,
    /// Its version, e.g. `2.40.3` or `1.29.2`, when it was asked for: only
    /// a compose whose flavor its file does not tell is asked unbidden.
    pub compose_version: Option<String>,
}

/// A compose command found on this machine, before it was run.
struct Found {
    program: PathBuf,
    prefix: Vec<String>,
    /// The name its commands are shown under.
    shown_as: Option<String>,
    /// Its flavor, when the file tells it.
    flavor: Option<ComposeFlavor>,
}

impl Found {
    /// Where `words` (e.g. `docker compose`) leads. The `docker compose`
    /// plugin is run as its own binary, from where the docker CLI would
    /// find it: through `docker` each call would cost two more Go
    /// processes (the CLI, and the plugin asked for its metadata), and it
    /// runs the same program with the same arguments.
    fn resolve(docker: &Docker, words: &[String]) -> Option<Found> {
        if words == ["docker", "compose"] {
            if let Some(plugin) = compose_plugin(&plugin_dirs()) {
                return Some(Found {
                    program: plugin,
                    prefix: Vec::new(),
                    shown_as: Some("docker compose".into()),
                    flavor: Some(ComposeFlavor::V2),
                });
            }
        }
        let program = if words[0] == "docker" {
            docker.program.clone()
        } else {
            which::which(&words[0]).ok()?
        };
        let flavor = (words.len() == 1)
            .then(|| flavor_of_file(&program))
            .flatten();
        Some(Found {
            program,
            prefix: words[1..].to_vec(),
            shown_as: None,
            flavor,
        })
    }
}

impl Engine {
    /// Resolves `docker` with `which`, then the compose flavor: `choice`
    /// (`--compose`/`TESTBED_COMPOSE`) if given, else the `docker compose`
    /// plugin, else a standalone `docker-compose`. `version` asks compose
    /// for its version, which reports and `doctor` show.
    pub fn detect(
        choice: Option<&str>,
        observer: Option<Arc<dyn Observer>>,
        version: bool,
    ) -> Result<Engine, Failure> {
        Engine::detect_while(Docker::find(observer)?, choice, version, |_| ())
            .map(|(engine, ())| engine)
    }

    /// `detect`, running `first` with each compose command while its version
    /// is asked for, so that the first real call waits for no probe (the
    /// probe alone is half a second of Python on v1). A compose whose file
    /// tells its flavor (the plugin is v2, a Python script is v1) is not
    /// asked unless `version`. Returns what `first` returned with the
    /// command that answered.
    pub fn detect_while<T>(
        docker: Docker,
        choice: Option<&str>,
        version: bool,
        first: impl Fn(&Engine) -> T,
    ) -> Result<(Engine, T), Failure> {
        let candidates: Vec<Vec<String>> = match choice {
            Some(choice) => vec![
                shell_words::split(choice)
                    .ok()
                    .filter(|words| !words.is_empty())
                    .ok_or_else(|| {
                        Failure::usage(anyhow!("--compose `{choice}` is not a command"))
                    })?,
            ],
            None => vec![
                vec!["docker".into(), "compose".into()],
                vec!["docker-compose".into()],
            ],
        };
        for words in candidates {
            let Some(found) = Found::resolve(&docker, &words) else {
                continue;
            };
            let mut engine = Engine {
                docker: docker.clone(),
                compose_program: found.program,
                compose_prefix: found.prefix,
                compose_env: Vec::new(),
                compose_name: found.shown_as.unwrap_or_else(|| words.join(" ")),
                flavor: found.flavor.unwrap_or(ComposeFlavor::V2),
                compose_version: None,
            };
            if found.flavor.is_some() && !version {
                engine.fit_to_endpoint();
                let value = first(&engine);
                return Ok((engine, value));
            }
            let (probed, value) = std::thread::scope(|scope| {
                let probed = scope.spawn(|| engine.compose_version_probe());
                let value = first(&engine);
                (
                    probed.join().expect("the compose version probe panicked"),
                    value,
                )
            });
            if let Some(probed) = probed {
                engine.flavor = ComposeFlavor::of_version(&probed);
                engine.compose_version = Some(probed);
                engine.fit_to_endpoint();
                return Ok((engine, value));
            }
        }
        let install = "install the compose v2 plugin into ~/.docker/cli-plugins/docker-compose, or a standalone docker-compose on PATH";
        let (error, hint) = match choice {
            Some(choice) => (
                anyhow!("compose command `{choice}` was not found or does not work"),
                "--compose takes the command that runs compose, e.g. \"docker compose\" (the v2 plugin) or docker-compose; without --compose testbed tries those two in that order".to_string(),
            ),
            None => (
                anyhow!("neither `docker compose` nor `docker-compose` was found"),
                install.to_string(),
            ),
        };
        Err(Failure::new(Exit::NotFound, error)
            .with_hint(hint)
            .of_environment())
    }

    /// What compose v1 must be told of the daemon's endpoint that v2 finds
    /// itself.
    fn fit_to_endpoint(&mut self) {
        if !self.is_v1() {
            return;
        }
        // v1 reads `currentContext`, but not DOCKER_CONTEXT: it is told the
        // context the CLI resolved.
        if let Some(context) = self.docker.endpoint.context() {
            self.compose_prefix
                .extend(["--context".into(), context.into()]);
        }
        // v1's own ssh client (`ssh … docker system dial-stdio`, its default
        // since 1.28) loses requests made at once: "Remote end closed
        // connection without response" (compose #8221). Its paramiko
        // client does not.
        let ssh = self.docker.endpoint.host.starts_with("ssh://");
        if ssh && std::env::var_os(PARAMIKO).is_none() {
            self.compose_env.push((PARAMIKO.into(), "1".into()));
        }
    }

    /// `compose version --short`, e.g. `2.40.3`, if the command works.
    fn compose_version_probe(&self) -> Option<String> {
        let output = self.compose().args(["version", "--short"]).output().ok()?;
        output.status.success().then(|| {
            String::from_utf8_lossy(&output.stdout)
                .trim()
                .trim_start_matches('v')
                .to_string()
        })
    }

    /// Which compose it is, and where, for messages: `docker compose
    /// 2.40.3`, or without its version `docker compose (v2,
    /// /usr/lib/docker/cli-plugins/docker-compose)`.
    pub fn describe_compose(&self) -> String {
        match &self.compose_version {
            Some(version) => format!("{} {version}", self.compose_name),
            None => format!(
                "{} ({}, {})",
                self.compose_name,
                self.flavor.as_str(),
                self.compose_program.display()
            ),
        }
    }

    /// Whether compose is the Python v1, whose commands differ in places.
    pub fn is_v1(&self) -> bool {
        self.flavor == ComposeFlavor::V1
    }

    /// The resolved `docker` client.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    pub fn echoes(&self) -> bool {
        self.docker.echoes()
    }

    /// A `docker …` command.
    pub fn docker<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.docker.cmd(args)
    }

    /// A compose command without project arguments; see `Stack::compose`.
    pub fn compose(&self) -> Cmd {
        let mut cmd = Cmd::new(&self.compose_program).shown_as(self.compose_name.clone());
        for (name, value) in &self.compose_env {
            cmd = cmd.env(name.as_str(), value.as_str());
        }
        cmd.args(self.compose_prefix.clone())
            .observed_by(self.docker.observer())
            .echo(self.echoes())
            .creates()
    }
}

/// Where the docker CLI looks for its plugins, in its order: the
/// `cli-plugins` folder of its configuration (`DOCKER_CONFIG`, else
/// `~/.docker`), then the system's.
fn plugin_dirs() -> Vec<PathBuf> {
    let config = std::env::var_os("DOCKER_CONFIG")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".docker")));
    config
        .map(|dir| dir.join("cli-plugins"))
        .into_iter()
        .chain(
            [
                "/usr/local/lib/docker/cli-plugins",
                "/usr/local/libexec/docker/cli-plugins",
                "/usr/lib/docker/cli-plugins",
                "/usr/libexec/docker/cli-plugins",
            ]
            .map(PathBuf::from),
        )
        .collect()
}

/// The first executable `docker-compose` among `dirs`.
fn compose_plugin(dirs: &[PathBuf]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dirs.iter()
        .map(|dir| dir.join("docker-compose"))
        .find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The flavor a compose program's file tells: a Python script is v1, as
/// Debian's and pip's `docker-compose` are. A binary may be either (v1 was
/// also released frozen into one), so it says nothing.
fn flavor_of_file(program: &Path) -> Option<ComposeFlavor> {
    use std::io::Read;
    let mut head = [0u8; 128];
    let read = std::fs::File::open(program).ok()?.read(&mut head).ok()?;
    let first_line = head[..read].split(|&b| b == b'\n').next()?;
    (first_line.starts_with(b"#!") && first_line.windows(6).any(|w| w == b"python"))
        .then_some(ComposeFlavor::V1)
}

/// The `docker` client on PATH.
pub fn find_docker() -> Result<PathBuf, Failure> {
    which::which("docker").map_err(|_| {
        Failure::new(Exit::NotFound, anyhow!("`docker` was not found on PATH"))
            .with_hint(
                "install the Docker CLI (Debian: apt-get install docker.io); in a GitLab job, use an image that has it",
            )
            .of_environment()
    })
}

/// The likely fix for an unreachable daemon, from where we tried to reach it.
pub fn daemon_hint(docker_host: Option<&str>, socket_exists: bool, stderr: &str) -> String {
    match docker_host {
        Some(host) if host.starts_with("tcp://") && host.ends_with(":2376") => {
            "port 2376 is DinD with TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH=\"$DOCKER_TLS_CERTDIR/client\", or turn TLS off with DOCKER_TLS_CERTDIR: \"\" and DOCKER_HOST=tcp://docker:2375".into()
        }
        Some(host) if host.starts_with("tcp://") => {
            "is the DinD service declared under `services:` (e.g. docker:dind) and started with TLS off (DOCKER_TLS_CERTDIR: \"\")? It then listens on tcp://docker:2375".into()
        }
        Some(host) if host.starts_with("ssh://") => {
            "check that `ssh` reaches that host without a prompt and that its user may use Docker".into()
        }
        Some(host) if host.starts_with("unix://") && host.contains("podman") => format!(
            "is podman's API service running? Start it with `systemctl start podman.socket` \
             (`systemctl --user start podman.socket` rootless), or where no systemd runs, \
             `podman system service --time=0 {host} &`"
        ),
        Some(_) => "check DOCKER_HOST, or unset it to use the local socket".into(),
        None if stderr.contains("permission denied") => {
            format!("{DEFAULT_SOCKET} exists but this user may not use it: add the user to the `docker` group, or run as root")
        }
        None if socket_exists => {
            "the socket exists but nothing answers: start the daemon (`systemctl start docker`, or `dockerd &`)".into()
        }
        None => format!(
            "there is no {DEFAULT_SOCKET}. In a GitLab job, either mount the host's socket (runner config.toml: volumes = [\"/var/run/docker.sock:/var/run/docker.sock\"]) or add a `docker:dind` service with DOCKER_HOST=tcp://docker:2375 and DOCKER_TLS_CERTDIR: \"\""
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_is_podman_when_a_component_says_so() {
        let docker = Daemon::parse("20.10.24+dfsg1 Engine;containerd;runc;docker-init;\n");
        assert_eq!(docker.kind, DaemonKind::Docker);
        assert_eq!(docker.version, "20.10.24+dfsg1");
        assert_eq!(docker.major(), 20);
        let podman = Daemon::parse("4.3.1 Podman Engine;Conmon;OCI Runtime (runc);\n");
        assert_eq!(podman.kind, DaemonKind::Podman);
        assert_eq!(podman.major(), 4);
        // An older client that prints no components.
        assert_eq!(Daemon::parse("24.0.7\n").kind, DaemonKind::Docker);
    }

    #[test]
    fn the_plugin_is_the_first_executable_one_in_dockers_order() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = ["config", "local", "system"]
            .iter()
            .map(|d| root.path().join(d))
            .collect();
        let plugin = |dir: &Path, mode: u32| {
            std::fs::create_dir_all(dir).unwrap();
            let path = dir.join("docker-compose");
            std::fs::write(&path, "").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        assert_eq!(compose_plugin(&dirs), None);
        let system = plugin(&dirs[2], 0o755);
        assert_eq!(compose_plugin(&dirs), Some(system));
        plugin(&dirs[0], 0o644);
        let local = plugin(&dirs[1], 0o755);
        assert_eq!(
            compose_plugin(&dirs),
            Some(local),
            "not executable: skipped"
        );
    }

    #[test]
    fn a_python_script_is_compose_v1_and_a_binary_says_nothing() {
        let root = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &[u8]| {
            let path = root.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let debian = file(
            "debian",
            b"#!/usr/bin/python3\n# EASY-INSTALL-ENTRY-SCRIPT\n",
        );
        let pip = file("pip", b"#!/usr/bin/env python3.11\nimport re\n");
        let frozen = file("frozen", b"\x7fELF\x02\x01\x01\x00python");
        let wrapper = file(
            "wrapper",
            b"#!/bin/sh\nexec docker compose \"$@\" # python\n",
        );
        assert_eq!(flavor_of_file(&debian), Some(ComposeFlavor::V1));
        assert_eq!(flavor_of_file(&pip), Some(ComposeFlavor::V1));
        assert_eq!(flavor_of_file(&frozen), None);
        assert_eq!(flavor_of_file(&wrapper), None);
        assert_eq!(flavor_of_file(&root.path().join("missing")), None);
    }

    #[test]
    fn missing_socket_suggests_mount_or_dind() {
        let hint = daemon_hint(None, false, "Cannot connect to the Docker daemon");
        assert!(
            hint.contains("/var/run/docker.sock:/var/run/docker.sock"),
            "{hint}"
        );
        assert!(hint.contains("DOCKER_HOST=tcp://docker:2375"), "{hint}");
    }

    #[test]
    fn dind_address_suggests_the_service_and_tls_off() {
        let hint = daemon_hint(Some("tcp://docker:2375"), false, "");
        assert!(hint.contains("DOCKER_TLS_CERTDIR"), "{hint}");
        let tls = daemon_hint(Some("tcp://docker:2376"), false, "");
        assert!(tls.contains("DOCKER_CERT_PATH"), "{tls}");
    }

    #[test]
    fn permission_denied_suggests_the_docker_group() {
        let hint = daemon_hint(
            None,
            true,
            "dial unix /var/run/docker.sock: connect: permission denied",
        );
        assert!(hint.contains("`docker` group"), "{hint}");
    }

    #[test]
    fn a_dead_socket_suggests_starting_the_daemon() {
        let podman = daemon_hint(Some("unix:///run/podman/podman.sock"), true, "");
        assert!(
            podman.contains("podman system service --time=0 unix:///run/podman/podman.sock"),
            "{podman}"
        );
        let hint = daemon_hint(None, true, "Cannot connect to the Docker daemon");
        assert!(hint.contains("start the daemon"), "{hint}");
    }
}
