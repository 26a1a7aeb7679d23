//! The CI a run is in, told by its variables: how it names a job, how it
//! splits a suite over parallel jobs, and which of its conventions the
//! output follows (groups, error annotations, secret masking, a job
//! summary). `--ci` or `TESTBED_CI` overrides the detection.

/// The CIs testbed knows the conventions of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Ci {
    Gitlab,
    Github,
    Buildkite,
    Azure,
    Circleci,
    Jenkins,
    /// No CI: a laptop, a Makefile.
    #[default]
    None,
}

/// This job's place among its CI's parallel jobs, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub index: u32,
    pub total: u32,
}

impl Node {
    /// `index` of `total`, 1-based, when that makes sense.
    pub fn new(index: u32, total: u32) -> Option<Node> {
        (1..=total)
            .contains(&index)
            .then_some(Node { index, total })
    }

    /// Shard `i` (1-based) of `shards` on this node, numbered across all
    /// nodes: `(index-1)*shards + i` of `total*shards`.
    pub fn shard(self, i: u32, shards: u32) -> Node {
        Node {
            index: (self.index - 1) * shards + i,
            total: self.total * shards,
        }
    }

    /// `--shard I/N`.
    pub fn parse(spec: &str) -> Result<Node, String> {
        let form = "the form is I/N, this job's place among N jobs, from 1: e.g. --shard 2/3";
        let (index, total) = spec
            .split_once('/')
            .ok_or_else(|| format!("`{spec}` is not a shard: {form}"))?;
        let number = |n: &str| n.trim().parse::<u32>().ok();
        match (number(index), number(total)) {
            (Some(index), Some(total)) => Node::new(index, total).ok_or_else(|| {
                format!("`{spec}` is not a shard: {index} is not between 1 and {total}; {form}")
            }),
            _ => Err(format!("`{spec}` is not a shard: {form}")),
        }
    }
}

impl Ci {
    /// The CI whose variables are set; `None` where none is.
    pub fn detect(var: impl Fn(&str) -> Option<String>) -> Ci {
        let is = |name: &str, value: &str| var(name).is_some_and(|v| v.eq_ignore_ascii_case(value));
        if is("GITLAB_CI", "true") {
            Ci::Gitlab
        } else if is("GITHUB_ACTIONS", "true") {
            Ci::Github
        } else if is("BUILDKITE", "true") {
            Ci::Buildkite
        } else if is("TF_BUILD", "true") {
            Ci::Azure
        } else if is("CIRCLECI", "true") {
            Ci::Circleci
        } else if var("JENKINS_URL").is_some_and(|v| !v.is_empty()) {
            Ci::Jenkins
        } else {
            Ci::None
        }
    }

