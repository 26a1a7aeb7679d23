//! The laptop loop on the real engine: `up`, `test` as often as needed,
//! `down`; `run --keep` recorded the same way; a recorded stack that broke
//! is reported, never restarted.

use std::path::Path;
use std::process::Command;

use crate::common::engine::{assert_clean, docker};
use crate::common::{Flavor, Output, ROOT, Testbed, per_flavor};

/// `testbed <args>` in `dir`, to its end.
pub fn testbed(dir: &Path, flavor: Flavor, args: &[&str]) -> Output {
    let (subcommand, rest) = args.split_first().unwrap();
    let testbed = Testbed::new(subcommand).dir(dir).args(rest);
    // `env` and `ports` read the stack; only the others drive compose.
    if matches!(*subcommand, "env" | "ports") {
        testbed.output()
    } else {
        testbed.flavor(flavor).output()
    }
}

/// A directory holding a fixture's stack, with its files, as a project
/// checkout.
pub fn checkout_of(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(ROOT).join("fixtures").join(fixture);
    let copied = Command::new("cp")
        .arg("-r")
        .arg(from.join("."))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(copied.success());
    dir
}

/// fixtures/basic's stack.
fn checkout() -> tempfile::TempDir {
    checkout_of("basic")
}

pub fn recorded_project(dir: &Path) -> String {
    let state = std::fs::read_to_string(dir.join(".testbed/state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    state["stacks"][0]["project"].as_str().unwrap().to_string()
}

/// The ids of the project's containers, one-offs included, with the
/// networks and volumes compose made for it.
fn resources(project: &str) -> String {
    let label = format!("label=com.docker.compose.project={project}");
    ["ps -aq --no-trunc", "network ls -q", "volume ls -q"]
        .iter()
        .map(|list| {
            let mut args: Vec<&str> = list.split(' ').collect();
            args.extend(["--filter", &label]);
            docker(&args)
        })
        .collect()
}

/// `GET /` from a process on this machine, as tests run on the host do.
fn fetch(address: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: testbed\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Reruns the tests against the kept stack in `d`, with the codes 0, 3, 0:
/// each reaches the api by its service name, and the stack's containers,
/// network and volume stay the ones it had.
fn test_three_times(d: &Path, flavor: Flavor, project: &str) {
    let before = resources(project);
    for code in ["0", "3", "0"] {
        let env = format!("TEST_EXIT={code}");
        let test = testbed(d, flavor, &["test", "-e", &env]);
        assert_eq!(test.code, Some(code.parse().unwrap()), "{test}");
        assert_eq!(test.stdout, "api-ok\n", "{test}");
        assert!(!test.stderr.contains("Network"), "{test}");
        assert_eq!(resources(project), before, "the stack changed under `test`");
    }
}

fn up_test_test_down(flavor: Flavor) {
    let dir = checkout_of("laptop");
    let d = dir.path();
    let none = testbed(d, flavor, &["test"]);
    assert_eq!(none.code, Some(2), "{none}");
    assert!(
        none.stderr.contains("hint: start one with `testbed up`"),
        "{none}"
    );

    let up = testbed(d, flavor, &["up"]);
    assert_eq!(up.code, Some(0), "{up}");
    let project = recorded_project(d);
    assert!(
        up.stderr.contains(&format!(
            "stack {project} is up; rerun the tests with `testbed test`"
        )),
        "{up}"
    );
    assert!(up.stderr.contains("api  80/tcp -> 127.0.0.1:"), "{up}");

    let again = testbed(d, flavor, &["up"]);
    assert_eq!(again.code, Some(2), "{again}");
    assert!(
        again
            .stderr
            .contains(&format!("the stack {project} is already up")),
        "{again}"
    );

    test_three_times(d, flavor, &project);
    // Its startup was `up`'s: a page of this run would be empty.
    let page = d.join("timeline.html");
    let drawn = testbed(d, flavor, &["test", "--timeline", page.to_str().unwrap()]);
    assert_eq!(drawn.code, Some(0), "{drawn}");
    assert!(
        drawn.stderr.contains(
            "this run started nothing, the stack was up already; \
             `testbed up --timeline FILE` draws its startup"
        ),
        "{drawn}"
    );
    assert!(!page.exists());
    // The stack is still there, the test containers are not.
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]);
    assert_eq!(left.lines().count(), 1, "only api is left: {left}");

    let down = testbed(d, flavor, &["down"]);
    assert_eq!(down.code, Some(0), "{down}");
    assert!(
        down.stderr.contains(&format!("stack {project} removed")),
        "{down}"
    );
    assert!(!d.join(".testbed/state.json").exists());
    assert_clean(&project);
    let twice = testbed(d, flavor, &["down"]);
    assert_eq!(twice.code, Some(0), "{twice}");
    assert!(twice.stderr.contains("nothing to remove"), "{twice}");
}
per_flavor!(up_test_test_down);

fn a_broken_recorded_stack_is_reported_not_restarted(flavor: Flavor) {
    let dir = checkout();
    let d = dir.path();
    let run = testbed(d, flavor, &["run", "--keep"]);
    assert_eq!(run.code, Some(0), "{run}");
    let project = recorded_project(d);
    let dep = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ]);
    docker(&["kill", dep.trim()]);
    let test = testbed(d, flavor, &["test"]);
    assert_eq!(test.code, Some(125), "{test}");
    assert!(
        test.stderr.contains(&format!(
            "error: the stack {project} recorded here is not ready: dep (exited with code 137)"
        )),
        "{test}"
    );
    assert!(
        test.stderr
            .contains("hint: start it again with `testbed down && testbed up`"),
        "{test}"
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
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);
}
per_flavor!(a_broken_recorded_stack_is_reported_not_restarted);

