// Conformance tests for JSON.stringify, which Ganglion replaces with a native fast path
// (agent/src/js/json.rs) that hands everything it does not cover to the engine's own. Runs
// unchanged under Node.js (the reference) and under Ganglion; prints `ok json <count>`.
//
// 1. Edge cases with the text Node.js prints.
// 2. 20,000 random values (fixed seed) mixing what the fast path writes and what it hands over;
//    under Ganglion each result is compared with the engine's own stringify, and under both
//    runtimes the fingerprint of all results must equal Node's.

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

function same(a, b, what) {
  if (!Object.is(a, b)) throw new Error(`check failed: ${what}: got ${String(a)}, want ${String(b)}`);
}
function caught(fn, what) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error(`check failed: ${what}: expected a throw`);
}

const internal = globalThis[Symbol.for('ganglion.internal')];
const engine = internal && internal.native.engineStringify;

test('plain values and readings', () => {
  const cases = [
    [{ sensor: 'bme280-0', seq: 1, time: 1763884800000, temperature_f: 71.23, humidity: 45.6, pressure: 1013.25 },
      '{"sensor":"bme280-0","seq":1,"time":1763884800000,"temperature_f":71.23,"humidity":45.6,"pressure":1013.25}'],
    [[1, 'a', true, null, false], '[1,"a",true,null,false]'],
    ['a"b\\c\n\u0001\u007f', '"a\\"b\\\\c\\n\\u0001\u007f"'],
    [{ a: undefined, b: () => 1, c: Symbol('s'), d: 1 }, '{"d":1}'],
    [[undefined, () => 1, Symbol('s')], '[null,null,null]'],
    [{ 2: 'b', 1: 'a', z: 1, y: 2 }, '{"1":"a","2":"b","z":1,"y":2}'],
    [[NaN, Infinity, -Infinity, -0, 0.1 + 0.2, 1e21, 1e-7, 5e-324], '[null,null,null,0,0.30000000000000004,1e+21,1e-7,5e-324]'],
    [new Date(0), '"1970-01-01T00:00:00.000Z"'],
    [{ when: new Date(0) }, '{"when":"1970-01-01T00:00:00.000Z"}'],
    [{ m: new Map([[1, 2]]), s: new Set([1]) }, '{"m":{},"s":{}}'],
    [{ n: new Number(3), s: new String('x'), b: new Boolean(false) }, '{"n":3,"s":"x","b":false}'],
    [new Uint8Array([1, 2]), '{"0":1,"1":2}'],
    [{ '\ud800': '\udc00x' }, '{"\\ud800":"\\udc00x"}'],
    ['😀é€', '"😀é€"'],
    [Object.assign(Object.create(null), { a: 1 }), '{"a":1}'],
    [{ toJSON: (k) => `key:${k}` }, '"key:"'],
    [{ x: { toJSON: (k) => `key:${k}` } }, '{"x":"key:x"}'],
    [[{ toJSON: (k) => `key:${k}` }], '["key:0"]'],
    [{ e: new Error('boom') }, '{"e":{}}'],
    [[[[]], {}], '[[[]],{}]'],
    ['', '""'],
    [42, '42'],
  ];
  cases.forEach(([v, text], i) => same(JSON.stringify(v), text, `case ${i}`));
  same(JSON.stringify(undefined), undefined, 'undefined');
  same(JSON.stringify(() => 1), undefined, 'function');
  same(JSON.stringify({ a: [1, { b: 2 }] }, null, 2), '{\n  "a": [\n    1,\n    {\n      "b": 2\n    }\n  ]\n}', 'indent');
  same(JSON.stringify({ a: 1, b: 2 }, ['b']), '{"b":2}', 'replacer list');
  same(JSON.stringify({ a: 1 }, (k, v) => (typeof v === 'number' ? v * 2 : v)), '{"a":2}', 'replacer function');
  same(JSON.stringify.name, 'stringify', 'name');
});

