//! `embedded:io/serial` natives: open a port with framing, forward frames and port events to the
//! JS thread, queue writes to a writer task that keeps their order.

use std::rc::Rc;
use std::time::Duration;

use ganglion_devices::serial::{
    DataBits, FlowControl, Framing, LineEnding, Parity, SerialConfig, SerialEvent, SerialPort,
    StopBits, DEFAULT_MAX_FRAME,
};
use rquickjs::{Array, ArrayBuffer, Ctx, Function, IntoJs, Object, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{bytes_of, closed, next_handle_id, throw, Io, Opts, Outbox};
use crate::js::errors::JsError;

/// Writes queued per port before `write()` throws EAGAIN (a device that stopped reading).
pub const WRITE_QUEUE: usize = 256;
/// Longest frame a script may ask for.
pub const MAX_FRAME_LIMIT: u32 = 1 << 20;
/// Frames delivered to JS per event (one context entry for a burst of lines).
const FRAME_BATCH: usize = 256;
/// How long one write may wait for the device before it is reported as ETIMEDOUT.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Baud rate for a port given by path whose board entry names none.
const DEFAULT_BAUD: u32 = 9600;

/// An open port: the writer's queue and the task forwarding port events.
pub(super) struct Port {
    writes: mpsc::Sender<Vec<u8>>,
    reader: JoinHandle<()>,
}

impl Drop for Port {
    fn drop(&mut self) {
        // The writer task sees its queue close, finishes what was queued and closes the port.
        self.reader.abort();
    }
}

/// Port settings parsed from the options (no I/O).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SerialRequest {
    /// Board port name or device path.
    pub port: String,
    /// Baud rate, if given.
    pub baud: Option<u32>,
    /// Everything but path and baud, applied to a [`SerialConfig`].
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits.
    pub stop_bits: StopBits,
    /// Flow control.
    pub flow_control: FlowControl,
    /// Framing.
    pub framing: Framing,
    /// Maximum frame size.
    pub max_frame: usize,
    /// Deliver frames as strings (UTF-8, invalid bytes replaced) instead of ArrayBuffers.
    pub as_string: bool,
}

fn parse_framing(o: &Opts<'_>) -> Result<Framing, JsError> {
    let Some(v) = o.value("framing")? else {
        return Ok(Framing::Raw);
    };
    if let Some(s) = v.as_string() {
        let s = s
            .to_string()
            .map_err(|e| JsError::Type(format!("Serial: option 'framing': {e}")))?;
        return match s.as_str() {
            "raw" => Ok(Framing::Raw),
            "lines" => Ok(Framing::Lines(LineEnding::Lf)),
            "crlf" => Ok(Framing::Lines(LineEnding::CrLf)),
            other => Err(JsError::Range(format!(
                "Serial: option 'framing' must be \"raw\", \"lines\", \"crlf\", {{ delimiter }} \
                 or {{ length }}, not \"{other}\""
            ))),
        };
    }
    let Some(obj) = v.as_object().cloned() else {
        return Err(o.wrong_type("framing", "a string or an object", &v));
    };
    let f = Opts::new("Serial framing", obj);
    match (f.value("delimiter")?, f.uint("length", 1, MAX_FRAME_LIMIT)?) {
        (Some(d), None) => {
            let d = bytes_of("Serial: option 'framing.delimiter'", &d)?;
            if d.is_empty() || d.len() > 16 {
                return Err(JsError::Range(format!(
                    "Serial: option 'framing.delimiter' must be 1 to 16 bytes, not {}",
                    d.len()
                )));
            }
            Ok(Framing::Delimiter(d))
        }
        (None, Some(n)) => Ok(Framing::FixedLength(n as usize)),
        _ => Err(JsError::Type(
            "Serial: option 'framing' as an object needs exactly one of 'delimiter' or 'length'"
                .into(),
        )),
    }
}

