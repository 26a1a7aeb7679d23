//! What a run will do, learned once before anything starts: compose's
//! resolved model of the files, the dependencies to start, where testbed
//! runs and how artifacts travel; and the commands that follow from it,
//! which `--dry-run` prints.

use anyhow::anyhow;

use crate::config::{Config, Keep, describe_files};
use crate::engine::cmd::Cmd;
use crate::engine::model::{self, Service};
use crate::engine::stack::Stack;
use crate::engine::{Docker, Engine};
use crate::events::{Events, RunEvent};
use crate::exit::Failure;
use crate::labels;
use crate::reaper;
use crate::topology::artifacts::{self, Artifacts, Facts, Whereabouts};
use crate::topology::mounts::{self, Moved, Seen};

/// What preflight learned.
pub struct Plan {
    /// The services `up` starts.
    pub dependencies: Vec<String>,
    /// Every service of the model, with what it depends on.
    pub services: Vec<Service>,
    /// The resolved model, as `compose config` printed it.
    pub model: String,
    pub artifacts: Option<Artifacts>,
    /// Where testbed runs, as far as the daemon is concerned.
    pub facts: Facts,
    /// The bind mounts whose source the daemon finds elsewhere, or not at
    /// all.
    pub moved: Vec<Moved>,
}

/// Finds compose, checks the daemon, lets compose validate and resolve the
/// files, and finds out how artifacts can travel, all at once.
pub fn preflight(config: &Config, events: &dyn Events) -> Result<(Engine, Plan), Failure> {
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
    events.emit(RunEvent::Compose {
        name: &engine.compose_name,
        version: &engine.compose_version,
    });
    let daemon_version = daemon?;
    events.emit(RunEvent::Detail(format!("docker daemon {daemon_version}")));
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
    let binds = mounts::binds(&resolved).map_err(Failure::engine)?;
    let project = config.cwd.join(&config.files[0]);
    let project = project.parent().unwrap_or(&config.cwd);
    let moved = mounts::moved(binds, project, &facts);
    let plan = Plan {
        moved,
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
    let remote_host = docker.remote().map(str::to_string);
    let root = artifacts::running_as_root();
    let whereabouts = if remote_host.is_none() {
        artifacts::detect(docker, config.parent_container.as_deref())
    } else {
        Whereabouts::Host
    };
    Facts {
        remote_host,
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
pub fn create_commands(stack: &Stack, plan: &Plan) -> Vec<Cmd> {
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

/// `compose run` of the test service, under the name the engine is asked
/// for its exit code.
pub fn test_command(stack: &Stack, plan: &Plan, config: &Config) -> Cmd {
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
    // Where the tests stand among all the shards of the suite, so that a
    // runner splits itself, whether or not the compose file names them.
    if let Some(node) = config.node {
        for (name, value) in [("CI_NODE_INDEX", node.index), ("CI_NODE_TOTAL", node.total)] {
            if !config.env.iter().any(|(given, _)| given == name) {
                run = run.args(["-e", name]).env(name, value.to_string());
            }
        }
    }
    run.arg(&config.service)
        .args(config.command.iter().cloned())
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
    steps.push(format!(
        "# {}",
        reaper::plan(stack.engine().client(), &plan.facts)
    ));
    for Moved { bind, seen } in &plan.moved {
        let source = bind.source.display();
        steps.push(match seen {
            Seen::At(at) => format!(
                "# {} mounts {source} from {}, where the daemon finds it (-f <a generated file>)",
                bind.service,
                at.display()
            ),
            _ => format!(
                "# {} mounts {source}, which the daemon cannot see",
                bind.service
            ),
        });
    }
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
    steps
}
