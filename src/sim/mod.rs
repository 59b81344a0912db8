//! Deterministic closed-loop simulation: the world of one run, stepped at a fixed step, with
//! the system under test in the loop; runs are stepped in lockstep batches.
//!
//! A physics step has three phases, in this order, for every run of a batch:
//! 1. *sense*: the satellite receiver (if any) simulates its epoch when one is due; the camera
//!    frames due at this step of every run whose system sees through cameras are rendered
//!    together in one call ([`camera`]); runs whose system is due this step take a measurement
//!    (object list, lane, the newest fix) and get their latest frames;
//! 2. *decide*: each due system turns its observation into a command (queued for latency);
//! 3. *act*: the applied commands, the test driver, the actors and the ego advance by one
//!    step; contact and end conditions are checked.
//!
//! Results depend only on the case, the seed and the run index, never on batch composition or
//! thread count. This module does no I/O.

pub mod actors;
pub mod camera;
pub mod collision;
pub mod vehicle;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::gpu::FrameRenderer;
use crate::rng::{StreamKey, fnv1a64};
use crate::scenario::model::{Actor, Scenario};
use crate::sensor::gnss::{EgoPose, LocalizationSample, Receiver};
use crate::sensor::object_list::{self, ActorTruth, EgoTruth};
use crate::sut::{
    self, Command, EgoSignals, LaneObservation, Observation, RunSetup, System, TrackedObject,
};
use actors::{ActorState, Relation};
use collision::Footprint;
use vehicle::{DriverConfig, EgoInRoad, EgoState};

/// Options shared by every run of a suite.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimOptions {
    /// `--seed`: drives all noise.
    pub seed: u64,
    /// Keep a per-step trace of every run.
    pub record_trace: bool,
    pub driver: DriverConfig,
    /// The rate the system under test is stepped at, instead of each scenario's
    /// `timing.sut_rate_hz` (a system manifest's `rate_hz`); it must divide the physics rate
    /// (see [`sut_every_n_steps`]).
    pub sut_rate_hz: Option<f64>,
}

/// Physics steps between two steps of the system: the scenario's, or those of the rate that
/// overrides it. `Err` with a message when that rate does not divide the physics rate.
pub fn sut_every_n_steps(scenario: &Scenario, rate_hz: Option<f64>) -> Result<u32, String> {
    let Some(rate_hz) = rate_hz else {
        return Ok(scenario.timing.sut_every_n_steps);
    };
    let physics_hz = 1.0 / scenario.timing.dt_s;
    let every = physics_hz / rate_hz;
    let n = every.round();
    if !rate_hz.is_finite() || rate_hz <= 0.0 || (every - n).abs() > 1e-6 || n < 1.0 {
        return Err(format!(
            "{rate_hz} Hz does not divide the physics rate of {} Hz (step {} s)",
            (physics_hz * 1e6).round() / 1e6,
            scenario.timing.dt_s
        ));
    }
    Ok(n as u32)
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    Collision,
    EgoStopped,
    /// The ego became slower than the target ahead and the two separate.
    EgoSlowerAndSeparating,
    TimeOut,
    /// The system under test misbehaved.
    SutError,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Collision => "collision",
            EndReason::EgoStopped => "ego_stopped",
            EndReason::EgoSlowerAndSeparating => "ego_slower_and_separating",
            EndReason::TimeOut => "time_out",
            EndReason::SutError => "sut_error",
        }
    }
}

/// First contact between the ego and an actor.
#[derive(Clone, Debug, PartialEq)]
pub struct Collision {
    pub time_s: f64,
    pub actor_id: String,
    /// Contact point in the ego frame: x forward from the front bumper's centre, y left.
    pub impact_point_in_ego_m: (f64, f64),
    pub ego_speed_mps: f64,
    /// Closing speed along the ego's heading: ego speed minus the actor's speed component
    /// along the ego's heading (Euro NCAP's relative impact speed).
    pub relative_speed_mps: f64,
}

