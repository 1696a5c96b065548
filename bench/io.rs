//! IO benchmark (issue #4 figures), printed, never asserted:
//! - GPIO edge on the simulated board (the test drives the line) → JS `onReadable`, latency
//!   p50/p99 measured from the edge's timestamp to the start of the callback;
//! - serial lines/s from a pseudo-terminal through `lines` framing into a JS `onReadable`.
//!
//! Both run the agent library in this process (the simulator is driven from a thread here).
//! Run: `cargo bench -p ganglion --bench io`.

#![allow(clippy::print_stdout)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ganglion::config::Config;
use ganglion::js::{self, Exit};
use ganglion::services::Services;
use ganglion_devices::board::PinRef;
use ganglion_devices::serial::sim::SimPty;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EDGES: usize = 5_000;
const LINES: usize = 200_000;

fn main() {
    // Scripts report their figures with console.log; show only those.
    tracing_subscriber::fmt()
        .with_env_filter("script=info")
        .with_writer(std::io::stdout)
        .with_target(false)
        .without_time()
        .with_level(false)
        .with_ansi(false)
        .init();
    let dir = tempfile::tempdir().expect("tempdir");
    gpio_latency(dir.path());
    serial_rate(dir.path());
}

/// Run `script` on the simulated board with the agent library; `side` runs beside it.
fn run(dir: &Path, name: &str, script: &str, side: impl FnOnce(Arc<Services>) + Send + 'static) {
    let file = dir.join(name);
    std::fs::write(&file, script).expect("write script");
    let mut cfg = Config::for_script(&file);
    cfg.agent.state_dir = dir.join("state");
    cfg.agent.board = "sim".into();
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let services = Services::new(cfg.clone(), io.handle().clone());
    let (sender, mut rx) = js::channel(4096);
    let opts = ganglion::supervisor::script_options(&cfg, Vec::new(), services.clone(), sender);
    let helper = std::thread::spawn(move || side(services));
    let exit = js::run_script(&opts, &mut rx, io.handle());
    helper.join().expect("helper thread");
    assert_eq!(exit, Exit::Done(0), "{name} failed");
}

fn gpio_latency(dir: &Path) {
    let script = format!(
        r#"
import Digital from 'embedded:io/digital';
const native = globalThis[Symbol.for('ganglion.internal')].native;
const lat = [];
new Digital({{ pin: 22, mode: Digital.Input, edge: Digital.Rising | Digital.Falling,
  onReadable(edge) {{
    lat.push(native.ioMonotonicNs() - edge.timestamp);
    if (lat.length < {EDGES}) return;
    this.close();
    lat.sort((a, b) => a - b);
    const us = (q) => (lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] / 1000).toFixed(1);
    console.log(`gpio edge (sim drive) -> JS onReadable: p50 ${{us(0.5)}} us, p99 ${{us(0.99)}} us, max ${{us(1)}} us ({EDGES} edges, 1 ms apart)`);
  }} }});
"#
    );
    run(dir, "gpio.js", &script, |services| {
        let devices = services.devices().expect("sim board");
        let addr = devices.resolve_pin(&PinRef::Number(22)).expect("pin");
        let sim = devices.sim_gpio().expect("simulated");
        while sim.consumer(&addr).expect("line").is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        for i in 0..EDGES {
            sim.drive(&addr, i % 2 == 0).expect("drive");
            // One edge at a time: latency, not queueing.
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

fn serial_rate(dir: &Path) {
    let link = dir.join("tty-bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio");
    let pty = {
        let _rt = rt.enter();
        SimPty::open().expect("pty")
    };
    pty.link_at(&link).expect("link");
    let line = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n";
    let device = rt.spawn(async move {
        let mut pty = pty;
        let mut hello = [0u8; 6];
        pty.read_exact(&mut hello).await.expect("READY");
        let chunk: Vec<u8> = line.repeat(64).into_bytes();
        let start = Instant::now();
        for _ in 0..LINES / 64 {
            pty.write_all(&chunk).await.expect("write");
        }
        pty.flush().await.expect("flush");
        (start, pty)
    });
    let lines = (LINES / 64) * 64;
    let script = format!(
        r#"
import Serial from 'embedded:io/serial';
let n = 0;
let first = 0;
const port = new Serial({{ port: {link:?}, baud: 115200, framing: 'lines', format: 'string',
  onReadable() {{
    this.read();
    if (n++ === 0) first = performance.now();
    if (n < {lines}) return;
    const s = (performance.now() - first) / 1000;
    console.log(`serial lines framing -> JS onReadable: ${{Math.round(({lines} - 1) / s)}} lines/s, ${{(({lines} - 1) * {len} / s / 1e6).toFixed(1)}} MB/s ({lines} lines of {len} bytes over a pty)`);
    this.close();
  }} }});
port.write('READY\n');
"#,
        link = link.to_string_lossy(),
        len = line.len()
    );
    let t = Instant::now();
    run(dir, "serial.js", &script, |_| {});
    let total = t.elapsed();
    let (start, _pty) = rt.block_on(device).expect("device task");
    println!(
        "serial end to end (first byte written to script exit): {:.0} lines/s ({} lines in {:.2} s; script start {:.0} ms)",
        lines as f64 / start.elapsed().as_secs_f64(),
        lines,
        start.elapsed().as_secs_f64(),
        (total.saturating_sub(start.elapsed())).as_secs_f64() * 1000.0
    );
}
