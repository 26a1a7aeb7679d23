//! Where a stack's published ports landed, for tests that run on the host:
//! the lines `testbed up` prints, and what `testbed env` and `testbed ports`
//! print.

use std::collections::BTreeMap;

use crate::engine::model::Container;

/// A published container port, and the address a process on this machine
/// reaches it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub service: String,
    /// The port inside the container.
    pub port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// A host name or address, IPv6 in brackets, e.g. `127.0.0.1` or `[::1]`.
    pub host: String,
    pub host_port: u16,
}

impl Port {
    /// `TESTBED_<SERVICE>_<PORT>`, with `_UDP` (or `_SCTP`) for ports that
    /// are not TCP. Every character of the service that is not an ASCII
    /// letter or digit becomes `_`.
    pub fn variable(&self) -> String {
        let service: String = self
            .service
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        match self.protocol.as_str() {
            "tcp" => format!("TESTBED_{service}_{}", self.port),
            other => format!(
                "TESTBED_{service}_{}_{}",
                self.port,
                other.to_ascii_uppercase()
            ),
        }
    }

    /// `<host>:<port>`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.host_port)
    }

    /// `api  80/tcp -> 127.0.0.1:49153`, for a reader.
    pub fn line(&self, service_width: usize) -> String {
        format!(
            "{:service_width$}  {}/{} -> {}",
            self.service,
            self.port,
            self.protocol,
            self.address()
        )
    }
}

/// The published ports of `containers`, one per service and container port,
/// sorted. `docker_host` is `DOCKER_HOST`: a daemon reached over `tcp://` or
/// `ssh://` publishes on its own host, so that host is the address.
pub fn published(containers: &[Container], docker_host: Option<&str>) -> Vec<Port> {
    let remote = docker_host.and_then(remote_host);
    let mut containers: Vec<&Container> = containers.iter().collect();
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ports: BTreeMap<(String, u16, String), Port> = BTreeMap::new();
    for container in containers {
        // The daemon binds IPv4 and IPv6 alike; the IPv4 address is the one
        // every client can reach.
        let mut bindings: Vec<_> = container.published.iter().collect();
        bindings.sort_by_key(|b| b.host_ip.contains(':'));
        for binding in bindings {
            let key = (
                container.service.clone(),
                binding.port,
                binding.protocol.clone(),
            );
            ports.entry(key).or_insert_with(|| Port {
                service: container.service.clone(),
                port: binding.port,
                protocol: binding.protocol.clone(),
                host: remote
                    .clone()
                    .unwrap_or_else(|| local_host(&binding.host_ip)),
                host_port: binding.host_port,
            });
        }
    }
    ports.into_values().collect()
}

/// The address on this machine for a binding's `HostIp`.
fn local_host(host_ip: &str) -> String {
    match host_ip {
        "" | "0.0.0.0" => "127.0.0.1".into(),
        "::" => "[::1]".into(),
        ip if ip.contains(':') => format!("[{ip}]"),
        ip => ip.into(),
    }
}

/// The host of a `tcp://` or `ssh://` daemon; None for a local socket.
fn remote_host(docker_host: &str) -> Option<String> {
    let rest = docker_host
        .strip_prefix("tcp://")
        .or_else(|| docker_host.strip_prefix("ssh://"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or(v6)),
        None => authority.split(':').next().unwrap_or(authority).to_string(),
    };
    (!host.is_empty()).then_some(host)
}

/// The variables of a stack, in order: `TESTBED_PROJECT` first.
pub fn variables(project: &str, ports: &[Port]) -> Vec<(String, String)> {
    std::iter::once(("TESTBED_PROJECT".to_string(), project.to_string()))
        .chain(ports.iter().map(|p| (p.variable(), p.address())))
        .collect()
}

/// `export NAME=value` lines a POSIX shell can `eval`.
pub fn shell(variables: &[(String, String)]) -> String {
    variables
        .iter()
        .map(|(name, value)| format!("export {name}={}\n", shell_words::quote(value)))
        .collect()
}

