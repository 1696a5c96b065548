// Differential tests, Node.js only: random operation sequences run against
// Node's own `events`, `buffer` and `assert` and against agent/js/events.js,
// buffer.js and assert.js must give identical results (return values, bytes,
// listener state, thrown error names and codes, deep-equality verdicts). Seeds are fixed, so a
// failure is reproducible. Run by run-under-node.mjs; prints
// `ok differential <checks>`.
import NodeEE from 'node:events';
import { Buffer as NB } from 'node:buffer';
import MyEE from '../../../agent/js/events.js';
import { Buffer as MB } from '../../../agent/js/buffer.js';
import nodeAssert from 'node:assert';
import myAssert from '../../../agent/js/assert.js';

// xorshift32: deterministic, full-period, integer-exact.
let s = 7;
const rnd = (n) => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>> 0) % n;
};
let bad = 0;
let total = 0;
const report = (what, a, b) => {
  bad++;
  if (bad <= 10) console.error(`${what}\n node: ${a.slice(0, 300)}\n ours: ${b.slice(0, 300)}`);
};

// ---- events: same random sequence of on/once/prepend/off/removeAll/emit ----
function run(EE, seed) {
  s = seed;
  const e = new EE();
  const log = [];
  const names = ['a', 'b', 'newListener', 'removeListener'];
  const fns = Array.from({ length: 5 }, (_, i) => function (...args) {
    log.push(`f${i}:${String(args[0])}`);
    if (rnd(4) === 0) { const op = rnd(3); if (op === 0) e.off(names[rnd(2)], fns[rnd(5)]); else if (op === 1) e.on(names[rnd(2)], fns[rnd(5)]); else e.removeAllListeners(names[rnd(2)]); }
  });
  for (let step = 0; step < 60; step++) {
    const op = rnd(8), name = names[rnd(4)], fn = fns[rnd(5)];
    try {
      switch (op) {
        case 0: e.on(name, fn); break;
        case 1: e.once(name, fn); break;
        case 2: e.prependListener(name, fn); break;
        case 3: e.prependOnceListener(name, fn); break;
        case 4: e.off(name, fn); break;
        case 5: if (rnd(3) === 0) e.removeAllListeners(); else e.removeAllListeners(name); break;
        default: log.push(`emit ${name} -> ${e.emit(name, step)}`);
      }
    } catch (err) { log.push(`threw ${err.message}`); }
    log.push(`${e.eventNames().map(String).join(',')}|${names.map((n) => e.listenerCount(n)).join(',')}|${e.listeners('a').map((f) => fns.indexOf(f)).join(',')}|${e.rawListeners('b').map((f) => fns.indexOf(f.listener || f)).join(',')}`);
  }
  return log.join('\n');
}
NodeEE.defaultMaxListeners = 1000;
MyEE.defaultMaxListeners = 1000;
for (let seed = 1; seed <= 2000; seed++) {
  total++;
  const a = run(NodeEE, seed);
  const b = run(MyEE, seed);
  if (a !== b) {
    const al = a.split('\n');
    const bl = b.split('\n');
    const i = al.findIndex((l, k) => l !== bl[k]);
    report(`events seed ${seed} step ${i}`, al.slice(Math.max(0, i - 2), i + 1).join(' / '), bl.slice(Math.max(0, i - 2), i + 1).join(' / '));
  }
}

