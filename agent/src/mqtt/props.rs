//! MQTT 5 message properties ([`MessageProperties`]): validation of what scripts pass to
//! `publish`, their compact encoding inside a queue record, the message-expiry arithmetic the
//! queue applies while a message waits (MQTT 5 §3.3.2.3.3), and the exact size of a v5 PUBLISH
//! so a record the broker cannot take is never sent. Plain functions, no I/O.

use super::{validate_topic, ValidationError};

/// Longest string or binary property MQTT can encode (a two-byte length prefix).
pub const MAX_PROPERTY_LEN: usize = 65_535;

/// The properties of an MQTT 5 PUBLISH that scripts can set and see (MQTT.js names in the
/// comments). Subscription identifiers only appear on received messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageProperties {
    /// `payloadFormatIndicator`: `Some(true)` the payload is UTF-8 text, `Some(false)` bytes.
    pub payload_format_utf8: Option<bool>,
    /// `messageExpiryInterval`: lifetime in seconds (at least 1).
    pub message_expiry: Option<u32>,
    /// `contentType`: a MIME type or any UTF-8 text.
    pub content_type: Option<String>,
    /// `responseTopic`: where a reply should go (a valid publish topic).
    pub response_topic: Option<String>,
    /// `correlationData`: opaque bytes tying a reply to its request.
    pub correlation_data: Option<Vec<u8>>,
    /// `userProperties`: name/value pairs in order (a name may repeat).
    pub user_properties: Vec<(String, String)>,
    /// `subscriptionIdentifiers` of a received message.
    pub subscription_identifiers: Vec<u32>,
}

fn type_err(name: &'static str, message: impl Into<String>) -> ValidationError {
    ValidationError::PropertyType {
        name,
        message: message.into(),
    }
}

fn range_err(name: &'static str, message: impl Into<String>) -> ValidationError {
    ValidationError::PropertyRange {
        name,
        message: message.into(),
    }
}

/// An MQTT UTF-8 string property: at most 65535 bytes, no U+0000.
fn check_text(name: &'static str, text: &str) -> Result<(), ValidationError> {
    if text.len() > MAX_PROPERTY_LEN {
        return Err(range_err(
            name,
            format!("is {} bytes long, the limit is 65535", text.len()),
        ));
    }
    if text.contains('\0') {
        return Err(type_err(name, "must not contain the NUL character"));
    }
    Ok(())
}

impl MessageProperties {
    /// True when no property is set (nothing to send or store).
    pub fn is_empty(&self) -> bool {
        *self == MessageProperties::default()
    }

    /// Checks what MQTT requires of outgoing properties; errors name the property (MQTT.js
    /// name) and carry the JS error class. `payload` is checked against a payload format
    /// indicator of `true` (UTF-8).
    pub fn validate(&self, payload: &[u8]) -> Result<(), ValidationError> {
        if self.payload_format_utf8 == Some(true) && std::str::from_utf8(payload).is_err() {
            return Err(type_err(
                "payloadFormatIndicator",
                "is true but the payload is not valid UTF-8",
            ));
        }
        if self.message_expiry == Some(0) {
            return Err(range_err(
                "messageExpiryInterval",
                "must be 1..=4294967295 seconds (leave it out for no expiry)",
            ));
        }
        if let Some(t) = &self.content_type {
            check_text("contentType", t)?;
        }
        if let Some(t) = &self.response_topic {
            validate_topic(t).map_err(|e| {
                let message = format!("is not a valid publish topic: {e}");
                match e {
                    ValidationError::TopicTooLong(_) => range_err("responseTopic", message),
                    _ => type_err("responseTopic", message),
                }
            })?;
        }
        if let Some(d) = &self.correlation_data {
            if d.len() > MAX_PROPERTY_LEN {
                return Err(range_err(
                    "correlationData",
                    format!("is {} bytes long, the limit is 65535", d.len()),
                ));
            }
        }
        for (name, value) in &self.user_properties {
            check_text("userProperties", name)?;
            check_text("userProperties", value)?;
        }
        if !self.subscription_identifiers.is_empty() {
            return Err(type_err(
                "subscriptionIdentifiers",
                "cannot be set on a publish",
            ));
        }
        Ok(())
    }

