// The workload of the comparison benchmark (bench/compare), shared word for word by Ganglion
// (bench/workload/ganglion.mjs) and Node.js + MQTT.js (bench/node/main.mjs). Only the two thin
// adapters differ: how a message is published and how the runtime says "accepted". The plain
// Rust ceiling (bench/compare/workload.rs) produces the same bytes; the driver checks it.

import EventEmitter from 'events';

/** Simulated BME280 sensors; reading `seq` comes from sensor `seq % SENSORS`. */
export const SENSORS = 4;
/** Seed of the reading generator: every run, every runtime, the same readings. */
export const SEED = 0x5eed;
/** Timestamp of reading 0 (ms since the epoch); readings are 10 ms apart. */
export const T0 = 1763884800000;

/** mulberry32: a small 32-bit PRNG that JS (Math.imul, >>>) and Rust (wrapping ops) agree on. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A generator of BME280-like readings: °C to 0.01, %RH to 0.01, hPa to 0.01. */
export function readings(seed = SEED) {
  const next = mulberry32(seed);
  let seq = 0;
  return () => {
    const i = seq++;
    return {
      sensor: `bme280-${i % SENSORS}`,
      seq: i,
      time: T0 + i * 10,
      temperature: ((next() % 6000) - 1000) / 100,
      humidity: (next() % 10000) / 100,
      pressure: (90000 + (next() % 20000)) / 100,
    };
  };
}

/**
 * The user's handler: °C → °F, drop every tenth reading, publish JSON to bench/<sensor>.
 * `publish(topic, payloadString)` is the runtime's adapter.
 */
export function makeHandler(publish) {
  let n = 0;
  return function onReading(r) {
    n++;
    if (n % 10 === 0) return; // every tenth reading is dropped
    const fahrenheit = Math.round((r.temperature * 9 / 5 + 32) * 100) / 100;
    publish(`bench/${r.sensor}`, JSON.stringify({
      sensor: r.sensor,
      seq: r.seq,
      time: r.time,
      temperature_f: fahrenheit,
      humidity: r.humidity,
      pressure: r.pressure,
    }));
  };
}

/** Messages the handler publishes for `n` readings. */
export const messagesFor = (n) => n - Math.floor(n / 10);

/**
 * The end of a QoS 0 run as the broker sees it. "Written to the socket" leaves messages in the
 * kernel's buffers (megabytes on loopback) that the broker has not read yet; a broker handles a
 * connection's packets in order, so the PUBACK of this QoS 1 message, published after the run's
 * last message, says it has read every one. Reported as a second event, 'read'.
 */
export const readEnd = {
  topic: (run) => `bench/end/${run}`,
  payload: 'end',
};

/**
 * Emit `n` readings as 'reading' events of an EventEmitter the handler listens to, `batch` per
 * macrotask; between batches wait for `ready()` (the runtime accepted what was published).
 */
export async function emitReadings(n, batch, handler, ready) {
  const source = new EventEmitter();
  source.on('reading', handler);
  const next = readings();
  for (let i = 0; i < n;) {
    const end = Math.min(n, i + batch);
    for (; i < end; i++) source.emit('reading', next());
    await ready();
  }
}

/**
 * Where a reading's JavaScript time goes, without MQTT: µs per reading of `n` readings from the
 * generator alone (the simulated sensor of this benchmark, not the runtime's work), and of `n`
 * readings through generator → emit → handler with a publish adapter that only counts bytes.
 * Each part runs in slices of `batch` readings, one macrotask each as in a load run (so no
 * callback outlasts a runtime's time limit); only the slices are timed (`performance.now()`).
 * The first part warms the second's generator as a load run's early batches warm its later ones.
 */
export async function timeParts(n, batch) {
  /** µs per reading of `slice(k)` run over `n` readings, `batch` at a time. */
  const timed = async (slice) => {
    let ms = 0;
    for (let i = 0; i < n;) {
      const k = Math.min(batch, n - i);
      const t = performance.now();
      slice(k);
      ms += performance.now() - t;
      i += k;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return (ms * 1000) / n;
  };
  let sink = 0;
  let next = readings();
  const generatorUs = await timed((k) => {
    for (let j = 0; j < k; j++) sink += next().seq;
  });
  const source = new EventEmitter();
  source.on('reading', makeHandler((topic, payload) => { sink += payload.length; }));
  next = readings();
  const handlerUs = await timed((k) => {
    for (let j = 0; j < k; j++) source.emit('reading', next());
  });
  // `sink` is reported so that no engine can drop the loops as dead code.
  return { generatorUs, handlerUs, sink };
}

/**
 * The GPIO edge handler of the latency figure: publish `{seq, edge, js}` to bench/edge, where
 * `edge` is the edge's CLOCK_MONOTONIC timestamp (ns) and `js` the handler's start (same clock).
 */
export function makeEdgeHandler(publish, nowNs) {
  let seq = 0;
  return function onEdge(ev) {
    const js = nowNs();
    publish('bench/edge', JSON.stringify({ seq: seq++, edge: ev.timestamp, js }));
  };
}

/** One line the driver reads: `BENCH {json}` (stdout for Node, the agent's log for Ganglion). */
export function report(event, fields = {}) {
  console.log(`BENCH ${JSON.stringify({ event, ...fields })}`);
}
