//! `ganglion.toml`: the agent's configuration, parsed with serde + toml.
//!
//! Unknown keys and bad values are errors that name the file, line and key (toml attaches the span
//! of the offending value to errors raised while deserializing it, including ours for durations and
//! sizes). Every field has a safe default so `ganglion run FILE.js` needs no config at all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A configuration problem, already phrased for a person (file, line, key).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The TOML did not parse or a value was rejected; the message carries line, column and key.
    #[error("{path}: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// toml's report: line, column, the offending line and what was wrong.
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[agent]`: identity, board, scripts, state.
    #[serde(default)]
    pub agent: AgentConfig,
    /// `[limits]`: what one script may use.
    #[serde(default)]
    pub limits: Limits,
    /// `[mqtt]`: the broker scripts publish to (absent: the embedded broker, started on first use).
    #[serde(default)]
    pub mqtt: Option<crate::mqtt::MqttConfig>,
    /// `[ota]`: remote script updates (absent: off; see `crate::ota`).
    #[serde(default)]
    pub ota: Option<crate::ota::OtaConfig>,
    /// `[[sensors]]`: sensors read on schedule and delivered to scripts (see `crate::sensors`).
    #[serde(default)]
    pub sensors: Vec<crate::sensors::SensorConfig>,
    /// Folder holding the config file; relative paths in it are resolved against this folder.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The config file itself, for messages.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// What to do when a script throws an uncaught exception or leaves a rejection unhandled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Log it with its stack, count it, and keep serving events (the default).
    #[default]
    Log,
    /// Log it, then stop the script runtime and start the entry script again.
    Restart,
}

/// `[agent]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Agent id, used in MQTT topics and the client id. Defaults to the host name.
    pub id: String,
    /// Board name (a shipped board file such as `sim` or `raspberry-pi-5`) or a path to a board TOML.
    pub board: String,
    /// Folder with the user's scripts; imports may not leave it.
    pub scripts: PathBuf,
    /// Entry script inside `scripts`.
    pub entry: PathBuf,
    /// Folder for durable state (MQTT queue, OTA versions).
    pub state_dir: PathBuf,
    /// Environment variables exposed to scripts as `process.env` (nothing else leaks in).
    pub env: Vec<String>,
    /// Policy for uncaught errors.
    pub on_error: OnError,
    /// How long scripts get to finish after `shutdown` is emitted (SIGTERM/SIGINT).
    #[serde(deserialize_with = "de_duration")]
    pub shutdown_grace: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            id: default_agent_id(),
            board: "sim".into(),
            scripts: PathBuf::from("scripts"),
            entry: PathBuf::from("main.js"),
            state_dir: PathBuf::from("state"),
            env: Vec::new(),
            on_error: OnError::Log,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// `[limits]` table: resource limits for the script runtime, with safe defaults.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// JS heap limit; an allocation beyond it throws an out-of-memory error in the script.
    #[serde(deserialize_with = "de_size")]
    pub memory: u64,
    /// JS stack limit; deeper recursion throws a RangeError.
    #[serde(deserialize_with = "de_size")]
    pub stack: u64,
    /// CPU time one callback may run before it is interrupted.
    #[serde(deserialize_with = "de_duration")]
    pub callback_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: 32 * 1024 * 1024,
            stack: 512 * 1024,
            callback_time: Duration::from_millis(100),
        }
    }
}

impl Config {
    /// Read and parse a config file; relative paths inside are resolved against its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_owned();
        Self::parse(&text, path, &base)
    }

    /// Parse config text; `path` is only used in messages, `base` resolves relative paths.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        cfg.base_dir = base.to_owned();
        crate::sensors::config::validate(&cfg.sensors, text, base).map_err(|p| {
            ConfigError::Invalid {
                path: path.to_owned(),
                message: p.join(&format!("\n{}: ", path.display())),
            }
        })?;
        cfg.source = Some(path.to_owned());
        cfg.agent.scripts = resolve(base, &cfg.agent.scripts);
        cfg.agent.state_dir = resolve(base, &cfg.agent.state_dir);
        if let Some(m) = cfg.mqtt.as_mut() {
            let files = [
                &mut m.password_file,
                &mut m.tls.ca_file,
                &mut m.tls.cert_file,
                &mut m.tls.key_file,
            ];
            for file in files.into_iter().flatten() {
                *file = resolve(base, file);
            }
        }
        Ok(cfg)
    }

    /// Defaults for `ganglion run FILE.js`: the file's folder is the scripts folder.
    pub fn for_script(file: &Path) -> Self {
        let mut cfg = Config::default();
        let dir = file.parent().filter(|p| !p.as_os_str().is_empty());
        cfg.agent.scripts = dir
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.agent.entry = PathBuf::from(file.file_name().unwrap_or(file.as_os_str()));
        cfg.agent.state_dir = std::env::temp_dir().join(format!("ganglion-{}", cfg.agent.id));
        cfg.base_dir = PathBuf::from(".");
        cfg
    }

    /// The entry script's full path.
    pub fn entry_path(&self) -> PathBuf {
        self.agent.scripts.join(&self.agent.entry)
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

fn default_agent_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ganglion".into())
}

