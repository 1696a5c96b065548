//! Embedded MQTT broker (rumqttd) on 127.0.0.1, started when `[mqtt]` has no `url` so a fresh
//! machine shows the whole flow; local devices can publish to it too.
//!
//! rumqttd's `Broker::start` blocks (it runs on its own thread here), only logs a failed bind,
//! and cannot be shut down: so the port is probed before starting and readiness is confirmed
//! by connecting to it. The broker lives until the process exits.

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{error, info};

/// How long `start` waits for the broker to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the embedded broker could not be started.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// Something already listens on the port (or binding is not allowed).
    #[error("embedded MQTT broker: cannot listen on 127.0.0.1:{port}: {source} (set mqtt.broker_port or mqtt.url)")]
    Bind {
        /// The configured port.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// The broker thread could not be created.
    #[error("embedded MQTT broker: cannot start its thread: {0}")]
    Thread(std::io::Error),
    /// The broker did not accept connections in time.
    #[error("embedded MQTT broker did not accept connections on 127.0.0.1:{0} within 5 s")]
    NotReady(u16),
}

/// A running embedded broker.
#[derive(Debug)]
pub struct EmbeddedBroker {
    port: u16,
}

impl EmbeddedBroker {
    /// Port it listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }
}

fn config(port: u16, max_packet_size: usize) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: max_packet_size,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "ganglion-v4".to_owned(),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1_000,
            max_outgoing_packet_count: 200,
            // Memory per topic: segments of 1 MiB, at most 4 (small for a gateway).
            max_segment_size: 1024 * 1024,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    }
}

/// Starts the broker on 127.0.0.1:`port` and returns once it accepts connections. Blocks for
/// up to a few seconds: call it before the async runtime starts or via `spawn_blocking`.
pub fn start(port: u16, max_packet_size: usize) -> Result<EmbeddedBroker, BrokerError> {
    // rumqttd only logs a failed bind, so find out ourselves first.
    drop(
        TcpListener::bind(("127.0.0.1", port))
            .map_err(|source| BrokerError::Bind { port, source })?,
    );
    let config = config(port, max_packet_size);
    std::thread::Builder::new()
        .name("mqtt-broker".to_owned())
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(e) = broker.start() {
                error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(BrokerError::Thread)?;
    let begin = Instant::now();
    while begin.elapsed() < READY_TIMEOUT {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            info!(port, "embedded MQTT broker listening on 127.0.0.1");
            return Ok(EmbeddedBroker { port });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(BrokerError::NotReady(port))
}

#[cfg(test)]
mod tests {
    use super::super::config::ResolvedMqtt;
    use super::super::testutil::free_port;
    use super::super::{MqttHandle, QoS};
    use super::*;

    #[test]
    fn busy_port_is_reported() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let e = start(port, 1 << 20).expect_err("port taken");
        assert!(
            matches!(e, BrokerError::Bind { port: p, .. } if p == port),
            "{e}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn embedded_broker_round_trip() {
        let port = free_port();
        let broker = tokio::task::spawn_blocking(move || start(port, 1 << 20))
            .await
            .expect("join")
            .expect("broker starts");
        assert_eq!(broker.port(), port);
        let dir = tempfile::tempdir().expect("tmp");
        let (sub, _) = MqttHandle::start(ResolvedMqtt::local("sub", port, &dir.path().join("s")))
            .expect("start sub");
        let (publ, _) = MqttHandle::start(ResolvedMqtt::local("pub", port, &dir.path().join("p")))
            .expect("start pub");
        let mut s = tokio::time::timeout(
            Duration::from_secs(20),
            sub.subscribe("t/emb", QoS::AtLeastOnce).expect("filter"),
        )
        .await
        .expect("suback in time")
        .expect("subscribed");
        for i in 0..10u32 {
            publ.publish("t/emb", i.to_string().into_bytes(), QoS::AtLeastOnce, false)
                .expect("valid")
                .await
                .expect("queued");
        }
        for i in 0..10u32 {
            let d = tokio::time::timeout(Duration::from_secs(20), s.recv())
                .await
                .expect("message in time")
                .expect("open");
            assert_eq!(&*d.payload, i.to_string().as_bytes());
        }
        let mut stats = publ.watch_stats();
        tokio::time::timeout(Duration::from_secs(20), stats.wait_for(|s| s.acked == 10))
            .await
            .expect("acks in time")
            .expect("watch");
        publ.shutdown().await;
        sub.shutdown().await;
    }
}
