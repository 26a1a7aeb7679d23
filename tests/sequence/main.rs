//! The docker and compose commands testbed runs, in order, checked against a
//! fake `docker` (tests/fake-docker/docker) that records each argv as a JSON
//! line and misbehaves on request through `FAKE_*` variables.

mod support;

use std::time::Duration;

use support::{Call, Run, Testbed};

/// What `ps` must filter on to list the stack's service containers.
fn lists_services(call: &Call, project: &str) -> bool {
    call.is_docker("ps")
        && call
            .argv
            .contains(&format!("label=com.docker.compose.project={project}"))
        && call
            .argv
            .contains(&"label=com.docker.compose.oneoff=False".to_string())
}

fn is(call: &Call, words: &[&str]) -> bool {
    call.argv == words
}

/// `^[a-z0-9][a-z0-9_-]*$`, what compose v2 accepts as a project name.
fn valid_project_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Walks the recorded calls in order.
struct Sequence<'a> {
    run: &'a Run,
    at: usize,
}

impl<'a> Sequence<'a> {
    fn new(run: &'a Run) -> Self {
        Sequence { run, at: 0 }
    }

    fn next(&mut self, what: &str, matches: impl Fn(&Call) -> bool) -> &'a Call {
        let call = self.run.calls.get(self.at);
        assert!(
            call.is_some_and(&matches),
            "docker call #{} should be {what}\n{}",
            self.at + 1,
            self.run.describe()
        );
        self.at += 1;
        call.unwrap()
    }

    /// One or more calls that match.
    fn some(&mut self, what: &str, matches: impl Fn(&Call) -> bool) {
        self.next(what, &matches);
        while self.run.calls.get(self.at).is_some_and(&matches) {
            self.at += 1;
        }
    }

    fn end(&self) {
        assert_eq!(
            self.at,
            self.run.calls.len(),
            "no more docker calls expected after #{}\n{}",
            self.at,
            self.run.describe()
        );
    }
}

fn assert_passing_sequence(run: &Run) {
    run.assert_code(0);
    let p = run.project();
    assert!(valid_project_name(&p), "invalid project name {p:?}");
    let compose = |rest: &[&str]| -> Vec<String> {
        ["compose", "-p", &p, "-f", &run.compose_file]
            .iter()
            .chain(rest)
            .map(|w| w.to_string())
            .collect()
    };
    let test_container = format!("{p}-tests-run");

    let mut seq = Sequence::new(run);
    seq.next("the compose version probe", |c| {
        is(c, &["compose", "version", "--short"])
    });
    // `compose config` and the daemon check run concurrently.
    let first = seq.next("`compose config` or `version`", |_| true);
    let second = seq.next("`compose config` or `version`", |_| true);
    let (config, version) = if first.is_docker("version") {
        (second, first)
    } else {
        (first, second)
    };
    assert_eq!(config.argv, compose(&["config"]), "{}", run.describe());
    assert_eq!(
        version.argv.get(..2),
        Some(&["version".to_string(), "--format".to_string()][..]),
        "{}",
        run.describe()
    );
    seq.next("`compose up -d db`", |c| {
        c.argv == compose(&["up", "-d", "db"])
    });
    seq.next("`ps` of the project's services", |c| lists_services(c, &p));
    seq.some("`inspect` of the dependency", |c| {
        is(c, &["inspect", "fakeid-db"])
    });
    let test_run = seq.next("`compose run` of the tests", |c| {
        c.argv
            == compose(&[
                "run",
                "--name",
                &test_container,
                "--no-deps",
                "-T",
                "-e",
                "TESTBED_PROJECT",
                "tests",
            ])
    });
    assert_eq!(
        test_run.env.get("TESTBED_PROJECT"),
        Some(&p),
        "TESTBED_PROJECT travels in the environment of `compose run`"
    );
    seq.next("`inspect` of the test container", |c| {
        is(c, &["inspect", &test_container])
    });
    seq.next("`rm` of the test container", |c| {
        is(c, &["rm", "-f", "-v", &test_container])
    });
    seq.next("`compose down`", |c| {
        c.argv == compose(&["down", "-v", "--remove-orphans", "-t", "2"])
    });
    seq.end();
    assert!(
        run.stdout.contains("fake tests ran"),
        "the tests' output goes to stdout\n{}",
        run.describe()
    );
}

#[test]
fn a_passing_run_issues_the_documented_commands_in_order() {
    assert_passing_sequence(&Testbed::new().run());
}

