//! A QuickJS string's text read in place: for ASCII (nearly every topic, key and JSON payload)
//! QuickJS hands out its own bytes. The native JSON.stringify writes keys and strings from
//! them; `mqtt.publish` validates the topic on them and copies each string once, into the
//! message.

use std::ffi::c_char;

use rquickjs::{qjs, Ctx, Value};

/// A string's text as QuickJS hands it out (its own bytes for ASCII, no copy), released on
/// drop. Lone surrogates come out as CESU-8, which [`Text::as_str`] refuses.
pub struct Text {
    ctx: *mut qjs::JSContext,
    ptr: *const c_char,
    len: usize,
}

impl Text {
    /// The text of a string value (`v` must be a string: no conversion runs JS).
    pub fn of_value(ctx: &Ctx<'_>, v: &Value<'_>) -> rquickjs::Result<Text> {
        let ctx = ctx.as_raw().as_ptr();
        let mut len: qjs::size_t = 0;
        // SAFETY: `ctx` and `v` are live for the call; the returned buffer is released in drop.
        let ptr = unsafe { qjs::JS_ToCStringLen2(ctx, &mut len, v.as_raw(), false) };
        Text::checked(ctx, ptr, len)
    }

    /// The text of a property key.
    pub fn of_atom(ctx: &Ctx<'_>, atom: qjs::JSAtom) -> rquickjs::Result<Text> {
        let ctx = ctx.as_raw().as_ptr();
        let mut len: qjs::size_t = 0;
        // SAFETY: as above; `atom` is held by the caller's key list.
        let ptr = unsafe { qjs::JS_AtomToCStringLen(ctx, &mut len, atom) };
        Text::checked(ctx, ptr, len)
    }

    fn checked(
        ctx: *mut qjs::JSContext,
        ptr: *const c_char,
        len: qjs::size_t,
    ) -> rquickjs::Result<Text> {
        if ptr.is_null() {
            return Err(rquickjs::Error::Exception); // out of memory, pending in the context
        }
        Ok(Text {
            ctx,
            ptr,
            len: len as usize,
        })
    }

    /// The text, or None for a string with a lone surrogate (not UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        // SAFETY: QuickJS guarantees `len` bytes at `ptr` until JS_FreeCString.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) };
        std::str::from_utf8(bytes).ok()
    }
}

impl Drop for Text {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from JS_ToCStringLen2/JS_AtomToCStringLen of this context.
        unsafe { qjs::JS_FreeCString(self.ctx, self.ptr) }
    }
}
