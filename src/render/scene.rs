//! Building the scene one camera sees at one instant: the view (camera, light, road) and the
//! primitives that draw each actor, from a case's world state.

use super::{
    Camera, Class, EDGE_BARRIER, EDGE_CURB, EDGE_GRASS, EDGE_GRAVEL, Light, Lighting,
    MARKING_DASHED, MARKING_DOUBLE_SOLID, MARKING_SOLID, MATERIAL_GLASS, MATERIAL_MATTE,
    MATERIAL_STRIPES, MATERIAL_TAIL_LIGHT, MATERIAL_TYRE, Marking, Prim, SHAPE_BOUND, SHAPE_BOX,
    SHAPE_ELLIPSOID, View, WorldPose, world_from_road,
};
use crate::scenario::format::{EdgeKind, Marking as MarkingKind};
use crate::scenario::model::{ActorKind, Scenario};

/// Length of a painted dash and of the gap after it, m (GB 5768 highway dashes: 6 m + 9 m).
pub const DASH_M: f64 = 6.0;
pub const DASH_GAP_M: f64 = 9.0;

/// Headlights: lateral offset from the ego's centre line and height, m; beam tilt down (the
/// beam axis drops this much per metre ahead).
const HEADLIGHT_HALF_Y_M: f64 = 0.7;
const HEADLIGHT_Z_M: f64 = 0.65;
const HEADLIGHT_TILT: f64 = 0.035;

/// Where one actor (or the ego) is, in the road frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ActorState {
    pub station_m: f64,
    pub y_m: f64,
    /// Heading relative to the road direction, rad.
    pub heading_rad: f64,
}

/// The world at one instant of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorldState {
    pub time_s: f64,
    pub ego: ActorState,
    /// One per actor of the scenario, in its order.
    pub actors: Vec<ActorState>,
}

/// An actor as labels describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct SceneObject {
    /// 1-based instance id (the actor's index + 1).
    pub instance: u32,
    pub class: Class,
    pub actor_id: String,
    pub pose: WorldPose,
    pub length_m: f64,
    pub width_m: f64,
    pub height_m: f64,
}

/// Everything needed to render one frame, before batching (offsets in `view` are set by the
/// batcher).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameScene {
    pub view: View,
    pub prims: Vec<Prim>,
    pub markings: Vec<Marking>,
    pub objects: Vec<SceneObject>,
    /// The camera, for projecting labels.
    pub camera_from_world: CameraPose,
}

/// A camera's pose and intrinsics in f64, for labels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CameraPose {
    pub origin: [f64; 3],
    /// Rows: camera x (right), y (down), z (forward) axes in the world.
    pub axes: [[f64; 3]; 3],
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    pub k1: f64,
    pub k2: f64,
    pub width_px: u32,
    pub height_px: u32,
}

impl CameraPose {
    /// Pixel coordinates of a world point (with the camera's distortion), and its depth along
    /// the optical axis; `None` behind the camera.
    pub fn project(&self, p: [f64; 3]) -> Option<(f64, f64, f64)> {
        let v = [
            p[0] - self.origin[0],
            p[1] - self.origin[1],
            p[2] - self.origin[2],
        ];
        let dot = |a: [f64; 3]| a[0] * v[0] + a[1] * v[1] + a[2] * v[2];
        let (x, y, z) = (dot(self.axes[0]), dot(self.axes[1]), dot(self.axes[2]));
        if z <= 1e-3 {
            return None;
        }
        let (xn, yn) = (x / z, y / z);
        let r2 = xn * xn + yn * yn;
        let f = 1.0 + self.k1 * r2 + self.k2 * r2 * r2;
        Some((self.fx * xn * f + self.cx, self.fy * yn * f + self.cy, z))
    }
}

fn v4(a: [f64; 3], w: f64) -> [f32; 4] {
    [a[0] as f32, a[1] as f32, a[2] as f32, w as f32]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// Rotates an ego-frame vector into the world by the ego's yaw.
fn yawed(v: [f64; 3], yaw_rad: f64) -> [f64; 3] {
    let (s, c) = yaw_rad.sin_cos();
    [c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]]
}

