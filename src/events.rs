//! The events of a run: the interface between the run, which emits them and
//! never prints, and the reporters, which consume them. The terminal's live
//! lines, GitLab's sections, the summary, JUnit and the JSON report are each
//! one way of consuming the same events.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::SetupStep;
use crate::engine::cmd::Observer;
pub use crate::engine::scheduler::ServiceStatus;
use crate::engine::stack::Leftovers;
use crate::engine::{ComposeFlavor, Daemon, Engine};
use crate::exit::{Exit, Failure};
use crate::ports::Port;
use crate::rewrite::Change;
use crate::topology::mounts::Placed;
use crate::topology::seed::Seeding;

/// The compose command a run drives, as its reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeUsed {
    /// How it is invoked, e.g. `docker compose`.
    pub name: String,
    pub flavor: ComposeFlavor,
    /// When compose was asked for it.
    pub version: Option<String>,
    /// For `-v`: the name with the version, or with the flavor and path.
    pub described: String,
}

impl ComposeUsed {
    pub fn of(engine: &Engine) -> ComposeUsed {
        ComposeUsed {
            name: engine.compose_name.clone(),
            flavor: engine.flavor,
            version: engine.compose_version.clone(),
            described: engine.describe_compose(),
        }
    }
}

/// Whatever takes a run's events.
pub trait Events: Sync {
    fn emit(&self, event: RunEvent<'_>);

    /// Who hears of the run's commands: shown each one echoed, told how
    /// long each ran. None without `-v`.
    fn observer(&self) -> Option<Arc<dyn Observer>>;
}

/// One phase of a run, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseName {
    Preflight,
    Build,
    Up,
    /// The setup steps (`--before`), after the stack is ready.
    Setup,
    Tests,
    Collect,
    Teardown,
}

impl PhaseName {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseName::Preflight => "preflight",
            PhaseName::Build => "build",
            PhaseName::Up => "up",
            PhaseName::Setup => "setup",
            PhaseName::Tests => "tests",
            PhaseName::Collect => "collect",
            PhaseName::Teardown => "teardown",
        }
    }
}

/// How a phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseOutcome {
    Passed,
    Failed,
    Interrupted,
}

impl PhaseOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseOutcome::Passed => "passed",
            PhaseOutcome::Failed => "failed",
            PhaseOutcome::Interrupted => "interrupted",
        }
    }
}

/// How a run left one service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceLeft {
    pub service: String,
    /// The container's status, e.g. `running` or `exited`.
    pub status: String,
    /// Its health status, e.g. `healthy`, with a healthcheck.
    pub health: Option<String>,
    /// Its exit code, once it has exited.
    pub exit_code: Option<i64>,
    /// Whether the kernel's OOM killer ended it.
    pub oom_killed: bool,
    /// Its memory limit in bytes, if it has one.
    pub memory_limit: Option<u64>,
    /// How often the engine restarted it.
    pub restarts: u32,
    /// The daemon's last healthchecks.
    pub probes: Vec<ProbeResult>,
    /// When it was created and started.
    pub created: Option<SystemTime>,
    pub started: Option<SystemTime>,
}

/// One run of a healthcheck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub by: Prober,
    /// When it began, where that is known.
    pub at: Option<SystemTime>,
    /// Its exit code; none when it did not finish.
    pub exit_code: Option<i64>,
    /// Whether it ran past its timeout.
    pub timed_out: bool,
    /// What it printed, trimmed.
    pub output: String,
}

/// Who ran a healthcheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prober {
    Testbed,
    Daemon,
}

impl Prober {
    pub fn as_str(self) -> &'static str {
        match self {
            Prober::Testbed => "testbed",
            Prober::Daemon => "daemon",
        }
    }
}

/// A service of the startup, what it waits for, and how often the engine
/// runs its healthcheck: what the timeline's critical path and its hints
/// are drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waits {
    pub service: String,
    /// The services of the startup in its `depends_on`.
    pub on: Vec<String>,
    /// Its healthcheck's interval: the daemon's first check runs then.
    pub check_interval: Option<Duration>,
    /// The tests or a service of the startup wait for it with `depends_on:
    /// condition: service_healthy`, which compose alone would hold until
    /// the daemon's first check.
    pub awaited_healthy: bool,
}

