// Conformance tests for the `assert` built-in. Runs unchanged under Node.js
// (the reference) and under Ganglion; prints `ok assert <count>` on success
// and throws (non-zero exit) when any test fails.
//
// The module under test cannot vouch for itself, so every check here goes
// through the local `check`/`caught` helpers, which use only plain throws.
import assert, {
  AssertionError, ok, equal, notEqual, strictEqual, notStrictEqual, deepEqual, notDeepEqual,
  deepStrictEqual, notDeepStrictEqual, throws, doesNotThrow, rejects, doesNotReject, match,
  doesNotMatch, fail, ifError, strict,
} from 'node:assert';

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}
function same(a, b, what) {
  if (!Object.is(a, b)) throw new Error(`check failed: ${what}: got ${String(a)}, want ${String(b)}`);
}
function caught(fn, what = 'expected a throw') {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error(`check failed: ${what}`);
}
async function caughtAsync(promise, what = 'expected a rejection') {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error(`check failed: ${what}`);
}
function passes(fn, what) {
  try {
    fn();
  } catch (err) {
    throw new Error(`check failed: ${what} threw ${err && err.message}`);
  }
}
function assertionError(err, operator, what) {
  check(err instanceof AssertionError, `${what}: is an AssertionError (${err && err.stack})`);
  check(err instanceof Error, `${what}: is an Error`);
  same(err.code, 'ERR_ASSERTION', `${what}: code`);
  same(err.name, 'AssertionError', `${what}: name`);
  if (operator !== undefined) same(err.operator, operator, `${what}: operator`);
  return err;
}
function codeError(err, Ctor, code, what) {
  check(err instanceof Ctor, `${what}: is a ${Ctor.name} (${err && err.stack})`);
  same(err.code, code, `${what}: code`);
  return err;
}

test('module shape', () => {
  same(typeof assert, 'function', 'default export is a function');
  const names = ['ok', 'equal', 'notEqual', 'strictEqual', 'notStrictEqual', 'deepEqual', 'notDeepEqual',
    'deepStrictEqual', 'notDeepStrictEqual', 'throws', 'doesNotThrow', 'rejects', 'doesNotReject', 'match',
    'doesNotMatch', 'fail', 'ifError', 'AssertionError', 'strict'];
  for (const n of names) same(typeof assert[n], 'function', n);
  same(assert.ok, ok, 'named ok');
  same(assert.strictEqual, strictEqual, 'named strictEqual');
  same(assert.deepStrictEqual, deepStrictEqual, 'named deepStrictEqual');
  same(assert.throws, throws, 'named throws');
  same(assert.rejects, rejects, 'named rejects');
  same(assert.AssertionError, AssertionError, 'named AssertionError');
  same(assert.strict, strict, 'named strict');
  same(strict.strict, strict, 'strict.strict');
  same(strict.equal, strictEqual, 'strict.equal');
  same(strict.deepEqual, deepStrictEqual, 'strict.deepEqual');
  same(strict.notEqual, notStrictEqual, 'strict.notEqual');
  same(strict.notDeepEqual, notDeepStrictEqual, 'strict.notDeepEqual');
  same(strict.throws, throws, 'strict.throws');
});

test('assert() and ok() pass on truthy values', () => {
  for (const v of [true, 1, 'x', {}, [], -1, Symbol('s'), 1n]) {
    passes(() => assert(v), `assert(${String(v)})`);
    passes(() => ok(v), `ok(${String(v)})`);
    passes(() => strict(v), `strict(${String(v)})`);
  }
});

test('ok() failures carry actual, expected, operator and messages', () => {
  for (const v of [false, 0, '', null, undefined, NaN, 0n]) {
    const err = assertionError(caught(() => ok(v)), '==', `ok(${String(v)})`);
    same(err.actual, v, 'actual');
    same(err.expected, true, 'expected');
    same(err.generatedMessage, true, 'generatedMessage');
    check(err.message.startsWith('The expression evaluated to a falsy value'), err.message);
  }
  const custom = assertionError(caught(() => assert(0, 'sensor offline')), '==', 'custom');
  same(custom.message, 'sensor offline', 'custom message');
  same(custom.generatedMessage, false, 'generatedMessage false');
  const mine = new RangeError('mine');
  same(caught(() => assert.ok(false, mine)), mine, 'Error message is thrown as is');
  const none = assertionError(caught(() => assert.ok()), '==', 'no args');
  same(none.message, 'No value argument passed to `assert.ok()`', 'no-arg message');
});

