//! One `testbed run`, in the order it happens: preflight, up, wait until
//! ready, test, collect the artifacts and logs, teardown. Teardown runs whatever the phases before it
//! returned, and the exit code is decided only after it.

pub mod session;

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::cli::LogPolicy;
use crate::config::{Action, Config, describe_files};
use crate::doctor;
use crate::engine::cmd::{Cmd, Group, Waited};
use crate::engine::model::{self, Container, Readiness, Service};
use crate::engine::stack::Stack;
use crate::engine::startup::{self, Stop};
use crate::engine::{Docker, Engine};
use crate::exit::{Exit, Failure};
use crate::labels::{self, RunLabels};
use crate::ports;
use crate::reaper::{self, Reaper, Target};
use crate::report;
use crate::signals::{self, Signals};
use crate::timeline::{self, Timeline};
use crate::topology::artifacts::{self, Artifacts, Facts, Whereabouts};

/// Log lines shown for a dependency that failed while we waited.
const FAILED_LOG_TAIL: usize = 50;

/// How the phases before teardown ended.
#[derive(Debug)]
enum Outcome {
    /// The tests ran and exited with this code.
    Tests(u8),
    /// The stack is up and ready, and the tests were not to run (`up`).
    Ready,
    /// The stack could not be brought up, or the tests could not be run.
    Failed(Failure),
    /// A signal arrived.
    Interrupted(i32),
}

impl From<Failure> for Outcome {
    fn from(failure: Failure) -> Self {
        Outcome::Failed(failure)
    }
}

/// What preflight learned from compose.
struct Plan {
    /// The services `up` starts.
    dependencies: Vec<String>,
    /// Every service of the model, with what it depends on.
    services: Vec<Service>,
    /// The resolved model, as `compose config` printed it.
    model: String,
    artifacts: Option<Artifacts>,
    /// Where testbed runs, as far as the daemon is concerned.
    facts: Facts,
}

pub fn run(config: &Config, signals: &Signals) -> Exit {
    let timeline = Timeline::new();
    let mut facts = RunFacts::default();
    let exit = run_recorded(config, signals, &timeline, &mut facts);
    write_reports(config, &timeline, &facts, exit);
    if config.verbose {
        let (calls, busy) = crate::engine::cmd::busy();
        let own = timeline.elapsed().saturating_sub(busy);
        report::detail(
            true,
            format!(
                "{calls} docker calls kept the run busy for {:.2}s; the rest, {} ms, was testbed's own",
                busy.as_secs_f64(),
                own.as_millis()
            ),
        );
    }
    exit
}

/// What the reports need to know beyond the timeline.
#[derive(Default)]
struct RunFacts {
    compose: Option<(String, String)>,
    artifacts: Option<Artifacts>,
}

fn run_recorded(
    config: &Config,
    signals: &Signals,
    timeline: &Timeline,
    facts: &mut RunFacts,
) -> Exit {
    report::step(format!("project {}", config.project));
    let phase = Phase::begin(
        timeline,
        "preflight",
        "preflight: docker, compose, the files",
        true,
    );
    if config.action == Action::Down {
        return down(config, phase, timeline, facts);
    }
    let (engine, plan) = match preflight(config) {
        Ok(preflight) => preflight,
        Err(failure) => {
            phase.failed(&failure);
            return fail_diagnosed(&failure, config);
        }
    };
    facts.compose = Some((engine.compose_name.clone(), engine.compose_version.clone()));
    if config.action == Action::Up {
        if let Some(project) = recorded_and_alive(&engine, config) {
            let failure = Failure::usage(anyhow!(
                "the stack {project} is already up for these compose files"
            ))
            .with_hint("run the tests with `testbed test`, or remove it first with `testbed down`");
            phase.failed(&failure);
            return fail(&failure);
        }
    }
    let mut stack = Stack::new(&engine, &config.project, &config.files, &config.service);
    facts.artifacts = plan.artifacts.clone();
    if let Some(artifacts) = &plan.artifacts {
        if let Err(error) = artifacts.prepare() {
            let failure = Failure::engine(error);
            phase.failed(&failure);
            return fail(&failure);
        }
    }
    phase.end(timeline::Outcome::Passed, None);
    if config.dry_run {
        print_plan(&stack, &plan, config);
        return Exit::Tests(0);
    }
    if let Some(signal) = signals.received() {
        return Exit::Signal(signal);
    }

    // A stack left up on purpose says so.
    let kept = config.keep || config.action == Action::Up;
    let mut labels = RunLabels::new(
        &config.project,
        config.ttl,
        kept,
        plan.facts.whereabouts.container_id(),
    );
    if config.action == Action::Test {
        // Someone else's stack: ours only to use, not to remove.
        match check_recorded(&stack, &plan, signals) {
            // Compose v2 recreates a network or volume whose labels differ
            // from the ones it was created with, under the running services:
            // `test` hands compose exactly the labels `up` did.
            Ok(recorded) => labels = recorded.unwrap_or(labels),
            Err(failure) => return fail(&failure),
        }
    }
    if let Err(error) = stack.apply_labels(&labels, &plan.model) {
        return fail(&Failure::engine(error));
    }
    if config.action != Action::Test {
        stack.begin();
    }
    // What this run would remove, should it die first.
    let target = match config.action {
        Action::Test => Target::Container(stack.test_container().to_string()),
        _ => Target::Stack,
    };
    let reaper = Reaper::start(engine.client(), &labels, &plan.facts, &target);
    let outcome = run_phases(&stack, &plan, config, signals, timeline);
    collect(&stack, &plan, config, signals, timeline);
    show_logs(&stack, config, &outcome, signals);
    let down = teardown(&stack, config, &outcome, signals, timeline);
    if let Some(reaper) = reaper {
        reaper.finish();
    }
    summarize(timeline);
    let kept = config.action == Action::Test || config.keep;
    finish(outcome, down, timeline, plan.artifacts.as_ref(), kept)
}

