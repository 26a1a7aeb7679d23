//! How a dependency that was not ready is shown: its state, an OOM kill,
//! its last healthchecks and the end of its log, in the terminal, GitLab
//! and JUnit alike.

use std::fmt::Write;

use crate::events::{Diagnosis, out_of_memory};

/// Where it stood, in one line: `exited with code 137, restarted 2 times,
/// killed: out of memory (limit 20 MiB)`.
pub fn state_line(diagnosis: &Diagnosis) -> String {
    let mut line = diagnosis.state.to_string();
    match diagnosis.restarts {
        0 => {}
        1 => line.push_str(", restarted once"),
        n => {
            let _ = write!(line, ", restarted {n} times");
        }
    }
    if let Some(limit) = diagnosis.oom {
        let _ = write!(line, ", {}", out_of_memory(limit));
    }
    line
}

/// The whole block, without colours.
pub fn render(diagnosis: &Diagnosis) -> String {
    const LABEL: usize = "healthcheck".len() + 2;
    let mut out = String::new();
    let _ = writeln!(out, "{:LABEL$}{}", "state", state_line(diagnosis));
    for (i, probe) in diagnosis.probes.iter().enumerate() {
        let label = if i == 0 { "healthcheck" } else { "" };
        let result = match probe.exit_code {
            _ if probe.timed_out => "timed out".to_string(),
            Some(code) => format!("exit {code}"),
            None => "could not run".into(),
        };
        let mut lines = probe.output.lines().filter(|l| !l.trim().is_empty());
        let first = lines.next().unwrap_or("(no output)");
        let _ = writeln!(
            out,
            "{label:LABEL$}{result}, run by {}: {first}",
            probe.by.as_str()
        );
        for line in lines {
            let _ = writeln!(out, "{:LABEL$}  {line}", "");
        }
    }
    let log = diagnosis.log.trim_end();
    if log.is_empty() {
        let _ = writeln!(out, "{:LABEL$}(empty)", "log");
    } else {
        let _ = writeln!(out, "log, its last lines:\n{log}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{ProbeResult, Prober, ServiceState};

    #[test]
    fn the_block_names_state_oom_checks_and_log() {
        let diagnosis = Diagnosis {
            service: "db".into(),
            state: ServiceState::Exited(137),
            restarts: 2,
            oom: Some(Some(20 * 1024 * 1024)),
            probes: vec![
                ProbeResult {
                    by: Prober::Daemon,
                    at: None,
                    exit_code: None,
                    timed_out: true,
                    output: "Health check exceeded timeout (1s)".into(),
                },
                ProbeResult {
                    by: Prober::Testbed,
                    at: None,
                    exit_code: Some(1),
                    timed_out: false,
                    output: "no response\nretry later".into(),
                },
            ],
            log: "starting\nallocating\n".into(),
            hint: None,
        };
        assert_eq!(
            render(&diagnosis),
            "\
state        exited with code 137, restarted 2 times, killed: out of memory (limit 20 MiB)
healthcheck  timed out, run by daemon: Health check exceeded timeout (1s)
             exit 1, run by testbed: no response
               retry later
log, its last lines:
starting
allocating
"
        );
    }

    #[test]
    fn an_empty_log_says_so() {
        let diagnosis = Diagnosis {
            service: "db".into(),
            state: ServiceState::NotStarted,
            restarts: 1,
            oom: None,
            probes: Vec::new(),
            log: "\n".into(),
            hint: None,
        };
        assert_eq!(
            render(&diagnosis),
            "state        not started, restarted once\nlog          (empty)\n"
        );
    }
}
