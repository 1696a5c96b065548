// Node-compatible `buffer` module for Ganglion's QuickJS runtime.
//
// Pure ECMAScript (ES2023), no host APIs. `Buffer` is a Uint8Array subclass
// laid out like Node's (a callable `Buffer` function whose prototype is the
// prototype of an internal `FastBuffer extends Uint8Array`), so typed-array
// methods that create new arrays (map, filter, subarray) return Buffers too.
// Encodings: utf8, hex, base64, base64url, ascii, latin1/binary,
// utf16le/ucs2. Reads and writes validate offsets and values like Node
// (RangeError with code ERR_OUT_OF_RANGE / ERR_BUFFER_OUT_OF_BOUNDS).

const kMaxLength = 2 ** 32;
const kStringMaxLength = 2 ** 29 - 24;
const INSPECT_MAX_BYTES = 50;
const constants = Object.freeze({ MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: kStringMaxLength });
const inspectCustom = Symbol.for('nodejs.util.inspect.custom');
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------
// Errors (Node's codes and messages)

function shown(value) {
  switch (typeof value) {
    case 'string': {
      const s = value.length > 25 ? `${value.slice(0, 25)}...` : value;
      return `'${s}'`;
    }
    case 'bigint':
      return `${value}n`;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'symbol':
      return value.toString();
    default:
      return String(value);
  }
}

function received(value) {
  if (value == null) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name}`;
  if (typeof value === 'object') {
    if (value.constructor && value.constructor.name) return ` Received an instance of ${value.constructor.name}`;
    return ' Received [object]';
  }
  return ` Received type ${typeof value} (${shown(value)})`;
}

function withCode(err, code) {
  err.code = code;
  return err;
}

function invalidArgType(name, expected, value) {
  return withCode(new TypeError(`The "${name}" argument must be ${expected}.${received(value)}`), 'ERR_INVALID_ARG_TYPE');
}

function addNumericalSeparator(val) {
  let res = '';
  let i = val.length;
  const start = val[0] === '-' ? 1 : 0;
  for (; i >= start + 4; i -= 3) res = `_${val.slice(i - 3, i)}${res}`;
  return `${val.slice(0, i)}${res}`;
}

function outOfRange(name, range, input) {
  let shownInput;
  if (Number.isInteger(input) && Math.abs(input) > 2 ** 32) {
    shownInput = addNumericalSeparator(String(input));
  } else if (typeof input === 'bigint') {
    shownInput = String(input);
    if (input > 2n ** 32n || input < -(2n ** 32n)) shownInput = addNumericalSeparator(shownInput);
    shownInput += 'n';
  } else {
    shownInput = shown(input);
  }
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shownInput}`),
    'ERR_OUT_OF_RANGE',
  );
}

function bufferOutOfBounds(name) {
  return withCode(
    new RangeError(name ? `"${name}" is outside of buffer bounds` : 'Attempt to access memory outside buffer bounds'),
    'ERR_BUFFER_OUT_OF_BOUNDS',
  );
}

function unknownEncoding(encoding) {
  return withCode(new TypeError(`Unknown encoding: ${encoding}`), 'ERR_UNKNOWN_ENCODING');
}

function validateNumber(value, name, min = undefined, max = undefined) {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (
    (min != null && value < min) ||
    (max != null && value > max) ||
    ((min != null || max != null) && Number.isNaN(value))
  ) {
    throw outOfRange(
      name,
      `${min != null ? `>= ${min}` : ''}${min != null && max != null ? ' && ' : ''}${max != null ? `<= ${max}` : ''}`,
      value,
    );
  }
}

function validateOffset(value, name, min = 0, max = kMaxLength) {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
}

function boundsError(value, length, type) {
  if (Math.floor(value) !== value) {
    validateNumber(value, type || 'offset');
    throw outOfRange(type || 'offset', 'an integer', value);
  }
  if (length < 0) throw bufferOutOfBounds();
  throw outOfRange(type || 'offset', `>= ${type ? 1 : 0} and <= ${length}`, value);
}

// ---------------------------------------------------------------------------
// Encoding helpers

function normalizeEncoding(enc) {
  if (enc == null || enc === 'utf8' || enc === 'utf-8') return 'utf8';
  switch (String(enc).toLowerCase()) {
    case 'utf8':
    case 'utf-8':
      return 'utf8';
    case 'hex':
      return 'hex';
    case 'base64':
      return 'base64';
    case 'base64url':
      return 'base64url';
    case 'ascii':
      return 'ascii';
    case 'latin1':
    case 'binary':
      return 'latin1';
    case 'ucs2':
    case 'ucs-2':
    case 'utf16le':
    case 'utf-16le':
      return 'utf16le';
    default:
      return undefined;
  }
}

function utf8Length(str) {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    } else n += 3;
  }
  return n;
}

/** Writes the UTF-8 of `str` into `out` at `pos`, at most `max` bytes, whole characters only. */
function utf8Write(str, out, pos, max) {
  const end = pos + max;
  let j = pos;
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x80) {
      if (j + 1 > end) break;
      out[j++] = c;
      continue;
    }
    let units = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        units = 2;
      }
    }
    if (units === 1 && c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x800) {
      if (j + 2 > end) break;
      out[j++] = 0xc0 | (c >> 6);
      out[j++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      if (j + 3 > end) break;
      out[j++] = 0xe0 | (c >> 12);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    } else {
      if (j + 4 > end) break;
      out[j++] = 0xf0 | (c >> 18);
      out[j++] = 0x80 | ((c >> 12) & 0x3f);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    }
    i += units - 1;
  }
  return j - pos;
}

