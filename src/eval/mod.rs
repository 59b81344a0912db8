//! The evaluator: metrics from traces and verdicts from threshold packs.

pub mod detection;
pub mod judge;
pub mod metrics;
pub mod rules;
