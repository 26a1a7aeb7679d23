//! The command line. Only clap definitions live here; `config` resolves them.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

pub use crate::ci::Ci;
pub use crate::config::{LogPolicy, Policy, RunArgs, parse_duration};
pub use crate::report::{Color, Output};
pub use crate::topology::artifacts::ArtifactsMode;

mod options;

pub use options::*;

const EXAMPLES: &str = "\
EXAMPLES:
  testbed run
      compose.yml in this directory, test service `tests`, its own command
  testbed run -f ci/compose.test.yml --service api-tests -- pytest -x tests/integration
  testbed run -v --keep
      echo every docker command; leave the stack up for a look afterwards";

#[derive(Debug, Parser)]
#[command(
    name = "testbed",
    version,
    about = "Run integration tests in a throwaway Docker Compose stack",
    long_about = "Run integration tests in a throwaway Docker Compose stack.\n\n\
        testbed starts the test service's dependencies under a unique project name, waits \
        until they are ready, runs the test service, prints the dependencies' logs when the \
        tests fail, always tears the stack down, and exits with the tests' own exit code.",
    after_long_help = run_long_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to use colours; NO_COLOR and CLICOLOR=0 also turn them off
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: Color,

    /// The CI whose conventions to follow: its groups, error annotations,
    /// secret masking, job summary, job id and parallel jobs [default: the
    /// one whose variables are set, e.g. GITHUB_ACTIONS=true]
    #[arg(long, global = true, env = "TESTBED_CI", value_name = "CI")]
    pub ci: Option<Ci>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the dependencies, run the tests, tear everything down.
    #[command(after_help = crate::exit::TABLE, after_long_help = run_long_help())]
    Run(Box<RunCommand>),

    /// Start the dependencies, wait until they are ready, and leave them up.
    ///
    /// The stack is recorded in .testbed/state.json, keyed by the compose
    /// files, for `testbed test`, `env`, `ports` and `down`. Prints where
    /// each published port landed.
    #[command(after_help = crate::exit::TABLE)]
    Up(Box<UpCommand>),

    /// Run the tests against the stack `testbed up` left, in seconds.
    ///
    /// Exits with the tests' code, as run does. The stack is used exactly as
    /// `up` left it: if it is gone or not ready, test says so and never
    /// starts another.
    #[command(after_help = crate::exit::TABLE)]
    Test(Box<TestCommand>),

    /// Remove the stack `testbed up` or `run --keep` left, and its record.
    Down(DownCommand),

    /// Print the recorded stack's published ports as variables for a shell.
    ///
    /// For tests that run on the host against the stack `testbed up` or
    /// `run --keep` left: `eval "$(testbed env)"`. Prints
    /// `export TESTBED_PROJECT=<project>`, then one
    /// `export TESTBED_<SERVICE>_<PORT>=<host>:<port>` per published
    /// container port: the service upper-cased, every other character than a
    /// letter or digit turned into `_`, `_UDP` after UDP ports. The host is
    /// one this machine reaches: 127.0.0.1 for 0.0.0.0, [::1] for ::, the
    /// daemon's host when DOCKER_HOST is tcp:// or ssh://. Exits 1 when no
    /// stack is recorded here, or it is gone.
    #[command(after_help = ENV_EXAMPLES)]
    Env(EnvArgs),

    /// Print where the recorded stack's ports are published, as a table.
    ///
    /// The same ports and variables as `testbed env`, for a reader. Exits 1
    /// when no stack is recorded here, or it is gone.
    Ports(PortsArgs),

    /// Print the id of the container testbed runs in; exit 1 outside one.
    ///
    /// The candidates, best first: --parent-container; the GitLab job's build
    /// container (by its runner labels); the container directory behind
    /// /etc/hostname in /proc/self/mountinfo (cgroup v1 and v2);
    /// /proc/self/cgroup and /proc/1/cpuset (cgroup v1); HOSTNAME when it is
    /// a short id. Each is confirmed with the daemon we talk to: one it does
    /// not know means a different daemon, as under Docker-in-Docker.
    SelfId(SelfIdArgs),

    /// Check that testbed can work here, and say what it would do.
    ///
    /// One line each for docker, the daemon, compose, the container testbed
    /// runs in, how artifacts would travel, GitLab CI and cgroups, marked ✓
    /// (fine), ✗ (run cannot work; with the fix) or · (for information).
    /// Exits with the code run would have for the first ✗ (127 or 125), else 0.
    Doctor(DoctorArgs),

    /// Print the completion script for a shell.
    #[command(after_long_help = COMPLETIONS_INSTALL)]
    Completions(CompletionsArgs),

    /// Print the man page, in roff.
    #[command(after_long_help = MAN_INSTALL)]
    Man,

    /// List the stacks and images testbed created on the daemon: age, owner,
    /// state, and what `gc` would do with each.
    Ls(LsArgs),

    /// Remove stacks whose owner is gone or whose TTL has passed, and the
    /// images testbed built that nothing uses.
    ///
    /// Only stacks labelled by testbed count; other compose projects are
    /// never touched. An owner is gone when its process on this host has
    /// ended, or when the container it ran in is no longer running; a stack
    /// whose owner cannot be checked from here (another host, a GitLab job
    /// on a shell runner) stays until its TTL, and so does a stack left up
    /// on purpose (up, run --keep). An image testbed built goes once no
    /// container uses it and its TTL has passed since it was last built or
    /// used. Prints a line for each stack and image removed.
    #[command(after_help = GC_EXAMPLES)]
    Gc(GcArgs),

    /// Watch a run and remove its stack if testbed dies first; `run` starts it.
    #[command(hide = true)]
    Reap(ReapArgs),
}

