//! Results of a comparison run: medians with min–max, the markdown table (printed and written
//! into docs/benchmarks.md between its `results` markers), the SVG chart and the machine.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::procs::{output, size_of, Runtime, Setup};

/// One throughput run of one runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadRun {
    /// Readings (events) per second, first emit → last PUBLISH written / last PUBACK.
    pub rate: f64,
    /// Readings per second until the runtime had accepted the last publish.
    pub accept_rate: f64,
    /// Readings per second until the broker had read every message (QoS 0: the PUBACK of an
    /// end marker sent after them; QoS 1: `rate`). Written to the socket is not yet read: the
    /// kernel's buffers hold megabytes on loopback.
    pub read_rate: f64,
    /// The broker's CPU time (user + kernel) from 'go' until it had read every message, µs per
    /// message: what one message costs Mosquitto, whoever sends it.
    pub broker_us: f64,
    /// Times the broker's thread waited for input (voluntary context switches) over the same
    /// span, per 1000 messages: near 0 when messages arrive faster than it reads them.
    pub broker_waits: f64,
    /// VmRSS 1 s after connect, before the load, in kB.
    pub idle_kb: u64,
    /// RssAnon at the same moment (RSS without file-backed pages such as code), in kB.
    pub idle_anon_kb: u64,
    /// VmHWM at the end of the load, in kB.
    pub peak_kb: u64,
    /// User CPU time of all threads during the load, s.
    pub cpu_user_s: f64,
    /// System (kernel) CPU time of all threads during the load, s.
    pub cpu_sys_s: f64,
    /// The broker's CPU time (user + kernel) from 'go' to the end of the load, as a share of
    /// the same wall time: near 1.0, Mosquitto's one thread is what the run waits for.
    pub broker_share: f64,
}

/// `cross/resident.py` on an idle agent: KiB of its code resident in the link order's region,
/// outside it, and outside it with no start-up code to explain it, then the blocks outside.
#[derive(Debug, Clone, Default)]
pub struct IdleCode {
    /// KiB resident in the ordered region.
    pub inside: u64,
    /// KiB resident outside it.
    pub outside: u64,
    /// KiB of those not near start-up code: functions the idle agent runs that the list misses.
    pub unexpected: u64,
    /// One line per block outside the region (offsets, expected or not, functions in it).
    pub blocks: Vec<String>,
}

/// Where the code of idle agent `pid` (running `bin`) is resident against cross/link-order.txt
/// (`cross/resident.py`; x86_64 Linux, where the list is applied). `None` if it cannot tell.
pub fn idle_code(root: &Path, bin: &Path, pid: u32) -> Option<IdleCode> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return None;
    }
    let out = Command::new("python3")
        .arg(root.join("cross/resident.py"))
        .arg(pid.to_string())
        .arg(bin)
        .arg(root.join("cross/link-order.txt"))
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let mut kib = lines
        .next()?
        .split_whitespace()
        .map(|n| n.parse::<u64>().ok());
    Some(IdleCode {
        inside: kib.next()??,
        outside: kib.next()??,
        unexpected: kib.next()??,
        blocks: lines.map(str::to_owned).collect(),
    })
}

/// One latency run of one runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct EdgeRun {
    /// Edge → PUBLISH on the wire, median, µs.
    pub p50_us: f64,
    /// Edge → PUBLISH on the wire, 99th percentile, µs.
    pub p99_us: f64,
    /// Handler start → PUBLISH on the wire, median, µs.
    pub js_p50_us: f64,
    /// Handler start → PUBLISH on the wire, 99th percentile, µs.
    pub js_p99_us: f64,
    /// Edges measured.
    pub samples: usize,
}

/// Where a reading's time goes without MQTT (`timeParts` of common.mjs), one run of one runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parts {
    /// The workload's reading generator alone, µs per reading.
    pub generator_us: f64,
    /// Generator → emit → handler (°F, JSON) with a publish that only counts bytes, µs per reading.
    pub handler_us: f64,
}

/// What the verifying subscriber saw of one runtime's QoS 1 run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Verify {
    /// Distinct messages expected.
    pub expected: u64,
    /// Distinct expected messages delivered.
    pub matched: u64,
    /// Extra copies delivered (QoS 1 allows them).
    pub duplicates: u64,
    /// Messages that were not expected byte for byte.
    pub unexpected: u64,
}

