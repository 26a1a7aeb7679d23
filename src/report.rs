//! What testbed says on stderr. The tests' own output goes to stdout
//! untouched, so `testbed run > out.txt` holds only what the tests printed.

use std::fmt::Display;
use std::io::Write;

use console::style;

use crate::exit::Failure;
use crate::redact::redact;

fn emit(line: String) {
    // A closed stderr must not abort the run: teardown still has to happen.
    let _ = writeln!(std::io::stderr().lock(), "{}", redact(&line));
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

/// The `-v` echo of a command about to run: `+ docker compose -p tb-… up -d`.
pub fn echo(cmd: &crate::cmd::Cmd) {
    emit(format!("{} {cmd}", style("+").dim()));
}
