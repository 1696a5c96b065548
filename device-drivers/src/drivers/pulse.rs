//! Pulse counter for a GPIO line (flow meters, anemometers, energy-meter S0 outputs).
//!
//! The GPIO edge task calls [`PulseCounterHandle::edge`] (a shared atomic, so it never blocks);
//! the sensor turns the running total into counts and a rate per read interval with the plain
//! [`PulseCounter`] arithmetic. Debouncing belongs to the GPIO layer.
//!
//! Values: `count` (edges since start, counts), `pulses` (edges in this interval, counts),
//! `rate` (Hz over this interval).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;

use super::{Reading, Sensor};
use crate::error::DeviceError;

/// Cloneable edge counter shared between the GPIO event task and the sensor.
#[derive(Debug, Clone, Default)]
pub struct PulseCounterHandle(Arc<AtomicU64>);

impl PulseCounterHandle {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one edge.
    pub fn edge(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Count `n` edges.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Edges counted so far.
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One interval's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PulseSample {
    /// Edges since the counter started.
    pub count: u64,
    /// Edges since the previous sample.
    pub pulses: u64,
    /// Interval length in seconds.
    pub interval_s: f64,
    /// pulses / interval, in Hz (0 for an empty interval).
    pub rate_hz: f64,
}

/// Interval arithmetic over a running edge total: no I/O, no clock of its own.
#[derive(Debug, Clone)]
pub struct PulseCounter {
    start_total: u64,
    last_total: u64,
    last_time: Instant,
}

impl PulseCounter {
    /// Start counting from `total` at `now`.
    pub fn new(total: u64, now: Instant) -> Self {
        Self {
            start_total: total,
            last_total: total,
            last_time: now,
        }
    }

    /// Close the interval ending at `now` with the running `total`.
    pub fn sample(&mut self, total: u64, now: Instant) -> PulseSample {
        let pulses = total.saturating_sub(self.last_total);
        let interval_s = now.saturating_duration_since(self.last_time).as_secs_f64();
        let rate_hz = if interval_s > 0.0 {
            pulses as f64 / interval_s
        } else {
            0.0
        };
        self.last_total = total;
        self.last_time = now;
        PulseSample {
            count: total.saturating_sub(self.start_total),
            pulses,
            interval_s,
            rate_hz,
        }
    }
}

/// The `pulse` sensor: samples a [`PulseCounterHandle`] on each read.
#[derive(Debug)]
pub struct PulseSensor {
    handle: PulseCounterHandle,
    counter: PulseCounter,
}

impl PulseSensor {
    /// Count edges fed into `handle` from now on.
    pub fn new(handle: PulseCounterHandle) -> Self {
        let counter = PulseCounter::new(handle.total(), Instant::now());
        Self { handle, counter }
    }

    /// Sample at `now` (exposed for tests and callers with their own clock).
    pub fn sample_at(&mut self, now: Instant) -> Reading {
        let s = self.counter.sample(self.handle.total(), now);
        Reading::new("pulse")
            .with("count", s.count as f64)
            .with("pulses", s.pulses as f64)
            .with("rate", s.rate_hz)
    }
}

impl Sensor for PulseSensor {
    fn driver(&self) -> &'static str {
        "pulse"
    }

    fn read(&mut self) -> BoxFuture<'_, Result<Reading, DeviceError>> {
        let r = self.sample_at(Instant::now());
        Box::pin(async move { Ok(r) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_per_interval() {
        let t0 = Instant::now();
        let mut c = PulseCounter::new(10, t0);
        let s = c.sample(30, t0 + Duration::from_secs(2));
        assert_eq!((s.count, s.pulses), (20, 20));
        assert_eq!(s.rate_hz, 10.0);
        let s = c.sample(35, t0 + Duration::from_millis(2500));
        assert_eq!((s.count, s.pulses), (25, 5));
        assert_eq!(s.rate_hz, 10.0);
        // Zero-length interval: no division by zero.
        let s = c.sample(35, t0 + Duration::from_millis(2500));
        assert_eq!(s.rate_hz, 0.0);
    }

    #[test]
    fn handle_is_shared_with_the_sensor() {
        let h = PulseCounterHandle::new();
        h.add(3);
        let mut s = PulseSensor::new(h.clone());
        let t = Instant::now() + Duration::from_secs(1);
        for _ in 0..7 {
            h.edge();
        }
        let r = s.sample_at(t);
        assert_eq!(r.value("count"), Some(7.0));
        assert_eq!(r.value("pulses"), Some(7.0));
        assert!(r.value("rate").expect("rate") > 0.0);
    }
}
