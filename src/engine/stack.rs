//! One compose project on the engine: the commands that act on it, its
//! containers, their logs, and its teardown. Dropping a `Stack` that was not
//! torn down tears it down, so a panic cannot leak it either.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::engine::cmd::{self, Cmd};
use crate::engine::model::{Container, Healthcheck, Service};
use crate::engine::{Docker, Engine};
use crate::images::BuiltImage;
use crate::labels::{Created, OverrideFile, Resource, RunLabels};

use crate::engine::PROJECT_LABEL;

/// How long after the last compose command that was killed (or after the
/// last sweep that found something new) a sweep must find nothing before
/// the engine counts as quiet. A request that reached the daemon is carried
/// out even when its client is gone: a container create that was under way
/// on a busy daemon lands up to about a second later on this project's
/// 2-core machine (docs/cleanup.md, bench/soak.md).
pub const SETTLE: Duration = Duration::from_secs(3);
/// How often the engine is swept while it settles.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How long a teardown keeps sweeping a stack that does not go away, or an
/// engine that fails, before it gives up and says so.
const TEARDOWN_GIVE_UP: Duration = Duration::from_secs(20);

pub struct Stack<'a> {
    engine: &'a Engine,
    project: String,
    files: Vec<PathBuf>,
    /// The resolved model, rewritten, that compose reads instead of
    /// `files`, if there is one.
    model: Option<OverrideFile>,
    /// The profiles every compose command gets.
    profiles: Vec<String>,
    globals: ComposeGlobals,
    /// The override that labels what compose creates, once written.
    labels: Option<OverrideFile>,
    /// The networks and volumes compose creates from the model, once known.
    created: Option<Created>,
    /// Other generated overrides, passed before the labels'.
    overrides: Vec<OverrideFile>,
    /// Volumes testbed created for the stack, outside compose's model.
    volumes: Vec<String>,
    /// The name of the one-off container the tests run in.
    test_container: String,
    /// The healthchecks the model gives, by service.
    healthchecks: BTreeMap<String, Healthcheck>,
    /// Whether something may be running that teardown has not yet removed.
    live: AtomicBool,
}

