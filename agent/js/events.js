// Node-compatible `events` module for Ganglion's QuickJS runtime.
//
// Pure ECMAScript (ES2023), no host APIs: it runs unchanged on QuickJS-ng and
// on Node.js, where tests/js/run-under-node.mjs checks it against the same
// conformance tests as Node's own `events`. Semantics follow Node's
// lib/events.js: the listener store (`_events`, `_eventsCount`,
// `_maxListeners`) has Node's shape so code that pokes at it keeps working,
// `emit` iterates over a copy of the listener array, 'error' without a
// listener throws, and 'newListener'/'removeListener' are emitted around
// changes.

// Taken once, as Node's primordials are: no global lookup per emit, and a script that replaces
// Reflect.apply does not change how listeners are called.
const ReflectApply = Reflect.apply;

const kErrorMonitor = Symbol('events.errorMonitor');
const kCapture = Symbol('kCapture');
const kRejection = Symbol.for('nodejs.rejection');

let defaultMaxListeners = 10;

/** Short, Node-like rendering of a value for error messages. */
function describe(value, depth = 0) {
  switch (typeof value) {
    case 'string':
      return `'${value.replace(/'/g, "\\'")}'`;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'function':
      return value.name ? `[Function: ${value.name}]` : '[Function (anonymous)]';
    case 'undefined':
      return 'undefined';
    default:
      break;
  }
  if (value === null) return 'null';
  if (value instanceof Error) return value.stack || String(value);
  if (depth > 1) return Array.isArray(value) ? '[Array]' : '[Object]';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[ ${value.map((v) => describe(v, depth + 1)).join(', ')} ]`;
  }
  let keys;
  try {
    keys = Object.keys(value);
  } catch {
    return '[Object]';
  }
  const ctor = value.constructor && value.constructor.name;
  const prefix = ctor && ctor !== 'Object' ? `${ctor} ` : '';
  if (keys.length === 0) return `${prefix}{}`;
  const parts = keys.map((k) => {
    const name = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`;
    return `${name}: ${describe(value[k], depth + 1)}`;
  });
  return `${prefix}{ ${parts.join(', ')} }`;
}

/** Node's "Received ..." suffix used by ERR_INVALID_ARG_TYPE messages. */
function received(value) {
  if (value == null) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name}`;
  if (typeof value === 'object') {
    if (value.constructor && value.constructor.name) {
      return ` Received an instance of ${value.constructor.name}`;
    }
    return ` Received ${describe(value)}`;
  }
  let shown = describe(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${shown})`;
}

function makeError(Ctor, code, message) {
  const err = new Ctor(message);
  err.code = code;
  return err;
}

function invalidArgType(name, type, value) {
  const what = name.includes('.') ? 'property' : 'argument';
  return makeError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" ${what} must be of type ${type}.${received(value)}`,
  );
}

function checkListener(listener) {
  if (typeof listener !== 'function') {
    throw invalidArgType('listener', 'function', listener);
  }
}

