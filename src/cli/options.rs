//! The options of `run`, `up`, `test` and `down`: groups that each
//! command flattens in as it needs them, and how each command turns into
//! its policy and the flat arguments that `config` resolves.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};

use super::{ArtifactsMode, LogPolicy, Output, Policy, RunArgs, parse_duration};
use crate::ci::Node;

/// Which stack, and how compose reaches it: every command that takes a
/// stack takes all of these, so that a Makefile can pass the same flags to
/// each; one that has no use for one accepts and ignores it.
#[derive(Debug, Args)]
pub struct StackOptions {
    /// Compose file; repeat to merge several, in order [default: compose.yaml,
    /// compose.yml, docker-compose.yaml or docker-compose.yml here, or COMPOSE_FILE]
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Compose project name; `test`, `down`, `env`, `ports` and `doctor`
    /// take the recorded one and ignore it [default: generated, unique per
    /// run]
    #[arg(short = 'p', long, env = "COMPOSE_PROJECT_NAME", value_name = "NAME")]
    pub project_name: Option<String>,

    /// The directory compose resolves relative paths and reads `.env` from,
    /// and where the default compose file is looked for [default: the first
    /// compose file's directory]
    #[arg(long, env = "COMPOSE_PROJECT_DIRECTORY", value_name = "DIR")]
    pub project_directory: Option<PathBuf>,

    /// Compose command to use, e.g. "docker compose" or docker-compose
    /// [default: the docker compose plugin, else docker-compose]
    #[arg(long, env = "TESTBED_COMPOSE", value_name = "CMD")]
    pub compose: Option<String>,

    /// Enable a compose profile, as compose's --profile does; repeat, or
    /// separate with commas, for more. The test service's own profiles, and
    /// those of the services the run needs, are enabled without it
    /// [default: COMPOSE_PROFILES]
    #[arg(
        long = "profile",
        env = "TESTBED_PROFILES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub profiles: Vec<String>,

    /// A file of variables for compose to interpolate the files with,
    /// instead of the project directory's `.env`; repeat for several
    #[arg(long = "env-file", value_name = "PATH")]
    pub env_files: Vec<PathBuf>,
}

/// What to print: every command that drives a stack takes these.
#[derive(Debug, Args)]
pub struct ComposeOptions {
    /// Print every docker command before it runs, and timings
    #[arg(short, long, env = "TESTBED_VERBOSE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub verbose: bool,

    /// How to print: ci (the CI's groups: GitLab's sections, GitHub's and
    /// Azure's groups, Buildkite's headers), gitlab, terminal (live lines),
    /// plain (timestamped lines) [default: ci in a CI with groups, else
    /// terminal when stderr is one, else plain]
    #[arg(
        long,
        env = "TESTBED_OUTPUT",
        value_name = "MODE",
        default_value = "auto",
        hide_default_value = true
    )]
    pub output: Output,
}

/// Starting a stack: `run` and `up`.
#[derive(Debug, Args)]
pub struct StartOptions {
    /// Dependencies to start, comma-separated, with what they depend on
    /// [default: what the test service depends on, or every other service
    /// when it depends on none]
    #[arg(
        long,
        env = "TESTBED_SERVICES",
        value_name = "A,B",
        value_delimiter = ','
    )]
    pub services: Option<Vec<String>>,

    /// How long the dependencies may take to be healthy (or running, without
    /// a healthcheck), e.g. 90s or 2m [default: 120s]
    #[arg(long, env = "TESTBED_WAIT_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub wait_timeout: Option<Duration>,

    /// How long the stack may live: once it has passed, `testbed gc` removes
    /// the stack even if its run is still going, e.g. 90m or 1d [default: 2h]
    #[arg(long, env = "TESTBED_TTL", value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<Duration>,

    /// Build the images of services with `build:` even when they exist;
    /// without it, an image is built only when it is missing
    #[arg(long, env = "TESTBED_BUILD", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub build: bool,

    /// Never build: fail at once when an image to build is missing (--pull
    /// still pulls the services' images)
    #[arg(long, env = "TESTBED_NO_BUILD", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new(), conflicts_with = "build")]
    pub no_build: bool,

    /// Pull the services' images first (`compose pull`), and build the
    /// others with fresh bases (`compose build --pull`)
    #[arg(long, env = "TESTBED_PULL", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub pull: bool,

    /// A setup step, "SERVICE [COMMAND...]": a one-off of SERVICE, with
    /// COMMAND or its own, once the stack is ready and before the tests,
    /// such as a migration; repeat for more, run in order. One that fails
    /// stops the run (exit 125); `test` does not rerun them
    #[arg(long, value_name = "STEP")]
    pub before: Vec<String>,

    /// Keep the files' `container_name`s. Without it a run drops them, so
    /// that two runs at once do not collide, and keeps each name as a
    /// network alias (`up` keeps them unless --isolate)
    #[arg(long, env = "TESTBED_KEEP_NAMES", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub keep_names: bool,

    /// Keep the files' fixed host ports ("5432:5432"). Without it a run
    /// publishes each on a host port the daemon picks, on the same address;
    /// `testbed ports` and `env` say where (`up` keeps them unless --isolate)
    #[arg(long, env = "TESTBED_KEEP_PORTS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub keep_ports: bool,
}