test('AssertionError class', () => {
  const err = new AssertionError({ actual: 1, expected: 2, operator: 'strictEqual' });
  assertionError(err, 'strictEqual', 'constructed');
  same(err.actual, 1, 'actual');
  same(err.expected, 2, 'expected');
  same(err.generatedMessage, true, 'generated');
  same(err.message, 'Expected values to be strictly equal:\n\n1 !== 2\n', 'generated message');
  check(String(err).startsWith('AssertionError [ERR_ASSERTION]: Expected values'), String(err));
  const withMsg = new AssertionError({ message: 'boom', actual: 'a', expected: 'b', operator: 'fail' });
  same(withMsg.message, 'boom', 'message');
  same(withMsg.generatedMessage, false, 'not generated');
  same(Object.keys(withMsg).includes('name'), false, 'name is not enumerable');
  codeError(caught(() => new AssertionError('nope')), TypeError, 'ERR_INVALID_ARG_TYPE', 'non-object options');
});

test('equal and notEqual are loose (==) with NaN equal to NaN', () => {
  passes(() => equal(1, '1'), "1 == '1'");
  passes(() => equal(null, undefined), 'null == undefined');
  passes(() => equal(NaN, NaN), 'NaN');
  passes(() => equal(0, -0), '0 == -0');
  const err = assertionError(caught(() => equal(1, 2)), '==', 'equal(1, 2)');
  same(err.message, '1 == 2', 'message');
  same(err.actual, 1, 'actual');
  same(err.expected, 2, 'expected');
  passes(() => notEqual(1, 2), 'notEqual(1, 2)');
  assertionError(caught(() => notEqual(1, '1')), '!=', "notEqual(1, '1')");
  assertionError(caught(() => notEqual(NaN, NaN)), '!=', 'notEqual(NaN, NaN)');
  same(caught(() => equal(1, 2, 'custom')).message, 'custom', 'custom message');
});

test('strictEqual and notStrictEqual use Object.is', () => {
  passes(() => strictEqual(NaN, NaN), 'NaN');
  passes(() => strictEqual('a', 'a'), 'strings');
  const o = {};
  passes(() => strictEqual(o, o), 'same object');
  const err = assertionError(caught(() => strictEqual(1, 2)), 'strictEqual', '1 vs 2');
  same(err.message, 'Expected values to be strictly equal:\n\n1 !== 2\n', 'message');
  assertionError(caught(() => strictEqual(0, -0)), 'strictEqual', '0 vs -0');
  assertionError(caught(() => strictEqual(1, '1')), 'strictEqual', "1 vs '1'");
  assertionError(caught(() => strictEqual({}, {})), 'strictEqual', 'distinct objects');
  codeError(caught(() => strictEqual(1)), TypeError, 'ERR_MISSING_ARGS', 'missing expected');
  passes(() => notStrictEqual(0, -0), 'notStrictEqual(0, -0)');
  passes(() => notStrictEqual({}, {}), 'distinct objects');
  const ne = assertionError(caught(() => notStrictEqual(1, 1)), 'notStrictEqual', 'notStrictEqual(1, 1)');
  same(ne.message, 'Expected "actual" to be strictly unequal to: 1', 'message');
  const mine = new TypeError('mine');
  same(caught(() => strictEqual(1, 2, mine)), mine, 'Error message thrown as is');
});