function unitsToString(units, length) {
  let out = '';
  for (let i = 0; i < length; i += 8192) {
    out += String.fromCharCode.apply(null, units.subarray(i, Math.min(i + 8192, length)));
  }
  return out;
}

/** UTF-8 bytes to a string; each maximal invalid subpart becomes U+FFFD (WHATWG). */
function utf8Slice(buf, start, end) {
  const units = new Uint16Array(end - start);
  let n = 0;
  let i = start;
  while (i < end) {
    const b = buf[i];
    if (b < 0x80) {
      units[n++] = b;
      i++;
      continue;
    }
    let need = 0;
    let cp = 0;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    } else {
      units[n++] = 0xfffd;
      i++;
      continue;
    }
    let j = i + 1;
    let ok = true;
    for (let k = 0; k < need; k++, j++) {
      const c = j < end ? buf[j] : -1;
      if (c < lower || c > upper) {
        ok = false;
        break;
      }
      lower = 0x80;
      upper = 0xbf;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (!ok) {
      units[n++] = 0xfffd;
      i = j; // resume at the offending byte
      continue;
    }
    if (cp > 0xffff) {
      cp -= 0x10000;
      units[n++] = 0xd800 + (cp >> 10);
      units[n++] = 0xdc00 + (cp & 0x3ff);
    } else {
      units[n++] = cp;
    }
    i = j;
  }
  return unitsToString(units, n);
}

function latin1Slice(buf, start, end) {
  return unitsToString(new Uint16Array(buf.subarray(start, end)), end - start);
}

function asciiSlice(buf, start, end) {
  const units = new Uint16Array(end - start);
  for (let i = start; i < end; i++) units[i - start] = buf[i] & 0x7f;
  return unitsToString(units, end - start);
}

function ucs2Slice(buf, start, end) {
  const n = (end - start) >> 1;
  const units = new Uint16Array(n);
  for (let i = 0; i < n; i++) units[i] = buf[start + 2 * i] | (buf[start + 2 * i + 1] << 8);
  return unitsToString(units, n);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hexSlice(buf, start, end) {
  let out = '';
  for (let i = start; i < end; i++) out += HEX[buf[i]];
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_DECODE = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) {
  B64_DECODE[B64.charCodeAt(i)] = i;
  B64_DECODE[B64URL.charCodeAt(i)] = i;
}

function base64Slice(buf, start, end, url) {
  const table = url ? B64URL : B64;
  let out = '';
  let i = start;
  for (; i + 2 < end; i += 3) {
    const n = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2];
    out += table[n >> 18] + table[(n >> 12) & 63] + table[(n >> 6) & 63] + table[n & 63];
  }
  const rest = end - i;
  if (rest === 1) {
    const n = buf[i] << 16;
    out += table[n >> 18] + table[(n >> 12) & 63];
    if (!url) out += '==';
  } else if (rest === 2) {
    const n = (buf[i] << 16) | (buf[i + 1] << 8);
    out += table[n >> 18] + table[(n >> 12) & 63] + table[(n >> 6) & 63];
    if (!url) out += '=';
  }
  return out;
}

/**
 * Lenient base64/base64url decoding like Node: skips unknown characters and
 * stops at '='. Like Node, a UTF-16 code unit is looked up by its low byte
 * (so an emoji, whose surrogates end in 0x3d, ends the input like '=').
 */
function base64Decode(str) {
  const out = new Uint8Array((str.length * 3) >>> 2);
  let n = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i) & 0xff;
    if (c === 0x3d) break;
    const v = B64_DECODE[c];
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

function hexDecode(str) {
  const n = str.length >>> 1;
  const out = new Uint8Array(n);
  let i = 0;
  for (; i < n; i++) {
    const hi = parseHexDigit(str.charCodeAt(2 * i));
    const lo = parseHexDigit(str.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) break;
    out[i] = (hi << 4) | lo;
  }
  return out.subarray(0, i);
}

function parseHexDigit(c) {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function latin1Encode(str) {
  const out = new Uint8Array(str.length);
  for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i);
  return out;
}

function ucs2Encode(str) {
  const out = new Uint8Array(str.length * 2);
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    out[2 * i] = c & 0xff;
    out[2 * i + 1] = c >> 8;
  }
  return out;
}

/** The bytes of `str` in a normalized encoding. */
function encode(str, enc) {
  switch (enc) {
    case 'utf8': {
      const out = new Uint8Array(utf8Length(str));
      utf8Write(str, out, 0, out.length);
      return out;
    }
    case 'hex':
      return hexDecode(str);
    case 'base64':
    case 'base64url':
      return base64Decode(str);
    case 'ascii':
    case 'latin1':
      return latin1Encode(str);
    case 'utf16le':
      return ucs2Encode(str);
    default:
      throw unknownEncoding(enc);
  }
}

function decode(buf, enc, start, end) {
  switch (enc) {
    case 'utf8':
      return utf8Slice(buf, start, end);
    case 'hex':
      return hexSlice(buf, start, end);
    case 'base64':
      return base64Slice(buf, start, end, false);
    case 'base64url':
      return base64Slice(buf, start, end, true);
    case 'ascii':
      return asciiSlice(buf, start, end);
    case 'latin1':
      return latin1Slice(buf, start, end);
    case 'utf16le':
      return ucs2Slice(buf, start, end);
    default:
      throw unknownEncoding(enc);
  }
}

