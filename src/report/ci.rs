//! A CI's conventions beyond its log's groups: masking the values of the
//! tests' variables, an error annotation where the run failed, and the job
//! summary, each in the CI's own words. GitLab has none of them (it masks
//! its masked variables itself); CircleCI and Jenkins neither.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::ci::Ci;
use crate::engine::cmd::Cmd;

/// The shortest value masked.
pub const MASK_MIN: usize = 4;

/// Where a CI's conventions lead, read once from its variables.
#[derive(Debug, Clone, Default)]
pub struct CiReport {
    pub ci: Ci,
    /// `GITHUB_STEP_SUMMARY`: the file GitHub shows as the job's summary.
    pub step_summary: Option<PathBuf>,
    /// Where Azure's summary file is written: `AGENT_TEMPDIRECTORY`, else
    /// the system's temporary directory.
    pub temp_dir: PathBuf,
    /// `buildkite-agent`, where it is on PATH.
    pub buildkite_agent: Option<PathBuf>,
}

/// What tells the CI something: a line of the log, or a command to run.
#[derive(Debug)]
pub enum Said {
    Line(String),
    Run(Cmd),
}

impl CiReport {
    pub fn from_env(ci: Ci, var: impl Fn(&str) -> Option<String>) -> CiReport {
        let set = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        CiReport {
            ci,
            step_summary: set("GITHUB_STEP_SUMMARY").filter(|_| ci == Ci::Github),
            temp_dir: set("AGENT_TEMPDIRECTORY").unwrap_or_else(std::env::temp_dir),
            buildkite_agent: (ci == Ci::Buildkite)
                .then(|| which::which("buildkite-agent").ok())
                .flatten(),
        }
    }

