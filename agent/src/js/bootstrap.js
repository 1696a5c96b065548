// Ganglion bootstrap: runs once per script runtime, before the user's entry module.
// It installs Node-style globals over the native functions the Rust side provides
// (globalThis[Symbol.for('ganglion.internal')].native) and the `host` object the Rust event
// loop calls into: runTimer, runImmediates, deliver, emitShutdown, emitExit, trackRejection,
// flushRejections. Policy (timer queue, liveness, limits) lives in Rust; this file only binds it.
import EventEmitter from 'events';

// `buffer` (42 KB) and the web globals (33 KB) are compiled on first use, not at every start:
// compiling them was two thirds of the start-up time (see `lazyGlobals` below).

const internal = globalThis[Symbol.for('ganglion.internal')];
const native = internal.native;

// Every emitter's emit runs natively for string and symbol event names (agent/src/js/emit.rs);
// events.js's emit stays the definition and handles the rest ('error', unusual store entries).
EventEmitter.prototype.emit = native.nativeEmit(EventEmitter.prototype.emit);

// ---------------------------------------------------------------- errors --------------------
class ExitSignal {
  constructor(code) { this.code = code; }
}

function errorToString(e) {
  if (e instanceof Error || (e && typeof e === 'object' && 'stack' in e && 'message' in e)) {
    const head = `${e.name || 'Error'}: ${e.message}`;
    const extra = e.code !== undefined ? ` [code: ${e.code}]` : '';
    const frames = typeof e.stack === 'string' ? e.stack.split('\n').filter((l) => l.trim() && !l.includes('ganglion:internal/')) : [];
    const stack = frames.length ? '\n' + frames.join('\n') : '';
    return head + extra + stack;
  }
  return 'Uncaught ' + inspect(e);
}

function reportError(e, where) {
  if (e instanceof ExitSignal) return; // process.exit(): the loop ends after this callback
  if (process.listenerCount('uncaughtException') > 0) {
    try {
      process.emit('uncaughtException', e, where);
      return;
    } catch (e2) {
      e = e2;
    }
  }
  native.reportError(errorToString(e), where, 'exception');
}

// ---------------------------------------------------------------- ticks and microtasks ------
const tickQueue = [];
function runTicks() {
  do {
    while (tickQueue.length > 0) {
      const t = tickQueue.shift();
      try {
        t.cb(...t.args);
      } catch (e) {
        reportError(e, 'process.nextTick callback');
      }
    }
    native.runMicrotasks();
  } while (tickQueue.length > 0);
}

function nextTick(cb, ...args) {
  if (typeof cb !== 'function') throw invalidCallback(cb);
  // Tell the Rust loop once per burst, so event delivery can skip the tick pass when none is queued.
  if (tickQueue.length === 0) native.tickQueued();
  tickQueue.push({ cb, args });
}

function invalidCallback(cb) {
  const e = new TypeError(`The "callback" argument must be of type function. Received ${inspect(cb)}`);
  e.code = 'ERR_INVALID_ARG_TYPE';
  return e;
}

// ---------------------------------------------------------------- timers --------------------
const timers = new Map();

class Timeout {
  constructor(cb, args, ms, repeat) {
    ms = Number(ms);
    if (!(ms >= 1 && ms <= 2147483647)) ms = 1; // Node: NaN, <1 or too large → 1
    this._onTimeout = cb;
    this._args = args;
    this._repeat = repeat ? ms : null;
    this._idleTimeout = ms;
    this._destroyed = false;
    this._id = native.timerStart(ms, !!repeat);
    timers.set(this._id, this);
  }
  ref() { if (!this._destroyed) native.timerRef(this._id, true); return this; }
  unref() { if (!this._destroyed) native.timerRef(this._id, false); return this; }
  hasRef() { return !this._destroyed && native.timerHasRef(this._id); }
  refresh() { if (!this._destroyed) native.timerRefresh(this._id); return this; }
  close() { clearTimeout(this); return this; }
  [Symbol.toPrimitive]() { return this._id; }
}

function setTimeout(cb, ms, ...args) {
  if (typeof cb !== 'function') throw invalidCallback(cb);
  return new Timeout(cb, args, ms, false);
}
function setInterval(cb, ms, ...args) {
  if (typeof cb !== 'function') throw invalidCallback(cb);
  return new Timeout(cb, args, ms, true);
}
function clearTimeout(t) {
  if (t === undefined || t === null) return;
  const id = typeof t === 'object' ? t._id : Number(t);
  const timer = timers.get(id);
  if (timer) {
    timer._destroyed = true;
    timers.delete(id);
    native.timerClear(id);
  }
}

