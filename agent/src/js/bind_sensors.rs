//! Natives behind `ganglion:sensors` (agent/src/js/builtins/sensors.js).
//!
//! The sensor subsystem ([`crate::sensors::Hub`]) starts when the config has `[[sensors]]` (at
//! script start, keeping the process alive) or when a script imports `ganglion:sensors`. Its
//! events arrive here in batches through a [`Sink`] that sends one [`JsTask`] per batch and waits
//! until the JS thread ran it, so a busy script makes the subsystem's bounded queue drop old
//! readings instead of filling the loop's channel. Each event becomes one macrotask:
//! `host.deliver(id, 'reading' | 'error' | 'online' | 'offline', payload)`; on-demand reads come
//! back as `'result'` `{ id, reading }` or `{ id, error }`.
//!
//! Natives: `sensorsOpen() -> { id, sensors: [info] }`, `sensorsIndex(name) -> number`,
//! `sensorsRead(requestId, index)`, `sensorsStats(index) -> object`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use ganglion_devices::drivers::Reading;
use ganglion_devices::DeviceError;
use rquickjs::{Array, Ctx, Function, Object, Value};

use crate::js::errors::JsError;
use crate::js::{Host, JsTask, LoopSender, ScriptOptions, Shared};
use crate::sensors::hub::{self, Env, SensorShared, TimedReading};
use crate::sensors::{config, Delivery, EventKind, Hub, Sink};
use crate::services::Services;

/// Handle ids of the sensors module: a range of their own, process-wide, so events a previous
/// script run left in the loop's channel (restart) never reach the new run's handler.
const FIRST_HANDLE_ID: u32 = 0x5E00_0000;
static NEXT_HANDLE_ID: AtomicU32 = AtomicU32::new(FIRST_HANDLE_ID);

/// The subsystem as one script runtime sees it (JS thread only). Dropped with the runtime, which
/// drops the hub and so stops every sensor task.
struct Sensors {
    services: Arc<Services>,
    sender: LoopSender,
    shared: Rc<Shared>,
    running: RefCell<Option<Running>>,
}

struct Running {
    hub: Hub,
    handle: u32,
}

impl Sensors {
    /// Start the hub if it is not running; returns its handle id.
    fn ensure_started(&self) -> u32 {
        if let Some(r) = self.running.borrow().as_ref() {
            return r.handle;
        }
        let cfg = &self.services.config;
        let specs = config::specs(&cfg.sensors, &cfg.base_dir);
        let handle = NEXT_HANDLE_ID.fetch_add(1, Ordering::Relaxed);
        let services = self.services.clone();
        let env = Env {
            devices: Arc::new(move || services.devices()),
            state_dir: cfg.agent.state_dir.clone(),
        };
        let sink = Arc::new(JsSink {
            sender: self.sender.clone(),
            handle,
        });
        if !specs.is_empty() {
            // Configured sensors keep the process alive, like an open port.
            self.shared.add_handle();
            tracing::info!(sensors = specs.len(), "starting the sensors");
        }
        let hub = Hub::start(specs, env, sink, &self.services.tokio);
        *self.running.borrow_mut() = Some(Running { hub, handle });
        handle
    }
}

/// Delivers batches to the JS thread, one task per batch, acknowledged when it ran.
struct JsSink {
    sender: LoopSender,
    handle: u32,
}

impl Sink for JsSink {
    fn deliver(&self, batch: Vec<Delivery>) -> BoxFuture<'static, bool> {
        let (done, ran) = tokio::sync::oneshot::channel::<()>();
        let handle = self.handle;
        let task: JsTask = Box::new(move |host: &Host<'_>| {
            // Dropping `done` (here, or with the task if the runtime ends) releases the pump.
            let _done = done;
            let mut result = Ok(());
            for d in batch {
                if matches!(d.event.kind, EventKind::Reading(_)) {
                    d.sensor.mark_delivered();
                }
                let r = deliver_event(host, handle, d);
                if result.is_ok() {
                    result = r;
                }
            }
            result
        });
        let sender = self.sender.clone();
        Box::pin(async move {
            if !sender.send(task).await {
                return false;
            }
            let _ = ran.await;
            true
        })
    }
}

