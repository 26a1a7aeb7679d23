//! The run in Markdown, for a merge request note or a CI job summary: the
//! summary's table of phases, each dependency's times, and the timeline as
//! a Mermaid `gantt` block, which GitLab and GitHub draw.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::gantt::{Chart, RowKind, RowOutcome, SpanKind};
use super::timeline::{PhaseName, State};

/// The summary, whole: a heading with the verdict, the phases, the
/// services, and the chart where there is one.
pub fn render(project: &str, exit: u8, state: &State, chart: Option<&Chart>) -> String {
    let mut out = String::new();
    let verdict = match (state.tests_exit, exit) {
        (Some(0), 0) => "tests passed".to_string(),
        (Some(code), _) => format!("tests failed with exit code {code}"),
        (None, code) => format!("the tests did not run (exit {code})"),
    };
    let _ = writeln!(out, "### testbed: {verdict}\n");
    let _ = writeln!(out, "Project `{project}`.\n");
    out.push_str("| phase | time | result |\n| --- | ---: | --- |\n");
    for phase in &state.phases {
        let result = match (phase.name, state.tests_exit) {
            (PhaseName::Tests, Some(code)) => format!("exit {code}"),
            _ => phase.outcome.as_str().to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {:.1}s | {} |",
            phase.name.as_str(),
            phase.duration.as_secs_f64(),
            cell(&result)
        );
    }
    if let Some(chart) = chart {
        let services: Vec<_> = chart
            .rows
            .iter()
            .filter(|r| r.kind == RowKind::Service)
            .collect();
        if !services.is_empty() {
            out.push_str("\n| service | started | ready | held back the tests |\n");
            out.push_str("| --- | ---: | --- | --- |\n");
            for row in services {
                let started = row
                    .spans
                    .iter()
                    .find(|s| s.kind == SpanKind::Starting)
                    .map(|s| format!("{:.1}s", s.from))
                    .unwrap_or_default();
                let ready = match &row.outcome {
                    RowOutcome::Ready(_) => format!("{:.1}s", row.end()),
                    other => other.note(row.end()),
                };
                let critical = if row.critical { "yes" } else { "" };
                let _ = writeln!(
                    out,
                    "| {} | {started} | {} | {critical} |",
                    cell(&row.label),
                    cell(&ready)
                );
            }
        }
        out.push('\n');
        out.push_str(&mermaid(chart, project));
        for hint in &chart.hints {
            let _ = writeln!(out, "\n> {hint}");
        }
    }
    out
}

/// Writes the summary to `path`.
pub fn write(text: &str, path: &Path) -> Result<()> {
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the summary to {}", path.display()))
}

/// The chart as a Mermaid `gantt` block, in milliseconds from the start
/// of `up`.
pub fn mermaid(chart: &Chart, project: &str) -> String {
    let mut out = String::from("```mermaid\ngantt\n");
    let _ = writeln!(out, "    title Startup of {}", task_name(project));
    out.push_str("    dateFormat x\n");
    let axis = if chart.end < 60.0 { "%S.%L s" } else { "%M:%S" };
    let _ = writeln!(out, "    axisFormat {axis}");
    let mut section = None;
    for (i, row) in chart.rows.iter().enumerate() {
        let name = match row.kind {
            RowKind::Service => "dependencies",
            RowKind::Step => "setup",
            RowKind::Tests => "tests",
        };
        if section != Some(name) {
            let _ = writeln!(out, "    section {name}");
            section = Some(name);
        }
        for (j, span) in row.spans.iter().enumerate() {
            let label = match (span.kind, &row.outcome) {
                (SpanKind::Waiting, _) => format!("{} created", row.label),
                (SpanKind::Running, RowOutcome::Exit { .. }) => {
                    format!("{} ({})", row.label, row.outcome.note(row.end()))
                }
                _ => row.label.clone(),
            };
            let tag = match span.kind {
                SpanKind::Waiting => "done, ",
                SpanKind::Starting if row.critical => "crit, ",
                SpanKind::Starting | SpanKind::Running => "active, ",
            };
            let from = (span.from.max(0.0) * 1000.0).round() as u64;
            let to = ((span.to.max(0.0) * 1000.0).round() as u64).max(from + 1);
            let _ = writeln!(
                out,
                "    {} :{tag}r{i}s{j}, {from}, {to}",
                task_name(&label)
            );
        }
    }
    out.push_str("```\n");
    out
}

/// A task's name as Mermaid reads one: no `:`, `#` or `;`, which end it
/// or start a comment or an entity.
fn task_name(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ':' | '#' | ';' => ' ',
            c => c,
        })
        .collect()
}

