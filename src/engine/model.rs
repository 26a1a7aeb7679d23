//! What compose and docker print, parsed: the services of the resolved
//! model (`compose config`), and container state (`docker inspect`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Deserialize;

/// The label compose puts on a container: the service it is of.
pub const SERVICE_LABEL: &str = "com.docker.compose.service";

/// A service of the resolved model: what it waits for, the profiles that
/// enable it, and where its image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub depends_on: Vec<Dependency>,
    /// Its `profiles:`; none for a service that is always enabled.
    pub profiles: Vec<String>,
    /// Its `image:`, if it names one.
    pub image: Option<String>,
    /// Whether it has a `build:` section.
    pub builds: bool,
    /// Its `healthcheck:` command, if it gives one.
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub service: String,
    pub condition: Condition,
    /// False for compose v2's `required: false`: compose goes on without it.
    pub required: bool,
}

/// When a dependency lets its dependent start, as compose's `depends_on`
/// conditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    #[serde(rename = "service_started")]
    Started,
    #[serde(rename = "service_healthy")]
    Healthy,
    #[serde(rename = "service_completed_successfully")]
    CompletedSuccessfully,
}

/// The services of `compose config` output, which both flavors print as YAML
/// with interpolation and `extends` applied, and `depends_on` in its long
/// form. v2 also lists there what `links`, `network_mode: service:…` and
/// `volumes_from` imply; v1 does not, so those are read too. v1 prints every
/// service whatever the profiles; v2 only those of the active profiles, so
/// testbed asks it with `--profile '*'` for all of them.
pub fn services_from_config(yaml: &str) -> Result<Vec<Service>> {
    #[derive(Deserialize)]
    struct Model {
        #[serde(default)]
        services: Option<BTreeMap<String, Raw>>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Raw {
        depends_on: BTreeMap<String, RawDependency>,
        links: Vec<String>,
        network_mode: Option<String>,
        volumes_from: Vec<String>,
        profiles: Vec<String>,
        image: Option<String>,
        build: Option<serde_norway::Value>,
        healthcheck: Option<RawHealthcheck>,
    }
    #[derive(Deserialize)]
    struct RawHealthcheck {
        #[serde(default)]
        test: Option<RawTest>,
        #[serde(default)]
        timeout: Option<String>,
        #[serde(default)]
        interval: Option<String>,
        #[serde(default)]
        retries: Option<u32>,
        #[serde(default)]
        start_period: Option<String>,
    }
    /// v1 prints a shell form as it was written, v2 as `[CMD-SHELL, line]`.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum RawTest {
        Shell(String),
        Exec(Vec<String>),
    }
    #[derive(Deserialize)]
    struct RawDependency {
        condition: Option<Condition>,
        required: Option<bool>,
    }
    let model: Model =
        serde_norway::from_str(yaml).context("cannot read the output of `compose config`")?;
    let services = model.services.unwrap_or_default();
    Ok(services
        .iter()
        .map(|(name, raw)| {
            let mut depends_on: Vec<Dependency> = raw
                .depends_on
                .iter()
                .map(|(service, dependency)| Dependency {
                    service: service.clone(),
                    condition: dependency.condition.unwrap_or(Condition::Started),
                    required: dependency.required.unwrap_or(true),
                })
                .collect();
            // `links: [db:alias]`, `network_mode: service:db`, and
            // `volumes_from: [db, service:db:ro]` (`container:x` is not ours).
            let implied = raw
                .links
                .iter()
                .map(|link| link.split(':').next().unwrap_or_default())
                .chain(
                    raw.network_mode
                        .iter()
                        .filter_map(|m| m.strip_prefix("service:")),
                )
                .chain(raw.volumes_from.iter().filter_map(|from| {
                    let from = from.strip_prefix("service:").unwrap_or(from);
                    (!from.starts_with("container:"))
                        .then(|| from.split(':').next().unwrap_or_default())
                }));
            for service in implied {
                if services.contains_key(service)
                    && !depends_on.iter().any(|d| d.service == service)
                {
                    depends_on.push(Dependency {
                        service: service.to_string(),
                        condition: Condition::Started,
                        required: true,
                    });
                }
            }
            Service {
                name: name.clone(),
                depends_on,
                profiles: raw.profiles.clone(),
                image: raw.image.clone(),
                builds: raw.build.is_some(),
                healthcheck: raw.healthcheck.as_ref().and_then(|check| {
                    let test = match check.test.as_ref()? {
                        RawTest::Shell(line) => vec!["CMD-SHELL".to_string(), line.clone()],
                        RawTest::Exec(test) => test.clone(),
                    };
                    let duration =
                        |d: &Option<String>| humantime::parse_duration(d.as_deref()?).ok();
                    let timing = Timing {
                        timeout: duration(&check.timeout),
                        interval: duration(&check.interval),
                        retries: check.retries,
                        start_period: duration(&check.start_period),
                    };
                    Healthcheck::from_config(&test, timing)
                }),
            }
        })
        .collect())
}

