//! The CI job image a user builds from a checkout: the static testbed of
//! scripts/static-binary.sh, put by the top-level Dockerfile on a base with
//! the docker CLI and the compose plugin (scripts/job-image.sh). No registry
//! is reachable here, so the base is the local testbed-job-base:latest that
//! scripts/build-job-image.sh builds (the gate `job_ready`), in place of
//! docker:cli. Every image these tests tag carries the test process's pid in
//! its name and is removed when the test ends.

use std::process::Command;
use std::time::Duration;

use crate::artifacts::{JUNIT, PARTIAL_THEN_FAIL, assert_logs_saved, read};
use crate::common::engine::{assert_clean, docker, docker_quietly, docker_with, require};
use crate::common::{Flavor, Output, ROOT, Running, Testbed};
use crate::job::{JobContainer, job_ready};

/// How long a script that may build testbed with cargo is given.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// `bash scripts/<script> <args>` in the checkout, to the end.
fn script(script: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(format!("scripts/{script}"))
        .args(args)
        .current_dir(ROOT);
    Running::start(&mut cmd, None).finish(BUILD_TIMEOUT)
}

/// An image tag of this test process, removed (with its untagged layers)
/// when dropped.
struct Tag(String);

impl Tag {
    fn new(what: &str) -> Tag {
        Tag(format!("testbed-e2e-{what}-{}:latest", std::process::id()))
    }

    /// Builds it from a Dockerfile and the files `(name, path)` beside it.
    fn build(what: &str, dockerfile: &str, files: &[(&str, &str)]) -> Tag {
        let tag = Tag::new(what);
        let ctx = tempfile::tempdir().unwrap();
        std::fs::write(ctx.path().join("Dockerfile"), dockerfile).unwrap();
        for (name, path) in files {
            std::fs::copy(path, ctx.path().join(name)).unwrap();
        }
        // The legacy builder: this engine's CLI has no buildx.
        let ctx = ctx.path().to_str().unwrap();
        let build = ["build", "-q", "--force-rm", "-t", &tag.0, ctx];
        docker_with(&build, &[("DOCKER_BUILDKIT", "0")]);
        tag
    }

    fn exists(&self) -> bool {
        docker_quietly(&["image", "inspect", &self.0])
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = docker_quietly(&["image", "rm", &self.0]);
    }
}

/// `docker run --rm <image> <args>`, which must succeed; its stdout.
fn run_in(image: &Tag, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm", image.0.as_str()];
    all.extend(args);
    docker(&all)
}