/// The outcome of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub run_index: u32,
    pub end_reason: EndReason,
    pub end_time_s: f64,
    pub collision: Option<Collision>,
    pub sut_error: Option<String>,
    /// Smallest time to collision with an in-path actor ahead.
    pub min_ttc_s: Option<f64>,
    /// Smallest bumper-to-bumper gap to an in-path actor ahead.
    pub min_gap_m: Option<f64>,
    pub first_warning_s: Option<f64>,
    /// First step at which the system's braking request took effect.
    pub first_brake_s: Option<f64>,
    /// Largest deceleration of the ego (positive).
    pub max_decel_mps2: f64,
    pub ego_speed_end_mps: f64,
    pub trace: Option<Trace>,
    /// Every fix epoch of the scenario's receiver (`[sensors.gnss]`), `None` without one.
    pub localization: Option<Vec<LocalizationSample>>,
    /// The camera frames the system was handed, with their labels and its detections
    /// (`None`: the system does not see through cameras).
    pub frames_scored: Option<Vec<camera::ScoredFrame>>,
}

/// Per-step record of a run (for `--traces`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub actor_ids: Vec<String>,
    pub rows: Vec<TraceRow>,
}

/// One step of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRow {
    pub time_s: f64,
    pub ego_station_m: f64,
    pub ego_y_m: f64,
    pub ego_heading_rad: f64,
    pub ego_speed_mps: f64,
    pub ego_accel_mps2: f64,
    pub ego_steer_rad: f64,
    /// Per actor: station, lateral position, speed.
    pub actors: Vec<(f64, f64, f64)>,
    /// Gap and TTC to the nearest in-path actor ahead (`lead`).
    pub gap_m: Option<f64>,
    pub ttc_s: Option<f64>,
    pub cmd_accel_mps2: Option<f64>,
    pub cmd_steer_rad: Option<f64>,
    pub warning: bool,
    pub ego_yaw_rate_radps: f64,
    /// Ego lateral acceleration, speed × yaw rate (unfiltered).
    pub ego_lat_accel_mps2: f64,
    /// Index (into `Trace::actor_ids`) of the nearest in-path actor ahead.
    pub lead: Option<usize>,
    /// Closing speed to `lead` along the road (positive when the gap shrinks).
    pub closing_mps: Option<f64>,
    /// Acceleration of `lead` along its heading.
    pub lead_accel_mps2: Option<f64>,
}

/// One run in progress.
struct World<'a> {
    scenario: &'a Scenario,
    run_index: u32,
    key: StreamKey,
    system: Box<dyn System>,
    /// Physics steps between two steps of the system.
    sut_every_n_steps: u32,
    ego: EgoState,
    actors: Vec<ActorState>,
    step: u64,
    /// Commands waiting for their latency: (step at which they apply, command).
    pending: VecDeque<(u64, Command)>,
    applied: Command,
    /// Past ground truth for sensor latency (newest last).
    history: VecDeque<(EgoTruth, Vec<ActorTruth>)>,
    objects: Vec<TrackedObject>,
    last_measurement_step: Option<u64>,
    result: Option<RunResult>,
    min_ttc_s: Option<f64>,
    min_gap_m: Option<f64>,
    first_warning_s: Option<f64>,
    first_brake_s: Option<f64>,
    max_decel_mps2: f64,
    trace: Option<Trace>,
    /// The satellite-positioning receiver, if the scenario has one.
    gnss: Option<Receiver>,
    /// The cameras of a system that sees through them.
    rig: Option<camera::CameraRig>,
    /// The run's seed and the FNV-1a 64 of its case ID: with run index, camera and step, the
    /// key of a frame's perturbations.
    seed: u64,
    case_hash: u64,
}

fn kph(x: f64) -> f64 {
    x * 3.6
}

