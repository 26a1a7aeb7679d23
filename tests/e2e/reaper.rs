//! The reaper: testbed killed with SIGKILL while it brings the stack up,
//! while it waits for it and while the tests run, on this machine and in a
//! job container, and a job container killed under a run. Within
//! `REAP_BOUND` of the kill the stack is gone, and its reaper with it. A
//! run that ends normally leaves no reaper behind, and eight runs at once,
//! two of them interrupted, leave nothing either. What a killed compose
//! command had asked the daemon for, landing after the kill, is removed by
//! testbed's teardown or by the reaper.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::engine::{assert_clean, docker, processes_of, wait_for, wait_until_reaped};
use crate::common::{
    BUSY_SIGNAL_TIMEOUT, Flavor, REAP_BOUND, RUN_TIMEOUT, Running, SIGNAL_TIMEOUT, START_TIMEOUT,
    Testbed, per_flavor, per_flavor_cases,
};
use crate::job::{JobContainer, job_ready};

/// Whether a container of `project` runs.
fn runs_a_container(project: &str) -> bool {
    let filter = format!("label=com.docker.compose.project={project}");
    !docker(&[
        "ps",
        "-q",
        "--filter",
        &filter,
        "--filter",
        "status=running",
    ])
    .trim()
    .is_empty()
}

/// Kills testbed with SIGKILL, then checks that its stack and its reaper
/// are gone within the bound, and that the reaper said what it removed.
fn kill_and_expect_reaped(run: Running) {
    let killed = Instant::now();
    run.signal(libc::SIGKILL);
    expect_reaped(run, killed);
}

/// Checks that the stack and reaper of a testbed killed at `killed` are
/// gone within the bound.
fn expect_reaped(run: Running, killed: Instant) {
    let project = run.project().unwrap().to_string();
    let out = run.finish(RUN_TIMEOUT);
    assert_eq!(out.code, None, "testbed was not killed\n{out}");
    wait_until_reaped(&project, REAP_BOUND);
    let took = killed.elapsed();
    assert!(took <= REAP_BOUND, "reaped after {took:?}\n{out}");
    eprintln!("note: {project} reaped {took:.1?} after SIGKILL");
    assert!(
        out.stderr
            .contains("reaper: testbed ended before it removed"),
        "{out}"
    );
}

fn sigkill_during_up_leaves_nothing(flavor: Flavor) {
    let run = Testbed::fixture("bench-chain")
        .flavor(flavor)
        .project("kill-up")
        .spawn();
    // Printed just before `compose up` is started.
    run.wait_for_stderr("testbed: starting ", START_TIMEOUT);
    kill_and_expect_reaped(run);
}
per_flavor!(sigkill_during_up_leaves_nothing);