function base64ByteLength(str) {
  let len = str.length;
  if (len > 0 && str.charCodeAt(len - 1) === 0x3d) len--;
  if (len > 1 && str.charCodeAt(len - 1) === 0x3d) len--;
  return (len * 3) >>> 2;
}

function byteLengthOf(str, enc) {
  switch (enc) {
    case 'utf8':
      return utf8Length(str);
    case 'hex':
      return str.length >>> 1;
    case 'base64':
    case 'base64url':
      return base64ByteLength(str);
    case 'utf16le':
      return str.length * 2;
    default:
      return str.length;
  }
}

// ---------------------------------------------------------------------------
// Buffer

const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
const sharedByteLength =
  typeof SharedArrayBuffer === 'function'
    ? Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength').get
    : null;
function isAnyArrayBuffer(v) {
  if (v === null || typeof v !== 'object') return false;
  try {
    arrayBufferByteLength.call(v);
    return true;
  } catch {
    if (!sharedByteLength) return false;
    try {
      sharedByteLength.call(v);
      return true;
    } catch {
      return false;
    }
  }
}
const isUint8Array = (v) => v instanceof Uint8Array;

class FastBuffer extends Uint8Array {
  // Pass-through, so typed-array species construction (new C(len) / new C(buf, off, len)) works.
  // eslint-disable-next-line no-useless-constructor
  constructor(bufferOrLength, byteOffset, length) {
    super(bufferOrLength, byteOffset, length);
  }
}

/**
 * Legacy constructor form: `Buffer(size)` allocates zeroed memory, anything
 * else is `Buffer.from(...)`. Callable with or without `new`.
 */
function Buffer(arg, encodingOrOffset, length) {
  if (typeof arg === 'number') {
    if (typeof encodingOrOffset === 'string') {
      throw invalidArgType('string', 'of type string', arg);
    }
    return Buffer.alloc(arg);
  }
  return Buffer.from(arg, encodingOrOffset, length);
}
Object.defineProperty(Buffer, 'prototype', { value: FastBuffer.prototype, writable: false });
Object.defineProperty(FastBuffer.prototype, 'constructor', {
  value: Buffer,
  writable: true,
  enumerable: false,
  configurable: true,
});
Object.setPrototypeOf(Buffer, Uint8Array);

Buffer.poolSize = 8192;

function fromString(string, encoding) {
  let enc;
  if (typeof encoding !== 'string' || encoding.length === 0) {
    enc = 'utf8';
  } else {
    enc = normalizeEncoding(encoding);
    if (enc === undefined) throw unknownEncoding(encoding);
  }
  if (string.length === 0) return new FastBuffer(0);
  const bytes = encode(string, enc);
  return new FastBuffer(bytes.buffer, bytes.byteOffset, bytes.length);
}

function fromArrayLike(obj) {
  const len = obj.length >>> 0;
  const b = new FastBuffer(len);
  if (obj instanceof Uint8Array) {
    b.set(obj);
  } else {
    for (let i = 0; i < len; i++) b[i] = obj[i];
  }
  return b;
}

function fromArrayBuffer(obj, byteOffset, length) {
  if (byteOffset === undefined) {
    byteOffset = 0;
  } else {
    byteOffset = +byteOffset;
    if (Number.isNaN(byteOffset)) byteOffset = 0;
  }
  const maxLength = obj.byteLength - byteOffset;
  if (maxLength < 0) throw bufferOutOfBounds('offset');
  if (length === undefined) {
    length = maxLength;
  } else {
    length = +length;
    if (length > 0) {
      if (length > maxLength) throw bufferOutOfBounds('length');
    } else {
      length = 0;
    }
  }
  return new FastBuffer(obj, byteOffset, length);
}

function fromObject(obj) {
  if (obj.length !== undefined || isAnyArrayBuffer(obj.buffer)) {
    if (typeof obj.length !== 'number') return new FastBuffer(0);
    return fromArrayLike(obj);
  }
  if (obj.type === 'Buffer' && Array.isArray(obj.data)) return fromArrayLike(obj.data);
  return undefined;
}

/**
 * `Buffer.from(string[, encoding])`, `from(array | arrayLike | buffer)` (copies),
 * `from(arrayBuffer[, byteOffset[, length]])` (shares memory), `from({type:'Buffer', data})`.
 */
Buffer.from = function from(value, encodingOrOffset, length) {
  if (typeof value === 'string') return fromString(value, encodingOrOffset);
  if (typeof value === 'object' && value !== null) {
    if (isAnyArrayBuffer(value)) return fromArrayBuffer(value, encodingOrOffset, length);
    const valueOf = typeof value.valueOf === 'function' ? value.valueOf() : undefined;
    if (valueOf != null && valueOf !== value && (typeof valueOf === 'string' || typeof valueOf === 'object')) {
      return from(valueOf, encodingOrOffset, length);
    }
    const b = fromObject(value);
    if (b) return b;
    if (typeof value[Symbol.toPrimitive] === 'function') {
      const primitive = value[Symbol.toPrimitive]('string');
      if (typeof primitive === 'string') return fromString(primitive, encodingOrOffset);
    }
  }
  throw withCode(
    new TypeError(
      'The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array ' +
        `or an Array-like Object.${received(value)}`,
    ),
    'ERR_INVALID_ARG_TYPE',
  );
};

