//! The laptop loop: `testbed up` starts the dependencies and records the
//! stack in `.testbed/state.json`, `testbed test` reruns the test service
//! against it in seconds, `testbed down` removes it. `run --keep` records
//! its stack the same way. A stack is keyed by its compose files, so one
//! directory can hold several.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::engine::Engine;
use crate::engine::model::Readiness;
use crate::engine::stack::Stack;
use crate::engine::startup;
use crate::events::{Events, Listing, RunEvent, Trouble};
use crate::exit::{Exit, Failure, OrFail};
use crate::labels::RunLabels;
use crate::ports;
use crate::signals::Signals;

use super::plan::Plan;

/// Where the stacks started here are recorded, relative to the directory.
pub const STATE: &str = ".testbed/state.json";

/// One recorded stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The compose files, absolute: the key.
    pub files: Vec<PathBuf>,
    pub project: String,
    /// The compose command that started it, e.g. `docker compose`.
    pub compose: String,
    /// The profiles in force when it was started; absent in records of
    /// versions of testbed before profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    /// When it was started, in Unix seconds.
    pub started: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    stacks: Vec<Recorded>,
}

fn absolute(files: &[PathBuf], cwd: &Path) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| std::path::absolute(cwd.join(f)).unwrap_or_else(|_| cwd.join(f)))
        .collect()
}

fn read(dir: &Path) -> Result<State, Failure> {
    let path = dir.join(STATE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is not testbed's state file", path.display()))
            .or_fail(Exit::Usage),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(error) => Err(error)
            .with_context(|| format!("cannot read {}", path.display()))
            .or_fail(Exit::Usage),
    }
}

fn write(dir: &Path, state: &State) -> Result<(), Failure> {
    let path = dir.join(STATE);
    let result = if state.stacks.is_empty() {
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    } else {
        let text = serde_json::to_string_pretty(state).expect("the state serializes");
        std::fs::create_dir_all(dir.join(".testbed"))
            .and_then(|()| std::fs::write(&path, text + "\n"))
    };
    result
        .with_context(|| format!("cannot write {}", path.display()))
        .or_fail(Exit::Engine)
}

/// The stack recorded in `dir` for these compose files, if any.
pub fn find(dir: &Path, files: &[PathBuf]) -> Result<Option<Recorded>, Failure> {
    let key = absolute(files, dir);
    Ok(read(dir)?.stacks.into_iter().find(|s| s.files == key))
}

/// Records a stack started in `dir` with `profiles` in force, replacing
/// one of the same files.
pub fn record(
    dir: &Path,
    files: &[PathBuf],
    project: &str,
    compose: &str,
    profiles: &[String],
) -> Result<(), Failure> {
    let key = absolute(files, dir);
    let mut state = read(dir)?;
    state.stacks.retain(|s| s.files != key);
    state.stacks.push(Recorded {
        files: key,
        project: project.to_string(),
        compose: compose.to_string(),
        profiles: Some(profiles.to_vec()),
        started: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    });
    write(dir, &state)
}

/// Forgets the stack of these compose files.
pub fn forget(dir: &Path, files: &[PathBuf]) -> Result<(), Failure> {
    let key = absolute(files, dir);
    let mut state = read(dir)?;
    state.stacks.retain(|s| s.files != key);
    write(dir, &state)
}

/// The error for `test` and `down` when nothing is recorded.
pub fn nothing_recorded(dir: &Path) -> Failure {
    Failure::usage(anyhow!(
        "no stack is recorded for these compose files in {}",
        dir.display()
    ))
    .with_hint("start one with `testbed up` (or `testbed run --keep`)")
}

/// The project recorded here for these files, if its stack still exists.
pub fn recorded_and_alive(engine: &Engine, config: &Config) -> Option<String> {
    let recorded = find(&config.cwd, &config.files).ok()??;
    let stack = Stack::new(engine, &recorded.project, &config.files, &config.service)
        .with_globals(&config.compose_options);
    let alive = !stack.containers(false).ok()?.is_empty();
    alive.then_some(recorded.project)
}

