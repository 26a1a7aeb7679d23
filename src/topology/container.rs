//! Which container testbed itself runs in: the candidate ids that
//! `/proc`, the environment and the user offer, parsed from text, then
//! confirmed with the engine (`docker inspect`, `docker ps`).

use std::fmt;

use crate::engine::Docker;

/// Where the kernel tells a process its mounts.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";
/// Where the kernel tells a process its cgroups.
pub const CGROUP: &str = "/proc/self/cgroup";
/// PID 1's cpuset cgroup, as one path: a second opinion for when testbed runs
/// in a cgroup of its own, apart from the container's first process.
pub const CPUSET: &str = "/proc/1/cpuset";

/// Where Docker and Podman bind-mount the files they write for each
/// container, in the order they are asked. Kubernetes mounts other things
/// there (the kubelet's hosts, the pod sandbox's hostname), which
/// `id_in_runtime_path` turns down.
const RUNTIME_FILES: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

/// A full container id: 64 lowercase hex digits, as Docker and Podman print
/// them and as they appear in `/proc`.
pub fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A short id, such as the 12-digit one Docker and Podman use as the default
/// hostname. A hostname that is not hex is a name we must not pass to
/// `docker inspect`: it could be the name of some other container.
fn is_short_id(s: &str) -> bool {
    (12..=64).contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The id of the container whose `/proc/self/mountinfo` this is.
///
/// Docker and Podman bind-mount a per-container `hostname`, `hosts` and
/// `resolv.conf` over /etc, from their per-container directory. The mount
/// root (4th field) of those lines is that file's path in its filesystem,
/// which names the id on cgroup v1 and v2 and whatever the cgroup namespace.
/// Other mounts are ignored: the root filesystem's overlay layers, volumes
/// (anonymous ones are named with 64 hex too) and cgroup mounts all carry
/// 64-hex strings that are not this container's id.
pub fn id_from_mountinfo(text: &str) -> Option<String> {
    // Mounts stacked on one point shadow each other; the last one listed is
    // the one the process sees.
    let mut roots: [Option<&str>; 3] = [None; 3];
    for line in text.lines() {
        let mut fields = line.split(' ');
        let (Some(root), Some(point)) = (fields.nth(3), fields.next()) else {
            continue;
        };
        if let Some(i) = RUNTIME_FILES.iter().position(|f| *f == point) {
            roots[i] = Some(root);
        }
    }
    roots.into_iter().flatten().find_map(id_in_runtime_path)
}

/// The id in a runtime's per-container file path, read from its end so it
/// holds wherever the runtime's data root lies and whatever filesystem it is
/// on (the mount root is relative to that filesystem, e.g. `/containers/…`
/// when /var/lib/docker is a mount of its own):
/// - Docker, rootful or rootless: `…/containers/<id>/hostname`;
/// - Podman (containers/storage): `…/<driver>-containers/<id>/userdata/hostname`,
///   e.g. `overlay-containers` or, rootless on vfs, `vfs-containers`.
fn id_in_runtime_path(path: &str) -> Option<String> {
    let mut parts = path.rsplit('/');
    let file = parts.next()?;
    if !matches!(file, "hostname" | "hosts" | "resolv.conf") {
        return None;
    }
    let mut id = parts.next()?;
    let podman = id == "userdata";
    if podman {
        id = parts.next()?;
    }
    let store = parts.next()?;
    let ours = if podman {
        store.ends_with("-containers")
    } else {
        store == "containers"
    };
    (ours && is_container_id(id)).then(|| id.to_owned())
}

/// The id of the container whose `/proc/self/cgroup` (or `/proc/1/cpuset`,
/// a single path) this is.
///
/// Runtimes name the container's cgroup after its id: `/docker/<id>`,
/// `/system.slice/docker-<id>.scope` (systemd driver),
/// `/libpod_parent/libpod-<id>` and `/machine.slice/libpod-<id>.scope/container`
/// (Podman), `/kubepods/<qos>/pod<uid>/<id>` and `…/cri-containerd-<id>.scope`
/// (Kubernetes). With a private cgroup namespace, the default on cgroup v2,
/// the path is `/` and tells nothing: then this is None, and the mountinfo
/// is the one to ask.
pub fn id_from_cgroup(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        // `hierarchy:controllers:path` in /proc/*/cgroup; a bare path in cpuset.
        let path = if line.starts_with('/') {
            line
        } else {
            line.splitn(3, ':').nth(2)?
        };
        id_in_cgroup_path(path)
    })
}