/// `chosen` and everything they depend on, directly or not, in the model's
/// order.
pub fn with_dependencies(services: &[Service], chosen: &[String]) -> Vec<String> {
    let mut wanted: Vec<&str> = chosen.iter().map(String::as_str).collect();
    let mut i = 0;
    while i < wanted.len() {
        let more = services
            .iter()
            .filter(|s| s.name == wanted[i])
            .flat_map(|s| &s.depends_on)
            .map(|d| d.service.as_str());
        for dependency in more.collect::<Vec<_>>() {
            if !wanted.contains(&dependency) {
                wanted.push(dependency);
            }
        }
        i += 1;
    }
    services
        .iter()
        .filter(|s| wanted.contains(&s.name.as_str()))
        .map(|s| s.name.clone())
        .collect()
}

/// The services another waits on as healthy: long-running ones, for which
/// an exit, even with 0, is no completed job.
pub fn awaited_healthy<'a>(services: impl IntoIterator<Item = &'a Service>) -> Vec<String> {
    let mut awaited: Vec<String> = Vec::new();
    let waits = services.into_iter().flat_map(|s| &s.depends_on);
    for dependency in waits.filter(|d| d.condition == Condition::Healthy) {
        if !awaited.contains(&dependency.service) {
            awaited.push(dependency.service.clone());
        }
    }
    awaited
}

/// Those of `names` that depend on none of `names`.
pub fn waiting_for_none(services: &[Service], names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|name| {
            services
                .iter()
                .filter(|s| &&s.name == name)
                .all(|s| s.depends_on.iter().all(|d| !names.contains(&d.service)))
        })
        .cloned()
        .collect()
}

/// Those of `names` that wait for no other service to complete.
pub fn waiting_for_no_completion(services: &[Service], names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|name| {
            services.iter().filter(|s| &&s.name == name).all(|s| {
                s.depends_on
                    .iter()
                    .all(|d| d.condition != Condition::CompletedSuccessfully)
            })
        })
        .cloned()
        .collect()
}

/// One container of the stack, as `docker inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub service: String,
    pub state: State,
    /// The healthcheck as a command to `docker exec`, if it has one.
    pub healthcheck: Option<Healthcheck>,
    /// Every label, compose's and testbed's.
    pub labels: BTreeMap<String, String>,
    /// Where its ports are published on the daemon's host.
    pub published: Vec<Published>,
    /// When it was created, as the engine writes it (RFC 3339).
    pub created: String,
    /// How often the engine restarted it.
    pub restarts: u32,
    /// Its memory limit in bytes (`mem_limit`), if it has one.
    pub memory_limit: Option<u64>,
}