impl<'a> Stack<'a> {
    pub fn new(
        engine: &'a Engine,
        project: &str,
        files: &[PathBuf],
        test_service: &str,
    ) -> Stack<'a> {
        Stack {
            engine,
            project: project.to_string(),
            test_container: format!("{project}-{test_service}-run"),
            // Absolute, so that the command --keep prints works from anywhere.
            files: files
                .iter()
                .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
                .collect(),
            model: None,
            profiles: Vec::new(),
            globals: ComposeGlobals::default(),
            labels: None,
            created: None,
            overrides: Vec::new(),
            volumes: Vec::new(),
            healthchecks: BTreeMap::new(),
            live: AtomicBool::new(false),
        }
    }

    /// The same stack, its compose commands with `--profile` for each of
    /// `profiles`.
    pub fn with_profiles(mut self, profiles: Vec<String>) -> Stack<'a> {
        self.profiles = profiles;
        self
    }

    /// The same stack, whose containers run the healthchecks `services`
    /// give. They stand over what `docker inspect` shows, which podman 4
    /// gets wrong: it splits each argument of a `CMD` check on its spaces.
    pub fn with_healthchecks(mut self, services: &[Service]) -> Stack<'a> {
        self.healthchecks = services
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.healthcheck.clone()?)))
            .collect();
        self
    }

    /// The same stack, its compose commands with `globals`.
    pub fn with_globals(mut self, globals: &ComposeGlobals) -> Stack<'a> {
        self.globals = globals.clone();
        self
    }

    pub fn profiles(&self) -> &[String] {
        &self.profiles
    }

    /// Puts `labels` on everything compose creates from now on: every
    /// service of `model` (the output of `compose config`), its networks and
    /// named volumes, and gives the services of `built` their image for this
    /// run, through an override file passed last.
    pub fn apply_labels(
        &mut self,
        labels: &RunLabels,
        model: &str,
        built: &[BuiltImage],
    ) -> Result<()> {
        let created = Created::of(model, &self.project)?;
        let yaml = labels.override_yaml(model, &created, built)?;
        self.labels = Some(OverrideFile::write(&yaml)?);
        self.created = Some(created);
        Ok(())
    }

    /// Hands compose `model`, the files' resolved model rewritten, instead
    /// of the files themselves, with their directory as the project's: all
    /// but `down`, which finds the stack by its project name.
    pub fn use_model(&mut self, model: &str) -> Result<()> {
        self.model = Some(OverrideFile::write(model)?);
        Ok(())
    }

    /// Passes `yaml` to compose as one more file after the project's own,
    /// such as the mounts that testbed repoints.
    pub fn add_override(&mut self, yaml: &str) -> Result<()> {
        self.overrides.push(OverrideFile::write(yaml)?);
        Ok(())
    }

    /// Removes volume `name`, which carries the project's label, with the
    /// stack: `compose down -v` knows only the volumes of the model.
    pub fn adopt_volume(&mut self, name: &str) {
        self.volumes.push(name.to_string());
    }

    /// From here on the stack may exist on the engine, and dropping it
    /// without a teardown removes it.
    pub fn begin(&self) {
        self.live.store(true, Ordering::SeqCst);
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    /// The label compose puts on everything of the project.
    pub fn label(&self) -> String {
        format!("{PROJECT_LABEL}={}", self.project)
    }

    pub fn engine(&self) -> &Engine {
        self.engine
    }

    /// `<compose> -p <project> -f <file>… [--profile <name>…] <subcommand>`,
    /// the labels override last among the files.
    pub fn compose(&self, subcommand: &str) -> Cmd {
        let labels = self.labels.as_ref().map(OverrideFile::path);
        let overrides = self.overrides.iter().map(OverrideFile::path);
        // The model's files live in /proc: their directory is the files'.
        let (base, directory) = match &self.model {
            Some(model) => (
                vec![model.path()],
                self.globals
                    .project_directory
                    .clone()
                    .or_else(|| self.files.first()?.parent().map(PathBuf::from)),
            ),
            None => (self.files.clone(), self.globals.project_directory.clone()),
        };
        let files = base.into_iter().chain(overrides).chain(labels);
        self.with_files(directory, files, subcommand)
    }

    fn compose_with(&self, files: impl IntoIterator<Item = PathBuf>, subcommand: &str) -> Cmd {
        self.with_files(self.globals.project_directory.clone(), files, subcommand)
    }

    /// `<compose> -p <project> [--project-directory <dir>] [--env-file
    /// <file>…] -f <file>… [--profile <name>…] <subcommand>`.
    fn with_files(
        &self,
        directory: Option<PathBuf>,
        files: impl IntoIterator<Item = PathBuf>,
        subcommand: &str,
    ) -> Cmd {
        let mut cmd = self.engine.compose().args(["-p", &self.project]);
        if let Some(directory) = directory {
            cmd = cmd.args(["--project-directory", &directory.to_string_lossy()]);
        }
        for file in &self.globals.env_files {
            cmd = cmd.args(["--env-file", &file.to_string_lossy()]);
        }
        for file in files {
            cmd = cmd.arg("-f").arg(file.to_string_lossy());
        }
        for profile in &self.profiles {
            cmd = cmd.args(["--profile", profile]);
        }
        cmd.arg(subcommand)
            .label(format!("{} {subcommand}", self.engine.compose_name))
    }

    /// The name given to the one-off test container, so that its exit code
    /// can be read from the engine rather than from compose, and its files
    /// copied out.
    pub fn test_container(&self) -> &str {
        &self.test_container
    }

    /// Every container of the project, one-off containers (the tests')
    /// included only when asked for.
    pub fn containers(&self, one_offs: bool) -> Result<Vec<Container>> {
        let containers = self
            .engine
            .client()
            .project_containers(&self.project, one_offs)?;
        Ok(self.checked(containers))
    }

    /// The state of the given containers; unknown ones are left out.
    /// `echo: false` keeps a polling loop out of the `-v` output.
    pub fn inspect(&self, ids: &[&str], echo: bool) -> Result<Vec<Container>> {
        Ok(self.checked(self.engine.client().inspect(ids, echo)?))
    }

    /// `containers` with the healthchecks of the model.
    fn checked(&self, mut containers: Vec<Container>) -> Vec<Container> {
        for container in &mut containers {
            if let Some(check) = self.healthchecks.get(&container.service) {
                container.healthcheck = Some(check.clone());
            }
        }
        containers
    }

    /// A container's log, stdout and stderr interleaved as written.
    pub fn container_logs(&self, container: &str, tail: Option<usize>) -> Result<String> {
        let mut cmd = self.engine.docker(["logs"]);
        if let Some(tail) = tail {
            cmd = cmd.args(["--tail", &tail.to_string()]);
        }
        let cmd = cmd.arg(container);
        let output = cmd.output()?;
        cmd.check(&output)
            .with_context(|| format!("cannot read the log of `{container}`"))?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok(text)
    }

    /// Kills the test container, if it runs, and keeps it for its files.
    pub fn kill_test_container(&self) -> Result<()> {
        let cmd = self.engine.docker(["kill", &self.test_container]);
        let output = cmd.output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !(stderr.contains("No such container") || stderr.contains("is not running")) {
            cmd.check(&output)?;
        }
        Ok(())
    }

    /// Removes the test container and its anonymous volumes, if it exists:
    /// `compose down` leaves one-off containers that never started.
    pub fn remove_test_container(&self) -> Result<()> {
        let cmd = self.engine.docker(["rm", "-f", "-v", &self.test_container]);
        let output = cmd.output()?;
        let missing = String::from_utf8_lossy(&output.stderr).contains("No such container");
        if !missing {
            cmd.check(&output)?;
        }
        Ok(())
    }

    /// `compose down` for this stack; `--keep` prints it for later. It names
    /// the user's files only: the labels override is gone by then, and
    /// `down` does not need it.
    pub fn down_command(&self, stop_timeout: Duration) -> Cmd {
        // Compose takes whole seconds: round up, so 500ms is a grace period
        // of 1 s rather than none.
        let seconds = stop_timeout.as_secs() + u64::from(stop_timeout.subsec_nanos() > 0);
        self.compose_with(self.files.iter().cloned(), "down").args([
            "-v",
            "--remove-orphans",
            "-t",
            &seconds.to_string(),
        ])
    }

    /// Removes containers, networks, anonymous volumes and orphans.
    ///
    /// First every child of testbed still running is killed and waited
    /// for: no compose command may create anything once the stack is being
    /// removed. Then, without a grace period, everything labelled with the
    /// project is killed and removed through the engine directly: `compose
    /// down` stops services one dependency level after another, and on a
    /// stack whose services ignore SIGTERM each level costs the full
    /// timeout. With one, `compose down -t N` stops them gracefully; with
    /// `sweep`, or when `down` fails, whatever is still labelled is then
    /// removed as well. If a compose command was killed during the run, the
    /// requests it had sent may still land: the sweep repeats until the
    /// engine is quiet (see [`sweep_until_quiet`]).
    pub fn teardown(&self, stop_timeout: Duration, sweep: bool) -> Result<()> {
        self.live.store(false, Ordering::SeqCst);
        let unsettled = cmd::stop_children();
        if stop_timeout.is_zero() {
            return self.sweep(unsettled);
        }
        // `down -v` removes the named volumes: not before what a killed
        // compose command asked for has landed (see `sweep_until_quiet`).
        if let Some(since) = unsettled {
            std::thread::sleep((since + SETTLE).saturating_duration_since(Instant::now()));
        }
        // First, or `down` could not remove the network the tests are on.
        let test = self.remove_test_container();
        let down = self.down_command(stop_timeout).read().map(drop);
        let volumes = match self.volumes.as_slice() {
            [] => Ok(()),
            volumes => self
                .engine
                .docker(["volume", "rm", "-f"])
                .args(volumes.iter().cloned())
                .read()
                .map(drop),
        };
        let down = test.and(down).and(volumes);
        if down.is_ok() && !sweep && unsettled.is_none() {
            return down;
        }
        let swept = self.sweep(unsettled);
        down.and(swept)
    }

    /// Leaves the stack running, all but the finished test container.
    pub fn keep(&self) -> Result<()> {
        self.live.store(false, Ordering::SeqCst);
        self.remove_test_container()
    }

    /// Kills and removes whatever carries the project's label; until the
    /// engine is quiet when something may still land since `unsettled`.
    fn sweep(&self, unsettled: Option<Instant>) -> Result<()> {
        let docker = self.engine.client();
        if let Some(since) = unsettled {
            let deadline = Instant::now() + TEARDOWN_GIVE_UP;
            let what = Swept::Project(&self.project);
            return sweep_until_quiet(docker, &what, since, deadline, &mut |_| {}).map(drop);
        }
        // Nothing can land any more: only compose created networks and
        // volumes, from the model, under names the stack knows, so only
        // the containers need looking for. Should that fail, such as on
        // a network that something else still uses, the full sweep says
        // what is left.
        if let Some(created) = &self.created {
            if self.remove_created(created).is_ok() {
                return Ok(());
            }
        }
        sweep(docker, &self.project).map(drop)
    }

    /// Removes the project's containers, then the networks and volumes of
    /// `created` and those testbed adopted; those never created are no
    /// failure.
    fn remove_created(&self, created: &Created) -> Result<()> {
        let docker = self.engine.client();
        let containers = Leftovers::labelled_containers(docker, &self.label())?;
        let names = |resources: &[Resource]| -> Vec<String> {
            resources.iter().map(|r| r.name.clone()).collect()
        };
        let mut volumes = names(&created.volumes);
        volumes.extend(self.volumes.iter().cloned());
        Leftovers {
            containers,
            networks: names(&created.networks),
            volumes,
        }
        .remove(docker, Missing::Allowed)
    }
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        if self.live.load(Ordering::SeqCst) {
            let _ = self.teardown(Duration::ZERO, true);
        }
    }
}

