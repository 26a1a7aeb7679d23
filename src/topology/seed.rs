//! The stack's own files where the daemon cannot see them (testbed on its
//! container's own layer, Docker-in-Docker, a daemon over tcp or ssh, a
//! remote context): copied into a labelled volume of the run before
//! anything is created, bind-mounted from that volume's directory on the
//! daemon's host, and what the services wrote into read-write ones copied
//! back after the tests. Engine 20.10 (API 1.41) has no volume `subpath`;
//! a bind of a path inside the volume's mountpoint does the same, for a file
//! as for a directory, and services that mount one path share it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::engine::Docker;
use crate::topology::artifacts::{self, Unpacked};
use crate::topology::mounts::{Placed, Seen};

/// The image of the containers that carry files in and out of the volume:
/// imported from an empty archive, so nothing is pulled. Its containers
/// are created, never started.
pub const IMAGE: &str = "testbed-seed:empty";
/// Where those containers mount the volume.
const AT: &str = "/seed";

/// A path of testbed's filesystem that is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// Absolute, links resolved.
    pub path: PathBuf,
    pub dir: bool,
}

impl Root {
    /// Where it lies in the volume, relative to its top: the path without
    /// its leading `/`, so that sources that nest share their files.
    fn in_volume(&self) -> &Path {
        self.path.strip_prefix("/").unwrap_or(&self.path)
    }
}

/// The run's seeded files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeding {
    pub volume: String,
    /// The volume's directory on the daemon's host.
    pub mountpoint: PathBuf,
    /// What is copied in, none inside another.
    pub roots: Vec<Root>,
    /// What comes back after the tests: the read-write ones, none inside
    /// another.
    pub back: Vec<Root>,
}

/// `/p/config/app.conf, /p/data`.
pub fn listed(roots: &[Root]) -> String {
    let shown: Vec<String> = roots.iter().map(|r| r.path.display().to_string()).collect();
    shown.join(", ")
}

/// The volume of the run of `project`.
pub fn volume_name(project: &str) -> String {
    format!("{project}_testbed-seed")
}

/// Where the local volume driver keeps volume `name` under the daemon's
/// root directory (`docker info`'s `DockerRootDir`).
pub fn mountpoint(root: &Path, name: &str) -> PathBuf {
    root.join("volumes").join(name).join("_data")
}

/// Seeds every mount of `placed` the daemon cannot see: it becomes
/// `Seen::Seeded` at its path in the volume. None when there is none.
pub fn plan(placed: &mut [Placed], volume: &str, mountpoint: &Path) -> Option<Seeding> {
    let mut roots = Vec::new();
    let mut back = Vec::new();
    for placement in placed.iter_mut() {
        let Seen::Hidden(why) = &placement.seen else {
            continue;
        };
        let root = Root {
            path: placement.local.clone(),
            dir: placement.dir,
        };
        placement.seen = Seen::Seeded {
            at: mountpoint.join(root.in_volume()),
            why: why.clone(),
        };
        if !placement.bind.read_only {
            back.push(root.clone());
        }
        roots.push(root);
    }
    (!roots.is_empty()).then(|| Seeding {
        volume: volume.to_string(),
        mountpoint: mountpoint.to_path_buf(),
        roots: outermost(roots),
        back: outermost(back),
    })
}

/// The roots that lie in no other one, each once, sorted.
fn outermost(mut roots: Vec<Root>) -> Vec<Root> {
    roots.sort_by(|a, b| a.path.cmp(&b.path));
    let mut kept: Vec<Root> = Vec::new();
    for root in roots {
        let inside = kept
            .iter()
            .any(|k| root.path.starts_with(&k.path) && (k.dir || k.path == root.path));
        if !inside {
            kept.push(root);
        }
    }
    kept
}

