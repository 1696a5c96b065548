//! A Mosquitto broker on a free 127.0.0.1 port for one benchmark run, stopped when dropped.
//! Its queues are unlimited so the verifying subscriber never loses a QoS 1 message to a full
//! queue (the timed runs have no subscriber at all).

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mosquitto::{free_port, mosquitto_binary};

/// A running Mosquitto.
pub struct Broker {
    child: Child,
    port: u16,
    /// The broker's `-h` banner, e.g. "mosquitto version 2.0.11".
    pub version: String,
}

impl Broker {
    /// Starts Mosquitto with its config in `dir`; panics if it does not listen within 10 s.
    pub fn start(dir: &Path) -> Broker {
        let bin = mosquitto_binary();
        let version = Command::new(&bin)
            .arg("-h")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "mosquitto (version unknown)".to_owned());
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.join(format!("mosquitto-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                     max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages 0\n\
                     log_dest stderr\nlog_type error\nlog_type warning\n"
                ),
            )
            .expect("write mosquitto.conf");
            let mut child = Command::new(&bin)
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {} ({e}); install it: apt-get install -y mosquitto",
                        bin.display()
                    )
                });
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Broker {
                        child,
                        port,
                        version,
                    };
                }
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break; // the port was taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("mosquitto did not start on 127.0.0.1");
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id (for its CPU time during a run).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