class Immediate {
  constructor(cb, args) {
    this._onImmediate = cb;
    this._args = args;
    this._destroyed = false;
    this._refed = true;
    native.immediates(1, 1);
  }
  ref() { if (!this._refed && !this._destroyed) { this._refed = true; native.immediates(0, 1); } return this; }
  unref() { if (this._refed && !this._destroyed) { this._refed = false; native.immediates(0, -1); } return this; }
  hasRef() { return this._refed; }
}
let immediateQueue = [];
function setImmediate(cb, ...args) {
  if (typeof cb !== 'function') throw invalidCallback(cb);
  const im = new Immediate(cb, args);
  immediateQueue.push(im);
  return im;
}
function clearImmediate(im) {
  if (!im || im._destroyed || !(im instanceof Immediate)) return;
  im._destroyed = true;
  native.immediates(-1, im._refed ? -1 : 0);
}

// ---------------------------------------------------------------- host (called by Rust) -----
const handles = new Map();

const host = {
  // Run one expired timer; returns true when it is an interval still armed.
  runTimer(id) {
    const t = timers.get(id);
    if (!t) return false;
    if (t._repeat === null) {
      timers.delete(id);
      t._destroyed = true;
    }
    try {
      t._onTimeout(...t._args);
    } catch (e) {
      reportError(e, `timer callback ${t._onTimeout.name || '(anonymous)'}`);
    }
    runTicks();
    return !t._destroyed;
  },
  // Run the immediates queued before this check phase; new ones wait for the next turn.
  runImmediates() {
    const queue = immediateQueue;
    immediateQueue = [];
    for (const im of queue) {
      if (im._destroyed) continue;
      im._destroyed = true;
      native.immediates(-1, im._refed ? -1 : 0);
      native.arm();
      try {
        im._onImmediate(...im._args);
      } catch (e) {
        reportError(e, `immediate callback ${im._onImmediate.name || '(anonymous)'}`);
      }
      runTicks();
    }
  },
  // Deliver an event from Rust to the JS object registered under `id`. The Rust side drains
  // promise jobs afterwards and calls runTicks only when process.nextTick was used (hot path).
  deliver(id, type, payload) {
    const h = handles.get(id);
    if (h !== undefined) {
      try {
        h(type, payload);
      } catch (e) {
        reportError(e, `${type} handler`);
      }
    }
    if (tickQueue.length > 0) runTicks();
  },
  // Run any function as a macrotask (used for promise completions from Rust).
  call(fn, ...args) {
    try {
      fn(...args);
    } catch (e) {
      reportError(e, `${fn.name || 'callback'}`);
    }
    if (tickQueue.length > 0) runTicks();
  },
  // The entry module's evaluation failed (a throw, or the CPU limit, possibly after a top-level
  // await resumed): a start-up failure, not an unhandled rejection.
  entryRejected(e) {
    if (e instanceof ExitSignal) return;
    if (e && e.name === 'InternalError' && e.message === 'interrupted') {
      const frames = typeof e.stack === 'string' ? e.stack.split('\n').filter((l) => l.trim() && !l.includes('ganglion:internal/')) : [];
      native.entryFailed(['the entry module exceeded the CPU time limit ([limits] callback_time) and was interrupted', ...frames].join('\n'));
      return;
    }
    native.entryFailed(errorToString(e));
  },
  emitShutdown(reason) {
    try {
      agent.emit('shutdown', reason);
    } catch (e) {
      reportError(e, "agent 'shutdown' handler");
    }
    runTicks();
  },
  emitExit(code) {
    if (process.exitCode === undefined) process.exitCode = code;
    try {
      process.emit('exit', process.exitCode);
    } catch (e) {
      if (!(e instanceof ExitSignal)) reportError(e, "process 'exit' handler");
    }
    return process.exitCode | 0;
  },
  runTicks,
  reportError,
};

// Unhandled rejections: QuickJS tells us when a promise is rejected without a handler and when a
// handler is attached later; whatever is still unhandled after the microtask queue drained is
// reported (Node's default 'warn'-and-continue, configurable to restart in Rust).
const pendingRejections = new Map();
host.trackRejection = (promise, reason, handled) => {
  if (handled) pendingRejections.delete(promise);
  else pendingRejections.set(promise, reason);
};
host.flushRejections = () => {
  if (pendingRejections.size === 0) return;
  const list = [...pendingRejections];
  pendingRejections.clear();
  for (const [promise, reason] of list) {
    // process.exit() inside an async function rejects its promise with the exit signal.
    if (reason instanceof ExitSignal) continue;
    if (process.listenerCount('unhandledRejection') > 0) {
      try {
        process.emit('unhandledRejection', reason, promise);
        continue;
      } catch (e) {
        reason = e;
      }
    }
    native.reportError(errorToString(reason), 'unhandled promise rejection', 'rejection');
  }
};

