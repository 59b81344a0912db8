//! Robustness of a system to camera corruptions (Michaelis et al. 2019, "Benchmarking
//! Robustness in Object Detection"): per scenario, the cases swept over the parameters
//! `corruption` and `severity` (with `corruption = "none"` the clean partner) give a performance
//! P per corruption × severity; mPC is the mean over corruptions of the mean over severities,
//! rPC = mPC / P_clean. Michaelis use AP over a whole dataset; ours uses detection recall and
//! precision (IoU ≥ 0.5, `eval::detection`) pooled over the cell's runs, the mean of the runs'
//! average precision at IoU 0.5, and the closed-loop pass rate.
//! `docs/metrics.md` defines it.

use std::collections::BTreeMap;

/// The parameter naming a case's corruption; its value `none` marks the clean partner.
pub const CORRUPTION_PARAM: &str = "corruption";
/// The parameter naming a case's severity.
pub const SEVERITY_PARAM: &str = "severity";
/// The corruption value of the clean partner.
pub const CLEAN: &str = "none";

/// What one case contributes: its verdict and, per run, detection counts and impact speed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseOutcome {
    pub passed: bool,
    pub runs: u64,
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    /// Sum of the runs' average precision (`detection_ap50`), and the runs that have one.
    pub ap50_sum: f64,
    pub ap50_runs: u64,
    /// Sum over runs of the relative impact speed, km/h (0 for a run without impact).
    pub impact_speed_sum_kph: f64,
}

/// The pooled outcome of the cases of one corruption × severity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cell {
    pub cases: u64,
    pub passed: u64,
    pub runs: u64,
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub ap50_sum: f64,
    pub ap50_runs: u64,
    pub impact_speed_sum_kph: f64,
}

impl Cell {
    fn add(&mut self, o: &CaseOutcome) {
        self.cases += 1;
        self.passed += u64::from(o.passed);
        self.runs += o.runs;
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.ap50_sum += o.ap50_sum;
        self.ap50_runs += o.ap50_runs;
        self.impact_speed_sum_kph += o.impact_speed_sum_kph;
    }

    /// TP / (TP + FN); `None` without targets.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// TP / (TP + FP); `None` without detections.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }

    /// Mean of the runs' average precision at IoU 0.5; `None` when no run has one.
    pub fn ap50(&self) -> Option<f64> {
        (self.ap50_runs > 0).then(|| self.ap50_sum / self.ap50_runs as f64)
    }

    /// Cases that passed / cases.
    pub fn pass_rate(&self) -> Option<f64> {
        ratio(self.passed, self.cases)
    }

    /// Mean relative impact speed over the runs, km/h (0 for runs without impact).
    pub fn mean_impact_speed_kph(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.impact_speed_sum_kph / self.runs as f64)
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// P_clean, mPC and rPC of one performance measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    pub clean: Option<f64>,
    pub mpc: Option<f64>,
    pub rpc: Option<f64>,
}

/// One scenario's corruption sweep: cells keyed by (corruption, severity); the clean cases are
/// the corruption `none`, whatever their severity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sweep {
    pub clean: Cell,
    pub cells: BTreeMap<(String, String), Cell>,
}

impl Sweep {
    pub fn add(&mut self, corruption: &str, severity: &str, outcome: &CaseOutcome) {
        if corruption == CLEAN {
            self.clean.add(outcome);
        } else {
            self.cells
                .entry((corruption.to_string(), severity.to_string()))
                .or_default()
                .add(outcome);
        }
    }

    /// P_clean, mPC (mean over corruptions of the mean over their severities of P, cells
    /// where P is undefined left out) and rPC = mPC / P_clean (undefined when P_clean is 0
    /// or undefined).
    pub fn score(&self, p: impl Fn(&Cell) -> Option<f64>) -> Score {
        let mut per_corruption: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for ((c, _), cell) in &self.cells {
            if let Some(v) = p(cell) {
                per_corruption.entry(c).or_default().push(v);
            }
        }
        let means: Vec<f64> = per_corruption.values().map(|v| mean(v)).collect();
        let mpc = (!means.is_empty()).then(|| mean(&means));
        let clean = if self.clean.cases > 0 {
            p(&self.clean)
        } else {
            None
        };
        let rpc = match (mpc, clean) {
            (Some(m), Some(c)) if c > 0.0 => Some(m / c),
            _ => None,
        };
        Score { clean, mpc, rpc }
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(passed: bool, tp: u64, fn_: u64, impact_kph: f64) -> CaseOutcome {
        CaseOutcome {
            passed,
            runs: 1,
            tp,
            fp: 0,
            fn_,
            impact_speed_sum_kph: impact_kph,
            ..CaseOutcome::default()
        }
    }

    #[test]
    fn mpc_is_the_mean_over_corruptions_of_the_mean_over_severities() {
        let mut s = Sweep::default();
        s.add("none", "1", &outcome(true, 8, 2, 0.0)); // recall 0.8
        s.add("none", "3", &outcome(true, 8, 2, 0.0));
        s.add("fog", "1", &outcome(true, 6, 4, 0.0)); // 0.6
        s.add("fog", "3", &outcome(false, 2, 8, 20.0)); // 0.2 → fog 0.4
        s.add("snow", "1", &outcome(true, 4, 6, 0.0)); // 0.4 → snow 0.4 (one severity)
        let r = s.score(Cell::recall);
        assert_eq!(r.clean, Some(0.8));
        assert!((r.mpc.unwrap() - 0.4).abs() < 1e-12, "{r:?}");
        assert!((r.rpc.unwrap() - 0.5).abs() < 1e-12, "{r:?}");
        // Pass rate: fog (1 + 0) / 2 = 0.5, snow 1 → mPC 0.75, clean 1.
        let p = s.score(Cell::pass_rate);
        assert_eq!((p.clean, p.mpc, p.rpc), (Some(1.0), Some(0.75), Some(0.75)));
        let fog3 = &s.cells[&("fog".to_string(), "3".to_string())];
        assert_eq!(fog3.mean_impact_speed_kph(), Some(20.0));
        // AP50: the mean over a cell's runs that have one; none without any.
        assert_eq!(fog3.ap50(), None);
        let mut ap = Sweep::default();
        for (c, sev, ap50) in [("none", "1", 0.9), ("fog", "1", 0.6), ("fog", "1", 0.2)] {
            let o = CaseOutcome {
                ap50_sum: ap50,
                ap50_runs: 1,
                ..outcome(true, 1, 0, 0.0)
            };
            ap.add(c, sev, &o);
        }
        let a = ap.score(Cell::ap50);
        assert_eq!(a.clean, Some(0.9));
        assert!((a.mpc.unwrap() - 0.4).abs() < 1e-12, "{a:?}");
    }

    #[test]
    fn undefined_without_a_clean_partner_or_with_zero_clean_performance() {
        let mut s = Sweep::default();
        s.add("fog", "1", &outcome(true, 1, 1, 0.0));
        let r = s.score(Cell::recall);
        assert_eq!((r.clean, r.mpc, r.rpc), (None, Some(0.5), None));
        s.add("none", "1", &outcome(false, 0, 3, 30.0));
        let r = s.score(Cell::recall);
        assert_eq!((r.clean, r.rpc), (Some(0.0), None));
        // Precision without any detection is undefined everywhere.
        let p = s.score(Cell::precision);
        assert_eq!(p.clean, None);
    }
}
