//! Compose files as projects already keep them for CI: fixed container
//! names, named volumes, several runs of one file at once.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::common::engine::{assert_clean, docker, wait_until_reaped};
use crate::common::{Flavor, RUN_TIMEOUT, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};
use crate::session::{checkout_of, recorded_project, testbed};

/// Held by a test that keeps fixtures/fixed-names' own names and ports,
/// which no other stack can have meanwhile.
static FIXED: Mutex<()> = Mutex::new(());

/// How long after a run's exit anything of it may still be around.
const LEFT_BOUND: Duration = Duration::from_secs(25);

/// Runs at once of one file in each round: all but one lose its fixed
/// name, while compose is still creating their other containers and
/// volumes.
const AT_ONCE: usize = 5;

fn runs_that_lose_a_fixed_name_leave_nothing(flavor: Flavor) {
    let mut projects = Vec::new();
    for round in 0..4 {
        let runs: Vec<_> = (0..AT_ONCE)
            .map(|_| {
                Testbed::fixture("crdb-name")
                    .flavor(flavor)
                    .project(&format!("crdb-name-{round}"))
                    .args(["--keep-names"])
                    .spawn()
            })
            .collect();
        for run in runs {
            let out = run.finish(RUN_TIMEOUT);
            // Whatever the codes: one may win the name, and the others
            // lose it, to each other or to the other flavor's runs.
            assert!(matches!(out.code, Some(0 | 125)), "round {round}: {out}");
            wait_until_reaped(&out.project, LEFT_BOUND);
            projects.push(out.project.clone());
        }
    }
    // A failed `up`'s late creates land after it exited: look again, by
    // label and by name, once every round is over.
    for project in &projects {
        assert_clean(project);
    }
}
per_flavor!(runs_that_lose_a_fixed_name_leave_nothing);

fn two_runs_at_once_of_a_file_with_fixed_names_and_ports_both_pass(flavor: Flavor) {
    let runs: Vec<_> = (0..2)
        .map(|_| {
            Testbed::fixture("fixed-names")
                .flavor(flavor)
                .project("fixed-names")
                .args(["-v"])
                .spawn()
        })
        .collect();
    for run in runs {
        let out = run.finish(RUN_TIMEOUT);
        assert_eq!(out.code, Some(0), "{out}");
        assert!(
            out.stderr.contains(
                "postgres: container_name fixed-names-postgres dropped, so that runs at once do not collide"
            ),
            "{out}"
        );
        assert!(
            out.stderr
                .contains("postgres: port 5432:5432/tcp published as 5432/tcp"),
            "{out}"
        );
        assert_clean(&out.project);
    }
}
per_flavor!(two_runs_at_once_of_a_file_with_fixed_names_and_ports_both_pass);

/// The name of the project's postgres container, and where its port 5432
/// landed, as `testbed ports` says.
fn postgres(dir: &Path, flavor: Flavor, project: &str) -> (String, String) {
    let name = docker(&[
        "ps",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        "label=com.docker.compose.service=postgres",
        "--format",
        "{{.Names}}",
    ]);
    let ports = testbed(dir, flavor, &["ports"]);
    assert_eq!(ports.code, Some(0), "{ports}");
    let line = ports
        .stdout
        .lines()
        .find(|l| l.starts_with("postgres") && l.contains("5432/tcp"))
        .unwrap_or_else(|| panic!("{ports}"))
        .to_string();
    // SERVICE PORT ADDRESS VARIABLE
    let address = line.split_whitespace().nth(2).unwrap().to_string();
    (name.trim().to_string(), address)
}

/// Takes a stack that a failed test left up down with it.
struct Down<'a>(&'a Path, Flavor);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = testbed(self.0, self.1, &["down"]);
    }
}

