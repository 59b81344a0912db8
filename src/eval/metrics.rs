//! Metrics of one run, computed from its `RunResult` and per-step trace: impact speeds, TTC and
//! headway, TET/TIT, DRAC, decelerations and jerk, warning and intervention timing, filtered
//! lateral acceleration, lateral jerk, lane-edge distance, lane-change lateral acceleration and
//! braking, gaps, RSS, PET and false activations.
//!
//! Every metric is `None` (null) where it does not apply: no collision, no in-path actor ahead,
//! no warning, no trace. `docs/metrics.md` gives each formula, unit and source.

use biquad::{Biquad, Coefficients, DirectForm2Transposed, Type};

use crate::scenario::format::Marking;
use crate::scenario::model::{Behaviour, Scenario};
use crate::sim::{RunResult, TraceRow};

/// m/s → km/h.
fn kph(x: f64) -> f64 {
    x * 3.6
}

/// Parameters of the RSS safe longitudinal distance (protocols.md [G]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RssParams {
    /// ρ: response time of the rear (ego) vehicle.
    pub response_time_s: f64,
    /// Largest acceleration of the rear vehicle during the response time.
    pub accel_max_mps2: f64,
    /// Smallest braking of the rear vehicle after the response time.
    pub brake_min_mps2: f64,
    /// Largest braking of the front vehicle.
    pub brake_max_mps2: f64,
}

impl Default for RssParams {
    fn default() -> Self {
        RssParams {
            response_time_s: 1.0,
            accel_max_mps2: 3.5,
            brake_min_mps2: 4.0,
            brake_max_mps2: 8.0,
        }
    }
}

impl RssParams {
    /// Safe longitudinal distance for a rear vehicle at `rear_mps` behind a front vehicle at
    /// `front_mps` (same direction; a front vehicle moving backwards counts as stationary).
    pub fn safe_distance_m(&self, rear_mps: f64, front_mps: f64) -> f64 {
        let rho = self.response_time_s;
        let v_r = rear_mps.max(0.0);
        let v_f = front_mps.max(0.0);
        let v_resp = v_r + rho * self.accel_max_mps2;
        (v_r * rho
            + 0.5 * self.accel_max_mps2 * rho * rho
            + v_resp * v_resp / (2.0 * self.brake_min_mps2)
            - v_f * v_f / (2.0 * self.brake_max_mps2))
            .max(0.0)
    }
}

/// Settings of the metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricsConfig {
    /// τ of TET and TIT.
    pub ttc_threshold_s: f64,
    pub rss: RssParams,
    /// An actor is on a collision course when it would touch the ego within this time.
    pub collision_course_ttc_s: f64,
    /// Braking demand that starts an emergency braking phase (UN R152: 4 m/s²).
    pub emergency_braking_mps2: f64,
    /// Braking demand that counts as a braking activation for `false_activations`.
    pub activation_braking_mps2: f64,
    /// Cut-off of the 4th-order Butterworth low-pass on lateral acceleration.
    pub lateral_filter_hz: f64,
    /// Window over which lateral jerk is averaged.
    pub jerk_window_s: f64,
    /// A lane change starts and ends where the ego's lateral speed is below this.
    pub lane_change_lateral_speed_mps: f64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            ttc_threshold_s: 1.5,
            rss: RssParams::default(),
            collision_course_ttc_s: 4.0,
            emergency_braking_mps2: 4.0,
            activation_braking_mps2: 1.0,
            lateral_filter_hz: 0.5,
            jerk_window_s: 0.5,
            lane_change_lateral_speed_mps: 0.1,
        }
    }
}

/// The metrics of one run. Field names are the names threshold packs use (`applies_to`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub collision: bool,
    pub relative_impact_speed_kph: Option<f64>,
    pub impact_speed_kph: Option<f64>,
    pub speed_reduction_kph: Option<f64>,
    pub min_ttc_s: Option<f64>,
    pub min_time_headway_s: Option<f64>,
    pub tet_s: Option<f64>,
    pub tit_s2: Option<f64>,
    pub max_drac_mps2: Option<f64>,
    pub peak_decel_mps2: Option<f64>,
    pub peak_jerk_mps3: Option<f64>,
    pub warning_ttc_s: Option<f64>,
    pub warning_lead_time_s: Option<f64>,
    pub ttc_at_first_intervention_s: Option<f64>,
    pub peak_braking_demand_mps2: Option<f64>,
    pub lateral_accel_mps2: Option<f64>,
    pub jerk_mps3: Option<f64>,
    /// Peak |filtered lateral acceleration| during the ego's lane changes.
    pub lane_change_lateral_accel_mps2: Option<f64>,
    /// Peak deceleration of the ego during its lane changes.
    pub lane_change_decel_mps2: Option<f64>,
    pub distance_to_lane_edge_m: Option<f64>,
    pub lane_departures: Option<u32>,
    pub min_gap_m: Option<f64>,
    pub time_in_rss_unsafe_s: Option<f64>,
    pub pet_s: Option<f64>,
    pub false_activations: Option<u32>,
    pub emergency_braking_events: Option<u32>,
}

/// Every metric name `Metrics::value` knows, in documentation order (without the aliases in
/// `METRIC_ALIASES`).
pub const METRIC_NAMES: &[&str] = &[
    "collision",
    "relative_impact_speed_kph",
    "impact_speed_kph",
    "speed_reduction_kph",
    "min_ttc_s",
    "min_time_headway_s",
    "tet_s",
    "tit_s2",
    "max_drac_mps2",
    "peak_decel_mps2",
    "peak_jerk_mps3",
    "warning_ttc_s",
    "warning_lead_time_s",
    "ttc_at_first_intervention_s",
    "peak_braking_demand_mps2",
    "lateral_accel_mps2",
    "jerk_mps3",
    "lane_change_lateral_accel_mps2",
    "lane_change_decel_mps2",
    "distance_to_lane_edge_m",
    "lane_departures",
    "min_gap_m",
    "time_in_rss_unsafe_s",
    "pet_s",
    "false_activations",
    "emergency_braking_events",
];

/// Other names `Metrics::value` accepts, as `(alias, metric)`: Euro NCAP's `impact_occurred`
/// and UN R157's time gap.
pub const METRIC_ALIASES: &[(&str, &str)] = &[
    ("impact_occurred", "collision"),
    ("time_gap_s", "min_time_headway_s"),
];

