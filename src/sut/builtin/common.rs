//! Pieces shared by the built-in systems: the ego's predicted path corridor, time to contact with
//! an object that may be braking, the deceleration needed to avoid it, per-track acceleration
//! estimates from successive object lists, and guards against non-finite inputs.

use crate::sut::{Observation, RunSetup, TrackedObject};

/// Standard gravity, m/s².
pub const G_MPS2: f64 = 9.80665;

/// Below this speed the ego counts as standing still, m/s.
pub const STANDSTILL_SPEED_MPS: f64 = 0.1;

/// Below this speed the yaw rate says nothing reliable about the curvature of the ego's path, m/s.
const MIN_SPEED_FOR_PATH_CURVATURE_MPS: f64 = 2.0;

/// The tightest path curvature the corridor bends to (a 50 m radius), 1/m.
const MAX_PATH_CURVATURE_PER_M: f64 = 0.02;

/// Closing speeds below this count as "not closing", m/s.
const MIN_CLOSING_SPEED_MPS: f64 = 1e-3;

/// Raw acceleration estimates are clipped to this magnitude before filtering, m/s², so that a
/// glitch in one measurement cannot dominate the filter.
const MAX_RAW_ACCEL_MPS2: f64 = 15.0;

/// The set-up a system assumes until the harness calls `reset`.
pub fn default_setup() -> RunSetup {
    RunSetup {
        dt_s: 0.05,
        ego_length_m: 4.6,
        ego_width_m: 1.8,
        ego_wheelbase_m: 2.7,
        ego_max_decel_mps2: 10.0,
        cameras: Vec::new(),
    }
}

/// `x` if it is finite, otherwise `fallback`.
pub fn finite_or(x: f64, fallback: f64) -> f64 {
    if x.is_finite() { x } else { fallback }
}

/// The ego's speed as a non-negative finite number.
pub fn ego_speed_mps(obs: &Observation<'_>) -> f64 {
    finite_or(obs.ego.speed_mps, 0.0).max(0.0)
}

/// Whether every number of an object is finite (objects that are not are ignored).
pub fn object_is_usable(o: &TrackedObject) -> bool {
    o.pos_in_ego_m
        .iter()
        .chain(o.rel_vel_in_ego_mps.iter())
        .all(|v| v.is_finite())
        && o.heading_in_ego_rad.is_finite()
        && o.length_m.is_finite()
        && o.width_m.is_finite()
        && o.length_m >= 0.0
        && o.width_m >= 0.0
}

/// Time since the previous step, from the observations' time stamps.
#[derive(Clone, Debug, Default)]
pub struct StepClock {
    last_time_s: Option<f64>,
}

impl StepClock {
    /// Seconds since the previous call; `fallback_s` on the first call or if time does not advance.
    pub fn dt_s(&mut self, time_s: f64, fallback_s: f64) -> f64 {
        let dt = match self.last_time_s {
            Some(last) if time_s.is_finite() && time_s > last => time_s - last,
            _ => fallback_s,
        };
        if time_s.is_finite() {
            self.last_time_s = Some(time_s);
        }
        dt
    }
}

/// The band of road the ego will sweep: its width plus a margin on each side, bent along the
/// path curvature given by the yaw rate (the way production systems predict their own path).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corridor {
    pub half_width_m: f64,
    pub curvature_per_m: f64,
}

impl Corridor {
    pub fn new(obs: &Observation<'_>, ego_width_m: f64, margin_m: f64) -> Corridor {
        let v = ego_speed_mps(obs);
        let curvature_per_m = if v > MIN_SPEED_FOR_PATH_CURVATURE_MPS {
            finite_or(obs.ego.yaw_rate_radps / v, 0.0)
                .clamp(-MAX_PATH_CURVATURE_PER_M, MAX_PATH_CURVATURE_PER_M)
        } else {
            0.0
        };
        Corridor {
            half_width_m: 0.5 * ego_width_m + margin_m,
            curvature_per_m,
        }
    }