impl Seeding {
    /// Creates the volume with `labels` (`--label k=v` pairs) and copies the
    /// roots into it, through a container `helper` that mounts it. Returns
    /// the number of files.
    pub fn fill(&self, docker: &Docker, labels: &[String], helper: &str) -> Result<usize> {
        ensure_image(docker)?;
        docker
            .cmd(["volume", "create"])
            .args(labels.iter().cloned())
            .arg(&self.volume)
            .read()?;
        let found = docker
            .cmd(["volume", "inspect", "--format", "{{.Mountpoint}}"])
            .arg(&self.volume)
            .read()?;
        if Path::new(found.trim()) != self.mountpoint {
            return Err(anyhow!(
                "the daemon keeps volume {} at {}, not at {}: seeding needs the local volume driver",
                self.volume,
                found.trim(),
                self.mountpoint.display()
            ));
        }
        let (archive, files) = archive(&self.roots)?;
        with_helper(docker, labels, helper, &self.volume, false, || {
            docker
                .cmd(["cp", "-", &format!("{helper}:{AT}")])
                .feed(archive)
        })
        .context("cannot copy the project's files into the volume")?;
        Ok(files)
    }

    /// Copies what the services wrote into the read-write roots back where
    /// testbed finds them, merging, as the artifacts are.
    pub fn bring_back(&self, docker: &Docker, labels: &[String], helper: &str) -> Result<Unpacked> {
        if self.back.is_empty() {
            return Ok(Unpacked::default());
        }
        with_helper(docker, labels, helper, &self.volume, true, || {
            let mut all = Unpacked::default();
            for root in &self.back {
                let inside = Path::new(AT).join(root.in_volume());
                let (source, into) = match root.path.parent() {
                    Some(parent) if !root.dir => (inside.display().to_string(), parent),
                    _ => (format!("{}/.", inside.display()), root.path.as_path()),
                };
                std::fs::create_dir_all(into)
                    .with_context(|| format!("cannot create {}", into.display()))?;
                let unpacked = docker
                    .cmd(["cp", &format!("{helper}:{source}"), "-"])
                    .stream(|tar| artifacts::unpack(tar, into))
                    .with_context(|| format!("cannot copy {} back", root.path.display()))?;
                all.files += unpacked.files;
                all.skipped.extend(unpacked.skipped);
            }
            Ok(all)
        })
    }
}

/// Runs `work` while a created container `helper` mounts `volume` at
/// `/seed`, and removes the container whatever came of it.
fn with_helper<T>(
    docker: &Docker,
    labels: &[String],
    helper: &str,
    volume: &str,
    read_only: bool,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let mode = if read_only { ":ro" } else { "" };
    let created = docker
        .cmd(["create", "--name", helper])
        .args(labels.iter().cloned())
        .args(["-v", &format!("{volume}:{AT}{mode}"), IMAGE, AT])
        .read();
    let result = created.and_then(|_| work());
    let removed = docker.cmd(["rm", "-f", helper]).read();
    let result = result?;
    removed?;
    Ok(result)
}

/// Imports the empty image, unless the daemon has it.
fn ensure_image(docker: &Docker) -> Result<()> {
    let inspect = docker.cmd(["image", "inspect", "--format", "{{.Id}}", IMAGE]);
    if inspect.output()?.status.success() {
        return Ok(());
    }
    let mut empty = tempfile::tempfile().context("cannot create an empty archive")?;
    // An archive with no entries: its two zero blocks.
    empty.write_all(&[0; 1024])?;
    empty.rewind()?;
    docker.cmd(["import", "-", IMAGE]).feed(empty)
}

/// A tar stream of `roots` at their paths in the volume, with the
/// directories above them, in a temporary file; and how many files it
/// holds. Links are kept as links, as a bind mount shows them.
fn archive(roots: &[Root]) -> Result<(File, usize)> {
    let file = tempfile::tempfile().context("cannot create the archive of the seeded files")?;
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    let mut above = BTreeSet::new();
    let mut files = 0;
    for root in roots {
        let inside = root.in_volume();
        let parents: Vec<&Path> = inside.ancestors().skip(1).collect();
        for parent in parents.into_iter().rev() {
            if !parent.as_os_str().is_empty() && above.insert(parent.to_path_buf()) {
                builder.append_dir(parent, Path::new("/").join(parent))?;
            }
        }
        let added = if root.dir {
            files += count(&root.path);
            builder.append_dir_all(inside, &root.path)
        } else {
            files += 1;
            builder.append_path_with_name(&root.path, inside)
        };
        added.with_context(|| format!("cannot read {}", root.path.display()))?;
    }
    let mut file = builder.into_inner()?;
    file.rewind()?;
    Ok((file, files))
}

