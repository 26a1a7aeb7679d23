//! Which dependencies died around the tests, told from the project's events
//! alone: one that died before the tests' container started is a failed
//! start, one that died after it is named beside the tests' own result. A
//! one-shot that exited 0 did its job.

use std::time::{Duration, SystemTime};

use crate::engine::watch::{Happened, Seen};

/// A dependency's container that died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    pub id: String,
    pub service: String,
    pub exit_code: i64,
    pub oom_killed: bool,
    pub at: SystemTime,
}

/// The deaths read so far, sorted by whether the tests had started.
#[derive(Debug, Default)]
pub struct Deaths {
    /// When the tests' container started, once it did.
    tests_started: Option<SystemTime>,
    oom_killed: Vec<String>,
    pub before: Vec<Death>,
    pub during: Vec<Death>,
}

impl Deaths {
    /// Takes in the next events of the project, in the daemon's order;
    /// `tests` is the test service, whose `compose run` container is the
    /// only one-off that counts.
    pub fn take(&mut self, events: Vec<Seen>, tests: &str) {
        for seen in events {
            match seen.what {
                Happened::Started if seen.one_off && seen.service == tests => {
                    self.tests_started.get_or_insert(seen.at);
                }
                Happened::OomKilled => self.oom_killed.push(seen.id),
                Happened::Died { exit_code } if !seen.one_off && exit_code != 0 => {
                    let death = Death {
                        oom_killed: self.oom_killed.contains(&seen.id),
                        id: seen.id,
                        service: seen.service,
                        exit_code,
                        at: seen.at,
                    };
                    match self.tests_started {
                        Some(_) => self.during.push(death),
                        None => self.before.push(death),
                    }
                }
                _ => {}
            }
        }
    }

    /// How long after the tests started `death` happened.
    pub fn offset(&self, death: &Death) -> Duration {
        self.tests_started
            .and_then(|started| death.at.duration_since(started).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn seen(id: &str, service: &str, one_off: bool, what: Happened, second: u64) -> Seen {
        Seen {
            id: id.into(),
            service: service.into(),
            one_off,
            what,
            at: UNIX_EPOCH + Duration::from_secs(second),
        }
    }

    fn died(id: &str, service: &str, exit_code: i64, second: u64) -> Seen {
        seen(id, service, false, Happened::Died { exit_code }, second)
    }

    #[test]
    fn a_death_before_the_tests_start_is_a_failed_start() {
        let mut deaths = Deaths::default();
        deaths.take(
            vec![
                seen("c1", "cache", false, Happened::Started, 1),
                died("c1", "cache", 3, 1),
                seen("t1", "tests", true, Happened::Created, 2),
                seen("t1", "tests", true, Happened::Started, 2),
            ],
            "tests",
        );
        assert_eq!(deaths.before.len(), 1);
        assert_eq!(deaths.before[0].service, "cache");
        assert_eq!(deaths.before[0].exit_code, 3);
        assert!(deaths.during.is_empty());
    }

    #[test]
    fn a_death_after_the_tests_start_is_named_with_its_time_and_oom() {
        let mut deaths = Deaths::default();
        deaths.take(
            vec![seen("t1", "tests", true, Happened::Started, 10)],
            "tests",
        );
        deaths.take(
            vec![
                seen("d1", "db", false, Happened::OomKilled, 14),
                died("d1", "db", 137, 14),
            ],
            "tests",
        );
        assert!(deaths.before.is_empty());
        let death = &deaths.during[0];
        assert_eq!((death.service.as_str(), death.exit_code), ("db", 137));
        assert!(death.oom_killed);
        assert_eq!(deaths.offset(death), Duration::from_secs(4));
    }

    #[test]
    fn one_shots_that_exit_0_and_one_off_containers_are_no_deaths() {
        let mut deaths = Deaths::default();
        deaths.take(
            vec![
                died("m1", "migrate", 0, 1),
                // Another one-off of the project, and the tests themselves.
                seen("o1", "tests", true, Happened::Died { exit_code: 1 }, 2),
                seen("x1", "tools", true, Happened::Started, 2),
                seen("t1", "tests", true, Happened::Started, 3),
                seen("t1", "tests", true, Happened::Died { exit_code: 1 }, 4),
                died("m2", "seed", 0, 5),
            ],
            "tests",
        );
        assert_eq!(deaths.before, []);
        assert_eq!(deaths.during, []);
    }
}
