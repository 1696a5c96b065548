//! `[[sensors]]` in `ganglion.toml`: what is read, where it sits, how often.
//!
//! ```toml
//! [[sensors]]
//! name = "climate"          # unique; scripts use it (`sensors.get("climate")`)
//! driver = "bme280"         # see docs/sensors.md for drivers and their values
//! bus = 1                   # I2C: bus (board default) and address (driver default)
//! address = 0x76
//! interval = "5s"           # how often (default 10s)
//! timeout = "2s"            # one read may take this long (default 5s)
//! offline_after = 3         # consecutive failures before 'offline' (default 3)
//! options = { oversampling_t = 2 }   # driver options
//! ```
//!
//! Where a sensor sits depends on its driver's bus: I2C `bus` + `address`; serial `port` (a board
//! port name or a device path) + `baud`; Modbus also `unit`; 1-Wire `id` (+ `base_dir`); GPIO
//! `pin` (+ `edge`). Serde checks types and unknown keys (toml names line and key); [`validate`]
//! checks the rest, including the driver options through [`DriverConfig::parse`], and names file,
//! line, column and key (`sensors[2].options.registers[0].type`) for every problem at once.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ganglion_devices::board::{line_col, Board, PinRef};
use ganglion_devices::drivers::ds18b20::validate_id;
use ganglion_devices::drivers::{BusKind, DriverConfig};
use ganglion_devices::gpio::Edge;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// Default time between reads.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Default limit for one read.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of consecutive failures before a sensor is reported offline.
pub const DEFAULT_OFFLINE_AFTER: u32 = 3;
/// Default number of undelivered events kept per sensor while the script is busy.
pub const DEFAULT_QUEUE: usize = 32;
/// Shortest interval accepted (a read every 10 ms is already a lot for one bus).
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// A duration written as a string (`"5s"`, `"250ms"`) or an integer number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::config::de_duration(d).map(Dur)
    }
}

/// One `[[sensors]]` table as written (types checked, spans kept for messages).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorConfig {
    /// Unique name scripts use.
    pub name: Spanned<String>,
    /// Driver name (`bme280`, `sht31`, `nmea`, ...).
    pub driver: Spanned<String>,
    /// I2C bus number (default: the board's first bus).
    #[serde(default)]
    pub bus: Option<Spanned<u32>>,
    /// I2C 7-bit address (default: the driver's).
    #[serde(default)]
    pub address: Option<Spanned<i64>>,
    /// Serial port: a board port name (`gps`) or a device path (`/dev/ttyUSB0`).
    #[serde(default)]
    pub port: Option<Spanned<String>>,
    /// Serial baud rate (default: the board's for that port, else 9600).
    #[serde(default)]
    pub baud: Option<Spanned<u32>>,
    /// Modbus unit (slave) id, 1..=247.
    #[serde(default)]
    pub unit: Option<Spanned<i64>>,
    /// 1-Wire device id (`28-0000075a1c2b`).
    #[serde(default)]
    pub id: Option<Spanned<String>>,
    /// 1-Wire sysfs directory (default `/sys/bus/w1/devices`; on the simulated board
    /// `<state_dir>/sim/w1`).
    #[serde(default)]
    pub base_dir: Option<Spanned<String>>,
    /// GPIO pin: number (BCM on a Pi) or board name (`GPIO27`).
    #[serde(default)]
    pub pin: Option<Spanned<PinRef>>,
    /// Edges a pulse counter counts: `rising` (default), `falling` or `both`.
    #[serde(default)]
    pub edge: Option<Spanned<String>>,
    /// Time between reads.
    #[serde(default)]
    pub interval: Option<Spanned<Dur>>,
    /// Limit for one read; a read taking longer fails with ETIMEDOUT.
    #[serde(default)]
    pub timeout: Option<Spanned<Dur>>,
    /// Consecutive failures before the sensor is reported offline.
    #[serde(default)]
    pub offline_after: Option<Spanned<u32>>,
    /// Events kept for this sensor while the script is busy; beyond it the oldest are dropped.
    #[serde(default)]
    pub queue: Option<Spanned<u32>>,
    /// First retry delay after a failure (default: the interval, at most 1 s); doubles per failure.
    #[serde(default)]
    pub backoff: Option<Spanned<Dur>>,
    /// Longest retry delay (default: the interval, at least 30 s).
    #[serde(default)]
    pub backoff_max: Option<Spanned<Dur>>,
    /// Driver options (see docs/sensors.md).
    #[serde(default)]
    pub options: Option<Spanned<toml::Table>>,
}

