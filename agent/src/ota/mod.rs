//! Remote script updates (OTA): signed bundles over MQTT, atomic install, automatic rollback.
//!
//! - [`bundle`]: the container format and its never-panicking parser.
//! - [`verify`]: signature, hashes, target and version checks; key generation and signing.
//! - [`transfer`]: chunk framing and the reassembly state machine.
//! - [`store`]: install state (pure transitions) and the crash-safe filesystem layer.
//! - [`agent`]: the agent's OTA task and its link to the supervisor (activation, trial).
//! - [`cli`]: `ganglion bundle ...`, `ganglion deploy`, `ganglion scripts ...`.
//!
//! The format, topics and state layout are described in `docs/ota.md`.

pub mod agent;
pub mod bundle;
pub mod cli;
pub mod store;
pub mod transfer;
pub mod verify;

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::config::{de_duration, de_size};

pub use agent::{Activation, Ota, OtaError};
pub use bundle::{Bundle, BundleError, Manifest};
pub use verify::{TrustedKeys, VerifyError};

/// `[ota]` table of `ganglion.toml`: present means the agent accepts updates and runs the
/// installed version from `<state_dir>/scripts/` instead of `[agent] scripts`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtaConfig {
    /// Public keys (64 hex digits each) bundles may be signed with; several for rotation.
    #[serde(deserialize_with = "de_keys")]
    pub trusted_keys: Vec<String>,
    /// Group this agent belongs to: it also listens on `ganglion/group/<group>/ota/deploy`.
    pub group: Option<String>,
    /// Largest bundle accepted, e.g. "4MiB".
    #[serde(deserialize_with = "de_size")]
    pub max_bundle_size: u64,
    /// An incomplete transfer is abandoned after this long without a new chunk.
    #[serde(deserialize_with = "de_duration")]
    pub transfer_timeout: Duration,
    /// How long a new version runs on trial before it is committed.
    #[serde(deserialize_with = "de_duration")]
    pub trial: Duration,
    /// More uncaught errors than this during the trial roll the version back.
    pub trial_max_errors: u64,
    /// The new version must call `agent.healthy()` within the trial.
    pub require_healthy: bool,
    /// Previous versions kept on disk besides the current one.
    pub keep: usize,
}

impl Default for OtaConfig {
    fn default() -> Self {
        OtaConfig {
            trusted_keys: Vec::new(),
            group: None,
            max_bundle_size: 4 * 1024 * 1024,
            transfer_timeout: Duration::from_secs(60),
            trial: Duration::from_secs(30),
            trial_max_errors: 3,
            require_healthy: false,
            keep: 3,
        }
    }
}

fn de_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let keys = Vec::<String>::deserialize(d)?;
    for (i, k) in keys.iter().enumerate() {
        verify::parse_public_key(k)
            .map_err(|e| serde::de::Error::custom(format!("trusted_keys[{i}]: {e}")))?;
    }
    Ok(keys)
}

/// This agent's version, compared with a bundle's `min_agent_version`.
pub fn agent_version() -> semver::Version {
    env!("CARGO_PKG_VERSION")
        .parse()
        .unwrap_or_else(|_| semver::Version::new(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrap {
        ota: OtaConfig,
    }

    #[test]
    fn config_defaults_and_bad_key() {
        let w: Wrap =
            toml::from_str("[ota]\ntrial = \"5s\"\nmax_bundle_size = \"1MiB\"\n").expect("valid");
        assert_eq!(w.ota.trial, Duration::from_secs(5));
        assert_eq!(w.ota.max_bundle_size, 1024 * 1024);
        assert_eq!(w.ota.keep, 3);
        let err = toml::from_str::<Wrap>("[ota]\ntrusted_keys = [\"abc\"]\n")
            .err()
            .expect("bad key");
        let msg = err.to_string();
        assert!(
            msg.contains("trusted_keys[0]") && msg.contains("line 2"),
            "{msg}"
        );
        assert!(toml::from_str::<Wrap>("[ota]\ntrail = \"5s\"\n").is_err());
    }
}