/// The innermost id in a cgroup path: in Docker-in-Docker the path is
/// `/docker/<outer>/docker/<inner>`, and the inner daemon is the one that
/// knows us.
fn id_in_cgroup_path(path: &str) -> Option<String> {
    path.rsplit('/').find_map(|part| {
        let name = part.strip_suffix(".scope").unwrap_or(part);
        let id = name.rsplit_once('-').map_or(name, |(_, id)| id);
        is_container_id(id).then(|| id.to_owned())
    })
}

/// Where a candidate came from, for `-v` lines such as
/// "container id from /proc/self/mountinfo".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Given by the user; holds how, such as a flag or a variable name.
    Explicit(String),
    /// The labels GitLab's docker executor puts on a job's build container.
    GitLabJob,
    Mountinfo,
    Cgroup,
    Cpuset,
    /// The `HOSTNAME` variable, which is a short id unless `--hostname` was given.
    Hostname,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Explicit(how) => f.write_str(how),
            Source::GitLabJob => f.write_str("the GitLab job's labels"),
            Source::Mountinfo => f.write_str(MOUNTINFO),
            Source::Cgroup => f.write_str(CGROUP),
            Source::Cpuset => f.write_str(CPUSET),
            Source::Hostname => f.write_str("HOSTNAME"),
        }
    }
}

/// How the engine can confirm a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// An id, id prefix or name: `docker inspect <it>`.
    Container(String),
    /// Labels that exactly one container carries:
    /// `docker ps -q --no-trunc --filter label=<k>=<v> …`.
    Labels(Vec<(String, String)>),
}

/// One guess at the container testbed runs in, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub lookup: Lookup,
    pub source: Source,
}

impl Candidate {
    /// A container the user named (an id, id prefix or name), with how they
    /// named it, e.g. `Candidate::explicit(value, "TESTBED_CONTAINER")`.
    pub fn explicit(container: impl Into<String>, how: impl Into<String>) -> Candidate {
        Candidate {
            lookup: Lookup::Container(container.into()),
            source: Source::Explicit(how.into()),
        }
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.lookup {
            Lookup::Container(c) => write!(f, "container {c} from {}", self.source),
            Lookup::Labels(labels) => {
                f.write_str("the container labelled ")?;
                for (i, (k, v)) in labels.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{k}={v}")?;
                }
                write!(f, " from {}", self.source)
            }
        }
    }
}

/// The texts of the `/proc` files that name our container; None for a file
/// that could not be read (not Linux, or a hardened /proc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcFiles {
    pub mountinfo: Option<String>,
    pub cgroup: Option<String>,
    pub cpuset: Option<String>,
}

impl ProcFiles {
    /// Reads this process's files. A file that is missing is simply no
    /// evidence, so errors become None.
    pub fn read() -> ProcFiles {
        let read = |path| std::fs::read_to_string(path).ok();
        ProcFiles {
            mountinfo: read(MOUNTINFO),
            cgroup: read(CGROUP),
            cpuset: read(CPUSET),
        }
    }
}

