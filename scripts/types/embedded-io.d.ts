// Type declarations for Ganglion's ECMA-419 IO modules (embedded:io/*). See docs/io.md for the
// supported subset and our extensions (marked "extension" below).

/** Anything a byte-oriented method accepts. */
type ByteBuffer = ArrayBuffer | ArrayBufferView | number[];

/** ECMA-419 Base Class Pattern: an optional `target` is stored on the instance. */
interface IOOptions<T> {
  target?: unknown;
  /** Called with an Error (with `code`) for failures outside a method call. */
  onError?: (this: T, error: IOError) => void;
}

/** Errors from devices carry a Node-style code. */
interface IOError extends Error {
  code?: 'EBUSY' | 'ENOENT' | 'ENXIO' | 'EACCES' | 'EIO' | 'EINVAL' | 'ETIMEDOUT' | 'EBADMSG' | 'ENODEV' | 'EAGAIN' | 'ENOBUFS' | string;
  /** Serial only: the port went away (unplug); it is being reopened. */
  disconnected?: boolean;
}

declare module 'embedded:io/digital' {
  /** Details of one edge, passed to onReadable (extension; ECMA-419 passes nothing). */
  export interface DigitalEdge {
    /** true for inactive -> active (after activeLow). */
    rising: boolean;
    /** Kernel timestamp on CLOCK_MONOTONIC, in ns (a number; exact to 2^53 ns, ~104 days). */
    timestamp: number;
    /** Per-line sequence number from 1; a gap means edges were dropped. */
    seq: number;
  }

  export interface DigitalOptions extends IOOptions<Digital> {
    /** BCM number on a Pi, or a pin name from the board file ("GPIO17", "PIN11"). */
    pin?: number | string;
    /** A GPIO line name as the kernel knows it (extension; instead of pin). */
    line?: string;
    mode: number;
    /** Digital.Rising, Digital.Falling or both OR-ed; defaults to both when onReadable is given. */
    edge?: number;
    /** Debounce period in ms, inputs only (extension). */
    debounce?: number;
    /** Initial value of an output, 0/1 (extension). */
    initial?: 0 | 1 | boolean;
    /** Invert the logical value (extension). */
    activeLow?: boolean;
    /** Called once per edge with this = the instance. */
    onReadable?: (this: Digital, edge: DigitalEdge) => void;
  }

  export default class Digital {
    static readonly Input: 0;
    static readonly InputPullUp: 1;
    static readonly InputPullDown: 2;
    static readonly Output: 8;
    static readonly OutputOpenDrain: 9;
    static readonly Rising: 1;
    static readonly Falling: 2;
    constructor(options: DigitalOptions);
    target?: unknown;
    readonly format: 'number';
    read(): 0 | 1;
    write(value: 0 | 1 | boolean): void;
    close(): void;
  }
}

declare module 'embedded:io/i2c' {
  export interface I2COptions<T = I2C> extends IOOptions<T> {
    /** 7-bit address, 0..0x7f. */
    address: number;
    /** Bus number (/dev/i2c-N); the board's first bus when omitted. */
    bus?: number;
    /** ECMA-419 name for bus. */
    port?: number;
    /** Accepted, informational: the kernel driver sets the bus speed. */
    hz?: number;
    /** Accepted and ignored: the pins are fixed by the board. */
    data?: unknown;
    clock?: unknown;
  }

