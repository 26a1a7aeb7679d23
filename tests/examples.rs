//! The files in examples/ work as written: the GitLab CI file is YAML, and
//! every `testbed` command in it and in the Makefile parses with testbed's own
//! command-line definition. No Docker needed; the Makefile is read through
//! `make -n`, which prints each target's commands as the shell would get them.

mod shell;

use std::path::Path;
use std::process::Command;

use serde_norway::Value;
use shell::{check, invocations, script_lines};

const GITLAB_CI: &str = "examples/gitlab-ci.yml";
const MAKEFILE: &str = "examples/Makefile";

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_all(file: &str, lines: &[String]) {
    let found: Vec<Vec<String>> = lines.iter().flat_map(|l| invocations(l)).collect();
    assert!(!found.is_empty(), "{file}: no `testbed` command found");
    let errors: Vec<String> = found.iter().filter_map(|w| check(w).err()).collect();
    assert!(errors.is_empty(), "{file}:\n{}", errors.join("\n"));
}

/// The other CIs' examples, each with the keys its shell lines are under.
const OTHER_CIS: [(&str, &[&str]); 3] = [
    ("examples/github-actions.yml", &["run"]),
    ("examples/buildkite.yml", &["command", "commands"]),
    ("examples/azure-pipelines.yml", &["script", "bash"]),
];

#[test]
fn the_other_cis_examples_are_yaml_and_run_real_flags() {
    for (file, keys) in OTHER_CIS {
        let yaml: Value = serde_norway::from_str(&read(file))
            .unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
        let mut lines = Vec::new();
        shell::lines_under(&yaml, keys, false, &mut lines);
        // A GitHub expression, `${{ matrix.shard }}`, stands for a value.
        let lines: Vec<String> = lines.iter().map(|l| github_expressions(l, "1")).collect();
        check_all(file, &lines);
    }
}

/// `line` with each `${{ … }}` replaced by `value`.
fn github_expressions(line: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("${{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

#[test]
fn gitlab_ci_example_is_yaml_and_runs_real_flags() {
    let yaml: Value = serde_norway::from_str(&read(GITLAB_CI))
        .unwrap_or_else(|e| panic!("{GITLAB_CI} is not YAML: {e}"));
    let mut lines = Vec::new();
    script_lines(&yaml, false, &mut lines);
    check_all(GITLAB_CI, &lines);
}

/// The targets named in the Makefile's `.PHONY:` lines.
fn phony_targets(makefile: &str) -> Vec<String> {
    makefile
        .lines()
        .filter_map(|line| line.strip_prefix(".PHONY:"))
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect()
}

/// What `make -n TARGET` would run, one shell line each. The environment is
/// cleared, so a `CMD` or `FLAGS` of the caller's cannot change the result.
fn make_dry_run(target: &str) -> Vec<String> {
    let output = Command::new("make")
        .args(["-n", "-s", "-f", MAKEFILE, target])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run make (GNU make is needed for this test)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "make -n {target}: {stderr}");
    String::from_utf8(output.stdout)
        .expect("UTF-8 from make")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn makefile_example_runs_real_flags() {
    let targets = phony_targets(&read(MAKEFILE));
    assert!(targets.contains(&"test".to_string()), "{targets:?}");
    let lines: Vec<String> = targets.iter().flat_map(|t| make_dry_run(t)).collect();
    check_all(MAKEFILE, &lines);
}

#[test]
fn the_check_catches_a_wrong_flag() {
    let words = |line: &str| invocations(line).remove(0);
    assert!(
        check(&words(
            "cd app && testbed run --wait-timeout 3m -- pytest -x"
        ))
        .is_ok()
    );
    assert!(check(&words("testbed run -e \"$CI_COMMIT_SHA\"")).is_ok());
    assert!(check(&words("testbed run --no-such-flag")).is_err());
    assert!(check(&words("testbed run --wait-timeout soon")).is_err());
    assert!(check(&words("testbed run $TESTBED_FLAGS || true")).is_err());
}
