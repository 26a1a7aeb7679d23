//! Starting the dependencies in dependency order, and knowing the moment
//! each is ready. Compose creates the containers (`up --no-start`); testbed
//! starts each service once its `depends_on` conditions hold, and runs each
//! healthcheck's own command with `docker exec` as soon as the container
//! runs, instead of waiting for the daemon's next interval. The healthcheck
//! still defines ready: a service is ready when its command succeeds, when
//! the daemon says healthy, or, without a healthcheck, once it runs.
//!
//! One `docker exec` per container repeats the check inside it until it
//! passes (a "watch"), every 50 ms at first, then less often the longer it
//! waits or the slower each run is: starting a process in a container
//! costs the daemon far more than the check itself, so this keeps many
//! parallel runs from drowning the engine. A container without `/bin/sh`
//! gets the check run one `docker exec` at a time instead, at the same
//! pace.
//!
//! Every `docker` process costs tens of milliseconds of CPU, which many runs
//! at once turn back into wall time, so the loop spends few: the services
//! that can start together share at most four `docker start`, a start that
//! succeeded says the containers run without an inspection, a watch that
//! passes says its service is ready, and only a watch that ends otherwise,
//! or the clock, prompts a `docker inspect`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::engine::cmd::{Child, Cmd, Waited};
use crate::engine::model::{Container, ContainerStatus, Fault, Healthcheck, Service};
pub use crate::engine::scheduler::Created;
use crate::engine::scheduler::{
    Action, GiveUp, Next, Observation, PAUSE_MAX, PAUSE_MIN, PAUSE_SHARE, ReadyAfter, Scheduler,
    ServiceStatus,
};
use crate::engine::stack::Stack;
use crate::engine::watch::{Happened, Watch};
use crate::signals::Signals;

/// How often the loop looks at its children.
const TICK: Duration = Duration::from_millis(10);

/// Repeats the healthcheck (`"$@"`) inside the container until it passes,
/// at the pace of [`pause`](crate::engine::scheduler::pause), with the
/// container's clock: `/proc/uptime`, in hundredths of a second. Without
/// it, every pause is the shortest; a `sleep` without fractions sleeps a
/// second instead of spinning.
fn watch_script() -> String {
    let hundredths = |d: Duration| d.as_millis() / 10;
    let (min, max, share) = (hundredths(PAUSE_MIN), hundredths(PAUSE_MAX), PAUSE_SHARE);
    let now = |var: &str| format!("read u _ </proc/uptime || u=0.00; {var}=${{u%.*}}${{u#*.}}");
    [
        now("b"),
        "t=$b".into(),
        r#"until "$@" >/dev/null 2>&1; do "#.to_string() + &now("n"),
        format!("g=$(((n-b)/{share})); [ $g -ge {min} ] || g={min}; [ $g -le {max} ] || g={max}"),
        "[ $((n-t)) -le $g ] || g=$((n-t))".into(),
        "sleep $((g/100)).$((g/10%10))$((g%10)) 2>/dev/null || sleep 1".into(),
        now("t") + "; done",
    ]
    .join("; ")
}

/// Why the dependencies did not all get ready.
#[derive(Debug)]
pub enum Stop {
    /// A dependency exited, turned unhealthy or kept restarting.
    Failed(Box<Container>, Fault),
    /// The deadline passed: what each service not ready was waiting on, and
    /// the containers of those that were created.
    TimedOut {
        waiting: Vec<ServiceStatus>,
        containers: Vec<Container>,
    },
    /// `docker start` of these services failed.
    StartFailed {
        services: Vec<String>,
        error: anyhow::Error,
    },
    Interrupted,
    Engine(anyhow::Error),
}

/// Runs `create`, and meanwhile starts each container of `services` the
/// moment compose has created it: the project's events say when, and what
/// they report at once starts in one `docker start`. For services that wait
/// for nothing, while compose creates the rest. Returns what `create`
/// returned, and the containers that
/// started; one that did not is left to [`start`].
pub fn while_creating<T>(
    stack: &Stack,
    watch: Option<&Watch>,
    services: &[String],
    signals: &Signals,
    create: impl FnOnce() -> T,
) -> (T, Vec<String>) {
    let Some(watch) = watch.filter(|_| !services.is_empty()) else {
        return (create(), Vec::new());
    };
    let created = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let starter = scope.spawn(|| {
            let mut cursor = 0;
            let mut starts = Vec::new();
            while !created.load(Ordering::SeqCst) {
                let ids: Vec<String> = watch
                    .wait(&mut cursor, TICK)
                    .into_iter()
                    .filter(|seen| {
                        seen.what == Happened::Created
                            && !seen.one_off
                            && services.contains(&seen.service)
                    })
                    .map(|seen| seen.id)
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                let start = stack.engine().docker(["start"]).args(ids);
                starts.extend(start.spawn_captured().ok());
            }
            // `docker start` prints each container it started.
            let mut started = Vec::new();
            for start in starts {
                match start.wait(None, signals) {
                    Ok(Waited::Done(output)) => started.extend(
                        String::from_utf8_lossy(&output.stdout)
                            .split_whitespace()
                            .map(str::to_string),
                    ),
                    _ => start.kill(),
                }
            }
            started
        });
        let result = create();
        created.store(true, Ordering::SeqCst);
        let started = starter.join().expect("starting early panicked");
        (result, started)
    })
}