/// The machine and software the run was measured on.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs.
    pub cores: usize,
    /// Memory in GiB.
    pub mem_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// `node --version`.
    pub node: String,
    /// MQTT.js version from bench/node/node_modules.
    pub mqttjs: String,
    /// Mosquitto banner.
    pub mosquitto: String,
    /// `rustc --version`.
    pub rustc: String,
    /// Git commit of the tree measured.
    pub commit: String,
    /// UTC date and time.
    pub date: String,
    /// Size of the ganglion binary after `strip -s`.
    pub ganglion_stripped: u64,
    /// Size of the node executable.
    pub node_size: u64,
    /// Size of bench/node/node_modules (MQTT.js and its dependencies).
    pub node_modules: u64,
    /// Load average when the run started.
    pub load_start: String,
    /// Load average after the throughput runs.
    pub load_mid: String,
    /// Load average at the end.
    pub load_end: String,
    /// How much of cross/link-order.txt names functions of the binary measured.
    pub link_order: String,
}

impl Machine {
    /// Reads the machine's description and the programs' versions and sizes.
    pub fn probe(setup: &Setup, mosquitto: &str) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let mem_kb: f64 = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0.0);
        let stripped = setup.scratch.join("ganglion.stripped");
        let strip_ok = Command::new("strip")
            .arg("-s")
            .arg("-o")
            .arg(&stripped)
            .arg(&setup.ganglion)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let node_path = output(Command::new(&setup.node).args(["-p", "process.execPath"]));
        let mqttjs =
            std::fs::read_to_string(setup.root.join("bench/node/node_modules/mqtt/package.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["version"].as_str().map(str::to_owned))
                .unwrap_or_default();
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_gib: mem_kb / 1024.0 / 1024.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            node: output(Command::new(&setup.node).arg("--version")),
            mqttjs,
            mosquitto: mosquitto.to_owned(),
            rustc: output(Command::new("rustc").arg("--version")),
            commit: output(
                Command::new("git")
                    .args(["rev-parse", "--short", "HEAD"])
                    .current_dir(&setup.root),
            ),
            date: output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])),
            ganglion_stripped: if strip_ok { size_of(&stripped) } else { 0 },
            node_size: size_of(Path::new(&node_path)),
            node_modules: size_of(&setup.root.join("bench/node/node_modules")),
            load_start: crate::loadavg(),
            load_mid: String::new(),
            load_end: String::new(),
            link_order: link_order(&setup.root, &setup.ganglion),
        }
    }
}

/// How much of cross/link-order.txt names functions defined in `bin` (by `nm`). Its names carry
/// crate hashes, which change with a dependency or the compiler; stale names are skipped by the
/// linker, so nothing fails, but the idle RSS grows. None found of the names that mention
/// `ganglion` (its crates' functions, and generic ones over its types) means the file is stale:
/// say so loudly, here and in the results (cross/build.sh counts the ARM layout the same way).
/// A change to the code gives its functions new hashes, which the exact match does not find:
/// those are counted too (`cross/symkey.py --drift`, also against the count the list's benchmark
/// build had, cross/link-order.found), as the idle RSS drifts up with them.
fn link_order(root: &Path, bin: &Path) -> String {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return "not used on this target (x86_64 Linux only)".to_owned();
    }
    if !root.join("cross/link-order.txt").is_file() {
        return "cross/link-order.txt missing".to_owned();
    }
    let symbols = match Command::new("nm").arg("--defined-only").arg(bin).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ => return "not checked (`nm` failed)".to_owned(),
    };
    let names: Vec<&str> = symbols
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    let Some(d) = drift(root, &names) else {
        return "not checked (python3 cross/symkey.py failed)".to_owned();
    };
    if d.listed_own > 0 && d.found_own == 0 {
        let text = format!(
            "STALE: none of the {} names naming a Ganglion crate or type that \
             cross/link-order.txt lists is in this build (a dependency or the compiler changed); \
             the idle RSS is higher until `cross/link-order.sh` is run again",
            d.listed_own
        );
        tracing::warn!("link order {text}");
        return text;
    }
    let text = format!(
        "cross/link-order.txt: {} of its {} names (of the release and the benchmark builds) are \
         in the binary measured, {} of them naming a Ganglion crate or type",
        d.found, d.listed, d.found_own
    );
    let gone = d.gone.filter(|&g| g > 0);
    if d.moved > 0 || gone.is_some() {
        // Only the counts that found something are named.
        let mut found = Vec::new();
        if d.moved > 0 {
            found.push(format!(
                "{} functions it lists ({} of Ganglion's crates) have new names since it was made",
                d.moved, d.moved_own
            ));
        }
        if let Some(g) = gone {
            found.push(format!(
                "{g} of the names the benchmark build it was made from defined are gone \
                 (renamed or removed)"
            ));
        }
        let text = format!(
            "{text}; {}: those functions are outside the ordered region, so the idle RSS may \
             be higher until `cross/link-order.sh` is run again",
            found.join(", and ")
        );
        tracing::warn!("link order {text}");
        return text;
    }
    match d.gone {
        Some(_) => format!(
            "{text}; none of its functions has a newer name, and every name it had in the \
             benchmark build it was made from is there"
        ),
        None => format!(
            "{text}; none of its functions has a newer name (cross/link-order.found missing: \
             renamed copies of generic functions not checked)"
        ),
    }
}