/// Text for a table cell: a `|` would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::report::gantt::{Row, Span};
    use crate::report::timeline::{Outcome, Phase};

    fn chart() -> Chart {
        let span = |from, to, kind| Span { from, to, kind };
        let row = |label: &str, kind, spans, critical, outcome| Row {
            label: label.into(),
            kind,
            spans,
            critical,
            probes: Vec::new(),
            outcome,
        };
        Chart {
            end: 4.0,
            rows: vec![
                row(
                    "db",
                    RowKind::Service,
                    vec![
                        span(0.1, 0.3, SpanKind::Waiting),
                        span(0.3, 1.2, SpanKind::Starting),
                    ],
                    true,
                    RowOutcome::Ready(0.9),
                ),
                row(
                    "api: v2 #1",
                    RowKind::Service,
                    vec![span(0.1, 0.1, SpanKind::Starting)],
                    false,
                    RowOutcome::Ready(0.0),
                ),
                row(
                    "api migrate",
                    RowKind::Step,
                    vec![span(1.2, 1.5, SpanKind::Running)],
                    false,
                    RowOutcome::Step { ended: true },
                ),
                row(
                    "tests",
                    RowKind::Tests,
                    vec![span(1.5, 4.0, SpanKind::Running)],
                    false,
                    RowOutcome::Exit {
                        code: Some(3),
                        oom: None,
                    },
                ),
            ],
            hints: vec!["db held the tests back".into()],
        }
    }

    /// Checks a `gantt` block as Mermaid reads one: its header, then
    /// sections and tasks of `name :tags, id, start, end`, with unique ids
    /// and each start before its end.
    fn parse_gantt(block: &str) -> Vec<(String, Vec<String>, u64, u64)> {
        let body = block
            .strip_prefix("```mermaid\ngantt\n")
            .and_then(|b| b.strip_suffix("```\n"))
            .unwrap_or_else(|| panic!("not a mermaid gantt block:\n{block}"));
        let mut tasks = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for line in body.lines() {
            let line = line.strip_prefix("    ").expect("indented");
            let keyword = line.split_whitespace().next().unwrap();
            if ["title", "dateFormat", "axisFormat", "section"].contains(&keyword) {
                if keyword == "dateFormat" {
                    assert_eq!(line, "dateFormat x");
                }
                continue;
            }
            let (name, rest) = line.split_once(" :").unwrap_or_else(|| panic!("{line}"));
            assert!(!name.contains([':', '#', ';']), "{line}");
            let fields: Vec<&str> = rest.split(", ").collect();
            let (tags, [id, from, to]) = fields.split_at(fields.len() - 3) else {
                panic!("{line}");
            };
            for tag in tags {
                assert!(
                    ["active", "done", "crit", "milestone"].contains(tag),
                    "{line}"
                );
            }
            assert!(ids.insert(id.to_string()), "duplicate id in {line}");
            let (from, to): (u64, u64) = (from.parse().unwrap(), to.parse().unwrap());
            assert!(from < to, "{line}");
            let tags = tags.iter().map(|t| t.to_string()).collect();
            tasks.push((name.to_string(), tags, from, to));
        }
        tasks
    }

    #[test]
    fn the_gantt_block_parses_with_a_task_per_span() {
        let block = mermaid(&chart(), "tb-api-1");
        let tasks = parse_gantt(&block);
        let names: Vec<&str> = tasks.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "db created",
                "db",
                "api  v2  1",
                "api migrate",
                "tests (exit 3)"
            ]
        );
        assert_eq!(tasks[1].1, ["crit"]);
        assert_eq!((tasks[1].2, tasks[1].3), (300, 1200));
        // A span of no length still shows.
        assert_eq!((tasks[2].2, tasks[2].3), (100, 101));
    }

    #[test]
    fn the_summary_has_the_tables_the_chart_and_the_hints() {
        let state = State {
            phases: vec![Phase {
                name: PhaseName::Tests,
                started_at: SystemTime::UNIX_EPOCH,
                duration: Duration::from_millis(2500),
                outcome: Outcome::Failed,
                message: None,
                log: None,
            }],
            tests_exit: Some(3),
            ..State::default()
        };
        let text = render("tb-api-1", 3, &state, Some(&chart()));
        assert!(text.starts_with("### testbed: tests failed with exit code 3\n"));
        assert!(text.contains("| tests | 2.5s | exit 3 |\n"), "{text}");
        assert!(text.contains("| db | 0.3s | 1.2s | yes |\n"), "{text}");
        assert!(text.contains("| api: v2 #1 | 0.1s | 0.1s |  |\n"), "{text}");
        let block = &text[text.find("```mermaid").unwrap()..];
        let block = &block[..block.find("```\n").unwrap() + 4];
        assert_eq!(parse_gantt(block).len(), 5);
        assert!(text.ends_with("\n> db held the tests back\n"), "{text}");
    }
}
