//! The stack's own bind mounts, seen from the daemon. Compose resolves
//! `./data` to a path in testbed's filesystem, but the daemon mounts it from
//! its own (compose #5232). In a container that shares the host's socket,
//! with the project on one of its volumes or bind mounts, each such path is
//! repointed to where the daemon finds it, through an override file that
//! gives the mount again in long syntax, which replaces the short one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_norway::{Mapping, Value};

use super::artifacts::{self, Facts, MountKind, Whereabouts};

/// A bind mount of a service, as `compose config` resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub service: String,
    /// Absolute, in testbed's filesystem.
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// Where the daemon finds a bind mount's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// At the same path: testbed runs on the daemon's machine, or the path
    /// is mounted at the same place.
    AsIs,
    /// At another path, on the daemon's machine.
    At(PathBuf),
    /// Nowhere; the text says why.
    Hidden(String),
}

/// A bind mount whose source the daemon finds elsewhere, or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub bind: Bind,
    pub seen: Seen,
}

/// The bind mounts of the services of `model`, the YAML of `compose config`:
/// long syntax from v2, `source:target[:mode]` from v1.
pub fn binds(model: &str) -> Result<Vec<Bind>> {
    #[derive(Deserialize)]
    struct Model {
        #[serde(default)]
        services: Option<BTreeMap<String, Service>>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Service {
        volumes: Vec<Volume>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Volume {
        Short(String),
        Long {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            source: String,
            target: String,
            #[serde(default)]
            read_only: bool,
        },
    }
    let model: Model =
        serde_norway::from_str(model).context("cannot read the output of `compose config`")?;
    let mut binds = Vec::new();
    for (service, spec) in model.services.unwrap_or_default() {
        for volume in spec.volumes {
            let (source, target, read_only) = match volume {
                Volume::Long {
                    kind,
                    source,
                    target,
                    read_only,
                } if kind == "bind" => (source, target, read_only),
                Volume::Long { .. } => continue,
                Volume::Short(text) => {
                    let mut parts = text.split(':');
                    let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
                        continue;
                    };
                    let read_only = parts
                        .next()
                        .is_some_and(|mode| mode.split(',').any(|m| m == "ro"));
                    (source.to_string(), target.to_string(), read_only)
                }
            };
            // A named volume has no path.
            if source.starts_with('/') {
                binds.push(Bind {
                    service: service.clone(),
                    source: PathBuf::from(source),
                    target,
                    read_only,
                });
            }
        }
    }
    Ok(binds)
}

/// Where the daemon finds `path`, from where testbed runs.
pub fn seen(path: &Path, facts: &Facts) -> Seen {
    if let Some(remote) = &facts.remote {
        return Seen::Hidden(format!(
            "{remote} is not a local socket, so the daemon cannot see testbed's files"
        ));
    }
    let mounts = match &facts.whereabouts {
        Whereabouts::Host => return Seen::AsIs,
        Whereabouts::Elsewhere(candidate) => {
            return Seen::Hidden(format!(
                "testbed runs in a container the daemon does not know ({candidate}), such as a job beside a Docker-in-Docker service"
            ));
        }
        Whereabouts::Container { mounts, .. } => mounts,
    };
    let Some(mount) = artifacts::holding(path, mounts) else {
        return Seen::Hidden(
            "it is on the own filesystem of testbed's container, not on one of its volumes or bind mounts".into(),
        );
    };
    if !matches!(mount.kind, MountKind::Bind | MountKind::Volume) || mount.source.is_empty() {
        return Seen::Hidden(format!(
            "it is on a {} mount of testbed's container, which the daemon cannot share",
            mount.kind.as_str()
        ));
    }
    let rest = path
        .strip_prefix(&mount.destination)
        .unwrap_or(Path::new(""));
    let at = Path::new(&mount.source).join(rest);
    if at == path { Seen::AsIs } else { Seen::At(at) }
}

/// The bind mounts of the project's own files, those under `project` (the
/// directory of the first compose file), that the daemon does not find
/// where compose says: those to repoint, and those it cannot see at all.
/// Other paths, such as `/etc/localtime`, are the host's on purpose.
pub fn moved(binds: Vec<Bind>, project: &Path, facts: &Facts) -> Vec<Moved> {
    binds
        .into_iter()
        .filter(|bind| bind.source.starts_with(project))
        .filter_map(|bind| match seen(&bind.source, facts) {
            Seen::AsIs => None,
            seen => Some(Moved { bind, seen }),
        })
        .collect()
}

/// The override that gives each repointed mount again, in long syntax,
/// with the path the daemon finds; None when there is none.
pub fn override_yaml(moved: &[Moved]) -> Option<String> {
    let mut services: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for Moved { bind, seen } in moved {
        let Seen::At(source) = seen else { continue };
        let mut volume = Mapping::new();
        volume.insert("type".into(), "bind".into());
        volume.insert(
            "source".into(),
            source.to_string_lossy().into_owned().into(),
        );
        volume.insert("target".into(), bind.target.clone().into());
        if bind.read_only {
            volume.insert("read_only".into(), true.into());
        }
        services
            .entry(&bind.service)
            .or_default()
            .push(Value::Mapping(volume));
    }
    if services.is_empty() {
        return None;
    }
    let mut section = Mapping::new();
    for (service, volumes) in services {
        let mut entry = Mapping::new();
        entry.insert("volumes".into(), Value::Sequence(volumes));
        section.insert(service.into(), Value::Mapping(entry));
    }
    let mut file = Mapping::new();
    file.insert("services".into(), Value::Mapping(section));
    serde_norway::to_string(&file).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::artifacts::Mount;

    const V2: &str = "services:\n  api:\n    volumes:\n      - type: bind\n        source: /builds/g/p/www\n        target: /site\n        read_only: true\n        bind:\n          create_host_path: true\n      - type: volume\n        source: pages\n        target: /www\n        volume: {}\n  tests:\n    image: x\n";
    const V1: &str = "services:\n  api:\n    volumes:\n    - /builds/g/p/www:/site:ro\n    - pages:/www:rw\n  tests:\n    image: x\nvolumes:\n  pages: {}\n";

    fn in_job(mounts: Vec<Mount>) -> Facts {
        Facts {
            remote: None,
            root: true,
            whereabouts: Whereabouts::Container {
                id: "0123456789ab".into(),
                image: "job".into(),
                mounts,
            },
        }
    }

    fn mount(kind: MountKind, source: &str, destination: &str) -> Mount {
        Mount {
            kind,
            source: source.into(),
            destination: destination.into(),
            rw: true,
        }
    }

    #[test]
    fn binds_come_from_either_flavors_config_and_named_volumes_do_not() {
        let expected = vec![Bind {
            service: "api".into(),
            source: "/builds/g/p/www".into(),
            target: "/site".into(),
            read_only: true,
        }];
        assert_eq!(binds(V2).unwrap(), expected);
        assert_eq!(binds(V1).unwrap(), expected);
    }

    #[test]
    fn a_path_on_a_volume_or_bind_of_testbeds_container_is_repointed() {
        let data = "/var/lib/docker/volumes/ws/_data";
        let facts = in_job(vec![
            mount(MountKind::Volume, data, "/builds"),
            mount(
                MountKind::Bind,
                "/var/run/docker.sock",
                "/var/run/docker.sock",
            ),
            mount(MountKind::Bind, "/srv/cache", "/builds/g/p/cache"),
        ]);
        let at = |path: &str| seen(Path::new(path), &facts);
        assert_eq!(
            at("/builds/g/p/www"),
            Seen::At(format!("{data}/g/p/www").into())
        );
        // The deepest mount wins.
        assert_eq!(at("/builds/g/p/cache/x"), Seen::At("/srv/cache/x".into()));
        // Mounted at the same path: the daemon sees it as it is.
        assert_eq!(at("/var/run/docker.sock"), Seen::AsIs);
        assert!(matches!(at("/etc/app.conf"), Seen::Hidden(why) if why.contains("own filesystem")));
    }

    #[test]
    fn on_the_host_nothing_moves_and_a_remote_daemon_sees_nothing() {
        let host = Facts {
            remote: None,
            root: true,
            whereabouts: Whereabouts::Host,
        };
        assert_eq!(seen(Path::new("/home/me/p/www"), &host), Seen::AsIs);
        let remote = Facts {
            remote: Some("DOCKER_HOST=tcp://docker:2375".into()),
            ..host
        };
        assert!(
            matches!(seen(Path::new("/p/www"), &remote), Seen::Hidden(why) if why.contains("tcp://docker:2375"))
        );
    }

    #[test]
    fn the_override_gives_each_repointed_mount_in_long_syntax() {
        let facts = in_job(vec![mount(MountKind::Volume, "/v/_data", "/builds")]);
        let mut all = binds(V1).unwrap();
        all.push(Bind {
            service: "api".into(),
            source: "/etc/localtime".into(),
            target: "/etc/localtime".into(),
            read_only: true,
        });
        let moved = moved(all, Path::new("/builds/g/p"), &facts);
        assert_eq!(moved.len(), 1, "the host's own paths stay: {moved:?}");
        assert_eq!(
            override_yaml(&moved).unwrap(),
            "services:\n  api:\n    volumes:\n    - type: bind\n      source: /v/_data/g/p/www\n      target: /site\n      read_only: true\n"
        );
        assert_eq!(override_yaml(&[]), None);
    }
}
