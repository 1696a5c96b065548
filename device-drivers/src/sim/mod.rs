//! Simulated devices, modelled at register or wire level, so the real drivers run against them.
//!
//! The simulated I2C bus (`crate::i2c::sim`) hosts any [`SimI2cDevice`] at an address; simulated
//! serial devices talk over a real pseudo-terminal (`crate::serial::sim`).

/// The simulated device did not acknowledge (models an I2C NACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimNack;

/// A device on a simulated I2C bus, modelled at register level.
///
/// The bus calls `write` for each write phase (the first byte is usually a register pointer) and
/// `read` for each read phase of a transaction, in order, exactly as the wire would carry them.
pub trait SimI2cDevice: Send {
    /// The master wrote `data` to this device.
    fn write(&mut self, data: &[u8]) -> Result<(), SimNack>;
    /// The master reads `buf.len()` bytes from this device.
    fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack>;
}

pub mod ads1115;
pub mod bh1750;
pub mod bme280;
pub mod ds18b20;
pub mod faults;
pub mod gps;
pub mod modbus;
pub mod rng;
pub mod sht31;
#[cfg(test)]
pub(crate) mod testutil;

use std::path::Path;
use std::time::Duration;

use crate::drivers::bme280::Variant;
use crate::drivers::modbus::WordOrder;
use crate::drivers::options::Opts;
use crate::error::DeviceError;

/// I2C device kinds [`build_i2c_device`] knows.
pub const I2C_KINDS: &[&str] = &[
    "bme280", "bmp280", "sht31", "ads1115", "bh1750", "nack", "garbage", "timeout",
];

/// Build a simulated I2C device from a board-file entry.
///
/// Kinds and options (all optional; `noise` scales drift and noise, 0 = exact values; `seed`
/// picks the PRNG stream, default 1):
/// - `bme280`: `temperature` (°C, 21.5), `humidity` (%RH, 45), `pressure` (hPa, 1013.25),
///   `fault` = `"stuck"` (never finishes measuring) | `"skipped"` (0x80000 sentinel).
/// - `bmp280`: as `bme280` without `humidity`.
/// - `sht31` (also `sht30`, `sht35`, `sht3x`): `temperature` (22.0), `humidity` (50),
///   `fault` = `"bad_crc"` | `"stuck"` (results never ready).
/// - `ads1115`: `ain0`..`ain3` (V; 1.65, 0.8, 2.5, 0.05).
/// - `bh1750`: `lux` (320).
/// - `nack`: never acknowledges. `garbage`: random bytes. `timeout`: every transfer blocks for
///   `delay_ms` (1000) and then NACKs.
pub fn build_i2c_device(
    kind: &str,
    options: &toml::Table,
) -> Result<Box<dyn SimI2cDevice>, DeviceError> {
    let label = format!("sim {kind}");
    let mut o = Opts::new(&label, options);
    let device: Box<dyn SimI2cDevice> = match kind {
        "bme280" | "bmp280" => {
            let variant = if kind == "bme280" {
                Variant::Bme280
            } else {
                Variant::Bmp280
            };
            let t = o.f64("temperature", 21.5)?;
            let h = if variant == Variant::Bme280 {
                o.f64("humidity", 45.0)?
            } else {
                0.0
            };
            let p = o.f64("pressure", 1013.25)?;
            let (noise, seed) = noise_seed(&mut o)?;
            let mut sim = bme280::SimBme280::new(variant, t, h, p, noise, seed);
            sim.fault = match o.choice("fault", "none", &["none", "stuck", "skipped"])? {
                "stuck" => bme280::Bme280Fault::Stuck,
                "skipped" => bme280::Bme280Fault::Skipped,
                _ => bme280::Bme280Fault::None,
            };
            Box::new(sim)
        }
        "sht31" | "sht30" | "sht35" | "sht3x" => {
            let t = o.f64("temperature", 22.0)?;
            let h = o.f64("humidity", 50.0)?;
            let (noise, seed) = noise_seed(&mut o)?;
            let mut sim = sht31::SimSht31::new(t, h, noise, seed);
            sim.fault = match o.choice("fault", "none", &["none", "bad_crc", "stuck"])? {
                "bad_crc" => sht31::Sht31Fault::BadCrc,
                "stuck" => sht31::Sht31Fault::Stuck,
                _ => sht31::Sht31Fault::None,
            };
            Box::new(sim)
        }
        "ads1115" => {
            let volts = [
                o.f64("ain0", 1.65)?,
                o.f64("ain1", 0.8)?,
                o.f64("ain2", 2.5)?,
                o.f64("ain3", 0.05)?,
            ];
            let (noise, seed) = noise_seed(&mut o)?;
            Box::new(ads1115::SimAds1115::new(volts, noise, seed))
        }
        "bh1750" => {
            let lux = o.f64("lux", 320.0)?;
            let (noise, seed) = noise_seed(&mut o)?;
            Box::new(bh1750::SimBh1750::new(lux, noise, seed))
        }
        "nack" => Box::new(faults::NackDevice),
        "garbage" => {
            let seed = o.int("seed", 1, 0, i64::MAX)? as u64;
            Box::new(faults::GarbageDevice::new(seed))
        }
        "timeout" => {
            let ms = o.int("delay_ms", 1000, 0, 600_000)? as u64;
            Box::new(faults::StallDevice {
                delay: Duration::from_millis(ms),
            })
        }
        _ => {
            return Err(DeviceError::new(
                crate::error::ErrorCode::Einval,
                format!(
                    "unknown simulated I2C device kind '{kind}' (known: {})",
                    I2C_KINDS.join(", ")
                ),
            ))
        }
    };
    o.finish()?;
    Ok(device)
}

