//! Camera frames: the scene one camera sees at one instant, as plain data shared by the WGSL
//! renderer (`shaders/render.wgsl`) and its CPU reference ([`cpu::render`]), and the frames
//! they produce (colour, depth, instance ids, per-instance coverage) with their labels.
//!
//! Frames: the world frame is the road's Cartesian frame: origin at station 0 on the reference
//! line, x along the road's initial direction, y to the left, z up. A road-frame pose
//! (station, lateral offset, heading relative to the road) maps to it by [`world_from_road`].
//! The camera frame is x right, y down, z forward (the optical axis), as OpenCV and KITTI
//! have it. The ego frame is x forward, y left, z up, with its origin on the ground under the
//! centre of the ego's footprint.
//!
//! Everything in this module is plain data and pure functions, except [`output`], which writes
//! the files of `gauntlet render`; only `crate::gpu` touches wgpu.

pub mod cpu;
pub mod labels;
pub mod output;
pub mod scene;

use bytemuck::{Pod, Zeroable};

pub use labels::{Label, labels};
pub use scene::{ActorState, WorldState, build_frame};

/// Workgroup size of the renderer in x and y (shader and dispatch agree on it).
pub const WORKGROUP_SIZE: u32 = 8;

/// Largest frame edge the renderer accepts, pixels.
pub const MAX_FRAME_EDGE_PX: u32 = 4096;

/// One frame to render: camera, light and road (all `vec4`-shaped so that WGSL's layout and
/// Rust's agree without padding rules). Mirrors `struct View` in `shaders/render.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct View {
    /// Camera position in the world, m (w unused).
    pub origin: [f32; 4],
    /// Camera x axis (right) in the world.
    pub axis_x: [f32; 4],
    /// Camera y axis (down) in the world.
    pub axis_y: [f32; 4],
    /// Camera z axis (forward, the optical axis) in the world.
    pub axis_z: [f32; 4],
    /// `fx, fy, cx, cy`, pixels.
    pub intrinsics: [f32; 4],
    /// Radial distortion `k1, k2` (Brown–Conrady, on normalised coordinates), then unused.
    pub distortion: [f32; 4],
    /// Unit vector towards the sun in the world (xyz); w: sun strength (0 at night).
    pub sun: [f32; 4],
    /// `ambient, exposure, headlight strength, night (0 or 1)`.
    pub light: [f32; 4],
    /// The ego's right and left headlight in the world (xyz), m; w unused.
    pub lamp_right: [f32; 4],
    pub lamp_left: [f32; 4],
    /// Unit vector along the headlights' beam axis in the world (xyz); w unused.
    pub lamp_dir: [f32; 4],
    /// Road: `curvature 1/m, length m, right paved edge y m, left paved edge y m`.
    pub road: [f32; 4],
    /// Road: `marking width m, right edge kind, left edge kind, dash length m` (kinds as
    /// [`EDGE_GRASS`] …).
    pub road_more: [f32; 4],
    /// `width px, height px, first pixel in the output buffers, first coverage counter`.
    pub frame: [u32; 4],
    /// `first primitive, primitives, first marking, markings`: indices into the CPU
    /// reference's slices; on the GPU path into the frame's scene block (primitives from 0,
    /// then markings, counted in `vec4`s: `gpu.rs` sets them).
    pub ranges: [u32; 4],
    /// GPU path only: `row-block stride, row blocks, 0, 0`, the order in which a dispatch's
    /// rows of workgroups visit the frame's rows of [`WORKGROUP_SIZE`]-pixel blocks (see
    /// [`row_block_stride`]; `gpu.rs` sets it). The CPU reference ignores it.
    pub schedule: [u32; 4],
}

/// The stride at which a dispatch's rows of workgroups visit a frame's `blocks` rows of blocks:
/// workgroup row `i` renders block row `i · stride mod blocks`. The stride is coprime with
/// `blocks` (so every block row is rendered once) and near `blocks / φ`, so that any run of
/// consecutive workgroup rows is spread over the whole frame. A software driver (lavapipe)
/// splits a dispatch's workgroups into one contiguous run per thread; rendered top to bottom,
/// one thread got the sky and the other the road and the actors, and one core idled for a
/// third of each frame.
pub fn row_block_stride(blocks: u32) -> u32 {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let mut stride = ((f64::from(blocks) * 0.618_034).round() as u32).max(1);
    while gcd(stride, blocks) != 1 {
        stride += 1;
    }
    stride
}

/// One shaded shape of an actor: an oriented box or ellipsoid in the world. Mirrors
/// `struct Prim` in `shaders/render.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Prim {
    /// Centre in the world (xyz), m; w: cosine of the yaw about z.
    pub centre: [f32; 4],
    /// Half extents along the shape's own x, y, z, m; w: sine of the yaw about z.
    pub half: [f32; 4],
    /// Linear albedo (rgb); w: material ([`MATERIAL_MATTE`] …).
    pub colour: [f32; 4],
    /// `instance id (1-based; 0 = none), class, shape ([`SHAPE_BOX`], [`SHAPE_ELLIPSOID`],
    /// [`SHAPE_BOUND`]), primitives in the bound's group (bounds only, else 0)`.
    pub ids: [u32; 4],
}

