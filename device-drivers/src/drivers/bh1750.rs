//! ROHM BH1750 ambient light sensor over I2C, one-time measurement mode.
//!
//! lux = raw / 1.2 * (69 / MTreg), halved again in high-resolution mode 2.
//!
//! Values: `illuminance` (lux).

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::options::Opts;
use super::registry::ConfigError;
use super::{i2c_error, BlockingSensor, Reading};
use crate::error::DeviceError;

/// Default I2C address (ADDR low); 0x5C with ADDR high.
pub const DEFAULT_ADDRESS: u8 = 0x23;
/// Power on (waiting for a measurement command).
pub const CMD_POWER_ON: u8 = 0x01;
/// Power down.
pub const CMD_POWER_DOWN: u8 = 0x00;
/// Default measurement-time register value.
pub const MTREG_DEFAULT: u8 = 69;

/// One-time measurement resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// 1 lx steps, up to 180 ms at the default MTreg.
    High,
    /// 0.5 lx steps, up to 180 ms.
    High2,
    /// 4 lx steps, up to 24 ms.
    Low,
}

impl Resolution {
    /// One-time measurement opcode.
    pub fn one_time_command(self) -> u8 {
        match self {
            Resolution::High => 0x20,
            Resolution::High2 => 0x21,
            Resolution::Low => 0x23,
        }
    }

    /// Maximum measurement time in µs at `mtreg`.
    pub fn max_time_us(self, mtreg: u8) -> u32 {
        let base = match self {
            Resolution::High | Resolution::High2 => 180_000,
            Resolution::Low => 24_000,
        };
        base * u32::from(mtreg) / u32::from(MTREG_DEFAULT) + 1
    }
}

/// Validated driver options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bh1750Config {
    /// Resolution mode.
    pub resolution: Resolution,
    /// Measurement-time register (31..=254; 69 default). Higher = more sensitive, slower.
    pub mtreg: u8,
}

impl Default for Bh1750Config {
    /// High resolution, MTreg 69.
    fn default() -> Self {
        Self {
            resolution: Resolution::High,
            mtreg: MTREG_DEFAULT,
        }
    }
}

impl Bh1750Config {
    /// Parse `mode` ("high", "high2", "low") and `mtreg` (31..=254).
    pub(crate) fn parse(o: &mut Opts<'_>) -> Result<Self, ConfigError> {
        let resolution = match o.choice("mode", "high", &["high", "high2", "low"])? {
            "high2" => Resolution::High2,
            "low" => Resolution::Low,
            _ => Resolution::High,
        };
        let mtreg = o.int("mtreg", i64::from(MTREG_DEFAULT), 31, 254)? as u8;
        Ok(Self { resolution, mtreg })
    }
}

/// The two commands that set MTreg: high bits `01000_MT[7:5]`, low bits `011_MT[4:0]`.
pub fn mtreg_commands(mtreg: u8) -> [u8; 2] {
    [0x40 | (mtreg >> 5), 0x60 | (mtreg & 0x1F)]
}

/// Illuminance in lux from a raw count.
pub fn lux_from_raw(raw: u16, mtreg: u8, resolution: Resolution) -> f64 {
    let lux = f64::from(raw) / 1.2 * (f64::from(MTREG_DEFAULT) / f64::from(mtreg.max(1)));
    match resolution {
        Resolution::High2 => lux / 2.0,
        _ => lux,
    }
}

/// BH1750 driver over any embedded-hal I2C bus.
pub struct Bh1750<I, D> {
    i2c: I,
    delay: D,
    address: u8,
    config: Bh1750Config,
}

impl<I, D> Bh1750<I, D>
where
    I: I2c,
    I::Error: 'static,
    D: DelayNs,
{
    /// A driver for the chip at `address`; nothing is sent until the first read.
    pub fn new(i2c: I, delay: D, address: u8, config: Bh1750Config) -> Self {
        Self {
            i2c,
            delay,
            address,
            config,
        }
    }

    fn send(&mut self, cmd: u8, step: &str) -> Result<(), DeviceError> {
        let r = self.i2c.write(self.address, &[cmd]);
        r.map_err(|e| i2c_error(&format!("bh1750 at {:#04x}: {step}", self.address), e))
    }

    /// One one-time measurement, in lux. MTreg is re-sent every time, so a chip that lost power
    /// comes back with the configured sensitivity.
    pub fn measure(&mut self) -> Result<f64, DeviceError> {
        self.send(CMD_POWER_ON, "power on")?;
        let [hi, lo] = mtreg_commands(self.config.mtreg);
        self.send(hi, "setting MTreg")?;
        self.send(lo, "setting MTreg")?;
        self.send(
            self.config.resolution.one_time_command(),
            "starting measurement",
        )?;
        self.delay
            .delay_us(self.config.resolution.max_time_us(self.config.mtreg));
        let mut buf = [0u8; 2];
        let r = self.i2c.read(self.address, &mut buf);
        r.map_err(|e| {
            i2c_error(
                &format!("bh1750 at {:#04x}: reading result", self.address),
                e,
            )
        })?;
        Ok(lux_from_raw(
            u16::from_be_bytes(buf),
            self.config.mtreg,
            self.config.resolution,
        ))
    }
}

impl<I, D> BlockingSensor for Bh1750<I, D>
where
    I: I2c + Send + 'static,
    D: DelayNs + Send + 'static,
{
    fn driver(&self) -> &'static str {
        "bh1750"
    }

    fn read(&mut self) -> Result<Reading, DeviceError> {
        Ok(Reading::new("bh1750").with("illuminance", self.measure()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lux_formula() {
        // Datasheet p.7 example: 0x83_90 = 33680 counts -> 28067 lx at default MTreg.
        let lux = lux_from_raw(0x8390, 69, Resolution::High);
        assert!((lux - 28_066.67).abs() < 0.01, "{lux}");
        assert_eq!(lux_from_raw(1200, 138, Resolution::High), 500.0);
        assert_eq!(lux_from_raw(1200, 69, Resolution::High2), 500.0);
    }

    #[test]
    fn mtreg_command_split() {
        // Datasheet: MTreg 69 = 0b0100_0101 -> 0x42, 0x65.
        assert_eq!(mtreg_commands(69), [0x42, 0x65]);
        assert_eq!(mtreg_commands(254), [0x47, 0x7E]);
        assert_eq!(mtreg_commands(31), [0x40, 0x7F]);
    }

    #[test]
    fn options_range() {
        let t: toml::Table = "mtreg = 20".parse().expect("toml");
        let mut o = Opts::new("bh1750", &t);
        let e = Bh1750Config::parse(&mut o).expect_err("too small");
        assert_eq!(e.option.as_deref(), Some("mtreg"));
        assert!(Resolution::High.max_time_us(138) > Resolution::High.max_time_us(69));
    }
}
