//! What testbed says on stderr, in the form that suits where it runs: a
//! terminal (colours, live lines), a GitLab job log (collapsible sections),
//! or anything else (plain lines with timestamps, no escape codes). The
//! tests' own output goes to stdout untouched, so `testbed run > out.txt`
//! holds only what the tests printed.

pub mod diagnosis;
pub mod json;
pub mod junit;
mod lines;
pub mod live;
mod reporter;
pub mod shards;
pub mod summary;
pub mod timeline;

pub use reporter::{Options, Reporter};

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use console::style;

use crate::exit::Failure;
use crate::redact::redact;
use crate::threads;

/// How to print, as asked for with `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Auto,
    Gitlab,
    Terminal,
    Plain,
}

/// When to use colours, as asked for with `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Where the output goes, decided once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Terminal,
    Gitlab,
    Plain,
}

static MODE: OnceLock<Mode> = OnceLock::new();

/// Chooses the mode and the colours. `auto` is GitLab when `GITLAB_CI` is
/// `true`, a terminal when stderr is one, plain otherwise. Colours follow
/// `--color`, then `NO_COLOR`, `CLICOLOR=0` and `CLICOLOR_FORCE`; plain
/// mode has none.
pub fn configure(output: Output, color: Color, env: impl Fn(&str) -> Option<String>) -> Mode {
    let mode = match output {
        Output::Terminal => Mode::Terminal,
        Output::Gitlab => Mode::Gitlab,
        Output::Plain => Mode::Plain,
        Output::Auto if env("GITLAB_CI").as_deref() == Some("true") => Mode::Gitlab,
        Output::Auto if std::io::stderr().is_terminal() => Mode::Terminal,
        Output::Auto => Mode::Plain,
    };
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let colors = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto if mode == Mode::Plain => false,
        Color::Auto if set("NO_COLOR") || env("CLICOLOR").as_deref() == Some("0") => false,
        Color::Auto if set("CLICOLOR_FORCE") || mode == Mode::Gitlab => true,
        Color::Auto => std::io::stderr().is_terminal(),
    };
    console::set_colors_enabled(colors);
    console::set_colors_enabled_stderr(colors);
    let _ = MODE.set(mode);
    crate::engine::cmd::echo_with(echo);
    mode
}

pub fn mode() -> Mode {
    MODE.get().copied().unwrap_or(Mode::Terminal)
}