/// What every compose command of a stack gets besides its files and
/// profiles: compose's own global options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeGlobals {
    /// `--project-directory`: where relative paths and `.env` are read.
    pub project_directory: Option<PathBuf>,
    /// `--env-file`, each.
    pub env_files: Vec<PathBuf>,
}

/// Containers, networks and volumes of one project on the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

impl Leftovers {
    /// What belongs to compose project `project`: the containers that
    /// carry its label, and the networks and volumes that carry it or are
    /// named after it. Compose names those `<project>_<name>`, and a volume
    /// that the daemon re-creates for a container landing after it was
    /// removed has no labels at all (docs/cleanup.md). One listing of each,
    /// unfiltered, so that this costs no more calls than the label alone.
    pub fn of_project(docker: &Docker, project: &str) -> Result<Leftovers> {
        let format = format!("{{{{.Name}}}}\t{{{{.Label \"{PROJECT_LABEL}\"}}}}");
        let list = |what: &str| -> Result<Vec<String>> {
            let rows = docker.cmd([what, "ls", "--format", &format]).read()?;
            Ok(rows
                .lines()
                .filter_map(|row| {
                    let (name, label) = row.split_once('\t').unwrap_or((row, ""));
                    belongs(project, name, label).then(|| name.to_string())
                })
                .collect())
        };
        let (containers, networks, volumes) = std::thread::scope(|scope| {
            let networks = scope.spawn(|| list("network"));
            let volumes = scope.spawn(|| list("volume"));
            let label = format!("{PROJECT_LABEL}={project}");
            let containers = Leftovers::labelled_containers(docker, &label);
            (
                containers,
                networks.join().expect("listing networks panicked"),
                volumes.join().expect("listing volumes panicked"),
            )
        });
        Ok(Leftovers {
            containers: containers?,
            networks: networks?,
            volumes: volumes?,
        })
    }

