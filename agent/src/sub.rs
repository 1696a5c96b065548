//! `ganglion sub FILTER`: prints every message matching a topic filter as a `topic payload` line
//! on stdout, for people without mosquitto-clients (and for tests). It talks to the broker the
//! agent uses: `--url`, or the `[mqtt]` table of `--config` (URL, TLS, credentials), or by default
//! the embedded broker on 127.0.0.1:1883.
//!
//! A plain rumqttc client with a clean session and a client id of its own (`ganglion-sub-<pid>`,
//! so it never takes over the agent's session), no last will, no durable queue: it only reads.
//! If the first connection fails it exits with the reason; once connected it reconnects (and
//! subscribes again) after a lost connection.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, MqttOptions, NetworkOptions, Outgoing, Packet,
    SubscribeReasonCode, TlsConfiguration, Transport,
};
use thiserror::Error;
use tracing::{info, warn};

use crate::mqtt::config::{BrokerTarget, ConfigError as MqttConfigError, ResolvedMqtt};
use crate::mqtt::{validate_filter, MqttConfig, QoS, ValidationError};

/// Pause before reconnecting after an established connection was lost.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
/// Longest wait for the DISCONNECT to go out once `--count` messages were printed.
const DISCONNECT_GRACE: Duration = Duration::from_secs(1);

/// Arguments of `ganglion sub`.
#[derive(Debug, Clone, clap::Args)]
pub struct SubArgs {
    /// Topic filter to subscribe to (`+` and `#` wildcards allowed), e.g. 'ganglion/#'.
    pub filter: String,
    /// Broker URL, mqtt://host[:port] or mqtts://host[:port] (default: the `[mqtt]` url of
    /// --config, else the embedded broker on mqtt://127.0.0.1:1883).
    #[arg(long)]
    pub url: Option<String>,
    /// Take the broker settings (url, TLS files, credentials) from this ganglion.toml.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// QoS of the subscription: 0, 1 or 2.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Exit after printing this many messages (default: run until interrupted).
    #[arg(long)]
    pub count: Option<u64>,
}

/// Why `ganglion sub` stopped before it was done.
#[derive(Debug, Error)]
pub enum SubError {
    /// The config file could not be read or parsed.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A broker setting (from --url or `[mqtt]`) is unusable.
    #[error("{0}")]
    Settings(String),
    /// The topic filter is not a valid MQTT filter.
    #[error("filter {filter:?}: {source}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// What is wrong with it.
        source: ValidationError,
    },
    /// The first connection to the broker failed.
    #[error("cannot connect to the MQTT broker at {addr}: {message}")]
    Connect {
        /// host:port tried.
        addr: String,
        /// rumqttc's reason.
        message: String,
    },
    /// The broker answered the SUBSCRIBE with a failure.
    #[error("the MQTT broker refused the subscription to {0:?}")]
    Refused(String),
    /// Writing to stdout failed.
    #[error("cannot write to stdout: {0}")]
    Output(io::Error),
    /// The async runtime could not be created.
    #[error("cannot start: {0}")]
    Runtime(io::Error),
}

/// Turns received messages into output lines and knows when `--count` is reached.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    printed: u64,
    limit: Option<u64>,
}

impl Printer {
    /// A printer that is done after `limit` messages (never with `None`).
    pub fn new(limit: Option<u64>) -> Printer {
        Printer { printed: 0, limit }
    }

    /// The line for one message: topic, a space, the payload bytes as received, a newline.
    pub fn line(&mut self, topic: &str, payload: &[u8]) -> Vec<u8> {
        self.printed += 1;
        let mut line = Vec::with_capacity(topic.len() + payload.len() + 2);
        line.extend_from_slice(topic.as_bytes());
        line.push(b' ');
        line.extend_from_slice(payload);
        line.push(b'\n');
        line
    }

    /// True once `--count` messages were printed.
    pub fn done(&self) -> bool {
        self.limit.is_some_and(|n| self.printed >= n)
    }

    /// Messages printed so far.
    pub fn printed(&self) -> u64 {
        self.printed
    }
}

