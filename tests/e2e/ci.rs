//! At home in each CI, told by its variables as a job of it would set
//! them: the project named after the job, the split of parallel jobs
//! handed to the tests, the log's groups, the masks of the tests'
//! variables, the error annotation and the job summary.

use std::path::Path;

use crate::common::engine::{assert_clean, require};
use crate::common::{Output, Testbed};

/// The tests print where they stand among the shards, and the CI's own
/// variables of the split, then exit with `code`.
fn basic_in_ci(vars: &[(&str, &str)], code: i32) -> Testbed {
    let script = format!(
        "echo node=$CI_NODE_INDEX/$CI_NODE_TOTAL own=${{BUILDKITE_PARALLEL_JOB:-}}${{CIRCLE_NODE_INDEX:-}}${{SYSTEM_JOBPOSITIONINPHASE:-}}; exit {code}"
    );
    let mut testbed = Testbed::fixture("basic")
        .env("TESTBED_OUTPUT", "auto")
        .env("NO_COLOR", "1")
        .command(["sh", "-c", &script]);
    for (name, value) in vars {
        testbed = testbed.env(name, value);
    }
    testbed
}

/// The lines on stdout that the tests printed about their place.
fn nodes(out: &Output) -> Vec<&str> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("node="))
        .collect()
}