impl<'a> World<'a> {
    fn new(
        scenario: &'a Scenario,
        case_id: &str,
        run_index: u32,
        system: Box<dyn System>,
        options: &SimOptions,
    ) -> World<'a> {
        let mut world = World {
            scenario,
            run_index,
            key: StreamKey::new(
                options.seed,
                fnv1a64(case_id.as_bytes()),
                "object_list",
                run_index,
            ),
            system,
            // An override that does not divide the physics rate is refused before any run
            // starts; should one get here, the scenario's own rate applies.
            sut_every_n_steps: sut_every_n_steps(scenario, options.sut_rate_hz)
                .unwrap_or(scenario.timing.sut_every_n_steps),
            ego: EgoState::initial(&scenario.ego, &scenario.road),
            actors: scenario.actors.iter().map(ActorState::initial).collect(),
            step: 0,
            pending: VecDeque::new(),
            applied: Command::default(),
            history: VecDeque::new(),
            objects: Vec::new(),
            last_measurement_step: None,
            result: None,
            min_ttc_s: None,
            min_gap_m: None,
            first_warning_s: None,
            first_brake_s: None,
            max_decel_mps2: 0.0,
            trace: options.record_trace.then(|| Trace {
                actor_ids: scenario.actors.iter().map(|a| a.id.clone()).collect(),
                rows: Vec::new(),
            }),
            gnss: None,
            rig: None,
            seed: options.seed,
            case_hash: fnv1a64(case_id.as_bytes()),
        };
        if let Some(model) = &scenario.gnss {
            let start = world.ego_pose();
            world.gnss = Some(Receiver::new(
                model,
                &scenario.road,
                scenario.timing.dt_s,
                options.seed,
                case_id,
                run_index,
                &start,
            ));
        }
        if world.system.wants_frames() {
            world.rig = Some(camera::CameraRig::new(
                &scenario.cameras,
                scenario.timing.dt_s,
            ));
        }
        let e = &scenario.ego;
        world.system.reset(&RunSetup {
            dt_s: scenario.timing.dt_s * f64::from(world.sut_every_n_steps),
            ego_length_m: e.length_m,
            ego_width_m: e.width_m,
            ego_wheelbase_m: e.wheelbase_m,
            ego_max_decel_mps2: e.max_decel_mps2,
            cameras: if world.rig.is_some() {
                scenario.cameras.clone()
            } else {
                Vec::new()
            },
        });
        world.record_truth();
        world
    }

    fn time_s(&self) -> f64 {
        self.step as f64 * self.scenario.timing.dt_s
    }

    fn ego_pose(&self) -> EgoPose {
        EgoPose {
            x_m: self.ego.x_m,
            y_m: self.ego.y_m,
            heading_rad: self.ego.heading_rad,
            speed_mps: self.ego.speed_mps,
            yaw_rate_radps: self.ego.yaw_rate_radps,
        }
    }

    fn ego_footprint(&self) -> Footprint {
        Footprint {
            x_m: self.ego.x_m,
            y_m: self.ego.y_m,
            heading_rad: self.ego.heading_rad,
            length_m: self.scenario.ego.length_m,
            width_m: self.scenario.ego.width_m,
        }
    }

    fn actor_footprint(&self, i: usize) -> Footprint {
        let (x, y, h) = self.actors[i].world(&self.scenario.road);
        let a = &self.scenario.actors[i];
        Footprint {
            x_m: x,
            y_m: y,
            heading_rad: h,
            length_m: a.length_m,
            width_m: a.width_m,
        }
    }

    fn record_truth(&mut self) {
        let ego = EgoTruth {
            footprint: self.ego_footprint(),
            vel_world_mps: (
                self.ego.speed_mps * self.ego.heading_rad.cos(),
                self.ego.speed_mps * self.ego.heading_rad.sin(),
            ),
        };
        let truths = (0..self.actors.len())
            .map(|i| {
                let fp = self.actor_footprint(i);
                let v = self.actors[i].speed_mps;
                ActorTruth {
                    footprint: fp,
                    vel_world_mps: (v * fp.heading_rad.cos(), v * fp.heading_rad.sin()),
                }
            })
            .collect();
        self.history.push_back((ego, truths));
        let keep = self.scenario.object_sensor.latency_steps as usize + 1;
        while self.history.len() > keep {
            self.history.pop_front();
        }
    }

    /// Road-frame relations between the ego and every actor.
    fn relations(&self, e: EgoInRoad) -> Vec<Relation> {
        let ego_vx = self.ego.speed_mps * e.heading_rad.cos();
        let ego_front = e.station_m + self.scenario.ego.length_m / 2.0;
        self.scenario
            .actors
            .iter()
            .zip(&self.actors)
            .map(|(a, s)| {
                let half = 0.5
                    * (a.length_m * s.heading_rad.cos().abs()
                        + a.width_m * s.heading_rad.sin().abs());
                let (vx, _) = s.road_velocity_mps();
                Relation {
                    gap_m: s.station_m - half - ego_front,
                    closing_mps: ego_vx - vx,
                    ego_speed_mps: self.ego.speed_mps,
                }
            })
            .collect()
    }

    /// Whether an actor's footprint overlaps the ego's lateral span (in the road frame).
    fn in_path(&self, a: &Actor, s: &ActorState, ego_y_m: f64) -> bool {
        let half =
            0.5 * (a.length_m * s.heading_rad.sin().abs() + a.width_m * s.heading_rad.cos().abs());
        (s.y_m - ego_y_m).abs() < half + self.scenario.ego.width_m / 2.0
    }

    /// The world as the renderer draws it now (road-frame poses of the ego and the actors).
    fn world_state(&self) -> crate::render::WorldState {
        let pos = self.ego.in_road(&self.scenario.road);
        crate::render::WorldState {
            time_s: self.time_s(),
            ego: crate::render::ActorState {
                station_m: pos.station_m,
                y_m: pos.y_m,
                heading_rad: pos.heading_rad,
            },
            actors: self
                .actors
                .iter()
                .map(|s| crate::render::ActorState {
                    station_m: s.station_m,
                    y_m: s.y_m,
                    heading_rad: s.heading_rad,
                })
                .collect(),
        }
    }

    /// The index of the nearest in-path actor ahead of the ego now (what traces call `lead`).
    fn lead_actor(&self) -> Option<usize> {
        let pos = self.ego.in_road(&self.scenario.road);
        let relations = self.relations(pos);
        let mut nearest: Option<(f64, usize)> = None;
        for (i, r) in relations.iter().enumerate() {
            if r.gap_m >= 0.0
                && self.in_path(&self.scenario.actors[i], &self.actors[i], pos.y_m)
                && nearest.is_none_or(|(g, _)| r.gap_m < g)
            {
                nearest = Some((r.gap_m, i));
            }
        }
        nearest.map(|(_, i)| i)
    }

    fn lane_observation(&self) -> Option<LaneObservation> {
        let road = &self.scenario.road;
        let pos = self.ego.in_road(road);
        let lane_idx = road.lane_at(pos.y_m)?;
        let lane = &road.lanes[lane_idx];
        let half_w = self.scenario.ego.width_m / 2.0;
        let left_line = lane.centre_y_m + lane.width_m / 2.0;
        let right_line = lane.centre_y_m - lane.width_m / 2.0;
        Some(LaneObservation {
            offset_m: pos.y_m - lane.centre_y_m,
            heading_rad: pos.heading_rad,
            curvature_per_m: road.curvature_at(lane.centre_y_m),
            width_m: lane.width_m,
            left_boundary_m: left_line - (pos.y_m + half_w),
            right_boundary_m: (pos.y_m - half_w) - right_line,
            right_road_edge_m: (pos.y_m - half_w) - road.edge_right.y_m,
            left_road_edge_m: road.edge_left.y_m - (pos.y_m + half_w),
        })
    }

    fn finish(
        &mut self,
        end_reason: EndReason,
        end_time_s: f64,
        collision: Option<Collision>,
        sut_error: Option<String>,
    ) {
        self.system.end();
        self.result = Some(RunResult {
            run_index: self.run_index,
            end_reason,
            end_time_s,
            collision,
            sut_error,
            min_ttc_s: self.min_ttc_s,
            min_gap_m: self.min_gap_m,
            first_warning_s: self.first_warning_s,
            first_brake_s: self.first_brake_s,
            max_decel_mps2: self.max_decel_mps2,
            ego_speed_end_mps: self.ego.speed_mps,
            trace: self.trace.take(),
            localization: self.gnss.take().map(Receiver::into_samples),
            frames_scored: self.rig.take().map(camera::CameraRig::into_scored),
        });
    }

    /// Phase 1 and the first half of 2: sense and hand the observation to the system, if it is
    /// due this step. `true` when its command is still to be collected.
    fn sense_and_submit(&mut self) -> bool {
        // The receiver keeps its own rate, whatever the system's.
        if self.gnss.is_some() {
            let pose = self.ego_pose();
            if let Some(r) = &mut self.gnss {
                r.step(self.step, &pose, &self.scenario.road);
            }
        }
        let timing = &self.scenario.timing;
        if self.step % u64::from(self.sut_every_n_steps) != 0 {
            return false;
        }
        let sensor = &self.scenario.object_sensor;
        if self.step < u64::from(sensor.latency_steps) {
            // The first object list arrives one latency after the start.
            self.objects.clear();
        } else if self
            .last_measurement_step
            .is_none_or(|s| self.step >= s + u64::from(sensor.every_n_steps))
        {
            let (ego_truth, truths) = &self.history[0];
            let measured_step = self.step.saturating_sub(self.history.len() as u64 - 1);
            let mut objects = std::mem::take(&mut self.objects);
            object_list::object_list(
                sensor,
                &self.key,
                measured_step as u32,
                measured_step as f64 * timing.dt_s,
                ego_truth,
                &self.scenario.actors,
                truths,
                &mut objects,
            );
            self.objects = objects;
            self.last_measurement_step = Some(self.step);
        }
        let obs = Observation {
            time_s: self.time_s(),
            ego: EgoSignals {
                speed_mps: self.ego.speed_mps,
                accel_mps2: self.ego.accel_mps2,
                yaw_rate_radps: self.ego.yaw_rate_radps,
                steer_rad: self.ego.steer_rad,
                length_m: self.scenario.ego.length_m,
                width_m: self.scenario.ego.width_m,
                wheelbase_m: self.scenario.ego.wheelbase_m,
            },
            objects: &self.objects,
            lane: self.lane_observation(),
            set_speed_mps: self.scenario.ego.speed_mps,
            gnss: self.gnss.as_ref().and_then(Receiver::latest),
            frames: self.rig.as_ref().map_or(&[][..], |r| r.frames()),
        };
        // A system that panics or returns nonsense ends its own run, never the harness.
        let answer = match catch_unwind(AssertUnwindSafe(|| self.system.submit(&obs))) {
            Ok(Ok(sut::Step::Pending)) => return true,
            Ok(Ok(sut::Step::Done(cmd))) => Ok(Ok(cmd)),
            Ok(Err(e)) => Ok(Err(e)),
            Err(panic) => Err(panic),
        };
        self.decide(answer);
        false
    }

    /// The second half of phase 2 for a system that answered `Pending`: its command.
    fn collect(&mut self) {
        let answer = catch_unwind(AssertUnwindSafe(|| self.system.collect()));
        self.decide(answer);
    }

    /// Phase 2's outcome: the command queued for its latency, or the run ended in an error.
    fn decide(&mut self, answer: std::thread::Result<Result<Command, sut::SutError>>) {
        let command = match answer {
            Ok(Ok(cmd)) => match sut::check_command(&cmd) {
                Ok(()) => {
                    if let Some(rig) = &mut self.rig {
                        rig.score(&cmd.detections);
                    }
                    cmd
                }
                Err(e) => {
                    return self.finish(
                        EndReason::SutError,
                        self.time_s(),
                        None,
                        Some(e.to_string()),
                    );
                }
            },
            Ok(Err(e)) => {
                return self.finish(
                    EndReason::SutError,
                    self.time_s(),
                    None,
                    Some(e.to_string()),
                );
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                return self.finish(
                    EndReason::SutError,
                    self.time_s(),
                    None,
                    Some(format!("system panicked: {msg}")),
                );
            }
        };
        if command.warning && self.first_warning_s.is_none() {
            self.first_warning_s = Some(self.time_s());
        }
        self.pending.push_back((
            self.step + u64::from(self.scenario.timing.sut_latency_steps),
            command,
        ));
    }

    /// Phase 3: act. Advances the world by one step and checks contact and end conditions.
    fn act(&mut self, options: &SimOptions) {
        let scenario = self.scenario;
        let dt = scenario.timing.dt_s;
        let t0 = self.time_s();
        while self.pending.front().is_some_and(|(at, _)| *at <= self.step) {
            if let Some((_, c)) = self.pending.pop_front() {
                self.applied = c;
            }
        }
        // The ego's road-frame position at the start of the step, computed once.
        let pos_before = self.ego.in_road(&scenario.road);
        let (drv_accel, drv_steer) = vehicle::driver_command(
            &options.driver,
            &scenario.ego,
            &scenario.road,
            &self.ego,
            pos_before,
            scenario.ego.pose.y_m,
            scenario.ego.speed_mps,
        );
        let accel_req = self.applied.accel_mps2.unwrap_or(drv_accel);
        let steer_req = self.applied.steer_rad.unwrap_or(drv_steer);
        if self.first_brake_s.is_none() && self.applied.accel_mps2.is_some_and(|a| a < 0.0) {
            self.first_brake_s = Some(t0);
        }

        // Triggers are evaluated on the state at the start of the step.
        let relations = self.relations(pos_before);
        let ego_station = pos_before.station_m;
        let fires: Vec<bool> = scenario
            .actors
            .iter()
            .map(|a| match &a.behaviour {
                crate::scenario::model::Behaviour::Braking { trigger, .. }
                | crate::scenario::model::Behaviour::LaneChange { trigger, .. } => {
                    actors::trigger_fires(trigger, t0, ego_station, &relations)
                }
                _ => false,
            })
            .collect();

        let ego_before = self.ego_footprint();
        let actors_before: Vec<Footprint> = (0..self.actors.len())
            .map(|i| self.actor_footprint(i))
            .collect();
        let speeds_before: Vec<f64> = self.actors.iter().map(|s| s.speed_mps).collect();
        let ego_speed_before = self.ego.speed_mps;

        vehicle::step_ego(
            &scenario.ego,
            &scenario.road,
            &mut self.ego,
            accel_req,
            steer_req,
            dt,
        );
        for (i, actor) in scenario.actors.iter().enumerate() {
            actors::step_actor(actor, &mut self.actors[i], t0, dt, fires[i]);
        }
        self.step += 1;
        let t1 = self.time_s();
        self.max_decel_mps2 = self.max_decel_mps2.max(-self.ego.accel_mps2);
        self.record_truth();

        // Contact: the earliest actor to touch within the step, at its exact time.
        let ego_after = self.ego_footprint();
        let mut first: Option<(f64, usize)> = None;
        for (i, before) in actors_before.iter().enumerate() {
            let after = self.actor_footprint(i);
            if collision::overlap(&ego_after, &after) {
                let f = if collision::overlap(&ego_before, before) {
                    0.0
                } else {
                    collision::first_contact_fraction(&ego_before, &ego_after, before, &after)
                };
                if first.is_none_or(|(g, _)| f < g) {
                    first = Some((f, i));
                }
            }
        }

        // Gap and TTC to the nearest in-path actor ahead.
        // The ego's road-frame position after the step, computed once.
        let pos = self.ego.in_road(&scenario.road);
        let relations = self.relations(pos);
        let ego_y = pos.y_m;
        let mut nearest: Option<Relation> = None;
        let mut lead: Option<usize> = None;
        for (i, r) in relations.iter().enumerate() {
            if r.gap_m >= 0.0
                && self.in_path(&scenario.actors[i], &self.actors[i], ego_y)
                && nearest.is_none_or(|n| r.gap_m < n.gap_m)
            {
                nearest = Some(*r);
                lead = Some(i);
            }
        }
        if let Some(n) = nearest {
            self.min_gap_m = Some(self.min_gap_m.map_or(n.gap_m, |m| m.min(n.gap_m)));
            if let Some(ttc) = n.ttc_s() {
                self.min_ttc_s = Some(self.min_ttc_s.map_or(ttc, |m| m.min(ttc)));
            }
        }
        if let Some(trace) = &mut self.trace {
            trace.rows.push(TraceRow {
                time_s: t1,
                ego_station_m: pos.station_m,
                ego_y_m: pos.y_m,
                ego_heading_rad: pos.heading_rad,
                ego_speed_mps: self.ego.speed_mps,
                ego_accel_mps2: self.ego.accel_mps2,
                ego_steer_rad: self.ego.steer_rad,
                actors: self
                    .actors
                    .iter()
                    .map(|s| (s.station_m, s.y_m, s.speed_mps))
                    .collect(),
                gap_m: nearest.map(|n| n.gap_m),
                ttc_s: nearest.and_then(|n| n.ttc_s()),
                cmd_accel_mps2: self.applied.accel_mps2,
                cmd_steer_rad: self.applied.steer_rad,
                warning: self.applied.warning,
                ego_yaw_rate_radps: self.ego.yaw_rate_radps,
                ego_lat_accel_mps2: self.ego.speed_mps * self.ego.yaw_rate_radps,
                lead,
                closing_mps: nearest.map(|n| n.closing_mps),
                lead_accel_mps2: lead.map(|i| self.actors[i].accel_mps2),
            });
        }

        if let Some((f, i)) = first {
            let ego_at = ego_before.lerp(&ego_after, f);
            let actor_after = self.actor_footprint(i);
            let actor_at = actors_before[i].lerp(&actor_after, f);
            let p = collision::contact_point(&ego_at, &actor_at);
            let local = ego_at.to_local(p);
            let ego_speed = ego_speed_before + (self.ego.speed_mps - ego_speed_before) * f;
            let actor_speed = speeds_before[i] + (self.actors[i].speed_mps - speeds_before[i]) * f;
            let along = (actor_at.heading_rad - ego_at.heading_rad).cos();
            let collision = Collision {
                time_s: t0 + f * dt,
                actor_id: scenario.actors[i].id.clone(),
                impact_point_in_ego_m: (local.0 - scenario.ego.length_m / 2.0, local.1),
                ego_speed_mps: ego_speed,
                relative_speed_mps: ego_speed - actor_speed * along,
            };
            return self.finish(EndReason::Collision, t0 + f * dt, Some(collision), None);
        }
        if scenario.ego.speed_mps > 0.0 && self.ego.speed_mps <= 0.0 {
            return self.finish(EndReason::EgoStopped, t1, None, None);
        }
        if let Some(n) = nearest {
            let slowed = self.ego.speed_mps < scenario.ego.speed_mps - 0.5;
            if slowed
                && n.closing_mps < 0.0
                && relations
                    .iter()
                    .all(|r| r.gap_m < 0.0 || r.closing_mps <= 0.0 || r.gap_m > 100.0)
            {
                return self.finish(EndReason::EgoSlowerAndSeparating, t1, None, None);
            }
        }
        if self.step >= scenario.timing.n_steps {
            self.finish(EndReason::TimeOut, t1, None, None);
        }
    }
}

