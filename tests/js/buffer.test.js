// Conformance tests for the `buffer` built-in. Runs unchanged under Node.js
// (the reference) and under Ganglion; prints `ok buffer <count>` on success
// and throws (non-zero exit) when any test fails.
import { Buffer } from 'node:buffer';
import bufferModule, * as bufferNs from 'node:buffer';
import assert from 'node:assert';

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
const bytes = (buf) => Array.from(buf);

test('module shape', () => {
  assert.strictEqual(typeof Buffer, 'function');
  assert.strictEqual(bufferModule.Buffer, Buffer);
  assert.strictEqual(bufferNs.Buffer, Buffer);
  assert.strictEqual(typeof bufferNs.kMaxLength, 'number');
  assert.strictEqual(bufferNs.constants.MAX_LENGTH, bufferNs.kMaxLength);
  assert.ok(Object.getPrototypeOf(Buffer.prototype) === Uint8Array.prototype);
  const b = Buffer.alloc(2);
  assert.ok(b instanceof Buffer);
  assert.ok(b instanceof Uint8Array);
  assert.strictEqual(Buffer.isBuffer(b), true);
  assert.strictEqual(Buffer.isBuffer(new Uint8Array(2)), false);
  assert.strictEqual(Buffer.isBuffer('ab'), false);
  assert.strictEqual(typeof Buffer.poolSize, 'number');
  assert.strictEqual(b.constructor, Buffer);
});

test('utf8 is the default and round-trips all planes', () => {
  const s = 'héllo €uro 😀 日本';
  const b = Buffer.from(s);
  assert.strictEqual(b.length, 25);
  assert.deepStrictEqual(bytes(Buffer.from('é€😀')), [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]);
  assert.strictEqual(b.toString(), s);
  assert.strictEqual(b.toString('utf8'), s);
  assert.strictEqual(b.toString('utf-8'), s);
  assert.strictEqual(b.toString('UTF8'), s);
  assert.strictEqual(Buffer.from(s, 'utf-8').equals(b), true);
  assert.strictEqual(Buffer.from('').length, 0);
});

test('lone surrogates encode as U+FFFD', () => {
  assert.deepStrictEqual(bytes(Buffer.from('\ud800x\udc00')), [0xef, 0xbf, 0xbd, 0x78, 0xef, 0xbf, 0xbd]);
  assert.deepStrictEqual(bytes(Buffer.from('a\ud83d')), [0x61, 0xef, 0xbf, 0xbd]);
});

test('malformed utf8 decodes with maximal-subpart replacement', () => {
  const b = Buffer.from([0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0x80, 0xff, 0xc0, 0xaf, 0xf4, 0x90]);
  assert.strictEqual(b.toString(), '\ufffdA😀\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd');
  assert.strictEqual(Buffer.from([0xf0, 0x9f, 0x98]).toString(), '\ufffd');
  assert.strictEqual(Buffer.from([0x80, 0x41]).toString(), '\ufffdA');
});

test('every encoding round-trips', () => {
  const cases = [
    ['hex', '00ff10a5', [0x00, 0xff, 0x10, 0xa5]],
    ['base64', 'AP8QpQ==', [0x00, 0xff, 0x10, 0xa5]],
    ['base64url', 'AP8QpQ', [0x00, 0xff, 0x10, 0xa5]],
    ['base64', '+/8=', [0xfb, 0xff]],
    ['base64url', '-_8', [0xfb, 0xff]],
    ['ascii', 'Hi!', [0x48, 0x69, 0x21]],
    ['latin1', 'Ñ\xff', [0xd1, 0xff]],
    ['binary', 'Ñ\xff', [0xd1, 0xff]],
    ['utf16le', 'h€', [0x68, 0x00, 0xac, 0x20]],
    ['ucs2', 'h€', [0x68, 0x00, 0xac, 0x20]],
    ['ucs-2', 'A', [0x41, 0x00]],
    ['utf-16le', '😀', [0x3d, 0xd8, 0x00, 0xde]],
  ];
  for (const [enc, str, expected] of cases) {
    const b = Buffer.from(str, enc);
    assert.deepStrictEqual(bytes(b), expected, `from ${enc}`);
    assert.strictEqual(b.toString(enc), str, `toString ${enc}`);
    assert.strictEqual(Buffer.byteLength(str, enc), expected.length, `byteLength ${enc}`);
  }
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (const enc of ['hex', 'base64', 'base64url', 'latin1', 'binary']) {
    assert.ok(Buffer.from(all.toString(enc), enc).equals(all), enc);
  }
  assert.strictEqual(all.toString('hex').slice(0, 8), '00010203');
  assert.strictEqual(Buffer.from('hello world').toString('base64'), 'aGVsbG8gd29ybGQ=');
  assert.strictEqual(Buffer.from('hello worl').toString('base64'), 'aGVsbG8gd29ybA==');
  assert.strictEqual(Buffer.from([0xfb, 0xff, 0xbf]).toString('base64url'), '-_-_');
});

