//! The processes under test (Ganglion, Node.js, the ceiling): how each is started with the same
//! options JSON, and a handle that reads their `BENCH {json}` lines, their memory from
//! /proc/<pid>/status and stops them (SIGTERM, then SIGKILL).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One of the three runtimes compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// `ganglion run --config <generated> -- '<options>'` with bench/workload/ganglion.mjs.
    Ganglion,
    /// `node bench/node/main.mjs '<options>'`.
    Node,
    /// The plain Rust rumqttc publisher (this binary, `--ceiling-child`).
    Ceiling,
}

impl Runtime {
    /// All three, in the order they run.
    pub const ALL: [Runtime; 3] = [Runtime::Ceiling, Runtime::Ganglion, Runtime::Node];

    /// Short name for logs and client ids.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Ganglion => "ganglion",
            Runtime::Node => "node",
            Runtime::Ceiling => "ceiling",
        }
    }
}

/// Where the programs and files are.
pub struct Setup {
    /// Repository root.
    pub root: PathBuf,
    /// The ganglion binary under test.
    pub ganglion: PathBuf,
    /// The node executable.
    pub node: PathBuf,
    /// This benchmark's own executable (for the ceiling child).
    pub me: PathBuf,
    /// Scratch folder (configs, durable queues), removed at the end.
    pub scratch: PathBuf,
    /// Most unacknowledged QoS 1 messages, for all three.
    pub inflight: u64,
}

impl Setup {
    /// The command that runs `rt` with `opts` (to which port, client id and url are added).
    pub fn command(&self, rt: Runtime, opts: &Value, port: u16, tag: &str) -> Command {
        let client_id = format!("{}-{tag}", rt.name());
        let mut opts = opts.clone();
        opts["port"] = port.into();
        opts["url"] = format!("mqtt://127.0.0.1:{port}").into();
        opts["clientId"] = client_id.clone().into();
        opts["inflight"] = self.inflight.into();
        match rt {
            Runtime::Ganglion => {
                let readings = opts["n"].as_u64().unwrap_or(0);
                let config = self.ganglion_config(port, &client_id, readings);
                let mut c = Command::new(&self.ganglion);
                c.args(["run", "--config"])
                    .arg(config)
                    .arg("--")
                    .arg(opts.to_string())
                    .env("GANGLION_LOG", "info");
                c
            }
            Runtime::Node => {
                let mut c = Command::new(&self.node);
                c.arg(self.root.join("bench/node/main.mjs"))
                    .arg(opts.to_string());
                c
            }
            Runtime::Ceiling => {
                let mut c = Command::new(&self.me);
                c.arg("--ceiling-child").arg(opts.to_string());
                c
            }
        }
    }

    /// A ganglion.toml for one run from bench/workload/ganglion.toml.in: the workload folder,
    /// the bench board, a fresh durable queue and the same in-flight window as the others. The
    /// queue's byte cap holds every message of a run of `readings` ([`queue_cap_mib`]).
    fn ganglion_config(&self, port: u16, client_id: &str, readings: u64) -> PathBuf {
        let dir = self.scratch.join(client_id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the run's folder");
        let workload = self.root.join("bench/workload");
        let template = std::fs::read_to_string(workload.join("ganglion.toml.in"))
            .expect("read bench/workload/ganglion.toml.in");
        let config = fill(
            &template,
            &[
                ("WORKLOAD", workload.display().to_string()),
                ("STATE_DIR", dir.join("state").display().to_string()),
                ("CALLBACK_TIME", "5s".to_owned()),
                ("PORT", port.to_string()),
                ("CLIENT_ID", client_id.to_owned()),
                ("INFLIGHT", self.inflight.to_string()),
                ("CAP_MIB", queue_cap_mib(readings).to_string()),
            ],
        );
        let path = dir.join("ganglion.toml");
        std::fs::write(&path, config).expect("write ganglion.toml");
        path
    }
}

/// `template` with each `@NAME@` replaced by its value (bench/workload/ganglion.toml.in; its
/// other user, bench/compare/harness.sh, fills it with sed). Panics on one left unfilled.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("@{name}@"), value);
    }
    let mut rest = text.lines().filter(|l| !l.trim_start().starts_with('#'));
    assert!(
        rest.all(|l| !l.contains('@')),
        "bench/workload/ganglion.toml.in: a placeholder is not filled in:\n{text}"
    );
    text
}