/// The candidates for the container testbed runs in, best first, for the
/// caller to confirm one by one with the engine. Each id appears once, under
/// the first source that offered it.
///
/// A container the user named is the only candidate: if it is wrong, that
/// is an error to report, not a reason to guess. Otherwise the order is:
/// the GitLab job's build container (when `GITLAB_CI` is `true`), mountinfo,
/// cgroup, cpuset, then `HOSTNAME` if it looks like a short id.
/// `env` looks up a variable, like `|name| std::env::var(name).ok()`.
pub fn candidates_from(
    explicit: Option<Candidate>,
    proc: &ProcFiles,
    env: impl Fn(&str) -> Option<String>,
) -> Vec<Candidate> {
    if let Some(explicit) = explicit {
        return vec![explicit];
    }
    let mut found = Vec::new();
    let gitlab_job = match env("GITLAB_CI").as_deref() {
        Some("true") => env("CI_JOB_ID").filter(|job| !job.is_empty()),
        _ => None,
    };
    if let Some(job) = gitlab_job {
        // Service containers of the job carry the job id too; only the
        // build container has type=build.
        found.push(Candidate {
            lookup: Lookup::Labels(vec![
                ("com.gitlab.gitlab-runner.job.id".into(), job),
                ("com.gitlab.gitlab-runner.type".into(), "build".into()),
            ]),
            source: Source::GitLabJob,
        });
    }
    let parse = |text: &Option<String>, parser: fn(&str) -> Option<String>| {
        text.as_deref().and_then(parser)
    };
    let parsed = [
        (Source::Mountinfo, parse(&proc.mountinfo, id_from_mountinfo)),
        (Source::Cgroup, parse(&proc.cgroup, id_from_cgroup)),
        (Source::Cpuset, parse(&proc.cpuset, id_from_cgroup)),
    ];
    let mut ids: Vec<String> = Vec::new();
    for (source, id) in parsed {
        if let Some(id) = id.filter(|id| !ids.contains(id)) {
            ids.push(id.clone());
            found.push(Candidate {
                lookup: Lookup::Container(id),
                source,
            });
        }
    }
    let hostname = env("HOSTNAME")
        .filter(|h| is_short_id(h) && !ids.iter().any(|id| id.starts_with(h.as_str())));
    if let Some(host) = hostname {
        found.push(Candidate {
            lookup: Lookup::Container(host),
            source: Source::Hostname,
        });
    }
    found
}

