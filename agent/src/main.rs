//! `ganglion`: the gateway agent binary.
fn main() {}
