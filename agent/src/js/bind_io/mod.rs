//! Natives behind the ECMA-419 IO modules (`embedded:io/digital`, `embedded:io/i2c`,
//! `embedded:io/smbus`, `embedded:io/serial`).
//!
//! Each open IO object is a row in a JS-thread-only table keyed by a handle id; the JS class
//! registers its event handler under the same id in `internal.handles`. Events (GPIO edges,
//! serial frames, async I2C completions) come from tokio tasks through the [`LoopSender`] and are
//! delivered with [`Host::deliver`]. Option parsing and every error a script sees go through
//! [`JsError`]: TypeError for a wrong type, RangeError for a value out of range, an `Error` with a
//! `code` for device failures.

mod digital;
mod i2c;
mod serial;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use ganglion_devices::DeviceError;
use rquickjs::{Ctx, Object, Value};

use crate::js::errors::JsError;
use crate::js::{Host, LoopSender, ScriptOptions, Shared};
use crate::services::Services;

/// Handle ids of IO objects start here so they never meet ids other bindings count up from 1,
/// and they are process-wide so an event queued by a previous script run (restart) can never
/// reach a new object that happens to reuse an id.
const FIRST_HANDLE_ID: u32 = 0x4000_0000;
static NEXT_HANDLE_ID: AtomicU32 = AtomicU32::new(FIRST_HANDLE_ID);

fn next_handle_id() -> u32 {
    NEXT_HANDLE_ID.fetch_add(1, Ordering::Relaxed)
}

/// Install the IO natives (`ioDigital*`, `ioI2c*`, `ioSerial*`) on `native`.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    shared: &Rc<Shared>,
    opts: &ScriptOptions,
) -> rquickjs::Result<()> {
    let io = Rc::new(Io {
        shared: shared.clone(),
        services: opts.services.clone(),
        outbox: Outbox {
            sender: opts.sender.clone(),
            live: Arc::new(AtomicBool::new(true)),
        },
        digital: RefCell::new(HashMap::new()),
        i2c: RefCell::new(HashMap::new()),
        serial: RefCell::new(HashMap::new()),
    });
    // CLOCK_MONOTONIC in ns, the clock of `Digital` edge timestamps (internal: benchmarks).
    native.set(
        "ioMonotonicNs",
        rquickjs::Function::new(ctx.clone(), || {
            ganglion_devices::gpio::monotonic_ns() as f64
        })?,
    )?;
    digital::install(ctx, native, &io)?;
    i2c::install(ctx, native, &io)?;
    serial::install(ctx, native, &io)?;
    Ok(())
}

/// The IO state of one script runtime (JS thread only). Dropped with the runtime: every line and
/// port still open is released and no queued event of this runtime is delivered afterwards.
struct Io {
    shared: Rc<Shared>,
    services: Arc<Services>,
    outbox: Outbox,
    digital: RefCell<HashMap<u32, digital::Line>>,
    i2c: RefCell<HashMap<u32, i2c::Device>>,
    serial: RefCell<HashMap<u32, serial::Port>>,
}

impl Io {
    /// The board, opened on first use (a board that fails to load is an `Error` with its code).
    fn devices(&self) -> Result<Arc<crate::devices::Devices>, JsError> {
        self.services.devices().map_err(JsError::Device)
    }
}

impl Drop for Io {
    fn drop(&mut self) {
        self.outbox.live.store(false, Ordering::SeqCst);
    }
}

/// How worker tasks reach the JS thread: the loop sender plus a flag that turns tasks queued by a
/// runtime that has since ended into no-ops.
#[derive(Clone)]
struct Outbox {
    sender: LoopSender,
    live: Arc<AtomicBool>,
}

impl Outbox {
    /// Queue `task` for the JS thread (waiting for room); false once the loop is gone.
    async fn send<F>(&self, task: F) -> bool
    where
        F: for<'js> FnOnce(&Host<'js>) -> rquickjs::Result<()> + Send + 'static,
    {
        let live = self.live.clone();
        self.sender
            .send(Box::new(move |h: &Host<'_>| {
                if live.load(Ordering::SeqCst) {
                    task(h)
                } else {
                    Ok(())
                }
            }))
            .await
    }

    /// Deliver a device error to the handler of `id` as `(type, Error)`.
    async fn send_error(&self, id: u32, ty: &'static str, err: DeviceError) -> bool {
        self.send(move |h| {
            let value = JsError::Device(err).to_value(&h.ctx)?;
            h.deliver(id, ty, value)
        })
        .await
    }
}

/// Throw a [`JsError`] into `ctx` (the `?`-friendly form every native uses).
fn throw(ctx: &Ctx<'_>, e: JsError) -> rquickjs::Error {
    e.throw(ctx)
}

/// The error for a method called on an IO object that was closed (or never opened).
fn closed(what: &str) -> JsError {
    JsError::Coded {
        code: "ENODEV".into(),
        message: format!("{what} is closed"),
    }
}

