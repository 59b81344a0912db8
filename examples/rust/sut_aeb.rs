//! A system under test for Gauntlet's process protocol, in Rust with `serde` and `serde_json`
//! only: the logic of `builtin:aeb` (forward-collision warning and staged emergency braking
//! driven by time to collision; `docs/reference-systems.md`), operation for operation, so that
//! its verdicts equal the built-in system's.
//!
//! It does not use the `gauntlet` library: copy this file into a crate of your own with
//! `serde = { version = "1", features = ["derive"] }` and
//! `serde_json = { version = "1", features = ["float_roundtrip"] }` (exact number parsing),
//! replace [`Aeb::step`] with your system, and keep the protocol loop ([`main`]).
//!
//! Build and run (from the repository):
//! ```text
//! cargo build --release --example sut_aeb
//! gauntlet run scenarios/euro-ncap/ccrs.toml --sut exec:target/release/examples/sut_aeb
//! ```
//! Protocol: `docs/sut-protocol.md` (version 1). Standard error is for logs.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

const PROTOCOL_VERSION: u64 = 1;

// --- Messages ------------------------------------------------------------------------------

/// A number from the wire: `null` (a non-finite number in the harness) becomes NaN.
fn num(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

#[derive(Deserialize)]
struct Setup {
    ego_width_m: Option<f64>,
    ego_max_decel_mps2: Option<f64>,
}

#[derive(Deserialize)]
struct Ego {
    speed_mps: Option<f64>,
    accel_mps2: Option<f64>,
    yaw_rate_radps: Option<f64>,
}

#[derive(Deserialize)]
struct WireObject {
    track_id: u32,
    pos_in_ego_m: [Option<f64>; 2],
    rel_vel_in_ego_mps: [Option<f64>; 2],
    heading_in_ego_rad: Option<f64>,
    length_m: Option<f64>,
    width_m: Option<f64>,
    measured_at_s: Option<f64>,
}

#[derive(Deserialize)]
struct WireObservation {
    run: u64,
    time_s: Option<f64>,
    ego: Ego,
    #[serde(default)]
    objects: Vec<WireObject>,
}

/// A line from the harness: `hello`, `begin`, `step` or `end` (in `kind`), with the fields
/// of all of them (those of other types are absent; fields this system does not use are
/// ignored). One struct rather than a tagged enum: it is read in one pass.
#[derive(Deserialize)]
struct Request {
    #[serde(rename = "type")]
    kind: String,
    /// `hello`: the versions the harness speaks.
    #[serde(default)]
    protocol: Vec<u64>,
    /// `begin`, `end`: the run.
    #[serde(default)]
    run: u64,
    /// `begin`: the run's fixed facts.
    #[serde(default)]
    setup: Option<Setup>,
    /// `step`: its sequence number and the observations of the runs due.
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    observations: Vec<WireObservation>,
}

#[derive(Serialize)]
struct WireCommand {
    run: u64,
    accel_mps2: Option<f64>,
    warning: bool,
}

/// What this system replies.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Reply<'a> {
    Ready {
        protocol: u64,
        name: &'a str,
        max_batch: u64,
    },
    Commands {
        seq: u64,
        commands: &'a [WireCommand],
    },
    Error {
        message: String,
    },
}

// --- Shared pieces (src/sut/builtin/common.rs) ---------------------------------------------

const STANDSTILL_SPEED_MPS: f64 = 0.1;
const MIN_SPEED_FOR_PATH_CURVATURE_MPS: f64 = 2.0;
const MAX_PATH_CURVATURE_PER_M: f64 = 0.02;
const MIN_CLOSING_SPEED_MPS: f64 = 1e-3;
const MAX_RAW_ACCEL_MPS2: f64 = 15.0;

fn finite_or(x: f64, fallback: f64) -> f64 {
    if x.is_finite() { x } else { fallback }
}

/// One object of the object list (ego frame: x forward from the front bumper, y left).
struct Object {
    track_id: u32,
    pos_in_ego_m: [f64; 2],
    rel_vel_in_ego_mps: [f64; 2],
    heading_in_ego_rad: f64,
    length_m: f64,
    width_m: f64,
    measured_at_s: f64,
}

impl Object {
    fn from_wire(o: &WireObject) -> Object {
        Object {
            track_id: o.track_id,
            pos_in_ego_m: [num(o.pos_in_ego_m[0]), num(o.pos_in_ego_m[1])],
            rel_vel_in_ego_mps: [num(o.rel_vel_in_ego_mps[0]), num(o.rel_vel_in_ego_mps[1])],
            heading_in_ego_rad: num(o.heading_in_ego_rad),
            length_m: num(o.length_m),
            width_m: num(o.width_m),
            measured_at_s: num(o.measured_at_s),
        }
    }

