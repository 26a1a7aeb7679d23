//! The tests' artifacts and the services' logs, brought back to the side
//! that invoked testbed: a laptop, or a CI job that is itself a container.
//! How they travel depends on what the daemon can see of our filesystem:
//! `choose` decides from the facts `detect` gathers, `collect` brings them
//! home after the tests.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

use crate::engine::model::Container;
use crate::engine::{Docker, Engine};
use crate::exit::Failure;
use crate::topology::container::{self, Candidate, ProcFiles};

/// The variable that tells the tests where to write.
pub const ENV: &str = "ARTIFACTS_DIR";
/// The subdirectory that holds one log file per service.
pub const LOGS: &str = "logs";
/// The web page of the run's timeline, beside the logs.
pub const TIMELINE: &str = "timeline.html";

/// How the files get from the test container to the artifacts directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// The directory is bind-mounted into the test container at its own path.
    Bind,
    /// The volume or bind mount of our own container that holds the
    /// directory is mounted into the test container at the same place, so
    /// both see the same files. This is what `volumes_from` would do, for
    /// the one mount that matters.
    Share {
        container: String,
        source: String,
        destination: PathBuf,
    },
    /// The test container writes to a volume of its own, and the files are
    /// copied out with `docker cp`, which works with any daemon.
    Copy,
}

impl Strategy {
    /// The name `--artifacts-mode` uses for it.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Bind => "bind",
            Strategy::Share { .. } => "volumes-from",
            Strategy::Copy => "copy",
        }
    }
}

/// Where testbed runs, as far as the daemon is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whereabouts {
    /// Not in a container: on the daemon's machine.
    Host,
    /// In a container the daemon does not know, such as a job that talks to
    /// a Docker-in-Docker service. The text says which one we guessed.
    Elsewhere(String),
    /// In this container of the daemon's, made from this image (an id).
    Container {
        id: String,
        image: String,
        mounts: Vec<Mount>,
    },
}

impl Whereabouts {
    /// The id of our container, when the daemon knows it.
    pub fn container_id(&self) -> Option<String> {
        match self {
            Whereabouts::Container { id, .. } => Some(id.clone()),
            Whereabouts::Host | Whereabouts::Elsewhere(_) => None,
        }
    }
}

/// One mount of a container, from `docker inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    #[serde(rename = "Type")]
    pub kind: MountKind,
    #[serde(default)]
    pub source: String,
    pub destination: PathBuf,
    #[serde(rename = "RW", default)]
    pub rw: bool,
}

/// What a mount is made of, as the engine names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A path of the daemon's host.
    Bind,
    /// A named or anonymous volume.
    Volume,
    Tmpfs,
    /// One this engine version does not name above.
    #[serde(untagged)]
    Other(String),
}

impl MountKind {
    pub fn as_str(&self) -> &str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Other(kind) => kind,
        }
    }
}

/// The mount of a container that holds `path`: the deepest one.
pub fn holding<'a>(path: &Path, mounts: &'a [Mount]) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.destination))
        .max_by_key(|m| m.destination.components().count())
}

/// What `choose` decides from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The daemon's endpoint, described (`DOCKER_HOST=…`, a context), when
    /// it is reached over the network.
    pub remote: Option<String>,
    /// Whether testbed runs as root, so that files the tests write as root
    /// through a shared mount belong to the invoking user.
    pub root: bool,
    pub whereabouts: Whereabouts,
}

/// The artifacts directory of a run and how files reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// Absolute; the tests see the same path as `ARTIFACTS_DIR`.
    pub dir: PathBuf,
    pub strategy: Strategy,
    /// Why this strategy, for `-v`.
    pub reason: String,
}

/// Finds the container testbed runs in and its mounts, as the daemon behind
/// `docker` sees them. `parent` is `--parent-container`.
pub fn detect(docker: &Docker, parent: Option<&str>) -> Whereabouts {
    let explicit = parent.map(|c| Candidate::explicit(c, "--parent-container"));
    let candidates = container::candidates_from(explicit, &ProcFiles::read(), |name| {
        std::env::var(name).ok()
    });
    let Some(first) = candidates.first() else {
        return Whereabouts::Host;
    };
    match container::confirm(docker, &candidates) {
        Some((id, _)) => {
            let found = docker
                .cmd([
                    "inspect",
                    "--type",
                    "container",
                    "--format",
                    "{{.Image}} {{json .Mounts}}",
                ])
                .arg(&id)
                .read()
                .unwrap_or_default();
            let (image, mounts) = found.trim().split_once(' ').unwrap_or_default();
            Whereabouts::Container {
                id,
                image: image.to_string(),
                mounts: serde_json::from_str(mounts).unwrap_or_default(),
            }
        }
        None => Whereabouts::Elsewhere(first.to_string()),
    }
}

