//! `embedded:io/digital` natives: request a GPIO line, read, write, forward its edge events.

use std::rc::Rc;
use std::time::Duration;

use ganglion_devices::board::PinRef;
use ganglion_devices::gpio::{
    Bias, Drive, Edge, EdgeEvent, EdgeKind, GpioLine, LineAddress, LineConfig, LineInfo,
};
use ganglion_devices::ErrorCode;
use rquickjs::{Ctx, Function, Object};
use tokio::task::JoinHandle;

use super::{closed, next_handle_id, throw, Io, Opts};
use crate::js::errors::JsError;

/// ECMA-419 `Digital.Input`: no pull resistor.
pub const MODE_INPUT: u32 = 0;
/// ECMA-419 `Digital.InputPullUp`.
pub const MODE_INPUT_PULL_UP: u32 = 1;
/// ECMA-419 `Digital.InputPullDown`.
pub const MODE_INPUT_PULL_DOWN: u32 = 2;
/// ECMA-419 `Digital.Output` (push-pull).
pub const MODE_OUTPUT: u32 = 8;
/// ECMA-419 `Digital.OutputOpenDrain`.
pub const MODE_OUTPUT_OPEN_DRAIN: u32 = 9;
/// ECMA-419 `Digital.Rising`.
pub const EDGE_RISING: u32 = 1;
/// ECMA-419 `Digital.Falling`.
pub const EDGE_FALLING: u32 = 2;

/// Longest debounce accepted, in ms (the kernel takes microseconds in a u32).
const MAX_DEBOUNCE_MS: f64 = 60_000.0;

/// An open line and the task forwarding its edges to the JS thread.
pub(super) struct Line {
    line: GpioLine,
    events: Option<JoinHandle<()>>,
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(t) = self.events.take() {
            t.abort();
        }
        self.line.close();
    }
}

/// What a script asked for, parsed and checked (no I/O): the line config and where to find it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct DigitalRequest {
    /// A pin number or name to look up in the board file.
    pub pin: Option<PinRef>,
    /// A line name to find on the GPIO chips directly.
    pub line: Option<String>,
    /// The line config.
    pub config: LineConfig,
}

