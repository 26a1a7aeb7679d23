//! The reference docs stay true to the code. docs/configuration.md against
//! the command-line definition: every subcommand, flag and environment
//! variable clap knows is documented, and every flag the doc lists exists.
//! Also its `x-testbed` keys against the config's own, the tests that
//! docs/cleanup.md names, and the links between the docs. No Docker needed.
//!
//! Each options table in docs/configuration.md follows a marker that names
//! the subcommands it belongs to, `testbed` for the global options:
//!
//! ```text
//! <!-- flags: run up test down -->
//! | Flag | Environment | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `-f, --file FILE` | `COMPOSE_FILE` | ... | ... |
//! ```
//!
//! A subcommand's flags are the rows of every table whose marker names it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use testbed::cli::Cli;

const CONFIGURATION: &str = "docs/configuration.md";
const CLEANUP: &str = "docs/cleanup.md";

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// One row of an options table.
#[derive(Debug)]
struct Row {
    /// The subcommands its table's marker names.
    commands: Vec<String>,
    line: usize,
    longs: BTreeSet<String>,
    shorts: BTreeSet<char>,
    /// Value names and positionals: `FILE`, `COMMAND`.
    words: BTreeSet<String>,
    /// The variables named in the Environment column.
    env: BTreeSet<String>,
}

impl Row {
    fn parse(commands: &[String], line: usize, text: &str) -> Row {
        let cells: Vec<&str> = text.split('|').map(str::trim).collect();
        assert!(
            cells.len() >= 4,
            "{CONFIGURATION}:{line}: expected | Flag | Environment | ... |"
        );
        let mut row = Row {
            commands: commands.to_vec(),
            line,
            longs: BTreeSet::new(),
            shorts: BTreeSet::new(),
            words: BTreeSet::new(),
            env: BTreeSet::new(),
        };
        for token in cells[1].replace('`', " ").split_whitespace() {
            let token = token.trim_end_matches(',');
            if token == "--" {
                // `-- COMMAND...`: what follows is a positional.
            } else if let Some(long) = token.strip_prefix("--").filter(|l| !l.is_empty()) {
                row.longs.insert(long.to_string());
            } else if let Some(short) = token.strip_prefix('-').filter(|s| s.len() == 1) {
                row.shorts.insert(short.chars().next().unwrap());
            } else {
                row.words.insert(token.trim_end_matches("...").to_string());
            }
        }
        row.env = backticked(cells[2])
            .filter(|name| is_variable(name))
            .map(str::to_string)
            .collect();
        row
    }

    fn names(&self, command: &str) -> bool {
        self.commands.iter().any(|c| c == command)
    }
}

