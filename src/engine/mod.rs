//! The Docker engine as testbed drives it: `Cmd`, the only place that
//! spawns; the docker client and the compose flavor; one compose project
//! (`Stack`) and how its services start; and what docker and compose print,
//! parsed.

mod children;
pub mod cmd;
mod docker;
pub mod endpoint;
pub mod model;
pub mod scheduler;
pub mod stack;
pub mod startup;
pub mod watch;

pub use docker::*;
