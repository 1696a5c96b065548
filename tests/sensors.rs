//! Sensors declared in `ganglion.toml` and delivered to scripts through `ganglion:sensors`
//! (issue #6): the real binary on the simulated board (or a board TOML written by the test with
//! faulty devices on it). Scripts print `RESULT <json>` lines; the tests check them here.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ganglion_devices::sim::ds18b20::{w1_slave_text, write_w1_slave, Ds18b20Fault};
use serde_json::Value;

use crate::common::{agent_folder, finish, ganglion, run_command, Live, Run, Scripts};

/// Guard so a broken test fails instead of hanging; never a timing assertion.
const LIMIT: Duration = Duration::from_secs(60);

/// A folder with `ganglion.toml` (own state dir), `main.js` and optionally `board.toml`.
fn agent(sensors: &str, script: &str, board: Option<&str>, extra: &str) -> Scripts {
    agent_folder(&format!("{extra}\n{sensors}"), script, board)
}

fn run(s: &Scripts) -> Run {
    let child = run_command(s)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ganglion");
    finish(child, LIMIT)
}

/// The JSON of every `RESULT ...` line the script logged.
fn results(run: &Run) -> Vec<Value> {
    run.script_lines()
        .iter()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap_or_else(|e| panic!("bad JSON {j}: {e}")))
        .collect()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

#[track_caller]
fn near(v: &Value, key: &str, want: f64, tolerance: f64) {
    let got = num(v, key);
    assert!(
        (got - want).abs() <= tolerance,
        "{key} = {got}, expected {want} ± {tolerance} in {v}"
    );
}