/// Where a sensor is attached, by bus kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// I2C bus (board default if `None`) and address (driver default if `None`).
    I2c {
        /// Bus number.
        bus: Option<u32>,
        /// 7-bit address.
        address: Option<u8>,
    },
    /// Serial port by board name or path.
    Serial {
        /// Port name or path.
        port: String,
        /// Baud rate (board default, else 9600, if `None`).
        baud: Option<u32>,
    },
    /// 1-Wire sysfs device.
    OneWire {
        /// Device id.
        id: String,
        /// sysfs directory; `None` is the kernel's (or the simulator's on the sim board).
        base_dir: Option<PathBuf>,
    },
    /// GPIO input whose edges are counted.
    Gpio {
        /// The pin.
        pin: PinRef,
        /// Which edges count.
        edge: Edge,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::I2c { bus, address } => {
                write!(f, "I2C bus ")?;
                match bus {
                    Some(b) => write!(f, "{b}")?,
                    None => write!(f, "(default)")?,
                }
                match address {
                    Some(a) => write!(f, " address {a:#04x}"),
                    None => write!(f, " (driver address)"),
                }
            }
            Location::Serial { port, .. } => write!(f, "serial port {port}"),
            Location::OneWire { id, .. } => write!(f, "1-Wire {id}"),
            Location::Gpio { pin, .. } => write!(f, "GPIO pin {pin}"),
        }
    }
}

/// A validated sensor, ready for the subsystem.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSpec {
    /// Unique name.
    pub name: String,
    /// Driver with validated options.
    pub driver: DriverConfig,
    /// Where it is attached.
    pub location: Location,
    /// Time between reads.
    pub interval: Duration,
    /// Limit for one read.
    pub timeout: Duration,
    /// Consecutive failures before 'offline'.
    pub offline_after: u32,
    /// Undelivered events kept while the script is busy.
    pub queue: usize,
    /// First retry delay after a failure.
    pub backoff: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

/// One problem with one `[[sensors]]` entry: key path below `sensors[i]`, where, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index of the `[[sensors]]` entry.
    pub index: usize,
    /// Key below the entry, e.g. `options.mode` or `address`.
    pub key: String,
    /// Byte range in the config text, when known.
    pub span: Option<Range<usize>>,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    fn new(
        index: usize,
        key: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            index,
            key: key.to_string(),
            span,
            message: message.into(),
        }
    }

    /// Render as `line L, column C: sensors[i].key: message` using the config `text`.
    pub fn render(&self, text: &str) -> String {
        let place = match self
            .span
            .as_ref()
            .or(locate(text, self.index, &self.key).as_ref())
        {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                format!("line {line}, column {col}: ")
            }
            None => String::new(),
        };
        format!(
            "{place}sensors[{}].{}: {}",
            self.index, self.key, self.message
        )
    }
}

fn span_of<T>(s: &Option<Spanned<T>>) -> Option<Range<usize>> {
    s.as_ref().map(|v| v.span())
}

