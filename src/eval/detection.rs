//! Detection scoring: a system's detections (2D box, class, distance, confidence) against the
//! renderer's labels of the frames it was handed (`sim::camera::ScoredFrame`), per run and
//! over a suite: recall and precision at IoU 0.5, recall of the in-path target, distance
//! error, detection range and average precision at IoU 0.5 (`docs/metrics.md`). No I/O.
//!
//! Matching is class-agnostic and greedy: per frame, detections in order of falling confidence
//! (ties in the order returned) take the unmatched label they overlap most, if the
//! intersection over union is at least [`DetectionConfig::iou_min`]. Labels the camera barely
//! shows (visible fraction below [`DetectionConfig::min_visible_fraction`] or a box lower than
//! [`DetectionConfig::min_height_px`]) are *ignored*: missing them is no miss, and a detection
//! matching one is neither a hit nor a false alarm.

use super::judge::{MetricMap, r6};
use crate::sim::camera::{ScoredFrame, TruthBox};

/// Parameters of detection scoring (the defaults are the documented values).
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionConfig {
    pub iou_min: f64,
    pub min_visible_fraction: f64,
    pub min_height_px: f64,
    /// The in-path target counts as detected stably from the first of this many consecutive
    /// frames in which it is matched.
    pub stable_frames: usize,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig {
            iou_min: 0.5,
            min_visible_fraction: 0.5,
            min_height_px: 10.0,
            stable_frames: 3,
        }
    }
}

/// The names of the detection metrics, as `report.json` has them.
pub const DETECTION_METRICS: &[&str] = &[
    "detection_frames",
    "detection_tp",
    "detection_fp",
    "detection_fn",
    "detection_recall",
    "detection_precision",
    "detection_recall_in_path",
    "detection_distance_error_m",
    "detection_range_m",
    "detection_ap50",
];

/// Detection metrics of one run (or, summed, of a suite).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DetectionMetrics {
    pub frames: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    /// Frames in which the in-path target was a required label, and those in which it was
    /// matched.
    pub in_path_frames: u64,
    pub in_path_hits: u64,
    /// Sum of |detected − true distance| over the true positives, m.
    pub distance_error_sum_m: f64,
    /// Distance of the in-path target when it was first detected stably, m.
    pub range_m: Option<f64>,
    /// Average precision at IoU 0.5 over the run's frames (see [`average_precision`]); `None`
    /// without a required label.
    pub ap50: Option<f64>,
}

impl DetectionMetrics {
    /// Share of required labels matched; `None` without any.
    pub fn recall(&self) -> Option<f64> {
        let n = self.true_positives + self.false_negatives;
        (n > 0).then(|| self.true_positives as f64 / n as f64)
    }

    /// Share of scored detections that matched a required label; `None` without any.
    pub fn precision(&self) -> Option<f64> {
        let n = self.true_positives + self.false_positives;
        (n > 0).then(|| self.true_positives as f64 / n as f64)
    }

    pub fn recall_in_path(&self) -> Option<f64> {
        (self.in_path_frames > 0).then(|| self.in_path_hits as f64 / self.in_path_frames as f64)
    }

    /// Mean absolute distance error over the true positives, m.
    pub fn distance_error_m(&self) -> Option<f64> {
        (self.true_positives > 0).then(|| self.distance_error_sum_m / self.true_positives as f64)
    }

    /// Adds the metrics as `report.json` prints them.
    pub fn insert_into(&self, map: &mut MetricMap) {
        let values = [
            Some(self.frames as f64),
            Some(self.true_positives as f64),
            Some(self.false_positives as f64),
            Some(self.false_negatives as f64),
            self.recall(),
            self.precision(),
            self.recall_in_path(),
            self.distance_error_m(),
            self.range_m,
            self.ap50,
        ];
        for (name, value) in DETECTION_METRICS.iter().zip(values) {
            map.0.insert(name.to_string(), value.map(r6));
        }
    }
}

