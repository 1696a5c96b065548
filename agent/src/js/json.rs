//! A native fast path for `JSON.stringify(value)`, the call nearly every gateway script makes
//! for every reading it publishes.
//!
//! QuickJS's own stringify costs about 30,000 instructions for a six-field reading (it builds a
//! wrapper object and a key array per object, and finds the shortest digits of each number with
//! big-number arithmetic); this walk writes the same text directly (numbers with Ryū, or as
//! integers or hundredths when they are, as ECMAScript's Number::toString prints them; a plain
//! object's keys from its shape, vendor patch 0006). It covers what readings are made of: plain
//! objects (prototype `Object.prototype` or null) and arrays without `toJSON`, strings, numbers,
//! booleans, null and the values JSON leaves out (undefined, functions, symbols). Any other value
//! — a Date, a Map, a typed array, a boxed primitive, a class instance, a proxy, an object with
//! `toJSON`, a BigInt, a string with a lone surrogate, nesting past [`MAX_DEPTH`] (a cycle) —
//! is written by the engine's own stringify, given a one-property holder `{[key]: value}` so
//! `toJSON` sees its real key; calls with a replacer or indentation go to the engine whole. So
//! the text, the errors and the getter calls (once each, in order) are the engine's.

use std::cell::RefCell;
use std::rc::Rc;

use rquickjs::atom::PredefinedAtom;
use rquickjs::object::Property;
use rquickjs::{qjs, Atom, Ctx, Function, Object, Value};

use crate::js::text::Text;
use crate::js::Shared;

/// Nesting deeper than this is handed to the engine's stringify (which reports cycles).
const MAX_DEPTH: usize = 64;

/// Appends `s` as a JSON string literal (ECMAScript QuoteJSONString for well-formed text).
pub fn quote(out: &mut String, s: &str) {
    let needs_escape = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
    out.reserve(s.len() + 2);
    out.push('"');
    if !s.as_bytes().iter().any(needs_escape) {
        out.push_str(s); // the usual case: keys and names as they are
        out.push('"');
        return;
    }
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(&b) {
            continue;
        }
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a number as JSON writes it: ECMAScript Number::toString, `null` when not finite.
pub fn number(out: &mut String, n: f64) {
    /// Below 2^53 every integer is exact, so its digits are the shortest ones.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if !n.is_finite() {
        out.push_str("null");
    } else if n == 0.0 {
        out.push('0'); // -0 too
    } else if n.abs() < EXACT && (n as i64) as f64 == n {
        // Timestamps in ms and counters past 2^31: integer digits without Ryū's search. (A
        // conversion, not `f64::fract`: that is a library call on x86_64 without SSE4.1 and
        // on armv7.)
        out.push_str(itoa::Buffer::new().format(n as i64));
    } else if let Some(k) = hundredths(n) {
        // Most sensor values: two decimals or fewer, written without Ryū's search.
        if k < 0 {
            out.push('-');
        }
        let (whole, frac) = (k.unsigned_abs() / 100, k.unsigned_abs() % 100);
        out.push_str(itoa::Buffer::new().format(whole));
        out.push('.');
        out.push(char::from(b'0' + (frac / 10) as u8));
        if frac % 10 != 0 {
            out.push(char::from(b'0' + (frac % 10) as u8));
        }
    } else {
        out.push_str(ryu_js::Buffer::new().format_finite(n));
    }
}

/// `k` when `n` is the double nearest to `k / 100` (not an integer) and below 10^13 in
/// magnitude. Doubles there are less than 0.002 apart, so no other decimal with two places or
/// fewer rounds to `n`, and none with fewer significant digits does either: `k / 100` written
/// out is the shortest round-tripping text, the one Number::toString prints.
fn hundredths(n: f64) -> Option<i64> {
    if n.abs() >= 1e13 {
        return None;
    }
    // Rounded half away from zero by a conversion (`as` truncates) rather than `f64::round`,
    // a library call on x86_64 without SSE4.1 and on armv7. Should the addition round across
    // a half, `k` is one off and fails the check below: Ryū then writes the same digits.
    let x = n * 100.0;
    let k = (x + 0.5f64.copysign(x)) as i64;
    // IEEE division rounds correctly, so this holds exactly when "k/100" parses to `n`.
    (k as f64 / 100.0 == n).then_some(k)
}