/// The project recorded here for these files, if its stack still exists.
fn recorded_and_alive(engine: &Engine, config: &Config) -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let recorded = session::find(&cwd, &config.files).ok()??;
    let stack = Stack::new(engine, &recorded.project, &config.files, &config.service);
    let alive = !stack.containers(false).ok()?.is_empty();
    alive.then_some(recorded.project)
}

/// Records a stack left running for `test` and `down`, and says how to
/// use them. Another stack that is recorded and alive keeps its record.
fn record_stack(stack: &Stack, config: &Config) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let compose = &stack.engine().compose_name;
    let recorded = match recorded_and_alive(stack.engine(), config) {
        Some(other) if other != stack.project() => {
            report::warn(format!(
                "the stack {other} is recorded for these compose files and still up, so this one is not recorded"
            ));
            Err(())
        }
        _ => session::record(&cwd, &config.files, stack.project(), compose)
            .map_err(|failure| report::warn(format!("{:#}", failure.error))),
    };
    match recorded {
        Ok(()) => report::step(format!(
            "stack {} is up; rerun the tests with `testbed test`, remove it with `testbed down` (or: {})",
            stack.project(),
            stack.down_command(config.stop_timeout)
        )),
        Err(_) => {
            report::step(format!(
                "stack left running; remove it with:\n  {}",
                stack.down_command(config.stop_timeout)
            ));
        }
    }
    print_ports(stack);
}

/// Where each published port landed, one line each, for tests run on the
/// host.
fn print_ports(stack: &Stack) {
    let containers = match stack.containers(false) {
        Ok(containers) => containers,
        Err(error) => return report::warn(format!("cannot list the published ports: {error:#}")),
    };
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let ports = ports::published(&containers, docker_host.as_deref());
    let width = ports.iter().map(|p| p.service.len()).max().unwrap_or(0);
    for port in &ports {
        report::step(port.line(width));
    }
}

/// A recorded stack must still be there, and ready, for `test`: it is
/// never started again behind the user's back. Returns the labels its run
/// put on it.
fn check_recorded(
    stack: &Stack,
    plan: &Plan,
    signals: &Signals,
) -> Result<Option<RunLabels>, Failure> {
    let containers = stack.containers(false).map_err(Failure::engine)?;
    let hint = "start it again with `testbed down && testbed up`";
    if containers.is_empty() {
        return Err(Failure::engine(anyhow!(
            "the stack {} recorded here is gone",
            stack.project()
        ))
        .with_hint(hint));
    }
    let mut problems: Vec<String> = containers
        .iter()
        .filter_map(|c| match c.state.readiness() {
            Readiness::Ready => None,
            // Ready when testbed checked it, but not checked by the daemon yet.
            Readiness::Waiting(_) if startup::healthy_now(stack, c, signals) => None,
            Readiness::Waiting(what) | Readiness::Failed(what) => {
                Some(format!("{} ({what})", c.service))
            }
        })
        .collect();
    problems.extend(
        plan.dependencies
            .iter()
            .filter(|d| !containers.iter().any(|c| &c.service == *d))
            .map(|d| format!("{d} (gone)")),
    );
    if problems.is_empty() {
        return Ok(containers.iter().find_map(|c| RunLabels::read(&c.labels)));
    }
    Err(Failure::engine(anyhow!(
        "the stack {} recorded here is not ready: {}",
        stack.project(),
        problems.join(", ")
    ))
    .with_hint(hint))
}

