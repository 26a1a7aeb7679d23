//! Why a dependency did not get ready: where it stood, whether the OOM
//! killer ended it, what its healthcheck said, the end of its log, and the
//! likely fix.

use crate::engine::model::{Container, ContainerStatus};
use crate::engine::stack::Stack;
use crate::engine::startup;
use std::time::SystemTime;

use crate::events::{Diagnosis, ProbeResult, Prober, ServiceLeft, ServiceState};
use crate::signals::Signals;

/// Log lines a diagnosis shows.
pub const LOG_TAIL: usize = 50;
/// Healthchecks a diagnosis shows, the latest last.
const PROBES: usize = 3;
/// Characters of a healthcheck's output a diagnosis keeps, from its end.
const OUTPUT: usize = 300;

/// Diagnoses each of `containers` as it stands now: one `docker inspect`
/// for all, one run of each running one's healthcheck, and each log's tail.
pub fn diagnose(stack: &Stack, containers: &[Container], signals: &Signals) -> Vec<Diagnosis> {
    let ids: Vec<&str> = containers.iter().map(|c| c.id.as_str()).collect();
    let fresh = stack.inspect(&ids, true).unwrap_or_default();
    containers
        .iter()
        .map(|seen| {
            let container = fresh.iter().find(|c| c.id == seen.id).unwrap_or(seen);
            let ran = match container.state.status {
                ContainerStatus::Running => startup::probe(stack, container, signals),
                _ => None,
            };
            let testbed = ran.map(|run| ProbeResult {
                by: Prober::Testbed,
                at: Some(run.began),
                exit_code: run.exit_code,
                timed_out: run.exit_code.is_none(),
                output: trimmed(&run.output),
            });
            let log = stack
                .container_logs(&container.id, Some(LOG_TAIL))
                .unwrap_or_else(|error| format!("{error:#}"));
            diagnosis(container, testbed, log)
        })
        .collect()
}

/// How the run left `container`, for the reports.
pub fn left(container: &Container) -> ServiceLeft {
    let state = &container.state;
    ServiceLeft {
        service: container.service.clone(),
        status: state.status.as_str().to_string(),
        health: state.health.as_ref().map(|h| h.status.clone()),
        exit_code: state.status.has_exited().then_some(state.exit_code),
        oom_killed: state.oom_killed,
        memory_limit: container.memory_limit,
        restarts: container.restarts,
        probes: daemon_probes(container),
        created: time(&container.created),
        started: time(&state.started_at),
    }
}

/// A time the engine wrote; none for its zero time.
fn time(rfc3339: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z'))
        .ok()
        .filter(|t| *t > SystemTime::UNIX_EPOCH)
}

/// The diagnosis of `container`, given the check testbed ran just now, if
/// any, and its log's tail.
fn diagnosis(container: &Container, testbed: Option<ProbeResult>, log: String) -> Diagnosis {
    let mut probes = daemon_probes(container);
    probes.extend(testbed);
    let probes = probes.split_off(probes.len().saturating_sub(PROBES));
    let state = state_of(container);
    let oom = container.state.oom_killed.then_some(container.memory_limit);
    let hint = hint(container, oom, &probes);
    Diagnosis {
        service: container.service.clone(),
        state,
        restarts: container.restarts,
        oom,
        probes,
        log,
        hint,
    }
}

/// The daemon's own healthchecks (`State.Health.Log`), the latest last. A
/// check the daemon gave up on, or could not start, has exit code -1.
pub fn daemon_probes(container: &Container) -> Vec<ProbeResult> {
    let log = container.state.health.as_ref().and_then(|h| h.log.as_ref());
    log.into_iter()
        .flatten()
        .map(|probe| ProbeResult {
            by: Prober::Daemon,
            at: time(&probe.start),
            exit_code: (probe.exit_code != -1).then_some(probe.exit_code),
            timed_out: probe.exit_code == -1 && probe.output.contains("exceeded timeout"),
            output: trimmed(&probe.output),
        })
        .collect()
}

fn state_of(container: &Container) -> ServiceState {
    let state = &container.state;
    let health = state.health.as_ref().map(|h| h.status.as_str());
    match &state.status {
        ContainerStatus::Created => ServiceState::NotStarted,
        ContainerStatus::Running if health == Some("unhealthy") => ServiceState::Unhealthy,
        ContainerStatus::Running if health.is_some() => ServiceState::Starting,
        ContainerStatus::Running => ServiceState::Running,
        ContainerStatus::Restarting => ServiceState::Restarting,
        status if status.has_exited() => ServiceState::Exited(state.exit_code),
        other => ServiceState::Other(other.as_str().to_string()),
    }
}

/// The end of what a check printed, on one line per line of it.
fn trimmed(output: &str) -> String {
    let output = output.trim();
    match output.char_indices().rev().nth(OUTPUT) {
        Some((at, _)) => format!("…{}", &output[at..]),
        None => output.to_string(),
    }
}