impl Container {
    /// What the daemon reports of the container once `docker start` has
    /// started it: running, and with a healthcheck, health `starting`.
    pub fn started(&mut self) {
        self.state.status = ContainerStatus::Running;
        if self.healthcheck.is_some() {
            self.state.health = Some(Health {
                status: "starting".into(),
                log: None,
            });
        }
    }
}

/// A container port published on the daemon's host, as `docker inspect`
/// shows it under `NetworkSettings.Ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The port inside the container, e.g. 80.
    pub port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The address it is bound to on the daemon's host, e.g. `0.0.0.0` or `::`.
    pub host_ip: String,
    pub host_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    pub command: Vec<String>,
    pub timeout: Duration,
    pub cadence: Cadence,
}

/// How the daemon runs a healthcheck, and when it gives up on one that
/// fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub interval: Duration,
    /// Failures in a row after the start period that make it unhealthy.
    pub retries: u32,
    /// How long after the start failures do not count.
    pub start_period: Duration,
}

/// The daemon's defaults.
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(30);
impl Default for Cadence {
    fn default() -> Cadence {
        Cadence {
            interval: Duration::from_secs(30),
            retries: 3,
            start_period: Duration::ZERO,
        }
    }
}

impl Cadence {
    /// How long after its start the daemon has judged a container whose
    /// check never passed unhealthy: its start period, then as many
    /// failures as retries, the first an interval after the start at the
    /// latest.
    pub fn verdict_due(&self) -> Duration {
        self.start_period + self.interval * (self.retries + 1)
    }
}

/// A healthcheck's timing as the engine or compose gives it; `None` or 0
/// for the daemon's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Timing {
    timeout: Option<Duration>,
    interval: Option<Duration>,
    retries: Option<u32>,
    start_period: Option<Duration>,
}

impl Healthcheck {
    /// From `Config.Healthcheck` of `docker inspect`, or `healthcheck:` of
    /// the compose model: `test` is `["CMD", argv…]`, `["CMD-SHELL",
    /// line]` (run with `/bin/sh -c`, as the daemon does on Linux) or
    /// `["NONE"]`.
    fn from_config(test: &[String], timing: Timing) -> Option<Healthcheck> {
        let command = match test.split_first()? {
            (kind, argv) if kind == "CMD" && !argv.is_empty() => argv.to_vec(),
            (kind, [line]) if kind == "CMD-SHELL" => {
                vec!["/bin/sh".into(), "-c".into(), line.clone()]
            }
            _ => return None,
        };
        let set = |d: Option<Duration>| d.filter(|d| !d.is_zero());
        let default = Cadence::default();
        Some(Healthcheck {
            command,
            timeout: set(timing.timeout).unwrap_or(HEALTHCHECK_TIMEOUT),
            cadence: Cadence {
                interval: set(timing.interval).unwrap_or(default.interval),
                retries: timing.retries.filter(|r| *r > 0).unwrap_or(default.retries),
                start_period: set(timing.start_period).unwrap_or(default.start_period),
            },
        })
    }
}

/// A container's status, as the engine names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    /// One a later engine may add.
    #[serde(untagged)]
    Other(String),
}

