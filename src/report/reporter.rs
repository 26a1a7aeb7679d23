//! The reporter of a run: it consumes the run's events and turns them into
//! lines on stderr in the chosen mode, live lines on a terminal, GitLab
//! sections, the summary, and the JUnit and JSON files.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use super::lines::{self, Line};
use super::live::Live;
use super::timeline::{self, PhaseName, Timeline};
use super::{
    Section, block, detail, diagnosis, failure, json, junit, open, section, step, summary,
};
use super::{titled, warn};
use crate::events::{Collected, ComposeUsed, Ending, Events, RunEvent, StackAfter, Verdict};
use crate::topology::artifacts::LOGS;

/// What the reporter is asked for beyond the lines.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Show the details and echo the commands (`-v`).
    pub verbose: bool,
    pub junit: Option<PathBuf>,
    /// A glob under the artifacts directory, of JUnit files to merge.
    pub junit_from: Option<String>,
    pub report: Option<PathBuf>,
    /// The shard this run is, under `--shards`: its lines say so, and the
    /// summary of all shards replaces its own.
    pub shard: Option<String>,
}

pub struct Reporter {
    options: Options,
    timeline: Timeline,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    project: String,
    /// The compose command, once preflight found it.
    compose: Option<ComposeUsed>,
    /// The artifacts directory, its strategy and why.
    artifacts: Option<(PathBuf, String, String)>,
    /// The phases under way, innermost last.
    running: Vec<(PhaseName, timeline::Running, Section)>,
    live: Option<Live>,
}

