//! The timeline as a web page: one self-contained HTML file, inline SVG
//! and CSS and no script, that a CI's artifact browser shows offline. The
//! same chart as the terminal's, with each healthcheck run as a tick whose
//! output shows on hover, the tests' exit code and OOM kills marked, the
//! critical path highlighted, and the run's project, command, engine and
//! compose in the header. Light or dark, as the reader's system is.

use std::fmt::Write;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};

use super::gantt::{Chart, Row, RowKind, RowOutcome, SpanKind, ticks};

/// What the page says of the run above the chart.
pub struct Header<'a> {
    pub project: &'a str,
    pub command: &'a [String],
    /// `Docker Engine 20.10.24`, `Podman 4.3.1`.
    pub engine: Option<String>,
    /// `docker compose 2.40.3`.
    pub compose: Option<String>,
    pub started_at: SystemTime,
    /// The run's exit code.
    pub exit: u8,
}

const WIDTH: f64 = 1000.0;
const LABELS: f64 = 190.0;
const NOTES: f64 = 230.0;
const ROW: f64 = 30.0;
const BAR: f64 = 14.0;
const TOP: f64 = 34.0;

const STYLE: &str = "
:root { --bg: #ffffff; --fg: #1f2328; --dim: #656d76; --grid: #d8dee4;
  --waiting: #d0d7de; --starting: #2da44e; --critical: #bf8700; --running: #0969da;
  --failed: #cf222e; --passed: #1a7f37; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --dim: #8d96a0; --grid: #30363d;
    --waiting: #30363d; --starting: #3fb950; --critical: #d29922; --running: #4493f8;
    --failed: #f85149; --passed: #3fb950; } }
body { background: var(--bg); color: var(--fg); margin: 24px; max-width: 1000px;
  font: 14px/1.4 -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; }
h1 { font-size: 20px; margin: 0 0 8px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0 0 16px; }
dt { color: var(--dim); } dd { margin: 0; font-family: ui-monospace, monospace; }
svg { max-width: 100%; height: auto; }
svg text { fill: var(--fg); font-size: 13px; }
.axis line { stroke: var(--grid); } .axis text { fill: var(--dim); font-size: 11px; }
.waiting { fill: var(--waiting); } .starting { fill: var(--starting); }
.critical .starting { fill: var(--critical); } .critical .label { font-weight: bold; }
.running { fill: var(--running); } .exit-ok { fill: var(--passed); } .exit-bad { fill: var(--failed); }
.note { fill: var(--dim); } .bad .note { fill: var(--failed); }
.probe { stroke: var(--bg); stroke-width: 1.5; } .probe.passed { fill: var(--passed); }
.probe.failed { fill: var(--failed); }
ul.hints { padding-left: 20px; } .legend { color: var(--dim); font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin: 0 4px 0 12px; }
";

/// The page, whole.
pub fn render(chart: &Chart, header: &Header) -> String {
    let mut page = String::new();
    let title = format!("testbed timeline: {}", header.project);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<dl>\n",
        escape(&title),
        escape(&title)
    );
    let started = humantime::format_rfc3339_seconds(header.started_at).to_string();
    let command = match header.command {
        [] => "the service's own command".to_string(),
        words => shell_words::join(words),
    };
    let facts = [
        ("project", Some(header.project.to_string())),
        ("command", Some(command)),
        ("engine", header.engine.clone()),
        ("compose", header.compose.clone()),
        ("started", Some(started)),
        ("exit code", Some(header.exit.to_string())),
    ];
    for (name, value) in facts {
        if let Some(value) = value {
            let _ = writeln!(page, "<dt>{name}</dt><dd>{}</dd>", escape(&value));
        }
    }
    page.push_str("</dl>\n");
    page.push_str(&svg(chart));
    page.push_str(
        "<p class=\"legend\"><span class=\"swatch waiting\" style=\"background:var(--waiting)\"></span>\
         created, not started yet<span class=\"swatch\" style=\"background:var(--starting)\"></span>\
         started, not ready yet<span class=\"swatch\" style=\"background:var(--critical)\"></span>\
         held back the tests<span class=\"swatch\" style=\"background:var(--running)\"></span>\
         setup step; dots are healthcheck runs, their output on hover</p>\n",
    );
    if !chart.hints.is_empty() {
        page.push_str("<ul class=\"hints\">\n");
        for hint in &chart.hints {
            let _ = writeln!(page, "<li>{}</li>", escape(hint));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// Writes the page to `path`.
pub fn write(chart: &Chart, header: &Header, path: &Path) -> Result<()> {
    std::fs::write(path, render(chart, header))
        .with_context(|| format!("cannot write the timeline to {}", path.display()))
}

fn svg(chart: &Chart) -> String {
    let bars = WIDTH - LABELS - NOTES;
    let height = TOP + ROW * chart.rows.len() as f64 + 8.0;
    let x = |t: f64| LABELS + (t.max(0.0) / chart.end) * bars;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"timeline\">"
    );
    svg.push_str("<g class=\"axis\">\n");
    for (at, label) in ticks(chart.end, (bars / 70.0) as usize) {
        let x = x(at);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{height:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            TOP - 8.0,
            TOP - 14.0
        );
    }
    svg.push_str("</g>\n");
    for (i, row) in chart.rows.iter().enumerate() {
        let top = TOP + ROW * i as f64;
        svg.push_str(&row_svg(row, top, &x, chart.end));
    }
    svg.push_str("</svg>\n");
    svg
}

fn row_svg(row: &Row, top: f64, x: &dyn Fn(f64) -> f64, end: f64) -> String {
    let kind = match row.kind {
        RowKind::Service => "service",
        RowKind::Step => "step",
        RowKind::Tests => "tests",
    };
    let bad = row.outcome.is_bad();
    let mut classes = vec!["row", kind];
    if row.critical {
        classes.push("critical");
    }
    if bad {
        classes.push("bad");
    }
    let mut out = format!(
        "<g class=\"{}\" data-row=\"{}\">\n",
        classes.join(" "),
        escape(&row.label)
    );
    let middle = top + ROW / 2.0;
    let mark = if row.critical { "★ " } else { "" };
    let _ = writeln!(
        out,
        "<text class=\"label\" x=\"8\" y=\"{:.1}\">{mark}{}</text>",
        middle + 4.5,
        escape(&row.label)
    );
    for span in &row.spans {
        let class = match (span.kind, &row.outcome) {
            (SpanKind::Waiting, _) => "waiting",
            (SpanKind::Starting, _) => "starting",
            (SpanKind::Running, RowOutcome::Exit { .. }) if bad => "running exit-bad",
            (SpanKind::Running, RowOutcome::Exit { .. }) => "running exit-ok",
            (SpanKind::Running, _) => "running",
        };
        let (from, to) = (x(span.from), x(span.to));
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" x=\"{from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{BAR}\" rx=\"2\">\
             <title>{}: {:.2}s to {:.2}s</title></rect>",
            middle - BAR / 2.0,
            (to - from).max(2.0),
            span_name(span.kind),
            span.from,
            span.to
        );
    }
    for probe in &row.probes {
        let class = if probe.passed { "passed" } else { "failed" };
        let output = if probe.output.is_empty() {
            "(no output)"
        } else {
            &probe.output
        };
        let _ = writeln!(
            out,
            "<circle class=\"probe {class}\" cx=\"{:.1}\" cy=\"{middle:.1}\" r=\"5\">\
             <title>{} check at {:.2}s, {class}: {}</title></circle>",
            x(probe.at.min(end)),
            probe.by.as_str(),
            probe.at,
            escape(output)
        );
    }
    let _ = writeln!(
        out,
        "<text class=\"note\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\n</g>",
        WIDTH - NOTES + 10.0,
        middle + 4.5,
        escape(&row.outcome.note(row.end()))
    );
    out
}

fn span_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Waiting => "created, not started yet",
        SpanKind::Starting => "starting",
        SpanKind::Running => "running",
    }
}

