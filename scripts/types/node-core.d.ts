// Ganglion: types for the Node-compatible built-ins (`events`, `timers`, `timers/promises`,
// `assert`, `buffer`, also as `node:*`) and the globals every script has. Kept in step with
// agent/js/*.js and agent/src/js/bootstrap.js. Add this folder to your tsconfig "typeRoots" or
// reference it with /// <reference path="..."/>.

declare module 'events' {
  type Listener = (...args: any[]) => void;
  class EventEmitter {
    static defaultMaxListeners: number;
    static readonly errorMonitor: unique symbol;
    static once(emitter: EventEmitter, event: string | symbol, options?: { signal?: AbortSignal }): Promise<any[]>;
    static EventEmitter: typeof EventEmitter;
    constructor();
    on(event: string | symbol, listener: Listener): this;
    addListener(event: string | symbol, listener: Listener): this;
    once(event: string | symbol, listener: Listener): this;
    prependListener(event: string | symbol, listener: Listener): this;
    prependOnceListener(event: string | symbol, listener: Listener): this;
    off(event: string | symbol, listener: Listener): this;
    removeListener(event: string | symbol, listener: Listener): this;
    removeAllListeners(event?: string | symbol): this;
    emit(event: string | symbol, ...args: any[]): boolean;
    listeners(event: string | symbol): Listener[];
    rawListeners(event: string | symbol): Listener[];
    listenerCount(event: string | symbol, listener?: Listener): number;
    eventNames(): (string | symbol)[];
    setMaxListeners(n: number): this;
    getMaxListeners(): number;
  }
  export function once(emitter: EventEmitter, event: string | symbol, options?: { signal?: AbortSignal }): Promise<any[]>;
  export function on(emitter: EventEmitter, event: string | symbol, options?: { signal?: AbortSignal }): AsyncIterableIterator<any[]>;
  export const errorMonitor: unique symbol;
  export { EventEmitter };
  export default EventEmitter;
}
declare module 'node:events' {
  export * from 'events';
  export { default } from 'events';
}

declare module 'timers' {
  export const setTimeout: typeof globalThis.setTimeout;
  export const setInterval: typeof globalThis.setInterval;
  export const setImmediate: typeof globalThis.setImmediate;
  export const clearTimeout: typeof globalThis.clearTimeout;
  export const clearInterval: typeof globalThis.clearInterval;
  export const clearImmediate: typeof globalThis.clearImmediate;
}
declare module 'node:timers' {
  export * from 'timers';
}
declare module 'timers/promises' {
  export function setTimeout<T = void>(delay?: number, value?: T, options?: { signal?: AbortSignal; ref?: boolean }): Promise<T>;
  export function setImmediate<T = void>(value?: T, options?: { signal?: AbortSignal; ref?: boolean }): Promise<T>;
  export function setInterval<T = void>(delay?: number, value?: T, options?: { signal?: AbortSignal; ref?: boolean }): AsyncIterable<T>;
  export const scheduler: { wait(delay: number, options?: { signal?: AbortSignal }): Promise<void>; yield(): Promise<void> };
}
declare module 'node:timers/promises' {
  export * from 'timers/promises';
}

declare module 'assert' {
  class AssertionError extends Error {
    actual: unknown;
    expected: unknown;
    operator: string;
    code: 'ERR_ASSERTION';
  }
  type ErrorMatcher = RegExp | Function | object | ((err: unknown) => boolean);
  interface Assert {
    (value: unknown, message?: string | Error): asserts value;
    ok(value: unknown, message?: string | Error): asserts value;
    equal(actual: unknown, expected: unknown, message?: string | Error): void;
    notEqual(actual: unknown, expected: unknown, message?: string | Error): void;
    strictEqual<T>(actual: unknown, expected: T, message?: string | Error): asserts actual is T;
    notStrictEqual(actual: unknown, expected: unknown, message?: string | Error): void;
    deepEqual(actual: unknown, expected: unknown, message?: string | Error): void;
    notDeepEqual(actual: unknown, expected: unknown, message?: string | Error): void;
    deepStrictEqual<T>(actual: unknown, expected: T, message?: string | Error): asserts actual is T;
    notDeepStrictEqual(actual: unknown, expected: unknown, message?: string | Error): void;
    throws(fn: () => unknown, expected?: ErrorMatcher, message?: string | Error): void;
    doesNotThrow(fn: () => unknown, message?: string | Error): void;
    rejects(block: Promise<unknown> | (() => Promise<unknown>), expected?: ErrorMatcher, message?: string | Error): Promise<void>;
    doesNotReject(block: Promise<unknown> | (() => Promise<unknown>), message?: string | Error): Promise<void>;
    match(value: string, regexp: RegExp, message?: string | Error): void;
    doesNotMatch(value: string, regexp: RegExp, message?: string | Error): void;
    fail(message?: string | Error): never;
    ifError(value: unknown): void;
    AssertionError: typeof AssertionError;
    strict: Assert;
  }
  const assert: Assert;
  export default assert;
  export const ok: Assert['ok'], equal: Assert['equal'], notEqual: Assert['notEqual'],
    strictEqual: Assert['strictEqual'], notStrictEqual: Assert['notStrictEqual'],
    deepEqual: Assert['deepEqual'], notDeepEqual: Assert['notDeepEqual'],
    deepStrictEqual: Assert['deepStrictEqual'], notDeepStrictEqual: Assert['notDeepStrictEqual'],
    throws: Assert['throws'], doesNotThrow: Assert['doesNotThrow'], rejects: Assert['rejects'],
    doesNotReject: Assert['doesNotReject'], match: Assert['match'], fail: Assert['fail'];
  export { AssertionError };
}
declare module 'node:assert' {
  export * from 'assert';
  export { default } from 'assert';
}

