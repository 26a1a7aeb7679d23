use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = testbed::cli::Cli::parse();
    ExitCode::from(testbed::run(cli).code())
}