/// One painted line. Mirrors `struct Marking` in `shaders/render.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Marking {
    /// `lateral position y m, kind (MARKING_*), 0, 0`.
    pub line: [f32; 4],
}

pub const SHAPE_BOX: u32 = 0;
pub const SHAPE_ELLIPSOID: u32 = 1;
/// Not drawn: a sphere (centre xyz, radius `half.x`) enclosing the `ids.w` primitives that
/// follow it. A ray that misses the sphere skips them all; the sphere is conservative, so
/// skipping never changes a pixel, it only saves the tests (`misses_bound` in the shader).
pub const SHAPE_BOUND: u32 = 2;

/// Plain diffuse surface.
pub const MATERIAL_MATTE: f32 = 0.0;
/// Dark glass with a sky reflection.
pub const MATERIAL_GLASS: f32 = 1.0;
/// Tail light: red, glowing at night.
pub const MATERIAL_TAIL_LIGHT: f32 = 2.0;
/// Horizontal white stripes (cones, barriers).
pub const MATERIAL_STRIPES: f32 = 3.0;
/// Tyre rubber (dark, rough).
pub const MATERIAL_TYRE: f32 = 4.0;

pub const MARKING_SOLID: f32 = 1.0;
pub const MARKING_DASHED: f32 = 2.0;
pub const MARKING_DOUBLE_SOLID: f32 = 3.0;

pub const EDGE_GRASS: f32 = 0.0;
pub const EDGE_GRAVEL: f32 = 1.0;
pub const EDGE_CURB: f32 = 2.0;
pub const EDGE_BARRIER: f32 = 3.0;

/// Object classes, as labels name them (`ids[1]` of a primitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Class {
    Car = 1,
    Pedestrian = 2,
    Cyclist = 3,
    Motorcycle = 4,
    Cone = 5,
    Barrier = 6,
    Box = 7,
    OverturnedCar = 8,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::Car,
        Class::Pedestrian,
        Class::Cyclist,
        Class::Motorcycle,
        Class::Cone,
        Class::Barrier,
        Class::Box,
        Class::OverturnedCar,
    ];

    /// The class name in labels (COCO category, KITTI type).
    pub fn name(self) -> &'static str {
        match self {
            Class::Car => "car",
            Class::Pedestrian => "pedestrian",
            Class::Cyclist => "cyclist",
            Class::Motorcycle => "motorcycle",
            Class::Cone => "cone",
            Class::Barrier => "barrier",
            Class::Box => "box",
            Class::OverturnedCar => "overturned_car",
        }
    }
}

/// Day or night.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Light {
    #[default]
    Day,
    /// About 1 lux of ambient light; the ego's headlights and the actors' tail lights on.
    Night,
}

/// Light of a scene.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lighting {
    pub light: Light,
    /// Sun elevation above the horizon, rad.
    pub sun_elevation_rad: f64,
    /// Sun azimuth from the world x axis towards y (counter-clockwise seen from above), rad.
    pub sun_azimuth_rad: f64,
}

impl Default for Lighting {
    fn default() -> Self {
        Lighting {
            light: Light::Day,
            sun_elevation_rad: 45f64.to_radians(),
            sun_azimuth_rad: 135f64.to_radians(),
        }
    }
}

/// A camera on the ego.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    /// Names the camera in file names and labels (`front`).
    pub id: String,
    pub width_px: u32,
    pub height_px: u32,
    /// Horizontal field of view, rad (of the undistorted pinhole).
    pub hfov_rad: f64,
    /// Mount position in the ego frame (x forward, y left, z up from the ground under the
    /// footprint's centre), m.
    pub position_in_ego_m: [f64; 3],
    /// Yaw to the left, pitch down, roll clockwise (seen from behind), rad.
    pub yaw_rad: f64,
    pub pitch_rad: f64,
    pub roll_rad: f64,
    /// Radial distortion coefficients (Brown–Conrady `k1`, `k2`); 0: a pinhole.
    pub k1: f64,
    pub k2: f64,
    /// Frame rate in the closed loop, Hz (divides the physics rate).
    pub rate_hz: f64,
}

impl Camera {
    /// A forward camera behind the windscreen: 1280×720, 60° horizontal, 1.3 m high.
    pub fn front(ego_length_m: f64) -> Camera {
        Camera {
            id: "front".into(),
            width_px: 1280,
            height_px: 720,
            hfov_rad: 60f64.to_radians(),
            position_in_ego_m: [ego_length_m / 2.0 - 1.9, 0.0, 1.3],
            yaw_rad: 0.0,
            pitch_rad: 0.0,
            roll_rad: 0.0,
            k1: 0.0,
            k2: 0.0,
            rate_hz: 20.0,
        }
    }

