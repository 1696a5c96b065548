//! Sensor drivers: generic over embedded-hal `I2c` (or an async stream, a sysfs directory, a pulse
//! counter), never naming a backend, so the same code runs against Linux hardware and the
//! simulated devices in [`crate::sim`].
//!
//! Every driver produces a [`Reading`]: the driver name plus named `f64` values (and a few strings)
//! in these units, listed per driver by [`registry::DriverInfo::fields`]:
//!
//! | quantity          | unit    | value names                                   |
//! |-------------------|---------|-----------------------------------------------|
//! | temperature       | °C      | `temperature`                                 |
//! | relative humidity | %RH     | `humidity`                                    |
//! | pressure          | hPa     | `pressure`                                    |
//! | illuminance       | lux     | `illuminance`                                 |
//! | voltage           | V       | `ain0`..`ain3`                                |
//! | position          | degrees | `latitude`, `longitude` (signed, WGS84)       |
//! | altitude          | m       | `altitude` (above mean sea level)             |
//! | speed             | m/s     | `speed`                                       |
//! | counts            | counts  | `count`, `pulses`, `satellites`, `fix`        |
//! | rate              | Hz      | `rate`                                        |
//!
//! The agent runs any sensor the same way through [`Sensor::read`]; I2C and sysfs drivers are
//! blocking ([`BlockingSensor`]) and wrapped in [`Blocking`], which runs them on tokio's blocking pool.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::{DeviceError, ErrorCode};

pub mod ads1115;
pub mod bh1750;
pub mod bme280;
pub mod ds18b20;
pub mod modbus;
pub mod nmea;
pub(crate) mod options;
pub mod pulse;
pub mod registry;
pub mod sht3x;

pub use registry::{BusKind, ConfigError, DriverConfig, DriverInfo, FieldInfo, DRIVERS};

/// One sensor reading: the driver name and named values in the units documented per driver.
///
/// A plain struct so the agent can turn it into a JS object `{ sensor, driver, time, ...values }`;
/// no driver uses `sensor`, `driver` or `time` as a value name (Modbus config rejects them).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading {
    /// Driver that produced the reading (`"bme280"`, `"nmea"`, ...).
    pub driver: &'static str,
    /// Numeric values, in insertion order (e.g. `("temperature", 21.5)`).
    pub values: Vec<(String, f64)>,
    /// Text values, e.g. the GPS fix time as ISO 8601.
    pub strings: Vec<(String, String)>,
}

impl Reading {
    /// An empty reading from `driver`.
    pub fn new(driver: &'static str) -> Self {
        Self {
            driver,
            values: Vec::new(),
            strings: Vec::new(),
        }
    }

    /// Append a numeric value.
    pub fn push(&mut self, name: impl Into<String>, value: f64) {
        self.values.push((name.into(), value));
    }

    /// Append a text value.
    pub fn push_str(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.strings.push((name.into(), value.into()));
    }

    /// Builder form of [`Reading::push`].
    pub fn with(mut self, name: impl Into<String>, value: f64) -> Self {
        self.push(name, value);
        self
    }

    /// The numeric value called `name`, if present.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The text value called `name`, if present.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.strings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A sensor the agent can read without knowing its driver or bus.
///
/// `read` is async so serial drivers can await their stream; blocking drivers are wrapped in
/// [`Blocking`]. Each call performs (or collects) one measurement.
pub trait Sensor: Send {
    /// The driver name (as written in the config).
    fn driver(&self) -> &'static str;
    /// Take one reading.
    fn read(&mut self) -> BoxFuture<'_, Result<Reading, DeviceError>>;
}

/// A driver whose read blocks the calling thread (I2C transfers, sysfs reads, measurement waits).
pub trait BlockingSensor: Send + 'static {
    /// The driver name (as written in the config).
    fn driver(&self) -> &'static str;
    /// Take one reading, blocking until it is done.
    fn read(&mut self) -> Result<Reading, DeviceError>;
}

/// Adapter running a [`BlockingSensor`] on tokio's blocking pool, so a slow bus never stalls the
/// async runtime. If a read is abandoned (its future dropped), the next one waits for it to finish.
pub struct Blocking<S> {
    driver: &'static str,
    inner: Arc<Mutex<S>>,
}

impl<S: BlockingSensor> Blocking<S> {
    /// Wrap a blocking driver.
    pub fn new(sensor: S) -> Self {
        Self {
            driver: sensor.driver(),
            inner: Arc::new(Mutex::new(sensor)),
        }
    }

    /// Read on the current thread (for callers that are already off the async runtime).
    pub fn read_blocking(&self) -> Result<Reading, DeviceError> {
        read_locked(&self.inner)
    }
}

impl<S> fmt::Debug for Blocking<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocking")
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