/// Light values of the renderer by condition: `(ambient, sun strength, exposure, headlights)`.
pub fn light_values(light: Light) -> (f64, f64, f64, f64) {
    match light {
        Light::Day => (0.45, 1.0, 1.0, 0.0),
        Light::Night => (0.01, 0.0, 2.5, 150.0),
    }
}

/// The scene `camera` on the ego sees in `state`.
pub fn build_frame(
    scenario: &Scenario,
    lighting: &Lighting,
    camera: &Camera,
    state: &WorldState,
) -> FrameScene {
    let road = &scenario.road;
    let k = road.curvature_per_m;
    let ego = world_from_road(k, state.ego.station_m, state.ego.y_m, state.ego.heading_rad);

    // Camera axes in the ego frame: yaw left, pitch down, roll clockwise seen from behind.
    let (sy, cy) = camera.yaw_rad.sin_cos();
    let (sp, cp) = camera.pitch_rad.sin_cos();
    let (sr, cr) = camera.roll_rad.sin_cos();
    let fwd1 = [cy, sy, 0.0];
    let left1 = [-sy, cy, 0.0];
    let up1 = [0.0, 0.0, 1.0];
    let fwd2 = add(scale(fwd1, cp), scale(up1, -sp));
    let up2 = add(scale(up1, cp), scale(fwd1, sp));
    let left3 = add(scale(left1, cr), scale(up2, sr));
    let up3 = add(scale(up2, cr), scale(left1, -sr));
    let axis_x = yawed(scale(left3, -1.0), ego.yaw_rad);
    let axis_y = yawed(scale(up3, -1.0), ego.yaw_rad);
    let axis_z = yawed(fwd2, ego.yaw_rad);
    let origin = add(
        [ego.x_m, ego.y_m, 0.0],
        yawed(camera.position_in_ego_m, ego.yaw_rad),
    );
    let f = camera.focal_px();
    let (cx, cyy) = (
        0.5 * f64::from(camera.width_px),
        0.5 * f64::from(camera.height_px),
    );

    let (ambient, sun_strength, exposure, headlights) = light_values(lighting.light);
    let (se, ce) = lighting.sun_elevation_rad.sin_cos();
    let (sa, ca) = lighting.sun_azimuth_rad.sin_cos();
    let sun = [ce * ca, ce * sa, se];
    // Headlights at the front bumper, either side of the centre, beams tilted slightly down.
    let lamp = |side: f64| {
        add(
            [ego.x_m, ego.y_m, 0.0],
            yawed(
                [
                    0.5 * scenario.ego.length_m,
                    side * HEADLIGHT_HALF_Y_M,
                    HEADLIGHT_Z_M,
                ],
                ego.yaw_rad,
            ),
        )
    };
    let beam = yawed([1.0, 0.0, -HEADLIGHT_TILT], ego.yaw_rad);
    let beam = scale(beam, 1.0 / (1.0 + HEADLIGHT_TILT * HEADLIGHT_TILT).sqrt());
    let edge_kind = |e: EdgeKind| match e {
        EdgeKind::Grass => EDGE_GRASS,
        EdgeKind::Gravel => EDGE_GRAVEL,
        EdgeKind::Curb => EDGE_CURB,
        EdgeKind::Barrier => EDGE_BARRIER,
    };
    let view = View {
        origin: v4(origin, 0.0),
        axis_x: v4(axis_x, 0.0),
        axis_y: v4(axis_y, 0.0),
        axis_z: v4(axis_z, 0.0),
        intrinsics: [f as f32, f as f32, cx as f32, cyy as f32],
        distortion: [camera.k1 as f32, camera.k2 as f32, 0.0, 0.0],
        sun: v4(sun, sun_strength),
        light: [
            ambient as f32,
            exposure as f32,
            headlights as f32,
            if lighting.light == Light::Night {
                1.0
            } else {
                0.0
            },
        ],
        lamp_right: v4(lamp(-1.0), 0.0),
        lamp_left: v4(lamp(1.0), 0.0),
        lamp_dir: v4(beam, 0.0),
        road: [
            k as f32,
            road.length_m as f32,
            road.edge_right.y_m as f32,
            road.edge_left.y_m as f32,
        ],
        road_more: [
            road.marking_width_m as f32,
            edge_kind(road.edge_right.kind),
            edge_kind(road.edge_left.kind),
            DASH_M as f32,
        ],
        frame: [camera.width_px, camera.height_px, 0, 0],
        ranges: [0, 0, 0, 0],
        schedule: [0, 0, 0, 0],
    };
    let markings = road
        .markings
        .iter()
        .filter_map(|m| {
            let kind = match m.kind {
                MarkingKind::None => return None,
                MarkingKind::Solid => MARKING_SOLID,
                MarkingKind::Dashed => MARKING_DASHED,
                MarkingKind::DoubleSolid => MARKING_DOUBLE_SOLID,
            };
            Some(Marking {
                line: [m.y_m as f32, kind, DASH_GAP_M as f32, 0.0],
            })
        })
        .collect();

    let mut prims = Vec::new();
    let mut objects = Vec::new();
    for (i, (actor, st)) in scenario.actors.iter().zip(&state.actors).enumerate() {
        let pose = world_from_road(k, st.station_m, st.y_m, st.heading_rad);
        let instance = i as u32 + 1;
        let class = class_of(actor.kind);
        let dims = (actor.length_m, actor.width_m, actor.height_m);
        let bound_at = prims.len();
        prims.push(Prim::default());
        actor_prims(&mut prims, class, instance, pose, dims);
        prims[bound_at] = bound_of(&prims[bound_at + 1..], instance);
        objects.push(SceneObject {
            instance,
            class,
            actor_id: actor.id.clone(),
            pose,
            length_m: actor.length_m,
            width_m: actor.width_m,
            height_m: actor.height_m,
        });
    }
    FrameScene {
        view,
        prims,
        markings,
        objects,
        camera_from_world: CameraPose {
            origin,
            axes: [axis_x, axis_y, axis_z],
            fx: f,
            fy: f,
            cx,
            cy: cyy,
            k1: camera.k1,
            k2: camera.k2,
            width_px: camera.width_px,
            height_px: camera.height_px,
        },
    }
}

