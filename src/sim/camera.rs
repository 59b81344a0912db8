//! Cameras in the closed loop: which frames are due at a step, the scene each due camera sees,
//! and what a rendered frame becomes: the colour pixels its system sees ([`CameraFrame`]) and
//! the renderer's labels that the system's detections are scored against ([`ScoredFrame`]).
//!
//! A camera renders at its own rate (`rate_hz` divides the physics rate), exposed at the step
//! it is due, and only when its system will be stepped before the camera's next frame (a
//! frame nobody would see is not rendered). Frames of every run of a lockstep batch due at a
//! step are rendered together in one call (`sim::run_batch_rendering`). No I/O.

use crate::render::scene::FrameScene;
use crate::render::{self, Camera, Class, Frame, WorldState};
use crate::sut::{CameraFrame, Detection, ObjectClass};

/// One actor as the renderer labels it in a frame: the ground truth of detection scoring.
#[derive(Clone, Debug, PartialEq)]
pub struct TruthBox {
    /// 1-based instance id (the actor's index + 1).
    pub instance: u32,
    pub class: ObjectClass,
    /// `x0, y0, x1, y1`, pixels (edges), clipped to the image.
    pub bbox_px: [f64; 4],
    /// Pixels where the actor is the nearest surface over the pixels its unoccluded shape
    /// covers, 0–1.
    pub visible_fraction: f64,
    /// Depth along the optical axis to the actor's nearest visible surface (the smallest depth
    /// over its visible pixels), m.
    pub distance_m: f64,
    /// The actor is the nearest in-path actor ahead of the ego when the frame was exposed.
    pub in_path: bool,
}

/// One camera frame that a system was handed, with the labels of the renderer and the
/// detections the system returned for it (those naming this camera and carrying a box).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredFrame {
    pub camera: usize,
    pub exposed_at_s: f64,
    pub truths: Vec<TruthBox>,
    pub detections: Vec<Detection>,
}

/// The class a detection of this rendered class should report.
pub fn object_class(class: Class) -> ObjectClass {
    match class {
        Class::Car => ObjectClass::Car,
        Class::Pedestrian => ObjectClass::Pedestrian,
        Class::Cyclist => ObjectClass::Cyclist,
        Class::Motorcycle => ObjectClass::Motorcycle,
        Class::Cone | Class::Barrier | Class::Box | Class::OverturnedCar => {
            ObjectClass::StaticObstacle
        }
    }
}

/// The labels of a rendered frame as truth boxes; `lead_instance`: the nearest in-path actor.
pub fn truth_boxes(scene: &FrameScene, frame: &Frame, lead_instance: Option<u32>) -> Vec<TruthBox> {
    let labels = render::labels(scene, frame);
    let n = labels
        .iter()
        .map(|l| l.instance as usize)
        .max()
        .unwrap_or(0)
        + 1;
    let mut nearest_m = vec![f32::INFINITY; n];
    for (&id, &depth) in frame.instance.iter().zip(&frame.depth_m) {
        if let Some(slot) = nearest_m.get_mut(id as usize) {
            if id != 0 && depth > 0.0 && depth < *slot {
                *slot = depth;
            }
        }
    }
    labels
        .iter()
        .map(|l| TruthBox {
            instance: l.instance,
            class: object_class(l.class),
            bbox_px: l.bbox_px,
            visible_fraction: l.visible_fraction,
            distance_m: match nearest_m[l.instance as usize] {
                d if d.is_finite() => f64::from(d),
                _ => l.distance_m,
            },
            in_path: lead_instance == Some(l.instance),
        })
        .collect()
}

/// Whether a camera that renders every `camera_every` physics steps has a frame due at `step`
/// that a system stepped every `sut_every` steps will see (it is stepped at or after `step`
/// and before the camera's next frame).
pub fn frame_due(step: u64, camera_every: u64, sut_every: u64) -> bool {
    let (camera_every, sut_every) = (camera_every.max(1), sut_every.max(1));
    step % camera_every == 0 && step.div_ceil(sut_every) * sut_every < step + camera_every
}

/// The cameras of one run whose system sees through them: their latest frames and the frames
/// scored so far.
#[derive(Debug)]
pub struct CameraRig {
    cameras: Vec<Camera>,
    /// Physics steps between two frames, per camera.
    every_n_steps: Vec<u64>,
    /// The latest frame of each camera (all of them once the first step has rendered).
    frames: Vec<CameraFrame>,
    /// The labels of each camera's latest frame.
    truths: Vec<Vec<TruthBox>>,
    /// Per camera: the index of the last frame scored.
    scored_frame: Vec<Option<u64>>,
    scored: Vec<ScoredFrame>,
}

