//! A transparent TCP relay between a client under test and the broker that timestamps MQTT
//! packets as they cross it: the "on the wire" clock of the latency and start-up figures, the
//! same for every runtime. Timestamps are CLOCK_MONOTONIC nanoseconds taken right after the
//! `read` that completed the packet, on the relay's own thread (blocking I/O, TCP_NODELAY both
//! ways), before the bytes are forwarded.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use ganglion_devices::gpio::monotonic_ns;

/// A packet seen by the relay.
#[derive(Debug, Clone)]
pub enum Seen {
    /// Client → broker CONNECT.
    Connect {
        /// CLOCK_MONOTONIC ns.
        t: u64,
    },
    /// Client → broker PUBLISH.
    Publish {
        /// Connection number.
        conn: u64,
        /// CLOCK_MONOTONIC ns.
        t: u64,
        /// Topic name.
        topic: String,
        /// Packet id (0 for QoS 0).
        pkid: u16,
        /// Payload bytes.
        payload: Vec<u8>,
    },
    /// Broker → client PUBACK.
    PubAck {
        /// Connection number.
        conn: u64,
        /// CLOCK_MONOTONIC ns.
        t: u64,
        /// Packet id acknowledged.
        pkid: u16,
    },
}

/// The relay: listens on its own 127.0.0.1 port, forwards each connection to the broker.
pub struct Relay {
    port: u16,
    stop: Arc<AtomicBool>,
    rx: Receiver<Seen>,
}

impl Relay {
    /// Starts relaying 127.0.0.1:`port()` to 127.0.0.1:`upstream`.
    pub fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("relay: bind 127.0.0.1:0");
        let port = listener.local_addr().expect("relay: local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("relay-accept".into())
            .spawn(move || {
                let conns = AtomicU64::new(0);
                for client in listener.incoming() {
                    if flag.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let conn = conns.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Err(e) = relay(client, upstream, conn, tx.clone()) {
                        tracing::warn!("relay: connection {conn}: {e}");
                    }
                }
            })
            .expect("relay: spawn the accept thread");
        Relay { port, stop, rx }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Observed packets, in the order the relay's threads reported them.
    pub fn seen(&self) -> &Receiver<Seen> {
        &self.rx
    }

    /// Forgets everything observed so far.
    pub fn drain(&self) {
        while self.rx.try_recv().is_ok() {}
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so its thread ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn relay(client: TcpStream, upstream: u16, conn: u64, tx: Sender<Seen>) -> std::io::Result<()> {
    let broker = TcpStream::connect(("127.0.0.1", upstream))?;
    client.set_nodelay(true)?;
    broker.set_nodelay(true)?;
    let (c2, b2) = (client.try_clone()?, broker.try_clone()?);
    let up = tx.clone();
    std::thread::Builder::new()
        .name(format!("relay-up-{conn}"))
        .spawn(move || pump(client, broker, conn, Direction::Up, up))?;
    std::thread::Builder::new()
        .name(format!("relay-down-{conn}"))
        .spawn(move || pump(b2, c2, conn, Direction::Down, tx))?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client → broker.
    Up,
    /// Broker → client.
    Down,
}

/// Copies `from` → `to`, reporting the packets of interest; closes both when either ends.
fn pump(mut from: TcpStream, mut to: TcpStream, conn: u64, dir: Direction, tx: Sender<Seen>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut parser = Parser::default();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let t = monotonic_ns();
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        parser.feed(&buf[..n], |kind, body| {
            if let Some(seen) = observe(dir, conn, t, kind, body) {
                let _ = tx.send(seen);
            }
        });
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

fn observe(dir: Direction, conn: u64, t: u64, first: u8, body: &[u8]) -> Option<Seen> {
    match (dir, first >> 4) {
        (Direction::Up, 1) => Some(Seen::Connect { t }),
        (Direction::Up, 3) => {
            let qos = (first >> 1) & 3;
            let len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
            let topic = String::from_utf8_lossy(body.get(2..2 + len)?).into_owned();
            let mut rest = 2 + len;
            let mut pkid = 0;
            if qos > 0 {
                pkid = u16::from_be_bytes([*body.get(rest)?, *body.get(rest + 1)?]);
                rest += 2;
            }
            Some(Seen::Publish {
                conn,
                t,
                topic,
                pkid,
                payload: body.get(rest..)?.to_vec(),
            })
        }
        (Direction::Down, 4) => Some(Seen::PubAck {
            conn,
            t,
            pkid: u16::from_be_bytes([*body.first()?, *body.get(1)?]),
        }),
        _ => None,
    }
}

/// Splits an MQTT byte stream into packets (fixed header byte + body).
#[derive(Default)]
struct Parser {
    pending: Vec<u8>,
}

impl Parser {
    fn feed(&mut self, bytes: &[u8], mut each: impl FnMut(u8, &[u8])) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        while let Some((first, start, len)) = header(&self.pending[at..]) {
            if self.pending.len() - at < start + len {
                break;
            }
            each(first, &self.pending[at + start..at + start + len]);
            at += start + len;
        }
        self.pending.drain(..at);
    }
}

/// (first byte, header length, remaining length) of the packet at the start of `b`, if complete.
fn header(b: &[u8]) -> Option<(u8, usize, usize)> {
    let first = *b.first()?;
    let mut len = 0usize;
    for i in 0..4 {
        let byte = *b.get(1 + i)?;
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((first, 2 + i, len));
        }
    }
    None
}