/// CPU time used so far by all threads of process `pid`: (user, system) in seconds; zeros if
/// it cannot be read.
pub fn cpu_seconds(pid: u32) -> (f64, f64) {
    let ticks = clock_ticks();
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are 14 and 15.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((
                f.get(11)?.parse::<f64>().ok()?,
                f.get(12)?.parse::<f64>().ok()?,
            ))
        })
        .map_or((0.0, 0.0), |(u, s)| (u / ticks, s / ticks))
}

/// The durable queue's cap for a run of `readings`, in MiB: 256 bytes a reading (a message and
/// its record header take ~150), and never below the agent's default of 64 MiB. Default-sized
/// runs (100,000 readings) keep the default. bench/compare/harness.sh's `workload_config`
/// applies the same rule.
pub fn queue_cap_mib(readings: u64) -> u64 {
    (readings * 256).div_ceil(1 << 20).max(64)
}

/// A running process under test.
pub struct Proc {
    child: Child,
    name: String,
    events: Receiver<Value>,
    log: Arc<Mutex<Vec<String>>>,
}

/// Last lines kept for error messages.
const LOG_LINES: usize = 60;

impl Proc {
    /// Starts `cmd` with stdout and stderr read in the background.
    pub fn spawn(mut cmd: Command, name: &str) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, events) = channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("stdout"));
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("stderr"));
        for stream in [out, err] {
            let (tx, log) = (tx.clone(), log.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(v) = bench_line(&line) {
                        let _ = tx.send(v);
                    }
                    if let Ok(mut l) = log.lock() {
                        if l.len() == LOG_LINES {
                            l.remove(0);
                        }
                        l.push(line);
                    }
                }
            });
        }
        Proc {
            child,
            name: name.to_owned(),
            events,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits for `BENCH {"event": event, ...}`; panics with the process's output otherwise,
    /// and at once on `BENCH {"event": "error", "message": ...}` (a run that cannot complete).
    pub fn wait_event(&mut self, event: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            match self.events.recv_timeout(Duration::from_millis(100)) {
                Ok(v) if v["event"] == event => return v,
                Ok(v) if v["event"] == "error" => panic!(
                    "{}: {} (waiting for {event:?}): {v}; its output:\n{}",
                    self.name,
                    v["message"].as_str().unwrap_or("error"),
                    self.log_text()
                ),
                Ok(_) => {}
                Err(e) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        std::thread::sleep(Duration::from_millis(100));
                        panic!(
                            "{} exited ({status}) before {event:?}; its output:\n{}",
                            self.name,
                            self.log_text()
                        );
                    }
                    if e == RecvTimeoutError::Disconnected {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
            if start.elapsed() > limit {
                panic!(
                    "{}: no {event:?} within {limit:?}; its output:\n{}",
                    self.name,
                    self.log_text()
                );
            }
        }
    }

    /// A `kB` field of /proc/<pid>/status (`VmRSS:`, `VmHWM:`); 0 if unreadable.
    pub fn status_kb(&self, field: &str) -> u64 {
        status_field(self.pid(), field)
    }

    /// CPU time used so far by all its threads: (user, system) in seconds.
    pub fn cpu_seconds(&self) -> (f64, f64) {
        cpu_seconds(self.pid())
    }

    /// Stops it: SIGTERM, up to 3 s to exit, then SIGKILL.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The JSON of a `BENCH {...}` line (Node prints it bare, Ganglion inside its log line).
fn bench_line(line: &str) -> Option<Value> {
    let at = line.find("BENCH {")?;
    let json = &line[at + 6..];
    let end = json.rfind('}')?;
    serde_json::from_str(&json[..=end]).ok()
}

/// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`, 100 when unknown).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        output(Command::new("getconf").arg("CLK_TCK"))
            .parse()
            .unwrap_or(100.0)
    })
}

/// The number of a /proc/<pid>/status field: kB (`VmRSS:`) or a count
/// (`voluntary_ctxt_switches:`); 0 if unreadable.
pub fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `cmd` to completion and returns its stdout, trimmed ("" on failure).
pub fn output(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Size in bytes of a file, or of every file under a folder.
pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| size_of(&e.path()))
                    .sum()
            })
            .unwrap_or(0)
    } else {
        meta.len()
    }
}
