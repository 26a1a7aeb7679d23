//! What a run will do, learned once before anything starts: compose's
//! resolved model of the files, the profiles in force, the dependencies to
//! start and where their images come from, where testbed runs and how
//! artifacts travel; and the commands that follow from it, which `--dry-run`
//! prints.

use std::path::Path;

use anyhow::anyhow;

use crate::config::{Build, Config, Keep, SetupStep, describe_files};
use crate::engine::cmd::Cmd;
use crate::engine::model::{self, Service};
use crate::engine::stack::Stack;
use crate::engine::{Docker, Engine};
use crate::events::{ComposeUsed, Events, RunEvent};
use crate::exit::Failure;
use crate::images::BuiltImage;
use crate::labels;
use crate::reaper;
use crate::rewrite::{self, Change, Rewrites, Rewritten};
use crate::threads;
use crate::topology::artifacts::{self, Artifacts, Facts, Whereabouts};
use crate::topology::mounts::{self, Placed, Seen};
use crate::topology::seed::{self, Seeding};

use super::profiles::{self, InForce};

/// What preflight learned.
pub struct Plan {
    /// The services `up` starts.
    pub dependencies: Vec<String>,
    /// Which rule chose them.
    pub chosen: Chosen,
    /// The services among them that attach to the test service
    /// (`network_mode: service:…`, `volumes_from`) or otherwise depend on
    /// it. When there are any, the tests run in the test service's own
    /// container, created and started with the rest, as `up
    /// --exit-code-from` runs them: a second container of it, which `run`
    /// would make, is not the one they share.
    pub attached: Vec<String>,
    /// Every service of the model, whatever its profiles, with what it
    /// depends on.
    pub services: Vec<Service>,
    /// The resolved model, as `compose config --profile '*'` printed it.
    pub model: String,
    /// The profiles every compose command of the run gets.
    pub profiles: InForce,
    /// The images of the services this command creates: those testbed
    /// builds under its own names, those built under the service's own
    /// `image:`, and those only pulled.
    pub images: Images,
    pub artifacts: Option<Artifacts>,
    /// Where testbed runs, as far as the daemon is concerned.
    pub facts: Facts,
    /// The bind mounts of the project's own files, and where the daemon
    /// finds each.
    pub mounts: Vec<Placed>,
    /// Those the daemon cannot see, copied into a volume of the run.
    pub seeding: Option<Seeding>,
    /// The model as compose gets it instead of the files, when the run
    /// isolates their fixed names or ports, or leaves out what the engine
    /// does not know; and what was rewritten.
    pub rewritten: Option<Rewritten>,
}

impl Plan {
    /// The services `up --no-start` creates: the dependencies, and the
    /// test service when the tests run in its own container.
    pub fn created(&self, tests: &str) -> Vec<String> {
        let mut created = self.dependencies.clone();
        if !self.attached.is_empty() {
            created.push(tests.to_string());
        }
        created
    }
}

/// Which services a run starts besides the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// `--services` (or `x-testbed: services`) and what they depend on.
    Explicitly,
    /// What the test service depends on, directly or not, as `compose run`
    /// would start it: `depends_on`, `links`, `network_mode: service:…`
    /// and `volumes_from`; and the services of a profile given by name.
    ByTheTests,
    /// Every other service: the test service depends on none, so nothing
    /// says which it talks to.
    AllOthers,
}

impl Chosen {
    /// Why these services, for `-v` and `--dry-run`.
    pub fn describe(self, tests: &str) -> String {
        match self {
            Chosen::Explicitly => "as --services chose them, with what they depend on".into(),
            Chosen::ByTheTests => format!("what `{tests}` depends on"),
            Chosen::AllOthers => format!("every other service: `{tests}` depends on none"),
        }
    }
}

/// Where the images of the services a command creates come from.
#[derive(Debug, Default)]
pub struct Images {
    /// Services with `build:` and no `image:`, named by testbed.
    pub built: Vec<BuiltImage>,
    /// Services with `build:` and an `image:`, which compose builds and
    /// tags as that image: (service, image).
    pub named: Vec<(String, String)>,
    /// Services with an `image:` and no `build:`.
    pub pulled: Vec<String>,
}