/// Turn `mode`, `edge`, `debounce`, `initial`, `activeLow` into a [`LineConfig`], rejecting
/// combinations that make no sense with a RangeError naming the option.
pub(super) fn line_config(
    mode: u32,
    edge: Option<u32>,
    debounce_ms: Option<f64>,
    initial: Option<bool>,
    active_low: bool,
) -> Result<LineConfig, JsError> {
    let input = match mode {
        MODE_INPUT | MODE_INPUT_PULL_UP | MODE_INPUT_PULL_DOWN => true,
        MODE_OUTPUT | MODE_OUTPUT_OPEN_DRAIN => false,
        other => {
            return Err(JsError::Range(format!(
                "Digital: option 'mode' must be Digital.Input, InputPullUp, InputPullDown, Output \
                 or OutputOpenDrain, not {other}"
            )))
        }
    };
    let mut cfg = if input {
        LineConfig::input().with_bias(match mode {
            MODE_INPUT_PULL_UP => Bias::PullUp,
            MODE_INPUT_PULL_DOWN => Bias::PullDown,
            _ => Bias::Disabled,
        })
    } else {
        if edge.is_some_and(|e| e != 0) {
            return Err(JsError::Range(
                "Digital: option 'edge' applies to inputs only, not to an Output".into(),
            ));
        }
        if debounce_ms.is_some_and(|d| d > 0.0) {
            return Err(JsError::Range(
                "Digital: option 'debounce' applies to inputs only, not to an Output".into(),
            ));
        }
        let cfg = LineConfig::output(initial.unwrap_or(false));
        if mode == MODE_OUTPUT_OPEN_DRAIN {
            cfg.with_drive(Drive::OpenDrain)
        } else {
            cfg
        }
    };
    if input && initial.is_some() {
        return Err(JsError::Range(
            "Digital: option 'initial' applies to outputs only, not to an Input".into(),
        ));
    }
    match edge.unwrap_or(0) {
        0 => {}
        EDGE_RISING => cfg = cfg.with_edge(Edge::Rising),
        EDGE_FALLING => cfg = cfg.with_edge(Edge::Falling),
        3 => cfg = cfg.with_edge(Edge::Both),
        other => {
            return Err(JsError::Range(format!(
                "Digital: option 'edge' must be Digital.Rising, Digital.Falling or \
                 Digital.Rising | Digital.Falling, not {other}"
            )))
        }
    }
    if let Some(ms) = debounce_ms {
        if !(0.0..=MAX_DEBOUNCE_MS).contains(&ms) {
            return Err(JsError::Range(format!(
                "Digital: option 'debounce' must be from 0 to {MAX_DEBOUNCE_MS} ms, not {ms}"
            )));
        }
        if ms > 0.0 {
            cfg = cfg.with_debounce(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    if active_low {
        cfg = cfg.active_low();
    }
    Ok(cfg)
}

/// Parse the options object the JS class passes (`pin`, `line`, `mode`, `edge`, `debounce`,
/// `initial`, `activeLow`).
fn parse_request(o: &Opts<'_>) -> Result<DigitalRequest, JsError> {
    let pin = match o.value("pin")? {
        None => None,
        Some(v) if v.is_number() => {
            let n = v.as_number().unwrap_or(f64::NAN);
            if !(n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX)) {
                return Err(JsError::Range(format!(
                    "Digital: option 'pin' must be a non-negative integer or a pin name, not {n}"
                )));
            }
            Some(PinRef::Number(n as u32))
        }
        Some(v) => match v.as_string() {
            Some(s) => {
                let s = s
                    .to_string()
                    .map_err(|e| JsError::Type(format!("Digital: option 'pin': {e}")))?;
                if s.is_empty() {
                    return Err(JsError::Range(
                        "Digital: option 'pin' must not be an empty string".into(),
                    ));
                }
                Some(PinRef::Name(s))
            }
            None => return Err(o.wrong_type("pin", "a number or a string", &v)),
        },
    };
    let line = o.string("line")?;
    match (&pin, &line) {
        (None, None) => {
            return Err(JsError::Type(
                "Digital: option 'pin' (a number or a board pin name) or 'line' (a GPIO line \
                 name) is required"
                    .into(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(JsError::Type(
                "Digital: give either 'pin' or 'line', not both".into(),
            ))
        }
        _ => {}
    }
    let mode = o.uint("mode", 0, 255)?.ok_or_else(|| {
        JsError::Type(
            "Digital: option 'mode' is required (Digital.Input, InputPullUp, InputPullDown, \
             Output or OutputOpenDrain)"
                .into(),
        )
    })?;
    let edge = o.uint("edge", 0, 255)?;
    let debounce = o.number("debounce")?;
    let initial = o.flag("initial")?;
    let active_low = o.flag("activeLow")?.unwrap_or(false);
    let config = line_config(mode, edge, debounce, initial, active_low)?;
    Ok(DigitalRequest { pin, line, config })
}

pub(super) fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    io: &Rc<Io>,
) -> rquickjs::Result<()> {
    let io2 = io.clone();
    native.set(
        "ioDigitalOpen",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, options: Object<'js>| -> rquickjs::Result<Object<'js>> {
                open(&io2, &ctx, options)
            },
        )?,
    )?;
    let io2 = io.clone();
    native.set(
        "ioDigitalRead",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, id: u32| {
            let table = io2.digital.borrow();
            let line = table
                .get(&id)
                .ok_or_else(|| throw(&ctx, closed("Digital")))?;
            line.line
                .read()
                .map(i32::from)
                .map_err(|e| throw(&ctx, JsError::Device(e)))
        })?,
    )?;
    let io2 = io.clone();
    native.set(
        "ioDigitalWrite",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>, id: u32, value: bool| {
            let table = io2.digital.borrow();
            let line = table
                .get(&id)
                .ok_or_else(|| throw(&ctx, closed("Digital")))?;
            line.line.write(value).map_err(|e| {
                let e = if e.code == ErrorCode::Einval {
                    JsError::Coded {
                        code: "EINVAL".into(),
                        message: format!("{} (open it with mode Digital.Output)", e.message),
                    }
                } else {
                    JsError::Device(e)
                };
                throw(&ctx, e)
            })
        })?,
    )?;
    let io2 = io.clone();
    native.set(
        "ioDigitalClose",
        Function::new(ctx.clone(), move |id: u32| {
            let removed = io2.digital.borrow_mut().remove(&id);
            if removed.is_some() {
                io2.shared.remove_handle();
            }
        })?,
    )?;
    Ok(())
}

fn open<'js>(io: &Io, ctx: &Ctx<'js>, options: Object<'js>) -> rquickjs::Result<Object<'js>> {
    let (id, info) = request(io, options).map_err(|e| throw(ctx, e))?;
    let o = Object::new(ctx.clone())?;
    o.set("id", id)?;
    o.set("chip", info.chip_label)?;
    o.set("offset", info.offset)?;
    o.set("name", info.name)?;
    Ok(o)
}

/// Request the line, start forwarding its edges, register it; returns its handle id.
fn request(io: &Io, options: Object<'_>) -> Result<(u32, LineInfo), JsError> {
    let req = parse_request(&Opts::new("Digital", options))?;
    let devices = io.devices()?;
    let addr = match (&req.pin, &req.line) {
        (Some(pin), _) => devices.resolve_pin(pin).map_err(|e| {
            // An unknown pin is a value out of the board's range, not a device failure.
            if e.code == ErrorCode::Enoent {
                JsError::Range(format!("Digital: {}", e.message))
            } else {
                JsError::Device(e)
            }
        })?,
        (None, Some(name)) => LineAddress::name(name.clone()),
        (None, None) => return Err(JsError::Type("Digital: no pin".into())),
    };
    let line = {
        // Edge events run on a tokio task: the request must see the I/O runtime.
        let _rt = io.services.tokio.enter();
        devices.gpio().request_line(&addr, &req.config)?
    };
    let id = next_handle_id();
    let events = line.take_events().map(|mut rx| {
        let outbox = io.outbox.clone();
        io.services.tokio.spawn(async move {
            while let Some(item) = rx.recv().await {
                let sent = match item {
                    Ok(ev) => {
                        outbox
                            .send(move |h| h.deliver(id, "edge", EdgeJs(ev)))
                            .await
                    }
                    Err(err) => {
                        outbox.send_error(id, "error", err).await;
                        break;
                    }
                };
                if !sent {
                    break;
                }
            }
        })
    });
    let info = line.info().clone();
    io.digital.borrow_mut().insert(id, Line { line, events });
    io.shared.add_handle();
    Ok((id, info))
}

/// An edge as the JS side sees it: `{ rising, timestamp, seq }` (timestamp in ns on
/// `CLOCK_MONOTONIC`, as a number).
struct EdgeJs(EdgeEvent);

impl<'js> rquickjs::IntoJs<'js> for EdgeJs {
    fn into_js(self, ctx: &Ctx<'js>) -> rquickjs::Result<rquickjs::Value<'js>> {
        let o = Object::new(ctx.clone())?;
        o.set("rising", self.0.kind == EdgeKind::Rising)?;
        o.set("timestamp", self.0.timestamp_ns as f64)?;
        o.set("seq", self.0.seq as f64)?;
        Ok(o.into_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(r: Result<LineConfig, JsError>) -> String {
        match r {
            Err(JsError::Range(m)) => m,
            other => panic!("expected a RangeError, got {other:?}"),
        }
    }

    #[test]
    fn modes_map_to_bias_and_drive() {
        let up = line_config(MODE_INPUT_PULL_UP, None, None, None, false).expect("pull-up");
        assert_eq!(up.bias, Some(Bias::PullUp));
        let plain = line_config(MODE_INPUT, None, None, None, false).expect("input");
        assert_eq!(plain.bias, Some(Bias::Disabled));
        let od = line_config(MODE_OUTPUT_OPEN_DRAIN, None, None, Some(true), false).expect("od");
        assert_eq!(od.drive, Drive::OpenDrain);
        assert!(od.initial);
        let out = line_config(MODE_OUTPUT, None, None, None, true).expect("out");
        assert!(out.active_low && !out.initial);
    }

    #[test]
    fn edges_are_ecma_bit_flags_and_debounce_is_in_ms() {
        let both = line_config(MODE_INPUT, Some(3), Some(5.0), None, false).expect("both");
        assert_eq!(both.edge, Some(Edge::Both));
        assert_eq!(both.debounce, Some(Duration::from_millis(5)));
        let rising =
            line_config(MODE_INPUT, Some(EDGE_RISING), Some(0.0), None, false).expect("rising");
        assert_eq!(rising.edge, Some(Edge::Rising));
        assert_eq!(rising.debounce, None);
        assert!(range(line_config(MODE_INPUT, Some(4), None, None, false)).contains("'edge'"));
    }

    #[test]
    fn nonsense_combinations_are_range_errors_naming_the_option() {
        assert!(range(line_config(5, None, None, None, false)).contains("'mode'"));
        assert!(range(line_config(MODE_OUTPUT, Some(1), None, None, false)).contains("inputs only"));
        assert!(
            range(line_config(MODE_OUTPUT, None, Some(3.0), None, false)).contains("'debounce'")
        );
        assert!(
            range(line_config(MODE_INPUT, None, None, Some(true), false)).contains("'initial'")
        );
        assert!(
            range(line_config(MODE_INPUT, None, Some(-1.0), None, false)).contains("'debounce'")
        );
    }
}
