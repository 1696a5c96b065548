//! `ganglion:mqtt` end to end: the real binary running scripts against a real Mosquitto on
//! 127.0.0.1 (tests/common/mosquitto.rs), watched by an independent rumqttc client. Every wait is
//! bounded (a hang becomes a failure); nothing asserts on timing (the idle test counts the MQTT
//! worker's wake-ups over 2 s: an upper bound that a slower machine does not make harder).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::gate::TcpGate;
use crate::common::mosquitto::{free_port, Mosquitto, Observer, Seen, TestCerts};
use crate::common::{finish, ganglion, Live, Run, Scripts};

/// Longest a test waits for one agent run; only turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(90);

/// `[agent]` plus `[mqtt]` with quick reconnects; `mqtt` adds keys (e.g. `url`) and tables.
fn config(id: &str, mqtt: &str) -> String {
    format!(
        "[agent]\nid = \"{id}\"\nscripts = \".\"\nentry = \"main.js\"\nstate_dir = \"state\"\n\
         shutdown_grace = \"1s\"\n\n[mqtt]\nreconnect_min = \"100ms\"\nreconnect_max = \"500ms\"\n\
         keep_alive = \"5s\"\n{mqtt}\n"
    )
}

fn url(port: u16) -> String {
    format!("url = \"mqtt://127.0.0.1:{port}\"")
}

/// A scripts folder with `ganglion.toml` (from [`config`]) and `main.js`.
fn agent(id: &str, mqtt: &str, script: &str) -> Scripts {
    Scripts::new(&[("ganglion.toml", &config(id, mqtt)), ("main.js", script)])
}

fn run_cmd(s: &Scripts, config_file: &str) -> Command {
    let mut cmd = ganglion();
    cmd.args(["run", "--config"]).arg(s.path(config_file));
    cmd
}

/// Starts the agent of `s` and returns it running.
fn spawn(s: &Scripts) -> Live {
    Live::spawn(run_cmd(s, "ganglion.toml"))
}

/// Runs the agent of `s` to its end.
fn run(s: &Scripts) -> Run {
    let child = run_cmd(s, "ganglion.toml")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ganglion");
    finish(child, LIMIT)
}

/// Script lines of a live agent's log so far.
fn lines_of(live: &Live) -> Vec<String> {
    Run {
        code: None,
        stdout: String::new(),
        stderr: live.log(),
    }
    .script_lines()
}