/// Parse `{ port, baud, dataBits, parity, stopBits, flowControl, framing, maxFrame, asString }`.
pub(super) fn parse_request(o: &Opts<'_>) -> Result<SerialRequest, JsError> {
    let port = o.string("port")?.ok_or_else(|| {
        JsError::Type(
            "Serial: option 'port' is required: a board port name (e.g. \"gps\") or a device path"
                .into(),
        )
    })?;
    if port.is_empty() {
        return Err(JsError::Range(
            "Serial: option 'port' must not be empty".into(),
        ));
    }
    let baud = o.uint("baud", 1, 4_000_000)?;
    let data_bits = match o.uint("dataBits", 5, 8)? {
        None | Some(8) => DataBits::Eight,
        Some(7) => DataBits::Seven,
        Some(6) => DataBits::Six,
        Some(_) => DataBits::Five,
    };
    let parity = o.choice(
        "parity",
        &[
            ("none", Parity::None),
            ("odd", Parity::Odd),
            ("even", Parity::Even),
        ],
        Parity::None,
    )?;
    let stop_bits = match o.uint("stopBits", 1, 2)? {
        None | Some(1) => StopBits::One,
        Some(_) => StopBits::Two,
    };
    let flow_control = o.choice(
        "flowControl",
        &[
            ("none", FlowControl::None),
            ("hardware", FlowControl::Hardware),
            ("software", FlowControl::Software),
        ],
        FlowControl::None,
    )?;
    let framing = parse_framing(o)?;
    let max_frame = o
        .uint("maxFrame", 1, MAX_FRAME_LIMIT)?
        .map_or(DEFAULT_MAX_FRAME, |n| n as usize);
    if let Framing::FixedLength(n) = framing {
        if n > max_frame {
            return Err(JsError::Range(format!(
                "Serial: option 'framing.length' ({n}) is larger than 'maxFrame' ({max_frame})"
            )));
        }
    }
    let as_string = o.flag("asString")?.unwrap_or(false);
    Ok(SerialRequest {
        port,
        baud,
        data_bits,
        parity,
        stop_bits,
        flow_control,
        framing,
        max_frame,
        as_string,
    })
}

pub(super) fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    io: &Rc<Io>,
) -> rquickjs::Result<()> {
    let io2 = io.clone();
    native.set(
        "ioSerialOpen",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, options: Object<'js>| -> rquickjs::Result<Object<'js>> {
                let (id, path, baud) = open(&io2, options).map_err(|e| throw(&ctx, e))?;
                let o = Object::new(ctx)?;
                o.set("id", id)?;
                o.set("path", path)?;
                o.set("baud", baud)?;
                Ok(o)
            },
        )?,
    )?;
    let io2 = io.clone();
    native.set(
        "ioSerialWrite",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, id: u32, data: Value<'js>| -> rquickjs::Result<()> {
                let table = io2.serial.borrow();
                let port = table
                    .get(&id)
                    .ok_or_else(|| throw(&ctx, closed("Serial")))?;
                let bytes = bytes_of("Serial write: data", &data).map_err(|e| throw(&ctx, e))?;
                port.writes.try_send(bytes).map_err(|e| {
                    let err = match e {
                        mpsc::error::TrySendError::Full(_) => JsError::Coded {
                            code: "EAGAIN".into(),
                            message: format!(
                                "Serial: {WRITE_QUEUE} writes are already waiting for the device; \
                                 try again later"
                            ),
                        },
                        mpsc::error::TrySendError::Closed(_) => closed("Serial"),
                    };
                    throw(&ctx, err)
                })
            },
        )?,
    )?;
    let io2 = io.clone();
    native.set(
        "ioSerialClose",
        Function::new(ctx.clone(), move |id: u32| {
            let removed = io2.serial.borrow_mut().remove(&id);
            if removed.is_some() {
                // The writer flushes what was queued, closes the port, then ends this op.
                io2.shared.begin_op();
                io2.shared.remove_handle();
            }
        })?,
    )?;
    Ok(())
}

