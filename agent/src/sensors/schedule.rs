//! When to read a sensor next and what its health is: plain logic, no I/O, no clock of its own
//! (every call takes `now`), so the policy is tested with synchronous tests.
//!
//! - A healthy sensor is read every `interval`, at fixed slots (no drift from read duration); if a
//!   read overran its slot, the next one starts right away (reads never overlap: the caller only
//!   asks after the previous read ended).
//! - After a failure the next attempt waits `backoff`, doubling per consecutive failure up to
//!   `backoff_max`.
//! - `offline_after` consecutive failures make the sensor `Offline` (reported once); the first
//!   success after that, or the very first success after start, makes it `Online`.

use std::time::{Duration, Instant};

/// Timing and health policy of one sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Time between reads while healthy.
    pub interval: Duration,
    /// First retry delay after a failure.
    pub backoff: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Consecutive failures that make the sensor offline (at least 1).
    pub offline_after: u32,
}

/// What scripts are told about a sensor's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No read has finished yet.
    Starting,
    /// The last read (or the last one before fewer than `offline_after` failures) succeeded.
    Online,
    /// `offline_after` consecutive reads failed.
    Offline,
}

impl Health {
    /// Name as scripts see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Online => "online",
            Health::Offline => "offline",
        }
    }
}

/// A change of health to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The sensor answered (first time, or again after being offline).
    Online,
    /// The sensor failed `failures` times in a row.
    Offline {
        /// Consecutive failures so far.
        failures: u32,
    },
}

/// Per-sensor schedule, health and counters.
#[derive(Debug, Clone)]
pub struct Schedule {
    policy: Policy,
    next_due: Instant,
    failures: u32,
    health: Health,
    reads: u64,
    errors: u64,
}

impl Schedule {
    /// A sensor whose first read is due at `first`.
    pub fn new(policy: Policy, first: Instant) -> Self {
        let policy = Policy {
            offline_after: policy.offline_after.max(1),
            backoff_max: policy.backoff_max.max(policy.backoff),
            ..policy
        };
        Self {
            policy,
            next_due: first,
            failures: 0,
            health: Health::Starting,
            reads: 0,
            errors: 0,
        }
    }

    /// When the next scheduled read should start.
    pub fn next_due(&self) -> Instant {
        self.next_due
    }

