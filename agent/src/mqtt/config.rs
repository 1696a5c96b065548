//! The `[mqtt]` table of `ganglion.toml` ([`MqttConfig`]) and its resolution into ready-to-use
//! settings ([`ResolvedMqtt`]): broker address, TLS (rustls, ring), credentials read from a file
//! or an environment variable (never logged), topic prefix and queue options.
//!
//! ```toml
//! [mqtt]
//! url = "mqtts://broker.example:8883"   # absent: embedded broker on 127.0.0.1:broker_port
//! username = "gw-17"
//! password_file = "/etc/ganglion/mqtt.pass"
//! keep_alive = "30s"
//! topic_prefix = "plant/{id}"
//! protocol = "5"                         # default "3.1.1"
//! clean_session = false
//! session_expiry = 86400                 # MQTT 5 only; default: never with clean_session = false
//! [mqtt.tls]
//! ca_file = "/etc/ganglion/ca.pem"
//! [mqtt.queue]
//! cap = "64MiB"
//! on_full = "drop-oldest"
//! fsync = "batch"
//! fsync_interval = "100ms"
//! ```

use super::store::{FsyncPolicy, FullPolicy, StoreOptions};
use super::validate_topic;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Default port of the embedded broker (and of `mqtt://` URLs).
pub const DEFAULT_PORT: u16 = 1883;
/// Default port of `mqtts://` URLs.
pub const DEFAULT_TLS_PORT: u16 = 8883;

/// MQTT protocol version spoken to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Protocol {
    /// MQTT 3.1.1 (protocol level 4).
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.
    #[serde(rename = "5")]
    V5,
}

/// `on_full` of `[mqtt.queue]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFull {
    /// Drop the oldest queued messages to make room.
    #[default]
    DropOldest,
    /// Refuse new messages (`publish` fails) until there is room.
    RejectNew,
}

/// `fsync` of `[mqtt.queue]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FsyncMode {
    /// fdatasync after every message.
    Always,
    /// fdatasync at most every `fsync_interval`.
    #[default]
    Batch,
    /// Leave it to the OS (survives an agent crash, not a power cut).
    Never,
}

/// `[mqtt.tls]`: certificates for `mqtts://`. There is no "insecure" switch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) to trust; absent: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS (needs `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Name the broker's certificate must carry, when it differs from the URL's host.
    pub server_name: Option<String>,
}

/// `[mqtt.queue]`: the durable store-and-forward queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Directory of the queue, relative to the agent's state directory.
    pub dir: PathBuf,
    /// Byte cap of queued messages, e.g. "64MiB".
    #[serde(deserialize_with = "de_size")]
    pub cap: u64,
    /// Policy when the cap is reached.
    pub on_full: OnFull,
    /// Durability of accepted messages.
    pub fsync: FsyncMode,
    /// Interval of the `batch` fsync, e.g. "100ms".
    #[serde(deserialize_with = "de_duration")]
    pub fsync_interval: Duration,
    /// Size of one segment file, e.g. "4MiB".
    #[serde(deserialize_with = "de_size")]
    pub segment_size: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            dir: PathBuf::from("mqtt-queue"),
            cap: 64 * 1024 * 1024,
            on_full: OnFull::DropOldest,
            fsync: FsyncMode::Batch,
            fsync_interval: Duration::from_millis(100),
            segment_size: 4 * 1024 * 1024,
        }
    }
}