/// The job image on a local stand-in for docker:cli: the tools work in it,
/// a job container of it with the host's socket runs a stack on a
/// bind-mounted workspace, hands the tests' exit code back and brings the
/// artifacts to the host.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn job_image_runs_a_stack_from_a_job_container() {
    job_ready();
    // Like docker:cli, the base has an entrypoint of its own, which would
    // turn a job's `sh -c …` into `docker sh -c …`.
    let base = Tag::build(
        "job-image-base",
        "FROM testbed-job-base:latest\nENTRYPOINT [\"docker\"]\n",
        &[],
    );
    let tag = Tag::new("job-image");
    let built = script(
        "job-image.sh",
        &["--base", &base.0, "--tag", &tag.0, "--debug"],
    );
    assert_eq!(built.code, Some(0), "{built}");
    assert_eq!(built.stdout, format!("{}\n", tag.0), "{built}");

    let version = run_in(&tag, &["testbed", "--version"]);
    assert_eq!(
        version,
        format!("testbed {}\n", env!("CARGO_PKG_VERSION")),
        "{built}"
    );
    let compose = run_in(&tag, &["docker", "compose", "version"]);
    assert!(compose.starts_with("Docker Compose version "), "{compose}");
    // The base's entrypoint is gone: a command runs as it is given.
    let script_line = run_in(&tag, &["sh", "-c", "echo script ran"]);
    assert_eq!(script_line, "script ran\n");
    let config = ["{{json .Config.Entrypoint}}", "{{json .Config.Cmd}}"].join(" ");
    let config = docker(&["image", "inspect", "--format", &config, &tag.0]);
    assert_eq!(config, "null [\"sh\"]\n");

    // The workspace bind-mounted from the host at its own path (the daemon
    // finds it as it is) and at /builds (testbed repoints the artifacts).
    let same_path: fn(JobContainer) -> JobContainer = JobContainer::workspace_host_path;
    let workspaces = [
        ("same path", same_path),
        ("/builds", JobContainer::workspace_host_dir),
    ];
    for flavor in [Flavor::V2, Flavor::V1] {
        for (at, workspace) in workspaces {
            let job = workspace(JobContainer::new(flavor).image(&tag.0))
                .copy_fixture("fixtures/artifacts")
                .start();
            let on_host = job.on_host("build/api_tests").unwrap();
            let artifacts = format!("{}/build/api_tests", job.workspace());
            let run = |scenario: &str| {
                Testbed::run()
                    .project(scenario)
                    .args(["-v", "--artifacts", "build/api_tests"])
            };

            let out = job.testbed(run("image-pass")).output();
            assert_eq!(out.code, Some(0), "{at}\n{out}");
            assert!(out.stderr.contains("tests passed"), "{at}\n{out}");
            let said = format!("artifacts: 2 files and 2 logs in {artifacts}/");
            assert!(out.stderr.contains(&said), "{at}\n{out}");
            assert_eq!(read(&on_host, "result.txt"), "done\n", "{at}\n{out}");
            assert_eq!(read(&on_host, "reports/junit.xml"), JUNIT, "{at}\n{out}");
            assert_logs_saved(&on_host, &out);
            assert_clean(&out.project);

            let fail = run("image-fail").command(["sh", "-c", PARTIAL_THEN_FAIL]);
            let out = job.testbed(fail).output();
            assert_eq!(out.code, Some(3), "{at}\n{out}");
            assert!(out.stderr.contains("tests failed (exit 3)"), "{at}\n{out}");
            assert_eq!(read(&on_host, "partial.txt"), "partial\n", "{at}\n{out}");
            assert_clean(&out.project);
        }
    }
}

/// scripts/static-binary.sh builds a testbed that needs nothing but the
/// kernel: it runs as the only file of a FROM scratch image.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn static_binary_runs_in_an_empty_scratch_image() {
    require();
    let built = script("static-binary.sh", &["--debug"]);
    assert_eq!(built.code, Some(0), "{built}");
    let binary = built.stdout.trim_end();
    assert!(
        binary.ends_with("/testbed") && !binary.contains('\n'),
        "not one path on stdout\n{built}"
    );
    let image = Tag::build(
        "static-binary",
        "FROM scratch\nCOPY testbed /testbed\nENTRYPOINT [\"/testbed\"]\n",
        &[("testbed", binary)],
    );
    let files = docker(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        &image.0,
    ]);
    assert_eq!(files, "1\n", "the image holds more than the binary");
    let version = run_in(&image, &["--version"]);
    assert_eq!(version, format!("testbed {}\n", env!("CARGO_PKG_VERSION")));
}

/// A base that lacks a tool fails the build, names what is missing, and
/// leaves no tag.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn job_image_on_a_base_without_the_tools_fails_and_leaves_no_tag() {
    job_ready();
    let no_compose = Tag::build(
        "no-compose-base",
        "FROM testbed-job-base:latest\nRUN rm /root/.docker/cli-plugins/docker-compose\n",
        &[],
    );
    for (base, missing) in [
        ("testbed-busybox:latest", "no docker CLI in the base image"),
        (
            no_compose.0.as_str(),
            "no docker compose v2 plugin in the base image",
        ),
    ] {
        let tag = Tag::new("job-image-bad");
        let out = script(
            "job-image.sh",
            &["--base", base, "--tag", &tag.0, "--debug"],
        );
        assert_eq!(out.code, Some(1), "{out}");
        assert_eq!(out.stdout, "", "{out}");
        let error = out
            .stderr
            .lines()
            .find(|l| l.starts_with("job-image: error: "))
            .unwrap_or_else(|| panic!("no error line\n{out}"));
        assert!(error.contains(&format!("{base}: {missing}")), "{out}");
        assert!(!tag.exists(), "{} was tagged\n{out}", tag.0);
    }
    // Nor the container of the failed step.
    let ancestor = format!("ancestor={}", no_compose.0);
    let left = docker(&["ps", "-aq", "--filter", &ancestor]);
    assert_eq!(left, "", "the failed build left a container");
}