    fn gap_m(&self) -> f64 {
        let (c, s) = (
            self.heading_in_ego_rad.cos().abs(),
            self.heading_in_ego_rad.sin().abs(),
        );
        self.pos_in_ego_m[0] - 0.5 * (self.length_m * c + self.width_m * s)
    }

    fn lateral_extent_m(&self) -> (f64, f64) {
        let (c, s) = (
            self.heading_in_ego_rad.cos().abs(),
            self.heading_in_ego_rad.sin().abs(),
        );
        let half = 0.5 * (self.length_m * s + self.width_m * c);
        (self.pos_in_ego_m[1] - half, self.pos_in_ego_m[1] + half)
    }

    fn usable(&self) -> bool {
        self.pos_in_ego_m
            .iter()
            .chain(self.rel_vel_in_ego_mps.iter())
            .all(|v| v.is_finite())
            && self.heading_in_ego_rad.is_finite()
            && self.length_m.is_finite()
            && self.width_m.is_finite()
            && self.length_m >= 0.0
            && self.width_m >= 0.0
    }
}

/// One observation, as this system uses it.
struct Obs {
    time_s: f64,
    speed_mps: f64,
    accel_mps2: f64,
    yaw_rate_radps: f64,
    objects: Vec<Object>,
}

impl Obs {
    fn from_wire(o: &WireObservation) -> Obs {
        Obs {
            time_s: num(o.time_s),
            speed_mps: num(o.ego.speed_mps),
            accel_mps2: num(o.ego.accel_mps2),
            yaw_rate_radps: num(o.ego.yaw_rate_radps),
            objects: o.objects.iter().map(Object::from_wire).collect(),
        }
    }

    fn ego_speed_mps(&self) -> f64 {
        finite_or(self.speed_mps, 0.0).max(0.0)
    }
}

struct Corridor {
    half_width_m: f64,
    curvature_per_m: f64,
}

impl Corridor {
    fn new(obs: &Obs, ego_width_m: f64, margin_m: f64) -> Corridor {
        let v = obs.ego_speed_mps();
        let curvature_per_m = if v > MIN_SPEED_FOR_PATH_CURVATURE_MPS {
            finite_or(obs.yaw_rate_radps / v, 0.0)
                .clamp(-MAX_PATH_CURVATURE_PER_M, MAX_PATH_CURVATURE_PER_M)
        } else {
            0.0
        };
        Corridor {
            half_width_m: 0.5 * ego_width_m + margin_m,
            curvature_per_m,
        }
    }

    fn centre_y_m(&self, x_m: f64) -> f64 {
        let x = x_m.max(0.0);
        0.5 * self.curvature_per_m * x * x
    }

    fn overlaps_at(&self, o: &Object, t_s: f64) -> bool {
        let (right_m, left_m) = o.lateral_extent_m();
        let shift_m = o.rel_vel_in_ego_mps[1] * t_s - self.centre_y_m(o.pos_in_ego_m[0]);
        right_m + shift_m < self.half_width_m && left_m + shift_m > -self.half_width_m
    }
}

fn time_to_contact_s(gap_m: f64, v_ego_mps: f64, v_obj_mps: f64, a_obj_mps2: f64) -> f64 {
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
    let b_mps = v_obj_mps - v_ego_mps;
    let root_mps = (b_mps * b_mps + 2.0 * decel_mps2 * gap_m).sqrt();
    let t_s = if b_mps >= 0.0 {
        (b_mps + root_mps) / decel_mps2
    } else {
        2.0 * gap_m / (root_mps - b_mps)
    };
    let stop_s = v_obj_mps / decel_mps2;
    if t_s <= stop_s {
        return t_s;
    }
    if v_ego_mps > MIN_CLOSING_SPEED_MPS {
        (gap_m + v_obj_mps * v_obj_mps / (2.0 * decel_mps2)) / v_ego_mps
    } else {
        f64::INFINITY
    }
}

struct TrackEntry {
    track_id: u32,
    rel_vx_mps: f64,
    measured_at_s: f64,
    accel_x_mps2: f64,
    seen: bool,
}

/// Per-track longitudinal acceleration estimates from successive object lists.
#[derive(Default)]
struct TrackMemory {
    entries: Vec<TrackEntry>,
}

