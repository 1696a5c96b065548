//! Simulated GPIO: chips with lines whose inputs a test (or a board-file schedule) drives and whose
//! outputs record what was written.
//!
//! Requests behave like the kernel's: a line can be held by one request at a time (EBUSY naming the
//! consumer), active-low and bias apply, and edge events run through the same
//! [`spawn_edge_worker`](super::spawn_edge_worker) + [`EdgeProcessor`] path as the Linux backend.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{
    monotonic_ns, spawn_edge_worker, Bias, Direction, EdgeProcessor, GpioBackend, GpioLine,
    LineAddress, LineConfig, LineInfo, LineIo, RawEdge,
};
use crate::error::{DeviceError, ErrorCode};

/// How many output writes each line remembers (oldest dropped first).
pub const OUTPUT_HISTORY_CAPACITY: usize = 4096;

/// A simulated chip to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimChipSpec {
    /// Chip label, as a board file names it.
    pub label: String,
    /// Number of lines.
    pub num_lines: u32,
    /// Line names by offset (lines not listed have no name).
    pub line_names: Vec<(u32, String)>,
}

/// One recorded output write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputRecord {
    /// When it was written (`CLOCK_MONOTONIC` ns).
    pub timestamp_ns: u64,
    /// The logical value written.
    pub value: bool,
    /// The resulting physical level (after active-low).
    pub level: bool,
}

struct Requested {
    consumer: String,
    config: LineConfig,
    edges: Option<mpsc::UnboundedSender<Result<RawEdge, DeviceError>>>,
    generation: u64,
}

struct SimLine {
    name: String,
    driven: Option<bool>,
    output_level: bool,
    requested: Option<Requested>,
    history: VecDeque<OutputRecord>,
}

impl SimLine {
    /// Physical level an input sees: what is driven, else what the bias pulls it to.
    fn input_level(&self) -> bool {
        match self.driven {
            Some(level) => level,
            None => matches!(
                self.requested.as_ref().and_then(|r| r.config.bias),
                Some(Bias::PullUp)
            ),
        }
    }
}

struct SimChip {
    label: String,
    lines: Vec<SimLine>,
}

struct SimState {
    chips: Vec<SimChip>,
    next_generation: u64,
}

/// The simulated GPIO controller: a [`GpioBackend`] and, through clones, the test's handle on it.
#[derive(Clone)]
pub struct SimGpio {
    state: Arc<Mutex<SimState>>,
}