/// `cross/symkey.py --drift` of cross/link-order.txt against a build's names: how many of the
/// list's names it defines (all, and those naming Ganglion), how many functions the list
/// names only under names the build no longer has while it has them under new ones, and how
/// many of the names the list's benchmark build defined it lacks.
struct Drift {
    found: usize,
    listed: usize,
    found_own: usize,
    listed_own: usize,
    moved: usize,
    moved_own: usize,
    /// `None` without cross/link-order.found.
    gone: Option<usize>,
}

fn drift(root: &Path, names: &[&str]) -> Option<Drift> {
    use std::io::Write as _;
    let mut child = Command::new("python3")
        .arg(root.join("cross/symkey.py"))
        .arg("--drift")
        .arg(root.join("cross/link-order.txt"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let fed = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(names.join("\n").as_bytes()).is_ok());
    let out = child.wait_with_output().ok()?;
    if fed != Some(true) || !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts = text.split_whitespace().map(|n| n.parse::<usize>().ok());
    let mut next = || counts.next().flatten();
    Some(Drift {
        found: next()?,
        listed: next()?,
        found_own: next()?,
        listed_own: next()?,
        moved: next()?,
        moved_own: next()?,
        gone: next(),
    })
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Results {
    /// Runs per figure.
    pub runs: usize,
    /// Readings per throughput run.
    pub events: u64,
    /// QoS 1 in-flight window of all three.
    pub inflight: u64,
    /// Readings per batch.
    pub batch: u64,
    /// Throughput runs by (runtime, QoS).
    pub load: HashMap<(Runtime, u8), Vec<LoadRun>>,
    /// Readings per sustained throughput run (0: none).
    pub sustained_events: u64,
    /// Sustained throughput runs by (runtime, QoS): ten times the readings, so the end of a
    /// run (socket buffers, a JIT still warming up) weighs less and the queue's backlog more.
    pub sustained: HashMap<(Runtime, u8), Vec<LoadRun>>,
    /// The JavaScript alone, by runtime.
    pub parts: HashMap<Runtime, Vec<Parts>>,
    /// Start → first PUBACK in ms, by runtime.
    pub start: HashMap<Runtime, Vec<f64>>,
    /// Latency runs by (runtime, QoS).
    pub edge: HashMap<(Runtime, u8), Vec<EdgeRun>>,
    /// The verification runs.
    pub verify: HashMap<Runtime, Verify>,
    /// Readings of each verification run.
    pub verify_events: u64,
    /// Where each idle Ganglion of the throughput runs had code resident (`idle_code`).
    pub idle_code: Vec<IdleCode>,
    /// Where it ran.
    pub machine: Machine,
}

impl Results {
    /// Empty results for a run with these settings.
    pub fn new(runs: usize, events: u64, inflight: u64, batch: u64) -> Results {
        Results {
            runs,
            events,
            inflight,
            batch,
            ..Results::default()
        }
    }

    fn loads(&self, rt: Runtime, qos: u8, f: impl Fn(&LoadRun) -> f64) -> Stat {
        Stat::over(&self.load, &(rt, qos), f)
    }

    fn sustained(&self, rt: Runtime, qos: u8, f: impl Fn(&LoadRun) -> f64) -> Stat {
        Stat::over(&self.sustained, &(rt, qos), f)
    }

    fn idle(&self, rt: Runtime) -> Stat {
        self.idle_by(rt, |r| r.idle_kb)
    }

    fn idle_by(&self, rt: Runtime, f: impl Fn(&LoadRun) -> u64) -> Stat {
        let mut all = Vec::new();
        for qos in [0, 1] {
            if let Some(v) = self.load.get(&(rt, qos)) {
                all.extend(v.iter().map(|r| f(r) as f64 / 1024.0));
            }
        }
        Stat::of(all)
    }

    fn edges(&self, rt: Runtime, qos: u8, f: impl Fn(&EdgeRun) -> f64) -> Stat {
        Stat::over(&self.edge, &(rt, qos), f)
    }

    fn parts_by(&self, rt: Runtime, f: impl Fn(&Parts) -> f64) -> Stat {
        Stat::over(&self.parts, &rt, f)
    }

    fn starts(&self, rt: Runtime) -> Stat {
        Stat::of(self.start.get(&rt).cloned().unwrap_or_default())
    }
}

/// CPU milliseconds (user + kernel, all threads) per 1000 readings of a throughput run.
fn cpu_per_k(r: &Results, l: &LoadRun) -> f64 {
    cpu_per_k_of(r.events, l)
}

/// CPU milliseconds (user + kernel, all threads) per 1000 of a run's `readings`.
fn cpu_per_k_of(readings: u64, l: &LoadRun) -> f64 {
    (l.cpu_user_s + l.cpu_sys_s) * 1000.0 / (readings as f64 / 1000.0)
}

/// Median, min and max of some runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stat {
    /// Median (the mean of the middle two for an even count).
    pub med: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Runs.
    pub n: usize,
}

impl Stat {
    /// `f` of each run stored under `key` (none measured: the empty Stat).
    fn over<K: Eq + std::hash::Hash, T>(
        runs: &HashMap<K, Vec<T>>,
        key: &K,
        f: impl Fn(&T) -> f64,
    ) -> Stat {
        Stat::of(
            runs.get(key)
                .map_or(Vec::new(), |v| v.iter().map(f).collect()),
        )
    }

    fn of(mut v: Vec<f64>) -> Stat {
        if v.is_empty() {
            return Stat::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let med = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Stat {
            med,
            min: v[0],
            max: v[n - 1],
            n,
        }
    }
}

/// Nearest-rank percentile `p` (0–100) of `v` (sorted in place); 0 for no values.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// A number with thousands separators and `digits` decimals.
fn num(x: f64, digits: usize) -> String {
    let s = format!("{x:.digits$}");
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
    let (sign, int) = int.strip_prefix('-').map_or(("", int), |i| ("-", i));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{out}")
    } else {
        format!("{sign}{out}.{frac}")
    }
}

fn cell(s: Stat, digits: usize, unit: &str) -> String {
    if s.n == 0 {
        return "—".to_owned();
    }
    format!(
        "{}{unit} ({}–{})",
        num(s.med, digits),
        num(s.min, digits),
        num(s.max, digits)
    )
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
}

/// The "met" cell: ✓ or ✗, or "—" when the figure was not measured in this run (`--only`).
fn met(verdict: Option<bool>) -> &'static str {
    match verdict {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "—",
    }
}

