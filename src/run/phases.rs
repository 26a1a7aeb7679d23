//! The phases of a run on its stack, in order: images, up and ready, the
//! setup steps and the tests (in `testing`), collecting logs and artifacts,
//! teardown. Each emits what happens; none prints.

use std::cell::Cell;
use std::time::{Instant, SystemTime};

use anyhow::anyhow;

use crate::config::{Build, Config};
use crate::engine::DaemonKind;
use crate::engine::cmd::{Cmd, Waited};
use crate::engine::model::{self, Condition, Container, Readiness};
use crate::engine::stack::Stack;
use crate::engine::startup::{self, Stop};
use crate::engine::watch::Watch;
use crate::events::{Diagnosis, Events, PhaseName, PhaseOutcome, RunEvent, Trouble, Waits};
use crate::exit::{Exit, Failure};
use crate::images::{self, BuiltImage};
use crate::signals::Signals;

use super::commands;
use super::decide::Outcome;
use super::plan::Plan;
use super::why;

/// One run's stack, and what drives it.
pub struct Driver<'a> {
    pub config: &'a Config,
    pub plan: &'a Plan,
    pub stack: &'a Stack<'a>,
    /// `--label` pairs for what testbed creates beside compose.
    pub labels: &'a [String],
    /// Whether the run's volume was filled, so that there is one to copy
    /// back from.
    pub seeded: Cell<bool>,
    pub signals: &'a Signals,
    pub events: &'a dyn Events,
}