/// Intersection over union of two boxes `x0, y0, x1, y1`.
pub fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: [f64; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

fn required(t: &TruthBox, cfg: &DetectionConfig) -> bool {
    t.visible_fraction >= cfg.min_visible_fraction
        && t.bbox_px[3] - t.bbox_px[1] >= cfg.min_height_px
}

/// The outcome of one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameOutcome {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub distance_error_sum_m: f64,
    /// The in-path target was a required label (`Some`), and whether it was matched.
    pub in_path: Option<(bool, f64)>,
    /// The confidence of every detection that counted, and whether it was a true positive
    /// (detections matching an ignored label are not in it).
    pub scored: Vec<(f64, bool)>,
}

/// Scores one frame (see the module's documentation for the matching).
pub fn score_frame(frame: &ScoredFrame, cfg: &DetectionConfig) -> FrameOutcome {
    let mut order: Vec<usize> = (0..frame.detections.len()).collect();
    order.sort_by(|&a, &b| {
        frame.detections[b]
            .confidence
            .total_cmp(&frame.detections[a].confidence)
    });
    let mut taken = vec![false; frame.truths.len()];
    let mut out = FrameOutcome::default();
    for &d in &order {
        let det = &frame.detections[d];
        let Some(bbox) = det.bbox_px else { continue };
        let best = frame
            .truths
            .iter()
            .enumerate()
            .filter(|(t, _)| !taken[*t])
            .map(|(t, truth)| (t, iou(bbox, truth.bbox_px)))
            .filter(|&(_, o)| o >= cfg.iou_min)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((t, _)) => {
                taken[t] = true;
                let truth = &frame.truths[t];
                if required(truth, cfg) {
                    out.true_positives += 1;
                    out.distance_error_sum_m += (det.distance_m - truth.distance_m).abs();
                    out.scored.push((det.confidence, true));
                }
            }
            None => {
                out.false_positives += 1;
                out.scored.push((det.confidence, false));
            }
        }
    }
    for (t, truth) in frame.truths.iter().enumerate() {
        if required(truth, cfg) {
            if !taken[t] {
                out.false_negatives += 1;
            }
            if truth.in_path {
                out.in_path = Some((taken[t], truth.distance_m));
            }
        }
    }
    out
}

/// The detection metrics of a run from the frames it was handed.
pub fn run_metrics(frames: &[ScoredFrame], cfg: &DetectionConfig) -> DetectionMetrics {
    let mut m = DetectionMetrics::default();
    // Per camera: the current streak of frames matching the in-path target, and the distance
    // at its first frame.
    let n_cameras = frames.iter().map(|f| f.camera + 1).max().unwrap_or(0);
    let mut streaks: Vec<(usize, f64)> = vec![(0, 0.0); n_cameras];
    let mut scored = Vec::new();
    for frame in frames {
        let o = score_frame(frame, cfg);
        scored.extend_from_slice(&o.scored);
        m.frames += 1;
        m.true_positives += o.true_positives;
        m.false_positives += o.false_positives;
        m.false_negatives += o.false_negatives;
        m.distance_error_sum_m += o.distance_error_sum_m;
        let streak = &mut streaks[frame.camera];
        match o.in_path {
            Some((hit, distance_m)) => {
                m.in_path_frames += 1;
                if hit {
                    m.in_path_hits += 1;
                    if streak.0 == 0 {
                        streak.1 = distance_m;
                    }
                    streak.0 += 1;
                    if streak.0 >= cfg.stable_frames && m.range_m.is_none() {
                        m.range_m = Some(streak.1);
                    }
                } else {
                    *streak = (0, 0.0);
                }
            }
            None => *streak = (0, 0.0),
        }
    }
    m.ap50 = average_precision(&mut scored, m.true_positives + m.false_negatives);
    m
}