/// The test service, where testbed runs, and what a run leaves behind:
/// `run`, `up` and `test`.
#[derive(Debug, Args)]
pub struct RunOptions {
    /// The service that runs the tests [default: tests]
    #[arg(short = 's', long, env = "TESTBED_SERVICE", value_name = "NAME")]
    pub service: Option<String>,

    /// When to print the dependencies' logs [default: on-failure]
    #[arg(long, env = "TESTBED_LOGS", value_name = "WHEN")]
    pub logs: Option<LogPolicy>,

    /// Directory for the tests' files and the services' logs, also when the
    /// tests fail. The tests find it in ARTIFACTS_DIR; each service's log is
    /// saved as logs/<service>.log
    #[arg(long, env = "TESTBED_ARTIFACTS", value_name = "DIR")]
    pub artifacts: Option<PathBuf>,

    /// How the files reach the artifacts directory: bind-mount it, share the
    /// volume of testbed's own container (volumes-from), or copy them out
    /// after the tests [default: auto, which -v explains]
    #[arg(long, env = "TESTBED_ARTIFACTS_MODE", value_name = "MODE")]
    pub artifacts_mode: Option<ArtifactsMode>,

    /// The container testbed runs in, if detection gets it wrong (id, prefix
    /// or name)
    #[arg(long, env = "TESTBED_PARENT_CONTAINER", value_name = "CONTAINER")]
    pub parent_container: Option<String>,

    /// Write a JUnit XML report here: one test case per phase and per
    /// dependency's readiness, for GitLab's artifacts:reports:junit
    #[arg(long, env = "TESTBED_JUNIT", value_name = "PATH")]
    pub junit: Option<PathBuf>,

    /// Merge the tests' own JUnit files into --junit: a glob relative to the
    /// artifacts directory, e.g. 'reports/*.xml'
    #[arg(
        long,
        env = "TESTBED_JUNIT_FROM",
        value_name = "GLOB",
        requires = "junit"
    )]
    pub junit_from: Option<String>,

    /// Write a JSON summary of the run here (its fields are in docs/reports.md)
    #[arg(long, env = "TESTBED_REPORT", value_name = "PATH")]
    pub report: Option<PathBuf>,

    /// Draw the startup as a web page here: one self-contained HTML file
    /// (also written as timeline.html in the artifacts directory)
    #[arg(long, env = "TESTBED_TIMELINE", value_name = "FILE.html")]
    pub timeline: Option<PathBuf>,

    /// Write a Markdown summary here, a table and a Mermaid gantt chart,
    /// for a merge request note or a CI job summary
    #[arg(long, env = "TESTBED_SUMMARY", value_name = "FILE.md")]
    pub summary: Option<PathBuf>,

    /// Name the images testbed builds <PREFIX>-<service>, for services with
    /// `build:` and no `image:` [default: tb-<the project directory's name>]
    #[arg(long, env = "TESTBED_IMAGE_PREFIX", value_name = "PREFIX")]
    pub image_prefix: Option<String>,
}

/// Running the tests: `run` and `test`.
#[derive(Debug, Args)]
pub struct TestOptions {
    /// Pass a variable to the test container: NAME takes its value from this
    /// environment; NAME=VALUE sets it. Values never appear on a command line
    #[arg(short = 'e', long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,

    /// Give the tests a terminal, e.g. for a debugger. Compose then owns the
    /// keyboard: Ctrl-C goes to the tests, and stops the run only if they
    /// exit on it
    #[arg(long, env = "TESTBED_TTY", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub tty: bool,

    /// The test command, replacing the service's own
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Removing a stack: `run`, `up` (when it fails) and `down`.
#[derive(Debug, Args)]
pub struct TeardownOptions {
    /// Grace period for the services to stop on SIGTERM at teardown, e.g. 10s
    /// [default: 0s: a throwaway stack is killed at once]
    #[arg(long, env = "TESTBED_STOP_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub stop_timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct RunCommand {
    #[command(flatten)]
    pub stack: StackOptions,
    #[command(flatten)]
    pub compose: ComposeOptions,
    #[command(flatten)]
    pub start: StartOptions,
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub tests: TestOptions,
    #[command(flatten)]
    pub teardown: TeardownOptions,

    /// Leave the stack running, recorded for `test` and `down`
    #[arg(long, env = "TESTBED_KEEP", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub keep: bool,

    /// Print the commands a run would execute, and start nothing
    #[arg(long, action = ArgAction::SetTrue)]
    pub dry_run: bool,

    /// Split the tests over N isolated stacks at once: each runs the test
    /// service with CI_NODE_INDEX (1..N) and CI_NODE_TOTAL (N), numbered
    /// across GitLab's parallel jobs when it runs in one [default: 1]
    #[arg(long, env = "TESTBED_SHARDS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,

