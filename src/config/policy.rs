//! What a command asks of a run, before it is resolved: its policy, its
//! options as given, and the values they take.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::ci::Ci;
pub use crate::ci::Node;
use crate::topology::artifacts::ArtifactsMode;

/// What a command does with its stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Run the tests against the stack `up` recorded, instead of starting
    /// one (`test`).
    pub reuse: bool,
    /// Run the tests (`run`, `test`); `up` stops once the stack is ready.
    pub run_tests: bool,
    /// When the stack stays after the run.
    pub keep: Keep,
    /// Record a kept stack in `.testbed/state.json` for `test`, `env`,
    /// `ports` and `down` (`up`, `run --keep`).
    pub record: bool,
    /// Refuse to start while a stack recorded for the same files is up (`up`).
    pub alone: bool,
    /// Remove the recorded stack, and nothing else (`down`).
    pub remove: bool,
    /// Make the files' fixed container names and host ports the run's own
    /// (`run`; `up` keeps them unless asked, so that the host reaches a
    /// kept stack where the file says).
    pub isolate: bool,
}

/// When a stack stays after its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Never,
    /// Once it is up and ready (`up`): a stack that failed to start goes.
    WhenReady,
    Always,
}

impl Policy {
    const BASE: Policy = Policy {
        reuse: false,
        run_tests: true,
        keep: Keep::Never,
        record: false,
        alone: false,
        remove: false,
        isolate: false,
    };

    /// `testbed run`, or `run --keep`.
    pub const fn run(keep: bool) -> Policy {
        Policy {
            keep: if keep { Keep::Always } else { Keep::Never },
            record: keep,
            isolate: true,
            ..Policy::BASE
        }
    }

    pub const UP: Policy = Policy {
        run_tests: false,
        keep: Keep::WhenReady,
        record: true,
        alone: true,
        ..Policy::BASE
    };

    pub const TEST: Policy = Policy {
        reuse: true,
        keep: Keep::Always,
        ..Policy::BASE
    };

    pub const DOWN: Policy = Policy {
        reuse: true,
        run_tests: false,
        remove: true,
        ..Policy::BASE
    };

    /// Whether the stack may be left up on purpose, and so says it is.
    pub fn may_keep(self) -> bool {
        self.keep != Keep::Never
    }
}

/// Every option of `run`, `up`, `test` and `down`, flat, as given: each
/// command sets those it takes and leaves the rest unset.
#[derive(Debug, Default)]
pub struct RunArgs {
    pub files: Vec<PathBuf>,
    pub project_name: Option<String>,
    pub service: Option<String>,
    pub services: Option<Vec<String>>,
    pub wait_timeout: Option<Duration>,
    pub stop_timeout: Option<Duration>,
    pub ttl: Option<Duration>,
    pub logs: Option<LogPolicy>,
    pub env: Vec<String>,
    pub profiles: Vec<String>,
    pub build: bool,
    pub no_build: bool,
    pub pull: bool,
    pub image_prefix: Option<String>,
    pub artifacts: Option<PathBuf>,
    pub artifacts_mode: Option<ArtifactsMode>,
    pub parent_container: Option<String>,
    pub tty: bool,
    pub dry_run: bool,
    pub compose: Option<String>,
    pub verbose: bool,
    pub junit: Option<PathBuf>,
    pub junit_from: Option<String>,
    pub report: Option<PathBuf>,
    pub timeline: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub command: Vec<String>,
    pub shards: Option<u32>,
    /// `--shard I/N`: this job's place among N, where the CI does not say.
    pub shard: Option<Node>,
    /// The CI the run is in, detected or given with `--ci`.
    pub ci: Ci,
    pub keep_names: bool,
    pub keep_ports: bool,
    pub isolate: bool,
    pub project_directory: Option<PathBuf>,
    pub env_files: Vec<PathBuf>,
    pub before: Vec<String>,
}

/// When to print the dependencies' logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogPolicy {
    Always,
    OnFailure,
    Never,
}

/// Where the profiles a run was given come from, in order of precedence: as
/// compose's `--profile` does, any of them replaces `COMPOSE_PROFILES`
/// (compose #9895).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfilesFrom {
    /// `--profile` or `TESTBED_PROFILES`.
    Flag,
    XTestbed,
    ComposeProfiles,
    /// The record of the stack `test` and `down` act on: the profiles in
    /// force when it was started.
    Recorded,
}

impl std::fmt::Display for ProfilesFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProfilesFrom::Flag => "--profile",
            ProfilesFrom::XTestbed => "x-testbed",
            ProfilesFrom::ComposeProfiles => "COMPOSE_PROFILES",
            ProfilesFrom::Recorded => "as the stack was started",
        })
    }
}

/// When testbed builds the images of services with `build:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// When the image is missing, as compose does.
    Missing,
    /// Always (`--build`, or `--pull`, which builds with fresh bases).
    Always,
    /// Never: a missing image is an error (`--no-build`).
    Never,
}
