//! Ganglion: an IoT gateway agent running user JavaScript Node-style on QuickJS.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library; benchmarks and tests use it too.

pub mod check;
pub mod config;
pub mod devices;
pub mod js;
pub mod logging;
pub mod mqtt;
pub mod ota;
pub mod sensors;
pub mod services;
pub mod sub;
pub mod supervisor;