/// The JSON after `prefix ` on the (first) script line starting with it.
#[track_caller]
fn json_line(lines: &[String], prefix: &str) -> Value {
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{prefix} ")))
        .unwrap_or_else(|| panic!("no script line {prefix:?} in {lines:?}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Common JS helpers: `sleep(ms)` and `drained(pred)` (waits until `pred(stats)` holds).
const JS_HELPERS: &str = r#"
import mqtt from 'ganglion:mqtt';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function drained(pred = (s) => s.queued === 0 && s.inflight === 0) {
  while (!pred(mqtt.stats())) await sleep(10);
  return mqtt.stats();
}
"#;

fn script(body: &str) -> String {
    format!("{JS_HELPERS}\n{body}")
}

/// Checks that `numbers` (as received, possibly with repeats from replays) holds every number of
/// `range` and that their first occurrences come in order.
#[track_caller]
fn assert_every_number_in_order(numbers: &[u32], range: std::ops::Range<u32>) {
    let mut firsts = Vec::new();
    let mut high: Option<u32> = None;
    for &n in numbers.iter().filter(|n| range.contains(n)) {
        if high.is_none_or(|h| n > h) {
            firsts.push(n);
            high = Some(n);
        }
    }
    let expected: Vec<u32> = range.clone().collect();
    if firsts != expected {
        let gap = expected
            .iter()
            .zip(&firsts)
            .position(|(a, b)| a != b)
            .unwrap_or(firsts.len().min(expected.len()));
        let at = numbers
            .iter()
            .position(|&n| n >= range.start + gap as u32)
            .unwrap_or(0);
        panic!(
            "number {} missing or out of order ({} of {} first occurrences); received around it: {:?}",
            range.start + gap as u32,
            firsts.len(),
            expected.len(),
            &numbers[at.saturating_sub(10)..(at + 10).min(numbers.len())]
        );
    }
}

/// Reads numbers from the observer (messages on `topic`) until `last` was seen.
fn numbers_until(observer: &Observer, topic: &str, last: u32) -> Vec<u32> {
    let mut seen = Vec::new();
    loop {
        let m = observer.expect(&format!("number {last} on {topic}"));
        if m.topic != topic {
            continue;
        }
        let n: u32 = m.text.parse().expect("a number");
        seen.push(n);
        if n == last {
            return seen;
        }
    }
}

#[test]
fn publish_subscribe_round_trip_from_js_with_qos1_acks() {
    let broker = Mosquitto::start();
    let s = agent(
        "rt",
        &url(broker.port()),
        &script(
            r#"
const base = mqtt.topic('rt');
const got = [];
let whenAll;
const all = new Promise((r) => (whenAll = r));
const sub = await mqtt.subscribe(`${base}/#`, (m) => {
  got.push(`${m.topic.slice(base.length + 1)}=${m.text()}@${m.qos}${m.retain ? 'R' : ''}`);
  if (m.topic.endsWith('/json')) console.log('json', JSON.stringify(m.json()));
  if (got.length === 22) whenAll();
}, { qos: 1 });
console.log('granted', sub.filter === `${base}/#`, sub.qos);
const seqs = [];
for (let i = 0; i < 20; i++) seqs.push(await mqtt.publish(`${base}/q${i % 2}`, `m${i}`, { qos: i % 2 }));
seqs.push(await mqtt.publish(`${base}/json`, { celsius: 21.5 }, { qos: 1 }));
seqs.push(await mqtt.publish(`${base}/bin`, new Uint8Array([104, 105]), { qos: 1 }));
console.log('increasing', seqs.every((s, i) => i === 0 || s > seqs[i - 1]));
await all;
const stats = await drained((s) => s.acked >= 12 && s.queued === 0 && s.inflight === 0);
console.log('got', got.sort().join(' '));
console.log('stats', JSON.stringify(stats));
process.exit(0);
"#,
        ),
    );
    let run = run(&s);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines = run.script_lines();
    assert!(lines.contains(&"granted true 1".to_owned()), "{lines:?}");
    assert!(lines.contains(&"increasing true".to_owned()), "{lines:?}");
    assert!(
        lines.contains(&"json {\"celsius\":21.5}".to_owned()),
        "{lines:?}"
    );
    let mut expected: Vec<String> = (0..20)
        .map(|i| format!("q{}=m{i}@{}", i % 2, i % 2))
        .chain([
            "json={\"celsius\":21.5}@1".to_owned(),
            "bin=hi@1".to_owned(),
        ])
        .collect();
    expected.sort();
    assert!(
        lines.contains(&format!("got {}", expected.join(" "))),
        "{lines:?}"
    );
    let stats = json_line(&lines, "stats");
    // Ten odd-numbered messages, the JSON and the binary one went at QoS 1.
    assert_eq!(stats["acked"], 12, "{stats}");
    assert_eq!(stats["sent"], 22, "{stats}");
    assert_eq!(
        (&stats["queued"], &stats["inflight"], &stats["dropped"]),
        (&Value::from(0), &Value::from(0), &Value::from(0)),
        "{stats}"
    );
    assert_eq!(stats["received"], 22, "{stats}");
}

#[test]
fn presence_is_retained_online_and_the_will_says_offline_on_sigkill() {
    let broker = Mosquitto::start();
    let status = "ganglion/pres/status";
    let observer = Observer::connect(broker.port(), "pres-obs", &[status], false);
    let s = agent(
        "pres",
        &url(broker.port()),
        "import mqtt from 'ganglion:mqtt';\nmqtt.on('connect', () => console.log('connected'));\n",
    );
    let live = spawn(&s);
    let m = observer.expect("online");
    assert_eq!((m.topic.as_str(), m.text.as_str()), (status, "online"));
    live.wait_for("script: connected", LIMIT);

    // SIGKILL: no DISCONNECT, so the broker publishes the will.
    live.signal("KILL");
    let killed = live.finish(LIMIT);
    assert_eq!(killed.code, None, "killed by the signal");
    let m = observer.expect("the will");
    assert_eq!((m.topic.as_str(), m.text.as_str()), (status, "offline"));
    // Retained: a newcomer sees the last state.
    let late = Observer::connect(broker.port(), "pres-late", &[status], false);
    let m = late.expect("retained offline");
    assert_eq!((m.text.as_str(), m.retain), ("offline", true));
    drop(late);

    // Back online, retained again; a graceful stop (SIGTERM) says offline itself.
    let live = spawn(&s);
    let m = observer.expect("online again");
    assert_eq!(m.text, "online");
    let late = Observer::connect(broker.port(), "pres-late2", &[status], false);
    let m = late.expect("retained online");
    assert_eq!((m.text.as_str(), m.retain), ("online", true));
    live.wait_for("script: connected", LIMIT);
    live.signal("TERM");
    let stopped = live.finish(LIMIT);
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let m = observer.expect("offline on shutdown");
    assert_eq!((m.topic.as_str(), m.text.as_str()), (status, "offline"));
}

/// Times a thread named `name` of process `pid` went to sleep (voluntary context switches).
fn sleeps_of_thread(pid: u32, name: &str) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let status = std::fs::read_to_string(task.path().join("status")).expect("status");
            return status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("voluntary_ctxt_switches");
        }
    }
    panic!("no thread {name:?} in process {pid}");
}

/// Times the MQTT worker of a connected agent running `body` went to sleep in 2 s, measured
/// once it connected and settled (keep-alive 60 s, so no PINGREQ falls in between).
fn worker_sleeps_in_2s(id: &str, body: &str) -> u64 {
    let broker = Mosquitto::start();
    let toml =
        config(id, &url(broker.port())).replace("keep_alive = \"5s\"", "keep_alive = \"60s\"");
    let main = script(&format!(
        "{body}\nwhile (!mqtt.connected) await sleep(10);\nconsole.log('connected');\nsetInterval(() => {{}}, 1 << 30);\n"
    ));
    let s = Scripts::new(&[("ganglion.toml", &toml), ("main.js", &main)]);
    let live = spawn(&s);
    live.wait_for("script: connected", LIMIT);
    std::thread::sleep(Duration::from_millis(500));
    let pid = live.child.id();
    let before = sleeps_of_thread(pid, "mqtt");
    std::thread::sleep(Duration::from_secs(2));
    let sleeps = sleeps_of_thread(pid, "mqtt") - before;
    live.signal("TERM");
    let stopped = live.finish(LIMIT);
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    sleeps
}

/// A connected agent with nothing to send sleeps: its MQTT worker does not wake on a timer
/// (it woke ~20 times a second for the queue's fsync tick and the sweep of abandoned
/// subscriptions), only for traffic and the keep-alive; with a subscription too.
#[test]
fn an_idle_agent_does_not_wake_its_mqtt_worker_on_a_timer() {
    let idle = worker_sleeps_in_2s("idle", "");
    assert!(
        idle <= 3,
        "the idle MQTT worker went to sleep {idle} times in 2 s"
    );
    let subscribed = worker_sleeps_in_2s("idle-sub", "await mqtt.subscribe('idle/cmd', () => {});");
    assert!(
        subscribed <= 3,
        "with a subscription, the idle MQTT worker went to sleep {subscribed} times in 2 s"
    );
}

