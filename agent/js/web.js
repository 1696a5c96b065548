// Web-platform globals for Ganglion's QuickJS runtime: DOMException, Event,
// EventTarget, CustomEvent, AbortController, AbortSignal, TextEncoder,
// TextDecoder, atob, btoa and structuredClone.
//
// Pure ECMAScript (ES2023), no host APIs. `install(globalThis)` defines each
// one only where the global is missing (QuickJS-ng already has atob/btoa, for
// instance), so native versions always win. The classes are also exported so
// other built-in modules can use them directly. The only optional host hooks
// are `setTimeout` (for AbortSignal.timeout) and `reportError` or
// `setTimeout` (to report exceptions thrown by event listeners).

// ---------------------------------------------------------------------------
// DOMException

const LEGACY_CODES = {
  IndexSizeError: 1,
  HierarchyRequestError: 3,
  WrongDocumentError: 4,
  InvalidCharacterError: 5,
  NoModificationAllowedError: 7,
  NotFoundError: 8,
  NotSupportedError: 9,
  InvalidStateError: 11,
  SyntaxError: 12,
  InvalidModificationError: 13,
  NamespaceError: 14,
  InvalidAccessError: 15,
  TypeMismatchError: 17,
  SecurityError: 18,
  NetworkError: 19,
  AbortError: 20,
  URLMismatchError: 21,
  QuotaExceededError: 22,
  TimeoutError: 23,
  InvalidNodeTypeError: 24,
  DataCloneError: 25,
};

/** Minimal WebIDL DOMException: an Error with a DOM `name` and legacy `code`. */
class DOMException extends Error {
  constructor(message = '', options = 'Error') {
    let name = 'Error';
    let cause;
    let hasCause = false;
    if (options !== null && typeof options === 'object') {
      if ('name' in options) name = String(options.name);
      if ('cause' in options) {
        hasCause = true;
        cause = options.cause;
      }
    } else if (options !== undefined) {
      name = String(options);
    }
    super(String(message));
    Object.defineProperty(this, 'name', {
      value: name,
      writable: true,
      enumerable: false,
      configurable: true,
    });
    if (hasCause) {
      Object.defineProperty(this, 'cause', {
        value: cause,
        writable: true,
        enumerable: false,
        configurable: true,
      });
    }
  }

