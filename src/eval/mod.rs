//! The evaluator: metrics from traces and verdicts from threshold packs.

pub mod judge;
pub mod metrics;
pub mod rules;
