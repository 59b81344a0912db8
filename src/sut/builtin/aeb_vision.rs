//! `builtin:aeb-vision`: the reference AEB that sees the road only through its camera — no
//! ground truth, no object list, no lane report. It finds an in-path obstacle in the colour
//! pixels, estimates its distance from flat-ground geometry and the known camera mount, and
//! brakes with the logic of `builtin:aeb` ([`Aeb`]) on the object it has seen.
//!
//! Per new frame of its camera (the first of `[[sensors.camera]]`, which must look forward):
//! 1. *Corridor*: for each image row below the horizon, the columns where the ground inside
//!    the ego's predicted path (its width plus a margin, bent by the yaw rate) projects.
//! 2. *Road appearance*: the mean colour of the corridor in the bottom rows, then tracked row by
//!    row upwards (so that the road darkening with distance at night is followed).
//! 3. *Obstacle*: the nearest row (from the bottom up) in which at least `min_row_share` of the
//!    corridor's pixels depart from the road's appearance, and the row above it too: the
//!    obstacle's contact line with the ground. Its box: the departing pixels connected to the
//!    corridor in the rows just above the contact line (width), and upwards while the pixels
//!    depart from the background on either side of the box (height).
//! 4. *Distance*: the contact line's ray meets the flat ground at the camera's mounted height
//!    (pitch included; distortion and roll are not modelled: a cost of the simple model).
//! 5. *Confirmation*: an obstacle counts once it is found in `confirm_frames` consecutive
//!    frames at consistent distances; its closing speed is the least-squares slope of its
//!    distance over the last frames (the ego's own speed until there are enough of them). It
//!    is kept for `coast_s` through frames that miss it.
//!
//! The confirmed obstacle becomes a one-object list for [`Aeb`], and a detection (2D box,
//! class guessed from its metric size, distance, confidence) in the command.

use std::collections::VecDeque;

use super::aeb::{Aeb, AebConfig};
use super::common::{default_setup, ego_speed_mps, finite_or};
use crate::render::Camera;
use crate::sut::{
    CameraFrame, Command, Detection, ObjectClass, Observation, RunSetup, SutError, System,
    TrackedObject,
};

/// Parameters of [`AebVision`]. See `docs/reference-systems.md`.
#[derive(Clone, Debug, PartialEq)]
pub struct AebVisionConfig {
    /// The braking logic and its thresholds (those of `builtin:aeb`); its `path_margin_m` also
    /// widens the image corridor.
    pub aeb: AebConfig,
    /// Rows whose ground lies farther than this are not searched, m.
    pub max_range_m: f64,
    /// A pixel departs from a reference colour when a channel differs by more than
    /// `max(min_departure, rel_departure × reference's brightest channel)` (8-bit levels).
    pub min_departure: f64,
    pub rel_departure: f64,
    /// Share of the corridor's pixels that must depart for a row to belong to an obstacle.
    pub min_row_share: f64,
    /// Share of the box's pixels that must depart from the background for a row to belong to
    /// the obstacle's upper part.
    pub min_box_row_share: f64,
    /// Consecutive frames that must find the obstacle before it counts.
    pub confirm_frames: usize,
    /// Successive distances are consistent within `consistency_m + consistency_share ×
    /// distance` of the prediction, m.
    pub consistency_m: f64,
    pub consistency_share: f64,
    /// Frames of distance history for the closing-speed slope (at least `min_slope_frames`).
    pub velocity_window: usize,
    pub min_slope_frames: usize,
    /// A confirmed obstacle is kept this long through frames that miss it, s.
    pub coast_s: f64,
}

impl Default for AebVisionConfig {
    fn default() -> Self {
        AebVisionConfig {
            aeb: AebConfig::default(),
            max_range_m: 80.0,
            min_departure: 18.0,
            rel_departure: 0.3,
            min_row_share: 0.12,
            min_box_row_share: 0.3,
            confirm_frames: 3,
            consistency_m: 1.5,
            consistency_share: 0.15,
            velocity_window: 10,
            min_slope_frames: 5,
            coast_s: 0.3,
        }
    }
}

/// An obstacle found in one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Sighting {
    /// `x0, y0, x1, y1`, pixels (edges).
    pub bbox_px: [f64; 4],
    /// Depth along the optical axis of the contact line, m.
    pub depth_m: f64,
    /// From the ego's front bumper to the contact line, along the ego's x axis, m.
    pub gap_m: f64,
    /// Lateral position of the box's centre in the ego frame (left positive), m.
    pub lateral_m: f64,
    pub width_m: f64,
    pub height_m: f64,
}

