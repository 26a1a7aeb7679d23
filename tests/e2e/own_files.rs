//! The stack's own files (fixtures/own-files: a read-only config file, a
//! read-only data directory, a read-write output directory that the api and
//! the tests share, and a secret from a file) in every topology: on the
//! host, in a job container with the workspace on a volume or a directory
//! of the host (repointed) or on its own layer (seeded), over ssh and through a Docker context
//! (seeded). The tests pass only if every file arrived; what they and the
//! api wrote must come back into the project's `out/`.

use std::path::Path;

use crate::common::engine::{assert_clean, tcp_daemon, wait_until_reaped};
use crate::common::{
    Flavor, Output, REAP_BOUND, RUN_TIMEOUT, START_TIMEOUT, Testbed, per_flavor, per_flavor_cases,
};
use crate::job::{JobContainer, WORKSPACE};
use crate::remote::DockerConfig;
use crate::session::{checkout_of, recorded_project};
use crate::ssh::Sshd;

/// What the api and the tests write into `out/`.
pub const API: &str = "api saw 2 rows\n";
pub const TESTS: &str = "tests passed\n";

/// A copy of the fixture, where a run may write.
pub fn checkout() -> tempfile::TempDir {
    checkout_of("own-files")
}

pub fn run_in(dir: &Path, flavor: Flavor, scenario: &str) -> Testbed {
    Testbed::run()
        .dir(dir)
        .flavor(flavor)
        .project(scenario)
        .args(["-v"])
}

/// The run passed, its tests found every file, and `out/` holds what was
/// written.
fn assert_passed_with_output(out: &Output, read: impl Fn(&str) -> Option<String>) {
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "own files ok\n", "{out}");
    assert_eq!(read("out/api.txt").as_deref(), Some(API), "{out}");
    assert_eq!(read("out/tests.txt").as_deref(), Some(TESTS), "{out}");
    assert_clean(&out.project);
}

pub fn seeded(out: &Output, path: &str) -> bool {
    out.stderr.lines().any(|line| {
        line.contains(&format!(" mounts {path}: the daemon cannot see it"))
            && line.contains("so it is seeded")
    })
}

fn own_files_on_the_host_are_mounted_as_they_are(flavor: Flavor) {
    let tmp = checkout();
    let out = run_in(tmp.path(), flavor, "own-host").output();
    let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).ok();
    assert_passed_with_output(&out, read);
    let project = tmp.path().canonicalize().unwrap();
    let as_is = format!("api mounts {}/data as it is", project.display());
    assert!(out.stderr.contains(&as_is), "{out}");
}
per_flavor!(own_files_on_the_host_are_mounted_as_they_are);

fn own_files_reach_the_stack_from_a_job(
    flavor: Flavor,
    made: fn(JobContainer) -> JobContainer,
    scenario: &str,
    how: &str,
) {
    let job = made(JobContainer::new(flavor))
        .copy_fixture("fixtures/own-files")
        .start();
    let out = job
        .testbed(Testbed::run().project(scenario).args(["-v"]))
        .output();
    assert_passed_with_output(&out, |p| job.read_file(p));
    let data = format!("{WORKSPACE}/data");
    match how {
        "seeded" => assert!(seeded(&out, &data), "{out}"),
        _ => assert!(
            out.stderr
                .contains(&format!("api mounts {data}: the daemon finds it at ")),
            "{out}"
        ),
    }
    // `doctor` says the same of the workspace.
    let doctor = job.exec(&["testbed", "doctor"]);
    assert_eq!(doctor.code, Some(0), "{doctor}");
    let said = format!("· bind mounts: {how}: the daemon ");
    assert!(doctor.stdout.contains(&said), "{doctor}");
    // Nothing of the job's was created on the daemon's host.
    for only_in_the_job in ["config", "data", "out"] {
        let path = format!("{WORKSPACE}/{only_in_the_job}");
        assert!(!Path::new(&path).exists(), "{path} on the host\n{out}");
    }
}
per_flavor_cases!(own_files_reach_the_stack_from_a_job, gate = crate::job::job_ready, {
    own_files_in_a_job_volume_are_repointed: (
        JobContainer::workspace_volume,
        "own-volume",
        "repointed",
    );
    own_files_in_a_job_host_dir_are_repointed: (
        JobContainer::workspace_host_dir,
        "own-hostdir",
        "repointed",
    );
    own_files_on_the_job_layer_are_seeded: (
        JobContainer::workspace_on_layer,
        "own-layer",
        "seeded",
    );
});

fn own_files_are_seeded_over_ssh(flavor: Flavor) {
    let sshd = Sshd::start();
    let tmp = checkout();
    let out = sshd.testbed(run_in(tmp.path(), flavor, "own-ssh")).output();
    let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).ok();
    assert_passed_with_output(&out, read);
    let project = tmp.path().canonicalize().unwrap();
    assert!(
        seeded(&out, &format!("{}/data", project.display())),
        "{out}"
    );
}
per_flavor!(own_files_are_seeded_over_ssh);

fn own_files_are_seeded_through_a_remote_context(flavor: Flavor) {
    let config = DockerConfig::new();
    config.context("tb-own", &tcp_daemon());
    let tmp = checkout();
    let out = config
        .testbed(run_in(tmp.path(), flavor, "own-ctx"))
        .env("DOCKER_CONTEXT", "tb-own")
        .output();
    let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).ok();
    assert_passed_with_output(&out, read);
    let project = tmp.path().canonicalize().unwrap();
    let file = format!("{}/config/app.conf", project.display());
    assert!(seeded(&out, &file), "{out}");
}
per_flavor!(own_files_are_seeded_through_a_remote_context);

/// The seeded volume goes with the stack: the reaper removes it when
/// testbed is killed under its tests.
fn a_seeded_stack_is_reaped_after_sigkill(flavor: Flavor) {
    let tmp = checkout();
    let run = run_in(tmp.path(), flavor, "own-kill")
        .env("DOCKER_HOST", &tcp_daemon())
        .command(["sh", "-c", "echo tests started; sleep 300"])
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().unwrap().to_string();
    run.signal(libc::SIGKILL);
    let out = run.finish(RUN_TIMEOUT);
    assert_eq!(out.code, None, "testbed was not killed\n{out}");
    assert!(out.stderr.contains("so it is seeded"), "{out}");
    wait_until_reaped(&project, REAP_BOUND);
    assert_clean(&project);
}
per_flavor!(a_seeded_stack_is_reaped_after_sigkill);

/// `up` seeds, each `test` seeds again and brings back what the tests
/// wrote, `down` removes the volume with the stack.
fn the_laptop_loop_seeds_each_time_and_down_removes_the_volume(flavor: Flavor) {
    let tmp = checkout();
    let host = tcp_daemon();
    let testbed = |subcommand: &str| {
        Testbed::new(subcommand)
            .dir(tmp.path())
            .flavor(flavor)
            .env("DOCKER_HOST", &host)
            .output()
    };
    let up = testbed("up");
    assert_eq!(up.code, Some(0), "{up}");
    let project = recorded_project(tmp.path());
    let test = testbed("test");
    assert_eq!(test.code, Some(0), "{test}");
    assert_eq!(test.stdout, "own files ok\n", "{test}");
    let written = std::fs::read_to_string(tmp.path().join("out/tests.txt"));
    assert_eq!(written.ok().as_deref(), Some(TESTS), "{test}");
    let down = testbed("down");
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);
}
per_flavor!(the_laptop_loop_seeds_each_time_and_down_removes_the_volume);
