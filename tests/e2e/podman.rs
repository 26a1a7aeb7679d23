//! The same stacks on podman's Docker-compatible API: the codes, a crash,
//! an unhealthy dependency (podman without systemd runs no healthcheck of
//! its own), a healthy chain, a built image, a signal, and doctor naming
//! the engine.

use crate::common::engine::{PODMAN_HOST, assert_clean_at, require_podman};
use crate::common::{Flavor, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};

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
}
