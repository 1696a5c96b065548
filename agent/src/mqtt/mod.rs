//! MQTT for the agent: a durable store-and-forward queue ([`store`]), the `[mqtt]` configuration
//! ([`config`]), MQTT 5 message properties ([`props`]), the connection worker with its
//! cloneable handle ([`client`]) over one protocol layer for MQTT 3.1.1 and 5 (`link`) and,
//! behind the
//! `embedded-broker` feature, a local broker used when no `url` is configured ([`broker`]).
//!
//! Nothing here knows about JavaScript: the `ganglion:mqtt` module binds [`client::MqttHandle`].

#[cfg(feature = "embedded-broker")]
pub mod broker;
pub mod client;
pub mod config;
#[cfg(test)]
mod integration_tests;
mod link;
pub mod props;
pub mod store;
#[cfg(test)]
pub mod testutil;

pub use client::{
    Accepted, Backoff, BatchAccepted, BatchResults, Delivery, MqttError, MqttEvent, MqttHandle,
    MqttStats, Subscription,
};
pub use config::{ConfigError, MqttConfig, Protocol, ResolvedMqtt};
pub use link::REQUEST_BATCH;
pub use props::MessageProperties;
pub use store::{FsyncPolicy, FullPolicy, NewMessage, Store, StoreError, StoreOptions, StoreStats};

use thiserror::Error;

/// Largest topic or filter length MQTT can encode (a two-byte length prefix).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// MQTT quality of service, shared by the store (as a byte on disk) and the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QoS {
    /// At most once: fire and forget; dropped from the store once written to the network.
    AtMostOnce = 0,
    /// At least once: kept in the store until the broker's PUBACK.
    AtLeastOnce = 1,
    /// Exactly once (within one connection): kept in the store until the broker's PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS as its wire/disk number (0, 1 or 2).
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Parses a QoS from any integer, so callers (JS numbers) get a typed range error.
    pub fn from_number(value: i64) -> Result<QoS, ValidationError> {
        match value {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            other => Err(ValidationError::InvalidQos(other)),
        }
    }
}

impl TryFrom<u8> for QoS {
    type Error = ValidationError;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        QoS::from_number(i64::from(value))
    }
}

/// Which JavaScript error class a [`ValidationError`] should become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsErrorKind {
    /// Wrong kind of value (bad topic or filter text).
    TypeError,
    /// Value out of the allowed range (QoS, sizes).
    RangeError,
}

