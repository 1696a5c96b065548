// `ganglion:mqtt`: publish what scripts produce, subscribe to commands. The connection ([mqtt] in
// ganglion.toml, or the embedded broker on 127.0.0.1:1883) starts on first use: a publish, a
// subscribe, a listener, or reading `connected`/`prefix`/`stats()`.
//
//   await mqtt.publish(mqtt.topic('temp'), { c: 21.5 }, { qos: 1 })  // resolves once durably queued
//   await mqtt.publish(t, data, { qos: 1, properties: { messageExpiryInterval: 60 } })  // MQTT 5
//   await mqtt.subscribe('cmd/#', (msg) => console.log(msg.topic, msg.json(), msg.properties))
//   mqtt.on('connect' | 'disconnect' | 'error' | 'dropped', ...); mqtt.connected; mqtt.stats()
import EventEmitter from 'events';
import { Buffer } from 'buffer';

const internal = globalThis[Symbol.for('ganglion.internal')];
const native = internal.native;

let info = null;
const pending = new Map();
const subs = new Map();
let nextReq = 1;
let nextSub = 1;
// A macrotask's publishes go to the worker together, in a microtask right after it (one
// hand-over, one write to the queue, one answer); its first publish queues it.
const resolved = Promise.resolve();
const flushPublishes = () => native.mqttFlush();
const scheduleFlush = () => {
  resolved.then(flushPublishes);
};
const noOptions = Object.freeze({});

/** A received message. */
class Message {
  constructor(d) {
    this.topic = d.topic;
    this.payload = Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength);
    this.qos = d.qos;
    this.retain = d.retain;
    this.dup = d.dup;
    // MQTT 5 properties with MQTT.js names ({} with MQTT 3.1.1 or when there are none).
    this.properties = d.properties || {};
    const c = this.properties.correlationData;
    if (c !== undefined) this.properties.correlationData = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  }
  text() {
    return this.payload.toString('utf8');
  }
  json() {
    return JSON.parse(this.text());
  }
}

function encode(payload) {
  if (typeof payload === 'string' || payload instanceof Uint8Array || payload instanceof ArrayBuffer) {
    return payload;
  }
  if (ArrayBuffer.isView(payload)) {
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  if (payload === undefined || payload === null) return '';
  if (typeof payload === 'object' || typeof payload === 'number' || typeof payload === 'boolean') {
    return JSON.stringify(payload);
  }
  throw new TypeError(`MQTT payload must be a string, Buffer, Uint8Array or object, got ${typeof payload}`);
}

function options(o, what) {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object') throw new TypeError(`${what} options must be an object`);
  return o;
}

function qosOf(o) {
  const q = o.qos === undefined ? 0 : o.qos;
  if (typeof q !== 'number') throw new TypeError(`MQTT qos must be a number, got ${typeof q}`);
  return q;
}

function ensure() {
  if (info === null) {
    info = native.mqttOpen();
    internal.handles.set(info.handle, onEvent);
  }
  return info;
}

class Mqtt extends EventEmitter {
  constructor() {
    super();
    // Listening for connection events starts the connection.
    this.on('newListener', (event) => {
      if (event !== 'newListener') ensure();
    });
  }

  /** True while connected to the broker. */
  get connected() {
    ensure();
    return native.mqttConnected();
  }

  /** The agent's topic prefix, e.g. `ganglion/gw-01`. */
  get prefix() {
    return ensure().prefix;
  }

  /** `mqtt.topic('a', 'b')` → `<prefix>/a/b`. */
  topic(...parts) {
    return [ensure().prefix, ...parts].join('/');
  }

  /**
   * Queue a message. Bad topics or QoS throw now (TypeError/RangeError); the promise resolves
   * with the queue sequence number once the message is durably accepted (QoS 0: queued; QoS 1/2:
   * in the on-disk store) and rejects if the queue refuses it. `opts.properties` (MQTT 5, MQTT.js
   * names: payloadFormatIndicator, messageExpiryInterval, contentType, responseTopic,
   * correlationData, userProperties) are checked now too; with MQTT 3.1.1 they are ignored (a
   * warning is logged once).
   */
  publish(topic, payload, opts) {
    // The usual call (string topic and payload, an options object or none, the connection
    // open) runs natively instead (`mqttPublisher` below); this stays the definition.
    if (typeof topic !== 'string') throw new TypeError(`MQTT topic must be a string, got ${typeof topic}`);
    let o = opts;
    if (opts === undefined) o = noOptions;
    else if (typeof opts !== 'object' || opts === null) o = options(opts, 'publish');
    if (info === null) ensure();
    const q = o.qos;
    return native.mqttPublish(
      topic,
      typeof payload === 'string' ? payload : encode(payload),
      q === undefined ? 0 : typeof q === 'number' ? q : qosOf(o),
      !!o.retain,
      o.properties,
    );
  }

  /**
   * Subscribe `handler(message)` to `filter`; resolves with { filter, qos, unsubscribe() } once the
   * broker granted it, rejects if it refused it or if `unsubscribe()` ended it first
   * (code ERR_MQTT_UNSUBSCRIBED). A handler that throws is logged; delivery goes on.
   */
  subscribe(filter, handler, opts) {
    if (typeof filter !== 'string') throw new TypeError(`MQTT filter must be a string, got ${typeof filter}`);
    if (typeof handler !== 'function') throw new TypeError('MQTT subscribe needs a handler function');
    const o = options(opts, 'subscribe');
    ensure();
    const id = nextReq++;
    const sub = nextSub++;
    native.mqttSubscribe(id, sub, filter, qosOf(o));
    subs.set(sub, { filter, handler, req: id });
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject, sub, filter }));
  }

  /** End the subscriptions to `filter` (all with that filter), or only the one using `handler`. */
  unsubscribe(filter, handler) {
    let n = 0;
    for (const [sub, s] of subs) {
      if (s.filter === filter && (handler === undefined || s.handler === handler)) {
        subs.delete(sub);
        native.mqttUnsubscribe(sub);
        abandon(s);
        n++;
      }
    }
    return n;
  }

  /** Counters: queued, inflight, sent, acked, dropped, rejected, expired, refused, bytesOnDisk, ... */
  stats() {
    ensure();
    return native.mqttStats();
  }
}