/// `testbed down`: removes the recorded stack and forgets it.
fn down(config: &Config, preflight: Phase, timeline: &Timeline, facts: &mut RunFacts) -> Exit {
    let engine = match Engine::detect(config.compose.as_deref(), config.verbose) {
        Ok(engine) => engine,
        Err(failure) => {
            preflight.failed(&failure);
            return fail_diagnosed(&failure, config);
        }
    };
    facts.compose = Some((engine.compose_name.clone(), engine.compose_version.clone()));
    preflight.end(timeline::Outcome::Passed, None);
    let stack = Stack::new(&engine, &config.project, &config.files, &config.service);
    let phase = Phase::begin(timeline, "teardown", "teardown", true);
    let result = stack.teardown(config.stop_timeout, true);
    let cwd = std::env::current_dir().unwrap_or_default();
    match result
        .map_err(Failure::engine)
        .and_then(|()| session::forget(&cwd, &config.files))
    {
        Ok(()) => {
            phase.end(timeline::Outcome::Passed, None);
            report::step(format!("stack {} removed", stack.project()));
            Exit::Tests(0)
        }
        Err(failure) => {
            phase.failed(&failure);
            fail(&failure)
        }
    }
}

/// One phase of the run: a section of the GitLab log, and an entry of the
/// timeline that the summary and the reports are written from.
struct Phase<'a> {
    timeline: &'a Timeline,
    running: timeline::Running,
    _section: report::Section,
}

impl<'a> Phase<'a> {
    fn begin(
        timeline: &'a Timeline,
        name: &'static str,
        header: &str,
        collapsed: bool,
    ) -> Phase<'a> {
        Phase {
            timeline,
            running: timeline.begin(name),
            _section: report::open(name, header, collapsed),
        }
    }

    fn end(self, outcome: timeline::Outcome, failure: Option<&Failure>) {
        let message = failure.map(|f| format!("{:#}", f.error));
        let log = failure
            .and_then(|f| f.log.as_ref())
            .map(|(_, log)| log.clone());
        self.timeline.end_with(self.running, outcome, message, log);
    }

    fn failed(self, failure: &Failure) {
        self.end(timeline::Outcome::Failed, Some(failure));
    }

    /// Ends the phase as `result` says.
    fn record<T>(self, result: &Result<T, Outcome>) {
        match result {
            Ok(_) => self.end(timeline::Outcome::Passed, None),
            Err(Outcome::Failed(failure)) => self.failed(failure),
            Err(_) => self.end(timeline::Outcome::Interrupted, None),
        }
    }
}

fn run_phases(
    stack: &Stack,
    plan: &Plan,
    config: &Config,
    signals: &Signals,
    timeline: &Timeline,
) -> Outcome {
    let phases = || -> Result<Option<u8>, Outcome> {
        if config.action == Action::Test {
            return run_tests_phase(stack, plan, config, signals, timeline).map(Some);
        }
        if config.pull || config.build {
            let phase = Phase::begin(timeline, "build", "images: pull and build", true);
            let built = prepare_images(stack, config, signals);
            phase.record(&built);
            built?;
        }
        if !plan.dependencies.is_empty() {
            let header = format!("up: {}", plan.dependencies.join(", "));
            let phase = Phase::begin(timeline, "up", &header, true);
            let up = bring_up(stack, plan, config, signals, timeline);
            phase.record(&up);
            // Out of the collapsed section, so that the cause is in sight.
            if let Err(Outcome::Failed(Failure {
                log: Some((title, log)),
                ..
            })) = &up
            {
                let _section = report::titled("failed_log", title, false);
                report::block(if log.trim().is_empty() {
                    "(empty)"
                } else {
                    log
                });
            }
            up?;
        }
        if config.action == Action::Up {
            return Ok(None);
        }
        run_tests_phase(stack, plan, config, signals, timeline).map(Some)
    };
    match phases() {
        Ok(Some(code)) => Outcome::Tests(code),
        Ok(None) => Outcome::Ready,
        Err(outcome) => outcome,
    }
}

/// The tests, as a phase of the timeline; a failing test's case carries
/// the tail of its log.
fn run_tests_phase(
    stack: &Stack,
    plan: &Plan,
    config: &Config,
    signals: &Signals,
    timeline: &Timeline,
) -> Result<u8, Outcome> {
    let phase = Phase::begin(
        timeline,
        "tests",
        &format!("tests: {}", config.service),
        false,
    );
    let tests = run_tests(stack, plan, config, signals);
    match &tests {
        Ok(code) => {
            timeline.tests_exited(*code);
            if *code == 0 {
                phase.end(timeline::Outcome::Passed, None);
            } else {
                let log = stack.container_logs(stack.test_container(), Some(FAILED_LOG_TAIL));
                let failure = Failure::new(
                    Exit::Tests(*code),
                    anyhow!("the tests exited with code {code}"),
                );
                let failure = match log {
                    Ok(log) => failure.with_log(
                        format!("{} (last {FAILED_LOG_TAIL} log lines)", config.service),
                        log,
                    ),
                    Err(_) => failure,
                };
                phase.failed(&failure);
            }
        }
        Err(_) => phase.record(&tests),
    }
    tests
}

