//! `embedded:io/i2c` and `embedded:io/smbus` natives: one bus transaction per call, either
//! synchronous (the JS thread waits for the bus worker) or started on the I/O runtime and
//! completed as an event (`done`) that settles the JS promise.

use std::rc::Rc;

use ganglion_devices::i2c::{I2cBus, I2cOp, SmbusCommand, SmbusReply};
use ganglion_devices::DeviceError;
use rquickjs::function::Opt;
use rquickjs::{ArrayBuffer, Ctx, Function, IntoJs, Object, Value};

use super::{bytes_of, closed, next_handle_id, throw, Io, Opts};
use crate::js::errors::JsError;

/// Largest single read or write, in bytes (Linux i2c-dev messages carry a 16-bit length; many
/// adapters take far less, and they say so with an error of their own).
pub const MAX_TRANSFER: u32 = 8192;

/// Operation codes shared with `io_i2c.js` / `io_smbus.js`.
const OP_READ: u32 = 0;
const OP_WRITE: u32 = 1;
const OP_WRITE_READ: u32 = 2;
const OP_READ_U8: u32 = 3;
const OP_WRITE_U8: u32 = 4;
const OP_READ_U16: u32 = 5;
const OP_WRITE_U16: u32 = 6;
const OP_RECEIVE_BYTE: u32 = 7;
const OP_SEND_BYTE: u32 = 8;

/// An open I2C device: a shared bus handle and the peripheral's address.
pub(super) struct Device {
    bus: I2cBus,
    address: u8,
}

/// One bus operation, with owned data so it can run on another thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    /// Read this many bytes.
    Read(usize),
    /// Write these bytes.
    Write(Vec<u8>),
    /// Write, repeated start, read this many bytes.
    WriteRead(Vec<u8>, usize),
    /// SMBus read byte data.
    ReadU8(u8),
    /// SMBus write byte data.
    WriteU8(u8, u8),
    /// SMBus read word data (little-endian on the wire).
    ReadU16(u8),
    /// SMBus write word data (little-endian on the wire).
    WriteU16(u8, u16),
    /// SMBus receive byte.
    ReceiveByte,
    /// SMBus send byte.
    SendByte(u8),
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reply {
    /// A write: `undefined`.
    Nothing,
    /// Read data: an `ArrayBuffer`.
    Bytes(Vec<u8>),
    /// A byte or word: a number.
    Number(u32),
}

impl<'js> IntoJs<'js> for Reply {
    fn into_js(self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        match self {
            Reply::Nothing => Ok(Value::new_undefined(ctx.clone())),
            Reply::Bytes(b) => ArrayBuffer::new(ctx.clone(), b).map(|a| a.into_value()),
            Reply::Number(n) => n.into_js(ctx),
        }
    }
}

fn int_arg(what: &str, v: &Value<'_>, max: u32) -> Result<u32, JsError> {
    let n = v
        .as_number()
        .ok_or_else(|| JsError::Type(format!("{what} must be a number, not {}", v.type_name())))?;
    if !(n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= f64::from(max)) {
        return Err(JsError::Range(format!(
            "{what} must be an integer from 0 to {max}, not {n}"
        )));
    }
    // Integral and in range: exact.
    Ok(n as u32)
}

fn byte_arg(what: &str, v: &Value<'_>) -> Result<u8, JsError> {
    int_arg(what, v, 255).map(|n| n as u8)
}

fn data_arg(what: &str, v: &Value<'_>) -> Result<Vec<u8>, JsError> {
    let data = bytes_of(what, v)?;
    if data.len() > MAX_TRANSFER as usize {
        return Err(JsError::Range(format!(
            "{what} is {} bytes; one transfer carries at most {MAX_TRANSFER}",
            data.len()
        )));
    }
    Ok(data)
}

