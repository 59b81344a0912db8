//! A system under test that sees through cameras, for Gauntlet's process protocol: it runs
//! `builtin:aeb-vision` (the library's [`AebVision`]) out of process, so that its verdicts
//! equal the built-in system's while its frames travel through the protocol — raw bytes after
//! the step line (`inline`) or a shared-memory file (`shm`), in `rgb8` or `rgba8`.
//!
//! Unlike `sut_aeb.rs` it uses the `gauntlet` library: for the vision logic itself, and for
//! the read-only mapping of the shared-memory file ([`ShmView`]). The protocol loop ([`serve`])
//! hosts any [`System`] that sees only frames and bus signals (it passes no object list, lane
//! or satellite fix on).
//!
//! Build and run (from the repository):
//! ```text
//! cargo build --release --example sut_aeb_vision
//! gauntlet run scenarios/camera/ccrs.toml --sut examples/rust/sut_aeb_vision.toml
//! ```
//! The manifest asks for frames (`[receive] camera = { format = "rgb8", transport = "shm" }`);
//! `--want FORMAT/TRANSPORT` (e.g. `--want rgba8/inline`) makes the client pick another
//! offered pair in its `ready`. Protocol: `docs/sut-protocol.md` (version 1). Standard error is
//! for logs.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::Path;

use gauntlet::render::Camera;
use gauntlet::sut::builtin::{AebVision, AebVisionConfig};
use gauntlet::sut::protocol::class_name;
use gauntlet::sut::shm::ShmView;
use gauntlet::sut::{CameraFrame, Command, EgoSignals, Observation, RunSetup, System};
use serde::Deserialize;
use serde_json::{Value, json};

const PROTOCOL_VERSION: u64 = 1;

