// Agent smoke test on the emulated board (qemu-virt board file): the kernel's gpio-sim, i2c-stub
// and a 16550 UART through the agent's embedded:io classes. Prints one JSON object per finding;
// check.py asserts them on the host.
import Digital from 'embedded:io/digital';
import SMBus from 'embedded:io/smbus';
import Serial from 'embedded:io/serial';

const out = (o) => console.log(JSON.stringify(o));
const t0 = Date.now();

const led = new Digital({ pin: 3, mode: Digital.Output });
led.write(1);

try {
  const bus = new SMBus({ address: 0x76, bus: 0 });
  out({ t: 'i2c', bus: bus.bus, id: bus.readUint8(0xd0), word: bus.readUint16(0x88) });
} catch (e) {
  out({ t: 'i2c-error', error: String(e), code: e.code });
}

const edges = [];
new Digital({
  pin: 0,
  mode: Digital.Input,
  onReadable() {
    const v = this.read();
    edges.push(v);
    out({ t: 'edge', v, ms: Date.now() - t0 });
  },
});

let line = '';
try {
  const uart = new Serial({
    port: 'uart0',
    baud: 115200,
    format: 'buffer',
    onReadable() {
      line += String.fromCharCode(...new Uint8Array(this.read()));
      if (line.includes('\n')) {
        out({ t: 'uart', line: line.trim() });
        line = '';
      }
    },
  });
  uart.write(new TextEncoder().encode('HELLO\r\n').buffer);
} catch (e) {
  out({ t: 'serial-error', error: String(e), code: e.code });
}

setTimeout(() => out({ t: 'done', edges }), 4000);
