//! Sensirion SHT3x (SHT30/31/35) temperature and humidity over I2C.
//!
//! Single-shot measurement without clock stretching: the chip NACKs reads until the result is
//! ready, so the driver waits the datasheet's maximum duration, then retries a NACKed read a few
//! times before reporting `ETIMEDOUT`. Every 16-bit word carries a CRC-8 (poly 0x31, init 0xFF);
//! a bad CRC is an `EBADMSG` error, never a reading.
//!
//! Values: `temperature` (°C), `humidity` (%RH).

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::options::Opts;
use super::registry::ConfigError;
use super::{i2c_error, is_nack, BlockingSensor, Reading};
use crate::error::{DeviceError, ErrorCode};

/// Default I2C address (ADDR pin low); 0x45 with ADDR high.
pub const DEFAULT_ADDRESS: u8 = 0x44;
/// Soft reset command.
pub const CMD_SOFT_RESET: u16 = 0x30A2;
/// Read status register command (answer: 2 bytes + CRC).
pub const CMD_READ_STATUS: u16 = 0xF32D;

/// Single-shot repeatability (trades noise for measurement time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeatability {
    /// Lowest noise, up to 15.5 ms.
    High,
    /// Up to 6.5 ms.
    Medium,
    /// Up to 4.5 ms.
    Low,
}

impl Repeatability {
    /// Single-shot command with clock stretching disabled (datasheet table 9).
    pub fn command(self) -> u16 {
        match self {
            Repeatability::High => 0x2400,
            Repeatability::Medium => 0x240B,
            Repeatability::Low => 0x2416,
        }
    }

    /// Maximum measurement duration in µs (datasheet table 4).
    pub fn max_duration_us(self) -> u32 {
        match self {
            Repeatability::High => 15_500,
            Repeatability::Medium => 6_500,
            Repeatability::Low => 4_500,
        }
    }

    /// Parse the `repeatability` option ("high", "medium", "low"; default "high").
    pub(crate) fn parse(o: &mut Opts<'_>) -> Result<Self, ConfigError> {
        Ok(
            match o.choice("repeatability", "high", &["high", "medium", "low"])? {
                "medium" => Repeatability::Medium,
                "low" => Repeatability::Low,
                _ => Repeatability::High,
            },
        )
    }
}

