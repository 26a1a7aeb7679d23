//! What a reporter writes for a run's events, in each output mode: runs made
//! of synthetic events, fed to a reporter over buffers, snapshotted. The
//! clock is fixed; the durations a run measures itself are redacted.

use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;

use super::*;
use crate::ci::Ci;
use crate::engine::{ComposeFlavor, Daemon, DaemonKind};
use crate::events::{
    Diagnosis, Garbage, GcWould, ImageRow, PhaseOutcome, ProbeResult, Prober, ServiceState,
    StackRow, Trouble,
};
use crate::exit::{Exit, Failure};
use crate::report::Mode;
use crate::report::ci::CiReport;
use crate::report::printer::tests::{self as printer_tests, printer};

/// Each output mode, and the CI whose log folds in groups.
const MODES: [(Mode, &str); 6] = [
    (Mode::Terminal, "terminal"),
    (Mode::Ci(Ci::Gitlab), "gitlab"),
    (Mode::Ci(Ci::Github), "github"),
    (Mode::Ci(Ci::Buildkite), "buildkite"),
    (Mode::Ci(Ci::Azure), "azure"),
    (Mode::Plain, "plain"),
];

/// A reporter in `mode`, what it says and its results.
fn reporter(
    mode: Mode,
    options: Options,
) -> (Reporter, printer_tests::Buffer, printer_tests::Buffer) {
    let (printer, lines, results) = printer(mode);
    (Reporter::new(options, printer), lines, results)
}

/// The settings that redact what the run measures itself.
fn redacted() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d+\.\d+s\b", "N.Ns");
    settings.add_filter(r"\b\d+ ms\b", "N ms");
    settings
}

/// The end of a run: the verdict `ending`, and the `exit`.
fn finish(reporter: &Reporter, exit: Exit, ending: Ending) {
    reporter.emit(RunEvent::Finished(&Verdict {
        exit,
        ending,
        teardown_error: None,
        diagnosis: None,
    }));
}

/// Phase `phase` under `header`: what happens `during` it, then its end.
fn phase(
    reporter: &Reporter,
    (phase, header): (PhaseName, &str),
    during: impl FnOnce(),
    outcome: PhaseOutcome,
    failure: Option<&Failure>,
) {
    reporter.emit(RunEvent::PhaseStarted {
        phase,
        header: header.into(),
    });
    during();
    reporter.emit(RunEvent::PhaseFinished {
        phase,
        outcome,
        failure,
    });
}

fn preflight(reporter: &Reporter) {
    let passed = PhaseOutcome::Passed;
    phase(
        reporter,
        (PhaseName::Preflight, "preflight"),
        || {},
        passed,
        None,
    );
}

/// A run whose tests fail, with a warning and a dependency's log on the way.
fn tests_fail(reporter: &Reporter) {
    let compose = ComposeUsed {
        name: "docker compose".into(),
        flavor: ComposeFlavor::V2,
        version: Some("2.40.3".into()),
        described: "docker compose 2.40.3".into(),
    };
    reporter.emit(RunEvent::Started { project: "tb-x" });
    reporter.emit(RunEvent::Compose(compose));
    reporter.emit(RunEvent::Daemon(&Daemon {
        kind: DaemonKind::Docker,
        version: "20.10.24".into(),
    }));
    preflight(reporter);
    let services = ["db".to_string(), "cache".to_string()];
    let up = || {
        reporter.emit(RunEvent::BringingUp {
            services: &services,
        });
        for service in &services {
            reporter.emit(RunEvent::ServiceReady {
                service,
                after: Duration::from_millis(1500),
                at: printer_tests::clock(),
                started_at: None,
            });
        }
        reporter.emit(RunEvent::Ready {
            after: Duration::from_millis(1600),
        });
    };
    let (passed, failed) = (PhaseOutcome::Passed, PhaseOutcome::Failed);
    phase(reporter, (PhaseName::Up, "up: db, cache"), up, passed, None);
    let tests = || {
        reporter.emit(RunEvent::RunningTests { service: "tests" });
        reporter.emit(RunEvent::TestsExited { code: 3, oom: None });
    };
    phase(reporter, (PhaseName::Tests, "tests"), tests, failed, None);
    let error = anyhow!("`docker logs` failed with exit status 1");
    reporter.emit(RunEvent::Trouble(Trouble::Log(&error)));
    reporter.emit(RunEvent::Log {
        name: "log_db",
        title: "db log",
        text: "db | ready to accept connections\n",
        collapsed: true,
    });
    let teardown = || {
        reporter.emit(RunEvent::TornDown {
            after: Duration::from_millis(300),
        })
    };
    phase(
        reporter,
        (PhaseName::Teardown, "teardown"),
        teardown,
        passed,
        None,
    );
    reporter.emit(RunEvent::PhasesDone);
    finish(reporter, Exit::Tests(3), Ending::TestsFailed(3));
}