test('deepStrictEqual accepts equal structures', () => {
  const cyc1 = { name: 'a' };
  cyc1.self = cyc1;
  const cyc2 = { name: 'a' };
  cyc2.self = cyc2;
  const sym = Symbol('k');
  const nullProto = () => Object.assign(Object.create(null), { a: 1 });
  const pairs = [
    [{ a: 1, b: [1, 2, { c: 'x' }] }, { b: [1, 2, { c: 'x' }], a: 1 }],
    [[1, [2, [3]]], [1, [2, [3]]]],
    [NaN, NaN],
    [[NaN], [NaN]],
    [new Date(1e12), new Date(1e12)],
    [/ab+c/gi, /ab+c/gi],
    [new Map([[1, 'a'], ['k', { v: 1 }]]), new Map([['k', { v: 1 }], [1, 'a']])],
    [new Map([[{ id: 1 }, 'x'], [{ id: 2 }, 'y']]), new Map([[{ id: 2 }, 'y'], [{ id: 1 }, 'x']])],
    [new Set([1, 'a', { z: 1 }]), new Set([{ z: 1 }, 'a', 1])],
    [new Set([[1], [2]]), new Set([[2], [1]])],
    [new Uint8Array([1, 2]), new Uint8Array([1, 2])],
    [new Float64Array([NaN, 1.5]), new Float64Array([NaN, 1.5])],
    [new ArrayBuffer(3), new ArrayBuffer(3)],
    [new DataView(new ArrayBuffer(2)), new DataView(new ArrayBuffer(2))],
    [new Error('x'), new Error('x')],
    [new Number(3), new Number(3)],
    [new String('s'), new String('s')],
    [{ [sym]: 1 }, { [sym]: 1 }],
    [cyc1, cyc2],
    [nullProto(), nullProto()],
    [[, 1], [, 1]], // eslint-disable-line no-sparse-arrays
    [1n, 1n],
    [undefined, undefined],
  ];
  for (const [a, b] of pairs) passes(() => deepStrictEqual(a, b), `deepStrictEqual #${pairs.indexOf(pairs.find((p) => p[0] === a))}`);
});

test('deepStrictEqual rejects what Node rejects', () => {
  class Point {
    constructor(x) {
      this.x = x;
    }
  }
  const sym = Symbol('k');
  const arrWithKey = [1];
  arrWithKey.extra = true;
  const re1 = /a/g;
  const re2 = /a/g;
  re1.lastIndex = 1;
  const cycA = {};
  cycA.self = cycA;
  const cycB = { self: { self: {} } };
  const pairs = [
    ['-0 vs 0', -0, 0],
    ['[-0] vs [0]', [-0], [0]],
    ["1 vs '1'", 1, '1'],
    ['{a:1} vs {a:"1"}', { a: 1 }, { a: '1' }],
    ['class instance vs plain', new Point(1), { x: 1 }],
    ['null prototype vs plain', Object.create(null), {}],
    ['hole vs undefined', [, 1], [undefined, 1]], // eslint-disable-line no-sparse-arrays
    ['extra array key', arrWithKey, [1]],
    ['array vs array-like', [1], { 0: 1, length: 1 }],
    ['dates', new Date(1), new Date(2)],
    ['invalid dates', new Date(NaN), new Date(NaN)],
    ['regexp flags', /a/g, /a/i],
    ['regexp lastIndex', re1, re2],
    ['error message', new Error('a'), new Error('b')],
    ['error type', new Error('a'), new TypeError('a')],
    ['float -0', new Float32Array([-0]), new Float32Array([0])],
    ['typed array type', new Uint8Array([1]), new Int8Array([1])],
    ['typed array contents', new Uint8Array([1, 2]), new Uint8Array([1, 3])],
    ['array buffer size', new ArrayBuffer(2), new ArrayBuffer(3)],
    ['symbol key value', { [sym]: 1 }, { [sym]: 2 }],
    ['boxed numbers', new Number(1), new Number(2)],
    ['boxed vs primitive', new Number(1), 1],
    ['map values', new Map([[1, 'a']]), new Map([[1, 'b']])],
    ['map key types', new Map([[1, 'a']]), new Map([['1', 'a']])],
    ['set members', new Set([1, 2]), new Set([1, 3])],
    ['set object members', new Set([{ a: 1 }]), new Set([{ a: 2 }])],
    ['missing key', { a: 1, b: undefined }, { a: 1 }],
    ['functions', () => 1, () => 1],
    ['cycle shape', cycA, cycB],
    ['nested difference', { a: [1, { b: 2 }] }, { a: [1, { b: 3 }] }],
  ];
  for (const [what, a, b] of pairs) {
    const err = assertionError(caught(() => deepStrictEqual(a, b), what), 'deepStrictEqual', what);
    if (!(a instanceof Error)) {
      // (Node reports copies of Error operands.)
      same(err.actual, a, `${what}: actual`);
      same(err.expected, b, `${what}: expected`);
    }
    same(err.generatedMessage, true, `${what}: generated`);
    passes(() => notDeepStrictEqual(a, b), `notDeepStrictEqual ${what}`);
  }
});

