//! Promises the host settles itself (vendor/rquickjs-sys, patch 0003): a pending promise made
//! without its resolve and reject function objects, kept by a binding and settled once the Rust
//! side is done. `Promise::new` makes two function objects (each with `length` and `name`)
//! per promise, then a call to settle and two frees: on `mqtt.publish`, which returns one
//! promise per message, that was ~6 % of the JS thread's work per reading.

use rquickjs::{qjs, Ctx, Promise, Value};

/// A new pending promise, to be settled with [`settle`].
pub fn settlable<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Promise<'js>> {
    // SAFETY: `ctx` is a live context for the whole call; the function returns an owned value
    // (or JS_EXCEPTION, which owns nothing, with the exception pending in the context).
    let raw = unsafe { qjs::JS_NewSettlablePromise(ctx.as_raw().as_ptr()) };
    if unsafe { qjs::JS_IsException(raw) } {
        return Err(rquickjs::Error::Exception);
    }
    // SAFETY: `raw` is an owned, non-exception value of this context; `Value` takes it over.
    let value = unsafe { Value::from_raw(ctx.clone(), raw) };
    // SAFETY: JS_NewSettlablePromise makes a promise. Taken as one without
    // `Promise::from_value`, whose type check asks an object whether it is an array, a
    // constructor, a function and then a promise (with json.rs's probe, ~220 instructions a
    // message measured).
    Ok(unsafe { value.ref_promise() }.clone())
}

/// Fulfills (`Ok`) or rejects (`Err`) a pending `promise` with the value, as the resolving
/// functions would for a value that is not a thenable (a thenable is not followed): the
/// reactions are queued as jobs, an unhandled rejection reaches the rejection tracker. A
/// promise that is no longer pending is an error, so a binding cannot settle one twice.
pub fn settle<'js>(
    ctx: &Ctx<'js>,
    promise: &Promise<'js>,
    outcome: Result<Value<'js>, Value<'js>>,
) -> rquickjs::Result<()> {
    let (is_reject, value) = match &outcome {
        Ok(v) => (false, v),
        Err(v) => (true, v),
    };
    // SAFETY: both values belong to `ctx` and stay alive (borrowed) during the call, which
    // only duplicates what it keeps.
    let rc = unsafe {
        qjs::JS_SettlePromise(
            ctx.as_raw().as_ptr(),
            promise.as_value().as_raw(),
            is_reject,
            value.as_raw(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(rquickjs::Error::new_from_js(
            "settled promise",
            "pending promise",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Function, Runtime};

    /// Runs `f` in a fresh context, then the pending jobs.
    fn with_ctx(f: impl for<'js> FnOnce(Ctx<'js>)) {
        let rt = Runtime::new().expect("runtime");
        let cx = Context::full(&rt).expect("context");
        cx.with(f);
    }

    fn run_jobs(ctx: &Ctx<'_>) {
        while ctx.execute_pending_job() {}
    }

    #[test]
    fn fulfilled_and_rejected_promises_run_their_reactions_once() {
        with_ctx(|ctx| {
            let ok = settlable(&ctx).expect("promise");
            let bad = settlable(&ctx).expect("promise");
            ctx.globals().set("ok", ok.clone()).expect("set");
            ctx.globals().set("bad", bad.clone()).expect("set");
            ctx.eval::<(), _>(
                "globalThis.log = [];
                 ok.then((v) => log.push(`ok ${v}`));
                 bad.catch((e) => log.push(`bad ${e.message}`));
                 (async () => log.push(`awaited ${await ok}`))();",
            )
            .expect("script");
            run_jobs(&ctx);
            let log: Vec<String> = ctx.globals().get("log").expect("log");
            assert!(log.is_empty(), "nothing runs before settling: {log:?}");

            settle(&ctx, &ok, Ok(Value::new_number(ctx.clone(), 42.0))).expect("settle");
            let error: Value<'_> = ctx.eval("new Error('nope')").expect("error");
            settle(&ctx, &bad, Err(error)).expect("settle");
            run_jobs(&ctx);
            let log: Vec<String> = ctx.globals().get("log").expect("log");
            assert_eq!(
                log,
                ["ok 42", "awaited 42", "bad nope"],
                "reactions in settling order"
            );

            // A second settlement is refused and changes nothing.
            let again = settle(&ctx, &ok, Ok(Value::new_number(ctx.clone(), 7.0)));
            assert!(again.is_err(), "settled twice");
            let value: f64 = ok.result().expect("settled").expect("fulfilled");
            assert_eq!(value, 42.0);
            let real: bool = ctx.eval("ok instanceof Promise").expect("instanceof");
            assert!(real, "a real Promise");
        });
    }

    #[test]
    fn an_unhandled_rejection_reaches_the_tracker() {
        let rt = Runtime::new().expect("runtime");
        let seen = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let counter = seen.clone();
        rt.set_host_promise_rejection_tracker(Some(Box::new(
            move |_ctx, _promise, _reason, is_handled| {
                if !is_handled {
                    counter.set(counter.get() + 1);
                }
            },
        )));
        let cx = Context::full(&rt).expect("context");
        cx.with(|ctx| {
            let p = settlable(&ctx).expect("promise");
            let reason: Value<'_> = ctx.eval("new Error('lost')").expect("error");
            settle(&ctx, &p, Err(reason)).expect("settle");
            run_jobs(&ctx);
        });
        assert_eq!(
            seen.get(),
            1,
            "the rejection tracker saw the unhandled rejection"
        );
    }

    #[test]
    fn no_resolving_functions_are_made() {
        // What the patch saves, pinned: Promise::new makes two function objects per promise.
        with_ctx(|ctx| {
            let objects = |ctx: &Ctx<'_>| -> i64 {
                let mut usage = std::mem::MaybeUninit::<qjs::JSMemoryUsage>::uninit();
                // SAFETY: the runtime of a live context; the call fills the whole struct.
                unsafe {
                    qjs::JS_ComputeMemoryUsage(
                        qjs::JS_GetRuntime(ctx.as_raw().as_ptr()),
                        usage.as_mut_ptr(),
                    );
                    usage.assume_init().obj_count
                }
            };
            let before = objects(&ctx);
            let settlables: Vec<Promise<'_>> =
                (0..10).map(|_| settlable(&ctx).expect("promise")).collect();
            assert_eq!(objects(&ctx), before + 10, "one object per promise");
            let with_functions: Vec<(Promise<'_>, Function<'_>, Function<'_>)> = (0..10)
                .map(|_| Promise::new(&ctx).expect("promise"))
                .collect();
            assert_eq!(
                objects(&ctx),
                before + 40,
                "Promise::new: three per promise"
            );
            drop((settlables, with_functions));
        });
    }
}
