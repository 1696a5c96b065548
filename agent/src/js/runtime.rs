//! The script runtime and its event loop, on the JS thread.

use std::rc::Rc;
use std::time::Instant;

use rquickjs::{
    CatchResultExt, Context, Function, Module, Object, Persistent, Promise, Runtime, Value,
};
use tokio::sync::mpsc;

use super::errors::{describe, describe_error};
use super::loader::{self, ScriptLoader, ScriptResolver};
use super::{native, Host, LoopMsg, ScriptOptions, Shared};
use crate::config::OnError;

/// Events delivered per context entry: large enough to amortise the entry, small enough that
/// timers and immediates get their turn.
const BATCH: usize = 1024;

/// How a script runtime ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Nothing left to do, `process.exit()`, or shutdown: the exit code.
    Done(i32),
    /// An uncaught error under `on_error = "restart"`.
    Restart,
    /// The entry module failed to compile, link or evaluate; the message names file and line.
    StartupFailed(String),
}

/// Run the entry script and its event loop on the current thread until it ends.
///
/// `tokio` is a handle to the I/O runtime (timers are driven by it); `rx` receives the tasks
/// subsystems send through the matching [`super::LoopSender`].
pub fn run_script(
    opts: &ScriptOptions,
    rx: &mut mpsc::Receiver<LoopMsg>,
    tokio: &tokio::runtime::Handle,
) -> Exit {
    let rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return Exit::StartupFailed(format!("cannot create the JS runtime: {e}")),
    };
    rt.set_memory_limit(opts.limits.memory as usize);
    rt.set_max_stack_size(opts.limits.stack as usize);
    rt.set_loader(ScriptResolver::new(opts.scripts_root.clone()), ScriptLoader);
    let shared = Rc::new(Shared::new(&opts.limits));
    {
        let s = shared.clone();
        rt.set_interrupt_handler(Some(Box::new(move || s.over_budget())));
    }
    rt.set_host_promise_rejection_tracker(Some(Box::new(|ctx, promise, reason, handled| {
        let track = internal(&ctx)
            .and_then(|i| i.get::<_, Object<'_>>("host"))
            .and_then(|h| h.get::<_, Function<'_>>("trackRejection"));
        if let Ok(track) = track {
            let _ = track.call::<_, ()>((promise, reason, handled));
        }
    })));
    let ctx = match Context::full(&rt) {
        Ok(c) => c,
        Err(e) => return Exit::StartupFailed(format!("cannot create the JS context: {e}")),
    };

    let exit = match boot(&ctx, &shared, opts) {
        Ok(host) => {
            let exit = tokio.block_on(event_loop(&ctx, &shared, &host, opts, rx));
            drop(host);
            exit
        }
        Err(msg) => Exit::StartupFailed(msg),
    };
    shared.close();
    drop(ctx);
    drop(rt);
    exit
}

/// The object the bootstrap and Rust share: `globalThis[Symbol.for('ganglion.internal')]`.
fn internal<'js>(ctx: &rquickjs::Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    ctx.eval("globalThis[Symbol.for('ganglion.internal')]")
}

/// Entry points into the bootstrap, kept across context entries.
struct HostFns {
    host: Persistent<Object<'static>>,
    /// The entry module's evaluation (pending while a top-level await waits).
    entry: Persistent<Promise<'static>>,
}