/// ~1k msg/s of QoS 1 from a script; the broker (persistent) is stopped and restarted mid-run.
/// The agent reaches the broker through a gate that stays closed until the observer (a
/// persistent session) is back, so the order seen is the agent's and not an interleaving of the
/// observer's offline queue with live traffic. Every number arrives; replays may repeat some.
#[test]
fn broker_restart_during_a_1k_per_second_stream_loses_nothing_and_keeps_order() {
    stream_through_a_broker_restart("");
}

/// [`broker_restart_during_a_1k_per_second_stream_loses_nothing_and_keeps_order`] with MQTT 5.
#[test]
fn mqtt5_broker_restart_during_a_1k_per_second_stream_loses_nothing_and_keeps_order() {
    stream_through_a_broker_restart("protocol = \"5\"");
}

/// The stream test; `mqtt` adds `[mqtt]` keys (the protocol).
fn stream_through_a_broker_restart(mqtt: &str) {
    const TOTAL: u32 = 3000;
    let port = free_port();
    let mut broker = Mosquitto::start_on(port, true);
    let gate = TcpGate::start(port, true);
    let topic = "ganglion/stream/n";
    let observer = Observer::connect(port, "stream-obs", &[topic], true);
    let s = agent(
        "stream",
        &format!("{}\n{mqtt}", url(gate.port())),
        &script(&format!(
            r#"
const TOTAL = {TOTAL};
const topic = mqtt.topic('n');
let disconnects = 0;
mqtt.on('disconnect', () => disconnects++);
let i = 0;
const accepted = [];
const timer = setInterval(() => {{
  for (let k = 0; k < 10 && i < TOTAL; k++, i++) {{
    accepted.push(mqtt.publish(topic, String(i), {{ qos: 1 }}));
    if (i === 1000) console.log('progress 1000');
  }}
  if (i === TOTAL) {{
    clearInterval(timer);
    finish();
  }}
}}, 10);
async function finish() {{
  const seqs = await Promise.all(accepted);
  const stats = await drained((s) => s.acked >= TOTAL && s.queued === 0 && s.inflight === 0);
  console.log('done', JSON.stringify({{ accepted: seqs.length, disconnects, ...stats }}));
  process.exit(0);
}}
"#
        )),
    );
    let live = spawn(&s);
    live.wait_for("script: progress 1000", LIMIT);
    gate.close();
    broker.stop_graceful();
    std::thread::sleep(Duration::from_secs(1)); // the outage; the script keeps publishing
    broker.restart();
    observer.wait_until("the observer back on the restarted broker", |o| {
        o.connects() >= 2
    });
    gate.open();
    let done = live.finish(LIMIT);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let stats = json_line(&done.script_lines(), "done");
    assert_eq!(stats["accepted"], TOTAL, "{stats}");
    assert_eq!(stats["acked"], TOTAL, "{stats}");
    assert_eq!(stats["dropped"], 0, "{stats}");
    assert!(
        stats["disconnects"].as_u64() >= Some(1) && stats["connects"].as_u64() >= Some(2),
        "the run went through the outage: {stats}"
    );
    let numbers = numbers_until(&observer, topic, TOTAL - 1);
    assert_every_number_in_order(&numbers, 0..TOTAL);
}

/// Publishes from thousands of short macrotasks: each is a batch of its own, handed over by the
/// binding's hand-over task while the MQTT worker works through the ones before. They reach the
/// broker in call order and get consecutive sequence numbers. (All at QoS 1: the broker may reorder messages of
/// different QoS levels.)
#[test]
fn publishes_from_many_macrotasks_keep_call_order() {
    const TOTAL: u32 = 5000;
    let broker = Mosquitto::start();
    let topic = "ganglion/burst/n";
    let observer = Observer::connect(broker.port(), "burst-obs", &[topic], true);
    let s = agent(
        "burst",
        // `Promise.all` over 5000 promises is one job, ~60 ms in a debug build alone; with the
        // whole suite running on two cores it can pass the default 100 ms (it did in CI).
        &format!(
            "{}\n[limits]\ncallback_time = \"10s\"\n",
            url(broker.port())
        ),
        &script(&format!(
            r#"
const topic = mqtt.topic('n');
const accepted = [];
for (let i = 0; i < {TOTAL}; i++) {{
  // Every fourth payload a number: the JS publish encodes it, the native one takes the strings;
  // both add to the same batches, in call order.
  accepted.push(mqtt.publish(topic, i % 4 === 0 ? i : String(i), {{ qos: 1 }}));
  if (i % 3 !== 0) await new Promise((r) => setImmediate(r));
}}
const seqs = await Promise.all(accepted);
const consecutive = seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1);
const stats = await drained((s) => s.acked >= {TOTAL} && s.queued === 0 && s.inflight === 0);
console.log('done', JSON.stringify({{ consecutive, ...stats }}));
process.exit(0);
"#
        )),
    );
    let run = run(&s);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let stats = json_line(&run.script_lines(), "done");
    assert_eq!(stats["consecutive"], true, "{stats}");
    assert_eq!(stats["sent"], TOTAL, "{stats}");
    assert_eq!(stats["acked"], TOTAL, "{stats}");
    let numbers = numbers_until(&observer, topic, TOTAL - 1);
    assert_eq!(
        numbers.len(),
        TOTAL as usize,
        "no repeats without a reconnect"
    );
    assert_every_number_in_order(&numbers, 0..TOTAL);
}