  /** Legacy numeric code (0 for names without one). */
  get code() {
    return LEGACY_CODES[this.name] || 0;
  }
}
for (const [name, code] of Object.entries(LEGACY_CODES)) {
  const constant = name
    .replace(/Error$/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toUpperCase();
  const key = `${constant}_ERR`;
  Object.defineProperty(DOMException, key, { value: code, enumerable: true });
  Object.defineProperty(DOMException.prototype, key, { value: code, enumerable: true });
}

function domError(message, name) {
  const Ctor = typeof globalThis.DOMException === 'function' ? globalThis.DOMException : DOMException;
  return new Ctor(message, name);
}

function typeError(message, code) {
  const err = new TypeError(message);
  if (code) err.code = code;
  return err;
}

/**
 * Reports an exception thrown by an event listener without stopping dispatch:
 * through a global `reportError` if the host has one, else as an uncaught
 * exception from a timer callback (as Node reports it on the next tick).
 */
function reportListenerError(err) {
  if (typeof globalThis.reportError === 'function') {
    globalThis.reportError(err);
  } else if (typeof globalThis.setTimeout === 'function') {
    globalThis.setTimeout(() => {
      throw err;
    }, 0);
  } else if (typeof globalThis.queueMicrotask === 'function') {
    globalThis.queueMicrotask(() => {
      throw err;
    });
  } else {
    Promise.reject(err);
  }
}

// ---------------------------------------------------------------------------
// Event / EventTarget / CustomEvent

const kType = Symbol('type');
const kInit = Symbol('init');
const kTarget = Symbol('target');
const kCurrentTarget = Symbol('currentTarget');
const kPhase = Symbol('phase');
const kCanceled = Symbol('canceled');
const kStop = Symbol('stop');
const kStopImmediate = Symbol('stopImmediate');
const kDispatching = Symbol('dispatching');
const kInPassive = Symbol('inPassive');
const kTimeStamp = Symbol('timeStamp');
const kListeners = Symbol('listeners');
const kDetail = Symbol('detail');

function now() {
  const perf = globalThis.performance;
  return perf && typeof perf.now === 'function' ? perf.now() : Date.now();
}

/** Minimal DOM Event: type, flags, cancelation and propagation control. */
class Event {
  constructor(type, options = undefined) {
    if (arguments.length === 0) {
      throw typeError('The "type" argument must be specified', 'ERR_MISSING_ARGS');
    }
    if (options != null && typeof options !== 'object') {
      throw typeError('The "options" argument must be of type object.', 'ERR_INVALID_ARG_TYPE');
    }
    const o = options || {};
    this[kType] = String(type);
    this[kInit] = {
      bubbles: Boolean(o.bubbles),
      cancelable: Boolean(o.cancelable),
      composed: Boolean(o.composed),
    };
    this[kTarget] = null;
    this[kCurrentTarget] = null;
    this[kPhase] = 0;
    this[kCanceled] = false;
    this[kStop] = false;
    this[kStopImmediate] = false;
    this[kDispatching] = false;
    this[kInPassive] = false;
    this[kTimeStamp] = now();
  }

  get type() {
    return this[kType];
  }
  get bubbles() {
    return this[kInit].bubbles;
  }
  get cancelable() {
    return this[kInit].cancelable;
  }
  get composed() {
    return this[kInit].composed;
  }
  get target() {
    return this[kTarget];
  }
  get srcElement() {
    return this[kTarget];
  }
  get currentTarget() {
    return this[kCurrentTarget];
  }
  get eventPhase() {
    return this[kPhase];
  }
  get defaultPrevented() {
    return this[kCanceled];
  }
  get returnValue() {
    return !this[kCanceled];
  }
  set returnValue(v) {
    if (!v) this.preventDefault();
  }
  get cancelBubble() {
    return this[kStop];
  }
  set cancelBubble(v) {
    if (v) this[kStop] = true;
  }
  get isTrusted() {
    return false;
  }
  get timeStamp() {
    return this[kTimeStamp];
  }
  composedPath() {
    return this[kDispatching] && this[kCurrentTarget] ? [this[kCurrentTarget]] : [];
  }
  preventDefault() {
    if (this[kInit].cancelable && !this[kInPassive]) this[kCanceled] = true;
  }
  stopPropagation() {
    this[kStop] = true;
  }
  stopImmediatePropagation() {
    this[kStop] = true;
    this[kStopImmediate] = true;
  }
  get [Symbol.toStringTag]() {
    return 'Event';
  }
}
const PHASES = { NONE: 0, CAPTURING_PHASE: 1, AT_TARGET: 2, BUBBLING_PHASE: 3 };
for (const [k, v] of Object.entries(PHASES)) {
  Object.defineProperty(Event, k, { value: v, enumerable: true });
  Object.defineProperty(Event.prototype, k, { value: v, enumerable: true });
}

/** Event carrying a `detail` payload. */
class CustomEvent extends Event {
  constructor(type, options = undefined) {
    if (arguments.length === 0) {
      throw typeError('The "type" argument must be specified', 'ERR_MISSING_ARGS');
    }
    super(type, options);
    this[kDetail] = options && options.detail !== undefined ? options.detail : null;
  }
  get detail() {
    return this[kDetail];
  }
  get [Symbol.toStringTag]() {
    return 'CustomEvent';
  }
}

function flattenOptions(options) {
  if (typeof options === 'boolean') return { capture: options, once: false, passive: false, signal: undefined };
  if (options == null) return { capture: false, once: false, passive: false, signal: undefined };
  return {
    capture: Boolean(options.capture),
    once: Boolean(options.once),
    passive: Boolean(options.passive),
    signal: options.signal,
  };
}

/** Minimal DOM EventTarget: listeners per type, once/capture/passive/signal options. */
class EventTarget {
  constructor() {
    Object.defineProperty(this, kListeners, { value: new Map() });
  }

  addEventListener(type, listener, options = undefined) {
    if (arguments.length < 2) {
      throw typeError('The "type" and "listener" arguments must be specified', 'ERR_MISSING_ARGS');
    }
    if (listener == null) return;
    if (typeof listener !== 'function' && typeof listener !== 'object') {
      throw typeError('The "listener" argument must be an instance of EventListener.', 'ERR_INVALID_ARG_TYPE');
    }
    const { capture, once, passive, signal } = flattenOptions(options);
    if (signal && signal.aborted) return;
    const name = String(type);
    let list = this[kListeners].get(name);
    if (list === undefined) {
      list = [];
      this[kListeners].set(name, list);
    }
    for (const rec of list) if (rec.listener === listener && rec.capture === capture) return;
    const rec = { listener, capture, once, passive, removed: false };
    list.push(rec);
    if (signal && typeof signal.addEventListener === 'function') {
      signal.addEventListener('abort', () => this.removeEventListener(name, listener, { capture }), {
        once: true,
      });
    }
  }

  removeEventListener(type, listener, options = undefined) {
    if (arguments.length < 2) {
      throw typeError('The "type" and "listener" arguments must be specified', 'ERR_MISSING_ARGS');
    }
    const { capture } = flattenOptions(options);
    const name = String(type);
    const list = this[kListeners].get(name);
    if (list === undefined) return;
    const i = list.findIndex((rec) => rec.listener === listener && rec.capture === capture);
    if (i < 0) return;
    list[i].removed = true;
    list.splice(i, 1);
    if (list.length === 0) this[kListeners].delete(name);
  }

  dispatchEvent(event) {
    if (!(event instanceof Event)) {
      throw typeError('The "event" argument must be an instance of Event.', 'ERR_INVALID_ARG_TYPE');
    }
    if (event[kDispatching]) throw domError('The event is already being dispatched', 'InvalidStateError');
    event[kDispatching] = true;
    event[kTarget] = this;
    event[kCurrentTarget] = this;
    event[kPhase] = 2;
    const list = this[kListeners].get(event.type);
    if (list !== undefined) {
      for (const rec of list.slice()) {
        if (rec.removed) continue;
        if (rec.once) this.removeEventListener(event.type, rec.listener, { capture: rec.capture });
        event[kInPassive] = rec.passive;
        try {
          const l = rec.listener;
          if (typeof l === 'function') Reflect.apply(l, this, [event]);
          else if (l && typeof l.handleEvent === 'function') l.handleEvent(event);
        } catch (err) {
          reportListenerError(err);
        }
        event[kInPassive] = false;
        if (event[kStopImmediate]) break;
      }
    }
    event[kPhase] = 0;
    event[kCurrentTarget] = null;
    event[kDispatching] = false;
    return !event[kCanceled];
  }

  get [Symbol.toStringTag]() {
    return 'EventTarget';
  }
}

// ---------------------------------------------------------------------------
// AbortController / AbortSignal

const kCreate = Symbol('create');
const kAborted = Symbol('aborted');
const kReason = Symbol('reason');
const kOnAbort = Symbol('onabort');

function abortSignal(signal, reason) {
  if (signal[kAborted]) return;
  signal[kAborted] = true;
  signal[kReason] = reason;
  signal.dispatchEvent(new Event('abort'));
}

/** Signal half of an AbortController; an EventTarget that fires 'abort' once. */
class AbortSignal extends EventTarget {
  constructor(key = undefined) {
    if (key !== kCreate) throw typeError('Illegal constructor', 'ERR_ILLEGAL_CONSTRUCTOR');
    super();
    this[kAborted] = false;
    this[kReason] = undefined;
    this[kOnAbort] = null;
  }

  get aborted() {
    return this[kAborted];
  }

  get reason() {
    return this[kReason];
  }

  throwIfAborted() {
    if (this[kAborted]) throw this[kReason];
  }

  get onabort() {
    return this[kOnAbort] ? this[kOnAbort].handler : null;
  }

  set onabort(handler) {
    const h = typeof handler === 'function' || (handler && typeof handler === 'object') ? handler : null;
    if (this[kOnAbort]) {
      this[kOnAbort].handler = h;
      return;
    }
    if (h === null) return;
    // An event handler attribute keeps the position of its first registration.
    const slot = { handler: h };
    slot.listener = (event) => {
      const fn = slot.handler;
      if (typeof fn === 'function') Reflect.apply(fn, this, [event]);
    };
    this[kOnAbort] = slot;
    this.addEventListener('abort', slot.listener);
  }

  /** A signal that is already aborted (default reason: AbortError DOMException). */
  static abort(reason = undefined) {
    const signal = new AbortSignal(kCreate);
    signal[kAborted] = true;
    signal[kReason] =
      reason === undefined ? domError('This operation was aborted', 'AbortError') : reason;
    return signal;
  }

  /** A signal that aborts with a TimeoutError after `ms` (needs a global setTimeout). */
  static timeout(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || Math.floor(ms) !== ms) {
      const err = new RangeError(`The value of "delay" is out of range. Received ${String(ms)}`);
      err.code = 'ERR_OUT_OF_RANGE';
      throw err;
    }
    if (typeof globalThis.setTimeout !== 'function') {
      throw typeError('AbortSignal.timeout needs a global setTimeout', 'ERR_METHOD_NOT_IMPLEMENTED');
    }
    const signal = new AbortSignal(kCreate);
    const timer = globalThis.setTimeout(() => {
      abortSignal(signal, domError('The operation was aborted due to timeout', 'TimeoutError'));
    }, ms);
    // Like Node: a pending timeout signal does not keep the process alive.
    if (timer && typeof timer.unref === 'function') timer.unref();
    return signal;
  }

  /** A signal that aborts as soon as any of `signals` does, with its reason. */
  static any(signals) {
    if (signals == null || typeof signals[Symbol.iterator] !== 'function') {
      throw typeError('The "signals" argument must be an instance of Array.', 'ERR_INVALID_ARG_TYPE');
    }
    const list = Array.from(signals);
    for (const s of list) {
      if (!(s instanceof AbortSignal)) {
        throw typeError('The "signals" argument must contain only AbortSignal instances.', 'ERR_INVALID_ARG_TYPE');
      }
    }
    const result = new AbortSignal(kCreate);
    for (const s of list) {
      if (s.aborted) {
        result[kAborted] = true;
        result[kReason] = s.reason;
        return result;
      }
    }
    for (const s of list) {
      s.addEventListener('abort', () => abortSignal(result, s.reason), { once: true });
    }
    return result;
  }

  get [Symbol.toStringTag]() {
    return 'AbortSignal';
  }
}

