//! The end of a run split over shards: a table with a row per shard, the
//! verdict, one JUnit file (a suite per shard for its phases, and each
//! shard's own test suites, named after it) and one report for them all.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::timeline::{PhaseName, State};
use super::{Options, Printer, Reporter, gantt, json, junit};
use crate::exit::Exit;

/// One shard as it ended.
pub struct Ended<'a> {
    pub index: u32,
    /// `CI_NODE_INDEX` and `CI_NODE_TOTAL` as its tests got them.
    pub node: (u32, u32),
    pub reporter: &'a Reporter,
    pub exit: Exit,
    /// Its artifacts directory, where its tests' JUnit files are.
    pub artifacts: Option<std::path::PathBuf>,
}

/// Prints the table and the verdict to `out`, and writes `--junit` and
/// `--report`.
pub fn finish(
    out: &Arc<Printer>,
    options: &Options,
    project: &str,
    began: (SystemTime, Instant),
    shards: &[Ended],
    exit: Exit,
) {
    let states: Vec<State> = shards.iter().map(|s| s.reporter.snapshot()).collect();
    {
        let _section = out.titled("shards", "shards", false);
        out.block(&table(shards, &states));
    }
    let colors = console::colors_enabled_stderr();
    for (shard, state) in shards.iter().zip(&states) {
        let chart = gantt::chart(state);
        let Some(picture) = chart.and_then(|c| gantt::text(&c, out.width(), colors)) else {
            continue;
        };
        let title = format!("s{}: {}", shard.index, shard.reporter.project());
        let _section = out.titled(&format!("timeline_s{}", shard.index), &title, false);
        out.block(&picture);
    }
    let failed = shards.iter().filter(|s| s.exit != Exit::Tests(0)).count();
    let elapsed = began.1.elapsed().as_secs_f64();
    let verdict = match (failed, exit) {
        (_, Exit::Signal(signal)) => format!(
            "interrupted by {} after {elapsed:.1}s",
            crate::signals::name(signal)
        ),
        (0, _) => format!("{} shards passed after {elapsed:.1}s", shards.len()),
        (n, _) => format!(
            "{n} of {} shards failed (exit {}) after {elapsed:.1}s",
            shards.len(),
            exit.code()
        ),
    };
    out.step(verdict);
    if let Some(path) = &options.junit {
        let mut report = quick_junit::Report::new(format!("testbed {project}"));
        for (shard, state) in shards.iter().zip(&states) {
            let name = format!("shard-{}", shard.index);
            report.add_test_suite(junit::suite(&name, &shard.reporter.project(), state));
            if let (Some(pattern), Some(dir)) = (&options.junit_from, &shard.artifacts) {
                let mut theirs = quick_junit::Report::new("");
                for (file, why) in junit::merge(&mut theirs, dir, pattern) {
                    out.warn(format!(
                        "not merged into the JUnit report: {}: {why}",
                        file.display()
                    ));
                }
                for mut suite in theirs.test_suites {
                    suite.name = format!("{name}: {}", suite.name.as_str()).into();
                    report.add_test_suite(suite);
                }
            }
        }
        if let Err(error) = junit::write(&report, path) {
            out.warn(format!("{error:#}"));
        }
    }
    if let Some(path) = &options.report {
        let compose = shards.iter().find_map(|s| s.reporter.compose());
        let daemon = shards.iter().find_map(|s| s.reporter.daemon());
        let projects: Vec<String> = shards.iter().map(|s| s.reporter.project()).collect();
        let rows: Vec<json::ShardRow> = shards
            .iter()
            .zip(&states)
            .zip(&projects)
            .map(|((shard, state), project)| json::ShardRow {
                index: shard.index,
                node: shard.node,
                project,
                exit: shard.exit,
                state,
            })
            .collect();
        let none = State::default();
        let report = json::build(
            &json::Run {
                project,
                compose: compose.as_ref(),
                daemon: daemon.as_ref(),
                started_at: began.0,
                duration: began.1.elapsed(),
                artifacts: None,
                exit,
            },
            &none,
            &rows,
        );
        if let Err(error) = json::write(&report, path) {
            out.warn(format!("{error:#}"));
        }
    }
}

/// A row per shard: its project, time to ready, test time, exit code.
fn table(shards: &[Ended], states: &[State]) -> String {
    let projects: Vec<String> = shards.iter().map(|s| s.reporter.project()).collect();
    let width = projects.iter().map(String::len).max().unwrap_or(0).max(7);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "shard  {:width$}  {:>7}  {:>7}  exit",
        "project", "ready", "tests"
    );
    for ((shard, state), project) in shards.iter().zip(states).zip(&projects) {
        let time = |name| match state.phases.iter().find(|p| p.name == name) {
            Some(phase) => seconds(phase.duration),
            None => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<5}  {project:width$}  {:>7}  {:>7}  {}",
            shard.index,
            time(PhaseName::Up),
            time(PhaseName::Tests),
            shard.exit.code()
        );
    }
    out
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}
