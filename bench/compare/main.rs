//! Ganglion against Node.js 20 + MQTT.js 5 (issue #9), measured side by side in one run, with a
//! plain Rust rumqttc publisher as the ceiling. Printed and written to docs/benchmarks.md and
//! docs/benchmarks.svg; never asserted (targets are reported as met or missed).
//!
//! Run: `cargo bench -p ganglion --bench compare` (builds the release binary with the bench
//! profile: release + symbols). Options after `--`: `--runs N` (default 3), `--events N`
//! (readings per throughput run, default 100000), `--sustained N` (readings per sustained
//! throughput run, default 1000000; 0 skips them), `--inflight N` (default 100), `--only
//! load|sustained|parts|start|edge|verify` (one figure; implies `--no-docs`), `--no-docs`
//! (print only).
//! `GANGLION_BIN` / `NODE` override the programs under test.
//!
//! What it does: Mosquitto installed if missing (tests/setup.sh); `npm ci` in bench/node;
//! Mosquitto on a free 127.0.0.1 port; for each figure the three runtimes in turn (ceiling,
//! Ganglion, Node), `--runs` times, as fresh processes:
//! - throughput: `--events` readings → handler → publish at QoS 0 (until written to the
//!   socket) and QoS 1 (until every PUBACK; Ganglion's durable queue on, fsync batch); also
//!   idle RSS (1 s after connect) and peak RSS (VmHWM at the end) of each process;
//! - sustained: the same with `--sustained` readings, ten times as many: the socket buffers'
//!   share of a QoS 0 run and the JIT's warm-up shrink, the queue's backlog grows;
//! - parts: no MQTT, µs per reading of the workload's generator alone and of generator →
//!   emit → handler (a publish that only counts bytes), to show where a reading's time goes;
//! - start: process start → the PUBACK of its first message, seen on the wire by a relay;
//! - edge: a 10 ms pulse (sim board / timer) → handler → PUBLISH seen by the relay, p50/p99;
//! - verify: one more QoS 1 run each, of `--sustained` readings (`--events` without sustained
//!   runs), with a subscriber that checks every message's bytes: Ganglion's backlog then goes
//!   through the queue's cold segments.
//!
//! Everything it starts (broker, relay, processes) is stopped before it returns.

#![allow(clippy::print_stdout)]

mod broker;
mod ceiling;
/// The tests' Mosquitto helpers; the bench uses where the binary is and a free port.
#[allow(dead_code)]
#[path = "../../tests/common/mosquitto.rs"]
mod mosquitto;
mod procs;
mod relay;
mod report;
mod workload;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ganglion_devices::gpio::monotonic_ns;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::json;

use broker::Broker;
use procs::{Proc, Runtime, Setup};
use relay::{Relay, Seen};
use report::{EdgeRun, LoadRun, Machine, Parts, Results, Verify};

/// Readings emitted per macrotask before waiting for the runtime to accept them.
const BATCH: u64 = 1000;
/// Edges per latency run (after the warm-up ones), 10 ms apart.
const EDGES: u64 = 300;
/// Edges discarded at the start of a latency run.
const EDGE_WARMUP: u64 = 20;
/// Period of the simulated pulse (bench/workload/board.toml has the same).
const EDGE_PERIOD_MS: u64 = 10;
/// Idle time after connect before the idle RSS is read.
const IDLE_SETTLE: Duration = Duration::from_secs(1);
/// Longest wait for anything; only turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(300);

struct Args {
    runs: usize,
    events: u64,
    sustained: u64,
    inflight: u64,
    docs: bool,
    only: Option<String>,
}