/** Owner of an AbortSignal; `abort(reason)` aborts it once. */
class AbortController {
  constructor() {
    Object.defineProperty(this, kCreate, { value: new AbortSignal(kCreate) });
  }

  get signal() {
    return this[kCreate];
  }

  abort(reason = undefined) {
    abortSignal(
      this[kCreate],
      reason === undefined ? domError('This operation was aborted', 'AbortError') : reason,
    );
  }

  get [Symbol.toStringTag]() {
    return 'AbortController';
  }
}

// ---------------------------------------------------------------------------
// TextEncoder / TextDecoder

function utf8Encode(input) {
  const str = String(input);
  const out = new Uint8Array(str.length * 3);
  let j = 0;
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x80) {
      out[j++] = c;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[j++] = 0xf0 | (c >> 18);
        out[j++] = 0x80 | ((c >> 12) & 0x3f);
        out[j++] = 0x80 | ((c >> 6) & 0x3f);
        out[j++] = 0x80 | (c & 0x3f);
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x800) {
      out[j++] = 0xc0 | (c >> 6);
      out[j++] = 0x80 | (c & 0x3f);
    } else {
      out[j++] = 0xe0 | (c >> 12);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    }
  }
  return out.slice(0, j);
}

/** UTF-8 text to bytes (WHATWG Encoding: always utf-8). */
class TextEncoder {
  get encoding() {
    return 'utf-8';
  }

