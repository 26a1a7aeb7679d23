//! What testbed says on stderr, in the form that suits where it runs: a
//! terminal (colours, live lines), a GitLab job log (collapsible sections),
//! or anything else (plain lines with timestamps, no escape codes). The
//! tests' own output goes to stdout untouched, so `testbed run > out.txt`
//! holds only what the tests printed.

pub mod ci;
mod commands;
pub mod diagnosis;
pub mod gantt;
pub mod json;
pub mod junit;
mod lines;
mod listing;
pub mod live;
mod markdown;
pub mod page;
mod printer;
mod reporter;
pub mod shards;
pub mod summary;
pub mod timeline;
pub mod waiting;

pub use printer::{Printer, Section};
pub use reporter::{Options, Reporter};

use std::io::IsTerminal;

use crate::ci::Ci;

/// How to print, as asked for with `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Auto,
    /// The CI's groups (`--ci`).
    Ci,
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
    /// A CI's log, folded in the CI's own groups.
    Ci(Ci),
    Plain,
}

/// Chooses the mode and the colours. `auto` is the CI's log where the CI
/// folds one in groups (GitLab, GitHub Actions, Buildkite, Azure
/// Pipelines), a terminal when stderr is one, plain otherwise. Colours
/// follow `--color`, then `NO_COLOR`, `CLICOLOR=0` and `CLICOLOR_FORCE`;
/// plain mode has none.
pub fn configure(
    output: Output,
    color: Color,
    ci: Ci,
    env: impl Fn(&str) -> Option<String>,
) -> Mode {
    let folds = matches!(ci, Ci::Gitlab | Ci::Github | Ci::Buildkite | Ci::Azure);
    let mode = match output {
        Output::Terminal => Mode::Terminal,
        Output::Gitlab => Mode::Ci(Ci::Gitlab),
        Output::Ci if folds => Mode::Ci(ci),
        Output::Plain | Output::Ci => Mode::Plain,
        Output::Auto if folds => Mode::Ci(ci),
        Output::Auto if std::io::stderr().is_terminal() => Mode::Terminal,
        Output::Auto => Mode::Plain,
    };
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let colors = match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto if mode == Mode::Plain => false,
        Color::Auto if set("NO_COLOR") || env("CLICOLOR").as_deref() == Some("0") => false,
        Color::Auto if set("CLICOLOR_FORCE") || matches!(mode, Mode::Ci(_)) => true,
        Color::Auto => std::io::stderr().is_terminal(),
    };
    console::set_colors_enabled(colors);
    console::set_colors_enabled_stderr(colors);
    mode
}
