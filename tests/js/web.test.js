// Conformance tests for the web globals (TextEncoder/TextDecoder, atob/btoa,
// AbortController/AbortSignal, Event/EventTarget, DOMException,
// structuredClone). Runs unchanged under Node.js (the reference) and under
// Ganglion; prints `ok web <count>` on success and throws on failure.
import assert from 'node:assert';

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
const bytes = (u8) => Array.from(u8);

test('globals exist', () => {
  for (const name of ['TextEncoder', 'TextDecoder', 'atob', 'btoa', 'AbortController', 'AbortSignal',
    'Event', 'EventTarget', 'DOMException', 'structuredClone']) {
    assert.strictEqual(typeof globalThis[name], 'function', name);
  }
  assert.strictEqual(Object.keys(globalThis).includes('TextEncoder'), false, 'not enumerable');
});

test('TextEncoder.encode', () => {
  const enc = new TextEncoder();
  assert.strictEqual(enc.encoding, 'utf-8');
  const out = enc.encode('aé€😀');
  assert.ok(out instanceof Uint8Array);
  assert.deepStrictEqual(bytes(out), [0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]);
  assert.strictEqual(enc.encode().length, 0);
  assert.strictEqual(enc.encode('').length, 0);
  assert.deepStrictEqual(bytes(enc.encode('\ud800')), [0xef, 0xbf, 0xbd]);
  assert.deepStrictEqual(bytes(enc.encode(12)), [0x31, 0x32]);
});

test('TextEncoder.encodeInto never splits a character', () => {
  const enc = new TextEncoder();
  const dst = new Uint8Array(3);
  assert.deepStrictEqual(enc.encodeInto('a€b', dst), { read: 1, written: 1 });
  assert.deepStrictEqual(enc.encodeInto('€b', dst), { read: 1, written: 3 });
  const big = new Uint8Array(8);
  assert.deepStrictEqual(enc.encodeInto('x😀y', big), { read: 4, written: 6 });
  assert.deepStrictEqual(bytes(big.subarray(0, 6)), [0x78, 0xf0, 0x9f, 0x98, 0x80, 0x79]);
  assert.deepStrictEqual(enc.encodeInto('😀', new Uint8Array(3)), { read: 0, written: 0 });
});

test('TextDecoder basics, BOM and inputs', () => {
  const dec = new TextDecoder();
  assert.strictEqual(dec.encoding, 'utf-8');
  assert.strictEqual(dec.fatal, false);
  assert.strictEqual(dec.ignoreBOM, false);
  const data = new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9]);
  assert.strictEqual(dec.decode(data), 'hé', 'BOM stripped');
  assert.strictEqual(dec.decode(data.buffer), 'hé', 'ArrayBuffer');
  assert.strictEqual(dec.decode(new DataView(data.buffer, 3)), 'hé', 'DataView');
  assert.strictEqual(dec.decode(data.subarray(4)), 'é', 'view offset respected');
  assert.strictEqual(dec.decode(), '');
  assert.strictEqual(new TextDecoder('utf-8', { ignoreBOM: true }).decode(data), '\ufeffhé');
  assert.strictEqual(dec.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf])), '\ufeff', 'only one BOM');
  assert.strictEqual(new TextDecoder(' UTF8 ').encoding, 'utf-8');
  assert.strictEqual(new TextDecoder('unicode-1-1-utf-8').encoding, 'utf-8');
  assert.throws(() => new TextDecoder('no-such-encoding'), RangeError);
  assert.throws(() => dec.decode('string'), TypeError);
});

test('TextDecoder replacement and fatal mode', () => {
  const bad = new Uint8Array([0x61, 0xe2, 0x82, 0x41, 0xed, 0xa0, 0x80, 0xff, 0xf0, 0x9f]);
  assert.strictEqual(new TextDecoder().decode(bad), 'a\ufffdA\ufffd\ufffd\ufffd\ufffd\ufffd');
  const fatal = new TextDecoder('utf-8', { fatal: true });
  assert.strictEqual(fatal.fatal, true);
  assert.throws(() => fatal.decode(bad), TypeError);
  assert.throws(() => fatal.decode(new Uint8Array([0xc3])), TypeError, 'truncated at end');
  assert.strictEqual(fatal.decode(new Uint8Array([0x6f, 0x6b])), 'ok', 'usable after an error');
});

