// embedded:io/digital — ECMA-419 Digital over the board's GPIO lines (Linux uAPI v2 or the
// simulated board). Options are checked by the natives (TypeError / RangeError naming the
// option); device failures are Errors with a code (EBUSY, ENOENT, EACCES, ...).
const internal = globalThis[Symbol.for('ganglion.internal')];
const native = internal.native;
const handles = internal.handles;

function checkCallback(name, fn) {
  if (fn !== undefined && typeof fn !== 'function') {
    throw new TypeError(`Digital: option '${name}' must be a function, not ${fn === null ? 'null' : typeof fn}`);
  }
  return fn;
}

function closedError() {
  const e = new Error('Digital is closed');
  e.code = 'ENODEV';
  return e;
}

export default class Digital {
  static Input = 0;
  static InputPullUp = 1;
  static InputPullDown = 2;
  static Output = 8;
  static OutputOpenDrain = 9;
  static Rising = 1;
  static Falling = 2;

  #id = 0;
  #closed = false;
  #onReadable;
  #onError;

  constructor(options) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('Digital: options must be an object, e.g. { pin: 17, mode: Digital.Input }');
    }
    this.#onReadable = checkCallback('onReadable', options.onReadable);
    this.#onError = checkCallback('onError', options.onError);
    const input = options.mode === Digital.Input || options.mode === Digital.InputPullUp ||
      options.mode === Digital.InputPullDown;
    // onReadable without edge means "every change"; edges nobody listens to are not requested.
    let edge = options.edge;
    if (input && this.#onReadable !== undefined && edge === undefined) edge = Digital.Rising | Digital.Falling;
    if (input && this.#onReadable === undefined && (edge === 1 || edge === 2 || edge === 3)) edge = 0;
    const info = native.ioDigitalOpen({
      pin: options.pin,
      line: options.line,
      mode: options.mode,
      edge,
      debounce: options.debounce,
      initial: options.initial,
      activeLow: options.activeLow,
    });
    this.#id = info.id;
    if (options.target !== undefined) this.target = options.target;
    handles.set(this.#id, (type, payload) => {
      if (this.#closed) return;
      if (type === 'edge') {
        if (this.#onReadable !== undefined) this.#onReadable.call(this, payload);
      } else if (type === 'error') {
        this.#fail(payload);
      }
    });
  }

  #fail(err) {
    if (this.#onError !== undefined) this.#onError.call(this, err);
    else native.log(3, `Digital: ${err && err.message}`);
  }

  /** The current value, 0 or 1 (logical: after activeLow). */
  read() {
    if (this.#closed) throw closedError();
    return native.ioDigitalRead(this.#id);
  }

  /** Drive an output: 0/1 (or false/true). */
  write(value) {
    if (this.#closed) throw closedError();
    if (value !== 0 && value !== 1 && value !== true && value !== false) {
      if (typeof value !== 'number' && typeof value !== 'boolean') {
        throw new TypeError(`Digital: write() takes 0 or 1, not ${value === null ? 'null' : typeof value}`);
      }
      throw new RangeError(`Digital: write() takes 0 or 1, not ${value}`);
    }
    native.ioDigitalWrite(this.#id, value === 1 || value === true);
  }

  /** Release the line; later calls throw (code ENODEV). Closing twice is harmless. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    handles.delete(this.#id);
    native.ioDigitalClose(this.#id);
  }

  get format() {
    return 'number';
  }

  set format(value) {
    if (value !== 'number') throw new RangeError(`Digital: format must be "number", not ${String(value)}`);
  }
}
