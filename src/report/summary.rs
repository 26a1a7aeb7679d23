//! The table printed at the end of every run: each phase with its time and
//! result, and each dependency with its time to ready.

use std::fmt::Write;
use std::time::Duration;

use super::diagnosis;
use super::timeline::{PhaseName, State};
use crate::events::out_of_memory;

/// The summary as lines of text, without colours; with each dependency's
/// time to ready unless a picture shows it.
pub fn render(state: &State, services: bool) -> String {
    let mut out = String::new();
    let width = state
        .phases
        .iter()
        .map(|p| p.name.as_str().len())
        .chain(state.services.iter().map(|s| s.name.len()))
        .chain(["service".len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "{:width$}  {:>7}  result", "phase", "time");
    for phase in &state.phases {
        let result = match (phase.name, phase.outcome, state.tests_exit) {
            (PhaseName::Tests, _, Some(code)) => match state.tests_oom {
                Some(limit) => format!("exit {code}, {}", out_of_memory(limit)),
                None => format!("exit {code}"),
            },
            (_, outcome, _) => outcome.as_str().to_string(),
        };
        let _ = writeln!(
            out,
            "{:width$}  {:>7}  {result}",
            phase.name.as_str(),
            seconds(phase.duration)
        );
    }
    let mut shown: Vec<_> = state
        .services
        .iter()
        .filter(|s| services && (s.ready_after.is_some() || s.diagnosis.is_some()))
        .collect();
    // In the order they got ready; those given up on last.
    shown.sort_by_key(|s| s.ready_after.unwrap_or(Duration::MAX));
    if !shown.is_empty() {
        let _ = writeln!(out, "{:width$}  {:>7}", "service", "ready");
        for service in shown {
            let name = &service.name;
            match (&service.diagnosis, service.ready_after) {
                (Some(why), _) => {
                    let why = diagnosis::state_line(why);
                    let _ = writeln!(out, "{name:width$}  {:>7}  not ready: {why}", "-");
                }
                (None, Some(after)) => {
                    let _ = writeln!(out, "{name:width$}  {:>7}", seconds(after));
                }
                (None, None) => {}
            }
        }
    }
    for died in &state.died_during_tests {
        let _ = writeln!(out, "died during the tests: {died}");
    }
    out
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::events::DiedDuringTests;
    use crate::report::timeline::{Outcome, Phase, PhaseName, Service};

    fn phase(name: PhaseName, millis: u64, outcome: Outcome) -> Phase {
        Phase {
            name,
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(millis),
            outcome,
            message: None,
            log: None,
        }
    }

    #[test]
    fn the_summary_lists_phases_then_services() {
        let state = State {
            phases: vec![
                phase(PhaseName::Preflight, 120, Outcome::Passed),
                phase(PhaseName::Up, 2_430, Outcome::Passed),
                phase(PhaseName::Tests, 41_200, Outcome::Passed),
                phase(PhaseName::Collect, 80, Outcome::Passed),
                phase(PhaseName::Teardown, 510, Outcome::Passed),
            ],
            // In the compose file's order: the summary lists them in the
            // order they got ready.
            services: vec![
                Service {
                    name: "api".into(),
                    ready_after: Some(Duration::from_millis(2_020)),
                    ..Service::default()
                },
                Service {
                    name: "db".into(),
                    ready_after: Some(Duration::from_millis(1_140)),
                    ..Service::default()
                },
                Service {
                    name: "worker".into(),
                    ..Service::default()
                },
            ],
            tests_exit: Some(3),
            tests_oom: None,
            died_during_tests: vec![DiedDuringTests {
                service: "db".into(),
                exit_code: 137,
                oom_killed: true,
                into_tests: Duration::from_millis(4_230),
                log: String::new(),
            }],
            steps: Vec::new(),
            wait_began: None,
        };
        assert_eq!(
            render(&state, true),
            "\
phase         time  result
preflight     0.1s  passed
up            2.4s  passed
tests        41.2s  exit 3
collect       0.1s  passed
teardown      0.5s  passed
service      ready
db            1.1s
api           2.0s
died during the tests: db exited with code 137 (out of memory) 4.2s into the tests
"
        );
    }
}
