//! The run as a picture: one row per dependency, from its container's
//! creation to its start to ready, then the setup steps and the tests, on
//! one scale that begins with `up`. The critical path, the chain of
//! dependencies that decided when the tests could start, is marked. The
//! terminal's summary, the web page and the Markdown summary all draw this
//! chart; [`text`] draws it for the terminal.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use console::Style;

use super::diagnosis;
use super::timeline::{PhaseName, State};
use crate::events::{Prober, ServiceState, out_of_memory};

/// The narrowest bar area worth drawing; below it the summary's table says
/// it all.
const MIN_BARS: usize = 24;
/// Under this wait, nothing held the tests back worth a hint.
const HINT_FLOOR: f64 = 1.0;
/// A daemon's first healthcheck this much later than ready is worth a hint.
const CHECK_SAVING: f64 = 2.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Where the scale ends, in seconds from the start of `up`.
    pub end: f64,
    pub rows: Vec<Row>,
    /// What the picture shows that is worth a line of its own.
    pub hints: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    pub kind: RowKind,
    /// In seconds from the chart's origin, in order.
    pub spans: Vec<Span>,
    /// On the chain of dependencies that held back the tests.
    pub critical: bool,
    /// Each run of its healthcheck whose time is known.
    pub probes: Vec<Tick>,
    pub outcome: RowOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Service,
    Step,
    Tests,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub from: f64,
    pub to: f64,
    pub kind: SpanKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Created, not started: waiting for its dependencies, or for its
    /// `docker start`.
    Waiting,
    /// Started, not ready yet.
    Starting,
    /// A setup step or the tests, running.
    Running,
}

/// One run of a healthcheck.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub at: f64,
    pub passed: bool,
    pub by: Prober,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    /// Ready, this long after its container started.
    Ready(f64),
    /// The run gave up on it: where it stood.
    NotReady(String),
    /// A setup step that ended, or did not.
    Step { ended: bool },
    /// The tests' exit code, and whether the OOM killer ended them.
    Exit {
        code: Option<u8>,
        oom: Option<String>,
    },
}

impl RowOutcome {
    /// Whether it is worth red: a dependency given up on, tests that
    /// failed, were killed or have no code, a step that did not end.
    pub fn is_bad(&self) -> bool {
        match self {
            RowOutcome::NotReady(_) | RowOutcome::Exit { oom: Some(_), .. } => true,
            RowOutcome::Exit { code, .. } => *code != Some(0),
            RowOutcome::Step { ended } => !ended,
            RowOutcome::Ready(_) => false,
        }
    }

    /// What the terminal shows after the bars.
    pub fn note(&self, row_end: f64) -> String {
        match self {
            RowOutcome::Ready(own) => format!("ready at {row_end:.1}s ({own:.1}s)"),
            RowOutcome::NotReady(state) => format!("not ready: {state}"),
            RowOutcome::Step { ended: true } => format!("done at {row_end:.1}s"),
            RowOutcome::Step { ended: false } => "did not end".into(),
            RowOutcome::Exit { code: None, .. } => "no exit code".into(),
            RowOutcome::Exit {
                code: Some(code),
                oom: None,
            } => format!("exit {code}"),
            RowOutcome::Exit {
                code: Some(code),
                oom: Some(oom),
            } => format!("exit {code}, {oom}"),
        }
    }
}

impl Row {
    /// Where its last span ends.
    pub fn end(&self) -> f64 {
        self.spans.last().map(|s| s.to).unwrap_or(0.0)
    }

    /// Where it started: the end of its wait for dependencies.
    pub fn started(&self) -> f64 {
        let starting = self.spans.iter().find(|s| s.kind != SpanKind::Waiting);
        starting.map_or_else(|| self.end(), |s| s.from)
    }
}