/// The connection settings `args` describe: `--url` over `--config`'s `[mqtt]` over defaults.
pub fn settings(args: &SubArgs) -> Result<ResolvedMqtt, SubError> {
    validate_filter(&args.filter).map_err(|source| SubError::Filter {
        filter: args.filter.clone(),
        source,
    })?;
    let (mut mqtt, agent_id, state_dir) = match &args.config {
        Some(path) => {
            let cfg = crate::config::Config::load(path)?;
            let mqtt = cfg.mqtt.clone().unwrap_or_default();
            (mqtt, cfg.agent.id.clone(), cfg.agent.state_dir.clone())
        }
        None => (
            MqttConfig::default(),
            "ganglion-sub".to_owned(),
            PathBuf::from("."),
        ),
    };
    if let Some(url) = &args.url {
        mqtt.url = Some(url.clone());
    }
    let mut resolved = mqtt
        .resolve(&agent_id, &state_dir)
        .map_err(|e| match (&args.url, e) {
            (
                Some(_),
                MqttConfigError::Invalid {
                    field: "mqtt.url",
                    message,
                },
            ) => SubError::Settings(format!("--url {message}")),
            (_, e) => SubError::Settings(e.to_string()),
        })?;
    // Never the agent's own client id: the broker would disconnect the agent for it.
    resolved.client_id = format!("ganglion-sub-{}", std::process::id());
    Ok(resolved)
}

fn options(cfg: &ResolvedMqtt) -> MqttOptions {
    let (host, port) = cfg.target.addr();
    let mut options = MqttOptions::new(cfg.client_id.clone(), host, port);
    options
        .set_keep_alive(cfg.keep_alive)
        .set_clean_session(true)
        .set_max_packet_size(cfg.max_packet_size, cfg.max_packet_size);
    if let Some((user, password)) = &cfg.credentials {
        options.set_credentials(user.clone(), password.expose());
    }
    if let BrokerTarget::Remote { tls: Some(tls), .. } = &cfg.target {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            tls.clone(),
        )));
    }
    options
}

fn to_rumqttc(qos: QoS) -> rumqttc::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

/// Runs `ganglion sub`: subscribes and writes a line per message to `out` until `--count`
/// messages were printed (or forever). Returns how many were printed.
pub fn run(args: &SubArgs, out: &mut dyn Write) -> Result<u64, SubError> {
    let cfg = settings(args)?;
    let qos = QoS::from_number(i64::from(args.qos)).map_err(|source| SubError::Filter {
        filter: args.filter.clone(),
        source,
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SubError::Runtime)?;
    runtime.block_on(subscribe_and_print(
        &cfg,
        &args.filter,
        qos,
        Printer::new(args.count),
        out,
    ))
}

async fn subscribe_and_print(
    cfg: &ResolvedMqtt,
    filter: &str,
    qos: QoS,
    mut printer: Printer,
    out: &mut dyn Write,
) -> Result<u64, SubError> {
    let (host, port) = cfg.target.addr();
    let addr = format!("{host}:{port}");
    let (client, mut eventloop) = AsyncClient::new(options(cfg), 16);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let mut connected = false;
    if printer.done() {
        return Ok(0);
    }
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                connected = true;
                info!("connected to the MQTT broker at {addr}");
                // A clean session: subscribe on every connect.
                if let Err(e) = client.try_subscribe(filter, to_rumqttc(qos)) {
                    warn!(error = %e, "could not send SUBSCRIBE");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => match ack.return_codes.first() {
                Some(SubscribeReasonCode::Success(granted)) => {
                    info!(granted = *granted as u8, "subscribed to {filter} at {addr}");
                }
                _ => return Err(SubError::Refused(filter.to_owned())),
            },
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let line = printer.line(&p.topic, &p.payload);
                match out.write_all(&line).and_then(|()| out.flush()) {
                    Ok(()) => {}
                    // `ganglion sub ... | head`: the reader is gone, which is a normal end.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(printer.printed()),
                    Err(e) => return Err(SubError::Output(e)),
                }
                if printer.done() {
                    disconnect(&client, &mut eventloop).await;
                    return Ok(printer.printed());
                }
            }
            Ok(_) => {}
            Err(e) if !connected => {
                return Err(SubError::Connect {
                    addr,
                    message: describe(&e),
                })
            }
            Err(e) => {
                warn!(error = %describe(&e), "MQTT connection to {addr} lost; reconnecting");
                tokio::time::sleep(RECONNECT_DELAY).await;
            }
        }
    }
}

