//! `testbed ls` and `testbed gc`: the stacks testbed created on the daemon,
//! found by their `testbed.run` label alone, whether their owner still
//! lives, and which of them may go; and the images testbed built, found by
//! their `testbed.image` label, which go once nothing uses them and their
//! TTL has passed. Compose projects and images without testbed's labels are
//! never looked at.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::engine::Docker;
use crate::engine::stack::{Leftovers, Missing};
use crate::events::{Events, Garbage, GcWould, ImageRow, RunEvent, StackRow, Trouble};
use crate::exit::{Exit, Failure};
use crate::labels::{self, Owner};

mod images;

use images::{gc_images, judge_images};

/// One container, network or volume that carries `testbed.run`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    id: String,
    /// A container's state (`running`, `exited`, `created`…); empty for
    /// networks and volumes.
    state: String,
    /// The value of each of `labels::ALL`, in its order; empty when unset.
    labels: Vec<String>,
}

impl Row {
    /// Parses one line of `--format` output: the id, the state when there
    /// is one, then each label, separated by tabs.
    fn parse(line: &str, with_state: bool) -> Option<Row> {
        let mut fields = line.split('\t');
        let id = fields.next().filter(|id| !id.is_empty())?.to_string();
        let state = if with_state {
            fields.next()?.to_string()
        } else {
            String::new()
        };
        let labels: Vec<String> = fields.map(str::to_string).collect();
        (labels.len() == labels::ALL.len()).then_some(Row { id, state, labels })
    }

    fn label(&self, key: &str) -> Option<&str> {
        let i = labels::ALL.iter().position(|k| *k == key)?;
        Some(self.labels[i].as_str()).filter(|v| !v.is_empty())
    }

    fn is_reaper(&self) -> bool {
        self.label(labels::ROLE) == Some("reaper")
    }
}

/// A stack on the daemon: everything that carries one `testbed.run` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub project: String,
    /// When it started, seconds since the epoch, if the label says.
    pub started: Option<u64>,
    pub ttl: Option<Duration>,
    /// The `testbed.owner` label as written.
    pub owner: String,
    pub container: Option<String>,
    pub pidns: Option<String>,
    pub keep: bool,
    containers: Vec<Row>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

impl Found {
    /// Groups rows by project. The run that created a stack speaks for it:
    /// the labels are the oldest member's (`test` adds a container to a
    /// stack that `up` created), its reaper's only when nothing else is
    /// left.
    fn group(containers: Vec<Row>, networks: Vec<Row>, volumes: Vec<Row>) -> Vec<Found> {
        #[derive(Default)]
        struct Members {
            containers: Vec<Row>,
            networks: Vec<Row>,
            volumes: Vec<Row>,
        }
        let mut stacks: BTreeMap<String, Members> = BTreeMap::new();
        let mut add = |rows: Vec<Row>, kind: fn(&mut Members) -> &mut Vec<Row>| {
            for row in rows {
                if let Some(project) = row.label(labels::RUN) {
                    kind(stacks.entry(project.to_string()).or_default()).push(row);
                }
            }
        };
        add(containers, |m| &mut m.containers);
        add(networks, |m| &mut m.networks);
        add(volumes, |m| &mut m.volumes);
        stacks
            .into_iter()
            .map(|(project, m)| {
                let started = |row: &&Row| {
                    row.label(labels::STARTED)
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(u64::MAX)
                };
                let described = m
                    .containers
                    .iter()
                    .filter(|c| !c.is_reaper())
                    .chain(&m.networks)
                    .chain(&m.volumes)
                    .min_by_key(started)
                    .or_else(|| m.containers.first())
                    .expect("a stack has at least one member")
                    .clone();
                let label = |key| described.label(key).map(str::to_string);
                Found {
                    started: label(labels::STARTED).and_then(|s| s.parse().ok()),
                    ttl: label(labels::TTL)
                        .and_then(|s| s.parse().ok())
                        .map(Duration::from_secs),
                    owner: label(labels::OWNER).unwrap_or_default(),
                    container: label(labels::CONTAINER),
                    pidns: label(labels::PIDNS),
                    keep: label(labels::KEEP).as_deref() == Some("true"),
                    project,
                    containers: m.containers,
                    networks: m.networks.into_iter().map(|r| r.id).collect(),
                    volumes: m.volumes.into_iter().map(|r| r.id).collect(),
                }
            })
            .collect()
    }