/// `text` as HTML text or an attribute's value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Prober;
    use crate::report::gantt::{Span, Tick};

    fn chart() -> Chart {
        let span = |from, to, kind| Span { from, to, kind };
        Chart {
            end: 4.0,
            rows: vec![
                Row {
                    label: "db".into(),
                    kind: RowKind::Service,
                    spans: vec![
                        span(0.1, 0.3, SpanKind::Waiting),
                        span(0.3, 1.2, SpanKind::Starting),
                    ],
                    critical: true,
                    probes: vec![Tick {
                        at: 1.0,
                        passed: false,
                        by: Prober::Daemon,
                        output: "<no> \"connection\" & 'refused'".into(),
                    }],
                    outcome: RowOutcome::Ready(0.9),
                },
                Row {
                    label: "tests".into(),
                    kind: RowKind::Tests,
                    spans: vec![span(1.3, 4.0, SpanKind::Running)],
                    critical: false,
                    probes: Vec::new(),
                    outcome: RowOutcome::Exit {
                        code: Some(137),
                        oom: Some("killed: out of memory".into()),
                    },
                },
            ],
            hints: vec!["db held the tests back".into()],
        }
    }

    fn header() -> Header<'static> {
        Header {
            project: "tb-api-<1>",
            command: &[],
            engine: Some("Docker Engine 20.10.24".into()),
            compose: None,
            started_at: SystemTime::UNIX_EPOCH,
            exit: 137,
        }
    }

    #[test]
    fn the_page_has_a_row_per_chart_row_and_escapes_what_the_run_said() {
        let page = render(&chart(), &header());
        assert_eq!(page.matches("<g class=\"row ").count(), 2, "{page}");
        assert!(page.contains("<g class=\"row service critical\" data-row=\"db\">"));
        assert!(page.contains("<g class=\"row tests bad\" data-row=\"tests\">"));
        assert!(page.contains("&lt;no&gt; &quot;connection&quot; &amp; &#39;refused&#39;"));
        assert!(page.contains("<dd>tb-api-&lt;1&gt;</dd>"));
        assert!(page.contains("exit 137, killed: out of memory"));
        assert!(page.contains("<li>db held the tests back</li>"));
        assert!(!page.contains("compose</dt>"), "no compose was known");
    }

    #[test]
    fn the_page_fetches_nothing() {
        let page = render(&chart(), &header());
        for outside in ["<script", "src=", "href=", "@import", "url("] {
            assert!(!page.contains(outside), "{outside} in\n{page}");
        }
    }
}