    /// Bytes of the property section of a PUBLISH carrying these (without its length prefix).
    pub fn wire_len(&self) -> usize {
        let mut len = 0;
        if self.payload_format_utf8.is_some() {
            len += 2;
        }
        if self.message_expiry.is_some() {
            len += 5;
        }
        for text in [&self.content_type, &self.response_topic]
            .into_iter()
            .flatten()
        {
            len += 3 + text.len();
        }
        if let Some(d) = &self.correlation_data {
            len += 3 + d.len();
        }
        for (k, v) in &self.user_properties {
            len += 5 + k.len() + v.len();
        }
        for id in &self.subscription_identifiers {
            len += 1 + varint_len(*id as usize);
        }
        len
    }
}

/// Bytes of MQTT's variable byte integer for `n`.
pub fn varint_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Exact size of an MQTT 5 PUBLISH packet (fixed header included), as the broker's Maximum
/// Packet Size counts it.
pub fn v5_publish_size(
    topic_len: usize,
    payload_len: usize,
    with_packet_id: bool,
    properties: Option<&MessageProperties>,
) -> usize {
    let props = properties.map_or(0, MessageProperties::wire_len);
    let remaining = 2
        + topic_len
        + if with_packet_id { 2 } else { 0 }
        + varint_len(props)
        + props
        + payload_len;
    1 + varint_len(remaining) + remaining
}

/// What is left of a message's expiry interval when it is sent at `now_ms` (Unix time in
/// milliseconds), given it was accepted at `accepted_ms`: `Some(seconds)` (at least 1, rounded
/// up), or `None` when it ran out while queued (the message must be discarded). A clock that
/// went backwards counts as no time passed.
pub fn remaining_expiry(interval_s: u32, accepted_ms: u64, now_ms: u64) -> Option<u32> {
    let lifetime_ms = u64::from(interval_s) * 1000;
    let elapsed = now_ms.saturating_sub(accepted_ms);
    if elapsed >= lifetime_ms {
        return None;
    }
    let left_ms = lifetime_ms - elapsed;
    Some(left_ms.div_ceil(1000) as u32)
}

/// The wall clock as Unix milliseconds (0 if the clock is before 1970).
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// Tags of the queue's property encoding; the same numbers as MQTT 5 property identifiers.
const TAG_PAYLOAD_FORMAT: u8 = 0x01;
const TAG_EXPIRY: u8 = 0x02;
const TAG_CONTENT_TYPE: u8 = 0x03;
const TAG_RESPONSE_TOPIC: u8 = 0x08;
const TAG_CORRELATION: u8 = 0x09;
const TAG_USER: u8 = 0x26;

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Validation keeps every field within 65535 bytes; clamp so a bad caller corrupts nothing.
    let len = bytes.len().min(MAX_PROPERTY_LEN);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&bytes[..len]);
}

/// Appends the queue's encoding of `props` (tag, then value; strings and bytes with a u16 LE
/// length). Subscription identifiers are not stored (they only exist on received messages).
pub fn encode(props: &MessageProperties, out: &mut Vec<u8>) {
    if let Some(utf8) = props.payload_format_utf8 {
        out.extend_from_slice(&[TAG_PAYLOAD_FORMAT, u8::from(utf8)]);
    }
    if let Some(s) = props.message_expiry {
        out.push(TAG_EXPIRY);
        out.extend_from_slice(&s.to_le_bytes());
    }
    if let Some(t) = &props.content_type {
        out.push(TAG_CONTENT_TYPE);
        put_bytes(out, t.as_bytes());
    }
    if let Some(t) = &props.response_topic {
        out.push(TAG_RESPONSE_TOPIC);
        put_bytes(out, t.as_bytes());
    }
    if let Some(d) = &props.correlation_data {
        out.push(TAG_CORRELATION);
        put_bytes(out, d);
    }
    for (k, v) in &props.user_properties {
        out.push(TAG_USER);
        put_bytes(out, k.as_bytes());
        put_bytes(out, v.as_bytes());
    }
}