/// The text between each pair of backticks.
fn backticked(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

fn is_variable(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The rows of every table that follows `<!-- flags: ... -->`.
fn option_rows(doc: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut lines = doc.lines().enumerate().peekable();
    while let Some((_, line)) = lines.next() {
        let Some(names) = line
            .trim()
            .strip_prefix("<!-- flags:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let commands: Vec<String> = names.split_whitespace().map(str::to_string).collect();
        while lines.next_if(|(_, l)| l.trim().is_empty()).is_some() {}
        // The header and the separator.
        lines.next();
        lines.next();
        while let Some((number, row)) = lines.next_if(|(_, l)| l.starts_with('|')) {
            rows.push(Row::parse(&commands, number + 1, row));
        }
    }
    rows
}

/// The commands whose options the doc must hold: `testbed` itself, with the
/// global options, and each visible subcommand but clap's own `help`.
/// `-h, --help` and the global `--color` are documented once, with
/// `testbed`.
fn commands() -> Vec<clap::Command> {
    let mut root = Cli::command();
    root.build();
    let subcommands = root
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .cloned();
    std::iter::once(root.clone()).chain(subcommands).collect()
}

fn arguments(command: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    let root = command.get_name() == "testbed";
    command.get_arguments().filter(move |arg| {
        !arg.is_hide_set() && (root || !(arg.is_global_set() || arg.get_id() == "help"))
    })
}

fn flag(arg: &clap::Arg) -> String {
    match (arg.get_short(), arg.get_long()) {
        (_, Some(long)) => format!("--{long}"),
        (Some(short), None) => format!("-{short}"),
        (None, None) => arg.get_id().to_string().to_uppercase(),
    }
}

/// What is wrong with the documentation of one argument of `name`.
fn check_argument(name: &str, arg: &clap::Arg, rows: &[&Row], problems: &mut Vec<String>) {
    let value_names: Vec<String> = arg
        .get_value_names()
        .map(|names| names.iter().map(|n| n.to_string()).collect())
        .unwrap_or_else(|| vec![arg.get_id().to_string().to_uppercase()]);
    let row = match arg.get_long() {
        Some(long) => rows.iter().find(|r| r.longs.contains(long)),
        None if arg.is_positional() => rows
            .iter()
            .find(|r| r.longs.is_empty() && value_names.iter().all(|v| r.words.contains(v))),
        None => rows
            .iter()
            .find(|r| arg.get_short().is_some_and(|s| r.shorts.contains(&s))),
    };
    let Some(row) = row else {
        problems.push(format!(
            "`testbed {name}` has {}, which no `<!-- flags: ... {name} -->` table in {CONFIGURATION} lists",
            flag(arg)
        ));
        return;
    };
    let at = format!("{CONFIGURATION}:{} ({name} {})", row.line, flag(arg));
    let short: BTreeSet<char> = arg.get_short().into_iter().collect();
    if row.shorts != short {
        problems.push(format!(
            "{at}: the doc gives the short flags {:?}, clap {:?}",
            row.shorts, short
        ));
    }
    if arg.get_action().takes_values() && !arg.is_positional() {
        for value in &value_names {
            if !row.words.contains(value) {
                problems.push(format!("{at}: the value is `{value}` in clap"));
            }
        }
    }
    let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
    if let Some(env) = &env {
        if !row.env.contains(env) {
            problems.push(format!("{at}: clap reads `{env}`, the doc does not say so"));
        }
    }
    for documented in row.env.iter().filter(|e| e.starts_with("TESTBED_")) {
        if env.as_ref() != Some(documented) {
            problems.push(format!(
                "{at}: the doc names `{documented}`, clap reads {env:?}"
            ));
        }
    }
}

#[test]
fn configuration_lists_every_subcommand_flag_and_variable() {
    let doc = read(CONFIGURATION);
    let rows = option_rows(&doc);
    let commands = commands();
    let mut problems = Vec::new();
    for command in &commands {
        let name = command.get_name();
        if name != "testbed" && !doc.contains(&format!("`testbed {name}`")) {
            problems.push(format!("{CONFIGURATION} never names `testbed {name}`"));
        }
        let documented: Vec<&Row> = rows.iter().filter(|r| r.names(name)).collect();
        for arg in arguments(command) {
            check_argument(name, arg, &documented, &mut problems);
        }
    }
    assert!(
        problems.is_empty(),
        "{CONFIGURATION} is out of date:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn configuration_lists_no_flag_that_does_not_exist() {
    let doc = read(CONFIGURATION);
    let commands = commands();
    let find = |name: &str| commands.iter().find(|c| c.get_name() == name);
    let mut problems = Vec::new();
    for row in option_rows(&doc) {
        for name in &row.commands {
            let Some(command) = find(name) else {
                problems.push(format!(
                    "{CONFIGURATION}:{}: there is no subcommand `{name}`",
                    row.line
                ));
                continue;
            };
            let args: Vec<&clap::Arg> = arguments(command).collect();
            for long in &row.longs {
                if !args.iter().any(|a| a.get_long() == Some(long.as_str())) {
                    problems.push(format!(
                        "{CONFIGURATION}:{}: `testbed {name}` has no --{long}",
                        row.line
                    ));
                }
            }
            let positional = args.iter().filter(|a| a.is_positional()).any(|a| {
                a.get_value_names()
                    .is_some_and(|names| names.iter().all(|n| row.words.contains(n.as_str())))
            });
            if row.longs.is_empty() && row.shorts.is_empty() && !positional {
                problems.push(format!(
                    "{CONFIGURATION}:{}: `testbed {name}` has no argument {:?}",
                    row.line, row.words
                ));
            }
        }
    }
    // Prose too: every `--flag` the page mentions is one of testbed's.
    let longs: BTreeSet<&str> = commands
        .iter()
        .flat_map(|c| c.get_arguments().filter_map(|a| a.get_long()))
        .collect();
    for (number, line) in doc.lines().enumerate() {
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            let Some(long) = word
                .strip_prefix("--")
                .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
            else {
                continue;
            };
            if !longs.contains(long) {
                problems.push(format!(
                    "{CONFIGURATION}:{}: testbed has no --{long}",
                    number + 1
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{CONFIGURATION} lists what testbed does not have:\n  {}",
        problems.join("\n  ")
    );
}

/// The keys of `x-testbed`, as the config's own error message lists them.
fn x_testbed_keys() -> BTreeSet<String> {
    let error = serde_norway::from_str::<testbed::config::XTestbed>("not-a-key: 1")
        .expect_err("an unknown key is refused")
        .to_string();
    let (_, expected) = error
        .split_once("expected one of")
        .unwrap_or_else(|| panic!("no list of keys in: {error}"));
    backticked(expected).map(str::to_string).collect()
}

#[test]
fn configuration_lists_the_x_testbed_keys() {
    let doc = read(CONFIGURATION);
    let (_, table) = doc
        .split_once("<!-- x-testbed -->")
        .expect("docs/configuration.md has an `<!-- x-testbed -->` table");
    let rows: Vec<&str> = table
        .trim_start()
        .lines()
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    let documented: BTreeSet<String> = rows
        .iter()
        .filter_map(|row| backticked(row.split('|').nth(1)?).next())
        .map(str::to_string)
        .collect();
    assert_eq!(documented, x_testbed_keys(), "the x-testbed keys");
    // Each key's flag is one of `run`'s, or `up`'s (`isolate`).
    let starting: Vec<_> = commands()
        .into_iter()
        .filter(|c| matches!(c.get_name(), "run" | "up"))
        .collect();
    for row in rows {
        let flag = row.split('|').nth(2).and_then(|c| backticked(c).next());
        let long = flag.and_then(|f| f.strip_prefix("--"));
        assert!(
            long.is_some_and(|l| starting
                .iter()
                .any(|c| c.get_arguments().any(|a| a.get_long() == Some(l)))),
            "{CONFIGURATION}: x-testbed row `{row}` does not name a flag of `testbed run` or `up`"
        );
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn cleanup_guarantees_name_tests_that_exist() {
    let doc = read(CLEANUP);
    let sources: String = files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let words: BTreeSet<&str> = sources
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    let table = doc
        .lines()
        .skip_while(|l| !l.starts_with("| What happens |"))
        .take_while(|l| l.starts_with('|'))
        .skip(2);
    let mut named = 0;
    for row in table {
        let shown_by = row.rsplit('|').nth(1).unwrap_or("");
        let is_test = |name: &&str| {
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        for test in backticked(shown_by).filter(is_test) {
            named += 1;
            assert!(
                words.contains(test),
                "{CLEANUP} names `{test}`, which is nowhere in tests/"
            );
        }
    }
    assert!(named > 10, "{CLEANUP}: only {named} tests named");
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation
/// dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings, outside code blocks.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn links_between_the_docs_lead_somewhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    let docs = files(&root.join("docs")).into_iter();
    pages.extend(docs.filter(|p| p.extension().is_some_and(|e| e == "md")));
    let mut problems = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let shown = page.strip_prefix(root).unwrap().display();
        for link in text.split("](").skip(1) {
            let Some((target, _)) = link.split_once(')') else {
                continue;
            };
            if target.contains("://") {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !file.exists() {
                problems.push(format!("{shown}: `{target}`: no such file"));
                continue;
            }
            if !fragment.is_empty() {
                let text = std::fs::read_to_string(&file).unwrap();
                if !anchors(&text).contains(fragment) {
                    problems.push(format!("{shown}: `{target}`: no such heading"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n  {}",
        problems.join("\n  ")
    );
}
