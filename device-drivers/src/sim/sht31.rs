//! Simulated SHT31 at command level: single-shot measurements (with and without clock
//! stretching), soft reset, status register, heater; answers carry correct CRC-8 unless a fault
//! is injected. Reads with no result pending are NACKed, as on the real chip.

use super::rng::{Wander, XorShift64};
use super::{SimI2cDevice, SimNack};
use crate::drivers::sht3x::{crc8, CMD_READ_STATUS, CMD_SOFT_RESET};

/// Injected misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sht31Fault {
    /// Behaves.
    None,
    /// The humidity word's CRC byte is wrong.
    BadCrc,
    /// Commands are accepted but results never become ready (reads NACK forever).
    Stuck,
}

/// Simulated SHT31.
#[derive(Debug, Clone)]
pub struct SimSht31 {
    /// Temperature model, °C.
    pub temperature: Wander,
    /// Relative humidity model, %RH.
    pub humidity: Wander,
    rng: XorShift64,
    pending: Option<Vec<u8>>,
    heater: bool,
    /// Injected fault.
    pub fault: Sht31Fault,
}

fn word_with_crc(w: u16) -> [u8; 3] {
    let b = w.to_be_bytes();
    [b[0], b[1], crc8(&b)]
}

impl SimSht31 {
    /// A sensor with targets `temperature` °C and `humidity` %RH, drift/noise scaled by `noise`.
    pub fn new(temperature: f64, humidity: f64, noise: f64, seed: u64) -> Self {
        Self {
            temperature: Wander::new(temperature, 0.03, 0.015, -40.0, 125.0).scaled(noise),
            humidity: Wander::new(humidity, 0.08, 0.05, 0.0, 100.0).scaled(noise),
            rng: XorShift64::new(seed),
            pending: None,
            heater: false,
            fault: Sht31Fault::None,
        }
    }

    fn measure(&mut self) -> Vec<u8> {
        let t = self.temperature.sample(&mut self.rng) + if self.heater { 3.0 } else { 0.0 };
        let rh = self.humidity.sample(&mut self.rng);
        let t_raw = ((t + 45.0) / 175.0 * 65535.0).round().clamp(0.0, 65535.0) as u16;
        let rh_raw = (rh / 100.0 * 65535.0).round().clamp(0.0, 65535.0) as u16;
        let mut out = Vec::with_capacity(6);
        out.extend_from_slice(&word_with_crc(t_raw));
        out.extend_from_slice(&word_with_crc(rh_raw));
        if self.fault == Sht31Fault::BadCrc {
            out[5] ^= 0x5A;
        }
        out
    }
}

impl SimI2cDevice for SimSht31 {
    fn write(&mut self, data: &[u8]) -> Result<(), SimNack> {
        let cmd = match data {
            [] => return Ok(()),
            [hi, lo] => u16::from_be_bytes([*hi, *lo]),
            _ => return Err(SimNack),
        };
        match cmd {
            0x2400 | 0x240B | 0x2416 | 0x2C06 | 0x2C0D | 0x2C10 => {
                self.pending = if self.fault == Sht31Fault::Stuck {
                    None
                } else {
                    Some(self.measure())
                };
            }
            CMD_SOFT_RESET => {
                self.pending = None;
                self.heater = false;
            }
            CMD_READ_STATUS => {
                let status: u16 = if self.heater { 1 << 13 } else { 0 };
                self.pending = Some(word_with_crc(status).to_vec());
            }
            0x306D => self.heater = true,
            0x3066 => self.heater = false,
            0x3041 | 0x3093 => {}
            _ => return Err(SimNack), // invalid command: not acknowledged
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack> {
        let data = self.pending.take().ok_or(SimNack)?;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = data.get(i).copied().unwrap_or(0xFF);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::sht3x::{Repeatability, Sht3x};
    use crate::error::ErrorCode;
    use crate::sim::testutil::{NoDelay, SimBus};

    fn driver(sim: SimSht31) -> Sht3x<SimBus, NoDelay> {
        Sht3x::new(
            SimBus::new(0x44, Box::new(sim)),
            NoDelay,
            0x44,
            Repeatability::High,
        )
    }

    #[test]
    fn end_to_end_read() {
        let (t, rh) = driver(SimSht31::new(23.4, 51.0, 0.0, 1))
            .measure()
            .expect("reading");
        assert!((t - 23.4).abs() < 0.01, "{t}");
        assert!((rh - 51.0).abs() < 0.01, "{rh}");
    }

    #[test]
    fn bad_crc_is_an_error() {
        let mut sim = SimSht31::new(23.4, 51.0, 0.0, 1);
        sim.fault = Sht31Fault::BadCrc;
        let e = driver(sim).measure().expect_err("crc");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        assert!(e.message.contains("humidity CRC"), "{e}");
    }

    #[test]
    fn stuck_sensor_times_out() {
        let mut sim = SimSht31::new(23.4, 51.0, 0.0, 1);
        sim.fault = Sht31Fault::Stuck;
        let e = driver(sim).measure().expect_err("not ready");
        assert_eq!(e.code, ErrorCode::Etimedout);
    }

    #[test]
    fn protocol_details() {
        let mut sim = SimSht31::new(20.0, 50.0, 0.0, 1);
        let mut buf = [0u8; 3];
        assert_eq!(sim.read(&mut buf), Err(SimNack), "nothing pending");
        assert_eq!(sim.write(&[0x12, 0x34]), Err(SimNack), "invalid command");
        sim.write(&0x306Du16.to_be_bytes()).expect("heater on");
        sim.write(&CMD_READ_STATUS.to_be_bytes()).expect("status");
        sim.read(&mut buf).expect("status word");
        assert_eq!(u16::from_be_bytes([buf[0], buf[1]]) & (1 << 13), 1 << 13);
        assert_eq!(crc8(&buf[..2]), buf[2]);
    }
}
