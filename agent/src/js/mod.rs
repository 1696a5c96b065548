//! The JavaScript side of the agent: one JS thread owning a QuickJS runtime, Node-style.
//!
//! Everything else (devices, MQTT, sensors, timers' clock) runs as tokio tasks that talk to the JS
//! thread over a bounded channel of [`LoopMsg`]s. The loop ([`runtime`]) runs Node's phases: expired
//! timers, then a batch of events (one context entry per batch), then immediates, draining
//! `process.nextTick` and promise jobs after every callback.

mod atoms;
mod bindings;
mod emit;
#[cfg(test)]
mod engine_patches;
pub mod errors;
mod json;
pub mod loader;
pub mod math;
mod native;
mod promise;
pub mod runtime;
mod text;
pub mod timers;
pub mod watchdog;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::{Ctx, Function, IntoJs};
use tokio::sync::mpsc;

use crate::config::{Limits, OnError};
pub use runtime::{run_script, Exit};

/// Work for the JS thread, run inside the context with the [`Host`] entry points at hand.
pub type JsTask = Box<dyn for<'js> FnOnce(&Host<'js>) -> rquickjs::Result<()> + Send>;

/// A message to the JS thread.
pub enum LoopMsg {
    /// Run a task (deliver an event, settle a promise).
    Task(JsTask),
    /// Emit `shutdown` and finish within the grace period.
    Shutdown(String),
}

/// Cloneable, `Send` handle to the JS thread's queue; what every subsystem holds.
#[derive(Clone, Debug)]
pub struct LoopSender {
    tx: mpsc::Sender<LoopMsg>,
}

impl LoopSender {
    /// Queue a task, waiting for room (backpressure from a busy script).
    pub async fn send(&self, task: JsTask) -> bool {
        self.tx.send(LoopMsg::Task(task)).await.is_ok()
    }

    /// Queue a task from a blocking thread.
    pub fn blocking_send(&self, task: JsTask) -> bool {
        self.tx.blocking_send(LoopMsg::Task(task)).is_ok()
    }

    /// Queue a task if there is room; gives the task back when the queue is full.
    pub fn try_send(&self, task: JsTask) -> Result<(), JsTask> {
        match self.tx.try_send(LoopMsg::Task(task)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(LoopMsg::Task(t)))
            | Err(mpsc::error::TrySendError::Closed(LoopMsg::Task(t))) => Err(t),
            Err(_) => Ok(()),
        }
    }

    /// Ask the scripts to shut down (SIGTERM/SIGINT or an OTA switch).
    pub async fn shutdown(&self, reason: impl Into<String>) {
        let _ = self.tx.send(LoopMsg::Shutdown(reason.into())).await;
    }
}

/// Create the channel between subsystems and the JS thread.
pub fn channel(capacity: usize) -> (LoopSender, mpsc::Receiver<LoopMsg>) {
    let (tx, rx) = mpsc::channel(capacity);
    (LoopSender { tx }, rx)
}

/// Who the scripts run as: what `ganglion:agent` and `process` report.
#[derive(Debug, Clone)]
pub struct ScriptOptions {
    /// Folder imports may not leave.
    pub scripts_root: PathBuf,
    /// Entry module (absolute or relative to the working directory).
    pub entry: PathBuf,
    /// Resource limits.
    pub limits: Limits,
    /// Agent id.
    pub agent_id: String,
    /// Board name.
    pub board: String,
    /// `process.env` contents.
    pub env: Vec<(String, String)>,
    /// `process.argv` after `ganglion` and the entry path.
    pub args: Vec<String>,
    /// Grace period after `shutdown`.
    pub shutdown_grace: Duration,
    /// Policy for uncaught errors.
    pub on_error: OnError,
    /// Subsystems the bindings reach (devices, MQTT, sensors), started on first use.
    pub services: std::sync::Arc<crate::services::Services>,
    /// The sending side of this loop's channel, for bindings to hand to their worker tasks.
    pub sender: LoopSender,
}

/// A fresh id for a JS handle (an object registered in `internal.handles` to receive events).
/// Unique for the whole process, so a task of an ended runtime never reaches a new one's object.
pub fn next_handle_id() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// CPU time the calling thread has used, if the system can say.
fn thread_cpu_time() -> Option<Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .ok()
        .map(Duration::from)
}