fn read_locked<S: BlockingSensor>(inner: &Mutex<S>) -> Result<Reading, DeviceError> {
    let mut guard = inner.lock().map_err(|_| {
        DeviceError::new(
            ErrorCode::Eio,
            "sensor driver panicked during an earlier read",
        )
    })?;
    guard.read()
}

impl<S: BlockingSensor> Sensor for Blocking<S> {
    fn driver(&self) -> &'static str {
        self.driver
    }

    fn read(&mut self) -> BoxFuture<'_, Result<Reading, DeviceError>> {
        let inner = Arc::clone(&self.inner);
        let driver = self.driver;
        Box::pin(async move {
            tokio::task::spawn_blocking(move || read_locked(&inner))
                .await
                .map_err(|e| {
                    DeviceError::new(ErrorCode::Eio, format!("{driver}: read task failed: {e}"))
                })?
        })
    }
}

/// `embedded_hal::delay::DelayNs` on `std::thread::sleep`, for drivers run on a blocking thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdDelay;

impl embedded_hal::delay::DelayNs for StdDelay {
    fn delay_ns(&mut self, ns: u32) {
        std::thread::sleep(Duration::from_nanos(u64::from(ns)));
    }
}

/// Turn an embedded-hal I2C error into a [`DeviceError`]: a NACK becomes `ENXIO`, anything else `EIO`.
/// `what` names the device and step, e.g. `"bme280 at 0x76: reading calibration"`.
/// A bus whose error type already is a [`DeviceError`] (our own `I2cBus`) keeps its code and
/// message (`ETIMEDOUT`, `EACCES`, ...), prefixed with `what`.
pub(crate) fn i2c_error<E: embedded_hal::i2c::Error + 'static>(what: &str, err: E) -> DeviceError {
    use embedded_hal::i2c::ErrorKind;
    if let Some(dev) = (&err as &dyn std::any::Any).downcast_ref::<DeviceError>() {
        return DeviceError::new(dev.code, format!("{what}: {}", dev.message));
    }
    match err.kind() {
        ErrorKind::NoAcknowledge(_) => DeviceError::new(
            ErrorCode::Enxio,
            format!("{what}: no acknowledge (device absent, wrong address or busy)"),
        ),
        kind => DeviceError::new(
            ErrorCode::Eio,
            format!("{what}: I2C error {kind:?} ({err:?})"),
        ),
    }
}

/// Whether an embedded-hal I2C error is a NACK (some chips NACK reads while they are busy).
pub(crate) fn is_nack<E: embedded_hal::i2c::Error>(err: &E) -> bool {
    matches!(err.kind(), embedded_hal::i2c::ErrorKind::NoAcknowledge(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u32);
    impl BlockingSensor for Counter {
        fn driver(&self) -> &'static str {
            "counter"
        }
        fn read(&mut self) -> Result<Reading, DeviceError> {
            self.0 += 1;
            if self.0 == 3 {
                return Err(DeviceError::new(ErrorCode::Eio, "third read fails"));
            }
            Ok(Reading::new("counter").with("n", f64::from(self.0)))
        }
    }

    #[derive(Debug)]
    struct Foreign;
    impl embedded_hal::i2c::Error for Foreign {
        fn kind(&self) -> embedded_hal::i2c::ErrorKind {
            embedded_hal::i2c::ErrorKind::ArbitrationLoss
        }
    }

    #[test]
    fn i2c_errors_keep_our_codes_and_map_foreign_kinds() {
        let ours = DeviceError::new(ErrorCode::Etimedout, "i2c-1: transfer timed out");
        let e = i2c_error("bme280 at 0x76: reading data", ours);
        assert_eq!(e.code, ErrorCode::Etimedout);
        assert_eq!(
            e.message,
            "bme280 at 0x76: reading data: i2c-1: transfer timed out"
        );
        let e = i2c_error("x", Foreign);
        assert_eq!(e.code, ErrorCode::Eio);
        assert!(e.message.contains("ArbitrationLoss"), "{e}");
    }

    #[test]
    fn reading_lookup_by_name() {
        let mut r = Reading::new("x").with("a", 1.5);
        r.push_str("t", "now");
        assert_eq!(r.value("a"), Some(1.5));
        assert_eq!(r.value("b"), None);
        assert_eq!(r.string("t"), Some("now"));
    }

    #[tokio::test]
    async fn blocking_adapter_runs_reads_in_order_and_passes_errors() {
        let mut s: Box<dyn Sensor> = Box::new(Blocking::new(Counter(0)));
        assert_eq!(s.driver(), "counter");
        let a = s.read().await.expect("first read");
        let b = s.read().await.expect("second read");
        assert_eq!(a.value("n"), Some(1.0));
        assert_eq!(b.value("n"), Some(2.0));
        let e = s.read().await.expect_err("third read fails");
        assert_eq!(e.code, ErrorCode::Eio);
    }
}
