//! GPIO lines: configuration, addressing, edge events, the backend trait and the line handle.
//!
//! A line is found by chip label + offset or by line name (never by `gpiochipN`, which the kernel
//! renumbers between boards and boots). A backend ([`linux::LinuxGpio`] over the GPIO character
//! device uAPI v2, or [`sim::SimGpio`]) turns a [`LineAddress`] + [`LineConfig`] into a [`GpioLine`]:
//! a cloneable handle with `read`/`write` and, for inputs with edge detection, a channel of
//! [`EdgeEvent`]s fed by one worker task that owns the event side of the line. Software debounce
//! and edge filtering live in [`debounce`] as plain state machines shared by both backends.

pub mod debounce;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod sim;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{DeviceError, ErrorCode};
pub use debounce::{Debouncer, EdgeProcessor, RawEdge, Transition};

/// Capacity of a line's event channel; when a consumer falls this far behind, further events are
/// dropped (and the gap shows in [`EdgeEvent::seq`]) instead of growing memory.
pub const EVENT_CHANNEL_CAPACITY: usize = 1024;

/// Line direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Read the line; may report edges.
    #[default]
    Input,
    /// Drive the line.
    Output,
}

/// Internal bias resistor setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bias {
    /// Pull the line up (an open switch reads high).
    PullUp,
    /// Pull the line down (an open switch reads low).
    PullDown,
    /// No pull resistor (ECMA-419 `Input`).
    Disabled,
}

/// Which edges an input reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Inactive -> active (logical, after active-low).
    Rising,
    /// Active -> inactive.
    Falling,
    /// Both directions.
    Both,
}

/// Output drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Drive {
    /// Drive both high and low.
    #[default]
    PushPull,
    /// Drive low only; high is left to a pull-up (ECMA-419 `OutputOpenDrain`).
    OpenDrain,
    /// Drive high only.
    OpenSource,
}

/// The kind of an edge event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// The line became active.
    Rising,
    /// The line became inactive.
    Falling,
}

/// One edge on an input line, as delivered to the line's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeEvent {
    /// Rising or falling (logical, after active-low).
    pub kind: EdgeKind,
    /// Kernel timestamp on `CLOCK_MONOTONIC`, ns (see [`monotonic_ns`]); for a software-debounced
    /// edge, the time of the edge that began the stable period.
    pub timestamp_ns: u64,
    /// Per-line sequence number starting at 1; a gap means events were lost.
    pub seq: u64,
}

/// How to request a line: everything the uAPI v2 line config can say, in our own types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineConfig {
    /// Input or output.
    pub direction: Direction,
    /// Bias; `None` leaves the line's current bias alone.
    pub bias: Option<Bias>,
    /// Active-low: logical values (read, write, edges) are inverted from the physical level.
    pub active_low: bool,
    /// Edge detection for inputs; `None` means no events.
    pub edge: Option<Edge>,
    /// Debounce period for inputs (kernel debounce where supported, else software).
    pub debounce: Option<Duration>,
    /// Output drive.
    pub drive: Drive,
    /// Initial logical value of an output.
    pub initial: bool,
    /// Consumer label shown by the kernel (`gpioinfo`) and in EBUSY messages; max 31 bytes.
    pub consumer: String,
}

impl Default for LineConfig {
    fn default() -> Self {
        Self {
            direction: Direction::Input,
            bias: None,
            active_low: false,
            edge: None,
            debounce: None,
            drive: Drive::PushPull,
            initial: false,
            consumer: "ganglion".to_string(),
        }
    }
}

impl LineConfig {
    /// A plain input.
    pub fn input() -> Self {
        Self::default()
    }

    /// An output starting at logical `initial`.
    pub fn output(initial: bool) -> Self {
        Self {
            direction: Direction::Output,
            initial,
            ..Self::default()
        }
    }

    /// Set the bias.
    pub fn with_bias(mut self, bias: Bias) -> Self {
        self.bias = Some(bias);
        self
    }

    /// Report edges.
    pub fn with_edge(mut self, edge: Edge) -> Self {
        self.edge = Some(edge);
        self
    }

    /// Debounce inputs.
    pub fn with_debounce(mut self, period: Duration) -> Self {
        self.debounce = Some(period);
        self
    }

    /// Make the line active-low.
    pub fn active_low(mut self) -> Self {
        self.active_low = true;
        self
    }

    /// Set the output drive.
    pub fn with_drive(mut self, drive: Drive) -> Self {
        self.drive = drive;
        self
    }

    /// Set the consumer label.
    pub fn with_consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = consumer.into();
        self
    }

    /// Reject combinations the kernel would refuse, with a message naming the option.
    pub fn validate(&self) -> Result<(), DeviceError> {
        let bad = |msg: &str| Err(DeviceError::new(ErrorCode::Einval, msg));
        match self.direction {
            Direction::Output if self.edge.is_some() => {
                bad("edge detection needs an input line, not an output")
            }
            Direction::Output if self.debounce.is_some_and(|d| !d.is_zero()) => {
                bad("debounce needs an input line, not an output")
            }
            Direction::Input if self.drive != Drive::PushPull => {
                bad("open-drain/open-source drive applies to outputs only")
            }
            _ if self.consumer.len() > 31 => bad("consumer label is longer than 31 bytes"),
            _ if self
                .debounce
                .is_some_and(|d| d.as_micros() > u128::from(u32::MAX)) =>
            {
                bad("debounce period is too long")
            }
            _ => Ok(()),
        }
    }
}

