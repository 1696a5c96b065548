// Emulated-board agent test (qemu-virt board file): sensor readings from the bme280 driver
// (i2c-stub) and the nmea driver (UART), debounced and raw GPIO edges (gpio-sim), an output line.
// One JSON object per line on the console; check.py asserts them on the host.
import Digital from 'embedded:io/digital';
import sensors from 'ganglion:sensors';

const out = (o) => console.log(JSON.stringify(o));
const t0 = Date.now();

new Digital({ pin: 'LED', mode: Digital.Output }).write(1);

sensors.on('reading', (r) => out({ t: 'reading', ...r }));
sensors.on('error', (e) => out({ t: 'sensor-error', sensor: e.sensor, code: e.code, error: String(e) }));

// BUTTON (line 0) debounced by 250 ms; line 1 gets the same pulls with no debounce, so the test can
// prove the bursts really bounced.
const edges = [];
const raw = [];
new Digital({
  pin: 'BUTTON',
  mode: Digital.Input,
  debounce: 250,
  onReadable(ev) {
    const v = this.read();
    edges.push(v);
    out({ t: 'edge', v, rising: ev?.rising, ms: Date.now() - t0 });
  },
});
new Digital({
  pin: 1,
  mode: Digital.Input,
  onReadable(ev) {
    raw.push(ev?.rising ? 1 : 0);
  },
});

setTimeout(() => out({ t: 'done', edges, raw }), 9000);
