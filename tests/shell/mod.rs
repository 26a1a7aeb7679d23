//! The shell lines of a CI file, for the tests that read them: every line
//! under a script key, each line's commands, and the `testbed` ones
//! checked against testbed's own command-line definition.

// Each test crate that includes it uses a part.
#![allow(dead_code)]

use clap::Parser;
use serde_norway::Value;
use testbed::cli::Cli;

/// The GitLab keys whose values are shell command lines.
const SCRIPT_KEYS: [&str; 3] = ["before_script", "script", "after_script"];

/// The words that end one shell command and start the next.
const OPERATORS: [&str; 5] = ["&&", "||", ";", "|", "&"];

/// The command lines under every script key, at any depth: jobs, hidden
/// templates, and `<<:` merges alike. A multi-line entry is split into its
/// commands, with `\`-continued lines joined.
pub fn script_lines(value: &Value, in_script: bool, lines: &mut Vec<String>) {
    lines_under(value, &SCRIPT_KEYS, in_script, lines);
}

/// [`script_lines`] for a CI whose shell lines are under other `keys`:
/// GitHub's `run`, Buildkite's `command`, Azure's `script`.
pub fn lines_under(value: &Value, keys: &[&str], in_script: bool, lines: &mut Vec<String>) {
    match value {
        Value::String(text) if in_script => {
            lines.extend(text.replace("\\\n", " ").lines().map(str::to_string));
        }
        Value::Sequence(items) => {
            for item in items {
                lines_under(item, keys, in_script, lines);
            }
        }
        Value::Mapping(map) => {
            for (key, value) in map {
                let is_script = key.as_str().is_some_and(|k| keys.contains(&k));
                lines_under(value, keys, in_script || is_script, lines);
            }
        }
        _ => {}
    }
}

/// The commands of one shell line, each as its words. A `$VAR` word stays
/// as written.
pub fn commands(line: &str) -> Vec<Vec<String>> {
    let words = shell_words::split(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    words
        .split(|w| OPERATORS.contains(&w.as_str()))
        .filter(|command| !command.is_empty())
        .map(<[String]>::to_vec)
        .collect()
}

/// Each `testbed` command on a shell line, as words, from `testbed` to the
/// end of its command. A `$VAR` word stands for one value, which is what
/// clap takes it for, and a variable meant to expand into flags, which no
/// one can check here, fails the check.
pub fn invocations(line: &str) -> Vec<Vec<String>> {
    commands(line)
        .into_iter()
        .filter_map(|command| {
            let start = command.iter().position(|w| w == "testbed")?;
            Some(command[start..].to_vec())
        })
        .collect()
}

/// Parses one invocation with the real clap definition.
pub fn check(words: &[String]) -> Result<(), String> {
    Cli::try_parse_from(words)
        .map(drop)
        .map_err(|e| format!("`{}`: {e}", shell_words::join(words)))
}