impl Driver<'_> {
    pub(super) fn emit(&self, event: RunEvent<'_>) {
        self.events.emit(event);
    }

    pub(super) fn begin(&self, phase: PhaseName, header: impl Into<String>) {
        self.emit(RunEvent::PhaseStarted {
            phase,
            header: header.into(),
        });
    }

    pub(super) fn end(&self, phase: PhaseName, outcome: PhaseOutcome, failure: Option<&Failure>) {
        self.emit(RunEvent::PhaseFinished {
            phase,
            outcome,
            failure,
        });
    }

    /// Ends `phase` as `result` says.
    pub(super) fn end_as<T>(&self, phase: PhaseName, result: &Result<T, Outcome>) {
        match result {
            Ok(_) => self.end(phase, PhaseOutcome::Passed, None),
            Err(Outcome::Failed(failure)) => self.end(phase, PhaseOutcome::Failed, Some(failure)),
            Err(_) => self.end(phase, PhaseOutcome::Interrupted, None),
        }
    }

    /// Every phase before teardown: images, up, the tests, as the command
    /// asks for them.
    pub fn run_phases(&self) -> Outcome {
        let config = self.config;
        let phases = || -> Result<Option<u8>, Outcome> {
            let services = self.image_services();
            if !services.is_empty() {
                self.begin(PhaseName::Build, format!("images: {}", services.join(", ")));
                let prepared = self.prepare_images();
                self.end_as(PhaseName::Build, &prepared);
                prepared?;
            }
            self.seed()?;
            if config.policy.reuse {
                return self.tests(None).map(Some);
            }
            // From before the first create to the end of the tests.
            let watch = if self.plan.dependencies.is_empty() {
                None
            } else {
                self.watch()
            };
            if !self.plan.dependencies.is_empty() {
                let header = format!("up: {}", self.plan.dependencies.join(", "));
                self.begin(PhaseName::Up, header);
                let mut diagnoses = Vec::new();
                let up = self.bring_up(watch.as_ref(), &mut diagnoses);
                self.end_as(PhaseName::Up, &up);
                // Out of the collapsed section, so that the cause is in sight.
                for diagnosis in &diagnoses {
                    self.emit(RunEvent::NotReady(diagnosis));
                }
                up?;
            }
            self.setup()?;
            if !config.policy.run_tests {
                return Ok(None);
            }
            self.tests(watch.as_ref()).map(Some)
        };
        match phases() {
            Ok(Some(code)) => Outcome::Tests(code),
            Ok(None) => Outcome::Ready,
            Err(outcome) => outcome,
        }
    }

    /// The project's events, or none when `docker events` cannot run: the
    /// engine is then asked with `docker inspect` instead.
    fn watch(&self) -> Option<Watch> {
        match Watch::start(self.stack) {
            Ok(watch) => Some(watch),
            Err(error) => {
                self.emit(RunEvent::NoEventsStream(&error));
                None
            }
        }
    }

    /// The services whose images the run pulls, builds or tags first.
    fn image_services(&self) -> Vec<&str> {
        let (images, config) = (&self.plan.images, self.config);
        let built = images.built.iter().map(|i| i.service.as_str());
        let named = images.named.iter().map(|(s, _)| s.as_str());
        let named = named.filter(|_| config.build != Build::Missing);
        let pulled = images.pulled.iter().map(String::as_str);
        let pulled = pulled.filter(|_| config.pull);
        built.chain(named).chain(pulled).collect()
    }

    /// Pulls what `--pull` asks for. Then each image testbed builds is the
    /// newest build, under the run's own tag, or is built when it is
    /// missing; always with `--build`, never with `--no-build`.
    fn prepare_images(&self) -> Result<(), Outcome> {
        let (stack, images, config) = (self.stack, &self.plan.images, self.config);
        if let Some(pull) = commands::pull_command(stack, images, config) {
            self.emit(RunEvent::Pulling);
            self.run_to_end(&pull, None)?;
        }
        let mut built: Vec<&BuiltImage> = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        for image in &images.built {
            if config.build == Build::Always {
                built.push(image);
                continue;
            }
            let reuse = commands::reuse_command(stack, image);
            let output = reuse.output().map_err(Failure::engine)?;
            if output.status.success() {
                self.emit(RunEvent::BuiltBefore {
                    service: &image.service,
                    image: image.latest(),
                });
            } else if !images::is_missing(&String::from_utf8_lossy(&output.stderr)) {
                return Err(Failure::engine(reuse.check(&output).unwrap_err()).into());
            } else if config.build == Build::Never {
                missing.push(image.latest());
            } else {
                built.push(image);
            }
        }
        let mut build: Vec<String> = built.iter().map(|i| i.service.clone()).collect();
        match config.build {
            Build::Always => build.extend(images.named.iter().map(|(s, _)| s.clone())),
            Build::Never => {
                for (_, image) in &images.named {
                    let inspect = stack.engine().docker(["image", "inspect", image]);
                    if !inspect.output().map_err(Failure::engine)?.status.success() {
                        missing.push(image.clone());
                    }
                }
            }
            Build::Missing => {}
        }
        if !missing.is_empty() {
            return Err(Failure::engine(anyhow!(
                "--no-build, and no image {} on the daemon",
                missing.join(", ")
            ))
            .with_hint("build it with a run without --no-build, or with --build")
            .into());
        }
        if build.is_empty() {
            return Ok(());
        }
        self.emit(RunEvent::Building { services: &build });
        let daemon = &self.plan.daemon;
        self.run_to_end(
            &commands::build_command(stack, daemon, &build, config.pull),
            None,
        )?;
        // The next run starts from this build; the one it replaced goes.
        // Neither is this run's business: a failure is a warning.
        for image in built {
            if let Err(error) = self.publish(image) {
                self.emit(RunEvent::Trouble(Trouble::PublishImage(&error)));
            }
        }
        Ok(())
    }

    /// Makes the run's build of `image` its `latest`, and prunes the build
    /// it replaces.
    fn publish(&self, image: &BuiltImage) -> anyhow::Result<()> {
        let stack = self.stack;
        // None before the first build, or by a testbed that did not label it.
        let replaced = commands::builder_command(stack, image)
            .read()
            .ok()
            .map(|builder| builder.trim().to_string())
            .filter(|builder| {
                !builder.is_empty() && builder != "<no value>" && builder != stack.project()
            });
        commands::publish_command(stack, image).read()?;
        if let Some(builder) = replaced {
            commands::prune_command(stack, &builder).read()?;
        }
        Ok(())
    }

    /// Removes the run's own tags of the images testbed builds: an image
    /// that a later build superseded goes with them, once no container
    /// uses it.
    pub(super) fn release_images(&self) {
        let Some(release) = commands::release_command(self.stack, &self.plan.images.built) else {
            return;
        };
        let output = match release.output() {
            Ok(output) => output,
            Err(error) => return self.emit(RunEvent::Trouble(Trouble::ReleaseImages(&error))),
        };
        // A tag that never was (the build failed) is no news; one that a
        // kept stack's container holds stays with it.
        let stderr = String::from_utf8_lossy(&output.stderr);
        for line in stderr.lines() {
            if !line.trim().is_empty() && !images::is_missing(line) {
                self.emit(RunEvent::TagKept(line));
            }
        }
    }

    /// Creates the dependencies, then starts each once what it depends on
    /// allows, and waits until each is healthy, or running when it has no
    /// healthcheck, or has completed successfully. Says in `diagnoses` why
    /// those it gave up on were not ready.
    fn bring_up(
        &self,
        watch: Option<&Watch>,
        diagnoses: &mut Vec<Diagnosis>,
    ) -> Result<(), Outcome> {
        let (stack, plan) = (self.stack, self.plan);
        let started = Instant::now();
        let deadline = started + self.config.wait_timeout;
        self.emit(RunEvent::BringingUp {
            services: &plan.dependencies,
        });
        // Compose spends a tenth of a second (v2) to half a second (v1)
        // between its first create and its exit: what waits for nothing
        // starts meanwhile. Not on podman, which refuses compose v1's
        // attach to a container that started and already exited
        // ("container state improper").
        let tests = &self.config.service;
        // Under v1, compose itself starts the tests' own container first
        // (see `commands::create_commands`): it is not started again.
        let early = if plan.daemon.kind == DaemonKind::Docker {
            let mut early = model::waiting_for_none(&plan.services, &plan.created(tests));
            early.retain(|s| s != tests);
            early
        } else {
            Vec::new()
        };
        let (created, started_early) =
            startup::while_creating(stack, watch, &early, self.signals, || {
                for create in commands::create_commands(stack, plan, self.config) {
                    self.run_to_end(&create, Some(deadline))?;
                }
                Ok(())
            });
        match created {
            Err(Outcome::Failed(failure)) if failure.exit == Exit::Timeout => {
                return Err(self.not_ready(self.while_created(), &[]).into());
            }
            Err(Outcome::Failed(failure)) => return Err(self.port_taken(failure).into()),
            other => other?,
        }
        let created = stack.containers(false).map_err(Failure::engine)?;
        let mut started_early = started_early;
        if stack.engine().is_v1() && !plan.attached.is_empty() {
            let ran = created.iter().filter(|c| &c.service == tests);
            started_early.extend(ran.map(|c| c.id.clone()));
        }
        let names: Vec<String> = created.iter().map(|c| c.service.clone()).collect();
        let services = model::with_dependencies(&plan.services, &names);
        let awaited_healthy = model::awaited_healthy(
            (plan.services.iter()).filter(|s| services.contains(&s.name) || &s.name == tests),
        );
        let waits: Vec<Waits> = plan
            .services
            .iter()
            .filter(|s| services.contains(&s.name))
            .map(|s| Waits {
                service: s.name.clone(),
                on: s
                    .depends_on
                    .iter()
                    .map(|d| d.service.clone())
                    .filter(|d| services.contains(d))
                    .collect(),
                check_interval: s.healthcheck.as_ref().map(|h| h.cadence.interval),
                awaited_healthy: awaited_healthy.contains(&s.name),
            })
            .collect();
        self.emit(RunEvent::Starting {
            services: &services,
            waits: &waits,
        });
        let waited_from = SystemTime::now();
        let started_up = startup::start(
            stack,
            watch,
            &plan.services,
            startup::Created {
                containers: created,
                started: started_early,
                tests: (!plan.attached.is_empty()).then(|| tests.clone()),
            },
            deadline,
            self.signals,
            &mut |statuses| self.emit(RunEvent::Waiting(statuses)),
        );
        self.emit(RunEvent::WaitOver);
        match started_up {
            Ok(times) => {
                for ready in times {
                    self.emit(RunEvent::ServiceReady {
                        service: &ready.service,
                        after: ready.after,
                        at: waited_from + ready.after,
                        started_at: ready.started_after.map(|after| waited_from + after),
                    });
                }
                self.emit(RunEvent::Ready {
                    after: started.elapsed(),
                });
                Ok(())
            }
            Err(Stop::Failed(container, fault)) => {
                *diagnoses = why::diagnose(stack, std::slice::from_ref(&container), self.signals);
                Err(self
                    .dependency_failed(&container, &fault.to_string(), diagnoses)
                    .into())
            }
            Err(Stop::TimedOut {
                waiting,
                containers,
            }) => {
                *diagnoses = why::diagnose(stack, &containers, self.signals);
                let waiting = waiting
                    .into_iter()
                    .filter_map(|s| Some(format!("{} ({})", s.service, s.waiting_on?)))
                    .collect();
                Err(self.not_ready(waiting, diagnoses).into())
            }
            Err(Stop::StartFailed { services, error }) => {
                let names: Vec<String> = services.iter().map(|s| format!("`{s}`")).collect();
                let error = error.context(format!("cannot start {}", names.join(", ")));
                Err(self.port_taken(Failure::engine(error)).into())
            }
            Err(Stop::Interrupted) => Err(self.interrupted()),
            Err(Stop::Engine(error)) => Err(self.port_taken(Failure::engine(error)).into()),
        }
    }

    /// What each dependency was doing when the deadline passed while
    /// compose still created them. v1 checks the health of a dependency
    /// that runs (one started early) before it creates what waits for it
    /// as healthy, and waits there.
    fn while_created(&self) -> Vec<String> {
        let containers = self.stack.containers(false).unwrap_or_default();
        let status = |service: &str| {
            let container = containers.iter().find(|c| c.service == service)?;
            Some(match container.state.readiness() {
                Readiness::Waiting(what) => what.to_string(),
                Readiness::Failed(fault) => fault.to_string(),
                Readiness::Ready => "ready".into(),
            })
        };
        let plan = self.plan;
        plan.dependencies
            .iter()
            .map(|name| {
                let what = status(name).unwrap_or_else(|| {
                    let awaited = plan
                        .services
                        .iter()
                        .filter(|s| &s.name == name)
                        .flat_map(|s| &s.depends_on)
                        .filter(|d| d.condition == Condition::Healthy)
                        .find(|d| status(&d.service).is_some_and(|s| s != "ready"));
                    match awaited {
                        Some(d) => format!("not created: waiting for {} to be healthy", d.service),
                        None => "not created yet".into(),
                    }
                });
                format!("{name} ({what})")
            })
            .collect()
    }

    /// A fixed host port that something else holds: the hint, when the
    /// run kept the files' ports.
    fn port_taken(&self, failure: Failure) -> Failure {
        let error = format!("{:#}", failure.error);
        let taken =
            error.contains("port is already allocated") || error.contains("address already in use");
        if !taken || self.config.isolation.ports {
            return failure;
        }
        let how = match self.config.policy.run_tests {
            true => "drop --keep-ports",
            false => "start it with `testbed up --isolate`",
        };
        failure.with_hint(format!(
            "a host port the files fix is taken on the daemon's host: {how} to publish \
             each on a port the daemon picks (`testbed ports` says where)"
        ))
    }

    pub(super) fn interrupted(&self) -> Outcome {
        Outcome::Interrupted(self.signals.received().unwrap_or(libc::SIGTERM))
    }

    /// Names a failed dependency; its diagnosis, shown once the phase is
    /// over, says more, and its log stays with the failure for the reports.
    pub(super) fn dependency_failed(
        &self,
        container: &Container,
        why: &str,
        diagnoses: &[Diagnosis],
    ) -> Failure {
        let hint = match hint_of(diagnoses) {
            Some(hint) => hint.to_string(),
            None => format!(
                "{}; rerun with --keep to inspect the stack afterwards",
                what_is_above(diagnoses.first())
            ),
        };
        let failure = Failure::engine(anyhow!(
            "dependency `{}` {why} before the tests could start",
            container.service
        ))
        .with_hint(hint);
        match diagnoses.first() {
            Some(diagnosis) => failure.with_log(
                format!("{} (last {} log lines)", container.service, why::LOG_TAIL),
                diagnosis.log.clone(),
            ),
            None => failure,
        }
    }

    /// The readiness timeout, naming each service that was not ready and
    /// what it was doing.
    fn not_ready(&self, waiting: Vec<String>, diagnoses: &[Diagnosis]) -> Failure {
        let hint = hint_of(diagnoses)
            .unwrap_or("raise --wait-timeout, or check the healthchecks of the services named");
        Failure::new(
            Exit::Timeout,
            anyhow!(
                "not ready after {}: {}",
                humantime::format_duration(self.config.wait_timeout),
                waiting.join(", ")
            ),
        )
        .with_hint(hint)
    }

    /// Runs a captured command under the deadline and signals; a non-zero
    /// exit is an engine failure carrying its stderr.
    fn run_to_end(&self, cmd: &Cmd, deadline: Option<Instant>) -> Result<(), Outcome> {
        let child = cmd.spawn_captured().map_err(Failure::engine)?;
        match child
            .wait(deadline, self.signals)
            .map_err(Failure::engine)?
        {
            Waited::Done(output) => cmd.check(&output).map_err(|e| Failure::engine(e).into()),
            Waited::TimedOut => {
                child.kill();
                Err(Failure::new(Exit::Timeout, anyhow!("timed out")).into())
            }
            Waited::Interrupted => {
                child.kill();
                Err(self.interrupted())
            }
        }
    }
}