/// Size of [`encode`]'s output for `props`.
pub fn encoded_len(props: &MessageProperties) -> usize {
    let mut len = 0;
    if props.payload_format_utf8.is_some() {
        len += 2;
    }
    if props.message_expiry.is_some() {
        len += 5;
    }
    for text in [&props.content_type, &props.response_topic]
        .into_iter()
        .flatten()
    {
        len += 3 + text.len().min(MAX_PROPERTY_LEN);
    }
    if let Some(d) = &props.correlation_data {
        len += 3 + d.len().min(MAX_PROPERTY_LEN);
    }
    for (k, v) in &props.user_properties {
        len += 5 + k.len().min(MAX_PROPERTY_LEN) + v.len().min(MAX_PROPERTY_LEN);
    }
    len
}

/// Reads [`encode`]'s output back; `None` when it is malformed (unknown tag, bad length, text
/// that is not UTF-8): the record is then treated as corrupt.
pub fn decode(mut bytes: &[u8]) -> Option<MessageProperties> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (bytes.get(..n)?, bytes.get(n..)?);
        *bytes = rest;
        Some(head)
    }
    fn sized<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = take(bytes, 2)?;
        take(bytes, usize::from(u16::from_le_bytes([len[0], len[1]])))
    }
    fn text(bytes: &mut &[u8]) -> Option<String> {
        std::str::from_utf8(sized(bytes)?).ok().map(str::to_owned)
    }
    let mut props = MessageProperties::default();
    while let Some(&tag) = bytes.first() {
        bytes = &bytes[1..];
        match tag {
            TAG_PAYLOAD_FORMAT => {
                props.payload_format_utf8 = Some(match take(&mut bytes, 1)?[0] {
                    0 => false,
                    1 => true,
                    _ => return None,
                })
            }
            TAG_EXPIRY => {
                let b = take(&mut bytes, 4)?;
                props.message_expiry = Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            TAG_CONTENT_TYPE => props.content_type = Some(text(&mut bytes)?),
            TAG_RESPONSE_TOPIC => props.response_topic = Some(text(&mut bytes)?),
            TAG_CORRELATION => props.correlation_data = Some(sized(&mut bytes)?.to_vec()),
            TAG_USER => {
                let k = text(&mut bytes)?;
                let v = text(&mut bytes)?;
                props.user_properties.push((k, v));
            }
            _ => return None,
        }
    }
    Some(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::JsErrorKind;

    fn full() -> MessageProperties {
        MessageProperties {
            payload_format_utf8: Some(true),
            message_expiry: Some(3600),
            content_type: Some("application/json".into()),
            response_topic: Some("reply/to/me".into()),
            correlation_data: Some(vec![0, 1, 2, 255]),
            user_properties: vec![
                ("site".into(), "lab".into()),
                ("tag".into(), "a".into()),
                ("tag".into(), "b".into()),
            ],
            subscription_identifiers: vec![],
        }
    }

    fn kind(p: &MessageProperties, payload: &[u8]) -> Option<(JsErrorKind, String)> {
        p.validate(payload)
            .err()
            .map(|e| (e.js_kind(), e.to_string()))
    }

    #[test]
    fn validation_names_the_property_and_the_error_class() {
        assert!(full().validate(b"{}").is_ok());
        assert!(MessageProperties::default().is_empty());
        assert!(!full().is_empty());

        let p = MessageProperties {
            payload_format_utf8: Some(true),
            ..Default::default()
        };
        let (k, m) = kind(&p, b"\xff").expect("not UTF-8");
        assert_eq!(k, JsErrorKind::TypeError);
        assert!(m.contains("payloadFormatIndicator"), "{m}");
        let p = MessageProperties {
            payload_format_utf8: Some(false),
            ..Default::default()
        };
        assert!(p.validate(b"\xff").is_ok(), "bytes are fine when not UTF-8");

        let p = MessageProperties {
            message_expiry: Some(0),
            ..Default::default()
        };
        let (k, m) = kind(&p, b"").expect("zero expiry");
        assert_eq!(k, JsErrorKind::RangeError);
        assert!(m.contains("messageExpiryInterval"), "{m}");

        for (topic, class) in [
            ("a/+", JsErrorKind::TypeError),
            ("", JsErrorKind::TypeError),
            (&*"x".repeat(65_536), JsErrorKind::RangeError),
        ] {
            let p = MessageProperties {
                response_topic: Some(topic.to_owned()),
                ..Default::default()
            };
            let (k, m) = kind(&p, b"").expect("bad response topic");
            assert_eq!(k, class, "{m}");
            assert!(m.contains("responseTopic"), "{m}");
        }

        let p = MessageProperties {
            content_type: Some("a\0b".into()),
            ..Default::default()
        };
        let (k, m) = kind(&p, b"").expect("NUL");
        assert_eq!(k, JsErrorKind::TypeError);
        assert!(m.contains("contentType"), "{m}");

        let p = MessageProperties {
            correlation_data: Some(vec![0; 65_536]),
            ..Default::default()
        };
        let (k, m) = kind(&p, b"").expect("too long");
        assert_eq!(k, JsErrorKind::RangeError);
        assert!(m.contains("correlationData"), "{m}");

        let p = MessageProperties {
            user_properties: vec![("k".into(), "x".repeat(65_536))],
            ..Default::default()
        };
        let (k, m) = kind(&p, b"").expect("too long");
        assert_eq!(k, JsErrorKind::RangeError);
        assert!(m.contains("userProperties"), "{m}");
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let p = full();
        let mut buf = Vec::new();
        encode(&p, &mut buf);
        assert_eq!(buf.len(), encoded_len(&p));
        assert_eq!(decode(&buf), Some(p.clone()));
        assert_eq!(decode(&[]), Some(MessageProperties::default()));
        // Truncated anywhere: never a wrong value, either None or (at a field boundary) fewer
        // fields.
        for cut in 0..buf.len() {
            if let Some(q) = decode(&buf[..cut]) {
                assert_ne!(q, p, "cut at {cut}");
            }
        }
        assert_eq!(decode(&[0x7f]), None, "unknown tag");
        assert_eq!(decode(&[TAG_PAYLOAD_FORMAT, 2]), None, "bad boolean");
        assert_eq!(
            decode(&[TAG_CONTENT_TYPE, 1, 0, 0xff]),
            None,
            "text not UTF-8"
        );
    }

    #[test]
    fn v5_publish_size_matches_rumqttc() {
        use rumqttc::v5::mqttbytes::{v5, QoS};
        let cases = [
            (None, 10, 0),
            (Some(full()), 300, 1),
            (Some(full()), 20_000, 2),
            (
                Some(MessageProperties {
                    user_properties: vec![("k".into(), "v".repeat(200))],
                    subscription_identifiers: vec![5, 300],
                    ..Default::default()
                }),
                3,
                1,
            ),
        ];
        for (props, payload_len, qos) in cases {
            let topic = "ganglion/gw/some/topic";
            let v5props = props.as_ref().map(|p| v5::PublishProperties {
                payload_format_indicator: p.payload_format_utf8.map(u8::from),
                message_expiry_interval: p.message_expiry,
                topic_alias: None,
                response_topic: p.response_topic.clone(),
                correlation_data: p.correlation_data.clone().map(Into::into),
                user_properties: p.user_properties.clone(),
                subscription_identifiers: p
                    .subscription_identifiers
                    .iter()
                    .map(|&i| i as usize)
                    .collect(),
                content_type: p.content_type.clone(),
            });
            let q = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][qos];
            let mut publish = v5::Publish::new(topic, q, vec![7u8; payload_len], v5props);
            publish.pkid = if qos > 0 { 1 } else { 0 };
            assert_eq!(
                v5_publish_size(topic.len(), payload_len, qos > 0, props.as_ref()),
                publish.size(),
                "{props:?} {payload_len} {qos}"
            );
        }
    }

    #[test]
    fn expiry_counts_down_and_runs_out() {
        let t0 = 1_700_000_000_000;
        assert_eq!(remaining_expiry(10, t0, t0), Some(10));
        assert_eq!(remaining_expiry(10, t0, t0 + 1), Some(10), "rounded up");
        assert_eq!(remaining_expiry(10, t0, t0 + 1000), Some(9));
        assert_eq!(remaining_expiry(10, t0, t0 + 9_999), Some(1));
        assert_eq!(remaining_expiry(10, t0, t0 + 10_000), None);
        assert_eq!(remaining_expiry(1, t0, t0 + 1_500), None);
        assert_eq!(
            remaining_expiry(10, t0, t0 - 5_000),
            Some(10),
            "clock went back"
        );
        assert_eq!(
            remaining_expiry(u32::MAX, t0, t0 + 1000),
            Some(u32::MAX - 1)
        );
        assert_eq!(remaining_expiry(u32::MAX, 0, u64::MAX), None);
    }
}
