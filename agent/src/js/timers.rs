//! The timer queue behind `setTimeout`/`setInterval`: plain data, no JS, no clock of its own.
//!
//! The event loop asks it when the next timer is due, pops the expired ones in Node's order
//! (deadline, then creation order) and re-arms intervals after their callback ran. Whether a timer
//! keeps the process alive (`ref`/`unref`) is tracked here too, so the loop knows when it is idle.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// A timer's id as JS sees it (the primitive value of a Timeout object).
pub type TimerId = u32;

#[derive(Debug, Clone, Copy)]
struct Timer {
    deadline: Instant,
    /// Tie-breaker: timers with the same deadline fire in the order they were (re)armed.
    seq: u64,
    period: Option<Duration>,
    delay: Duration,
    refed: bool,
}

/// All armed timers, ordered by deadline.
#[derive(Debug, Default)]
pub struct TimerQueue {
    timers: HashMap<TimerId, Timer>,
    order: BTreeSet<(Instant, u64, TimerId)>,
    next_id: TimerId,
    next_seq: u64,
    refed: usize,
}

impl TimerQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arm a timer firing `delay` after `now` (and every `delay` after that when `repeat`).
    /// Node clamps delays below 1 ms to 1 ms; so do we.
    pub fn start(&mut self, now: Instant, delay: Duration, repeat: bool) -> TimerId {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        while self.timers.contains_key(&self.next_id) {
            self.next_id = self.next_id.wrapping_add(1).max(1);
        }
        let id = self.next_id;
        let delay = delay.max(Duration::from_millis(1));
        let timer = Timer {
            deadline: now + delay,
            seq: self.bump_seq(),
            period: repeat.then_some(delay),
            delay,
            refed: true,
        };
        self.insert(id, timer);
        id
    }

    /// Disarm a timer; unknown ids are ignored (like `clearTimeout` of a fired timer).
    pub fn clear(&mut self, id: TimerId) {
        if let Some(t) = self.timers.remove(&id) {
            self.order.remove(&(t.deadline, t.seq, id));
            if t.refed {
                self.refed -= 1;
            }
        }
    }

    /// Whether this timer keeps the process alive.
    pub fn set_ref(&mut self, id: TimerId, refed: bool) {
        if let Some(t) = self.timers.get_mut(&id) {
            if t.refed != refed {
                t.refed = refed;
                if refed {
                    self.refed += 1;
                } else {
                    self.refed -= 1;
                }
            }
        }
    }

    /// Whether the timer is armed and keeps the process alive.
    pub fn has_ref(&self, id: TimerId) -> bool {
        self.timers.get(&id).is_some_and(|t| t.refed)
    }

    /// Re-arm with the original delay from `now` (`timeout.refresh()`).
    pub fn refresh(&mut self, id: TimerId, now: Instant) {
        if let Some(mut t) = self.timers.remove(&id) {
            self.order.remove(&(t.deadline, t.seq, id));
            if t.refed {
                self.refed -= 1;
            }
            t.deadline = now + t.delay;
            t.seq = self.bump_seq();
            self.insert(id, t);
        }
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.order.first().map(|(d, _, _)| *d)
    }

    /// Number of armed timers that keep the process alive.
    pub fn refed(&self) -> usize {
        self.refed
    }

    /// Whether any timer is armed.
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    /// Take the next timer due at `now`. One-shot timers are removed; intervals stay armed but
    /// are parked until [`TimerQueue::rearm`] is called after their callback ran.
    pub fn pop_expired(&mut self, now: Instant) -> Option<TimerId> {
        let &(deadline, seq, id) = self.order.first()?;
        if deadline > now {
            return None;
        }
        self.order.remove(&(deadline, seq, id));
        let t = *self.timers.get(&id)?;
        if t.period.is_none() {
            self.timers.remove(&id);
            if t.refed {
                self.refed -= 1;
            }
        }
        Some(id)
    }

    /// After an interval's callback ran: schedule its next run from `now`, unless it was cleared.
    pub fn rearm(&mut self, id: TimerId, now: Instant) {
        let seq = self.bump_seq();
        if let Some(t) = self.timers.get_mut(&id) {
            if let Some(period) = t.period {
                if self.order.contains(&(t.deadline, t.seq, id)) {
                    return; // refreshed during its own callback: already armed
                }
                t.deadline = now + period;
                t.seq = seq;
                self.order.insert((t.deadline, t.seq, id));
            }
        }
    }

    fn insert(&mut self, id: TimerId, t: Timer) {
        if t.refed {
            self.refed += 1;
        }
        self.order.insert((t.deadline, t.seq, id));
        self.timers.insert(id, t);
    }

    fn bump_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_in_deadline_then_creation_order() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let a = q.start(t0, ms(10), false);
        let b = q.start(t0, ms(5), false);
        let c = q.start(t0, ms(10), false);
        assert_eq!(q.pop_expired(t0 + ms(4)), None);
        let fired: Vec<_> = std::iter::from_fn(|| q.pop_expired(t0 + ms(10))).collect();
        assert_eq!(fired, vec![b, a, c]);
        assert!(q.is_empty());
        assert_eq!(q.refed(), 0);
    }

    #[test]
    fn zero_delay_is_one_ms() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        q.start(t0, Duration::ZERO, false);
        assert_eq!(q.next_deadline(), Some(t0 + ms(1)));
    }

    #[test]
    fn clear_and_unref_update_liveness() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let a = q.start(t0, ms(10), false);
        let b = q.start(t0, ms(10), true);
        assert_eq!(q.refed(), 2);
        q.set_ref(a, false);
        q.set_ref(a, false);
        assert_eq!(q.refed(), 1);
        assert!(!q.has_ref(a));
        q.clear(b);
        q.clear(b);
        assert_eq!(q.refed(), 0);
        assert!(!q.is_empty(), "unrefed timer still armed");
        assert_eq!(q.pop_expired(t0 + ms(10)), Some(a));
        assert!(q.is_empty());
    }

    #[test]
    fn interval_rearms_after_callback_unless_cleared() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let i = q.start(t0, ms(10), true);
        assert_eq!(q.pop_expired(t0 + ms(12)), Some(i));
        assert_eq!(q.pop_expired(t0 + ms(12)), None, "parked until rearmed");
        q.rearm(i, t0 + ms(13));
        assert_eq!(q.next_deadline(), Some(t0 + ms(23)));
        assert_eq!(q.pop_expired(t0 + ms(23)), Some(i));
        q.clear(i);
        q.rearm(i, t0 + ms(24));
        assert!(q.is_empty());
        assert_eq!(q.refed(), 0);
    }

    #[test]
    fn refresh_restarts_the_delay() {
        let t0 = Instant::now();
        let mut q = TimerQueue::new();
        let a = q.start(t0, ms(10), false);
        q.refresh(a, t0 + ms(8));
        assert_eq!(q.pop_expired(t0 + ms(10)), None);
        assert_eq!(q.pop_expired(t0 + ms(18)), Some(a));
    }
}