    /// What the CI's conventions need and this machine lacks, said once
    /// as the run starts: Buildkite annotates through `buildkite-agent`.
    pub fn lacking(&self) -> Option<&'static str> {
        (self.ci == Ci::Buildkite && self.buildkite_agent.is_none()).then_some(
            "buildkite-agent is not on PATH: the build gets no annotation of this run, \
             neither its summary nor its errors",
        )
    }

    /// The lines that have the CI mask each of `values` in its log. A
    /// value shorter than [`MASK_MIN`] is no secret worth blanking every
    /// `1` or `yes` of the log for.
    pub fn masks(&self, values: &[String]) -> Vec<String> {
        let lines = values
            .iter()
            .flat_map(|value| value.lines())
            .map(str::trim)
            .filter(|line| line.chars().count() >= MASK_MIN);
        match self.ci {
            Ci::Github => lines
                .map(|l| format!("::add-mask::{}", github_data(l)))
                .collect(),
            Ci::Azure => lines
                .map(|l| format!("##vso[task.setsecret]{}", azure(l)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// An error annotation: `title` in a few words, `message` in full.
    pub fn error(&self, context: &str, title: &str, message: &str) -> Option<Said> {
        match self.ci {
            Ci::Github => Some(Said::Line(format!(
                "::error title={}::{}",
                github_property(title),
                github_data(message)
            ))),
            Ci::Azure => Some(Said::Line(format!(
                "##vso[task.logissue type=error]{}: {}",
                azure(title),
                azure(message)
            ))),
            Ci::Buildkite => {
                let body = format!("**{title}**\n\n```\n{message}\n```\n");
                Some(Said::Run(self.annotate("error", context, &body)?))
            }
            Ci::Gitlab | Ci::Circleci | Ci::Jenkins | Ci::None => None,
        }
    }

    /// Hands `markdown` to the CI as the job's summary: appended to
    /// GitHub's step summary, uploaded to Azure's, an annotation on
    /// Buildkite.
    pub fn summary(&self, context: &str, markdown: &str) -> Result<Option<Said>> {
        match self.ci {
            Ci::Github => {
                let Some(path) = &self.step_summary else {
                    return Ok(None);
                };
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut file| file.write_all(markdown.as_bytes()).map(|()| file))
                    .with_context(|| {
                        format!("cannot write GITHUB_STEP_SUMMARY {}", path.display())
                    })?;
                file.flush().ok();
                Ok(None)
            }
            Ci::Azure => {
                let path = self.temp_dir.join(format!("{context}.md"));
                std::fs::write(&path, markdown)
                    .with_context(|| format!("cannot write the summary to {}", path.display()))?;
                let path = azure(&path.to_string_lossy());
                Ok(Some(Said::Line(format!("##vso[task.uploadsummary]{path}"))))
            }
            Ci::Buildkite => Ok(self.annotate("info", context, markdown).map(Said::Run)),
            Ci::Gitlab | Ci::Circleci | Ci::Jenkins | Ci::None => Ok(None),
        }
    }

    fn annotate(&self, style: &str, context: &str, body: &str) -> Option<Cmd> {
        let agent = self.buildkite_agent.as_ref()?;
        Some(
            Cmd::new(agent)
                .args(["annotate", "--style", style, "--context", context, body])
                .label("buildkite-agent annotate"),
        )
    }
}

/// A workflow command's message, as GitHub reads it: `%`, CR and LF
/// escaped.
pub fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property: also `:` and `,`, which end it.
pub fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A logging command's text, as Azure reads it.
pub fn azure(text: &str) -> String {
    text.replace('%', "%AZP25")
        .replace(';', "%3B")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace(']', "%5D")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ci: Ci) -> CiReport {
        CiReport {
            ci,
            ..CiReport::default()
        }
    }

    #[test]
    fn a_buildkite_without_its_agent_is_told_once_it_gets_no_annotation() {
        let bare = report(Ci::Buildkite);
        assert!(
            bare.lacking()
                .unwrap()
                .contains("buildkite-agent is not on PATH")
        );
        assert!(bare.error("c", "t", "m").is_none());
        let agent = CiReport {
            buildkite_agent: Some("/usr/bin/buildkite-agent".into()),
            ..bare
        };
        assert_eq!(agent.lacking(), None);
        assert_eq!(report(Ci::Github).lacking(), None);
    }

    #[test]
    fn github_escapes_what_ends_a_command() {
        assert_eq!(
            github_data("100% of\r\nit: a, b"),
            "100%25 of%0D%0Ait: a, b"
        );
        assert_eq!(github_property("db: a, b%"), "db%3A a%2C b%25");
        let Some(Said::Line(line)) = report(Ci::Github).error("c", "db: not ready", "a\nb") else {
            panic!("GitHub annotates with a line");
        };
        assert_eq!(line, "::error title=db%3A not ready::a%0Ab");
    }

    #[test]
    fn azure_escapes_what_ends_a_command() {
        assert_eq!(azure("a;b]c%\nd"), "a%3Bb%5Dc%AZP25%0Ad");
    }

    #[test]
    fn each_value_is_masked_line_by_line_where_the_ci_masks() {
        let values = [
            "s3cr3t".to_string(),
            "first\nlines\n".to_string(),
            "1".to_string(),
        ];
        assert_eq!(
            report(Ci::Github).masks(&values),
            [
                "::add-mask::s3cr3t",
                "::add-mask::first",
                "::add-mask::lines"
            ]
        );
        assert_eq!(
            report(Ci::Azure).masks(&values)[0],
            "##vso[task.setsecret]s3cr3t"
        );
        for ci in [
            Ci::Gitlab,
            Ci::Buildkite,
            Ci::Circleci,
            Ci::Jenkins,
            Ci::None,
        ] {
            assert!(report(ci).masks(&values).is_empty(), "{ci:?}");
        }
    }

    #[test]
    fn github_appends_to_the_step_summary_and_azure_uploads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let summary = dir.path().join("summary.md");
        std::fs::write(&summary, "earlier step\n").unwrap();
        let github = CiReport {
            step_summary: Some(summary.clone()),
            ..report(Ci::Github)
        };
        assert!(github.summary("tb", "### testbed\n").unwrap().is_none());
        let written = std::fs::read_to_string(&summary).unwrap();
        assert_eq!(written, "earlier step\n### testbed\n");
        let azure = CiReport {
            temp_dir: dir.path().to_path_buf(),
            ..report(Ci::Azure)
        };
        let Some(Said::Line(line)) = azure.summary("testbed-tb-1", "### testbed\n").unwrap() else {
            panic!("Azure uploads with a line");
        };
        let file = dir.path().join("testbed-tb-1.md");
        assert_eq!(line, format!("##vso[task.uploadsummary]{}", file.display()));
        assert_eq!(std::fs::read_to_string(file).unwrap(), "### testbed\n");
        // Without the agent, Buildkite gets nothing.
        assert!(report(Ci::Buildkite).summary("tb", "x").unwrap().is_none());
    }
}