/// The chart of what `state` recorded; none before the startup was drawn
/// from (`test` against a kept stack, a run that ended in preflight).
pub fn chart(state: &State) -> Option<Chart> {
    let up = state.phases.iter().find(|p| p.name == PhaseName::Up)?;
    let origin = up.started_at;
    let up_end = up.duration.as_secs_f64();
    let at = |time: SystemTime| seconds_between(origin, time);
    let mut rows: Vec<Row> = state
        .services
        .iter()
        .filter(|s| s.ready_at.is_some() || s.diagnosis.is_some())
        .map(|service| {
            let left = service.left.as_ref();
            // The engine's start time, where the run inspected the
            // container, is the true one: testbed sees a container it
            // started while compose still created (v1) only once it waits.
            let started = match (service.started_at, left.and_then(|l| l.started)) {
                (Some(seen), Some(engine)) => Some(seen.min(engine)),
                (seen, engine) => seen.or(engine),
            }
            .map(at);
            let created = left.and_then(|l| l.created).or(state.wait_began).map(at);
            let created = match (created, started) {
                (Some(created), Some(started)) => created.min(started),
                (created, started) => created.or(started).unwrap_or(0.0),
            };
            let (end, outcome) = match (&service.diagnosis, service.ready_at) {
                (Some(why), _) => (up_end, RowOutcome::NotReady(diagnosis::state_line(why))),
                (None, Some(ready)) => {
                    let ready = at(ready);
                    (ready, RowOutcome::Ready(ready - started.unwrap_or(created)))
                }
                (None, None) => unreachable!("filtered above"),
            };
            let end = end.max(created);
            // One the run gave up on before it started waits to the end.
            let never_started = service
                .diagnosis
                .as_ref()
                .is_some_and(|d| d.state == ServiceState::NotStarted);
            let started = match started {
                None if never_started => end,
                started => started.unwrap_or(created).clamp(created, end),
            };
            let mut spans = Vec::new();
            if started > created {
                spans.push(Span {
                    from: created,
                    to: started,
                    kind: SpanKind::Waiting,
                });
            }
            // Ready at once still shows where it got ready.
            let ready = matches!(outcome, RowOutcome::Ready(_));
            if end > started || spans.is_empty() || ready {
                spans.push(Span {
                    from: started,
                    to: end,
                    kind: SpanKind::Starting,
                });
            }
            let mut probes: Vec<Tick> = left
                .map(|l| l.probes.as_slice())
                .into_iter()
                .chain(service.diagnosis.as_ref().map(|d| d.probes.as_slice()))
                .flatten()
                .filter_map(|probe| {
                    Some(Tick {
                        at: at(probe.at?),
                        passed: probe.exit_code == Some(0),
                        by: probe.by,
                        output: probe.output.clone(),
                    })
                })
                .collect();
            // The run of the check that said ready was testbed's own.
            if let (Some(_), RowOutcome::Ready(_)) = (service.check_interval, &outcome) {
                probes.push(Tick {
                    at: end,
                    passed: true,
                    by: Prober::Testbed,
                    output: "passed: ready".into(),
                });
            }
            probes.sort_by(|a, b| a.at.total_cmp(&b.at));
            Row {
                label: service.name.clone(),
                kind: RowKind::Service,
                spans,
                critical: false,
                probes,
                outcome,
            }
        })
        .collect();
    // In the order they started, which is dependency order.
    rows.sort_by(|a, b| {
        (a.started(), a.end())
            .partial_cmp(&(b.started(), b.end()))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    mark_critical(&mut rows, state);
    let hints = hints(&rows, state);
    for step in &state.steps {
        let from = at(step.started_at);
        let to = from + step.duration.map(|d| d.as_secs_f64()).unwrap_or(0.0);
        rows.push(Row {
            label: step.name.clone(),
            kind: RowKind::Step,
            spans: vec![Span {
                from,
                to,
                kind: SpanKind::Running,
            }],
            critical: false,
            probes: Vec::new(),
            outcome: RowOutcome::Step {
                ended: step.duration.is_some(),
            },
        });
    }
    if let Some(tests) = state.phases.iter().find(|p| p.name == PhaseName::Tests) {
        let from = at(tests.started_at);
        rows.push(Row {
            label: "tests".into(),
            kind: RowKind::Tests,
            spans: vec![Span {
                from,
                to: from + tests.duration.as_secs_f64(),
                kind: SpanKind::Running,
            }],
            critical: false,
            probes: Vec::new(),
            outcome: RowOutcome::Exit {
                code: state.tests_exit,
                oom: state.tests_oom.map(out_of_memory),
            },
        });
    }
    if rows.is_empty() {
        return None;
    }
    let end = rows.iter().map(Row::end).fold(up_end, f64::max).max(0.001);
    Some(Chart { end, rows, hints })
}

/// Seconds from `origin` to `time`, negative before it.
fn seconds_between(origin: SystemTime, time: SystemTime) -> f64 {
    match time.duration_since(origin) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// Marks the chain that held back the tests: the service that got ready
/// last (or the one the run gave up on), then, of what it waits for, the
/// one that got ready last, and so on.
fn mark_critical(rows: &mut [Row], state: &State) {
    let failed = rows
        .iter()
        .position(|r| matches!(r.outcome, RowOutcome::NotReady(_)));
    let last =
        failed.or_else(|| (0..rows.len()).max_by(|&a, &b| rows[a].end().total_cmp(&rows[b].end())));
    let mut at = last;
    while let Some(i) = at {
        if rows[i].critical {
            break;
        }
        rows[i].critical = true;
        let waits_on = state
            .services
            .iter()
            .find(|s| s.name == rows[i].label)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or_default();
        at = (0..rows.len())
            .filter(|&j| waits_on.contains(&rows[j].label))
            .max_by(|&a, &b| rows[a].end().total_cmp(&rows[b].end()));
    }
}

/// One line for each thing the picture shows: a service that alone held
/// the tests back for more than half the wait, and one that was ready long
/// before the daemon's first healthcheck would have said so to what waits
/// for it with `service_healthy`.
fn hints(rows: &[Row], state: &State) -> Vec<String> {
    let mut hints = Vec::new();
    let wait = rows.iter().map(Row::end).fold(0.0, f64::max);
    let held = rows
        .iter()
        .filter(|r| r.critical)
        .find_map(|row| match row.outcome {
            RowOutcome::Ready(own) if wait >= HINT_FLOOR && own > wait / 2.0 => Some((row, own)),
            _ => None,
        });
    if let Some((row, own)) = held {
        hints.push(format!(
            "{} held the tests back: {own:.1}s of the {wait:.1}s wait was its own start",
            row.label
        ));
    }
    let saved = rows
        .iter()
        .filter_map(|row| {
            let RowOutcome::Ready(own) = row.outcome else {
                return None;
            };
            let service = state.services.iter().find(|s| s.name == row.label)?;
            if !service.awaited_healthy {
                return None;
            }
            let interval = service.check_interval?.as_secs_f64();
            (interval - own >= CHECK_SAVING).then_some((row, own, interval))
        })
        .max_by(|a, b| (a.2 - a.1).total_cmp(&(b.2 - b.1)));
    if let Some((row, own, interval)) = saved {
        hints.push(format!(
            "{} was ready {own:.1}s after it started; the daemon's first healthcheck \
             runs after {}, so `depends_on: service_healthy` alone would have waited that long",
            row.label,
            humantime::format_duration(Duration::from_secs_f64(interval.round()))
        ));
    }
    hints
}

/// The chart for a terminal `width` columns wide, with colours or not;
/// none where the bars would not fit.
pub fn text(chart: &Chart, width: usize, colors: bool) -> Option<String> {
    let label_width = chart
        .rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let notes: Vec<String> = chart.rows.iter().map(|r| r.outcome.note(r.end())).collect();
    let note_width = notes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    // "* " + label + " " + bars + " " + note
    let bars = width.checked_sub(2 + label_width + 1 + 1 + note_width)?;
    if bars < MIN_BARS {
        return None;
    }
    let paint = |text: String, style: Style| match colors {
        true => style.force_styling(true).apply_to(text).to_string(),
        false => text,
    };
    let mut out = String::new();
    for (row, note) in chart.rows.iter().zip(notes) {
        let mark = if row.critical { "*" } else { " " };
        let label: String = row.label.chars().take(label_width).collect();
        let note = match row.outcome.is_bad() {
            true => paint(note, Style::new().red()),
            false => note,
        };
        let bars = bars_of(row, chart.end, bars, &paint);
        let _ = writeln!(out, "{mark} {label:label_width$} {bars} {note}");
    }
    let _ = writeln!(
        out,
        "{}{}",
        " ".repeat(2 + label_width + 1),
        scale(chart.end, bars)
    );
    let legend = "░ created  █ started, not ready yet  * held back the tests";
    let _ = writeln!(
        out,
        "{}{}",
        " ".repeat(2 + label_width + 1),
        paint(legend.into(), Style::new().dim())
    );
    Some(trim_lines(&out))
}

/// The bars of `row` in `width` columns that span `end` seconds: `░` for
/// created, `█` for started or running, each at least one column wide.
fn bars_of(row: &Row, end: f64, width: usize, paint: &dyn Fn(String, Style) -> String) -> String {
    let column = |t: f64| ((t.max(0.0) / end) * width as f64).round() as usize;
    let mut out = String::new();
    let mut drawn = 0;
    for span in &row.spans {
        let from = column(span.from).max(drawn).min(width);
        let to = column(span.to).max(from + 1).min(width);
        if from >= to {
            continue;
        }
        out.push_str(&" ".repeat(from - drawn));
        let (glyph, style) = match span.kind {
            SpanKind::Waiting => ("░", Style::new().dim()),
            SpanKind::Starting if row.critical => ("█", Style::new().yellow()),
            SpanKind::Starting => ("█", Style::new().green()),
            SpanKind::Running if row.kind != RowKind::Tests => ("█", Style::new().cyan()),
            SpanKind::Running if row.outcome.is_bad() => ("█", Style::new().red()),
            SpanKind::Running => ("█", Style::new().green()),
        };
        out.push_str(&paint(glyph.repeat(to - from), style));
        drawn = to;
    }
    out.push_str(&" ".repeat(width - drawn));
    out
}

/// Round moments from 0 to `end` seconds, at most `room` of them, each
/// with its label.
pub fn ticks(end: f64, room: usize) -> Vec<(f64, String)> {
    const STEPS: [f64; 17] = [
        0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
        600.0, 1800.0,
    ];
    let room = room.max(1) as f64;
    let step = STEPS
        .into_iter()
        .find(|step| end / step <= room)
        .unwrap_or(3600.0);
    let count = (end / step + 1e-9).floor() as usize;
    (0..=count)
        .map(|k| k as f64 * step)
        .map(|at| (at, seconds_label(at)))
        .collect()
}

/// The time axis under `bars` columns that span `end` seconds: round
/// numbers, far enough apart to read.
fn scale(end: f64, bars: usize) -> String {
    let mut axis = vec![' '; bars + 8];
    for (at, label) in ticks(end, bars / 10) {
        let at = ((at / end) * bars as f64).round() as usize;
        let from = at.min(bars.saturating_sub(label.len()));
        if axis[from..from + label.len()].iter().all(|c| *c == ' ')
            && (from == 0 || axis[from - 1] == ' ')
        {
            for (i, c) in label.chars().enumerate() {
                axis[from + i] = c;
            }
        }
    }
    axis.into_iter().collect::<String>().trim_end().to_string()
}

fn seconds_label(seconds: f64) -> String {
    let tenths = seconds * 10.0;
    if seconds.fract().abs() < 1e-9 {
        format!("{seconds:.0}s")
    } else if (tenths - tenths.round()).abs() < 1e-9 {
        format!("{seconds:.1}s")
    } else {
        format!("{seconds:.2}s")
    }
}

fn trim_lines(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .fold(String::new(), |mut out, line| {
            out.push_str(line);
            out.push('\n');
            out
        })
}

#[cfg(test)]
mod tests;
