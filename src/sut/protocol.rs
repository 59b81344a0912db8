//! The wire format of the process protocol (`docs/sut-protocol.md`): the messages the harness
//! writes to a system's standard input and the replies it reads from its standard output, one
//! JSON object per line. Encoding and decoding only; the process handling is in `process.rs`.
//!
//! Numbers are written by `serde_json` in shortest round-trip form (`ryu`) and read with its
//! `float_roundtrip` feature, so an `f64` crosses the pipe unchanged in both directions and a
//! client in another language computes exactly what a built-in system computes. A non-finite
//! number, which JSON cannot hold, travels as `null`.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::manifest::CameraTransport;
use super::{Command, Detection, ObjectClass, Observation, RunSetup};
use crate::render::Camera;

/// The protocol version this harness speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// What the harness offers to send in its observations (the `offer` of `hello`), and what a
/// system asks for (the `want` of `ready`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// Observations carry the object list (`objects`).
    pub object_list: bool,
    /// Observations carry the lane (`lane`).
    pub lane: bool,
    /// Camera frame formats the harness can send ([`FrameFormat`] names); empty unless the
    /// system's manifest asks for frames (`[receive] camera`).
    pub camera: Vec<String>,
    /// How frames can travel: `inline` (raw bytes after the line) or `shm` (a shared-memory
    /// file). Empty while no frames are offered.
    pub camera_transports: Vec<String>,
    /// Observations carry the newest satellite-positioning fix (`gnss`) when the scenario has
    /// a receiver and a fix has arrived.
    pub gnss: bool,
}

/// Frames a system asks for in `ready`: a format and a transport among those offered.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraWant {
    pub format: String,
    pub transport: String,
}

/// What a system asks for in `ready`; absent fields take the offer as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Want {
    #[serde(default)]
    pub object_list: Option<bool>,
    #[serde(default)]
    pub lane: Option<bool>,
    #[serde(default)]
    pub camera: Option<CameraWant>,
    #[serde(default)]
    pub gnss: Option<bool>,
}

/// The pixel layout of frames on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameFormat {
    /// Three bytes per pixel, red, green, blue; rows top to bottom, no padding.
    Rgb8,
    /// Four bytes per pixel, red, green, blue, alpha (255); the renderer's own layout.
    Rgba8,
}

impl FrameFormat {
    pub const ALL: [FrameFormat; 2] = [FrameFormat::Rgb8, FrameFormat::Rgba8];

    pub fn name(self) -> &'static str {
        match self {
            FrameFormat::Rgb8 => "rgb8",
            FrameFormat::Rgba8 => "rgba8",
        }
    }

    pub fn from_name(name: &str) -> Option<FrameFormat> {
        FrameFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn bytes_per_px(self) -> usize {
        match self {
            FrameFormat::Rgb8 => 3,
            FrameFormat::Rgba8 => 4,
        }
    }

    /// Bytes of one `width_px` × `height_px` frame (rows are not padded: stride = width ×
    /// bytes per pixel).
    pub fn frame_bytes(self, width_px: u32, height_px: u32) -> usize {
        width_px as usize * height_px as usize * self.bytes_per_px()
    }

    /// Writes an RGBA8 picture in this format into `out` (exactly [`FrameFormat::frame_bytes`]
    /// long).
    pub fn write_from_rgba(self, rgba: &[u8], out: &mut [u8]) {
        match self {
            FrameFormat::Rgba8 => out.copy_from_slice(&rgba[..out.len()]),
            FrameFormat::Rgb8 => rgba_to_rgb(rgba, out),
        }
    }
}