    /// The containers that carry `label`, running or not.
    fn labelled_containers(docker: &Docker, label: &str) -> Result<Vec<String>> {
        let ids = docker
            .cmd(["ps", "-aq", "--filter", &format!("label={label}")])
            .read()?;
        Ok(ids.split_whitespace().map(str::to_string).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }

    /// Takes in what `found` has that this has not; says whether there was
    /// any.
    pub fn add(&mut self, found: Leftovers) -> bool {
        let mut new = false;
        for (mine, theirs) in [
            (&mut self.containers, found.containers),
            (&mut self.networks, found.networks),
            (&mut self.volumes, found.volumes),
        ] {
            for id in theirs {
                if !mine.contains(&id) {
                    mine.push(id);
                    new = true;
                }
            }
        }
        new
    }

    /// Kills and removes the containers with their anonymous volumes, then
    /// removes the networks and volumes at once; with `Missing::Allowed`,
    /// one that does not exist is no failure.
    pub fn remove(&self, docker: &Docker, missing: Missing) -> Result<()> {
        let remove = |what: &[&str], ids: &[String]| -> Result<()> {
            if ids.is_empty() {
                return Ok(());
            }
            let cmd = docker.cmd(what.iter().copied()).args(ids.iter().cloned());
            let output = cmd.output()?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            let only_missing = stderr.lines().all(|line| {
                line.trim().is_empty() || line.contains("No such") || line.contains("not found")
            });
            if missing == Missing::Allowed && only_missing {
                return Ok(());
            }
            cmd.check(&output)
        };
        // Containers first: a network or volume in use cannot be removed.
        remove(&["rm", "-f", "-v"], &self.containers)?;
        std::thread::scope(|scope| {
            let networks = scope.spawn(|| remove(&["network", "rm"], &self.networks));
            let volumes = remove(&["volume", "rm", "-f"], &self.volumes);
            networks
                .join()
                .expect("removing networks panicked")
                .and(volumes)
        })
    }
}

/// Whether removing what does not exist is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Failure,
    Allowed,
}