fn open(io: &Io, options: Object<'_>) -> Result<(u32, String, u32), JsError> {
    let req = parse_request(&Opts::new("Serial", options))?;
    let devices = io.devices()?;
    let path = devices.serial_path(&req.port)?;
    let baud = req
        .baud
        .or_else(|| devices.board().serial_port(&req.port).and_then(|p| p.baud))
        .unwrap_or(DEFAULT_BAUD);
    let mut cfg = SerialConfig::new(path.clone(), baud)
        .with_framing(req.framing.clone())
        .with_max_frame(req.max_frame);
    cfg.data_bits = req.data_bits;
    cfg.parity = req.parity;
    cfg.stop_bits = req.stop_bits;
    cfg.flow_control = req.flow_control;
    let (port, events) = {
        let _rt = io.services.tokio.enter();
        SerialPort::open(cfg)?
    };
    let id = next_handle_id();
    let (wtx, wrx) = mpsc::channel(WRITE_QUEUE);
    io.services
        .tokio
        .spawn(writer(id, port, wrx, io.outbox.clone()));
    let reader = io
        .services
        .tokio
        .spawn(reader(id, events, req.as_string, io.outbox.clone()));
    io.serial.borrow_mut().insert(
        id,
        Port {
            writes: wtx,
            reader,
        },
    );
    io.shared.add_handle();
    Ok((id, path.display().to_string(), baud))
}

/// Writes in order; when the queue closes (`close()` or the runtime ending), closes the port, ends
/// the pending operation `close()` started and tells the JS object (`closed`).
async fn writer(id: u32, port: SerialPort, mut queue: mpsc::Receiver<Vec<u8>>, outbox: Outbox) {
    while let Some(data) = queue.recv().await {
        let err = match tokio::time::timeout(WRITE_TIMEOUT, port.write(&data)).await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(_) => ganglion_devices::DeviceError::new(
                ganglion_devices::ErrorCode::Etimedout,
                format!(
                    "{}: the device did not take {} bytes within {WRITE_TIMEOUT:?}",
                    port.path().display(),
                    data.len()
                ),
            ),
        };
        if !outbox.send_error(id, "error", err).await {
            break;
        }
    }
    port.close().await;
    outbox
        .send(move |h| {
            h.shared().end_op();
            h.deliver(id, "closed", ())
        })
        .await;
}

/// One JS-side batch of frames.
struct Frames {
    frames: Vec<Vec<u8>>,
    as_string: bool,
}

impl<'js> IntoJs<'js> for Frames {
    fn into_js(self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        let arr = Array::new(ctx.clone())?;
        for (i, f) in self.frames.into_iter().enumerate() {
            if self.as_string {
                arr.set(i, String::from_utf8_lossy(&f).as_ref())?;
            } else {
                arr.set(i, ArrayBuffer::new(ctx.clone(), f)?)?;
            }
        }
        Ok(arr.into_value())
    }
}