/// Finds compose, checks the daemon, lets compose validate and resolve the
/// files, and finds out how artifacts can travel, all at once.
pub fn preflight(config: &Config, events: &dyn Events) -> Result<(Engine, Plan), Failure> {
    let docker = Docker::find(config.verbose)?;
    // The JSON report names compose's version; nothing else needs it.
    let wants_version = config.report.is_some();
    let (detected, daemon, facts) = std::thread::scope(|scope| {
        let daemon = threads::spawn(scope, || docker.ping());
        let facts = threads::spawn(scope, || facts(&docker, config));
        let detected = Engine::detect_while(
            docker.clone(),
            config.compose.as_deref(),
            wants_version,
            |engine| {
                // Every service, whatever its profiles: v1 prints them all
                // anyway, v2 only those of the active profiles.
                let stack = Stack::new(engine, &config.project, &config.files, &config.service)
                    .with_globals(&config.compose_options)
                    .with_profiles(vec!["*".into()]);
                let config_cmd = stack.compose("config");
                let output = config_cmd.output();
                (config_cmd, output)
            },
        );
        (
            detected,
            daemon.join().expect("daemon check panicked"),
            facts.join().expect("detecting where testbed runs panicked"),
        )
    });
    let (engine, (config_cmd, resolved)) = detected?;
    events.emit(RunEvent::Compose(ComposeUsed::of(&engine)));
    let daemon_version = daemon?;
    events.emit(RunEvent::Detail(format!("docker daemon {daemon_version}")));
    let major: u32 = daemon_version
        .split('.')
        .next()
        .and_then(|major| major.trim().parse().ok())
        .unwrap_or(0);
    let artifacts = match &config.artifacts {
        Some(dir) => {
            let artifacts = artifacts::choose(config.artifacts_mode, dir, &facts)?;
            events.emit(RunEvent::ArtifactsPlanned {
                dir: &artifacts.dir,
                strategy: artifacts.strategy.name(),
                reason: &artifacts.reason,
            });
            Some(artifacts)
        }
        None => None,
    };

    let files = describe_files(&config.files);
    let output = resolved.map_err(Failure::engine)?;
    config_cmd.check(&output).map_err(|e| {
        let failure = Failure::engine(e.context(format!("compose rejected {files}")));
        // v1's schema predates the field; v2 reads it, and testbed leaves
        // it out where the engine predates it.
        match String::from_utf8_lossy(&output.stderr).contains("start_interval") {
            true => failure.with_hint(
                "compose v1 does not know healthcheck.start_interval: use compose v2 \
                 (--compose \"docker compose\"), or leave the field out",
            ),
            false => failure,
        }
    })?;
    let resolved = String::from_utf8_lossy(&output.stdout).into_owned();
    let rewrites = Rewrites {
        names: config.isolation.names,
        ports: config.isolation.ports,
        // Engines before 25 (API 1.44) refuse it.
        start_interval: major < 25,
    };
    let rewritten = rewrite::rewrite(&resolved, rewrites).map_err(Failure::engine)?;
    for change in rewritten.iter().flat_map(|r| &r.changes) {
        events.emit(match change {
            Change::HostNetwork { .. } => RunEvent::Step(change.to_string()),
            _ => RunEvent::Detail(change.to_string()),
        });
    }
    let rewritten = rewritten.filter(Rewritten::changes_the_model);
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
    if let Some(unknown) = config
        .services
        .iter()
        .flatten()
        .find(|s| !names.contains(s))
    {
        return Err(Failure::usage(anyhow!(
            "--services names `{unknown}`, which is not defined in {files}"
        ))
        .with_hint(format!("the services are: {listed}")));
    }
    if let Some(step) = config.before.iter().find(|s| !names.contains(&s.service)) {
        return Err(Failure::usage(anyhow!(
            "--before names `{}`, which is not defined in {files}",
            step.service
        ))
        .with_hint(format!("the services are: {listed}")));
    }
    let in_force = profiles::resolve(
        &services,
        &config.service,
        config.services.as_deref(),
        (&config.profiles, config.profiles_from),
        engine.flavor,
    );
    if !in_force.profiles.is_empty() || services.iter().any(|s| !s.profiles.is_empty()) {
        events.emit(RunEvent::Detail(describe_profiles(&in_force, &services)));
    }
    let enabled = |name: &String| {
        services
            .iter()
            .any(|s| &s.name == name && in_force.enables(s))
    };
    // A profile given by name brings its services in, as compose's own
    // `--profile` does for `up`.
    let mut wanted = vec![config.service.clone()];
    wanted.extend(
        services
            .iter()
            .filter(|s| s.profiles.iter().any(|p| config.profiles.contains(p)))
            .map(|s| s.name.clone()),
    );
    let needed: Vec<String> = model::with_dependencies(&services, &wanted)
        .into_iter()
        .filter(|s| *s != config.service)
        .collect();
    let (chosen, dependencies) = match &config.services {
        Some(chosen) => (
            Chosen::Explicitly,
            model::with_dependencies(&services, chosen),
        ),
        None if needed.is_empty() => (Chosen::AllOthers, names),
        None => (Chosen::ByTheTests, needed),
    };
    // A setup step runs once what its service depends on is ready.
    let before: Vec<String> = config.before.iter().map(|s| s.service.clone()).collect();
    let for_setup: Vec<String> = model::with_dependencies(&services, &before)
        .into_iter()
        .filter(|s| !before.contains(s) || dependencies.contains(s))
        .collect();
    let dependencies: Vec<String> = services
        .iter()
        .map(|s| &s.name)
        .filter(|s| dependencies.contains(s) || for_setup.contains(s))
        .filter(|s| **s != config.service && enabled(s))
        .cloned()
        .collect();
    if !dependencies.is_empty() {
        events.emit(RunEvent::Detail(format!(
            "services: {} ({})",
            dependencies.join(", "),
            chosen.describe(&config.service)
        )));
    }
    // `test` runs its tests beside a stack that stays, and `up` none.
    let attached: Vec<String> = services
        .iter()
        .filter(|_| config.policy.run_tests && !config.policy.reuse)
        .filter(|s| dependencies.contains(&s.name))
        .filter(|s| s.depends_on.iter().any(|d| d.service == config.service))
        .map(|s| s.name.clone())
        .collect();
    if !attached.is_empty() {
        events.emit(RunEvent::Detail(describe_attached(
            &config.service,
            &attached,
        )));
    }
    let created: Vec<&Service> = services
        .iter()
        .filter(|s| {
            let tests = s.name == config.service && config.policy.run_tests;
            tests || (!config.policy.reuse && dependencies.contains(&s.name))
        })
        .collect();
    let images = images(&created, &config.image_prefix);
    // The model has every service; only those the profiles enable run.
    let binds = mounts::binds(&resolved).map_err(Failure::engine)?;
    let binds: Vec<_> = binds.into_iter().filter(|b| enabled(&b.service)).collect();
    let project = config.cwd.join(&config.files[0]);
    let project = project.parent().unwrap_or(&config.cwd);
    // The host's own paths are left alone; one that is not here may well
    // be there, but say so.
    for bind in binds.iter().filter(|b| !b.source.starts_with(project)) {
        if bind.source.symlink_metadata().is_err() {
            events.emit(RunEvent::Detail(format!(
                "{} mounts {}, which is outside the project and not where testbed runs: it is left to the daemon's host",
                bind.service,
                bind.source.display()
            )));
        }
    }
    let mut mounts = mounts::place(binds, project, &facts, !config.dry_run);
    let seeding = seeding(&docker, &config.project, &mut mounts)?;
    let plan = Plan {
        mounts,
        seeding,
        rewritten,
        dependencies,
        chosen,
        attached,
        services,
        model: resolved,
        profiles: in_force,
        images,
        artifacts,
        facts,
    };
    Ok((engine, plan))
}

