//! Pseudo-terminals for simulated serial devices, so the production tokio-serial path runs.
//!
//! [`SimPty::open`] makes a pty pair in raw mode (through tokio-serial's `SerialStream::pair`),
//! keeps the slave side open (so the master never sees EIO while the port under test closes and
//! reopens it) and exposes the master as an async byte stream: a simulated device reads what the
//! agent writes and writes what the device would send. [`SimPty::link_at`] points a stable name at
//! the slave, the way udev maintains `/dev/serial/by-id/...`; dropping the `SimPty` is an unplug.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_serial::{SerialPort as _, SerialStream};

use crate::error::{DeviceError, ErrorCode};

/// A pseudo-terminal whose master end plays a serial device.
pub struct SimPty {
    master: SerialStream,
    _slave: SerialStream,
    slave_path: PathBuf,
}

impl std::fmt::Debug for SimPty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPty")
            .field("slave_path", &self.slave_path)
            .finish()
    }
}

impl SimPty {
    /// Open a new pty pair (inside a tokio runtime).
    pub fn open() -> Result<Self, DeviceError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(DeviceError::new(
                ErrorCode::Einval,
                "sim serial: opening a pty needs a tokio runtime",
            ));
        }
        let (master, slave) = SerialStream::pair()
            .map_err(|e| DeviceError::new(ErrorCode::Eio, format!("opening a pty pair: {e}")))?;
        let slave_path = slave
            .name()
            .map(PathBuf::from)
            .ok_or_else(|| DeviceError::new(ErrorCode::Eio, "pty slave has no name"))?;
        // serialport opens both ends without O_CLOEXEC: a child process spawned meanwhile would
        // inherit the master and keep the pty alive, hiding an "unplug" (peer close).
        for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
            set_cloexec(fd)?;
        }
        Ok(Self {
            master,
            _slave: slave,
            slave_path,
        })
    }

    /// The slave device path (`/dev/pts/N`): what the agent opens.
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// Point `link` at the slave, replacing any existing link atomically (like udev's
    /// `/dev/serial/by-id/` names, which survive re-plugging while `/dev/ttyUSBn` changes).
    pub fn link_at(&self, link: &Path) -> Result<(), DeviceError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = link.with_file_name(format!(
            ".{}.{}.{n}.tmp",
            link.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        std::os::unix::fs::symlink(&self.slave_path, &tmp)
            .map_err(|e| DeviceError::from_io(tmp.display(), &e))?;
        std::fs::rename(&tmp, link).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            DeviceError::from_io(link.display(), &e)
        })
    }
}

/// Keeps a pty's slave side open after [`SimPty::into_master`]; the unplug happens when both this
/// and the master are dropped.
pub struct SlaveKeepalive {
    _slave: SerialStream,
    path: PathBuf,
}

impl std::fmt::Debug for SlaveKeepalive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlaveKeepalive")
            .field("path", &self.path)
            .finish()
    }
}

impl SlaveKeepalive {
    /// The slave device path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SimPty {
    /// Split into the master stream (for device models that need a `SerialStream`, such as
    /// tokio-modbus's RTU server) and the slave keepalive; keep both alive while the device runs.
    pub fn into_master(self) -> (SerialStream, SlaveKeepalive) {
        (
            self.master,
            SlaveKeepalive {
                _slave: self._slave,
                path: self.slave_path,
            },
        )
    }
}

impl AsyncRead for SimPty {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.master).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimPty {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.master).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.master).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.master).poll_shutdown(cx)
    }
}

fn set_cloexec(fd: std::os::fd::RawFd) -> Result<(), DeviceError> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    // SAFETY: `fd` belongs to a SerialStream we own and that stays open for this call.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map(|_| ())
        .map_err(|e| DeviceError::new(ErrorCode::Eio, format!("pty: cannot set FD_CLOEXEC: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn link_is_replaced_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("usb-Modbus-if00");
        let a = SimPty::open().expect("pty a");
        let b = SimPty::open().expect("pty b");
        assert_ne!(a.slave_path(), b.slave_path());
        a.link_at(&link).expect("link a");
        assert_eq!(std::fs::read_link(&link).expect("readlink"), a.slave_path());
        b.link_at(&link).expect("link b");
        assert_eq!(std::fs::read_link(&link).expect("readlink"), b.slave_path());
        let leftovers = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(leftovers, 1, "no temporary links left behind");
    }

    #[tokio::test]
    async fn master_split_still_talks_to_the_slave() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let pty = SimPty::open().expect("pty");
        let path = pty.slave_path().to_path_buf();
        let (mut master, keep) = pty.into_master();
        assert_eq!(keep.path(), path);
        let mut port =
            tokio_serial::SerialStream::open(&tokio_serial::new(path.to_string_lossy(), 9600))
                .expect("open slave");
        master.write_all(b"hi").await.expect("write");
        let mut got = [0u8; 2];
        port.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"hi");
    }

    #[test]
    fn needs_a_runtime() {
        assert_eq!(
            SimPty::open().map(|_| ()).map_err(|e| e.code),
            Err(ErrorCode::Einval)
        );
    }
}
