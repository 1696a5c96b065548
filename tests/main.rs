//! End-to-end tests: one test binary, one module per topic. They run the real `ganglion` binary
//! (and, per topic, a real Mosquitto, real pseudo-terminals, qemu).

mod common;
mod io;
mod mqtt;
mod ota;
mod runtime;
mod sensors;
