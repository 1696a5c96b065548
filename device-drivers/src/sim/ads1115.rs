//! Simulated ADS1115 at register level: pointer register, config (MUX, PGA, MODE, DR, OS),
//! conversion register; single-shot conversions (OS reads 0 once while "converting") and
//! continuous mode; single-ended and differential inputs.

use super::rng::{Wander, XorShift64};
use super::{SimI2cDevice, SimNack};
use crate::drivers::ads1115::{CONFIG_OS, FSR_VOLTS, REG_CONFIG, REG_CONVERSION};

/// Simulated ADS1115 with four analog inputs.
#[derive(Debug, Clone)]
pub struct SimAds1115 {
    /// Input voltage models for AIN0..AIN3, volts.
    pub inputs: [Wander; 4],
    rng: XorShift64,
    pointer: u8,
    config: u16,
    conversion: i16,
    lo_thresh: u16,
    hi_thresh: u16,
    converting_reads: u8,
    /// Conversions done so far.
    pub conversions: u64,
}

impl SimAds1115 {
    /// Inputs at `volts` (AIN0..AIN3), drift/noise scaled by `noise`.
    pub fn new(volts: [f64; 4], noise: f64, seed: u64) -> Self {
        Self {
            inputs: volts.map(|v| Wander::new(v, 0.0005, 0.0002, 0.0, 5.5).scaled(noise)),
            rng: XorShift64::new(seed),
            pointer: 0,
            config: 0x8583,
            conversion: 0,
            lo_thresh: 0x8000,
            hi_thresh: 0x7FFF,
            converting_reads: 0,
            conversions: 0,
        }
    }

    fn convert(&mut self) {
        self.conversions += 1;
        let v: [f64; 4] = std::array::from_fn(|i| self.inputs[i].sample(&mut self.rng));
        let mux = (self.config >> 12) & 7;
        let diff = match mux {
            0 => v[0] - v[1],
            1 => v[0] - v[3],
            2 => v[1] - v[3],
            3 => v[2] - v[3],
            m => v[usize::from(m as u8 - 4)],
        };
        let fsr = FSR_VOLTS[usize::from(((self.config >> 9) & 7) as u8)];
        self.conversion = (diff / fsr * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
    }

    fn write_register(&mut self, value: u16) {
        match self.pointer {
            REG_CONFIG => {
                self.config = value & !CONFIG_OS;
                let single_shot = value & 0x0100 != 0;
                if !single_shot || value & CONFIG_OS != 0 {
                    self.convert();
                    self.converting_reads = u8::from(single_shot);
                }
            }
            2 => self.lo_thresh = value,
            3 => self.hi_thresh = value,
            _ => {} // conversion register is read-only
        }
    }

    fn register(&mut self) -> u16 {
        match self.pointer {
            REG_CONVERSION => {
                if self.config & 0x0100 == 0 {
                    self.convert(); // continuous mode: always a fresh result
                }
                self.conversion as u16
            }
            REG_CONFIG => {
                let busy = self.converting_reads > 0;
                self.converting_reads = self.converting_reads.saturating_sub(1);
                if busy {
                    self.config
                } else {
                    self.config | CONFIG_OS
                }
            }
            2 => self.lo_thresh,
            _ => self.hi_thresh,
        }
    }
}

impl SimI2cDevice for SimAds1115 {
    fn write(&mut self, data: &[u8]) -> Result<(), SimNack> {
        match data {
            [] => Ok(()),
            [p] => {
                self.pointer = p & 3;
                Ok(())
            }
            [p, hi, lo] => {
                self.pointer = p & 3;
                self.write_register(u16::from_be_bytes([*hi, *lo]));
                Ok(())
            }
            _ => Err(SimNack),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack> {
        let value = self.register().to_be_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = value[i % 2];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::ads1115::{Ads1115, Ads1115Config};
    use crate::drivers::BlockingSensor;
    use crate::sim::testutil::{NoDelay, SimBus};

    #[test]
    fn end_to_end_all_channels() {
        let sim = SimAds1115::new([1.65, 0.8, 2.5, 0.05], 0.0, 1);
        let mut d = Ads1115::new(
            SimBus::new(0x48, Box::new(sim)),
            NoDelay,
            0x48,
            Ads1115Config::default(),
        );
        let r = d.read().expect("reading");
        for (name, v) in [("ain0", 1.65), ("ain1", 0.8), ("ain2", 2.5), ("ain3", 0.05)] {
            let got = r.value(name).expect(name);
            // One LSB at ±4.096 V is 125 µV.
            assert!((got - v).abs() < 0.000_2, "{name}: {got}");
        }
    }

    #[test]
    fn gain_clips_at_full_scale() {
        let sim = SimAds1115::new([3.0, 0.0, 0.0, 0.0], 0.0, 1);
        let cfg = Ads1115Config {
            channels: vec![0],
            pga: 2, // ±2.048 V
            data_rate: 7,
        };
        let mut d = Ads1115::new(SimBus::new(0x48, Box::new(sim)), NoDelay, 0x48, cfg);
        let v = d.read_channel(0).expect("volts");
        assert!((v - 2.048 * 32767.0 / 32768.0).abs() < 1e-9, "{v}");
    }

    #[test]
    fn differential_and_status_bit() {
        let mut sim = SimAds1115::new([2.0, 0.5, 0.0, 0.0], 0.0, 1);
        // MUX 000 (AIN0-AIN1), PGA ±4.096, single-shot, start.
        sim.write(&[REG_CONFIG, 0x83, 0x83]).expect("ack");
        let mut buf = [0u8; 2];
        sim.write(&[REG_CONFIG]).expect("ack");
        sim.read(&mut buf).expect("ack");
        assert_eq!(buf[0] & 0x80, 0, "converting");
        sim.read(&mut buf).expect("ack");
        assert_eq!(buf[0] & 0x80, 0x80, "done");
        sim.write(&[REG_CONVERSION]).expect("ack");
        sim.read(&mut buf).expect("ack");
        assert_eq!(i16::from_be_bytes(buf), 12_000); // 1.5 V / 4.096 V * 32768
    }
}