impl Args {
    fn wants(&self, figure: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == figure)
    }
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        runs: 3,
        events: 100_000,
        sustained: 1_000_000,
        inflight: 100,
        docs: true,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--runs" => a.runs = value("--runs")?.max(1) as usize,
            "--events" => a.events = value("--events")?.max(10),
            "--sustained" => a.sustained = value("--sustained")?,
            "--inflight" => a.inflight = value("--inflight")?.clamp(1, 65_535),
            "--no-docs" => a.docs = false,
            "--only" => {
                let figure = it.next().unwrap_or_default();
                let figures = ["load", "sustained", "parts", "start", "edge", "verify"];
                if !figures.contains(&figure.as_str()) {
                    return Err(format!(
                        "--only takes load, sustained, parts, start, edge or verify, not {figure:?}"
                    ));
                }
                a.only = Some(figure);
                a.docs = false;
            }
            "--bench" => {} // added by `cargo bench`
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(a)
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--ceiling-child") {
        ceiling::child(argv.get(2).map(String::as_str).unwrap_or("{}"));
        return;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()))
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(
                "{e}; usage: compare [--runs N] [--events N] [--sustained N] [--inflight N] [--only FIGURE] [--no-docs]"
            );
            std::process::exit(2);
        }
    };
    let results = run(&args);
    let table = report::markdown(&results);
    println!("{table}");
    if args.docs {
        let root = root();
        report::write_docs(&root.join("docs/benchmarks.md"), &table)
            .unwrap_or_else(|e| panic!("docs/benchmarks.md: {e}"));
        std::fs::write(root.join("docs/benchmarks.svg"), report::svg(&results))
            .expect("write docs/benchmarks.svg");
        tracing::info!("wrote docs/benchmarks.md and docs/benchmarks.svg");
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the agent crate lives in the repository")
        .to_owned()
}

fn run(args: &Args) -> Results {
    let root = root();
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("scratch folder");
    let setup = Setup {
        ganglion: std::env::var_os("GANGLION_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ganglion"))),
        node: std::env::var_os("NODE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("node")),
        me: std::env::current_exe().expect("this executable"),
        scratch: scratch.path().to_owned(),
        root: root.clone(),
        inflight: args.inflight,
    };
    install_broker(&root);
    npm_ci(&root.join("bench/node"));
    let broker = Broker::start(scratch.path());
    let relay = Relay::start(broker.port());
    let mut machine = Machine::probe(&setup, &broker.version);
    tracing::info!(
        "Mosquitto on 127.0.0.1:{}, relay on 127.0.0.1:{}; load average {}",
        broker.port(),
        relay.port(),
        machine.load_start
    );
    let ctl = Control::connect(broker.port());
    let mut results = Results::new(args.runs, args.events, args.inflight, BATCH);
    results.sustained_events = args.sustained;

    // The throughput runs, then the sustained ones (`--sustained` readings each).
    let (load, sustained) = (&mut results.load, &mut results.sustained);
    for (figure, events, runs) in [
        ("load", args.events, load),
        ("sustained", args.sustained, sustained),
    ] {
        if !args.wants(figure) || events == 0 {
            continue;
        }
        for r in 0..args.runs {
            for qos in [0u8, 1] {
                for rt in Runtime::ALL {
                    let tag = format!("{figure}{qos}-{r}");
                    let (run, code) = load_run(&setup, &ctl, &broker, rt, qos, events, &tag);
                    results.idle_code.extend(code);
                    tracing::info!(
                        "{figure} run {}/{} QoS {qos} {:>8}: {:>7.0} events/s (accepted at {:.0}/s, read by the broker at {:.0}/s), CPU {:.2} s user + {:.2} s sys, idle {:.1} MB, peak {:.1} MB, broker busy {:.0} %, {:.2} µs per message",
                        r + 1,
                        args.runs,
                        rt.name(),
                        run.rate,
                        run.accept_rate,
                        run.read_rate,
                        run.cpu_user_s,
                        run.cpu_sys_s,
                        run.idle_kb as f64 / 1024.0,
                        run.peak_kb as f64 / 1024.0,
                        run.broker_share * 100.0,
                        run.broker_us
                    );
                    runs.entry((rt, qos)).or_default().push(run);
                }
            }
        }
    }
    machine.load_mid = loadavg();
    for r in (0..args.runs).filter(|_| args.wants("parts")) {
        for rt in Runtime::ALL {
            let p = parts_run(
                &setup,
                broker.port(),
                rt,
                args.events,
                &format!("parts-{r}"),
            );
            tracing::info!(
                "parts {} {:>8}: generator {:.3} µs per reading, generator → handler {:.3} µs",
                r + 1,
                rt.name(),
                p.generator_us,
                p.handler_us
            );
            results.parts.entry(rt).or_default().push(p);
        }
    }
    for r in (0..args.runs.max(5)).filter(|_| args.wants("start")) {
        for rt in Runtime::ALL {
            let (ms, connect) = start_run(&setup, &relay, rt, &format!("start-{r}"));
            tracing::info!(
                "start {} {:>8}: {ms:.1} ms to the first PUBACK ({connect:.1} ms to CONNECT)",
                r + 1,
                rt.name()
            );
            results.start.entry(rt).or_default().push(ms);
        }
    }
    for r in (0..args.runs).filter(|_| args.wants("edge")) {
        for qos in [0u8, 1] {
            for rt in Runtime::ALL {
                let e = edge_run(&setup, &relay, rt, qos, &format!("edge{qos}-{r}"));
                tracing::info!(
                    "edge {} QoS {qos} {:>8}: {} edges, p50 {:.0} µs, p99 {:.0} µs (handler → wire p50 {:.0} µs)",
                    r + 1,
                    rt.name(),
                    e.samples,
                    e.p50_us,
                    e.p99_us,
                    e.js_p50_us
                );
                results.edge.entry((rt, qos)).or_default().push(e);
            }
        }
    }
    // The long run, where Ganglion's queue holds a backlog of hundreds of thousands of
    // messages and reads most of them back from disk.
    results.verify_events = match args.sustained {
        0 => args.events,
        n => n,
    };
    for rt in Runtime::ALL.into_iter().filter(|_| args.wants("verify")) {
        let v = verify_run(&setup, &ctl, &broker, rt, results.verify_events);
        tracing::info!(
            "verify {:>8}: {}/{} distinct messages as expected, {} duplicates, {} unexpected",
            rt.name(),
            v.matched,
            v.expected,
            v.duplicates,
            v.unexpected
        );
        results.verify.insert(rt, v);
    }
    machine.load_end = loadavg();
    results.machine = machine;
    drop(ctl);
    drop(relay);
    drop(broker);
    results
}