/// A compose command testbed started dies with it, rather than go on
/// creating containers after the reaper is done: here `up` first sleeps
/// in a shim, and would create the stack seconds after the kill.
fn sigkill_during_a_slow_up_leaves_nothing(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let shim = dir.path().join("slow-up");
    std::fs::write(
        &shim,
        "#!/bin/sh\nfor arg; do [ \"$arg\" = up ] && sleep 5; done\nexec \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let compose = format!("{} {}", shim.display(), flavor.compose());
    let run = Testbed::fixture("basic")
        .project(&format!("kill-slow-{}", flavor.tag()))
        .args(["--compose", &compose])
        .spawn();
    let project = run.project().unwrap().to_string();
    // testbed names the shim too, on its own command line.
    let shim_runs = || {
        processes_of(&project)
            .iter()
            .any(|p| p.contains(": /bin/sh ") && p.contains("slow-up"))
    };
    wait_for("slow `up`", START_TIMEOUT, shim_runs);
    let killed = Instant::now();
    run.signal(libc::SIGKILL);
    // At once, not when its sleep ends.
    wait_for("end of the slow `up`", Duration::from_secs(2), || {
        !shim_runs()
    });
    expect_reaped(run, killed);
}
per_flavor!(sigkill_during_a_slow_up_leaves_nothing);

fn sigkill_while_waiting_leaves_nothing(flavor: Flavor) {
    let run = Testbed::fixture("never-healthy")
        .flavor(flavor)
        .project("kill-wait")
        .args(["--wait-timeout", "10m"])
        .spawn();
    let project = run.project().unwrap().to_string();
    wait_for("running dependency", START_TIMEOUT, || {
        runs_a_container(&project)
    });
    kill_and_expect_reaped(run);
}
per_flavor!(sigkill_while_waiting_leaves_nothing);

fn sigkill_during_the_tests_leaves_nothing(flavor: Flavor) {
    let run = Testbed::fixture("slow-test")
        .flavor(flavor)
        .project("kill-test")
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().unwrap().to_string();
    let reapers: Vec<String> = processes_of(&project)
        .into_iter()
        .filter(|p| p.contains(" reap --project "))
        .collect();
    assert_eq!(reapers.len(), 1, "one reaper watches: {reapers:?}");
    kill_and_expect_reaped(run);
}
per_flavor!(sigkill_during_the_tests_leaves_nothing);

fn a_normal_run_leaves_no_reaper(flavor: Flavor) {
    let out = Testbed::fixture("basic")
        .flavor(flavor)
        .project("no-reaper")
        .args(["-v"])
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr
            .contains("reaper: a process (testbed runs on the daemon's machine)"),
        "{out}"
    );
    assert_eq!(processes_of(&out.project), Vec::<String>::new(), "{out}");
    assert!(!out.stderr.contains("reaper: testbed ended"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(a_normal_run_leaves_no_reaper);

/// `testbed <args>` in `dir` with the compose of `flavor`.
fn testbed_in(dir: &std::path::Path, flavor: Flavor, args: &[&str]) -> Testbed {
    let (subcommand, rest) = args.split_first().unwrap();
    Testbed::new(subcommand).dir(dir).flavor(flavor).args(rest)
}

/// `testbed test` killed: its reaper removes its test container, and only
/// that; the stack `up` left stays, and serves the next `test`.
fn sigkill_of_test_removes_only_its_test_container(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(
        format!("{}/fixtures/slow-test/compose.yml", crate::common::ROOT),
        d.join("compose.yml"),
    )
    .unwrap();
    let up = testbed_in(d, flavor, &["up"]).output();
    assert_eq!(up.code, Some(0), "{up}");
    let state = std::fs::read_to_string(d.join(".testbed/state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let project = state["stacks"][0]["project"].as_str().unwrap().to_string();
    let dep = format!("label=com.docker.compose.project={project}");

    let test = testbed_in(d, flavor, &["test"]).spawn();
    test.wait_for_stdout("tests started", START_TIMEOUT);
    let killed = Instant::now();
    test.signal(libc::SIGKILL);
    let tests = format!("{project}-tests-run");
    wait_for("the test container to go", REAP_BOUND, || {
        docker(&["ps", "-aq", "--filter", &format!("name=^{tests}$")])
            .trim()
            .is_empty()
    });
    // The reaper writes to testbed's stderr, and closes it when it is done.
    test.wait_for_stderr(
        &format!("reaper: testbed ended before it removed {tests}"),
        REAP_BOUND,
    );
    let out = test.finish(REAP_BOUND);
    eprintln!(
        "note: {tests} reaped {:.1?} after SIGKILL",
        killed.elapsed()
    );
    assert_eq!(out.code, None, "testbed was not killed\n{out}");
    assert!(runs_a_container(&project), "the stack went too");
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &dep]).lines().count(),
        1,
        "only the dependency is left"
    );

    let again = testbed_in(d, flavor, &["test", "--", "echo", "again"]).output();
    assert_eq!(again.code, Some(0), "{again}");
    let down = testbed_in(d, flavor, &["down"]).output();
    assert_eq!(down.code, Some(0), "{down}");
    assert_clean(&project);
}
per_flavor!(sigkill_of_test_removes_only_its_test_container);

// ---- in a job container ----------------------------------------------------

fn killed_job_container_has_its_stack_removed(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .copy_fixture("fixtures/slow-test")
        .start();
    let run = job.testbed(Testbed::run().project("job-kill")).spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().unwrap().to_string();
    // The reaper is a sibling of the job, on the daemon.
    let reaper = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("name=^{project}-reaper$"),
        "--filter",
        "label=testbed.role=reaper",
    ]);
    assert!(!reaper.trim().is_empty(), "no reaper container");
    let killed = Instant::now();
    docker(&["kill", job.id()]);
    let out = run.finish(RUN_TIMEOUT);
    wait_until_reaped(&project, REAP_BOUND);
    let took = killed.elapsed();
    assert!(took <= REAP_BOUND, "reaped after {took:?}\n{out}");
    eprintln!("note: {project} reaped {took:.1?} after docker kill of its job");
}
per_flavor!(
    killed_job_container_has_its_stack_removed,
    crate::job::job_ready
);

