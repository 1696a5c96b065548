//! I2C buses: one worker thread owns each bus; cloneable [`I2cBus`] handles send it requests.
//!
//! Blocking ioctls never run on the caller's thread (in particular never on the JS thread): the
//! handle offers async methods (`read`, `write`, `write_read`, SMBus helpers) for the JS layer and
//! implements `embedded_hal::i2c::I2c` (request + wait) for sensor drivers running in
//! `spawn_blocking`. Because one thread owns the bus and runs one transaction at a time, several
//! devices share a bus safely. Backends implement the small [`I2cTransport`] trait: [`linux`] over
//! `/dev/i2c-N`, [`sim`] over simulated register-level devices.

#[cfg(target_os = "linux")]
pub mod linux;
pub mod sim;

use std::sync::{mpsc as std_mpsc, Arc};

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource, Operation, SevenBitAddress};
use tokio::sync::oneshot;

use crate::error::{DeviceError, ErrorCode};

/// The most data bytes an SMBus block command carries.
pub const SMBUS_BLOCK_MAX: usize = 32;

/// `raw` as a 7-bit device address, if it is one a device may use: 0x08..=0x77 (the rest are
/// reserved by the I2C specification). One rule for every config that names an address.
pub fn device_address(raw: i64) -> Option<u8> {
    u8::try_from(raw).ok().filter(|a| (0x08..=0x77).contains(a))
}

/// One phase of an I2C transaction with owned data, so it can cross to the bus thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum I2cOp {
    /// Read this many bytes.
    Read(usize),
    /// Write these bytes.
    Write(Vec<u8>),
}

/// An SMBus command (the register is the SMBus "command" byte). Words are little-endian on the
/// wire, as SMBus specifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmbusCommand {
    /// Read one byte without a register (SMBus receive byte).
    ReceiveByte,
    /// Write one byte without a register (SMBus send byte).
    SendByte(u8),
    /// Read a byte register.
    ReadByteData(u8),
    /// Write a byte register.
    WriteByteData(u8, u8),
    /// Read a word register.
    ReadWordData(u8),
    /// Write a word register.
    WriteWordData(u8, u16),
    /// SMBus block read: the device sends a count byte then that many bytes (max 32).
    ReadBlockData(u8),
    /// SMBus block write: count byte then the data (max 32).
    WriteBlockData(u8, Vec<u8>),
    /// I2C-style block read of a fixed length from a register (max 32).
    ReadI2cBlock(u8, u8),
    /// I2C-style block write to a register (max 32).
    WriteI2cBlock(u8, Vec<u8>),
}

/// What an SMBus command returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmbusReply {
    /// A write: nothing comes back.
    Done,
    /// A byte.
    Byte(u8),
    /// A word.
    Word(u16),
    /// A block.
    Block(Vec<u8>),
}

/// A bus backend, owned by its worker thread.
pub trait I2cTransport: Send + 'static {
    /// Bus name for messages, e.g. `i2c-1`.
    fn name(&self) -> &str;

    /// Run one transaction (a repeated-start sequence of reads and writes) at `address`.
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), DeviceError>;

    /// Run one SMBus command. The default builds it from plain I2C transactions; Linux overrides
    /// it with the kernel's SMBus ioctls so SMBus-only adapters (i2c-stub) work too.
    fn smbus(&mut self, address: u8, cmd: &SmbusCommand) -> Result<SmbusReply, DeviceError> {
        smbus_over_i2c(self, address, cmd)
    }
}