/// Drops the alpha byte of every pixel: `rgb.len() / 3` pixels of `rgba` are read.
pub fn rgba_to_rgb(rgba: &[u8], rgb: &mut [u8]) {
    // Eight pixels at a time (24 bytes out of 32 in), which the compiler turns into wide
    // moves; the tail pixel by pixel.
    let mut src = rgba.chunks_exact(32);
    let mut dst = rgb.chunks_exact_mut(24);
    for (d, s) in (&mut dst).zip(&mut src) {
        for k in 0..8 {
            d[3 * k..3 * k + 3].copy_from_slice(&s[4 * k..4 * k + 3]);
        }
    }
    let (d, s) = (dst.into_remainder(), src.remainder());
    for (d, s) in d.chunks_exact_mut(3).zip(s.chunks_exact(4)) {
        d.copy_from_slice(&s[..3]);
    }
}

/// How a system receives frames, as negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameDelivery {
    pub format: FrameFormat,
    pub transport: CameraTransport,
}

impl CameraTransport {
    pub fn name(self) -> &'static str {
        match self {
            CameraTransport::Inline => "inline",
            CameraTransport::Shm => "shm",
        }
    }

    pub fn from_name(name: &str) -> Option<CameraTransport> {
        [CameraTransport::Inline, CameraTransport::Shm]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

#[derive(Serialize)]
struct Hello<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    protocol: [u32; 1],
    harness: &'a str,
    batch_size: usize,
    offer: &'a Offer,
}

/// Writes the `hello` line.
pub fn write_hello(out: &mut Vec<u8>, harness: &str, batch_size: usize, offer: &Offer) {
    let msg = Hello {
        kind: "hello",
        protocol: [PROTOCOL_VERSION],
        harness,
        batch_size,
        offer,
    };
    push_line(out, &msg);
}

#[derive(Serialize)]
struct WireSetup {
    dt_s: f64,
    ego_length_m: f64,
    ego_width_m: f64,
    ego_wheelbase_m: f64,
    ego_max_decel_mps2: f64,
}

/// A camera of the run, as `begin` describes it to a system that receives frames: every
/// field of [`Camera`], and its focal length in pixels.
#[derive(Serialize)]
struct WireCamera<'a> {
    id: &'a str,
    width_px: u32,
    height_px: u32,
    hfov_rad: f64,
    focal_px: f64,
    position_in_ego_m: [f64; 3],
    yaw_rad: f64,
    pitch_rad: f64,
    roll_rad: f64,
    k1: f64,
    k2: f64,
    rate_hz: f64,
}

/// The shared-memory file frames are written to (`shm` transport).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShmInfo {
    pub path: String,
    /// Its size: map this many bytes.
    pub bytes: usize,
}

#[derive(Serialize)]
struct Begin<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    run: u64,
    setup: WireSetup,
    #[serde(skip_serializing_if = "Option::is_none")]
    cameras: Option<Vec<WireCamera<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shm: Option<&'a ShmInfo>,
}

/// What `begin` says about frames to a system that receives them.
pub struct BeginFrames<'a> {
    pub cameras: &'a [Camera],
    /// The shared-memory file (`shm` transport only).
    pub shm: Option<&'a ShmInfo>,
}

/// Writes the `begin` line of a run (`frames`: for a system that receives frames).
pub fn write_begin(out: &mut Vec<u8>, run: u64, setup: &RunSetup, frames: Option<BeginFrames<'_>>) {
    let msg = Begin {
        kind: "begin",
        run,
        setup: WireSetup {
            dt_s: setup.dt_s,
            ego_length_m: setup.ego_length_m,
            ego_width_m: setup.ego_width_m,
            ego_wheelbase_m: setup.ego_wheelbase_m,
            ego_max_decel_mps2: setup.ego_max_decel_mps2,
        },
        cameras: frames.as_ref().map(|f| {
            f.cameras
                .iter()
                .map(|c| WireCamera {
                    id: &c.id,
                    width_px: c.width_px,
                    height_px: c.height_px,
                    hfov_rad: c.hfov_rad,
                    focal_px: c.focal_px(),
                    position_in_ego_m: c.position_in_ego_m,
                    yaw_rad: c.yaw_rad,
                    pitch_rad: c.pitch_rad,
                    roll_rad: c.roll_rad,
                    k1: c.k1,
                    k2: c.k2,
                    rate_hz: c.rate_hz,
                })
                .collect()
        }),
        shm: frames.as_ref().and_then(|f| f.shm),
    };
    push_line(out, &msg);
}

