//! Simulated BME280/BMP280 at register level: chip id, the datasheet example calibration,
//! soft reset, ctrl_hum/ctrl_meas/config, forced and normal mode, status bits, and data registers
//! computed from target T/H/P by searching the inverse of Bosch's compensation.

use super::rng::{Wander, XorShift64};
use super::{SimI2cDevice, SimNack};
use crate::drivers::bme280::{
    osrs_count, reg, Calibration, Variant, CHIP_ID_BME280, CHIP_ID_BMP280, SKIPPED_16BIT,
    SKIPPED_20BIT,
};

/// Injected misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bme280Fault {
    /// Behaves.
    None,
    /// The status "measuring" bit never clears (the driver must time out).
    Stuck,
    /// Measurements leave the "skipped" sentinel in the data registers.
    Skipped,
}

/// Simulated BME280 (or BMP280).
#[derive(Debug, Clone)]
pub struct SimBme280 {
    variant: Variant,
    regs: [u8; 256],
    pointer: u8,
    cal: Calibration,
    /// Air temperature model, °C.
    pub temperature: Wander,
    /// Relative humidity model, %RH.
    pub humidity: Wander,
    /// Pressure model, hPa.
    pub pressure: Wander,
    rng: XorShift64,
    measuring_reads: u8,
    hum_latched: u8,
    /// Injected fault.
    pub fault: Bme280Fault,
    /// Measurements taken so far.
    pub measurements: u64,
}

impl SimBme280 {
    /// A chip with targets `temperature` °C, `humidity` %RH, `pressure` hPa, drift and noise
    /// scaled by `noise` (0 = exact targets), PRNG `seed`.
    pub fn new(
        variant: Variant,
        temperature: f64,
        humidity: f64,
        pressure: f64,
        noise: f64,
        seed: u64,
    ) -> Self {
        let mut s = Self {
            variant,
            regs: [0; 256],
            pointer: 0,
            cal: Calibration::EXAMPLE,
            temperature: Wander::new(temperature, 0.03, 0.01, -40.0, 85.0).scaled(noise),
            humidity: Wander::new(humidity, 0.08, 0.03, 0.0, 100.0).scaled(noise),
            pressure: Wander::new(pressure, 0.04, 0.012, 300.0, 1100.0).scaled(noise),
            rng: XorShift64::new(seed),
            measuring_reads: 0,
            hum_latched: 0,
            fault: Bme280Fault::None,
            measurements: 0,
        };
        s.power_on_reset();
        s
    }

    fn power_on_reset(&mut self) {
        self.regs = [0; 256];
        self.regs[usize::from(reg::ID)] = match self.variant {
            Variant::Bme280 => CHIP_ID_BME280,
            Variant::Bmp280 => CHIP_ID_BMP280,
        };
        let (tp, h) = self.cal.to_registers();
        let base = usize::from(reg::CALIB00);
        self.regs[base..base + 26].copy_from_slice(&tp);
        if self.variant == Variant::Bme280 {
            let base = usize::from(reg::CALIB26);
            self.regs[base..base + 7].copy_from_slice(&h);
        }
        self.store_raw(SKIPPED_20BIT, SKIPPED_20BIT, SKIPPED_16BIT);
        self.hum_latched = 0;
        self.measuring_reads = 0;
    }

    fn store_raw(&mut self, adc_p: u32, adc_t: u32, adc_h: u32) {
        let d = usize::from(reg::DATA);
        self.regs[d] = (adc_p >> 12) as u8;
        self.regs[d + 1] = (adc_p >> 4) as u8;
        self.regs[d + 2] = ((adc_p & 0x0F) << 4) as u8;
        self.regs[d + 3] = (adc_t >> 12) as u8;
        self.regs[d + 4] = (adc_t >> 4) as u8;
        self.regs[d + 5] = ((adc_t & 0x0F) << 4) as u8;
        if self.variant == Variant::Bme280 {
            self.regs[d + 6] = (adc_h >> 8) as u8;
            self.regs[d + 7] = adc_h as u8;
        }
    }

