// `ganglion:sensors`: the sensors declared in ganglion.toml ([[sensors]]), read on schedule off
// the JS thread and delivered here as events.
//
//   sensors.on('reading', (r) => ...)     every reading: { sensor, driver, time, ...values }
//   sensors.on('error' | 'online' | 'offline', ...)   the same for health, all sensors
//   const s = sensors.get('climate')      one sensor (an EventEmitter): 'reading', 'error',
//                                         'online', 'offline'; s.stats(); await s.read()
//   await sensors.read('climate')         an on-demand reading (rejects with a coded Error)
//   sensors.list()                        [{ name, driver, location, interval, fields, ... }]
//
// 'error' events are only emitted to emitters that listen for them: an unobserved sensor failure
// is logged by the agent, it does not throw. Errors carry `code`, `sensor` and `driver`.
import EventEmitter from 'events';

const internal = globalThis[Symbol.for('ganglion.internal')];
const native = internal.native;

const { id: handle, sensors: infos } = native.sensorsOpen();
const byName = new Map();
const pending = new Map();
let nextRequest = 1;

// Always a promise: a bad name, like a failed read, is a rejection.
function read(name) {
  return new Promise((resolve, reject) => {
    const id = nextRequest++;
    pending.set(id, { resolve, reject });
    try {
      native.sensorsRead(id, native.sensorsIndex(name));
    } catch (e) {
      pending.delete(id);
      reject(e);
    }
  });
}

/** One configured sensor. */
class Sensor extends EventEmitter {
  constructor(info, index) {
    super();
    Object.defineProperties(this, {
      _index: { value: index },
      name: { value: info.name, enumerable: true },
      driver: { value: info.driver, enumerable: true },
      location: { value: info.location, enumerable: true },
      interval: { value: info.interval, enumerable: true },
      timeout: { value: info.timeout, enumerable: true },
      offlineAfter: { value: info.offlineAfter, enumerable: true },
      fields: { value: info.fields, enumerable: true },
    });
  }
  /** Counters and health: { state, reads, errors, failures, dropped, delivered, pending, lastReading, lastError }. */
  stats() { return native.sensorsStats(this._index); }
  /** 'starting', 'online' or 'offline'. */
  get state() { return native.sensorsStats(this._index).state; }
  /** Read now (after any read in progress); resolves with a reading. */
  read() { return read(this.name); }
}

class Sensors extends EventEmitter {
  /** The sensor called `name` (an Error with code ENOENT if there is none). */
  get(name) {
    return byName.get(infos[native.sensorsIndex(name)].name);
  }
  /** Read sensor `name` now; resolves with a reading, rejects with an Error with a code. */
  read(name) { return read(name); }
  /** Every configured sensor's description. */
  list() {
    return infos.map((i) => ({ ...i, fields: i.fields.map((f) => ({ ...f })), state: byName.get(i.name).state }));
  }
}

const sensors = new Sensors();
infos.forEach((info, index) => byName.set(info.name, new Sensor(info, index)));

function emitError(emitter, err) {
  if (emitter.listenerCount('error') > 0) emitter.emit('error', err);
}

internal.handles.set(handle, (type, payload) => {
  if (type === 'result') {
    const p = pending.get(payload.id);
    if (p === undefined) return;
    pending.delete(payload.id);
    if (payload.error !== undefined) p.reject(payload.error);
    else p.resolve(payload.reading);
    return;
  }
  const s = byName.get(payload.sensor);
  if (s === undefined) return;
  if (type === 'error') {
    emitError(s, payload);
    emitError(sensors, payload);
    return;
  }
  s.emit(type, payload);
  sensors.emit(type, payload);
});

export default sensors;
export const get = (name) => sensors.get(name);
export const list = () => sensors.list();
export { read };
export const on = (event, fn) => sensors.on(event, fn);
export const once = (event, fn) => sensors.once(event, fn);
export const off = (event, fn) => sensors.off(event, fn);