impl ContainerStatus {
    pub fn as_str(&self) -> &str {
        match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Restarting => "restarting",
            ContainerStatus::Removing => "removing",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Dead => "dead",
            ContainerStatus::Other(status) => status,
        }
    }

    /// Whether its process has ended for good.
    pub fn has_exited(&self) -> bool {
        matches!(self, ContainerStatus::Exited | ContainerStatus::Dead)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: ContainerStatus,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub started_at: String,
    /// Whether the kernel's OOM killer ended its process.
    #[serde(rename = "OOMKilled", default)]
    pub oom_killed: bool,
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
    /// When it began, as the engine writes times.
    #[serde(default)]
    pub start: String,
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
        #[serde(default)]
        network_settings: RawNetworkSettings,
        #[serde(default)]
        created: String,
        #[serde(default)]
        restart_count: u32,
        #[serde(default)]
        host_config: RawHostConfig,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct RawHostConfig {
        /// Bytes; 0 without a limit.
        #[serde(default)]
        memory: u64,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct RawNetworkSettings {
        /// `"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49153"}]`, or
        /// `null` for a port that is exposed and not published.
        #[serde(default)]
        ports: Option<BTreeMap<String, Option<Vec<RawBinding>>>>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct RawBinding {
        #[serde(default)]
        host_ip: String,
        #[serde(default)]
        host_port: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct RawConfig {
        #[serde(default)]
        labels: Option<BTreeMap<String, String>>,
        #[serde(default)]
        healthcheck: Option<RawHealthcheck>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct RawHealthcheck {
        #[serde(default)]
        test: Vec<String>,
        /// Nanoseconds, 0 for the default, as are the interval and the
        /// start period.
        #[serde(default)]
        timeout: u64,
        #[serde(default)]
        interval: u64,
        #[serde(default)]
        retries: u32,
        #[serde(default)]
        start_period: u64,
    }
    let raw: Vec<Raw> =
        serde_json::from_str(json).context("cannot read the output of `docker inspect`")?;
    Ok(raw
        .into_iter()
        .map(|r| {
            let labels = r.config.labels.unwrap_or_default();
            let service = labels.get(SERVICE_LABEL).cloned().unwrap_or_default();
            let published = r
                .network_settings
                .ports
                .unwrap_or_default()
                .into_iter()
                .flat_map(|(spec, bindings)| {
                    let (port, protocol) = spec.split_once('/').unwrap_or((&spec, "tcp"));
                    let port = port.parse::<u16>().ok();
                    let protocol = protocol.to_string();
                    bindings
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(move |b| {
                            Some(Published {
                                port: port?,
                                protocol: protocol.clone(),
                                host_ip: b.host_ip,
                                host_port: b.host_port.parse().ok()?,
                            })
                        })
                })
                .collect();
            let healthcheck = r.config.healthcheck.and_then(|h| {
                let nanos = |ns| Some(Duration::from_nanos(ns));
                let timing = Timing {
                    timeout: nanos(h.timeout),
                    interval: nanos(h.interval),
                    retries: Some(h.retries),
                    start_period: nanos(h.start_period),
                };
                Healthcheck::from_config(&h.test, timing)
            });
            let mut state = r.state;
            // Podman shows a health without a status for a container
            // without a healthcheck: it has none.
            if healthcheck.is_none() && state.health.as_ref().is_some_and(|h| h.status.is_empty()) {
                state.health = None;
            }
            Container {
                id: r.id,
                name: r.name.trim_start_matches('/').to_string(),
                service,
                state,
                healthcheck,
                labels,
                published,
                created: r.created,
                restarts: r.restart_count,
                memory_limit: (r.host_config.memory > 0).then_some(r.host_config.memory),
            }
        })
        .collect())
}

/// An image, as `docker image inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    /// `repository:tag` of each of its tags; none for a dangling image.
    pub tags: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// When it was built, or last tagged if that is later (a run that
    /// reuses an image tags it for itself), in seconds since the Unix epoch.
    pub touched: Option<u64>,
}

/// Parses the JSON array `docker image inspect` prints.
pub fn parse_image_inspect(json: &str) -> Result<Vec<Image>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Raw {
        id: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        #[serde(default)]
        created: String,
        #[serde(default)]
        metadata: RawMetadata,
        #[serde(default)]
        config: Option<RawConfig>,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "PascalCase")]
    struct RawMetadata {
        /// `0001-01-01T00:00:00Z` when the image was never tagged by the
        /// daemon itself (BuildKit names it as it exports it).
        #[serde(default)]
        last_tag_time: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct RawConfig {
        #[serde(default)]
        labels: Option<BTreeMap<String, String>>,
    }
    let seconds = |text: &str| {
        humantime::parse_rfc3339_weak(text)
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    };
    let raw: Vec<Raw> =
        serde_json::from_str(json).context("cannot read the output of `docker image inspect`")?;
    Ok(raw
        .into_iter()
        .map(|r| Image {
            touched: seconds(&r.created).max(seconds(&r.metadata.last_tag_time)),
            id: r.id,
            tags: r.repo_tags.unwrap_or_default(),
            labels: r.config.and_then(|c| c.labels).unwrap_or_default(),
        })
        .collect())
}

/// Where a dependency stands while we wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Waiting(Waiting),
    Failed(Fault),
}

/// What a container that is not ready yet waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// It runs; its healthcheck has not passed yet (the daemon's health
    /// status, such as `starting`).
    Health(String),
    /// It does not run yet, as the daemon says (`created`).
    Status(ContainerStatus),
}

