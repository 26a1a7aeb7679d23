//! What a run prints and writes: GitLab sections, plain lines, the summary,
//! colours, a closed stdout, and the JUnit and JSON reports.

use std::io::Read;
use std::process::Stdio;

use serde_json::Value;

use crate::common::engine::{assert_clean, require};
use crate::common::{Flavor, ROOT, Testbed, per_flavor};

const ESC: char = '\u{1b}';

/// A section marker: (start?, unix time, name, options, header).
type Marker = (bool, u64, String, String, String);

/// The GitLab section markers in `log`, in order.
fn markers(log: &str) -> Vec<Marker> {
    let mut found = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix(&format!("{ESC}[0Ksection_")) else {
            assert!(
                !line.contains("section_start") && !line.contains("section_end"),
                "{line:?}"
            );
            continue;
        };
        let (kind, rest) = rest.split_once(':').unwrap();
        let (time, rest) = rest.split_once(':').unwrap();
        let (name_and_options, header) = rest
            .split_once(&format!("\r{ESC}[0K"))
            .unwrap_or_else(|| panic!("no \\r\\e[0K in {line:?}"));
        let (name, options) = match name_and_options.split_once('[') {
            Some((name, options)) => (name, format!("[{options}")),
            None => (name_and_options, String::new()),
        };
        found.push((
            kind == "start",
            time.parse().unwrap_or_else(|_| panic!("time in {line:?}")),
            name.to_string(),
            options,
            header.to_string(),
        ));
    }
    found
}

fn gitlab_mode_folds_each_phase_into_a_section(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let out = Testbed::fixture("artifacts")
        .flavor(flavor)
        .project("gitlab")
        .env("GITLAB_CI", "true")
        .env("TESTBED_OUTPUT", "auto")
        .args(["--artifacts", tmp.path().to_str().unwrap()])
        .command(["sh", "-c", "echo the tests ran; exit 3"])
        .output();
    assert_eq!(out.code, Some(3), "{out}");
    let found = markers(&out.stderr);
    let mut open: Vec<&Marker> = Vec::new();
    let mut names = Vec::new();
    for marker in &found {
        let (start, time, name, options, header) = marker;
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)),
            "bad name {name:?}\n{out}"
        );
        assert!(*time > 1_700_000_000, "{marker:?}");
        if *start {
            assert!(!header.trim().is_empty(), "no header: {marker:?}");
            open.push(marker);
            names.push((name.clone(), options.clone()));
        } else {
            let started = open
                .pop()
                .unwrap_or_else(|| panic!("end without start: {marker:?}"));
            assert_eq!(&started.2, name, "sections must nest\n{out}");
            assert!(started.1 <= *time);
            assert!(header.is_empty(), "{marker:?}");
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}\n{out}");
    let collapsed = |name: &str| {
        names
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, options)| options == "[collapsed=true]")
            .unwrap_or_else(|| panic!("no section {name}\n{out}"))
    };
    for noisy in [
        "testbed_preflight",
        "testbed_up",
        "testbed_collect",
        "testbed_log_dep",
        "testbed_teardown",
    ] {
        assert!(collapsed(noisy), "{noisy} should be collapsed\n{out}");
    }
    for open in ["testbed_tests", "testbed_summary"] {
        assert!(!collapsed(open), "{open} should be expanded\n{out}");
    }
    assert_eq!(out.stdout, "the tests ran\n", "{out}");
    assert_clean(&out.project);
}
per_flavor!(gitlab_mode_folds_each_phase_into_a_section);