/// The likely fix: memory for an OOM kill, the check itself when it cannot
/// run or never finishes.
fn hint(container: &Container, oom: Option<Option<u64>>, probes: &[ProbeResult]) -> Option<String> {
    let service = &container.service;
    if let Some(limit) = oom {
        return Some(match limit {
            Some(_) => format!(
                "`{service}` needs more memory than its limit: raise its mem_limit (or deploy.resources.limits.memory)"
            ),
            None => format!("`{service}` ran the machine out of memory"),
        });
    }
    let check = container.healthcheck.as_ref()?;
    let command = shell_words::join(&check.command);
    let cannot_run = |p: &ProbeResult| {
        matches!(p.exit_code, Some(126 | 127))
            || p.output.contains("executable file not found")
            || p.output.contains("not found")
    };
    if probes.iter().any(cannot_run) {
        return Some(format!(
            "the healthcheck of `{service}` cannot run `{command}`: is that program in its image?"
        ));
    }
    if !probes.is_empty() && probes.iter().all(|p| p.timed_out) {
        return Some(format!(
            "the healthcheck of `{service}` runs past its timeout ({}): raise its `timeout:`, or see why `{command}` hangs",
            humantime::format_duration(check.timeout)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::parse_inspect;

    fn container(state: &str, healthcheck: &str, extra: &str) -> Container {
        let json = format!(
            r#"[{{"Id":"c1","Name":"/tb-db-1","State":{state},
                "Config":{{"Labels":{{"com.docker.compose.service":"db"}},"Healthcheck":{healthcheck}}}{extra}}}]"#
        );
        parse_inspect(&json).unwrap().remove(0)
    }

    const CHECK: &str = r#"{"Test":["CMD","pg_isready","-q"],"Timeout":1000000000}"#;

    #[test]
    fn an_oom_kill_names_the_limit_and_says_to_raise_it() {
        let c = container(
            r#"{"Status":"exited","ExitCode":137,"OOMKilled":true}"#,
            "null",
            r#","RestartCount":2,"HostConfig":{"Memory":20971520}"#,
        );
        let d = diagnosis(&c, None, "allocating\n".into());
        assert_eq!(d.state, ServiceState::Exited(137));
        assert_eq!(d.oom, Some(Some(20 * 1024 * 1024)));
        assert_eq!(d.restarts, 2);
        assert_eq!(
            crate::events::out_of_memory(d.oom.unwrap()),
            "killed: out of memory (limit 20 MiB)"
        );
        assert!(d.hint.unwrap().contains("raise its mem_limit"));
    }

    #[test]
    fn the_last_three_checks_are_kept_the_daemons_then_testbeds() {
        let state = r#"{"Status":"running","Health":{"Status":"starting","Log":[
            {"ExitCode":1,"Output":"one"},{"ExitCode":1,"Output":"two"},
            {"ExitCode":-1,"Output":"Health check exceeded timeout (1s)"}]}}"#;
        let c = container(state, CHECK, "");
        let ours = ProbeResult {
            at: None,
            by: Prober::Testbed,
            exit_code: Some(2),
            timed_out: false,
            output: "no response".into(),
        };
        let d = diagnosis(&c, Some(ours.clone()), String::new());
        assert_eq!(d.state, ServiceState::Starting);
        let seen: Vec<(Prober, Option<i64>, &str)> = d
            .probes
            .iter()
            .map(|p| (p.by, p.exit_code, p.output.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (Prober::Daemon, Some(1), "two"),
                (Prober::Daemon, None, "Health check exceeded timeout (1s)"),
                (Prober::Testbed, Some(2), "no response"),
            ]
        );
        assert_eq!(d.hint, None);
    }

    #[test]
    fn a_check_that_cannot_run_is_named_with_its_command() {
        let state = r#"{"Status":"running","Health":{"Status":"starting","Log":[
            {"ExitCode":127,"Output":"exec: \"pg_isready\": executable file not found in $PATH"}]}}"#;
        let d = diagnosis(&container(state, CHECK, ""), None, String::new());
        let hint = d.hint.unwrap();
        assert!(hint.contains("cannot run `pg_isready -q`"), "{hint}");
    }

    #[test]
    fn a_check_that_always_times_out_says_so() {
        let state = r#"{"Status":"running","Health":{"Status":"starting","Log":[
            {"ExitCode":-1,"Output":"Health check exceeded timeout (1s)"}]}}"#;
        let d = diagnosis(&container(state, CHECK, ""), None, String::new());
        assert!(d.hint.unwrap().contains("runs past its timeout (1s)"));
    }

    #[test]
    fn states_are_named_as_users_know_them() {
        let named = |state: &str| state_of(&container(state, "null", "")).to_string();
        assert_eq!(named(r#"{"Status":"created"}"#), "not started");
        assert_eq!(named(r#"{"Status":"running"}"#), "running");
        assert_eq!(
            named(r#"{"Status":"running","Health":{"Status":"unhealthy"}}"#),
            "unhealthy"
        );
        assert_eq!(
            named(r#"{"Status":"exited","ExitCode":3}"#),
            "exited with code 3"
        );
        assert_eq!(named(r#"{"Status":"paused"}"#), "paused");
    }

    #[test]
    fn long_output_keeps_its_end() {
        let long = "x".repeat(1000) + "the end";
        let kept = trimmed(&long);
        assert!(kept.starts_with('…') && kept.ends_with("the end"));
        assert_eq!(kept.chars().count(), OUTPUT + 2);
    }
}