/// Mosquitto as the tests get it: `tests/setup.sh` installs what is missing from Debian's
/// packages (idempotent), so the bench runs on a fresh machine like the test command does.
fn install_broker(root: &Path) {
    if mosquitto::mosquitto_binary().is_file() {
        return;
    }
    tracing::info!("mosquitto not found: running tests/setup.sh");
    let status = Command::new("bash")
        .arg(root.join("tests/setup.sh"))
        .status()
        .expect("bash");
    assert!(
        status.success() && mosquitto::mosquitto_binary().is_file(),
        "tests/setup.sh did not install mosquitto: apt-get install -y mosquitto"
    );
}

/// `npm ci` in bench/node: MQTT.js exactly as locked in package-lock.json.
fn npm_ci(dir: &Path) {
    tracing::info!("npm ci in {}", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("npm (Node.js 20 and npm must be installed)");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// /proc/loadavg's first three fields.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The driver's MQTT client that says 'go' to a waiting process.
struct Control {
    client: Client,
}

impl Control {
    fn connect(port: u16) -> Control {
        let mut options = MqttOptions::new("bench-control", "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut connection) = Client::new(options, 16);
        std::thread::spawn(move || {
            for event in connection.iter() {
                if event.is_err() {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        Control { client }
    }

    fn go(&self, run: &str) {
        self.client
            .publish(format!("bench/ctl/{run}"), QoS::AtLeastOnce, false, "go")
            .expect("control: publish go");
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
    }
}

/// The broker's count of waits (its thread blocked: in epoll_wait with nothing to read) in
/// /proc/<pid>/status. Each costs it a sleep and a wake-up on top of the message's work.
const WAITS: &str = "voluntary_ctxt_switches:";

/// One throughput run: fresh process, idle RSS after connect (and, for Ganglion, where its code
/// is resident then), 'go', events/s, peak RSS, and how busy the broker was meanwhile.
fn load_run(
    setup: &Setup,
    ctl: &Control,
    broker: &Broker,
    rt: Runtime,
    qos: u8,
    events: u64,
    tag: &str,
) -> (LoadRun, Option<report::IdleCode>) {
    let opts = json!({ "mode": "load", "qos": qos, "n": events, "batch": BATCH, "run": format!("{}-{tag}", rt.name()) });
    let run_id = format!("{}-{tag}", rt.name());
    let mut p = Proc::spawn(setup.command(rt, &opts, broker.port(), tag), &run_id);
    p.wait_event("ready", LIMIT);
    std::thread::sleep(IDLE_SETTLE);
    let idle_kb = p.status_kb("VmRSS:");
    let idle_anon_kb = p.status_kb("RssAnon:");
    let idle_code = match rt {
        Runtime::Ganglion => report::idle_code(&setup.root, &setup.ganglion, p.pid()),
        _ => None,
    };
    let (user0, sys0) = p.cpu_seconds();
    let (broker0, since) = (procs::cpu_seconds(broker.pid()), Instant::now());
    let waits0 = procs::status_field(broker.pid(), WAITS);
    ctl.go(&run_id);
    let done = p.wait_event("done", LIMIT);
    let (user1, sys1) = p.cpu_seconds();
    let (broker1, wall) = (procs::cpu_seconds(broker.pid()), since.elapsed());
    let peak_kb = p.status_kb("VmHWM:");
    // QoS 0 runs end again once the broker has read every message ('read', see readEnd in
    // common.mjs); a QoS 1 run's last PUBACK already says so.
    let (read_ms, broker_read) = if qos == 0 {
        let read = p.wait_event("read", LIMIT);
        (read["ms"].as_f64(), procs::cpu_seconds(broker.pid()))
    } else {
        (done["ms"].as_f64(), broker1)
    };
    let waits = procs::status_field(broker.pid(), WAITS).saturating_sub(waits0);
    p.stop();
    let ms = done["ms"].as_f64().expect("done.ms");
    let accepted = done["acceptedMs"].as_f64().unwrap_or(ms);
    let messages = workload::messages_for(events).max(1) as f64;
    let run = LoadRun {
        read_rate: read_ms.map_or(0.0, |ms| events as f64 / (ms / 1000.0)),
        broker_us: (broker_read.0 + broker_read.1 - broker0.0 - broker0.1) * 1e6 / messages,
        broker_waits: waits as f64 * 1000.0 / messages,
        rate: events as f64 / (ms / 1000.0),
        accept_rate: events as f64 / (accepted / 1000.0),
        idle_kb,
        idle_anon_kb,
        peak_kb,
        cpu_user_s: user1 - user0,
        cpu_sys_s: sys1 - sys0,
        broker_share: (broker1.0 + broker1.1 - broker0.0 - broker0.1) / wall.as_secs_f64(),
    };
    (run, idle_code)
}

/// The workload's JavaScript (or the ceiling's Rust) alone, in a fresh process: µs per reading
/// of the generator and of generator → handler, `events` readings each.
fn parts_run(setup: &Setup, port: u16, rt: Runtime, events: u64, tag: &str) -> Parts {
    let opts = json!({ "mode": "parts", "n": events, "batch": BATCH });
    let mut p = Proc::spawn(
        setup.command(rt, &opts, port, tag),
        &format!("{}-{tag}", rt.name()),
    );
    let done = p.wait_event("done", LIMIT);
    p.stop();
    let us = |key: &str| {
        done[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: parts without {key}: {done}", rt.name()))
    };
    Parts {
        generator_us: us("generatorUs"),
        handler_us: us("handlerUs"),
    }
}

/// Process start → the PUBACK of its first message (bench/start, QoS 1), on the relay's clock,
/// and process start → its CONNECT, in ms.
fn start_run(setup: &Setup, relay: &Relay, rt: Runtime, tag: &str) -> (f64, f64) {
    relay.drain();
    let opts = json!({ "mode": "start" });
    let cmd = setup.command(rt, &opts, relay.port(), tag);
    let t0 = monotonic_ns();
    let p = Proc::spawn(cmd, &format!("{}-{tag}", rt.name()));
    let start = Instant::now();
    // The relay reports each direction from its own thread: a PUBACK may be reported before
    // the PUBLISH it acknowledges.
    let mut publish: Option<(u64, u16)> = None;
    let mut acks: HashMap<(u64, u16), u64> = HashMap::new();
    let mut connect = t0;
    let acked = loop {
        if let Some(t) = publish.and_then(|p| acks.get(&p)) {
            break *t;
        }
        let left = LIMIT.saturating_sub(start.elapsed());
        match relay.seen().recv_timeout(left) {
            Ok(Seen::Connect { t }) => connect = t,
            Ok(Seen::Publish {
                conn, topic, pkid, ..
            }) if topic == "bench/start" => publish = Some((conn, pkid)),
            Ok(Seen::PubAck { conn, t, pkid }) => {
                acks.entry((conn, pkid)).or_insert(t);
            }
            Ok(_) => {}
            Err(e) => panic!(
                "{}: no PUBACK for bench/start within {LIMIT:?} ({e})",
                rt.name()
            ),
        }
    };
    p.stop();
    let ms = |t: u64| t.saturating_sub(t0) as f64 / 1e6;
    (ms(acked), ms(connect))
}

/// Edge → PUBLISH on the wire, per edge, after the warm-up: (edge, handler start) latencies.
fn edge_run(setup: &Setup, relay: &Relay, rt: Runtime, qos: u8, tag: &str) -> EdgeRun {
    relay.drain();
    let total = EDGES + EDGE_WARMUP;
    let opts = json!({ "mode": "edge", "qos": qos, "edges": total, "pin": 27, "periodMs": EDGE_PERIOD_MS });
    let mut p = Proc::spawn(
        setup.command(rt, &opts, relay.port(), tag),
        &format!("{}-{tag}", rt.name()),
    );
    p.wait_event("ready", LIMIT);
    p.wait_event("done", LIMIT);
    let mut edge_us = Vec::new();
    let mut js_us = Vec::new();
    let mut seqs = HashSet::new();
    let start = Instant::now();
    while (seqs.len() as u64) < total && start.elapsed() < Duration::from_secs(5) {
        let Ok(seen) = relay.seen().recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let Seen::Publish {
            t, topic, payload, ..
        } = seen
        else {
            continue;
        };
        if topic != "bench/edge" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&payload).expect("edge payload");
        let (seq, edge, js) = (
            v["seq"].as_u64().expect("seq"),
            v["edge"].as_f64().expect("edge") as u64,
            v["js"].as_f64().expect("js") as u64,
        );
        if !seqs.insert(seq) || seq < EDGE_WARMUP {
            continue;
        }
        edge_us.push(t.saturating_sub(edge) as f64 / 1000.0);
        js_us.push(t.saturating_sub(js) as f64 / 1000.0);
    }
    p.stop();
    assert!(
        edge_us.len() as u64 >= EDGES * 9 / 10,
        "{}: only {} of {EDGES} edges reached the wire",
        rt.name(),
        edge_us.len()
    );
    EdgeRun {
        p50_us: report::percentile(&mut edge_us, 50.0),
        p99_us: report::percentile(&mut edge_us, 99.0),
        js_p50_us: report::percentile(&mut js_us, 50.0),
        js_p99_us: report::percentile(&mut js_us, 99.0),
        samples: edge_us.len(),
    }
}

/// A QoS 1 run with a subscriber that compares every delivered message with the expected bytes.
fn verify_run(setup: &Setup, ctl: &Control, broker: &Broker, rt: Runtime, events: u64) -> Verify {
    let port = broker.port();
    let expected: HashSet<u64> = workload::messages(events)
        .map(|(t, p)| workload::digest(t.as_bytes(), p.as_bytes()))
        .collect();
    let seen: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let subscribed = Arc::new(AtomicBool::new(false));
    let mut options = MqttOptions::new(format!("bench-verify-{}", rt.name()), "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(options, 64);
    client
        .subscribe("bench/+", QoS::AtLeastOnce)
        .expect("verify: subscribe");
    let (s, sub) = (seen.clone(), subscribed.clone());
    let reader = std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::SubAck(_))) => sub.store(true, Ordering::SeqCst),
                Ok(Event::Incoming(Packet::Publish(m))) if m.topic.starts_with("bench/bme280") => {
                    let d = workload::digest(m.topic.as_bytes(), &m.payload);
                    if let Ok(mut s) = s.lock() {
                        *s.entry(d).or_default() += 1;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let start = Instant::now();
    while !subscribed.load(Ordering::SeqCst) {
        assert!(start.elapsed() < LIMIT, "verify: no SUBACK");
        std::thread::sleep(Duration::from_millis(10));
    }
    load_run(setup, ctl, broker, rt, 1, events, "verify");
    // Wait until the subscriber has everything (or nothing new came for 5 s).
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let n = seen.lock().map(|s| s.len()).unwrap_or(0);
        if n >= expected.len() || since.elapsed() > Duration::from_secs(5) {
            break;
        }
        if n != last {
            (last, since) = (n, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = client.disconnect();
    drop(reader); // its connection ends with the disconnect
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    Verify {
        expected: expected.len() as u64,
        matched: seen.keys().filter(|d| expected.contains(d)).count() as u64,
        duplicates: seen.values().map(|c| u64::from(c.saturating_sub(1))).sum(),
        unexpected: seen.keys().filter(|d| !expected.contains(d)).count() as u64,
    }
}
