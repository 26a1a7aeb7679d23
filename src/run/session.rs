//! The laptop loop: `testbed up` starts the dependencies and records the
//! stack in `.testbed/state.json`, `testbed test` reruns the test service
//! against it in seconds, `testbed down` removes it. `run --keep` records
//! its stack the same way. A stack is keyed by its compose files, so one
//! directory can hold several.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};

use crate::exit::{Exit, Failure, OrFail};

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

/// Records a stack started in `dir`, replacing one of the same files.
pub fn record(dir: &Path, files: &[PathBuf], project: &str, compose: &str) -> Result<(), Failure> {
    let key = absolute(files, dir);
    let mut state = read(dir)?;
    state.stacks.retain(|s| s.files != key);
    state.stacks.push(Recorded {
        files: key,
        project: project.to_string(),
        compose: compose.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_recorded_per_set_of_compose_files() {
        let dir = tempfile::tempdir().unwrap();
        let one = [PathBuf::from("compose.yml")];
        let two = [PathBuf::from("compose.yml"), PathBuf::from("ci.yml")];
        assert_eq!(find(dir.path(), &one).unwrap(), None);
        record(dir.path(), &one, "tb-a", "docker compose").unwrap();
        record(dir.path(), &two, "tb-b", "docker-compose").unwrap();
        record(dir.path(), &one, "tb-c", "docker compose").unwrap();
        assert_eq!(find(dir.path(), &one).unwrap().unwrap().project, "tb-c");
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