/// Plans the seeding of the mounts the daemon cannot see, in the volume
/// of `project`, where the daemon keeps its volumes.
fn seeding(
    docker: &Docker,
    project: &str,
    mounts: &mut [Placed],
) -> Result<Option<Seeding>, Failure> {
    if !mounts.iter().any(|m| matches!(m.seen, Seen::Hidden(_))) {
        return Ok(None);
    }
    let root = docker
        .cmd(["info", "--format", "{{.DockerRootDir}}"])
        .read()
        .map_err(Failure::engine)?;
    let volume = seed::volume_name(project);
    let mountpoint = seed::mountpoint(Path::new(root.trim()), &volume);
    Ok(seed::plan(mounts, &volume, &mountpoint))
}

/// Where the images of `created` come from; testbed's own names start with
/// `prefix`.
fn images(created: &[&Service], prefix: &str) -> Images {
    let mut images = Images::default();
    for service in created {
        match (&service.image, service.builds) {
            (None, true) => images.built.push(BuiltImage::new(prefix, &service.name)),
            (Some(image), true) => images.named.push((service.name.clone(), image.clone())),
            (Some(_), false) => images.pulled.push(service.name.clone()),
            (None, false) => {}
        }
    }
    images
}

/// Why the tests run in their service's own container.
fn describe_attached(tests: &str, attached: &[String]) -> String {
    format!(
        "the tests run in `{tests}`'s own container, started with the stack: {} {} to it",
        attached.join(", "),
        if attached.len() == 1 {
            "attaches"
        } else {
            "attach"
        }
    )
}

