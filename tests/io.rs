//! ECMA-419 IO from scripts (`embedded:io/digital`, `i2c`, `smbus`, `serial`) on the simulated
//! board: the real binary where a script can check everything itself, the agent library in this
//! process where the test has to drive the simulator (the button line) or read what it recorded
//! (output writes). Serial tests use real pseudo-terminals.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ganglion::config::Config;
use ganglion::js::{self, Exit};
use ganglion::services::Services;
use ganglion_devices::board::PinRef;
use ganglion_devices::serial::sim::SimPty;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{agent_folder, finish, run_command, Live, Run, Scripts};

/// Guard so a broken test fails instead of hanging; never a timing assertion.
const LIMIT: Duration = Duration::from_secs(30);

/// The agent folder for `script` on the simulated board (or `board`).
fn agent(script: &str, board: Option<&str>) -> Scripts {
    agent_folder("", script, board)
}

/// Run a script on the simulated board (or `board`) to its end.
fn run(script: &str, board: Option<&str>) -> Run {
    let s = agent(script, board);
    let child = run_command(&s)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ganglion");
    finish(child, LIMIT)
}

/// Script lines starting with `prefix`, the prefix removed.
fn tagged(run: &Run, prefix: &str) -> Vec<String> {
    run.script_lines()
        .iter()
        .filter_map(|l| l.strip_prefix(prefix).map(str::to_owned))
        .collect()
}

/// Run `script` with the agent library on this thread while `drive` runs beside it with the
/// board's services (the simulator); returns how the script ended.
fn in_process(script: &str, drive: impl FnOnce(Arc<Services>) + Send + 'static) -> Exit {
    let s = Scripts::new(&[("main.js", script)]);
    let mut cfg = Config::for_script(&s.path("main.js"));
    cfg.agent.state_dir = s.path("state");
    cfg.agent.board = "sim".into();
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let services = Services::new(cfg.clone(), io.handle().clone());
    let (sender, mut rx) = js::channel(4096);
    let opts = ganglion::supervisor::script_options(&cfg, Vec::new(), services.clone(), sender);
    let driver = std::thread::spawn(move || drive(services));
    let exit = js::run_script(&opts, &mut rx, io.handle());
    driver.join().expect("driver thread");
    exit
}