fn up_keeps_the_files_names_and_ports_and_up_isolate_does_not(flavor: Flavor) {
    let _fixed = FIXED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = checkout_of("fixed-names");
    let d = dir.path();
    let _down = Down(d, flavor);

    let up = testbed(d, flavor, &["up"]);
    assert_eq!(up.code, Some(0), "{up}");
    let project = recorded_project(d);
    let (name, address) = postgres(d, flavor, &project);
    assert_eq!(name, "fixed-names-postgres");
    assert!(address.ends_with(":5432"), "{address}");
    let test = testbed(d, flavor, &["test"]);
    assert_eq!(test.code, Some(0), "{test}");
    let down = testbed(d, flavor, &["down"]);
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);

    let up = testbed(d, flavor, &["up", "--isolate"]);
    assert_eq!(up.code, Some(0), "{up}");
    let project = recorded_project(d);
    let (name, address) = postgres(d, flavor, &project);
    assert_ne!(name, "fixed-names-postgres");
    assert!(!address.ends_with(":5432"), "{address}");
    // The tests still reach every service by the name the file gave it.
    let test = testbed(d, flavor, &["test"]);
    assert_eq!(test.code, Some(0), "{test}");
    let down = testbed(d, flavor, &["down"]);
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);
}
per_flavor!(up_keeps_the_files_names_and_ports_and_up_isolate_does_not);

