//! Driver registry: config `driver` name + options table -> validated [`DriverConfig`] (what
//! `ganglion check` needs, no hardware) -> a running [`Sensor`] once the agent has opened the bus,
//! serial port, 1-Wire directory or GPIO line the sensor sits on.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use tokio::io::{AsyncRead, AsyncWrite};

use super::ads1115::{self, Ads1115, Ads1115Config};
use super::bh1750::{self, Bh1750, Bh1750Config};
use super::bme280::{self, Bme280, Bme280Config, Variant};
use super::ds18b20::Ds18b20;
use super::modbus::{ModbusConfig, ModbusRtu};
use super::nmea::{NmeaConfig, NmeaGps};
use super::options::Opts;
use super::pulse::{PulseCounterHandle, PulseSensor};
use super::sht3x::{self, Repeatability, Sht3x};
use super::{Blocking, Sensor, StdDelay};
use crate::error::{DeviceError, ErrorCode};

/// What a driver is attached to; tells the agent which resource to open for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusKind {
    /// An I2C bus plus a 7-bit address.
    I2c,
    /// A serial port (async byte stream).
    Serial,
    /// A 1-Wire device id under the sysfs w1 directory.
    OneWire,
    /// A GPIO input line whose edges are counted.
    Gpio,
}

/// One value a driver reports: name, unit and meaning (for docs and the `.d.ts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Property name in the reading.
    pub name: Cow<'static, str>,
    /// Unit (`°C`, `%RH`, `hPa`, `lux`, `V`, `degrees`, `m`, `m/s`, `counts`, `Hz`, or empty).
    pub unit: Cow<'static, str>,
    /// One-line meaning.
    pub description: Cow<'static, str>,
    /// `true` for a string value, `false` for a number.
    pub text: bool,
}

const fn field(name: &'static str, unit: &'static str, description: &'static str) -> FieldInfo {
    FieldInfo {
        name: Cow::Borrowed(name),
        unit: Cow::Borrowed(unit),
        description: Cow::Borrowed(description),
        text: false,
    }
}

/// Static description of a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverInfo {
    /// Name used in the config `driver` field.
    pub name: &'static str,
    /// What it is attached to.
    pub bus: BusKind,
    /// Default I2C address, for I2C drivers.
    pub default_address: Option<u8>,
    /// One-line description.
    pub description: &'static str,
    /// Values it reports (the `modbus` ones come from its register map: see
    /// [`DriverConfig::fields`]).
    pub fields: &'static [FieldInfo],
}

const TEMPERATURE: FieldInfo = field("temperature", "°C", "air temperature");
const HUMIDITY: FieldInfo = field("humidity", "%RH", "relative humidity");
const PRESSURE: FieldInfo = field("pressure", "hPa", "barometric pressure (absolute)");