/// Finds compose, checks the daemon, lets compose validate and resolve the
/// files, and finds out how artifacts can travel, all at once.
fn preflight(config: &Config) -> Result<(Engine, Plan), Failure> {
    let docker = Docker::find(config.verbose)?;
    let (detected, daemon, facts) = std::thread::scope(|scope| {
        let daemon = scope.spawn(|| docker.ping());
        let facts = scope.spawn(|| facts(&docker, config));
        let detected = Engine::detect_while(docker.clone(), config.compose.as_deref(), |engine| {
            let stack = Stack::new(engine, &config.project, &config.files, &config.service);
            let config_cmd = stack.compose("config");
            let output = config_cmd.output();
            (config_cmd, output)
        });
        (
            detected,
            daemon.join().expect("daemon check panicked"),
            facts.join().expect("detecting where testbed runs panicked"),
        )
    });
    let (engine, (config_cmd, resolved)) = detected?;
    report::detail(
        config.verbose,
        format!(
            "compose: {} {}",
            engine.compose_name, engine.compose_version
        ),
    );
    let daemon_version = daemon?;
    report::detail(config.verbose, format!("docker daemon {daemon_version}"));
    let artifacts = match &config.artifacts {
        Some(dir) => {
            let artifacts = artifacts::choose(config.artifacts_mode, dir, &facts)?;
            report::detail(
                config.verbose,
                format!(
                    "artifacts: {} ({})",
                    artifacts.strategy.name(),
                    artifacts.reason
                ),
            );
            Some(artifacts)
        }
        None => None,
    };

    let files = describe_files(&config.files);
    let output = resolved.map_err(Failure::engine)?;
    config_cmd
        .check(&output)
        .map_err(|e| Failure::engine(e.context(format!("compose rejected {files}"))))?;
    let resolved = String::from_utf8_lossy(&output.stdout).into_owned();
    let services = model::services_from_config(&resolved).map_err(Failure::engine)?;
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    if names.is_empty() {
        return Err(Failure::engine(anyhow!(
            "no services are defined in {files}"
        )));
    }
    let listed = names.join(", ");
    if !names.contains(&config.service) {
        return Err(Failure::usage(anyhow!(
            "test service `{}` is not defined in {files}",
            config.service
        ))
        .with_hint(format!(
            "the services are: {listed}; choose one with --service NAME or `x-testbed: {{service: NAME}}`"
        )));
    }
    let dependencies = match &config.services {
        Some(chosen) => {
            if let Some(unknown) = chosen.iter().find(|s| !names.contains(s)) {
                return Err(Failure::usage(anyhow!(
                    "--services names `{unknown}`, which is not defined in {files}"
                ))
                .with_hint(format!("the services are: {listed}")));
            }
            model::with_dependencies(&services, chosen)
        }
        None => names,
    };
    let plan = Plan {
        dependencies: dependencies
            .into_iter()
            .filter(|s| *s != config.service)
            .collect(),
        services,
        model: resolved,
        artifacts,
        facts,
    };
    Ok((engine, plan))
}

/// Where testbed runs, which the artifacts strategy and the reaper depend
/// on. A daemon over the network cannot know our container, so it is not
/// asked.
fn facts(docker: &Docker, config: &Config) -> Facts {
    let remote_host = artifacts::remote_host(std::env::var("DOCKER_HOST").ok().as_deref());
    let root = artifacts::running_as_root();
    let whereabouts = if remote_host.is_none() {
        artifacts::detect(
            docker.program(),
            docker.echoes(),
            config.parent_container.as_deref(),
        )
    } else {
        Whereabouts::Host
    };
    Facts {
        remote_host,
        root,
        whereabouts,
    }
}

/// `compose build` and `compose pull`, when asked for.
fn prepare_images(stack: &Stack, config: &Config, signals: &Signals) -> Result<(), Outcome> {
    if config.pull {
        report::step("pulling images");
        let pull = stack.compose("pull").arg("--ignore-pull-failures");
        run_to_end(&pull, None, signals)?;
    }
    if config.build {
        report::step("building images");
        run_to_end(&stack.compose("build"), None, signals)?;
    }
    Ok(())
}