/// Parse a duration such as "5s", "100ms" or "1m 30s".
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration {s:?} ({e}); examples: \"100ms\", \"5s\", \"2m\""))
}

/// Parse a size such as "64MiB", "512 KiB" or "1000000" (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("invalid size {s:?} ({e}); examples: \"64MiB\", \"512KiB\""))
}

/// Accept a string like "64MiB" or a plain integer number of bytes.
pub fn de_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Str(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(n) => Ok(n),
        Raw::Str(s) => parse_size(&s).map_err(serde::de::Error::custom),
    }
}

/// Accept a string like "5s" or a plain integer number of milliseconds.
pub fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Str(String),
    }
    match Raw::deserialize(d)? {
        Raw::Int(ms) => Ok(Duration::from_millis(ms)),
        Raw::Str(s) => parse_duration(&s).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(
            text,
            Path::new("/etc/ganglion/ganglion.toml"),
            Path::new("/etc/ganglion"),
        )
    }

    #[test]
    fn defaults_are_safe() {
        let cfg = parse("").expect("empty config is valid");
        assert_eq!(cfg.limits.memory, 32 * 1024 * 1024);
        assert_eq!(cfg.limits.callback_time, Duration::from_millis(100));
        assert_eq!(cfg.agent.board, "sim");
        assert_eq!(
            cfg.entry_path(),
            PathBuf::from("/etc/ganglion/scripts/main.js")
        );
    }

    #[test]
    fn sizes_and_durations_parse() {
        let cfg =
            parse("[limits]\nmemory = \"64MiB\"\nstack = 262144\ncallback_time = \"250ms\"\n")
                .expect("valid");
        assert_eq!(cfg.limits.memory, 64 * 1024 * 1024);
        assert_eq!(cfg.limits.stack, 262_144);
        assert_eq!(cfg.limits.callback_time, Duration::from_millis(250));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("[agent]\nid = \"a\"\n\n[limits]\nmemroy = \"1MiB\"\n").expect_err("typo");
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/ganglion/ganglion.toml: "), "{msg}");
        assert!(msg.contains("line 5"), "{msg}");
        assert!(msg.contains("memroy"), "{msg}");
    }

    #[test]
    fn bad_value_names_line() {
        let err = parse("[limits]\ncallback_time = \"fast\"\n").expect_err("bad duration");
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("invalid duration"), "{msg}");
        let err = parse("[agent]\non_error = \"explode\"\n").expect_err("bad enum");
        assert!(err.to_string().contains("on_error"), "{err}");
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let cfg = parse("[agent]\nscripts = \"js\"\nstate_dir = \"/var/lib/g\"\n").expect("valid");
        assert_eq!(cfg.agent.scripts, PathBuf::from("/etc/ganglion/js"));
        assert_eq!(cfg.agent.state_dir, PathBuf::from("/var/lib/g"));
        let cfg = parse(
            "[mqtt]\npassword_file = \"pass\"\n[mqtt.tls]\nca_file = \"tls/ca.pem\"\n\
             cert_file = \"/abs/c.pem\"\nkey_file = \"c.key\"\n",
        )
        .expect("valid");
        let m = cfg.mqtt.expect("[mqtt]");
        assert_eq!(m.password_file, Some(PathBuf::from("/etc/ganglion/pass")));
        assert_eq!(
            m.tls.ca_file,
            Some(PathBuf::from("/etc/ganglion/tls/ca.pem"))
        );
        assert_eq!(m.tls.cert_file, Some(PathBuf::from("/abs/c.pem")));
        assert_eq!(m.tls.key_file, Some(PathBuf::from("/etc/ganglion/c.key")));
    }

    #[test]
    fn script_defaults_use_its_folder() {
        let cfg = Config::for_script(Path::new("examples/hello.js"));
        assert_eq!(cfg.entry_path(), PathBuf::from("examples/hello.js"));
        let cfg = Config::for_script(Path::new("hello.js"));
        assert_eq!(cfg.entry_path(), PathBuf::from("./hello.js"));
    }
}