// ---- buffer: encodings, write, indexOf, fill, numeric read/write, concat, copy, slice ----
const res = (f) => {
  try {
    const r = f();
    return r instanceof Uint8Array ? `B${Array.from(r).join(',')}` : JSON.stringify(typeof r === 'bigint' ? String(r) : r);
  } catch (e) {
    return `E:${e.name}:${e.code}`;
  }
};
const cmp = (what, f) => {
  total++;
  const a = res(() => f(NB));
  const b = res(() => f(MB));
  if (a !== b) report(what, a, b);
};
for (const seed of [7, 99]) {
  s = seed;
  const encs = ['utf8', 'hex', 'base64', 'base64url', 'ascii', 'latin1', 'utf16le'];
  const alphabet = ['a', 'Z', '0', '=', '+', '/', '-', '_', ' ', '\n', 'é', '€', '😀', '\ud800', '\udc00', 'g', 'F', '!',
    '\x00', '\xff', 'b', 'c', 'd', 'e', '1', '9', 'A', 'ő'];
  for (let i = 0; i < 4000; i++) {
    const len = rnd(12);
    const bytes = Array.from({ length: len }, () => (rnd(3) === 0 ? [0xc3, 0xe2, 0xf0, 0x80, 0xbf, 0xed, 0xa0, 0xf4, 0x90][rnd(9)] : rnd(256)));
    const str = Array.from({ length: rnd(10) }, () => alphabet[rnd(alphabet.length)]).join('');
    const enc = encs[rnd(encs.length)];
    const ts = rnd(3) ? undefined : rnd(5) - 1, te = rnd(2) ? undefined : rnd(14) - 1;
    cmp(`toString ${enc} ${bytes} ${ts} ${te}`, (B) => B.from(bytes).toString(enc, ts, te));
    cmp(`from ${enc} ${JSON.stringify(str)}`, (B) => B.from(str, enc));
    cmp(`byteLength ${enc} ${JSON.stringify(str)}`, (B) => B.byteLength(str, enc));
    const off = rnd(16) - 3, ln = rnd(3) ? undefined : rnd(8) - 1;
    cmp(`write ${enc} ${JSON.stringify(str)} ${off} ${ln}`, (B) => { const b = B.alloc(8); const n = ln === undefined ? b.write(str, off, enc) : b.write(str, off, ln, enc); return [n, Array.from(b)]; });
    const needle = rnd(2) ? str.slice(0, rnd(3)) : rnd(300);
    const bo = rnd(3) ? undefined : rnd(20) - 10;
    cmp(`indexOf ${JSON.stringify(needle)} ${bo}`, (B) => [B.from(bytes).indexOf(needle, bo), B.from(bytes).lastIndexOf(needle, bo), B.from(bytes).includes(needle, bo)]);
    const fillv = [str, rnd(300), NB.from(bytes)][rnd(3)];
    const fo = rnd(3), fe = rnd(2) ? undefined : rnd(9);
    cmp(`fill ${JSON.stringify(fillv)} ${fo} ${fe} ${enc}`, (B) => B.alloc(7).fill(typeof fillv === 'object' ? B.from(fillv) : fillv, fo, fe, enc));
    const m = ['UInt8', 'Int8', 'UInt16LE', 'UInt16BE', 'Int16LE', 'Int16BE', 'UInt32LE', 'UInt32BE', 'Int32LE', 'Int32BE', 'FloatLE', 'FloatBE', 'DoubleLE', 'DoubleBE', 'BigInt64LE', 'BigUInt64BE'][rnd(16)];
    const o = [0, 1, 2, 5, 7, 8, -1, 1.5, NaN, '1', undefined][rnd(11)];
    cmp(`read${m} ${o}`, (B) => B.from([1, 2, 0xff, 0x80, 5, 6, 7, 8])[`read${m}`](o));
    const v = m.startsWith('Big') ? [0n, -1n, 2n ** 63n, 2n ** 64n, 5n][rnd(5)] : [0, -1, 255, 256, 65535, -32769, 2 ** 31, 2 ** 32, 1.5, NaN, '7'][rnd(11)];
    cmp(`write${m} ${v} ${o}`, (B) => { const b = B.alloc(8); const r = b[`write${m}`](v, o); return [r, Array.from(b)]; });
    const bl = rnd(8), vo = rnd(4);
    cmp(`readUIntLE ${vo} ${bl}`, (B) => [B.from(bytes.concat([1, 2, 3, 4, 5, 6])).readUIntLE(vo, bl), B.from(bytes.concat([1, 2, 3, 4, 5, 6])).readIntBE(vo, bl)]);
    const cl = rnd(2) ? undefined : rnd(30);
    cmp(`concat ${cl}`, (B) => B.concat([B.from(bytes), B.from(str)], cl));
    cmp(`compare`, (B) => [B.compare(B.from(bytes), B.from(str)), B.from(bytes).equals(B.from(str))]);
    const c1 = rnd(8), c2 = rnd(3) ? undefined : rnd(6), c3 = rnd(2) ? undefined : rnd(12);
    cmp(`copy ${bytes} ${c1} ${c2} ${c3}`, (B) => { const t = B.alloc(6); const n = B.from(bytes).copy(t, c1, c2, c3); return [n, Array.from(t)]; });
    const s1 = rnd(20) - 10, s2 = rnd(2) ? undefined : rnd(20) - 10;
    cmp(`slice ${s1} ${s2}`, (B) => B.from(bytes).slice(s1, s2));
  }
}