/// The broker dies (SIGKILL), the script publishes on, the agent is SIGKILLed too; both come
/// back and every message the script saw accepted reaches the broker, in order.
#[test]
fn agent_killed_while_the_broker_is_down_loses_nothing_accepted() {
    let port = free_port();
    let mut broker = Mosquitto::start_on(port, false);
    let topic = "ganglion/kill/k";
    let s = agent(
        "kill",
        &url(port),
        &script(
            r#"
const topic = mqtt.topic('k');
let phase = 0;
mqtt.on('connect', async () => {
  if (phase !== 0) return;
  phase = 1;
  for (let i = 0; i < 100; i++) await mqtt.publish(topic, String(i), { qos: 1 });
  await drained((s) => s.acked === 100);
  console.log('phase1 acked');
});
mqtt.on('disconnect', async () => {
  if (phase !== 1) return;
  phase = 2;
  const accepted = [];
  for (let i = 100; i < 600; i++) accepted.push(mqtt.publish(topic, String(i), { qos: 1 }));
  await Promise.all(accepted);
  console.log('accepted', JSON.stringify(mqtt.stats()));
});
"#,
        ),
    );
    let live = spawn(&s);
    live.wait_for("script: phase1 acked", LIMIT);
    broker.stop();
    live.wait_for("script: accepted ", LIMIT);
    let stats = json_line(&lines_of(&live), "accepted");
    assert_eq!(
        (&stats["queued"], &stats["connected"]),
        (&Value::from(500), &Value::from(false)),
        "{stats}"
    );
    live.signal("KILL");
    assert_eq!(live.finish(LIMIT).code, None);

    // Both come back: the broker first (fresh, it lost everything), an observer, then the agent
    // with a script that only waits until its queue is empty.
    broker.restart();
    let observer = Observer::connect(port, "kill-obs", &[topic], false);
    std::fs::write(
        s.path("main.js"),
        script(
            "const s = await drained((s) => s.connects > 0 && s.queued === 0 && s.inflight === 0);\n\
             console.log('flushed', JSON.stringify(s));\nprocess.exit(0);\n",
        ),
    )
    .expect("write the second script");
    let flushed = run(&s);
    assert_eq!(flushed.code, Some(0), "{}", flushed.stderr);
    let numbers = numbers_until(&observer, topic, 599);
    assert_every_number_in_order(&numbers, 100..600);
}

/// Messages a capped script publishes in one burst (without awaiting each one, so the queue's
/// notifications outrun the script: 'dropped' events must still add up).
const BURST: u32 = 3000;
/// Records of 41 bytes (8 framing + 13 fixed + 15 topic + 5 payload) fit 24 times in 1 KiB.
const KEPT: u32 = 24;

/// A 1 KiB queue while the broker is unreachable: of [`BURST`] messages [`KEPT`] fit, exactly.
fn capped_agent(id: &str, policy: &str, gate_port: u16) -> Scripts {
    agent(
        id,
        &format!(
            // The burst is one callback: give it more CPU time than the default 100 ms.
            "{}\n[mqtt.queue]\ncap = 1024\non_full = \"{policy}\"\n[limits]\ncallback_time = \"20s\"\n",
            url(gate_port)
        ),
        &script(&format!(
            r#"
const topic = mqtt.topic('q');
let droppedEvents = 0;
mqtt.on('dropped', (n) => (droppedEvents += n));
const accepted = [];
for (let i = 0; i < {BURST}; i++) {{
  accepted.push(mqtt.publish(topic, 'm' + String(i).padStart(4, '0'), {{ qos: 1 }}));
}}
const results = await Promise.allSettled(accepted);
const rejected = results.filter((r) => r.status === 'rejected');
const codes = [...new Set(rejected.map((r) => r.reason.code))];
// Which promise got which answer (the burst is several batches): the queue's sequence numbers
// rise in call order, and refusals are the newest publishes.
const seqs = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
const rising = seqs.every((v, i) => i === 0 || v > seqs[i - 1]);
const firstRejected = results.findIndex((r) => r.status === 'rejected');
const lastFulfilled = results.findLastIndex((r) => r.status === 'fulfilled');
const s = mqtt.stats();
for (let t = 0; droppedEvents < s.dropped && t < 1000; t++) await sleep(10);
console.log('capped', JSON.stringify({{ droppedEvents, rejected: rejected.length, codes, rising, firstRejected, lastFulfilled, ...s }}));
if ('{policy}' === 'reject-new') {{
  // A script that broke `Error` still gets its refusal: the message text as the reason.
  const saved = globalThis.Error;
  globalThis.Error = function () {{ throw new TypeError('broken Error'); }};
  const late = await mqtt.publish(topic, 'late'.repeat(32), {{ qos: 1 }}).then(() => 'resolved', (e) => e);
  globalThis.Error = saved;
  console.log('late', JSON.stringify({{ type: typeof late, text: String(late) }}));
}}
const kept = s.queued;
const end = await drained((t) => t.acked === kept && t.queued === 0 && t.inflight === 0);
console.log('flushed', JSON.stringify(end));
process.exit(0);
"#
        )),
    )
}

/// The 'capped' line, the 'late' line (reject-new only, else null) and what reached the broker.
fn capped_run(id: &str, policy: &str) -> (Value, Value, Vec<Seen>) {
    let broker = Mosquitto::start();
    let topic = format!("ganglion/{id}/q");
    let observer = Observer::connect(broker.port(), &format!("{id}-obs"), &[&topic], false);
    let gate = TcpGate::start(broker.port(), false); // the broker is unreachable at first
    let s = capped_agent(id, policy, gate.port());
    let live = spawn(&s);
    live.wait_for("script: capped ", LIMIT);
    let capped = json_line(&lines_of(&live), "capped");
    let late = if policy == "reject-new" {
        live.wait_for("script: late ", LIMIT); // while the broker is still away
        json_line(&lines_of(&live), "late")
    } else {
        Value::Null
    };
    gate.open();
    let done = live.finish(LIMIT);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let mut seen = Vec::new();
    for _ in 0..KEPT {
        seen.push(observer.expect("a kept message"));
    }
    (capped, late, seen)
}

