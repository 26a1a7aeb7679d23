//! The laptop loop on the real engine: `up`, `test` as often as needed,
//! `down`; `run --keep` recorded the same way; a recorded stack that broke
//! is reported, never restarted.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{Flavor, ROOT, assert_clean, docker, per_flavor};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `testbed <args>` in `dir`, with lines free of timestamps.
fn testbed(dir: &Path, flavor: Flavor, args: &[&str]) -> Out {
    let (command, rest) = args.split_first().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_testbed"))
        .arg(command)
        .args(["--compose", flavor.compose(), "--output", "terminal"])
        .args(rest)
        .current_dir(dir)
        .env_remove("COMPOSE_PROJECT_NAME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A directory holding fixtures/basic's stack, as a project checkout.
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{ROOT}/fixtures/basic/compose.yml"),
        dir.path().join("compose.yml"),
    )
    .unwrap();
    dir
}

fn recorded_project(dir: &Path) -> String {
    let state = std::fs::read_to_string(dir.join(".testbed/state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    state["stacks"][0]["project"].as_str().unwrap().to_string()
}

fn up_test_test_down(flavor: Flavor) {
    let dir = checkout();
    let d = dir.path();
    let none = testbed(d, flavor, &["test"]);
    assert_eq!(none.code, Some(2), "{}", none.stderr);
    assert!(
        none.stderr.contains("hint: start one with `testbed up`"),
        "{}",
        none.stderr
    );

    let up = testbed(d, flavor, &["up"]);
    assert_eq!(up.code, Some(0), "{}", up.stderr);
    let project = recorded_project(d);
    assert!(
        up.stderr.contains(&format!(
            "stack {project} is up; rerun the tests with `testbed test`"
        )),
        "{}",
        up.stderr
    );

    let again = testbed(d, flavor, &["up"]);
    assert_eq!(again.code, Some(2), "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains(&format!("the stack {project} is already up")),
        "{}",
        again.stderr
    );

    let pass = testbed(d, flavor, &["test"]);
    assert_eq!(
        (pass.code, pass.stdout.as_str()),
        (Some(0), "tests ran\n"),
        "{}",
        pass.stderr
    );
    let fail = testbed(d, flavor, &["test", "--", "sh", "-c", "exit 3"]);
    assert_eq!(fail.code, Some(3), "{}", fail.stderr);
    // The stack is still there, the test containers are not.
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]);
    assert_eq!(left.lines().count(), 1, "only dep is left: {left}");

    let down = testbed(d, flavor, &["down"]);
    assert_eq!(down.code, Some(0), "{}", down.stderr);
    assert!(
        down.stderr.contains(&format!("stack {project} removed")),
        "{}",
        down.stderr
    );
    assert!(!d.join(".testbed/state.json").exists());
    assert_clean(&project);
    let twice = testbed(d, flavor, &["down"]);
    assert_eq!(twice.code, Some(0), "{}", twice.stderr);
    assert!(
        twice.stderr.contains("nothing to remove"),
        "{}",
        twice.stderr
    );
}
per_flavor!(up_test_test_down);

fn a_broken_recorded_stack_is_reported_not_restarted(flavor: Flavor) {
    let dir = checkout();
    let d = dir.path();
    let run = testbed(d, flavor, &["run", "--keep"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let project = recorded_project(d);
    let dep = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]);
    docker(&["kill", dep.trim()]);
    let test = testbed(d, flavor, &["test"]);
    assert_eq!(test.code, Some(125), "{}", test.stderr);
    assert!(
        test.stderr.contains(&format!(
            "error: the stack {project} recorded here is not ready: dep (exited with code 137)"
        )),
        "{}",
        test.stderr
    );
    assert!(
        test.stderr
            .contains("hint: start it again with `testbed down && testbed up`"),
        "{}",
        test.stderr
    );
    // Not restarted behind our back.
    let state = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--format",
        "{{.State}}",
    ]);
    assert_eq!(state.trim(), "exited");
    let down = testbed(d, flavor, &["down"]);
    assert_eq!(down.code, Some(0), "{}", down.stderr);
    assert_clean(&project);
}
per_flavor!(a_broken_recorded_stack_is_reported_not_restarted);
