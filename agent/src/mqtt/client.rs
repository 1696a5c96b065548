//! The MQTT connection: a cloneable [`MqttHandle`] and one worker task that owns rumqttc's
//! `EventLoop` and the durable [`Store`].
//!
//! Every publish goes through the store first (its future resolves once the record is durable
//! per the fsync policy; `batch` fsyncs run off the worker, on the runtime's blocking thread),
//! then the worker feeds stored records to the connection in sequence order, at most
//! `max_inflight` at a time, and completes them in the store on PUBACK/PUBCOMP (QoS 1/2) or
//! once written to the network (QoS 0). When the connection drops, everything not
//! completed is handed out again, in order, after the next CONNACK. rumqttc's own in-memory
//! retransmission state is reset on every disconnect: the store is the single source of truth.
//! Messages are therefore delivered at least once across a reconnect (QoS 2 included: a
//! replayed message gets a new packet id). With a persistent session (`clean_session = false`)
//! every connect that resumes the session first sends PUBREL for every packet id, so QoS 2
//! messages the broker already holds are completed (and not re-sent when their PUBREC had
//! arrived) instead of making the broker discard a new message that reuses the packet id.
//!
//! Presence: the last will is a retained `offline` on `<prefix>/status`; a retained `online` is
//! published on every connect, and a retained `offline` before a graceful shutdown.
//!
//! MQTT 3.1.1 and 5 share this worker; the protocol layer underneath (`link`) maps both into
//! one set of events. With MQTT 5: publish properties are stored with the record and sent; a
//! message whose expiry interval runs out while queued is discarded (counted in `expired`) and
//! a queued one is sent with what is left of it; a PUBACK/PUBREC with a failure reason code
//! completes the record (counted in `refused`, reported as [`MqttEvent::Refused`]), since
//! sending it again would only be refused again and hold up the queue; the window of messages
//! in flight respects the broker's Receive Maximum, and a record larger than the broker's
//! Maximum Packet Size is discarded as refused instead of being sent (rumqttc would turn it
//! into a connection error, then a reconnect and the same record again, forever).
//!
//! The worker polls the event loop's `poll` future to completion every time (it is never
//! cancelled mid-way, which could lose a half-written packet); handle commands are served
//! concurrently and talk to the event loop only through rumqttc's request channel.

use super::config::{Protocol, ResolvedMqtt};
use super::link::{self, Event, LinkError, Reason};
use super::props::{remaining_expiry, unix_ms_now, v5_publish_size, MessageProperties};
use super::store::{NewMessage, Store, StoreError, StoreStats, SyncJob};
use super::{topic_matches, validate_filter, validate_topic, JsErrorKind, QoS, ValidationError};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{AbortHandle, Abortable, BoxFuture};
use futures::stream::{FuturesUnordered, StreamExt};
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, info, warn};

/// Payload of the retained presence message published on every connect.
pub const STATUS_ONLINE: &str = "online";
/// Payload of the last will and of the message published before a graceful shutdown.
pub const STATUS_OFFLINE: &str = "offline";
/// Messages buffered per subscription before further ones are dropped (and counted).
pub const SUBSCRIPTION_BUFFER: usize = 1024;
/// Handle commands buffered before `publish` futures wait (backpressure).
const COMMAND_BUFFER: usize = 256;
/// Events buffered for slow event receivers (older ones are then skipped).
const EVENT_BUFFER: usize = 64;
/// Longest graceful shutdown before the connection is simply dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Fixed-header and length overhead counted against `max_packet_size` for a publish.
const PUBLISH_OVERHEAD: usize = 5 + 2 + 2;

/// Errors of MQTT operations. Validation errors carry the JS error class to throw.
#[derive(Debug, Error)]
pub enum MqttError {
    /// Bad topic, filter, QoS or payload size; nothing was queued.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The durable queue refused the message (full with `reject-new`, too large) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The broker answered the SUBSCRIBE with a failure code (filter, reason in words).
    #[error("MQTT broker refused the subscription to {0:?}: {1}")]
    SubscriptionRefused(String, String),
    /// The worker has shut down.
    #[error("MQTT client is shut down")]
    Closed,
    /// The worker's thread or runtime could not be created.
    #[error("MQTT client: cannot start its worker thread: {0}")]
    Thread(std::io::Error),
}

impl MqttError {
    /// The JS error class for errors the binding should throw synchronously, if any.
    pub fn js_kind(&self) -> Option<JsErrorKind> {
        match self {
            MqttError::Invalid(e) => Some(e.js_kind()),
            _ => None,
        }
    }
}

/// Connection-level happenings, for the JS `connect`/`disconnect`/`error` events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttEvent {
    /// CONNACK received; stored messages are being replayed.
    Connected {
        /// The broker resumed a persistent session.
        session_present: bool,
    },
    /// An established connection was lost (a reconnect follows).
    Disconnected {
        /// Why, in words.
        reason: String,
    },
    /// A connection attempt failed, the broker refused a subscription, or the queue failed.
    Error {
        /// What happened, in words.
        message: String,
    },
    /// The queue cap dropped this many of the oldest messages (policy `drop-oldest`).
    Dropped {
        /// Messages dropped by this publish.
        count: u64,
    },
    /// The broker refused a queued message (MQTT 5 PUBACK/PUBREC failure reason, or larger
    /// than its Maximum Packet Size); it was removed from the queue.
    Refused {
        /// The message's topic.
        topic: String,
        /// Why, in words, e.g. `not authorized (0x87)`.
        reason: String,
        /// The MQTT 5 reason code (0x95 for a message too large to send).
        code: u8,
    },
}

/// A message received on a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Topic it was published to.
    pub topic: Arc<str>,
    /// Payload bytes (shared between subscriptions that match the same message).
    pub payload: Arc<[u8]>,
    /// QoS it was delivered with.
    pub qos: QoS,
    /// Retained message (sent because of the subscription, not a live publish).
    pub retain: bool,
    /// The broker marked it as a possible duplicate.
    pub dup: bool,
    /// MQTT 5 properties, if the message carried any (always `None` with MQTT 3.1.1).
    pub properties: Option<Arc<MessageProperties>>,
}

/// Counters and gauges for `mqtt.stats()` and tests (`MqttHandle::watch_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MqttStats {
    /// Connected to the broker right now.
    pub connected: bool,
    /// Messages in the store waiting to be sent.
    pub queued: u64,
    /// Messages sent (or being sent) and not yet acknowledged.
    pub inflight: u64,
    /// PUBLISH packets written to the network (replays included).
    pub sent: u64,
    /// QoS 1/2 messages acknowledged by the broker (PUBACK/PUBCOMP).
    pub acked: u64,
    /// Messages dropped by the queue cap (`drop-oldest`).
    pub dropped: u64,
    /// Publishes refused because the queue was full (`reject-new`).
    pub rejected: u64,
    /// Messages lost to on-disk corruption.
    pub corrupt: u64,
    /// Size of the queue's files.
    pub bytes_on_disk: u64,
    /// Bytes of queued and in-flight messages (what the cap limits).
    pub queued_bytes: u64,
    /// Messages received on subscriptions.
    pub received: u64,
    /// Received messages dropped because a subscriber's buffer was full.
    pub received_dropped: u64,
    /// Successful connects since start.
    pub connects: u64,
    /// Messages discarded because their MQTT 5 expiry interval ran out while queued.
    pub expired: u64,
    /// Messages the broker refused (MQTT 5 reason code, or too large for it); not retried.
    pub refused: u64,
}

/// The answer to a batch ([`MqttHandle::publish_batch`]): one result per message, in order.
pub type BatchResults = Vec<Result<u64, MqttError>>;

/// A batch handed to the worker: resolves with each message's sequence number (or the queue's
/// refusal) once the whole batch is durably in the queue.
#[derive(Debug)]
pub struct BatchAccepted(oneshot::Receiver<BatchResults>);

impl Future for BatchAccepted {
    type Output = Result<BatchResults, MqttError>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.map_err(|_| MqttError::Closed))
    }
}

/// A publish handed to the worker ([`MqttHandle::enqueue_publish`]): resolves with the
/// message's sequence number once it is durably in the queue, or with the queue's refusal.
/// The worker answers in the order messages were handed over.
#[derive(Debug)]
pub struct Accepted(BatchAccepted);

impl Future for Accepted {
    type Output = Result<u64, MqttError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|r| {
            r.and_then(|results| results.into_iter().next().unwrap_or(Err(MqttError::Closed)))
        })
    }
}

/// A subscription: messages matching its filter arrive on [`Subscription::recv`].
/// Dropping it (or [`MqttHandle::unsubscribe`]) ends it; the broker subscription is removed
/// when no other subscription uses the same filter.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    filter: String,
    granted: QoS,
    rx: mpsc::Receiver<Delivery>,
}

