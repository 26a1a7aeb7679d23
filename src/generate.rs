//! Shell completions, generated from the clap definition in `cli`, so they
//! name the same subcommands and flags as `--help`.

use std::io::{self, Write};

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

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