/** Zero-filled buffer of `size` bytes, optionally filled like `buf.fill(fill, encoding)`. */
Buffer.alloc = function alloc(size, fill, encoding) {
  validateNumber(size, 'size', 0, kMaxLength);
  const buf = new FastBuffer(size);
  if (fill !== undefined && fill !== 0 && size > 0) return fillImpl(buf, fill, 0, buf.length, encoding);
  return buf;
};

/** Same as alloc (memory is always zeroed here). */
Buffer.allocUnsafe = function allocUnsafe(size) {
  validateNumber(size, 'size', 0, kMaxLength);
  return new FastBuffer(size);
};

/** Same as alloc (memory is always zeroed here). */
Buffer.allocUnsafeSlow = function allocUnsafeSlow(size) {
  validateNumber(size, 'size', 0, kMaxLength);
  return new FastBuffer(size);
};

Buffer.isBuffer = function isBuffer(b) {
  return b instanceof Buffer;
};

Buffer.isEncoding = function isEncoding(encoding) {
  return typeof encoding === 'string' && encoding.length !== 0 && normalizeEncoding(encoding) !== undefined;
};

/** Bytes `string` takes in `encoding` (base64 is estimated from its length, like Node). */
Buffer.byteLength = function byteLength(string, encoding) {
  if (typeof string !== 'string') {
    if (ArrayBuffer.isView(string) || isAnyArrayBuffer(string)) return string.byteLength;
    throw invalidArgType('string', 'of type string or an instance of Buffer or ArrayBuffer', string);
  }
  const enc = normalizeEncoding(encoding) || 'utf8';
  return byteLengthOf(string, enc);
};

function compareBytes(a, aStart, aEnd, b, bStart, bEnd) {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < n; i++) {
    const x = a[aStart + i];
    const y = b[bStart + i];
    if (x !== y) return x < y ? -1 : 1;
  }
  const la = aEnd - aStart;
  const lb = bEnd - bStart;
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/** -1, 0 or 1: byte-wise order of two buffers (for sorting). */
Buffer.compare = function compare(buf1, buf2) {
  if (!isUint8Array(buf1)) throw invalidArgType('buf1', 'an instance of Buffer or Uint8Array', buf1);
  if (!isUint8Array(buf2)) throw invalidArgType('buf2', 'an instance of Buffer or Uint8Array', buf2);
  if (buf1 === buf2) return 0;
  return compareBytes(buf1, 0, buf1.length, buf2, 0, buf2.length);
};

/** Joins buffers; `totalLength` truncates or zero-pads the result. */
Buffer.concat = function concat(list, length) {
  if (!Array.isArray(list)) throw invalidArgType('list', 'an instance of Array', list);
  if (list.length === 0) return new FastBuffer(0);
  if (length === undefined) {
    length = 0;
    for (let i = 0; i < list.length; i++) if (list[i].length) length += list[i].length;
  } else {
    validateOffset(length, 'length');
  }
  const buffer = new FastBuffer(length);
  let pos = 0;
  for (let i = 0; i < list.length; i++) {
    const buf = list[i];
    if (!isUint8Array(buf)) {
      throw invalidArgType(`list[${i}]`, 'an instance of Buffer or Uint8Array', buf);
    }
    const n = Math.max(0, Math.min(buf.length, length - pos));
    if (n > 0) buffer.set(n === buf.length ? buf : buf.subarray(0, n), pos);
    pos += n;
  }
  return buffer;
};

/** Copies `length` elements of a typed array view starting at `offset` into a new Buffer. */
Buffer.copyBytesFrom = function copyBytesFrom(view, offset = 0, length = undefined) {
  if (!ArrayBuffer.isView(view) || view instanceof DataView) {
    throw invalidArgType('view', 'an instance of TypedArray', view);
  }
  const viewLength = view.length;
  if (viewLength === 0) return new FastBuffer(0);
  validateOffset(offset, 'offset', 0);
  if (offset >= viewLength) return new FastBuffer(0);
  let end = viewLength;
  if (length !== undefined) {
    validateOffset(length, 'length', 0);
    end = Math.min(offset + length, viewLength);
  }
  const slice = view.subarray(offset, end);
  const bytes = new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength);
  return fromArrayLike(bytes);
};

const proto = Buffer.prototype;

function adjustOffset(offset, length) {
  offset = Math.trunc(offset);
  if (offset === 0 || Number.isNaN(offset)) return 0;
  if (offset < 0) {
    offset += length;
    return offset > 0 ? offset : 0;
  }
  return offset < length ? offset : length;
}

/** View (not a copy) of bytes [start, end); negative indices count from the end. */
proto.slice = function slice(start, end) {
  const srcLength = this.length;
  start = adjustOffset(start, srcLength);
  end = end !== undefined ? adjustOffset(end, srcLength) : srcLength;
  const newLength = end > start ? end - start : 0;
  return new FastBuffer(this.buffer, this.byteOffset + start, newLength);
};
proto.subarray = proto.slice;

/** Decodes bytes [start, end) with `encoding` (default utf8). */
proto.toString = function toString(encoding, start, end) {
  if (arguments.length === 0) return utf8Slice(this, 0, this.length);
  const len = this.length;
  if (start <= 0) start = 0;
  else if (start >= len) return '';
  else start = Math.trunc(start) || 0;
  if (end === undefined || end > len) end = len;
  else end = Math.trunc(end) || 0;
  if (end <= start) return '';
  if (encoding === undefined) return utf8Slice(this, start, end);
  const enc = normalizeEncoding(encoding);
  if (enc === undefined) throw unknownEncoding(encoding);
  return decode(this, enc, start, end);
};
proto.toLocaleString = proto.toString;

