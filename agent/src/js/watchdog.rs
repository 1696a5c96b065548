//! systemd integration of the event loop: `READY=1` once the first script is running, and
//! `WATCHDOG=1` pings sent from the loop itself, so a loop that stops turning stops the pings and
//! systemd (`WatchdogSec=`) restarts the agent. Without systemd (no `NOTIFY_SOCKET`) it is inert.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// When to ping: plain logic, driven by the loop's clock.
#[derive(Debug, Clone)]
pub struct Watchdog {
    every: Option<Duration>,
    last: Option<Instant>,
}

impl Watchdog {
    /// Ping at half the period systemd asks for (`WATCHDOG_USEC`), if it asks.
    pub fn from_env() -> Self {
        Self::new(sd_notify::watchdog_enabled())
    }

    /// A watchdog for a service period (`None`: disabled).
    pub fn new(period: Option<Duration>) -> Self {
        Self {
            every: period.map(|p| (p / 2).max(Duration::from_millis(1))),
            last: None,
        }
    }

    /// When the loop must be awake next to ping in time (`None`: never).
    pub fn next_due(&self) -> Option<Instant> {
        let every = self.every?;
        Some(self.last.map_or_else(Instant::now, |l| l + every))
    }

    /// Whether a ping is due at `now`; if so it counts as sent.
    pub fn tick(&mut self, now: Instant) -> bool {
        let Some(every) = self.every else {
            return false;
        };
        if self.last.is_some_and(|l| now < l + every) {
            return false;
        }
        self.last = Some(now);
        true
    }

    /// Send `WATCHDOG=1` if due.
    pub fn ping_if_due(&mut self, now: Instant) {
        if self.tick(now) {
            send(Notice::Watchdog);
        }
    }
}

/// Tell systemd the agent is up (once per process).
pub fn ready(entry: &str) {
    static SENT: AtomicBool = AtomicBool::new(false);
    if !SENT.swap(true, Ordering::Relaxed) {
        send(Notice::Ready(format!("running {entry}")));
    }
}

/// Tell systemd the agent is shutting down.
pub fn stopping() {
    send(Notice::Stopping);
}

enum Notice {
    Ready(String),
    Watchdog,
    Stopping,
}

/// Hand a notice to the notifier thread. The datagram send can block (a full socket buffer),
/// so it never happens on the JS thread; if the thread is behind, the notice is dropped (a
/// missed ping is what a stuck agent looks like anyway).
fn send(notice: Notice) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    static TX: OnceLock<Option<SyncSender<Notice>>> = OnceLock::new();
    let tx = TX.get_or_init(|| {
        let (tx, rx) = sync_channel::<Notice>(8);
        std::thread::Builder::new()
            .name("sd-notify".into())
            .spawn(move || {
                let mut warned = false;
                for notice in rx {
                    let result = match &notice {
                        Notice::Ready(status) => sd_notify::notify(&[
                            sd_notify::NotifyState::Ready,
                            sd_notify::NotifyState::Status(status),
                        ]),
                        Notice::Watchdog => sd_notify::notify(&[sd_notify::NotifyState::Watchdog]),
                        Notice::Stopping => sd_notify::notify(&[sd_notify::NotifyState::Stopping]),
                    };
                    if let Err(e) = result {
                        if !std::mem::replace(&mut warned, true) {
                            tracing::warn!("cannot notify systemd (NOTIFY_SOCKET): {e}");
                        }
                    }
                }
            })
            .ok()
            .map(|_| tx)
    });
    if let Some(tx) = tx {
        let _ = tx.try_send(notice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_never_pings_or_wakes() {
        let mut w = Watchdog::new(None);
        assert!(!w.tick(Instant::now()));
        assert_eq!(w.next_due(), None);
    }

    #[test]
    fn pings_at_half_the_period() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(Some(Duration::from_secs(30)));
        assert!(w.tick(t0), "first ping at once");
        assert!(!w.tick(t0 + Duration::from_secs(14)));
        assert_eq!(w.next_due(), Some(t0 + Duration::from_secs(15)));
        assert!(w.tick(t0 + Duration::from_secs(15)));
        assert!(!w.tick(t0 + Duration::from_secs(16)));
    }
}
