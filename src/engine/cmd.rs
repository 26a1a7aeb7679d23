//! `Cmd`: the only place that spawns a process, and so the one that knows
//! which children are still running. Its `Display` is a shell-quoted,
//! redacted line that can be pasted into a terminal, and its errors are
//! built from that line, never from the raw argv.

use std::fmt;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

use super::children::{self, Tracked, end};
use crate::redact::{is_secret_name, mask_assignment, redact};

pub use super::children::stop_children;
use crate::signals::Signals;

/// Who hears of the commands that run: each one echoed (`-v`) before it
/// starts, and each one's span from spawn to exit. Handed to whoever builds
/// the commands (see `Docker::find`) by whoever reports, so that spawning
/// knows nothing of printing.
pub trait Observer: Send + Sync {
    fn echo(&self, cmd: &Cmd);
    fn ran(&self, started: Instant, ended: Instant);
}

impl fmt::Debug for dyn Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

/// Tells `observer`, if any, that a command ran from `started` until now.
fn record(observer: Option<&Arc<dyn Observer>>, started: Instant) {
    if let Some(observer) = observer {
        observer.ran(started, Instant::now());
    }
}

/// How often a waiting child is checked against signals and deadlines.
const POLL: Duration = Duration::from_millis(20);

/// The Go garbage collector's target that the docker and compose v2
/// clients get, unless testbed's own environment sets one. They live for
/// moments and keep a small heap, so collecting a fifth as often costs a
/// few MB and saves about a tenth of a docker call's CPU and a third of a
/// compose call's (docs/internals.md, Speed).
const GOGC: &str = "400";

#[derive(Debug, Clone)]
pub struct Cmd {
    program: PathBuf,
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    label: Option<String>,
    echo: bool,
    observer: Option<Arc<dyn Observer>>,
    creates: bool,
    exit_is_payloads: bool,
}

/// How a spawned child shares the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Its own process group: a Ctrl-C on the terminal reaches testbed only,
    /// which then decides what to stop. Teardown runs like this, so that a
    /// second Ctrl-C cannot kill the cleanup.
    Own,
    /// testbed's group, for a test run that owns an interactive terminal.
    Shared,
}

/// How a child waited on with [`Child::wait`] ended.
#[derive(Debug)]
pub enum Waited {
    Done(Output),
    Interrupted,
    TimedOut,
}

impl Cmd {
    /// `program` is a resolved path; messages name it by its file name.
    pub fn new(program: impl Into<PathBuf>) -> Cmd {
        let program = program.into();
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| program.display().to_string());
        Cmd {
            program,
            name,
            args: Vec::new(),
            env: Vec::new(),
            label: None,
            echo: false,
            observer: None,
            creates: false,
            exit_is_payloads: false,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets a variable in the child's environment, off the argv.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Cmd {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The short name used in errors, e.g. "docker compose up".
    pub fn label(mut self, label: impl Into<String>) -> Cmd {
        self.label = Some(label.into());
        self
    }

    /// Have its observer show it before it runs (`-v`).
    pub fn echo(mut self, echo: bool) -> Cmd {
        self.echo = echo;
        self
    }

    /// Tells `observer` of the command: that it is about to run, when
    /// echoed, and how long it ran.
    pub fn observed_by(mut self, observer: Option<Arc<dyn Observer>>) -> Cmd {
        self.observer = observer;
        self
    }

    /// It creates containers, networks or volumes (a compose command): if
    /// it is killed, a request it had already sent may still create one on
    /// the daemon, and [`stop_children`] says since when.
    pub fn creates(mut self) -> Cmd {
        self.creates = true;
        self
    }

    /// Its exit code is its payload's, as `compose run` passes on the
    /// tests': a non-zero exit says nothing of what it left in flight. A
    /// command that creates and fails otherwise, such as an `up` that
    /// stopped at a name conflict while its other creates were still on
    /// their way to the daemon, counts as killed (see [`stop_children`]).
    pub fn exit_is_payloads(mut self) -> Cmd {
        self.exit_is_payloads = true;
        self
    }

    /// The name the command is shown under, instead of its file name: a
    /// program, or words that run the same program, as `docker compose`
    /// runs the compose plugin.
    pub fn shown_as(mut self, name: impl Into<String>) -> Cmd {
        self.name = name.into();
        self
    }

    fn show(&self) {
        if let (true, Some(observer)) = (self.echo, &self.observer) {
            observer.echo(self);
        }
    }

    /// Tells the observer the command ran from `started` until now.
    fn record(&self, started: Instant) {
        record(self.observer.as_ref(), started);
    }

    fn describe(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| match self.args.first() {
                Some(first) => format!("{} {first}", self.name),
                None => self.name.clone(),
            })
    }