/// Creates the dependencies, then starts each once what it depends on
/// allows, and waits until each is healthy, or running when it has no
/// healthcheck, or has completed successfully.
fn bring_up(
    stack: &Stack,
    plan: &Plan,
    config: &Config,
    signals: &Signals,
    timeline: &Timeline,
) -> Result<(), Outcome> {
    let started = Instant::now();
    let deadline = started + config.wait_timeout;
    report::step(format!("starting {}", plan.dependencies.join(", ")));
    for create in create_commands(stack, plan) {
        match run_to_end(&create, Some(deadline), signals) {
            Err(Outcome::Failed(failure)) if failure.exit == Exit::Timeout => {
                let waiting = plan
                    .dependencies
                    .iter()
                    .map(|d| format!("{d} (not created yet)"))
                    .collect();
                return Err(not_ready(config, waiting).into());
            }
            other => other?,
        }
    }
    let created = stack.containers(false).map_err(Failure::engine)?;
    let names: Vec<String> = created.iter().map(|c| c.service.clone()).collect();
    let live = report::live::Live::new(&model::with_dependencies(&plan.services, &names));
    let started_up = startup::start(
        stack,
        &plan.services,
        created,
        deadline,
        signals,
        &mut |statuses| live.update(statuses),
    );
    drop(live);
    match started_up {
        Ok(times) => {
            for (service, after) in times {
                timeline.ready(&service, after);
                let after = after.as_secs_f64();
                report::detail(config.verbose, format!("{service} ready after {after:.1}s"));
            }
            report::step(format!("ready in {:.1}s", started.elapsed().as_secs_f64()));
            Ok(())
        }
        Err(Stop::Failed(container, why)) => Err(dependency_failed(stack, &container, &why).into()),
        Err(Stop::TimedOut(waiting)) => Err(not_ready(config, waiting).into()),
        Err(Stop::Interrupted) => Err(Outcome::Interrupted(
            signals.received().unwrap_or(libc::SIGTERM),
        )),
        Err(Stop::Engine(error)) => Err(Failure::engine(error).into()),
    }
}

/// `up --no-start`: compose creates the networks, volumes and containers
/// (building or pulling what is missing), and testbed starts them.
///
/// Compose v1 would block there on a `service_completed_successfully`
/// condition among the services it creates, as a created container has not
/// exited. So on v1 `up --no-start --no-deps` creates the networks, volumes
/// and the services without such a condition, and `create` (which waits for
/// nothing, but creates no network) the rest. (A created container counts
/// as healthy there: v1 checks only running ones.)
fn create_commands(stack: &Stack, plan: &Plan) -> Vec<Cmd> {
    let deps = &plan.dependencies;
    if !stack.engine().is_v1() {
        return vec![
            stack
                .compose("up")
                .arg("--no-start")
                .args(deps.iter().cloned()),
        ];
    }
    let first = model::waiting_for_no_completion(&plan.services, deps);
    let rest: Vec<&String> = deps.iter().filter(|d| !first.contains(d)).collect();
    let mut commands = vec![
        stack
            .compose("up")
            .args(["--no-start", "--no-deps"])
            .args(first),
    ];
    if !rest.is_empty() {
        commands.push(stack.compose("create").args(rest.into_iter().cloned()));
    }
    commands
}

/// Names a failed dependency, with the tail of its log, which is printed
/// once the phase is over.
fn dependency_failed(stack: &Stack, container: &Container, why: &str) -> Failure {
    let log = stack
        .container_logs(&container.id, Some(FAILED_LOG_TAIL))
        .unwrap_or_else(|error| format!("{error:#}"));
    Failure::engine(anyhow!(
        "dependency `{}` {why} before the tests could start",
        container.service
    ))
    .with_hint("its log is above; rerun with --keep to inspect the stack afterwards")
    .with_log(
        format!("{} (last {FAILED_LOG_TAIL} log lines)", container.service),
        log,
    )
}

/// Prints a container's log under the header above.
fn print_log(stack: &Stack, container: &Container, tail: Option<usize>) {
    match stack.container_logs(&container.id, tail) {
        Ok(log) if log.trim().is_empty() => report::block("(empty)"),
        Ok(log) => report::block(&log),
        Err(error) => report::warn(format!("{error:#}")),
    }
}

/// The readiness timeout, naming each service that was not ready and what
/// it was doing.
fn not_ready(config: &Config, waiting: Vec<String>) -> Failure {
    Failure::new(
        Exit::Timeout,
        anyhow!(
            "not ready after {}: {}",
            humantime::format_duration(config.wait_timeout),
            waiting.join(", ")
        ),
    )
    .with_hint("raise --wait-timeout, or check the healthchecks of the services named")
}

