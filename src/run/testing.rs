//! The steps before the tests and the tests themselves, as phases of a
//! run: setup steps as one-offs, then the tests in a one-off or in their
//! service's own container, followed to their exit, with the project's
//! events saying which dependency died before or while they ran.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::config::{LogPolicy, SetupStep};
use crate::engine::cmd::{Group, Waited};
use crate::engine::model::{self, ContainerStatus, Fault, Readiness};
use crate::engine::watch::Watch;
use crate::events::{self, Diagnosis, DiedDuringTests, PhaseName, PhaseOutcome, RunEvent, Trouble};
use crate::exit::{Exit, Failure};

use super::commands;
use super::deaths::{Death, Deaths};
use super::decide::Outcome;
use super::phases::Driver;
use super::why;

/// Log lines kept for tests that failed.
const FAILED_LOG_TAIL: usize = why::LOG_TAIL;
/// How often the events are read while the tests run.
const DEATH_LOOK: Duration = Duration::from_millis(50);

/// How the tests ended.
struct TestsRun {
    code: u8,
    /// Killed by the OOM killer, with their memory limit if they have one.
    oom: Option<Option<u64>>,
}

impl Driver<'_> {
    /// The setup steps, in order, as a phase: each a one-off of its
    /// service, its output in a section of its own. The first that fails
    /// stops the run, with its output and the dependencies' logs.
    pub(super) fn setup(&self) -> Result<(), Outcome> {
        let steps = &self.config.before;
        if steps.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = steps.iter().map(ToString::to_string).collect();
        self.begin(PhaseName::Setup, format!("setup: {}", listed.join("; ")));
        let result = steps
            .iter()
            .enumerate()
            .try_for_each(|(i, step)| self.setup_step(i, step));
        self.end_as(PhaseName::Setup, &result);
        result
    }

    fn setup_step(&self, i: usize, step: &SetupStep) -> Result<(), Outcome> {
        self.emit(RunEvent::SetupStep(step));
        let cmd = commands::setup_command(self.stack, step);
        let child = cmd.spawn_captured().map_err(Failure::engine)?;
        let output = match child.wait(None, self.signals).map_err(Failure::engine)? {
            Waited::Done(output) => output,
            Waited::Interrupted | Waited::TimedOut => {
                child.kill();
                return Err(self.interrupted());
            }
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let title = format!("setup: {step}");
        let ok = output.status.success();
        self.emit(RunEvent::Log {
            name: &format!("setup_{i}"),
            title: &title,
            text: &text,
            collapsed: ok,
        });
        if ok {
            return Ok(());
        }
        if self.config.logs != LogPolicy::Never {
            self.dependency_logs();
        }
        let code = match output.status.code() {
            Some(code) => format!("exited with code {code}"),
            None => "was killed by a signal".into(),
        };
        Err(
            Failure::engine(anyhow!("setup step `{step}` {code}; the tests did not run"))
                .with_hint("its output and the dependencies' logs are above")
                .with_log(title, text)
                .into(),
        )
    }

    /// The tests, as a phase; a failing test's phase carries the tail of
    /// its log. A dependency that died before they started fails them
    /// with its diagnosis; one that died while they ran is named.
    pub(super) fn tests(&self, watch: Option<&Watch>) -> Result<u8, Outcome> {
        self.begin(PhaseName::Tests, format!("tests: {}", self.config.service));
        let in_service = !self.plan.attached.is_empty();
        let long_running = model::awaited_healthy(&self.plan.services);
        let mut deaths = Deaths::new(&self.config.service, in_service, long_running);
        let mut diagnoses = Vec::new();
        let tests = self.run_tests(watch, &mut deaths, &mut diagnoses);
        match &tests {
            Ok(TestsRun { code, oom }) => {
                self.emit(RunEvent::TestsExited {
                    code: *code,
                    oom: *oom,
                });
                if *code == 0 {
                    self.end(PhaseName::Tests, PhaseOutcome::Passed, None);
                } else {
                    let killed = match oom {
                        Some(limit) => format!(", {}", events::out_of_memory(*limit)),
                        None => String::new(),
                    };
                    let failure = Failure::new(
                        Exit::Tests(*code),
                        anyhow!("the tests exited with code {code}{killed}"),
                    );
                    let log = self
                        .stack
                        .container_logs(self.stack.test_container(), Some(FAILED_LOG_TAIL));
                    let failure = match log {
                        Ok(log) => failure.with_log(
                            format!("{} (last {FAILED_LOG_TAIL} log lines)", self.config.service),
                            log,
                        ),
                        Err(_) => failure,
                    };
                    self.end(PhaseName::Tests, PhaseOutcome::Failed, Some(&failure));
                }
            }
            Err(_) => self.end_as(PhaseName::Tests, &tests),
        }
        // Out of the collapsed section, so that the cause is in sight.
        for diagnosis in &diagnoses {
            self.emit(RunEvent::NotReady(diagnosis));
        }
        for death in &deaths.during {
            let log = self.stack.container_logs(&death.id, Some(why::LOG_TAIL));
            self.emit(RunEvent::DiedDuringTests(&DiedDuringTests {
                service: death.service.clone(),
                exit_code: death.exit_code,
                oom_killed: death.oom_killed,
                into_tests: deaths.offset(death),
                log: log.unwrap_or_default(),
            }));
        }
        tests.map(|run| run.code)
    }

    /// A dependency that died before the tests' container started: the
    /// start failed, whatever the tests did meanwhile.
    fn died_before_tests(&self, death: &Death, diagnoses: &mut Vec<Diagnosis>) -> Outcome {
        let container = match self.stack.inspect(&[&death.id], false) {
            Ok(containers) => containers.into_iter().next(),
            Err(error) => return Failure::engine(error).into(),
        };
        let Some(container) = container else {
            return Failure::engine(anyhow!(
                "dependency `{}` exited with code {} before the tests could start",
                death.service,
                death.exit_code
            ))
            .into();
        };
        let why = match container.state.readiness() {
            Readiness::Failed(fault) => fault,
            _ => Fault::Exited {
                code: death.exit_code,
                oom_killed: false,
            },
        };
        *diagnoses = why::diagnose(self.stack, std::slice::from_ref(&container), self.signals);
        self.dependency_failed(&container, &why.to_string(), diagnoses)
            .into()
    }

    /// Runs the test service once and returns its exit code. Compose's own
    /// exit code cannot tell a failed test from a failed `compose run`, so
    /// any but 0 is read from the engine, with whether the kernel killed
    /// the tests for memory; 0 says the tests ran and passed.
    fn run_tests(
        &self,
        watch: Option<&Watch>,
        deaths: &mut Deaths,
        diagnoses: &mut Vec<Diagnosis>,
    ) -> Result<TestsRun, Outcome> {
        let (stack, config) = (self.stack, self.config);
        let name = stack.test_container();
        // In their service's own container the tests run already: their
        // output is followed from its start.
        let in_service = !self.plan.attached.is_empty();
        let run = match in_service {
            true => commands::follow_command(stack),
            false => commands::test_command(stack, self.plan, config),
        };
        let mut cursor = 0;
        let mut look = |deaths: &mut Deaths| {
            if let Some(watch) = watch {
                deaths.take(watch.since(&mut cursor));
            }
        };
        look(deaths);
        if let Some(death) = deaths.before.first() {
            return Err(self.died_before_tests(death, diagnoses));
        }
        self.emit(RunEvent::RunningTests {
            service: &config.service,
        });
        let started = Instant::now();
        // With --tty the tests own the terminal: compose puts it in raw
        // mode, so Ctrl-C reaches them as a keystroke, and they must share
        // our process group to read it. Otherwise a Ctrl-C is testbed's.
        let child = if config.tty && !in_service {
            run.spawn_inherited(Group::Shared)
        } else if config.hold_output {
            run.spawn_captured()
        } else {
            run.spawn_forwarded(Group::Own)
        }
        .map_err(Failure::engine)?;
        // With the events, in short waits: a dependency that dies before
        // the tests' container starts stops them at once.
        let slice = watch.map(|_| DEATH_LOOK);
        let waited = loop {
            let deadline = slice.map(|slice| Instant::now() + slice);
            match child
                .wait(deadline, self.signals)
                .map_err(Failure::engine)?
            {
                Waited::TimedOut => {}
                waited => break waited,
            }
            look(deaths);
            if let Some(death) = deaths.before.first() {
                child.kill();
                if let Err(error) = stack.kill_test_container() {
                    self.emit(RunEvent::Trouble(Trouble::KillTests(&error)));
                }
                return Err(self.died_before_tests(death, diagnoses));
            }
        };
        look(deaths);
        if let Some(death) = deaths.before.first() {
            return Err(self.died_before_tests(death, diagnoses));
        }
        let output = match waited {
            Waited::Done(output) if config.hold_output => {
                // All at once, so that shards that run together do not
                // interleave; a closed stdout is no failure.
                let _ = std::io::stdout().lock().write_all(&output.stdout);
                let stderr = String::from_utf8_lossy(&output.stderr);
                if !stderr.trim().is_empty() {
                    self.emit(RunEvent::Log {
                        name: "tests_stderr",
                        title: &format!("{} stderr", config.service),
                        text: &stderr,
                        collapsed: false,
                    });
                }
                output
            }
            Waited::Done(output) => output,
            Waited::Interrupted | Waited::TimedOut => {
                // Killed, not removed: what the tests wrote is still collected.
                if let Err(error) = stack.kill_test_container() {
                    self.emit(RunEvent::Trouble(Trouble::KillTests(&error)));
                }
                child.kill();
                return Err(self.interrupted());
            }
        };
        self.emit(RunEvent::TestsRan {
            after: started.elapsed(),
        });
        // The logs end with the container's output; its end says its code.
        let passed = match in_service {
            true => {
                commands::wait_command(stack)
                    .read()
                    .map_err(Failure::engine)?
                    .trim()
                    == "0"
            }
            false => output.status.success(),
        };
        if passed {
            return Ok(TestsRun { code: 0, oom: None });
        }
        let container = stack
            .inspect(&[name], true)
            .map_err(Failure::engine)?
            .into_iter()
            .next();
        let status = match output.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "a signal".into(),
        };
        let compose = &stack.engine().compose_name;
        match container {
            None => Err(Failure::engine(anyhow!(
                "`{compose} run` failed with {status} before the test container was created"
            ))
            .with_hint("compose's own error is printed above")
            .into()),
            Some(container) if container.state.never_started() => Err(Failure::new(
                Exit::CannotInvoke,
                anyhow!(container.state.error.clone()).context(format!(
                    "the test command could not be started in `{}`",
                    config.service
                )),
            )
            .into()),
            Some(container) if container.state.status == ContainerStatus::Running => {
                Err(Failure::engine(anyhow!(
                    "`{compose} run` ended with {status} while the test container was still running"
                ))
                .into())
            }
            Some(container) => Ok(TestsRun {
                code: container.state.exit_code.clamp(0, 255) as u8,
                oom: container.state.oom_killed.then_some(container.memory_limit),
            }),
        }
    }
}
