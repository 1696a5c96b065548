//! Natives behind `ganglion:mqtt`: parse arguments, call [`crate::mqtt::MqttHandle`], settle
//! publish promises, and turn the rest into events for the module's handle (`settle` of a
//! subscribe, `message`, `connect`, ...).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use rquickjs::convert::Coerced;
use rquickjs::function::Opt;
use rquickjs::{qjs, Ctx, FromJs, Function, Object, Persistent, Promise, TypedArray, Value};

use crate::js::atoms::{self, HeldAtoms};
use crate::js::errors::{self, JsError};
use crate::js::promise;
use crate::js::text::Text;
use crate::js::{next_handle_id, LoopSender, ScriptOptions, Shared};
use crate::mqtt::{
    BatchAccepted, BatchResults, JsErrorKind, MessageProperties, MqttError, MqttEvent, NewMessage,
    QoS, StoreError, Subscription, ValidationError,
};
use crate::services::{MqttService, Services};

/// Per-runtime state of the binding (JS thread only).
struct State {
    handle_id: u32,
    service: Arc<MqttService>,
    tokio: tokio::runtime::Handle,
    subs: RefCell<HashMap<u32, tokio::task::AbortHandle>>,
    /// Publishes of the current macrotask, handed to the worker as one batch by `mqttFlush`
    /// (the module calls it from a microtask) or once [`BATCH_MAX`] are waiting.
    batch: RefCell<Vec<NewMessage>>,
    /// Batches in call order (see `open`): one task per batch would hand them to the worker
    /// in whatever order the I/O runtime's threads run those tasks.
    publisher: tokio::sync::mpsc::UnboundedSender<Vec<NewMessage>>,
    /// The promises of the unsettled publishes, in call order. The worker answers batches in
    /// order, so a FIFO settles them. Made here without resolving functions
    /// ([`promise::settlable`]) rather than with `new Promise(executor)` in the module, which
    /// costs a closure, two function objects and a call per publish.
    waiting: RefCell<VecDeque<Persistent<Promise<'static>>>>,
    /// A watch for the queue to drain is running (see [`watch_flush`]).
    flushing: Cell<bool>,
    /// Batches settled so far: a watch that ends while batches settled after it began
    /// starts another one (their messages may still be queued).
    settled_batches: Cell<u64>,
    sender: LoopSender,
}

/// Publishes handed over at once at most: bounds the memory a busy macrotask holds back and
/// lets the worker start on a long burst early.
const BATCH_MAX: usize = 256;

impl State {
    /// Hands the waiting publishes to the worker (one operation until they settle). Should the
    /// worker be gone, their promises reject with the error (their messages were not queued).
    fn flush(&self, ctx: &Ctx<'_>, shared: &Shared) -> rquickjs::Result<()> {
        let items = std::mem::take(&mut *self.batch.borrow_mut());
        let n = items.len();
        if n == 0 {
            return Ok(());
        }
        if self.publisher.send(items).is_err() {
            // The unsent batch is always the newest `n` entries (each publish adds to both).
            let newest = {
                let mut waiting = self.waiting.borrow_mut();
                debug_assert!(waiting.len() >= n);
                let at = waiting.len().saturating_sub(n);
                waiting.split_off(at)
            };
            let mut first_error = Ok(());
            for promise in newest {
                let r = reject_with(ctx, promise, &MqttError::Closed);
                first_error = first_error.and(r);
            }
            return first_error;
        }
        shared.begin_op();
        Ok(())
    }

    /// Settle the promises of the oldest batch of `n` publishes: each resolves with its
    /// message's queue sequence number or rejects with the queue's error. The batch leaves the
    /// FIFO whole and every promise is settled even if one call fails (the first failure is
    /// returned): a batch left half in the FIFO would pair later answers with wrong promises.
    fn settle(
        &self,
        ctx: &Ctx<'_>,
        n: usize,
        results: Result<BatchResults, MqttError>,
    ) -> rquickjs::Result<()> {
        self.settled_batches.set(self.settled_batches.get() + 1);
        let batch: Vec<Persistent<Promise<'static>>> = {
            let mut waiting = self.waiting.borrow_mut();
            let k = n.min(waiting.len());
            waiting.drain(..k).collect()
        };
        let mut first_error = Ok(());
        for (i, promise) in batch.into_iter().enumerate() {
            let r = match &results {
                Ok(list) => match list.get(i) {
                    Some(Ok(seq)) => promise.restore(ctx).and_then(|p| {
                        promise::settle(ctx, &p, Ok(Value::new_number(ctx.clone(), *seq as f64)))
                    }),
                    Some(Err(e)) => reject_with(ctx, promise, e),
                    // Fewer results than messages: never, but a rejection rather than a hang.
                    None => reject_with(ctx, promise, &MqttError::Closed),
                },
                Err(e) => reject_with(ctx, promise, e),
            };
            first_error = first_error.and(r);
        }
        first_error
    }
}