/// SMBus commands as plain I2C transactions (used by transports without native SMBus).
pub fn smbus_over_i2c<T: I2cTransport + ?Sized>(
    t: &mut T,
    address: u8,
    cmd: &SmbusCommand,
) -> Result<SmbusReply, DeviceError> {
    let too_long = |n: usize| {
        DeviceError::new(
            ErrorCode::Einval,
            format!("SMBus block of {n} bytes is longer than {SMBUS_BLOCK_MAX}"),
        )
    };
    match cmd {
        SmbusCommand::ReceiveByte => {
            let mut b = [0u8; 1];
            t.transaction(address, &mut [Operation::Read(&mut b)])?;
            Ok(SmbusReply::Byte(b[0]))
        }
        SmbusCommand::SendByte(v) => {
            t.transaction(address, &mut [Operation::Write(&[*v])])?;
            Ok(SmbusReply::Done)
        }
        SmbusCommand::ReadByteData(reg) => {
            let mut b = [0u8; 1];
            t.transaction(
                address,
                &mut [Operation::Write(&[*reg]), Operation::Read(&mut b)],
            )?;
            Ok(SmbusReply::Byte(b[0]))
        }
        SmbusCommand::WriteByteData(reg, v) => {
            t.transaction(address, &mut [Operation::Write(&[*reg, *v])])?;
            Ok(SmbusReply::Done)
        }
        SmbusCommand::ReadWordData(reg) => {
            let mut b = [0u8; 2];
            t.transaction(
                address,
                &mut [Operation::Write(&[*reg]), Operation::Read(&mut b)],
            )?;
            Ok(SmbusReply::Word(u16::from_le_bytes(b)))
        }
        SmbusCommand::WriteWordData(reg, v) => {
            let [lo, hi] = v.to_le_bytes();
            t.transaction(address, &mut [Operation::Write(&[*reg, lo, hi])])?;
            Ok(SmbusReply::Done)
        }
        SmbusCommand::ReadBlockData(reg) => {
            // The count byte and the data come in one read phase; read the maximum and cut.
            let mut b = [0u8; SMBUS_BLOCK_MAX + 1];
            t.transaction(
                address,
                &mut [Operation::Write(&[*reg]), Operation::Read(&mut b)],
            )?;
            let n = usize::from(b[0]);
            if n > SMBUS_BLOCK_MAX {
                return Err(DeviceError::new(
                    ErrorCode::Ebadmsg,
                    format!(
                        "{} address {address:#04x}: SMBus block count {n} is over {SMBUS_BLOCK_MAX}",
                        t.name()
                    ),
                ));
            }
            Ok(SmbusReply::Block(b[1..=n].to_vec()))
        }
        SmbusCommand::WriteBlockData(reg, data) => {
            let n = u8::try_from(data.len())
                .ok()
                .filter(|n| usize::from(*n) <= SMBUS_BLOCK_MAX)
                .ok_or_else(|| too_long(data.len()))?;
            let mut w = Vec::with_capacity(data.len() + 2);
            w.extend_from_slice(&[*reg, n]);
            w.extend_from_slice(data);
            t.transaction(address, &mut [Operation::Write(&w)])?;
            Ok(SmbusReply::Done)
        }
        SmbusCommand::ReadI2cBlock(reg, len) => {
            let len = usize::from(*len);
            if len > SMBUS_BLOCK_MAX {
                return Err(too_long(len));
            }
            let mut b = vec![0u8; len];
            t.transaction(
                address,
                &mut [Operation::Write(&[*reg]), Operation::Read(&mut b)],
            )?;
            Ok(SmbusReply::Block(b))
        }
        SmbusCommand::WriteI2cBlock(reg, data) => {
            if data.len() > SMBUS_BLOCK_MAX {
                return Err(too_long(data.len()));
            }
            let mut w = Vec::with_capacity(data.len() + 1);
            w.push(*reg);
            w.extend_from_slice(data);
            t.transaction(address, &mut [Operation::Write(&w)])?;
            Ok(SmbusReply::Done)
        }
    }
}

/// The error a NACK becomes: ENXIO naming the bus and address.
pub fn nack_error(bus: &str, address: u8) -> DeviceError {
    DeviceError::new(
        ErrorCode::Enxio,
        format!(
            "{bus}: no ACK from address {address:#04x} (is the device connected and powered, and is \
             the address right?)"
        ),
    )
}

type Reply<T> = oneshot::Sender<Result<T, DeviceError>>;
type Pending<T> = oneshot::Receiver<Result<T, DeviceError>>;

