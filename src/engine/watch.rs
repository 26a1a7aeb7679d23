//! The engine's events for one project: one `docker events` process from
//! before the first create to the end of the run, its lines parsed into what
//! each container did, kept in the daemon's order for whoever reads them.
//! A start, a death, an OOM kill or a health change is known the moment the
//! daemon reports it, without a `docker inspect`.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::PROJECT_LABEL;
use crate::engine::cmd::Child;
use crate::engine::model::SERVICE_LABEL;
use crate::engine::stack::Stack;

/// Compose's label that tells a `compose run` container from a service's.
const ONE_OFF_LABEL: &str = "com.docker.compose.oneoff";

/// What a container did, as the daemon reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    Created,
    Started,
    /// Its process ended.
    Died {
        exit_code: i64,
    },
    /// The kernel's OOM killer killed a process in it; `Died` follows.
    OomKilled,
    /// The daemon's own healthcheck: `starting`, `healthy` or `unhealthy`.
    Health(String),
}

/// One event of one container of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    pub service: String,
    /// A `compose run` container, such as the tests'.
    pub one_off: bool,
    pub what: Happened,
    pub at: SystemTime,
}

/// The events stream of one project. Dropping it ends the stream.
pub struct Watch {
    /// In a mutex so that threads can share the watch: a child is not Sync.
    child: Mutex<Child>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<Log>,
    arrived: Condvar,
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
    /// The stream ended: its process exited or was killed.
    closed: bool,
}

/// The fields of an event, one line each, tab-separated.
fn format() -> String {
    let label = |key: &str| format!("{{{{index .Actor.Attributes \"{key}\"}}}}");
    [
        "{{.Action}}".to_string(),
        "{{.ID}}".into(),
        label(SERVICE_LABEL),
        label(ONE_OFF_LABEL),
        label("exitCode"),
        "{{.TimeNano}}".into(),
    ]
    .join("\t")
}

impl Watch {
    /// Starts watching the containers of `stack`'s project: their creates,
    /// starts, deaths, OOM kills and health changes, and nothing of any
    /// other project.
    pub fn start(stack: &Stack) -> anyhow::Result<Watch> {
        // The project is new: nothing of it is older, whatever the daemon's
        // clock says of ours. Replaying from then closes the gap between
        // this process starting and the daemon listening to it.
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_sub(60);
        let mut args = vec![
            "--since".to_string(),
            since.to_string(),
            "--filter".into(),
            "type=container".into(),
            "--filter".into(),
            format!("label={PROJECT_LABEL}={}", stack.project()),
        ];
        // Every action of the project's containers comes, and `parse` keeps
        // the few it knows: podman takes only one `event=` filter of several
        // instead of all of them (podman#10507), and would hide the deaths.
        args.extend(["--format".into(), format()]);
        let (child, lines) = stack.engine().docker(["events"]).args(args).spawn_lines()?;
        let shared = Arc::new(Shared::default());
        let log = Arc::clone(&shared);
        std::thread::spawn(move || {
            for line in lines {
                if let Some(seen) = parse(&line) {
                    log.state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .seen
                        .push(seen);
                    log.arrived.notify_all();
                }
            }
            log.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
            log.arrived.notify_all();
        });
        Ok(Watch {
            child: Mutex::new(child),
            shared,
        })
    }

    /// The events past `cursor`, which then points past them.
    pub fn since(&self, cursor: &mut usize) -> Vec<Seen> {
        let log = self.lock();
        let new = log.seen.get(*cursor..).unwrap_or_default().to_vec();
        *cursor = log.seen.len();
        new
    }

    /// Waits at most `timeout` for an event past `cursor`; returns the
    /// events past it, as [`since`](Watch::since).
    pub fn wait(&self, cursor: &mut usize, timeout: Duration) -> Vec<Seen> {
        let log = self.lock();
        let (log, _) = self
            .shared
            .arrived
            .wait_timeout_while(log, timeout, |log| log.seen.len() <= *cursor && !log.closed)
            .unwrap_or_else(|e| e.into_inner());
        let new = log.seen.get(*cursor..).unwrap_or_default().to_vec();
        *cursor = log.seen.len();
        new
    }

    /// Whether the stream still runs: once it ended, only `docker inspect`
    /// can tell what happened since.
    pub fn is_open(&self) -> bool {
        !self.lock().closed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.child
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .kill();
    }
}

/// One line of [`format`]; `None` for an event testbed has no use for.
/// Podman names a death `died`.
fn parse(line: &str) -> Option<Seen> {
    let mut fields = line.split('\t');
    let action = fields.next()?;
    let id = fields.next()?.to_string();
    let service = fields.next()?.to_string();
    let one_off = fields.next()?.eq_ignore_ascii_case("true");
    let exit_code = fields.next()?;
    let nanos: u64 = fields.next()?.trim().parse().ok()?;
    let what = match action {
        "create" => Happened::Created,
        "start" => Happened::Started,
        "die" | "died" => Happened::Died {
            exit_code: exit_code.parse().ok()?,
        },
        "oom" => Happened::OomKilled,
        _ => Happened::Health(action.strip_prefix("health_status:")?.trim().to_string()),
    };
    Some(Seen {
        id,
        service,
        one_off,
        what,
        at: UNIX_EPOCH + Duration::from_nanos(nanos),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(action: &str, service: &str, one_off: &str, exit: &str) -> String {
        format!("{action}\tabc123\t{service}\t{one_off}\t{exit}\t1796649773444284340")
    }

    #[test]
    fn events_are_parsed_from_the_format() {
        let died = parse(&line("die", "cache", "False", "3")).unwrap();
        assert_eq!(died.id, "abc123");
        assert_eq!(died.service, "cache");
        assert!(!died.one_off);
        assert_eq!(died.what, Happened::Died { exit_code: 3 });
        assert_eq!(
            died.at,
            UNIX_EPOCH + Duration::from_nanos(1_796_649_773_444_284_340)
        );
        let cases = [
            (line("create", "db", "False", ""), Happened::Created),
            (line("start", "tests", "True", ""), Happened::Started),
            (line("oom", "db", "False", ""), Happened::OomKilled),
            (
                line("died", "db", "False", "137"),
                Happened::Died { exit_code: 137 },
            ),
            (
                line("health_status: healthy", "db", "False", ""),
                Happened::Health("healthy".into()),
            ),
            (
                line("health_status: unhealthy", "db", "False", ""),
                Happened::Health("unhealthy".into()),
            ),
        ];
        for (line, what) in cases {
            assert_eq!(parse(&line).map(|s| s.what), Some(what), "{line}");
        }
        assert!(parse(&line("start", "tests", "True", "")).unwrap().one_off);
    }

    #[test]
    fn the_format_reads_each_field_in_order() {
        assert_eq!(
            format(),
            "{{.Action}}\t{{.ID}}\t{{index .Actor.Attributes \"com.docker.compose.service\"}}\t\
             {{index .Actor.Attributes \"com.docker.compose.oneoff\"}}\t\
             {{index .Actor.Attributes \"exitCode\"}}\t{{.TimeNano}}"
        );
    }

    #[test]
    fn events_it_has_no_use_for_and_broken_lines_are_skipped() {
        assert_eq!(parse(&line("exec_start: sh", "db", "False", "")), None);
        assert_eq!(parse(&line("die", "db", "False", "")), None);
        assert_eq!(parse("die\tabc"), None);
        assert_eq!(parse(""), None);
    }
}
