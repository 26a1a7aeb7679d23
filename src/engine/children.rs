//! The children a thread started and has not reaped, and how to end them
//! for good: a killed child's whole process group, or its descendants, and
//! nothing returns before they are gone. The teardown sweeps only then.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// How long a killed child's processes may take to be gone. SIGKILL is not
/// caught, but a process in an uninterruptible sleep only dies when it
/// wakes; past this, testbed goes on without it.
const GONE_TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    /// The children this thread started with [`Cmd::spawn_captured`] and
    /// its siblings and has not reaped yet, so that [`stop_children`] can
    /// end them all. Per thread, as a run starts and waits for its commands
    /// on one thread, and runs side by side (`--shards`) on others: one
    /// run's teardown must not touch another's commands. A command run to
    /// completion ([`Cmd::output`] and the like) is waited for by the call
    /// that starts it, and needs no entry.
    static CHILDREN: RefCell<Vec<Tracked>> = const { RefCell::new(Vec::new()) };

    /// When the last child of this thread that creates on the engine was
    /// gone after a kill, if one was: a request it had sent may still be
    /// creating on the daemon.
    static UNSETTLED: Cell<Option<Instant>> = const { Cell::new(None) };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tracked {
    pub pid: libc::pid_t,
    /// Its own process group, when it has one.
    pub group: Option<libc::pid_t>,
    pub creates: bool,
    /// It creates, and a non-zero exit is its own failure rather than its
    /// payload's: what it had sent may still land after it exited.
    pub failure_unsettles: bool,
}

/// Remembers a child this thread started, until it is reaped.
pub(super) fn track(tracked: Tracked) {
    CHILDREN.with_borrow_mut(|children| children.push(tracked));
}

/// Forgets a child once it is reaped.
pub(super) fn untrack(tracked: Tracked) {
    CHILDREN.with_borrow_mut(|children| children.retain(|t| *t != tracked));
}

/// Kills every child of this thread that is still running, each with its
/// process group (or, in testbed's own group, with its descendants), and
/// waits until their processes are gone. Returns when the last child that
/// creates on the engine was gone after a kill or a failure of its own, now
/// or earlier in the run: until
/// the daemon has finished what such a child had asked for, a container,
/// network or volume may still appear.
pub fn stop_children() -> Option<Instant> {
    for tracked in CHILDREN.take() {
        end(tracked);
    }
    UNSETTLED.get()
}

/// Kills the processes of a tracked child and waits until they are gone;
/// its reaping is left to its handle.
pub(super) fn end(tracked: Tracked) {
    let before = processes();
    let members: Vec<libc::pid_t> = match tracked.group {
        Some(group) => before
            .iter()
            .filter(|p| p.group == group)
            .map(|p| p.pid)
            .collect(),
        // The `docker` CLI runs compose v2 as a child of its own: once the
        // CLI is gone, nothing links that child to testbed any more.
        None => descendants(&before, tracked.pid),
    };
    if !before.iter().any(|p| p.alive && members.contains(&p.pid)) {
        return;
    }
    match tracked.group {
        // SAFETY: kill(2) with a negative pid signals that process group; it
        // has no memory-safety preconditions.
        Some(group) => unsafe {
            libc::kill(-group, libc::SIGKILL);
        },
        None => {
            for &pid in &members {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
    let left = |procs: &[Proc]| {
        procs
            .iter()
            .any(|p| p.alive && (members.contains(&p.pid) || Some(p.group) == tracked.group))
    };
    let deadline = Instant::now() + GONE_TIMEOUT;
    while left(&processes()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if tracked.creates {
        unsettle();
    }
}

/// From now on, something a child of this thread asked for may still
/// land: it was killed, or it failed while its other requests were on their
/// way (compose returns on the first failed create: docs/cleanup.md).
pub(super) fn unsettle() {
    UNSETTLED.set(Some(Instant::now()));
}

/// One process, as /proc/<pid>/stat shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Proc {
    pub pid: libc::pid_t,
    pub parent: libc::pid_t,
    pub group: libc::pid_t,
    /// Not a zombie: a zombie can no longer talk to the daemon, and only
    /// waits for its parent, or for init, to reap it.
    pub alive: bool,
}

/// Every process this pid namespace shows.
pub(super) fn processes() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(|pid: libc::pid_t| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &stat)
        })
        .collect()
}

/// `pid (comm) state ppid pgrp …`; the command name may hold spaces and
/// parentheses, so the fields are read after its last `)`.
fn parse_stat(pid: libc::pid_t, stat: &str) -> Option<Proc> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let parent = fields.next()?.parse().ok()?;
    let group = fields.next()?.parse().ok()?;
    Some(Proc {
        pid,
        parent,
        group,
        alive: !matches!(state, "Z" | "X"),
    })
}

/// `pid` and every process below it.
pub(super) fn descendants(processes: &[Proc], pid: libc::pid_t) -> Vec<libc::pid_t> {
    let mut found = vec![pid];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        let children: Vec<libc::pid_t> = processes
            .iter()
            .filter(|p| p.parent == parent && !found.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        found.extend(children);
        next += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let stat = "4242 (docker (x) y) S 4200 4242 4100 0 -1 4194560 120 0 0 0";
        let proc = parse_stat(4242, stat).unwrap();
        assert_eq!(
            proc,
            Proc {
                pid: 4242,
                parent: 4200,
                group: 4242,
                alive: true
            }
        );
        let zombie = parse_stat(7, "7 (docker-compose) Z 1 4242 4100").unwrap();
        assert!(!zombie.alive);
        assert_eq!(parse_stat(7, "7 (truncated"), None);
    }

    #[test]
    fn descendants_follow_parents_down() {
        let proc = |pid, parent| Proc {
            pid,
            parent,
            group: 1,
            alive: true,
        };
        let all = [
            proc(10, 1),
            proc(11, 10),
            proc(12, 11),
            proc(13, 1),
            proc(14, 10),
        ];
        let mut found = descendants(&all, 10);
        found.sort();
        assert_eq!(found, [10, 11, 12, 14]);
    }
}