test('keys and two-decimal numbers of plain objects', () => {
  const o = { a: 1, b: 2, c: 3 };
  delete o.b;
  o.d = 4;
  Object.defineProperty(o, 'hidden', { value: 5, enumerable: false });
  o[Symbol('s')] = 6;
  same(JSON.stringify(o), '{"a":1,"c":3,"d":4}', 'deleted, non-enumerable and symbol keys');
  const many = {};
  for (let i = 0; i < 40; i++) many[`k${i}`] = i;
  same(JSON.stringify(many), `{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')}}`, '40 keys');
  same(JSON.stringify({ '1a': 1, '01': 2, 4294967295: 3, 4294967294: 4, z: 5, 7: 6 }),
    '{"7":6,"4294967294":4,"1a":1,"01":2,"4294967295":3,"z":5}', 'keys that look like indices');
  same(JSON.stringify({ x: 1, [-0]: 'neg', '-1': 2 }), '{"0":"neg","x":1,"-1":2}', 'zero and negative keys');
  let later = { a: 1, get b() { delete later.c; later.e = 9; return 2; }, c: 3, d: 4 };
  same(JSON.stringify(later), '{"a":1,"b":2,"d":4}', 'a getter deleting a later key (keys listed first)');
  // Values are read when their key's turn comes, after whatever ran for the keys before it.
  const changed = { a: 1, get b() { changed.c = 'new'; return 2; }, c: 'old' };
  same(JSON.stringify(changed), '{"a":1,"b":2,"c":"new"}', 'a getter changing a later value');
  const viaToJSON = { a: { toJSON() { viaToJSON.b = 'changed'; delete viaToJSON.c; return 1; } }, b: 'orig', c: 3 };
  same(JSON.stringify(viaToJSON), '{"a":1,"b":"changed"}', 'toJSON of a value changing its holder');
  const nested = { x: { get y() { nested.z = 'late'; return 0; } }, z: 'early' };
  same(JSON.stringify(nested), '{"x":{"y":0},"z":"late"}', 'a nested getter changing a later value');
  same(JSON.stringify({ a: 1, get b() { return this.a + 1; }, c: 'x', d: null, e: true, f: undefined }),
    '{"a":1,"b":2,"c":"x","d":null,"e":true}', 'data properties beside an accessor');
  // A stringify inside a getter, during the outer one's walk; a long text; numbers at a half.
  const nested2 = { x: 1, inner: { get g() { return JSON.stringify({ a: 1.25, b: 'x' }); } }, y: 2.5 };
  same(JSON.stringify(nested2), '{"x":1,"inner":{"g":"{\\"a\\":1.25,\\"b\\":\\"x\\"}"},"y":2.5}', 'stringify within stringify');
  const long = 'z'.repeat(70000);
  same(JSON.stringify({ long }).length, 70011, 'a text past 64 KiB');
  same(JSON.stringify({ t: -0.5, u: 0.49999999999999994, v: 1013.25 }), '{"t":-0.5,"u":0.49999999999999994,"v":1013.25}', 'halves');
  class Reading { constructor() { this.t = 21.5; this.h = 40.25; } }
  same(JSON.stringify({ r: new Reading() }), '{"r":{"t":21.5,"h":40.25}}', 'a class instance');
  same(JSON.stringify([71.33, -0.05, 0.07, 1013.1, 9999999999999.99, 20.000000000000004, 0.1 + 0.2, 1e13 + 0.5, 123456.78]),
    '[71.33,-0.05,0.07,1013.1,9999999999999.99,20.000000000000004,0.30000000000000004,10000000000000.5,123456.78]',
    'two decimals and neighbours');
});

