//! A daemon over ssh: a real `sshd` (Debian's openssh-server) on a free
//! loopback port, started by the test with host and client keys of its
//! own, in front of this machine's engine; testbed runs with
//! `DOCKER_HOST=ssh://root@127.0.0.1:<port>`. A passing and a failing run,
//! and a run killed under its tests, which the reaper cleans up over ssh.
//!
//! The docker CLI, and compose v2 through it, run the `ssh` binary, which
//! reads the user's config from the passwd entry's home, not `$HOME`: an
//! `ssh` first on PATH adds `-F <the test's config>`. Compose v1 is told to
//! use paramiko (see engine/docker.rs), which reads `$HOME/.ssh/config`: the
//! test's HOME holds the same file. docker-py adds port 22 to an ssh URL
//! without one, so the config's `Port` never counts under v1: the port is
//! in DOCKER_HOST.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::artifacts::{PARTIAL_THEN_FAIL, assert_logs_saved};
use crate::common::engine::{assert_clean, wait_until_reaped};
use crate::common::{Flavor, REAP_BOUND, RUN_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};
use crate::remote::DockerConfig;

const SSHD: &str = "/usr/sbin/sshd";
/// Marks every process of a test's sshd, sessions included, so that
/// `Drop` finds what the sessions left (`docker system dial-stdio`
/// outlives a session that paramiko closes).
const MARK: &str = "TESTBED_E2E_SSHD";

/// A running sshd and the client side that reaches it without a prompt.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    config: DockerConfig,
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot start {program}: {e} (bash scripts/setup-engine.sh installs it)")
        });
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    pub fn start() -> Sshd {
        crate::common::engine::require();
        assert!(
            Path::new(SSHD).exists(),
            "no {SSHD}: bash scripts/setup-engine.sh installs openssh-server"
        );
        // What the init script would make: sshd's privilege separation.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        for key in ["host_key", "client_key"] {
            run(
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-f", &at(key)],
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sshd_config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n\
             PidFile {}\nSetEnv {MARK}={}\n",
            at("host_key"),
            at("client_key.pub"),
            at("sshd.pid"),
            dir.path().display()
        );
        std::fs::write(at("sshd_config"), sshd_config).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let host_key = std::fs::read_to_string(at("host_key.pub")).unwrap();
        let known_hosts = home.join(".ssh/known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_key}")).unwrap();
        let ssh_config = home.join(".ssh/config");
        std::fs::write(
            &ssh_config,
            format!(
                "Host 127.0.0.1\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
                 StrictHostKeyChecking yes\n  BatchMode yes\n",
                at("client_key"),
                known_hosts.display()
            ),
        )
        .unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let wrapper = format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
            ssh_config.display()
        );
        std::fs::write(bin.join("ssh"), wrapper).unwrap();
        run("chmod", &["+x", bin.join("ssh").to_str().unwrap()]);
        let log = std::fs::File::create(at("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f", &at("sshd_config")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start sshd");
        let sshd = Sshd {
            dir,
            port,
            child,
            config: DockerConfig::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen on {port}: {}",
                sshd.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    pub fn docker_host(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
    }

    /// As testbed prints it: the user part of a URL is masked.
    pub fn shown_host(&self) -> String {
        format!("ssh://***@127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// `testbed` against the daemon over ssh.
    pub fn testbed(&self, testbed: Testbed) -> Testbed {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        self.config
            .testbed(testbed)
            .env("DOCKER_HOST", &self.docker_host())
            .env("PATH", &path)
            .env("HOME", self.dir.path().join("home").to_str().unwrap())
    }

    /// The processes its sessions started, which may outlive them.
    fn sessions(&self) -> Vec<i32> {
        let mark = format!("{MARK}={}", self.dir.path().display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == mark.as_bytes()))
            })
            .collect()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in self.sessions() {
            // SAFETY: kill(2) of a process this test's sshd started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn artifacts(sshd: &Sshd, flavor: Flavor, scenario: &str, dir: &Path) -> Testbed {
    sshd.testbed(
        Testbed::fixture("artifacts")
            .flavor(flavor)
            .project(scenario)
            .args(["-v", "--artifacts", dir.to_str().unwrap()]),
    )
}

fn a_daemon_over_ssh_passes_and_fails_with_the_files_copied(flavor: Flavor) {
    let sshd = Sshd::start();
    let host = sshd.shown_host();
    let tmp = tempfile::tempdir().unwrap();
    let out = artifacts(&sshd, flavor, "ssh-pass", tmp.path()).output();
    assert_eq!(out.code, Some(0), "{out}\n{}", sshd.log());
    let copied = format!("artifacts: copy (DOCKER_HOST={host} is not a local socket");
    assert!(out.stderr.contains(&copied), "{out}");
    assert!(
        out.stderr.contains(&format!(
            "reaper: a process (DOCKER_HOST={host} is not a local socket"
        )),
        "{out}"
    );
    let result = std::fs::read_to_string(tmp.path().join("result.txt"));
    assert_eq!(result.ok().as_deref(), Some("done\n"), "{out}");
    assert_logs_saved(tmp.path(), &out);
    assert_clean(&out.project);

    let tmp = tempfile::tempdir().unwrap();
    let out = artifacts(&sshd, flavor, "ssh-fail", tmp.path())
        .command(["sh", "-c", PARTIAL_THEN_FAIL])
        .output();
    assert_eq!(out.code, Some(3), "{out}");
    assert!(out.stderr.contains("tests failed (exit 3)"), "{out}");
    let partial = std::fs::read_to_string(tmp.path().join("partial.txt"));
    assert_eq!(partial.ok().as_deref(), Some("partial\n"), "{out}");
    assert_logs_saved(tmp.path(), &out);
    assert_clean(&out.project);
}
per_flavor!(a_daemon_over_ssh_passes_and_fails_with_the_files_copied);

fn sigkill_over_ssh_is_reaped(flavor: Flavor) {
    let sshd = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    let run = artifacts(&sshd, flavor, "ssh-kill", tmp.path())
        .command(["sh", "-c", "echo tests started; sleep 300"])
        .spawn();
    run.wait_for_stdout("tests started", START_TIMEOUT);
    let project = run.project().unwrap().to_string();
    let killed = Instant::now();
    run.signal(libc::SIGKILL);
    let out = run.finish(RUN_TIMEOUT);
    assert_eq!(out.code, None, "testbed was not killed\n{out}");
    wait_until_reaped(&project, REAP_BOUND);
    let took = killed.elapsed();
    assert!(took <= REAP_BOUND, "reaped after {took:?}\n{out}");
    assert!(
        out.stderr
            .contains("reaper: testbed ended before it removed"),
        "{out}"
    );
    assert_clean(&project);
}
per_flavor!(sigkill_over_ssh_is_reaped);
