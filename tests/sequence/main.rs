//! The docker and compose commands testbed runs, in order, checked against a
//! fake `docker` (tests/fake-docker/docker) that keeps the engine's state,
//! records each argv as a JSON line and misbehaves on request through
//! `FAKE_*` variables.

#[path = "../common/mod.rs"]
mod common;
mod images;
mod profiles;
mod snapshots;
mod support;
mod usage;

use std::time::Instant;

use common::{FAKE_SIGNAL_TIMEOUT, FAKE_START_TIMEOUT};
use support::{Call, Fake, Recorded};

/// A matcher of one recorded call.
type Matcher<'a> = Box<dyn Fn(&Call) -> bool + 'a>;

fn project_label(project: &str) -> String {
    format!("label=com.docker.compose.project={project}")
}

/// What `ps` must filter on to list the stack's service containers.
fn lists_services(call: &Call, project: &str) -> bool {
    call.is_docker("ps")
        && call.argv.contains(&project_label(project))
        && call
            .argv
            .contains(&"label=com.docker.compose.oneoff=False".to_string())
}

fn is(call: &Call, words: &[&str]) -> bool {
    call.argv == words
}

/// `words` followed by exactly `items`, in any order: docker does not
/// promise an order for what it lists.
fn is_with_any_order(call: &Call, words: &[&str], items: &[&str]) -> bool {
    if call.argv.len() < words.len() || call.argv[..words.len()] != *words {
        return false;
    }
    let mut got: Vec<&str> = call.argv[words.len()..]
        .iter()
        .map(String::as_str)
        .collect();
    let mut want = items.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    got == want
}

/// The healthcheck the fake shows for `service` in `inspect`
/// (`["CMD-SHELL", "fake-probe <service>"]`), run once by testbed itself.
fn is_probe(call: &Call, service: &str) -> bool {
    is(
        call,
        &[
            "exec",
            &format!("fakeid-{service}"),
            "/bin/sh",
            "-c",
            &format!("fake-probe {service}"),
        ],
    )
}

/// That healthcheck in a watch, which repeats it inside the container (and
/// which the fake cannot run, so it ends at once).
fn is_watch(call: &Call, service: &str) -> bool {
    let container = format!("fakeid-{service}");
    let check = format!("fake-probe {service}");
    let argv: Vec<&str> = call.argv.iter().map(String::as_str).collect();
    argv.starts_with(&["exec", &container, "/bin/sh", "-c"])
        && argv.ends_with(&["/bin/sh", "-c", &check])
        && argv.contains(&"testbed-watch")
}

fn is_start(call: &Call, service: &str) -> bool {
    is(call, &["start", &format!("fakeid-{service}")])
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
    run: &'a Recorded,
    at: usize,
}

impl<'a> Sequence<'a> {
    fn new(run: &'a Recorded) -> Self {
        Sequence { run, at: 0 }
    }

    /// Walks on from the first call that matches.
    fn after(run: &'a Recorded, what: &str, matches: impl Fn(&Call) -> bool) -> Self {
        let at = run
            .position(matches)
            .unwrap_or_else(|| panic!("no {what}\n{}", run.describe()));
        Sequence { run, at: at + 1 }
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

    /// The next call, if it matches.
    fn maybe(&mut self, matches: impl Fn(&Call) -> bool) -> Option<&'a Call> {
        let call = self.run.calls.get(self.at).filter(|c| matches(c))?;
        self.at += 1;
        Some(call)
    }