/// A run whose tests pass.
fn passes(reporter: &Reporter) {
    reporter.emit(RunEvent::Started { project: "tb-x" });
    preflight(reporter);
    let passed = PhaseOutcome::Passed;
    let up = || {
        reporter.emit(RunEvent::BringingUp {
            services: &["db".to_string()],
        });
        reporter.emit(RunEvent::Ready {
            after: Duration::from_millis(900),
        });
    };
    phase(reporter, (PhaseName::Up, "up: db"), up, passed, None);
    let tests = || {
        reporter.emit(RunEvent::RunningTests { service: "tests" });
        reporter.emit(RunEvent::TestsExited { code: 0, oom: None });
    };
    phase(reporter, (PhaseName::Tests, "tests"), tests, passed, None);
    reporter.emit(RunEvent::PhasesDone);
    finish(reporter, Exit::Tests(0), Ending::Passed);
}

/// A run that gives up on a dependency.
fn not_ready(reporter: &Reporter) {
    reporter.emit(RunEvent::Started { project: "tb-x" });
    preflight(reporter);
    let failure = Failure::engine(anyhow!(
        "dependency `db` turned unhealthy before the tests could start"
    ))
    .with_hint("its log is above; rerun with --keep to inspect the stack afterwards");
    let failed = PhaseOutcome::Failed;
    phase(
        reporter,
        (PhaseName::Up, "up: db"),
        || {},
        failed,
        Some(&failure),
    );
    reporter.emit(RunEvent::NotReady(&Diagnosis {
        service: "db".into(),
        state: ServiceState::Unhealthy,
        restarts: 0,
        oom: None,
        probes: vec![ProbeResult {
            by: Prober::Daemon,
            at: None,
            exit_code: Some(1),
            timed_out: false,
            output: "connection refused".into(),
        }],
        log: "db | FATAL: cannot open database file".into(),
        hint: None,
    }));
    reporter.emit(RunEvent::PhasesDone);
    finish(reporter, Exit::Engine, Ending::Failed(failure));
}

/// `text` as a regular expression that matches it alone.
fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' | '\\' => {
                format!("\\{c}")
            }
            c => c.to_string(),
        })
        .collect()
}

/// Feeds `run` to a reporter in each mode, and snapshots each as
/// `<name>_<mode>`.
fn in_each_mode(name: &str, run: fn(&Reporter)) {
    for (mode, mode_name) in MODES {
        let ci = match mode {
            Mode::Ci(ci) => ci,
            Mode::Terminal | Mode::Plain => Ci::None,
        };
        // Where Azure's summary file goes.
        let tmp = tempfile::tempdir().unwrap();
        let options = Options {
            ci: CiReport {
                ci,
                temp_dir: tmp.path().to_path_buf(),
                ..CiReport::default()
            },
            ..Options::default()
        };
        let (reporter, lines, _) = reporter(mode, options);
        run(&reporter);
        let mut settings = redacted();
        settings.add_filter(&regex_escape(&tmp.path().display().to_string()), "TMP");
        settings.bind(|| insta::assert_snapshot!(format!("{name}_{mode_name}"), lines.text()));
    }
}