test('base64 decoding is lenient like Node', () => {
  assert.strictEqual(Buffer.from('YWJj\nZGVm', 'base64').toString(), 'abcdef');
  assert.strictEqual(Buffer.from('YW Jj!ZA', 'base64').toString(), 'abcd');
  assert.strictEqual(Buffer.from('YQ', 'base64').toString(), 'a');
  assert.strictEqual(Buffer.from('YQ==YQ==', 'base64').toString(), 'a');
  assert.strictEqual(Buffer.from('_-8', 'base64').toString('hex'), 'ffef');
  assert.strictEqual(Buffer.from('+/8=', 'base64url').toString('hex'), 'fbff');
  assert.strictEqual(Buffer.from('Y', 'base64').length, 0);
  assert.strictEqual(Buffer.byteLength('YW Jj', 'base64'), 3);
  assert.strictEqual(Buffer.byteLength('YQ==', 'base64'), 1);
});

test('hex decoding stops at the first bad pair', () => {
  assert.deepStrictEqual(bytes(Buffer.from('abz1', 'hex')), [0xab]);
  assert.deepStrictEqual(bytes(Buffer.from('a', 'hex')), []);
  assert.deepStrictEqual(bytes(Buffer.from('ABCDEf0', 'hex')), [0xab, 0xcd, 0xef]);
  assert.strictEqual(Buffer.byteLength('abcde', 'hex'), 2);
});

test('ascii and latin1 decoding', () => {
  const b = Buffer.from([0x41, 0x80, 0xff, 0xe9]);
  assert.strictEqual(b.toString('latin1'), 'A\x80\xff\xe9');
  assert.strictEqual(b.toString('ascii'), 'A\x00\x7f\x69');
  assert.deepStrictEqual(bytes(Buffer.from('€', 'latin1')), [0xac]);
  assert.deepStrictEqual(bytes(Buffer.from('€', 'ascii')), [0xac]);
});

test('toString(encoding, start, end) clamps like Node', () => {
  const b = Buffer.from('abcdef');
  assert.strictEqual(b.toString('utf8', 1, 3), 'bc');
  assert.strictEqual(b.toString(undefined, 2), 'cdef');
  assert.strictEqual(b.toString('hex', -1, 2), '6162');
  assert.strictEqual(b.toString('utf8', 4, 100), 'ef');
  assert.strictEqual(b.toString('utf8', 10), '');
  assert.strictEqual(b.toString('utf8', 3, 2), '');
  assert.strictEqual(b.toString('utf8', 1.7, 3.2), 'bc');
  assert.throws(() => b.toString('nope'), { name: 'TypeError', code: 'ERR_UNKNOWN_ENCODING', message: 'Unknown encoding: nope' });
  assert.throws(() => Buffer.from('a', 'nope'), { name: 'TypeError', code: 'ERR_UNKNOWN_ENCODING' });
});

test('Buffer.isEncoding', () => {
  for (const e of ['utf8', 'UTF-8', 'hex', 'base64', 'base64url', 'ascii', 'latin1', 'binary', 'ucs2', 'utf16le']) {
    assert.strictEqual(Buffer.isEncoding(e), true, e);
  }
  assert.strictEqual(Buffer.isEncoding(''), false);
  assert.strictEqual(Buffer.isEncoding('utf32'), false);
  assert.strictEqual(Buffer.isEncoding(8), false);
});