/// Install natives, run the bootstrap, import the entry module and run its microtasks.
fn boot(ctx: &Context, shared: &Rc<Shared>, opts: &ScriptOptions) -> Result<HostFns, String> {
    ctx.with(|ctx| {
        let setup = || -> rquickjs::Result<Object<'_>> {
            let native = native::install(&ctx, shared, opts)?;
            let internal_obj = Object::new(ctx.clone())?;
            internal_obj.set("native", native)?;
            let sym: Value<'_> = ctx.eval("Symbol.for('ganglion.internal')")?;
            ctx.globals().set(sym, internal_obj.clone())?;
            let p = Module::evaluate(ctx.clone(), "ganglion:internal/bootstrap", BOOTSTRAP)?;
            p.finish::<()>()?;
            internal_obj.get("host")
        };
        let host =
            setup().map_err(|e| format!("bootstrap failed: {}", describe_error(&ctx, &e)))?;

        // The entry module: compile/link errors and a throw during evaluation fail start-up.
        let entry = loader::normalize(&opts.entry);
        shared.arm();
        let result = Module::import(&ctx, entry.to_string_lossy().as_bytes().to_vec())
            .catch(&ctx)
            .map_err(|e| match e {
                rquickjs::CaughtError::Exception(ex) => clean_stack(&describe(ex.as_value())),
                rquickjs::CaughtError::Value(v) => describe(&v),
                rquickjs::CaughtError::Error(e) => e.to_string(),
            });
        let promise: Promise<'_> = match result {
            Ok(p) => p,
            Err(msg) => {
                shared.disarm();
                return Err(msg);
            }
        };
        // The entry promise's rejection (now, or later when top-level await resumes) is a
        // start-up failure, reported through `entry_failed`, never an unhandled rejection.
        let on_reject: Function<'_> = host.get("entryRejected").map_err(|e| e.to_string())?;
        if let Ok(then) = promise.get::<_, Function<'_>>("then") {
            let _ = then.call::<_, Value<'_>>((
                rquickjs::function::This(promise.clone()),
                (),
                on_reject,
            ));
        }
        let run_ticks: Function<'_> = host.get("runTicks").map_err(|e| e.to_string())?;
        if let Err(e) = run_ticks.call::<_, ()>(()) {
            shared.disarm();
            return Err(describe_error(&ctx, &e));
        }
        shared.disarm();
        if shared.exit_requested.get().is_some() {
            // process.exit() during evaluation: not a failure; the loop exits right away.
            let _ = ctx.catch();
        } else if let Some(text) = shared.entry_failed.borrow_mut().take() {
            let _ = ctx.catch();
            return Err(clean_stack(&text));
        } else if let Some(Err(e)) = promise.result::<Value<'_>>() {
            return Err(match e {
                rquickjs::Error::Exception => clean_stack(&describe(&ctx.catch())),
                other => other.to_string(),
            });
        }
        flush_rejections(&host);
        Ok(HostFns {
            host: Persistent::save(&ctx, host),
            entry: Persistent::save(&ctx, promise),
        })
    })
}

fn flush_rejections(host: &Object<'_>) {
    if let Ok(f) = host.get::<_, Function<'_>>("flushRejections") {
        let _ = f.call::<_, ()>(());
    }
}

/// Run every pending promise job. Jobs catch ordinary exceptions themselves (they reject their
/// promise); what escapes one is uncatchable — the CPU-time interrupt of an async function that
/// spins after an `await`, or an out-of-memory while settling — and is reported here instead of
/// being dropped silently (which `Ctx::execute_pending_job` would do).
pub(super) fn run_jobs(ctx: &rquickjs::Ctx<'_>, shared: &Shared) {
    loop {
        let mut job_ctx = std::ptr::null_mut();
        // SAFETY: we are inside a context entry of this runtime (the lock is held), so the runtime
        // pointer is live; JS_ExecutePendingJob runs at most one job and tells us where it failed.
        let res = unsafe {
            let rt = rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
            rquickjs::qjs::JS_ExecutePendingJob(rt, &mut job_ctx)
        };
        if res == 0 {
            return;
        }
        if res < 0 {
            // One context per runtime: the exception is pending on `ctx`.
            let err = rquickjs::Error::Exception;
            report_escaped(
                ctx,
                shared,
                &err,
                "a promise job (an async function after await)",
            );
        }
    }
}

/// Report an error that escaped the bootstrap's try/catch (CPU limit, OOM while reporting).
fn report_escaped(ctx: &rquickjs::Ctx<'_>, shared: &Shared, err: &rquickjs::Error, place: &str) {
    shared.disarm();
    shared.errors.set(shared.errors.get() + 1);
    let text = clean_stack(&describe_error(ctx, err));
    if text.starts_with("InternalError: interrupted") {
        let at = text.lines().skip(1).collect::<Vec<_>>().join("\n");
        tracing::error!(
            target: "script",
            "{place} exceeded the CPU time limit of {:?} and was interrupted{}{at}",
            shared.callback_limit,
            if at.is_empty() { "" } else { "\n" },
        );
    } else {
        tracing::error!(target: "script", "uncaught exception in {place}: {text}");
    }
}