/// Rejects a publish promise with `e` as a JS error. Building that error calls the script's
/// `Error` constructors (which it may have replaced); if that fails, the promise still rejects,
/// with the message text.
fn reject_with(
    ctx: &Ctx<'_>,
    promise: Persistent<Promise<'static>>,
    e: &MqttError,
) -> rquickjs::Result<()> {
    let reason = match mqtt_error(e).to_value(ctx) {
        Ok(v) => v,
        Err(_) => {
            let _ = ctx.catch(); // the pending exception of the failed construction
            rquickjs::String::from_str(ctx.clone(), &e.to_string())
                .map(Value::from)
                .unwrap_or_else(|_| Value::new_undefined(ctx.clone()))
        }
    };
    promise::settle(ctx, &promise.restore(ctx)?, Err(reason))
}

fn validation(e: ValidationError) -> JsError {
    match e.js_kind() {
        JsErrorKind::TypeError => JsError::Type(e.to_string()),
        JsErrorKind::RangeError => JsError::Range(e.to_string()),
    }
}

fn mqtt_error(e: &MqttError) -> JsError {
    let code = match e {
        MqttError::Invalid(v) => return validation(v.clone()),
        MqttError::Store(StoreError::Full { .. }) => "ERR_MQTT_QUEUE_FULL",
        MqttError::Store(_) => "EIO",
        MqttError::SubscriptionRefused(..) => "ERR_MQTT_SUBSCRIPTION_REFUSED",
        MqttError::Closed => "ERR_MQTT_CLOSED",
        MqttError::Thread(_) => "EIO",
    };
    JsError::Coded {
        code: code.into(),
        message: e.to_string(),
    }
}

/// Payload from JS: a string (UTF-8) or a Uint8Array/ArrayBuffer (the module JSON-encodes objects).
fn payload_bytes<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> rquickjs::Result<Vec<u8>> {
    if v.is_string() {
        return string_text(ctx, v, "MQTT payload").map(String::into_bytes);
    }
    if let Some(bytes) = binary_bytes(v) {
        return Ok(bytes);
    }
    Err(JsError::Type(
        "MQTT payload must be a string, Buffer/Uint8Array, ArrayBuffer or object".into(),
    )
    .throw(ctx))
}

/// A string argument's text, read in place and copied once (this runs twice for every
/// message): TypeError naming `what` for another type or a lone surrogate (not UTF-8).
fn string_text(ctx: &Ctx<'_>, v: &Value<'_>, what: &str) -> rquickjs::Result<String> {
    if !v.is_string() {
        return Err(
            JsError::Type(format!("{what} must be a string, got {}", v.type_name())).throw(ctx),
        );
    }
    match Text::of_value(ctx, v)?.as_str() {
        Some(text) => Ok(text.to_owned()),
        None => Err(JsError::Type(format!("{what} is not valid Unicode text")).throw(ctx)),
    }
}

/// Bytes of a Uint8Array/Buffer or ArrayBuffer, if `v` is one.
fn binary_bytes(v: &Value<'_>) -> Option<Vec<u8>> {
    // SAFETY (both): the bytes are copied out at once; no JS runs while the slice is alive.
    if let Ok(a) = TypedArray::<u8>::from_value(v.clone()) {
        return Some(
            unsafe { a.as_bytes() }
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
        );
    }
    let b = rquickjs::ArrayBuffer::from_object(v.as_object()?.clone())?;
    Some(
        unsafe { b.as_bytes() }
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
    )
}

