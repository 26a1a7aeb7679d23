//! One testbed command line ([`Testbed`]), the process it started
//! ([`Running`]) and how it ended ([`Output`]).
//!
//! ```ignore
//! let out = Testbed::fixture("basic")
//!     .flavor(flavor)
//!     .project("pass")
//!     .args(["-v"])
//!     .command(["sh", "-c", "exit 3"])
//!     .output();
//! assert_eq!(out.code, Some(3), "{out}");
//! ```

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::{BIN, Flavor, ROOT, RUN_TIMEOUT, engine};

/// The caller's variables that would configure testbed or the tests'
/// fixtures: unless a test sets them, the run does not see them.
fn configures(name: &str) -> bool {
    [
        "TESTBED_",
        "COMPOSE_",
        "CI_",
        "GITHUB_",
        "BUILDKITE",
        "CIRCLE",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
        || [
            "CLICOLOR_FORCE",
            "EXAMPLE_FAIL",
            "GITLAB_CI",
            "TF_BUILD",
            "JENKINS_URL",
            "BUILD_TAG",
        ]
        .contains(&name)
}

/// A `testbed <subcommand>` command line, run in the repository (or in
/// `dir`), with the caller's testbed settings removed from its environment
/// and `TESTBED_OUTPUT=terminal` (lines without timestamps) unless the test
/// sets another mode.
#[must_use]
#[derive(Clone)]
pub struct Testbed {
    subcommand: String,
    file: Option<String>,
    dir: Option<PathBuf>,
    flavor: Option<Flavor>,
    scenario: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    clear_env: bool,
    command: Vec<String>,
    stdin: Option<Vec<u8>>,
    real_engine: bool,
}

/// The words after `testbed`, the variables to set, and the `-p` name.
pub struct CommandLine {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub project: Option<String>,
}

impl Testbed {
    /// `testbed <subcommand>`.
    pub fn new(subcommand: &str) -> Testbed {
        Testbed {
            subcommand: subcommand.into(),
            file: None,
            dir: None,
            flavor: None,
            scenario: None,
            args: Vec::new(),
            env: Vec::new(),
            clear_env: false,
            command: Vec::new(),
            stdin: None,
            real_engine: true,
        }
    }

    /// `testbed run`, with the compose file of the directory it runs in.
    pub fn run() -> Testbed {
        Testbed::new("run")
    }

    /// `testbed run -f fixtures/<name>/compose.yml`.
    pub fn fixture(name: &str) -> Testbed {
        Testbed::file(&format!("fixtures/{name}/compose.yml"))
    }

    /// `testbed run -f <path>`, the path relative to the repository.
    pub fn file(path: &str) -> Testbed {
        Testbed {
            file: Some(path.into()),
            ..Testbed::run()
        }
    }

    /// Runs testbed in `dir` instead of the repository; a compose file
    /// given with `fixture` or `file` is still the repository's. What
    /// testbed records there (`--keep`, `up`) stays out of the checkout and
    /// away from other tests.
    pub fn dir(mut self, dir: &Path) -> Testbed {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// `--compose <flavor>`.
    pub fn flavor(mut self, flavor: Flavor) -> Testbed {
        self.flavor = Some(flavor);
        self
    }

    /// `-p tbe2e-<scenario>-<flavor>-<pid>-<n>`, unique to this run.
    pub fn project(mut self, scenario: &str) -> Testbed {
        self.scenario = Some(scenario.into());
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Testbed {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Testbed {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Nothing of the caller's environment: only what the test sets.
    pub fn env_clear(mut self) -> Testbed {
        self.clear_env = true;
        self
    }

    /// The test command, after `--`.
    pub fn command<S: AsRef<str>>(mut self, words: impl IntoIterator<Item = S>) -> Testbed {
        self.command = words.into_iter().map(|w| w.as_ref().to_string()).collect();
        self
    }

    /// What testbed reads on its stdin (else nothing: /dev/null).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Testbed {
        self.stdin = Some(bytes.into());
        self
    }

    /// testbed finds no real engine here (the fake docker, or none): none
    /// is required, and nothing is cleaned up on it after the run.
    pub fn no_engine(mut self) -> Testbed {
        self.real_engine = false;
        self
    }

    /// The command line, with a fresh `-p` name if `project` asked for one.
    pub fn command_line(&self) -> CommandLine {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let project = self.scenario.as_ref().map(|scenario| {
            let flavor = self.flavor.map_or("any", Flavor::tag);
            let n = RUNS.fetch_add(1, Ordering::SeqCst);
            format!("tbe2e-{scenario}-{flavor}-{}-{n}", std::process::id())
        });
        let mut args = vec![self.subcommand.clone()];
        if let Some(file) = &self.file {
            let file = match &self.dir {
                Some(_) if Path::new(file).is_relative() => format!("{ROOT}/{file}"),
                _ => file.clone(),
            };
            args.extend(["-f".into(), file]);
        }
        args.extend(self.args.iter().cloned());
        if let Some(flavor) = self.flavor {
            args.extend(["--compose".into(), flavor.compose().into()]);
        }
        if let Some(project) = &project {
            args.extend(["-p".into(), project.clone()]);
        }
        if !self.command.is_empty() {
            args.push("--".into());
            args.extend(self.command.iter().cloned());
        }
        let mut env = vec![("TESTBED_OUTPUT".to_string(), "terminal".to_string())];
        env.extend(self.env.iter().cloned());
        CommandLine { args, env, project }
    }

    /// The process to start, its standard streams left to the caller.
    pub fn to_command(&self) -> (Command, CommandLine) {
        let line = self.command_line();
        let mut cmd = Command::new(BIN);
        cmd.args(&line.args)
            .current_dir(self.dir.as_deref().unwrap_or(Path::new(ROOT)));
        if self.clear_env {
            cmd.env_clear();
        } else {
            for (name, _) in std::env::vars() {
                if configures(&name) {
                    cmd.env_remove(name);
                }
            }
        }
        cmd.envs(line.env.iter().map(|(k, v)| (k, v)));
        (cmd, line)
    }

    /// Runs testbed to the end, at most `RUN_TIMEOUT`.
    pub fn output(self) -> Output {
        self.spawn().finish(RUN_TIMEOUT)
    }

    /// Starts testbed with its output piped, to watch and signal it.
    pub fn spawn(self) -> Running {
        if self.real_engine {
            engine::require();
        }
        let (mut cmd, line) = self.to_command();
        // A run owns its project: what it left goes when the test is done
        // with it. `up` and `test` leave a stack for a later `down`.
        let cleanup = self.real_engine && self.subcommand == "run";
        Running::start(&mut cmd, self.stdin.clone()).owning(line.project, cleanup)
    }
}

/// What one stream of a child printed so far, and whether it is closed.
#[derive(Default)]
pub struct Stream {
    state: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Stream {
    pub fn read(pipe: impl Read + Send + 'static) -> Arc<Stream> {
        let stream = Arc::new(Stream::default());
        let writer = Arc::clone(&stream);
        std::thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            let mut line = Vec::new();
            while pipe.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                writer.state.lock().unwrap().0 += &String::from_utf8_lossy(&line);
                writer.changed.notify_all();
                line.clear();
            }
            writer.state.lock().unwrap().1 = true;
            writer.changed.notify_all();
        });
        stream
    }

    /// Waits until `done(text, closed)` holds; false when `timeout` passed.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&str, bool) -> bool) -> bool {
        let state = self.state.lock().unwrap();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, |(text, closed)| !done(text, *closed))
            .unwrap();
        done(&state.0, state.1)
    }

    pub fn text(&self) -> String {
        self.state.lock().unwrap().0.clone()
    }
}

