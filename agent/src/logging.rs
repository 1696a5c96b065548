//! Log setup: human-readable by default, JSON lines with `--log-format json`; the filter comes
//! from `GANGLION_LOG` (tracing's EnvFilter syntax, e.g. `info,script=debug`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Output format for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line (for journald/log shippers).
    Json,
}

/// Install the global subscriber (once); logs go to stderr.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("GANGLION_LOG")
        // The embedded broker (rumqttd) is chatty at info; GANGLION_LOG=rumqttd=info brings it back.
        .unwrap_or_else(|_| EnvFilter::new("info,rumqttd=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Human => builder.compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