/// Why a container will not become ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Exited {
        code: i64,
        oom_killed: bool,
    },
    /// The daemon found it unhealthy; what its last check said.
    Unhealthy(Option<CheckSaid>),
    Restarting {
        last_exit_code: i64,
    },
    /// It exited 0, but `by` waits for it to be healthy, which compose
    /// would refuse too.
    CompletedWhileAwaited {
        by: String,
    },
    /// Its healthcheck did not pass in `checked_for` since its start, past
    /// the time the daemon would have found it unhealthy, and the engine
    /// said nothing: it does not run healthchecks (podman without
    /// systemd).
    NeverHealthy {
        checked_for: Duration,
    },
}

/// What a healthcheck's last run said: the last line it printed, or
/// without output, its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckSaid {
    Line(String),
    ExitCode(i64),
}

impl State {
    /// A service with a healthcheck is ready when healthy, one without when
    /// running. A one-shot service that exited 0 has completed successfully,
    /// which counts as ready.
    pub fn readiness(&self) -> Readiness {
        match (&self.status, &self.health) {
            (ContainerStatus::Running, None) => Readiness::Ready,
            (ContainerStatus::Running, Some(health)) => match health.status.as_str() {
                "healthy" => Readiness::Ready,
                "unhealthy" => Readiness::Failed(Fault::Unhealthy(self.last_check())),
                other => Readiness::Waiting(Waiting::Health(other.to_string())),
            },
            (status, _) if status.has_exited() && self.exit_code == 0 => Readiness::Ready,
            (status, _) if status.has_exited() => Readiness::Failed(Fault::Exited {
                code: self.exit_code,
                oom_killed: self.oom_killed,
            }),
            (ContainerStatus::Restarting, _) => Readiness::Failed(Fault::Restarting {
                last_exit_code: self.exit_code,
            }),
            (other, _) => Readiness::Waiting(Waiting::Status(other.clone())),
        }
    }

    /// Whether the container's process ever started: a command that cannot
    /// be executed leaves it `created`, with the reason in `error`.
    pub fn never_started(&self) -> bool {
        self.started_at.is_empty() || self.started_at.starts_with("0001-")
    }

