//! The images testbed built, found by their `testbed.image` label: which
//! containers use them, and which of them `gc` removes once nothing uses
//! them and their TTL has passed.

use anyhow::{Context, Result};

use std::time::Duration;

use super::{Policy, Verdict};
use crate::engine::Docker;
use crate::engine::model;
use crate::events::ImageRow;
use crate::events::{Events, Garbage, RunEvent, Trouble};
use crate::exit::Failure;
use crate::labels;

/// An image testbed built: one that carries `testbed.image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundImage {
    pub id: String,
    pub tags: Vec<String>,
    /// Its `testbed.image` label: `<prefix>-<service>`.
    pub name: String,
    /// When it was last built or tagged for a run, in seconds since the
    /// epoch.
    pub touched: Option<u64>,
    pub ttl: Option<Duration>,
    /// Whether a container, running or not, was created from it.
    pub in_use: bool,
}

impl FoundImage {
    fn new(image: model::Image, used: &[String]) -> Option<FoundImage> {
        Some(FoundImage {
            name: image.labels.get(labels::IMAGE)?.clone(),
            ttl: image
                .labels
                .get(labels::TTL)
                .and_then(|s| s.parse().ok())
                .map(Duration::from_secs),
            in_use: used.contains(&image.id),
            touched: image.touched,
            tags: image.tags,
            id: image.id,
        })
    }

    fn short_id(&self) -> &str {
        let id = self.id.trim_start_matches("sha256:");
        &id[..12.min(id.len())]
    }

    /// Its tags, or `<id> of <name>` when it has none.
    /// As `ls` lists it, judged by `verdict`.
    pub(super) fn row(&self, verdict: &Verdict, now: u64) -> ImageRow {
        let name = match self.tags.is_empty() {
            true => format!("<none> of {}", self.name),
            false => self.tags.join(", "),
        };
        ImageRow {
            name,
            id: self.short_id().to_string(),
            age: self.touched.map(|t| now.saturating_sub(t)),
            in_use: self.in_use,
            gc: verdict.would(),
        }
    }

    pub(super) fn shown(&self) -> String {
        if self.tags.is_empty() {
            format!("{} of {}", self.short_id(), self.name)
        } else {
            self.tags.join(", ")
        }
    }

    /// Whether its name is `<prefix>-…` for one of `prefixes`.
    pub(super) fn has_prefix(&self, prefixes: &[String]) -> bool {
        prefixes
            .iter()
            .any(|prefix| self.name.starts_with(&format!("{prefix}-")))
    }
}

/// Every image testbed built on the daemon, and whether a container uses
/// it.
pub fn find_images(docker: &Docker) -> Result<Vec<FoundImage>> {
    let listed = docker
        .cmd(["image", "ls", "-q", "--no-trunc"])
        .args(["--filter", &format!("label={}", labels::IMAGE)])
        .read()?;
    // One line per tag.
    let mut ids: Vec<&str> = listed.split_whitespace().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // An image removed since it was listed is left out, as the rest is
    // printed anyway.
    let inspected = docker.cmd(["image", "inspect"]).args(ids).output()?;
    let json = String::from_utf8_lossy(&inspected.stdout);
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let used = images_in_use(docker)?;
    Ok(model::parse_image_inspect(&json)?
        .into_iter()
        .filter_map(|image| FoundImage::new(image, &used))
        .collect())
}

/// The image of every container on the daemon, by id.
fn images_in_use(docker: &Docker) -> Result<Vec<String>> {
    let containers = docker.cmd(["ps", "-aq", "--no-trunc"]).read()?;
    let containers: Vec<&str> = containers.split_whitespace().collect();
    if containers.is_empty() {
        return Ok(Vec::new());
    }
    // A container removed since it was listed is no matter.
    let inspected = docker
        .cmd(["container", "inspect", "--format", "{{.Image}}"])
        .args(containers)
        .output()?;
    Ok(String::from_utf8_lossy(&inspected.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// Decides what `gc` does with an image testbed built. One that a container
/// uses stays, whatever the policy (the daemon would refuse anyway); the
/// rest go with `--all`, when older than `--older-than`, or when their TTL
/// has passed since they were last built or tagged for a run.
pub fn image_verdict(image: &FoundImage, now: u64, policy: &Policy) -> Verdict {
    if image.in_use {
        return Verdict::Keep("a container uses it".into());
    }
    if policy.all {
        return Verdict::Remove("--all".into());
    }
    let Some(age) = image.touched.map(|t| now.saturating_sub(t)) else {
        return Verdict::Keep("its age is unknown".into());
    };
    if let Some(limit) = policy.older_than.filter(|limit| age >= limit.as_secs()) {
        return Verdict::Remove(format!("older than {}", humantime::format_duration(limit)));
    }
    match image.ttl {
        Some(ttl) if age >= ttl.as_secs() => Verdict::Remove(format!(
            "unused, and its TTL of {} has passed",
            humantime::format_duration(ttl)
        )),
        Some(ttl) => Verdict::Keep(format!(
            "unused, within its TTL of {}",
            humantime::format_duration(ttl)
        )),
        None => Verdict::Keep("it has no TTL".into()),
    }
}

/// Every image testbed built on the daemon, with what `gc` does with it
/// under `policy`.
pub(super) fn judge_images(docker: &Docker, policy: &Policy) -> Result<Vec<(FoundImage, Verdict)>> {
    let now = labels::now();
    Ok(find_images(docker)?
        .into_iter()
        .map(|image| {
            let verdict = image_verdict(&image, now, policy);
            (image, verdict)
        })
        .collect())
}

/// The images part of `gc`, as [`gc_stacks`] is for stacks. An image goes
/// by its tags, or by its id when it has none: without `--force`, which
/// would take an image a container still uses.
pub(super) fn gc_images(
    docker: &Docker,
    policy: &Policy,
    prefixes: &[String],
    dry_run: bool,
    failed: &mut Option<anyhow::Error>,
    events: &dyn Events,
) -> Result<(usize, usize), Failure> {
    let judged = judge_images(docker, policy).map_err(Failure::engine)?;
    let mut kept = 0;
    let mut removable = 0;
    for (image, verdict) in judged {
        if !prefixes.is_empty() && !image.has_prefix(prefixes) {
            continue;
        }
        let Verdict::Remove(why) = verdict else {
            kept += 1;
            events.emit(RunEvent::Keeping {
                garbage: Garbage::Image(&image.shown()),
                why: verdict.to_string(),
            });
            continue;
        };
        removable += 1;
        let removed = |dry_run| {
            events.emit(RunEvent::Removed {
                garbage: Garbage::Image(&image.shown()),
                why: &why,
                what: None,
                dry_run,
            })
        };
        if dry_run {
            removed(true);
            continue;
        }
        let refs = if image.tags.is_empty() {
            vec![image.id.clone()]
        } else {
            image.tags.clone()
        };
        match docker
            .cmd(["image", "rm"])
            .args(refs)
            .read()
            .with_context(|| format!("cannot remove image {}", image.shown()))
        {
            Ok(_) => removed(false),
            Err(error) => {
                events.emit(RunEvent::Trouble(Trouble::Remove(&error)));
                *failed = Some(error);
            }
        }
    }
    Ok((kept, removable))
}