function checkMaxListeners(n, name) {
  if (typeof n !== 'number') throw invalidArgType(name, 'number', n);
  if (n < 0 || Number.isNaN(n)) {
    throw makeError(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be >= 0. Received ${describe(n)}`,
    );
  }
}

/** Error thrown/rejected when an AbortSignal cancels a wait (Node's AbortError). */
class AbortError extends Error {
  constructor(message = 'The operation was aborted', options = undefined) {
    super(message, options);
    this.code = 'ABORT_ERR';
    this.name = 'AbortError';
  }
}

function checkSignal(signal, name) {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw invalidArgType(name, 'AbortSignal', signal);
  }
}

/**
 * EventEmitter constructor. A plain function (as in Node) so that pre-class
 * code doing `EventEmitter.call(this)` keeps working.
 */
function EventEmitter(opts) {
  EventEmitter.init.call(this, opts);
}

EventEmitter.prototype._events = undefined;
EventEmitter.prototype._eventsCount = 0;
EventEmitter.prototype._maxListeners = undefined;

Object.defineProperty(EventEmitter, 'defaultMaxListeners', {
  enumerable: true,
  get() {
    return defaultMaxListeners;
  },
  set(n) {
    checkMaxListeners(n, 'defaultMaxListeners');
    defaultMaxListeners = n;
  },
});

Object.defineProperties(EventEmitter, {
  errorMonitor: { value: kErrorMonitor, enumerable: true, writable: false, configurable: true },
  captureRejectionSymbol: { value: kRejection, enumerable: true, writable: false, configurable: true },
  captureRejections: { value: false, enumerable: true, writable: true, configurable: true },
  usingDomains: { value: false, enumerable: true, writable: true, configurable: true },
});

/** Sets up the listener store; called by the constructor and by subclasses of old style. */
EventEmitter.init = function init(opts) {
  if (this._events === undefined || this._events === Object.getPrototypeOf(this)._events) {
    this._events = Object.create(null);
    this._eventsCount = 0;
  }
  this._maxListeners = this._maxListeners || undefined;
  if (opts && opts.captureRejections !== undefined) {
    if (typeof opts.captureRejections !== 'boolean') {
      throw invalidArgType('options.captureRejections', 'boolean', opts.captureRejections);
    }
    this[kCapture] = opts.captureRejections;
  }
};

EventEmitter.prototype.setMaxListeners = function setMaxListeners(n) {
  checkMaxListeners(n, 'n');
  this._maxListeners = n;
  return this;
};

function maxListenersOf(that) {
  return that._maxListeners === undefined ? defaultMaxListeners : that._maxListeners;
}

EventEmitter.prototype.getMaxListeners = function getMaxListeners() {
  return maxListenersOf(this);
};

EventEmitter.prototype.emit = function emit(type, ...args) {
  let doError = type === 'error';
  const events = this._events;
  if (events !== undefined) {
    if (doError && events[kErrorMonitor] !== undefined) this.emit(kErrorMonitor, ...args);
    doError = doError && events.error === undefined;
  } else if (!doError) {
    return false;
  }

  if (doError) {
    const er = args.length > 0 ? args[0] : undefined;
    if (er instanceof Error) throw er;
    const err = new Error(`Unhandled error. (${describe(er)})`);
    err.code = 'ERR_UNHANDLED_ERROR';
    err.context = er;
    throw err;
  }

  const handler = events[type];
  if (handler === undefined) return false;
  if (typeof handler === 'function') {
    ReflectApply(handler, this, args);
  } else {
    const listeners = handler.slice();
    for (let i = 0; i < listeners.length; ++i) ReflectApply(listeners[i], this, args);
  }
  return true;
};

function warnMaxListeners(target, type, count, max) {
  const name = typeof type === 'symbol' ? type.toString() : String(type);
  const ctor = target && target.constructor && target.constructor.name;
  const message =
    `Possible EventEmitter memory leak detected. ${count} ${name} listeners added to ` +
    `[${ctor || 'EventEmitter'}]. MaxListeners is ${max}. Use emitter.setMaxListeners() to increase limit`;
  if (typeof console !== 'undefined' && typeof console.warn === 'function') {
    console.warn(`MaxListenersExceededWarning: ${message}`);
  }
}

function addListener(target, type, listener, prepend) {
  checkListener(listener);
  let events = target._events;
  let existing;
  if (events === undefined) {
    events = target._events = Object.create(null);
    target._eventsCount = 0;
  } else {
    if (events.newListener !== undefined) {
      target.emit('newListener', type, listener.listener ? listener.listener : listener);
      // The 'newListener' handler may have changed the store.
      events = target._events;
    }
    existing = events[type];
  }

  if (existing === undefined) {
    events[type] = listener;
    ++target._eventsCount;
  } else {
    if (typeof existing === 'function') {
      existing = events[type] = prepend ? [listener, existing] : [existing, listener];
    } else if (prepend) {
      existing.unshift(listener);
    } else {
      existing.push(listener);
    }
    const m = maxListenersOf(target);
    if (m > 0 && existing.length > m && !existing.warned) {
      existing.warned = true;
      warnMaxListeners(target, type, existing.length, m);
    }
  }
  return target;
}

EventEmitter.prototype.addListener = function addListener_(type, listener) {
  return addListener(this, type, listener, false);
};
EventEmitter.prototype.on = EventEmitter.prototype.addListener;

EventEmitter.prototype.prependListener = function prependListener(type, listener) {
  return addListener(this, type, listener, true);
};

function onceWrapper(...args) {
  if (!this.fired) {
    this.target.removeListener(this.type, this.wrapFn);
    this.fired = true;
    return ReflectApply(this.listener, this.target, args);
  }
  return undefined;
}

function onceWrap(target, type, listener) {
  const state = { fired: false, wrapFn: undefined, target, type, listener };
  const wrapped = onceWrapper.bind(state);
  wrapped.listener = listener;
  state.wrapFn = wrapped;
  return wrapped;
}

EventEmitter.prototype.once = function once_(type, listener) {
  checkListener(listener);
  this.on(type, onceWrap(this, type, listener));
  return this;
};

EventEmitter.prototype.prependOnceListener = function prependOnceListener(type, listener) {
  checkListener(listener);
  this.prependListener(type, onceWrap(this, type, listener));
  return this;
};

EventEmitter.prototype.removeListener = function removeListener(type, listener) {
  checkListener(listener);
  const events = this._events;
  if (events === undefined) return this;
  const list = events[type];
  if (list === undefined) return this;

  if (list === listener || list.listener === listener) {
    if (--this._eventsCount === 0) {
      this._events = Object.create(null);
    } else {
      delete events[type];
    }
    if (events.removeListener !== undefined) {
      this.emit('removeListener', type, list.listener || listener);
    }
  } else if (typeof list !== 'function') {
    let position = -1;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i] === listener || list[i].listener === listener) {
        position = i;
        break;
      }
    }
    if (position < 0) return this;
    const removed = list[position];
    list.splice(position, 1);
    if (list.length === 1) events[type] = list[0];
    if (events.removeListener !== undefined) {
      this.emit('removeListener', type, removed.listener || listener);
    }
  }
  return this;
};
EventEmitter.prototype.off = EventEmitter.prototype.removeListener;

EventEmitter.prototype.removeAllListeners = function removeAllListeners(type) {
  const events = this._events;
  if (events === undefined) return this;

  // Without 'removeListener' listeners there is nobody to tell: just drop.
  if (events.removeListener === undefined) {
    if (arguments.length === 0) {
      this._events = Object.create(null);
      this._eventsCount = 0;
    } else if (events[type] !== undefined) {
      if (--this._eventsCount === 0) this._events = Object.create(null);
      else delete events[type];
    }
    return this;
  }

  if (arguments.length === 0) {
    for (const key of Reflect.ownKeys(events)) {
      if (key === 'removeListener') continue;
      this.removeAllListeners(key);
    }
    this.removeAllListeners('removeListener');
    this._events = Object.create(null);
    this._eventsCount = 0;
    return this;
  }

  const listeners = events[type];
  if (typeof listeners === 'function') {
    this.removeListener(type, listeners);
  } else if (listeners !== undefined) {
    // LIFO order, like Node.
    for (let i = listeners.length - 1; i >= 0; i--) this.removeListener(type, listeners[i]);
  }
  return this;
};

function listenersOf(target, type, unwrap) {
  const events = target._events;
  if (events === undefined) return [];
  const l = events[type];
  if (l === undefined) return [];
  if (typeof l === 'function') return unwrap ? [l.listener || l] : [l];
  return unwrap ? l.map((fn) => fn.listener || fn) : l.slice();
}

EventEmitter.prototype.listeners = function listeners(type) {
  return listenersOf(this, type, true);
};

EventEmitter.prototype.rawListeners = function rawListeners(type) {
  return listenersOf(this, type, false);
};

function listenerCount(type, listener) {
  const events = this._events;
  if (events !== undefined) {
    const l = events[type];
    if (typeof l === 'function') {
      if (listener != null) return listener === l || listener === l.listener ? 1 : 0;
      return 1;
    }
    if (l !== undefined) {
      if (listener != null) {
        let n = 0;
        for (const fn of l) if (fn === listener || fn.listener === listener) n++;
        return n;
      }
      return l.length;
    }
  }
  return 0;
}
EventEmitter.prototype.listenerCount = listenerCount;

EventEmitter.prototype.eventNames = function eventNames() {
  return this._eventsCount > 0 ? Reflect.ownKeys(this._events) : [];
};

/** Deprecated static form kept for old code: `EventEmitter.listenerCount(emitter, type)`. */
function staticListenerCount(emitter, type) {
  if (typeof emitter.listenerCount === 'function') return emitter.listenerCount(type);
  return ReflectApply(listenerCount, emitter, [type]);
}
EventEmitter.listenerCount = staticListenerCount;

function isEventTarget(emitter) {
  return (
    emitter != null &&
    typeof emitter.addEventListener === 'function' &&
    typeof emitter.removeEventListener === 'function'
  );
}

/**
 * Resolves with the arguments array of the next `name` event; rejects on
 * 'error' (unless waiting for 'error') or when `options.signal` aborts.
 */
function once(emitter, name, options = {}) {
  if (options === null || typeof options !== 'object') {
    return Promise.reject(invalidArgType('options', 'Object', options));
  }
  const signal = options.signal;
  try {
    checkSignal(signal, 'options.signal');
  } catch (err) {
    return Promise.reject(err);
  }
  if (signal && signal.aborted) {
    return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
  }
  return new Promise((resolve, reject) => {
    let errorListener;
    let abortListener;
    const cleanupSignal = () => {
      if (signal && abortListener) signal.removeEventListener('abort', abortListener);
    };
    if (isEventTarget(emitter) && typeof emitter.on !== 'function') {
      const resolver = (...args) => {
        cleanupSignal();
        resolve(args);
      };
      emitter.addEventListener(name, resolver, { once: true });
      abortListener = () => {
        emitter.removeEventListener(name, resolver);
        reject(new AbortError(undefined, { cause: signal.reason }));
      };
    } else {
      const resolver = (...args) => {
        if (errorListener) emitter.removeListener('error', errorListener);
        cleanupSignal();
        resolve(args);
      };
      if (name !== 'error') {
        errorListener = (err) => {
          emitter.removeListener(name, resolver);
          cleanupSignal();
          reject(err);
        };
        emitter.once('error', errorListener);
      }
      emitter.once(name, resolver);
      abortListener = () => {
        emitter.removeListener(name, resolver);
        if (errorListener) emitter.removeListener('error', errorListener);
        reject(new AbortError(undefined, { cause: signal.reason }));
      };
    }
    if (signal) signal.addEventListener('abort', abortListener, { once: true });
  });
}

/**
 * Async iterator over `event` emissions (each value is the arguments array).
 * Rejects the pending/next read on 'error'; ends on `options.signal` abort
 * with an AbortError, or when `return()` is called (for-await `break`).
 */
function on(emitter, event, options = {}) {
  const signal = options ? options.signal : undefined;
  checkSignal(signal, 'options.signal');
  if (signal && signal.aborted) throw new AbortError(undefined, { cause: signal.reason });

  const unconsumed = [];
  const pending = [];
  let error = null;
  let finished = false;

  const eventHandler = (...args) => {
    const p = pending.shift();
    if (p) p.resolve({ value: args, done: false });
    else unconsumed.push(args);
  };
  const errorHandler = (err) => {
    const p = pending.shift();
    if (p) p.reject(err);
    else error = err;
    closeHandler();
  };
  const abortListener = () => errorHandler(new AbortError(undefined, { cause: signal.reason }));

  function closeHandler() {
    if (finished) return;
    finished = true;
    if (isEventTarget(emitter) && typeof emitter.on !== 'function') {
      emitter.removeEventListener(event, eventHandler);
    } else {
      emitter.removeListener(event, eventHandler);
      if (event !== 'error') emitter.removeListener('error', errorHandler);
    }
    if (signal) signal.removeEventListener('abort', abortListener);
    for (const p of pending.splice(0)) p.resolve({ value: undefined, done: true });
  }

  if (isEventTarget(emitter) && typeof emitter.on !== 'function') {
    emitter.addEventListener(event, eventHandler);
  } else {
    emitter.on(event, eventHandler);
    if (event !== 'error') emitter.on('error', errorHandler);
  }
  if (signal) signal.addEventListener('abort', abortListener, { once: true });

  const iterator = {
    next() {
      const value = unconsumed.shift();
      if (value) return Promise.resolve({ value, done: false });
      if (error) {
        const p = Promise.reject(error);
        error = null;
        return p;
      }
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    },
    return() {
      closeHandler();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(err) {
      errorHandler(err);
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return iterator;
}

/** Copy of the listeners of an EventEmitter or an EventTarget-like object (emitters only here). */
function getEventListeners(emitterOrTarget, type) {
  if (emitterOrTarget && typeof emitterOrTarget.listeners === 'function') {
    return emitterOrTarget.listeners(type);
  }
  return [];
}

/** Max listeners of an EventEmitter. */
function getMaxListeners(emitter) {
  if (emitter && typeof emitter.getMaxListeners === 'function') return emitter.getMaxListeners();
  return defaultMaxListeners;
}

/** `setMaxListeners(n, ...emitters)`; with no emitter it sets the default. */
function setMaxListeners(n = defaultMaxListeners, ...targets) {
  checkMaxListeners(n, 'n');
  if (targets.length === 0) {
    defaultMaxListeners = n;
  } else {
    for (const t of targets) {
      if (t && typeof t.setMaxListeners === 'function') t.setMaxListeners(n);
      else throw invalidArgType('eventTargets', 'EventEmitter or EventTarget', t);
    }
  }
}

/** Runs `listener` once when `signal` aborts; returns a disposable that detaches it. */
function addAbortListener(signal, listener) {
  checkSignal(signal, 'signal');
  if (signal === undefined) throw invalidArgType('signal', 'AbortSignal', signal);
  checkListener(listener);
  let removed = false;
  const run = () => {
    if (!removed) listener({ type: 'abort', target: signal });
  };
  if (signal.aborted) {
    Promise.resolve().then(run);
  } else {
    signal.addEventListener('abort', run, { once: true });
  }
  const dispose = () => {
    removed = true;
    signal.removeEventListener('abort', run);
  };
  const disposable = { dispose };
  if (typeof Symbol.dispose === 'symbol') disposable[Symbol.dispose] = dispose;
  return disposable;
}

EventEmitter.EventEmitter = EventEmitter;
EventEmitter.once = once;
EventEmitter.on = on;
EventEmitter.getEventListeners = getEventListeners;
EventEmitter.getMaxListeners = getMaxListeners;
EventEmitter.setMaxListeners = setMaxListeners;
EventEmitter.addAbortListener = addAbortListener;

export default EventEmitter;
export {
  EventEmitter,
  once,
  on,
  kErrorMonitor as errorMonitor,
  kRejection as captureRejectionSymbol,
  getEventListeners,
  getMaxListeners,
  setMaxListeners,
  addAbortListener,
  staticListenerCount as listenerCount,
  defaultMaxListeners,
};