async fn event_loop(
    ctx: &Context,
    shared: &Rc<Shared>,
    fns: &HostFns,
    opts: &ScriptOptions,
    rx: &mut mpsc::Receiver<LoopMsg>,
) -> Exit {
    let mut shutdown_deadline: Option<Instant> = None;
    let mut batch: Vec<LoopMsg> = Vec::with_capacity(BATCH);
    let restart_on_error = opts.on_error == OnError::Restart;
    let errors_at_start = shared.errors.get();
    let mut watchdog = super::watchdog::Watchdog::from_env();
    super::watchdog::ready(&opts.entry.to_string_lossy());

    loop {
        watchdog.ping_if_due(Instant::now());
        // ---- timers phase: everything due as of the phase start, in deadline order
        let now = Instant::now();
        let due = shared
            .timers
            .borrow()
            .next_deadline()
            .is_some_and(|d| d <= now);
        if due {
            ctx.with(|ctx| {
                let Ok(host) = fns.host.clone().restore(&ctx) else {
                    return;
                };
                let Ok(run) = host.get::<_, Function<'_>>("runTimer") else {
                    return;
                };
                loop {
                    let next = shared.timers.borrow_mut().pop_expired(now);
                    let Some(id) = next else { break };
                    shared.arm();
                    match run.call::<_, bool>((id,)) {
                        Ok(true) => shared.timers.borrow_mut().rearm(id, Instant::now()),
                        Ok(false) => {}
                        Err(e) => {
                            report_escaped(&ctx, shared, &e, "a timer callback");
                            shared.timers.borrow_mut().rearm(id, Instant::now());
                        }
                    }
                    if shared.exit_requested.get().is_some() {
                        break;
                    }
                }
                shared.disarm();
                flush_rejections(&host);
            });
        }
        if let Some(exit) = check_exit(ctx, shared, fns, restart_on_error, errors_at_start) {
            return exit;
        }

        // ---- poll phase: wait for events (or the next timer), then deliver one batch
        let shutting_down = shutdown_deadline.is_some();
        if let Some(d) = shutdown_deadline {
            if Instant::now() >= d {
                tracing::warn!(
                    "scripts still busy {:?} after shutdown: exiting anyway",
                    opts.shutdown_grace
                );
                return Exit::Done(emit_exit(ctx, fns, 0));
            }
        }
        let alive = shared.alive(shutting_down) || shared.immediates.get() > 0;
        let first = if !alive {
            match rx.try_recv() {
                Ok(m) => Some(m),
                Err(_) => return finished(ctx, fns),
            }
        } else {
            let mut wake = shared.timers.borrow().next_deadline();
            if shared.immediates.get() > 0 {
                wake = Some(Instant::now());
            }
            if let Some(d) = shutdown_deadline {
                wake = Some(wake.map_or(d, |w| w.min(d)));
            }
            // Wake in time for the next systemd watchdog ping even when idle.
            if let Some(d) = watchdog.next_due() {
                wake = Some(wake.map_or(d, |w| w.min(d)));
            }
            match wake {
                Some(w) if w <= Instant::now() => rx.try_recv().ok(),
                Some(w) => {
                    tokio::select! {
                        m = rx.recv() => m,
                        _ = tokio::time::sleep_until(tokio::time::Instant::from_std(w)) => None,
                    }
                }
                None => rx.recv().await,
            }
        };
        if let Some(first) = first {
            batch.push(first);
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            ctx.with(|ctx| {
                let Ok(host) = fns.host.clone().restore(&ctx) else {
                    return;
                };
                let (Ok(deliver), Ok(call), Ok(run_ticks)) =
                    (host.get("deliver"), host.get("call"), host.get("runTicks"))
                else {
                    return;
                };
                let h = Host {
                    ctx: ctx.clone(),
                    deliver,
                    call,
                    run_ticks,
                    types: std::cell::RefCell::new(Vec::new()),
                    shared: shared.clone(),
                };
                for msg in batch.drain(..) {
                    match msg {
                        LoopMsg::Task(task) => {
                            shared.events.set(shared.events.get() + 1);
                            if let Err(e) = task(&h) {
                                report_escaped(&ctx, shared, &e, "an event handler");
                            }
                        }
                        LoopMsg::Shutdown(reason) => {
                            if shutdown_deadline.is_none() {
                                tracing::info!(
                                    "shutting down ({reason}): emitting 'shutdown' to scripts"
                                );
                                super::watchdog::stopping();
                                shutdown_deadline = Some(Instant::now() + opts.shutdown_grace);
                                if let Ok(f) = host.get::<_, Function<'_>>("emitShutdown") {
                                    shared.arm();
                                    if let Err(e) = f.call::<_, ()>((reason,)) {
                                        report_escaped(&ctx, shared, &e, "a 'shutdown' handler");
                                    }
                                }
                            }
                        }
                    }
                }
                shared.disarm();
                flush_rejections(&host);
            });
        }
        if let Some(exit) = check_exit(ctx, shared, fns, restart_on_error, errors_at_start) {
            return exit;
        }

        // ---- check phase: immediates queued before this point
        if shared.immediates.get() > 0 {
            ctx.with(|ctx| {
                let Ok(host) = fns.host.clone().restore(&ctx) else {
                    return;
                };
                if let Ok(f) = host.get::<_, Function<'_>>("runImmediates") {
                    if let Err(e) = f.call::<_, ()>(()) {
                        report_escaped(&ctx, shared, &e, "an immediate callback");
                    }
                }
                shared.disarm();
                flush_rejections(&host);
            });
        }
        if let Some(exit) = check_exit(ctx, shared, fns, restart_on_error, errors_at_start) {
            return exit;
        }
    }
}

