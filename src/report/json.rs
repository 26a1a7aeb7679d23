//! The JSON report (`--report`): the run's project, compose, phases,
//! services, artifacts and exit code, for other tools to read. Its fields
//! are documented in docs/reports.md and checked by the tests; `schema`
//! changes only when a field changes meaning or goes away.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde::Serialize;

use super::diagnosis;
use super::timeline::{PhaseName, Service, State};
use crate::engine::Daemon;
use crate::events::ComposeUsed;
use crate::exit::Exit;

/// The version of the report's fields.
pub const SCHEMA: u32 = 2;

/// What the report says beyond the timeline.
pub struct Run<'a> {
    pub project: &'a str,
    /// None when the run stopped before it found compose.
    pub compose: Option<&'a ComposeUsed>,
    /// None when the run stopped before it reached the engine.
    pub daemon: Option<&'a Daemon>,
    pub started_at: SystemTime,
    pub duration: Duration,
    /// The artifacts directory, its strategy and why.
    pub artifacts: Option<(&'a Path, &'a str, &'a str)>,
    pub exit: Exit,
}

/// One shard of a run split over shards, for the report's `shards`.
pub struct ShardRow<'a> {
    pub index: u32,
    /// Its place among all the shards of the suite: `CI_NODE_INDEX` and
    /// `CI_NODE_TOTAL` as its tests saw them.
    pub node: (u32, u32),
    pub project: &'a str,
    pub exit: Exit,
    pub state: &'a State,
}

/// The report, field by field as docs/reports.md lists them.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    schema: u32,
    project: &'a str,
    compose: Compose<'a>,
    engine: EngineRow<'a>,
    started_at: String,
    duration_s: f64,
    phases: Vec<PhaseRow<'a>>,
    services: Vec<ServiceRow<'a>>,
    artifacts: Option<Artifacts<'a>>,
    tests_exit_code: Option<u8>,
    tests_oom_killed: bool,
    died_during_tests: Vec<Died<'a>>,
    setup_steps: Vec<StepRow<'a>>,
    shards: Vec<Shard<'a>>,
    exit_code: u8,
    exit_meaning: String,
}

/// The compose that ran; every field null when the run stopped before it
/// found one.
#[derive(Debug, Serialize)]
struct Compose<'a> {
    command: Option<&'a str>,
    flavor: Option<&'a str>,
    version: Option<&'a str>,
}

/// The engine behind the socket; every field null when the run stopped
/// before it reached one.
#[derive(Debug, Serialize)]
struct EngineRow<'a> {
    name: Option<&'static str>,
    version: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct PhaseRow<'a> {
    name: &'static str,
    started_at: String,
    duration_s: f64,
    outcome: &'static str,
    message: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct ServiceRow<'a> {
    name: &'a str,
    state: Option<&'a str>,
    health_status: Option<&'a str>,
    health: Vec<Probe<'a>>,
    exit_code: Option<i64>,
    oom_killed: bool,
    memory_limit_bytes: Option<u64>,
    restarts: u32,
    not_ready: Option<String>,
    ready_after_s: Option<f64>,
    timeline: ServiceTimeline<'a>,
}

#[derive(Debug, Serialize)]
struct Probe<'a> {
    by: &'static str,
    exit_code: Option<i64>,
    timed_out: bool,
    output: &'a str,
}

/// Seconds from the run's start.
#[derive(Debug, Serialize)]
struct ServiceTimeline<'a> {
    created_s: Option<f64>,
    started_s: Option<f64>,
    ready_s: Option<f64>,
    probes: Vec<TimedProbe<'a>>,
}

/// A run of a healthcheck whose time is known.
#[derive(Debug, Serialize)]
struct TimedProbe<'a> {
    at_s: f64,
    by: &'static str,
    exit_code: Option<i64>,
    output: &'a str,
}

/// A setup step (`--before`), in seconds from the run's start.
#[derive(Debug, Serialize)]
struct StepRow<'a> {
    step: &'a str,
    started_s: f64,
    duration_s: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Artifacts<'a> {
    dir: &'a Path,
    strategy: &'a str,
    reason: &'a str,
}

#[derive(Debug, Serialize)]
struct Died<'a> {
    service: &'a str,
    exit_code: i64,
    oom_killed: bool,
    after_tests_start_s: f64,
}

