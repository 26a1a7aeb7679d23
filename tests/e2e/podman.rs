//! The same stacks on podman's Docker-compatible API: the codes, a crash,
//! an unhealthy dependency (podman without systemd runs no healthcheck of
//! its own), a healthy chain, a built image, a signal, artifacts bound and
//! copied, the stack's own files seeded, and doctor naming the engine.

use crate::artifacts::{JUNIT, assert_logs_saved, read};
use crate::common::engine::{
    PODMAN_HOST, PODMAN_SOCKET, assert_clean_at, require_podman, tcp_daemon_at,
};
use crate::common::{Flavor, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};
use crate::own_files::{API, TESTS, checkout, run_in, seeded};

/// `testbed run` of `fixture` against podman.
fn on_podman(fixture: &str, flavor: Flavor) -> Testbed {
    Testbed::fixture(fixture)
        .flavor(flavor)
        .project(&format!("podman-{fixture}"))
        .env("DOCKER_HOST", PODMAN_HOST)
}

fn the_tests_code_comes_through(flavor: Flavor) {
    for code in [0, 3] {
        let out = on_podman("basic", flavor)
            .command(["sh", "-c", &format!("echo tests ran; exit {code}")])
            .output();
        assert_eq!(out.code, Some(code), "{out}");
        assert!(out.stdout.contains("tests ran"), "{out}");
        assert_clean_at(Some(PODMAN_HOST), &out.project);
    }
}
per_flavor!(
    the_tests_code_comes_through,
    crate::common::engine::require_podman
);

fn a_healthy_chain_starts_in_order(flavor: Flavor) {
    // migrate completes, db gets healthy, api waits for both.
    let out = on_podman("depends", flavor).args(["-v"]).output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains("engine: Podman "), "{out}");
    assert_clean_at(Some(PODMAN_HOST), &out.project);
}
per_flavor!(
    a_healthy_chain_starts_in_order,
    crate::common::engine::require_podman
);

fn a_crashing_dependency_is_a_failed_start(flavor: Flavor) {
    for fixture in ["crash", "crash-no-healthcheck"] {
        let out = on_podman(fixture, flavor).output();
        assert_eq!(out.code, Some(125), "{out}");
        assert!(out.error_line().contains("exited with code 3"), "{out}");
        assert!(out.stderr.contains("FATAL"), "its log is shown\n{out}");
        assert_clean_at(Some(PODMAN_HOST), &out.project);
    }
}
per_flavor!(
    a_crashing_dependency_is_a_failed_start,
    crate::common::engine::require_podman
);

fn an_unhealthy_dependency_is_found_though_podman_runs_no_check(flavor: Flavor) {
    // Its healthcheck fails: podman leaves it `starting` for good, and
    // testbed's own runs of the check decide.
    let out = on_podman("unhealthy", flavor).output();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(out.error_line().contains("turned unhealthy"), "{out}");
    assert!(out.stderr.contains("dep is broken"), "{out}");
    assert_clean_at(Some(PODMAN_HOST), &out.project);
}
per_flavor!(
    an_unhealthy_dependency_is_found_though_podman_runs_no_check,
    crate::common::engine::require_podman
);

fn an_image_is_built_with_the_classic_builder_then_reused(flavor: Flavor) {
    // A name of its own, so that the image is missing at first: podman
    // says "image not known" where Docker says "No such image". Compose v2
    // would build with a BuildKit container, which needs a registry.
    let prefix = format!("tb-podman-{}-{}", flavor.tag(), std::process::id());
    let run = || on_podman("built", flavor).args(["--image-prefix", &prefix]);
    let built = run().output();
    assert_eq!(built.code, Some(0), "{built}");
    assert!(built.stderr.contains("building tests"), "{built}");
    assert_clean_at(Some(PODMAN_HOST), &built.project);
    let reused = run().output();
    assert_eq!(reused.code, Some(0), "{reused}");
    assert!(!reused.stderr.contains("building"), "{reused}");
    assert_clean_at(Some(PODMAN_HOST), &reused.project);
    let image = format!("{prefix}-tests:latest");
    crate::common::engine::docker_with(&["image", "rm", &image], &[("DOCKER_HOST", PODMAN_HOST)]);
}
per_flavor!(
    an_image_is_built_with_the_classic_builder_then_reused,
    crate::common::engine::require_podman
);

