//! Bosch BME280 (temperature, humidity, pressure) and BMP280 (temperature, pressure) over I2C.
//!
//! Chip-id check, calibration read, Bosch's integer compensation formulas (datasheet BME280
//! §4.2.3 / BMP280 §3.11.3, 64-bit pressure variant), forced and normal mode, oversampling, IIR
//! filter and standby options. A skipped or not-yet-run measurement reads as the sentinel 0x80000
//! (0x8000 for humidity): that is an `EBADMSG` error, never a reading.
//!
//! Values: `temperature` (°C), `pressure` (hPa), `humidity` (%RH, BME280 only).

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

use super::options::Opts;
use super::registry::ConfigError;
use super::{i2c_error, BlockingSensor, Reading};
use crate::error::{DeviceError, ErrorCode};

/// Default I2C address (SDO low); 0x77 with SDO high.
pub const DEFAULT_ADDRESS: u8 = 0x76;
/// Chip id of the BME280.
pub const CHIP_ID_BME280: u8 = 0x60;
/// Chip id of the BMP280 (mass production; 0x56 and 0x57 were samples).
pub const CHIP_ID_BMP280: u8 = 0x58;
/// Raw value of a skipped (or not yet run) temperature/pressure measurement.
pub const SKIPPED_20BIT: u32 = 0x80000;
/// Raw value of a skipped (or not yet run) humidity measurement.
pub const SKIPPED_16BIT: u32 = 0x8000;

/// Register addresses (datasheet §5.3).
pub mod reg {
    /// First calibration block, 0x88..=0xA1 (26 bytes).
    pub const CALIB00: u8 = 0x88;
    /// Chip id.
    pub const ID: u8 = 0xD0;
    /// Soft reset (write 0xB6).
    pub const RESET: u8 = 0xE0;
    /// Second (humidity) calibration block, 0xE1..=0xE7 (7 bytes), BME280 only.
    pub const CALIB26: u8 = 0xE1;
    /// Humidity oversampling, BME280 only; takes effect at the next `CTRL_MEAS` write.
    pub const CTRL_HUM: u8 = 0xF2;
    /// Status: bit 3 measuring, bit 0 NVM copy in progress.
    pub const STATUS: u8 = 0xF3;
    /// Temperature/pressure oversampling and mode.
    pub const CTRL_MEAS: u8 = 0xF4;
    /// Standby time, IIR filter.
    pub const CONFIG: u8 = 0xF5;
    /// Data burst start: press_msb..hum_lsb (8 bytes, 6 on the BMP280).
    pub const DATA: u8 = 0xF7;
    /// Value to write to `RESET`.
    pub const RESET_VALUE: u8 = 0xB6;
}

/// Which chip the driver expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// BME280: temperature, pressure, humidity.
    Bme280,
    /// BMP280: temperature and pressure.
    Bmp280,
}

impl Variant {
    /// Driver name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Bme280 => "bme280",
            Variant::Bmp280 => "bmp280",
        }
    }

    fn accepts(self, id: u8) -> bool {
        match self {
            Variant::Bme280 => id == CHIP_ID_BME280,
            Variant::Bmp280 => matches!(id, 0x56 | 0x57 | CHIP_ID_BMP280),
        }
    }

    fn data_len(self) -> usize {
        match self {
            Variant::Bme280 => 8,
            Variant::Bmp280 => 6,
        }
    }
}

/// Operating mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One measurement per read, then the chip sleeps (lowest power; the usual choice).
    Forced,
    /// Continuous measurements with `standby` code between them; reads take the latest.
    Normal,
}

/// Validated driver options.
#[derive(Debug, Clone, PartialEq)]
pub struct Bme280Config {
    /// Expected chip.
    pub variant: Variant,
    /// Forced or normal mode.
    pub mode: Mode,
    /// Temperature oversampling (1, 2, 4, 8, 16).
    pub oversampling_t: u8,
    /// Pressure oversampling (0 = skip: no `pressure` value).
    pub oversampling_p: u8,
    /// Humidity oversampling (0 = skip; BME280 only).
    pub oversampling_h: u8,
    /// IIR filter coefficient (0 = off, 2, 4, 8, 16).
    pub filter: u8,
    /// Standby between normal-mode measurements, in ms.
    pub standby_ms: f64,
}

