//! The bounded queue between the sensor tasks and the script: plain logic, no I/O.
//!
//! Each sensor may have at most `cap` undelivered events. When a sensor is at its bound and a new
//! event arrives, its oldest *reading* is dropped (its oldest event of any kind if it has no
//! reading queued, so status events cannot grow it either) and counted, so a script that falls
//! behind sees the newest readings and exact drop counts, and memory never grows. Events leave
//! in the order they arrived, across sensors.

use std::collections::VecDeque;

/// Per-sensor counters of readings through the queue (status events are not counted here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounters {
    /// Readings pushed.
    pub pushed: u64,
    /// Readings dropped because the sensor was at its bound.
    pub dropped: u64,
    /// Readings taken for delivery.
    pub taken: u64,
    /// Events (readings and status) queued right now.
    pub queued: usize,
    /// Status events dropped (only when a sensor's whole bound is status events).
    pub dropped_status: u64,
}

struct Entry<T> {
    seq: u64,
    reading: bool,
    item: T,
}

struct Lane<T> {
    cap: usize,
    entries: VecDeque<Entry<T>>,
    counters: QueueCounters,
}

/// Bounded multi-sensor queue with drop-oldest per sensor.
pub struct DeliveryQueue<T> {
    lanes: Vec<Lane<T>>,
    next_seq: u64,
    len: usize,
}

impl<T> std::fmt::Debug for DeliveryQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryQueue")
            .field("sensors", &self.lanes.len())
            .field("len", &self.len)
            .finish()
    }
}

impl<T> DeliveryQueue<T> {
    /// A queue for sensors `0..caps.len()`, sensor `i` keeping at most `caps[i]` (≥ 1) events.
    pub fn new(caps: &[usize]) -> Self {
        Self {
            lanes: caps
                .iter()
                .map(|&cap| Lane {
                    cap: cap.max(1),
                    entries: VecDeque::new(),
                    counters: QueueCounters::default(),
                })
                .collect(),
            next_seq: 0,
            len: 0,
        }
    }

    /// Events queued over all sensors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queue `item` for `sensor` (`reading` says whether it is a reading or a status event).
    /// Returns the event dropped to make room, if any. Unknown sensors are ignored (item returned).
    pub fn push(&mut self, sensor: usize, item: T, reading: bool) -> Option<T> {
        let Some(lane) = self.lanes.get_mut(sensor) else {
            return Some(item);
        };
        let mut dropped = None;
        if lane.entries.len() >= lane.cap {
            let victim = lane.entries.iter().position(|e| e.reading).unwrap_or(0);
            if let Some(e) = lane.entries.remove(victim) {
                if e.reading {
                    lane.counters.dropped += 1;
                } else {
                    lane.counters.dropped_status += 1;
                }
                self.len -= 1;
                dropped = Some(e.item);
            }
        }
        if reading {
            lane.counters.pushed += 1;
        }
        lane.entries.push_back(Entry {
            seq: self.next_seq,
            reading,
            item,
        });
        self.next_seq += 1;
        self.len += 1;
        dropped
    }

    /// Take up to `max` events in arrival order, as `(sensor, item)`.
    pub fn take(&mut self, max: usize) -> Vec<(usize, T)> {
        let mut out = Vec::with_capacity(max.min(self.len));
        while out.len() < max {
            let next = self
                .lanes
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.entries.front().map(|e| (e.seq, i)))
                .min();
            let Some((_, i)) = next else { break };
            let lane = &mut self.lanes[i];
            if let Some(e) = lane.entries.pop_front() {
                if e.reading {
                    lane.counters.taken += 1;
                }
                self.len -= 1;
                out.push((i, e.item));
            }
        }
        out
    }

    /// Counters of `sensor` (zeros for an unknown sensor).
    pub fn counters(&self, sensor: usize) -> QueueCounters {
        self.lanes
            .get(sensor)
            .map(|l| QueueCounters {
                queued: l.entries.len(),
                ..l.counters
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_arrival_order_across_sensors() {
        let mut q = DeliveryQueue::new(&[4, 4, 4]);
        for (s, v) in [(0, 1), (2, 2), (1, 3), (0, 4), (2, 5)] {
            assert!(q.push(s, v, true).is_none());
        }
        assert_eq!(q.len(), 5);
        assert_eq!(q.take(3), vec![(0, 1), (2, 2), (1, 3)]);
        assert_eq!(q.take(10), vec![(0, 4), (2, 5)]);
        assert!(q.is_empty());
        assert!(q.take(10).is_empty());
    }

    #[test]
    fn drops_the_oldest_reading_of_the_full_sensor_only() {
        let mut q = DeliveryQueue::new(&[3, 3]);
        q.push(1, 100, true);
        for v in 0..10 {
            q.push(0, v, true);
        }
        // Sensor 0 kept its newest three; sensor 1 was not touched.
        assert_eq!(q.take(10), vec![(1, 100), (0, 7), (0, 8), (0, 9)]);
        let c = q.counters(0);
        assert_eq!((c.pushed, c.dropped, c.taken, c.queued), (10, 7, 3, 0));
        assert_eq!(c.pushed, c.dropped + c.taken + c.queued as u64);
        assert_eq!(q.counters(1).dropped, 0);
    }

    #[test]
    fn status_events_survive_while_readings_can_be_dropped() {
        let mut q = DeliveryQueue::new(&[3]);
        q.push(0, "r1", true);
        q.push(0, "error", false);
        q.push(0, "r2", true);
        assert_eq!(q.push(0, "offline", false), Some("r1"));
        assert_eq!(q.push(0, "r3", true), Some("r2"));
        assert_eq!(q.take(10), vec![(0, "error"), (0, "offline"), (0, "r3")]);
        let c = q.counters(0);
        assert_eq!((c.pushed, c.dropped, c.dropped_status), (3, 2, 0));
    }

    #[test]
    fn a_lane_full_of_status_events_is_still_bounded() {
        let mut q = DeliveryQueue::new(&[2]);
        q.push(0, 1, false);
        q.push(0, 2, false);
        assert_eq!(q.push(0, 3, false), Some(1));
        assert_eq!(q.len(), 2);
        assert_eq!(q.counters(0).dropped_status, 1);
        assert_eq!(q.counters(0).dropped, 0);
    }

    #[test]
    fn drop_counts_are_exact_under_interleaving() {
        let mut q = DeliveryQueue::new(&[5, 2]);
        let mut taken = [0u64; 2];
        for round in 0..1000u64 {
            q.push((round % 2) as usize, round, true);
            q.push(0, round, true);
            if round % 7 == 0 {
                for (s, _) in q.take(3) {
                    taken[s] += 1;
                }
            }
        }
        for s in 0..2 {
            let c = q.counters(s);
            assert_eq!(c.taken, taken[s]);
            assert_eq!(
                c.pushed,
                c.dropped + c.taken + c.queued as u64,
                "sensor {s}"
            );
            assert!(c.queued <= [5, 2][s]);
            assert!(c.dropped > 0);
        }
    }

    #[test]
    fn unknown_sensor_is_refused_and_zero_cap_means_one() {
        let mut q = DeliveryQueue::new(&[0]);
        assert_eq!(q.push(3, 9, true), Some(9));
        q.push(0, 1, true);
        assert_eq!(q.push(0, 2, true), Some(1));
        assert_eq!(q.counters(7), QueueCounters::default());
    }
}