    /// Raw ADC values that compensate to the given physical values (exposed for tests).
    pub fn raw_for(&self, t_c: f64, h_rh: f64, p_hpa: f64) -> (u32, u32, u32) {
        let cal = &self.cal;
        let target_t = (t_c * 100.0).round();
        let adc_t = search(
            0,
            0xF_FFFF,
            |a| f64::from(cal.compensate_temperature(a).0),
            target_t,
        );
        let (_, t_fine) = cal.compensate_temperature(adc_t);
        let target_p = p_hpa * 100.0 * 256.0;
        // Pressure falls as adc_P rises: search on the negated value.
        let adc_p = search(
            0,
            0xF_FFFF,
            |a| -f64::from(cal.compensate_pressure(a, t_fine).unwrap_or(0)),
            -target_p,
        );
        let target_h = h_rh * 1024.0;
        let adc_h = search(
            0,
            0xFFFF,
            |a| f64::from(cal.compensate_humidity(a, t_fine)),
            target_h,
        );
        (adc_t, adc_p, adc_h)
    }

    fn measure(&mut self) {
        self.measurements += 1;
        let t = self.temperature.sample(&mut self.rng);
        let h = self.humidity.sample(&mut self.rng);
        let p = self.pressure.sample(&mut self.rng);
        if self.fault == Bme280Fault::Skipped {
            self.store_raw(SKIPPED_20BIT, SKIPPED_20BIT, SKIPPED_16BIT);
            return;
        }
        let (adc_t, adc_p, adc_h) = self.raw_for(t, h, p);
        let ctrl = self.regs[usize::from(reg::CTRL_MEAS)];
        let osrs_t = osrs_count(ctrl >> 5);
        let osrs_p = osrs_count((ctrl >> 2) & 7);
        self.store_raw(
            if osrs_p == 0 { SKIPPED_20BIT } else { adc_p },
            if osrs_t == 0 { SKIPPED_20BIT } else { adc_t },
            if self.hum_latched == 0 {
                SKIPPED_16BIT
            } else {
                adc_h
            },
        );
    }

    fn write_reg(&mut self, r: u8, v: u8) {
        match r {
            reg::RESET if v == reg::RESET_VALUE => self.power_on_reset(),
            reg::CTRL_HUM if self.variant == Variant::Bme280 => self.regs[usize::from(r)] = v & 7,
            reg::CTRL_MEAS => {
                self.regs[usize::from(r)] = v;
                // ctrl_hum only takes effect with a ctrl_meas write (datasheet §5.4.3).
                self.hum_latched = osrs_count(self.regs[usize::from(reg::CTRL_HUM)]);
                match v & 0x03 {
                    0 => {}
                    3 => {
                        self.measure();
                        self.measuring_reads = 1;
                    }
                    _ => {
                        self.measure();
                        self.measuring_reads = 1;
                        // Back to sleep after the forced measurement.
                        self.regs[usize::from(r)] = v & !0x03;
                    }
                }
            }
            reg::CONFIG => self.regs[usize::from(r)] = v,
            _ => {} // read-only or reserved: ignored, as the chip does
        }
    }
}