/// The label class of an actor kind.
pub fn class_of(kind: ActorKind) -> Class {
    match kind {
        ActorKind::Car => Class::Car,
        ActorKind::Pedestrian { .. } => Class::Pedestrian,
        ActorKind::Cyclist => Class::Cyclist,
        ActorKind::Motorcycle => Class::Motorcycle,
        ActorKind::Cone => Class::Cone,
        ActorKind::Barrier => Class::Barrier,
        ActorKind::Box => Class::Box,
        ActorKind::OverturnedCar => Class::OverturnedCar,
    }
}

/// Body colours of cars, picked by instance id (linear albedo).
const CAR_PAINT: [[f64; 3]; 6] = [
    [0.78, 0.78, 0.78],
    [0.45, 0.47, 0.5],
    [0.035, 0.035, 0.04],
    [0.55, 0.04, 0.03],
    [0.04, 0.1, 0.4],
    [0.22, 0.22, 0.22],
];

/// Clothing colours of people, picked by instance id.
const CLOTHES: [[f64; 3]; 5] = [
    [0.5, 0.08, 0.06],
    [0.08, 0.2, 0.5],
    [0.6, 0.55, 0.1],
    [0.15, 0.35, 0.12],
    [0.7, 0.7, 0.7],
];

const SKIN: [f64; 3] = [0.45, 0.3, 0.22];
const TROUSERS: [f64; 3] = [0.04, 0.05, 0.09];
const TYRE: [f64; 3] = [0.03, 0.03, 0.03];

/// Appends the primitives of one actor: `offset` is in the actor's own frame (x forward, y
/// left, z up from the ground under its centre).
struct Builder<'a> {
    prims: &'a mut Vec<Prim>,
    pose: WorldPose,
    instance: u32,
    class: Class,
}