/// `a ÷ b` of two medians; `None` when either was not measured in this run or `b` is zero.
fn ratio(a: Stat, b: Stat) -> Option<f64> {
    (a.n > 0 && b.n > 0 && b.med != 0.0).then(|| a.med / b.med)
}

/// A ratio with `digits` decimals and `unit`, or "—".
fn fixed(x: Option<f64>, digits: usize, unit: &str) -> String {
    x.map_or("—".to_owned(), |x| format!("{x:.digits$}{unit}"))
}

/// A row without a target: Ganglion, Node.js, Ganglion ÷ Node.js (`ratio_digits`), the ceiling.
fn plain_row(
    s: &mut String,
    label: &str,
    [g, n, c]: [Stat; 3],
    (digits, unit): (usize, &str),
    ratio_digits: usize,
) {
    let _ = writeln!(
        s,
        "| {label} | {} | {} | {} | {} | — | |",
        cell(g, digits, unit),
        cell(n, digits, unit),
        fixed(ratio(g, n), ratio_digits, ""),
        cell(c, digits, unit),
    );
}

/// The range over runs of one `IdleCode` figure, "a" or "a–b" KiB.
fn kib_range(runs: &[IdleCode], f: impl Fn(&IdleCode) -> u64) -> String {
    let min = runs.iter().map(&f).min().unwrap_or(0);
    let max = runs.iter().map(&f).max().unwrap_or(0);
    match min == max {
        true => format!("{min} KiB"),
        false => format!("{min}–{max} KiB"),
    }
}

/// What the idle agents' resident code says about the link order, with the blocks of the worst
/// run when some code outside the ordered region has no start-up code to explain it (a function
/// the idle path runs that cross/link-order.txt misses, such as a new copy of a generic function,
/// which the name counts above cannot see).
fn idle_code_line(runs: &[IdleCode]) -> Option<String> {
    let worst = runs.iter().max_by_key(|c| c.unexpected)?;
    let mut line = format!(
        "Idle code (pagemap of Ganglion's idle process in each throughput run, \
         `cross/resident.py`): {} resident in the link order's region, {} outside it, {} of that \
         not explained by start-up code",
        kib_range(runs, |c| c.inside),
        kib_range(runs, |c| c.outside),
        kib_range(runs, |c| c.unexpected),
    );
    if worst.unexpected > 0 {
        let hit = runs.iter().filter(|c| c.unexpected > 0).count();
        line.push_str(&format!(
            " in {hit} of {} idle agents: functions they ran that cross/link-order.txt misses, \
             so the idle RSS is higher. A renamed function goes back in with \
             `cross/link-order.sh`; a path only threads meeting at a lock take, which its \
             valgrind traces never show, goes into its `CONTENDED` pattern (blocks of the worst run: {})",
            runs.len(),
            worst.blocks.join("; ")
        ));
        tracing::warn!("link order: {line}");
    }
    Some(line)
}