/// Smallest `a` in `lo..=hi` with `f(a) >= target`, for non-decreasing `f` (else `hi`).
fn search(mut lo: u32, mut hi: u32, f: impl Fn(u32) -> f64, target: f64) -> u32 {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if f(mid) >= target {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

impl SimI2cDevice for SimBme280 {
    fn write(&mut self, data: &[u8]) -> Result<(), SimNack> {
        match data {
            [] => {}
            [p] => self.pointer = *p,
            _ => {
                // I2C writes are (register, value) pairs; no auto-increment (datasheet §6.2.1).
                for pair in data.chunks_exact(2) {
                    self.write_reg(pair[0], pair[1]);
                }
                self.pointer = data[0];
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack> {
        let mode = self.regs[usize::from(reg::CTRL_MEAS)] & 0x03;
        if self.pointer == reg::DATA && mode == 3 && self.fault != Bme280Fault::Stuck {
            // Normal mode: a new result is ready whenever it is read (standby is not modelled).
            self.measure();
        }
        let mut p = self.pointer;
        for b in buf.iter_mut() {
            *b = if p == reg::STATUS {
                let measuring = self.fault == Bme280Fault::Stuck || self.measuring_reads > 0;
                self.measuring_reads = self.measuring_reads.saturating_sub(1);
                if measuring {
                    0x08
                } else {
                    0x00
                }
            } else {
                self.regs[usize::from(p)]
            };
            p = p.wrapping_add(1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::bme280::{Bme280, Bme280Config, Mode};
    use crate::error::ErrorCode;
    use crate::sim::testutil::{NoDelay, SimBus};

    fn driver(sim: SimBme280, config: Bme280Config) -> Bme280<SimBus, NoDelay> {
        Bme280::new(SimBus::new(0x76, Box::new(sim)), NoDelay, 0x76, config)
    }

    #[test]
    fn inverse_compensation_hits_targets() {
        let sim = SimBme280::new(Variant::Bme280, 21.5, 45.0, 1013.25, 0.0, 1);
        let (adc_t, adc_p, adc_h) = sim.raw_for(21.5, 45.0, 1013.25);
        let cal = Calibration::EXAMPLE;
        let (t, t_fine) = cal.compensate_temperature(adc_t);
        assert_eq!(t, 2150);
        let p = f64::from(cal.compensate_pressure(adc_p, t_fine).expect("p")) / 25600.0;
        assert!((p - 1013.25).abs() < 0.01, "{p}");
        let h = f64::from(cal.compensate_humidity(adc_h, t_fine)) / 1024.0;
        assert!((h - 45.0).abs() < 0.01, "{h}");
    }

    #[test]
    fn end_to_end_forced_mode() {
        let sim = SimBme280::new(Variant::Bme280, 21.5, 45.0, 1013.25, 0.0, 1);
        let mut d = driver(sim, Bme280Config::new(Variant::Bme280));
        let m = d.measure().expect("measurement");
        assert_eq!(m.temperature, 21.5);
        assert!((m.pressure.expect("p") - 1013.25).abs() < 0.01);
        assert!((m.humidity.expect("h") - 45.0).abs() < 0.01);
    }

    #[test]
    fn end_to_end_normal_mode_with_noise_and_oversampling() {
        let sim = SimBme280::new(Variant::Bme280, 18.0, 60.0, 990.0, 1.0, 42);
        let mut cfg = Bme280Config::new(Variant::Bme280);
        cfg.mode = Mode::Normal;
        cfg.oversampling_p = 16;
        cfg.filter = 4;
        let mut d = driver(sim, cfg);
        let a = d.measure().expect("first");
        let b = d.measure().expect("second");
        assert!((a.temperature - 18.0).abs() < 2.0, "{a:?}");
        assert!((b.pressure.expect("p") - 990.0).abs() < 2.0, "{b:?}");
        assert_ne!(a, b, "noise makes successive readings differ");
    }

    #[test]
    fn bmp280_has_no_humidity_and_wrong_chip_is_enodev() {
        let sim = SimBme280::new(Variant::Bmp280, 25.0, 50.0, 1000.0, 0.0, 1);
        let mut d = driver(sim.clone(), Bme280Config::new(Variant::Bmp280));
        let m = d.measure().expect("bmp280");
        assert_eq!(m.humidity, None);
        assert_eq!(m.temperature, 25.0);

        let mut d = driver(sim, Bme280Config::new(Variant::Bme280));
        let e = d.measure().expect_err("bmp280 is not a bme280");
        assert_eq!(e.code, ErrorCode::Enodev);
        assert!(e.message.contains("use driver 'bmp280'"), "{e}");
    }

    #[test]
    fn skipped_measurement_is_an_error() {
        let mut sim = SimBme280::new(Variant::Bme280, 21.0, 40.0, 1000.0, 0.0, 1);
        sim.fault = Bme280Fault::Skipped;
        let e = driver(sim, Bme280Config::new(Variant::Bme280))
            .measure()
            .expect_err("sentinel");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        assert!(e.message.contains("0x80000"), "{e}");
    }

    #[test]
    fn stuck_measurement_times_out() {
        let mut sim = SimBme280::new(Variant::Bme280, 21.0, 40.0, 1000.0, 0.0, 1);
        sim.fault = Bme280Fault::Stuck;
        let e = driver(sim, Bme280Config::new(Variant::Bme280))
            .measure()
            .expect_err("stuck");
        assert_eq!(e.code, ErrorCode::Etimedout);
    }

    #[test]
    fn humidity_off_until_ctrl_meas_written() {
        let mut sim = SimBme280::new(Variant::Bme280, 21.0, 40.0, 1000.0, 0.0, 1);
        sim.write(&[reg::CTRL_HUM, 1]).expect("ack");
        sim.write(&[reg::CTRL_MEAS, 0x25]).expect("ack");
        let mut buf = [0u8; 8];
        sim.write(&[reg::DATA]).expect("ack");
        sim.read(&mut buf).expect("ack");
        assert_ne!(u16::from_be_bytes([buf[6], buf[7]]), 0x8000);
        // Mode returns to sleep after a forced measurement.
        sim.write(&[reg::CTRL_MEAS]).expect("ack");
        let mut c = [0u8];
        sim.read(&mut c).expect("ack");
        assert_eq!(c[0] & 3, 0);
    }
}
