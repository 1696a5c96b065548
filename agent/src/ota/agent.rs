//! The agent's side of OTA: one task on the I/O runtime that receives chunks, verifies and
//! installs bundles, publishes status and watches trials; and [`Ota`], the small link the
//! supervisor uses to learn which scripts to run next.
//!
//! The link: the OTA task never starts scripts itself. To activate a version it records a
//! *pending* [`Activation`] and asks the running script to shut down
//! ([`LoopSender::shutdown`]: `shutdown` event, grace period). When `run_script` returns, the
//! supervisor calls [`Ota::on_exit`], which hands over the pending activation (or, when the
//! script that ended was on trial, rolls it back and hands over the previous version). Both
//! sides decide under one mutex, so a trial ends exactly once.
//!
//! Trial: while a new version runs on trial the task asks the JS thread every 250 ms for the
//! runtime's uncaught-error count and whether `agent.healthy()` was called (a [`crate::js::JsTask`]
//! answering on a oneshot). More errors than `trial_max_errors`, no `healthy()` by the end
//! (with `require_healthy`), no answer, or the runtime ending roll it back; otherwise it is
//! committed when the trial window ends.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::bundle::Bundle;
use super::store::{
    self, InstallState, KillHooks, Phase, StateDir, StatusRecord, StoreError, Trial,
};
use super::transfer::{decode_chunk, ChunkOutcome, Transfers};
use super::verify::{verify, Policy, TrustedKeys};
use super::OtaConfig;
use crate::config::Config;
use crate::js::{Exit, JsTask, LoopMsg, LoopSender};
use crate::mqtt::{Delivery, MqttHandle, QoS, Subscription};

/// How often a running trial is probed.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// A trial whose runtime has not answered a probe for this long is unresponsive.
const UNRESPONSIVE: Duration = Duration::from_secs(5);

/// Which scripts to run: a version folder and its entry, or the configured scripts folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// Folder imports may not leave.
    pub root: PathBuf,
    /// Entry module.
    pub entry: PathBuf,
    /// Installed version, `None` for the configured `[agent] scripts` folder.
    pub version: Option<semver::Version>,
}

impl Activation {
    /// Point script options at these scripts.
    pub fn apply(&self, opts: &mut crate::js::ScriptOptions) {
        opts.scripts_root = self.root.clone();
        opts.entry = self.entry.clone();
    }
}

/// OTA could not start.
#[derive(Debug, thiserror::Error)]
pub enum OtaError {
    /// The scripts state folder is unusable.
    #[error("ota: {0}")]
    Store(#[from] StoreError),
    /// `[ota]` settings that cannot work.
    #[error("ota: {0}")]
    Config(String),
}

struct Running {
    generation: u64,
    trial: Option<Trial>,
}

/// State both sides decide on.
struct Coord {
    dir: StateDir,
    state: InstallState,
    base: Activation,
    pending: Option<(Activation, Option<Trial>)>,
    running: Running,
    terminating: bool,
}

impl Coord {
    fn activation(&self, v: Option<&semver::Version>) -> Activation {
        let Some(v) = v else {
            return self.base.clone();
        };
        match self.dir.manifest(v) {
            Ok(m) => {
                let root = self.dir.version_dir(v);
                Activation {
                    entry: root.join(&m.entry),
                    root,
                    version: Some(v.clone()),
                }
            }
            Err(e) => {
                tracing::error!("ota: installed version {v} is unusable ({e}); running the configured scripts folder");
                self.base.clone()
            }
        }
    }
}

/// What the supervisor side tells the task.
#[derive(Debug)]
enum Note {
    /// A runtime was started for a switch (a trial or a rollback target).
    Started {
        generation: u64,
        trial: Option<Trial>,
    },
    /// A transition decided on the supervisor side, to publish.
    Status(StatusRecord),
}

/// The supervisor's end of OTA (cloneable).
#[derive(Clone)]
pub struct Ota {
    coord: Arc<Mutex<Coord>>,
    notes: mpsc::UnboundedSender<Note>,
}

impl std::fmt::Debug for Ota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ota")
    }
}

fn lock(m: &Mutex<Coord>) -> MutexGuard<'_, Coord> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The MQTT side of the task: the connection and the agent's topic prefix.
#[derive(Debug, Clone)]
pub struct MqttLink {
    /// The agent's connection.
    pub handle: MqttHandle,
    /// `<prefix>` of `<prefix>/ota/deploy` and `<prefix>/ota/status`.
    pub prefix: String,
}

