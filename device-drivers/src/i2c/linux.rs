//! Linux I2C over `/dev/i2c-N`, through the `i2cdev` device that `linux-embedded-hal` wraps.
//!
//! We use `linux_embedded_hal::i2cdev::linux::LinuxI2CDevice` directly rather than the `I2cdev`
//! newtype: SMBus commands need the device's slave address set through the same descriptor, and
//! `I2cdev` caches the address privately, so mixing its `I2c` impl with SMBus calls through its
//! `Deref` would talk to the wrong device. One descriptor serves both here, and the address is
//! switched per transaction (shared bus). Adapters that only speak SMBus (i2c-stub in the emulated
//! board) refuse plain I2C transfers with EOPNOTSUPP; the common transaction shapes (register
//! write, register read) are then carried out with SMBus commands.

use std::path::{Path, PathBuf};

use embedded_hal::i2c::Operation;
use linux_embedded_hal::i2cdev::core::{I2CDevice, I2CMessage, I2CTransfer};
use linux_embedded_hal::i2cdev::linux::{LinuxI2CDevice, LinuxI2CError, LinuxI2CMessage};

use super::{nack_error, I2cTransport, SmbusCommand, SmbusReply, SMBUS_BLOCK_MAX};
use crate::error::{DeviceError, ErrorCode};

const ENOENT_HINT: &str = "enable I2C (raspi-config / dtparam=i2c_arm=on in config.txt) or check \
     the bus number in the board file";
const EACCES_HINT: &str =
    "add the user to the 'i2c' group (sudo usermod -aG i2c $USER) or install \
     a udev rule: SUBSYSTEM==\"i2c-dev\", GROUP=\"i2c\", MODE=\"0660\"";
const EOPNOTSUPP: i32 = 95;

/// One open `/dev/i2c-N`.
pub struct LinuxI2c {
    dev: LinuxI2CDevice,
    name: String,
    path: PathBuf,
    address: Option<u8>,
    plain_i2c: bool,
}

fn errno_of(e: &LinuxI2CError) -> Option<i32> {
    match e {
        LinuxI2CError::Errno(n) => Some(*n),
        LinuxI2CError::Io(io) => io.raw_os_error(),
    }
}

impl LinuxI2c {
    /// Open a bus node (ENOENT with a hint to enable I2C, EACCES with the group hint).
    pub fn open(path: &Path) -> Result<Self, DeviceError> {
        let dev = LinuxI2CDevice::new(path, 0).map_err(|e| {
            let io = std::io::Error::from(e);
            let mut err = DeviceError::from_io(path.display(), &io);
            match err.code {
                ErrorCode::Enoent => err.message = format!("{}: {ENOENT_HINT}", err.message),
                ErrorCode::Eacces => err.message = format!("{}: {EACCES_HINT}", err.message),
                _ => {}
            }
            err
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Self {
            dev,
            name,
            path: path.to_path_buf(),
            address: None,
            plain_i2c: true,
        })
    }

    fn error(&self, address: u8, e: LinuxI2CError) -> DeviceError {
        match errno_of(&e) {
            // ENXIO: no ACK in the address phase; EREMOTEIO (bcm2835) and ENODEV (i2c-stub): the
            // same thing as other adapters report it.
            Some(6) | Some(121) | Some(19) => nack_error(&self.name, address),
            Some(16) => DeviceError::new(
                ErrorCode::Ebusy,
                format!(
                    "{}: address {address:#04x} is claimed by a kernel driver",
                    self.name
                ),
            ),
            _ => {
                let io = std::io::Error::from(e);
                DeviceError::from_io(format!("{} address {address:#04x}", self.name), &io)
            }
        }
    }

    fn select(&mut self, address: u8) -> Result<(), DeviceError> {
        if self.address != Some(address) {
            self.dev
                .set_slave_address(u16::from(address))
                .map_err(|e| self.error(address, e))?;
            self.address = Some(address);
        }
        Ok(())
    }

    fn smbus_only(&self, address: u8) -> DeviceError {
        DeviceError::new(
            ErrorCode::Einval,
            format!(
                "{} ({}) speaks SMBus only; this transaction at {address:#04x} needs a plain I2C \
                 adapter",
                self.name,
                self.path.display()
            ),
        )
    }

    /// The usual transaction shapes carried out with SMBus commands.
    fn emulate(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), DeviceError> {
        let dev = &mut self.dev;
        let r = match ops {
            [Operation::Write(w)] => match w.len() {
                0 => dev.smbus_write_quick(false),
                1 => dev.smbus_write_byte(w[0]),
                2 => dev.smbus_write_byte_data(w[0], w[1]),
                n if n <= SMBUS_BLOCK_MAX + 1 => dev.smbus_write_i2c_block_data(w[0], &w[1..]),
                _ => return Err(self.smbus_only(address)),
            },
            [Operation::Read(r)] if r.len() == 1 => dev.smbus_read_byte().map(|b| r[0] = b),
            [Operation::Write(w), Operation::Read(r)]
                if w.len() == 1 && r.len() <= SMBUS_BLOCK_MAX =>
            {
                if r.len() == 1 {
                    dev.smbus_read_byte_data(w[0]).map(|b| r[0] = b)
                } else {
                    let len = u8::try_from(r.len()).unwrap_or(0);
                    dev.smbus_read_i2c_block_data(w[0], len).and_then(|data| {
                        if data.len() == r.len() {
                            r.copy_from_slice(&data);
                            Ok(())
                        } else {
                            Err(LinuxI2CError::Errno(5))
                        }
                    })
                }
            }
            _ => return Err(self.smbus_only(address)),
        };
        r.map_err(|e| self.error(address, e))
    }
}

impl I2cTransport for LinuxI2c {
    fn name(&self) -> &str {
        &self.name
    }

    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), DeviceError> {
        self.select(address)?;
        if self.plain_i2c {
            let mut msgs: Vec<LinuxI2CMessage<'_>> = ops
                .iter_mut()
                .map(|op| match op {
                    Operation::Read(r) => LinuxI2CMessage::read(r),
                    Operation::Write(w) => LinuxI2CMessage::write(w),
                })
                .collect();
            match self.dev.transfer(&mut msgs) {
                Ok(_) => return Ok(()),
                Err(e) if errno_of(&e) == Some(EOPNOTSUPP) => {
                    tracing::info!(bus = %self.name, "adapter has no plain I2C; using SMBus commands");
                    self.plain_i2c = false;
                }
                Err(e) => return Err(self.error(address, e)),
            }
        }
        self.emulate(address, ops)
    }

