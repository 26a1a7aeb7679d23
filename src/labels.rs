//! The labels on everything a run creates, so that whatever outlives its run
//! can be traced back to it: which run, since when, whose, and for how long
//! at most. Compose cannot add labels from its command line, so they travel
//! in a generated override file, passed last with `-f`.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_norway::{Mapping, Value};

use crate::images::BuiltImage;

/// The project name of the run.
pub const RUN: &str = "testbed.run";
/// When the run began, in seconds since the Unix epoch.
pub const STARTED: &str = "testbed.started";
/// Who runs it: `gitlab-job:<CI_JOB_ID>`, or `<hostname>:<pid>`.
pub const OWNER: &str = "testbed.owner";
/// How many seconds after `testbed.started` `gc` may remove it, whatever
/// its owner.
pub const TTL: &str = "testbed.ttl";
/// The container testbed runs in, when the daemon knows it.
pub const CONTAINER: &str = "testbed.container";
/// The pid namespace of the owner's pid, so that `gc` looks a pid up only
/// where it means the same process.
pub const PIDNS: &str = "testbed.pidns";
/// `true` on a stack left running on purpose (`--keep`).
pub const KEEP: &str = "testbed.keep";
/// `reaper` on the reaper's own container.
pub const ROLE: &str = "testbed.role";
/// On an image testbed built: its name without a tag, `<prefix>-<service>`.
pub const IMAGE: &str = "testbed.image";
/// On an image testbed built: the run that built it. What a build replaces
/// is pruned by this label, which no other run's build in progress carries:
/// compose v1's builder leaves untagged images on the way, and the same
/// build may take them for its cache.
pub const BUILD: &str = "testbed.build";

/// Every label of a run, for `docker … --format` to read back.
pub const ALL: [&str; 8] = [RUN, STARTED, OWNER, TTL, CONTAINER, PIDNS, KEEP, ROLE];

/// How long a stack may live before `gc` removes it, whatever its owner.
pub const DEFAULT_TTL: Duration = Duration::from_secs(2 * 3600);

/// Who runs a stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A GitLab job, by its `CI_JOB_ID`.
    GitLabJob(String),
    /// A process on a host (or in a container), by its hostname and pid.
    Process { host: String, pid: u32 },
}

impl Owner {
    /// The owner of this process: the GitLab job when `GITLAB_CI` is
    /// `true`, else this hostname and pid. `env` looks a variable up.
    pub fn current(env: impl Fn(&str) -> Option<String>) -> Owner {
        let job = match env("GITLAB_CI").as_deref() {
            Some("true") => env("CI_JOB_ID").filter(|id| !id.is_empty()),
            _ => None,
        };
        match job {
            Some(job) => Owner::GitLabJob(job),
            None => Owner::Process {
                host: hostname(),
                pid: std::process::id(),
            },
        }
    }

    /// Reads a `testbed.owner` value back; None when it is neither form.
    pub fn parse(text: &str) -> Option<Owner> {
        if let Some(job) = text.strip_prefix("gitlab-job:") {
            return (!job.is_empty()).then(|| Owner::GitLabJob(job.to_string()));
        }
        let (host, pid) = text.rsplit_once(':')?;
        let pid = pid.parse().ok().filter(|&pid| pid > 0)?;
        (!host.is_empty()).then(|| Owner::Process {
            host: host.to_string(),
            pid,
        })
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::GitLabJob(job) => write!(f, "gitlab-job:{job}"),
            Owner::Process { host, pid } => write!(f, "{host}:{pid}"),
        }
    }
}

/// This machine's (or container's) hostname, as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

/// The inode of this process's pid namespace, e.g. `4026531836`.
pub fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let link = link.to_string_lossy();
    let inode = link.strip_prefix("pid:[")?.strip_suffix(']')?;
    Some(inode.to_string())
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The labels of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLabels {
    pub project: String,
    pub started: u64,
    pub owner: Owner,
    pub ttl: Duration,
    pub container: Option<String>,
    pub pidns: Option<String>,
    pub keep: bool,
}

impl RunLabels {
    /// The labels of a run of `project` that starts now, owned by this
    /// process. `container` is the container testbed runs in, if the
    /// daemon knows it.
    pub fn new(project: &str, ttl: Duration, keep: bool, container: Option<String>) -> RunLabels {
        RunLabels {
            project: project.to_string(),
            started: now(),
            owner: Owner::current(|name| std::env::var(name).ok()),
            ttl,
            container,
            pidns: pid_namespace(),
            keep,
        }
    }