test('TextDecoder streaming keeps partial sequences', () => {
  const dec = new TextDecoder();
  const euro = [0xe2, 0x82, 0xac];
  assert.strictEqual(dec.decode(new Uint8Array([0x61, euro[0]]), { stream: true }), 'a');
  assert.strictEqual(dec.decode(new Uint8Array([euro[1]]), { stream: true }), '');
  assert.strictEqual(dec.decode(new Uint8Array([euro[2], 0x62]), { stream: true }), '€b');
  assert.strictEqual(dec.decode(new Uint8Array([0xf0, 0x9f]), { stream: true }), '');
  assert.strictEqual(dec.decode(), '\ufffd', 'flush of an incomplete sequence');
  const bom = new TextDecoder();
  assert.strictEqual(bom.decode(new Uint8Array([0xef, 0xbb]), { stream: true }), '');
  assert.strictEqual(bom.decode(new Uint8Array([0xbf, 0x41])), 'A', 'BOM split across chunks');
  assert.strictEqual(bom.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x42])), 'B', 'BOM again after reset');
});

test('TextDecoder utf-16le and windows-1252', () => {
  const u16 = new TextDecoder('utf-16le');
  assert.strictEqual(u16.encoding, 'utf-16le');
  assert.strictEqual(u16.decode(new Uint8Array([0x68, 0x00, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde])), 'h€😀');
  assert.strictEqual(u16.decode(new Uint8Array([0xff, 0xfe, 0x41, 0x00])), 'A', 'BOM stripped');
  const latin = new TextDecoder('latin1');
  assert.strictEqual(latin.encoding, 'windows-1252');
  // Bytes 0x80..0x9f are left out: WHATWG maps them to windows-1252 (€, Ÿ, ...)
  // but Node 20 decodes them as latin1 control characters.
  assert.strictEqual(latin.decode(new Uint8Array([0x41, 0xe9, 0xff, 0xa0])), 'Aéÿ\xa0');
});

test('atob and btoa', () => {
  assert.strictEqual(btoa('hello'), 'aGVsbG8=');
  assert.strictEqual(btoa(''), '');
  assert.strictEqual(btoa('\xff\xfe'), '//4=');
  assert.strictEqual(atob('aGVsbG8='), 'hello');
  assert.strictEqual(atob('aGVsbG8'), 'hello', 'padding optional');
  assert.strictEqual(atob(' aGVs\nbG8= '), 'hello', 'ASCII whitespace ignored');
  assert.strictEqual(atob('//4='), '\xff\xfe');
  for (let i = 0; i < 256; i += 7) {
    const s = String.fromCharCode(i, (i * 3) & 255, 255 - i);
    assert.strictEqual(atob(btoa(s)), s);
  }
  const invalid = (fn, what) => assert.throws(fn, (err) => {
    assert.ok(err instanceof Error, `${what}: an Error`);
    assert.strictEqual(err.name, 'InvalidCharacterError', what);
    return true;
  }, what);
  invalid(() => btoa('\u0100'), 'btoa of a non-latin1 char');
  invalid(() => atob('a'), 'length % 4 == 1');
  invalid(() => atob('ab!c'), 'bad character');
  invalid(() => atob('a===='), 'too much padding');
  invalid(() => atob('-_=='), 'base64url alphabet');
  // TypeError in Node; QuickJS-ng's native atob decodes 'undefined' and throws InvalidCharacterError.
  assert.throws(() => atob());
});

test('DOMException', () => {
  const e = new DOMException('stopped', 'AbortError');
  assert.ok(e instanceof DOMException);
  assert.ok(e instanceof Error);
  assert.strictEqual(e.name, 'AbortError');
  assert.strictEqual(e.message, 'stopped');
  assert.strictEqual(e.code, 20);
  const d = new DOMException();
  assert.strictEqual(d.name, 'Error');
  assert.strictEqual(d.message, '');
  assert.strictEqual(d.code, 0);
  assert.strictEqual(new DOMException('x', 'DataCloneError').code, 25);
  assert.strictEqual(new DOMException('x', 'TimeoutError').code, 23);
});