    /// Its name as its users know it.
    pub fn name(self) -> &'static str {
        match self {
            Ci::Gitlab => "GitLab CI",
            Ci::Github => "GitHub Actions",
            Ci::Buildkite => "Buildkite",
            Ci::Azure => "Azure Pipelines",
            Ci::Circleci => "CircleCI",
            Ci::Jenkins => "Jenkins",
            Ci::None => "no CI",
        }
    }

    /// The job's own id, unique to it and to its attempt: what a project
    /// name starts with, so that `docker ps` on a shared runner says whose
    /// stack it is.
    pub fn job(self, var: impl Fn(&str) -> Option<String>) -> Option<String> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        match self {
            Ci::Gitlab => set("CI_JOB_ID"),
            Ci::Github => {
                let run = set("GITHUB_RUN_ID")?;
                let attempt = set("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
                Some(match set("GITHUB_JOB") {
                    Some(job) => format!("{run}-{attempt}-{job}"),
                    None => format!("{run}-{attempt}"),
                })
            }
            Ci::Buildkite => set("BUILDKITE_JOB_ID"),
            Ci::Azure => {
                let build = set("BUILD_BUILDID")?;
                let attempt = set("SYSTEM_JOBATTEMPT").unwrap_or_else(|| "1".into());
                Some(format!("{build}-{attempt}"))
            }
            Ci::Circleci => set("CIRCLE_WORKFLOW_JOB_ID"),
            Ci::Jenkins => set("BUILD_TAG"),
            Ci::None => None,
        }
    }

    /// This job's place among the CI's parallel jobs, from the CI's own
    /// variables (0-based on Buildkite and CircleCI). Elsewhere, and
    /// outside any CI, `CI_NODE_INDEX` and `CI_NODE_TOTAL` as GitLab sets
    /// them, so that a Makefile can set them too.
    pub fn node(self, var: impl Fn(&str) -> Option<String>) -> Option<Node> {
        let number = |name: &str| var(name)?.trim().parse::<u32>().ok();
        let (index, total) = self.split_variables()?;
        let from = if self.counts_from_zero() { 0 } else { 1 };
        Node::new(number(index)?.checked_add(1 - from)?, number(total)?)
    }

    /// The variables that say where this job stands among its CI's
    /// parallel jobs; the tests get them as they are, beside
    /// `CI_NODE_INDEX` and `CI_NODE_TOTAL`.
    pub fn split_variables(self) -> Option<(&'static str, &'static str)> {
        match self {
            Ci::Buildkite => Some(("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT")),
            Ci::Azure => Some(("SYSTEM_JOBPOSITIONINPHASE", "SYSTEM_TOTALJOBSINPHASE")),
            Ci::Circleci => Some(("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL")),
            Ci::Gitlab | Ci::Github | Ci::Jenkins | Ci::None => {
                Some(("CI_NODE_INDEX", "CI_NODE_TOTAL"))
            }
        }
    }

    fn counts_from_zero(self) -> bool {
        matches!(self, Ci::Buildkite | Ci::Circleci)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn each_ci_is_told_by_its_own_variable() {
        let cases: [(&[(&str, &str)], Ci); 7] = [
            (&[("GITLAB_CI", "true")], Ci::Gitlab),
            (&[("GITHUB_ACTIONS", "true")], Ci::Github),
            (&[("BUILDKITE", "true")], Ci::Buildkite),
            (&[("TF_BUILD", "True")], Ci::Azure),
            (&[("CIRCLECI", "true")], Ci::Circleci),
            (&[("JENKINS_URL", "https://ci.example.com/")], Ci::Jenkins),
            (&[("CI", "true")], Ci::None),
        ];
        for (pairs, ci) in cases {
            let var = move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            };
            assert_eq!(Ci::detect(var), ci, "{pairs:?}");
        }
    }

    #[test]
    fn a_job_is_named_by_its_id_and_attempt() {
        let github = vars(&[
            ("GITHUB_RUN_ID", "8812"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_JOB", "integration"),
        ]);
        assert_eq!(
            Ci::Github.job(github).as_deref(),
            Some("8812-2-integration")
        );
        let azure = vars(&[("BUILD_BUILDID", "417"), ("SYSTEM_JOBATTEMPT", "3")]);
        assert_eq!(Ci::Azure.job(azure).as_deref(), Some("417-3"));
        let jenkins = vars(&[("BUILD_TAG", "jenkins-api-12")]);
        assert_eq!(Ci::Jenkins.job(jenkins).as_deref(), Some("jenkins-api-12"));
        assert_eq!(Ci::Github.job(vars(&[])), None);
        assert_eq!(Ci::None.job(vars(&[("CI_JOB_ID", "5")])), None);
    }

    #[test]
    fn each_ci_splits_in_its_own_numbers_and_testbed_counts_from_one() {
        let buildkite = vars(&[
            ("BUILDKITE_PARALLEL_JOB", "0"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "3"),
        ]);
        assert_eq!(Ci::Buildkite.node(buildkite), Node::new(1, 3));
        let circle = vars(&[("CIRCLE_NODE_INDEX", "2"), ("CIRCLE_NODE_TOTAL", "3")]);
        assert_eq!(Ci::Circleci.node(circle), Node::new(3, 3));
        let azure = vars(&[
            ("SYSTEM_JOBPOSITIONINPHASE", "2"),
            ("SYSTEM_TOTALJOBSINPHASE", "4"),
        ]);
        assert_eq!(Ci::Azure.node(azure), Node::new(2, 4));
        let gitlab = |index: &'static str| vars_owned(index);
        assert_eq!(Ci::Gitlab.node(gitlab("2")), Node::new(2, 4));
        assert_eq!(Ci::Gitlab.node(gitlab("5")), None);
        assert_eq!(Ci::Gitlab.node(gitlab("0")), None);
        assert_eq!(Ci::Gitlab.node(gitlab("x")), None);
        assert_eq!(Ci::None.node(gitlab("2")), Node::new(2, 4));
        let circle_past_the_end = vars(&[("CIRCLE_NODE_INDEX", "3"), ("CIRCLE_NODE_TOTAL", "3")]);
        assert_eq!(Ci::Circleci.node(circle_past_the_end), None);
    }

    fn vars_owned(index: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name| match name {
            "CI_NODE_INDEX" => Some(index.to_string()),
            "CI_NODE_TOTAL" => Some("4".to_string()),
            _ => None,
        }
    }

    #[test]
    fn a_shard_is_given_as_i_of_n() {
        assert_eq!(Node::parse("2/3"), Ok(Node { index: 2, total: 3 }));
        for bad in ["0/3", "4/3", "x", "2/", "/3", "2-3"] {
            let error = Node::parse(bad).unwrap_err();
            assert!(error.contains("the form is I/N"), "{bad}: {error}");
        }
        assert!(
            Node::parse("4/3")
                .unwrap_err()
                .contains("4 is not between 1 and 3")
        );
    }
}
