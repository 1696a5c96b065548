//! Remote script updates end to end: a real Mosquitto on 127.0.0.1, the real `ganglion` binary
//! (built with the `ota-test-hooks` kill points), bundles from `tests/ota-corpus/` and from
//! `ganglion bundle create`, deploys with `ganglion deploy` or raw chunk messages.
//!
//! The corpus is generated deterministically by [`corpus`]; `corpus_is_up_to_date` checks the
//! committed files and rewrites them with `GANGLION_UPDATE_CORPUS=1`.

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ganglion::ota::bundle::{encode, hex, FileEntry, Manifest, Target, FORMAT};
use ganglion::ota::transfer::split;
use ganglion::ota::verify::sign;

use crate::common::mosquitto::Mosquitto;
use crate::common::{ganglion, repo, Live};

const LIMIT: Duration = Duration::from_secs(40);

// ---------------------------------------------------------------- an MQTT observer

#[derive(Debug, Clone)]
struct Msg {
    topic: String,
    text: String,
}

/// Subscribes to `ganglion/#` and keeps every message; publishes raw chunk messages.
struct Observer {
    client: rumqttc::Client,
    seen: Arc<Mutex<Vec<Msg>>>,
}

impl Observer {
    fn connect(port: u16) -> Observer {
        let mut o = rumqttc::MqttOptions::new(
            format!("observer-{}", std::process::id()),
            "127.0.0.1",
            port,
        );
        o.set_max_packet_size(4 << 20, 4 << 20);
        o.set_keep_alive(Duration::from_secs(30));
        let (client, mut conn) = rumqttc::Client::new(o, 256);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        client
            .subscribe("ganglion/#", rumqttc::QoS::AtLeastOnce)
            .expect("subscribe");
        std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::Publish(p))) => {
                        if let Ok(mut s) = sink.lock() {
                            s.push(Msg {
                                topic: p.topic.clone(),
                                text: String::from_utf8_lossy(&p.payload).into_owned(),
                            });
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("observer subscribed");
        Observer { client, seen }
    }

    fn count(&self, topic: &str, text: &str) -> usize {
        let s = self.seen.lock().expect("lock");
        s.iter()
            .filter(|m| m.topic == topic && m.text == text)
            .count()
    }

    /// Wait until `topic` carried `text` `n` more times than it had when called.
    #[track_caller]
    fn wait_more(&self, topic: &str, text: &str, n: usize, agent: &Live) {
        let base = self.count(topic, text);
        self.wait_for(&format!("{n} more {text:?} on {topic}"), agent, || {
            self.count(topic, text) >= base + n
        });
    }

    #[track_caller]
    fn wait_for(&self, what: &str, agent: &Live, cond: impl Fn() -> bool) {
        let start = Instant::now();
        while start.elapsed() < LIMIT {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("{what}: not within {LIMIT:?}\nagent log:\n{}", agent.log());
    }

    /// Status messages of one deployment, in order.
    fn statuses(&self, deployment: &str) -> Vec<serde_json::Value> {
        let s = self.seen.lock().expect("lock");
        s.iter()
            .filter(|m| m.topic.ends_with("/ota/status"))
            .filter_map(|m| serde_json::from_str::<serde_json::Value>(&m.text).ok())
            .filter(|v| v["deployment"] == deployment)
            .collect()
    }

    /// Wait for the deployment's final status and return it.
    #[track_caller]
    fn final_status(&self, deployment: &str, agent: &Live) -> serde_json::Value {
        let fin = |v: &serde_json::Value| {
            matches!(
                v["state"].as_str(),
                Some("committed" | "rolled_back" | "rejected")
            )
        };
        self.wait_for(&format!("final status of {deployment}"), agent, || {
            self.statuses(deployment).iter().any(fin)
        });
        self.statuses(deployment)
            .into_iter()
            .find(fin)
            .expect("final status")
    }

    fn publish_chunks(&self, topic: &str, chunks: &[Vec<u8>]) {
        for c in chunks {
            self.client
                .publish(topic, rumqttc::QoS::AtLeastOnce, false, c.clone())
                .expect("publish chunk");
        }
    }

    fn deploy(&self, topic: &str, deployment: &str, bundle: &[u8], allow_downgrade: bool) {
        self.publish_chunks(
            topic,
            &split(bundle, deployment, 16 * 1024, allow_downgrade),
        );
    }
}

// ---------------------------------------------------------------- bundles and the corpus

/// Test signing keys: fixed seeds, so the corpus is reproducible. Never use them elsewhere.
const TRUSTED_SEED: [u8; 32] = [7; 32];
const UNTRUSTED_SEED: [u8; 32] = [9; 32];

fn key(seed: [u8; 32]) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

fn trusted_public() -> String {
    hex(key(TRUSTED_SEED).verifying_key().as_bytes())
}

/// A script that publishes `tag` on `<prefix>/tick` every 100 ms and stops on `shutdown`.
fn ticker(tag: &str) -> String {
    format!(
        "import mqtt from 'ganglion:mqtt';\nimport agent from 'ganglion:agent';\n\
         agent.healthy();\n\
         const t = setInterval(() => mqtt.publish(mqtt.topic('tick'), '{tag}'), 100);\n\
         agent.on('shutdown', () => clearInterval(t));\n"
    )
}

struct Spec<'a> {
    version: &'a str,
    files: Vec<(String, Vec<u8>)>,
    devices: &'a [&'a str],
    groups: &'a [&'a str],
    min_agent: &'a str,
    seed: [u8; 32],
}

