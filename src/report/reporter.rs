//! The reporter of a run: it consumes the run's events and turns them into
//! lines on stderr in the chosen mode, live lines on a terminal, GitLab
//! sections, the summary, and the JUnit and JSON files.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::ci::{CiReport, Said};
use super::commands::Commands;
use super::lines::{self, Line};
use super::listing;
use super::live::Live;
use super::timeline::{self, PhaseName, Timeline};
use super::{Printer, Section, diagnosis, gantt, json, junit, markdown, page, summary};
use crate::engine::Daemon;
use crate::engine::cmd::Observer;
use crate::events::{Collected, ComposeUsed, Ending, Events, RunEvent, StackAfter, Verdict};
use crate::redact::redact;
use crate::topology::artifacts::{LOGS, TIMELINE};

/// What the reporter is asked for beyond the lines.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Show the details and echo the commands (`-v`).
    pub verbose: bool,
    pub junit: Option<PathBuf>,
    /// A glob under the artifacts directory, of JUnit files to merge.
    pub junit_from: Option<String>,
    pub report: Option<PathBuf>,
    /// `--timeline`: the web page of the startup.
    pub timeline: Option<PathBuf>,
    /// `--summary`: the Markdown summary.
    pub summary: Option<PathBuf>,
    /// The tests' command, for the page's header.
    pub command: Vec<String>,
    /// The CI's conventions: its annotations and its job summary.
    pub ci: CiReport,
    /// The shard this run is, under `--shards`: its lines say so, and the
    /// summary of all shards replaces its own.
    pub shard: Option<String>,
}

pub struct Reporter {
    options: Options,
    out: Arc<Printer>,
    /// Echoes the run's commands and keeps their account, under `-v`.
    commands: Option<Arc<Commands>>,
    timeline: Timeline,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    project: String,
    /// The compose command, once preflight found it.
    compose: Option<ComposeUsed>,
    /// The engine, once preflight reached it.
    daemon: Option<Daemon>,
    /// The artifacts directory, its strategy and why.
    artifacts: Option<(PathBuf, String, String)>,
    /// The artifacts were saved: the page of the timeline goes with them.
    collected: bool,
    /// The phases under way, innermost last.
    running: Vec<(PhaseName, timeline::Running, Section)>,
    live: Option<Live>,
}