#[derive(Debug, Serialize)]
struct Shard<'a> {
    index: u32,
    node_index: u32,
    node_total: u32,
    project: &'a str,
    up_s: Option<f64>,
    tests_s: Option<f64>,
    tests_exit_code: Option<u8>,
    exit_code: u8,
}

pub fn build<'a>(run: &Run<'a>, state: &'a State, shards: &[ShardRow<'a>]) -> Report<'a> {
    Report {
        schema: SCHEMA,
        project: run.project,
        compose: Compose {
            command: run.compose.map(|c| c.name.as_str()),
            flavor: run.compose.map(|c| c.flavor.as_str()),
            version: run.compose.and_then(|c| c.version.as_deref()),
        },
        engine: EngineRow {
            name: run.daemon.map(|d| d.kind.as_str()),
            version: run.daemon.map(|d| d.version.as_str()),
        },
        started_at: time(run.started_at),
        duration_s: seconds(run.duration),
        phases: state
            .phases
            .iter()
            .map(|p| PhaseRow {
                name: p.name.as_str(),
                started_at: time(p.started_at),
                duration_s: seconds(p.duration),
                outcome: p.outcome.as_str(),
                message: p.message.as_deref(),
            })
            .collect(),
        services: state
            .services
            .iter()
            .map(|s| service(s, run.started_at))
            .collect(),
        artifacts: run.artifacts.map(|(dir, strategy, reason)| Artifacts {
            dir,
            strategy,
            reason,
        }),
        tests_exit_code: state.tests_exit,
        tests_oom_killed: state.tests_oom.is_some(),
        died_during_tests: state
            .died_during_tests
            .iter()
            .map(|d| Died {
                service: &d.service,
                exit_code: d.exit_code,
                oom_killed: d.oom_killed,
                after_tests_start_s: seconds(d.into_tests),
            })
            .collect(),
        setup_steps: state
            .steps
            .iter()
            .map(|step| StepRow {
                step: &step.name,
                started_s: since(run.started_at, step.started_at),
                duration_s: step.duration.map(seconds),
            })
            .collect(),
        shards: shards
            .iter()
            .map(|shard| Shard {
                index: shard.index,
                node_index: shard.node.0,
                node_total: shard.node.1,
                project: shard.project,
                up_s: phase_seconds(shard.state, PhaseName::Up),
                tests_s: phase_seconds(shard.state, PhaseName::Tests),
                tests_exit_code: shard.state.tests_exit,
                exit_code: shard.exit.code(),
            })
            .collect(),
        exit_code: run.exit.code(),
        exit_meaning: run.exit.meaning(),
    }
}

/// A service as the run left it, its last healthchecks, and when it was
/// created, started and ready, in seconds from the run's start.
fn service(service: &Service, run_started: SystemTime) -> ServiceRow<'_> {
    let left = service.left.as_ref();
    let why = service.diagnosis.as_ref();
    let probes = match why {
        Some(why) => &why.probes[..],
        None => left.map_or(&[][..], |l| &l.probes[..]),
    };
    let offset = |at: Option<SystemTime>| at.map(|at| since(run_started, at));
    ServiceRow {
        name: &service.name,
        state: left.map(|l| l.status.as_str()),
        health_status: left.and_then(|l| l.health.as_deref()),
        health: probes
            .iter()
            .map(|p| Probe {
                by: p.by.as_str(),
                exit_code: p.exit_code,
                timed_out: p.timed_out,
                output: &p.output,
            })
            .collect(),
        exit_code: left.and_then(|l| l.exit_code),
        oom_killed: left.is_some_and(|l| l.oom_killed) || why.is_some_and(|d| d.oom.is_some()),
        memory_limit_bytes: left.and_then(|l| l.memory_limit),
        restarts: left
            .map_or(0, |l| l.restarts)
            .max(why.map_or(0, |d| d.restarts)),
        not_ready: why.map(diagnosis::state_line),
        ready_after_s: service.ready_after.map(seconds),
        timeline: ServiceTimeline {
            created_s: offset(left.and_then(|l| l.created)),
            started_s: offset(service.started_at.or(left.and_then(|l| l.started))),
            ready_s: offset(service.ready_at),
            probes: left
                .map(|l| &l.probes[..])
                .into_iter()
                .chain(why.map(|d| &d.probes[..]))
                .flatten()
                .filter_map(|p| {
                    Some(TimedProbe {
                        at_s: since(run_started, p.at?),
                        by: p.by.as_str(),
                        exit_code: p.exit_code,
                        output: &p.output,
                    })
                })
                .collect(),
        },
    }
}

