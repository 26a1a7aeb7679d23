//! The stack's own bind mounts, seen from the daemon. Compose resolves
//! `./data` to a path in testbed's filesystem, but the daemon mounts it from
//! its own (compose #5232). In a container that shares the host's socket,
//! with the project on one of its volumes or bind mounts, each such path is
//! repointed to where the daemon finds it; where the daemon cannot see it,
//! it is seeded (`seed`). Either way an override file gives the mount again
//! in long syntax, which replaces the short one.

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
    pub kind: BindKind,
}

/// What compose makes the bind mount from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindKind {
    /// An entry of the service's `volumes:`.
    Volume,
    /// A top-level `secrets:` entry with `file:`, by its name; compose
    /// bind-mounts the file, read-only.
    Secret(String),
    /// A top-level `configs:` entry with `file:`, likewise.
    Config(String),
}

/// Where the daemon finds a bind mount's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// At the same path: testbed runs on the daemon's machine, or the path
    /// is mounted at the same place.
    AsIs,
    /// At another path, on the daemon's machine.
    At(PathBuf),
    /// Copied into the run's volume, where the daemon finds it at `at`;
    /// `why` says why it cannot see testbed's own.
    Seeded { at: PathBuf, why: String },
    /// Nowhere; the text says why.
    Hidden(String),
}

impl Seen {
    /// The path the daemon gets in place of the source, if another one.
    pub fn daemon_path(&self) -> Option<&Path> {
        match self {
            Seen::At(at) | Seen::Seeded { at, .. } => Some(at),
            Seen::AsIs | Seen::Hidden(_) => None,
        }
    }
}

/// A bind mount of the project's own files, and where the daemon finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub bind: Bind,
    /// The source where testbed finds it, links resolved.
    pub local: PathBuf,
    /// Whether it is a directory (or missing), rather than a file.
    pub dir: bool,
    pub seen: Seen,
}

