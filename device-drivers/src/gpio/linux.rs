//! Linux GPIO over the character device, uAPI v2, through `gpiocdev` (never sysfs: it is gone or
//! renumbered on Pi 5 / Bookworm).
//!
//! Chips are found by label and lines by name, so one board file works whatever `gpiochipN` the
//! kernel assigned. Debounce is asked of the kernel first (hardware, or the kernel's own software
//! debounce); if the request is refused, the line is requested without it and debounced here with
//! the same [`EdgeProcessor`] the simulator uses.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use futures::Stream;
use gpiocdev::line::{EdgeDetection, EdgeKind as CdevEdgeKind, Value};
use gpiocdev::{Chip, Request};
use tokio::io::unix::AsyncFd;

use super::{
    spawn_edge_worker, Bias, Direction, Drive, Edge, EdgeProcessor, GpioBackend, GpioLine,
    LineAddress, LineConfig, LineInfo, LineIo, RawEdge,
};
use crate::error::{DeviceError, ErrorCode};

const EACCES_HINT: &str = "add the user to the 'gpio' group (sudo usermod -aG gpio $USER) or \
     install a udev rule: SUBSYSTEM==\"gpio\", KERNEL==\"gpiochip*\", GROUP=\"gpio\", MODE=\"0660\"";

/// One GPIO chip as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipSummary {
    /// Device path, e.g. `/dev/gpiochip0`.
    pub path: PathBuf,
    /// Kernel name, e.g. `gpiochip0`.
    pub name: String,
    /// Label, e.g. `pinctrl-bcm2711`.
    pub label: String,
    /// Number of lines.
    pub num_lines: u32,
}

/// The Linux GPIO backend (stateless: every request opens the chip it needs).
#[derive(Debug, Clone, Default)]
pub struct LinuxGpio;

impl LinuxGpio {
    /// A backend for the GPIO chips under `/dev`.
    pub fn new() -> Self {
        Self
    }