// `publish` in native code (agent/src/js/bind_mqtt.rs) for the usual call: interpreting the
// method above costs QuickJS ~2,300 instructions a message. It hands the rest to it.
Mqtt.prototype.publish = native.mqttPublisher(Mqtt.prototype.publish, scheduleFlush);

const mqtt = new Mqtt();

/** Settles the subscribe() promise of a subscription ended before the broker granted it. */
function abandon(s) {
  const req = s.req === undefined ? undefined : pending.get(s.req);
  if (req === undefined) return;
  pending.delete(s.req);
  const err = new Error(`MQTT subscription to ${s.filter} ended by unsubscribe() before the broker granted it`);
  err.code = 'ERR_MQTT_UNSUBSCRIBED';
  req.reject(err);
}

function onEvent(type, p) {
  switch (type) {
    case 'settle': {
      const req = pending.get(p.id);
      if (!req) return;
      pending.delete(p.id);
      if (p.error !== undefined) {
        if (req.sub !== undefined && subs.delete(req.sub)) native.mqttUnsubscribe(req.sub);
        req.reject(p.error);
      } else {
        const sub = req.sub;
        const s = subs.get(sub);
        if (s) s.req = undefined;
        req.resolve({ filter: req.filter, qos: p.qos, unsubscribe: () => {
          if (subs.delete(sub)) native.mqttUnsubscribe(sub);
        } });
      }
      return;
    }
    case 'message': {
      const s = subs.get(p.sub);
      if (s) s.handler.call(mqtt, new Message(p));
      return;
    }
    case 'connect':
      mqtt.emit('connect', p);
      return;
    case 'disconnect':
      mqtt.emit('disconnect', p.reason);
      return;
    case 'dropped':
      mqtt.emit('dropped', p.count);
      return;
    case 'refused': {
      // MQTT 5: the broker refused a queued message (or it is too large for the broker); it was
      // removed from the queue and counted in stats().refused.
      const err = new Error(`MQTT broker refused the message to ${JSON.stringify(p.topic)}: ${p.reason}`);
      err.code = 'ERR_MQTT_REFUSED';
      err.topic = p.topic;
      err.reasonCode = p.code;
      if (mqtt.listenerCount('error') > 0) mqtt.emit('error', err);
      else console.warn(`mqtt: ${err.message}`);
      return;
    }
    case 'error': {
      const err = new Error(p.message);
      err.code = 'ERR_MQTT_CONNECTION';
      // Connection trouble is routine while a broker is away: an 'error' listener gets it,
      // otherwise it is only logged (unlike a plain EventEmitter, it never throws).
      if (mqtt.listenerCount('error') > 0) mqtt.emit('error', err);
      else console.warn(`mqtt: ${p.message}`);
      return;
    }
  }
}

export default mqtt;
export { Message };
export const publish = (topic, payload, opts) => mqtt.publish(topic, payload, opts);
export const subscribe = (filter, handler, opts) => mqtt.subscribe(filter, handler, opts);
export const unsubscribe = (filter, handler) => mqtt.unsubscribe(filter, handler);
export const stats = () => mqtt.stats();
export const topic = (...parts) => mqtt.topic(...parts);
