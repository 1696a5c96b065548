//! Native functions behind the bootstrap: timers, liveness, logging, module helpers, process info.
//! Each one parses its arguments, calls into [`Shared`] or the loader, and converts the result.

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::function::Opt;
use rquickjs::{BigInt, Ctx, Exception, FromJs, Function, Module, Object, Value};

use super::errors::JsError;
use super::loader::{self, Resolved};
use super::{ScriptOptions, Shared};

/// A string argument for logs and error reports: text with lone surrogates (which are not
/// UTF-8) is printed with U+FFFD in their place instead of failing the call.
struct LossyText(String);

impl<'js> FromJs<'js> for LossyText {
    fn from_js(ctx: &Ctx<'js>, v: Value<'js>) -> rquickjs::Result<Self> {
        let s = rquickjs::String::from_js(ctx, v)?;
        let bytes = s.to_cstring()?;
        Ok(LossyText(
            String::from_utf8_lossy(AsRef::<[u8]>::as_ref(&bytes)).into_owned(),
        ))
    }
}

/// Build the `native` object the bootstrap binds to.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    shared: &Rc<Shared>,
    opts: &ScriptOptions,
) -> rquickjs::Result<Object<'js>> {
    let engine_stringify = super::json::install(ctx, shared)?;
    let n = Object::new(ctx.clone())?;
    n.set("engineStringify", engine_stringify)?;
    n.set("nativeEmit", super::emit::install(ctx, shared)?)?;
    let root = loader::normalize(&opts.scripts_root);

    // ---- timers and liveness
    let s = shared.clone();
    n.set(
        "timerStart",
        Function::new(ctx.clone(), move |ms: f64, repeat: bool| {
            let delay = Duration::from_secs_f64((ms.max(1.0)) / 1000.0);
            s.timers.borrow_mut().start(Instant::now(), delay, repeat)
        })?,
    )?;
    let s = shared.clone();
    n.set(
        "timerClear",
        Function::new(ctx.clone(), move |id: u32| s.timers.borrow_mut().clear(id))?,
    )?;
    let s = shared.clone();
    n.set(
        "timerRef",
        Function::new(ctx.clone(), move |id: u32, on: bool| {
            s.timers.borrow_mut().set_ref(id, on)
        })?,
    )?;
    let s = shared.clone();
    n.set(
        "timerHasRef",
        Function::new(ctx.clone(), move |id: u32| s.timers.borrow().has_ref(id))?,
    )?;
    let s = shared.clone();
    n.set(
        "timerRefresh",
        Function::new(ctx.clone(), move |id: u32| {
            s.timers.borrow_mut().refresh(id, Instant::now())
        })?,
    )?;
    let s = shared.clone();
    n.set(
        "immediates",
        Function::new(ctx.clone(), move |queued: i64, refed: i64| {
            s.immediates.set(s.immediates.get() + queued);
            s.immediates_refed.set(s.immediates_refed.get() + refed);
        })?,
    )?;
    let s = shared.clone();
    n.set("arm", Function::new(ctx.clone(), move || s.arm())?)?;
    let s = shared.clone();
    n.set(
        "tickQueued",
        Function::new(ctx.clone(), move || s.ticks_queued.set(true))?,
    )?;
    let s = shared.clone();
    n.set(
        "runMicrotasks",
        Function::new(ctx.clone(), move |ctx: Ctx<'_>| {
            super::runtime::run_jobs(&ctx, &s);
        })?,
    )?;

    // ---- errors, logging, exit
    let s = shared.clone();
    n.set(
        "reportError",
        Function::new(
            ctx.clone(),
            move |LossyText(text), place: String, kind: String| {
                s.errors.set(s.errors.get() + 1);
                if kind == "rejection" {
                    tracing::error!(target: "script", "unhandled promise rejection: {text}");
                } else {
                    tracing::error!(target: "script", "uncaught exception in {place}: {text}");
                }
            },
        )?,
    )?;
    n.set(
        "log",
        Function::new(ctx.clone(), |ctx: Ctx<'_>, level: i32, LossyText(text)| {
            let script = caller_file(&ctx).unwrap_or_default();
            let script = script.rsplit('/').next().unwrap_or(&script);
            match level {
                0 => tracing::trace!(target: "script", script, "{text}"),
                1 => tracing::debug!(target: "script", script, "{text}"),
                2 => tracing::info!(target: "script", script, "{text}"),
                3 => tracing::warn!(target: "script", script, "{text}"),
                _ => tracing::error!(target: "script", script, "{text}"),
            }
        })?,
    )?;
    let s = shared.clone();
    n.set(
        "entryFailed",
        Function::new(ctx.clone(), move |LossyText(text)| {
            s.entry_failed.borrow_mut().get_or_insert(text);
        })?,
    )?;
    let s = shared.clone();
    n.set(
        "exit",
        Function::new(ctx.clone(), move |code: i32| {
            s.exit_requested.set(Some(code))
        })?,
    )?;
    let s = shared.clone();
    n.set(
        "healthy",
        Function::new(ctx.clone(), move || s.healthy.set(true))?,
    )?;
    let s = shared.clone();
    n.set(
        "stats",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>| -> rquickjs::Result<Object<'js>> {
                let o = Object::new(ctx)?;
                o.set("errors", s.errors.get() as f64)?;
                o.set("events", s.events.get() as f64)?;
                o.set("uptime", s.start.elapsed().as_secs_f64())?;
                o.set("healthy", s.healthy.get())?;
                Ok(o)
            },
        )?,
    )?;

    // ---- time and memory
    let s = shared.clone();
    n.set(
        "now",
        Function::new(ctx.clone(), move || {
            s.start.elapsed().as_secs_f64() * 1000.0
        })?,
    )?;
    let s = shared.clone();
    n.set(
        "hrtime",
        Function::new(ctx.clone(), move || s.start.elapsed().as_nanos() as f64)?,
    )?;
    let s = shared.clone();
    n.set(
        "hrtimeBigint",
        Function::new(ctx.clone(), move |ctx: Ctx<'js>| {
            BigInt::from_i64(ctx, s.start.elapsed().as_nanos() as i64)
        })?,
    )?;
    n.set(
        "timeOrigin",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0),
    )?;
    n.set(
        "memoryUsage",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>| -> rquickjs::Result<Object<'js>> {
                let (heap_total, heap_used) = heap_usage(&ctx);
                let o = Object::new(ctx)?;
                o.set("rss", rss_bytes() as f64)?;
                o.set("heapTotal", heap_total as f64)?;
                o.set("heapUsed", heap_used as f64)?;
                o.set("external", 0)?;
                o.set("arrayBuffers", 0)?;
                Ok(o)
            },
        )?,
    )?;

    // ---- modules: resolve, read, compile CommonJS, import ES modules synchronously
    let r = root.clone();
    n.set(
        "resolve",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  spec: String,
                  from: Opt<String>|
                  -> rquickjs::Result<Object<'js>> {
                let base = from
                    .0
                    .unwrap_or_else(|| r.join("main.js").to_string_lossy().into());
                let resolved = loader::resolve(&r, &base, &spec).map_err(|m| {
                    JsError::Coded {
                        code: "MODULE_NOT_FOUND".into(),
                        message: m,
                    }
                    .throw(&ctx)
                })?;
                let o = Object::new(ctx)?;
                o.set("builtin", matches!(resolved, Resolved::Builtin(_)))?;
                o.set("id", resolved.module_name())?;
                Ok(o)
            },
        )?,
    )?;
    n.set(
        "readFile",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, path: String| {
            std::fs::read_to_string(&path).map_err(|e| {
                JsError::Coded {
                    code: "ENOENT".into(),
                    message: format!("{path}: {e}"),
                }
                .throw(&ctx)
            })
        })?,
    )?;
    n.set(
        "compileCommonJs",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, source: String, file: String| -> rquickjs::Result<Function<'js>> {
                // Same first line as the file, so line numbers in stacks stay right.
                let wrapped = format!(
                    "(function (exports, require, module, __filename, __dirname) {{ {source}\n}})"
                );
                let mut opts = rquickjs::context::EvalOptions::default();
                opts.global = true;
                opts.strict = false;
                opts.filename = Some(file);
                ctx.eval_with_options(wrapped, opts)
            },
        )?,
    )?;
    n.set(
        "importModule",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, name: String| -> rquickjs::Result<Object<'js>> {
            let promise = Module::import(&ctx, name.clone())?;
            match promise.finish::<Object<'js>>() {
                Err(rquickjs::Error::WouldBlock) => Err(Exception::throw_message(
                    &ctx,
                    &format!("require('{name}'): the module uses top-level await; use import instead"),
                )),
                other => other,
            }
        })?,
    )?;
    n.set(
        "callerFile",
        Function::new(ctx.clone(), |ctx: Ctx<'_>| caller_file(&ctx))?,
    )?;

    // ---- process and agent info
    let env = Object::new(ctx.clone())?;
    for (k, v) in &opts.env {
        env.set(k.as_str(), v.as_str())?;
    }
    n.set("env", env)?;
    let argv = rquickjs::Array::new(ctx.clone())?;
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "ganglion".into());
    argv.set(0, exe.as_str())?;
    argv.set(1, loader::normalize(&opts.entry).to_string_lossy().as_ref())?;
    for (i, a) in opts.args.iter().enumerate() {
        argv.set(i + 2, a.as_str())?;
    }
    n.set("argv", argv)?;
    n.set("execPath", exe)?;
    n.set("arch", node_arch())?;
    n.set("pid", std::process::id())?;
    n.set(
        "cwd",
        std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )?;
    n.set("nodeVersion", "v20.0.0")?;
    let versions = Object::new(ctx.clone())?;
    versions.set("ganglion", env!("CARGO_PKG_VERSION"))?;
    versions.set("quickjs", "quickjs-ng (rquickjs 0.14)")?;
    n.set("versions", versions)?;
    let info = Object::new(ctx.clone())?;
    info.set("id", opts.agent_id.as_str())?;
    info.set("version", env!("CARGO_PKG_VERSION"))?;
    info.set("board", opts.board.as_str())?;
    n.set("agentInfo", info)?;
    super::bindings::install(ctx, &n, shared, opts)?;
    Ok(n)
}

/// The file of the nearest user script on the JS stack (skipping built-in modules).
pub fn caller_file(ctx: &Ctx<'_>) -> Option<String> {
    (0..8).find_map(|level| {
        let name = ctx.script_or_module_name(level)?.to_string().ok()?;
        Path::new(&name).is_absolute().then_some(name)
    })
}

fn node_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

/// Resident set size from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn heap_usage(ctx: &Ctx<'_>) -> (i64, i64) {
    let mut usage = std::mem::MaybeUninit::<rquickjs::qjs::JSMemoryUsage>::zeroed();
    // SAFETY: the context pointer is live for the duration of this call (we are inside it), and
    // JS_ComputeMemoryUsage only reads the runtime's counters into the struct we own.
    let usage = unsafe {
        let rt = rquickjs::qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
        rquickjs::qjs::JS_ComputeMemoryUsage(rt, usage.as_mut_ptr());
        usage.assume_init()
    };
    (usage.malloc_size, usage.memory_used_size)
}