fn sigkill_of_testbed_in_a_job_container_leaves_nothing(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .copy_fixture("fixtures/slow-test")
        .start();
    let run = job.testbed(Testbed::run().project("job-sigkill")).spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().unwrap().to_string();
    let killed = Instant::now();
    run.signal(libc::SIGKILL);
    let out = run.finish(RUN_TIMEOUT);
    assert_eq!(out.code, Some(137), "{out}");
    wait_until_reaped(&project, REAP_BOUND);
    let took = killed.elapsed();
    assert!(took <= REAP_BOUND, "reaped after {took:?}\n{out}");
    eprintln!("note: {project} reaped {took:.1?} after SIGKILL in its job");
    // The job lives on, and nothing of the run is left in it either.
    let ps = job.exec(&["ps", "-o", "args"]);
    assert!(!ps.stdout.contains(&project), "{ps}");
}
per_flavor!(
    sigkill_of_testbed_in_a_job_container_leaves_nothing,
    crate::job::job_ready
);

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn a_normal_run_in_a_job_container_leaves_no_reaper() {
    job_ready();
    let job = JobContainer::new(Flavor::V2)
        .copy_fixture("fixtures/basic")
        .start();
    let out = job
        .testbed(Testbed::run().project("job-normal").args(["-v"]))
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        out.stderr.contains("testbed: reaper: a container of "),
        "{out}"
    );
    assert!(out.stderr.contains("testbed.role=reaper"), "{out}");
    assert_eq!(processes_of(&out.project), Vec::<String>::new(), "{out}");
    assert_clean(&out.project);
}

// ---- many at once --------------------------------------------------------------