/// Keys of a plain object read without a property table (the usual payload has a handful).
const PLAIN_KEYS: usize = 16;

/// An object's own enumerable string keys, in property order (what JSON.stringify walks),
/// released on drop. A plain object's come from the engine's shape directly (vendor patch 0006:
/// ~1,400 instructions less for a six-key reading); any other object's from
/// `JS_GetOwnPropertyNames`.
struct Keys {
    ctx: *mut qjs::JSContext,
    list: KeyList,
}

enum KeyList {
    Plain([qjs::JSAtom; PLAIN_KEYS], usize),
    Table(*mut qjs::JSPropertyEnum, u32),
}

impl Keys {
    fn of(ctx: &Ctx<'_>, o: &Object<'_>) -> rquickjs::Result<Keys> {
        let ctx = ctx.as_raw().as_ptr();
        let mut atoms = [0; PLAIN_KEYS];
        // SAFETY: `ctx` and `o` are live; the atoms it writes (at most PLAIN_KEYS) are
        // duplicated and released in drop.
        let n = unsafe {
            qjs::JS_GetOwnPlainKeys(ctx, o.as_raw(), atoms.as_mut_ptr(), PLAIN_KEYS as _)
        };
        if let Ok(n) = usize::try_from(n) {
            return Ok(Keys {
                ctx,
                list: KeyList::Plain(atoms, n),
            });
        }
        let (mut tab, mut len) = (std::ptr::null_mut(), 0);
        let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as std::ffi::c_int;
        // SAFETY: `ctx` and `o` are live; the table is released in drop.
        if unsafe { qjs::JS_GetOwnPropertyNames(ctx, &mut tab, &mut len, o.as_raw(), flags) } < 0 {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Keys {
            ctx,
            list: KeyList::Table(tab, len),
        })
    }

    fn atoms(&self) -> impl Iterator<Item = qjs::JSAtom> + '_ {
        let (plain, tab, len) = match &self.list {
            KeyList::Plain(atoms, n) => (&atoms[..*n], std::ptr::null_mut(), 0),
            KeyList::Table(tab, len) => (&[][..], *tab, *len as usize),
        };
        // SAFETY: QuickJS filled `len` entries at `tab` (none when `tab` is null).
        let table = (0..len).map(move |i| unsafe { (*tab.add(i)).atom });
        plain.iter().copied().chain(table)
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        match &self.list {
            KeyList::Plain(atoms, n) => {
                for &atom in &atoms[..*n] {
                    // SAFETY: duplicated for this list by JS_GetOwnPlainKeys.
                    unsafe { qjs::JS_FreeAtom(self.ctx, atom) }
                }
            }
            // SAFETY: the table and its atoms came from JS_GetOwnPropertyNames of this context.
            KeyList::Table(tab, len) => unsafe { qjs::JS_FreePropertyEnum(self.ctx, *tab, *len) },
        }
    }
}

/// `o[atom]` (getters run, as JSON.stringify runs them).
fn get<'js>(ctx: &Ctx<'js>, o: &Object<'js>, atom: qjs::JSAtom) -> rquickjs::Result<Value<'js>> {
    // SAFETY: `ctx`, `o` and `atom` are live; the result is owned and handed to Value.
    unsafe {
        let v = qjs::JS_GetProperty(ctx.as_raw().as_ptr(), o.as_raw(), atom);
        if qjs::JS_IsException(v) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), v))
    }
}

/// An [`Atom`] of its own for a key of a [`Keys`] list (the engine's path needs one).
fn atom_of<'js>(ctx: &Ctx<'js>, atom: qjs::JSAtom) -> rquickjs::Result<Atom<'js>> {
    // SAFETY: `atom` is held by the key list; the key value is owned and handed to Value.
    let key = unsafe {
        let v = qjs::JS_AtomToValue(ctx.as_raw().as_ptr(), atom);
        if qjs::JS_IsException(v) {
            return Err(rquickjs::Error::Exception);
        }
        Value::from_raw(ctx.clone(), v)
    };
    Atom::from_value(ctx.clone(), &key)
}

