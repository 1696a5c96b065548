//! TI ADS1115 16-bit ADC over I2C: single-ended channels AIN0..AIN3, programmable gain (full-scale
//! range), data rate, single-shot conversions.
//!
//! Values: `ain0`..`ain3` (V), one per configured channel.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::options::Opts;
use super::registry::ConfigError;
use super::{i2c_error, BlockingSensor, Reading};
use crate::error::{DeviceError, ErrorCode};

/// Default I2C address (ADDR to GND); 0x49..0x4B with ADDR to VDD/SDA/SCL.
pub const DEFAULT_ADDRESS: u8 = 0x48;
/// Conversion register pointer.
pub const REG_CONVERSION: u8 = 0x00;
/// Config register pointer.
pub const REG_CONFIG: u8 = 0x01;
/// Config bit 15: write 1 to start a single conversion; reads 1 when idle.
pub const CONFIG_OS: u16 = 0x8000;

/// Full-scale ranges in volts, indexed by the 3-bit PGA code (codes 5..7 are all ±0.256 V).
pub const FSR_VOLTS: [f64; 8] = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256];
/// Data rates in samples/s, indexed by the 3-bit DR code.
pub const DATA_RATES: [u16; 8] = [8, 16, 32, 64, 128, 250, 475, 860];

/// Validated driver options.
#[derive(Debug, Clone, PartialEq)]
pub struct Ads1115Config {
    /// Channels to convert each read (0..=3, single-ended against GND).
    pub channels: Vec<u8>,
    /// PGA code (0 = ±6.144 V .. 5 = ±0.256 V).
    pub pga: u8,
    /// Data-rate code (0 = 8 SPS .. 7 = 860 SPS).
    pub data_rate: u8,
}

impl Default for Ads1115Config {
    /// All four channels, ±4.096 V, 128 SPS.
    fn default() -> Self {
        Self {
            channels: vec![0, 1, 2, 3],
            pga: 1,
            data_rate: 4,
        }
    }
}

impl Ads1115Config {
    /// Parse `channels` (array of 0..=3), `fsr` (full-scale volts: 6.144, 4.096, 2.048, 1.024,
    /// 0.512, 0.256) or `gain` ("2/3", 1, 2, 4, 8, 16), and `data_rate` (SPS).
    pub(crate) fn parse(o: &mut Opts<'_>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        if let Some(v) = o.get("channels") {
            let arr = v.as_array().ok_or_else(|| {
                o.error(
                    "channels",
                    format!("expected an array like [0, 1], got {v}"),
                )
            })?;
            let mut chans = Vec::new();
            for item in arr {
                match item.as_integer() {
                    Some(ch @ 0..=3) if !chans.contains(&(ch as u8)) => chans.push(ch as u8),
                    _ => {
                        return Err(o.error(
                            "channels",
                            format!("expected distinct channel numbers 0..=3, got {item}"),
                        ))
                    }
                }
            }
            if chans.is_empty() {
                return Err(o.error("channels", "at least one channel is needed"));
            }
            c.channels = chans;
        }
        let fsr = o.opt_f64("fsr")?;
        let gain = o.get("gain");
        c.pga = match (fsr, gain) {
            (Some(_), Some(_)) => {
                return Err(o.error("gain", "give either 'fsr' or 'gain', not both"))
            }
            (Some(v), None) => FSR_VOLTS[..6]
                .iter()
                .position(|f| (f - v).abs() < 1e-9)
                .ok_or_else(|| {
                    o.error(
                        "fsr",
                        format!(
                            "expected one of 6.144, 4.096, 2.048, 1.024, 0.512, 0.256, got {v}"
                        ),
                    )
                })? as u8,
            (None, Some(g)) => match (g.as_str(), g.as_integer()) {
                (Some("2/3"), _) => 0,
                (_, Some(1)) => 1,
                (_, Some(2)) => 2,
                (_, Some(4)) => 3,
                (_, Some(8)) => 4,
                (_, Some(16)) => 5,
                _ => {
                    return Err(o.error(
                        "gain",
                        format!("expected one of \"2/3\", 1, 2, 4, 8, 16, got {g}"),
                    ))
                }
            },
            (None, None) => 1,
        };
        let allowed: Vec<i64> = DATA_RATES.iter().map(|&r| i64::from(r)).collect();
        let rate = o.int_choice("data_rate", 128, &allowed)?;
        c.data_rate = DATA_RATES
            .iter()
            .position(|&r| i64::from(r) == rate)
            .unwrap_or(4) as u8;
        Ok(c)
    }

    /// Full-scale range in volts.
    pub fn fsr(&self) -> f64 {
        FSR_VOLTS[usize::from(self.pga & 7)]
    }

    /// Conversion time in µs for the configured data rate (one sample period plus 10 %).
    pub fn conversion_time_us(&self) -> u32 {
        let sps = u32::from(DATA_RATES[usize::from(self.data_rate & 7)]);
        1_100_000 / sps + 1
    }
}