/// Starts the created containers of `services` and waits until every one
/// is ready; those `created.started` already run. Returns each service's
/// time to ready, in the order they got ready. `watch` sees the status of
/// every service after each step.
pub fn start(
    stack: &Stack,
    events: Option<&Watch>,
    services: &[Service],
    created: Created,
    deadline: Instant,
    signals: &Signals,
    watch: &mut dyn FnMut(&[ServiceStatus]),
) -> Result<Vec<ReadyAfter>, Stop> {
    let mut scheduler = Scheduler::new(
        services,
        created,
        events.is_some(),
        Instant::now(),
        deadline,
    );
    let mut hands = Hands {
        stack,
        events,
        cursor: 0,
        starts: HashMap::new(),
        failed_starts: HashMap::new(),
        checks: HashMap::new(),
    };
    loop {
        let now = Instant::now();
        for observation in hands.observations(now) {
            scheduler.observe(observation, now);
        }
        let asked = match scheduler.next(now) {
            Next::Act(actions) => actions,
            // The last look decided it: `watch` sees what it saw, so that
            // the last service to get ready is seen ready too.
            Next::Ready(times) => {
                watch(&scheduler.statuses());
                return Ok(times);
            }
            Next::GiveUp(give_up) => {
                watch(&scheduler.statuses());
                return Err(hands.give_up(give_up));
            }
        };
        let mut inspected = false;
        for action in asked {
            if let Some(observation) = hands.perform(action, &scheduler, now)? {
                inspected |= matches!(observation, Observation::Inspected(_));
                scheduler.observe(observation, Instant::now());
            }
        }
        watch(&scheduler.statuses());
        if signals.received().is_some() {
            return Err(Stop::Interrupted);
        }
        // What the daemon just said is decided on at once.
        if !inspected {
            std::thread::sleep(TICK);
        }
    }
}

/// What performs a startup's actions, and reports what came of them.
/// Dropping it kills the `docker start` and `docker exec` still under way.
struct Hands<'a> {
    stack: &'a Stack<'a>,
    /// The project's events, and how far they were read.
    events: Option<&'a Watch>,
    cursor: usize,
    starts: HashMap<usize, Child>,
    /// Why each failed `docker start` failed, until the scheduler decides.
    failed_starts: HashMap<usize, anyhow::Error>,
    /// The checks under way, and when a single run is given up.
    checks: HashMap<String, (Child, Option<Instant>)>,
}

impl Hands<'_> {
    /// What happened since the last look: events, ended starts and checks.
    fn observations(&mut self, now: Instant) -> Vec<Observation> {
        let mut seen = Vec::new();
        if let Some(events) = self.events {
            seen.extend(
                events
                    .since(&mut self.cursor)
                    .into_iter()
                    .map(|seen| Observation::Seen {
                        id: seen.id,
                        what: seen.what,
                    }),
            );
            if !events.is_open() {
                self.events = None;
                seen.push(Observation::EventsEnded);
            }
        }
        let mut ended = Vec::new();
        for (&batch, child) in &self.starts {
            let ok = match child.try_wait() {
                Ok(None) => continue,
                Ok(Some(output)) => child.cmd().check(&output).map_err(|e| (batch, e)),
                Err(error) => Err((batch, error)),
            };
            if let Err((batch, error)) = ok {
                self.failed_starts.insert(batch, error);
            }
            ended.push(batch);
        }
        for batch in ended {
            self.starts.remove(&batch);
            let ok = !self.failed_starts.contains_key(&batch);
            seen.push(Observation::StartEnded { batch, ok });
        }
        self.checks.retain(|id, (child, deadline)| {
            let passed = match child.try_wait() {
                Ok(Some(output)) => output.status.success(),
                Ok(None) if deadline.is_some_and(|d| now >= d) => {
                    child.kill();
                    false
                }
                Ok(None) => return true,
                Err(_) => false,
            };
            seen.push(Observation::CheckEnded {
                id: id.clone(),
                passed,
            });
            false
        });
        seen
    }

    /// Does what the scheduler asked. What is known at once comes back at
    /// once: an inspection's answer, a check that could not start.
    fn perform(
        &mut self,
        action: Action,
        scheduler: &Scheduler,
        now: Instant,
    ) -> Result<Option<Observation>, Stop> {
        let healthcheck = |id: &str| scheduler.container(id)?.healthcheck.as_ref();
        let (id, check, single) = match action {
            Action::Start { batch, ids } => {
                let start = self.stack.engine().docker(["start"]).args(ids);
                let child = start.spawn_captured().map_err(Stop::Engine)?;
                self.starts.insert(batch, child);
                return Ok(None);
            }
            Action::Inspect { ids } => {
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                let fresh = self.stack.inspect(&ids, false).map_err(Stop::Engine)?;
                return Ok(Some(Observation::Inspected(fresh)));
            }
            Action::Watch { id } => {
                let check = healthcheck(&id);
                (id, check, false)
            }
            Action::Check { id } => {
                let check = healthcheck(&id);
                (id, check, true)
            }
        };
        // A check that cannot start is no verdict: the daemon's own
        // healthcheck still decides.
        let spawned = check.and_then(|check| {
            let child = check_command(self.stack, &id, check, !single).spawn_captured();
            Some((child.ok()?, single.then(|| now + check.timeout)))
        });
        match spawned {
            Some(child) => {
                self.checks.insert(id, child);
                Ok(None)
            }
            None => Ok(Some(Observation::CheckEnded { id, passed: false })),
        }
    }

    fn give_up(&mut self, give_up: GiveUp) -> Stop {
        match give_up {
            GiveUp::Failed { container, fault } => Stop::Failed(container, fault),
            GiveUp::TimedOut {
                waiting,
                containers,
            } => Stop::TimedOut {
                waiting,
                containers,
            },
            GiveUp::StartFailed { batch, services } => Stop::StartFailed {
                services,
                error: self
                    .failed_starts
                    .remove(&batch)
                    .unwrap_or_else(|| anyhow::anyhow!("`docker start` failed")),
            },
        }
    }
}

