//! The JS runtime: Node ordering, modules, errors, limits, lifecycle.

use std::process::Stdio;
use std::time::Duration;

use crate::common::{finish, ganglion, repo, run_command, run_file, run_js, Live, Scripts};

/// The same script Node prints `sync,tick1,...` for; Ganglion must print the same order.
#[test]
fn node_ordering_of_ticks_microtasks_timers_and_immediates() {
    let run = run_js(
        r#"
const out = [];
setTimeout(() => {
  out.push('timeout1');
  setTimeout(() => out.push('timeout-inner'), 0);
  setImmediate(() => out.push('immediate-inner'));
  process.nextTick(() => out.push('tick-in-timeout'));
  Promise.resolve().then(() => out.push('promise-in-timeout'));
}, 0);
Promise.resolve().then(() => { out.push('promise1'); process.nextTick(() => out.push('tick-from-promise')); });
process.nextTick(() => out.push('tick1'));
queueMicrotask(() => out.push('microtask1'));
out.push('sync');
setTimeout(() => console.log(out.join(',')), 50);
let n = 0;
const iv = setInterval(() => { if (++n === 3) { clearInterval(iv); console.log('interval ran', n); } }, 2);
"#,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines = run.script_lines();
    assert!(
        lines.contains(
            &"sync,tick1,promise1,microtask1,tick-from-promise,timeout1,tick-in-timeout,\
              promise-in-timeout,immediate-inner,timeout-inner"
                .to_owned()
        ),
        "{lines:?}"
    );
    assert!(lines.contains(&"interval ran 3".to_owned()), "{lines:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn unref_timer_does_not_keep_the_process_alive() {
    let run = run_js(
        "setTimeout(() => console.log('never'), 60000).unref();\n\
         const t = setTimeout(() => console.log('ran'), 1); console.log(t.hasRef());",
    );
    assert_eq!(run.code, Some(0));
    assert_eq!(run.script_lines(), vec!["true", "ran"]);
}

#[test]
fn process_exit_code_and_exit_event() {
    let run = run_js(
        "process.on('exit', (c) => console.log('exit', c));\n\
         setTimeout(() => { process.exit(3); console.log('unreachable'); }, 1);\n\
         setTimeout(() => console.log('too late'), 1000);",
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert_eq!(run.script_lines(), vec!["exit 3"]);
}

#[test]
fn modules_json_commonjs_and_node_prefix() {
    let s = Scripts::new(&[
        (
            "main.js",
            r#"
import EventEmitter, { once } from 'node:events';
import data from './data.json';
import { twice } from './lib/math.js';
import legacy from './legacy.cjs';
const { setTimeout: sleep } = require('timers/promises');
const EE = require('events');
const helper = require('./lib/helper');
console.log(EE === EventEmitter, typeof once, data.name, twice(21), legacy.value, helper.greet('pi'));
await sleep(1);
console.log(require.resolve('./lib/helper').endsWith('lib/helper.js'));
"#,
        ),
        ("data.json", r#"{ "name": "gw" }"#),
        ("lib/math.js", "export const twice = (x) => x * 2;"),
        ("legacy.cjs", "module.exports = { value: 7 };"),
        (
            "lib/helper.js",
            "const path = require('./util.json');\nexports.greet = (n) => `hi ${n}${path.mark}`;",
        ),
        ("lib/util.json", r#"{ "mark": "!" }"#),
    ]);
    let run = run_file(&s.path("main.js"));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.script_lines(),
        vec!["true function gw 42 7 hi pi!", "true"]
    );
}

#[test]
fn module_resolution_errors_fail_startup_with_the_file() {
    let s = Scripts::new(&[
        ("missing.js", "import x from './nope.js';\n"),
        ("escape.js", "import x from '../outside.js';\n"),
        ("nodefs.js", "import fs from 'node:fs';\n"),
        ("syntax.js", "const a = 1;\nconst b = ;\n"),
        (
            "throws.js",
            "console.log('first');\nthrow new Error('at top level');\n",
        ),
    ]);
    let cases = [
        ("missing.js", "Cannot find module './nope.js'"),
        ("escape.js", "outside the scripts folder"),
        ("nodefs.js", "Cannot find module 'node:fs'"),
        ("syntax.js", "syntax.js:2:11: SyntaxError"),
        ("throws.js", "throws.js:2:11: Error: at top level"),
    ];
    for (file, needle) in cases {
        let run = run_file(&s.path(file));
        assert_eq!(run.code, Some(1), "{file}: {}", run.stderr);
        run.assert_logged(needle);
        run.assert_logged(&format!("failed to start {}", s.path(file).display()));
    }
}

#[test]
fn uncaught_errors_are_logged_and_the_loop_goes_on() {
    let run = run_js(
        r#"
setTimeout(function failing() { throw new TypeError('boom'); }, 1);
Promise.reject(new Error('nobody catches this'));
queueMicrotask(() => { throw new RangeError('from a microtask'); });
setTimeout(() => console.log('still serving'), 20);
"#,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.assert_logged("uncaught exception in timer callback failing: TypeError: boom");
    run.assert_logged("main.js:2:");
    run.assert_logged("unhandled promise rejection: Error: nobody catches this");
    run.assert_logged(
        "uncaught exception in queueMicrotask callback: RangeError: from a microtask",
    );
    assert_eq!(
        run.script_lines().last().map(String::as_str),
        Some("still serving")
    );
}

#[test]
fn limits_contain_cpu_memory_and_stack_abuse() {
    let run = run_js(
        r#"
setTimeout(function spin() { while (true) {} }, 1);
setTimeout(function bomb() { const a = []; while (true) a.push(new Array(100000).fill(1)); }, 2);
setTimeout(function deep() {
  const f = (n) => f(n + 1) + 1;
  try { f(0); } catch (e) { console.log('recursion', e instanceof RangeError); }
}, 3);
setTimeout(() => console.log('next event served'), 10);
"#,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.assert_logged("exceeded the CPU time limit of 100ms and was interrupted");
    run.assert_logged("out of memory");
    let lines = run.script_lines();
    assert!(lines.contains(&"recursion true".to_owned()), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("next event served"));
}

#[test]
fn limits_come_from_the_config() {
    let s = Scripts::new(&[
        (
            "ganglion.toml",
            "[agent]\nscripts = \"js\"\n[limits]\ncallback_time = \"20ms\"\nmemory = \"8MiB\"\n",
        ),
        (
            "js/main.js",
            "setTimeout(() => { const t = Date.now(); while (Date.now() - t < 5000) {} console.log('not interrupted'); }, 1);",
        ),
    ]);
    let child = ganglion()
        .args(["run", "--config"])
        .arg(s.path("ganglion.toml"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let run = finish(child, Duration::from_secs(20));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.assert_logged("CPU time limit of 20ms");
    assert!(run.script_lines().is_empty(), "{:?}", run.script_lines());
}

#[test]
fn sigterm_emits_shutdown_and_honours_the_grace_period() {
    let s = Scripts::new(&[(
        "main.js",
        r#"
import { agent } from 'ganglion';
agent.on('shutdown', (reason) => {
  console.log('shutdown', reason);
  setTimeout(() => { console.log('flushed'); clearInterval(iv); }, 50);
});
const iv = setInterval(() => {}, 1000);
console.log('ready');
"#,
    )]);
    let mut cmd = ganglion();
    cmd.arg("run").arg(s.path("main.js"));
    let live = Live::spawn(cmd);
    live.wait_for("script: ready", Duration::from_secs(10));
    live.signal("TERM");
    let run = live.finish(Duration::from_secs(20));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.script_lines(),
        vec!["ready", "shutdown SIGTERM", "flushed"]
    );
}

#[test]
fn sigterm_grace_period_is_bounded() {
    let s = Scripts::new(&[
        ("ganglion.toml", "[agent]\nscripts = \".\"\nshutdown_grace = \"300ms\"\n"),
        (
            "main.js",
            "import agent from 'ganglion:agent';\nagent.on('shutdown', () => setInterval(() => {}, 10));\nsetInterval(() => {}, 1000);\nconsole.log('ready');\n",
        ),
    ]);
    let mut cmd = ganglion();
    cmd.args(["run", "--config"]).arg(s.path("ganglion.toml"));
    let live = Live::spawn(cmd);
    live.wait_for("script: ready", Duration::from_secs(10));
    live.signal("TERM");
    let run = live.finish(Duration::from_secs(20));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.assert_logged("exiting anyway");
}

#[test]
fn on_error_restart_restarts_the_script() {
    let s = Scripts::new(&[
        (
            "ganglion.toml",
            "[agent]\nscripts = \".\"\non_error = \"restart\"\n",
        ),
        (
            "main.js",
            "console.log('started');\nsetTimeout(() => { throw new Error('crash'); }, 1);\n",
        ),
    ]);
    let mut cmd = ganglion();
    cmd.args(["run", "--config"]).arg(s.path("ganglion.toml"));
    let live = Live::spawn(cmd);
    // It restarts forever (with backoff); stop it once the second start was logged.
    live.wait_for("restarting the script", Duration::from_secs(10));
    let start = std::time::Instant::now();
    while live.log().matches("script: started").count() < 2
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGTERM while it waits to restart (after the second crash) ends it cleanly.
    live.wait_for("restart #2", Duration::from_secs(10));
    live.signal("TERM");
    let run = live.finish(Duration::from_secs(10));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.assert_logged("shutdown requested while waiting to restart");
    let started = run
        .script_lines()
        .iter()
        .filter(|l| *l == "started")
        .count();
    assert!(started >= 2, "expected a restart:\n{}", run.stderr);
}

#[test]
fn check_reports_problems_with_file_and_line() {
    let s = Scripts::new(&[
        ("ok/main.js", "import './lib.js';\n"),
        ("ok/lib.js", "export default 1;\n"),
        ("bad/main.js", "let x = 1;\nlet y = ;\n"),
        (
            "bad.toml",
            "[agent]\nscripts = \"ok\"\n[limits]\nmemroy = \"1MiB\"\n",
        ),
    ]);
    let out = ganglion()
        .arg("check")
        .arg(s.path("ok/main.js"))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = ganglion()
        .arg("check")
        .arg(s.path("bad/main.js"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("main.js:2:9: SyntaxError"), "{text}");
    let out = ganglion()
        .args(["check", "--config"])
        .arg(s.path("bad.toml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad.toml") && text.contains("line 4") && text.contains("memroy"),
        "{text}"
    );
}

#[test]
fn version_flag() {
    let out = ganglion().arg("--version").output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ganglion 0."));
}

/// The conformance suites under tests/js (events, assert, buffer, web APIs) pass under Ganglion.
/// They test JS semantics, not the CPU limit, so they run with `callback_time = "2s"`: in a
/// debug build on a busy shared host (where time the host takes from the virtual CPU still
/// counts as the thread's CPU time) a 100-value slice of the JSON suite's random values, ~10 ms
/// when the host is quiet, ran past the default 100 ms.
#[test]
fn js_conformance_suites() {
    let dir = repo().join("tests/js");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/js") {
        let path = entry.expect("entry").path();
        if !path.to_string_lossy().ends_with(".test.js") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let config = format!(
            "[agent]\nscripts = {:?}\nentry = {name:?}\nstate_dir = \"state\"\nboard = \"sim\"\n\
             [limits]\ncallback_time = \"2s\"\n",
            dir.display().to_string()
        );
        let folder = Scripts::new(&[("ganglion.toml", &config)]);
        let child = run_command(&folder)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ganglion");
        let run = finish(child, Duration::from_secs(30));
        assert_eq!(run.code, Some(0), "{}:\n{}", path.display(), run.stderr);
        let last = run.script_lines().last().cloned().unwrap_or_default();
        assert!(last.starts_with("ok "), "{name}: {}", run.stderr);
        ran += 1;
    }
    assert!(ran >= 1, "no conformance suites found in {}", dir.display());
}

/// Every emitter's one-listener `emit` runs natively (agent/src/js/emit.rs), with events.js's
/// as the fallback: the conformance suite above tests the behaviour, this that both are in place.
#[test]
fn emit_is_native_and_falls_back_to_the_js_emit() {
    let run = run_js(
        "import E from 'events';\n\
         console.log(String(E.prototype.emit).includes('[native code]'));\n\
         const e = new E(); let n = 0;\n\
         e.on('one', (a, b) => { n += a + b; });\n\
         console.log(e.emit('one', 1, 2), n);\n\
         e.on('two', () => n++); e.on('two', () => n++);\n\
         console.log(e.emit('two'), n, e.emit('none'));",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.script_lines(), vec!["true", "true 3", "true 5 false"]);
}

/// systemd's side of `Type=notify` + `WatchdogSec=`: READY=1 once the script runs, WATCHDOG=1
/// pings from the live event loop, none while a callback blocks the loop, STOPPING=1 on SIGTERM.
#[test]
fn systemd_ready_and_watchdog_pings_come_from_the_live_loop() {
    use std::os::unix::net::UnixDatagram;
    let s = Scripts::new(&[
        (
            "ganglion.toml",
            "[agent]\nscripts = \".\"\nshutdown_grace = \"200ms\"\n[limits]\ncallback_time = \"3s\"\n",
        ),
        (
            "main.js",
            "setInterval(() => {}, 1000);\n\
             setTimeout(() => { console.log('spinning'); const t = Date.now(); while (Date.now() - t < 2000) {} console.log('free'); }, 500);\n",
        ),
    ]);
    let sock_path = s.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut cmd = ganglion();
    cmd.args(["run", "--config"])
        .arg(s.path("ganglion.toml"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000");
    let live = Live::spawn(cmd);
    let mut got: Vec<(std::time::Instant, String)> = Vec::new();
    let mut buf = [0u8; 512];
    let start = std::time::Instant::now();
    let mut spinning_at = None;
    let mut free_at = None;
    while start.elapsed() < Duration::from_secs(15) {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push((
                std::time::Instant::now(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
        let log = live.log();
        if spinning_at.is_none() && log.contains("script: spinning") {
            spinning_at = Some(std::time::Instant::now());
        }
        if free_at.is_none() && log.contains("script: free") {
            free_at = Some(std::time::Instant::now());
        }
        if free_at.is_some_and(|f| f.elapsed() > Duration::from_millis(600)) {
            break;
        }
    }
    live.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    while let Ok(n) = sock.recv(&mut buf) {
        got.push((
            std::time::Instant::now(),
            String::from_utf8_lossy(&buf[..n]).into_owned(),
        ));
    }
    let run = live.finish(Duration::from_secs(10));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(spinning_at.is_some() && free_at.is_some(), "{}", run.stderr);
    assert!(got[0].1.contains("READY=1"), "first message: {got:?}");
    let pings: Vec<std::time::Instant> = got
        .iter()
        .filter(|(_, m)| m.contains("WATCHDOG=1"))
        .map(|(t, _)| *t)
        .collect();
    // Every 100 ms while the loop turns; one long silence while the callback blocked it (2 s).
    let gaps: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    let longest = gaps.iter().copied().max().unwrap_or_default();
    let blocked_at = gaps.iter().position(|g| *g == longest).unwrap_or(0);
    assert!(
        longest >= Duration::from_millis(1500),
        "no silence while blocked: {gaps:?}"
    );
    assert!(blocked_at >= 2, "pings before the block: {gaps:?}");
    assert!(
        pings.len() > blocked_at + 3,
        "pings after the block: {gaps:?}"
    );
    assert!(got.iter().any(|(_, m)| m.contains("STOPPING=1")), "{got:?}");
}

/// The CPU limit also applies after an `await` (the continuation runs as a promise job): it is
/// reported, not dropped; in the entry module it fails start-up, and the loop goes on otherwise.
/// (The loops spin on the wall clock for far longer than the limit: the limit counts CPU time,
/// which a loaded machine hands out slowly.)
#[test]
fn cpu_limit_after_await_is_reported() {
    let run = run_js(
        "setTimeout(async function late() { await null; const t = Date.now(); while (Date.now() - t < 5000) {} }, 1);\n\
         setTimeout(() => console.log('next served'), 60);\n",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.assert_logged("a promise job (an async function after await) exceeded the CPU time limit");
    assert_eq!(run.script_lines(), vec!["next served"]);

    let run = run_js(
        "console.log('a');\nawait null;\nconst t = Date.now(); while (Date.now() - t < 5000) {}\nconsole.log('b');\n",
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    run.assert_logged("the entry module never finished evaluating");
    assert_eq!(run.script_lines(), vec!["a"]);
}

/// `Math` runs on the agent's own math functions (agent/src/js/math.rs, the libm crate): the
/// process maps no libm.so, and the results are libm's to the bit.
#[test]
fn math_comes_from_the_agent_not_the_system_libm() {
    let s = Scripts::new(&[(
        "main.js",
        "console.log([Math.sin(1e6), Math.pow(1.1, 10.5), Math.exp(0.1), Math.atan2(1, 3), \
         Math.log1p(1e-5), Math.cosh(2)].join(' '));\n\
         setInterval(() => {}, 1000);\n",
    )]);
    let mut cmd = ganglion();
    cmd.arg("run").arg(s.path("main.js"));
    let live = Live::spawn(cmd);
    live.wait_for("script:", Duration::from_secs(10));
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", live.child.id()))
        .expect("the agent's memory map");
    live.signal("TERM");
    let run = live.finish(Duration::from_secs(10));
    assert!(!maps.contains("/libm.so"), "libm.so is mapped:\n{maps}");
    let want = [
        libm::sin(1e6),
        libm::pow(1.1, 10.5),
        libm::exp(0.1),
        libm::atan2(1.0, 3.0),
        libm::log1p(1e-5),
        libm::cosh(2.0),
    ]
    .map(|x| x.to_string())
    .join(" ");
    assert_eq!(run.script_lines(), vec![want], "{}", run.stderr);
}