    /// "2 running, 1 exited" (its reaper not counted), or "no containers".
    pub fn state(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for container in self.containers.iter().filter(|c| !c.is_reaper()) {
            *counts.entry(container.state.as_str()).or_default() += 1;
        }
        if counts.is_empty() {
            return "no containers".into();
        }
        // running first, then the rest by name.
        let mut parts: Vec<String> = Vec::new();
        if let Some(n) = counts.remove("running") {
            parts.push(format!("{n} running"));
        }
        parts.extend(counts.iter().map(|(state, n)| format!("{n} {state}")));
        parts.join(", ")
    }

    fn reaper_runs(&self) -> bool {
        self.containers
            .iter()
            .any(|c| c.is_reaper() && c.state == "running")
    }

    fn leftovers(&self) -> Leftovers {
        Leftovers {
            containers: self.containers.iter().map(|c| c.id.clone()).collect(),
            networks: self.networks.clone(),
            volumes: self.volumes.clone(),
        }
    }
}

/// Every stack testbed labelled on the daemon behind `docker`.
pub fn find(docker: &Docker) -> Result<Vec<Found>> {
    let labels: Vec<String> = labels::ALL
        .iter()
        .map(|key| format!("{{{{.Label \"{key}\"}}}}"))
        .collect();
    let labels = labels.join("\t");
    let filter = format!("label={}", labels::RUN);
    let list = |what: &[&str], first: &str, with_state: bool| -> Result<Vec<Row>> {
        let format = format!("{first}\t{labels}");
        let out = docker
            .cmd(what.iter().copied())
            .args(["--filter", &filter, "--format", &format])
            .read()?;
        Ok(out
            .lines()
            .filter_map(|line| Row::parse(line, with_state))
            .collect())
    };
    let (containers, networks, volumes) = std::thread::scope(|scope| {
        let networks = scope.spawn(|| list(&["network", "ls"], "{{.Name}}", false));
        let volumes = scope.spawn(|| list(&["volume", "ls"], "{{.Name}}", false));
        let containers = list(&["ps", "-a", "--no-trunc"], "{{.ID}}\t{{.State}}", true);
        (
            containers,
            networks.join().expect("listing networks panicked"),
            volumes.join().expect("listing volumes panicked"),
        )
    });
    Ok(Found::group(containers?, networks?, volumes?))
}

/// Whether a stack's owner still runs, as far as can be told from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Alive(String),
    Gone(String),
    /// Not decidable from here: another host, a GitLab job that ran no
    /// container of this daemon.
    Unknown(String),
}

/// What `gc` looks at besides the labels.
pub struct World<'a> {
    pub now: u64,
    pub hostname: String,
    pub pidns: Option<String>,
    /// Full ids of the containers that run on the daemon.
    pub running: Vec<String>,
    /// When the process with this pid started (seconds since the epoch),
    /// None if there is none.
    pub process_start: &'a dyn Fn(u32) -> Option<u64>,
}

impl World<'_> {
    fn liveness(&self, stack: &Found) -> Liveness {
        if stack.reaper_runs() {
            return Liveness::Alive("its reaper runs".into());
        }
        if let Some(id) = &stack.container {
            let short = &id[..12.min(id.len())];
            return if self.running.iter().any(|r| r == id) {
                Liveness::Alive(format!("its owner's container {short} runs"))
            } else {
                Liveness::Gone(format!("its owner's container {short} is gone"))
            };
        }
        match Owner::parse(&stack.owner) {
            Some(Owner::Process { host, pid }) => {
                let here =
                    host == self.hostname && stack.pidns.is_some() && stack.pidns == self.pidns;
                if !here {
                    return Liveness::Unknown(format!(
                        "its owner {host}:{pid} is not on this host"
                    ));
                }
                match ((self.process_start)(pid), stack.started) {
                    (None, _) => Liveness::Gone(format!("its owner, process {pid}, is gone")),
                    // A process that started after the stack is another one
                    // that got the same pid.
                    (Some(start), Some(started)) if start > started + 1 => {
                        Liveness::Gone(format!("its owner, process {pid}, is gone"))
                    }
                    _ => Liveness::Alive(format!("its owner, process {pid}, runs")),
                }
            }
            Some(Owner::GitLabJob(job)) => Liveness::Unknown(format!(
                "its owner, GitLab job {job}, ran in no container of this daemon"
            )),
            None => Liveness::Unknown("it names no owner".into()),
        }
    }
}

