//! testbed runs a project's integration tests in a throwaway Docker Compose
//! stack, keeps the tests' exit code, and leaves nothing behind.

pub(crate) mod ci;
pub mod cli;
pub mod config;
pub(crate) mod doctor;
pub(crate) mod engine;
pub(crate) mod events;
pub mod exit;
pub(crate) mod gc;
pub(crate) mod generate;
pub(crate) mod images;
pub(crate) mod labels;
pub(crate) mod ports;
pub(crate) mod project;
pub(crate) mod reaper;
pub(crate) mod redact;
pub(crate) mod report;
pub(crate) mod rewrite;
pub(crate) mod run;
pub(crate) mod signals;
pub(crate) mod topology;

use std::sync::Arc;

use anyhow::Context;

use events::Events;

use topology::container;

use cli::{Cli, Command, DoctorArgs, EnvFormat, GcArgs, ReapArgs, SelfIdArgs, StackFiles};
use config::{Policy, RunArgs};
use exit::{Exit, Failure, OrFail};

/// Runs a parsed command line and returns how the process should exit.
pub fn run(cli: Cli) -> Exit {
    let env = |name: &str| std::env::var(name).ok();
    let ci = cli.ci.unwrap_or_else(|| ci::Ci::detect(env));
    let mode = report::configure(cli.command.output(), cli.color, ci, env);
    // What the command says itself: how it failed, the signals it got,
    // what it was asked for.
    let out = Arc::new(report::Printer::standard(mode));
    let result = match cli.command {
        Command::Run(command) => drive(command.flatten(), ci, &out),
        Command::Up(command) => drive(command.flatten(), ci, &out),
        Command::Test(command) => drive(command.flatten(), ci, &out),
        Command::Down(command) => drive(command.flatten(), ci, &out),
        Command::Env(args) => recorded_ports(&args.stack, &out).map(|(project, ports)| {
            let variables = ports::variables(&project, &ports);
            out.result(&match args.format {
                EnvFormat::Shell => ports::shell(&variables),
                EnvFormat::Json => ports::json(&variables),
            });
            Exit::Tests(0)
        }),
        Command::Ports(args) => recorded_ports(&args.stack, &out).map(|(_, ports)| {
            out.result(&ports::table(&ports));
            Exit::Tests(0)
        }),
        Command::SelfId(args) => self_id(&args, &out),
        Command::Doctor(args) => doctor(&args, ci),
        Command::Completions(args) => generate::completions(args.shell),
        Command::Man => generate::man(),
        Command::Ls(args) => {
            let reporter = reporter(args.verbose, &out);
            engine::Docker::find(reporter.observer()).and_then(|d| gc::ls(&d, &reporter))
        }
        Command::Gc(args) => collect_garbage(&args, &out),
        Command::Reap(args) => reap(&args, &out),
    };
    result.unwrap_or_else(|failure| {
        out.failure(&failure);
        failure.exit
    })
}

/// The reporter of a command other than a run, in the mode of `out`.
fn reporter(verbose: bool, out: &report::Printer) -> report::Reporter {
    let options = report::Options {
        verbose,
        ..report::Options::default()
    };
    report::Reporter::new(options, report::Printer::standard(out.mode()))
}

