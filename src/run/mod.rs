//! One run, in the order it happens: preflight, up, wait until ready, test,
//! collect the artifacts and logs, teardown. Teardown runs whatever the
//! phases before it returned, and the exit code is decided only after it.
//! A run emits events and never prints.

mod after;
mod commands;
mod deaths;
pub mod decide;
mod phases;
mod plan;
mod profiles;
mod seeded;
pub mod session;
pub mod shards;
mod testing;
mod why;

use std::cell::Cell;

use anyhow::anyhow;

use crate::config::Config;
use crate::doctor;
use crate::engine::Engine;
use crate::engine::stack::Stack;
use crate::events::{
    ComposeUsed, Ending, Events, PhaseName, PhaseOutcome, RunEvent, StackAfter, Verdict,
};
use crate::exit::{Exit, Failure};
use crate::labels::RunLabels;
use crate::reaper::{Reaper, Target};
use crate::signals::Signals;
use crate::topology::mounts;

use decide::{decide, failed};
use phases::Driver;
use plan::Plan;

/// Runs what `config` asks for, telling `events` as it goes, and returns
/// how the process should exit.
pub fn run(config: &Config, signals: &Signals, events: &dyn Events) -> Exit {
    events.emit(RunEvent::Started {
        project: &config.project,
    });
    let mut verdict = if config.policy.remove {
        down(config, events)
    } else {
        run_stack(config, signals, events)
    };
    if let Ending::Failed(failure) = &verdict.ending {
        if failure.environment {
            verdict.diagnosis = Some(diagnose(failure, config));
        }
    }
    events.emit(RunEvent::Finished(&verdict));
    verdict.exit
}

/// Preflight, then the phases on the stack, then its teardown.
fn run_stack(config: &Config, signals: &Signals, events: &dyn Events) -> Verdict {
    let preflight = PhaseName::Preflight;
    events.emit(RunEvent::PhaseStarted {
        phase: preflight,
        header: "preflight: docker, compose, the files".into(),
    });
    let prepared = plan::preflight(config, events).and_then(|(engine, plan)| {
        if config.policy.alone {
            refuse_second_stack(&engine, config)?;
        }
        if let Some(artifacts) = &plan.artifacts {
            artifacts.prepare().map_err(Failure::engine)?;
        }
        Ok((engine, plan))
    });
    let (engine, plan) = match prepared {
        Ok(prepared) => prepared,
        Err(failure) => {
            events.emit(RunEvent::PhaseFinished {
                phase: preflight,
                outcome: PhaseOutcome::Failed,
                failure: Some(&failure),
            });
            return failed(failure);
        }
    };
    events.emit(RunEvent::PhaseFinished {
        phase: preflight,
        outcome: PhaseOutcome::Passed,
        failure: None,
    });
    let mut stack = Stack::new(&engine, &config.project, &config.files, &config.service)
        .with_globals(&config.compose_options)
        .with_profiles(plan.profiles.names())
        .with_healthchecks(&plan.services);
    if config.dry_run {
        events.emit(RunEvent::Plan(&commands::dry_run(&stack, &plan, config)));
        return decide(decide::Outcome::Ready, Ok(()), true);
    }
    if let Some(signal) = signals.received() {
        return Verdict {
            exit: Exit::Signal(signal),
            ending: Ending::Interrupted {
                signal,
                stack: StackAfter::NeverStarted,
            },
            teardown_error: None,
            diagnosis: None,
        };
    }

    // A stack left up on purpose says so.
    let mut labels = RunLabels::new(
        &config.project,
        config.ttl,
        config.policy.may_keep(),
        plan.facts.whereabouts.container_id(),
    );
    if config.policy.reuse {
        // Someone else's stack: ours only to use, not to remove.
        match session::check_recorded(&stack, &plan, signals) {
            // Compose v2 recreates a network or volume whose labels differ
            // from the ones it was created with, under the running services:
            // `test` hands compose exactly the labels `up` did.
            Ok(recorded) => labels = recorded.unwrap_or(labels),
            Err(failure) => return failed(failure),
        }
    }
    if let Some(rewritten) = &plan.rewritten {
        if let Err(error) = stack.use_model(&rewritten.yaml) {
            return failed(Failure::engine(error));
        }
    }
    if let Err(failure) = repoint_mounts(&mut stack, &plan, events) {
        return failed(failure);
    }
    if let Some(tests) = commands::tests_override(&stack, &plan, config) {
        if let Err(error) = stack.add_override(&tests) {
            return failed(Failure::engine(error));
        }
    }
    if let Err(error) = stack.apply_labels(&labels, &plan.model, &plan.images.built) {
        return failed(Failure::engine(error));
    }
    if !config.policy.reuse {
        stack.begin();
    }
    // What this run would remove, should it die first.
    let target = if config.policy.reuse {
        Target::Container(stack.test_container().to_string())
    } else {
        Target::Stack
    };
    let reaper = Reaper::start(engine.client(), &labels, &plan.facts, &target, events);
    // What testbed creates beside compose carries the project's label too,
    // so that every sweep finds it.
    let mut created_labels = labels.docker_args();
    created_labels.extend(["--label".to_string(), stack.label()]);
    let driver = Driver {
        config,
        plan: &plan,
        stack: &stack,
        labels: &created_labels,
        seeded: Cell::new(false),
        signals,
        events,
    };
    let outcome = driver.run_phases();
    driver.collect();
    driver.show_logs(&outcome);
    driver.bring_back();
    let down = driver.teardown(&outcome);
    if let Some(reaper) = reaper {
        reaper.finish(events);
    }
    events.emit(RunEvent::PhasesDone);
    let kept = driver.kept(&outcome);
    decide(outcome, down, kept)
}