enum Job {
    Transaction {
        address: u8,
        ops: Vec<I2cOp>,
        reply: Reply<Vec<Vec<u8>>>,
    },
    Smbus {
        address: u8,
        cmd: SmbusCommand,
        reply: Reply<SmbusReply>,
    },
}

fn run_transaction(
    t: &mut dyn I2cTransport,
    address: u8,
    ops: Vec<I2cOp>,
) -> Result<Vec<Vec<u8>>, DeviceError> {
    let mut bufs: Vec<Vec<u8>> = ops
        .iter()
        .map(|op| match op {
            I2cOp::Read(n) => vec![0u8; *n],
            I2cOp::Write(_) => Vec::new(),
        })
        .collect();
    {
        let mut hal_ops: Vec<Operation<'_>> = ops
            .iter()
            .zip(bufs.iter_mut())
            .map(|(op, buf)| match op {
                I2cOp::Read(_) => Operation::Read(buf.as_mut_slice()),
                I2cOp::Write(w) => Operation::Write(w.as_slice()),
            })
            .collect();
        t.transaction(address, &mut hal_ops)?;
    }
    Ok(ops
        .iter()
        .zip(bufs)
        .filter(|(op, _)| matches!(op, I2cOp::Read(_)))
        .map(|(_, b)| b)
        .collect())
}

/// A cloneable handle on one I2C bus; the bus itself lives on a worker thread that ends when the
/// last handle is dropped.
#[derive(Clone)]
pub struct I2cBus {
    name: Arc<str>,
    jobs: std_mpsc::Sender<Job>,
}

impl std::fmt::Debug for I2cBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I2cBus").field("name", &self.name).finish()
    }
}

impl I2cBus {
    /// Start a worker thread that owns `transport`.
    pub fn spawn(transport: Box<dyn I2cTransport>) -> Result<Self, DeviceError> {
        let name: Arc<str> = Arc::from(transport.name());
        let (tx, rx) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(format!("{name}-worker"))
            .spawn(move || {
                let mut transport = transport;
                while let Ok(job) = rx.recv() {
                    match job {
                        Job::Transaction {
                            address,
                            ops,
                            reply,
                        } => {
                            let _ = reply.send(run_transaction(transport.as_mut(), address, ops));
                        }
                        Job::Smbus {
                            address,
                            cmd,
                            reply,
                        } => {
                            let _ = reply.send(transport.smbus(address, &cmd));
                        }
                    }
                }
            })
            .map_err(|e| DeviceError::from_io(format!("{name}: starting the bus worker"), &e))?;
        Ok(Self { name, jobs: tx })
    }

    /// Open `/dev/i2c-{bus}` on Linux.
    #[cfg(target_os = "linux")]
    pub fn open_linux(bus: u32) -> Result<Self, DeviceError> {
        Self::open_linux_path(format!("/dev/i2c-{bus}"))
    }

    /// Open an I2C device node by path on Linux.
    #[cfg(target_os = "linux")]
    pub fn open_linux_path(path: impl AsRef<std::path::Path>) -> Result<Self, DeviceError> {
        let t = linux::LinuxI2c::open(path.as_ref())?;
        Self::spawn(Box::new(t))
    }