fn deliver_event(host: &Host<'_>, handle: u32, d: Delivery) -> rquickjs::Result<()> {
    let ctx = &host.ctx;
    let sensor: &SensorShared = &d.sensor;
    let ty = d.event.kind.name();
    let time = d.event.time_ms;
    let payload: Value<'_> = match d.event.kind {
        EventKind::Reading(r) => reading_object(ctx, &sensor.info.name, time, &r)?.into_value(),
        EventKind::Error { error, failures } => {
            let e = error_value(ctx, sensor, time, error)?;
            if let Some(o) = e.as_object() {
                o.set("failures", failures)?;
            }
            e
        }
        EventKind::Online => status_object(ctx, sensor, time)?.into_value(),
        EventKind::Offline { failures, error } => {
            let o = status_object(ctx, sensor, time)?;
            o.set("failures", failures)?;
            o.set("error", error_value(ctx, sensor, time, error)?)?;
            o.into_value()
        }
    };
    host.deliver(handle, ty, payload)
}

/// `{ sensor, driver, time, ...values, ...strings }`.
fn reading_object<'js>(
    ctx: &Ctx<'js>,
    sensor: &str,
    time: f64,
    r: &Reading,
) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set("sensor", sensor)?;
    o.set("driver", r.driver)?;
    o.set("time", time)?;
    for (k, v) in &r.values {
        o.set(k.as_str(), *v)?;
    }
    for (k, v) in &r.strings {
        o.set(k.as_str(), v.as_str())?;
    }
    Ok(o)
}

fn status_object<'js>(
    ctx: &Ctx<'js>,
    sensor: &SensorShared,
    time: f64,
) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set("sensor", &*sensor.info.name)?;
    o.set("driver", sensor.info.driver)?;
    o.set("time", time)?;
    Ok(o)
}

/// An `Error` with `code`, `sensor`, `driver` and `time`.
fn error_value<'js>(
    ctx: &Ctx<'js>,
    sensor: &SensorShared,
    time: f64,
    error: DeviceError,
) -> rquickjs::Result<Value<'js>> {
    let e = JsError::Device(error).to_value(ctx)?;
    if let Some(o) = e.as_object() {
        o.set("sensor", &*sensor.info.name)?;
        o.set("driver", sensor.info.driver)?;
        o.set("time", time)?;
    }
    Ok(e)
}

fn info_object<'js>(ctx: &Ctx<'js>, s: &SensorShared) -> rquickjs::Result<Object<'js>> {
    let i = &s.info;
    let o = Object::new(ctx.clone())?;
    o.set("name", &*i.name)?;
    o.set("driver", i.driver)?;
    o.set("location", i.location.as_str())?;
    o.set("interval", i.interval.as_secs_f64() * 1000.0)?;
    o.set("timeout", i.timeout.as_secs_f64() * 1000.0)?;
    o.set("offlineAfter", i.offline_after)?;
    let fields = Array::new(ctx.clone())?;
    for (n, f) in i.fields.iter().enumerate() {
        let fo = Object::new(ctx.clone())?;
        fo.set("name", f.name.as_ref())?;
        fo.set("unit", f.unit.as_ref())?;
        fo.set("description", f.description.as_ref())?;
        fo.set("type", if f.text { "string" } else { "number" })?;
        fields.set(n, fo)?;
    }
    o.set("fields", fields)?;
    Ok(o)
}