fn property_type_error(
    ctx: &Ctx<'_>,
    name: &str,
    expected: &str,
    v: &Value<'_>,
) -> rquickjs::Error {
    JsError::Type(format!(
        "MQTT property {name} must be {expected}, got {}",
        v.type_name()
    ))
    .throw(ctx)
}

/// A string property (UTF-8; a lone surrogate is a TypeError naming the property).
fn property_text(ctx: &Ctx<'_>, name: &str, v: &Value<'_>) -> rquickjs::Result<String> {
    string_text(ctx, v, &format!("MQTT property {name}"))
}

/// The publish option `properties` (MQTT.js names) as [`MessageProperties`]. Types are checked
/// here (TypeError/RangeError naming the property); MQTT's own rules in
/// [`MessageProperties::validate`], which `publish` applies.
fn publish_properties<'js>(
    ctx: &Ctx<'js>,
    v: &Value<'js>,
) -> rquickjs::Result<Option<MessageProperties>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let Some(obj) = v.as_object().filter(|_| !v.is_array()) else {
        return Err(JsError::Type(format!(
            "MQTT publish properties must be an object, got {}",
            v.type_name()
        ))
        .throw(ctx));
    };
    let mut p = MessageProperties::default();
    for key in obj.keys::<String>() {
        let key = key?;
        let value: Value<'js> = obj.get(key.as_str())?;
        if value.is_undefined() {
            continue;
        }
        match key.as_str() {
            "payloadFormatIndicator" => {
                let Some(b) = value.as_bool() else {
                    return Err(property_type_error(ctx, &key, "a boolean", &value));
                };
                p.payload_format_utf8 = Some(b);
            }
            "messageExpiryInterval" => {
                let Some(n) = value.as_number() else {
                    return Err(property_type_error(ctx, &key, "a number", &value));
                };
                if n.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&n) {
                    return Err(JsError::Range(format!(
                        "MQTT property messageExpiryInterval must be a whole number of seconds \
                         in 1..=4294967295 (leave it out for no expiry), got {n}"
                    ))
                    .throw(ctx));
                }
                p.message_expiry = Some(n as u32);
            }
            "contentType" => p.content_type = Some(property_text(ctx, &key, &value)?),
            "responseTopic" => p.response_topic = Some(property_text(ctx, &key, &value)?),
            "correlationData" => {
                let bytes = if value.is_string() {
                    property_text(ctx, &key, &value)?.into_bytes()
                } else {
                    binary_bytes(&value).ok_or_else(|| {
                        property_type_error(ctx, &key, "a string, Buffer or Uint8Array", &value)
                    })?
                };
                p.correlation_data = Some(bytes);
            }
            "userProperties" => {
                let Some(users) = value.as_object().filter(|_| !value.is_array()) else {
                    return Err(property_type_error(
                        ctx,
                        &key,
                        "an object of strings or string arrays",
                        &value,
                    ));
                };
                for name in users.keys::<String>() {
                    let name = name?;
                    let entry: Value<'js> = users.get(name.as_str())?;
                    let what = format!("userProperties.{name}");
                    if let Some(list) = entry.as_array() {
                        for item in list.iter::<Value<'js>>() {
                            let text = property_text(ctx, &what, &item?)?;
                            p.user_properties.push((name.clone(), text));
                        }
                    } else {
                        let text = property_text(ctx, &what, &entry)?;
                        p.user_properties.push((name, text));
                    }
                }
            }
            other => {
                return Err(JsError::Type(format!(
                    "unknown MQTT publish property {other:?} (supported: payloadFormatIndicator, \
                     messageExpiryInterval, contentType, responseTopic, correlationData, \
                     userProperties)"
                ))
                .throw(ctx))
            }
        }
    }
    Ok(Some(p))
}