/// `profiles in force: test (the test service `tests`); left out: adminer
/// (debug)`.
fn describe_profiles(in_force: &InForce, services: &[Service]) -> String {
    let shown: Vec<String> = in_force.profiles.iter().map(ToString::to_string).collect();
    let mut text = format!(
        "profiles in force: {}",
        if shown.is_empty() {
            "none".to_string()
        } else {
            shown.join(", ")
        }
    );
    let left_out: Vec<String> = services
        .iter()
        .filter(|s| !in_force.enables(s))
        .map(|s| format!("{} ({})", s.name, s.profiles.join(", ")))
        .collect();
    if !left_out.is_empty() {
        text.push_str(&format!("; left out: {}", left_out.join(", ")));
    }
    text
}

/// Where testbed runs, which the artifacts strategy and the reaper depend
/// on. A daemon over the network cannot know our container, so it is not
/// asked.
fn facts(docker: &Docker, config: &Config) -> Facts {
    let remote = docker.remote();
    let root = artifacts::running_as_root();
    let whereabouts = if remote.is_none() {
        artifacts::detect(docker, config.parent_container.as_deref())
    } else {
        Whereabouts::Host
    };
    Facts {
        remote,
        root,
        whereabouts,
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
///
/// When the tests run in their service's own container, it is created with
/// the rest, and the commands carry the tests' variables.
pub fn create_commands(stack: &Stack, plan: &Plan, config: &Config) -> Vec<Cmd> {
    let created = plan.created(&config.service);
    let mut env = Vec::new();
    if !plan.attached.is_empty() {
        env = test_env(stack, plan, config)
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
    }
    let with_env = |mut cmd: Cmd| {
        for (name, value) in &env {
            cmd = cmd.env(name.as_str(), value.as_str());
        }
        cmd
    };
    if !stack.engine().is_v1() {
        return vec![with_env(
            stack.compose("up").arg("--no-start").args(created),
        )];
    }
    let mut commands = Vec::new();
    // v1 gives a container `network_mode: service:…` of a service only when
    // that service runs at its create, else the default network: the
    // tests' own container runs first, as `up --exit-code-from` starts it.
    if !plan.attached.is_empty() {
        let tests = stack
            .compose("up")
            .args(["-d", "--no-deps", &config.service]);
        commands.push(with_env(tests));
    }
    let created: Vec<String> = created
        .into_iter()
        .filter(|s| plan.attached.is_empty() || *s != config.service)
        .collect();
    let first = model::waiting_for_no_completion(&plan.services, &created);
    let rest: Vec<&String> = created.iter().filter(|d| !first.contains(d)).collect();
    commands.push(with_env(
        stack
            .compose("up")
            .args(["--no-start", "--no-deps"])
            .args(first),
    ));
    if !rest.is_empty() {
        commands.push(with_env(
            stack.compose("create").args(rest.into_iter().cloned()),
        ));
    }
    commands
}

/// The steps of `--dry-run` that pull and build images.
fn image_steps(stack: &Stack, plan: &Plan, config: &Config) -> Vec<String> {
    let images = &plan.images;
    let mut steps = Vec::new();
    if let Some(pull) = pull_command(stack, images, config) {
        steps.push(pull.to_string());
    }
    let latest: Vec<String> = images.built.iter().map(BuiltImage::latest).collect();
    if config.build != Build::Always {
        steps.extend(
            images
                .built
                .iter()
                .map(|image| reuse_command(stack, image).to_string()),
        );
    }
    let mut build: Vec<String> = images.built.iter().map(|i| i.service.clone()).collect();
    match config.build {
        Build::Never => {
            let named: Vec<&str> = images.named.iter().map(|(_, i)| i.as_str()).collect();
            let all: Vec<&str> = latest.iter().map(String::as_str).chain(named).collect();
            if !all.is_empty() {
                steps.push(format!(
                    "# --no-build: fail if any of {} is missing",
                    all.join(", ")
                ));
            }
            return steps;
        }
        Build::Missing if latest.len() == 1 => {
            steps.push(format!("# if {} is missing:", latest[0]));
        }
        Build::Missing if !latest.is_empty() => {
            steps.push(format!(
                "# those of {} that are missing:",
                latest.join(", ")
            ));
        }
        Build::Missing => {}
        Build::Always => build.extend(images.named.iter().map(|(s, _)| s.clone())),
    }
    if !build.is_empty() {
        steps.push(build_command(stack, &build, config.pull).to_string());
    }
    for image in &images.built {
        steps.push(builder_command(stack, image).to_string());
        steps.push(publish_command(stack, image).to_string());
        steps.push(prune_command(stack, "<the run that built it>").to_string());
    }
    steps
}

/// `compose pull` of the services that only pull their image, on --pull.
pub fn pull_command(stack: &Stack, images: &Images, config: &Config) -> Option<Cmd> {
    (config.pull && !images.pulled.is_empty()).then(|| {
        stack
            .compose("pull")
            .arg("--ignore-pull-failures")
            .args(images.pulled.iter().cloned())
    })
}

/// `docker tag <latest> <run's tag>`: the run uses the newest build of
/// `image` under its own tag, whatever later builds do to `latest`. Fails
/// when there is none.
pub fn reuse_command(stack: &Stack, image: &BuiltImage) -> Cmd {
    stack
        .engine()
        .docker(["tag", &image.latest(), &image.for_run(stack.project())])
}

/// `compose build [--pull] <services>`: testbed's names get the run's own
/// tag, from the labels override.
pub fn build_command(stack: &Stack, services: &[String], pull: bool) -> Cmd {
    let build = stack.compose("build");
    let build = if pull { build.arg("--pull") } else { build };
    build.args(services.iter().cloned())
}

/// Which run built `latest`, before a build replaces it.
pub fn builder_command(stack: &Stack, image: &BuiltImage) -> Cmd {
    let format = format!("{{{{index .Config.Labels \"{}\"}}}}", labels::BUILD);
    stack
        .engine()
        .docker(["image", "inspect", "--format", &format, &image.latest()])
}

/// After a build, the run's image becomes `latest`.
pub fn publish_command(stack: &Stack, image: &BuiltImage) -> Cmd {
    stack
        .engine()
        .docker(["tag", &image.for_run(stack.project()), &image.latest()])
}

/// The image that `builder` built, once another replaced it as `latest`,
/// goes unless a container or its run's tag still holds it: `image prune`
/// removes only untagged images no container uses, and this label matches
/// no other build, in progress or not.
pub fn prune_command(stack: &Stack, builder: &str) -> Cmd {
    stack.engine().docker([
        "image",
        "prune",
        "--force",
        "--filter",
        &format!("label={}={builder}", labels::BUILD),
    ])
}

/// At the end, the run's own tags go; an image that a later build
/// superseded goes with its last tag, once no container uses it.
pub fn release_command(stack: &Stack, built: &[BuiltImage]) -> Option<Cmd> {
    (!built.is_empty()).then(|| {
        stack
            .engine()
            .docker(["image", "rm"])
            .args(built.iter().map(|image| image.for_run(stack.project())))
    })
}

/// `compose run` of the test service, under the name the engine is asked
/// for its exit code.
pub fn test_command(stack: &Stack, plan: &Plan, config: &Config) -> Cmd {
    let mut run = stack
        .compose("run")
        .args(["--name", stack.test_container(), "--no-deps"]);
    if !config.tty {
        run = run.arg("-T");
    }
    if let Some(artifacts) = &plan.artifacts {
        run = run.args(["-v", &artifacts.volume()]);
    }
    // Values travel in the environment of compose, never on its argv.
    for (name, value) in test_env(stack, plan, config) {
        run = run.args(["-e", &name]);
        if let Some(value) = value {
            run = run.env(name, value);
        }
    }
    // Its exit code is the tests': a failed test leaves nothing in flight.
    run.arg(&config.service)
        .args(config.command.iter().cloned())
        .exit_is_payloads()
}

/// The variables the tests get, each with its value where testbed gives
/// one (else compose takes it from testbed's environment): the project,
/// the artifacts directory, `-e`, and the shard's place.
fn test_env(stack: &Stack, plan: &Plan, config: &Config) -> Vec<(String, Option<String>)> {
    let mut env = vec![(
        "TESTBED_PROJECT".to_string(),
        Some(stack.project().to_string()),
    )];
    if let Some(artifacts) = &plan.artifacts {
        let dir = artifacts.dir.to_string_lossy().into_owned();
        env.push((artifacts::ENV.into(), Some(dir)));
    }
    env.extend(config.env.iter().cloned());
    // Where the tests stand among all the shards of the suite, so that a
    // runner splits itself, whether or not the compose file names them.
    if let Some(node) = config.node {
        for (name, value) in [("CI_NODE_INDEX", node.index), ("CI_NODE_TOTAL", node.total)] {
            if !config.env.iter().any(|(given, _)| given == name) {
                env.push((name.into(), Some(value.to_string())));
            }
        }
    }
    env
}

/// When the tests run in their service's own container: the override that
/// makes it the test container, under its known name, with the test
/// command, the artifacts' mount and the tests' variables (by name only:
/// their values travel in compose's environment, see [`create_commands`]).
pub fn tests_override(stack: &Stack, plan: &Plan, config: &Config) -> Option<String> {
    use serde_norway::{Mapping, Value};
    if plan.attached.is_empty() {
        return None;
    }
    let mut tests = Mapping::new();
    tests.insert("container_name".into(), stack.test_container().into());
    if !config.command.is_empty() {
        let command = config.command.iter().map(|w| Value::from(w.as_str()));
        tests.insert("command".into(), Value::Sequence(command.collect()));
    }
    let names = test_env(stack, plan, config)
        .into_iter()
        .map(|(name, _)| Value::from(name));
    tests.insert("environment".into(), Value::Sequence(names.collect()));
    if let Some(artifacts) = &plan.artifacts {
        let volume = Value::from(artifacts.volume());
        tests.insert("volumes".into(), Value::Sequence(vec![volume]));
    }
    let mut services = Mapping::new();
    services.insert(config.service.as_str().into(), Value::Mapping(tests));
    let mut file = Mapping::new();
    file.insert("services".into(), Value::Mapping(services));
    serde_norway::to_string(&file).ok()
}

/// The output of the tests in their service's own container, from its
/// start, until it exits.
pub fn follow_command(stack: &Stack) -> Cmd {
    stack
        .engine()
        .docker(["logs", "--follow", stack.test_container()])
}

/// Waits until the tests' own container has exited, and prints its code.
pub fn wait_command(stack: &Stack) -> Cmd {
    stack.engine().docker(["wait", stack.test_container()])
}

/// A setup step: a one-off of its service, whose dependencies are up and
/// ready; its exit code is the step's.
pub fn setup_command(stack: &Stack, step: &SetupStep) -> Cmd {
    stack
        .compose("run")
        .args(["--rm", "--no-deps", "-T", "-e", "TESTBED_PROJECT"])
        .env("TESTBED_PROJECT", stack.project())
        .arg(&step.service)
        .args(step.command.iter().cloned())
        .exit_is_payloads()
}

/// `--dry-run`: the commands a run would execute, and comments on what it
/// does between them.
pub fn dry_run(stack: &Stack, plan: &Plan, config: &Config) -> Vec<String> {
    let mut steps = vec![format!(
        "# compose commands but `config` and `down` also get -f <a generated file>, last, that \
         labels what they create {}={} (and {}, {}, {})",
        labels::RUN,
        stack.project(),
        labels::STARTED,
        labels::OWNER,
        labels::TTL
    )];
    for image in &plan.images.built {
        steps.push(format!(
            "# there, {} gets the image {}, which testbed builds labelled {}={}",
            image.service,
            image.for_run(stack.project()),
            labels::IMAGE,
            image.repository
        ));
    }
    if !plan.profiles.profiles.is_empty() {
        steps.push(format!(
            "# {}",
            describe_profiles(&plan.profiles, &plan.services)
        ));
    }
    if let Some(rewritten) = &plan.rewritten {
        steps.push(
            "# compose commands but `config` and `down` get the files' model, rewritten, as \
             -f <a generated file> instead of the files, and --project-directory <theirs>:"
                .into(),
        );
        for change in &rewritten.changes {
            steps.push(format!("#   {change}"));
        }
    }
    if !plan.dependencies.is_empty() {
        steps.push(format!(
            "# services: {} ({})",
            plan.dependencies.join(", "),
            plan.chosen.describe(&config.service)
        ));
    }
    if !plan.attached.is_empty() {
        steps.push(format!(
            "# {}; -f <a generated file> names its container {}, with the test command, \
             variables and artifacts, and `docker logs --follow` shows the tests' output",
            describe_attached(&config.service, &plan.attached),
            stack.test_container()
        ));
    }
    steps.push(format!(
        "# {}",
        reaper::plan(stack.engine().client(), &plan.facts)
    ));
    for placed in &plan.mounts {
        let changed = placed.seen.daemon_path().is_some();
        let file = if changed {
            " (-f <a generated file>)"
        } else {
            ""
        };
        steps.push(format!("# {}{file}", placed.describe()));
    }
    if let Some(seeding) = &plan.seeding {
        steps.push(format!(
            "# before anything starts: docker volume create {} (labelled as above), and copy {} \
             into it with docker cp, through a container of {} that is created, never started",
            seeding.volume,
            seed::listed(&seeding.roots),
            seed::IMAGE
        ));
    }
    steps.extend(image_steps(stack, plan, config));
    if !plan.dependencies.is_empty() {
        steps.extend(
            create_commands(stack, plan, config)
                .iter()
                .map(Cmd::to_string),
        );
        steps.push(format!(
            "# docker start each service once its depends_on conditions hold, and wait until \
             each is healthy (its healthcheck also run with docker exec), or running without \
             one (at most {})",
            humantime::format_duration(config.wait_timeout)
        ));
    }
    for step in &config.before {
        steps.push(setup_command(stack, step).to_string());
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
    if let Some(seeding) = plan.seeding.as_ref().filter(|s| !s.back.is_empty()) {
        steps.push(format!(
            "# after the tests: copy {} back out of {} with docker cp",
            seed::listed(&seeding.back),
            seeding.volume
        ));
    }
    let down = stack.down_command(config.stop_timeout);
    steps.push(if config.policy.keep == Keep::Always {
        format!("# --keep: the stack is left running; later: {down}")
    } else if config.stop_timeout.is_zero() {
        format!(
            "# kill and remove the containers, networks and volumes labelled {}",
            stack.label()
        )
    } else {
        down.to_string()
    });
    steps.extend(
        release_command(stack, &plan.images.built)
            .iter()
            .map(Cmd::to_string),
    );
    steps
}
