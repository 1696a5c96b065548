//! What scripts can reach besides the JS engine: the configuration, the I/O runtime and the
//! subsystems (devices, later MQTT and sensors), each started on first use so a script that uses
//! none of them starts fast and exits when its own work is done.

use std::sync::{Arc, Mutex, OnceLock};

use ganglion_devices::{DeviceError, ErrorCode};

use crate::config::Config;
use crate::devices::{load_board, Devices};
use crate::mqtt::config::BrokerTarget;
use crate::mqtt::{MqttEvent, MqttHandle};

/// Shared by the supervisor and the JS thread's bindings (`Arc`).
pub struct Services {
    /// The agent's configuration.
    pub config: Config,
    /// Handle to the I/O runtime where subsystem tasks run.
    pub tokio: tokio::runtime::Handle,
    devices: OnceLock<Result<Arc<Devices>, DeviceError>>,
    mqtt: OnceLock<Result<Arc<MqttService>, String>>,
}

/// The MQTT connection scripts publish through, with the agent's topic prefix.
pub struct MqttService {
    /// Handle to the connection worker.
    pub handle: MqttHandle,
    /// Topic prefix with `{id}` filled in (e.g. `ganglion/gw-01`).
    pub prefix: String,
    /// Connection events from the very start (taken by the first JS binding to listen).
    first_events: Mutex<Option<tokio::sync::broadcast::Receiver<MqttEvent>>>,
}

impl MqttService {
    /// A receiver of connection events: the one that saw the first connect, then fresh ones.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<MqttEvent> {
        self.first_events
            .lock()
            .ok()
            .and_then(|mut e| e.take())
            .unwrap_or_else(|| self.handle.events())
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("agent", &self.config.agent.id)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Services for `config`, running subsystem tasks on `tokio`.
    pub fn new(config: Config, tokio: tokio::runtime::Handle) -> Arc<Self> {
        Arc::new(Self {
            config,
            tokio,
            devices: OnceLock::new(),
            mqtt: OnceLock::new(),
        })
    }

    /// The board's devices, opened on first use (the same result, success or error, afterwards).
    pub fn devices(&self) -> Result<Arc<Devices>, DeviceError> {
        self.devices
            .get_or_init(|| {
                let _rt = self.tokio.enter();
                let board = load_board(&self.config.agent.board, &self.config.base_dir)
                    .map_err(|m| DeviceError::new(ErrorCode::Einval, m))?;
                Devices::open(board, &self.config.agent.state_dir)
            })
            .clone()
    }

    /// The MQTT connection, started on first use: `[mqtt]` from the config, or defaults (the
    /// embedded broker on 127.0.0.1:1883) when the config has none. The same result afterwards.
    pub fn mqtt(&self) -> Result<Arc<MqttService>, String> {
        self.mqtt.get_or_init(|| self.start_mqtt()).clone()
    }

    /// Stop what was started, gracefully: MQTT syncs its queue, publishes a retained
    /// `offline` and disconnects (unsent messages stay on disk for the next start).
    pub async fn shutdown(&self) {
        if let Some(Ok(m)) = self.mqtt.get() {
            m.handle.shutdown().await;
        }
    }

    fn start_mqtt(&self) -> Result<Arc<MqttService>, String> {
        let cfg = self.config.mqtt.clone().unwrap_or_default();
        let resolved = cfg
            .resolve(&self.config.agent.id, &self.config.agent.state_dir)
            .map_err(|e| e.to_string())?;
        if let BrokerTarget::Embedded { port } = resolved.target {
            start_embedded_broker(port, resolved.max_packet_size)?;
        }
        let prefix = resolved.prefix.clone();
        let (handle, events) = MqttHandle::start(resolved).map_err(|e| e.to_string())?;
        Ok(Arc::new(MqttService {
            handle,
            prefix,
            first_events: Mutex::new(Some(events)),
        }))
    }
}

#[cfg(feature = "embedded-broker")]
fn start_embedded_broker(port: u16, max_packet_size: usize) -> Result<(), String> {
    match crate::mqtt::broker::start(port, max_packet_size) {
        Ok(_) => Ok(()),
        Err(crate::mqtt::broker::BrokerError::Bind { port, source })
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            // Something already serves MQTT there (another agent, a system Mosquitto): use it.
            tracing::warn!("127.0.0.1:{port} is in use: connecting to the broker already there");
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(not(feature = "embedded-broker"))]
fn start_embedded_broker(_port: u16, _max: usize) -> Result<(), String> {
    Err(
        "no mqtt.url is configured and this build has no embedded broker (feature embedded-broker)"
            .into(),
    )
}