/// A received message's properties as a JS object with MQTT.js names (`{}` when none);
/// `correlationData` is a Uint8Array (the module makes it a Buffer), a repeated user property
/// an array of its values.
fn properties_object<'js>(
    ctx: &Ctx<'js>,
    p: Option<&MessageProperties>,
) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    let Some(p) = p else { return Ok(o) };
    if let Some(f) = p.payload_format_utf8 {
        o.set("payloadFormatIndicator", f)?;
    }
    if let Some(e) = p.message_expiry {
        o.set("messageExpiryInterval", f64::from(e))?;
    }
    if let Some(t) = &p.content_type {
        o.set("contentType", t.as_str())?;
    }
    if let Some(t) = &p.response_topic {
        o.set("responseTopic", t.as_str())?;
    }
    if let Some(d) = &p.correlation_data {
        o.set(
            "correlationData",
            TypedArray::<u8>::new(ctx.clone(), d.clone())?,
        )?;
    }
    if !p.user_properties.is_empty() {
        let users = Object::new(ctx.clone())?;
        for (name, value) in &p.user_properties {
            let prev: Value<'js> = users.get(name.as_str())?;
            if let Some(list) = prev.as_array() {
                list.set(list.len(), value.as_str())?;
            } else if let Some(first) = prev.as_string() {
                let list = rquickjs::Array::new(ctx.clone())?;
                list.set(0, first.clone())?;
                list.set(1, value.as_str())?;
                users.set(name.as_str(), list)?;
            } else {
                users.set(name.as_str(), value.as_str())?;
            }
        }
        o.set("userProperties", users)?;
    }
    if !p.subscription_identifiers.is_empty() {
        let ids = rquickjs::Array::new(ctx.clone())?;
        for (i, id) in p.subscription_identifiers.iter().enumerate() {
            ids.set(i, f64::from(*id))?;
        }
        o.set("subscriptionIdentifiers", ids)?;
    }
    Ok(o)
}

/// The functions `mqttPublisher` was given (JS values: cleared when the runtime closes).
#[derive(Default)]
struct PublishFns {
    /// The module's JS `publish`: the definition, run for the calls the native one leaves.
    fallback: Option<Persistent<Function<'static>>>,
    /// Queues the microtask that calls `mqttFlush`.
    schedule: Option<Persistent<Function<'static>>>,
}

/// What both ways into a publish share: the connection's state and the module's functions.
#[derive(Clone)]
struct Publisher {
    state: Rc<RefCell<Option<Rc<State>>>>,
    shared: Rc<Shared>,
    fns: Rc<RefCell<PublishFns>>,
}

impl Publisher {
    /// One publish: validates now (throws), adds the message to the macrotask's batch and
    /// returns its promise; the batch settles, in order, once durable. The batch goes to the
    /// worker in a microtask right after the macrotask (one hand-over, one write to the queue,
    /// one answer), or at once when full.
    fn publish<'js>(
        &self,
        ctx: &Ctx<'js>,
        topic: &Value<'js>,
        payload: &Value<'js>,
        qos: f64,
        retain: bool,
        properties: Option<&Value<'js>>,
    ) -> rquickjs::Result<Promise<'js>> {
        // Arguments first (as rquickjs's conversion did): a bad topic is a TypeError even once
        // the connection has closed.
        let topic = string_text(ctx, topic, "MQTT topic")?;
        let st = current(ctx, &self.state)?;
        let qos = qos_arg(ctx, qos)?;
        let payload = payload_bytes(ctx, payload)?;
        let properties = match properties {
            Some(v) => publish_properties(ctx, v)?,
            None => None,
        };
        let message = st
            .service
            .handle
            .prepare_message(topic, payload, qos, retain, properties)
            .map_err(|e| validation(e).throw(ctx))?;
        // The batch's first message queues its hand-over; should that fail (out of memory),
        // the message is not taken, so no batch is left without one.
        let first = st.batch.borrow().is_empty();
        let scheduled = first && self.schedule_flush(ctx)?;
        let promise = promise::settlable(ctx)?;
        st.waiting
            .borrow_mut()
            .push_back(Persistent::save(ctx, promise.clone()));
        let full = {
            let mut batch = st.batch.borrow_mut();
            batch.push(message);
            batch.len() >= BATCH_MAX
        };
        if full || (first && !scheduled) {
            st.flush(ctx, &self.shared)?;
        }
        Ok(promise)
    }

    /// Queues the microtask that hands the batch to the worker; false before `mqttPublisher`
    /// gave the function (never: the module calls it first), when the caller flushes at once.
    fn schedule_flush(&self, ctx: &Ctx<'_>) -> rquickjs::Result<bool> {
        let schedule = self.fns.borrow().schedule.clone();
        match schedule {
            Some(f) => f.restore(ctx)?.call::<_, ()>(()).map(|()| true),
            None => Ok(false),
        }
    }
}

