//! What compose and docker print, parsed: the services of the resolved
//! model (`compose config`), and container state (`docker inspect`).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Deserialize;

/// The service names of `compose config` output, which both flavors print
/// as YAML with interpolation, `extends` and profiles already applied.
pub fn services_from_config(yaml: &str) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Model {
        #[serde(default)]
        services: Option<BTreeMap<String, serde_norway::Value>>,
    }
    let model: Model =
        serde_norway::from_str(yaml).context("cannot read the output of `compose config`")?;
    Ok(model.services.unwrap_or_default().into_keys().collect())
}

/// One container of the stack, as `docker inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub service: String,
    pub state: State,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: String,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub started_at: String,
    pub health: Option<Health>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    #[serde(default)]
    pub log: Option<Vec<Probe>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Probe {
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub output: String,
}

/// Parses the JSON array `docker inspect` prints for containers.
pub fn parse_inspect(json: &str) -> Result<Vec<Container>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Raw {
        id: String,
        name: String,
        state: State,
        config: RawConfig,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct RawConfig {
        #[serde(default)]
        labels: Option<BTreeMap<String, String>>,
    }
    let raw: Vec<Raw> =
        serde_json::from_str(json).context("cannot read the output of `docker inspect`")?;
    Ok(raw
        .into_iter()
        .map(|r| {
            let service = r
                .config
                .labels
                .unwrap_or_default()
                .remove("com.docker.compose.service")
                .unwrap_or_default();
            Container {
                id: r.id,
                name: r.name.trim_start_matches('/').to_string(),
                service,
                state: r.state,
            }
        })
        .collect())
}

/// Where a dependency stands while we wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet; the text says what it is waiting on.
    Waiting(String),
    /// It will not become ready; the text says why.
    Failed(String),
}

impl State {
    /// A service with a healthcheck is ready when healthy, one without when
    /// running. A one-shot service that exited 0 has completed successfully,
    /// which counts as ready.
    pub fn readiness(&self) -> Readiness {
        match (self.status.as_str(), &self.health) {
            ("running", None) => Readiness::Ready,
            ("running", Some(health)) => match health.status.as_str() {
                "healthy" => Readiness::Ready,
                "unhealthy" => Readiness::Failed(match self.last_probe() {
                    Some(output) => format!("turned unhealthy: {output}"),
                    None => "turned unhealthy".into(),
                }),
                other => Readiness::Waiting(format!("health: {other}")),
            },
            ("exited" | "dead", _) if self.exit_code == 0 => Readiness::Ready,
            ("exited" | "dead", _) => {
                Readiness::Failed(format!("exited with code {}", self.exit_code))
            }
            ("restarting", _) => Readiness::Failed(format!(
                "keeps restarting (last exit code {})",
                self.exit_code
            )),
            (other, _) => Readiness::Waiting(other.to_string()),
        }
    }

    /// Whether the container's process ever started: a command that cannot
    /// be executed leaves it `created`, with the reason in `error`.
    pub fn never_started(&self) -> bool {
        self.started_at.is_empty() || self.started_at.starts_with("0001-")
    }

    fn last_probe(&self) -> Option<String> {
        let probe = self.health.as_ref()?.log.as_ref()?.last()?;
        let output = probe.output.trim();
        Some(if output.is_empty() {
            format!("healthcheck exited with code {}", probe.exit_code)
        } else {
            output.lines().last().unwrap_or_default().to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: &str, exit_code: i64, health: Option<&str>) -> State {
        State {
            status: status.into(),
            exit_code,
            error: String::new(),
            started_at: "2026-11-23T10:43:32.9Z".into(),
            health: health.map(|h| Health {
                status: h.into(),
                log: None,
            }),
        }
    }

    #[test]
    fn services_come_from_either_flavors_config() {
        let v2 = "name: m\nservices:\n  db:\n    image: x\n  tests:\n    depends_on:\n      db:\n        condition: service_started\n        required: true\n    image: x\nnetworks:\n  default:\n    name: m_default\n";
        let v1 = "services:\n  db:\n    image: x\n  tests:\n    image: x\nversion: '3.9'\n";
        assert_eq!(services_from_config(v2).unwrap(), ["db", "tests"]);
        assert_eq!(services_from_config(v1).unwrap(), ["db", "tests"]);
        assert!(services_from_config("services: {}\n").unwrap().is_empty());
        assert!(services_from_config("name: x\n").unwrap().is_empty());
    }

    #[test]
    fn readiness_follows_health_when_there_is_a_healthcheck() {
        assert_eq!(state("running", 0, None).readiness(), Readiness::Ready);
        assert_eq!(
            state("running", 0, Some("healthy")).readiness(),
            Readiness::Ready
        );
        assert_eq!(
            state("running", 0, Some("starting")).readiness(),
            Readiness::Waiting("health: starting".into())
        );
        assert!(matches!(
            state("running", 0, Some("unhealthy")).readiness(),
            Readiness::Failed(_)
        ));
    }

    #[test]
    fn an_exited_dependency_fails_unless_it_completed() {
        assert_eq!(
            state("exited", 3, None).readiness(),
            Readiness::Failed("exited with code 3".into())
        );
        assert_eq!(state("exited", 0, None).readiness(), Readiness::Ready);
        assert!(matches!(
            state("restarting", 1, None).readiness(),
            Readiness::Failed(_)
        ));
        assert_eq!(
            state("created", 0, None).readiness(),
            Readiness::Waiting("created".into())
        );
    }

    #[test]
    fn inspect_output_is_parsed() {
        let json = r#"[{"Id":"f021","Name":"/tbm-db-1","State":{"Status":"running","Running":true,"ExitCode":0,"Error":"","StartedAt":"2026-11-23T10:43:32.9Z","Health":{"Status":"unhealthy","FailingStreak":3,"Log":[{"ExitCode":1,"Output":"db not ready\n"}]}},"Config":{"Labels":{"com.docker.compose.service":"db"}}},
            {"Id":"2eac","Name":"/tbm-tests-run","State":{"Status":"created","ExitCode":127,"Error":"exec: \"nosuchcmd\": executable file not found in $PATH","StartedAt":"0001-01-01T00:00:00Z"},"Config":{"Labels":null}}]"#;
        let containers = parse_inspect(json).unwrap();
        assert_eq!(containers[0].service, "db");
        assert_eq!(containers[0].name, "tbm-db-1");
        assert_eq!(
            containers[0].state.readiness(),
            Readiness::Failed("turned unhealthy: db not ready".into())
        );
        assert!(containers[1].state.never_started());
        assert!(!containers[0].state.never_started());
        assert_eq!(containers[1].service, "");
    }
}