impl Metrics {
    /// A metric by its name (booleans as 0/1, counts as numbers); `None` when the metric does
    /// not apply to this run or the name is unknown (`METRIC_NAMES` lists the known ones).
    /// The aliases of `METRIC_ALIASES` are accepted: `impact_occurred` is another name of
    /// `collision`, `time_gap_s` of `min_time_headway_s`.
    pub fn value(&self, name: &str) -> Option<f64> {
        let count = |c: Option<u32>| c.map(f64::from);
        match name {
            "collision" | "impact_occurred" => Some(if self.collision { 1.0 } else { 0.0 }),
            "relative_impact_speed_kph" => self.relative_impact_speed_kph,
            "impact_speed_kph" => self.impact_speed_kph,
            "speed_reduction_kph" => self.speed_reduction_kph,
            "min_ttc_s" => self.min_ttc_s,
            "min_time_headway_s" | "time_gap_s" => self.min_time_headway_s,
            "tet_s" => self.tet_s,
            "tit_s2" => self.tit_s2,
            "max_drac_mps2" => self.max_drac_mps2,
            "peak_decel_mps2" => self.peak_decel_mps2,
            "peak_jerk_mps3" => self.peak_jerk_mps3,
            "warning_ttc_s" => self.warning_ttc_s,
            "warning_lead_time_s" => self.warning_lead_time_s,
            "ttc_at_first_intervention_s" => self.ttc_at_first_intervention_s,
            "peak_braking_demand_mps2" => self.peak_braking_demand_mps2,
            "lateral_accel_mps2" => self.lateral_accel_mps2,
            "jerk_mps3" => self.jerk_mps3,
            "lane_change_lateral_accel_mps2" => self.lane_change_lateral_accel_mps2,
            "lane_change_decel_mps2" => self.lane_change_decel_mps2,
            "distance_to_lane_edge_m" => self.distance_to_lane_edge_m,
            "lane_departures" => count(self.lane_departures),
            "min_gap_m" => self.min_gap_m,
            "time_in_rss_unsafe_s" => self.time_in_rss_unsafe_s,
            "pet_s" => self.pet_s,
            "false_activations" => count(self.false_activations),
            "emergency_braking_events" => count(self.emergency_braking_events),
            _ => None,
        }
    }
}

/// Computes every metric of one run. Metrics that need the per-step trace are `None` when the
/// run was simulated without one (`SimOptions::record_trace`).
pub fn compute(scenario: &Scenario, result: &RunResult, config: &MetricsConfig) -> Metrics {
    let collision = result.collision.as_ref();
    let end_speed_mps = collision.map_or(result.ego_speed_end_mps, |c| c.ego_speed_mps);
    let mut m = Metrics {
        collision: collision.is_some(),
        relative_impact_speed_kph: collision.map(|c| kph(c.relative_speed_mps)),
        impact_speed_kph: collision.map(|c| kph(c.ego_speed_mps)),
        speed_reduction_kph: Some(kph(scenario.ego.speed_mps - end_speed_mps)),
        ..Metrics::default()
    };
    let Some(trace) = result.trace.as_ref() else {
        return m;
    };
    let rows = &trace.rows;
    if rows.is_empty() {
        return m;
    }
    let dts = step_durations(rows);
    let dt_s = scenario.timing.dt_s;

    // Longitudinal: TTC, headway, TET/TIT, DRAC, gap, RSS.
    let tau = config.ttc_threshold_s;
    let mut tet = 0.0;
    let mut tit = 0.0;
    let mut any_ttc = false;
    let mut rss_unsafe = 0.0;
    let mut any_lead = false;
    for (row, &dt) in rows.iter().zip(&dts) {
        if let Some(ttc) = row.ttc_s {
            any_ttc = true;
            m.min_ttc_s = Some(m.min_ttc_s.map_or(ttc, |x: f64| x.min(ttc)));
            if ttc < tau {
                tet += dt;
                tit += (tau - ttc) * dt;
            }
        }
        let Some(gap) = row.gap_m else { continue };
        any_lead = true;
        m.min_gap_m = Some(m.min_gap_m.map_or(gap, |x: f64| x.min(gap)));
        if row.ego_speed_mps > 1e-6 {
            let thw = gap / row.ego_speed_mps;
            m.min_time_headway_s = Some(m.min_time_headway_s.map_or(thw, |x: f64| x.min(thw)));
        }
        let closing = row.closing_mps.unwrap_or(0.0);
        if closing > 0.0 && gap > 0.0 {
            let drac =
                (-row.lead_accel_mps2.unwrap_or(0.0) + closing * closing / (2.0 * gap)).max(0.0);
            m.max_drac_mps2 = Some(m.max_drac_mps2.map_or(drac, |x: f64| x.max(drac)));
        }
        let ego_vx = row.ego_speed_mps * row.ego_heading_rad.cos();
        if gap < config.rss.safe_distance_m(ego_vx, ego_vx - closing) {
            rss_unsafe += dt;
        }
    }
    if any_ttc {
        m.tet_s = Some(tet);
        m.tit_s2 = Some(tit);
    }
    if any_lead {
        m.time_in_rss_unsafe_s = Some(rss_unsafe);
    }

    // Longitudinal dynamics of the ego.
    m.peak_decel_mps2 = Some(rows.iter().map(|r| -r.ego_accel_mps2).fold(0.0, f64::max));
    m.peak_jerk_mps3 = rows
        .windows(2)
        .map(|w| ((w[1].ego_accel_mps2 - w[0].ego_accel_mps2) / (w[1].time_s - w[0].time_s)).abs())
        .filter(|j| j.is_finite())
        .reduce(f64::max);

    // Warning, braking and intervention timing.
    let demand = |r: &TraceRow| r.cmd_accel_mps2.map_or(0.0, |a| (-a).max(0.0));
    let first_warning = rows.iter().position(|r| r.warning);
    let emergency = |r: &TraceRow| demand(r) >= config.emergency_braking_mps2;
    let first_emergency = rows.iter().position(emergency);
    m.warning_ttc_s = first_warning.and_then(|i| rows[i].ttc_s);
    m.warning_lead_time_s = first_warning
        .zip(first_emergency)
        .map(|(w, b)| rows[b].time_s - rows[w].time_s);
    let intervenes =
        |r: &TraceRow| r.cmd_accel_mps2.is_some_and(|a| a < 0.0) || r.cmd_steer_rad.is_some();
    m.ttc_at_first_intervention_s = rows.iter().find(|r| intervenes(r)).and_then(|r| r.ttc_s);
    m.peak_braking_demand_mps2 = rows
        .iter()
        .filter(|r| r.cmd_accel_mps2.is_some_and(|a| a < 0.0))
        .map(demand)
        .reduce(f64::max);
    m.emergency_braking_events = Some(onsets(rows, emergency).count() as u32);
    m.false_activations = Some(
        onsets(rows, |r| r.warning)
            .chain(onsets(rows, |r| {
                demand(r) >= config.activation_braking_mps2
            }))
            .filter(|&k| !on_collision_course(scenario, rows, k, config.collision_course_ttc_s))
            .count() as u32,
    );

    // Lateral.
    let lat: Vec<f64> = rows.iter().map(|r| r.ego_lat_accel_mps2).collect();
    let lat_filtered = butterworth_lowpass(&lat, dt_s, config.lateral_filter_hz);
    m.lateral_accel_mps2 = lat_filtered
        .as_ref()
        .and_then(|f| f.iter().copied().map(f64::abs).reduce(f64::max));
    m.jerk_mps3 = windowed_rate_peak(&lat, dt_s, config.jerk_window_s);
    let changes = lane_change_intervals(scenario, rows, config.lane_change_lateral_speed_mps);
    if !changes.is_empty() {
        let inside = || changes.iter().flat_map(|&(a, b)| a..=b);
        m.lane_change_lateral_accel_mps2 = lat_filtered
            .as_ref()
            .and_then(|f| inside().map(|k| f[k].abs()).reduce(f64::max));
        m.lane_change_decel_mps2 = Some(
            inside()
                .map(|k| -rows[k].ego_accel_mps2)
                .fold(0.0, f64::max),
        );
    }
    if let Some((right_edge_y, left_edge_y)) = lane_edges_y(scenario) {
        let mut min_dist = f64::INFINITY;
        let mut departures = 0;
        let (mut out_left, mut out_right) = (false, false);
        for r in rows {
            let (_, half_y) = half_extents(
                scenario.ego.length_m,
                scenario.ego.width_m,
                r.ego_heading_rad,
            );
            let left = left_edge_y - (r.ego_y_m + half_y);
            let right = (r.ego_y_m - half_y) - right_edge_y;
            min_dist = min_dist.min(left).min(right);
            departures += u32::from(left < 0.0 && !out_left) + u32::from(right < 0.0 && !out_right);
            out_left = left < 0.0;
            out_right = right < 0.0;
        }
        m.distance_to_lane_edge_m = Some(min_dist);
        m.lane_departures = Some(departures);
    }

    m.pet_s = pet_s(scenario, rows);
    m
}