  encode(input = '') {
    return utf8Encode(input);
  }

  encodeInto(source, destination) {
    if (!(destination instanceof Uint8Array)) {
      throw typeError('The "dest" argument must be an instance of Uint8Array.', 'ERR_INVALID_ARG_TYPE');
    }
    const str = String(source);
    let read = 0;
    let written = 0;
    const cap = destination.length;
    for (let i = 0; i < str.length; i++) {
      let c = str.charCodeAt(i);
      let units = 1;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
        const d = str.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          units = 2;
        }
      }
      if (units === 1 && c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      if (written + n > cap) break;
      if (n === 1) {
        destination[written] = c;
      } else if (n === 2) {
        destination[written] = 0xc0 | (c >> 6);
        destination[written + 1] = 0x80 | (c & 0x3f);
      } else if (n === 3) {
        destination[written] = 0xe0 | (c >> 12);
        destination[written + 1] = 0x80 | ((c >> 6) & 0x3f);
        destination[written + 2] = 0x80 | (c & 0x3f);
      } else {
        destination[written] = 0xf0 | (c >> 18);
        destination[written + 1] = 0x80 | ((c >> 12) & 0x3f);
        destination[written + 2] = 0x80 | ((c >> 6) & 0x3f);
        destination[written + 3] = 0x80 | (c & 0x3f);
      }
      written += n;
      read += units;
      i += units - 1;
    }
    return { read, written };
  }

  get [Symbol.toStringTag]() {
    return 'TextEncoder';
  }
}

