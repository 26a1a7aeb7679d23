//! `--shards N`: one suite split over N isolated stacks at once. Each shard
//! is a whole run of its own, under its own project name (`<project>-s<i>`),
//! with its own artifacts directory (`<dir>/shard-<i>/`) and its own place
//! in the suite (`CI_NODE_INDEX`, `CI_NODE_TOTAL`), so it is torn down on
//! every path that a single run is, its reaper included.

use crate::config::{Config, Node};
use crate::events::Events;
use crate::exit::Exit;
use crate::signals::Signals;

/// One shard: its number on this machine (1-based), and its run.
#[derive(Debug, Clone)]
pub struct Shard {
    pub index: u32,
    pub config: Config,
}

/// The shards of `config`: each with its project, artifacts directory, and
/// place among all the shards of the suite, across GitLab's parallel jobs.
pub fn plan(config: &Config) -> Vec<Shard> {
    let node = config.node.unwrap_or(Node { index: 1, total: 1 });
    (1..=config.shards)
        .map(|index| {
            let mut shard = config.clone();
            shard.shards = 1;
            shard.hold_output = true;
            shard.project = format!("{}-s{index}", config.project);
            shard.node = Some(node.shard(index, config.shards));
            shard.artifacts = config
                .artifacts
                .as_ref()
                .map(|dir| dir.join(format!("shard-{index}")));
            // One JUnit file and one report for all the shards.
            shard.junit = None;
            shard.report = None;
            shard.timeline = None;
            shard.summary = None;
            shard.junit_from = None;
            Shard {
                index,
                config: shard,
            }
        })
        .collect()
}

/// Runs every shard at once, each telling its own `events`, and returns
/// their exit codes in order.
pub fn run(shards: &[Shard], signals: &Signals, events: &[&dyn Events]) -> Vec<Exit> {
    std::thread::scope(|scope| {
        let runs: Vec<_> = shards
            .iter()
            .zip(events)
            .map(|(shard, events)| scope.spawn(move || super::run(&shard.config, signals, *events)))
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("a shard's run panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{Policy, RunArgs, resolve};

    fn config(shards: u32, node: Option<(&str, &str)>) -> Config {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("compose.yml"),
            "services:\n  tests:\n    image: x\n",
        )
        .unwrap();
        let args = RunArgs {
            shards: Some(shards),
            project_name: Some("tb-x".into()),
            artifacts: Some(PathBuf::from("out")),
            ..RunArgs::default()
        };
        let var = |name: &str| match (name, node) {
            ("CI_NODE_INDEX", Some((index, _))) => Some(index.to_string()),
            ("CI_NODE_TOTAL", Some((_, total))) => Some(total.to_string()),
            _ => None,
        };
        resolve(Policy::run(false), &args, dir.path(), var).unwrap()
    }

    #[test]
    fn each_shard_has_its_project_artifacts_and_place() {
        let config = config(3, None);
        let shards = plan(&config);
        let seen: Vec<(u32, &str, u32, u32)> = shards
            .iter()
            .map(|s| {
                let node = s.config.node.unwrap();
                (s.index, s.config.project.as_str(), node.index, node.total)
            })
            .collect();
        assert_eq!(
            seen,
            [
                (1, "tb-x-s1", 1, 3),
                (2, "tb-x-s2", 2, 3),
                (3, "tb-x-s3", 3, 3)
            ]
        );
        let artifacts = shards[1].config.artifacts.as_ref().unwrap();
        assert!(
            artifacts.ends_with("out/shard-2"),
            "{}",
            artifacts.display()
        );
        assert!(shards.iter().all(|s| s.config.shards == 1));
    }

    #[test]
    fn shards_are_numbered_across_gitlabs_parallel_jobs() {
        // Node 2 of 4, two shards each: the 3rd and 4th of 8.
        let shards = plan(&config(2, Some(("2", "4"))));
        let places: Vec<(u32, u32)> = shards
            .iter()
            .map(|s| s.config.node.map(|n| (n.index, n.total)).unwrap())
            .collect();
        assert_eq!(places, [(3, 8), (4, 8)]);
    }
}
