//! Helpers for the real-engine tests: the engine gate, a `Run` builder for
//! `testbed run`, a running testbed that can be watched and signalled, and
//! the check that a project left nothing on the engine.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_testbed");
const PROJECT_LABEL: &str = "com.docker.compose.project";

/// How long one run may take before the test gives up on it. Generous: the
/// engine is shared with whatever else runs on this machine.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The compose flavors every scenario runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Standalone `docker-compose` 1.29 (Python).
    V1,
    /// The `docker compose` CLI plugin.
    V2,
}

impl Flavor {
    /// The value of `--compose`.
    pub fn compose(self) -> &'static str {
        match self {
            Flavor::V1 => "docker-compose",
            Flavor::V2 => "docker compose",
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Flavor::V1 => "v1",
            Flavor::V2 => "v2",
        }
    }
}

/// `per_flavor!(scenario)` turns `fn scenario(flavor: Flavor)` into the
/// tests `scenario::v1` and `scenario::v2`, each behind the engine gate;
/// `per_flavor!(scenario, gate)` puts them behind another gate, a path to a
/// `fn() -> bool`.
macro_rules! per_flavor {
    ($scenario:ident) => {
        $crate::support::per_flavor!($scenario, $crate::support::engine_ready);
    };
    ($scenario:ident, $gate:path) => {
        mod $scenario {
            #[test]
            fn v1() {
                if $gate() {
                    super::$scenario($crate::support::Flavor::V1)
                }
            }

            #[test]
            fn v2() {
                if $gate() {
                    super::$scenario($crate::support::Flavor::V2)
                }
            }
        }
    };
}
pub(crate) use per_flavor;

/// The gate at the top of every test. `TESTBED_E2E=0` skips, saying so,
/// except under `CI=true`, where a skipped real-engine test would be a green
/// run that proved nothing. Otherwise the engine, both compose flavors and
/// the fixtures' image are required, and their absence fails the test.
pub fn engine_ready() -> bool {
    if skip_asked("TESTBED_E2E", "real-engine") {
        return false;
    }
    static ENGINE: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(problem) = ENGINE.get_or_init(prepare_engine) {
        panic!("{problem}");
    }
    true
}

/// Whether `variable=0` asks to skip the `kind` tests, saying so; refused
/// under `CI=true`, where a skipped test is a green run that proved nothing.
pub fn skip_asked(variable: &str, kind: &str) -> bool {
    if std::env::var(variable).as_deref() != Ok("0") {
        return false;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{variable}=0 under CI=true: CI must run the {kind} tests"
    );
    // libtest names each test's thread after the test.
    let current = std::thread::current();
    let test = current.name().unwrap_or("test");
    eprintln!("note: {variable}=0: skipping the {kind} test {test}");
    true
}

fn prepare_engine() -> Result<(), String> {
    let fix =
        "run `bash scripts/setup-engine.sh`, or set TESTBED_E2E=0 to skip the real-engine tests";
    let run = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(ROOT)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot start `{program}`: {e}"))
            .and_then(|out| {
                if out.status.success() {
                    return Ok(());
                }
                Err(format!(
                    "`{program} {}` failed ({}):\n{}{}",
                    args.join(" "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr),
                    String::from_utf8_lossy(&out.stdout)
                ))
            })
    };
    run("docker", &["info", "--format", "{{.ServerVersion}}"])
        .map_err(|e| format!("the Docker engine is required: {e}\n{fix}"))?;
    run("docker", &["compose", "version"])
        .and_then(|()| run("docker-compose", &["version"]))
        .map_err(|e| format!("both compose flavors are required: {e}\n{fix}"))?;
    run("bash", &["scripts/build-images.sh"])
        .map_err(|e| format!("cannot build the fixtures' image: {e}"))
}