    /// Every chip we can open, for diagnostics (`ganglion check`) and label lookups. Fails only if
    /// none can be opened (e.g. EACCES on all of them, or no chips at all).
    pub fn chips(&self) -> Result<Vec<ChipSummary>, DeviceError> {
        let paths =
            gpiocdev::chip::chips().map_err(|e| gpio_error("listing /dev/gpiochip*", &e))?;
        let mut out = Vec::new();
        let mut first_err = None;
        for path in paths {
            match open_chip(&path) {
                Ok((chip, info)) => out.push(ChipSummary {
                    path: chip.path().to_path_buf(),
                    name: info.name,
                    label: info.label,
                    num_lines: info.num_lines,
                }),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match (out.is_empty(), first_err) {
            (true, Some(e)) => Err(e),
            (true, None) => Err(DeviceError::new(
                ErrorCode::Enoent,
                "no GPIO chips found (/dev/gpiochip* missing)",
            )),
            _ => Ok(out),
        }
    }

    fn resolve(&self, addr: &LineAddress) -> Result<(ChipSummary, u32, String), DeviceError> {
        let chips = self.chips()?;
        match addr {
            LineAddress::Chip { label, offset } => {
                let mut matching = chips.iter().filter(|c| &c.label == label);
                let chip = matching.next().ok_or_else(|| {
                    let found: Vec<String> = chips
                        .iter()
                        .map(|c| format!("{} '{}'", c.name, c.label))
                        .collect();
                    DeviceError::new(
                        ErrorCode::Enoent,
                        format!(
                            "no GPIO chip labelled '{label}' (found: {}); check the board file",
                            found.join(", ")
                        ),
                    )
                })?;
                if let Some(other) = matching.next() {
                    tracing::warn!(label = %label, using = %chip.name, also = %other.name,
                        "several GPIO chips share a label; using the first");
                }
                if *offset >= chip.num_lines {
                    return Err(DeviceError::new(
                        ErrorCode::Einval,
                        format!(
                            "{} ({label}) has {} lines, no line {offset}",
                            chip.name, chip.num_lines
                        ),
                    ));
                }
                let (c, _) = open_chip(&chip.path)?;
                let name = c.line_info(*offset).map(|i| i.name).unwrap_or_default();
                Ok((chip.clone(), *offset, name))
            }
            LineAddress::Name(name) => {
                for chip in &chips {
                    let (c, _) = open_chip(&chip.path)?;
                    if let Some(info) = c.find_line_info(name) {
                        return Ok((chip.clone(), info.offset, info.name));
                    }
                }
                Err(DeviceError::new(
                    ErrorCode::Enoent,
                    format!("no GPIO line named '{name}' on any chip"),
                ))
            }
        }
    }
}

fn open_chip(path: &Path) -> Result<(Chip, gpiocdev::chip::Info), DeviceError> {
    let chip = Chip::from_path(path).map_err(|e| gpio_error(path.display(), &e))?;
    let info = chip.info().map_err(|e| gpio_error(path.display(), &e))?;
    Ok((chip, info))
}

/// The errno inside a gpiocdev error, if it carries one.
fn errno_of(e: &gpiocdev::Error) -> Option<i32> {
    match e {
        gpiocdev::Error::Os(errno) => Some(errno.0),
        gpiocdev::Error::Uapi(_, gpiocdev_uapi::Error::Os(errno)) => Some(errno.0),
        _ => None,
    }
}

fn gpio_error(context: impl std::fmt::Display, e: &gpiocdev::Error) -> DeviceError {
    let mut err = match errno_of(e) {
        Some(n) => DeviceError::from_io(&context, &std::io::Error::from_raw_os_error(n)),
        None => DeviceError::new(ErrorCode::Eio, format!("{context}: {e}")),
    };
    if err.code == ErrorCode::Eacces {
        err.message = format!("{}: {EACCES_HINT}", err.message);
    }
    err
}

fn build(
    chip: &Path,
    offset: u32,
    cfg: &LineConfig,
    edge: Option<EdgeDetection>,
    kernel_debounce: bool,
) -> Result<Request, gpiocdev::Error> {
    let mut b = Request::builder();
    b.on_chip(chip)
        .with_consumer(cfg.consumer.as_str())
        .with_line(offset);
    match cfg.direction {
        Direction::Input => {
            b.as_input();
        }
        Direction::Output => {
            b.as_output(Value::from(cfg.initial));
        }
    }
    if cfg.active_low {
        b.as_active_low();
    }
    if let Some(bias) = cfg.bias {
        b.with_bias(match bias {
            Bias::PullUp => gpiocdev::line::Bias::PullUp,
            Bias::PullDown => gpiocdev::line::Bias::PullDown,
            Bias::Disabled => gpiocdev::line::Bias::Disabled,
        });
    }
    if cfg.direction == Direction::Output {
        b.with_drive(match cfg.drive {
            Drive::PushPull => gpiocdev::line::Drive::PushPull,
            Drive::OpenDrain => gpiocdev::line::Drive::OpenDrain,
            Drive::OpenSource => gpiocdev::line::Drive::OpenSource,
        });
    }
    if let Some(e) = edge {
        b.with_edge_detection(e);
    }
    if kernel_debounce {
        if let Some(d) = cfg.debounce.filter(|d| !d.is_zero()) {
            b.with_debounce_period(d);
        }
    }
    b.request()
}

fn detection(edge: Edge) -> EdgeDetection {
    match edge {
        Edge::Rising => EdgeDetection::RisingEdge,
        Edge::Falling => EdgeDetection::FallingEdge,
        Edge::Both => EdgeDetection::BothEdges,
    }
}

impl GpioBackend for LinuxGpio {
    fn request_line(&self, addr: &LineAddress, cfg: &LineConfig) -> Result<GpioLine, DeviceError> {
        cfg.validate()?;
        let (chip, offset, line_name) = self.resolve(addr)?;
        let info = LineInfo {
            chip_label: chip.label.clone(),
            chip_name: chip.name.clone(),
            offset,
            name: line_name,
        };
        let wants_debounce = cfg.debounce.is_some_and(|d| !d.is_zero());
        let edge = cfg.edge.filter(|_| cfg.direction == Direction::Input);

        let first = build(&chip.path, offset, cfg, edge.map(detection), true);
        let (request, software_debounce) = match first {
            Ok(r) => (r, false),
            Err(e) => {
                if errno_of(&e) == Some(16) {
                    return Err(busy_error(&chip.path, &info));
                }
                if !wants_debounce {
                    return Err(request_error(&info, &e));
                }
                // The kernel refused the debounce period: request without it, debounce here.
                let retry = build(
                    &chip.path,
                    offset,
                    cfg,
                    edge.map(|_| EdgeDetection::BothEdges),
                    false,
                )
                .map_err(|e2| {
                    if errno_of(&e2) == Some(16) {
                        busy_error(&chip.path, &info)
                    } else {
                        request_error(&info, &e2)
                    }
                })?;
                tracing::info!(line = %info, error = %e,
                    "kernel debounce unavailable; debouncing in software");
                (retry, true)
            }
        };

        let Some(edge) = edge else {
            if software_debounce {
                tracing::warn!(line = %info, "debounce without edge detection is not applied to reads");
            }
            let io = Arc::new(LinuxLineIo {
                held: Mutex::new(Some(Held::Plain(request))),
                info: info.clone(),
            });
            return Ok(GpioLine::from_parts(info, cfg.clone(), io, None));
        };

        let initial = request
            .lone_value()
            .map(bool::from)
            .map_err(|e| gpio_error(&info, &e))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(DeviceError::new(
                ErrorCode::Einval,
                format!("{info}: edge events need a tokio runtime on the requesting thread"),
            ));
        }
        // SAFETY: the Request owns its file descriptor for its whole life and is moved into the
        // AsyncFd, so the descriptor stays open and unchanged until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register(request) }.map_err(|e| {
            let (_, io) = e.into_parts();
            DeviceError::from_io(&info, &io)
        })?;
        let fd = Arc::new(fd);
        let processor = if software_debounce {
            EdgeProcessor::new(edge, cfg.debounce, initial)
        } else {
            EdgeProcessor::passthrough(edge)
        };
        let source = KernelEdges {
            fd: Arc::downgrade(&fd),
            info: info.to_string(),
        };
        let events = spawn_edge_worker(info.to_string(), source, processor)?;
        let io = Arc::new(LinuxLineIo {
            held: Mutex::new(Some(Held::Async(fd))),
            info: info.clone(),
        });
        Ok(GpioLine::from_parts(info, cfg.clone(), io, Some(events)))
    }

    fn name(&self) -> &'static str {
        "linux"
    }
}