impl<'a> Spec<'a> {
    fn new(version: &'a str, main: &str) -> Spec<'a> {
        Spec {
            version,
            files: vec![
                ("main.js".into(), main.as_bytes().to_vec()),
                (
                    "lib/info.js".into(),
                    format!("export const version = '{version}';\n").into_bytes(),
                ),
            ],
            devices: &["gw-1", "gw-2", "gw-3"],
            groups: &["lab"],
            min_agent: "0.1.0",
            seed: TRUSTED_SEED,
        }
    }

    fn manifest(&self) -> Manifest {
        Manifest {
            format: FORMAT,
            name: "corpus".into(),
            version: self.version.parse().expect("version"),
            entry: "main.js".into(),
            min_agent_version: self.min_agent.parse().expect("version"),
            target: Target {
                devices: self.devices.iter().map(|s| s.to_string()).collect(),
                groups: self.groups.iter().map(|s| s.to_string()).collect(),
            },
            created: "2026-11-01T00:00:00Z".into(),
            files: self
                .files
                .iter()
                .map(|(p, d)| FileEntry::of(p.as_str(), d))
                .collect(),
        }
    }

    fn build_with(&self, manifest: &[u8], files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let (signer, sig) = sign(&key(self.seed), manifest);
        encode(
            manifest,
            &signer,
            &sig,
            files.iter().map(|(p, d)| (p.as_str(), d.as_slice())),
        )
    }

    fn build(&self) -> Vec<u8> {
        let m = serde_json::to_vec_pretty(&self.manifest()).expect("json");
        self.build_with(&m, &self.files)
    }
}

/// The corpus: (file name, expected rejection code or "ok", bytes). Agents under test run with
/// `max_bundle_size = 64KiB` and trust only the `TRUSTED_SEED` key.
fn corpus() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let good = Spec::new("2.0.0", &ticker("2.0.0"));
    let mut out = vec![("good-2.0.0.bundle", "ok", good.build())];
    out.push((
        "downgrade-1.0.0.bundle",
        "downgrade",
        Spec::new("1.0.0", &ticker("1.0.0")).build(),
    ));
    let mut bad_sig = good.build();
    let sig_at = 8
        + 4
        + serde_json::to_vec_pretty(&good.manifest())
            .expect("json")
            .len()
        + 32;
    bad_sig[sig_at] ^= 0x01;
    out.push(("bad-signature.bundle", "bad_signature", bad_sig));
    let mut untrusted = Spec::new("2.1.0", &ticker("2.1.0"));
    untrusted.seed = UNTRUSTED_SEED;
    out.push(("unknown-key.bundle", "unknown_key", untrusted.build()));
    // Files changed after signing: the manifest (and signature) still describe the original.
    let hashed = Spec::new("2.2.0", &ticker("2.2.0"));
    let m = serde_json::to_vec_pretty(&hashed.manifest()).expect("json");
    let mut files = hashed.files.clone();
    let evil = ticker("EVIL");
    files[0].1 = evil.as_bytes()[..hashed.files[0].1.len().min(evil.len())].to_vec();
    files[0].1.resize(hashed.files[0].1.len(), b' ');
    out.push((
        "hash-mismatch.bundle",
        "hash_mismatch",
        hashed.build_with(&m, &files),
    ));
    let mut elsewhere = Spec::new("2.3.0", &ticker("2.3.0"));
    elsewhere.devices = &["gw-99"];
    elsewhere.groups = &["field"];
    out.push(("wrong-target.bundle", "wrong_target", elsewhere.build()));
    let mut big = Spec::new("2.4.0", &ticker("2.4.0"));
    big.files.push(("data.bin".into(), vec![0x5a; 70 * 1024]));
    out.push(("oversized.bundle", "oversized", big.build()));
    let malformed = Spec::new("2.5.0", &ticker("2.5.0"));
    let m = br#"{"format":1,"name":"corpus","version":"not a version"}"#;
    out.push((
        "malformed-manifest.bundle",
        "malformed_manifest",
        malformed.build_with(m, &malformed.files),
    ));
    let mut newer = Spec::new("2.6.0", &ticker("2.6.0"));
    newer.min_agent = "99.0.0";
    out.push(("agent-too-old.bundle", "agent_too_old", newer.build()));
    // A path escaping the version folder, listed in a validly signed manifest.
    let trav = Spec::new("2.7.0", &ticker("2.7.0"));
    let mut m = trav.manifest();
    m.files[1].path = "../../escape.js".into();
    let mut files = trav.files.clone();
    files[1].0 = "../../escape.js".into();
    let mb = serde_json::to_vec_pretty(&m).expect("json");
    out.push((
        "path-traversal.bundle",
        "bad_path",
        trav.build_with(&mb, &files),
    ));
    out.push((
        "not-a-bundle.bundle",
        "malformed_bundle",
        b"PK\x03\x04 a zip file".to_vec(),
    ));
    out
}