/// A topic, filter, QoS or payload that MQTT cannot carry; raised before anything is queued.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// The topic or filter is the empty string.
    #[error("MQTT topic must not be empty")]
    EmptyTopic,
    /// The topic or filter does not fit MQTT's 65535-byte length prefix.
    #[error("MQTT topic is {0} bytes long, the limit is 65535")]
    TopicTooLong(usize),
    /// A publish topic contains `+` or `#` (only subscription filters may).
    #[error("MQTT publish topic {0:?} must not contain the wildcards '+' or '#'")]
    WildcardInTopic(String),
    /// The topic or filter contains U+0000, which MQTT forbids.
    #[error("MQTT topic {0:?} must not contain the NUL character")]
    NulInTopic(String),
    /// The topic bytes are not valid UTF-8.
    #[error("MQTT topic is not valid UTF-8")]
    NotUtf8,
    /// A subscription filter uses a wildcard in a position MQTT does not allow.
    #[error("MQTT filter {0:?} is invalid: '#' must be the last level and '+'/'#' must fill a whole level")]
    InvalidFilter(String),
    /// QoS outside 0..=2.
    #[error("MQTT QoS must be 0, 1 or 2, got {0}")]
    InvalidQos(i64),
    /// The publish would exceed the configured maximum packet size.
    #[error(
        "MQTT payload of {size} bytes exceeds the maximum of {max} bytes (mqtt.max_packet_size)"
    )]
    PayloadTooLarge {
        /// Topic + payload size of the rejected publish.
        size: usize,
        /// Configured limit.
        max: usize,
    },
    /// An MQTT 5 publish property of the wrong kind (named by its MQTT.js name).
    #[error("MQTT property {name} {message}")]
    PropertyType {
        /// The property, e.g. `responseTopic`.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An MQTT 5 publish property out of range (named by its MQTT.js name).
    #[error("MQTT property {name} {message}")]
    PropertyRange {
        /// The property, e.g. `messageExpiryInterval`.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl ValidationError {
    /// The JavaScript error class the `ganglion:mqtt` binding should throw for this error.
    pub fn js_kind(&self) -> JsErrorKind {
        match self {
            ValidationError::InvalidQos(_)
            | ValidationError::TopicTooLong(_)
            | ValidationError::PayloadTooLarge { .. }
            | ValidationError::PropertyRange { .. } => JsErrorKind::RangeError,
            _ => JsErrorKind::TypeError,
        }
    }
}

fn check_topic_common(topic: &str) -> Result<(), ValidationError> {
    if topic.is_empty() {
        return Err(ValidationError::EmptyTopic);
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(ValidationError::TopicTooLong(topic.len()));
    }
    if topic.contains('\0') {
        return Err(ValidationError::NulInTopic(topic.to_owned()));
    }
    Ok(())
}

/// Checks a topic name for publishing: not empty, at most 65535 bytes, no NUL, no wildcards.
pub fn validate_topic(topic: &str) -> Result<(), ValidationError> {
    // Every message passes here twice (publish and send): one pass over the bytes for the
    // usual topic, the detailed checks only for one that has something to report.
    let suspect = topic.bytes().any(|b| matches!(b, b'\0' | b'+' | b'#'));
    if !suspect && !topic.is_empty() && topic.len() <= MAX_TOPIC_LEN {
        return Ok(());
    }
    check_topic_common(topic)?;
    if topic.contains(['+', '#']) {
        return Err(ValidationError::WildcardInTopic(topic.to_owned()));
    }
    Ok(())
}

/// Like [`validate_topic`] for raw bytes (e.g. from JS), also rejecting invalid UTF-8.
pub fn validate_topic_bytes(topic: &[u8]) -> Result<&str, ValidationError> {
    let text = std::str::from_utf8(topic).map_err(|_| ValidationError::NotUtf8)?;
    validate_topic(text)?;
    Ok(text)
}

/// Checks a subscription filter: as a topic, but `+` may fill a level and `#` may end it.
pub fn validate_filter(filter: &str) -> Result<(), ValidationError> {
    check_topic_common(filter)?;
    let levels: Vec<&str> = filter.split('/').collect();
    let last = levels.len() - 1;
    for (i, level) in levels.iter().enumerate() {
        let bad_hash = level.contains('#') && (*level != "#" || i != last);
        let bad_plus = level.contains('+') && *level != "+";
        if bad_hash || bad_plus {
            return Err(ValidationError::InvalidFilter(filter.to_owned()));
        }
    }
    Ok(())
}

/// True when `topic` matches subscription `filter` (MQTT wildcard rules, `$` topics excluded
/// from leading wildcards). Used to route incoming messages to subscribers.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_from_number() {
        assert_eq!(QoS::from_number(0), Ok(QoS::AtMostOnce));
        assert_eq!(QoS::from_number(2), Ok(QoS::ExactlyOnce));
        assert_eq!(QoS::from_number(3), Err(ValidationError::InvalidQos(3)));
        assert_eq!(QoS::from_number(-1), Err(ValidationError::InvalidQos(-1)));
        assert_eq!(
            QoS::from_number(7).map_err(|e| e.js_kind()),
            Err(JsErrorKind::RangeError)
        );
    }

    #[test]
    fn publish_topics() {
        assert!(validate_topic("a/b/c").is_ok());
        assert!(validate_topic("/").is_ok());
        assert_eq!(validate_topic(""), Err(ValidationError::EmptyTopic));
        assert!(matches!(
            validate_topic("a/+/c"),
            Err(ValidationError::WildcardInTopic(_))
        ));
        assert!(matches!(
            validate_topic("a/#"),
            Err(ValidationError::WildcardInTopic(_))
        ));
        assert!(matches!(
            validate_topic("a\0b"),
            Err(ValidationError::NulInTopic(_))
        ));
        let long = "x".repeat(MAX_TOPIC_LEN + 1);
        assert_eq!(
            validate_topic(&long),
            Err(ValidationError::TopicTooLong(MAX_TOPIC_LEN + 1))
        );
        assert!(validate_topic(&long[1..]).is_ok());
        // The first problem in check order is reported, whatever the fast scan saw first.
        assert!(matches!(
            validate_topic("+/a\0b"),
            Err(ValidationError::NulInTopic(_))
        ));
        assert_eq!(
            validate_topic(&format!("#{}", &long[1..])),
            Err(ValidationError::TopicTooLong(MAX_TOPIC_LEN + 1))
        );
        assert!(validate_topic("é/ü/€").is_ok());
        assert_eq!(
            validate_topic_bytes(b"a/\xff"),
            Err(ValidationError::NotUtf8)
        );
        assert_eq!(validate_topic_bytes(b"a/b"), Ok("a/b"));
        assert_eq!(
            validate_topic("a/#").map_err(|e| e.js_kind()),
            Err(JsErrorKind::TypeError)
        );
    }

    #[test]
    fn filters() {
        for ok in ["#", "+", "a/+/c", "a/#", "+/+", "a/b"] {
            assert!(validate_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["a#", "a/#/b", "a+/b", "a/b+", "#/a"] {
            assert!(
                matches!(validate_filter(bad), Err(ValidationError::InvalidFilter(_))),
                "{bad}"
            );
        }
        assert_eq!(validate_filter(""), Err(ValidationError::EmptyTopic));
    }

    #[test]
    fn matching() {
        assert!(topic_matches("a/+/c", "a/b/c"));
        assert!(!topic_matches("a/+/c", "a/b/d"));
        assert!(topic_matches("a/#", "a"));
        assert!(topic_matches("a/#", "a/b/c"));
        assert!(topic_matches("#", "x/y"));
        assert!(!topic_matches("#", "$SYS/x"));
        assert!(topic_matches("$SYS/#", "$SYS/x"));
        assert!(!topic_matches("a/b", "a/b/c"));
        assert!(!topic_matches("a/b/c", "a/b"));
        assert!(topic_matches("+", "a"));
        assert!(!topic_matches("+", "a/b"));
    }
}