/// Why a dependency did not get ready, when the run gave up on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub service: String,
    pub state: ServiceState,
    /// How often the engine restarted it.
    pub restarts: u32,
    /// Killed by the kernel's OOM killer, with its memory limit if it has one.
    pub oom: Option<Option<u64>>,
    /// The last healthchecks, the latest last.
    pub probes: Vec<ProbeResult>,
    /// The last lines of its log.
    pub log: String,
    /// The likely fix, when one fits.
    pub hint: Option<String>,
}

/// Where a dependency stood when the run gave up on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceState {
    /// Created, never started.
    NotStarted,
    /// Running, and its healthcheck has not passed yet.
    Starting,
    /// Running, without a healthcheck.
    Running,
    Unhealthy,
    Restarting,
    Exited(i64),
    /// A status the engine names otherwise, such as `paused`.
    Other(String),
}

impl std::fmt::Display for ServiceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceState::NotStarted => write!(f, "not started"),
            ServiceState::Starting => write!(f, "starting"),
            ServiceState::Running => write!(f, "running"),
            ServiceState::Unhealthy => write!(f, "unhealthy"),
            ServiceState::Restarting => write!(f, "restarting"),
            ServiceState::Exited(code) => write!(f, "exited with code {code}"),
            ServiceState::Other(status) => write!(f, "{status}"),
        }
    }
}

/// `killed: out of memory (limit 20 MiB)`, or without a limit.
pub fn out_of_memory(limit: Option<u64>) -> String {
    match limit {
        Some(bytes) => format!("killed: out of memory (limit {})", mebibytes(bytes)),
        None => "killed: out of memory".into(),
    }
}

fn mebibytes(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib.fract() == 0.0 {
        format!("{mib:.0} MiB")
    } else {
        format!("{mib:.1} MiB")
    }
}

/// What came back to the artifacts directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected<'a> {
    pub dir: &'a Path,
    pub files: usize,
    pub logs: usize,
}

