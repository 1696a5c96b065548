//! (filled in by the hardware/sensor work)