/// `run`, `up`, `test` and `down`: a run under `policy`, reported on stderr.
fn drive(
    (policy, mut args): (Policy, RunArgs),
    ci: ci::Ci,
    out: &Arc<report::Printer>,
) -> Result<Exit, Failure> {
    args.ci = ci;
    let announcer = Arc::clone(out);
    let announce = move |signal, count| announcer.signal_received(signal, count);
    let signals = signals::Signals::install(announce)
        .context("cannot install signal handlers")
        .or_fail(Exit::Engine)?;
    let cwd = std::env::current_dir()
        .context("cannot read the current directory")
        .or_fail(Exit::Usage)?;
    let env = |name: &str| std::env::var(name).ok();
    let mut config = config::resolve(policy, &args, &cwd, env)?;
    // Before anything could print them: the values the tests' variables
    // take from this environment (`-e NAME`, the way to pass a secret) are
    // masked in the CI's log from here on. A `-e NAME=VALUE` is on the
    // command line for all to read.
    let ci_report = report::ci::CiReport::from_env(ci, env);
    let values: Vec<String> = (config.env.iter())
        .filter(|(_, value)| value.is_none())
        .filter_map(|(name, _)| env(name))
        .collect();
    for mask in ci_report.masks(&values) {
        out.command(mask);
    }
    if policy.reuse {
        let Some(recorded) = run::session::find(&cwd, &config.files)? else {
            if policy.remove {
                out.step("nothing to remove: no stack is recorded here for these compose files");
                return Ok(Exit::Tests(0));
            }
            return Err(run::session::nothing_recorded(&cwd));
        };
        config.project = recorded.project;
        config.compose = config.compose.or(Some(recorded.compose));
        if let Some(profiles) = recorded.profiles {
            config.profiles = profiles;
            config.profiles_from = config::ProfilesFrom::Recorded;
        }
    }
    let options = report::Options {
        verbose: config.verbose,
        junit: config.junit.clone(),
        junit_from: config.junit_from.clone(),
        report: config.report.clone(),
        timeline: config.timeline.clone(),
        summary: config.summary.clone(),
        command: config.command.clone(),
        ci: ci_report,
        shard: None,
    };
    if config.shards > 1 {
        return Ok(run_shards(&config, &signals, &options, out));
    }
    let reporter = report::Reporter::new(options, report::Printer::standard(out.mode()));
    Ok(run::run(&config, &signals, &reporter))
}

/// `run --shards N`: the shards at once, each reported as itself, then
/// all of them together.
fn run_shards(
    config: &config::Config,
    signals: &signals::Signals,
    options: &report::Options,
    out: &Arc<report::Printer>,
) -> Exit {
    let began = (std::time::SystemTime::now(), std::time::Instant::now());
    let shards = run::shards::plan(config);
    let reporters: Vec<report::Reporter> = shards
        .iter()
        .map(|shard| {
            let options = report::Options {
                shard: Some(format!("s{}", shard.index)),
                junit: None,
                junit_from: None,
                report: None,
                timeline: None,
                summary: None,
                ..options.clone()
            };
            report::Reporter::new(options, report::Printer::standard(out.mode()))
        })
        .collect();
    let events: Vec<&dyn events::Events> = reporters.iter().map(|r| r as _).collect();
    let exits = run::shards::run(&shards, signals, &events);
    let exit = run::decide::shards(&exits);
    let ended: Vec<report::shards::Ended> = shards
        .iter()
        .zip(&reporters)
        .zip(&exits)
        .map(|((shard, reporter), exit)| report::shards::Ended {
            index: shard.index,
            node: shard
                .config
                .node
                .map_or((shard.index, config.shards), |n| (n.index, n.total)),
            reporter,
            exit: *exit,
            artifacts: shard.config.artifacts.clone(),
        })
        .collect();
    report::shards::finish(out, options, &config.project, began, &ended, exit);
    exit
}

/// The project recorded here for these compose files, and where its ports
/// are published: for `env` and `ports`, which exit 1 without one.
fn recorded_ports(
    args: &StackFiles,
    out: &report::Printer,
) -> Result<(String, Vec<ports::Port>), Failure> {
    let cwd = std::env::current_dir()
        .context("cannot read the current directory")
        .or_fail(Exit::Usage)?;
    let stack = &args.stack;
    let files = config::stack_files(
        &stack.files,
        stack.project_directory.as_deref(),
        &cwd,
        |name| std::env::var(name).ok(),
    )?;
    let Some(recorded) = run::session::find(&cwd, &files)? else {
        let failure = run::session::nothing_recorded(&cwd);
        return Err(Failure {
            exit: Exit::Tests(1),
            ..failure
        });
    };
    let docker = engine::Docker::find(reporter(args.verbose, out).observer())?;
    let containers = docker
        .project_containers(&recorded.project, false)
        .map_err(Failure::engine)?;
    if containers.is_empty() {
        return Err(Failure::new(
            Exit::Tests(1),
            anyhow::anyhow!("the stack {} recorded here is gone", recorded.project),
        )
        .with_hint("start it again with `testbed down && testbed up`"));
    }
    Ok((
        recorded.project,
        ports::published(&containers, docker.host()),
    ))
}