fn run_keep_then_test_reuses_the_stack(flavor: Flavor) {
    let dir = checkout_of("laptop");
    let d = dir.path();
    let run = testbed(d, flavor, &["run", "--keep"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout, "api-ok\n", "{run}");
    let project = recorded_project(d);
    test_three_times(d, flavor, &project);
    let down = testbed(d, flavor, &["down"]);
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);
}
per_flavor!(run_keep_then_test_reuses_the_stack);

fn env_lets_host_processes_reach_published_ports(flavor: Flavor) {
    let dir = checkout_of("laptop");
    let d = dir.path();
    let none = testbed(d, flavor, &["env"]);
    assert_eq!(none.code, Some(1), "{none}");
    assert!(
        none.stderr.contains("error: no stack is recorded"),
        "{none}"
    );

    let up = testbed(d, flavor, &["up"]);
    assert_eq!(up.code, Some(0), "{up}");
    let project = recorded_project(d);
    // What `eval "$(testbed env)"` gives a shell, read back by one.
    let script = format!(
        "eval \"$('{}' env)\" && echo \"$TESTBED_PROJECT $TESTBED_API_80\"",
        env!("CARGO_BIN_EXE_testbed")
    );
    let shell = Command::new("sh")
        .args(["-c", &script])
        .current_dir(d)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&shell.stdout);
    let (named, address) = printed.trim().split_once(' ').unwrap();
    assert_eq!(named, project);
    assert!(address.starts_with("127.0.0.1:"), "{printed}");
    let response = fetch(address);
    assert!(response.ends_with("api-ok\n"), "{response}");
    assert!(
        up.stderr.contains(&format!("api  80/tcp -> {address}")),
        "{up}"
    );

    let json = testbed(d, flavor, &["env", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["TESTBED_API_80"], address);
    assert_eq!(json["TESTBED_PROJECT"], project.as_str());
    let ports = testbed(d, flavor, &["ports"]);
    assert!(
        ports
            .stdout
            .contains(&format!("api      80/tcp  {address}")),
        "{ports}"
    );

    let down = testbed(d, flavor, &["down"]);
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);
    let gone = testbed(d, flavor, &["env"]);
    assert_eq!(gone.code, Some(1), "{gone}");
}
per_flavor!(env_lets_host_processes_reach_published_ports);