impl CameraRig {
    /// The rig of a scenario's cameras at physics step `dt_s`.
    pub fn new(cameras: &[Camera], dt_s: f64) -> CameraRig {
        CameraRig {
            cameras: cameras.to_vec(),
            every_n_steps: cameras
                .iter()
                .map(|c| ((1.0 / (dt_s * c.rate_hz)).round() as u64).max(1))
                .collect(),
            frames: Vec::with_capacity(cameras.len()),
            truths: vec![Vec::new(); cameras.len()],
            scored_frame: vec![None; cameras.len()],
            scored: Vec::new(),
        }
    }

    pub fn cameras(&self) -> &[Camera] {
        &self.cameras
    }

    /// The cameras with a frame due at `step` for a system stepped every `sut_every` steps.
    pub fn due(&self, step: u64, sut_every: u64) -> impl Iterator<Item = usize> + '_ {
        (0..self.cameras.len()).filter(move |&i| frame_due(step, self.every_n_steps[i], sut_every))
    }

    /// The latest frames, as the observation borrows them.
    pub fn frames(&self) -> &[CameraFrame] {
        &self.frames
    }

    /// A rendered frame of camera `camera`, exposed at `exposed_at_s`: its colour pixels become
    /// the camera's latest frame (moved, not copied), its labels the truth it is scored by.
    pub fn deliver(
        &mut self,
        camera: usize,
        frame: Frame,
        scene: &FrameScene,
        exposed_at_s: f64,
        lead_instance: Option<u32>,
    ) {
        self.truths[camera] = truth_boxes(scene, &frame, lead_instance);
        let (width_px, height_px) = (frame.width_px, frame.height_px);
        if let Some(latest) = self.frames.get_mut(camera) {
            latest.frame_index += 1;
            latest.exposed_at_s = exposed_at_s;
            latest.width_px = width_px;
            latest.height_px = height_px;
            latest.rgba = frame.rgba;
        } else {
            // Every camera is due at step 0, in order, so the frames arrive in camera order.
            self.frames.push(CameraFrame {
                camera: self.cameras[camera].clone(),
                frame_index: 0,
                exposed_at_s,
                width_px,
                height_px,
                rgba: frame.rgba,
            });
        }
    }

    /// The system answered an observation holding the latest frames with these detections:
    /// each frame it had not answered for before is scored with the detections that name it.
    pub fn score(&mut self, detections: &[Detection]) {
        for (camera, frame) in self.frames.iter().enumerate() {
            if self.scored_frame[camera] == Some(frame.frame_index) {
                continue;
            }
            self.scored_frame[camera] = Some(frame.frame_index);
            self.scored.push(ScoredFrame {
                camera,
                exposed_at_s: frame.exposed_at_s,
                truths: self.truths[camera].clone(),
                detections: detections
                    .iter()
                    .filter(|d| d.camera == camera && d.bbox_px.is_some())
                    .cloned()
                    .collect(),
            });
        }
    }

    /// The frames scored in the run, in the order they were answered.
    pub fn into_scored(self) -> Vec<ScoredFrame> {
        self.scored
    }
}

/// The scene camera `camera` on the ego sees in `state`.
pub fn scene(
    scenario: &crate::scenario::model::Scenario,
    camera: &Camera,
    state: &WorldState,
) -> FrameScene {
    render::build_frame(scenario, &scenario.lighting, camera, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_due_at_the_camera_rate_and_only_when_the_system_will_see_them() {
        // Camera at 20 Hz, physics at 100 Hz (every 5 steps); system at 20 Hz: every frame.
        let due: Vec<u64> = (0..20).filter(|&k| frame_due(k, 5, 5)).collect();
        assert_eq!(due, vec![0, 5, 10, 15]);
        // System at 10 Hz: every other frame would be overwritten unseen.
        let due: Vec<u64> = (0..20).filter(|&k| frame_due(k, 5, 10)).collect();
        assert_eq!(due, vec![0, 10]);
        // System at 50 Hz sees every 20 Hz frame.
        let due: Vec<u64> = (0..20).filter(|&k| frame_due(k, 5, 2)).collect();
        assert_eq!(due, vec![0, 5, 10, 15]);
        // Camera at 10 Hz (every 10 steps), system every 4 steps: frames at 0, 10 (seen at
        // 12), 20 (seen at 20).
        let due: Vec<u64> = (0..25).filter(|&k| frame_due(k, 10, 4)).collect();
        assert_eq!(due, vec![0, 10, 20]);
    }
}
