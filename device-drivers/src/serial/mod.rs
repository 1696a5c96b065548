//! Serial ports: one worker task owns the port, cuts its bytes into frames and survives unplugs.
//!
//! [`SerialPort::open`] opens the port (tokio-serial, termios settings from [`SerialConfig`]) and
//! returns a cloneable handle (async `write`, `close`) plus a channel of [`SerialEvent`]s: frames,
//! errors (an over-long frame is dropped and reported), disconnects and reconnects. When the port
//! goes away (EOF or an I/O error: no busy loop) the worker reopens it by the same path, e.g. a
//! `/dev/serial/by-id/...` link, with exponential backoff. Opening goes through the small
//! [`SerialOpener`] trait; [`TtyOpener`] is the real one, used for real ports and for the
//! simulator's pseudo-terminals ([`sim::SimPty`]) alike.

pub mod framing;
pub mod sim;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{DeviceError, ErrorCode};
pub use framing::{Decoded, FrameDecoder, Framing, LineEnding, DEFAULT_MAX_FRAME};

/// Capacity of a port's event channel. When the consumer falls behind, the worker waits (the
/// kernel's tty buffer then fills and the device's data is dropped there), so memory stays bounded.
pub const EVENT_CHANNEL_CAPACITY: usize = 256;

/// Bits per character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataBits {
    /// 5 bits.
    Five,
    /// 6 bits.
    Six,
    /// 7 bits.
    Seven,
    /// 8 bits.
    #[default]
    Eight,
}

impl TryFrom<u8> for DataBits {
    type Error = DeviceError;

    fn try_from(n: u8) -> Result<Self, DeviceError> {
        match n {
            5 => Ok(DataBits::Five),
            6 => Ok(DataBits::Six),
            7 => Ok(DataBits::Seven),
            8 => Ok(DataBits::Eight),
            _ => Err(DeviceError::new(
                ErrorCode::Einval,
                format!("data bits must be 5, 6, 7 or 8, not {n}"),
            )),
        }
    }
}

/// Parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parity {
    /// No parity bit.
    #[default]
    None,
    /// Odd parity.
    Odd,
    /// Even parity.
    Even,
}

/// Stop bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopBits {
    /// One stop bit.
    #[default]
    One,
    /// Two stop bits.
    Two,
}

/// Flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowControl {
    /// None.
    #[default]
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

/// How quickly an unplugged port is retried: `initial`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// First wait after a loss.
    pub initial: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
        }
    }
}

/// Exponential backoff as a plain state machine.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: ReconnectPolicy,
    next: Duration,
}

impl Backoff {
    /// Start at `policy.initial`.
    pub fn new(policy: ReconnectPolicy) -> Self {
        Self {
            policy,
            next: policy.initial,
        }
    }

    /// The wait before the next attempt; each call doubles the following one, up to the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next.min(self.policy.max);
        self.next = self.next.saturating_mul(2).min(self.policy.max);
        d
    }

    /// After a success: start from `initial` again.
    pub fn reset(&mut self) {
        self.next = self.policy.initial;
    }
}

/// Everything needed to open (and reopen) a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialConfig {
    /// Device path; prefer a stable one such as `/dev/serial/by-id/...`.
    pub path: PathBuf,
    /// Baud rate.
    pub baud: u32,
    /// Data bits.
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits.
    pub stop_bits: StopBits,
    /// Flow control.
    pub flow_control: FlowControl,
    /// How to cut the byte stream into frames.
    pub framing: Framing,
    /// Largest frame in bytes; longer ones are dropped and reported.
    pub max_frame: usize,
    /// Reopen backoff after an unplug.
    pub reconnect: ReconnectPolicy,
}

impl SerialConfig {
    /// 8N1, no flow control, `\n` lines, 4 KiB frames.
    pub fn new(path: impl Into<PathBuf>, baud: u32) -> Self {
        Self {
            path: path.into(),
            baud,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
            flow_control: FlowControl::None,
            framing: Framing::default(),
            max_frame: DEFAULT_MAX_FRAME,
            reconnect: ReconnectPolicy::default(),
        }
    }

    /// Set the framing.
    pub fn with_framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// Set the maximum frame size.
    pub fn with_max_frame(mut self, max: usize) -> Self {
        self.max_frame = max;
        self
    }