/// One sensor per driver on the simulated board: each reading arrives with exactly the
/// documented values (the sensor's `fields`, plus sensor/driver/time) and plausible numbers.
#[test]
fn every_driver_delivers_its_documented_values_from_the_sim_board() {
    let sensors = r#"
[[sensors]]
name = "climate"
driver = "bme280"
interval = "200ms"
[[sensors]]
name = "room"
driver = "sht31"
interval = "200ms"
[[sensors]]
name = "analog"
driver = "ads1115"
interval = "200ms"
options = { channels = [0, 1] }
[[sensors]]
name = "light"
driver = "bh1750"
interval = "200ms"
[[sensors]]
name = "gps"
driver = "nmea"
port = "gps"
interval = "200ms"
[[sensors]]
name = "meter"
driver = "modbus"
port = "modbus"
unit = 1
interval = "200ms"
options = { registers = [
  { name = "voltage", kind = "input", address = 0, type = "f32", unit = "V" },
  { name = "frequency", kind = "input", address = 6, type = "f32", unit = "Hz" },
  { name = "energy", kind = "input", address = 8, type = "u32", unit = "Wh" },
  { name = "cabinet", kind = "holding", address = 0, type = "i16", scale = 0.1, unit = "°C" },
] }
[[sensors]]
name = "flow"
driver = "pulse"
pin = "GPIO27"
interval = "600ms"
[[sensors]]
name = "probe"
driver = "ds18b20"
id = "28-0000075a1c2b"
interval = "200ms"
"#;
    let script = r#"
import sensors from 'ganglion:sensors';
const first = new Map();
sensors.on('reading', (r) => {
  if (r.sensor === 'flow' && r.pulses === 0) return; // the first interval starts at zero
  if (first.has(r.sensor)) return;
  first.set(r.sensor, { ...r, age: Date.now() - r.time });
  if (first.size < sensors.list().length) return;
  for (const s of sensors.list()) {
    console.log('RESULT ' + JSON.stringify({
      name: s.name, driver: s.driver, fields: s.fields.map((f) => f.name), reading: first.get(s.name),
    }));
  }
  process.exit(0);
});
"#;
    let s = agent(sensors, script, None, "");
    let run = run(&s);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let results = results(&run);
    assert_eq!(results.len(), 8, "{}", run.stderr);
    for res in &results {
        let name = res["name"].as_str().expect("name");
        let r = &res["reading"];
        assert_eq!(r["sensor"], res["name"]);
        assert_eq!(r["driver"], res["driver"]);
        assert!(
            num(r, "age").abs() < 60_000.0,
            "time is ms since the epoch: {r}"
        );
        let mut keys: Vec<&str> = r
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .filter(|k| !["sensor", "driver", "time", "age"].contains(k))
            .collect();
        let mut fields: Vec<&str> = res["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        keys.sort_unstable();
        fields.sort_unstable();
        assert_eq!(keys, fields, "{name}: values are the documented fields");
        match name {
            "climate" => {
                near(r, "temperature", 21.5, 2.0);
                near(r, "humidity", 45.0, 5.0);
                near(r, "pressure", 1013.25, 5.0);
            }
            "room" => {
                near(r, "temperature", 22.0, 2.0);
                near(r, "humidity", 50.0, 5.0);
            }
            "analog" => {
                near(r, "ain0", 1.65, 0.05);
                near(r, "ain1", 0.8, 0.05);
            }
            "light" => near(r, "illuminance", 320.0, 40.0),
            "gps" => {
                near(r, "latitude", 48.1173, 0.01);
                near(r, "longitude", 11.5167, 0.01);
                near(r, "fix", 1.0, 0.0);
                near(r, "satellites", 9.0, 0.0);
                assert!(
                    r["gps_time"].as_str().is_some_and(|t| t.ends_with('Z')),
                    "{r}"
                );
            }
            "meter" => {
                near(r, "voltage", 230.0, 10.0);
                near(r, "frequency", 50.0, 1.0);
                near(r, "cabinet", 21.5, 5.0);
                assert!(num(r, "energy") > 0.0, "{r}");
            }
            "flow" => {
                assert!(num(r, "pulses") >= 1.0, "{r}");
                assert!(num(r, "rate") > 0.5 && num(r, "rate") < 10.0, "{r}");
            }
            "probe" => near(r, "temperature", 19.0, 2.0),
            other => panic!("unexpected sensor {other}"),
        }
    }
}

/// `await sensors.read()` resolves with a reading, rejects with a coded Error for a sensor that
/// does not answer and for a name that is not configured; `get()` throws typed errors.
#[test]
fn on_demand_reads_resolve_and_reject_with_codes() {
    let sensors = r#"
[[sensors]]
name = "room"
driver = "sht31"
interval = "1h"
[[sensors]]
name = "ghost"
driver = "sht31"
address = 0x50
interval = "1h"
"#;
    let script = r#"
import sensors from 'ganglion:sensors';
const out = {};
const r1 = await sensors.read('room');
const r2 = await sensors.get('room').read();
out.humidity = [r1.humidity, r2.humidity];
out.sensor = r1.sensor;
out.time = r2.time >= r1.time;
try { await sensors.read('ghost'); out.ghost = 'resolved'; }
catch (e) { out.ghost = { error: e instanceof Error, code: e.code, sensor: e.sensor, driver: e.driver }; }
try { await sensors.read('nope'); } catch (e) { out.nope = e.code; }
try { sensors.get('nope'); } catch (e) { out.getNope = [e.code, e.message]; }
try { sensors.get(7); } catch (e) { out.getNumber = e instanceof TypeError; }
const st = sensors.get('room').stats();
out.reads = st.reads;
out.state = st.state;
console.log('RESULT ' + JSON.stringify(out));
process.exit(0);
"#;
    let s = agent(sensors, script, None, "");
    let run = run(&s);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let r = &results(&run)[0];
    for h in r["humidity"].as_array().expect("two readings") {
        assert!((h.as_f64().expect("number") - 50.0).abs() < 5.0, "{r}");
    }
    assert_eq!(r["sensor"], "room");
    assert_eq!(r["time"], true);
    assert_eq!(r["ghost"]["error"], true, "{r}");
    assert_eq!(r["ghost"]["code"], "ENXIO", "{r}");
    assert_eq!(r["ghost"]["sensor"], "ghost");
    assert_eq!(r["ghost"]["driver"], "sht3x");
    assert_eq!(r["nope"], "ENOENT");
    assert_eq!(r["getNope"][0], "ENOENT");
    assert!(
        r["getNope"][1]
            .as_str()
            .is_some_and(|m| m.contains("room, ghost")),
        "{r}"
    );
    assert_eq!(r["getNumber"], true);
    assert!(num(r, "reads") >= 2.0, "{r}");
    assert_eq!(r["state"], "online");
}

const FAULTY_BOARD: &str = r#"
name = "faulty"
pins = [ { number = 27, names = ["GPIO27"], chip = "main", line = 27 } ]
[[gpio.chips]]
id = "main"
label = "faulty-sim"
lines = 28
[[i2c]]
bus = 1
[[i2c]]
bus = 2
[sim]
i2c = [
  { bus = 1, address = 0x44, kind = "sht31" },
  { bus = 1, address = 0x45, kind = "nack" },
  { bus = 1, address = 0x46, kind = "garbage", options = { seed = 7 } },
  { bus = 2, address = 0x23, kind = "timeout", options = { delay_ms = 400 } },
]
"#;

/// A sensor that NACKs, one that answers garbage and one that stalls until its timeout: each
/// reports 'error' with its code, then 'offline', while the good sensor keeps delivering.
#[test]
fn faulty_sensors_report_error_then_offline_while_the_others_keep_delivering() {
    let sensors = r#"
[[sensors]]
name = "good"
driver = "sht31"
address = 0x44
interval = "50ms"
[[sensors]]
name = "absent"
driver = "sht31"
address = 0x45
interval = "50ms"
backoff = "20ms"
offline_after = 2
[[sensors]]
name = "garbage"
driver = "sht31"
address = 0x46
interval = "50ms"
backoff = "20ms"
offline_after = 2
[[sensors]]
name = "stuck"
driver = "bh1750"
bus = 2
address = 0x23
interval = "50ms"
timeout = "100ms"
backoff = "20ms"
offline_after = 2
"#;
    let script = r#"
import sensors from 'ganglion:sensors';
const faulty = ['absent', 'garbage', 'stuck'];
const out = { codes: {}, order: {}, offline: {}, goodAfter: 0, goodErrors: 0 };
for (const name of faulty) {
  const s = sensors.get(name);
  out.order[name] = [];
  s.on('error', (e) => {
    out.codes[name] ??= e.code;
    if (out.order[name].length < 3) out.order[name].push('error');
  });
  s.on('offline', (e) => {
    out.offline[name] = { failures: e.failures, code: e.error.code, state: s.state };
    out.order[name].push('offline');
  });
  s.on('reading', () => out.order[name].push('reading'));
}
sensors.get('good').on('error', () => out.goodErrors++);
sensors.get('good').on('reading', () => {
  if (Object.keys(out.offline).length === faulty.length && ++out.goodAfter === 3) {
    out.stats = Object.fromEntries(sensors.list().map((i) => [i.name, sensors.get(i.name).stats()]));
    console.log('RESULT ' + JSON.stringify(out));
    process.exit(0);
  }
});
"#;
    let s = agent(sensors, script, Some(FAULTY_BOARD), "");
    let run = run(&s);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let r = &results(&run)[0];
    assert_eq!(r["codes"]["absent"], "ENXIO", "{r}");
    assert_eq!(r["codes"]["garbage"], "EBADMSG", "{r}");
    assert_eq!(r["codes"]["stuck"], "ETIMEDOUT", "{r}");
    for name in ["absent", "garbage", "stuck"] {
        assert_eq!(r["offline"][name]["failures"], 2, "{name}: {r}");
        assert_eq!(r["offline"][name]["state"], "offline", "{name}: {r}");
        assert_eq!(r["offline"][name]["code"], r["codes"][name], "{name}: {r}");
        // Two errors, then offline; no reading ever.
        let order: Vec<&str> = r["order"][name]
            .as_array()
            .expect("order")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(&order[..3], ["error", "error", "offline"], "{name}: {r}");
        assert!(!order.contains(&"reading"), "{name}: {r}");
        assert_eq!(r["stats"][name]["reads"], 0, "{name}: {r}");
        assert!(num(&r["stats"][name], "errors") >= 2.0, "{name}: {r}");
    }
    assert_eq!(r["goodErrors"], 0, "{r}");
    assert_eq!(r["stats"]["good"]["state"], "online");
    assert_eq!(r["stats"]["good"]["errors"], 0);
    assert!(
        !run.stderr.contains("uncaught"),
        "no unhandled errors:\n{}",
        run.stderr
    );
}

/// A DS18B20 whose `w1_slave` file the test controls: online, CRC failure → error and offline,
/// fixed → online again with the new value.
#[test]
fn a_sensor_goes_offline_and_comes_back_online() {
    let w1 = tempfile::tempdir().expect("tempdir");
    let id = "28-00000000beef";
    write_w1_slave(w1.path(), id, &w1_slave_text(21.0, Ds18b20Fault::None)).expect("write");
    let sensors = format!(
        "[[sensors]]\nname = \"probe\"\ndriver = \"ds18b20\"\nid = \"{id}\"\nbase_dir = \"{}\"\n\
         interval = \"50ms\"\nbackoff = \"20ms\"\nbackoff_max = \"100ms\"\noffline_after = 2\n",
        w1.path().display()
    );
    let script = r#"
import sensors from 'ganglion:sensors';
const probe = sensors.get('probe');
let onlines = 0;
let last = null;
probe.on('online', () => console.log(`EVENT online ${++onlines}`));
probe.on('offline', (e) => console.log(`EVENT offline ${e.failures} ${e.error.code}`));
probe.on('error', (e) => { if (e.failures === 1) console.log(`EVENT error ${e.code}`); });
probe.on('reading', (r) => {
  if (r.temperature !== last) console.log(`EVENT reading ${r.temperature} after ${onlines}`);
  last = r.temperature;
});
"#;
    let s = agent(&sensors, script, None, "");
    let live = Live::spawn(run_command(&s));
    live.wait_for("EVENT online 1", LIMIT);
    live.wait_for("EVENT reading 21 after 1", LIMIT);
    write_w1_slave(w1.path(), id, &w1_slave_text(21.0, Ds18b20Fault::CrcNo)).expect("write");
    live.wait_for("EVENT error EBADMSG", LIMIT);
    live.wait_for("EVENT offline 2 EBADMSG", LIMIT);
    write_w1_slave(w1.path(), id, &w1_slave_text(23.5, Ds18b20Fault::None)).expect("write");
    live.wait_for("EVENT online 2", LIMIT);
    live.wait_for("EVENT reading 23.5 after 2", LIMIT);
    live.signal("TERM");
    let run = live.finish(LIMIT);
    let events: Vec<String> = run
        .script_lines()
        .into_iter()
        .filter(|l| l.starts_with("EVENT"))
        .collect();
    let pos = |e: &str| {
        events
            .iter()
            .position(|l| l == e)
            .unwrap_or_else(|| panic!("{e} missing: {events:?}"))
    };
    assert!(pos("EVENT online 1") < pos("EVENT error EBADMSG"));
    assert!(pos("EVENT error EBADMSG") < pos("EVENT offline 2 EBADMSG"));
    assert!(pos("EVENT offline 2 EBADMSG") < pos("EVENT online 2"));
    assert_eq!(
        events
            .iter()
            .filter(|l| l.starts_with("EVENT offline"))
            .count(),
        1,
        "{events:?}"
    );
}

/// A script that blocks its thread for a while: the sensor's queue keeps only its newest
/// readings, the rest are dropped and counted, and every reading is accounted for exactly.
#[test]
fn a_busy_script_gets_bounded_queues_and_exact_drop_counts() {
    let sensors = r#"
[[sensors]]
name = "fast"
driver = "pulse"
pin = "GPIO27"
interval = "10ms"
queue = 4
"#;
    let script = r#"
import sensors from 'ganglion:sensors';
const fast = sensors.get('fast');
let received = 0;
let burst = -1;
fast.on('reading', () => { received++; if (burst >= 0) burst++; });
setTimeout(() => {
  const end = Date.now() + 1500;
  while (Date.now() < end) {} // the script falls behind
  burst = 0;
  // Readings that were waiting arrive before this timer's successor runs.
  setTimeout(() => {
    const firstBurst = burst;
    setTimeout(() => {
      const st = fast.stats();
      console.log('RESULT ' + JSON.stringify({ received, firstBurst, ...st }));
      process.exit(0);
    }, 200);
  }, 0);
}, 100);
"#;
    let s = agent(sensors, script, None, "[limits]\ncallback_time = \"10s\"\n");
    let run = run(&s);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let r = &results(&run)[0];
    let (received, reads, delivered, dropped, pending) = (
        num(r, "received"),
        num(r, "reads"),
        num(r, "delivered"),
        num(r, "dropped"),
        num(r, "pending"),
    );
    assert!(dropped > 0.0, "readings were dropped while blocked: {r}");
    assert_eq!(
        received, delivered,
        "every delivered reading reached the handler: {r}"
    );
    assert_eq!(
        reads,
        delivered + dropped + pending,
        "every reading is delivered, dropped or pending: {r}"
    );
    // What waited during the block: at most the queue bound plus the one batch in flight.
    assert!(
        num(r, "firstBurst") <= 8.0,
        "the backlog was bounded by the queue: {r}"
    );
}

/// `ganglion check` reports [[sensors]] problems with file, line and key, including ones only
/// the board can tell (a pin it does not have).
#[test]
fn check_names_file_line_and_key_of_sensor_problems() {
    let sensors = r#"
[[sensors]]
name = "light"
driver = "bh1750"
[sensors.options]
mtreg = 500
"#;
    let s = agent(sensors, "console.log('x');\n", None, "");
    let out = ganglion()
        .args(["check", "--config"])
        .arg(s.path("ganglion.toml"))
        .output()
        .expect("check");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ganglion.toml: line 12, column 1: sensors[0].options.mtreg: expected 31..=254, got 500"),
        "{text}"
    );

    let sensors = r#"
[[sensors]]
name = "flow"
driver = "pulse"
pin = "GPIO99"
"#;
    let s = agent(sensors, "console.log('x');\n", None, "");
    let out = ganglion()
        .args(["check", "--config"])
        .arg(s.path("ganglion.toml"))
        .output()
        .expect("check");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ganglion.toml:11:7: sensors[0].pin: board 'sim' has no pin 'GPIO99'"),
        "{text}"
    );
}