/// The camera's geometry as the system knows it: flat ground, pinhole, pitch only.
struct Geometry {
    f_px: f64,
    cx: f64,
    cy: f64,
    height_m: f64,
    sin_p: f64,
    cos_p: f64,
    /// Camera position in the ego frame (x forward from the footprint's centre, y left).
    cam_x_m: f64,
    cam_y_m: f64,
}

impl Geometry {
    fn new(camera: &Camera) -> Geometry {
        let (sin_p, cos_p) = camera.pitch_rad.sin_cos();
        Geometry {
            f_px: camera.focal_px(),
            cx: 0.5 * f64::from(camera.width_px),
            cy: 0.5 * f64::from(camera.height_px),
            height_m: camera.position_in_ego_m[2],
            sin_p,
            cos_p,
            cam_x_m: camera.position_in_ego_m[0],
            cam_y_m: camera.position_in_ego_m[1],
        }
    }

    /// Where the ray through image row `v` (edge coordinates, down) meets the ground: depth
    /// along the optical axis and distance ahead of the camera, m; `None` at or above the
    /// horizon.
    fn ground_at_row(&self, v: f64) -> Option<(f64, f64)> {
        let yd = (v - self.cy) / self.f_px;
        let down = self.sin_p + yd * self.cos_p;
        if down <= 1e-6 {
            return None;
        }
        let depth_m = self.height_m / down;
        Some((depth_m, depth_m * (self.cos_p - yd * self.sin_p)))
    }

    /// Image column (edge coordinates) of a point `left_m` left of the ego's centre line at
    /// optical depth `depth_m`.
    fn column(&self, left_m: f64, depth_m: f64) -> f64 {
        self.cx - self.f_px * (left_m - self.cam_y_m) / depth_m
    }
}

/// Reads pixel colours of a frame.
struct Image<'a> {
    frame: &'a CameraFrame,
}

impl Image<'_> {
    fn rgb(&self, u: usize, v: usize) -> [f64; 3] {
        let i = (v * self.frame.width_px as usize + u) * 4;
        let p = &self.frame.rgba[i..i + 3];
        [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]
    }
}

fn departs(p: [f64; 3], reference: [f64; 3], cfg: &AebVisionConfig) -> bool {
    let limit = cfg
        .min_departure
        .max(cfg.rel_departure * reference[0].max(reference[1]).max(reference[2]));
    (0..3).any(|c| (p[c] - reference[c]).abs() > limit)
}

/// Whether `p` is a darker shade of `road` (the same colour, less light: a shadow).
fn shade_of(p: [f64; 3], road: [f64; 3]) -> bool {
    let (pl, rl) = (p[0] + p[1] + p[2], road[0] + road[1] + road[2]);
    if pl >= rl || rl <= 0.0 {
        return false;
    }
    let k = pl / rl;
    (0..3).all(|c| (p[c] - k * road[c]).abs() <= 6.0 + 0.08 * road[c])
}

fn mean(sum: [f64; 3], n: usize) -> [f64; 3] {
    let n = n.max(1) as f64;
    [sum[0] / n, sum[1] / n, sum[2] / n]
}

