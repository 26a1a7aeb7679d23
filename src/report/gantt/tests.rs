use std::time::{Duration, SystemTime};

use super::*;
use crate::events::{Diagnosis, ProbeResult, ServiceState};
use crate::report::timeline::{Outcome, Phase, Service, Step};

const ORIGIN: SystemTime = SystemTime::UNIX_EPOCH;

fn at(ms: u64) -> SystemTime {
    ORIGIN + Duration::from_millis(ms)
}

fn phase(name: PhaseName, from: u64, ms: u64) -> Phase {
    Phase {
        name,
        started_at: at(from),
        duration: Duration::from_millis(ms),
        outcome: Outcome::Passed,
        message: None,
        log: None,
    }
}

fn service(name: &str, on: &[&str], started: u64, ready: u64) -> Service {
    Service {
        name: name.into(),
        depends_on: on.iter().map(|s| s.to_string()).collect(),
        started_at: Some(at(started)),
        ready_at: Some(at(ready)),
        ready_after: Some(Duration::from_millis(ready)),
        ..Service::default()
    }
}

/// db (a healthcheck every 30s) gets ready in 1.2s, api waits for it,
/// worker waits for nothing; a migration runs, then the tests fail.
fn stack() -> State {
    let mut db = service("db", &[], 200, 1_400);
    db.check_interval = Some(Duration::from_secs(30));
    db.awaited_healthy = true;
    State {
        phases: vec![
            phase(PhaseName::Preflight, 0, 0),
            phase(PhaseName::Up, 0, 2_100),
            phase(PhaseName::Setup, 2_100, 800),
            phase(PhaseName::Tests, 2_900, 4_300),
        ],
        services: vec![
            service("worker", &[], 100, 300),
            db,
            service("api", &["db"], 1_500, 2_100),
        ],
        steps: vec![Step {
            name: "api migrate".into(),
            started_at: at(2_150),
            duration: Some(Duration::from_millis(700)),
        }],
        tests_exit: Some(3),
        // Compose created the containers in the first 80 ms.
        wait_began: Some(at(80)),
        ..State::default()
    }
}

#[test]
fn the_chain_that_held_back_the_tests_is_critical() {
    let chart = chart(&stack()).unwrap();
    let rows: Vec<(&str, bool)> = chart
        .rows
        .iter()
        .map(|r| (r.label.as_str(), r.critical))
        .collect();
    assert_eq!(
        rows,
        [
            ("worker", false),
            ("db", true),
            ("api", true),
            ("api migrate", false),
            ("tests", false)
        ]
    );
    assert_eq!(
        chart.rows[2].spans,
        [
            Span {
                from: 0.08,
                to: 1.5,
                kind: SpanKind::Waiting
            },
            Span {
                from: 1.5,
                to: 2.1,
                kind: SpanKind::Starting
            }
        ]
    );
}

#[test]
fn the_check_that_said_ready_is_a_tick_of_testbed() {
    let chart = chart(&stack()).unwrap();
    let db = &chart.rows[1];
    assert_eq!(db.probes.len(), 1, "{db:?}");
    assert_eq!((db.probes[0].at, db.probes[0].passed), (1.4, true));
    assert_eq!(db.probes[0].by, Prober::Testbed);
    // api has no healthcheck: ready once it ran, no check to show.
    assert!(chart.rows[2].probes.is_empty());
}

#[test]
fn the_hints_name_what_held_back_and_what_the_daemon_would_have_waited() {
    let chart = chart(&stack()).unwrap();
    assert_eq!(
        chart.hints,
        [
            "db held the tests back: 1.2s of the 2.1s wait was its own start",
            "db was ready 1.2s after it started; the daemon's first healthcheck runs after 30s, \
             so `depends_on: service_healthy` alone would have waited that long"
        ]
    );
}

/// Where nothing waits for db with `service_healthy`, compose alone would
/// not have waited for its first check either.
#[test]
fn the_daemons_first_check_is_no_hint_where_nothing_waits_for_it_healthy() {
    let mut state = stack();
    state.services[1].awaited_healthy = false;
    let chart = chart(&state).unwrap();
    assert_eq!(
        chart.hints,
        ["db held the tests back: 1.2s of the 2.1s wait was its own start"]
    );
}

#[test]
fn the_terminal_chart_at_80_columns() {
    insta::assert_snapshot!(text(&chart(&stack()).unwrap(), 80, false).unwrap());
}