#[derive(Serialize)]
struct End {
    #[serde(rename = "type")]
    kind: &'static str,
    run: u64,
}

/// Writes the `end` line of a run.
pub fn write_end(out: &mut Vec<u8>, run: u64) {
    push_line(out, &End { kind: "end", run });
}

/// Starts a `step` line; observations follow with [`push_observation`], then [`finish_step`].
pub fn start_step(out: &mut Vec<u8>, seq: u64) {
    // Written by hand so that observations can be appended one by one without a list.
    let _ = write!(out, "{{\"type\":\"step\",\"seq\":{seq},\"observations\":[");
}

/// Closes a `step` line; `payload_bytes`: the frames' bytes that follow the line (`inline`
/// transport).
pub fn finish_step(out: &mut Vec<u8>, payload_bytes: Option<usize>) {
    match payload_bytes {
        Some(n) => {
            let _ = writeln!(out, "],\"payload_bytes\":{n}}}");
        }
        None => out.extend_from_slice(b"]}\n"),
    }
}

/// One frame of an observation: where its bytes are (in the payload after the line, or in the
/// shared-memory file) and what they show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WireFrame {
    /// Index of the camera (in `begin`'s `cameras`, and for detections' `camera`).
    pub camera: usize,
    /// The camera's `id`.
    pub id: String,
    /// Counts the camera's frames in the run from 0; the same number is the same picture.
    pub frame_index: u64,
    /// Simulation time at which the frame was exposed, s.
    pub exposed_at_s: f64,
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    /// Bytes from the start of one row to the next.
    pub stride: usize,
    pub offset: usize,
    pub bytes: usize,
}

#[derive(Serialize)]
struct WireEgo {
    speed_mps: f64,
    accel_mps2: f64,
    yaw_rate_radps: f64,
    steer_rad: f64,
    length_m: f64,
    width_m: f64,
    wheelbase_m: f64,
}

#[derive(Serialize)]
struct WireObject {
    track_id: u32,
    class: &'static str,
    pos_in_ego_m: [f64; 2],
    rel_vel_in_ego_mps: [f64; 2],
    heading_in_ego_rad: f64,
    length_m: f64,
    width_m: f64,
    measured_at_s: f64,
}

#[derive(Serialize)]
struct WireLane {
    offset_m: f64,
    heading_rad: f64,
    curvature_per_m: f64,
    width_m: f64,
    left_boundary_m: f64,
    right_boundary_m: f64,
    right_road_edge_m: f64,
    left_road_edge_m: f64,
}

/// The wire name of an object class.
pub fn class_name(c: ObjectClass) -> &'static str {
    match c {
        ObjectClass::Car => "car",
        ObjectClass::Pedestrian => "pedestrian",
        ObjectClass::Cyclist => "cyclist",
        ObjectClass::Motorcycle => "motorcycle",
        ObjectClass::StaticObstacle => "static_obstacle",
    }
}

fn class_from_name(s: &str) -> Option<ObjectClass> {
    [
        ObjectClass::Car,
        ObjectClass::Pedestrian,
        ObjectClass::Cyclist,
        ObjectClass::Motorcycle,
        ObjectClass::StaticObstacle,
    ]
    .into_iter()
    .find(|&c| class_name(c) == s)
}

#[derive(Serialize)]
struct WireGnss {
    valid_at_s: f64,
    fix_type: &'static str,
    lat_deg: f64,
    lon_deg: f64,
    height_m: f64,
    pos_in_road_m: [f64; 2],
    vel_enu_mps: [f64; 3],
    vel_in_road_mps: [f64; 2],
    map_curvature_per_m: f64,
    sigma_h_m: f64,
    sigma_v_m: f64,
    hpl_m: f64,
    vpl_m: f64,
    n_sats_used: u32,
    hdop: Option<f64>,
    antenna_in_ego_m: [f64; 3],
}

