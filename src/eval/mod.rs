//! The evaluator: metrics from traces (and localization metrics from fix epochs) and verdicts
//! from threshold packs.

pub mod detection;
pub mod judge;
pub mod localization;
pub mod metrics;
pub mod robustness;
pub mod rules;
