//! Compose profiles on the real engine, under both flavors: a test service
//! kept out of a plain `docker compose up` by its profile runs with no flag,
//! with the dependencies it needs from other profiles; `--profile` brings in
//! a service from one more; services left out are not started.

use crate::common::engine::assert_clean;
use crate::common::{Flavor, Testbed, per_flavor};

fn a_profile_gated_test_service_runs_with_no_flags(flavor: Flavor) {
    let out = Testbed::fixture("profiles")
        .flavor(flavor)
        .project("profiles")
        .args(["-v"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    // The tests reached every service they call by name.
    for line in [
        "api: hello from api",
        "payments: payment accepted",
        "mail: 0 mails",
    ] {
        assert!(out.stdout.lines().any(|l| l == line), "{out}");
    }
    assert!(
        out.stderr.contains(
            "profiles in force: test (the test service `tests`), mocks (`mail`, which `tests` \
             depends on); left out: console (debug)"
        ),
        "{out}"
    );
    // The console, in a profile nothing enabled, was not started.
    assert!(
        out.stderr.contains("starting api, db, mail, payments\n"),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(a_profile_gated_test_service_runs_with_no_flags);

fn profile_debug_brings_in_a_service_from_another_profile(flavor: Flavor) {
    let out = Testbed::fixture("profiles")
        .flavor(flavor)
        .project("profile-debug")
        .args(["--profile", "debug"])
        .command(["sh", "-c", "wget -q -O - http://console:8080/"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout.trim(), "debug console", "{out}");
    assert!(
        out.stderr
            .contains("starting api, console, db, mail, payments\n"),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(profile_debug_brings_in_a_service_from_another_profile);
