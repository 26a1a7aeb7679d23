//! SIGINT, SIGTERM and SIGHUP turned into state the lifecycle can poll. The handler
//! does no work: a thread counts the signals and remembers the first one.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals as SignalIterator;

#[derive(Debug, Default)]
struct State {
    count: AtomicUsize,
    first: AtomicI32,
}

/// Shared view of the signals received so far.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    state: Arc<State>,
}

impl Signals {
    /// Starts listening. From now on SIGINT, SIGTERM and SIGHUP (a closed
    /// terminal) no longer kill testbed: the lifecycle sees them and tears
    /// the stack down.
    pub fn install() -> anyhow::Result<Signals> {
        let signals = Signals::default();
        let mut iterator = SignalIterator::new([SIGINT, SIGTERM, SIGHUP])?;
        let state = Arc::clone(&signals.state);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in iterator.forever() {
                    let _ =
                        state
                            .first
                            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
                    let count = state.count.fetch_add(1, Ordering::SeqCst) + 1;
                    announce(signal, count);
                }
            })?;
        Ok(signals)
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<i32> {
        match self.state.first.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }

    /// A second signal asks to skip log collection and tear down at once.
    pub fn escalated(&self) -> bool {
        self.state.count.load(Ordering::SeqCst) >= 2
    }
}

pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

fn announce(signal: i32, count: usize) {
    match count {
        1 => crate::report::warn(format!(
            "received {}: stopping, then tearing the stack down (send it again to skip log collection)",
            name(signal)
        )),
        2 => crate::report::warn(format!(
            "received {} again: skipping log collection, killing the stack",
            name(signal)
        )),
        _ => crate::report::warn("teardown is already running; it cannot be interrupted"),
    }
}
