//! `EventEmitter.prototype.emit` in native code for events named by a string or a symbol other
//! than `'error'`: every reading a sensor emits. In QuickJS the JS `emit` (agent/js/events.js)
//! pays for its rest-parameter array, its checks and `Reflect.apply` (~3,300 instructions per
//! event besides the listener); here it is a property read, a lookup and a call (or a call for
//! each of several listeners). `'error'` and
//! the unusual cases (an event name that is neither a string nor a symbol, a store entry that is
//! neither a function nor an array) go to the JS `emit`, which stays the definition of the
//! behaviour, and which the conformance suites test under Node.js as well.

use std::ffi::c_int;

use rquickjs::{qjs, Ctx, Function, Value};

use super::atoms::HeldAtoms;
use super::Shared;

/// Makes `native.nativeEmit(jsEmit)`, which the bootstrap calls once: it returns the native
/// `emit` with `jsEmit` as its fallback.
pub fn install<'js>(ctx: &Ctx<'js>, shared: &Shared) -> rquickjs::Result<Function<'js>> {
    let [events, error] = HeldAtoms::install(ctx, shared, [c"_events", c"error"])?;
    Function::new(ctx.clone(), move |ctx: Ctx<'js>, js_emit: Function<'js>| {
        native_emit(&ctx, js_emit, events, error)
    })
}

/// `emit` as a native function whose data are the JS `emit` and the two atoms (as integers: the
/// atoms are held by [`HeldAtoms`] until the runtime closes).
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

/// What the JS `emit` does, in the same order: is the event `'error'`? read `this._events`
/// (undefined: false), read the event's entry (undefined: false), call it, or each function of
/// a copy of its list, with the emitter as `this` and the remaining arguments; true. Every
/// property is read once, as there. `'error'`, no arguments, an event named by anything but a
/// string or a symbol, and an entry that is neither a function nor an array go to the JS `emit`.
unsafe extern "C" fn emit(
    ctx: *mut qjs::JSContext,
    this: qjs::JSValue,
    argc: c_int,
    argv: *mut qjs::JSValue,
    _magic: c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: QuickJS passes the three data values made in `native_emit` and `argc` arguments
    // (argv is padded with undefined up to the function's length, 1, but argc is not).
    unsafe {
        let js_emit = *data;
        let events_atom = qjs::JS_VALUE_GET_INT(*data.add(1)) as qjs::JSAtom;
        let error_atom = qjs::JS_VALUE_GET_INT(*data.add(2)) as qjs::JSAtom;
        let fallback = || qjs::JS_Call(ctx, js_emit, this, argc, argv);
        if argc < 1 {
            return fallback();
        }
        let ty = *argv;
        if !(qjs::JS_IsString(ty) || qjs::JS_IsSymbol(ty)) {
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
        let (args, rest) = (argc - 1, argv.add(1));
        if qjs::JS_IsException(handler) {
            handler
        } else if qjs::JS_IsUndefined(handler) {
            qjs::JS_FALSE
        } else if qjs::JS_IsFunction(ctx, handler) {
            let result = qjs::JS_Call(ctx, handler, this, args, rest);
            qjs::JS_FreeValue(ctx, handler);
            settled(ctx, result)
        } else if qjs::JS_IsArray(handler) {
            let result = call_each(ctx, handler, this, args, rest);
            qjs::JS_FreeValue(ctx, handler);
            settled(ctx, result)
        } else {
            // Something else in the store: the JS emit says what (it reads the store again).
            qjs::JS_FreeValue(ctx, handler);
            fallback()
        }
    }
}

/// emit's result once its listeners ran: true, or their exception.
///
/// # Safety
/// `ctx` is live and `result` owned (it is consumed).
unsafe fn settled(ctx: *mut qjs::JSContext, result: qjs::JSValue) -> qjs::JSValue {
    // SAFETY: as the function's contract says.
    unsafe {
        if qjs::JS_IsException(result) {
            return result;
        }
        qjs::JS_FreeValue(ctx, result);
    }
    qjs::JS_TRUE
}

/// Several listeners: call each of a copy of the list (a listener that adds or removes one
/// does not change this emit), as the JS emit's `handler.slice()` and loop do; the first
/// exception ends it. Returns undefined or the exception.
///
/// # Safety
/// `ctx`, `list` (an array) and `this` are live; `args` holds `argc` values.
unsafe fn call_each(
    ctx: *mut qjs::JSContext,
    list: qjs::JSValue,
    this: qjs::JSValue,
    argc: c_int,
    args: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: as the function's contract says; every value read is owned and freed once.
    unsafe {
        let mut len = 0i64;
        if qjs::JS_GetLength(ctx, list, &mut len) < 0 {
            return qjs::JS_EXCEPTION;
        }
        let mut copy = Vec::with_capacity(usize::try_from(len.clamp(0, 16)).unwrap_or(0));
        for i in 0..u32::try_from(len).unwrap_or(u32::MAX) {
            let f = qjs::JS_GetPropertyUint32(ctx, list, i);
            if qjs::JS_IsException(f) {
                free_all(ctx, copy);
                return f;
            }
            copy.push(f);
        }
        let mut result = qjs::JS_UNDEFINED;
        for &f in &copy {
            let r = qjs::JS_Call(ctx, f, this, argc, args);
            if qjs::JS_IsException(r) {
                result = r;
                break;
            }
            qjs::JS_FreeValue(ctx, r);
        }
        free_all(ctx, copy);
        result
    }
}

/// # Safety
/// `ctx` is live and each value is owned.
unsafe fn free_all(ctx: *mut qjs::JSContext, values: Vec<qjs::JSValue>) {
    for v in values {
        // SAFETY: as the function's contract says.
        unsafe { qjs::JS_FreeValue(ctx, v) }
    }
}