    fn last_check(&self) -> Option<CheckSaid> {
        let probe = self.health.as_ref()?.log.as_ref()?.last()?;
        Some(match probe.output.trim().lines().last() {
            Some(line) => CheckSaid::Line(line.to_string()),
            None => CheckSaid::ExitCode(probe.exit_code),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: &str, exit_code: i64, health: Option<&str>) -> State {
        State {
            status: serde_json::from_value(status.into()).unwrap(),
            exit_code,
            error: String::new(),
            started_at: "2026-11-23T10:43:32.9Z".into(),
            oom_killed: false,
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
        let names = |yaml| -> Vec<String> {
            services_from_config(yaml)
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(names(v2), ["db", "tests"]);
        assert_eq!(names(v1), ["db", "tests"]);
        assert!(names("services: {}\n").is_empty());
        assert!(names("name: x\n").is_empty());
    }

    /// As v1 1.29 and v2 2.40 print them (v2 with `--profile '*'`).
    #[test]
    fn profiles_images_and_builds_come_from_either_flavors_config() {
        let v1 = "services:\n  named:\n    build:\n      context: /src/app\n    image: app:dev\n  stub:\n    image: x\n    profiles:\n    - test\n  tests:\n    build:\n      context: /src/app\n    depends_on:\n      stub:\n        condition: service_started\n    profiles:\n    - test\n    - ci\nversion: '3.9'\n";
        let v2 = "name: p\nservices:\n  named:\n    build:\n      context: /src/app\n      dockerfile: Dockerfile\n    image: app:dev\n    networks:\n      default: null\n  stub:\n    image: x\n    profiles:\n      - test\n  tests:\n    build:\n      context: /src/app\n      dockerfile: Dockerfile\n    depends_on:\n      stub:\n        condition: service_started\n        required: false\n    profiles:\n      - test\n      - ci\n";
        for (yaml, required) in [(v1, true), (v2, false)] {
            let services = services_from_config(yaml).unwrap();
            let seen: Vec<(&str, &[String], Option<&str>, bool)> = services
                .iter()
                .map(|s| {
                    (
                        s.name.as_str(),
                        s.profiles.as_slice(),
                        s.image.as_deref(),
                        s.builds,
                    )
                })
                .collect();
            let test = ["test".to_string()];
            let test_ci = ["test".to_string(), "ci".to_string()];
            assert_eq!(
                seen,
                [
                    ("named", &[][..], Some("app:dev"), true),
                    ("stub", &test[..], Some("x"), false),
                    ("tests", &test_ci[..], None, true),
                ]
            );
            assert_eq!(services[2].depends_on[0].required, required);
        }
    }

    #[test]
    fn dependencies_and_their_conditions_come_from_either_flavor() {
        // What v1 prints: links, network_mode and volumes_from stay apart.
        let v1 = "services:\n  a:\n    image: x\n  b:\n    depends_on:\n      a:\n        condition: service_healthy\n    image: x\n    links:\n    - a:alias\n  c:\n    image: x\n    network_mode: service:a\n    volumes_from:\n    - service:b:rw\n    - container:other\n  d:\n    depends_on:\n      c:\n        condition: service_completed_successfully\n    image: x\n";
        let services = services_from_config(v1).unwrap();
        let deps = |name: &str| -> Vec<(String, Condition)> {
            services
                .iter()
                .find(|s| s.name == name)
                .unwrap()
                .depends_on
                .iter()
                .map(|d| (d.service.clone(), d.condition))
                .collect()
        };
        assert!(deps("a").is_empty());
        assert_eq!(deps("b"), [("a".to_string(), Condition::Healthy)]);
        assert_eq!(
            deps("c"),
            [
                ("a".to_string(), Condition::Started),
                ("b".to_string(), Condition::Started)
            ]
        );
        assert_eq!(
            deps("d"),
            [("c".to_string(), Condition::CompletedSuccessfully)]
        );
    }

    #[test]
    fn dependencies_are_followed_transitively_and_kept_in_model_order() {
        let service = |name: &str, deps: &[(&str, Condition)]| Service {
            name: name.into(),
            depends_on: deps
                .iter()
                .map(|(d, c)| Dependency {
                    service: d.to_string(),
                    condition: *c,
                    required: true,
                })
                .collect(),
            profiles: vec![],
            image: None,
            builds: false,
            healthcheck: None,
        };
        let model = [
            service("api", &[("db", Condition::Healthy)]),
            service("cache", &[("migrate", Condition::CompletedSuccessfully)]),
            service("db", &[]),
            service(
                "worker",
                &[("api", Condition::Started), ("cache", Condition::Started)],
            ),
        ];
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            with_dependencies(&model, &names(&["worker"])),
            ["api", "cache", "db", "worker"]
        );
        assert_eq!(with_dependencies(&model, &names(&["api"])), ["api", "db"]);
        assert_eq!(
            waiting_for_no_completion(&model, &names(&["api", "cache", "db", "worker"])),
            ["api", "db", "worker"]
        );
        // cache waits for migrate, which is not among them.
        assert_eq!(
            waiting_for_none(&model, &names(&["api", "cache", "db", "worker"])),
            ["cache", "db"]
        );
        assert_eq!(waiting_for_none(&model, &names(&["api"])), ["api"]);
    }

    #[test]
    fn healthchecks_become_exec_commands_with_the_daemons_defaults() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none = Timing::default();
        let check = Healthcheck::from_config(&words(&["CMD", "pg_isready", "-q"]), none).unwrap();
        assert_eq!(check.command, ["pg_isready", "-q"]);
        assert_eq!(check.timeout, HEALTHCHECK_TIMEOUT);
        assert_eq!(check.cadence, Cadence::default());
        let timing = Timing {
            timeout: Some(Duration::from_secs(1)),
            interval: Some(Duration::ZERO),
            retries: Some(5),
            start_period: Some(Duration::from_secs(10)),
        };
        let check =
            Healthcheck::from_config(&words(&["CMD-SHELL", "curl -f localhost"]), timing).unwrap();
        assert_eq!(check.command, ["/bin/sh", "-c", "curl -f localhost"]);
        assert_eq!(check.timeout, Duration::from_secs(1));
        assert_eq!(check.cadence.interval, Duration::from_secs(30));
        // Ten seconds of start period, then five failures 30 s apart, the
        // first 30 s in at the latest.
        assert_eq!(check.cadence.verdict_due(), Duration::from_secs(190));
        assert_eq!(Healthcheck::from_config(&words(&["NONE"]), none), None);
        assert_eq!(Healthcheck::from_config(&[], none), None);
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
            Readiness::Waiting(Waiting::Health("starting".into()))
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
            Readiness::Failed(Fault::Exited {
                code: 3,
                oom_killed: false
            })
        );
        assert_eq!(state("exited", 0, None).readiness(), Readiness::Ready);
        assert!(matches!(
            state("restarting", 1, None).readiness(),
            Readiness::Failed(_)
        ));
        assert_eq!(
            state("created", 0, None).readiness(),
            Readiness::Waiting(Waiting::Status(ContainerStatus::Created))
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
            Readiness::Failed(Fault::Unhealthy(Some(CheckSaid::Line(
                "db not ready".into()
            ))))
        );
        assert!(containers[1].state.never_started());
        assert!(!containers[0].state.never_started());
        assert_eq!(containers[1].service, "");
    }

    #[test]
    fn healthchecks_come_from_either_flavors_config() {
        // v1 prints the shell form as written, v2 as `[CMD-SHELL, line]`.
        let v1 = "services:\n  a:\n    healthcheck:\n      test: echo 'a b'; exit 0\n      timeout: 2s\n    image: x\n  b:\n    healthcheck:\n      test:\n      - CMD\n      - /bin/sh\n      - -c\n      - echo 'dep is broken' >&2; exit 1\n      interval: 1m30s\n      retries: 5\n      start_period: 10s\n    image: x\n  c:\n    healthcheck:\n      test:\n      - NONE\n    image: x\n  d:\n    image: x\nversion: '3.9'\n";
        let v2 = "name: m\nservices:\n  a:\n    healthcheck:\n      test:\n        - CMD-SHELL\n        - echo 'a b'; exit 0\n      timeout: 2s\n    image: x\n  c:\n    healthcheck:\n      disable: true\n    image: x\n";
        let checks = |yaml| -> Vec<(String, Option<Healthcheck>)> {
            services_from_config(yaml)
                .unwrap()
                .into_iter()
                .map(|s| (s.name, s.healthcheck))
                .collect()
        };
        let shell = Healthcheck {
            command: vec!["/bin/sh".into(), "-c".into(), "echo 'a b'; exit 0".into()],
            timeout: Duration::from_secs(2),
            cadence: Cadence::default(),
        };
        let exec = Healthcheck {
            command: vec![
                "/bin/sh".into(),
                "-c".into(),
                "echo 'dep is broken' >&2; exit 1".into(),
            ],
            timeout: HEALTHCHECK_TIMEOUT,
            cadence: Cadence {
                interval: Duration::from_secs(90),
                retries: 5,
                start_period: Duration::from_secs(10),
            },
        };
        assert_eq!(
            checks(v1),
            [
                ("a".into(), Some(shell.clone())),
                ("b".into(), Some(exec)),
                ("c".into(), None),
                ("d".into(), None),
            ]
        );
        assert_eq!(checks(v2), [("a".into(), Some(shell)), ("c".into(), None)]);
    }

    /// Podman 4.3 shows an empty health for a container without a
    /// healthcheck: running is ready, as on Docker.
    #[test]
    fn a_health_without_status_and_no_healthcheck_is_no_health() {
        let json = r#"[{"Id":"9a1","Name":"tb-cache-1","State":{"Status":"running","Running":true,"ExitCode":0,
            "StartedAt":"2026-12-07T16:18:36.104441585Z","Health":{"Status":"","FailingStreak":0,"Log":null}},
            "Config":{"Labels":{"com.docker.compose.service":"cache"},"Healthcheck":null}}]"#;
        let containers = parse_inspect(json).unwrap();
        assert_eq!(containers[0].state.health, None);
        assert_eq!(containers[0].state.readiness(), Readiness::Ready);
    }

    /// As Docker 20.10 prints an image BuildKit built (never tagged by the
    /// daemon) and one the classic builder tagged again later.
    #[test]
    fn image_inspect_output_is_parsed() {
        let json = r#"[{"Id":"sha256:a58b","RepoTags":["tb-api-tests:latest"],"Created":"2026-12-02T00:03:11.138611226Z",
            "Config":{"Labels":{"testbed.image":"tb-api-tests","testbed.ttl":"7200"}},"Metadata":{"LastTagTime":"0001-01-01T00:00:00Z"}},
            {"Id":"sha256:aa88","RepoTags":[],"Created":"2026-12-02T00:03:22.519431515Z",
            "Config":{"Labels":null},"Metadata":{"LastTagTime":"2026-12-02T00:03:24.822882076Z"}}]"#;
        let images = parse_image_inspect(json).unwrap();
        assert_eq!(images[0].tags, ["tb-api-tests:latest"]);
        assert_eq!(images[0].labels["testbed.ttl"], "7200");
        assert_eq!(images[0].touched, Some(1_796_169_791));
        assert!(images[1].tags.is_empty() && images[1].labels.is_empty());
        assert_eq!(images[1].touched, Some(1_796_169_804));
    }

    #[test]
    fn published_ports_are_parsed_and_exposed_ones_skipped() {
        let json = r#"[{"Id":"a1","Name":"/tb-api-1","State":{"Status":"running"},
            "Config":{"Labels":{"com.docker.compose.service":"api"}},
            "NetworkSettings":{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"49153"},{"HostIp":"::","HostPort":"49153"}],
                "53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}],"9000/tcp":null}}}]"#;
        let published = &parse_inspect(json).unwrap()[0].published;
        let seen: Vec<(u16, &str, &str, u16)> = published
            .iter()
            .map(|p| (p.port, p.protocol.as_str(), p.host_ip.as_str(), p.host_port))
            .collect();
        assert_eq!(
            seen,
            [
                (53, "udp", "127.0.0.1", 5353),
                (80, "tcp", "0.0.0.0", 49153),
                (80, "tcp", "::", 49153)
            ]
        );
    }
}
