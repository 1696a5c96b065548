// embedded:io/i2c — ECMA-419 I2C over the board's buses (/dev/i2c-N or the simulated board).
// Synchronous methods wait for the bus worker thread (one transaction: microseconds to a few ms);
// the *Async variants return Promises and never block the event loop.
const internal = globalThis[Symbol.for('ganglion.internal')];
const native = internal.native;
const handles = internal.handles;

// Operation codes shared with the natives (agent/src/js/bind_io/i2c.rs).
const OP = { read: 0, write: 1, writeRead: 2, readU8: 3, writeU8: 4, readU16: 5, writeU16: 6, receiveByte: 7, sendByte: 8 };

const { describe, byteView: bytes } = internal;

// read(byteLength) returns a new ArrayBuffer; read(buffer) fills it and returns the count.
function lengthOrBuffer(what, arg) {
  if (typeof arg === 'number') return { length: arg, into: undefined };
  if (arg instanceof ArrayBuffer || ArrayBuffer.isView(arg)) {
    const into = bytes(what, arg);
    return { length: into.byteLength, into };
  }
  throw new TypeError(`${what} takes a byte count or a buffer to fill, not ${describe(arg)}`);
}

function copyInto(into, ab) {
  into.set(new Uint8Array(ab));
  return ab.byteLength;
}

function registerByte(what, r) {
  if (typeof r !== 'number') throw new TypeError(`${what}: register must be a number, not ${describe(r)}`);
  if (!Number.isInteger(r) || r < 0 || r > 255) throw new RangeError(`${what}: register must be an integer from 0 to 255, not ${r}`);
  return r;
}

function closedError(what) {
  const e = new Error(`${what} is closed`);
  e.code = 'ENODEV';
  return e;
}

// Hooks for embedded:io/smbus; not part of the public API.
const kSync = Symbol('i2c.sync');
const kAsync = Symbol('i2c.async');
internal.i2c = { kSync, kAsync, OP, bytes, lengthOrBuffer, copyInto, registerByte };

export default class I2C {
  #id = 0;
  #closed = false;
  #onError;
  #pending = new Map();
  #nextReq = 1;
  #held = null; // write(buffer, false): sent with the next read as one repeated-start transaction
  #bus = '';

  constructor(options) {
    const cls = new.target === I2C ? 'I2C' : new.target.name;
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${cls}: options must be an object, e.g. { address: 0x76 }`);
    }
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new TypeError(`${cls}: option 'onError' must be a function, not ${describe(options.onError)}`);
    }
    this.#onError = options.onError;
    const info = native.ioI2cOpen({ address: options.address, bus: options.bus, port: options.port, hz: options.hz });
    this.#id = info.id;
    this.#bus = info.bus;
    if (options.target !== undefined) this.target = options.target;
    handles.set(this.#id, (type, payload) => {
      if (type === 'done') this.#settle(payload);
    });
  }

  #settle(done) {
    const p = this.#pending.get(done.id);
    if (p === undefined) return;
    this.#pending.delete(done.id);
    if (this.#closed && this.#pending.size === 0) handles.delete(this.#id);
    if (done.error !== undefined) {
      if (this.#onError !== undefined) this.#onError.call(this, done.error);
      p.reject(done.error);
    } else {
      p.resolve(p.map === undefined ? done.value : p.map(done.value));
    }
  }

  [kSync](op, a, b) {
    if (this.#closed) throw closedError(this.constructor.name);
    if (this.#held !== null) {
      this.#held = null;
      throw new RangeError(`${this.constructor.name}: write(buffer, false) must be followed by read()`);
    }
    return native.ioI2cSync(this.#id, op, a, b);
  }

  [kAsync](op, a, b, map) {
    try {
      if (this.#closed) throw closedError(this.constructor.name);
      const req = this.#nextReq++;
      let resolve;
      let reject;
      const promise = new Promise((res, rej) => {
        resolve = res;
        reject = rej;
      });
      native.ioI2cStart(this.#id, req, op, a, b);
      this.#pending.set(req, { resolve, reject, map });
      // With onError the error is reported there; the promise still rejects for awaiting code
      // but is not an unhandled rejection when nobody awaits it.
      if (this.#onError !== undefined) promise.catch(() => {});
      return promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Read byteLength bytes into a new ArrayBuffer, or fill buffer and return the count. */
  read(lengthOrBuf, stop = true) {
    const cls = this.constructor.name;
    if (typeof stop !== 'boolean') throw new TypeError(`${cls} read: stop must be a boolean`);
    if (!stop) throw new RangeError(`${cls} read: stop=false is not supported (Linux ends a transaction after a read)`);
    const { length, into } = lengthOrBuffer(`${cls} read`, lengthOrBuf);
    let ab;
    if (this.#held !== null) {
      const w = this.#held;
      this.#held = null;
      ab = this[kSync](OP.writeRead, w, length);
    } else {
      ab = this[kSync](OP.read, length);
    }
    return into === undefined ? ab : copyInto(into, ab);
  }

  /** Write buffer; write(buffer, false) holds it for the next read() (repeated start). */
  write(buffer, stop = true) {
    const cls = this.constructor.name;
    if (typeof stop !== 'boolean') throw new TypeError(`${cls} write: stop must be a boolean`);
    const data = bytes(`${cls} write: buffer`, buffer);
    if (!stop) {
      if (this.#closed) throw closedError(cls);
      if (this.#held !== null) throw new RangeError(`${cls}: write(buffer, false) must be followed by read()`);
      this.#held = data.slice();
      return;
    }
    this[kSync](OP.write, data);
  }

  /** Write then read with a repeated start (a register read): extension. */
  writeRead(buffer, lengthOrBuf) {
    const cls = this.constructor.name;
    const data = bytes(`${cls} writeRead: buffer`, buffer);
    const { length, into } = lengthOrBuffer(`${cls} writeRead`, lengthOrBuf);
    const ab = this[kSync](OP.writeRead, data, length);
    return into === undefined ? ab : copyInto(into, ab);
  }

  /** Promise of read(): runs off the JS thread. */
  readAsync(lengthOrBuf) {
    try {
      const { length, into } = lengthOrBuffer(`${this.constructor.name} readAsync`, lengthOrBuf);
      return this[kAsync](OP.read, length, undefined, into && ((ab) => copyInto(into, ab)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Promise of write(). */
  writeAsync(buffer) {
    try {
      return this[kAsync](OP.write, bytes(`${this.constructor.name} writeAsync: buffer`, buffer));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Promise of writeRead(). */
  writeReadAsync(buffer, lengthOrBuf) {
    try {
      const cls = this.constructor.name;
      const data = bytes(`${cls} writeReadAsync: buffer`, buffer);
      const { length, into } = lengthOrBuffer(`${cls} writeReadAsync`, lengthOrBuf);
      return this[kAsync](OP.writeRead, data, length, into && ((ab) => copyInto(into, ab)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Stop using the device; transfers already started still settle. Closing twice is harmless. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = null;
    native.ioI2cClose(this.#id);
    if (this.#pending.size === 0) handles.delete(this.#id);
  }

  /** The bus this device is on (e.g. "i2c-1", "sim-i2c-1"): extension. */
  get bus() {
    return this.#bus;
  }

  get format() {
    return 'buffer';
  }

  set format(value) {
    if (value !== 'buffer') throw new RangeError(`${this.constructor.name}: format must be "buffer", not ${String(value)}`);
  }
}