/// The files under `dir`, links not followed.
fn count(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => count(&entry.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::mounts::{Bind, BindKind};

    fn placed(service: &str, local: &str, dir: bool, read_only: bool, seen: Seen) -> Placed {
        Placed {
            bind: Bind {
                service: service.into(),
                source: local.into(),
                target: format!("/in/{service}"),
                read_only,
                kind: BindKind::Volume,
            },
            local: local.into(),
            dir,
            seen,
        }
    }

    fn hidden() -> Seen {
        Seen::Hidden("it is on the own filesystem of testbed's container".into())
    }

    #[test]
    fn hidden_mounts_are_seeded_at_their_path_in_the_volume() {
        let mp = Path::new("/var/lib/docker/volumes/tb_testbed-seed/_data");
        let mut all = vec![
            placed("api", "/b/p/config/app.conf", false, true, hidden()),
            placed("api", "/b/p/data", true, true, hidden()),
            placed("worker", "/b/p/data", true, true, hidden()),
            placed("api", "/b/p/out", true, false, hidden()),
            placed("api", "/b/p/out/deep", true, false, hidden()),
            placed(
                "api",
                "/b/p/www",
                true,
                true,
                Seen::At("/v/_data/p/www".into()),
            ),
        ];
        let seeding = plan(&mut all, "tb_testbed-seed", mp).unwrap();
        assert_eq!(
            all[0].seen.daemon_path(),
            Some(mp.join("b/p/config/app.conf").as_path())
        );
        // Services that mount one directory mount one place.
        assert_eq!(all[1].seen.daemon_path(), all[2].seen.daemon_path());
        assert_eq!(all[5].seen, Seen::At("/v/_data/p/www".into()));
        let paths = |roots: &[Root]| -> Vec<String> {
            roots.iter().map(|r| r.path.display().to_string()).collect()
        };
        // A nested mount is copied with the one around it.
        assert_eq!(
            paths(&seeding.roots),
            ["/b/p/config/app.conf", "/b/p/data", "/b/p/out"]
        );
        // Nothing comes back from a read-only mount.
        assert_eq!(paths(&seeding.back), ["/b/p/out"]);
    }

    #[test]
    fn nothing_hidden_means_no_seeding() {
        let mut all = vec![placed("api", "/b/p/www", true, true, Seen::AsIs)];
        assert_eq!(plan(&mut all, "v", Path::new("/m")), None);
    }

    #[test]
    fn a_file_named_like_a_directory_prefix_is_its_own_root() {
        let roots = outermost(vec![
            Root {
                path: "/p/data".into(),
                dir: false,
            },
            Root {
                path: "/p/data.d/x".into(),
                dir: false,
            },
            Root {
                path: "/p/data".into(),
                dir: false,
            },
        ]);
        assert_eq!(roots.len(), 2, "{roots:?}");
    }

    #[test]
    fn the_archive_holds_the_roots_and_the_directories_above_them() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(top.join("data/sub")).unwrap();
        std::fs::write(top.join("data/sub/a.txt"), "a").unwrap();
        std::fs::write(top.join("app.conf"), "conf").unwrap();
        std::os::unix::fs::symlink("sub/a.txt", top.join("data/link")).unwrap();
        let roots = [
            Root {
                path: top.join("app.conf"),
                dir: false,
            },
            Root {
                path: top.join("data"),
                dir: true,
            },
        ];
        let (file, files) = archive(&roots).unwrap();
        assert_eq!(files, 3);
        let mut names: Vec<String> = tar::Archive::new(file)
            .entries()
            .unwrap()
            .map(|e| {
                let name = e.unwrap().path().unwrap().display().to_string();
                name.trim_end_matches('/').to_string()
            })
            .collect();
        names.sort();
        let inside = top.strip_prefix("/").unwrap().display().to_string();
        for name in ["app.conf", "data", "data/link", "data/sub/a.txt"] {
            assert!(
                names.contains(&format!("{inside}/{name}")),
                "{name}: {names:?}"
            );
        }
        // Each directory above, from the top.
        let first = top.components().nth(1).unwrap().as_os_str();
        assert!(
            names.contains(&first.to_string_lossy().into_owned()),
            "{names:?}"
        );
    }
}
