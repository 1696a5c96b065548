//! A TCP gate for the end-to-end tests: it owns its runtime, so a synchronous test can cut and
//! restore one client's path to the broker.

/// A TCP forwarder from a free 127.0.0.1 port to a broker port that the test can cut
/// (connections dropped, new ones accepted and dropped at once) and restore: an outage as seen
/// by one client while other clients stay connected. Runs on a small runtime of its own.
pub struct TcpGate {
    port: u16,
    open: tokio::sync::watch::Sender<bool>,
    _rt: tokio::runtime::Runtime,
}

impl TcpGate {
    /// Starts forwarding a new port to 127.0.0.1:`target`, `open` or closed.
    pub fn start(target: u16, open: bool) -> TcpGate {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("gate runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .expect("bind gate");
        let port = listener.local_addr().expect("gate addr").port();
        let (open_tx, open_rx) = tokio::sync::watch::channel(open);
        rt.spawn(forward(listener, target, open_rx));
        TcpGate {
            port,
            open: open_tx,
            _rt: rt,
        }
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

/// Forwards every connection `listener` accepts to 127.0.0.1:`target` while `open` says so:
/// closing drops the connections through it, and those accepted while closed are dropped at
/// once. Shared with the library's MQTT tests (agent/src/mqtt/testutil.rs), whose gate runs
/// on the test's own runtime.
pub async fn forward(
    listener: tokio::net::TcpListener,
    target: u16,
    open: tokio::sync::watch::Receiver<bool>,
) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        if !*open.borrow() {
            continue; // closed: dropped at once
        }
        let mut gate = open.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
            else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = gate.wait_for(|open| !*open) => {}
            }
        });
    }
}
