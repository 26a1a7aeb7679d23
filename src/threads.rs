//! Threads that speak for the thread that started them. A run works on one
//! thread, and under `--shards` each shard on its own; the few threads a run
//! starts to do things at once (`compose config` beside the daemon check,
//! the listings of the teardown) carry its context, so that what they echo
//! under `-v` is told apart as the run's own lines are.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};

/// What a thread carries for whoever reads it; `report` keeps its shard
/// here.
pub type Context = Arc<dyn Any + Send + Sync>;

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// This thread's context, from now on.
pub fn set(context: Option<Context>) {
    CONTEXT.with_borrow_mut(|current| *current = context);
}

/// This thread's context, taken away.
pub fn take() -> Option<Context> {
    CONTEXT.take()
}

pub fn get() -> Option<Context> {
    CONTEXT.with_borrow(Clone::clone)
}

/// `scope.spawn(work)`, in a thread that carries this thread's context.
pub fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    work: impl FnOnce() -> T + Send + 'scope,
) -> ScopedJoinHandle<'scope, T> {
    let context = get();
    scope.spawn(move || {
        set(context);
        work()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spawned_thread_carries_the_context_and_the_next_one_does_not() {
        set(Some(Arc::new("s2".to_string())));
        let seen =
            |context: Option<Context>| context.and_then(|c| c.downcast_ref::<String>().cloned());
        std::thread::scope(|scope| {
            let inherited = spawn(scope, get).join().unwrap();
            assert_eq!(seen(inherited).as_deref(), Some("s2"));
            let plain = scope.spawn(get).join().unwrap();
            assert_eq!(seen(plain), None);
        });
        assert_eq!(seen(take()).as_deref(), Some("s2"));
        assert_eq!(seen(get()), None);
    }
}