/// Runs the test service once and returns its exit code, read from the
/// engine: compose's own exit code cannot tell a failed test from a failed
/// `compose run`.
fn run_tests(
    stack: &Stack,
    plan: &Plan,
    config: &Config,
    signals: &Signals,
) -> Result<u8, Outcome> {
    let name = stack.test_container();
    let run = test_command(stack, plan, config);
    report::step(format!("running {}", config.service));
    let started = Instant::now();
    // With --tty the tests own the terminal: compose puts it in raw mode, so
    // Ctrl-C reaches them as a keystroke, and they must share our process
    // group to read it. Otherwise a Ctrl-C is testbed's to handle.
    let group = if config.tty {
        Group::Shared
    } else {
        Group::Own
    };
    let child = match group {
        Group::Shared => run.spawn_inherited(group),
        Group::Own => run.spawn_forwarded(group),
    }
    .map_err(Failure::engine)?;
    let waited = child.wait(None, signals).map_err(Failure::engine)?;
    let output = match waited {
        Waited::Done(output) => output,
        Waited::Interrupted | Waited::TimedOut => {
            // Killed, not removed: what the tests wrote is still collected.
            if let Err(error) = stack.kill_test_container() {
                report::warn(format!("{error:#}"));
            }
            child.kill();
            return Err(Outcome::Interrupted(
                signals.received().unwrap_or(libc::SIGTERM),
            ));
        }
    };
    let container = stack
        .inspect(&[name], true)
        .map_err(Failure::engine)?
        .into_iter()
        .next();
    report::detail(
        config.verbose,
        format!("tests ran for {:.1}s", started.elapsed().as_secs_f64()),
    );
    let status = match output.status.code() {
        Some(code) => format!("exit status {code}"),
        None => "a signal".into(),
    };
    match container {
        None => Err(Failure::engine(anyhow!(
            "`{} run` failed with {status} before the test container was created",
            stack.engine().compose_name
        ))
        .with_hint("compose's own error is printed above")
        .into()),
        Some(container) if container.state.never_started() => Err(Failure::new(
            Exit::CannotInvoke,
            anyhow!(container.state.error.clone()).context(format!(
                "the test command could not be started in `{}`",
                config.service
            )),
        )
        .into()),
        Some(container) if container.state.status == "running" => Err(Failure::engine(anyhow!(
            "`{} run` ended with {status} while the test container was still running",
            stack.engine().compose_name
        ))
        .into()),
        Some(container) => Ok(container.state.exit_code.clamp(0, 255) as u8),
    }
}

fn test_command(stack: &Stack, plan: &Plan, config: &Config) -> Cmd {
    let mut run = stack
        .compose("run")
        .args(["--name", stack.test_container(), "--no-deps"]);
    if !config.tty {
        run = run.arg("-T");
    }
    // Values travel in the environment of compose, never on its argv.
    run = run
        .args(["-e", "TESTBED_PROJECT"])
        .env("TESTBED_PROJECT", stack.project());
    if let Some(artifacts) = &plan.artifacts {
        run = run
            .args(["-v", &artifacts.volume(), "-e", artifacts::ENV])
            .env(artifacts::ENV, artifacts.dir.to_string_lossy());
    }
    for (name, value) in &config.env {
        run = run.args(["-e", name.as_str()]);
        if let Some(value) = value {
            run = run.env(name.as_str(), value.as_str());
        }
    }
    run.arg(&config.service)
        .args(config.command.iter().cloned())
}

/// Runs a captured command under the deadline and signals; a non-zero exit
/// is an engine failure carrying its stderr.
fn run_to_end(cmd: &Cmd, deadline: Option<Instant>, signals: &Signals) -> Result<(), Outcome> {
    let child = cmd.spawn_captured().map_err(Failure::engine)?;
    match child.wait(deadline, signals).map_err(Failure::engine)? {
        Waited::Done(output) => cmd.check(&output).map_err(|e| Failure::engine(e).into()),
        Waited::TimedOut => {
            child.kill();
            Err(Failure::new(Exit::Timeout, anyhow!("timed out")).into())
        }
        Waited::Interrupted => {
            child.kill();
            Err(Outcome::Interrupted(
                signals.received().unwrap_or(libc::SIGTERM),
            ))
        }
    }
}

/// Saves every service's log and brings the tests' files home, whatever
/// happened before, unless a second signal asked to skip it.
/// For the reports, records how the run left each service; with
/// `--artifacts`, saves every service's log and brings the tests' files
/// home. Whatever happened before, unless a second signal asked to skip it.
fn collect(stack: &Stack, plan: &Plan, config: &Config, signals: &Signals, timeline: &Timeline) {
    let reports = config.report.is_some() || config.junit.is_some();
    if plan.artifacts.is_none() && !reports {
        return;
    }
    if signals.escalated() {
        if plan.artifacts.is_some() {
            report::warn("second signal: not collecting the logs and artifacts");
        }
        return;
    }
    let phase = Phase::begin(timeline, "collect", "collect: logs and artifacts", true);
    let containers = match stack.containers(true) {
        Ok(containers) => containers,
        Err(error) => {
            report::warn(format!("cannot list the containers: {error:#}"));
            return phase.end(timeline::Outcome::Failed, None);
        }
    };
    let (tests, services): (Vec<_>, Vec<_>) = containers
        .into_iter()
        .partition(|c| c.name == stack.test_container());
    for container in &services {
        let state = &container.state;
        let exited = matches!(state.status.as_str(), "exited" | "dead");
        timeline.left(
            &container.service,
            &state.status,
            state.health.as_ref().map(|h| h.status.as_str()),
            exited.then_some(state.exit_code),
        );
    }
    if let Some(artifacts) = &plan.artifacts {
        let test = tests
            .first()
            .map(|c| (stack.test_container(), c.service.as_str()));
        artifacts.collect(stack.engine(), test, &services);
    }
    phase.end(timeline::Outcome::Passed, None);
}

