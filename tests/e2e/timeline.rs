//! The run at a glance, on fixtures/timeline (a db, an api that waits for
//! it to be healthy, tests that wait for the api): the terminal's chart,
//! the web page (`--timeline`, and timeline.html beside the artifacts)
//! opened in a real headless browser, and the Markdown summary with its
//! Mermaid gantt block, each with three rows in dependency order.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::engine::{FIX, assert_clean};
use crate::common::{Flavor, Testbed, per_flavor};

/// The rows of the page, as its SVG names them.
fn page_rows(html: &str) -> Vec<&str> {
    html.split("<g class=\"row ")
        .skip(1)
        .filter_map(|row| row.split("data-row=\"").nth(1)?.split('"').next())
        .collect()
}

/// The tasks of the summary's Mermaid block, by name.
fn gantt_tasks(markdown: &str) -> Vec<&str> {
    let block = markdown
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n").next())
        .unwrap_or_else(|| panic!("no mermaid block in\n{markdown}"));
    let mut lines = block.lines();
    assert_eq!(lines.next(), Some("gantt"), "{block}");
    lines
        .filter_map(|line| line.trim().split_once(" :").map(|(name, _)| name))
        .collect()
}

/// Chromium, headless, on the page: what its DOM became, and a
/// screenshot at `png`.
fn open_in_browser(page: &Path, png: &Path) -> String {
    let chromium = which_chromium();
    let url = format!("file://{}", page.display());
    let browse = |args: &[&str]| {
        let out = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(args)
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .expect("cannot start chromium");
        assert!(
            out.status.success(),
            "chromium {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shot = format!("--screenshot={}", png.display());
    browse(&["--window-size=1060,420", &shot]);
    browse(&["--dump-dom"])
}

fn which_chromium() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| panic!("the timeline page's test needs chromium on PATH\n{FIX}"))
}

fn the_page_and_the_summary_show_the_stack_in_dependency_order(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let (page, summary) = (tmp.path().join("timeline.html"), tmp.path().join("run.md"));
    let artifacts = tmp.path().join("artifacts");
    let out = Testbed::fixture("timeline")
        .flavor(flavor)
        .project("timeline")
        .args(["--timeline", page.to_str().unwrap()])
        .args(["--summary", summary.to_str().unwrap()])
        .args(["--artifacts", artifacts.to_str().unwrap()])
        .env("COLUMNS", "100")
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_clean(&out.project);

    // The terminal's chart: db then api, both on the critical path.
    let chart: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains('█') && !l.contains("held back the tests"))
        .collect();
    assert_eq!(chart.len(), 3, "{out}");
    for (line, row) in chart.iter().zip(["* db ", "* api ", "  tests "]) {
        assert!(line.contains(row), "{row:?} in {line:?}\n{out}");
    }

    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(page_rows(&html), ["db", "api", "tests"], "{html}");
    assert!(
        html.contains("<circle class=\"probe"),
        "the daemon's checks: {html}"
    );
    let beside = std::fs::read_to_string(artifacts.join("timeline.html")).unwrap();
    assert_eq!(page_rows(&beside), ["db", "api", "tests"]);

    let png =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("timeline-{}.png", flavor.tag()));
    let dom = open_in_browser(&page, &png);
    assert_eq!(page_rows(&dom), ["db", "api", "tests"], "{dom}");
    let shot = std::fs::read(&png).unwrap();
    assert!(shot.starts_with(b"\x89PNG"), "{} is no PNG", png.display());

    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(
        gantt_tasks(&markdown),
        ["db created", "db", "api created", "api", "tests (exit 0)"],
        "{markdown}"
    );
    assert!(
        markdown.starts_with("### testbed: tests passed\n"),
        "{markdown}"
    );
}
per_flavor!(the_page_and_the_summary_show_the_stack_in_dependency_order);