/// Picks how the files travel. `dir` is absolute.
pub fn choose(mode: ArtifactsMode, dir: &Path, facts: &Facts) -> Result<Artifacts, Failure> {
    let (strategy, reason) = match mode {
        ArtifactsMode::Bind => (Strategy::Bind, "--artifacts-mode bind".to_string()),
        ArtifactsMode::Copy => (Strategy::Copy, "--artifacts-mode copy".to_string()),
        ArtifactsMode::VolumesFrom => match share(dir, facts) {
            Ok(strategy) => (strategy, "--artifacts-mode volumes-from".to_string()),
            Err(why) => {
                return Err(Failure::usage(anyhow!(
                    "--artifacts-mode volumes-from cannot work here: {why}"
                ))
                .with_hint("leave --artifacts-mode at auto, which copies the files instead"));
            }
        },
        ArtifactsMode::Auto => auto(dir, facts),
    };
    Ok(Artifacts {
        dir: dir.to_path_buf(),
        strategy,
        reason,
    })
}

fn auto(dir: &Path, facts: &Facts) -> (Strategy, String) {
    let shown = dir.display();
    if let Some(remote) = &facts.remote {
        return (
            Strategy::Copy,
            format!("{remote} is not a local socket, so the daemon cannot see {shown}"),
        );
    }
    if !facts.root {
        let uid = nix_uid();
        return (
            Strategy::Copy,
            format!(
                "testbed runs as uid {uid}, and files the tests wrote through a shared mount \
                 would belong to the container's user"
            ),
        );
    }
    match &facts.whereabouts {
        Whereabouts::Host => (
            Strategy::Bind,
            "testbed runs on the daemon's machine, so the directory is bind-mounted".into(),
        ),
        Whereabouts::Elsewhere(candidate) => (
            Strategy::Copy,
            format!(
                "testbed runs in a container the daemon does not know ({candidate}): \
                 another daemon, such as Docker-in-Docker"
            ),
        ),
        Whereabouts::Container { id, .. } => match share(dir, facts) {
            Ok(strategy) => {
                let Strategy::Share { destination, .. } = &strategy else {
                    unreachable!("share returns Strategy::Share")
                };
                let reason = format!(
                    "testbed runs in container {}, and {shown} is on its mount {}",
                    &id[..12.min(id.len())],
                    destination.display()
                );
                (strategy, reason)
            }
            Err(why) => (Strategy::Copy, why),
        },
    }
}

/// The mount of our container that holds `dir`, shared with the tests.
fn share(dir: &Path, facts: &Facts) -> Result<Strategy, String> {
    let shown = dir.display();
    if let Some(remote) = &facts.remote {
        return Err(format!(
            "{remote} is not a local socket, so the daemon cannot see {shown}"
        ));
    }
    let (id, mounts) = match &facts.whereabouts {
        Whereabouts::Container { id, mounts, .. } => (id, mounts),
        Whereabouts::Host => return Err("testbed does not run in a container".into()),
        Whereabouts::Elsewhere(candidate) => {
            return Err(format!(
                "testbed runs in a container the daemon does not know ({candidate})"
            ));
        }
    };
    let short = &id[..12.min(id.len())];
    let Some(mount) = holding(dir, mounts) else {
        return Err(format!(
            "{shown} is on the own filesystem of container {short}, not on one of its volumes or bind mounts"
        ));
    };
    if !matches!(mount.kind, MountKind::Bind | MountKind::Volume) || mount.source.is_empty() {
        return Err(format!(
            "{shown} is on a {} mount of container {short}, which the daemon cannot share",
            mount.kind.as_str()
        ));
    }
    if !mount.rw {
        return Err(format!(
            "{shown} is on a read-only mount of container {short}"
        ));
    }
    Ok(Strategy::Share {
        container: id.clone(),
        source: mount.source.clone(),
        destination: mount.destination.clone(),
    })
}

fn nix_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// Whether testbed runs as root.
pub fn running_as_root() -> bool {
    nix_uid() == 0
}