impl Subscription {
    /// Identifier for [`MqttHandle::unsubscribe`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The subscription filter.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// QoS granted by the broker.
    pub fn granted_qos(&self) -> QoS {
        self.granted
    }

    /// Next message; `None` once unsubscribed or the client is shut down.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }

    /// Next message if one is buffered.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        self.rx.try_recv().ok()
    }

    /// The underlying channel, e.g. to pump it from another task.
    pub fn into_receiver(self) -> mpsc::Receiver<Delivery> {
        self.rx
    }
}

enum Command {
    PublishBatch {
        items: Vec<NewMessage>,
        reply: oneshot::Sender<BatchResults>,
    },
    Subscribe {
        filter: String,
        qos: QoS,
        tx: mpsc::Sender<Delivery>,
        reply: oneshot::Sender<Result<(u64, QoS), MqttError>>,
    },
    Unsubscribe {
        id: u64,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
    /// Tests: die like a killed process (no DISCONNECT, no queue sync).
    #[cfg(test)]
    Crash,
    /// Tests: make every later queue sync wait for the test's release (a disk that hangs).
    #[cfg(test)]
    HoldSyncs(Arc<SyncHold>),
}

/// Tests: a queue sync announces itself on `started`, then waits for a message on `release`
/// (or for the sender to go): `true` makes it fail as a broken disk would.
#[cfg(test)]
pub struct SyncHold {
    started: mpsc::UnboundedSender<()>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<bool>>,
}

#[cfg(test)]
impl SyncHold {
    /// Whether the sync is to fail.
    fn wait(&self) -> bool {
        let _ = self.started.send(());
        self.release
            .lock()
            .ok()
            .and_then(|release| release.recv().ok())
            .unwrap_or(false)
    }
}

/// Cloneable handle to the MQTT worker. All methods are non-blocking; futures resolve when the
/// worker has done the work (see each method).
#[derive(Clone, Debug)]
pub struct MqttHandle {
    cmd: mpsc::Sender<Command>,
    stats: watch::Receiver<MqttStats>,
    drained: watch::Receiver<bool>,
    events: broadcast::Sender<MqttEvent>,
    max_packet_size: usize,
    protocol: Protocol,
    /// Properties given to a 3.1.1 connection were reported (once).
    warned_properties: Arc<AtomicBool>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::PublishBatch { .. } => "PublishBatch",
            Command::Subscribe { .. } => "Subscribe",
            Command::Unsubscribe { .. } => "Unsubscribe",
            Command::Shutdown { .. } => "Shutdown",
            #[cfg(test)]
            Command::Crash => "Crash",
            #[cfg(test)]
            Command::HoldSyncs(_) => "HoldSyncs",
        })
    }
}

/// Records in flight at once: ours, capped by the broker's MQTT 5 Receive Maximum.
pub fn send_window(max_inflight: usize, receive_maximum: Option<u16>) -> usize {
    match receive_maximum {
        Some(limit) => max_inflight.min(usize::from(limit)).max(1),
        None => max_inflight,
    }
}

impl MqttHandle {
    /// Opens the durable queue and starts the worker on a thread of its own (a current-thread
    /// tokio runtime), so the queue's disk writes and fsyncs never block the caller's event
    /// loop; the `batch` fsyncs run on that runtime's blocking thread, so they do not hold up
    /// the connection either. No runtime is needed to call this. The worker connects (and
    /// reconnects) on its own. The receiver gets every event from the start;
    /// [`MqttHandle::events`] gives more.
    pub fn start(
        cfg: ResolvedMqtt,
    ) -> Result<(MqttHandle, broadcast::Receiver<MqttEvent>), MqttError> {
        let store = Store::open(&cfg.queue_dir, cfg.store.clone(), Instant::now())?;
        let (client, eventloop) = link::build(&cfg);
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_BUFFER);
        let (events, events_rx) = broadcast::channel(EVENT_BUFFER);
        let (stats_tx, stats_rx) = watch::channel(MqttStats::default());
        let (drained_tx, drained_rx) = watch::channel(true);
        let seed = u64::from(std::process::id())
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        let worker = Worker {
            backoff: Backoff::new(cfg.reconnect_min, cfg.reconnect_max, seed),
            status_topic: cfg.status_topic(),
            max_inflight: usize::from(cfg.max_inflight),
            max_inflight_qos2: usize::from(cfg.max_inflight_qos2),
            persistent: !cfg.clean_session,
            window: usize::from(cfg.max_inflight),
            broker_max_packet: None,
            leaked: 0,
            recycling: None,
            tick_armed: false,
            tick_every: match cfg.store.fsync {
                super::store::FsyncPolicy::Batch(every) => every.max(Duration::from_millis(5)),
                _ => Duration::from_secs(1),
            },
            client,
            store,
            tracker: Tracker::default(),
            subs: Subscriptions::default(),
            cmd_rx,
            events: events.clone(),
            stats_tx,
            drained_tx,
            connected: false,
            counters: MqttStats::default(),
            closing: None,
            crashed: false,
            syncing: None,
            #[cfg(test)]
            hold_syncs: None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("mqtt-sync")
            .build()
            .map_err(MqttError::Thread)?;
        std::thread::Builder::new()
            .name("mqtt".to_owned())
            .spawn(move || runtime.block_on(worker.run(eventloop)))
            .map_err(MqttError::Thread)?;
        let handle = MqttHandle {
            cmd: cmd_tx,
            stats: stats_rx,
            drained: drained_rx,
            events,
            max_packet_size: cfg.max_packet_size,
            protocol: cfg.protocol,
            warned_properties: Arc::new(AtomicBool::new(false)),
        };
        Ok((handle, events_rx))
    }

    /// The protocol version this connection speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Checks what `publish` checks, synchronously: topic rules, MQTT 5 properties and the
    /// packet size limit (properties included with MQTT 5).
    pub fn validate_publish(
        &self,
        topic: &str,
        payload: &[u8],
        properties: Option<&MessageProperties>,
    ) -> Result<(), ValidationError> {
        validate_topic(topic)?;
        if let Some(p) = properties {
            p.validate(payload)?;
        }
        let size = match self.protocol {
            Protocol::V311 => PUBLISH_OVERHEAD + topic.len() + payload.len(),
            Protocol::V5 => v5_publish_size(topic.len(), payload.len(), true, properties),
        };
        if size > self.max_packet_size {
            return Err(ValidationError::PayloadTooLarge {
                size,
                max: self.max_packet_size,
            });
        }
        Ok(())
    }