impl Drop for Hands<'_> {
    fn drop(&mut self) {
        for (child, _) in self.checks.values() {
            child.kill();
        }
        for child in self.starts.values() {
            child.kill();
        }
    }
}

/// Runs a running container's healthcheck once, as the daemon would: the
/// way to tell a service that is ready but not yet checked by the daemon
/// (`health: starting`) from one that is not ready.
pub fn healthy_now(stack: &Stack, container: &Container, signals: &Signals) -> bool {
    match &container.healthcheck {
        Some(_) => probe(stack, container, signals).is_some_and(|run| run.exit_code == Some(0)),
        None => container.state.status == ContainerStatus::Running,
    }
}

/// What one run of a healthcheck gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRun {
    pub began: SystemTime,
    /// None when it ran past its timeout.
    pub exit_code: Option<i64>,
    /// Its stdout and stderr.
    pub output: String,
}

/// Runs a container's healthcheck once, under its timeout; None when it
/// has none, or `docker exec` could not start.
pub fn probe(stack: &Stack, container: &Container, signals: &Signals) -> Option<CheckRun> {
    let check = container.healthcheck.as_ref()?;
    let began = SystemTime::now();
    let child = check_command(stack, &container.id, check, false)
        .spawn_captured()
        .ok()?;
    match child.wait(Some(Instant::now() + check.timeout), signals) {
        Ok(Waited::Done(output)) => Some(CheckRun {
            began,
            exit_code: output.status.code().map(i64::from),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }),
        _ => {
            child.kill();
            Some(CheckRun {
                began,
                exit_code: None,
                output: format!(
                    "timed out after {}",
                    humantime::format_duration(check.timeout)
                ),
            })
        }
    }
}

/// `docker exec` of a container's healthcheck: once, or as a watch that
/// repeats it until it passes. Not echoed: it runs many times a second.
fn check_command(stack: &Stack, id: &str, check: &Healthcheck, watch: bool) -> Cmd {
    let exec = stack.engine().docker(["exec", id]);
    let exec = if watch {
        exec.args(["/bin/sh", "-c", &watch_script(), "testbed-watch"])
    } else {
        exec
    };
    exec.args(check.command.iter().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The watch under the shells of common images (busybox's ash is the
    /// e2e tests' own): it ends when the check passes, and a check slower
    /// than the pace sets the pace.
    #[test]
    fn the_watch_runs_until_the_check_passes_under_dash_and_bash() {
        let dir = tempfile::tempdir().unwrap();
        for shell in ["dash", "bash"] {
            let Ok(path) = which::which(shell) else {
                continue;
            };
            let log = dir.path().join(format!("{shell}.log"));
            // Fails 3 times, each run taking 0.2 s, then passes.
            let check = format!(
                "echo run >>{log}; sleep 0.2; [ $(wc -l <{log}) -gt 3 ]",
                log = log.display()
            );
            let began = Instant::now();
            let status = std::process::Command::new(path)
                .args(["-c", &watch_script(), "testbed-watch", "sh", "-c", &check])
                .status()
                .unwrap();
            assert!(status.success(), "{shell}");
            // 4 runs of 0.2 s, each failing one followed by a pause as long.
            let took = began.elapsed();
            assert!(took >= Duration::from_millis(1_400), "{shell}: {took:?}");
            assert!(took < Duration::from_secs(3), "{shell}: {took:?}");
        }
    }
}
