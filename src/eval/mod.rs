//! The evaluator: metrics from traces and verdicts from threshold packs.

pub mod metrics;
pub mod rules;