internal.host = host;
internal.handles = handles;

// ---------------------------------------------------------------- shared by the io built-ins --
// The kind of a bad argument, for error messages.
function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

// Any byte buffer (ArrayBuffer, typed array, DataView, array of bytes) as a Uint8Array view;
// `accepted` ends the TypeError for anything else ("<what> must be <accepted>, not ...").
function byteView(what, data, accepted = 'an ArrayBuffer, a typed array or a DataView') {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) {
    for (const b of data) {
      if (!Number.isInteger(b) || b < 0 || b > 255) throw new RangeError(`${what}: array items must be bytes (0-255), not ${b}`);
    }
    return Uint8Array.from(data);
  }
  throw new TypeError(`${what} must be ${accepted}, not ${describe(data)}`);
}

internal.describe = describe;
internal.byteView = byteView;

// ---------------------------------------------------------------- console -------------------
function inspect(value, opts) {
  const seen = new Set();
  const depthMax = opts && typeof opts.depth === 'number' ? opts.depth : 2;
  function fmt(v, depth, top) {
    switch (typeof v) {
      case 'string': return top ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
      case 'number': return Object.is(v, -0) ? '-0' : String(v);
      case 'bigint': return `${v}n`;
      case 'undefined': return 'undefined';
      case 'boolean': return String(v);
      case 'symbol': return v.toString();
      case 'function': {
        const isClass = /^class[\s{]/.test(Function.prototype.toString.call(v));
        return `[${isClass ? 'class' : 'Function'}${v.name ? ': ' + v.name : ' (anonymous)'}]`;
      }
    }
    if (v === null) return 'null';
    if (seen.has(v)) return '[Circular *1]';
    if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack.replace(/\s+$/, '')}` : `[${v.name}: ${v.message}]`;
    if (v instanceof Date) return isNaN(v) ? 'Invalid Date' : v.toISOString();
    if (v instanceof RegExp) return String(v);
    if (v instanceof Promise) return 'Promise { <pending> }';
    if (v instanceof Uint8Array && bufferModule().Buffer.isBuffer(v)) {
      const hex = [];
      for (let i = 0; i < Math.min(v.length, 50); i++) hex.push(v[i].toString(16).padStart(2, '0'));
      return `<Buffer${hex.length ? ' ' + hex.join(' ') : ''}${v.length > 50 ? ` ... ${v.length - 50} more bytes` : ''}>`;
    }
    if (depth > depthMax) return Array.isArray(v) ? '[Array]' : '[Object]';
    seen.add(v);
    try {
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
        return `${v.constructor.name}(${v.length}) [${v.length ? ' ' + Array.from(v.slice(0, 100), (x) => fmt(x, depth + 1)).join(', ') + ' ' : ''}]`;
      }
      if (Array.isArray(v)) {
        const items = v.slice(0, 100).map((x) => fmt(x, depth + 1));
        if (v.length > 100) items.push(`... ${v.length - 100} more items`);
        return wrap('[', items, ']', depth);
      }
      if (v instanceof Map) {
        const items = [...v].map(([k, x]) => `${fmt(k, depth + 1)} => ${fmt(x, depth + 1)}`);
        return `Map(${v.size}) ` + wrap('{', items, '}', depth);
      }
      if (v instanceof Set) {
        return `Set(${v.size}) ` + wrap('{', [...v].map((x) => fmt(x, depth + 1)), '}', depth);
      }
      const keys = Object.keys(v);
      const items = keys.map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : fmt(k, depth + 1)}: ${fmt(v[k], depth + 1)}`);
      const proto = Object.getPrototypeOf(v);
      const name = proto === null ? '[Object: null prototype]' : proto.constructor && proto.constructor.name !== 'Object' ? proto.constructor.name : '';
      const body = wrap('{', items, '}', depth);
      return name ? `${name} ${body}` : body;
    } finally {
      seen.delete(v);
    }
  }
  function wrap(open, items, close, depth) {
    if (items.length === 0) return open + close;
    const one = `${open} ${items.join(', ')} ${close}`;
    if (one.length <= 72 && !one.includes('\n')) return one;
    const pad = '  '.repeat(depth + 1);
    return `${open}\n${pad}${items.join(`,\n${pad}`)}\n${'  '.repeat(depth)}${close}`;
  }
  return fmt(value, 0, true);
}

