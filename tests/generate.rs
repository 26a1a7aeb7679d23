//! `testbed completions` and `testbed man`: what they print, that a reader
//! who stops early is no failure, and that a wrong shell is a usage error.
//! Neither needs Docker.

#[path = "common/mod.rs"]
mod common;

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

use clap::CommandFactory;
use common::Testbed;

/// `testbed <args>`, which needs no engine.
fn testbed(args: &[&str]) -> Testbed {
    let (subcommand, rest) = args.split_first().unwrap();
    Testbed::new(subcommand).args(rest).no_engine()
}

fn stdout_of(args: &[&str]) -> String {
    let out = testbed(args).output();
    assert_eq!(out.code, Some(0), "{out}");
    out.stdout.clone()
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
    let (mut command, _) = testbed(args).to_command();
    let output = command.stdout(closed_pipe()).output().expect("run testbed");
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
    let out = testbed(&["completions", "tcsh"]).output();
    assert_eq!(out.code, Some(2), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert!(out.stderr.contains("invalid value 'tcsh'"), "{out}");
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
