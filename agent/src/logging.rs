//! Log setup: human-readable by default, JSON lines with `--log-format json`; the filter comes
//! from `GANGLION_LOG`, a comma-separated list of `level` and `target=level` directives (e.g.
//! `info,script=debug,ganglion::mqtt=trace`). Scripts log under the target `script`.
//!
//! `Targets` instead of `EnvFilter`: the same directives by target, without a regex engine in
//! the binary (about 0.2 MB on aarch64, which matters for the 5 MB goal).

use std::io::IsTerminal;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Output format for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line (for journald/log shippers).
    Json,
}

/// The embedded broker (rumqttd) is chatty at info; `GANGLION_LOG=info,rumqttd=info` brings it back.
const DEFAULT_FILTER: &str = "info,rumqttd=off";

/// Parse a `GANGLION_LOG` value; `None` for text that is not a valid filter.
pub fn parse_filter(text: &str) -> Option<Targets> {
    text.parse::<Targets>().ok()
}

/// Install the global subscriber (once); logs go to stderr.
pub fn init(format: LogFormat) {
    let wanted = std::env::var("GANGLION_LOG").ok();
    let filter = wanted
        .as_deref()
        .and_then(parse_filter)
        .or_else(|| parse_filter(DEFAULT_FILTER))
        .unwrap_or_default();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Human => tracing_subscriber::registry()
            .with(layer.compact().with_filter(filter))
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().flatten_event(true).with_filter(filter))
            .try_init(),
    };
    if let Some(w) = wanted.filter(|w| parse_filter(w).is_none()) {
        tracing::warn!("GANGLION_LOG={w:?} is not a valid filter (e.g. \"info,script=debug\"); using {DEFAULT_FILTER:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn directives_by_target() {
        let f = parse_filter("warn,script=debug").expect("valid");
        assert!(f.would_enable("script", &Level::DEBUG));
        assert!(!f.would_enable("ganglion::mqtt", &Level::INFO));
        assert!(f.would_enable("ganglion::mqtt", &Level::WARN));
        let d = parse_filter(DEFAULT_FILTER).expect("default");
        assert!(!d.would_enable("rumqttd::server", &Level::ERROR));
        assert!(d.would_enable("script", &Level::INFO));
        assert!(parse_filter("script=loud").is_none());
    }
}