impl Ota {
    /// Open `<state_dir>/scripts`, recover from a crash, and start the OTA task on `io` (when
    /// `mqtt` is given). Returns the link and the scripts to run first.
    pub fn start(
        cfg: &Config,
        ota: &OtaConfig,
        io: &tokio::runtime::Handle,
        sender: LoopSender,
        mqtt: Option<MqttLink>,
    ) -> Result<(Ota, Activation), OtaError> {
        let keys = TrustedKeys::from_hex(&ota.trusted_keys)
            .map_err(|e| OtaError::Config(e.to_string()))?;
        if keys.is_empty() {
            tracing::warn!("ota: [ota] trusted_keys is empty: every bundle will be rejected");
        }
        let root = cfg.agent.state_dir.join("scripts");
        let (dir, _) = StateDir::open(&root, KillHooks::from_env())?;
        let state = store::recover(&dir)?;
        let base = Activation {
            root: cfg.agent.scripts.clone(),
            entry: cfg.entry_path(),
            version: None,
        };
        let mut coord = Coord {
            dir,
            state,
            base,
            pending: None,
            running: Running {
                generation: 0,
                trial: None,
            },
            terminating: false,
        };
        let first = coord.activation(coord.state.current.clone().as_ref());
        coord.running.generation = 1;
        match &first.version {
            Some(v) => tracing::info!(
                "ota: running installed version {v} from {}",
                first.root.display()
            ),
            None => tracing::info!(
                "ota: no version installed yet: running {}",
                first.entry.display()
            ),
        }
        let last_status = coord.state.status.clone();
        let coord = Arc::new(Mutex::new(coord));
        let (notes, notes_rx) = mpsc::unbounded_channel();
        if let Some(mqtt) = mqtt {
            let task = Task {
                coord: coord.clone(),
                cfg: ota.clone(),
                keys,
                device: cfg.agent.id.clone(),
                sender,
                status_topic: format!("{}/ota/status", mqtt.prefix),
                mqtt,
                transfers: Transfers::new(ota.max_bundle_size, ota.transfer_timeout),
                watch: None,
            };
            io.spawn(task.run(notes_rx, last_status));
        } else {
            tracing::warn!("ota: no MQTT connection: updates cannot be received");
        }
        Ok((Ota { coord, notes }, first))
    }

    /// The supervisor's one call: with `[ota]` configured, start OTA on the agent's MQTT
    /// connection and point `opts` at the installed version; `None` without `[ota]`.
    pub fn attach(
        cfg: &Config,
        opts: &mut crate::js::ScriptOptions,
    ) -> Result<Option<Ota>, OtaError> {
        let Some(ota_cfg) = &cfg.ota else {
            return Ok(None);
        };
        let services = opts.services.clone();
        let mqtt = match services.mqtt() {
            Ok(m) => Some(MqttLink {
                handle: m.handle.clone(),
                prefix: m.prefix.clone(),
            }),
            Err(e) => {
                tracing::error!("ota: no MQTT connection ({e}): updates cannot be received");
                None
            }
        };
        let (ota, first) = Ota::start(cfg, ota_cfg, &services.tokio, opts.sender.clone(), mqtt)?;
        first.apply(opts);
        Ok(Some(ota))
    }

    /// SIGTERM/SIGINT arrived: the next exit ends the agent (a running trial stays marked and
    /// is rolled back at the next start).
    pub fn terminating(&self) {
        lock(&self.coord).terminating = true;
    }

