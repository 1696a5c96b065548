//! The sensor subsystem: one tokio task per sensor, a bounded delivery queue, one pump task.
//!
//! Each sensor task owns its driver (attached on first use, re-attached after the sensor went
//! offline or its device vanished), follows its [`Schedule`], and never starts a read while the
//! previous one runs: reads happen one after the other inside the task, and a blocking driver
//! whose read was abandoned by the timeout keeps its lock until that read returns, so the next
//! read waits for it (such a driver is not re-attached). A slow or failing sensor delays nobody
//! else. Events go into the [`DeliveryQueue`]; the pump hands them to a [`Sink`] in
//! batches, one batch in flight at a time, so a busy consumer makes the queue drop the oldest
//! readings per sensor (counted) instead of growing anything.
//!
//! The subsystem knows nothing about JavaScript: the JS binding is one [`Sink`]; tests use another.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures::future::BoxFuture;
use ganglion_devices::drivers::ds18b20::DEFAULT_BASE_DIR;
use ganglion_devices::drivers::pulse::PulseCounterHandle;
use ganglion_devices::drivers::{FieldInfo, Reading, Sensor};
use ganglion_devices::gpio::{GpioLine, LineConfig};
use ganglion_devices::serial::{SerialConfig, SerialOpener, TtyOpener};
use ganglion_devices::{DeviceError, ErrorCode};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

use super::config::{Location, SensorSpec};
use super::queue::{DeliveryQueue, QueueCounters};
use super::schedule::{Health, Policy, Schedule, Transition};
use crate::devices::Devices;

/// Events handed to the sink per batch.
pub const BATCH: usize = 256;
/// On-demand reads that may wait per sensor.
const PENDING_READS: usize = 16;
/// The simulated DS18B20 rewrites its file at least this often.
const SIM_W1_PERIOD: Duration = Duration::from_secs(1);

/// Milliseconds since the Unix epoch (what scripts get as `time`).
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Static description of a configured sensor.
#[derive(Debug, Clone)]
pub struct SensorInfo {
    /// Unique name.
    pub name: Arc<str>,
    /// Canonical driver name.
    pub driver: &'static str,
    /// Where it is attached, for people (`I2C bus 1 address 0x76`).
    pub location: String,
    /// Time between reads.
    pub interval: Duration,
    /// Limit for one read.
    pub timeout: Duration,
    /// Consecutive failures before 'offline'.
    pub offline_after: u32,
    /// Values it reports.
    pub fields: Vec<FieldInfo>,
}

/// What happened to a sensor, as delivered to the script.
#[derive(Debug, Clone)]
pub enum EventKind {
    /// A reading.
    Reading(Reading),
    /// A read failed.
    Error {
        /// Why.
        error: DeviceError,
        /// Consecutive failures including this one.
        failures: u32,
    },
    /// The sensor answered (first time, or again after being offline).
    Online,
    /// The sensor failed `failures` times in a row.
    Offline {
        /// Consecutive failures.
        failures: u32,
        /// The last failure.
        error: DeviceError,
    },
}

impl EventKind {
    /// Event name as scripts see it.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Reading(_) => "reading",
            EventKind::Error { .. } => "error",
            EventKind::Online => "online",
            EventKind::Offline { .. } => "offline",
        }
    }
}

/// One event of one sensor.
#[derive(Debug, Clone)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub time_ms: f64,
    /// What happened.
    pub kind: EventKind,
}

/// A reading with its time, as an on-demand read returns it.
#[derive(Debug, Clone)]
pub struct TimedReading {
    /// Milliseconds since the Unix epoch.
    pub time_ms: f64,
    /// The values.
    pub reading: Reading,
}

/// Health and counters as the sensor task last left them.
#[derive(Debug, Clone)]
struct Status {
    health: Health,
    failures: u32,
    reads: u64,
    errors: u64,
    last_reading_ms: Option<f64>,
    last_error: Option<(f64, DeviceError)>,
}

