//! Labels of a rendered frame, from the scene: per visible actor its projected 2D box (clipped
//! to the image), truncation, visible fraction (pixels where it is the nearest surface over
//! pixels its unoccluded shape covers), distance and KITTI pose fields.

use super::Class;
use super::Frame;
use super::scene::{FrameScene, SceneObject};

/// One visible actor in one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub instance: u32,
    pub class: Class,
    pub actor_id: String,
    /// `x0, y0, x1, y1` in pixels (edges, so a one-pixel box at (3, 4) is `3, 4, 4, 5`),
    /// clipped to the image.
    pub bbox_px: [f64; 4],
    /// Share of the projected box outside the image, 0–1 (KITTI `truncated`).
    pub truncated: f64,
    /// Pixels where the actor is the nearest surface.
    pub visible_px: u32,
    /// `visible_px` over the pixels its unoccluded shape covers, 0–1.
    pub visible_fraction: f64,
    /// Distance from the camera to the actor's centre, m.
    pub distance_m: f64,
    /// KITTI: bottom centre of the 3D box in the camera frame, m.
    pub location_in_camera_m: [f64; 3],
    /// KITTI: rotation about the camera's y axis, rad; `alpha`: observation angle, rad.
    pub rotation_y_rad: f64,
    pub alpha_rad: f64,
    /// `height, width, length`, m (KITTI order).
    pub dims_m: [f64; 3],
}

impl Label {
    /// KITTI `occluded`: 0 fully visible, 1 partly, 2 largely occluded.
    pub fn kitti_occluded(&self) -> u8 {
        if self.visible_fraction >= 0.95 {
            0
        } else if self.visible_fraction >= 0.5 {
            1
        } else {
            2
        }
    }
}

fn wrap_pi(a: f64) -> f64 {
    let t = std::f64::consts::TAU;
    let r = (a + std::f64::consts::PI).rem_euclid(t) - std::f64::consts::PI;
    if r <= -std::f64::consts::PI { r + t } else { r }
}

/// The 8 corners of an actor's 3D box in the world.
fn corners(o: &SceneObject) -> [[f64; 3]; 8] {
    let (s, c) = o.pose.yaw_rad.sin_cos();
    let mut out = [[0.0; 3]; 8];
    let mut i = 0;
    for dx in [-0.5, 0.5] {
        for dy in [-0.5, 0.5] {
            for z in [0.0, o.height_m] {
                let (x, y) = (dx * o.length_m, dy * o.width_m);
                out[i] = [o.pose.x_m + c * x - s * y, o.pose.y_m + s * x + c * y, z];
                i += 1;
            }
        }
    }
    out
}

/// Labels of every actor visible in `frame` (rendered from `scene`), by instance id.
pub fn labels(scene: &FrameScene, frame: &Frame) -> Vec<Label> {
    let (w, h) = (frame.width_px as usize, frame.height_px as usize);
    let n = scene
        .objects
        .iter()
        .map(|o| o.instance as usize)
        .max()
        .unwrap_or(0)
        + 1;
    // Visible pixel count and extent per instance.
    let mut count = vec![0u32; n];
    let mut extent = vec![[usize::MAX, usize::MAX, 0usize, 0usize]; n];
    for y in 0..h {
        for x in 0..w {
            let id = frame.instance[y * w + x] as usize;
            if id == 0 || id >= n {
                continue;
            }
            count[id] += 1;
            let e = &mut extent[id];
            e[0] = e[0].min(x);
            e[1] = e[1].min(y);
            e[2] = e[2].max(x + 1);
            e[3] = e[3].max(y + 1);
        }
    }
    let cam = &scene.camera_from_world;
    let mut out = Vec::new();
    for o in &scene.objects {
        let id = o.instance as usize;
        let visible = count[id];
        if visible == 0 {
            continue;
        }
        let covered = frame.coverage.get(id).copied().unwrap_or(0).max(visible);
        // Projected box: all corners in front of the camera, else the visible extent.
        let projected: Option<Vec<(f64, f64)>> = corners(o)
            .iter()
            .map(|p| cam.project(*p).map(|(u, v, _)| (u, v)))
            .collect();
        let e = extent[id];
        let visible_box = [e[0] as f64, e[1] as f64, e[2] as f64, e[3] as f64];
        let (bbox, truncated) = match projected {
            Some(pts) => {
                let x0 = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
                let x1 = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
                let y0 = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                let y1 = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
                let area = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
                let c = [
                    x0.clamp(0.0, w as f64),
                    y0.clamp(0.0, h as f64),
                    x1.clamp(0.0, w as f64),
                    y1.clamp(0.0, h as f64),
                ];
                let inside = (c[2] - c[0]) * (c[3] - c[1]);
                let t = if area > 0.0 {
                    (1.0 - inside / area).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                (c, t)
            }
            None => (visible_box, 1.0),
        };
        // KITTI pose in the camera frame.
        let centre = [o.pose.x_m, o.pose.y_m, 0.0];
        let rel = [
            centre[0] - cam.origin[0],
            centre[1] - cam.origin[1],
            centre[2] - cam.origin[2],
        ];
        let in_cam = |v: [f64; 3]| {
            [
                cam.axes[0][0] * v[0] + cam.axes[0][1] * v[1] + cam.axes[0][2] * v[2],
                cam.axes[1][0] * v[0] + cam.axes[1][1] * v[1] + cam.axes[1][2] * v[2],
                cam.axes[2][0] * v[0] + cam.axes[2][1] * v[1] + cam.axes[2][2] * v[2],
            ]
        };
        let loc = in_cam(rel);
        let fwd = in_cam([o.pose.yaw_rad.cos(), o.pose.yaw_rad.sin(), 0.0]);
        let rotation_y = wrap_pi(-fwd[2].atan2(fwd[0]));
        let alpha = wrap_pi(rotation_y - loc[0].atan2(loc[2]));
        let mid = [rel[0], rel[1], rel[2] + 0.5 * o.height_m];
        out.push(Label {
            instance: o.instance,
            class: o.class,
            actor_id: o.actor_id.clone(),
            bbox_px: bbox,
            truncated,
            visible_px: visible,
            visible_fraction: f64::from(visible) / f64::from(covered),
            distance_m: (mid[0] * mid[0] + mid[1] * mid[1] + mid[2] * mid[2]).sqrt(),
            location_in_camera_m: loc,
            rotation_y_rad: rotation_y,
            alpha_rad: alpha,
            dims_m: [o.height_m, o.width_m, o.length_m],
        });
    }
    out
}