/// How long each row's state lasted: the time since the previous row (the first row since 0).
fn step_durations(rows: &[TraceRow]) -> Vec<f64> {
    let mut prev = 0.0;
    rows.iter()
        .map(|r| {
            let dt = (r.time_s - prev).max(0.0);
            prev = r.time_s;
            dt
        })
        .collect()
}

/// The ego's lane changes, as inclusive row-index intervals in time order (overlapping ones
/// merged). A lane change is a crossing of a lane marking's y (any of `road.markings`, painted
/// or not) by the ego's centre `ego_y_m` between two rows; it runs from the last row before the
/// crossing whose lateral speed is below `settled_mps` (else the first row) to the first row
/// from the crossing on whose lateral speed is below it again (else the last row). The lateral
/// speed of a row is the finite difference of `ego_y_m` over its step; 0 for the first row.
pub fn lane_change_intervals(
    scenario: &Scenario,
    rows: &[TraceRow],
    settled_mps: f64,
) -> Vec<(usize, usize)> {
    let settled: Vec<bool> = std::iter::once(true)
        .chain(rows.windows(2).map(|w| {
            let dt = w[1].time_s - w[0].time_s;
            dt > 0.0 && ((w[1].ego_y_m - w[0].ego_y_m) / dt).abs() < settled_mps
        }))
        .collect();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for k in 1..rows.len() {
        let (before, after) = (rows[k - 1].ego_y_m, rows[k].ego_y_m);
        let crosses = scenario
            .road
            .markings
            .iter()
            .any(|mk| (before < mk.y_m) != (after < mk.y_m));
        if !crosses {
            continue;
        }
        let start = (0..k).rev().find(|&j| settled[j]).unwrap_or(0);
        let end = (k..rows.len())
            .find(|&j| settled[j])
            .unwrap_or(rows.len() - 1);
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// Indices of the rows where `pred` becomes true (true in the first row counts as an onset).
fn onsets<'r>(
    rows: &'r [TraceRow],
    pred: impl Fn(&TraceRow) -> bool + 'r,
) -> impl Iterator<Item = usize> + 'r {
    let mut before = false;
    rows.iter().enumerate().filter_map(move |(k, r)| {
        let now = pred(r);
        let onset = now && !before;
        before = now;
        onset.then_some(k)
    })
}

/// Half extents (along the road, across it) of a footprint at a heading relative to the road.
fn half_extents(length_m: f64, width_m: f64, heading_rad: f64) -> (f64, f64) {
    let (s, c) = (heading_rad.sin().abs(), heading_rad.cos().abs());
    (
        0.5 * (length_m * c + width_m * s),
        0.5 * (length_m * s + width_m * c),
    )
}

/// Times (as an interval, possibly unbounded) during which |d0 + dv·t| < h.
fn overlap_interval(d0: f64, dv: f64, h: f64) -> Option<(f64, f64)> {
    if dv.abs() < 1e-9 {
        return (d0.abs() < h).then_some((f64::NEG_INFINITY, f64::INFINITY));
    }
    let t1 = (-h - d0) / dv;
    let t2 = (h - d0) / dv;
    Some((t1.min(t2), t1.max(t2)))
}

/// Whether at row `k` some actor is on a collision course with the ego: the nearest in-path
/// actor ahead has a TTC below `horizon_s`, or, with the ego and the actor moving on at their
/// current road-frame velocities (finite differences over the last step), their road-aligned
/// boxes would overlap within `horizon_s`.
fn on_collision_course(scenario: &Scenario, rows: &[TraceRow], k: usize, horizon_s: f64) -> bool {
    let row = &rows[k];
    if row.ttc_s.is_some_and(|t| t < horizon_s) {
        return true;
    }
    let Some(prev) = k.checked_sub(1).map(|j| &rows[j]) else {
        return false;
    };
    let dt = row.time_s - prev.time_s;
    if dt <= 0.0 {
        return false;
    }
    let (ex, ey) = half_extents(
        scenario.ego.length_m,
        scenario.ego.width_m,
        row.ego_heading_rad,
    );
    let ego_v = (
        (row.ego_station_m - prev.ego_station_m) / dt,
        (row.ego_y_m - prev.ego_y_m) / dt,
    );
    scenario
        .actors
        .iter()
        .zip(row.actors.iter().zip(&prev.actors))
        .any(|(a, (now, before))| {
            let (ax, ay) = half_extents(a.length_m, a.width_m, a.pose.heading_rad);
            let dv = (
                (now.0 - before.0) / dt - ego_v.0,
                (now.1 - before.1) / dt - ego_v.1,
            );
            let x = overlap_interval(now.0 - row.ego_station_m, dv.0, ex + ax);
            let y = overlap_interval(now.1 - row.ego_y_m, dv.1, ey + ay);
            match (x, y) {
                (Some(x), Some(y)) => {
                    let (lo, hi) = (x.0.max(y.0), x.1.min(y.1));
                    lo < hi && hi >= 0.0 && lo <= horizon_s
                }
                _ => false,
            }
        })
}

