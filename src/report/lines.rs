//! The words of the run's events that each make one line: a step, a detail
//! that only `-v` shows, or a warning.

use std::fmt;

use crate::engine::{Daemon, DaemonKind};
use crate::events::{Garbage, Listing, ReaperKind, ReaperWhy, RunEvent, Trouble};
use crate::rewrite::Change;
use crate::topology::seed;

/// One line, and how it is shown.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A phase of the run: `testbed: starting db, api`.
    Step(String),
    /// A line that only `-v` shows.
    Detail(String),
    Warning(String),
}

/// The line `event` makes, if it is one of those that make one.
pub fn of(event: &RunEvent) -> Option<Line> {
    let line = match event {
        // Host networking is the user's own choice that testbed cannot
        // isolate: said without -v.
        RunEvent::Rewritten(change @ Change::HostNetwork { .. }) => Line::Step(change.to_string()),
        RunEvent::Rewritten(change) => Line::Detail(change.to_string()),
        RunEvent::ProfilesInForce(described) | RunEvent::TestsAttached(described) => {
            Line::Detail(described.clone())
        }
        RunEvent::Services { services, chosen } => {
            Line::Detail(format!("services: {} ({chosen})", services.join(", ")))
        }
        RunEvent::OutsideMount { service, source } => Line::Detail(format!(
            "{service} mounts {}, which is outside the project and not where testbed runs: it is left to the daemon's host",
            source.display()
        )),
        RunEvent::MountPlaced(placed) => Line::Detail(placed.describe()),
        RunEvent::ReaperChosen { what, why } => Line::Detail(format!("reaper: {what} ({why})")),
        RunEvent::Seeding(seeding) => Line::Step(format!(
            "seeding {} into volume {}",
            seed::listed(&seeding.roots),
            seeding.volume
        )),
        RunEvent::Seeded { files, volume } => {
            Line::Detail(format!("seeded {files} files into {volume}"))
        }
        RunEvent::CopiedBack { files, seeding } => Line::Detail(format!(
            "{files} files copied back into {}",
            seed::listed(&seeding.back)
        )),
        RunEvent::NoEventsStream(error) => Line::Detail(format!(
            "no events stream ({error:#}): asking `docker inspect` instead"
        )),
        RunEvent::Pulling => Line::Step("pulling images".into()),
        RunEvent::BuiltBefore { service, image } => {
            Line::Detail(format!("{service}: {image}, built before"))
        }
        RunEvent::Building { services } => Line::Step(format!("building {}", services.join(", "))),
        RunEvent::TagKept(said) => Line::Detail(said.to_string()),
        RunEvent::BringingUp { services } => {
            Line::Step(format!("starting {}", services.join(", ")))
        }
        RunEvent::Ready { after } => Line::Step(format!("ready in {:.1}s", after.as_secs_f64())),
        RunEvent::RunningTests { service } => Line::Step(format!("running {service}")),
        RunEvent::TestsRan { after } => {
            Line::Detail(format!("tests ran for {:.1}s", after.as_secs_f64()))
        }
        RunEvent::TornDown { after } => {
            Line::Detail(format!("torn down in {:.1}s", after.as_secs_f64()))
        }
        RunEvent::StackKept {
            project,
            recorded: true,
            down,
        } => Line::Step(format!(
            "stack {project} is up; rerun the tests with `testbed test`, remove it with `testbed down` (or: {down})"
        )),
        RunEvent::StackKept { down, .. } => {
            Line::Step(format!("stack left running; remove it with:\n  {down}"))
        }
        RunEvent::Trouble(trouble) => Line::Warning(trouble_line(trouble)),
        RunEvent::Keeping { garbage, why } => {
            Line::Detail(format!("keeping {} ({why})", shown(garbage)))
        }
        RunEvent::Reaping { what } => Line::Step(format!(
            "reaper: testbed ended before it removed {what}; removing it"
        )),
        RunEvent::Reaped {
            project,
            removed,
            after,
        } => Line::Step(format!(
            "reaper: removed {removed} of {project} in {:.1}s",
            after.as_secs_f64()
        )),
        _ => return None,
    };
    Some(line)
}

/// `tb-1234-ab12`, or `image testbed/api:tb-1234-ab12`.
fn shown(garbage: &Garbage) -> String {
    match garbage {
        Garbage::Stack(project) => project.to_string(),
        Garbage::Image(image) => format!("image {image}"),
    }
}

