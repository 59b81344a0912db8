//! The ego vehicle: a kinematic bicycle with first-order actuator lag, jerk, rate and friction
//! limits, and the test driver (the driving robot of a proving ground) that holds the
//! protocol's speed and path until the system under test overrides it.

use crate::scenario::model::{Ego, Road};

/// Standard gravity, m/s².
pub const G_MPS2: f64 = 9.80665;

/// The ego's dynamic state in the world frame (x along the road's start direction, y left).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EgoState {
    /// Centre of the footprint.
    pub x_m: f64,
    pub y_m: f64,
    pub heading_rad: f64,
    pub speed_mps: f64,
    /// Actual longitudinal acceleration (after actuator lag and limits).
    pub accel_mps2: f64,
    /// Actual road-wheel steering angle.
    pub steer_rad: f64,
    pub yaw_rate_radps: f64,
}

/// Gains of the test driver.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriverConfig {
    /// Speed-holding gain, (m/s²) per (m/s).
    pub speed_gain_per_s: f64,
    /// Largest acceleration the driver uses to hold speed.
    pub max_accel_mps2: f64,
    /// Lateral-error gain, rad per m.
    pub lateral_gain_rad_per_m: f64,
    /// Heading-error gain, rad per rad.
    pub heading_gain: f64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            speed_gain_per_s: 1.5,
            max_accel_mps2: 2.0,
            lateral_gain_rad_per_m: 0.05,
            heading_gain: 0.8,
        }
    }
}

/// Road-frame coordinates of the ego, derived each step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EgoInRoad {
    pub station_m: f64,
    pub y_m: f64,
    /// Heading relative to the road direction.
    pub heading_rad: f64,
}

impl EgoState {
    pub fn initial(ego: &Ego, road: &Road) -> EgoState {
        let (x, y, road_heading) = road.world_from_road(ego.pose.station_m, ego.pose.y_m);
        EgoState {
            x_m: x,
            y_m: y,
            heading_rad: road_heading + ego.pose.heading_rad,
            speed_mps: ego.speed_mps,
            accel_mps2: 0.0,
            steer_rad: 0.0,
            yaw_rate_radps: 0.0,
        }
    }

    pub fn in_road(&self, road: &Road) -> EgoInRoad {
        let (station_m, y_m, road_heading) = road.road_from_world(self.x_m, self.y_m);
        EgoInRoad {
            station_m,
            y_m,
            heading_rad: wrap_angle(self.heading_rad - road_heading),
        }
    }
}

/// Wraps an angle to (−π, π].
pub fn wrap_angle(a: f64) -> f64 {
    let mut a = a % std::f64::consts::TAU;
    if a > std::f64::consts::PI {
        a -= std::f64::consts::TAU;
    } else if a <= -std::f64::consts::PI {
        a += std::f64::consts::TAU;
    }
    a
}

/// What the test driver asks for this step; `pos` is `state.in_road(road)`.
pub fn driver_command(
    cfg: &DriverConfig,
    ego: &Ego,
    road: &Road,
    state: &EgoState,
    pos: EgoInRoad,
    target_y_m: f64,
    set_speed_mps: f64,
) -> (f64, f64) {
    let accel = (cfg.speed_gain_per_s * (set_speed_mps - state.speed_mps))
        .clamp(-cfg.max_accel_mps2, cfg.max_accel_mps2);
    // Curvature feed-forward plus lateral and heading feedback.
    let kappa = road.curvature_at(pos.y_m);
    let steer = (ego.wheelbase_m * kappa).atan()
        - cfg.lateral_gain_rad_per_m * (pos.y_m - target_y_m)
        - cfg.heading_gain * pos.heading_rad;
    (accel, steer)
}

/// Advances the ego one step towards the requested acceleration and steering angle.
pub fn step_ego(
    ego: &Ego,
    road: &Road,
    state: &mut EgoState,
    accel_request_mps2: f64,
    steer_request_rad: f64,
    dt_s: f64,
) {
    let mu_g = road.friction * G_MPS2;
    // Longitudinal: limits, first-order lag, jerk limit, friction.
    let request =
        accel_request_mps2.clamp(-ego.max_decel_mps2.min(mu_g), ego.max_accel_mps2.min(mu_g));
    let lagged = if ego.actuator_lag_s > 0.0 {
        state.accel_mps2 + (request - state.accel_mps2) * (dt_s / ego.actuator_lag_s).min(1.0)
    } else {
        request
    };
    let max_delta = ego.max_jerk_mps3 * dt_s;
    let mut accel = state.accel_mps2 + (lagged - state.accel_mps2).clamp(-max_delta, max_delta);
    // Steering: rate limit, angle limit, then the lateral friction left over by braking.
    let max_dsteer = ego.max_steer_rate_radps * dt_s;
    let steer_target = steer_request_rad.clamp(-ego.max_steer_rad, ego.max_steer_rad);
    let mut steer =
        state.steer_rad + (steer_target - state.steer_rad).clamp(-max_dsteer, max_dsteer);
    let lat_budget = (mu_g * mu_g - accel * accel).max(0.0).sqrt();
    let v = state.speed_mps;
    if v > 0.1 {
        let max_steer_friction = (lat_budget * ego.wheelbase_m / (v * v)).atan();
        steer = steer.clamp(-max_steer_friction, max_steer_friction);
    }
    // No reversing: braking ends at standstill.
    let mut speed = v + accel * dt_s;
    if speed <= 0.0 {
        speed = 0.0;
        if accel < 0.0 {
            accel = 0.0;
        }
    }
    let mean_speed = 0.5 * (v + speed);
    // Kinematic bicycle about the footprint centre (rear axle half a wheelbase behind).
    let lr = ego.wheelbase_m / 2.0;
    let beta = (lr / ego.wheelbase_m * steer.tan()).atan();
    let yaw_rate = mean_speed / lr * beta.sin();
    let heading_mid = state.heading_rad + 0.5 * yaw_rate * dt_s;
    state.x_m += mean_speed * (heading_mid + beta).cos() * dt_s;
    state.y_m += mean_speed * (heading_mid + beta).sin() * dt_s;
    state.heading_rad = wrap_angle(state.heading_rad + yaw_rate * dt_s);
    state.speed_mps = speed;
    state.accel_mps2 = accel;
    state.steer_rad = steer;
    state.yaw_rate_radps = yaw_rate;
}
