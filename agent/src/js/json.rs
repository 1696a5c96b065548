//! A native fast path for `JSON.stringify(value)`, the call nearly every gateway script makes
//! for every reading it publishes.
//!
//! QuickJS's own stringify costs about 30,000 instructions for a six-field reading (it builds a
//! wrapper object and a key array per object, and finds the shortest digits of each number with
//! big-number arithmetic); this walk writes the same text directly (numbers with Ryū, as
//! ECMAScript's Number::toString prints them). It covers what readings are made of: plain
//! objects (prototype `Object.prototype` or null) and arrays without `toJSON`, strings, numbers,
//! booleans, null and the values JSON leaves out (undefined, functions, symbols). Any other value
//! — a Date, a Map, a typed array, a boxed primitive, a class instance, a proxy, an object with
//! `toJSON`, a BigInt, a string with a lone surrogate, nesting past [`MAX_DEPTH`] (a cycle) —
//! is written by the engine's own stringify, given a one-property holder `{[key]: value}` so
//! `toJSON` sees its real key; calls with a replacer or indentation go to the engine whole. So
//! the text, the errors and the getter calls (once each, in order) are the engine's.

use rquickjs::object::Property;
use rquickjs::{Atom, Ctx, Function, Object, Value};

/// Nesting deeper than this is handed to the engine's stringify (which reports cycles).
const MAX_DEPTH: usize = 64;

/// Appends `s` as a JSON string literal (ECMAScript QuoteJSONString for well-formed text).
pub fn quote(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a number as JSON writes it: ECMAScript Number::toString, `null` when not finite.
pub fn number(out: &mut String, n: f64) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n == 0.0 {
        out.push('0'); // -0 too
    } else {
        out.push_str(ryu_js::Buffer::new().format_finite(n));
    }
}

/// What writing a value did: text, or nothing (undefined, a function, a symbol).
enum Wrote {
    Text,
    Nothing,
}

/// A value the fast path leaves to the engine; nothing was written for it.
struct Unsupported;

struct Walker<'js> {
    ctx: Ctx<'js>,
    /// The engine's stringify, looked up when first needed.
    engine: Option<Function<'js>>,
    object_proto: Object<'js>,
    array_proto: Option<Object<'js>>,
    to_json: Atom<'js>,
    out: String,
}

/// The engine's `JSON.stringify`, kept where the bootstrap's natives live (a closure must not
/// own JS values: the garbage collector cannot see them, and the runtime would leak them).
fn engine_stringify<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Function<'js>> {
    ctx.globals()
        .get::<_, Object<'js>>("JSON")?
        .get(engine_key(ctx)?)
}

/// `Symbol.for('ganglion.json.engine')`, the key the engine's stringify is kept under; a call,
/// not `ctx.eval`, so the fallback path does not parse and compile a script each time.
fn engine_key<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
    let symbol: Object<'js> = ctx.globals().get("Symbol")?;
    let symbol_for: Function<'js> = symbol.get("for")?;
    symbol_for.call(("ganglion.json.engine",))
}

impl<'js> Walker<'js> {
    /// Writes `v`, or nothing and `Ok(Err(Unsupported))` when the engine must write it.
    fn value(
        &mut self,
        v: &Value<'js>,
        depth: usize,
    ) -> rquickjs::Result<Result<Wrote, Unsupported>> {
        if let Some(i) = v.as_int() {
            self.out.push_str(itoa::Buffer::new().format(i));
        } else if let Some(f) = v.as_float() {
            number(&mut self.out, f);
        } else if let Some(s) = v.as_string() {
            // A lone surrogate is not UTF-8: the engine escapes it (\udxxx).
            let Ok(s) = s.to_string() else {
                return Ok(Err(Unsupported));
            };
            quote(&mut self.out, &s);
        } else if let Some(b) = v.as_bool() {
            self.out.push_str(if b { "true" } else { "false" });
        } else if v.is_null() {
            self.out.push_str("null");
        } else if v.is_undefined() || v.is_symbol() || v.is_function() {
            return Ok(Ok(Wrote::Nothing));
        } else if let Some(o) = v.as_object() {
            if depth >= MAX_DEPTH || v.is_proxy() {
                return Ok(Err(Unsupported));
            }
            let array = v.is_array();
            let proto = if array {
                if self.array_proto.is_none() {
                    let array_ctor: Object<'js> = self.ctx.globals().get("Array")?;
                    self.array_proto = Some(array_ctor.get("prototype")?);
                }
                self.array_proto.as_ref()
            } else {
                Some(&self.object_proto)
            };
            let plain = match (o.get_prototype(), proto) {
                (Some(p), Some(proto)) => p == *proto,
                (None, _) => !array,
                (Some(_), None) => false,
            };
            if !plain || o.contains_key(self.to_json.clone())? {
                return Ok(Err(Unsupported));
            }
            if array {
                self.array(o, depth)?;
            } else {
                self.object(o, depth)?;
            }
        } else {
            return Ok(Err(Unsupported)); // BigInt, and anything a later engine adds
        }
        Ok(Ok(Wrote::Text))
    }

