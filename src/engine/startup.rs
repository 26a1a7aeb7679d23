//! Starting the dependencies in dependency order, and knowing the moment
//! each is ready. Compose creates the containers (`up --no-start`); testbed
//! starts each service once its `depends_on` conditions hold, and runs each
//! healthcheck's own command with `docker exec` as soon as the container
//! runs, instead of waiting for the daemon's next interval. The healthcheck
//! still defines ready: a service is ready when its command succeeds, when
//! the daemon says healthy, or, without a healthcheck, once it runs.
//!
//! One `docker exec` per container repeats the check inside it every 50 ms
//! until it passes (a "watch"): starting a process in a container costs the
//! daemon far more than the check itself, so this keeps many parallel runs
//! from drowning the engine. A container without `/bin/sh` gets the check
//! run one `docker exec` at a time instead.
//!
//! Every `docker` process costs tens of milliseconds of CPU, which many runs
//! at once turn back into wall time, so the loop spends few: the services
//! that can start together share at most four `docker start`, a start that
//! succeeded says the containers run without an inspection, a watch that
//! passes says its service is ready, and only a watch that ends otherwise,
//! or the clock, prompts a `docker inspect`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::engine::cmd::{Child, Cmd, Waited};
use crate::engine::model::{
    Condition, Container, ContainerStatus, Health, Healthcheck, Readiness, Service,
};
use crate::engine::stack::Stack;
use crate::engine::watch::{Happened, Watch};
use crate::signals::Signals;

/// How often the loop looks at its children.
const TICK: Duration = Duration::from_millis(10);
/// How often every container is inspected, besides right after a watch
/// ended without its check passing, while a started container that is not
/// ready has no watch: only the daemon can tell when it is ready.
const INSPECT_EVERY: Duration = Duration::from_millis(250);
/// How often otherwise. A watch ends, and so prompts an inspection, when its
/// check passes or its container stops; this catches the rest, such as a
/// ready dependency that exits or the daemon finding one unhealthy, at a
/// fraction of the cost (each inspection is a `docker` process).
const INSPECT_WATCHED: Duration = Duration::from_secs(1);
/// How many `docker start` run at once when more services than that can
/// start together. One process starts its containers one by one; on this
/// kind of machine four at once start ten containers about as fast as ten
/// would, with fewer processes.
const STARTS_AT_ONCE: usize = 4;
/// How many one-at-a-time healthchecks testbed runs at once. Each `docker
/// exec` costs the daemon a process start: many at once slow down the very
/// services that are starting.
const MAX_PROBES: usize = 2;
/// Repeats the healthcheck (`"$@"`) inside the container until it passes.
/// A `sleep` without fractions sleeps a second instead of spinning.
const WATCH: &str = r#"while ! "$@" >/dev/null 2>&1; do sleep 0.05 2>/dev/null || sleep 1; done"#;
/// How long a container's healthcheck runs back to back. Most services are
/// ready within it; for one that takes longer, such as a database that
/// initialises, the pause between runs then grows by a tenth of the extra
/// wait, up to `PROBE_GAP_MAX`.
const PROBE_EAGER: Duration = Duration::from_secs(2);
const PROBE_GAP_MAX: Duration = Duration::from_secs(1);

/// Why the dependencies did not all get ready.
#[derive(Debug)]
pub enum Stop {
    /// A dependency exited, turned unhealthy or kept restarting.
    Failed(Box<Container>, String),
    /// The deadline passed: what each service not ready was doing, and
    /// the containers of those that were created.
    TimedOut {
        waiting: Vec<String>,
        containers: Vec<Container>,
    },
    Interrupted,
    Engine(anyhow::Error),
}

/// A service being waited for, and what it waits on; `None` once ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    pub service: String,
    pub waiting_on: Option<String>,
}

/// Runs `create`, and meanwhile starts each container of `services` the
/// moment compose has created it: the project's events say when, and what
/// they report at once starts in one `docker start`. For services that wait
/// for nothing, under a compose that takes long from its first create to
/// its exit. Returns what `create` returned, and the containers that
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