/// What `gc` may remove besides the stacks whose owner is gone or whose TTL
/// passed.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Stacks older than this, whatever their owner and TTL.
    pub older_than: Option<Duration>,
    /// Every stack, live runs included.
    pub all: bool,
}

/// Whether `gc` removes a stack, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep(String),
    Remove(String),
}

impl Verdict {
    /// As `ls` shows it.
    fn would(&self) -> GcWould {
        match self {
            Verdict::Keep(why) => GcWould {
                removes: false,
                why: why.clone(),
            },
            Verdict::Remove(why) => GcWould {
                removes: true,
                why: why.clone(),
            },
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Keep(why) | Verdict::Remove(why) => f.write_str(why),
        }
    }
}

/// Decides what `gc` does with `stack`. A stack goes when `--all` says so,
/// when it is older than `--older-than`, when its TTL has passed, or when
/// its owner is gone, unless it was kept on purpose (`--keep`). An owner
/// that cannot be told alive or gone keeps it until its TTL.
pub fn verdict(stack: &Found, world: &World, policy: &Policy) -> Verdict {
    if policy.all {
        return Verdict::Remove("--all".into());
    }
    let age = stack.started.map(|s| world.now.saturating_sub(s));
    if let (Some(age), Some(limit)) = (age, policy.older_than) {
        if age >= limit.as_secs() {
            return Verdict::Remove(format!("older than {}", humantime::format_duration(limit)));
        }
    }
    if let (Some(age), Some(ttl)) = (age, stack.ttl) {
        if age >= ttl.as_secs() {
            return Verdict::Remove(format!(
                "its TTL of {} has passed",
                humantime::format_duration(ttl)
            ));
        }
    }
    if stack.keep {
        return Verdict::Keep("kept with --keep, until its TTL".into());
    }
    match world.liveness(stack) {
        Liveness::Gone(why) => Verdict::Remove(why),
        Liveness::Alive(why) => Verdict::Keep(why),
        Liveness::Unknown(why) => Verdict::Keep(format!("{why}: kept until its TTL")),
    }
}

/// The world as seen from here, with the daemon's running containers.
fn look_around(docker: &Docker) -> Result<(Vec<String>, u64)> {
    let running = docker.cmd(["ps", "-q", "--no-trunc"]).read()?;
    Ok((
        running.split_whitespace().map(str::to_string).collect(),
        labels::now(),
    ))
}

/// Every stack on the daemon, with what `gc` does with it under `policy`.
fn judge(docker: &Docker, policy: &Policy) -> Result<Vec<(Found, Verdict)>> {
    let stacks = find(docker)?;
    if stacks.is_empty() {
        return Ok(Vec::new());
    }
    let (running, now) = look_around(docker)?;
    let world = World {
        now,
        hostname: labels::hostname(),
        pidns: labels::pid_namespace(),
        running,
        process_start: &process_start,
    };
    Ok(stacks
        .into_iter()
        .map(|stack| {
            let verdict = verdict(&stack, &world, policy);
            (stack, verdict)
        })
        .collect())
}

/// `testbed ls`: one line per stack, then one per image, told `events`.
pub fn ls(docker: &Docker, events: &dyn Events) -> Result<Exit, Failure> {
    let judged = judge(docker, &Policy::default()).map_err(Failure::engine)?;
    let images = judge_images(docker, &Policy::default()).map_err(Failure::engine)?;
    let now = labels::now();
    let stacks: Vec<StackRow> = judged
        .iter()
        .map(|(stack, verdict)| StackRow {
            project: stack.project.clone(),
            age: stack.started.map(|s| now.saturating_sub(s)),
            owner: stack.owner.clone(),
            state: stack.state(),
            gc: verdict.would(),
        })
        .collect();
    let images: Vec<ImageRow> = images.iter().map(|(image, v)| image.row(v, now)).collect();
    events.emit(RunEvent::Listed {
        stacks: &stacks,
        images: &images,
    });
    Ok(Exit::Tests(0))
}