type BufferEncoding = 'utf8' | 'utf-8' | 'hex' | 'base64' | 'base64url' | 'ascii' | 'latin1' | 'binary' | 'utf16le' | 'ucs2';
interface Buffer extends Uint8Array<ArrayBuffer> {
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
  toJSON(): { type: 'Buffer'; data: number[] };
  equals(other: Uint8Array): boolean;
  compare(other: Uint8Array): -1 | 0 | 1;
  write(string: string, offset?: number, length?: number, encoding?: BufferEncoding): number;
  slice(start?: number, end?: number): Buffer;
  subarray(start?: number, end?: number): Buffer;
  copy(target: Uint8Array, targetStart?: number, sourceStart?: number, sourceEnd?: number): number;
  readUInt8(offset?: number): number; readInt8(offset?: number): number;
  readUInt16LE(offset?: number): number; readUInt16BE(offset?: number): number;
  readInt16LE(offset?: number): number; readInt16BE(offset?: number): number;
  readUInt32LE(offset?: number): number; readUInt32BE(offset?: number): number;
  readInt32LE(offset?: number): number; readInt32BE(offset?: number): number;
  readFloatLE(offset?: number): number; readFloatBE(offset?: number): number;
  readDoubleLE(offset?: number): number; readDoubleBE(offset?: number): number;
  readBigInt64LE(offset?: number): bigint; readBigUInt64LE(offset?: number): bigint;
  writeUInt8(value: number, offset?: number): number; writeInt8(value: number, offset?: number): number;
  writeUInt16LE(value: number, offset?: number): number; writeUInt16BE(value: number, offset?: number): number;
  writeInt16LE(value: number, offset?: number): number; writeInt16BE(value: number, offset?: number): number;
  writeUInt32LE(value: number, offset?: number): number; writeUInt32BE(value: number, offset?: number): number;
  writeInt32LE(value: number, offset?: number): number; writeInt32BE(value: number, offset?: number): number;
  writeFloatLE(value: number, offset?: number): number; writeFloatBE(value: number, offset?: number): number;
  writeDoubleLE(value: number, offset?: number): number; writeDoubleBE(value: number, offset?: number): number;
}
interface BufferConstructor {
  new (size: number): Buffer;
  readonly prototype: Buffer;
  from(data: string, encoding?: BufferEncoding): Buffer;
  from(data: ArrayLike<number> | ArrayBuffer | Uint8Array, byteOffset?: number, length?: number): Buffer;
  alloc(size: number, fill?: number | string | Uint8Array, encoding?: BufferEncoding): Buffer;
  allocUnsafe(size: number): Buffer;
  concat(list: readonly Uint8Array[], totalLength?: number): Buffer;
  byteLength(value: string | ArrayBuffer | ArrayBufferView, encoding?: BufferEncoding): number;
  isBuffer(value: unknown): value is Buffer;
  compare(a: Uint8Array, b: Uint8Array): -1 | 0 | 1;
}
declare var Buffer: BufferConstructor;

declare module 'buffer' {
  const BufferValue: BufferConstructor;
  type BufferType = Buffer;
  export { BufferValue as Buffer, BufferType };
}
declare module 'node:buffer' {
  export * from 'buffer';
}

interface Timeout {
  ref(): this;
  unref(): this;
  hasRef(): boolean;
  refresh(): this;
  close(): this;
  [Symbol.toPrimitive](): number;
}
interface Immediate {
  ref(): this;
  unref(): this;
  hasRef(): boolean;
}

