//! Which dependencies died around the tests, told from the project's events
//! alone: one that died before the tests' container started is a failed
//! start, one that died after it is named beside the tests' own result. A
//! one-shot that exited 0 did its job; a service another waits on as
//! healthy did not, whatever its code.

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
    /// The test service.
    tests: String,
    /// Whether the tests run in its own container, not a one-off.
    in_service: bool,
    /// The services another waits on as healthy: an exit 0 of theirs is a
    /// death too.
    long_running: Vec<String>,
    /// When the tests' container started, once it did.
    tests_started: Option<SystemTime>,
    oom_killed: Vec<String>,
    pub before: Vec<Death>,
    pub during: Vec<Death>,
}

impl Deaths {
    /// For the tests of service `tests`, run in a `compose run` container
    /// or, `in_service`, in the service's own.
    pub fn new(tests: &str, in_service: bool, long_running: Vec<String>) -> Deaths {
        Deaths {
            tests: tests.to_string(),
            in_service,
            long_running,
            ..Deaths::default()
        }
    }

    /// Whether `seen` is of the tests' container: the test service's one
    /// one-off, or its own container.
    fn of_tests(&self, seen: &Seen) -> bool {
        seen.service == self.tests && seen.one_off != self.in_service
    }

    /// Takes in the next events of the project, in the daemon's order.
    pub fn take(&mut self, events: Vec<Seen>) {
        for seen in events {
            let tests = self.of_tests(&seen);
            match seen.what {
                Happened::Started if tests => {
                    self.tests_started.get_or_insert(seen.at);
                }
                Happened::OomKilled => self.oom_killed.push(seen.id),
                Happened::Died { exit_code }
                    if !seen.one_off
                        && !tests
                        && (exit_code != 0 || self.long_running.contains(&seen.service)) =>
                {
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
        let mut deaths = Deaths::new("tests", false, Vec::new());
        deaths.take(vec![
            seen("c1", "cache", false, Happened::Started, 1),
            died("c1", "cache", 3, 1),
            seen("t1", "tests", true, Happened::Created, 2),
            seen("t1", "tests", true, Happened::Started, 2),
        ]);
        assert_eq!(deaths.before.len(), 1);
        assert_eq!(deaths.before[0].service, "cache");
        assert_eq!(deaths.before[0].exit_code, 3);
        assert!(deaths.during.is_empty());
    }

    #[test]
    fn a_death_after_the_tests_start_is_named_with_its_time_and_oom() {
        let mut deaths = Deaths::new("tests", false, Vec::new());
        deaths.take(vec![seen("t1", "tests", true, Happened::Started, 10)]);
        deaths.take(vec![
            seen("d1", "db", false, Happened::OomKilled, 14),
            died("d1", "db", 137, 14),
        ]);
        assert!(deaths.before.is_empty());
        let death = &deaths.during[0];
        assert_eq!((death.service.as_str(), death.exit_code), ("db", 137));
        assert!(death.oom_killed);
        assert_eq!(deaths.offset(death), Duration::from_secs(4));
    }

    #[test]
    fn in_the_services_own_container_its_start_counts_and_its_exit_is_no_death() {
        let mut deaths = Deaths::new("main", true, Vec::new());
        deaths.take(vec![
            seen("m1", "main", false, Happened::Started, 1),
            died("d1", "postgres", 1, 2),
            died("m1", "main", 3, 5),
        ]);
        assert!(deaths.before.is_empty());
        assert_eq!(deaths.during.len(), 1);
        assert_eq!(deaths.during[0].service, "postgres");
        assert_eq!(deaths.offset(&deaths.during[0]), Duration::from_secs(1));
    }

    #[test]
    fn one_shots_that_exit_0_and_one_off_containers_are_no_deaths() {
        let mut deaths = Deaths::new("tests", false, Vec::new());
        deaths.take(vec![
            died("m1", "migrate", 0, 1),
            // Another one-off of the project, and the tests themselves.
            seen("o1", "tests", true, Happened::Died { exit_code: 1 }, 2),
            seen("x1", "tools", true, Happened::Started, 2),
            seen("t1", "tests", true, Happened::Started, 3),
            seen("t1", "tests", true, Happened::Died { exit_code: 1 }, 4),
            died("m2", "seed", 0, 5),
        ]);
        assert_eq!(deaths.before, []);
        assert_eq!(deaths.during, []);
    }

    #[test]
    fn a_service_waited_on_as_healthy_that_exits_0_is_a_death() {
        let mut deaths = Deaths::new("tests", false, vec!["db".into()]);
        deaths.take(vec![died("d1", "db", 0, 1), died("m1", "migrate", 0, 1)]);
        assert_eq!(deaths.before.len(), 1);
        assert_eq!(deaths.before[0].service, "db");
        assert_eq!(deaths.before[0].exit_code, 0);
    }
}