/// The results as markdown: machine, settings, the table and the targets.
pub fn markdown(r: &Results) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let _ = writeln!(s, "Measured {} at commit `{}` on:\n", m.date, m.commit);
    let _ = writeln!(
        s,
        "- {} × {}, {:.1} GiB RAM, Linux {}; load average (1, 5, 15 min) {} at the start, {} after the \
         throughput runs, {} at the end (the cores are shared with other work, so absolute figures \
         vary between runs; the ratios come from the same run)",
        m.cores, m.cpu, m.mem_gib, m.kernel, m.load_start, m.load_mid, m.load_end
    );
    let _ = writeln!(
        s,
        "- Node.js {}, MQTT.js {}, {}, {}",
        m.node, m.mqttjs, m.mosquitto, m.rustc
    );
    let _ = writeln!(s, "- Code layout: {}", m.link_order);
    if let Some(line) = idle_code_line(&r.idle_code) {
        let _ = writeln!(s, "- {line}");
    }
    let sustained_runs = match r.sustained_events {
        0 => String::new(),
        n => format!(
            ", {} per sustained run ({} messages)",
            num(n as f64, 0),
            num(crate::workload::messages_for(n) as f64, 0)
        ),
    };
    let _ = writeln!(
        s,
        "- {} runs per figure as fresh processes (start-up: {}), median (min–max); {} readings per \
         throughput run ({} messages){sustained_runs}, emitted {} per macrotask; at most {} QoS 1 \
         messages in flight for all three\n",
        r.runs,
        r.start.values().map(Vec::len).max().unwrap_or(0),
        num(r.events as f64, 0),
        num(crate::workload::messages_for(r.events) as f64, 0),
        r.batch,
        r.inflight
    );
    let _ = writeln!(
        s,
        "| figure | Ganglion | Node.js | Ganglion ÷ Node.js | ceiling (Rust rumqttc, no JS) | target | met |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    let (g, n, c) = (Runtime::Ganglion, Runtime::Node, Runtime::Ceiling);
    let sustained = num(r.sustained_events as f64, 0);
    let rate = |l: &LoadRun| l.rate;
    let read = |l: &LoadRun| l.read_rate;
    for (runs, qos, what, f, target) in [
        (
            &r.load,
            0u8,
            "QoS 0 throughput (until written to the socket), events/s".to_owned(),
            &rate as &dyn Fn(&LoadRun) -> f64,
            true,
        ),
        (
            &r.load,
            1,
            "QoS 1 throughput (until every PUBACK; Ganglion: durable queue, fsync batch), events/s"
                .to_owned(),
            &rate,
            true,
        ),
        (
            &r.load,
            0,
            "QoS 0 throughput until Mosquitto has read every message (the PUBACK of a QoS 1 \
             message sent after them), events/s"
                .to_owned(),
            &read,
            false,
        ),
        (
            &r.sustained,
            0,
            format!("QoS 0 throughput sustained over {sustained} readings (until written to the socket), events/s"),
            &rate,
            true,
        ),
        (
            &r.sustained,
            0,
            format!("QoS 0 throughput sustained over {sustained} readings (until Mosquitto has read every message), events/s"),
            &read,
            false,
        ),
        (
            &r.sustained,
            1,
            format!("QoS 1 throughput sustained over {sustained} readings (until every PUBACK), events/s"),
            &rate,
            true,
        ),
    ] {
        let [gs, ns, cs] = [g, n, c].map(|rt| Stat::over(runs, &(rt, qos), f));
        let (times, of_ceiling) = (ratio(gs, ns), ratio(gs, cs));
        let (target, verdict) = if target {
            (
                "≥ 3× Node.js, ≥ 80 % of the ceiling",
                met(times.zip(of_ceiling).map(|(t, c)| t >= 3.0 && c >= 0.8)),
            )
        } else {
            ("—", "")
        };
        let _ = writeln!(
            s,
            "| {what} | {} | {} | {} | {} — Ganglion at {} | {target} | {verdict} |",
            cell(gs, 0, ""),
            cell(ns, 0, ""),
            fixed(times, 2, "×"),
            cell(cs, 0, ""),
            fixed(of_ceiling.map(|x| x * 100.0), 0, " %"),
        );
    }
    for qos in [0u8, 1] {
        let per_k = r.events as f64 / 1000.0;
        let cpu = |rt| r.loads(rt, qos, |l| cpu_per_k(r, l));
        let sys = |rt| r.loads(rt, qos, |l| l.cpu_sys_s * 1000.0 / per_k);
        plain_row(
            &mut s,
            &format!("CPU time per 1000 events, QoS {qos} (user + kernel, all threads)"),
            [cpu(g), cpu(n), cpu(c)],
            (1, " ms"),
            2,
        );
        plain_row(
            &mut s,
            &format!("… of which in the kernel, QoS {qos}"),
            [sys(g), sys(n), sys(c)],
            (1, " ms"),
            2,
        );
    }
    for qos in [0u8, 1] {
        let cpu = |rt| r.sustained(rt, qos, |l| cpu_per_k_of(r.sustained_events, l));
        plain_row(
            &mut s,
            &format!("CPU time per 1000 events, sustained QoS {qos} ({sustained} readings)"),
            [cpu(g), cpu(n), cpu(c)],
            (1, " ms"),
            2,
        );
    }
    for qos in [0u8, 1] {
        let busy = |rt| r.loads(rt, qos, |l| l.broker_share * 100.0);
        plain_row(
            &mut s,
            &format!(
                "Mosquitto busy during the load, QoS {qos} (its CPU time ÷ wall time; one thread)"
            ),
            [busy(g), busy(n), busy(c)],
            (0, " %"),
            2,
        );
    }
    for qos in [0u8, 1] {
        let cost = |rt| r.loads(rt, qos, |l| l.broker_us);
        plain_row(
            &mut s,
            &format!(
                "Mosquitto CPU per message, QoS {qos}, from 'go' until it has read every message"
            ),
            [cost(g), cost(n), cost(c)],
            (2, " µs"),
            2,
        );
    }
    for qos in [0u8, 1] {
        let waits = |rt| r.loads(rt, qos, |l| l.broker_waits);
        plain_row(
            &mut s,
            &format!(
                "… Mosquitto waits for input per 1000 messages, QoS {qos} (voluntary context \
                 switches; each costs it a sleep and a wake-up)"
            ),
            [waits(g), waits(n), waits(c)],
            (1, ""),
            2,
        );
    }
    for (label, f) in [
        (
            "the workload's reading generator alone (no MQTT), µs per reading",
            (|p: &Parts| p.generator_us) as fn(&Parts) -> f64,
        ),
        (
            "generator → emit → handler → JSON, publish only counted (no MQTT), µs per reading",
            |p: &Parts| p.handler_us,
        ),
    ] {
        let runs = [r.parts_by(g, f), r.parts_by(n, f), r.parts_by(c, f)];
        plain_row(&mut s, label, runs, (3, " µs"), 2);
    }
    for (runs, kind, note) in [
        (&r.load, "", String::new()),
        (
            &r.sustained,
            "sustained ",
            format!("; {sustained} readings"),
        ),
    ] {
        for qos in [0u8, 1] {
            let f = |rt| Stat::over(runs, &(rt, qos), |l| l.peak_kb as f64 / 1024.0);
            let share = ratio(f(g), f(n));
            let _ = writeln!(
                s,
                "| peak RSS, {kind}QoS {qos} run (VmHWM{note}) | {} | {} | {} | {} | ≤ 1/10 of Node.js | {} |",
                cell(f(g), 1, " MB"),
                cell(f(n), 1, " MB"),
                fixed(share, 3, ""),
                cell(f(c), 1, " MB"),
                met(share.map(|x| x <= 0.1))
            );
        }
    }
    let idle = r.idle(g);
    let _ = writeln!(
        s,
        "| idle RSS 1 s after connect | {} | {} | {} | {} | ≤ 6 MB | {} |",
        cell(idle, 1, " MB"),
        cell(r.idle(n), 1, " MB"),
        fixed(ratio(idle, r.idle(n)), 3, ""),
        cell(r.idle(c), 1, " MB"),
        met((idle.n > 0).then_some(idle.med <= 6.0))
    );
    let anon = |rt| r.idle_by(rt, |l| l.idle_anon_kb);
    plain_row(
        &mut s,
        "… of which anonymous (RssAnon: heap, stacks; no code pages)",
        [anon(g), anon(n), anon(c)],
        (1, " MB"),
        3,
    );
    let (gs, ns) = (r.starts(g), r.starts(n));
    let share = ratio(gs, ns);
    let _ = writeln!(
        s,
        "| process start → first PUBACK | {} | {} | {} | {} | ≤ 1/10 of Node.js | {} |",
        cell(gs, 1, " ms"),
        cell(ns, 1, " ms"),
        fixed(share, 3, ""),
        cell(r.starts(c), 1, " ms"),
        met(share.map(|x| x <= 0.1))
    );
    for qos in [0u8, 1] {
        for (label, f) in [
            (
                "GPIO edge → PUBLISH on the wire, p50",
                (|e: &EdgeRun| e.p50_us) as fn(&EdgeRun) -> f64,
            ),
            ("GPIO edge → PUBLISH on the wire, p99", |e: &EdgeRun| {
                e.p99_us
            }),
            (
                "handler start → PUBLISH on the wire, p50",
                |e: &EdgeRun| e.js_p50_us,
            ),
            (
                "handler start → PUBLISH on the wire, p99",
                |e: &EdgeRun| e.js_p99_us,
            ),
        ] {
            let runs = [r.edges(g, qos, f), r.edges(n, qos, f), r.edges(c, qos, f)];
            plain_row(&mut s, &format!("{label}, QoS {qos}"), runs, (0, " µs"), 2);
        }
    }
    let _ = writeln!(
        s,
        "| size on disk | {} (ganglion, stripped) | {} (node) + {} (node_modules) | {:.3} | — | — | |",
        mb(m.ganglion_stripped),
        mb(m.node_size),
        mb(m.node_modules),
        m.ganglion_stripped as f64 / (m.node_size + m.node_modules).max(1) as f64
    );
    let v = |rt| {
        r.verify.get(&rt).map_or("—".to_owned(), |v| {
            format!(
                "{}/{} ({} duplicates, {} unexpected)",
                num(v.matched as f64, 0),
                num(v.expected as f64, 0),
                v.duplicates,
                v.unexpected
            )
        })
    };
    let all_ok = Runtime::ALL.iter().all(|rt| {
        r.verify
            .get(rt)
            .is_some_and(|v| v.matched == v.expected && v.unexpected == 0)
    });
    let _ = writeln!(
        s,
        "| QoS 1 messages delivered, checked byte for byte by a subscriber (separate run of {} readings) | {} | {} | | {} | all, identical bytes | {} |",
        num(r.verify_events as f64, 0),
        v(g),
        v(n),
        v(c),
        met((!r.verify.is_empty()).then_some(all_ok))
    );
    s
}

