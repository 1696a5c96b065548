//! Simulated BH1750 at opcode level: power on/down, reset, continuous and one-time modes in all
//! three resolutions, MTreg; the 2-byte result is the count the chip would give for the target
//! illuminance (lux * 1.2 * MTreg / 69, doubled in high-resolution mode 2).

use super::rng::{Wander, XorShift64};
use super::{SimI2cDevice, SimNack};
use crate::drivers::bh1750::MTREG_DEFAULT;

/// Simulated BH1750.
#[derive(Debug, Clone)]
pub struct SimBh1750 {
    /// Illuminance model, lux.
    pub lux: Wander,
    rng: XorShift64,
    powered: bool,
    mtreg: u8,
    mode: u8,
    result: u16,
    /// Measurements taken so far.
    pub measurements: u64,
}

impl SimBh1750 {
    /// Light at `lux`, drift/noise scaled by `noise`.
    pub fn new(lux: f64, noise: f64, seed: u64) -> Self {
        Self {
            lux: Wander::new(lux, lux * 0.004 + 0.5, lux * 0.002 + 0.2, 0.0, 100_000.0)
                .scaled(noise),
            rng: XorShift64::new(seed),
            powered: false,
            mtreg: MTREG_DEFAULT,
            mode: 0,
            result: 0,
            measurements: 0,
        }
    }

    fn measure(&mut self) {
        self.measurements += 1;
        let lux = self.lux.sample(&mut self.rng);
        let mut counts = lux * 1.2 * f64::from(self.mtreg) / f64::from(MTREG_DEFAULT);
        if self.mode & 0x0F == 0x01 {
            counts *= 2.0; // H-resolution mode 2: 0.5 lx per count
        }
        if self.mode & 0x0F == 0x03 {
            counts = (counts / 4.0).round() * 4.0; // L-resolution: 4 lx steps
        }
        self.result = counts.round().clamp(0.0, 65535.0) as u16;
    }
}

impl SimI2cDevice for SimBh1750 {
    fn write(&mut self, data: &[u8]) -> Result<(), SimNack> {
        let &[op] = data else {
            return if data.is_empty() {
                Ok(())
            } else {
                Err(SimNack)
            };
        };
        match op {
            0x00 => self.powered = false,
            0x01 => self.powered = true,
            0x07 if self.powered => self.result = 0,
            0x10 | 0x11 | 0x13 | 0x20 | 0x21 | 0x23 => {
                self.mode = op;
                self.measure();
                if op & 0x20 != 0 {
                    self.powered = false; // one-time modes power down when done
                } else {
                    self.powered = true;
                }
            }
            0x40..=0x47 => self.mtreg = (self.mtreg & 0x1F) | ((op & 0x07) << 5),
            0x60..=0x7F => self.mtreg = (self.mtreg & 0xE0) | (op & 0x1F),
            _ => {}
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack> {
        if self.powered && self.mode & 0x20 == 0 && self.mode != 0 {
            self.measure(); // continuous modes keep measuring
        }
        let b = self.result.to_be_bytes();
        for (i, out) in buf.iter_mut().enumerate() {
            *out = b.get(i).copied().unwrap_or(0xFF);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::bh1750::{Bh1750, Bh1750Config, Resolution};
    use crate::sim::testutil::{NoDelay, SimBus};

    fn read(sim: SimBh1750, config: Bh1750Config) -> f64 {
        Bh1750::new(SimBus::new(0x23, Box::new(sim)), NoDelay, 0x23, config)
            .measure()
            .expect("lux")
    }

    #[test]
    fn end_to_end_default_and_other_modes() {
        let lux = read(SimBh1750::new(320.0, 0.0, 1), Bh1750Config::default());
        assert!((lux - 320.0).abs() < 1.0, "{lux}");
        let cfg = Bh1750Config {
            resolution: Resolution::High2,
            mtreg: 138,
        };
        let lux = read(SimBh1750::new(320.0, 0.0, 1), cfg);
        assert!((lux - 320.0).abs() < 0.3, "{lux}");
        let cfg = Bh1750Config {
            resolution: Resolution::Low,
            mtreg: 31,
        };
        let lux = read(SimBh1750::new(320.0, 0.0, 1), cfg);
        assert!((lux - 320.0).abs() < 10.0, "{lux}");
    }

    #[test]
    fn mtreg_is_assembled_from_two_commands() {
        let mut sim = SimBh1750::new(100.0, 0.0, 1);
        sim.write(&[0x47]).expect("ack");
        sim.write(&[0x7E]).expect("ack");
        assert_eq!(sim.mtreg, 254);
        sim.write(&[0x20]).expect("ack");
        let mut b = [0u8; 2];
        sim.read(&mut b).expect("ack");
        assert_eq!(
            u16::from_be_bytes(b),
            (100.0f64 * 1.2 * 254.0 / 69.0).round() as u16
        );
    }
}
