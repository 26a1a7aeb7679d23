//! The exit code of a run, decided once from how its phases ended and how
//! its teardown went. Cleanup never hides a failure, and never turns one
//! into a pass.

use crate::events::{Ending, StackAfter, Verdict};
use crate::exit::{Exit, Failure};

/// How the phases before teardown ended.
#[derive(Debug)]
pub enum Outcome {
    /// The tests ran and exited with this code.
    Tests(u8),
    /// The stack is up and ready, and the tests were not to run (`up`).
    Ready,
    /// The stack could not be brought up, or the tests could not be run.
    Failed(Failure),
    /// A signal arrived.
    Interrupted(i32),
}

impl From<Failure> for Outcome {
    fn from(failure: Failure) -> Self {
        Outcome::Failed(failure)
    }
}

/// The verdict on a run whose phases ended with `outcome` and whose
/// teardown ended with `down`; `kept` says whether the stack was to stay.
pub fn decide(outcome: Outcome, down: anyhow::Result<()>, kept: bool) -> Verdict {
    let down = down.map_err(|error| error.context("teardown failed; the stack may be left"));
    let (ending, teardown_error) = match (outcome, down) {
        // A pass stands only if nothing is left behind.
        (Outcome::Tests(0), Ok(())) => (Ending::Passed, None),
        (Outcome::Tests(0) | Outcome::Ready, Err(down)) => {
            (Ending::Failed(Failure::engine(down)), None)
        }
        (Outcome::Tests(code), down) => (Ending::TestsFailed(code), down.err()),
        (Outcome::Ready, Ok(())) => (Ending::Ready, None),
        (Outcome::Failed(failure), down) => (Ending::Failed(failure), down.err()),
        (Outcome::Interrupted(signal), down) => {
            let stack = match (&down, kept) {
                (Err(_), _) => StackAfter::Unknown,
                (Ok(()), true) => StackAfter::Kept,
                (Ok(()), false) => StackAfter::Removed,
            };
            (Ending::Interrupted { signal, stack }, down.err())
        }
    };
    Verdict {
        exit: exit_of(&ending),
        ending,
        teardown_error,
        diagnosis: None,
    }
}

/// The verdict on a run that failed before it had a stack to tear down.
pub fn failed(failure: Failure) -> Verdict {
    Verdict {
        exit: failure.exit,
        ending: Ending::Failed(failure),
        teardown_error: None,
        diagnosis: None,
    }
}

/// The exit code of a run split over shards, from each shard's, in order:
/// a signal's if one stopped them; else the first that says the run could
/// not test (2, 124 to 127); else the lowest-numbered failing shard's own;
/// 0 when every shard passed.
pub fn shards(exits: &[Exit]) -> Exit {
    let signal = exits.iter().find(|e| matches!(e, Exit::Signal(_)));
    let orchestrator = exits.iter().find(|e| !matches!(e, Exit::Tests(_)));
    let failed = exits.iter().find(|e| **e != Exit::Tests(0));
    signal
        .or(orchestrator)
        .or(failed)
        .copied()
        .unwrap_or(Exit::Tests(0))
}

fn exit_of(ending: &Ending) -> Exit {
    match ending {
        Ending::Passed | Ending::Ready | Ending::Removed => Exit::Tests(0),
        Ending::TestsFailed(code) => Exit::Tests(*code),
        Ending::Failed(failure) => failure.exit,
        Ending::Interrupted { signal, .. } => Exit::Signal(*signal),
    }
}

#[cfg(test)]
mod tests {
    use anyhow::anyhow;

    use super::*;
    use crate::exit::TABLE;

    fn torn_down() -> anyhow::Result<()> {
        Ok(())
    }

    fn teardown_failed() -> anyhow::Result<()> {
        Err(anyhow!("docker rm failed"))
    }

    fn failure(exit: Exit) -> Outcome {
        Outcome::Failed(Failure::new(exit, anyhow!("it failed")))
    }

    /// A run: how its phases ended, how its teardown went, and its code.
    type Case = (Outcome, anyhow::Result<()>, u8);