/// The variables as one JSON object.
pub fn json(variables: &[(String, String)]) -> String {
    let object: serde_json::Map<String, serde_json::Value> = variables
        .iter()
        .map(|(name, value)| (name.clone(), value.clone().into()))
        .collect();
    serde_json::to_string_pretty(&object).expect("strings serialize") + "\n"
}

/// A table: service, container port, address, variable.
pub fn table(ports: &[Port]) -> String {
    let rows: Vec<[String; 4]> = ports
        .iter()
        .map(|p| {
            [
                p.service.clone(),
                format!("{}/{}", p.port, p.protocol),
                p.address(),
                p.variable(),
            ]
        })
        .collect();
    let header = ["SERVICE", "PORT", "ADDRESS", "VARIABLE"].map(String::from);
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect();
            cells.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::Published;

    fn container(name: &str, service: &str, published: &[(u16, &str, &str, u16)]) -> Container {
        let json = format!(
            r#"[{{"Id":"{name}","Name":"/{name}","State":{{"Status":"running"}},"Config":{{"Labels":{{"com.docker.compose.service":"{service}"}}}}}}]"#
        );
        let mut container = crate::engine::model::parse_inspect(&json)
            .unwrap()
            .remove(0);
        container.published = published
            .iter()
            .map(|&(port, protocol, host_ip, host_port)| Published {
                port,
                protocol: protocol.into(),
                host_ip: host_ip.into(),
                host_port,
            })
            .collect();
        container
    }

    #[test]
    fn variables_are_named_after_service_and_container_port() {
        let containers = [
            container(
                "tb-api-1",
                "api",
                &[(80, "tcp", "::", 49153), (80, "tcp", "0.0.0.0", 49153)],
            ),
            container("tb-dns-1", "dns.local-1", &[(53, "udp", "0.0.0.0", 5353)]),
            container("tb-db-1", "db", &[]),
        ];
        let ports = published(&containers, None);
        assert_eq!(
            shell(&variables("tb-x-1-ab12", &ports)),
            "export TESTBED_PROJECT=tb-x-1-ab12\n\
             export TESTBED_API_80=127.0.0.1:49153\n\
             export TESTBED_DNS_LOCAL_1_53_UDP=127.0.0.1:5353\n"
        );
    }

    #[test]
    fn the_address_is_one_this_machine_can_reach() {
        let only_v6 = [container("c", "api", &[(80, "tcp", "::", 1)])];
        assert_eq!(published(&only_v6, None)[0].address(), "[::1]:1");
        let bound = [container("c", "api", &[(80, "tcp", "127.0.0.2", 2)])];
        assert_eq!(published(&bound, None)[0].address(), "127.0.0.2:2");
        let any = [container("c", "api", &[(80, "tcp", "0.0.0.0", 3)])];
        assert_eq!(
            published(&any, Some("unix:///run/docker.sock"))[0].address(),
            "127.0.0.1:3"
        );
        for (host, expected) in [
            ("tcp://docker:2375", "docker:3"),
            ("ssh://ci@build-7.example:22", "build-7.example:3"),
            ("tcp://[fd00::7]:2376", "[fd00::7]:3"),
        ] {
            assert_eq!(published(&any, Some(host))[0].address(), expected, "{host}");
        }
    }

    #[test]
    fn a_stack_without_published_ports_has_only_its_project() {
        let containers = [container("tb-db-1", "db", &[])];
        let vars = variables("tb-x", &published(&containers, None));
        assert_eq!(shell(&vars), "export TESTBED_PROJECT=tb-x\n");
        assert_eq!(json(&vars), "{\n  \"TESTBED_PROJECT\": \"tb-x\"\n}\n");
    }

    #[test]
    fn replicas_give_one_port_each_from_the_first() {
        let containers = [
            container("tb-api-2", "api", &[(80, "tcp", "0.0.0.0", 2)]),
            container("tb-api-1", "api", &[(80, "tcp", "0.0.0.0", 1)]),
        ];
        let ports = published(&containers, None);
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].host_port, 1);
        assert_eq!(
            table(&ports),
            "SERVICE  PORT    ADDRESS      VARIABLE\n\
             api      80/tcp  127.0.0.1:1  TESTBED_API_80\n"
        );
        assert_eq!(ports[0].line(5), "api    80/tcp -> 127.0.0.1:1");
    }
}