/// Slots of the [`KeyCache`]: more than the keys a gateway script's payloads use.
const KEY_SLOTS: usize = 128;

/// Object keys already written, as their `"key":` text, by atom. Every reading's literal has the
/// same key atoms, and writing a key from the engine (its text, a UTF-8 check, the quoting) costs
/// ~400 instructions where a hit costs a compare and a copy. Direct-mapped by atom id; each
/// cached atom is held (`JS_DupAtom`), so its id cannot come to name another string while it is
/// here. [`KeyCache::clear`] releases them; it runs when the script's runtime closes.
struct KeyCache {
    rt: *mut qjs::JSRuntime,
    slots: Vec<Option<(qjs::JSAtom, Box<str>)>>,
}

impl KeyCache {
    fn new(ctx: &Ctx<'_>) -> Self {
        Self {
            // SAFETY: the context is live; its runtime outlives the cache (see `clear`).
            rt: unsafe { qjs::JS_GetRuntime(ctx.as_raw().as_ptr()) },
            slots: vec![None; KEY_SLOTS],
        }
    }

    /// Appends `"key":` for `atom` (held by the caller's key list); false, with nothing
    /// written, when the key is not UTF-8 (a lone surrogate: the engine must write it).
    fn write(
        &mut self,
        ctx: &Ctx<'_>,
        atom: qjs::JSAtom,
        out: &mut String,
    ) -> rquickjs::Result<bool> {
        let slot = &mut self.slots[atom as usize % KEY_SLOTS];
        if let Some((cached, text)) = slot {
            if *cached == atom {
                out.push_str(text);
                return Ok(true);
            }
        }
        let name = Text::of_atom(ctx, atom)?;
        let Some(name) = name.as_str() else {
            return Ok(false);
        };
        let mut text = String::with_capacity(name.len() + 3);
        quote(&mut text, name);
        text.push(':');
        out.push_str(&text);
        // SAFETY: `atom` is live (held by the key list); the new reference is released on
        // eviction or in `clear`, the old one was taken here.
        unsafe {
            qjs::JS_DupAtom(ctx.as_raw().as_ptr(), atom);
            if let Some((old, _)) = slot.replace((atom, text.into_boxed_str())) {
                qjs::JS_FreeAtomRT(self.rt, old);
            }
        }
        Ok(true)
    }