    /// The labels a run put on what it created, read back from them: the
    /// run, its start and owner at least. None for anything else.
    pub fn read(labels: &BTreeMap<String, String>) -> Option<RunLabels> {
        let get = |key: &str| labels.get(key).cloned();
        Some(RunLabels {
            project: get(RUN)?,
            started: get(STARTED)?.parse().ok()?,
            owner: Owner::parse(&get(OWNER)?)?,
            ttl: Duration::from_secs(get(TTL)?.parse().ok()?),
            container: get(CONTAINER),
            pidns: get(PIDNS),
            keep: get(KEEP).as_deref() == Some("true"),
        })
    }

    /// Each label and its value, in a fixed order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            (RUN, self.project.clone()),
            (STARTED, self.started.to_string()),
            (OWNER, self.owner.to_string()),
            (TTL, self.ttl.as_secs().to_string()),
        ];
        pairs.extend(self.container.iter().map(|id| (CONTAINER, id.clone())));
        pairs.extend(self.pidns.iter().map(|ns| (PIDNS, ns.clone())));
        if self.keep {
            pairs.push((KEEP, "true".into()));
        }
        pairs
    }

    /// `--label k=v` for each label, for a `docker run`.
    pub fn docker_args(&self) -> Vec<String> {
        self.pairs()
            .into_iter()
            .flat_map(|(key, value)| ["--label".to_string(), format!("{key}={value}")])
            .collect()
    }

    /// The compose override that puts the labels on every service of
    /// `model` (the YAML of `compose config`) and on every network and
    /// volume it `created`: not on external ones, which compose does not
    /// create and refuses to configure. The services of `built` get their
    /// image's name for this run, and it gets its labels when compose
    /// builds it.
    ///
    /// It has no `version:` key: compose v1 1.29 validates every file
    /// against one schema whatever its version, and v2 warns that the key
    /// is obsolete.
    pub fn override_yaml(
        &self,
        model: &str,
        created: &Created,
        built: &[BuiltImage],
    ) -> Result<String> {
        #[derive(Deserialize)]
        struct Model {
            #[serde(default)]
            services: Option<BTreeMap<String, Value>>,
        }
        let model: Model =
            serde_norway::from_str(model).context("cannot read the output of `compose config`")?;
        let services: Vec<String> = model.services.unwrap_or_default().into_keys().collect();
        let keys = |resources: &[Resource]| -> Vec<String> {
            resources.iter().map(|r| r.key.clone()).collect()
        };
        let (networks, volumes) = (keys(&created.networks), keys(&created.volumes));
        let mut labels = Mapping::new();
        for (key, value) in self.pairs() {
            labels.insert(key.into(), value.into());
        }
        let labelled = |names: Vec<String>| -> Value {
            let mut section = Mapping::new();
            for name in names {
                let mut entry = Mapping::new();
                entry.insert("labels".into(), Value::Mapping(labels.clone()));
                section.insert(name.into(), Value::Mapping(entry));
            }
            Value::Mapping(section)
        };
        let mut services = labelled(services);
        if let Value::Mapping(entries) = &mut services {
            for image in built {
                let Some(Value::Mapping(entry)) = entries.get_mut(image.service.as_str()) else {
                    continue;
                };
                let mut image_labels = Mapping::new();
                image_labels.insert(IMAGE.into(), image.repository.clone().into());
                image_labels.insert(TTL.into(), self.ttl.as_secs().to_string().into());
                image_labels.insert(BUILD.into(), self.project.clone().into());
                let mut build = Mapping::new();
                build.insert("labels".into(), Value::Mapping(image_labels));
                entry.insert("image".into(), image.for_run(&self.project).into());
                entry.insert("build".into(), Value::Mapping(build));
            }
        }
        let mut file = Mapping::new();
        file.insert("services".into(), services);
        file.insert("networks".into(), labelled(networks));
        if !volumes.is_empty() {
            file.insert("volumes".into(), labelled(volumes));
        }
        serde_norway::to_string(&file).context("cannot write the labels override")
    }
}

/// The networks and named volumes compose creates for a model: those the
/// files declare that are not external, and `default`, which v1's `config`
/// leaves out unless the files declare it. Compose creates only those its
/// services use, so some may never exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    pub networks: Vec<Resource>,
    pub volumes: Vec<Resource>,
}

/// A network or volume: its key in the files, and its name on the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub key: String,
    pub name: String,
}

