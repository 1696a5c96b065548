// Ganglion's adapter for the comparison workload (bench/workload/common.mjs). Run by the driver
// (bench/compare) as `ganglion run --config <generated ganglion.toml> -- '<options json>'`; the
// broker, client id, in-flight window and durable queue come from that config's [mqtt] table.
//
// Modes (options.mode):
//   load   after 'go' on bench/ctl/<run>: n readings → handler → mqtt.publish at options.qos,
//          timed until the last PUBLISH was written (QoS 0) or the last PUBACK arrived (QoS 1);
//          at QoS 0 then also until the broker has read them all (readEnd in common.mjs)
//   start  publish one QoS 1 message at once (the driver times process start → its PUBACK)
//   edge   a rising edge on the simulated board's pulse input → handler → publish to bench/edge
//   parts  no MQTT: µs per reading of the generator alone and of generator → handler (timeParts)
import mqtt from 'ganglion:mqtt';
import Digital from 'embedded:io/digital';
import {
  emitReadings, makeEdgeHandler, makeHandler, messagesFor, readEnd, report, timeParts,
} from './common.mjs';

const opts = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// CLOCK_MONOTONIC in ns: the clock of Digital edge timestamps (and of Node's process.hrtime).
const internal = globalThis[Symbol.for('ganglion.internal')];
// Messages the agent let go of without sending them (mqtt.stats() counters).
const lost = (s) => s.dropped + s.rejected + s.refused + s.expired + s.corrupt;
const nowNs = () => internal.native.ioMonotonicNs();

async function load() {
  const qos = opts.qos;
  let last;
  // The adapter: publish() resolves once the message is durably in the queue; a batch is
  // accepted when its last publish resolved (they settle in order).
  const handler = makeHandler((topic, payload) => {
    last = mqtt.publish(topic, payload, { qos });
  });
  await mqtt.subscribe(`bench/ctl/${opts.run}`, async () => {
    const field = qos === 0 ? 'sent' : 'acked';
    const start = mqtt.stats();
    const [before, lostBefore] = [start[field], lost(start)];
    const messages = messagesFor(opts.n);
    const t0 = performance.now();
    await emitReadings(opts.n, opts.batch, handler, () => last);
    const accepted = performance.now();
    for (let stats = mqtt.stats(); stats[field] - before < messages; stats = mqtt.stats()) {
      if (lost(stats) > lostBefore) {
        // Never counted as sent or acknowledged: say so instead of waiting forever.
        report('error', {
          message: `${lost(stats) - lostBefore} messages were dropped (queue cap), refused or expired`,
          stats,
        });
        return;
      }
      await sleep(1);
    }
    const t1 = performance.now();
    report('done', { ms: t1 - t0, acceptedMs: accepted - t0, events: opts.n, messages, stats: mqtt.stats() });
    if (qos === 0) {
      // The end marker's PUBACK: `acked` counts PUBACKs, and none other is due now.
      const acked = mqtt.stats().acked;
      await mqtt.publish(readEnd.topic(opts.run), readEnd.payload, { qos: 1 });
      while (mqtt.stats().acked === acked) await sleep(1);
      report('read', { ms: performance.now() - t0 });
    }
  });
  report('ready');
}

function edge() {
  const handler = makeEdgeHandler((topic, payload) => {
    mqtt.publish(topic, payload, { qos: opts.qos });
  }, nowNs);
  let seen = 0;
  const pin = new Digital({
    pin: opts.pin,
    mode: Digital.Input,
    edge: Digital.Rising,
    onReadable(ev) {
      handler(ev);
      if (++seen === opts.edges) {
        pin.close();
        report('done', { edges: seen });
      }
    },
  });
  report('ready');
}

if (opts.mode === 'load') await load();
else if (opts.mode === 'start') await mqtt.publish('bench/start', '{"start":true}', { qos: 1 });
else if (opts.mode === 'edge') edge();
else if (opts.mode === 'parts') {
  report('done', await timeParts(opts.n, opts.batch));
} else throw new Error(`unknown mode ${opts.mode}`);
