//! MQTT benchmark (issue #5), printed as figures, never asserted. Against a Mosquitto on a free
//! 127.0.0.1 port, in one run:
//! - the ceiling: a plain rumqttc publisher (no JS, no durable queue) sending the same messages
//!   (the same JSON readings on the same topic) at QoS 0 and QoS 1, 100 in flight like the agent;
//! - Ganglion: `ganglion run` with a script where simulated readings go through an EventEmitter
//!   to the user's handler, which publishes each one; events/s at QoS 0 and QoS 1 (durable queue
//!   on its default `fsync = "batch"` every 100 ms, on the target directory's disk), from the
//!   first publish until the last one left the queue (QoS 0: written to the socket; QoS 1:
//!   PUBACK received);
//! - RSS of that agent: connected and idle before the load, peak (VmHWM), idle after the load;
//! - start-up: process start to the broker forwarding the first QoS 1 publish of a fresh agent
//!   (median of 5).
//!
//! Run: `cargo bench -p ganglion --bench mqtt`.

#[allow(dead_code)]
#[path = "../tests/common/mosquitto.rs"]
mod mosquitto;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mosquitto::{Mosquitto, Observer};
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Outgoing, Packet, QoS};

/// Messages per measured run.
const QOS0_MESSAGES: u64 = 200_000;
const QOS1_MESSAGES: u64 = 100_000;
/// Readings emitted before the script waits for the last publish to be accepted.
const BATCH: u64 = 1_000;
/// The topic every reading goes to (the agent's prefix is `ganglion/bench`).
const TOPIC: &str = "ganglion/bench/readings/climate";
/// Longest wait for anything; only turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(300);

/// The JSON the script's handler publishes for reading `i` (`JSON.stringify` of the reading).
fn reading(i: u64) -> String {
    let temperature = (2150 + i % 100) as f64 / 100.0;
    let humidity = (400 + i % 50) as f64 / 10.0;
    format!(
        "{{\"sensor\":\"climate\",\"time\":{},\"temperature\":{temperature},\"humidity\":{humidity},\"seq\":{i}}}",
        1_763_884_800_000u64 + i
    )
}

const SCRIPT: &str = r#"
import mqtt from 'ganglion:mqtt';
import EventEmitter from 'events';

// Simulated readings, delivered like sensor readings: an emitter the user's handler listens to.
const source = new EventEmitter();
const reading = (i) => ({
  sensor: 'climate',
  time: 1763884800000 + i,
  temperature: (2150 + (i % 100)) / 100,
  humidity: (400 + (i % 50)) / 10,
  seq: i,
});

// The user's handler.
let qos = 0;
let last;
const topic = mqtt.topic('readings', 'climate');
source.on('reading', (r) => {
  last = mqtt.publish(topic, r, { qos });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function phase(name, q, n) {
  qos = q;
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    for (let k = 0; k < BATCH && i + k < n; k++) source.emit('reading', reading(i + k));
    await last; // publishes settle in order: the whole batch is accepted
  }
  const accepted = performance.now();
  while (!(mqtt.stats().queued === 0 && mqtt.stats().inflight === 0)) await sleep(1);
  const t1 = performance.now();
  console.log(`phase ${name} ${n} ${t1 - t0} ${accepted - t0}`);
}

await mqtt.publish(mqtt.topic('sample'), reading(0), { qos: 1 });
await mqtt.subscribe(mqtt.topic('go'), async () => {
  await phase('warmup', 0, 20000);
  await phase('qos0', 0, QOS0);
  await phase('qos1', 1, QOS1);
  console.log('stats ' + JSON.stringify(mqtt.stats()));
  console.log('finished');
}, { qos: 1 });
console.log('ready');
"#;

fn out(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
}

fn main() {
    let broker = Mosquitto::start();
    let port = broker.port();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    out(&format!(
        "MQTT benchmark: Mosquitto on 127.0.0.1:{port}, {}-byte JSON readings on {TOPIC}",
        reading(0).len()
    ));

    let c0 = ceiling(port, QoS::AtMostOnce, QOS0_MESSAGES);
    let c1 = ceiling(port, QoS::AtLeastOnce, QOS1_MESSAGES);
    out(&format!(
        "ceiling (plain rumqttc, no JS, no queue): QoS 0 {:.0} msg/s, QoS 1 {:.0} msg/s",
        c0, c1
    ));

    let g = ganglion_run(port, dir.path());
    out(&format!(
        "ganglion (reading -> handler -> mqtt.publish): QoS 0 {:.0} events/s ({:.0}% of the ceiling; accepted at {:.0}/s), QoS 1 {:.0} events/s ({:.0}% of the ceiling; accepted at {:.0}/s; queue fsync batch 100 ms)",
        g.qos0.rate(),
        100.0 * g.qos0.rate() / c0,
        g.qos0.accept_rate(),
        g.qos1.rate(),
        100.0 * g.qos1.rate() / c1,
        g.qos1.accept_rate(),
    ));
    out(&format!(
        "ganglion RSS: idle connected {:.1} MB, peak {:.1} MB, idle after the load {:.1} MB",
        g.idle_before_kb as f64 / 1024.0,
        g.peak_kb as f64 / 1024.0,
        g.idle_after_kb as f64 / 1024.0
    ));
    out(&format!("ganglion stats after the run: {}", g.stats));
    out(&format!(
        "same bytes as the ceiling: {}",
        if g.sample == reading(0) {
            "yes".to_owned()
        } else {
            format!("NO: {} vs {}", g.sample, reading(0))
        }
    ));

    let mut starts: Vec<Duration> = (0..5).map(|i| startup(port, dir.path(), i)).collect();
    starts.sort();
    out(&format!(
        "start-up to the first acknowledged publish (process start to the broker forwarding it): median {:.1} ms, min {:.1} ms, max {:.1} ms (5 runs)",
        ms(starts[2]),
        ms(starts[0]),
        ms(starts[4])
    ));
    drop(broker);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Messages per second of a plain rumqttc client: from the first publish until the last one
/// was written (QoS 0) or acknowledged (QoS 1).
fn ceiling(port: u16, qos: QoS, n: u64) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut options = MqttOptions::new(format!("ceiling-{}", qos as u8), "127.0.0.1", port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_inflight(100)
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 1_000);
        let mut network = NetworkOptions::new();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => break,
                Ok(_) => {}
                Err(e) => panic!("ceiling client cannot connect: {e}"),
            }
        }
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            for i in 0..n {
                client
                    .publish(TOPIC, qos, false, reading(i))
                    .await
                    .expect("publish");
            }
            client
        });
        let mut done = 0;
        while done < n {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Publish(_))) if qos == QoS::AtMostOnce => done += 1,
                Ok(Event::Incoming(Packet::PubAck(_))) => done += 1,
                Ok(_) => {}
                Err(e) => panic!("ceiling client lost its connection: {e}"),
            }
        }
        let elapsed = start.elapsed();
        let client = producer.await.expect("producer");
        let _ = client.disconnect().await;
        n as f64 / elapsed.as_secs_f64()
    })
}