/// What went wrong without changing how the run ends: a warning each.
#[derive(Debug)]
pub enum Trouble<'a> {
    /// Making the run's build its image's `latest`, or pruning the build it
    /// replaced.
    PublishImage(&'a anyhow::Error),
    /// Removing the run's own image tags.
    ReleaseImages(&'a anyhow::Error),
    /// A second signal: the logs and artifacts are not collected.
    NotCollecting,
    CannotList {
        what: Listing,
        error: &'a anyhow::Error,
    },
    /// Collecting the artifacts and logs, as the collection says it.
    Collecting(&'a str),
    /// Reading a dependency's log.
    Log(&'a anyhow::Error),
    /// Marking the stack as kept.
    Keep(&'a anyhow::Error),
    /// Recording the kept stack for `test` and `down`.
    NotRecorded(&'a str),
    /// Killing the tests' container.
    KillTests(&'a anyhow::Error),
    /// A second signal: what the services wrote is not copied back.
    NotCopyingBack(&'a Seeding),
    /// What the volume held that is neither a file nor a directory.
    NotCopiedBack(&'a [String]),
    CopyBack(&'a anyhow::Error),
    /// The reaper's container did not start: a process watches instead.
    ReaperReplaced {
        error: &'a anyhow::Error,
        project: &'a str,
    },
    /// No reaper started.
    NoReaper {
        error: &'a anyhow::Error,
        project: &'a str,
    },
    /// The reaper ended with this status.
    ReaperFailed(std::process::ExitStatus),
    /// The reaper had not exited when the run stopped waiting for it.
    ReaperBusy {
        pid: u32,
    },
    /// `gc` could not remove a stack or an image.
    Remove(&'a anyhow::Error),
    /// The reaper tries again.
    Reap(&'a anyhow::Error),
}

/// What `gc` removes or keeps.
#[derive(Debug, Clone, Copy)]
pub enum Garbage<'a> {
    /// A stack, by its project.
    Stack(&'a str),
    /// An image, as `gc` shows it.
    Image(&'a str),
}

/// Where the reaper watches testbed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaperKind {
    /// A process on this side.
    Process,
    /// A container of this image, on the daemon.
    Container(String),
}

/// Why the reaper watches from where it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaperWhy {
    /// The daemon, such as a Docker-in-Docker service, is not a local
    /// socket: the stack lives and dies with it.
    Remote(String),
    /// testbed runs on the daemon's machine.
    OnHost,
    /// testbed runs in a container the daemon does not know; how it was
    /// found.
    UnknownContainer(String),
    /// testbed runs in this container (short id), and a process there
    /// would die with it.
    InContainer(String),
    /// testbed runs in this container, but the daemon's socket at `path`
    /// is not bind-mounted from the host.
    SocketNotMounted { container: String, path: String },
}

/// A stack as `ls` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRow {
    pub project: String,
    /// Seconds since it started; None when its labels do not say.
    pub age: Option<u64>,
    pub owner: String,
    /// "2 running, 1 exited", or "no containers".
    pub state: String,
    pub gc: GcWould,
}

/// An image as `ls` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// Its tags, or without any, `<none> of <name>`.
    pub name: String,
    pub id: String,
    /// Seconds since it was built or last tagged; None when unknown.
    pub age: Option<u64>,
    pub in_use: bool,
    pub gc: GcWould,
}

/// What `gc` would do with a stack or an image, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcWould {
    pub removes: bool,
    pub why: String,
}

/// What a run could not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Containers,
    Dependencies,
    Ports,
}

/// How the run ended, decided once its stack was torn down (or kept).
#[derive(Debug)]
pub struct Verdict {
    pub exit: Exit,
    pub ending: Ending,
    /// A teardown that failed without changing the exit code.
    pub teardown_error: Option<anyhow::Error>,
    /// What `testbed doctor` finds, when the environment was at fault.
    pub diagnosis: Option<String>,
}

#[derive(Debug)]
pub enum Ending {
    /// The tests passed.
    Passed,
    /// The tests ran and failed with this code.
    TestsFailed(u8),
    /// The stack is up and ready; no tests were to run (`up`).
    Ready,
    /// The recorded stack was removed (`down`).
    Removed,
    /// The run failed before or around the tests.
    Failed(Failure),
    /// A signal stopped the run.
    Interrupted { signal: i32, stack: StackAfter },
}

/// What became of the stack after a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackAfter {
    Kept,
    Removed,
    /// Its teardown failed; the verdict's `teardown_error` says how.
    Unknown,
    /// The signal came before anything was started.
    NeverStarted,
}

/// A dependency that died while the tests ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiedDuringTests {
    pub service: String,
    pub exit_code: i64,
    pub oom_killed: bool,
    /// How long after the tests started.
    pub into_tests: Duration,
    /// The end of its log.
    pub log: String,
}

impl std::fmt::Display for DiedDuringTests {
    /// `db exited with code 137 (out of memory) 4.2s into the tests`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let oom = if self.oom_killed {
            " (out of memory)"
        } else {
            ""
        };
        write!(
            f,
            "{} exited with code {}{oom} {:.1}s into the tests",
            self.service,
            self.exit_code,
            self.into_tests.as_secs_f64()
        )
    }
}

/// One thing that happened in a run.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// The run begins, under this project name.
    Started {
        project: &'a str,
    },
    /// The compose command the run drives.
    Compose(ComposeUsed),
    /// Where the artifacts and logs go, and how they get there.
    ArtifactsPlanned {
        dir: &'a Path,
        strategy: &'a str,
        reason: &'a str,
    },
    PhaseStarted {
        phase: PhaseName,
        header: String,
    },
    PhaseFinished {
        phase: PhaseName,
        outcome: PhaseOutcome,
        failure: Option<&'a Failure>,
    },
    /// The daemon answered, with its version.
    Daemon(&'a Daemon),
    /// A change testbed made to the resolved compose model.
    Rewritten(&'a Change),
    /// Which profiles are in force and what they leave out, as the plan of
    /// `--dry-run` also says it.
    ProfilesInForce(String),
    /// The dependencies the run starts, and why those.
    Services {
        services: &'a [String],
        chosen: String,
    },
    /// The tests run in their service's own container, which others attach
    /// to, as the plan of `--dry-run` also says it.
    TestsAttached(String),
    /// A bind mount of a path outside the project that is not here: it is
    /// left to the daemon's host.
    OutsideMount {
        service: &'a str,
        source: &'a Path,
    },
    /// Where a bind mount comes from for the daemon.
    MountPlaced(&'a Placed),
    /// The reaper that removes the stack should testbed die, and why that
    /// one.
    ReaperChosen {
        what: &'a ReaperKind,
        why: &'a ReaperWhy,
    },
    /// The files the daemon cannot see go into the run's volume.
    Seeding(&'a Seeding),
    Seeded {
        files: usize,
        volume: &'a str,
    },
    /// What the services wrote came back from the volume.
    CopiedBack {
        files: usize,
        seeding: &'a Seeding,
    },
    /// `docker events` cannot run: the engine is asked with `docker
    /// inspect` instead.
    NoEventsStream(&'a anyhow::Error),
    Pulling,
    /// An image testbed builds is the one an earlier run built.
    BuiltBefore {
        service: &'a str,
        image: String,
    },
    Building {
        services: &'a [String],
    },
    /// Docker's words on a run's image tag that stays, as one that a kept
    /// stack's container holds.
    TagKept(&'a str),
    /// The dependencies are being created and started.
    BringingUp {
        services: &'a [String],
    },
    /// Every dependency is ready, this long after the start of `up`.
    Ready {
        after: Duration,
    },
    /// A setup step (`--before`) begins.
    SetupStep(&'a SetupStep),
    /// The tests begin, in this service.
    RunningTests {
        service: &'a str,
    },
    TestsRan {
        after: Duration,
    },
    TornDown {
        after: Duration,
    },
    /// The stack stays up: recorded for `test` and `down`, or not, and
    /// the command that removes it.
    StackKept {
        project: &'a str,
        recorded: bool,
        down: String,
    },
    /// Something went wrong without changing how the run ends.
    Trouble(Trouble<'a>),
    /// `ls`: testbed's stacks and images.
    Listed {
        stacks: &'a [StackRow],
        images: &'a [ImageRow],
    },
    /// `gc` keeps a stack or an image, for this reason.
    Keeping {
        garbage: Garbage<'a>,
        why: String,
    },
    /// `gc` removed a stack or an image (or would have, with `--dry-run`),
    /// for this reason, and what of it.
    Removed {
        garbage: Garbage<'a>,
        why: &'a str,
        what: Option<&'a str>,
        dry_run: bool,
    },
    /// `gc` found nothing to remove, and kept this many.
    NothingToRemove {
        stacks: usize,
        images: usize,
    },
    /// The reaper: testbed ended before it removed `what`.
    Reaping {
        what: &'a str,
    },
    /// The reaper removed what the run left, this long after testbed ended.
    Reaped {
        project: &'a str,
        removed: &'a Leftovers,
        after: Duration,
    },
    /// The services whose readiness the run waits for, before it starts
    /// them, and what each waits for.
    Starting {
        services: &'a [String],
        waits: &'a [Waits],
    },
    /// Where each of them stands.
    Waiting(&'a [ServiceStatus]),
    /// The wait is over, whatever its end.
    WaitOver,
    /// A dependency got ready: `after` the start of the wait, `at`; its
    /// container started at `started_at`.
    ServiceReady {
        service: &'a str,
        after: Duration,
        at: SystemTime,
        started_at: Option<SystemTime>,
    },
    /// A dependency the run gave up on, and why.
    NotReady(&'a Diagnosis),
    ServiceLeft(ServiceLeft),
    /// The tests' exit code, and whether the OOM killer ended them, with
    /// their memory limit.
    TestsExited {
        code: u8,
        oom: Option<Option<u64>>,
    },
    /// A dependency died while the tests ran: the tests' own code stands,
    /// and this names what they may have failed on.
    DiedDuringTests(&'a DiedDuringTests),
    /// The log of a service: whole, or the tail that explains a failure.
    Log {
        /// A name for its GitLab section, made of `[A-Za-z0-9_.-]`.
        name: &'a str,
        title: &'a str,
        text: &'a str,
        collapsed: bool,
    },
    ArtifactsCollected(Collected<'a>),
    /// Where the kept stack's published ports landed.
    Ports(&'a [Port]),
    /// `--dry-run`: the commands a run would execute.
    Plan(&'a [String]),
    /// Every phase has run; the verdict comes next.
    PhasesDone,
    /// The run is over.
    Finished(&'a Verdict),
}
