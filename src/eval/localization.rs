//! Localization metrics of a run with a satellite receiver (`[sensors.gnss]`), from the
//! error of every fix epoch in the road frame: horizontal, lateral and longitudinal error
//! percentiles, availability, time to first fix after an outage, and the Stanford-diagram
//! counts (error against protection level and alert limit). `docs/metrics.md` gives each
//! definition. No I/O.

use crate::eval::judge::{MetricMap, r6};
use crate::gnss::{FixType, percentile};
use crate::sensor::gnss::LocalizationSample;

/// The metric names, in documentation order. Present in a run's metrics only when its case
/// has a receiver.
pub const LOCALIZATION_METRIC_NAMES: &[&str] = &[
    "loc_horizontal_p50_m",
    "loc_horizontal_p95_m",
    "loc_horizontal_p99_m",
    "loc_lateral_p50_m",
    "loc_lateral_p95_m",
    "loc_lateral_p99_m",
    "loc_longitudinal_p50_m",
    "loc_longitudinal_p95_m",
    "loc_longitudinal_p99_m",
    "loc_availability",
    "loc_outages",
    "loc_ttff_after_outage_s",
    "loc_epochs",
    "loc_stanford_nominal",
    "loc_stanford_unavailable",
    "loc_stanford_misleading",
    "loc_stanford_hazardous",
];

/// Where one epoch falls in the Stanford diagram (horizontal error against the horizontal
/// protection level HPL and the alert limit AL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StanfordRegion {
    /// error ≤ HPL ≤ AL: the system is available and its bound holds.
    Nominal,
    /// HPL > AL: the system declares itself unavailable for the operation.
    Unavailable,
    /// HPL < error ≤ AL: misleading information.
    Misleading,
    /// HPL ≤ AL < error (and error > HPL): hazardously misleading information.
    Hazardous,
}

/// The region of an epoch with horizontal error `error_m`, protection level `pl_m` and alert
/// limit `al_m`.
pub fn stanford_region(error_m: f64, pl_m: f64, al_m: f64) -> StanfordRegion {
    if pl_m > al_m {
        StanfordRegion::Unavailable
    } else if error_m <= pl_m {
        StanfordRegion::Nominal
    } else if error_m <= al_m {
        StanfordRegion::Misleading
    } else {
        StanfordRegion::Hazardous
    }
}

/// The localization metrics of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalizationMetrics {
    /// Fix epochs from t = 0 to the end of the run.
    pub epochs: u32,
    /// Percentiles 50/95/99 (nearest rank) of the horizontal error and of the absolute lateral
    /// and longitudinal errors over the epochs with a position (dead reckoning included);
    /// `None` without any.
    pub horizontal_m: Option<[f64; 3]>,
    pub lateral_m: Option<[f64; 3]>,
    pub longitudinal_m: Option<[f64; 3]>,
    /// Share of epochs with a position (dead reckoning included).
    pub availability: f64,
    /// Outages: maximal runs of epochs without a satellite fix (no position or dead
    /// reckoning) after the first satellite fix.
    pub outages: u32,
    /// Longest time from the end of an outage's blockage (its first epoch with at least 4
    /// satellites received) to the first satellite fix; `None` when no outage ended in a fix.
    pub ttff_after_outage_s: Option<f64>,
    /// Stanford-diagram counts over the epochs with a position.
    pub stanford: [u32; 4],
}

impl LocalizationMetrics {
    /// A metric by its name of [`LOCALIZATION_METRIC_NAMES`].
    pub fn value(&self, name: &str) -> Option<f64> {
        let pct = |p: Option<[f64; 3]>, i: usize| p.map(|v| v[i]);
        match name {
            "loc_horizontal_p50_m" => pct(self.horizontal_m, 0),
            "loc_horizontal_p95_m" => pct(self.horizontal_m, 1),
            "loc_horizontal_p99_m" => pct(self.horizontal_m, 2),
            "loc_lateral_p50_m" => pct(self.lateral_m, 0),
            "loc_lateral_p95_m" => pct(self.lateral_m, 1),
            "loc_lateral_p99_m" => pct(self.lateral_m, 2),
            "loc_longitudinal_p50_m" => pct(self.longitudinal_m, 0),
            "loc_longitudinal_p95_m" => pct(self.longitudinal_m, 1),
            "loc_longitudinal_p99_m" => pct(self.longitudinal_m, 2),
            "loc_availability" => Some(self.availability),
            "loc_outages" => Some(f64::from(self.outages)),
            "loc_ttff_after_outage_s" => self.ttff_after_outage_s,
            "loc_epochs" => Some(f64::from(self.epochs)),
            "loc_stanford_nominal" => Some(f64::from(self.stanford[0])),
            "loc_stanford_unavailable" => Some(f64::from(self.stanford[1])),
            "loc_stanford_misleading" => Some(f64::from(self.stanford[2])),
            "loc_stanford_hazardous" => Some(f64::from(self.stanford[3])),
            _ => None,
        }
    }
}

