//! Sensor benchmark (issue #6), printed as figures, never asserted: readings per second delivered
//! to a JS 'reading' handler across 50 simulated sensors read every 10 ms (their minimum
//! interval), through the real binary on a simulated board written here.
//!
//! - `pulse`: 50 pulse counters (GPIO edge counting, no bus wait): the cost of the pipeline
//!   itself (sensor tasks, queue, pump, JS delivery); the ceiling is 50 × 100 = 5000 readings/s.
//! - `mixed`: 30 register-level simulated I2C chips (SHT31, BME280, ADS1115 on 5 buses, with the
//!   drivers' real measurement waits) plus 20 pulse counters.
//!
//! For each: delivered readings/s over a 5 s window after 1 s of warm-up, readings dropped,
//! errors, CPU use of the whole agent process and its RSS.
//!
//! Run: `cargo bench -p ganglion --bench sensors`.

#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WARMUP_MS: u64 = 1000;
const WINDOW_MS: u64 = 5000;

fn main() {
    for (name, pulses, buses) in [("pulse", 50, 0), ("mixed", 20, 5)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (board, sensors) = setup(pulses, buses);
        assert_eq!(sensors.matches("[[sensors]]").count(), 50);
        let config = format!(
            "[agent]\nscripts = \".\"\nentry = \"main.js\"\nstate_dir = \"state\"\nboard = \"board.toml\"\n{sensors}"
        );
        std::fs::write(dir.path().join("ganglion.toml"), config).expect("write");
        std::fs::write(dir.path().join("board.toml"), board).expect("write");
        std::fs::write(dir.path().join("main.js"), SCRIPT).expect("write");
        let m = measure(&dir.path().join("ganglion.toml"));
        println!(
            "{name}: {:.0} readings/s delivered to JS from 50 sensors at 10 ms ({} sensors reporting, \
             {} dropped, {} errors in the window); agent CPU {:.0}% of one core, RSS {:.1} MB",
            m.rate,
            m.reporting,
            m.dropped,
            m.errors,
            m.cpu_percent,
            m.rss_kb as f64 / 1024.0
        );
    }
}

/// Count readings in the window; report rate, drops and errors.
const SCRIPT: &str = r#"
import sensors from 'ganglion:sensors';
let n = 0;
sensors.on('reading', () => { n++; });
const totals = () => sensors.list().map((s) => sensors.get(s.name).stats());
setTimeout(() => {
  const n0 = n;
  const t0 = performance.now();
  const before = totals();
  setTimeout(() => {
    const seconds = (performance.now() - t0) / 1000;
    const after = totals();
    const sum = (k) => after.reduce((a, s, i) => a + s[k] - before[i][k], 0);
    const reporting = after.filter((s, i) => s.delivered > before[i].delivered).length;
    console.log('RESULT ' + JSON.stringify({
      rate: (n - n0) / seconds, dropped: sum('dropped'), errors: sum('errors'), reporting,
    }));
    process.exit(0);
  }, WINDOW);
}, WARMUP);
"#;

/// A board with `pulses` pulse inputs and `buses` I2C buses of six chips each, and one sensor
/// per input and chip.
fn setup(pulses: u32, buses: u32) -> (String, String) {
    let mut board = String::from("name = \"bench\"\npins = [\n");
    for p in 0..pulses {
        let _ = writeln!(
            board,
            "  {{ number = {p}, names = [\"GPIO{p}\"], chip = \"main\", line = {p} }},"
        );
    }
    board.push_str("]\n[[gpio.chips]]\nid = \"main\"\nlabel = \"bench-sim\"\nlines = 64\n");
    for b in 1..=buses.max(1) {
        let _ = writeln!(board, "[[i2c]]\nbus = {b}");
    }
    board.push_str("[sim]\ninputs = [\n");
    for p in 0..pulses {
        let _ = writeln!(
            board,
            "  {{ pin = {p}, pulse_every_ms = 5, pulse_width_ms = 1 }},"
        );
    }
    board.push_str("]\ni2c = [\n");
    let chips = [
        (0x44, "sht31", "sht31", ""),
        (0x45, "sht31", "sht31", ""),
        (0x76, "bme280", "bme280", ""),
        (0x77, "bme280", "bme280", ""),
        (
            0x48,
            "ads1115",
            "ads1115",
            "options = { channels = [0], data_rate = 860 }\n",
        ),
        (
            0x49,
            "ads1115",
            "ads1115",
            "options = { channels = [0], data_rate = 860 }\n",
        ),
    ];
    let mut sensors = String::new();
    for b in 1..=buses {
        for (addr, kind, driver, options) in chips {
            let _ = writeln!(
                board,
                "  {{ bus = {b}, address = {addr:#04x}, kind = \"{kind}\" }},"
            );
            let _ = write!(
                sensors,
                "[[sensors]]\nname = \"{kind}-{b}-{addr:x}\"\ndriver = \"{driver}\"\nbus = {b}\n\
                 address = {addr:#04x}\ninterval = \"10ms\"\n{options}\n"
            );
        }
    }
    board.push_str("]\n");
    for p in 0..pulses {
        let _ = write!(
            sensors,
            "[[sensors]]\nname = \"pulse-{p}\"\ndriver = \"pulse\"\npin = {p}\ninterval = \"10ms\"\n\n"
        );
    }
    (board, sensors)
}

struct Measured {
    rate: f64,
    dropped: u64,
    errors: u64,
    reporting: u64,
    cpu_percent: f64,
    rss_kb: u64,
}

fn measure(config: &std::path::Path) -> Measured {
    let script_dir = config.parent().expect("dir");
    let main = std::fs::read_to_string(script_dir.join("main.js")).expect("main.js");
    let main = main
        .replace("WARMUP", &WARMUP_MS.to_string())
        .replace("WINDOW", &WINDOW_MS.to_string());
    std::fs::write(script_dir.join("main.js"), main).expect("write");
    let child = Command::new(env!("CARGO_BIN_EXE_ganglion"))
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ganglion");
    let pid = child.id();
    let start = Instant::now();
    // Sample the agent's CPU time (utime + stime, clock ticks) and RSS while it runs.
    let mut samples: Vec<(Duration, u64, u64)> = Vec::new();
    let output = std::thread::scope(|s| {
        let waiter = s.spawn(move || child.wait_with_output().expect("wait"));
        while !waiter.is_finished() {
            if let Some((ticks, rss)) = proc_sample(pid) {
                samples.push((start.elapsed(), ticks, rss));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        waiter.join().expect("waiter")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no result:\n{stderr}"));
    let json = line.rsplit_once(" script=").map_or(line, |(j, _)| j);
    let v: serde_json::Value = serde_json::from_str(json).expect("result JSON");
    let warm = Duration::from_millis(WARMUP_MS + 300);
    let first = samples.iter().find(|s| s.0 >= warm).copied();
    let last = samples.last().copied();
    let cpu_percent = match (first, last) {
        (Some(a), Some(b)) if b.0 > a.0 => {
            (b.1 - a.1) as f64 / 100.0 / (b.0 - a.0).as_secs_f64() * 100.0
        }
        _ => f64::NAN,
    };
    Measured {
        rate: v["rate"].as_f64().unwrap_or(0.0),
        dropped: v["dropped"].as_u64().unwrap_or(0),
        errors: v["errors"].as_u64().unwrap_or(0),
        reporting: v["reporting"].as_u64().unwrap_or(0),
        cpu_percent,
        rss_kb: samples.iter().map(|s| s.2).max().unwrap_or(0),
    }
}

/// (utime + stime in clock ticks, VmRSS in kB) of `pid`.
fn proc_sample(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks, rss))
}
