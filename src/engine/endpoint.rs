//! Where the daemon is, as the docker CLI resolves it: `DOCKER_HOST`, else
//! the endpoint of the active context (`DOCKER_CONTEXT`, else the
//! `currentContext` that `docker context use` wrote into the CLI's config).
//! Read once per run, so that every decision that depends on it (copy or
//! share, the reaper, published ports) sees the same daemon: from the
//! environment alone, or with one `docker context inspect` when a context
//! is named.

use std::fmt;
use std::path::{Path, PathBuf};

/// The default context's address.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// What `docker context inspect` is asked to print: the context's name and
/// its docker endpoint, which already is `DOCKER_HOST` when that is set.
pub const INSPECT_FORMAT: &str = "{{.Name}} {{.Endpoints.docker.Host}}";

/// The context the docker CLI would use, when one other than `default` is
/// named: `DOCKER_CONTEXT`, else `currentContext` in its config
/// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`). `env` looks
/// up a variable.
pub fn named_context(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let named = env("DOCKER_CONTEXT")
        .filter(|name| !name.is_empty())
        .or_else(|| {
            let dir = env("DOCKER_CONFIG")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|home| Path::new(&home).join(".docker")))?;
            let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
            let config: serde_json::Value = serde_json::from_str(&text).ok()?;
            config["currentContext"].as_str().map(str::to_string)
        })?;
    (!named.is_empty() && named != "default").then_some(named)
}

/// The daemon testbed talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its address: `unix:///var/run/docker.sock`, `tcp://docker:2375`,
    /// `ssh://ci@build`, …
    pub host: String,
    pub via: Via,
}

/// What chose the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `DOCKER_HOST`, which wins over any context, as in the CLI.
    DockerHost,
    /// A context other than `default`, by its name.
    Context(String),
    /// Neither: the default context, the local socket.
    Default,
}

impl Endpoint {
    /// The endpoint from `DOCKER_HOST` and from what `docker context
    /// inspect --format INSPECT_FORMAT` printed: None when it failed, as
    /// for a context that does not exist; every docker command then fails
    /// alike, and the daemon check says why.
    pub fn resolve(docker_host: Option<&str>, inspected: Option<&str>) -> Endpoint {
        if let Some(host) = docker_host.filter(|host| !host.is_empty()) {
            return Endpoint {
                host: host.to_string(),
                via: Via::DockerHost,
            };
        }
        let parsed = inspected
            .and_then(|text| text.trim().split_once(' '))
            .filter(|(_, host)| !host.is_empty());
        match parsed {
            Some((name, host)) if name != "default" => Endpoint {
                host: host.to_string(),
                via: Via::Context(name.to_string()),
            },
            Some((_, host)) => Endpoint {
                host: host.to_string(),
                via: Via::Default,
            },
            None => Endpoint {
                host: DEFAULT_HOST.to_string(),
                via: Via::Default,
            },
        }
    }

    /// Whether the daemon is reached through a socket of this machine, so
    /// that it may see testbed's files: not over `tcp://` or `ssh://`.
    pub fn is_local(&self) -> bool {
        self.host.starts_with("unix://")
    }

    /// The endpoint, described, when the daemon is reached over the
    /// network and so cannot see testbed's filesystem.
    pub fn remote(&self) -> Option<String> {
        (!self.is_local()).then(|| self.to_string())
    }

    /// The address, unless it is the default socket nobody asked for.
    pub fn chosen_host(&self) -> Option<&str> {
        match self.via {
            Via::Default => None,
            Via::DockerHost | Via::Context(_) => Some(&self.host),
        }
    }

    /// The context compose v1 must be told of: it reads `currentContext`
    /// from the CLI's config, but not `DOCKER_CONTEXT`.
    pub fn context(&self) -> Option<&str> {
        match &self.via {
            Via::Context(name) => Some(name),
            Via::DockerHost | Via::Default => None,
        }
    }
}

