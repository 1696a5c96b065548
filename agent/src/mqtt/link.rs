//! The protocol layer under the MQTT worker: one [`Client`] and one [`EventLoop`] for both
//! MQTT 3.1.1 (rumqttc's v4 API) and MQTT 5 (rumqttc's `v5` API), so the worker in
//! [`super::client`] is written once. `EventLoop::poll` maps rumqttc's events into the neutral
//! [`Event`]; [`EventLoop::reset`] forgets rumqttc's in-memory retransmission state after a
//! connection error (the durable store replays instead). The mapping functions need no network
//! and are unit-tested here.
//!
//! Two rumqttc 0.25 v5 quirks are contained here: a PUBREC with a failure reason code and a
//! PUBCOMP with one never give back their in-flight slot (its `inflight` counter is not
//! decremented), so [`EventLoop::leaked_slots`] counts them for the worker, which recycles the
//! connection before rumqttc's window closes for good; and an outgoing packet larger than the
//! broker's Maximum Packet Size is a connection error, so the worker checks sizes itself.
//! Because an MQTT 5 broker answers a PUBREL for a packet id it does not hold with PUBCOMP 0x92
//! (Mosquitto 2.0 answers success, others follow the spec), each such PUBREL costs a slot too:
//! with MQTT 5 the blanket PUBRELs for every packet id go out only once, at start, and a reset
//! releases only the packet ids that may still be held (on the wire, or released without an
//! answer yet), so a recycled connection does not leak its slots all over again.

use super::client::{Delivery, STATUS_OFFLINE};
use super::config::{BrokerTarget, Protocol, ResolvedMqtt};
use super::props::MessageProperties;
use super::QoS;
use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::{v5, Incoming, Outgoing};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

/// A reason code (≥ 0x80) with which an MQTT 5 broker refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason(pub u8);

impl Reason {
    /// The numeric reason code.
    pub fn code(self) -> u8 {
        self.0
    }

    /// The reason code's name in MQTT 5 (§2.4), in words.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x80 => "unspecified error",
            0x81 => "malformed packet",
            0x82 => "protocol error",
            0x83 => "implementation specific error",
            0x84 => "unsupported protocol version",
            0x85 => "client identifier not valid",
            0x86 => "bad user name or password",
            0x87 => "not authorized",
            0x88 => "server unavailable",
            0x89 => "server busy",
            0x8A => "banned",
            0x8B => "server shutting down",
            0x8C => "bad authentication method",
            0x8D => "keep alive timeout",
            0x8E => "session taken over",
            0x8F => "topic filter invalid",
            0x90 => "topic name invalid",
            0x91 => "packet identifier in use",
            0x92 => "packet identifier not found",
            0x93 => "receive maximum exceeded",
            0x94 => "topic alias invalid",
            0x95 => "packet too large",
            0x96 => "message rate too high",
            0x97 => "quota exceeded",
            0x98 => "administrative action",
            0x99 => "payload format invalid",
            0x9A => "retain not supported",
            0x9B => "QoS not supported",
            0x9C => "use another server",
            0x9D => "server moved",
            0x9E => "shared subscriptions not supported",
            0x9F => "connection rate exceeded",
            0xA0 => "maximum connect time",
            0xA1 => "subscription identifiers not supported",
            0xA2 => "wildcard subscriptions not supported",
            _ => "unknown reason",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), self.0)
    }
}

/// What the event loop reported, the same for both protocol versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK (success); the limits are MQTT 5's (absent: no limit announced).
    ConnAck {
        /// The broker resumed a persistent session.
        session_present: bool,
        /// Most unacknowledged QoS 1/2 publishes the broker accepts.
        receive_maximum: Option<u16>,
        /// Largest packet the broker accepts.
        maximum_packet_size: Option<u32>,
    },
    /// A PUBLISH was written (packet id 0 for QoS 0).
    OutgoingPublish(u16),
    /// PUBACK; `refused` carries a failure reason code.
    PubAck {
        /// Packet id.
        pkid: u16,
        /// Failure reason (MQTT 5), if any.
        refused: Option<Reason>,
    },
    /// PUBREC; `refused` carries a failure reason code (then no PUBREL/PUBCOMP follows).
    PubRec {
        /// Packet id.
        pkid: u16,
        /// Failure reason (MQTT 5), if any.
        refused: Option<Reason>,
    },
    /// PUBCOMP.
    PubComp(u16),
    /// A SUBSCRIBE was written.
    OutgoingSubscribe(u16),
    /// SUBACK: per filter, the granted QoS or the refusal.
    SubAck {
        /// Packet id.
        pkid: u16,
        /// One entry per filter of the SUBSCRIBE, in order.
        granted: Vec<Result<QoS, Reason>>,
    },
    /// A message arrived on a subscription.
    Publish(Delivery),
    /// Our DISCONNECT was written.
    OutgoingDisconnect,
    /// Anything the worker does not act on (pings, outgoing acks, ...).
    Other,
}

