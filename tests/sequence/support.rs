//! The fake engine, a layer on the common harness: testbed runs with a PATH
//! that holds the fake `docker` of tests/fake-docker and nothing else, and
//! what that fake recorded (the calls, in order) and still holds (the
//! containers, networks and volumes) is read back.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Output, ROOT, RUN_TIMEOUT, Running, Testbed};

const POLL: Duration = Duration::from_millis(10);

/// A stack with a `db` and a `tests` service, as most projects have.
pub const COMPOSE_YML: &str = "\
services:
  db:
    image: postgres:16
  tests:
    image: busybox
    depends_on: [db]
";

/// A testbed command line against the fake engine, in a temporary
/// directory whose `work/compose.yml` is the stack. Nothing of the caller's
/// environment reaches it, and no real `docker` or `docker-compose` can be
/// reached, whatever is installed on the machine.
#[must_use]
pub struct Fake {
    root: tempfile::TempDir,
    testbed: Testbed,
}

impl Fake {
    /// `testbed run` on [`COMPOSE_YML`].
    pub fn new() -> Fake {
        Fake::with(Testbed::run())
    }

    /// `testbed` the way `testbed` says, on [`COMPOSE_YML`].
    pub fn with(testbed: Testbed) -> Fake {
        let root = tempfile::Builder::new()
            .prefix("testbed-seq-")
            .tempdir()
            .expect("create a temporary directory");
        let fake = Path::new(ROOT).join("tests/fake-docker/docker");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&fake)
                .unwrap_or_else(|e| panic!("{}: {e}", fake.display()))
                .permissions(),
        );
        assert!(
            mode & 0o111 != 0,
            "{} must be executable (chmod +x)",
            fake.display()
        );
        let bin = root.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(&fake, bin.join("docker")).unwrap();
        // The compose plugin where docker finds it, which testbed runs
        // directly; FAKE_NO_COMPOSE_PLUGIN=1 (see `env`) takes it away.
        let plugins = root.path().join("docker-config/cli-plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::os::unix::fs::symlink(&fake, plugins.join("docker-compose")).unwrap();
        let work = root.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let testbed = testbed
            .dir(&work)
            .no_engine()
            // Nothing from the caller's environment (COMPOSE_FILE,
            // TESTBED_*, CI_*, DOCKER_HOST…) may leak into the run.
            .env_clear()
            .env("PATH", bin.to_str().unwrap())
            .env(
                "DOCKER_CONFIG",
                root.path().join("docker-config").to_str().unwrap(),
            )
            .env(
                "FAKE_DOCKER_LOG",
                root.path().join("docker.log").to_str().unwrap(),
            )
            .env("FAKE_DOCKER_RECORD_ENV", "TESTBED_PROJECT");
        Fake { root, testbed }.compose_file(COMPOSE_YML)
    }

    /// Replaces `compose.yml` in the working directory.
    pub fn compose_file(self, yaml: &str) -> Fake {
        std::fs::write(self.work().join("compose.yml"), yaml).unwrap();
        self
    }

    pub fn args(self, args: &[&str]) -> Fake {
        self.map(|t| t.args(args))
    }

    /// A variable for testbed, and so for the fake: the later of two
    /// settings of one name wins.
    pub fn env(self, name: &str, value: &str) -> Fake {
        if (name, value) == ("FAKE_NO_COMPOSE_PLUGIN", "1") {
            let plugin = self
                .root
                .path()
                .join("docker-config/cli-plugins/docker-compose");
            std::fs::remove_file(plugin).unwrap();
        }
        self.map(|t| t.env(name, value))
    }

    /// Changes the command line some other way.
    pub fn map(mut self, change: impl FnOnce(Testbed) -> Testbed) -> Fake {
        self.testbed = change(self.testbed);
        self
    }

    /// The directory testbed runs in, which holds `compose.yml`.
    pub fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// Runs testbed to the end.
    pub fn run(self) -> Recorded {
        self.spawn().finish()
    }

    /// Starts testbed and returns at once, for signal tests.
    pub fn spawn(self) -> FakeRunning {
        let running = self.testbed.spawn();
        FakeRunning {
            root: self.root,
            running,
        }
    }
}

/// A testbed process that is still running against the fake engine.
pub struct FakeRunning {
    root: tempfile::TempDir,
    running: Running,
}

impl Deref for FakeRunning {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.running
    }
}

impl FakeRunning {
    fn log(&self) -> PathBuf {
        self.root.path().join("docker.log")
    }

    /// The calls recorded so far.
    pub fn calls(&self) -> Vec<Call> {
        read_log(&self.log())
    }