fn noise_seed(o: &mut Opts<'_>) -> Result<(f64, u64), crate::drivers::ConfigError> {
    let noise = o.f64("noise", 1.0)?;
    if !(0.0..=100.0).contains(&noise) {
        return Err(o.error("noise", format!("expected 0..=100, got {noise}")));
    }
    Ok((noise, o.int("seed", 1, 0, i64::MAX)? as u64))
}

/// Serial device kinds [`build_serial_device`] knows.
pub const SERIAL_KINDS: &[&str] = &["gps", "modbus"];

/// A simulated device on a serial line, ready to run on one end of a pty.
#[derive(Debug)]
pub enum SimSerialDevice {
    /// NMEA GPS receiver.
    Gps(Box<gps::SimGps>),
    /// Modbus RTU slave.
    Modbus(modbus::SimModbusSlave),
}

impl SimSerialDevice {
    /// Talk on `stream` until it closes or fails (run it as a task; abort the task to stop).
    ///
    /// tokio-modbus's RTU server only accepts a `tokio_serial::SerialStream`, so that is the
    /// stream type here; `SerialStream::pair()` gives a raw-mode pty pair. The GPS alone can also
    /// run on any `AsyncWrite` with [`gps::SimGps::run`].
    pub async fn run(self, stream: tokio_serial::SerialStream) -> Result<(), DeviceError> {
        match self {
            SimSerialDevice::Gps(g) => g
                .run(stream)
                .await
                .map_err(|e| DeviceError::from_io("simulated GPS", &e)),
            SimSerialDevice::Modbus(m) => m.run(stream).await,
        }
    }
}

/// Build a simulated serial device from a board-file entry.
///
/// - `gps`: `latitude` (48.1173), `longitude` (11.5167), `altitude` (m, 545.4), `speed` (m/s, 0),
///   `course` (degrees, 0), `satellites` (9), `fix` (true), `interval_ms` (1000), `talker`
///   ("GP"), `fault` = `"bad_checksum"` | `"truncated"`, `noise`, `seed`.
/// - `modbus`: `unit_id` (1), `word_order` ("big" | "little"), `fault` = `"exception"` |
///   `"silent"`, `noise`, `seed`. Register map: see [`modbus`].
pub fn build_serial_device(
    kind: &str,
    options: &toml::Table,
) -> Result<SimSerialDevice, DeviceError> {
    let label = format!("sim {kind}");
    let mut o = Opts::new(&label, options);
    let device = match kind {
        "gps" => {
            let lat = o.f64("latitude", 48.1173)?;
            if !(-90.0..=90.0).contains(&lat) {
                return Err(o.error("latitude", "expected -90..=90").into());
            }
            let lon = o.f64("longitude", 11.5167)?;
            if !(-180.0..=180.0).contains(&lon) {
                return Err(o.error("longitude", "expected -180..=180").into());
            }
            let alt = o.f64("altitude", 545.4)?;
            let (noise, seed) = noise_seed(&mut o)?;
            let mut g = gps::SimGps::new(lat, lon, alt, noise, seed);
            g.speed = o.f64("speed", 0.0)?.max(0.0);
            g.course = o.f64("course", 0.0)?.rem_euclid(360.0);
            g.satellites = o.int("satellites", 9, 0, 99)? as u8;
            g.fix = o.bool("fix", true)?;
            g.interval = Duration::from_millis(o.int("interval_ms", 1000, 10, 60_000)? as u64);
            let talker = o.opt_str("talker")?.unwrap_or("GP");
            if talker.len() != 2 || !talker.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(o
                    .error("talker", "expected two capital letters like GP or GN")
                    .into());
            }
            g.talker = talker.to_string();
            g.fault = match o.choice("fault", "none", &["none", "bad_checksum", "truncated"])? {
                "bad_checksum" => gps::GpsFault::BadChecksum,
                "truncated" => gps::GpsFault::Truncated,
                _ => gps::GpsFault::None,
            };
            SimSerialDevice::Gps(Box::new(g))
        }
        "modbus" => {
            let unit = o.int("unit_id", 1, 1, 247)? as u8;
            let order = match o.choice("word_order", "big", &["big", "little"])? {
                "little" => WordOrder::LowFirst,
                _ => WordOrder::HighFirst,
            };
            let (noise, seed) = noise_seed(&mut o)?;
            let mut m = modbus::SimModbusSlave::new(unit, order, noise, seed);
            m.fault = match o.choice("fault", "none", &["none", "exception", "silent"])? {
                "exception" => modbus::ModbusFault::Exception,
                "silent" => modbus::ModbusFault::Silent,
                _ => modbus::ModbusFault::None,
            };
            SimSerialDevice::Modbus(m)
        }
        _ => {
            return Err(DeviceError::new(
                crate::error::ErrorCode::Einval,
                format!(
                    "unknown simulated serial device kind '{kind}' (known: {})",
                    SERIAL_KINDS.join(", ")
                ),
            ))
        }
    };
    o.finish()?;
    Ok(device)
}