/// How the artifacts reach the side that invoked testbed, as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactsMode {
    /// Pick from where testbed runs and what the daemon can see
    Auto,
    /// Bind-mount the directory at the same path
    Bind,
    /// Share the mount of testbed's container that holds the directory
    VolumesFrom,
    /// Copy the files out of the test container with `docker cp`
    Copy,
}

/// What [`Artifacts::collect`] brought back.
#[derive(Debug, Default)]
pub struct Collection {
    /// The files and the logs in the directory, unless it could not be
    /// prepared.
    pub counts: Option<(usize, usize)>,
    /// What went wrong on the way, which changes no exit code.
    pub warnings: Vec<String>,
}

impl Artifacts {
    /// The `-v` value of `compose run` that gives the tests the directory.
    pub fn volume(&self) -> String {
        let dir = self.dir.display();
        match &self.strategy {
            Strategy::Bind => format!("{dir}:{dir}"),
            Strategy::Share {
                source,
                destination,
                ..
            } => format!("{source}:{}", destination.display()),
            // An anonymous volume, removed with the test container.
            Strategy::Copy => dir.to_string(),
        }
    }

    /// Creates the directory, so that a bind mount does not make the daemon
    /// create it as root, and so that logs have a place even if the tests
    /// never start.
    pub fn prepare(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| {
            format!(
                "cannot create the artifacts directory {}",
                self.dir.display()
            )
        })
    }

    /// Saves each container's log as `logs/<service>.log`, with timestamps,
    /// and, in copy mode, copies the test container's `ARTIFACTS_DIR` out.
    /// `test` is the test container's name and service, when it was created.
    /// Problems are warnings: the run's outcome stands.
    pub fn collect(
        &self,
        engine: &Engine,
        test: Option<(&str, &str)>,
        services: &[Container],
    ) -> Collection {
        let mut collection = Collection::default();
        let mut wanted: Vec<(String, String)> = services
            .iter()
            .map(|c| (c.service.clone(), c.id.clone()))
            .collect();
        if let Some((container, service)) = test {
            wanted.push((service.to_string(), container.to_string()));
        }
        let wanted = log_files(wanted);
        let logs_dir = self.dir.join(LOGS);
        if let Err(error) = self.prepare().and_then(|()| real_dir(&logs_dir)) {
            collection
                .warnings
                .push(format!("cannot save the logs: {error:#}"));
            return collection;
        }
        // The copy comes first, so that a log file of the same name that the
        // tests wrote cannot overwrite the one saved here.
        let copied = match (&self.strategy, test) {
            (Strategy::Copy, Some((container, _))) => Some(self.copy_out(engine, container)),
            _ => None,
        };
        let saved: Vec<Result<()>> = std::thread::scope(|scope| {
            let savers: Vec<_> = wanted
                .iter()
                .map(|(name, container)| {
                    let path = logs_dir.join(name);
                    scope.spawn(move || save_log(engine, container, &path))
                })
                .collect();
            savers
                .into_iter()
                .map(|saver| saver.join().expect("saving a log panicked"))
                .collect()
        });
        let mut logs = 0;
        for result in saved {
            match result {
                Ok(()) => logs += 1,
                Err(error) => collection.warnings.push(format!("{error:#}")),
            }
        }
        let files = match copied {
            Some(Ok(unpacked)) => {
                if !unpacked.skipped.is_empty() {
                    collection.warnings.push(format!(
                        "not copied, as artifacts come back as files and directories only: {}",
                        unpacked.skipped.join(", ")
                    ));
                }
                unpacked.files
            }
            Some(Err(error)) => {
                collection.warnings.push(format!("{error:#}"));
                0
            }
            None => count_files(&self.dir, &logs_dir),
        };
        collection.counts = Some((files, logs));
        collection
    }

    fn copy_out(&self, engine: &Engine, container: &str) -> Result<Unpacked> {
        let source = format!("{container}:{}/.", self.dir.display());
        engine
            .docker(["cp", &source, "-"])
            .stream(|tar| unpack(tar, &self.dir))
            .with_context(|| {
                format!(
                    "cannot copy the artifacts out of the test container into {}",
                    self.dir.display()
                )
            })
    }
}

/// `(service, container)` pairs to `(file name, container)`: `<service>.log`,
/// then `<service>-2.log` and on for a service with several containers.
fn log_files(containers: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for (service, container) in containers {
        let mut name = format!("{service}.log");
        let mut n = 2;
        while files.iter().any(|(taken, _)| *taken == name) {
            name = format!("{service}-{n}.log");
            n += 1;
        }
        files.push((name, container));
    }
    files
}