const GC_EXAMPLES: &str = "\
EXAMPLES:
  testbed gc
      stacks of killed runs, and stacks past their TTL
  testbed gc --older-than 2h --dry-run
      also stacks older than 2 h, live or not; only say which
  testbed gc --all -p tb-api-4242-k3v9qa
      that one stack, whatever its owner
  testbed gc --image-prefix tb-api
      only the images built for the project in directory api";

const ENV_EXAMPLES: &str = "\
EXAMPLES:
  testbed up && eval \"$(testbed env)\" && pytest tests/integration
      tests on the host reach the api at $TESTBED_API_80
  testbed env --format json > stack.json";

/// Which recorded stack: the one of these compose files.
#[derive(Debug, Args)]
pub struct StackFiles {
    /// The files the stack was started with find its record; the other
    /// options are accepted, as every command that takes a stack does, and
    /// ignored
    #[command(flatten)]
    pub stack: StackOptions,

    /// Echo the docker commands
    #[arg(short, long, env = "TESTBED_VERBOSE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub stack: StackFiles,

    /// shell: `export` lines to eval; json: one object
    #[arg(long, value_name = "FORMAT", default_value = "shell")]
    pub format: EnvFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvFormat {
    Shell,
    Json,
}

#[derive(Debug, Args)]
pub struct PortsArgs {
    #[command(flatten)]
    pub stack: StackFiles,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Echo the docker commands
    #[arg(short, long, env = "TESTBED_VERBOSE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Also remove stacks older than this, whatever their owner and TTL,
    /// and unused images last built or used longer ago, e.g. 2h
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<Duration>,

    /// Remove every testbed stack, live runs included, and every testbed
    /// image no container uses
    #[arg(long)]
    pub all: bool,

    /// Only this project's stack; repeat for more. With -p alone, no
    /// image is looked at
    #[arg(short = 'p', long = "project", value_name = "NAME")]
    pub projects: Vec<String>,

    /// Only the images testbed built named <PREFIX>-<service>; repeat for
    /// more. With --image-prefix alone, no stack is looked at
    #[arg(long = "image-prefix", value_name = "PREFIX")]
    pub image_prefixes: Vec<String>,

    /// Say what would be removed, and remove nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Also say which stacks and images are kept and why, and echo the
    /// docker commands
    #[arg(short, long, env = "TESTBED_VERBOSE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ReapArgs {
    /// The project to remove when stdin ends without `done`
    #[arg(long, value_name = "NAME")]
    pub project: String,

    /// Remove only this container of the project
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// Check that the daemon answers before saying it is ready
    #[arg(long)]
    pub ping: bool,
}

const MAN_INSTALL: &str = "\
INSTALL:
  testbed man > ~/.cargo/share/man/man1/testbed.1
      man looks beside each directory on PATH, so beside ~/.cargo/bin
  testbed man | man -l -
      read it without installing";

const COMPLETIONS_INSTALL: &str = "\
INSTALL:
  bash  testbed completions bash > ~/.local/share/bash-completion/completions/testbed
  zsh   testbed completions zsh > ~/.zfunc/_testbed
        with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc
  fish  testbed completions fish > ~/.config/fish/completions/testbed.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// `--compose` names the compose command to check; the other options
    /// are accepted, as every command that takes a stack does, and ignored
    #[command(flatten)]
    pub stack: StackOptions,