/// Decode an operation code and its arguments (checked: RangeError/TypeError naming them).
pub(super) fn parse_op(op: u32, a: &Value<'_>, b: &Value<'_>) -> Result<Op, JsError> {
    Ok(match op {
        OP_READ => Op::Read(int_arg("I2C read: byteLength", a, MAX_TRANSFER)? as usize),
        OP_WRITE => Op::Write(data_arg("I2C write: buffer", a)?),
        OP_WRITE_READ => Op::WriteRead(
            data_arg("I2C writeRead: buffer", a)?,
            int_arg("I2C writeRead: byteLength", b, MAX_TRANSFER)? as usize,
        ),
        OP_READ_U8 => Op::ReadU8(byte_arg("SMBus readUint8: register", a)?),
        OP_WRITE_U8 => Op::WriteU8(
            byte_arg("SMBus writeUint8: register", a)?,
            byte_arg("SMBus writeUint8: value", b)?,
        ),
        OP_READ_U16 => Op::ReadU16(byte_arg("SMBus readUint16: register", a)?),
        OP_WRITE_U16 => Op::WriteU16(
            byte_arg("SMBus writeUint16: register", a)?,
            int_arg("SMBus writeUint16: value", b, 0xffff)? as u16,
        ),
        OP_RECEIVE_BYTE => Op::ReceiveByte,
        OP_SEND_BYTE => Op::SendByte(byte_arg("SMBus sendByte: command", a)?),
        other => return Err(JsError::Range(format!("unknown I2C operation {other}"))),
    })
}

fn unexpected(reply: &SmbusReply) -> DeviceError {
    DeviceError::new(
        ganglion_devices::ErrorCode::Eio,
        format!("unexpected SMBus reply {reply:?}"),
    )
}

/// Run `op` on the bus (the bus worker thread does the I/O; this only waits for it).
pub(super) async fn run(bus: &I2cBus, address: u8, op: Op) -> Result<Reply, DeviceError> {
    let smbus = |cmd| bus.smbus(address, cmd);
    Ok(match op {
        Op::Read(n) => Reply::Bytes(bus.read(address, n).await?),
        Op::Write(data) => {
            bus.transaction(address, vec![I2cOp::Write(data)]).await?;
            Reply::Nothing
        }
        Op::WriteRead(data, n) => Reply::Bytes(
            bus.transaction(address, vec![I2cOp::Write(data), I2cOp::Read(n)])
                .await?
                .pop()
                .unwrap_or_default(),
        ),
        Op::ReadU8(reg) => match smbus(SmbusCommand::ReadByteData(reg)).await? {
            SmbusReply::Byte(b) => Reply::Number(u32::from(b)),
            other => return Err(unexpected(&other)),
        },
        Op::ReadU16(reg) => match smbus(SmbusCommand::ReadWordData(reg)).await? {
            SmbusReply::Word(w) => Reply::Number(u32::from(w)),
            other => return Err(unexpected(&other)),
        },
        Op::ReceiveByte => match smbus(SmbusCommand::ReceiveByte).await? {
            SmbusReply::Byte(b) => Reply::Number(u32::from(b)),
            other => return Err(unexpected(&other)),
        },
        Op::WriteU8(reg, v) => {
            smbus(SmbusCommand::WriteByteData(reg, v)).await?;
            Reply::Nothing
        }
        Op::WriteU16(reg, v) => {
            smbus(SmbusCommand::WriteWordData(reg, v)).await?;
            Reply::Nothing
        }
        Op::SendByte(v) => {
            smbus(SmbusCommand::SendByte(v)).await?;
            Reply::Nothing
        }
    })
}

pub(super) fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    io: &Rc<Io>,
) -> rquickjs::Result<()> {
    let io2 = io.clone();
    native.set(
        "ioI2cOpen",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, options: Object<'js>| -> rquickjs::Result<Object<'js>> {
                let (id, bus) = open(&io2, options).map_err(|e| throw(&ctx, e))?;
                let o = Object::new(ctx)?;
                o.set("id", id)?;
                o.set("bus", bus)?;
                Ok(o)
            },
        )?,
    )?;
    let io2 = io.clone();
    native.set(
        "ioI2cSync",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  id: u32,
                  op: u32,
                  a: Opt<Value<'js>>,
                  b: Opt<Value<'js>>|
                  -> rquickjs::Result<Value<'js>> {
                let undef = Value::new_undefined(ctx.clone());
                let (a, b) = (a.0.unwrap_or(undef.clone()), b.0.unwrap_or(undef));
                let (bus, address) = target(&io2, id).map_err(|e| throw(&ctx, e))?;
                let op = parse_op(op, &a, &b).map_err(|e| throw(&ctx, e))?;
                // The bus worker thread does the I/O; the JS thread waits for this one
                // transaction (documented: use the Async forms on slow buses).
                let reply = futures::executor::block_on(run(&bus, address, op))
                    .map_err(|e| throw(&ctx, JsError::Device(e)))?;
                reply.into_js(&ctx)
            },
        )?,
    )?;
    let io2 = io.clone();
    native.set(
        "ioI2cStart",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  id: u32,
                  req: f64,
                  op: u32,
                  a: Opt<Value<'js>>,
                  b: Opt<Value<'js>>|
                  -> rquickjs::Result<()> {
                let undef = Value::new_undefined(ctx.clone());
                let (a, b) = (a.0.unwrap_or(undef.clone()), b.0.unwrap_or(undef));
                let (bus, address) = target(&io2, id).map_err(|e| throw(&ctx, e))?;
                let op = parse_op(op, &a, &b).map_err(|e| throw(&ctx, e))?;
                let outbox = io2.outbox.clone();
                io2.shared.begin_op();
                io2.services.tokio.spawn(async move {
                    let result = run(&bus, address, op).await;
                    outbox
                        .send(move |h| {
                            h.shared().end_op();
                            let o = Object::new(h.ctx.clone())?;
                            o.set("id", req)?;
                            match result {
                                Ok(v) => o.set("value", v)?,
                                Err(e) => o.set("error", JsError::Device(e).to_value(&h.ctx)?)?,
                            }
                            h.deliver(id, "done", o)
                        })
                        .await;
                });
                Ok(())
            },
        )?,
    )?;
    let io2 = io.clone();
    native.set(
        "ioI2cClose",
        Function::new(ctx.clone(), move |id: u32| {
            io2.i2c.borrow_mut().remove(&id);
        })?,
    )?;
    Ok(())
}

