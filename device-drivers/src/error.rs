//! Typed device errors with Node-style codes, so the JS layer can turn every failure into an
//! `Error` whose `code` a script can branch on (`EIO`, `ENXIO`, `EBUSY`, ...).

use std::fmt;

/// Node-style error code carried by every [`DeviceError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Generic I/O failure on the bus or line.
    Eio,
    /// No device answered (I2C NACK at the address).
    Enxio,
    /// The resource is held by someone else (GPIO line already requested).
    Ebusy,
    /// The device node does not exist (e.g. `/dev/i2c-1` with I2C disabled).
    Enoent,
    /// Permission denied on a device node.
    Eacces,
    /// An operation timed out.
    Etimedout,
    /// Bad argument that reached the device layer (wrong pin, bad option value).
    Einval,
    /// Data arrived but failed a check (CRC, checksum, sentinel value).
    Ebadmsg,
    /// The resource was closed or unplugged.
    Enodev,
}

impl ErrorCode {
    /// The code string as Node spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Eio => "EIO",
            ErrorCode::Enxio => "ENXIO",
            ErrorCode::Ebusy => "EBUSY",
            ErrorCode::Enoent => "ENOENT",
            ErrorCode::Eacces => "EACCES",
            ErrorCode::Etimedout => "ETIMEDOUT",
            ErrorCode::Einval => "EINVAL",
            ErrorCode::Ebadmsg => "EBADMSG",
            ErrorCode::Enodev => "ENODEV",
        }
    }

    /// Map an OS error number to our code (unknown numbers become `EIO`).
    pub fn from_errno(errno: i32) -> Self {
        match errno {
            6 => ErrorCode::Enxio,       // ENXIO
            16 => ErrorCode::Ebusy,      // EBUSY
            2 => ErrorCode::Enoent,      // ENOENT
            13 | 1 => ErrorCode::Eacces, // EACCES, EPERM
            110 => ErrorCode::Etimedout, // ETIMEDOUT
            22 => ErrorCode::Einval,     // EINVAL
            19 => ErrorCode::Enodev,     // ENODEV
            121 => ErrorCode::Eio,       // EREMOTEIO: the kernel's I2C NACK on some adapters
            _ => ErrorCode::Eio,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device-layer failure: a code for programs, a message (with a hint where one helps) for people.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DeviceError {
    /// Node-style code.
    pub code: ErrorCode,
    /// Human-readable message naming the device, e.g. "gpiochip0 line 17 is busy (used by 'foo')".
    pub message: String,
}

impl DeviceError {
    /// Build an error from a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Build an error from an `std::io::Error`, prefixing `context` (e.g. the device path).
    pub fn from_io(context: impl fmt::Display, err: &std::io::Error) -> Self {
        let code = err
            .raw_os_error()
            .map(ErrorCode::from_errno)
            .unwrap_or(match err.kind() {
                std::io::ErrorKind::NotFound => ErrorCode::Enoent,
                std::io::ErrorKind::PermissionDenied => ErrorCode::Eacces,
                std::io::ErrorKind::TimedOut => ErrorCode::Etimedout,
                std::io::ErrorKind::InvalidInput => ErrorCode::Einval,
                _ => ErrorCode::Eio,
            });
        Self::new(code, format!("{context}: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_node_codes() {
        assert_eq!(ErrorCode::from_errno(6), ErrorCode::Enxio);
        assert_eq!(ErrorCode::from_errno(16).as_str(), "EBUSY");
        assert_eq!(ErrorCode::from_errno(9999), ErrorCode::Eio);
    }

    #[test]
    fn io_error_keeps_context_and_code() {
        let io = std::io::Error::from_raw_os_error(2);
        let e = DeviceError::from_io("/dev/i2c-7", &io);
        assert_eq!(e.code, ErrorCode::Enoent);
        assert!(e.message.starts_with("/dev/i2c-7: "), "{}", e.message);
    }
}