    fn expression(&self, group: Group) -> duct::Expression {
        self.show();
        let mut expression = duct::cmd(&self.program, &self.args);
        if std::env::var_os("GOGC").is_none() {
            expression = expression.env("GOGC", GOGC);
        }
        for (name, value) in &self.env {
            expression = expression.env(name, value);
        }
        if group == Group::Own {
            expression = expression.before_spawn(|command| {
                command.process_group(0);
                Ok(())
            });
        }
        expression
            .before_spawn(|command| {
                die_with_testbed(command);
                Ok(())
            })
            .unchecked()
    }

    /// Runs to completion with stdout and stderr captured. Fails only when
    /// the program could not be started.
    pub fn output(&self) -> anyhow::Result<Output> {
        let started = Instant::now();
        let output = self
            .expression(Group::Own)
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .run()
            .with_context(|| format!("could not start `{}`", self.name))?;
        self.record(started);
        Ok(output)
    }

    /// Runs to completion with `input` as its stdin, such as a tar stream
    /// for `docker cp -`; a non-zero exit is an error.
    pub fn feed(&self, input: std::fs::File) -> anyhow::Result<()> {
        let started = Instant::now();
        let output = self
            .expression(Group::Own)
            .stdin_file(input)
            .stdout_capture()
            .stderr_capture()
            .run()
            .with_context(|| format!("could not start `{}`", self.name))?;
        self.record(started);
        self.check(&output)
    }

    /// Runs to completion and returns stdout; a non-zero exit is an error
    /// that carries the captured stderr.
    pub fn read(&self) -> anyhow::Result<String> {
        let output = self.output()?;
        self.check(&output)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Turns a non-zero exit into an error naming this command, with its
    /// stderr as the cause.
    pub fn check(&self, output: &Output) -> anyhow::Result<()> {
        if output.status.success() {
            return Ok(());
        }
        let status = match output.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "a signal".to_string(),
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = redact(stderr.trim());
        let error = if stderr.is_empty() {
            anyhow!("it printed nothing on stderr")
        } else {
            anyhow!(stderr)
        };
        Err(error.context(format!("`{}` failed with {status}", self.describe())))
    }

    /// Runs to completion with stdout and stderr both written to `file`, in
    /// the order the program writes them. A non-zero exit is an error.
    pub fn write_to(&self, file: std::fs::File) -> anyhow::Result<()> {
        let started = Instant::now();
        let output = self
            .expression(Group::Own)
            .stdin_null()
            .stderr_to_stdout()
            .stdout_file(file)
            .run()
            .with_context(|| format!("could not start `{}`", self.name))?;
        self.record(started);
        self.check(&output)
    }

    /// Runs the command with `consume` reading its stdout as it comes, then
    /// checks its exit status; stderr is captured for the error.
    pub fn stream<T>(
        &self,
        consume: impl FnOnce(&mut dyn Read) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        let mut reader = self
            .expression(Group::Own)
            .stdin_null()
            .stderr_capture()
            .reader()
            .with_context(|| format!("could not start `{}`", self.name))?;
        let consumed = consume(&mut reader);
        // Drain what `consume` left, so the program is not blocked on a full
        // pipe and its exit status can be read.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        let output = reader
            .try_wait()
            .with_context(|| format!("waiting for `{}`", self.describe()))?
            .cloned();
        self.record(started);
        if let Some(output) = output {
            self.check(&output)?;
        }
        consumed
    }

    /// Starts the command with stdout and stderr captured.
    pub fn spawn_captured(&self) -> anyhow::Result<Child> {
        self.start(
            self.expression(Group::Own)
                .stdin_null()
                .stdout_capture()
                .stderr_capture(),
            Group::Own,
        )
    }

    /// Starts the command with testbed's own stdin, stdout and stderr. In
    /// its own process group it cannot read a terminal (it would be stopped
    /// by SIGTTIN), so a terminal stdin is replaced by /dev/null.
    pub fn spawn_inherited(&self, group: Group) -> anyhow::Result<Child> {
        let mut expression = self.expression(group);
        if group == Group::Own && std::io::stdin().is_terminal() {
            expression = expression.stdin_null();
        }
        self.start(expression, group)
    }

    /// Like [`spawn_inherited`](Self::spawn_inherited), but its stdout
    /// passes through testbed on its way to ours. If our stdout closes, as
    /// with `testbed run | head`, the rest is read and dropped: the program
    /// never sees a broken pipe, so it ends as it would have.
    pub fn spawn_forwarded(&self, group: Group) -> anyhow::Result<Child> {
        let (mut reader, writer) = os_pipe::pipe().context("cannot create a pipe")?;
        let mut expression = self.expression(group).stdout_file(writer);
        if group == Group::Own && std::io::stdin().is_terminal() {
            expression = expression.stdin_null();
        }
        let mut child = self.start(expression, group)?;
        let (done, forwarded) = std::sync::mpsc::channel();
        child.forwarded = Some(forwarded);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            let mut open = true;
            loop {
                match reader.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) if open => {
                        let mut stdout = std::io::stdout().lock();
                        open = stdout
                            .write_all(&buffer[..n])
                            .and_then(|()| stdout.flush())
                            .is_ok();
                    }
                    Ok(_) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = done.send(());
        });
        Ok(child)
    }

    /// Starts the command with its stdout handed over line by line as it
    /// comes, and its stderr captured: for a stream that runs until it is
    /// killed. The lines end when its stdout closes.
    pub fn spawn_lines(&self) -> anyhow::Result<(Child, Receiver<String>)> {
        let (reader, writer) = os_pipe::pipe().context("cannot create a pipe")?;
        let expression = self
            .expression(Group::Own)
            .stdin_null()
            .stdout_file(writer)
            .stderr_capture();
        let child = self.start(expression, Group::Own)?;
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok((child, lines))
    }

    fn start(&self, expression: duct::Expression, group: Group) -> anyhow::Result<Child> {
        let handle = expression
            .start()
            .with_context(|| format!("could not start `{}`", self.name))?;
        let pid = handle.pids().first().map_or(0, |&pid| pid as libc::pid_t);
        let tracked = Tracked {
            pid,
            group: (group == Group::Own).then_some(pid),
            creates: self.creates,
            failure_unsettles: self.creates && !self.exit_is_payloads,
        };
        children::track(tracked);
        Ok(Child {
            handle,
            tracked,
            cmd: self.clone(),
            started: Instant::now(),
            forwarded: None,
        })
    }
}