/// The `[mqtt]` table of `ganglion.toml`. Unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`; absent: start the embedded broker.
    pub url: Option<String>,
    /// Port of the embedded broker on 127.0.0.1 (used when `url` is absent).
    pub broker_port: u16,
    /// "3.1.1" or "5".
    pub protocol: Protocol,
    /// MQTT client id; default: the agent id.
    pub client_id: Option<String>,
    /// User name for the broker.
    pub username: Option<String>,
    /// File whose first line is the password (preferred over `password_env`).
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// TLS settings for `mqtts://`.
    pub tls: TlsConfig,
    /// Keep-alive interval, e.g. "30s".
    #[serde(deserialize_with = "de_duration")]
    pub keep_alive: Duration,
    /// Clean (true) or persistent (false) session.
    pub clean_session: bool,
    /// MQTT 5 session expiry interval in seconds; default 0 with `clean_session = true` and
    /// 4294967295 (never) with `clean_session = false`, like a 3.1.1 persistent session.
    pub session_expiry: Option<u32>,
    /// Prefix of the agent's topics; `{id}` is replaced by the agent id.
    pub topic_prefix: String,
    /// Most QoS 1/2 messages awaiting the broker's ack at once.
    pub max_inflight: u16,
    /// Most QoS 2 messages awaiting PUBCOMP at once. MQTT 3.1.1 cannot tell us the broker's
    /// limit and Mosquitto silently discards QoS 2 messages beyond its `max_inflight_messages`
    /// (default 20) that await PUBREL, so stay below it.
    pub max_inflight_qos2: u16,
    /// Largest MQTT packet sent or accepted, e.g. "1MiB".
    #[serde(deserialize_with = "de_size")]
    pub max_packet_size: u64,
    /// First reconnect delay (doubles up to `reconnect_max`, with jitter).
    #[serde(deserialize_with = "de_duration")]
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    #[serde(deserialize_with = "de_duration")]
    pub reconnect_max: Duration,
    /// The durable queue.
    pub queue: QueueConfig,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: None,
            broker_port: DEFAULT_PORT,
            protocol: Protocol::V311,
            client_id: None,
            username: None,
            password_file: None,
            password_env: None,
            tls: TlsConfig::default(),
            keep_alive: Duration::from_secs(30),
            clean_session: true,
            session_expiry: None,
            topic_prefix: "ganglion/{id}".to_owned(),
            max_inflight: 100,
            max_inflight_qos2: 10,
            max_packet_size: 1024 * 1024,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            queue: QueueConfig::default(),
        }
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("invalid duration {text:?} ({e}), e.g. \"5s\""))
    })
}

fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Bytes(n) => Ok(n),
        Size::Text(text) => text
            .parse::<bytesize::ByteSize>()
            .map(|b| b.as_u64())
            .map_err(|e| {
                serde::de::Error::custom(format!("invalid size {text:?} ({e}), e.g. \"64MiB\""))
            }),
    }
}

/// A configuration value that cannot be used; names the `mqtt.*` field (and file) at fault.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A field has an unusable value.
    #[error("{field}: {message}")]
    Invalid {
        /// Dotted field name, e.g. `mqtt.url`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A file named by a field cannot be read or parsed.
    #[error("{field} ({}): {message}", path.display())]
    File {
        /// Dotted field name, e.g. `mqtt.tls.ca_file`.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        message: message.into(),
    }
}

fn file_err(field: &'static str, path: &Path, message: impl fmt::Display) -> ConfigError {
    ConfigError::File {
        field,
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// A password that never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for handing to the MQTT library only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the client connects.
#[derive(Clone)]
pub enum BrokerTarget {
    /// A broker from `url`.
    Remote {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
        /// TLS configuration for `mqtts://`, `None` for `mqtt://`.
        tls: Option<Arc<ClientConfig>>,
    },
    /// The embedded broker on 127.0.0.1 (no `url`).
    Embedded {
        /// Its port.
        port: u16,
    },
}

impl fmt::Debug for BrokerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokerTarget::Remote { host, port, tls } => f
                .debug_struct("Remote")
                .field("host", host)
                .field("port", port)
                .field("tls", &tls.is_some())
                .finish(),
            BrokerTarget::Embedded { port } => {
                f.debug_struct("Embedded").field("port", port).finish()
            }
        }
    }
}

impl BrokerTarget {
    /// Host and port to connect to.
    pub fn addr(&self) -> (String, u16) {
        match self {
            BrokerTarget::Remote { host, port, .. } => (host.clone(), *port),
            BrokerTarget::Embedded { port } => ("127.0.0.1".to_owned(), *port),
        }
    }
}

