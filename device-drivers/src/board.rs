//! Board files: one TOML per board naming its GPIO chips (by label), its pin map (script pin numbers
//! and header names → chip + line), its I2C buses and serial ports, and for the simulated board the
//! simulated inputs and devices attached.
//!
//! [`Board::parse`] validates everything at once and returns every problem, each naming the file,
//! line, column and key (`pins[3].line`), so `ganglion check` can show them all. A parsed board
//! resolves a script's pin (a number, BCM on a Pi, or a name such as `GPIO17`/`PIN11`) to a
//! [`LineAddress`], gives I2C bus and serial port paths, and builds the simulated GPIO controller
//! and I2C buses for the `sim` board. The shipped boards are compiled in ([`BUILTIN_BOARDS`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tokio::task::JoinHandle;
use toml::Spanned;

use crate::error::{DeviceError, ErrorCode};
use crate::gpio::sim::{Schedule, SimChipSpec, SimGpio};
use crate::gpio::LineAddress;
use crate::i2c::sim::SimI2cBus;
use crate::i2c::I2cBus;
use crate::sim::SimI2cDevice;

/// The boards shipped in `board-configs/`, compiled in: (name, TOML text).
pub const BUILTIN_BOARDS: &[(&str, &str)] = &[
    (
        "raspberry-pi-3",
        include_str!("../../board-configs/raspberry-pi-3.toml"),
    ),
    (
        "raspberry-pi-4",
        include_str!("../../board-configs/raspberry-pi-4.toml"),
    ),
    (
        "raspberry-pi-5",
        include_str!("../../board-configs/raspberry-pi-5.toml"),
    ),
    (
        "raspberry-pi-zero-2w",
        include_str!("../../board-configs/raspberry-pi-zero-2w.toml"),
    ),
    (
        "qemu-virt",
        include_str!("../../board-configs/qemu-virt.toml"),
    ),
    ("sim", include_str!("../../board-configs/sim.toml")),
];

// ---------------------------------------------------------------------------------------------
// File format (serde, unknown keys rejected, spans kept for messages)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    gpio: RawGpio,
    #[serde(default)]
    pins: Vec<RawPin>,
    #[serde(default)]
    i2c: Vec<RawI2c>,
    #[serde(default)]
    serial: Vec<RawSerial>,
    #[serde(default)]
    sim: Option<RawSim>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGpio {
    #[serde(default)]
    chips: Vec<RawChip>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChip {
    id: Spanned<String>,
    label: Spanned<String>,
    lines: Spanned<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPin {
    #[serde(default)]
    number: Option<Spanned<u32>>,
    #[serde(default)]
    names: Vec<Spanned<String>>,
    #[serde(default)]
    chip: Option<Spanned<String>>,
    #[serde(default)]
    line: Option<Spanned<u32>>,
    #[serde(default)]
    line_name: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawI2c {
    bus: Spanned<u32>,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSerial {
    name: Spanned<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    baud: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSim {
    #[serde(default)]
    inputs: Vec<RawSimInput>,
    #[serde(default)]
    i2c: Vec<RawSimI2c>,
    #[serde(default)]
    serial: Vec<RawSimSerial>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimInput {
    pin: Spanned<PinRef>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    initial: Option<bool>,
    #[serde(default)]
    toggle_ms: Option<Spanned<u64>>,
    #[serde(default)]
    bounces: Option<u32>,
    #[serde(default)]
    bounce_gap_ms: Option<u64>,
    #[serde(default)]
    pulse_every_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pulse_width_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimI2c {
    bus: Spanned<u32>,
    address: Spanned<i64>,
    kind: Spanned<String>,
    #[serde(default)]
    options: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimSerial {
    port: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    options: toml::Table,
}

// ---------------------------------------------------------------------------------------------
// Parsed board

/// Makes a simulated I2C device from a `[[sim.i2c]]` kind and options (normally
/// `crate::sim::build_i2c_device`).
pub type SimI2cBuilder = dyn Fn(&str, &toml::Table) -> Result<Box<dyn SimI2cDevice>, DeviceError>;

/// A pin as a script names it: a number (BCM on a Pi) or a name from the board file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(untagged)]
pub enum PinRef {
    /// The pin number (`pins[].number`).
    Number(u32),
    /// A pin name (`pins[].names`, case-insensitive).
    Name(String),
}

impl fmt::Display for PinRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinRef::Number(n) => write!(f, "{n}"),
            PinRef::Name(s) => write!(f, "'{s}'"),
        }
    }
}

/// A GPIO chip the board uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipDef {
    /// Short id pins refer to.
    pub id: String,
    /// Kernel label (`gpiodetect`), how the chip is found.
    pub label: String,
    /// Number of lines.
    pub lines: u32,
}

/// One pin of the pin map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinDef {
    /// Script pin number (BCM on a Pi), if any.
    pub number: Option<u32>,
    /// Names (`GPIO17`, `PIN11`, ...).
    pub names: Vec<String>,
    /// Where the line is.
    pub address: LineAddress,
}

/// An I2C bus the board has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I2cBusDef {
    /// Bus number (`/dev/i2c-N`).
    pub bus: u32,
    /// Device node.
    pub path: PathBuf,
}

/// A serial port the board has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialPortDef {
    /// Name scripts use (`port: "gps"`).
    pub name: String,
    /// Device path; `None` on the simulated board, where the simulator makes a pty for it.
    pub path: Option<PathBuf>,
    /// Default baud rate.
    pub baud: Option<u32>,
}

/// A simulated input (button, switch, pulse source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimInputDef {
    /// The pin as written in the file.
    pub pin: PinRef,
    /// Where it resolved.
    pub address: LineAddress,
    /// Optional label (`door`).
    pub name: Option<String>,
    /// Physical level at start.
    pub initial: bool,
    /// How it changes over time (none: only tests drive it).
    pub schedule: Option<Schedule>,
}