impl SimGpio {
    /// Create chips (labels must be unique; duplicates are EINVAL).
    pub fn new(chips: &[SimChipSpec]) -> Result<Self, DeviceError> {
        let mut out: Vec<SimChip> = Vec::new();
        for spec in chips {
            if out.iter().any(|c| c.label == spec.label) {
                return Err(DeviceError::new(
                    ErrorCode::Einval,
                    format!("sim GPIO: two chips labelled '{}'", spec.label),
                ));
            }
            let mut lines: Vec<SimLine> = (0..spec.num_lines)
                .map(|_| SimLine {
                    name: String::new(),
                    driven: None,
                    output_level: false,
                    requested: None,
                    history: VecDeque::new(),
                })
                .collect();
            for (offset, name) in &spec.line_names {
                if let Some(l) = usize::try_from(*offset).ok().and_then(|o| lines.get_mut(o)) {
                    l.name.clone_from(name);
                }
            }
            out.push(SimChip {
                label: spec.label.clone(),
                lines,
            });
        }
        Ok(Self {
            state: Arc::new(Mutex::new(SimState {
                chips: out,
                next_generation: 1,
            })),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, SimState>, DeviceError> {
        lock(&self.state)
    }

    /// Drive an input's physical level (a button, a switch, a signal generator). Edge events follow
    /// if the level changed and the line is requested with edge detection.
    pub fn drive(&self, addr: &LineAddress, level: bool) -> Result<(), DeviceError> {
        self.set_driven(addr, Some(level))
    }

    /// Stop driving a line: it floats back to its bias (pull-up reads high, otherwise low).
    pub fn release(&self, addr: &LineAddress) -> Result<(), DeviceError> {
        self.set_driven(addr, None)
    }

    fn set_driven(&self, addr: &LineAddress, driven: Option<bool>) -> Result<(), DeviceError> {
        let mut st = self.lock()?;
        let (c, o) = find(&st, addr)?;
        let line = &mut st.chips[c].lines[o];
        let before = line.input_level();
        line.driven = driven;
        let after = line.input_level();
        if before != after {
            notify_edge(line, after);
        }
        Ok(())
    }

    /// The line's physical level now: an output's driven level, else the input level.
    pub fn level(&self, addr: &LineAddress) -> Result<bool, DeviceError> {
        let st = self.lock()?;
        let (c, o) = find(&st, addr)?;
        let line = &st.chips[c].lines[o];
        Ok(match &line.requested {
            Some(r) if r.config.direction == Direction::Output => line.output_level,
            _ => line.input_level(),
        })
    }

    /// Everything written to the line as an output, oldest first (bounded, see
    /// [`OUTPUT_HISTORY_CAPACITY`]); the initial value of an output request is recorded too.
    pub fn output_history(&self, addr: &LineAddress) -> Result<Vec<OutputRecord>, DeviceError> {
        let st = self.lock()?;
        let (c, o) = find(&st, addr)?;
        Ok(st.chips[c].lines[o].history.iter().copied().collect())
    }

    /// The consumer holding the line, if requested.
    pub fn consumer(&self, addr: &LineAddress) -> Result<Option<String>, DeviceError> {
        let st = self.lock()?;
        let (c, o) = find(&st, addr)?;
        Ok(st.chips[c].lines[o]
            .requested
            .as_ref()
            .map(|r| r.consumer.clone()))
    }

    /// Drive a line from a [`Schedule`] on a tokio task until the task is aborted (or the line
    /// address stops resolving). Must be called inside a tokio runtime.
    pub fn run_schedule(
        &self,
        addr: &LineAddress,
        schedule: Schedule,
        initial: bool,
    ) -> Result<JoinHandle<()>, DeviceError> {
        {
            let st = self.lock()?;
            find(&st, addr)?;
        }
        let rt = tokio::runtime::Handle::try_current().map_err(|_| {
            DeviceError::new(
                ErrorCode::Einval,
                format!("sim GPIO {addr}: schedules need a tokio runtime"),
            )
        })?;
        self.drive(addr, initial)?;
        let sim = self.clone();
        let addr = addr.clone();
        Ok(rt.spawn(async move {
            let start = tokio::time::Instant::now();
            for (at, level) in schedule.steps(initial) {
                tokio::time::sleep_until(start + at).await;
                if let Err(e) = sim.drive(&addr, level) {
                    tracing::warn!(line = %addr, error = %e, "sim GPIO schedule stopped");
                    return;
                }
            }
        }))
    }
}

fn lock(state: &Mutex<SimState>) -> Result<MutexGuard<'_, SimState>, DeviceError> {
    state
        .lock()
        .map_err(|_| DeviceError::new(ErrorCode::Eio, "sim GPIO state poisoned by a panic"))
}

fn find(st: &SimState, addr: &LineAddress) -> Result<(usize, usize), DeviceError> {
    match addr {
        LineAddress::Chip { label, offset } => {
            let c = st
                .chips
                .iter()
                .position(|c| &c.label == label)
                .ok_or_else(|| {
                    let labels: Vec<&str> = st.chips.iter().map(|c| c.label.as_str()).collect();
                    DeviceError::new(
                        ErrorCode::Enoent,
                        format!(
                            "no GPIO chip labelled '{label}' (sim chips: {})",
                            labels.join(", ")
                        ),
                    )
                })?;
            let o = usize::try_from(*offset)
                .ok()
                .filter(|o| *o < st.chips[c].lines.len())
                .ok_or_else(|| {
                    DeviceError::new(
                        ErrorCode::Einval,
                        format!(
                            "sim ({label}) has {} lines, no line {offset}",
                            st.chips[c].lines.len()
                        ),
                    )
                })?;
            Ok((c, o))
        }
        LineAddress::Name(name) => st
            .chips
            .iter()
            .enumerate()
            .find_map(|(c, chip)| {
                chip.lines
                    .iter()
                    .position(|l| !l.name.is_empty() && &l.name == name)
                    .map(|o| (c, o))
            })
            .ok_or_else(|| {
                DeviceError::new(ErrorCode::Enoent, format!("no GPIO line named '{name}'"))
            }),
    }
}

fn notify_edge(line: &mut SimLine, physical: bool) {
    if let Some(r) = &line.requested {
        if r.config.direction == Direction::Input {
            if let Some(tx) = &r.edges {
                let _ = tx.send(Ok(RawEdge {
                    level: physical ^ r.config.active_low,
                    timestamp_ns: monotonic_ns(),
                    seq: None,
                }));
            }
        }
    }
}

fn record(line: &mut SimLine, value: bool, level: bool) {
    if line.history.len() >= OUTPUT_HISTORY_CAPACITY {
        line.history.pop_front();
    }
    line.history.push_back(OutputRecord {
        timestamp_ns: monotonic_ns(),
        value,
        level,
    });
}

impl GpioBackend for SimGpio {
    fn request_line(&self, addr: &LineAddress, cfg: &LineConfig) -> Result<GpioLine, DeviceError> {
        cfg.validate()?;
        let mut st = self.lock()?;
        let (c, o) = find(&st, addr)?;
        let generation = st.next_generation;
        st.next_generation += 1;
        let chip_label = st.chips[c].label.clone();
        let line = &mut st.chips[c].lines[o];
        let info = LineInfo {
            chip_label,
            chip_name: "sim".to_string(),
            offset: u32::try_from(o).unwrap_or(u32::MAX),
            name: line.name.clone(),
        };
        if let Some(r) = &line.requested {
            return Err(DeviceError::new(
                ErrorCode::Ebusy,
                format!("{info} is busy: used by '{}'", r.consumer),
            ));
        }
        let mut events = None;
        let mut edges_tx = None;
        if let (Direction::Input, Some(edge)) = (cfg.direction, cfg.edge) {
            let (tx, rx) = mpsc::unbounded_channel();
            let mut rx = rx;
            let source = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
            // Bias applies from the request on: compute the initial level as the line will read.
            let driven = line.driven;
            let pulled_up = matches!(cfg.bias, Some(Bias::PullUp));
            let initial = driven.unwrap_or(pulled_up) ^ cfg.active_low;
            let processor = EdgeProcessor::new(edge, cfg.debounce, initial);
            events = Some(spawn_edge_worker(info.to_string(), source, processor)?);
            edges_tx = Some(tx);
        }
        line.requested = Some(Requested {
            consumer: cfg.consumer.clone(),
            config: cfg.clone(),
            edges: edges_tx,
            generation,
        });
        if cfg.direction == Direction::Output {
            line.output_level = cfg.initial ^ cfg.active_low;
            let level = line.output_level;
            record(line, cfg.initial, level);
        }
        drop(st);
        let io = Arc::new(SimLineIo {
            state: self.state.clone(),
            chip: c,
            offset: o,
            generation,
            info: info.clone(),
        });
        Ok(GpioLine::from_parts(info, cfg.clone(), io, events))
    }

    fn name(&self) -> &'static str {
        "sim"
    }
}

struct SimLineIo {
    state: Arc<Mutex<SimState>>,
    chip: usize,
    offset: usize,
    generation: u64,
    info: LineInfo,
}

impl SimLineIo {
    fn with_line<T>(
        &self,
        f: impl FnOnce(&mut SimLine, &LineConfig) -> T,
    ) -> Result<T, DeviceError> {
        let mut st = lock(&self.state)?;
        let line = &mut st.chips[self.chip].lines[self.offset];
        let config = match &line.requested {
            Some(r) if r.generation == self.generation => r.config.clone(),
            _ => {
                return Err(DeviceError::new(
                    ErrorCode::Enodev,
                    format!("{}: line is closed", self.info),
                ))
            }
        };
        Ok(f(line, &config))
    }
}

impl LineIo for SimLineIo {
    fn get(&self) -> Result<bool, DeviceError> {
        self.with_line(|line, cfg| {
            let physical = match cfg.direction {
                Direction::Output => line.output_level,
                Direction::Input => line.input_level(),
            };
            physical ^ cfg.active_low
        })
    }

