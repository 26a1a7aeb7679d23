//! One live line per service while the dependencies start, on a terminal:
//! what each is doing and for how long, then its time to ready.

use std::time::Duration;

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Mode;
use crate::events::ServiceStatus;

/// The lines, or nothing where there is no terminal to redraw.
pub struct Live {
    bars: Vec<(String, ProgressBar)>,
    /// The finished line's look, aligned with the others.
    done: Option<ProgressStyle>,
    _group: Option<MultiProgress>,
}

impl Live {
    /// Lines for `services`, shown when `mode` is a terminal's.
    pub fn new(services: &[String], mode: Mode) -> Live {
        let target = ProgressDrawTarget::stderr();
        if mode != Mode::Terminal || target.is_hidden() {
            return Live {
                bars: Vec::new(),
                done: None,
                _group: None,
            };
        }
        let group = MultiProgress::with_draw_target(target);
        let width = services.iter().map(String::len).max().unwrap_or(0);
        let template = format!("  {{spinner}} {{prefix:{width}}}  {{msg}} {{elapsed:.dim}}");
        let look = ProgressStyle::with_template(&template).expect("the template is valid");
        let bars = services
            .iter()
            .map(|service| {
                let bar = group.add(ProgressBar::new_spinner());
                bar.set_style(look.clone());
                bar.set_prefix(service.clone());
                bar.set_message("created");
                bar.enable_steady_tick(Duration::from_millis(100));
                (service.clone(), bar)
            })
            .collect();
        let done = format!("  ✓ {{prefix:{width}}}  {{msg}}");
        Live {
            bars,
            done: Some(ProgressStyle::with_template(&done).expect("the template is valid")),
            _group: Some(group),
        }
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
