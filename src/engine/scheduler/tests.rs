//! The scheduling rules, driven by observations alone: no docker at all.

use std::collections::BTreeMap;

use super::*;
use crate::engine::model::{Cadence, CheckSaid, Dependency, Healthcheck, State};

fn service(name: &str, depends_on: &[(&str, Condition)]) -> Service {
    Service {
        name: name.into(),
        depends_on: depends_on
            .iter()
            .map(|(service, condition)| Dependency {
                service: service.to_string(),
                condition: *condition,
                required: true,
            })
            .collect(),
        profiles: Vec::new(),
        image: None,
        builds: false,
        healthcheck: None,
    }
}

/// The created container of `service`, named after it, with a healthcheck
/// or without.
fn container(service: &str, healthcheck: bool) -> Container {
    Container {
        id: service.into(),
        name: format!("p-{service}-1"),
        service: service.into(),
        state: State {
            status: ContainerStatus::Created,
            exit_code: 0,
            error: String::new(),
            started_at: String::new(),
            oom_killed: false,
            health: None,
        },
        healthcheck: healthcheck.then(|| Healthcheck {
            command: vec!["pg_isready".into()],
            timeout: Duration::from_secs(5),
            cadence: Cadence::default(),
        }),
        labels: BTreeMap::new(),
        published: Vec::new(),
        created: String::new(),
        restarts: 0,
        memory_limit: None,
    }
}

/// A service: its name, whether it has a healthcheck, what it depends on.
type Spec<'a> = (&'a str, bool, &'a [(&'a str, Condition)]);

/// A startup, and the moment it began.
struct Given {
    scheduler: Scheduler,
    t0: Instant,
}

impl Given {
    /// `services` (name, has a healthcheck, depends on), every one created;
    /// the project's events come when `events`.
    fn new(services: &[Spec], events: bool) -> Given {
        Given::with(services, events, &[], None)
    }

