//! One resolved configuration for a run: flags, then `TESTBED_*` variables
//! (both through clap), then the compose file's `x-testbed:` block, then
//! defaults; and the policy of the command, so that nothing downstream asks
//! which command it was.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde::Deserialize;
use serde_norway::{Mapping, Value};

use crate::engine::stack::ComposeGlobals;
use crate::exit::{Exit, Failure, OrFail};
use crate::images;
use crate::labels;
use crate::project::{self, NameSource};
use crate::topology::artifacts::ArtifactsMode;

mod policy;

pub use policy::*;

pub const DEFAULT_SERVICE: &str = "tests";
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::ZERO;

/// The files compose looks for when none is named, in its order, each with
/// the override file compose would merge on top of it.
const DEFAULT_FILES: [(&str, [&str; 2]); 4] = [
    (
        "compose.yaml",
        ["compose.override.yaml", "compose.override.yml"],
    ),
    (
        "compose.yml",
        ["compose.override.yaml", "compose.override.yml"],
    ),
    (
        "docker-compose.yaml",
        [
            "docker-compose.override.yaml",
            "docker-compose.override.yml",
        ],
    ),
    (
        "docker-compose.yml",
        [
            "docker-compose.override.yaml",
            "docker-compose.override.yml",
        ],
    ),
];

/// Everything a run needs to know, resolved once.
#[derive(Debug, Clone)]
pub struct Config {
    pub policy: Policy,
    /// How many isolated stacks run the tests side by side (`--shards`).
    pub shards: u32,
    /// This run's place among all the shards of the suite, across GitLab
    /// jobs; the tests get it as `CI_NODE_INDEX` and `CI_NODE_TOTAL`.
    pub node: Option<Node>,
    /// The CI the run is in.
    pub ci: crate::ci::Ci,
    /// The CI's own variables of its split that are set, such as
    /// `BUILDKITE_PARALLEL_JOB`: the tests get them as they are.
    pub split_variables: Vec<String>,
    /// Write the tests' output in one piece when they end, rather than as
    /// it comes: shards that run at once must not interleave.
    pub hold_output: bool,
    /// Where testbed was started: the directory the stack is recorded in.
    pub cwd: PathBuf,
    pub files: Vec<PathBuf>,
    pub project: String,
    pub service: String,
    pub services: Option<Vec<String>>,
    pub wait_timeout: Duration,
    pub stop_timeout: Duration,
    /// How long after it starts `gc` may remove the stack.
    pub ttl: Duration,
    pub logs: LogPolicy,
    /// The artifacts directory, absolute.
    pub artifacts: Option<PathBuf>,
    pub artifacts_mode: ArtifactsMode,
    pub parent_container: Option<String>,
    /// Variables for the test container: a value given on our command line,
    /// or `None` to take it from our environment.
    pub env: Vec<(String, Option<String>)>,
    pub command: Vec<String>,
    /// The profiles the run was given, besides those it enables itself.
    pub profiles: Vec<String>,
    pub profiles_from: ProfilesFrom,
    pub build: Build,
    pub pull: bool,
    /// The images testbed builds are named `<image_prefix>-<service>`.
    pub image_prefix: String,
    pub tty: bool,
    pub dry_run: bool,
    pub verbose: bool,
    pub compose: Option<String>,
    pub junit: Option<PathBuf>,
    /// A glob under the artifacts directory.
    pub junit_from: Option<String>,
    pub report: Option<PathBuf>,
    /// `--timeline`: the web page of the startup.
    pub timeline: Option<PathBuf>,
    /// `--summary`: the Markdown summary.
    pub summary: Option<PathBuf>,
    /// What of the files' fixed names and host ports the run makes its own.
    pub isolation: Isolation,
    /// What every compose command gets besides the files and profiles.
    pub compose_options: ComposeGlobals,
    /// The setup steps, in order.
    pub before: Vec<SetupStep>,
}

/// A setup step (`--before "SERVICE [COMMAND...]"`): a one-off of a
/// service, after the stack is ready and before the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupStep {
    pub service: String,
    /// Empty for the service's own command.
    pub command: Vec<String>,
}

impl SetupStep {
    /// `SERVICE [COMMAND...]`, split as a shell would.
    pub fn parse(spec: &str) -> Result<SetupStep, Failure> {
        let words = shell_words::split(spec)
            .map_err(|e| Failure::usage(anyhow!("--before {spec:?}: {e}")))?;
        let Some((service, command)) = words.split_first() else {
            return Err(Failure::usage(anyhow!(
                "--before needs a service: --before \"SERVICE [COMMAND...]\""
            ))
            .with_hint("e.g. --before \"api ./manage.py migrate\""));
        };
        Ok(SetupStep {
            service: service.clone(),
            command: command.to_vec(),
        })
    }
}

