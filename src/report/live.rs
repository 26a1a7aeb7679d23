//! One live line per service while the dependencies start, on a terminal:
//! what each is doing and for how long, then its time to ready.

use std::time::Duration;

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Mode;
use crate::events::{ServiceStatus, Waits};

/// The lines, or nothing where there is no terminal to redraw.
pub struct Live {
    bars: Vec<(String, ProgressBar)>,
    /// The finished line's look, aligned with the others.
    done: Option<ProgressStyle>,
    group: Option<MultiProgress>,
}

impl Live {
    /// Lines for `services`, in the order `waits` lets them start, shown
    /// when `mode` is a terminal's.
    pub fn new(services: &[String], waits: &[Waits], mode: Mode) -> Live {
        let target = ProgressDrawTarget::stderr();
        if mode != Mode::Terminal || target.is_hidden() {
            return Live {
                bars: Vec::new(),
                done: None,
                group: None,
            };
        }
        let group = MultiProgress::with_draw_target(target);
        let width = services.iter().map(String::len).max().unwrap_or(0);
        let template = format!("  {{spinner}} {{prefix:{width}}}  {{msg}} {{elapsed:.dim}}");
        let look = ProgressStyle::with_template(&template).expect("the template is valid");
        let bars = in_start_order(services, waits)
            .into_iter()
            .map(|service| {
                let bar = group.add(ProgressBar::new_spinner());
                bar.set_style(look.clone());
                bar.set_prefix(service.clone());
                bar.set_message("created");
                bar.enable_steady_tick(Duration::from_millis(100));
                (service, bar)
            })
            .collect();
        let done = format!("  ✓ {{prefix:{width}}}  {{msg}}");
        Live {
            bars,
            done: Some(ProgressStyle::with_template(&done).expect("the template is valid")),
            group: Some(group),
        }
    }

    /// The lines as drawn, where they are: what other output must go
    /// above.
    pub fn drawn(&self) -> Option<MultiProgress> {
        self.group.clone()
    }

    /// Shows what each service is doing; `None` is ready.
    pub fn update(&self, statuses: &[ServiceStatus]) {
        for status in statuses {
            let Some((_, bar)) = self.bars.iter().find(|(s, _)| *s == status.service) else {
                continue;
            };
            match &status.waiting_on {
                Some(what) => bar.set_message(what.to_string()),
                None if !bar.is_finished() => {
                    let after = format!("{:.1}s", bar.elapsed().as_secs_f64());
                    if let Some(done) = &self.done {
                        bar.set_style(done.clone());
                    }
                    bar.finish_with_message(format!("{} {after}", style("ready").green()));
                }
                None => {}
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // Lines of services that never got ready stay as they were: what
        // each was doing when the wait ended.
        for (_, bar) in &self.bars {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

/// `services` in the order they can start: those that wait for none of
/// the others first, then each after the longest chain it waits for, by
/// name within a step.
fn in_start_order(services: &[String], waits: &[Waits]) -> Vec<String> {
    fn step(service: &str, waits: &[Waits], seen: &mut Vec<String>) -> usize {
        let Some(w) = waits.iter().find(|w| w.service == service) else {
            return 0;
        };
        // A cycle, which compose refuses, ends here rather than recursing.
        if seen.iter().any(|s| s == service) {
            return 0;
        }
        seen.push(service.to_string());
        let after = w.on.iter().map(|on| step(on, waits, seen) + 1).max();
        seen.pop();
        after.unwrap_or(0)
    }
    let mut ordered: Vec<(usize, String)> = services
        .iter()
        .map(|s| (step(s, waits, &mut Vec::new()), s.clone()))
        .collect();
    ordered.sort();
    ordered.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(service: &str, on: &[&str]) -> Waits {
        Waits {
            service: service.into(),
            on: on.iter().map(|s| s.to_string()).collect(),
            check_interval: None,
            awaited_healthy: false,
        }
    }

    #[test]
    fn the_lines_follow_the_order_the_services_start_in() {
        let services: Vec<String> = ["api", "cache", "db", "worker"].map(String::from).into();
        let chain = [
            waits("api", &["db", "cache"]),
            waits("cache", &[]),
            waits("db", &[]),
            waits("worker", &["api"]),
        ];
        assert_eq!(
            in_start_order(&services, &chain),
            ["cache", "db", "api", "worker"]
        );
        // What waits for nothing known keeps its place by name.
        assert_eq!(in_start_order(&services, &[]), services);
    }
}