impl Bme280Config {
    /// Defaults: forced mode, x1 oversampling everywhere, filter off, 1000 ms standby.
    pub fn new(variant: Variant) -> Self {
        Self {
            variant,
            mode: Mode::Forced,
            oversampling_t: 1,
            oversampling_p: 1,
            oversampling_h: if variant == Variant::Bme280 { 1 } else { 0 },
            filter: 0,
            standby_ms: 1000.0,
        }
    }

    /// Parse `mode`, `oversampling_t`, `oversampling_p`, `oversampling_h` (BME280), `filter`,
    /// `standby_ms`.
    pub(crate) fn parse(variant: Variant, o: &mut Opts<'_>) -> Result<Self, ConfigError> {
        let mut c = Self::new(variant);
        c.mode = match o.choice("mode", "forced", &["forced", "normal"])? {
            "normal" => Mode::Normal,
            _ => Mode::Forced,
        };
        c.oversampling_t = o.int_choice("oversampling_t", 1, &[1, 2, 4, 8, 16])? as u8;
        c.oversampling_p = o.int_choice("oversampling_p", 1, &[0, 1, 2, 4, 8, 16])? as u8;
        if variant == Variant::Bme280 {
            c.oversampling_h = o.int_choice("oversampling_h", 1, &[0, 1, 2, 4, 8, 16])? as u8;
        }
        c.filter = o.int_choice("filter", 0, &[0, 2, 4, 8, 16])? as u8;
        let allowed: &[f64] = match variant {
            Variant::Bme280 => &[0.5, 10.0, 20.0, 62.5, 125.0, 250.0, 500.0, 1000.0],
            Variant::Bmp280 => &[0.5, 62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0],
        };
        c.standby_ms = o.f64("standby_ms", 1000.0)?;
        if !allowed.contains(&c.standby_ms) {
            let list: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
            return Err(o.error(
                "standby_ms",
                format!("expected one of {}, got {}", list.join(", "), c.standby_ms),
            ));
        }
        Ok(c)
    }

    /// `ctrl_meas` register value for `mode_bits` (0 sleep, 1 forced, 3 normal).
    pub fn ctrl_meas(&self, mode_bits: u8) -> u8 {
        (osrs_code(self.oversampling_t) << 5) | (osrs_code(self.oversampling_p) << 2) | mode_bits
    }

    /// `ctrl_hum` register value.
    pub fn ctrl_hum(&self) -> u8 {
        osrs_code(self.oversampling_h)
    }

    /// `config` register value (standby code, filter code; SPI 3-wire off).
    pub fn config_reg(&self) -> u8 {
        let filter = match self.filter {
            2 => 1,
            4 => 2,
            8 => 3,
            16 => 4,
            _ => 0,
        };
        (self.standby_code() << 5) | (filter << 2)
    }

    fn standby_code(&self) -> u8 {
        let ms = self.standby_ms;
        let table: [(f64, u8); 6] = [
            (0.5, 0),
            (62.5, 1),
            (125.0, 2),
            (250.0, 3),
            (500.0, 4),
            (1000.0, 5),
        ];
        if let Some((_, code)) = table.iter().find(|(v, _)| *v == ms) {
            return *code;
        }
        match (self.variant, ms) {
            (Variant::Bme280, 10.0) | (Variant::Bmp280, 2000.0) => 6,
            (Variant::Bme280, 20.0) | (Variant::Bmp280, 4000.0) => 7,
            _ => 5,
        }
    }

    /// Worst-case measurement time in µs (BME280 datasheet §9.1, "t_measure,max").
    pub fn max_measurement_time_us(&self) -> u32 {
        let t = u32::from(self.oversampling_t);
        let p = u32::from(self.oversampling_p);
        let h = u32::from(self.oversampling_h);
        let mut us = 1250 + 2300 * t;
        if p > 0 {
            us += 2300 * p + 575;
        }
        if h > 0 && self.variant == Variant::Bme280 {
            us += 2300 * h + 575;
        }
        us
    }
}

/// Oversampling count -> register code (0 skip, 1 x1, 2 x2, 3 x4, 4 x8, 5 x16).
pub fn osrs_code(count: u8) -> u8 {
    match count {
        0 => 0,
        1 => 1,
        2 => 2,
        4 => 3,
        8 => 4,
        _ => 5,
    }
}