/// Loop state shared between the loop and the native functions (all on the JS thread).
/// Holds no JS values once closed (the bindings' states go in `close`), so it can outlive the
/// runtime safely.
pub struct Shared {
    timers: RefCell<timers::TimerQueue>,
    immediates: Cell<i64>,
    immediates_refed: Cell<i64>,
    handles: Cell<usize>,
    pending_ops: Cell<usize>,
    deadline: Cell<Option<Instant>>,
    /// The thread's CPU time when the running callback started (see [`Shared::over_budget`]).
    cpu_at_arm: Cell<Option<Duration>>,
    ticks_queued: Cell<bool>,
    callback_limit: Duration,
    errors: Cell<u64>,
    events: Cell<u64>,
    exit_requested: Cell<Option<i32>>,
    entry_failed: RefCell<Option<String>>,
    healthy: Cell<bool>,
    start: Instant,
    on_close: RefCell<Vec<Box<dyn FnOnce()>>>,
    /// Bindings' native states by handle id, for the tasks that come back to the JS thread
    /// (a task is `Send` and cannot carry an `Rc`). Emptied by `close`.
    natives: RefCell<std::collections::HashMap<u32, Rc<dyn std::any::Any>>>,
}

impl Shared {
    fn new(limits: &Limits) -> Self {
        Self {
            timers: RefCell::new(timers::TimerQueue::new()),
            immediates: Cell::new(0),
            immediates_refed: Cell::new(0),
            handles: Cell::new(0),
            pending_ops: Cell::new(0),
            deadline: Cell::new(None),
            cpu_at_arm: Cell::new(None),
            ticks_queued: Cell::new(false),
            callback_limit: limits.callback_time,
            errors: Cell::new(0),
            events: Cell::new(0),
            exit_requested: Cell::new(None),
            entry_failed: RefCell::new(None),
            healthy: Cell::new(false),
            start: Instant::now(),
            on_close: RefCell::new(Vec::new()),
            natives: RefCell::new(std::collections::HashMap::new()),
        }
    }

    /// Start the CPU-time budget of the callback about to run.
    pub fn arm(&self) {
        self.cpu_at_arm.set(thread_cpu_time());
        self.deadline
            .set(Some(Instant::now() + self.callback_limit));
    }

    /// Whether the running callback has used up its budget (`[limits] callback_time`), asked by
    /// the engine's interrupt handler. The wall clock is read first: it is cheap and never behind
    /// the CPU time. Once it is past the deadline, the thread's own CPU time decides, so a
    /// callback that waited for a core on a busy machine is not stopped for that: its deadline
    /// moves on by what is left of its budget. Without a thread CPU clock, wall time decides.
    pub fn over_budget(&self) -> bool {
        let Some(deadline) = self.deadline.get() else {
            return false;
        };
        let now = Instant::now();
        if now <= deadline {
            return false;
        }
        let (Some(start), Some(cpu)) = (self.cpu_at_arm.get(), thread_cpu_time()) else {
            return true;
        };
        match self.callback_limit.checked_sub(cpu.saturating_sub(start)) {
            Some(left) if !left.is_zero() => {
                self.deadline.set(Some(now + left));
                false
            }
            _ => true,
        }
    }

    /// No callback is running: nothing to interrupt.
    pub fn disarm(&self) {
        self.deadline.set(None);
    }

    /// A long-lived handle (open device, MQTT connection) keeps the process alive.
    pub fn add_handle(&self) {
        self.handles.set(self.handles.get() + 1);
    }

    /// A long-lived handle was closed.
    pub fn remove_handle(&self) {
        self.handles.set(self.handles.get().saturating_sub(1));
    }

    /// An operation whose completion will come back as a task (e.g. an async I2C read) started.
    pub fn begin_op(&self) {
        self.pending_ops.set(self.pending_ops.get() + 1);
    }

    /// That operation completed.
    pub fn end_op(&self) {
        self.pending_ops
            .set(self.pending_ops.get().saturating_sub(1));
    }

    /// Run `f` when this script runtime ends (stop a binding's tasks, drop its subscriptions).
    pub fn on_close(&self, f: impl FnOnce() + 'static) {
        self.on_close.borrow_mut().push(Box::new(f));
    }

    /// Run the close hooks, newest first, then drop the bindings' states (they may hold JS
    /// values, which must go before the runtime).
    fn close(&self) {
        let hooks = std::mem::take(&mut *self.on_close.borrow_mut());
        for f in hooks.into_iter().rev() {
            f();
        }
        let natives = std::mem::take(&mut *self.natives.borrow_mut());
        drop(natives);
    }

    /// Keep a binding's native state under its handle id until the runtime closes.
    pub fn set_native(&self, id: u32, state: Rc<dyn std::any::Any>) {
        self.natives.borrow_mut().insert(id, state);
    }

