//! The exit-code table, and the one typed failure that maps to it at the edge.

use std::fmt;

/// How a run ended, as the calling shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The test container's own exit code, passed through unchanged.
    Tests(u8),
    /// A command-line or configuration mistake.
    Usage,
    /// The dependencies were not ready within `--wait-timeout`.
    Timeout,
    /// Docker or Compose failed: a bad compose file, `up` failed, a
    /// dependency crashed or turned unhealthy, the daemon is unreachable.
    Engine,
    /// The test command could not be invoked inside the container.
    CannotInvoke,
    /// `docker` or compose was not found.
    NotFound,
    /// testbed was interrupted by this signal.
    Signal(i32),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Tests(code) => code,
            Exit::Usage => 2,
            Exit::Timeout => 124,
            Exit::Engine => 125,
            Exit::CannotInvoke => 126,
            Exit::NotFound => 127,
            Exit::Signal(signal) => 128u8.saturating_add(signal as u8),
        }
    }

    /// What the code means, in a few words, for reports.
    pub fn meaning(self) -> String {
        match self {
            Exit::Tests(0) => "the tests passed".into(),
            Exit::Tests(code) => format!("the tests failed with exit code {code}"),
            Exit::Usage => "usage error".into(),
            Exit::Timeout => "the dependencies were not ready in time".into(),
            Exit::Engine => "Docker or Compose failed".into(),
            Exit::CannotInvoke => "the test command could not be invoked".into(),
            Exit::NotFound => "docker or compose was not found".into(),
            Exit::Signal(signal) => format!("interrupted by {}", crate::signals::name(signal)),
        }
    }
}

/// The table printed by `--help` and copied into the README. A unit test
/// checks that the README holds it verbatim.
pub const TABLE: &str = "\
EXIT STATUS:
  0-255  the test container's own exit code, unchanged (137 when it was killed)
  2      usage error: a bad flag or value, an unknown service, a missing file
  124    the dependencies were not ready within --wait-timeout
  125    Docker or Compose failed: invalid compose file, `up` failed, a
         dependency crashed or turned unhealthy, the daemon is unreachable,
         or teardown failed after the tests passed
  126    the test command could not be invoked in the container
  127    docker or compose was not found
  129    interrupted by SIGHUP (the terminal was closed)
  130    interrupted by SIGINT (Ctrl-C)
  143    interrupted by SIGTERM (a cancelled CI job)
  With --shards: 0 when every shard passed; else 128+n after a signal;
  else a usage error or 124-127 if a shard could not test; else the
  code of the lowest-numbered shard that failed";

/// An error that knows its exit code and, where we can tell, the likely fix.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
    pub hint: Option<String>,
    /// Whether the environment is at fault (docker, the daemon, compose),
    /// so that `run` adds the diagnosis of `testbed doctor`.
    pub environment: bool,
    /// The log that explains it, such as a crashed dependency's last lines,
    /// with its title: printed in its own section, and kept in the JUnit
    /// report.
    pub log: Option<FailureLog>,
}

/// A log that explains a failure, under its title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureLog {
    pub title: String,
    pub text: String,
}

impl Failure {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            exit,
            error: error.into(),
            hint: None,
            environment: false,
            log: None,
        }
    }

    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Failure::new(Exit::Usage, error)
    }

    pub fn engine(error: impl Into<anyhow::Error>) -> Self {
        Failure::new(Exit::Engine, error)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_log(mut self, title: impl Into<String>, log: impl Into<String>) -> Self {
        self.log = Some(FailureLog {
            title: title.into(),
            text: log.into(),
        });
        self
    }

    /// Marks a failure of the environment rather than of the stack.
    pub fn of_environment(mut self) -> Self {
        self.environment = true;
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)
    }
}

/// Attaches an exit code to a fallible step.
pub trait OrFail<T> {
    fn or_fail(self, exit: Exit) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> OrFail<T> for Result<T, E> {
    fn or_fail(self, exit: Exit) -> Result<T, Failure> {
        self.map_err(|error| Failure::new(exit, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_codes_pass_through_unchanged() {
        for code in [0, 1, 3, 42, 137, 255] {
            assert_eq!(Exit::Tests(code).code(), code);
        }
    }

    #[test]
    fn orchestrator_codes_match_the_table() {
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Timeout.code(), 124);
        assert_eq!(Exit::Engine.code(), 125);
        assert_eq!(Exit::CannotInvoke.code(), 126);
        assert_eq!(Exit::NotFound.code(), 127);
        assert_eq!(Exit::Signal(libc::SIGINT).code(), 130);
        assert_eq!(Exit::Signal(libc::SIGTERM).code(), 143);
    }

    #[test]
    fn readme_shows_the_same_table() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(TABLE),
            "README.md must hold exit::TABLE verbatim"
        );
    }

    #[test]
    fn table_names_every_orchestrator_code() {
        for exit in [
            Exit::Usage,
            Exit::Timeout,
            Exit::Engine,
            Exit::CannotInvoke,
            Exit::NotFound,
            Exit::Signal(libc::SIGINT),
            Exit::Signal(libc::SIGTERM),
        ] {
            let needle = format!("\n  {:<7}", exit.code());
            assert!(
                TABLE.contains(&needle),
                "{} missing from TABLE",
                exit.code()
            );
        }
    }
}
