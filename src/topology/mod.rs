//! Where testbed runs, as the daemon sees it: the container it may run in,
//! that container's mounts, how the stack's own files reach the daemon, and
//! how the tests' artifacts reach the side that invoked testbed.

pub mod artifacts;
pub mod container;
pub mod mounts;
pub mod seed;