fn save_log(engine: &Engine, container: &str, path: &Path) -> Result<()> {
    let file = create_file(path)?;
    engine
        .docker(["logs", "--timestamps", container])
        .write_to(file)
        .with_context(|| format!("cannot save {}", path.display()))
}

/// Makes `path` a real directory: a symlink there, which the tests may have
/// planted, is removed rather than followed.
fn real_dir(path: &Path) -> Result<()> {
    if let Ok(meta) = path.symlink_metadata() {
        if meta.is_dir() {
            return Ok(());
        }
        if !meta.file_type().is_symlink() {
            return Err(anyhow!("{} exists and is not a directory", path.display()));
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the symlink {}", path.display()))?;
    }
    std::fs::create_dir(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Creates or truncates a file without following a symlink in its place.
fn create_file(path: &Path) -> Result<File> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    };
    let file = match open() {
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            std::fs::remove_file(path)?;
            open()
        }
        other => other,
    };
    file.with_context(|| format!("cannot create {}", path.display()))
}

/// Regular files under `dir`, not counting `skip`, without following links.
fn count_files(dir: &Path, skip: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() && path != skip => count_files(&path, skip),
                Ok(kind) if kind.is_file() => 1,
                _ => 0,
            }
        })
        .sum()
}

/// What `unpack` wrote and what it left out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub files: usize,
    /// Links and special files, and paths that would leave the directory.
    pub skipped: Vec<String>,
}

/// Unpacks a tar stream of `docker cp` into `dir`, merging with what is
/// there. Only regular files and directories are written, owned by us, and
/// never outside `dir`: links are skipped rather than recreated, since a
/// link made by one entry could carry a later one out of the directory,
/// and tar's own check refuses a path whose parent resolves outside.
pub fn unpack(tar: &mut dyn Read, dir: &Path) -> Result<Unpacked> {
    let mut archive = tar::Archive::new(tar);
    let mut unpacked = Unpacked::default();
    for entry in archive.entries().context("cannot read the archive")? {
        let mut entry = entry.context("cannot read the archive")?;
        let path = entry.path().context("an archive entry has no path")?;
        let Some(relative) = inside(&path) else {
            unpacked.skipped.push(path.display().to_string());
            continue;
        };
        if relative.as_os_str().is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .ok()
                .flatten()
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            unpacked
                .skipped
                .push(format!("{} -> {target}", relative.display()));
            continue;
        }
        if !(kind.is_file() || kind.is_dir()) {
            unpacked.skipped.push(relative.display().to_string());
            continue;
        }
        let shown = relative.display().to_string();
        match entry.unpack_in(dir) {
            Ok(true) if kind.is_file() => unpacked.files += 1,
            Ok(true) => {}
            Ok(false) => unpacked.skipped.push(shown),
            // Such as a path through a symlink that was already there.
            Err(error) => unpacked.skipped.push(format!("{shown} ({error})")),
        }
    }
    Ok(unpacked)
}