impl Reporter {
    /// Reports to `out`, as the shard of `options` if it is one.
    pub fn new(options: Options, out: Printer) -> Reporter {
        let out = Arc::new(match &options.shard {
            Some(shard) => out.for_shard(shard),
            None => out,
        });
        let commands = options
            .verbose
            .then(|| Arc::new(Commands::new(Arc::clone(&out))));
        Reporter {
            options,
            out,
            commands,
            timeline: Timeline::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// Where it writes.
    pub fn printer(&self) -> &Arc<Printer> {
        &self.out
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

    /// The engine, once preflight reached it.
    pub fn daemon(&self) -> Option<Daemon> {
        self.state().daemon.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finished(&self, verdict: &Verdict) {
        if let Some(error) = &verdict.teardown_error {
            self.out.warn(format!("{error:#}"));
        }
        let elapsed = self.elapsed();
        let project = self.state().project.clone();
        match &verdict.ending {
            Ending::Passed => self.out.step(format!("tests passed after {elapsed}")),
            Ending::TestsFailed(code) => {
                let killed = match self.timeline.snapshot().tests_oom {
                    Some(limit) => format!(", {}", crate::events::out_of_memory(limit)),
                    None => String::new(),
                };
                self.out.step(format!(
                    "tests failed (exit {code}{killed}) after {elapsed}"
                ));
            }
            Ending::Ready => {}
            Ending::Removed => self.out.step(format!("stack {project} removed")),
            Ending::Failed(what) => self.out.failure(what),
            Ending::Interrupted { signal, stack } => {
                let name = crate::signals::name(*signal);
                match stack {
                    StackAfter::Kept => {
                        self.out
                            .step(format!("interrupted by {name}; the stack is still up"));
                    }
                    StackAfter::Removed => {
                        self.out
                            .step(format!("interrupted by {name}; the stack was removed"));
                    }
                    StackAfter::NeverStarted => {
                        self.out
                            .step(format!("interrupted by {name}; nothing was started"));
                    }
                    // The teardown error above says it.
                    StackAfter::Unknown => {}
                }
            }
        }
        if let Some(diagnosis) = &verdict.diagnosis {
            self.out.section("testbed doctor");
            self.out.block(diagnosis);
        }
        if let Some((title, message)) = self.annotation(&verdict.ending) {
            let context = format!("testbed-{project}");
            let said = self
                .options
                .ci
                .error(&context, &redact(&title), &redact(&message));
            self.tell_ci(said);
        }
        self.write_reports(verdict);
        if let Some(commands) = &self.commands {
            for (line, times) in commands.repeated() {
                self.out
                    .detail(true, format!("ran {times} times in all: {line}"));
            }
            let (calls, busy) = commands.busy();
            let own = self.timeline.elapsed().saturating_sub(busy);
            self.out.detail(
                true,
                format!(
                    "{calls} docker calls kept the run busy for {:.2}s; the rest, {} ms, was testbed's own",
                    busy.as_secs_f64(),
                    own.as_millis()
                ),
            );
        }
    }

    /// What a failed run's error annotation says: a failed start names the
    /// services given up on and why, failed tests their exit code.
    fn annotation(&self, ending: &Ending) -> Option<(String, String)> {
        match ending {
            Ending::TestsFailed(code) => Some((
                "testbed: the tests failed".into(),
                format!("the tests exited with code {code} after {}", self.elapsed()),
            )),
            Ending::Failed(failure) => {
                let given_up: Vec<String> = (self.timeline.snapshot().services.into_iter())
                    .filter(|s| s.diagnosis.is_some())
                    .map(|s| s.name)
                    .collect();
                let title = match given_up.as_slice() {
                    [] => "testbed: the run failed".to_string(),
                    names => format!("testbed: {} not ready", names.join(", ")),
                };
                let mut message = format!("{:#}", failure.error);
                if let Some(hint) = &failure.hint {
                    message.push_str(&format!("\nhint: {hint}"));
                }
                Some((title, message))
            }
            Ending::Passed | Ending::Ready | Ending::Removed | Ending::Interrupted { .. } => None,
        }
    }

    /// Says it to the CI: a line of the log, or a command to run.
    fn tell_ci(&self, said: Option<Said>) {
        match said {
            Some(Said::Line(line)) => self.out.command(line),
            Some(Said::Run(cmd)) => {
                if let Err(error) = cmd.output().and_then(|output| cmd.check(&output)) {
                    self.out.warn(format!("{error:#}"));
                }
            }
            None => {}
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
                    self.out.warn(format!(
                        "not merged into the JUnit report: {}: {why}",
                        file.display()
                    ));
                }
            }
            if let Err(error) = junit::write(&report, path) {
                self.out.warn(format!("{error:#}"));
            }
        }
        if let Some(path) = &self.options.report {
            let compose = state.compose.clone();
            let daemon = state.daemon.clone();
            let report = json::build(
                &json::Run {
                    project: &state.project,
                    compose: compose.as_ref(),
                    daemon: daemon.as_ref(),
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
                self.out.warn(format!("{error:#}"));
            }
        }
        self.write_pictures(&state, &snapshot, verdict);
    }

    /// Writes `--timeline` and `--summary`, and the page into the artifacts
    /// directory when they were saved.
    fn write_pictures(&self, state: &State, snapshot: &timeline::State, verdict: &Verdict) {
        let chart = gantt::chart(snapshot);
        let collected = state.artifacts.as_ref().filter(|_| state.collected);
        let pages = self
            .options
            .timeline
            .iter()
            .cloned()
            .chain(collected.map(|(dir, _, _)| dir.join(TIMELINE)));
        let ran = |name| snapshot.phases.iter().any(|phase| phase.name == name);
        // Tests against a stack that was up already: its startup was `up`'s.
        let why_none = match ran(PhaseName::Tests) && !ran(PhaseName::Up) {
            true => {
                "this run started nothing, the stack was up already; \
                     `testbed up --timeline FILE` draws its startup"
            }
            false => "the run ended before the stack started",
        };
        for path in pages {
            let Some(chart) = &chart else {
                self.out.warn(format!(
                    "no timeline written to {}: {why_none}",
                    path.display()
                ));
                continue;
            };
            let header = page::Header {
                project: &state.project,
                command: &self.options.command,
                engine: state.daemon.as_ref().map(ToString::to_string),
                compose: state.compose.as_ref().map(|c| match &c.version {
                    Some(version) => format!("{} {version}", c.name),
                    None => c.name.clone(),
                }),
                started_at: self.timeline.started_at,
                exit: verdict.exit.code(),
            };
            if let Err(error) = page::write(chart, &header, &path) {
                self.out.warn(format!("{error:#}"));
            }
        }
        let exit = verdict.exit.code();
        let text = markdown::render(&state.project, exit, snapshot, chart.as_ref());
        if let Some(path) = &self.options.summary {
            if let Err(error) = markdown::write(&text, path) {
                self.out.warn(format!("{error:#}"));
            }
        }
        let context = format!("testbed-summary-{}", state.project);
        match self.options.ci.summary(&context, &text) {
            Ok(said) => self.tell_ci(said),
            Err(error) => self.out.warn(format!("{error:#}")),
        }
    }
}

impl Events for Reporter {
    fn observer(&self) -> Option<Arc<dyn Observer>> {
        let commands = self.commands.clone()?;
        Some(commands)
    }

    fn emit(&self, event: RunEvent<'_>) {
        let verbose = self.options.verbose;
        match event {
            RunEvent::Started { project } => {
                self.state().project = project.to_string();
                self.out.step(format!("project {project}"));
                if let Some(lacking) = self.options.ci.lacking() {
                    self.out.warn(lacking);
                }
            }
            RunEvent::Compose(compose) => {
                self.out
                    .detail(verbose, format!("compose: {}", compose.described));
                self.state().compose = Some(compose);
            }
            RunEvent::ArtifactsPlanned {
                dir,
                strategy,
                reason,
            } => {
                self.out
                    .detail(verbose, format!("artifacts: {strategy} ({reason})"));
                self.state().artifacts =
                    Some((dir.to_path_buf(), strategy.to_string(), reason.to_string()));
            }
            RunEvent::PhaseStarted { phase, header } => {
                // The tests' own output stays in sight.
                let collapsed = phase != PhaseName::Tests;
                let section = self.out.open(phase.as_str(), header, collapsed);
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
            RunEvent::Starting { services, waits } => {
                self.timeline.starting(waits);
                // Several shards' live lines at once would tear each other up.
                if self.options.shard.is_none() {
                    let live = Live::new(services, waits, self.out.mode());
                    Printer::write_above(live.drawn());
                    self.state().live = Some(live);
                }
            }
            RunEvent::Waiting(statuses) => {
                if let Some(live) = &self.state().live {
                    live.update(statuses);
                }
            }
            RunEvent::WaitOver => {
                Printer::write_above(None);
                self.state().live = None;
            }
            RunEvent::ServiceReady {
                service,
                after,
                at,
                started_at,
            } => {
                self.timeline.ready(service, after, at, started_at);
                let after = after.as_secs_f64();
                self.out
                    .detail(verbose, format!("{service} ready after {after:.1}s"));
            }
            RunEvent::NotReady(diagnosis) => {
                let service = &diagnosis.service;
                let _section = self
                    .out
                    .titled(&format!("not_ready_{service}"), service, false);
                self.out.block(&diagnosis::render(diagnosis));
                self.timeline.not_ready(diagnosis.clone());
            }
            RunEvent::ServiceLeft(left) => self.timeline.left(left),
            RunEvent::SetupStep(step) => {
                self.out.step(format!("setup: {step}"));
                self.timeline.step(step.to_string());
            }
            RunEvent::TestsExited { code, oom } => self.timeline.tests_exited(code, oom),
            RunEvent::DiedDuringTests(died) => {
                self.out.warn(died.to_string());
                self.timeline.died(died.clone());
            }
            RunEvent::Log {
                name,
                title,
                text,
                collapsed,
            } => {
                let _section = self.out.titled(name, title, collapsed);
                self.out.block(if text.trim().is_empty() {
                    "(empty)"
                } else {
                    text
                });
            }
            RunEvent::ArtifactsCollected(Collected { dir, files, logs }) => {
                self.state().collected = true;
                self.out.step(format!(
                    "artifacts: {files} {} and {logs} {} in {}/",
                    plural(files, "file"),
                    plural(logs, "log"),
                    dir.display()
                ));
            }
            RunEvent::Ports(ports) => {
                let width = ports.iter().map(|p| p.service.len()).max().unwrap_or(0);
                for port in ports {
                    self.out.step(port.line(width));
                }
            }
            RunEvent::Plan(lines) => self.out.result(&format!("{}\n", lines.join("\n"))),
            RunEvent::Listed { stacks, images } => match listing::tables(stacks, images) {
                Some(tables) => self.out.result(&tables),
                None => self.out.step("no testbed stacks or images on this daemon"),
            },
            RunEvent::Removed {
                garbage,
                why,
                what,
                dry_run,
            } => {
                let line = lines::removed(&garbage, why, what, dry_run);
                self.out.result(&format!("{line}\n"));
            }
            RunEvent::NothingToRemove { stacks, images } => {
                self.out
                    .step(lines::nothing_to_remove(stacks, images, verbose));
            }
            RunEvent::PhasesDone if self.options.shard.is_some() => {}
            RunEvent::PhasesDone => {
                let snapshot = self.timeline.snapshot();
                let chart = gantt::chart(&snapshot);
                let colors = console::colors_enabled_stderr();
                let picture = chart
                    .as_ref()
                    .and_then(|chart| gantt::text(chart, self.out.width(), colors));
                let _section = self.out.titled("summary", "summary", false);
                self.out
                    .block(&summary::render(&snapshot, picture.is_none()));
                if let Some(picture) = &picture {
                    self.out.block(picture);
                }
                for hint in chart.iter().flat_map(|c| &c.hints) {
                    self.out.step(format!("hint: {hint}"));
                }
            }
            RunEvent::Finished(verdict) => {
                self.finished(verdict);
                if let Some(shard) = &self.options.shard {
                    let project = self.state().project.clone();
                    self.out.end_shard(&format!("{shard}: {project}"));
                }
            }
            RunEvent::Daemon(daemon) => {
                self.out.detail(verbose, lines::daemon(daemon));
                self.state().daemon = Some(daemon.clone());
            }
            other => match lines::of(&other) {
                Some(Line::Step(line)) => self.out.step(line),
                Some(Line::Detail(line)) => self.out.detail(verbose, line),
                Some(Line::Warning(line)) => self.out.warn(line),
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

#[cfg(test)]
mod tests;