/// Where a line is: a chip found by its label plus an offset, or a line found by its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineAddress {
    /// Chip label (e.g. `pinctrl-bcm2711`, `pinctrl-rp1`, `sim-bank0`) and line offset.
    Chip {
        /// The chip's label, as `gpiodetect` shows it.
        label: String,
        /// Line offset on that chip.
        offset: u32,
    },
    /// A line name from the device tree (e.g. `GPIO17` on a Pi, `BUTTON` on gpio-sim).
    Name(String),
}

impl LineAddress {
    /// Chip label + offset.
    pub fn chip(label: impl Into<String>, offset: u32) -> Self {
        LineAddress::Chip {
            label: label.into(),
            offset,
        }
    }

    /// Line name.
    pub fn name(name: impl Into<String>) -> Self {
        LineAddress::Name(name.into())
    }
}

impl fmt::Display for LineAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineAddress::Chip { label, offset } => write!(f, "chip '{label}' line {offset}"),
            LineAddress::Name(name) => write!(f, "line '{name}'"),
        }
    }
}

/// What a requested line turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    /// Chip label.
    pub chip_label: String,
    /// Chip device name (`gpiochip0`, or `sim` for the simulated board); for messages only.
    pub chip_name: String,
    /// Line offset on the chip.
    pub offset: u32,
    /// Line name (may be empty).
    pub name: String,
}

impl fmt::Display for LineInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) line {}",
            self.chip_name, self.chip_label, self.offset
        )?;
        if !self.name.is_empty() {
            write!(f, " '{}'", self.name)?;
        }
        Ok(())
    }
}

/// The value side of a requested line, implemented by each backend. Object safe and thread safe so
/// a [`GpioLine`] can hold it as `Arc<dyn LineIo>`.
pub trait LineIo: Send + Sync {
    /// Current logical value.
    fn get(&self) -> Result<bool, DeviceError>;
    /// Set the logical value of an output.
    fn set(&self, value: bool) -> Result<(), DeviceError>;
    /// Release the line (further calls fail with ENODEV). Idempotent.
    fn close(&self);
}

/// A GPIO backend: turns addresses and configs into requested lines.
pub trait GpioBackend: Send + Sync {
    /// Request one line. With `cfg.edge` set, events start flowing into the returned line's channel;
    /// that needs a tokio runtime on the calling thread (EINVAL otherwise).
    fn request_line(&self, addr: &LineAddress, cfg: &LineConfig) -> Result<GpioLine, DeviceError>;
    /// Short backend name for logs (`linux`, `sim`).
    fn name(&self) -> &'static str;
}

/// Items on a line's event channel: an edge, or the error that ended the event stream.
pub type EdgeResult = Result<EdgeEvent, DeviceError>;