impl Reporter {
    pub fn new(options: Options) -> Reporter {
        Reporter {
            options,
            timeline: Timeline::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// What the run's timeline holds so far.
    pub fn snapshot(&self) -> timeline::State {
        self.timeline.snapshot()
    }

    /// The compose project of the run, once it started.
    pub fn project(&self) -> String {
        self.state().project.clone()
    }

    /// The compose command, once preflight found it.
    pub fn compose(&self) -> Option<ComposeUsed> {
        self.state().compose.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finished(&self, verdict: &Verdict) {
        if let Some(error) = &verdict.teardown_error {
            warn(format!("{error:#}"));
        }
        let elapsed = self.elapsed();
        let project = self.state().project.clone();
        match &verdict.ending {
            Ending::Passed => step(format!("tests passed after {elapsed}")),
            Ending::TestsFailed(code) => {
                let killed = match self.timeline.snapshot().tests_oom {
                    Some(limit) => format!(", {}", crate::events::out_of_memory(limit)),
                    None => String::new(),
                };
                step(format!(
                    "tests failed (exit {code}{killed}) after {elapsed}"
                ));
            }
            Ending::Ready => {}
            Ending::Removed => step(format!("stack {project} removed")),
            Ending::Failed(what) => failure(what),
            Ending::Interrupted { signal, stack } => {
                let name = crate::signals::name(*signal);
                match stack {
                    StackAfter::Kept => {
                        step(format!("interrupted by {name}; the stack is still up"));
                    }
                    StackAfter::Removed => {
                        step(format!("interrupted by {name}; the stack was removed"));
                    }
                    StackAfter::NeverStarted => {
                        step(format!("interrupted by {name}; nothing was started"));
                    }
                    // The teardown error above says it.
                    StackAfter::Unknown => {}
                }
            }
        }
        if let Some(diagnosis) = &verdict.diagnosis {
            section("testbed doctor");
            let _ = std::io::stderr().lock().write_all(diagnosis.as_bytes());
        }
        self.write_reports(verdict);
        if self.options.verbose {
            let (calls, busy) = crate::engine::cmd::busy();
            let own = self.timeline.elapsed().saturating_sub(busy);
            detail(
                true,
                format!(
                    "{calls} docker calls kept the run busy for {:.2}s; the rest, {} ms, was testbed's own",
                    busy.as_secs_f64(),
                    own.as_millis()
                ),
            );
        }
    }

    /// The run's time so far, and where its logs are.
    fn elapsed(&self) -> String {
        let logs = match &self.state().artifacts {
            Some((dir, _, _)) => format!("; logs: {}/{LOGS}/", dir.display()),
            None => String::new(),
        };
        format!("{:.1}s{logs}", self.timeline.elapsed().as_secs_f64())
    }

    /// Writes `--junit` and `--report`; a file that cannot be written is a
    /// warning, never a change of the exit code.
    fn write_reports(&self, verdict: &Verdict) {
        let snapshot = self.timeline.snapshot();
        let state = self.state();
        if let Some(path) = &self.options.junit {
            let mut report = junit::build(&state.project, &snapshot);
            if let (Some(pattern), Some((dir, _, _))) = (&self.options.junit_from, &state.artifacts)
            {
                for (file, why) in junit::merge(&mut report, dir, pattern) {
                    warn(format!(
                        "not merged into the JUnit report: {}: {why}",
                        file.display()
                    ));
                }
            }
            if let Err(error) = junit::write(&report, path) {
                warn(format!("{error:#}"));
            }
        }
        if let Some(path) = &self.options.report {
            let compose = state.compose.clone();
            let report = json::build(
                &json::Run {
                    project: &state.project,
                    compose: compose.as_ref(),
                    started_at: self.timeline.started_at,
                    duration: self.timeline.elapsed(),
                    artifacts: state.artifacts.as_ref().map(|(dir, strategy, why)| {
                        (dir.as_path(), strategy.as_str(), why.as_str())
                    }),
                    exit: verdict.exit,
                },
                &snapshot,
                &[],
            );
            if let Err(error) = json::write(&report, path) {
                warn(format!("{error:#}"));
            }
        }
    }
}

impl Events for Reporter {
    fn emit(&self, event: RunEvent<'_>) {
        let verbose = self.options.verbose;
        match event {
            RunEvent::Started { project } => {
                if let Some(shard) = &self.options.shard {
                    super::begin_shard(shard);
                }
                self.state().project = project.to_string();
                step(format!("project {project}"));
            }
            RunEvent::Compose(compose) => {
                detail(verbose, format!("compose: {}", compose.described));
                self.state().compose = Some(compose);
            }
            RunEvent::ArtifactsPlanned {
                dir,
                strategy,
                reason,
            } => {
                detail(verbose, format!("artifacts: {strategy} ({reason})"));
                self.state().artifacts =
                    Some((dir.to_path_buf(), strategy.to_string(), reason.to_string()));
            }
            RunEvent::PhaseStarted { phase, header } => {
                // The tests' own output stays in sight.
                let collapsed = phase != PhaseName::Tests;
                let section = open(phase.as_str(), header, collapsed);
                let running = self.timeline.begin(phase);
                self.state().running.push((phase, running, section));
            }
            RunEvent::PhaseFinished {
                phase,
                outcome,
                failure,
            } => {
                let mut state = self.state();
                let Some(at) = state.running.iter().rposition(|(p, _, _)| *p == phase) else {
                    return;
                };
                let (_, running, section) = state.running.remove(at);
                drop(state);
                let message = failure.map(|f| format!("{:#}", f.error));
                let log = failure.and_then(|f| f.log.as_ref()).map(|l| l.text.clone());
                self.timeline.end_with(running, outcome, message, log);
                drop(section);
            }
            // Several shards' live lines at once would tear each other up.
            RunEvent::Starting { .. } if self.options.shard.is_some() => {}
            RunEvent::Starting { services } => self.state().live = Some(Live::new(services)),
            RunEvent::Waiting(statuses) => {
                if let Some(live) = &self.state().live {
                    live.update(statuses);
                }
            }
            RunEvent::WaitOver => self.state().live = None,
            RunEvent::ServiceReady { service, after, at } => {
                self.timeline.ready(service, after, at);
                let after = after.as_secs_f64();
                detail(verbose, format!("{service} ready after {after:.1}s"));
            }
            RunEvent::NotReady(diagnosis) => {
                let service = &diagnosis.service;
                let _section = titled(&format!("not_ready_{service}"), service, false);
                block(&diagnosis::render(diagnosis));
                self.timeline.not_ready(diagnosis.clone());
            }
            RunEvent::ServiceLeft(left) => self.timeline.left(left),
            RunEvent::TestsExited { code, oom } => self.timeline.tests_exited(code, oom),
            RunEvent::DiedDuringTests(died) => {
                warn(died.to_string());
                self.timeline.died(died.clone());
            }
            RunEvent::Log {
                name,
                title,
                text,
                collapsed,
            } => {
                let _section = titled(name, title, collapsed);
                block(if text.trim().is_empty() {
                    "(empty)"
                } else {
                    text
                });
            }
            RunEvent::ArtifactsCollected(Collected { dir, files, logs }) => step(format!(
                "artifacts: {files} {} and {logs} {} in {}/",
                plural(files, "file"),
                plural(logs, "log"),
                dir.display()
            )),
            RunEvent::Ports(ports) => {
                let width = ports.iter().map(|p| p.service.len()).max().unwrap_or(0);
                for port in ports {
                    step(port.line(width));
                }
            }
            RunEvent::Plan(lines) => {
                // A closed stdout (`| head`) is no failure.
                let _ = writeln!(std::io::stdout().lock(), "{}", lines.join("\n"));
            }
            RunEvent::PhasesDone if self.options.shard.is_some() => {}
            RunEvent::PhasesDone => {
                let _section = titled("summary", "summary", false);
                block(&summary::render(&self.timeline.snapshot()));
            }
            RunEvent::Finished(verdict) => {
                self.finished(verdict);
                if let Some(shard) = &self.options.shard {
                    let project = self.state().project.clone();
                    super::end_shard(&format!("{shard}: {project}"));
                }
            }
            other => match lines::of(&other) {
                Some(Line::Step(line)) => step(line),
                Some(Line::Detail(line)) => detail(verbose, line),
                Some(Line::Warning(line)) => warn(line),
                None => {}
            },
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}