/// Sensirion CRC-8: polynomial 0x31, init 0xFF, no reflection, no final XOR.
pub fn crc8(data: &[u8]) -> u8 {
    let mut crc: u8 = 0xFF;
    for &byte in data {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x31
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Temperature in °C from the raw word: T = -45 + 175 * raw / (2^16 - 1).
pub fn temperature_from_raw(raw: u16) -> f64 {
    -45.0 + 175.0 * f64::from(raw) / 65535.0
}

/// Relative humidity in %RH from the raw word: RH = 100 * raw / (2^16 - 1).
pub fn humidity_from_raw(raw: u16) -> f64 {
    100.0 * f64::from(raw) / 65535.0
}

/// Check both CRCs of a 6-byte answer (T msb, lsb, crc, RH msb, lsb, crc) and return the raw
/// words.
pub fn parse_measurement(buf: &[u8; 6]) -> Result<(u16, u16), DeviceError> {
    let word = |i: usize, what: &str| -> Result<u16, DeviceError> {
        let crc = crc8(&buf[i..i + 2]);
        if crc != buf[i + 2] {
            return Err(DeviceError::new(
                ErrorCode::Ebadmsg,
                format!(
                    "{what} CRC mismatch: got {:#04x}, computed {crc:#04x}",
                    buf[i + 2]
                ),
            ));
        }
        Ok(u16::from_be_bytes([buf[i], buf[i + 1]]))
    };
    Ok((word(0, "temperature")?, word(3, "humidity")?))
}

/// SHT3x driver over any embedded-hal I2C bus.
pub struct Sht3x<I, D> {
    i2c: I,
    delay: D,
    address: u8,
    repeatability: Repeatability,
    reset_done: bool,
    /// NACKed result reads (1 ms apart) tolerated after the maximum duration.
    pub max_polls: u32,
}

impl<I, D> Sht3x<I, D>
where
    I: I2c,
    I::Error: 'static,
    D: DelayNs,
{
    /// A driver for the chip at `address`; nothing is sent until the first read.
    pub fn new(i2c: I, delay: D, address: u8, repeatability: Repeatability) -> Self {
        Self {
            i2c,
            delay,
            address,
            repeatability,
            reset_done: false,
            max_polls: 5,
        }
    }

    fn what(&self, step: &str) -> String {
        format!("sht3x at {:#04x}: {step}", self.address)
    }

    fn command(&mut self, cmd: u16, step: &str) -> Result<(), DeviceError> {
        let r = self.i2c.write(self.address, &cmd.to_be_bytes());
        r.map_err(|e| i2c_error(&self.what(step), e))
    }

    /// Take one single-shot measurement: (°C, %RH).
    pub fn measure(&mut self) -> Result<(f64, f64), DeviceError> {
        if !self.reset_done {
            // A soft reset leaves periodic mode (where single-shot commands are refused).
            self.command(CMD_SOFT_RESET, "soft reset")?;
            self.delay.delay_ms(2);
            self.reset_done = true;
        }
        let result = self.measure_inner();
        if result.is_err() {
            self.reset_done = false;
        }
        result
    }

    fn measure_inner(&mut self) -> Result<(f64, f64), DeviceError> {
        self.command(self.repeatability.command(), "starting measurement")?;
        self.delay.delay_us(self.repeatability.max_duration_us());
        let mut buf = [0u8; 6];
        let mut attempt = 0;
        loop {
            match self.i2c.read(self.address, &mut buf) {
                Ok(()) => break,
                Err(e) if is_nack(&e) && attempt < self.max_polls => {
                    attempt += 1;
                    self.delay.delay_ms(1);
                }
                Err(e) if is_nack(&e) => {
                    return Err(DeviceError::new(
                        ErrorCode::Etimedout,
                        self.what("measurement not ready (result read NACKed)"),
                    ))
                }
                Err(e) => return Err(i2c_error(&self.what("reading result"), e)),
            }
        }
        let (t, rh) =
            parse_measurement(&buf).map_err(|e| DeviceError::new(e.code, self.what(&e.message)))?;
        Ok((temperature_from_raw(t), humidity_from_raw(rh)))
    }
}

impl<I, D> BlockingSensor for Sht3x<I, D>
where
    I: I2c + Send + 'static,
    D: DelayNs + Send + 'static,
{
    fn driver(&self) -> &'static str {
        "sht3x"
    }

    fn read(&mut self) -> Result<Reading, DeviceError> {
        let (t, rh) = self.measure()?;
        Ok(Reading::new("sht3x")
            .with("temperature", t)
            .with("humidity", rh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_datasheet_vector() {
        // SHT3x datasheet §4.12: CRC(0xBEEF) = 0x92.
        assert_eq!(crc8(&[0xBE, 0xEF]), 0x92);
        assert_eq!(crc8(&[0x00, 0x00]), 0x81);
    }

    #[test]
    fn conversion_formulas() {
        assert_eq!(temperature_from_raw(0), -45.0);
        assert_eq!(temperature_from_raw(0xFFFF), 130.0);
        assert_eq!(humidity_from_raw(0xFFFF), 100.0);
        // 0x6666 = 26214 -> -45 + 175 * 0.4 = 25.0 °C (within rounding of the 16-bit step)
        assert!((temperature_from_raw(0x6666) - 25.0).abs() < 0.003);
    }

    #[test]
    fn parse_checks_both_crcs() {
        let t = [0x66, 0x66];
        let h = [0x80, 0x00];
        let good = [t[0], t[1], crc8(&t), h[0], h[1], crc8(&h)];
        assert_eq!(parse_measurement(&good).expect("good"), (0x6666, 0x8000));

        let mut bad_t = good;
        bad_t[2] ^= 0x01;
        let e = parse_measurement(&bad_t).expect_err("bad T crc");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        assert!(e.message.starts_with("temperature CRC"), "{e}");

        let mut bad_h = good;
        bad_h[4] ^= 0x40;
        let e = parse_measurement(&bad_h).expect_err("bad RH data");
        assert!(e.message.starts_with("humidity CRC"), "{e}");
    }

    #[test]
    fn commands_per_repeatability() {
        assert_eq!(Repeatability::High.command(), 0x2400);
        assert_eq!(Repeatability::Low.command().to_be_bytes(), [0x24, 0x16]);
        assert!(Repeatability::High.max_duration_us() > Repeatability::Low.max_duration_us());
    }
}
