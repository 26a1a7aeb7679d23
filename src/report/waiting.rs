//! How a service that is not ready reads: what it waits on, and why it
//! will not get ready. The engine says it in types; the words are here.

use std::fmt;

use crate::engine::model::{CheckSaid, Condition, Fault, Waiting};
use crate::engine::scheduler::WaitingOn;

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Waiting::Health(status) => write!(f, "health: {status}"),
            Waiting::Status(status) => f.write_str(status.as_str()),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Exited {
                code,
                oom_killed: true,
            } => write!(f, "exited with code {code}, killed: out of memory"),
            Fault::Exited { code, .. } => write!(f, "exited with code {code}"),
            Fault::Unhealthy(None) => f.write_str("turned unhealthy"),
            Fault::Unhealthy(Some(CheckSaid::Line(line))) => write!(f, "turned unhealthy: {line}"),
            Fault::Unhealthy(Some(CheckSaid::ExitCode(code))) => {
                write!(f, "turned unhealthy: healthcheck exited with code {code}")
            }
            Fault::Restarting { last_exit_code } => {
                write!(f, "keeps restarting (last exit code {last_exit_code})")
            }
            Fault::CompletedWhileAwaited { by } => {
                write!(f, "exited with code 0 ({by} waits for it to be healthy)")
            }
            Fault::NeverHealthy { checked_for } => write!(
                f,
                "turned unhealthy: its healthcheck did not pass in {:.1}s",
                checked_for.as_secs_f64()
            ),
        }
    }
}

impl fmt::Display for WaitingOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitingOn::Dependencies(blocking) => {
                let blocking: Vec<String> = blocking
                    .iter()
                    .map(|(service, condition)| awaited(service, *condition))
                    .collect();
                write!(f, "not started: waiting for {}", blocking.join(" and "))
            }
            WaitingOn::Starting => f.write_str("starting"),
            WaitingOn::Container(waiting) => waiting.fmt(f),
            WaitingOn::Failed(fault) => fault.fmt(f),
            WaitingOn::NotReady => f.write_str("not ready"),
        }
    }
}

/// `db to be healthy`: what a dependent waits for.
pub fn awaited(service: &str, condition: Condition) -> String {
    match condition {
        Condition::Started => format!("{service} to start"),
        Condition::Healthy => format!("{service} to be healthy"),
        Condition::CompletedSuccessfully => format!("{service} to complete"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::ContainerStatus;

    #[test]
    fn each_reason_reads_as_the_live_lines_and_errors_show_it() {
        let cases: Vec<(String, &str)> = vec![
            (
                Waiting::Health("starting".into()).to_string(),
                "health: starting",
            ),
            (
                Waiting::Status(ContainerStatus::Created).to_string(),
                "created",
            ),
            (
                Fault::Exited {
                    code: 137,
                    oom_killed: true,
                }
                .to_string(),
                "exited with code 137, killed: out of memory",
            ),
            (
                Fault::Exited {
                    code: 3,
                    oom_killed: false,
                }
                .to_string(),
                "exited with code 3",
            ),
            (Fault::Unhealthy(None).to_string(), "turned unhealthy"),
            (
                Fault::Unhealthy(Some(CheckSaid::Line("db not ready".into()))).to_string(),
                "turned unhealthy: db not ready",
            ),
            (
                Fault::Unhealthy(Some(CheckSaid::ExitCode(1))).to_string(),
                "turned unhealthy: healthcheck exited with code 1",
            ),
            (
                Fault::Restarting { last_exit_code: 2 }.to_string(),
                "keeps restarting (last exit code 2)",
            ),
            (
                Fault::CompletedWhileAwaited { by: "api".into() }.to_string(),
                "exited with code 0 (api waits for it to be healthy)",
            ),
            (
                WaitingOn::Dependencies(vec![
                    ("db".into(), Condition::Healthy),
                    ("migrate".into(), Condition::CompletedSuccessfully),
                ])
                .to_string(),
                "not started: waiting for db to be healthy and migrate to complete",
            ),
            (WaitingOn::Starting.to_string(), "starting"),
            (
                Fault::NeverHealthy {
                    checked_for: std::time::Duration::from_millis(2_540),
                }
                .to_string(),
                "turned unhealthy: its healthcheck did not pass in 2.5s",
            ),
        ];
        for (shown, expected) in cases {
            assert_eq!(shown, expected);
        }
    }
}
