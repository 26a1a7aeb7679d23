//! A reporter's sink: its mode, its writers and, under `--shards`, the shard
//! it speaks for. Every line testbed says goes through one, redacted, with
//! a timestamp in plain mode and a `[shard]` prefix where it applies; what
//! a command is asked for (`ls`, `gc`, `ports`, `--dry-run`) goes to its
//! results writer as it is.

use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use console::style;
use indicatif::MultiProgress;

use super::Mode;
use crate::ci::Ci;
use crate::exit::Failure;
use crate::redact::redact;

/// The columns of stderr's terminal in terminal mode; else `COLUMNS`, else
/// 100.
fn columns(mode: Mode) -> usize {
    let terminal = console::Term::stderr()
        .size_checked()
        .map(|(_, w)| usize::from(w));
    let set = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    match mode {
        Mode::Terminal => terminal.or(set).unwrap_or(80),
        Mode::Ci(_) | Mode::Plain => set.unwrap_or(100),
    }
}

/// Where the time of plain mode's lines and GitLab's sections comes from.
pub type Clock = fn() -> SystemTime;

pub struct Printer {
    mode: Mode,
    /// The groups open, where the CI does not nest them: one at most.
    depth: AtomicUsize,
    /// The columns a picture may take.
    width: usize,
    writer: Mutex<Box<dyn Write + Send>>,
    results: Mutex<Box<dyn Write + Send>>,
    clock: Clock,
    shard: Option<Shard>,
}

/// The live lines drawn on this process's terminal, if any: every line of
/// every printer goes above them, which are drawn again below it. There is
/// one stderr, and the signals' warnings have a printer of their own.
static LIVE: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// The shard a printer speaks for, under `--shards`.
struct Shard {
    name: String,
    /// In GitLab mode, its lines until it ends, for one section of their
    /// own: sections of several shards at once would interleave.
    held: Option<Mutex<Vec<String>>>,
}

impl Printer {
    /// Says what happens on `writer` in `mode`, and writes results to
    /// `results`.
    pub fn new(
        mode: Mode,
        writer: Box<dyn Write + Send>,
        results: Box<dyn Write + Send>,
    ) -> Printer {
        Printer {
            mode,
            depth: AtomicUsize::new(0),
            width: columns(mode),
            writer: Mutex::new(writer),
            results: Mutex::new(results),
            clock: SystemTime::now,
            shard: None,
        }
    }

    /// Speaks on stderr, and writes results to stdout: in a run, stdout
    /// is the tests' alone.
    pub fn standard(mode: Mode) -> Printer {
        Printer::new(
            mode,
            Box::new(std::io::stderr()),
            Box::new(std::io::stdout()),
        )
    }

    /// Writes `text` to the results as it is.
    pub fn result(&self, text: &str) {
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        // A closed stdout (`| head`) is no failure.
        let _ = results
            .write_all(text.as_bytes())
            .and_then(|()| results.flush());
    }

    /// Draws pictures `width` columns wide.
    #[cfg(test)]
    pub fn with_width(self, width: usize) -> Printer {
        Printer { width, ..self }
    }

    /// The columns a picture may take: the terminal's, else `COLUMNS`,
    /// else 100, as a CI's log viewer shows them.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Takes the time from `clock`, for output that reads the same each
    /// time.
    #[cfg(test)]
    pub fn with_clock(self, clock: Clock) -> Printer {
        Printer { clock, ..self }
    }