    /// Lateral position of the path's centre line `x_m` ahead of the bumper.
    pub fn centre_y_m(&self, x_m: f64) -> f64 {
        let x = x_m.max(0.0);
        0.5 * self.curvature_per_m * x * x
    }

    /// Whether the object's footprint overlaps the corridor `t_s` seconds from now, with its
    /// lateral motion relative to the ego extrapolated at constant velocity.
    pub fn overlaps_at(&self, o: &TrackedObject, t_s: f64) -> bool {
        let (right_m, left_m) = o.lateral_extent_m();
        let shift_m = o.rel_vel_in_ego_mps[1] * t_s - self.centre_y_m(o.pos_in_ego_m[0]);
        right_m + shift_m < self.half_width_m && left_m + shift_m > -self.half_width_m
    }
}

/// Time until the ego's front, moving on at its present speed `v_ego_mps`, reaches an object
/// `gap_m` ahead whose longitudinal speed is `v_obj_mps` (negative: oncoming) and whose
/// longitudinal acceleration is `a_obj_mps2`. Only decelerations of an object moving forward are
/// extrapolated, and they end at its standstill (a braking car stops, it does not reverse).
/// `f64::INFINITY` when the ego never reaches it.
pub fn time_to_contact_s(gap_m: f64, v_ego_mps: f64, v_obj_mps: f64, a_obj_mps2: f64) -> f64 {
    if gap_m <= 0.0 {
        return 0.0;
    }
    let decel_mps2 = (-a_obj_mps2).max(0.0);
    if decel_mps2 < 1e-6 || v_obj_mps <= 0.0 {
        let closing_mps = v_ego_mps - v_obj_mps;
        return if closing_mps > MIN_CLOSING_SPEED_MPS {
            gap_m / closing_mps
        } else {
            f64::INFINITY
        };
    }
    // gap(t) = gap + (v_obj − v_ego)·t − ½·decel·t² until the object stops.
    let b_mps = v_obj_mps - v_ego_mps;
    let root_mps = (b_mps * b_mps + 2.0 * decel_mps2 * gap_m).sqrt();
    // The positive root, in the form that avoids cancellation for either sign of b.
    let t_s = if b_mps >= 0.0 {
        (b_mps + root_mps) / decel_mps2
    } else {
        2.0 * gap_m / (root_mps - b_mps)
    };
    let stop_s = v_obj_mps / decel_mps2;
    if t_s <= stop_s {
        return t_s;
    }
    // The object stops first; the ego reaches the place where it stands.
    if v_ego_mps > MIN_CLOSING_SPEED_MPS {
        (gap_m + v_obj_mps * v_obj_mps / (2.0 * decel_mps2)) / v_ego_mps
    } else {
        f64::INFINITY
    }
}

/// The constant deceleration (positive, m/s²) the ego needs from now to stay clear of an object
/// `gap_m` ahead moving at `v_obj_mps` (clamped to ≥ 0) and braking with `obj_decel_mps2`
/// (≥ 0) until it stops. 0 when the ego is not closing in at all.
pub fn required_decel_mps2(gap_m: f64, v_ego_mps: f64, v_obj_mps: f64, obj_decel_mps2: f64) -> f64 {
    let v_e = v_ego_mps.max(0.0);
    let v_o = v_obj_mps.max(0.0);
    let a_o = obj_decel_mps2.max(0.0);
    let gap = gap_m.max(1e-3);
    let closing_mps = v_e - v_o;
    if a_o < 1e-6 {
        return if closing_mps > 0.0 {
            closing_mps * closing_mps / (2.0 * gap)
        } else {
            0.0
        };
    }
    // Either the object stops first and the ego must stop behind the place where it stands ...
    let stop_behind_mps2 = v_e * v_e / (2.0 * (gap + v_o * v_o / (2.0 * a_o)));
    // Braking no harder than the object, or not closing in at all, the gap shrinks monotonically
    // (or first grows), so stopping behind that place is all it takes.
    if stop_behind_mps2 <= a_o || closing_mps <= 0.0 {
        return stop_behind_mps2;
    }
    // ... or, braking harder than the object, the ego matches its speed before the object stops;
    // the gap at that moment must stay positive (an upper bound if the two cases mix).
    let match_s = closing_mps / (stop_behind_mps2 - a_o);
    if match_s >= v_o / a_o {
        stop_behind_mps2
    } else {
        stop_behind_mps2.max(a_o + closing_mps * closing_mps / (2.0 * gap))
    }
}

