//! Sensor models: what the system under test perceives of the world.
//!
//! `object_list` models a radar/fusion stage; `gnss` is the satellite-positioning receiver
//! moving with the ego. Camera rendering (on the GPU) joins here in later work.

pub mod gnss;
pub mod object_list;