/// How long the phase `name` took, if it ran.
fn phase_seconds(state: &State, name: PhaseName) -> Option<f64> {
    let phase = state.phases.iter().find(|p| p.name == name)?;
    Some(seconds(phase.duration))
}

/// Seconds from `from` to `to`; negative when `to` came first, as for a
/// stack that `up` created before `test` ran.
fn since(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(after) => seconds(after),
        Err(before) => -seconds(before.duration()),
    }
}

fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

fn seconds(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0).round() / 1000.0
}

pub fn write(report: &Report, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report).context("cannot render the JSON report")?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::engine::ComposeFlavor;
    use crate::events::{
        Diagnosis, DiedDuringTests, ProbeResult, Prober, ServiceLeft, ServiceState,
    };
    use crate::report::timeline::{Outcome, Phase, Service, Step};

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    fn state() -> State {
        let probe = ProbeResult {
            by: Prober::Daemon,
            at: Some(at(2)),
            exit_code: Some(1),
            timed_out: false,
            output: "connection refused".into(),
        };
        State {
            phases: vec![Phase {
                name: PhaseName::Up,
                started_at: at(1),
                duration: Duration::from_millis(2500),
                outcome: Outcome::Failed,
                message: Some("db turned unhealthy".into()),
                log: None,
            }],
            services: vec![
                Service {
                    name: "cache".into(),
                    ready_after: Some(Duration::from_millis(1200)),
                    ready_at: Some(at(2)),
                    left: Some(ServiceLeft {
                        service: "cache".into(),
                        status: "running".into(),
                        created: Some(at(1)),
                        started: Some(at(1)),
                        ..ServiceLeft::default()
                    }),
                    diagnosis: None,
                    ..Service::default()
                },
                Service {
                    name: "db".into(),
                    diagnosis: Some(Diagnosis {
                        service: "db".into(),
                        state: ServiceState::Exited(137),
                        restarts: 2,
                        oom: Some(Some(20 << 20)),
                        probes: vec![probe],
                        log: String::new(),
                        hint: None,
                    }),
                    ..Service::default()
                },
            ],
            tests_exit: Some(3),
            tests_oom: None,
            died_during_tests: vec![DiedDuringTests {
                service: "cache".into(),
                exit_code: 1,
                oom_killed: false,
                into_tests: Duration::from_millis(4200),
                log: String::new(),
            }],
            steps: vec![Step {
                name: "api migrate".into(),
                started_at: at(3),
                duration: Some(Duration::from_millis(700)),
            }],
            wait_began: None,
        }
    }

    /// The report as sorted JSON, so that it reads the same whatever the
    /// order its fields are written in.
    fn rendered(report: &Report) -> String {
        let value = serde_json::to_value(report).unwrap();
        serde_json::to_string_pretty(&value).unwrap()
    }

    #[test]
    fn a_run_and_a_run_split_over_shards() {
        let compose = ComposeUsed {
            name: "docker compose".into(),
            flavor: ComposeFlavor::V2,
            version: Some("2.40.3".into()),
            described: String::new(),
        };
        let daemon = Daemon {
            kind: crate::engine::DaemonKind::Podman,
            version: "4.3.1".into(),
        };
        let run = Run {
            project: "tb-x",
            compose: Some(&compose),
            daemon: Some(&daemon),
            started_at: at(0),
            duration: Duration::from_millis(12345),
            artifacts: Some((Path::new("/out"), "bind", "the daemon sees /out")),
            exit: Exit::Tests(3),
        };
        let state = state();
        insta::assert_snapshot!("run", rendered(&build(&run, &state, &[])));
        let shards = [ShardRow {
            index: 1,
            node: (1, 2),
            project: "tb-x-s1",
            exit: Exit::Engine,
            state: &state,
        }];
        let run = Run {
            compose: None,
            artifacts: None,
            ..run
        };
        let none = State::default();
        insta::assert_snapshot!("shards", rendered(&build(&run, &none, &shards)));
    }
}
