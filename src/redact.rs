//! Masking of secrets in everything testbed prints: echoed commands, errors
//! and the captured output of failed docker calls.

const MASK: &str = "***";

/// Names whose values are never printed: `CI_JOB_TOKEN`, `DB_PASSWORD`,
/// `AWS_SECRET_ACCESS_KEY`, `API_KEY`, ...
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "KEY",
        "CREDENTIAL",
        "AUTH",
    ]
    .iter()
    .any(|word| upper.contains(word))
}

/// Masks the password in `scheme://user:password@host` URLs.
pub fn mask_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let authority_start = scheme_end + 3;
        out.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        let authority_end = rest
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon + 1]);
                        out.push_str(MASK);
                    }
                    None => out.push_str(MASK),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &rest[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Masks a `NAME=value` word when NAME looks secret.
pub fn mask_assignment(word: &str) -> String {
    match word.split_once('=') {
        Some((name, _)) if is_secret_name(name) => format!("{name}={MASK}"),
        _ => mask_url_credentials(word),
    }
}

/// Masks the values of secret-looking variables of `env` wherever they
/// appear in `text`, and credentials in URLs.
pub fn redact_with<I, K, V>(text: &str, env: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = mask_url_credentials(text);
    for (name, value) in env {
        let value = value.as_ref();
        // Short values would mask ordinary words ("1", "yes") all over the text.
        if value.len() >= 4 && is_secret_name(name.as_ref()) {
            out = out.replace(value, MASK);
        }
    }
    out
}

/// [`redact_with`] against this process's environment.
pub fn redact(text: &str) -> String {
    redact_with(text, std::env::vars())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised() {
        for name in [
            "CI_JOB_TOKEN",
            "CI_REGISTRY_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
            "api_key",
            "DB_PASSWORD",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["HOME", "CI_JOB_ID", "DATABASE_URL", "TESTBED_PROJECT"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            mask_url_credentials("DATABASE_URL=postgres://app:hunter2@db:5432/app"),
            "DATABASE_URL=postgres://app:***@db:5432/app"
        );
        assert_eq!(
            mask_url_credentials("fetch https://token@example.test/x and http://host/y"),
            "fetch https://***@example.test/x and http://host/y"
        );
        assert_eq!(mask_url_credentials("no url here"), "no url here");
    }

    #[test]
    fn secret_assignments_are_masked() {
        assert_eq!(mask_assignment("CI_JOB_TOKEN=abc123"), "CI_JOB_TOKEN=***");
        assert_eq!(mask_assignment("LEVEL=debug"), "LEVEL=debug");
    }

    #[test]
    fn secret_values_are_masked_in_free_text() {
        let env = [("CI_JOB_TOKEN", "s3cr3t-value"), ("HOME", "/root")];
        assert_eq!(
            redact_with("login failed for s3cr3t-value in /root", env),
            "login failed for *** in /root"
        );
    }

    #[test]
    fn short_secret_values_are_left_alone() {
        let env = [("API_KEY", "1")];
        assert_eq!(redact_with("exit 1", env), "exit 1");
    }
}