test('deepStrictEqual messages show a +/- diff', () => {
  const err = caught(() => deepStrictEqual({ a: 1, b: 2 }, { a: 1, b: 3 }));
  check(err.message.startsWith('Expected values to be strictly deep-equal:\n+ actual - expected'), err.message);
  check(/^\+ +b: 2/m.test(err.message), `has + line: ${err.message}`);
  check(/^- +b: 3/m.test(err.message), `has - line: ${err.message}`);
  // A custom message replaces the header; the diff still follows it (Node 20).
  const custom = caught(() => deepStrictEqual({ a: 1 }, { a: 2 }, 'custom'));
  check(custom.message.startsWith('custom\n'), custom.message);
  check(/^- +a: 2/m.test(custom.message), custom.message);
  same(custom.generatedMessage, false, 'custom is not generated');
  check(caught(() => strictEqual(1, 2, 'custom')).message.startsWith('custom'), 'strictEqual custom');
});

test('deepEqual is loose: == for primitives, prototypes ignored', () => {
  class P {
    constructor() {
      this.x = 1;
    }
  }
  const sym = Symbol('s');
  const loosePairs = [
    [{ a: 1 }, { a: '1' }],
    [-0, 0],
    [[-0], [0]],
    [new P(), { x: 1 }],
    [Object.create(null), {}],
    [new Float32Array([-0]), new Float32Array([0])],
    [new Set([1]), new Set(['1'])],
    [new Map([[1, 'a']]), new Map([['1', 'a']])],
    [{ [sym]: 1 }, { [sym]: 2 }],
    [[1, 2], ['1', '2']],
    [null, undefined],
    [new Uint8Array([1]), new Uint8Array([1])],
  ];
  for (const [a, b] of loosePairs) {
    passes(() => deepEqual(a, b), `deepEqual #${loosePairs.findIndex((p) => p[0] === a)}`);
    assertionError(caught(() => notDeepEqual(a, b)), 'notDeepEqual', 'notDeepEqual');
  }
  const strictOnly = [
    [[, 1], [undefined, 1]], // eslint-disable-line no-sparse-arrays
    [new Number(1), 1],
    [{ a: 1 }, { a: 2 }],
    [[1], { 0: 1, length: 1 }],
    [new Date(1), new Date(2)],
    [1, 2],
  ];
  for (const [a, b] of strictOnly) {
    assertionError(caught(() => deepEqual(a, b)), 'deepEqual', 'deepEqual fails');
    passes(() => notDeepEqual(a, b), 'notDeepEqual passes');
  }
});

test('throws: missing exception', () => {
  const e1 = assertionError(caught(() => throws(() => {})), 'throws', 'no throw');
  same(e1.message, 'Missing expected exception.', 'message');
  same(e1.actual, undefined, 'actual');
  same(caught(() => throws(() => {}, TypeError)).message, 'Missing expected exception (TypeError).', 'with class');
  same(caught(() => throws(() => {}, 'because')).message, 'Missing expected exception: because', 'with message');
  same(caught(() => throws(() => {}, /x/, 'why')).message, 'Missing expected exception: why', 'regexp + message');
  codeError(caught(() => throws('not a function')), TypeError, 'ERR_INVALID_ARG_TYPE', 'non-function');
  codeError(caught(() => throws(() => { throw new Error('x'); }, 5)), TypeError, 'ERR_INVALID_ARG_TYPE', 'bad expected');
});

test('throws: validation by class', () => {
  passes(() => throws(() => { throw new TypeError('t'); }, TypeError), 'same class');
  passes(() => throws(() => { throw new TypeError('t'); }, Error), 'base class');
  class SensorError extends Error {}
  passes(() => throws(() => { throw new SensorError('s'); }, SensorError), 'custom class');
  const err = assertionError(caught(() => throws(() => { throw new Error('x'); }, TypeError)), 'throws', 'class mismatch');
  check(err.message.startsWith('The error is expected to be an instance of "TypeError". Received "Error"'), err.message);
  check(err.actual instanceof Error && err.actual.message === 'x', 'actual is the thrown error');
  same(err.expected, TypeError, 'expected is the class');
  const str = assertionError(caught(() => throws(() => { throw 'plain string'; }, Error)), 'throws', 'string vs Error');
  same(str.actual, 'plain string', 'actual');
});

