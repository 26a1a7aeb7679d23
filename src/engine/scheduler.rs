//! The rules of a startup, without I/O: which services start when, which
//! containers get their healthcheck run, when to ask the daemon, and when
//! to stop waiting. [`Scheduler`] takes what was observed (an event, an
//! inspection, a `docker start` or a check that ended) and says what to do
//! next; `startup` performs it. Each service is one [`Unit`], each of its
//! containers one [`Record`].

use std::time::{Duration, Instant};

use crate::engine::model::{
    Condition, Container, ContainerStatus, Fault, Health, Readiness, Service, Waiting,
};
use crate::engine::watch::Happened;

/// How often every container is inspected, without events, while a started
/// container that is not ready has no watch: only the daemon can tell when
/// it is ready.
const INSPECT_EVERY: Duration = Duration::from_millis(250);
/// How often otherwise, without events. A watch ends, and so prompts an
/// inspection, when its check passes or its container stops; this catches
/// the rest, such as a ready dependency that exits or the daemon finding
/// one unhealthy, at a fraction of the cost (each inspection is a `docker`
/// process).
const INSPECT_WATCHED: Duration = Duration::from_secs(1);
/// How many `docker start` run at once when more services than that can
/// start together. One process starts its containers one by one; on this
/// kind of machine four at once start ten containers about as fast as ten
/// would, with fewer processes.
const STARTS_AT_ONCE: usize = 4;
/// How many one-at-a-time healthchecks run at once. Each `docker exec`
/// costs the daemon a process start: many at once slow down the very
/// services that are starting.
const MAX_CHECKS: usize = 2;
/// The pace of a check that has not passed yet, whether testbed runs it
/// one `docker exec` at a time or a watch repeats it inside the container:
/// the pause before the next run is a twentieth of the wait so far, at
/// least `PAUSE_MIN` and at most `PAUSE_MAX`, and never shorter than the
/// last run took. So a service is seen ready within about 5% of its wait,
/// and its checks keep to at most half of the time when a busy machine (many
/// runs at once) or a heavy check (a JVM tool) makes each run slow.
pub const PAUSE_SHARE: u32 = 20;
pub const PAUSE_MIN: Duration = Duration::from_millis(50);
pub const PAUSE_MAX: Duration = Duration::from_secs(1);
/// How much longer than the daemon's rules say a check that never passed
/// is given, for a busy daemon to say so itself, before testbed judges the
/// container unhealthy: engines that do not run healthchecks never do.
const VERDICT_MARGIN: Duration = Duration::from_secs(1);

/// What compose created for the dependencies, and which of those
/// containers already run.
pub struct Created {
    pub containers: Vec<Container>,
    /// The ids of the containers that were started while compose created
    /// the others.
    pub started: Vec<String>,
    /// The service whose own container runs the tests, when others attach
    /// to it: it counts as ready once started, and its exit is the tests'
    /// business, not a failed start.
    pub tests: Option<String>,
}

/// Something that happened since the scheduler last decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A project event about container `id`.
    Seen { id: String, what: Happened },
    /// The events stopped coming: from now on only inspections tell.
    EventsEnded,
    /// What `docker inspect` said of these containers.
    Inspected(Vec<Container>),
    /// A `docker start` of [`Action::Start`] ended, well or not.
    StartEnded { batch: usize, ok: bool },
    /// A healthcheck run in container `id` ended: a watch or a single run
    /// (a single run that overran its timeout has not passed).
    CheckEnded { id: String, passed: bool },
}

/// What the scheduler asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// One `docker start` of these containers, reported back as `batch`.
    Start { batch: usize, ids: Vec<String> },
    /// Run the container's healthcheck in it until it passes.
    Watch { id: String },
    /// Run the container's healthcheck in it once, under its timeout.
    Check { id: String },
    /// Inspect these containers, and report what the daemon said.
    Inspect { ids: Vec<String> },
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// These actions, then observe what comes of them.
    Act(Vec<Action>),
    /// Every service is ready, or the tests ended in their own container.
    Ready(Vec<ReadyAfter>),
    GiveUp(GiveUp),
}