function format(...args) {
  let out = '';
  let i = 0;
  if (typeof args[0] === 'string' && args[0].includes('%')) {
    const f = args[0];
    i = 1;
    for (let j = 0; j < f.length; j++) {
      if (f[j] === '%' && j + 1 < f.length) {
        const c = f[j + 1];
        if (c === '%') { out += '%'; j++; continue; }
        if ('sdifjoOc'.includes(c)) {
          j++;
          if (c === 'c') { i++; continue; }
          if (i >= args.length) { out += '%' + c; continue; }
          const a = args[i++];
          if (c === 's') out += typeof a === 'string' ? a : inspect(a, { depth: 1 });
          else if (c === 'd' || c === 'i') out += typeof a === 'bigint' ? `${a}n` : String(c === 'i' ? parseInt(a) : Number(a));
          else if (c === 'f') out += String(parseFloat(a));
          else if (c === 'j') { try { out += JSON.stringify(a); } catch { out += '[Circular]'; } }
          else out += inspect(a);
          continue;
        }
      }
      out += f[j];
    }
  }
  for (; i < args.length; i++) out += (out.length || i > 0 ? ' ' : '') + inspect(args[i]);
  return out;
}

const counts = new Map();
const timeLabels = new Map();
const console = {
  log: (...a) => native.log(2, format(...a)),
  info: (...a) => native.log(2, format(...a)),
  debug: (...a) => native.log(1, format(...a)),
  trace: (...a) => native.log(0, format(...a) + '\n' + (new Error().stack || '')),
  warn: (...a) => native.log(3, format(...a)),
  error: (...a) => native.log(4, format(...a)),
  dir: (v, o) => native.log(2, inspect(v, o)),
  assert: (cond, ...a) => { if (!cond) native.log(4, 'Assertion failed' + (a.length ? ': ' + format(...a) : '')); },
  count: (label = 'default') => { const n = (counts.get(label) || 0) + 1; counts.set(label, n); native.log(2, `${label}: ${n}`); },
  countReset: (label = 'default') => counts.delete(label),
  time: (label = 'default') => timeLabels.set(label, native.now()),
  timeEnd: (label = 'default') => {
    const t = timeLabels.get(label);
    if (t !== undefined) { timeLabels.delete(label); native.log(2, `${label}: ${(native.now() - t).toFixed(3)}ms`); }
  },
  timeLog: (label = 'default', ...a) => {
    const t = timeLabels.get(label);
    if (t !== undefined) native.log(2, `${label}: ${(native.now() - t).toFixed(3)}ms${a.length ? ' ' + format(...a) : ''}`);
  },
};

// ---------------------------------------------------------------- process -------------------
const process = new EventEmitter();
Object.assign(process, {
  env: native.env,
  argv: native.argv,
  argv0: 'ganglion',
  execPath: native.execPath,
  platform: 'linux',
  arch: native.arch,
  pid: native.pid,
  version: native.nodeVersion,
  versions: native.versions,
  exitCode: undefined,
  title: 'ganglion',
  release: { name: 'ganglion' },
  nextTick,
  cwd: () => native.cwd,
  uptime: () => native.now() / 1000,
  memoryUsage: () => native.memoryUsage(),
  exit(code) {
    if (code !== undefined) process.exitCode = code | 0;
    native.exit(process.exitCode | 0);
    throw new ExitSignal(process.exitCode | 0);
  },
  hrtime(prev) {
    const ns = native.hrtime();
    let s = Math.floor(ns / 1e9);
    let n = ns - s * 1e9;
    if (Array.isArray(prev)) {
      s -= prev[0];
      n -= prev[1];
      if (n < 0) { s -= 1; n += 1e9; }
    }
    return [s, n];
  },
});
process.memoryUsage.rss = () => native.memoryUsage().rss;
process.hrtime.bigint = () => native.hrtimeBigint();

// ---------------------------------------------------------------- agent ---------------------
const agent = new EventEmitter();
Object.assign(agent, native.agentInfo);
agent.healthy = () => native.healthy();
agent.stats = () => native.stats();
internal.agent = agent;

