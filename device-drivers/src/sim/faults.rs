//! Misbehaving I2C devices for failure tests: one that never answers, one that answers with
//! garbage, one that stalls the bus (clock stretching gone wrong) before failing.

use std::time::Duration;

use super::rng::XorShift64;
use super::{SimI2cDevice, SimNack};

/// Never acknowledges anything: drivers see `ENXIO`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NackDevice;

impl SimI2cDevice for NackDevice {
    fn write(&mut self, _data: &[u8]) -> Result<(), SimNack> {
        Err(SimNack)
    }

    fn read(&mut self, _buf: &mut [u8]) -> Result<(), SimNack> {
        Err(SimNack)
    }
}

/// Acknowledges every write and answers every read with random bytes: drivers see a wrong chip
/// id (`ENODEV`), CRC failures (`EBADMSG`) or out-of-range data, never a plausible reading.
#[derive(Debug, Clone)]
pub struct GarbageDevice {
    rng: XorShift64,
}

impl GarbageDevice {
    /// Garbage from PRNG `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: XorShift64::new(seed),
        }
    }
}

impl SimI2cDevice for GarbageDevice {
    fn write(&mut self, _data: &[u8]) -> Result<(), SimNack> {
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack> {
        self.rng.fill(buf);
        Ok(())
    }
}

/// Holds every transfer for `delay` (blocking the caller, like a slave stretching SCL) and then
/// NACKs. Models a device that times out: the agent's per-read timeout has to fire first. Note
/// that it stalls whatever else shares its simulated bus while it holds it, as on real hardware.
#[derive(Debug, Clone, Copy)]
pub struct StallDevice {
    /// How long each transfer hangs.
    pub delay: Duration,
}

impl SimI2cDevice for StallDevice {
    fn write(&mut self, _data: &[u8]) -> Result<(), SimNack> {
        std::thread::sleep(self.delay);
        Err(SimNack)
    }

    fn read(&mut self, _buf: &mut [u8]) -> Result<(), SimNack> {
        std::thread::sleep(self.delay);
        Err(SimNack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::bme280::{Bme280, Bme280Config, Variant};
    use crate::drivers::sht3x::{Repeatability, Sht3x};
    use crate::error::ErrorCode;
    use crate::sim::testutil::{NoDelay, SimBus};

    #[test]
    fn nack_device_is_enxio() {
        let bus = SimBus::new(0x76, Box::new(NackDevice));
        let e = Bme280::new(bus, NoDelay, 0x76, Bme280Config::new(Variant::Bme280))
            .measure()
            .expect_err("nack");
        assert_eq!(e.code, ErrorCode::Enxio);
        assert!(e.message.contains("0x76"), "{e}");
    }

    #[test]
    fn garbage_never_becomes_a_reading() {
        for seed in 1..=20 {
            let bus = SimBus::new(0x44, Box::new(GarbageDevice::new(seed)));
            let mut d = Sht3x::new(bus, NoDelay, 0x44, Repeatability::High);
            let e = d.measure().expect_err("garbage CRC");
            assert_eq!(e.code, ErrorCode::Ebadmsg, "seed {seed}: {e}");

            let bus = SimBus::new(0x76, Box::new(GarbageDevice::new(seed)));
            let mut d = Bme280::new(bus, NoDelay, 0x76, Bme280Config::new(Variant::Bme280));
            assert!(d.measure().is_err(), "seed {seed}");
        }
    }

    #[test]
    fn stall_device_fails_after_its_delay() {
        let mut d = StallDevice {
            delay: Duration::from_millis(1),
        };
        assert_eq!(d.write(&[0]), Err(SimNack));
    }
}