/// What a system keeps about one track between steps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TrackEntry {
    track_id: u32,
    rel_vx_mps: f64,
    measured_at_s: f64,
    /// Filtered longitudinal acceleration of the object over ground, m/s².
    accel_x_mps2: f64,
    seen: bool,
}

/// Per-track longitudinal acceleration estimates from successive object lists:
/// a_obj = a_ego + d(relative x velocity)/dt, smoothed by a first-order filter. The vector keeps
/// its capacity across steps and runs, so after warm-up no step allocates.
#[derive(Clone, Debug, Default)]
pub struct TrackMemory {
    entries: Vec<TrackEntry>,
}

impl TrackMemory {
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Takes in this step's object list; tracks that are no longer listed are forgotten.
    pub fn update(&mut self, obs: &Observation<'_>, filter_tau_s: f64) {
        let ego_accel_mps2 = finite_or(obs.ego.accel_mps2, 0.0);
        for e in &mut self.entries {
            e.seen = false;
        }
        for o in obs.objects.iter().filter(|o| object_is_usable(o)) {
            let rel_vx_mps = o.rel_vel_in_ego_mps[0];
            let measured_at_s = finite_or(o.measured_at_s, obs.time_s);
            match self.entries.iter_mut().find(|e| e.track_id == o.track_id) {
                Some(e) => {
                    let dt_s = measured_at_s - e.measured_at_s;
                    // A repeated measurement (sensor slower than the system) carries no news.
                    if dt_s > 1e-6 {
                        let raw_mps2 = (ego_accel_mps2 + (rel_vx_mps - e.rel_vx_mps) / dt_s)
                            .clamp(-MAX_RAW_ACCEL_MPS2, MAX_RAW_ACCEL_MPS2);
                        let alpha = dt_s / (filter_tau_s.max(0.0) + dt_s);
                        e.accel_x_mps2 += alpha * (raw_mps2 - e.accel_x_mps2);
                        e.rel_vx_mps = rel_vx_mps;
                        e.measured_at_s = measured_at_s;
                    }
                    e.seen = true;
                }
                None => self.entries.push(TrackEntry {
                    track_id: o.track_id,
                    rel_vx_mps,
                    measured_at_s,
                    accel_x_mps2: 0.0,
                    seen: true,
                }),
            }
        }
        self.entries.retain(|e| e.seen);
    }

    /// The estimated longitudinal acceleration over ground of a track (0 if unknown), m/s².
    pub fn accel_x_mps2(&self, track_id: u32) -> f64 {
        self.entries
            .iter()
            .find(|e| e.track_id == track_id)
            .map_or(0.0, |e| finite_or(e.accel_x_mps2, 0.0))
    }
}

/// The most urgent object on the ego's predicted path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threat {
    pub track_id: u32,
    pub gap_m: f64,
    /// Time to contact (see [`time_to_contact_s`]), s.
    pub ttc_s: f64,
    /// Longitudinal speed of the object over ground, m/s.
    pub obj_speed_mps: f64,
    /// Estimated longitudinal acceleration of the object over ground, m/s².
    pub obj_accel_mps2: f64,
}

