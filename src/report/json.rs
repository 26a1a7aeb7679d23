//! The JSON report (`--report`): the run's project, compose, phases,
//! services, artifacts and exit code, for other tools to read. Its fields
//! are documented in docs/reports.md and checked by the tests; `schema`
//! changes only when a field changes meaning or goes away.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::timeline::State;
use crate::engine::ComposeFlavor;
use crate::exit::Exit;

/// The version of the report's fields.
pub const SCHEMA: u32 = 1;

/// What the report says beyond the timeline.
pub struct Run<'a> {
    pub project: &'a str,
    pub compose: &'a str,
    pub compose_version: &'a str,
    pub started_at: SystemTime,
    pub duration: Duration,
    /// The artifacts directory, its strategy and why.
    pub artifacts: Option<(&'a Path, &'a str, &'a str)>,
    pub exit: Exit,
}

pub fn build(run: &Run, state: &State) -> Value {
    let flavor = ComposeFlavor::of_version(run.compose_version).as_str();
    json!({
        "schema": SCHEMA,
        "project": run.project,
        "compose": {
            "command": run.compose,
            "flavor": flavor,
            "version": run.compose_version,
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
        "services": state.services.iter().map(|s| json!({
            "name": s.name,
            "state": s.state,
            "health": s.health,
            "exit_code": s.exit_code,
            "ready_after_s": s.ready_after.map(seconds),
        })).collect::<Vec<_>>(),
        "artifacts": run.artifacts.map(|(dir, strategy, reason)| json!({
            "dir": dir,
            "strategy": strategy,
            "reason": reason,
        })),
        "tests_exit_code": state.tests_exit,
        "exit_code": run.exit.code(),
        "exit_meaning": run.exit.meaning(),
    })
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