/// "2 containers, 1 network and 0 volumes".
impl Leftovers {
    /// Each of them by kind and name: `network tb-x_default, volume
    /// tb-x_data`; containers by their short id.
    pub fn names(&self) -> String {
        let containers = self
            .containers
            .iter()
            .map(|id| format!("container {}", &id[..id.len().min(12)]));
        let networks = self.networks.iter().map(|n| format!("network {n}"));
        let volumes = self.volumes.iter().map(|v| format!("volume {v}"));
        let all: Vec<String> = containers.chain(networks).chain(volumes).collect();
        all.join(", ")
    }
}

impl fmt::Display for Leftovers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |n: usize, what: &str| match n {
            1 => format!("1 {what}"),
            n => format!("{n} {what}s"),
        };
        write!(
            f,
            "{}, {} and {}",
            count(self.containers.len(), "container"),
            count(self.networks.len(), "network"),
            count(self.volumes.len(), "volume")
        )
    }
}

/// Kills and removes the project's containers, then its networks and
/// volumes, found by compose's label or their names, and returns what it
/// found.
pub fn sweep(docker: &Docker, project: &str) -> Result<Leftovers> {
    let leftovers = Leftovers::of_project(docker, project)?;
    leftovers
        .remove(docker, Missing::Failure)
        .with_context(|| format!("cannot remove what is left of {project}"))?;
    Ok(leftovers)
}

/// Whether a network or volume `name`, whose compose project label is
/// `label` (empty when it has none), belongs to `project`: by its label,
/// or without one, by its name.
pub fn belongs(project: &str, name: &str, label: &str) -> bool {
    match label {
        "" => name
            .strip_prefix(project)
            .is_some_and(|rest| rest.starts_with('_')),
        label => label == project,
    }
}

/// What a sweep removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swept<'a> {
    /// Everything that carries the project's label.
    Project(&'a str),
    /// The one container of that name: the test container of `testbed
    /// test`, on a stack that stays.
    Container(&'a str),
}

impl Swept<'_> {
    /// Finds what is left, and removes it: only the containers while the
    /// engine settles (`all: false`). Returns what it found, all of it.
    fn sweep(&self, docker: &Docker, all: bool) -> Result<Leftovers> {
        let found = match *self {
            Swept::Project(project) => Leftovers::of_project(docker, project)?,
            Swept::Container(name) => {
                let found = docker
                    .cmd(["ps", "-aq", "--filter", &format!("name=^{name}$")])
                    .read()?;
                Leftovers {
                    containers: found.split_whitespace().map(str::to_string).collect(),
                    ..Leftovers::default()
                }
            }
        };
        let removing = if all {
            found.clone()
        } else {
            Leftovers {
                containers: found.containers.clone(),
                ..Leftovers::default()
            }
        };
        removing
            .remove(docker, Missing::Failure)
            .with_context(|| format!("cannot remove what is left of {}", self.name()))?;
        Ok(found)
    }

    fn name(&self) -> &str {
        match *self {
            Swept::Project(name) | Swept::Container(name) => name,
        }
    }
}