test('AbortController and AbortSignal', () => {
  const ac = new AbortController();
  const { signal } = ac;
  assert.strictEqual(ac.signal, signal);
  assert.ok(signal instanceof EventTarget);
  assert.strictEqual(signal.aborted, false);
  assert.strictEqual(signal.reason, undefined);
  signal.throwIfAborted();
  const order = [];
  signal.onabort = (ev) => order.push(`onabort:${ev.type}`);
  signal.addEventListener('abort', function (ev) {
    order.push(`listener:${ev.type}:${ev.target === signal}:${this === signal}`);
  });
  ac.abort();
  ac.abort('again');
  assert.deepStrictEqual(order, ['onabort:abort', 'listener:abort:true:true']);
  assert.strictEqual(signal.aborted, true);
  assert.ok(signal.reason instanceof Error);
  assert.strictEqual(signal.reason.name, 'AbortError');
  assert.throws(() => signal.throwIfAborted(), (err) => err === signal.reason);

  const custom = new AbortController();
  const why = new Error('shutdown');
  custom.abort(why);
  assert.strictEqual(custom.signal.reason, why);

  const pre = AbortSignal.abort();
  assert.strictEqual(pre.aborted, true);
  assert.strictEqual(pre.reason.name, 'AbortError');
  assert.strictEqual(AbortSignal.abort('r').reason, 'r');
  assert.throws(() => new AbortSignal(), TypeError);
});

test('AbortSignal.any', () => {
  const a = new AbortController();
  const b = new AbortController();
  const any = AbortSignal.any([a.signal, b.signal]);
  assert.strictEqual(any.aborted, false);
  let fired = 0;
  any.addEventListener('abort', () => fired++);
  b.abort('b-reason');
  assert.strictEqual(any.aborted, true);
  assert.strictEqual(any.reason, 'b-reason');
  a.abort('a-reason');
  assert.strictEqual(any.reason, 'b-reason');
  assert.strictEqual(fired, 1);
  assert.strictEqual(AbortSignal.any([AbortSignal.abort('x')]).reason, 'x');
});

test('AbortSignal.timeout', async () => {
  const signal = AbortSignal.timeout(1);
  assert.strictEqual(signal.aborted, false);
  const guard = setTimeout(() => {}, 10000); // keeps the loop alive: the timeout timer is unref'd
  try {
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  } finally {
    clearTimeout(guard);
  }
  assert.strictEqual(signal.aborted, true);
  assert.strictEqual(signal.reason.name, 'TimeoutError');
  assert.throws(() => AbortSignal.timeout(-1), RangeError);
});

test('Event basics', () => {
  const e = new Event('ping');
  assert.strictEqual(e.type, 'ping');
  assert.strictEqual(e.bubbles, false);
  assert.strictEqual(e.cancelable, false);
  assert.strictEqual(e.defaultPrevented, false);
  assert.strictEqual(e.isTrusted, false);
  assert.strictEqual(e.target, null);
  assert.strictEqual(e.currentTarget, null);
  assert.strictEqual(e.eventPhase, 0);
  assert.strictEqual(typeof e.timeStamp, 'number');
  e.preventDefault();
  assert.strictEqual(e.defaultPrevented, false, 'not cancelable');
  const c = new Event('x', { cancelable: true, bubbles: true });
  c.preventDefault();
  assert.strictEqual(c.defaultPrevented, true);
  assert.strictEqual(c.bubbles, true);
  assert.throws(() => new Event(), TypeError);
  assert.strictEqual(Event.AT_TARGET, 2);
});