impl SensorConfig {
    /// The location keys given, with their spans (for "not used by this driver" messages).
    fn location_keys(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut keys = Vec::new();
        let mut add = |k: &'static str, s: Option<Range<usize>>| {
            if let Some(s) = s {
                keys.push((k, s));
            }
        };
        add("bus", span_of(&self.bus));
        add("address", span_of(&self.address));
        add("port", span_of(&self.port));
        add("baud", span_of(&self.baud));
        add("unit", span_of(&self.unit));
        add("id", span_of(&self.id));
        add("base_dir", span_of(&self.base_dir));
        add("pin", span_of(&self.pin));
        add("edge", span_of(&self.edge));
        keys
    }

    /// Validate this entry (number `index`, relative paths against `base`) into a spec.
    pub fn spec(&self, index: usize, base: &Path) -> Result<SensorSpec, Vec<Problem>> {
        let mut problems = Vec::new();
        let p = |key: &str, span: Option<Range<usize>>, msg: String| {
            Problem::new(index, key, span, msg)
        };
        let name = self.name.get_ref().trim();
        if name.is_empty() {
            problems.push(p(
                "name",
                Some(self.name.span()),
                "must not be empty".into(),
            ));
        } else if name != self.name.get_ref() || name.chars().any(char::is_control) {
            problems.push(p(
                "name",
                Some(self.name.span()),
                "must not have surrounding spaces or control characters".into(),
            ));
        }

        // Driver options, with the location keys that belong in them moved in.
        let mut options = self
            .options
            .as_ref()
            .map(|o| o.get_ref().clone())
            .unwrap_or_default();
        let mut unit_in_options = false;
        if let Some(unit) = &self.unit {
            if options.contains_key("unit_id") {
                problems.push(p(
                    "unit",
                    Some(unit.span()),
                    "give the Modbus unit as `unit` or as options.unit_id, not both".into(),
                ));
            } else {
                options.insert("unit_id".into(), toml::Value::Integer(*unit.get_ref()));
                unit_in_options = true;
            }
        }
        let driver = match DriverConfig::parse(self.driver.get_ref(), &options) {
            Ok(d) => Some(d),
            Err(e) => {
                let (key, span) = match e.option.as_deref() {
                    None => ("driver".to_string(), Some(self.driver.span())),
                    Some("unit_id") if unit_in_options => ("unit".to_string(), span_of(&self.unit)),
                    Some(opt) => (format!("options.{opt}"), None),
                };
                problems.push(Problem::new(index, &key, span, e.message));
                None
            }
        };

        let interval = self.interval.as_ref().map(|d| d.get_ref().0);
        let interval = match (interval, &self.interval) {
            (Some(i), Some(s)) if i < MIN_INTERVAL => {
                problems.push(p(
                    "interval",
                    Some(s.span()),
                    format!("{i:?} is too short (at least {MIN_INTERVAL:?})"),
                ));
                DEFAULT_INTERVAL
            }
            (Some(i), _) => i,
            (None, _) => DEFAULT_INTERVAL,
        };
        let positive = |v: &Option<Spanned<Dur>>, key: &str, problems: &mut Vec<Problem>| {
            v.as_ref().and_then(|d| {
                if d.get_ref().0.is_zero() {
                    problems.push(p(key, Some(d.span()), "must be greater than zero".into()));
                    None
                } else {
                    Some(d.get_ref().0)
                }
            })
        };
        let timeout = positive(&self.timeout, "timeout", &mut problems).unwrap_or(DEFAULT_TIMEOUT);
        let backoff = positive(&self.backoff, "backoff", &mut problems)
            .unwrap_or_else(|| interval.min(Duration::from_secs(1)));
        let backoff_max = positive(&self.backoff_max, "backoff_max", &mut problems)
            .unwrap_or_else(|| interval.max(Duration::from_secs(30)));
        if backoff_max < backoff {
            let span = span_of(&self.backoff_max).or(span_of(&self.backoff));
            problems.push(p(
                if self.backoff_max.is_some() {
                    "backoff_max"
                } else {
                    "backoff"
                },
                span,
                format!("backoff_max ({backoff_max:?}) is shorter than backoff ({backoff:?})"),
            ));
        }
        let offline_after = match &self.offline_after {
            Some(n) if *n.get_ref() == 0 => {
                problems.push(p(
                    "offline_after",
                    Some(n.span()),
                    "must be at least 1".into(),
                ));
                DEFAULT_OFFLINE_AFTER
            }
            Some(n) => *n.get_ref(),
            None => DEFAULT_OFFLINE_AFTER,
        };
        let queue = match &self.queue {
            Some(n) if !(1..=100_000).contains(n.get_ref()) => {
                problems.push(p("queue", Some(n.span()), "expected 1..=100000".into()));
                DEFAULT_QUEUE
            }
            Some(n) => *n.get_ref() as usize,
            None => DEFAULT_QUEUE,
        };

        let location = driver
            .as_ref()
            .and_then(|d| self.location(index, d, base, &mut problems));

        match (driver, location) {
            (Some(driver), Some(location)) if problems.is_empty() => Ok(SensorSpec {
                name: name.to_string(),
                driver,
                location,
                interval,
                timeout,
                offline_after,
                queue,
                backoff,
                backoff_max,
            }),
            _ => Err(problems),
        }
    }

    fn location(
        &self,
        index: usize,
        driver: &DriverConfig,
        base: &Path,
        problems: &mut Vec<Problem>,
    ) -> Option<Location> {
        let bus = driver.bus();
        let (allowed, hint): (&[&str], &str) = match bus {
            BusKind::I2c => (&["bus", "address"], "I2C sensors take bus and address"),
            BusKind::Serial if driver.name() == "modbus" => (
                &["port", "baud", "unit"],
                "Modbus sensors take port, baud and unit",
            ),
            BusKind::Serial => (&["port", "baud"], "serial sensors take port and baud"),
            BusKind::OneWire => (&["id", "base_dir"], "1-Wire sensors take id and base_dir"),
            BusKind::Gpio => (&["pin", "edge"], "GPIO sensors take pin and edge"),
        };
        let before = problems.len();
        for (key, span) in self.location_keys() {
            if !allowed.contains(&key) {
                problems.push(Problem::new(
                    index,
                    key,
                    Some(span),
                    format!("not used by driver '{}' ({hint})", self.driver.get_ref()),
                ));
            }
        }
        let missing = |key: &str, what: &str| {
            Problem::new(
                index,
                "driver",
                Some(self.driver.span()),
                format!("driver '{}' needs `{key}` ({what})", self.driver.get_ref()),
            )
        };
        let location = match bus {
            BusKind::I2c => {
                let address = self.address.as_ref().and_then(|a| {
                    let v = ganglion_devices::i2c::device_address(*a.get_ref());
                    if v.is_none() {
                        problems.push(Problem::new(
                            index,
                            "address",
                            Some(a.span()),
                            format!(
                                "bad I2C address {:#x}: 7-bit device addresses are 0x08..=0x77",
                                a.get_ref()
                            ),
                        ));
                    }
                    v
                });
                Location::I2c {
                    bus: self.bus.as_ref().map(|b| *b.get_ref()),
                    address,
                }
            }
            BusKind::Serial => {
                let Some(port) = &self.port else {
                    problems.push(missing("port", "a board serial port name or a device path"));
                    return None;
                };
                if port.get_ref().trim().is_empty() {
                    problems.push(Problem::new(
                        index,
                        "port",
                        Some(port.span()),
                        "must not be empty",
                    ));
                }
                if let Some(b) = &self.baud {
                    if *b.get_ref() == 0 {
                        problems.push(Problem::new(
                            index,
                            "baud",
                            Some(b.span()),
                            "must be greater than zero",
                        ));
                    }
                }
                Location::Serial {
                    port: port.get_ref().clone(),
                    baud: self.baud.as_ref().map(|b| *b.get_ref()),
                }
            }
            BusKind::OneWire => {
                let Some(id) = &self.id else {
                    problems.push(missing("id", "the 1-Wire device id, e.g. 28-0000075a1c2b"));
                    return None;
                };
                if let Err(e) = validate_id(id.get_ref()) {
                    problems.push(Problem::new(index, "id", Some(id.span()), e.message));
                }
                Location::OneWire {
                    id: id.get_ref().clone(),
                    base_dir: self.base_dir.as_ref().map(|d| {
                        let p = Path::new(d.get_ref());
                        if p.is_absolute() {
                            p.to_owned()
                        } else {
                            base.join(p)
                        }
                    }),
                }
            }
            BusKind::Gpio => {
                let Some(pin) = &self.pin else {
                    problems.push(missing("pin", "a pin number or name such as GPIO27"));
                    return None;
                };
                let edge = match self.edge.as_ref().map(|e| (e, e.get_ref().as_str())) {
                    None | Some((_, "rising")) => Edge::Rising,
                    Some((_, "falling")) => Edge::Falling,
                    Some((_, "both")) => Edge::Both,
                    Some((e, other)) => {
                        problems.push(Problem::new(
                            index,
                            "edge",
                            Some(e.span()),
                            format!("expected one of rising, falling, both, got \"{other}\""),
                        ));
                        Edge::Rising
                    }
                };
                Location::Gpio {
                    pin: pin.get_ref().clone(),
                    edge,
                }
            }
        };
        (problems.len() == before).then_some(location)
    }
}