/// A snapshot of one sensor's counters.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Health.
    pub health: Health,
    /// Consecutive failures.
    pub failures: u32,
    /// Successful reads (scheduled and on demand).
    pub reads: u64,
    /// Failed reads.
    pub errors: u64,
    /// Readings dropped because the script fell behind.
    pub dropped: u64,
    /// Readings delivered to the script as events.
    pub delivered: u64,
    /// Readings queued or on their way to the script.
    pub pending: u64,
    /// Time of the last successful read.
    pub last_reading_ms: Option<f64>,
    /// Time and error of the last failed read.
    pub last_error: Option<(f64, DeviceError)>,
}

/// One sensor's shared state: its description, status and delivery counter.
#[derive(Debug)]
pub struct SensorShared {
    /// Index in the hub.
    pub index: usize,
    /// Description.
    pub info: SensorInfo,
    status: Mutex<Status>,
    delivered: AtomicU64,
}

impl SensorShared {
    /// The consumer delivered one reading of this sensor (counted for [`Stats::delivered`]).
    pub fn mark_delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }
}

/// One queued event with the sensor it belongs to.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The sensor.
    pub sensor: Arc<SensorShared>,
    /// The event.
    pub event: Event,
}

/// Where batches of events go (the JS binding, or a test).
pub trait Sink: Send + Sync + 'static {
    /// Deliver a batch; the future completes once the consumer has processed it (or dropped it).
    /// Returns false when the consumer is gone for good (the pump stops).
    fn deliver(&self, batch: Vec<Delivery>) -> BoxFuture<'static, bool>;
}

/// Opens the board for sensor tasks (the agent passes `Services::devices`).
pub type DevicesFn = Arc<dyn Fn() -> Result<Arc<Devices>, DeviceError> + Send + Sync>;

/// What sensor tasks need from the agent.
#[derive(Clone)]
pub struct Env {
    /// The board, opened on first use.
    pub devices: DevicesFn,
    /// The agent's state folder (simulated devices live under it).
    pub state_dir: PathBuf,
}

struct HubShared {
    sensors: Vec<Arc<SensorShared>>,
    queue: Mutex<DeliveryQueue<Event>>,
    notify: Notify,
}

impl HubShared {
    /// Update the sensor's status and queue its events in one step under the queue lock, so a
    /// stats snapshot (taken under the same lock) never sees a read counted but not queued.
    fn record(&self, index: usize, update: impl FnOnce(), events: Vec<Event>) {
        if let Ok(mut q) = self.queue.lock() {
            update();
            for event in events {
                let reading = matches!(event.kind, EventKind::Reading(_));
                q.push(index, event, reading);
            }
        }
        self.notify.notify_one();
    }
}

enum Command {
    Read(oneshot::Sender<Result<TimedReading, DeviceError>>),
}

/// The running subsystem. Dropping it stops every sensor task and the pump.
pub struct Hub {
    shared: Arc<HubShared>,
    commands: Vec<mpsc::Sender<Command>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("sensors", &self.shared.sensors.len())
            .finish()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Hub {
    /// Start one task per sensor and the pump on `rt`, delivering to `sink`.
    pub fn start(
        specs: Vec<SensorSpec>,
        env: Env,
        sink: Arc<dyn Sink>,
        rt: &tokio::runtime::Handle,
    ) -> Hub {
        let sensors: Vec<Arc<SensorShared>> = specs
            .iter()
            .enumerate()
            .map(|(index, s)| {
                Arc::new(SensorShared {
                    index,
                    info: SensorInfo {
                        name: Arc::from(s.name.as_str()),
                        driver: s.driver.name(),
                        location: s.location.to_string(),
                        interval: s.interval,
                        timeout: s.timeout,
                        offline_after: s.offline_after,
                        fields: s.driver.fields(),
                    },
                    status: Mutex::new(Status {
                        health: Health::Starting,
                        failures: 0,
                        reads: 0,
                        errors: 0,
                        last_reading_ms: None,
                        last_error: None,
                    }),
                    delivered: AtomicU64::new(0),
                })
            })
            .collect();
        let caps: Vec<usize> = specs.iter().map(|s| s.queue).collect();
        let shared = Arc::new(HubShared {
            sensors,
            queue: Mutex::new(DeliveryQueue::new(&caps)),
            notify: Notify::new(),
        });
        let mut tasks = Vec::new();
        let mut commands = Vec::new();
        for (index, spec) in specs.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(PENDING_READS);
            commands.push(tx);
            let task = SensorTask {
                index,
                spec,
                hub: shared.clone(),
                env: env.clone(),
            };
            tasks.push(rt.spawn(task.run(rx)));
        }
        tasks.push(rt.spawn(pump(shared.clone(), sink)));
        Hub {
            shared,
            commands,
            tasks,
        }
    }