/// A connection error, in words (reason codes named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkError(pub String);

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request rumqttc's channel did not take (full, or the event loop is gone).
#[derive(Debug)]
pub struct RequestError(String);

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn request_err(e: impl fmt::Display) -> RequestError {
    RequestError(e.to_string())
}

/// The request side of the connection (cheap to use from the worker, never blocks).
#[derive(Clone)]
pub enum Client {
    /// MQTT 3.1.1.
    V4(rumqttc::AsyncClient),
    /// MQTT 5.
    V5(v5::AsyncClient),
}

fn to_v4(qos: QoS) -> rumqttc::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

fn from_v4(qos: rumqttc::QoS) -> QoS {
    match qos {
        rumqttc::QoS::AtMostOnce => QoS::AtMostOnce,
        rumqttc::QoS::AtLeastOnce => QoS::AtLeastOnce,
        rumqttc::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn to_v5(qos: QoS) -> v5::mqttbytes::QoS {
    match qos {
        QoS::AtMostOnce => v5::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => v5::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => v5::mqttbytes::QoS::ExactlyOnce,
    }
}

fn from_v5(qos: v5::mqttbytes::QoS) -> QoS {
    match qos {
        v5::mqttbytes::QoS::AtMostOnce => QoS::AtMostOnce,
        v5::mqttbytes::QoS::AtLeastOnce => QoS::AtLeastOnce,
        v5::mqttbytes::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// Our properties as rumqttc's, with the message expiry replaced by what is left of it.
pub fn to_v5_properties(p: MessageProperties, expiry: Option<u32>) -> p5::PublishProperties {
    p5::PublishProperties {
        payload_format_indicator: p.payload_format_utf8.map(u8::from),
        message_expiry_interval: expiry,
        topic_alias: None,
        response_topic: p.response_topic,
        correlation_data: p.correlation_data.map(Into::into),
        user_properties: p.user_properties,
        subscription_identifiers: Vec::new(),
        content_type: p.content_type,
    }
}

/// rumqttc's properties of a received message as ours.
pub fn from_v5_properties(p: p5::PublishProperties) -> MessageProperties {
    MessageProperties {
        payload_format_utf8: p.payload_format_indicator.map(|f| f == 1),
        message_expiry: p.message_expiry_interval,
        content_type: p.content_type,
        response_topic: p.response_topic,
        correlation_data: p.correlation_data.map(|b| b.to_vec()),
        user_properties: p.user_properties,
        subscription_identifiers: p
            .subscription_identifiers
            .into_iter()
            .map(|id| u32::try_from(id).unwrap_or(u32::MAX))
            .collect(),
    }
}

impl Client {
    /// Queues a PUBLISH. With MQTT 3.1.1 `properties` and `expiry` are not sent (the caller
    /// already warned); with MQTT 5 `expiry` replaces the stored message expiry interval.
    pub fn try_publish(
        &self,
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Vec<u8>,
        properties: Option<MessageProperties>,
        expiry: Option<u32>,
    ) -> Result<(), RequestError> {
        match self {
            Client::V4(c) => c
                .try_publish(topic, to_v4(qos), retain, payload)
                .map_err(request_err),
            Client::V5(c) => match properties {
                Some(p) => c.try_publish_with_properties(
                    topic,
                    to_v5(qos),
                    retain,
                    payload,
                    to_v5_properties(p, expiry),
                ),
                None => c.try_publish(topic, to_v5(qos), retain, payload),
            }
            .map_err(request_err),
        }
    }

    /// Queues one SUBSCRIBE for all `filters`.
    pub fn try_subscribe_many(&self, filters: Vec<(String, QoS)>) -> Result<(), RequestError> {
        match self {
            Client::V4(c) => c
                .try_subscribe_many(
                    filters
                        .into_iter()
                        .map(|(f, q)| rumqttc::SubscribeFilter::new(f, to_v4(q))),
                )
                .map_err(request_err),
            Client::V5(c) => c
                .try_subscribe_many(
                    filters
                        .into_iter()
                        .map(|(f, q)| p5::Filter::new(f, to_v5(q))),
                )
                .map_err(request_err),
        }
    }

    /// Queues an UNSUBSCRIBE.
    pub fn try_unsubscribe(&self, filter: String) -> Result<(), RequestError> {
        match self {
            Client::V4(c) => c.try_unsubscribe(filter).map_err(request_err),
            Client::V5(c) => c.try_unsubscribe(filter).map_err(request_err),
        }
    }

    /// Queues a DISCONNECT (normal: the broker does not publish the will).
    pub fn try_disconnect(&self) -> Result<(), RequestError> {
        match self {
            Client::V4(c) => c.try_disconnect().map_err(request_err),
            Client::V5(c) => c.try_disconnect().map_err(request_err),
        }
    }
}

enum Inner {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<v5::EventLoop>),
}

/// The connection itself: polled by the worker, reset after every connection error.
pub struct EventLoop {
    inner: Inner,
    /// In-flight slots rumqttc lost to refused PUBREC/PUBCOMP since the last reset.
    leaked: u16,
    /// MQTT 5: packet ids released (PUBREL queued) and not yet answered by a PUBCOMP.
    unreleased: BTreeSet<u16>,
}

/// Requests (publishes, mostly) already waiting that rumqttc writes together with the one it
/// took, before one flush (vendor/rumqttc's patch): a burst of readings costs one `writev` per
/// ~8 KB instead of one per message, and never waits for a request that is not there yet.
pub const REQUEST_BATCH: usize = 64;

/// Builds the client and event loop `cfg` describes (protocol, TLS, will, limits, TCP_NODELAY).
pub fn build(cfg: &ResolvedMqtt) -> (Client, EventLoop) {
    let (host, port) = cfg.target.addr();
    let tls = match &cfg.target {
        BrokerTarget::Remote { tls: Some(tls), .. } => Some(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls.clone()),
        )),
        _ => None,
    };
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    // One more than our window: the presence message also takes a slot.
    let inflight = cfg.max_inflight.saturating_add(1);
    let cap = usize::from(cfg.max_inflight) + 64;
    let (client, inner) = match cfg.protocol {
        Protocol::V311 => {
            let mut options = rumqttc::MqttOptions::new(cfg.client_id.clone(), host, port);
            options
                .set_keep_alive(cfg.keep_alive)
                .set_clean_session(cfg.clean_session)
                .set_max_packet_size(cfg.max_packet_size, cfg.max_packet_size)
                .set_inflight(inflight)
                .set_max_request_batch(REQUEST_BATCH)
                .set_last_will(rumqttc::LastWill::new(
                    cfg.status_topic(),
                    STATUS_OFFLINE,
                    rumqttc::QoS::AtLeastOnce,
                    true,
                ));
            if let Some((user, password)) = &cfg.credentials {
                options.set_credentials(user.clone(), password.expose());
            }
            if let Some(tls) = tls {
                options.set_transport(tls);
            }
            let (client, mut eventloop) = rumqttc::AsyncClient::new(options, cap);
            eventloop.set_network_options(network);
            (Client::V4(client), Inner::V4(Box::new(eventloop)))
        }
        Protocol::V5 => {
            let mut options = v5::MqttOptions::new(cfg.client_id.clone(), host, port);
            // Config resolution keeps protocol 5's keep-alive at 5 s or more (rumqttc asserts).
            options
                .set_keep_alive(cfg.keep_alive.max(std::time::Duration::from_secs(5)))
                .set_clean_start(cfg.clean_session)
                .set_max_packet_size(Some(cfg.max_packet_size as u32))
                .set_outgoing_inflight_upper_limit(inflight)
                .set_max_request_batch(REQUEST_BATCH)
                .set_network_options(network)
                .set_last_will(p5::LastWill::new(
                    cfg.status_topic(),
                    STATUS_OFFLINE,
                    v5::mqttbytes::QoS::AtLeastOnce,
                    true,
                    None,
                ));
            if cfg.session_expiry > 0 {
                options.set_session_expiry_interval(Some(cfg.session_expiry));
            }
            if let Some((user, password)) = &cfg.credentials {
                options.set_credentials(user.clone(), password.expose());
            }
            if let Some(tls) = tls {
                options.set_transport(tls);
            }
            let (client, eventloop) = v5::AsyncClient::new(options, cap);
            (Client::V5(client), Inner::V5(Box::new(eventloop)))
        }
    };
    let mut eventloop = EventLoop {
        inner,
        leaked: 0,
        unreleased: BTreeSet::new(),
    };
    if !cfg.clean_session {
        eventloop.release_all();
    }
    (client, eventloop)
}

/// Packet ids to release, those in `first` (in that order) before the others of
/// `1..=max_packet_id`, each once.
pub fn release_order(max_packet_id: u16, first: &[u16]) -> Vec<u16> {
    let mut seen = HashSet::new();
    first
        .iter()
        .copied()
        .chain(1..=max_packet_id)
        .filter(|pkid| (1..=max_packet_id).contains(pkid) && seen.insert(*pkid))
        .collect()
}

impl EventLoop {
    /// The next event. The future is meant to be polled to completion (cancelling it may lose
    /// a half-written packet).
    pub async fn poll(&mut self) -> Result<Event, LinkError> {
        match &mut self.inner {
            Inner::V4(el) => el
                .poll()
                .await
                .map(v4_event)
                .map_err(|e| LinkError(e.to_string())),
            Inner::V5(el) => {
                let event = el.poll().await.map_err(|e| LinkError(v5_error(&e)))?;
                if leaks_a_slot(&event) {
                    self.leaked = self.leaked.saturating_add(1);
                }
                let event = v5_event(event);
                match &event {
                    Event::PubComp(pkid) => {
                        self.unreleased.remove(pkid);
                    }
                    // rumqttc drops the queued PUBRELs when the session is not resumed.
                    Event::ConnAck {
                        session_present: false,
                        ..
                    } => self.unreleased.clear(),
                    _ => {}
                }
                Ok(event)
            }
        }
    }

    /// True while rumqttc holds events of an earlier read or batched write: the next `poll`
    /// returns one of them at once, without touching the network.
    pub fn has_buffered_events(&self) -> bool {
        match &self.inner {
            Inner::V4(el) => !el.state.events.is_empty(),
            Inner::V5(el) => !el.state.events.is_empty(),
        }
    }

    /// rumqttc's in-flight limit (its packet ids run from 1 to this).
    fn inflight_limit(&self) -> u16 {
        match &self.inner {
            Inner::V4(el) => el.mqtt_options.inflight(),
            Inner::V5(el) => el
                .options
                .get_outgoing_inflight_upper_limit()
                .unwrap_or(u16::MAX),
        }
    }

    fn set_pending_pubrels(&mut self, ids: Vec<u16>) {
        if let Inner::V5(_) = self.inner {
            self.unreleased = ids.iter().copied().collect();
        }
        match &mut self.inner {
            Inner::V4(el) => {
                el.pending = ids
                    .into_iter()
                    .map(|id| rumqttc::Request::PubRel(rumqttc::PubRel::new(id)))
                    .collect()
            }
            Inner::V5(el) => {
                el.pending = ids
                    .into_iter()
                    .map(|id| v5::Request::PubRel(p5::PubRel::new(id, None)))
                    .collect()
            }
        }
    }

    /// PUBREL for every packet id the connection can use: sent first on a connect that
    /// resumes a persistent session (rumqttc drops them when the session is not present).
    /// They complete QoS 2 messages the broker received before the connection (or the agent)
    /// died, so a new message that reuses one of their packet ids is not mistaken for a
    /// duplicate and discarded.
    pub fn release_all(&mut self) {
        let ids = release_order(self.inflight_limit(), &[]);
        self.set_pending_pubrels(ids);
    }

    /// After a connection error: forgets rumqttc's in-memory retransmission state (pending
    /// requests, in-flight publishes, buffered events, collisions); the store replays instead.
    /// With a persistent session, PUBRELs go out first on the next connect, those of `on_wire`
    /// (in that order) before the others: for every packet id with MQTT 3.1.1, and with MQTT 5
    /// for those the broker may still hold (see the module documentation).
    pub fn reset(&mut self, persistent: bool, on_wire: &[u16]) {
        let limit = self.inflight_limit();
        match &mut self.inner {
            Inner::V4(el) => {
                el.state = rumqttc::MqttState::new(limit, false);
                el.pending = VecDeque::new();
            }
            Inner::V5(el) => {
                el.state = v5::MqttState::new(limit, false);
                el.pending = VecDeque::new();
            }
        }
        self.leaked = 0;
        if !persistent {
            self.unreleased.clear();
            return;
        }
        let ids = match self.inner {
            Inner::V4(_) => release_order(limit, on_wire),
            Inner::V5(_) => {
                let mut seen = HashSet::new();
                on_wire
                    .iter()
                    .chain(&self.unreleased)
                    .copied()
                    .filter(|id| seen.insert(*id))
                    .collect()
            }
        };
        self.set_pending_pubrels(ids);
    }

    /// Queues a normal DISCONNECT (no will) ahead of every other request: rumqttc takes its
    /// pending queue even when its in-flight window is full, unlike the request channel.
    pub fn disconnect_first(&mut self) {
        match &mut self.inner {
            Inner::V4(el) => el
                .pending
                .push_front(rumqttc::Request::Disconnect(rumqttc::Disconnect)),
            Inner::V5(el) => el.pending.push_front(v5::Request::Disconnect),
        }
    }

    /// In-flight slots rumqttc lost since the last reset (see the module documentation).
    pub fn leaked_slots(&self) -> u16 {
        self.leaked
    }
}

/// True for the v5 events after which rumqttc 0.25 keeps an in-flight slot it should free.
fn leaks_a_slot(event: &v5::Event) -> bool {
    match event {
        v5::Event::Incoming(v5::Incoming::PubRec(rec)) => pubrec_refusal(rec.reason).is_some(),
        v5::Event::Incoming(v5::Incoming::PubComp(comp)) => {
            comp.reason != p5::PubCompReason::Success
        }
        _ => false,
    }
}

/// Maps a v4 event.
pub fn v4_event(event: rumqttc::Event) -> Event {
    match event {
        rumqttc::Event::Incoming(Incoming::ConnAck(ack)) => Event::ConnAck {
            session_present: ack.session_present,
            receive_maximum: None,
            maximum_packet_size: None,
        },
        rumqttc::Event::Outgoing(Outgoing::Publish(pkid)) => Event::OutgoingPublish(pkid),
        rumqttc::Event::Incoming(Incoming::PubAck(ack)) => Event::PubAck {
            pkid: ack.pkid,
            refused: None,
        },
        rumqttc::Event::Incoming(Incoming::PubRec(rec)) => Event::PubRec {
            pkid: rec.pkid,
            refused: None,
        },
        rumqttc::Event::Incoming(Incoming::PubComp(comp)) => Event::PubComp(comp.pkid),
        rumqttc::Event::Outgoing(Outgoing::Subscribe(pkid)) => Event::OutgoingSubscribe(pkid),
        rumqttc::Event::Incoming(Incoming::SubAck(ack)) => Event::SubAck {
            pkid: ack.pkid,
            granted: ack
                .return_codes
                .iter()
                .map(|code| match code {
                    rumqttc::SubscribeReasonCode::Success(q) => Ok(from_v4(*q)),
                    rumqttc::SubscribeReasonCode::Failure => Err(Reason(0x80)),
                })
                .collect(),
        },
        rumqttc::Event::Incoming(Incoming::Publish(p)) => Event::Publish(Delivery {
            topic: Arc::from(p.topic.as_str()),
            payload: Arc::from(&p.payload[..]),
            qos: from_v4(p.qos),
            retain: p.retain,
            dup: p.dup,
            properties: None,
        }),
        rumqttc::Event::Outgoing(Outgoing::Disconnect) => Event::OutgoingDisconnect,
        _ => Event::Other,
    }
}

/// The failure reason of a v5 PUBACK, `None` for success (including "no matching
/// subscribers", which is a success).
pub fn puback_refusal(reason: p5::PubAckReason) -> Option<Reason> {
    use p5::PubAckReason as R;
    Some(Reason(match reason {
        R::Success | R::NoMatchingSubscribers => return None,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }))
}

/// The failure reason of a v5 PUBREC, `None` for success.
pub fn pubrec_refusal(reason: p5::PubRecReason) -> Option<Reason> {
    use p5::PubRecReason as R;
    Some(Reason(match reason {
        R::Success | R::NoMatchingSubscribers => return None,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }))
}

/// A v5 SUBACK entry: the granted QoS or the refusal.
pub fn suback_result(code: p5::SubscribeReasonCode) -> Result<QoS, Reason> {
    use p5::SubscribeReasonCode as R;
    Err(Reason(match code {
        R::Success(q) => return Ok(from_v5(q)),
        R::Failure | R::Unspecified => 0x80,
        R::ImplementationSpecific => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicFilterInvalid => 0x8F,
        R::PkidInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::SharedSubscriptionsNotSupported => 0x9E,
        R::SubscriptionIdNotSupported => 0xA1,
        R::WildcardSubscriptionsNotSupported => 0xA2,
    }))
}

/// The reason code of a refused v5 CONNACK.
pub fn connack_refusal(code: p5::ConnectReturnCode) -> Reason {
    use p5::ConnectReturnCode as R;
    Reason(match code {
        R::Success => 0x00,
        R::RefusedProtocolVersion | R::UnsupportedProtocolVersion => 0x84,
        R::BadClientId | R::ClientIdentifierNotValid => 0x85,
        R::ServiceUnavailable | R::ServerUnavailable => 0x88,
        R::UnspecifiedError => 0x80,
        R::MalformedPacket => 0x81,
        R::ProtocolError => 0x82,
        R::ImplementationSpecificError => 0x83,
        R::BadUserNamePassword => 0x86,
        R::NotAuthorized => 0x87,
        R::ServerBusy => 0x89,
        R::Banned => 0x8A,
        R::BadAuthenticationMethod => 0x8C,
        R::TopicNameInvalid => 0x90,
        R::PacketTooLarge => 0x95,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
        R::RetainNotSupported => 0x9A,
        R::QoSNotSupported => 0x9B,
        R::UseAnotherServer => 0x9C,
        R::ServerMoved => 0x9D,
        R::ConnectionRateExceeded => 0x9F,
    })
}

/// A v5 connection error in words: a broker's DISCONNECT and a refused CONNACK name their
/// reason code (and the broker's reason string, if any).
pub fn v5_error(error: &v5::ConnectionError) -> String {
    match error {
        v5::ConnectionError::ConnectionRefused(code) => {
            format!("broker refused the connection: {}", connack_refusal(*code))
        }
        v5::ConnectionError::MqttState(v5::StateError::ServerDisconnect {
            reason_code,
            reason_string,
        }) => {
            let reason = Reason(*reason_code as u8);
            match reason_string {
                Some(text) => format!("broker disconnected: {reason}: {text}"),
                None => format!("broker disconnected: {reason}"),
            }
        }
        other => other.to_string(),
    }
}

/// Maps a v5 event.
pub fn v5_event(event: v5::Event) -> Event {
    match event {
        v5::Event::Incoming(v5::Incoming::ConnAck(ack)) => {
            let props = ack.properties.as_ref();
            Event::ConnAck {
                session_present: ack.session_present,
                receive_maximum: props.and_then(|p| p.receive_max),
                maximum_packet_size: props.and_then(|p| p.max_packet_size),
            }
        }
        v5::Event::Outgoing(Outgoing::Publish(pkid)) => Event::OutgoingPublish(pkid),
        v5::Event::Incoming(v5::Incoming::PubAck(ack)) => Event::PubAck {
            pkid: ack.pkid,
            refused: puback_refusal(ack.reason),
        },
        v5::Event::Incoming(v5::Incoming::PubRec(rec)) => Event::PubRec {
            pkid: rec.pkid,
            refused: pubrec_refusal(rec.reason),
        },
        // A failure here can only be "packet identifier not found": the broker has no such
        // message (any more), so it is complete either way.
        v5::Event::Incoming(v5::Incoming::PubComp(comp)) => Event::PubComp(comp.pkid),
        v5::Event::Outgoing(Outgoing::Subscribe(pkid)) => Event::OutgoingSubscribe(pkid),
        v5::Event::Incoming(v5::Incoming::SubAck(ack)) => Event::SubAck {
            pkid: ack.pkid,
            granted: ack.return_codes.into_iter().map(suback_result).collect(),
        },
        v5::Event::Incoming(v5::Incoming::Publish(p)) => Event::Publish(Delivery {
            topic: Arc::from(String::from_utf8_lossy(&p.topic).as_ref()),
            payload: Arc::from(&p.payload[..]),
            qos: from_v5(p.qos),
            retain: p.retain,
            dup: p.dup,
            properties: p.properties.map(|p| Arc::new(from_v5_properties(p))),
        }),
        v5::Event::Outgoing(Outgoing::Disconnect) => Event::OutgoingDisconnect,
        _ => Event::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_named_with_their_code() {
        assert_eq!(Reason(0x87).to_string(), "not authorized (0x87)");
        assert_eq!(Reason(0x95).to_string(), "packet too large (0x95)");
        assert_eq!(Reason(0xFE).to_string(), "unknown reason (0xFE)");
        assert_eq!(puback_refusal(p5::PubAckReason::Success), None);
        assert_eq!(
            puback_refusal(p5::PubAckReason::NoMatchingSubscribers),
            None
        );
        assert_eq!(
            puback_refusal(p5::PubAckReason::NotAuthorized),
            Some(Reason(0x87))
        );
        assert_eq!(
            pubrec_refusal(p5::PubRecReason::QuotaExceeded),
            Some(Reason(0x97))
        );
        assert_eq!(
            connack_refusal(p5::ConnectReturnCode::BadUserNamePassword),
            Reason(0x86)
        );
        assert_eq!(
            suback_result(p5::SubscribeReasonCode::Success(
                v5::mqttbytes::QoS::ExactlyOnce
            )),
            Ok(QoS::ExactlyOnce)
        );
        assert_eq!(
            suback_result(p5::SubscribeReasonCode::NotAuthorized),
            Err(Reason(0x87))
        );
    }

    #[test]
    fn v5_acks_carry_refusals_and_connack_limits() {
        let mut ack = p5::PubAck::new(7, None);
        assert_eq!(
            v5_event(v5::Event::Incoming(v5::Incoming::PubAck(ack.clone()))),
            Event::PubAck {
                pkid: 7,
                refused: None
            }
        );
        ack.reason = p5::PubAckReason::NotAuthorized;
        assert_eq!(
            v5_event(v5::Event::Incoming(v5::Incoming::PubAck(ack))),
            Event::PubAck {
                pkid: 7,
                refused: Some(Reason(0x87))
            }
        );
        let mut rec = p5::PubRec::new(8, None);
        rec.reason = p5::PubRecReason::NotAuthorized;
        let refused = v5::Event::Incoming(v5::Incoming::PubRec(rec));
        assert!(leaks_a_slot(&refused), "rumqttc keeps the slot");
        assert_eq!(
            v5_event(refused),
            Event::PubRec {
                pkid: 8,
                refused: Some(Reason(0x87))
            }
        );
        let ok = v5::Event::Incoming(v5::Incoming::PubRec(p5::PubRec::new(9, None)));
        assert!(!leaks_a_slot(&ok));

        let connack = p5::ConnAck {
            session_present: true,
            code: p5::ConnectReturnCode::Success,
            properties: Some(p5::ConnAckProperties {
                session_expiry_interval: None,
                receive_max: Some(20),
                max_qos: None,
                retain_available: None,
                max_packet_size: Some(200),
                assigned_client_identifier: None,
                topic_alias_max: None,
                reason_string: None,
                user_properties: Vec::new(),
                wildcard_subscription_available: None,
                subscription_identifiers_available: None,
                shared_subscription_available: None,
                server_keep_alive: None,
                response_information: None,
                server_reference: None,
                authentication_method: None,
                authentication_data: None,
            }),
        };
        assert_eq!(
            v5_event(v5::Event::Incoming(v5::Incoming::ConnAck(connack))),
            Event::ConnAck {
                session_present: true,
                receive_maximum: Some(20),
                maximum_packet_size: Some(200)
            }
        );
        let suback = p5::SubAck {
            pkid: 3,
            return_codes: vec![
                p5::SubscribeReasonCode::Success(v5::mqttbytes::QoS::AtLeastOnce),
                p5::SubscribeReasonCode::NotAuthorized,
            ],
            properties: None,
        };
        assert_eq!(
            v5_event(v5::Event::Incoming(v5::Incoming::SubAck(suback))),
            Event::SubAck {
                pkid: 3,
                granted: vec![Ok(QoS::AtLeastOnce), Err(Reason(0x87))]
            }
        );
        assert_eq!(
            v5_event(v5::Event::Outgoing(Outgoing::Disconnect)),
            Event::OutgoingDisconnect
        );
        assert_eq!(
            v5_event(v5::Event::Outgoing(Outgoing::PingReq)),
            Event::Other
        );
    }

    #[test]
    fn v5_publish_becomes_a_delivery_with_properties() {
        let props = p5::PublishProperties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(30),
            topic_alias: Some(3),
            response_topic: Some("re/ply".into()),
            correlation_data: Some(vec![1, 2].into()),
            user_properties: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            subscription_identifiers: vec![4],
            content_type: Some("text/plain".into()),
        };
        let mut publish = p5::Publish::new(
            "t/x",
            v5::mqttbytes::QoS::AtLeastOnce,
            &b"hi"[..],
            Some(props),
        );
        publish.retain = true;
        let Event::Publish(d) = v5_event(v5::Event::Incoming(v5::Incoming::Publish(publish)))
        else {
            panic!("not a delivery");
        };
        assert_eq!(
            (&*d.topic, &*d.payload, d.qos, d.retain),
            ("t/x", &b"hi"[..], QoS::AtLeastOnce, true)
        );
        assert_eq!(
            d.properties.as_deref(),
            Some(&MessageProperties {
                payload_format_utf8: Some(true),
                message_expiry: Some(30),
                content_type: Some("text/plain".into()),
                response_topic: Some("re/ply".into()),
                correlation_data: Some(vec![1, 2]),
                user_properties: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
                subscription_identifiers: vec![4],
            })
        );
        let plain = p5::Publish::new("t", v5::mqttbytes::QoS::AtMostOnce, &b""[..], None);
        let Event::Publish(d) = v5_event(v5::Event::Incoming(v5::Incoming::Publish(plain))) else {
            panic!("not a delivery");
        };
        assert_eq!(d.properties, None);
    }

    #[test]
    fn outgoing_properties_carry_the_remaining_expiry() {
        let p = MessageProperties {
            payload_format_utf8: Some(false),
            message_expiry: Some(60),
            correlation_data: Some(vec![9]),
            ..Default::default()
        };
        let out = to_v5_properties(p, Some(42));
        assert_eq!(out.message_expiry_interval, Some(42));
        assert_eq!(out.payload_format_indicator, Some(0));
        assert_eq!(out.correlation_data.as_deref(), Some(&[9u8][..]));
        assert!(out.subscription_identifiers.is_empty());
    }

    #[test]
    fn v4_events_map_to_the_same_events() {
        let sub = rumqttc::SubAck::new(
            2,
            vec![
                rumqttc::SubscribeReasonCode::Success(rumqttc::QoS::AtMostOnce),
                rumqttc::SubscribeReasonCode::Failure,
            ],
        );
        assert_eq!(
            v4_event(rumqttc::Event::Incoming(Incoming::SubAck(sub))),
            Event::SubAck {
                pkid: 2,
                granted: vec![Ok(QoS::AtMostOnce), Err(Reason(0x80))]
            }
        );
        assert_eq!(
            v4_event(rumqttc::Event::Incoming(Incoming::PubAck(
                rumqttc::PubAck::new(5)
            ))),
            Event::PubAck {
                pkid: 5,
                refused: None
            }
        );
        assert_eq!(
            v4_event(rumqttc::Event::Outgoing(Outgoing::Publish(4))),
            Event::OutgoingPublish(4)
        );
        let ack = rumqttc::ConnAck::new(rumqttc::ConnectReturnCode::Success, true);
        assert_eq!(
            v4_event(rumqttc::Event::Incoming(Incoming::ConnAck(ack))),
            Event::ConnAck {
                session_present: true,
                receive_maximum: None,
                maximum_packet_size: None
            }
        );
    }

    fn pending_pubrels(el: &EventLoop) -> Vec<u16> {
        match &el.inner {
            Inner::V4(el) => el
                .pending
                .iter()
                .map(|r| match r {
                    rumqttc::Request::PubRel(p) => p.pkid,
                    other => panic!("unexpected {other:?}"),
                })
                .collect(),
            Inner::V5(el) => el
                .pending
                .iter()
                .map(|r| match r {
                    v5::Request::PubRel(p) => p.pkid,
                    other => panic!("unexpected {other:?}"),
                })
                .collect(),
        }
    }

    #[test]
    fn persistent_sessions_release_packet_ids_per_protocol() {
        let dir = std::path::Path::new("/nonexistent");
        let mut cfg = ResolvedMqtt::local("rel", 1, dir);
        cfg.clean_session = false;
        cfg.max_inflight = 4; // packet ids 1..=5 (one more for the presence message)
        let (_c, mut v4) = build(&cfg);
        assert_eq!(pending_pubrels(&v4), vec![1, 2, 3, 4, 5], "at start");
        v4.reset(true, &[3]);
        assert_eq!(pending_pubrels(&v4), vec![3, 1, 2, 4, 5], "3.1.1: every id");

        cfg.protocol = Protocol::V5;
        let (_c, mut v5) = build(&cfg);
        assert_eq!(pending_pubrels(&v5), vec![1, 2, 3, 4, 5], "at start");
        // Ids 1 and 2 were answered before the connection dropped; 4 was on the wire.
        v5.unreleased.remove(&1);
        v5.unreleased.remove(&2);
        v5.reset(true, &[4]);
        assert_eq!(
            pending_pubrels(&v5),
            vec![4, 3, 5],
            "5: only what may be held"
        );
        v5.unreleased.clear(); // all answered
        v5.reset(true, &[2]);
        assert_eq!(pending_pubrels(&v5), vec![2]);
        v5.reset(false, &[2]);
        assert!(pending_pubrels(&v5).is_empty(), "clean session");
    }

    #[test]
    fn release_order_puts_the_ones_on_the_wire_first() {
        assert_eq!(release_order(3, &[]), vec![1, 2, 3]);
        assert_eq!(release_order(5, &[4, 2, 4, 9]), vec![4, 2, 1, 3, 5]);
    }

    #[test]
    fn v5_errors_name_reason_codes() {
        let e = v5::ConnectionError::ConnectionRefused(p5::ConnectReturnCode::NotAuthorized);
        assert_eq!(
            v5_error(&e),
            "broker refused the connection: not authorized (0x87)"
        );
        let e = v5::ConnectionError::MqttState(v5::StateError::ServerDisconnect {
            reason_code: p5::DisconnectReasonCode::SessionTakenOver,
            reason_string: Some("bye".into()),
        });
        assert_eq!(
            v5_error(&e),
            "broker disconnected: session taken over (0x8E): bye"
        );
    }

    /// vendor/rumqttc's patch 0002 moves a publish's topic into the packet instead of copying
    /// it; what it must keep: the packet carries the topic, QoS, retain flag, payload and (MQTT
    /// 5) properties it was given, and a topic with a wildcard is refused, not queued.
    #[test]
    fn publishes_carry_what_they_were_given_and_wildcard_topics_are_refused() {
        let (c, mut el) =
            rumqttc::AsyncClient::new(rumqttc::MqttOptions::new("t", "127.0.0.1", 1883), 4);
        let client = Client::V4(c);
        let sent = client.try_publish(
            "a/b".into(),
            QoS::AtLeastOnce,
            true,
            b"x".to_vec(),
            None,
            None,
        );
        assert!(sent.is_ok());
        let refused = client.try_publish("a/+".into(), QoS::AtMostOnce, false, vec![], None, None);
        assert!(refused.is_err());
        el.clean(); // the requests waiting in the channel move to `pending`
        match el.pending.pop_front() {
            Some(rumqttc::Request::Publish(p)) => {
                assert_eq!((p.topic.as_str(), &p.payload[..]), ("a/b", &b"x"[..]));
                assert_eq!((p.qos, p.retain), (rumqttc::QoS::AtLeastOnce, true));
            }
            other => panic!("expected the publish, got {other:?}"),
        }
        assert!(el.pending.is_empty(), "the wildcard topic was not queued");

        let (c, mut el) = v5::AsyncClient::new(v5::MqttOptions::new("t", "127.0.0.1", 1883), 4);
        let client = Client::V5(c);
        let props = MessageProperties {
            content_type: Some("text/plain".into()),
            ..MessageProperties::default()
        };
        let sent = client.try_publish(
            "é/b".into(),
            QoS::ExactlyOnce,
            false,
            b"y".to_vec(),
            Some(props),
            Some(7),
        );
        assert!(sent.is_ok());
        let refused = client.try_publish("a/#".into(), QoS::AtMostOnce, false, vec![], None, None);
        assert!(refused.is_err());
        el.clean();
        match el.pending.pop_front() {
            Some(v5::Request::Publish(p)) => {
                assert_eq!(
                    (&p.topic[..], &p.payload[..]),
                    ("é/b".as_bytes(), &b"y"[..])
                );
                assert_eq!((p.qos, p.retain), (v5::mqttbytes::QoS::ExactlyOnce, false));
                let props = p.properties.expect("properties");
                assert_eq!(props.content_type.as_deref(), Some("text/plain"));
                assert_eq!(props.message_expiry_interval, Some(7));
            }
            other => panic!("expected the publish, got {other:?}"),
        }
        assert!(el.pending.is_empty(), "the wildcard topic was not queued");
    }
}