    fn with(services: &[Spec], events: bool, started: &[&str], tests: Option<&str>) -> Given {
        let t0 = Instant::now();
        let created = Created {
            containers: services.iter().map(|(s, h, _)| container(s, *h)).collect(),
            started: started.iter().map(|s| s.to_string()).collect(),
            tests: tests.map(str::to_string),
        };
        let services: Vec<Service> = services.iter().map(|(s, _, d)| service(s, d)).collect();
        let deadline = t0 + Duration::from_secs(300);
        Given {
            scheduler: Scheduler::new(&services, created, events, t0, deadline),
            t0,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn next(&mut self, ms: u64) -> Next {
        let now = self.at(ms);
        self.scheduler.next(now)
    }

    fn observe(&mut self, ms: u64, observation: Observation) {
        let now = self.at(ms);
        self.scheduler.observe(observation, now);
    }

    fn seen(&mut self, ms: u64, id: &str, what: Happened) {
        let id = id.to_string();
        self.observe(ms, Observation::Seen { id, what });
    }

    /// The actions of the next step; panics on any other answer.
    fn actions(&mut self, ms: u64) -> Vec<Action> {
        match self.next(ms) {
            Next::Act(actions) => actions,
            other => panic!("expected actions at {ms} ms, got {other:?}"),
        }
    }

    /// Starts what the next step starts, and says each start succeeded.
    fn start_all(&mut self, ms: u64) -> Vec<Vec<String>> {
        let mut started = Vec::new();
        for action in self.actions(ms) {
            if let Action::Start { batch, ids } = action {
                self.observe(ms, Observation::StartEnded { batch, ok: true });
                started.push(ids);
            }
        }
        started
    }

    fn status(&self, service: &str) -> Option<WaitingOn> {
        let statuses = self.scheduler.statuses();
        let status = statuses.into_iter().find(|s| s.service == service);
        status.expect("a service of the startup").waiting_on
    }
}

fn start(batch: usize, ids: &[&str]) -> Action {
    Action::Start {
        batch,
        ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

fn watch(id: &str) -> Action {
    Action::Watch { id: id.into() }
}

fn check(id: &str) -> Action {
    Action::Check { id: id.into() }
}

fn inspect(ids: &[&str]) -> Action {
    Action::Inspect {
        ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

/// Every service got ready: each with when it started and when it got
/// ready, in ms.
fn ready(times: &[(&str, u64, u64)]) -> Next {
    Next::Ready(
        times
            .iter()
            .map(|(service, started, ready)| ReadyAfter {
                service: service.to_string(),
                after: Duration::from_millis(*ready),
                started_after: Some(Duration::from_millis(*started)),
            })
            .collect(),
    )
}

/// The startup gave up on `container`, for `fault`.
fn gave_up(container: Container, fault: Fault) -> Next {
    Next::GiveUp(GiveUp::Failed {
        container: Box::new(container),
        fault,
    })
}

/// `container` as `docker inspect` would show it after it exited.
fn exited(container: &Container, code: i64, oom_killed: bool) -> Container {
    let mut container = container.clone();
    container.state.status = ContainerStatus::Exited;
    container.state.exit_code = code;
    container.state.oom_killed = oom_killed;
    container
}

#[test]
fn services_start_in_dependency_order_and_get_ready_in_it() {
    use Condition::*;
    let mut given = Given::new(
        &[
            ("db", true, &[]),
            ("api", false, &[("db", Healthy)]),
            ("worker", false, &[("api", Started)]),
        ],
        true,
    );
    assert_eq!(given.actions(0), [start(0, &["db"])]);
    given.observe(5, Observation::StartEnded { batch: 0, ok: true });
    assert_eq!(given.actions(10), [watch("db")]);
    assert_eq!(
        given.status("api"),
        Some(WaitingOn::Dependencies(vec![("db".into(), Healthy)]))
    );
    let passed = Observation::CheckEnded {
        id: "db".into(),
        passed: true,
    };
    given.observe(300, passed);
    assert_eq!(given.actions(300), [start(1, &["api"])]);
    assert_eq!(given.status("api"), Some(WaitingOn::Starting));
    assert_eq!(
        given.status("worker"),
        Some(WaitingOn::Dependencies(vec![("api".into(), Started)]))
    );
    given.observe(350, Observation::StartEnded { batch: 1, ok: true });
    assert_eq!(given.actions(360), [start(2, &["worker"])]);
    given.observe(400, Observation::StartEnded { batch: 2, ok: true });
    assert_eq!(
        given.next(410),
        ready(&[("db", 5, 300), ("api", 350, 360), ("worker", 400, 410)])
    );
}

#[test]
fn each_condition_lets_a_dependent_start_when_compose_would() {
    use Condition::*;
    // What became of the dependency once started, and whether its
    // dependent starts then.
    let rows: [(Condition, &[Happened], bool); 7] = [
        (Started, &[Happened::Health("starting".into())], true),
        (Healthy, &[Happened::Health("starting".into())], false),
        (Healthy, &[Happened::Health("healthy".into())], true),
        (CompletedSuccessfully, &[], false),
        (
            CompletedSuccessfully,
            &[Happened::Died { exit_code: 0 }],
            true,
        ),
        (Started, &[Happened::Died { exit_code: 0 }], true),
        (Healthy, &[Happened::Died { exit_code: 1 }], false),
    ];
    for (condition, happened, starts) in rows {
        let mut given = Given::new(
            &[("dep", true, &[]), ("api", false, &[("dep", condition)])],
            true,
        );
        given.start_all(0);
        for what in happened {
            given.seen(20, "dep", what.clone());
        }
        let next = given.next(30);
        let started = matches!(&next, Next::Act(actions)
            if actions.contains(&start(1, &["api"])));
        assert_eq!(
            started, starts,
            "{condition:?} after {happened:?}: {next:?}"
        );
    }
}

#[test]
fn services_that_can_start_together_share_at_most_four_starts() {
    let names: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
    let services: Vec<Spec> = names.iter().map(|n| (n.as_str(), false, &[][..])).collect();
    let mut given = Given::new(&services, true);
    let starts = given.start_all(0);
    assert_eq!(starts.len(), 4);
    assert_eq!(starts[0], ["s0", "s4", "s8"]);
    let mut all: Vec<String> = starts.concat();
    all.sort();
    let mut names = names;
    names.sort();
    assert_eq!(all, names);
    assert!(matches!(given.next(10), Next::Ready(times) if times.len() == 10));
}

#[test]
fn a_dependency_that_crashes_before_it_is_ready_ends_the_startup() {
    let mut given = Given::new(
        &[
            ("db", true, &[]),
            ("api", false, &[("db", Condition::Healthy)]),
        ],
        true,
    );
    given.start_all(0);
    given.seen(40, "db", Happened::OomKilled);
    given.seen(40, "db", Happened::Died { exit_code: 137 });
    // The event is completed by one inspection: the daemon keeps the
    // OOM verdict and the check's output.
    assert_eq!(given.actions(50), [inspect(&["db"])]);
    let db = exited(&container("db", true), 137, true);
    given.observe(60, Observation::Inspected(vec![db.clone()]));
    assert_eq!(
        given.next(60),
        gave_up(
            db,
            Fault::Exited {
                code: 137,
                oom_killed: true
            }
        )
    );
}

#[test]
fn without_events_an_inspection_shows_the_crash_and_ends_the_startup_at_once() {
    let mut given = Given::new(&[("db", false, &[]), ("tests", false, &[])], false);
    given.start_all(0);
    assert_eq!(given.actions(300), [inspect(&["db", "tests"])]);
    let db = exited(&container("db", false), 3, false);
    given.observe(310, Observation::Inspected(vec![db.clone()]));
    assert_eq!(
        given.next(310),
        gave_up(
            db,
            Fault::Exited {
                code: 3,
                oom_killed: false
            }
        )
    );
}

#[test]
fn a_ready_dependency_that_dies_while_others_wait_ends_the_startup() {
    let mut given = Given::new(
        &[
            ("cache", false, &[]),
            ("db", true, &[("cache", Condition::Started)]),
        ],
        true,
    );
    given.start_all(0);
    given.start_all(10);
    assert_eq!(given.status("cache"), None);
    given.seen(500, "cache", Happened::Died { exit_code: 1 });
    assert_eq!(given.actions(510), [inspect(&["cache"])]);
    given.observe(520, Observation::Inspected(vec![]));
    let Next::GiveUp(GiveUp::Failed { container, fault }) = given.next(520) else {
        panic!("the startup goes on after cache died");
    };
    assert_eq!(container.service, "cache");
    assert_eq!(
        fault,
        Fault::Exited {
            code: 1,
            oom_killed: false
        }
    );
}

#[test]
fn a_one_shot_that_exits_zero_is_ready_unless_another_waits_for_it_as_healthy() {
    use Condition::*;
    let rows: [(Condition, bool); 3] = [
        (CompletedSuccessfully, true),
        (Started, true),
        (Healthy, false),
    ];
    for (condition, fine) in rows {
        let mut given = Given::new(
            &[
                ("migrate", false, &[]),
                ("api", false, &[("migrate", condition)]),
            ],
            true,
        );
        given.start_all(0);
        given.seen(100, "migrate", Happened::Died { exit_code: 0 });
        given.start_all(110);
        let next = given.next(120);
        if fine {
            assert!(matches!(next, Next::Ready(_)), "{condition:?}: {next:?}");
            continue;
        }
        assert_eq!(next, Next::Act(vec![inspect(&["migrate"])]));
        let migrate = exited(&container("migrate", false), 0, false);
        given.observe(130, Observation::Inspected(vec![migrate]));
        let Next::GiveUp(GiveUp::Failed { fault, .. }) = given.next(130) else {
            panic!("{condition:?}: the startup goes on");
        };
        assert_eq!(fault, Fault::CompletedWhileAwaited { by: "api".into() });
    }
}

#[test]
fn the_deadline_says_what_each_service_still_waits_on() {
    let mut given = Given::new(
        &[
            ("db", true, &[]),
            ("api", false, &[("db", Condition::Healthy)]),
        ],
        true,
    );
    given.start_all(0);
    let Next::GiveUp(GiveUp::TimedOut {
        waiting,
        containers,
    }) = given.next(300_000)
    else {
        panic!("no timeout at the deadline");
    };
    let waiting: Vec<(String, Option<WaitingOn>)> = waiting
        .into_iter()
        .map(|s| (s.service, s.waiting_on))
        .collect();
    assert_eq!(
        waiting,
        [
            (
                "db".to_string(),
                Some(WaitingOn::Container(Waiting::Health("starting".into())))
            ),
            (
                "api".to_string(),
                Some(WaitingOn::Dependencies(vec![(
                    "db".into(),
                    Condition::Healthy
                )]))
            ),
        ]
    );
    let ids: Vec<&str> = containers.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["db", "api"]);
}

#[test]
fn a_container_without_a_shell_gets_single_checks_that_take_turns_and_rest_as_they_wait() {
    let mut given = Given::new(
        &[("a", true, &[]), ("b", true, &[]), ("c", true, &[])],
        true,
    );
    given.start_all(0);
    assert_eq!(given.actions(10), [watch("a"), watch("b"), watch("c")]);
    // No `/bin/sh` in any: each watch ends at once without passing, and
    // the daemon is asked whether their containers still run.
    for id in ["a", "b", "c"] {
        let id = id.to_string();
        given.observe(20, Observation::CheckEnded { id, passed: false });
    }
    assert_eq!(given.actions(20), [inspect(&["a", "b", "c"])]);
    given.observe(20, Observation::Inspected(vec![]));
    // Two single checks at once, the third when one ends.
    assert_eq!(given.actions(30), [check("a"), check("b")]);
    assert_eq!(given.actions(40), []);
    let failed = |id: &str| Observation::CheckEnded {
        id: id.into(),
        passed: false,
    };
    given.observe(50, failed("a"));
    assert_eq!(given.actions(50), [check("c")]);
    // Each rests at least 50 ms after its run: `a` ran 20 ms, `c` 10 ms.
    given.observe(60, failed("c"));
    assert_eq!(given.actions(60), []);
    assert_eq!(given.actions(100), [check("a")]);
    // A run slower than that sets the rest: a busy machine gets fewer.
    given.observe(400, failed("a"));
    given.observe(400, failed("b"));
    assert_eq!(given.actions(400), [check("c")]);
    given.observe(
        405,
        Observation::CheckEnded {
            id: "c".into(),
            passed: true,
        },
    );
    assert_eq!(given.actions(699), []);
    assert_eq!(given.actions(700), [check("a")]);
    assert_eq!(given.actions(770), [check("b")]);
    // Twelve seconds in, a twentieth of the wait: 0.6 s.
    given.observe(800, failed("a"));
    given.observe(800, failed("b"));
    assert_eq!(given.actions(12_000), [check("a"), check("b")]);
    given.observe(12_010, failed("a"));
    given.observe(12_010, failed("b"));
    assert_eq!(given.actions(12_600), []);
    assert_eq!(given.actions(12_610), [check("a"), check("b")]);
    given.observe(
        12_700,
        Observation::CheckEnded {
            id: "a".into(),
            passed: true,
        },
    );
    assert_eq!(
        given.status("a"),
        Some(WaitingOn::Container(Waiting::Health("starting".into())))
    );
    given.next(12_700);
    assert_eq!(given.status("a"), None);
}

#[test]
fn without_events_the_daemon_is_asked_often_unless_every_wait_is_watched() {
    let mut given = Given::new(&[("db", true, &[]), ("api", false, &[])], false);
    given.start_all(0);
    assert_eq!(given.actions(10), [watch("db")]);
    // Every container that is not ready has a watch: once a second.
    assert_eq!(given.actions(260), []);
    assert_eq!(given.actions(1_000), [inspect(&["db", "api"])]);
    given.observe(1_000, Observation::Inspected(vec![]));
    // A watch that ends without passing: at once.
    given.observe(
        1_100,
        Observation::CheckEnded {
            id: "db".into(),
            passed: false,
        },
    );
    assert_eq!(given.actions(1_100), [inspect(&["db", "api"])]);
    given.observe(1_100, Observation::Inspected(vec![]));
    // Single checks now: four times a second.
    assert_eq!(given.actions(1_110), [check("db")]);
    assert_eq!(given.actions(1_350), [inspect(&["db", "api"])]);
}

#[test]
fn the_events_ending_brings_back_inspections() {
    let mut given = Given::new(&[("db", false, &[]), ("slow", true, &[])], true);
    given.start_all(0);
    assert_eq!(given.actions(5), [watch("slow")]);
    given.observe(
        10,
        Observation::CheckEnded {
            id: "slow".into(),
            passed: false,
        },
    );
    assert_eq!(given.actions(10), [inspect(&["db", "slow"])]);
    given.observe(10, Observation::Inspected(vec![]));
    assert_eq!(given.actions(20), [check("slow")]);
    assert_eq!(given.actions(300), []);
    given.observe(300, Observation::EventsEnded);
    assert_eq!(given.actions(300), [inspect(&["db", "slow"])]);
}

#[test]
fn a_failed_start_gives_up_with_the_services_it_started() {
    let mut given = Given::new(&[("db", false, &[]), ("api", false, &[])], true);
    assert_eq!(given.actions(0), [start(0, &["db"]), start(1, &["api"])]);
    given.observe(
        10,
        Observation::StartEnded {
            batch: 1,
            ok: false,
        },
    );
    assert_eq!(
        given.next(10),
        Next::GiveUp(GiveUp::StartFailed {
            batch: 1,
            services: vec!["api".into()],
        })
    );
}

#[test]
fn tests_in_their_own_container_end_the_wait_when_they_end() {
    // `sidecar` joins the tests' network: it cannot start once they ended,
    // and their end decides.
    let mut given = Given::with(
        &[
            ("db", true, &[]),
            ("tests", false, &[]),
            ("sidecar", false, &[("db", Condition::Healthy)]),
        ],
        true,
        &["tests"],
        Some("tests"),
    );
    assert_eq!(given.actions(0), [start(0, &["db"])]);
    assert_eq!(given.status("tests"), None);
    given.observe(10, Observation::StartEnded { batch: 0, ok: true });
    given.seen(20, "db", Happened::Health("healthy".into()));
    assert_eq!(given.actions(20), [start(1, &["sidecar"])]);
    given.seen(30, "tests", Happened::Died { exit_code: 4 });
    given.observe(
        40,
        Observation::StartEnded {
            batch: 1,
            ok: false,
        },
    );
    // Whether the tests ended is asked of the daemon first.
    assert_eq!(given.actions(40), [inspect(&["db", "tests", "sidecar"])]);
    given.observe(
        50,
        Observation::Inspected(vec![exited(&container("tests", false), 4, false)]),
    );
    assert_eq!(given.next(50), ready(&[("db", 10, 20)]));
}

#[test]
fn a_started_tests_container_that_exits_is_not_a_failed_start() {
    let mut given = Given::with(
        &[("tests", false, &[]), ("db", true, &[])],
        true,
        &["tests"],
        Some("tests"),
    );
    given.start_all(0);
    given.seen(10, "tests", Happened::Died { exit_code: 1 });
    assert_eq!(given.next(20), ready(&[]));
}

#[test]
fn an_unhealthy_event_is_completed_with_the_checks_output() {
    let mut given = Given::new(&[("db", true, &[])], true);
    given.start_all(0);
    given.seen(100, "db", Happened::Health("unhealthy".into()));
    assert_eq!(given.actions(100), [inspect(&["db"])]);
    let mut db = container("db", true);
    db.state.status = ContainerStatus::Running;
    db.state.health = Some(Health {
        status: "unhealthy".into(),
        log: Some(vec![crate::engine::model::Probe {
            start: String::new(),
            exit_code: 1,
            output: "no route to db\n".into(),
        }]),
    });
    given.observe(110, Observation::Inspected(vec![db]));
    let Next::GiveUp(GiveUp::Failed { fault, .. }) = given.next(110) else {
        panic!("the startup goes on");
    };
    assert_eq!(
        fault,
        Fault::Unhealthy(Some(CheckSaid::Line("no route to db".into())))
    );
}

#[test]
fn a_death_the_events_miss_is_found_when_its_watch_ends() {
    // Podman, for one, may not report a death: the watch in the container
    // ends without passing, and one inspection tells.
    let mut given = Given::new(&[("db", true, &[])], true);
    given.start_all(0);
    assert_eq!(given.actions(10), [watch("db")]);
    given.observe(
        50,
        Observation::CheckEnded {
            id: "db".into(),
            passed: false,
        },
    );
    assert_eq!(given.actions(50), [inspect(&["db"])]);
    let db = exited(&container("db", true), 3, false);
    given.observe(60, Observation::Inspected(vec![db.clone()]));
    assert_eq!(
        given.next(60),
        gave_up(
            db,
            Fault::Exited {
                code: 3,
                oom_killed: false
            }
        )
    );
}

#[test]
fn a_check_that_never_passes_is_unhealthy_when_the_daemon_would_have_said_so() {
    // An engine that runs no healthchecks leaves health `starting` for
    // good. The daemon's rules (its defaults): 3 failures 30 s apart, the
    // first 30 s in at the latest; testbed adds a second.
    let mut given = Given::new(&[("db", true, &[])], true);
    given.start_all(0);
    assert_eq!(given.actions(10), [watch("db")]);
    assert_eq!(given.actions(120_990), []);
    assert_eq!(given.actions(121_000), [inspect(&["db"])]);
    given.observe(121_010, Observation::Inspected(vec![]));
    let mut db = container("db", true);
    db.started();
    assert_eq!(
        given.next(121_010),
        gave_up(
            db,
            Fault::NeverHealthy {
                checked_for: Duration::from_millis(121_010)
            }
        )
    );
}