/// Everything the connection worker needs, validated, with secrets and certificates loaded.
#[derive(Debug, Clone)]
pub struct ResolvedMqtt {
    /// Broker to connect to.
    pub target: BrokerTarget,
    /// Protocol version.
    pub protocol: Protocol,
    /// MQTT client id.
    pub client_id: String,
    /// User name and password, if configured.
    pub credentials: Option<(String, Secret)>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Clean or persistent session.
    pub clean_session: bool,
    /// MQTT 5 session expiry interval in seconds (0: the session ends with the connection).
    pub session_expiry: u32,
    /// Topic prefix with `{id}` replaced and no trailing `/`.
    pub prefix: String,
    /// Directory of the durable queue.
    pub queue_dir: PathBuf,
    /// Options of the durable queue.
    pub store: StoreOptions,
    /// Most QoS 1/2 messages awaiting an ack at once.
    pub max_inflight: u16,
    /// Most QoS 2 messages awaiting PUBCOMP at once (at most `max_inflight`).
    pub max_inflight_qos2: u16,
    /// Largest packet sent or accepted.
    pub max_packet_size: usize,
    /// Reconnect backoff bounds.
    pub reconnect_min: Duration,
    /// Reconnect backoff upper bound.
    pub reconnect_max: Duration,
}

impl ResolvedMqtt {
    /// The presence topic `<prefix>/status` (retained `online`, last will `offline`).
    pub fn status_topic(&self) -> String {
        format!("{}/status", self.prefix)
    }

    /// Plain settings for a local broker on 127.0.0.1:`port` without TLS or credentials:
    /// defaults of [`MqttConfig`] otherwise. Handy for tools (`ganglion sub`) and tests.
    pub fn local(client_id: &str, port: u16, queue_dir: &Path) -> ResolvedMqtt {
        let c = MqttConfig::default();
        ResolvedMqtt {
            target: BrokerTarget::Remote {
                host: "127.0.0.1".to_owned(),
                port,
                tls: None,
            },
            protocol: Protocol::V311,
            client_id: client_id.to_owned(),
            credentials: None,
            keep_alive: c.keep_alive,
            clean_session: true,
            session_expiry: 0,
            prefix: format!("ganglion/{client_id}"),
            queue_dir: queue_dir.to_owned(),
            store: c.queue.store_options(),
            max_inflight: c.max_inflight,
            max_inflight_qos2: c.max_inflight_qos2,
            max_packet_size: c.max_packet_size as usize,
            reconnect_min: c.reconnect_min,
            reconnect_max: c.reconnect_max,
        }
    }
}

impl QueueConfig {
    /// The store options these settings describe.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            cap_bytes: self.cap,
            on_full: match self.on_full {
                OnFull::DropOldest => FullPolicy::DropOldest,
                OnFull::RejectNew => FullPolicy::RejectNew,
            },
            fsync: match self.fsync {
                FsyncMode::Always => FsyncPolicy::Always,
                FsyncMode::Batch => FsyncPolicy::Batch(self.fsync_interval),
                FsyncMode::Never => FsyncPolicy::Never,
            },
            segment_bytes: self.segment_size,
        }
    }
}

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// True for `mqtts://`.
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port (default 1883 or 8883).
    pub port: u16,
}

