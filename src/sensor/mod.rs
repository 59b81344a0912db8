//! Sensor models: what the system under test perceives of the world.
//!
//! `object_list` models a radar/fusion stage. Camera rendering (on the GPU) and satellite
//! positioning join here in later work.

pub mod object_list;