/// Hands compose the bind mounts that the daemon finds elsewhere or in the
/// run's volume, at the path it finds them, and says what happens to each.
/// The volume is the stack's, to remove with it.
fn repoint_mounts(stack: &mut Stack, plan: &Plan, events: &dyn Events) -> Result<(), Failure> {
    for placed in &plan.mounts {
        events.emit(RunEvent::MountPlaced(placed));
    }
    if let Some(seeding) = &plan.seeding {
        stack.adopt_volume(&seeding.volume);
    }
    match mounts::override_yaml(&plan.mounts) {
        Some(yaml) => stack.add_override(&yaml).map_err(Failure::engine),
        None => Ok(()),
    }
}

/// `up` starts no second stack for the same files.
fn refuse_second_stack(engine: &Engine, config: &Config) -> Result<(), Failure> {
    match session::recorded_and_alive(engine, config) {
        Some(project) => Err(Failure::usage(anyhow!(
            "the stack {project} is already up for these compose files"
        ))
        .with_hint("run the tests with `testbed test`, or remove it first with `testbed down`")),
        None => Ok(()),
    }
}

/// `testbed down`: removes the recorded stack and forgets it.
fn down(config: &Config, events: &dyn Events) -> Verdict {
    let phase = |phase, outcome, failure| {
        events.emit(RunEvent::PhaseFinished {
            phase,
            outcome,
            failure,
        })
    };
    events.emit(RunEvent::PhaseStarted {
        phase: PhaseName::Preflight,
        header: "preflight: docker, compose, the files".into(),
    });
    let engine = match Engine::detect(config.compose.as_deref(), events.observer(), false) {
        Ok(engine) => engine,
        Err(failure) => {
            phase(PhaseName::Preflight, PhaseOutcome::Failed, Some(&failure));
            return failed(failure);
        }
    };
    events.emit(RunEvent::Compose(ComposeUsed::of(&engine)));
    phase(PhaseName::Preflight, PhaseOutcome::Passed, None);
    let stack = Stack::new(&engine, &config.project, &config.files, &config.service)
        .with_globals(&config.compose_options)
        .with_profiles(config.profiles.clone());
    events.emit(RunEvent::PhaseStarted {
        phase: PhaseName::Teardown,
        header: "teardown".into(),
    });
    let removed = stack
        .teardown(config.stop_timeout, true)
        .map_err(Failure::engine)
        .and_then(|()| session::forget(&config.cwd, &config.files));
    match removed {
        Ok(()) => {
            phase(PhaseName::Teardown, PhaseOutcome::Passed, None);
            Verdict {
                exit: Exit::Tests(0),
                ending: Ending::Removed,
                teardown_error: None,
                diagnosis: None,
            }
        }
        Err(failure) => {
            phase(PhaseName::Teardown, PhaseOutcome::Failed, Some(&failure));
            failed(failure)
        }
    }
}

/// What `testbed doctor` finds, which often shows the cause of a failure
/// of docker, the daemon or compose at a glance; without the hint the
/// failure already gave.
fn diagnose(failure: &Failure, config: &Config) -> String {
    let env = |name: &str| std::env::var(name).ok();
    let mut findings = doctor::diagnose(&doctor::Inputs {
        compose: config.compose.as_deref(),
        parent_container: config.parent_container.as_deref(),
        artifacts: config.artifacts.clone().unwrap_or(config.cwd.clone()),
        project: config.cwd.clone(),
        files: None,
        env: &env,
        ci: config.ci,
    });
    for finding in &mut findings {
        if finding.hint == failure.hint {
            finding.hint = None;
        }
    }
    let mut text = Vec::new();
    doctor::print(&findings, &mut text);
    String::from_utf8_lossy(&text).into_owned()
}
