//! The commands of a run as its reporter hears of them under `-v`: each
//! echoed as it starts (one that repeats, such as a healthcheck run again
//! and again, the first time, and counted), and the account of how long
//! docker kept the run busy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Printer;
use crate::engine::cmd::{Cmd, Observer};

pub struct Commands {
    printer: Arc<Printer>,
    /// When each command ran, from spawn to exit.
    spans: Mutex<Vec<(Instant, Instant)>>,
    /// Each command line echoed, in order, and how often it ran.
    echoed: Mutex<(Vec<String>, HashMap<String, usize>)>,
}

impl Commands {
    pub fn new(printer: Arc<Printer>) -> Commands {
        Commands {
            printer,
            spans: Mutex::new(Vec::new()),
            echoed: Mutex::new((Vec::new(), HashMap::new())),
        }
    }

    /// The command lines that ran more than once, in the order they were
    /// first echoed, with how often each ran.
    pub fn repeated(&self) -> Vec<(String, usize)> {
        let echoed = self.echoed.lock().unwrap_or_else(|e| e.into_inner());
        let (order, counts) = &*echoed;
        order
            .iter()
            .filter_map(|line| Some((line.clone(), *counts.get(line).filter(|n| **n > 1)?)))
            .collect()
    }

    /// How many commands ran, and for how long at least one was running.
    pub fn busy(&self) -> (usize, Duration) {
        busy(&self.spans.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Observer for Commands {
    fn echo(&self, cmd: &Cmd) {
        let line = cmd.to_string();
        let mut echoed = self.echoed.lock().unwrap_or_else(|e| e.into_inner());
        let (order, counts) = &mut *echoed;
        let count = counts.entry(line.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            order.push(line);
            drop(echoed);
            self.printer.echo(cmd);
        }
    }

    fn ran(&self, started: Instant, ended: Instant) {
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        spans.push((started, ended));
    }
}

/// How many `spans` there are, and how long their union lasts: commands
/// that overlap count once.
fn busy(spans: &[(Instant, Instant)]) -> (usize, Duration) {
    let mut spans = spans.to_vec();
    spans.sort();
    let mut total = Duration::ZERO;
    let mut current: Option<(Instant, Instant)> = None;
    for (start, end) in &spans {
        current = match current {
            Some((s, e)) if *start <= e => Some((s, e.max(*end))),
            Some((s, e)) => {
                total += e - s;
                Some((*start, *end))
            }
            None => Some((*start, *end)),
        };
    }
    if let Some((s, e)) = current {
        total += e - s;
    }
    (spans.len(), total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_counts_overlapping_commands_once() {
        let zero = Instant::now();
        let span = |from: u64, to: u64| {
            (
                zero + Duration::from_millis(from),
                zero + Duration::from_millis(to),
            )
        };
        // Two that overlap, one inside another, one apart.
        let spans = [span(0, 200), span(100, 300), span(150, 160), span(500, 600)];
        assert_eq!(busy(&spans), (4, Duration::from_millis(400)));
        assert_eq!(busy(&[]), (0, Duration::ZERO));
    }
}