/// A service that got ready, and how long after the startup began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyAfter {
    pub service: String,
    pub after: Duration,
    /// When its first container was seen to start, from the same moment.
    pub started_after: Option<Duration>,
}

/// Why the dependencies will not all get ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiveUp {
    /// A dependency exited, turned unhealthy or kept restarting.
    Failed {
        container: Box<Container>,
        fault: Fault,
    },
    /// The `docker start` of `batch`, of these services, failed.
    StartFailed { batch: usize, services: Vec<String> },
    /// The deadline passed: what each service not ready was doing, and the
    /// containers of those that were created.
    TimedOut {
        waiting: Vec<ServiceStatus>,
        containers: Vec<Container>,
    },
}

/// A service being waited for, and what it waits on; `None` once ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    pub service: String,
    pub waiting_on: Option<WaitingOn>,
}

/// What a service that is not ready waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitingOn {
    /// Not started: these dependencies' conditions do not hold yet.
    Dependencies(Vec<(String, Condition)>),
    /// Its `docker start` is under way.
    Starting,
    /// Started: what its first container that is not ready waits on.
    Container(Waiting),
    /// Started, and one of its containers will not become ready.
    Failed(Fault),
    /// Started, and the daemon has not said more yet.
    NotReady,
}

/// One service among the dependencies, and where it stands.
struct Unit {
    name: String,
    /// It runs the tests: ready once started, and never a failed start.
    tests: bool,
    /// Conditions on services that were created; others cannot hold it up.
    depends_on: Vec<(String, Condition)>,
    /// Its containers, as indexes into the records.
    records: Vec<usize>,
    phase: Phase,
    ready_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending,
    Starting,
    Started,
}

/// One container, as last seen, and its healthchecks.
struct Record {
    container: Container,
    /// When it was last seen to start.
    started: Option<Instant>,
    checks: Checks,
}

#[derive(Default)]
struct Checks {
    running: Option<Run>,
    /// A check that testbed ran passed: ready, whatever the daemon says.
    passed: bool,
    /// A watch cannot run here (no `/bin/sh`, or it ended without the
    /// check passing): its check runs one `docker exec` at a time.
    no_watch: bool,
    first: Option<Instant>,
    /// When the run under way began.
    began: Option<Instant>,
    /// When the last run ended, and how long it took.
    last: Option<(Instant, Duration)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Watch,
    Single,
}

/// The state of a startup.
pub struct Scheduler {
    began: Instant,
    deadline: Instant,
    /// Whether the project's events still come; without them only
    /// `docker inspect` tells what happened.
    events: bool,
    inspected: Instant,
    /// A watch ended without its check passing: the daemon is asked at
    /// once what became of its container.
    inspect_now: bool,
    /// What the records say came from an inspection since the last step:
    /// a failure seen in it needs no other.
    fresh: bool,
    units: Vec<Unit>,
    records: Vec<Record>,
    /// The `docker start` under way: batch, and the units it starts.
    starts: Vec<(usize, Vec<usize>)>,
    batches: usize,
    /// A failed `docker start`, held while an inspection tells whether the
    /// tests ended in their own container meanwhile: then their end decides.
    failed_start: Option<(usize, Vec<usize>, bool)>,
    /// A failure an event showed, held until an inspection completes it with
    /// what only the daemon keeps (the check's output, the OOM verdict); true
    /// once inspected.
    confirming: Option<(usize, Fault, bool)>,
    /// Units in the order they got ready.
    order: Vec<usize>,
}