/// The lateral positions (right, left) of the edges of the ego's starting lane: the inner
/// edge of a painted line; where there is no line, the boundary itself, or the paved road's
/// edge beyond an outermost lane.
fn lane_edges_y(scenario: &Scenario) -> Option<(f64, f64)> {
    let road = &scenario.road;
    let idx = scenario.ego.lane.checked_sub(1)?;
    road.lanes.get(idx)?;
    let right = road.markings.get(idx)?;
    let left = road.markings.get(idx + 1)?;
    let half_line = road.marking_width_m / 2.0;
    let right_y = if right.kind != Marking::None {
        right.y_m + half_line
    } else if idx == 0 {
        road.edge_right.y_m
    } else {
        right.y_m
    };
    let left_y = if left.kind != Marking::None {
        left.y_m - half_line
    } else if idx + 1 == road.lanes.len() {
        road.edge_left.y_m
    } else {
        left.y_m
    };
    Some((right_y, left_y))
}

/// Post-encroachment time over the crossing actors (smallest of them): the conflict area is
/// where the ego's path (its lateral span) meets the actor's path (its longitudinal span).
fn pet_s(scenario: &Scenario, rows: &[TraceRow]) -> Option<f64> {
    let ex_e = scenario.ego.length_m / 2.0;
    scenario
        .actors
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a.behaviour, Behaviour::Crossing { .. }))
        .filter_map(|(i, a)| {
            let (ax, ay) = half_extents(a.length_m, a.width_m, a.pose.heading_rad);
            let ego_in = |r: &TraceRow| {
                r.actors
                    .get(i)
                    .is_some_and(|s| (r.ego_station_m - s.0).abs() < ax + ex_e)
            };
            let actor_in = |r: &TraceRow| {
                let (_, ey) = half_extents(
                    scenario.ego.length_m,
                    scenario.ego.width_m,
                    r.ego_heading_rad,
                );
                r.actors
                    .get(i)
                    .is_some_and(|s| (s.1 - r.ego_y_m).abs() < ay + ey)
            };
            let ego = occupancy(rows, ego_in)?;
            let actor = occupancy(rows, actor_in)?;
            Some(post_encroachment_s(ego, actor))
        })
        .reduce(f64::min)
}

/// First entry into and first exit from an area (exit `None`: still inside at the end).
fn occupancy(rows: &[TraceRow], inside: impl Fn(&TraceRow) -> bool) -> Option<(f64, Option<f64>)> {
    let enter = rows.iter().position(&inside)?;
    let exit = rows[enter..].iter().find(|r| !inside(r)).map(|r| r.time_s);
    Some((rows[enter].time_s, exit))
}

/// PET of two occupancies: 0 when they overlap in time.
fn post_encroachment_s(a: (f64, Option<f64>), b: (f64, Option<f64>)) -> f64 {
    let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    match first.1 {
        Some(exit) if exit <= second.0 => second.0 - exit,
        _ => 0.0,
    }
}

/// A 4th-order Butterworth low-pass at `cutoff_hz`, as two cascaded 2nd-order sections
/// (Q = 0.5412 and 1.3066; bilinear transform prewarped at the cut-off), run forward only.
/// The filter starts in its steady state for the first sample. `None` when the cut-off is not
/// below the Nyquist frequency or the step is not positive.
pub fn butterworth_lowpass(samples: &[f64], dt_s: f64, cutoff_hz: f64) -> Option<Vec<f64>> {
    if !(dt_s > 0.0 && cutoff_hz > 0.0) {
        return None;
    }
    let normalized = 2.0 * cutoff_hz * dt_s;
    let quarter = std::f64::consts::PI / 8.0;
    let mut sections = [quarter, 3.0 * quarter]
        .iter()
        .map(|phi| {
            let q = 1.0 / (2.0 * phi.cos());
            Coefficients::<f64>::from_normalized_params(Type::LowPass, normalized, q)
                .ok()
                .map(DirectForm2Transposed::<f64>::new)
        })
        .collect::<Option<Vec<_>>>()?;
    // Steady-state start: filter the deviation from the first sample (unity DC gain).
    let x0 = samples.first().copied().unwrap_or(0.0);
    Some(
        samples
            .iter()
            .map(|&x| x0 + sections.iter_mut().fold(x - x0, |y, s| s.run(y)))
            .collect(),
    )
}

