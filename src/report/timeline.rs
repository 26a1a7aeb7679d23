//! What happened in one run, phase by phase and service by service. The
//! summary at the end, the JUnit file and the JSON report are all written
//! from it, so they cannot disagree.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::events::{Diagnosis, DiedDuringTests, ServiceLeft, Waits};
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
    /// The services of the startup it waits for.
    pub depends_on: Vec<String>,
    /// Its healthcheck's interval, when it has one.
    pub check_interval: Option<Duration>,
    /// Something of the run waits for it with `service_healthy`.
    pub awaited_healthy: bool,
    /// When testbed saw its container start.
    pub started_at: Option<SystemTime>,
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
    /// The setup steps (`--before`), in order.
    pub steps: Vec<Step>,
    /// When the startup began: every container was created by then.
    pub wait_began: Option<SystemTime>,
}

/// One setup step: `SERVICE [COMMAND]`, when it began and how long it
/// took (none while it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub started_at: SystemTime,
    pub duration: Option<Duration>,
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
        let mut recorded = self.lock();
        if phase.name == PhaseName::Setup {
            end_step(&mut recorded.steps, SystemTime::now());
        }
        recorded.phases.push(Phase {
            name: phase.name,
            started_at: phase.started_at,
            duration: phase.started.elapsed(),
            outcome,
            message,
            log,
        });
    }

    /// Records the services of the startup and what each waits for.
    pub fn starting(&self, waits: &[Waits]) {
        let mut recorded = self.lock();
        recorded.wait_began = Some(SystemTime::now());
        for waits in waits {
            let record = entry(&mut recorded.services, &waits.service);
            record.depends_on = waits.on.clone();
            record.check_interval = waits.check_interval;
            record.awaited_healthy = waits.awaited_healthy;
        }
    }

    /// Records when `service` got ready: `after` the start of `up`, `at`;
    /// and when it started.
    pub fn ready(
        &self,
        service: &str,
        after: Duration,
        at: SystemTime,
        started_at: Option<SystemTime>,
    ) {
        let mut recorded = self.lock();
        let record = entry(&mut recorded.services, service);
        record.ready_after = Some(after);
        record.ready_at = Some(at);
        record.started_at = started_at;
    }

    /// Records that a setup step begins, and so that the one before ended.
    pub fn step(&self, name: String) {
        let now = SystemTime::now();
        let mut recorded = self.lock();
        end_step(&mut recorded.steps, now);
        recorded.steps.push(Step {
            name,
            started_at: now,
            duration: None,
        });
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

/// Ends the step under way, if one is.
fn end_step(steps: &mut [Step], now: SystemTime) {
    if let Some(step) = steps.last_mut().filter(|s| s.duration.is_none()) {
        step.duration = Some(now.duration_since(step.started_at).unwrap_or_default());
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
