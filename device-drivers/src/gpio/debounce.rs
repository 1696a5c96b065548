//! Software debounce and edge filtering as plain state machines (no I/O, no clock of their own).
//!
//! The kernel debounces in hardware or in its own software when a uAPI v2 request asks for it; these
//! structs do the same job when it can't (and always on the simulated board), so both backends share
//! one code path: raw level changes in, filtered [`EdgeEvent`]s out. Time is passed in by the caller
//! as nanoseconds on the kernel's event clock (`CLOCK_MONOTONIC`).

use std::time::Duration;

use super::{Edge, EdgeEvent, EdgeKind};

/// A stable level change reported by a [`Debouncer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The new stable (logical) level.
    pub level: bool,
    /// When the line reached that level: the timestamp of the edge that began the stable period.
    pub timestamp_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    level: bool,
    since_ns: u64,
}

/// Kernel-style debounce: a level change is reported once the line has held it for `period`.
///
/// Every raw edge restarts the timer; a bounce back to the last stable level cancels the pending
/// change. Feed edges with [`on_edge`](Self::on_edge), wake the state machine at
/// [`deadline_ns`](Self::deadline_ns) with [`on_time`](Self::on_time). Late calls are fine: an edge
/// that arrives after the deadline first settles the pending change, so results do not depend on
/// how promptly the caller's timer fired.
#[derive(Debug, Clone)]
pub struct Debouncer {
    period_ns: u64,
    stable: bool,
    pending: Option<Pending>,
}

impl Debouncer {
    /// A debouncer for `period`, starting from the current stable `initial` level.
    pub fn new(period: Duration, initial: bool) -> Self {
        Self {
            period_ns: u64::try_from(period.as_nanos()).unwrap_or(u64::MAX),
            stable: initial,
            pending: None,
        }
    }

    /// The last reported stable level.
    pub fn stable_level(&self) -> bool {
        self.stable
    }

    /// A raw edge: the line changed to `level` at `ts_ns`.
    pub fn on_edge(&mut self, level: bool, ts_ns: u64) -> Option<Transition> {
        let settled = self.settle(ts_ns);
        if level == self.stable {
            // Bounced back before the period ran out: nothing changed.
            self.pending = None;
        } else {
            self.pending = Some(Pending {
                level,
                since_ns: ts_ns,
            });
        }
        // With a zero period the new level is stable at once; with a non-zero one `settled` and this
        // second settle can never both report (a pending change needs time to pass).
        settled.or_else(|| self.settle(ts_ns))
    }

    /// Time passed: report the pending change if it has now been stable for the period.
    pub fn on_time(&mut self, now_ns: u64) -> Option<Transition> {
        self.settle(now_ns)
    }

    /// When the pending change (if any) becomes stable.
    pub fn deadline_ns(&self) -> Option<u64> {
        self.pending
            .map(|p| p.since_ns.saturating_add(self.period_ns))
    }

    fn settle(&mut self, now_ns: u64) -> Option<Transition> {
        let p = self.pending?;
        if now_ns >= p.since_ns.saturating_add(self.period_ns) {
            self.pending = None;
            self.stable = p.level;
            Some(Transition {
                level: p.level,
                timestamp_ns: p.since_ns,
            })
        } else {
            None
        }
    }
}

/// One raw edge from a backend: the line's new logical level (active-low already applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEdge {
    /// New logical level.
    pub level: bool,
    /// Kernel timestamp (`CLOCK_MONOTONIC`, ns).
    pub timestamp_ns: u64,
    /// The kernel's per-line sequence number, when the kernel produced the event.
    pub seq: Option<u64>,
}

/// Turns raw edges into the [`EdgeEvent`]s a line's user asked for: software debounce (optional),
/// the rising/falling/both filter and per-line sequence numbers.
///
/// In pass-through mode (the kernel already filtered and debounced) events are forwarded as they
/// are, keeping the kernel's sequence numbers so a gap still reveals lost events.
#[derive(Debug, Clone)]
pub struct EdgeProcessor {
    edge: Edge,
    debouncer: Option<Debouncer>,
    level: bool,
    seq: u64,
    passthrough: bool,
}

impl EdgeProcessor {
    /// Software processing: `initial` is the line's logical level when the request was made.
    pub fn new(edge: Edge, debounce: Option<Duration>, initial: bool) -> Self {
        Self {
            edge,
            debouncer: debounce
                .filter(|d| !d.is_zero())
                .map(|d| Debouncer::new(d, initial)),
            level: initial,
            seq: 0,
            passthrough: false,
        }
    }

    /// Kernel did the filtering and debounce: forward every event.
    pub fn passthrough(edge: Edge) -> Self {
        Self {
            edge,
            debouncer: None,
            level: false,
            seq: 0,
            passthrough: true,
        }
    }

    /// Feed one raw edge; returns the event to deliver, if any.
    pub fn on_raw(&mut self, raw: RawEdge) -> Option<EdgeEvent> {
        if self.passthrough {
            self.seq = raw.seq.unwrap_or(self.seq + 1);
            return Some(EdgeEvent {
                kind: kind_of(raw.level),
                timestamp_ns: raw.timestamp_ns,
                seq: self.seq,
            });
        }
        let transition = match &mut self.debouncer {
            Some(d) => d.on_edge(raw.level, raw.timestamp_ns),
            None => Some(Transition {
                level: raw.level,
                timestamp_ns: raw.timestamp_ns,
            }),
        };
        transition.and_then(|t| self.report(t))
    }