/// Install the `sensors*` natives on `native`; start the sensors now if the config has any.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    shared: &Rc<Shared>,
    opts: &ScriptOptions,
) -> rquickjs::Result<()> {
    let sensors = Rc::new(Sensors {
        services: opts.services.clone(),
        sender: opts.sender.clone(),
        shared: shared.clone(),
        running: RefCell::new(None),
    });
    if !opts.services.config.sensors.is_empty() {
        sensors.ensure_started();
    }

    let s = sensors.clone();
    native.set(
        "sensorsOpen",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>| -> rquickjs::Result<Object<'js>> {
                let handle = s.ensure_started();
                let running = s.running.borrow();
                let o = Object::new(ctx.clone())?;
                o.set("id", handle)?;
                let list = Array::new(ctx.clone())?;
                if let Some(r) = running.as_ref() {
                    for (i, sensor) in r.hub.sensors().iter().enumerate() {
                        list.set(i, info_object(&ctx, sensor)?)?;
                    }
                }
                o.set("sensors", list)?;
                Ok(o)
            },
        )?,
    )?;

    let s = sensors.clone();
    native.set(
        "sensorsIndex",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, name: Value<'js>| -> rquickjs::Result<u32> {
                let Some(name) = name.as_string().and_then(|n| n.to_string().ok()) else {
                    return Err(JsError::Type(format!(
                        "The \"name\" argument must be of type string. Received {}",
                        describe_arg(&name)
                    ))
                    .throw(&ctx));
                };
                let running = s.running.borrow();
                let hub = running.as_ref().map(|r| &r.hub);
                match hub.and_then(|h| h.index(&name)) {
                    Some(i) => Ok(i as u32),
                    None => {
                        let names: Vec<String> = hub
                            .map(|h| {
                                h.sensors()
                                    .iter()
                                    .map(|s| s.info.name.to_string())
                                    .collect()
                            })
                            .unwrap_or_default();
                        Err(JsError::Coded {
                            code: "ENOENT".into(),
                            message: format!(
                                "no sensor '{name}' in [[sensors]] (configured: {})",
                                if names.is_empty() {
                                    "none".to_string()
                                } else {
                                    names.join(", ")
                                }
                            ),
                        }
                        .throw(&ctx))
                    }
                }
            },
        )?,
    )?;

    let s = sensors.clone();
    native.set(
        "sensorsRead",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, request: u32, index: u32| -> rquickjs::Result<()> {
                let running = s.running.borrow();
                let Some(r) = running.as_ref() else {
                    return Err(JsError::Coded {
                        code: "ERR_SENSORS_NOT_STARTED".into(),
                        message: "the sensors are not running".into(),
                    }
                    .throw(&ctx));
                };
                let rx = r
                    .hub
                    .read(index as usize)
                    .map_err(|e| JsError::Device(e).throw(&ctx))?;
                let Some(sensor) = r.hub.sensors().get(index as usize).cloned() else {
                    return Err(JsError::Range(format!("no sensor number {index}")).throw(&ctx));
                };
                let handle = r.handle;
                let sender = s.sender.clone();
                s.shared.begin_op();
                s.services.tokio.spawn(async move {
                    let result = rx.await.unwrap_or_else(|_| {
                        Err(DeviceError::new(
                            ganglion_devices::ErrorCode::Enodev,
                            format!("sensor '{}' stopped", sensor.info.name),
                        ))
                    });
                    let _ = sender
                        .send(Box::new(move |host: &Host<'_>| {
                            host.shared().end_op();
                            let o = read_result(&host.ctx, &sensor, request, result)?;
                            host.deliver(handle, "result", o)
                        }))
                        .await;
                });
                Ok(())
            },
        )?,
    )?;

    let s = sensors;
    native.set(
        "sensorsStats",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, index: u32| -> rquickjs::Result<Object<'js>> {
                let running = s.running.borrow();
                let stats = running
                    .as_ref()
                    .and_then(|r| r.hub.stats(index as usize))
                    .ok_or_else(|| {
                        JsError::Range(format!("no sensor number {index}")).throw(&ctx)
                    })?;
                let o = Object::new(ctx.clone())?;
                o.set("state", stats.health.as_str())?;
                o.set("reads", stats.reads as f64)?;
                o.set("errors", stats.errors as f64)?;
                o.set("failures", stats.failures)?;
                o.set("dropped", stats.dropped as f64)?;
                o.set("delivered", stats.delivered as f64)?;
                o.set("pending", stats.pending as f64)?;
                o.set("lastReading", stats.last_reading_ms)?;
                match stats.last_error {
                    Some((time, e)) => {
                        let eo = Object::new(ctx.clone())?;
                        eo.set("code", e.code.as_str())?;
                        eo.set("message", e.message)?;
                        eo.set("time", time)?;
                        o.set("lastError", eo)?;
                    }
                    None => o.set("lastError", rquickjs::Null)?,
                }
                Ok(o)
            },
        )?,
    )?;
    Ok(())
}

fn read_result<'js>(
    ctx: &Ctx<'js>,
    sensor: &SensorShared,
    request: u32,
    result: Result<TimedReading, DeviceError>,
) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set("id", request)?;
    match result {
        Ok(t) => o.set(
            "reading",
            reading_object(ctx, &sensor.info.name, t.time_ms, &t.reading)?,
        )?,
        Err(e) => o.set("error", error_value(ctx, sensor, hub::now_ms(), e)?)?,
    }
    Ok(o)
}

/// Node-style "Received ..." text for a bad argument.
fn describe_arg(v: &Value<'_>) -> String {
    if v.is_undefined() {
        "undefined".into()
    } else if v.is_null() {
        "null".into()
    } else if let Some(n) = v.as_number() {
        format!("type number ({n})")
    } else if v.is_bool() {
        format!("type boolean ({})", v.as_bool().unwrap_or(false))
    } else if v.is_function() {
        "function".into()
    } else {
        "an instance of Object".into()
    }
}