/// Average precision of scored detections against `required` labels: the area under the
/// precision–recall curve with precision made non-increasing (each recall level takes the best
/// precision at that recall or beyond: all-point interpolation, as PASCAL VOC since 2010 and
/// without COCO's 101-point sampling). Detections are ranked by falling confidence, ties in
/// the order given (frame order, then confidence order within a frame). `None` without a
/// required label; 0 with labels but no true positive.
pub fn average_precision(scored: &mut [(f64, bool)], required: u64) -> Option<f64> {
    if required == 0 {
        return None;
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut tp = 0u64;
    let precision: Vec<(f64, bool)> = scored
        .iter()
        .enumerate()
        .map(|(k, &(_, hit))| {
            tp += u64::from(hit);
            (tp as f64 / (k + 1) as f64, hit)
        })
        .collect();
    let mut best = 0.0f64;
    let mut ap = 0.0;
    for &(p, hit) in precision.iter().rev() {
        best = best.max(p);
        if hit {
            ap += best;
        }
    }
    Some(ap / required as f64)
}

/// Detection metrics over a suite, summed from the runs' saved metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SuiteDetection {
    /// Runs with detection metrics.
    pub runs: u64,
    pub totals: DetectionMetrics,
    /// Runs with an in-path target that was detected stably, and the sum of their ranges.
    pub ranged_runs: u64,
    pub range_sum_m: f64,
}

impl SuiteDetection {
    /// Adds one run's saved metrics (nothing if it has no detection metrics).
    pub fn add(&mut self, metric: &dyn Fn(&str) -> Option<f64>) {
        let Some(frames) = metric("detection_frames") else {
            return;
        };
        let count = |name: &str| metric(name).unwrap_or(0.0).max(0.0).round() as u64;
        let tp = count("detection_tp");
        self.runs += 1;
        self.totals.frames += frames.max(0.0).round() as u64;
        self.totals.true_positives += tp;
        self.totals.false_positives += count("detection_fp");
        self.totals.false_negatives += count("detection_fn");
        self.totals.distance_error_sum_m +=
            metric("detection_distance_error_m").unwrap_or(0.0) * tp as f64;
        if let Some(r) = metric("detection_range_m") {
            self.ranged_runs += 1;
            self.range_sum_m += r;
        }
    }