  export default class I2C {
    constructor(options: I2COptions);
    target?: unknown;
    readonly format: 'buffer';
    /** The bus name, e.g. "i2c-1" (extension). */
    readonly bus: string;
    /** Blocks the JS thread for one bus transaction. stop=false is not supported for reads. */
    read(byteLength: number, stop?: true): ArrayBuffer;
    read(buffer: ArrayBuffer | ArrayBufferView, stop?: true): number;
    /** write(buffer, false) is sent with the next read() as one repeated-start transaction. */
    write(buffer: ByteBuffer, stop?: boolean): void;
    /** Write then read with a repeated start (extension). */
    writeRead(buffer: ByteBuffer, byteLength: number): ArrayBuffer;
    writeRead(buffer: ByteBuffer, into: ArrayBuffer | ArrayBufferView): number;
    /** Promise forms (extension): run off the JS thread; reject with an IOError. */
    readAsync(byteLength: number): Promise<ArrayBuffer>;
    readAsync(into: ArrayBuffer | ArrayBufferView): Promise<number>;
    writeAsync(buffer: ByteBuffer): Promise<void>;
    writeReadAsync(buffer: ByteBuffer, byteLength: number): Promise<ArrayBuffer>;
    writeReadAsync(buffer: ByteBuffer, into: ArrayBuffer | ArrayBufferView): Promise<number>;
    /** Transfers already started still settle. */
    close(): void;
  }
}

declare module 'embedded:io/smbus' {
  import I2C, { I2COptions } from 'embedded:io/i2c';

  export default class SMBus extends I2C {
    constructor(options: I2COptions<SMBus>);
    readUint8(register: number): number;
    readUint16(register: number, bigEndian?: boolean): number;
    writeUint8(register: number, value: number): void;
    writeUint16(register: number, value: number, bigEndian?: boolean): void;
    readBuffer(register: number, byteLength: number): ArrayBuffer;
    readBuffer(register: number, into: ArrayBuffer | ArrayBufferView): number;
    writeBuffer(register: number, buffer: ByteBuffer): void;
    receiveByte(): number;
    sendByte(command: number): void;
    readUint8Async(register: number): Promise<number>;
    readUint16Async(register: number, bigEndian?: boolean): Promise<number>;
    writeUint8Async(register: number, value: number): Promise<void>;
    writeUint16Async(register: number, value: number, bigEndian?: boolean): Promise<void>;
    readBufferAsync(register: number, byteLength: number): Promise<ArrayBuffer>;
    readBufferAsync(register: number, into: ArrayBuffer | ArrayBufferView): Promise<number>;
    writeBufferAsync(register: number, buffer: ByteBuffer): Promise<void>;
    receiveByteAsync(): Promise<number>;
    sendByteAsync(command: number): Promise<void>;
  }
}

declare module 'embedded:io/serial' {
  /** How the byte stream is cut into frames (extension). */
  export type Framing =
    | 'raw'
    | 'lines'
    | 'crlf'
    | { delimiter: string | ByteBuffer }
    | { length: number };

  export interface SerialOptions extends IOOptions<Serial> {
    /** A board port name ("gps", "uart0") or a device path (prefer /dev/serial/by-id/...). */
    port: string;
    /** Defaults to the board file's baud for the port, else 9600. */
    baud?: number;
    dataBits?: 5 | 6 | 7 | 8;
    parity?: 'none' | 'odd' | 'even';
    stopBits?: 1 | 2;
    flowControl?: 'none' | 'hardware' | 'software';
    /** Default "raw": chunks as they arrive. */
    framing?: Framing;
    /** Longest frame in bytes (default 4096); longer ones are dropped and reported (EBADMSG). */
    maxFrame?: number;
    format?: 'buffer' | 'string';
    /** Called once per frame with its length; read() returns the oldest unread frame. */
    onReadable?: (this: Serial, length: number) => void;
    /** Called after an unplugged port was reopened (extension). */
    onReconnect?: (this: Serial) => void;
  }

  export default class Serial {
    constructor(options: SerialOptions);
    target?: unknown;
    format: 'buffer' | 'string';
    /** The device path in use (extension). */
    readonly path: string;
    /** The baud rate in use (extension). */
    readonly baud: number;
    read(): ArrayBuffer | string | undefined;
    read(byteLength: number): ArrayBuffer | undefined;
    read(buffer: ArrayBuffer | ArrayBufferView): number | undefined;
    /** Queues the data; throws EAGAIN when 256 writes are waiting. */
    write(data: string | number | ByteBuffer): void;
    /** Resolves once queued writes went out and the port is released (extension). */
    close(): Promise<void>;
  }
}