/// Build a simulated DS18B20 writing `<base_dir>/<id>/w1_slave`.
///
/// Options: `temperature` (°C, 19.0), `fault` = `"crc"` (kernel says NO) | `"power_on"` (85 °C
/// value) | `"disconnected"` (all-zero scratchpad), `noise`, `seed`. Call
/// [`ds18b20::SimDs18b20::write_once`] or spawn [`ds18b20::SimDs18b20::run`].
pub fn build_w1_device(
    base_dir: &Path,
    id: &str,
    options: &toml::Table,
) -> Result<ds18b20::SimDs18b20, DeviceError> {
    let mut o = Opts::new("sim ds18b20", options);
    let t = o.f64("temperature", 19.0)?;
    let (noise, seed) = noise_seed(&mut o)?;
    let mut sim = ds18b20::SimDs18b20::new(base_dir, id, t, noise, seed)?;
    sim.fault = match o.choice(
        "fault",
        "none",
        &["none", "crc", "power_on", "disconnected"],
    )? {
        "crc" => ds18b20::Ds18b20Fault::CrcNo,
        "power_on" => ds18b20::Ds18b20Fault::PowerOn,
        "disconnected" => ds18b20::Ds18b20Fault::Disconnected,
        _ => ds18b20::Ds18b20Fault::None,
    };
    o.finish()?;
    Ok(sim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::DriverConfig;
    use crate::error::ErrorCode;
    use testutil::{NoDelay, SimBus};

    fn table(src: &str) -> toml::Table {
        src.parse().expect("toml")
    }

    /// Build a sim device and the matching driver through both registries, read once.
    async fn read_via_registries(
        kind: &str,
        sim_opts: &str,
        driver: &str,
        addr: u8,
    ) -> Result<crate::drivers::Reading, DeviceError> {
        let dev = build_i2c_device(kind, &table(sim_opts))?;
        let cfg = DriverConfig::parse(driver, &toml::Table::new())?;
        let mut sensor = cfg.build_i2c_with_delay(SimBus::new(addr, dev), NoDelay, Some(addr))?;
        sensor.read().await
    }

    #[tokio::test]
    async fn every_i2c_kind_reads_through_its_driver() {
        let r = read_via_registries("bme280", "noise = 0", "bme280", 0x76)
            .await
            .expect("bme280");
        assert_eq!(r.value("temperature"), Some(21.5));
        let r = read_via_registries("bmp280", "pressure = 950", "bmp280", 0x77)
            .await
            .expect("bmp280");
        assert!((r.value("pressure").expect("p") - 950.0).abs() < 3.0);
        let r = read_via_registries("sht31", "humidity = 70", "sht31", 0x44)
            .await
            .expect("sht31");
        assert!((r.value("humidity").expect("rh") - 70.0).abs() < 3.0);
        let r = read_via_registries("ads1115", "ain2 = 3.3\nnoise = 0", "ads1115", 0x48)
            .await
            .expect("ads1115");
        assert!((r.value("ain2").expect("ain2") - 3.3).abs() < 0.001);
        let r = read_via_registries("bh1750", "lux = 1000", "bh1750", 0x23)
            .await
            .expect("bh1750");
        assert!((r.value("illuminance").expect("lux") - 1000.0).abs() < 50.0);
    }

    /// The real stack the agent uses: simulated chips on the sim bus behind `I2cBus`, drivers
    /// built by the registry with real delays. A NACKing device does not disturb the others.
    #[tokio::test]
    async fn whole_sim_bus_through_i2c_bus_handle() {
        let mut bus = crate::i2c::sim::SimI2cBus::new("sim-i2c-test");
        for (addr, kind) in [
            (0x76, "bme280"),
            (0x44, "sht31"),
            (0x48, "ads1115"),
            (0x23, "bh1750"),
            (0x50, "nack"),
        ] {
            let dev = build_i2c_device(kind, &toml::Table::new()).expect("sim device");
            bus.attach(addr, dev).expect("attach");
        }
        let handle = crate::i2c::I2cBus::spawn(Box::new(bus)).expect("bus");
        for (driver, addr, value) in [
            ("bme280", 0x76, "pressure"),
            ("sht3x", 0x44, "humidity"),
            ("ads1115", 0x48, "ain3"),
            ("bh1750", 0x23, "illuminance"),
        ] {
            let cfg = DriverConfig::parse(driver, &toml::Table::new()).expect("config");
            let mut s = cfg.build_i2c(handle.clone(), Some(addr)).expect("sensor");
            let r = s.read().await.expect(driver);
            assert!(r.value(value).is_some(), "{driver}: {r:?}");
        }
        let cfg = DriverConfig::parse("sht3x", &toml::Table::new()).expect("config");
        let mut s = cfg.build_i2c(handle.clone(), Some(0x50)).expect("sensor");
        assert_eq!(s.read().await.expect_err("nack").code, ErrorCode::Enxio);
        let mut s = cfg.build_i2c(handle, Some(0x44)).expect("sensor");
        assert!(s.read().await.is_ok(), "bus still fine after the NACK");
    }

    #[tokio::test]
    async fn fault_kinds_give_the_right_codes() {
        let e = read_via_registries("nack", "", "sht3x", 0x44)
            .await
            .expect_err("nack");
        assert_eq!(e.code, ErrorCode::Enxio);
        let e = read_via_registries("garbage", "seed = 9", "sht3x", 0x44)
            .await
            .expect_err("garbage");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        let e = read_via_registries("sht31", "fault = \"bad_crc\"", "sht3x", 0x44)
            .await
            .expect_err("bad crc");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        let e = read_via_registries("bme280", "fault = \"skipped\"", "bme280", 0x76)
            .await
            .expect_err("sentinel");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        let e = read_via_registries("bme280", "fault = \"stuck\"", "bme280", 0x76)
            .await
            .expect_err("stuck");
        assert_eq!(e.code, ErrorCode::Etimedout);
        let e = read_via_registries("timeout", "delay_ms = 1", "bh1750", 0x23)
            .await
            .expect_err("stall");
        assert_eq!(e.code, ErrorCode::Enxio);
    }

    #[test]
    fn bad_board_options_name_the_option() {
        let e = build_i2c_device("bme280", &table("temprature = 20"))
            .err()
            .expect("typo");
        assert_eq!(e.code, ErrorCode::Einval);
        assert!(e.message.contains("'temprature'"), "{e}");
        let e = build_i2c_device("bmp280", &table("humidity = 20"))
            .err()
            .expect("no humidity");
        assert!(e.message.contains("'humidity'"), "{e}");
        let e = build_i2c_device("lm75", &toml::Table::new())
            .err()
            .expect("unknown");
        assert!(e.message.contains("bme280"), "{e}");
        let e = build_serial_device("gps", &table("latitude = 91")).expect_err("range");
        assert!(e.message.contains("'latitude'"), "{e}");
        let e = build_serial_device("modbus", &table("unit_id = 300")).expect_err("range");
        assert!(e.message.contains("'unit_id'"), "{e}");
        assert!(build_serial_device("gps", &table("fix = false\ntalker = \"GN\"")).is_ok());
        assert!(build_w1_device(Path::new("/tmp"), "28-01", &table("fault = \"hot\"")).is_err());
    }

    #[tokio::test]
    async fn serial_devices_run_on_a_pty_through_the_registries() {
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty");
        let dev =
            build_serial_device("gps", &table("interval_ms = 20\nlatitude = 51.5")).expect("gps");
        let task = tokio::spawn(dev.run(master));
        let mut s = DriverConfig::parse("nmea", &toml::Table::new())
            .expect("cfg")
            .build_serial(slave)
            .expect("sensor");
        let r = s.read().await.expect("fix");
        assert!((r.value("latitude").expect("lat") - 51.5).abs() < 0.01);
        task.abort();
    }

    #[tokio::test]
    async fn w1_device_through_the_registries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sim = build_w1_device(
            dir.path(),
            "28-00000000abcd",
            &table("temperature = -5.5\nnoise = 0"),
        )
        .expect("sim");
        sim.write_once().expect("write");
        let mut s = DriverConfig::parse("ds18b20", &toml::Table::new())
            .expect("cfg")
            .build_onewire(dir.path(), "28-00000000abcd")
            .expect("sensor");
        assert_eq!(
            s.read().await.expect("reading").value("temperature"),
            Some(-5.5)
        );
    }
}