test('EventTarget listeners, options and dispatch', () => {
  const t = new EventTarget();
  const calls = [];
  const fn = function (ev) {
    calls.push(['fn', this === t, ev.currentTarget === t, ev.eventPhase]);
  };
  t.addEventListener('x', fn);
  t.addEventListener('x', fn); // duplicate ignored
  t.addEventListener('x', { handleEvent: (ev) => calls.push(['obj', ev.type]) });
  t.addEventListener('x', () => calls.push(['once']), { once: true });
  const ev = new Event('x');
  assert.strictEqual(t.dispatchEvent(ev), true);
  assert.strictEqual(ev.target, t);
  assert.strictEqual(ev.currentTarget, null, 'cleared after dispatch');
  t.dispatchEvent(new Event('x'));
  assert.deepStrictEqual(calls, [
    ['fn', true, true, 2], ['obj', 'x'], ['once'],
    ['fn', true, true, 2], ['obj', 'x'],
  ]);
  t.removeEventListener('x', fn);
  calls.length = 0;
  t.dispatchEvent(new Event('x'));
  assert.deepStrictEqual(calls, [['obj', 'x']]);
  assert.throws(() => t.dispatchEvent({ type: 'x' }), TypeError);
});

test('EventTarget cancelation, stopImmediatePropagation and removal during dispatch', () => {
  const t = new EventTarget();
  const seen = [];
  const late = () => seen.push('late');
  t.addEventListener('go', (e) => {
    seen.push('first');
    e.preventDefault();
    t.removeEventListener('go', late);
  });
  t.addEventListener('go', late);
  assert.strictEqual(t.dispatchEvent(new Event('go', { cancelable: true })), false);
  assert.deepStrictEqual(seen, ['first'], 'removed listener does not run');

  const s = new EventTarget();
  const order = [];
  s.addEventListener('go', (e) => {
    order.push(1);
    e.stopImmediatePropagation();
  });
  s.addEventListener('go', () => order.push(2));
  s.dispatchEvent(new Event('go'));
  assert.deepStrictEqual(order, [1]);
});

test('EventTarget signal option removes the listener on abort', () => {
  const t = new EventTarget();
  const ac = new AbortController();
  let n = 0;
  t.addEventListener('tick', () => n++, { signal: ac.signal });
  t.dispatchEvent(new Event('tick'));
  ac.abort();
  t.dispatchEvent(new Event('tick'));
  assert.strictEqual(n, 1);
  t.addEventListener('tick', () => n++, { signal: AbortSignal.abort() });
  t.dispatchEvent(new Event('tick'));
  assert.strictEqual(n, 1, 'already-aborted signal adds nothing');
});

test('EventTarget subclass', () => {
  class Sensor extends EventTarget {
    read(v) {
      const e = new Event('reading');
      e.value = v;
      this.dispatchEvent(e);
    }
  }
  const s = new Sensor();
  let got;
  s.addEventListener('reading', (e) => {
    got = e.value;
  });
  s.read(42);
  assert.strictEqual(got, 42);
});

test('structuredClone of plain data', () => {
  const src = { n: 1, s: 'x', b: true, u: undefined, nil: null, big: 10n, neg: -0, nan: NaN, arr: [1, { d: 2 }], nested: { deep: { v: [3] } } };
  const copy = structuredClone(src);
  assert.deepStrictEqual(copy, src);
  assert.notStrictEqual(copy, src);
  assert.notStrictEqual(copy.arr, src.arr);
  assert.notStrictEqual(copy.nested.deep, src.nested.deep);
  assert.ok(Object.is(copy.neg, -0));
  assert.ok('u' in copy);
  for (const p of [1, 'a', null, undefined, true, 5n]) assert.strictEqual(structuredClone(p), p);
});