struct LineShared {
    info: LineInfo,
    config: LineConfig,
    io: Arc<dyn LineIo>,
    events: Mutex<Option<mpsc::Receiver<EdgeResult>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl LineShared {
    fn shutdown(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Ok(mut w) = self.worker.lock() {
            if let Some(w) = w.take() {
                w.abort();
            }
        }
        self.io.close();
    }
}

impl Drop for LineShared {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A requested line: cloneable handle; the line is released on [`close`](Self::close) or when the
/// last clone is dropped.
#[derive(Clone)]
pub struct GpioLine {
    shared: Arc<LineShared>,
}

impl fmt::Debug for GpioLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpioLine")
            .field("info", &self.shared.info)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl GpioLine {
    /// Assemble a line from a backend's parts (used by backends).
    pub fn from_parts(
        info: LineInfo,
        config: LineConfig,
        io: Arc<dyn LineIo>,
        events: Option<(mpsc::Receiver<EdgeResult>, JoinHandle<()>)>,
    ) -> Self {
        let (rx, worker) = match events {
            Some((rx, w)) => (Some(rx), Some(w)),
            None => (None, None),
        };
        Self {
            shared: Arc::new(LineShared {
                info,
                config,
                io,
                events: Mutex::new(rx),
                worker: Mutex::new(worker),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Which line this is.
    pub fn info(&self) -> &LineInfo {
        &self.shared.info
    }

    /// The config it was requested with.
    pub fn config(&self) -> &LineConfig {
        &self.shared.config
    }

    /// Read the logical value (inputs and outputs).
    pub fn read(&self) -> Result<bool, DeviceError> {
        self.check_open()?;
        self.shared.io.get()
    }

    /// Write a logical value (outputs only).
    pub fn write(&self, value: bool) -> Result<(), DeviceError> {
        self.check_open()?;
        if self.shared.config.direction != Direction::Output {
            return Err(DeviceError::new(
                ErrorCode::Einval,
                format!("{}: cannot write an input line", self.shared.info),
            ));
        }
        self.shared.io.set(value)
    }

    /// Take the edge event receiver (once; `None` afterwards or when no edge was configured).
    /// The channel ends after an error item or when the line is closed.
    pub fn take_events(&self) -> Option<mpsc::Receiver<EdgeResult>> {
        self.shared.events.lock().ok()?.take()
    }

    /// Release the line now (for every clone): stops the event worker, frees the kernel request.
    pub fn close(&self) {
        self.shared.shutdown();
    }

    /// True after [`close`](Self::close).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    fn check_open(&self) -> Result<(), DeviceError> {
        if self.is_closed() {
            Err(DeviceError::new(
                ErrorCode::Enodev,
                format!("{}: line is closed", self.shared.info),
            ))
        } else {
            Ok(())
        }
    }
}

impl embedded_hal::digital::Error for DeviceError {
    fn kind(&self) -> embedded_hal::digital::ErrorKind {
        embedded_hal::digital::ErrorKind::Other
    }
}

impl embedded_hal::digital::ErrorType for GpioLine {
    type Error = DeviceError;
}

impl embedded_hal::digital::InputPin for GpioLine {
    fn is_high(&mut self) -> Result<bool, DeviceError> {
        self.read()
    }

    fn is_low(&mut self) -> Result<bool, DeviceError> {
        self.read().map(|v| !v)
    }
}

impl embedded_hal::digital::OutputPin for GpioLine {
    fn set_low(&mut self) -> Result<(), DeviceError> {
        self.write(false)
    }

    fn set_high(&mut self) -> Result<(), DeviceError> {
        self.write(true)
    }
}

impl embedded_hal::digital::StatefulOutputPin for GpioLine {
    fn is_set_high(&mut self) -> Result<bool, DeviceError> {
        self.read()
    }

    fn is_set_low(&mut self) -> Result<bool, DeviceError> {
        self.read().map(|v| !v)
    }
}

/// Now on `CLOCK_MONOTONIC` in ns: the clock the kernel stamps edge events with by default.
pub fn monotonic_ns() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|ts| {
            u64::try_from(ts.tv_sec()).unwrap_or(0) * 1_000_000_000
                + u64::try_from(ts.tv_nsec()).unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Spawn the worker that owns a line's event side: it pulls raw edges from `source`, runs them
/// through `processor` (debounce timer included) and delivers events on a bounded channel.
///
/// The same function serves the Linux backend (kernel events) and the simulator (driven levels),
/// so both behave alike.
pub(crate) fn spawn_edge_worker<S>(
    line: String,
    source: S,
    mut processor: EdgeProcessor,
) -> Result<(mpsc::Receiver<EdgeResult>, JoinHandle<()>), DeviceError>
where
    S: Stream<Item = Result<RawEdge, DeviceError>> + Send + Unpin + 'static,
{
    let rt = tokio::runtime::Handle::try_current().map_err(|_| {
        DeviceError::new(
            ErrorCode::Einval,
            format!("{line}: edge events need a tokio runtime on the requesting thread"),
        )
    })?;
    let (tx, rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let mut source = source;
    let worker = rt.spawn(async move {
        loop {
            let deadline = processor.deadline_ns();
            let timer = async {
                match deadline {
                    Some(d) => {
                        let wait = Duration::from_nanos(d.saturating_sub(monotonic_ns()));
                        tokio::time::sleep(wait).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let event = tokio::select! {
                raw = source.next() => match raw {
                    Some(Ok(raw)) => processor.on_raw(raw),
                    Some(Err(e)) => {
                        tracing::warn!(line = %line, error = %e, "GPIO event stream failed");
                        let _ = tx.try_send(Err(e));
                        break;
                    }
                    None => break,
                },
                () = timer => processor.on_time(monotonic_ns().max(deadline.unwrap_or(0))),
            };
            if let Some(ev) = event {
                match tx.try_send(Ok(ev)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!(line = %line, seq = ev.seq, "GPIO event dropped: consumer is behind");
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
        }
    });
    Ok((rx, worker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rejects_edges_on_outputs() {
        let e = LineConfig::output(false)
            .with_edge(Edge::Both)
            .validate()
            .expect_err("edge on output");
        assert_eq!(e.code, ErrorCode::Einval);
        assert!(e.message.contains("edge"), "{}", e.message);
        assert!(LineConfig::input()
            .with_edge(Edge::Rising)
            .with_debounce(Duration::from_millis(5))
            .validate()
            .is_ok());
        let long = LineConfig::input().with_consumer("x".repeat(40));
        assert_eq!(long.validate().map_err(|e| e.code), Err(ErrorCode::Einval));
    }

    #[test]
    fn addresses_display_for_messages() {
        assert_eq!(
            LineAddress::chip("pinctrl-rp1", 17).to_string(),
            "chip 'pinctrl-rp1' line 17"
        );
        assert_eq!(LineAddress::name("GPIO4").to_string(), "line 'GPIO4'");
    }

    #[test]
    fn monotonic_clock_moves_forward() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(a > 0 && b >= a);
    }
}
