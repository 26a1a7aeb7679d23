//! The labels on everything a run creates: its dependencies, its test
//! container, its networks and its named volumes, under both compose
//! flavors, and nothing on what compose did not create.

use crate::common::engine::{assert_clean, docker, hostname, now};
use crate::common::{Flavor, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};

/// `testbed.*` labels of each object, one `name key=value…` line each.
fn labelled(kind: &[&str], filter: &str, name: &str) -> Vec<(String, String)> {
    let format = format!(
        "{name}|{{{{.Label \"testbed.run\"}}}}|{{{{.Label \"testbed.owner\"}}}}|\
         {{{{.Label \"testbed.started\"}}}}|{{{{.Label \"testbed.ttl\"}}}}"
    );
    let mut args = kind.to_vec();
    args.extend(["--filter", filter, "--format", &format]);
    docker(&args)
        .lines()
        .map(|line| {
            let (name, labels) = line.split_once('|').unwrap();
            (name.to_string(), labels.to_string())
        })
        .collect()
}

fn every_resource_of_a_run_carries_the_labels(flavor: Flavor) {
    let external = format!("tbe2e-external-{}-{}", flavor.tag(), std::process::id());
    docker(&[
        "network",
        "create",
        "--label",
        "org.testbed.e2e.labels=1",
        &external,
    ]);
    let before = now();
    let run = Testbed::fixture("labels")
        .flavor(flavor)
        .project("labels")
        .env("TB_E2E_EXTERNAL_NETWORK", &external)
        .args(["--ttl", "90m"])
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().unwrap().to_string();
    let compose = format!("label=com.docker.compose.project={project}");
    let owner = format!("{}:{}", hostname(), run.pid());
    let check = |what: &str, found: Vec<(String, String)>, expected: usize| {
        assert_eq!(found.len(), expected, "{what}: {found:?}");
        for (name, labels) in found {
            let fields: Vec<&str> = labels.split('|').collect();
            assert_eq!(fields[..2], [project.as_str(), &owner], "{what} {name}");
            let started: u64 = fields[2].parse().unwrap_or(0);
            assert!(
                (before..=now()).contains(&started),
                "{what} {name}: started {started}"
            );
            assert_eq!(fields[3], "5400", "{what} {name}");
        }
    };
    // The dependency and the one-off test container.
    check(
        "container",
        labelled(&["ps", "-a"], &compose, "{{.Names}}"),
        2,
    );
    // default and back, not the external one.
    check(
        "network",
        labelled(&["network", "ls"], &compose, "{{.Name}}"),
        2,
    );
    // The named volume; the anonymous one goes with its container.
    check(
        "volume",
        labelled(&["volume", "ls"], &compose, "{{.Name}}"),
        1,
    );
    let outside = docker(&[
        "network",
        "inspect",
        "--format",
        "{{json .Labels}}",
        &external,
    ]);
    assert_eq!(outside.trim(), r#"{"org.testbed.e2e.labels":"1"}"#);

    run.signal(libc::SIGTERM);
    let out = run.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    assert_clean(&out.project);
    docker(&["network", "rm", &external]);
}
per_flavor!(every_resource_of_a_run_carries_the_labels);
