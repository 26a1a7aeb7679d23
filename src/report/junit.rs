//! The JUnit XML report (`--junit`): one test case per phase and one per
//! dependency getting ready, so that GitLab's test report shows a broken
//! stack as plainly as a failing test. The tests' own JUnit files can be
//! merged in (`--junit-from`), so one file holds both.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::diagnosis;
use super::timeline::{Outcome, PhaseName, State};

/// Lines of a failure's log kept in the report.
const LOG_TAIL: usize = 50;

/// Builds the report of the run `project`.
pub fn build(project: &str, state: &State) -> Report {
    let mut report = Report::new(format!("testbed {project}"));
    report.add_test_suite(suite("testbed", project, state));
    report
}

/// The suite `name` of the run `project`: its phases and its dependencies.
pub fn suite(name: &str, project: &str, state: &State) -> TestSuite {
    let mut suite = TestSuite::new(name);
    for phase in &state.phases {
        let mut status = match phase.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Outcome::Interrupted => TestCaseStatus::non_success(NonSuccessKind::Error),
        };
        if let Some(message) = &phase.message {
            status.set_message(message.as_str());
        }
        if let Some(log) = &phase.log {
            status.set_description(tail(log));
        }
        let mut case = TestCase::new(phase.name.as_str(), status);
        case.set_classname(format!("testbed.{project}"))
            .set_time(phase.duration);
        suite.add_test_case(case);
        if phase.name == PhaseName::Up {
            suite.add_test_cases(readiness(project, state, phase.outcome));
        }
        if phase.name == PhaseName::Tests {
            suite.add_test_cases(state.died_during_tests.iter().map(|died| {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(died.to_string());
                status.set_description(tail(&died.log));
                let mut case = TestCase::new(format!("{} stays up", died.service), status);
                case.set_classname(format!("testbed.{project}"));
                case
            }));
        }
    }
    suite
}

/// One case per dependency: ready, or not when `up` failed.
fn readiness(project: &str, state: &State, up: Outcome) -> Vec<TestCase> {
    state
        .services
        .iter()
        .filter(|s| s.ready_after.is_some() || up != Outcome::Passed)
        .map(|service| {
            let status = match service.ready_after {
                Some(_) => TestCaseStatus::success(),
                None => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    match (&service.diagnosis, &service.left) {
                        (Some(why), _) => {
                            status
                                .set_message(format!("not ready: {}", diagnosis::state_line(why)));
                            status.set_description(diagnosis::render(why));
                        }
                        (None, left) => {
                            let state = left.as_ref().map_or("not created", |l| l.status.as_str());
                            let health = match left.as_ref().and_then(|l| l.health.as_ref()) {
                                Some(health) => format!(", {health}"),
                                None => String::new(),
                            };
                            status.set_message(format!("not ready: {state}{health}"));
                        }
                    }
                    status
                }
            };
            let mut case = TestCase::new(format!("{} is ready", service.name), status);
            case.set_classname(format!("testbed.{project}"));
            if let Some(after) = service.ready_after {
                case.set_time(after);
            }
            case
        })
        .collect()
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n")
}

/// Adds the test suites of every JUnit file that `pattern` matches under
/// `dir`. Returns the files it could not read, with why.
pub fn merge(report: &mut Report, dir: &Path, pattern: &str) -> Vec<(PathBuf, String)> {
    let full = dir.join(pattern);
    let Ok(paths) = glob::glob(&full.to_string_lossy()) else {
        return vec![(full, "not a valid glob pattern".into())];
    };
    let mut problems = Vec::new();
    for path in paths.flatten() {
        match read(&path) {
            Ok(theirs) => {
                for mut suite in theirs.test_suites {
                    // Counted from the cases: writers often leave the
                    // attributes out.
                    let cases = std::mem::take(&mut suite.test_cases);
                    (suite.tests, suite.failures, suite.errors, suite.skipped) = (0, 0, 0, 0);
                    suite.add_test_cases(cases);
                    report.add_test_suite(suite);
                }
            }
            Err(error) => problems.push((path, format!("{error:#}"))),
        }
    }
    problems
}

