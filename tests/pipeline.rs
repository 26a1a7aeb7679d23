//! testbed's own .gitlab-ci.yml works as written: it is YAML, its jobs run
//! in its stages and need jobs that exist, and every command of their
//! script lines is a tool the job's image has or a file of this repository
//! (`bash scripts/x.sh`), every path of the repository it names exists, and
//! every `testbed` command parses. No Docker needed.

mod shell;

use std::path::Path;

use serde_norway::{Mapping, Value};
use shell::{check, commands, script_lines};

const PIPELINE: &str = ".gitlab-ci.yml";

/// The top-level keys that are not jobs.
const GLOBAL_KEYS: [&str; 10] = [
    "after_script",
    "before_script",
    "cache",
    "default",
    "image",
    "include",
    "services",
    "stages",
    "variables",
    "workflow",
];

/// The commands the jobs' images have: the Rust image's toolchain and
/// Debian's apt-get, the docker CLI, testbed in its own image, and the
/// shell's echo.
const TOOLS: [&str; 6] = ["apt-get", "cargo", "docker", "echo", "rustup", "testbed"];

/// The repository's top-level folders whose files script lines may name.
const REPOSITORY_DIRS: [&str; 4] = [".ci/", "examples/", "fixtures/", "scripts/"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The jobs of a pipeline: its top-level keys other than the global ones and
/// the hidden templates (`.name`).
fn jobs(pipeline: &Mapping) -> Vec<(&str, &Value)> {
    pipeline
        .iter()
        .filter_map(|(key, value)| Some((key.as_str()?, value)))
        .filter(|(name, _)| !name.starts_with('.') && !GLOBAL_KEYS.contains(name))
        .collect()
}

/// The strings of a key that holds a list (`stages`, `needs`); a `needs`
/// entry may also be a mapping with a `job`.
fn names(value: Option<&Value>) -> Vec<String> {
    let Some(Value::Sequence(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Mapping(map) => map.get("job")?.as_str(),
            other => other.as_str(),
        })
        .map(str::to_string)
        .collect()
}

/// The templates a job `extends`: one name or a list.
fn extends(job: &Value) -> Vec<String> {
    match job.get("extends") {
        Some(Value::String(one)) => vec![one.clone()],
        other => names(other),
    }
}

/// A job's own keys with those of the templates it `extends`, its own first.
fn resolved(pipeline: &Mapping, job: &Value) -> Mapping {
    let mut keys = job.as_mapping().cloned().unwrap_or_default();
    for template in extends(job) {
        let Some(template) = pipeline.get(template.as_str()) else {
            continue;
        };
        for (key, value) in resolved(pipeline, template) {
            if !keys.contains_key(&key) {
                keys.insert(key, value);
            }
        }
    }
    keys
}

/// What is wrong with one command of a job's script: a program that is
/// neither a tool nor a file of the repository, a script run by `bash` that
/// is missing, a repository path that does not exist, a `testbed` command
/// that does not parse.
fn command_problems(job: &str, words: &[String], problems: &mut Vec<String>) {
    let line = shell_words::join(words);
    // `NAME=value command`: the variable is the command's, not a program.
    let words: Vec<&String> = words
        .iter()
        .skip_while(|w| w.split_once('=').is_some_and(|(name, _)| is_name(name)))
        .collect();
    let Some(program) = words.first() else {
        return;
    };
    match program.as_str() {
        "bash" | "sh" => match words.get(1) {
            Some(file) if !file.starts_with('-') => {
                if !root().join(file.as_str()).is_file() {
                    problems.push(format!("{job}: `{line}` runs {file}, which does not exist"));
                }
            }
            _ => problems.push(format!("{job}: `{line}` runs no file of the repository")),
        },
        "testbed" => {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            if let Err(e) = check(&words) {
                problems.push(format!("{job}: {e}"));
            }
        }
        tool if TOOLS.contains(&tool) => {}
        path if path.contains('/') => {
            if !root().join(path).is_file() {
                problems.push(format!("{job}: `{line}` runs {path}, which does not exist"));
            }
        }
        other => problems.push(format!(
            "{job}: `{line}` runs `{other}`, neither a tool of {TOOLS:?} nor a file of the repository"
        )),
    }
    for word in &words[1..] {
        let named = REPOSITORY_DIRS.iter().any(|dir| word.starts_with(dir));
        if named && !root().join(word.as_str()).exists() {
            problems.push(format!(
                "{job}: `{line}` names {word}, which does not exist"
            ));
        }
    }
}

/// Whether `name` can be a shell variable's name.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Everything wrong with a pipeline file; empty when nothing is.
fn problems(text: &str) -> Vec<String> {
    let yaml: Value = match serde_norway::from_str(text) {
        Ok(yaml) => yaml,
        Err(e) => return vec![format!("not YAML: {e}")],
    };
    let Some(pipeline) = yaml.as_mapping() else {
        return vec!["not a mapping of jobs".into()];
    };
    let stages = names(pipeline.get("stages"));
    let jobs = jobs(pipeline);
    let mut problems = Vec::new();
    if jobs.is_empty() {
        problems.push("no jobs".into());
    }
    for (name, job) in &jobs {
        for template in extends(job) {
            if !pipeline.contains_key(template.as_str()) {
                problems.push(format!("{name}: extends {template}, which is not there"));
            }
        }
        let job = resolved(pipeline, job);
        // GitLab's default stage is `test`.
        let stage = job.get("stage").and_then(Value::as_str).unwrap_or("test");
        if !stages.iter().any(|s| s == stage) {
            problems.push(format!("{name}: stage {stage} is not one of {stages:?}"));
        }
        for needed in names(job.get("needs")) {
            if !jobs.iter().any(|(other, _)| *other == needed) {
                problems.push(format!("{name}: needs {needed}, which is no job"));
            }
        }
        let mut lines = Vec::new();
        script_lines(&Value::Mapping(job.clone()), false, &mut lines);
        if lines.is_empty() {
            problems.push(format!("{name}: no script"));
        }
        for line in &lines {
            for words in commands(line) {
                command_problems(name, &words, &mut problems);
            }
        }
    }
    problems
}

#[test]
fn pipeline_jobs_run_what_the_repository_has() {
    let path = root().join(PIPELINE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let found = problems(&text);
    assert!(found.is_empty(), "{PIPELINE}:\n{}", found.join("\n"));
}

/// The jobs the pipeline promises: lints, both test suites, the binary, the
/// image, the release.
#[test]
fn pipeline_builds_tests_and_ships() {
    let path = root().join(PIPELINE);
    let text = std::fs::read_to_string(&path).unwrap();
    let yaml: Value = serde_norway::from_str(&text).unwrap();
    let pipeline = yaml.as_mapping().unwrap();
    let mut lines = Vec::new();
    for (_, job) in jobs(pipeline) {
        script_lines(&Value::Mapping(resolved(pipeline, job)), false, &mut lines);
    }
    for wanted in [
        "cargo fmt --all -- --check",
        "cargo clippy --all-targets -- -D warnings",
        "CI= cargo test",
        "cargo test -- --include-ignored",
        "bash scripts/static-binary.sh",
        "docker build -t \"$IMAGE:$CI_COMMIT_SHORT_SHA\" .",
        "docker push \"$IMAGE:$IMAGE_TAG\"",
    ] {
        assert!(
            lines.iter().any(|l| l == wanted),
            "no `{wanted}` in {PIPELINE}"
        );
    }
    let artifact = pipeline["static-binary"]["artifacts"]["paths"][0].as_str();
    assert_eq!(artifact, Some("target/static/testbed"));
    let release = &pipeline["release"]["release"]["assets"]["links"][0]["url"];
    assert!(
        release
            .as_str()
            .is_some_and(|url| url.ends_with("/artifacts/raw/target/static/testbed")),
        "{release:?}"
    );
}

/// The check finds each kind of mistake.
#[test]
fn the_check_catches_a_broken_pipeline() {
    let pipeline = |job: &str| format!("stages: [test]\n{job}");
    assert_eq!(
        problems(&pipeline(
            "t:\n  stage: test\n  script:\n    - bash scripts/static-binary.sh --debug\n"
        )),
        Vec::<String>::new()
    );
    for (job, problem) in [
        (
            "t:\n  stage: test\n  script:\n    - bash scripts/nope.sh\n",
            "runs scripts/nope.sh, which does not exist",
        ),
        (
            "t:\n  stage: test\n  script:\n    - make all\n",
            "runs `make`, neither a tool",
        ),
        (
            "t:\n  stage: test\n  script:\n    - ./scripts/nope\n",
            "runs ./scripts/nope, which does not exist",
        ),
        (
            "t:\n  stage: test\n  script:\n    - testbed run --no-such-flag\n",
            "`testbed run --no-such-flag`",
        ),
        (
            "t:\n  stage: test\n  script:\n    - testbed run -f fixtures/nope/compose.yml\n",
            "names fixtures/nope/compose.yml",
        ),
        (
            "t:\n  stage: deploy\n  script:\n    - cargo test\n",
            "stage deploy is not one of",
        ),
        (
            "t:\n  stage: test\n  needs: [build]\n  script:\n    - cargo test\n",
            "needs build, which is no job",
        ),
        ("t:\n  stage: test\n", "t: no script"),
        (
            ".t:\n  script:\n    - bash scripts/nope.sh\nt:\n  extends: .t\n",
            "runs scripts/nope.sh",
        ),
        (
            "t:\n  extends: .nope\n  script:\n    - cargo test\n",
            "extends .nope, which is not there",
        ),
        ("t: [unclosed\n", "not YAML"),
    ] {
        let found = problems(&pipeline(job));
        assert!(
            found.iter().any(|p| p.contains(problem)),
            "{job}: expected `{problem}`, found {found:?}"
        );
    }
}
