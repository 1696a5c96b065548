//! `ganglion`: the gateway agent's command line. Thin: parses arguments, sets up logging, and
//! calls the library; `anyhow` only at this edge.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ganglion::config::Config;
use ganglion::logging::{self, LogFormat};

/// Ganglion: run JavaScript on a sensor gateway, Node-style.
#[derive(Parser)]
#[command(name = "ganglion", version, about)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a script (like `node file.js`) or a configured agent (`--config`).
    Run {
        /// Config file (ganglion.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Script to run with defaults on the simulated board.
        file: Option<PathBuf>,
        /// Arguments passed to the script as process.argv[2..].
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Validate a config and compile every script; exit code 1 on any problem.
    Check {
        /// Config file to check.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Or a board file (board-configs/*.toml).
        #[arg(long, conflicts_with = "config")]
        board: Option<PathBuf>,
        /// Or a single script (and its folder).
        file: Option<PathBuf>,
    },
    /// Print MQTT messages matching a filter as `topic payload` lines (like mosquitto_sub -v).
    Sub(ganglion::sub::SubArgs),
    /// Signed script bundles for remote updates: keygen, create, verify.
    #[command(subcommand)]
    Bundle(ganglion::ota::cli::BundleCommand),
    /// Publish a bundle to agents over MQTT and follow its status until it ends.
    Deploy(ganglion::ota::cli::DeployArgs),
    /// Installed script versions in the agent's state folder: list, rollback.
    Scripts {
        /// Config file (ganglion.toml) naming the state folder.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        cmd: ganglion::ota::cli::ScriptsCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match run(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run { config, file, args } => {
            let cfg = match (config, file) {
                (Some(c), None) => Config::load(&c)?,
                (None, Some(f)) => Config::for_script(&f),
                (Some(_), Some(_)) => anyhow::bail!("give either --config or a script, not both"),
                (None, None) => {
                    let default = PathBuf::from("ganglion.toml");
                    if default.is_file() {
                        Config::load(&default)?
                    } else {
                        anyhow::bail!("nothing to run: give a script (ganglion run app.js) or --config ganglion.toml")
                    }
                }
            };
            ganglion::supervisor::run(&cfg, args)
        }
        Command::Check {
            config,
            board,
            file,
        } => {
            let problems = match (config, file) {
                _ if board.is_some() => board
                    .as_deref()
                    .map(ganglion::check::check_board)
                    .unwrap_or_default(),
                (Some(c), _) => ganglion::check::check_config(&c),
                (None, Some(f)) => ganglion::check::check_script(&f),
                (None, None) => ganglion::check::check_config(&PathBuf::from("ganglion.toml")),
            };
            for p in &problems {
                #[allow(clippy::print_stdout)]
                {
                    println!("{p}");
                }
            }
            Ok(if problems.is_empty() { 0 } else { 1 })
        }
        Command::Sub(args) => {
            ganglion::sub::run(&args, &mut std::io::stdout().lock())?;
            Ok(0)
        }
        Command::Bundle(cmd) => Ok(ganglion::ota::cli::run_bundle(cmd)?),
        Command::Deploy(args) => Ok(ganglion::ota::cli::run_deploy(args)?),
        Command::Scripts { config, cmd } => {
            Ok(ganglion::ota::cli::run_scripts(cmd, config.as_deref())?)
        }
    }
}