#[derive(Serialize)]
struct WireObservation<'a> {
    run: u64,
    time_s: f64,
    ego: WireEgo,
    set_speed_mps: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    objects: Option<Vec<WireObject>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lane: Option<Option<WireLane>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gnss: Option<WireGnss>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frames: Option<&'a [WireFrame]>,
}

/// Appends one observation to a `step` line (`first`: no comma before it). `offer` decides
/// which parts travel; `frames` (for a system that receives frames) says where its frames are.
pub fn push_observation(
    out: &mut Vec<u8>,
    first: bool,
    run: u64,
    obs: &Observation<'_>,
    offer: &Offer,
    frames: Option<&[WireFrame]>,
) {
    if !first {
        out.push(b',');
    }
    let e = &obs.ego;
    let msg = WireObservation {
        run,
        time_s: obs.time_s,
        ego: WireEgo {
            speed_mps: e.speed_mps,
            accel_mps2: e.accel_mps2,
            yaw_rate_radps: e.yaw_rate_radps,
            steer_rad: e.steer_rad,
            length_m: e.length_m,
            width_m: e.width_m,
            wheelbase_m: e.wheelbase_m,
        },
        set_speed_mps: obs.set_speed_mps,
        objects: offer.object_list.then(|| {
            obs.objects
                .iter()
                .map(|o| WireObject {
                    track_id: o.track_id,
                    class: class_name(o.class),
                    pos_in_ego_m: o.pos_in_ego_m,
                    rel_vel_in_ego_mps: o.rel_vel_in_ego_mps,
                    heading_in_ego_rad: o.heading_in_ego_rad,
                    length_m: o.length_m,
                    width_m: o.width_m,
                    measured_at_s: o.measured_at_s,
                })
                .collect()
        }),
        lane: offer.lane.then(|| {
            obs.lane.as_ref().map(|l| WireLane {
                offset_m: l.offset_m,
                heading_rad: l.heading_rad,
                curvature_per_m: l.curvature_per_m,
                width_m: l.width_m,
                left_boundary_m: l.left_boundary_m,
                right_boundary_m: l.right_boundary_m,
                right_road_edge_m: l.right_road_edge_m,
                left_road_edge_m: l.left_road_edge_m,
            })
        }),
        gnss: obs.gnss.filter(|_| offer.gnss).map(|f| WireGnss {
            valid_at_s: f.valid_at_s,
            fix_type: f.fix_type.name(),
            lat_deg: f.lat_deg,
            lon_deg: f.lon_deg,
            height_m: f.height_m,
            pos_in_road_m: f.pos_in_road_m,
            vel_enu_mps: f.vel_enu_mps,
            vel_in_road_mps: f.vel_in_road_mps,
            map_curvature_per_m: f.map_curvature_per_m,
            sigma_h_m: f.sigma_h_m,
            sigma_v_m: f.sigma_v_m,
            hpl_m: f.hpl_m,
            vpl_m: f.vpl_m,
            n_sats_used: f.n_sats_used,
            hdop: f.hdop,
            antenna_in_ego_m: f.antenna_in_ego_m,
        }),
        frames,
    };
    // Serialising plain structs of numbers and strings into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &msg);
}

fn push_line<T: Serialize>(out: &mut Vec<u8>, msg: &T) {
    let _ = serde_json::to_writer(&mut *out, msg);
    out.push(b'\n');
}

/// A detection in a command.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDetection {
    class: String,
    distance_m: f64,
    confidence: f64,
    /// Index of the camera whose frame the box is in.
    #[serde(default)]
    camera: usize,
    /// `[x0, y0, x1, y1]`, pixels.
    #[serde(default)]
    bbox_px: Option<[f64; 4]>,
}