/// Parses `mqtt://host[:port][/]` or `mqtts://host[:port][/]` (IPv6 as `[::1]`).
pub fn parse_url(url: &str) -> Result<BrokerUrl, ConfigError> {
    let bad = |m: &str| invalid("mqtt.url", format!("{url:?}: {m}"));
    let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("mqtt://") {
        (false, rest)
    } else {
        return Err(bad("must start with mqtt:// or mqtts://"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return Err(bad("must not have a path or query"));
    }
    if rest.contains('@') {
        return Err(bad(
            "must not carry credentials; use mqtt.username and mqtt.password_file",
        ));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    let port = match port {
        None => {
            if tls {
                DEFAULT_TLS_PORT
            } else {
                DEFAULT_PORT
            }
        }
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(bad("port must be 1..=65535")),
        },
    };
    Ok(BrokerUrl {
        tls,
        host: host.to_owned(),
        port,
    })
}

/// The crypto provider used for all TLS (ring, as chosen for the build).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(
    field: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(field, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(field, path, e))?;
    if certs.is_empty() {
        return Err(file_err(field, path, "no PEM certificate found"));
    }
    Ok(certs)
}

/// Builds the rustls client configuration for `[mqtt.tls]`; `host` is the URL's host.
pub fn build_tls(tls: &TlsConfig, host: &str) -> Result<Arc<ClientConfig>, ConfigError> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in load_certs("mqtt.tls.ca_file", path)? {
                roots
                    .add(cert)
                    .map_err(|e| file_err("mqtt.tls.ca_file", path, e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // Individual unparsable system certificates are skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(invalid(
                    "mqtt.tls.ca_file",
                    "not set and no system CA certificates were found; set it to a PEM file",
                ));
            }
        }
    }
    let provider = crypto_provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("mqtt.tls", e.to_string()))?;
    let roots = Arc::new(roots);
    let builder = match &tls.server_name {
        Some(name) => {
            let name = ServerName::try_from(name.clone())
                .map_err(|e| invalid("mqtt.tls.server_name", format!("{name:?}: {e}")))?;
            let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| invalid("mqtt.tls.ca_file", e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(FixedNameVerifier { inner, name }))
        }
        None => {
            // The URL's host is what rumqttc passes to rustls as the name to verify.
            ServerName::try_from(host.to_owned()).map_err(|e| {
                invalid(
                    "mqtt.url",
                    format!("host {host:?} cannot be checked against a certificate: {e}"),
                )
            })?;
            builder.with_root_certificates(roots)
        }
    };
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = load_certs("mqtt.tls.cert_file", cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file_err("mqtt.tls.key_file", key, e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| file_err("mqtt.tls.key_file", key, e))?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => return Err(invalid("mqtt.tls.key_file", "required with cert_file")),
        (None, Some(_)) => return Err(invalid("mqtt.tls.cert_file", "required with key_file")),
    };
    Ok(Arc::new(config))
}

/// Verifies the broker certificate against a configured name instead of the URL's host
/// (full WebPKI verification otherwise).
#[derive(Debug)]
struct FixedNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for FixedNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