    /// Releases the cached atoms; must run before the runtime is freed.
    fn clear(&mut self) {
        for slot in &mut self.slots {
            if let Some((atom, _)) = slot.take() {
                // SAFETY: taken in `write`; the runtime is still alive (see the type's doc).
                unsafe { qjs::JS_FreeAtomRT(self.rt, atom) }
            }
        }
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
    keys: Rc<RefCell<KeyCache>>,
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
        } else if v.is_string() {
            // A lone surrogate is not UTF-8: the engine escapes it (\udxxx).
            let text = Text::of_value(&self.ctx, v)?;
            let Some(s) = text.as_str() else {
                return Ok(Err(Unsupported));
            };
            quote(&mut self.out, s);
        } else if let Some(b) = v.as_bool() {
            self.out.push_str(if b { "true" } else { "false" });
        } else if v.is_null() {
            self.out.push_str("null");
        } else if v.is_undefined() || v.is_symbol() || v.is_function() {
            return Ok(Ok(Wrote::Nothing));
        } else if v.is_object() {
            // SAFETY: an object (its tag, just checked) is an `Object`; `as_object` would ask it
            // first whether it is an array, a constructor, a function, a promise, an error or a
            // proxy (this and promise.rs's probe: ~220 instructions a reading, measured).
            let o = unsafe { v.ref_object() };
            if depth >= MAX_DEPTH || v.is_proxy() {
                return Ok(Err(Unsupported));
            }
            let array = v.is_array();
            let proto = if array {
                if self.array_proto.is_none() {
                    self.array_proto = Some(class_proto(&self.ctx, CLASS_ARRAY)?);
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
        let keys = Keys::of(&self.ctx, o)?;
        for atom in keys.atoms() {
            let value = get(&self.ctx, o, atom)?;
            let mark = self.out.len();
            if !first {
                self.out.push(',');
            }
            // Not held across `get` or `value`: a getter may stringify too.
            let named = self
                .keys
                .borrow_mut()
                .write(&self.ctx, atom, &mut self.out)?;
            let wrote = if named {
                self.value(&value, depth + 1)?
            } else {
                Err(Unsupported)
            };
            match wrote {
                Ok(Wrote::Text) => first = false,
                Ok(Wrote::Nothing) => self.out.truncate(mark),
                Err(Unsupported) => {
                    self.out.truncate(mark);
                    let key = atom_of(&self.ctx, atom)?;
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

/// QuickJS's class ids of plain objects and arrays (quickjs.c: `JS_CLASS_OBJECT = 1`,
/// `JS_CLASS_ARRAY`): their prototypes without two property lookups per call. [`install`]
/// checks them against `Object.prototype` and `Array.prototype` (both read-only) first.
const CLASS_OBJECT: qjs::JSClassID = 1;
const CLASS_ARRAY: qjs::JSClassID = 2;

/// The context's prototype of objects of class `id`.
fn class_proto<'js>(ctx: &Ctx<'js>, id: qjs::JSClassID) -> rquickjs::Result<Object<'js>> {
    // SAFETY: both ids are below the runtime's class count (built-in classes); the result is
    // an owned reference handed to Value.
    let proto = unsafe {
        Value::from_raw(
            ctx.clone(),
            qjs::JS_GetClassProto(ctx.as_raw().as_ptr(), id),
        )
    };
    proto.into_object().ok_or(rquickjs::Error::Unknown)
}

/// Whether [`CLASS_OBJECT`] and [`CLASS_ARRAY`] are the classes of `{}` and `[]` here.
fn class_ids_hold(ctx: &Ctx<'_>) -> rquickjs::Result<bool> {
    let prototype = |name: &str| -> rquickjs::Result<Object<'_>> {
        ctx.globals().get::<_, Object<'_>>(name)?.get("prototype")
    };
    Ok(class_proto(ctx, CLASS_OBJECT)? == prototype("Object")?
        && class_proto(ctx, CLASS_ARRAY)? == prototype("Array")?)
}

/// Replaces `JSON.stringify` with the fast path; returns the engine's function, which stays
/// the fallback (and the reference the conformance test compares with). Should an engine
/// update renumber its classes, the engine's function stays in place (correct, slower).
pub fn install<'js>(ctx: &Ctx<'js>, shared: &Shared) -> rquickjs::Result<Function<'js>> {
    let json: Object<'js> = ctx.globals().get("JSON")?;
    let engine: Function<'js> = json.get("stringify")?;
    if !class_ids_hold(ctx)? {
        tracing::warn!("QuickJS class ids changed: JSON.stringify runs without its fast path");
        return Ok(engine);
    }
    json.prop(engine_key(ctx)?, Property::from(engine.clone()))?; // not enumerable, not writable
    let keys = Rc::new(RefCell::new(KeyCache::new(ctx)));
    {
        let keys = keys.clone();
        shared.on_close(move || keys.borrow_mut().clear());
    }
    let fast = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>,
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
            let mut walker = Walker {
                engine: None,
                object_proto: class_proto(&ctx, CLASS_OBJECT)?,
                array_proto: None,
                to_json: Atom::from_predefined(ctx.clone(), PredefinedAtom::ToJSON),
                keys: keys.clone(),
                out: String::with_capacity(256), // a reading's JSON, without regrowing
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
    use crate::config::Limits;

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

    /// The fast path finds the prototypes of `{}` and `[]` by class id; an engine update that
    /// renumbers its classes would silently turn it off, so this says so.
    #[test]
    fn class_ids_are_those_of_plain_objects_and_arrays() {
        let rt = rquickjs::Runtime::new().expect("runtime");
        let cx = rquickjs::Context::full(&rt).expect("context");
        cx.with(|ctx| {
            assert!(class_ids_hold(&ctx).expect("prototypes"));
            let shared = Shared::new(&Limits::default());
            install(&ctx, &shared).expect("install");
            let text: String = ctx
                .eval(r#"JSON.stringify({ s: 'bme280', n: [1, 2.5, null], "k\u0000": true })"#)
                .expect("stringify");
            assert_eq!(text, r#"{"s":"bme280","n":[1,2.5,null],"k\u0000":true}"#);
            shared.close();
        });
    }

    /// The key cache is keyed by atom id: more keys than slots, and names made at run time
    /// (fresh atoms, freed with their objects, whose ids come back for other names) must still
    /// be written as the engine writes them, round after round.
    #[test]
    fn cached_keys_stay_right_across_evictions_and_reused_atom_ids() {
        let rt = rquickjs::Runtime::new().expect("runtime");
        let cx = rquickjs::Context::full(&rt).expect("context");
        let shared = Shared::new(&Limits::default());
        cx.with(|ctx| {
            install(&ctx, &shared).expect("install");
            let mismatches: i32 = ctx
                .eval(
                    r#"
                    const engine = JSON[Symbol.for('ganglion.json.engine')];
                    let bad = 0;
                    for (let round = 0; round < 4; round++) {
                      const o = {};
                      for (let i = 0; i < 3 * 128; i++) o[`k${(i * 7 + round) % 500}-${round}"é`] = i;
                      const outer = { temperature: round, o, humidity: [o, { seq: round }] };
                      if (JSON.stringify(outer) !== engine(outer)) bad++;
                      if (JSON.stringify({ seq: round, temperature: 1 }) !== `{"seq":${round},"temperature":1}`) bad++;
                    }
                    bad"#,
                )
                .expect("eval");
            assert_eq!(mismatches, 0);
        });
        shared.close(); // releases the cached atoms before the runtime goes
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

    /// The two-decimal shortcut against Ryū (ECMAScript's digits) over a million values: exact
    /// hundredths of every size up to 10^13, neighbours one ulp away (which need more digits),
    /// and arbitrary doubles.
    #[test]
    fn hundredths_print_as_ryu_does() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let mut shortcut = 0;
        for i in 0..1_000_000u64 {
            let r = next();
            let magnitude = 10f64.powi((r % 16) as i32 - 2); // 0.01 .. 10^13
            let x = match i % 4 {
                0 => ((r >> 8) % 100_000) as f64 / 100.0,
                1 => ((r >> 8) as f64 / u64::MAX as f64 * magnitude * 100.0).round() / 100.0,
                2 => {
                    let h = ((r >> 8) as f64 / u64::MAX as f64 * magnitude * 100.0).round() / 100.0;
                    f64::from_bits(
                        h.to_bits()
                            .wrapping_add(if r & 1 == 0 { 1 } else { u64::MAX }),
                    )
                }
                _ => f64::from_bits((r >> 2) & 0x42ff_ffff_ffff_ffff),
            };
            let x = if r & (1 << 60) != 0 { -x } else { x };
            if !x.is_finite() || x == 0.0 || x.fract() == 0.0 {
                continue;
            }
            if hundredths(x).is_some() {
                shortcut += 1;
            }
            assert_eq!(n(x), ryu_js::Buffer::new().format_finite(x), "{x:e}");
        }
        assert!(
            shortcut > 400_000,
            "the shortcut was taken {shortcut} times"
        );
    }

    #[test]
    fn numbers_print_as_ecmascript_does() {
        for (x, text) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (71.23, "71.23"),
            (-0.05, "-0.05"),
            (1013.1, "1013.1"),
            (9999999999999.99, "9999999999999.99"),
            (0.07, "0.07"),
            (20.000000000000004, "20.000000000000004"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740993.0, "9007199254740992"),
            (9007199254740991.0, "9007199254740991"),
            (-9007199254740991.0, "-9007199254740991"),
            (18014398509481984.0, "18014398509481984"),
            (123456789012345680000.0, "123456789012345680000"),
            (-4294967296.0, "-4294967296"),
            (1763884800000.0, "1763884800000"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
            (f64::NEG_INFINITY, "null"),
        ] {
            assert_eq!(n(x), text, "{x:e}");
        }
    }
}