#[test]
fn a_run_whose_tests_fail_in_each_mode() {
    in_each_mode("tests_fail", tests_fail);
}

#[test]
fn a_passing_run_in_each_mode() {
    in_each_mode("passes", passes);
}

#[test]
fn a_dependency_given_up_on_in_each_mode() {
    in_each_mode("not_ready", not_ready);
}

/// Under `-v`: the details, each command echoed, and the account of the
/// docker time at the end.
#[test]
fn verbose_echoes_commands_and_accounts_for_docker_time() {
    let options = Options {
        verbose: true,
        ..Options::default()
    };
    let (reporter, lines, _) = reporter(Mode::Plain, options);
    let observer = reporter.observer().expect("-v has an observer");
    let cmd = crate::engine::cmd::Cmd::new("/usr/bin/docker").args(["compose", "-p", "tb-x", "up"]);
    observer.echo(&cmd.env("CI_JOB_TOKEN", "secret"));
    tests_fail(&reporter);
    redacted().bind(|| insta::assert_snapshot!(lines.text()));
}

/// A shard's lines in GitLab come all at once, in a section of its own.
#[test]
fn a_shard_in_gitlab_prints_its_run_in_one_section() {
    let options = Options {
        shard: Some("s1".into()),
        ..Options::default()
    };
    let (reporter, lines, _) = reporter(Mode::Ci(Ci::Gitlab), options);
    reporter.emit(RunEvent::Started { project: "tb-x-s1" });
    preflight(&reporter);
    reporter.emit(RunEvent::RunningTests { service: "tests" });
    assert_eq!(lines.text(), "", "a shard printed before it ended");
    reporter.emit(RunEvent::PhasesDone);
    finish(&reporter, Exit::Tests(0), Ending::Passed);
    redacted().bind(|| insta::assert_snapshot!(lines.text()));
}

/// `gc` and `ls`: what they did on the results, what they kept on the
/// lines.
#[test]
fn gc_and_ls_write_results_and_say_the_rest() {
    let (reporter, lines, results) = reporter(Mode::Terminal, Options::default());
    reporter.emit(RunEvent::Removed {
        garbage: Garbage::Stack("tb-old"),
        why: "its run is gone",
        what: Some("2 containers, 1 network"),
        dry_run: false,
    });
    reporter.emit(RunEvent::Removed {
        garbage: Garbage::Image("testbed/api:tb-old"),
        why: "unused for 3d",
        what: None,
        dry_run: true,
    });
    reporter.emit(RunEvent::NothingToRemove {
        stacks: 1,
        images: 2,
    });
    let stacks = [StackRow {
        project: "tb-old".into(),
        age: Some(3 * 86400),
        owner: "ci:job 1234".into(),
        state: "2 exited".into(),
        gc: GcWould {
            removes: true,
            why: "its run is gone".into(),
        },
    }];
    let images = [ImageRow {
        name: "testbed/api:tb-old".into(),
        id: "abababababab".into(),
        age: None,
        in_use: true,
        gc: GcWould {
            removes: false,
            why: "a container uses it".into(),
        },
    }];
    reporter.emit(RunEvent::Listed {
        stacks: &stacks,
        images: &images,
    });
    reporter.emit(RunEvent::Listed {
        stacks: &[],
        images: &[],
    });
    reporter.emit(RunEvent::ArtifactsPlanned {
        dir: Path::new("/out"),
        strategy: "bind",
        reason: "the daemon sees /out",
    });
    insta::assert_snapshot!(format!(
        "results:\n{}\nlines:\n{}",
        results.text(),
        lines.text()
    ));
}