proto.toJSON = function toJSON() {
  return { type: 'Buffer', data: Array.from(this) };
};

proto.equals = function equals(otherBuffer) {
  if (!isUint8Array(otherBuffer)) {
    throw invalidArgType('otherBuffer', 'an instance of Buffer or Uint8Array', otherBuffer);
  }
  if (this === otherBuffer) return true;
  if (this.byteLength !== otherBuffer.byteLength) return false;
  return compareBytes(this, 0, this.length, otherBuffer, 0, otherBuffer.length) === 0;
};

proto.compare = function compare(target, targetStart, targetEnd, sourceStart, sourceEnd) {
  if (!isUint8Array(target)) throw invalidArgType('target', 'an instance of Buffer or Uint8Array', target);
  if (targetStart === undefined) targetStart = 0;
  else validateOffset(targetStart, 'targetStart');
  if (targetEnd === undefined) targetEnd = target.length;
  else validateOffset(targetEnd, 'targetEnd', 0, target.length);
  if (sourceStart === undefined) sourceStart = 0;
  else validateOffset(sourceStart, 'sourceStart');
  if (sourceEnd === undefined) sourceEnd = this.length;
  else validateOffset(sourceEnd, 'sourceEnd', 0, this.length);
  if (sourceStart >= sourceEnd) return targetStart >= targetEnd ? 0 : -1;
  if (targetStart >= targetEnd) return 1;
  return compareBytes(this, sourceStart, sourceEnd, target, targetStart, targetEnd);
};

function toInteger(n, defaultVal) {
  n = +n;
  if (!Number.isNaN(n) && n >= Number.MIN_SAFE_INTEGER && n <= Number.MAX_SAFE_INTEGER) {
    return n % 1 === 0 ? n : Math.floor(n);
  }
  return defaultVal;
}

/** Copies bytes to `target`; returns the number copied (overlap-safe). */
proto.copy = function copy(target, targetStart, sourceStart, sourceEnd) {
  if (!isUint8Array(target)) throw invalidArgType('target', 'an instance of Buffer or Uint8Array', target);
  if (targetStart === undefined) {
    targetStart = 0;
  } else {
    targetStart = toInteger(targetStart, 0);
    if (targetStart < 0) throw outOfRange('targetStart', '>= 0', targetStart);
  }
  if (sourceStart === undefined) {
    sourceStart = 0;
  } else {
    sourceStart = toInteger(sourceStart, 0);
    if (sourceStart < 0 || sourceStart > this.length) {
      throw outOfRange('sourceStart', `>= 0 && <= ${this.length}`, sourceStart);
    }
  }
  if (sourceEnd === undefined) {
    sourceEnd = this.length;
  } else {
    sourceEnd = toInteger(sourceEnd, 0);
    if (sourceEnd < 0) throw outOfRange('sourceEnd', '>= 0', sourceEnd);
  }
  if (targetStart >= target.length || sourceStart >= sourceEnd) return 0;
  if (sourceEnd > this.length) sourceEnd = this.length;
  const nb = Math.min(sourceEnd - sourceStart, target.length - targetStart);
  target.set(new Uint8Array(this.buffer, this.byteOffset + sourceStart, nb), targetStart);
  return nb;
};

function fillImpl(buf, value, offset, end, encoding) {
  let enc;
  if (typeof value === 'string') {
    if (offset === undefined || typeof offset === 'string') {
      encoding = offset;
      offset = 0;
      end = buf.length;
    } else if (typeof end === 'string') {
      encoding = end;
      end = buf.length;
    }
    enc = normalizeEncoding(encoding);
    if (enc === undefined) {
      if (typeof encoding !== 'string') throw invalidArgType('encoding', 'of type string', encoding);
      throw unknownEncoding(encoding);
    }
    if (value.length === 0) value = 0;
  } else if (typeof value === 'boolean') {
    value = Number(value);
  }

  if (offset === undefined) {
    offset = 0;
    end = buf.length;
  } else {
    validateOffset(offset, 'offset');
    if (end === undefined) end = buf.length;
    else validateOffset(end, 'end', 0, buf.length);
    if (offset >= end) return buf;
  }
  if (offset > end || end > buf.length) throw bufferOutOfBounds();

  let bytes;
  if (typeof value === 'string') {
    bytes = encode(value, enc);
    if (bytes.length === 0) {
      throw withCode(new TypeError(`The argument 'value' is invalid. Received ${shown(value)}`), 'ERR_INVALID_ARG_VALUE');
    }
  } else if (isUint8Array(value)) {
    bytes = value;
    if (bytes.length === 0) {
      throw withCode(new TypeError("The argument 'value' is invalid. Received an empty buffer"), 'ERR_INVALID_ARG_VALUE');
    }
  } else {
    Uint8Array.prototype.fill.call(buf, value, offset, end);
    return buf;
  }
  if (bytes.length === 1) {
    Uint8Array.prototype.fill.call(buf, bytes[0], offset, end);
    return buf;
  }
  // Copy once, then double the filled region.
  const total = end - offset;
  const first = Math.min(bytes.length, total);
  buf.set(first === bytes.length ? bytes : bytes.subarray(0, first), offset);
  let filled = first;
  while (filled < total) {
    const n = Math.min(filled, total - filled);
    buf.copyWithin(offset + filled, offset, offset + n);
    filled += n;
  }
  return buf;
}