    /// Each row of the exit-code table: its code, and the runs that end
    /// with it, with a teardown that worked and one that failed.
    fn rows() -> Vec<(&'static str, Vec<Case>)> {
        vec![
            (
                "0-255",
                vec![
                    (Outcome::Tests(0), torn_down(), 0),
                    (Outcome::Tests(1), torn_down(), 1),
                    (Outcome::Tests(3), teardown_failed(), 3),
                    (Outcome::Tests(137), torn_down(), 137),
                    (Outcome::Tests(255), teardown_failed(), 255),
                ],
            ),
            (
                "2",
                vec![
                    (failure(Exit::Usage), torn_down(), 2),
                    (failure(Exit::Usage), teardown_failed(), 2),
                ],
            ),
            (
                "124",
                vec![
                    (failure(Exit::Timeout), torn_down(), 124),
                    (failure(Exit::Timeout), teardown_failed(), 124),
                ],
            ),
            (
                "125",
                vec![
                    (failure(Exit::Engine), torn_down(), 125),
                    (failure(Exit::Engine), teardown_failed(), 125),
                    // Teardown failed after the tests passed, or after `up`.
                    (Outcome::Tests(0), teardown_failed(), 125),
                    (Outcome::Ready, teardown_failed(), 125),
                ],
            ),
            (
                "126",
                vec![
                    (failure(Exit::CannotInvoke), torn_down(), 126),
                    (failure(Exit::CannotInvoke), teardown_failed(), 126),
                ],
            ),
            (
                "127",
                vec![
                    (failure(Exit::NotFound), torn_down(), 127),
                    (failure(Exit::NotFound), teardown_failed(), 127),
                ],
            ),
            (
                "129",
                vec![
                    (Outcome::Interrupted(libc::SIGHUP), torn_down(), 129),
                    (Outcome::Interrupted(libc::SIGHUP), teardown_failed(), 129),
                ],
            ),
            (
                "130",
                vec![
                    (Outcome::Interrupted(libc::SIGINT), torn_down(), 130),
                    (Outcome::Interrupted(libc::SIGINT), teardown_failed(), 130),
                ],
            ),
            (
                "143",
                vec![
                    (Outcome::Interrupted(libc::SIGTERM), torn_down(), 143),
                    (Outcome::Interrupted(libc::SIGTERM), teardown_failed(), 143),
                ],
            ),
        ]
    }

    #[test]
    fn every_row_of_the_exit_code_table_is_decided_as_it_says() {
        let rows = rows();
        let codes: Vec<&str> = rows.iter().map(|(code, _)| *code).collect();
        let documented: Vec<&str> = TABLE
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .filter(|word| word.starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        assert_eq!(codes, documented, "a row of exit::TABLE has no case here");
        for (row, cases) in rows {
            for (outcome, down, code) in cases {
                let case = format!("row {row}: {outcome:?}, teardown {down:?}");
                assert_eq!(decide(outcome, down, false).exit.code(), code, "{case}");
            }
        }
    }

    #[test]
    fn a_teardown_failure_is_reported_beside_the_code_it_did_not_change() {
        let verdict = decide(Outcome::Tests(3), teardown_failed(), false);
        assert!(matches!(verdict.ending, Ending::TestsFailed(3)));
        let error = verdict.teardown_error.expect("the teardown error is kept");
        assert_eq!(
            format!("{error:#}"),
            "teardown failed; the stack may be left: docker rm failed"
        );
        // After a pass, the teardown failure is the run's failure.
        let verdict = decide(Outcome::Tests(0), teardown_failed(), false);
        assert!(verdict.teardown_error.is_none());
        match verdict.ending {
            Ending::Failed(failure) => assert_eq!(failure.exit, Exit::Engine),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn after_a_signal_the_verdict_says_what_became_of_the_stack() {
        let stack = |down, kept| match decide(Outcome::Interrupted(libc::SIGINT), down, kept).ending
        {
            Ending::Interrupted { stack, .. } => stack,
            other => panic!("{other:?}"),
        };
        assert_eq!(stack(torn_down(), false), StackAfter::Removed);
        assert_eq!(stack(torn_down(), true), StackAfter::Kept);
        assert_eq!(stack(teardown_failed(), false), StackAfter::Unknown);
    }

    #[test]
    fn shards_exit_with_the_failure_that_matters_most() {
        use Exit::*;
        let cases = [
            (vec![Tests(0), Tests(0), Tests(0)], Tests(0)),
            (vec![Tests(0), Tests(3), Tests(1)], Tests(3)),
            (vec![Tests(5), Timeout, Tests(3)], Timeout),
            (vec![Tests(1), Engine, CannotInvoke], Engine),
            (vec![Tests(0), NotFound], NotFound),
            (
                vec![Tests(3), Signal(libc::SIGTERM), Engine],
                Signal(libc::SIGTERM),
            ),
            (vec![Tests(0)], Tests(0)),
        ];
        for (exits, expected) in cases {
            assert_eq!(shards(&exits), expected, "{exits:?}");
        }
    }

    #[test]
    fn up_is_ready_and_a_failure_before_the_stack_keeps_its_code() {
        assert!(matches!(
            decide(Outcome::Ready, torn_down(), true).ending,
            Ending::Ready
        ));
        let verdict = failed(Failure::new(Exit::NotFound, anyhow!("no docker")));
        assert_eq!(verdict.exit, Exit::NotFound);
    }
}