/// Replaces what changes from run to run (times, the project name) and
/// the alignment that follows from their widths.
fn redact(text: &str, project: &str) -> String {
    text.replace(project, "PROJECT")
        .split_whitespace()
        .map(|word| {
            let number = word.strip_suffix('s').unwrap_or(word);
            if number.contains('.') && number.parse::<f64>().is_ok() {
                "N.Ns".to_string()
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn plain_mode_stamps_every_line_and_prints_no_escape_codes(flavor: Flavor) {
    let out = Testbed::fixture("bench-chain")
        .flavor(flavor)
        .project("plain")
        .env("TESTBED_OUTPUT", "plain")
        .env("CLICOLOR_FORCE", "1")
        // Too narrow for the timeline, whose bars vary from run to run.
        .env("COLUMNS", "40")
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        !out.stderr.contains(ESC),
        "escape codes in plain mode\n{out}"
    );
    let mut text = Vec::new();
    for line in out.stderr.lines().filter(|l| !l.is_empty()) {
        // Compose's own stderr lines (v1's `Creating …`) are not ours.
        let Some((stamp, rest)) = line.split_once(' ') else {
            continue;
        };
        if humantime::parse_rfc3339(stamp).is_ok() {
            text.push(rest);
        }
    }
    let summary: Vec<String> = text
        .iter()
        .skip_while(|l| **l != "──── summary ────")
        .map(|l| redact(l, &out.project))
        .collect();
    assert_eq!(
        summary.join("\n"),
        "\
──── summary ────
phase time result
preflight N.Ns passed
up N.Ns passed
tests N.Ns exit 0
teardown N.Ns passed
service ready
db N.Ns
api N.Ns
worker N.Ns
testbed: tests passed after N.Ns",
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(plain_mode_stamps_every_line_and_prints_no_escape_codes);

/// On a terminal (a pty, from util-linux's `script`, read back as a
/// terminal shows it), each dependency's live line ends ready, once: the
/// last one's too, though the look that saw it ready also ended the wait;
/// and `-v`'s lines, written while the live lines are drawn, go above
/// them instead of leaving stale copies behind.
fn the_live_lines_end_ready_on_a_terminal(flavor: Flavor) {
    let (cmd, line) = Testbed::fixture("bench-chain")
        .flavor(flavor)
        .project("live")
        .args(["-v"])
        .env("TERM", "xterm")
        .env("COLUMNS", "200")
        .to_command();
    let quoted =
        |word: &std::ffi::OsStr| format!("'{}'", word.to_string_lossy().replace('\'', r"'\''"));
    let words: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quoted)
        .collect();
    // A terminal as wide as the longest echoed command, and tall enough
    // that nothing scrolls off it.
    let program = format!("stty cols 1000 rows 1000; exec {}", words.join(" "));
    let mut script = std::process::Command::new("script");
    script.args(["-qefc", &program, "/dev/null"]);
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => script.env(name, value),
            None => script.env_remove(name),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        script.current_dir(dir);
    }
    let out = script.stdin(Stdio::null()).output().unwrap();
    let size = std::num::NonZero::new(1000).unwrap();
    let mut terminal = vt100::Parser::new(size, size, 0);
    terminal.process(&out.stdout);
    let screen = terminal.screen().contents();
    assert!(out.status.success(), "{screen}");
    // Row by row: a live line fills its row, without a newline.
    let rows: Vec<String> = (terminal.screen().rows(0, 1000))
        .map(|row| row.trim_end().to_string())
        .collect();
    for service in ["db", "api", "worker"] {
        let live: Vec<&String> = rows
            .iter()
            .filter(|row| {
                let mut words = row.split_whitespace();
                row.starts_with("  ") && words.nth(1) == Some(service)
            })
            .collect();
        assert_eq!(live.len(), 1, "{service}'s live lines: {live:?}\n{screen}");
        assert!(live[0].starts_with(&format!("  ✓ {service} ")), "{screen}");
    }
    assert_clean(line.project.as_deref().unwrap());
}
per_flavor!(the_live_lines_end_ready_on_a_terminal);

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn colour_follows_the_color_flag() {
    require();
    let out = Testbed::fixture("basic")
        .project("color")
        .args(["--color", "always"])
        .output();
    assert!(out.stderr.contains(&format!("{ESC}[1mtestbed:")), "{out}");
    assert_clean(&out.project);
    let out = Testbed::fixture("basic")
        .project("nocolor")
        .env("TESTBED_OUTPUT", "gitlab")
        .env("NO_COLOR", "1")
        .output();
    // Section markers only: no colour.
    assert!(!out.stderr.contains(&format!("{ESC}[1m")), "{out}");
    assert_clean(&out.project);
}

fn a_closed_stdout_is_not_a_failure(flavor: Flavor) {
    let (mut cmd, _) = Testbed::fixture("basic")
        .flavor(flavor)
        .command([
            "sh",
            "-c",
            "i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done",
        ])
        .to_command();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one chunk, then close our end, as `| head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("testbed: tests passed"), "{stderr}");
    let project = stderr
        .lines()
        .find_map(|l| l.strip_prefix("testbed: project "))
        .unwrap();
    assert_clean(project);
}
per_flavor!(a_closed_stdout_is_not_a_failure);

// ---- reports --------------------------------------------------------------

fn junit(path: &std::path::Path) -> quick_junit::Report {
    let xml = std::fs::read_to_string(path).unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "),
        "{xml}"
    );
    quick_junit::Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

/// (name, failed?) of each case of the suite called `suite`.
fn cases(report: &quick_junit::Report, suite: &str) -> Vec<(String, bool)> {
    let suite = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == suite)
        .unwrap_or_else(|| panic!("no suite {suite}"));
    suite
        .test_cases
        .iter()
        .map(|c| {
            let failed = matches!(c.status, quick_junit::TestCaseStatus::NonSuccess { .. });
            (c.name.as_str().to_string(), failed)
        })
        .collect()
}

fn named(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter().map(|(n, f)| (n.to_string(), *f)).collect()
}

fn junit_and_json_reports_for_passing_and_failing_runs(flavor: Flavor) {
    let tmp = tempfile::tempdir().unwrap();
    let (junit_path, json_path) = (tmp.path().join("junit.xml"), tmp.path().join("run.json"));
    let artifacts = tmp.path().join("artifacts");
    let reports = |run: Testbed| {
        run.flavor(flavor).args([
            "--junit",
            junit_path.to_str().unwrap(),
            "--report",
            json_path.to_str().unwrap(),
        ])
    };

    // Passing, with the tests' own JUnit merged in.
    let out = reports(Testbed::fixture("artifacts").project("rep-pass"))
        .args([
            "--artifacts",
            artifacts.to_str().unwrap(),
            "--junit-from",
            "reports/*.xml",
        ])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    let report = junit(&junit_path);
    assert_eq!(
        cases(&report, "testbed"),
        named(&[
            ("preflight", false),
            ("up", false),
            ("dep is ready", false),
            ("tests", false),
            ("collect", false),
            ("teardown", false)
        ])
    );
    assert_eq!(cases(&report, "api"), named(&[("answers", false)]));
    let json = check_schema(&json_path);
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["tests_exit_code"], 0);
    assert_eq!(json["artifacts"]["strategy"], "bind");
    assert_eq!(json["compose"]["flavor"], flavor.tag());
    assert_eq!(json["services"][0]["name"], "dep");
    // testbed's own run of the healthcheck may come before the daemon's.
    let health = json["services"][0]["health_status"].as_str();
    assert!(matches!(health, Some("healthy" | "starting")), "{json}");
    assert_clean(&out.project);

    // The tests fail: their case fails, with their log.
    let out = reports(Testbed::fixture("basic").project("rep-fail"))
        .command(["sh", "-c", "echo assertion failed: 1 == 2; exit 3"])
        .output();
    assert_eq!(out.code, Some(3), "{out}");
    let xml = std::fs::read_to_string(&junit_path).unwrap();
    assert!(
        xml.contains("<failure message=\"the tests exited with code 3\">assertion failed: 1 == 2"),
        "{xml}"
    );
    let json = check_schema(&json_path);
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["exit_meaning"], "the tests failed with exit code 3");
    assert_eq!(json["artifacts"], Value::Null);
    assert_clean(&out.project);

    // A dependency crashes: up fails with its log; no tests case.
    let out = reports(Testbed::fixture("crash").project("rep-crash")).output();
    assert_eq!(out.code, Some(125), "{out}");
    assert_eq!(
        cases(&junit(&junit_path), "testbed"),
        named(&[
            ("preflight", false),
            ("up", true),
            ("dep is ready", true),
            ("collect", false),
            ("teardown", false)
        ])
    );
    let xml = std::fs::read_to_string(&junit_path).unwrap();
    assert!(xml.contains("FATAL: cannot open database file"), "{xml}");
    let json = check_schema(&json_path);
    assert_eq!(json["exit_code"], 125);
    assert_eq!(json["tests_exit_code"], Value::Null);
    assert_eq!(json["phases"][1]["outcome"], "failed");
    assert_eq!(json["services"][0]["state"], "exited");
    assert_eq!(json["services"][0]["exit_code"], 3);
    assert_clean(&out.project);
}
per_flavor!(junit_and_json_reports_for_passing_and_failing_runs);

/// The fields docs/reports.md documents, as (path, type), between its
/// `report-schema` markers.
fn documented_fields() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(format!("{ROOT}/docs/reports.md")).unwrap();
    let table = readme
        .split_once("<!-- report-schema -->")
        .and_then(|(_, rest)| rest.split_once("<!-- /report-schema -->"))
        .map(|(table, _)| table)
        .expect("docs/reports.md has the report schema");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[2].to_string())
        })
        .collect()
}

/// Checks the report at `path` against the README: every field documented,
/// of the documented type, and nothing else. Returns it.
pub fn check_schema(path: &std::path::Path) -> Value {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let documented = documented_fields();
    let mut seen = Vec::new();
    walk(&json, "", &mut seen);
    for (field, kind) in &seen {
        let doc = documented
            .iter()
            .find(|(f, _)| f == field)
            .unwrap_or_else(|| panic!("`{field}` is not documented in docs/reports.md"));
        assert!(
            doc.1.split(" or ").any(|t| t == kind),
            "`{field}` is {kind}, documented as {}",
            doc.1
        );
    }
    for (field, kind) in &documented {
        let nested = field.contains("[]")
            || (field.contains('.') && json[field.split('.').next().unwrap()].is_null());
        assert!(
            nested || seen.iter().any(|(f, _)| f == field),
            "documented `{field}` ({kind}) is missing"
        );
    }
    json
}

fn walk(value: &Value, path: &str, seen: &mut Vec<(String, String)>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match value {
        Value::Object(map) => {
            // The elements of `phases[]` and `services[]` are rows, not fields.
            if !path.is_empty() && !path.ends_with("[]") {
                seen.push((path.to_string(), kind.to_string()));
            }
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(child, &child_path, seen);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, &format!("{path}[]"), seen);
            }
        }
        _ => {
            // A whole-number duration prints as an integer: still a number.
            let kind = if kind == "integer" && path.ends_with("_s") {
                "number"
            } else {
                kind
            };
            seen.push((path.to_string(), kind.to_string()));
        }
    }
}