    /// One or more calls that match.
    fn some(&mut self, what: &str, matches: impl Fn(&Call) -> bool) -> &'a [Call] {
        let from = self.at;
        self.next(what, &matches);
        while self.run.calls.get(self.at).is_some_and(&matches) {
            self.at += 1;
        }
        &self.run.calls[from..self.at]
    }

    /// Calls made at once, so in any order: each matcher takes one call.
    fn any_order(&mut self, what: &str, matchers: Vec<Matcher>) {
        let mut left = matchers;
        while !left.is_empty() {
            let call = self.run.calls.get(self.at);
            let found = call.and_then(|call| left.iter().position(|m| m(call)));
            let Some(found) = found else {
                panic!(
                    "docker call #{} should be one of {what}\n{}",
                    self.at + 1,
                    self.run.describe()
                );
            };
            drop(left.swap_remove(found));
            self.at += 1;
        }
    }

    /// The default teardown: the project's containers listed by label, its
    /// networks and volumes by label and name, at once, then their
    /// removals.
    fn sweep(&mut self, project: &str, containers: &[&str], networks: &[&str], volumes: &[&str]) {
        let label = project_label(project);
        let label = label.as_str();
        let format = "{{.Name}}\t{{.Label \"com.docker.compose.project\"}}";
        self.any_order(
            "the lists of the project's containers, networks and volumes",
            vec![
                Box::new(move |c: &Call| is(c, &["ps", "-aq", "--filter", label])),
                Box::new(move |c: &Call| is(c, &["network", "ls", "--format", format])),
                Box::new(move |c: &Call| is(c, &["volume", "ls", "--format", format])),
            ],
        );
        self.removals(containers, networks, volumes);
    }

    /// The containers killed and removed, then the networks and volumes
    /// removed at once, each only if there is one.
    fn removals(&mut self, containers: &[&str], networks: &[&str], volumes: &[&str]) {
        if !containers.is_empty() {
            self.next(&format!("`rm -f -v` of {}", containers.join(", ")), |c| {
                is_with_any_order(c, &["rm", "-f", "-v"], containers)
            });
        }
        let mut removals: Vec<Matcher> = Vec::new();
        if !networks.is_empty() {
            removals.push(Box::new(|c: &Call| {
                is_with_any_order(c, &["network", "rm"], networks)
            }));
        }
        if !volumes.is_empty() {
            removals.push(Box::new(|c: &Call| {
                is_with_any_order(c, &["volume", "rm", "-f"], volumes)
            }));
        }
        self.any_order("the removal of the networks and volumes", removals);
    }

    /// The teardown of a stack a run created, once nothing can land any
    /// more: the project's containers listed by label, killed and removed,
    /// then the networks and volumes compose created from the model
    /// removed by name at once, whether they exist or not.
    fn remove_created(
        &mut self,
        project: &str,
        containers: &[&str],
        networks: &[&str],
        volumes: &[&str],
    ) {
        let label = project_label(project);
        self.next("the list of the project's containers", |c| {
            is(c, &["ps", "-aq", "--filter", &label])
        });
        self.removals(containers, networks, volumes);
    }

    /// After a compose command was killed: sweeps that find nothing, once
    /// a second, until the engine has been quiet for 3 s; at least one, and
    /// nothing else after them.
    fn quiet_sweeps(&mut self, project: &str) {
        let sweeps = (self.run.calls.len() - self.at) / 3;
        assert!(
            sweeps >= 1 && (self.run.calls.len() - self.at) % 3 == 0,
            "docker calls from #{} on should be empty sweeps\n{}",
            self.at + 1,
            self.run.describe()
        );
        for _ in 0..sweeps {
            self.sweep(project, &[], &[], &[]);
        }
    }

    /// After a compose command was killed, on a stack that was there: the
    /// first sweep removes the containers; the networks and volumes wait
    /// until the engine has been quiet for 3 s, sweeps that remove nothing
    /// coming in between; then the sweeps find nothing.
    fn settling_sweeps(
        &mut self,
        project: &str,
        containers: &[&str],
        networks: &[&str],
        volumes: &[&str],
    ) {
        self.sweep(project, containers, &[], &[]);
        let removes = |c: &Call| {
            matches!(
                c.argv.first().map(String::as_str),
                Some("network" | "volume")
            ) && c.argv.get(1).is_some_and(|w| w == "rm")
        };
        // Each sweep lists the three kinds first.
        while !self.run.calls.get(self.at + 3).is_some_and(removes) {
            assert!(
                self.at + 3 < self.run.calls.len(),
                "the networks and volumes were never removed\n{}",
                self.run.describe()
            );
            self.sweep(project, &[], &[], &[]);
        }
        self.sweep(project, &[], networks, volumes);
        self.quiet_sweeps(project);
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

/// `compose -p P -f F [-f LABELS] [--profile NAME…] <rest>` as testbed
/// runs it: every command after preflight's `config` gets the labels
/// override, except `down`, which may run after it is gone. `config` asks
/// for every service, whatever its profiles; the stacks these tests run
/// have none in force.
fn compose_argv(run: &Recorded, rest: &[&str]) -> Vec<String> {
    let profiles: &[&str] = if rest.first() == Some(&"config") {
        &["*"]
    } else {
        &[]
    };
    compose_argv_with(run, profiles, rest)
}

/// [`compose_argv`] with `profiles` in force.
fn compose_argv_with(run: &Recorded, profiles: &[&str], rest: &[&str]) -> Vec<String> {
    let p = run.project();
    let mut argv: Vec<String> = ["compose", "-p", &p, "-f", &run.compose_file]
        .map(String::from)
        .into();
    if !matches!(rest.first(), Some(&"config" | &"down")) {
        let labels = run.labels_file.as_deref();
        let labels = labels.unwrap_or_else(|| panic!("no labels override\n{}", run.describe()));
        argv.extend(["-f".to_string(), labels.to_string()]);
    }
    for profile in profiles {
        argv.extend(["--profile".to_string(), profile.to_string()]);
    }
    argv.extend(rest.iter().map(|w| w.to_string()));
    argv
}

/// `docker context inspect`, which says where the daemon is when a
/// context is named.
fn is_context_inspect(call: &Call) -> bool {
    is(
        call,
        &[
            "context",
            "inspect",
            "--format",
            "{{.Name}} {{.Endpoints.docker.Host}}",
        ],
    )
}

/// The daemon check and `compose config`, which run at once. No context is
/// named, so nothing asks where the daemon is; the plugin is v2, so nothing
/// asks its version.
fn assert_preflight(seq: &mut Sequence, run: &Recorded) {
    let config = compose_argv(run, &["config"]);
    seq.any_order(
        "`compose config` and the daemon check",
        vec![
            Box::new(move |c| c.argv == config),
            Box::new(|c| {
                let format = "{{.Server.Version}} {{range .Server.Components}}{{.Name}};{{end}}";
                is(c, &["version", "--format", format])
            }),
        ],
    );
}

/// Up to the `compose run` of the tests: preflight, then `up --no-start db`,
/// `docker start` of db and the polls until it is ready. db waits for
/// nothing, so it starts as soon as the events say compose created it:
/// before compose is done, or after, should the event come late.
fn assert_passing_bring_up(seq: &mut Sequence, run: &Recorded) {
    let p = run.project();
    assert_preflight(seq, run);
    seq.next("`compose up --no-start db`", |c| {
        c.argv == compose_argv(run, &["up", "--no-start", "db"])
    });
    assert!(
        matches!(run.events.as_slice(), [events] if is_events(events, &p)),
        "one `docker events` of the project's containers\n{}",
        run.describe()
    );
    let early = seq.maybe(|c| is_start(c, "db")).is_some();
    seq.next("`ps` of the project's services", |c| lists_services(c, &p));
    seq.next("`inspect` of what was created", |c| {
        is(c, &["inspect", "fakeid-db"])
    });
    // `docker start` runs while db is polled every 100 ms, so a slow start
    // may be recorded after a poll. The daemon says healthy at once, but a
    // probe of testbed's own may begin while `docker start` is reaped.
    let block = seq.some(
        "`docker start` of db and the polls until it is ready",
        |c| {
            is_start(c, "db")
                || is(c, &["inspect", "fakeid-db"])
                || is_probe(c, "db")
                || is_watch(c, "db")
        },
    );
    let starts: Vec<usize> = (0..block.len())
        .filter(|&i| is_start(&block[i], "db"))
        .collect();
    assert_eq!(
        starts.len() + usize::from(early),
        1,
        "one `docker start` of db\n{}",
        run.describe()
    );
    // A start that succeeded says db runs: its healthcheck follows
    // without an inspection first.
    let after_start = starts.first().map_or(0, |&i| i);
    assert!(
        block[after_start..]
            .iter()
            .any(|c| is_watch(c, "db") || is_probe(c, "db")),
        "db's healthcheck did not run after it was started\n{}",
        run.describe()
    );
}

/// `docker events` of the project's containers, as the run watches them
/// from before its first create.
fn is_events(c: &Call, project: &str) -> bool {
    let label = project_label(project);
    c.argv.first().is_some_and(|w| w == "events")
        && c.argv
            .windows(2)
            .any(|w| w[0] == "--filter" && w[1] == label)
}

fn assert_passing_sequence(run: &Recorded) {
    run.assert_code(0);
    let p = run.project();
    assert!(valid_project_name(&p), "invalid project name {p:?}");
    let test_container = format!("{p}-tests-run");

    let mut seq = Sequence::new(run);
    assert_passing_bring_up(&mut seq, run);
    let test_run = seq.next("`compose run` of the tests", |c| {
        c.argv
            == compose_argv(
                run,
                &[
                    "run",
                    "--name",
                    &test_container,
                    "--no-deps",
                    "-T",
                    "-e",
                    "TESTBED_PROJECT",
                    "tests",
                ],
            )
    });
    assert_eq!(
        test_run.env.get("TESTBED_PROJECT"),
        Some(&p),
        "TESTBED_PROJECT travels in the environment of `compose run`"
    );
    // Passing tests need no inspection: compose's 0 is theirs.
    seq.remove_created(
        &p,
        &["fakeid-db", &format!("fakeid-run-{test_container}")],
        &[&format!("{p}_default")],
        &[],
    );
    seq.end();
    run.assert_nothing_left();
    assert!(
        run.stdout.contains("fake tests ran"),
        "the tests' output goes to stdout\n{}",
        run.describe()
    );
}

/// With the compose testbed finds, and with the plugin named: was also
/// `an_explicit_compose_plugin_runs_the_same_commands`.
#[test]
fn a_passing_run_issues_the_documented_commands_in_order() {
    for args in [&[][..], &["--compose", "docker compose"]] {
        assert_passing_sequence(&Fake::new().args(args).run());
    }
}

/// The docker and compose clients are Go programs that live for moments:
/// each gets a lazier garbage collector, unless the caller chose one.
#[test]
fn every_client_collects_garbage_lazily_unless_told_otherwise() {
    for (set, expected) in [(None, "400"), (Some("75"), "75")] {
        let fake = Fake::new().env("FAKE_DOCKER_RECORD_ENV", "TESTBED_PROJECT GOGC");
        let run = match set {
            Some(value) => fake.env("GOGC", value),
            None => fake,
        }
        .run();
        run.assert_code(0);
        assert!(
            run.calls
                .iter()
                .all(|c| c.env.get("GOGC").map(String::as_str) == Some(expected)),
            "every call should have GOGC={expected}\n{}",
            run.describe()
        );
    }
}

#[test]
fn env_values_travel_in_the_environment_never_on_argv() {
    let run = Fake::new()
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
    let run = Fake::new().env("FAKE_TEST_EXIT", "3").run();
    run.assert_code(3);
    // On failure the dependencies' logs are shown, then the stack removed.
    let logs = run
        .position(|c| is(c, &["logs", "fakeid-db"]))
        .unwrap_or_else(|| panic!("no `logs` of db\n{}", run.describe()));
    let teardown = run
        .position(|c| c.is_docker("rm"))
        .unwrap_or_else(|| panic!("no teardown\n{}", run.describe()));
    assert!(logs < teardown, "{}", run.describe());
    run.assert_stderr_contains("db | fake log line")
        .assert_nothing_left();
}

#[test]
fn the_default_teardown_kills_and_removes_by_label_without_compose_down() {
    let run = Fake::new().env("FAKE_VOLUMES", "data").run();
    run.assert_code(0).assert_no_compose("down");
    let p = run.project();
    let mut seq = Sequence::after(&run, "`compose run` of the tests", |c| c.is_compose("run"));
    // The running db and the exited test container go in one `rm -f`,
    // before the network and volume they hold.
    seq.remove_created(
        &p,
        &["fakeid-db", &format!("fakeid-run-{p}-tests-run")],
        &[&format!("{p}_default")],
        &[&format!("{p}_data")],
    );
    seq.end();
    run.assert_nothing_left();
}

#[test]
fn a_stop_timeout_stops_the_stack_with_compose_down() {
    let run = Fake::new()
        .env("FAKE_VOLUMES", "data")
        .args(&["--stop-timeout", "3s"])
        .run();
    run.assert_code(0);
    let p = run.project();
    let test_container = format!("{p}-tests-run");
    let mut seq = Sequence::after(&run, "`compose run` of the tests", |c| c.is_compose("run"));
    // The test container first, or `down` could not remove the network.
    seq.next("`rm` of the test container", |c| {
        is(c, &["rm", "-f", "-v", &test_container])
    });
    seq.next("`compose down -t 3`", |c| {
        c.argv == compose_argv(&run, &["down", "-v", "--remove-orphans", "-t", "3"])
    });
    seq.end();
    run.assert_nothing_left();
}

#[test]
fn a_failed_teardown_does_not_hide_a_test_failure() {
    let run = Fake::new()
        .env("FAKE_TEST_EXIT", "3")
        .env("FAKE_RM_EXIT", "1")
        .run();
    run.assert_code(3)
        .assert_stderr_contains("warning:")
        .assert_stderr_contains("teardown failed")
        .assert_stderr_contains("did not receive an exit event");
    assert!(!run.leftovers.is_empty(), "{}", run.describe());
}

#[test]
fn a_failed_teardown_after_passing_tests_is_an_engine_failure() {
    let run = Fake::new().env("FAKE_RM_EXIT", "1").run();
    run.assert_code(125)
        .assert_stderr_contains("error:")
        .assert_stderr_contains("teardown failed")
        .assert_stderr_contains("did not receive an exit event");
    assert!(
        run.position(|c| c.is_docker("rm")).is_some() && !run.leftovers.is_empty(),
        "{}",
        run.describe()
    );
    // Its network is in use while the containers are there: not tried.
    assert_eq!(
        run.position(|c| c.argv.starts_with(&["network".into(), "rm".into()])),
        None,
        "{}",
        run.describe()
    );
}

#[test]
fn a_failed_compose_down_is_an_engine_failure_and_what_it_left_is_removed() {
    let run = Fake::new()
        .args(&["--stop-timeout", "3s"])
        .env("FAKE_DOWN_EXIT", "1")
        .run();
    run.assert_code(125)
        .assert_stderr_contains("error:")
        .assert_stderr_contains("teardown failed")
        .assert_stderr_contains("has active endpoints");
    // What `down` left behind is removed through the engine directly.
    let p = run.project();
    let mut seq = Sequence::after(&run, "`compose down`", |c| c.is_compose("down"));
    seq.remove_created(&p, &["fakeid-db"], &[&format!("{p}_default")], &[]);
    seq.end();
    run.assert_nothing_left();
}

#[test]
fn a_failed_up_is_an_engine_failure_and_still_tears_down() {
    let run = Fake::new().env("FAKE_UP_EXIT", "1").run();
    run.assert_code(125)
        .assert_stderr_contains("error:")
        .assert_stderr_contains("is already in use")
        .assert_no_compose("run")
        .assert_no_compose("down");
    // `up` created the network before it failed; what else it had sent
    // may still land, so the sweeps go on until the engine is quiet.
    let p = run.project();
    let mut seq = Sequence::after(&run, "`compose up`", |c| c.is_compose("up"));
    seq.settling_sweeps(&p, &[], &[&format!("{p}_default")], &[]);
    seq.end();
    run.assert_nothing_left();
}

#[test]
fn keep_leaves_the_stack_and_prints_how_to_remove_it() {
    let run = Fake::new().args(&["--keep"]).run();
    run.assert_code(0).assert_no_compose("down");
    let p = run.project();
    let f = &run.compose_file;
    let test_container = format!("{p}-tests-run");
    let mut seq = Sequence::after(&run, "`compose run` of the tests", |c| c.is_compose("run"));
    seq.next("`rm` of the finished test container", |c| {
        is(c, &["rm", "-f", "-v", &test_container])
    });
    // Where the kept stack's ports landed, for tests run on the host.
    let label = format!("label=com.docker.compose.project={p}");
    seq.next("the list of the kept stack's containers", |c| {
        is(
            c,
            &[
                "ps",
                "-aq",
                "--no-trunc",
                "--filter",
                &label,
                "--filter",
                "label=com.docker.compose.oneoff=False",
            ],
        )
    });
    seq.next("their `inspect`", |c| is(c, &["inspect", "fakeid-db"]));
    seq.end();
    run.assert_stderr_contains(&format!(
        "docker compose -p {p} -f {f} down -v --remove-orphans -t 0"
    ));
    let left = run.leftovers.join("\n");
    assert!(
        left.contains("container fakeid-db ")
            && left.contains(" running ")
            && !left.contains("-tests-run"),
        "{}",
        run.describe()
    );
}

/// The lines `--dry-run` prints, after checking that it ran nothing but
/// read-only commands.
fn dry_run_plan(run: &Recorded) -> Vec<String> {
    run.assert_code(0);
    for call in &run.calls {
        let read_only = call.is_compose("version")
            || call.is_compose("config")
            || call.is_docker("version")
            || is_context_inspect(call);
        assert!(
            read_only,
            "`docker {}` during --dry-run\n{}",
            call.line(),
            run.describe()
        );
    }
    run.stdout.lines().map(str::to_string).collect()
}

#[test]
fn dry_run_starts_nothing_and_prints_the_plan() {
    let run = Fake::new().args(&["--dry-run"]).run();
    let plan = dry_run_plan(&run);
    let p = run.project();
    let f = &run.compose_file;
    let has = |needle: &str| plan.iter().any(|line| line.contains(needle));
    assert!(
        has(&format!("docker compose -p {p} -f {f} up --no-start db")),
        "{}",
        run.describe()
    );
    assert!(has("# docker start each service"), "{}", run.describe());
    assert!(
        has(&format!("that labels what they create testbed.run={p} (")),
        "{}",
        run.describe()
    );
    assert!(
        has("# a process watches testbed, and removes the stack if testbed dies"),
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
    // Without a grace period, teardown is by label, not `compose down`.
    assert!(
        has(&format!(
            "# kill and remove the containers, networks and volumes labelled com.docker.compose.project={p}"
        )),
        "{}",
        run.describe()
    );
    assert!(!has(" down "), "{}", run.describe());

    let run = Fake::new()
        .args(&["--dry-run", "--stop-timeout", "3s"])
        .run();
    let plan = dry_run_plan(&run);
    let p = run.project();
    let f = &run.compose_file;
    assert_eq!(
        plan.last().map(String::as_str),
        Some(format!("docker compose -p {p} -f {f} down -v --remove-orphans -t 3").as_str()),
        "{}",
        run.describe()
    );
}

#[test]
fn sigterm_during_up_stops_it_and_tears_down_with_143() {
    let running = Fake::new().env("FAKE_UP_SLEEP", "30").spawn();
    running.wait_for_call(FAKE_START_TIMEOUT, |c| c.is_compose("up"));
    let signalled = Instant::now();
    running.signal(libc::SIGTERM);
    let run = running.finish_within(FAKE_SIGNAL_TIMEOUT);
    let elapsed = signalled.elapsed();
    run.assert_code(143)
        .assert_stderr_contains("SIGTERM")
        .assert_no_compose("run")
        .assert_no_compose("down");
    // `up` was killed before it created anything: the sweeps find nothing,
    // and go on until the engine is quiet.
    let p = run.project();
    let mut seq = Sequence::after(&run, "`compose up`", |c| c.is_compose("up"));
    seq.quiet_sweeps(&p);
    seq.end();
    assert!(
        elapsed < FAKE_SIGNAL_TIMEOUT,
        "testbed waited for the interrupted `up`"
    );
}

#[test]
fn sigint_during_the_tests_kills_the_test_container_and_tears_down_with_130() {
    let running = Fake::new().env("FAKE_RUN_SLEEP", "30").spawn();
    // Once the test container runs: a signal before it exists has nothing
    // to kill.
    running.wait_for_object(FAKE_START_TIMEOUT, &["container", "True", "running"]);
    running.signal(libc::SIGINT);
    let run = running.finish_within(FAKE_SIGNAL_TIMEOUT);
    run.assert_code(130).assert_no_compose("down");
    let p = run.project();
    let test_container = format!("{p}-tests-run");
    let mut seq = Sequence::after(&run, "`compose run`", |c| c.is_compose("run"));
    // Killed, not removed, so that what the tests wrote can be collected;
    // the sweep removes it with the rest.
    seq.next("`kill` of the test container", |c| {
        is(c, &["kill", &test_container])
    });
    // `compose run` was killed: the sweeps go on until the engine is quiet.
    seq.settling_sweeps(
        &p,
        &["fakeid-db", &format!("fakeid-run-{test_container}")],
        &[&format!("{p}_default")],
        &[],
    );
    seq.end();
    run.assert_nothing_left();
    assert!(
        !run.stdout.contains("fake tests ran"),
        "the tests were not stopped\n{}",
        run.describe()
    );
}

#[test]
fn sigint_with_a_stop_timeout_sweeps_after_compose_down() {
    let running = Fake::new()
        .args(&["--stop-timeout", "2s"])
        .env("FAKE_RUN_SLEEP", "30")
        .spawn();
    // Once the test container runs: a signal before it exists has nothing
    // to kill.
    running.wait_for_object(FAKE_START_TIMEOUT, &["container", "True", "running"]);
    running.signal(libc::SIGINT);
    let run = running.finish_within(FAKE_SIGNAL_TIMEOUT);
    run.assert_code(130);
    let p = run.project();
    let test_container = format!("{p}-tests-run");
    let mut seq = Sequence::after(&run, "`compose run`", |c| c.is_compose("run"));
    seq.next("`kill` of the test container", |c| {
        is(c, &["kill", &test_container])
    });
    seq.next("`rm` of the test container", |c| {
        is(c, &["rm", "-f", "-v", &test_container])
    });
    seq.next("`compose down -t 2`", |c| {
        c.argv == compose_argv(&run, &["down", "-v", "--remove-orphans", "-t", "2"])
    });
    // After an interruption, whatever is still labelled is looked for, until
    // the engine is quiet: `compose run` was killed.
    seq.quiet_sweeps(&p);
    seq.end();
    run.assert_nothing_left();
}

#[test]
fn an_unreachable_daemon_is_an_engine_failure_with_a_hint() {
    let run = Fake::new().env("FAKE_DAEMON_DOWN", "1").run();
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
        let run = Fake::new()
            .args(args)
            .env("FAKE_NO_COMPOSE_PLUGIN", "1")
            .run();
        run.assert_code(127)
            .assert_stderr_contains("error:")
            .assert_stderr_contains("hint:");
        // The compose probe and `compose config` beside it, and what the
        // diagnosis after the error looks at; nothing that creates anything.
        for call in &run.calls {
            let read_only = call.is_compose("version")
                || call.is_compose("config")
                || ["version", "--version", "inspect", "ps", "context"]
                    .iter()
                    .any(|&word| call.is_docker(word));
            assert!(
                read_only,
                "`docker {}` after compose was not found\n{}",
                call.line(),
                run.describe()
            );
        }
    }
}

#[test]
fn verbose_echoes_each_command_once_with_its_count_and_no_secret_values() {
    let run = Fake::new()
        .args(&["-v", "-e", "SECRET_TOKEN"])
        .env("SECRET_TOKEN", "hunter2-secret")
        .env("FAKE_HEALTH", "starting")
        .env("FAKE_HEALTHY_AFTER", "2")
        .run();
    run.assert_code(0);
    let up = compose_argv(&run, &["up", "--no-start", "db"]).join(" ");
    run.assert_stderr_contains(&format!("+ docker {up}"))
        .assert_stderr_contains("+ docker start fakeid-db")
        .assert_stderr_contains("db ready after ")
        .assert_stderr_contains("-e SECRET_TOKEN tests");
    // Every docker call is echoed, each command line once: db's check ran
    // twice, and is counted at the end.
    let probes = run.calls_where(|c| is_probe(c, "db"));
    assert_eq!(probes.len(), 2, "{}", run.describe());
    let echoed: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("+ ")).collect();
    let distinct: std::collections::HashSet<&&str> = echoed.iter().collect();
    assert_eq!(distinct.len(), echoed.len(), "{}", run.describe());
    let check = "docker exec fakeid-db /bin/sh -c 'fake-probe db'";
    run.assert_stderr_contains(&format!("+ {check}\n"))
        .assert_stderr_contains(&format!("ran 2 times in all: {check}\n"));
    assert!(
        !run.stderr.contains("hunter2"),
        "the secret was echoed\n{}",
        run.describe()
    );
}

