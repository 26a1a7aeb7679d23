//! The docker and compose commands a run issues, each built from the plan
//! and the configuration, and what `--dry-run` prints of them.

use crate::config::{Build, Config, Keep, SetupStep};
use crate::engine::cmd::Cmd;
use crate::engine::model;
use crate::engine::stack::Stack;
use crate::engine::{Daemon, DaemonKind};
use crate::images::BuiltImage;
use crate::labels;
use crate::reaper;
use crate::topology::artifacts;
use crate::topology::seed;

use super::plan::{Images, Plan, describe_attached, describe_profiles};

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
        steps.push(build_command(stack, &plan.daemon, &build, config.pull).to_string());
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
/// tag, from the labels override. On podman with the classic builder:
/// compose v2 would otherwise start a BuildKit container, pulled from a
/// registry, since podman's API serves no BuildKit session.
pub fn build_command(stack: &Stack, daemon: &Daemon, services: &[String], pull: bool) -> Cmd {
    let build = stack.compose("build");
    let build = if pull { build.arg("--pull") } else { build };
    let build = match daemon.kind {
        DaemonKind::Podman => build.env("DOCKER_BUILDKIT", "0"),
        DaemonKind::Docker => build,
    };
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
    // The CI's own variables of its split go as they are.
    if let Some(node) = config.node {
        let given = |name: &str| config.env.iter().any(|(given, _)| given == name);
        for (name, value) in [("CI_NODE_INDEX", node.index), ("CI_NODE_TOTAL", node.total)] {
            if !given(name) {
                env.push((name.into(), Some(value.to_string())));
            }
        }
        for name in config.split_variables.iter().filter(|name| !given(name)) {
            env.push((name.clone(), None));
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
