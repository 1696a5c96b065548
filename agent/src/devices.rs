//! The board at run time: the backends a board file describes, opened once and shared.
//!
//! On a real board that is the Linux GPIO character device, `/dev/i2c-N` and serial ports; on the
//! simulated board it is the sim GPIO controller with its input schedules, sim I2C buses with the
//! board's simulated chips attached, and simulated serial devices served on pseudo-terminals.
//! Bindings and the sensor subsystem get buses and lines from here and never name a backend.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ganglion_devices::board::{Board, PinRef};
use ganglion_devices::gpio::sim::SimGpio;
use ganglion_devices::gpio::{GpioBackend, LineAddress};
use ganglion_devices::i2c::I2cBus;
use ganglion_devices::serial::sim::SlaveKeepalive;
use ganglion_devices::{DeviceError, ErrorCode};
use tokio::task::JoinHandle;

/// Load the board a config names: a shipped board by name, or a board TOML by path (relative
/// paths are resolved against `base`, the config's folder).
pub fn load_board(name: &str, base: &Path) -> Result<Board, String> {
    let looks_like_path = name.contains('/') || name.ends_with(".toml");
    if looks_like_path {
        let path = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            base.join(name)
        };
        return Board::load(&path).map_err(|e| e.to_string());
    }
    match Board::builtin(name) {
        Some(b) => b.map_err(|e| e.to_string()),
        None => Err(format!(
            "unknown board '{name}': use one of {} or a path to a board TOML",
            ganglion_devices::board::BUILTIN_BOARDS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The opened board. Cheap to share (`Arc`); dropping the last handle stops the simulators.
pub struct Devices {
    board: Board,
    gpio: Arc<dyn GpioBackend>,
    sim_gpio: Option<SimGpio>,
    i2c: Mutex<BTreeMap<u32, I2cBus>>,
    sim_dir: Option<PathBuf>,
    tasks: Vec<JoinHandle<()>>,
    _ptys: Vec<SlaveKeepalive>,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devices")
            .field("board", &self.board.name)
            .field("simulated", &self.sim_gpio.is_some())
            .finish()
    }
}

impl Devices {
    /// Open the board's backends. Must run inside the I/O tokio runtime (simulators spawn tasks).
    /// Simulated serial devices are linked under `<state_dir>/sim/<port>`.
    pub fn open(board: Board, state_dir: &Path) -> Result<Arc<Self>, DeviceError> {
        if !board.is_simulated() {
            let gpio: Arc<dyn GpioBackend> =
                Arc::new(ganglion_devices::gpio::linux::LinuxGpio::new());
            return Ok(Arc::new(Self {
                board,
                gpio,
                sim_gpio: None,
                i2c: Mutex::new(BTreeMap::new()),
                sim_dir: None,
                tasks: Vec::new(),
                _ptys: Vec::new(),
            }));
        }
        let (sim_gpio, mut tasks) = board.start_sim_gpio()?;
        let buses = board.sim_i2c_buses(&ganglion_devices::sim::build_i2c_device)?;
        let sim_dir = state_dir.join("sim");
        let mut ptys = Vec::new();
        for (def, pty) in board.open_sim_serial_ptys(&sim_dir)? {
            let device = ganglion_devices::sim::build_serial_device(&def.kind, &def.options)
                .map_err(|e| {
                    DeviceError::new(
                        e.code,
                        format!(
                            "{}: sim serial device {}: {}",
                            board.source, def.port, e.message
                        ),
                    )
                })?;
            let (master, keep) = pty.into_master();
            ptys.push(keep);
            let port = def.port.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = device.run(master).await {
                    tracing::warn!(port, "simulated serial device stopped: {e}");
                }
            }));
        }
        tracing::info!(board = %board.name, "simulated board started");
        Ok(Arc::new(Self {
            gpio: Arc::new(sim_gpio.clone()),
            sim_gpio: Some(sim_gpio),
            board,
            i2c: Mutex::new(buses),
            sim_dir: Some(sim_dir),
            tasks,
            _ptys: ptys,
        }))
    }

    /// The board description.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The GPIO backend (Linux character device or the simulator).
    pub fn gpio(&self) -> Arc<dyn GpioBackend> {
        self.gpio.clone()
    }

    /// The simulator, when this is the simulated board (tests drive its inputs).
    pub fn sim_gpio(&self) -> Option<&SimGpio> {
        self.sim_gpio.as_ref()
    }

    /// A pin number (BCM) or name from the board file, as a line address.
    pub fn resolve_pin(&self, pin: &PinRef) -> Result<LineAddress, DeviceError> {
        self.board.resolve_pin(pin)
    }

    /// The I2C bus `bus` (the board's default bus when `None`), opened on first use and shared.
    pub fn i2c(&self, bus: Option<u32>) -> Result<I2cBus, DeviceError> {
        let bus = match bus.or_else(|| self.board.default_i2c_bus()) {
            Some(b) => b,
            None => {
                return Err(DeviceError::new(
                    ErrorCode::Enoent,
                    format!("board {} declares no I2C bus", self.board.name),
                ))
            }
        };
        let mut open = self
            .i2c
            .lock()
            .map_err(|_| DeviceError::new(ErrorCode::Eio, "I2C bus table poisoned"))?;
        if let Some(b) = open.get(&bus) {
            return Ok(b.clone());
        }
        if self.sim_gpio.is_some() {
            return Err(DeviceError::new(
                ErrorCode::Enoent,
                format!("the simulated board has no I2C bus {bus}"),
            ));
        }
        let path = self.board.i2c_path(bus)?;
        let handle = I2cBus::open_linux_path(&path)?;
        open.insert(bus, handle.clone());
        Ok(handle)
    }

    /// A serial port by the board's name for it (e.g. `gps`, `uart0`) or by device path.
    pub fn serial_path(&self, port: &str) -> Result<PathBuf, DeviceError> {
        if port.starts_with('/') {
            return Ok(PathBuf::from(port));
        }
        self.board.serial_path(port, self.sim_dir.as_deref())
    }
}

impl Drop for Devices {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