/// A number from the wire: `null` (a non-finite number in the harness) becomes NaN.
fn num(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

#[derive(Deserialize)]
struct WireSetup {
    dt_s: Option<f64>,
    ego_length_m: Option<f64>,
    ego_width_m: Option<f64>,
    ego_wheelbase_m: Option<f64>,
    ego_max_decel_mps2: Option<f64>,
}

/// A camera as `begin` describes it.
#[derive(Deserialize)]
struct WireCamera {
    id: String,
    width_px: u32,
    height_px: u32,
    hfov_rad: Option<f64>,
    position_in_ego_m: [Option<f64>; 3],
    yaw_rad: Option<f64>,
    pitch_rad: Option<f64>,
    roll_rad: Option<f64>,
    k1: Option<f64>,
    k2: Option<f64>,
    rate_hz: Option<f64>,
}

impl WireCamera {
    fn camera(&self) -> Camera {
        Camera {
            id: self.id.clone(),
            width_px: self.width_px,
            height_px: self.height_px,
            hfov_rad: num(self.hfov_rad),
            position_in_ego_m: self.position_in_ego_m.map(num),
            yaw_rad: num(self.yaw_rad),
            pitch_rad: num(self.pitch_rad),
            roll_rad: num(self.roll_rad),
            k1: num(self.k1),
            k2: num(self.k2),
            rate_hz: num(self.rate_hz),
        }
    }
}

#[derive(Deserialize)]
struct WireShm {
    path: String,
    bytes: usize,
}

#[derive(Deserialize)]
struct WireEgo {
    speed_mps: Option<f64>,
    accel_mps2: Option<f64>,
    yaw_rate_radps: Option<f64>,
    steer_rad: Option<f64>,
    length_m: Option<f64>,
    width_m: Option<f64>,
    wheelbase_m: Option<f64>,
}

/// Where one frame's bytes are and what they show.
#[derive(Deserialize)]
struct WireFrame {
    camera: usize,
    frame_index: u64,
    exposed_at_s: Option<f64>,
    format: String,
    width: u32,
    height: u32,
    stride: usize,
    offset: usize,
    bytes: usize,
}

#[derive(Deserialize)]
struct WireObservation {
    run: u64,
    time_s: Option<f64>,
    ego: WireEgo,
    set_speed_mps: Option<f64>,
    #[serde(default)]
    frames: Vec<WireFrame>,
}

/// A line from the harness, with the fields of every request type (absent ones default;
/// unknown ones are ignored, as the protocol asks).
#[derive(Deserialize)]
struct Request {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    protocol: Vec<u64>,
    #[serde(default)]
    run: u64,
    #[serde(default)]
    setup: Option<WireSetup>,
    #[serde(default)]
    cameras: Vec<WireCamera>,
    #[serde(default)]
    shm: Option<WireShm>,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    observations: Vec<WireObservation>,
    #[serde(default)]
    payload_bytes: Option<usize>,
}

/// One run: its system, its cameras and the latest frames (buffers reused step to step).
struct Run {
    system: Box<dyn System>,
    cameras: Vec<Camera>,
    frames: Vec<CameraFrame>,
}

/// Copies one frame from the wire into RGBA8 (`rgb8` gains an opaque alpha).
fn to_rgba(src: &[u8], f: &WireFrame, out: &mut Vec<u8>) -> Result<(), String> {
    let (w, h) = (f.width as usize, f.height as usize);
    let bpp = match f.format.as_str() {
        "rgb8" => 3,
        "rgba8" => 4,
        other => return Err(format!("frame format `{other}` is not known")),
    };
    if f.stride < w * bpp || f.bytes < f.stride * h.saturating_sub(1) + w * bpp {
        return Err(format!(
            "frame of camera {} has an impossible layout",
            f.camera
        ));
    }
    let bytes = src
        .get(f.offset..f.offset + f.bytes)
        .ok_or_else(|| format!("frame of camera {} lies outside its buffer", f.camera))?;
    out.clear();
    out.reserve(w * h * 4);
    for row in 0..h {
        let line = &bytes[row * f.stride..row * f.stride + w * bpp];
        if bpp == 4 {
            out.extend_from_slice(line);
        } else {
            for px in line.chunks_exact(3) {
                out.extend_from_slice(&[px[0], px[1], px[2], 255]);
            }
        }
    }
    Ok(())
}

fn command_json(run: u64, cmd: &Command) -> Value {
    let detections: Vec<Value> = cmd
        .detections
        .iter()
        .map(|d| {
            let mut v = json!({
                "class": class_name(d.class),
                "distance_m": d.distance_m,
                "confidence": d.confidence,
                "camera": d.camera,
            });
            if let Some(b) = d.bbox_px {
                v["bbox_px"] = json!(b);
            }
            v
        })
        .collect();
    json!({
        "run": run,
        "accel_mps2": cmd.accel_mps2,
        "steer_rad": cmd.steer_rad,
        "warning": cmd.warning,
        "detections": detections,
    })
}

/// Writes one reply line and flushes it.
fn reply(out: &mut impl Write, v: Value) -> Result<(), String> {
    let text = serde_json::to_string(&v).map_err(|e| e.to_string())?;
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write: {e}"))
}

/// The protocol loop: answers `hello` (asking for `want` = (format, transport) if given),
/// keeps one system per run (made by `make`), and answers every step with their commands.
pub fn serve(
    want: Option<(String, String)>,
    make: &mut dyn FnMut() -> Box<dyn System>,
) -> Result<(), String> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut runs: HashMap<u64, Run> = HashMap::new();
    let mut shm: Option<(String, ShmView)> = None;
    let mut payload: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read: {e}")),
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let req: Request = serde_json::from_slice(&line).map_err(|e| format!("bad line: {e}"))?;
        match req.kind.as_str() {
            "hello" => {
                if !req.protocol.contains(&PROTOCOL_VERSION) {
                    reply(
                        &mut out,
                        json!({"type": "error", "message": "speaks only protocol 1"}),
                    )?;
                    return Ok(());
                }
                let mut ready = json!({
                    "type": "ready", "protocol": PROTOCOL_VERSION, "name": "rust-aeb-vision",
                    "max_batch": 1024,
                    "want": {"object_list": false, "lane": false, "gnss": false},
                });
                if let Some((format, transport)) = &want {
                    ready["want"]["camera"] = json!({"format": format, "transport": transport});
                }
                reply(&mut out, ready)?;
            }
            "begin" => {
                let s = req.setup.ok_or("`begin` without `setup`")?;
                let cameras: Vec<Camera> = req.cameras.iter().map(WireCamera::camera).collect();
                let mut system = make();
                system.reset(&RunSetup {
                    dt_s: num(s.dt_s),
                    ego_length_m: num(s.ego_length_m),
                    ego_width_m: num(s.ego_width_m),
                    ego_wheelbase_m: num(s.ego_wheelbase_m),
                    ego_max_decel_mps2: num(s.ego_max_decel_mps2),
                    cameras: cameras.clone(),
                });
                if let Some(w) = req.shm {
                    // The file grows as the harness holds more runs: map it again when it did.
                    let stale = shm
                        .as_ref()
                        .is_none_or(|(p, view)| *p != w.path || view.bytes().len() != w.bytes);
                    if stale {
                        drop(shm.take());
                        let view = ShmView::open(Path::new(&w.path), w.bytes)
                            .map_err(|e| format!("cannot map {}: {e}", w.path))?;
                        shm = Some((w.path, view));
                    }
                }
                runs.insert(
                    req.run,
                    Run {
                        system,
                        cameras,
                        frames: Vec::new(),
                    },
                );
            }
            "end" => {
                if let Some(mut run) = runs.remove(&req.run) {
                    run.system.end();
                }
            }
            "step" => {
                if let Some(n) = req.payload_bytes {
                    payload.resize(n, 0);
                    input
                        .read_exact(&mut payload)
                        .map_err(|e| format!("cannot read the frames: {e}"))?;
                }
                let source: &[u8] = match (&req.payload_bytes, &shm) {
                    (Some(_), _) => &payload,
                    (None, Some((_, view))) => view.bytes(),
                    (None, None) => &[],
                };
                let mut commands = Vec::with_capacity(req.observations.len());
                for o in &req.observations {
                    let Some(run) = runs.get_mut(&o.run) else {
                        commands.push(json!({"run": o.run, "error": "no `begin` for this run"}));
                        continue;
                    };
                    let mut answer = Ok(());
                    for f in &o.frames {
                        let Some(camera) = run.cameras.get(f.camera) else {
                            answer = Err(format!("frame of unknown camera {}", f.camera));
                            break;
                        };
                        while run.frames.len() <= f.camera {
                            run.frames.push(CameraFrame {
                                camera: camera.clone(),
                                frame_index: 0,
                                exposed_at_s: 0.0,
                                width_px: 0,
                                height_px: 0,
                                rgba: Vec::new(),
                            });
                        }
                        let frame = &mut run.frames[f.camera];
                        frame.camera.clone_from(camera);
                        frame.frame_index = f.frame_index;
                        frame.exposed_at_s = num(f.exposed_at_s);
                        frame.width_px = f.width;
                        frame.height_px = f.height;
                        if let Err(e) = to_rgba(source, f, &mut frame.rgba) {
                            answer = Err(e);
                            break;
                        }
                    }
                    if let Err(e) = answer {
                        commands.push(json!({"run": o.run, "error": e}));
                        continue;
                    }
                    let obs = Observation {
                        time_s: num(o.time_s),
                        ego: EgoSignals {
                            speed_mps: num(o.ego.speed_mps),
                            accel_mps2: num(o.ego.accel_mps2),
                            yaw_rate_radps: num(o.ego.yaw_rate_radps),
                            steer_rad: num(o.ego.steer_rad),
                            length_m: num(o.ego.length_m),
                            width_m: num(o.ego.width_m),
                            wheelbase_m: num(o.ego.wheelbase_m),
                        },
                        objects: &[],
                        lane: None,
                        set_speed_mps: num(o.set_speed_mps),
                        gnss: None,
                        frames: &run.frames[..o.frames.len().min(run.frames.len())],
                    };
                    commands.push(match run.system.step(&obs) {
                        Ok(cmd) => command_json(o.run, &cmd),
                        Err(e) => json!({"run": o.run, "error": e.to_string()}),
                    });
                }
                reply(
                    &mut out,
                    json!({"type": "commands", "seq": req.seq, "commands": commands}),
                )?;
            }
            other => return Err(format!("unknown request `{other}`")),
        }
    }
}

/// `--want FORMAT/TRANSPORT` from the arguments.
pub fn want_from_args(args: &[String]) -> Option<(String, String)> {
    let k = args.iter().position(|a| a == "--want")?;
    let (format, transport) = args.get(k + 1)?.split_once('/')?;
    Some((format.to_string(), transport.to_string()))
}

#[allow(dead_code)] // A test binary includes this file and has a `main` of its own.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let want = want_from_args(&args);
    if let Err(e) = serve(want, &mut || -> Box<dyn System> {
        Box::new(AebVision::new(AebVisionConfig::default()))
    }) {
        eprintln!("sut_aeb_vision: {e}");
        std::process::exit(1);
    }
}