test('structuredClone of built-in types', () => {
  const d = new Date(1234567890);
  const dc = structuredClone(d);
  assert.ok(dc instanceof Date);
  assert.notStrictEqual(dc, d);
  assert.strictEqual(dc.getTime(), d.getTime());

  const re = /ab+c/gi;
  re.lastIndex = 3;
  const rc = structuredClone(re);
  assert.ok(rc instanceof RegExp);
  assert.strictEqual(rc.source, 'ab+c');
  assert.strictEqual(rc.flags, 'gi');
  assert.strictEqual(rc.lastIndex, 0);

  const m = new Map([[{ k: 1 }, new Set([1, 2])], ['s', [1]]]);
  const mc = structuredClone(m);
  assert.ok(mc instanceof Map);
  assert.deepStrictEqual(mc, m);
  assert.notStrictEqual([...mc.keys()][0], [...m.keys()][0]);

  const ab = new Uint8Array([1, 2, 3, 4]).buffer;
  const abc = structuredClone(ab);
  assert.ok(abc instanceof ArrayBuffer);
  assert.deepStrictEqual(bytes(new Uint8Array(abc)), [1, 2, 3, 4]);
  new Uint8Array(abc)[0] = 9;
  assert.strictEqual(new Uint8Array(ab)[0], 1, 'independent copy');

  const f = new Float32Array([1.5, -2]);
  const fc = structuredClone(f);
  assert.ok(fc instanceof Float32Array);
  assert.deepStrictEqual(Array.from(fc), [1.5, -2]);

  const buf = new ArrayBuffer(8);
  const pair = { a: new Uint8Array(buf, 2, 2), b: new Uint16Array(buf) };
  const pc = structuredClone(pair);
  assert.strictEqual(pc.a.buffer, pc.b.buffer, 'views keep sharing one buffer');
  assert.strictEqual(pc.a.byteOffset, 2);
  assert.strictEqual(pc.a.length, 2);
  const dv = structuredClone(new DataView(buf, 1, 3));
  assert.ok(dv instanceof DataView);
  assert.strictEqual(dv.byteOffset, 1);
  assert.strictEqual(dv.byteLength, 3);

  const boxed = structuredClone(new Number(3));
  assert.strictEqual(typeof boxed, 'object');
  assert.strictEqual(boxed.valueOf(), 3);
});

test('structuredClone of errors', () => {
  const e = new TypeError('bad sensor');
  const ec = structuredClone(e);
  assert.ok(ec instanceof TypeError);
  assert.notStrictEqual(ec, e);
  assert.strictEqual(ec.name, 'TypeError');
  assert.strictEqual(ec.message, 'bad sensor');
  class CustomError extends Error {}
  const cc = structuredClone(new CustomError('c'));
  assert.ok(cc instanceof Error);
  assert.strictEqual(cc.message, 'c');
});

test('structuredClone keeps cycles and shared references', () => {
  const shared = { v: 1 };
  const obj = { a: shared, b: shared, list: [shared] };
  obj.self = obj;
  const c = structuredClone(obj);
  assert.strictEqual(c.self, c);
  assert.strictEqual(c.a, c.b);
  assert.strictEqual(c.list[0], c.a);
  assert.notStrictEqual(c.a, shared);
  const m = new Map();
  m.set('me', m);
  const mc = structuredClone(m);
  assert.strictEqual(mc.get('me'), mc);
});

test('structuredClone flattens class instances, skips hidden and symbol keys', () => {
  class Reading {
    constructor() {
      this.value = 21.5;
    }
    get doubled() {
      return this.value * 2;
    }
  }
  const r = structuredClone(new Reading());
  assert.strictEqual(Object.getPrototypeOf(r), Object.prototype);
  assert.deepStrictEqual(r, { value: 21.5 });
  const o = { visible: 1, get computed() { return 7; }, [Symbol('s')]: 2 };
  Object.defineProperty(o, 'hidden', { value: 3, enumerable: false });
  assert.deepStrictEqual(structuredClone(o), { visible: 1, computed: 7 });
});

test('structuredClone throws DataCloneError for uncloneable values', () => {
  const isCloneError = (err) => {
    assert.ok(err instanceof Error);
    assert.strictEqual(err.name, 'DataCloneError');
    return true;
  };
  assert.throws(() => structuredClone(() => 1), isCloneError);
  assert.throws(() => structuredClone(Symbol('s')), isCloneError);
  assert.throws(() => structuredClone({ nested: { fn() {} } }), isCloneError);
  assert.throws(() => structuredClone(Promise.resolve(1)), isCloneError);
  assert.throws(() => structuredClone(new WeakMap()), isCloneError);
  assert.throws(() => structuredClone(), TypeError);
});

let failed = 0;
for (const t of tests) {
  try {
    await t.fn();
  } catch (err) {
    failed++;
    console.error(`not ok - ${t.name}\n${err}\n${(err && err.stack) || ''}`);
  }
}
if (failed) throw new Error(`web: ${failed} of ${tests.length} tests failed`);
console.log(`ok web ${tests.length}`);