/// Bytes of a string (UTF-8) or of a `Uint8Array` (the JS classes turn every other buffer
/// source into one).
fn bytes_of(what: &str, v: &Value<'_>) -> Result<Vec<u8>, JsError> {
    if let Some(s) = v.as_string() {
        return s
            .to_string()
            .map(String::into_bytes)
            .map_err(|e| JsError::Type(format!("{what}: {e}")));
    }
    if let Some(t) = v.as_object().and_then(|o| o.as_typed_array::<u8>()) {
        // SAFETY: the slice is copied at once; no JavaScript runs while it is borrowed, so the
        // engine cannot detach or resize the buffer underneath it.
        let bytes = unsafe { t.as_bytes() };
        return bytes
            .map(<[u8]>::to_vec)
            .ok_or_else(|| JsError::Type(format!("{what}: the buffer is detached")));
    }
    Err(JsError::Type(format!(
        "{what} must be an ArrayBuffer, a typed array, a DataView or a string, not {}",
        v.type_name()
    )))
}

/// Typed access to a JS options object, with errors that name the class and the option.
struct Opts<'js> {
    obj: Object<'js>,
    class: &'static str,
}

impl<'js> Opts<'js> {
    fn new(class: &'static str, obj: Object<'js>) -> Self {
        Self { obj, class }
    }

    /// The raw value, `None` when missing or `undefined`/`null`.
    fn value(&self, key: &str) -> Result<Option<Value<'js>>, JsError> {
        let v: Value<'js> = self
            .obj
            .get(key)
            .map_err(|e| JsError::Type(format!("{}: option '{key}': {e}", self.class)))?;
        Ok(if v.is_undefined() || v.is_null() {
            None
        } else {
            Some(v)
        })
    }

    fn wrong_type(&self, key: &str, want: &str, v: &Value<'_>) -> JsError {
        JsError::Type(format!(
            "{}: option '{key}' must be {want}, not {}",
            self.class,
            v.type_name()
        ))
    }

    /// A number (TypeError for anything else, RangeError for NaN/Infinity).
    fn number(&self, key: &str) -> Result<Option<f64>, JsError> {
        let Some(v) = self.value(key)? else {
            return Ok(None);
        };
        let n = v
            .as_number()
            .ok_or_else(|| self.wrong_type(key, "a number", &v))?;
        if !n.is_finite() {
            return Err(JsError::Range(format!(
                "{}: option '{key}' must be a finite number, not {n}",
                self.class
            )));
        }
        Ok(Some(n))
    }

    /// An integer in `min..=max`.
    fn uint(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>, JsError> {
        let Some(n) = self.number(key)? else {
            return Ok(None);
        };
        if n.fract() != 0.0 || n < f64::from(min) || n > f64::from(max) {
            return Err(JsError::Range(format!(
                "{}: option '{key}' must be an integer from {min} to {max}, not {n}",
                self.class
            )));
        }
        // In range and integral: the cast is exact.
        Ok(Some(n as u32))
    }

    /// A boolean (also 0 or 1, as ECMA-419 values are numbers).
    fn flag(&self, key: &str) -> Result<Option<bool>, JsError> {
        let Some(v) = self.value(key)? else {
            return Ok(None);
        };
        if let Some(b) = v.as_bool() {
            return Ok(Some(b));
        }
        match v.as_number() {
            Some(0.0) => Ok(Some(false)),
            Some(1.0) => Ok(Some(true)),
            Some(n) => Err(JsError::Range(format!(
                "{}: option '{key}' must be 0, 1, true or false, not {n}",
                self.class
            ))),
            None => Err(self.wrong_type(key, "a boolean or 0/1", &v)),
        }
    }

    /// A string.
    fn string(&self, key: &str) -> Result<Option<String>, JsError> {
        let Some(v) = self.value(key)? else {
            return Ok(None);
        };
        match v.as_string() {
            Some(s) => s
                .to_string()
                .map(Some)
                .map_err(|e| JsError::Type(format!("{}: option '{key}': {e}", self.class))),
            None => Err(self.wrong_type(key, "a string", &v)),
        }
    }

    /// One of the named string values in `choices` (`default` when missing); a RangeError
    /// listing them for any other string.
    fn choice<T: Copy>(&self, key: &str, choices: &[(&str, T)], default: T) -> Result<T, JsError> {
        let Some(s) = self.string(key)? else {
            return Ok(default);
        };
        if let Some(&(_, v)) = choices.iter().find(|(name, _)| *name == s) {
            return Ok(v);
        }
        let quoted: Vec<String> = choices
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect();
        let list = match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        Err(JsError::Range(format!(
            "{}: option '{key}' must be {list}, not \"{s}\"",
            self.class
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_ids_are_unique_and_above_the_io_base() {
        let a = next_handle_id();
        let b = next_handle_id();
        assert!(a >= FIRST_HANDLE_ID && b > a, "{a:#x} {b:#x}");
    }

    #[test]
    fn closed_objects_report_enodev_naming_the_class() {
        match closed("Serial") {
            JsError::Coded { code, message } => {
                assert_eq!(code, "ENODEV");
                assert_eq!(message, "Serial is closed");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