    /// The sensors, in config order.
    pub fn sensors(&self) -> &[Arc<SensorShared>] {
        &self.shared.sensors
    }

    /// Index of the sensor called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.shared
            .sensors
            .iter()
            .position(|s| &*s.info.name == name)
    }

    /// Ask sensor `index` for a reading now (after any read in progress). EBUSY when too many
    /// on-demand reads already wait for it.
    pub fn read(
        &self,
        index: usize,
    ) -> Result<oneshot::Receiver<Result<TimedReading, DeviceError>>, DeviceError> {
        let tx = self.commands.get(index).ok_or_else(|| {
            DeviceError::new(ErrorCode::Einval, format!("no sensor number {index}"))
        })?;
        let (reply, rx) = oneshot::channel();
        tx.try_send(Command::Read(reply)).map_err(|_| {
            DeviceError::new(
                ErrorCode::Ebusy,
                format!(
                    "sensor '{}': {PENDING_READS} on-demand reads are already waiting",
                    self.shared.sensors[index].info.name
                ),
            )
        })?;
        Ok(rx)
    }

    /// Counters of sensor `index`. Called from the consumer's thread (where `delivered` does
    /// not move), `reads = delivered + dropped + pending` holds exactly for scheduled reads.
    pub fn stats(&self, index: usize) -> Option<Stats> {
        let sensor = self.shared.sensors.get(index)?;
        // Queue counters and status under the queue lock: consistent with each other.
        let (q, status): (QueueCounters, Status) = {
            let queue = self.shared.queue.lock().ok()?;
            let status = sensor.status.lock().ok()?.clone();
            (queue.counters(index), status)
        };
        let delivered = sensor.delivered.load(Ordering::Relaxed);
        Some(Stats {
            health: status.health,
            failures: status.failures,
            reads: status.reads,
            errors: status.errors,
            dropped: q.dropped,
            delivered,
            // Queued, plus taken for delivery but not delivered yet (in a batch on its way).
            pending: q.queued as u64 + q.taken.saturating_sub(delivered),
            last_reading_ms: status.last_reading_ms,
            last_error: status.last_error,
        })
    }
}

/// Hand queued events to the sink, one batch in flight at a time.
async fn pump(hub: Arc<HubShared>, sink: Arc<dyn Sink>) {
    loop {
        let batch: Vec<Delivery> = match hub.queue.lock() {
            Ok(mut q) => q
                .take(BATCH)
                .into_iter()
                .map(|(i, event)| Delivery {
                    sensor: hub.sensors[i].clone(),
                    event,
                })
                .collect(),
            Err(_) => return,
        };
        if batch.is_empty() {
            hub.notify.notified().await;
            continue;
        }
        if !sink.deliver(batch).await {
            return;
        }
    }
}

/// Aborts a task when dropped (edge counters, simulators tied to an attachment).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A driver attached to its bus, with whatever must live as long as it.
struct Attached {
    sensor: Box<dyn Sensor>,
    edge_error: Option<Arc<Mutex<Option<DeviceError>>>>,
    _line: Option<GpioLine>,
    _tasks: Vec<AbortOnDrop>,
}

impl Attached {
    fn plain(sensor: Box<dyn Sensor>) -> Self {
        Self {
            sensor,
            edge_error: None,
            _line: None,
            _tasks: Vec::new(),
        }
    }

    /// The edge stream of a pulse counter ended with an error: the counts are no longer valid.
    fn broken(&self) -> Option<DeviceError> {
        self.edge_error.as_ref()?.lock().ok()?.clone()
    }
}

struct SensorTask {
    index: usize,
    spec: SensorSpec,
    hub: Arc<HubShared>,
    env: Env,
}

impl SensorTask {
    fn shared(&self) -> &SensorShared {
        &self.hub.sensors[self.index]
    }