/// The native `publish(topic, payload, opts)` function (see [`native_publish`]).
fn publish_function<'js>(
    ctx: &Ctx<'js>,
    publisher: Publisher,
    atoms: [qjs::JSAtom; 3],
) -> rquickjs::Result<Function<'js>> {
    let call = move |ctx: Ctx<'js>, topic, payload, opts: Opt<Value<'js>>| {
        native_publish(&ctx, &publisher, atoms, topic, payload, opts.0)
    };
    Function::new(ctx.clone(), call)?
        .with_name("publish")?
        .with_length(3)
}

/// The module's `publish(topic, payload, opts)`. The usual call — a string topic and payload,
/// no options or an options object, the connection open — is handled here: interpreting the JS
/// method cost QuickJS ~2,300 instructions per message, 8 % of a benchmark reading's. The rest
/// (payload encoding, opening the connection, argument errors outside the options) goes to the
/// JS `publish`, which stays the definition. Options are read once, in the JS order (`qos`,
/// `retain`, `properties`).
fn native_publish<'js>(
    ctx: &Ctx<'js>,
    publisher: &Publisher,
    [qos_atom, retain_atom, properties_atom]: [qjs::JSAtom; 3],
    topic: Value<'js>,
    payload: Value<'js>,
    opts: Option<Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    let opts = opts.filter(|o| !o.is_undefined());
    let usual_opts = opts
        .as_ref()
        .is_none_or(|o| o.is_object() && !o.is_function());
    let open = publisher.state.borrow().is_some();
    if !(topic.is_string() && payload.is_string() && usual_opts && open) {
        let fallback = publisher.fns.borrow().fallback.clone();
        let Some(fallback) = fallback else {
            return Err(JsError::Type("mqtt.publish is not ready".into()).throw(ctx));
        };
        let opts = opts.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
        return fallback.restore(ctx)?.call((topic, payload, opts));
    }
    let (qos, retain, properties) = match opts {
        None => (0.0, false, None),
        Some(o) => {
            let q = atoms::get(ctx, &o, qos_atom)?;
            let qos = match q.as_number() {
                Some(n) => n,
                None if q.is_undefined() => 0.0,
                None => {
                    return Err(JsError::Type(format!(
                        "MQTT qos must be a number, got {}",
                        errors::type_of(&q)
                    ))
                    .throw(ctx))
                }
            };
            let Coerced(retain) = Coerced::<bool>::from_js(ctx, atoms::get(ctx, &o, retain_atom)?)?;
            (qos, retain, Some(atoms::get(ctx, &o, properties_atom)?))
        }
    };
    publisher
        .publish(ctx, &topic, &payload, qos, retain, properties.as_ref())
        .map(Promise::into_value)
}

fn qos_arg(ctx: &Ctx<'_>, qos: f64) -> rquickjs::Result<QoS> {
    if qos.fract() != 0.0 {
        return Err(JsError::Range(format!("MQTT QoS must be 0, 1 or 2, got {qos}")).throw(ctx));
    }
    QoS::from_number(qos as i64).map_err(|e| validation(e).throw(ctx))
}