/// One run to simulate: a case, its run index and a fresh system.
pub struct RunSpec<'a> {
    pub scenario: &'a Scenario,
    pub case_id: &'a str,
    pub run_index: u32,
    pub system: Box<dyn System>,
}

/// Simulates a batch of runs in lockstep until every run has ended; camera frames (for
/// systems that see through cameras) are rendered by the CPU reference.
pub fn run_batch(specs: Vec<RunSpec<'_>>, options: &SimOptions) -> Vec<RunResult> {
    run_batch_rendering(specs, options, &mut FrameRenderer::Cpu)
}

/// Renders the camera frames due at this step of every running world whose system sees
/// through cameras, in one call, and hands each world its frames. A rendering failure ends
/// the runs that needed the frames in an error.
fn render_due(worlds: &mut [World<'_>], renderer: &mut FrameRenderer) {
    let mut due: Vec<(usize, usize)> = Vec::new();
    let mut scenes = Vec::new();
    for (i, w) in worlds.iter().enumerate() {
        let (None, Some(rig)) = (&w.result, &w.rig) else {
            continue;
        };
        let mut state = None;
        for camera in rig.due(w.step, u64::from(w.sut_every_n_steps)) {
            let state = state.get_or_insert_with(|| w.world_state());
            scenes.push(camera::scene(w.scenario, &rig.cameras()[camera], state));
            due.push((i, camera));
        }
    }
    if scenes.is_empty() {
        return;
    }
    match renderer
        .render(&scenes)
        .map_err(|e| format!("rendering its camera frames failed: {e}"))
        .and_then(|frames| perturb_due(worlds, &due, frames, renderer))
    {
        Ok(frames) => {
            for ((&(i, camera), scene), frame) in due.iter().zip(&scenes).zip(frames) {
                let w = &mut worlds[i];
                let lead = w.lead_actor().map(|a| a as u32 + 1);
                let exposed_at_s = w.time_s();
                if let Some(rig) = &mut w.rig {
                    rig.deliver(camera, frame, scene, exposed_at_s, lead);
                }
            }
        }
        Err(e) => {
            for &(i, _) in &due {
                let w = &mut worlds[i];
                if w.result.is_none() {
                    let t = w.time_s();
                    w.finish(EndReason::SutError, t, None, Some(e.clone()));
                }
            }
        }
    }
}

/// Applies the scenarios' perturbation chains to the frames just rendered (`due[k]` is the run
/// and camera of `frames[k]`), all of them in one call of the renderer's device. A frame's
/// randomness is keyed by (seed, case, run, camera, step), so it does not depend on which runs
/// share a batch.
fn perturb_due(
    worlds: &[World<'_>],
    due: &[(usize, usize)],
    mut frames: Vec<crate::render::Frame>,
    renderer: &mut FrameRenderer,
) -> Result<Vec<crate::render::Frame>, String> {
    let mut inputs = Vec::new();
    let mut which = Vec::new();
    for (k, (&(i, camera), frame)) in due.iter().zip(&frames).enumerate() {
        let w = &worlds[i];
        let chain = w.scenario.camera_chain(camera);
        if chain.is_empty() {
            continue;
        }
        let camera_id = w
            .scenario
            .cameras
            .get(camera)
            .map_or("front", |c| c.id.as_str());
        let name = format!(
            "{:016x}/{}/{camera_id}/{}",
            w.case_hash, w.run_index, w.step
        );
        inputs.push(crate::perturb::FrameIn {
            width_px: frame.width_px,
            height_px: frame.height_px,
            rgba: &frame.rgba,
            depth_m: Some(&frame.depth_m),
            chain,
            key: crate::perturb::FrameKey::new(w.seed, &name),
        });
        which.push(k);
    }
    if inputs.is_empty() {
        return Ok(frames);
    }
    let out = renderer
        .perturb(&inputs)
        .map_err(|e| format!("perturbing its camera frames failed: {e}"))?;
    drop(inputs);
    for (k, rgba) in which.into_iter().zip(out) {
        frames[k].rgba = rgba;
    }
    Ok(frames)
}

/// Simulates a batch of runs in lockstep until every run has ended; the camera frames due at a
/// step (for systems that see through cameras) are rendered by `renderer` in one call.
pub fn run_batch_rendering(
    specs: Vec<RunSpec<'_>>,
    options: &SimOptions,
    renderer: &mut FrameRenderer,
) -> Vec<RunResult> {
    let mut worlds: Vec<World<'_>> = specs
        .into_iter()
        .map(|s| World::new(s.scenario, s.case_id, s.run_index, s.system, options))
        .collect();
    loop {
        let mut active = false;
        // Phases 1–2 for the whole batch: the frames due are rendered for all runs at once,
        // then every due run submits its observation before any command is collected, so
        // that runs sharing a process are answered in one exchange. Then phase 3.
        render_due(&mut worlds, renderer);
        let mut waiting = Vec::new();
        for (i, w) in worlds.iter_mut().enumerate() {
            if w.result.is_none() && w.sense_and_submit() {
                waiting.push(i);
            }
        }
        for &i in &waiting {
            worlds[i].collect();
        }
        for w in worlds.iter_mut().filter(|w| w.result.is_none()) {
            w.act(options);
            active |= w.result.is_none();
        }
        if !active {
            break;
        }
    }
    worlds
        .into_iter()
        .map(|w| match w.result {
            Some(r) => r,
            None => unreachable!("the loop ends only when every run has a result"),
        })
        .collect()
}

/// Relative and ego impact speeds in km/h, as the protocols state them.
pub fn impact_speeds_kph(c: &Collision) -> (f64, f64) {
    (kph(c.ego_speed_mps), kph(c.relative_speed_mps))
}