/// Reads a JUnit file whose root is `<testsuites>` or a single
/// `<testsuite>`, as pytest and others write it.
fn read(path: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(path).context("cannot read it")?;
    let body = match text.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or("", |(_, body)| body),
        None => text.as_str(),
    };
    let wrapped;
    let xml = if body.trim_start().starts_with("<testsuite")
        && !body.trim_start().starts_with("<testsuites")
    {
        wrapped = format!("<testsuites>{body}</testsuites>");
        wrapped.as_str()
    } else {
        body
    };
    Report::deserialize_from_str(xml).map_err(|e| anyhow::anyhow!("not JUnit XML: {e}"))
}

/// Writes the report to `path`.
pub fn write(report: &Report, path: &Path) -> Result<()> {
    let xml = report
        .to_string()
        .context("cannot render the JUnit report")?;
    std::fs::write(path, xml).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::report::timeline::{Phase, PhaseName, Service};

    fn phase(name: PhaseName, outcome: Outcome, message: Option<&str>) -> Phase {
        Phase {
            name,
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(1500),
            outcome,
            message: message.map(str::to_string),
            log: message.map(|_| "line 1\nFATAL: no database".to_string()),
        }
    }

    fn service(name: &str, ready: bool, state: &str) -> Service {
        Service {
            name: name.into(),
            ready_after: ready.then(|| Duration::from_secs(1)),
            left: Some(crate::events::ServiceLeft {
                service: name.into(),
                status: state.into(),
                ..Default::default()
            }),
            ..Service::default()
        }
    }

    #[test]
    fn a_failed_dependency_is_a_failed_case_with_its_log() {
        let state = State {
            phases: vec![
                phase(PhaseName::Preflight, Outcome::Passed, None),
                phase(
                    PhaseName::Up,
                    Outcome::Failed,
                    Some("dependency `db` exited with code 3"),
                ),
                phase(PhaseName::Teardown, Outcome::Passed, None),
            ],
            services: vec![
                service("db", false, "exited"),
                service("cache", true, "running"),
            ],
            ..State::default()
        };
        let xml = build("tb-x", &state).to_string().unwrap();
        assert!(
            xml.contains(
                r#"<testsuites name="testbed tb-x" tests="5" skipped="0" failures="2" errors="0""#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="dependency `db` exited with code 3">line 1"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="db is ready" classname="testbed.tb-x">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="not ready: exited"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<testcase name="cache is ready" classname="testbed.tb-x" time="1.000"/>"#
            ),
            "{xml}"
        );
    }

    #[test]
    fn the_tests_own_junit_is_merged_whatever_its_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("reports")).unwrap();
        std::fs::write(
            dir.path().join("reports/a.xml"),
            r#"<?xml version="1.0"?><testsuite name="pytest" tests="1"><testcase name="test_api" classname="t"/></testsuite>"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("reports/b.xml"),
            r#"<testsuites><testsuite name="go" tests="1"><testcase name="TestX" classname="x"><failure message="boom"/></testcase></testsuite></testsuites>"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("reports/c.xml"), "not xml").unwrap();
        let state = State {
            phases: vec![phase(PhaseName::Tests, Outcome::Passed, None)],
            ..State::default()
        };
        let mut report = build("tb-x", &state);
        let problems = merge(&mut report, dir.path(), "reports/*.xml");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].0.ends_with("reports/c.xml"));
        let xml = report.to_string().unwrap();
        for name in ["testbed", "pytest", "go"] {
            assert!(
                xml.contains(&format!(r#"<testsuite name="{name}""#)),
                "{xml}"
            );
        }
        assert!(
            xml.contains(r#"<testsuites name="testbed tb-x" tests="3" skipped="0" failures="1""#),
            "{xml}"
        );
    }
}