test('from(array | array-like | typed array | object) copies with & 255', () => {
  assert.deepStrictEqual(bytes(Buffer.from([256, -1, 1.7, '3', 'x', 0x41])), [0, 255, 1, 3, 0, 0x41]);
  assert.deepStrictEqual(bytes(Buffer.from(new Uint16Array([256, 513]))), [0, 1]);
  assert.deepStrictEqual(bytes(Buffer.from({ length: 2, 0: 5, 1: 6 })), [5, 6]);
  assert.deepStrictEqual(bytes(Buffer.from({ type: 'Buffer', data: [1, 2, 3] })), [1, 2, 3]);
  assert.strictEqual(Buffer.from(new String('hi')).toString(), 'hi');
  const src = Buffer.from([1, 2, 3]);
  const copy = Buffer.from(src);
  copy[0] = 9;
  assert.strictEqual(src[0], 1, 'from(buffer) copies');
  const u8 = new Uint8Array([7, 8]);
  const c2 = Buffer.from(u8);
  u8[0] = 0;
  assert.deepStrictEqual(bytes(c2), [7, 8]);
});

test('from(arrayBuffer, offset, length) shares memory', () => {
  const ab = new ArrayBuffer(8);
  const view = new Uint8Array(ab);
  const b = Buffer.from(ab, 2, 4);
  assert.strictEqual(b.length, 4);
  assert.strictEqual(b.buffer, ab);
  assert.strictEqual(b.byteOffset, 2);
  b[0] = 0xaa;
  assert.strictEqual(view[2], 0xaa);
  assert.strictEqual(Buffer.from(ab).length, 8);
  assert.strictEqual(Buffer.from(ab, 6).length, 2);
  assert.throws(() => Buffer.from(ab, 9), { name: 'RangeError', code: 'ERR_BUFFER_OUT_OF_BOUNDS' });
  assert.throws(() => Buffer.from(ab, 4, 5), { name: 'RangeError', code: 'ERR_BUFFER_OUT_OF_BOUNDS' });
});