/// What `gc` did, or would do with `--dry-run`, on stdout.
pub fn removed(garbage: &Garbage, why: &str, what: Option<&str>, dry_run: bool) -> String {
    let did = if dry_run { "would remove" } else { "removed" };
    let what = what.map(|what| format!(": {what}")).unwrap_or_default();
    format!("{did} {} ({why}){what}", shown(garbage))
}

/// `gc`'s line when it removed nothing: how many it kept, and where to
/// learn why, unless `-v` already said.
pub fn nothing_to_remove(stacks: usize, images: usize, verbose: bool) -> String {
    let mut kept = Vec::new();
    if stacks > 0 {
        kept.push(format!("{stacks} stack(s)"));
    }
    if images > 0 {
        kept.push(format!("{images} image(s)"));
    }
    match kept.as_slice() {
        [] => "nothing to remove".to_string(),
        _ if verbose => format!("nothing to remove; {} kept", kept.join(" and ")),
        _ => format!(
            "nothing to remove; {} kept (-v says why)",
            kept.join(" and ")
        ),
    }
}

fn trouble_line(trouble: &Trouble) -> String {
    match trouble {
        Trouble::PublishImage(error)
        | Trouble::ReleaseImages(error)
        | Trouble::Log(error)
        | Trouble::Keep(error)
        | Trouble::KillTests(error)
        | Trouble::CopyBack(error) => format!("{error:#}"),
        Trouble::NotCollecting => "second signal: not collecting the logs and artifacts".into(),
        Trouble::CannotList { what, error } => {
            let what = match what {
                Listing::Containers => "containers",
                Listing::Dependencies => "dependencies",
                Listing::Ports => "published ports",
            };
            format!("cannot list the {what}: {error:#}")
        }
        Trouble::Collecting(said) | Trouble::NotRecorded(said) => said.to_string(),
        Trouble::NotCopyingBack(seeding) => format!(
            "second signal: not copying {} back from the volume {}",
            seed::listed(&seeding.back),
            seeding.volume
        ),
        Trouble::NotCopiedBack(skipped) => format!(
            "not copied back, as files come back as files and directories only: {}",
            skipped.join(", ")
        ),
        Trouble::ReaperReplaced { error, project } => format!(
            "{error:#}; a process watches {project} instead, which dies with this container"
        ),
        Trouble::NoReaper { error, project } => {
            format!("{error:#}; if testbed is killed, `testbed gc` removes {project} later")
        }
        Trouble::ReaperFailed(status) => format!("the reaper failed ({status})"),
        Trouble::ReaperBusy { pid } => {
            format!("the reaper (pid {pid}) is still at work; it exits on its own")
        }
        Trouble::Remove(error) => format!("{error:#}"),
        Trouble::Reap(error) => format!("reaper: {error:#}; trying again"),
    }
}

/// The `-v` line that names the engine.
pub fn daemon(daemon: &Daemon) -> String {
    format!("engine: {daemon}")
}

/// `Docker Engine 20.10.24`, `Podman 4.3.1`.
impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DaemonKind::Docker => write!(f, "Docker Engine {}", self.version),
            DaemonKind::Podman => write!(f, "Podman {}", self.version),
        }
    }
}

impl DaemonKind {
    /// As the JSON report names it.
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonKind::Docker => "docker",
            DaemonKind::Podman => "podman",
        }
    }
}

/// `a process`, `a container of <image>`.
impl fmt::Display for ReaperKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReaperKind::Process => f.write_str("a process"),
            ReaperKind::Container(image) => write!(f, "a container of {image}"),
        }
    }
}

impl fmt::Display for ReaperWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReaperWhy::Remote(remote) => write!(
                f,
                "{remote} is not a local socket; the stack lives and dies with that daemon, \
                 such as a Docker-in-Docker service, and the reaper covers testbed being \
                 killed while it lives"
            ),
            ReaperWhy::OnHost => f.write_str("testbed runs on the daemon's machine"),
            ReaperWhy::UnknownContainer(candidate) => write!(
                f,
                "testbed runs in a container the daemon does not know ({candidate})"
            ),
            ReaperWhy::InContainer(short) => write!(
                f,
                "testbed runs in container {short}, and a process there would die with it"
            ),
            ReaperWhy::SocketNotMounted { container, path } => write!(
                f,
                "testbed runs in container {container}, but {path} is not bind-mounted from \
                 the host, so a reaper container could not reach the daemon; the process \
                 dies with the container"
            ),
        }
    }
}