fn corpus_dir() -> PathBuf {
    repo().join("tests/ota-corpus")
}

#[test]
fn corpus_is_up_to_date() {
    let dir = corpus_dir();
    let update = std::env::var("GANGLION_UPDATE_CORPUS").is_ok_and(|v| v == "1");
    let mut index = String::from("# file  expected-result (generated by tests/ota.rs::corpus)\n");
    for (name, expect, bytes) in corpus() {
        index.push_str(&format!("{name} {expect}\n"));
        let path = dir.join(name);
        if update {
            fs::create_dir_all(&dir).expect("mkdir");
            fs::write(&path, &bytes).expect("write corpus");
        } else {
            let on_disk = fs::read(&path).unwrap_or_default();
            assert!(
                on_disk == bytes,
                "{} is stale: run GANGLION_UPDATE_CORPUS=1 cargo test -p ganglion --test e2e ota::corpus",
                path.display()
            );
        }
    }
    let trusted = format!("{}\n", trusted_public());
    if update {
        fs::write(dir.join("index.txt"), &index).expect("write");
        fs::write(dir.join("trusted.pub"), &trusted).expect("write");
    }
    assert_eq!(
        fs::read_to_string(dir.join("index.txt")).unwrap_or_default(),
        index
    );
    assert_eq!(
        fs::read_to_string(dir.join("trusted.pub")).unwrap_or_default(),
        trusted
    );
    // Every corpus file is judged as the index says by the library (parse + verify).
    for (name, expect, bytes) in corpus() {
        let got = judge(&bytes);
        assert_eq!(got, expect, "{name}");
    }
}