    /// Speaks for shard `name`: its lines start with `[name]`, or in GitLab
    /// mode wait for [`Printer::end_shard`].
    pub fn for_shard(self, name: &str) -> Printer {
        let held = Fold::of(self.mode).map(|_| Mutex::new(Vec::new()));
        Printer {
            shard: Some(Shard {
                name: name.to_string(),
                held,
            }),
            ..self
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// In a CI's log, prints the shard's lines in a group of their own
    /// under `header`, all at once.
    pub fn end_shard(self: &Arc<Self>, header: &str) {
        let (
            Some(Shard {
                name,
                held: Some(held),
            }),
            Some(fold),
        ) = (&self.shard, Fold::of(self.mode))
        else {
            return;
        };
        let lines = std::mem::take(&mut *held.lock().unwrap_or_else(|e| e.into_inner()));
        let section = section_name(&format!("testbed_shard_{name}"));
        self.write(fold.start(&section, header, true, self.unix_now()));
        self.write(lines.join("\n"));
        if let Some(end) = fold.end(&section, self.unix_now()) {
            self.write(end);
        }
    }

    fn emit(&self, line: String) {
        let line = redact(&line);
        let prefix = match (&self.shard, self.mode) {
            (Some(_), Mode::Ci(_)) | (None, _) => String::new(),
            (Some(shard), _) => format!("[{}] ", shard.name),
        };
        let now = match self.mode {
            Mode::Plain => humantime::format_rfc3339_millis((self.clock)()).to_string() + " ",
            Mode::Terminal | Mode::Ci(_) => String::new(),
        };
        let line = line
            .lines()
            .map(|l| format!("{now}{prefix}{l}").trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        self.raw(line);
    }

    /// A command to the CI (a mask, an annotation), as it is: no
    /// timestamp, no prefix, no redaction.
    pub fn command(&self, line: String) {
        self.raw(line);
    }

    /// A line written as it is: no timestamp, no redaction needed. A shard
    /// in a CI's log holds it back until its group.
    fn raw(&self, line: String) {
        match self.shard.as_ref().and_then(|shard| shard.held.as_ref()) {
            Some(held) => held.lock().unwrap_or_else(|e| e.into_inner()).push(line),
            None => self.write(line),
        }
    }

    fn write(&self, line: String) {
        let write = || {
            let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            // A closed stderr must not abort the run: teardown still has
            // to happen.
            let _ = writeln!(writer, "{line}").and_then(|()| writer.flush());
        };
        let live = LIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match live {
            Some(live) => live.suspend(write),
            None => write(),
        }
    }

    /// Has every printer write above `live` while it is drawn: otherwise a
    /// line written under way leaves a stale copy of the live lines
    /// behind. `None` once they are gone.
    pub fn write_above(live: Option<MultiProgress>) {
        *LIVE.lock().unwrap_or_else(|e| e.into_inner()) = live;
    }

    /// A phase of the run: `testbed: starting db, api`.
    pub fn step(&self, message: impl Display) {
        self.emit(format!("{} {message}", style("testbed:").bold()));
    }

    /// A line that only `-v` shows.
    pub fn detail(&self, verbose: bool, message: impl Display) {
        if verbose {
            self.emit(format!("{} {message}", style("testbed:").dim()));
        }
    }

    pub fn warn(&self, message: impl Display) {
        self.emit(format!("{} {message}", style("warning:").yellow().bold()));
    }

    /// The header above a block of service output.
    pub fn section(&self, title: impl Display) {
        self.emit(format!("{}", style(format!("──── {title} ────")).cyan()));
    }

    /// Raw text, such as a service log, written under a [`Printer::section`].
    pub fn block(&self, text: &str) {
        let text = text.trim_end_matches('\n');
        if !text.is_empty() {
            self.emit(text.to_string());
        }
    }

    /// The `-v` echo of a command about to run: `+ docker compose -p tb-… up -d`.
    pub fn echo(&self, cmd: impl Display) {
        self.emit(format!("{} {cmd}", style("+").dim()));
    }

    /// `error:`, then the `Caused by:` chain, then a `hint:` when we know
    /// the fix.
    pub fn failure(&self, failure: &Failure) {
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
        self.emit(out);
    }

    /// What testbed does on SIGINT, SIGTERM and SIGHUP, said as each
    /// arrives.
    pub fn signal_received(&self, signal: i32, count: usize) {
        let name = crate::signals::name(signal);
        match count {
            1 => self.warn(format!(
                "received {name}: stopping, then tearing the stack down (send it again to skip log collection)"
            )),
            2 => self.warn(format!(
                "received {name} again: skipping log collection, killing the stack"
            )),
            _ => self.warn("teardown is already running; it cannot be interrupted"),
        }
    }

    /// Opens a group of the CI's log named `name` (made of
    /// `[A-Za-z0-9_.-]`) under `header`: a collapsible section in GitLab,
    /// a group in GitHub and Azure, a header in Buildkite; elsewhere
    /// nothing. The noisy phases are `collapsed`; the tests' own output is
    /// not. Only GitLab nests groups: elsewhere, one opened inside another
    /// is nothing.
    pub fn open(self: &Arc<Self>, name: &str, header: impl Display, collapsed: bool) -> Section {
        let Some(fold) = Fold::of(self.mode) else {
            return Section(None);
        };
        if !fold.nests() && self.depth.fetch_add(1, Ordering::SeqCst) > 0 {
            self.depth.fetch_sub(1, Ordering::SeqCst);
            return Section(None);
        }
        let shard = match &self.shard {
            Some(shard) => format!("{}_", shard.name),
            None => String::new(),
        };
        let name = section_name(&format!("testbed_{shard}{name}"));
        self.raw(fold.start(&name, &header.to_string(), collapsed, self.unix_now()));
        Section(Some((name, Arc::clone(self))))
    }

    /// A group of the CI's log, where one can open; elsewhere a `────
    /// title ────` line above a block.
    pub fn titled(self: &Arc<Self>, name: &str, title: impl Display, collapsed: bool) -> Section {
        let title = title.to_string();
        let section = self.open(name, &title, collapsed);
        if section.0.is_none() {
            self.section(title);
        }
        section
    }

    /// Ends the group `name` opened.
    fn close(&self, name: &str) {
        let Some(fold) = Fold::of(self.mode) else {
            return;
        };
        if !fold.nests() {
            self.depth.fetch_sub(1, Ordering::SeqCst);
        }
        if let Some(end) = fold.end(name, self.unix_now()) {
            self.raw(end);
        }
    }

    fn unix_now(&self) -> u64 {
        (self.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A name fit for a GitLab section: `[A-Za-z0-9_.-]`.
fn section_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How a CI's log folds lines into groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    /// `section_start`/`section_end` escape lines, nested as deep as needed.
    Gitlab,
    /// `::group::`/`::endgroup::`.
    Github,
    /// `##[group]`/`##[endgroup]`.
    Azure,
    /// `--- title` (collapsed) or `+++ title` (expanded), up to the next.
    Buildkite,
}

impl Fold {
    fn of(mode: Mode) -> Option<Fold> {
        match mode {
            Mode::Ci(Ci::Gitlab) => Some(Fold::Gitlab),
            Mode::Ci(Ci::Github) => Some(Fold::Github),
            Mode::Ci(Ci::Azure) => Some(Fold::Azure),
            Mode::Ci(Ci::Buildkite) => Some(Fold::Buildkite),
            _ => None,
        }
    }

    fn nests(self) -> bool {
        self == Fold::Gitlab
    }

    /// The line that opens a group. Only GitLab's header takes colours.
    fn start(self, name: &str, header: &str, collapsed: bool, unix_now: u64) -> String {
        match self {
            Fold::Gitlab => {
                let options = if collapsed { "[collapsed=true]" } else { "" };
                let header = style(header).bold();
                format!("\x1b[0Ksection_start:{unix_now}:{name}{options}\r\x1b[0K{header}")
            }
            Fold::Github => format!("::group::{header}"),
            Fold::Azure => format!("##[group]{header}"),
            Fold::Buildkite if collapsed => format!("--- {header}"),
            Fold::Buildkite => format!("+++ {header}"),
        }
    }

    fn end(self, name: &str, unix_now: u64) -> Option<String> {
        match self {
            Fold::Gitlab => Some(format!("\x1b[0Ksection_end:{unix_now}:{name}\r\x1b[0K")),
            Fold::Github => Some("::endgroup::".into()),
            Fold::Azure => Some("##[endgroup]".into()),
            Fold::Buildkite => None,
        }
    }
}

/// A group of the CI's log; elsewhere nothing. Closed when dropped.
#[must_use]
pub struct Section(Option<(String, Arc<Printer>)>);

impl Drop for Section {
    fn drop(&mut self) {
        if let Some((name, printer)) = &self.0 {
            printer.close(name);
        }
    }
}

#[cfg(test)]
pub mod tests {
    use std::time::Duration;

    use super::*;

    /// A writer whose bytes can be read while a printer holds it.
    #[derive(Clone, Default)]
    pub struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).replace('\x1b', "\\e")
        }
    }

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Always the same moment: 2023-11-14T22:13:20Z.
    pub fn clock() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    /// A printer in `mode` over two buffers, its lines and its results.
    /// Too narrow for the timeline, whose bars follow the real clock: the
    /// gantt module draws it from times of its own.
    pub fn printer(mode: Mode) -> (Printer, Buffer, Buffer) {
        let (lines, results) = (Buffer::default(), Buffer::default());
        let printer = Printer::new(mode, Box::new(lines.clone()), Box::new(results.clone()));
        (printer.with_clock(clock).with_width(20), lines, results)
    }

    #[test]
    fn a_shard_prefixes_its_lines_and_plain_mode_stamps_them() {
        let (printer, lines, _) = printer(Mode::Plain);
        let printer = printer.for_shard("s2");
        printer.step("starting db");
        printer.warn("two\nlines");
        assert_eq!(
            lines.text(),
            "2023-11-14T22:13:20.000Z [s2] testbed: starting db\n\
             2023-11-14T22:13:20.000Z [s2] warning: two\n\
             2023-11-14T22:13:20.000Z [s2] lines\n"
        );
    }

    #[test]
    fn a_shard_in_gitlab_holds_its_lines_for_one_section() {
        let (printer, lines, _) = printer(Mode::Ci(Ci::Gitlab));
        let printer = Arc::new(printer.for_shard("s1"));
        {
            let _up = printer.open("up", "up: db", true);
            printer.step("starting db");
        }
        assert_eq!(lines.text(), "", "printed before the shard ended");
        printer.end_shard("s1: tb-x-s1");
        insta::assert_snapshot!(lines.text());
    }

    #[test]
    fn results_are_written_as_they_are() {
        let (printer, lines, results) = printer(Mode::Plain);
        printer.result("PROJECT  AGE\n");
        assert_eq!(results.text(), "PROJECT  AGE\n");
        assert_eq!(lines.text(), "");
    }
}