    /// This job's place among N parallel jobs of the suite, where the CI
    /// does not say it (GitHub Actions matrices, Jenkins): the tests get
    /// CI_NODE_INDEX and CI_NODE_TOTAL, numbered across the jobs with
    /// --shards
    #[arg(long, env = "TESTBED_SHARD", value_name = "I/N", value_parser = Node::parse)]
    pub shard: Option<Node>,
}

#[derive(Debug, Args)]
pub struct UpCommand {
    #[command(flatten)]
    pub stack: StackOptions,
    #[command(flatten)]
    pub compose: ComposeOptions,
    #[command(flatten)]
    pub start: StartOptions,
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub teardown: TeardownOptions,

    /// Make the files' fixed container names and host ports the stack's
    /// own, as `run` does (--keep-names and --keep-ports then keep either)
    #[arg(long, env = "TESTBED_ISOLATE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub isolate: bool,
}

#[derive(Debug, Args)]
pub struct TestCommand {
    #[command(flatten)]
    pub stack: StackOptions,
    #[command(flatten)]
    pub compose: ComposeOptions,
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub tests: TestOptions,
}

#[derive(Debug, Args)]
pub struct DownCommand {
    #[command(flatten)]
    pub stack: StackOptions,
    #[command(flatten)]
    pub compose: ComposeOptions,
    #[command(flatten)]
    pub teardown: TeardownOptions,
}

impl RunCommand {
    /// The policy it runs under, and its options, flat.
    pub fn flatten(self) -> (Policy, RunArgs) {
        let mut args = RunArgs::default();
        args.stack(self.stack)
            .compose(self.compose)
            .start(self.start)
            .run(self.run)
            .tests(self.tests)
            .teardown(self.teardown);
        args.dry_run = self.dry_run;
        args.shards = self.shards;
        args.shard = self.shard;
        (Policy::run(self.keep), args)
    }
}

impl UpCommand {
    /// The policy it runs under, and its options, flat.
    pub fn flatten(self) -> (Policy, RunArgs) {
        let mut args = RunArgs::default();
        args.stack(self.stack)
            .compose(self.compose)
            .start(self.start)
            .run(self.run)
            .teardown(self.teardown);
        args.isolate = self.isolate;
        (Policy::UP, args)
    }
}

impl TestCommand {
    /// The policy it runs under, and its options, flat.
    pub fn flatten(self) -> (Policy, RunArgs) {
        let mut args = RunArgs::default();
        args.stack(self.stack)
            .compose(self.compose)
            .run(self.run)
            .tests(self.tests);
        (Policy::TEST, args)
    }
}

impl DownCommand {
    /// The policy it runs under, and its options, flat.
    pub fn flatten(self) -> (Policy, RunArgs) {
        let mut args = RunArgs::default();
        args.stack(self.stack)
            .compose(self.compose)
            .teardown(self.teardown);
        (Policy::DOWN, args)
    }
}

/// Each group of options, into the flat arguments that `config` resolves.
trait Flatten {
    fn stack(&mut self, options: StackOptions) -> &mut Self;
    fn compose(&mut self, options: ComposeOptions) -> &mut Self;
    fn start(&mut self, options: StartOptions) -> &mut Self;
    fn run(&mut self, options: RunOptions) -> &mut Self;
    fn tests(&mut self, options: TestOptions) -> &mut Self;
    fn teardown(&mut self, options: TeardownOptions) -> &mut Self;
}

impl Flatten for RunArgs {
    fn stack(&mut self, options: StackOptions) -> &mut Self {
        self.files = options.files;
        self.project_name = options.project_name;
        self.project_directory = options.project_directory;
        self.compose = options.compose;
        self.profiles = options.profiles;
        self.env_files = options.env_files;
        self
    }

    fn compose(&mut self, options: ComposeOptions) -> &mut Self {
        self.verbose = options.verbose;
        self
    }

    fn start(&mut self, options: StartOptions) -> &mut Self {
        self.services = options.services;
        self.wait_timeout = options.wait_timeout;
        self.ttl = options.ttl;
        self.build = options.build;
        self.no_build = options.no_build;
        self.pull = options.pull;
        self.keep_names = options.keep_names;
        self.keep_ports = options.keep_ports;
        self.before = options.before;
        self
    }

    fn run(&mut self, options: RunOptions) -> &mut Self {
        self.service = options.service;
        self.logs = options.logs;
        self.artifacts = options.artifacts;
        self.artifacts_mode = options.artifacts_mode;
        self.parent_container = options.parent_container;
        self.junit = options.junit;
        self.junit_from = options.junit_from;
        self.report = options.report;
        self.timeline = options.timeline;
        self.summary = options.summary;
        self.image_prefix = options.image_prefix;
        self
    }

    fn tests(&mut self, options: TestOptions) -> &mut Self {
        self.env = options.env;
        self.tty = options.tty;
        self.command = options.command;
        self
    }

    fn teardown(&mut self, options: TeardownOptions) -> &mut Self {
        self.stop_timeout = options.stop_timeout;
        self
    }
}