/// Prints each dependency's log under a header when the policy asks for it.
fn show_logs(stack: &Stack, config: &Config, outcome: &Outcome, signals: &Signals) {
    let wanted = match config.logs {
        LogPolicy::Always => true,
        LogPolicy::OnFailure => matches!(outcome, Outcome::Tests(code) if *code != 0),
        LogPolicy::Never => false,
    };
    if !wanted || signals.escalated() {
        return;
    }
    let containers = match stack.containers(false) {
        Ok(containers) => containers,
        Err(error) => return report::warn(format!("cannot list the dependencies: {error:#}")),
    };
    for container in &containers {
        let _section = report::titled(
            &format!("log_{}", container.service),
            format!("{} log", container.service),
            true,
        );
        print_log(stack, container, None);
    }
}

fn teardown(
    stack: &Stack,
    config: &Config,
    outcome: &Outcome,
    signals: &Signals,
    timeline: &Timeline,
) -> anyhow::Result<()> {
    let phase = Phase::begin(timeline, "teardown", "teardown", true);
    let result = remove_stack(stack, config, outcome, signals);
    match &result {
        Ok(()) => phase.end(timeline::Outcome::Passed, None),
        Err(error) => phase.failed(&Failure::engine(anyhow!("{error:#}"))),
    }
    result
}

fn remove_stack(
    stack: &Stack,
    config: &Config,
    outcome: &Outcome,
    signals: &Signals,
) -> anyhow::Result<()> {
    let keep = match config.action {
        Action::Run => config.keep,
        Action::Up => matches!(outcome, Outcome::Ready),
        Action::Test => true,
        Action::Down => false,
    };
    if keep {
        if let Err(error) = stack.keep() {
            report::warn(format!("{error:#}"));
        }
        if config.action != Action::Test {
            record_stack(stack, config);
        }
        return Ok(());
    }
    let started = Instant::now();
    let interrupted = signals.received().is_some() || matches!(outcome, Outcome::Interrupted(_));
    let stop_timeout = if signals.escalated() {
        Duration::ZERO
    } else {
        config.stop_timeout
    };
    let result = stack.teardown(stop_timeout, interrupted);
    report::detail(
        config.verbose,
        format!("torn down in {:.1}s", started.elapsed().as_secs_f64()),
    );
    result
}

/// Decides the exit code. Cleanup never hides a failure, and never turns
/// one into a pass.
fn finish(
    outcome: Outcome,
    down: anyhow::Result<()>,
    timeline: &Timeline,
    artifacts: Option<&Artifacts>,
    keep: bool,
) -> Exit {
    let logs = match artifacts {
        Some(artifacts) => format!("; logs: {}/{}/", artifacts.dir.display(), artifacts::LOGS),
        None => String::new(),
    };
    let elapsed = format!("{:.1}s{logs}", timeline.elapsed().as_secs_f64());
    let down_failed = |down: anyhow::Error| down.context("teardown failed; the stack may be left");
    match (outcome, down) {
        (Outcome::Tests(0), Ok(())) => {
            report::step(format!("tests passed after {elapsed}"));
            Exit::Tests(0)
        }
        (Outcome::Tests(0), Err(down)) => fail(&Failure::engine(down_failed(down))),
        (Outcome::Tests(code), down) => {
            if let Err(down) = down {
                report::warn(format!("{:#}", down_failed(down)));
            }
            report::step(format!("tests failed (exit {code}) after {elapsed}"));
            Exit::Tests(code)
        }
        (Outcome::Failed(failure), down) => {
            if let Err(down) = down {
                report::warn(format!("{:#}", down_failed(down)));
            }
            fail(&failure)
        }
        (Outcome::Ready, down) => match down {
            Ok(()) => Exit::Tests(0),
            Err(down) => fail(&Failure::engine(down_failed(down))),
        },
        (Outcome::Interrupted(signal), down) => {
            match down {
                Ok(()) if keep => report::step(format!(
                    "interrupted by {}; the stack is still up",
                    signals::name(signal)
                )),
                Ok(()) => report::step(format!(
                    "interrupted by {}; the stack was removed",
                    signals::name(signal)
                )),
                Err(down) => report::warn(format!("{:#}", down_failed(down))),
            }
            Exit::Signal(signal)
        }
    }
}

