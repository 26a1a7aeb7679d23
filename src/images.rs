//! The names of the images testbed builds, for services with `build:` and no
//! `image:`: `<prefix>-<service>`, stable per project rather than per run,
//! so that a rerun starts from the last build and replaces one tag instead
//! of adding one; and a tag per run, which pins the run to the image it
//! built or found, whatever parallel runs do to `latest` meanwhile.

use anyhow::{Result, bail};

/// The tag of the newest build of a name.
pub const LATEST: &str = "latest";

/// Whether an engine's error line says the image does not exist: Docker
/// says "No such image", podman "image not known".
pub fn is_missing(line: &str) -> bool {
    line.contains("No such image") || line.contains("image not known")
}

/// Longest directory part kept in a default prefix.
const DIR_PART_MAX: usize = 20;

/// A service whose image testbed builds, and the name it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub service: String,
    /// `<prefix>-<service>`, without a tag.
    pub repository: String,
}

impl BuiltImage {
    pub fn new(prefix: &str, service: &str) -> BuiltImage {
        let service_part = part(service);
        let service_part = if service_part.is_empty() {
            "service".to_string()
        } else {
            service_part
        };
        BuiltImage {
            service: service.to_string(),
            repository: format!("{prefix}-{service_part}"),
        }
    }

    /// `<repository>:<project>`: the run's own tag, held until its end.
    pub fn for_run(&self, project: &str) -> String {
        format!("{}:{project}", self.repository)
    }

    /// `<repository>:latest`: the newest build, which the next run starts
    /// from.
    pub fn latest(&self) -> String {
        format!("{}:{LATEST}", self.repository)
    }
}

/// `tb-<directory>`: the project directory's name, lowercased, every other
/// character than a letter or digit turned into `-`, cut to 20 characters.
pub fn default_prefix(dir: &str) -> String {
    let dir: String = part(dir).chars().take(DIR_PART_MAX).collect();
    match dir.trim_matches('-') {
        "" => "tb-project".into(),
        dir => format!("tb-{dir}"),
    }
}

/// Lowercase letters and digits, with `-` for anything else, and no `-` at
/// either end: a valid last component of an image name.
fn part(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    mapped.trim_matches('-').to_string()
}

/// Checks a prefix given with `--image-prefix` or `x-testbed`: what docker
/// accepts as an image name, e.g. `ci/api` or `registry.example.com:5000/team/api`.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let hint = "use lowercase letters, digits and `.`, `_` or `-` between them, with `/` between path components, after an optional registry host";
    if prefix.is_empty() || prefix.len() > 200 {
        bail!("image prefix `{prefix}` is invalid: {hint}");
    }
    let mut components: Vec<&str> = prefix.split('/').collect();
    // `docker.io/...`, `localhost/...`, `registry:5000/...`: a host first.
    if components.len() > 1 && (components[0].contains(['.', ':']) || components[0] == "localhost")
    {
        let host = components.remove(0);
        let (name, port) = host.split_once(':').unwrap_or((host, "1"));
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !name_ok || port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
            bail!("image prefix `{prefix}` has an invalid registry host `{host}`");
        }
    }
    if !components.iter().all(|c| is_path_component(c)) {
        bail!("image prefix `{prefix}` is invalid: {hint}");
    }
    Ok(())
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`, as
/// docker's reference grammar has it.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(|&b| alnum(b)) || !bytes.last().is_some_and(|&b| alnum(b)) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alnum(b) {
            if !matches!(separator.as_str(), "" | "." | "_" | "__")
                && !separator.bytes().all(|s| s == b'-')
            {
                return false;
            }
            separator.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            separator.push(b as char);
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_image_reads_the_same_from_docker_and_podman() {
        assert!(is_missing("Error: No such image: tb-x-tests:latest"));
        assert!(is_missing(
            "Error response from daemon: failed to find image tb-x-tests:latest: \
             docker.io/library/tb-x-tests:latest: image not known"
        ));
        assert!(!is_missing(
            "Error response from daemon: conflict: unable to remove"
        ));
    }

    #[test]
    fn images_are_named_after_the_project_directory_and_the_service() {
        let image = BuiltImage::new(&default_prefix("My API.Service"), "tests");
        assert_eq!(image.repository, "tb-my-api-service-tests");
        assert_eq!(image.latest(), "tb-my-api-service-tests:latest");
        assert_eq!(
            image.for_run("tb-my-api-4242-ab12cd"),
            "tb-my-api-service-tests:tb-my-api-4242-ab12cd"
        );
        assert_eq!(default_prefix("..."), "tb-project");
        assert_eq!(
            default_prefix("a-very-long-directory-name"),
            "tb-a-very-long-director"
        );
        // Compose allows service names docker does not allow in image names.
        assert_eq!(
            BuiltImage::new("ci/api", "Web_UI").repository,
            "ci/api-web-ui"
        );
        assert_eq!(BuiltImage::new("ci", "_").repository, "ci-service");
    }

    #[test]
    fn default_prefixes_are_valid_image_names() {
        for dir in ["app", "Ü-ber", "a.b", "_x_", "UPPER", "", "--"] {
            let prefix = default_prefix(dir);
            validate_prefix(&prefix).unwrap_or_else(|e| panic!("{dir}: {e}"));
        }
    }

    #[test]
    fn prefixes_docker_would_reject_are_refused() {
        for good in [
            "api",
            "ci/api",
            "team.name/api_tests",
            "registry.example.com:5000/team/api",
            "localhost/api",
            "a__b",
            "a---b",
        ] {
            validate_prefix(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "",
            "Api",
            "-api",
            "api-",
            "ci//api",
            "a_-b",
            "a___b",
            "api:dev",
            "sp ace",
            "host:x/api",
        ] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
        }
    }
}
