//! The stack's own files that the daemon cannot see: copied into the run's
//! volume before anything is created, and what the services wrote into the
//! read-write mounts among them brought back after the tests.

use crate::events::{RunEvent, Trouble};
use crate::exit::Failure;

use super::decide::Outcome;
use super::phases::Driver;

impl Driver<'_> {
    /// Fills the run's volume, when it has one.
    pub(super) fn seed(&self) -> Result<(), Outcome> {
        let Some(seeding) = &self.plan.seeding else {
            return Ok(());
        };
        self.emit(RunEvent::Seeding(seeding));
        let filled = seeding.fill(self.stack.engine().client(), self.labels, &self.helper());
        self.seeded.set(filled.is_ok());
        let files = filled.map_err(|error| {
            Failure::engine(error.context("cannot seed the files the daemon cannot see"))
        })?;
        self.emit(RunEvent::Seeded {
            files,
            volume: &seeding.volume,
        });
        Ok(())
    }

    /// Copies back what the services wrote into the read-write seeded
    /// mounts, unless a second signal asked to skip it. Problems are
    /// warnings: the run's outcome stands.
    pub fn bring_back(&self) {
        let seeding = self.plan.seeding.as_ref().filter(|s| !s.back.is_empty());
        let Some(seeding) = seeding.filter(|_| self.seeded.get()) else {
            return;
        };
        if self.signals.escalated() {
            return self.emit(RunEvent::Trouble(Trouble::NotCopyingBack(seeding)));
        }
        match seeding.bring_back(self.stack.engine().client(), self.labels, &self.helper()) {
            Ok(unpacked) => {
                self.emit(RunEvent::CopiedBack {
                    files: unpacked.files,
                    seeding,
                });
                if !unpacked.skipped.is_empty() {
                    self.emit(RunEvent::Trouble(Trouble::NotCopiedBack(&unpacked.skipped)));
                }
            }
            Err(error) => self.emit(RunEvent::Trouble(Trouble::CopyBack(&error))),
        }
    }

    /// The container that carries the files in and out.
    fn helper(&self) -> String {
        format!("{}-testbed-seed", self.stack.project())
    }
}