impl Scheduler {
    /// The startup of the created containers of `services`; `events` says
    /// whether the project's events come.
    pub fn new(
        services: &[Service],
        created: Created,
        events: bool,
        now: Instant,
        deadline: Instant,
    ) -> Scheduler {
        let mut units = Vec::new();
        let mut records = Vec::new();
        for service in services {
            let mine: Vec<&Container> = created
                .containers
                .iter()
                .filter(|c| c.service == service.name)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let phase = match mine.iter().all(|c| created.started.contains(&c.id)) {
                true => Phase::Started,
                false => Phase::Pending,
            };
            let depends_on = service
                .depends_on
                .iter()
                .filter(|d| created.containers.iter().any(|c| c.service == d.service))
                .map(|d| (d.service.clone(), d.condition))
                .collect();
            units.push(Unit {
                name: service.name.clone(),
                tests: created.tests.as_ref() == Some(&service.name),
                depends_on,
                records: (records.len()..records.len() + mine.len()).collect(),
                phase,
                ready_after: None,
            });
            records.extend(mine.into_iter().map(|container| Record {
                started: created.started.contains(&container.id).then_some(now),
                container: container.clone(),
                checks: Checks::default(),
            }));
        }
        Scheduler {
            began: now,
            deadline,
            events,
            inspected: now,
            inspect_now: false,
            fresh: false,
            units,
            records,
            starts: Vec::new(),
            batches: 0,
            failed_start: None,
            confirming: None,
            order: Vec::new(),
        }
    }

    /// Takes in what happened.
    pub fn observe(&mut self, observation: Observation, now: Instant) {
        match observation {
            Observation::Seen { id, what } => {
                if let Some(record) = self.record_mut(&id) {
                    if what == Happened::Started {
                        record.started = Some(now);
                    }
                    apply(&mut record.container, &what);
                }
            }
            Observation::EventsEnded => self.events = false,
            Observation::Inspected(containers) => {
                self.inspected = now;
                self.inspect_now = false;
                self.fresh = true;
                for container in containers {
                    if let Some(record) = self.record_mut(&container.id) {
                        record.container = container;
                    }
                }
                // What was held for an inspection is decided now, on what
                // it said, even if the container was gone.
                if let Some((_, _, inspected)) = &mut self.confirming {
                    *inspected = true;
                }
                if let Some((_, _, inspected)) = &mut self.failed_start {
                    *inspected = true;
                }
            }
            Observation::StartEnded { batch, ok } => {
                let Some(at) = self.starts.iter().position(|(b, _)| *b == batch) else {
                    return;
                };
                let (_, units) = self.starts.swap_remove(at);
                if !ok {
                    self.failed_start = Some((batch, units, false));
                    return;
                }
                for u in units {
                    self.units[u].phase = Phase::Started;
                    // Unless an event already said what became of it.
                    for &r in &self.units[u].records {
                        let record = &mut self.records[r];
                        record.started.get_or_insert(now);
                        if record.container.state.status == ContainerStatus::Created {
                            record.container.started();
                        }
                    }
                }
            }
            Observation::CheckEnded { id, passed } => {
                let Some(record) = self.record_mut(&id) else {
                    return;
                };
                let checks = &mut record.checks;
                let run = checks.running.take();
                // After a watch, the first single run comes at once.
                checks.last = match (run, checks.began) {
                    (Some(Run::Single), Some(began)) => {
                        Some((now, now.saturating_duration_since(began)))
                    }
                    _ => None,
                };
                checks.passed |= passed;
                if !passed && run == Some(Run::Watch) {
                    checks.no_watch = true;
                    self.inspect_now = true;
                }
            }
        }
    }

    /// Decides what to do now.
    pub fn next(&mut self, now: Instant) -> Next {
        // Before anything, so that nothing starts past the deadline.
        if now >= self.deadline {
            return Next::GiveUp(GiveUp::TimedOut {
                waiting: self
                    .statuses()
                    .into_iter()
                    .filter(|s| s.waiting_on.is_some())
                    .collect(),
                containers: self.not_ready(),
            });
        }
        if let Some(next) = self.settle_failed_start() {
            return next;
        }
        let failure = self.failure(now);
        self.fresh = false;
        if let Some(next) = failure {
            return next;
        }
        if self.inspection_due(now) {
            self.inspected = now;
            return Next::Act(vec![Action::Inspect { ids: self.ids() }]);
        }
        self.mark_ready(now);
        if self.tests_over() || self.units.iter().all(|u| u.ready_after.is_some()) {
            return Next::Ready(self.times());
        }
        let mut actions = self.starts_now();
        actions.extend(self.checks_now(now));
        Next::Act(actions)
    }