    /// The artifacts directory to choose a strategy for [default: .]
    #[arg(long, env = "TESTBED_ARTIFACTS", value_name = "DIR")]
    pub artifacts: Option<PathBuf>,

    /// The container testbed runs in, instead of detecting it
    #[arg(long, env = "TESTBED_PARENT_CONTAINER", value_name = "CONTAINER")]
    pub parent_container: Option<String>,
}

#[derive(Debug, Args)]
pub struct SelfIdArgs {
    /// The container to confirm, instead of detecting it (id, prefix or name)
    #[arg(long, env = "TESTBED_PARENT_CONTAINER", value_name = "CONTAINER")]
    pub parent_container: Option<String>,

    /// Say which candidates were tried, and echo the docker commands
    #[arg(short, long, env = "TESTBED_VERBOSE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub verbose: bool,
}

fn run_long_help() -> String {
    format!("{}\n\n{EXAMPLES}", crate::exit::TABLE)
}

impl Command {
    /// The `--output` of a command that drives a stack; `auto` for the rest.
    pub fn output(&self) -> Output {
        match self {
            Command::Run(command) => command.compose.output,
            Command::Up(command) => command.compose.output,
            Command::Test(command) => command.compose.output,
            Command::Down(command) => command.compose.output,
            _ => Output::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn the_test_command_follows_the_double_dash() {
        let cli =
            Cli::try_parse_from(["testbed", "run", "-s", "api", "--", "pytest", "-x"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.run.service.as_deref(), Some("api"));
        assert_eq!(args.tests.command, ["pytest", "-x"]);
    }

    #[test]
    fn each_command_takes_only_the_options_it_uses() {
        let parses = |argv: &[&str]| Cli::try_parse_from(argv).is_ok();
        for refused in [
            &["testbed", "down", "--pull"][..],
            &["testbed", "down", "--junit", "j.xml"],
            &["testbed", "down", "--", "pytest"],
            &["testbed", "test", "--build"],
            &["testbed", "test", "--keep"],
            &["testbed", "up", "--", "pytest"],
            &["testbed", "up", "-e", "A=1"],
            &["testbed", "up", "--shards", "2"],
            &["testbed", "test", "--shards", "2"],
            &["testbed", "run", "--shards", "0"],
            &["testbed", "run", "--shards", "two"],
        ] {
            assert!(!parses(refused), "{refused:?} is accepted");
        }
        for accepted in [
            &["testbed", "down", "-f", "c.yml", "--stop-timeout", "5s"][..],
            // The stack's options, on every command that takes a stack.
            &[
                "testbed",
                "env",
                "--compose",
                "docker-compose",
                "-f",
                "c.yml",
                "-p",
                "tb-x",
                "--project-directory",
                "d",
                "--profile",
                "ci",
                "--env-file",
                "ci.env",
            ],
            &[
                "testbed",
                "ports",
                "-p",
                "tb-x",
                "--compose",
                "docker-compose",
            ],
            &["testbed", "doctor", "-f", "c.yml", "--env-file", "ci.env"],
            &["testbed", "test", "-p", "tb-x", "--profile", "ci"],
            &[
                "testbed",
                "down",
                "--project-directory",
                "d",
                "--env-file",
                "e",
            ],
            &[
                "testbed", "test", "-e", "A=1", "--junit", "j.xml", "--", "pytest",
            ],
            &[
                "testbed",
                "up",
                "--build",
                "--wait-timeout",
                "30s",
                "--junit",
                "j.xml",
            ],
            &["testbed", "run", "--keep", "--dry-run", "--", "pytest"],
            &["testbed", "run", "--shards", "3", "--", "pytest"],
        ] {
            assert!(parses(accepted), "{accepted:?} is refused");
        }
    }

    #[test]
    fn each_command_resolves_to_its_policy() {
        let policy = |argv: &[&str]| match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(command) => command.flatten().0,
            Command::Up(command) => command.flatten().0,
            Command::Test(command) => command.flatten().0,
            Command::Down(command) => command.flatten().0,
            other => panic!("{other:?}"),
        };
        assert_eq!(policy(&["testbed", "run"]), Policy::run(false));
        assert_eq!(policy(&["testbed", "run", "--keep"]), Policy::run(true));
        assert_eq!(policy(&["testbed", "up"]), Policy::UP);
        assert_eq!(policy(&["testbed", "test"]), Policy::TEST);
        assert_eq!(policy(&["testbed", "down"]), Policy::DOWN);
        assert!(Policy::run(true).record && !Policy::run(false).record);
    }
}
