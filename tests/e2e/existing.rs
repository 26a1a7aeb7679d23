//! Compose files as projects already keep them for CI: fixed container
//! names, named volumes, several runs of one file at once.

use std::time::Duration;

use crate::common::engine::{assert_clean, wait_until_reaped};
use crate::common::{Flavor, RUN_TIMEOUT, Testbed, per_flavor};

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