/// Finds the nearest in-path obstacle in a frame (see the module's documentation). `curvature`
/// bends the corridor (1/m, left positive); `half_width_m` is its half-width.
pub fn find_obstacle(
    frame: &CameraFrame,
    ego_length_m: f64,
    half_width_m: f64,
    curvature_per_m: f64,
    cfg: &AebVisionConfig,
) -> Option<Sighting> {
    let (w, h) = (frame.width_px as usize, frame.height_px as usize);
    if w < 8 || h < 8 || frame.rgba.len() < w * h * 4 {
        return None;
    }
    let geo = Geometry::new(&frame.camera);
    let img = Image { frame };
    // The corridor's columns in row `v` (pixel centres), clamped to the image.
    let corridor = |v: usize| -> Option<(usize, usize, f64)> {
        let (depth_m, ahead_m) = geo.ground_at_row(v as f64 + 0.5)?;
        if ahead_m > cfg.max_range_m {
            return None;
        }
        let x_ego_m = ahead_m + geo.cam_x_m;
        let centre_m = 0.5 * curvature_per_m * x_ego_m * x_ego_m;
        let a = geo.column(centre_m + half_width_m, depth_m).max(0.0);
        let b = geo.column(centre_m - half_width_m, depth_m).min(w as f64);
        let (a, b) = (a.ceil() as usize, b.floor() as usize);
        (b > a + 2).then_some((a, b.min(w), depth_m))
    };
    // Road appearance per column, from the bottom rows (a local mean over 5 columns, so that
    // the texture averages out), then tracked upwards.
    let (a0, b0, _) = corridor(h - 1)?;
    let mut road: Vec<[f64; 3]> = vec![[0.0; 3]; w];
    let bottom_rows = h.saturating_sub(4)..h;
    for u in a0..b0 {
        let (lo, hi) = (u.saturating_sub(2).max(a0), (u + 3).min(b0));
        let mut s = [0.0; 3];
        for v in bottom_rows.clone() {
            for x in lo..hi {
                let p = img.rgb(x, v);
                (0..3).for_each(|c| s[c] += p[c]);
            }
        }
        road[u] = mean(s, (hi - lo) * bottom_rows.len());
    }
    // Columns outside the initial corridor take the nearest initialised one.
    for u in 0..a0 {
        road[u] = road[a0];
    }
    for u in b0..w {
        road[u] = road[b0 - 1];
    }
    let share_departing = |v: usize, road: &[[f64; 3]]| -> Option<(f64, Vec<bool>)> {
        let (a, b, _) = corridor(v)?;
        let out: Vec<bool> = (a..b)
            .map(|u| departs(img.rgb(u, v), road[u], cfg))
            .collect();
        let n = out.iter().filter(|&&d| d).count();
        Some((n as f64 / (b - a) as f64, out))
    };
    // The contact line: the nearest row departing, with the row above it departing too.
    let mut bottom = None;
    let mut v = h - 1;
    while v >= 1 {
        let (share, out) = share_departing(v, &road)?;
        if share >= cfg.min_row_share {
            let above = share_departing(v - 1, &road).map_or(0.0, |s| s.0);
            if above >= cfg.min_row_share {
                bottom = Some(v);
                break;
            }
        }
        // The road pixels of this row pull their columns' references halfway towards them.
        if let Some((a, _, _)) = corridor(v) {
            let row: Vec<[f64; 3]> = (0..out.len()).map(|k| img.rgb(a + k, v)).collect();
            for k in 0..out.len() {
                let (lo, hi) = (k.saturating_sub(2), (k + 3).min(out.len()));
                let (mut sum, mut n) = ([0.0; 3], 0);
                for x in lo..hi {
                    if !out[x] {
                        (0..3).for_each(|c| sum[c] += row[x][c]);
                        n += 1;
                    }
                }
                if n > 0 {
                    let m = mean(sum, n);
                    let r = &mut road[a + k];
                    *r = [0, 1, 2].map(|c| 0.5 * r[c] + 0.5 * m[c]);
                }
            }
        }
        v -= 1;
    }
    let v_b = bottom?;
    let (depth_m, ahead_m) = geo.ground_at_row(v_b as f64 + 1.0)?;
    let (a, b, _) = corridor(v_b)?;
    // Width: pixels departing from the road connected to the corridor's, in the rows just
    // above the contact line; a pixel that is only a darker shade of the road (a shadow) does
    // not count, unless nothing but such pixels is there (a grey obstacle).
    let rows_up = ((geo.f_px * 0.6 / depth_m).round() as usize).clamp(1, v_b);
    let extent = |solid: &dyn Fn(usize, usize) -> bool| -> Option<(usize, usize)> {
        let (mut left, mut right) = (usize::MAX, 0usize);
        for v in (v_b - rows_up..=v_b).rev() {
            let inside: Vec<usize> = (a..b).filter(|&u| solid(u, v)).collect();
            let (Some(&first), Some(&last)) = (inside.first(), inside.last()) else {
                continue;
            };
            let mut l = first;
            while l >= 2 && (solid(l - 1, v) || solid(l - 2, v)) {
                l -= 1;
            }
            let mut r = last + 1;
            while r + 1 < w && (solid(r, v) || solid(r + 1, v)) {
                r += 1;
            }
            left = left.min(l);
            right = right.max(r);
        }
        (left < right).then_some((left, right))
    };
    let departing = |u: usize, v: usize| departs(img.rgb(u, v), road[u], cfg);
    let not_shadow = |u: usize, v: usize| {
        let p = img.rgb(u, v);
        departing(u, v) && !shade_of(p, road[u])
    };
    let (left, right) = extent(&not_shadow).or_else(|| extent(&departing))?;
    // Height: rows whose box pixels depart from the background either side of the box; up to
    // 0.8 m of rows that do not (a grey cabin against grey road) may lie between departing
    // ones.
    let max_rows = ((geo.f_px * 4.5 / depth_m).round() as usize).min(v_b);
    let max_gap = ((geo.f_px * 0.8 / depth_m).round() as usize).max(2);
    let strip = 4usize;
    let mut top = v_b;
    let mut misses = 0;
    for k in 1..=max_rows {
        let v = v_b - k;
        let side = |range: std::ops::Range<usize>| -> Option<[f64; 3]> {
            if range.is_empty() {
                return None;
            }
            let mut s = [0.0; 3];
            for u in range.clone() {
                let p = img.rgb(u, v);
                (0..3).for_each(|c| s[c] += p[c]);
            }
            Some(mean(s, range.len()))
        };
        let bg_left = side(left.saturating_sub(strip + 2)..left.saturating_sub(2));
        let bg_right = side((right + 2).min(w)..(right + 2 + strip).min(w));
        let out = (left..right)
            .filter(|&u| {
                let p = img.rgb(u, v);
                bg_left.is_none_or(|bg| departs(p, bg, cfg))
                    && bg_right.is_none_or(|bg| departs(p, bg, cfg))
            })
            .count();
        if out as f64 >= cfg.min_box_row_share * (right - left) as f64 {
            top = v;
            misses = 0;
        } else {
            misses += 1;
            if misses > max_gap {
                break;
            }
        }
    }
    let bbox_px = [left as f64, top as f64, right as f64, v_b as f64 + 1.0];
    let u_centre = 0.5 * (bbox_px[0] + bbox_px[2]);
    Some(Sighting {
        bbox_px,
        depth_m,
        gap_m: ahead_m + geo.cam_x_m - 0.5 * ego_length_m,
        lateral_m: geo.cam_y_m - (u_centre - geo.cx) * depth_m / geo.f_px,
        width_m: (bbox_px[2] - bbox_px[0]) * depth_m / geo.f_px,
        height_m: (bbox_px[3] - bbox_px[1]) * depth_m / geo.f_px,
    })
}

