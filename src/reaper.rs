//! The reaper: a watchdog that outlives testbed and removes the stack when
//! testbed dies before its own teardown (SIGKILL, the OOM killer, its
//! container killed).
//!
//! It needs no connection back to testbed: its stdin is a pipe whose only
//! write end testbed holds. At the end of a run testbed writes `done` and
//! closes it; end of file without `done` means testbed is gone, and the
//! reaper kills and removes everything that carries the project's label,
//! then exits. Where it runs depends on where testbed runs:
//!
//! - on the daemon's machine, or anywhere the daemon cannot see testbed's
//!   container (Docker-in-Docker, a remote daemon): `testbed reap`, a
//!   process in a session of its own;
//! - in a container of the daemon's (a GitLab job with the host's socket): a
//!   container of the same image, `docker run -i --rm`, since a process in
//!   the job's container dies with it. `docker run -i` attaches stdin once:
//!   the container's stdin closes when the client's does, or when the
//!   client dies with the job container.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::engine::Docker;
use crate::engine::cmd::{Cmd, Watchdog};
use crate::engine::stack::{self, Swept};
use crate::events::{Events, ReaperKind, ReaperWhy, RunEvent, Trouble};
use crate::exit::{Exit, Failure};
use crate::labels::{self, RunLabels};
use crate::topology::artifacts::{Facts, Mount, MountKind, Whereabouts};

/// What the reaper prints on stdout once it watches.
const READY: &str = "ready";
/// What testbed writes before it closes the pipe after its own teardown.
const DONE: &str = "done";
/// How long a reaper may take to say it is ready: a container may take a
/// few seconds on a busy daemon.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long testbed waits for the reaper to exit after the run.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the reaper keeps trying before it gives up and exits.
const GIVE_UP: Duration = Duration::from_secs(60);
/// The daemon's socket, where the reaper's container finds it.
const SOCKET: &str = "/var/run/docker.sock";

/// What the reaper removes when testbed dies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Everything that carries the project's label: the stack that `run`
    /// or `up` creates.
    Stack,
    /// One container: the test container that `test` adds to a stack that
    /// stays up.
    Container(String),
}

/// The watchdog of one run.
pub struct Reaper {
    watchdog: Watchdog,
    /// The pipe's write end; dropping it without `done` sets the reaper off.
    pipe: os_pipe::PipeWriter,
}

/// Where the reaper runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A process on this side: on the host, or where the daemon cannot see us.
    Process,
    /// A container of `image` on the daemon, reaching it through the host's
    /// socket at `socket`.
    Container { image: String, socket: String },
}

impl Reaper {
    /// Starts the reaper of the run that `labels` describe and waits until
    /// it watches. A container reaper that does not start gives way to a
    /// process; without either, the run goes on, with a warning.
    pub fn start(
        docker: &Docker,
        labels: &RunLabels,
        facts: &Facts,
        target: &Target,
        events: &dyn Events,
    ) -> Option<Reaper> {
        let (kind, why) = choose(facts, docker.host());
        events.emit(RunEvent::ReaperChosen {
            what: &kind.shown(),
            why: &why,
        });
        let project = &labels.project;
        if let Kind::Container { .. } = &kind {
            match Reaper::spawn(docker, labels, &kind, target) {
                Ok(reaper) => return Some(reaper),
                Err(error) => {
                    // It may have been created before it failed.
                    let _ = docker.cmd(["rm", "-f", &container_name(project)]).output();
                    events.emit(RunEvent::Trouble(Trouble::ReaperReplaced {
                        error: &error,
                        project,
                    }));
                }
            }
        }
        match Reaper::spawn(docker, labels, &Kind::Process, target) {
            Ok(reaper) => Some(reaper),
            Err(error) => {
                events.emit(RunEvent::Trouble(Trouble::NoReaper {
                    error: &error,
                    project,
                }));
                None
            }
        }
    }

    fn spawn(
        docker: &Docker,
        labels: &RunLabels,
        kind: &Kind,
        target: &Target,
    ) -> anyhow::Result<Reaper> {
        let (reader, pipe) = os_pipe::pipe()?;
        let cmd = command(docker, labels, kind, target)?;
        let mut watchdog = cmd.spawn_watchdog(reader)?;
        match watchdog.line(READY_TIMEOUT) {
            Some(line) if line == READY => Ok(Reaper { watchdog, pipe }),
            _ => {
                watchdog.kill();
                Err(anyhow!("the reaper, {}, did not start", kind.shown()))
            }
        }
    }