impl std::fmt::Display for SetupStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<&str> = std::iter::once(self.service.as_str())
            .chain(self.command.iter().map(String::as_str))
            .collect();
        f.write_str(&shell_words::join(words))
    }
}

/// Which fixed names and host ports of the files a run replaces with its
/// own, so that runs at once do not collide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Isolation {
    pub names: bool,
    pub ports: bool,
}

/// The `x-testbed:` block: the stack carries its own settings.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct XTestbed {
    pub service: Option<String>,
    pub services: Option<Vec<String>>,
    #[serde(default, deserialize_with = "duration")]
    pub wait_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub stop_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub ttl: Option<Duration>,
    pub logs: Option<LogPolicy>,
    pub artifacts: Option<PathBuf>,
    pub artifacts_mode: Option<ArtifactsMode>,
    pub shards: Option<u32>,
    pub profiles: Option<Vec<String>>,
    pub image_prefix: Option<String>,
    pub keep_names: Option<bool>,
    pub keep_ports: Option<bool>,
    pub isolate: Option<bool>,
    pub before: Option<Vec<String>>,
}

fn duration<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(de).map_err(|_| {
        serde::de::Error::custom("expected a duration such as 90s, 2m or a number of seconds")
    })? {
        Raw::Seconds(seconds) => Ok(Some(Duration::from_secs(seconds))),
        Raw::Text(text) => parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Resolves the configuration of a command that runs under `policy` in
/// `cwd`, with `var` reading the environment.
pub fn resolve(
    policy: Policy,
    args: &RunArgs,
    cwd: &Path,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Config, Failure> {
    let project_directory = args.project_directory.as_ref().map(|d| plain(&cwd.join(d)));
    let files = stack_files(&args.files, project_directory.as_deref(), cwd, &var)?;
    let x = read_x_testbed(&files, cwd)?;
    let project = match &args.project_name {
        Some(name) => {
            project::validate(name).or_fail(Exit::Usage)?;
            name.clone()
        }
        None => {
            let job_id = args.ci.job(&var);
            let node_index = args
                .shard
                .or_else(|| args.ci.node(&var))
                .map(|node| node.index.to_string());
            let dir = cwd.file_name().map(|d| d.to_string_lossy().into_owned());
            let random = project::random_part();
            project::generate(&NameSource {
                job_id: job_id.as_deref(),
                node_index: node_index.as_deref(),
                dir: dir.as_deref().unwrap_or(""),
                pid: std::process::id(),
                random: &random,
            })
        }
    };
    let env = args
        .env
        .iter()
        .map(|spec| parse_env(spec))
        .collect::<Result<_, _>>()
        .or_fail(Exit::Usage)?;
    // On the command line a path is relative to where testbed runs; in
    // x-testbed, to the first compose file, like compose's own paths.
    let artifacts = match (&args.artifacts, &x.artifacts) {
        (Some(dir), _) => Some(cwd.join(dir)),
        (None, Some(dir)) => Some(
            project_directory
                .clone()
                .unwrap_or_else(|| project_dir(&files, cwd))
                .join(dir),
        ),
        (None, None) => None,
    }
    .map(|dir| artifacts_dir(&dir))
    .transpose()?;
    let (profiles, profiles_from) = if !args.profiles.is_empty() {
        (args.profiles.clone(), ProfilesFrom::Flag)
    } else if let Some(profiles) = x.profiles {
        (profiles, ProfilesFrom::XTestbed)
    } else {
        let listed = var("COMPOSE_PROFILES").unwrap_or_default();
        (split_profiles(&listed), ProfilesFrom::ComposeProfiles)
    };
    let image_prefix = match args.image_prefix.clone().or(x.image_prefix) {
        Some(prefix) => {
            images::validate_prefix(&prefix).or_fail(Exit::Usage)?;
            prefix
        }
        None => {
            let dir = project_directory
                .clone()
                .unwrap_or_else(|| project_dir(&files, cwd));
            let name = dir.file_name().map(|d| d.to_string_lossy().into_owned());
            images::default_prefix(name.as_deref().unwrap_or_default())
        }
    };
    let build = if args.no_build {
        Build::Never
    } else if args.build || args.pull {
        Build::Always
    } else {
        Build::Missing
    };
    if args.junit_from.is_some() && artifacts.is_none() {
        return Err(Failure::usage(anyhow!(
            "--junit-from looks for the tests' JUnit files in the artifacts directory, and there is none"
        ))
        .with_hint("add --artifacts DIR, the directory the tests write their reports to"));
    }
    let shards = args.shards.or(x.shards).unwrap_or(1);
    if shards == 0 {
        return Err(Failure::usage(anyhow!(
            "x-testbed: shards must be 1 or more"
        )));
    }
    if shards > 1 && policy.may_keep() {
        return Err(Failure::usage(anyhow!(
            "--keep cannot keep {shards} shards' stacks: it keeps one stack for `testbed test`"
        ))
        .with_hint("drop --shards to keep the stack, or --keep to shard the tests"));
    }
    if shards > 1 && args.tty {
        return Err(Failure::usage(anyhow!(
            "--tty gives one terminal to one test container, not to {shards} shards"
        )));
    }
    let node = args.shard.or_else(|| args.ci.node(&var));
    let before = if args.before.is_empty() {
        x.before.clone().unwrap_or_default()
    } else {
        args.before.clone()
    };
    let before = before
        .iter()
        .map(|spec| SetupStep::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let isolate = policy.isolate || args.isolate || x.isolate == Some(true);
    let isolation = Isolation {
        names: isolate && !(args.keep_names || x.keep_names == Some(true)),
        ports: isolate && !(args.keep_ports || x.keep_ports == Some(true)),
    };
    Ok(Config {
        policy,
        shards,
        node,
        ci: args.ci,
        split_variables: args
            .ci
            .split_variables()
            .into_iter()
            .flat_map(|(index, total)| [index, total])
            .filter(|name| !name.starts_with("CI_NODE_") && var(name).is_some())
            .map(String::from)
            .collect(),
        hold_output: false,
        cwd: cwd.to_path_buf(),
        files,
        project,
        service: args
            .service
            .clone()
            .or(x.service)
            .unwrap_or_else(|| DEFAULT_SERVICE.into()),
        services: args.services.clone().or(x.services),
        wait_timeout: args
            .wait_timeout
            .or(x.wait_timeout)
            .unwrap_or(DEFAULT_WAIT_TIMEOUT),
        stop_timeout: args
            .stop_timeout
            .or(x.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT),
        ttl: args.ttl.or(x.ttl).unwrap_or(labels::DEFAULT_TTL),
        logs: args.logs.or(x.logs).unwrap_or(LogPolicy::OnFailure),
        artifacts,
        artifacts_mode: args
            .artifacts_mode
            .or(x.artifacts_mode)
            .unwrap_or(ArtifactsMode::Auto),
        parent_container: args.parent_container.clone(),
        env,
        command: args.command.clone(),
        profiles,
        profiles_from,
        build,
        pull: args.pull,
        image_prefix,
        tty: args.tty,
        dry_run: args.dry_run,
        verbose: args.verbose,
        compose: args.compose.clone(),
        junit: args.junit.as_ref().map(|p| cwd.join(p)),
        junit_from: args.junit_from.clone(),
        report: args.report.as_ref().map(|p| cwd.join(p)),
        timeline: args.timeline.as_ref().map(|p| cwd.join(p)),
        summary: args.summary.as_ref().map(|p| cwd.join(p)),
        isolation,
        compose_options: ComposeGlobals {
            project_directory,
            env_files: args.env_files.iter().map(|f| cwd.join(f)).collect(),
        },
        // `test` runs the tests against a stack whose setup is done.
        before: if policy.reuse { Vec::new() } else { before },
    })
}

/// The directory of the first compose file, which compose calls the
/// project directory; absolute and plain, so that it has a name.
fn project_dir(files: &[PathBuf], cwd: &Path) -> PathBuf {
    let dir = files
        .first()
        .and_then(|file| cwd.join(file).parent().map(Path::to_path_buf))
        .unwrap_or_else(|| cwd.to_path_buf());
    plain(&dir)
}

/// `path` without `.` or `..`.
fn plain(path: &Path) -> PathBuf {
    let mut plain = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                plain.pop();
            }
            Component::CurDir => {}
            other => plain.push(other),
        }
    }
    plain
}