const ENCODING_LABELS = new Map();
for (const l of ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8']) {
  ENCODING_LABELS.set(l, 'utf-8');
}
for (const l of ['csunicode', 'iso-10646-ucs-2', 'ucs-2', 'unicode', 'unicodefeff', 'utf-16', 'utf-16le']) {
  ENCODING_LABELS.set(l, 'utf-16le');
}
for (const l of ['ansi_x3.4-1968', 'ascii', 'cp1252', 'cp819', 'csisolatin1', 'ibm819', 'iso-8859-1',
  'iso-ir-100', 'iso8859-1', 'iso88591', 'iso_8859-1', 'iso_8859-1:1987', 'l1', 'latin1', 'us-ascii',
  'windows-1252', 'x-cp1252']) {
  ENCODING_LABELS.set(l, 'windows-1252');
}
// windows-1252 bytes 0x80..0x9f (the rest is latin1).
const CP1252 = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
  0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
  0x153, 0x9d, 0x17e, 0x178,
];

function toBytes(input) {
  if (input === undefined) return new Uint8Array(0);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (typeof SharedArrayBuffer === 'function' && input instanceof SharedArrayBuffer) {
    return new Uint8Array(input);
  }
  throw typeError(
    'The "input" argument must be an instance of ArrayBuffer or ArrayBufferView.',
    'ERR_INVALID_ARG_TYPE',
  );
}

/** Appends UTF-16 code units to a string in bounded chunks (no huge argument lists). */
class StringSink {
  constructor() {
    this.parts = [];
    this.units = [];
  }
  push(cp) {
    if (cp > 0xffff) {
      cp -= 0x10000;
      this.units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else {
      this.units.push(cp);
    }
    if (this.units.length >= 8192) this.flush();
  }
  flush() {
    if (this.units.length) {
      this.parts.push(String.fromCharCode.apply(null, this.units));
      this.units = [];
    }
  }
  toString() {
    this.flush();
    return this.parts.join('');
  }
}

/** Bytes to text: utf-8 (WHATWG decoder with streaming and fatal mode), utf-16le, windows-1252. */
class TextDecoder {
  constructor(label = 'utf-8', options = undefined) {
    const key = String(label).trim().toLowerCase();
    const encoding = ENCODING_LABELS.get(key);
    if (encoding === undefined) {
      const err = new RangeError(`The "${String(label)}" encoding is not supported`);
      err.code = 'ERR_ENCODING_NOT_SUPPORTED';
      throw err;
    }
    if (options != null && typeof options !== 'object') {
      throw typeError('The "options" argument must be of type object.', 'ERR_INVALID_ARG_TYPE');
    }
    this[kInit] = {
      encoding,
      fatal: Boolean(options && options.fatal),
      ignoreBOM: Boolean(options && options.ignoreBOM),
    };
    this.#reset();
  }

  #state;