fn check_exit(
    ctx: &Context,
    shared: &Shared,
    fns: &HostFns,
    restart_on_error: bool,
    errors_at_start: u64,
) -> Option<Exit> {
    if let Some(text) = shared.entry_failed.borrow_mut().take() {
        // The entry module failed after a top-level await resumed.
        return Some(Exit::StartupFailed(clean_stack(&text)));
    }
    if let Some(code) = shared.exit_requested.get() {
        return Some(Exit::Done(emit_exit(ctx, fns, code)));
    }
    if restart_on_error && shared.errors.get() > errors_at_start {
        tracing::warn!("uncaught error with on_error = \"restart\": restarting the script");
        return Some(Exit::Restart);
    }
    None
}

/// Nothing is left to do. If the entry module never finished evaluating (its top-level await
/// continuation was interrupted), that is a start-up failure, not a clean exit.
fn finished(ctx: &Context, fns: &HostFns) -> Exit {
    let pending = ctx.with(|ctx| {
        fns.entry
            .clone()
            .restore(&ctx)
            .is_ok_and(|p| p.state() == rquickjs::promise::PromiseState::Pending)
    });
    if pending {
        return Exit::StartupFailed(
            "the entry module never finished evaluating (a top-level await never settled or was interrupted)".into(),
        );
    }
    Exit::Done(emit_exit(ctx, fns, 0))
}

/// Emit `process.on('exit')` and return the final exit code (`process.exitCode` wins).
fn emit_exit(ctx: &Context, fns: &HostFns, code: i32) -> i32 {
    ctx.with(|ctx| {
        let Ok(host) = fns.host.clone().restore(&ctx) else {
            return code;
        };
        match host.get::<_, Function<'_>>("emitExit") {
            Ok(f) => f.call::<_, i32>((code,)).unwrap_or(code),
            Err(_) => code,
        }
    })
}

/// Drop the bootstrap's own frames from a stack: users should see only their code.
pub fn clean_stack(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("ganglion:internal/"))
        .collect::<Vec<_>>()
        .join("\n")
}

const BOOTSTRAP: &str = include_str!("bootstrap.js");