    /// Time passed (`now_ns` on the event clock); returns a debounced event that became stable.
    pub fn on_time(&mut self, now_ns: u64) -> Option<EdgeEvent> {
        let t = self.debouncer.as_mut()?.on_time(now_ns)?;
        self.report(t)
    }

    /// When [`on_time`](Self::on_time) should next be called.
    pub fn deadline_ns(&self) -> Option<u64> {
        self.debouncer.as_ref().and_then(Debouncer::deadline_ns)
    }

    fn report(&mut self, t: Transition) -> Option<EdgeEvent> {
        if t.level == self.level {
            return None;
        }
        self.level = t.level;
        let kind = kind_of(t.level);
        let wanted = matches!(
            (self.edge, kind),
            (Edge::Both, _) | (Edge::Rising, EdgeKind::Rising) | (Edge::Falling, EdgeKind::Falling)
        );
        if !wanted {
            return None;
        }
        self.seq += 1;
        Some(EdgeEvent {
            kind,
            timestamp_ns: t.timestamp_ns,
            seq: self.seq,
        })
    }
}

fn kind_of(level: bool) -> EdgeKind {
    if level {
        EdgeKind::Rising
    } else {
        EdgeKind::Falling
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn bounces_inside_the_period_give_one_transition() {
        let mut d = Debouncer::new(Duration::from_millis(10), false);
        assert_eq!(d.on_edge(true, 0), None);
        assert_eq!(d.on_edge(false, MS), None);
        assert_eq!(d.on_edge(true, 2 * MS), None);
        assert_eq!(d.deadline_ns(), Some(12 * MS));
        assert_eq!(d.on_time(11 * MS), None, "not yet stable");
        assert_eq!(
            d.on_time(12 * MS),
            Some(Transition {
                level: true,
                timestamp_ns: 2 * MS
            })
        );
        assert!(d.stable_level());
        assert_eq!(d.deadline_ns(), None);
    }

    #[test]
    fn bounce_back_to_stable_level_cancels() {
        let mut d = Debouncer::new(Duration::from_millis(5), true);
        assert_eq!(d.on_edge(false, 0), None);
        assert_eq!(d.on_edge(true, MS), None);
        assert_eq!(d.deadline_ns(), None, "glitch cancelled");
        assert_eq!(d.on_time(100 * MS), None);
        assert!(d.stable_level());
    }

    #[test]
    fn late_edge_settles_the_previous_change_first() {
        let mut d = Debouncer::new(Duration::from_millis(5), false);
        assert_eq!(d.on_edge(true, 0), None);
        // The timer never fired; the next edge comes long after the deadline.
        let t = d.on_edge(false, 50 * MS);
        assert_eq!(
            t,
            Some(Transition {
                level: true,
                timestamp_ns: 0
            })
        );
        assert_eq!(d.deadline_ns(), Some(55 * MS), "the new change is pending");
    }

    #[test]
    fn zero_period_reports_every_change_at_once() {
        let mut d = Debouncer::new(Duration::ZERO, false);
        assert_eq!(
            d.on_edge(true, 7),
            Some(Transition {
                level: true,
                timestamp_ns: 7
            })
        );
        assert_eq!(d.on_edge(true, 8), None, "same level is no change");
        assert_eq!(d.on_edge(false, 9).map(|t| t.level), Some(false));
    }

    #[test]
    fn processor_filters_edges_and_numbers_events() {
        let mut p = EdgeProcessor::new(Edge::Falling, None, false);
        let raw = |level, ts| RawEdge {
            level,
            timestamp_ns: ts,
            seq: None,
        };
        assert_eq!(p.on_raw(raw(true, 1)), None, "rising filtered out");
        let e = p.on_raw(raw(false, 2)).expect("falling edge");
        assert_eq!((e.kind, e.timestamp_ns, e.seq), (EdgeKind::Falling, 2, 1));
        assert_eq!(p.on_raw(raw(false, 3)), None, "no change, no event");
        p.on_raw(raw(true, 4));
        assert_eq!(p.on_raw(raw(false, 5)).map(|e| e.seq), Some(2));
    }

    #[test]
    fn processor_debounces_through_the_timer() {
        let mut p = EdgeProcessor::new(Edge::Both, Some(Duration::from_millis(2)), false);
        for (i, level) in [true, false, true].into_iter().enumerate() {
            let ev = p.on_raw(RawEdge {
                level,
                timestamp_ns: i as u64 * 100,
                seq: None,
            });
            assert_eq!(ev, None);
        }
        let deadline = p.deadline_ns().expect("pending change");
        assert_eq!(deadline, 200 + 2 * MS);
        let e = p.on_time(deadline).expect("stable after period");
        assert_eq!((e.kind, e.timestamp_ns, e.seq), (EdgeKind::Rising, 200, 1));
    }

    #[test]
    fn passthrough_keeps_kernel_sequence_numbers() {
        let mut p = EdgeProcessor::passthrough(Edge::Both);
        let e = p
            .on_raw(RawEdge {
                level: true,
                timestamp_ns: 10,
                seq: Some(41),
            })
            .expect("forwarded");
        assert_eq!((e.kind, e.seq), (EdgeKind::Rising, 41));
        let e = p
            .on_raw(RawEdge {
                level: true,
                timestamp_ns: 11,
                seq: None,
            })
            .expect("forwarded even when the level repeats");
        assert_eq!(e.seq, 42);
    }
}
