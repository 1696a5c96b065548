//! `EventEmitter.prototype.emit`'s common case in native code: one listener, an event named by
//! a string or a symbol other than `'error'`. That case is every reading a sensor emits, and in
//! QuickJS the JS `emit` (agent/js/events.js) pays for its rest-parameter array, its checks and
//! `Reflect.apply` (~3,000 instructions per event, most of the emit path's cost); here it is a
//! property read, a lookup and a call. Everything else (`'error'`, several listeners, no
//! `_events`, an event name of another type) goes to the JS `emit`, which stays the definition of
//! the behaviour, and which the conformance suites test under Node.js as well.

use std::ffi::{c_int, CStr};

use rquickjs::{qjs, Ctx, Function, Value};

use super::Shared;

/// The atoms the native emit reads by: `_events` (held for the runtime's life) and `error`.
struct Atoms {
    rt: *mut qjs::JSRuntime,
    events: qjs::JSAtom,
    error: qjs::JSAtom,
}

impl Atoms {
    fn new(ctx: &Ctx<'_>) -> rquickjs::Result<Self> {
        let raw = ctx.as_raw().as_ptr();
        let atom = |name: &CStr| {
            // SAFETY: the context is live; the atom is released in `release`.
            let a = unsafe { qjs::JS_NewAtom(raw, name.as_ptr()) };
            if a == 0 {
                Err(rquickjs::Error::Exception)
            } else {
                Ok(a)
            }
        };
        Ok(Self {
            // SAFETY: the context is live; its runtime outlives these atoms (see `release`).
            rt: unsafe { qjs::JS_GetRuntime(raw) },
            events: atom(c"_events")?,
            error: atom(c"error")?,
        })
    }

    /// Releases the atoms; runs when the script's runtime closes, after the last call.
    fn release(self) {
        // SAFETY: both were taken in `new` and the runtime is still alive.
        unsafe {
            qjs::JS_FreeAtomRT(self.rt, self.events);
            qjs::JS_FreeAtomRT(self.rt, self.error);
        }
    }
}

/// Makes the `wrap(jsEmit)` function the bootstrap calls once: it returns the native `emit`
/// with `jsEmit` as its fallback.
pub fn install<'js>(ctx: &Ctx<'js>, shared: &Shared) -> rquickjs::Result<Function<'js>> {
    let atoms = Atoms::new(ctx)?;
    let (events, error) = (atoms.events, atoms.error);
    shared.on_close(move || atoms.release());
    Function::new(ctx.clone(), move |ctx: Ctx<'js>, js_emit: Function<'js>| {
        native_emit(&ctx, js_emit, events, error)
    })
}

/// `emit` as a native function whose data are the JS `emit` and the two atoms (as integers: the
/// atoms are held by [`Atoms`] until the runtime closes).
fn native_emit<'js>(
    ctx: &Ctx<'js>,
    js_emit: Function<'js>,
    events: qjs::JSAtom,
    error: qjs::JSAtom,
) -> rquickjs::Result<Value<'js>> {
    let raw = ctx.as_raw().as_ptr();
    let mut data = [
        js_emit.as_raw(),
        qjs::JS_MKVAL(qjs::JS_TAG_INT, events as i32),
        qjs::JS_MKVAL(qjs::JS_TAG_INT, error as i32),
    ];
    // SAFETY: the context is live; JS_NewCFunctionData2 duplicates the data values (the
    // function stays owned by `js_emit`); the result is owned and handed to Value.
    unsafe {
        let f = qjs::JS_NewCFunctionData2(
            raw,
            Some(emit),
            c"emit".as_ptr(),
            1, // `emit(type, ...args)`.length
            0,
            data.len() as c_int,
            data.as_mut_ptr(),
        );
        if qjs::JS_IsException(f) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), f))
    }
}

/// What the JS `emit` does for one listener, in the same order: is the event `'error'`? read
/// `this._events` (undefined: false), read the event's entry (undefined: false), call it with
/// the emitter as `this` and the remaining arguments, true. Any other case is the JS `emit`'s.
unsafe extern "C" fn emit(
    ctx: *mut qjs::JSContext,
    this: qjs::JSValue,
    argc: c_int,
    argv: *mut qjs::JSValue,
    _magic: c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: QuickJS passes the three data values made in `native_emit`, and `argc` arguments
    // (at least the function's length, 1: it pads with undefined).
    unsafe {
        let js_emit = *data;
        let events_atom = qjs::JS_VALUE_GET_INT(*data.add(1)) as qjs::JSAtom;
        let error_atom = qjs::JS_VALUE_GET_INT(*data.add(2)) as qjs::JSAtom;
        let fallback = || qjs::JS_Call(ctx, js_emit, this, argc, argv);
        let ty = *argv;
        if argc < 1 || !(qjs::JS_IsString(ty) || qjs::JS_IsSymbol(ty)) {
            return fallback();
        }
        let atom = qjs::JS_ValueToAtom(ctx, ty); // no side effects for a string or a symbol
        if atom == 0 {
            return qjs::JS_EXCEPTION;
        }
        if atom == error_atom {
            qjs::JS_FreeAtom(ctx, atom);
            return fallback();
        }
        let store = qjs::JS_GetProperty(ctx, this, events_atom);
        if qjs::JS_IsException(store) || qjs::JS_IsUndefined(store) {
            qjs::JS_FreeAtom(ctx, atom);
            return if qjs::JS_IsException(store) {
                store
            } else {
                qjs::JS_FALSE
            };
        }
        let handler = qjs::JS_GetProperty(ctx, store, atom);
        qjs::JS_FreeValue(ctx, store);
        qjs::JS_FreeAtom(ctx, atom);
        if qjs::JS_IsException(handler) {
            return handler;
        }
        if qjs::JS_IsUndefined(handler) {
            return qjs::JS_FALSE;
        }
        if !qjs::JS_IsFunction(ctx, handler) {
            // Several listeners (an array): the JS emit copies the list and calls each one.
            qjs::JS_FreeValue(ctx, handler);
            return fallback();
        }
        let result = qjs::JS_Call(ctx, handler, this, argc - 1, argv.add(1));
        qjs::JS_FreeValue(ctx, handler);
        if qjs::JS_IsException(result) {
            return result;
        }
        qjs::JS_FreeValue(ctx, result);
        qjs::JS_TRUE
    }
}