/** `process`: Node's, limited to what a gateway script needs. `env` holds only what `[agent] env` exposes. */
/** The EventEmitter methods, for global objects such as `process`. */
interface GanglionEventEmitter {
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
  removeAllListeners(event?: string | symbol): this;
  emit(event: string | symbol, ...args: any[]): boolean;
  listenerCount(event: string | symbol): number;
}

interface GanglionProcess extends GanglionEventEmitter {
  env: Record<string, string | undefined>;
  argv: string[];
  argv0: string;
  execPath: string;
  platform: 'linux';
  arch: 'arm64' | 'arm' | 'x64' | string;
  pid: number;
  version: string;
  versions: Record<string, string>;
  exitCode: number | undefined;
  nextTick(callback: (...args: any[]) => void, ...args: any[]): void;
  exit(code?: number): never;
  cwd(): string;
  uptime(): number;
  hrtime: { (previous?: [number, number]): [number, number]; bigint(): bigint };
  memoryUsage: { (): { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number }; rss(): number };
  on(event: 'exit', listener: (code: number) => void): this;
  on(event: 'uncaughtException', listener: (error: unknown, origin: string) => void): this;
  on(event: 'unhandledRejection', listener: (reason: unknown, promise: Promise<unknown>) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

declare var process: GanglionProcess;
declare var global: typeof globalThis;
declare function require(id: string): any;
declare namespace require {
  function resolve(id: string): string;
}
declare function setTimeout<A extends any[]>(callback: (...args: A) => void, ms?: number, ...args: A): Timeout;
declare function setInterval<A extends any[]>(callback: (...args: A) => void, ms?: number, ...args: A): Timeout;
declare function setImmediate<A extends any[]>(callback: (...args: A) => void, ...args: A): Immediate;
declare function clearTimeout(timeout: Timeout | number | undefined | null): void;
declare function clearInterval(timeout: Timeout | number | undefined | null): void;
declare function clearImmediate(immediate: Immediate | undefined | null): void;
declare function queueMicrotask(callback: () => void): void;
declare function structuredClone<T>(value: T): T;
declare function reportError(error: unknown): void;
declare function atob(data: string): string;
declare function btoa(data: string): string;
/** console.* goes to the agent's log (tracing), tagged with the script's file name. */
declare var console: {
  log(...args: any[]): void; info(...args: any[]): void; debug(...args: any[]): void;
  warn(...args: any[]): void; error(...args: any[]): void; trace(...args: any[]): void;
  dir(value: unknown, options?: { depth?: number }): void; assert(condition: unknown, ...args: any[]): void;
  count(label?: string): void; countReset(label?: string): void;
  time(label?: string): void; timeEnd(label?: string): void; timeLog(label?: string, ...args: any[]): void;
};
declare var performance: { now(): number; timeOrigin: number };

// Web platform globals (agent/js/web.js installs them where QuickJS lacks them).
interface Event {
  readonly type: string;
  readonly defaultPrevented: boolean;
  readonly target: EventTarget | null;
  preventDefault(): void;
  stopImmediatePropagation(): void;
}
declare var Event: { prototype: Event; new (type: string, init?: { cancelable?: boolean }): Event };
interface EventTarget {
  addEventListener(type: string, listener: ((event: Event) => void) | null, options?: { once?: boolean; signal?: AbortSignal } | boolean): void;
  removeEventListener(type: string, listener: ((event: Event) => void) | null): void;
  dispatchEvent(event: Event): boolean;
}
declare var EventTarget: { prototype: EventTarget; new (): EventTarget };
interface AbortSignal extends EventTarget {
  readonly aborted: boolean;
  readonly reason: any;
  onabort: ((event: Event) => void) | null;
  throwIfAborted(): void;
}
declare var AbortSignal: {
  prototype: AbortSignal;
  abort(reason?: any): AbortSignal;
  timeout(ms: number): AbortSignal;
  any(signals: AbortSignal[]): AbortSignal;
};
interface AbortController {
  readonly signal: AbortSignal;
  abort(reason?: any): void;
}
declare var AbortController: { prototype: AbortController; new (): AbortController };
interface TextEncoder {
  readonly encoding: 'utf-8';
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
}
declare var TextEncoder: { prototype: TextEncoder; new (): TextEncoder };
interface TextDecoder {
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: ArrayBuffer | ArrayBufferView, options?: { stream?: boolean }): string;
}
declare var TextDecoder: {
  prototype: TextDecoder;
  new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }): TextDecoder;
};
interface DOMException extends Error {
  readonly code: number;
}
declare var DOMException: { prototype: DOMException; new (message?: string, name?: string): DOMException };