/// One measured phase, as the script reported it.
#[derive(Debug, Default, Clone, Copy)]
struct Phase {
    messages: f64,
    /// First publish to the last one out of the queue.
    ms: f64,
    /// First publish to the last promise settled (durably accepted).
    accepted_ms: f64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.messages / (self.ms / 1000.0)
    }
    fn accept_rate(&self) -> f64 {
        self.messages / (self.accepted_ms / 1000.0)
    }
}

struct GanglionRun {
    qos0: Phase,
    qos1: Phase,
    idle_before_kb: u64,
    peak_kb: u64,
    idle_after_kb: u64,
    stats: String,
    sample: String,
}

/// The agent with its stderr collected in the background.
struct Agent {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Agent {
    fn spawn(config: &Path) -> Agent {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_ganglion"))
            .args(["run", "--config"])
            .arg(config)
            .env("GANGLION_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ganglion");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                }
                line.clear();
            }
        });
        Agent { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Script lines (console.log) so far.
    fn script_lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.split_once(" script: ").map(|(_, m)| m))
            .filter_map(|m| m.rfind(" script=").map(|i| m[..i].to_owned()))
            .collect()
    }

    fn wait_for_line(&self, prefix: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self
                .script_lines()
                .into_iter()
                .find(|l| l.starts_with(prefix))
            {
                return l;
            }
            if start.elapsed() > LIMIT {
                panic!("no script line {prefix:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A `VmRSS`/`VmHWM`-style field of /proc/<pid>/status, in kB.
    fn status_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_agent(dir: &Path, name: &str, script: &str, port: u16) -> std::path::PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("main.js"), script).expect("write script");
    let config = folder.join("ganglion.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nid = \"bench\"\nscripts = \".\"\nentry = \"main.js\"\nstate_dir = \"state\"\n\
             [mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\nclient_id = \"{name}\"\n"
        ),
    )
    .expect("write config");
    config
}

fn ganglion_run(port: u16, dir: &Path) -> GanglionRun {
    let observer = Observer::connect(port, "bench-observer", &["ganglion/bench/sample"], false);
    let script = SCRIPT
        .replace("BATCH", &BATCH.to_string())
        .replace("QOS0", &QOS0_MESSAGES.to_string())
        .replace("QOS1", &QOS1_MESSAGES.to_string());
    let agent = Agent::spawn(&write_agent(dir, "load", &script, port));
    agent.wait_for_line("ready");
    let sample = observer.expect("the sample reading").text;
    std::thread::sleep(Duration::from_millis(1000));
    let idle_before_kb = agent.status_kb("VmRSS:");
    observer.publish("ganglion/bench/go", "go", false);
    agent.wait_for_line("finished");
    let peak_kb = agent.status_kb("VmHWM:");
    std::thread::sleep(Duration::from_millis(2000));
    let idle_after_kb = agent.status_kb("VmRSS:");
    let lines = agent.script_lines();
    let phase = |name: &str| {
        let line = lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("phase {name} ")))
            .unwrap_or_else(|| panic!("no phase {name} in {lines:?}"));
        let v: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        Phase {
            messages: v[0],
            ms: v[1],
            accepted_ms: v[2],
        }
    };
    let run = GanglionRun {
        qos0: phase("qos0"),
        qos1: phase("qos1"),
        idle_before_kb,
        peak_kb,
        idle_after_kb,
        stats: lines
            .iter()
            .find_map(|l| l.strip_prefix("stats "))
            .unwrap_or_default()
            .to_owned(),
        sample,
    };
    agent.stop();
    run
}

/// Process start to the broker forwarding the first QoS 1 publish of a fresh agent.
fn startup(port: u16, dir: &Path, i: usize) -> Duration {
    let name = format!("start{i}");
    let topic = format!("ganglion/bench/first{i}");
    let observer = Observer::connect(port, &format!("bench-start-observer{i}"), &[&topic], false);
    let script = format!(
        "import mqtt from 'ganglion:mqtt';\nawait mqtt.publish('{topic}', 'first', {{ qos: 1 }});\n"
    );
    let config = write_agent(dir, &name, &script, port);
    let start = Instant::now();
    let agent = Agent::spawn(&config);
    let _ = observer.expect("the first publish");
    let elapsed = start.elapsed();
    agent.stop();
    elapsed
}