/** Fills with a number (& 255), string (in `encoding`) or byte pattern; returns this. */
proto.fill = function fill(value, offset, end, encoding) {
  return fillImpl(this, value, offset, end, encoding);
};

/** Writes `string` at `offset` (whole characters for utf8); returns bytes written. */
proto.write = function write(string, offset, length, encoding) {
  if (typeof string !== 'string') throw invalidArgType('argument', 'of type string', string);
  if (offset === undefined) {
    return utf8Write(string, this, 0, this.length);
  }
  if (length === undefined && typeof offset === 'string') {
    encoding = offset;
    length = this.length;
    offset = 0;
  } else {
    validateOffset(offset, 'offset', 0, this.length);
    const remaining = this.length - offset;
    if (length === undefined) {
      length = remaining;
    } else if (typeof length === 'string') {
      encoding = length;
      length = remaining;
    } else {
      validateOffset(length, 'length', 0, this.length);
      if (length > remaining) length = remaining;
    }
  }
  const enc = normalizeEncoding(encoding);
  if (enc === undefined) throw unknownEncoding(encoding);
  if (enc === 'utf8') return utf8Write(string, this, offset, length);
  let bytes = encode(string, enc);
  if (enc === 'utf16le' && length % 2 === 1) length -= 1;
  if (bytes.length > length) bytes = bytes.subarray(0, length);
  this.set(bytes, offset);
  return bytes.length;
};

function indexOfOffset(length, offset, needleLength, forward) {
  if (offset < 0) {
    if (offset + length >= 0) return length + offset;
    if (forward || needleLength === 0) return 0;
    return -1;
  }
  if (offset + needleLength <= length) return offset;
  if (needleLength === 0) return length;
  if (forward) return -1;
  return length - 1;
}

function searchBytes(haystack, needle, byteOffset, forward) {
  const len = haystack.length;
  const nlen = needle.length;
  const start = indexOfOffset(len, byteOffset, nlen, forward);
  if (nlen === 0) return start;
  if (len === 0 || start <= -1) return -1;
  const matchesAt = (pos) => {
    for (let k = 0; k < nlen; k++) if (haystack[pos + k] !== needle[k]) return false;
    return true;
  };
  if (forward) {
    for (let pos = start; pos + nlen <= len; pos++) if (matchesAt(pos)) return pos;
  } else {
    for (let pos = Math.min(start, len - nlen); pos >= 0; pos--) if (matchesAt(pos)) return pos;
  }
  return -1;
}

function bidirectionalIndexOf(buffer, val, byteOffset, encoding, forward) {
  if (typeof byteOffset === 'string') {
    encoding = byteOffset;
    byteOffset = undefined;
  } else if (byteOffset > 0x7fffffff) {
    byteOffset = 0x7fffffff;
  } else if (byteOffset < -0x80000000) {
    byteOffset = -0x80000000;
  }
  byteOffset = +byteOffset;
  if (Number.isNaN(byteOffset)) byteOffset = forward ? 0 : buffer.length || buffer.byteLength;
  byteOffset = Math.trunc(byteOffset);

  if (typeof val === 'number') return searchBytes(buffer, [(val >>> 0) & 0xff], byteOffset, forward);
  let enc = 'utf8';
  if (encoding !== undefined) {
    enc = normalizeEncoding(encoding);
  }
  if (typeof val === 'string') {
    if (enc === undefined) throw unknownEncoding(encoding);
    return searchBytes(buffer, encode(val, enc), byteOffset, forward);
  }
  if (isUint8Array(val)) return searchBytes(buffer, val, byteOffset, forward);
  throw invalidArgType('value', 'one of type number or string or an instance of Buffer or Uint8Array', val);
}

proto.indexOf = function indexOf(val, byteOffset, encoding) {
  return bidirectionalIndexOf(this, val, byteOffset, encoding, true);
};
proto.lastIndexOf = function lastIndexOf(val, byteOffset, encoding) {
  return bidirectionalIndexOf(this, val, byteOffset, encoding, false);
};
proto.includes = function includes(val, byteOffset, encoding) {
  return this.indexOf(val, byteOffset, encoding) !== -1;
};

function swap(b, n, m) {
  const i = b[n];
  b[n] = b[m];
  b[m] = i;
}
function sizeError(bits) {
  return withCode(new RangeError(`Buffer size must be a multiple of ${bits}-bits`), 'ERR_INVALID_BUFFER_SIZE');
}
proto.swap16 = function swap16() {
  if (this.length % 2 !== 0) throw sizeError(16);
  for (let i = 0; i < this.length; i += 2) swap(this, i, i + 1);
  return this;
};
proto.swap32 = function swap32() {
  if (this.length % 4 !== 0) throw sizeError(32);
  for (let i = 0; i < this.length; i += 4) {
    swap(this, i, i + 3);
    swap(this, i + 1, i + 2);
  }
  return this;
};
proto.swap64 = function swap64() {
  if (this.length % 8 !== 0) throw sizeError(64);
  for (let i = 0; i < this.length; i += 8) {
    swap(this, i, i + 7);
    swap(this, i + 1, i + 6);
    swap(this, i + 2, i + 5);
    swap(this, i + 3, i + 4);
  }
  return this;
};

proto[inspectCustom] = function inspect() {
  const max = INSPECT_MAX_BYTES;
  const n = Math.min(max, this.length);
  let str = hexSlice(this, 0, n).replace(/(.{2})/g, '$1 ').trim();
  const remaining = this.length - max;
  if (remaining > 0) str += ` ... ${remaining} more byte${remaining > 1 ? 's' : ''}`;
  return `<${this.constructor.name} ${str}>`.replace(' >', '>');
};