/// Adds the localization metrics to a run's metrics, rounded as reports print them.
pub fn insert_metrics(map: &mut MetricMap, m: &LocalizationMetrics) {
    for &name in LOCALIZATION_METRIC_NAMES {
        map.0.insert(name.to_string(), m.value(name).map(r6));
    }
}

fn percentiles(mut v: Vec<f64>) -> Option<[f64; 3]> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some([
        percentile(&v, 50.0),
        percentile(&v, 95.0),
        percentile(&v, 99.0),
    ])
}

fn is_satellite_fix(s: &LocalizationSample) -> bool {
    s.error
        .is_some_and(|e| !matches!(e.fix_type, FixType::None | FixType::DeadReckoning))
}

/// The metrics of a run's fix epochs (in time order), with alert limit `alert_limit_m`.
pub fn compute(samples: &[LocalizationSample], alert_limit_m: f64) -> LocalizationMetrics {
    let samples: Vec<&LocalizationSample> = samples.iter().filter(|s| s.t_s >= 0.0).collect();
    let errors: Vec<_> = samples.iter().filter_map(|s| s.error).collect();
    let mut stanford = [0u32; 4];
    for e in &errors {
        let i = match stanford_region(e.horizontal_m, e.hpl_m, alert_limit_m) {
            StanfordRegion::Nominal => 0,
            StanfordRegion::Unavailable => 1,
            StanfordRegion::Misleading => 2,
            StanfordRegion::Hazardous => 3,
        };
        stanford[i] += 1;
    }
    // Outages and the time to the first satellite fix after each.
    let mut outages = 0;
    let mut ttff: Option<f64> = None;
    let mut seen_fix = false;
    let mut outage: Option<Option<f64>> = None; // Some(end of blockage, if reached)
    for s in &samples {
        if is_satellite_fix(s) {
            if let Some(clear) = outage.take() {
                let from = clear.unwrap_or(s.t_s);
                let t = s.t_s - from;
                ttff = Some(ttff.map_or(t, |m: f64| m.max(t)));
            }
            seen_fix = true;
            continue;
        }
        if !seen_fix {
            continue;
        }
        let clear = (s.sats_received >= 4).then_some(s.t_s);
        match &mut outage {
            None => {
                outages += 1;
                outage = Some(clear);
            }
            Some(c) => {
                if s.sats_received < 4 {
                    // Blocked again: the blockage ends later.
                    *c = None;
                } else if c.is_none() {
                    *c = clear;
                }
            }
        }
    }
    let n = samples.len();
    LocalizationMetrics {
        epochs: n as u32,
        horizontal_m: percentiles(errors.iter().map(|e| e.horizontal_m).collect()),
        lateral_m: percentiles(errors.iter().map(|e| e.lateral_m.abs()).collect()),
        longitudinal_m: percentiles(errors.iter().map(|e| e.along_m.abs()).collect()),
        availability: if n == 0 {
            0.0
        } else {
            errors.len() as f64 / n as f64
        },
        outages,
        ttff_after_outage_s: ttff,
        stanford,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnss::environment::EnvironmentKind;
    use crate::sensor::gnss::FixError;

    fn sample(
        t_s: f64,
        err: Option<(f64, f64, f64)>,
        sats: u32,
        ft: FixType,
    ) -> LocalizationSample {
        LocalizationSample {
            t_s,
            error: err.map(|(along_m, lateral_m, hpl_m)| FixError {
                fix_type: ft,
                along_m,
                lateral_m,
                horizontal_m: along_m.hypot(lateral_m),
                hpl_m,
            }),
            sats_received: sats,
            environment: EnvironmentKind::OpenSky,
        }
    }

    #[test]
    fn stanford_regions_follow_the_diagram() {
        assert_eq!(stanford_region(0.1, 0.3, 0.57), StanfordRegion::Nominal);
        assert_eq!(stanford_region(0.4, 0.3, 0.57), StanfordRegion::Misleading);
        assert_eq!(stanford_region(0.7, 0.3, 0.57), StanfordRegion::Hazardous);
        assert_eq!(stanford_region(0.1, 0.8, 0.57), StanfordRegion::Unavailable);
        assert_eq!(stanford_region(2.0, 0.8, 0.57), StanfordRegion::Unavailable);
        // On the boundaries: error = PL is bounded, PL = AL is available.
        assert_eq!(stanford_region(0.57, 0.57, 0.57), StanfordRegion::Nominal);
    }

    #[test]
    fn percentiles_of_a_known_error_series() {
        // Lateral errors 0.01, 0.02, …, 1.00 m (signs alternating), along 0.
        let samples: Vec<_> = (1..=100)
            .map(|i| {
                let lat = f64::from(i) / 100.0 * if i % 2 == 0 { 1.0 } else { -1.0 };
                sample(f64::from(i) * 0.1, Some((0.0, lat, 10.0)), 10, FixType::Spp)
            })
            .collect();
        let m = compute(&samples, 0.57);
        let lat = m.lateral_m.unwrap();
        assert_eq!(lat, [0.50, 0.95, 0.99]);
        assert_eq!(m.horizontal_m.unwrap(), [0.50, 0.95, 0.99]);
        assert_eq!(m.longitudinal_m.unwrap(), [0.0, 0.0, 0.0]);
        assert_eq!(m.availability, 1.0);
        assert_eq!(m.epochs, 100);
        // HPL 10 m > AL: every epoch unavailable.
        assert_eq!(m.stanford, [0, 100, 0, 0]);
        assert_eq!(m.outages, 0);
        assert_eq!(m.ttff_after_outage_s, None);
    }

    #[test]
    fn stanford_counts_of_a_synthetic_series() {
        let errs = [
            (0.1, 0.0, 0.3),  // nominal
            (0.0, 0.4, 0.3),  // misleading
            (0.0, -0.8, 0.3), // hazardous
            (0.2, 0.0, 1.0),  // unavailable
            (0.0, 0.5, 0.5),  // 0.5 ≤ 0.5: nominal
        ];
        let samples: Vec<_> = errs
            .iter()
            .enumerate()
            .map(|(i, &e)| sample(i as f64, Some(e), 9, FixType::RtkFixed))
            .collect();
        let m = compute(&samples, 0.57);
        assert_eq!(m.stanford, [2, 1, 1, 1]);
        assert_eq!(m.value("loc_stanford_hazardous"), Some(1.0));
    }

    #[test]
    fn outage_availability_and_time_to_first_fix() {
        // 1 Hz: fixes for 0–4 s, a tunnel 5–9 s (dead reckoning 5–6, then nothing), the sky
        // back at 10 s, the first satellite fix at 13 s.
        let mut s = Vec::new();
        for t in 0..5 {
            s.push(sample(
                f64::from(t),
                Some((0.1, 0.1, 1.0)),
                12,
                FixType::Spp,
            ));
        }
        for t in 5..7 {
            s.push(sample(
                f64::from(t),
                Some((1.0, 0.5, 3.0)),
                0,
                FixType::DeadReckoning,
            ));
        }
        for t in 7..10 {
            s.push(sample(f64::from(t), None, 0, FixType::None));
        }
        for t in 10..13 {
            s.push(sample(f64::from(t), None, 8, FixType::None));
        }
        for t in 13..20 {
            s.push(sample(
                f64::from(t),
                Some((0.1, 0.1, 1.0)),
                12,
                FixType::Spp,
            ));
        }
        // Warm-up epochs before t = 0 do not count.
        s.insert(0, sample(-1.0, None, 0, FixType::None));
        let m = compute(&s, 0.57);
        assert_eq!(m.epochs, 20);
        assert_eq!(m.availability, 14.0 / 20.0);
        assert_eq!(m.outages, 1);
        assert_eq!(m.ttff_after_outage_s, Some(3.0));
    }

    #[test]
    fn every_localization_metric_is_documented() {
        let doc = std::fs::read_to_string("docs/metrics.md").expect("docs/metrics.md");
        for name in LOCALIZATION_METRIC_NAMES {
            assert!(doc.contains(&format!("| `{name}`")), "{name} has no row");
        }
        let m = LocalizationMetrics::default();
        for name in LOCALIZATION_METRIC_NAMES {
            assert!(
                m.value(name).is_some() || name.contains("_p") || name.contains("ttff"),
                "{name} unknown"
            );
        }
    }

    #[test]
    fn no_fix_at_all() {
        let s: Vec<_> = (0..10)
            .map(|t| sample(f64::from(t), None, 0, FixType::None))
            .collect();
        let m = compute(&s, 0.57);
        assert_eq!(m.availability, 0.0);
        assert_eq!(m.horizontal_m, None);
        assert_eq!(m.value("loc_lateral_p95_m"), None);
        assert_eq!(m.outages, 0);
        assert_eq!(m.stanford, [0, 0, 0, 0]);
    }
}
