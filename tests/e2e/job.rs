//! testbed inside a CI job container, a layer on the common harness: a
//! `JobContainer` builder that starts a container of `testbed-job:latest`
//! (scripts/build-job-image.sh; the variable `TESTBED_JOB_IMAGE` names
//! another) with the host's Docker socket mounted, as GitLab's docker
//! executor runs a job, so the stacks testbed starts are its siblings; and
//! the tests that run `testbed self-id` and `testbed run` in one.
//!
//! ```ignore
//! let job = JobContainer::new(flavor)
//!     .hostname("ci-runner-7")
//!     .copy_fixture("fixtures/basic")
//!     .start();
//! let out = job.testbed(Testbed::run().project("pass")).output();
//! assert_eq!(out.code, Some(0), "{out}");
//! ```
//!
//! The image is built once per test process, by the gate `job_ready`; a
//! build that fails fails the test with the script's error.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::artifacts::JUNIT;
use crate::common::engine::{FIX, assert_clean, docker, docker_quietly, require};
use crate::common::{
    Flavor, Output, ROOT, RUN_TIMEOUT, Running, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor,
    per_flavor_cases,
};

/// The image, as scripts/build-job-image.sh names it: `TESTBED_JOB_IMAGE`,
/// else testbed-job:latest.
pub fn image() -> String {
    std::env::var("TESTBED_JOB_IMAGE")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "testbed-job:latest".into())
}
/// Every container and volume these tests create carries this label, so
/// that whatever a killed test process leaked can be found.
pub const LABEL: &str = "org.testbed.e2e.job";
/// GitLab's builds volume and a project checkout in it (`CI_PROJECT_DIR`).
pub const BUILDS: &str = "/builds";
pub const WORKSPACE: &str = "/builds/group/project";
/// How long a job container lives if its test process dies without
/// removing it: it is started with `--rm`, so it goes when `sleep` ends.
const LIFETIME: &str = "3600";

/// The gate at the top of every job test: the engine gate, then the job
/// image, built once per test process. A build that fails fails the test,
/// with the script's error.
pub fn job_ready() {
    require();
    static IMAGE_BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(problem) = IMAGE_BUILT.get_or_init(build_image) {
        panic!("{problem}");
    }
}

fn build_image() -> Result<(), String> {
    let started = Instant::now();
    let out = Command::new("bash")
        .arg("scripts/build-job-image.sh")
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start bash for scripts/build-job-image.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cannot build {}: `bash scripts/build-job-image.sh` failed ({}):\n{}{}\
             (the job-container tests need it; `--skip job` leaves them out)\n{FIX}",
            image(),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
        ));
    }
    eprintln!("note: {} ready in {:.1?}", image(), started.elapsed());
    remove_stale_volumes();
    Ok(())
}

/// Workspace volumes whose container is gone: a test process was killed
/// before its `Drop` ran (the container itself went with `--rm`). Volumes
/// are created with their container (`--mount`), so none of a live test is
/// ever dangling.
fn remove_stale_volumes() {
    let filter = format!("label={LABEL}");
    let Ok(out) = Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", &filter])
        .args(["--filter", "dangling=true"])
        .stdin(Stdio::null())
        .output()
    else {
        return;
    };
    for volume in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = docker_quietly(&["volume", "rm", volume]);
    }
}

/// Where the job's workspace lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workspace {
    /// A fresh named volume at /builds, as GitLab's docker executor does.
    Volume,
    /// A directory in the container's own writable layer.
    Layer,
    /// A directory of the host bind-mounted at /builds, as GitLab's builds
    /// directory and local runners have it.
    HostDir,
    /// A directory of the host bind-mounted at its own path, and the
    /// workspace itself, as a runner that mounts its builds directory at the
    /// same path has it: the daemon finds the workspace's paths as they are.
    HostPath,
}