    async fn run(self, mut commands: mpsc::Receiver<Command>) {
        let policy = Policy {
            interval: self.spec.interval,
            backoff: self.spec.backoff,
            backoff_max: self.spec.backoff_max,
            offline_after: self.spec.offline_after,
        };
        let mut schedule = Schedule::new(policy, Instant::now());
        let mut attached: Option<Attached> = None;
        let mut sim: Option<AbortOnDrop> = None;
        let mut commands_open = true;
        loop {
            let due = tokio::time::Instant::from_std(schedule.next_due());
            let reply = tokio::select! {
                _ = tokio::time::sleep_until(due) => None,
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(Command::Read(reply)) => Some(reply),
                    None => {
                        commands_open = false;
                        continue;
                    }
                },
            };
            let scheduled = reply.is_none();
            let result = self.read(&mut attached, &mut sim).await;
            let now = Instant::now();
            let time_ms = now_ms();
            match result {
                Ok(reading) => {
                    let was = schedule.health();
                    let transition = schedule.succeeded(now, scheduled);
                    let mut events = Vec::new();
                    if transition == Some(Transition::Online) {
                        if was == Health::Offline {
                            tracing::info!(sensor = %self.spec.name, "sensor back online");
                        } else {
                            tracing::debug!(sensor = %self.spec.name, "sensor online");
                        }
                        events.push(Event {
                            time_ms,
                            kind: EventKind::Online,
                        });
                    }
                    let reply = match reply {
                        Some(reply) => Some((reply, reading)),
                        None => {
                            events.push(Event {
                                time_ms,
                                kind: EventKind::Reading(reading),
                            });
                            None
                        }
                    };
                    self.hub.record(
                        self.index,
                        || self.update(&schedule, Some(time_ms), None),
                        events,
                    );
                    if let Some((reply, reading)) = reply {
                        let _ = reply.send(Ok(TimedReading { time_ms, reading }));
                    }
                }
                Err(error) => {
                    let transition = schedule.failed(now);
                    let failures = schedule.failures();
                    if failures == 1 {
                        tracing::warn!(sensor = %self.spec.name, code = %error.code, "sensor read failed: {}", error.message);
                    } else {
                        tracing::debug!(sensor = %self.spec.name, code = %error.code, failures, "sensor read failed: {}", error.message);
                    }
                    // Start over with a fresh attachment once the sensor is offline or its device
                    // vanished (reopens a replugged port, re-reads calibration after a reset).
                    // Not after a timeout: a blocking read abandoned by it still holds the
                    // driver, and the next read must wait for it rather than run beside it.
                    let vanished = matches!(error.code, ErrorCode::Enodev | ErrorCode::Enoent);
                    let timed_out = error.code == ErrorCode::Etimedout;
                    if vanished || (schedule.health() == Health::Offline && !timed_out) {
                        attached = None;
                    }
                    let mut events = vec![Event {
                        time_ms,
                        kind: EventKind::Error {
                            error: error.clone(),
                            failures,
                        },
                    }];
                    if let Some(Transition::Offline { failures }) = transition {
                        tracing::warn!(sensor = %self.spec.name, failures, "sensor offline");
                        events.push(Event {
                            time_ms,
                            kind: EventKind::Offline {
                                failures,
                                error: error.clone(),
                            },
                        });
                    }
                    self.hub.record(
                        self.index,
                        || self.update(&schedule, None, Some((time_ms, error.clone()))),
                        events,
                    );
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(error));
                    }
                }
            }
        }
    }

    fn update(
        &self,
        schedule: &Schedule,
        reading_ms: Option<f64>,
        error: Option<(f64, DeviceError)>,
    ) {
        if let Ok(mut st) = self.shared().status.lock() {
            st.health = schedule.health();
            st.failures = schedule.failures();
            st.reads = schedule.reads();
            st.errors = schedule.errors();
            if reading_ms.is_some() {
                st.last_reading_ms = reading_ms;
            }
            if error.is_some() {
                st.last_error = error;
            }
        }
    }

    /// One read: attach if needed, then read with the timeout.
    async fn read(
        &self,
        attached: &mut Option<Attached>,
        sim: &mut Option<AbortOnDrop>,
    ) -> Result<Reading, DeviceError> {
        let a = match attached.take() {
            Some(a) => a,
            None => self.attach(sim).await?,
        };
        let a = attached.insert(a);
        if let Some(e) = a.broken() {
            *attached = None;
            return Err(e);
        }
        match tokio::time::timeout(self.spec.timeout, a.sensor.read()).await {
            Ok(r) => r,
            Err(_) => Err(DeviceError::new(
                ErrorCode::Etimedout,
                format!(
                    "{} on {}: read timed out after {:?}",
                    self.spec.driver.name(),
                    self.spec.location,
                    self.spec.timeout
                ),
            )),
        }
    }

    async fn attach(&self, sim: &mut Option<AbortOnDrop>) -> Result<Attached, DeviceError> {
        let devices = (self.env.devices)()?;
        let driver = &self.spec.driver;
        match &self.spec.location {
            Location::I2c { bus, address } => {
                let bus = devices.i2c(*bus)?;
                Ok(Attached::plain(driver.build_i2c(bus, *address)?))
            }
            Location::Serial { port, baud } => {
                let path = devices.serial_path(port)?;
                let baud = baud
                    .or_else(|| devices.board().serial_port(port).and_then(|p| p.baud))
                    .unwrap_or(9600);
                let stream = TtyOpener.open(&SerialConfig::new(&path, baud))?;
                Ok(Attached::plain(driver.build_serial(stream)?))
            }
            Location::OneWire { id, base_dir } => {
                let simulated = devices.board().is_simulated();
                let base = match base_dir {
                    Some(d) => d.clone(),
                    None if simulated => sim_w1_dir(&self.env.state_dir),
                    None => PathBuf::from(DEFAULT_BASE_DIR),
                };
                if simulated && sim.is_none() && base.starts_with(&self.env.state_dir) {
                    *sim = Some(self.start_sim_ds18b20(&base, id)?);
                }
                Ok(Attached::plain(driver.build_onewire(&base, id)?))
            }
            Location::Gpio { pin, edge } => {
                let addr = devices.resolve_pin(pin)?;
                let cfg = LineConfig::input()
                    .with_edge(*edge)
                    .with_consumer(consumer_label(&self.spec.name));
                let line = devices.gpio().request_line(&addr, &cfg)?;
                let mut events = line.take_events().ok_or_else(|| {
                    DeviceError::new(
                        ErrorCode::Eio,
                        format!("GPIO pin {pin}: the line delivers no edge events"),
                    )
                })?;
                let counter = PulseCounterHandle::new();
                let edges = counter.clone();
                let failed = Arc::new(Mutex::new(None));
                let failed_w = failed.clone();
                let task = tokio::spawn(async move {
                    while let Some(ev) = events.recv().await {
                        match ev {
                            Ok(_) => edges.edge(),
                            Err(e) => {
                                if let Ok(mut f) = failed_w.lock() {
                                    *f = Some(e);
                                }
                                return;
                            }
                        }
                    }
                });
                Ok(Attached {
                    sensor: driver.build_pulse(counter)?,
                    edge_error: Some(failed),
                    _line: Some(line),
                    _tasks: vec![AbortOnDrop(task)],
                })
            }
        }
    }

    /// The simulated board has no 1-Wire bus of its own: play the DS18B20 by writing its
    /// `w1_slave` file under the state folder.
    fn start_sim_ds18b20(&self, base: &Path, id: &str) -> Result<AbortOnDrop, DeviceError> {
        let mut dev = ganglion_devices::sim::build_w1_device(base, id, &toml::Table::new())?;
        dev.write_once()
            .map_err(|e| DeviceError::from_io(base.join(id).display(), &e))?;
        let period = self.spec.interval.min(SIM_W1_PERIOD);
        let name = self.spec.name.clone();
        tracing::info!(sensor = %name, dir = %base.display(), "simulating a DS18B20 on the simulated board");
        Ok(AbortOnDrop(tokio::spawn(async move {
            if let Err(e) = dev.run(period).await {
                tracing::warn!(sensor = %name, "simulated DS18B20 stopped: {e}");
            }
        })))
    }
}

