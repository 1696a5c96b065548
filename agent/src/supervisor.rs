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
    io.spawn(forward_signals(sender.clone()));
    let services = Services::new(cfg.clone(), io.handle().clone());
    let opts = script_options(cfg, args, services, sender);
    let mut restarts = 0u32;
    loop {
        match js::run_script(&opts, &mut rx, io.handle()) {
            Exit::Done(code) => return Ok(code),
            Exit::StartupFailed(msg) => {
                let entry = crate::js::loader::normalize(&opts.entry);
                let msg = crate::check::locate(&entry.to_string_lossy(), &msg);
                tracing::error!("failed to start {}: {msg}", entry.display());
                return Ok(1);
            }
            Exit::Restart => {
                restarts += 1;
                let backoff = Duration::from_secs(1 << restarts.min(5));
                tracing::warn!("restarting the script in {backoff:?} (restart #{restarts})");
                std::thread::sleep(backoff);
            }
        }
    }
}

/// SIGTERM/SIGINT: ask the scripts to shut down; a second signal exits at once.
async fn forward_signals(sender: js::LoopSender) {
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
            sender.shutdown(name).await;
        } else {
            tracing::warn!("second {name}: exiting now");
            std::process::exit(code);
        }
    }
}
