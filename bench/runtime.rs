//! Runtime benchmark (issue #3 targets), printed as figures, never asserted:
//! - Rust→JS event dispatch into a trivial handler (target ≥ 2M events/s),
//! - idle RSS of `ganglion run` on a hello script (target ≤ 6 MB),
//! - process start to the script's first statement (target ≤ 10 ms).
//!
//! Run: `cargo bench -p ganglion --bench runtime`.

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ganglion::config::Config;
use ganglion::js::{self, Exit};

const EVENTS: u64 = 5_000_000;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rates = Vec::new();
    for _ in 0..3 {
        rates.push(dispatch_rate(dir.path()));
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "dispatch: {:.2} M events/s (median of 3; min {:.2}, max {:.2}; {} events per run, trivial handler)",
        rates[1] / 1e6,
        rates[0] / 1e6,
        rates[2] / 1e6,
        EVENTS
    );

    let bin = env!("CARGO_BIN_EXE_ganglion");
    let first = dir.path().join("first.js");
    std::fs::write(&first, "process.exit(0);\n").expect("write");
    let mut starts: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            let status = Command::new(bin)
                .arg("run")
                .arg(&first)
                .stderr(Stdio::null())
                .status()
                .expect("run");
            assert!(status.success());
            t.elapsed()
        })
        .collect();
    starts.sort();
    println!(
        "start to first statement (whole process run of `process.exit(0)`): median {:.2} ms, min {:.2} ms, max {:.2} ms (21 runs)",
        ms(starts[10]),
        ms(starts[0]),
        ms(starts[20])
    );

    let hello = dir.path().join("hello.js");
    std::fs::write(
        &hello,
        "console.log('hello from ganglion');\nsetInterval(() => {}, 1000);\n",
    )
    .expect("write");
    let mut child = Command::new(bin)
        .arg("run")
        .arg(&hello)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(700));
    let rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "idle RSS of `ganglion run hello.js`: {:.2} MB ({} kB)",
        rss as f64 / 1024.0,
        rss
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Events per second from a producer thread through the loop channel into a JS handler.
fn dispatch_rate(dir: &Path) -> f64 {
    let script = dir.join("dispatch.js");
    std::fs::write(
        &script,
        format!(
            "let n = 0;\n\
             const handles = globalThis[Symbol.for('ganglion.internal')].handles;\n\
             handles.set(1, (type, value) => {{ n += value; if (n === {EVENTS}) process.exit(0); }});\n\
             setInterval(() => {{}}, 10000);\n"
        ),
    )
    .expect("write");
    let cfg = Config::for_script(&script);
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio");
    let services = ganglion::services::Services::new(cfg.clone(), io.handle().clone());
    let (sender, mut rx) = js::channel(4096);
    let opts = ganglion::supervisor::script_options(&cfg, Vec::new(), services, sender.clone());
    let producer = std::thread::spawn(move || {
        for _ in 0..EVENTS {
            if !sender.blocking_send(Box::new(|h| h.deliver(1, "reading", 1))) {
                break;
            }
        }
    });
    let t = Instant::now();
    let exit = js::run_script(&opts, &mut rx, io.handle());
    let elapsed = t.elapsed();
    drop(rx);
    let _ = producer.join();
    assert_eq!(exit, Exit::Done(0));
    EVENTS as f64 / elapsed.as_secs_f64()
}
