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
    /// Well-formed UTF-8 by construction (vendor patch 0016: the text of a string of 8-bit
    /// characters), so [`Text::as_str`] need not check it.
    utf8: bool,
}

impl Text {
    /// The text of a string value (`v` must be a string: no conversion runs JS).
    pub fn of_value(ctx: &Ctx<'_>, v: &Value<'_>) -> rquickjs::Result<Text> {
        let ctx = ctx.as_raw().as_ptr();
        let (mut len, mut utf8): (qjs::size_t, bool) = (0, false);
        // SAFETY: `ctx` and `v` are live for the call; the returned buffer is released in drop.
        let ptr = unsafe { qjs::JS_ToCStringLenUTF8(ctx, &mut len, v.as_raw(), &mut utf8) };
        Text::checked(ctx, ptr, len, utf8)
    }

    /// The text of a property key.
    pub fn of_atom(ctx: &Ctx<'_>, atom: qjs::JSAtom) -> rquickjs::Result<Text> {
        let ctx = ctx.as_raw().as_ptr();
        let mut len: qjs::size_t = 0;
        // SAFETY: as above; `atom` is held by the caller's key list.
        let ptr = unsafe { qjs::JS_AtomToCStringLen(ctx, &mut len, atom) };
        Text::checked(ctx, ptr, len, false)
    }

    fn checked(
        ctx: *mut qjs::JSContext,
        ptr: *const c_char,
        len: qjs::size_t,
        utf8: bool,
    ) -> rquickjs::Result<Text> {
        if ptr.is_null() {
            return Err(rquickjs::Error::Exception); // out of memory, pending in the context
        }
        Ok(Text {
            ctx,
            ptr,
            len: len as usize,
            utf8,
        })
    }

    /// The text, or None for a string with a lone surrogate (not UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        // SAFETY: QuickJS guarantees `len` bytes at `ptr` until JS_FreeCString.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) };
        if self.utf8 {
            debug_assert!(std::str::from_utf8(bytes).is_ok(), "8-bit text is UTF-8");
            // SAFETY: the text of a string of 8-bit characters is well-formed UTF-8 (ASCII,
            // or each byte above 0x7f written as its two-byte sequence; vendor patch 0016).
            return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).ok()
    }
}

impl Drop for Text {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from JS_ToCStringLen2/JS_AtomToCStringLen of this context.
        unsafe { qjs::JS_FreeCString(self.ctx, self.ptr) }
    }
}

#[cfg(test)]
mod tests {
    use rquickjs::{Context, Runtime, Value};

    use super::Text;

    /// Vendor patch 0016: a string of 8-bit characters (ASCII or Latin-1) is handed over as
    /// UTF-8 without a second check; a wide string is checked, so a lone surrogate is still
    /// refused.
    #[test]
    fn text_is_checked_unless_utf8_by_construction() {
        let rt = Runtime::new().expect("runtime");
        let cx = Context::full(&rt).expect("context");
        cx.with(|ctx| {
            let long = format!("{}{}", "x".repeat(300), "é".repeat(300));
            let cases: [(&str, Option<&str>, bool); 6] = [
                ("'bench/bme280-1'", Some("bench/bme280-1"), true),
                ("'café ÿ'", Some("café ÿ"), true),
                ("'温度 °C 🌡'", Some("温度 °C 🌡"), false),
                ("'a\\ud800b'", None, false),
                ("'\\udc00' + 'x'", None, false),
                (
                    "'x'.repeat(300) + 'é'.repeat(300)",
                    Some(long.as_str()),
                    true,
                ),
            ];
            for (source, want, utf8) in cases {
                let v: Value<'_> = ctx.eval(source).expect("string");
                let text = Text::of_value(&ctx, &v).expect("text");
                assert_eq!(text.as_str(), want, "{source}");
                assert_eq!(text.utf8, utf8, "{source}: UTF-8 by construction");
            }
        });
    }
}