/// Confirms the candidates one by one with the daemon we talk to, and
/// returns the first it knows, with its full id. A candidate the daemon does
/// not know is no error: the daemon is another one (DinD, remote), and
/// files must then be copied rather than shared.
pub fn confirm(docker: &Docker, candidates: &[Candidate]) -> Option<(String, Candidate)> {
    candidates.iter().find_map(|candidate| {
        let cmd = match &candidate.lookup {
            Lookup::Container(container) => docker.cmd([
                "inspect",
                "--type",
                "container",
                "--format",
                "{{.Id}}",
                container,
            ]),
            Lookup::Labels(labels) => {
                let mut cmd = docker.cmd(["ps", "-q", "--no-trunc"]);
                for (key, value) in labels {
                    cmd = cmd.args(["--filter", &format!("label={key}={value}")]);
                }
                cmd
            }
        };
        let id = cmd.read().ok()?;
        let id = id.split_whitespace().next()?.to_string();
        is_container_id(&id).then(|| (id, candidate.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // fixtures/proc/<case>/ holds real captures, except the `*-synthetic`
    // cases; each SOURCE file says how it was made. capture.sh redoes one.
    macro_rules! fixture {
        ($case:literal, $file:literal) => {
            include_str!(concat!("../../fixtures/proc/", $case, "/", $file))
        };
    }

    macro_rules! proc_files {
        ($case:literal) => {
            ProcFiles {
                mountinfo: Some(fixture!($case, "mountinfo").to_owned()),
                cgroup: Some(fixture!($case, "cgroup").to_owned()),
                cpuset: Some(fixture!($case, "cpuset").to_owned()),
            }
        };
    }

    /// The id the engine reported when the case was captured.
    macro_rules! recorded_id {
        ($case:literal) => {
            fixture!($case, "id").trim_end().to_owned()
        };
    }

    /// What mountinfo, cgroup and cpuset each say.
    fn parse(files: &ProcFiles) -> [Option<String>; 3] {
        let text = |file: &Option<String>| file.clone().unwrap_or_default();
        [
            id_from_mountinfo(&text(&files.mountinfo)),
            id_from_cgroup(&text(&files.cgroup)),
            id_from_cgroup(&text(&files.cpuset)),
        ]
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    const ID: &str = "41bf1fb54cc0fe3feb8d2a9efa772af2a57b179f64ad230785a2475866945683";
    const OTHER: &str = "533d0a37dd3641ee8a36332cb94d9451d678e7476fd471323e4c5bb76ceebc76";

    fn some(id: &str) -> Option<String> {
        Some(id.to_owned())
    }

    fn line(root: &str, point: &str) -> String {
        format!("86 69 254:0 {root} {point} rw,relatime - ext4 /dev/vda rw\n")
    }

    #[test]
    fn container_ids_are_64_lowercase_hex_digits() {
        assert!(is_container_id(ID));
        assert!(!is_container_id(&ID.to_uppercase()));
        assert!(!is_container_id(&ID[1..]));
        assert!(!is_container_id(&format!("{ID}0")));
        assert!(!is_container_id(&ID.replace('f', "g")));
        assert!(!is_container_id(""));
    }

    #[test]
    fn docker_on_cgroup_v1_names_the_container_in_every_file() {
        let files = proc_files!("docker-v1");
        let id = Some(recorded_id!("docker-v1"));
        assert_eq!(parse(&files), [id.clone(), id.clone(), id]);
        // The hostname is the user's, the bind mount is still Docker's.
        let files = proc_files!("docker-v1-hostname");
        let id = Some(recorded_id!("docker-v1-hostname"));
        assert_eq!(parse(&files), [id.clone(), id.clone(), id]);
    }

    #[test]
    fn a_gitlab_job_container_is_not_mistaken_for_its_volumes() {
        // /builds and /cache are anonymous volumes, named with 64 hex digits.
        let files = proc_files!("docker-v1-gitlab-job");
        let id = Some(recorded_id!("docker-v1-gitlab-job"));
        assert_eq!(parse(&files), [id.clone(), id.clone(), id]);
    }

    #[test]
    fn a_private_cgroup_namespace_leaves_only_mountinfo() {
        let files = proc_files!("docker-v1-cgroupns-private");
        let id = Some(recorded_id!("docker-v1-cgroupns-private"));
        assert_eq!(parse(&files), [id, None, None]);
        // The default on cgroup v2 hosts.
        let files = proc_files!("docker-v2-synthetic");
        let id = Some(recorded_id!("docker-v2-synthetic"));
        assert_eq!(parse(&files), [id, None, None]);
    }

    #[test]
    fn rootless_engines_are_found_through_mountinfo() {
        // Rootless on cgroup v1 gets no cgroup of its own: the cgroup files
        // show the user's, so only mountinfo knows the container.
        let files = proc_files!("docker-rootless-v1");
        let id = Some(recorded_id!("docker-rootless-v1"));
        assert_eq!(parse(&files), [id, None, None]);
        let files = proc_files!("podman-rootless-v1");
        let id = Some(recorded_id!("podman-rootless-v1"));
        assert_eq!(parse(&files), [id, None, None]);
    }

    #[test]
    fn podman_is_found_through_its_userdata_and_libpod_cgroup() {
        let files = proc_files!("podman-root-v1");
        let id = Some(recorded_id!("podman-root-v1"));
        assert_eq!(parse(&files), [id.clone(), id.clone(), id]);
    }

    #[test]
    fn a_host_has_no_container_id() {
        // host-v1 is this machine with a container running (its
        // fuse-overlayfs mount shows); host-v2 shows a container's overlay2,
        // shm and netns mounts, and a systemd scope in a user slice.
        assert_eq!(parse(&proc_files!("host-v1")), [None, None, None]);
        assert_eq!(parse(&proc_files!("host-v2-synthetic")), [None, None, None]);
    }

    #[test]
    fn the_systemd_cgroup_driver_names_a_docker_scope() {
        let id = Some(recorded_id!("docker-v1-systemd-synthetic"));
        let cgroup = fixture!("docker-v1-systemd-synthetic", "cgroup");
        let cpuset = fixture!("docker-v1-systemd-synthetic", "cpuset");
        assert_eq!(id_from_cgroup(cgroup), id);
        assert_eq!(id_from_cgroup(cpuset), id);
    }

    #[test]
    fn kubernetes_is_found_by_cgroup_and_not_by_its_sandbox_mounts() {
        let files = proc_files!("kubepods-v1-synthetic");
        let id = Some(recorded_id!("kubepods-v1-synthetic"));
        assert_eq!(parse(&files), [None, id.clone(), id]);
    }

    #[test]
    fn mountinfo_takes_the_id_only_from_a_runtime_file_over_etc() {
        let docker = format!("/var/lib/docker/containers/{ID}/hostname");
        assert_eq!(id_from_mountinfo(&line(&docker, "/etc/hostname")), some(ID));
        // The same path mounted anywhere else is not ours.
        assert_eq!(id_from_mountinfo(&line(&docker, "/mnt/hostname")), None);
        // A data root on a filesystem of its own: roots are relative to it.
        let own_fs = format!("/containers/{ID}/hosts");
        assert_eq!(id_from_mountinfo(&line(&own_fs, "/etc/hosts")), some(ID));
        // Podman's runroot is a tmpfs at /run on most hosts.
        let podman = format!("/containers/storage/overlay-containers/{ID}/userdata/resolv.conf");
        assert_eq!(
            id_from_mountinfo(&line(&podman, "/etc/resolv.conf")),
            some(ID)
        );
    }

    #[test]
    fn mountinfo_is_not_fooled_by_other_hex_paths() {
        for root in [
            format!("/var/lib/docker/overlay2/{ID}/diff/etc/hostname"),
            format!("/var/lib/docker/image/overlay2/layerdb/sha256/{ID}/hostname"),
            format!("/var/lib/docker/volumes/{ID}/_data/hosts"),
            format!("/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{ID}/hostname"),
            format!("/var/lib/docker/containers/{ID}/userdata/hostname"),
            format!("/var/lib/docker/containers/{ID}/mounts/hostname"),
            format!("/srv/containers/{}/hostname", ID.to_uppercase()),
            format!("/var/lib/docker/containers/{ID}/config.v2.json"),
            "/home/me/hosts".to_owned(),
        ] {
            assert_eq!(
                id_from_mountinfo(&line(&root, "/etc/hostname")),
                None,
                "{root}"
            );
        }
        assert_eq!(id_from_mountinfo(""), None);
        assert_eq!(id_from_mountinfo("garbage\n\n1 2 3\n"), None);
    }

    #[test]
    fn a_users_own_etc_hosts_does_not_hide_the_hostname_mount() {
        let text = line("/home/me/hosts", "/etc/hosts")
            + &line(
                &format!("/var/lib/docker/containers/{ID}/hostname"),
                "/etc/hostname",
            );
        assert_eq!(id_from_mountinfo(&text), some(ID));
    }

    #[test]
    fn the_last_of_stacked_mounts_is_the_visible_one() {
        let text = line(
            &format!("/var/lib/docker/containers/{OTHER}/hostname"),
            "/etc/hostname",
        ) + &line(
            &format!("/var/lib/docker/containers/{ID}/hostname"),
            "/etc/hostname",
        );
        assert_eq!(id_from_mountinfo(&text), some(ID));
    }

    #[test]
    fn cgroup_paths_of_each_runtime_name_the_id() {
        for text in [
            format!("0::/docker/{ID}\n"),
            format!("1:name=systemd:/system.slice/docker-{ID}.scope\n"),
            format!("0::/machine.slice/libpod-{ID}.scope/container\n"),
            format!("3:cpuset:/libpod_parent/libpod-{ID}\n"),
            format!(
                "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5b0b7a6e_3c2f_4d8e_9a51_2f6f0c7d9e11.slice/cri-containerd-{ID}.scope\n"
            ),
            format!("4:memory:/kubepods/besteffort/pod5b0b7a6e-3c2f-4d8e-9a51-2f6f0c7d9e11/{ID}\n"),
            format!("/docker/{ID}\n"),
            // Docker-in-Docker: the inner daemon is the one we talk to.
            format!("0::/docker/{OTHER}/docker/{ID}\n"),
            // Controllers not joined by the container come first sometimes.
            format!("2:rdma:/\n1:name=systemd:/docker/{ID}\n"),
        ] {
            assert_eq!(id_from_cgroup(&text), some(ID), "{text}");
        }
    }

    #[test]
    fn cgroup_paths_without_an_id_give_none() {
        for text in [
            "0::/\n",
            "/\n",
            "",
            "0::/system.slice/docker.service\n",
            "0::/user.slice/user-1000.slice/session-2.scope\n",
            "4:memory:/process_api/4e1ef6d56fc213b7bbb62031e49e1df6\n",
            "0::/../../..\n",
        ] {
            assert_eq!(id_from_cgroup(text), None, "{text}");
        }
    }

    fn container(id: &str, source: Source) -> Candidate {
        Candidate {
            lookup: Lookup::Container(id.to_owned()),
            source,
        }
    }

    #[test]
    fn a_named_container_is_the_only_candidate() {
        let named = Candidate::explicit("tests-1", "TESTBED_CONTAINER");
        let found = candidates_from(
            Some(named.clone()),
            &proc_files!("docker-v1"),
            env(&[("GITLAB_CI", "true"), ("CI_JOB_ID", "7")]),
        );
        assert_eq!(found, [named]);
    }

    #[test]
    fn each_id_is_offered_once_under_its_first_source() {
        let id = recorded_id!("docker-v1");
        let found = candidates_from(
            None,
            &proc_files!("docker-v1"),
            env(&[("HOSTNAME", &id[..12])]),
        );
        assert_eq!(found, [container(&id, Source::Mountinfo)]);
    }

    #[test]
    fn cgroup_and_hostname_are_asked_when_mountinfo_has_nothing() {
        let id = recorded_id!("kubepods-v1-synthetic");
        let files = proc_files!("kubepods-v1-synthetic");
        let found = candidates_from(None, &files, env(&[("HOSTNAME", "0a1b2c3d4e5f")]));
        assert_eq!(
            found,
            [
                container(&id, Source::Cgroup),
                container("0a1b2c3d4e5f", Source::Hostname),
            ]
        );
    }

    #[test]
    fn a_gitlab_job_is_looked_up_by_its_build_labels_first() {
        let files = proc_files!("docker-v1-gitlab-job");
        let id = recorded_id!("docker-v1-gitlab-job");
        let vars = [
            ("GITLAB_CI", "true"),
            ("CI_JOB_ID", "1234"),
            ("HOSTNAME", "runner-abcd1234-project-42-concurrent-0"),
        ];
        let found = candidates_from(None, &files, env(&vars));
        let labels = Candidate {
            lookup: Lookup::Labels(vec![
                ("com.gitlab.gitlab-runner.job.id".into(), "1234".into()),
                ("com.gitlab.gitlab-runner.type".into(), "build".into()),
            ]),
            source: Source::GitLabJob,
        };
        assert_eq!(found, [labels, container(&id, Source::Mountinfo)]);
        // Only in GitLab.
        let found = candidates_from(None, &files, env(&[("CI_JOB_ID", "1234")]));
        assert_eq!(found, [container(&id, Source::Mountinfo)]);
    }

    #[test]
    fn a_host_offers_no_candidates() {
        let found = candidates_from(None, &proc_files!("host-v1"), env(&[("HOSTNAME", "vm")]));
        assert!(found.is_empty());
        let found = candidates_from(None, &ProcFiles::default(), env(&[]));
        assert!(found.is_empty());
    }

    #[test]
    fn candidates_say_where_they_came_from() {
        assert_eq!(
            container(ID, Source::Mountinfo).to_string(),
            format!("container {ID} from /proc/self/mountinfo")
        );
        assert_eq!(
            Candidate::explicit("tests-1", "--container").to_string(),
            "container tests-1 from --container"
        );
        let labels = Candidate {
            lookup: Lookup::Labels(vec![("a".into(), "1".into()), ("b".into(), "2".into())]),
            source: Source::GitLabJob,
        };
        assert_eq!(
            labels.to_string(),
            "the container labelled a=1, b=2 from the GitLab job's labels"
        );
    }
}
