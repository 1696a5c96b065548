// Conformance tests for the `events` built-in. Runs unchanged under Node.js
// (the reference) and under Ganglion; prints `ok events <count>` on success
// and throws (non-zero exit) on the first run with failures.
import EventEmitter, { once, on, errorMonitor } from 'node:events';
import * as eventsNs from 'node:events';
import assert from 'node:assert';

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
const tick = () => new Promise((resolve) => queueMicrotask(resolve));

test('module shape', () => {
  assert.strictEqual(typeof EventEmitter, 'function');
  assert.strictEqual(EventEmitter.EventEmitter, EventEmitter);
  assert.strictEqual(eventsNs.EventEmitter, EventEmitter);
  assert.strictEqual(eventsNs.default, EventEmitter);
  assert.strictEqual(EventEmitter.once, once);
  assert.strictEqual(eventsNs.once, once);
  assert.strictEqual(typeof on, 'function');
  assert.strictEqual(typeof errorMonitor, 'symbol');
  assert.strictEqual(EventEmitter.errorMonitor, errorMonitor);
  assert.strictEqual(EventEmitter.defaultMaxListeners, 10);
  const p = EventEmitter.prototype;
  assert.strictEqual(p.on, p.addListener);
  assert.strictEqual(p.off, p.removeListener);
  for (const m of ['once', 'emit', 'prependListener', 'prependOnceListener', 'listeners',
    'rawListeners', 'listenerCount', 'eventNames', 'setMaxListeners', 'getMaxListeners',
    'removeAllListeners']) {
    assert.strictEqual(typeof p[m], 'function', m);
  }
});

test('on/emit pass arguments and the emitter as this; emit reports listeners', () => {
  const e = new EventEmitter();
  assert.strictEqual(e.emit('data', 1), false);
  const seen = [];
  let self;
  assert.strictEqual(e.on('data', function (a, b, c) {
    self = this;
    seen.push([a, b, c]);
  }), e);
  assert.strictEqual(e.emit('data', 1, 'two', { three: 3 }), true);
  assert.strictEqual(self, e);
  assert.deepStrictEqual(seen, [[1, 'two', { three: 3 }]]);
  e.emit('data');
  assert.deepStrictEqual(seen[1], [undefined, undefined, undefined]);
});