/// One command of a `commands` reply.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCommand {
    run: u64,
    #[serde(default)]
    accel_mps2: Option<f64>,
    #[serde(default)]
    steer_rad: Option<f64>,
    #[serde(default)]
    warning: bool,
    #[serde(default)]
    detections: Vec<WireDetection>,
    /// The system could not handle this run: it ends in an `error` verdict with this reason.
    #[serde(default)]
    error: Option<String>,
}

/// Every field any reply may carry; which ones a reply must have depends on its `type`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    // `ready`
    #[serde(default)]
    protocol: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    max_batch: Option<u64>,
    #[serde(default)]
    want: Option<Want>,
    // `commands`
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    commands: Option<Vec<WireCommand>>,
    // `error`
    #[serde(default)]
    message: Option<String>,
}

/// A system's answer to `hello`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ready {
    pub protocol: u32,
    pub name: Option<String>,
    /// The most runs it holds at once (its batch size).
    pub max_batch: u64,
    pub want: Want,
}

/// The command for one run, or the system's reason for giving that run up.
pub type RunAnswer = (u64, Result<Command, String>);

/// A reply, decoded.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Ready(Ready),
    Commands {
        seq: u64,
        commands: Vec<RunAnswer>,
    },
    /// The system gives up (all its runs end in `error`).
    Error(String),
}

/// Why a line is not a valid reply. The texts become `error` verdict reasons: they must not
/// depend on anything but the bytes of the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error(
        "sent a `{0}` message, which is what the harness sends: the program seems to echo its input (replies are `ready`, `commands` or `error`)"
    )]
    Echo(String),
    #[error("sent a line that is not a protocol reply ({reason}): `{line}`")]
    Garbage { reason: String, line: String },
    #[error("sent a `{kind}` reply without `{field}`")]
    Missing { kind: String, field: &'static str },
    #[error("speaks protocol version {0}; this harness speaks version {PROTOCOL_VERSION}")]
    Version(String),
    /// A well-formed reply whose values make no sense (a detection of an unknown class, a
    /// confidence over 1, an inverted box).
    #[error("sent an invalid command: {reason}")]
    Invalid { reason: String },
}

/// The start of a bad line, for messages (at most 80 characters, control characters escaped).
pub fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out: String = text
        .chars()
        .take(80)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// Decodes one reply line (without its newline).
pub fn parse_reply(line: &[u8]) -> Result<Reply, ReplyError> {
    let env: Envelope = serde_json::from_slice(line).map_err(|e| {
        // A request echoed back may fail on its request-only fields: say "echo" when the type
        // is a request's.
        if let Some(kind) = request_type(line) {
            return ReplyError::Echo(kind);
        }
        ReplyError::Garbage {
            reason: e.to_string(),
            line: excerpt(line),
        }
    })?;
    let missing = |field| ReplyError::Missing {
        kind: env.kind.clone(),
        field,
    };
    match env.kind.as_str() {
        "ready" => {
            let protocol = env.protocol.as_ref().ok_or_else(|| missing("protocol"))?;
            let version = match protocol.as_u64() {
                Some(v) if v == u64::from(PROTOCOL_VERSION) => PROTOCOL_VERSION,
                _ => return Err(ReplyError::Version(protocol.to_string())),
            };
            Ok(Reply::Ready(Ready {
                protocol: version,
                name: env.name,
                max_batch: env.max_batch.unwrap_or(1),
                want: env.want.unwrap_or_default(),
            }))
        }
        "commands" => {
            let seq = env.seq.ok_or_else(|| missing("seq"))?;
            let commands = env.commands.ok_or_else(|| missing("commands"))?;
            let commands = commands
                .into_iter()
                .map(|c| {
                    let answer = match c.error {
                        Some(reason) => Err(reason),
                        None => Ok(command_from_wire(&c)
                            .map_err(|reason| ReplyError::Invalid { reason })?),
                    };
                    Ok((c.run, answer))
                })
                .collect::<Result<_, ReplyError>>()?;
            Ok(Reply::Commands { seq, commands })
        }
        "error" => Ok(Reply::Error(
            env.message.unwrap_or_else(|| "(no message)".into()),
        )),
        "hello" | "begin" | "step" | "end" => Err(ReplyError::Echo(env.kind)),
        other => Err(ReplyError::Garbage {
            reason: format!("unknown reply type `{other}`"),
            line: excerpt(line),
        }),
    }
}