    fn smbus(&mut self, address: u8, cmd: &SmbusCommand) -> Result<SmbusReply, DeviceError> {
        let block_len = match cmd {
            SmbusCommand::WriteBlockData(_, d) | SmbusCommand::WriteI2cBlock(_, d) => d.len(),
            SmbusCommand::ReadI2cBlock(_, n) => usize::from(*n),
            _ => 0,
        };
        if block_len > SMBUS_BLOCK_MAX {
            return Err(DeviceError::new(
                ErrorCode::Einval,
                format!("SMBus block of {block_len} bytes is longer than {SMBUS_BLOCK_MAX}"),
            ));
        }
        self.select(address)?;
        let dev = &mut self.dev;
        let r = match cmd {
            SmbusCommand::ReceiveByte => dev.smbus_read_byte().map(SmbusReply::Byte),
            SmbusCommand::SendByte(v) => dev.smbus_write_byte(*v).map(|()| SmbusReply::Done),
            SmbusCommand::ReadByteData(reg) => dev.smbus_read_byte_data(*reg).map(SmbusReply::Byte),
            SmbusCommand::WriteByteData(reg, v) => dev
                .smbus_write_byte_data(*reg, *v)
                .map(|()| SmbusReply::Done),
            SmbusCommand::ReadWordData(reg) => dev.smbus_read_word_data(*reg).map(SmbusReply::Word),
            SmbusCommand::WriteWordData(reg, v) => dev
                .smbus_write_word_data(*reg, *v)
                .map(|()| SmbusReply::Done),
            SmbusCommand::ReadBlockData(reg) => {
                dev.smbus_read_block_data(*reg).map(SmbusReply::Block)
            }
            SmbusCommand::WriteBlockData(reg, data) => dev
                .smbus_write_block_data(*reg, data)
                .map(|()| SmbusReply::Done),
            SmbusCommand::ReadI2cBlock(reg, len) => dev
                .smbus_read_i2c_block_data(*reg, *len)
                .map(SmbusReply::Block),
            SmbusCommand::WriteI2cBlock(reg, data) => dev
                .smbus_write_i2c_block_data(*reg, data)
                .map(|()| SmbusReply::Done),
        };
        r.map_err(|e| self.error(address, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_node_is_enoent_with_the_enable_hint() {
        let e = match LinuxI2c::open(Path::new("/dev/i2c-250")) {
            Ok(_) => panic!("/dev/i2c-250 should not exist here"),
            Err(e) => e,
        };
        assert_eq!(e.code, ErrorCode::Enoent);
        assert!(e.message.contains("/dev/i2c-250"), "{}", e.message);
        assert!(e.message.contains("dtparam=i2c_arm=on"), "{}", e.message);
    }

    #[test]
    fn not_an_i2c_node_is_an_error_not_a_panic() {
        // /dev/null opens but the I2C_SLAVE ioctl fails (ENOTTY): must come back as an error.
        assert!(LinuxI2c::open(Path::new("/dev/null")).is_err());
    }
}