/// How a signal reaches the process, when kill(2) on the child is not the
/// way (a process in a container, behind `docker exec`).
pub type Kill = Box<dyn Fn(libc::c_int) -> Result<(), String> + Send + Sync>;

/// A process under way, its output read as it comes. Dropped before it
/// exited (a failed test), it gets SIGTERM so that a testbed tears its stack
/// down, then SIGKILL; and what its project left on the engine is removed.
pub struct Running {
    pid: libc::pid_t,
    kill: Option<Kill>,
    exited: Receiver<ExitStatus>,
    status: Option<ExitStatus>,
    stdout: Arc<Stream>,
    stderr: Arc<Stream>,
    project: Option<String>,
    cleanup: bool,
}

impl Running {
    /// Starts `cmd` with stdout and stderr piped, and `stdin` (or nothing)
    /// on its stdin.
    pub fn start(cmd: &mut Command, stdin: Option<Vec<u8>>) -> Running {
        let mut child = cmd
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A reader that stops early is the test's business.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let stdout = Stream::read(child.stdout.take().unwrap());
        let stderr = Stream::read(child.stderr.take().unwrap());
        let pid = child.id() as libc::pid_t;
        let (tx, exited) = mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait().expect("waiting for the child")));
        Running {
            pid,
            kill: None,
            exited,
            status: None,
            stdout,
            stderr,
            project: None,
            cleanup: false,
        }
    }

    /// The project it runs (`-p`), and whether what that project leaves on
    /// the real engine is removed once the test is done with it.
    pub fn owning(mut self, project: Option<String>, cleanup: bool) -> Running {
        self.project = project;
        self.cleanup = cleanup;
        self
    }

    /// Signals go through `kill` instead of kill(2) on the child.
    pub fn killed_by(mut self, kill: Kill) -> Running {
        self.kill = Some(kill);
        self
    }

    /// Waits until stdout contains `needle`.
    pub fn wait_for_stdout(&self, needle: &str, timeout: Duration) {
        let seen = self
            .stdout
            .wait_until(timeout, |text, _| text.contains(needle));
        assert!(
            seen,
            "`{needle}` did not appear on stdout within {timeout:?}\n{}",
            self.snapshot(None)
        );
    }

    /// Waits until stderr contains `needle`.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) {
        let seen = self
            .stderr
            .wait_until(timeout, |text, _| text.contains(needle));
        assert!(
            seen,
            "`{needle}` did not appear on stderr within {timeout:?}\n{}",
            self.snapshot(None)
        );
    }

    /// The child's process id.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// The project named with `-p`, if any.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    pub fn signal(&self, signal: libc::c_int) {
        if let Err(problem) = self.send(signal) {
            panic!("{problem}\n{}", self.snapshot(None));
        }
    }

    fn send(&self, signal: libc::c_int) -> Result<(), String> {
        if let Some(kill) = &self.kill {
            return kill(signal);
        }
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(self.pid, signal) };
        if rc == 0 {
            Ok(())
        } else {
            Err(format!("kill({}, {signal}) failed", self.pid))
        }
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn finish(mut self, timeout: Duration) -> Output {
        let status = match self.exited.recv_timeout(timeout) {
            Ok(status) => status,
            Err(_) => panic!(
                "the process did not exit within {timeout:?}\n{}",
                self.snapshot(None)
            ),
        };
        self.status = Some(status);
        // The pipes close once the children it started (compose, a
        // reaper) are gone.
        for stream in [&self.stdout, &self.stderr] {
            stream.wait_until(Duration::from_secs(10), |_, closed| closed);
        }
        let mut out = self.snapshot(Some(status));
        out.cleanup = self.cleanup;
        out
    }

    /// What it printed so far, as an [`Output`] that cleans nothing up.
    pub fn snapshot(&self, status: Option<ExitStatus>) -> Output {
        let stderr = self.stderr.text();
        let announced = stderr
            .lines()
            .find_map(|line| Some(line.split_once("testbed: project ")?.1))
            .map(|project| project.trim().to_string());
        Output {
            code: status.and_then(|s| s.code()),
            status: status.map_or("still running".into(), |s| s.to_string()),
            stdout: self.stdout.text(),
            project: self.project.clone().or(announced).unwrap_or_default(),
            stderr,
            cleanup: false,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let _ = self.send(libc::SIGTERM);
        if self.exited.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = self.send(libc::SIGKILL);
            let _ = self.exited.recv_timeout(Duration::from_secs(10));
        }
        if let (true, Some(project)) = (self.cleanup, &self.project) {
            engine::remove_project(project);
        }
    }
}

/// How a process ended. For a `testbed run` on the real engine, dropping it
/// removes whatever its project left there, so that a failing test does not
/// leak its stack into the next.
pub struct Output {
    /// The exit code; `None` when the process died of a signal.
    pub code: Option<i32>,
    /// The exit status as words, for messages.
    pub status: String,
    pub stdout: String,
    pub stderr: String,
    /// The `-p` name, else the one testbed announced; empty if neither.
    pub project: String,
    cleanup: bool,
}

impl Output {
    /// The one `error:` line testbed printed.
    pub fn error_line(&self) -> &str {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "expected one `error:` line\n{self}");
        errors[0]
    }

    /// The first line of stdout that starts with `start`.
    pub fn stdout_line(&self, start: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting with `{start}` on stdout\n{self}"))
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "project: {}\nstatus: {}\n--- stdout ---\n{}--- stderr ---\n{}---",
            self.project, self.status, self.stdout, self.stderr
        )
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.cleanup && !self.project.is_empty() {
            engine::remove_project(&self.project);
        }
    }
}