    /// Tells the reaper that testbed has done its own teardown, whatever
    /// came of it, and waits for it to exit. What a failed teardown left is
    /// for `testbed gc`: the reaper answers for testbed's death only.
    pub fn finish(self, events: &dyn Events) {
        let Reaper { watchdog, mut pipe } = self;
        let _ = writeln!(pipe, "{DONE}");
        drop(pipe);
        let pid = watchdog.id();
        match watchdog.wait(EXIT_TIMEOUT) {
            Some(status) if status.success() => {}
            Some(status) => {
                events.emit(RunEvent::Trouble(Trouble::ReaperFailed(status)));
            }
            None => events.emit(RunEvent::Trouble(Trouble::ReaperBusy { pid })),
        }
    }
}

impl Kind {
    /// As the reporter names it.
    fn shown(&self) -> ReaperKind {
        match self {
            Kind::Process => ReaperKind::Process,
            Kind::Container { image, .. } => ReaperKind::Container(image.clone()),
        }
    }
}

/// What `--dry-run` says of the reaper a run would start, with `docker`.
pub fn plan(docker: &Docker, facts: &Facts) -> String {
    let (kind, why) = choose(facts, docker.host());
    format!(
        "{} watches testbed, and removes the stack if testbed dies before its teardown ({why})",
        kind.shown()
    )
}

/// Picks where the reaper runs, and says why.
fn choose(facts: &Facts, docker_host: Option<&str>) -> (Kind, ReaperWhy) {
    if let Some(remote) = &facts.remote {
        return (Kind::Process, ReaperWhy::Remote(remote.clone()));
    }
    match &facts.whereabouts {
        Whereabouts::Host => (Kind::Process, ReaperWhy::OnHost),
        Whereabouts::Elsewhere(candidate) => (
            Kind::Process,
            ReaperWhy::UnknownContainer(candidate.clone()),
        ),
        Whereabouts::Container { id, image, mounts } => {
            let short = &id[..12.min(id.len())];
            let path = docker_host
                .and_then(|h| h.strip_prefix("unix://"))
                .unwrap_or(SOCKET);
            match host_socket(mounts, Path::new(path)) {
                Some(socket) if !image.is_empty() => (
                    Kind::Container {
                        image: image.clone(),
                        socket,
                    },
                    ReaperWhy::InContainer(short.to_string()),
                ),
                _ => (
                    Kind::Process,
                    ReaperWhy::SocketNotMounted {
                        container: short.to_string(),
                        path: path.to_string(),
                    },
                ),
            }
        }
    }
}

/// The host's path of the socket at `path` in our container, when a bind
/// mount brings it there (the socket itself, or a directory above it).
fn host_socket(mounts: &[Mount], path: &Path) -> Option<String> {
    let mount = mounts
        .iter()
        .filter(|m| m.kind == MountKind::Bind && path.starts_with(&m.destination))
        .max_by_key(|m| m.destination.components().count())?;
    let rest = path.strip_prefix(&mount.destination).ok()?;
    let source = PathBuf::from(&mount.source);
    let socket = if rest.as_os_str().is_empty() {
        source
    } else {
        source.join(rest)
    };
    Some(socket.to_string_lossy().into_owned())
}

/// The reaper's own container.
fn container_name(project: &str) -> String {
    format!("{project}-reaper")
}

/// The command that starts a reaper of `kind`.
fn command(
    docker: &Docker,
    labels: &RunLabels,
    kind: &Kind,
    target: &Target,
) -> anyhow::Result<Cmd> {
    let project = &labels.project;
    let only: Vec<&str> = match target {
        Target::Stack => vec![],
        Target::Container(name) => vec!["--container", name],
    };
    let cmd = match kind {
        // Our own executable, even if the file was replaced since.
        Kind::Process => Cmd::new("/proc/self/exe")
            .shown_as("testbed")
            .args(["reap", "--project", project])
            .observed_by(docker.observer())
            .echo(docker.echoes()),
        Kind::Container { image, socket } => {
            let exe = std::env::current_exe()?;
            docker
                .cmd(["run", "-i", "--rm", "--name", &container_name(project)])
                // It talks to the daemon through the socket, and to nothing else.
                .args(["--network", "none", "-v", &format!("{socket}:{SOCKET}")])
                .args(labels.docker_args())
                .args(["--label", &format!("{}=reaper", labels::ROLE)])
                .args(["--entrypoint", &exe.to_string_lossy(), image])
                .args(["reap", "--project", project, "--ping"])
        }
    };
    Ok(cmd.args(only))
}

