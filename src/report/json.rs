//! The JSON report (`--report`): the run's project, compose, phases,
//! services, artifacts and exit code, for other tools to read. Its fields
//! are documented in docs/reports.md and checked by the tests; `schema`
//! changes only when a field changes meaning or goes away.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::diagnosis;
use super::timeline::{PhaseName, Service, State};
use crate::events::ComposeUsed;
use crate::exit::Exit;

/// The version of the report's fields.
pub const SCHEMA: u32 = 2;

/// What the report says beyond the timeline.
pub struct Run<'a> {
    pub project: &'a str,
    /// None when the run stopped before it found compose.
    pub compose: Option<&'a ComposeUsed>,
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

pub fn build(run: &Run, state: &State, shards: &[ShardRow]) -> Value {
    json!({
        "schema": SCHEMA,
        "project": run.project,
        "compose": {
            "command": run.compose.map(|c| c.name.as_str()),
            "flavor": run.compose.map(|c| c.flavor.as_str()),
            "version": run.compose.and_then(|c| c.version.as_deref()),
        },
        "started_at": time(run.started_at),
        "duration_s": seconds(run.duration),
        "phases": state.phases.iter().map(|p| json!({
            "name": p.name.as_str(),
            "started_at": time(p.started_at),
            "duration_s": seconds(p.duration),
            "outcome": p.outcome.as_str(),
            "message": p.message,
        })).collect::<Vec<_>>(),
        "services": state.services.iter().map(|s| service(s, run.started_at)).collect::<Vec<_>>(),
        "artifacts": run.artifacts.map(|(dir, strategy, reason)| json!({
            "dir": dir,
            "strategy": strategy,
            "reason": reason,
        })),
        "tests_exit_code": state.tests_exit,
        "tests_oom_killed": state.tests_oom.is_some(),
        "died_during_tests": state.died_during_tests.iter().map(|d| json!({
            "service": d.service,
            "exit_code": d.exit_code,
            "oom_killed": d.oom_killed,
            "after_tests_start_s": seconds(d.into_tests),
        })).collect::<Vec<_>>(),
        "shards": shards.iter().map(|shard| json!({
            "index": shard.index,
            "node_index": shard.node.0,
            "node_total": shard.node.1,
            "project": shard.project,
            "up_s": phase_seconds(shard.state, PhaseName::Up),
            "tests_s": phase_seconds(shard.state, PhaseName::Tests),
            "tests_exit_code": shard.state.tests_exit,
            "exit_code": shard.exit.code(),
        })).collect::<Vec<_>>(),
        "exit_code": run.exit.code(),
        "exit_meaning": run.exit.meaning(),
    })
}

/// A service as the run left it, its last healthchecks, and when it was
/// created, started and ready, in seconds from the run's start.
fn service(service: &Service, run_started: SystemTime) -> Value {
    let left = service.left.clone().unwrap_or_default();
    let why = service.diagnosis.as_ref();
    let probes = why.map_or(&left.probes, |d| &d.probes);
    let offset = |at: Option<SystemTime>| at.map(|at| since(run_started, at));
    json!({
        "name": service.name,
        "state": service.left.as_ref().map(|l| &l.status),
        "health_status": left.health,
        "health": probes.iter().map(|p| json!({
            "by": p.by.as_str(),
            "exit_code": p.exit_code,
            "timed_out": p.timed_out,
            "output": p.output,
        })).collect::<Vec<_>>(),
        "exit_code": left.exit_code,
        "oom_killed": left.oom_killed || why.is_some_and(|d| d.oom.is_some()),
        "memory_limit_bytes": left.memory_limit,
        "restarts": left.restarts.max(why.map_or(0, |d| d.restarts)),
        "not_ready": why.map(diagnosis::state_line),
        "ready_after_s": service.ready_after.map(seconds),
        "timeline": {
            "created_s": offset(left.created),
            "started_s": offset(left.started),
            "ready_s": offset(service.ready_at),
        },
    })
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

pub fn write(report: &Value, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report).context("cannot render the JSON report")?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}