/// `testbed gc`.
fn collect_garbage(args: &GcArgs, out: &report::Printer) -> Result<Exit, Failure> {
    let reporter = reporter(args.verbose, out);
    let docker = engine::Docker::find(reporter.observer())?;
    let policy = gc::Policy {
        older_than: args.older_than,
        all: args.all,
    };
    let selection = gc::Selection {
        projects: args.projects.clone(),
        image_prefixes: args.image_prefixes.clone(),
    };
    gc::gc(&docker, &policy, &selection, args.dry_run, &reporter)
}

/// `testbed reap`, which `run` starts as its watchdog.
fn reap(args: &ReapArgs, out: &report::Printer) -> Result<Exit, Failure> {
    project::validate(&args.project).or_fail(Exit::Usage)?;
    let reporter = reporter(false, out);
    reaper::reap(
        &args.project,
        args.container.as_deref(),
        args.ping,
        &reporter,
    )
}

/// `testbed self-id`: the id of the container we run in, on stdout.
fn self_id(args: &SelfIdArgs, out: &report::Printer) -> Result<Exit, Failure> {
    let reporter = reporter(args.verbose, out);
    let out = reporter.printer();
    let docker = engine::Docker::find(reporter.observer())?;
    docker.ping()?;
    let explicit = args
        .parent_container
        .as_ref()
        .map(|c| container::Candidate::explicit(c, "--parent-container"));
    let candidates = container::candidates_from(explicit, &container::ProcFiles::read(), |name| {
        std::env::var(name).ok()
    });
    for candidate in &candidates {
        out.detail(args.verbose, format!("candidate: {candidate}"));
    }
    if let Some((id, candidate)) = container::confirm(&docker, &candidates) {
        out.detail(args.verbose, format!("confirmed {candidate}"));
        out.result(&format!("{id}\n"));
        return Ok(Exit::Tests(0));
    }
    match candidates.first() {
        None => out.step("not running in a container"),
        Some(candidate) => out.step(format!(
            "in a container ({candidate}), but the Docker daemon does not know it: \
             it is another daemon, such as a Docker-in-Docker service"
        )),
    }
    Ok(Exit::Tests(1))
}

/// `testbed doctor`: the diagnosis on stdout.
fn doctor(args: &DoctorArgs, ci: ci::Ci) -> Result<Exit, Failure> {
    let cwd = std::env::current_dir()
        .context("cannot read the current directory")
        .or_fail(Exit::Usage)?;
    let env = |name: &str| std::env::var(name).ok();
    let artifacts = match &args.artifacts {
        Some(dir) => cwd.join(dir),
        None => cwd.clone(),
    };
    let findings = doctor::diagnose(&doctor::Inputs {
        compose: args.stack.compose.as_deref(),
        parent_container: args.parent_container.as_deref(),
        artifacts: std::path::absolute(&artifacts).unwrap_or(artifacts),
        project: cwd.clone(),
        files: config::stack_files(
            &args.stack.files,
            args.stack.project_directory.as_deref(),
            &cwd,
            env,
        )
        .ok(),
        env: &env,
        ci,
    });
    doctor::print(&findings, &mut std::io::stdout().lock());
    Ok(doctor::verdict(&findings).unwrap_or(Exit::Tests(0)))
}