fn texts(seen: &[Seen]) -> Vec<String> {
    seen.iter().map(|m| m.text.clone()).collect()
}

#[test]
fn queue_at_its_cap_drops_the_oldest_and_counts_exactly() {
    let (capped, _, seen) = capped_run("capd", "drop-oldest");
    let gone = BURST - KEPT;
    assert_eq!(capped["dropped"], gone, "{capped}");
    assert_eq!(capped["droppedEvents"], gone, "{capped}");
    assert_eq!(capped["queued"], KEPT, "{capped}");
    assert_eq!(capped["rejected"], 0, "{capped}");
    assert_eq!(capped["connected"], false, "{capped}");
    assert_eq!(capped["rising"], true, "{capped}");
    assert_eq!(capped["firstRejected"], -1, "{capped}");
    assert_eq!(capped["lastFulfilled"], BURST - 1, "{capped}");
    let expected: Vec<String> = (gone..BURST).map(|i| format!("m{i:04}")).collect();
    assert_eq!(texts(&seen), expected, "the newest ones, in order");
}

#[test]
fn queue_at_its_cap_rejects_new_and_counts_exactly() {
    let (capped, late, seen) = capped_run("capr", "reject-new");
    assert_eq!(capped["rejected"], BURST - KEPT, "{capped}");
    assert_eq!(
        capped["codes"],
        serde_json::json!(["ERR_MQTT_QUEUE_FULL"]),
        "{capped}"
    );
    assert_eq!(capped["dropped"], 0, "{capped}");
    assert_eq!(capped["droppedEvents"], 0, "{capped}");
    assert_eq!(capped["queued"], KEPT, "{capped}");
    assert_eq!(capped["rising"], true, "{capped}");
    assert_eq!(capped["firstRejected"], KEPT, "{capped}");
    assert_eq!(capped["lastFulfilled"], KEPT - 1, "{capped}");
    assert_eq!(late["type"], "string", "{late}");
    assert!(
        late["text"]
            .as_str()
            .is_some_and(|t| t.contains("MQTT queue is full")),
        "{late}"
    );
    let expected: Vec<String> = (0..KEPT).map(|i| format!("m{i:04}")).collect();
    assert_eq!(texts(&seen), expected, "the oldest ones, in order");
}

fn tls_mqtt(port: u16, ca: &Path, certs: &TestCerts) -> String {
    format!(
        "url = \"mqtts://127.0.0.1:{port}\"\n[mqtt.tls]\nca_file = \"{}\"\ncert_file = \"{}\"\n\
         key_file = \"{}\"\n",
        ca.display(),
        certs.client_cert().display(),
        certs.client_key().display()
    )
}