/// What an agent `gw-1` (group lab, running 2.0.0, 64 KiB cap) makes of a bundle.
fn judge(bytes: &[u8]) -> &'static str {
    use ganglion::ota::verify::{verify, Policy, TrustedKeys};
    let b = match ganglion::ota::Bundle::parse(bytes, 64 * 1024) {
        Ok(b) => b,
        Err(e) => return e.code(),
    };
    let keys = TrustedKeys::from_hex(&[trusted_public()]).expect("key");
    let running: semver::Version = "2.0.0".parse().expect("v");
    let agent = ganglion::ota::agent_version();
    let p = Policy {
        keys: &keys,
        device: "gw-1",
        group: Some("lab"),
        running: Some(&running),
        allow_downgrade: false,
        agent_version: &agent,
    };
    match verify(&b, &p) {
        Ok(()) => "ok",
        Err(ganglion::ota::VerifyError::AlreadyRunning(_)) => "ok",
        Err(e) => e.code(),
    }
}

fn corpus_file(name: &str) -> Vec<u8> {
    fs::read(corpus_dir().join(name)).expect("corpus file")
}

// ---------------------------------------------------------------- the agent

struct Agent {
    dir: tempfile::TempDir,
    id: String,
    extra_keys: Vec<String>,
}

impl Agent {
    fn new(id: &str, broker: &Mosquitto, extra_keys: &[String]) -> Agent {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("scripts")).expect("mkdir");
        fs::write(dir.path().join("scripts/main.js"), ticker("base")).expect("write");
        let agent = Agent {
            dir,
            id: id.to_owned(),
            extra_keys: extra_keys.to_vec(),
        };
        agent.write_config(broker);
        agent
    }

    fn write_config(&self, broker: &Mosquitto) {
        let mut keys = vec![trusted_public()];
        keys.extend(self.extra_keys.iter().cloned());
        let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
        let text = format!(
            "[agent]\nid = \"{}\"\nscripts = \"scripts\"\nstate_dir = \"state\"\nshutdown_grace = \"1s\"\n\n\
             [limits]\nmemory = \"8MiB\"\n\n\
             [mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\n\n\
             [ota]\ntrusted_keys = [{}]\ngroup = \"lab\"\ntrial = \"1500ms\"\ntrial_max_errors = 2\n\
             require_healthy = true\ntransfer_timeout = \"1500ms\"\nmax_bundle_size = \"64KiB\"\nkeep = 2\n",
            self.id,
            broker.port(),
            keys.join(", ")
        );
        fs::write(self.config(), text).expect("config");
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("ganglion.toml")
    }

    fn start(&self, kill_at: Option<&str>) -> Live {
        let mut c = ganglion();
        c.arg("run").arg("--config").arg(self.config());
        c.current_dir(self.dir.path()).stdout(Stdio::null());
        match kill_at {
            Some(p) => c.env("GANGLION_OTA_KILL_AT", p),
            None => c.env_remove("GANGLION_OTA_KILL_AT"),
        };
        Live::spawn(c)
    }

    fn tick(&self) -> String {
        format!("ganglion/{}/tick", self.id)
    }

    fn deploy_topic(&self) -> String {
        format!("ganglion/{}/ota/deploy", self.id)
    }

    fn status_topic(&self) -> String {
        format!("ganglion/{}/ota/status", self.id)
    }

    fn scripts(&self, sub: &str) -> String {
        let out = ganglion()
            .args(["scripts", sub, "--config"])
            .arg(self.config())
            .output()
            .expect("ganglion scripts");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn stop(agent: Live) {
    agent.signal("TERM");
    let run = agent.finish(Duration::from_secs(20));
    assert!(run.code.is_some(), "agent did not stop:\n{}", run.stderr);
}

/// Retained status as a new subscriber sees it.
fn retained_status(port: u16, topic: &str) -> serde_json::Value {
    let mut o = rumqttc::MqttOptions::new(
        format!("retained-{}", std::process::id()),
        "127.0.0.1",
        port,
    );
    o.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = rumqttc::Client::new(o, 16);
    client
        .subscribe(topic, rumqttc::QoS::AtLeastOnce)
        .expect("subscribe");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Ok(rumqttc::Event::Incoming(rumqttc::Incoming::Publish(p)))) =
            conn.recv_timeout(Duration::from_millis(200))
        {
            let _ = client.disconnect();
            return serde_json::from_slice(&p.payload).expect("status JSON");
        }
    }
    panic!("no retained status on {topic}");
}

