//! What a run will do, learned once before anything starts: compose's
//! resolved model of the files, the profiles in force, the dependencies to
//! start and where their images come from, where testbed runs and how
//! artifacts travel. `commands` builds the commands that follow from it.

use std::path::Path;

use anyhow::anyhow;

use crate::config::{Config, describe_files};
use crate::engine::model::{self, Service};
use crate::engine::stack::Stack;
use crate::engine::{Daemon, Docker, Engine};
use crate::events::{ComposeUsed, Events, RunEvent};
use crate::exit::Failure;
use crate::images::BuiltImage;
use crate::rewrite::{self, Rewrites, Rewritten};
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
    /// The engine behind the socket.
    pub daemon: Daemon,
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
    let docker = Docker::find(events.observer())?;
    // The JSON report names compose's version; nothing else needs it.
    let wants_version = config.report.is_some() || config.timeline.is_some();
    let (detected, daemon, facts) = std::thread::scope(|scope| {
        let daemon = scope.spawn(|| docker.ping());
        let facts = scope.spawn(|| facts(&docker, config));
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
    let daemon = daemon?;
    events.emit(RunEvent::Daemon(&daemon));
    let major = daemon.major();
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
        events.emit(RunEvent::Rewritten(change));
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
        events.emit(RunEvent::ProfilesInForce(describe_profiles(
            &in_force, &services,
        )));
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
        events.emit(RunEvent::Services {
            services: &dependencies,
            chosen: chosen.describe(&config.service),
        });
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
        events.emit(RunEvent::TestsAttached(describe_attached(
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
            events.emit(RunEvent::OutsideMount {
                service: &bind.service,
                source: &bind.source,
            });
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
        daemon,
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
pub(super) fn describe_attached(tests: &str, attached: &[String]) -> String {
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
pub(super) fn describe_profiles(in_force: &InForce, services: &[Service]) -> String {
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