#[test]
fn mutual_tls_round_trip_and_a_wrong_ca_is_refused() {
    let certs = TestCerts::generate();
    let broker = Mosquitto::start_tls(&certs, true);
    let observer = Observer::connect(broker.port(), "tls-obs", &["ganglion/#"], false);

    let ok = agent(
        "tlsok",
        &tls_mqtt(broker.tls_port(), &certs.ca(), &certs),
        &script(
            r#"
const t = mqtt.topic('tls');
let got;
const arrived = new Promise((r) => (got = r));
await mqtt.subscribe(t, (m) => got(m.text()), { qos: 1 });
await mqtt.publish(t, 'over tls', { qos: 1 });
console.log('got', await arrived);
await drained();
process.exit(0);
"#,
        ),
    );
    let done = run(&ok);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(
        done.script_lines().contains(&"got over tls".to_owned()),
        "{}",
        done.stderr
    );
    // The plain-listener observer saw it go through the broker.
    loop {
        let m = observer.expect("the TLS agent's message");
        if m.topic == "ganglion/tlsok/tls" {
            assert_eq!(m.text, "over tls");
            break;
        }
    }
    // `ganglion sub --config` takes the URL, CA and client certificate from the agent's config:
    // it sees the retained presence the agent left at its graceful exit.
    let sub = ganglion()
        .args(["sub", "ganglion/tlsok/status", "--count", "1", "--config"])
        .arg(ok.path("ganglion.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ganglion sub");
    let printed = finish(sub, LIMIT);
    assert_eq!(printed.code, Some(0), "{}", printed.stderr);
    assert_eq!(printed.stdout, "ganglion/tlsok/status offline\n");

    let other = TestCerts::generate();
    let bad = agent(
        "tlsbad",
        &tls_mqtt(broker.tls_port(), &other.ca(), &certs),
        &script(
            r#"
const errors = [];
mqtt.on('connect', () => console.log('connected anyway'));
mqtt.on('error', (e) => {
  errors.push(e);
  if (errors.length === 2) {
    const s = mqtt.stats();
    console.log('refused', JSON.stringify({ code: e.code, message: errors[0].message, connects: s.connects, connected: s.connected, queued: s.queued }));
    process.exit(0);
  }
});
await mqtt.publish(mqtt.topic('tls'), 'must not arrive', { qos: 1 });
"#,
        ),
    );
    let refused = run(&bad);
    assert_eq!(refused.code, Some(0), "{}", refused.stderr);
    let lines = refused.script_lines();
    assert!(!lines.contains(&"connected anyway".to_owned()), "{lines:?}");
    let r = json_line(&lines, "refused");
    assert_eq!(r["code"], "ERR_MQTT_CONNECTION", "{r}");
    let message = r["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("certificate") || message.contains("TLS"),
        "{r}"
    );
    assert_eq!(
        (&r["connects"], &r["queued"]),
        (&Value::from(0), &Value::from(1))
    );
    assert_eq!(r["connected"], false);
    let leaked: Vec<Seen> = observer
        .drain()
        .into_iter()
        .filter(|m| m.topic.starts_with("ganglion/tlsbad/"))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

#[test]
fn embedded_broker_round_trip_without_a_url() {
    let port = free_port();
    let s = agent(
        "emb",
        &format!("broker_port = {port}"),
        &script(
            r#"
let self = null;
await mqtt.subscribe(mqtt.topic('self'), (m) => (self = m.text()), { qos: 1 });
await mqtt.subscribe(mqtt.topic('cmd'), async (m) => {
  // The broker lives in this process: stay until the device confirms the reply.
  if (m.text() === 'bye') process.exit(0);
  await mqtt.publish(mqtt.topic('reply'), `pong:${m.text()}`, { qos: 1 });
}, { qos: 1 });
await mqtt.publish(mqtt.topic('self'), 'loop', { qos: 1 });
while (self === null) await sleep(10);
console.log('ready', self);
"#,
        ),
    );
    let live = spawn(&s);
    live.wait_for("script: ready loop", LIMIT);
    // A local device on the embedded broker: sends a command, gets the script's reply.
    let device = Observer::connect(port, "device", &["ganglion/emb/reply"], false);
    device.publish("ganglion/emb/cmd", "ping", false);
    let m = device
        .recv(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no reply; the agent's log:\n{}", live.log()));
    assert_eq!(
        (m.topic.as_str(), m.text.as_str()),
        ("ganglion/emb/reply", "pong:ping")
    );
    device.publish("ganglion/emb/cmd", "bye", false);
    let done = live.finish(LIMIT);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    done.assert_logged(&format!(
        "embedded MQTT broker listening on 127.0.0.1 port={port}"
    ));
    // process.exit() in an async handler is an exit, not an unhandled rejection.
    assert!(
        !done.stderr.contains("unhandled promise rejection"),
        "{}",
        done.stderr
    );
}

#[test]
fn bad_topics_and_qos_throw_synchronously() {
    let nothing_there = free_port();
    let s = agent(
        "bad",
        &url(nothing_there),
        &script(
            r#"
const cases = [
  ['wildcard +', () => mqtt.publish('a/+/b', 'x')],
  ['wildcard #', () => mqtt.publish('a/#', 'x')],
  ['empty', () => mqtt.publish('', 'x')],
  ['nul', () => mqtt.publish('a\0b', 'x')],
  ['lone surrogate', () => mqtt.publish('a/\uD800', 'x')],
  ['number topic', () => mqtt.publish(42, 'x')],
  ['too long', () => mqtt.publish('x'.repeat(65536), 'x')],
  ['qos 3', () => mqtt.publish('a', 'x', { qos: 3 })],
  ['qos -1', () => mqtt.publish('a', 'x', { qos: -1 })],
  ['qos 1.5', () => mqtt.publish('a', 'x', { qos: 1.5 })],
  ['qos text', () => mqtt.publish('a', 'x', { qos: '1' })],
  ['payload function', () => mqtt.publish('a', () => 1)],
  ['payload too large', () => mqtt.publish('a', 'x'.repeat(2 * 1024 * 1024))],
  ['filter a/#/b', () => mqtt.subscribe('a/#/b', () => {})],
  ['filter a+', () => mqtt.subscribe('a+', () => {})],
  ['subscribe qos 3', () => mqtt.subscribe('a', () => {}, { qos: 3 })],
  ['no handler', () => mqtt.subscribe('a')],
  ['properties not an object', () => mqtt.publish('a', 'x', { properties: 'x' })],
  ['unknown property', () => mqtt.publish('a', 'x', { properties: { topicAlias: 1 } })],
  ['expiry 0', () => mqtt.publish('a', 'x', { properties: { messageExpiryInterval: 0 } })],
  ['expiry 1.5', () => mqtt.publish('a', 'x', { properties: { messageExpiryInterval: 1.5 } })],
  ['expiry text', () => mqtt.publish('a', 'x', { properties: { messageExpiryInterval: '5' } })],
  ['format not boolean', () => mqtt.publish('a', 'x', { properties: { payloadFormatIndicator: 1 } })],
  ['format but bytes', () => mqtt.publish('a', new Uint8Array([255]), { properties: { payloadFormatIndicator: true } })],
  ['response topic #', () => mqtt.publish('a', 'x', { properties: { responseTopic: 'r/#' } })],
  ['correlation number', () => mqtt.publish('a', 'x', { properties: { correlationData: 5 } })],
  ['user property number', () => mqtt.publish('a', 'x', { properties: { userProperties: { n: 1 } } })],
  ['content type too long', () => mqtt.publish('a', 'x', { properties: { contentType: 'x'.repeat(65536) } })],
  ['options a number', () => mqtt.publish('a', 'x', 1)],
  ['options a string', () => mqtt.publish('a', 'x', 'qos')],
  ['options a function', () => mqtt.publish('a', 'x', () => 1)],
  ['qos null', () => mqtt.publish('a', 'x', { qos: null })],
  ['qos object', () => mqtt.publish('a', 'x', { qos: {} })],
  ['good', () => mqtt.publish('a/b', 'x')],
  ['good, options null', () => mqtt.publish('a/b', 'y', null)],
];
for (const [name, f] of cases) {
  let outcome;
  try {
    const p = f();
    outcome = p instanceof Promise ? 'promise' : typeof p;
    if (p instanceof Promise) p.catch(() => {});
  } catch (e) {
    outcome = e.constructor.name;
  }
  console.log(`${name}: ${outcome}`);
}
for (const qos of ['1', null, true]) {
  try {
    mqtt.publish('a', 'x', { qos });
  } catch (e) {
    console.log('qos says', e.message);
  }
}
const native = String(mqtt.publish).includes('[native code]');
console.log('publish is', mqtt.publish.name, mqtt.publish.length, native);
const s = await drained((s) => s.queued === 2);
console.log('stats', JSON.stringify(s));
process.exit(0);
"#,
        ),
    );
    let done = run(&s);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let lines = done.script_lines();
    let expected = [
        "wildcard +: TypeError",
        "wildcard #: TypeError",
        "empty: TypeError",
        "nul: TypeError",
        "lone surrogate: TypeError",
        "number topic: TypeError",
        "too long: RangeError",
        "qos 3: RangeError",
        "qos -1: RangeError",
        "qos 1.5: RangeError",
        "qos text: TypeError",
        "payload function: TypeError",
        "payload too large: RangeError",
        "filter a/#/b: TypeError",
        "filter a+: TypeError",
        "subscribe qos 3: RangeError",
        "no handler: TypeError",
        "properties not an object: TypeError",
        "unknown property: TypeError",
        "expiry 0: RangeError",
        "expiry 1.5: RangeError",
        "expiry text: TypeError",
        "format not boolean: TypeError",
        "format but bytes: TypeError",
        "response topic #: TypeError",
        "correlation number: TypeError",
        "user property number: TypeError",
        "content type too long: RangeError",
        "options a number: TypeError",
        "options a string: TypeError",
        "options a function: TypeError",
        "qos null: TypeError",
        "qos object: TypeError",
        "good: promise",
        "good, options null: promise",
    ];
    assert_eq!(
        &lines[..expected.len().min(lines.len())],
        &expected[..],
        "{lines:?}"
    );
    // As the JS `publish` words it (`typeof`), though these calls take the native one.
    for ty in ["string", "object", "boolean"] {
        let line = format!("qos says MQTT qos must be a number, got {ty}");
        assert!(lines.contains(&line), "{line} in {lines:?}");
    }
    assert!(
        lines.contains(&"publish is publish 3 true".to_string()),
        "{lines:?}"
    );
    let stats = json_line(&lines, "stats");
    assert_eq!(
        (&stats["queued"], &stats["rejected"]),
        (&Value::from(2), &Value::from(0)),
        "only the good ones were queued: {stats}"
    );
}

#[test]
fn a_throwing_subscription_handler_is_logged_and_delivery_goes_on() {
    let broker = Mosquitto::start();
    let s = agent(
        "throw",
        &url(broker.port()),
        &script(
            r#"
const seen = [];
await mqtt.subscribe(mqtt.topic('h'), (m) => {
  seen.push(m.text());
  if (m.text() === 'm2') throw new Error('handler boom on m2');
  if (seen.length === 5) {
    console.log('handled', seen.join(','));
    process.exit(0);
  }
}, { qos: 1 });
for (let i = 0; i < 5; i++) await mqtt.publish(mqtt.topic('h'), `m${i}`, { qos: 1 });
"#,
        ),
    );
    let done = run(&s);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    done.assert_logged("handler boom on m2");
    assert!(
        done.script_lines()
            .contains(&"handled m0,m1,m2,m3,m4".to_owned()),
        "{}",
        done.stderr
    );
}

#[test]
fn ganglion_sub_prints_what_a_script_publishes() {
    let broker = Mosquitto::start();
    let mut cmd = ganglion();
    cmd.args([
        "sub",
        "ganglion/subt/#",
        "--qos",
        "1",
        "--count",
        "4",
        "--url",
    ])
    .arg(format!("mqtt://127.0.0.1:{}", broker.port()))
    .stdout(Stdio::piped());
    let mut sub = Live::spawn(cmd);
    let mut stdout = sub.child.stdout.take().expect("stdout");
    sub.wait_for("subscribed to ganglion/subt/#", LIMIT);

    let s = agent(
        "subt",
        &url(broker.port()),
        &script(
            r#"
await mqtt.publish(mqtt.topic('a'), '21.5', { qos: 1 });
await mqtt.publish(mqtt.topic('json'), { on: true }, { qos: 1 });
await mqtt.publish(mqtt.topic('b/c'), 'hello world', { qos: 1 });
await drained((s) => s.acked === 3 && s.queued === 0 && s.inflight === 0);
process.exit(0);
"#,
        ),
    );
    let done = run(&s);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let ended = sub.finish(LIMIT);
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out).expect("read stdout");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "ganglion/subt/status online",
            "ganglion/subt/a 21.5",
            "ganglion/subt/json {\"on\":true}",
            "ganglion/subt/b/c hello world",
        ]
    );
}