/// `docker <args>`, which must succeed; returns its stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot start docker");
    assert!(
        out.status.success(),
        "`docker {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `testbed run` command line.
pub struct Run {
    args: Vec<String>,
    env: Vec<(String, String)>,
    flavor: Option<Flavor>,
    scenario: Option<String>,
    command: Vec<String>,
    dir: Option<std::path::PathBuf>,
}

impl Run {
    /// `testbed run -f fixtures/<name>/compose.yml`.
    pub fn fixture(name: &str) -> Run {
        Run::file(&format!("fixtures/{name}/compose.yml"))
    }

    /// `testbed run -f <path>`, the path relative to the repository.
    pub fn file(path: &str) -> Run {
        Run {
            args: vec!["-f".into(), path.into()],
            env: Vec::new(),
            flavor: None,
            scenario: None,
            command: Vec::new(),
            dir: None,
        }
    }

    /// Runs testbed in `dir` instead of the repository, with the compose
    /// file still the repository's: what it records there (`--keep`) stays
    /// out of the checkout and away from other tests.
    pub fn in_dir(mut self, dir: &std::path::Path) -> Run {
        self.args[1] = format!("{ROOT}/{}", self.args[1]);
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// `--compose <flavor>`.
    pub fn flavor(mut self, flavor: Flavor) -> Run {
        self.flavor = Some(flavor);
        self
    }

    /// `-p tbe2e-<scenario>-<flavor>-<pid>-<n>`, unique to this run.
    pub fn project(mut self, scenario: &str) -> Run {
        self.scenario = Some(scenario.into());
        self
    }

    pub fn args<const N: usize>(mut self, args: [&str; N]) -> Run {
        self.args.extend(args.map(String::from));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Run {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The test command, after `--`.
    pub fn command<const N: usize>(mut self, words: [&str; N]) -> Run {
        self.command = words.map(String::from).to_vec();
        self
    }

    /// Runs testbed to the end.
    pub fn output(self) -> Output {
        self.spawn().finish(RUN_TIMEOUT)
    }

    /// Starts testbed with its output piped, to watch and signal it.
    pub fn spawn(self) -> Running {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let project = self.scenario.as_ref().map(|scenario| {
            let flavor = self.flavor.map_or("any", Flavor::tag);
            let n = RUNS.fetch_add(1, Ordering::SeqCst);
            format!("tbe2e-{scenario}-{flavor}-{}-{n}", std::process::id())
        });
        let mut cmd = Command::new(BIN);
        let dir = self.dir.as_deref().unwrap_or(std::path::Path::new(ROOT));
        cmd.arg("run").args(&self.args).current_dir(dir);
        if let Some(flavor) = self.flavor {
            cmd.args(["--compose", flavor.compose()]);
        }
        if let Some(project) = &project {
            cmd.args(["-p", project]);
        }
        if !self.command.is_empty() {
            cmd.arg("--").args(&self.command);
        }
        // Only what the test sets may configure testbed.
        for (name, _) in std::env::vars() {
            let configures = ["TESTBED_", "COMPOSE_", "CI_"]
                .iter()
                .any(|p| name.starts_with(p));
            if configures || name == "CLICOLOR_FORCE" || name == "EXAMPLE_FAIL" {
                cmd.env_remove(name);
            }
        }
        // Lines without timestamps, unless a test asks for a mode.
        cmd.env("TESTBED_OUTPUT", "terminal");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start testbed");
        let stdout = Stream::read(child.stdout.take().unwrap());
        let stderr = Stream::read(child.stderr.take().unwrap());
        let pid = child.id() as libc::pid_t;
        let (tx, exited) = mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait().expect("waiting for testbed")));
        Running {
            pid,
            exited,
            status: None,
            stdout,
            stderr,
            project,
        }
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

/// A testbed process under way. Dropped before it exited (a failed test),
/// it gets SIGTERM so that it tears its stack down.
pub struct Running {
    pid: libc::pid_t,
    exited: Receiver<ExitStatus>,
    status: Option<ExitStatus>,
    stdout: Arc<Stream>,
    stderr: Arc<Stream>,
    project: Option<String>,
}

impl Running {
    /// Waits until testbed's stdout contains `needle`.
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

    /// Waits until testbed's stderr contains `needle`.
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

    /// testbed's process id.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// The project named with `-p`, if any.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(self.pid, signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid);
    }

    /// Waits for testbed to exit, at most `timeout`.
    pub fn finish(mut self, timeout: Duration) -> Output {
        let status = match self.exited.recv_timeout(timeout) {
            Ok(status) => status,
            Err(_) => panic!(
                "testbed did not exit within {timeout:?}\n{}",
                self.snapshot(None)
            ),
        };
        self.status = Some(status);
        // The pipes close once the compose children testbed started are gone.
        for stream in [&self.stdout, &self.stderr] {
            stream.wait_until(Duration::from_secs(10), |_, closed| closed);
        }
        self.snapshot(Some(status))
    }

    fn snapshot(&self, status: Option<ExitStatus>) -> Output {
        let stderr = self.stderr.text();
        let announced = stderr
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("testbed: project "))
            .map(str::to_string);
        Output {
            code: status.and_then(|s| s.code()),
            status: status.map_or("still running".into(), |s| s.to_string()),
            stdout: self.stdout.text(),
            project: self.project.clone().or(announced).unwrap_or_default(),
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.status.is_none() {
            // SAFETY: as in `signal`.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            if self.exited.recv_timeout(Duration::from_secs(30)).is_err() {
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
            }
        }
    }
}

/// How a run ended. Dropping it removes whatever its project left on the
/// engine, so that a failing test does not leak its stack into the next.
pub struct Output {
    /// The exit code; `None` when testbed itself died of a signal.
    pub code: Option<i32>,
    status: String,
    pub stdout: String,
    pub stderr: String,
    /// The `-p` name, else the one testbed announced; empty if neither.
    pub project: String,
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
        if !self.project.is_empty() {
            remove(&leftovers(&self.project).unwrap_or_default());
        }
    }
}

/// Asserts that the project left no container, network or volume, looking
/// by compose's label and by name. Whatever is found is removed first.
pub fn assert_clean(project: &str) {
    assert!(!project.is_empty(), "no project name to check");
    let left = leftovers(project).unwrap_or_else(|e| panic!("{e}"));
    remove(&left);
    assert!(left.is_empty(), "project {project} left behind: {left:?}");
}

/// Seconds since the Unix epoch, as testbed's labels count time.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// This machine's hostname, as testbed's owner labels name it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// How long after testbed is killed its reaper may take to remove the
/// stack and be gone itself: the bound the README promises.
pub const REAP_BOUND: Duration = Duration::from_secs(15);

/// Waits until `project` has nothing left on the engine and no process of
/// it runs (its reaper, a compose command), at most `bound`, and returns
/// how long that took. Panics naming what is left.
pub fn wait_until_reaped(project: &str, bound: Duration) -> Duration {
    let started = std::time::Instant::now();
    loop {
        let left = leftovers(project).unwrap_or_else(|e| panic!("{e}"));
        let processes = processes_of(project);
        if left.is_empty() && processes.is_empty() {
            return started.elapsed();
        }
        if started.elapsed() > bound {
            remove(&left);
            panic!(
                "{project} was not reaped within {bound:?}: left {left:?}, processes {processes:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The processes with `-p <project>` or `--project <project>` on their
/// command line, on this machine or in a container (which shows in this
/// pid namespace too): testbed's reaper and the compose commands it ran,
/// each with its command line.
pub fn processes_of(project: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let argv = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv: Vec<String> = argv
                .split(|&b| b == 0)
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            let names = argv
                .windows(2)
                .any(|w| matches!(w[0].as_str(), "-p" | "--project") && w[1] == project);
            names.then(|| format!("{pid}: {}", argv.join(" ")))
        })
        .collect()
}

/// Removes, best effort, whatever `project` left on the engine.
pub fn remove_project(project: &str) {
    remove(&leftovers(project).unwrap_or_default());
}

/// Everything of `project` on the engine, as (kind, name).
fn leftovers(project: &str) -> Result<Vec<(&'static str, String)>, String> {
    let label = format!("label={PROJECT_LABEL}={project}");
    let name = format!("name={project}");
    // The name filter matches substrings; compose's own names are the
    // project followed by `_` (v1, networks) or `-` (v2 containers).
    let owned = |n: &String| {
        n.strip_prefix(project)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['_', '-']))
    };
    let kinds = [
        ("container", ["ps", "-a"], "{{.Names}}"),
        ("network", ["network", "ls"], "{{.Name}}"),
        ("volume", ["volume", "ls"], "{{.Name}}"),
    ];
    let mut left = Vec::new();
    for (kind, [list, options], format) in kinds {
        let names = |filter: &str| {
            let args = [list, options, "--filter", filter, "--format", format];
            let out = Command::new("docker")
                .args(args)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot start docker: {e}"))?;
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                return Err(format!("`docker {}` failed: {stderr}", args.join(" ")));
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            Ok(stdout.lines().map(str::to_string).collect::<Vec<_>>())
        };
        let mut found = names(&label)?;
        found.extend(names(&name)?.into_iter().filter(owned));
        found.sort();
        found.dedup();
        left.extend(found.into_iter().map(|n| (kind, n)));
    }
    Ok(left)
}

fn remove(left: &[(&str, String)]) {
    for (kind, name) in left {
        let args: &[&str] = match *kind {
            "container" => &["rm", "-f", "-v"],
            "network" => &["network", "rm"],
            _ => &["volume", "rm", "-f"],
        };
        // Best effort: the assertion reports what was found.
        let _ = Command::new("docker")
            .args(args)
            .arg(name)
            .stdin(Stdio::null())
            .output();
    }
}