impl TrackMemory {
    fn update(&mut self, obs: &Obs, filter_tau_s: f64) {
        let ego_accel_mps2 = finite_or(obs.accel_mps2, 0.0);
        for e in &mut self.entries {
            e.seen = false;
        }
        for o in obs.objects.iter().filter(|o| o.usable()) {
            let rel_vx_mps = o.rel_vel_in_ego_mps[0];
            let measured_at_s = finite_or(o.measured_at_s, obs.time_s);
            match self.entries.iter_mut().find(|e| e.track_id == o.track_id) {
                Some(e) => {
                    let dt_s = measured_at_s - e.measured_at_s;
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

    fn accel_x_mps2(&self, track_id: u32) -> f64 {
        self.entries
            .iter()
            .find(|e| e.track_id == track_id)
            .map_or(0.0, |e| finite_or(e.accel_x_mps2, 0.0))
    }
}

/// TTC of the object the ego reaches first among those in its predicted path (∞: none).
fn most_urgent_threat_ttc_s(
    obs: &Obs,
    corridor: &Corridor,
    tracks: &TrackMemory,
    horizon_s: f64,
) -> f64 {
    let v_ego = obs.ego_speed_mps();
    let mut best: Option<(f64, f64, u32)> = None;
    for o in obs
        .objects
        .iter()
        .filter(|o| o.usable() && o.pos_in_ego_m[0] > 0.0)
    {
        let gap_m = o.gap_m().max(0.0);
        let obj_speed_mps = v_ego + o.rel_vel_in_ego_mps[0];
        let ttc_s = time_to_contact_s(gap_m, v_ego, obj_speed_mps, tracks.accel_x_mps2(o.track_id));
        if !ttc_s.is_finite() || !corridor.overlaps_at(o, ttc_s.min(horizon_s).max(0.0)) {
            continue;
        }
        let key = (ttc_s, gap_m, o.track_id);
        if best.is_none_or(|b| key < b) {
            best = Some(key);
        }
    }
    best.map_or(f64::INFINITY, |b| b.0)
}

fn standstill_hold_needed(
    obs: &Obs,
    corridor: &Corridor,
    hold_gap_m: f64,
    recede_speed_mps: f64,
) -> bool {
    obs.objects
        .iter()
        .filter(|o| o.usable() && o.pos_in_ego_m[0] > 0.0 && corridor.overlaps_at(o, 0.0))
        .min_by(|a, b| {
            a.gap_m()
                .total_cmp(&b.gap_m())
                .then(a.track_id.cmp(&b.track_id))
        })
        .is_some_and(|o| o.gap_m() < hold_gap_m && o.rel_vel_in_ego_mps[0] < recede_speed_mps)
}

// --- The AEB system (src/sut/builtin/aeb.rs) -----------------------------------------------

struct AebConfig {
    warning_ttc_s: f64,
    partial_brake_ttc_s: f64,
    full_brake_ttc_s: f64,
    partial_decel_mps2: f64,
    full_decel_mps2: f64,
    min_warning_lead_s: f64,
    release_ttc_s: f64,
    release_min_speed_mps: f64,
    path_margin_m: f64,
    prediction_horizon_s: f64,
    min_speed_mps: f64,
    accel_filter_tau_s: f64,
    hold_gap_m: f64,
    hold_recede_speed_mps: f64,
}

const AEB: AebConfig = AebConfig {
    warning_ttc_s: 2.6,
    partial_brake_ttc_s: 1.4,
    full_brake_ttc_s: 0.8,
    partial_decel_mps2: 4.0,
    full_decel_mps2: 9.0,
    min_warning_lead_s: 0.8,
    release_ttc_s: 3.0,
    release_min_speed_mps: 15.0 / 3.6,
    path_margin_m: 0.2,
    prediction_horizon_s: 3.0,
    min_speed_mps: 5.0 / 3.6,
    accel_filter_tau_s: 0.15,
    hold_gap_m: 10.0,
    hold_recede_speed_mps: 0.5,
};

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Off,
    Partial,
    Full,
}

/// One run's AEB state.
struct Aeb {
    ego_width_m: f64,
    ego_max_decel_mps2: f64,
    tracks: TrackMemory,
    warning_since_s: Option<f64>,
    stage: Stage,
}

impl Aeb {
    fn new(setup: &Setup) -> Aeb {
        Aeb {
            ego_width_m: num(setup.ego_width_m),
            ego_max_decel_mps2: num(setup.ego_max_decel_mps2),
            tracks: TrackMemory::default(),
            warning_since_s: None,
            stage: Stage::Off,
        }
    }

    fn decel_mps2(&self, stage: Stage) -> f64 {
        let max_mps2 = self.ego_max_decel_mps2.max(0.0);
        match stage {
            Stage::Off => 0.0,
            Stage::Partial => AEB.partial_decel_mps2.min(max_mps2),
            Stage::Full => AEB.full_decel_mps2.min(max_mps2),
        }
    }

    /// One step: (acceleration request, warning).
    fn step(&mut self, obs: &Obs) -> (Option<f64>, bool) {
        let cfg = &AEB;
        self.tracks.update(obs, cfg.accel_filter_tau_s);
        let v_mps = obs.ego_speed_mps();
        let corridor = Corridor::new(obs, self.ego_width_m, cfg.path_margin_m);
        let ttc_s =
            most_urgent_threat_ttc_s(obs, &corridor, &self.tracks, cfg.prediction_horizon_s);

        if self.stage != Stage::Off {
            if v_mps < STANDSTILL_SPEED_MPS {
                if !standstill_hold_needed(
                    obs,
                    &corridor,
                    cfg.hold_gap_m,
                    cfg.hold_recede_speed_mps,
                ) {
                    self.stage = Stage::Off;
                }
            } else if !ttc_s.is_finite()
                || (ttc_s > cfg.release_ttc_s && v_mps > cfg.release_min_speed_mps)
            {
                self.stage = Stage::Off;
            } else if ttc_s <= cfg.full_brake_ttc_s {
                self.stage = Stage::Full;
            }
        } else if v_mps >= cfg.min_speed_mps {
            let warned_s = self.warning_since_s.map_or(0.0, |since| obs.time_s - since);
            if ttc_s <= cfg.full_brake_ttc_s {
                self.stage = Stage::Full;
            } else if ttc_s <= cfg.partial_brake_ttc_s && warned_s >= cfg.min_warning_lead_s - 1e-9
            {
                self.stage = Stage::Partial;
            }
        }

        let warn =
            self.stage != Stage::Off || (v_mps >= cfg.min_speed_mps && ttc_s <= cfg.warning_ttc_s);
        if warn {
            self.warning_since_s.get_or_insert(obs.time_s);
        } else {
            self.warning_since_s = None;
        }
        let accel_mps2 = match self.stage {
            Stage::Off => None,
            stage => Some(-self.decel_mps2(stage)),
        };
        (accel_mps2, warn)
    }
}

// --- The protocol loop ---------------------------------------------------------------------

fn send(out: &mut impl Write, msg: &Reply<'_>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, msg)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Serves the protocol on standard input and output until standard input closes.
pub fn main() {
    if let Err(e) = serve() {
        eprintln!("sut_aeb: {e}");
        std::process::exit(1);
    }
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let mut input = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut runs: HashMap<u64, Aeb> = HashMap::new();
    let mut commands = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            // Standard input closed: the harness is done.
            return Ok(());
        }
        let msg: Request = serde_json::from_str(&line)?;
        match msg.kind.as_str() {
            "step" => {
                commands.clear();
                for o in &msg.observations {
                    let aeb = runs
                        .get_mut(&o.run)
                        .ok_or("a step for a run that never began")?;
                    let (accel_mps2, warning) = aeb.step(&Obs::from_wire(o));
                    commands.push(WireCommand {
                        run: o.run,
                        accel_mps2,
                        warning,
                    });
                }
                let reply = Reply::Commands {
                    seq: msg.seq,
                    commands: &commands,
                };
                send(&mut out, &reply)?;
            }
            "begin" => {
                let setup = msg.setup.ok_or("`begin` without `setup`")?;
                runs.insert(msg.run, Aeb::new(&setup));
            }
            "end" => {
                runs.remove(&msg.run);
            }
            "hello" => {
                if !msg.protocol.contains(&PROTOCOL_VERSION) {
                    let message = format!("this client speaks protocol {PROTOCOL_VERSION}");
                    send(&mut out, &Reply::Error { message })?;
                    return Ok(());
                }
                // Many runs at once are fine: each has its own state in `runs`.
                let reply = Reply::Ready {
                    protocol: PROTOCOL_VERSION,
                    name: "rust-aeb",
                    max_batch: 1024,
                };
                send(&mut out, &reply)?;
            }
            other => return Err(format!("unknown message type `{other}`").into()),
        }
    }
}
