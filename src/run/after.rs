//! What follows the tests, whatever came of them: how the run left each
//! service, the logs and the artifacts, and the teardown, or the stack kept.

use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::config::{Keep, LogPolicy};
use crate::events::{Collected, Listing, PhaseName, PhaseOutcome, RunEvent, Trouble};
use crate::exit::Failure;

use super::decide::Outcome;
use super::phases::Driver;
use super::{session, why};

impl Driver<'_> {
    /// For the reports, records how the run left each service; with
    /// `--artifacts`, saves every service's log and brings the tests' files
    /// home. Whatever happened before, unless a second signal asked to skip
    /// it.
    pub fn collect(&self) {
        let (stack, plan, config) = (self.stack, self.plan, self.config);
        let reports = config.report.is_some()
            || config.junit.is_some()
            || config.timeline.is_some()
            || config.summary.is_some();
        if plan.artifacts.is_none() && !reports {
            return;
        }
        if self.signals.escalated() {
            if plan.artifacts.is_some() {
                self.emit(RunEvent::Trouble(Trouble::NotCollecting));
            }
            return;
        }
        self.begin(PhaseName::Collect, "collect: logs and artifacts");
        let containers = match stack.containers(true) {
            Ok(containers) => containers,
            Err(error) => {
                self.emit(RunEvent::Trouble(Trouble::CannotList {
                    what: Listing::Containers,
                    error: &error,
                }));
                return self.end(PhaseName::Collect, PhaseOutcome::Failed, None);
            }
        };
        let (tests, services): (Vec<_>, Vec<_>) = containers
            .into_iter()
            .partition(|c| c.name == stack.test_container());
        for container in &services {
            self.emit(RunEvent::ServiceLeft(why::left(container)));
        }
        if let Some(artifacts) = &plan.artifacts {
            let test = tests
                .first()
                .map(|c| (stack.test_container(), c.service.as_str()));
            let collected = artifacts.collect(stack.engine(), test, &services);
            for warning in collected.warnings {
                self.emit(RunEvent::Trouble(Trouble::Collecting(&warning)));
            }
            if let Some((files, logs)) = collected.counts {
                self.emit(RunEvent::ArtifactsCollected(Collected {
                    dir: &artifacts.dir,
                    files,
                    logs,
                }));
            }
        }
        self.end(PhaseName::Collect, PhaseOutcome::Passed, None);
    }

    /// Shows each dependency's log when the policy asks for it.
    pub fn show_logs(&self, outcome: &Outcome) {
        let wanted = match self.config.logs {
            LogPolicy::Always => true,
            LogPolicy::OnFailure => matches!(outcome, Outcome::Tests(code) if *code != 0),
            LogPolicy::Never => false,
        };
        if !wanted || self.signals.escalated() {
            return;
        }
        self.dependency_logs();
    }

    /// Each dependency's whole log, in a collapsed section of its own.
    pub(super) fn dependency_logs(&self) {
        let containers = match self.stack.containers(false) {
            Ok(containers) => containers,
            Err(error) => {
                return self.emit(RunEvent::Trouble(Trouble::CannotList {
                    what: Listing::Dependencies,
                    error: &error,
                }));
            }
        };
        // The tests' own container, when they run in it, is no dependency.
        let dependencies = containers
            .iter()
            .filter(|c| c.name != self.stack.test_container());
        for container in dependencies {
            let text = match self.stack.container_logs(&container.id, None) {
                Ok(log) => log,
                Err(error) => {
                    self.emit(RunEvent::Trouble(Trouble::Log(&error)));
                    continue;
                }
            };
            self.emit(RunEvent::Log {
                name: &format!("log_{}", container.service),
                title: &format!("{} log", container.service),
                text: &text,
                collapsed: true,
            });
        }
    }

    /// Removes the stack, or keeps it where the command says so; as a
    /// phase.
    pub fn teardown(&self, outcome: &Outcome) -> anyhow::Result<()> {
        self.begin(PhaseName::Teardown, "teardown");
        let result = self.remove_stack(outcome);
        self.release_images();
        match &result {
            Ok(()) => self.end(PhaseName::Teardown, PhaseOutcome::Passed, None),
            Err(error) => {
                let failure = Failure::engine(anyhow!("{error:#}"));
                self.end(PhaseName::Teardown, PhaseOutcome::Failed, Some(&failure));
            }
        }
        result
    }

    fn remove_stack(&self, outcome: &Outcome) -> anyhow::Result<()> {
        let (stack, config) = (self.stack, self.config);
        if self.kept(outcome) {
            if let Err(error) = stack.keep() {
                self.emit(RunEvent::Trouble(Trouble::Keep(&error)));
            }
            if config.policy.record {
                session::record_stack(stack, config, self.events);
            }
            return Ok(());
        }
        let started = Instant::now();
        let interrupted =
            self.signals.received().is_some() || matches!(outcome, Outcome::Interrupted(_));
        let stop_timeout = if self.signals.escalated() {
            Duration::ZERO
        } else {
            config.stop_timeout
        };
        let result = stack.teardown(stop_timeout, interrupted);
        self.emit(RunEvent::TornDown {
            after: started.elapsed(),
        });
        result
    }

    /// Whether the stack stays after this outcome.
    pub fn kept(&self, outcome: &Outcome) -> bool {
        match self.config.policy.keep {
            Keep::Never => false,
            Keep::WhenReady => matches!(outcome, Outcome::Ready),
            Keep::Always => true,
        }
    }
}