/// Records a stack left running for `test` and `down`, says how to use
/// them, and where its ports landed. Another stack that is recorded and
/// alive keeps its record.
pub fn record_stack(stack: &Stack, config: &Config, events: &dyn Events) {
    let compose = &stack.engine().compose_name;
    let down = stack.down_command(config.stop_timeout);
    let recorded = match recorded_and_alive(stack.engine(), config) {
        Some(other) if other != stack.project() => Err(format!(
            "the stack {other} is recorded for these compose files and still up, so this one is not recorded"
        )),
        _ => record(
            &config.cwd,
            &config.files,
            stack.project(),
            compose,
            stack.profiles(),
        )
        .map_err(|failure| format!("{:#}", failure.error)),
    };
    if let Err(why) = &recorded {
        events.emit(RunEvent::Trouble(Trouble::NotRecorded(why)));
    }
    events.emit(RunEvent::StackKept {
        project: stack.project(),
        recorded: recorded.is_ok(),
        down: down.to_string(),
    });
    match stack.containers(false) {
        Ok(containers) => {
            let ports = ports::published(&containers, stack.engine().client().host());
            events.emit(RunEvent::Ports(&ports));
        }
        Err(error) => events.emit(RunEvent::Trouble(Trouble::CannotList {
            what: Listing::Ports,
            error: &error,
        })),
    }
}

/// How often `test` runs the healthcheck of a recorded service that the
/// daemon has not yet found healthy, before it calls it not ready.
const CHECKS: usize = 3;

/// A recorded stack must still be there, and ready, for `test`: it is
/// never started again behind the user's back. Returns the labels its run
/// put on it.
pub fn check_recorded(
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
            // Ready when testbed checked it, but not checked by the daemon
            // yet. A busy engine can make one check overrun its timeout.
            Readiness::Waiting(_)
                if (0..CHECKS).any(|_| startup::healthy_now(stack, c, signals)) =>
            {
                None
            }
            Readiness::Waiting(what) => Some(format!("{} ({what})", c.service)),
            Readiness::Failed(fault) => Some(format!("{} ({fault})", c.service)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_recorded_per_set_of_compose_files() {
        let dir = tempfile::tempdir().unwrap();
        let one = [PathBuf::from("compose.yml")];
        let two = [PathBuf::from("compose.yml"), PathBuf::from("ci.yml")];
        assert_eq!(find(dir.path(), &one).unwrap(), None);
        record(dir.path(), &one, "tb-a", "docker compose", &[]).unwrap();
        record(dir.path(), &two, "tb-b", "docker-compose", &[]).unwrap();
        let test = ["test".to_string()];
        record(dir.path(), &one, "tb-c", "docker compose", &test).unwrap();
        let c = find(dir.path(), &one).unwrap().unwrap();
        assert_eq!(
            (c.project.as_str(), c.profiles),
            ("tb-c", Some(test.to_vec()))
        );
        let b = find(dir.path(), &two).unwrap().unwrap();
        assert_eq!(b.project, "tb-b");
        assert_eq!(
            b.files,
            [dir.path().join("compose.yml"), dir.path().join("ci.yml")]
        );
        forget(dir.path(), &one).unwrap();
        assert_eq!(find(dir.path(), &one).unwrap(), None);
        forget(dir.path(), &two).unwrap();
        assert!(
            !dir.path().join(STATE).exists(),
            "an empty state is removed"
        );
    }

    #[test]
    fn a_record_from_before_profiles_has_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".testbed")).unwrap();
        let file = dir.path().join("compose.yml");
        let old = format!(
            r#"{{"stacks":[{{"files":[{file:?}],"project":"tb-a","compose":"docker compose","started":1}}]}}"#
        );
        std::fs::write(dir.path().join(STATE), old).unwrap();
        let recorded = find(dir.path(), &[PathBuf::from("compose.yml")]).unwrap();
        assert_eq!(recorded.unwrap().profiles, None);
    }

    #[test]
    fn a_foreign_state_file_is_an_error_not_a_loss() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".testbed")).unwrap();
        std::fs::write(dir.path().join(STATE), "not json").unwrap();
        let failure = find(dir.path(), &[PathBuf::from("compose.yml")]).unwrap_err();
        assert!(
            failure
                .error
                .to_string()
                .contains("not testbed's state file")
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(STATE)).unwrap(),
            "not json"
        );
    }
}
