//! What happened in one run, phase by phase and service by service. The
//! summary at the end, the JUnit file and the JSON report are all written
//! from it, so they cannot disagree.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::events::{Diagnosis, DiedDuringTests, ServiceLeft};
pub use crate::events::{PhaseName, PhaseOutcome as Outcome};

/// One phase: preflight, build, up, tests, collect, teardown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub name: PhaseName,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub outcome: Outcome,
    /// Why it failed, in a sentence.
    pub message: Option<String>,
    /// The log that explains a failure, such as a dependency's last lines.
    pub log: Option<String>,
}

/// A service of the stack as the run left it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    pub name: String,
    /// From the start of `up`, when it got ready.
    pub ready_after: Option<Duration>,
    /// When it got ready.
    pub ready_at: Option<SystemTime>,
    /// How the run left it, when the run looked (for the reports).
    pub left: Option<ServiceLeft>,
    /// Why it was not ready, when the run gave up on it.
    pub diagnosis: Option<Diagnosis>,
}

/// The record of a run, filled in as it goes; shared by reference.
#[derive(Debug)]
pub struct Timeline {
    pub started_at: SystemTime,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone)]
pub struct State {
    pub phases: Vec<Phase>,
    pub services: Vec<Service>,
    pub tests_exit: Option<u8>,
    /// The tests were killed by the OOM killer, with their memory limit.
    pub tests_oom: Option<Option<u64>>,
    /// The dependencies that died while the tests ran.
    pub died_during_tests: Vec<DiedDuringTests>,
}

/// A phase under way; [`Timeline::end_with`] records it.
#[must_use]
pub struct Running {
    name: PhaseName,
    started_at: SystemTime,
    started: Instant,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline {
            started_at: SystemTime::now(),
            started: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn begin(&self, name: PhaseName) -> Running {
        Running {
            name,
            started_at: SystemTime::now(),
            started: Instant::now(),
        }
    }

    pub fn end_with(
        &self,
        phase: Running,
        outcome: Outcome,
        message: Option<String>,
        log: Option<String>,
    ) {
        self.lock().phases.push(Phase {
            name: phase.name,
            started_at: phase.started_at,
            duration: phase.started.elapsed(),
            outcome,
            message,
            log,
        });
    }

    /// Records when `service` got ready: `after` the start of `up`, `at`.
    pub fn ready(&self, service: &str, after: Duration, at: SystemTime) {
        let mut recorded = self.lock();
        let record = entry(&mut recorded.services, service);
        record.ready_after = Some(after);
        record.ready_at = Some(at);
    }

    /// Records how the run left a service.
    pub fn left(&self, left: ServiceLeft) {
        let mut recorded = self.lock();
        let service = left.service.clone();
        entry(&mut recorded.services, &service).left = Some(left);
    }

    /// Records why a service was not ready.
    pub fn not_ready(&self, diagnosis: Diagnosis) {
        let mut recorded = self.lock();
        let service = diagnosis.service.clone();
        entry(&mut recorded.services, &service).diagnosis = Some(diagnosis);
    }

    pub fn tests_exited(&self, code: u8, oom: Option<Option<u64>>) {
        let mut recorded = self.lock();
        recorded.tests_exit = Some(code);
        recorded.tests_oom = oom;
    }

    pub fn died(&self, died: DiedDuringTests) {
        self.lock().died_during_tests.push(died);
    }

    /// A copy of what was recorded so far.
    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn entry<'a>(services: &'a mut Vec<Service>, name: &str) -> &'a mut Service {
    let at = match services.iter().position(|s| s.name == name) {
        Some(at) => at,
        None => {
            services.push(Service {
                name: name.to_string(),
                ..Service::default()
            });
            services.len() - 1
        }
    };
    &mut services[at]
}