test('one listener: argument count, this, symbol and number names, return value', () => {
  const e = new EventEmitter();
  const calls = [];
  e.on('n', function (...args) {
    calls.push([this === e, args.length, ...args]);
    return 'ignored';
  });
  assert.strictEqual(e.emit('n'), true);
  assert.strictEqual(e.emit('n', undefined), true);
  assert.strictEqual(e.emit('n', 1, 2, 3, 4, 5, 6, 7, 8, 9), true);
  assert.deepStrictEqual(calls, [[true, 0], [true, 1, undefined], [true, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  let got;
  const sym = Symbol('reading');
  e.on(sym, (v) => { got = v; });
  assert.strictEqual(e.emit(sym, 'by symbol'), true);
  assert.strictEqual(got, 'by symbol');
  assert.strictEqual(e.emit(Symbol('reading'), 'another symbol'), false);
  e.on(42, (v) => { got = v; }); // a number names the listener of its string
  assert.strictEqual(e.emit(42, 'by number'), true);
  assert.strictEqual(got, 'by number');
  assert.strictEqual(e.emit('42', 'by string'), true);
  assert.strictEqual(got, 'by string');
  assert.strictEqual(e.emit('none', 1), false);
  e.on('boom', () => { throw new TypeError('from the listener'); });
  assert.throws(() => e.emit('boom'), { name: 'TypeError', message: 'from the listener' });
  // Re-entrant: a listener that emits on its own emitter.
  const depth = [];
  e.on('deep', (n) => { depth.push(n); if (n < 3) e.emit('deep', n + 1); });
  assert.strictEqual(e.emit('deep', 0), true);
  assert.deepStrictEqual(depth, [0, 1, 2, 3]);
});

test('emit reads the listener store and its entry once, for one listener and for several', () => {
  let reads = 0;
  const calls = [];
  const entries = {
    one: (v) => calls.push(['one', v]),
    many: [(v) => calls.push(['a', v]), (v) => calls.push(['b', v])],
  };
  const entryReads = {};
  const store = new Proxy(entries, {
    get(target, key) {
      entryReads[key] = (entryReads[key] || 0) + 1;
      return target[key];
    },
  });
  const target = { get _events() { reads++; return store; } };
  const emit = EventEmitter.prototype.emit;
  assert.strictEqual(emit.call(target, 'one', 1), true);
  assert.strictEqual(emit.call(target, 'many', 2), true);
  assert.strictEqual(emit.call(target, 'none', 3), false);
  assert.strictEqual(reads, 3);
  assert.deepStrictEqual(entryReads, { one: 1, many: 1, none: 1 });
  assert.deepStrictEqual(calls, [['one', 1], ['a', 2], ['b', 2]]);
});

test('several listeners: each gets every argument, a throw stops the rest', () => {
  const e = new EventEmitter();
  const seen = [];
  e.on('x', function (...args) { seen.push(['first', this === e, ...args]); });
  e.on('x', (...args) => { seen.push(['second', ...args]); if (args[0] === 'stop') throw new RangeError('stop'); });
  e.on('x', (...args) => { seen.push(['third', ...args]); });
  assert.strictEqual(e.emit('x', 1, 2), true);
  assert.strictEqual(e.emit('x'), true);
  assert.throws(() => e.emit('x', 'stop'), RangeError);
  assert.deepStrictEqual(seen, [
    ['first', true, 1, 2], ['second', 1, 2], ['third', 1, 2],
    ['first', true], ['second'], ['third'],
    ['first', true, 'stop'], ['second', 'stop'],
  ]);
});

test('emit called on other objects and overridden by a subclass', () => {
  const emit = EventEmitter.prototype.emit;
  assert.strictEqual(emit.name, 'emit');
  assert.strictEqual(emit.length, 1);
  assert.strictEqual(emit.call({}, 'x', 1), false); // no listener store
  let got;
  const store = Object.create(null);
  store.x = function (v) { got = [this, v]; };
  const plain = { _events: store }; // code that builds Node's store shape itself
  assert.strictEqual(emit.call(plain, 'x', 7), true);
  assert.deepStrictEqual(got, [plain, 7]);
  assert.throws(() => emit.call(undefined, 'x'), TypeError);
  assert.throws(() => emit.call(null, 'x'), TypeError);
  const err = new Error('no store, no listener');
  assert.throws(() => emit.call({}, 'error', err), (e) => e === err);
  class Counting extends EventEmitter {
    emit(type, ...args) {
      this.count = (this.count || 0) + 1;
      return super.emit(type, ...args);
    }
  }
  const c = new Counting();
  c.on('tick', (v) => { got = v; });
  assert.strictEqual(c.emit('tick', 'sub'), true);
  assert.strictEqual(c.emit('tock'), false);
  assert.strictEqual(got, 'sub');
  assert.strictEqual(c.count, 2);
});

test('listeners run in registration order, including duplicates', () => {
  const e = new EventEmitter();
  const order = [];
  const a = () => order.push('a');
  e.on('x', a);
  e.on('x', () => order.push('b'));
  e.on('x', a);
  e.emit('x');
  assert.deepStrictEqual(order, ['a', 'b', 'a']);
  assert.strictEqual(e.listenerCount('x'), 3);
});

test("emit('error', err) without a listener throws err itself", () => {
  const e = new EventEmitter();
  const err = new TypeError('sensor gone');
  assert.throws(() => e.emit('error', err), (thrown) => thrown === err);
});

test("emit('error', non-Error) without a listener throws ERR_UNHANDLED_ERROR", () => {
  const e = new EventEmitter();
  let caught;
  try {
    e.emit('error', 'boom');
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error);
  assert.strictEqual(caught.code, 'ERR_UNHANDLED_ERROR');
  assert.strictEqual(caught.context, 'boom');
  assert.match(caught.message, /^Unhandled error\. \('boom'\)$/);

  assert.throws(() => e.emit('error'), (err) => {
    assert.strictEqual(err.code, 'ERR_UNHANDLED_ERROR');
    assert.strictEqual(err.context, undefined);
    assert.strictEqual(err.message, 'Unhandled error. (undefined)');
    return true;
  });
  assert.throws(() => e.emit('error', { reading: 3 }), {
    code: 'ERR_UNHANDLED_ERROR',
    context: { reading: 3 },
  });
});

test("'error' with a listener does not throw", () => {
  const e = new EventEmitter();
  const got = [];
  e.on('error', (err) => got.push(err.message));
  assert.strictEqual(e.emit('error', new Error('x')), true);
  assert.deepStrictEqual(got, ['x']);
});

test('a once error listener handles only the first error', () => {
  const e = new EventEmitter();
  let n = 0;
  e.once('error', () => n++);
  e.emit('error', new Error('first'));
  assert.throws(() => e.emit('error', new Error('second')), /second/);
  assert.strictEqual(n, 1);
});

test('errorMonitor sees errors first and is not an error handler', () => {
  const e = new EventEmitter();
  const order = [];
  e.on(errorMonitor, (err) => order.push(`monitor:${err.message}`));
  assert.throws(() => e.emit('error', new Error('a')), /^Error: a$/);
  assert.deepStrictEqual(order, ['monitor:a']);
  e.on('error', (err) => order.push(`handler:${err.message}`));
  e.emit('error', new Error('b'));
  assert.deepStrictEqual(order, ['monitor:a', 'monitor:b', 'handler:b']);
  assert.strictEqual(e.listenerCount('error'), 1);
});

test('a throwing listener stops emit and propagates', () => {
  const e = new EventEmitter();
  let later = false;
  e.on('x', () => {
    throw new RangeError('bad reading');
  });
  e.on('x', () => {
    later = true;
  });
  assert.throws(() => e.emit('x'), RangeError);
  assert.strictEqual(later, false);
});

test('once: fires once, removed before the call, listeners() unwraps', () => {
  const e = new EventEmitter();
  const calls = [];
  function handler(v) {
    calls.push([v, this === e, e.listenerCount('x')]);
  }
  assert.strictEqual(e.once('x', handler), e);
  assert.strictEqual(e.listenerCount('x'), 1);
  assert.deepStrictEqual(e.listeners('x'), [handler]);
  const raw = e.rawListeners('x');
  assert.strictEqual(raw.length, 1);
  assert.notStrictEqual(raw[0], handler);
  assert.strictEqual(raw[0].listener, handler);
  assert.strictEqual(e.emit('x', 1), true);
  assert.strictEqual(e.emit('x', 2), false);
  assert.deepStrictEqual(calls, [[1, true, 0]]);
});

test('rawListeners once wrapper removes itself when called', () => {
  const e = new EventEmitter();
  let n = 0;
  e.once('x', () => n++);
  const [wrapper] = e.rawListeners('x');
  wrapper.listener();
  assert.strictEqual(e.listenerCount('x'), 1, 'calling .listener does not remove');
  wrapper();
  assert.strictEqual(e.listenerCount('x'), 0);
  wrapper();
  assert.strictEqual(n, 2);
});

test('once listener can be removed by its original function', () => {
  const e = new EventEmitter();
  const fn = () => assert.fail('must not run');
  e.once('x', fn);
  e.removeListener('x', fn);
  assert.strictEqual(e.emit('x'), false);
});

test('emit uses a snapshot: removal and addition during emit', () => {
  const e = new EventEmitter();
  const order = [];
  const b = () => order.push('b');
  const c = () => order.push('c');
  e.on('x', () => {
    order.push('a');
    e.removeListener('x', b);
    e.on('x', c);
  });
  e.on('x', b);
  e.emit('x');
  assert.deepStrictEqual(order, ['a', 'b']);
  order.length = 0;
  e.emit('x');
  assert.deepStrictEqual(order, ['a', 'c']);
});

test('removeAllListeners during emit keeps the current snapshot', () => {
  const e = new EventEmitter();
  const order = [];
  e.on('x', () => {
    order.push(1);
    e.removeAllListeners('x');
  });
  e.on('x', () => order.push(2));
  e.emit('x');
  assert.deepStrictEqual(order, [1, 2]);
  assert.strictEqual(e.emit('x'), false);
});

test('once listeners removed during emit of the same event', () => {
  const e = new EventEmitter();
  const order = [];
  e.once('x', () => order.push('once-1'));
  e.on('x', () => order.push('on'));
  e.once('x', () => order.push('once-2'));
  e.emit('x');
  e.emit('x');
  assert.deepStrictEqual(order, ['once-1', 'on', 'once-2', 'on']);
});

test('removeListener removes the most recent matching registration', () => {
  const e = new EventEmitter();
  const order = [];
  const a = () => order.push('a');
  const b = () => order.push('b');
  e.on('x', a);
  e.on('x', b);
  e.on('x', a);
  assert.strictEqual(e.removeListener('x', a), e);
  e.emit('x');
  assert.deepStrictEqual(order, ['a', 'b']);
  e.off('x', () => {});
  e.off('nothing', a);
  assert.strictEqual(e.listenerCount('x'), 2);
});

test('newListener fires before the listener is added (Node docs example)', () => {
  const e = new EventEmitter();
  const order = [];
  e.once('newListener', (event) => {
    if (event === 'event') e.on('event', () => order.push('B'));
  });
  e.on('event', () => order.push('A'));
  e.emit('event');
  assert.deepStrictEqual(order, ['B', 'A']);
});

test('newListener arguments and not emitted for itself', () => {
  const e = new EventEmitter();
  const seen = [];
  const watcher = (name, fn) => seen.push([name, fn, e.listenerCount(name)]);
  e.on('newListener', watcher);
  assert.deepStrictEqual(seen, []);
  const f = () => {};
  e.on('data', f);
  e.once('data', f);
  e.prependListener('data', f);
  assert.deepStrictEqual(seen, [['data', f, 0], ['data', f, 1], ['data', f, 2]]);
  e.on('newListener', () => {});
  assert.deepStrictEqual(seen[3], ['newListener', seen[3][1], 1]);
});

test('removeListener event fires after removal with the original function', () => {
  const e = new EventEmitter();
  const seen = [];
  e.on('removeListener', (name, fn) => seen.push([name, fn, e.listenerCount(name)]));
  const f = () => {};
  const g = () => {};
  e.on('x', f);
  e.once('x', g);
  e.removeListener('x', f);
  e.emit('x');
  assert.deepStrictEqual(seen, [['x', f, 1], ['x', g, 0]]);
});

test('prependListener and prependOnceListener', () => {
  const e = new EventEmitter();
  const order = [];
  e.on('x', () => order.push('on'));
  assert.strictEqual(e.prependListener('x', () => order.push('pre')), e);
  assert.strictEqual(e.prependOnceListener('x', () => order.push('pre-once')), e);
  e.emit('x');
  e.emit('x');
  assert.deepStrictEqual(order, ['pre-once', 'pre', 'on', 'pre', 'on']);
});

test('listenerCount, listeners, eventNames with strings and symbols', () => {
  const e = new EventEmitter();
  const sym = Symbol('tick');
  const f = () => {};
  assert.deepStrictEqual(e.eventNames(), []);
  assert.strictEqual(e.listenerCount('x'), 0);
  e.on('x', f);
  e.on(sym, f);
  e.on('y', f);
  e.on('x', () => {});
  e.once('x', f);
  assert.deepStrictEqual(e.eventNames(), ['x', 'y', sym]);
  assert.strictEqual(e.listenerCount('x'), 3);
  assert.strictEqual(e.listenerCount('x', f), 2);
  assert.strictEqual(e.listenerCount(sym), 1);
  assert.strictEqual(EventEmitter.listenerCount(e, 'x'), 3);
  assert.strictEqual(e.listeners('x').length, 3);
  const copy = e.listeners('x');
  copy.pop();
  assert.strictEqual(e.listenerCount('x'), 3, 'listeners() returns a copy');
  assert.strictEqual(e.emit(sym), true);
  e.removeAllListeners('x');
  e.removeAllListeners(sym);
  assert.deepStrictEqual(e.eventNames(), ['y']);
  e.off('y', f);
  assert.deepStrictEqual(e.eventNames(), []);
  assert.deepStrictEqual(e.listeners('y'), []);
});

test('removeAllListeners() emits removeListener for each other listener', () => {
  const e = new EventEmitter();
  const seen = [];
  const a = () => {};
  const b = () => {};
  e.on('x', a);
  e.on('x', b);
  e.on('y', a);
  e.on('removeListener', (name, fn) => seen.push([name, fn === a ? 'a' : fn === b ? 'b' : 'other']));
  assert.strictEqual(e.removeAllListeners('x'), e);
  assert.deepStrictEqual(seen, [['x', 'b'], ['x', 'a']]);
  seen.length = 0;
  e.on('z', b);
  e.removeAllListeners();
  // The 'removeListener' listeners go last, and are gone before they could hear of it.
  assert.deepStrictEqual(seen, [['y', 'a'], ['z', 'b']]);
  assert.deepStrictEqual(e.eventNames(), []);
  assert.strictEqual(e.removeAllListeners('nothing'), e);
});

test('set/getMaxListeners and validation', () => {
  const e = new EventEmitter();
  assert.strictEqual(e.getMaxListeners(), 10);
  assert.strictEqual(e.setMaxListeners(3), e);
  assert.strictEqual(e.getMaxListeners(), 3);
  e.setMaxListeners(0);
  assert.strictEqual(e.getMaxListeners(), 0);
  assert.throws(() => e.setMaxListeners(-1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => e.setMaxListeners(NaN), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => e.setMaxListeners('5'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => {
    EventEmitter.defaultMaxListeners = -2;
  }, { code: 'ERR_OUT_OF_RANGE' });
  const before = EventEmitter.defaultMaxListeners;
  EventEmitter.defaultMaxListeners = 4;
  try {
    assert.strictEqual(new EventEmitter().getMaxListeners(), 4);
  } finally {
    EventEmitter.defaultMaxListeners = before;
  }
  assert.strictEqual(new EventEmitter().getMaxListeners(), 10);
});

test('MaxListenersExceededWarning is reported once per event, listeners still added', () => {
  const warnings = [];
  const origWarn = console.warn;
  const proc = globalThis.process;
  const origEmitWarning = proc && proc.emitWarning;
  console.warn = (...args) => warnings.push(args.map(String).join(' '));
  if (origEmitWarning) proc.emitWarning = (w) => warnings.push(`${w.name}: ${w.message}`);
  try {
    const e = new EventEmitter();
    e.setMaxListeners(2);
    e.on('x', () => {});
    e.on('x', () => {});
    assert.strictEqual(warnings.length, 0);
    e.on('x', () => {});
    e.on('x', () => {});
    assert.strictEqual(warnings.length, 1);
    assert.match(warnings[0], /MaxListenersExceededWarning/);
    assert.match(warnings[0], /memory leak detected\. 3 x listeners added/);
    assert.strictEqual(e.listenerCount('x'), 4);
    e.on('y', () => {});
    e.on('y', () => {});
    e.on('y', () => {});
    assert.strictEqual(warnings.length, 2);
    const quiet = new EventEmitter().setMaxListeners(0);
    for (let i = 0; i < 20; i++) quiet.on('z', () => {});
    assert.strictEqual(warnings.length, 2);
  } finally {
    console.warn = origWarn;
    if (origEmitWarning) proc.emitWarning = origEmitWarning;
  }
});

test('non-function listeners are rejected with ERR_INVALID_ARG_TYPE', () => {
  const e = new EventEmitter();
  for (const method of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener',
    'removeListener', 'off']) {
    assert.throws(() => e[method]('x', 'not a function'), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
    }, method);
  }
  assert.throws(() => e.on('x', null), /The "listener" argument must be of type function/);
});

test('subclassing with class and with EventEmitter.call', () => {
  class Sensor extends EventEmitter {
    read() {
      this.emit('reading', 21.5);
    }
  }
  const s = new Sensor();
  let got;
  s.on('reading', (v) => {
    got = v;
  });
  s.read();
  assert.strictEqual(got, 21.5);
  assert.ok(s instanceof EventEmitter);

  function Legacy() {
    EventEmitter.call(this);
    this.kind = 'legacy';
  }
  Object.setPrototypeOf(Legacy.prototype, EventEmitter.prototype);
  const l = new Legacy();
  const l2 = new Legacy();
  l.on('x', () => {});
  assert.strictEqual(l.listenerCount('x'), 1);
  assert.strictEqual(l2.listenerCount('x'), 0, 'instances do not share listeners');
});

test('an object inheriting from an emitter gets its own store', () => {
  const base = new EventEmitter();
  base.on('x', () => {});
  const child = Object.create(base);
  EventEmitter.init.call(child);
  assert.strictEqual(child.listenerCount('x'), 0);
  assert.strictEqual(base.listenerCount('x'), 1);
});

test('events.once resolves with the arguments array and cleans up', async () => {
  const e = new EventEmitter();
  const p = once(e, 'ready');
  assert.strictEqual(e.listenerCount('ready'), 1);
  assert.strictEqual(e.listenerCount('error'), 1);
  e.emit('ready', 1, 2);
  assert.deepStrictEqual(await p, [1, 2]);
  assert.strictEqual(e.listenerCount('ready'), 0);
  assert.strictEqual(e.listenerCount('error'), 0);
});

test('events.once rejects on error and cleans up', async () => {
  const e = new EventEmitter();
  const p = once(e, 'ready');
  const err = new Error('no device');
  queueMicrotask(() => e.emit('error', err));
  await assert.rejects(p, (thrown) => thrown === err);
  assert.strictEqual(e.listenerCount('ready'), 0);
  assert.strictEqual(e.listenerCount('error'), 0);
});

test("events.once(emitter, 'error') resolves with the error", async () => {
  const e = new EventEmitter();
  const p = EventEmitter.once(e, 'error');
  const err = new Error('x');
  e.emit('error', err);
  const [got] = await p;
  assert.strictEqual(got, err);
  assert.strictEqual(e.listenerCount('error'), 0);
});

test('events.once with an AbortSignal', async () => {
  const e = new EventEmitter();
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(once(e, 'x', { signal: aborted.signal }), {
    name: 'AbortError',
    code: 'ABORT_ERR',
  });
  assert.strictEqual(e.listenerCount('x'), 0);

  const ac = new AbortController();
  const p = once(e, 'x', { signal: ac.signal });
  assert.strictEqual(e.listenerCount('x'), 1);
  ac.abort();
  await assert.rejects(p, (err) => err.name === 'AbortError');
  assert.strictEqual(e.listenerCount('x'), 0);
  assert.strictEqual(e.listenerCount('error'), 0);

  const ok = new AbortController();
  const q = once(e, 'x', { signal: ok.signal });
  e.emit('x', 'v');
  assert.deepStrictEqual(await q, ['v']);
  ok.abort();
  await tick();
});

test('events.once works with an EventTarget', async () => {
  const target = new EventTarget();
  const p = once(target, 'ping');
  target.dispatchEvent(new Event('ping'));
  target.dispatchEvent(new Event('ping'));
  const [event] = await p;
  assert.strictEqual(event.type, 'ping');
  assert.strictEqual(event.target, target);
});

test('events.once waits for a later emission', async () => {
  const e = new EventEmitter();
  let resolved = false;
  const p = once(e, 'later').then((args) => {
    resolved = true;
    return args;
  });
  await tick();
  await tick();
  assert.strictEqual(resolved, false);
  e.emit('later', 'now');
  assert.deepStrictEqual(await p, ['now']);
});

test('events.on async iteration', async () => {
  const e = new EventEmitter();
  queueMicrotask(() => {
    e.emit('data', 1);
    e.emit('data', 2, 'b');
    e.emit('data', 3);
  });
  const got = [];
  for await (const args of on(e, 'data')) {
    got.push(args);
    if (got.length === 3) break;
  }
  assert.deepStrictEqual(got, [[1], [2, 'b'], [3]]);
  assert.strictEqual(e.listenerCount('data'), 0);
  assert.strictEqual(e.listenerCount('error'), 0);

  const e2 = new EventEmitter();
  queueMicrotask(() => e2.emit('error', new Error('broken')));
  await assert.rejects(async () => {
    for await (const _ of on(e2, 'data')) {
      assert.fail('no data expected');
    }
  }, /broken/);
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
if (failed) throw new Error(`events: ${failed} of ${tests.length} tests failed`);
console.log(`ok events ${tests.length}`);