/// MQTT 5 from a script: every publish property arrives intact in the subscriber's
/// `message.properties` (correlationData as a Buffer, a repeated user property as an array),
/// a message without properties has `{}`, and the stats count nothing expired or refused.
#[test]
fn mqtt5_properties_round_trip_from_js() {
    let broker = Mosquitto::start();
    let s = agent(
        "p5",
        &format!("{}\nprotocol = \"5\"", url(broker.port())),
        &script(
            r#"
const base = mqtt.topic('p');
const got = [];
let whenBoth;
const both = new Promise((r) => (whenBoth = r));
await mqtt.subscribe(`${base}/#`, (m) => {
  got.push(m);
  if (got.length === 2) whenBoth();
}, { qos: 1 });
const properties = {
  payloadFormatIndicator: true,
  messageExpiryInterval: 3600,
  contentType: 'application/json',
  responseTopic: `${base}/reply`,
  correlationData: Buffer.from([1, 2, 255]),
  userProperties: { site: 'lab', tag: ['a', 'b'] },
};
await mqtt.publish(`${base}/a`, { on: true }, { qos: 1, properties });
await mqtt.publish(`${base}/b`, 'plain', { qos: 2 });
await both;
got.sort((x, y) => (x.topic < y.topic ? -1 : 1));
const p = got[0].properties;
console.log('props', JSON.stringify({
  payloadFormatIndicator: p.payloadFormatIndicator,
  expiryLeft: p.messageExpiryInterval > 3590 && p.messageExpiryInterval <= 3600,
  contentType: p.contentType,
  responseTopic: p.responseTopic,
  correlationData: [...p.correlationData],
  correlationIsBuffer: p.correlationData instanceof Buffer,
  userProperties: p.userProperties,
  json: got[0].json(),
}));
console.log('plain', JSON.stringify(got[1].properties), got[1].text());
// A string payload takes the native publish: its retain (any truthy value) and properties,
// seen by a subscription made after the broker kept the message.
const keptTopic = mqtt.topic('kept');
await mqtt.publish(keptTopic, 'kept', { qos: 1, retain: 'yes', properties: { contentType: 'text/plain' } });
const kept = await new Promise((resolve) => mqtt.subscribe(keptTopic, resolve, { qos: 1 }));
console.log('kept', kept.retain, kept.properties.contentType, kept.text());
const s = await drained((s) => s.acked >= 3 && s.queued === 0 && s.inflight === 0);
console.log('stats', JSON.stringify(s));
process.exit(0);
"#,
        ),
    );
    let done = run(&s);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let lines = done.script_lines();
    let props = json_line(&lines, "props");
    assert_eq!(
        props,
        serde_json::json!({
            "payloadFormatIndicator": true,
            "expiryLeft": true,
            "contentType": "application/json",
            "responseTopic": "ganglion/p5/p/reply",
            "correlationData": [1, 2, 255],
            "correlationIsBuffer": true,
            "userProperties": { "site": "lab", "tag": ["a", "b"] },
            "json": { "on": true },
        })
    );
    assert!(lines.contains(&"plain {} plain".to_owned()), "{lines:?}");
    assert!(
        lines.contains(&"kept true text/plain kept".to_owned()),
        "{lines:?}"
    );
    let stats = json_line(&lines, "stats");
    assert_eq!(
        (&stats["expired"], &stats["refused"], &stats["acked"]),
        (&Value::from(0), &Value::from(0), &Value::from(3)),
        "{stats}"
    );
}