    /// Bus name (`i2c-1`, `sim-i2c-1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn check_address(&self, address: u8) -> Result<(), DeviceError> {
        if address > 0x7f {
            return Err(DeviceError::new(
                ErrorCode::Einval,
                format!(
                    "{}: address {address:#04x} is not a 7-bit I2C address",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    fn stopped(&self) -> DeviceError {
        DeviceError::new(
            ErrorCode::Enodev,
            format!("{}: the bus worker has stopped", self.name),
        )
    }

    fn submit_transaction(
        &self,
        address: u8,
        ops: Vec<I2cOp>,
    ) -> Result<Pending<Vec<Vec<u8>>>, DeviceError> {
        self.check_address(address)?;
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Transaction {
                address,
                ops,
                reply,
            })
            .map_err(|_| self.stopped())?;
        Ok(rx)
    }

    fn submit_smbus(
        &self,
        address: u8,
        cmd: SmbusCommand,
    ) -> Result<Pending<SmbusReply>, DeviceError> {
        self.check_address(address)?;
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Smbus {
                address,
                cmd,
                reply,
            })
            .map_err(|_| self.stopped())?;
        Ok(rx)
    }

    /// Run a transaction; returns the data of each `Read` phase, in order.
    pub async fn transaction(
        &self,
        address: u8,
        ops: Vec<I2cOp>,
    ) -> Result<Vec<Vec<u8>>, DeviceError> {
        let rx = self.submit_transaction(address, ops)?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Read `len` bytes.
    pub async fn read(&self, address: u8, len: usize) -> Result<Vec<u8>, DeviceError> {
        let mut r = self.transaction(address, vec![I2cOp::Read(len)]).await?;
        Ok(r.pop().unwrap_or_default())
    }

    /// Write bytes.
    pub async fn write(&self, address: u8, data: &[u8]) -> Result<(), DeviceError> {
        self.transaction(address, vec![I2cOp::Write(data.to_vec())])
            .await
            .map(drop)
    }

    /// Write then read with a repeated start (the usual register read).
    pub async fn write_read(
        &self,
        address: u8,
        data: &[u8],
        len: usize,
    ) -> Result<Vec<u8>, DeviceError> {
        let mut r = self
            .transaction(address, vec![I2cOp::Write(data.to_vec()), I2cOp::Read(len)])
            .await?;
        Ok(r.pop().unwrap_or_default())
    }

    /// Run one SMBus command.
    pub async fn smbus(&self, address: u8, cmd: SmbusCommand) -> Result<SmbusReply, DeviceError> {
        let rx = self.submit_smbus(address, cmd)?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// SMBus receive byte.
    pub async fn smbus_receive_byte(&self, address: u8) -> Result<u8, DeviceError> {
        byte(self.smbus(address, SmbusCommand::ReceiveByte).await?)
    }

    /// SMBus send byte.
    pub async fn smbus_send_byte(&self, address: u8, value: u8) -> Result<(), DeviceError> {
        self.smbus(address, SmbusCommand::SendByte(value))
            .await
            .map(drop)
    }

    /// SMBus read byte data (ECMA-419 `readUint8`).
    pub async fn read_byte_data(&self, address: u8, reg: u8) -> Result<u8, DeviceError> {
        byte(self.smbus(address, SmbusCommand::ReadByteData(reg)).await?)
    }

    /// SMBus write byte data (ECMA-419 `writeUint8`).
    pub async fn write_byte_data(
        &self,
        address: u8,
        reg: u8,
        value: u8,
    ) -> Result<(), DeviceError> {
        self.smbus(address, SmbusCommand::WriteByteData(reg, value))
            .await
            .map(drop)
    }

    /// SMBus read word data, little-endian (ECMA-419 `readUint16`; swap for big-endian).
    pub async fn read_word_data(&self, address: u8, reg: u8) -> Result<u16, DeviceError> {
        word(self.smbus(address, SmbusCommand::ReadWordData(reg)).await?)
    }

    /// SMBus write word data, little-endian (ECMA-419 `writeUint16`).
    pub async fn write_word_data(
        &self,
        address: u8,
        reg: u8,
        value: u16,
    ) -> Result<(), DeviceError> {
        self.smbus(address, SmbusCommand::WriteWordData(reg, value))
            .await
            .map(drop)
    }

    /// SMBus block read (count byte from the device).
    pub async fn read_block_data(&self, address: u8, reg: u8) -> Result<Vec<u8>, DeviceError> {
        block(
            self.smbus(address, SmbusCommand::ReadBlockData(reg))
                .await?,
        )
    }

    /// SMBus block write (count byte sent first).
    pub async fn write_block_data(
        &self,
        address: u8,
        reg: u8,
        data: &[u8],
    ) -> Result<(), DeviceError> {
        self.smbus(address, SmbusCommand::WriteBlockData(reg, data.to_vec()))
            .await
            .map(drop)
    }

    /// I2C block read of `len` (≤ 32) bytes from a register (ECMA-419 `readBuffer`).
    pub async fn read_i2c_block(
        &self,
        address: u8,
        reg: u8,
        len: u8,
    ) -> Result<Vec<u8>, DeviceError> {
        block(
            self.smbus(address, SmbusCommand::ReadI2cBlock(reg, len))
                .await?,
        )
    }

    /// I2C block write to a register (ECMA-419 `writeBuffer`).
    pub async fn write_i2c_block(
        &self,
        address: u8,
        reg: u8,
        data: &[u8],
    ) -> Result<(), DeviceError> {
        self.smbus(address, SmbusCommand::WriteI2cBlock(reg, data.to_vec()))
            .await
            .map(drop)
    }

    /// Blocking SMBus command for synchronous callers (sensor drivers in `spawn_blocking`).
    pub fn smbus_blocking(
        &self,
        address: u8,
        cmd: SmbusCommand,
    ) -> Result<SmbusReply, DeviceError> {
        let rx = self.submit_smbus(address, cmd)?;
        futures::executor::block_on(rx).map_err(|_| self.stopped())?
    }
}

fn unexpected(reply: &SmbusReply) -> DeviceError {
    DeviceError::new(
        ErrorCode::Eio,
        format!("SMBus transport returned an unexpected reply {reply:?}"),
    )
}

fn byte(r: SmbusReply) -> Result<u8, DeviceError> {
    match r {
        SmbusReply::Byte(b) => Ok(b),
        other => Err(unexpected(&other)),
    }
}

fn word(r: SmbusReply) -> Result<u16, DeviceError> {
    match r {
        SmbusReply::Word(w) => Ok(w),
        other => Err(unexpected(&other)),
    }
}

fn block(r: SmbusReply) -> Result<Vec<u8>, DeviceError> {
    match r {
        SmbusReply::Block(b) => Ok(b),
        other => Err(unexpected(&other)),
    }
}

impl embedded_hal::i2c::Error for DeviceError {
    fn kind(&self) -> ErrorKind {
        match self.code {
            ErrorCode::Enxio => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
            ErrorCode::Eio => ErrorKind::Bus,
            _ => ErrorKind::Other,
        }
    }
}

impl embedded_hal::i2c::ErrorType for I2cBus {
    type Error = DeviceError;
}

/// Blocking access for sensor drivers: the transaction runs on the bus thread while this thread
/// waits. Call it from a blocking context (`spawn_blocking`, a plain thread), not from async code.
impl embedded_hal::i2c::I2c<SevenBitAddress> for I2cBus {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), DeviceError> {
        let ops: Vec<I2cOp> = operations
            .iter()
            .map(|op| match op {
                Operation::Read(buf) => I2cOp::Read(buf.len()),
                Operation::Write(data) => I2cOp::Write(data.to_vec()),
            })
            .collect();
        let rx = self.submit_transaction(address, ops)?;
        let reads = futures::executor::block_on(rx).map_err(|_| self.stopped())??;
        let mut reads = reads.into_iter();
        for op in operations.iter_mut() {
            if let Operation::Read(buf) = op {
                let data = reads.next().unwrap_or_default();
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::sim::SimI2cBus;
    use super::*;
    use crate::sim::{SimI2cDevice, SimNack};
    use embedded_hal::i2c::I2c;

    #[test]
    fn device_addresses_exclude_the_reserved_ones() {
        assert_eq!(device_address(0x08), Some(0x08));
        assert_eq!(device_address(0x77), Some(0x77));
        for raw in [-1, 0, 0x07, 0x78, 0x7f, 0x80, 0x176] {
            assert_eq!(device_address(raw), None, "{raw:#x}");
        }
    }

    /// A 256-byte register file with an auto-incrementing pointer, like most sensors.
    struct Regs {
        mem: [u8; 256],
        ptr: u8,
    }

    impl SimI2cDevice for Regs {
        fn write(&mut self, data: &[u8]) -> Result<(), SimNack> {
            if let Some((reg, rest)) = data.split_first() {
                self.ptr = *reg;
                for b in rest {
                    self.mem[usize::from(self.ptr)] = *b;
                    self.ptr = self.ptr.wrapping_add(1);
                }
            }
            Ok(())
        }

        fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack> {
            for b in buf {
                *b = self.mem[usize::from(self.ptr)];
                self.ptr = self.ptr.wrapping_add(1);
            }
            Ok(())
        }
    }

    fn bus() -> I2cBus {
        let mut sim = SimI2cBus::new("sim-i2c-1");
        let mut regs = Regs {
            mem: [0; 256],
            ptr: 0,
        };
        regs.mem[0xd0] = 0x60; // a BME280 chip id
        regs.mem[0x10] = 3; // an SMBus block: count 3
        regs.mem[0x11..0x14].copy_from_slice(&[7, 8, 9]);
        sim.attach(0x76, Box::new(regs)).expect("attach");
        I2cBus::spawn(Box::new(sim)).expect("spawn")
    }

    #[tokio::test]
    async fn async_reads_writes_and_smbus_helpers() {
        let bus = bus();
        assert_eq!(
            bus.write_read(0x76, &[0xd0], 1).await.expect("read id"),
            vec![0x60]
        );
        bus.write(0x76, &[0x20, 1, 2, 3]).await.expect("write");
        assert_eq!(bus.read(0x76, 2).await.expect("read on"), vec![0, 0]);
        assert_eq!(bus.read_byte_data(0x76, 0x21).await.expect("byte"), 2);
        bus.write_word_data(0x76, 0x30, 0xbeef).await.expect("word");
        assert_eq!(bus.read_word_data(0x76, 0x30).await.expect("word"), 0xbeef);
        assert_eq!(
            bus.read_i2c_block(0x76, 0x30, 2).await.expect("blk"),
            vec![0xef, 0xbe]
        );
        assert_eq!(
            bus.read_block_data(0x76, 0x10).await.expect("smbus block"),
            vec![7, 8, 9]
        );
        bus.write_block_data(0x76, 0x40, &[5, 6])
            .await
            .expect("block write");
        assert_eq!(
            bus.read_i2c_block(0x76, 0x40, 3).await.expect("blk"),
            vec![2, 5, 6]
        );
    }

    #[tokio::test]
    async fn empty_address_is_enxio_naming_bus_and_address() {
        let bus = bus();
        let e = bus.read(0x50, 1).await.expect_err("nobody at 0x50");
        assert_eq!(e.code, ErrorCode::Enxio);
        assert!(
            e.message.contains("sim-i2c-1") && e.message.contains("0x50"),
            "{}",
            e.message
        );
        let e = bus.read(0x80, 1).await.expect_err("not 7-bit");
        assert_eq!(e.code, ErrorCode::Einval);
        let e = bus
            .write_i2c_block(0x76, 0, &[0; 33])
            .await
            .expect_err("too long");
        assert_eq!(e.code, ErrorCode::Einval);
    }

    #[test]
    fn embedded_hal_from_several_threads_shares_one_bus() {
        let bus = bus();
        let handles: Vec<_> = (0..4u8)
            .map(|i| {
                let mut b = bus.clone();
                std::thread::spawn(move || {
                    let reg = 0x80 + i;
                    for v in 0..50u8 {
                        I2c::write(&mut b, 0x76, &[reg, v]).map_err(|e| e.message)?;
                        let mut out = [0u8; 1];
                        I2c::write_read(&mut b, 0x76, &[reg], &mut out).map_err(|e| e.message)?;
                        if out[0] != v {
                            return Err(format!("reg {reg:#x}: wrote {v}, read {}", out[0]));
                        }
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        for h in handles {
            let r = h.join().expect("thread");
            assert_eq!(r, Ok(()));
        }
        let mut b = bus.clone();
        let e = I2c::read(&mut b, 0x11, &mut [0u8; 1]).expect_err("nack");
        assert_eq!(
            embedded_hal::i2c::Error::kind(&e),
            ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
        );
    }
}
