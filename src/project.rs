//! Compose project names: unique per run, and valid for compose v1 and v2.

use anyhow::{Result, bail};

/// Longest directory part kept in a generated name.
const DIR_PART_MAX: usize = 20;

/// The variables a generated name is taken from.
#[derive(Debug, Default, Clone)]
pub struct NameSource<'a> {
    /// `CI_JOB_ID`, set in GitLab jobs.
    pub job_id: Option<&'a str>,
    /// `CI_NODE_INDEX`, set for `parallel:` jobs.
    pub node_index: Option<&'a str>,
    /// The current directory's name.
    pub dir: &'a str,
    pub pid: u32,
    /// A random part, so that runs in different containers with the same
    /// pid (1, often) never collide.
    pub random: &'a str,
}

/// `tb-<job>[-<node>]-<pid>-<random>` in GitLab, `tb-<dir>-<pid>-<random>`
/// elsewhere.
pub fn generate(source: &NameSource) -> String {
    let origin = match source.job_id.map(sanitize).filter(|j| !j.is_empty()) {
        Some(job) => match source.node_index.map(sanitize).filter(|n| !n.is_empty()) {
            Some(node) => format!("{job}-{node}"),
            None => job,
        },
        None => {
            let dir = sanitize(source.dir);
            let dir: String = dir.chars().take(DIR_PART_MAX).collect();
            let dir = dir.trim_matches(|c| c == '-' || c == '_').to_string();
            if dir.is_empty() { "run".into() } else { dir }
        }
    };
    format!("tb-{origin}-{}-{}", source.pid, sanitize(source.random))
}

/// A short random part of lowercase letters and digits.
pub fn random_part() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..6)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// Checks a name given with `-p` or `COMPOSE_PROJECT_NAME`. Compose v2
/// rejects anything outside `^[a-z0-9][a-z0-9_-]*$`; v1 silently rewrites it,
/// so two names could collide. We refuse such names for both.
pub fn validate(name: &str) -> Result<()> {
    let valid_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid_rest = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid_start || !valid_rest {
        let suggestion = sanitize(name);
        let suggestion = suggestion.trim_start_matches(['-', '_']);
        if suggestion.is_empty() {
            bail!(
                "project name `{name}` is invalid: use lowercase letters, digits, `-` and `_`, starting with a letter or digit"
            );
        }
        bail!(
            "project name `{name}` is invalid: use lowercase letters, digits, `-` and `_`, starting with a letter or digit (e.g. `{suggestion}`)"
        );
    }
    Ok(())
}

/// Lowercases and replaces every other character with `-`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source<'a>(dir: &'a str) -> NameSource<'a> {
        NameSource {
            dir,
            pid: 4242,
            random: "ab12cd",
            ..Default::default()
        }
    }

    #[test]
    fn outside_ci_the_name_comes_from_dir_pid_and_random() {
        assert_eq!(generate(&source("my-api")), "tb-my-api-4242-ab12cd");
    }

    #[test]
    fn in_gitlab_the_name_comes_from_job_and_node() {
        let mut s = source("builds");
        s.job_id = Some("987654");
        assert_eq!(generate(&s), "tb-987654-4242-ab12cd");
        s.node_index = Some("3");
        assert_eq!(generate(&s), "tb-987654-3-4242-ab12cd");
    }

    #[test]
    fn directory_names_are_made_valid_and_short() {
        let name = generate(&source("My Project.With-A-Very-Long-Name-Indeed"));
        assert_eq!(name, "tb-my-project-with-a-ve-4242-ab12cd");
        validate(&name).unwrap();
        assert_eq!(generate(&source("...")), "tb-run-4242-ab12cd");
        assert_eq!(generate(&source("")), "tb-run-4242-ab12cd");
    }

    #[test]
    fn generated_names_are_always_valid() {
        for dir in ["/", "Ü-ber", "a.b", "_x", "UPPER", "ok"] {
            let name = generate(&source(dir));
            validate(&name).unwrap_or_else(|e| panic!("{dir}: {e}"));
        }
    }

    #[test]
    fn two_runs_get_different_names() {
        let (a, b) = (random_part(), random_part());
        let mut first = source("same");
        first.random = &a;
        let mut second = source("same");
        second.random = &b;
        assert_ne!(generate(&first), generate(&second));
    }

    #[test]
    fn names_compose_v2_would_reject_are_refused() {
        for bad in ["Bad.Name", "-lead", "_lead", "UPPER", "", "sp ace"] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        for good in ["tb-1", "0abc", "a_b-c"] {
            validate(good).unwrap();
        }
        let message = validate("Bad.Name").unwrap_err().to_string();
        assert!(message.contains("`bad-name`"), "{message}");
    }
}