    /// The script runtime ended with `exit`: the scripts to run next, or `None` for the
    /// supervisor's usual handling. Drains `rx` when switching, so nothing queued for the old
    /// runtime (its `shutdown` included) reaches the new one.
    pub fn on_exit(&self, exit: &Exit, rx: &mut mpsc::Receiver<LoopMsg>) -> Option<Activation> {
        let mut c = lock(&self.coord);
        if c.terminating {
            return None;
        }
        let (next, trial) = if let Some(p) = c.pending.take() {
            p
        } else if let Some(t) = c.running.trial.take() {
            let (code, reason) = match exit {
                Exit::StartupFailed(msg) => (
                    "load_failed",
                    format!("version {} failed to start: {msg}", t.version),
                ),
                Exit::Restart => (
                    "errors",
                    format!(
                        "version {} hit an uncaught error (on_error = \"restart\")",
                        t.version
                    ),
                ),
                Exit::Done(code) => (
                    "exited",
                    format!(
                        "version {} exited with code {code} during its trial",
                        t.version
                    ),
                ),
            };
            let c = &mut *c;
            if let Err(e) = store::rollback(&c.dir, &mut c.state, code, reason) {
                tracing::error!("ota: cannot record the rollback: {e}");
            }
            if let Some(s) = c.state.status.clone() {
                let _ = self.notes.send(Note::Status(s));
            }
            (c.activation(c.state.current.clone().as_ref()), None)
        } else {
            return None;
        };
        while rx.try_recv().is_ok() {}
        c.running.generation += 1;
        c.running.trial = trial.clone();
        let _ = self.notes.send(Note::Started {
            generation: c.running.generation,
            trial,
        });
        Some(next)
    }
}

/// The trial being watched.
struct Watch {
    generation: u64,
    trial: Trial,
    deadline: Instant,
    healthy: bool,
    errors: u64,
    last_answer: Instant,
    probe: Option<oneshot::Receiver<(u64, bool)>>,
}

/// A status message on `<prefix>/ota/status` (retained, QoS 1).
#[derive(Debug, Serialize)]
struct StatusMessage<'a> {
    deployment: &'a str,
    version: Option<&'a str>,
    state: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// The version running after this transition (`null`: the configured scripts folder).
    running: Option<String>,
    agent: &'a str,
    time: String,
}

struct Task {
    coord: Arc<Mutex<Coord>>,
    cfg: OtaConfig,
    keys: TrustedKeys,
    device: String,
    sender: LoopSender,
    mqtt: MqttLink,
    status_topic: String,
    transfers: Transfers,
    watch: Option<Watch>,
}

async fn next_delivery(sub: &mut Option<Subscription>) -> Option<Delivery> {
    match sub {
        Some(s) => {
            let d = s.recv().await;
            if d.is_none() {
                *sub = None;
            }
            d
        }
        None => std::future::pending().await,
    }
}

/// Run `f` on the coordinator from a blocking thread (it does file I/O and fsyncs).
async fn with_coord<R: Send + 'static>(
    coord: &Arc<Mutex<Coord>>,
    f: impl FnOnce(&mut Coord) -> R + Send + 'static,
) -> Option<R> {
    let coord = coord.clone();
    tokio::task::spawn_blocking(move || f(&mut lock(&coord)))
        .await
        .ok()
}