    /// Mean detection range over the runs that have one, m.
    pub fn mean_range_m(&self) -> Option<f64> {
        (self.ranged_runs > 0).then(|| self.range_sum_m / self.ranged_runs as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sut::{Detection, ObjectClass};

    fn truth(instance: u32, bbox_px: [f64; 4], visible_fraction: f64, in_path: bool) -> TruthBox {
        TruthBox {
            instance,
            class: ObjectClass::Car,
            bbox_px,
            visible_fraction,
            distance_m: 20.0,
            in_path,
        }
    }

    fn det(bbox_px: [f64; 4], distance_m: f64, confidence: f64) -> Detection {
        Detection {
            class: ObjectClass::Car,
            distance_m,
            confidence,
            camera: 0,
            bbox_px: Some(bbox_px),
        }
    }

    #[test]
    fn iou_of_boxes() {
        assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]), 1.0);
        assert_eq!(iou([0.0, 0.0, 10.0, 10.0], [10.0, 0.0, 20.0, 10.0]), 0.0);
        assert!((iou([0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn hits_misses_false_alarms_and_ignored_labels() {
        let frame = ScoredFrame {
            camera: 0,
            exposed_at_s: 0.0,
            truths: vec![
                truth(1, [100.0, 100.0, 140.0, 130.0], 1.0, true),
                truth(2, [10.0, 100.0, 40.0, 130.0], 1.0, false),
                // Mostly hidden: ignored.
                truth(3, [200.0, 100.0, 240.0, 130.0], 0.2, false),
            ],
            detections: vec![
                det([102.0, 101.0, 141.0, 131.0], 21.5, 0.9),
                det([200.0, 100.0, 240.0, 130.0], 30.0, 0.8),
                det([300.0, 100.0, 340.0, 130.0], 30.0, 0.7),
            ],
        };
        let o = score_frame(&frame, &DetectionConfig::default());
        assert_eq!(
            (o.true_positives, o.false_positives, o.false_negatives),
            (1, 1, 1)
        );
        assert!((o.distance_error_sum_m - 1.5).abs() < 1e-12);
        assert_eq!(o.in_path, Some((true, 20.0)));
    }

    #[test]
    fn detection_range_needs_consecutive_frames() {
        let cfg = DetectionConfig::default();
        let frame = |hit: bool, distance_m: f64| {
            let mut t = truth(1, [100.0, 100.0, 140.0, 130.0], 1.0, true);
            t.distance_m = distance_m;
            ScoredFrame {
                camera: 0,
                exposed_at_s: 0.0,
                truths: vec![t],
                detections: if hit {
                    vec![det([100.0, 100.0, 140.0, 130.0], distance_m, 0.9)]
                } else {
                    Vec::new()
                },
            }
        };
        let frames = vec![
            frame(true, 60.0),
            frame(true, 58.0),
            frame(false, 56.0),
            frame(true, 54.0),
            frame(true, 52.0),
            frame(true, 50.0),
            frame(true, 48.0),
        ];
        let m = run_metrics(&frames, &cfg);
        assert_eq!(m.range_m, Some(54.0));
        assert_eq!((m.in_path_frames, m.in_path_hits), (7, 6));
        assert_eq!(m.recall(), Some(6.0 / 7.0));
        assert_eq!(m.precision(), Some(1.0));
        // Never three in a row: no range.
        assert_eq!(run_metrics(&frames[..3], &cfg).range_m, None);
        // Every detection a hit, 6 of 7 labels found: AP = recall.
        assert_eq!(m.ap50, Some(6.0 / 7.0));
    }

    #[test]
    fn average_precision_by_hand() {
        // Ranked: hit (P 1), miss (P 1/2), hit (P 2/3), miss, hit (P 3/5); 4 labels.
        // Interpolated precision at the hits: 1, 2/3, 3/5 → AP = (1 + 2/3 + 3/5) / 4.
        let mut scored = vec![
            (0.3, true),
            (0.9, true),
            (0.6, false),
            (0.8, false),
            (0.7, true),
        ];
        scored.swap(0, 4); // the order given does not matter, the confidences do
        let ap = average_precision(&mut scored, 4).unwrap();
        assert!(
            (ap - (1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 4.0).abs() < 1e-12,
            "{ap}"
        );
        // A later, better precision lifts the earlier hits (the envelope): miss, hit, hit.
        let mut scored = vec![(0.9, false), (0.8, true), (0.7, true)];
        let ap = average_precision(&mut scored, 2).unwrap();
        assert!((ap - (2.0 / 3.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12, "{ap}");
        // Ties keep the order given: hit first is better than miss first.
        let first_hit = average_precision(&mut [(0.5, true), (0.5, false)], 1).unwrap();
        let first_miss = average_precision(&mut [(0.5, false), (0.5, true)], 1).unwrap();
        assert_eq!((first_hit, first_miss), (1.0, 0.5));
        // No labels: undefined; labels but no hit: 0.
        assert_eq!(average_precision(&mut [(0.9, false)], 0), None);
        assert_eq!(average_precision(&mut [(0.9, false)], 3), Some(0.0));
        assert_eq!(average_precision(&mut [], 3), Some(0.0));
    }

    #[test]
    fn ignored_labels_do_not_count_towards_average_precision() {
        let frame = ScoredFrame {
            camera: 0,
            exposed_at_s: 0.0,
            truths: vec![
                truth(1, [100.0, 100.0, 140.0, 130.0], 1.0, true),
                truth(3, [200.0, 100.0, 240.0, 130.0], 0.2, false),
            ],
            detections: vec![
                det([200.0, 100.0, 240.0, 130.0], 30.0, 0.95),
                det([300.0, 100.0, 340.0, 130.0], 30.0, 0.9),
                det([100.0, 100.0, 140.0, 130.0], 20.0, 0.8),
            ],
        };
        let o = score_frame(&frame, &DetectionConfig::default());
        assert_eq!(o.scored, vec![(0.9, false), (0.8, true)]);
        let m = run_metrics(&[frame], &DetectionConfig::default());
        assert_eq!(m.ap50, Some(0.5));
    }
}