/// Every driver the registry knows.
pub const DRIVERS: &[DriverInfo] = &[
    DriverInfo {
        name: "bme280",
        bus: BusKind::I2c,
        default_address: Some(bme280::DEFAULT_ADDRESS),
        description: "Bosch BME280 temperature, humidity, pressure",
        fields: &[TEMPERATURE, PRESSURE, HUMIDITY],
    },
    DriverInfo {
        name: "bmp280",
        bus: BusKind::I2c,
        default_address: Some(bme280::DEFAULT_ADDRESS),
        description: "Bosch BMP280 temperature, pressure",
        fields: &[TEMPERATURE, PRESSURE],
    },
    DriverInfo {
        name: "sht3x",
        bus: BusKind::I2c,
        default_address: Some(sht3x::DEFAULT_ADDRESS),
        description: "Sensirion SHT30/31/35 temperature, humidity (CRC checked)",
        fields: &[TEMPERATURE, HUMIDITY],
    },
    DriverInfo {
        name: "ads1115",
        bus: BusKind::I2c,
        default_address: Some(ads1115::DEFAULT_ADDRESS),
        description: "TI ADS1115 4-channel 16-bit ADC, single-ended, volts",
        fields: &[
            field("ain0", "V", "voltage on AIN0 (if configured)"),
            field("ain1", "V", "voltage on AIN1 (if configured)"),
            field("ain2", "V", "voltage on AIN2 (if configured)"),
            field("ain3", "V", "voltage on AIN3 (if configured)"),
        ],
    },
    DriverInfo {
        name: "bh1750",
        bus: BusKind::I2c,
        default_address: Some(bh1750::DEFAULT_ADDRESS),
        description: "ROHM BH1750 ambient light",
        fields: &[field("illuminance", "lux", "illuminance")],
    },
    DriverInfo {
        name: "ds18b20",
        bus: BusKind::OneWire,
        default_address: None,
        description: "Maxim DS18B20 temperature via Linux 1-Wire sysfs",
        fields: &[TEMPERATURE],
    },
    DriverInfo {
        name: "nmea",
        bus: BusKind::Serial,
        default_address: None,
        description: "NMEA 0183 GPS receiver (GGA, RMC)",
        fields: &[
            field(
                "fix",
                "",
                "fix quality: 0 none, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float",
            ),
            field("satellites", "counts", "satellites in use"),
            field("hdop", "", "horizontal dilution of precision"),
            field(
                "latitude",
                "degrees",
                "latitude, north positive (only with a fix)",
            ),
            field(
                "longitude",
                "degrees",
                "longitude, east positive (only with a fix)",
            ),
            field(
                "altitude",
                "m",
                "altitude above mean sea level (only with a fix)",
            ),
            field("speed", "m/s", "speed over ground (only with a fix)"),
            field(
                "course",
                "degrees",
                "course over ground, true north (only with a fix)",
            ),
            FieldInfo {
                name: Cow::Borrowed("gps_time"),
                unit: Cow::Borrowed(""),
                description: Cow::Borrowed("UTC time of the fix, ISO 8601"),
                text: true,
            },
        ],
    },
    DriverInfo {
        name: "modbus",
        bus: BusKind::Serial,
        default_address: None,
        description: "Modbus RTU slave, registers mapped in the config",
        fields: &[],
    },
    DriverInfo {
        name: "pulse",
        bus: BusKind::Gpio,
        default_address: None,
        description: "Pulse counter on a GPIO input line",
        fields: &[
            field("count", "counts", "edges since the sensor started"),
            field("pulses", "counts", "edges during this interval"),
            field("rate", "Hz", "edges per second during this interval"),
        ],
    },
];

/// Accepted alternative names.
const ALIASES: &[(&str, &str)] = &[("sht30", "sht3x"), ("sht31", "sht3x"), ("sht35", "sht3x")];

/// Look a driver up by config name (aliases such as `sht31` resolve to `sht3x`).
pub fn driver_info(name: &str) -> Option<&'static DriverInfo> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical);
    DRIVERS.iter().find(|d| d.name == name)
}