    /// Whether a scheduled read should start at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.next_due
    }

    /// Current health.
    pub fn health(&self) -> Health {
        self.health
    }

    /// Consecutive failures (0 after a success).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Successful reads so far.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Failed reads so far.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// The retry delay after `failures` consecutive failures (`failures` ≥ 1).
    pub fn backoff_for(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(31);
        self.policy
            .backoff
            .checked_mul(1u32 << shift)
            .unwrap_or(self.policy.backoff_max)
            .min(self.policy.backoff_max)
    }

    /// A read finished successfully at `now`. `scheduled` is false for an on-demand read, which
    /// does not move a healthy schedule.
    pub fn succeeded(&mut self, now: Instant, scheduled: bool) -> Option<Transition> {
        self.reads += 1;
        let was_failing = self.failures > 0;
        self.failures = 0;
        if was_failing {
            // Back to the normal cadence, counted from now.
            self.next_due = now + self.policy.interval;
        } else if scheduled {
            let next = self.next_due + self.policy.interval;
            self.next_due = if next <= now { now } else { next };
        }
        match self.health {
            Health::Online => None,
            Health::Starting | Health::Offline => {
                self.health = Health::Online;
                Some(Transition::Online)
            }
        }
    }

    /// A read failed at `now`: schedule the retry with backoff; report `Offline` once when the
    /// consecutive failures reach `offline_after`.
    pub fn failed(&mut self, now: Instant) -> Option<Transition> {
        self.errors += 1;
        self.failures = self.failures.saturating_add(1);
        self.next_due = now + self.backoff_for(self.failures);
        if self.failures >= self.policy.offline_after && self.health != Health::Offline {
            self.health = Health::Offline;
            return Some(Transition::Offline {
                failures: self.failures,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            interval: Duration::from_secs(5),
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            offline_after: 3,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn healthy_reads_keep_fixed_slots() {
        let t0 = Instant::now();
        let mut s = Schedule::new(policy(), t0);
        assert!(s.is_due(t0));
        assert_eq!(s.health(), Health::Starting);
        // The read took 300 ms: the next slot is still t0 + 5 s (no drift).
        assert_eq!(
            s.succeeded(t0 + Duration::from_millis(300), true),
            Some(Transition::Online)
        );
        assert_eq!(s.next_due(), t0 + secs(5));
        assert!(!s.is_due(t0 + secs(4)));
        assert_eq!(s.succeeded(t0 + secs(5), true), None);
        assert_eq!(s.next_due(), t0 + secs(10));
        // A read that overran its slot: the next one starts right away, not in the past.
        assert_eq!(s.succeeded(t0 + secs(17), true), None);
        assert_eq!(s.next_due(), t0 + secs(17));
        assert_eq!((s.reads(), s.errors()), (3, 0));
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let t0 = Instant::now();
        let mut s = Schedule::new(policy(), t0);
        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..8 {
            s.failed(now);
            delays.push(s.next_due() - now);
            now = s.next_due();
        }
        assert_eq!(
            delays,
            vec![
                secs(1),
                secs(2),
                secs(4),
                secs(8),
                secs(16),
                secs(30),
                secs(30),
                secs(30)
            ]
        );
        assert_eq!(s.errors(), 8);
        assert_eq!(s.failures(), 8);
        assert_eq!(s.backoff_for(1000), secs(30), "huge counts do not overflow");
    }

    #[test]
    fn offline_after_n_failures_once_and_online_on_recovery() {
        let t0 = Instant::now();
        let mut s = Schedule::new(policy(), t0);
        assert_eq!(s.succeeded(t0, true), Some(Transition::Online));
        assert_eq!(s.failed(t0 + secs(5)), None);
        assert_eq!(s.failed(t0 + secs(6)), None);
        assert_eq!(
            s.health(),
            Health::Online,
            "two failures are not offline yet"
        );
        assert_eq!(
            s.failed(t0 + secs(8)),
            Some(Transition::Offline { failures: 3 })
        );
        assert_eq!(s.failed(t0 + secs(12)), None, "offline is reported once");
        assert_eq!(s.health(), Health::Offline);
        let now = t0 + secs(20);
        assert_eq!(s.succeeded(now, true), Some(Transition::Online));
        assert_eq!(s.failures(), 0);
        assert_eq!(
            s.next_due(),
            now + secs(5),
            "normal cadence again, from now"
        );
        // A single failure after recovery starts the backoff from the beginning.
        s.failed(now + secs(5));
        assert_eq!(s.next_due(), now + secs(6));
    }

    #[test]
    fn a_sensor_that_never_answers_goes_offline_from_starting() {
        let t0 = Instant::now();
        let mut s = Schedule::new(
            Policy {
                offline_after: 1,
                ..policy()
            },
            t0,
        );
        assert_eq!(s.failed(t0), Some(Transition::Offline { failures: 1 }));
        assert_eq!(s.health().as_str(), "offline");
    }

    #[test]
    fn on_demand_reads_leave_a_healthy_schedule_alone_but_end_a_backoff() {
        let t0 = Instant::now();
        let mut s = Schedule::new(policy(), t0);
        s.succeeded(t0, true);
        assert_eq!(s.succeeded(t0 + secs(2), false), None);
        assert_eq!(s.next_due(), t0 + secs(5));
        s.failed(t0 + secs(5));
        s.failed(t0 + secs(6));
        assert_eq!(s.next_due(), t0 + secs(8));
        s.succeeded(t0 + secs(7), false);
        assert_eq!(s.next_due(), t0 + secs(12));
        assert_eq!((s.reads(), s.errors()), (3, 2));
    }

    #[test]
    fn zero_offline_after_is_treated_as_one() {
        let t0 = Instant::now();
        let mut s = Schedule::new(
            Policy {
                offline_after: 0,
                ..policy()
            },
            t0,
        );
        assert_eq!(s.failed(t0), Some(Transition::Offline { failures: 1 }));
    }
}