/// Wait until the script holds the line (the simulator shows its consumer).
fn wait_requested(services: &Services, pin: u32) -> ganglion_devices::gpio::LineAddress {
    let devices = services.devices().expect("sim board");
    let addr = devices.resolve_pin(&PinRef::Number(pin)).expect("pin");
    let sim = devices.sim_gpio().expect("simulated");
    let start = Instant::now();
    while sim.consumer(&addr).expect("line").is_none() {
        assert!(
            start.elapsed() < LIMIT,
            "the script never requested pin {pin}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    addr
}

// ------------------------------------------------------------------------------------- GPIO --

#[test]
fn digital_input_follows_the_board_schedule() {
    // sim.toml: GPIO27 pulses high for 5 ms every 250 ms; GPIO17 (door) starts closed (high);
    // pin 4 is not driven, so only its pull resistor decides.
    let run = run(
        r#"
import Digital from 'embedded:io/digital';
const door = new Digital({ pin: 'GPIO17', mode: Digital.Input });
console.log(`DOOR ${door.read()} ${door.format}`);
const up = new Digital({ pin: 4, mode: Digital.InputPullUp });
console.log(`PULLUP ${up.read()}`);
up.close();
const down = new Digital({ pin: 4, mode: Digital.InputPullDown });
console.log(`PULLDOWN ${down.read()}`);
down.close();
door.close();
const edges = [];
const flow = new Digital({
  pin: 27, mode: Digital.Input, edge: Digital.Rising, target: 'flow-meter',
  onReadable(edge) {
    edges.push({ self: this === flow, target: this.target, ...edge });
    if (edges.length === 3) {
      this.close();
      console.log('EDGES ' + JSON.stringify(edges));
    }
  },
});
"#,
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(tagged(&run, "DOOR "), vec!["1 number"]);
    assert_eq!(tagged(&run, "PULLUP "), vec!["1"]);
    assert_eq!(tagged(&run, "PULLDOWN "), vec!["0"]);
    let edges = tagged(&run, "EDGES ");
    assert_eq!(edges.len(), 1, "{}", run.stderr);
    let edges: serde_json::Value = serde_json::from_str(&edges[0]).expect("json");
    let edges = edges.as_array().expect("array");
    let mut last_ts = 0.0;
    for (i, e) in edges.iter().enumerate() {
        assert_eq!(e["self"], true, "this is the instance: {e}");
        assert_eq!(e["target"], "flow-meter", "{e}");
        assert_eq!(e["rising"], true, "only rising edges were asked for: {e}");
        assert_eq!(e["seq"], serde_json::json!(i + 1), "no edge lost: {e}");
        let ts = e["timestamp"].as_f64().expect("timestamp");
        assert!(ts > last_ts, "timestamps increase: {edges:?}");
        last_ts = ts;
    }
}

/// Two switches with the same bouncing schedule: 3 bounces 1 ms apart on every change.
const BOUNCY_BOARD: &str = r#"
name = "sim-bouncy"
description = "simulated board with two bouncing switches"
pins = [
  { number = 5, names = ["GPIO5"], chip = "main", line = 5 },
  { number = 17, names = ["GPIO17"], chip = "main", line = 17 },
]
[[gpio.chips]]
id = "main"
label = "ganglion-sim"
lines = 28
[sim]
[[sim.inputs]]
pin = 17
initial = false
toggle_ms = 120
bounces = 3
bounce_gap_ms = 1
[[sim.inputs]]
pin = 5
initial = false
toggle_ms = 120
bounces = 3
bounce_gap_ms = 1
"#;

#[test]
fn debounce_through_js_turns_each_bouncing_change_into_one_edge() {
    let run = run(
        r#"
import Digital from 'embedded:io/digital';
const clean = [];
const raw = [];
const both = Digital.Rising | Digital.Falling;
const a = new Digital({ pin: 17, mode: Digital.Input, edge: both, debounce: 20,
  onReadable(e) { clean.push(e); } });
const b = new Digital({ pin: 5, mode: Digital.Input, edge: both,
  onReadable(e) { raw.push(e); } });
setTimeout(() => {
  a.close();
  b.close();
  console.log('CLEAN ' + clean.map((e) => (e.rising ? 'R' : 'F')).join(''));
  console.log('RAW ' + raw.length + ' ' + raw.every((e, i) => e.seq === i + 1));
}, 800);
"#,
        Some(BOUNCY_BOARD),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let clean = tagged(&run, "CLEAN ");
    let raw = tagged(&run, "RAW ");
    assert_eq!((clean.len(), raw.len()), (1, 1), "{}", run.stderr);
    let clean = &clean[0];
    // Debounced: strictly alternating, starting with the first change (low -> high).
    assert!(clean.len() >= 3, "a few toggles in 800 ms: {clean:?}");
    assert!(clean.starts_with('R'), "{clean}");
    assert!(!clean.contains("RR") && !clean.contains("FF"), "{clean}");
    // Raw: every bounce is an edge (7 per change), numbered without gaps.
    let (count, sequential) = raw[0].split_once(' ').expect("two fields");
    let count: usize = count.parse().expect("count");
    assert_eq!(sequential, "true", "{}", raw[0]);
    assert!(
        count >= 3 * clean.len(),
        "raw edges {count} vs debounced {}",
        clean.len()
    );
}

#[test]
fn button_line_driven_by_the_test_reaches_onreadable() {
    let exit = in_process(
        r#"
import Digital from 'embedded:io/digital';
setTimeout(() => process.exit(90), 20000).unref();
const seen = [];
const button = new Digital({ line: 'GPIO22', mode: Digital.InputPullDown,
  edge: Digital.Rising | Digital.Falling,
  onReadable(edge) {
    seen.push(`${edge.rising ? 'R' : 'F'}${edge.seq}:${this.read()}`);
    if (seen.length === 4) {
      this.close();
      process.exitCode = seen.join(',') === 'R1:1,F2:0,R3:1,F4:0' ? 0 : 3;
    }
  } });
"#,
        |services| {
            let addr = wait_requested(&services, 22);
            let devices = services.devices().expect("board");
            let sim = devices.sim_gpio().expect("sim");
            for level in [true, false, true, false] {
                sim.drive(&addr, level).expect("drive");
                // Each level is held long enough for the script to read it back.
                std::thread::sleep(Duration::from_millis(100));
            }
        },
    );
    assert_eq!(
        exit,
        Exit::Done(0),
        "exit 3: edges or levels wrong; 90: no edges"
    );
}

#[test]
fn output_writes_are_recorded_by_the_simulator() {
    let holder: Arc<std::sync::Mutex<Option<Arc<Services>>>> = Arc::default();
    let keep = holder.clone();
    let exit = in_process(
        r#"
import Digital from 'embedded:io/digital';
const led = new Digital({ pin: 23, mode: Digital.Output });
led.write(1);
led.write(0);
led.write(true);
const drain = new Digital({ pin: 24, mode: Digital.OutputOpenDrain, initial: 1 });
drain.write(0);
const inverted = new Digital({ pin: 25, mode: Digital.Output, activeLow: true, initial: 0 });
inverted.write(1);
process.exitCode = led.read() === 1 && drain.read() === 0 && inverted.read() === 1 ? 0 : 4;
led.close();
drain.close();
inverted.close();
"#,
        move |services| {
            *keep.lock().expect("lock") = Some(services);
        },
    );
    assert_eq!(exit, Exit::Done(0), "read-back after write disagreed");
    let services = holder.lock().expect("lock").take().expect("services");
    let devices = services.devices().expect("board");
    let sim = devices.sim_gpio().expect("sim");
    let history = |pin: u32| {
        let addr = devices.resolve_pin(&PinRef::Number(pin)).expect("pin");
        sim.output_history(&addr).expect("history")
    };
    let values = |pin: u32| history(pin).iter().map(|r| r.value).collect::<Vec<_>>();
    assert_eq!(
        values(23),
        vec![false, true, false, true],
        "initial 0, then writes"
    );
    assert_eq!(values(24), vec![true, false]);
    let inverted = history(25);
    assert_eq!(
        inverted
            .iter()
            .map(|r| (r.value, r.level))
            .collect::<Vec<_>>(),
        vec![(false, true), (true, false)],
        "active-low: logical 1 is a low level"
    );
}

// ---------------------------------------------------------------------------------- errors --

#[test]
fn errors_are_typed_and_carry_codes() {
    let run = run(
        r#"
import Digital from 'embedded:io/digital';
import I2C from 'embedded:io/i2c';
import Serial from 'embedded:io/serial';
const show = (label, f) => {
  try { f(); console.log(`${label} no error`); }
  catch (e) { console.log(`${label} ${e.name} ${e.code ?? '-'} ${e.message}`); }
};
const held = new Digital({ pin: 17, mode: Digital.Input });
show('BUSY', () => new Digital({ pin: 'GPIO17', mode: Digital.Input }));
show('PIN99', () => new Digital({ pin: 99, mode: Digital.Input }));
show('PINTYPE', () => new Digital({ pin: true, mode: Digital.Input }));
show('NOMODE', () => new Digital({ pin: 5 }));
show('MODE', () => new Digital({ pin: 5, mode: 42 }));
show('EDGEOUT', () => new Digital({ pin: 5, mode: Digital.Output, edge: Digital.Rising }));
show('WRITEIN', () => held.write(1));
show('WRITE2', () => held.write(2));
held.close();
show('CLOSED', () => held.read());
show('ADDR', () => new I2C({ address: 0x80 }));
show('ADDRTYPE', () => new I2C({ address: '0x76' }));
show('NOADDR', () => new I2C({}));
show('NOBUS', () => new I2C({ address: 0x76, bus: 9 }));
show('NACK', () => new I2C({ address: 0x10 }).read(1));
show('BAUD', () => new Serial({ port: 'gps', baud: 0 }));
show('BAUDTYPE', () => new Serial({ port: 'gps', baud: '9600' }));
show('NOPORT', () => new Serial({ port: '/dev/serial/by-id/usb-nothing-here' }));
show('FRAMING', () => new Serial({ port: 'gps', framing: 'words' }));
show('OPTIONS', () => new Digital(17));
"#,
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let line = |label: &str| {
        let l = tagged(&run, &format!("{label} "));
        assert_eq!(l.len(), 1, "{label}: {}", run.stderr);
        l[0].clone()
    };
    let busy = line("BUSY");
    assert!(busy.starts_with("Error EBUSY "), "{busy}");
    assert!(
        busy.contains("ganglion-sim") && busy.contains("line 17"),
        "names chip and line: {busy}"
    );
    assert!(line("PIN99").starts_with("RangeError - Digital: board 'sim' has no pin 99"));
    assert!(line("PINTYPE").starts_with("TypeError - Digital: option 'pin'"));
    assert!(line("NOMODE").starts_with("TypeError - Digital: option 'mode' is required"));
    assert!(line("MODE").starts_with("RangeError - Digital: option 'mode'"));
    assert!(line("EDGEOUT").starts_with("RangeError - Digital: option 'edge' applies to inputs"));
    assert!(
        line("WRITEIN").starts_with("Error EINVAL "),
        "{}",
        line("WRITEIN")
    );
    assert!(line("WRITE2").starts_with("RangeError - "));
    assert_eq!(line("CLOSED"), "Error ENODEV Digital is closed");
    assert!(line("ADDR")
        .starts_with("RangeError - I2C: option 'address' must be an integer from 0 to 127"));
    assert!(line("ADDRTYPE").starts_with("TypeError - I2C: option 'address' must be a number"));
    assert!(line("NOADDR").starts_with("TypeError - I2C: option 'address'"));
    assert!(
        line("NOBUS").starts_with("Error ENOENT "),
        "{}",
        line("NOBUS")
    );
    let nack = line("NACK");
    assert!(
        nack.starts_with("Error ENXIO ") && nack.contains("0x10"),
        "{nack}"
    );
    assert!(line("BAUD").starts_with("RangeError - Serial: option 'baud'"));
    assert!(line("BAUDTYPE").starts_with("TypeError - Serial: option 'baud'"));
    let noport = line("NOPORT");
    assert!(
        noport.starts_with("Error ENOENT ") && noport.contains("by-id"),
        "{noport}"
    );
    assert!(line("FRAMING").starts_with("RangeError - Serial: option 'framing'"));
    assert!(line("OPTIONS").starts_with("TypeError - Digital: options must be an object"));
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn a_missing_i2c_bus_is_enoent_with_the_enable_hint() {
    // A real (non-simulated) board whose bus node does not exist, as on a Pi with I2C disabled.
    let board = r#"
name = "pi-without-i2c"
description = "a board file pointing at a bus node that does not exist"
pins = [ { number = 17, names = ["GPIO17"], chip = "main", line = 17 } ]
[[gpio.chips]]
id = "main"
label = "pinctrl-test"
lines = 28
[[i2c]]
bus = 7
path = "/nonexistent/i2c-7"
"#;
    let run = run(
        r#"
import I2C from 'embedded:io/i2c';
try { new I2C({ address: 0x76 }); } catch (e) { console.log(`ERR ${e.code} ${e.message}`); }
"#,
        Some(board),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let err = tagged(&run, "ERR ");
    assert_eq!(err.len(), 1, "{}", run.stderr);
    assert!(
        err[0].starts_with("ENOENT /nonexistent/i2c-7"),
        "{}",
        err[0]
    );
    assert!(err[0].contains("enable I2C"), "hint: {}", err[0]);
}

// -------------------------------------------------------------------------------- I2C/SMBus --

#[test]
fn smbus_and_i2c_read_the_bme280_sync_and_async() {
    let run = run(
        r#"
import I2C from 'embedded:io/i2c';
import SMBus from 'embedded:io/smbus';
const bme = new SMBus({ address: 0x76, bus: 1, hz: 400000 });
console.log(`SYNC ${bme.readUint8(0xd0)} ${bme.bus}`);
console.log(`ASYNC ${await bme.readUint8Async(0xd0)}`);
const all = await Promise.all(Array.from({ length: 20 }, () => bme.readUint8Async(0xd0)));
console.log(`MANY ${all.every((v) => v === 0x60)} ${all.length}`);
const two = new Uint8Array(bme.readBuffer(0x88, 2));
const le = bme.readUint16(0x88);
const be = bme.readUint16(0x88, true);
console.log(`WORD ${le === (two[0] | (two[1] << 8))} ${be === ((two[0] << 8) | two[1])}`);
const be2 = await bme.readUint16Async(0x88, true);
console.log(`WORDASYNC ${be2 === be}`);
bme.writeUint8(0xf5, 0xa0);
console.log(`CONFIG ${bme.readUint8(0xf5).toString(16)}`);
bme.writeUint16(0xf5, 0x1234);
const lo = bme.readUint8(0xf5);
await bme.writeUint16Async(0xf5, 0x1234, true);
console.log(`W16 ${lo.toString(16)} ${(await bme.readUint8Async(0xf5)).toString(16)}`);
const into = new Uint8Array(1);
console.log(`INTO ${await bme.readBufferAsync(0xd0, into)} ${into[0]}`);

const raw = new I2C({ address: 0x76 });
raw.write(Uint8Array.of(0xd0), false);
console.log(`RESTART ${new Uint8Array(raw.read(1))[0]}`);
console.log(`WRITEREAD ${new Uint8Array(await raw.writeReadAsync([0xd0], 1))[0]}`);
raw.close();
try { raw.read(1); } catch (e) { console.log(`CLOSED ${e.code}`); }

const errors = [];
const ghost = new SMBus({ address: 0x10, onError(e) { errors.push(this === ghost ? e.code : 'wrong this'); } });
try { await ghost.readUint8Async(0); } catch (e) { console.log(`REJECT ${e.code}`); }
ghost.readUint8Async(0); // not awaited: onError has it, no unhandled rejection
await new Promise((r) => setTimeout(r, 50));
console.log(`ONERROR ${errors.join(',')}`);
const bare = new I2C({ address: 0x11 });
try { await bare.readAsync(2); } catch (e) { console.log(`BARE ${e.code} ${e.message}`); }
"#,
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(tagged(&run, "SYNC "), vec!["96 sim-i2c-1"], "chip id 0x60");
    assert_eq!(tagged(&run, "ASYNC "), vec!["96"]);
    assert_eq!(tagged(&run, "MANY "), vec!["true 20"]);
    assert_eq!(tagged(&run, "WORD "), vec!["true true"]);
    assert_eq!(tagged(&run, "WORDASYNC "), vec!["true"]);
    assert_eq!(tagged(&run, "CONFIG "), vec!["a0"]);
    assert_eq!(
        tagged(&run, "W16 "),
        vec!["34 12"],
        "little-endian, then big-endian"
    );
    assert_eq!(tagged(&run, "INTO "), vec!["1 96"]);
    assert_eq!(
        tagged(&run, "RESTART "),
        vec!["96"],
        "write(buf, false) + read()"
    );
    assert_eq!(tagged(&run, "WRITEREAD "), vec!["96"]);
    assert_eq!(tagged(&run, "CLOSED "), vec!["ENODEV"]);
    assert_eq!(tagged(&run, "REJECT "), vec!["ENXIO"]);
    assert_eq!(tagged(&run, "ONERROR "), vec!["ENXIO,ENXIO"]);
    let bare = tagged(&run, "BARE ");
    assert_eq!(bare.len(), 1, "{}", run.stderr);
    assert!(
        bare[0].starts_with("ENXIO sim-i2c-1: no ACK from address 0x11"),
        "{}",
        bare[0]
    );
    assert!(
        !run.stderr.contains("unhandled promise rejection"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------- serial --

/// NMEA checksum: XOR of the bytes between `$` and `*` equals the two hex digits after `*`.
fn nmea_checksum_ok(sentence: &str) -> bool {
    let Some(body) = sentence.strip_prefix('$') else {
        return false;
    };
    let Some((data, sum)) = body.split_once('*') else {
        return false;
    };
    let want = u8::from_str_radix(sum.trim(), 16).ok();
    want == Some(data.bytes().fold(0u8, |a, b| a ^ b))
}

#[test]
fn serial_reads_the_simulated_gps_as_lines() {
    let run = run(
        r#"
import Serial from 'embedded:io/serial';
let n = 0;
const gps = new Serial({ port: 'gps', framing: 'lines', format: 'string',
  onReadable(length) {
    const line = this.read();
    console.log(`NMEA ${length === line.length} ${line}`);
    if (++n === 4) this.close().then(() => console.log(`CLOSED ${this.baud}`));
  } });
"#,
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines = tagged(&run, "NMEA ");
    assert_eq!(lines.len(), 4, "{}", run.stderr);
    for l in &lines {
        let sentence = l.strip_prefix("true ").expect("length matches the frame");
        assert!(sentence.starts_with("$GP"), "{sentence}");
        assert!(nmea_checksum_ok(sentence), "intact sentence: {sentence}");
    }
    assert_eq!(
        tagged(&run, "CLOSED "),
        vec!["9600"],
        "baud from the board file"
    );
}

/// A serial device the test plays: a pty whose slave is linked at a stable path.
struct Device {
    rt: tokio::runtime::Runtime,
    pty: Option<SimPty>,
    link: PathBuf,
    seen: Vec<u8>,
}

impl Device {
    fn new(link: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        let mut d = Self {
            rt,
            pty: None,
            link: link.to_owned(),
            seen: Vec::new(),
        };
        d.plug();
        d
    }

    /// A new tty behind the same link (first plug, or plugged back in).
    fn plug(&mut self) {
        let pty = {
            let _rt = self.rt.enter();
            SimPty::open().expect("pty")
        };
        pty.link_at(&self.link).expect("link");
        self.pty = Some(pty);
        self.seen.clear();
    }

    fn unplug(&mut self) {
        self.pty = None;
    }

    fn write(&mut self, data: &[u8]) {
        let pty = self.pty.as_mut().expect("plugged");
        self.rt.block_on(async {
            pty.write_all(data).await.expect("device writes");
            pty.flush().await.expect("flush");
        });
    }

    /// Read what the agent wrote until `needle` shows up; returns everything read so far.
    fn read_until(&mut self, needle: &str) -> String {
        let pty = self.pty.as_mut().expect("plugged");
        let seen = &mut self.seen;
        self.rt.block_on(async {
            let deadline = tokio::time::Instant::now() + LIMIT;
            while !String::from_utf8_lossy(seen).contains(needle) {
                let mut buf = [0u8; 256];
                let n = tokio::time::timeout_at(deadline, pty.read(&mut buf))
                    .await
                    .unwrap_or_else(|_| {
                        panic!(
                            "{needle:?} not written within {LIMIT:?}; got {:?}",
                            String::from_utf8_lossy(seen)
                        )
                    })
                    .expect("read");
                seen.extend_from_slice(&buf[..n]);
            }
        });
        String::from_utf8_lossy(&self.seen).into_owned()
    }
}

#[test]
fn serial_framing_kinds_over_test_ptys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kinds = ["raw", "lines", "crlf", "delim", "fixed"];
    let mut devices: Vec<Device> = kinds
        .iter()
        .map(|k| Device::new(&dir.path().join(format!("tty-{k}"))))
        .collect();
    let ports: serde_json::Map<String, serde_json::Value> = kinds
        .iter()
        .zip(&devices)
        .map(|(k, d)| (k.to_string(), d.link.to_string_lossy().into()))
        .collect();
    let script = format!(
        r#"
import Serial from 'embedded:io/serial';
const ports = {ports};
const framings = {{ raw: 'raw', lines: 'lines', crlf: 'crlf', delim: {{ delimiter: '~~' }}, fixed: {{ length: 4 }} }};
const expected = {{ raw: 8, lines: 2, crlf: 2, delim: 2, fixed: 2 }};
for (const [kind, path] of Object.entries(ports)) {{
  const frames = [];
  let bytes = 0;
  const port = new Serial({{ port: path, baud: 115200, framing: framings[kind], format: 'string',
    onReadable() {{
      const f = this.read();
      frames.push(f);
      bytes += f.length;
      if ((kind === 'raw' ? bytes : frames.length) === expected[kind]) {{
        console.log(`RESULT ${{kind}} ${{JSON.stringify(kind === 'raw' ? [frames.join('')] : frames)}}`);
        this.close();
      }}
    }} }});
  port.write('READY');
  port.write(Uint8Array.of(0x20));
  port.write(kind + '\n');
}}
"#,
        ports = serde_json::Value::Object(ports)
    );
    let s = agent(&script, None);
    let live = Live::spawn(run_command(&s));
    let inputs: [&[u8]; 5] = [
        b"rawbytes",
        b"$GPGGA,1\r\n$GPRMC,2\n",
        b"a\nb\r\nc\r\n",
        b"one~~two~~",
        b"abcdefgh",
    ];
    for ((kind, dev), input) in kinds.iter().zip(devices.iter_mut()).zip(inputs) {
        let hello = dev.read_until("\n");
        assert_eq!(
            hello,
            format!("READY {kind}\n"),
            "writes arrive whole and in order"
        );
        dev.write(input);
    }
    let run = live.finish(LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut results = tagged(&run, "RESULT ");
    results.sort();
    assert_eq!(
        results,
        vec![
            r#"crlf ["a\nb","c"]"#,
            r#"delim ["one","two"]"#,
            r#"fixed ["abcd","efgh"]"#,
            r#"lines ["$GPGGA,1","$GPRMC,2"]"#,
            r#"raw ["rawbytes"]"#,
        ]
    );
}

#[test]
fn serial_over_long_frame_is_reported_and_the_stream_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut dev = Device::new(&dir.path().join("tty-garbage"));
    let script = format!(
        r#"
import Serial from 'embedded:io/serial';
const port = new Serial({{ port: {path:?}, framing: 'lines', maxFrame: 32,
  onError(e) {{ console.log(`ERROR ${{e.name}} ${{e.code}} ${{e.message}}`); }},
  onReadable(n) {{
    if (n === 2) {{
      console.log(`OK ${{new TextDecoder().decode(this.read())}}`);
      return;
    }}
    const head = new Uint8Array(5);
    const got = this.read(head);
    const rest = new TextDecoder().decode(this.read());
    console.log(`SPLIT ${{n}} ${{got}} ${{new TextDecoder().decode(head)}} ${{rest}} ${{this.read()}}`);
    this.close();
  }} }});
port.write('READY\n');
"#,
        path = dev.link.to_string_lossy()
    );
    let s = agent(&script, None);
    let live = Live::spawn(run_command(&s));
    dev.read_until("READY\n");
    let mut garbage = vec![0xffu8; 5000];
    garbage.extend_from_slice(b"\nok\nhello-world\n");
    dev.write(&garbage);
    let run = live.finish(LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let errors = tagged(&run, "ERROR ");
    assert_eq!(errors.len(), 1, "reported once: {}", run.stderr);
    assert!(
        errors[0].starts_with("Error EBADMSG ") && errors[0].contains("longer than 32"),
        "{}",
        errors[0]
    );
    assert_eq!(tagged(&run, "OK "), vec!["ok"], "the next line is intact");
    assert_eq!(
        tagged(&run, "SPLIT "),
        vec!["11 5 hello -world undefined"],
        "read(buffer) takes part of a frame, read() the rest"
    );
}

#[test]
fn serial_unplug_is_reported_and_the_port_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("usb-GPS_Receiver-if00");
    // The device is plugged in after the agent started: serialport opens pty pairs without
    // O_CLOEXEC, so a child spawned while the pty exists would hold the master open and the
    // unplug would never show. The script retries until the port appears (ENOENT until then).
    let script = format!(
        r#"
import Serial from 'embedded:io/serial';
function open() {{
  try {{
    const port = new Serial({{ port: {path:?}, framing: 'lines', format: 'string',
      onReadable() {{
        const f = this.read();
        console.log(`FRAME ${{f}}`);
        if (f === 'after') this.close();
      }},
      onError(e) {{ console.log(`ERROR ${{e.code}} ${{e.disconnected}} ${{e.message}}`); }},
      onReconnect() {{ console.log('RECONNECTED'); this.write('again\n'); }},
    }});
    port.write('READY\n');
  }} catch (e) {{
    if (e.code !== 'ENOENT') throw e;
    setTimeout(open, 20);
  }}
}}
open();
"#,
        path = link.to_string_lossy()
    );
    let s = agent(&script, None);
    let live = Live::spawn(run_command(&s));
    let mut dev = Device::new(&link);
    dev.read_until("READY\n");
    dev.write(b"before\n");
    live.wait_for("FRAME before", LIMIT);
    dev.unplug();
    live.wait_for("ERROR ", LIMIT);
    dev.plug();
    dev.read_until("again\n");
    dev.write(b"after\n");
    let run = live.finish(LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let errors = tagged(&run, "ERROR ");
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        (errors[0].starts_with("ENODEV true ") || errors[0].starts_with("EIO true "))
            && errors[0].contains("usb-GPS_Receiver-if00"),
        "a disconnect naming the port: {}",
        errors[0]
    );
    assert_eq!(tagged(&run, "FRAME "), vec!["before", "after"]);
    assert_eq!(
        run.script_lines()
            .iter()
            .filter(|l| *l == "RECONNECTED")
            .count(),
        1
    );
}

#[test]
fn lines_and_ports_are_released_when_the_script_restarts() {
    // on_error = "restart": each run opens the same pin and port again; an object the previous
    // runtime left open would make the second run fail with EBUSY.
    let s = Scripts::new(&[
        (
            "ganglion.toml",
            "[agent]\nscripts = \".\"\nstate_dir = \"state\"\non_error = \"restart\"\n",
        ),
        (
            "main.js",
            r#"
import Digital from 'embedded:io/digital';
import Serial from 'embedded:io/serial';
const pin = new Digital({ pin: 5, mode: Digital.Input, onReadable() {} });
const gps = new Serial({ port: 'gps', framing: 'lines', onReadable() { this.read(); } });
console.log(`OPENED ${pin.read()} ${gps.path.endsWith('/sim/gps')}`);
setTimeout(() => { throw new Error('crash on purpose'); }, 50);
"#,
        ),
    ]);
    let live = Live::spawn(run_command(&s));
    let start = Instant::now();
    while live.log().matches("OPENED 0 true").count() < 2 {
        let log = live.log();
        assert!(
            !log.contains("failed to start") && !log.contains("EBUSY"),
            "the restarted script could not reopen: {log}"
        );
        assert!(start.elapsed() < LIMIT, "no second run: {log}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        live.log().contains("restarting the script"),
        "{}",
        live.log()
    );
}

/// Permission denied names the group to join (the agent runs as an unprivileged user here, as
/// the packaged service does). Needs root to switch to `nobody`; skipped (with a note) otherwise.
#[test]
fn permission_denied_names_the_group() {
    use std::os::unix::fs::PermissionsExt;
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root || !Path::new("/usr/sbin/runuser").exists() {
        eprintln!("skipped: needs root and runuser to run the agent as nobody");
        return;
    }
    let s = Scripts::new(&[
        ("ganglion.toml", "[agent]\nscripts = \".\"\nstate_dir = \"state\"\n"),
        (
            "main.js",
            "import Serial from 'embedded:io/serial';\n\
             const dir = process.argv[2];\n\
             try { new Serial({ port: dir + '/ttyFAKE', baud: 9600 }); } catch (e) { console.log('serial', e.code, e.message); }\n",
        ),
        ("ttyFAKE", ""),
    ]);
    let dir = s.dir.path();
    std::fs::create_dir_all(dir.join("state")).expect("state");
    let perm = |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    perm(dir, 0o755).expect("chmod dir");
    perm(&dir.join("state"), 0o777).expect("chmod state");
    perm(&dir.join("ttyFAKE"), 0o600).expect("chmod tty");
    for f in ["ganglion.toml", "main.js"] {
        perm(&dir.join(f), 0o644).expect("chmod");
    }
    let mut cmd = Command::new("/usr/sbin/runuser");
    cmd.args(["-u", "nobody", "--"])
        .arg(env!("CARGO_BIN_EXE_ganglion"))
        .args(["run", "--config"])
        .arg(dir.join("ganglion.toml"))
        .arg("--")
        .arg(dir)
        .env("GANGLION_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = finish(cmd.spawn().expect("runuser"), Duration::from_secs(30));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines = run.script_lines();
    let serial = lines
        .iter()
        .find(|l| l.starts_with("serial "))
        .expect("serial line");
    assert!(serial.starts_with("serial EACCES "), "{serial}");
    assert!(serial.contains("dialout"), "hint names the group: {serial}");
}
