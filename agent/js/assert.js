// Node-compatible `assert` module for Ganglion's QuickJS runtime.
//
// Pure ECMAScript (ES2023), no host APIs. The comparison rules follow Node's
// lib/internal/util/comparisons.js (deepStrictEqual: prototypes, tags, -0,
// NaN, holes, Map/Set with object keys, typed arrays by bytes, cycles) and the
// error-validation rules of assert.throws/rejects follow lib/assert.js.
// Messages are Node-like but come from a small built-in inspector; Node reads
// the caller's source for `assert.ok(expr)`, which is not possible here, so
// that message shows the falsy value instead.

// ---------------------------------------------------------------------------
// Value inspection (for messages)

const inspectCustom = Symbol.for('nodejs.util.inspect.custom');
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
const typedArrayTagGetter = Object.getOwnPropertyDescriptor(TypedArrayProto, Symbol.toStringTag).get;
const objectToString = (v) => Object.prototype.toString.call(v);
const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isEnumerable = (o, k) => Object.prototype.propertyIsEnumerable.call(o, k);

function brand(fn, value) {
  try {
    fn.call(value);
    return true;
  } catch {
    return false;
  }
}
const getter = (proto, key) => Object.getOwnPropertyDescriptor(proto, key).get;
const mapSizeGetter = getter(Map.prototype, 'size');
const setSizeGetter = getter(Set.prototype, 'size');
const regExpSourceGetter = getter(RegExp.prototype, 'source');
const arrayBufferByteLengthGetter = getter(ArrayBuffer.prototype, 'byteLength');
const sharedArrayBufferByteLengthGetter =
  typeof SharedArrayBuffer === 'function' ? getter(SharedArrayBuffer.prototype, 'byteLength') : null;

const isMap = (v) => brand(mapSizeGetter, v);
const isSet = (v) => brand(setSizeGetter, v);
const isDate = (v) => brand(Date.prototype.getTime, v);
const isRegExp = (v) => v !== RegExp.prototype && brand(regExpSourceGetter, v);
const typedArrayName = (v) => (ArrayBuffer.isView(v) ? typedArrayTagGetter.call(v) : undefined);
const isAnyArrayBuffer = (v) =>
  brand(arrayBufferByteLengthGetter, v) ||
  (sharedArrayBufferByteLengthGetter !== null && brand(sharedArrayBufferByteLengthGetter, v));
const isError = (v) => v instanceof Error || objectToString(v) === '[object Error]';
const BOXED = [
  [Number.prototype.valueOf, 'Number'],
  [String.prototype.valueOf, 'String'],
  [Boolean.prototype.valueOf, 'Boolean'],
  [BigInt.prototype.valueOf, 'BigInt'],
  [Symbol.prototype.valueOf, 'Symbol'],
];
function boxedKind(v) {
  if (v === null || typeof v !== 'object') return null;
  for (const [fn, name] of BOXED) if (brand(fn, v)) return { name, value: fn.call(v) };
  return null;
}

function quote(str) {
  let s = '';
  for (const ch of str) {
    const c = ch.codePointAt(0);
    if (ch === "'") s += "\\'";
    else if (ch === '\\') s += '\\\\';
    else if (ch === '\n') s += '\\n';
    else if (ch === '\t') s += '\\t';
    else if (ch === '\r') s += '\\r';
    else if (ch === '\b') s += '\\b';
    else if (c < 0x20 || c === 0x7f) s += `\\x${c.toString(16).padStart(2, '0').toUpperCase()}`;
    else s += ch;
  }
  return `'${s}'`;
}