    fn object(&mut self, o: &Object<'js>, depth: usize) -> rquickjs::Result<()> {
        self.out.push('{');
        let mut first = true;
        for key in o.keys::<Atom<'js>>() {
            let key = key?;
            let value: Value<'js> = o.get(key.clone())?;
            let mark = self.out.len();
            if !first {
                self.out.push(',');
            }
            // Through a JS string: Atom::to_string stops at NUL and replaces lone surrogates.
            let wrote = match key.to_js_string().and_then(|k| k.to_string()) {
                Ok(name) => {
                    quote(&mut self.out, &name);
                    self.out.push(':');
                    self.value(&value, depth + 1)?
                }
                Err(_) => Err(Unsupported),
            };
            match wrote {
                Ok(Wrote::Text) => first = false,
                Ok(Wrote::Nothing) => self.out.truncate(mark),
                Err(Unsupported) => {
                    self.out.truncate(mark);
                    if let Some(pair) = self.engine_pair(key, value)? {
                        if !first {
                            self.out.push(',');
                        }
                        self.out.push_str(&pair);
                        first = false;
                    }
                }
            }
        }
        self.out.push('}');
        Ok(())
    }

    fn array(&mut self, o: &Object<'js>, depth: usize) -> rquickjs::Result<()> {
        let Some(array) = o.clone().into_array() else {
            return Ok(());
        };
        self.out.push('[');
        for i in 0..array.len() {
            if i > 0 {
                self.out.push(',');
            }
            let value: Value<'js> = array.get(i)?;
            let wrote = match self.value(&value, depth + 1)? {
                Ok(wrote) => wrote,
                Err(Unsupported) => {
                    let key = Atom::from_u32(self.ctx.clone(), i as u32)?;
                    match self.engine_pair(key, value)? {
                        Some(pair) => {
                            // `"<i>":<text>`: the index needs no escaping.
                            let colon = pair.find(':').map_or(0, |c| c + 1);
                            self.out.push_str(&pair[colon..]);
                            Wrote::Text
                        }
                        None => Wrote::Nothing,
                    }
                }
            };
            if let Wrote::Nothing = wrote {
                self.out.push_str("null");
            }
        }
        self.out.push(']');
        Ok(())
    }

    /// The engine's text for one property, `"key":value`, or None when JSON leaves it out.
    fn engine_pair(
        &mut self,
        key: Atom<'js>,
        value: Value<'js>,
    ) -> rquickjs::Result<Option<String>> {
        let holder = Object::new(self.ctx.clone())?;
        holder.prop(
            key,
            Property::from(value).writable().enumerable().configurable(),
        )?;
        if self.engine.is_none() {
            self.engine = Some(engine_stringify(&self.ctx)?);
        }
        let Some(engine) = &self.engine else {
            return Ok(None);
        };
        let text: rquickjs::String<'js> = engine.call((holder,))?;
        let text = text.to_string()?;
        Ok(text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .filter(|t| !t.is_empty())
            .map(str::to_owned))
    }
}

/// Replaces `JSON.stringify` with the fast path; returns the engine's function, which stays
/// the fallback (and the reference the conformance test compares with).
pub fn install<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Function<'js>> {
    let json: Object<'js> = ctx.globals().get("JSON")?;
    let engine: Function<'js> = json.get("stringify")?;
    json.prop(engine_key(ctx)?, Property::from(engine.clone()))?; // not enumerable, not writable
    let fast = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>,
         value: Value<'js>,
         replacer: rquickjs::function::Opt<Value<'js>>,
         space: rquickjs::function::Opt<Value<'js>>|
         -> rquickjs::Result<Value<'js>> {
            let plain_call = replacer
                .0
                .as_ref()
                .is_none_or(|r| r.is_null() || r.is_undefined())
                && space.0.as_ref().is_none_or(|s| s.is_undefined());
            if !plain_call {
                return engine_stringify(&ctx)?.call((value, replacer.0, space.0));
            }
            let object_ctor: Object<'js> = ctx.globals().get("Object")?;
            let mut walker = Walker {
                engine: None,
                object_proto: object_ctor.get("prototype")?,
                array_proto: None,
                to_json: Atom::from_str(ctx.clone(), "toJSON")?,
                out: String::new(),
                ctx: ctx.clone(),
            };
            match walker.value(&value, 0)? {
                Ok(Wrote::Text) => rquickjs::String::from_str(ctx, &walker.out).map(Value::from),
                Ok(Wrote::Nothing) => Ok(Value::new_undefined(ctx)),
                Err(Unsupported) => engine_stringify(&ctx)?.call((value,)),
            }
        },
    )?
    .with_name("stringify")?;
    json.set("stringify", fast)?;
    Ok(engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        let mut out = String::new();
        quote(&mut out, s);
        out
    }

    fn n(x: f64) -> String {
        let mut out = String::new();
        number(&mut out, x);
        out
    }

    #[test]
    fn strings_are_escaped_like_json_stringify() {
        assert_eq!(q("plain"), "\"plain\"");
        assert_eq!(q("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(q("\u{8}\u{c}\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
        assert_eq!(q("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(q("é€😀/</script>"), "\"é€😀/</script>\"");
        assert_eq!(q(""), "\"\"");
    }

    #[test]
    fn numbers_print_as_ecmascript_does() {
        for (x, text) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (71.23, "71.23"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740993.0, "9007199254740992"),
            (1763884800000.0, "1763884800000"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
            (f64::NEG_INFINITY, "null"),
        ] {
            assert_eq!(n(x), text, "{x:e}");
        }
    }
}