// ---------------------------------------------------------------- CommonJS require ----------
const cjsCache = new Map();
function makeRequire(fromFile) {
  const require = (spec) => {
    if (typeof spec !== 'string') throw new TypeError('The "id" argument must be of type string');
    const r = native.resolve(spec, fromFile);
    if (r.builtin) {
      const ns = native.importModule(r.id);
      return ns.default !== undefined ? ns.default : ns;
    }
    return requireFile(r.id);
  };
  require.resolve = (spec) => native.resolve(spec, fromFile).id;
  require.cache = cjsCache;
  return require;
}
function requireFile(file) {
  const cached = cjsCache.get(file);
  if (cached) return cached.exports;
  if (file.endsWith('.json')) {
    const m = { exports: JSON.parse(native.readFile(file)) };
    cjsCache.set(file, m);
    return m.exports;
  }
  if (file.endsWith('.mjs')) {
    const ns = native.importModule(file);
    return ns;
  }
  const source = native.readFile(file);
  const module = { exports: {}, filename: file, id: file, loaded: false };
  cjsCache.set(file, module);
  let fn;
  try {
    fn = native.compileCommonJs(source, file);
  } catch (e) {
    // ES module syntax in a .js file reached by require(): load it as an ES module (like Node 22).
    if (e instanceof SyntaxError && /\b(import|export)\b/.test(source)) {
      cjsCache.delete(file);
      const ns = native.importModule(file);
      return ns.default !== undefined && Object.keys(ns).length === 1 ? ns.default : ns;
    }
    cjsCache.delete(file);
    throw e;
  }
  const dirname = file.slice(0, file.lastIndexOf('/')) || '/';
  try {
    fn.call(module.exports, module.exports, makeRequire(file), module, file, dirname);
  } catch (e) {
    cjsCache.delete(file);
    throw e;
  }
  module.loaded = true;
  return module.exports;
}
internal.requireFile = requireFile;

// `require` for ES modules (pasted Node snippets): resolves relative to the calling file.
function globalRequire(spec) {
  return makeRequire(native.callerFile())(spec);
}
globalRequire.resolve = (spec) => native.resolve(spec, native.callerFile()).id;
globalRequire.cache = cjsCache;

// ---------------------------------------------------------------- globals -------------------
let bufferNs;
function bufferModule() {
  return (bufferNs ??= native.importModule('buffer'));
}
/** The globals of agent/js/web.js (its GLOBALS); a test checks the two lists agree. */
const WEB_GLOBALS = ['DOMException', 'Event', 'EventTarget', 'CustomEvent', 'AbortController', 'AbortSignal',
  'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'structuredClone'];
/**
 * Defines each missing global in `names` as an accessor that loads its module (`load()` returns the
 * namespace) on first use, then becomes the usual writable, configurable, non-enumerable data
 * property; assigning first simply replaces it. Globals the engine already has (a native
 * structuredClone, say) are left alone, as web.js's install() does.
 */
function lazyGlobals(load, names) {
  const pending = names.filter((name) => !(name in globalThis));
  const settle = (name, value) => define(name, value);
  const resolveAll = () => {
    const ns = load();
    for (const name of pending.splice(0)) {
      const d = Object.getOwnPropertyDescriptor(globalThis, name);
      if (d && d.get && d.get.lazy) settle(name, ns[name]);
    }
  };
  for (const name of pending) {
    const get = function () {
      resolveAll();
      return globalThis[name];
    };
    get.lazy = true;
    Object.defineProperty(globalThis, name, {
      get,
      set(value) {
        settle(name, value);
      },
      configurable: true,
      enumerable: false,
    });
  }
}
const define = (name, value) =>
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });

define('console', console);
define('process', process);
define('global', globalThis);
define('require', globalRequire);
define('setTimeout', setTimeout);
define('setInterval', setInterval);
define('setImmediate', setImmediate);
define('clearTimeout', clearTimeout);
define('clearInterval', clearTimeout);
define('clearImmediate', clearImmediate);
// Always ours: QuickJS's own queueMicrotask drops exceptions thrown by the callback; Node treats
// them as uncaught exceptions, and so do we.
const resolved = Promise.resolve();
define('queueMicrotask', (cb) => {
  if (typeof cb !== 'function') throw invalidCallback(cb);
  resolved.then(() => {
    try {
      cb();
    } catch (e) {
      reportError(e, 'queueMicrotask callback');
    }
  });
});
define('reportError', (e) => reportError(e, 'reportError()'));
if (typeof globalThis.performance !== 'object' || typeof globalThis.performance.now !== 'function') {
  define('performance', { now: () => native.now(), timeOrigin: native.timeOrigin });
}

internal.timers = { setTimeout, setInterval, setImmediate, clearTimeout, clearInterval: clearTimeout, clearImmediate, Timeout, Immediate };
internal.inspect = inspect;
internal.format = format;
lazyGlobals(() => bufferModule(), ['Buffer']);
lazyGlobals(() => native.importModule('ganglion:internal/web'), WEB_GLOBALS);