fn only_what_the_test_service_needs_is_started(flavor: Flavor) {
    let out = Testbed::fixture("alternatives")
        .flavor(flavor)
        .project("alternatives")
        .args(["-v", "--service", "tests-postgres"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "postgres\n", "{out}");
    assert!(
        out.stderr
            .contains("services: postgres (what `tests-postgres` depends on)"),
        "{out}"
    );
    let created = out
        .stderr
        .lines()
        .filter(|l| l.contains(" up --no-start") || l.contains(" create "));
    assert!(created.clone().all(|l| !l.contains("mysql")), "{out}");
    assert_clean(&out.project);
}
per_flavor!(only_what_the_test_service_needs_is_started);

fn start_interval_is_left_out_where_the_engine_predates_it(flavor: Flavor) {
    let out = Testbed::fixture("start-interval")
        .flavor(flavor)
        .project("start-interval")
        .args(["-v"])
        .output();
    match flavor {
        Flavor::V2 => {
            assert_eq!(out.code, Some(0), "{out}");
            assert_eq!(out.stdout, "db was healthy\n", "{out}");
            assert!(
                out.stderr
                    .contains("db: healthcheck.start_interval left out, as the engine predates it"),
                "{out}"
            );
        }
        // v1's schema refuses the field before any engine is asked.
        Flavor::V1 => {
            assert_eq!(out.code, Some(125), "{out}");
            assert!(
                out.stderr
                    .contains("hint: compose v1 does not know healthcheck.start_interval"),
                "{out}"
            );
        }
    }
    assert_clean(&out.project);
}
per_flavor!(start_interval_is_left_out_where_the_engine_predates_it);

fn the_project_directory_and_an_env_file_reach_compose(flavor: Flavor) {
    let out = Testbed::run()
        .flavor(flavor)
        .project("project-dir")
        .args(["--project-directory", "fixtures/env-file"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "from-dot-env\n", "its .env\n{out}");
    assert_clean(&out.project);
    let out = Testbed::fixture("env-file")
        .flavor(flavor)
        .project("env-file")
        .args(["--env-file", "fixtures/env-file/ci.env"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "from-ci-env\n", "{out}");
    assert_clean(&out.project);
}
per_flavor!(the_project_directory_and_an_env_file_reach_compose);

/// A Makefile passes the same flags to every subcommand.
fn every_command_that_takes_a_stack_takes_the_same_options(flavor: Flavor) {
    let dir = checkout_of("env-file");
    let d = dir.path();
    let _down = Down(d, flavor);
    let project = format!("tbe2e-makefile-{}-{}", flavor.tag(), std::process::id());
    let same = [
        "--compose",
        flavor.compose(),
        "-f",
        "compose.yml",
        "-p",
        &project,
        "--env-file",
        "ci.env",
        "--profile",
        "ci",
    ];
    let with_same = |command: &str| Testbed::new(command).dir(d).args(same).output();
    let up = with_same("up");
    assert_eq!(up.code, Some(0), "{up}");
    assert_eq!(recorded_project(d), project);
    for command in ["env", "ports", "test", "doctor"] {
        let out = with_same(command);
        assert!(
            !out.stderr.contains("unexpected argument"),
            "{command} refused one\n{out}"
        );
        assert_ne!(out.code, Some(2), "{command}\n{out}");
    }
    let down = with_same("down");
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);
}
per_flavor!(every_command_that_takes_a_stack_takes_the_same_options);

fn a_setup_step_migrates_before_the_tests_and_one_that_fails_stops_the_run(flavor: Flavor) {
    let without = Testbed::fixture("migrate")
        .flavor(flavor)
        .project("migrate-none")
        .output();
    assert_eq!(without.code, Some(1), "an empty database\n{without}");
    assert_clean(&without.project);

    let out = Testbed::fixture("migrate")
        .flavor(flavor)
        .project("migrate")
        .args(["--before", "backend sh /app/scripts/prestart.sh"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "schema v3\n", "{out}");
    assert!(
        out.stderr
            .contains("──── setup: backend sh /app/scripts/prestart.sh ────"),
        "{out}"
    );
    assert!(out.stderr.contains("prestart: done"), "{out}");
    assert!(
        out.stderr.lines().any(|l| l.starts_with("setup ")),
        "a phase in the summary\n{out}"
    );
    assert_clean(&out.project);

    let failed = Testbed::fixture("migrate")
        .flavor(flavor)
        .project("migrate-fail")
        .args(["--before", "backend sh -c 'echo boom; exit 4'"])
        .output();
    assert_eq!(failed.code, Some(125), "{failed}");
    assert!(
        failed.error_line().contains(
            "setup step `backend sh -c 'echo boom; exit 4'` exited with code 4; the tests did not run"
        ),
        "{failed}"
    );
    assert!(failed.stderr.contains("boom"), "{failed}");
    assert!(failed.stderr.contains("──── db log ────"), "{failed}");
    assert!(failed.stdout.is_empty(), "the tests ran\n{failed}");
    assert_clean(&failed.project);
}
per_flavor!(a_setup_step_migrates_before_the_tests_and_one_that_fails_stops_the_run);

fn up_runs_the_setup_steps_and_test_does_not_rerun_them(flavor: Flavor) {
    let dir = checkout_of("migrate");
    let d = dir.path();
    let _down = Down(d, flavor);
    let up = testbed(
        d,
        flavor,
        &["up", "--before", "backend sh /app/scripts/prestart.sh"],
    );
    assert_eq!(up.code, Some(0), "{up}");
    assert!(up.stderr.contains("prestart: done"), "{up}");
    let project = recorded_project(d);
    let test = testbed(d, flavor, &["test"]);
    assert_eq!(test.code, Some(0), "{test}");
    assert_eq!(test.stdout, "schema v3\n", "{test}");
    assert!(!test.stderr.contains("prestart"), "{test}");
    let down = testbed(d, flavor, &["down"]);
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);
}
per_flavor!(up_runs_the_setup_steps_and_test_does_not_rerun_them);

fn a_setup_step_of_an_unknown_service_is_a_usage_error(flavor: Flavor) {
    let out = Testbed::fixture("migrate")
        .flavor(flavor)
        .args(["--before", "nope migrate"])
        .output();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.error_line().contains(
            "--before names `nope`, which is not defined in `fixtures/migrate/compose.yml`"
        ),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("hint: the services are: backend, db, tests"),
        "{out}"
    );
}
per_flavor!(a_setup_step_of_an_unknown_service_is_a_usage_error);

/// Refused before anything is asked of docker.
#[test]
fn an_empty_setup_step_is_a_usage_error() {
    let out = Testbed::fixture("migrate")
        .args(["--before", ""])
        .no_engine()
        .env("PATH", "/nonexistent")
        .output();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.error_line().contains("--before needs a service"),
        "{out}"
    );
}

