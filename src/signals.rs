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
    /// terminal) no longer kill testbed: the run sees them and tears the
    /// stack down. `announce` is told each signal and how many have come.
    pub fn install(announce: impl Fn(i32, usize) + Send + 'static) -> anyhow::Result<Signals> {
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
