//! Actors moving by their behaviours, and the triggers that start them.

use crate::scenario::model::{Actor, Behaviour, Road, Trigger};

/// Largest longitudinal acceleration an actor uses to reach a new speed during a lane change.
const ACTOR_SPEED_CHANGE_MPS2: f64 = 2.0;

/// An actor's state in the road frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActorState {
    pub station_m: f64,
    pub y_m: f64,
    /// Heading relative to the road.
    pub heading_rad: f64,
    /// Speed along its heading.
    pub speed_mps: f64,
    pub accel_mps2: f64,
    /// When its behaviour's trigger fired (None: not yet).
    pub triggered_at_s: Option<f64>,
    /// Lateral position when a lane change started.
    pub y_start_m: f64,
}

impl ActorState {
    pub fn initial(actor: &Actor) -> ActorState {
        ActorState {
            station_m: actor.pose.station_m,
            y_m: actor.pose.y_m,
            heading_rad: actor.pose.heading_rad,
            speed_mps: actor.speed_mps,
            accel_mps2: 0.0,
            triggered_at_s: None,
            y_start_m: actor.pose.y_m,
        }
    }

    /// World-frame position and heading.
    pub fn world(&self, road: &Road) -> (f64, f64, f64) {
        let (x, y, h) = road.world_from_road(self.station_m, self.y_m);
        (x, y, h + self.heading_rad)
    }

    /// Velocity in the road frame (along the station, lateral).
    pub fn road_velocity_mps(&self) -> (f64, f64) {
        (
            self.speed_mps * self.heading_rad.cos(),
            self.speed_mps * self.heading_rad.sin(),
        )
    }
}

/// The quantities triggers measure between the ego and one actor, in the road frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Relation {
    /// Longitudinal bumper-to-bumper gap (negative when overlapping or behind).
    pub gap_m: f64,
    /// Closing speed (positive when the gap shrinks).
    pub closing_mps: f64,
    pub ego_speed_mps: f64,
}

impl Relation {
    pub fn ttc_s(&self) -> Option<f64> {
        (self.closing_mps > 1e-9 && self.gap_m >= 0.0).then(|| self.gap_m / self.closing_mps)
    }
}

/// Whether a trigger fires now.
pub fn trigger_fires(
    trigger: &Trigger,
    time_s: f64,
    ego_station_m: f64,
    relations: &[Relation],
) -> bool {
    match *trigger {
        Trigger::Time { at_s } => time_s >= at_s - 1e-9,
        Trigger::EgoStation { at_m } => ego_station_m >= at_m,
        Trigger::Distance { below_m, actor } => {
            relations.get(actor).is_some_and(|r| r.gap_m < below_m)
        }
        Trigger::Ttc { below_s, actor } => relations
            .get(actor)
            .and_then(Relation::ttc_s)
            .is_some_and(|t| t < below_s),
        Trigger::Headway { below_s, actor } => relations
            .get(actor)
            .is_some_and(|r| r.ego_speed_mps > 1e-9 && r.gap_m / r.ego_speed_mps < below_s),
    }
}

/// Advances one actor by one step. `time_s` is the time at the start of the step.
pub fn step_actor(
    actor: &Actor,
    state: &mut ActorState,
    time_s: f64,
    dt_s: f64,
    trigger_now: bool,
) {
    match &actor.behaviour {
        Behaviour::Stationary => {
            state.speed_mps = 0.0;
            state.accel_mps2 = 0.0;
        }
        Behaviour::ConstantSpeed => advance(state, dt_s),
        Behaviour::Braking {
            decel_mps2,
            jerk_mps3,
            to_speed_mps,
            ..
        } => {
            if state.triggered_at_s.is_none() && trigger_now {
                state.triggered_at_s = Some(time_s);
            }
            if state.triggered_at_s.is_some() && state.speed_mps > *to_speed_mps {
                let target = -decel_mps2;
                let accel = match jerk_mps3 {
                    Some(j) => (state.accel_mps2 - j * dt_s).max(target),
                    None => target,
                };
                let v_new = (state.speed_mps + accel * dt_s).max(*to_speed_mps);
                let mean = 0.5 * (state.speed_mps + v_new);
                state.station_m += mean * state.heading_rad.cos() * dt_s;
                state.y_m += mean * state.heading_rad.sin() * dt_s;
                state.accel_mps2 = if v_new <= *to_speed_mps { 0.0 } else { accel };
                state.speed_mps = v_new;
            } else {
                state.accel_mps2 = 0.0;
                advance(state, dt_s);
            }
        }
        Behaviour::LaneChange {
            to_y_m,
            duration_s,
            target_speed_mps,
            ..
        } => {
            if state.triggered_at_s.is_none() && trigger_now {
                state.triggered_at_s = Some(time_s);
                state.y_start_m = state.y_m;
            }
            // Speed change towards the target.
            let dv = (target_speed_mps - state.speed_mps).clamp(
                -ACTOR_SPEED_CHANGE_MPS2 * dt_s,
                ACTOR_SPEED_CHANGE_MPS2 * dt_s,
            );
            let v_old = state.speed_mps;
            if state.triggered_at_s.is_some() {
                state.speed_mps += dv;
            }
            let mean = 0.5 * (v_old + state.speed_mps);
            state.accel_mps2 = (state.speed_mps - v_old) / dt_s;
            match state.triggered_at_s {
                Some(t0) => {
                    // Lateral position with a sinusoidal lateral-acceleration profile.
                    let tau = ((time_s + dt_s - t0) / duration_s).clamp(0.0, 1.0);
                    let frac = tau - (std::f64::consts::TAU * tau).sin() / std::f64::consts::TAU;
                    let y_new = state.y_start_m + (to_y_m - state.y_start_m) * frac;
                    let dy = y_new - state.y_m;
                    let ds = (mean * dt_s).powi(2) - dy * dy;
                    state.station_m += ds.max(0.0).sqrt();
                    state.y_m = y_new;
                    state.heading_rad = if mean * dt_s > 1e-12 {
                        (dy / (mean * dt_s)).clamp(-1.0, 1.0).asin()
                    } else {
                        0.0
                    };
                }
                None => advance(state, dt_s),
            }
        }
        Behaviour::Crossing {
            direction_y,
            speed_mps,
            accel_distance_m,
            ..
        } => {
            // Accelerate from rest over accel_distance_m, then walk at constant speed.
            let accel = if *accel_distance_m > 0.0 {
                speed_mps * speed_mps / (2.0 * accel_distance_m)
            } else {
                f64::INFINITY
            };
            let v_old = state.speed_mps;
            let v_new = (v_old + accel * dt_s).min(*speed_mps);
            // Exact distance: the accelerating part, then the constant-speed part.
            let distance = if v_old >= *speed_mps {
                speed_mps * dt_s
            } else {
                let t_acc = ((speed_mps - v_old) / accel).min(dt_s);
                v_old * t_acc + 0.5 * accel * t_acc * t_acc + speed_mps * (dt_s - t_acc)
            };
            state.y_m += direction_y * distance;
            state.accel_mps2 = (v_new - v_old) / dt_s;
            state.speed_mps = v_new;
            state.triggered_at_s.get_or_insert(0.0);
        }
    }
}

fn advance(state: &mut ActorState, dt_s: f64) {
    state.station_m += state.speed_mps * state.heading_rad.cos() * dt_s;
    state.y_m += state.speed_mps * state.heading_rad.sin() * dt_s;
}