test('errors, getters and cycles', () => {
  const cyclic = { a: [] };
  cyclic.a.push(cyclic);
  same(caught(() => JSON.stringify(cyclic), 'cycle') instanceof TypeError, true, 'cycle is a TypeError');
  same(caught(() => JSON.stringify({ big: 1n }), 'bigint') instanceof TypeError, true, 'BigInt is a TypeError');
  const boom = new Error('getter');
  same(caught(() => JSON.stringify({ get g() { throw boom; } }), 'getter'), boom, 'getter error propagates');
  let calls = 0;
  const o = { get a() { calls++; return 1; }, d: new Date(0) };
  same(JSON.stringify(o), '{"a":1,"d":"1970-01-01T00:00:00.000Z"}', 'getter + date');
  same(calls, 1, 'getter runs once');
  let deep = 1;
  for (let i = 0; i < 200; i++) deep = [deep];
  same(JSON.stringify(deep), '['.repeat(200) + '1' + ']'.repeat(200), 'deep nesting');
});

/** mulberry32: deterministic values, the same under every runtime. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

test('random values agree with the engine and with Node', async () => {
  const next = rng(0x15011);
  const pick = (n) => next() % n;
  const numbers = () => {
    switch (pick(8)) {
      case 0: return pick(1000) - 500;
      case 1: return (next() - 2147483648) / 100;
      case 2: {
        // Scaled by plain * and / (exact IEEE steps; engines' ** may differ in the last bit).
        let x = next() / 4294967296;
        for (let e = pick(60) - 30; e !== 0; e += e > 0 ? -1 : 1) x = e > 0 ? x * 10 : x / 10;
        return x;
      }
      case 3: return [0, -0, NaN, Infinity, -Infinity, 9007199254740993, 1e21, 1e-7, 5e-324][pick(9)];
      case 4: return next() * 1048576;
      default: return Math.round(next() / 1000) / 100;
    }
  };
  const chars = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', '€', '😀', '\ud800', '\udfff', '/', '<'];
  const string = () => {
    let s = '';
    for (let i = pick(8); i > 0; i--) s += chars[pick(chars.length)];
    return s;
  };
  const leaf = () => {
    switch (pick(12)) {
      case 0: return string();
      case 1: return true;
      case 2: return null;
      case 3: return undefined;
      case 4: return () => 0;
      case 5: return Symbol('x');
      case 6: return new Date(next() * 1000);
      case 7: return { toJSON: (k) => ['k', k] };
      default: return numbers();
    }
  };
  const value = (depth) => {
    if (depth > 3 || pick(3) === 0) return leaf();
    const n = pick(5);
    if (pick(2)) {
      const a = [];
      for (let i = 0; i < n; i++) a.push(value(depth + 1));
      if (pick(10) === 0) a.length += 1; // a hole
      return a;
    }
    const o = pick(10) === 0 ? Object.create(null) : {};
    for (let i = 0; i < n; i++) o[pick(4) ? string() : String(pick(20))] = value(depth + 1);
    return o;
  };
  let fingerprint = 0x811c9dc5;
  for (let i = 0; i < 20000; i++) {
    // In slices, so no macrotask runs into the agent's CPU limit (debug builds are slow).
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 0));
    const v = value(0);
    const text = JSON.stringify(v);
    if (engine) same(text, engine(v), `random value ${i}`);
    const s = String(text);
    for (let j = 0; j < s.length; j++) fingerprint = Math.imul(fingerprint ^ s.charCodeAt(j), 16777619) >>> 0;
  }
  same(fingerprint, FINGERPRINT, 'fingerprint of all results (Node.js computed it)');
});

/** What Node.js prints for the random values above. */
const FINGERPRINT = 4223389209;

let passed = 0;
for (const { name, fn } of tests) {
  try {
    await fn();
    passed++;
  } catch (err) {
    console.error(`FAIL json: ${name}: ${err && err.message}\n${err && err.stack}`);
  }
}
if (passed !== tests.length) throw new Error(`${tests.length - passed} json test(s) failed`);
console.log(`ok json ${passed}`);
