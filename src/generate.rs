//! Shell completions and the man page, generated from the clap definition in
//! `cli`, so they name the same subcommands and flags as `--help`.

use std::io::{self, Write};

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::cli::Cli;
use crate::exit::{Exit, Failure, OrFail};

/// `testbed completions SHELL`: the completion script, on stdout.
pub fn completions(shell: Shell) -> Result<Exit, Failure> {
    let mut script = Vec::new();
    // Into a buffer first: clap_complete panics when its writer fails, as it
    // does on a closed pipe (`testbed completions bash | head`).
    clap_complete::generate(shell, &mut Cli::command(), "testbed", &mut script);
    to_stdout(&script)
}

/// `testbed man`: the man page, on stdout.
pub fn man() -> Result<Exit, Failure> {
    to_stdout(&man_page().expect("rendering into memory cannot fail"))
}

/// Writes `bytes` to stdout. A reader that stopped early, as `head` does, is
/// not a failure: it has all it wanted.
fn to_stdout(bytes: &[u8]) -> Result<Exit, Failure> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(error)
            .context("cannot write to stdout")
            .or_fail(Exit::Tests(1)),
        _ => Ok(Exit::Tests(0)),
    }
}

/// One page for the whole command: every subcommand with its options, then
/// the exit status and the examples from `--help`.
fn man_page() -> io::Result<Vec<u8>> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    let commands: Vec<clap::Command> = cli
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .cloned()
        .collect();
    let synopsis: Vec<String> = commands
        .iter()
        .map(|c| {
            let usage = c.clone().render_usage().to_string();
            usage.trim_start_matches("Usage: ").to_string()
        })
        .collect();
    let page = Man::new(cli.clone().override_usage(synopsis.join("\n")));

    let mut roff = Vec::new();
    page.render_title(&mut roff)?;
    page.render_name_section(&mut roff)?;
    page.render_synopsis_section(&mut roff)?;
    page.render_description_section(&mut roff)?;
    commands_section(&commands).to_writer(&mut roff)?;
    page.render_options_section(&mut roff)?;
    for command in commands {
        // Each subcommand's options under a heading of its own; `-h` is
        // listed once, among testbed's own options.
        let heading = format!("testbed {} options", command.get_name());
        let command = command
            .mut_args(|arg| arg.help_heading(heading.clone()))
            .mut_arg("help", |arg| arg.hide(true));
        Man::new(command).render_options_section(&mut roff)?;
    }
    if let Some(after) = cli.get_after_long_help() {
        help_blocks(&after.to_string()).to_writer(&mut roff)?;
    }
    page.render_version_section(&mut roff)?;
    Ok(roff)
}

/// COMMANDS: each subcommand with its long description.
fn commands_section(commands: &[clap::Command]) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for command in commands {
        roff.control("TP", []);
        roff.text([bold(format!("testbed {}", command.get_name()))]);
        let about = command.get_long_about().or(command.get_about());
        for (i, paragraph) in about
            .map(|a| a.to_string())
            .unwrap_or_default()
            .split("\n\n")
            .enumerate()
        {
            if i > 0 {
                roff.control("IP", []);
            }
            roff.text([roman(paragraph)]);
        }
    }
    roff
}

/// The blocks that close `--help` (`EXIT STATUS:`, `EXAMPLES:`), each as a
/// section of its own, laid out line for line as in the terminal.
fn help_blocks(text: &str) -> Roff {
    let mut roff = Roff::new();
    for block in text.split("\n\n") {
        let (first, rest) = block.split_once('\n').unwrap_or((block, ""));
        let body = match first.strip_suffix(':') {
            Some(title) if title == title.to_uppercase() => {
                roff.control("SH", [title]);
                rest
            }
            _ => block,
        };
        roff.control("nf", []);
        for line in body.lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    }
    roff
}