fn emit(line: String) {
    let line = redact(&line);
    let prefix = match (shard(), mode()) {
        (Some(_), Mode::Gitlab) | (None, _) => String::new(),
        (Some(shard), _) => format!("[{}] ", shard.name),
    };
    let now = match mode() {
        Mode::Plain => humantime::format_rfc3339_millis(SystemTime::now()).to_string() + " ",
        Mode::Terminal | Mode::Gitlab => String::new(),
    };
    let line = line
        .lines()
        .map(|l| format!("{now}{prefix}{l}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    raw(line);
}

/// The shard a thread speaks for, under `--shards`, kept in the thread's
/// context so that the threads it starts speak for it too.
struct Shard {
    name: String,
    /// In GitLab mode, its lines until it ends, for one section of their
    /// own: sections of several shards at once would interleave.
    held: Option<Mutex<Vec<String>>>,
}

/// The shard this thread speaks for, if any.
fn shard() -> Option<Arc<Shard>> {
    threads::get()?.downcast::<Shard>().ok()
}

/// From now on this thread speaks for shard `name`: its lines start with
/// `[name]`, or in GitLab mode wait for [`end_shard`].
pub fn begin_shard(name: &str) {
    let held = (mode() == Mode::Gitlab).then(|| Mutex::new(Vec::new()));
    threads::set(Some(Arc::new(Shard {
        name: name.to_string(),
        held,
    })));
}

/// Ends what [`begin_shard`] began; in GitLab mode, prints the shard's
/// lines in a section of their own under `header`, all at once.
pub fn end_shard(header: &str) {
    let Some(shard) = threads::take().and_then(|c| c.downcast::<Shard>().ok()) else {
        return;
    };
    if let Some(held) = &shard.held {
        let lines = std::mem::take(&mut *held.lock().unwrap_or_else(|e| e.into_inner()));
        let name = format!("shard_{}", shard.name);
        let _section = open(&name, header, true);
        raw(lines.join("\n"));
    }
}

/// A GitLab collapsible section; elsewhere nothing. Closed when dropped.
#[must_use]
pub struct Section {
    name: Option<String>,
}

/// Opens a section named `name` (made of `[A-Za-z0-9_.-]`) under `header`.
/// The noisy phases are `collapsed`; the tests' own output is not.
pub fn open(name: &str, header: impl Display, collapsed: bool) -> Section {
    if mode() != Mode::Gitlab {
        return Section { name: None };
    }
    let shard = match shard() {
        Some(shard) => format!("{}_", shard.name),
        None => String::new(),
    };
    let name: String = format!("testbed_{shard}{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let options = if collapsed { "[collapsed=true]" } else { "" };
    raw(format!(
        "\x1b[0Ksection_start:{}:{name}{options}\r\x1b[0K{}",
        unix_now(),
        style(header).bold()
    ));
    Section { name: Some(name) }
}

/// A section in GitLab; elsewhere a `──── title ────` line above a block.
pub fn titled(name: &str, title: impl Display, collapsed: bool) -> Section {
    if mode() == Mode::Gitlab {
        return open(name, title, collapsed);
    }
    section(title);
    Section { name: None }
}

impl Drop for Section {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            raw(format!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K", unix_now()));
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A line written as it is: no timestamp, no redaction needed. A shard in
/// GitLab mode holds it back until its section.
fn raw(line: String) {
    let shard = shard();
    let held = shard.as_ref().and_then(|shard| shard.held.as_ref());
    if let Some(lines) = held {
        lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    } else {
        // A closed stderr must not abort the run: teardown still has to
        // happen.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// A phase of the run: `testbed: starting db, api`.
pub fn step(message: impl Display) {
    emit(format!("{} {message}", style("testbed:").bold()));
}

/// A line that only `-v` shows.
pub fn detail(verbose: bool, message: impl Display) {
    if verbose {
        emit(format!("{} {message}", style("testbed:").dim()));
    }
}

pub fn warn(message: impl Display) {
    emit(format!("{} {message}", style("warning:").yellow().bold()));
}

/// The header above a block of service output.
pub fn section(title: impl Display) {
    emit(format!("{}", style(format!("──── {title} ────")).cyan()));
}

/// Raw text, such as a service log, written under a [`section`].
pub fn block(text: &str) {
    let text = text.trim_end_matches('\n');
    if !text.is_empty() {
        emit(text.to_string());
    }
}

/// `error:`, then the `Caused by:` chain, then a `hint:` when we know the fix.
pub fn failure(failure: &Failure) {
    let mut out = format!("{} {}", style("error:").red().bold(), failure.error);
    let causes: Vec<String> = failure
        .error
        .chain()
        .skip(1)
        .map(|c| c.to_string())
        .collect();
    if !causes.is_empty() {
        out.push_str("\n\nCaused by:");
        for cause in causes {
            for (i, line) in cause.lines().enumerate() {
                let lead = if i == 0 { "  - " } else { "    " };
                out.push_str(&format!("\n{lead}{line}"));
            }
        }
    }
    if let Some(hint) = &failure.hint {
        out.push_str(&format!("\n\n{} {hint}", style("hint:").cyan().bold()));
    }
    emit(out);
}

/// What testbed does on SIGINT, SIGTERM and SIGHUP, said as each arrives.
pub fn signal_received(signal: i32, count: usize) {
    let name = crate::signals::name(signal);
    match count {
        1 => warn(format!(
            "received {name}: stopping, then tearing the stack down (send it again to skip log collection)"
        )),
        2 => warn(format!(
            "received {name} again: skipping log collection, killing the stack"
        )),
        _ => warn("teardown is already running; it cannot be interrupted"),
    }
}

/// The `-v` echo of a command about to run: `+ docker compose -p tb-… up -d`.
fn echo(cmd: &crate::engine::cmd::Cmd) {
    emit(format!("{} {cmd}", style("+").dim()));
}
