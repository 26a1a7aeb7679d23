//! The one harness every test binary shares (`#[path = "../common/mod.rs"]
//! mod common;`): a [`Testbed`] builder for one testbed command line, the
//! [`Running`] handle of a started one, and the [`Output`] of a finished
//! one; the timeouts; and, in [`engine`], the real-engine helpers: the gate
//! every engine test passes first, `docker()`, and the check that a project
//! left nothing behind.
//!
//! Every test that needs the real engine is marked
//! `#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]`,
//! so that `cargo test` shows it as ignored instead of passing it unrun;
//! `per_flavor!` and `per_flavor_cases!` emit the attribute for the tests
//! they generate. `cargo test -- --include-ignored` runs them, and
//! [`engine::require`] fails them, saying how to start the engine, where
//! there is none.
//!
//! Layers on top: tests/sequence/support.rs runs testbed against the fake
//! docker and reads back its calls; tests/e2e/job.rs runs it inside a CI
//! job container.

// Each test binary uses its own part of the harness.
#![allow(dead_code, unused_macros, unused_imports)]

pub mod engine;
mod testbed;

use std::time::Duration;

pub use testbed::{Output, Running, Stream, Testbed};

/// The repository: the fixtures and scripts are read from it.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The testbed binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_testbed");

/// How long one run may take before the test gives up on it. Generous: the
/// engine is shared with whatever else runs on this machine.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a run on the real engine may take to get its test container
/// going (or to reach the moment a test interrupts it).
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long testbed may take to tear down and exit after SIGINT, SIGTERM or
/// SIGHUP on the real engine.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(20);
/// The same, while seven other runs share the engine.
pub const BUSY_SIGNAL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after testbed is killed its reaper may take to remove the
/// stack and be gone itself: the bound the README promises.
pub const REAP_BOUND: Duration = Duration::from_secs(15);
/// How long a run against the fake docker may take to reach a call a test
/// waits for.
pub const FAKE_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long testbed may take to exit after a signal against the fake
/// docker, which answers at once.
pub const FAKE_SIGNAL_TIMEOUT: Duration = Duration::from_secs(10);

/// The compose flavors every real-engine scenario runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Standalone `docker-compose` 1.29 (Python).
    V1,
    /// The `docker compose` CLI plugin.
    V2,
}

impl Flavor {
    /// The value of `--compose`.
    pub fn compose(self) -> &'static str {
        match self {
            Flavor::V1 => "docker-compose",
            Flavor::V2 => "docker compose",
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Flavor::V1 => "v1",
            Flavor::V2 => "v2",
        }
    }

    /// The other one.
    pub fn other(self) -> Flavor {
        match self {
            Flavor::V1 => Flavor::V2,
            Flavor::V2 => Flavor::V1,
        }
    }
}

/// `per_flavor!(scenario)` turns `fn scenario(flavor: Flavor)` into the
/// tests `scenario::v1` and `scenario::v2`, ignored unless asked for (they
/// need the engine), each passing the engine gate first;
/// `per_flavor!(scenario, gate)` has them pass another gate, a path to a
/// `fn()` that panics, saying what to do, when what they need is missing.
macro_rules! per_flavor {
    ($scenario:ident) => {
        $crate::common::per_flavor!($scenario, $crate::common::engine::require);
    };
    ($scenario:ident, $gate:path) => {
        mod $scenario {
            #[test]
            #[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
            fn v1() {
                $gate();
                super::$scenario($crate::common::Flavor::V1)
            }

            #[test]
            #[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
            fn v2() {
                $gate();
                super::$scenario($crate::common::Flavor::V2)
            }
        }
    };
}
pub(crate) use per_flavor;

/// A table of real-engine cases that differ only in data, each its own
/// pair of tests: `per_flavor_cases!(scenario { name: (a, b); … })` makes,
/// for each row, `fn name(flavor)` calling `scenario(flavor, a, b)` and its
/// tests `name::v1` and `name::v2`, as `per_flavor!` does. `gate = path`
/// after the scenario has them pass another gate.
macro_rules! per_flavor_cases {
    ($scenario:ident { $($case:ident: ($($arg:expr),* $(,)?);)* }) => {
        $crate::common::per_flavor_cases!(
            $scenario, gate = $crate::common::engine::require, { $($case: ($($arg),*);)* }
        );
    };
    ($scenario:ident, gate = $gate:path, { $($case:ident: ($($arg:expr),* $(,)?);)* }) => {
        $(
            fn $case(flavor: $crate::common::Flavor) {
                $scenario(flavor, $($arg),*)
            }
            $crate::common::per_flavor!($case, $gate);
        )*
    };
}
pub(crate) use per_flavor_cases;