/// A Mosquitto ACL denies a topic: the MQTT 5 PUBACK says 0x87, the script gets an 'error'
/// event naming the topic and the reason, `refused` counts it, and the next message goes out.
#[test]
fn mqtt5_refused_message_emits_error_and_the_next_one_is_delivered() {
    let dir = tempfile::tempdir().expect("tmp");
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic deny ganglion/acl/denied\ntopic readwrite #\n").expect("acl");
    let broker = Mosquitto::start_with(free_port(), &format!("acl_file {}", acl.display()));
    let s = agent(
        "acl",
        &format!("{}\nprotocol = \"5\"", url(broker.port())),
        &script(
            r#"
const errors = [];
mqtt.on('error', (e) => errors.push(e));
let next;
const arrived = new Promise((r) => (next = r));
await mqtt.subscribe(mqtt.topic('ok'), (m) => next(m.text()), { qos: 1 });
await mqtt.publish(mqtt.topic('denied'), 'no', { qos: 1 });
await mqtt.publish(mqtt.topic('ok'), 'yes', { qos: 1 });
const text = await arrived;
const s = await drained((s) => s.refused === 1 && s.acked === 1 && s.queued === 0 && s.inflight === 0);
while (errors.length === 0) await sleep(10);
const e = errors[0];
console.log('refused', JSON.stringify({ text, refused: s.refused, code: e.code, reasonCode: e.reasonCode, topic: e.topic, message: e.message }));
process.exit(0);
"#,
        ),
    );
    let done = run(&s);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let r = json_line(&done.script_lines(), "refused");
    assert_eq!(
        r,
        serde_json::json!({
            "text": "yes",
            "refused": 1,
            "code": "ERR_MQTT_REFUSED",
            "reasonCode": 0x87,
            "topic": "ganglion/acl/denied",
            "message": "MQTT broker refused the message to \"ganglion/acl/denied\": not authorized (0x87)",
        })
    );
    done.assert_logged("MQTT broker refused a message");
}

/// `subscribe()` ended by `unsubscribe()` before the broker answered (here: there is no broker)
/// rejects instead of hanging; publish properties with MQTT 3.1.1 are ignored with one warning
/// and the messages are still queued.
#[test]
fn subscribe_ended_before_its_suback_settles_and_311_ignores_properties() {
    let nothing_there = free_port();
    let s = agent(
        "unsub",
        &url(nothing_there),
        &script(
            r#"
const p = mqtt.subscribe('cmd/#', () => {}, { qos: 1 });
const kept = mqtt.subscribe('other/#', () => {}, { qos: 1 });
kept.catch(() => {});
const n = mqtt.unsubscribe('cmd/#');
const outcome = await p.then(() => 'resolved', (e) => e.code);
console.log('settled', n, outcome);
const properties = { contentType: 'text/plain', userProperties: { a: 'b' } };
await mqtt.publish('a/b', 'x', { qos: 1, properties });
await mqtt.publish('a/b', 'y', { qos: 1, properties });
console.log('queued', mqtt.stats().queued);
process.exit(0);
"#,
        ),
    );
    let done = run(&s);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let lines = done.script_lines();
    assert!(
        lines.contains(&"settled 1 ERR_MQTT_UNSUBSCRIBED".to_owned()),
        "{lines:?}"
    );
    assert!(lines.contains(&"queued 2".to_owned()), "{lines:?}");
    assert_eq!(
        done.stderr
            .matches("MQTT publish properties need protocol")
            .count(),
        1,
        "{}",
        done.stderr
    );
}
