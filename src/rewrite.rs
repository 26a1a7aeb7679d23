//! The resolved model as testbed hands it to compose when the files ask for
//! what a throwaway run cannot have: fixed container names and fixed host
//! ports, which two runs at once would fight over, and healthcheck fields
//! that the engine does not know but testbed does not need it to.
//!
//! Compose cannot take a key or a list entry away in a later `-f` file (v1
//! has no `!reset`), so the run's files are replaced by the model that
//! `compose config` printed, rewritten. That model is complete: paths are
//! absolute, `extends` and `include` are resolved, and `$` is escaped
//! again, so compose reads it back as it read the files.

use std::fmt;

use anyhow::{Context, Result};
use serde_norway::{Mapping, Value};

/// What to rewrite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewrites {
    /// Drop each `container_name`, and keep the name as a network alias.
    pub names: bool,
    /// Move each published port with a fixed host port to one the daemon
    /// picks, on the same host address.
    pub ports: bool,
    /// Leave out `healthcheck.start_interval`, which engines before 25
    /// refuse; testbed runs the checks itself.
    pub start_interval: bool,
}

/// One change made to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `container_name` dropped; the name stays an alias on its networks.
    Name {
        service: String,
        name: String,
    },
    /// A fixed host port made one the daemon picks.
    Port {
        service: String,
        /// As written, e.g. `127.0.0.1:8080:80/tcp`.
        was: String,
        /// As rewritten, e.g. `127.0.0.1::80/tcp`.
        now: String,
    },
    /// `network_mode: host`: its ports are the host's, and cannot be moved.
    HostNetwork {
        service: String,
    },
    StartInterval {
        service: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Name { service, name } => write!(
                f,
                "{service}: container_name {name} dropped, so that runs at once do not collide; \
                 {name} stays its alias on its networks"
            ),
            Change::Port { service, was, now } => write!(
                f,
                "{service}: port {was} published as {now}, on a host port the daemon picks"
            ),
            Change::HostNetwork { service } => write!(
                f,
                "{service}: network_mode host cannot be isolated; it runs as written"
            ),
            Change::StartInterval { service } => write!(
                f,
                "{service}: healthcheck.start_interval left out, as the engine predates it; \
                 testbed runs the check itself"
            ),
        }
    }
}

/// The model rewritten, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub yaml: String,
    pub changes: Vec<Change>,
}

impl Rewritten {
    /// Whether compose needs the rewritten model: a note alone changes
    /// nothing.
    pub fn changes_the_model(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c, Change::HostNetwork { .. }))
    }
}