/// The class a sighting's metric size suggests (the image holds no more than that here).
pub fn guess_class(s: &Sighting) -> ObjectClass {
    if s.height_m < 1.1 {
        ObjectClass::StaticObstacle
    } else if s.width_m < 1.0 {
        ObjectClass::Pedestrian
    } else {
        ObjectClass::Car
    }
}

/// The obstacle the system believes in.
#[derive(Clone, Debug)]
struct Track {
    sighting: Sighting,
    seen_at_s: f64,
    /// Rate of change of the gap, m/s (negative when closing).
    gap_rate_mps: f64,
    frames: usize,
}

/// The vision AEB. One instance drives one run.
pub struct AebVision {
    cfg: AebVisionConfig,
    setup: RunSetup,
    aeb: Aeb,
    last_frame: Option<u64>,
    /// Consecutive consistent sightings: (exposure time, gap).
    history: VecDeque<(f64, f64)>,
    track: Option<Track>,
    /// The detection of the latest frame (reported until the next frame).
    detection: Option<Detection>,
}

impl AebVision {
    pub fn new(cfg: AebVisionConfig) -> AebVision {
        let aeb = Aeb::new(cfg.aeb.clone());
        AebVision {
            cfg,
            setup: default_setup(),
            aeb,
            last_frame: None,
            history: VecDeque::new(),
            track: None,
            detection: None,
        }
    }