impl MqttConfig {
    /// Validates the settings and loads what they point to (password, certificates).
    /// `agent_id` fills `{id}` and the default client id; the queue lives under `state_dir`.
    pub fn resolve(&self, agent_id: &str, state_dir: &Path) -> Result<ResolvedMqtt, ConfigError> {
        let session_expiry = match (self.protocol, self.session_expiry) {
            (Protocol::V311, Some(_)) => {
                return Err(invalid(
                    "mqtt.session_expiry",
                    "needs protocol = \"5\" (MQTT 3.1.1 sessions have no expiry)",
                ))
            }
            (Protocol::V311, None) => 0,
            (Protocol::V5, Some(seconds)) => seconds,
            (Protocol::V5, None) if self.clean_session => 0,
            (Protocol::V5, None) => u32::MAX,
        };
        let target = match &self.url {
            None => {
                if self.protocol == Protocol::V5 {
                    return Err(invalid(
                        "mqtt.protocol",
                        "\"5\" needs a url: the embedded broker speaks MQTT 3.1.1 only",
                    ));
                }
                if self.broker_port == 0 {
                    return Err(invalid("mqtt.broker_port", "must be 1..=65535"));
                }
                BrokerTarget::Embedded {
                    port: self.broker_port,
                }
            }
            Some(url) => {
                let url = parse_url(url)?;
                let tls = if url.tls {
                    Some(build_tls(&self.tls, &url.host)?)
                } else {
                    if self.tls != TlsConfig::default() {
                        return Err(invalid(
                            "mqtt.tls",
                            "is set but mqtt.url is mqtt:// (plaintext); use mqtts://",
                        ));
                    }
                    None
                };
                BrokerTarget::Remote {
                    host: url.host,
                    port: url.port,
                    tls,
                }
            }
        };

        let client_id = self
            .client_id
            .clone()
            .unwrap_or_else(|| agent_id.to_owned());
        if client_id.is_empty() || client_id.len() > usize::from(u16::MAX) {
            return Err(invalid("mqtt.client_id", "must be 1..=65535 bytes"));
        }

        let password = match (&self.password_file, &self.password_env) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| file_err("mqtt.password_file", path, e))?;
                Some(Secret::new(text.lines().next().unwrap_or("")))
            }
            (None, Some(var)) => Some(Secret::new(std::env::var(var).map_err(|_| {
                invalid(
                    "mqtt.password_env",
                    format!("environment variable {var} is not set (or not UTF-8)"),
                )
            })?)),
            (None, None) => None,
        };
        let credentials = match (&self.username, password) {
            (Some(user), password) => {
                Some((user.clone(), password.unwrap_or_else(|| Secret::new(""))))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "mqtt.username",
                    "required when a password is configured",
                ))
            }
            (None, None) => None,
        };

        let keep_alive = self.keep_alive;
        if keep_alive < Duration::from_secs(1) || keep_alive.as_secs() > u64::from(u16::MAX) {
            return Err(invalid("mqtt.keep_alive", "must be between 1s and 18h"));
        }
        if self.protocol == Protocol::V5 && keep_alive < Duration::from_secs(5) {
            return Err(invalid(
                "mqtt.keep_alive",
                "must be at least 5s with protocol = \"5\"",
            ));
        }

        let prefix = self.topic_prefix.replace("{id}", agent_id);
        let prefix = prefix.trim_end_matches('/').to_owned();
        validate_topic(&prefix).map_err(|e| invalid("mqtt.topic_prefix", e.to_string()))?;

        if self.max_inflight == 0 {
            return Err(invalid("mqtt.max_inflight", "must be at least 1"));
        }
        if self.max_inflight_qos2 == 0 || self.max_inflight_qos2 > self.max_inflight {
            return Err(invalid(
                "mqtt.max_inflight_qos2",
                "must be at least 1 and at most mqtt.max_inflight",
            ));
        }
        if !(128..=256 * 1024 * 1024).contains(&self.max_packet_size) {
            return Err(invalid(
                "mqtt.max_packet_size",
                "must be between 128B and 256MiB",
            ));
        }
        if self.queue.cap < 1024 {
            return Err(invalid("mqtt.queue.cap", "must be at least 1KiB"));
        }
        if !(4096..=1024 * 1024 * 1024).contains(&self.queue.segment_size) {
            return Err(invalid(
                "mqtt.queue.segment_size",
                "must be between 4KiB and 1GiB",
            ));
        }
        if self.queue.fsync == FsyncMode::Batch && self.queue.fsync_interval.is_zero() {
            return Err(invalid("mqtt.queue.fsync_interval", "must be more than 0"));
        }
        if self.reconnect_min.is_zero() || self.reconnect_min > self.reconnect_max {
            return Err(invalid(
                "mqtt.reconnect_min",
                "must be more than 0 and at most mqtt.reconnect_max",
            ));
        }

        Ok(ResolvedMqtt {
            target,
            protocol: self.protocol,
            client_id,
            credentials,
            keep_alive,
            clean_session: self.clean_session,
            session_expiry,
            prefix,
            queue_dir: state_dir.join(&self.queue.dir),
            store: self.queue.store_options(),
            max_inflight: self.max_inflight,
            max_inflight_qos2: self.max_inflight_qos2,
            max_packet_size: self.max_packet_size as usize,
            reconnect_min: self.reconnect_min,
            reconnect_max: self.reconnect_max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MqttConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_and_embedded_broker() {
        let c = parse("").expect("empty table");
        assert_eq!(c, MqttConfig::default());
        let r = c
            .resolve("gw1", Path::new("/var/lib/ganglion"))
            .expect("resolve");
        assert!(matches!(r.target, BrokerTarget::Embedded { port: 1883 }));
        assert_eq!(r.client_id, "gw1");
        assert_eq!(r.prefix, "ganglion/gw1");
        assert_eq!(r.status_topic(), "ganglion/gw1/status");
        assert_eq!(r.queue_dir, Path::new("/var/lib/ganglion/mqtt-queue"));
        assert_eq!(
            r.store.fsync,
            FsyncPolicy::Batch(Duration::from_millis(100))
        );
        assert_eq!(r.store.cap_bytes, 64 * 1024 * 1024);
        assert!(r.credentials.is_none());
    }

    #[test]
    fn full_table() {
        let dir = tempfile::tempdir().expect("tmp");
        let pass = dir.path().join("pass");
        std::fs::write(&pass, "s3cret\n").expect("write");
        let text = format!(
            r#"
            url = "mqtt://127.0.0.1:1884"
            client_id = "custom"
            username = "u"
            password_file = "{}"
            keep_alive = "45s"
            clean_session = false
            topic_prefix = "site/{{id}}/"
            max_inflight = 10
            max_packet_size = "64KiB"
            reconnect_min = "100ms"
            reconnect_max = "2s"
            [queue]
            dir = "/tmp/q"
            cap = "1MiB"
            on_full = "reject-new"
            fsync = "always"
            segment_size = 65536
            "#,
            pass.display()
        );
        let c = parse(&text).expect("parse");
        let r = c.resolve("gw2", Path::new("/state")).expect("resolve");
        assert_eq!(r.target.addr(), ("127.0.0.1".to_owned(), 1884));
        assert_eq!(r.client_id, "custom");
        let (user, password) = r.credentials.clone().expect("credentials");
        assert_eq!((user.as_str(), password.expose()), ("u", "s3cret"));
        assert_eq!(r.keep_alive, Duration::from_secs(45));
        assert!(!r.clean_session);
        assert_eq!(r.prefix, "site/gw2");
        assert_eq!(r.max_packet_size, 65536);
        assert_eq!(r.queue_dir, Path::new("/tmp/q"));
        assert_eq!(r.store.cap_bytes, 1024 * 1024);
        assert_eq!(r.store.on_full, FullPolicy::RejectNew);
        assert_eq!(r.store.fsync, FsyncPolicy::Always);
        assert_eq!(r.store.segment_bytes, 65536);
        assert_eq!(r.reconnect_min, Duration::from_millis(100));
        let debug = format!("{r:?}");
        assert!(
            !debug.contains("s3cret"),
            "password leaked into Debug: {debug}"
        );
    }

    #[test]
    fn unknown_and_bad_fields_name_the_field() {
        let e = parse("urll = \"mqtt://x\"").expect_err("unknown key");
        assert!(e.to_string().contains("urll"), "{e}");
        let e = parse("keep_alive = \"five\"").expect_err("bad duration");
        assert!(e.to_string().contains("keep_alive"), "{e}");
        let e = parse("[queue]\ncap = \"lots\"").expect_err("bad size");
        assert!(e.to_string().contains("cap"), "{e}");
        let e = parse("[queue]\non_full = \"drop-newest\"").expect_err("bad policy");
        assert!(e.to_string().contains("drop-newest"), "{e}");
        let e = parse("protocol = \"4\"").expect_err("bad protocol");
        assert!(e.to_string().contains("protocol"), "{e}");
        let e = parse("[tls]\ninsecure = true").expect_err("no insecure switch");
        assert!(e.to_string().contains("insecure"), "{e}");
    }

    #[test]
    fn resolve_errors_name_the_field() {
        let cases = [
            ("url = \"http://x\"", "mqtt.url"),
            ("url = \"mqtt://\"", "mqtt.url"),
            ("url = \"mqtt://h:0\"", "mqtt.url"),
            ("url = \"mqtt://h:99999\"", "mqtt.url"),
            ("url = \"mqtt://u:p@h\"", "mqtt.url"),
            ("url = \"mqtt://h/path\"", "mqtt.url"),
            ("url = \"mqtt://h\"\n[tls]\nca_file = \"/x\"", "mqtt.tls"),
            (
                "password_env = \"GANGLION_TEST_SURELY_UNSET_VAR\"",
                "mqtt.password_env",
            ),
            (
                "password_file = \"/nonexistent/pass\"",
                "mqtt.password_file",
            ),
            ("topic_prefix = \"a/+/b\"", "mqtt.topic_prefix"),
            ("max_inflight = 0", "mqtt.max_inflight"),
            ("max_inflight_qos2 = 0", "mqtt.max_inflight_qos2"),
            (
                "max_inflight = 5\nmax_inflight_qos2 = 6",
                "mqtt.max_inflight_qos2",
            ),
            ("keep_alive = \"0s\"", "mqtt.keep_alive"),
            ("session_expiry = 60", "mqtt.session_expiry"),
            ("protocol = \"5\"", "mqtt.protocol"),
            (
                "protocol = \"3.1.1\"\nsession_expiry = 0",
                "mqtt.session_expiry",
            ),
            (
                "url = \"mqtt://h\"\nprotocol = \"5\"\nkeep_alive = \"2s\"",
                "mqtt.keep_alive",
            ),
            ("reconnect_min = \"2m\"", "mqtt.reconnect_min"),
            (
                "url = \"mqtts://h\"\n[tls]\nca_file = \"/nonexistent/ca.pem\"",
                "mqtt.tls.ca_file",
            ),
            ("[queue]\ncap = 10", "mqtt.queue.cap"),
        ];
        for (text, field) in cases {
            let c = parse(text).expect(text);
            let e = c.resolve("gw", Path::new("/s")).expect_err(text);
            assert!(e.to_string().starts_with(field), "{text}: {e}");
        }
    }

    #[test]
    fn protocol_5_and_session_expiry_defaults() {
        let resolve = |text: &str| {
            parse(text)
                .expect(text)
                .resolve("gw", Path::new("/s"))
                .expect(text)
        };
        let r = resolve("");
        assert_eq!((r.protocol, r.session_expiry), (Protocol::V311, 0));
        let v5 = "url = \"mqtt://127.0.0.1\"\nprotocol = \"5\"";
        let r = resolve(v5);
        assert_eq!((r.protocol, r.session_expiry), (Protocol::V5, 0));
        let r = resolve(&format!("{v5}\nclean_session = false"));
        assert_eq!(r.session_expiry, u32::MAX, "persistent: never expires");
        let r = resolve(&format!(
            "{v5}\nclean_session = false\nsession_expiry = 3600"
        ));
        assert_eq!((r.session_expiry, r.clean_session), (3600, false));
        let r = resolve(&format!("{v5}\nsession_expiry = 10"));
        assert_eq!((r.session_expiry, r.clean_session), (10, true));
        let e = parse("protocol = \"5\"\nsession_expiry = 4294967296").expect_err("too big");
        assert!(e.to_string().contains("session_expiry"), "{e}");
        let e = parse("protocol = \"5\"\nsession_expiry = -1").expect_err("negative");
        assert!(e.to_string().contains("session_expiry"), "{e}");
    }

    #[test]
    fn urls() {
        let u = parse_url("mqtt://localhost").expect("url");
        assert_eq!((u.tls, u.host.as_str(), u.port), (false, "localhost", 1883));
        let u = parse_url("mqtts://b.example/").expect("url");
        assert_eq!((u.tls, u.host.as_str(), u.port), (true, "b.example", 8883));
        let u = parse_url("mqtt://[::1]:1999").expect("url");
        assert_eq!((u.host.as_str(), u.port), ("::1", 1999));
        assert!(parse_url("mqtt://[::1").is_err());
    }

    #[test]
    fn password_from_env() {
        // A variable name unique to this test, so parallel tests do not interfere.
        let var = "GANGLION_MQTT_CONFIG_TEST_PASSWORD";
        std::env::set_var(var, "from-env");
        let c = parse(&format!("username = \"u\"\npassword_env = \"{var}\"")).expect("parse");
        let r = c.resolve("gw", Path::new("/s")).expect("resolve");
        assert_eq!(r.credentials.expect("creds").1.expose(), "from-env");
        let c = parse(&format!("password_env = \"{var}\"")).expect("parse");
        let e = c.resolve("gw", Path::new("/s")).expect_err("no username");
        assert!(e.to_string().starts_with("mqtt.username"), "{e}");
    }
}