/// The table of phases and services, before the verdict.
fn summarize(timeline: &Timeline) {
    let _section = report::titled("summary", "summary", false);
    report::block(&report::summary::render(&timeline.snapshot()));
}

/// Writes `--junit` and `--report`; a file that cannot be written is a
/// warning, never a change of the exit code.
fn write_reports(config: &Config, timeline: &Timeline, facts: &RunFacts, exit: Exit) {
    let state = timeline.snapshot();
    if let Some(path) = &config.junit {
        let mut junit = report::junit::build(&config.project, &state);
        if let (Some(pattern), Some(artifacts)) = (&config.junit_from, &facts.artifacts) {
            for (file, why) in report::junit::merge(&mut junit, &artifacts.dir, pattern) {
                report::warn(format!(
                    "not merged into the JUnit report: {}: {why}",
                    file.display()
                ));
            }
        }
        if let Err(error) = report::junit::write(&junit, path) {
            report::warn(format!("{error:#}"));
        }
    }
    if let Some(path) = &config.report {
        let (compose, version) = facts.compose.clone().unwrap_or_default();
        let json = report::json::build(
            &report::json::Run {
                project: &config.project,
                compose: &compose,
                compose_version: &version,
                started_at: timeline.started_at,
                duration: timeline.elapsed(),
                artifacts: facts
                    .artifacts
                    .as_ref()
                    .map(|a| (a.dir.as_path(), a.strategy.name(), a.reason.as_str())),
                exit,
            },
            &state,
        );
        if let Err(error) = report::json::write(&json, path) {
            report::warn(format!("{error:#}"));
        }
    }
}

fn fail(failure: &Failure) -> Exit {
    report::failure(failure);
    failure.exit
}

/// Fails, and when docker, the daemon or compose is at fault, adds what
/// `testbed doctor` finds, which often shows the cause at a glance.
fn fail_diagnosed(failure: &Failure, config: &Config) -> Exit {
    let exit = fail(failure);
    if failure.environment {
        let env = |name: &str| std::env::var(name).ok();
        let cwd = std::env::current_dir().unwrap_or_default();
        let mut findings = doctor::diagnose(&doctor::Inputs {
            compose: config.compose.as_deref(),
            parent_container: config.parent_container.as_deref(),
            artifacts: config.artifacts.clone().unwrap_or(cwd),
            env: &env,
        });
        // The error above already gave its hint.
        for finding in &mut findings {
            if finding.hint == failure.hint {
                finding.hint = None;
            }
        }
        report::section("testbed doctor");
        doctor::print(&findings, &mut std::io::stderr().lock());
    }
    exit
}

/// `--dry-run`: the commands a run would execute, on stdout.
fn print_plan(stack: &Stack, plan: &Plan, config: &Config) {
    let mut steps = vec![format!(
        "# compose commands but `config` and `down` also get -f <a generated file>, last, that \
         labels what they create {}={} (and {}, {}, {})",
        labels::RUN,
        stack.project(),
        labels::STARTED,
        labels::OWNER,
        labels::TTL
    )];
    steps.push(format!("# {}", reaper::plan(&plan.facts)));
    if config.pull {
        steps.push(
            stack
                .compose("pull")
                .arg("--ignore-pull-failures")
                .to_string(),
        );
    }
    if config.build {
        steps.push(stack.compose("build").to_string());
    }
    if !plan.dependencies.is_empty() {
        steps.extend(create_commands(stack, plan).iter().map(Cmd::to_string));
        steps.push(format!(
            "# docker start each service once its depends_on conditions hold, and wait until \
             each is healthy (its healthcheck also run with docker exec), or running without \
             one (at most {})",
            humantime::format_duration(config.wait_timeout)
        ));
    }
    steps.push(test_command(stack, plan, config).to_string());
    if let Some(artifacts) = &plan.artifacts {
        let copy = match artifacts.strategy {
            artifacts::Strategy::Copy => format!(
                " and copy {}/. out of {}",
                artifacts.dir.display(),
                stack.test_container()
            ),
            _ => String::new(),
        };
        steps.push(format!(
            "# save each service's log in {}/{}/{copy} ({}: {})",
            artifacts.dir.display(),
            artifacts::LOGS,
            artifacts.strategy.name(),
            artifacts.reason
        ));
    }
    let down = stack.down_command(config.stop_timeout);
    steps.push(if config.keep {
        format!("# --keep: the stack is left running; later: {down}")
    } else if config.stop_timeout.is_zero() {
        format!(
            "# kill and remove the containers, networks and volumes labelled {}",
            stack.label()
        )
    } else {
        down.to_string()
    });
    // A closed stdout (`| head`) is no failure.
    let _ = writeln!(std::io::stdout().lock(), "{}", steps.join("\n"));
}