    /// Set the reconnect policy.
    pub fn with_reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }
}

/// A byte stream a port worker can own.
pub trait SerialIo: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> SerialIo for T {}

/// Opens a port by path with a config; the worker calls it again to reopen after an unplug.
pub trait SerialOpener: Send + Sync + 'static {
    /// Open the port (inside a tokio runtime).
    fn open(&self, cfg: &SerialConfig) -> Result<Box<dyn SerialIo>, DeviceError>;
}

/// The real opener: a tty through tokio-serial (termios: baud, bits, parity, stop, flow; raw mode;
/// exclusive access).
#[derive(Debug, Clone, Copy, Default)]
pub struct TtyOpener;

/// An open tty; gives up exclusive access when closed so the same tty can be reopened.
struct Tty(tokio_serial::SerialStream);

impl Drop for Tty {
    fn drop(&mut self) {
        let _ = self.0.set_exclusive(false);
    }
}

impl AsyncRead for Tty {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tty {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Turn a tokio-serial error into ours, with a hint for the usual causes.
pub fn serial_error(path: &Path, e: &tokio_serial::Error) -> DeviceError {
    use tokio_serial::ErrorKind as K;
    let p = path.display();
    match e.kind() {
        K::Io(std::io::ErrorKind::NotFound) => DeviceError::new(
            ErrorCode::Enoent,
            format!(
                "{p}: no such serial port (unplugged or wrong path? stable names are under \
                 /dev/serial/by-id/)"
            ),
        ),
        K::Io(std::io::ErrorKind::PermissionDenied) => DeviceError::new(
            ErrorCode::Eacces,
            format!(
                "{p}: permission denied: add the user to the 'dialout' group (sudo usermod -aG \
                 dialout $USER)"
            ),
        ),
        K::NoDevice => DeviceError::new(
            ErrorCode::Ebusy,
            format!("{p}: port is in use by another program, or gone ({e})"),
        ),
        K::InvalidInput => DeviceError::new(ErrorCode::Einval, format!("{p}: {e}")),
        K::Io(kind) => DeviceError::from_io(p, &std::io::Error::new(kind, e.to_string())),
        K::Unknown => DeviceError::new(ErrorCode::Eio, format!("{p}: {e}")),
    }
}

impl SerialOpener for TtyOpener {
    fn open(&self, cfg: &SerialConfig) -> Result<Box<dyn SerialIo>, DeviceError> {
        let path = cfg.path.to_str().ok_or_else(|| {
            DeviceError::new(
                ErrorCode::Einval,
                format!("{}: serial port path is not UTF-8", cfg.path.display()),
            )
        })?;
        let builder = tokio_serial::new(path, cfg.baud)
            .data_bits(match cfg.data_bits {
                DataBits::Five => tokio_serial::DataBits::Five,
                DataBits::Six => tokio_serial::DataBits::Six,
                DataBits::Seven => tokio_serial::DataBits::Seven,
                DataBits::Eight => tokio_serial::DataBits::Eight,
            })
            .parity(match cfg.parity {
                Parity::None => tokio_serial::Parity::None,
                Parity::Odd => tokio_serial::Parity::Odd,
                Parity::Even => tokio_serial::Parity::Even,
            })
            .stop_bits(match cfg.stop_bits {
                StopBits::One => tokio_serial::StopBits::One,
                StopBits::Two => tokio_serial::StopBits::Two,
            })
            .flow_control(match cfg.flow_control {
                FlowControl::None => tokio_serial::FlowControl::None,
                FlowControl::Software => tokio_serial::FlowControl::Software,
                FlowControl::Hardware => tokio_serial::FlowControl::Hardware,
            });
        let stream =
            tokio_serial::SerialStream::open(&builder).map_err(|e| serial_error(&cfg.path, &e))?;
        Ok(Box::new(Tty(stream)))
    }
}

/// What a port reports.
#[derive(Debug, Clone)]
pub enum SerialEvent {
    /// A complete frame.
    Frame(Vec<u8>),
    /// A recoverable problem; the port keeps running (e.g. EBADMSG: an over-long frame dropped).
    Error(DeviceError),
    /// The port went away (unplug, EOF, I/O error); the worker is reopening it with backoff.
    Disconnected(DeviceError),
    /// The port was reopened after a [`Disconnected`](Self::Disconnected).
    Reconnected,
}

enum Cmd {
    Write(Vec<u8>, oneshot::Sender<Result<(), DeviceError>>),
}

/// A cloneable handle on an open port. The worker stops on [`close`](Self::close) or when every
/// handle is dropped.
#[derive(Clone)]
pub struct SerialPort {
    path: Arc<Path>,
    cmds: mpsc::Sender<Cmd>,
    worker: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for SerialPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialPort")
            .field("path", &self.path)
            .finish()
    }
}

impl SerialPort {
    /// Open a tty with [`TtyOpener`]. Must be called inside a tokio runtime. Errors (ENOENT,
    /// EACCES, EBUSY, EINVAL) come back at once; only later losses are retried.
    pub fn open(cfg: SerialConfig) -> Result<(Self, mpsc::Receiver<SerialEvent>), DeviceError> {
        Self::open_with(cfg, Arc::new(TtyOpener))
    }