/// A simulated I2C device.
#[derive(Debug, Clone, PartialEq)]
pub struct SimI2cDef {
    /// Bus number.
    pub bus: u32,
    /// 7-bit address.
    pub address: u8,
    /// Device kind (`bme280`, `sht31`, ...), built by `crate::sim`.
    pub kind: String,
    /// Kind-specific options, passed through.
    pub options: toml::Table,
}

/// A simulated serial device, served on a pty for the named port.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSerialDef {
    /// The `[[serial]]` port it plays.
    pub port: String,
    /// Device kind (`gps`, `modbus`).
    pub kind: String,
    /// Kind-specific options, passed through.
    pub options: toml::Table,
}

/// The simulated board's devices.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimDef {
    /// Driven inputs.
    pub inputs: Vec<SimInputDef>,
    /// I2C devices.
    pub i2c: Vec<SimI2cDef>,
    /// Serial devices.
    pub serial: Vec<SimSerialDef>,
}

/// A validated board.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    /// Board name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Where it was read from (file path or `builtin:NAME`), for messages.
    pub source: String,
    /// GPIO chips.
    pub chips: Vec<ChipDef>,
    /// Pin map.
    pub pins: Vec<PinDef>,
    /// I2C buses (the first is the default).
    pub i2c: Vec<I2cBusDef>,
    /// Serial ports.
    pub serial: Vec<SerialPortDef>,
    /// Simulated devices: present only on a simulated board.
    pub sim: Option<SimDef>,
}

/// One problem in a board file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardProblem {
    /// File (path or `builtin:NAME`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Key path, e.g. `pins[3].line`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for BoardProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a board file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BoardErrors(pub Vec<BoardProblem>);

impl fmt::Display for BoardErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl From<BoardErrors> for DeviceError {
    fn from(e: BoardErrors) -> Self {
        DeviceError::new(ErrorCode::Einval, e.to_string())
    }
}

struct Problems<'a> {
    file: &'a str,
    text: &'a str,
    list: Vec<BoardProblem>,
}