    /// Waits until a recorded call matches, or panics after `timeout`.
    pub fn wait_for_call(&self, timeout: Duration, what: impl Fn(&Call) -> bool) {
        let deadline = Instant::now() + timeout;
        while !self.calls().iter().any(&what) {
            assert!(
                Instant::now() < deadline,
                "the awaited call was not made within {timeout:?}; calls so far:\n{}",
                transcript(&self.calls())
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the fake engine holds an object whose line (see
    /// [`Recorded::leftovers`]) has all of `words`, or panics after
    /// `timeout`.
    pub fn wait_for_object(&self, timeout: Duration, words: &[&str]) {
        let deadline = Instant::now() + timeout;
        let held = || {
            leftovers(&self.log()).iter().any(|object| {
                let fields: Vec<&str> = object.split(' ').collect();
                words.iter().all(|w| fields.contains(w))
            })
        };
        while !held() {
            assert!(
                Instant::now() < deadline,
                "the engine did not come to hold {words:?} within {timeout:?}; calls so far:\n{}",
                transcript(&self.calls())
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits for testbed to exit, at most `timeout`.
    pub fn finish_within(self, timeout: Duration) -> Recorded {
        let log = self.log();
        let output = self.running.finish(timeout);
        // The events stream runs beside the other calls, from before the
        // first create to the end of the tests: it has no place in their
        // order.
        let (events, calls): (Vec<Call>, Vec<Call>) = read_log(&log)
            .into_iter()
            .partition(|call| call.argv.first().is_some_and(|w| w == "events"));
        Recorded {
            output,
            labels_file: labels_file(&calls),
            calls,
            events,
            compose_file: std::fs::canonicalize(self.root.path().join("work"))
                .unwrap()
                .join("compose.yml")
                .display()
                .to_string(),
            leftovers: leftovers(&log),
            tags: held(&log, "tag"),
            images: held(&log, "image"),
            _root: self.root,
        }
    }

    pub fn finish(self) -> Recorded {
        self.finish_within(RUN_TIMEOUT)
    }
}

/// One invocation of the fake `docker`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Call {
    /// Without the program name.
    pub argv: Vec<String>,
    /// The variables named in `FAKE_DOCKER_RECORD_ENV` that were set.
    pub env: BTreeMap<String, String>,
}

impl Call {
    /// `up` for `compose -p P -f F up --no-start db`; `None` for a plain
    /// docker call.
    pub fn compose_subcommand(&self) -> Option<&str> {
        let mut words = self.argv.iter().map(String::as_str);
        if words.next() != Some("compose") {
            return None;
        }
        while let Some(word) = words.next() {
            match word {
                "-p"
                | "--project-name"
                | "-f"
                | "--file"
                | "--ansi"
                | "--progress"
                | "--env-file"
                | "--profile"
                | "--project-directory" => {
                    words.next();
                }
                option if option.starts_with('-') => {}
                subcommand => return Some(subcommand),
            }
        }
        None
    }

    pub fn is_compose(&self, subcommand: &str) -> bool {
        self.compose_subcommand() == Some(subcommand)
    }

    /// The first word of a plain docker call: `ps`, `inspect`, `start`…
    pub fn is_docker(&self, subcommand: &str) -> bool {
        self.argv.first().map(String::as_str) == Some(subcommand)
    }

    /// The words after the compose subcommand.
    pub fn compose_args(&self) -> &[String] {
        let sub = self.compose_subcommand().expect("a compose call");
        let at = self.argv.iter().position(|w| w == sub).unwrap();
        &self.argv[at + 1..]
    }

    /// Whether `a b` appear next to each other on the argv.
    pub fn has_pair(&self, a: &str, b: &str) -> bool {
        self.argv
            .windows(2)
            .any(|pair| pair[0] == a && pair[1] == b)
    }

    pub fn line(&self) -> String {
        self.argv.join(" ")
    }
}

fn read_log(path: &Path) -> Vec<Call> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("{}: {e}", path.display()),
    };
    text.lines()
        // A line that is still being written while a signal test polls.
        .filter(|line| line.ends_with('}'))
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad log line from the fake docker: {e}\n{line}"))
        })
        .collect()
}

/// What the fake engine still holds: one line per container, network and
/// volume, as the fake keeps them next to its log (see its header).
fn leftovers(log: &Path) -> Vec<String> {
    let dir = log.parent().unwrap();
    let prefix = format!("{}.", log.file_name().unwrap().to_string_lossy());
    let mut objects: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = name.strip_prefix(&prefix)?.split('.').next()?.to_string();
            if !matches!(kind.as_str(), "container" | "network" | "volume") {
                return None;
            }
            let line = std::fs::read_to_string(entry.path()).ok()?;
            let line = line.trim();
            (!line.is_empty()).then(|| format!("{kind} {line}"))
        })
        .collect();
    objects.sort();
    objects
}