    fn set(&self, value: bool) -> Result<(), DeviceError> {
        self.with_line(|line, cfg| {
            line.output_level = value ^ cfg.active_low;
            let level = line.output_level;
            record(line, value, level);
        })
    }

    fn close(&self) {
        if let Ok(mut st) = lock(&self.state) {
            let line = &mut st.chips[self.chip].lines[self.offset];
            if line
                .requested
                .as_ref()
                .is_some_and(|r| r.generation == self.generation)
            {
                line.requested = None;
            }
        }
    }
}

/// A board-file input schedule: how the simulator drives a line over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Toggle every `period` (a door switch); each toggle may bounce `bounces` times, `bounce_gap`
    /// apart, before it settles.
    Toggle {
        /// Time between toggles.
        period: Duration,
        /// Extra back-and-forth changes before each toggle settles (contact bounce).
        bounces: u32,
        /// Time between bounce changes.
        bounce_gap: Duration,
    },
    /// A pulse of `width` every `period` (a flow meter, a tick); the pulse level is `!initial`.
    Pulse {
        /// Time between pulse starts.
        period: Duration,
        /// Pulse length (must be shorter than `period`).
        width: Duration,
    },
}

impl Schedule {
    /// The level changes as (time since start, physical level), starting from `initial`; endless.
    pub fn steps(self, initial: bool) -> impl Iterator<Item = (Duration, bool)> + Send {
        (1..=u32::MAX).flat_map(move |k| {
            let mut out: Vec<(Duration, bool)> = Vec::new();
            match self {
                Schedule::Toggle {
                    period,
                    bounces,
                    bounce_gap,
                } => {
                    let t = period.saturating_mul(k);
                    let target = if k % 2 == 1 { !initial } else { initial };
                    for i in 0..bounces {
                        out.push((t + bounce_gap.saturating_mul(2 * i), target));
                        out.push((t + bounce_gap.saturating_mul(2 * i + 1), !target));
                    }
                    out.push((t + bounce_gap.saturating_mul(2 * bounces), target));
                }
                Schedule::Pulse { period, width } => {
                    let t = period.saturating_mul(k);
                    out.push((t, !initial));
                    out.push((t + width, initial));
                }
            }
            out
        })
    }