/// Sweeps once a second until the engine is quiet: until a sweep finds
/// nothing that starts at least [`SETTLE`] after `since`, the moment the
/// last client that could have created something was gone, and
/// [`SETTLE`] after the last sweep that found something new (the first
/// sweep finds what the run left, which says nothing of the daemon's lag).
/// A compose command's requests already on their way to the daemon are
/// carried out after the command is killed, so a single sweep may come too
/// early. Until then only containers are removed: a container that lands
/// after its named volume was removed gets that volume anew from the
/// daemon, without labels, where no sweep finds it. A failed sweep (a
/// container that landed during it keeps its volume in use) is retried,
/// each failure shown to `retrying`, until `deadline`. Returns everything
/// removed.
pub fn sweep_until_quiet(
    docker: &Docker,
    what: &Swept,
    since: Instant,
    deadline: Instant,
    retrying: &mut dyn FnMut(&anyhow::Error),
) -> Result<Leftovers> {
    let began = Instant::now();
    let mut quiet_from = since + SETTLE;
    // Everything found so far, removed or not yet.
    let mut seen = Leftovers::default();
    // What the latest sweep found, named in the error if it stays.
    let mut last = Leftovers::default();
    let mut sweeps = 0;
    loop {
        let started = Instant::now();
        let settled = started >= quiet_from;
        let swept = what.sweep(docker, settled);
        let past = Instant::now() >= deadline;
        match swept {
            Ok(found) if found.is_empty() && (settled || past) => return Ok(seen),
            Ok(found) => {
                last = found.clone();
                let new = seen.add(found);
                // What landed after the first look says the daemon is
                // still at work.
                if new && sweeps > 0 {
                    quiet_from = quiet_from.max(started + SETTLE);
                }
            }
            Err(error) if past => return Err(error),
            Err(error) => {
                quiet_from = quiet_from.max(started + SETTLE);
                retrying(&error);
            }
        }
        sweeps += 1;
        if past {
            return Err(anyhow!(
                "more of {} kept appearing for {:.0?} of sweeping; still there: {}",
                what.name(),
                began.elapsed(),
                last.names()
            ));
        }
        let now = Instant::now();
        std::thread::sleep(SWEEP_EVERY.min(quiet_from.saturating_duration_since(now)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_volumes_belong_by_label_or_by_name() {
        let project = "tb-job-1-4242-ab12cd";
        assert!(belongs(project, "anything", project));
        assert!(belongs(project, "tb-job-1-4242-ab12cd_pgdata", ""));
        assert!(!belongs(project, "tb-job-1-4242-ab12cd_default", "other"));
        assert!(!belongs(project, "tb-job-1-4242-ab12cdx_pgdata", ""));
        assert!(!belongs(project, "tb-job-1-4242-ab12cd", ""));
        assert!(!belongs(project, "pgdata", ""));
        assert!(!belongs(project, "x_tb-job-1-4242-ab12cd_pgdata", ""));
    }

    #[test]
    fn leftovers_are_named_by_kind() {
        let left = Leftovers {
            containers: vec!["0123456789abcdef".into()],
            networks: vec!["tb-x_default".into()],
            volumes: vec!["tb-x_data".into()],
        };
        assert_eq!(
            left.names(),
            "container 0123456789ab, network tb-x_default, volume tb-x_data"
        );
    }

    #[test]
    fn leftovers_are_counted_in_words() {
        let left = Leftovers {
            containers: vec!["a".into(), "b".into()],
            networks: vec!["n".into()],
            volumes: vec![],
        };
        assert_eq!(left.to_string(), "2 containers, 1 network and 0 volumes");
    }

    #[test]
    fn only_what_was_not_seen_before_is_new() {
        let found = |containers: &[&str], volumes: &[&str]| Leftovers {
            containers: containers.iter().map(|c| c.to_string()).collect(),
            networks: vec![],
            volumes: volumes.iter().map(|v| v.to_string()).collect(),
        };
        let mut seen = Leftovers::default();
        assert!(seen.add(found(&["a", "b"], &["data"])));
        // The volume waits for the engine to settle: found again, not new.
        assert!(!seen.add(found(&[], &["data"])));
        assert!(seen.add(found(&["c"], &["data"])));
        assert_eq!(seen, found(&["a", "b", "c"], &["data"]));
    }
}