// ---- assert: deepStrictEqual / deepEqual verdicts on random value pairs ----
const leaves = [0, -0, 1, NaN, '1', '', 'a', true, false, null, undefined, 1n];
function gen(depth) {
  const k = rnd(depth > 2 ? 1 : 14);
  switch (k) {
    case 0: return leaves[rnd(leaves.length)];
    case 1: {
      const a = [];
      const n = rnd(4);
      for (let i = 0; i < n; i++) if (rnd(6)) a[i] = gen(depth + 1);
      a.length = n;
      return a;
    }
    case 2: case 3: {
      const o = rnd(8) ? {} : Object.create(null);
      for (const key of ['a', 'b', 'c']) if (rnd(2)) o[key] = gen(depth + 1);
      return o;
    }
    case 4: return new Map(Array.from({ length: rnd(3) }, () => [rnd(2) ? leaves[rnd(4)] : gen(depth + 1), gen(depth + 1)]));
    case 5: return new Set(Array.from({ length: rnd(3) }, () => (rnd(2) ? leaves[rnd(5)] : gen(depth + 1))));
    case 6: return new Date(rnd(3));
    case 7: return [/a/g, /a/i, /b/g][rnd(3)];
    case 8: return new Uint8Array([rnd(3), rnd(2)]);
    case 9: return new Float32Array([[0, -0, NaN, 1][rnd(4)]]);
    case 10: return [new Number(1), new Number(-0), new String('1'), new Boolean(false)][rnd(4)];
    case 11: return [new Error('x'), new TypeError('x'), new Error('y')][rnd(3)];
    case 12: return new ArrayBuffer(rnd(3));
    default: return leaves[rnd(leaves.length)];
  }
}
function copy(v, depth) {
  if (rnd(12) === 0) return gen(depth); // mutation
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const a = [];
    for (let i = 0; i < v.length; i++) if (i in v) a[i] = copy(v[i], depth + 1);
    a.length = v.length;
    return a;
  }
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, copy(x, depth + 1)]));
  if (v instanceof Set) return new Set([...v].map((x) => copy(x, depth + 1)));
  if (v instanceof Date) return new Date(v.getTime());
  if (v instanceof RegExp) return new RegExp(v.source, v.flags);
  if (v instanceof Error) return new v.constructor(v.message);
  if (ArrayBuffer.isView(v)) return new v.constructor(v);
  if (v instanceof ArrayBuffer) return v.slice(0);
  if (typeof v.valueOf === 'function' && v.valueOf() !== v) return Object(v.valueOf());
  const o = Object.getPrototypeOf(v) === null ? Object.create(null) : {};
  for (const key of Object.keys(v)) o[key] = copy(v[key], depth + 1);
  return o;
}
const verdict = (fn) => {
  try {
    fn();
    return 'equal';
  } catch (e) {
    return e.code === 'ERR_ASSERTION' ? 'unequal' : `E:${e.name}`;
  }
};
s = 12345;
for (let i = 0; i < 20000; i++) {
  const a = gen(0);
  const b = rnd(3) ? copy(a, 0) : gen(0);
  for (const method of ['deepStrictEqual', 'deepEqual', 'notDeepStrictEqual']) {
    total++;
    const x = verdict(() => nodeAssert[method](a, b));
    const y = verdict(() => myAssert[method](a, b));
    if (x !== y) report(`assert.${method}(${show(a)}, ${show(b)})`, x, y);
  }
}
/** One-line rendering of a value, through our own assertion messages. */
function show(v) {
  const msg = new myAssert.AssertionError({ actual: v, expected: 0, operator: 'notDeepStrictEqual' }).message;
  return msg.slice(msg.indexOf(':') + 1).replace(/\s+/g, ' ').trim();
}

if (bad) throw new Error(`differential: ${bad} of ${total} checks differ from Node`);
console.log(`ok differential ${total}`);