/// Install the `mqtt*` natives.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    shared: &Rc<Shared>,
    opts: &ScriptOptions,
) -> rquickjs::Result<()> {
    let state: Rc<RefCell<Option<Rc<State>>>> = Rc::new(RefCell::new(None));
    let services = opts.services.clone();
    let sender = opts.sender.clone();

    // mqttOpen(): start (or join) the connection; returns { handle, prefix }.
    {
        let (state, shared, services, sender) = (
            state.clone(),
            shared.clone(),
            services.clone(),
            sender.clone(),
        );
        native.set(
            "mqttOpen",
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>| -> rquickjs::Result<Object<'js>> {
                    let st = open(&ctx, &state, &shared, &services, &sender)?;
                    let o = Object::new(ctx)?;
                    o.set("handle", st.handle_id)?;
                    o.set("prefix", st.service.prefix.as_str())?;
                    Ok(o)
                },
            )?,
        )?;
    }

    let publisher = Publisher {
        state: state.clone(),
        shared: shared.clone(),
        fns: Rc::new(RefCell::new(PublishFns::default())),
    };
    {
        let fns = publisher.fns.clone();
        shared.on_close(move || *fns.borrow_mut() = PublishFns::default()); // JS values
    }

    // mqttPublish(topic, payload, qos, retain, properties): the JS `publish`'s way in, for the
    // calls the native one leaves to it (see `Publisher::publish`).
    {
        let publisher = publisher.clone();
        native.set(
            "mqttPublish",
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>,
                      topic: Value<'js>,
                      payload: Value<'js>,
                      qos: f64,
                      retain: bool,
                      properties: Opt<Value<'js>>|
                      -> rquickjs::Result<Promise<'js>> {
                    publisher.publish(&ctx, &topic, &payload, qos, retain, properties.0.as_ref())
                },
            )?,
        )?;
    }

    // mqttPublisher(jsPublish, scheduleFlush): the module's `publish` in native code (see
    // `native_publish`), with the JS one as its fallback; `scheduleFlush()` queues the microtask
    // that hands a macrotask's publishes to the worker.
    {
        let atoms = HeldAtoms::install(ctx, shared, [c"qos", c"retain", c"properties"])?;
        let publisher = publisher.clone();
        native.set(
            "mqttPublisher",
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>,
                      js_publish: Function<'js>,
                      schedule: Function<'js>|
                      -> rquickjs::Result<Function<'js>> {
                    *publisher.fns.borrow_mut() = PublishFns {
                        fallback: Some(Persistent::save(&ctx, js_publish)),
                        schedule: Some(Persistent::save(&ctx, schedule)),
                    };
                    publish_function(&ctx, publisher.clone(), atoms)
                },
            )?,
        )?;
    }

    // mqttFlush(): hands this macrotask's publishes to the worker.
    {
        let (state, shared) = (state.clone(), shared.clone());
        native.set(
            "mqttFlush",
            Function::new(ctx.clone(), move |ctx: Ctx<'js>| -> rquickjs::Result<()> {
                current(&ctx, &state)?.flush(&ctx, &shared)
            })?,
        )?;
    }

    // mqttSubscribe(reqId, subId, filter, qos): settles at SUBACK, then 'message' events.
    {
        let (state, shared, sender) = (state.clone(), shared.clone(), sender.clone());
        native.set(
            "mqttSubscribe",
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>,
                      req: u32,
                      sub: u32,
                      filter: String,
                      qos: f64|
                      -> rquickjs::Result<()> {
                    let st = current(&ctx, &state)?;
                    let qos = qos_arg(&ctx, qos)?;
                    let fut = st
                        .service
                        .handle
                        .subscribe(&filter, qos)
                        .map_err(|e| validation(e).throw(&ctx))?;
                    shared.add_handle();
                    let (id, tx) = (st.handle_id, sender.clone());
                    let task = st.tokio.spawn(async move {
                        let result = fut.await;
                        let granted = result.as_ref().map(Subscription::granted_qos);
                        let settle = match &granted {
                            Ok(q) => Ok(q.as_u8()),
                            Err(e) => Err(mqtt_error(e)),
                        };
                        let _ = tx
                            .send(Box::new(move |h| {
                                let o = Object::new(h.ctx.clone())?;
                                o.set("id", req)?;
                                match settle {
                                    Ok(q) => o.set("qos", q)?,
                                    Err(e) => o.set("error", e.to_value(&h.ctx)?)?,
                                }
                                h.deliver(id, "settle", o)
                            }))
                            .await;
                        let Ok(mut subscription) = result else { return };
                        while let Some(d) = subscription.recv().await {
                            let sent = tx
                                .send(Box::new(move |h| {
                                    let o = Object::new(h.ctx.clone())?;
                                    o.set("sub", sub)?;
                                    o.set("topic", &*d.topic)?;
                                    o.set(
                                        "payload",
                                        TypedArray::<u8>::new(h.ctx.clone(), d.payload.to_vec())?,
                                    )?;
                                    o.set("qos", d.qos.as_u8())?;
                                    o.set("retain", d.retain)?;
                                    o.set("dup", d.dup)?;
                                    o.set(
                                        "properties",
                                        properties_object(&h.ctx, d.properties.as_deref())?,
                                    )?;
                                    h.deliver(id, "message", o)
                                }))
                                .await;
                            if !sent {
                                break;
                            }
                        }
                    });
                    st.subs.borrow_mut().insert(sub, task.abort_handle());
                    Ok(())
                },
            )?,
        )?;
    }

    // mqttUnsubscribe(subId): ends that subscription (the broker's when no other uses the filter).
    {
        let (state, shared) = (state.clone(), shared.clone());
        native.set(
            "mqttUnsubscribe",
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>, sub: u32| -> rquickjs::Result<bool> {
                    let st = current(&ctx, &state)?;
                    let removed = st.subs.borrow_mut().remove(&sub);
                    Ok(match removed {
                        Some(task) => {
                            task.abort();
                            shared.remove_handle();
                            true
                        }
                        None => false,
                    })
                },
            )?,
        )?;
    }

    {
        let state = state.clone();
        native.set(
            "mqttConnected",
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>| -> rquickjs::Result<bool> {
                    Ok(current(&ctx, &state)?.service.handle.is_connected())
                },
            )?,
        )?;
    }
    {
        let state = state.clone();
        native.set(
            "mqttStats",
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>| -> rquickjs::Result<Object<'js>> {
                    let s = current(&ctx, &state)?.service.handle.stats();
                    let o = Object::new(ctx)?;
                    o.set("connected", s.connected)?;
                    for (k, v) in [
                        ("queued", s.queued),
                        ("inflight", s.inflight),
                        ("sent", s.sent),
                        ("acked", s.acked),
                        ("dropped", s.dropped),
                        ("rejected", s.rejected),
                        ("corrupt", s.corrupt),
                        ("bytesOnDisk", s.bytes_on_disk),
                        ("queuedBytes", s.queued_bytes),
                        ("received", s.received),
                        ("receivedDropped", s.received_dropped),
                        ("connects", s.connects),
                        ("expired", s.expired),
                        ("refused", s.refused),
                    ] {
                        o.set(k, v as f64)?;
                    }
                    Ok(o)
                },
            )?,
        )?;
    }
    Ok(())
}