/// Rewrites `model`, the output of `compose config`, as `rewrites` asks;
/// `None` when there is nothing to rewrite or note.
pub fn rewrite(model: &str, rewrites: Rewrites) -> Result<Option<Rewritten>> {
    let mut document: Value =
        serde_norway::from_str(model).context("cannot read the output of `compose config`")?;
    let mut changes = Vec::new();
    if let Some(Value::Mapping(services)) = document.get_mut("services") {
        for (name, service) in services.iter_mut() {
            let (Some(name), Value::Mapping(service)) = (name.as_str(), service) else {
                continue;
            };
            rewrite_service(name, service, rewrites, &mut changes);
        }
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let yaml = serde_norway::to_string(&document).context("cannot write the rewritten model")?;
    Ok(Some(Rewritten { yaml, changes }))
}

fn rewrite_service(
    name: &str,
    service: &mut Mapping,
    rewrites: Rewrites,
    changes: &mut Vec<Change>,
) {
    let network_mode = service
        .get("network_mode")
        .and_then(Value::as_str)
        .map(str::to_string);
    if network_mode.as_deref() == Some("host") && (rewrites.names || rewrites.ports) {
        changes.push(Change::HostNetwork {
            service: name.into(),
        });
    }
    if rewrites.names {
        if let Some(Value::String(fixed)) = service.remove("container_name") {
            // A service in another's network namespace has no networks of
            // its own to carry the alias.
            if network_mode.is_none() {
                add_alias(service, &fixed);
            }
            changes.push(Change::Name {
                service: name.into(),
                name: fixed,
            });
        }
    }
    if rewrites.ports && network_mode.as_deref() != Some("host") {
        if let Some(Value::Sequence(ports)) = service.get_mut("ports") {
            for port in ports.iter_mut() {
                if let Some((was, now)) = ephemeral(port) {
                    changes.push(Change::Port {
                        service: name.into(),
                        was,
                        now,
                    });
                }
            }
        }
    }
    if rewrites.start_interval {
        if let Some(Value::Mapping(check)) = service.get_mut("healthcheck") {
            if check.remove("start_interval").is_some() {
                changes.push(Change::StartInterval {
                    service: name.into(),
                });
            }
        }
    }
}

/// Adds `alias` to each network of the service: `default` when it names
/// none.
fn add_alias(service: &mut Mapping, alias: &str) {
    let networks = service
        .entry("networks".into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    // The list form `[a, b]` becomes the mapping form.
    if let Value::Sequence(names) = networks {
        let mapping = names
            .iter()
            .map(|n| (n.clone(), Value::Null))
            .collect::<Mapping>();
        *networks = Value::Mapping(mapping);
    }
    let Value::Mapping(networks) = networks else {
        return;
    };
    if networks.is_empty() {
        networks.insert("default".into(), Value::Null);
    }
    for (_, network) in networks.iter_mut() {
        if network.is_null() {
            *network = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(network) = network else {
            continue;
        };
        let aliases = network
            .entry("aliases".into())
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if let Value::Sequence(aliases) = aliases {
            if !aliases.iter().any(|a| a.as_str() == Some(alias)) {
                aliases.push(alias.into());
            }
        }
    }
}

/// Moves a published port with a fixed host port to an ephemeral one, in
/// place; returns it as it was and as it is, in short syntax. v2 prints
/// ports in long syntax (`published` is a string or a number), v1 in short
/// syntax or long.
fn ephemeral(port: &mut Value) -> Option<(String, String)> {
    match port {
        Value::Mapping(long) => {
            let published = long.get("published").filter(|p| !p.is_null())?;
            let published = match published {
                Value::Number(n) => n.to_string(),
                Value::String(s) if !s.is_empty() => s.clone(),
                _ => return None,
            };
            let target = match long.get("target")? {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => return None,
            };
            let protocol = long
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("tcp")
                .to_string();
            let ip = long
                .get("host_ip")
                .and_then(Value::as_str)
                .map(str::to_string);
            long.remove("published");
            Some(match ip {
                Some(ip) => (
                    format!("{ip}:{published}:{target}/{protocol}"),
                    format!("{ip}::{target}/{protocol}"),
                ),
                None => (
                    format!("{published}:{target}/{protocol}"),
                    format!("{target}/{protocol}"),
                ),
            })
        }
        Value::String(short) => {
            let (spec, protocol) = match short.split_once('/') {
                Some((spec, protocol)) => (spec, format!("/{protocol}")),
                None => (short.as_str(), String::new()),
            };
            // `[ip:][published:]target`, where an IPv6 address is in
            // brackets.
            let (ip, rest) = match spec.rsplit_once("]:") {
                Some((ip, rest)) => (Some(format!("{ip}]")), rest),
                None => (None, spec),
            };
            let parts: Vec<&str> = rest.split(':').collect();
            let (ip, published, target) = match (ip, parts.as_slice()) {
                (Some(ip), [published, target]) => (Some(ip), *published, *target),
                (None, [published, target]) => (None, *published, *target),
                (None, [ip, published, target]) => (Some(ip.to_string()), *published, *target),
                _ => return None,
            };
            if published.is_empty() {
                return None;
            }
            let now = match ip {
                Some(ip) => format!("{ip}::{target}{protocol}"),
                None => format!("{target}{protocol}"),
            };
            let was = std::mem::replace(short, now.clone());
            Some((was, now))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Rewrites = Rewrites {
        names: true,
        ports: true,
        start_interval: true,
    };

    fn service(yaml: &str, name: &str) -> Value {
        let document: Value = serde_norway::from_str(yaml).unwrap();
        document["services"][name].clone()
    }

    #[test]
    fn fixed_names_go_and_stay_as_aliases_on_each_network() {
        let model = "services:
  crdb:
    container_name: crdb
    networks:
      backend: null
      front:
        aliases: [db]
  redis:
    container_name: redis
  sidecar:
    container_name: sidecar
    network_mode: service:crdb
";
        let rewritten = rewrite(model, ALL).unwrap().unwrap();
        let crdb = service(&rewritten.yaml, "crdb");
        assert!(crdb.get("container_name").is_none());
        assert_eq!(
            serde_norway::to_string(&crdb["networks"]).unwrap(),
            "backend:\n  aliases:\n  - crdb\nfront:\n  aliases:\n  - db\n  - crdb\n"
        );
        let redis = service(&rewritten.yaml, "redis");
        assert_eq!(
            serde_norway::to_string(&redis["networks"]).unwrap(),
            "default:\n  aliases:\n  - redis\n"
        );
        let sidecar = service(&rewritten.yaml, "sidecar");
        assert!(sidecar.get("container_name").is_none());
        assert!(sidecar.get("networks").is_none());
        assert_eq!(rewritten.changes.len(), 3);
        assert!(rewritten.changes_the_model());
    }

    #[test]
    fn fixed_host_ports_become_ephemeral_on_the_same_address() {
        let model = r#"services:
  db:
    ports:
      - mode: ingress
        target: 5432
        published: "5432"
        protocol: tcp
      - target: 80
        host_ip: 127.0.0.1
        published: 8080
        protocol: tcp
      - target: 9000
        protocol: tcp
  v1:
    ports:
      - "6379:6379"
      - "127.0.0.1:8081:81/udp"
      - "9001"
      - "[::1]:8082:82"
"#;
        let rewritten = rewrite(model, ALL).unwrap().unwrap();
        let shown: Vec<String> = rewritten.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "db: port 5432:5432/tcp published as 5432/tcp, on a host port the daemon picks",
                "db: port 127.0.0.1:8080:80/tcp published as 127.0.0.1::80/tcp, on a host port the daemon picks",
                "v1: port 6379:6379 published as 6379, on a host port the daemon picks",
                "v1: port 127.0.0.1:8081:81/udp published as 127.0.0.1::81/udp, on a host port the daemon picks",
                "v1: port [::1]:8082:82 published as [::1]::82, on a host port the daemon picks",
            ]
        );
        let db = service(&rewritten.yaml, "db");
        assert!(db["ports"][0].get("published").is_none());
        assert_eq!(db["ports"][1]["host_ip"], Value::from("127.0.0.1"));
        let v1 = service(&rewritten.yaml, "v1");
        assert_eq!(v1["ports"][2], Value::from("9001"));
    }

    #[test]
    fn what_is_kept_stays_and_host_networking_is_only_noted() {
        let model = "services:
  db:
    container_name: db
    ports: [\"5432:5432\"]
    healthcheck:
      test: [CMD, 'true']
      start_interval: 1s
  agent:
    network_mode: host
    ports: [\"8125:8125\"]
";
        let kept = Rewrites {
            names: false,
            ports: false,
            start_interval: false,
        };
        assert_eq!(rewrite(model, kept).unwrap(), None);
        let only_check = Rewrites {
            start_interval: true,
            ..kept
        };
        let rewritten = rewrite(model, only_check).unwrap().unwrap();
        let db = service(&rewritten.yaml, "db");
        assert_eq!(db["container_name"], Value::from("db"));
        assert!(db["healthcheck"].get("start_interval").is_none());
        let noted = rewrite(
            model,
            Rewrites {
                ports: true,
                ..kept
            },
        )
        .unwrap()
        .unwrap();
        assert!(noted.changes.contains(&Change::HostNetwork {
            service: "agent".into()
        }));
        let agent = service(&noted.yaml, "agent");
        assert_eq!(agent["ports"][0], Value::from("8125:8125"));
        let only_host = rewrite(
            "services:\n  agent:\n    network_mode: host\n",
            Rewrites {
                ports: true,
                ..kept
            },
        )
        .unwrap()
        .unwrap();
        assert!(!only_host.changes_the_model());
    }
}