/// Register code -> oversampling count (codes 5..=7 all mean x16).
pub fn osrs_count(code: u8) -> u8 {
    match code & 0x07 {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 4,
        4 => 8,
        _ => 16,
    }
}

/// Factory trimming parameters (datasheet §4.2.2), read once per initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Calibration {
    pub dig_t1: u16,
    pub dig_t2: i16,
    pub dig_t3: i16,
    pub dig_p1: u16,
    pub dig_p2: i16,
    pub dig_p3: i16,
    pub dig_p4: i16,
    pub dig_p5: i16,
    pub dig_p6: i16,
    pub dig_p7: i16,
    pub dig_p8: i16,
    pub dig_p9: i16,
    pub dig_h1: u8,
    pub dig_h2: i16,
    pub dig_h3: u8,
    pub dig_h4: i16,
    pub dig_h5: i16,
    pub dig_h6: i8,
}

impl Calibration {
    /// The BMP280 datasheet's worked example (§3.12) for T and P, plus humidity trimming values
    /// as read from a production BME280. Used by the simulated BME280 and the tests.
    pub const EXAMPLE: Calibration = Calibration {
        dig_t1: 27504,
        dig_t2: 26435,
        dig_t3: -1000,
        dig_p1: 36477,
        dig_p2: -10685,
        dig_p3: 3024,
        dig_p4: 2855,
        dig_p5: 140,
        dig_p6: -7,
        dig_p7: 15500,
        dig_p8: -14600,
        dig_p9: 6000,
        dig_h1: 75,
        dig_h2: 362,
        dig_h3: 0,
        dig_h4: 313,
        dig_h5: 50,
        dig_h6: 30,
    };

    /// Decode registers 0x88..=0xA1 (`tp`) and 0xE1..=0xE7 (`h`; all zero on a BMP280).
    pub fn from_registers(tp: &[u8; 26], h: &[u8; 7]) -> Self {
        let u16le = |i: usize| u16::from_le_bytes([tp[i], tp[i + 1]]);
        let i16le = |i: usize| i16::from_le_bytes([tp[i], tp[i + 1]]);
        Self {
            dig_t1: u16le(0),
            dig_t2: i16le(2),
            dig_t3: i16le(4),
            dig_p1: u16le(6),
            dig_p2: i16le(8),
            dig_p3: i16le(10),
            dig_p4: i16le(12),
            dig_p5: i16le(14),
            dig_p6: i16le(16),
            dig_p7: i16le(18),
            dig_p8: i16le(20),
            dig_p9: i16le(22),
            dig_h1: tp[25],
            dig_h2: i16::from_le_bytes([h[0], h[1]]),
            dig_h3: h[2],
            // 12-bit signed values split across nibbles: H4 = E4[7:0] E5[3:0], H5 = E6[7:0] E5[7:4].
            dig_h4: (i16::from(h[3] as i8) << 4) | i16::from(h[4] & 0x0F),
            dig_h5: (i16::from(h[5] as i8) << 4) | i16::from(h[4] >> 4),
            dig_h6: h[6] as i8,
        }
    }

    /// Encode back into register images (inverse of [`Calibration::from_registers`]).
    pub fn to_registers(&self) -> ([u8; 26], [u8; 7]) {
        let mut tp = [0u8; 26];
        let words: [[u8; 2]; 12] = [
            self.dig_t1.to_le_bytes(),
            self.dig_t2.to_le_bytes(),
            self.dig_t3.to_le_bytes(),
            self.dig_p1.to_le_bytes(),
            self.dig_p2.to_le_bytes(),
            self.dig_p3.to_le_bytes(),
            self.dig_p4.to_le_bytes(),
            self.dig_p5.to_le_bytes(),
            self.dig_p6.to_le_bytes(),
            self.dig_p7.to_le_bytes(),
            self.dig_p8.to_le_bytes(),
            self.dig_p9.to_le_bytes(),
        ];
        for (i, w) in words.iter().enumerate() {
            tp[2 * i] = w[0];
            tp[2 * i + 1] = w[1];
        }
        tp[25] = self.dig_h1;
        let h2 = self.dig_h2.to_le_bytes();
        let h = [
            h2[0],
            h2[1],
            self.dig_h3,
            ((self.dig_h4 >> 4) & 0xFF) as u8,
            ((self.dig_h4 & 0x0F) as u8) | (((self.dig_h5 & 0x0F) as u8) << 4),
            ((self.dig_h5 >> 4) & 0xFF) as u8,
            self.dig_h6 as u8,
        ];
        (tp, h)
    }