test('throws: validation by RegExp', () => {
  passes(() => throws(() => { throw new Error('device 7 timed out'); }, /timed out/), 'matches message');
  passes(() => throws(() => { throw new RangeError('x'); }, /^RangeError: x$/), 'matches String(err)');
  passes(() => throws(() => { throw 'raw'; }, /raw/), 'matches thrown string');
  const err = assertionError(caught(() => throws(() => { throw new Error('x'); }, /y/)), 'throws', 'no match');
  same(err.message, "The input did not match the regular expression /y/. Input:\n\n'Error: x'\n", 'message');
});

test('throws: validation function', () => {
  passes(() => throws(() => { throw new Error('x'); }, (e) => e.message === 'x'), 'returns true');
  const err = assertionError(caught(() => throws(() => { throw new Error('x'); }, (e) => e.message === 'y')), 'throws', 'returns false');
  check(err.message.startsWith('The validation function is expected to return "true". Received false'), err.message);
  const named = caught(() => throws(() => { throw new Error('x'); }, function isBoom() { return 1; }));
  check(named.message.startsWith('The "isBoom" validation function is expected to return "true". Received 1'), named.message);
  const inner = new Error('from validator');
  same(caught(() => throws(() => { throw new Error('x'); }, () => { throw inner; })), inner, 'validator errors propagate');
});

test('throws: validation by object', () => {
  const boom = () => {
    const e = new TypeError('Wrong value');
    e.code = 'E_SENSOR';
    e.info = { bus: 1, addr: [0x76] };
    throw e;
  };
  passes(() => throws(boom, { name: 'TypeError', message: 'Wrong value' }), 'name and message');
  passes(() => throws(boom, { code: 'E_SENSOR', info: { bus: 1, addr: [0x76] } }), 'deep property');
  passes(() => throws(boom, { message: /^Wrong/, name: /Type/ }), 'RegExp properties');
  passes(() => throws(boom, new TypeError('Wrong value')), 'Error instance compares name and message');
  const err = assertionError(caught(() => throws(boom, { code: 'E_OTHER' })), 'throws', 'property mismatch');
  check(err.actual instanceof TypeError, 'actual is the thrown error');
  same(err.expected.code, 'E_OTHER', 'expected is the object');
  check(err.message.includes('E_OTHER') && err.message.includes('E_SENSOR'), err.message);
  assertionError(caught(() => throws(boom, new RangeError('Wrong value'))), 'throws', 'Error instance mismatch');
  assertionError(caught(() => throws(boom, { missing: undefined })), 'throws', 'missing key');
  assertionError(caught(() => throws(() => { throw 'str'; }, { message: 'str' })), 'throws', 'primitive thrown');
  codeError(caught(() => throws(boom, {})), TypeError, 'ERR_INVALID_ARG_VALUE', 'empty object');
  same(caught(() => throws(boom, { code: 'X' }, 'custom')).message, 'custom', 'custom message');
});

test('throws: string second argument is the message', () => {
  passes(() => throws(() => { throw new Error('x'); }, 'only a message'), 'message only');
  codeError(caught(() => throws(() => { throw new Error('same'); }, 'same')), TypeError, 'ERR_AMBIGUOUS_ARGUMENT', 'ambiguous');
});

test('doesNotThrow', () => {
  passes(() => doesNotThrow(() => 1), 'no throw');
  const err = assertionError(caught(() => doesNotThrow(() => { throw new Error('x'); })), 'doesNotThrow', 'throws');
  same(err.message, 'Got unwanted exception.\nActual message: "x"', 'message');
  check(err.actual instanceof Error, 'actual');
  const withMsg = caught(() => doesNotThrow(() => { throw new Error('x'); }, 'because'));
  same(withMsg.message, 'Got unwanted exception: because\nActual message: "x"', 'with message');
  assertionError(caught(() => doesNotThrow(() => { throw new TypeError('x'); }, TypeError)), 'doesNotThrow', 'matching class');
  const original = new RangeError('other');
  same(caught(() => doesNotThrow(() => { throw original; }, TypeError)), original, 'non-matching errors are rethrown');
  same(caught(() => doesNotThrow(() => { throw original; }, /nomatch/)), original, 'non-matching RegExp rethrows');
});