/// Replaces the text between `<!-- results:begin -->` and `<!-- results:end -->` in `path`
/// (appends a results section if the markers are missing).
pub fn write_docs(path: &Path, table: &str) -> std::io::Result<()> {
    const BEGIN: &str =
        "<!-- results:begin (generated by cargo bench -p ganglion --bench compare) -->";
    const END: &str = "<!-- results:end -->";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{table}{END}");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &old[..b], &old[e + END.len()..]),
        _ => format!("{old}\n## Results\n\n{block}\n"),
    };
    std::fs::write(path, new)
}

const COLORS: [(Runtime, &str, &str); 3] = [
    (Runtime::Ganglion, "Ganglion", "#2b6cb0"),
    (Runtime::Node, "Node.js + MQTT.js", "#3c873a"),
    (Runtime::Ceiling, "ceiling (Rust rumqttc)", "#9a9a9a"),
];

struct Panel {
    title: String,
    groups: Vec<(String, Vec<(Runtime, Stat)>)>,
    digits: usize,
    unit: &'static str,
}

/// The chart: four panels (throughput, memory, start-up, latency), medians with min–max.
pub fn svg(r: &Results) -> String {
    let rts = Runtime::ALL;
    let long = short_count(r.sustained_events);
    let by = |f: &dyn Fn(Runtime) -> Stat| -> Vec<(Runtime, Stat)> {
        [Runtime::Ganglion, Runtime::Node, Runtime::Ceiling]
            .into_iter()
            .filter(|rt| rts.contains(rt))
            .map(|rt| (rt, f(rt)))
            .collect()
    };
    let panels = [
        Panel {
            title: "Throughput, events/s (higher is better)".into(),
            groups: vec![
                ("QoS 0".into(), by(&|rt| r.loads(rt, 0, |l| l.rate))),
                // The same runs until Mosquitto had read every message (see `readEnd`).
                (
                    "QoS 0 read".into(),
                    by(&|rt| r.loads(rt, 0, |l| l.read_rate)),
                ),
                ("QoS 1".into(), by(&|rt| r.loads(rt, 1, |l| l.rate))),
                // The sustained runs, labelled with their readings ("QoS 0 1M").
                (
                    format!("QoS 0 {long}"),
                    by(&|rt| r.sustained(rt, 0, |l| l.rate)),
                ),
                (
                    format!("QoS 1 {long}"),
                    by(&|rt| r.sustained(rt, 1, |l| l.rate)),
                ),
            ],
            digits: 0,
            unit: "",
        },
        Panel {
            title: "CPU time per 1000 events, ms, all threads (lower is better)".into(),
            groups: vec![
                (
                    "QoS 0".into(),
                    by(&|rt| r.loads(rt, 0, |l| cpu_per_k(r, l))),
                ),
                (
                    "QoS 1".into(),
                    by(&|rt| r.loads(rt, 1, |l| cpu_per_k(r, l))),
                ),
            ],
            digits: 1,
            unit: " ms",
        },
        Panel {
            title: "Memory, MB RSS (lower is better)".into(),
            groups: vec![
                ("idle".into(), by(&|rt| r.idle(rt))),
                (
                    "peak QoS 0".into(),
                    by(&|rt| r.loads(rt, 0, |l| l.peak_kb as f64 / 1024.0)),
                ),
                (
                    "peak QoS 1".into(),
                    by(&|rt| r.loads(rt, 1, |l| l.peak_kb as f64 / 1024.0)),
                ),
                (
                    format!("peak QoS 1 {long}"),
                    by(&|rt| r.sustained(rt, 1, |l| l.peak_kb as f64 / 1024.0)),
                ),
            ],
            digits: 1,
            unit: " MB",
        },
        Panel {
            title: "Process start → first PUBACK, ms (lower is better)".into(),
            groups: vec![("start".into(), by(&|rt| r.starts(rt)))],
            digits: 1,
            unit: " ms",
        },
        Panel {
            title: "GPIO edge → PUBLISH on the wire, µs (lower is better)".into(),
            groups: vec![
                ("p50 QoS 0".into(), by(&|rt| r.edges(rt, 0, |e| e.p50_us))),
                ("p99 QoS 0".into(), by(&|rt| r.edges(rt, 0, |e| e.p99_us))),
                ("p50 QoS 1".into(), by(&|rt| r.edges(rt, 1, |e| e.p50_us))),
                ("p99 QoS 1".into(), by(&|rt| r.edges(rt, 1, |e| e.p99_us))),
            ],
            digits: 0,
            unit: " µs",
        },
    ];
    let (pw, bar, gap, left, top) = (470.0, 11.0, 10.0, 84.0, 64.0);
    let heights: Vec<f64> = panels
        .iter()
        .map(|p| {
            34.0 + p
                .groups
                .iter()
                .map(|(_, b)| b.len() as f64 * (bar + 2.0) + gap)
                .sum::<f64>()
        })
        .collect();
    let row_h: Vec<f64> = heights
        .chunks(2)
        .map(|c| c.iter().copied().fold(0.0, f64::max))
        .collect();
    let width = 2.0 * pw + 30.0;
    let height = top + row_h.iter().sum::<f64>() + 10.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Ganglion vs Node.js {} + MQTT.js {} \
         (median of {} runs, whiskers min–max)</text>",
        esc(&r.machine.node),
        esc(&r.machine.mqttjs),
        r.runs
    );
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"37\" fill=\"#555\">{} × {}, load average {} → {}; {} · commit {}</text>",
        r.machine.cores,
        esc(&r.machine.cpu),
        esc(&r.machine.load_start),
        esc(&r.machine.load_end),
        esc(&r.machine.date),
        esc(&r.machine.commit)
    );
    let mut lx = 10.0;
    for (_, name, color) in COLORS {
        let _ = writeln!(
            s,
            "<rect x=\"{lx}\" y=\"45\" width=\"10\" height=\"10\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"54\">{name}</text>",
            lx + 14.0
        );
        lx += 14.0 + 7.0 * name.len() as f64 + 16.0;
    }
    for (i, p) in panels.iter().enumerate() {
        let x0 = 10.0 + (i % 2) as f64 * (pw + 10.0);
        let y0 = top + row_h[..i / 2].iter().sum::<f64>();
        let _ = writeln!(
            s,
            "<text x=\"{x0}\" y=\"{}\" font-weight=\"bold\">{}</text>",
            y0 + 14.0,
            esc(&p.title)
        );
        let max = p
            .groups
            .iter()
            .flat_map(|(_, b)| b.iter().map(|(_, st)| st.max))
            .fold(0.0f64, f64::max)
            .max(1e-9);
        let span = pw - left - 90.0;
        let scale = |v: f64| v / max * span;
        let mut y = y0 + 26.0;
        for (label, bars) in &p.groups {
            let group_h = bars.len() as f64 * (bar + 2.0);
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                x0 + left - 6.0,
                y + group_h / 2.0 + 4.0,
                esc(label)
            );
            for (rt, st) in bars {
                let color = COLORS.iter().find(|c| c.0 == *rt).map_or("#000", |c| c.2);
                let bx = x0 + left;
                let _ = writeln!(
                    s,
                    "<rect x=\"{bx}\" y=\"{y}\" width=\"{:.1}\" height=\"{bar}\" fill=\"{color}\"/>",
                    scale(st.med)
                );
                let (wa, wb, wy) = (bx + scale(st.min), bx + scale(st.max), y + bar / 2.0);
                let _ = writeln!(
                    s,
                    "<path d=\"M{wa:.1} {wy}H{wb:.1}M{wa:.1} {:.1}V{:.1}M{wb:.1} {:.1}V{:.1}\" stroke=\"#222\" stroke-width=\"1\"/>",
                    y + 2.0,
                    y + bar - 2.0,
                    y + 2.0,
                    y + bar - 2.0
                );
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{}\">{}{}</text>",
                    bx + scale(st.max.max(st.med)) + 4.0,
                    y + bar - 1.5,
                    num(st.med, p.digits),
                    p.unit
                );
                y += bar + 2.0;
            }
            y += gap;
        }
    }
    let _ = writeln!(s, "</svg>");
    s
}

/// A count as a chart label: 1M, 250k, 1500.
fn short_count(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