/// Config word starting a single-shot conversion of single-ended `channel`: OS=1, MUX=100+ch,
/// PGA, MODE=1 (single-shot), DR, comparator disabled (COMP_QUE=11).
pub fn config_word(channel: u8, pga: u8, data_rate: u8) -> u16 {
    CONFIG_OS
        | (u16::from(0b100 | (channel & 3)) << 12)
        | (u16::from(pga & 7) << 9)
        | 0x0100
        | (u16::from(data_rate & 7) << 5)
        | 0x0003
}

/// Volts from a conversion result: raw * FSR / 2^15.
pub fn raw_to_volts(raw: i16, fsr: f64) -> f64 {
    f64::from(raw) * fsr / 32768.0
}

/// ADS1115 driver over any embedded-hal I2C bus.
pub struct Ads1115<I, D> {
    i2c: I,
    delay: D,
    address: u8,
    config: Ads1115Config,
    /// Config polls (1 ms apart) after the conversion time before giving up.
    pub max_polls: u32,
}

impl<I, D> Ads1115<I, D>
where
    I: I2c,
    I::Error: 'static,
    D: DelayNs,
{
    /// A driver for the chip at `address`; nothing is sent until the first read.
    pub fn new(i2c: I, delay: D, address: u8, config: Ads1115Config) -> Self {
        Self {
            i2c,
            delay,
            address,
            config,
            max_polls: 10,
        }
    }

    fn what(&self, step: &str) -> String {
        format!("ads1115 at {:#04x}: {step}", self.address)
    }

    /// One single-shot conversion of `channel` (0..=3), in volts.
    pub fn read_channel(&mut self, channel: u8) -> Result<f64, DeviceError> {
        let word = config_word(channel, self.config.pga, self.config.data_rate);
        let [hi, lo] = word.to_be_bytes();
        let r = self.i2c.write(self.address, &[REG_CONFIG, hi, lo]);
        r.map_err(|e| i2c_error(&self.what("starting conversion"), e))?;
        self.delay.delay_us(self.config.conversion_time_us());
        let mut buf = [0u8; 2];
        let mut done = false;
        for _ in 0..self.max_polls {
            let r = self.i2c.write_read(self.address, &[REG_CONFIG], &mut buf);
            r.map_err(|e| i2c_error(&self.what("reading config"), e))?;
            if u16::from_be_bytes(buf) & CONFIG_OS != 0 {
                done = true;
                break;
            }
            self.delay.delay_ms(1);
        }
        if !done {
            return Err(DeviceError::new(
                ErrorCode::Etimedout,
                self.what(&format!("conversion of AIN{channel} did not complete")),
            ));
        }
        let r = self
            .i2c
            .write_read(self.address, &[REG_CONVERSION], &mut buf);
        r.map_err(|e| i2c_error(&self.what("reading conversion"), e))?;
        Ok(raw_to_volts(i16::from_be_bytes(buf), self.config.fsr()))
    }
}

impl<I, D> BlockingSensor for Ads1115<I, D>
where
    I: I2c + Send + 'static,
    D: DelayNs + Send + 'static,
{
    fn driver(&self) -> &'static str {
        "ads1115"
    }

    fn read(&mut self) -> Result<Reading, DeviceError> {
        let mut r = Reading::new("ads1115");
        for ch in self.config.channels.clone() {
            r.push(format!("ain{ch}"), self.read_channel(ch)?);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_word_matches_datasheet_layout() {
        // Default register value is 0x8583 (AIN0-AIN1, ±2.048 V, single-shot, 128 SPS); a
        // single-ended AIN0 conversion at the same settings only changes MUX to 100.
        assert_eq!(config_word(0, 2, 4), 0xC583);
        assert_eq!(
            config_word(3, 0, 7),
            0x8000 | (0b111 << 12) | 0x0100 | (7 << 5) | 3
        );
    }

    #[test]
    fn volts_from_raw() {
        assert_eq!(raw_to_volts(0x7FFF, 4.096), 4.096 * 32767.0 / 32768.0);
        assert_eq!(raw_to_volts(-32768, 2.048), -2.048);
        assert_eq!(raw_to_volts(16000, 4.096), 2.0);
    }

    #[test]
    fn options() {
        let t: toml::Table = "channels = [2, 0]\ngain = \"2/3\"\ndata_rate = 860"
            .parse()
            .expect("toml");
        let mut o = Opts::new("ads1115", &t);
        let c = Ads1115Config::parse(&mut o).expect("valid");
        o.finish().expect("known");
        assert_eq!(c.channels, vec![2, 0]);
        assert_eq!(c.fsr(), 6.144);
        assert_eq!(c.data_rate, 7);

        for (src, key) in [
            ("channels = [4]", "channels"),
            ("channels = [1, 1]", "channels"),
            ("fsr = 5.0", "fsr"),
            ("gain = 3", "gain"),
            ("fsr = 2.048\ngain = 2", "gain"),
            ("data_rate = 100", "data_rate"),
        ] {
            let t: toml::Table = src.parse().expect("toml");
            let mut o = Opts::new("ads1115", &t);
            let e = Ads1115Config::parse(&mut o).expect_err(src);
            assert_eq!(e.option.as_deref(), Some(key), "{src}: {e}");
        }
    }
}