/// Sends DISCONNECT and waits (briefly) until it is written.
async fn disconnect(client: &AsyncClient, eventloop: &mut rumqttc::EventLoop) {
    if client.try_disconnect().is_err() {
        return;
    }
    let _ = tokio::time::timeout(DISCONNECT_GRACE, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// rumqttc's error with its cause (TLS and I/O errors hide the useful part in the source).
fn describe(e: &ConnectionError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(filter: &str, url: Option<&str>) -> SubArgs {
        SubArgs {
            filter: filter.to_owned(),
            url: url.map(str::to_owned),
            config: None,
            qos: 0,
            count: None,
        }
    }

    #[test]
    fn printer_formats_lines_and_counts() {
        let mut p = Printer::new(Some(2));
        assert!(!p.done());
        assert_eq!(p.line("a/b", b"21.5"), b"a/b 21.5\n".to_vec());
        assert!(!p.done());
        assert_eq!(p.line("a/c", b"\xff{}"), b"a/c \xff{}\n".to_vec());
        assert!(p.done());
        assert_eq!(p.printed(), 2);
        let mut forever = Printer::new(None);
        forever.line("t", b"");
        assert!(!forever.done());
        assert!(Printer::new(Some(0)).done());
    }

    #[test]
    fn default_is_the_embedded_broker_with_an_own_client_id() {
        let cfg = settings(&args("ganglion/#", None)).expect("settings");
        assert_eq!(cfg.target.addr(), ("127.0.0.1".to_owned(), 1883));
        assert!(
            cfg.client_id.starts_with("ganglion-sub-"),
            "{}",
            cfg.client_id
        );
        let cfg = settings(&args("x", Some("mqtt://127.0.0.1:18999"))).expect("settings");
        assert_eq!(cfg.target.addr(), ("127.0.0.1".to_owned(), 18999));
    }

    #[test]
    fn bad_url_and_filter_are_named() {
        let e = settings(&args("x", Some("http://127.0.0.1"))).expect_err("bad url");
        assert!(
            e.to_string()
                .starts_with("--url \"http://127.0.0.1\": must"),
            "{e}"
        );
        let e = settings(&args("a/#/b", None)).expect_err("bad filter");
        assert!(e.to_string().contains("a/#/b"), "{e}");
    }

    #[test]
    fn config_supplies_the_broker() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("ganglion.toml");
        std::fs::write(
            &path,
            "[agent]\nid = \"gw\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:18998\"\nclient_id = \"gw\"\n",
        )
        .expect("write");
        let mut a = args("#", None);
        a.config = Some(path.clone());
        let cfg = settings(&a).expect("settings");
        assert_eq!(cfg.target.addr(), ("127.0.0.1".to_owned(), 18998));
        assert_ne!(
            cfg.client_id, "gw",
            "must not take over the agent's session"
        );
        a.url = Some("mqtt://127.0.0.1:18997".into());
        assert_eq!(settings(&a).expect("settings").target.addr().1, 18997);
        a.config = Some(dir.path().join("missing.toml"));
        let e = settings(&a).expect_err("missing file");
        assert!(e.to_string().contains("missing.toml"), "{e}");
    }

    #[test]
    fn connection_refused_is_reported() {
        let port = {
            let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
            l.local_addr().expect("addr").port()
        };
        let mut out = Vec::new();
        let e = run(
            &args("x", Some(&format!("mqtt://127.0.0.1:{port}"))),
            &mut out,
        )
        .expect_err("nothing listens");
        assert!(
            matches!(&e, SubError::Connect { addr, .. } if addr == &format!("127.0.0.1:{port}")),
            "{e}"
        );
        assert!(out.is_empty());
    }
}