/// Largest |x(t + w) − x(t)| / w over the samples (step `dt_s`, window `window_s` rounded to
/// whole steps): the peak rate of change averaged over any window. `None` when the series is
/// shorter than one window.
pub fn windowed_rate_peak(samples: &[f64], dt_s: f64, window_s: f64) -> Option<f64> {
    if !(dt_s > 0.0 && window_s > 0.0) {
        return None;
    }
    let n = ((window_s / dt_s).round() as usize).max(1);
    let w = n as f64 * dt_s;
    samples
        .iter()
        .zip(samples.iter().skip(n))
        .map(|(a, b)| ((b - a) / w).abs())
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::scenario::model::{Actor, ActorKind, Lane, MarkingLine, RoadPose};
    use crate::sim::{EndReason, Trace};

    const DT: f64 = 0.01;

    /// The first case of a library scenario, as a base to modify.
    fn scenario(path: &str) -> Scenario {
        let loaded = crate::scenario::load_paths(&[PathBuf::from(path)]);
        assert!(!loaded.diagnostics.has_errors(), "{}", loaded.diagnostics);
        loaded.cases[0].model()
    }

    /// A plain scenario: one 3.5 m lane between solid lines, a 4 × 1.8 m ego at 20 m/s.
    fn base() -> Scenario {
        let mut s = scenario("scenarios/euro-ncap/ccrs.toml");
        s.timing.dt_s = DT;
        s.ego.speed_mps = 20.0;
        s.ego.length_m = 4.0;
        s.ego.width_m = 1.8;
        s.ego.lane = 1;
        s.actors.clear();
        s.road.lanes = vec![Lane {
            width_m: 3.5,
            centre_y_m: 0.0,
            oncoming: false,
        }];
        s.road.marking_width_m = 0.15;
        s.road.markings = vec![
            MarkingLine {
                y_m: -1.75,
                kind: Marking::Solid,
            },
            MarkingLine {
                y_m: 1.75,
                kind: Marking::Solid,
            },
        ];
        s.road.edge_right.y_m = -2.25;
        s.road.edge_left.y_m = 2.25;
        s
    }

    fn row(t: f64) -> TraceRow {
        TraceRow {
            time_s: t,
            ego_station_m: 0.0,
            ego_y_m: 0.0,
            ego_heading_rad: 0.0,
            ego_speed_mps: 20.0,
            ego_accel_mps2: 0.0,
            ego_steer_rad: 0.0,
            actors: Vec::new(),
            gap_m: None,
            ttc_s: None,
            cmd_accel_mps2: None,
            cmd_steer_rad: None,
            warning: false,
            ego_yaw_rate_radps: 0.0,
            ego_lat_accel_mps2: 0.0,
            lead: None,
            closing_mps: None,
            lead_accel_mps2: None,
        }
    }

    /// Rows at t = DT, 2·DT, … up to `end_s`.
    fn rows(end_s: f64, f: impl Fn(f64, &mut TraceRow)) -> Vec<TraceRow> {
        let n = (end_s / DT).round() as usize;
        (1..=n)
            .map(|k| {
                let t = k as f64 * DT;
                let mut r = row(t);
                f(t, &mut r);
                r
            })
            .collect()
    }

    fn result(rows: Vec<TraceRow>, end_speed_mps: f64) -> RunResult {
        RunResult {
            run_index: 0,
            end_reason: EndReason::TimeOut,
            end_time_s: rows.last().map_or(0.0, |r| r.time_s),
            collision: None,
            sut_error: None,
            min_ttc_s: None,
            min_gap_m: None,
            first_warning_s: None,
            first_brake_s: None,
            max_decel_mps2: 0.0,
            ego_speed_end_mps: end_speed_mps,
            trace: Some(Trace {
                actor_ids: Vec::new(),
                rows,
            }),
            localization: None,
            frames_scored: None,
        }
    }

    fn metrics(s: &Scenario, rows: Vec<TraceRow>) -> Metrics {
        compute(s, &result(rows, 20.0), &MetricsConfig::default())
    }

    fn close(a: Option<f64>, b: f64, tol: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= tol)
    }

    #[test]
    fn constant_deceleration_to_a_stop_at_the_target() {
        // 20 m/s braking at 5 m/s² towards a stationary target; stops with the bumpers touching:
        // the required deceleration is 5 m/s² throughout.
        let (v0, d) = (20.0, 5.0);
        let s = base();
        let rows = rows(v0 / d - DT, |t, r| {
            let v = v0 - d * t;
            r.ego_speed_mps = v;
            r.ego_accel_mps2 = -d;
            r.cmd_accel_mps2 = Some(-d);
            r.gap_m = Some(v * v / (2.0 * d));
            r.closing_mps = Some(v);
            r.ttc_s = Some(v / (2.0 * d));
            r.lead = Some(0);
            r.lead_accel_mps2 = Some(0.0);
        });
        let m = compute(&s, &result(rows, 0.0), &MetricsConfig::default());
        assert!(close(m.max_drac_mps2, d, 1e-9), "{:?}", m.max_drac_mps2);
        assert!(close(m.peak_decel_mps2, d, 1e-12));
        assert!(close(m.peak_jerk_mps3, 0.0, 1e-9));
        assert!(close(m.peak_braking_demand_mps2, d, 1e-12));
        assert!(close(m.speed_reduction_kph, 72.0, 1e-9));
        assert_eq!(m.emergency_braking_events, Some(1));
        // TTC = v / 2a and headway = v / 2a: smallest in the last row.
        assert!(close(m.min_ttc_s, DT / 2.0, 1e-9), "{:?}", m.min_ttc_s);
        assert!(close(m.min_time_headway_s, DT / 2.0, 1e-9));
        assert!(!m.collision);
        assert_eq!(m.relative_impact_speed_kph, None);
        assert_eq!(m.impact_speed_kph, None);
        // Braking with nothing ahead closer than 4 s TTC: TTC starts at 2 s, so not false.
        assert_eq!(m.false_activations, Some(0));
        assert_eq!(m.value("collision"), Some(0.0));
        assert_eq!(m.value("emergency_braking_events"), Some(1.0));
    }

    #[test]
    fn tet_and_tit_of_a_linear_ttc_profile() {
        // TTC = 3 − t for t in (0, 2.5]: below τ = 1.5 s from t = 1.5 on, TET = 1 s and
        // TIT = ∫₁.₅²·⁵ (t − 1.5) dt = 0.5 s².
        let s = base();
        let m = metrics(
            &s,
            rows(2.5, |t, r| {
                r.ttc_s = Some(3.0 - t);
                r.gap_m = Some(20.0 * (3.0 - t));
                r.closing_mps = Some(20.0);
            }),
        );
        assert!(close(m.tet_s, 1.0, DT + 1e-9), "{:?}", m.tet_s);
        assert!(close(m.tit_s2, 0.5, DT), "{:?}", m.tit_s2);
        assert!(close(m.min_ttc_s, 0.5, 1e-9));
        // With τ = 1 s: TET = 0.5 s, TIT = 0.125 s².
        let cfg = MetricsConfig {
            ttc_threshold_s: 1.0,
            ..MetricsConfig::default()
        };
        let m = compute(
            &s,
            &result(rows(2.5, |t, r| r.ttc_s = Some(3.0 - t)), 20.0),
            &cfg,
        );
        assert!(close(m.tet_s, 0.5, DT + 1e-9), "{:?}", m.tet_s);
        assert!(close(m.tit_s2, 0.125, DT), "{:?}", m.tit_s2);
        // No TTC at all: null, not 0.
        let m = metrics(&s, rows(1.0, |_, _| {}));
        assert_eq!((m.tet_s, m.tit_s2, m.min_ttc_s), (None, None, None));
        assert_eq!(m.time_in_rss_unsafe_s, None);
        assert_eq!(m.max_drac_mps2, None);
    }

    #[test]
    fn butterworth_step_settles_at_the_input_after_its_delay() {
        // A 2 m/s² step at t = 1 s.
        let x: Vec<f64> = (0..2000)
            .map(|k| if k as f64 * DT >= 1.0 { 2.0 } else { 0.0 })
            .collect();
        let y = butterworth_lowpass(&x, DT, 0.5).expect("filter");
        let last = y.last().copied().unwrap_or(f64::NAN);
        assert!((last - 2.0).abs() < 1e-6, "steady state {last}");
        // Half the step is reached after about the group delay at DC, 2.613/ω_c = 0.83 s.
        let half = y.iter().position(|&v| v >= 1.0).expect("crosses") as f64 * DT - 1.0;
        assert!((0.7..0.95).contains(&half), "delay {half}");
        // A 4th-order Butterworth overshoots a step by about 10.8 %.
        let peak = y.iter().copied().fold(0.0, f64::max);
        assert!((peak / 2.0 - 1.108).abs() < 0.01, "overshoot {peak}");
        // A sine at the cut-off comes out at 1/√2 (−3 dB), exactly with prewarping.
        let sine: Vec<f64> = (0..4000)
            .map(|k| (std::f64::consts::PI * k as f64 * DT).sin())
            .collect();
        let y = butterworth_lowpass(&sine, DT, 0.5).expect("filter");
        let amp = y[2000..].iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(
            (amp - std::f64::consts::FRAC_1_SQRT_2).abs() < 2e-3,
            "{amp}"
        );
        // Starts in steady state: a constant stays constant.
        let y = butterworth_lowpass(&[3.0; 100], DT, 0.5).expect("filter");
        assert!(y.iter().all(|v| (v - 3.0).abs() < 1e-12));
        assert_eq!(butterworth_lowpass(&x, 1.5, 0.5), None);
    }

    #[test]
    fn lateral_jerk_is_averaged_over_half_a_second() {
        // Lateral acceleration ramps 0 → 1.5 m/s² in 0.3 s (5 m/s³ raw); over any 0.5 s the
        // mean jerk is at most 1.5 / 0.5 = 3 m/s³.
        let s = base();
        let m = metrics(
            &s,
            rows(3.0, |t, r| {
                r.ego_lat_accel_mps2 = (5.0 * (t - 1.0)).clamp(0.0, 1.5);
            }),
        );
        assert!(close(m.jerk_mps3, 3.0, 1e-9), "{:?}", m.jerk_mps3);
        // Filtered peak: the ramp overshoots a little, never more than the step's 10.8 %.
        let peak = m.lateral_accel_mps2.unwrap_or(f64::NAN);
        assert!(peak > 1.4 && peak < 1.5 * 1.11, "{peak}");
        assert_eq!(windowed_rate_peak(&[0.0; 10], DT, 0.5), None);
    }

    #[test]
    fn lane_departures_are_counted_and_the_edge_distance_is_signed() {
        // Two excursions to y = −1.5 m: the right side (y − 0.9) passes the right line's inner
        // edge at −1.75 + 0.075 = −1.675 m by 0.725 m.
        let s = base();
        let dip = |t: f64| -1.5 * (std::f64::consts::PI * t / 2.0).sin().abs();
        let m = metrics(&s, rows(4.0, |t, r| r.ego_y_m = dip(t)));
        assert!(
            close(m.distance_to_lane_edge_m, -0.725, 1e-6),
            "{:?}",
            m.distance_to_lane_edge_m
        );
        assert_eq!(m.lane_departures, Some(2));
        // Inside the lane: the smallest margin, positive, and no departure.
        let m = metrics(&s, rows(4.0, |_, r| r.ego_y_m = 0.3));
        assert!(close(m.distance_to_lane_edge_m, 1.675 - 0.9 - 0.3, 1e-9));
        assert_eq!(m.lane_departures, Some(0));
        // No painted line on the right of the outermost lane: the road edge counts.
        let mut s = base();
        s.road.markings[0].kind = Marking::None;
        let m = metrics(&s, rows(4.0, |t, r| r.ego_y_m = dip(t)));
        assert!(close(m.distance_to_lane_edge_m, -2.4 + 2.25, 1e-6));
        assert_eq!(m.lane_departures, Some(2));
    }

    /// Rows of a sinusoidal lane change to the left by `width_m` that starts at `start_s`
    /// with peak lateral acceleration `peak_mps2`: a_y = A·sin(2πτ/T) for τ = t − start in
    /// [0, T], T = √(2π·width/A); the ego's y and lateral acceleration follow it exactly.
    fn lane_change_rows(
        end_s: f64,
        start_s: f64,
        width_m: f64,
        peak_mps2: f64,
    ) -> (f64, Vec<TraceRow>) {
        let tau = std::f64::consts::TAU;
        let period_s = (tau * width_m / peak_mps2).sqrt();
        let rows = rows(end_s, move |t, r| {
            let x = (t - start_s).clamp(0.0, period_s);
            let w = tau / period_s;
            r.ego_y_m = peak_mps2 / w * (x - (w * x).sin() / w);
            r.ego_lat_accel_mps2 = if x > 0.0 && x < period_s {
                peak_mps2 * (w * x).sin()
            } else {
                0.0
            };
        });
        (period_s, rows)
    }

    #[test]
    fn lane_change_lateral_acceleration_and_braking() {
        // One lane change from lane 1 (centre y = 0) to lane 2 (centre y = 3.5 m) at 1 m/s²
        // peak: T = √(2π·3.5) = 4.69 s, a 0.21 Hz sine cycle, well inside the 0.5 Hz pass band.
        let mut s = base();
        s.road.lanes.push(Lane {
            width_m: 3.5,
            centre_y_m: 3.5,
            oncoming: false,
        });
        s.road.markings.push(MarkingLine {
            y_m: 5.25,
            kind: Marking::Solid,
        });
        let (start_s, peak) = (2.0, 1.0);
        let (period_s, trace) = lane_change_rows(12.0, start_s, 3.5, peak);
        let intervals = lane_change_intervals(&s, &trace, 0.1);
        assert_eq!(intervals.len(), 1, "{intervals:?}");
        // It starts and ends where the lateral speed A·T/2π·(1 − cos 2πτ/T) is 0.1 m/s:
        // τ = T/2π·acos(1 − 0.1·2π/(A·T)) = 0.62 s after the start, and as long before the end.
        let (a, b) = intervals[0];
        let edge_s = period_s / std::f64::consts::TAU
            * (1.0 - 0.1 * std::f64::consts::TAU / (peak * period_s)).acos();
        assert!((trace[a].time_s - (start_s + edge_s)).abs() <= 2.0 * DT);
        assert!((trace[b].time_s - (start_s + period_s - edge_s)).abs() <= 2.0 * DT);
        let m = metrics(&s, trace.clone());
        // The filtered peak of one 0.21 Hz cycle of amplitude 1 m/s²: the filter's gain there is
        // 0.9986, its start-up transient on a single cycle costs a little more; within 3 %.
        let lc = m.lane_change_lateral_accel_mps2.unwrap_or(f64::NAN);
        assert!((lc - peak).abs() < 0.03 * peak, "{lc}");
        assert!(m.lane_change_lateral_accel_mps2 <= m.lateral_accel_mps2);
        assert_eq!(m.lane_change_decel_mps2, Some(0.0));
        assert_eq!(m.value("lane_change_lateral_accel_mps2"), Some(lc));

        // Twice the lateral acceleration: T = 3.32 s (0.30 Hz). Over the whole trace the
        // filtered peak is still 2 m/s² within 1 %, but the forward-only filter lags by about
        // 0.8 s, so the filtered peak of the second half-cycle comes after the lateral speed has
        // settled: inside the interval only 1.81 m/s² is left (a known under-reading of short
        // lane changes; docs/metrics.md).
        let (_, fast) = lane_change_rows(12.0, start_s, 3.5, 2.0 * peak);
        let m2 = metrics(&s, fast);
        assert!(close(m2.lateral_accel_mps2, 2.0 * peak, 0.02 * peak));
        let lc2 = m2.lane_change_lateral_accel_mps2.unwrap_or(f64::NAN);
        assert!((lc2 - 1.81).abs() < 0.01, "{lc2}");

        // Lateral acceleration outside the change does not count: 8 s of straight road with a
        // 3 m/s² bend in its first second, then the same lane change.
        let mut shifted: Vec<TraceRow> = rows(8.0, |t, r| {
            r.ego_lat_accel_mps2 = if t <= 1.0 { 3.0 } else { 0.0 };
        });
        shifted.extend(trace.iter().cloned().map(|mut r| {
            r.time_s += 8.0;
            r
        }));
        let m = metrics(&s, shifted);
        assert!(
            close(m.lateral_accel_mps2, 3.0, 0.4),
            "{:?}",
            m.lateral_accel_mps2
        );
        assert!(
            close(m.lane_change_lateral_accel_mps2, lc, 1e-3),
            "{:?}",
            m.lane_change_lateral_accel_mps2
        );

        // Braking at 1.5 m/s² during the change, 6 m/s² after it has ended.
        let braking: Vec<TraceRow> = trace
            .iter()
            .cloned()
            .map(|mut r| {
                if r.time_s > start_s + 1.0 && r.time_s < start_s + 3.0 {
                    r.ego_accel_mps2 = -1.5;
                }
                if r.time_s > start_s + period_s + 1.0 {
                    r.ego_accel_mps2 = -6.0;
                }
                r
            })
            .collect();
        let m = metrics(&s, braking);
        assert!(
            close(m.lane_change_decel_mps2, 1.5, 1e-12),
            "{:?}",
            m.lane_change_decel_mps2
        );
        assert!(close(m.peak_decel_mps2, 6.0, 1e-12));
        assert_eq!(m.value("lane_change_decel_mps2"), Some(1.5));
    }

    #[test]
    fn no_lane_change_without_crossing_a_marking() {
        // Weaving inside the lane (±1 m, the markings at ±1.75 m) with lateral acceleration.
        let s = base();
        let m = metrics(
            &s,
            rows(10.0, |t, r| {
                r.ego_y_m = (0.5 * t).sin();
                r.ego_lat_accel_mps2 = -0.25 * (0.5 * t).sin();
                r.ego_accel_mps2 = -2.0;
            }),
        );
        assert!(m.lateral_accel_mps2.is_some_and(|a| a > 0.1));
        assert_eq!(m.lane_change_lateral_accel_mps2, None);
        assert_eq!(m.lane_change_decel_mps2, None);
        assert_eq!(m.value("lane_change_decel_mps2"), None);
        // Straight ahead: none either.
        let m = metrics(&s, rows(3.0, |_, _| {}));
        assert_eq!(m.lane_change_lateral_accel_mps2, None);
        // Back and forth across the left marking: two crossings, two changes.
        let weave = rows(20.0, |t, r| {
            r.ego_y_m = 1.75 - 1.75 * (std::f64::consts::TAU * t / 20.0).cos();
        });
        let changes = lane_change_intervals(&s, &weave, 0.1);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(changes[0].1 < changes[1].0);
    }

    fn pedestrian(station_m: f64, y_m: f64) -> Actor {
        Actor {
            id: "ped".into(),
            kind: ActorKind::Pedestrian { child: false },
            length_m: 0.3,
            width_m: 0.5,
            height_m: 1.8,
            pose: RoadPose {
                station_m,
                y_m,
                heading_rad: std::f64::consts::FRAC_PI_2,
            },
            speed_mps: 0.0,
            behaviour: Behaviour::Crossing {
                direction_y: 1.0,
                speed_mps: 2.0,
                accel_distance_m: 0.0,
                impact_y_m: 0.0,
                impact_time_s: 6.0,
            },
        }
    }

    #[test]
    fn pet_of_a_pedestrian_crossing_behind_the_ego() {
        // Ego at 10 m/s along y = 0; pedestrian (0.3 × 0.5 m, walking left at 2 m/s) crossing
        // at station 50. The ego (4 m long) occupies the pedestrian's strip while
        // |10t − 50| < 2.25, i.e. until t = 5.225 s; the pedestrian (across the road 0.15 m
        // half extent) enters the ego's 1.8 m path when −12 + 2t > −1.05, at t = 5.475 s.
        let mut s = base();
        s.actors = vec![pedestrian(50.0, -12.0)];
        let trace = |walk_from_y: f64| {
            rows(8.0, move |t, r| {
                r.ego_station_m = 10.0 * t;
                r.ego_speed_mps = 10.0;
                r.actors = vec![(50.0, walk_from_y + 2.0 * t, 2.0)];
            })
        };
        let m = metrics(&s, trace(-12.0));
        assert!(close(m.pet_s, 0.25, 2.0 * DT), "{:?}", m.pet_s);
        // Starting 1 m closer, the pedestrian is in the path at 4.975 s while the ego is there.
        let m = metrics(&s, trace(-11.0));
        assert_eq!(m.pet_s, Some(0.0));
        // A pedestrian that never reaches the ego's path: no encroachment, null.
        let m = metrics(&s, trace(-40.0));
        assert_eq!(m.pet_s, None);
        // No crossing actor: null.
        assert_eq!(metrics(&base(), rows(1.0, |_, _| {})).pet_s, None);
    }

    #[test]
    fn false_activations_need_an_object_on_a_collision_course() {
        let mut s = base();
        s.actors = vec![pedestrian(50.0, -12.0)];
        // A warning at 1 s with nothing in the path and the pedestrian still 10 s away: false.
        let far = metrics(
            &s,
            rows(2.0, |t, r| {
                r.ego_station_m = 10.0 * t;
                r.actors = vec![(50.0, -12.0 + 0.1 * t, 0.1)];
                r.warning = t >= 1.0;
            }),
        );
        assert_eq!(far.false_activations, Some(1));
        // The same warning while the pedestrian walks into the ego's path within 4 s: not false.
        // At t = 3 the ego overlaps the pedestrian's strip during (1.775 s, 2.225 s) from now,
        // the pedestrian (y = −5 m, 2 m/s) is in the ego's path during (1.975 s, 3.025 s).
        let near = metrics(
            &s,
            rows(3.5, |t, r| {
                r.ego_station_m = 10.0 * t;
                r.actors = vec![(50.0, -11.0 + 2.0 * t, 2.0)];
                r.warning = t >= 3.0;
            }),
        );
        assert_eq!(near.false_activations, Some(0));
        // Braking below the activation threshold does not count; a hard brake does.
        let brake = |decel: f64| {
            metrics(
                &base(),
                rows(2.0, move |t, r| {
                    r.cmd_accel_mps2 = (t >= 1.0).then_some(-decel);
                }),
            )
        };
        assert_eq!(brake(0.5).false_activations, Some(0));
        assert_eq!(brake(6.0).false_activations, Some(1));
        assert_eq!(brake(6.0).emergency_braking_events, Some(1));
    }

    #[test]
    fn rss_safe_distance_and_time_inside_it() {
        let rss = RssParams::default();
        // Both at 20 m/s: 20 + 1.75 + 23.5²/8 − 400/16 = 65.78125 m.
        assert!((rss.safe_distance_m(20.0, 20.0) - 65.781_25).abs() < 1e-9);
        assert_eq!(rss.safe_distance_m(0.0, 30.0), 0.0);
        // Following at a constant 50 m for 2 s: unsafe all along.
        let m = metrics(
            &base(),
            rows(2.0, |_, r| {
                r.gap_m = Some(50.0);
                r.closing_mps = Some(0.0);
                r.lead = Some(0);
            }),
        );
        assert!(close(m.time_in_rss_unsafe_s, 2.0, 1e-9));
        assert!(close(m.min_time_headway_s, 2.5, 1e-12));
        // UN R157's time gap is the same quantity.
        assert_eq!(m.value("time_gap_s"), Some(2.5));
        assert_eq!(m.value("time_gap_s"), m.value("min_time_headway_s"));
        assert!(close(m.min_gap_m, 50.0, 0.0));
        assert_eq!(m.max_drac_mps2, None);
    }

    #[test]
    fn warning_timing_and_names() {
        // Warning from 1 s, emergency braking from 1.8 s; TTC = 4 − t.
        let m = metrics(
            &base(),
            rows(3.0, |t, r| {
                r.ttc_s = Some(4.0 - t);
                r.warning = t >= 1.0 - 1e-9;
                r.cmd_accel_mps2 = (t >= 1.8 - 1e-9).then_some(-6.0);
            }),
        );
        assert!(close(m.warning_ttc_s, 3.0, 1e-9), "{:?}", m.warning_ttc_s);
        assert!(
            close(m.warning_lead_time_s, 0.8, 1e-9),
            "{:?}",
            m.warning_lead_time_s
        );
        assert!(close(m.ttc_at_first_intervention_s, 2.2, 1e-9));
        for name in METRIC_NAMES {
            let _ = m.value(name);
        }
        assert_eq!(m.value("no_such_metric_s"), None);
        assert_eq!(m.value("impact_occurred"), Some(0.0));
        for (alias, metric) in METRIC_ALIASES {
            assert!(!METRIC_NAMES.contains(alias), "{alias}");
            assert!(METRIC_NAMES.contains(metric), "{metric}");
        }
        assert_eq!(m.value("warning_ttc_s"), m.warning_ttc_s);
        // Without a trace only the run's outcome is known.
        let mut r = result(Vec::new(), 10.0);
        r.trace = None;
        let m = compute(&base(), &r, &MetricsConfig::default());
        assert!(close(m.speed_reduction_kph, 36.0, 1e-9));
        assert_eq!(m.min_ttc_s, None);
        assert_eq!(m.false_activations, None);
    }

    #[test]
    fn every_metric_and_alias_is_documented() {
        let doc = std::fs::read_to_string("docs/metrics.md").expect("docs/metrics.md");
        for name in METRIC_NAMES {
            assert!(doc.contains(&format!("| `{name}`")), "{name} has no row");
        }
        for (alias, metric) in METRIC_ALIASES {
            assert!(
                doc.contains(&format!("| `{alias}` | `{metric}` |")),
                "{alias} is not listed"
            );
        }
    }

    #[test]
    fn ccrs_with_the_builtin_aeb() {
        use crate::sim::{self, RunSpec, SimOptions};
        use crate::sut::SutSpec;
        let loaded = crate::scenario::load_paths(&[PathBuf::from("scenarios/euro-ncap/ccrs.toml")]);
        assert!(!loaded.diagnostics.has_errors());
        let aeb = SutSpec::parse("builtin:aeb").expect("builtin");
        let picked: Vec<_> = loaded
            .cases
            .iter()
            .filter(|c| c.id.contains("overlap_pct=100"))
            .map(|c| c.build())
            .collect();
        assert!(!picked.is_empty());
        let specs = picked
            .iter()
            .map(|c| RunSpec {
                scenario: &c.model,
                case_id: &c.id,
                run_index: 0,
                system: aeb.instantiate(),
            })
            .collect();
        let options = SimOptions {
            record_trace: true,
            ..SimOptions::default()
        };
        let results = sim::run_batch(specs, &options);
        let cfg = MetricsConfig::default();
        let mut collisions = 0;
        for (case, r) in picked.iter().zip(&results) {
            let m = compute(&case.model, r, &cfg);
            let id = &case.id;
            assert_eq!(m.collision, r.collision.is_some(), "{id}");
            if let Some(c) = &r.collision {
                collisions += 1;
                assert_eq!(
                    m.relative_impact_speed_kph,
                    Some(c.relative_speed_mps * 3.6)
                );
                // A stationary target: relative and ego impact speeds agree.
                assert!(
                    close(m.impact_speed_kph, c.relative_speed_mps * 3.6, 1e-9),
                    "{id}"
                );
            }
            assert_eq!(m.min_ttc_s, r.min_ttc_s, "{id}");
            assert_eq!(m.min_gap_m, r.min_gap_m, "{id}");
            assert!(close(m.peak_decel_mps2, r.max_decel_mps2, 1e-12), "{id}");
            // The system warns before it brakes, at a larger TTC.
            let (w, i) = (m.warning_ttc_s, m.ttc_at_first_intervention_s);
            assert!(w.is_some() && i.is_some(), "{id}: {w:?} {i:?}");
            assert!(w >= i, "{id}: warning {w:?} intervention {i:?}");
            assert!(m.warning_lead_time_s.is_some_and(|t| t >= 0.0), "{id}");
            assert!(m.speed_reduction_kph.is_some_and(|v| v > 0.0), "{id}");
            assert_eq!(m.false_activations, Some(0), "{id}");
            assert!(m.emergency_braking_events.is_some_and(|n| n >= 1), "{id}");
            assert!(m.tet_s.is_some_and(|t| t > 0.0), "{id}");
            assert!(m.max_drac_mps2.is_some_and(|d| d > 0.0), "{id}");
            // Straight ahead in the lane centre.
            assert!(m.lateral_accel_mps2.is_some_and(|a| a < 0.05), "{id}");
            assert_eq!(m.lane_departures, Some(0), "{id}");
            assert_eq!(m.pet_s, None, "{id}");
        }
        // The fast cases cannot be avoided at the builtin's full braking.
        assert!(collisions > 0);
    }
}
