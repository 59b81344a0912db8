//! Gauntlet: a deterministic, GPU-accelerated test harness for driving-assistance systems.
//!
//! This crate is the library behind the `gauntlet` binary. See `ARCHITECTURE.md` for the
//! module map, the data flow and the invariants.

pub mod calibrate;
pub mod diag;
pub mod diff;
pub mod eval;
pub mod gnss;
pub mod gpu;
pub mod merge;
pub mod perturb;
pub mod render;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod sensor;
pub mod shard;
pub mod sim;
pub mod sut;
pub mod thresholds;