/// The path without its leading `./`, or None if it has a root or `..`.
fn inside(path: &Path) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => relative.push(part),
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "/builds/group/app/build/api_tests";
    const JOB: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn mount(kind: &str, source: &str, destination: &str, rw: bool) -> Mount {
        Mount {
            kind: serde_json::from_value(kind.into()).unwrap(),
            source: source.into(),
            destination: destination.into(),
            rw,
        }
    }

    fn in_job(mounts: Vec<Mount>) -> Facts {
        Facts {
            remote: None,
            root: true,
            whereabouts: Whereabouts::Container {
                id: JOB.into(),
                image: "sha256:0c0ffee".into(),
                mounts,
            },
        }
    }

    fn auto(facts: &Facts) -> Artifacts {
        choose(ArtifactsMode::Auto, Path::new(DIR), facts).unwrap()
    }

    #[test]
    fn on_the_host_as_root_the_directory_is_bind_mounted() {
        let facts = Facts {
            remote: None,
            root: true,
            whereabouts: Whereabouts::Host,
        };
        let chosen = auto(&facts);
        assert_eq!(chosen.strategy, Strategy::Bind);
        assert_eq!(chosen.volume(), format!("{DIR}:{DIR}"));
    }

    #[test]
    fn not_as_root_files_are_copied_so_they_belong_to_us() {
        let facts = Facts {
            root: false,
            ..in_job(vec![mount(
                "volume",
                "/var/lib/docker/volumes/b/_data",
                "/builds",
                true,
            )])
        };
        let chosen = auto(&facts);
        assert_eq!(chosen.strategy, Strategy::Copy);
        assert!(chosen.reason.contains("uid"), "{}", chosen.reason);
    }

    #[test]
    fn a_remote_daemon_means_copy() {
        let facts = Facts {
            remote: Some("DOCKER_HOST=tcp://docker:2375".into()),
            root: true,
            whereabouts: Whereabouts::Host,
        };
        let chosen = auto(&facts);
        assert_eq!(chosen.strategy, Strategy::Copy);
        assert!(chosen.reason.contains("tcp://docker:2375"));
        assert_eq!(chosen.volume(), DIR);
    }

    #[test]
    fn a_container_the_daemon_does_not_know_means_copy() {
        let facts = Facts {
            whereabouts: Whereabouts::Elsewhere("container abc from mountinfo".into()),
            ..in_job(Vec::new())
        };
        let chosen = auto(&facts);
        assert_eq!(chosen.strategy, Strategy::Copy);
        assert!(chosen.reason.contains("Docker-in-Docker"));
    }

    #[test]
    fn in_a_job_container_the_mount_holding_the_directory_is_shared() {
        let facts = in_job(vec![
            mount("bind", "/var/run/docker.sock", "/var/run/docker.sock", true),
            mount(
                "volume",
                "/var/lib/docker/volumes/cache/_data",
                "/cache",
                true,
            ),
            mount(
                "volume",
                "/var/lib/docker/volumes/builds/_data",
                "/builds",
                true,
            ),
            mount("bind", "/srv/app", "/builds/group/app", true),
        ]);
        let chosen = auto(&facts);
        assert_eq!(
            chosen.strategy,
            Strategy::Share {
                container: JOB.into(),
                source: "/srv/app".into(),
                destination: "/builds/group/app".into(),
            }
        );
        assert_eq!(chosen.volume(), "/srv/app:/builds/group/app");
        assert!(chosen.reason.contains("0123456789ab"), "{}", chosen.reason);
    }

    #[test]
    fn a_mount_is_matched_by_whole_path_components() {
        let facts = in_job(vec![mount("bind", "/srv/b", "/build", true)]);
        let chosen = choose(ArtifactsMode::Auto, Path::new("/builds/x"), &facts).unwrap();
        assert_eq!(chosen.strategy, Strategy::Copy);
    }

    #[test]
    fn a_directory_on_the_container_layer_is_copied_and_says_why() {
        let chosen = auto(&in_job(vec![mount(
            "bind",
            "/s",
            "/var/run/docker.sock",
            true,
        )]));
        assert_eq!(chosen.strategy, Strategy::Copy);
        assert!(
            chosen.reason.contains("own filesystem"),
            "{}",
            chosen.reason
        );
    }

    #[test]
    fn read_only_and_tmpfs_mounts_cannot_be_shared() {
        for (mounts, why) in [
            (
                vec![mount("volume", "/v/_data", "/builds", false)],
                "read-only",
            ),
            (vec![mount("tmpfs", "", "/builds", true)], "tmpfs"),
        ] {
            let chosen = auto(&in_job(mounts));
            assert_eq!(chosen.strategy, Strategy::Copy);
            assert!(chosen.reason.contains(why), "{}", chosen.reason);
        }
    }

    #[test]
    fn volumes_from_where_it_cannot_work_is_a_usage_error() {
        let facts = Facts {
            remote: None,
            root: true,
            whereabouts: Whereabouts::Host,
        };
        let failure = choose(ArtifactsMode::VolumesFrom, Path::new(DIR), &facts).unwrap_err();
        assert_eq!(failure.exit, crate::exit::Exit::Usage);
        assert!(failure.error.to_string().contains("not run in a container"));
    }

    #[test]
    fn explicit_modes_are_taken_as_given() {
        let facts = in_job(Vec::new());
        for (mode, strategy) in [
            (ArtifactsMode::Bind, Strategy::Bind),
            (ArtifactsMode::Copy, Strategy::Copy),
        ] {
            assert_eq!(
                choose(mode, Path::new(DIR), &facts).unwrap().strategy,
                strategy
            );
        }
    }

    #[test]
    fn services_with_several_containers_get_numbered_logs() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            log_files(pairs(&[
                ("db", "1"),
                ("web", "2"),
                ("web", "3"),
                ("tests", "4")
            ])),
            pairs(&[
                ("db.log", "1"),
                ("web.log", "2"),
                ("web-2.log", "3"),
                ("tests.log", "4")
            ])
        );
    }

    /// A tar stream like `docker cp` writes, with raw names so that hostile
    /// ones can be made.
    fn archive(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, content) in entries {
            let mut header = tar::Header::new_old();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_entry_type(*kind);
            header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_link_name(content).unwrap();
                header.set_size(0);
                header.set_cksum();
                builder.append(&header, std::io::empty()).unwrap();
            } else {
                header.set_size(content.len() as u64);
                header.set_cksum();
                builder.append(&header, content.as_bytes()).unwrap();
            }
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn unpack_merges_files_and_directories() {
        use tar::EntryType::{Directory, Regular};
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("old.txt"), "kept").unwrap();
        std::fs::write(tmp.path().join("a.txt"), "stale").unwrap();
        let tar = archive(&[
            ("./", Directory, ""),
            ("./a.txt", Regular, "new"),
            ("./reports/", Directory, ""),
            ("./reports/junit.xml", Regular, "<testsuite/>"),
        ]);
        let unpacked = unpack(&mut tar.as_slice(), tmp.path()).unwrap();
        assert_eq!(
            unpacked,
            Unpacked {
                files: 2,
                skipped: Vec::new()
            }
        );
        let read = |p: &str| std::fs::read_to_string(tmp.path().join(p)).unwrap();
        assert_eq!(read("old.txt"), "kept");
        assert_eq!(read("a.txt"), "new");
        assert_eq!(read("reports/junit.xml"), "<testsuite/>");
    }

    #[test]
    fn unpack_writes_nothing_outside_the_directory() {
        use tar::EntryType::{Link, Regular, Symlink};
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("artifacts");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // A link already in the directory, e.g. left by a bind-mounted run.
        std::os::unix::fs::symlink(&outside, dir.join("planted")).unwrap();
        let target = outside.to_str().unwrap();
        let tar = archive(&[
            ("./../escaped.txt", Regular, "x"),
            ("/abs.txt", Regular, "x"),
            ("./up", Symlink, ".."),
            ("./up/via-link.txt", Regular, "x"),
            ("./out", Symlink, target),
            ("./hard", Link, "/etc/passwd"),
            ("./planted/through.txt", Regular, "x"),
            ("./ok.txt", Regular, "fine"),
        ]);
        let unpacked = unpack(&mut tar.as_slice(), &dir).unwrap();
        assert_eq!(unpacked.files, 2, "{unpacked:?}");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        assert!(!root.path().join("escaped.txt").exists());
        // The link was skipped, so `up/via-link.txt` landed in a real `up/`.
        assert!(dir.join("up").symlink_metadata().unwrap().is_dir());
        assert!(!dir.join("out").exists() && !dir.join("hard").exists());
        let skipped = unpacked.skipped.join("; ");
        for name in [
            "escaped.txt",
            "abs.txt",
            "up -> ..",
            "out -> ",
            "hard -> ",
            "planted/through.txt",
        ] {
            assert!(skipped.contains(name), "{name} not in {skipped}");
        }
    }

    #[test]
    fn logs_replace_symlinks_instead_of_following_them() {
        let root = tempfile::tempdir().unwrap();
        let outside = root.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("victim"), "untouched").unwrap();
        let logs = root.path().join("logs");
        std::os::unix::fs::symlink(&outside, &logs).unwrap();
        real_dir(&logs).unwrap();
        assert!(logs.symlink_metadata().unwrap().is_dir());
        let file = logs.join("db.log");
        std::os::unix::fs::symlink(outside.join("victim"), &file).unwrap();
        std::io::Write::write_all(&mut create_file(&file).unwrap(), b"log").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "log");
        assert_eq!(
            std::fs::read_to_string(outside.join("victim")).unwrap(),
            "untouched"
        );
    }

    #[test]
    fn count_files_leaves_out_the_logs_and_links() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("logs")).unwrap();
        std::fs::create_dir_all(tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("logs/db.log"), "").unwrap();
        std::fs::write(tmp.path().join("d/a"), "").unwrap();
        std::fs::write(tmp.path().join("b"), "").unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join("etc")).unwrap();
        assert_eq!(count_files(tmp.path(), &tmp.path().join("logs")), 2);
    }
}