    /// Focal length in pixels (square pixels).
    pub fn focal_px(&self) -> f64 {
        0.5 * f64::from(self.width_px) / (0.5 * self.hfov_rad).tan()
    }
}

/// A rendered frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub width_px: u32,
    pub height_px: u32,
    /// RGBA8, row-major from the top-left pixel.
    pub rgba: Vec<u8>,
    /// Depth along the optical axis, m; 0 where the ray meets nothing (sky).
    pub depth_m: Vec<f32>,
    /// Instance id of the actor seen at each pixel (1-based; 0: road, verge or sky).
    pub instance: Vec<u32>,
    /// Per instance id (index 0 unused): pixels whose ray passes through the actor, whether or
    /// not something nearer hides it (its unoccluded footprint in the image).
    pub coverage: Vec<u32>,
}

/// A pose in the world: position (x, y on the ground) and yaw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorldPose {
    pub x_m: f64,
    pub y_m: f64,
    pub yaw_rad: f64,
}

/// The world pose of a road-frame pose on a road of signed curvature `curvature_per_m`
/// (positive turns left): `world = line(s) + d·normal(s)`, yaw = road direction + heading.
pub fn world_from_road(
    curvature_per_m: f64,
    station_m: f64,
    y_m: f64,
    heading_rad: f64,
) -> WorldPose {
    let k = curvature_per_m;
    if k.abs() < 1e-12 {
        return WorldPose {
            x_m: station_m,
            y_m,
            yaw_rad: heading_rad,
        };
    }
    let psi = station_m * k;
    let (sin, cos) = psi.sin_cos();
    WorldPose {
        x_m: sin / k - y_m * sin,
        y_m: (1.0 - cos) / k + y_m * cos,
        yaw_rad: psi + heading_rad,
    }
}

/// The road-frame station and lateral offset of a world point (inverse of
/// [`world_from_road`] for points within the curve's radius). Same math as `road_from_world` in
/// `shaders/render.wgsl`, in f64.
pub fn road_from_world(curvature_per_m: f64, x_m: f64, y_m: f64) -> (f64, f64) {
    let k = curvature_per_m;
    if k.abs() < 1e-12 {
        return (x_m, y_m);
    }
    let (vx, vy) = (x_m, y_m - 1.0 / k);
    let psi = (k * vx).atan2(-k * vy);
    (psi / k, 1.0 / k - k.signum() * (vx * vx + vy * vy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_block_stride_visits_every_block_row_once() {
        for blocks in 1..=MAX_FRAME_EDGE_PX / WORKGROUP_SIZE {
            let stride = row_block_stride(blocks);
            let mut seen = vec![false; blocks as usize];
            for i in 0..blocks {
                let row = (i * stride % blocks) as usize;
                assert!(
                    !seen[row],
                    "{blocks} blocks, stride {stride}: row {row} twice"
                );
                seen[row] = true;
            }
        }
        // Either half of a 640×360 frame's 45 block rows reaches both its top and its bottom.
        let stride = row_block_stride(45);
        for half in [0..23u32, 23..45] {
            let rows: Vec<u32> = half.map(|i| i * stride % 45).collect();
            assert!(
                rows.iter().any(|&r| r < 5) && rows.iter().any(|&r| r >= 40),
                "{rows:?}"
            );
        }
    }

    #[test]
    fn road_and_world_round_trip_on_straight_and_curved_roads() {
        for k in [0.0, 1.0 / 250.0, -1.0 / 400.0] {
            for (s, d) in [(0.0, 0.0), (37.5, 1.75), (120.0, -5.25), (300.0, 3.0)] {
                let w = world_from_road(k, s, d, 0.1);
                let (s2, d2) = road_from_world(k, w.x_m, w.y_m);
                assert!(
                    (s - s2).abs() < 1e-9 && (d - d2).abs() < 1e-9,
                    "k {k}: {s},{d} → {s2},{d2}"
                );
                assert!((w.yaw_rad - (s * k + 0.1)).abs() < 1e-12);
            }
        }
        // A left curve bends towards +y.
        let w = world_from_road(1.0 / 100.0, 100.0 * std::f64::consts::FRAC_PI_2, 0.0, 0.0);
        assert!((w.x_m - 100.0).abs() < 1e-9 && (w.y_m - 100.0).abs() < 1e-9);
    }

    #[test]
    fn gpu_structs_have_the_wgsl_sizes() {
        assert_eq!(std::mem::size_of::<View>(), 16 * 16);
        assert_eq!(std::mem::size_of::<Prim>(), 4 * 16);
        assert_eq!(std::mem::size_of::<Marking>(), 16);
    }
}