/// What `gc` looks at: with `-p`, those stacks; with `--image-prefix`,
/// those images; with neither, everything testbed created.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub projects: Vec<String>,
    pub image_prefixes: Vec<String>,
}

impl Selection {
    fn stacks(&self) -> bool {
        self.image_prefixes.is_empty() || !self.projects.is_empty()
    }

    fn images(&self) -> bool {
        self.projects.is_empty() || !self.image_prefixes.is_empty()
    }
}

/// `testbed gc`: removes what `verdict` and `image_verdict` say, and tells
/// `events`.
pub fn gc(
    docker: &Docker,
    policy: &Policy,
    selection: &Selection,
    dry_run: bool,
    events: &dyn Events,
) -> Result<Exit, Failure> {
    let mut failed = None;
    let (stacks_kept, stacks_removable) = if selection.stacks() {
        let projects = &selection.projects;
        gc_stacks(docker, policy, projects, dry_run, &mut failed, events)?
    } else {
        (0, 0)
    };
    let (images_kept, images_removable) = if selection.images() {
        gc_images(
            docker,
            policy,
            &selection.image_prefixes,
            dry_run,
            &mut failed,
            events,
        )?
    } else {
        (0, 0)
    };
    if stacks_removable + images_removable == 0 {
        events.emit(RunEvent::NothingToRemove {
            stacks: stacks_kept,
            images: images_kept,
        });
    }
    match failed {
        Some(error) => Err(Failure::engine(error)),
        None => Ok(Exit::Tests(0)),
    }
}

/// The stacks part of `gc`; returns how many stacks it kept and how many
/// it removed or would remove, and puts a failure to remove in `failed`.
fn gc_stacks(
    docker: &Docker,
    policy: &Policy,
    projects: &[String],
    dry_run: bool,
    failed: &mut Option<anyhow::Error>,
    events: &dyn Events,
) -> Result<(usize, usize), Failure> {
    let judged = judge(docker, policy).map_err(Failure::engine)?;
    let mut kept = 0;
    let mut removable = 0;
    for (stack, verdict) in judged {
        if !projects.is_empty() && !projects.contains(&stack.project) {
            continue;
        }
        let Verdict::Remove(why) = verdict else {
            kept += 1;
            events.emit(RunEvent::Keeping {
                garbage: Garbage::Stack(&stack.project),
                why: verdict.to_string(),
            });
            continue;
        };
        removable += 1;
        let mut leftovers = stack.leftovers();
        // Compose's volumes and networks are named after the project, and
        // one the daemon re-created for a late container has no labels.
        leftovers.add(Leftovers::of_project(docker, &stack.project).map_err(Failure::engine)?);
        let what = leftovers.to_string();
        let removed = |dry_run| {
            events.emit(RunEvent::Removed {
                garbage: Garbage::Stack(&stack.project),
                why: &why,
                what: Some(&what),
                dry_run,
            })
        };
        if dry_run {
            removed(true);
            continue;
        }
        match leftovers
            .remove(docker, Missing::Failure)
            .with_context(|| format!("cannot remove {}", stack.project))
        {
            Ok(()) => removed(false),
            Err(error) => {
                events.emit(RunEvent::Trouble(Trouble::Remove(&error)));
                *failed = Some(error);
            }
        }
    }
    Ok((kept, removable))
}

/// When the process `pid` started, from /proc; None if there is no such
/// process, or only its zombie.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let btime = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf(3) has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    start_from_stat(&stat, btime, u64::try_from(ticks).ok()?)
}