// ---------------------------------------------------------------------------
// Numeric reads and writes

function checkRead(buf, offset, byteLength) {
  validateNumber(offset, 'offset');
  if (buf[offset] === undefined || buf[offset + byteLength - 1] === undefined) {
    boundsError(offset, buf.length - byteLength);
  }
}

function checkBounds(buf, offset, byteLength) {
  validateNumber(offset, 'offset');
  if (buf[offset] === undefined || buf[offset + byteLength - 1] === undefined) {
    boundsError(offset, buf.length - byteLength);
  }
}

function checkInt(value, min, max, buf, offset, byteLength) {
  if (value > max || value < min) {
    const n = typeof min === 'bigint' ? 'n' : '';
    let range;
    if (byteLength > 4) {
      if (min === 0 || min === 0n) range = `>= 0${n} and < 2${n} ** ${byteLength * 8}${n}`;
      else range = `>= -(2${n} ** ${byteLength * 8 - 1}${n}) and < 2 ** ${byteLength * 8 - 1}${n}`;
    } else {
      range = `>= ${min}${n} and <= ${max}${n}`;
    }
    throw outOfRange('value', range, value);
  }
  checkBounds(buf, offset, byteLength);
}

function checkByteLength(byteLength) {
  validateNumber(byteLength, 'byteLength');
  if (!Number.isInteger(byteLength)) throw outOfRange('byteLength', 'an integer', byteLength);
  if (byteLength < 1 || byteLength > 6) throw outOfRange('byteLength', '>= 1 and <= 6', byteLength);
}

function readUnsigned(buf, offset, byteLength, little) {
  let val = 0;
  if (little) {
    for (let i = byteLength - 1; i >= 0; i--) val = val * 256 + buf[offset + i];
  } else {
    for (let i = 0; i < byteLength; i++) val = val * 256 + buf[offset + i];
  }
  return val;
}

function writeUnsigned(buf, value, offset, byteLength, little) {
  // `value` is a non-negative integer < 2 ** 48 here (or wrapped two's complement).
  let v = value;
  for (let i = 0; i < byteLength; i++) {
    const byte = v % 256;
    buf[little ? offset + i : offset + byteLength - 1 - i] = byte;
    v = (v - byte) / 256;
  }
  return offset + byteLength;
}

function defineUnsignedRead(bytes, little) {
  return function read(offset = 0) {
    checkRead(this, offset, bytes);
    return readUnsigned(this, offset, bytes, little);
  };
}

function defineSignedRead(bytes, little) {
  const half = 2 ** (bytes * 8 - 1);
  const full = 2 ** (bytes * 8);
  return function read(offset = 0) {
    checkRead(this, offset, bytes);
    const v = readUnsigned(this, offset, bytes, little);
    return v >= half ? v - full : v;
  };
}

function defineUnsignedWrite(bytes, little) {
  const max = 2 ** (bytes * 8) - 1;
  return function write(value, offset = 0) {
    value = +value;
    if (bytes === 1) validateNumber(offset, 'offset'); // Node checks the offset type first here
    checkInt(value, 0, max, this, offset, bytes);
    return writeUnsigned(this, Math.trunc(value) || 0, offset, bytes, little);
  };
}

function defineSignedWrite(bytes, little) {
  const max = 2 ** (bytes * 8 - 1) - 1;
  const min = -(2 ** (bytes * 8 - 1));
  const full = 2 ** (bytes * 8);
  return function write(value, offset = 0) {
    value = +value;
    if (bytes === 1) validateNumber(offset, 'offset');
    checkInt(value, min, max, this, offset, bytes);
    let v = Math.trunc(value) || 0;
    if (v < 0) v += full;
    return writeUnsigned(this, v, offset, bytes, little);
  };
}

const methods = {};
for (const [bits, bytes] of [[8, 1], [16, 2], [32, 4]]) {
  const ends = bytes === 1 ? [['', true]] : [['LE', true], ['BE', false]];
  for (const [suffix, little] of ends) {
    methods[`readUInt${bits}${suffix}`] = defineUnsignedRead(bytes, little);
    methods[`readInt${bits}${suffix}`] = defineSignedRead(bytes, little);
    methods[`writeUInt${bits}${suffix}`] = defineUnsignedWrite(bytes, little);
    methods[`writeInt${bits}${suffix}`] = defineSignedWrite(bytes, little);
  }
}

for (const [suffix, little] of [['LE', true], ['BE', false]]) {
  methods[`readUInt${suffix}`] = function readUIntVar(offset, byteLength) {
    if (offset === undefined) throw invalidArgType('offset', 'of type number', offset);
    checkByteLength(byteLength);
    checkRead(this, offset, byteLength);
    return readUnsigned(this, offset, byteLength, little);
  };
  methods[`readInt${suffix}`] = function readIntVar(offset, byteLength) {
    if (offset === undefined) throw invalidArgType('offset', 'of type number', offset);
    checkByteLength(byteLength);
    checkRead(this, offset, byteLength);
    const v = readUnsigned(this, offset, byteLength, little);
    const half = 2 ** (byteLength * 8 - 1);
    return v >= half ? v - 2 * half : v;
  };
  methods[`writeUInt${suffix}`] = function writeUIntVar(value, offset, byteLength) {
    checkByteLength(byteLength);
    value = +value;
    checkInt(value, 0, 2 ** (byteLength * 8) - 1, this, offset, byteLength);
    return writeUnsigned(this, Math.trunc(value) || 0, offset, byteLength, little);
  };
  methods[`writeInt${suffix}`] = function writeIntVar(value, offset, byteLength) {
    checkByteLength(byteLength);
    value = +value;
    const half = 2 ** (byteLength * 8 - 1);
    checkInt(value, -half, half - 1, this, offset, byteLength);
    let v = Math.trunc(value) || 0;
    if (v < 0) v += 2 * half;
    return writeUnsigned(this, v, offset, byteLength, little);
  };
}