    /// Queues a message. Validation happens now (errors for JS to throw synchronously); the
    /// returned future resolves with the message's sequence number once it is durably in the
    /// queue (QoS 0 included), or fails when the queue refuses it. Publishes whose futures run
    /// concurrently (e.g. one task each) may enter the queue in any order: to keep the callers'
    /// order without waiting for each acceptance, use [`MqttHandle::enqueue_publish`].
    pub fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
    ) -> Result<impl Future<Output = Result<u64, MqttError>> + Send + 'static, ValidationError>
    {
        self.publish_with_properties(topic, payload, qos, retain, None)
    }

    /// [`MqttHandle::publish`] with MQTT 5 properties (validated now; with MQTT 3.1.1 they are
    /// ignored, with a warning logged once).
    pub fn publish_with_properties(
        &self,
        topic: &str,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        properties: Option<MessageProperties>,
    ) -> Result<impl Future<Output = Result<u64, MqttError>> + Send + 'static, ValidationError>
    {
        let enqueue =
            self.enqueue_publish_with_properties(topic, payload, qos, retain, properties)?;
        Ok(async move { enqueue.await?.await })
    }

    /// [`MqttHandle::publish`] in two steps, for callers that must keep their order: the
    /// returned future resolves once the message is handed to the worker (waiting only when the
    /// command channel is full), so messages handed over one after the other (one task awaiting
    /// these futures in turn) enter the queue, and get sequence numbers, in that order. The
    /// [`Accepted`] it yields then resolves as `publish` does.
    pub fn enqueue_publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
    ) -> Result<impl Future<Output = Result<Accepted, MqttError>> + Send + 'static, ValidationError>
    {
        self.enqueue_publish_with_properties(topic, payload, qos, retain, None)
    }

    /// [`MqttHandle::enqueue_publish`] with MQTT 5 properties (see
    /// [`MqttHandle::publish_with_properties`]).
    pub fn enqueue_publish_with_properties(
        &self,
        topic: &str,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        properties: Option<MessageProperties>,
    ) -> Result<impl Future<Output = Result<Accepted, MqttError>> + Send + 'static, ValidationError>
    {
        let message = self.prepare_message(topic.to_owned(), payload, qos, retain, properties)?;
        let batch = self.publish_batch(vec![message]);
        Ok(async move { Ok(Accepted(batch.await?)) })
    }

    /// Properties as the connection's protocol sends them: none with MQTT 3.1.1 (a warning,
    /// once: the message still goes out).
    fn properties_for_protocol(
        &self,
        properties: Option<MessageProperties>,
    ) -> Option<Box<MessageProperties>> {
        match (self.protocol, properties) {
            (Protocol::V5, Some(p)) => Some(Box::new(p)),
            (Protocol::V311, Some(_)) => {
                if !self.warned_properties.swap(true, Ordering::Relaxed) {
                    warn!(
                        "MQTT publish properties need protocol = \"5\"; ignored with MQTT 3.1.1 \
                         (the messages are sent without them)"
                    );
                }
                None
            }
            (_, None) => None,
        }
    }

    /// Checks a message as `publish` does and makes it a [`NewMessage`] for
    /// [`MqttHandle::publish_batch`] (accepted now, for the MQTT 5 expiry).
    pub fn prepare_message(
        &self,
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        properties: Option<MessageProperties>,
    ) -> Result<NewMessage, ValidationError> {
        let properties = properties.filter(|p| !p.is_empty());
        self.validate_publish(&topic, &payload, properties.as_ref())?;
        let properties = self.properties_for_protocol(properties);
        let accepted_unix_ms = if properties.is_some() {
            unix_ms_now()
        } else {
            0
        };
        Ok(NewMessage {
            topic,
            payload,
            qos,
            retain,
            properties,
            accepted_unix_ms,
        })
    }

    /// Hands a batch of messages (each made by [`MqttHandle::prepare_message`]) to the worker in one command: the store takes them with one write, and the
    /// answer comes back once for all. The future resolves once the batch is handed over
    /// (waiting only while the command channel is full); batches handed over one after the
    /// other enter the queue in that order.
    pub fn publish_batch(
        &self,
        items: Vec<NewMessage>,
    ) -> impl Future<Output = Result<BatchAccepted, MqttError>> + Send + 'static {
        let cmd = self.cmd.clone();
        async move {
            let (reply, rx) = oneshot::channel();
            cmd.send(Command::PublishBatch { items, reply })
                .await
                .map_err(|_| MqttError::Closed)?;
            Ok(BatchAccepted(rx))
        }
    }

    /// Resolves once nothing is queued or in flight (at once if that is so now). Unlike
    /// [`MqttHandle::watch_stats`] it wakes only on that transition, not on every counter.
    pub async fn drained(&self) {
        let mut drained = self.drained.clone();
        let _ = drained.wait_for(|d| *d).await;
    }

    /// Subscribes to a filter. Validation happens now; the future resolves once the broker has
    /// granted the subscription (while disconnected: after the next connect). Subscriptions are
    /// restored on every reconnect.
    pub fn subscribe(
        &self,
        filter: &str,
        qos: QoS,
    ) -> Result<
        impl Future<Output = Result<Subscription, MqttError>> + Send + 'static,
        ValidationError,
    > {
        validate_filter(filter)?;
        let cmd = self.cmd.clone();
        let filter = filter.to_owned();
        Ok(async move {
            let (tx, rx) = mpsc::channel(SUBSCRIPTION_BUFFER);
            let (reply, reply_rx) = oneshot::channel();
            cmd.send(Command::Subscribe {
                filter: filter.clone(),
                qos,
                tx,
                reply,
            })
            .await
            .map_err(|_| MqttError::Closed)?;
            let (id, granted) = reply_rx.await.map_err(|_| MqttError::Closed)??;
            Ok(Subscription {
                id,
                filter,
                granted,
                rx,
            })
        })
    }

    /// Ends the subscription with this id (see [`Subscription::id`]).
    pub async fn unsubscribe(&self, id: u64) -> Result<(), MqttError> {
        self.cmd
            .send(Command::Unsubscribe { id })
            .await
            .map_err(|_| MqttError::Closed)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MqttStats {
        *self.stats.borrow()
    }

    /// A receiver that sees every counter update (e.g. `wait_for(|s| s.acked == n)`).
    pub fn watch_stats(&self) -> watch::Receiver<MqttStats> {
        self.stats.clone()
    }

    /// True while connected to the broker.
    pub fn is_connected(&self) -> bool {
        self.stats.borrow().connected
    }

    /// Another receiver of connection events (from now on).
    pub fn events(&self) -> broadcast::Receiver<MqttEvent> {
        self.events.subscribe()
    }

    /// Tests: makes the worker die like a killed agent (no DISCONNECT, so the broker fires the
    /// will; no sync of the queue's in-memory state).
    #[cfg(test)]
    pub async fn crash(&self) {
        let _ = self.cmd.send(Command::Crash).await;
    }

    /// Tests: from now on every queue fdatasync says when it starts (first receiver) and then
    /// waits for a message on the second (or for it to be dropped) before it runs; `true` makes
    /// it fail instead.
    #[cfg(test)]
    pub async fn hold_syncs(&self) -> (mpsc::UnboundedReceiver<()>, std::sync::mpsc::Sender<bool>) {
        let (started, started_rx) = mpsc::unbounded_channel();
        let (release_tx, release) = std::sync::mpsc::channel();
        let hold = SyncHold {
            started,
            release: std::sync::Mutex::new(release),
        };
        let _ = self.cmd.send(Command::HoldSyncs(Arc::new(hold))).await;
        (started_rx, release_tx)
    }

    /// Graceful stop: syncs the queue, publishes a retained `offline`, disconnects (so the
    /// broker does not fire the will) and ends the worker. Unsent messages stay queued on disk.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.cmd.send(Command::Shutdown { reply }).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Reconnect delays: exponential from `min` to `max`, each reduced by up to 20% at random so a
/// fleet does not reconnect in lockstep, never below `min`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A schedule between `min` and `max`; `seed` drives the jitter (any value).
    pub fn new(min: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
            rng: seed | 1,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The undisturbed delay of the current attempt.
    pub fn base(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// Delay before the next attempt; advances the schedule.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.base();
        self.attempt = self.attempt.saturating_add(1);
        let fraction = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        base.mul_f64(1.0 - 0.2 * fraction).max(self.min)
    }

    /// Back to the first delay (after a successful connect).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// What was handed to rumqttc's request channel, in order, awaiting its `Outgoing::Publish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Submitted {
    Record { seq: u64, qos: QoS },
    Presence,
}

/// Maps rumqttc packet ids back to store sequence numbers. rumqttc reports
/// `Outgoing::Publish(pkid)` in the order requests were submitted (a packet-id collision shows
/// as `AwaitAck` first and the `Publish` later, still in order), so a FIFO of submissions is
/// enough to learn each record's packet id.
#[derive(Debug, Default)]
struct Tracker {
    fifo: VecDeque<Submitted>,
    // Keyed by packet id, looked up for every PUBACK: foldhash instead of SipHash (which cost
    // ~450 instructions a QoS 1 message; the keys are our own packet ids, nothing to flood).
    awaiting_ack: foldhash::HashMap<u16, (u64, QoS)>,
    awaiting_comp: foldhash::HashMap<u16, u64>,
    presence: foldhash::HashSet<u16>,
    /// Records submitted and not yet completed.
    window: usize,
    /// QoS 2 records among them.
    qos2: usize,
}

impl Tracker {
    fn submit(&mut self, s: Submitted) {
        if let Submitted::Record { qos, .. } = s {
            self.window += 1;
            if qos == QoS::ExactlyOnce {
                self.qos2 += 1;
            }
        }
        self.fifo.push_back(s);
    }

    /// A PUBLISH was written; returns the record to complete now (QoS 0) and whether it was
    /// one of ours.
    fn on_outgoing_publish(&mut self, pkid: u16) -> (Option<u64>, bool) {
        match self.fifo.pop_front() {
            Some(Submitted::Record {
                seq,
                qos: QoS::AtMostOnce,
            }) => {
                self.window -= 1;
                (Some(seq), true)
            }
            Some(Submitted::Record { seq, qos }) => {
                self.awaiting_ack.insert(pkid, (seq, qos));
                (None, true)
            }
            Some(Submitted::Presence) => {
                if pkid != 0 {
                    self.presence.insert(pkid);
                }
                (None, false)
            }
            None => {
                warn!(pkid, "MQTT: unexpected outgoing publish");
                (None, false)
            }
        }
    }

    fn on_puback(&mut self, pkid: u16) -> Option<u64> {
        if self.presence.remove(&pkid) {
            return None;
        }
        match self.awaiting_ack.get(&pkid) {
            Some(&(seq, QoS::AtLeastOnce)) => {
                self.awaiting_ack.remove(&pkid);
                self.window -= 1;
                Some(seq)
            }
            _ => None, // unknown, or a PUBACK where PUBREC is due
        }
    }

    fn on_pubrec(&mut self, pkid: u16) {
        if let Some(&(seq, QoS::ExactlyOnce)) = self.awaiting_ack.get(&pkid) {
            self.awaiting_ack.remove(&pkid);
            self.awaiting_comp.insert(pkid, seq);
        }
    }

    /// A PUBREC with a failure reason: the QoS 2 record is over (no PUBREL follows).
    fn on_pubrec_refused(&mut self, pkid: u16) -> Option<u64> {
        match self.awaiting_ack.get(&pkid) {
            Some(&(seq, QoS::ExactlyOnce)) => {
                self.awaiting_ack.remove(&pkid);
                self.window -= 1;
                self.qos2 -= 1;
                Some(seq)
            }
            _ => None,
        }
    }

    fn on_pubcomp(&mut self, pkid: u16) -> Option<u64> {
        let seq = self.awaiting_comp.remove(&pkid)?;
        self.window -= 1;
        self.qos2 -= 1;
        Some(seq)
    }

    /// The connection dropped. Returns the records to hand out again, and the packet ids of
    /// the records that were on the wire, in sequence order (the order PUBRELs should go out
    /// in, since a broker delivers a QoS 2 message on PUBREL). With `keep_released`
    /// (persistent session) records whose PUBREC arrived stay mapped to their packet id: the
    /// worker re-sends PUBREL on the next connect and the PUBCOMP completes them without a
    /// duplicate.
    fn on_connection_lost(&mut self, keep_released: bool) -> (Vec<u64>, Vec<u16>) {
        let mut on_wire: Vec<(u64, u16)> = self
            .awaiting_ack
            .iter()
            .map(|(&pkid, &(seq, _))| (seq, pkid))
            .chain(self.awaiting_comp.iter().map(|(&pkid, &seq)| (seq, pkid)))
            .collect();
        on_wire.sort_unstable();
        let mut requeue: Vec<u64> = self
            .fifo
            .drain(..)
            .filter_map(|s| match s {
                Submitted::Record { seq, .. } => Some(seq),
                Submitted::Presence => None,
            })
            .chain(self.awaiting_ack.drain().map(|(_, (seq, _))| seq))
            .collect();
        if !keep_released {
            requeue.extend(self.awaiting_comp.drain().map(|(_, seq)| seq));
        }
        self.presence.clear();
        self.window = self.awaiting_comp.len();
        self.qos2 = self.awaiting_comp.len();
        requeue.sort_unstable();
        (requeue, on_wire.into_iter().map(|(_, pkid)| pkid).collect())
    }

    /// The broker did not resume the session: released records must be sent again.
    fn take_released(&mut self) -> Vec<u64> {
        let mut seqs: Vec<u64> = self.awaiting_comp.drain().map(|(_, seq)| seq).collect();
        self.window = 0;
        self.qos2 = 0;
        seqs.sort_unstable();
        seqs
    }
}

#[derive(Debug)]
struct Sub {
    id: u64,
    filter: String,
    tx: mpsc::Sender<Delivery>,
    /// Ends this subscription's watch in [`Subscriptions::closed`] when it goes, so the
    /// watch's sender clone is released and the receiver sees the end of the channel.
    watch: AbortHandle,
}

impl Drop for Sub {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

/// A watch for a subscription's receiver to go (finishes) or for the subscription to end first
/// (aborted).
type ClosedWatch = Abortable<BoxFuture<'static, ()>>;

type SubResult = Result<(u64, QoS), MqttError>;
type SubReply = oneshot::Sender<SubResult>;

#[derive(Debug, Default)]
struct FilterState {
    /// Highest QoS any subscription asked for.
    qos: Option<QoS>,
    /// What the broker granted on the last SUBACK (None: not yet acknowledged).
    granted: Option<QoS>,
    waiters: Vec<(u64, SubReply)>,
}

/// Local subscriptions, the broker-side filters they need, and SUBACK bookkeeping.
#[derive(Debug, Default)]
struct Subscriptions {
    next_id: u64,
    subs: Vec<Sub>,
    filters: BTreeMap<String, FilterState>,
    /// Filters of SUBSCRIBE requests submitted, awaiting `Outgoing::Subscribe(pkid)`.
    fifo: VecDeque<Vec<String>>,
    by_pkid: HashMap<u16, Vec<String>>,
    /// One watch per subscription: yields when a receiver was dropped (the subscriber ended it,
    /// or gave up before the SUBACK), and the worker sweeps then; no timer polls for it.
    closed: FuturesUnordered<ClosedWatch>,
}

impl Subscriptions {
    /// Registers a subscription; returns the filter to send to the broker when needed.
    fn add(
        &mut self,
        filter: String,
        qos: QoS,
        tx: mpsc::Sender<Delivery>,
        reply: SubReply,
    ) -> Option<(String, QoS)> {
        self.next_id += 1;
        let id = self.next_id;
        let (watch, registration) = AbortHandle::new_pair();
        let watched = tx.clone();
        let closed: BoxFuture<'static, ()> = Box::pin(async move { watched.closed().await });
        self.closed.push(Abortable::new(closed, registration));
        self.subs.push(Sub {
            id,
            filter: filter.clone(),
            tx,
            watch,
        });
        let state = self.filters.entry(filter.clone()).or_default();
        let raise = state.qos.is_none_or(|q| q < qos);
        if raise {
            state.qos = Some(qos);
            state.granted = None;
        }
        match state.granted {
            Some(granted) => {
                let _ = reply.send(Ok((id, granted)));
                None
            }
            None => {
                state.waiters.push((id, reply));
                raise.then_some((filter, qos))
            }
        }
    }

    /// Removes a subscription; returns its filter when no other subscription uses it.
    fn remove(&mut self, id: u64) -> Option<String> {
        let i = self.subs.iter().position(|s| s.id == id)?;
        let sub = self.subs.swap_remove(i);
        if self.subs.iter().any(|s| s.filter == sub.filter) {
            return None;
        }
        self.filters.remove(&sub.filter);
        Some(sub.filter.clone())
    }

    /// The next subscription watch to end (see `closed`), pending while there is none: true
    /// when a receiver went (a sweep has work), false for the watch of a subscription that
    /// ended otherwise.
    async fn next_closed(&mut self) -> bool {
        if self.closed.is_empty() {
            std::future::pending::<()>().await;
        }
        matches!(self.closed.next().await, Some(Ok(())))
    }

    /// All broker-side filters, for restoring after a reconnect.
    fn all(&self) -> Vec<(String, QoS)> {
        self.filters
            .iter()
            .filter_map(|(f, s)| Some((f.clone(), s.qos?)))
            .collect()
    }

    fn on_outgoing_subscribe(&mut self, pkid: u16) {
        if let Some(filters) = self.fifo.pop_front() {
            self.by_pkid.insert(pkid, filters);
        }
    }

    /// Applies a SUBACK; returns the filters the broker refused, with the reason.
    fn on_suback(&mut self, pkid: u16, codes: &[Result<QoS, Reason>]) -> Vec<(String, Reason)> {
        let Some(filters) = self.by_pkid.remove(&pkid) else {
            return Vec::new();
        };
        let mut refused = Vec::new();
        for (filter, code) in filters.into_iter().zip(codes) {
            let Some(state) = self.filters.get_mut(&filter) else {
                continue;
            };
            match code {
                Ok(granted) => {
                    state.granted = Some(*granted);
                    for (id, reply) in state.waiters.drain(..) {
                        let _ = reply.send(Ok((id, *granted)));
                    }
                }
                Err(reason) => {
                    if let Some(state) = self.filters.remove(&filter) {
                        for (_, reply) in state.waiters {
                            let _ = reply.send(Err(MqttError::SubscriptionRefused(
                                filter.clone(),
                                reason.to_string(),
                            )));
                        }
                    }
                    self.subs.retain(|s| s.filter != filter);
                    refused.push((filter, *reason));
                }
            }
        }
        refused
    }

    /// Drops subscriptions whose receiver is gone, e.g. a `subscribe` abandoned before its
    /// SUBACK (whose subscription was never handed out); returns the filters no longer used.
    fn sweep(&mut self) -> Vec<String> {
        let closed: Vec<u64> = self
            .subs
            .iter()
            .filter(|s| s.tx.is_closed())
            .map(|s| s.id)
            .collect();
        closed
            .into_iter()
            .filter_map(|id| self.remove(id))
            .collect()
    }

    fn on_disconnect(&mut self) {
        self.fifo.clear();
        self.by_pkid.clear();
    }

    /// Hands a message to every matching subscription. Returns (delivered, dropped because a
    /// buffer was full, filters left without subscribers because receivers were dropped).
    fn route(&mut self, delivery: &Delivery) -> (u64, u64, Vec<String>) {
        let (mut delivered, mut full) = (0, 0);
        let mut closed = Vec::new();
        for sub in &self.subs {
            if !topic_matches(&sub.filter, &delivery.topic) {
                continue;
            }
            match sub.tx.try_send(delivery.clone()) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => full += 1,
                Err(mpsc::error::TrySendError::Closed(_)) => closed.push(sub.id),
            }
        }
        let gone = closed
            .into_iter()
            .filter_map(|id| self.remove(id))
            .collect();
        (delivered, full, gone)
    }
}

struct Worker {
    backoff: Backoff,
    status_topic: String,
    max_inflight: usize,
    max_inflight_qos2: usize,
    /// Persistent session (`clean_session = false`).
    persistent: bool,
    /// Records in flight at once on this connection ([`send_window`]).
    window: usize,
    /// The broker's MQTT 5 Maximum Packet Size, from the CONNACK.
    broker_max_packet: Option<u32>,
    /// In-flight slots rumqttc lost on this connection (see `link`).
    leaked: u16,
    /// Why the worker is closing the connection to reconnect at once, if it is.
    recycling: Option<String>,
    tick_every: Duration,
    /// Whether the ticker runs: since the queue last went from idle to having work.
    tick_armed: bool,
    client: link::Client,
    store: Store,
    tracker: Tracker,
    subs: Subscriptions,
    cmd_rx: mpsc::Receiver<Command>,
    events: broadcast::Sender<MqttEvent>,
    stats_tx: watch::Sender<MqttStats>,
    drained_tx: watch::Sender<bool>,
    connected: bool,
    /// `sent`, `acked`, `received`, `received_dropped`, `connects`, `expired`, `refused` live
    /// here.
    counters: MqttStats,
    closing: Option<Closing>,
    /// Tests: stop now as if killed.
    crashed: bool,
    /// The queue's fdatasync running on the runtime's blocking thread, if one is: a slow disk
    /// (an SD card under write-back can take 100s of ms) never stalls sends, acks or accepts.
    syncing: Option<tokio::task::JoinHandle<Result<(), StoreError>>>,
    #[cfg(test)]
    hold_syncs: Option<Arc<SyncHold>>,
}

struct Closing {
    replies: Vec<oneshot::Sender<()>>,
    deadline: tokio::time::Instant,
}

enum Wake {
    Poll(Result<Event, LinkError>),
    Stop,
    Crash,
}

impl Worker {
    async fn run(mut self, mut eventloop: link::EventLoop) {
        // The ticker runs only while the queue has work (`wants_tick`), and abandoned
        // subscriptions are swept when a receiver goes: an idle worker sleeps until traffic
        // instead of waking ten times a second.
        let mut ticker = tokio::time::interval(self.tick_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.update_stats();
        loop {
            if self.closing.is_some() && !self.connected {
                break;
            }
            let wake = {
                let poll = eventloop.poll();
                tokio::pin!(poll);
                loop {
                    let deadline = self.closing.as_ref().map(|c| c.deadline);
                    let ticking = self.arm_ticker(&mut ticker);
                    tokio::select! {
                        result = &mut poll => break Wake::Poll(result),
                        cmd = self.cmd_rx.recv(), if self.closing.is_none() => match cmd {
                            Some(cmd) => self.on_command(cmd),
                            None => self.begin_close(None),
                        },
                        _ = ticker.tick(), if ticking => self.on_tick(),
                        closed = self.subs.next_closed() => if closed { self.sweep() },
                        result = sync_finished(&mut self.syncing) => self.on_synced(result),
                        _ = sleep_until_opt(deadline) => break Wake::Stop,
                    }
                    self.update_stats();
                    if self.crashed {
                        break Wake::Crash;
                    }
                }
            };
            match wake {
                Wake::Stop => break,
                Wake::Crash => {
                    // Like SIGKILL: the socket closes without DISCONNECT and nothing of the
                    // queue's in-memory state (buffered acks) reaches the disk.
                    drop(eventloop);
                    std::mem::forget(self);
                    return;
                }
                Wake::Poll(Ok(event)) => {
                    if self.on_event(event) {
                        break;
                    }
                    self.check_leaks(&mut eventloop);
                    // One read of the socket (a run of PUBACKs) or one batched write gives
                    // rumqttc many events, handed out one poll each; the counters go out
                    // once, after the last (the next poll returns at once until then), not
                    // once per message: each watch update wakes eight notifiers (~700
                    // instructions a message at QoS 1).
                    if eventloop.has_buffered_events() {
                        continue;
                    }
                }
                Wake::Poll(Err(error)) => {
                    self.on_connection_error(&error, &mut eventloop);
                    if self.closing.is_some() {
                        break;
                    }
                    let wait = self.backoff.next_delay();
                    debug!(?wait, "MQTT: reconnecting after a pause");
                    if self.idle(wait, &mut ticker).await {
                        break;
                    }
                }
            }
            self.update_stats();
        }
        if self.syncing.is_some() {
            let result = sync_finished(&mut self.syncing).await;
            self.on_synced(result);
        }
        if let Err(e) = self.store.sync(Instant::now()) {
            warn!(error = %e, "MQTT: could not sync the queue on shutdown");
        }
        self.connected = false;
        self.update_stats();
        if let Some(closing) = self.closing.take() {
            for reply in closing.replies {
                let _ = reply.send(());
            }
        }
        info!("MQTT client stopped");
    }

    /// Waits out a reconnect delay while serving commands; true when asked to stop.
    async fn idle(&mut self, wait: Duration, ticker: &mut tokio::time::Interval) -> bool {
        let until = tokio::time::sleep(wait);
        tokio::pin!(until);
        loop {
            let ticking = self.arm_ticker(ticker);
            tokio::select! {
                _ = &mut until => return false,
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => self.begin_close(None),
                },
                _ = ticker.tick(), if ticking => self.on_tick(),
                closed = self.subs.next_closed() => if closed { self.sweep() },
                result = sync_finished(&mut self.syncing) => self.on_synced(result),
            }
            self.update_stats();
            if self.closing.is_some() {
                return true;
            }
        }
    }

    fn emit(&self, event: MqttEvent) {
        // No receiver is fine: events are informational.
        let _ = self.events.send(event);
    }

    fn update_stats(&mut self) {
        let s: StoreStats = self.store.stats();
        let c = self.counters;
        let drained = s.queued == 0 && s.inflight == 0;
        self.stats_tx.send_if_modified(|stats| {
            let new = MqttStats {
                connected: self.connected,
                queued: s.queued,
                inflight: s.inflight,
                sent: c.sent,
                acked: c.acked,
                dropped: s.dropped,
                rejected: s.rejected,
                corrupt: s.corrupt,
                bytes_on_disk: s.bytes_on_disk,
                queued_bytes: s.queued_bytes,
                received: c.received,
                received_dropped: c.received_dropped,
                connects: c.connects,
                expired: c.expired,
                refused: c.refused,
            };
            let changed = *stats != new;
            *stats = new;
            changed
        });
        // After the counters: whoever wakes on "drained" reads them final.
        self.drained_tx.send_if_modified(|d| {
            let changed = *d != drained;
            *d = drained;
            changed
        });
    }

    /// Whether the ticker is to run (the queue has work: [`Store::wants_tick`]). When the queue
    /// goes from idle to having work, the interval restarts, so its first tick comes a full
    /// interval after the first write: a stale deadline would fire at once and sync a lone
    /// message before its PUBACK, and its ack then with a second fdatasync.
    fn arm_ticker(&mut self, ticker: &mut tokio::time::Interval) -> bool {
        let wanted = self.store.wants_tick();
        if wanted && !self.tick_armed {
            ticker.reset();
        }
        self.tick_armed = wanted;
        wanted
    }

    /// The queue's periodic work: write buffered acks and, when due, hand the batch fdatasync
    /// to the blocking pool.
    fn on_tick(&mut self) {
        // One sync at a time: while one runs, the acks written now go with the next one.
        let due = match self.syncing {
            Some(_) => self.store.persist_acks().map(|()| None),
            None => self.store.tick_job(Instant::now()),
        };
        match due {
            Ok(None) => {}
            Ok(Some(job)) => {
                #[cfg(test)]
                let hold = self.hold_syncs.clone();
                self.syncing = Some(tokio::task::spawn_blocking(move || {
                    #[cfg(test)]
                    if hold.is_some_and(|hold| hold.wait()) {
                        return Err(StoreError::Io {
                            op: "fsync",
                            path: std::path::PathBuf::from("(test)"),
                            source: std::io::Error::other("test: the disk failed"),
                        });
                    }
                    SyncJob::run(job)
                }));
            }
            Err(e) => self.sync_error(&e),
        }
    }

    /// Unsubscribes the filters only abandoned subscriptions used (see `Subscriptions::sweep`).
    fn sweep(&mut self) {
        for filter in self.subs.sweep() {
            self.send_unsubscribe(filter);
        }
    }

    /// The background sync ended (see [`Worker::syncing`]).
    fn on_synced(&mut self, result: Result<Result<(), StoreError>, tokio::task::JoinError>) {
        self.syncing = None;
        let result = result.unwrap_or_else(|e| {
            Err(StoreError::Io {
                op: "fsync",
                path: self.store.dir().to_owned(),
                source: std::io::Error::other(format!("the sync thread failed: {e}")),
            })
        });
        if let Err(e) = result {
            self.store.sync_failed();
            self.sync_error(&e);
        }
    }

    fn sync_error(&self, e: &StoreError) {
        warn!(error = %e, "MQTT: queue sync failed");
        self.emit(MqttEvent::Error {
            message: e.to_string(),
        });
    }

    /// rumqttc (v5) keeps the in-flight slot of every refused QoS 2 message; before its window
    /// closes for good, close the connection normally (no will) and reconnect with a fresh state.
    /// The DISCONNECT goes ahead of everything else: through the request channel it could wait
    /// forever behind publishes that rumqttc no longer has the slots to take.
    fn check_leaks(&mut self, eventloop: &mut link::EventLoop) {
        let leaked = eventloop.leaked_slots();
        self.leaked = leaked;
        let capacity = self.window + 1; // and the presence message
        if leaked == 0
            || usize::from(leaked) * 2 < capacity
            || !self.connected
            || self.closing.is_some()
            || self.recycling.is_some()
        {
            return;
        }
        let reason =
            format!("reconnecting: {leaked} in-flight slots were lost to refused QoS 2 messages");
        warn!(leaked, "MQTT: {reason}");
        eventloop.disconnect_first();
        self.recycling = Some(reason);
    }

    fn begin_close(&mut self, reply: Option<oneshot::Sender<()>>) {
        let closing = self.closing.get_or_insert_with(|| Closing {
            replies: Vec::new(),
            deadline: tokio::time::Instant::now() + SHUTDOWN_GRACE,
        });
        closing.replies.extend(reply);
        if self.connected {
            // A graceful DISCONNECT suppresses the will, so say `offline` ourselves first.
            let offline = self.client.try_publish(
                self.status_topic.clone(),
                QoS::AtLeastOnce,
                true,
                STATUS_OFFLINE.into(),
                None,
                None,
            );
            if offline.is_ok() {
                self.tracker.submit(Submitted::Presence);
            }
            if self.client.try_disconnect().is_err() {
                self.connected = false;
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::PublishBatch { items, reply } => {
                let results = self.store.append_many(items, Instant::now());
                // Counters first, so a caller that awaited the batch sees its effect.
                self.update_stats();
                let mut dropped = 0;
                let results = results
                    .into_iter()
                    .map(|r| match r {
                        Ok(appended) => {
                            dropped += appended.dropped;
                            Ok(appended.seq)
                        }
                        Err(e) => Err(MqttError::Store(e)),
                    })
                    .collect();
                if dropped > 0 {
                    self.emit(MqttEvent::Dropped { count: dropped });
                }
                let _ = reply.send(results);
                self.pump();
            }
            Command::Subscribe {
                filter,
                qos,
                tx,
                reply,
            } => {
                if let Some((filter, qos)) = self.subs.add(filter, qos, tx, reply) {
                    if self.connected {
                        self.send_subscribe(vec![(filter, qos)]);
                    }
                }
            }
            Command::Unsubscribe { id } => self.unsubscribe(id),
            Command::Shutdown { reply } => self.begin_close(Some(reply)),
            #[cfg(test)]
            Command::Crash => self.crashed = true,
            #[cfg(test)]
            Command::HoldSyncs(hold) => self.hold_syncs = Some(hold),
        }
    }

    fn unsubscribe(&mut self, id: u64) {
        if let Some(filter) = self.subs.remove(id) {
            self.send_unsubscribe(filter);
        }
    }

    fn send_unsubscribe(&mut self, filter: String) {
        if self.connected {
            if let Err(e) = self.client.try_unsubscribe(filter.clone()) {
                warn!(%filter, error = %e, "MQTT: could not send UNSUBSCRIBE");
            }
        }
    }

    fn send_subscribe(&mut self, filters: Vec<(String, QoS)>) {
        if filters.is_empty() {
            return;
        }
        let names: Vec<String> = filters.iter().map(|(f, _)| f.clone()).collect();
        match self.client.try_subscribe_many(filters) {
            Ok(()) => self.subs.fifo.push_back(names),
            Err(e) => {
                warn!(error = %e, "MQTT: could not send SUBSCRIBE");
                self.emit(MqttEvent::Error {
                    message: format!("could not send SUBSCRIBE for {names:?}"),
                });
            }
        }
    }

    /// Feeds stored records to the connection while the in-flight window has room. Records
    /// whose MQTT 5 expiry ran out are discarded (`expired`), as are records larger than the
    /// broker accepts (`refused`).
    fn pump(&mut self) {
        if !self.connected || self.closing.is_some() || self.recycling.is_some() {
            return;
        }
        let window = self.window.saturating_sub(usize::from(self.leaked)).max(1);
        let qos2_window = self.max_inflight_qos2.min(window);
        let mut now_ms = None;
        while self.tracker.window < window {
            // In order: a QoS 2 record at the head waits for a QoS 2 slot.
            let record = match self.store.peek_next() {
                Ok(None) => break,
                Ok(Some((_, QoS::ExactlyOnce))) if self.tracker.qos2 >= qos2_window => break,
                Ok(Some(_)) => self.store.next_to_send(),
                Err(e) => Err(e),
            };
            let record = match record {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(e) => {
                    warn!(error = %e, "MQTT: cannot read the queue");
                    self.emit(MqttEvent::Error {
                        message: e.to_string(),
                    });
                    break;
                }
            };
            if let Err(e) = validate_topic(&record.topic) {
                warn!(seq = record.seq, error = %e, "MQTT: discarding a stored message");
                let _ = self.store.ack(record.seq);
                continue;
            }
            let expiry = match record.properties.as_ref().and_then(|p| p.message_expiry) {
                None => None,
                Some(interval) => {
                    let now = *now_ms.get_or_insert_with(unix_ms_now);
                    match remaining_expiry(interval, record.accepted_unix_ms, now) {
                        Some(left) => Some(left),
                        None => {
                            info!(
                                seq = record.seq,
                                topic = %record.topic,
                                interval,
                                "MQTT: message expired while queued, discarded"
                            );
                            self.discard(record.seq);
                            self.counters.expired += 1;
                            continue;
                        }
                    }
                }
            };
            if let Some(max) = self.broker_max_packet {
                let size = v5_publish_size(
                    record.topic.len(),
                    record.payload.len(),
                    record.qos != QoS::AtMostOnce,
                    record.properties.as_deref(),
                );
                if size > max as usize {
                    let reason = format!(
                        "the message of {size} bytes exceeds the broker's maximum packet size of \
                         {max} bytes"
                    );
                    self.refuse(record.seq, record.topic, reason, 0x95);
                    continue;
                }
            }
            let (seq, qos) = (record.seq, record.qos);
            match self.client.try_publish(
                record.topic,
                qos,
                record.retain,
                record.payload,
                record.properties.map(|p| *p),
                expiry,
            ) {
                Ok(()) => self.tracker.submit(Submitted::Record { seq, qos }),
                Err(_) => {
                    // The request channel is full; try again on the next ack.
                    self.store.requeue(seq);
                    break;
                }
            }
        }
    }

    /// Removes a record from the queue without counting it as acknowledged.
    fn discard(&mut self, seq: u64) {
        if let Err(e) = self.store.ack(seq) {
            warn!(error = %e, "MQTT: cannot record a discarded message");
            self.emit(MqttEvent::Error {
                message: e.to_string(),
            });
        }
    }

    /// The broker refused record `seq` (or cannot take it): it leaves the queue, counted in
    /// `refused`, logged and reported; retrying would only be refused again.
    fn refuse(&mut self, seq: u64, topic: String, reason: String, code: u8) {
        warn!(seq, %topic, %reason, "MQTT broker refused a message; it is dropped from the queue");
        self.discard(seq);
        self.counters.refused += 1;
        self.emit(MqttEvent::Refused {
            topic,
            reason,
            code,
        });
    }

    /// A PUBACK/PUBREC with a failure reason for record `seq`.
    fn refused_by_broker(&mut self, seq: u64, reason: Reason) {
        let topic = self.store.topic_of(seq).unwrap_or_default();
        self.refuse(seq, topic, reason.to_string(), reason.code());
    }

    fn complete(&mut self, seq: u64, counted: bool) {
        match self.store.ack(seq) {
            Ok(true) if counted => self.counters.acked += 1,
            Ok(_) => {}
            Err(e) => {
                warn!(error = %e, "MQTT: cannot record an acknowledgement");
                self.emit(MqttEvent::Error {
                    message: e.to_string(),
                });
            }
        }
    }

    /// Handles one event of the event loop; true when the worker should stop.
    fn on_event(&mut self, event: Event) -> bool {
        match event {
            Event::ConnAck {
                session_present,
                receive_maximum,
                maximum_packet_size,
            } => {
                info!(
                    session_present,
                    ?receive_maximum,
                    ?maximum_packet_size,
                    "MQTT connected"
                );
                if !session_present {
                    // rumqttc dropped the PUBRELs: whatever they would have completed is sent again.
                    for seq in self.tracker.take_released() {
                        self.store.requeue(seq);
                    }
                }
                self.window = send_window(self.max_inflight, receive_maximum);
                self.broker_max_packet = maximum_packet_size;
                self.connected = true;
                self.counters.connects += 1;
                self.backoff.reset();
                self.emit(MqttEvent::Connected { session_present });
                if self.closing.is_some() {
                    self.begin_close(None);
                    return false;
                }
                match self.client.try_publish(
                    self.status_topic.clone(),
                    QoS::AtLeastOnce,
                    true,
                    STATUS_ONLINE.into(),
                    None,
                    None,
                ) {
                    Ok(()) => self.tracker.submit(Submitted::Presence),
                    Err(e) => warn!(error = %e, "MQTT: could not publish presence"),
                }
                let all = self.subs.all();
                self.send_subscribe(all);
                self.pump();
            }
            Event::OutgoingPublish(pkid) => {
                let (done, ours) = self.tracker.on_outgoing_publish(pkid);
                if ours {
                    self.counters.sent += 1;
                }
                if let Some(seq) = done {
                    self.complete(seq, false);
                    self.pump();
                }
            }
            Event::PubAck { pkid, refused } => match (self.tracker.on_puback(pkid), refused) {
                (Some(seq), None) => {
                    self.complete(seq, true);
                    self.pump();
                }
                (Some(seq), Some(reason)) => {
                    self.refused_by_broker(seq, reason);
                    self.pump();
                }
                (None, Some(reason)) => {
                    warn!(pkid, %reason, "MQTT broker refused the presence message")
                }
                (None, None) => {}
            },
            Event::PubRec {
                pkid,
                refused: None,
            } => self.tracker.on_pubrec(pkid),
            Event::PubRec {
                pkid,
                refused: Some(reason),
            } => {
                if let Some(seq) = self.tracker.on_pubrec_refused(pkid) {
                    self.refused_by_broker(seq, reason);
                    self.pump();
                }
            }
            Event::PubComp(pkid) => {
                if let Some(seq) = self.tracker.on_pubcomp(pkid) {
                    self.complete(seq, true);
                    self.pump();
                }
            }
            Event::OutgoingSubscribe(pkid) => self.subs.on_outgoing_subscribe(pkid),
            Event::SubAck { pkid, granted } => {
                for (filter, reason) in self.subs.on_suback(pkid, &granted) {
                    warn!(%filter, %reason, "MQTT broker refused a subscription");
                    self.emit(MqttEvent::Error {
                        message: format!("broker refused the subscription to {filter:?}: {reason}"),
                    });
                }
            }
            Event::Publish(delivery) => {
                self.counters.received += 1;
                self.update_stats();
                let (_, full, gone) = self.subs.route(&delivery);
                if full > 0 {
                    self.counters.received_dropped += full;
                    debug!(topic = %delivery.topic, "MQTT: subscriber buffer full, message dropped");
                }
                for filter in gone {
                    if let Err(e) = self.client.try_unsubscribe(filter) {
                        warn!(error = %e, "MQTT: could not send UNSUBSCRIBE");
                    }
                }
            }
            Event::OutgoingDisconnect if self.closing.is_some() => return true,
            _ => {}
        }
        false
    }

    fn on_connection_error(&mut self, error: &LinkError, eventloop: &mut link::EventLoop) {
        // Forget rumqttc's in-memory retransmission state (pending requests, in-flight
        // publishes, buffered events, collisions): the store replays everything not completed.
        self.subs.on_disconnect();
        let (replayed, on_wire) = self.tracker.on_connection_lost(self.persistent);
        eventloop.reset(self.persistent, &on_wire);
        self.leaked = 0;
        self.broker_max_packet = None;
        for &seq in &replayed {
            self.store.requeue(seq);
        }
        let replayed = replayed.len();
        let message = self.recycling.take().unwrap_or_else(|| error.to_string());
        if self.connected {
            self.connected = false;
            warn!(error = %message, replayed, "MQTT connection lost");
            self.emit(MqttEvent::Disconnected { reason: message });
        } else {
            warn!(error = %message, "MQTT connection failed");
            self.emit(MqttEvent::Error { message });
        }
    }
}

/// The result of the background sync, once it ends; never, when none runs.
async fn sync_finished(
    syncing: &mut Option<tokio::task::JoinHandle<Result<(), StoreError>>>,
) -> Result<Result<(), StoreError>, tokio::task::JoinError> {
    match syncing {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_within_bounds() {
        let min = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let mut b = Backoff::new(min, max, 42);
        let bases = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for (i, base) in bases.iter().enumerate() {
            let base = Duration::from_secs(*base);
            assert_eq!(b.base(), base, "attempt {i}");
            let d = b.next_delay();
            assert!(
                d <= base && d >= base.mul_f64(0.8).max(min),
                "attempt {i}: {d:?}"
            );
        }
        b.reset();
        assert_eq!(b.next_delay(), min, "first delay is the minimum");
        for _ in 0..100 {
            let d = b.next_delay();
            assert!(d >= min && d <= max);
        }
    }

    #[test]
    fn backoff_jitter_varies_and_is_seeded() {
        let delays = |seed| {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), seed);
            (0..8).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(delays(7), delays(7));
        assert_ne!(delays(7), delays(8));
    }

    #[test]
    fn tracker_maps_packet_ids_in_submission_order() {
        let mut t = Tracker::default();
        t.submit(Submitted::Presence);
        t.submit(Submitted::Record {
            seq: 10,
            qos: QoS::AtLeastOnce,
        });
        t.submit(Submitted::Record {
            seq: 11,
            qos: QoS::AtMostOnce,
        });
        t.submit(Submitted::Record {
            seq: 12,
            qos: QoS::ExactlyOnce,
        });
        assert_eq!((t.window, t.qos2), (3, 1));
        assert_eq!(t.on_outgoing_publish(1), (None, false), "presence");
        assert_eq!(t.on_outgoing_publish(2), (None, true));
        assert_eq!(
            t.on_outgoing_publish(0),
            (Some(11), true),
            "QoS 0 done once sent"
        );
        assert_eq!(t.on_outgoing_publish(3), (None, true));
        assert_eq!(t.window, 2);
        assert_eq!(t.on_puback(1), None, "presence ack is not a record");
        // QoS 2: PUBREC then PUBCOMP; out of order relative to the QoS 1 ack.
        assert_eq!(t.on_pubcomp(3), None, "no PUBCOMP before PUBREC");
        assert_eq!(t.on_puback(3), None, "a PUBACK does not complete QoS 2");
        t.on_pubrec(2); // a PUBREC does not apply to QoS 1
        t.on_pubrec(3);
        assert_eq!(t.on_pubcomp(3), Some(12));
        assert_eq!(t.on_puback(2), Some(10));
        assert_eq!(t.on_puback(2), None, "duplicate ack ignored");
        assert_eq!((t.window, t.qos2), (0, 0));
    }

    #[test]
    fn tracker_handles_packet_id_collision() {
        // Window of two ids: record 1 gets id 1, record 2 id 2; record 3 collides on id 1
        // (AwaitAck, no Publish event) until id 1 is acked, then rumqttc sends it.
        let mut t = Tracker::default();
        for seq in 1..=3 {
            t.submit(Submitted::Record {
                seq,
                qos: QoS::AtLeastOnce,
            });
        }
        t.on_outgoing_publish(1);
        t.on_outgoing_publish(2);
        // Outgoing::AwaitAck(1) is ignored by the worker.
        assert_eq!(t.on_puback(2), Some(2));
        assert_eq!(t.on_puback(1), Some(1));
        t.on_outgoing_publish(1); // the collided publish goes out now
        assert_eq!(t.on_puback(1), Some(3));
        assert_eq!(t.window, 0);
    }

    #[test]
    fn tracker_connection_lost_requeues_in_order_and_keeps_released() {
        let mut t = Tracker::default();
        for seq in 1..=5 {
            t.submit(Submitted::Record {
                seq,
                qos: QoS::ExactlyOnce,
            });
        }
        t.submit(Submitted::Presence);
        for pkid in 1..=3 {
            t.on_outgoing_publish(pkid);
        }
        t.on_pubrec(2); // seq 2 was received by the broker
                        // Persistent session: seq 2 waits for the PUBCOMP of the re-sent PUBREL.
        let (requeue, on_wire) = t.on_connection_lost(true);
        assert_eq!(requeue, vec![1, 3, 4, 5]);
        assert_eq!(on_wire, vec![1, 2, 3], "packet ids in sequence order");
        assert_eq!(t.window, 1);
        assert!(t.fifo.is_empty());
        assert_eq!(t.on_pubcomp(2), Some(2));
        assert_eq!(t.window, 0);

        // Session not resumed: the released record is sent again too.
        t.submit(Submitted::Record {
            seq: 9,
            qos: QoS::ExactlyOnce,
        });
        t.on_outgoing_publish(4);
        t.on_pubrec(4);
        assert_eq!(t.on_connection_lost(true), (vec![], vec![4]));
        assert_eq!(t.take_released(), vec![9]);
        assert_eq!(t.window, 0);

        // Clean session: everything goes back.
        t.submit(Submitted::Record {
            seq: 10,
            qos: QoS::ExactlyOnce,
        });
        t.on_outgoing_publish(1);
        t.on_pubrec(1);
        assert_eq!(t.on_connection_lost(false), (vec![10], vec![1]));
        assert_eq!((t.window, t.qos2), (0, 0));
    }

    #[test]
    fn tracker_refused_pubrec_ends_a_qos2_record() {
        let mut t = Tracker::default();
        t.submit(Submitted::Record {
            seq: 1,
            qos: QoS::ExactlyOnce,
        });
        t.submit(Submitted::Record {
            seq: 2,
            qos: QoS::AtLeastOnce,
        });
        t.on_outgoing_publish(1);
        t.on_outgoing_publish(2);
        assert_eq!(t.on_pubrec_refused(2), None, "QoS 1 is ended by its PUBACK");
        assert_eq!(t.on_pubrec_refused(1), Some(1));
        assert_eq!((t.window, t.qos2), (1, 0));
        assert_eq!(t.on_pubcomp(1), None, "nothing awaits a PUBCOMP");
        assert_eq!(t.on_puback(2), Some(2));
        assert_eq!(t.window, 0);
    }

    #[test]
    fn receive_maximum_caps_the_window() {
        assert_eq!(send_window(100, None), 100, "MQTT 3.1.1: ours");
        assert_eq!(send_window(100, Some(20)), 20, "the broker's is smaller");
        assert_eq!(send_window(10, Some(65_535)), 10, "ours is smaller");
        assert_eq!(
            send_window(10, Some(0)),
            1,
            "a bogus 0 still lets one through"
        );
    }

    fn sub_reply() -> (SubReply, oneshot::Receiver<SubResult>) {
        oneshot::channel()
    }

    #[test]
    fn subscriptions_share_broker_filters() {
        let mut s = Subscriptions::default();
        let (tx1, mut rx1) = mpsc::channel(4);
        let (tx2, mut rx2) = mpsc::channel(1);
        let (r1, mut w1) = sub_reply();
        let (r2, mut w2) = sub_reply();
        assert_eq!(
            s.add("a/+".into(), QoS::AtMostOnce, tx1, r1),
            Some(("a/+".into(), QoS::AtMostOnce))
        );
        // Same filter, higher QoS: re-subscribe at QoS 1.
        assert_eq!(
            s.add("a/+".into(), QoS::AtLeastOnce, tx2, r2),
            Some(("a/+".into(), QoS::AtLeastOnce))
        );
        s.fifo.push_back(vec!["a/+".into()]);
        s.on_outgoing_subscribe(7);
        let refused = s.on_suback(7, &[Ok(QoS::AtLeastOnce)]);
        assert!(refused.is_empty());
        assert!(matches!(w1.try_recv(), Ok(Ok((1, QoS::AtLeastOnce)))));
        assert!(matches!(w2.try_recv(), Ok(Ok((2, QoS::AtLeastOnce)))));
        // A third subscriber at lower QoS is answered at once, nothing sent.
        let (tx3, _rx3) = mpsc::channel(4);
        let (r3, mut w3) = sub_reply();
        assert_eq!(s.add("a/+".into(), QoS::AtMostOnce, tx3, r3), None);
        assert!(matches!(w3.try_recv(), Ok(Ok((3, QoS::AtLeastOnce)))));

        let d = Delivery {
            topic: Arc::from("a/b"),
            payload: Arc::from(&b"x"[..]),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            properties: None,
        };
        assert_eq!(s.route(&d), (3, 0, vec![]));
        // rx2 holds one message: the next one is dropped for it only.
        assert_eq!(s.route(&d), (2, 1, vec![]));
        assert_eq!(rx1.try_recv().ok().as_ref(), Some(&d));
        assert_eq!(rx2.try_recv().ok().as_ref(), Some(&d));
        let other = Delivery {
            topic: Arc::from("b/c"),
            ..d.clone()
        };
        assert_eq!(s.route(&other), (0, 0, vec![]));

        assert_eq!(s.remove(1), None, "filter still used");
        assert_eq!(s.remove(2), None, "filter still used");
        assert_eq!(s.remove(3), Some("a/+".into()), "last user gone");
        assert!(s.all().is_empty());
    }

    #[test]
    fn subscriptions_refused_and_dropped_receivers() {
        let mut s = Subscriptions::default();
        let (tx, rx) = mpsc::channel(1);
        let (r, mut w) = sub_reply();
        s.add("x/#".into(), QoS::ExactlyOnce, tx, r);
        let (tx2, rx2) = mpsc::channel(1);
        let (r2, _w2) = sub_reply();
        s.add("y".into(), QoS::AtMostOnce, tx2, r2);
        assert_eq!(s.all().len(), 2);
        s.fifo.push_back(vec!["x/#".into(), "y".into()]);
        s.on_outgoing_subscribe(1);
        let refused = s.on_suback(1, &[Err(Reason(0x87)), Ok(QoS::AtMostOnce)]);
        assert_eq!(refused, vec![("x/#".to_string(), Reason(0x87))]);
        match w.try_recv() {
            Ok(Err(e @ MqttError::SubscriptionRefused(..))) => {
                assert!(e.to_string().contains("not authorized (0x87)"), "{e}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(s.all(), vec![("y".to_string(), QoS::AtMostOnce)]);
        drop(rx);
        drop(rx2);
        let d = Delivery {
            topic: Arc::from("y"),
            payload: Arc::from(&b""[..]),
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            properties: None,
        };
        assert_eq!(s.route(&d), (0, 0, vec!["y".to_string()]));
        assert!(s.all().is_empty());
    }

    #[tokio::test]
    async fn a_dropped_receiver_wakes_the_sweep_and_an_ended_subscription_releases_its_channel() {
        use futures::FutureExt;
        let mut s = Subscriptions::default();
        assert!(
            s.next_closed().now_or_never().is_none(),
            "no subscriptions: nothing to wait for"
        );
        let (tx, rx) = mpsc::channel(1);
        let (r, _w) = sub_reply();
        s.add("gone".into(), QoS::AtLeastOnce, tx, r);
        let (tx2, mut rx2) = mpsc::channel(1);
        let (r2, _w2) = sub_reply();
        s.add("ended".into(), QoS::AtLeastOnce, tx2, r2);
        assert!(
            s.next_closed().now_or_never().is_none(),
            "both receivers are alive"
        );

        drop(rx);
        let closed = tokio::time::timeout(Duration::from_secs(5), s.next_closed())
            .await
            .expect("the dropped receiver is noticed without a timer");
        assert!(closed, "a receiver went");
        assert_eq!(s.sweep(), vec!["gone".to_string()]);

        // Ended by the subscriber (unsubscribe): once the watch is polled its sender clone is
        // gone too, so the receiver sees the end of the channel.
        assert_eq!(s.remove(2), Some("ended".to_string()));
        let closed = tokio::time::timeout(Duration::from_secs(5), s.next_closed())
            .await
            .expect("the aborted watch ends");
        assert!(!closed, "ended, not abandoned: nothing to sweep");
        assert_eq!(rx2.recv().await, None, "no sender is left");
        assert!(s.closed.is_empty(), "no watch is left");
    }

    #[test]
    fn subscriptions_abandoned_before_their_suback_are_swept() {
        let mut s = Subscriptions::default();
        let (tx, rx) = mpsc::channel(1);
        let (r, w) = sub_reply();
        assert!(s.add("gone".into(), QoS::AtLeastOnce, tx, r).is_some());
        let (tx2, _rx2) = mpsc::channel(1);
        let (r2, _w2) = sub_reply();
        s.add("kept".into(), QoS::AtLeastOnce, tx2, r2);
        assert!(s.sweep().is_empty(), "both still wanted");
        // The caller gave up (its future was dropped): receiver and reply are gone.
        drop(rx);
        drop(w);
        assert_eq!(s.sweep(), vec!["gone".to_string()]);
        assert_eq!(s.all(), vec![("kept".to_string(), QoS::AtLeastOnce)]);
        // A late SUBACK for it is ignored.
        s.fifo.push_back(vec!["gone".into()]);
        s.on_outgoing_subscribe(3);
        assert!(s.on_suback(3, &[Ok(QoS::AtLeastOnce)]).is_empty());
    }
}