fn current(ctx: &Ctx<'_>, state: &Rc<RefCell<Option<Rc<State>>>>) -> rquickjs::Result<Rc<State>> {
    state.borrow().clone().ok_or_else(|| {
        JsError::Coded {
            code: "ERR_MQTT_CLOSED".into(),
            message: "ganglion:mqtt is not open".into(),
        }
        .throw(ctx)
    })
}

/// Start the service on first use and the pump of connection events into JS.
fn open(
    ctx: &Ctx<'_>,
    state: &Rc<RefCell<Option<Rc<State>>>>,
    shared: &Rc<Shared>,
    services: &Arc<Services>,
    sender: &LoopSender,
) -> rquickjs::Result<Rc<State>> {
    if let Some(st) = state.borrow().clone() {
        return Ok(st);
    }
    let service = services.mqtt().map_err(|m| {
        JsError::Coded {
            code: "ERR_MQTT_CONFIG".into(),
            message: m,
        }
        .throw(ctx)
    })?;
    let handle_id = next_handle_id();
    // Publishes: one task hands the batches to the worker in call order, another settles them
    // (the worker answers in that order) with sequence numbers or the queue's refusals.
    let (publisher, mut jobs) = tokio::sync::mpsc::unbounded_channel::<Vec<NewMessage>>();
    let (handed, mut accepted) =
        tokio::sync::mpsc::unbounded_channel::<(usize, Result<BatchAccepted, MqttError>)>();
    let handle = service.handle.clone();
    let enqueuer = services.tokio.spawn(async move {
        while let Some(items) = jobs.recv().await {
            let n = items.len();
            if handed.send((n, handle.publish_batch(items).await)).is_err() {
                break;
            }
        }
    });
    let tx = sender.clone();
    let settler = services.tokio.spawn(async move {
        while let Some((n, handed)) = accepted.recv().await {
            let results = match handed {
                Ok(acceptance) => acceptance.await,
                Err(e) => Err(e),
            };
            let sent = tx
                .send(Box::new(move |h| {
                    h.shared().end_op();
                    let Some(st) = h.shared().native::<State>(handle_id) else {
                        return Ok(()); // the runtime is closing
                    };
                    // Keep the script alive until the queue drains (once per busy spell).
                    if !st.flushing.replace(true) {
                        watch_flush(&st, h.shared());
                    }
                    h.run_native(|ctx| st.settle(ctx, n, results))
                }))
                .await;
            if !sent {
                break;
            }
        }
    });
    let st = Rc::new(State {
        handle_id,
        service: service.clone(),
        tokio: services.tokio.clone(),
        subs: RefCell::new(HashMap::new()),
        batch: RefCell::new(Vec::new()),
        publisher,
        waiting: RefCell::new(VecDeque::new()),
        flushing: Cell::new(false),
        settled_batches: Cell::new(0),
        sender: sender.clone(),
    });
    shared.set_native(handle_id, st.clone());
    // A configured connection keeps the agent running, like an open socket in Node.
    if services.config.mqtt.is_some() {
        shared.add_handle();
    }
    let mut events = service.events();
    let tx = sender.clone();
    let handle = service.handle.clone();
    let mut reported_drops = handle.stats().dropped;
    let pump = services.tokio.spawn(async move {
        loop {
            let ev = match events.recv().await {
                // Drop counts come from the stats (updated before each event), so events
                // skipped while the script was busy (Lagged) still add up to stats().dropped.
                Ok(MqttEvent::Dropped { .. })
                | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let total = handle.stats().dropped;
                    if total <= reported_drops {
                        continue;
                    }
                    let count = total - reported_drops;
                    reported_drops = total;
                    MqttEvent::Dropped { count }
                }
                Ok(ev) => ev,
                Err(_) => break,
            };
            let sent = tx
                .send(Box::new(move |h| {
                    let o = Object::new(h.ctx.clone())?;
                    let ty = match ev {
                        MqttEvent::Connected { session_present } => {
                            o.set("sessionPresent", session_present)?;
                            "connect"
                        }
                        MqttEvent::Disconnected { reason } => {
                            o.set("reason", reason)?;
                            "disconnect"
                        }
                        MqttEvent::Error { message } => {
                            o.set("message", message)?;
                            "error"
                        }
                        MqttEvent::Dropped { count } => {
                            o.set("count", count as f64)?;
                            "dropped"
                        }
                        MqttEvent::Refused {
                            topic,
                            reason,
                            code,
                        } => {
                            o.set("topic", topic)?;
                            o.set("reason", reason)?;
                            o.set("code", code)?;
                            "refused"
                        }
                    };
                    h.deliver(handle_id, ty, o)
                }))
                .await;
            if !sent {
                break;
            }
        }
    });
    let st2 = st.clone();
    let state2 = state.clone();
    shared.on_close(move || {
        pump.abort();
        enqueuer.abort();
        settler.abort();
        for (_, t) in st2.subs.borrow_mut().drain() {
            t.abort();
        }
        st2.waiting.borrow_mut().clear(); // JS values: before the runtime ends
        state2.borrow_mut().take();
    });
    *state.borrow_mut() = Some(st.clone());
    Ok(st)
}

/// Keep the script alive until what it published has left the queue (sent and, for QoS 1/2,
/// acknowledged), so `ganglion run pub.js` delivers before it exits. Started when a batch
/// settles (its messages are in the queue) and no watch is running; the queue draining ends it.
/// While the broker is away this keeps the agent running; SIGTERM still ends it and the
/// messages stay on disk for the next start.
fn watch_flush(st: &State, shared: &Shared) {
    shared.begin_op();
    let handle = st.service.handle.clone();
    let tx = st.sender.clone();
    let id = st.handle_id;
    let seen = st.settled_batches.get();
    st.tokio.spawn(async move {
        handle.drained().await;
        let _ = tx
            .send(Box::new(move |h| {
                if let Some(st) = h.shared().native::<State>(id) {
                    // A batch that settled after the drain was seen found this watch still
                    // running and started none: watch again (at once done if it has gone).
                    if st.settled_batches.get() != seen {
                        watch_flush(&st, h.shared());
                    } else {
                        st.flushing.set(false);
                    }
                }
                h.shared().end_op();
                Ok(())
            }))
            .await;
    });
}