/// How to start a job container; `start` starts it.
#[must_use]
pub struct JobContainer {
    flavor: Flavor,
    image: Option<String>,
    hostname: Option<String>,
    cgroupns_private: bool,
    workspace: Workspace,
    fixtures: Vec<String>,
    env: Vec<(String, String)>,
    labels: Vec<(String, String)>,
}

impl JobContainer {
    /// A job whose `testbed run`s use `flavor`, with its workspace
    /// (/builds/group/project) on a fresh volume.
    pub fn new(flavor: Flavor) -> JobContainer {
        JobContainer {
            flavor,
            image: None,
            hostname: None,
            cgroupns_private: false,
            workspace: Workspace::Volume,
            fixtures: Vec::new(),
            env: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// The job's image, instead of `image()`: one that holds testbed, the
    /// docker CLI, both compose flavors and `sleep`.
    pub fn image(mut self, name: &str) -> JobContainer {
        self.image = Some(name.into());
        self
    }

    /// `--hostname`: GitLab names job containers `runner-…-concurrent-N`,
    /// so `HOSTNAME` is no container id.
    pub fn hostname(mut self, name: &str) -> JobContainer {
        self.hostname = Some(name.into());
        self
    }

    /// `--cgroupns=private`: /proc/self/cgroup and /proc/1/cpuset then name
    /// no container.
    pub fn cgroupns_private(mut self) -> JobContainer {
        self.cgroupns_private = true;
        self
    }

    /// The workspace on a fresh named volume mounted at /builds (the default).
    pub fn workspace_volume(mut self) -> JobContainer {
        self.workspace = Workspace::Volume;
        self
    }

    /// The workspace in the container's writable layer: no volume at all.
    pub fn workspace_on_layer(mut self) -> JobContainer {
        self.workspace = Workspace::Layer;
        self
    }

    /// The workspace on a fresh directory of the host, bind-mounted at
    /// /builds.
    pub fn workspace_host_dir(mut self) -> JobContainer {
        self.workspace = Workspace::HostDir;
        self
    }

    /// The workspace on a fresh directory of the host, bind-mounted at its
    /// own path, which is the workspace (instead of /builds/group/project).
    pub fn workspace_host_path(mut self) -> JobContainer {
        self.workspace = Workspace::HostPath;
        self
    }

    /// Copies the contents of `dir` (relative to the repository) into the
    /// workspace, as a checkout of that project: `fixtures/basic` puts its
    /// compose.yml at the workspace's top, where `testbed run` finds it.
    pub fn copy_fixture(mut self, dir: &str) -> JobContainer {
        self.fixtures.push(dir.into());
        self
    }

    /// A variable of the job's environment (`docker run -e`).
    pub fn env(mut self, name: &str, value: &str) -> JobContainer {
        self.env.push((name.into(), value.into()));
        self
    }

    /// A label on the job container, such as the GitLab runner's
    /// `com.gitlab.gitlab-runner.job.id`.
    pub fn label(mut self, name: &str, value: &str) -> JobContainer {
        self.labels.push((name.into(), value.into()));
        self
    }

    /// Starts the container detached, `sleep` as its first process, and
    /// copies the fixtures in.
    pub fn start(self) -> Job {
        job_ready();
        static JOBS: AtomicUsize = AtomicUsize::new(0);
        let n = JOBS.fetch_add(1, Ordering::SeqCst);
        let name = format!("tbjob-{}-{n}", std::process::id());
        let owner = format!("{LABEL}={}", std::process::id());
        let mut args: Vec<String> = ["run", "-d", "--rm", "--name", &name, "--label", &owner]
            .map(String::from)
            .into();
        args.extend([
            "-v".into(),
            "/var/run/docker.sock:/var/run/docker.sock".into(),
        ]);
        let volume = (self.workspace == Workspace::Volume).then(|| {
            // Created with the container, so it is never dangling while the
            // container lives (see `remove_stale_volumes`).
            args.push("--mount".into());
            args.push(format!(
                "type=volume,src={name}-builds,dst={BUILDS},volume-label={owner}"
            ));
            format!("{name}-builds")
        });
        let host_dir = matches!(self.workspace, Workspace::HostDir | Workspace::HostPath)
            .then(|| tempfile::tempdir().unwrap());
        let (workspace, host_workspace) = match &host_dir {
            Some(dir) if self.workspace == Workspace::HostPath => {
                let path = dir.path().to_str().unwrap().to_string();
                args.extend(["-v".into(), format!("{path}:{path}")]);
                (path, Some(dir.path().to_path_buf()))
            }
            Some(dir) => {
                args.extend(["-v".into(), format!("{}:{BUILDS}", dir.path().display())]);
                let below = WORKSPACE
                    .strip_prefix(BUILDS)
                    .unwrap()
                    .trim_start_matches('/');
                (WORKSPACE.to_string(), Some(dir.path().join(below)))
            }
            None => (WORKSPACE.to_string(), None),
        };
        args.extend(["-w".into(), workspace.clone()]);
        if let Some(hostname) = &self.hostname {
            args.extend(["--hostname".into(), hostname.clone()]);
        }
        if self.cgroupns_private {
            args.push("--cgroupns=private".into());
        }
        for (key, value) in &self.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        // `-e NAME` takes the value from docker's own environment, off argv.
        let mut cmd = Command::new("docker");
        for (key, value) in &self.env {
            args.extend(["-e".into(), key.clone()]);
            cmd.env(key, value);
        }
        args.push(self.image.clone().unwrap_or_else(image));
        args.extend(["sleep".into(), LIFETIME.into()]);
        let out = cmd
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("cannot start docker");
        // From here on, Drop removes whatever was created.
        let mut job = Job {
            id: String::new(),
            name,
            volume,
            workspace,
            host_workspace,
            _host_dir: host_dir,
            flavor: self.flavor,
        };
        assert!(
            out.status.success(),
            "`docker {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        job.id = docker(&["inspect", "--format", "{{.Id}}", &job.name])
            .trim()
            .to_string();
        let mkdir = job.exec(&["mkdir", "-p", &job.workspace]);
        assert_eq!(mkdir.code, Some(0), "{mkdir}");
        for fixture in &self.fixtures {
            let from = format!("{ROOT}/{fixture}/.");
            docker(&["cp", &from, &format!("{}:{}", job.id, job.workspace)]);
        }
        job
    }
}

/// A running job container. Dropping it removes the container and its
/// volume.
pub struct Job {
    id: String,
    name: String,
    volume: Option<String>,
    /// Where commands run: /builds/group/project, or the host directory's
    /// path (`workspace_host_path`).
    workspace: String,
    /// The workspace's path on the host, when it is on a host directory.
    host_workspace: Option<std::path::PathBuf>,
    /// The host's directory, removed after the container.
    _host_dir: Option<tempfile::TempDir>,
    flavor: Flavor,
}

impl Job {
    /// The container's full id, as `docker inspect` reports it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The workspace, where commands run.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Where `path` (relative to the workspace) is on the host, for a
    /// workspace on a host directory.
    pub fn on_host(&self, path: &str) -> Option<std::path::PathBuf> {
        Some(self.host_workspace.as_ref()?.join(path))
    }

    /// Runs `args` in the workspace (`docker exec`), to the end.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut cmd = self.docker_exec(&[]);
        cmd.args(args);
        Running::start(&mut cmd, None).finish(RUN_TIMEOUT)
    }

    /// Starts `args` in the workspace, its output piped, to watch and
    /// signal it.
    pub fn spawn(&self, args: &[&str]) -> Running {
        self.spawn_with(args, &[], None)
    }

    /// `testbed` with the command line of `testbed` (its `--compose` the
    /// job's flavor), in the workspace.
    pub fn testbed(&self, testbed: Testbed) -> InJob<'_> {
        InJob { job: self, testbed }
    }

    /// `spawn`, with variables for `docker exec -e` and the project to
    /// clean up after.
    ///
    /// Signals go through `docker exec <job> kill <pid>`: killing the
    /// `docker exec` client here does not reach the process in the
    /// container (the client even exits 0 and leaves it running), and
    /// `docker kill` reaches only PID 1.
    fn spawn_with<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        env: &[(String, String)],
        project: Option<String>,
    ) -> Running {
        static SPAWNED: AtomicUsize = AtomicUsize::new(0);
        let n = SPAWNED.fetch_add(1, Ordering::SeqCst);
        // A shell writes the command's pid where `kill` finds it, then
        // becomes the command.
        let pid_file = format!("/tmp/spawned-{n}.pid");
        let mut cmd = self.docker_exec(env);
        cmd.args(["sh", "-c", r#"echo $$ >"$0" && exec "$@""#, &pid_file]);
        cmd.args(args);
        let container = self.id.clone();
        let kill = move |signal: libc::c_int| {
            let pid = wait_for_pid(&container, &pid_file, Duration::from_secs(30))
                .ok_or_else(|| format!("no pid was written to {pid_file}"))?;
            let kill = ["exec", &container, "kill", &format!("-{signal}"), &pid];
            if docker_quietly(&kill) {
                Ok(())
            } else {
                Err(format!("`docker {}` failed", kill.join(" ")))
            }
        };
        Running::start(&mut cmd, None)
            .owning(project, true)
            .killed_by(Box::new(kill))
    }

    /// The contents of `path` (relative to the workspace), or None if it
    /// cannot be read.
    pub fn read_file(&self, path: &str) -> Option<String> {
        let out = self.exec(&["cat", "--", path]);
        (out.code == Some(0)).then(|| out.stdout.clone())
    }

    /// Everything under the directory `path` (relative to the workspace),
    /// relative to it and sorted; directories end in `/`. Empty when `path`
    /// does not exist.
    pub fn list(&self, path: &str) -> Vec<String> {
        let script = r#"cd -- "$1" 2>/dev/null || exit 0
            find . -mindepth 1 -type d | sed 's|$|/|'
            find . -mindepth 1 ! -type d"#;
        let out = self.exec(&["sh", "-c", script, "sh", path]);
        assert_eq!(out.code, Some(0), "listing {path} failed\n{out}");
        let mut found: Vec<String> = out
            .stdout
            .lines()
            .map(|l| l.strip_prefix("./").unwrap_or(l).to_string())
            .collect();
        found.sort();
        found
    }

    /// `docker exec -w <workspace> [-e NAME]… <container>`, the values of
    /// `env` in docker's own environment.
    fn docker_exec(&self, env: &[(String, String)]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.args(["exec", "-w", &self.workspace]);
        for (key, value) in env {
            cmd.args(["-e", key]).env(key, value);
        }
        cmd.arg(&self.id);
        cmd
    }
}

/// Polls for the pid a spawned command's wrapper wrote; None if there is
/// none by `timeout`. Never panics: `Drop` uses it.
fn wait_for_pid(container: &str, pid_file: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let out = Command::new("docker")
            .args(["exec", container, "cat", pid_file])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if pid.parse::<u32>().is_ok() {
            return Some(pid);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let container = if self.id.is_empty() {
            &self.name
        } else {
            &self.id
        };
        let _ = docker_quietly(&["rm", "-f", "-v", container]);
        if let Some(volume) = &self.volume {
            // The engine may take a moment to let go of a removed
            // container's volume.
            for _ in 0..50 {
                if docker_quietly(&["volume", "rm", volume])
                    || !docker_quietly(&["volume", "inspect", volume])
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A testbed command line to run in a job's workspace.
#[must_use]
pub struct InJob<'a> {
    job: &'a Job,
    testbed: Testbed,
}

impl InJob<'_> {
    /// Runs it to the end.
    pub fn output(self) -> Output {
        self.spawn().finish(RUN_TIMEOUT)
    }

    /// Starts it, its output piped, to watch and signal it.
    pub fn spawn(self) -> Running {
        let line = self.testbed.flavor(self.job.flavor).command_line();
        let mut args = vec!["testbed".to_string()];
        args.extend(line.args);
        self.job.spawn_with(&args, &line.env, line.project)
    }
}

// ---- self-id --------------------------------------------------------------

/// Asserts that `testbed self-id` in `job` prints exactly its full id.
fn assert_self_id(job: &Job) {
    let out = job.exec(&["testbed", "self-id", "-v"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, format!("{}\n", job.id()), "{out}");
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn self_id_in_a_job_container_is_its_full_id() {
    job_ready();
    let job = JobContainer::new(Flavor::V2).start();
    assert_self_id(&job);
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn self_id_holds_when_the_hostname_is_no_container_id() {
    job_ready();
    let job = JobContainer::new(Flavor::V2)
        .hostname("ci-runner-7")
        .start();
    let hostname = job.exec(&["sh", "-c", "echo \"$HOSTNAME $(hostname)\""]);
    assert_eq!(hostname.stdout, "ci-runner-7 ci-runner-7\n", "{hostname}");
    assert_self_id(&job);
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn self_id_holds_in_a_private_cgroup_namespace() {
    job_ready();
    let job = JobContainer::new(Flavor::V2).cgroupns_private().start();
    // The premise: the cgroup files name no container here.
    for file in ["/proc/self/cgroup", "/proc/1/cpuset"] {
        let text = job.read_file(file).unwrap_or_default();
        assert!(
            !text.is_empty() && !text.contains(job.id()),
            "{file} names the container despite --cgroupns=private:\n{text}"
        );
    }
    assert_self_id(&job);
}

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn self_id_finds_a_gitlab_job_by_its_runner_labels() {
    job_ready();
    // Unique, so that no other container carries these labels.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let job_id = format!("{}{nanos:09}", std::process::id());
    let job = JobContainer::new(Flavor::V2)
        .hostname("runner-abc123-project-42-concurrent-0")
        .cgroupns_private()
        .env("GITLAB_CI", "true")
        .env("CI_JOB_ID", &job_id)
        .label("com.gitlab.gitlab-runner.job.id", &job_id)
        .label("com.gitlab.gitlab-runner.type", "build")
        .start();
    assert_self_id(&job);
    let out = job.exec(&["testbed", "self-id", "-v"]);
    let confirmed = format!(
        "confirmed the container labelled com.gitlab.gitlab-runner.job.id={job_id}, \
         com.gitlab.gitlab-runner.type=build from the GitLab job's labels"
    );
    assert!(out.stderr.contains(&confirmed), "{out}");
}

// ---- testbed run ----------------------------------------------------------

fn run_in_a_job_container_passes_and_leaves_nothing(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .hostname("ci-runner-7")
        .copy_fixture("fixtures/basic")
        .start();
    let out = job
        .testbed(Testbed::run().project("pass").args(["-v"]))
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "tests ran\n", "{out}");
    assert!(out.stderr.contains("tests passed"), "{out}");
    // The flavor asked for is the one that ran, and only it.
    let other = flavor.other();
    let ran = |f: Flavor| {
        let echo = format!("+ {} -p {} ", f.compose(), out.project);
        out.stderr.lines().any(|l| l.starts_with(&echo))
    };
    assert!(ran(flavor) && !ran(other), "{out}");
    assert_clean(&out.project);
}
per_flavor!(
    run_in_a_job_container_passes_and_leaves_nothing,
    crate::job::job_ready
);

fn run_in_a_job_container_exits_with_the_tests_code(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .workspace_on_layer()
        .copy_fixture("fixtures/basic")
        .start();
    // The code travels as a variable: docker exec, testbed, the test container.
    let out = job
        .testbed(
            Testbed::run()
                .project("code")
                .env("EXIT_CODE", "42")
                .args(["-e", "EXIT_CODE"])
                .command(["sh", "-c", "exit $EXIT_CODE"]),
        )
        .output();
    assert_eq!(out.code, Some(42), "{out}");
    assert!(out.stderr.contains("tests failed (exit 42)"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(
    run_in_a_job_container_exits_with_the_tests_code,
    crate::job::job_ready
);

fn sigterm_in_a_job_container_exits_143_and_tears_down(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .copy_fixture("fixtures/slow-test")
        .start();
    let run = job.testbed(Testbed::run().project("sigterm")).spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    // The stack is a sibling of the job container, on the same engine. (Not
    // `docker ps` without -a: the engine may report the container running
    // only a moment after its first output.)
    let project = run.project().unwrap().to_string();
    let name = format!("{project}-tests-run");
    let tests = docker(&["ps", "-aq", "--filter", &format!("name={name}")]);
    assert!(!tests.trim().is_empty(), "no {name} on the engine");
    run.signal(libc::SIGTERM);
    let out = run.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    assert!(out.stderr.contains("interrupted by SIGTERM"), "{out}");
    assert_clean(&out.project);
}
per_flavor!(
    sigterm_in_a_job_container_exits_143_and_tears_down,
    crate::job::job_ready
);

// ---- the helper itself ----------------------------------------------------

/// Fixtures, the environment and reading back work the same on a volume
/// and on the container's layer, and the workspace is where GitLab has it.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn job_workspace_holds_the_fixture_and_what_commands_write() {
    job_ready();
    for (job, volume) in [
        (JobContainer::new(Flavor::V2).workspace_volume(), true),
        (JobContainer::new(Flavor::V2).workspace_on_layer(), false),
    ] {
        let job = job
            .copy_fixture("fixtures/basic")
            .env("GREETING", "hello from the job")
            .start();
        assert_eq!(job.list("."), ["compose.yml"]);
        let out = job.exec(&[
            "sh",
            "-c",
            "mkdir -p out/sub && echo \"$GREETING\" > out/sub/a.txt",
        ]);
        assert_eq!(out.code, Some(0), "{out}");
        assert_eq!(job.list("out"), ["sub/", "sub/a.txt"]);
        assert_eq!(
            job.read_file("out/sub/a.txt").as_deref(),
            Some("hello from the job\n")
        );
        assert_eq!(job.read_file("nope.txt"), None);
        assert!(job.list("nope").is_empty());
        let mounts = docker(&[
            "inspect",
            "--format",
            "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}",
            job.id(),
        ]);
        assert_eq!(
            mounts.contains(&format!("volume:{BUILDS}")),
            volume,
            "{mounts}"
        );
        assert!(mounts.contains("bind:/var/run/docker.sock"), "{mounts}");
    }
}

/// `signal` reaches the spawned process inside the container, which
/// killing the host-side `docker exec` client would not.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn job_signal_reaches_the_spawned_process() {
    job_ready();
    let job = JobContainer::new(Flavor::V2).workspace_on_layer().start();
    let script = "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 1; done";
    let running = job.spawn(&["sh", "-c", script]);
    running.wait_for_stdout("ready", Duration::from_secs(30));
    running.signal(libc::SIGTERM);
    let out = running.finish(Duration::from_secs(30));
    assert_eq!(out.code, Some(7), "{out}");
    assert_eq!(out.stdout, "ready\ngot TERM\n", "{out}");
}

/// Dropping a job removes its container and its volume.
#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn dropped_job_leaves_no_container_or_volume() {
    job_ready();
    let job = JobContainer::new(Flavor::V2).start();
    let id = job.id().to_string();
    let volume = job.volume.clone().expect("a workspace volume");
    drop(job);
    assert!(
        !docker_quietly(&["container", "inspect", &id]),
        "{id} is still there"
    );
    assert!(
        !docker_quietly(&["volume", "inspect", &volume]),
        "{volume} is still there"
    );
}

// ---- the stack's own bind mounts --------------------------------------------

/// fixtures/laptop mounts `./www` into its api: from a job container whose
/// workspace is a volume, testbed repoints it to where the daemon finds it,
/// so the tests get the page.
fn the_stacks_own_bind_mounts_work_in_a_job_container(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .copy_fixture("fixtures/laptop")
        .start();
    let out = job
        .testbed(Testbed::run().project("own-mounts").args(["-v"]))
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "api-ok\n", "{out}");
    let repointed = format!("testbed: api mounts {WORKSPACE}/www: the daemon finds it at ");
    assert!(out.stderr.contains(&repointed), "{out}");
    assert_clean(&out.project);
}
per_flavor!(
    the_stacks_own_bind_mounts_work_in_a_job_container,
    crate::job::job_ready
);

/// With the workspace on the job container's own layer, the daemon cannot
/// see `./www`: testbed seeds it, says so, and the tests get the page.
fn a_bind_mount_the_daemon_cannot_see_is_seeded(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .workspace_on_layer()
        .copy_fixture("fixtures/laptop")
        .start();
    let out = job
        .testbed(Testbed::run().project("hidden-mounts").args(["-v"]))
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "api-ok\n", "{out}");
    let seeded = format!(
        "testbed: api mounts {WORKSPACE}/www: the daemon cannot see it (it is on the own filesystem of testbed's container, not on one of its volumes or bind mounts), so it is seeded"
    );
    assert!(out.stderr.contains(&seeded), "{out}");
    assert_clean(&out.project);
}
per_flavor!(
    a_bind_mount_the_daemon_cannot_see_is_seeded,
    crate::job::job_ready
);

// ---- artifacts --------------------------------------------------------------

/// The artifacts directory in the job's workspace, as seed 002 has it.
const ARTIFACTS: &str = "build/api_tests";

/// Runs the artifacts fixture in `job` with `--artifacts build/api_tests`
/// and checks that the files and logs are in the job's workspace, brought
/// there by `strategy`.
fn assert_artifacts_arrive(job: &Job, scenario: &str, strategy: &str) {
    let out = job
        .testbed(
            Testbed::run()
                .project(scenario)
                .args(["-v", "--artifacts", ARTIFACTS]),
        )
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    let chosen = format!("testbed: artifacts: {strategy} (");
    assert!(out.stderr.contains(&chosen), "{out}");
    let dir = format!("{WORKSPACE}/{ARTIFACTS}");
    assert_eq!(
        job.read_file(&format!("{dir}/result.txt")).as_deref(),
        Some("done\n"),
        "{out}"
    );
    assert_eq!(
        job.list(&dir),
        [
            "logs/",
            "logs/dep.log",
            "logs/tests.log",
            "reports/",
            "reports/junit.xml",
            "result.txt",
            "timeline.html"
        ],
        "{out}"
    );
    let dep = job.read_file(&format!("{dir}/logs/dep.log")).unwrap();
    assert!(dep.contains("Z dep says hello"), "{dep}");
    assert_clean(&out.project);
}

fn artifacts_share_the_job_volume(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .copy_fixture("fixtures/artifacts")
        .start();
    assert_artifacts_arrive(&job, "art-share", "volumes-from");
    let out = job
        .testbed(Testbed::run().project("art-why").args([
            "--dry-run",
            "-v",
            "--artifacts",
            ARTIFACTS,
        ]))
        .output();
    let reason = format!(
        "testbed runs in container {}, and {WORKSPACE}/{ARTIFACTS} is on its mount {BUILDS})",
        &job.id()[..12]
    );
    assert!(out.stderr.contains(&reason), "{out}");
}
per_flavor!(artifacts_share_the_job_volume, crate::job::job_ready);

/// A job container made by `made` from a plain one, with the artifacts
/// fixture: the artifacts arrive in its workspace by `strategy`.
fn artifacts_arrive_in_a_job(
    flavor: Flavor,
    made: fn(JobContainer) -> JobContainer,
    scenario: &str,
    strategy: &str,
) {
    let job = made(JobContainer::new(flavor))
        .copy_fixture("fixtures/artifacts")
        .start();
    assert_artifacts_arrive(&job, scenario, strategy);
}
per_flavor_cases!(artifacts_arrive_in_a_job, gate = crate::job::job_ready, {
    artifacts_share_the_job_volume_with_a_custom_hostname: (
        |job| job.hostname("runner-abc123-project-42-concurrent-0"),
        "art-host",
        "volumes-from",
    );
    artifacts_share_the_job_volume_in_a_private_cgroup_namespace: (
        JobContainer::cgroupns_private,
        "art-cgns",
        "volumes-from",
    );
    artifacts_on_the_job_layer_are_copied: (
        JobContainer::workspace_on_layer,
        "art-layer",
        "copy",
    );
});

fn artifacts_are_copied_when_told_the_daemon_is_remote(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .copy_fixture("fixtures/artifacts")
        .start();
    let out = job
        .testbed(
            Testbed::run()
                .project("art-remote")
                .env("TESTBED_ARTIFACTS_MODE", "copy")
                .args(["--artifacts", ARTIFACTS]),
        )
        .output();
    assert_eq!(out.code, Some(0), "{out}");
    let dir = format!("{WORKSPACE}/{ARTIFACTS}");
    assert_eq!(
        job.read_file(&format!("{dir}/reports/junit.xml"))
            .as_deref(),
        Some(JUNIT)
    );
    assert!(
        job.read_file(&format!("{dir}/logs/tests.log")).is_some(),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(
    artifacts_are_copied_when_told_the_daemon_is_remote,
    crate::job::job_ready
);

fn sigterm_in_a_job_container_still_collects_the_artifacts(flavor: Flavor) {
    let job = JobContainer::new(flavor)
        .copy_fixture("fixtures/artifacts")
        .start();
    let run = job
        .testbed(
            Testbed::run()
                .project("art-term")
                .args(["--artifacts", ARTIFACTS])
                .command([
                    "sh",
                    "-c",
                    "echo partial > $ARTIFACTS_DIR/partial.txt; echo tests started; sleep 300",
                ]),
        )
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    run.signal(libc::SIGTERM);
    let out = run.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    let dir = format!("{WORKSPACE}/{ARTIFACTS}");
    assert_eq!(
        job.read_file(&format!("{dir}/partial.txt")).as_deref(),
        Some("partial\n"),
        "{out}"
    );
    let tests = job
        .read_file(&format!("{dir}/logs/tests.log"))
        .unwrap_or_default();
    assert!(tests.contains("Z tests started"), "{tests}\n{out}");
    assert!(
        job.read_file(&format!("{dir}/logs/dep.log")).is_some(),
        "{out}"
    );
    assert_clean(&out.project);
}
per_flavor!(
    sigterm_in_a_job_container_still_collects_the_artifacts,
    crate::job::job_ready
);

#[test]
#[ignore = "needs the Docker engine: cargo test -- --include-ignored"]
fn doctor_in_a_job_container_names_it_and_the_strategy() {
    job_ready();
    let job = JobContainer::new(Flavor::V2)
        .hostname("ci-runner-7")
        .start();
    let out = job.exec(&["testbed", "doctor", "--artifacts", ARTIFACTS]);
    assert_eq!(out.code, Some(0), "{out}");
    let line = |start: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` line\n{out}"))
            .to_string()
    };
    assert_eq!(
        line("✓ container: "),
        format!("✓ container: {}, confirmed by the daemon", job.id())
    );
    assert!(
        line("· artifacts: ").starts_with(&format!(
            "· artifacts: volumes-from for {WORKSPACE}/{ARTIFACTS} (testbed runs in container"
        )),
        "{out}"
    );
    assert!(line("✓ compose: ").contains("docker compose 2."), "{out}");
}