fn busy_error(chip_path: &Path, info: &LineInfo) -> DeviceError {
    let consumer = Chip::from_path(chip_path)
        .and_then(|c| c.line_info(info.offset))
        .map(|i| i.consumer)
        .unwrap_or_default();
    let by = if consumer.is_empty() {
        "another program or a kernel driver".to_string()
    } else {
        format!("'{consumer}'")
    };
    DeviceError::new(ErrorCode::Ebusy, format!("{info} is busy: used by {by}"))
}

fn request_error(info: &LineInfo, e: &gpiocdev::Error) -> DeviceError {
    gpio_error(format!("requesting {info}"), e)
}

enum Held {
    Plain(Request),
    Async(Arc<AsyncFd<Request>>),
}

impl Held {
    fn request(&self) -> &Request {
        match self {
            Held::Plain(r) => r,
            Held::Async(fd) => fd.get_ref(),
        }
    }
}

struct LinuxLineIo {
    held: Mutex<Option<Held>>,
    info: LineInfo,
}

impl LinuxLineIo {
    fn with_request<T>(
        &self,
        f: impl FnOnce(&Request) -> Result<T, gpiocdev::Error>,
    ) -> Result<T, DeviceError> {
        let held = self.held.lock().map_err(|_| {
            DeviceError::new(ErrorCode::Eio, format!("{}: lock poisoned", self.info))
        })?;
        match held.as_ref() {
            Some(h) => f(h.request()).map_err(|e| gpio_error(&self.info, &e)),
            None => Err(DeviceError::new(
                ErrorCode::Enodev,
                format!("{}: line is closed", self.info),
            )),
        }
    }
}

impl LineIo for LinuxLineIo {
    fn get(&self) -> Result<bool, DeviceError> {
        self.with_request(|r| r.lone_value().map(bool::from))
    }

    fn set(&self, value: bool) -> Result<(), DeviceError> {
        self.with_request(|r| r.set_lone_value(Value::from(value)))
    }

    fn close(&self) {
        // Dropping the only strong reference releases the kernel request right away: the event
        // stream holds a weak one between polls.
        if let Ok(mut held) = self.held.lock() {
            held.take();
        }
    }
}

/// Kernel edge events as a stream. Holds the request weakly so closing the line releases it at
/// once instead of when the aborted worker task is finally dropped.
struct KernelEdges {
    fd: Weak<AsyncFd<Request>>,
    info: String,
}

impl Stream for KernelEdges {
    type Item = Result<RawEdge, DeviceError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(fd) = self.fd.upgrade() else {
            return Poll::Ready(None);
        };
        loop {
            let mut guard = match fd.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Some(Err(DeviceError::from_io(&self.info, &e))))
                }
                Poll::Ready(Ok(g)) => g,
            };
            let req = fd.get_ref();
            match req.has_edge_event() {
                Ok(true) => {
                    let ev = req
                        .read_edge_event()
                        .map(|ev| RawEdge {
                            level: ev.kind == CdevEdgeKind::Rising,
                            timestamp_ns: ev.timestamp_ns,
                            seq: Some(u64::from(ev.line_seqno)),
                        })
                        .map_err(|e| gpio_error(&self.info, &e));
                    return Poll::Ready(Some(ev));
                }
                Ok(false) => guard.clear_ready(),
                Err(e) => return Poll::Ready(Some(Err(gpio_error(&self.info, &e)))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_carry_the_group_hint() {
        let e = gpio_error(
            "/dev/gpiochip0",
            &gpiocdev::Error::Os(gpiocdev_uapi::Errno(13)),
        );
        assert_eq!(e.code, ErrorCode::Eacces);
        assert!(e.message.contains("'gpio' group"), "{}", e.message);
        assert!(e.message.starts_with("/dev/gpiochip0: "), "{}", e.message);
    }

    #[test]
    fn unknown_label_is_enoent_or_no_chips() {
        // This machine may have no GPIO chips at all (CI): either way the error is clear, not a panic.
        let e = LinuxGpio::new()
            .request_line(
                &LineAddress::chip("no-such-chip-label", 0),
                &LineConfig::input(),
            )
            .expect_err("no such chip");
        assert!(
            matches!(e.code, ErrorCode::Enoent | ErrorCode::Eacces),
            "{e:?}"
        );
    }
}