    /// Bosch `compensate_T_int32`: returns (temperature in 0.01 °C, t_fine).
    ///
    /// Computed in i64 so a corrupt calibration cannot overflow; for valid inputs the results
    /// equal the datasheet's 32-bit code bit for bit.
    pub fn compensate_temperature(&self, adc_t: u32) -> (i32, i32) {
        let adc_t = i64::from(adc_t);
        let t1 = i64::from(self.dig_t1);
        let var1 = (((adc_t >> 3) - (t1 << 1)) * i64::from(self.dig_t2)) >> 11;
        let d = (adc_t >> 4) - t1;
        let var2 = (((d * d) >> 12) * i64::from(self.dig_t3)) >> 14;
        let t_fine = var1 + var2;
        let t = (t_fine * 5 + 128) >> 8;
        (clamp_i32(t), clamp_i32(t_fine))
    }

    /// Bosch `compensate_P_int64`: pressure in Pa as unsigned Q24.8 (divide by 256), or `None`
    /// when the calibration would divide by zero.
    pub fn compensate_pressure(&self, adc_p: u32, t_fine: i32) -> Option<u32> {
        // i128: Bosch sizes the 64-bit formula to fit; wider math keeps corrupt data from panicking.
        let p1 = i128::from(self.dig_p1);
        let mut var1 = i128::from(t_fine) - 128_000;
        let mut var2 = var1 * var1 * i128::from(self.dig_p6);
        var2 += (var1 * i128::from(self.dig_p5)) << 17;
        var2 += i128::from(self.dig_p4) << 35;
        var1 = ((var1 * var1 * i128::from(self.dig_p3)) >> 8)
            + ((var1 * i128::from(self.dig_p2)) << 12);
        var1 = (((1i128 << 47) + var1) * p1) >> 33;
        if var1 == 0 {
            return None;
        }
        let mut p = 1_048_576 - i128::from(adc_p);
        p = (((p << 31) - var2) * 3125) / var1;
        let var1 = (i128::from(self.dig_p9) * (p >> 13) * (p >> 13)) >> 25;
        let var2 = (i128::from(self.dig_p8) * p) >> 19;
        p = ((p + var1 + var2) >> 8) + (i128::from(self.dig_p7) << 4);
        u32::try_from(p).ok()
    }

