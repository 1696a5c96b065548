// embedded:io/smbus — ECMA-419 SMBus: I2C plus register access. Words are little-endian on the
// wire as SMBus specifies; pass bigEndian = true for devices that send the high byte first.
// Every method has a Promise-returning *Async twin that runs off the JS thread.
import I2C from 'embedded:io/i2c';

const internal = globalThis[Symbol.for('ganglion.internal')];
const { kSync, kAsync, OP, bytes, lengthOrBuffer, copyInto, registerByte } = internal.i2c;

const swap16 = (v) => ((v & 0xff) << 8) | ((v >> 8) & 0xff);
const isWord = (v) => Number.isInteger(v) && v >= 0 && v <= 0xffff;

function withRegister(register, data) {
  const out = new Uint8Array(data.byteLength + 1);
  out[0] = register;
  out.set(data, 1);
  return out;
}

export default class SMBus extends I2C {
  /** Read a byte register. */
  readUint8(register) {
    return this[kSync](OP.readU8, register);
  }

  /** Read a 16-bit register (little-endian unless bigEndian). */
  readUint16(register, bigEndian = false) {
    const v = this[kSync](OP.readU16, register);
    return bigEndian ? swap16(v) : v;
  }

  /** Write a byte register. */
  writeUint8(register, value) {
    this[kSync](OP.writeU8, register, value);
  }

  /** Write a 16-bit register (little-endian unless bigEndian). */
  writeUint16(register, value, bigEndian = false) {
    this[kSync](OP.writeU16, register, bigEndian && isWord(value) ? swap16(value) : value);
  }

  /** Read byteLength bytes starting at register (new ArrayBuffer), or fill buffer (count). */
  readBuffer(register, lengthOrBuf) {
    registerByte('SMBus readBuffer', register);
    const { length, into } = lengthOrBuffer('SMBus readBuffer', lengthOrBuf);
    const ab = this[kSync](OP.writeRead, Uint8Array.of(register), length);
    return into === undefined ? ab : copyInto(into, ab);
  }

  /** Write buffer starting at register. */
  writeBuffer(register, buffer) {
    registerByte('SMBus writeBuffer', register);
    this[kSync](OP.write, withRegister(register, bytes('SMBus writeBuffer: buffer', buffer)));
  }

  /** SMBus receive byte (no register). */
  receiveByte() {
    return this[kSync](OP.receiveByte);
  }

  /** SMBus send byte (no register). */
  sendByte(command) {
    this[kSync](OP.sendByte, command);
  }

  readUint8Async(register) {
    return this[kAsync](OP.readU8, register);
  }

  readUint16Async(register, bigEndian = false) {
    return this[kAsync](OP.readU16, register, undefined, bigEndian ? swap16 : undefined);
  }

  writeUint8Async(register, value) {
    return this[kAsync](OP.writeU8, register, value);
  }

  writeUint16Async(register, value, bigEndian = false) {
    return this[kAsync](OP.writeU16, register, bigEndian && isWord(value) ? swap16(value) : value);
  }

  readBufferAsync(register, lengthOrBuf) {
    try {
      registerByte('SMBus readBufferAsync', register);
      const { length, into } = lengthOrBuffer('SMBus readBufferAsync', lengthOrBuf);
      return this[kAsync](OP.writeRead, Uint8Array.of(register), length, into && ((ab) => copyInto(into, ab)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  writeBufferAsync(register, buffer) {
    try {
      registerByte('SMBus writeBufferAsync', register);
      return this[kAsync](OP.write, withRegister(register, bytes('SMBus writeBufferAsync: buffer', buffer)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  receiveByteAsync() {
    return this[kAsync](OP.receiveByte);
  }

  sendByteAsync(command) {
    return this[kAsync](OP.sendByte, command);
  }
}