function formatKey(key) {
  if (typeof key === 'symbol') return `[${key.toString()}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : quote(key);
}

function constructorName(v) {
  let proto = Object.getPrototypeOf(v);
  while (proto !== null) {
    const desc = Object.getOwnPropertyDescriptor(proto, 'constructor');
    if (desc && typeof desc.value === 'function' && desc.value.name) return desc.value.name;
    proto = Object.getPrototypeOf(proto);
  }
  return null;
}

/**
 * Node-like `util.inspect` subset. `compact: false` puts every entry on its
 * own line (used for diffs); otherwise short entries share a line.
 */
function inspect(value, opts = {}) {
  const compact = opts.compact !== false;
  const maxDepth = opts.depth === undefined ? 2 : opts.depth;
  const seen = [];

  function fmtPrimitive(v) {
    switch (typeof v) {
      case 'string':
        return quote(v);
      case 'number':
        return Object.is(v, -0) ? '-0' : String(v);
      case 'bigint':
        return `${v}n`;
      case 'symbol':
        return v.toString();
      case 'undefined':
        return 'undefined';
      case 'boolean':
        return String(v);
      default:
        return null;
    }
  }

  function wrap(prefix, open, items, close, indent) {
    if (items.length === 0) return `${prefix}${open}${close}`;
    const one = `${prefix}${open} ${items.join(', ')} ${close}`;
    if (compact && one.length + indent.length <= 76 && !one.includes('\n')) return one;
    const pad = `${indent}  `;
    return `${prefix}${open}\n${pad}${items.join(`,\n${pad}`)}\n${indent}${close}`;
  }

  function propEntries(v, depth, indent, skipIndices) {
    const out = [];
    for (const key of Reflect.ownKeys(v)) {
      if (!isEnumerable(v, key)) continue;
      if (skipIndices && typeof key === 'string' && /^(0|[1-9]\d*)$/.test(key)) continue;
      const desc = Object.getOwnPropertyDescriptor(v, key);
      let shown;
      if (desc.get || desc.set) shown = desc.get && desc.set ? '[Getter/Setter]' : desc.get ? '[Getter]' : '[Setter]';
      else shown = fmt(desc.value, depth + 1, `${indent}  `);
      out.push(`${formatKey(key)}: ${shown}`);
    }
    return out;
  }

  function fmt(v, depth, indent) {
    const prim = fmtPrimitive(v);
    if (prim !== null) return prim;
    if (v === null) return 'null';
    if (typeof v === 'function') {
      let isClass = false;
      try {
        isClass = /^class\b/.test(Function.prototype.toString.call(v));
      } catch {
        isClass = false;
      }
      const kind = isClass ? 'class' : 'Function';
      return v.name ? `[${kind}: ${v.name}]` : `[${kind} (anonymous)]`;
    }
    if (seen.includes(v)) return '[Circular *1]';
    if (typeof v[inspectCustom] === 'function' && v[inspectCustom] !== inspect) {
      try {
        const r = v[inspectCustom](maxDepth - depth, { ...opts, stylize: (s) => s }, inspect);
        if (typeof r === 'string') return r;
        if (r !== v) return fmt(r, depth, indent);
      } catch {
        // fall through to the generic rendering
      }
    }
    if (isError(v)) {
      const name = v.name || 'Error';
      const msg = v.message;
      return msg ? `[${name}: ${msg}]` : `[${name}]`;
    }
    if (isDate(v)) {
      const t = Date.prototype.getTime.call(v);
      return Number.isNaN(t) ? 'Invalid Date' : Date.prototype.toISOString.call(v);
    }
    if (isRegExp(v)) return RegExp.prototype.toString.call(v);
    const boxed = boxedKind(v);
    if (boxed) {
      const inner = boxed.name === 'Symbol' ? boxed.value.toString() : fmtPrimitive(boxed.value);
      return `[${boxed.name}: ${inner}]`;
    }
    if (v instanceof Promise) return 'Promise { <unknown> }';
    if (brand(WeakMap.prototype.has, v)) return 'WeakMap { <items unknown> }';
    if (brand(WeakSet.prototype.has, v)) return 'WeakSet { <items unknown> }';

    const ctor = constructorName(v);
    if (depth > maxDepth) {
      if (Array.isArray(v)) return '[Array]';
      return `[${ctor || 'Object'}]`;
    }
    seen.push(v);
    try {
      if (Array.isArray(v)) {
        const items = [];
        let holes = 0;
        const flushHoles = () => {
          if (holes) items.push(`<${holes} empty item${holes > 1 ? 's' : ''}>`);
          holes = 0;
        };
        const limit = Math.min(v.length, 100);
        for (let i = 0; i < limit; i++) {
          if (!hasOwn(v, i)) {
            holes++;
            continue;
          }
          flushHoles();
          items.push(fmt(v[i], depth + 1, `${indent}  `));
        }
        flushHoles();
        if (v.length > 100) items.push(`... ${v.length - 100} more item${v.length - 100 > 1 ? 's' : ''}`);
        items.push(...propEntries(v, depth, indent, true));
        const prefix = ctor && ctor !== 'Array' ? `${ctor}(${v.length}) ` : '';
        return wrap(prefix, '[', items, ']', indent);
      }
      const taName = typedArrayName(v);
      if (taName !== undefined) {
        const items = [];
        const limit = Math.min(v.length, 100);
        for (let i = 0; i < limit; i++) items.push(fmt(v[i], depth + 1, indent));
        if (v.length > 100) items.push(`... ${v.length - 100} more items`);
        items.push(...propEntries(v, depth, indent, true));
        const prefix = ctor && ctor !== taName ? `${ctor}(${v.length}) [${taName}] ` : `${taName}(${v.length}) `;
        return wrap(prefix, '[', items, ']', indent);
      }
      if (isAnyArrayBuffer(v)) {
        const bytes = new Uint8Array(v);
        const hex = Array.from(bytes.subarray(0, 50), (b) => b.toString(16).padStart(2, '0'));
        if (bytes.length > 50) hex.push(`... ${bytes.length - 50} more bytes`);
        const items = [`[Uint8Contents]: <${hex.join(' ')}>`, `byteLength: ${bytes.length}`];
        return wrap(`${ctor || 'ArrayBuffer'} `, '{', items, '}', indent);
      }
      if (isMap(v)) {
        const items = [];
        for (const [k, val] of Map.prototype.entries.call(v)) {
          items.push(`${fmt(k, depth + 1, `${indent}  `)} => ${fmt(val, depth + 1, `${indent}  `)}`);
        }
        items.push(...propEntries(v, depth, indent, false));
        return wrap(`${ctor || 'Map'}(${mapSizeGetter.call(v)}) `, '{', items, '}', indent);
      }
      if (isSet(v)) {
        const items = [];
        for (const k of Set.prototype.values.call(v)) items.push(fmt(k, depth + 1, `${indent}  `));
        items.push(...propEntries(v, depth, indent, false));
        return wrap(`${ctor || 'Set'}(${setSizeGetter.call(v)}) `, '{', items, '}', indent);
      }
      const items = propEntries(v, depth, indent, false);
      let prefix = '';
      if (Object.getPrototypeOf(v) === null) prefix = '[Object: null prototype] ';
      else if (ctor && ctor !== 'Object') prefix = `${ctor} `;
      return wrap(prefix, '{', items, '}', indent);
    } finally {
      seen.pop();
    }
  }

  return fmt(value, 0, '');
}

// ---------------------------------------------------------------------------
// Deep equality (Node's comparisons.js rules)

const STRICT = true;
const LOOSE = false;

function isDeepEqual(a, b, strict, memo) {
  if (a === b) return a !== 0 || !strict || Object.is(a, b);
  if (strict) {
    if (typeof a !== 'object') return typeof a === 'number' && Number.isNaN(a) && Number.isNaN(b);
    if (typeof b !== 'object' || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  } else {
    if (a === null || typeof a !== 'object') {
      if (b === null || typeof b !== 'object') {
        // eslint-disable-next-line eqeqeq
        return a == b || (Number.isNaN(a) && Number.isNaN(b));
      }
      return false;
    }
    if (b === null || typeof b !== 'object') return false;
  }
  if (objectToString(a) !== objectToString(b)) return false;

  // Cycles: a pair already being compared is assumed equal (co-inductively).
  let partners = memo.get(a);
  if (partners !== undefined && partners.has(b)) return true;
  if (partners === undefined) {
    partners = new Set();
    memo.set(a, partners);
  }
  partners.add(b);
  try {
    return compareObjects(a, b, strict, memo);
  } finally {
    partners.delete(b);
    if (partners.size === 0) memo.delete(a);
  }
}

function ownKeys(v, strict, skipIndices) {
  const keys = [];
  for (const k of Reflect.ownKeys(v)) {
    if (typeof k === 'symbol') {
      if (strict && isEnumerable(v, k)) keys.push(k);
    } else if (isEnumerable(v, k)) {
      if (skipIndices && /^(0|[1-9]\d*)$/.test(k)) continue;
      keys.push(k);
    }
  }
  return keys;
}

function keysEqual(a, b, strict, memo, skipIndices) {
  const ka = ownKeys(a, strict, skipIndices);
  const kb = ownKeys(b, strict, skipIndices);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!isEnumerable(b, k)) return false;
  for (const k of ka) if (!isDeepEqual(a[k], b[k], strict, memo)) return false;
  return true;
}

function bytesOf(v) {
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(v);
}

function bytesEqual(a, b) {
  const x = bytesOf(a);
  const y = bytesOf(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function compareObjects(a, b, strict, memo) {
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      const ha = hasOwn(a, i);
      if (ha !== hasOwn(b, i)) return false;
      if (ha && !isDeepEqual(a[i], b[i], strict, memo)) return false;
    }
    return keysEqual(a, b, strict, memo, true);
  }
  if (isDate(a)) {
    if (!isDate(b) || Date.prototype.getTime.call(a) !== Date.prototype.getTime.call(b)) return false;
  } else if (isRegExp(a)) {
    if (!isRegExp(b) || a.source !== b.source || a.flags !== b.flags || a.lastIndex !== b.lastIndex) {
      return false;
    }
  } else if (isError(a)) {
    if (!isError(b) || a.message !== b.message || a.name !== b.name) return false;
  } else if (ArrayBuffer.isView(a)) {
    if (!ArrayBuffer.isView(b)) return false;
    const name = typedArrayName(a);
    if (name !== typedArrayName(b)) return false;
    if (!strict && (name === 'Float32Array' || name === 'Float64Array')) {
      if (a.length !== b.length) return false;
      // eslint-disable-next-line eqeqeq
      for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
    } else if (!bytesEqual(a, b)) {
      return false;
    }
    return keysEqual(a, b, strict, memo, name !== undefined);
  } else if (isSet(a)) {
    if (!isSet(b) || !setEquiv(a, b, strict, memo)) return false;
  } else if (isMap(a)) {
    if (!isMap(b) || !mapEquiv(a, b, strict, memo)) return false;
  } else if (isAnyArrayBuffer(a)) {
    if (!isAnyArrayBuffer(b) || !bytesEqual(a, b)) return false;
  } else {
    const boxedA = boxedKind(a);
    if (boxedA) {
      const boxedB = boxedKind(b);
      if (!boxedB || boxedA.name !== boxedB.name || !Object.is(boxedA.value, boxedB.value)) return false;
    } else if (
      Array.isArray(b) || ArrayBuffer.isView(b) || isSet(b) || isMap(b) || isDate(b) ||
      isRegExp(b) || isAnyArrayBuffer(b) || boxedKind(b) || isError(b)
    ) {
      return false;
    }
  }
  return keysEqual(a, b, strict, memo, false);
}

const isPrimitive = (v) => v === null || (typeof v !== 'object' && typeof v !== 'function');

function setEquiv(a, b, strict, memo) {
  if (setSizeGetter.call(a) !== setSizeGetter.call(b)) return false;
  const pending = [];
  for (const v of Set.prototype.values.call(a)) {
    if (Set.prototype.has.call(b, v)) continue;
    if (strict && isPrimitive(v)) return false;
    pending.push(v);
  }
  if (pending.length === 0) return true;
  // Elements of b that a does not hold itself; each may match one pending element.
  const candidates = [];
  for (const w of Set.prototype.values.call(b)) if (!Set.prototype.has.call(a, w)) candidates.push(w);
  for (const v of pending) {
    const i = candidates.findIndex((w) => isDeepEqual(v, w, strict, memo));
    if (i < 0) return false;
    candidates.splice(i, 1);
  }
  return true;
}

function mapEquiv(a, b, strict, memo) {
  if (mapSizeGetter.call(a) !== mapSizeGetter.call(b)) return false;
  const pending = [];
  for (const [k, v] of Map.prototype.entries.call(a)) {
    if (Map.prototype.has.call(b, k) && isDeepEqual(v, Map.prototype.get.call(b, k), strict, memo)) continue;
    if (strict && isPrimitive(k)) return false;
    pending.push([k, v]);
  }
  if (pending.length === 0) return true;
  // Entries of b not matched by the same key above; each may match one pending entry.
  const candidates = [];
  for (const [k, v] of Map.prototype.entries.call(b)) {
    if (!Map.prototype.has.call(a, k) || !isDeepEqual(Map.prototype.get.call(a, k), v, strict, memo)) {
      candidates.push([k, v]);
    }
  }
  for (const [k, v] of pending) {
    const i = candidates.findIndex(
      ([k2, v2]) => isDeepEqual(k, k2, strict, memo) && isDeepEqual(v, v2, strict, memo),
    );
    if (i < 0) return false;
    candidates.splice(i, 1);
  }
  return true;
}

function isDeepStrictEqual(a, b) {
  return isDeepEqual(a, b, STRICT, new Map());
}

function isDeepLooseEqual(a, b) {
  return isDeepEqual(a, b, LOOSE, new Map());
}

// ---------------------------------------------------------------------------
// AssertionError

const READABLE = {
  deepStrictEqual: 'Expected values to be strictly deep-equal:',
  strictEqual: 'Expected values to be strictly equal:',
  strictEqualObject: 'Expected "actual" to be reference-equal to "expected":',
  deepEqual: 'Expected values to be loosely deep-equal:',
  notDeepStrictEqual: 'Expected "actual" not to be strictly deep-equal to:',
  notStrictEqual: 'Expected "actual" to be strictly unequal to:',
  notStrictEqualObject: 'Expected "actual" not to be reference-equal to "expected":',
  notDeepEqual: 'Expected "actual" not to be loosely deep-equal to:',
  notIdentical: 'Values identical but not reference-equal:',
  notDeepEqualUnequal: 'Expected values not to be loosely deep-equal:',
};

const inspectValue = (v) => inspect(v, { compact: false, depth: 1000 });

/**
 * Line diff (LCS) of two inspected values: '+ ' actual only, '- ' expected
 * only; a trailing comma does not make lines differ.
 */
function diffLines(actualLines, expectedLines) {
  const strip = (l) => (l.endsWith(',') ? l.slice(0, -1) : l);
  const as = actualLines.map(strip);
  const es = expectedLines.map(strip);
  const n = actualLines.length;
  const m = expectedLines.length;
  if (n * m > 250000) {
    return [...actualLines.map((l) => `+ ${l}`), ...expectedLines.map((l) => `- ${l}`)];
  }
  const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i][j] = as[i] === es[j]
        ? table[i + 1][j + 1] + 1
        : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && as[i] === es[j]) {
      out.push(`  ${actualLines[i]}`);
      i++;
      j++;
    } else if (i < n && (j >= m || table[i + 1][j] >= table[i][j + 1])) {
      out.push(`+ ${actualLines[i]}`);
      i++;
    } else {
      out.push(`- ${expectedLines[j]}`);
      j++;
    }
  }
  return out;
}

/** Diff message for (deep)strictEqual; a custom message replaces the header, like Node 20. */
function createErrDiff(actual, expected, operator, customHeader) {
  const a = inspectValue(actual);
  const e = inspectValue(expected);
  if (a === e) {
    return `${customHeader || 'Values have same structure but are not reference-equal:'}\n\n${a}\n`;
  }
  let header = customHeader || READABLE[operator];
  if (!customHeader && operator === 'strictEqual' &&
    ((typeof actual === 'object' && actual !== null) || typeof actual === 'function')) {
    header = READABLE.strictEqualObject;
  }
  const al = a.split('\n');
  const el = e.split('\n');
  if (
    al.length === 1 && el.length === 1 && a.length + e.length <= 12 &&
    isPrimitive(actual) && isPrimitive(expected) && (actual !== 0 || expected !== 0)
  ) {
    return `${header}\n\n${a} !== ${e}\n`;
  }
  return `${header}\n+ actual - expected\n\n${diffLines(al, el).join('\n')}`;
}

function generateMessage(actual, expected, operator) {
  if (operator === 'deepStrictEqual' || operator === 'strictEqual') {
    return createErrDiff(actual, expected, operator);
  }
  if (operator === 'notDeepStrictEqual' || operator === 'notStrictEqual') {
    let base = READABLE[operator];
    if (operator === 'notStrictEqual' && ((typeof actual === 'object' && actual !== null) || typeof actual === 'function')) {
      base = READABLE.notStrictEqualObject;
    }
    const res = inspectValue(actual).split('\n');
    if (res.length === 1) return `${base}${res[0].length > 5 ? '\n\n' : ' '}${res[0]}`;
    return `${base}\n\n${res.join('\n')}\n`;
  }
  let res = inspectValue(actual);
  let other = inspectValue(expected);
  const known = READABLE[operator];
  if (operator === 'notDeepEqual' && res === other) {
    res = `${known}\n\n${res}`;
    return res.length > 1024 ? `${res.slice(0, 1021)}...` : res;
  }
  if (res.length > 512) res = `${res.slice(0, 509)}...`;
  if (other.length > 512) other = `${other.slice(0, 509)}...`;
  if (operator === 'deepEqual') {
    res = `${known}\n\n${res}\n\nshould loosely deep-equal\n\n`;
  } else {
    const unequal = READABLE[`${operator}Unequal`];
    if (unequal) res = `${unequal}\n\n${res}\n\nshould not loosely deep-equal\n\n`;
    else other = ` ${operator} ${other}`;
  }
  return `${res}${other}`;
}

/** Error thrown by every failed assertion (code 'ERR_ASSERTION'). */
class AssertionError extends Error {
  constructor(options) {
    if (options === null || typeof options !== 'object') {
      throw invalidArgType('options', 'Object', options);
    }
    const { message, operator, stackStartFn, details } = options;
    let { actual, expected } = options;
    const generated = message == null;
    let text;
    if (!generated) {
      text = operator === 'deepStrictEqual' || operator === 'strictEqual'
        ? createErrDiff(actual, expected, operator, String(message))
        : String(message);
    } else if (details !== undefined) {
      text = String(details);
    } else {
      text = generateMessage(actual, expected, operator);
    }
    super(text);
    Object.defineProperty(this, 'name', {
      value: 'AssertionError',
      writable: true,
      enumerable: false,
      configurable: true,
    });
    this.generatedMessage = generated;
    this.code = 'ERR_ASSERTION';
    if (details !== undefined && generated) {
      actual = options.actual;
      expected = options.expected;
    }
    this.actual = actual;
    this.expected = expected;
    this.operator = operator;
    if (typeof Error.captureStackTrace === 'function') {
      try {
        Error.captureStackTrace(this, stackStartFn || AssertionError);
      } catch {
        // keep the default stack
      }
    }
  }

  toString() {
    return `${this.name} [${this.code}]: ${this.message}`;
  }

  [inspectCustom]() {
    return this.stack || this.toString();
  }
}

// ---------------------------------------------------------------------------
// Argument errors (Node's internal error codes)

function describeReceived(value) {
  if (value == null) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name}`;
  if (typeof value === 'object') {
    const ctor = constructorName(value);
    if (ctor) return ` Received an instance of ${ctor}`;
    return ` Received ${inspect(value, { depth: -1 })}`;
  }
  let shown = inspect(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${shown})`;
}

function typeList(types) {
  if (!Array.isArray(types)) return `of type ${types}`;
  if (types.length === 1) return `of type ${types[0]}`;
  const last = types[types.length - 1];
  return `one of type ${types.slice(0, -1).join(', ')}, or ${last}`;
}

function invalidArgType(name, types, value) {
  const err = new TypeError(`The "${name}" argument must be ${typeList(types)}.${describeReceived(value)}`);
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

function missingArgs(...names) {
  const list = names.map((n) => `"${n}"`);
  const text = list.length === 2 ? `${list[0]} and ${list[1]} arguments` : `${list[0]} argument`;
  const err = new TypeError(`The ${text} must be specified`);
  err.code = 'ERR_MISSING_ARGS';
  return err;
}

function innerFail(obj) {
  if (obj.message instanceof Error) throw obj.message;
  throw new AssertionError(obj);
}

// ---------------------------------------------------------------------------
// Assertions

function innerOk(fn, argLen, value, message) {
  if (!value) {
    let generatedMessage = false;
    if (argLen === 0) {
      generatedMessage = true;
      message = 'No value argument passed to `assert.ok()`';
    } else if (message == null) {
      generatedMessage = true;
      message = `The expression evaluated to a falsy value:\n\n  assert.ok(${inspect(value)})\n`;
    } else if (message instanceof Error) {
      throw message;
    }
    const err = new AssertionError({ actual: value, expected: true, message, operator: '==', stackStartFn: fn });
    err.generatedMessage = generatedMessage;
    throw err;
  }
}

/** Throws an AssertionError unless `value` is truthy. */
function ok(...args) {
  innerOk(ok, args.length, ...args);
}

/** Loose equality (`==`, NaN equals NaN). */
function equal(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs('actual', 'expected');
  // eslint-disable-next-line eqeqeq
  if (actual != expected && (!Number.isNaN(actual) || !Number.isNaN(expected))) {
    innerFail({ actual, expected, message, operator: '==', stackStartFn: equal });
  }
}

/** Loose inequality (`!=`). */
function notEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs('actual', 'expected');
  // eslint-disable-next-line eqeqeq
  if (actual == expected || (Number.isNaN(actual) && Number.isNaN(expected))) {
    innerFail({ actual, expected, message, operator: '!=', stackStartFn: notEqual });
  }
}

/** Strict equality by Object.is. */
function strictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs('actual', 'expected');
  if (!Object.is(actual, expected)) {
    innerFail({ actual, expected, message, operator: 'strictEqual', stackStartFn: strictEqual });
  }
}

/** Strict inequality by Object.is. */
function notStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs('actual', 'expected');
  if (Object.is(actual, expected)) {
    innerFail({ actual, expected, message, operator: 'notStrictEqual', stackStartFn: notStrictEqual });
  }
}

/** Loose deep equality (legacy mode). */
function deepEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs('actual', 'expected');
  if (!isDeepLooseEqual(actual, expected)) {
    innerFail({ actual, expected, message, operator: 'deepEqual', stackStartFn: deepEqual });
  }
}

/** Negation of deepEqual. */
function notDeepEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs('actual', 'expected');
  if (isDeepLooseEqual(actual, expected)) {
    innerFail({ actual, expected, message, operator: 'notDeepEqual', stackStartFn: notDeepEqual });
  }
}

/** Strict deep equality: prototypes, tags, -0, NaN, Map/Set, typed arrays, cycles. */
function deepStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs('actual', 'expected');
  if (!isDeepStrictEqual(actual, expected)) {
    innerFail({ actual, expected, message, operator: 'deepStrictEqual', stackStartFn: deepStrictEqual });
  }
}

/** Negation of deepStrictEqual. */
function notDeepStrictEqual(actual, expected, message) {
  if (arguments.length < 2) throw missingArgs('actual', 'expected');
  if (isDeepStrictEqual(actual, expected)) {
    innerFail({ actual, expected, message, operator: 'notDeepStrictEqual', stackStartFn: notDeepStrictEqual });
  }
}

/** Always throws: `fail(message = 'Failed')`; a message that is an Error is thrown as is. */
function fail(actual, expected, message, operator, stackStartFn) {
  const argsLen = arguments.length;
  let internalMessage = false;
  if (argsLen === 0) {
    internalMessage = 'Failed';
  } else if (argsLen === 1) {
    message = actual;
    actual = undefined;
  } else {
    if (argsLen === 2) operator = '!=';
  }
  if (message instanceof Error) throw message;
  const errArgs = {
    actual,
    expected,
    operator: operator === undefined ? 'fail' : operator,
    stackStartFn: stackStartFn || fail,
    message: internalMessage || message,
  };
  if (argsLen >= 2 && message === undefined) {
    errArgs.message = `${inspect(actual)} ${errArgs.operator} ${inspect(expected)}`;
  }
  const err = new AssertionError(errArgs);
  if (internalMessage || (argsLen >= 2 && message === undefined)) err.generatedMessage = true;
  throw err;
}

/** Throws `value` if it is neither null nor undefined (for error-first callbacks). */
function ifError(err) {
  if (err !== null && err !== undefined) {
    let message = 'ifError got unwanted exception: ';
    if (typeof err === 'object' && typeof err.message === 'string') {
      if (err.message.length === 0 && err.constructor) message += err.constructor.name;
      else message += err.message;
    } else {
      message += inspect(err);
    }
    const newErr = new AssertionError({
      actual: err,
      expected: null,
      operator: 'ifError',
      message,
      stackStartFn: ifError,
    });
    throw newErr;
  }
}

function internalMatch(string, regexp, message, fn) {
  if (!isRegExp(regexp)) throw invalidArgType('regexp', 'RegExp', regexp);
  const match = fn === match_;
  if (typeof string !== 'string' || (RegExp.prototype.exec.call(regexp, string) !== null) !== match) {
    if (message instanceof Error) throw message;
    const generatedMessage = !message;
    message =
      message ||
      (typeof string !== 'string'
        ? `The "string" argument must be of type string. Received type ${typeof string} (${inspect(string)})`
        : (match
          ? 'The input did not match the regular expression '
          : 'The input was expected to not match the regular expression ') +
          `${inspect(regexp)}. Input:\n\n${inspect(string)}\n`);
    const err = new AssertionError({
      actual: string,
      expected: regexp,
      message,
      operator: fn.name,
      stackStartFn: fn,
    });
    err.generatedMessage = generatedMessage;
    throw err;
  }
}

/** Throws unless `string` matches `regexp`. */
function match_(string, regexp, message) {
  internalMatch(string, regexp, message, match_);
}
Object.defineProperty(match_, 'name', { value: 'match' });

/** Throws if `string` matches `regexp`. */
function doesNotMatch(string, regexp, message) {
  internalMatch(string, regexp, message, doesNotMatch);
}

// --- throws / rejects --------------------------------------------------------

const NO_EXCEPTION = {};

function checkIsPromise(obj) {
  return (
    obj instanceof Promise ||
    (obj !== null && typeof obj === 'object' && typeof obj.then === 'function' && typeof obj.catch === 'function')
  );
}

function getActual(fn) {
  if (typeof fn !== 'function') throw invalidArgType('fn', 'function', fn);
  try {
    fn();
  } catch (e) {
    return e;
  }
  return NO_EXCEPTION;
}

async function waitForActual(promiseFn) {
  let resultPromise;
  if (typeof promiseFn === 'function') {
    resultPromise = promiseFn();
    if (!checkIsPromise(resultPromise)) {
      const err = new TypeError(
        `Expected instance of Promise to be returned from the "promiseFn" function but got ${
          resultPromise === null ? 'null' : typeof resultPromise === 'object' ? `instance of ${constructorName(resultPromise) || 'Object'}` : `type ${typeof resultPromise}`
        }.`,
      );
      err.code = 'ERR_INVALID_RETURN_VALUE';
      throw err;
    }
  } else if (checkIsPromise(promiseFn)) {
    resultPromise = promiseFn;
  } else {
    throw invalidArgType('promiseFn', ['Function', 'Promise'], promiseFn);
  }
  try {
    await resultPromise;
  } catch (e) {
    return e;
  }
  return NO_EXCEPTION;
}

/** Copy of the `keys` of `obj` for the diff of an object-shaped `expected`. */
function comparison(obj, keys, actual) {
  const out = {};
  for (const key of keys) {
    if (key in obj) {
      if (actual !== undefined && typeof actual[key] === 'string' && isRegExp(obj[key]) &&
        RegExp.prototype.exec.call(obj[key], actual[key]) !== null) {
        out[key] = actual[key];
      } else {
        out[key] = obj[key];
      }
    }
  }
  return out;
}

function compareExceptionKey(actual, expected, key, message, keys, fn) {
  if (!(key in actual) || !isDeepStrictEqual(actual[key], expected[key])) {
    if (!message) {
      const a = comparison(actual, keys);
      const b = comparison(expected, keys, actual);
      const err = new AssertionError({ actual: a, expected: b, operator: 'deepStrictEqual', stackStartFn: fn });
      err.actual = actual;
      err.expected = expected;
      err.operator = fn.name;
      throw err;
    }
    innerFail({ actual, expected, message, operator: fn.name, stackStartFn: fn });
  }
}

function expectedException(actual, expected, message, fn) {
  let generatedMessage = false;
  let throwError = false;
  if (typeof expected !== 'function') {
    if (isRegExp(expected)) {
      const str = String(actual);
      if (RegExp.prototype.exec.call(expected, str) !== null) return;
      if (!message) {
        generatedMessage = true;
        message = `The input did not match the regular expression ${inspect(expected)}. Input:\n\n${inspect(str)}\n`;
      }
      throwError = true;
    } else if (typeof actual !== 'object' || actual === null) {
      const err = new AssertionError({ actual, expected, message, operator: 'deepStrictEqual', stackStartFn: fn });
      err.operator = fn.name;
      throw err;
    } else {
      const keys = Object.keys(expected);
      if (expected instanceof Error) {
        keys.push('name', 'message');
      } else if (keys.length === 0) {
        const err = new TypeError(`The argument 'error' may not be an empty object. Received ${inspect(expected)}`);
        err.code = 'ERR_INVALID_ARG_VALUE';
        throw err;
      }
      for (const key of keys) {
        if (typeof actual[key] === 'string' && isRegExp(expected[key]) &&
          RegExp.prototype.exec.call(expected[key], actual[key]) !== null) {
          continue;
        }
        compareExceptionKey(actual, expected, key, message, keys, fn);
      }
      return;
    }
  } else if (expected.prototype !== undefined && actual instanceof expected) {
    return;
  } else if (Object.prototype.isPrototypeOf.call(Error, expected)) {
    if (!message) {
      generatedMessage = true;
      message = `The error is expected to be an instance of "${expected.name}". Received `;
      if (isError(actual)) {
        const name = (actual.constructor && actual.constructor.name) || actual.name;
        if (expected.name === name) message += 'an error with identical name but a different prototype.';
        else message += `"${name}"`;
        if (actual.message) message += `\n\nError message:\n\n${actual.message}`;
      } else {
        message += `"${inspect(actual, { depth: -1 })}"`;
      }
    }
    throwError = true;
  } else {
    const res = Reflect.apply(expected, {}, [actual]);
    if (res !== true) {
      if (!message) {
        generatedMessage = true;
        const name = expected.name ? `"${expected.name}" ` : '';
        message = `The ${name}validation function is expected to return "true". Received ${inspect(res)}`;
        if (isError(actual)) message += `\n\nCaught error:\n\n${actual}`;
      }
      throwError = true;
    }
  }
  if (throwError) {
    const err = new AssertionError({ actual, expected, message, operator: fn.name, stackStartFn: fn });
    err.generatedMessage = generatedMessage;
    throw err;
  }
}

function expectsError(stackStartFn, actual, error, message, ...rest) {
  if (typeof error === 'string') {
    if (rest.length > 0 || message !== undefined) {
      throw invalidArgType('error', ['Object', 'Error', 'Function', 'RegExp'], error);
    }
    if (typeof actual === 'object' && actual !== null) {
      if (actual.message === error) {
        const err = new TypeError(
          `The "error/message" argument is ambiguous. The error message "${actual.message}" is identical to the message.`,
        );
        err.code = 'ERR_AMBIGUOUS_ARGUMENT';
        throw err;
      }
    } else if (actual === error) {
      const err = new TypeError(
        `The "error/message" argument is ambiguous. The error "${actual}" is identical to the message.`,
      );
      err.code = 'ERR_AMBIGUOUS_ARGUMENT';
      throw err;
    }
    message = error;
    error = undefined;
  } else if (error != null && typeof error !== 'object' && typeof error !== 'function') {
    throw invalidArgType('error', ['Object', 'Error', 'Function', 'RegExp'], error);
  }

  if (actual === NO_EXCEPTION) {
    let details = '';
    if (error && error.name) details += ` (${error.name})`;
    details += message ? `: ${message}` : '.';
    const fnType = stackStartFn === rejects ? 'rejection' : 'exception';
    innerFail({
      actual: undefined,
      expected: error,
      operator: stackStartFn.name,
      message: `Missing expected ${fnType}${details}`,
      stackStartFn,
    });
  }
  if (!error) return;
  expectedException(actual, error, message, stackStartFn);
}

function hasMatchingError(actual, expected) {
  if (typeof expected !== 'function') {
    if (isRegExp(expected)) return RegExp.prototype.exec.call(expected, String(actual)) !== null;
    throw invalidArgType('expected', ['Function', 'RegExp'], expected);
  }
  if (expected.prototype !== undefined && actual instanceof expected) return true;
  if (Object.prototype.isPrototypeOf.call(Error, expected)) return false;
  return Reflect.apply(expected, {}, [actual]) === true;
}

function expectsNoError(stackStartFn, actual, error, message) {
  if (actual === NO_EXCEPTION) return;
  if (typeof error === 'string') {
    message = error;
    error = undefined;
  }
  if (!error || hasMatchingError(actual, error)) {
    const details = message ? `: ${message}` : '.';
    const fnType = stackStartFn === doesNotReject ? 'rejection' : 'exception';
    innerFail({
      actual,
      expected: error,
      operator: stackStartFn.name,
      message: `Got unwanted ${fnType}${details}\nActual message: "${actual && actual.message}"`,
      stackStartFn,
    });
  }
  throw actual;
}

/** Expects `fn` to throw; `error` may be a class, RegExp, validation function or object. */
function throws(fn, ...args) {
  expectsError(throws, getActual(fn), ...args);
}

/** Expects the promise (or the promise returned by `fn`) to reject; same validation as throws. */
async function rejects(promiseFn, ...args) {
  expectsError(rejects, await waitForActual(promiseFn), ...args);
}

/** Expects `fn` not to throw (an error not matching `error` is rethrown as is). */
function doesNotThrow(fn, ...args) {
  expectsNoError(doesNotThrow, getActual(fn), ...args);
}

/** Expects the promise (or `fn`'s promise) to fulfil. */
async function doesNotReject(fn, ...args) {
  expectsNoError(doesNotReject, await waitForActual(fn), ...args);
}

// ---------------------------------------------------------------------------
// Module object

/** `assert(value, message)`: same as assert.ok. */
function assert(...args) {
  innerOk(assert, args.length, ...args);
}

/** Strict mode: equal/deepEqual/notEqual/notDeepEqual are the strict versions. */
function strict(...args) {
  innerOk(strict, args.length, ...args);
}

const members = {
  AssertionError,
  ok,
  equal,
  notEqual,
  strictEqual,
  notStrictEqual,
  deepEqual,
  notDeepEqual,
  deepStrictEqual,
  notDeepStrictEqual,
  throws,
  doesNotThrow,
  rejects,
  doesNotReject,
  match: match_,
  doesNotMatch,
  fail,
  ifError,
};
Object.assign(assert, members);
Object.assign(strict, members, {
  equal: strictEqual,
  deepEqual: deepStrictEqual,
  notEqual: notStrictEqual,
  notDeepEqual: notDeepStrictEqual,
});
assert.strict = strict;
strict.strict = strict;

export default assert;
export {
  AssertionError,
  ok,
  equal,
  notEqual,
  strictEqual,
  notStrictEqual,
  deepEqual,
  notDeepEqual,
  deepStrictEqual,
  notDeepStrictEqual,
  throws,
  doesNotThrow,
  rejects,
  doesNotReject,
  match_ as match,
  doesNotMatch,
  fail,
  ifError,
  strict,
  isDeepStrictEqual,
};