impl Builder<'_> {
    fn push(
        &mut self,
        offset: [f64; 3],
        half: [f64; 3],
        shape: u32,
        colour: [f64; 3],
        material: f32,
    ) {
        let c = add(
            [self.pose.x_m, self.pose.y_m, 0.0],
            yawed(offset, self.pose.yaw_rad),
        );
        self.prims.push(Prim {
            centre: v4(c, self.pose.yaw_rad.cos()),
            half: [
                half[0] as f32,
                half[1] as f32,
                half[2] as f32,
                self.pose.yaw_rad.sin() as f32,
            ],
            colour: [
                colour[0] as f32,
                colour[1] as f32,
                colour[2] as f32,
                material,
            ],
            ids: [self.instance, self.class as u32, shape, 0],
        });
    }

    fn cuboid(&mut self, offset: [f64; 3], half: [f64; 3], colour: [f64; 3], material: f32) {
        self.push(offset, half, SHAPE_BOX, colour, material);
    }

    fn ellipsoid(&mut self, offset: [f64; 3], half: [f64; 3], colour: [f64; 3], material: f32) {
        self.push(offset, half, SHAPE_ELLIPSOID, colour, material);
    }
}

/// A [`SHAPE_BOUND`] sphere enclosing `group`: every primitive lies inside the sphere of radius
/// `|half|` about its centre, so a sphere reaching the farthest of those encloses them all; the
/// radius is padded (1 % + 1 cm) so that f32 rounding in the ray test never culls a hit.
fn bound_of(group: &[Prim], instance: u32) -> Prim {
    let reach = |p: &Prim| {
        let h = p.half;
        (f64::from(h[0]).powi(2) + f64::from(h[1]).powi(2) + f64::from(h[2]).powi(2)).sqrt()
    };
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in group {
        for a in 0..3 {
            lo[a] = lo[a].min(f64::from(p.centre[a]) - reach(p));
            hi[a] = hi[a].max(f64::from(p.centre[a]) + reach(p));
        }
    }
    let centre = [
        0.5 * (lo[0] + hi[0]),
        0.5 * (lo[1] + hi[1]),
        0.5 * (lo[2] + hi[2]),
    ];
    let radius = group
        .iter()
        .map(|p| {
            let c = [p.centre[0], p.centre[1], p.centre[2]].map(f64::from);
            let d = sub(c, centre);
            (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt() + reach(p)
        })
        .fold(0.0, f64::max);
    Prim {
        centre: v4(centre, 0.0),
        half: [(radius * 1.01 + 0.01) as f32, 0.0, 0.0, 0.0],
        colour: [0.0; 4],
        ids: [instance, 0, SHAPE_BOUND, group.len() as u32],
    }
}

/// The primitives that draw an actor of `class` with `(length, width, height)` at `pose`.
pub fn actor_prims(
    prims: &mut Vec<Prim>,
    class: Class,
    instance: u32,
    pose: WorldPose,
    (l, w, h): (f64, f64, f64),
) {
    let mut b = Builder {
        prims,
        pose,
        instance,
        class,
    };
    let pick = |n: usize| (instance as usize * 7 + 3) % n;
    match class {
        Class::Car => car(&mut b, (l, w, h), CAR_PAINT[pick(CAR_PAINT.len())], false),
        Class::OverturnedCar => car(&mut b, (l, w, h), CAR_PAINT[pick(CAR_PAINT.len())], true),
        Class::Pedestrian => person(&mut b, h, 0.0, CLOTHES[pick(CLOTHES.len())], true),
        Class::Cyclist | Class::Motorcycle => {
            let motor = class == Class::Motorcycle;
            let wheel_r = if motor { 0.32 } else { 0.34 };
            let wheelbase = (l - 2.0 * wheel_r).max(0.6);
            for x in [-0.5 * wheelbase, 0.5 * wheelbase] {
                b.ellipsoid(
                    [x, 0.0, wheel_r],
                    [wheel_r, 0.035, wheel_r],
                    TYRE,
                    MATERIAL_TYRE,
                );
            }
            if motor {
                b.cuboid(
                    [0.0, 0.0, wheel_r + 0.2],
                    [0.45 * wheelbase, 0.2, 0.22],
                    CAR_PAINT[pick(CAR_PAINT.len())],
                    MATERIAL_MATTE,
                );
            } else {
                b.cuboid(
                    [0.0, 0.0, wheel_r + 0.22],
                    [0.5 * wheelbase, 0.025, 0.025],
                    [0.5, 0.05, 0.05],
                    MATERIAL_MATTE,
                );
            }
            // The rider sits over the middle, legs down to the pedals.
            person(
                &mut b,
                h,
                wheel_r * 0.9,
                CLOTHES[pick(CLOTHES.len())],
                false,
            );
        }
        Class::Cone => {
            // A cone as four stacked, narrowing blocks with reflective bands.
            let base = 0.5 * w.max(0.2);
            b.cuboid(
                [0.0, 0.0, 0.02],
                [base, base, 0.02],
                [0.6, 0.15, 0.02],
                MATERIAL_MATTE,
            );
            for i in 0..4 {
                let z0 = 0.04 + (h - 0.04) * f64::from(i) / 4.0;
                let z1 = 0.04 + (h - 0.04) * f64::from(i + 1) / 4.0;
                let r = base * (0.75 - 0.17 * f64::from(i));
                b.cuboid(
                    [0.0, 0.0, 0.5 * (z0 + z1)],
                    [r, r, 0.5 * (z1 - z0)],
                    [0.8, 0.22, 0.02],
                    MATERIAL_STRIPES,
                );
            }
        }
        Class::Barrier | Class::Box => {
            let (colour, material) = if class == Class::Barrier {
                ([0.6, 0.04, 0.03], MATERIAL_STRIPES)
            } else {
                ([0.42, 0.28, 0.15], MATERIAL_MATTE)
            };
            b.cuboid(
                [0.0, 0.0, 0.5 * h],
                [0.5 * l, 0.5 * w, 0.5 * h],
                colour,
                material,
            );
        }
    }
}

/// A car (or an overturned one, lying on its roof) of `(length, width, height)`.
fn car(b: &mut Builder<'_>, (l, w, h): (f64, f64, f64), paint: [f64; 3], overturned: bool) {
    let wheel_r = (0.2 * h).clamp(0.25, 0.4);
    // Heights of the parts of an upright car; an overturned one has them mirrored.
    let z = |up: f64| if overturned { h - up } else { up };
    let body_lo = 0.6 * wheel_r;
    let body_hi = 0.62 * h;
    b.cuboid(
        [0.0, 0.0, 0.5 * (z(body_lo) + z(body_hi))],
        [0.5 * l, 0.5 * w, 0.5 * (body_hi - body_lo)],
        if overturned {
            [0.08, 0.08, 0.08]
        } else {
            paint
        },
        MATERIAL_MATTE,
    );
    let glass_hi = 0.94 * h;
    b.cuboid(
        [-0.08 * l, 0.0, 0.5 * (z(body_hi) + z(glass_hi))],
        [0.28 * l, 0.44 * w, 0.5 * (glass_hi - body_hi)],
        [0.02, 0.025, 0.03],
        MATERIAL_GLASS,
    );
    b.cuboid(
        [-0.08 * l, 0.0, 0.5 * (z(glass_hi) + z(h))],
        [0.29 * l, 0.45 * w, 0.5 * (h - glass_hi)],
        paint,
        MATERIAL_MATTE,
    );
    for y in [-1.0, 1.0] {
        b.cuboid(
            [
                -0.5 * l - 0.01,
                y * (0.5 * w - 0.16),
                z(0.5 * (body_lo + body_hi) + 0.1),
            ],
            [0.02, 0.13, 0.05],
            [0.5, 0.02, 0.02],
            MATERIAL_TAIL_LIGHT,
        );
        for x in [-0.33 * l, 0.33 * l] {
            b.ellipsoid(
                [x, y * (0.5 * w - 0.12), z(wheel_r)],
                [wheel_r, 0.11, wheel_r],
                TYRE,
                MATERIAL_TYRE,
            );
        }
    }
}

/// A person of height `h` standing (or, `standing == false`, riding with the feet `lift_m` above
/// the ground and the body over the saddle), facing the actor's x axis.
fn person(b: &mut Builder<'_>, h: f64, lift_m: f64, shirt: [f64; 3], standing: bool) {
    let s = h / 1.8;
    let hip = 0.47 * h;
    if standing {
        for y in [-0.1 * s, 0.1 * s] {
            b.cuboid(
                [0.0, y, 0.5 * hip],
                [0.08 * s, 0.07 * s, 0.5 * hip],
                TROUSERS,
                MATERIAL_MATTE,
            );
        }
    } else {
        for y in [-0.12 * s, 0.12 * s] {
            b.cuboid(
                [0.05, y, lift_m + 0.5 * hip],
                [0.07 * s, 0.07 * s, 0.5 * hip],
                TROUSERS,
                MATERIAL_MATTE,
            );
        }
    }
    let base = if standing { 0.0 } else { lift_m };
    let torso_lo = base + hip;
    let torso_hi = base + 0.82 * h;
    b.cuboid(
        [
            if standing { 0.0 } else { -0.05 },
            0.0,
            0.5 * (torso_lo + torso_hi),
        ],
        [0.12 * s, 0.19 * s, 0.5 * (torso_hi - torso_lo)],
        shirt,
        MATERIAL_MATTE,
    );
    for y in [-0.25 * s, 0.25 * s] {
        b.cuboid(
            [if standing { 0.0 } else { 0.12 }, y, base + 0.66 * h],
            [0.05 * s, 0.05 * s, 0.15 * h],
            shirt,
            MATERIAL_MATTE,
        );
    }
    b.ellipsoid(
        [0.0, 0.0, base + 0.9 * h],
        [0.08 * s, 0.075 * s, 0.1 * s],
        SKIN,
        MATERIAL_MATTE,
    );
}

/// World states at the given times of a case driven by the test driver alone (`builtin:none`,
/// simulated in closed loop with its trace): what `gauntlet render` shows.
pub fn test_driver_states(scenario: &Scenario, case_id: &str, times_s: &[f64]) -> Vec<WorldState> {
    let result = crate::sim::run_batch(
        vec![crate::sim::RunSpec {
            scenario,
            case_id,
            run_index: 0,
            system: Box::new(crate::sut::builtin::NoIntervention),
        }],
        &crate::sim::SimOptions {
            record_trace: true,
            ..crate::sim::SimOptions::default()
        },
    )
    .pop();
    let trace = result.and_then(|r| r.trace).unwrap_or_default();
    world_states(scenario, &trace, times_s)
}

/// World states of a run at the given times, from its trace: the last recorded step at or
/// before each time (before the first step, the scenario's initial poses; after the run ended,
/// its last step). Actor headings come from their motion over the step (or their initial
/// heading when they stand still).
pub fn world_states(
    scenario: &Scenario,
    trace: &crate::sim::Trace,
    times_s: &[f64],
) -> Vec<WorldState> {
    let initial = WorldState {
        time_s: 0.0,
        ego: ActorState {
            station_m: scenario.ego.pose.station_m,
            y_m: scenario.ego.pose.y_m,
            heading_rad: scenario.ego.pose.heading_rad,
        },
        actors: scenario
            .actors
            .iter()
            .map(|a| ActorState {
                station_m: a.pose.station_m,
                y_m: a.pose.y_m,
                heading_rad: a.pose.heading_rad,
            })
            .collect(),
    };
    let rows = &trace.rows;
    times_s
        .iter()
        .map(|&t| {
            let k = rows.partition_point(|r| r.time_s <= t + 1e-9);
            if k == 0 {
                return WorldState {
                    time_s: t,
                    ..initial.clone()
                };
            }
            let row = &rows[k - 1];
            let prev = (k >= 2).then(|| &rows[k - 2]);
            let actors = scenario
                .actors
                .iter()
                .zip(&row.actors)
                .enumerate()
                .map(|(i, (a, &(s, y, _)))| {
                    let moved = prev.and_then(|p| p.actors.get(i)).and_then(|&(s0, y0, _)| {
                        let (ds, dy) = (s - s0, y - y0);
                        (ds.hypot(dy) > 1e-4).then(|| dy.atan2(ds))
                    });
                    ActorState {
                        station_m: s,
                        y_m: y,
                        heading_rad: moved.unwrap_or(a.pose.heading_rad),
                    }
                })
                .collect();
            WorldState {
                time_s: row.time_s,
                ego: ActorState {
                    station_m: row.ego_station_m,
                    y_m: row.ego_y_m,
                    heading_rad: row.ego_heading_rad,
                },
                actors,
            }
        })
        .collect()
}