/// Forward port events: frames in batches, then errors, disconnects and reconnects in order.
async fn reader(id: u32, mut events: mpsc::Receiver<SerialEvent>, as_string: bool, outbox: Outbox) {
    let mut next = events.recv().await;
    while let Some(first) = next.take() {
        let mut frames = Vec::new();
        let mut other = None;
        match first {
            SerialEvent::Frame(f) => frames.push(f),
            ev => other = Some(ev),
        }
        while other.is_none() && frames.len() < FRAME_BATCH {
            match events.try_recv() {
                Ok(SerialEvent::Frame(f)) => frames.push(f),
                Ok(ev) => other = Some(ev),
                Err(_) => break,
            }
        }
        if !frames.is_empty() {
            let batch = Frames { frames, as_string };
            if !outbox.send(move |h| h.deliver(id, "frames", batch)).await {
                return;
            }
        }
        let sent = match other {
            None => true,
            Some(SerialEvent::Frame(_)) => true,
            Some(SerialEvent::Error(e)) => outbox.send_error(id, "error", e).await,
            Some(SerialEvent::Disconnected(e)) => outbox.send_error(id, "disconnect", e).await,
            Some(SerialEvent::Reconnected) => {
                outbox.send(move |h| h.deliver(id, "reconnect", ())).await
            }
        };
        if !sent {
            return;
        }
        next = events.recv().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};

    fn parse(src: &str) -> Result<SerialRequest, JsError> {
        let rt = Runtime::new().expect("runtime");
        let ctx = Context::full(&rt).expect("context");
        ctx.with(|ctx| {
            let o: Object<'_> = ctx.eval(format!("({src})")).expect("options");
            parse_request(&Opts::new("Serial", o))
        })
    }

    #[test]
    fn framing_kinds_parse() {
        let f = |s: &str| parse(&format!("{{ port: 'gps', framing: {s} }}")).map(|r| r.framing);
        assert_eq!(f("'raw'").ok(), Some(Framing::Raw));
        assert_eq!(f("'lines'").ok(), Some(Framing::Lines(LineEnding::Lf)));
        assert_eq!(f("'crlf'").ok(), Some(Framing::Lines(LineEnding::CrLf)));
        assert_eq!(
            f("{ delimiter: '~~' }").ok(),
            Some(Framing::Delimiter(b"~~".to_vec()))
        );
        assert_eq!(
            f("{ delimiter: new Uint8Array([0, 0xff]) }").ok(),
            Some(Framing::Delimiter(vec![0, 0xff]))
        );
        assert_eq!(f("{ length: 8 }").ok(), Some(Framing::FixedLength(8)));
        assert!(matches!(f("'words'"), Err(JsError::Range(_))));
        assert!(matches!(f("{ delimiter: '' }"), Err(JsError::Range(_))));
        assert!(matches!(f("{}"), Err(JsError::Type(_))));
        assert!(matches!(f("7"), Err(JsError::Type(_))));
    }

    #[test]
    fn line_settings_and_their_errors() {
        let r = parse(
            "{ port: '/dev/ttyUSB0', baud: 115200, dataBits: 7, parity: 'even', stopBits: 2, \
             flowControl: 'hardware', maxFrame: 64, asString: true }",
        )
        .expect("valid");
        assert_eq!(r.baud, Some(115_200));
        assert_eq!(
            (r.data_bits, r.parity, r.stop_bits, r.flow_control),
            (
                DataBits::Seven,
                Parity::Even,
                StopBits::Two,
                FlowControl::Hardware
            )
        );
        assert_eq!(r.max_frame, 64);
        assert!(r.as_string);
        assert!(
            matches!(parse("{ port: 'gps', baud: 0 }"), Err(JsError::Range(m)) if m.contains("'baud'"))
        );
        assert!(
            matches!(parse("{ port: 'gps', baud: '9600' }"), Err(JsError::Type(m)) if m.contains("'baud'"))
        );
        assert!(matches!(parse("{ baud: 9600 }"), Err(JsError::Type(m)) if m.contains("'port'")));
        assert!(matches!(
            parse("{ port: 'gps', parity: 'mark' }"),
            Err(JsError::Range(_))
        ));
        assert!(matches!(
            parse("{ port: 'gps', framing: { length: 100 }, maxFrame: 10 }"),
            Err(JsError::Range(m)) if m.contains("maxFrame")
        ));
    }

    #[test]
    fn unknown_parity_and_flow_control_list_the_choices() {
        assert!(matches!(
            parse("{ port: 'gps', parity: 'mark' }"),
            Err(JsError::Range(m))
                if m == "Serial: option 'parity' must be \"none\", \"odd\" or \"even\", not \"mark\""
        ));
        assert!(matches!(
            parse("{ port: 'gps', flowControl: 'rts' }"),
            Err(JsError::Range(m)) if m == "Serial: option 'flowControl' must be \"none\", \
                \"hardware\" or \"software\", not \"rts\""
        ));
    }
}
