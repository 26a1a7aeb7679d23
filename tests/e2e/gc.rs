//! `testbed gc` and `testbed ls` on the real engine: stacks made by hand
//! with testbed's labels (an owner that is gone, a TTL that has passed, an
//! owner's container that is gone), a live run's stack, and a compose
//! project testbed did not create. Every `gc` here is limited to the
//! test's own projects with `-p`: the engine is shared.

use std::process::{Command, Stdio};

use crate::common::engine::{assert_clean, docker, hostname, now, remove_project, require};
use crate::common::{Flavor, Output, ROOT, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};

fn pid_namespace() -> String {
    let link = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let link = link.to_string_lossy();
    link.trim_start_matches("pid:[")
        .trim_end_matches(']')
        .to_string()
}

/// A pid that no process has: one that just ended.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// `testbed <args>` to its end.
fn testbed(args: &[&str]) -> Output {
    let (subcommand, rest) = args.split_first().unwrap();
    Testbed::new(subcommand).args(rest).output()
}

/// What carries `testbed.run=<project>`, by kind.
fn labelled(project: &str) -> [usize; 3] {
    let filter = format!("label=testbed.run={project}");
    [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"][..],
        &["volume", "ls", "-q"][..],
    ]
    .map(|list| {
        let mut args = list.to_vec();
        args.extend(["--filter", &filter]);
        docker(&args).lines().count()
    })
}

/// A stack made by hand, as a run would leave it: a container (created,
/// not started), a network and a volume, each with testbed's labels and
/// named like compose names them. Dropping it removes what is left.
struct HandMade {
    project: String,
}

impl HandMade {
    /// A stack of `tbe2e-gc-<scenario>-<pid>` with `labels` besides
    /// `testbed.run`.
    fn new(scenario: &str, labels: &[(&str, String)]) -> HandMade {
        let project = format!("tbe2e-gc-{scenario}-{}", std::process::id());
        let mut args: Vec<String> = vec!["--label".into(), format!("testbed.run={project}")];
        for (key, value) in labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stack = HandMade { project };
        let p = &stack.project;
        docker(
            &[
                &["network", "create"][..],
                &args,
                &[&format!("{p}_default")],
            ]
            .concat(),
        );
        docker(&[&["volume", "create"][..], &args, &[&format!("{p}_data")]].concat());
        let name = format!("{p}-dep-1");
        let mount = format!("{p}_data:/data");
        docker(
            &[
                &[
                    "create",
                    "--name",
                    &name,
                    "--network",
                    &format!("{p}_default"),
                ][..],
                &["-v", &mount],
                &args,
                &["testbed-busybox:latest", "sleep", "60"],
            ]
            .concat(),
        );
        assert_eq!(labelled(p), [1, 1, 1]);
        stack
    }

    /// Runs `testbed gc -p <project>` with `args` and returns its stdout.
    fn gc(&self, args: &[&str]) -> String {
        let mut full = vec!["gc", "-p", &self.project];
        full.extend(args);
        let out = testbed(&full);
        assert_eq!(out.code, Some(0), "{out}");
        out.stdout.clone()
    }
}

impl Drop for HandMade {
    fn drop(&mut self) {
        remove_project(&self.project);
    }
}