    /// Check the timing makes sense (non-zero period, pulse shorter than its period, bounces fit).
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Schedule::Toggle {
                period,
                bounces,
                bounce_gap,
            } => {
                if period.is_zero() {
                    return Err("period must be greater than zero".into());
                }
                if bounce_gap.saturating_mul(2 * bounces) >= period {
                    return Err("bounces must settle within the period".into());
                }
                Ok(())
            }
            Schedule::Pulse { period, width } => {
                if period.is_zero() || width.is_zero() {
                    return Err("period and width must be greater than zero".into());
                }
                if width >= period {
                    return Err("pulse width must be shorter than the period".into());
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Edge, EdgeKind};
    use super::*;

    fn sim() -> SimGpio {
        SimGpio::new(&[SimChipSpec {
            label: "sim-bank0".into(),
            num_lines: 8,
            line_names: vec![(0, "BUTTON".into()), (3, "LED".into())],
        }])
        .expect("chips")
    }

    #[test]
    fn schedules_toggle_with_bounces_and_pulse() {
        let ms = Duration::from_millis;
        let s = Schedule::Toggle {
            period: ms(100),
            bounces: 1,
            bounce_gap: ms(1),
        };
        let steps: Vec<_> = s.steps(false).take(6).collect();
        assert_eq!(
            steps,
            vec![
                (ms(100), true),
                (ms(101), false),
                (ms(102), true),
                (ms(200), false),
                (ms(201), true),
                (ms(202), false),
            ]
        );
        let p = Schedule::Pulse {
            period: ms(50),
            width: ms(5),
        };
        let steps: Vec<_> = p.steps(true).take(4).collect();
        assert_eq!(
            steps,
            vec![
                (ms(50), false),
                (ms(55), true),
                (ms(100), false),
                (ms(105), true)
            ]
        );
        assert!(p.validate().is_ok());
        let bad = Schedule::Pulse {
            period: ms(5),
            width: ms(5),
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn second_request_is_busy_and_names_the_consumer() {
        let sim = sim();
        let addr = LineAddress::name("BUTTON");
        let _held = sim
            .request_line(&addr, &LineConfig::input().with_consumer("door"))
            .expect("first request");
        let e = sim
            .request_line(&LineAddress::chip("sim-bank0", 0), &LineConfig::input())
            .expect_err("busy");
        assert_eq!(e.code, ErrorCode::Ebusy);
        assert!(
            e.message.contains("line 0") && e.message.contains("'door'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn outputs_record_writes_and_close_releases() {
        let sim = sim();
        let addr = LineAddress::chip("sim-bank0", 3);
        let line = sim
            .request_line(&addr, &LineConfig::output(true).active_low())
            .expect("output");
        line.write(false).expect("write");
        let h = sim.output_history(&addr).expect("history");
        let values: Vec<(bool, bool)> = h.iter().map(|r| (r.value, r.level)).collect();
        assert_eq!(values, vec![(true, false), (false, true)]);
        assert!(sim.level(&addr).expect("level"));
        line.close();
        assert_eq!(line.write(true).map_err(|e| e.code), Err(ErrorCode::Enodev));
        assert_eq!(sim.consumer(&addr).expect("consumer"), None);
        assert!(sim.request_line(&addr, &LineConfig::input()).is_ok());
    }

    #[test]
    fn inputs_follow_bias_drive_and_active_low() {
        let sim = sim();
        let addr = LineAddress::chip("sim-bank0", 5);
        let line = sim
            .request_line(&addr, &LineConfig::input().with_bias(Bias::PullUp))
            .expect("input");
        assert!(line.read().expect("read"), "pull-up floats high");
        sim.drive(&addr, false).expect("drive");
        assert!(!line.read().expect("read"));
        assert_eq!(line.write(true).map_err(|e| e.code), Err(ErrorCode::Einval));
        line.close();
        let low = sim
            .request_line(&addr, &LineConfig::input().active_low())
            .expect("again");
        assert!(low.read().expect("read"), "driven low reads active");
    }

    #[tokio::test]
    async fn driven_edges_arrive_debounced_through_the_worker() {
        let sim = sim();
        let addr = LineAddress::name("BUTTON");
        let line = sim
            .request_line(
                &addr,
                &LineConfig::input()
                    .with_edge(Edge::Both)
                    .with_debounce(Duration::from_millis(250)),
            )
            .expect("input");
        let mut events = line.take_events().expect("events");
        assert!(line.take_events().is_none(), "receiver is taken once");
        // A bouncy press (all within the 250 ms period): only one rising edge should come out.
        for level in [true, false, true, false, true] {
            sim.drive(&addr, level).expect("drive");
        }
        let ev = events.recv().await.expect("open").expect("event");
        assert_eq!((ev.kind, ev.seq), (EdgeKind::Rising, 1));
        sim.drive(&addr, false).expect("drive");
        let ev = events.recv().await.expect("open").expect("event");
        assert_eq!((ev.kind, ev.seq), (EdgeKind::Falling, 2));
        line.close();
        assert!(events.recv().await.is_none(), "channel ends on close");
    }

    #[tokio::test]
    async fn schedule_drives_a_line() {
        let sim = sim();
        let addr = LineAddress::chip("sim-bank0", 1);
        let line = sim
            .request_line(&addr, &LineConfig::input().with_edge(Edge::Rising))
            .expect("input");
        let mut events = line.take_events().expect("events");
        let task = sim
            .run_schedule(
                &addr,
                Schedule::Pulse {
                    period: Duration::from_millis(5),
                    width: Duration::from_millis(1),
                },
                false,
            )
            .expect("schedule");
        for seq in 1..=3 {
            let ev = events.recv().await.expect("open").expect("event");
            assert_eq!((ev.kind, ev.seq), (EdgeKind::Rising, seq));
        }
        task.abort();
    }
}
