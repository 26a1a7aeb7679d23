//! testbed runs a project's integration tests in a throwaway Docker Compose
//! stack, keeps the tests' exit code, and leaves nothing behind.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod engine;
pub mod exit;
pub mod lifecycle;
pub mod model;
pub mod project;
pub mod redact;
pub mod report;
pub mod signals;
pub mod stack;

use anyhow::Context;

use cli::{Cli, Command, RunArgs};
use exit::{Exit, Failure, OrFail};

/// Runs a parsed command line and returns how the process should exit.
pub fn run(cli: Cli) -> Exit {
    let result = match cli.command {
        Command::Run(args) => run_tests(&args),
    };
    result.unwrap_or_else(|failure| {
        report::failure(&failure);
        failure.exit
    })
}

fn run_tests(args: &RunArgs) -> Result<Exit, Failure> {
    let signals = signals::Signals::install()
        .context("cannot install signal handlers")
        .or_fail(Exit::Engine)?;
    let cwd = std::env::current_dir()
        .context("cannot read the current directory")
        .or_fail(Exit::Usage)?;
    let config = config::resolve(args, &cwd, |name| std::env::var(name).ok())?;
    Ok(lifecycle::run(&config, &signals))
}