/// The labels of a run by `owner` that started `age` seconds ago, with a
/// TTL of `ttl` seconds.
fn run_labels(owner: String, age: u64, ttl: u64) -> Vec<(&'static str, String)> {
    vec![
        ("testbed.started", (now() - age).to_string()),
        ("testbed.owner", owner),
        ("testbed.ttl", ttl.to_string()),
        ("testbed.pidns", pid_namespace()),
    ]
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn gc_removes_a_stack_whose_owner_is_gone() {
    require();
    let pid = dead_pid();
    let owner = format!("{}:{pid}", hostname());
    let stack = HandMade::new("dead", &run_labels(owner, 60, 7200));
    let line = format!(
        "removed {} (its owner, process {pid}, is gone): 1 container, 1 network and 1 volume\n",
        stack.project
    );
    assert_eq!(stack.gc(&[]), line);
    assert_clean(&stack.project);
}

/// A failed `up`'s late container gets its volume anew from the daemon,
/// without labels: only its name tells whose it is.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn gc_removes_the_unlabelled_volumes_named_after_a_stack_it_removes() {
    require();
    let pid = dead_pid();
    let owner = format!("{}:{pid}", hostname());
    let stack = HandMade::new("unlabelled", &run_labels(owner, 60, 7200));
    docker(&["volume", "create", &format!("{}_late", stack.project)]);
    let line = format!(
        "removed {} (its owner, process {pid}, is gone): 1 container, 1 network and 2 volumes\n",
        stack.project
    );
    assert_eq!(stack.gc(&[]), line);
    assert_clean(&stack.project);
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn gc_removes_a_stack_whose_owners_container_is_gone() {
    require();
    let mut labels = run_labels("gitlab-job:4242".into(), 60, 7200);
    let gone = "0".repeat(64);
    labels.push(("testbed.container", gone));
    let stack = HandMade::new("jobgone", &labels);
    let out = stack.gc(&[]);
    assert!(
        out.starts_with(&format!(
            "removed {} (its owner's container 000000000000 is gone)",
            stack.project
        )),
        "{out}"
    );
    assert_clean(&stack.project);
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn gc_removes_a_stack_past_its_ttl_and_older_than_asked() {
    require();
    // An owner on another host: gc cannot tell whether it lives.
    let owner = "elsewhere:4242".to_string();
    let stack = HandMade::new("ttl", &run_labels(owner.clone(), 3 * 3600, 2 * 3600));
    assert!(stack.gc(&[]).starts_with(&format!(
        "removed {} (its TTL of 2h has passed)",
        stack.project
    )));
    assert_clean(&stack.project);

    let stack = HandMade::new("older", &run_labels(owner, 2 * 3600, 86400));
    assert_eq!(stack.gc(&[]), "", "a stack within its TTL");
    assert_eq!(stack.gc(&["--older-than", "3h"]), "");
    let dry = stack.gc(&["--older-than", "1h", "--dry-run"]);
    assert!(
        dry.starts_with(&format!("would remove {} (older than 1h)", stack.project)),
        "{dry}"
    );
    assert_eq!(labelled(&stack.project), [1, 1, 1], "--dry-run removed");
    assert!(
        stack
            .gc(&["--older-than", "1h"])
            .starts_with(&format!("removed {} (older than 1h)", stack.project))
    );
    assert_clean(&stack.project);
}

fn gc_keeps_a_live_run_and_ls_shows_it(flavor: Flavor) {
    let run = Testbed::fixture("slow-test")
        .flavor(flavor)
        .project("gc-live")
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().unwrap().to_string();
    let owner = format!("{}:{}", hostname(), run.pid());

    let gc = testbed(&["gc", "-v", "-p", &project]);
    assert_eq!((gc.code, gc.stdout.as_str()), (Some(0), ""), "{gc}");
    let kept = format!("keeping {project} (its owner, process {}, runs)", run.pid());
    assert!(gc.stderr.contains(&kept), "{gc}");
    assert!(
        gc.stderr.contains("nothing to remove; 1 stack(s) kept"),
        "{gc}"
    );
    assert_eq!(
        labelled(&project),
        [2, 1, 0],
        "the run's containers and its network"
    );

    let ls = testbed(&["ls"]);
    assert_eq!(ls.code, Some(0), "{ls}");
    let stdout = &ls.stdout;
    let header = stdout.lines().next().unwrap_or_default();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        ["PROJECT", "AGE", "OWNER", "STATE", "GC"],
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{project} ")))
        .unwrap_or_else(|| panic!("{project} not listed:\n{stdout}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    // The reaper is not counted among the stack's containers.
    assert_eq!(fields[2..5], [owner.as_str(), "2", "running"], "{line}");
    let gc = format!("keeps it: its owner, process {}, runs", run.pid());
    assert!(line.ends_with(&gc), "{line}");

    run.signal(libc::SIGTERM);
    let out = run.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    assert_clean(&out.project);
}
per_flavor!(gc_keeps_a_live_run_and_ls_shows_it);

fn gc_and_ls_ignore_a_compose_project_testbed_did_not_create(flavor: Flavor) {
    let project = format!("tbe2e-foreign-{}-{}", flavor.tag(), std::process::id());
    let compose: Vec<&str> = flavor.compose().split(' ').collect();
    let up = Command::new(compose[0])
        .args(&compose[1..])
        .args(["-p", &project, "-f", "fixtures/basic/compose.yml"])
        .args(["up", "--no-start", "dep"])
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let listed = testbed(&["ls"]).stdout.clone();
    assert!(!listed.contains(&project), "{listed}");
    // Not even --all touches it.
    let gc = testbed(&["gc", "--all", "-p", &project]);
    assert_eq!((gc.code, gc.stdout.as_str()), (Some(0), ""), "{gc}");
    let filter = format!("label=com.docker.compose.project={project}");
    let left = docker(&["ps", "-aq", "--filter", &filter]);
    assert_eq!(left.lines().count(), 1, "the foreign container was removed");
    remove_project(&project);
    assert_clean(&project);
}
per_flavor!(gc_and_ls_ignore_a_compose_project_testbed_did_not_create);