/// `COMPOSE_PROFILES`: names separated by commas, as compose splits it.
fn split_profiles(listed: &str) -> Vec<String> {
    listed
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The artifacts directory made absolute and plain (no `.` or `..`), as it
/// is also the path the tests see. Docker's `-v` splits on `:`, so a path
/// with one cannot be mounted.
fn artifacts_dir(dir: &Path) -> Result<PathBuf, Failure> {
    let plain = plain(dir);
    if plain.parent().is_none() {
        return Err(Failure::usage(anyhow!(
            "the artifacts directory cannot be `/`"
        )));
    }
    if plain.to_string_lossy().contains([':', ',']) {
        return Err(Failure::usage(anyhow!(
            "the artifacts directory `{}` contains `:` or `,`, which docker cannot mount",
            plain.display()
        )));
    }
    Ok(plain)
}

/// The compose files of a stack: [`compose_files`], where those found by
/// default are the project directory's when one is given; named ones are
/// relative to where testbed runs, as compose takes them.
pub fn stack_files(
    given: &[PathBuf],
    project_directory: Option<&Path>,
    cwd: &Path,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Vec<PathBuf>, Failure> {
    match project_directory {
        Some(dir) if given.is_empty() && var("COMPOSE_FILE").is_none() => {
            let dir = cwd.join(dir);
            Ok(compose_files(&[], &dir, var)?
                .into_iter()
                .map(|f| dir.join(f))
                .collect())
        }
        _ => compose_files(given, cwd, var),
    }
}

/// The compose files of the run: `-f`, else `COMPOSE_FILE`, else the file
/// compose would find here (with its override file).
pub fn compose_files(
    given: &[PathBuf],
    cwd: &Path,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Vec<PathBuf>, Failure> {
    let named: Vec<PathBuf> = if !given.is_empty() {
        given.to_vec()
    } else if let Some(list) = var("COMPOSE_FILE").filter(|l| !l.is_empty()) {
        let separator = var("COMPOSE_PATH_SEPARATOR").unwrap_or_else(|| ":".into());
        list.split(separator.as_str()).map(PathBuf::from).collect()
    } else {
        let Some((main, overrides)) = DEFAULT_FILES
            .iter()
            .find(|(main, _)| cwd.join(main).is_file())
        else {
            return Err(Failure::usage(anyhow!(
                "no compose file in {} (looked for compose.yaml, compose.yml, docker-compose.yaml and docker-compose.yml)",
                cwd.display()
            ))
            .with_hint("name one with -f, e.g. `testbed run -f ci/compose.test.yml`"));
        };
        let mut files = vec![PathBuf::from(main)];
        files.extend(
            overrides
                .iter()
                .find(|o| cwd.join(o).is_file())
                .map(PathBuf::from),
        );
        return Ok(files);
    };
    for file in &named {
        if !cwd.join(file).is_file() {
            return Err(Failure::usage(anyhow!(
                "compose file `{}` not found",
                file.display()
            )));
        }
    }
    Ok(named)
}

/// Reads `x-testbed:` from the files themselves, merged key by key in `-f`
/// order: compose v1's `config` drops `x-` keys. Also refuses files that
/// define no service at all, which v1 would report as a service named
/// `services`.
fn read_x_testbed(files: &[PathBuf], cwd: &Path) -> Result<XTestbed, Failure> {
    let mut merged = Mapping::new();
    let mut origin = None;
    let mut defines_services = false;
    for file in files {
        let text = std::fs::read_to_string(cwd.join(file))
            .with_context(|| format!("cannot read compose file `{}`", file.display()))
            .or_fail(Exit::Engine)?;
        let document: Value = serde_norway::from_str(&text)
            .map_err(|e| anyhow!(e))
            .context(format!(
                "compose file `{}` is not valid YAML",
                file.display()
            ))
            .or_fail(Exit::Engine)?;
        defines_services |= document.get("include").is_some()
            || matches!(document.get("services"), Some(Value::Mapping(s)) if !s.is_empty());
        if let Some(Value::Mapping(block)) = document.get("x-testbed") {
            merged.extend(block.clone());
            origin = Some(file);
        } else if let Some(other) = document.get("x-testbed").filter(|v| !v.is_null()) {
            return Err(Failure::engine(anyhow!(
                "`x-testbed` in `{}` must be a mapping, not {}",
                file.display(),
                describe(other)
            )));
        }
    }
    if !defines_services {
        return Err(Failure::engine(anyhow!(
            "no services are defined in {}",
            describe_files(files)
        )));
    }
    let Some(origin) = origin else {
        return Ok(XTestbed::default());
    };
    serde_path_to_error::deserialize(Value::Mapping(merged)).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { String::new() } else { format!(".{path}") };
        Failure::engine(anyhow!("x-testbed{key}: {}", e.inner()))
            .with_hint(format!(
                "fix the `x-testbed` block in `{}`; its keys are service, services, wait-timeout, stop-timeout, ttl, logs, artifacts, artifacts-mode, shards, profiles, image-prefix, keep-names, keep-ports, isolate and before",
                origin.display()
            ))
    })
}

/// `` `a.yml`, `b.yml` `` for messages.
pub fn describe_files(files: &[PathBuf]) -> String {
    let names: Vec<String> = files.iter().map(|f| format!("`{}`", f.display())).collect();
    names.join(", ")
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Sequence(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        _ => "that",
    }
}

/// `NAME` or `NAME=VALUE`, as given to `-e`.
fn parse_env(spec: &str) -> anyhow::Result<(String, Option<String>)> {
    let (name, value) = match spec.split_once('=') {
        Some((name, value)) => (name, Some(value.to_string())),
        None => (spec, None),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(anyhow!(
            "-e `{}`: expected NAME or NAME=VALUE with a variable name",
            crate::redact::mask_assignment(spec)
        ));
    }
    if value.is_some() && configures_compose(name) {
        return Err(anyhow!(
            "-e {name}=…: the value would travel in the environment of `compose run` and reconfigure compose itself; set it under the test service's `environment:` instead"
        ));
    }
    Ok((name.to_string(), value))
}

/// Variables that `-e NAME=VALUE` cannot set, because values travel in the
/// environment of `compose run`, where these change compose's own behaviour.
fn configures_compose(name: &str) -> bool {
    name.starts_with("DOCKER_")
        || name.starts_with("COMPOSE_")
        || ["PATH", "HOME", "TESTBED_PROJECT"].contains(&name)
}

/// `90`, `90s`, `1m30s`, `500ms`. A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text)
        .map_err(|_| "expected a duration such as 90s, 2m or 500ms".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const RUN: Policy = Policy::run(false);

    fn args(argv: &[&str]) -> RunArgs {
        let mut full = vec!["testbed", "run"];
        full.extend(argv);
        match crate::cli::Cli::try_parse_from(full).unwrap().command {
            crate::cli::Command::Run(command) => command.flatten().1,
            other => panic!("not run: {other:?}"),
        }
    }

    fn stack(dir: &Path, name: &str, x_testbed: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("services:\n  tests:\n    image: x\n{x_testbed}"),
        )
        .unwrap();
        path
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_apply_without_flags_or_block() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "compose.yml", "");
        let config = resolve(RUN, &args(&[]), dir.path(), no_env).unwrap();
        assert_eq!(config.files, [PathBuf::from("compose.yml")]);
        assert_eq!(config.service, "tests");
        assert_eq!(config.wait_timeout, DEFAULT_WAIT_TIMEOUT);
        assert_eq!(config.stop_timeout, DEFAULT_STOP_TIMEOUT);
        assert_eq!(config.ttl, labels::DEFAULT_TTL);
        assert_eq!(config.logs, LogPolicy::OnFailure);
        project::validate(&config.project).unwrap();
    }

    #[test]
    fn flags_beat_the_block_and_the_block_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = stack(
            dir.path(),
            "compose.yml",
            "x-testbed:\n  service: api-tests\n  wait-timeout: 30s\n  ttl: 1d\n  logs: always\n",
        );
        let file = file.to_str().unwrap();
        let config = resolve(RUN, &args(&["-f", file]), dir.path(), no_env).unwrap();
        assert_eq!(config.service, "api-tests");
        assert_eq!(config.wait_timeout, Duration::from_secs(30));
        assert_eq!(config.ttl, Duration::from_secs(86400));
        assert_eq!(config.logs, LogPolicy::Always);
        let config = resolve(
            RUN,
            &args(&[
                "-f",
                file,
                "--service",
                "other",
                "--wait-timeout",
                "5",
                "--ttl",
                "30m",
            ]),
            dir.path(),
            no_env,
        )
        .unwrap();
        assert_eq!(config.service, "other");
        assert_eq!(config.wait_timeout, Duration::from_secs(5));
        assert_eq!(config.ttl, Duration::from_secs(1800));
        assert_eq!(config.logs, LogPolicy::Always);
    }

    #[test]
    fn setup_steps_come_from_the_block_unless_given_and_test_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let file = stack(
            dir.path(),
            "compose.yml",
            "x-testbed:\n  before:\n    - backend sh scripts/prestart.sh\n    - \"server sh -c 'a && b'\"\n",
        );
        let file = file.to_str().unwrap();
        let config = resolve(RUN, &args(&["-f", file]), dir.path(), no_env).unwrap();
        let shown: Vec<String> = config.before.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["backend sh scripts/prestart.sh", "server sh -c 'a && b'"]
        );
        assert_eq!(config.before[1].command, ["sh", "-c", "a && b"]);
        let given = args(&[
            "-f",
            file,
            "--before",
            "db",
            "--before",
            "api migrate --all",
        ]);
        let config = resolve(RUN, &given, dir.path(), no_env).unwrap();
        let steps: Vec<(&str, usize)> = config
            .before
            .iter()
            .map(|s| (s.service.as_str(), s.command.len()))
            .collect();
        assert_eq!(steps, [("db", 0), ("api", 2)]);
        let config = resolve(Policy::TEST, &given, dir.path(), no_env).unwrap();
        assert!(config.before.is_empty(), "`test` reruns no setup step");
        for bad in ["", "  ", "api 'unclosed"] {
            let failure = resolve(
                RUN,
                &args(&["-f", file, "--before", bad]),
                dir.path(),
                no_env,
            )
            .unwrap_err();
            assert_eq!(failure.exit, Exit::Usage, "{bad:?}");
        }
    }

    #[test]
    fn runs_isolate_fixed_names_and_ports_and_up_keeps_them_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let file = stack(dir.path(), "compose.yml", "");
        let file = file.to_str().unwrap();
        let isolation = |policy: Policy, argv: &[&str]| {
            let mut given = args(&["-f", file]);
            given.keep_names = argv.contains(&"--keep-names");
            given.keep_ports = argv.contains(&"--keep-ports");
            given.isolate = argv.contains(&"--isolate");
            let config = resolve(policy, &given, dir.path(), no_env).unwrap();
            (config.isolation.names, config.isolation.ports)
        };
        assert_eq!(isolation(RUN, &[]), (true, true));
        assert_eq!(isolation(RUN, &["--keep-names"]), (false, true));
        assert_eq!(isolation(RUN, &["--keep-ports"]), (true, false));
        assert_eq!(isolation(Policy::UP, &[]), (false, false));
        assert_eq!(isolation(Policy::UP, &["--isolate"]), (true, true));
        assert_eq!(
            isolation(Policy::UP, &["--isolate", "--keep-ports"]),
            (true, false)
        );
    }

    #[test]
    fn artifacts_paths_are_absolute_from_cwd_or_from_the_compose_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ci")).unwrap();
        let file = stack(
            &dir.path().join("ci"),
            "compose.yml",
            "x-testbed:\n  artifacts: ../build/out\n  artifacts-mode: copy\n",
        );
        let file = file.to_str().unwrap();
        let config = resolve(RUN, &args(&["-f", file]), dir.path(), no_env).unwrap();
        assert_eq!(config.artifacts, Some(dir.path().join("build/out")));
        assert_eq!(config.artifacts_mode, ArtifactsMode::Copy);
        let config = resolve(
            RUN,
            &args(&[
                "-f",
                file,
                "--artifacts",
                "./reports/../it",
                "--artifacts-mode",
                "bind",
            ]),
            &dir.path().join("ci"),
            no_env,
        )
        .unwrap();
        assert_eq!(config.artifacts, Some(dir.path().join("ci/it")));
        assert_eq!(config.artifacts_mode, ArtifactsMode::Bind);
    }

    #[test]
    fn an_artifacts_path_docker_cannot_mount_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "compose.yml", "");
        for bad in ["a:b", "/"] {
            let failure =
                resolve(RUN, &args(&["--artifacts", bad]), dir.path(), no_env).unwrap_err();
            assert_eq!(failure.exit, Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn later_files_override_block_keys() {
        let dir = tempfile::tempdir().unwrap();
        let a = stack(
            dir.path(),
            "a.yml",
            "x-testbed:\n  service: one\n  stop-timeout: 7\n",
        );
        let b = stack(dir.path(), "b.yml", "x-testbed:\n  service: two\n");
        let config = resolve(
            RUN,
            &args(&["-f", a.to_str().unwrap(), "-f", b.to_str().unwrap()]),
            dir.path(),
            no_env,
        )
        .unwrap();
        assert_eq!(config.service, "two");
        assert_eq!(config.stop_timeout, Duration::from_secs(7));
    }

    #[test]
    fn an_unknown_block_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "compose.yml", "x-testbed:\n  servce: tests\n");
        let failure = resolve(RUN, &args(&[]), dir.path(), no_env).unwrap_err();
        assert_eq!(failure.exit, Exit::Engine);
        let message = failure.error.to_string();
        assert!(message.contains("unknown field `servce`"), "{message}");
    }

    #[test]
    fn a_wrong_block_type_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        stack(
            dir.path(),
            "compose.yml",
            "x-testbed:\n  wait-timeout: [1, 2]\n",
        );
        let failure = resolve(RUN, &args(&[]), dir.path(), no_env).unwrap_err();
        let message = failure.error.to_string();
        assert!(message.starts_with("x-testbed.wait-timeout:"), "{message}");
    }

    #[test]
    fn a_file_without_services_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yml"), "services: {}\n").unwrap();
        let failure = resolve(RUN, &args(&[]), dir.path(), no_env).unwrap_err();
        assert_eq!(failure.exit, Exit::Engine);
        assert_eq!(
            failure.error.to_string(),
            "no services are defined in `compose.yml`"
        );
    }

    #[test]
    fn compose_file_variable_is_honoured() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "a.yml", "");
        stack(dir.path(), "b.yml", "");
        let var = |name: &str| (name == "COMPOSE_FILE").then(|| "a.yml:b.yml".to_string());
        let config = resolve(RUN, &args(&[]), dir.path(), var).unwrap();
        assert_eq!(
            config.files,
            [PathBuf::from("a.yml"), PathBuf::from("b.yml")]
        );
    }

    #[test]
    fn the_override_file_is_merged_like_compose_does() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "docker-compose.yml", "");
        stack(dir.path(), "docker-compose.override.yml", "");
        let config = resolve(RUN, &args(&[]), dir.path(), no_env).unwrap();
        assert_eq!(
            config.files,
            [
                PathBuf::from("docker-compose.yml"),
                PathBuf::from("docker-compose.override.yml")
            ]
        );
    }

    #[test]
    fn missing_files_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let failure = resolve(RUN, &args(&[]), dir.path(), no_env).unwrap_err();
        assert_eq!(failure.exit, Exit::Usage);
        let failure = resolve(RUN, &args(&["-f", "nope.yml"]), dir.path(), no_env).unwrap_err();
        assert_eq!(failure.exit, Exit::Usage);
        assert_eq!(
            failure.error.to_string(),
            "compose file `nope.yml` not found"
        );
    }

    #[test]
    fn in_gitlab_the_project_name_carries_the_job_id() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "compose.yml", "");
        let var = |name: &str| match name {
            "CI_JOB_ID" => Some("5551".to_string()),
            "CI_NODE_INDEX" => Some("2".to_string()),
            "CI_NODE_TOTAL" => Some("3".to_string()),
            _ => None,
        };
        let mut gitlab = args(&[]);
        gitlab.ci = crate::ci::Ci::Gitlab;
        let config = resolve(RUN, &gitlab, dir.path(), var).unwrap();
        assert!(
            config.project.starts_with("tb-5551-2-"),
            "{}",
            config.project
        );
    }

    #[test]
    fn each_ci_names_the_project_after_its_job_and_splits_by_its_own_variables() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "compose.yml", "");
        let var = |name: &str| {
            let value = match name {
                "BUILDKITE_JOB_ID" => "0190-ab",
                "BUILDKITE_PARALLEL_JOB" => "1",
                "BUILDKITE_PARALLEL_JOB_COUNT" => "3",
                _ => return None,
            };
            Some(value.to_string())
        };
        let mut buildkite = args(&[]);
        buildkite.ci = crate::ci::Ci::Buildkite;
        let config = resolve(RUN, &buildkite, dir.path(), var).unwrap();
        assert!(
            config.project.starts_with("tb-0190-ab-2-"),
            "{}",
            config.project
        );
        assert_eq!(config.node, Node::new(2, 3));
        assert_eq!(
            config.split_variables,
            ["BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT"]
        );
        // --shard wins over what the CI says.
        let mut shard = args(&["--shard", "3/3"]);
        shard.ci = crate::ci::Ci::Buildkite;
        let config = resolve(RUN, &shard, dir.path(), var).unwrap();
        assert_eq!(config.node, Node::new(3, 3));
    }

    #[test]
    fn env_specs_keep_values_off_the_argv() {
        assert_eq!(parse_env("TOKEN").unwrap(), ("TOKEN".into(), None));
        assert_eq!(
            parse_env("LEVEL=debug").unwrap(),
            ("LEVEL".into(), Some("debug".into()))
        );
        let message = parse_env("1BAD=secret").unwrap_err().to_string();
        assert!(message.contains("1BAD"), "{message}");
        assert!(parse_env("=x").is_err());
    }

    #[test]
    fn env_values_cannot_reconfigure_compose() {
        let message = parse_env("DOCKER_HOST=tcp://dind:2375")
            .unwrap_err()
            .to_string();
        assert!(message.contains("DOCKER_HOST"), "{message}");
        assert!(parse_env("COMPOSE_PROFILES=x").is_err());
        assert!(parse_env("PATH=/x").is_err());
        assert_eq!(
            parse_env("DOCKER_HOST").unwrap(),
            ("DOCKER_HOST".into(), None)
        );
    }

    /// As compose's `--profile` replaces `COMPOSE_PROFILES`, profiles given
    /// to testbed in any way do.
    #[test]
    fn profiles_come_from_flags_then_the_block_then_compose_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let file = stack(
            dir.path(),
            "compose.yml",
            "x-testbed:\n  profiles: [seed]\n",
        );
        let plain = stack(dir.path(), "plain.yml", "");
        let compose_profiles =
            |name: &str| (name == "COMPOSE_PROFILES").then(|| "debug, ,ci".to_string());
        let resolved = |argv: &[&str]| {
            let config = resolve(RUN, &args(argv), dir.path(), compose_profiles).unwrap();
            (config.profiles, config.profiles_from)
        };
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            resolved(&["--profile", "a", "--profile", "b,c"]),
            (names(&["a", "b", "c"]), ProfilesFrom::Flag)
        );
        assert_eq!(resolved(&[]), (names(&["seed"]), ProfilesFrom::XTestbed));
        let file = file.to_str().unwrap();
        assert_eq!(
            resolved(&["-f", file, "--profile", "x"]),
            (names(&["x"]), ProfilesFrom::Flag)
        );
        assert_eq!(
            resolved(&["-f", plain.to_str().unwrap()]),
            (names(&["debug", "ci"]), ProfilesFrom::ComposeProfiles)
        );
    }

    #[test]
    fn built_images_are_named_after_the_project_directory_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("My App")).unwrap();
        let file = stack(&dir.path().join("My App"), "compose.yml", "");
        let file = file.to_str().unwrap();
        let prefix = |argv: &[&str]| {
            resolve(RUN, &args(argv), dir.path(), no_env)
                .map(|config| config.image_prefix)
                .map_err(|failure| failure.exit)
        };
        assert_eq!(prefix(&["-f", file]), Ok("tb-my-app".to_string()));
        assert_eq!(
            prefix(&["-f", file, "--image-prefix", "ci/api"]),
            Ok("ci/api".to_string())
        );
        assert_eq!(
            prefix(&["-f", file, "--image-prefix", "Not Valid"]),
            Err(Exit::Usage)
        );
        let block = stack(dir.path(), "ci.yml", "x-testbed:\n  image-prefix: ci/app\n");
        assert_eq!(
            prefix(&["-f", block.to_str().unwrap()]),
            Ok("ci/app".to_string())
        );
    }

    #[test]
    fn build_pull_and_no_build_decide_when_images_are_built() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "compose.yml", "");
        let build = |argv: &[&str]| resolve(RUN, &args(argv), dir.path(), no_env).unwrap().build;
        assert_eq!(build(&[]), Build::Missing);
        assert_eq!(build(&["--build"]), Build::Always);
        assert_eq!(build(&["--pull"]), Build::Always);
        assert_eq!(build(&["--no-build"]), Build::Never);
        assert_eq!(build(&["--no-build", "--pull"]), Build::Never);
        let both = ["testbed", "run", "--build", "--no-build"];
        assert!(crate::cli::Cli::try_parse_from(both).is_err());
    }

    #[test]
    fn an_invalid_project_name_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        stack(dir.path(), "compose.yml", "");
        let failure = resolve(RUN, &args(&["-p", "Bad.Name"]), dir.path(), no_env).unwrap_err();
        assert_eq!(failure.exit, Exit::Usage);
    }

    #[test]
    fn shards_come_from_the_flag_or_the_block_and_refuse_what_they_cannot_do() {
        let dir = tempfile::tempdir().unwrap();
        let file = stack(dir.path(), "compose.yml", "x-testbed:\n  shards: 4\n");
        let file = file.to_str().unwrap();
        let shards = |argv: &[&str]| resolve(RUN, &args(argv), dir.path(), no_env);
        assert_eq!(shards(&["-f", file]).unwrap().shards, 4);
        assert_eq!(shards(&["-f", file, "--shards", "2"]).unwrap().shards, 2);
        let keep = resolve(Policy::run(true), &args(&["-f", file]), dir.path(), no_env);
        assert_eq!(keep.unwrap_err().exit, Exit::Usage);
        let tty = shards(&["-f", file, "--tty"]).unwrap_err();
        assert_eq!(tty.exit, Exit::Usage);
        let zero = stack(dir.path(), "zero.yml", "x-testbed:\n  shards: 0\n");
        let zero = shards(&["-f", zero.to_str().unwrap()]).unwrap_err();
        assert_eq!(zero.exit, Exit::Usage);
    }
}
