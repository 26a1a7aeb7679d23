//! The real Docker engine, as the tests see it: the gate every engine test
//! passes first, `docker <args>`, and what a project left behind on it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::ROOT;

const PROJECT_LABEL: &str = "com.docker.compose.project";

/// The gate at the top of every real-engine test: the engine, both compose
/// flavors and the fixtures' image are made sure of once per test process,
/// and their absence fails the test, saying how to get them. (These tests
/// are `#[ignore]`d: `cargo test` alone never gets here.)
pub fn require() {
    static ENGINE: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(problem) = ENGINE.get_or_init(prepare) {
        panic!("{problem}");
    }
}

/// What to do when the engine is missing.
pub const FIX: &str = "start it with `bash scripts/setup-engine.sh` (it installs and starts \
     the engine, both compose flavors and the fixtures' image), or run `cargo test` without \
     `--include-ignored` to leave the real-engine tests out";

fn prepare() -> Result<(), String> {
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
                let said = [&out.stderr, &out.stdout]
                    .map(|text| String::from_utf8_lossy(text).trim().to_string());
                Err(format!(
                    "`{program} {}` failed ({}):\n{}",
                    args.join(" "),
                    out.status,
                    said.join("\n").trim()
                ))
            })
    };
    run("docker", &["info", "--format", "{{.ServerVersion}}"])
        .map_err(|e| format!("this test needs the Docker engine: {e}\n{FIX}"))?;
    run("docker", &["compose", "version"])
        .and_then(|()| run("docker-compose", &["version"]))
        .map_err(|e| format!("this test needs both compose flavors: {e}\n{FIX}"))?;
    run("bash", &["scripts/build-images.sh"])
        .map_err(|e| format!("cannot build the fixtures' image: {e}\n{FIX}"))
}

/// `docker <args>`, which must succeed; returns its stdout.
pub fn docker(args: &[&str]) -> String {
    docker_with(args, &[])
}

/// `docker <args>` with the variables `env` set, which must succeed;
/// returns its stdout.
pub fn docker_with(args: &[&str], env: &[(&str, &str)]) -> String {
    require();
    let out = Command::new("docker")
        .args(args)
        .envs(env.iter().copied())
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

/// `docker <args>`, best effort: whether it succeeded.
pub fn docker_quietly(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Asserts that the project left no container, network or volume, looking
/// by compose's label and by name. Whatever is found is removed first.
pub fn assert_clean(project: &str) {
    assert_clean_at(None, project);
}

/// [`assert_clean`] on the engine at `host` (`DOCKER_HOST`), or the default.
pub fn assert_clean_at(host: Option<&str>, project: &str) {
    assert!(!project.is_empty(), "no project name to check");
    let left = leftovers_at(host, project).unwrap_or_else(|e| panic!("{e}"));
    remove_at(host, &left);
    assert!(left.is_empty(), "project {project} left behind: {left:?}");
}

/// Where podman serves the Docker API: scripts/setup-engine.sh starts it.
pub const PODMAN_HOST: &str = "unix:///run/podman/podman.sock";
/// The socket of [`PODMAN_HOST`].
pub const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

/// The gate of the podman tests: podman answers on [`PODMAN_HOST`] and has
/// the fixtures' image.
pub fn require_podman() {
    static PODMAN: OnceLock<Result<(), String>> = OnceLock::new();
    let ready = PODMAN.get_or_init(|| {
        require();
        let out = docker_at(Some(PODMAN_HOST))
            .args(["image", "inspect", "--format", "{{.Id}}", "testbed-busybox:latest"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot start docker: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "these tests need podman's Docker API on {PODMAN_HOST} with testbed-busybox:latest: {}\n{FIX}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    });
    if let Err(problem) = ready {
        panic!("{problem}");
    }
}

/// `docker`, talking to the engine at `host`, or to the default one.
fn docker_at(host: Option<&str>) -> Command {
    let mut docker = Command::new("docker");
    if let Some(host) = host {
        docker.env("DOCKER_HOST", host);
    }
    docker
}

/// Removes, best effort, whatever `project` left on the engine.
pub fn remove_project(project: &str) {
    remove(&leftovers(project).unwrap_or_default());
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

/// Waits until `condition` holds, at most `timeout`; panics naming `what`.
pub fn wait_for(what: &str, timeout: Duration, condition: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(started.elapsed() < timeout, "no {what} within {timeout:?}");
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

/// Everything of `project` on the engine, as (kind, name).
pub fn leftovers(project: &str) -> Result<Vec<(&'static str, String)>, String> {
    leftovers_at(None, project)
}

/// [`leftovers`] on the engine at `host`, or the default one.
pub fn leftovers_at(
    host: Option<&str>,
    project: &str,
) -> Result<Vec<(&'static str, String)>, String> {
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
            let out = docker_at(host)
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
    remove_at(None, left);
}

fn remove_at(host: Option<&str>, left: &[(&str, String)]) {
    for (kind, name) in left {
        let args: &[&str] = match *kind {
            "container" => &["rm", "-f", "-v"],
            "network" => &["network", "rm"],
            _ => &["volume", "rm", "-f"],
        };
        // Best effort: the assertion reports what was found.
        let _ = docker_at(host)
            .args(args)
            .arg(name)
            .stdin(Stdio::null())
            .output();
    }
}

/// Forwards TCP connections on a loopback port to the engine's socket, so
/// that testbed talks to a daemon through `DOCKER_HOST=tcp://…`, as a job
/// does with a Docker-in-Docker service.
pub fn tcp_daemon() -> String {
    tcp_daemon_at("/var/run/docker.sock")
}

/// [`tcp_daemon`] for the engine serving the socket at `socket`.
pub fn tcp_daemon_at(socket: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(engine) = UnixStream::connect(socket) else {
                continue;
            };
            pipe(client, engine);
        }
    });
    format!("tcp://{address}")
}

fn pipe(client: TcpStream, engine: UnixStream) {
    let (mut client_in, mut engine_in) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
    let (mut client_out, mut engine_out) = (client, engine);
    std::thread::spawn(move || {
        copy(&mut client_in, &mut engine_out);
        let _ = engine_out.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        copy(&mut engine_in, &mut client_out);
        let _ = client_out.shutdown(Shutdown::Write);
    });
}

fn copy(from: &mut impl Read, to: &mut impl Write) {
    let _ = std::io::copy(from, to);
}