test('rejects', async () => {
  const p = rejects(Promise.reject(new Error('x')));
  check(p instanceof Promise, 'returns a promise');
  await p;
  await rejects(async () => { throw new TypeError('t'); }, TypeError);
  await rejects(() => Promise.reject(new Error('device gone')), /gone/);
  await rejects(Promise.reject(new Error('x')), { message: 'x' });
  await rejects(Promise.reject(new Error('x')), (e) => e.message === 'x');

  const missing = assertionError(await caughtAsync(rejects(Promise.resolve(1))), 'rejects', 'resolves');
  same(missing.message, 'Missing expected rejection.', 'message');
  const missing2 = await caughtAsync(rejects(async () => 1, Error));
  same(missing2.message, 'Missing expected rejection (Error).', 'with class');
  assertionError(await caughtAsync(rejects(Promise.reject(new Error('x')), TypeError)), 'rejects', 'class mismatch');
  assertionError(await caughtAsync(rejects(Promise.reject(new Error('x')), { message: 'y' })), 'rejects', 'object mismatch');

  const sync = new Error('sync');
  same(await caughtAsync(rejects(() => { throw sync; })), sync, 'synchronous throw from fn rejects with it');
  codeError(await caughtAsync(rejects(() => 5)), TypeError, 'ERR_INVALID_RETURN_VALUE', 'non-promise return');
  codeError(await caughtAsync(rejects(5)), TypeError, 'ERR_INVALID_ARG_TYPE', 'bad argument');
  await rejects({ then: (res, rej) => rej(new Error('thenable')), catch() {} }, /thenable/);
});

test('doesNotReject', async () => {
  await doesNotReject(Promise.resolve(1));
  await doesNotReject(async () => 2);
  const err = assertionError(await caughtAsync(doesNotReject(Promise.reject(new Error('x')))), 'doesNotReject', 'rejects');
  same(err.message, 'Got unwanted rejection.\nActual message: "x"', 'message');
  const original = new RangeError('r');
  same(await caughtAsync(doesNotReject(Promise.reject(original), TypeError)), original, 'non-matching rejection rethrown');
});

test('match and doesNotMatch', () => {
  passes(() => match('temperature=21.5', /=\d+\.\d/), 'matches');
  const err = assertionError(caught(() => match('abc', /x/)), 'match', 'no match');
  same(err.message, "The input did not match the regular expression /x/. Input:\n\n'abc'\n", 'message');
  same(err.actual, 'abc', 'actual');
  assertionError(caught(() => match(1, /1/)), 'match', 'non-string input');
  codeError(caught(() => match('a', 'a')), TypeError, 'ERR_INVALID_ARG_TYPE', 'non-RegExp');
  passes(() => doesNotMatch('abc', /x/), 'doesNotMatch');
  assertionError(caught(() => doesNotMatch('abc', /b/)), 'doesNotMatch', 'doesNotMatch fails');
  same(caught(() => match('a', /b/, 'custom')).message, 'custom', 'custom message');
});

test('fail', () => {
  const err = assertionError(caught(() => fail()), 'fail', 'fail()');
  same(err.message, 'Failed', 'default message');
  same(caught(() => fail('why')).message, 'why', 'custom message');
  const mine = new TypeError('t');
  same(caught(() => fail(mine)), mine, 'Error thrown as is');
});

test('ifError', () => {
  passes(() => ifError(null), 'null');
  passes(() => ifError(undefined), 'undefined');
  const cause = new Error('q');
  const err = assertionError(caught(() => ifError(cause)), 'ifError', 'error');
  same(err.message, 'ifError got unwanted exception: q', 'message');
  same(err.actual, cause, 'actual');
  assertionError(caught(() => ifError('text')), 'ifError', 'string');
  assertionError(caught(() => ifError(0)), 'ifError', 'zero');
});

test('strict mode variants', () => {
  assertionError(caught(() => strict.equal(1, '1')), 'strictEqual', 'strict.equal');
  assertionError(caught(() => strict.deepEqual({ a: 1 }, { a: '1' })), 'deepStrictEqual', 'strict.deepEqual');
  passes(() => strict.notEqual(1, '1'), 'strict.notEqual');
  passes(() => strict.notDeepEqual({ a: 1 }, { a: '1' }), 'strict.notDeepEqual');
  assertionError(caught(() => strict(false)), '==', 'strict(false)');
  assertionError(caught(() => assert.strict.strict.ok(0)), '==', 'strict.strict.ok');
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
if (failed) throw new Error(`assert: ${failed} of ${tests.length} tests failed`);
console.log(`ok assert ${tests.length}`);
