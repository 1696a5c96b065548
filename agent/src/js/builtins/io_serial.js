// embedded:io/serial — ECMA-419 Serial over tty ports (a board port name such as "gps", or a
// device path such as /dev/serial/by-id/...), with our `framing` option: the port worker cuts the
// byte stream into frames, onReadable(length) is called once per frame and read() returns the
// oldest unread frame. An unplugged port is reported to onError (err.disconnected === true) and
// reopened by the same path with backoff; onReconnect() is called when it is back.
const internal = globalThis[Symbol.for('ganglion.internal')];
const native = internal.native;
const handles = internal.handles;

// Unread frames kept per port; beyond this the oldest are dropped (and reported once).
const MAX_QUEUE = 1024;

const { describe } = internal;

// Serial's byte arguments; the TypeError names the string and byte forms write() also takes.
function byteView(what, data) {
  return internal.byteView(what, data, 'a string, a byte, an ArrayBuffer, a typed array or a DataView');
}

function checkFormat(value) {
  if (typeof value !== 'string') throw new TypeError(`Serial: format must be "buffer" or "string", not ${describe(value)}`);
  if (value !== 'buffer' && value !== 'string') throw new RangeError(`Serial: format must be "buffer" or "string", not "${value}"`);
  return value;
}

function closedError() {
  const e = new Error('Serial is closed');
  e.code = 'ENODEV';
  return e;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const toBuffer = (f) => {
  if (typeof f !== 'string') return f;
  const u = encoder.encode(f);
  return u.byteOffset === 0 && u.buffer.byteLength === u.byteLength ? u.buffer : u.slice().buffer;
};
const toString = (f) => (typeof f === 'string' ? f : decoder.decode(f));
const lengthOf = (f) => (typeof f === 'string' ? f.length : f.byteLength);

export default class Serial {
  #id = 0;
  #closed = false;
  #onReadable;
  #onError;
  #onReconnect;
  #format = 'buffer';
  #queue = [];
  #overflowing = false;
  #path = '';
  #baud = 0;
  #released;

  constructor(options) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('Serial: options must be an object, e.g. { port: "gps", baud: 9600, framing: "lines" }');
    }
    for (const name of ['onReadable', 'onError', 'onReconnect']) {
      const fn = options[name];
      if (fn !== undefined && typeof fn !== 'function') {
        throw new TypeError(`Serial: option '${name}' must be a function, not ${describe(fn)}`);
      }
    }
    if (options.onWritable !== undefined) {
      throw new TypeError('Serial: onWritable is not supported: write() queues data (it throws EAGAIN when the queue is full)');
    }
    this.#onReadable = options.onReadable;
    this.#onError = options.onError;
    this.#onReconnect = options.onReconnect;
    if (options.format !== undefined) this.#format = checkFormat(options.format);
    let framing = options.framing;
    if (framing !== null && typeof framing === 'object' && framing.delimiter !== undefined &&
        typeof framing.delimiter !== 'string') {
      framing = { ...framing, delimiter: byteView("Serial: option 'framing.delimiter'", framing.delimiter) };
    }
    const info = native.ioSerialOpen({
      port: options.port,
      baud: options.baud,
      dataBits: options.dataBits,
      parity: options.parity,
      stopBits: options.stopBits,
      flowControl: options.flowControl,
      framing,
      maxFrame: options.maxFrame,
      asString: this.#format === 'string',
    });
    this.#id = info.id;
    this.#path = info.path;
    this.#baud = info.baud;
    if (options.target !== undefined) this.target = options.target;
    handles.set(this.#id, (type, payload) => this.#event(type, payload));
  }

  #event(type, payload) {
    if (this.#closed) return;
    switch (type) {
      case 'frames':
        for (const frame of payload) {
          this.#push(frame);
          if (this.#onReadable !== undefined) this.#onReadable.call(this, lengthOf(frame));
          if (this.#closed) return;
        }
        break;
      case 'error':
        this.#fail(payload);
        break;
      case 'disconnect':
        payload.disconnected = true;
        this.#fail(payload);
        break;
      case 'reconnect':
        if (this.#onReconnect !== undefined) this.#onReconnect.call(this);
        else native.log(2, `Serial ${this.#path}: reconnected`);
        break;
    }
  }

  #push(frame) {
    this.#queue.push(frame);
    if (this.#queue.length <= MAX_QUEUE) {
      this.#overflowing = false;
      return;
    }
    this.#queue.shift();
    if (!this.#overflowing) {
      this.#overflowing = true;
      const e = new Error(`Serial ${this.#path}: more than ${MAX_QUEUE} frames unread; dropping the oldest (call read() in onReadable)`);
      e.code = 'ENOBUFS';
      this.#fail(e);
    }
  }

  #fail(err) {
    if (this.#onError !== undefined) this.#onError.call(this, err);
    else native.log(3, `Serial ${this.#path}: ${err && err.message}`);
  }

  /**
   * The oldest unread frame (ArrayBuffer or string per `format`), or undefined when none.
   * read(byteLength) takes up to byteLength bytes of it; read(buffer) fills buffer and returns
   * the count; what is left of the frame stays first in line.
   */
  read(arg) {
    if (this.#closed) throw closedError();
    if (this.#queue.length === 0) return undefined;
    if (arg === undefined) {
      const frame = this.#queue.shift();
      return this.#format === 'string' ? toString(frame) : toBuffer(frame);
    }
    let max;
    let into;
    if (typeof arg === 'number') {
      if (!Number.isInteger(arg) || arg < 0) throw new RangeError(`Serial read: byteLength must be a non-negative integer, not ${arg}`);
      max = arg;
    } else if (arg instanceof ArrayBuffer || ArrayBuffer.isView(arg)) {
      into = byteView('Serial read: buffer', arg);
      max = into.byteLength;
    } else {
      throw new TypeError(`Serial read takes nothing, a byte count or a buffer to fill, not ${describe(arg)}`);
    }
    const head = toBuffer(this.#queue[0]);
    const n = Math.min(max, head.byteLength);
    if (n === head.byteLength) this.#queue.shift();
    else this.#queue[0] = head.slice(n);
    if (into !== undefined) {
      into.set(new Uint8Array(head, 0, n));
      return n;
    }
    return head.slice(0, n);
  }

  /** Queue data (string as UTF-8, a byte, or a buffer) for the port; throws EAGAIN when full. */
  write(data) {
    if (this.#closed) throw closedError();
    let out;
    if (typeof data === 'string') out = data;
    else if (typeof data === 'number') {
      if (!Number.isInteger(data) || data < 0 || data > 255) throw new RangeError(`Serial write: a number must be a byte (0-255), not ${data}`);
      out = Uint8Array.of(data);
    } else out = byteView('Serial write: data', data);
    native.ioSerialWrite(this.#id, out);
  }

  /**
   * Close the port once the queued writes went out. Returns a Promise (extension) that resolves
   * when the port is released, e.g. before opening the same port again; closing twice is harmless.
   */
  close() {
    if (this.#closed) return this.#released;
    this.#closed = true;
    this.#queue = [];
    this.#released = new Promise((resolve) => {
      handles.set(this.#id, (type) => {
        if (type !== 'closed') return;
        handles.delete(this.#id);
        resolve();
      });
    });
    native.ioSerialClose(this.#id);
    return this.#released;
  }

  /** The device path opened (and reopened after an unplug): extension. */
  get path() {
    return this.#path;
  }

  /** The baud rate in use: extension. */
  get baud() {
    return this.#baud;
  }

  get format() {
    return this.#format;
  }

  set format(value) {
    this.#format = checkFormat(value);
  }
}