/// Without [[sensors]] the module still loads, says so with ENOENT and keeps nothing alive; an
/// unobserved sensor failure (no 'error' listener) never becomes an uncaught exception.
#[test]
fn no_sensors_keep_nothing_alive_and_unobserved_errors_do_not_throw() {
    let s = Scripts::new(&[(
        "main.js",
        "import sensors from 'ganglion:sensors';\n\
         console.log('RESULT ' + JSON.stringify({ list: sensors.list() }));\n\
         sensors.read('x').catch((e) => console.log('RESULT ' + JSON.stringify({ code: e.code })));\n",
    )]);
    let plain = crate::common::run_file(&s.path("main.js"));
    assert_eq!(plain.code, Some(0), "exits by itself: {}", plain.stderr);
    let r = results(&plain);
    assert_eq!(r[0]["list"], serde_json::json!([]));
    assert_eq!(r[1]["code"], "ENOENT");

    let sensors = r#"
[[sensors]]
name = "ghost"
driver = "bh1750"
address = 0x5c
interval = "20ms"
backoff = "10ms"
backoff_max = "20ms"
offline_after = 2
"#;
    let script = r#"
import sensors from 'ganglion:sensors';
sensors.on('offline', () => {
  const wait = setInterval(() => {
    const st = sensors.get('ghost').stats();
    if (st.errors >= 5) {
      console.log('RESULT ' + JSON.stringify(st));
      process.exit(0);
    }
  }, 10);
});
"#;
    let s = agent(sensors, script, None, "");
    let run = run(&s);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let st = &results(&run)[0];
    assert_eq!(st["state"], "offline");
    assert_eq!(st["lastError"]["code"], "ENXIO", "{st}");
    assert!(!run.stderr.contains("uncaught"), "{}", run.stderr);
    assert!(
        Path::new(&s.path("state")).is_dir(),
        "the state folder was used"
    );
}