  #reset() {
    this.#state = {
      // utf-8
      codePoint: 0,
      bytesSeen: 0,
      bytesNeeded: 0,
      lower: 0x80,
      upper: 0xbf,
      // utf-16le
      leadByte: -1,
      leadSurrogate: -1,
      // BOM handling
      bomChecked: false,
    };
  }

  get encoding() {
    return this[kInit].encoding;
  }
  get fatal() {
    return this[kInit].fatal;
  }
  get ignoreBOM() {
    return this[kInit].ignoreBOM;
  }

  #invalid(sink) {
    if (this[kInit].fatal) {
      this.#reset();
      const err = new TypeError(`The encoded data was not valid for encoding ${this[kInit].encoding}`);
      err.code = 'ERR_ENCODING_INVALID_ENCODED_DATA';
      throw err;
    }
    sink.push(0xfffd);
  }

  #emit(sink, cp) {
    const st = this.#state;
    if (!st.bomChecked) {
      st.bomChecked = true;
      if (cp === 0xfeff && !this[kInit].ignoreBOM) return;
    }
    sink.push(cp);
  }

  decode(input = undefined, options = undefined) {
    const bytes = toBytes(input);
    const stream = Boolean(options && options.stream);
    const sink = new StringSink();
    const enc = this[kInit].encoding;
    if (enc === 'utf-8') this.#decodeUtf8(bytes, stream, sink);
    else if (enc === 'utf-16le') this.#decodeUtf16(bytes, stream, sink);
    else {
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        this.#emit(sink, b >= 0x80 && b <= 0x9f ? CP1252[b - 0x80] : b);
      }
      if (!stream) this.#reset();
    }
    return sink.toString();
  }

  #decodeUtf8(bytes, stream, sink) {
    const st = this.#state;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (st.bytesNeeded === 0) {
        if (b <= 0x7f) {
          this.#emit(sink, b);
        } else if (b >= 0xc2 && b <= 0xdf) {
          st.bytesNeeded = 1;
          st.codePoint = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) st.lower = 0xa0;
          if (b === 0xed) st.upper = 0x9f;
          st.bytesNeeded = 2;
          st.codePoint = b & 0xf;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) st.lower = 0x90;
          if (b === 0xf4) st.upper = 0x8f;
          st.bytesNeeded = 3;
          st.codePoint = b & 0x7;
        } else {
          this.#invalid(sink);
        }
        continue;
      }
      if (b < st.lower || b > st.upper) {
        st.codePoint = 0;
        st.bytesNeeded = 0;
        st.bytesSeen = 0;
        st.lower = 0x80;
        st.upper = 0xbf;
        this.#invalid(sink);
        i--; // reprocess this byte
        continue;
      }
      st.lower = 0x80;
      st.upper = 0xbf;
      st.codePoint = (st.codePoint << 6) | (b & 0x3f);
      st.bytesSeen++;
      if (st.bytesSeen !== st.bytesNeeded) continue;
      const cp = st.codePoint;
      st.codePoint = 0;
      st.bytesNeeded = 0;
      st.bytesSeen = 0;
      this.#emit(sink, cp);
    }
    if (!stream) {
      const incomplete = st.bytesNeeded !== 0;
      this.#reset();
      if (incomplete) this.#invalid(sink);
    }
  }

  #decodeUtf16(bytes, stream, sink) {
    const st = this.#state;
    for (let i = 0; i < bytes.length; i++) {
      if (st.leadByte < 0) {
        st.leadByte = bytes[i];
        continue;
      }
      const unit = st.leadByte | (bytes[i] << 8);
      st.leadByte = -1;
      if (st.leadSurrogate >= 0) {
        const lead = st.leadSurrogate;
        st.leadSurrogate = -1;
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          this.#emit(sink, 0x10000 + ((lead - 0xd800) << 10) + (unit - 0xdc00));
          continue;
        }
        this.#invalid(sink);
      }
      if (unit >= 0xd800 && unit <= 0xdbff) st.leadSurrogate = unit;
      else if (unit >= 0xdc00 && unit <= 0xdfff) this.#invalid(sink);
      else this.#emit(sink, unit);
    }
    if (!stream) {
      const incomplete = st.leadByte >= 0 || st.leadSurrogate >= 0;
      this.#reset();
      if (incomplete) this.#invalid(sink);
    }
  }

  get [Symbol.toStringTag]() {
    return 'TextDecoder';
  }
}