// Floats go through a scratch typed array sharing memory with a byte view.
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);
const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);

function readFloatBytes(buf, offset, scratch, scratchBytes, little) {
  const n = scratchBytes.length;
  const native = little === littleEndian;
  for (let i = 0; i < n; i++) scratchBytes[native ? i : n - 1 - i] = buf[offset + i];
  return scratch[0];
}

function writeFloatBytes(buf, value, offset, scratch, scratchBytes, little) {
  scratch[0] = value;
  const n = scratchBytes.length;
  const native = little === littleEndian;
  for (let i = 0; i < n; i++) buf[offset + i] = scratchBytes[native ? i : n - 1 - i];
  return offset + n;
}

for (const [suffix, little] of [['LE', true], ['BE', false]]) {
  methods[`readFloat${suffix}`] = function readFloat(offset = 0) {
    checkRead(this, offset, 4);
    return readFloatBytes(this, offset, f32, f32b, little);
  };
  methods[`readDouble${suffix}`] = function readDouble(offset = 0) {
    checkRead(this, offset, 8);
    return readFloatBytes(this, offset, f64, f64b, little);
  };
  methods[`writeFloat${suffix}`] = function writeFloat(value, offset = 0) {
    value = +value;
    checkBounds(this, offset, 4);
    return writeFloatBytes(this, value, offset, f32, f32b, little);
  };
  methods[`writeDouble${suffix}`] = function writeDouble(value, offset = 0) {
    value = +value;
    checkBounds(this, offset, 8);
    return writeFloatBytes(this, value, offset, f64, f64b, little);
  };

  methods[`readBigUInt64${suffix}`] = function readBigUInt64(offset = 0) {
    checkRead(this, offset, 8);
    const lo = readUnsigned(this, little ? offset : offset + 4, 4, little);
    const hi = readUnsigned(this, little ? offset + 4 : offset, 4, little);
    return (BigInt(hi) << 32n) + BigInt(lo);
  };
  methods[`readBigInt64${suffix}`] = function readBigInt64(offset = 0) {
    checkRead(this, offset, 8);
    const lo = readUnsigned(this, little ? offset : offset + 4, 4, little);
    let hi = readUnsigned(this, little ? offset + 4 : offset, 4, little);
    if (hi >= 2 ** 31) hi -= 2 ** 32;
    return (BigInt(hi) << 32n) + BigInt(lo);
  };
  methods[`writeBigUInt64${suffix}`] = function writeBigUInt64(value, offset = 0) {
    checkBigInt(value);
    checkInt(value, 0n, 2n ** 64n - 1n, this, offset, 8);
    return writeBig(this, value, offset, little);
  };
  methods[`writeBigInt64${suffix}`] = function writeBigInt64(value, offset = 0) {
    checkBigInt(value);
    checkInt(value, -(2n ** 63n), 2n ** 63n - 1n, this, offset, 8);
    return writeBig(this, value, offset, little);
  };
}

function checkBigInt(value) {
  if (typeof value !== 'bigint') throw new TypeError('Cannot mix BigInt and other types, use explicit conversions');
}

function writeBig(buf, value, offset, little) {
  const lo = Number(value & 0xffffffffn);
  const hi = Number((value >> 32n) & 0xffffffffn);
  writeUnsigned(buf, lo, little ? offset : offset + 4, 4, little);
  writeUnsigned(buf, hi, little ? offset + 4 : offset, 4, little);
  return offset + 8;
}

for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(fn, 'name', { value: name });
  proto[name] = fn;
  // Node also has the lowercase spelling (readUint8, writeBigUint64LE, ...).
  if (name.includes('UInt')) proto[name.replace('UInt', 'Uint')] = fn;
}

for (const name of ['slice', 'toString', 'toLocaleString', 'toJSON', 'equals', 'compare', 'copy', 'fill', 'write',
  'indexOf', 'lastIndexOf', 'includes', 'swap16', 'swap32', 'swap64', 'subarray', ...Object.keys(methods)]) {
  // Like Node's prototype methods: not enumerable.
  for (const key of [name, name.replace('UInt', 'Uint')]) {
    const desc = Object.getOwnPropertyDescriptor(proto, key);
    if (desc && desc.enumerable) Object.defineProperty(proto, key, { enumerable: false });
  }
}
Object.defineProperty(proto, inspectCustom, { enumerable: false });

/** Deprecated alias: `SlowBuffer(size)` is `Buffer.allocUnsafeSlow(size)`. */
function SlowBuffer(size) {
  return Buffer.allocUnsafeSlow(size);
}

const bufferModule = { Buffer, SlowBuffer, kMaxLength, kStringMaxLength, constants, INSPECT_MAX_BYTES };

export { Buffer, SlowBuffer, kMaxLength, kStringMaxLength, constants, INSPECT_MAX_BYTES };
export default bufferModule;