impl Task {
    async fn run(mut self, mut notes: mpsc::UnboundedReceiver<Note>, last: Option<StatusRecord>) {
        if let Some(s) = last {
            self.publish(&s).await;
        }
        let mut device_sub = self
            .subscribe(format!("{}/ota/deploy", self.mqtt.prefix))
            .await;
        let mut group_sub = match self.cfg.group.clone() {
            Some(g) => {
                self.subscribe(format!("ganglion/group/{g}/ota/deploy"))
                    .await
            }
            None => None,
        };
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                d = next_delivery(&mut device_sub) => if let Some(d) = d { self.on_message(&d).await },
                d = next_delivery(&mut group_sub) => if let Some(d) = d { self.on_message(&d).await },
                n = notes.recv() => match n {
                    Some(n) => self.on_note(n).await,
                    None => return,
                },
                _ = tick.tick() => self.on_tick().await,
            }
        }
    }

    async fn subscribe(&self, filter: String) -> Option<Subscription> {
        let fut = match self.mqtt.handle.subscribe(&filter, QoS::AtLeastOnce) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!("ota: cannot subscribe to {filter}: {e}");
                return None;
            }
        };
        match fut.await {
            Ok(s) => {
                tracing::info!("ota: listening on {filter}");
                Some(s)
            }
            Err(e) => {
                tracing::error!("ota: cannot subscribe to {filter}: {e}");
                None
            }
        }
    }

    async fn publish(&self, s: &StatusRecord) {
        let running = {
            let c = lock(&self.coord);
            c.state.active().map(|v| v.to_string())
        };
        let msg = StatusMessage {
            deployment: &s.deployment,
            version: s.version.as_deref(),
            state: s.state,
            code: s.code.as_deref(),
            reason: s.reason.as_deref(),
            running,
            agent: &self.device,
            time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        if matches!(s.state, Phase::Rejected | Phase::RolledBack) {
            tracing::warn!("ota: {s}");
        } else {
            tracing::info!("ota: {s}");
        }
        let payload = serde_json::to_vec(&msg).unwrap_or_default();
        match self
            .mqtt
            .handle
            .publish(&self.status_topic, payload, QoS::AtLeastOnce, true)
        {
            Ok(f) => {
                if let Err(e) = f.await {
                    tracing::error!("ota: cannot publish status: {e}");
                }
            }
            Err(e) => tracing::error!("ota: cannot publish status: {e}"),
        }
    }

    async fn status(
        &self,
        deployment: &str,
        version: Option<String>,
        state: Phase,
        code: Option<&str>,
        reason: Option<String>,
    ) {
        self.publish(&StatusRecord {
            deployment: deployment.to_owned(),
            version,
            state,
            code: code.map(str::to_owned),
            reason,
        })
        .await;
    }

    async fn on_message(&mut self, d: &Delivery) {
        let (header, data) = match decode_chunk(&d.payload) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("ota: ignoring a message on {}: {e}", d.topic);
                self.status(
                    "unknown",
                    None,
                    Phase::Rejected,
                    Some("bad_chunk"),
                    Some(e.to_string()),
                )
                .await;
                return;
            }
        };
        match self.transfers.on_chunk(Instant::now(), header, data) {
            ChunkOutcome::Started { deployment } => {
                tracing::info!("ota: receiving deployment {deployment}");
            }
            ChunkOutcome::Progress { .. } | ChunkOutcome::Duplicate => {}
            ChunkOutcome::Rejected {
                deployment,
                code,
                reason,
            } => {
                self.status(&deployment, None, Phase::Rejected, Some(code), Some(reason))
                    .await;
            }
            ChunkOutcome::Complete {
                deployment,
                bundle,
                allow_downgrade,
            } => {
                self.on_bundle(&deployment, bundle, allow_downgrade).await;
            }
        }
    }

    async fn on_bundle(&mut self, deployment: &str, bytes: Vec<u8>, allow_downgrade: bool) {
        self.status(
            deployment,
            None,
            Phase::Received,
            None,
            Some(format!("{} bytes", bytes.len())),
        )
        .await;
        let bundle = match Bundle::parse(&bytes, self.cfg.max_bundle_size as usize) {
            Ok(b) => b,
            Err(e) => {
                self.status(
                    deployment,
                    None,
                    Phase::Rejected,
                    Some(e.code()),
                    Some(e.to_string()),
                )
                .await;
                return;
            }
        };
        let version = bundle.manifest.version.clone();
        let vtext = Some(version.to_string());
        self.status(deployment, vtext.clone(), Phase::Verifying, None, None)
            .await;
        let (busy, running) = {
            let c = lock(&self.coord);
            let busy =
                c.pending.is_some() || c.running.trial.is_some() || c.state.installing.is_some();
            (busy, c.state.current.clone())
        };
        if busy {
            let reason = "another deployment is being activated or on trial".to_owned();
            self.status(
                deployment,
                vtext,
                Phase::Rejected,
                Some("busy"),
                Some(reason),
            )
            .await;
            return;
        }
        let agent_version = super::agent_version();
        let policy = Policy {
            keys: &self.keys,
            device: &self.device,
            group: self.cfg.group.as_deref(),
            running: running.as_ref(),
            allow_downgrade,
            agent_version: &agent_version,
        };
        if let Err(e) = verify(&bundle, &policy) {
            self.status(
                deployment,
                vtext,
                Phase::Rejected,
                Some(e.code()),
                Some(e.to_string()),
            )
            .await;
            return;
        }
        self.status(deployment, vtext.clone(), Phase::Installing, None, None)
            .await;
        let dep = deployment.to_owned();
        let result = with_coord(&self.coord, move |c| {
            let c = &mut *c;
            store::install(&c.dir, &mut c.state, &dep, &bundle)?;
            let trial = c.state.trial.clone();
            let next = c.activation(Some(&bundle.manifest.version));
            c.pending = Some((next, trial));
            Ok::<_, StoreError>(())
        })
        .await;
        match result {
            Some(Ok(())) => {
                self.sender
                    .shutdown(format!("OTA: activating version {version}"))
                    .await;
            }
            Some(Err(e)) => {
                self.status(
                    deployment,
                    vtext,
                    Phase::Rejected,
                    Some("install_failed"),
                    Some(e.to_string()),
                )
                .await;
            }
            None => {
                self.status(
                    deployment,
                    vtext,
                    Phase::Rejected,
                    Some("install_failed"),
                    Some("the install task failed".into()),
                )
                .await;
            }
        }
    }

    async fn on_note(&mut self, n: Note) {
        match n {
            Note::Status(s) => {
                self.watch = None;
                self.publish(&s).await;
            }
            Note::Started { generation, trial } => {
                self.watch = None;
                if let Some(t) = trial {
                    let now = Instant::now();
                    let reason = format!("trial of {:?}", self.cfg.trial);
                    self.status(
                        &t.deployment,
                        Some(t.version.to_string()),
                        Phase::Trial,
                        None,
                        Some(reason),
                    )
                    .await;
                    self.watch = Some(Watch {
                        generation,
                        trial: t,
                        deadline: now + self.cfg.trial,
                        healthy: false,
                        errors: 0,
                        last_answer: now,
                        probe: None,
                    });
                }
            }
        }
    }

    async fn on_tick(&mut self) {
        let now = Instant::now();
        for a in self.transfers.expire(now) {
            let reason = format!(
                "transfer incomplete: {} of {} chunks arrived, none for {:?}",
                a.received, a.total, self.cfg.transfer_timeout
            );
            self.status(
                &a.deployment,
                None,
                Phase::Rejected,
                Some("incomplete"),
                Some(reason),
            )
            .await;
        }
        let Some(w) = self.watch.as_mut() else {
            return;
        };
        if let Some(rx) = w.probe.as_mut() {
            match rx.try_recv() {
                Ok((errors, healthy)) => {
                    w.errors = errors;
                    w.healthy |= healthy;
                    w.last_answer = now;
                    w.probe = None;
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
                Err(oneshot::error::TryRecvError::Closed) => w.probe = None,
            }
        }
        if w.probe.is_none() {
            let (tx, rx) = oneshot::channel();
            let task: JsTask = Box::new(move |host| {
                let _ = tx.send((host.shared().errors(), host.shared().is_healthy()));
                Ok(())
            });
            if self.sender.try_send(task).is_ok() {
                w.probe = Some(rx);
            }
        }
        let max = self.cfg.trial_max_errors;
        let verdict = if w.errors > max {
            Some(Err((
                "errors",
                format!(
                    "version {} had {} uncaught errors during its trial (limit {max})",
                    w.trial.version, w.errors
                ),
            )))
        } else if now.saturating_duration_since(w.last_answer) > UNRESPONSIVE {
            Some(Err((
                "unresponsive",
                format!(
                    "version {} did not answer for {UNRESPONSIVE:?}",
                    w.trial.version
                ),
            )))
        } else if now >= w.deadline {
            if self.cfg.require_healthy && !w.healthy {
                Some(Err((
                    "unhealthy",
                    format!(
                        "version {} did not call agent.healthy() within its trial of {:?}",
                        w.trial.version, self.cfg.trial
                    ),
                )))
            } else {
                Some(Ok(()))
            }
        } else {
            None
        };
        let Some(verdict) = verdict else { return };
        let generation = w.generation;
        self.watch = None;
        let keep = self.cfg.keep;
        let outcome = with_coord(&self.coord, move |c| {
            if c.running.generation != generation || c.running.trial.is_none() {
                return Ok::<_, StoreError>(None); // the supervisor ended this trial already
            }
            let c = &mut *c;
            match verdict {
                Ok(()) => {
                    store::commit(&c.dir, &mut c.state, keep)?;
                    c.running.trial = None;
                    Ok(c.state.status.clone().map(|s| (s, false)))
                }
                Err((code, reason)) => {
                    store::rollback(&c.dir, &mut c.state, code, reason)?;
                    c.running.trial = None;
                    let next = c.activation(c.state.current.clone().as_ref());
                    c.pending = Some((next, None));
                    Ok(c.state.status.clone().map(|s| (s, true)))
                }
            }
        })
        .await;
        match outcome {
            Some(Ok(Some((s, switch)))) => {
                self.publish(&s).await;
                if switch {
                    self.sender.shutdown("OTA: rolling back").await;
                }
            }
            Some(Ok(None)) => {}
            Some(Err(e)) => tracing::error!("ota: cannot end the trial: {e}"),
            None => tracing::error!("ota: the trial task failed"),
        }
    }
}