fn assert_project_starts(out: &Output, prefix: &str) {
    assert!(
        out.project.starts_with(prefix),
        "project {} should start with {prefix}\n{out}",
        out.project
    );
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn github_actions_groups_masks_annotates_and_writes_the_step_summary() {
    require();
    let tmp = tempfile::tempdir().unwrap();
    let summary = tmp.path().join("step_summary.md");
    let github = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_RUN_ID", "9912"),
        ("GITHUB_RUN_ATTEMPT", "2"),
        ("GITHUB_JOB", "integration"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("API_TOKEN", "hunter2-value"),
    ];
    // A matrix job: GitHub says nothing of its place, --shard does.
    let out = basic_in_ci(&github, 3)
        .args(["-e", "API_TOKEN", "-e", "MODE=on-the-command-line"])
        .args(["--shard", "2/3"])
        .output();
    assert_eq!(out.code, Some(3), "{out}");
    assert_project_starts(&out, "tb-9912-2-integration-2-");
    assert_eq!(nodes(&out), ["node=2/3 own="], "{out}");
    let first = out.stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first, "::add-mask::hunter2-value",
        "masked before anything\n{out}"
    );
    assert!(!out.stderr.contains("::add-mask::on-the"), "{out}");
    assert!(out.stderr.contains("\n::group::up: dep\n"), "{out}");
    assert!(out.stderr.contains("\n::endgroup::\n"), "{out}");
    let annotation =
        "::error title=testbed%3A the tests failed::the tests exited with code 3 after ";
    assert!(
        out.stderr.lines().any(|l| l.starts_with(annotation)),
        "{out}"
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(
        written.starts_with("### testbed: tests failed with exit code 3\n"),
        "{written}"
    );
    assert!(written.contains("```mermaid\ngantt\n"), "{written}");
    assert_clean(&out.project);
}

/// A fake `buildkite-agent` on PATH that writes each call's arguments to
/// `calls`, one per line.
fn fake_agent(dir: &Path, calls: &Path) -> String {
    let agent = dir.join("buildkite-agent");
    let script = format!(
        "#!/bin/sh\nfor arg in \"$@\"; do printf '%s|' \"$arg\"; done >> {}\necho >> {}\n",
        calls.display(),
        calls.display()
    );
    std::fs::write(&agent, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn buildkite_splits_by_its_parallel_job_and_annotates_through_its_agent() {
    require();
    let tmp = tempfile::tempdir().unwrap();
    let calls = tmp.path().join("calls");
    let path = fake_agent(tmp.path(), &calls);
    let buildkite = [
        ("BUILDKITE", "true"),
        ("BUILDKITE_JOB_ID", "0190b2c4-77aa"),
        // The second of three parallel jobs, counted from 0.
        ("BUILDKITE_PARALLEL_JOB", "1"),
        ("BUILDKITE_PARALLEL_JOB_COUNT", "3"),
        ("PATH", &path),
    ];
    let out = basic_in_ci(&buildkite, 0).args(["--shards", "2"]).output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_project_starts(&out, "tb-0190b2c4-77aa-2-");
    // Its two shards are the 3rd and 4th of 6; the agent's own variable
    // goes as it is.
    let mut nodes = nodes(&out);
    nodes.sort();
    assert_eq!(nodes, ["node=3/6 own=1", "node=4/6 own=1"], "{out}");
    assert!(out.stderr.lines().any(|l| l.starts_with("--- ")), "{out}");
    let calls = std::fs::read_to_string(&calls).unwrap();
    let summaries = calls
        .lines()
        .filter(|l| l.starts_with("annotate|--style|info|--context|testbed-summary-"))
        .count();
    assert_eq!(summaries, 2, "one summary per shard\n{calls}");
    assert_clean(&out.project);

    let failed = basic_in_ci(&buildkite, 3).output();
    assert_eq!(failed.code, Some(3), "{failed}");
    let calls = std::fs::read_to_string(tmp.path().join("calls")).unwrap();
    let error = calls
        .split("annotate|--style|error|--context|testbed-")
        .nth(1)
        .unwrap_or_else(|| panic!("no error annotation\n{calls}"));
    assert!(error.contains("the tests exited with code 3"), "{error}");
    assert_clean(&failed.project);
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn azure_pipelines_groups_and_uploads_the_summary() {
    require();
    let tmp = tempfile::tempdir().unwrap();
    let azure = [
        ("TF_BUILD", "True"),
        ("BUILD_BUILDID", "417"),
        ("SYSTEM_JOBATTEMPT", "1"),
        ("SYSTEM_JOBPOSITIONINPHASE", "2"),
        ("SYSTEM_TOTALJOBSINPHASE", "2"),
        ("AGENT_TEMPDIRECTORY", tmp.path().to_str().unwrap()),
        ("API_TOKEN", "s3cr3t;value"),
    ];
    let out = basic_in_ci(&azure, 0).args(["-e", "API_TOKEN"]).output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_project_starts(&out, "tb-417-1-2-");
    assert_eq!(nodes(&out), ["node=2/2 own=2"], "{out}");
    assert!(
        out.stderr
            .starts_with("##vso[task.setsecret]s3cr3t%3Bvalue\n"),
        "{out}"
    );
    assert!(out.stderr.contains("\n##[group]up: dep\n"), "{out}");
    let upload = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("##vso[task.uploadsummary]"))
        .unwrap_or_else(|| panic!("no summary uploaded\n{out}"));
    let written = std::fs::read_to_string(upload).unwrap();
    assert!(
        written.starts_with("### testbed: tests passed\n"),
        "{written}"
    );
    assert_clean(&out.project);
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn circleci_and_jenkins_name_the_job_and_print_plain_lines() {
    require();
    let circle = [
        ("CIRCLECI", "true"),
        ("CIRCLE_WORKFLOW_JOB_ID", "5c1e-42"),
        ("CIRCLE_NODE_INDEX", "0"),
        ("CIRCLE_NODE_TOTAL", "2"),
    ];
    let out = basic_in_ci(&circle, 0).output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_project_starts(&out, "tb-5c1e-42-1-");
    assert_eq!(nodes(&out), ["node=1/2 own=0"], "{out}");
    // Plain lines: a timestamp each, no groups.
    assert!(
        out.stderr
            .lines()
            .all(|l| l.is_empty() || l.starts_with("20")),
        "{out}"
    );
    assert_clean(&out.project);

    let jenkins = [
        ("JENKINS_URL", "https://ci.example.com/"),
        ("BUILD_TAG", "jenkins-api-17"),
    ];
    let out = basic_in_ci(&jenkins, 0).output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_project_starts(&out, "tb-jenkins-api-17-");
    assert_clean(&out.project);
}

#[test]
fn a_shard_or_a_ci_that_makes_no_sense_is_a_usage_error() {
    for shard in ["0/3", "4/3", "x"] {
        let out = basic_in_ci(&[], 0)
            .no_engine()
            .args(["--shard", shard])
            .output();
        assert_eq!(out.code, Some(2), "{shard}\n{out}");
        assert!(out.stderr.contains("the form is I/N"), "{shard}\n{out}");
    }
    let out = basic_in_ci(&[], 0)
        .no_engine()
        .args(["--ci", "travis"])
        .output();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr.contains(
            "[possible values: gitlab, github, buildkite, azure, circleci, jenkins, none]"
        ),
        "{out}"
    );
}
