//! A real Mosquitto for the MQTT tests — the library's own (`agent/src/mqtt/testutil.rs` includes
//! this file) and the end-to-end ones: a broker on a free 127.0.0.1 port with a generated config
//! (persistence on or off, an extra TLS listener with rcgen certificates), stop/restart, killed on
//! drop; and an [`Observer`], a plain rumqttc client that watches what reaches the broker
//! independently of the agent's code. The TCP gates that cut one client's path live beside their
//! users (tests/common/gate.rs, a thread-owned one; testutil.rs, one on the caller's runtime).
//! Requires the Debian `mosquitto` package (tests/setup.sh installs it). Loopback only.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Longest wait for a broker to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Path of the mosquitto binary (Debian installs it in /usr/sbin, often not on PATH).
pub fn mosquitto_binary() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let candidate = Path::new(dir).join("mosquitto");
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from("/usr/sbin/mosquitto")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Certificates for TLS tests: a CA, a server certificate for `localhost`/127.0.0.1 (and the
/// name `broker.test`, for server-name overrides) and a
/// client certificate, all signed by the CA, written as PEM files into a temporary directory.
pub struct TestCerts {
    dir: tempfile::TempDir,
}

impl TestCerts {
    /// Generates a fresh CA with server and client certificates.
    pub fn generate() -> TestCerts {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "ganglion e2e test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, cn: &str| {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::new(names).expect("params");
            params.distinguished_name.push(DnType::CommonName, cn);
            params.use_authority_key_identifier_extension = true;
            let cert = params.signed_by(&key, &issuer).expect("sign");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into(), "broker.test".into()],
            "localhost",
        );
        let (client_pem, client_key) = leaf(vec!["ganglion-client".into()], "ganglion-client");
        let write =
            |name: &str, text: &str| fs::write(dir.path().join(name), text).expect("write pem");
        write("ca.pem", &ca_cert.pem());
        write("server.pem", &server_pem);
        write("server.key", &server_key);
        write("client.pem", &client_pem);
        write("client.key", &client_key);
        TestCerts { dir }
    }

    /// PEM file of the CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    /// PEM file of the server certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }
    /// PEM file of the server key.
    pub fn server_key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }
    /// PEM file of the client certificate.
    pub fn client_cert(&self) -> PathBuf {
        self.dir.path().join("client.pem")
    }
    /// PEM file of the client key.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client.key")
    }
}

/// A Mosquitto broker process on 127.0.0.1, killed when dropped.
pub struct Mosquitto {
    child: Option<Child>,
    port: u16,
    tls_port: Option<u16>,
    conf: PathBuf,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// A plain (anonymous, no persistence) broker on a free port.
    pub fn start() -> Mosquitto {
        for _ in 0..5 {
            if let Some(b) = Mosquitto::try_start(free_port(), false, None, "") {
                return b;
            }
        }
        panic!("mosquitto did not start (is the Debian package installed?)");
    }

    /// A plain broker on `port` with `extra` lines appended to its config (e.g. `acl_file`,
    /// `max_packet_size`), which apply to the whole broker.
    pub fn start_with(port: u16, extra: &str) -> Mosquitto {
        Mosquitto::try_start(port, false, None, extra)
            .unwrap_or_else(|| panic!("mosquitto did not start on 127.0.0.1:{port} with {extra:?}"))
    }

    /// A plain broker on `port`; `persistent` keeps sessions and queued messages across a
    /// graceful stop ([`Mosquitto::stop_graceful`]) and [`Mosquitto::restart`].
    pub fn start_on(port: u16, persistent: bool) -> Mosquitto {
        Mosquitto::try_start(port, persistent, None, "")
            .unwrap_or_else(|| panic!("mosquitto did not start on 127.0.0.1:{port}"))
    }

    /// A broker with a plain listener ([`Mosquitto::port`]) and a TLS listener
    /// ([`Mosquitto::tls_port`]) using `certs`; `require_client_cert` turns on mutual TLS.
    pub fn start_tls(certs: &TestCerts, require_client_cert: bool) -> Mosquitto {
        for _ in 0..5 {
            let tls = TlsListener {
                port: free_port(),
                lines: format!(
                    "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {require_client_cert}\n",
                    certs.ca().display(),
                    certs.server_cert().display(),
                    certs.server_key().display(),
                ),
            };
            if let Some(b) = Mosquitto::try_start(free_port(), false, Some(tls), "") {
                return b;
            }
        }
        panic!("mosquitto with a TLS listener did not start");
    }