/// The object the ego will reach first among those that will be inside the corridor when it gets
/// there: each object's time to contact is computed, its lateral position is extrapolated to that
/// moment (at most `horizon_s(object)` ahead; 0 judges by the present position), and only objects
/// then overlapping the corridor count. So a pedestrian who will be in the path at the time of
/// impact counts, one who will have left it does not, and a car that stays in the next lane
/// never does.
pub fn most_urgent_threat(
    obs: &Observation<'_>,
    corridor: &Corridor,
    tracks: &TrackMemory,
    horizon_s: impl Fn(&TrackedObject) -> f64,
) -> Option<Threat> {
    let v_ego = ego_speed_mps(obs);
    let mut best: Option<Threat> = None;
    for o in obs
        .objects
        .iter()
        .filter(|o| object_is_usable(o) && o.pos_in_ego_m[0] > 0.0)
    {
        let gap_m = o.gap_m().max(0.0);
        let obj_speed_mps = v_ego + o.rel_vel_in_ego_mps[0];
        let obj_accel_mps2 = tracks.accel_x_mps2(o.track_id);
        let ttc_s = time_to_contact_s(gap_m, v_ego, obj_speed_mps, obj_accel_mps2);
        if !ttc_s.is_finite() || !corridor.overlaps_at(o, ttc_s.min(horizon_s(o)).max(0.0)) {
            continue;
        }
        let candidate = Threat {
            track_id: o.track_id,
            gap_m,
            ttc_s,
            obj_speed_mps,
            obj_accel_mps2,
        };
        let better = match &best {
            None => true,
            Some(b) => (ttc_s, gap_m, o.track_id) < (b.ttc_s, b.gap_m, b.track_id),
        };
        if better {
            best = Some(candidate);
        }
    }
    best
}

/// The nearest object ahead whose footprint overlaps the corridor now.
pub fn nearest_in_path<'a>(
    obs: &Observation<'a>,
    corridor: &Corridor,
) -> Option<&'a TrackedObject> {
    let objects: &'a [TrackedObject] = obs.objects;
    objects
        .iter()
        .filter(|o| object_is_usable(o) && o.pos_in_ego_m[0] > 0.0 && corridor.overlaps_at(o, 0.0))
        .min_by(|a, b| {
            a.gap_m()
                .total_cmp(&b.gap_m())
                .then(a.track_id.cmp(&b.track_id))
        })
}

/// Whether a stopped ego should keep its brakes on: something is in its path within
/// `hold_gap_m` and is not driving away (closing speed above −`recede_speed_mps`).
pub fn standstill_hold_needed(
    obs: &Observation<'_>,
    corridor: &Corridor,
    hold_gap_m: f64,
    recede_speed_mps: f64,
) -> bool {
    nearest_in_path(obs, corridor)
        .is_some_and(|o| o.gap_m() < hold_gap_m && o.rel_vel_in_ego_mps[0] < recede_speed_mps)
}

/// Helpers for the unit tests: object and observation builders and a small closed-loop
/// longitudinal simulation.
#[cfg(test)]
pub mod testkit {
    use super::*;
    use crate::sut::{Command, EgoSignals, LaneObservation, ObjectClass, System};

    pub fn setup() -> RunSetup {
        default_setup()
    }

    /// A 4.5 m × 1.8 m car with its centre at (`x_m`, `y_m`) in the ego frame.
    pub fn car(
        track_id: u32,
        x_m: f64,
        y_m: f64,
        rel_vx_mps: f64,
        rel_vy_mps: f64,
    ) -> TrackedObject {
        TrackedObject {
            track_id,
            class: ObjectClass::Car,
            pos_in_ego_m: [x_m, y_m],
            rel_vel_in_ego_mps: [rel_vx_mps, rel_vy_mps],
            heading_in_ego_rad: 0.0,
            length_m: 4.5,
            width_m: 1.8,
            measured_at_s: 0.0,
        }
    }