impl Created {
    /// What compose creates for `model` (the YAML of `compose config`)
    /// under `project`: each under its `name:`, which v2 always prints,
    /// else under compose's `<project>_<key>`.
    pub fn of(model: &str, project: &str) -> Result<Created> {
        #[derive(Deserialize)]
        struct Model {
            #[serde(default)]
            networks: Option<BTreeMap<String, Option<Declared>>>,
            #[serde(default)]
            volumes: Option<BTreeMap<String, Option<Declared>>>,
        }
        #[derive(Deserialize, Default)]
        struct Declared {
            #[serde(default)]
            external: Value,
            #[serde(default)]
            name: Option<String>,
        }
        let model: Model =
            serde_norway::from_str(model).context("cannot read the output of `compose config`")?;
        let created = |declared: Option<BTreeMap<String, Option<Declared>>>| -> Vec<Resource> {
            declared
                .unwrap_or_default()
                .into_iter()
                .map(|(key, declared)| (key, declared.unwrap_or_default()))
                .filter(|(_, declared)| !is_external(&declared.external))
                .map(|(key, declared)| Resource {
                    name: declared.name.unwrap_or_else(|| format!("{project}_{key}")),
                    key,
                })
                .collect()
        };
        let default_declared = model
            .networks
            .as_ref()
            .is_some_and(|n| n.contains_key("default"));
        let mut networks = created(model.networks);
        if !default_declared {
            networks.insert(
                0,
                Resource {
                    key: "default".into(),
                    name: format!("{project}_default"),
                },
            );
        }
        Ok(Created {
            networks,
            volumes: created(model.volumes),
        })
    }
}

/// `external: true`, or v1's legacy `external: {name: …}`.
fn is_external(value: &Value) -> bool {
    match value {
        Value::Bool(external) => *external,
        Value::Mapping(_) => true,
        _ => false,
    }
}

/// The override file of a run: a temporary file without a name, which
/// compose opens through testbed's own `/proc/<pid>/fd/<n>`. It lives
/// exactly as long as testbed holds it, so not even a killed testbed leaves
/// it behind.
pub struct OverrideFile {
    file: File,
}