/// A detection, checked: a known class, a distance of 0 or more, a confidence in 0–1, a box
/// with its edges in order. (Whether the box lies in a frame of the named camera is checked
/// against the observation, in `process.rs`.)
fn detection_from_wire(d: &WireDetection) -> Result<Detection, String> {
    let class = class_from_name(&d.class).ok_or_else(|| {
        format!(
            "unknown class `{}` (classes: car, pedestrian, cyclist, motorcycle, static_obstacle)",
            d.class
        )
    })?;
    if !(d.distance_m >= 0.0 && d.distance_m.is_finite()) {
        return Err(format!("`distance_m` {} is not a distance", d.distance_m));
    }
    if !(0.0..=1.0).contains(&d.confidence) {
        return Err(format!("`confidence` {} is outside 0–1", d.confidence));
    }
    if let Some([x0, y0, x1, y1]) = d.bbox_px {
        if !(x0 <= x1 && y0 <= y1) || [x0, y0, x1, y1].iter().any(|v| !v.is_finite()) {
            return Err(format!(
                "`bbox_px` [{x0}, {y0}, {x1}, {y1}] is not [x0, y0, x1, y1] with x0 ≤ x1, y0 ≤ y1"
            ));
        }
    }
    Ok(Detection {
        class,
        distance_m: d.distance_m,
        confidence: d.confidence,
        camera: d.camera,
        bbox_px: d.bbox_px,
    })
}

/// The `type` of a line when it is one of the harness's own messages.
fn request_type(line: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct TypeOnly {
        #[serde(rename = "type")]
        kind: String,
    }
    let t: TypeOnly = serde_json::from_slice(line).ok()?;
    matches!(t.kind.as_str(), "hello" | "begin" | "step" | "end").then_some(t.kind)
}