impl Problems<'_> {
    fn add(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.list.push(BoardProblem {
            file: self.file.to_string(),
            line,
            column,
            key: key.into(),
            message: message.into(),
        });
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`; shared by every
/// checker that turns a TOML span into a `file:line:col` message.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map(|nl| before[nl + 1..].chars().count() + 1)
        .unwrap_or_else(|| before.chars().count() + 1);
    (line, column)
}

fn norm(name: &str) -> String {
    name.to_ascii_lowercase()
}

impl Board {
    /// Parse and validate board TOML. `file` names the source in messages.
    pub fn parse(file: &str, text: &str) -> Result<Board, BoardErrors> {
        let mut p = Problems {
            file,
            text,
            list: Vec::new(),
        };
        let raw: RawBoard = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let key = text
                    .get(span.clone())
                    .filter(|s| !s.is_empty() && s.len() <= 40 && !s.contains('\n'))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                p.add(span, key, e.message().trim().to_string());
                return Err(BoardErrors(p.list));
            }
        };
        let board = build(&mut p, raw);
        if p.list.is_empty() {
            Ok(Board {
                source: file.to_string(),
                ..board
            })
        } else {
            Err(BoardErrors(p.list))
        }
    }

    /// Read and validate a board file.
    pub fn load(path: &Path) -> Result<Board, BoardErrors> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Board::parse(&file, &text),
            Err(e) => Err(BoardErrors(vec![BoardProblem {
                file,
                line: 0,
                column: 0,
                key: String::new(),
                message: DeviceError::from_io("reading the board file", &e).message,
            }])),
        }
    }

    /// A shipped board by name (`None` if there is no such board).
    pub fn builtin(name: &str) -> Option<Result<Board, BoardErrors>> {
        BUILTIN_BOARDS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Board::parse(&format!("builtin:{n}"), text))
    }

    /// True for the simulated board (it has a `[sim]` section): use the sim backends.
    pub fn is_simulated(&self) -> bool {
        self.sim.is_some()
    }

    /// Resolve a script's pin to a line address (ENOENT naming the board if unknown).
    pub fn resolve_pin(&self, pin: &PinRef) -> Result<LineAddress, DeviceError> {
        self.find_pin(pin)
            .map(|p| p.address.clone())
            .ok_or_else(|| {
                let numbers: Vec<u32> = self.pins.iter().filter_map(|p| p.number).collect();
                let example = self
                    .pins
                    .iter()
                    .flat_map(|p| p.names.first())
                    .next()
                    .map(|n| format!(", names like {n}"))
                    .unwrap_or_default();
                let range = match (numbers.iter().min(), numbers.iter().max()) {
                    (Some(lo), Some(hi)) => format!("numbers {lo}-{hi}"),
                    _ => "no numbers".to_string(),
                };
                DeviceError::new(
                    ErrorCode::Enoent,
                    format!(
                        "board '{}' has no pin {pin} (pins: {range}{example})",
                        self.name
                    ),
                )
            })
    }

    /// The pin-map entry for a pin, if any.
    pub fn find_pin(&self, pin: &PinRef) -> Option<&PinDef> {
        match pin {
            PinRef::Number(n) => self.pins.iter().find(|p| p.number == Some(*n)),
            PinRef::Name(name) => {
                let want = norm(name);
                self.pins
                    .iter()
                    .find(|p| p.names.iter().any(|n| norm(n) == want))
            }
        }
    }

    /// The default I2C bus (the first listed).
    pub fn default_i2c_bus(&self) -> Option<u32> {
        self.i2c.first().map(|b| b.bus)
    }

    /// Device node of an I2C bus the board lists (ENOENT otherwise).
    pub fn i2c_path(&self, bus: u32) -> Result<PathBuf, DeviceError> {
        self.i2c
            .iter()
            .find(|b| b.bus == bus)
            .map(|b| b.path.clone())
            .ok_or_else(|| {
                let buses: Vec<String> = self.i2c.iter().map(|b| b.bus.to_string()).collect();
                DeviceError::new(
                    ErrorCode::Enoent,
                    format!(
                        "board '{}' has no I2C bus {bus} (buses: {})",
                        self.name,
                        if buses.is_empty() {
                            "none".to_string()
                        } else {
                            buses.join(", ")
                        }
                    ),
                )
            })
    }

    /// A serial port by name.
    pub fn serial_port(&self, name: &str) -> Option<&SerialPortDef> {
        self.serial.iter().find(|s| s.name == name)
    }

    /// The path to open for a serial port name. On the simulated board a port without a path is
    /// the pty link `<sim_dir>/<name>` the simulator maintains. A name the board does not list is
    /// taken as a path when it starts with `/`.
    pub fn serial_path(&self, name: &str, sim_dir: Option<&Path>) -> Result<PathBuf, DeviceError> {
        match self.serial_port(name) {
            Some(SerialPortDef {
                path: Some(path), ..
            }) => Ok(path.clone()),
            Some(SerialPortDef { path: None, .. }) => match sim_dir {
                Some(dir) => Ok(dir.join(name)),
                None => Err(DeviceError::new(
                    ErrorCode::Einval,
                    format!(
                        "board '{}': serial port '{name}' is simulated and the simulator is not running",
                        self.name
                    ),
                )),
            },
            None if name.starts_with('/') => Ok(PathBuf::from(name)),
            None => {
                let names: Vec<&str> = self.serial.iter().map(|s| s.name.as_str()).collect();
                Err(DeviceError::new(
                    ErrorCode::Enoent,
                    format!(
                        "board '{}' has no serial port '{name}' (ports: {}; or give a path)",
                        self.name,
                        names.join(", ")
                    ),
                ))
            }
        }
    }

    /// Simulated GPIO chips for this board's chips, lines named after each pin's first name.
    pub fn sim_chip_specs(&self) -> Vec<SimChipSpec> {
        self.chips
            .iter()
            .map(|c| SimChipSpec {
                label: c.label.clone(),
                num_lines: c.lines,
                line_names: self
                    .pins
                    .iter()
                    .filter_map(|p| match &p.address {
                        LineAddress::Chip { label, offset } if *label == c.label => {
                            p.names.first().map(|n| (*offset, n.clone()))
                        }
                        _ => None,
                    })
                    .collect(),
            })
            .collect()
    }

    /// Build the simulated GPIO controller and start the `[sim]` input schedules (tokio tasks:
    /// abort them to stop). Inputs without a schedule are set to their initial level.
    pub fn start_sim_gpio(&self) -> Result<(SimGpio, Vec<JoinHandle<()>>), DeviceError> {
        let sim = SimGpio::new(&self.sim_chip_specs())?;
        let mut tasks = Vec::new();
        for input in self.sim.iter().flat_map(|s| &s.inputs) {
            match input.schedule {
                Some(schedule) => {
                    tasks.push(sim.run_schedule(&input.address, schedule, input.initial)?)
                }
                None => sim.drive(&input.address, input.initial)?,
            }
        }
        Ok((sim, tasks))
    }

    /// Build one simulated I2C bus per `[[i2c]]` bus, with the `[[sim.i2c]]` devices made by
    /// `build(kind, options)` (normally `crate::sim::build_i2c_device`) attached, each on its own
    /// worker thread. Bus names are `sim-i2c-N`.
    pub fn sim_i2c_buses(
        &self,
        build: &SimI2cBuilder,
    ) -> Result<BTreeMap<u32, I2cBus>, DeviceError> {
        let mut buses: BTreeMap<u32, SimI2cBus> = self
            .i2c
            .iter()
            .map(|b| (b.bus, SimI2cBus::new(format!("sim-i2c-{}", b.bus))))
            .collect();
        for d in self.sim.iter().flat_map(|s| &s.i2c) {
            let dev = build(&d.kind, &d.options).map_err(|e| {
                DeviceError::new(
                    e.code,
                    format!(
                        "{}: sim I2C device {} at bus {} address {:#04x}: {}",
                        self.source, d.kind, d.bus, d.address, e.message
                    ),
                )
            })?;
            let bus = buses.get_mut(&d.bus).ok_or_else(|| {
                DeviceError::new(
                    ErrorCode::Einval,
                    format!("{}: no I2C bus {} for sim device", self.source, d.bus),
                )
            })?;
            bus.attach(d.address, dev)?;
        }
        buses
            .into_iter()
            .map(|(n, b)| Ok((n, I2cBus::spawn(Box::new(b))?)))
            .collect()
    }
}

impl Board {
    /// Open one pseudo-terminal per `[[sim.serial]]` device and link it as `<sim_dir>/<port>`
    /// (creating `sim_dir`), so [`serial_path`](Self::serial_path) finds it. The caller builds
    /// each device (normally `crate::sim::build_serial_device(kind, options)`) and runs it on the
    /// pty's master ([`SimPty::into_master`](crate::serial::sim::SimPty::into_master)). Needs a
    /// tokio runtime.
    pub fn open_sim_serial_ptys(
        &self,
        sim_dir: &Path,
    ) -> Result<Vec<(SimSerialDef, crate::serial::sim::SimPty)>, DeviceError> {
        let defs: Vec<&SimSerialDef> = self.sim.iter().flat_map(|s| &s.serial).collect();
        if defs.is_empty() {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(sim_dir)
            .map_err(|e| DeviceError::from_io(sim_dir.display(), &e))?;
        defs.into_iter()
            .map(|d| {
                let pty = crate::serial::sim::SimPty::open()?;
                pty.link_at(&sim_dir.join(&d.port))?;
                Ok((d.clone(), pty))
            })
            .collect()
    }
}

fn build(p: &mut Problems<'_>, raw: RawBoard) -> Board {
    if raw.name.get_ref().trim().is_empty() {
        p.add(raw.name.span(), "name", "board name must not be empty");
    }

    // Chips.
    let mut chips: Vec<ChipDef> = Vec::new();
    for (i, c) in raw.gpio.chips.iter().enumerate() {
        let key = |f: &str| format!("gpio.chips[{i}].{f}");
        if chips.iter().any(|d| &d.id == c.id.get_ref()) {
            p.add(
                c.id.span(),
                key("id"),
                format!("duplicate chip id '{}'", c.id.get_ref()),
            );
        }
        if chips.iter().any(|d| &d.label == c.label.get_ref()) {
            p.add(
                c.label.span(),
                key("label"),
                format!("duplicate chip label '{}'", c.label.get_ref()),
            );
        }
        if c.label.get_ref().is_empty() {
            p.add(c.label.span(), key("label"), "chip label must not be empty");
        }
        if *c.lines.get_ref() == 0 {
            p.add(
                c.lines.span(),
                key("lines"),
                "a chip needs at least one line",
            );
        }
        chips.push(ChipDef {
            id: c.id.get_ref().clone(),
            label: c.label.get_ref().clone(),
            lines: *c.lines.get_ref(),
        });
    }

    // Pins.
    let mut pins: Vec<PinDef> = Vec::new();
    let mut used_lines: HashMap<(String, u32), usize> = HashMap::new();
    let mut used_numbers: HashMap<u32, usize> = HashMap::new();
    let mut used_names: HashMap<String, usize> = HashMap::new();
    for (i, rp) in raw.pins.iter().enumerate() {
        let key = |f: &str| format!("pins[{i}].{f}");
        let address = match (&rp.line_name, &rp.line) {
            (Some(name), None) => {
                if let Some(chip) = &rp.chip {
                    p.add(
                        chip.span(),
                        key("chip"),
                        "give either line_name or chip + line, not both",
                    );
                }
                Some(LineAddress::Name(name.get_ref().clone()))
            }
            (Some(name), Some(_)) => {
                p.add(
                    name.span(),
                    key("line_name"),
                    "give either line_name or chip + line, not both",
                );
                None
            }
            (None, None) => {
                let span = rp
                    .names
                    .first()
                    .map(|n| n.span())
                    .or_else(|| rp.number.as_ref().map(|n| n.span()))
                    .unwrap_or(0..0);
                p.add(
                    span,
                    key("line"),
                    "pin needs a line (chip + line) or a line_name",
                );
                None
            }
            (None, Some(line)) => {
                let chip = match &rp.chip {
                    Some(id) => match chips.iter().find(|c| &c.id == id.get_ref()) {
                        Some(c) => Some(c),
                        None => {
                            let ids: Vec<&str> = chips.iter().map(|c| c.id.as_str()).collect();
                            p.add(
                                id.span(),
                                key("chip"),
                                format!(
                                    "unknown chip '{}' (chips: {})",
                                    id.get_ref(),
                                    ids.join(", ")
                                ),
                            );
                            None
                        }
                    },
                    None if chips.len() == 1 => chips.first(),
                    None => {
                        p.add(
                            line.span(),
                            key("chip"),
                            "pin needs a chip (the board has more or fewer than one chip)",
                        );
                        None
                    }
                };
                chip.and_then(|c| {
                    let offset = *line.get_ref();
                    if offset >= c.lines {
                        p.add(
                            line.span(),
                            key("line"),
                            format!(
                                "line {offset} is past the end of chip '{}' ({} lines)",
                                c.id, c.lines
                            ),
                        );
                        return None;
                    }
                    if let Some(other) = used_lines.insert((c.label.clone(), offset), i) {
                        p.add(
                            line.span(),
                            key("line"),
                            format!(
                                "duplicate line: chip '{}' line {offset} is also pins[{other}]",
                                c.id
                            ),
                        );
                    }
                    Some(LineAddress::chip(c.label.clone(), offset))
                })
            }
        };
        if let Some(n) = &rp.number {
            if let Some(other) = used_numbers.insert(*n.get_ref(), i) {
                p.add(
                    n.span(),
                    key("number"),
                    format!("duplicate pin number {} (also pins[{other}])", n.get_ref()),
                );
            }
        }
        for (j, name) in rp.names.iter().enumerate() {
            let n = name.get_ref();
            if n.trim().is_empty() {
                p.add(
                    name.span(),
                    format!("pins[{i}].names[{j}]"),
                    "pin name must not be empty",
                );
            } else if let Some(other) = used_names.insert(norm(n), i) {
                p.add(
                    name.span(),
                    format!("pins[{i}].names[{j}]"),
                    format!("duplicate pin name '{n}' (also pins[{other}]; names ignore case)"),
                );
            }
        }
        if rp.number.is_none() && rp.names.is_empty() {
            let span = rp.line.as_ref().map(|l| l.span()).unwrap_or(0..0);
            p.add(
                span,
                format!("pins[{i}]"),
                "pin has neither a number nor a name",
            );
        }
        if let Some(address) = address {
            pins.push(PinDef {
                number: rp.number.as_ref().map(|n| *n.get_ref()),
                names: rp.names.iter().map(|n| n.get_ref().clone()).collect(),
                address,
            });
        }
    }

    // I2C buses.
    let mut i2c: Vec<I2cBusDef> = Vec::new();
    for (i, b) in raw.i2c.iter().enumerate() {
        let bus = *b.bus.get_ref();
        if i2c.iter().any(|d| d.bus == bus) {
            p.add(
                b.bus.span(),
                format!("i2c[{i}].bus"),
                format!("duplicate I2C bus {bus}"),
            );
        }
        i2c.push(I2cBusDef {
            bus,
            path: b
                .path
                .as_ref()
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(format!("/dev/i2c-{bus}"))),
        });
    }

    // Serial ports.
    let sim_ports: Vec<&str> = raw
        .sim
        .iter()
        .flat_map(|s| &s.serial)
        .map(|s| s.port.get_ref().as_str())
        .collect();
    let mut serial: Vec<SerialPortDef> = Vec::new();
    for (i, s) in raw.serial.iter().enumerate() {
        let name = s.name.get_ref();
        let key = |f: &str| format!("serial[{i}].{f}");
        if name.is_empty() || name.starts_with('/') {
            p.add(
                s.name.span(),
                key("name"),
                "port name must be non-empty and not a path",
            );
        }
        if serial.iter().any(|d| &d.name == name) {
            p.add(
                s.name.span(),
                key("name"),
                format!("duplicate serial port '{name}'"),
            );
        }
        if s.path.is_none() && !sim_ports.contains(&name.as_str()) {
            p.add(
                s.name.span(),
                key("path"),
                format!("serial port '{name}' needs a path (only simulated ports may omit it)"),
            );
        }
        if let Some(b) = &s.baud {
            if *b.get_ref() == 0 {
                p.add(b.span(), key("baud"), "baud rate must be greater than zero");
            }
        }
        serial.push(SerialPortDef {
            name: name.clone(),
            path: s.path.as_ref().map(PathBuf::from),
            baud: s.baud.as_ref().map(|b| *b.get_ref()),
        });
    }

    let partial = Board {
        name: raw.name.get_ref().clone(),
        description: raw.description.clone().unwrap_or_default(),
        source: String::new(),
        chips,
        pins,
        i2c,
        serial,
        sim: None,
    };
    let sim = raw.sim.map(|s| build_sim(p, &partial, s));
    Board { sim, ..partial }
}

fn build_sim(p: &mut Problems<'_>, board: &Board, raw: RawSim) -> SimDef {
    let mut sim = SimDef::default();
    let mut driven: HashMap<LineAddress, usize> = HashMap::new();
    for (i, inp) in raw.inputs.into_iter().enumerate() {
        let key = |f: &str| format!("sim.inputs[{i}].{f}");
        let pin = inp.pin.get_ref().clone();
        let Some(address) = board.find_pin(&pin).map(|d| d.address.clone()) else {
            p.add(
                inp.pin.span(),
                key("pin"),
                format!("unknown pin {pin}: not in this board's pin map"),
            );
            continue;
        };
        if let Some(other) = driven.insert(address.clone(), i) {
            p.add(
                inp.pin.span(),
                key("pin"),
                format!("pin {pin} is already driven by sim.inputs[{other}]"),
            );
        }
        let ms = Duration::from_millis;
        let schedule = match (&inp.toggle_ms, &inp.pulse_every_ms) {
            (Some(t), None) => Some((
                t.span(),
                "toggle_ms",
                Schedule::Toggle {
                    period: ms(*t.get_ref()),
                    bounces: inp.bounces.unwrap_or(0),
                    bounce_gap: ms(inp.bounce_gap_ms.unwrap_or(1)),
                },
            )),
            (None, Some(e)) => Some((
                e.span(),
                "pulse_every_ms",
                Schedule::Pulse {
                    period: ms(*e.get_ref()),
                    width: ms(inp.pulse_width_ms.unwrap_or(10)),
                },
            )),
            (Some(t), Some(_)) => {
                p.add(
                    t.span(),
                    key("toggle_ms"),
                    "give toggle_ms or pulse_every_ms, not both",
                );
                None
            }
            (None, None) => None,
        };
        let schedule = schedule.and_then(|(span, field, s)| match s.validate() {
            Ok(()) => Some(s),
            Err(msg) => {
                p.add(span, key(field), msg);
                None
            }
        });
        sim.inputs.push(SimInputDef {
            pin,
            address,
            name: inp.name,
            initial: inp.initial.unwrap_or(false),
            schedule,
        });
    }

    let mut taken: HashMap<(u32, u8), usize> = HashMap::new();
    for (i, d) in raw.i2c.into_iter().enumerate() {
        let key = |f: &str| format!("sim.i2c[{i}].{f}");
        let bus = *d.bus.get_ref();
        if !board.i2c.iter().any(|b| b.bus == bus) {
            p.add(
                d.bus.span(),
                key("bus"),
                format!("I2C bus {bus} is not one of the board's [[i2c]] buses"),
            );
        }
        let raw_addr = *d.address.get_ref();
        let address = crate::i2c::device_address(raw_addr);
        if address.is_none() {
            p.add(
                d.address.span(),
                key("address"),
                format!("bad address {raw_addr:#x}: 7-bit device addresses are 0x08..=0x77"),
            );
        }
        if d.kind.get_ref().trim().is_empty() {
            p.add(d.kind.span(), key("kind"), "device kind must not be empty");
        }
        if let Some(address) = address {
            if let Some(other) = taken.insert((bus, address), i) {
                p.add(
                    d.address.span(),
                    key("address"),
                    format!(
                        "duplicate address {address:#04x} on bus {bus} (also sim.i2c[{other}])"
                    ),
                );
            }
            sim.i2c.push(SimI2cDef {
                bus,
                address,
                kind: d.kind.into_inner(),
                options: d.options,
            });
        }
    }

    let mut served: HashMap<String, usize> = HashMap::new();
    for (i, d) in raw.serial.into_iter().enumerate() {
        let key = |f: &str| format!("sim.serial[{i}].{f}");
        let port = d.port.get_ref().clone();
        if board.serial_port(&port).is_none() {
            p.add(
                d.port.span(),
                key("port"),
                format!("unknown serial port '{port}': add it to [[serial]]"),
            );
        }
        if let Some(other) = served.insert(port.clone(), i) {
            p.add(
                d.port.span(),
                key("port"),
                format!("serial port '{port}' already has a device (sim.serial[{other}])"),
            );
        }
        if d.kind.get_ref().trim().is_empty() {
            p.add(d.kind.span(), key("kind"), "device kind must not be empty");
        }
        sim.serial.push(SimSerialDef {
            port,
            kind: d.kind.into_inner(),
            options: d.options,
        });
    }
    sim
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<BoardProblem> {
        match Board::parse("test.toml", text) {
            Ok(_) => panic!("expected problems"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn every_shipped_board_validates() {
        for (name, _) in BUILTIN_BOARDS {
            let board = match Board::builtin(name) {
                Some(Ok(b)) => b,
                Some(Err(e)) => panic!("{name}:\n{e}"),
                None => panic!("{name} missing"),
            };
            assert_eq!(&board.name, name);
            assert!(!board.pins.is_empty(), "{name} has pins");
            assert!(!board.i2c.is_empty(), "{name} has an I2C bus");
        }
        assert!(Board::builtin("no-such-board").is_none());
    }

    #[test]
    fn pi_pins_resolve_by_bcm_number_and_header_name() {
        let pi5 = Board::builtin("raspberry-pi-5")
            .expect("shipped")
            .expect("valid");
        let want = LineAddress::chip("pinctrl-rp1", 17);
        assert_eq!(
            pi5.resolve_pin(&PinRef::Number(17)).ok(),
            Some(want.clone())
        );
        assert_eq!(
            pi5.resolve_pin(&PinRef::Name("GPIO17".into())).ok(),
            Some(want.clone())
        );
        assert_eq!(
            pi5.resolve_pin(&PinRef::Name("pin11".into())).ok(),
            Some(want)
        );
        let e = pi5
            .resolve_pin(&PinRef::Name("GPIO99".into()))
            .expect_err("unknown");
        assert_eq!(e.code, ErrorCode::Enoent);
        assert!(e.message.contains("raspberry-pi-5"), "{}", e.message);
        let pi4 = Board::builtin("raspberry-pi-4")
            .expect("shipped")
            .expect("valid");
        assert_eq!(
            pi4.resolve_pin(&PinRef::Name("PIN3".into())).ok(),
            Some(LineAddress::chip("pinctrl-bcm2711", 2))
        );
        assert_eq!(pi4.i2c_path(1).ok(), Some(PathBuf::from("/dev/i2c-1")));
        assert_eq!(pi4.i2c_path(7).map_err(|e| e.code), Err(ErrorCode::Enoent));
    }

    #[test]
    fn qemu_virt_uses_the_gpio_sim_bank_and_i2c_stub() {
        let b = Board::builtin("qemu-virt")
            .expect("shipped")
            .expect("valid");
        assert_eq!(
            b.resolve_pin(&PinRef::Name("BUTTON".into())).ok(),
            Some(LineAddress::chip("sim-bank0", 0))
        );
        assert_eq!(b.chips[0].lines, 8);
        assert_eq!(b.default_i2c_bus(), Some(0));
        assert_eq!(
            b.serial_path("uart0", None).ok(),
            Some(PathBuf::from("/dev/ttyS0"))
        );
        assert!(!b.is_simulated());
    }

    #[test]
    fn sim_board_lists_its_devices() {
        let b = Board::builtin("sim").expect("shipped").expect("valid");
        let sim = b.sim.as_ref().expect("sim section");
        let addrs: Vec<(u8, &str)> = sim
            .i2c
            .iter()
            .map(|d| (d.address, d.kind.as_str()))
            .collect();
        assert_eq!(
            addrs,
            vec![
                (0x76, "bme280"),
                (0x44, "sht31"),
                (0x48, "ads1115"),
                (0x23, "bh1750")
            ]
        );
        let kinds: Vec<&str> = sim.serial.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, vec!["gps", "modbus"]);
        assert!(sim
            .inputs
            .iter()
            .any(|i| matches!(i.schedule, Some(Schedule::Toggle { .. }))));
        assert!(sim
            .inputs
            .iter()
            .any(|i| matches!(i.schedule, Some(Schedule::Pulse { .. }))));
        let dir = Path::new("/run/ganglion-sim");
        assert_eq!(b.serial_path("gps", Some(dir)).ok(), Some(dir.join("gps")));
        assert_eq!(
            b.serial_path("gps", None).map_err(|e| e.code),
            Err(ErrorCode::Einval)
        );
    }

    #[test]
    fn problems_name_file_line_and_key() {
        let text = r#"name = "bad"
[[gpio.chips]]
id = "main"
label = "pinctrl-bcm2711"
lines = 58

pins = []
"#;
        // `pins = []` after a table header belongs to the chip table: an unknown key there.
        let p = errors(text);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].file.as_str(), p[0].line), ("test.toml", 7));
        assert!(p[0].message.contains("unknown field"), "{}", p[0].message);
        assert!(p[0].to_string().starts_with("test.toml:7:"), "{}", p[0]);
    }

    #[test]
    fn unknown_pin_duplicate_line_and_bad_address_are_all_reported() {
        let text = r#"name = "broken"
pins = [
  { number = 17, names = ["GPIO17"], line = 17 },
  { number = 18, names = ["GPIO18"], line = 17 },
  { number = 19, names = ["gpio17"], line = 99 },
]
[[gpio.chips]]
id = "main"
label = "sim-main"
lines = 28
[[i2c]]
bus = 1
[[serial]]
name = "gps"
[sim]
inputs = [ { pin = "GPIO4", toggle_ms = 100 } ]
i2c = [ { bus = 1, address = 0x80, kind = "bme280" }, { bus = 2, address = 0x44, kind = "sht31" } ]
"#;
        let p = errors(text);
        let find = |key: &str| {
            p.iter()
                .find(|x| x.key == key)
                .unwrap_or_else(|| panic!("no problem for {key} in {p:#?}"))
        };
        let dup = find("pins[1].line");
        assert!(dup.message.contains("duplicate line"), "{}", dup.message);
        assert_eq!(dup.line, 4);
        assert!(find("pins[2].line").message.contains("past the end"));
        assert!(find("pins[2].names[0]")
            .message
            .contains("duplicate pin name"));
        let unknown = find("sim.inputs[0].pin");
        assert!(
            unknown.message.contains("unknown pin 'GPIO4'"),
            "{}",
            unknown.message
        );
        assert_eq!(unknown.line, 16);
        let bad = find("sim.i2c[0].address");
        assert!(bad.message.contains("bad address 0x80"), "{}", bad.message);
        assert!(find("sim.i2c[1].bus").message.contains("not one of"));
        assert!(find("serial[0].path").message.contains("needs a path"));
        assert!(p.iter().all(|x| x.file == "test.toml" && x.line > 0));
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let text = "name = \"x\"\n\npins = [\n  { nmber = 4, names = [\"A\"], line = 4 },\n]\n";
        let p = errors(text);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].line, 4);
        assert!(p[0].message.contains("nmber"), "{}", p[0].message);
    }

    #[test]
    fn schedules_are_checked() {
        let text = r#"name = "s"
pins = [ { number = 1, names = ["A"], line = 1 } ]
[[gpio.chips]]
id = "c"
label = "l"
lines = 4
[sim]
inputs = [ { pin = 1, pulse_every_ms = 10, pulse_width_ms = 10 } ]
"#;
        let p = errors(text);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].key, "sim.inputs[0].pulse_every_ms");
        assert!(p[0].message.contains("shorter"), "{}", p[0].message);
    }

    #[tokio::test]
    async fn sim_serial_ports_get_ptys_at_their_paths() {
        use tokio::io::AsyncWriteExt;
        let b = Board::builtin("sim").expect("shipped").expect("valid");
        let dir = tempfile::tempdir().expect("tempdir");
        let sim_dir = dir.path().join("sim");
        let ptys = b.open_sim_serial_ptys(&sim_dir).expect("ptys");
        let ports: Vec<&str> = ptys.iter().map(|(d, _)| d.port.as_str()).collect();
        assert_eq!(ports, vec!["gps", "modbus"]);
        let (_, mut gps) = ptys.into_iter().next().expect("gps pty");
        let path = b.serial_path("gps", Some(&sim_dir)).expect("path");
        let (port, mut rx) =
            crate::serial::SerialPort::open(crate::serial::SerialConfig::new(&path, 9600))
                .expect("open through the link");
        gps.write_all(b"$GPGGA\r\n").await.expect("write");
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(crate::serial::SerialEvent::Frame(f))) => assert_eq!(f, b"$GPGGA"),
            other => panic!("expected a frame, got {other:?}"),
        }
        port.close().await;
    }

    #[tokio::test]
    async fn sim_board_builds_gpio_and_i2c() {
        use crate::gpio::{GpioBackend, LineConfig};
        use crate::sim::SimNack;

        struct Echo(u8);
        impl SimI2cDevice for Echo {
            fn write(&mut self, _: &[u8]) -> Result<(), SimNack> {
                Ok(())
            }
            fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack> {
                buf.fill(self.0);
                Ok(())
            }
        }

        let b = Board::builtin("sim").expect("shipped").expect("valid");
        let (gpio, tasks) = b.start_sim_gpio().expect("sim gpio");
        assert_eq!(tasks.len(), 2, "door and pulse schedules");
        let door = b.resolve_pin(&PinRef::Name("GPIO17".into())).expect("pin");
        let line = gpio
            .request_line(&door, &LineConfig::input())
            .expect("request");
        assert_eq!(line.info().name, "GPIO17");
        let initial = b.sim.as_ref().expect("sim").inputs[0].initial;
        assert_eq!(line.read().expect("read"), initial);
        for t in tasks {
            t.abort();
        }

        let buses = b
            .sim_i2c_buses(&|kind, _| Ok(Box::new(Echo(kind.len() as u8))))
            .expect("buses");
        let bus = buses.get(&1).expect("bus 1");
        assert_eq!(bus.read(0x76, 1).await.expect("bme280"), vec![6]);
        assert_eq!(
            bus.read(0x50, 1).await.map_err(|e| e.code),
            Err(ErrorCode::Enxio)
        );
        let e = b
            .sim_i2c_buses(&|kind, _| {
                Err(DeviceError::new(ErrorCode::Einval, format!("no {kind}")))
            })
            .expect_err("builder error");
        assert!(
            e.message.contains("builtin:sim") && e.message.contains("0x76"),
            "{}",
            e.message
        );
    }
}