impl OverrideFile {
    pub fn write(yaml: &str) -> Result<OverrideFile> {
        let mut file = tempfile::tempfile().context("cannot create the labels override")?;
        file.write_all(yaml.as_bytes())
            .context("cannot write the labels override")?;
        Ok(OverrideFile { file })
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.file.as_raw_fd()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> RunLabels {
        RunLabels {
            project: "tb-x-1-ab12cd".into(),
            started: 1_700_000_000,
            owner: Owner::Process {
                host: "ci-7".into(),
                pid: 4242,
            },
            ttl: DEFAULT_TTL,
            container: None,
            pidns: Some("4026531836".into()),
            keep: false,
        }
    }

    fn created(model: &str) -> Created {
        Created::of(model, "tb-x-1-ab12cd").unwrap()
    }

    /// v2 names each network and volume; v1 only those the files name.
    #[test]
    fn created_networks_and_volumes_have_their_names_on_the_engine() {
        let model = "\
networks:
  back: {}
  front: {name: tb-x-1-ab12cd_front}
  shared: {name: ci-shared, external: true}
  legacy:
    external:
      name: ci-net
volumes:
  data: null
  cache: {name: ci-cache, external: true}
  named: {name: my-volume}
";
        let names = |resources: &[Resource]| -> Vec<(String, String)> {
            resources
                .iter()
                .map(|r| (r.key.clone(), r.name.clone()))
                .collect()
        };
        let created = created(model);
        let pair = |key: &str, name: &str| (key.to_string(), name.to_string());
        assert_eq!(
            names(&created.networks),
            [
                pair("default", "tb-x-1-ab12cd_default"),
                pair("back", "tb-x-1-ab12cd_back"),
                pair("front", "tb-x-1-ab12cd_front"),
            ]
        );
        assert_eq!(
            names(&created.volumes),
            [
                pair("data", "tb-x-1-ab12cd_data"),
                pair("named", "my-volume")
            ]
        );
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn labels_read_back_what_they_wrote() {
        for labels in [
            labels(),
            RunLabels {
                container: Some("0123abcd".into()),
                pidns: None,
                keep: true,
                ..labels()
            },
        ] {
            let written: BTreeMap<String, String> = labels
                .pairs()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .chain([("com.docker.compose.service".into(), "db".into())])
                .collect();
            assert_eq!(RunLabels::read(&written), Some(labels));
        }
        let compose_only = BTreeMap::from([("com.docker.compose.service".into(), "db".into())]);
        assert_eq!(RunLabels::read(&compose_only), None);
    }

    #[test]
    fn a_gitlab_job_owns_its_runs_by_job_id() {
        let vars = [("GITLAB_CI", "true"), ("CI_JOB_ID", "987")];
        assert_eq!(Owner::current(env(&vars)), Owner::GitLabJob("987".into()));
        // Outside GitLab, or without a job id, the process owns it.
        for vars in [&[("CI_JOB_ID", "987")][..], &[("GITLAB_CI", "true")][..]] {
            let owner = Owner::current(env(vars));
            assert_eq!(
                owner,
                Owner::Process {
                    host: hostname(),
                    pid: std::process::id()
                }
            );
        }
    }

    #[test]
    fn owners_read_back_what_they_wrote() {
        for owner in [
            Owner::GitLabJob("123456".into()),
            Owner::Process {
                host: "runner-abc-project-42-concurrent-0".into(),
                pid: 1,
            },
            // An IPv6-looking or odd hostname still splits at the last colon.
            Owner::Process {
                host: "a:b".into(),
                pid: 77,
            },
        ] {
            assert_eq!(Owner::parse(&owner.to_string()), Some(owner));
        }
        for bad in [
            "",
            "gitlab-job:",
            "host",
            "host:",
            ":12",
            "host:0",
            "host:x1",
        ] {
            assert_eq!(Owner::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn labels_come_in_a_fixed_order_and_keep_only_when_kept() {
        let mut run = labels();
        let keys: Vec<&str> = run.pairs().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [RUN, STARTED, OWNER, TTL, PIDNS]);
        run.keep = true;
        run.container = Some("c0ffee".into());
        assert_eq!(
            run.docker_args()[8..],
            [
                "--label",
                "testbed.container=c0ffee",
                "--label",
                "testbed.pidns=4026531836",
                "--label",
                "testbed.keep=true"
            ]
        );
        assert_eq!(run.docker_args()[5], "testbed.owner=ci-7:4242");
    }

    /// The override for a v2 `config`: every service, the networks and
    /// volumes compose creates, and none of the external ones.
    #[test]
    fn the_override_labels_services_created_networks_and_volumes() {
        let model = "\
name: tb-x-1-ab12cd
services:
  db:
    image: postgres
    networks: {back: null, shared: null}
    volumes:
      - {type: volume, source: data, target: /data}
  tests:
    image: busybox
networks:
  back: {name: tb-x-1-ab12cd_back}
  shared: {name: ci-shared, external: true}
volumes:
  data: {name: tb-x-1-ab12cd_data}
  cache: {name: ci-cache, external: true}
";
        let yaml = labels().override_yaml(model, &created(model), &[]).unwrap();
        let expected_labels = "    labels:
      testbed.run: tb-x-1-ab12cd
      testbed.started: '1700000000'
      testbed.owner: ci-7:4242
      testbed.ttl: '7200'
      testbed.pidns: '4026531836'
";
        let expected = format!(
            "services:\n  db:\n{expected_labels}  tests:\n{expected_labels}\
             networks:\n  default:\n{expected_labels}  back:\n{expected_labels}\
             volumes:\n  data:\n{expected_labels}"
        );
        assert_eq!(yaml, expected);
    }

    /// v1 prints `{}` for a network without settings, may declare `default`
    /// itself, and has the legacy `external: {name: …}`.
    #[test]
    fn the_override_follows_v1s_config_and_an_external_default_network() {
        let model = "\
networks:
  back: {}
  default:
    external:
      name: ci-net
services:
  tests:
    image: busybox
version: '2.0'
";
        let yaml = labels().override_yaml(model, &created(model), &[]).unwrap();
        let parsed: Value = serde_norway::from_str(&yaml).unwrap();
        let networks: Vec<&str> = parsed["networks"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(networks, ["back"]);
        assert!(parsed.get("volumes").is_none(), "{yaml}");
        assert!(parsed.get("version").is_none(), "{yaml}");
        assert_eq!(
            parsed["services"]["tests"]["labels"][RUN].as_str(),
            Some("tb-x-1-ab12cd")
        );
    }

    /// A service testbed builds the image of gets that image's name for
    /// the run, and the image its own labels.
    #[test]
    fn the_override_names_and_labels_the_images_testbed_builds() {
        let model =
            "services:\n  db:\n    image: postgres\n  tests:\n    build:\n      context: /src\n";
        let built = [BuiltImage::new("tb-api", "tests")];
        let yaml = labels()
            .override_yaml(model, &created(model), &built)
            .unwrap();
        let parsed: Value = serde_norway::from_str(&yaml).unwrap();
        let tests = &parsed["services"]["tests"];
        assert_eq!(tests["image"].as_str(), Some("tb-api-tests:tb-x-1-ab12cd"));
        assert_eq!(
            tests["build"]["labels"],
            serde_norway::from_str::<Value>(
                "testbed.image: tb-api-tests\ntestbed.ttl: '7200'\ntestbed.build: tb-x-1-ab12cd"
            )
            .unwrap()
        );
        assert_eq!(tests["labels"][RUN].as_str(), Some("tb-x-1-ab12cd"));
        assert!(parsed["services"]["db"].get("image").is_none(), "{yaml}");
    }

    #[test]
    fn the_override_file_is_read_through_proc_and_has_no_name() {
        let file = OverrideFile::write("services: {}\n").unwrap();
        let path = file.path();
        // Read twice, as two compose commands do.
        for _ in 0..2 {
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "services: {}\n");
        }
        let target = std::fs::read_link(&path).unwrap();
        assert!(
            target.to_string_lossy().ends_with(" (deleted)"),
            "{target:?}"
        );
    }
}