fn sigterm_during_the_tests_exits_143_and_leaves_nothing(flavor: Flavor) {
    let running = on_podman("basic", flavor)
        .command(["sh", "-c", "echo tests started; sleep 300"])
        .spawn();
    running.wait_for_stdout("tests started", START_TIMEOUT);
    running.signal(libc::SIGTERM);
    let out = running.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    assert_clean_at(Some(PODMAN_HOST), &out.project);
}
per_flavor!(
    sigterm_during_the_tests_exits_143_and_leaves_nothing,
    crate::common::engine::require_podman
);

fn artifacts_come_back_bound_and_copied(flavor: Flavor) {
    for mode in ["bind", "copy"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = crate::artifacts::run(flavor, &format!("podman-art-{mode}"), tmp.path())
            .env("DOCKER_HOST", PODMAN_HOST)
            .args(["--artifacts-mode", mode])
            .output();
        assert_eq!(out.code, Some(0), "{mode}\n{out}");
        assert!(
            out.stderr.contains(&format!("artifacts: {mode} (")),
            "{mode}\n{out}"
        );
        assert_eq!(read(tmp.path(), "result.txt"), "done\n", "{mode}\n{out}");
        assert_eq!(read(tmp.path(), "reports/junit.xml"), JUNIT, "{mode}");
        assert_logs_saved(tmp.path(), &out);
        assert_clean_at(Some(PODMAN_HOST), &out.project);
    }
}
per_flavor!(
    artifacts_come_back_bound_and_copied,
    crate::common::engine::require_podman
);

/// Through TCP the daemon cannot see the checkout, so its files are
/// uploaded into a volume (podman#21861 loses an archive uploaded at a
/// volume's mount point) and what the stack wrote comes back.
fn own_files_are_seeded_through_tcp(flavor: Flavor) {
    let tmp = checkout();
    let out = run_in(tmp.path(), flavor, "podman-own-tcp")
        .env("DOCKER_HOST", &tcp_daemon_at(PODMAN_SOCKET))
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "own files ok\n", "{out}");
    let project = tmp.path().canonicalize().unwrap();
    let data = format!("{}/data", project.display());
    assert!(seeded(&out, &data), "{out}");
    let written = |p: &str| std::fs::read_to_string(tmp.path().join(p)).ok();
    assert_eq!(written("out/api.txt").as_deref(), Some(API), "{out}");
    assert_eq!(written("out/tests.txt").as_deref(), Some(TESTS), "{out}");
    assert_clean_at(Some(PODMAN_HOST), &out.project);
}
per_flavor!(
    own_files_are_seeded_through_tcp,
    crate::common::engine::require_podman
);

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn doctor_names_podman() {
    require_podman();
    let out = Testbed::new("doctor")
        .env("NO_COLOR", "1")
        .env("DOCKER_HOST", PODMAN_HOST)
        .output();
    assert!(
        out.stdout_line("✓ daemon: ")
            .starts_with("✓ daemon: Podman 4."),
        "{out}"
    );
    let healthchecks = out.stdout_line("· healthchecks: ");
    assert!(healthchecks.contains("testbed runs each itself"), "{out}");
    // setup-engine.sh installs Debian's podman, whose netavark brings
    // aardvark-dns.
    assert_eq!(
        out.stdout_line("✓ service names: "),
        "✓ service names: resolved by aardvark-dns on netavark's networks",
        "{out}"
    );
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn a_podman_socket_that_is_not_served_is_an_engine_error() {
    require_podman();
    let host = "unix:///run/podman/not-served.sock";
    let out = Testbed::fixture("basic").env("DOCKER_HOST", host).output();
    assert_eq!(out.code, Some(125), "{out}");
    assert!(
        out.error_line().contains(&format!(
            "the Docker daemon at DOCKER_HOST={host} does not answer"
        )),
        "{out}"
    );
    assert!(
        out.stderr
            .contains(&format!("`podman system service --time=0 {host} &`")),
        "{out}"
    );
}
