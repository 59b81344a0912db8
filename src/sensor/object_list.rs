//! The object-list sensor: ground truth turned into what a radar/fusion stage delivers —
//! limited field of view and range, latency, update rate, noise and dropouts.
//!
//! Noise is counter-based (`rng.rs`): stream `object_list`, step = physics step of the
//! measurement, element = 4 × actor index + component, so a measurement is the same whatever
//! the thread count or shard.

use crate::rng::StreamKey;
use crate::scenario::model::{Actor, ActorKind, ObjectSensor};
use crate::sim::collision::Footprint;
use crate::sut::{ObjectClass, TrackedObject};

/// Ground truth of one actor at one instant, in the world frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActorTruth {
    pub footprint: Footprint,
    pub vel_world_mps: (f64, f64),
}

/// Ground truth of the ego at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EgoTruth {
    pub footprint: Footprint,
    pub vel_world_mps: (f64, f64),
}

pub fn class_of(kind: ActorKind) -> ObjectClass {
    match kind {
        ActorKind::Car => ObjectClass::Car,
        ActorKind::Pedestrian { .. } => ObjectClass::Pedestrian,
        ActorKind::Cyclist => ObjectClass::Cyclist,
        ActorKind::Motorcycle => ObjectClass::Motorcycle,
        ActorKind::Cone | ActorKind::Barrier | ActorKind::Box | ActorKind::OverturnedCar => {
            ObjectClass::StaticObstacle
        }
    }
}

/// One measurement of all actors, taken at `measured_step` (time `measured_at_s`).
#[allow(clippy::too_many_arguments)] // Bindings in the order of the data flow, as a shader would take them.
pub fn object_list(
    sensor: &ObjectSensor,
    key: &StreamKey,
    measured_step: u32,
    measured_at_s: f64,
    ego: &EgoTruth,
    actors: &[Actor],
    truths: &[ActorTruth],
    out: &mut Vec<TrackedObject>,
) {
    out.clear();
    let e = &ego.footprint;
    let (c, s) = (e.heading_rad.cos(), e.heading_rad.sin());
    for (i, (actor, truth)) in actors.iter().zip(truths).enumerate() {
        let local = e.to_local((truth.footprint.x_m, truth.footprint.y_m));
        let pos = [local.0 - e.length_m / 2.0, local.1];
        let range = (pos[0] * pos[0] + pos[1] * pos[1]).sqrt();
        let bearing = pos[1].atan2(pos[0]);
        if range > sensor.range_m || bearing.abs() > sensor.fov_rad / 2.0 + 1e-12 {
            continue;
        }
        let element = 4 * i as u32;
        if sensor.dropout_probability > 0.0
            && key.uniform_f64(measured_step, element) < sensor.dropout_probability
        {
            continue;
        }
        let dv = (
            truth.vel_world_mps.0 - ego.vel_world_mps.0,
            truth.vel_world_mps.1 - ego.vel_world_mps.1,
        );
        let mut rel_vel = [c * dv.0 + s * dv.1, -s * dv.0 + c * dv.1];
        let mut pos = pos;
        if sensor.pos_noise_sd_m > 0.0 {
            pos[0] += sensor.pos_noise_sd_m * key.normal_f64(measured_step, element + 1);
            pos[1] += sensor.pos_noise_sd_m * key.normal_f64(measured_step, element + 2);
        }
        if sensor.vel_noise_sd_mps > 0.0 {
            // Independent draws for the two components: stream words 0–1 and 2–3 of one counter.
            let n = key.normal_pair_f64(measured_step, element + 3);
            rel_vel[0] += sensor.vel_noise_sd_mps * n.0;
            rel_vel[1] += sensor.vel_noise_sd_mps * n.1;
        }
        out.push(TrackedObject {
            track_id: i as u32 + 1,
            class: class_of(actor.kind),
            pos_in_ego_m: pos,
            rel_vel_in_ego_mps: rel_vel,
            heading_in_ego_rad: crate::sim::vehicle::wrap_angle(
                truth.footprint.heading_rad - e.heading_rad,
            ),
            length_m: actor.length_m,
            width_m: actor.width_m,
            measured_at_s,
        });
    }
}