/// Eight runs of the chain stack at once; one gets SIGTERM and one SIGKILL
/// while their stacks come up. The others pass, the first exits 143, the
/// second's stack is reaped, and nothing of any is left.
fn eight_runs_at_once_two_interrupted(flavor: Flavor) {
    let runs: Vec<Running> = (0..8)
        .map(|i| {
            Testbed::fixture("bench-chain")
                .flavor(flavor)
                .project(&format!("par{i}"))
                .spawn()
        })
        .collect();
    let projects: Vec<String> = runs
        .iter()
        .map(|r| r.project().unwrap().to_string())
        .collect();
    let mut runs = runs.into_iter();
    let (terminated, killed) = (runs.next().unwrap(), runs.next().unwrap());
    for run in [&terminated, &killed] {
        run.wait_for_stderr("testbed: starting ", START_TIMEOUT);
    }
    terminated.signal(libc::SIGTERM);
    let killed_at = Instant::now();
    killed.signal(libc::SIGKILL);

    let out = terminated.finish(BUSY_SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    let out = killed.finish(RUN_TIMEOUT);
    assert_eq!(out.code, None, "{out}");
    wait_until_reaped(&projects[1], REAP_BOUND.saturating_sub(killed_at.elapsed()));
    for run in runs {
        let out = run.finish(RUN_TIMEOUT);
        assert_eq!(out.code, Some(0), "{out}");
        assert!(out.stdout.contains("bench-chain: ok"), "{out}");
    }
    for project in &projects {
        assert_clean(project);
        assert_eq!(processes_of(project), Vec::<String>::new());
    }
}
per_flavor!(eight_runs_at_once_two_interrupted);

// ---- creates that land after the kill ----------------------------------------

/// Stands in for compose (the real one is `"$@"`). Its `SUBCOMMAND`
/// creates a volume with the run's labels, as compose does before its
/// containers, then blocks as if it were creating them; once it is killed,
/// a process outside testbed's process tree does what the daemon does with
/// the requests such a command had already sent: `DELAY` seconds later it
/// creates a network and a container (`NAME`, after the project) that
/// mounts that volume, with the run's labels. A container whose named
/// volume is gone gets one from the daemon, without labels. It touches
/// `started` when the blocking command starts, and `landed` when the
/// network and the container exist.
const LATE_CREATE: &str = r#"#!/bin/sh
project=
prev=
for arg; do
    [ "$prev" = -p ] && project=$arg
    prev=$arg
done
labels="--label com.docker.compose.project=$project --label testbed.run=$project"
for arg; do
    [ "$arg" = SUBCOMMAND ] || continue
    docker volume create $labels "${project}_late" >/dev/null
    setsid sh -c '
        while [ -e /proc/$0 ] && ! grep -q "^[0-9]* ([^)]*) Z" /proc/$0/stat; do
            sleep 0.02
        done
        sleep DELAY
        docker network create $2 "$1_late" >/dev/null &
        docker create $2 --label com.docker.compose.oneoff=True -v "$1_late:/data" \
            --name "$1-NAME" testbed-busybox:latest sleep 60 >/dev/null &
        wait
        touch "DIR/landed"
    ' $$ "$project" "$labels" </dev/null >/dev/null 2>&1 &
    touch "DIR/started"
    exec sleep 60
done
exec "$@"
"#;

/// A `--compose` value whose `subcommand` is killed mid-create and lands
/// `delay` after that, in `dir`.
fn late_create_compose(dir: &Path, flavor: Flavor, subcommand: &str, delay: &str) -> String {
    let name = match subcommand {
        "run" => "tests-run",
        _ => "late-1",
    };
    let script = LATE_CREATE
        .replace("SUBCOMMAND", subcommand)
        .replace("DELAY", delay)
        .replace("NAME", name)
        .replace("DIR", &dir.display().to_string());
    let shim = dir.join("late-create");
    std::fs::write(&shim, script).unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("{} {}", shim.display(), flavor.compose())
}

/// testbed is interrupted with `signal` while compose's `subcommand` is
/// creating, and what that command had asked for lands after the kill: a
/// container (for `run`, the tests' own) on the run's volume, and a
/// network. The teardown (SIGTERM) or the reaper (SIGKILL) removes them all
/// the same, and the volume is still there for the container to use, not
/// made anew without labels.
/// The delays fall between when the single sweeps that came before took
/// their look (testbed's teardown at once, the reaper a second later) and
/// the 3 s for which the sweeps now go on.
fn what_lands_after_the_kill_is_removed(flavor: Flavor, subcommand: &str, signal: libc::c_int) {
    let dir = tempfile::tempdir().unwrap();
    let delay = if signal == libc::SIGKILL {
        "1.6"
    } else {
        "0.5"
    };
    let compose = late_create_compose(dir.path(), flavor, subcommand, delay);
    let run = Testbed::fixture("basic")
        .project(&format!("late-{subcommand}-{}", flavor.tag()))
        .args(["--compose", &compose])
        .spawn();
    let project = run.project().unwrap().to_string();
    let started = dir.path().join("started");
    wait_for("the blocking compose command", START_TIMEOUT, || {
        started.exists()
    });
    run.signal(signal);
    let out = run.finish(RUN_TIMEOUT);
    let landed = dir.path().join("landed");
    wait_for("the late creates", Duration::from_secs(20), || {
        landed.exists()
    });
    if signal == libc::SIGKILL {
        assert_eq!(out.code, None, "testbed was not killed\n{out}");
        wait_until_reaped(&project, REAP_BOUND);
    } else {
        assert_eq!(out.code, Some(128 + signal), "{out}");
        assert_clean(&project);
    }
}

per_flavor_cases!(what_lands_after_the_kill_is_removed {
    up_killed_by_sigterm_lands_after_the_kill: ("up", libc::SIGTERM);
    up_killed_by_sigkill_lands_after_the_kill: ("up", libc::SIGKILL);
    run_killed_by_sigterm_lands_after_the_kill: ("run", libc::SIGTERM);
    run_killed_by_sigkill_lands_after_the_kill: ("run", libc::SIGKILL);
});

/// A second SIGTERM while the teardown sweeps, after a late create landed,
/// does not stop the sweep: the run still exits 143 and leaves nothing.
fn a_second_signal_mid_sweep_does_not_stop_it(flavor: Flavor) {
    let dir = tempfile::tempdir().unwrap();
    let compose = late_create_compose(dir.path(), flavor, "up", "0.5");
    let run = Testbed::fixture("basic")
        .project(&format!("late-twice-{}", flavor.tag()))
        .args(["--compose", &compose])
        .spawn();
    let project = run.project().unwrap().to_string();
    let started = dir.path().join("started");
    wait_for("the blocking compose command", START_TIMEOUT, || {
        started.exists()
    });
    run.signal(libc::SIGTERM);
    let landed = dir.path().join("landed");
    wait_for("the late creates", Duration::from_secs(20), || {
        landed.exists()
    });
    run.signal(libc::SIGTERM);
    let out = run.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    assert!(out.stderr.contains("the stack was removed"), "{out}");
    assert_clean(&project);
}
per_flavor!(a_second_signal_mid_sweep_does_not_stop_it);