#[test]
fn the_terminal_chart_at_120_columns() {
    insta::assert_snapshot!(text(&chart(&stack()).unwrap(), 120, false).unwrap());
}

#[test]
fn a_narrow_terminal_gets_no_chart() {
    assert_eq!(text(&chart(&stack()).unwrap(), 50, false), None);
}

#[test]
fn a_dependency_given_up_on_is_critical_with_its_probes() {
    let mut state = stack();
    state.phases.truncate(2);
    state.steps.clear();
    state.tests_exit = None;
    let db = &mut state.services[1];
    db.ready_at = None;
    db.diagnosis = Some(Diagnosis {
        service: "db".into(),
        state: ServiceState::Unhealthy,
        restarts: 0,
        oom: None,
        probes: vec![ProbeResult {
            by: Prober::Testbed,
            at: Some(at(1_900)),
            exit_code: Some(1),
            timed_out: false,
            output: "no connection".into(),
        }],
        log: String::new(),
        hint: None,
    });
    state.services.pop();
    let chart = chart(&state).unwrap();
    let db = &chart.rows[1];
    assert!(db.critical);
    assert_eq!(db.outcome, RowOutcome::NotReady("unhealthy".into()));
    assert_eq!(db.probes.len(), 1);
    assert!(!db.probes[0].passed);
    insta::assert_snapshot!(text(&chart, 80, false).unwrap());
}

#[test]
fn without_an_up_phase_there_is_no_chart() {
    let mut state = stack();
    state.phases.retain(|p| p.name != PhaseName::Up);
    assert_eq!(chart(&state), None);
}

/// The spans of `service`'s row when the run gave up on it in `given_up`,
/// its start unknown.
fn spans_given_up(service: usize, given_up: ServiceState) -> Vec<Span> {
    let mut state = stack();
    state.phases.truncate(2);
    state.steps.clear();
    let row = &mut state.services[service];
    row.started_at = None;
    row.ready_at = None;
    row.diagnosis = Some(Diagnosis {
        service: row.name.clone(),
        state: given_up,
        restarts: 0,
        oom: None,
        probes: Vec::new(),
        log: String::new(),
        hint: None,
    });
    let name = row.name.clone();
    let chart = chart(&state).unwrap();
    chart
        .rows
        .into_iter()
        .find(|r| r.label == name)
        .unwrap()
        .spans
}

#[test]
fn a_dependency_given_up_on_waits_or_runs_to_the_end_as_it_stood() {
    // api never started: created until the end.
    let waited = Span {
        from: 0.08,
        to: 2.1,
        kind: SpanKind::Waiting,
    };
    assert_eq!(spans_given_up(2, ServiceState::NotStarted), [waited]);
    // db crashed, its start unknown: it ran from its creation.
    let ran = Span {
        kind: SpanKind::Starting,
        ..waited
    };
    assert_eq!(spans_given_up(1, ServiceState::Exited(3)), [ran]);
}

#[test]
fn the_engines_start_wins_over_a_later_sighting_and_ready_at_once_still_shows() {
    // Compose v1 still created when db was started: testbed saw it start
    // only when its wait began, at 1.5 s, and found it ready at once.
    let mut state = stack();
    let db = &mut state.services[1];
    db.started_at = Some(at(1_400));
    db.left = Some(crate::events::ServiceLeft {
        service: "db".into(),
        started: Some(at(300)),
        ..crate::events::ServiceLeft::default()
    });
    let drawn = chart(&state).unwrap();
    let db = drawn.rows.iter().find(|r| r.label == "db").unwrap();
    assert_eq!(db.started(), 0.3);
    let RowOutcome::Ready(own) = db.outcome else {
        panic!("{db:?}");
    };
    assert!((own - 1.1).abs() < 1e-9, "{own}");

    let worker = &mut state.services[0];
    worker.started_at = worker.ready_at;
    let drawn = chart(&state).unwrap();
    let worker = drawn.rows.iter().find(|r| r.label == "worker").unwrap();
    assert_eq!(worker.spans.last().unwrap().kind, SpanKind::Starting);
    let text = text(&drawn, 80, false).unwrap();
    let line = text.lines().find(|l| l.contains("worker")).unwrap();
    assert!(line.contains('█'), "{text}");
}