/// Where the simulated board's 1-Wire devices live: `<state_dir>/sim/w1`.
pub fn sim_w1_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("sim").join("w1")
}

/// GPIO consumer label (the kernel keeps 31 bytes).
fn consumer_label(name: &str) -> String {
    let mut label = format!("sensor:{name}");
    while label.len() > 31 {
        label.pop();
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::Devices;
    use crate::sensors::config::{validate, SensorConfig};
    use ganglion_devices::board::Board;

    /// Collects batches; can hold the consumer back to make the queue fill up.
    struct TestSink {
        tx: mpsc::UnboundedSender<Delivery>,
        gate: Arc<tokio::sync::Semaphore>,
    }

    impl Sink for TestSink {
        fn deliver(&self, batch: Vec<Delivery>) -> BoxFuture<'static, bool> {
            let tx = self.tx.clone();
            let gate = self.gate.clone();
            Box::pin(async move {
                let Ok(_permit) = gate.acquire().await else {
                    return false;
                };
                for d in batch {
                    if matches!(d.event.kind, EventKind::Reading(_)) {
                        d.sensor.mark_delivered();
                    }
                    let _ = tx.send(d);
                }
                true
            })
        }
    }

    #[derive(serde::Deserialize)]
    struct Doc {
        sensors: Vec<SensorConfig>,
    }

    fn specs(text: &str) -> Vec<SensorSpec> {
        let doc: Doc = toml::from_str(text).expect("toml");
        validate(&doc.sensors, text, Path::new("/")).expect("valid")
    }

    struct Rig {
        hub: Hub,
        rx: mpsc::UnboundedReceiver<Delivery>,
        gate: Arc<tokio::sync::Semaphore>,
        _dir: tempfile::TempDir,
    }

    fn rig(board: &str, sensors: &str) -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let board = Board::parse("test-board.toml", board).expect("board");
        let devices = Devices::open(board, dir.path()).expect("devices");
        let (tx, rx) = mpsc::unbounded_channel();
        let gate = Arc::new(tokio::sync::Semaphore::new(1_000_000));
        let env = Env {
            devices: Arc::new(move || Ok(devices.clone())),
            state_dir: dir.path().to_owned(),
        };
        let sink = Arc::new(TestSink {
            tx,
            gate: gate.clone(),
        });
        let hub = Hub::start(
            specs(sensors),
            env,
            sink,
            &tokio::runtime::Handle::current(),
        );
        Rig {
            hub,
            rx,
            gate,
            _dir: dir,
        }
    }

    const BOARD: &str = r#"