fn command_from_wire(c: &WireCommand) -> Result<Command, String> {
    let detections = c
        .detections
        .iter()
        .enumerate()
        .map(|(k, d)| detection_from_wire(d).map_err(|e| format!("detection {k}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Command {
        accel_mps2: c.accel_mps2,
        steer_rad: c.steer_rad,
        warning: c.warning,
        detections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sut::{EgoSignals, LaneObservation, TrackedObject};

    fn offer() -> Offer {
        Offer {
            object_list: true,
            lane: true,
            camera: Vec::new(),
            camera_transports: Vec::new(),
            gnss: false,
        }
    }

    /// A deterministic spread of doubles: many magnitudes, signs, and awkward digits.
    fn awkward_doubles() -> Vec<f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut out = vec![
            0.1,
            0.2 + 0.1,
            1.0 / 3.0,
            5.0 / 3.6,
            -0.0,
            1e-300,
            2.5e-308,
            1e300,
        ];
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = f64::from_bits(state);
            if x.is_finite() {
                out.push(x);
            }
            // And numbers in the range observations live in.
            out.push((state >> 11) as f64 / (1u64 << 53) as f64 * 200.0 - 100.0);
        }
        out
    }

    #[test]
    fn doubles_cross_the_wire_unchanged() {
        for x in awkward_doubles() {
            let text = serde_json::to_string(&x).expect("serialise");
            let back: f64 = serde_json::from_str(&text).expect("parse");
            assert_eq!(back.to_bits(), x.to_bits(), "{x:e} written as {text}");
            // Shortest round-trip form: the same digits as Rust's own shortest formatting.
            let shortest = format!("{x:?}");
            let parsed_shortest: f64 = shortest.parse().expect("parse");
            assert_eq!(parsed_shortest.to_bits(), x.to_bits());
            assert!(
                text.trim_start_matches('-').len() <= shortest.trim_start_matches('-').len() + 4,
                "{text} vs {shortest}"
            );
        }
        // Commands come back exactly too.
        for x in awkward_doubles().into_iter().take(2000) {
            let line = format!(
                "{{\"type\":\"commands\",\"seq\":1,\"commands\":[{{\"run\":0,\"accel_mps2\":{}}}]}}",
                serde_json::to_string(&x).expect("serialise")
            );
            let Ok(Reply::Commands { commands, .. }) = parse_reply(line.as_bytes()) else {
                panic!("{line}")
            };
            let got = commands[0].1.as_ref().expect("command").accel_mps2;
            assert_eq!(got.map(f64::to_bits), Some(x.to_bits()), "{line}");
        }
    }

    #[test]
    fn observation_line_is_json_with_every_field() {
        let objects = [TrackedObject {
            track_id: 7,
            class: ObjectClass::Pedestrian,
            pos_in_ego_m: [12.5, -0.1],
            rel_vel_in_ego_mps: [-(50.0 / 3.6), 1.4],
            heading_in_ego_rad: std::f64::consts::FRAC_PI_2,
            length_m: 0.5,
            width_m: 0.6,
            measured_at_s: 0.05,
        }];
        let obs = Observation {
            time_s: 0.1,
            ego: EgoSignals {
                speed_mps: 50.0 / 3.6,
                accel_mps2: f64::NAN,
                ..EgoSignals::default()
            },
            objects: &objects,
            lane: Some(LaneObservation::default()),
            set_speed_mps: 50.0 / 3.6,
            gnss: None,
            frames: &[],
        };
        let mut out = Vec::new();
        start_step(&mut out, 3);
        push_observation(&mut out, true, 9, &obs, &offer(), None);
        push_observation(&mut out, false, 10, &obs, &offer(), None);
        finish_step(&mut out, None);
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["type"], "step");
        assert_eq!(v["seq"], 3);
        let o = &v["observations"][1];
        assert_eq!(o["run"], 10);
        assert_eq!(o["ego"]["speed_mps"].as_f64(), Some(50.0 / 3.6));
        // NaN travels as null.
        assert!(o["ego"]["accel_mps2"].is_null());
        assert_eq!(o["objects"][0]["class"], "pedestrian");
        assert_eq!(o["objects"][0]["rel_vel_in_ego_mps"][0], -(50.0 / 3.6));
        assert!(o["lane"].is_object());
        // Parts the offer leaves out do not travel.
        let mut out = Vec::new();
        let lean = Offer {
            object_list: false,
            lane: false,
            ..offer()
        };
        push_observation(&mut out, true, 1, &obs, &lean, None);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert!(v.get("objects").is_none() && v.get("lane").is_none());
        // Without a fix there is no `gnss`; with one, every field travels unchanged.
        assert!(v.get("gnss").is_none());
        let fix = crate::sut::GnssFix {
            valid_at_s: 0.0,
            fix_type: crate::gnss::FixType::RtkFixed,
            lat_deg: 30.52,
            lon_deg: 114.36,
            height_m: 41.5,
            pos_in_road_m: [20.01, -0.02],
            vel_enu_mps: [0.01, 13.9, 0.0],
            vel_in_road_mps: [13.9, 0.01],
            map_curvature_per_m: 0.0,
            sigma_h_m: 0.02,
            sigma_v_m: 0.03,
            hpl_m: 0.12,
            vpl_m: 0.16,
            n_sats_used: 14,
            hdop: None,
            antenna_in_ego_m: [0.0, 0.0, 1.5],
        };
        let with_fix = Observation {
            gnss: Some(&fix),
            ..obs.clone()
        };
        let mut out = Vec::new();
        push_observation(&mut out, true, 1, &with_fix, &offer_gnss(), None);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        let g = &v["gnss"];
        assert_eq!(g["fix_type"], "rtk-fixed");
        assert_eq!(g["lat_deg"].as_f64(), Some(30.52));
        assert_eq!(g["pos_in_road_m"][0].as_f64(), Some(20.01));
        assert_eq!(g["n_sats_used"], 14);
        assert!(g["hdop"].is_null());
        assert_eq!(g["antenna_in_ego_m"][2].as_f64(), Some(1.5));
        // A system that does not want fixes does not get them.
        let mut out = Vec::new();
        push_observation(&mut out, true, 1, &with_fix, &offer(), None);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert!(v.get("gnss").is_none());
    }

    fn offer_gnss() -> Offer {
        Offer {
            gnss: true,
            ..offer()
        }
    }

    #[test]
    fn replies_decode_and_bad_ones_say_why() {
        let ok = br#"{"type":"commands","seq":4,"commands":[{"run":2,"accel_mps2":-4.0,"warning":true},{"run":3,"error":"model not loaded"}]}"#;
        let Ok(Reply::Commands { seq, commands }) = parse_reply(ok) else {
            panic!()
        };
        assert_eq!(seq, 4);
        assert_eq!(commands[0].0, 2);
        assert_eq!(
            commands[0].1,
            Ok(Command {
                accel_mps2: Some(-4.0),
                warning: true,
                ..Command::default()
            })
        );
        assert_eq!(commands[1].1, Err("model not loaded".into()));
        assert_eq!(
            parse_reply(br#"{"type":"ready","protocol":1}"#),
            Ok(Reply::Ready(Ready {
                protocol: 1,
                name: None,
                max_batch: 1,
                want: Want::default(),
            }))
        );
        let mut hello = Vec::new();
        write_hello(&mut hello, "gauntlet test", 1, &offer());
        hello.pop();
        assert!(matches!(parse_reply(&hello), Err(ReplyError::Echo(k)) if k == "hello"));
        let mut step = Vec::new();
        start_step(&mut step, 1);
        finish_step(&mut step, None);
        step.pop();
        assert!(matches!(parse_reply(&step), Err(ReplyError::Echo(k)) if k == "step"));
        assert_eq!(
            parse_reply(br#"{"type":"ready","protocol":2}"#),
            Err(ReplyError::Version("2".into()))
        );
        assert!(matches!(
            parse_reply(b"garbage \x01"),
            Err(ReplyError::Garbage { line, .. }) if line == "garbage \\u{1}"
        ));
        // A misspelt field is an error, not a silently missing brake request.
        assert!(matches!(
            parse_reply(br#"{"type":"commands","seq":1,"commands":[{"run":0,"accel_mps":-4.0}]}"#),
            Err(ReplyError::Garbage { reason, .. }) if reason.contains("accel_mps")
        ));
        // Detections are checked: garbage in them is a fault, not a silently dropped score.
        for (bad, why) in [
            (
                r#"{"class":"truck","distance_m":3,"confidence":0.5}"#,
                "unknown class `truck`",
            ),
            (
                r#"{"class":"car","distance_m":-3,"confidence":0.5}"#,
                "`distance_m` -3",
            ),
            (
                r#"{"class":"car","distance_m":3,"confidence":1.5}"#,
                "outside 0–1",
            ),
            (
                r#"{"class":"car","distance_m":3,"confidence":0.5,"bbox_px":[10,0,5,4]}"#,
                "x0 ≤ x1",
            ),
        ] {
            let line = format!(
                r#"{{"type":"commands","seq":1,"commands":[{{"run":7,"detections":[{bad}]}}]}}"#
            );
            match parse_reply(line.as_bytes()) {
                Err(e @ ReplyError::Invalid { .. }) => {
                    let text = e.to_string();
                    assert!(
                        text.contains("detection 0: ") && text.contains(why),
                        "{text}"
                    );
                }
                other => panic!("{line}: {other:?}"),
            }
        }
        assert_eq!(
            parse_reply(br#"{"type":"commands","commands":[]}"#),
            Err(ReplyError::Missing {
                kind: "commands".into(),
                field: "seq"
            })
        );
    }
}