// ---------------------------------------------------------------- the tests

/// Operator flow with the CLI: keygen, create, deploy to the device and then to its group;
/// both are committed and the new scripts' messages appear.
#[test]
fn good_bundles_are_committed_and_run() {
    let broker = Mosquitto::start();
    let work = tempfile::tempdir().expect("tmp");
    let out = ganglion()
        .args(["bundle", "keygen", "--out"])
        .arg(work.path().join("keys"))
        .output()
        .expect("keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = fs::read_to_string(work.path().join("keys/ota-signing.pub")).expect("pub");
    let agent = Agent::new("gw-1", &broker, &[public.trim().to_owned()]);
    let obs = Observer::connect(broker.port());
    let live = agent.start(None);
    obs.wait_more(&agent.tick(), "base", 3, &live);

    let deploy = |version: &str, target: &[&str]| {
        let app = work.path().join(format!("app-{version}"));
        fs::create_dir_all(app.join("lib")).expect("mkdir");
        fs::write(app.join("main.js"), ticker(version)).expect("write");
        fs::write(app.join("lib/util.js"), "export const x = 1;\n").expect("write");
        let file = work.path().join(format!("app-{version}.bundle"));
        let out = ganglion()
            .args(["bundle", "create"])
            .arg(&app)
            .args(["--version", version, "--key"])
            .arg(work.path().join("keys/ota-signing.key"))
            .args(target)
            .arg("--out")
            .arg(&file)
            .output()
            .expect("create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut cmd = ganglion();
        cmd.arg("deploy")
            .arg(&file)
            .args([
                "--url",
                &format!("mqtt://127.0.0.1:{}", broker.port()),
                "--timeout",
                "40s",
            ])
            .args(target);
        let out = cmd.output().expect("deploy");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && stdout.contains("gw-1: committed"),
            "deploy {version}:\n{stdout}\n{}\nagent:\n{}",
            String::from_utf8_lossy(&out.stderr),
            live.log()
        );
        for step in ["received", "verifying", "installing", "trial"] {
            assert!(
                stdout.contains(&format!("gw-1: {step}")),
                "{step} in\n{stdout}"
            );
        }
    };
    deploy("1.0.0", &["--device", "gw-1"]);
    obs.wait_more(&agent.tick(), "1.0.0", 3, &live);
    deploy("1.1.0", &["--group", "lab"]);
    obs.wait_more(&agent.tick(), "1.1.0", 3, &live);
    let n = obs.count(&agent.tick(), "1.0.0");
    obs.wait_more(&agent.tick(), "1.1.0", 3, &live);
    assert_eq!(
        obs.count(&agent.tick(), "1.0.0"),
        n,
        "the old version stopped"
    );
    stop(live);

    let list = agent.scripts("list");
    assert!(list.contains("* 1.1.0"), "{list}");
    assert!(list.contains("  1.0.0"), "{list}");
    let status = retained_status(broker.port(), &agent.status_topic());
    assert_eq!(status["state"], "committed");
    assert_eq!(status["running"], "1.1.0");

    // `scripts rollback` while stopped: the next start runs 1.0.0.
    let out = agent.scripts("rollback");
    assert!(
        out.contains("rolled back from 1.1.0 to version 1.0.0"),
        "{out}"
    );
    let live = agent.start(None);
    obs.wait_more(&agent.tick(), "1.0.0", 3, &live);
    stop(live);
}

/// Every bad bundle of the corpus (and broken transfers) is rejected with its reason while the
/// running version keeps publishing.
#[test]
fn bad_bundles_are_rejected_while_the_old_script_runs() {
    let broker = Mosquitto::start();
    let agent = Agent::new("gw-2", &broker, &[]);
    let obs = Observer::connect(broker.port());
    let live = agent.start(None);
    obs.wait_more(&agent.tick(), "base", 2, &live);
    obs.deploy(
        &agent.deploy_topic(),
        "good",
        &corpus_file("good-2.0.0.bundle"),
        false,
    );
    assert_eq!(obs.final_status("good", &live)["state"], "committed");
    obs.wait_more(&agent.tick(), "2.0.0", 2, &live);

    let index = fs::read_to_string(corpus_dir().join("index.txt")).expect("index");
    let mut checked = 0;
    for line in index.lines().filter(|l| !l.starts_with('#')) {
        let (name, expect) = line.split_once(' ').expect("index line");
        if expect == "ok" {
            continue;
        }
        obs.deploy(&agent.deploy_topic(), name, &corpus_file(name), false);
        let st = obs.final_status(name, &live);
        assert_eq!(st["state"], "rejected", "{name}: {st}");
        assert_eq!(st["code"], expect, "{name}: {st}");
        assert!(
            st["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{name}: {st}"
        );
        assert_eq!(st["running"], "2.0.0", "{name}");
        obs.wait_more(&agent.tick(), "2.0.0", 2, &live);
        checked += 1;
    }
    assert!(checked >= 10, "corpus cases checked: {checked}");

    // Transfers: truncated (announced size larger than the bytes), missing chunks (abandoned
    // after transfer_timeout), a corrupted chunk (whole-bundle hash).
    let good = corpus_file("good-2.0.0.bundle");
    let mut chunks = split(&good, "truncated", 256, false);
    let last = chunks.len() - 1;
    let len = chunks[last].len();
    chunks[last].truncate(len - 10);
    obs.publish_chunks(&agent.deploy_topic(), &chunks);
    assert_eq!(obs.final_status("truncated", &live)["code"], "truncated");
    let chunks = split(&good, "missing", 256, false);
    let some: Vec<_> = chunks.iter().step_by(2).cloned().collect();
    obs.publish_chunks(&agent.deploy_topic(), &some);
    let st = obs.final_status("missing", &live);
    assert_eq!(st["code"], "incomplete", "{st}");
    let mut chunks = split(&good, "corrupt", 256, false);
    let n = chunks[1].len() - 1;
    chunks[1][n] ^= 0xff;
    obs.publish_chunks(&agent.deploy_topic(), &chunks);
    assert_eq!(
        obs.final_status("corrupt", &live)["code"],
        "transfer_hash_mismatch"
    );
    // Chunks out of order and repeated are fine; a downgrade allowed by the deploy installs.
    let mut chunks = split(&corpus_file("downgrade-1.0.0.bundle"), "allowed", 256, true);
    chunks.reverse();
    let again = chunks[0].clone();
    chunks.insert(2, again);
    obs.publish_chunks(&agent.deploy_topic(), &chunks);
    assert_eq!(obs.final_status("allowed", &live)["state"], "committed");
    obs.wait_more(&agent.tick(), "1.0.0", 2, &live);
    stop(live);
}

/// New versions that fail their trial are rolled back automatically and the previous version
/// runs again: throws at load, throws repeatedly, spins forever, exhausts memory, never healthy.
#[test]
fn failing_versions_are_rolled_back() {
    let broker = Mosquitto::start();
    let agent = Agent::new("gw-3", &broker, &[]);
    let obs = Observer::connect(broker.port());
    let live = agent.start(None);
    obs.wait_more(&agent.tick(), "base", 2, &live);
    let cases = [
        ("3.0.1", "load_failed", "throw new Error('broken at load');\n".to_owned()),
        (
            "3.0.2",
            "errors",
            format!("{}setInterval(() => {{ throw new Error('again'); }}, 50);\n", ticker("3.0.2")),
        ),
        (
            "3.0.3",
            "errors",
            format!("{}setInterval(() => {{ for (;;) {{}} }}, 50);\n", ticker("3.0.3")),
        ),
        (
            "3.0.4",
            "errors",
            format!(
                "{}const hog = [];\nsetInterval(() => {{ for (let i = 0; i < 1e6; i++) hog.push(new Array(1024).fill(i)); }}, 50);\n",
                ticker("3.0.4")
            ),
        ),
        (
            "3.0.5",
            "unhealthy",
            ticker("3.0.5").replace("agent.healthy();\n", ""),
        ),
    ];
    for (version, code, main) in cases {
        let bundle = Spec::new(version, &main).build();
        obs.deploy(&agent.deploy_topic(), version, &bundle, false);
        let st = obs.final_status(version, &live);
        assert_eq!(st["state"], "rolled_back", "{version}: {st}");
        assert_eq!(st["code"], code, "{version}: {st}");
        assert!(
            st["running"].is_null(),
            "{version}: back on the scripts folder: {st}"
        );
        let states: Vec<_> = obs
            .statuses(version)
            .iter()
            .map(|s| s["state"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(
            states,
            [
                "received",
                "verifying",
                "installing",
                "trial",
                "rolled_back"
            ],
            "{version}"
        );
        obs.wait_more(&agent.tick(), "base", 3, &live);
    }
    stop(live);
    let list = agent.scripts("list");
    assert!(list.contains("no versions installed"), "{list}");
}

/// Kill the agent at each install step (test-hook builds) and start it again: a complete
/// version runs, and the retained status says what happened.
#[test]
fn killed_at_each_install_step_recovers() {
    let broker = Mosquitto::start();
    let agent = Agent::new("gw-1", &broker, &[]);
    let obs = Observer::connect(broker.port());
    let steps = [
        ("installing", "rejected"),
        ("staging", "rejected"),
        ("staged", "rejected"),
        ("trial", "rolled_back"),
        ("committing", "rolled_back"),
        ("committed", "committed"),
    ];
    let mut running = "base".to_owned();
    for (i, (step, expect)) in steps.iter().enumerate() {
        let version = format!("4.{i}.0");
        let live = agent.start(Some(step));
        obs.wait_more(&agent.tick(), &running, 2, &live);
        let bundle = Spec::new(&version, &ticker(&version)).build();
        obs.deploy(&agent.deploy_topic(), &version, &bundle, false);
        let run = {
            let start = Instant::now();
            while live.log().find("ota test hook: killing").is_none() && start.elapsed() < LIMIT {
                std::thread::sleep(Duration::from_millis(20));
            }
            live.finish(LIMIT)
        };
        assert_eq!(
            run.code,
            Some(137),
            "{step}: killed by the hook:\n{}",
            run.stderr
        );
        if *expect == "committed" {
            running = version.clone();
        }
        let live = agent.start(None);
        obs.wait_more(&agent.tick(), &running, 3, &live);
        let st = retained_status(broker.port(), &agent.status_topic());
        assert_eq!(st["deployment"], version.as_str(), "{step}: {st}");
        assert_eq!(st["state"], *expect, "{step}: {st}");
        if *expect != "committed" {
            assert_eq!(st["code"], "interrupted", "{step}: {st}");
        }
        let want_running = if running == "base" {
            serde_json::Value::Null
        } else {
            running.clone().into()
        };
        assert_eq!(st["running"], want_running, "{step}: {st}");
        stop(live);
        let leftovers: Vec<_> = fs::read_dir(agent.dir.path().join("state/scripts"))
            .expect("state dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{step}: {leftovers:?}");
    }
}