    /// Bosch `compensate_H_int32`: relative humidity in %RH as unsigned Q22.10 (divide by 1024).
    pub fn compensate_humidity(&self, adc_h: u32, t_fine: i32) -> u32 {
        let adc_h = i64::from(adc_h);
        let v = i64::from(t_fine) - 76_800;
        let h1 = i64::from(self.dig_h1);
        let h2 = i64::from(self.dig_h2);
        let h3 = i64::from(self.dig_h3);
        let h4 = i64::from(self.dig_h4);
        let h5 = i64::from(self.dig_h5);
        let h6 = i64::from(self.dig_h6);
        let mut x = (((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16_384) >> 15;
        x *= ((((((v * h6) >> 10) * (((v * h3) >> 11) + 32_768)) >> 10) + 2_097_152) * h2 + 8192)
            >> 14;
        x -= ((((x >> 15) * (x >> 15)) >> 7) * h1) >> 4;
        let x = x.clamp(0, 419_430_400);
        (x >> 12) as u32
    }
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Raw ADC values out of the data burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSample {
    /// 20-bit pressure.
    pub adc_p: u32,
    /// 20-bit temperature.
    pub adc_t: u32,
    /// 16-bit humidity (BME280 burst only).
    pub adc_h: Option<u32>,
}

impl RawSample {
    /// Split the 0xF7.. burst (6 or 8 bytes).
    pub fn from_burst(buf: &[u8]) -> Self {
        let b = |i: usize| u32::from(buf.get(i).copied().unwrap_or(0));
        let adc_p = (b(0) << 12) | (b(1) << 4) | (b(2) >> 4);
        let adc_t = (b(3) << 12) | (b(4) << 4) | (b(5) >> 4);
        let adc_h = (buf.len() >= 8).then(|| (b(6) << 8) | b(7));
        Self {
            adc_p,
            adc_t,
            adc_h,
        }
    }
}

/// One compensated measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// °C.
    pub temperature: f64,
    /// hPa (absent when pressure oversampling is 0).
    pub pressure: Option<f64>,
    /// %RH (BME280 with humidity enabled only).
    pub humidity: Option<f64>,
}

impl Measurement {
    /// As a [`Reading`] from `driver`.
    pub fn to_reading(&self, driver: &'static str) -> Reading {
        let mut r = Reading::new(driver).with("temperature", self.temperature);
        if let Some(p) = self.pressure {
            r.push("pressure", p);
        }
        if let Some(h) = self.humidity {
            r.push("humidity", h);
        }
        r
    }
}

/// Check sentinels and compensate a raw sample; `config` says which quantities were measured.
pub fn compensate(
    cal: &Calibration,
    raw: &RawSample,
    config: &Bme280Config,
) -> Result<Measurement, DeviceError> {
    let name = config.variant.name();
    if raw.adc_t == SKIPPED_20BIT {
        return Err(sentinel(name, "temperature", raw.adc_t));
    }
    let (t_centi, t_fine) = cal.compensate_temperature(raw.adc_t);
    let pressure = if config.oversampling_p > 0 {
        if raw.adc_p == SKIPPED_20BIT {
            return Err(sentinel(name, "pressure", raw.adc_p));
        }
        let q = cal.compensate_pressure(raw.adc_p, t_fine).ok_or_else(|| {
            DeviceError::new(
                ErrorCode::Ebadmsg,
                format!("{name}: pressure calibration is invalid (division by zero)"),
            )
        })?;
        Some(f64::from(q) / 256.0 / 100.0)
    } else {
        None
    };
    let humidity = match (config.variant, config.oversampling_h, raw.adc_h) {
        (Variant::Bme280, 1.., Some(adc_h)) => {
            if adc_h == SKIPPED_16BIT {
                return Err(sentinel(name, "humidity", adc_h));
            }
            Some(f64::from(cal.compensate_humidity(adc_h, t_fine)) / 1024.0)
        }
        _ => None,
    };
    Ok(Measurement {
        temperature: f64::from(t_centi) / 100.0,
        pressure,
        humidity,
    })
}

fn sentinel(name: &str, what: &str, raw: u32) -> DeviceError {
    DeviceError::new(
        ErrorCode::Ebadmsg,
        format!("{name}: {what} register holds the 'no data' value {raw:#x} (measurement skipped or not run)"),
    )
}

/// BME280/BMP280 driver over any embedded-hal I2C bus.
pub struct Bme280<I, D> {
    i2c: I,
    delay: D,
    address: u8,
    config: Bme280Config,
    calibration: Option<Calibration>,
    /// Status polls (1 ms apart) after the worst-case measurement time before giving up.
    pub max_polls: u32,
}

impl<I, D> Bme280<I, D>
where
    I: I2c,
    I::Error: 'static,
    D: DelayNs,
{
    /// A driver for the chip at `address`; nothing is sent until the first read.
    pub fn new(i2c: I, delay: D, address: u8, config: Bme280Config) -> Self {
        Self {
            i2c,
            delay,
            address,
            config,
            calibration: None,
            max_polls: 10,
        }
    }

    fn what(&self, step: &str) -> String {
        format!(
            "{} at {:#04x}: {step}",
            self.config.variant.name(),
            self.address
        )
    }

    fn write_reg(&mut self, reg: u8, value: u8, step: &str) -> Result<(), DeviceError> {
        let r = self.i2c.write(self.address, &[reg, value]);
        r.map_err(|e| i2c_error(&self.what(step), e))
    }

    fn read_regs(&mut self, reg: u8, buf: &mut [u8], step: &str) -> Result<(), DeviceError> {
        let r = self.i2c.write_read(self.address, &[reg], buf);
        r.map_err(|e| i2c_error(&self.what(step), e))
    }

    /// Check the chip id, soft-reset, read calibration and program the configuration.
    pub fn init(&mut self) -> Result<(), DeviceError> {
        self.calibration = None;
        let mut id = [0u8];
        self.read_regs(reg::ID, &mut id, "reading chip id")?;
        let variant = self.config.variant;
        if !variant.accepts(id[0]) {
            let hint = match id[0] {
                CHIP_ID_BME280 => " (this is a BME280: use driver 'bme280')",
                0x56..=0x58 => " (this is a BMP280: use driver 'bmp280')",
                _ => "",
            };
            return Err(DeviceError::new(
                ErrorCode::Enodev,
                format!(
                    "{}: chip id {:#04x} is not a {}{hint}",
                    self.what("probe"),
                    id[0],
                    variant.name().to_uppercase()
                ),
            ));
        }
        self.write_reg(reg::RESET, reg::RESET_VALUE, "soft reset")?;
        self.delay.delay_ms(2);
        let mut status = [0u8];
        let mut copied = false;
        for _ in 0..self.max_polls {
            self.read_regs(reg::STATUS, &mut status, "reading status")?;
            if status[0] & 0x01 == 0 {
                copied = true;
                break;
            }
            self.delay.delay_ms(1);
        }
        if !copied {
            return Err(DeviceError::new(
                ErrorCode::Etimedout,
                self.what("calibration copy after reset did not finish"),
            ));
        }
        let mut tp = [0u8; 26];
        self.read_regs(reg::CALIB00, &mut tp, "reading calibration")?;
        let mut h = [0u8; 7];
        if variant == Variant::Bme280 {
            self.read_regs(reg::CALIB26, &mut h, "reading humidity calibration")?;
        }
        let cal = Calibration::from_registers(&tp, &h);
        if cal.dig_t1 == 0 || cal.dig_p1 == 0 {
            return Err(DeviceError::new(
                ErrorCode::Ebadmsg,
                self.what("calibration data is blank (dig_T1 or dig_P1 is 0)"),
            ));
        }
        if variant == Variant::Bme280 {
            self.write_reg(reg::CTRL_HUM, self.config.ctrl_hum(), "writing ctrl_hum")?;
        }
        self.write_reg(reg::CONFIG, self.config.config_reg(), "writing config")?;
        if self.config.mode == Mode::Normal {
            self.write_reg(
                reg::CTRL_MEAS,
                self.config.ctrl_meas(3),
                "starting normal mode",
            )?;
            // The first result is only there after one measurement cycle.
            self.delay.delay_us(self.config.max_measurement_time_us());
        }
        self.calibration = Some(cal);
        Ok(())
    }

    /// Take one measurement (initialising first if needed). Any bus error forces a fresh
    /// initialisation on the next call, so a power-cycled chip is picked up again.
    pub fn measure(&mut self) -> Result<Measurement, DeviceError> {
        let result = self.measure_inner();
        if result.is_err() {
            self.calibration = None;
        }
        result
    }

    fn measure_inner(&mut self) -> Result<Measurement, DeviceError> {
        let cal = match self.calibration {
            Some(c) => c,
            None => {
                self.init()?;
                self.calibration.ok_or_else(|| {
                    DeviceError::new(ErrorCode::Eio, self.what("initialisation incomplete"))
                })?
            }
        };
        if self.config.mode == Mode::Forced {
            self.write_reg(
                reg::CTRL_MEAS,
                self.config.ctrl_meas(1),
                "starting forced measurement",
            )?;
            self.delay.delay_us(self.config.max_measurement_time_us());
            let mut status = [0u8];
            let mut done = false;
            for _ in 0..self.max_polls {
                self.read_regs(reg::STATUS, &mut status, "reading status")?;
                if status[0] & 0x08 == 0 {
                    done = true;
                    break;
                }
                self.delay.delay_ms(1);
            }
            if !done {
                return Err(DeviceError::new(
                    ErrorCode::Etimedout,
                    self.what("measurement did not complete (status 'measuring' stuck)"),
                ));
            }
        }
        let mut buf = [0u8; 8];
        let len = self.config.variant.data_len();
        self.read_regs(reg::DATA, &mut buf[..len], "reading data")?;
        let raw = RawSample::from_burst(&buf[..len]);
        compensate(&cal, &raw, &self.config).map_err(|e| {
            DeviceError::new(
                e.code,
                format!(
                    "{} at {:#04x}: {}",
                    self.config.variant.name(),
                    self.address,
                    e.message
                ),
            )
        })
    }

    /// Give back the bus and delay.
    pub fn release(self) -> (I, D) {
        (self.i2c, self.delay)
    }
}

impl<I, D> BlockingSensor for Bme280<I, D>
where
    I: I2c + Send + 'static,
    D: DelayNs + Send + 'static,
{
    fn driver(&self) -> &'static str {
        self.config.variant.name()
    }

    fn read(&mut self) -> Result<Reading, DeviceError> {
        let m = self.measure()?;
        Ok(m.to_reading(self.config.variant.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BMP280 datasheet's double-precision formulas (§3.12, §8.1 of the BME280 datasheet),
    /// used to cross-check the integer code.
    fn float_t_fine(c: &Calibration, adc_t: u32) -> f64 {
        let adc = f64::from(adc_t);
        let t1 = f64::from(c.dig_t1);
        let var1 = (adc / 16384.0 - t1 / 1024.0) * f64::from(c.dig_t2);
        let var2 = (adc / 131072.0 - t1 / 8192.0).powi(2) * f64::from(c.dig_t3);
        var1 + var2
    }

    fn float_humidity(c: &Calibration, adc_h: u32, t_fine: f64) -> f64 {
        let v = t_fine - 76800.0;
        let mut h = (f64::from(adc_h)
            - (f64::from(c.dig_h4) * 64.0 + f64::from(c.dig_h5) / 16384.0 * v))
            * (f64::from(c.dig_h2) / 65536.0
                * (1.0
                    + f64::from(c.dig_h6) / 67108864.0
                        * v
                        * (1.0 + f64::from(c.dig_h3) / 67108864.0 * v)));
        h *= 1.0 - f64::from(c.dig_h1) * h / 524288.0;
        h.clamp(0.0, 100.0)
    }

    #[test]
    fn datasheet_worked_example_temperature() {
        // BMP280 datasheet §3.12: adc_T = 519888 -> t_fine 128422, T = 25.08 °C.
        let (t, t_fine) = Calibration::EXAMPLE.compensate_temperature(519_888);
        assert_eq!(t_fine, 128_422);
        assert_eq!(t, 2508);
        assert!((float_t_fine(&Calibration::EXAMPLE, 519_888) / 5120.0 - 25.08).abs() < 0.01);
    }

    #[test]
    fn datasheet_worked_example_pressure() {
        // §3.12: adc_P = 415148 -> 100653.27 Pa. The table prints Q24.8 25767236; executing the
        // published 64-bit formula gives 25767233 (0.01 Pa apart, integer rounding in the table).
        let q = Calibration::EXAMPLE
            .compensate_pressure(415_148, 128_422)
            .expect("valid calibration");
        assert_eq!(q, 25_767_233);
        let pa = f64::from(q) / 256.0;
        assert!((pa - 100_653.27).abs() < 0.05, "{pa}");
    }

    #[test]
    fn humidity_integer_formula_matches_double_formula() {
        let c = Calibration::EXAMPLE;
        let (_, t_fine) = c.compensate_temperature(519_888);
        for adc_h in [20_000u32, 25_000, 30_000, 35_000] {
            let q = c.compensate_humidity(adc_h, t_fine);
            let int_rh = f64::from(q) / 1024.0;
            let float_rh = float_humidity(&c, adc_h, f64::from(t_fine));
            assert!(
                (int_rh - float_rh).abs() < 0.05,
                "{adc_h}: {int_rh} vs {float_rh}"
            );
        }
        // Extremes are clamped to 0..=100 %RH.
        assert_eq!(c.compensate_humidity(0, t_fine), 0);
        assert_eq!(c.compensate_humidity(0xFFFF, t_fine), 100 << 10);
    }

    #[test]
    fn calibration_register_roundtrip_including_split_nibbles() {
        let mut c = Calibration::EXAMPLE;
        c.dig_h4 = -300;
        c.dig_h5 = -7;
        c.dig_h6 = -5;
        let (tp, h) = c.to_registers();
        assert_eq!(Calibration::from_registers(&tp, &h), c);
        // Known byte layout: dig_T1 = 27504 = 0x6B70, little endian at 0x88.
        assert_eq!((tp[0], tp[1]), (0x70, 0x6B));
    }

    #[test]
    fn burst_decoding() {
        let raw = RawSample::from_burst(&[0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x6C, 0x85]);
        assert_eq!(raw.adc_p, 0x655AC);
        assert_eq!(raw.adc_t, 0x7EED0);
        assert_eq!(raw.adc_h, Some(0x6C85));
        assert_eq!(RawSample::from_burst(&[0; 6]).adc_h, None);
    }

    #[test]
    fn sentinels_are_errors_not_readings() {
        let cfg = Bme280Config::new(Variant::Bme280);
        let c = Calibration::EXAMPLE;
        let good = RawSample {
            adc_p: 415_148,
            adc_t: 519_888,
            adc_h: Some(30_000),
        };
        let m = compensate(&c, &good, &cfg).expect("good sample");
        assert_eq!(m.temperature, 25.08);
        assert!(m.humidity.is_some());
        for bad in [
            RawSample {
                adc_t: SKIPPED_20BIT,
                ..good
            },
            RawSample {
                adc_p: SKIPPED_20BIT,
                ..good
            },
            RawSample {
                adc_h: Some(SKIPPED_16BIT),
                ..good
            },
        ] {
            let e = compensate(&c, &bad, &cfg).expect_err("sentinel");
            assert_eq!(e.code, ErrorCode::Ebadmsg);
            assert!(
                e.message.contains("0x80000") || e.message.contains("0x8000"),
                "{e}"
            );
        }
        // A quantity configured off is simply absent, even though its register holds the sentinel.
        let mut off = cfg.clone();
        off.oversampling_p = 0;
        let m = compensate(
            &c,
            &RawSample {
                adc_p: SKIPPED_20BIT,
                ..good
            },
            &off,
        )
        .expect("skip");
        assert_eq!(m.pressure, None);
    }

    #[test]
    fn register_values_and_timing() {
        let mut cfg = Bme280Config::new(Variant::Bme280);
        cfg.oversampling_t = 2;
        cfg.oversampling_p = 16;
        cfg.oversampling_h = 1;
        cfg.filter = 4;
        cfg.standby_ms = 62.5;
        assert_eq!(cfg.ctrl_meas(1), (2 << 5) | (5 << 2) | 1);
        assert_eq!(cfg.ctrl_hum(), 1);
        assert_eq!(cfg.config_reg(), (1 << 5) | (2 << 2));
        // 1.25 + 2.3*2 + (2.3*16 + 0.575) + (2.3*1 + 0.575) ms
        assert_eq!(cfg.max_measurement_time_us(), 1250 + 4600 + 37_375 + 2875);
        cfg.standby_ms = 20.0;
        assert_eq!(cfg.config_reg() >> 5, 7);
        assert_eq!(osrs_count(osrs_code(8)), 8);
    }

    #[test]
    fn options_parse_and_reject() {
        let t: toml::Table =
            "mode = \"normal\"\noversampling_p = 16\nfilter = 4\nstandby_ms = 62.5"
                .parse()
                .expect("toml");
        let mut o = Opts::new("bme280", &t);
        let c = Bme280Config::parse(Variant::Bme280, &mut o).expect("valid");
        o.finish().expect("no unknown options");
        assert_eq!(c.mode, Mode::Normal);
        assert_eq!(c.oversampling_p, 16);

        let t: toml::Table = "oversampling_t = 0".parse().expect("toml");
        let mut o = Opts::new("bme280", &t);
        let e = Bme280Config::parse(Variant::Bme280, &mut o).expect_err("t cannot be skipped");
        assert_eq!(e.option.as_deref(), Some("oversampling_t"));

        let t: toml::Table = "oversampling_h = 1".parse().expect("toml");
        let mut o = Opts::new("bmp280", &t);
        Bme280Config::parse(Variant::Bmp280, &mut o).expect("parsed");
        let e = o.finish().expect_err("bmp280 has no humidity");
        assert_eq!(e.option.as_deref(), Some("oversampling_h"));

        let t: toml::Table = "standby_ms = 2000".parse().expect("toml");
        let mut o = Opts::new("bme280", &t);
        let e = Bme280Config::parse(Variant::Bme280, &mut o).expect_err("bmp-only standby");
        assert_eq!(e.option.as_deref(), Some("standby_ms"));
    }
}