fn target(io: &Io, id: u32) -> Result<(I2cBus, u8), JsError> {
    io.i2c
        .borrow()
        .get(&id)
        .map(|d| (d.bus.clone(), d.address))
        .ok_or_else(|| closed("I2C"))
}

/// Parse `{ address, bus | port, hz }`, open (or share) the bus; returns the handle id and the
/// bus name.
fn open(io: &Io, options: Object<'_>) -> Result<(u32, String), JsError> {
    let o = Opts::new("I2C", options);
    let address = o.uint("address", 0, 0x7f)?.ok_or_else(|| {
        JsError::Type("I2C: option 'address' (the 7-bit device address) is required".into())
    })?;
    let bus = o.uint("bus", 0, 1023)?;
    let port = o.uint("port", 0, 1023)?;
    if let (Some(b), Some(p)) = (bus, port) {
        if b != p {
            return Err(JsError::Type(format!(
                "I2C: options 'bus' ({b}) and 'port' ({p}) disagree; give one of them"
            )));
        }
    }
    if let Some(hz) = o.number("hz")? {
        if hz <= 0.0 {
            return Err(JsError::Range(format!(
                "I2C: option 'hz' must be a positive number, not {hz}"
            )));
        }
    }
    let bus = io.devices()?.i2c(bus.or(port))?;
    let name = bus.name().to_owned();
    let id = next_handle_id();
    io.i2c.borrow_mut().insert(
        id,
        Device {
            bus,
            // Checked above: 0..=0x7f.
            address: address as u8,
        },
    );
    Ok((id, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

    fn with_ctx(f: impl FnOnce(&Ctx<'_>)) {
        let rt = Runtime::new().expect("runtime");
        let ctx = Context::full(&rt).expect("context");
        ctx.with(|ctx| f(&ctx));
    }

    #[test]
    fn operations_decode_with_checked_arguments() {
        with_ctx(|ctx| {
            let n = |x: f64| Value::new_number(ctx.clone(), x);
            let u = Value::new_undefined(ctx.clone());
            let buf: Value<'_> = ctx.eval("new Uint8Array([0xd0])").expect("buf");
            assert_eq!(parse_op(OP_READ, &n(6.0), &u).ok(), Some(Op::Read(6)));
            assert_eq!(
                parse_op(OP_WRITE_READ, &buf, &n(1.0)).ok(),
                Some(Op::WriteRead(vec![0xd0], 1))
            );
            assert_eq!(
                parse_op(OP_WRITE_U16, &n(16.0), &n(48879.0)).ok(),
                Some(Op::WriteU16(0x10, 0xbeef))
            );
            assert!(matches!(
                parse_op(OP_READ_U8, &n(256.0), &u),
                Err(JsError::Range(m)) if m.contains("register")
            ));
            assert!(matches!(
                parse_op(OP_READ, &n(1.5), &u),
                Err(JsError::Range(_))
            ));
            assert!(matches!(
                parse_op(OP_WRITE, &n(1.0), &u),
                Err(JsError::Type(_))
            ));
            let s: Value<'_> = ctx.eval("'AB'").expect("string");
            assert_eq!(
                parse_op(OP_WRITE, &s, &u).ok(),
                Some(Op::Write(b"AB".to_vec()))
            );
        });
    }
}