    /// The gap's rate of change from the history: the least-squares slope over the last
    /// frames, or minus the ego's speed while there are too few of them.
    fn gap_rate_mps(&self, ego_speed_mps: f64) -> f64 {
        let n = self.history.len();
        if n < self.cfg.min_slope_frames {
            return -ego_speed_mps;
        }
        let pts: Vec<(f64, f64)> = self
            .history
            .iter()
            .skip(n.saturating_sub(self.cfg.velocity_window))
            .copied()
            .collect();
        let k = pts.len() as f64;
        let (mt, mg) = (
            pts.iter().map(|p| p.0).sum::<f64>() / k,
            pts.iter().map(|p| p.1).sum::<f64>() / k,
        );
        let sxx: f64 = pts.iter().map(|p| (p.0 - mt).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mt) * (p.1 - mg)).sum();
        if sxx <= 1e-9 {
            return -ego_speed_mps;
        }
        (sxy / sxx).clamp(-80.0, 40.0)
    }

    fn see(&mut self, frame: &CameraFrame, obs: &Observation<'_>) {
        let v_mps = ego_speed_mps(obs);
        let curvature = if v_mps > 1.0 {
            finite_or(obs.ego.yaw_rate_radps / v_mps, 0.0)
        } else {
            0.0
        };
        let half_width_m = 0.5 * self.setup.ego_width_m + self.cfg.aeb.path_margin_m;
        let t = frame.exposed_at_s;
        let sighting = find_obstacle(
            frame,
            self.setup.ego_length_m,
            half_width_m,
            curvature,
            &self.cfg,
        );
        self.detection = None;
        let Some(s) = sighting else {
            self.history.clear();
            if self
                .track
                .as_ref()
                .is_some_and(|tr| t - tr.seen_at_s > self.cfg.coast_s)
            {
                self.track = None;
            }
            return;
        };
        let consistent = self.history.back().is_some_and(|&(t0, g0)| {
            let predicted = g0 + self.gap_rate_mps(v_mps) * (t - t0);
            (s.gap_m - predicted).abs()
                <= self.cfg.consistency_m + self.cfg.consistency_share * s.gap_m.abs()
        });
        if !consistent {
            self.history.clear();
        }
        self.history.push_back((t, s.gap_m));
        while self.history.len() > self.cfg.velocity_window.max(self.cfg.confirm_frames) {
            self.history.pop_front();
        }
        if self.history.len() >= self.cfg.confirm_frames {
            let frames = self.track.as_ref().map_or(0, |tr| tr.frames) + 1;
            let confidence = (0.5 + 0.1 * self.history.len() as f64).min(0.95);
            self.detection = Some(Detection {
                class: guess_class(&s),
                distance_m: s.depth_m,
                confidence,
                camera: 0,
                bbox_px: Some(s.bbox_px),
            });
            self.track = Some(Track {
                gap_rate_mps: self.gap_rate_mps(v_mps),
                sighting: s,
                seen_at_s: t,
                frames,
            });
        }
    }

    /// The confirmed obstacle as the object list `builtin:aeb` reads.
    fn object(&self, time_s: f64) -> Option<TrackedObject> {
        let tr = self.track.as_ref()?;
        if time_s - tr.seen_at_s > self.cfg.coast_s + 1e-9 {
            return None;
        }
        let length_m = 0.5;
        Some(TrackedObject {
            track_id: 1,
            class: guess_class(&tr.sighting),
            pos_in_ego_m: [tr.sighting.gap_m + 0.5 * length_m, tr.sighting.lateral_m],
            rel_vel_in_ego_mps: [tr.gap_rate_mps, 0.0],
            heading_in_ego_rad: 0.0,
            length_m,
            width_m: tr.sighting.width_m.max(0.3),
            measured_at_s: tr.seen_at_s,
        })
    }
}

impl System for AebVision {
    fn name(&self) -> &str {
        "aeb-vision"
    }

    fn reset(&mut self, setup: &RunSetup) {
        self.setup = setup.clone();
        self.aeb.reset(setup);
        self.last_frame = None;
        self.history.clear();
        self.track = None;
        self.detection = None;
    }

    fn wants_frames(&self) -> bool {
        true
    }

    fn step(&mut self, obs: &Observation<'_>) -> Result<Command, SutError> {
        if let Some(frame) = obs.frames.first() {
            if self.last_frame != Some(frame.frame_index) {
                self.last_frame = Some(frame.frame_index);
                self.see(frame, obs);
            }
        }
        let objects: Vec<TrackedObject> = self.object(obs.time_s).into_iter().collect();
        let seen = Observation {
            time_s: obs.time_s,
            ego: obs.ego.clone(),
            objects: &objects,
            lane: None,
            set_speed_mps: obs.set_speed_mps,
            gnss: None,
            frames: &[],
        };
        let mut cmd = self.aeb.step(&seen)?;
        cmd.detections.extend(self.detection.clone());
        Ok(cmd)
    }
}