#[test]
fn services_limits_what_up_creates_and_testbed_starts() {
    let run = Fake::new()
        .args(&["--services", "db"])
        .env("FAKE_SERVICES", "db cache tests")
        .run();
    run.assert_code(0);
    assert_eq!(run.only_compose("up").compose_args(), ["--no-start", "db"]);
    let starts: Vec<String> = run
        .calls_where(|c| c.is_docker("start"))
        .iter()
        .map(|c| c.line())
        .collect();
    assert_eq!(starts, ["start fakeid-db"], "{}", run.describe());
}

#[test]
fn without_services_every_other_service_is_started() {
    let run = Fake::new().env("FAKE_SERVICES", "db cache tests").run();
    run.assert_code(0);
    assert_eq!(
        run.only_compose("up").compose_args(),
        ["--no-start", "cache", "db"]
    );
    // Neither depends on the other: each gets its own `docker start`, and
    // both are waited for.
    for service in ["cache", "db"] {
        assert_eq!(
            run.calls_where(|c| is_start(c, service)).len(),
            1,
            "{}",
            run.describe()
        );
    }
    assert!(
        run.calls
            .iter()
            .any(|c| is(c, &["inspect", "fakeid-cache", "fakeid-db"])),
        "{}",
        run.describe()
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

fn test_service(run: &Recorded) -> String {
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
    // (TESTBED_SERVICE, the flags, the test service that runs)
    let cases: [(Option<&str>, &[&str], &str); 3] = [
        (None, &[], "api-tests"),
        (Some("tests"), &[], "tests"),
        (Some("tests"), &["--service", "smoke"], "smoke"),
    ];
    for (env, args, expected) in cases {
        let mut fake = Fake::new()
            .compose_file(WITH_BLOCK)
            .env("FAKE_SERVICES", "db api-tests tests smoke")
            .args(args);
        if let Some(service) = env {
            fake = fake.env("TESTBED_SERVICE", service);
        }
        let run = fake.run();
        run.assert_code(0);
        assert_eq!(test_service(&run), expected, "{}", run.describe());
    }
}

/// api waits for db to be healthy; the tests need both.
const API_ON_DB: &str = "\
services:
  db:
    image: postgres:16
    healthcheck:
      test: fake-probe db
  api:
    image: api
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: fake-probe api
  tests:
    image: busybox
    depends_on: [api]
";

fn api_on_db() -> Fake {
    Fake::new()
        .compose_file(API_ON_DB)
        .env("FAKE_SERVICES", "db api tests")
        .env("FAKE_DEPENDS", "api:db:service_healthy")
}

#[test]
fn a_service_healthy_dependency_is_started_after_its_healthcheck_succeeds() {
    // The daemon never says healthy: only testbed's own third probe of db
    // succeeds.
    let run = api_on_db()
        .env("FAKE_HEALTH", "starting")
        .env("FAKE_HEALTHY_AFTER", "3")
        .args(&["--wait-timeout", "20s"])
        .run();
    run.assert_code(0);
    assert_eq!(
        run.only_compose("up").compose_args(),
        ["--no-start", "api", "db"]
    );
    let start_db = run.position(|c| is_start(c, "db")).unwrap();
    let start_api = run
        .position(|c| is_start(c, "api"))
        .unwrap_or_else(|| panic!("api was never started\n{}", run.describe()));
    let db_probes: Vec<usize> = (0..run.calls.len())
        .filter(|&i| is_probe(&run.calls[i], "db"))
        .collect();
    // Exactly the three it took: none once db was ready.
    assert_eq!(db_probes.len(), 3, "{}", run.describe());
    assert!(
        start_db < db_probes[0] && db_probes[2] < start_api,
        "api was started before db's healthcheck succeeded\n{}",
        run.describe()
    );
    // And api is waited for in turn before the tests run.
    let api_probes = run.calls_where(|c| is_probe(c, "api")).len();
    assert_eq!(api_probes, 3, "{}", run.describe());
    let last_api_probe = run.calls.iter().rposition(|c| is_probe(c, "api")).unwrap();
    let test_run = run.position(|c| c.is_compose("run")).unwrap();
    assert!(
        start_api < last_api_probe && last_api_probe < test_run,
        "{}",
        run.describe()
    );
    run.assert_nothing_left();
}

#[test]
fn a_dependency_that_exits_non_zero_fails_before_its_dependents_with_its_log() {
    let run = Fake::new()
        .env("FAKE_SERVICES", "migrate api tests")
        .env("FAKE_DEPENDS", "api:migrate:service_completed_successfully")
        .env("FAKE_EXIT", "migrate=1")
        .run();
    run.assert_code(125)
        .assert_stderr_contains("dependency `migrate` exited with code 1")
        .assert_stderr_contains("migrate | fake log line")
        .assert_no_compose("run")
        .assert_nothing_left();
    assert!(
        run.position(|c| is(c, &["logs", "--tail", "50", "fakeid-migrate"]))
            .is_some(),
        "{}",
        run.describe()
    );
    assert_eq!(
        run.position(|c| is_start(c, "api")),
        None,
        "{}",
        run.describe()
    );
}

/// What goes wrong on the engine before the tests can run, what testbed
/// must say, and whether `compose run` of the tests was tried; each case
/// leaves nothing behind. Was `a_dependency_that_cannot_be_started_is_an_engine_failure`,
/// `an_unhealthy_dependency_fails_before_the_tests_with_its_log`,
/// `a_test_service_that_cannot_be_created_is_an_engine_failure` and
/// `a_test_command_that_cannot_be_started_exits_126`.
#[test]
fn failures_before_the_tests_run_exit_125_or_126_and_leave_nothing() {
    let cases: [(&str, &str, i32, [&str; 2], bool); 4] = [
        (
            "FAKE_START_EXIT",
            "1",
            125,
            ["cannot start `db`", "port is already allocated"],
            false,
        ),
        (
            "FAKE_HEALTH",
            "unhealthy",
            125,
            [
                "dependency `db` turned unhealthy: fake probe: connection refused",
                // Its log.
                "db | fake log line",
            ],
            false,
        ),
        (
            "FAKE_RUN_FAIL",
            "create",
            125,
            [
                "before the test container was created",
                "pull access denied",
            ],
            true,
        ),
        (
            "FAKE_RUN_FAIL",
            "start",
            126,
            [
                "could not be started in `tests`",
                "executable file not found",
            ],
            true,
        ),
    ];
    for (name, value, code, said, tests_tried) in cases {
        let run = Fake::new().env(name, value).run();
        run.assert_code(code).assert_nothing_left();
        for needle in said {
            run.assert_stderr_contains(needle);
        }
        if !tests_tried {
            run.assert_no_compose("run");
        }
    }
}

#[test]
fn a_dependency_that_never_gets_healthy_times_out_with_124_naming_what_waits() {
    // Long enough for db to be started and inspected on a loaded machine.
    let run = api_on_db()
        .args(&["--wait-timeout", "3s"])
        .env("FAKE_HEALTH", "starting")
        .run();
    run.assert_code(124)
        .assert_stderr_contains("not ready after 3s")
        .assert_stderr_contains("db (health: starting)")
        .assert_stderr_contains("api (not started: waiting for db to be healthy)")
        .assert_no_compose("run")
        .assert_nothing_left();
    assert_eq!(
        run.position(|c| is_start(c, "api")),
        None,
        "{}",
        run.describe()
    );
}

#[test]
fn sigterm_while_waiting_for_readiness_tears_down_with_143() {
    let running = Fake::new().env("FAKE_HEALTH", "starting").spawn();
    running.wait_for_call(FAKE_START_TIMEOUT, |c| is_probe(c, "db"));
    running.signal(libc::SIGTERM);
    let run = running.finish_within(FAKE_SIGNAL_TIMEOUT);
    run.assert_code(143)
        .assert_no_compose("run")
        .assert_no_compose("down")
        .assert_nothing_left();
}

#[test]
fn without_dependencies_nothing_is_started_or_waited_for() {
    let run = Fake::new().env("FAKE_SERVICES", "tests").run();
    run.assert_code(0).assert_no_compose("up");
    let p = run.project();
    let test_container = format!("{p}-tests-run");
    let mut seq = Sequence::new(&run);
    assert_preflight(&mut seq, &run);
    seq.next("`compose run` of the tests", |c| c.is_compose("run"));
    // `compose run` created the network.
    seq.remove_created(
        &p,
        &[&format!("fakeid-run-{test_container}")],
        &[&format!("{p}_default")],
        &[],
    );
    seq.end();
    run.assert_nothing_left();
}

#[test]
fn the_test_command_follows_the_service_verbatim() {
    let run = Fake::new()
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

/// `pull` takes the services that only pull their image; `build` the ones
/// with `build:`, the test service's among them.
#[test]
fn pull_and_build_come_before_up() {
    let run = Fake::new()
        .env("FAKE_SERVICES", "db api tests")
        .env("FAKE_BUILD", "api tests")
        .args(&["--pull", "--build"])
        .run();
    run.assert_code(0);
    let pull = run.position(|c| c.is_compose("pull")).unwrap();
    let build = run.position(|c| c.is_compose("build")).unwrap();
    let up = run.position(|c| c.is_compose("up")).unwrap();
    assert!(pull < build && build < up, "{}", run.describe());
    assert_eq!(
        run.only_compose("pull").compose_args(),
        ["--ignore-pull-failures", "db"]
    );
    assert_eq!(
        run.only_compose("build").compose_args(),
        ["--pull", "api", "tests"]
    );
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
    // (TESTBED_SERVICES, the flags, what `up` starts, the grace period of
    // `down`)
    let cases: [(Option<&str>, &[&str], &str, &str); 2] = [
        (None, &[], "db", "7"),
        (Some("cache"), &["--stop-timeout", "3"], "cache", "3"),
    ];
    for (env, args, started, grace) in cases {
        let mut fake = Fake::new()
            .compose_file(yaml)
            .env("FAKE_SERVICES", "db cache tests")
            .args(args);
        if let Some(services) = env {
            fake = fake.env("TESTBED_SERVICES", services);
        }
        let run = fake.run();
        run.assert_code(0);
        assert_eq!(
            run.only_compose("up").compose_args(),
            ["--no-start", started]
        );
        assert_eq!(
            run.only_compose("down").compose_args(),
            ["-v", "--remove-orphans", "-t", grace]
        );
    }
}

#[test]
fn a_sub_second_stop_timeout_is_rounded_up_for_compose_down() {
    let run = Fake::new().args(&["--stop-timeout", "500ms"]).run();
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
    let run = Fake::new()
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
    let run = Fake::new().run();
    run.assert_code(0);
    assert!(
        run.only_compose("run")
            .compose_args()
            .contains(&"-T".to_string()),
        "{}",
        run.describe()
    );
    let run = Fake::new().args(&["--tty"]).run();
    run.assert_code(0);
    assert!(
        !run.only_compose("run")
            .compose_args()
            .contains(&"-T".to_string()),
        "{}",
        run.describe()
    );
}

#[test]
fn artifacts_in_copy_mode_save_every_log_and_copy_the_tests_files_out() {
    let run = Fake::new()
        .args(&["--artifacts", "out", "--artifacts-mode", "copy"])
        .run();
    run.assert_code(0);
    let p = run.project();
    let test_container = format!("{p}-tests-run");
    let test_run = run.only_compose("run");
    let at = test_run
        .argv
        .iter()
        .position(|w| w == "-v")
        .unwrap_or_else(|| panic!("no `-v` for the artifacts\n{}", run.describe()));
    // An anonymous volume at the directory's own path.
    let dir = test_run.argv[at + 1].clone();
    assert!(
        dir.starts_with('/') && dir.ends_with("/work/out"),
        "{}",
        run.describe()
    );
    assert!(
        test_run.has_pair("-e", "ARTIFACTS_DIR"),
        "{}",
        run.describe()
    );

    let mut seq = Sequence::after(&run, "`compose run` of the tests", |c| c.is_compose("run"));
    // Every container, the tests' included.
    seq.next("`ps` of all the project's containers", |c| {
        is(
            c,
            &["ps", "-aq", "--no-trunc", "--filter", &project_label(&p)],
        )
    });
    let test_id = format!("fakeid-run-{test_container}");
    seq.next("`inspect` of them", |c| {
        is_with_any_order(c, &["inspect"], &["fakeid-db", &test_id])
    });
    let source = format!("{test_container}:{dir}/.");
    seq.next("`cp` out of the test container", |c| {
        is(c, &["cp", &source, "-"])
    });
    seq.any_order(
        "the logs, saved at once",
        vec![
            Box::new(|c: &Call| is(c, &["logs", "--timestamps", "fakeid-db"])),
            Box::new(|c: &Call| is(c, &["logs", "--timestamps", &test_container])),
        ],
    );
    seq.remove_created(
        &p,
        &["fakeid-db", &test_id],
        &[&format!("{p}_default")],
        &[],
    );
    seq.end();
    run.assert_nothing_left()
        .assert_stderr_contains("artifacts: 1 file and 2 logs in");

    let read = |name: &str| {
        std::fs::read_to_string(std::path::Path::new(&dir).join(name))
            .unwrap_or_else(|e| panic!("{dir}/{name}: {e}\n{}", run.describe()))
    };
    assert_eq!(
        read("junit.xml"),
        "<testsuites tests=\"1\" failures=\"0\"/>\n"
    );
    let db_log = read("logs/db.log");
    assert!(
        db_log.ends_with("Z db | fake log line\n") && db_log.starts_with("20"),
        "not a timestamped log: {db_log:?}"
    );
    assert!(read("logs/tests.log").ends_with("Z fake tests ran\n"));
}