    /// Open through a given opener.
    pub fn open_with(
        cfg: SerialConfig,
        opener: Arc<dyn SerialOpener>,
    ) -> Result<(Self, mpsc::Receiver<SerialEvent>), DeviceError> {
        let decoder = FrameDecoder::new(cfg.framing.clone(), cfg.max_frame)?;
        let rt = tokio::runtime::Handle::try_current().map_err(|_| {
            DeviceError::new(
                ErrorCode::Einval,
                format!(
                    "{}: serial ports need a tokio runtime on the opening thread",
                    cfg.path.display()
                ),
            )
        })?;
        let io = opener.open(&cfg)?;
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let path: Arc<Path> = Arc::from(cfg.path.as_path());
        let worker = rt.spawn(
            Worker {
                label: cfg.path.display().to_string(),
                cfg,
                opener,
                decoder,
                cmds: cmd_rx,
                events: ev_tx,
            }
            .run(io),
        );
        Ok((
            Self {
                path,
                cmds: cmd_tx,
                worker: Arc::new(Mutex::new(Some(worker))),
            },
            ev_rx,
        ))
    }

    /// The path the port was opened (and is reopened) by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn closed(&self) -> DeviceError {
        DeviceError::new(
            ErrorCode::Enodev,
            format!("{}: port is closed", self.path.display()),
        )
    }

    /// Write all of `data` (ENODEV while unplugged or after close).
    pub async fn write(&self, data: &[u8]) -> Result<(), DeviceError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Write(data.to_vec(), tx))
            .await
            .map_err(|_| self.closed())?;
        rx.await.map_err(|_| self.closed())?
    }

    /// Stop the worker and close the port (for every clone); returns once the port is closed.
    pub async fn close(&self) {
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = worker {
            w.abort();
            let _ = w.await;
        }
    }
}

struct Worker {
    label: String,
    cfg: SerialConfig,
    opener: Arc<dyn SerialOpener>,
    decoder: FrameDecoder,
    cmds: mpsc::Receiver<Cmd>,
    events: mpsc::Sender<SerialEvent>,
}

enum Step {
    Cmd(Option<Cmd>),
    Read(std::io::Result<usize>),
}