/// `DOCKER_HOST=tcp://docker:2375`, ``docker context `ci` (ssh://ci@build)``,
/// or `unix:///var/run/docker.sock`.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.via {
            Via::DockerHost => write!(f, "DOCKER_HOST={}", self.host),
            Via::Context(name) => write!(f, "docker context `{name}` ({})", self.host),
            Via::Default => f.write_str(&self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_is_named_by_docker_context_else_by_the_clis_config() {
        let root = tempfile::tempdir().unwrap();
        let config = root.path().join("docker");
        std::fs::create_dir(&config).unwrap();
        let dir = config.to_str().unwrap().to_string();
        let env = |vars: Vec<(&'static str, String)>| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            }
        };
        // No config file, no variable: the default context.
        assert_eq!(
            named_context(&env(vec![("DOCKER_CONFIG", dir.clone())])),
            None
        );
        std::fs::write(config.join("config.json"), r#"{"currentContext": "ci"}"#).unwrap();
        assert_eq!(
            named_context(&env(vec![("DOCKER_CONFIG", dir.clone())])).as_deref(),
            Some("ci")
        );
        let both = env(vec![
            ("DOCKER_CONFIG", dir.clone()),
            ("DOCKER_CONTEXT", "remote".into()),
        ]);
        assert_eq!(named_context(&both).as_deref(), Some("remote"));
        let default = env(vec![
            ("DOCKER_CONFIG", dir.clone()),
            ("DOCKER_CONTEXT", "default".into()),
        ]);
        assert_eq!(named_context(&default), None);
        // ~/.docker when DOCKER_CONFIG is not set.
        let home = env(vec![("HOME", root.path().to_str().unwrap().to_string())]);
        assert_eq!(named_context(&home), None);
        std::fs::rename(&config, root.path().join(".docker")).unwrap();
        assert_eq!(named_context(&home).as_deref(), Some("ci"));
        std::fs::write(
            root.path().join(".docker/config.json"),
            r#"{"currentContext": "default", "auths": {}}"#,
        )
        .unwrap();
        assert_eq!(named_context(&home), None);
    }

    #[test]
    fn docker_host_wins_over_the_context() {
        let endpoint = Endpoint::resolve(Some("tcp://dind:2375"), Some("ci ssh://ci@build\n"));
        assert_eq!(endpoint.via, Via::DockerHost);
        assert_eq!(endpoint.to_string(), "DOCKER_HOST=tcp://dind:2375");
        assert_eq!(
            endpoint.remote().as_deref(),
            Some("DOCKER_HOST=tcp://dind:2375")
        );
        assert_eq!(endpoint.context(), None);
    }

    #[test]
    fn a_context_that_points_elsewhere_is_remote() {
        let endpoint = Endpoint::resolve(Some(""), Some("ci tcp://127.0.0.1:2375\n"));
        assert_eq!(endpoint.via, Via::Context("ci".into()));
        assert_eq!(
            endpoint.remote().as_deref(),
            Some("docker context `ci` (tcp://127.0.0.1:2375)")
        );
        assert_eq!(endpoint.context(), Some("ci"));
        assert_eq!(endpoint.chosen_host(), Some("tcp://127.0.0.1:2375"));
    }

    #[test]
    fn a_context_on_a_local_socket_is_local() {
        let rootless = Endpoint::resolve(None, Some("rootless unix:///run/user/1000/docker.sock"));
        assert!(rootless.is_local());
        assert_eq!(rootless.remote(), None);
        assert_eq!(
            rootless.chosen_host(),
            Some("unix:///run/user/1000/docker.sock")
        );
    }

    #[test]
    fn the_default_context_or_none_is_the_local_socket() {
        for inspected in [
            Some("default unix:///var/run/docker.sock\n"),
            None,
            Some(""),
        ] {
            let endpoint = Endpoint::resolve(None, inspected);
            assert_eq!(endpoint.via, Via::Default, "{inspected:?}");
            assert_eq!(endpoint.to_string(), DEFAULT_HOST);
            assert_eq!(endpoint.chosen_host(), None);
            assert!(endpoint.is_local());
        }
    }
}