/// The start time in a `/proc/<pid>/stat` line, in seconds since the epoch:
/// its 22nd field counts clock ticks since boot. None for a zombie.
fn start_from_stat(stat: &str, btime: u64, ticks_per_second: u64) -> Option<u64> {
    // The command name, in parentheses, may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // Fields 4 to 21 come between the state (3) and the start time (22).
    let start_ticks: u64 = fields.nth(18)?.parse().ok()?;
    Some(btime + start_ticks / ticks_per_second.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use images::{FoundImage, image_verdict};

    const NOW: u64 = 1_700_010_000;
    const HOUR: u64 = 3600;

    fn row(id: &str, state: &str, pairs: &[(&str, &str)]) -> Row {
        Row {
            id: id.into(),
            state: state.into(),
            labels: labels::ALL
                .iter()
                .map(|key| {
                    pairs
                        .iter()
                        .find(|(k, _)| k == key)
                        .map_or(String::new(), |(_, v)| v.to_string())
                })
                .collect(),
        }
    }

    fn stack(owner: &str, started: u64) -> Found {
        let started = started.to_string();
        let pairs = [
            (labels::RUN, "tb-x"),
            (labels::STARTED, started.as_str()),
            (labels::OWNER, owner),
            (labels::TTL, "7200"),
            (labels::PIDNS, "4026531836"),
        ];
        Found::group(vec![row("c1", "running", &pairs)], vec![], vec![])
            .pop()
            .unwrap()
    }

    fn world<'a>(process_start: &'a dyn Fn(u32) -> Option<u64>) -> World<'a> {
        World {
            now: NOW,
            hostname: "ci-7".into(),
            pidns: Some("4026531836".into()),
            running: vec!["f".repeat(64)],
            process_start,
        }
    }

    fn removes(verdict: Verdict, why: &str) {
        assert_eq!(verdict, Verdict::Remove(why.into()));
    }

    fn keeps(verdict: Verdict, why: &str) {
        assert_eq!(verdict, Verdict::Keep(why.into()));
    }

    #[test]
    fn a_stack_whose_owner_process_is_gone_is_removed() {
        let none = |_| None;
        let started = NOW - 60;
        let stack = stack("ci-7:4242", started);
        removes(
            verdict(&stack, &world(&none), &Policy::default()),
            "its owner, process 4242, is gone",
        );
        // The pid now belongs to a process that started after the stack.
        let reused = move |_| Some(started + 30);
        removes(
            verdict(&stack, &world(&reused), &Policy::default()),
            "its owner, process 4242, is gone",
        );
        let alive = move |_| Some(started - 1);
        keeps(
            verdict(&stack, &world(&alive), &Policy::default()),
            "its owner, process 4242, runs",
        );
    }

    #[test]
    fn an_owner_on_another_host_or_pid_namespace_is_kept_until_its_ttl() {
        let none = |_| None;
        let other_host = stack("laptop:4242", NOW - 60);
        keeps(
            verdict(&other_host, &world(&none), &Policy::default()),
            "its owner laptop:4242 is not on this host: kept until its TTL",
        );
        let mut other_ns = stack("ci-7:4242", NOW - 60);
        other_ns.pidns = Some("4026532334".into());
        assert!(matches!(
            verdict(&other_ns, &world(&none), &Policy::default()),
            Verdict::Keep(_)
        ));
        let job = stack("gitlab-job:987", NOW - 60);
        keeps(
            verdict(&job, &world(&none), &Policy::default()),
            "its owner, GitLab job 987, ran in no container of this daemon: kept until its TTL",
        );
        removes(
            verdict(
                &job,
                &world(&none),
                &Policy {
                    older_than: Some(Duration::from_secs(30)),
                    all: false,
                },
            ),
            "older than 30s",
        );
    }

    #[test]
    fn the_owners_container_decides_when_there_is_one() {
        let alive = |_| Some(0);
        let mut stack = stack("gitlab-job:987", NOW - 60);
        stack.container = Some("f".repeat(64));
        keeps(
            verdict(&stack, &world(&alive), &Policy::default()),
            "its owner's container ffffffffffff runs",
        );
        stack.container = Some("e".repeat(64));
        removes(
            verdict(&stack, &world(&alive), &Policy::default()),
            "its owner's container eeeeeeeeeeee is gone",
        );
    }

    #[test]
    fn a_running_reaper_means_a_live_run() {
        let none = |_| None;
        let pairs = [
            (labels::RUN, "tb-x"),
            (labels::OWNER, "laptop:1"),
            (labels::ROLE, "reaper"),
        ];
        let stack = Found::group(vec![row("r", "running", &pairs)], vec![], vec![])
            .pop()
            .unwrap();
        keeps(
            verdict(&stack, &world(&none), &Policy::default()),
            "its reaper runs",
        );
    }

    #[test]
    fn the_ttl_and_older_than_remove_whatever_the_owner() {
        let alive = |_| Some(0);
        let old = stack("ci-7:4242", NOW - 2 * HOUR);
        removes(
            verdict(&old, &world(&alive), &Policy::default()),
            "its TTL of 2h has passed",
        );
        let young = stack("ci-7:4242", NOW - HOUR);
        let policy = Policy {
            older_than: Some(Duration::from_secs(HOUR)),
            all: false,
        };
        removes(verdict(&young, &world(&alive), &policy), "older than 1h");
        let policy = Policy {
            older_than: Some(Duration::from_secs(HOUR + 1)),
            all: false,
        };
        keeps(
            verdict(&young, &world(&alive), &policy),
            "its owner, process 4242, runs",
        );
        let all = Policy {
            older_than: None,
            all: true,
        };
        removes(verdict(&young, &world(&alive), &all), "--all");
    }

    #[test]
    fn a_kept_stack_outlives_its_owner_until_its_ttl() {
        let none = |_| None;
        let mut kept = stack("ci-7:4242", NOW - HOUR);
        kept.keep = true;
        keeps(
            verdict(&kept, &world(&none), &Policy::default()),
            "kept with --keep, until its TTL",
        );
        kept.started = Some(NOW - 3 * HOUR);
        removes(
            verdict(&kept, &world(&none), &Policy::default()),
            "its TTL of 2h has passed",
        );
    }

    #[test]
    fn a_stack_without_readable_labels_is_only_removed_by_all() {
        let none = |_| None;
        let pairs = [(labels::RUN, "tb-x")];
        let bare = Found::group(vec![], vec![row("n", "", &pairs)], vec![])
            .pop()
            .unwrap();
        keeps(
            verdict(
                &bare,
                &world(&none),
                &Policy {
                    older_than: Some(Duration::ZERO),
                    all: false,
                },
            ),
            "it names no owner: kept until its TTL",
        );
    }

    #[test]
    fn rows_group_into_stacks_with_their_state() {
        let a = [
            (labels::RUN, "tb-a"),
            (labels::OWNER, "ci-7:1"),
            (labels::STARTED, "100"),
        ];
        let reaper = [
            (labels::RUN, "tb-a"),
            (labels::OWNER, "reaper-host:9"),
            (labels::ROLE, "reaper"),
        ];
        let b = [(labels::RUN, "tb-b"), (labels::OWNER, "gitlab-job:5")];
        let stacks = Found::group(
            vec![
                row("r", "running", &reaper),
                row("c1", "running", &a),
                row("c2", "exited", &a),
                row("c3", "created", &a),
                row("c4", "running", &a),
            ],
            vec![row("n1", "", &a), row("n2", "", &b)],
            vec![row("v1", "", &b)],
        );
        assert_eq!(stacks.len(), 2);
        let (a, b) = (&stacks[0], &stacks[1]);
        assert_eq!(a.project, "tb-a");
        // The stack's own container speaks for it, not its reaper's.
        assert_eq!(a.owner, "ci-7:1");
        assert_eq!(a.started, Some(100));
        assert_eq!(a.state(), "2 running, 1 created, 1 exited");
        assert_eq!(
            a.leftovers(),
            Leftovers {
                containers: vec![
                    "r".into(),
                    "c1".into(),
                    "c2".into(),
                    "c3".into(),
                    "c4".into()
                ],
                networks: vec!["n1".into()],
                volumes: vec![],
            }
        );
        assert_eq!(b.owner, "gitlab-job:5");
        assert_eq!(b.state(), "no containers");
        assert_eq!(b.started, None);
    }

    #[test]
    fn the_run_that_created_a_stack_speaks_for_it() {
        let up = [
            (labels::RUN, "tb-a"),
            (labels::OWNER, "ci-7:1"),
            (labels::STARTED, "100"),
            (labels::KEEP, "true"),
        ];
        let test = [
            (labels::RUN, "tb-a"),
            (labels::OWNER, "ci-7:2"),
            (labels::STARTED, "200"),
        ];
        let stacks = Found::group(
            vec![row("t", "running", &test), row("u", "running", &up)],
            vec![row("n", "", &up)],
            vec![],
        );
        assert_eq!(stacks.len(), 1);
        assert_eq!(stacks[0].owner, "ci-7:1");
        assert_eq!(stacks[0].started, Some(100));
        assert!(stacks[0].keep);
    }

    fn image(tags: &[&str], touched: u64, in_use: bool) -> FoundImage {
        FoundImage {
            id: format!("sha256:{}", "ab".repeat(32)),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            name: "tb-api-tests".into(),
            touched: Some(touched),
            ttl: Some(Duration::from_secs(2 * HOUR)),
            in_use,
        }
    }

    #[test]
    fn an_image_goes_once_unused_past_its_ttl_and_never_while_used() {
        let latest = ["tb-api-tests:latest"];
        let policy = Policy::default();
        removes(
            image_verdict(&image(&latest, NOW - 3 * HOUR, false), NOW, &policy),
            "unused, and its TTL of 2h has passed",
        );
        keeps(
            image_verdict(&image(&latest, NOW - HOUR, false), NOW, &policy),
            "unused, within its TTL of 2h",
        );
        let all = Policy {
            older_than: None,
            all: true,
        };
        for policy in [&policy, &all] {
            keeps(
                image_verdict(&image(&latest, NOW - 3 * HOUR, true), NOW, policy),
                "a container uses it",
            );
        }
        removes(
            image_verdict(&image(&[], NOW - 60, false), NOW, &all),
            "--all",
        );
        let older = Policy {
            older_than: Some(Duration::from_secs(60)),
            all: false,
        };
        removes(
            image_verdict(&image(&latest, NOW - 60, false), NOW, &older),
            "older than 1m",
        );
        let mut unlabelled = image(&latest, NOW - 3 * HOUR, false);
        unlabelled.ttl = None;
        keeps(image_verdict(&unlabelled, NOW, &policy), "it has no TTL");
    }

    #[test]
    fn images_are_shown_by_their_tags_or_id_and_matched_by_prefix() {
        let tagged = image(
            &["tb-api-tests:latest", "tb-api-tests:tb-api-1-x"],
            NOW,
            false,
        );
        assert_eq!(
            tagged.shown(),
            "tb-api-tests:latest, tb-api-tests:tb-api-1-x"
        );
        assert_eq!(
            image(&[], NOW, false).shown(),
            "abababababab of tb-api-tests"
        );
        assert!(tagged.has_prefix(&["tb-api".into()]));
        assert!(!tagged.has_prefix(&["tb-ap".into(), "tb-api-tests".into()]));
        let row = tagged.row(&Verdict::Keep("a container uses it".into()), NOW + 60);
        assert_eq!(row.name, "tb-api-tests:latest, tb-api-tests:tb-api-1-x");
        assert_eq!((row.age, row.in_use), (Some(60), false));
    }

    #[test]
    fn gc_looks_at_what_its_filters_name() {
        let select = |projects: &[&str], prefixes: &[&str]| {
            let selection = Selection {
                projects: projects.iter().map(|p| p.to_string()).collect(),
                image_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            };
            (selection.stacks(), selection.images())
        };
        assert_eq!(select(&[], &[]), (true, true));
        assert_eq!(select(&["tb-x"], &[]), (true, false));
        assert_eq!(select(&[], &["tb-api"]), (false, true));
        assert_eq!(select(&["tb-x"], &["tb-api"]), (true, true));
    }

    #[test]
    fn format_lines_parse_into_rows() {
        let tabs = "\t".repeat(labels::ALL.len() - 1);
        let line = format!("abc\trunning\ttb-x{tabs}");
        let row = Row::parse(&line, true).unwrap();
        assert_eq!(row.state, "running");
        assert_eq!(row.label(labels::RUN), Some("tb-x"));
        assert_eq!(row.label(labels::OWNER), None);
        let line = format!("vol\ttb-x{tabs}");
        assert_eq!(Row::parse(&line, false).unwrap().id, "vol");
        assert_eq!(Row::parse("abc\trunning", true), None);
        assert_eq!(Row::parse("", false), None);
    }

    #[test]
    fn process_start_times_come_from_field_22() {
        // A command name with spaces and a parenthesis.
        let stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    12345 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            start_from_stat(stat, 1_700_000_000, 100),
            Some(1_700_000_123)
        );
        let zombie = stat.replace(") S ", ") Z ");
        assert_eq!(start_from_stat(&zombie, 1_700_000_000, 100), None);
        assert_eq!(start_from_stat("garbage", 0, 100), None);
        // This very process started before now.
        let me = process_start(std::process::id()).unwrap();
        assert!(me <= labels::now(), "{me}");
    }
}
