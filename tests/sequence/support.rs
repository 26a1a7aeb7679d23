//! Runs the testbed binary against the fake `docker` in `tests/fake-docker`
//! and reads back the commands it recorded.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any one testbed run may take before the test gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
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

/// One `testbed run` in a temporary directory, with a PATH that holds the
/// fake `docker` and nothing else: no real `docker` or `docker-compose` can
/// be reached, whatever is installed on the machine.
pub struct Testbed {
    root: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Testbed {
    pub fn new() -> Testbed {
        let root = tempfile::Builder::new()
            .prefix("testbed-seq-")
            .tempdir()
            .expect("create a temporary directory");
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-docker/docker");
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
        std::fs::create_dir(root.path().join("work")).unwrap();
        let testbed = Testbed {
            root,
            args: vec!["run".into()],
            env: vec![("FAKE_DOCKER_RECORD_ENV".into(), "TESTBED_PROJECT".into())],
        };
        testbed.compose_file(COMPOSE_YML)
    }

    /// Replaces `compose.yml` in the working directory.
    pub fn compose_file(self, yaml: &str) -> Testbed {
        std::fs::write(self.work().join("compose.yml"), yaml).unwrap();
        self
    }

    pub fn args(mut self, args: &[&str]) -> Testbed {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Testbed {
        self.env.push((name.into(), value.into()));
        self
    }

    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    fn log(&self) -> PathBuf {
        self.root.path().join("docker.log")
    }

    fn spawn_child(&self) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_testbed"));
        command
            .args(&self.args)
            .current_dir(self.work())
            // Nothing from the caller's environment (COMPOSE_FILE,
            // TESTBED_*, CI_*, DOCKER_HOST…) may leak into the run.
            .env_clear()
            .env("PATH", self.root.path().join("bin"))
            .env("FAKE_DOCKER_LOG", self.log())
            // Lines without timestamps, unless a test asks for a mode.
            .env("TESTBED_OUTPUT", "terminal")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().expect("start testbed")
    }

    /// Runs testbed to the end.
    pub fn run(self) -> Run {
        self.spawn().finish()
    }

    /// Starts testbed and returns at once, for signal tests.
    pub fn spawn(self) -> Running {
        let mut child = self.spawn_child();
        let stdout = reader(child.stdout.take().unwrap());
        let stderr = reader(child.stderr.take().unwrap());
        Running {
            testbed: self,
            child,
            stdout,
            stderr,
        }
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A testbed process that is still running.
pub struct Running {
    testbed: Testbed,
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

impl Running {
    /// The calls recorded so far.
    pub fn calls(&self) -> Vec<Call> {
        read_log(&self.testbed.log())
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
    /// [`Run::leftovers`]) has all of `words`, or panics after `timeout`.
    pub fn wait_for_object(&self, timeout: Duration, words: &[&str]) {
        let deadline = Instant::now() + timeout;
        let held = || {
            leftovers(&self.testbed.log()).iter().any(|object| {
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

    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) has no memory-safety preconditions.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits for testbed to exit, at most `timeout`.
    pub fn finish_within(mut self, timeout: Duration) -> Run {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "testbed did not exit within {timeout:?}; calls:\n{}",
                    transcript(&self.calls())
                );
            }
            std::thread::sleep(POLL);
        };
        let elapsed = started.elapsed();
        let calls = read_log(&self.testbed.log());
        Run {
            status,
            elapsed,
            stdout: self.stdout.join().unwrap(),
            stderr: self.stderr.join().unwrap(),
            labels_file: labels_file(&calls),
            calls,
            compose_file: std::fs::canonicalize(self.testbed.work())
                .unwrap()
                .join("compose.yml")
                .display()
                .to_string(),
            leftovers: leftovers(&self.testbed.log()),
            _root: self.testbed.root,
        }
    }

    pub fn finish(self) -> Run {
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

/// A finished testbed run.
pub struct Run {
    pub status: ExitStatus,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
    pub calls: Vec<Call>,
    /// The compose file as testbed passes it: an absolute path.
    pub compose_file: String,
    /// The labels override testbed passed after it, if any compose command
    /// got one.
    pub labels_file: Option<String>,
    /// The containers, networks and volumes the fake engine still holds
    /// after the run, e.g. `container fakeid-db P-db-1 P db False running 0`.
    pub leftovers: Vec<String>,
    /// Keeps the run's files, such as its artifacts, until the test ends.
    _root: tempfile::TempDir,
}

impl Run {
    /// Everything about the run, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "status: {:?}\n--- docker calls ---\n{}\n--- left on the engine ---\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            transcript(&self.calls),
            self.leftovers.join("\n"),
            self.stdout,
            self.stderr
        )
    }

    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit code {code}\n{}",
            self.describe()
        );
        self
    }

    /// The project name testbed announced on stderr.
    pub fn project(&self) -> String {
        self.stderr
            .lines()
            .find_map(|line| line.strip_prefix("testbed: project "))
            .unwrap_or_else(|| panic!("no `testbed: project` line\n{}", self.describe()))
            .trim()
            .to_string()
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

    pub fn assert_no_compose(&self, subcommand: &str) -> &Run {
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
    pub fn assert_nothing_left(&self) -> &Run {
        assert!(
            self.leftovers.is_empty(),
            "left on the engine:\n  {}\n{}",
            self.leftovers.join("\n  "),
            self.describe()
        );
        self
    }

    pub fn assert_stderr_contains(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.describe()
        );
        self
    }
}