/// The bind mounts of the services of `model`, the YAML of `compose config`:
/// long syntax from v2, `source:target[:mode]` from v1; and the files of
/// the secrets and configs they use.
pub fn binds(model: &str) -> Result<Vec<Bind>> {
    #[derive(Deserialize)]
    struct Model {
        #[serde(default)]
        services: Option<BTreeMap<String, Service>>,
        #[serde(default)]
        secrets: Option<BTreeMap<String, Option<Declared>>>,
        #[serde(default)]
        configs: Option<BTreeMap<String, Option<Declared>>>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Service {
        volumes: Vec<Volume>,
        secrets: Vec<Reference>,
        configs: Vec<Reference>,
    }
    #[derive(Deserialize, Default)]
    struct Declared {
        #[serde(default)]
        file: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Reference {
        Short(String),
        Long {
            source: String,
            #[serde(default)]
            target: Option<String>,
        },
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
    let file = |declared: &Option<BTreeMap<String, Option<Declared>>>, name: &str| {
        let declared = declared.as_ref()?.get(name)?.as_ref()?;
        declared.file.clone().filter(|f| f.starts_with('/'))
    };
    for (service, spec) in model.services.unwrap_or_default() {
        let references = spec
            .secrets
            .into_iter()
            .map(|r| (r, true))
            .chain(spec.configs.into_iter().map(|r| (r, false)));
        for (reference, secret) in references {
            let (name, target) = match reference {
                Reference::Short(name) => (name, None),
                Reference::Long { source, target } => (source, target),
            };
            let (declared, kind, top) = if secret {
                (
                    &model.secrets,
                    BindKind::Secret(name.clone()),
                    "/run/secrets",
                )
            } else {
                (&model.configs, BindKind::Config(name.clone()), "")
            };
            let Some(source) = file(declared, &name) else {
                continue;
            };
            let target = target.unwrap_or_else(|| name.clone());
            let target = if target.starts_with('/') {
                target
            } else {
                format!("{top}/{target}")
            };
            binds.push(Bind {
                service: service.clone(),
                source: PathBuf::from(source),
                target,
                read_only: true,
                kind,
            });
        }
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
                    kind: BindKind::Volume,
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

impl Placed {
    /// What happens to the mount, for `-v` and `--dry-run`: `api mounts
    /// /builds/g/p/www: the daemon finds it at /var/lib/docker/volumes/…`.
    pub fn describe(&self) -> String {
        let (service, source) = (&self.bind.service, self.bind.source.display());
        match &self.seen {
            Seen::AsIs => format!("{service} mounts {source} as it is"),
            Seen::At(at) => format!(
                "{service} mounts {source}: the daemon finds it at {}",
                at.display()
            ),
            Seen::Seeded { at, why } => {
                let back = if self.bind.read_only {
                    ""
                } else {
                    ", and what the services write there comes back after the tests"
                };
                format!(
                    "{service} mounts {source}: the daemon cannot see it ({why}), so it is \
                     seeded: the daemon finds a copy at {}{back}",
                    at.display()
                )
            }
            Seen::Hidden(why) => format!(
                "{service} mounts {source} at {}, but the daemon cannot see it: {why}",
                self.bind.target
            ),
        }
    }
}

/// The bind mounts of the project's own files, those under `project` (the
/// directory of the first compose file), and where the daemon finds each.
/// Other paths, such as `/etc/localtime`, are the host's on purpose. With
/// `create`, a source that does not exist is created here, as compose does
/// on a laptop, so that the daemon creates nothing on its host.
pub fn place(binds: Vec<Bind>, project: &Path, facts: &Facts, create: bool) -> Vec<Placed> {
    binds
        .into_iter()
        .filter(|bind| bind.source.starts_with(project))
        .map(|bind| {
            if create && bind.source.symlink_metadata().is_err() {
                // A failure shows when compose or the seeding reads it.
                let _ = std::fs::create_dir_all(&bind.source);
            }
            let local = std::fs::canonicalize(&bind.source).unwrap_or_else(|_| bind.source.clone());
            let dir = !local.is_file();
            let seen = seen(&local, facts);
            Placed {
                bind,
                local,
                dir,
                seen,
            }
        })
        .collect()
}

/// The override that gives each repointed or seeded mount again, in long
/// syntax, with the path the daemon finds, and each such secret and config
/// its file there; None when there is none.
pub fn override_yaml(placed: &[Placed]) -> Option<String> {
    let mut services: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut files: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for Placed { bind, seen, .. } in placed {
        let Some(source) = seen.daemon_path() else {
            continue;
        };
        let source = source.to_string_lossy().into_owned();
        match &bind.kind {
            BindKind::Secret(name) => {
                files.insert(("secrets", name), source);
                continue;
            }
            BindKind::Config(name) => {
                files.insert(("configs", name), source);
                continue;
            }
            BindKind::Volume => {}
        }
        let mut volume = Mapping::new();
        volume.insert("type".into(), "bind".into());
        volume.insert("source".into(), source.into());
        volume.insert("target".into(), bind.target.clone().into());
        if bind.read_only {
            volume.insert("read_only".into(), true.into());
        }
        services
            .entry(&bind.service)
            .or_default()
            .push(Value::Mapping(volume));
    }
    if services.is_empty() && files.is_empty() {
        return None;
    }
    let mut file = Mapping::new();
    if !services.is_empty() {
        let mut section = Mapping::new();
        for (service, volumes) in services {
            let mut entry = Mapping::new();
            entry.insert("volumes".into(), Value::Sequence(volumes));
            section.insert(service.into(), Value::Mapping(entry));
        }
        file.insert("services".into(), Value::Mapping(section));
    }
    for ((top, name), path) in files {
        let mut entry = Mapping::new();
        entry.insert("file".into(), path.into());
        let section = file
            .entry(top.into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if let Value::Mapping(section) = section {
            section.insert(name.into(), Value::Mapping(entry));
        }
    }
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
            kind: BindKind::Volume,
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
            kind: BindKind::Volume,
        });
        let moved = place(all, Path::new("/builds/g/p"), &facts, false);
        assert_eq!(moved.len(), 1, "the host's own paths stay: {moved:?}");
        assert_eq!(
            override_yaml(&moved).unwrap(),
            "services:\n  api:\n    volumes:\n    - type: bind\n      source: /v/_data/g/p/www\n      target: /site\n      read_only: true\n"
        );
        assert_eq!(override_yaml(&[]), None);
    }

    fn bind(service: &str, source: &Path, target: &str, read_only: bool) -> Bind {
        Bind {
            service: service.into(),
            source: source.to_path_buf(),
            target: target.into(),
            read_only,
            kind: BindKind::Volume,
        }
    }

    /// A project in a temporary directory, on a volume of testbed's
    /// container mounted at that directory.
    fn project_on_a_volume() -> (tempfile::TempDir, PathBuf, Facts) {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().canonicalize().unwrap();
        let facts = in_job(vec![mount(
            MountKind::Volume,
            "/v/_data",
            top.to_str().unwrap(),
        )]);
        (tmp, top, facts)
    }

    #[test]
    fn a_file_and_a_directory_are_told_apart_and_a_missing_source_is_made_here() {
        let (_tmp, top, facts) = project_on_a_volume();
        std::fs::create_dir(top.join("data")).unwrap();
        std::fs::write(top.join("app.conf"), "x").unwrap();
        let all = vec![
            bind("api", &top.join("app.conf"), "/etc/app.conf", true),
            bind("api", &top.join("data"), "/data", true),
            bind("api", &top.join("out/reports"), "/out", false),
        ];
        let placed = place(all.clone(), &top, &facts, true);
        let dirs: Vec<bool> = placed.iter().map(|p| p.dir).collect();
        assert_eq!(dirs, [false, true, true]);
        assert!(top.join("out/reports").is_dir(), "made where testbed runs");
        assert_eq!(
            placed[0].seen,
            Seen::At("/v/_data/app.conf".into()),
            "a file is translated as a directory is"
        );
        // --dry-run makes nothing.
        std::fs::remove_dir_all(top.join("out")).unwrap();
        place(all, &top, &facts, false);
        assert!(!top.join("out").exists());
    }

    #[test]
    fn a_symlink_inside_the_workspace_is_followed_to_where_it_points() {
        let (_tmp, top, facts) = project_on_a_volume();
        std::fs::create_dir_all(top.join("fixtures/data")).unwrap();
        std::os::unix::fs::symlink("fixtures/data", top.join("data")).unwrap();
        let placed = place(
            vec![bind("api", &top.join("data"), "/data", true)],
            &top,
            &facts,
            true,
        );
        assert_eq!(placed[0].local, top.join("fixtures/data"));
        assert_eq!(placed[0].seen, Seen::At("/v/_data/fixtures/data".into()));
    }

    #[test]
    fn paths_outside_the_project_are_left_alone_even_when_nested_in_its_mount() {
        let (_tmp, top, facts) = project_on_a_volume();
        let project = top.join("group/app");
        std::fs::create_dir_all(&project).unwrap();
        let all = vec![
            bind(
                "api",
                Path::new("/var/run/docker.sock"),
                "/var/run/docker.sock",
                false,
            ),
            // On the same volume, but beside the project, not in it.
            bind("api", &top.join("group/other"), "/other", true),
            bind("api", &project.join("www"), "/site", true),
        ];
        let placed = place(all, &project, &facts, false);
        let sources: Vec<&Path> = placed.iter().map(|p| p.bind.source.as_path()).collect();
        assert_eq!(sources, [project.join("www").as_path()]);
        assert!(!top.join("group/other").exists());
    }

    #[test]
    fn secrets_and_configs_from_files_are_binds_and_get_their_file_again() {
        let v2 = "services:\n  tests:\n    image: x\n    secrets:\n      - source: token\n        target: /run/secrets/token\n    configs:\n      - source: app\n        target: /etc/app.conf\n      - source: inline\nsecrets:\n  token:\n    name: p_token\n    file: /b/p/token\nconfigs:\n  app:\n    file: /b/p/app.conf\n  inline:\n    content: hi\n";
        let v1 = "secrets:\n  token:\n    file: /b/p/token\nconfigs:\n  app:\n    file: /b/p/app.conf\nservices:\n  tests:\n    image: x\n    secrets:\n    - source: token\n    configs:\n    - source: app\n      target: /etc/app.conf\n";
        for model in [v2, v1] {
            let found = binds(model).unwrap();
            let summary: Vec<(&str, &str, &BindKind)> = found
                .iter()
                .map(|b| (b.source.to_str().unwrap(), b.target.as_str(), &b.kind))
                .collect();
            assert_eq!(
                summary,
                [
                    (
                        "/b/p/token",
                        "/run/secrets/token",
                        &BindKind::Secret("token".into())
                    ),
                    (
                        "/b/p/app.conf",
                        "/etc/app.conf",
                        &BindKind::Config("app".into())
                    ),
                ],
                "{model}"
            );
            assert!(found.iter().all(|b| b.read_only));
        }
        let placed: Vec<Placed> = binds(v1)
            .unwrap()
            .into_iter()
            .map(|bind| Placed {
                local: bind.source.clone(),
                dir: false,
                seen: Seen::Seeded {
                    at: Path::new("/m").join(bind.source.strip_prefix("/").unwrap()),
                    why: "remote".into(),
                },
                bind,
            })
            .collect();
        assert_eq!(
            override_yaml(&placed).unwrap(),
            "configs:\n  app:\n    file: /m/b/p/app.conf\nsecrets:\n  token:\n    file: /m/b/p/token\n"
        );
    }
}