/// What compose created for the dependencies, and which of those
/// containers already run.
pub struct Created {
    pub containers: Vec<Container>,
    /// The ids of those [`while_creating`] started.
    pub started: Vec<String>,
    /// The service whose own container runs the tests, when others attach
    /// to it: it counts as ready once started, and its exit is the tests'
    /// business, not a failed start.
    pub tests: Option<String>,
}

/// Starts the created containers of `services` and waits until every one
/// is ready; those `started` already run. Returns each service's time to
/// ready, in the order they got ready. `watch` sees the status of every
/// service after each step.
pub fn start(
    stack: &Stack,
    events: Option<&Watch>,
    services: &[Service],
    created: Created,
    deadline: Instant,
    signals: &Signals,
    watch: &mut dyn FnMut(&[ServiceStatus]),
) -> Result<Vec<(String, Duration)>, Stop> {
    let mut startup = Startup::new(stack, events, services, created);
    loop {
        // Before a step, so that nothing is started past the deadline.
        if Instant::now() >= deadline {
            return Err(Stop::TimedOut {
                waiting: startup.waiting(),
                containers: startup.not_ready(),
            });
        }
        let done = startup.step()?;
        watch(&startup.statuses());
        if let Some(done) = done {
            return Ok(done);
        }
        if signals.received().is_some() {
            return Err(Stop::Interrupted);
        }
        std::thread::sleep(TICK);
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
    /// None when it ran past its timeout.
    pub exit_code: Option<i64>,
    /// Its stdout and stderr.
    pub output: String,
}

/// Runs a container's healthcheck once, under its timeout; None when it
/// has none, or `docker exec` could not start.
pub fn probe(stack: &Stack, container: &Container, signals: &Signals) -> Option<CheckRun> {
    let check = container.healthcheck.as_ref()?;
    let child = check_command(stack, &container.id, check, false)
        .spawn_captured()
        .ok()?;
    match child.wait(Some(Instant::now() + check.timeout), signals) {
        Ok(Waited::Done(output)) => Some(CheckRun {
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
        exec.args(["/bin/sh", "-c", WATCH, "testbed-watch"])
    } else {
        exec
    };
    exec.args(check.command.iter().cloned()).echo(false)
}

/// One service among the dependencies, and where it stands.
struct Unit {
    name: String,
    /// It runs the tests: ready once started, and never a failed start.
    tests: bool,
    /// Conditions on services that were created; others cannot hold us up.
    depends_on: Vec<(String, Condition)>,
    containers: Vec<String>,
    phase: Phase,
    ready_after: Option<Duration>,
}

enum Phase {
    Pending,
    Starting,
    Started,
}

/// One `docker start` under way, of the containers of `units`.
struct Start {
    child: Child,
    units: Vec<usize>,
}

/// A healthcheck under way in one container.
struct Probe {
    child: Child,
    /// When a single run of the check is given up; none for a watch.
    deadline: Option<Instant>,
    watch: bool,
}

/// The state of a startup. Dropping it kills the `docker start` and
/// `docker exec` children still under way.
struct Startup<'a> {
    stack: &'a Stack<'a>,
    /// The project's events, and how far they were read; without them, or
    /// once they end, only `docker inspect` tells what happened.
    events: Option<&'a Watch>,
    cursor: usize,
    began: Instant,
    units: Vec<Unit>,
    starts: Vec<Start>,
    ids: Vec<String>,
    containers: HashMap<String, Container>,
    inspected: Instant,
    /// Containers whose healthcheck succeeded when testbed ran it.
    probed_ready: Vec<String>,
    probes: HashMap<String, Probe>,
    /// When each container's last healthcheck ended, to take turns.
    last_probe: HashMap<String, Instant>,
    /// When each container's first healthcheck started.
    first_probe: HashMap<String, Instant>,
    /// Containers where a watch could not run (no `/bin/sh`, or it ended
    /// without the check passing): their check runs one exec at a time.
    no_watch: Vec<String>,
    /// Services in the order they got ready.
    order: Vec<String>,
}

impl<'a> Startup<'a> {
    fn new(
        stack: &'a Stack<'a>,
        events: Option<&'a Watch>,
        services: &[Service],
        Created {
            containers: created,
            started,
            tests,
        }: Created,
    ) -> Startup<'a> {
        let units = services
            .iter()
            .filter_map(|service| {
                let containers: Vec<String> = created
                    .iter()
                    .filter(|c| c.service == service.name)
                    .map(|c| c.id.clone())
                    .collect();
                let depends_on = service
                    .depends_on
                    .iter()
                    .filter(|d| created.iter().any(|c| c.service == d.service))
                    .map(|d| (d.service.clone(), d.condition))
                    .collect();
                let phase = if containers.iter().all(|id| started.contains(id)) {
                    Phase::Started
                } else {
                    Phase::Pending
                };
                (!containers.is_empty()).then(|| Unit {
                    tests: tests.as_ref() == Some(&service.name),
                    name: service.name.clone(),
                    depends_on,
                    containers,
                    phase,
                    ready_after: None,
                })
            })
            .collect();
        let now = Instant::now();
        Startup {
            stack,
            events,
            cursor: 0,
            began: now,
            units,
            starts: Vec::new(),
            ids: created.iter().map(|c| c.id.clone()).collect(),
            containers: created.into_iter().map(|c| (c.id.clone(), c)).collect(),
            inspected: now,
            probed_ready: Vec::new(),
            probes: HashMap::new(),
            last_probe: HashMap::new(),
            first_probe: HashMap::new(),
            no_watch: Vec::new(),
            order: Vec::new(),
        }
    }

    /// One turn of the loop: returns the times to ready once all are.
    fn step(&mut self) -> Result<Option<Vec<(String, Duration)>>, Stop> {
        let now = Instant::now();
        let watch_ended = self.reap_probes(now);
        if !self.observe() {
            let every = if self.all_watched() {
                INSPECT_WATCHED
            } else {
                INSPECT_EVERY
            };
            if watch_ended || now.duration_since(self.inspected) >= every {
                self.inspect()?;
            }
        }
        self.check_failures()?;
        self.reap_starts()?;
        self.mark_ready();
        // Tests that ended in their own container end the wait: what they
        // would have waited for no longer matters, and a service that
        // joins their network can no longer start.
        let tests_over = self.tests_over();
        if !tests_over {
            self.start_what_can_start()?;
            self.run_probes(now);
        }
        if tests_over || self.units.iter().all(|u| u.ready_after.is_some()) {
            let times = self
                .order
                .iter()
                .filter_map(|name| {
                    let unit = self.units.iter().find(|u| &u.name == name && !u.tests)?;
                    Some((name.clone(), unit.ready_after?))
                })
                .collect();
            return Ok(Some(times));
        }
        Ok(None)
    }

    /// The first service that waits on `service` as healthy, if one does.
    fn awaited_by(&self, service: &str) -> Option<&str> {
        self.units
            .iter()
            .find(|u| {
                u.depends_on
                    .iter()
                    .any(|(d, c)| d == service && *c == Condition::Healthy)
            })
            .map(|u| u.name.as_str())
    }

    /// Whether the tests run in their service's own container, and it has
    /// exited.
    fn tests_over(&self) -> bool {
        self.units
            .iter()
            .filter(|u| u.tests && matches!(u.phase, Phase::Started))
            .flat_map(|u| &u.containers)
            .any(|id| {
                self.containers
                    .get(id)
                    .is_some_and(|c| c.state.status.has_exited())
            })
    }

    /// Whether every started container that is not ready has a watch.
    fn all_watched(&self) -> bool {
        self.units
            .iter()
            .filter(|u| u.ready_after.is_none() && matches!(u.phase, Phase::Started))
            .flat_map(|u| &u.containers)
            .filter(|id| !self.probed_ready.contains(id))
            .all(|id| self.probes.get(id).is_some_and(|p| p.watch))
    }

    /// Takes in what the project's events reported since the last look;
    /// returns whether they still come, so that nothing needs inspecting.
    fn observe(&mut self) -> bool {
        let Some(events) = self.events else {
            return false;
        };
        for seen in events.since(&mut self.cursor) {
            if let Some(container) = self.containers.get_mut(&seen.id) {
                apply(container, &seen.what);
            }
        }
        events.is_open()
    }

    fn inspect(&mut self) -> Result<(), Stop> {
        let ids: Vec<&str> = self.ids.iter().map(String::as_str).collect();
        let fresh = self.stack.inspect(&ids, false).map_err(Stop::Engine)?;
        self.containers
            .extend(fresh.into_iter().map(|c| (c.id.clone(), c)));
        self.inspected = Instant::now();
        Ok(())
    }

    /// Takes in the checks that ended; returns whether a watch ended
    /// without its check passing, as when its container stopped.
    fn reap_probes(&mut self, now: Instant) -> bool {
        let (probed_ready, last_probe, no_watch) = (
            &mut self.probed_ready,
            &mut self.last_probe,
            &mut self.no_watch,
        );
        let before = no_watch.len();
        self.probes.retain(|id, probe| {
            let finished = match probe.child.try_wait() {
                Ok(Some(output)) if output.status.success() => {
                    probed_ready.push(id.clone());
                    true
                }
                Ok(Some(_)) => {
                    if probe.watch {
                        no_watch.push(id.clone());
                    }
                    true
                }
                Ok(None) if probe.deadline.is_some_and(|d| now >= d) => {
                    probe.child.kill();
                    true
                }
                Ok(None) => false,
                Err(_) => true,
            };
            if finished {
                last_probe.insert(id.clone(), now);
            }
            !finished
        });
        self.no_watch.len() != before
    }

    /// A started container that exited badly, turned unhealthy or keeps
    /// restarting ends the startup. What an event said is completed by an
    /// inspection, which has the healthcheck's output and the OOM killer's
    /// verdict.
    fn check_failures(&self) -> Result<(), Stop> {
        let started = self
            .units
            .iter()
            .filter(|u| matches!(u.phase, Phase::Started) && !u.tests);
        for unit in started {
            for id in &unit.containers {
                let Some(container) = self.containers.get(id) else {
                    continue;
                };
                // A one-shot that completed; not one that another waits on
                // as healthy, which compose would refuse too.
                let judge = |container: &Container| match container.state.readiness() {
                    Readiness::Ready if container.state.status.has_exited() => {
                        match self.awaited_by(&unit.name) {
                            Some(waiting) => Readiness::Failed(format!(
                                "exited with code 0 ({waiting} waits for it to be healthy)"
                            )),
                            None => Readiness::Ready,
                        }
                    }
                    readiness => readiness,
                };
                if let Readiness::Failed(why) = judge(container) {
                    if self.events.is_none() {
                        return Err(Stop::Failed(Box::new(container.clone()), why));
                    }
                    let inspected = self.stack.inspect(&[id.as_str()], false);
                    let container = inspected
                        .map_err(Stop::Engine)?
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| container.clone());
                    let why = match judge(&container) {
                        Readiness::Failed(inspected) => inspected,
                        _ => why,
                    };
                    return Err(Stop::Failed(Box::new(container), why));
                }
            }
        }
        Ok(())
    }

    fn reap_starts(&mut self) -> Result<(), Stop> {
        let mut i = 0;
        while i < self.starts.len() {
            let Some(output) = self.starts[i].child.try_wait().map_err(Stop::Engine)? else {
                i += 1;
                continue;
            };
            let start = self.starts.swap_remove(i);
            if let Err(e) = start.child.cmd().check(&output) {
                // A service that joins the tests' network cannot start once
                // they ended: their end decides, not this.
                if self.units.iter().any(|u| u.tests) {
                    self.inspect()?;
                    if self.tests_over() {
                        continue;
                    }
                }
                let names: Vec<String> = start
                    .units
                    .iter()
                    .map(|&u| format!("`{}`", self.units[u].name))
                    .collect();
                return Err(Stop::Engine(
                    e.context(format!("cannot start {}", names.join(", "))),
                ));
            }
            for u in start.units {
                let unit = &mut self.units[u];
                unit.phase = Phase::Started;
                // Unless an event already said what became of it.
                for id in &unit.containers {
                    if let Some(container) = self.containers.get_mut(id) {
                        if container.state.status == ContainerStatus::Created {
                            container.started();
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn is_ready(&self, id: &String) -> bool {
        self.probed_ready.contains(id)
            || self
                .containers
                .get(id)
                .is_some_and(|c| c.state.readiness() == Readiness::Ready)
    }

    fn mark_ready(&mut self) {
        let elapsed = self.began.elapsed();
        let newly: Vec<usize> = (0..self.units.len())
            .filter(|&i| {
                let unit = &self.units[i];
                matches!(unit.phase, Phase::Started)
                    && unit.ready_after.is_none()
                    && (unit.tests || unit.containers.iter().all(|id| self.is_ready(id)))
            })
            .collect();
        for i in newly {
            self.units[i].ready_after = Some(elapsed);
            self.order.push(self.units[i].name.clone());
        }
    }

    /// Whether `dependency` lets its dependents start under `condition`.
    fn holds(&self, dependency: &str, condition: Condition) -> bool {
        let Some(unit) = self.units.iter().find(|u| u.name == dependency) else {
            return true;
        };
        match condition {
            Condition::Started => matches!(unit.phase, Phase::Started),
            Condition::Healthy => unit.ready_after.is_some(),
            Condition::CompletedSuccessfully => {
                matches!(unit.phase, Phase::Started)
                    && unit.containers.iter().all(|id| {
                        self.containers
                            .get(id)
                            .is_some_and(|c| c.state.status.has_exited() && c.state.exit_code == 0)
                    })
            }
        }
    }

    fn start_what_can_start(&mut self) -> Result<(), Stop> {
        let startable: Vec<usize> = (0..self.units.len())
            .filter(|&i| {
                let unit = &self.units[i];
                matches!(unit.phase, Phase::Pending)
                    && unit.depends_on.iter().all(|(d, c)| self.holds(d, *c))
            })
            .collect();
        // `docker start` starts its containers one after another: the
        // services share a few of them, which start at once.
        let groups = startable.len().min(STARTS_AT_ONCE);
        for group in 0..groups {
            let units: Vec<usize> = startable
                .iter()
                .copied()
                .skip(group)
                .step_by(groups)
                .collect();
            let ids = units
                .iter()
                .flat_map(|&i| self.units[i].containers.iter().cloned());
            let child = self
                .stack
                .engine()
                .docker(["start"])
                .args(ids)
                .spawn_captured()
                .map_err(Stop::Engine)?;
            for &i in &units {
                self.units[i].phase = Phase::Starting;
            }
            self.starts.push(Start { child, units });
        }
        Ok(())
    }

    /// Starts a watch in each container that runs and has none; where a
    /// watch cannot run, single checks, back to back, in the containers that
    /// have waited longest for one.
    fn run_probes(&mut self, now: Instant) {
        let waiting = self
            .units
            .iter()
            .filter(|u| u.ready_after.is_none() && !u.tests);
        let mut due = Vec::new();
        let mut watches = Vec::new();
        for id in waiting.flat_map(|u| &u.containers) {
            let Some(container) = self.containers.get(id) else {
                continue;
            };
            let Some(check) = &container.healthcheck else {
                continue;
            };
            let idle = container.state.status == ContainerStatus::Running
                && !self.probed_ready.contains(id)
                && !self.probes.contains_key(id);
            if idle && !self.no_watch.contains(id) {
                watches.push((id.clone(), check.clone()));
                continue;
            }
            let first = self.first_probe.get(id).copied().unwrap_or(now);
            let gap = ((now - first).saturating_sub(PROBE_EAGER) / 10).min(PROBE_GAP_MAX);
            let rested = self
                .last_probe
                .get(id)
                .is_none_or(|last| now >= *last + gap);
            if container.state.status == ContainerStatus::Running
                && !self.probed_ready.contains(id)
                && !self.probes.contains_key(id)
                && rested
            {
                due.push((self.last_probe.get(id).copied(), id.clone(), check.clone()));
            }
        }
        for (id, check) in watches {
            self.launch(id, &check, None, now);
        }
        // Never probed first, then the longest ago.
        due.sort_by_key(|(last, _, _)| *last);
        let singles = self.probes.values().filter(|p| !p.watch).count();
        let free = MAX_PROBES.saturating_sub(singles);
        for (_, id, check) in due.into_iter().take(free) {
            let deadline = Some(now + check.timeout);
            self.launch(id, &check, deadline, now);
        }
    }

    /// Starts a check in container `id`: a single run given up at
    /// `deadline`, or without one, a watch.
    fn launch(&mut self, id: String, check: &Healthcheck, deadline: Option<Instant>, now: Instant) {
        let watch = deadline.is_none();
        // A probe that cannot start is no verdict: the daemon's own
        // healthcheck still decides.
        if let Ok(child) = check_command(self.stack, &id, check, watch).spawn_captured() {
            self.first_probe.entry(id.clone()).or_insert(now);
            let probe = Probe {
                child,
                deadline,
                watch,
            };
            self.probes.insert(id, probe);
        }
    }

    /// The containers of the services that are not ready, as last seen.
    fn not_ready(&self) -> Vec<Container> {
        self.units
            .iter()
            .filter(|u| u.ready_after.is_none())
            .flat_map(|u| &u.containers)
            .filter_map(|id| self.containers.get(id).cloned())
            .collect()
    }

    /// What each service that is not ready is doing, for the timeout error.
    fn waiting(&self) -> Vec<String> {
        self.statuses()
            .into_iter()
            .filter_map(|s| Some(format!("{} ({})", s.service, s.waiting_on?)))
            .collect()
    }

    /// Every service, with what it is doing until it is ready.
    fn statuses(&self) -> Vec<ServiceStatus> {
        self.units
            .iter()
            .map(|unit| {
                if unit.ready_after.is_some() {
                    return ServiceStatus {
                        service: unit.name.clone(),
                        waiting_on: None,
                    };
                }
                let what = match unit.phase {
                    Phase::Pending => {
                        let blocking: Vec<String> = unit
                            .depends_on
                            .iter()
                            .filter(|(d, c)| !self.holds(d, *c))
                            .map(|(d, c)| match c {
                                Condition::Started => format!("{d} to start"),
                                Condition::Healthy => format!("{d} to be healthy"),
                                Condition::CompletedSuccessfully => {
                                    format!("{d} to complete")
                                }
                            })
                            .collect();
                        format!("not started: waiting for {}", blocking.join(" and "))
                    }
                    Phase::Starting => "starting".into(),
                    Phase::Started => unit
                        .containers
                        .iter()
                        .filter_map(|id| match self.containers.get(id)?.state.readiness() {
                            Readiness::Waiting(what) | Readiness::Failed(what) => Some(what),
                            Readiness::Ready => None,
                        })
                        .next()
                        .unwrap_or_else(|| "not ready".into()),
                };
                ServiceStatus {
                    service: unit.name.clone(),
                    waiting_on: Some(what),
                }
            })
            .collect()
    }
}

/// What an event says of a container's state.
pub fn apply(container: &mut Container, what: &Happened) {
    let state = &mut container.state;
    match what {
        Happened::Created => {}
        Happened::Started => {
            state.oom_killed = false;
            container.started();
        }
        Happened::Died { exit_code } => {
            state.status = ContainerStatus::Exited;
            state.exit_code = *exit_code;
        }
        Happened::OomKilled => state.oom_killed = true,
        Happened::Health(status) => match &mut state.health {
            Some(health) => health.status.clone_from(status),
            None => {
                state.health = Some(Health {
                    status: status.clone(),
                    log: None,
                })
            }
        },
    }
}

impl Drop for Startup<'_> {
    fn drop(&mut self) {
        for probe in self.probes.values() {
            probe.child.kill();
        }
        for start in &self.starts {
            start.child.kill();
        }
    }
}