/// The first hint that fits one of the services given up on.
fn hint_of(diagnoses: &[Diagnosis]) -> Option<&str> {
    diagnoses.iter().find_map(|d| d.hint.as_deref())
}

/// Where a failed dependency's diagnosis, printed above the error, has its
/// clues: the output of its healthcheck's last runs, its log, or neither.
fn what_is_above(diagnosis: Option<&Diagnosis>) -> &'static str {
    let Some(diagnosis) = diagnosis else {
        return "its log is above";
    };
    let checked = diagnosis.probes.iter().any(|p| !p.output.is_empty());
    let logged = !diagnosis.log.trim().is_empty();
    match (checked, logged) {
        (true, true) => "its healthcheck's output and its log are above",
        (true, false) => "its healthcheck's output is above; it logged nothing",
        (false, true) => "its log is above",
        (false, false) => "it logged nothing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ProbeResult, Prober, ServiceState};

    fn diagnosis(probe_output: Option<&str>, log: &str) -> Diagnosis {
        Diagnosis {
            service: "db".into(),
            state: ServiceState::Unhealthy,
            restarts: 0,
            oom: None,
            probes: probe_output
                .into_iter()
                .map(|output| ProbeResult {
                    by: Prober::Daemon,
                    at: None,
                    exit_code: Some(1),
                    timed_out: false,
                    output: output.into(),
                })
                .collect(),
            log: log.into(),
            hint: None,
        }
    }

    /// The hint points at what the diagnosis above holds: an unhealthy
    /// service's clue is often its check's output, with an empty log.
    #[test]
    fn the_hint_says_where_the_clues_are() {
        let above = |probe, log| what_is_above(Some(&diagnosis(probe, log)));
        assert_eq!(
            above(Some("db is broken"), ""),
            "its healthcheck's output is above; it logged nothing"
        );
        assert_eq!(
            above(Some("db is broken"), "FATAL\n"),
            "its healthcheck's output and its log are above"
        );
        assert_eq!(above(None, "FATAL\n"), "its log is above");
        assert_eq!(above(Some(""), "  \n"), "it logged nothing");
        assert_eq!(what_is_above(None), "its log is above");
    }
}