fn tests_that_others_attach_to_run_in_their_own_container(flavor: Flavor) {
    let out = Testbed::fixture("shared-localhost")
        .flavor(flavor)
        .project("shared-localhost")
        .args(["-v", "--service", "main"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.ends_with("postgres-ok\nredis-ok\n"), "{out}");
    assert!(
        out.stderr.contains(
            "the tests run in `main`'s own container, started with the stack: postgres, redis attach to it"
        ),
        "{out}"
    );
    assert_clean(&out.project);

    // Their code, their variables and their artifacts, as in a one-off;
    // tests this quick may end before the databases start, which then
    // cannot join their network: their code stands all the same.
    let artifacts = tempfile::tempdir().unwrap();
    let dir = artifacts.path().join("out");
    let out = Testbed::fixture("shared-localhost")
        .flavor(flavor)
        .project("shared-localhost-code")
        .args(["--service", "main", "-e", "LEVEL=debug", "--artifacts"])
        .args([dir.to_str().unwrap()])
        .command([
            "/bin/sh",
            "-c",
            "wget -q -O \"$ARTIFACTS_DIR/db.txt\" http://127.0.0.1:5432/ || sleep 1; \
             echo \"level=$LEVEL project=$TESTBED_PROJECT\"; exit 7",
        ])
        .output();
    assert_eq!(out.code, Some(7), "{out}");
    assert!(
        out.stdout
            .contains(&format!("level=debug project={}", out.project)),
        "{out}"
    );
    assert!(dir.join("logs/main.log").is_file(), "{out}");
    assert!(dir.join("logs/postgres.log").is_file(), "{out}");
    assert_clean(&out.project);
}
per_flavor!(tests_that_others_attach_to_run_in_their_own_container);

fn a_signal_stops_tests_in_their_own_container(flavor: Flavor) {
    let run = Testbed::fixture("shared-localhost")
        .flavor(flavor)
        .project("shared-localhost-term")
        .args(["--service", "main"])
        .command(["/bin/sh", "-c", "echo 'tests started'; sleep 300"])
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    run.signal(libc::SIGTERM);
    let out = run.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    assert_clean(&out.project);
}
per_flavor!(a_signal_stops_tests_in_their_own_container);

/// A fixed host port that something on the host holds, kept as written.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn a_kept_port_that_is_taken_says_to_drop_keep_ports() {
    crate::common::engine::require();
    // fixtures/alternatives fixes host port 15432.
    let _taken = std::net::TcpListener::bind("0.0.0.0:15432").expect("port 15432 is free");
    for flavor in [Flavor::V1, Flavor::V2] {
        let out = Testbed::fixture("alternatives")
            .flavor(flavor)
            .project("port-taken")
            .args(["--service", "tests-postgres", "--keep-ports"])
            .output();
        assert_eq!(out.code, Some(125), "{out}");
        assert!(out.stderr.contains("address already in use"), "{out}");
        assert!(
            out.stderr.contains(
                "hint: a host port the files fix is taken on the daemon's host: drop --keep-ports"
            ),
            "{out}"
        );
        assert_clean(&out.project);
        // Isolated, it runs beside what holds the port.
        let out = Testbed::fixture("alternatives")
            .flavor(flavor)
            .project("port-taken-isolated")
            .args(["--service", "tests-postgres"])
            .output();
        assert_eq!(out.code, Some(0), "{out}");
        assert_clean(&out.project);
    }
}

fn doctor_counts_what_run_would_rewrite(flavor: Flavor) {
    let out = Testbed::new("doctor")
        .flavor(flavor)
        .args(["-f", "fixtures/fixed-names/compose.yml"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stdout.contains(
            "files: `run` drops 6 container_name and moves 6 fixed host ports to ones the daemon picks"
        ),
        "{out}"
    );
}
per_flavor!(doctor_counts_what_run_would_rewrite);
