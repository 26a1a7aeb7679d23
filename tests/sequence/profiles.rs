//! Compose profiles: the test service's own are enabled without a flag,
//! `--profile` (or `TESTBED_PROFILES`, `x-testbed`) adds others and then
//! replaces `COMPOSE_PROFILES`, as compose's own flag does; every compose
//! command but `config` gets the same `--profile` flags, and services the
//! profiles leave out are not started.

use crate::support::{Fake, Recorded};
use crate::{Sequence, assert_preflight, compose_argv, compose_argv_with, is};

/// `db` always runs; `tests` and the `stub` it calls are in `test`, and a
/// `console` that nothing needs is in `debug`.
fn gated() -> Fake {
    Fake::new()
        .env("FAKE_SERVICES", "console db stub tests")
        .env("FAKE_PROFILES", "tests:test stub:test console:debug")
        .env("FAKE_DEPENDS", "tests:db tests:stub")
}

/// The `--profile` flags of the `compose up` of a run, and what it created.
fn up_of(run: &Recorded) -> (Vec<String>, Vec<String>) {
    let up = run.only_compose("up");
    let profiles = up
        .argv
        .windows(2)
        .filter(|w| w[0] == "--profile")
        .map(|w| w[1].clone())
        .collect();
    let created = up
        .compose_args()
        .iter()
        .filter(|w| !w.starts_with('-'))
        .cloned()
        .collect();
    (profiles, created)
}

#[test]
fn a_profile_gated_test_service_runs_with_its_profile_on_every_command() {
    let run = gated().run();
    run.assert_code(0).assert_nothing_left();
    let mut seq = Sequence::new(&run);
    assert_preflight(&mut seq, &run);
    seq.next("`compose up` with the test service's profile", |c| {
        c.argv == compose_argv_with(&run, &["test"], &["up", "--no-start", "db", "stub"])
    });
    let p = run.project();
    let test_run = run.only_compose("run");
    assert_eq!(
        test_run.argv[..compose_argv_with(&run, &["test"], &["run"]).len()],
        compose_argv_with(&run, &["test"], &["run"]),
        "{}",
        run.describe()
    );
    assert!(
        run.calls_where(|c| is(c, &["start", "fakeid-console"]))
            .is_empty(),
        "a service left out by its profile was started\n{}",
        run.describe()
    );
    assert!(test_run.argv.contains(&format!("{p}-tests-run")));
}

#[test]
fn profile_adds_a_service_and_compose_profiles_is_honoured_unless_profiles_are_given() {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let debug = (words(&["debug", "test"]), words(&["console", "db", "stub"]));
    for run in [
        gated().args(&["--profile", "debug"]).run(),
        gated().env("TESTBED_PROFILES", "debug").run(),
        gated().env("COMPOSE_PROFILES", "debug").run(),
    ] {
        run.assert_code(0);
        assert_eq!(up_of(&run), debug, "{}", run.describe());
    }
    // As compose's own --profile does, one given to testbed replaces
    // COMPOSE_PROFILES; so does x-testbed's.
    let with_block = "x-testbed:\n  profiles: [ci]\nservices:\n  tests: {image: busybox}\n";
    for run in [
        gated()
            .env("COMPOSE_PROFILES", "debug")
            .args(&["--profile", "ci"])
            .run(),
        gated()
            .compose_file(with_block)
            .env("COMPOSE_PROFILES", "debug")
            .run(),
    ] {
        run.assert_code(0);
        let ci = (words(&["ci", "test"]), words(&["db", "stub"]));
        assert_eq!(up_of(&run), ci, "{}", run.describe());
    }
}

#[test]
fn a_dependency_in_another_profile_brings_its_profile_in() {
    let run = Fake::new()
        .env("FAKE_SERVICES", "mail tests")
        .env("FAKE_PROFILES", "tests:test mail:mocks")
        .env("FAKE_DEPENDS", "tests:mail")
        .args(&["-v"])
        .run();
    run.assert_code(0).assert_stderr_contains(
        "profiles in force: test (the test service `tests`), mocks (`mail`, which `tests` depends on)",
    );
    assert_eq!(
        run.only_compose("up").argv,
        compose_argv_with(&run, &["test", "mocks"], &["up", "--no-start", "mail"])
    );
}

#[test]
fn dry_run_and_verbose_show_the_profiles_in_force_and_what_they_leave_out() {
    let expected = "profiles in force: test (the test service `tests`); left out: console (debug)";
    let run = gated().args(&["-v"]).run();
    run.assert_code(0).assert_stderr_contains(expected);
    let run = gated().args(&["--dry-run"]).run();
    run.assert_code(0);
    assert!(
        run.stdout.lines().any(|l| l == format!("# {expected}")),
        "{}",
        run.describe()
    );
    let p = run.project();
    let f = &run.compose_file;
    assert!(
        run.stdout.contains(&format!(
            "docker compose -p {p} -f {f} --profile test up --no-start db stub"
        )),
        "{}",
        run.describe()
    );
}

/// Without profiles in the files nothing changes: no `--profile` on any
/// command but `config`'s.
#[test]
fn a_stack_without_profiles_gets_no_profile_flags() {
    let run = Fake::new().run();
    run.assert_code(0);
    for call in run
        .calls
        .iter()
        .filter(|c| c.compose_subcommand().is_some())
    {
        let profiles = call.argv.iter().filter(|w| *w == "--profile").count();
        let expected = usize::from(call.is_compose("config"));
        assert_eq!(profiles, expected, "`docker {}`", call.line());
    }
    assert_eq!(
        run.only_compose("config").argv,
        compose_argv(&run, &["config"])
    );
}