/// Validate every `[[sensors]]` entry of a config whose text is `text` (relative paths against
/// `base`): each entry on its own, then names, ports and addresses across entries. Returns the
/// specs, or every problem rendered as `line L, column C: sensors[i].key: message`.
pub fn validate(
    sensors: &[SensorConfig],
    text: &str,
    base: &Path,
) -> Result<Vec<SensorSpec>, Vec<String>> {
    let mut problems = Vec::new();
    let mut specs = Vec::new();
    for (i, s) in sensors.iter().enumerate() {
        match s.spec(i, base) {
            Ok(spec) => specs.push((i, spec)),
            Err(p) => problems.extend(p),
        }
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, s) in sensors.iter().enumerate() {
        if let Some(first) = names.insert(s.name.get_ref().as_str(), i) {
            problems.push(Problem::new(
                i,
                "name",
                Some(s.name.span()),
                format!(
                    "duplicate sensor name '{}' (also sensors[{first}])",
                    s.name.get_ref()
                ),
            ));
        }
    }
    let mut ports: HashMap<&str, usize> = HashMap::new();
    let mut addresses: HashMap<(Option<u32>, u8), usize> = HashMap::new();
    for (i, spec) in &specs {
        match &spec.location {
            Location::Serial { port, .. } => {
                if let Some(first) = ports.insert(port.as_str(), *i) {
                    problems.push(Problem::new(
                        *i,
                        "port",
                        span_of(&sensors[*i].port),
                        format!(
                            "serial port '{port}' is already used by sensors[{first}] \
                             (one sensor per serial port)"
                        ),
                    ));
                }
            }
            Location::I2c { bus, address } => {
                let addr = address.or(spec.driver.info().default_address);
                if let Some(addr) = addr {
                    if let Some(first) = addresses.insert((*bus, addr), *i) {
                        problems.push(Problem::new(
                            *i,
                            if address.is_some() {
                                "address"
                            } else {
                                "driver"
                            },
                            span_of(&sensors[*i].address).or(Some(sensors[*i].driver.span())),
                            format!(
                                "I2C address {addr:#04x} on this bus is already used by \
                                 sensors[{first}]"
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(specs.into_iter().map(|(_, s)| s).collect())
    } else {
        problems.sort_by_key(|p| (p.index, p.span.as_ref().map(|s| s.start)));
        Err(problems.iter().map(|p| p.render(text)).collect())
    }
}

/// Specs for sensors already validated by [`validate`] (at config load). An entry that fails
/// anyway is left out and logged.
pub fn specs(sensors: &[SensorConfig], base: &Path) -> Vec<SensorSpec> {
    sensors
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s.spec(i, base) {
            Ok(spec) => Some(spec),
            Err(problems) => {
                for p in problems {
                    tracing::error!("sensors[{i}].{}: {}", p.key, p.message);
                }
                None
            }
        })
        .collect()
}

/// Check the sensors' buses, ports and pins against the board (for `ganglion check`): each
/// problem as `FILE:LINE:COLUMN: sensors[i].key: message`.
pub fn check_board(
    sensors: &[SensorConfig],
    board: &Board,
    file: &Path,
    text: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, s) in sensors.iter().enumerate() {
        // Only the bus kind matters here: the registry knows it without parsing options.
        if let Some(info) = ganglion_devices::drivers::registry::driver_info(s.driver.get_ref()) {
            check_bus(i, s, info.bus, board, &mut problems);
        }
    }
    problems
        .iter()
        .map(|p: &Problem| {
            let (line, col) = p
                .span
                .as_ref()
                .map(|s| line_col(text, s.start))
                .unwrap_or((0, 0));
            format!(
                "{}:{line}:{col}: sensors[{}].{}: {}",
                file.display(),
                p.index,
                p.key,
                p.message
            )
        })
        .collect()
}

fn check_bus(i: usize, s: &SensorConfig, bus: BusKind, board: &Board, out: &mut Vec<Problem>) {
    match bus {
        BusKind::I2c => match &s.bus {
            Some(b) => {
                if let Err(e) = board.i2c_path(*b.get_ref()) {
                    out.push(Problem::new(i, "bus", Some(b.span()), e.message));
                }
            }
            None => {
                if board.default_i2c_bus().is_none() {
                    out.push(Problem::new(
                        i,
                        "driver",
                        Some(s.driver.span()),
                        format!("board '{}' has no I2C bus", board.name),
                    ));
                }
            }
        },
        BusKind::Serial => {
            if let Some(port) = &s.port {
                let name = port.get_ref();
                if !name.starts_with('/') && board.serial_port(name).is_none() {
                    let known: Vec<&str> = board.serial.iter().map(|p| p.name.as_str()).collect();
                    out.push(Problem::new(
                        i,
                        "port",
                        Some(port.span()),
                        format!(
                            "board '{}' has no serial port '{name}' (ports: {}; or give a path)",
                            board.name,
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
            }
        }
        BusKind::Gpio => {
            if let Some(pin) = &s.pin {
                if let Err(e) = board.resolve_pin(pin.get_ref()) {
                    out.push(Problem::new(i, "pin", Some(pin.span()), e.message));
                }
            }
        }
        BusKind::OneWire => {}
    }
}

/// `ganglion check`: the sensors of a loaded config against its board (buses, ports, pins).
/// Nothing to say without sensors; a board that does not load is one problem.
pub fn check_config(cfg: &crate::config::Config) -> Vec<String> {
    if cfg.sensors.is_empty() {
        return Vec::new();
    }
    let file = cfg
        .source
        .clone()
        .unwrap_or_else(|| PathBuf::from("ganglion.toml"));
    let board = match crate::devices::load_board(&cfg.agent.board, &cfg.base_dir) {
        Ok(b) => b,
        Err(e) => {
            return vec![format!(
                "{}: [agent] board: cannot check [[sensors]] against the board: {e}",
                file.display()
            )]
        }
    };
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    check_board(&cfg.sensors, &board, &file, &text)
}

/// One step of a key path: `options`, `registers`, `[2]`.
#[derive(Debug, PartialEq, Eq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Split `registers[2].type` into `registers`, `[2]`, `type`.
fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some(close) = rest.find(']') {
            if let Ok(n) = rest[1..close].parse() {
                out.push(Seg::Index(n));
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

/// Byte span of `sensors[index].<key>` in the config text (the key itself where it has one).
fn locate(text: &str, index: usize, key: &str) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let sensors = doc
        .get_ref()
        .iter()
        .find(|(k, _)| k.get_ref() == "sensors")?
        .1;
    let DeValue::Array(list) = sensors.get_ref() else {
        return None;
    };
    let mut current = list.get(index)?;
    let mut best = current.span();
    for seg in segments(key) {
        match (seg, current.get_ref()) {
            (Seg::Key(k), DeValue::Table(t)) => {
                let (name, value) = t.iter().find(|(name, _)| name.get_ref() == k)?;
                best = name.span();
                current = value;
            }
            (Seg::Index(n), DeValue::Array(a)) => {
                current = a.get(n)?;
                best = current.span();
            }
            _ => break,
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        sensors: Vec<SensorConfig>,
    }

    fn check(text: &str) -> Result<Vec<SensorSpec>, Vec<String>> {
        let doc: Doc = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        validate(&doc.sensors, text, Path::new("/etc/ganglion"))
    }

    #[test]
    fn a_full_config_validates_with_defaults() {
        let specs = check(
            r#"
[[sensors]]
name = "climate"
driver = "bme280"
address = 0x77
interval = "5s"

[[sensors]]
name = "gps"
driver = "nmea"
port = "gps"

[[sensors]]
name = "meter"
driver = "modbus"
port = "/dev/ttyUSB0"
baud = 19200
unit = 3
options = { registers = [{ name = "voltage", kind = "input", address = 0, type = "f32", unit = "V" }] }

[[sensors]]
name = "probe"
driver = "ds18b20"
id = "28-0000075a1c2b"
base_dir = "w1"

[[sensors]]
name = "flow"
driver = "pulse"
pin = "GPIO27"
edge = "both"
interval = 1000
"#,
        )
        .expect("valid");
        assert_eq!(specs.len(), 5);
        assert_eq!(
            specs[0].location,
            Location::I2c {
                bus: None,
                address: Some(0x77)
            }
        );
        assert_eq!(specs[0].interval, Duration::from_secs(5));
        assert_eq!(specs[0].backoff, Duration::from_secs(1));
        assert_eq!(specs[0].backoff_max, Duration::from_secs(30));
        assert_eq!(specs[1].timeout, DEFAULT_TIMEOUT);
        assert_eq!(specs[1].interval, DEFAULT_INTERVAL);
        match &specs[2].driver {
            DriverConfig::Modbus(m) => assert_eq!(m.unit_id, 3),
            other => panic!("not modbus: {other:?}"),
        }
        assert_eq!(
            specs[3].location,
            Location::OneWire {
                id: "28-0000075a1c2b".into(),
                base_dir: Some(PathBuf::from("/etc/ganglion/w1"))
            }
        );
        assert_eq!(
            specs[4].location,
            Location::Gpio {
                pin: PinRef::Name("GPIO27".into()),
                edge: Edge::Both
            }
        );
        assert_eq!(specs[4].interval, Duration::from_secs(1));
    }

    #[test]
    fn driver_option_errors_point_at_the_option_line() {
        let e = check(
            "[[sensors]]\nname = \"a\"\ndriver = \"bh1750\"\n\n[[sensors]]\nname = \"b\"\n\
             driver = \"bh1750\"\naddress = 0x5c\n[sensors.options]\nmtreg = 20\n",
        )
        .expect_err("mtreg out of range");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("line 10, column 1: sensors[1].options.mtreg: "),
            "{e:?}"
        );
        let e = check(
            "[[sensors]]\nname = \"m\"\ndriver = \"modbus\"\nport = \"x\"\noptions = { registers = [\n  { name = \"v\", address = 0 },\n  { name = \"w\", address = 1, type = \"u64\" },\n] }\n",
        )
        .expect_err("bad type");
        assert!(
            e[0].starts_with("line 7, column 30: sensors[0].options.registers[1].type: "),
            "{e:?}"
        );
        let e = check("[[sensors]]\nname = \"x\"\ndriver = \"bme681\"\n").expect_err("unknown");
        assert!(e[0].starts_with("line 3, column 10: sensors[0].driver: unknown driver"));
    }

    #[test]
    fn location_keys_must_fit_the_driver() {
        let e = check(
            "[[sensors]]\nname = \"g\"\ndriver = \"nmea\"\naddress = 0x10\n\n[[sensors]]\nname = \"t\"\ndriver = \"ds18b20\"\n",
        )
        .expect_err("wrong keys");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].contains("sensors[0].driver: driver 'nmea' needs `port`"),
            "{e:?}"
        );
        assert!(
            e[1].contains("sensors[0].address: not used by driver 'nmea'"),
            "{e:?}"
        );
        assert!(
            e[2].starts_with("line 8, column 10: sensors[1].driver: driver 'ds18b20' needs `id`"),
            "{e:?}"
        );
        let e = check("[[sensors]]\nname = \"a\"\ndriver = \"sht31\"\naddress = 0x80\n")
            .expect_err("address");
        assert!(e[0].starts_with("line 4, column 11: sensors[0].address: bad I2C address 0x80"));
    }

    #[test]
    fn duplicates_across_entries_are_reported() {
        let e = check(
            "[[sensors]]\nname = \"a\"\ndriver = \"sht31\"\n\n[[sensors]]\nname = \"a\"\ndriver = \"sht3x\"\n\
             \n[[sensors]]\nname = \"g1\"\ndriver = \"nmea\"\nport = \"gps\"\n\n[[sensors]]\nname = \"g2\"\ndriver = \"nmea\"\nport = \"gps\"\n",
        )
        .expect_err("dups");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e.iter()
                .any(|p| p
                    .starts_with("line 6, column 8: sensors[1].name: duplicate sensor name 'a'")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|p| p.contains("sensors[1].driver: I2C address 0x44")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|p| p.starts_with(
                "line 17, column 8: sensors[3].port: serial port 'gps' is already used"
            )),
            "{e:?}"
        );
    }

    #[test]
    fn timing_values_are_checked() {
        let e = check(
            "[[sensors]]\nname = \"a\"\ndriver = \"bh1750\"\ninterval = \"1ms\"\ntimeout = 0\noffline_after = 0\nqueue = 0\n",
        )
        .expect_err("bad timing");
        let keys: Vec<&str> = e.iter().filter_map(|p| p.split(": ").nth(1)).collect();
        assert_eq!(
            keys,
            vec![
                "sensors[0].interval",
                "sensors[0].timeout",
                "sensors[0].offline_after",
                "sensors[0].queue"
            ],
            "{e:?}"
        );
        let e = check("[[sensors]]\nname = \"a\"\ndriver = \"bh1750\"\ninterval = \"soon\"\n")
            .expect_err("bad duration");
        assert!(
            e[0].contains("line 4") && e[0].contains("invalid duration"),
            "{e:?}"
        );
        let e = check("[[sensors]]\nname = \"a\"\ndriver = \"bh1750\"\nadress = 1\n")
            .expect_err("unknown key");
        assert!(e[0].contains("line 4") && e[0].contains("adress"), "{e:?}");
    }

    #[test]
    fn board_check_names_bus_port_and_pin() {
        let text = "[[sensors]]\nname = \"a\"\ndriver = \"sht31\"\nbus = 7\n\n[[sensors]]\nname = \"g\"\ndriver = \"nmea\"\nport = \"gnss\"\n\n[[sensors]]\nname = \"f\"\ndriver = \"pulse\"\npin = \"GPIO99\"\n\n[[sensors]]\nname = \"ok\"\ndriver = \"pulse\"\npin = 27\n";
        let doc: Doc = toml::from_str(text).expect("parse");
        let board = Board::builtin("sim").expect("sim").expect("valid");
        let p = check_board(&doc.sensors, &board, Path::new("g.toml"), text);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p[0].starts_with("g.toml:4:7: sensors[0].bus: board 'sim' has no I2C bus 7"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("g.toml:9:8: sensors[1].port: board 'sim' has no serial port 'gnss'"),
            "{p:?}"
        );
        assert!(
            p[2].starts_with("g.toml:14:7: sensors[2].pin: board 'sim' has no pin 'GPIO99'"),
            "{p:?}"
        );
    }

    #[test]
    fn key_paths_split_into_segments() {
        assert_eq!(
            segments("options.registers[2].type"),
            vec![
                Seg::Key("options"),
                Seg::Key("registers"),
                Seg::Index(2),
                Seg::Key("type")
            ]
        );
    }
}