/// The first word of each `kind` (`tag`, `image`) the fake engine holds:
/// tags such as `tb-work-tests:latest`, image ids.
fn held(log: &Path, kind: &str) -> Vec<String> {
    let dir = log.parent().unwrap();
    let prefix = format!("{}.{kind}.", log.file_name().unwrap().to_string_lossy());
    let mut held: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .filter_map(|entry| {
            let line = std::fs::read_to_string(entry.path()).ok()?;
            line.split_whitespace().next().map(str::to_string)
        })
        .collect();
    held.sort();
    held
}

pub fn transcript(calls: &[Call]) -> String {
    calls
        .iter()
        .map(|c| format!("  docker {}", c.line()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The second `-f` of the first compose command that has one: the labels
/// override, a temporary file.
fn labels_file(calls: &[Call]) -> Option<String> {
    calls.iter().find_map(|call| {
        let mut files = call
            .argv
            .windows(2)
            .filter(|pair| pair[0] == "-f")
            .map(|pair| pair[1].clone());
        files.nth(1)
    })
}

/// A finished testbed run against the fake engine: its [`Output`], and what
/// the engine saw and kept.
pub struct Recorded {
    pub output: Output,
    /// Every call but the events stream, in order.
    pub calls: Vec<Call>,
    /// The `docker events` streams it started.
    pub events: Vec<Call>,
    /// The compose file as testbed passes it: an absolute path.
    pub compose_file: String,
    /// The labels override testbed passed after it, if any compose command
    /// got one.
    pub labels_file: Option<String>,
    /// The containers, networks and volumes the fake engine still holds
    /// after the run, e.g. `container fakeid-db P-db-1 P db False running 0`.
    pub leftovers: Vec<String>,
    /// The image tags it holds after the run.
    pub tags: Vec<String>,
    /// The ids of the images it holds after the run.
    pub images: Vec<String>,
    /// Keeps the run's files, such as its artifacts, until the test ends.
    _root: tempfile::TempDir,
}

impl Deref for Recorded {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

impl Recorded {
    /// Everything about the run, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "status: {}\n--- docker calls ---\n{}\n--- left on the engine ---\n{}\n--- image tags ---\n{}\n--- images ---\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.output.status,
            transcript(&[&self.events[..], &self.calls[..]].concat()),
            self.leftovers.join("\n"),
            self.tags.join("\n"),
            self.images.join("\n"),
            self.stdout,
            self.stderr
        )
    }

    pub fn assert_code(&self, code: i32) -> &Recorded {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }

    /// The project name testbed announced on stderr.
    pub fn project(&self) -> String {
        assert!(
            !self.output.project.is_empty(),
            "no `testbed: project` line\n{}",
            self.describe()
        );
        self.output.project.clone()
    }

    pub fn compose_calls(&self, subcommand: &str) -> Vec<&Call> {
        self.calls
            .iter()
            .filter(|c| c.is_compose(subcommand))
            .collect()
    }

    /// The one compose call with this subcommand.
    pub fn only_compose(&self, subcommand: &str) -> &Call {
        let calls = self.compose_calls(subcommand);
        assert_eq!(
            calls.len(),
            1,
            "expected one `compose {subcommand}`\n{}",
            self.describe()
        );
        calls[0]
    }

    /// Where the first call that matches was made.
    pub fn position(&self, what: impl Fn(&Call) -> bool) -> Option<usize> {
        self.calls.iter().position(what)
    }

    pub fn assert_no_compose(&self, subcommand: &str) -> &Recorded {
        assert!(
            self.compose_calls(subcommand).is_empty(),
            "unexpected `compose {subcommand}`\n{}",
            self.describe()
        );
        self
    }

    /// Every call that matches, in order.
    pub fn calls_where(&self, what: impl Fn(&Call) -> bool) -> Vec<&Call> {
        self.calls.iter().filter(|c| what(c)).collect()
    }

    /// Nothing of the stack is left on the engine.
    pub fn assert_nothing_left(&self) -> &Recorded {
        assert!(
            self.leftovers.is_empty(),
            "left on the engine:\n  {}\n{}",
            self.leftovers.join("\n  "),
            self.describe()
        );
        self
    }

    pub fn assert_stderr_contains(&self, needle: &str) -> &Recorded {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.describe()
        );
        self
    }
}