#[test]
fn an_explicit_compose_plugin_runs_the_same_commands() {
    assert_passing_sequence(&Testbed::new().args(&["--compose", "docker compose"]).run());
}

#[test]
fn env_values_travel_in_the_environment_never_on_argv() {
    let run = Testbed::new()
        .args(&["-e", "SECRET_TOKEN", "-e", "LEVEL=debug"])
        .env("SECRET_TOKEN", "hunter2-secret")
        .env(
            "FAKE_DOCKER_RECORD_ENV",
            "TESTBED_PROJECT SECRET_TOKEN LEVEL",
        )
        .run();
    run.assert_code(0);
    let test_run = run.only_compose("run");
    assert!(
        test_run.has_pair("-e", "SECRET_TOKEN"),
        "{}",
        run.describe()
    );
    assert!(test_run.has_pair("-e", "LEVEL"), "{}", run.describe());
    for call in &run.calls {
        for word in &call.argv {
            assert!(
                !word.contains("hunter2") && !word.contains("LEVEL=") && !word.contains("debug"),
                "a value reached the argv of `docker {}`",
                call.line()
            );
        }
    }
    assert_eq!(
        test_run.env.get("SECRET_TOKEN").map(String::as_str),
        Some("hunter2-secret")
    );
    assert_eq!(test_run.env.get("LEVEL").map(String::as_str), Some("debug"));
    assert!(!run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"));
}

#[test]
fn the_tests_exit_code_is_passed_through() {
    let run = Testbed::new().env("FAKE_TEST_EXIT", "3").run();
    run.assert_code(3);
    // On failure the dependencies' logs are shown, then the stack removed.
    let logs = run
        .position(|c| is(c, &["logs", "fakeid-db"]))
        .unwrap_or_else(|| panic!("no `logs` of db\n{}", run.describe()));
    let down = run.position(|c| c.is_compose("down")).unwrap();
    assert!(logs < down, "{}", run.describe());
    run.assert_stderr_contains("db | fake log line");
}

#[test]
fn a_failed_teardown_does_not_hide_a_test_failure() {
    let run = Testbed::new()
        .env("FAKE_TEST_EXIT", "3")
        .env("FAKE_DOWN_EXIT", "1")
        .run();
    run.assert_code(3)
        .assert_stderr_contains("warning:")
        .assert_stderr_contains("teardown failed");
}

#[test]
fn a_failed_teardown_after_passing_tests_is_an_engine_failure() {
    let run = Testbed::new().env("FAKE_DOWN_EXIT", "1").run();
    run.assert_code(125)
        .assert_stderr_contains("error:")
        .assert_stderr_contains("teardown failed")
        .assert_stderr_contains("has active endpoints");
    // What `down` left behind is removed through the engine directly.
    let down = run.position(|c| c.is_compose("down")).unwrap();
    let removed = run
        .position(|c| is(c, &["rm", "-f", "-v", "fakeid-db"]))
        .unwrap_or_else(|| panic!("the leftover db was not removed\n{}", run.describe()));
    assert!(down < removed, "{}", run.describe());
}

#[test]
fn a_failed_up_is_an_engine_failure_and_still_tears_down() {
    let run = Testbed::new().env("FAKE_UP_EXIT", "1").run();
    run.assert_code(125)
        .assert_stderr_contains("error:")
        .assert_stderr_contains("port is already allocated")
        .assert_no_compose("run");
    let up = run.position(|c| c.is_compose("up")).unwrap();
    let down = run
        .position(|c| c.is_compose("down"))
        .unwrap_or_else(|| panic!("no `compose down`\n{}", run.describe()));
    assert!(up < down, "{}", run.describe());
}

#[test]
fn keep_leaves_the_stack_and_prints_how_to_remove_it() {
    let run = Testbed::new().args(&["--keep"]).run();
    run.assert_code(0).assert_no_compose("down");
    let p = run.project();
    let f = &run.compose_file;
    run.assert_stderr_contains(&format!(
        "docker compose -p {p} -f {f} down -v --remove-orphans -t 2"
    ));
}

#[test]
fn dry_run_starts_nothing_and_prints_the_plan() {
    let run = Testbed::new().args(&["--dry-run"]).run();
    run.assert_code(0);
    for call in &run.calls {
        let read_only =
            call.is_compose("version") || call.is_compose("config") || call.is_docker("version");
        assert!(
            read_only,
            "`docker {}` during --dry-run\n{}",
            call.line(),
            run.describe()
        );
    }
    let p = run.project();
    let f = &run.compose_file;
    let plan: Vec<&str> = run.stdout.lines().collect();
    let has = |needle: &str| plan.iter().any(|line| line.contains(needle));
    assert!(
        has(&format!("docker compose -p {p} -f {f} up -d db")),
        "{}",
        run.describe()
    );
    assert!(
        has(&format!(
            "docker compose -p {p} -f {f} run --name {p}-tests-run --no-deps -T -e TESTBED_PROJECT tests"
        )),
        "{}",
        run.describe()
    );
    assert!(
        has(&format!(
            "docker compose -p {p} -f {f} down -v --remove-orphans -t 2"
        )),
        "{}",
        run.describe()
    );
}

#[test]
fn sigterm_during_up_stops_it_and_tears_down_with_143() {
    let running = Testbed::new().env("FAKE_UP_SLEEP", "30").spawn();
    running.wait_for_call(Duration::from_secs(20), |c| c.is_compose("up"));
    running.signal(libc::SIGTERM);
    let run = running.finish_within(Duration::from_secs(10));
    run.assert_code(143)
        .assert_stderr_contains("SIGTERM")
        .assert_no_compose("run");
    let up = run.position(|c| c.is_compose("up")).unwrap();
    let down = run
        .position(|c| c.is_compose("down"))
        .unwrap_or_else(|| panic!("no `compose down` after SIGTERM\n{}", run.describe()));
    assert!(up < down, "{}", run.describe());
    assert!(
        run.elapsed < Duration::from_secs(10),
        "testbed waited for the interrupted `up`"
    );
}

#[test]
fn sigint_during_the_tests_removes_the_test_container_and_tears_down_with_130() {
    let running = Testbed::new().env("FAKE_RUN_SLEEP", "30").spawn();
    running.wait_for_call(Duration::from_secs(20), |c| c.is_compose("run"));
    running.signal(libc::SIGINT);
    let run = running.finish_within(Duration::from_secs(10));
    run.assert_code(130);
    let p = run.project();
    let test_run = run.position(|c| c.is_compose("run")).unwrap();
    let removed = run
        .position(|c| is(c, &["rm", "-f", "-v", &format!("{p}-tests-run")]))
        .unwrap_or_else(|| panic!("the test container was not removed\n{}", run.describe()));
    let down = run
        .position(|c| c.is_compose("down"))
        .unwrap_or_else(|| panic!("no `compose down` after SIGINT\n{}", run.describe()));
    assert!(test_run < removed && removed < down, "{}", run.describe());
    assert!(
        !run.stdout.contains("fake tests ran"),
        "the tests were not stopped\n{}",
        run.describe()
    );
}

#[test]
fn an_unreachable_daemon_is_an_engine_failure_with_a_hint() {
    let run = Testbed::new().env("FAKE_DAEMON_DOWN", "1").run();
    run.assert_code(125)
        .assert_stderr_contains("error:")
        .assert_stderr_contains("hint:")
        .assert_stderr_contains("Cannot connect to the Docker daemon")
        .assert_no_compose("up")
        .assert_no_compose("run");
}

#[test]
fn a_missing_compose_plugin_is_not_found() {
    for args in [&[][..], &["--compose", "docker compose"][..]] {
        let run = Testbed::new()
            .args(args)
            .env("FAKE_NO_COMPOSE_PLUGIN", "1")
            .run();
        run.assert_code(127)
            .assert_stderr_contains("error:")
            .assert_stderr_contains("hint:");
        assert!(
            run.calls.iter().all(|c| c.is_compose("version")),
            "only the compose probe may run\n{}",
            run.describe()
        );
    }
}

#[test]
fn verbose_echoes_commands_without_secret_values() {
    let run = Testbed::new()
        .args(&["-v", "-e", "SECRET_TOKEN"])
        .env("SECRET_TOKEN", "hunter2-secret")
        .run();
    run.assert_code(0);
    let p = run.project();
    let f = &run.compose_file;
    run.assert_stderr_contains(&format!("+ docker compose -p {p} -f {f} up -d db"))
        .assert_stderr_contains("-e SECRET_TOKEN tests");
    assert!(
        !run.stderr.contains("hunter2"),
        "the secret was echoed\n{}",
        run.describe()
    );
}

#[test]
fn services_limits_what_up_starts() {
    let run = Testbed::new()
        .args(&["--services", "db"])
        .env("FAKE_SERVICES", "db cache tests")
        .run();
    run.assert_code(0);
    assert_eq!(run.only_compose("up").compose_args(), ["-d", "db"]);
}

#[test]
fn an_unknown_service_in_services_is_a_usage_error_listing_them() {
    let run = Testbed::new()
        .args(&["--services", "nope"])
        .env("FAKE_SERVICES", "db cache tests")
        .run();
    run.assert_code(2)
        .assert_stderr_contains("`nope`")
        .assert_stderr_contains("cache, db, tests")
        .assert_no_compose("up");
}

#[test]
fn without_services_every_other_service_is_started() {
    let run = Testbed::new().env("FAKE_SERVICES", "db cache tests").run();
    run.assert_code(0);
    assert_eq!(run.only_compose("up").compose_args(), ["-d", "cache", "db"]);
    // Both are waited for.
    assert!(
        run.calls
            .iter()
            .any(|c| is(c, &["inspect", "fakeid-cache", "fakeid-db"]))
    );
}

const WITH_BLOCK: &str = "\
x-testbed:
  service: api-tests
services:
  db:
    image: postgres:16
  api-tests:
    image: busybox
  tests:
    image: busybox
  smoke:
    image: busybox
";

fn test_service(run: &Run) -> String {
    let test_run = run.only_compose("run");
    let p = run.project();
    let service = test_run.argv.last().unwrap().clone();
    assert!(
        test_run.has_pair("--name", &format!("{p}-{service}-run")),
        "{}",
        run.describe()
    );
    let up = run.only_compose("up").compose_args().to_vec();
    assert!(
        !up.contains(&service),
        "the test service is started as a dependency\n{}",
        run.describe()
    );
    assert_eq!(up.len(), 1 + 3, "{}", run.describe());
    service
}

#[test]
fn the_test_service_comes_from_flag_then_env_then_x_testbed() {
    let services = "db api-tests tests smoke";
    let block = Testbed::new()
        .compose_file(WITH_BLOCK)
        .env("FAKE_SERVICES", services)
        .run();
    block.assert_code(0);
    assert_eq!(test_service(&block), "api-tests");

    let env = Testbed::new()
        .compose_file(WITH_BLOCK)
        .env("FAKE_SERVICES", services)
        .env("TESTBED_SERVICE", "tests")
        .run();
    env.assert_code(0);
    assert_eq!(test_service(&env), "tests");

    let flag = Testbed::new()
        .compose_file(WITH_BLOCK)
        .env("FAKE_SERVICES", services)
        .env("TESTBED_SERVICE", "tests")
        .args(&["--service", "smoke"])
        .run();
    flag.assert_code(0);
    assert_eq!(test_service(&flag), "smoke");
}

#[test]
fn an_unhealthy_dependency_fails_before_the_tests_with_its_log() {
    let run = Testbed::new().env("FAKE_HEALTH", "unhealthy").run();
    run.assert_code(125)
        .assert_stderr_contains("dependency `db` turned unhealthy: fake probe: connection refused")
        .assert_stderr_contains("db | fake log line")
        .assert_no_compose("run");
    assert!(run.position(|c| c.is_compose("down")).is_some());
}

#[test]
fn a_dependency_that_never_gets_healthy_times_out_with_124() {
    let run = Testbed::new()
        .args(&["--wait-timeout", "1s"])
        .env("FAKE_HEALTH", "starting")
        .run();
    run.assert_code(124)
        .assert_stderr_contains("db (health: starting)")
        .assert_no_compose("run");
    assert!(run.position(|c| c.is_compose("down")).is_some());
}

#[test]
fn sigterm_while_waiting_for_readiness_tears_down_with_143() {
    let running = Testbed::new().env("FAKE_HEALTH", "starting").spawn();
    running.wait_for_call(Duration::from_secs(20), |c| c.is_docker("inspect"));
    running.signal(libc::SIGTERM);
    let run = running.finish_within(Duration::from_secs(10));
    run.assert_code(143).assert_no_compose("run");
    assert!(
        run.position(|c| c.is_compose("down")).is_some(),
        "{}",
        run.describe()
    );
}

#[test]
fn without_dependencies_nothing_is_started_or_waited_for() {
    let run = Testbed::new().env("FAKE_SERVICES", "tests").run();
    run.assert_code(0).assert_no_compose("up");
    assert!(
        !run.calls.iter().any(|c| c.is_docker("ps")),
        "{}",
        run.describe()
    );
    run.only_compose("run");
    run.only_compose("down");
}

#[test]
fn the_test_command_follows_the_service_verbatim() {
    let run = Testbed::new()
        .args(&["--", "sh", "-c", "echo \"hi there\" \\o/\n"])
        .run();
    run.assert_code(0);
    let args = run.only_compose("run").compose_args();
    assert_eq!(
        args[args.len() - 4..],
        ["tests", "sh", "-c", "echo \"hi there\" \\o/\n"],
        "{}",
        run.describe()
    );
}

#[test]
fn pull_and_build_come_before_up() {
    let run = Testbed::new().args(&["--pull", "--build"]).run();
    run.assert_code(0);
    let pull = run.position(|c| c.is_compose("pull")).unwrap();
    let build = run.position(|c| c.is_compose("build")).unwrap();
    let up = run.position(|c| c.is_compose("up")).unwrap();
    assert!(pull < build && build < up, "{}", run.describe());
}

#[test]
fn x_testbed_sets_services_and_stop_timeout_and_flags_beat_it() {
    let yaml = "\
x-testbed:
  services: [db]
  stop-timeout: 7
services:
  db: {image: postgres:16}
  cache: {image: redis:7}
  tests: {image: busybox}
";
    let block = Testbed::new()
        .compose_file(yaml)
        .env("FAKE_SERVICES", "db cache tests")
        .run();
    block.assert_code(0);
    assert_eq!(block.only_compose("up").compose_args(), ["-d", "db"]);
    assert_eq!(
        block.only_compose("down").compose_args(),
        ["-v", "--remove-orphans", "-t", "7"]
    );
    let flags = Testbed::new()
        .compose_file(yaml)
        .env("FAKE_SERVICES", "db cache tests")
        .env("TESTBED_SERVICES", "cache")
        .args(&["--stop-timeout", "3"])
        .run();
    flags.assert_code(0);
    assert_eq!(flags.only_compose("up").compose_args(), ["-d", "cache"]);
    assert_eq!(
        flags.only_compose("down").compose_args(),
        ["-v", "--remove-orphans", "-t", "3"]
    );
}

#[test]
fn a_test_service_that_cannot_be_created_is_an_engine_failure() {
    let run = Testbed::new().env("FAKE_RUN_FAIL", "create").run();
    run.assert_code(125)
        .assert_stderr_contains("before the test container was created")
        .assert_stderr_contains("pull access denied");
    assert!(run.position(|c| c.is_compose("down")).is_some());
}

#[test]
fn a_test_command_that_cannot_be_started_exits_126() {
    let run = Testbed::new().env("FAKE_RUN_FAIL", "start").run();
    run.assert_code(126)
        .assert_stderr_contains("could not be started in `tests`")
        .assert_stderr_contains("executable file not found");
    assert!(run.position(|c| c.is_compose("down")).is_some());
}

#[test]
fn an_unknown_test_service_is_a_usage_error() {
    let run = Testbed::new().args(&["--service", "nope"]).run();
    run.assert_code(2)
        .assert_stderr_contains("`nope`")
        .assert_stderr_contains("db, tests")
        .assert_no_compose("up");
}

#[test]
fn a_sub_second_stop_timeout_still_gives_a_grace_period() {
    let run = Testbed::new().args(&["--stop-timeout", "500ms"]).run();
    run.assert_code(0);
    let down = run.only_compose("down");
    assert!(
        down.has_pair("-t", "1"),
        "a 500ms grace period was rounded down to none\n{}",
        run.describe()
    );
}

#[test]
fn env_for_the_tests_does_not_reconfigure_compose_itself() {
    let run = Testbed::new()
        .args(&["-e", "DOCKER_HOST=tcp://dind:2375"])
        .env("FAKE_DOCKER_RECORD_ENV", "DOCKER_HOST")
        .run();
    run.assert_code(2);
    assert!(run.stderr.contains("-e DOCKER_HOST="), "{}", run.describe());
    for call in &run.calls {
        assert_eq!(
            call.env.get("DOCKER_HOST"),
            None,
            "`docker {}` talks to another daemon than the rest of the run\n{}",
            call.line(),
            run.describe()
        );
    }
}

#[test]
fn tests_get_no_terminal_unless_tty_is_asked_for() {
    let run = Testbed::new().run();
    run.assert_code(0);
    assert!(
        run.only_compose("run")
            .compose_args()
            .contains(&"-T".to_string()),
        "{}",
        run.describe()
    );
    let run = Testbed::new().args(&["--tty"]).run();
    run.assert_code(0);
    assert!(
        !run.only_compose("run")
            .compose_args()
            .contains(&"-T".to_string()),
        "{}",
        run.describe()
    );
}
