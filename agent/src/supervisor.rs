//! Runs a configured agent: the I/O runtime, signal handling, and the script runtime on this
//! thread, restarted when the error policy asks for it.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::js::{self, Exit, ScriptOptions};
use crate::services::Services;

/// Build the script options from the configuration.
pub fn script_options(
    cfg: &Config,
    args: Vec<String>,
    services: Arc<Services>,
    sender: js::LoopSender,
) -> ScriptOptions {
    let env = cfg
        .agent
        .env
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
        .collect();
    ScriptOptions {
        scripts_root: cfg.agent.scripts.clone(),
        entry: cfg.entry_path(),
        limits: cfg.limits,
        agent_id: cfg.agent.id.clone(),
        board: cfg.agent.board.clone(),
        env,
        args,
        shutdown_grace: cfg.agent.shutdown_grace,
        on_error: cfg.agent.on_error,
        services,
        sender,
    }
}

/// Run the agent until the scripts finish or it is told to stop; returns the exit code.
pub fn run(cfg: &Config, args: Vec<String>) -> anyhow::Result<i32> {
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ganglion-io")
        .enable_all()
        .build()?;
    let (sender, mut rx) = js::channel(4096);
    let services = Services::new(cfg.clone(), io.handle().clone());
    if cfg.mqtt.is_some() {
        // Declared in the config: connect before the script starts (and start the embedded
        // broker off the JS thread), so a bad [mqtt] section fails start-up clearly.
        services.mqtt().map_err(|m| anyhow::anyhow!("{m}"))?;
    }
    let mut opts = script_options(cfg, args, services.clone(), sender.clone());
    // [ota]: run the installed version; the OTA task asks for switches through `ota`.
    let ota = crate::ota::Ota::attach(cfg, &mut opts)?;
    io.spawn(forward_signals(sender, ota.clone()));
    let code = run_scripts(&mut opts, &mut rx, &io, ota.as_ref());
    io.block_on(services.shutdown());
    Ok(code)
}

fn run_scripts(
    opts: &mut ScriptOptions,
    rx: &mut tokio::sync::mpsc::Receiver<js::LoopMsg>,
    io: &tokio::runtime::Runtime,
    ota: Option<&crate::ota::Ota>,
) -> i32 {
    let mut restarts = 0u32;
    loop {
        let exit = js::run_script(opts, rx, io.handle());
        // An OTA switch (new version, or rollback of a failed trial) runs other scripts now.
        if let Some(next) = ota.and_then(|o| o.on_exit(&exit, rx)) {
            next.apply(opts);
            continue;
        }
        match exit {
            Exit::Done(code) => return code,
            Exit::StartupFailed(msg) => {
                let entry = crate::js::loader::normalize(&opts.entry);
                let msg = crate::check::locate(&entry.to_string_lossy(), &msg);
                tracing::error!("failed to start {}: {msg}", entry.display());
                return 1;
            }
            Exit::Restart => {
                restarts += 1;
                let backoff = Duration::from_secs(1 << restarts.min(5));
                tracing::warn!("restarting the script in {backoff:?} (restart #{restarts})");
                if shutdown_during(backoff, rx, io) {
                    tracing::info!("shutdown requested while waiting to restart: exiting");
                    return 0;
                }
            }
        }
    }
}

/// Wait `delay` for the next start; true if a shutdown (SIGTERM/SIGINT) arrived meanwhile.
/// Events for the ended runtime that arrive meanwhile are dropped.
fn shutdown_during(
    delay: Duration,
    rx: &mut tokio::sync::mpsc::Receiver<js::LoopMsg>,
    io: &tokio::runtime::Runtime,
) -> bool {
    io.block_on(async {
        let deadline = tokio::time::Instant::now() + delay;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return false,
                Ok(None) => return true,
                Ok(Some(js::LoopMsg::Shutdown(_))) => return true,
                Ok(Some(js::LoopMsg::Task(_))) => {}
            }
        }
    })
}

/// SIGTERM/SIGINT: ask the scripts to shut down; a second signal exits at once.
async fn forward_signals(sender: js::LoopSender, ota: Option<crate::ota::Ota>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers: SIGTERM will not be graceful");
        return;
    };
    let mut first = true;
    loop {
        let (name, code) = tokio::select! {
            _ = term.recv() => ("SIGTERM", 143),
            _ = int.recv() => ("SIGINT", 130),
        };
        if first {
            first = false;
            if let Some(o) = &ota {
                o.terminating();
            }
            sender.shutdown(name).await;
        } else {
            tracing::warn!("second {name}: exiting now");
            std::process::exit(code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Publishes made after the MQTT worker has ended (as while the agent stops) reject with
    /// `ERR_MQTT_CLOSED`, one at a time and as a burst larger than one hand-over batch: none
    /// resolves and none is left pending. No broker is needed: the worker never connected.
    #[test]
    fn publishes_after_the_mqtt_worker_ended_reject_with_err_mqtt_closed() {
        let dir = tempfile::tempdir().expect("tmp");
        let port = crate::mqtt::testutil::free_port();
        let text = format!(
            "[agent]\nid = \"gone\"\nscripts = \".\"\nentry = \"main.js\"\n\
             state_dir = \"state\"\n\n[mqtt]\nurl = \"mqtt://127.0.0.1:{port}\"\n"
        );
        // Exit codes say which expectation failed; 9: a promise never settled.
        let script = r#"
import mqtt from 'ganglion:mqtt';
const watchdog = setTimeout(() => process.exit(9), 20000);
const codes = [];
for (const qos of [0, 1, 2]) {
  try { await mqtt.publish('t', 'x', { qos }); codes.push('resolved'); }
  catch (e) { codes.push(e.code); }
}
if (codes.join() !== 'ERR_MQTT_CLOSED,ERR_MQTT_CLOSED,ERR_MQTT_CLOSED') process.exit(2);
const burst = await Promise.allSettled(
  Array.from({ length: 600 }, (_, i) => mqtt.publish('t', `${i}`, { qos: 1 })));
const closed = burst.filter((r) => r.status === 'rejected' && r.reason.code === 'ERR_MQTT_CLOSED');
if (closed.length !== 600) process.exit(3);
if (!(closed[0].reason instanceof Error)) process.exit(4);
clearTimeout(watchdog);
process.exit(0);
"#;
        std::fs::write(dir.path().join("main.js"), script).expect("write script");
        let cfg =
            Config::parse(&text, &dir.path().join("ganglion.toml"), dir.path()).expect("config");
        let io = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (sender, mut rx) = js::channel(64);
        let services = Services::new(cfg.clone(), io.handle().clone());
        services.mqtt().expect("mqtt service");
        io.block_on(services.shutdown());
        let opts = script_options(&cfg, Vec::new(), services, sender);
        match js::run_script(&opts, &mut rx, io.handle()) {
            Exit::Done(code) => assert_eq!(code, 0, "see the script's exit codes"),
            Exit::Restart => panic!("uncaught error"),
            Exit::StartupFailed(m) => panic!("start-up failed: {m}"),
        }
    }
}