test('from() rejects numbers and other non-sources', () => {
  for (const v of [5, true, null, undefined, Symbol('s')]) {
    assert.throws(() => Buffer.from(v), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  }
  assert.throws(() => Buffer.from(5), /The first argument must be of type string or an instance of Buffer/);
});

test('alloc, allocUnsafe and fill', () => {
  assert.deepStrictEqual(bytes(Buffer.alloc(3)), [0, 0, 0]);
  assert.deepStrictEqual(bytes(Buffer.alloc(3, 7)), [7, 7, 7]);
  assert.deepStrictEqual(bytes(Buffer.alloc(5, 'ab')), [97, 98, 97, 98, 97]);
  assert.deepStrictEqual(bytes(Buffer.alloc(5, '€')), [0xe2, 0x82, 0xac, 0xe2, 0x82]);
  assert.deepStrictEqual(bytes(Buffer.alloc(4, 'a1b2', 'hex')), [0xa1, 0xb2, 0xa1, 0xb2]);
  assert.deepStrictEqual(bytes(Buffer.alloc(3, Buffer.from([1, 2]))), [1, 2, 1]);
  assert.strictEqual(Buffer.allocUnsafe(10).length, 10);
  assert.strictEqual(Buffer.allocUnsafeSlow(3).length, 3);
  assert.strictEqual(Buffer.alloc(0).length, 0);
  assert.throws(() => Buffer.alloc(-1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => Buffer.alloc('5'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => Buffer.alloc(5, 'zz', 'hex'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });

  const b = Buffer.alloc(6);
  assert.strictEqual(b.fill(257), b);
  assert.deepStrictEqual(bytes(b), [1, 1, 1, 1, 1, 1]);
  b.fill(0).fill('xy', 1, 4);
  assert.deepStrictEqual(bytes(b), [0, 120, 121, 120, 0, 0]);
  b.fill('ff', 4, 'hex');
  assert.deepStrictEqual(bytes(b), [0, 120, 121, 120, 255, 255]);
  b.fill(-1, 0, 1);
  assert.strictEqual(b[0], 255);
  b.fill('');
  assert.deepStrictEqual(bytes(b), [0, 0, 0, 0, 0, 0]);
  b.fill(Buffer.from([1, 2, 3]), 1);
  assert.deepStrictEqual(bytes(b), [0, 1, 2, 3, 1, 2]);
  assert.throws(() => b.fill(1, 0, 7), { code: 'ERR_OUT_OF_RANGE' });
});

test('byteLength of strings and binary values', () => {
  assert.strictEqual(Buffer.byteLength('abc'), 3);
  assert.strictEqual(Buffer.byteLength('€'), 3);
  assert.strictEqual(Buffer.byteLength('😀'), 4);
  assert.strictEqual(Buffer.byteLength('\ud800'), 3);
  assert.strictEqual(Buffer.byteLength('abc', 'utf16le'), 6);
  assert.strictEqual(Buffer.byteLength('ñ', 'latin1'), 1);
  assert.strictEqual(Buffer.byteLength(Buffer.alloc(5)), 5);
  assert.strictEqual(Buffer.byteLength(new ArrayBuffer(7)), 7);
  assert.strictEqual(Buffer.byteLength(new Float64Array(2)), 16);
  assert.throws(() => Buffer.byteLength(5), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('concat with and without totalLength', () => {
  const a = Buffer.from('ab');
  const c = Buffer.concat([a, new Uint8Array([1]), Buffer.alloc(0)]);
  assert.ok(c instanceof Buffer);
  assert.deepStrictEqual(bytes(c), [97, 98, 1]);
  assert.deepStrictEqual(bytes(Buffer.concat([a, new Uint8Array([1])], 5)), [97, 98, 1, 0, 0]);
  assert.deepStrictEqual(bytes(Buffer.concat([Buffer.from('abc'), Buffer.from('d')], 2)), [97, 98]);
  assert.strictEqual(Buffer.concat([]).length, 0);
  c[0] = 0;
  assert.strictEqual(a[0], 97, 'concat copies');
  assert.throws(() => Buffer.concat([1]), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => Buffer.concat('ab'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('compare and equals', () => {
  const a = Buffer.from('abc');
  assert.strictEqual(Buffer.compare(a, Buffer.from('abd')), -1);
  assert.strictEqual(Buffer.compare(Buffer.from('b'), a), 1);
  assert.strictEqual(Buffer.compare(a, Buffer.from('abc')), 0);
  assert.strictEqual(Buffer.compare(Buffer.from('ab'), a), -1);
  assert.strictEqual(a.compare(Buffer.from('xbcx'), 1, 3, 1), 0);
  assert.strictEqual(a.compare(Buffer.from('abcd')), -1);
  assert.strictEqual(a.equals(Buffer.from('abc')), true);
  assert.strictEqual(a.equals(new Uint8Array([97, 98, 99])), true);
  assert.strictEqual(a.equals(Buffer.from('abd')), false);
  assert.throws(() => a.equals('abc'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  const sorted = [Buffer.from('c'), Buffer.from('a'), Buffer.from('b')].sort(Buffer.compare);
  assert.deepStrictEqual(sorted.map((b) => b.toString()), ['a', 'b', 'c']);
});

test('slice and subarray are views returning Buffers', () => {
  const b = Buffer.from('abcdef');
  const s = b.slice(1, 3);
  assert.ok(s instanceof Buffer);
  assert.strictEqual(s.toString(), 'bc');
  s[0] = 0x42;
  assert.strictEqual(b.toString(), 'aBcdef', 'slice shares memory');
  assert.strictEqual(b.slice(-2).toString(), 'ef');
  assert.strictEqual(b.slice(-100, 2).toString(), 'aB');
  assert.strictEqual(b.slice(4, 2).length, 0);
  const sub = b.subarray(2);
  assert.ok(sub instanceof Buffer);
  assert.strictEqual(sub.toString(), 'cdef');
  assert.ok(b.map((x) => x) instanceof Buffer);
  assert.ok(b.filter(() => true) instanceof Buffer);
});

test('write(string[, offset[, length]][, encoding])', () => {
  const b = Buffer.alloc(4);
  assert.strictEqual(b.write('€€'), 3, 'no partial characters');
  assert.deepStrictEqual(bytes(b), [0xe2, 0x82, 0xac, 0]);
  const c = Buffer.alloc(5);
  assert.strictEqual(c.write('abcdef', 1, 'latin1'), 4);
  assert.deepStrictEqual(bytes(c), [0, 97, 98, 99, 100]);
  assert.strictEqual(c.write('ff00zz', 'hex'), 2);
  assert.deepStrictEqual(bytes(c), [255, 0, 98, 99, 100]);
  assert.strictEqual(c.write('xyz', 1, 1), 1);
  assert.deepStrictEqual(bytes(c), [255, 120, 98, 99, 100]);
  assert.strictEqual(c.write('AQID', 2, 'base64'), 3);
  assert.deepStrictEqual(bytes(c), [255, 120, 1, 2, 3]);
  assert.strictEqual(c.write('hi', 3, 2, 'utf16le'), 2);
  assert.deepStrictEqual(bytes(c), [255, 120, 1, 104, 0]);
  assert.strictEqual(c.write('', 0), 0);
  assert.throws(() => c.write('a', 6), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => c.write(5), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('copy, including overlapping ranges', () => {
  const src = Buffer.from([1, 2, 3, 4]);
  const dst = Buffer.alloc(3);
  assert.strictEqual(src.copy(dst), 3);
  assert.deepStrictEqual(bytes(dst), [1, 2, 3]);
  assert.strictEqual(src.copy(dst, 1, 2), 2);
  assert.deepStrictEqual(bytes(dst), [1, 3, 4]);
  assert.strictEqual(src.copy(dst, 5), 0);
  const same = Buffer.from([1, 2, 3, 4, 5]);
  assert.strictEqual(same.copy(same, 1, 0, 4), 4);
  assert.deepStrictEqual(bytes(same), [1, 1, 2, 3, 4]);
  assert.strictEqual(Buffer.from([1, 2, 3, 4]).copy(Buffer.alloc(2), 0, 1), 2);
  assert.throws(() => src.copy(dst, -1), { code: 'ERR_OUT_OF_RANGE' });
});

test('indexOf, lastIndexOf, includes', () => {
  const b = Buffer.from('abcabc');
  assert.strictEqual(b.indexOf('c'), 2);
  assert.strictEqual(b.indexOf('c', 3), 5);
  assert.strictEqual(b.indexOf('c', -2), 5);
  assert.strictEqual(b.indexOf(99, 3), 5);
  assert.strictEqual(b.indexOf(Buffer.from('ca')), 2);
  assert.strictEqual(b.indexOf('zz'), -1);
  assert.strictEqual(b.indexOf('616263', 1, 'hex'), 3);
  assert.strictEqual(b.lastIndexOf('c', -2), 2);
  assert.strictEqual(b.lastIndexOf('abc', 4), 3);
  assert.strictEqual(b.lastIndexOf('abc'), 3);
  assert.strictEqual(b.lastIndexOf(97), 3);
  assert.strictEqual(Buffer.from('abc').indexOf(''), 0);
  assert.strictEqual(Buffer.from('abc').indexOf('', 5), 3);
  assert.strictEqual(Buffer.from('abc').lastIndexOf(''), 3);
  assert.strictEqual(b.includes('bca'), true);
  assert.strictEqual(b.includes('bca', 2), false);
  assert.strictEqual(b.includes(0x61 + 256), true, 'numbers are taken & 255');
  assert.throws(() => b.indexOf({}), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('toJSON and JSON round-trip', () => {
  const b = Buffer.from([1, 2, 255]);
  assert.deepStrictEqual(b.toJSON(), { type: 'Buffer', data: [1, 2, 255] });
  const json = JSON.stringify({ payload: b });
  assert.strictEqual(json, '{"payload":{"type":"Buffer","data":[1,2,255]}}');
  assert.ok(Buffer.from(JSON.parse(json).payload).equals(b));
});

test('fixed-width integer read/write round-trips and byte order', () => {
  const cases = [
    ['UInt8', 1, [0, 1, 127, 128, 255], [[0xab, [0xab]]]],
    ['Int8', 1, [-128, -1, 0, 1, 127], [[-2, [0xfe]]]],
    ['UInt16LE', 2, [0, 1, 0x1234, 0xffff], [[0x1234, [0x34, 0x12]]]],
    ['UInt16BE', 2, [0, 1, 0x1234, 0xffff], [[0x1234, [0x12, 0x34]]]],
    ['Int16LE', 2, [-32768, -2, 0, 32767], [[-2, [0xfe, 0xff]]]],
    ['Int16BE', 2, [-32768, -2, 0, 32767], [[-2, [0xff, 0xfe]]]],
    ['UInt32LE', 4, [0, 1, 0xdeadbeef, 0xffffffff], [[0xdeadbeef, [0xef, 0xbe, 0xad, 0xde]]]],
    ['UInt32BE', 4, [0, 1, 0xdeadbeef, 0xffffffff], [[0xdeadbeef, [0xde, 0xad, 0xbe, 0xef]]]],
    ['Int32LE', 4, [-2147483648, -123456, 0, 2147483647], [[-2, [0xfe, 0xff, 0xff, 0xff]]]],
    ['Int32BE', 4, [-2147483648, -123456, 0, 2147483647], [[-2, [0xff, 0xff, 0xff, 0xfe]]]],
  ];
  for (const [type, size, values, patterns] of cases) {
    const read = `read${type}`;
    const write = `write${type}`;
    const b = Buffer.alloc(size + 3);
    for (const v of values) {
      for (const offset of [0, 3]) {
        assert.strictEqual(b[write](v, offset), offset + size, `${write} return value`);
        assert.strictEqual(b[read](offset), v, `${type} ${v} at ${offset}`);
      }
    }
    for (const [v, pattern] of patterns) {
      const p = Buffer.alloc(size);
      p[write](v);
      assert.deepStrictEqual(bytes(p), pattern, `${type} bytes of ${v}`);
      assert.strictEqual(Buffer.from(pattern)[read](), v);
    }
    assert.strictEqual(b[read.replace('UInt', 'Uint')], b[read], 'lowercase alias');
    assert.strictEqual(b[write.replace('UInt', 'Uint')], b[write], 'lowercase alias');
  }
  // Fractions are truncated on write.
  const t = Buffer.alloc(2);
  t.writeInt16LE(-1.9);
  assert.strictEqual(t.readInt16LE(0), -1);
});

test('variable-width (U)Int LE/BE for 1..6 bytes', () => {
  const b = Buffer.from([1, 2, 3, 4, 5, 6]);
  assert.strictEqual(b.readUIntBE(0, 3), 0x010203);
  assert.strictEqual(b.readUIntLE(0, 3), 0x030201);
  assert.strictEqual(b.readUIntLE(0, 6), 0x060504030201);
  assert.strictEqual(b.readIntLE(0, 6), 6618611909121);
  assert.strictEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).readIntBE(0, 6), -1);
  assert.strictEqual(Buffer.from([0x80, 0, 0]).readIntBE(0, 3), -0x800000);
  for (let n = 1; n <= 6; n++) {
    const max = 2 ** (8 * n) - 1;
    const min = -(2 ** (8 * n - 1));
    const w = Buffer.alloc(n + 1);
    for (const [fn, v] of [['UIntLE', max], ['UIntBE', max], ['UIntLE', 0], ['IntLE', min], ['IntBE', min], ['IntBE', -1], ['IntLE', 2 ** (8 * n - 1) - 1]]) {
      assert.strictEqual(w[`write${fn}`](v, 1, n), n + 1);
      assert.strictEqual(w[`read${fn}`](1, n), v, `${fn} ${n} ${v}`);
    }
  }
  assert.throws(() => b.readUIntLE(0, 7), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.readUIntLE(0, 0), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.readIntBE(1, 6), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => Buffer.alloc(8).writeUIntLE(2 ** 48, 0, 6), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => Buffer.alloc(8).writeIntBE(2 ** 47, 0, 6), { code: 'ERR_OUT_OF_RANGE' });
});

test('float and double LE/BE', () => {
  const f = Buffer.alloc(4);
  assert.strictEqual(f.writeFloatLE(1.5), 4);
  assert.deepStrictEqual(bytes(f), [0x00, 0x00, 0xc0, 0x3f]);
  f.writeFloatBE(1.5);
  assert.deepStrictEqual(bytes(f), [0x3f, 0xc0, 0x00, 0x00]);
  assert.strictEqual(f.readFloatBE(0), 1.5);
  f.writeFloatLE(0.1);
  assert.strictEqual(f.readFloatLE(0), 0.10000000149011612);
  const d = Buffer.alloc(10);
  assert.strictEqual(d.writeDoubleLE(Math.PI, 1), 9);
  assert.deepStrictEqual(bytes(d.subarray(1, 9)), [0x18, 0x2d, 0x44, 0x54, 0xfb, 0x21, 0x09, 0x40]);
  assert.strictEqual(d.readDoubleLE(1), Math.PI);
  d.writeDoubleBE(-21.25, 2);
  assert.deepStrictEqual(bytes(d.subarray(2, 10)), [0xc0, 0x35, 0x40, 0, 0, 0, 0, 0]);
  assert.strictEqual(d.readDoubleBE(2), -21.25);
  for (const v of [0, -0, Infinity, -Infinity, NaN, 123.456, -1e-300, Number.MAX_VALUE]) {
    for (const e of ['LE', 'BE']) {
      d[`writeDouble${e}`](v, 0);
      assert.strictEqual(d[`readDouble${e}`](0), v, `double ${e} ${v}`);
      d[`writeFloat${e}`](v, 0);
      assert.strictEqual(d[`readFloat${e}`](0), Math.fround(v), `float ${e} ${v}`);
    }
  }
  d.writeFloatLE('2.5', 0);
  assert.strictEqual(d.readFloatLE(0), 2.5);
});

test('BigInt64 LE/BE', () => {
  const b = Buffer.alloc(8);
  assert.strictEqual(b.writeBigUInt64LE(0x0102030405060708n), 8);
  assert.deepStrictEqual(bytes(b), [8, 7, 6, 5, 4, 3, 2, 1]);
  assert.strictEqual(b.readBigUInt64LE(), 0x0102030405060708n);
  assert.strictEqual(b.readBigUInt64BE(), 0x0807060504030201n);
  for (const v of [0n, -1n, -(2n ** 63n), 2n ** 63n - 1n, -123456789012345n]) {
    b.writeBigInt64BE(v);
    assert.strictEqual(b.readBigInt64BE(), v);
    b.writeBigInt64LE(v);
    assert.strictEqual(b.readBigInt64LE(), v);
  }
  b.writeBigUInt64BE(2n ** 64n - 1n);
  assert.strictEqual(b.readBigUInt64BE(), 2n ** 64n - 1n);
  assert.strictEqual(b.readBigInt64BE(), -1n);
  assert.strictEqual(b.readBigUint64LE, b.readBigUInt64LE);
  assert.throws(() => b.writeBigInt64LE(2n ** 63n), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeBigUInt64LE(-1n), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeBigInt64LE(1), TypeError);
  assert.throws(() => Buffer.alloc(7).readBigInt64LE(), { name: 'RangeError', code: 'ERR_BUFFER_OUT_OF_BOUNDS' });
});

test('reads out of bounds throw RangeError like Node', () => {
  const b = Buffer.alloc(8);
  assert.throws(() => Buffer.alloc(2).readUInt32LE(0), {
    name: 'RangeError',
    code: 'ERR_BUFFER_OUT_OF_BOUNDS',
    message: 'Attempt to access memory outside buffer bounds',
  });
  assert.throws(() => b.readUInt32LE(5), {
    name: 'RangeError',
    code: 'ERR_OUT_OF_RANGE',
    message: 'The value of "offset" is out of range. It must be >= 0 and <= 4. Received 5',
  });
  assert.throws(() => b.readUInt32LE(1.5), {
    code: 'ERR_OUT_OF_RANGE',
    message: 'The value of "offset" is out of range. It must be an integer. Received 1.5',
  });
  assert.throws(() => b.readUInt32LE('1'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => b.readUInt8(8), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.readInt8(-1), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.readDoubleBE(1), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.readFloatLE(NaN), { code: 'ERR_OUT_OF_RANGE' });
  for (const m of ['readUInt16LE', 'readUInt16BE', 'readInt16LE', 'readInt16BE', 'readInt32LE',
    'readInt32BE', 'readUInt32BE', 'readFloatBE', 'readDoubleLE']) {
    assert.throws(() => b[m](7), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }, m);
  }
  assert.strictEqual(b.readUInt8(), 0, 'offset defaults to 0');
});

test('writes with out-of-range values or offsets throw', () => {
  const b = Buffer.alloc(8);
  assert.throws(() => b.writeUInt8(300), {
    name: 'RangeError',
    code: 'ERR_OUT_OF_RANGE',
    message: 'The value of "value" is out of range. It must be >= 0 and <= 255. Received 300',
  });
  assert.throws(() => b.writeUInt32LE(2 ** 32), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeInt32LE(2 ** 31), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeInt8(-129), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeUInt16BE(-1), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeInt16LE(32768), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeUInt8(1, 8), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeUInt32BE(1, 5), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => Buffer.alloc(3).writeFloatLE(1, 1), { code: 'ERR_BUFFER_OUT_OF_BOUNDS' });
  assert.throws(() => b.writeDoubleLE(1, 1), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.writeUInt8(1, '0'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.deepStrictEqual(bytes(b), [0, 0, 0, 0, 0, 0, 0, 0], 'failed writes change nothing');
  b.writeFloatLE(1e40);
  assert.strictEqual(b.readFloatLE(), Infinity, 'floats are not range-checked');
});

test('swap16, swap32, swap64', () => {
  const b = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.strictEqual(b.swap16(), b);
  assert.deepStrictEqual(bytes(b), [2, 1, 4, 3, 6, 5, 8, 7]);
  b.swap16().swap32();
  assert.deepStrictEqual(bytes(b), [4, 3, 2, 1, 8, 7, 6, 5]);
  b.swap32().swap64();
  assert.deepStrictEqual(bytes(b), [8, 7, 6, 5, 4, 3, 2, 1]);
  assert.throws(() => Buffer.alloc(3).swap16(), { name: 'RangeError', code: 'ERR_INVALID_BUFFER_SIZE' });
  assert.throws(() => Buffer.alloc(6).swap32(), { code: 'ERR_INVALID_BUFFER_SIZE' });
  assert.throws(() => Buffer.alloc(4).swap64(), { code: 'ERR_INVALID_BUFFER_SIZE' });
});

test('typed-array behaviour is kept', () => {
  const b = Buffer.from([3, 1, 2]);
  assert.deepStrictEqual([...b], [3, 1, 2]);
  b.sort();
  assert.deepStrictEqual(bytes(b), [1, 2, 3]);
  b.set([9], 1);
  assert.strictEqual(b[1], 9);
  b[0] = 300;
  assert.strictEqual(b[0], 44);
  assert.strictEqual(b.byteLength, 3);
  assert.deepStrictEqual(Buffer.from('ab'), Buffer.from([97, 98]));
  assert.notDeepStrictEqual(Buffer.from('ab'), new Uint8Array([97, 98]));
});

test('sensor-style frame parsing', () => {
  // A BME280-like raw frame: pressure(20 bit) temperature(20 bit) humidity(16 bit), big endian.
  const frame = Buffer.from('5a7bc07e4c806e96', 'hex');
  const pressure = (frame.readUIntBE(0, 3) >> 4);
  const temperature = (frame.readUIntBE(3, 3) >> 4);
  const humidity = frame.readUInt16BE(6);
  assert.strictEqual(pressure, 0x5a7bc);
  assert.strictEqual(temperature, 0x7e4c8);
  assert.strictEqual(humidity, 0x6e96);
  const out = Buffer.alloc(9);
  let o = out.writeUInt8(0x01, 0);
  o = out.writeInt16BE(-245, o);
  o = out.writeFloatLE(21.5, o);
  o = out.writeUInt16LE(1013, o);
  assert.strictEqual(o, 9);
  assert.strictEqual(out.toString('hex'), '01ff0b0000ac41f503');
  assert.strictEqual(out.toString('base64'), 'Af8LAACsQfUD');
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
if (failed) throw new Error(`buffer: ${failed} of ${tests.length} tests failed`);
console.log(`ok buffer ${tests.length}`);