    /// The native state kept under handle `id`, if it is a `T` and the runtime is open.
    pub fn native<T: 'static>(&self, id: u32) -> Option<Rc<T>> {
        let state = self.natives.borrow().get(&id)?.clone();
        state.downcast::<T>().ok()
    }

    /// Uncaught errors so far.
    pub fn errors(&self) -> u64 {
        self.errors.get()
    }

    /// Whether the script called `agent.healthy()`.
    pub fn is_healthy(&self) -> bool {
        self.healthy.get()
    }

    fn alive(&self, shutting_down: bool) -> bool {
        self.timers.borrow().refed() > 0
            || self.immediates_refed.get() > 0
            || self.pending_ops.get() > 0
            || (!shutting_down && self.handles.get() > 0)
    }
}

/// The JS thread's entry points into the bootstrap, handed to every [`JsTask`].
pub struct Host<'js> {
    /// The context.
    pub ctx: Ctx<'js>,
    deliver: Function<'js>,
    call: Function<'js>,
    run_ticks: Function<'js>,
    types: RefCell<Vec<(&'static str, rquickjs::String<'js>)>>,
    shared: std::rc::Rc<Shared>,
}

impl<'js> Host<'js> {
    /// Deliver `(type, payload)` to the JS handler registered under handle `id`, as one macrotask:
    /// the CPU deadline is armed, then `nextTick` callbacks and promise jobs are drained.
    pub fn deliver<P: IntoJs<'js>>(
        &self,
        id: u32,
        ty: &'static str,
        payload: P,
    ) -> rquickjs::Result<()> {
        self.shared.arm();
        let ty = self.intern(ty)?;
        self.deliver.call::<_, ()>((id, ty, payload))?;
        self.settle()
    }

    /// Call a JS function as one macrotask (errors reported, ticks and jobs drained).
    pub fn call<A: IntoJs<'js>>(&self, f: Function<'js>, arg: A) -> rquickjs::Result<()> {
        self.shared.arm();
        self.call.call::<_, ()>((f, arg))?;
        self.settle()
    }

    /// Run native code that settles promises as one macrotask: then ticks and jobs are
    /// drained under the deadline, as after a JS callback.
    pub fn run_native(
        &self,
        f: impl FnOnce(&Ctx<'js>) -> rquickjs::Result<()>,
    ) -> rquickjs::Result<()> {
        // The native part runs no script code and must not stop half-way (every call into the
        // engine polls the interrupt handler): no deadline for it.
        self.shared.disarm();
        let r = f(&self.ctx);
        self.shared.arm();
        let jobs = self.settle(); // the jobs it queued run even if part of it failed
        r.and(jobs)
    }

    /// Drain promise jobs, running the `nextTick` queue whenever one was queued (Node's order:
    /// ticks, then microtasks, repeated until both are empty).
    fn settle(&self) -> rquickjs::Result<()> {
        loop {
            runtime::run_jobs(&self.ctx, &self.shared);
            if !self.shared.ticks_queued.replace(false) {
                return Ok(());
            }
            self.run_ticks.call::<_, ()>(())?;
        }
    }

    /// Event type strings are few and static: create each JS string once per batch.
    fn intern(&self, ty: &'static str) -> rquickjs::Result<rquickjs::String<'js>> {
        let mut cache = self.types.borrow_mut();
        if let Some((_, s)) = cache.iter().find(|(k, _)| std::ptr::eq(*k, ty)) {
            return Ok(s.clone());
        }
        let s = rquickjs::String::from_str(self.ctx.clone(), ty)?;
        cache.push((ty, s.clone()));
        Ok(s)
    }

    /// The loop state (handles, pending operations).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_budget_counts_cpu_time_not_waiting() {
        let limits = Limits {
            callback_time: Duration::from_millis(30),
            ..Limits::default()
        };
        let s = Shared::new(&limits);
        assert!(!s.over_budget(), "nothing armed");
        s.arm();
        // Waiting (here: asleep; on a busy machine: for a core) uses wall time, not CPU time.
        std::thread::sleep(Duration::from_millis(80));
        assert!(
            !s.over_budget(),
            "a callback that only waited is within its budget"
        );
        let burning = Instant::now();
        let mut spins = 0u64;
        while !s.over_budget() {
            spins = std::hint::black_box(spins.wrapping_add(1));
            assert!(
                burning.elapsed() < Duration::from_secs(30),
                "never over budget"
            );
        }
        // CPU time never runs ahead of the wall clock: at least the budget was burnt.
        assert!(
            burning.elapsed() >= Duration::from_millis(25),
            "{:?}",
            burning.elapsed()
        );
        s.disarm();
        assert!(!s.over_budget(), "disarmed");
    }
}
