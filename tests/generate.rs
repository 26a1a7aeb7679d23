//! `testbed completions` and `testbed man`: what they print, that a reader
//! who stops early is no failure, and that a wrong shell is a usage error.
//! Neither needs Docker.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

use assert_cmd::Command;
use clap::CommandFactory;
use predicates::prelude::*;

fn testbed(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_testbed"));
    command.args(args);
    command
}

fn stdout_of(args: &[&str]) -> String {
    let output = testbed(args).assert().success().get_output().clone();
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// A stdout whose reader is already gone, as after `| head -1` has read its
/// line: every write fails with EPIPE, whatever the size of the output.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills both descriptors, which this function then owns.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe()");
    let [read, write] = fds.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    drop(read);
    Stdio::from(write)
}

/// Runs testbed with stdout on a closed pipe; asserts exit 0 and no panic.
fn survives_a_closed_stdout(args: &[&str]) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(args)
        .stdout(closed_pipe())
        .output()
        .expect("run testbed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[test]
fn bash_completions_name_the_subcommands_and_flags() {
    let script = stdout_of(&["completions", "bash"]);
    for word in ["run", "self-id", "--wait-timeout", "--keep", "--service"] {
        assert!(script.contains(word), "`{word}` missing from:\n{script}");
    }
}

#[test]
fn zsh_and_fish_completions_are_for_testbed() {
    assert!(stdout_of(&["completions", "zsh"]).starts_with("#compdef testbed"));
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains("complete -c testbed"), "{fish}");
    assert!(fish.contains("wait-timeout"), "{fish}");
}

#[test]
fn completions_piped_into_head_exit_0_without_a_panic() {
    survives_a_closed_stdout(&["completions", "bash"]);
}

#[test]
fn man_page_piped_into_head_exits_0_without_a_panic() {
    survives_a_closed_stdout(&["man"]);
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    testbed(&["completions", "tcsh"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("invalid value 'tcsh'"));
}

/// The man page as a reader sees the words, without roff's escapes.
fn man_page_text() -> String {
    stdout_of(&["man"])
        .replace(r"\-", "-")
        .replace(r"\*(Aq", "'")
        .replace(r"\fB", "")
        .replace(r"\fI", "")
        .replace(r"\fR", "")
}

#[test]
fn man_page_holds_the_exit_code_table() {
    let page = man_page_text();
    assert!(page.contains(".SH \"EXIT STATUS\"\n"), "{page}");
    for line in testbed::exit::TABLE.lines().skip(1) {
        assert!(
            page.contains(&format!("{line}\n")),
            "`{line}` missing:\n{page}"
        );
    }
}

#[test]
fn man_page_holds_every_subcommand_and_its_options() {
    let page = man_page_text();
    // `reap` is hidden: `run` starts it, people do not.
    let cli = testbed::cli::Cli::command();
    for command in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = command.get_name();
        assert!(
            page.contains(&format!("\ntestbed {name}\n")),
            "command {name} missing:\n{page}"
        );
        for long in command.get_arguments().filter_map(|arg| arg.get_long()) {
            if long != "help" {
                assert!(
                    page.contains(&format!("--{long}")),
                    "`testbed {name} --{long}` missing:\n{page}"
                );
            }
        }
    }
}
