// Node.js + MQTT.js adapter for the comparison workload (bench/workload/common.mjs), the
// counterpart of bench/workload/ganglion.mjs. Run by the driver (bench/compare) as
// `node bench/node/main.mjs '<options json>'`; options.url is the broker.
//
// Differences from the Ganglion adapter, all forced by the APIs (see docs/benchmarks.md):
// - MQTT.js sends every QoS 1 message at once and misbehaves beyond 65,535 in flight (message
//   ids run out), so this adapter keeps at most `inflight` unacknowledged (the same window as
//   Ganglion's [mqtt] max_inflight) and holds the rest in a FIFO in memory;
// - QoS 0 messages are "accepted" when MQTT.js calls back (written into the socket's buffer or,
//   above its high-water mark, drained); the run ends once the socket's buffer is empty;
// - MQTT.js leaves Nagle on; TCP_NODELAY is set here as Ganglion and rumqttc do;
// - the simulated GPIO edge is a timer-driven EventEmitter (no GPIO on this machine).
import { EventEmitter, once } from 'node:events';
import mqtt from 'mqtt';
import {
  emitReadings, makeEdgeHandler, makeHandler, messagesFor, readEnd, report, timeParts,
} from '../workload/common.mjs';

const opts = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// CLOCK_MONOTONIC in ns (libuv's uv_hrtime), the clock of Ganglion's edge timestamps.
const nowNs = () => Number(process.hrtime.bigint());

const client = mqtt.connect(opts.url, {
  clientId: opts.clientId,
  protocolVersion: 4,
  clean: true,
  keepalive: 30,
  reconnectPeriod: 1000,
});
client.stream.setNoDelay(true);
client.on('error', (e) => console.error(`mqtt: ${e.message}`));

/** QoS 1 with a bounded in-flight window; `idle()` resolves when the backlog is empty. */
function windowed(inflightMax) {
  const backlog = [];
  let head = 0;
  let inflight = 0;
  let acked = 0;
  let waiters = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const onAck = (err) => {
    if (err) throw err;
    inflight--;
    acked++;
    if (head < backlog.length) {
      const topic = backlog[head];
      const payload = backlog[head + 1];
      backlog[head] = backlog[head + 1] = undefined;
      head += 2;
      if (head === backlog.length) {
        backlog.length = 0;
        head = 0;
      }
      inflight++;
      client.publish(topic, payload, { qos: 1 }, onAck);
    }
    wake();
  };
  return {
    publish(topic, payload) {
      if (inflight < inflightMax) {
        inflight++;
        client.publish(topic, payload, { qos: 1 }, onAck);
      } else {
        backlog.push(topic, payload);
      }
    },
    acked: () => acked,
    backlog: () => backlog.length - head,
    /** Resolves once `cond()` holds, re-checked after every PUBACK. */
    until(cond) {
      return cond() ? Promise.resolve() : new Promise((resolve) => {
        const check = () => (cond() ? resolve() : waiters.push(check));
        waiters.push(check);
      });
    },
  };
}

async function load() {
  const messages = messagesFor(opts.n);
  let run;
  if (opts.qos === 0) {
    let published = 0;
    let written = 0;
    let waiter = null;
    const onWritten = () => {
      written++;
      if (waiter !== null && written === published) {
        const w = waiter;
        waiter = null;
        w();
      }
    };
    const handler = makeHandler((topic, payload) => {
      published++;
      client.publish(topic, payload, { qos: 0 }, onWritten);
    });
    const ready = () => (written === published ? undefined : new Promise((r) => { waiter = r; }));
    run = async () => {
      await emitReadings(opts.n, opts.batch, handler, ready);
      const accepted = performance.now();
      // Flushed: every byte handed to the kernel (net.Socket's buffer is empty).
      while (client.stream.writableLength > 0) await sleep(1);
      return accepted;
    };
  } else {
    const w = windowed(opts.inflight);
    const handler = makeHandler(w.publish);
    run = async () => {
      await emitReadings(opts.n, opts.batch, handler, () => w.until(() => w.backlog() === 0));
      const accepted = performance.now();
      await w.until(() => w.acked() >= messages);
      return accepted;
    };
  }
  await client.subscribeAsync(`bench/ctl/${opts.run}`, { qos: 0 });
  client.on('message', async () => {
    const t0 = performance.now();
    const accepted = await run();
    const t1 = performance.now();
    report('done', { ms: t1 - t0, acceptedMs: accepted - t0, events: opts.n, messages });
    if (opts.qos === 0) {
      await client.publishAsync(readEnd.topic(opts.run), readEnd.payload, { qos: 1 });
      report('read', { ms: performance.now() - t0 });
    }
  });
  report('ready');
}

async function edge() {
  const handler = makeEdgeHandler((topic, payload) => {
    client.publish(topic, payload, { qos: opts.qos });
  }, nowNs);
  const edges = new EventEmitter();
  let seen = 0;
  edges.on('edge', (ev) => {
    handler(ev);
    if (++seen === opts.edges) {
      clearInterval(timer);
      report('done', { edges: seen });
    }
  });
  // The simulated pulse input: a rising edge every periodMs, stamped when the timer fires.
  const timer = setInterval(() => edges.emit('edge', { rising: true, timestamp: nowNs() }), opts.periodMs);
  report('ready');
}

if (opts.mode === 'parts') {
  // MQTT.js connects between the timed slices (as Ganglion's worker does beside them).
  report('done', await timeParts(opts.n, opts.batch));
  client.end(true);
} else if (opts.mode === 'load') {
  await once(client, 'connect');
  await load();
} else if (opts.mode === 'start') {
  client.publish('bench/start', '{"start":true}', { qos: 1 });
} else if (opts.mode === 'edge') {
  await once(client, 'connect');
  await edge();
} else {
  throw new Error(`unknown mode ${opts.mode}`);
}