name = "t"
pins = [ { number = 27, names = ["GPIO27"], chip = "c", line = 27 } ]
[[gpio.chips]]
id = "c"
label = "t-sim"
lines = 28
[[i2c]]
bus = 1
[[i2c]]
bus = 2
[sim]
inputs = [ { pin = 27, pulse_every_ms = 20, pulse_width_ms = 2 } ]
i2c = [
  { bus = 1, address = 0x44, kind = "sht31" },
  { bus = 1, address = 0x50, kind = "nack" },
  { bus = 2, address = 0x23, kind = "timeout", options = { delay_ms = 400 } },
]
"#;

    async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
        tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("an event within 20 s")
            .expect("hub alive")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readings_errors_and_offline_flow_independently() {
        let mut r = rig(
            BOARD,
            r#"
[[sensors]]
name = "good"
driver = "sht31"
interval = "20ms"
[[sensors]]
name = "absent"
driver = "sht31"
address = 0x50
interval = "20ms"
backoff = "10ms"
offline_after = 2
[[sensors]]
name = "stuck"
driver = "bh1750"
bus = 2
interval = "20ms"
timeout = "50ms"
backoff = "10ms"
offline_after = 2
[[sensors]]
name = "flow"
driver = "pulse"
pin = 27
interval = "100ms"
"#,
        );
        let mut seen: std::collections::HashMap<(String, &'static str), u32> = Default::default();
        let mut good_after_offline = 0;
        let mut flow_pulses = 0.0;
        while good_after_offline < 5 || flow_pulses == 0.0 {
            let d = next(&mut r.rx).await;
            let name = d.sensor.info.name.to_string();
            *seen.entry((name.clone(), d.event.kind.name())).or_default() += 1;
            match (&*name, &d.event.kind) {
                ("good", EventKind::Reading(rd)) => {
                    assert!(rd.value("temperature").is_some());
                    if seen.contains_key(&("stuck".into(), "offline")) {
                        good_after_offline += 1;
                    }
                }
                ("absent", EventKind::Error { error, .. }) => {
                    assert_eq!(error.code, ErrorCode::Enxio)
                }
                ("stuck", EventKind::Error { error, .. }) => {
                    assert_eq!(error.code, ErrorCode::Etimedout, "{error}")
                }
                ("flow", EventKind::Reading(rd)) => {
                    flow_pulses += rd.value("pulses").expect("pulses")
                }
                ("good" | "absent" | "stuck" | "flow", _) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen.get(&("absent".into(), "offline")), Some(&1));
        assert_eq!(seen.get(&("absent".into(), "online")), None);
        assert_eq!(seen.get(&("good".into(), "online")), Some(&1));
        assert!(!seen.contains_key(&("good".into(), "error")), "{seen:?}");
        let stats = r.hub.stats(1).expect("absent");
        assert_eq!(stats.health, Health::Offline);
        assert!(stats.errors >= 2 && stats.reads == 0, "{stats:?}");
        assert_eq!(
            stats.last_error.map(|(_, e)| e.code),
            Some(ErrorCode::Enxio)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_demand_read_and_exact_drop_counts_when_the_consumer_stalls() {
        let mut r = rig(
            BOARD,
            r#"
[[sensors]]
name = "fast"
driver = "sht31"
interval = "10ms"
queue = 4
"#,
        );
        let got = r.hub.read(0).expect("queued").await.expect("reply");
        let reading = got.expect("reading");
        assert!(reading.reading.value("humidity").is_some());
        assert!(reading.time_ms > 1.0e12);

        // Hold the consumer: nothing is delivered, readings pile up to the bound of 4.
        let held = r
            .gate
            .clone()
            .acquire_many_owned(1_000_000)
            .await
            .expect("gate");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let s = r.hub.stats(0).expect("stats");
        assert!(s.dropped > 0, "{s:?}");
        assert!(s.pending <= 4 + BATCH as u64, "{s:?}");
        // Scheduled readings are delivered, dropped or pending (the on-demand one is only in
        // `reads`); checked while the consumer is held, so `delivered` cannot move meanwhile.
        assert_eq!(s.reads - 1, s.delivered + s.dropped + s.pending, "{s:?}");
        drop(held);
        // Drain and count what arrives; the books must balance exactly.
        let mut received = 0u64;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let held = r
                .gate
                .clone()
                .acquire_many_owned(1_000_000)
                .await
                .expect("gate");
            while let Ok(d) = r.rx.try_recv() {
                if matches!(d.event.kind, EventKind::Reading(_)) {
                    received += 1;
                }
            }
            let s = r.hub.stats(0).expect("stats");
            assert_eq!(s.reads - 1, s.delivered + s.dropped + s.pending, "{s:?}");
            drop(held);
            if s.delivered == received && s.delivered > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{s:?} received {received}");
        }
    }

    #[tokio::test]
    async fn pending_on_demand_reads_are_bounded() {
        let r = rig(
            BOARD,
            "[[sensors]]\nname = \"slow\"\ndriver = \"bh1750\"\nbus = 2\ninterval = \"1h\"\ntimeout = \"1s\"\n",
        );
        let mut waiting = Vec::new();
        let mut busy = None;
        for _ in 0..(PENDING_READS + 4) {
            match r.hub.read(0) {
                Ok(rx) => waiting.push(rx),
                Err(e) => {
                    busy = Some(e);
                    break;
                }
            }
        }
        assert_eq!(busy.map(|e| e.code), Some(ErrorCode::Ebusy));
        assert!(waiting.len() >= PENDING_READS);
        assert!(r.hub.read(9).is_err());
        assert_eq!(r.hub.index("slow"), Some(0));
        assert_eq!(r.hub.index("nope"), None);
    }

    #[test]
    fn consumer_labels_fit_the_kernel_limit() {
        assert_eq!(consumer_label("flow"), "sensor:flow");
        assert_eq!(consumer_label(&"x".repeat(40)).len(), 31);
    }
}