    pub fn obs_with(
        time_s: f64,
        speed_mps: f64,
        objects: &[TrackedObject],
        lane: Option<LaneObservation>,
    ) -> Observation<'_> {
        Observation {
            time_s,
            ego: EgoSignals {
                speed_mps,
                accel_mps2: 0.0,
                yaw_rate_radps: 0.0,
                steer_rad: 0.0,
                length_m: 4.6,
                width_m: 1.8,
                wheelbase_m: 2.7,
            },
            objects,
            lane,
            set_speed_mps: speed_mps,
            gnss: None,
            frames: &[],
        }
    }

    /// One other road user in the test world (x along the road from the ego's start, y left).
    #[derive(Clone, Debug)]
    pub struct Actor {
        pub class: ObjectClass,
        /// Centre of the footprint.
        pub x_m: f64,
        pub y_m: f64,
        pub vx_mps: f64,
        pub ax_mps2: f64,
        /// Lateral velocity, applied from `lateral_from_s` until `y_m` reaches `lateral_to_m`.
        pub vy_mps: f64,
        pub lateral_from_s: f64,
        pub lateral_to_m: f64,
        /// Deceleration starts at this time (`ax_mps2` applies from then on).
        pub accel_from_s: f64,
        pub length_m: f64,
        pub width_m: f64,
    }

    impl Actor {
        pub fn car(x_m: f64, y_m: f64, vx_mps: f64) -> Actor {
            Actor {
                class: ObjectClass::Car,
                x_m,
                y_m,
                vx_mps,
                ax_mps2: 0.0,
                vy_mps: 0.0,
                lateral_from_s: 0.0,
                lateral_to_m: y_m,
                accel_from_s: 0.0,
                length_m: 4.5,
                width_m: 1.8,
            }
        }
    }

    /// A straight-road world: the ego (front bumper at `ego_x_m`, centred at y = 0) with a
    /// first-order actuator lag and a jerk limit (the harness's defaults), a test driver that holds `set_speed_mps` when the system leaves
    /// the longitudinal axis alone, and actors with scripted motion. Steps of `dt_s`.
    pub struct World {
        pub time_s: f64,
        pub dt_s: f64,
        pub ego_x_m: f64,
        pub ego_speed_mps: f64,
        pub ego_accel_mps2: f64,
        pub actuator_lag_s: f64,
        pub max_jerk_mps3: f64,
        pub set_speed_mps: f64,
        pub actors: Vec<Actor>,
        pub objects: Vec<TrackedObject>,
        /// Relative speed at the first contact, m/s.
        pub impact_speed_mps: Option<f64>,
    }

    impl World {
        pub fn new(ego_speed_mps: f64, actors: Vec<Actor>) -> World {
            World {
                time_s: 0.0,
                dt_s: 0.05,
                ego_x_m: 0.0,
                ego_speed_mps,
                ego_accel_mps2: 0.0,
                actuator_lag_s: 0.15,
                max_jerk_mps3: 50.0,
                set_speed_mps: ego_speed_mps,
                actors,
                objects: Vec::new(),
                impact_speed_mps: None,
            }
        }

        pub fn observe(&mut self) -> Observation<'_> {
            self.objects.clear();
            for (i, a) in self.actors.iter().enumerate() {
                let vy = if self.time_s >= a.lateral_from_s && (a.lateral_to_m - a.y_m).abs() > 1e-9
                {
                    a.vy_mps
                } else {
                    0.0
                };
                self.objects.push(TrackedObject {
                    track_id: i as u32 + 1,
                    class: a.class,
                    pos_in_ego_m: [a.x_m - self.ego_x_m, a.y_m],
                    rel_vel_in_ego_mps: [a.vx_mps - self.ego_speed_mps, vy],
                    heading_in_ego_rad: 0.0,
                    length_m: a.length_m,
                    width_m: a.width_m,
                    measured_at_s: self.time_s,
                });
            }
            let mut o = obs_with(self.time_s, self.ego_speed_mps, &self.objects, None);
            o.ego.accel_mps2 = self.ego_accel_mps2;
            o.set_speed_mps = self.set_speed_mps;
            o
        }

        /// Advances one step with the system's command (the test driver fills in `None`).
        pub fn advance(&mut self, cmd: &Command) {
            let dt = self.dt_s;
            let driver_mps2 = (1.5 * (self.set_speed_mps - self.ego_speed_mps)).clamp(-2.0, 2.0);
            let request = cmd.accel_mps2.unwrap_or(driver_mps2).clamp(-10.0, 3.0);
            let lagged = self.ego_accel_mps2
                + (request - self.ego_accel_mps2) * (dt / self.actuator_lag_s).min(1.0);
            let max_delta = self.max_jerk_mps3 * dt;
            self.ego_accel_mps2 += (lagged - self.ego_accel_mps2).clamp(-max_delta, max_delta);
            let v0 = self.ego_speed_mps;
            self.ego_speed_mps = (v0 + self.ego_accel_mps2 * dt).max(0.0);
            if self.ego_speed_mps == 0.0 && self.ego_accel_mps2 < 0.0 {
                self.ego_accel_mps2 = 0.0;
            }
            self.ego_x_m += 0.5 * (v0 + self.ego_speed_mps) * dt;
            for a in &mut self.actors {
                let ax = if self.time_s >= a.accel_from_s {
                    a.ax_mps2
                } else {
                    0.0
                };
                let v1 = if ax < 0.0 {
                    (a.vx_mps + ax * dt).max(0.0)
                } else {
                    a.vx_mps + ax * dt
                };
                a.x_m += 0.5 * (a.vx_mps + v1) * dt;
                a.vx_mps = v1;
                if self.time_s >= a.lateral_from_s {
                    let step = a.vy_mps * dt;
                    let remaining = a.lateral_to_m - a.y_m;
                    a.y_m = if step.abs() >= remaining.abs() {
                        a.lateral_to_m
                    } else {
                        a.y_m + step
                    };
                }
            }
            self.time_s += dt;
            if self.impact_speed_mps.is_none() {
                for a in &self.actors {
                    let gap = a.x_m - 0.5 * a.length_m - self.ego_x_m;
                    let lateral = a.y_m.abs() < 0.5 * (a.width_m + 1.8);
                    if lateral && gap <= 0.0 && gap > -a.length_m {
                        self.impact_speed_mps = Some(self.ego_speed_mps - a.vx_mps);
                    }
                }
            }
        }

        /// Runs the system in closed loop for `duration_s` or until contact or standstill;
        /// returns every (time, command) pair.
        pub fn run(&mut self, system: &mut dyn System, duration_s: f64) -> Vec<(f64, Command)> {
            system.reset(&setup());
            let mut log = Vec::new();
            while self.time_s < duration_s - 1e-9 && self.impact_speed_mps.is_none() {
                let obs = self.observe();
                let t = obs.time_s;
                let cmd = system.step(&obs).expect("built-in systems do not fail");
                self.advance(&cmd);
                log.push((t, cmd));
                if self.ego_speed_mps <= 0.0 {
                    break;
                }
            }
            log
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;

    #[test]
    fn time_to_contact_with_constant_speeds() {
        assert_eq!(time_to_contact_s(20.0, 10.0, 0.0, 0.0), 2.0);
        assert_eq!(time_to_contact_s(20.0, 10.0, 5.0, 0.0), 4.0);
        assert_eq!(time_to_contact_s(20.0, 10.0, 12.0, 0.0), f64::INFINITY);
        assert_eq!(time_to_contact_s(20.0, 10.0, -10.0, 0.0), 1.0);
        assert_eq!(time_to_contact_s(-1.0, 10.0, 20.0, 0.0), 0.0);
        // Acceleration of the object is not extrapolated (only braking is).
        assert_eq!(time_to_contact_s(20.0, 10.0, 5.0, 3.0), 4.0);
    }

    #[test]
    fn time_to_contact_with_a_braking_object_that_stops() {
        // Same speeds, object brakes at 6 m/s² from 12 gap: 3·t² = 12 ⇒ t = 2 s, before its stop.
        let t = time_to_contact_s(12.0, 14.0, 14.0, -6.0);
        assert!((t - 2.0).abs() < 1e-12, "{t}");
        // Object at 4 m/s braking at 8 m/s² stops after 1 m; ego at 5 m/s covers 11 m in 2.2 s.
        let t = time_to_contact_s(10.0, 5.0, 4.0, -8.0);
        assert!((t - 2.2).abs() < 1e-12, "{t}");
        // A faster object braking hard: it stops 50 m ahead after 4 s; the ego gets there at 5 s.
        assert_eq!(time_to_contact_s(10.0, 10.0, 20.0, -5.0), 5.0);
        // A faster object braking gently: the ego catches up while it is still moving.
        let t = time_to_contact_s(10.0, 10.0, 12.0, -1.0);
        let gap_at = |t: f64| 10.0 + 12.0 * t - 0.5 * t * t - 10.0 * t;
        assert!(gap_at(t).abs() < 1e-9 && t < 12.0, "{t}");
    }

    #[test]
    fn required_decel_cases() {
        // Stationary object: v²/(2·gap).
        assert!((required_decel_mps2(25.0, 10.0, 0.0, 0.0) - 2.0).abs() < 1e-12);
        // Slower object at constant speed: closing²/(2·gap).
        assert!((required_decel_mps2(10.0, 10.0, 6.0, 0.0) - 0.8).abs() < 1e-12);
        // Not closing.
        assert_eq!(required_decel_mps2(10.0, 6.0, 10.0, 0.0), 0.0);
        // Braking object that stops within 4 m: stop behind it within 14 m.
        let r = required_decel_mps2(10.0, 10.0, 4.0, 2.0);
        assert!((r - 100.0 / 28.0).abs() < 1e-12, "{r}");
        // Hard-braking object from the same speed: stop behind the place where it stops.
        let r = required_decel_mps2(5.0, 20.0, 20.0, 6.0);
        assert!(
            (r - 400.0 / (2.0 * (5.0 + 400.0 / 12.0))).abs() < 1e-12,
            "{r}"
        );
        // Much slower, gently braking object close ahead: matching its speed is what counts.
        let r = required_decel_mps2(5.0, 20.0, 10.0, 2.0);
        assert!((r - 12.0).abs() < 1e-12, "{r}");
    }

    #[test]
    fn corridor_extrapolates_lateral_motion() {
        let o = obs_with(0.0, 10.0, &[], None);
        let corridor = Corridor::new(&o, 1.8, 0.2);
        // A pedestrian 3 m to the right walking left at 1.5 m/s: in the path after 2 s, not now.
        let mut ped = car(1, 20.0, -3.0, -10.0, 1.5);
        ped.length_m = 0.5;
        ped.width_m = 0.5;
        assert!(!corridor.overlaps_at(&ped, 0.0));
        assert!(corridor.overlaps_at(&ped, 2.0));
        // It has crossed completely after 4 s.
        assert!(!corridor.overlaps_at(&ped, 4.0));
        // A car in the next lane does not overlap.
        assert!(!corridor.overlaps_at(&car(2, 20.0, 3.5, -10.0, 0.0), 3.0));
    }

    #[test]
    fn threat_selection_uses_predicted_position_at_contact() {
        let tracks = TrackMemory::default();
        let mut ped = car(1, 20.0, -3.0, -10.0, 1.5);
        ped.length_m = 0.5;
        ped.width_m = 0.5;
        let parked = car(2, 15.0, 3.5, -10.0, 0.0);
        let objects = [ped, parked];
        let o = obs_with(0.0, 10.0, &objects, None);
        let corridor = Corridor::new(&o, 1.8, 0.2);
        let threat = most_urgent_threat(&o, &corridor, &tracks, |_| 3.0)
            .expect("the pedestrian is a threat");
        assert_eq!(threat.track_id, 1);
        assert!((threat.ttc_s - 19.75 / 10.0).abs() < 1e-12);
    }

    #[test]
    fn track_memory_estimates_object_deceleration() {
        let mut tracks = TrackMemory::default();
        for k in 0..40 {
            let t = k as f64 * 0.05;
            let mut lead = car(7, 30.0, 0.0, -4.0 * t, 0.0);
            lead.measured_at_s = t;
            let objects = [lead];
            let o = obs_with(t, 20.0, &objects, None);
            tracks.update(&o, 0.1);
        }
        assert!(
            (tracks.accel_x_mps2(7) + 4.0).abs() < 1e-3,
            "{}",
            tracks.accel_x_mps2(7)
        );
        assert_eq!(tracks.accel_x_mps2(8), 0.0);
        // A track that disappears is forgotten.
        let o = obs_with(2.0, 20.0, &[], None);
        tracks.update(&o, 0.1);
        assert_eq!(tracks.accel_x_mps2(7), 0.0);
    }
}