// ---------------------------------------------------------------------------
// atob / btoa (WHATWG forgiving-base64)

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Binary string (chars <= 0xFF) to base64. */
function btoa(data) {
  if (arguments.length === 0) throw typeError('The "data" argument must be specified', 'ERR_MISSING_ARGS');
  const s = String(data);
  let out = '';
  for (let i = 0; i < s.length; i += 3) {
    const a = s.charCodeAt(i);
    const b = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    const c = i + 2 < s.length ? s.charCodeAt(i + 2) : 0;
    if (a > 0xff || b > 0xff || c > 0xff) throw domError('Invalid character', 'InvalidCharacterError');
    out += B64[a >> 2] + B64[((a & 3) << 4) | (b >> 4)];
    out += i + 1 < s.length ? B64[((b & 15) << 2) | (c >> 6)] : '=';
    out += i + 2 < s.length ? B64[c & 63] : '=';
  }
  return out;
}

/** Base64 to a binary string; whitespace is ignored, bad input throws InvalidCharacterError. */
function atob(data) {
  if (arguments.length === 0) throw typeError('The "data" argument must be specified', 'ERR_MISSING_ARGS');
  let s = String(data).replace(/[\t\n\f\r ]/g, '');
  if (s.length % 4 === 0) s = s.replace(/={1,2}$/, '');
  const bad = () => domError('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
  if (s.length % 4 === 1) throw bad();
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    const v = code < 128 ? B64_INDEX[code] : -1;
    if (v < 0) throw bad();
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((buffer >> bits) & 0xff);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// structuredClone

function brand(fn, value) {
  try {
    fn.call(value);
    return true;
  } catch {
    return false;
  }
}
const getterOf = (proto, key) => Object.getOwnPropertyDescriptor(proto, key).get;
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
const typedArrayTag = getterOf(TypedArrayProto, Symbol.toStringTag);
const arrayBufferByteLength = getterOf(ArrayBuffer.prototype, 'byteLength');
const regExpSource = getterOf(RegExp.prototype, 'source');
const mapSize = getterOf(Map.prototype, 'size');
const setSize = getterOf(Set.prototype, 'size');
const ERROR_CTORS = {
  Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError,
};

function cloneError(what) {
  return domError(`${what} could not be cloned.`, 'DataCloneError');
}

function uncloneable(value) {
  const checks = [
    [WeakMap.prototype.has, 'WeakMap'],
    [WeakSet.prototype.has, 'WeakSet'],
    [Promise.prototype.then, 'Promise'],
  ];
  if (typeof WeakRef === 'function') checks.push([WeakRef.prototype.deref, 'WeakRef']);
  for (const [fn, name] of checks) {
    if (name === 'Promise') {
      if (value instanceof Promise) return name;
    } else if (brand(fn, value)) {
      return name;
    }
  }
  return null;
}

/**
 * Deep copy by the HTML structured clone algorithm: primitives, plain objects,
 * arrays, Date, RegExp, Map, Set, ArrayBuffer, typed arrays, DataView, Error,
 * boxed primitives, with cycles and shared references preserved. Functions,
 * symbols, promises and weak collections throw a DataCloneError.
 */
function structuredClone(value, options = undefined) {
  if (arguments.length === 0) {
    throw typeError('The "value" argument must be specified', 'ERR_MISSING_ARGS');
  }
  const memory = new Map();
  const transfer = new Set();
  if (options != null && options.transfer != null) {
    for (const buf of options.transfer) {
      if (!brand(arrayBufferByteLength, buf)) {
        throw domError('Value not transferable', 'DataCloneError');
      }
      transfer.add(buf);
    }
  }

  function cloneBuffer(buf) {
    if (memory.has(buf)) return memory.get(buf);
    let copy;
    if (transfer.has(buf) && typeof buf.transfer === 'function') copy = buf.transfer();
    else copy = buf.slice(0);
    memory.set(buf, copy);
    return copy;
  }

  function clone(v) {
    const t = typeof v;
    if (t === 'symbol') throw cloneError(String(v));
    if (t === 'function') throw cloneError(String(v));
    if (v === null || t !== 'object') return v;
    if (memory.has(v)) return memory.get(v);

    if (Array.isArray(v)) {
      const out = new Array(v.length);
      memory.set(v, out);
      for (const k of Object.keys(v)) out[k] = clone(v[k]);
      return out;
    }
    if (brand(Date.prototype.getTime, v)) {
      const out = new Date(Date.prototype.getTime.call(v));
      memory.set(v, out);
      return out;
    }
    if (brand(regExpSource, v) && v !== RegExp.prototype) {
      const out = new RegExp(regExpSource.call(v), v.flags);
      memory.set(v, out);
      return out;
    }
    if (brand(arrayBufferByteLength, v)) return cloneBuffer(v);
    if (ArrayBuffer.isView(v)) {
      const buf = cloneBuffer(v.buffer);
      const tag = typedArrayTag.call(v);
      const out =
        tag === undefined
          ? new DataView(buf, v.byteOffset, v.byteLength)
          : new globalThis[tag](buf, v.byteOffset, v.length);
      memory.set(v, out);
      return out;
    }
    if (brand(mapSize, v)) {
      const out = new Map();
      memory.set(v, out);
      for (const [k, val] of Map.prototype.entries.call(v)) out.set(clone(k), clone(val));
      return out;
    }
    if (brand(setSize, v)) {
      const out = new Set();
      memory.set(v, out);
      for (const k of Set.prototype.values.call(v)) out.add(clone(k));
      return out;
    }
    for (const [proto, Ctor] of [
      [Number.prototype.valueOf, Number],
      [String.prototype.valueOf, String],
      [Boolean.prototype.valueOf, Boolean],
      [BigInt.prototype.valueOf, BigInt],
    ]) {
      if (brand(proto, v)) {
        const out = Object(proto.call(v));
        memory.set(v, out);
        return out;
      }
    }
    if (brand(Symbol.prototype.valueOf, v)) throw cloneError('Symbol object');
    if (v instanceof Error || Object.prototype.toString.call(v) === '[object Error]') {
      const name = ERROR_CTORS[v.name] ? v.name : 'Error';
      const out = new ERROR_CTORS[name]();
      memory.set(v, out);
      const own = (key) => Object.prototype.hasOwnProperty.call(v, key);
      const define = (key, val) =>
        Object.defineProperty(out, key, { value: val, writable: true, configurable: true, enumerable: false });
      const msg = v.message;
      if (msg !== undefined) define('message', String(msg));
      else delete out.message;
      if (typeof v.stack === 'string') define('stack', v.stack);
      if (own('cause')) define('cause', clone(v.cause));
      return out;
    }
    const bad = uncloneable(v);
    if (bad) throw cloneError(`#<${bad}>`);

    const out = {};
    memory.set(v, out);
    for (const k of Object.keys(v)) out[k] = clone(v[k]);
    return out;
  }

  return clone(value);
}

// ---------------------------------------------------------------------------
// install

const GLOBALS = {
  DOMException,
  Event,
  EventTarget,
  CustomEvent,
  AbortController,
  AbortSignal,
  TextEncoder,
  TextDecoder,
  atob,
  btoa,
  structuredClone,
};

/**
 * Defines each web global on `target` (normally globalThis) where it is
 * missing, as a writable, configurable, non-enumerable property like the Web
 * IDL globals. Returns the names it installed.
 */
function install(target = globalThis) {
  const installed = [];
  for (const [name, value] of Object.entries(GLOBALS)) {
    if (typeof target[name] !== 'undefined') continue;
    Object.defineProperty(target, name, { value, writable: true, enumerable: false, configurable: true });
    installed.push(name);
  }
  return installed;
}

export {
  install,
  DOMException,
  Event,
  EventTarget,
  CustomEvent,
  AbortController,
  AbortSignal,
  TextEncoder,
  TextDecoder,
  atob,
  btoa,
  structuredClone,
};
export default install;