    fn try_start(
        port: u16,
        persistent: bool,
        tls: Option<TlsListener>,
        extra: &str,
    ) -> Option<Mosquitto> {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("mosquitto.conf");
        let persistence = if persistent {
            format!(
                "persistence true\npersistence_location {}/\nautosave_interval 0\n",
                dir.path().display()
            )
        } else {
            "persistence false\n".to_owned()
        };
        let tls_section = tls.as_ref().map_or(String::new(), |t| {
            format!("listener {} 127.0.0.1\n{}", t.port, t.lines)
        });
        // Root drops privileges to `user`; stay root so the log in the temp dir stays writable.
        // TCP_NODELAY: without it a small packet can wait for a delayed ACK (~40 ms).
        let text = format!(
            "user root\n{persistence}log_dest file {}\nlog_type error\nlog_type warning\n\
             log_type notice\nmax_queued_messages 100000\nallow_anonymous true\n\
             set_tcp_nodelay true\n{extra}\n\
             listener {port} 127.0.0.1\n{tls_section}",
            dir.path().join("mosquitto.log").display()
        );
        fs::write(&conf, text).expect("write mosquitto.conf");
        let mut broker = Mosquitto {
            child: None,
            port,
            tls_port: tls.map(|t| t.port),
            conf,
            dir,
        };
        broker.spawn().then_some(broker)
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto (is the Debian package installed?)");
        self.child = Some(child);
        let ports: Vec<u16> = std::iter::once(self.port).chain(self.tls_port).collect();
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if let Some(child) = self.child.as_mut() {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    self.child = None;
                    return false; // exited: port taken or bad config
                }
            }
            if ports
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            {
                return true;
            }
            sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }

    /// The plain listener's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS listener's port (brokers from [`Mosquitto::start_tls`]).
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("this broker has no TLS listener")
    }

    /// The broker's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Kills the broker (SIGKILL: sessions of a persistent broker since the last save are lost).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker with SIGTERM (it saves its persistence file) and waits for it to exit.
    pub fn stop_graceful(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Starts the broker again (stopping it first if it runs) with the same port and config.
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..50 {
            if self.spawn() {
                return;
            }
            sleep(Duration::from_millis(100));
        }
        panic!("mosquitto did not restart on port {}", self.port);
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

struct TlsListener {
    port: u16,
    lines: String,
}

/// A message seen by an [`Observer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Topic it was published to.
    pub topic: String,
    /// Payload as text (lossy).
    pub text: String,
    /// Retained flag as delivered.
    pub retain: bool,
}

/// An independent MQTT client (plain rumqttc, not the agent's code) subscribed to some filters
/// at QoS 1 on a plain listener; reconnects after broker restarts (re-subscribing when the
/// session is gone). Stops on drop.
pub struct Observer {
    client: rumqttc::Client,
    rx: mpsc::Receiver<Seen>,
    connects: Arc<AtomicUsize>,
    subacks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Observer {
    /// Connects as `client_id` to 127.0.0.1:`port` and subscribes to `filters` (QoS 1); returns
    /// once the broker acknowledged the subscription. `persistent`: a session the broker keeps
    /// (with queued messages) while this client or the broker is away.
    pub fn connect(port: u16, client_id: &str, filters: &[&str], persistent: bool) -> Observer {
        let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(!persistent)
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = rumqttc::Client::new(options, 64);
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        connection.eventloop.set_network_options(network);
        let (tx, rx) = mpsc::channel();
        let connects = Arc::new(AtomicUsize::new(0));
        let subacks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let filters: Vec<String> = filters.iter().map(|f| (*f).to_owned()).collect();
        let thread = {
            let (client, connects, subacks, stop) = (
                client.clone(),
                connects.clone(),
                subacks.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                use rumqttc::{Event, Packet};
                loop {
                    let Ok(event) = connection.recv() else { return };
                    match event {
                        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                            connects.fetch_add(1, Ordering::SeqCst);
                            if !ack.session_present {
                                for f in &filters {
                                    let _ =
                                        client.try_subscribe(f.clone(), rumqttc::QoS::AtLeastOnce);
                                }
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            subacks.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let seen = Seen {
                                topic: p.topic.clone(),
                                text: String::from_utf8_lossy(&p.payload).into_owned(),
                                retain: p.retain,
                            };
                            if tx.send(seen).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            if stop.load(Ordering::SeqCst) {
                                return;
                            }
                            sleep(Duration::from_millis(100));
                        }
                    }
                }
            })
        };
        let observer = Observer {
            client,
            rx,
            connects,
            subacks,
            stop,
            thread: Some(thread),
        };
        observer.wait_until("the observer's SUBACK", |o| o.subacks() >= 1);
        observer
    }

    /// CONNACKs received so far (grows with every reconnect).
    pub fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }

    /// SUBACKs received so far.
    pub fn subacks(&self) -> usize {
        self.subacks.load(Ordering::SeqCst)
    }

    /// Waits (at most 30 s, else panics) until `pred` holds.
    #[track_caller]
    pub fn wait_until(&self, what: &str, pred: impl Fn(&Observer) -> bool) {
        let start = Instant::now();
        while !pred(self) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}"
            );
            sleep(Duration::from_millis(10));
        }
    }

    /// The next message, waiting at most `limit`.
    pub fn recv(&self, limit: Duration) -> Option<Seen> {
        self.rx.recv_timeout(limit).ok()
    }

    /// The next message (panics after 30 s).
    #[track_caller]
    pub fn expect(&self, what: &str) -> Seen {
        self.recv(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("no message for {what} within 30 s"))
    }

    /// Messages already received and not yet taken, without waiting.
    pub fn drain(&self) -> Vec<Seen> {
        self.rx.try_iter().collect()
    }

    /// Publishes at QoS 1 (fire and forget from the caller's view).
    pub fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, retain, payload.as_bytes())
            .expect("observer publish");
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.client.disconnect();
        if let Some(t) = self.thread.take() {
            // The DISCONNECT ends the connection and the loop; never hang a test on it.
            let start = Instant::now();
            while !t.is_finished() && start.elapsed() < Duration::from_secs(2) {
                sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}
