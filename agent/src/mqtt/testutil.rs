//! Test helpers: a real Mosquitto on a free 127.0.0.1 port (killed on drop) and test
//! certificates made with rcgen. Requires the Debian `mosquitto` package.
//!
//! The same logic can drive end-to-end tests: [`Mosquitto::start`] writes a config file into a
//! temporary directory, starts `mosquitto -c <file>`, and waits until the port accepts.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

/// Waits until 127.0.0.1:`port` accepts TCP connections; false on timeout.
pub fn wait_accepting(port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        sleep(Duration::from_millis(20));
    }
    false
}

/// Certificates for TLS tests: a CA, a server certificate for `localhost`/127.0.0.1 and a
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
            .push(DnType::CommonName, "ganglion test CA");
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
    conf: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts a plain (anonymous, no persistence) broker on a free port.
    pub fn start() -> Mosquitto {
        Mosquitto::start_with("")
    }

    /// Starts a broker whose listener section gets `extra` lines (e.g. TLS settings).
    pub fn start_with(extra: &str) -> Mosquitto {
        for _ in 0..5 {
            if let Some(broker) = Mosquitto::try_start(free_port(), false, extra) {
                return broker;
            }
        }
        panic!("mosquitto did not start (is the Debian package installed?)");
    }

    /// Starts a plain broker on a given port; `persistent` keeps sessions and queued messages
    /// across a graceful stop ([`Mosquitto::stop_graceful`]) and restart.
    pub fn start_on(port: u16, persistent: bool) -> Mosquitto {
        Mosquitto::try_start(port, persistent, "")
            .unwrap_or_else(|| panic!("mosquitto did not start on 127.0.0.1:{port}"))
    }

    fn try_start(port: u16, persistent: bool, extra: &str) -> Option<Mosquitto> {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("mosquitto.conf");
        let log = dir.path().join("mosquitto.log");
        let persistence = if persistent {
            format!(
                "persistence true\npersistence_location {}/\nautosave_interval 0\n",
                dir.path().display()
            )
        } else {
            "persistence false\n".to_owned()
        };
        let text = format!(
            "user root\n{persistence}log_dest file {}\nlog_type error\nlog_type warning\n\
             log_type notice\nmax_queued_messages 100000\nlistener {port} 127.0.0.1\n\
             allow_anonymous true\n{extra}\n",
            log.display()
        );
        fs::write(&conf, text).expect("write mosquitto.conf");
        let mut broker = Mosquitto {
            child: None,
            port,
            conf,
            _dir: dir,
        };
        if broker.spawn() {
            Some(broker)
        } else {
            let text = fs::read_to_string(&log).unwrap_or_default();
            tracing::warn!(port, log = %text, "mosquitto failed to start");
            None
        }
    }

    /// The broker's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self._dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Starts a TLS-only broker with the given certificates; `require_client_cert` turns on
    /// mutual TLS.
    pub fn start_tls(certs: &TestCerts, require_client_cert: bool) -> Mosquitto {
        Mosquitto::start_with(&format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
            certs.ca().display(),
            certs.server_cert().display(),
            certs.server_key().display(),
            require_client_cert
        ))
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if let Some(child) = self.child.as_mut() {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    self.child = None;
                    return false; // exited: port taken or bad config
                }
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            sleep(Duration::from_millis(20));
        }
        self.stop();
        false
    }

    /// The broker's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the broker (SIGKILL) and waits for it to exit.
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

    /// Starts the broker again on the same port with the same configuration.
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
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*open_rx.borrow() {
                    continue; // refused: dropped at once
                }
                let mut gate = open_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
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
        });
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
