//! Test helpers for the MQTT module: the Mosquitto harness shared with the end-to-end tests
//! (one copy, tests/common/mosquitto.rs) and a TCP gate that runs on the test's own tokio
//! runtime. Requires the Debian `mosquitto` package.

#[allow(dead_code)] // the e2e tests use parts the library's tests do not
#[path = "../../../tests/common/mosquitto.rs"]
mod shared;

pub use shared::{free_port, Mosquitto, TestCerts};

#[allow(dead_code)] // its runtime-owning gate is for the synchronous e2e tests
#[path = "../../../tests/common/gate.rs"]
mod gate;

/// A TCP forwarder from a free 127.0.0.1 port to a broker port that the test can cut
/// (existing connections are dropped, new ones refused) and restore: a network outage as seen
/// by one client, while other clients stay connected to the broker. Runs on the current tokio
/// runtime.
pub struct TcpGate {
    port: u16,
    open: tokio::sync::watch::Sender<bool>,
}

impl TcpGate {
    /// Starts forwarding a new port to 127.0.0.1:`target` (open).
    pub async fn start(target: u16) -> TcpGate {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind gate");
        let port = listener.local_addr().expect("gate addr").port();
        let (open, open_rx) = tokio::sync::watch::channel(true);
        tokio::spawn(gate::forward(listener, target, open_rx));
        TcpGate { port, open }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cuts every connection through the gate and refuses new ones.
    pub fn close(&self) {
        self.open.send_replace(false);
    }

    /// Lets connections through again.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}