/// A bad driver name or option. `option` names the offending key (`registers[2].type` for
/// nested tables) so the config checker can point at its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Driver name as given.
    pub driver: String,
    /// Offending option, if the problem is with one.
    pub option: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.option {
            Some(o) => write!(
                f,
                "driver '{}', option '{o}': {}",
                self.driver, self.message
            ),
            None => write!(f, "driver '{}': {}", self.driver, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for DeviceError {
    fn from(e: ConfigError) -> Self {
        DeviceError::new(ErrorCode::Einval, e.to_string())
    }
}

/// A driver with validated options, ready to be attached to its bus.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverConfig {
    /// `bme280` or `bmp280` (see [`Bme280Config::variant`]).
    Bme280(Bme280Config),
    /// `sht3x`.
    Sht3x(Repeatability),
    /// `ads1115`.
    Ads1115(Ads1115Config),
    /// `bh1750`.
    Bh1750(Bh1750Config),
    /// `ds18b20` (no options).
    Ds18b20,
    /// `nmea`.
    Nmea(NmeaConfig),
    /// `modbus`.
    Modbus(ModbusConfig),
    /// `pulse` (no options).
    Pulse,
}

impl DriverConfig {
    /// Validate `options` for `driver`. Unknown drivers and unknown options are errors.
    pub fn parse(driver: &str, options: &toml::Table) -> Result<Self, ConfigError> {
        let info = driver_info(driver).ok_or_else(|| ConfigError {
            driver: driver.to_string(),
            option: None,
            message: format!(
                "unknown driver (known: {})",
                DRIVERS
                    .iter()
                    .map(|d| d.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        let mut o = Opts::new(info.name, options);
        let config = match info.name {
            "bme280" => DriverConfig::Bme280(Bme280Config::parse(Variant::Bme280, &mut o)?),
            "bmp280" => DriverConfig::Bme280(Bme280Config::parse(Variant::Bmp280, &mut o)?),
            "sht3x" => DriverConfig::Sht3x(Repeatability::parse(&mut o)?),
            "ads1115" => DriverConfig::Ads1115(Ads1115Config::parse(&mut o)?),
            "bh1750" => DriverConfig::Bh1750(Bh1750Config::parse(&mut o)?),
            "ds18b20" => DriverConfig::Ds18b20,
            "nmea" => DriverConfig::Nmea(NmeaConfig::parse(&mut o)?),
            "modbus" => DriverConfig::Modbus(ModbusConfig::parse(&mut o)?),
            _ => DriverConfig::Pulse,
        };
        o.finish()?;
        Ok(config)
    }

    /// Canonical driver name.
    pub fn name(&self) -> &'static str {
        match self {
            DriverConfig::Bme280(c) => c.variant.name(),
            DriverConfig::Sht3x(_) => "sht3x",
            DriverConfig::Ads1115(_) => "ads1115",
            DriverConfig::Bh1750(_) => "bh1750",
            DriverConfig::Ds18b20 => "ds18b20",
            DriverConfig::Nmea(_) => "nmea",
            DriverConfig::Modbus(_) => "modbus",
            DriverConfig::Pulse => "pulse",
        }
    }

    /// Static description of the driver.
    pub fn info(&self) -> &'static DriverInfo {
        let name = self.name();
        // Every variant's name is in DRIVERS; fall back to the first entry rather than panic.
        DRIVERS
            .iter()
            .find(|d| d.name == name)
            .unwrap_or(&DRIVERS[0])
    }

    /// What the sensor is attached to.
    pub fn bus(&self) -> BusKind {
        self.info().bus
    }

    /// Values this sensor will report, with units (for `modbus`, from its register map; for
    /// `ads1115`, only the configured channels).
    pub fn fields(&self) -> Vec<FieldInfo> {
        match self {
            DriverConfig::Modbus(m) => m
                .registers
                .iter()
                .map(|r| FieldInfo {
                    name: Cow::Owned(r.name.clone()),
                    unit: Cow::Owned(r.unit.clone()),
                    description: Cow::Owned(format!(
                        "{:?} register {} ({:?}) x {}",
                        r.kind, r.address, r.value_type, r.scale
                    )),
                    text: false,
                })
                .collect(),
            DriverConfig::Ads1115(c) => c
                .channels
                .iter()
                .filter_map(|ch| self.info().fields.get(usize::from(*ch)).cloned())
                .collect(),
            DriverConfig::Bme280(c) => self
                .info()
                .fields
                .iter()
                .filter(|f| match f.name.as_ref() {
                    "pressure" => c.oversampling_p > 0,
                    "humidity" => c.oversampling_h > 0,
                    _ => true,
                })
                .cloned()
                .collect(),
            _ => self.info().fields.to_vec(),
        }
    }

    fn wrong_bus(&self, given: &str) -> DeviceError {
        DeviceError::new(
            ErrorCode::Einval,
            format!(
                "driver '{}' is attached to {:?}, not to {given}",
                self.name(),
                self.bus()
            ),
        )
    }

    /// Attach an I2C driver to `bus` at `address` (the driver's default when `None`).
    pub fn build_i2c<I>(&self, bus: I, address: Option<u8>) -> Result<Box<dyn Sensor>, DeviceError>
    where
        I: I2c + Send + 'static,
    {
        self.build_i2c_with_delay(bus, StdDelay, address)
    }

    /// [`DriverConfig::build_i2c`] with a chosen delay provider (tests pass a no-op delay).
    pub fn build_i2c_with_delay<I, D>(
        &self,
        bus: I,
        delay: D,
        address: Option<u8>,
    ) -> Result<Box<dyn Sensor>, DeviceError>
    where
        I: I2c + Send + 'static,
        D: DelayNs + Send + 'static,
    {
        let addr = match address.or(self.info().default_address) {
            Some(a) if a <= 0x7F => a,
            Some(a) => {
                return Err(DeviceError::new(
                    ErrorCode::Einval,
                    format!("I2C address {a:#04x} is not a 7-bit address"),
                ))
            }
            None => return Err(self.wrong_bus("an I2C bus")),
        };
        Ok(match self {
            DriverConfig::Bme280(c) => {
                Box::new(Blocking::new(Bme280::new(bus, delay, addr, c.clone())))
            }
            DriverConfig::Sht3x(r) => Box::new(Blocking::new(Sht3x::new(bus, delay, addr, *r))),
            DriverConfig::Ads1115(c) => {
                Box::new(Blocking::new(Ads1115::new(bus, delay, addr, c.clone())))
            }
            DriverConfig::Bh1750(c) => Box::new(Blocking::new(Bh1750::new(bus, delay, addr, *c))),
            _ => return Err(self.wrong_bus("an I2C bus")),
        })
    }

    /// Attach a serial driver (`nmea`, `modbus`) to an open port.
    pub fn build_serial<S>(&self, stream: S) -> Result<Box<dyn Sensor>, DeviceError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        match self {
            DriverConfig::Nmea(c) => Ok(Box::new(NmeaGps::new(stream, c.clone()))),
            DriverConfig::Modbus(c) => Ok(Box::new(ModbusRtu::new(stream, c.clone()))),
            _ => Err(self.wrong_bus("a serial port")),
        }
    }

    /// Attach `ds18b20` to 1-Wire device `id` under `base_dir` (normally
    /// [`super::ds18b20::DEFAULT_BASE_DIR`]; the simulated board gives its fake tree).
    pub fn build_onewire(&self, base_dir: &Path, id: &str) -> Result<Box<dyn Sensor>, DeviceError> {
        match self {
            DriverConfig::Ds18b20 => Ok(Box::new(Blocking::new(Ds18b20::new(base_dir, id)?))),
            _ => Err(self.wrong_bus("a 1-Wire device")),
        }
    }

    /// Attach `pulse` to the edge counter the GPIO task increments.
    pub fn build_pulse(&self, counter: PulseCounterHandle) -> Result<Box<dyn Sensor>, DeviceError> {
        match self {
            DriverConfig::Pulse => Ok(Box::new(PulseSensor::new(counter))),
            _ => Err(self.wrong_bus("a GPIO pulse counter")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(src: &str) -> toml::Table {
        src.parse().expect("toml")
    }

    #[test]
    fn every_driver_parses_with_defaults_except_modbus() {
        for d in DRIVERS {
            let r = DriverConfig::parse(d.name, &toml::Table::new());
            if d.name == "modbus" {
                let e = r.expect_err("modbus needs registers");
                assert_eq!(e.option.as_deref(), Some("registers"));
            } else {
                let c = r.expect("defaults valid");
                assert_eq!(c.name(), d.name);
                assert_eq!(c.bus(), d.bus);
            }
        }
    }

    #[test]
    fn unknown_driver_and_option_errors() {
        let e = DriverConfig::parse("bme681", &toml::Table::new()).expect_err("unknown");
        assert_eq!(e.option, None);
        assert!(e.to_string().contains("bme280"), "{e}");
        let e = DriverConfig::parse("sht31", &table("repeatibility = \"low\"")).expect_err("typo");
        assert_eq!(e.option.as_deref(), Some("repeatibility"));
        assert_eq!(e.driver, "sht3x");
        let dev: DeviceError = e.into();
        assert_eq!(dev.code, ErrorCode::Einval);
        assert!(dev.message.contains("'repeatibility'"), "{dev}");
    }

    #[test]
    fn fields_follow_the_options() {
        let c = DriverConfig::parse("ads1115", &table("channels = [1, 3]")).expect("valid");
        let names: Vec<_> = c.fields().iter().map(|f| f.name.to_string()).collect();
        assert_eq!(names, vec!["ain1", "ain3"]);
        let c = DriverConfig::parse("bme280", &table("oversampling_h = 0")).expect("valid");
        assert!(c.fields().iter().all(|f| f.name != "humidity"));
        let c = DriverConfig::parse(
            "modbus",
            &table("registers = [{ name = \"v\", address = 0, unit = \"V\" }]"),
        )
        .expect("valid");
        assert_eq!(c.fields()[0].unit, "V");
    }

    #[tokio::test]
    async fn wrong_attachment_is_einval() {
        let c = DriverConfig::parse("nmea", &toml::Table::new()).expect("valid");
        let e = c
            .build_pulse(PulseCounterHandle::new())
            .err()
            .expect("wrong bus");
        assert_eq!(e.code, ErrorCode::Einval);
        let c = DriverConfig::parse("pulse", &toml::Table::new()).expect("valid");
        let (a, _b) = tokio::io::duplex(8);
        assert!(c.build_serial(a).is_err());
        assert!(c.build_onewire(Path::new("/nonexistent"), "28-01").is_err());
    }
}
