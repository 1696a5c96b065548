//! What scripts can reach besides the JS engine: the configuration, the I/O runtime and the
//! subsystems (devices, later MQTT and sensors), each started on first use so a script that uses
//! none of them starts fast and exits when its own work is done.

use std::sync::{Arc, OnceLock};

use ganglion_devices::{DeviceError, ErrorCode};

use crate::config::Config;
use crate::devices::{load_board, Devices};

/// Shared by the supervisor and the JS thread's bindings (`Arc`).
pub struct Services {
    /// The agent's configuration.
    pub config: Config,
    /// Handle to the I/O runtime where subsystem tasks run.
    pub tokio: tokio::runtime::Handle,
    devices: OnceLock<Result<Arc<Devices>, DeviceError>>,
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
}