impl Worker {
    async fn run(mut self, io: Box<dyn SerialIo>) {
        let mut port = Some(io);
        let mut backoff = Backoff::new(self.cfg.reconnect);
        let mut retry_at: Option<Instant> = None;
        let mut buf = vec![0u8; 4096];
        let mut decoded = Vec::new();
        loop {
            if let Some(p) = port.as_mut() {
                let step = tokio::select! {
                    c = self.cmds.recv() => Step::Cmd(c),
                    r = p.read(&mut buf) => Step::Read(r),
                };
                let lost = match step {
                    Step::Cmd(None) => return,
                    Step::Cmd(Some(Cmd::Write(data, reply))) => {
                        let r = async {
                            p.write_all(&data).await?;
                            p.flush().await
                        }
                        .await;
                        match r {
                            Ok(()) => {
                                let _ = reply.send(Ok(()));
                                None
                            }
                            Err(e) => {
                                let err = DeviceError::from_io(&self.label, &e);
                                let _ = reply.send(Err(err.clone()));
                                Some(err)
                            }
                        }
                    }
                    Step::Read(Ok(0)) => Some(DeviceError::new(
                        ErrorCode::Enodev,
                        format!("{}: port closed by the other end (unplugged?)", self.label),
                    )),
                    Step::Read(Ok(n)) => {
                        self.decoder.push(&buf[..n], &mut decoded);
                        for d in decoded.drain(..) {
                            let ev = match d {
                                Decoded::Frame(f) => SerialEvent::Frame(f),
                                Decoded::Oversize { max } => SerialEvent::Error(DeviceError::new(
                                    ErrorCode::Ebadmsg,
                                    format!(
                                        "{}: frame longer than {max} bytes dropped",
                                        self.label
                                    ),
                                )),
                            };
                            let _ = self.events.send(ev).await;
                        }
                        None
                    }
                    Step::Read(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => None,
                    Step::Read(Err(e)) => Some(DeviceError::from_io(&self.label, &e)),
                };
                if let Some(err) = lost {
                    tracing::warn!(port = %self.label, error = %err, "serial port lost; reopening");
                    port = None;
                    self.decoder.reset();
                    let _ = self.events.send(SerialEvent::Disconnected(err)).await;
                }
            } else {
                let at = *retry_at.get_or_insert_with(|| Instant::now() + backoff.next_delay());
                tokio::select! {
                    c = self.cmds.recv() => match c {
                        None => return,
                        Some(Cmd::Write(_, reply)) => {
                            let _ = reply.send(Err(DeviceError::new(
                                ErrorCode::Enodev,
                                format!("{}: port is unplugged; reopening", self.label),
                            )));
                        }
                    },
                    () = tokio::time::sleep_until(at) => {
                        retry_at = None;
                        match self.opener.open(&self.cfg) {
                            Ok(p) => {
                                tracing::info!(port = %self.label, "serial port reopened");
                                port = Some(p);
                                backoff.reset();
                                let _ = self.events.send(SerialEvent::Reconnected).await;
                            }
                            Err(e) => {
                                tracing::debug!(port = %self.label, error = %e, "serial reopen failed");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sim::SimPty;
    use super::*;

    /// Generous guard so a broken test fails instead of hanging; not a timing assertion.
    const GUARD: Duration = Duration::from_secs(20);

    async fn next(rx: &mut mpsc::Receiver<SerialEvent>) -> SerialEvent {
        match tokio::time::timeout(GUARD, rx.recv()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => panic!("event channel closed"),
            Err(_) => panic!("no serial event within {GUARD:?}"),
        }
    }

    fn frame(ev: SerialEvent) -> Vec<u8> {
        match ev {
            SerialEvent::Frame(f) => f,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    fn cfg(path: &Path, framing: Framing, max: usize) -> SerialConfig {
        SerialConfig::new(path, 115_200)
            .with_framing(framing)
            .with_max_frame(max)
            .with_reconnect(ReconnectPolicy {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(200),
            })
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
        });
        let ms: Vec<u128> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn data_bits_from_numbers() {
        assert_eq!(DataBits::try_from(7).ok(), Some(DataBits::Seven));
        assert_eq!(
            DataBits::try_from(9).map_err(|e| e.code),
            Err(ErrorCode::Einval)
        );
    }

    #[tokio::test]
    async fn every_framing_kind_end_to_end_over_a_pty() {
        type Case = (Framing, &'static [u8], Vec<&'static [u8]>);
        let cases: Vec<Case> = vec![
            (
                Framing::Lines(LineEnding::Lf),
                b"$GPGGA,1\r\n$GPRMC,2\n",
                vec![b"$GPGGA,1", b"$GPRMC,2"],
            ),
            (
                Framing::Lines(LineEnding::CrLf),
                b"a\nb\r\nc\r\n",
                vec![b"a\nb", b"c"],
            ),
            (
                Framing::Delimiter(vec![0x7e, 0x7e]),
                b"\x01\x02\x7e\x7e\x03\x7e\x7e",
                vec![b"\x01\x02", b"\x03"],
            ),
            (Framing::FixedLength(4), b"abcdefgh", vec![b"abcd", b"efgh"]),
        ];
        for (framing, input, expected) in cases {
            let mut pty = SimPty::open().expect("pty");
            let (port, mut rx) =
                SerialPort::open(cfg(pty.slave_path(), framing.clone(), 64)).expect("open");
            pty.write_all(input).await.expect("device writes");
            for want in expected {
                assert_eq!(frame(next(&mut rx).await), want, "{framing:?}");
            }
            port.close().await;
        }
    }

    #[tokio::test]
    async fn raw_framing_delivers_every_byte_in_order() {
        let mut pty = SimPty::open().expect("pty");
        let (port, mut rx) =
            SerialPort::open(cfg(pty.slave_path(), Framing::Raw, 16)).expect("open");
        let input: Vec<u8> = (0..=255u8).collect();
        pty.write_all(&input).await.expect("write");
        let mut got = Vec::new();
        while got.len() < input.len() {
            match next(&mut rx).await {
                SerialEvent::Frame(f) => {
                    assert!(f.len() <= 16, "raw chunk of {} bytes", f.len());
                    got.extend(f);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, input);
        port.close().await;
    }

    #[tokio::test]
    async fn garbage_over_long_frame_is_reported_and_the_stream_recovers() {
        let mut pty = SimPty::open().expect("pty");
        let (port, mut rx) =
            SerialPort::open(cfg(pty.slave_path(), Framing::Lines(LineEnding::Lf), 32))
                .expect("open");
        let mut garbage = vec![0xffu8; 5000];
        garbage.extend_from_slice(b"\nok\n");
        pty.write_all(&garbage).await.expect("write");
        match next(&mut rx).await {
            SerialEvent::Error(e) => {
                assert_eq!(e.code, ErrorCode::Ebadmsg);
                assert!(e.message.contains("longer than 32"), "{}", e.message);
            }
            other => panic!("expected an oversize error, got {other:?}"),
        }
        assert_eq!(frame(next(&mut rx).await), b"ok");
        port.close().await;
    }

    #[tokio::test]
    async fn writes_reach_the_device_and_close_stops_writes() {
        let mut pty = SimPty::open().expect("pty");
        let (port, _rx) =
            SerialPort::open(cfg(pty.slave_path(), Framing::default(), 64)).expect("open");
        port.write(b"PING\r\n").await.expect("write");
        let mut got = [0u8; 6];
        tokio::time::timeout(GUARD, pty.read_exact(&mut got))
            .await
            .expect("in time")
            .expect("read");
        assert_eq!(&got, b"PING\r\n");
        port.close().await;
        let e = port.write(b"x").await.expect_err("closed");
        assert_eq!(e.code, ErrorCode::Enodev);
    }

    #[tokio::test]
    async fn missing_port_is_enoent_with_a_hint() {
        let e = SerialPort::open(cfg(
            Path::new("/dev/serial/by-id/usb-nothing-here"),
            Framing::Raw,
            8,
        ))
        .expect_err("missing");
        assert_eq!(e.code, ErrorCode::Enoent);
        assert!(e.message.contains("by-id"), "{}", e.message);
    }

    #[tokio::test]
    async fn unplug_is_reported_and_the_port_reopens_by_the_same_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("usb-GPS_Receiver-if00");
        let mut first = SimPty::open().expect("pty");
        first.link_at(&link).expect("link");
        let (port, mut rx) = SerialPort::open(cfg(&link, Framing::default(), 64)).expect("open");
        first.write_all(b"before\n").await.expect("write");
        assert_eq!(frame(next(&mut rx).await), b"before");

        drop(first); // the device is unplugged
        match next(&mut rx).await {
            SerialEvent::Disconnected(e) => {
                assert!(e.message.contains("usb-GPS_Receiver-if00"), "{}", e.message)
            }
            other => panic!("expected a disconnect, got {other:?}"),
        }
        let e = port.write(b"x").await.expect_err("unplugged");
        assert_eq!(e.code, ErrorCode::Enodev);

        // Plugged back in: a new tty behind the same stable name.
        let mut second = SimPty::open().expect("pty");
        second.link_at(&link).expect("re-point link");
        let ev = next(&mut rx).await;
        assert!(matches!(ev, SerialEvent::Reconnected), "{ev:?}");
        second.write_all(b"after\n").await.expect("write");
        assert_eq!(frame(next(&mut rx).await), b"after");
        port.write(b"ack\n").await.expect("write after reopen");
        let mut got = [0u8; 4];
        tokio::time::timeout(GUARD, second.read_exact(&mut got))
            .await
            .expect("in time")
            .expect("read");
        assert_eq!(&got, b"ack\n");
        port.close().await;
    }
}