    /// Every service, with what it waits on until it is ready.
    pub fn statuses(&self) -> Vec<ServiceStatus> {
        self.units
            .iter()
            .map(|unit| ServiceStatus {
                service: unit.name.clone(),
                waiting_on: unit.ready_after.is_none().then(|| self.waiting_on(unit)),
            })
            .collect()
    }

    /// The container `id`, as last seen.
    pub fn container(&self, id: &str) -> Option<&Container> {
        self.records
            .iter()
            .map(|r| &r.container)
            .find(|c| c.id == id)
    }

    fn record_mut(&mut self, id: &str) -> Option<&mut Record> {
        self.records.iter_mut().find(|r| r.container.id == id)
    }

    fn ids(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|r| r.container.id.clone())
            .collect()
    }

    /// A failed `docker start` gives up, unless the tests run in their own
    /// container: then an inspection first tells whether they ended, and so
    /// decide (a service that joins their network cannot start once they
    /// did).
    fn settle_failed_start(&mut self) -> Option<Next> {
        let (batch, units, inspected) = self.failed_start.take()?;
        let tests = self.units.iter().any(|u| u.tests);
        if tests && !inspected {
            self.failed_start = Some((batch, units, false));
            return Some(Next::Act(vec![Action::Inspect { ids: self.ids() }]));
        }
        if tests && self.tests_over() {
            return None;
        }
        let services = units.iter().map(|&u| self.units[u].name.clone()).collect();
        Some(Next::GiveUp(GiveUp::StartFailed { batch, services }))
    }

    /// A started dependency that exited badly, turned unhealthy or keeps
    /// restarting ends the startup. What an event said is completed by one
    /// inspection first, unless the records just came from one.
    fn failure(&mut self, now: Instant) -> Option<Next> {
        if let Some((record, fault, true)) = self.confirming.take() {
            let container = self.records[record].container.clone();
            let fault = self.fault(record, now).unwrap_or(fault);
            return Some(Next::GiveUp(GiveUp::Failed {
                container: Box::new(container),
                fault,
            }));
        }
        if self.confirming.is_some() {
            return None;
        }
        let started = self
            .units
            .iter()
            .filter(|u| u.phase == Phase::Started && !u.tests);
        let (record, fault) = started
            .flat_map(|u| &u.records)
            .find_map(|&r| Some((r, self.fault(r, now)?)))?;
        if !self.events || self.fresh {
            return Some(Next::GiveUp(GiveUp::Failed {
                container: Box::new(self.records[record].container.clone()),
                fault,
            }));
        }
        let id = self.records[record].container.id.clone();
        self.confirming = Some((record, fault, false));
        Some(Next::Act(vec![Action::Inspect { ids: vec![id] }]))
    }

    /// Why container `record` will not become ready, if it will not. A
    /// one-shot that completed is ready, unless another waits on it as
    /// healthy. One whose check never passed is unhealthy once the daemon
    /// should have said so.
    fn fault(&self, record: usize, now: Instant) -> Option<Fault> {
        let Record {
            container,
            started,
            checks,
        } = &self.records[record];
        match container.state.readiness() {
            Readiness::Failed(fault) => Some(fault),
            Readiness::Waiting(Waiting::Health(_)) => {
                let checked_for = now.saturating_duration_since((*started)?);
                let due = container.healthcheck.as_ref()?.cadence.verdict_due();
                (!checks.passed && checked_for >= due + VERDICT_MARGIN)
                    .then_some(Fault::NeverHealthy { checked_for })
            }
            Readiness::Ready if container.state.status.has_exited() => {
                let by = self.units.iter().find(|u| {
                    u.depends_on
                        .iter()
                        .any(|(d, c)| *d == container.service && *c == Condition::Healthy)
                })?;
                Some(Fault::CompletedWhileAwaited {
                    by: by.name.clone(),
                })
            }
            _ => None,
        }
    }

    /// The daemon is asked what happened at once after a watch ended
    /// without passing: its container may have stopped, which an engine's
    /// events can miss. Without events, also every so often.
    fn inspection_due(&self, now: Instant) -> bool {
        if self.inspect_now {
            return true;
        }
        if self.events {
            return false;
        }
        let every = match self.all_watched() {
            true => INSPECT_WATCHED,
            false => INSPECT_EVERY,
        };
        now.duration_since(self.inspected) >= every
    }

    /// Whether every started container that is not ready has a watch.
    fn all_watched(&self) -> bool {
        self.units
            .iter()
            .filter(|u| u.ready_after.is_none() && u.phase == Phase::Started)
            .flat_map(|u| &u.records)
            .map(|&r| &self.records[r].checks)
            .filter(|checks| !checks.passed)
            .all(|checks| checks.running == Some(Run::Watch))
    }

    fn is_ready(&self, record: usize) -> bool {
        let record = &self.records[record];
        record.checks.passed || record.container.state.readiness() == Readiness::Ready
    }

    fn mark_ready(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.began);
        for u in 0..self.units.len() {
            let unit = &self.units[u];
            let ready = unit.phase == Phase::Started
                && unit.ready_after.is_none()
                && (unit.tests || unit.records.iter().all(|&r| self.is_ready(r)));
            if ready {
                self.units[u].ready_after = Some(elapsed);
                self.order.push(u);
            }
        }
    }

    /// Whether the tests run in their service's own container, and it has
    /// exited.
    fn tests_over(&self) -> bool {
        self.units
            .iter()
            .filter(|u| u.tests && u.phase == Phase::Started)
            .flat_map(|u| &u.records)
            .any(|&r| self.records[r].container.state.status.has_exited())
    }

    fn times(&self) -> Vec<ReadyAfter> {
        self.order
            .iter()
            .map(|&u| &self.units[u])
            .filter(|unit| !unit.tests)
            .filter_map(|unit| {
                let started = unit.records.iter().filter_map(|&r| self.records[r].started);
                Some(ReadyAfter {
                    service: unit.name.clone(),
                    after: unit.ready_after?,
                    started_after: started
                        .min()
                        .map(|at| at.saturating_duration_since(self.began)),
                })
            })
            .collect()
    }

    /// Whether `dependency` lets its dependents start under `condition`.
    fn holds(&self, dependency: &str, condition: Condition) -> bool {
        let Some(unit) = self.units.iter().find(|u| u.name == dependency) else {
            return true;
        };
        match condition {
            Condition::Started => unit.phase == Phase::Started,
            Condition::Healthy => unit.ready_after.is_some(),
            Condition::CompletedSuccessfully => {
                unit.phase == Phase::Started
                    && unit.records.iter().all(|&r| {
                        let state = &self.records[r].container.state;
                        state.status.has_exited() && state.exit_code == 0
                    })
            }
        }
    }

    /// The services whose conditions hold now, in at most
    /// [`STARTS_AT_ONCE`] `docker start`: one starts its containers one
    /// after another, so the services share a few, which start at once.
    fn starts_now(&mut self) -> Vec<Action> {
        let startable: Vec<usize> = (0..self.units.len())
            .filter(|&u| {
                let unit = &self.units[u];
                unit.phase == Phase::Pending
                    && unit.depends_on.iter().all(|(d, c)| self.holds(d, *c))
            })
            .collect();
        let groups = startable.len().min(STARTS_AT_ONCE);
        let mut actions = Vec::new();
        for group in 0..groups {
            let units: Vec<usize> = startable
                .iter()
                .copied()
                .skip(group)
                .step_by(groups)
                .collect();
            let ids = units
                .iter()
                .flat_map(|&u| &self.units[u].records)
                .map(|&r| self.records[r].container.id.clone())
                .collect();
            for &u in &units {
                self.units[u].phase = Phase::Starting;
            }
            let batch = self.batches;
            self.batches += 1;
            self.starts.push((batch, units));
            actions.push(Action::Start { batch, ids });
        }
        actions
    }

    /// A watch in each running container with a healthcheck that has none;
    /// where a watch cannot run, single checks, a few at once, in the
    /// containers that have waited longest for one.
    fn checks_now(&mut self, now: Instant) -> Vec<Action> {
        let waiting: Vec<usize> = self
            .units
            .iter()
            .filter(|u| u.ready_after.is_none() && !u.tests)
            .flat_map(|u| u.records.iter().copied())
            .filter(|&r| {
                let record = &self.records[r];
                record.container.healthcheck.is_some()
                    && record.container.state.status == ContainerStatus::Running
                    && !record.checks.passed
                    && record.checks.running.is_none()
            })
            .collect();
        let mut actions = Vec::new();
        let mut due = Vec::new();
        for r in waiting {
            let checks = &mut self.records[r].checks;
            if !checks.no_watch {
                checks.running = Some(Run::Watch);
                checks.began = Some(now);
                checks.first.get_or_insert(now);
                actions.push(Action::Watch {
                    id: self.records[r].container.id.clone(),
                });
                continue;
            }
            let first = checks.first.unwrap_or(now);
            let rested = |(last, took): (Instant, Duration)| {
                now >= last + pause(last.saturating_duration_since(first), took)
            };
            if checks.last.is_none_or(rested) {
                due.push((checks.last.map(|(last, _)| last), r));
            }
        }
        // Never checked first, then the longest ago.
        due.sort_by_key(|(last, _)| *last);
        let singles = self
            .records
            .iter()
            .filter(|r| r.checks.running == Some(Run::Single))
            .count();
        for (_, r) in due.into_iter().take(MAX_CHECKS.saturating_sub(singles)) {
            let record = &mut self.records[r];
            record.checks.running = Some(Run::Single);
            record.checks.began = Some(now);
            record.checks.first.get_or_insert(now);
            actions.push(Action::Check {
                id: record.container.id.clone(),
            });
        }
        actions
    }

    /// The containers of the services that are not ready, as last seen.
    fn not_ready(&self) -> Vec<Container> {
        self.units
            .iter()
            .filter(|u| u.ready_after.is_none())
            .flat_map(|u| &u.records)
            .map(|&r| self.records[r].container.clone())
            .collect()
    }

    fn waiting_on(&self, unit: &Unit) -> WaitingOn {
        match unit.phase {
            Phase::Pending => WaitingOn::Dependencies(
                unit.depends_on
                    .iter()
                    .filter(|(d, c)| !self.holds(d, *c))
                    .cloned()
                    .collect(),
            ),
            Phase::Starting => WaitingOn::Starting,
            Phase::Started => unit
                .records
                .iter()
                .find_map(|&r| match self.records[r].container.state.readiness() {
                    Readiness::Waiting(what) => Some(WaitingOn::Container(what)),
                    Readiness::Failed(fault) => Some(WaitingOn::Failed(fault)),
                    Readiness::Ready => None,
                })
                .unwrap_or(WaitingOn::NotReady),
        }
    }
}

/// How long to wait before the next run of a check that has waited
/// `waited` for its first pass, when its last run took `took`; see
/// [`PAUSE_SHARE`].
pub fn pause(waited: Duration, took: Duration) -> Duration {
    (waited / PAUSE_SHARE).clamp(PAUSE_MIN, PAUSE_MAX).max(took)
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

#[cfg(test)]
mod tests;