/// `testbed reap --project P [--container C]`: says it is ready, reads
/// stdin to its end, and removes the project (or only the container `C`)
/// unless it read `done`; tells `events` what it does.
pub fn reap(
    project: &str,
    container: Option<&str>,
    ping: bool,
    events: &dyn Events,
) -> Result<Exit, Failure> {
    let docker = Docker::find(None)?;
    if ping {
        docker.ping()?;
    }
    // testbed may be gone already: a failed write is no reason to stop.
    let _ = writeln!(std::io::stdout(), "{READY}").and_then(|()| std::io::stdout().flush());
    let mut said = String::new();
    // A read error ends the watch as end of file does.
    let _ = std::io::stdin().read_to_string(&mut said);
    if said.lines().any(|line| line.trim() == DONE) {
        return Ok(Exit::Tests(0));
    }
    // testbed is gone, and the compose commands it ran die with it; what
    // they had asked the daemon for may still land.
    let ended = Instant::now();
    let what = container.unwrap_or(project);
    events.emit(RunEvent::Reaping { what });
    let swept = match container {
        Some(name) => Swept::Container(name),
        None => Swept::Project(project),
    };
    let retrying = &mut |error: &anyhow::Error| {
        events.emit(RunEvent::Trouble(Trouble::Reap(error)));
    };
    match stack::sweep_until_quiet(&docker, &swept, ended, ended + GIVE_UP, retrying) {
        Ok(removed) => {
            events.emit(RunEvent::Reaped {
                project,
                removed: &removed,
                after: ended.elapsed(),
            });
            Ok(Exit::Tests(0))
        }
        Err(error) => Err(Failure::engine(error.context(format!(
            "the reaper could not remove {what}; `testbed gc` will"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn bind(source: &str, destination: &str) -> Mount {
        Mount {
            kind: MountKind::Bind,
            source: source.into(),
            destination: destination.into(),
            rw: true,
        }
    }

    fn in_container(mounts: Vec<Mount>) -> Facts {
        Facts {
            remote: None,
            root: true,
            whereabouts: Whereabouts::Container {
                id: ID.into(),
                image: "sha256:abc".into(),
                mounts,
            },
        }
    }

    #[test]
    fn a_job_with_the_hosts_socket_gets_a_reaper_container() {
        let facts = in_container(vec![
            bind("/srv/builds", "/builds"),
            bind("/run/docker.sock", "/var/run/docker.sock"),
        ]);
        let (kind, why) = choose(&facts, None);
        assert_eq!(
            kind,
            Kind::Container {
                image: "sha256:abc".into(),
                socket: "/run/docker.sock".into()
            }
        );
        assert_eq!(why, ReaperWhy::InContainer("0123456789ab".into()));
    }

    #[test]
    fn the_socket_may_come_with_a_directory_or_from_docker_host() {
        let facts = in_container(vec![bind("/var/run", "/var/run")]);
        let (kind, _) = choose(&facts, None);
        assert!(
            matches!(&kind, Kind::Container { socket, .. } if socket == "/var/run/docker.sock"),
            "{kind:?}"
        );
        let facts = in_container(vec![bind("/home/ci/.docker/run", "/sockets")]);
        let (kind, _) = choose(&facts, Some("unix:///sockets/docker.sock"));
        assert!(
            matches!(&kind, Kind::Container { socket, .. } if socket == "/home/ci/.docker/run/docker.sock"),
            "{kind:?}"
        );
    }

    #[test]
    fn without_a_reachable_socket_or_image_a_process_watches() {
        let (kind, why) = choose(&in_container(vec![]), None);
        assert_eq!(kind, Kind::Process);
        assert!(matches!(why, ReaperWhy::SocketNotMounted { .. }), "{why:?}");
        let mut volume = bind("docker-sock", "/var/run/docker.sock");
        volume.kind = MountKind::Volume;
        assert_eq!(choose(&in_container(vec![volume]), None).0, Kind::Process);
        let mut facts = in_container(vec![bind("/run/docker.sock", "/var/run/docker.sock")]);
        if let Whereabouts::Container { image, .. } = &mut facts.whereabouts {
            image.clear();
        }
        assert_eq!(choose(&facts, None).0, Kind::Process);
    }

    #[test]
    fn on_the_host_and_under_dind_a_process_watches() {
        let host = Facts {
            remote: None,
            root: false,
            whereabouts: Whereabouts::Host,
        };
        assert_eq!(choose(&host, None).0, Kind::Process);
        let dind = Facts {
            remote: Some("DOCKER_HOST=tcp://docker:2375".into()),
            root: true,
            whereabouts: Whereabouts::Host,
        };
        let (kind, why) = choose(&dind, Some("tcp://docker:2375"));
        assert_eq!(kind, Kind::Process);
        assert_eq!(
            why,
            ReaperWhy::Remote("DOCKER_HOST=tcp://docker:2375".into())
        );
        let elsewhere = Facts {
            remote: None,
            root: true,
            whereabouts: Whereabouts::Elsewhere("container x from HOSTNAME".into()),
        };
        assert_eq!(choose(&elsewhere, None).0, Kind::Process);
    }
}