/// Makes a child die with testbed. A testbed that is killed (SIGKILL, the
/// OOM killer) must not leave a `compose up` behind that goes on creating
/// containers after the reaper has removed the stack. The kernel sends the
/// signal when the thread that started the child ends, so every command is
/// waited for by the thread that starts it, or started by the main thread.
fn die_with_testbed(command: &mut std::process::Command) {
    // SAFETY: getpid(2) has no preconditions.
    let testbed = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and calls
    // only prctl(2), getppid(2) and kill(2), which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // testbed died between the fork and prctl.
            if libc::getppid() != testbed {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// A command started to outlive testbed, see [`Cmd::spawn_watchdog`].
pub struct Watchdog {
    child: std::process::Child,
    lines: Receiver<String>,
    /// Told of its waits when it is a docker command: they count as docker
    /// time in `-v`'s account.
    observer: Option<Arc<dyn Observer>>,
}

impl Cmd {
    /// Starts the command so that it outlives testbed: no signal when
    /// testbed dies, and a session of its own, so that neither a SIGKILL of
    /// testbed's process group nor the terminal's hangup or Ctrl-C reaches
    /// it. Its stdin is `stdin`, its stdout a pipe read with
    /// [`Watchdog::line`], its stderr testbed's.
    pub fn spawn_watchdog(&self, stdin: os_pipe::PipeReader) -> anyhow::Result<Watchdog> {
        self.show();
        let mut command = std::process::Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: setsid(2) is async-signal-safe.
        unsafe {
            command.pre_exec(|| match libc::setsid() {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start `{}`", self.name))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name("watchdog-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            })
            .context("cannot start a thread")?;
        Ok(Watchdog {
            child,
            lines,
            observer: self.observer.clone().filter(|_| self.name == "docker"),
        })
    }
}

impl Watchdog {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line it prints on stdout, waiting at most `timeout`; None
    /// once it closed stdout or when the time is up.
    pub fn line(&self, timeout: Duration) -> Option<String> {
        let started = Instant::now();
        let line = self.lines.recv_timeout(timeout).ok();
        record(self.observer.as_ref(), started);
        line
    }

    /// Waits at most `timeout` for it to exit, to the moment: a thread
    /// waits for it, and reaps it later if the time runs out.
    pub fn wait(self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        let (sender, exited) = mpsc::channel();
        let mut child = self.child;
        std::thread::spawn(move || {
            let _ = sender.send(child.wait());
        });
        let status = exited.recv_timeout(timeout).ok();
        record(self.observer.as_ref(), started);
        status?.ok()
    }

    /// Kills it and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = Vec::new();
        for (name, value) in &self.env {
            let value = if is_secret_name(name) { "***" } else { value };
            words.push(format!("{name}={}", shell_words::quote(value)));
        }
        // A name of several words is a command with its first arguments,
        // such as `docker compose`.
        for word in self.name.split(' ') {
            words.push(shell_words::quote(word).into_owned());
        }
        for arg in &self.args {
            words.push(shell_words::quote(&mask_assignment(arg)).into_owned());
        }
        f.write_str(&words.join(" "))
    }
}

/// A running command.
pub struct Child {
    handle: duct::Handle,
    tracked: Tracked,
    cmd: Cmd,
    started: Instant,
    /// Says when all of its stdout was passed on, if it is forwarded.
    forwarded: Option<std::sync::mpsc::Receiver<()>>,
}

impl Child {
    /// Waits until the child exits, a signal arrives, or the deadline passes.
    /// The child is left running in the last two cases.
    pub fn wait(&self, deadline: Option<Instant>, signals: &Signals) -> anyhow::Result<Waited> {
        loop {
            let step = match deadline {
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(Waited::TimedOut);
                    }
                    POLL.min(deadline - now)
                }
                None => POLL,
            };
            let finished = self
                .handle
                .wait_timeout(step)
                .with_context(|| format!("waiting for `{}`", self.cmd.describe()))?;
            if let Some(output) = finished {
                self.reaped(Some(output));
                // Its last words before ours; but a grandchild that kept
                // the pipe open must not hold us up.
                if let Some(forwarded) = &self.forwarded {
                    let _ = forwarded.recv_timeout(Duration::from_secs(2));
                }
                return Ok(Waited::Done(output.clone()));
            }
            if signals.received().is_some() {
                return Ok(Waited::Interrupted);
            }
        }
    }

    /// The child's output if it has exited, without waiting.
    pub fn try_wait(&self) -> anyhow::Result<Option<Output>> {
        let output = self
            .handle
            .try_wait()
            .with_context(|| format!("waiting for `{}`", self.cmd.describe()))?;
        if let Some(output) = output {
            self.reaped(Some(output));
        }
        Ok(output.cloned())
    }

    /// Kills the child and everything it started, in its process group or
    /// below it, waits until they are gone, and reaps it.
    pub fn kill(&self) {
        self.untrack();
        end(self.tracked);
        let _ = self.handle.wait();
        self.cmd.record(self.started);
    }

    /// It has exited and was reaped: nothing of it is left to stop. What a
    /// command that creates and failed had sent may still land.
    fn reaped(&self, output: Option<&Output>) {
        self.untrack();
        self.cmd.record(self.started);
        if output.is_some_and(|o| !o.status.success()) && self.tracked.failure_unsettles {
            children::unsettle();
        }
    }

    fn untrack(&self) {
        children::untrack(self.tracked);
    }

    pub fn cmd(&self) -> &Cmd {
        &self.cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::children::{Proc, descendants, processes};

    #[test]
    fn display_quotes_arguments_for_pasting() {
        let cmd = Cmd::new("/usr/bin/docker")
            .args(["compose", "-p", "tb-x", "run", "tests"])
            .args(["sh", "-c", "echo 'hi there'"]);
        assert_eq!(
            cmd.to_string(),
            r#"docker compose -p tb-x run tests sh -c 'echo '\''hi there'\'''"#
        );
    }

    #[test]
    fn display_masks_secret_env_and_assignments() {
        let cmd = Cmd::new("docker")
            .env("CI_JOB_TOKEN", "abc123")
            .env("TESTBED_PROJECT", "tb-x")
            .args(["run", "-e", "API_KEY=hunter2", "postgres://u:pw@db/x"]);
        assert_eq!(
            cmd.to_string(),
            "CI_JOB_TOKEN='***' TESTBED_PROJECT=tb-x docker run -e 'API_KEY=***' 'postgres://u:***@db/x'"
        );
    }

    #[test]
    fn failure_names_the_command_and_carries_stderr() {
        let cmd = Cmd::new("/bin/sh")
            .args(["-c", "echo boom >&2; exit 3"])
            .label("sh boom");
        let error = cmd.read().unwrap_err();
        let chain: Vec<String> = error.chain().map(|c| c.to_string()).collect();
        assert_eq!(chain, ["`sh boom` failed with exit status 3", "boom"]);
    }

    #[test]
    fn a_missing_program_is_not_a_failed_command() {
        let error = Cmd::new("/nonexistent/docker").output().unwrap_err();
        assert_eq!(error.to_string(), "could not start `docker`");
    }

    /// What an observer hears.
    #[derive(Default)]
    struct Heard {
        echoed: std::sync::Mutex<Vec<String>>,
        spans: std::sync::Mutex<Vec<Duration>>,
    }

    impl Observer for Heard {
        fn echo(&self, cmd: &Cmd) {
            self.echoed.lock().unwrap().push(cmd.to_string());
        }

        fn ran(&self, started: Instant, ended: Instant) {
            self.spans.lock().unwrap().push(ended - started);
        }
    }

    #[test]
    fn the_observer_hears_echoed_commands_and_how_long_each_ran() {
        let heard = Arc::new(Heard::default());
        let observer: Option<Arc<dyn Observer>> = Some(heard.clone());
        let sleep = Cmd::new("/bin/sleep").arg("0.1").observed_by(observer);
        sleep.clone().echo(true).output().unwrap();
        sleep.output().unwrap();
        assert_eq!(*heard.echoed.lock().unwrap(), ["sleep 0.1"]);
        let spans = heard.spans.lock().unwrap();
        assert_eq!(spans.len(), 2);
        assert!(spans.iter().all(|s| *s >= Duration::from_millis(100)));
    }

    #[test]
    fn wait_honours_the_deadline_and_kill_stops_the_group() {
        let child = Cmd::new("/bin/sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .spawn_captured()
            .unwrap();
        let started = Instant::now();
        let deadline = Instant::now() + Duration::from_millis(100);
        let waited = child.wait(Some(deadline), &Signals::default()).unwrap();
        assert!(matches!(waited, Waited::TimedOut));
        child.kill();
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// A teardown ends its own run's commands, and says since when a
    /// killed compose command's requests may still land; a run beside it
    /// (`--shards`, another thread) keeps its own.
    #[test]
    fn stop_children_ends_this_threads_children_only() {
        let alive = |pid| processes().iter().any(|p| p.pid == pid && p.alive);
        let sleep = || Cmd::new("/bin/sleep").arg("30");
        // A child dies with the thread that started it: that one waits.
        let (started, beside) = mpsc::channel();
        let (done, finish) = mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            let child = sleep().creates().spawn_captured().unwrap();
            started.send(child.tracked.pid).unwrap();
            let _ = finish.recv();
            child.kill();
        });
        let beside = beside.recv().unwrap();
        let quiet = sleep().spawn_captured().unwrap();
        let creating = sleep().creates().spawn_captured().unwrap();
        let before = Instant::now();
        let unsettled = stop_children().expect("a command that creates was killed");
        assert!(unsettled >= before);
        assert!(!alive(quiet.tracked.pid) && !alive(creating.tracked.pid));
        assert!(alive(beside), "another thread's child was killed");
        done.send(()).unwrap();
        other.join().unwrap();
    }

    /// What a kill ends is gone when it returns, grandchildren included:
    /// the `docker` CLI runs compose v2 as a child of its own.
    #[test]
    fn kill_returns_once_every_process_of_the_child_is_gone() {
        let alive_in = |group: libc::pid_t| {
            processes()
                .iter()
                .filter(|p| p.group == group && p.alive)
                .count()
        };
        let own = Cmd::new("/bin/sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn_captured()
            .unwrap();
        let group = own.tracked.pid;
        while alive_in(group) < 3 {
            std::thread::sleep(Duration::from_millis(10));
        }
        own.kill();
        assert_eq!(alive_in(group), 0);

        let shared = Cmd::new("/bin/sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn_inherited(Group::Shared)
            .unwrap();
        let pid = shared.tracked.pid;
        while descendants(&processes(), pid).len() < 3 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let below = descendants(&processes(), pid);
        shared.kill();
        let left: Vec<Proc> = processes()
            .into_iter()
            .filter(|p| p.alive && below.contains(&p.pid))
            .collect();
        assert_eq!(left, []);
    }
}
