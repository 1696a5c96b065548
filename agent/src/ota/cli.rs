//! The operator's commands: `ganglion bundle keygen|create|verify`, `ganglion deploy`, and the
//! local `ganglion scripts list|rollback`. `main.rs` only parses arguments and calls these.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Transport};

use super::bundle::{encode, hex, Bundle, FileEntry, Manifest, Target, FORMAT};
use super::store::{self, KillHooks, Phase, StateDir};
use super::transfer::split;
use super::verify::{self, Policy, TrustedKeys};

/// A command failed; the message names the file, key or broker at fault.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// File system problem on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Bad input (arguments, key files, script folders, bundles).
    #[error("{0}")]
    Invalid(String),
    /// The broker connection failed.
    #[error("MQTT: {0}")]
    Mqtt(String),
    /// The scripts state folder.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Print one line of command output on stdout (this is the CLI's output, not a log).
fn say(line: &str) {
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
}

/// File names `bundle keygen` writes inside its output folder.
pub const SECRET_FILE: &str = "ota-signing.key";
/// The public half.
pub const PUBLIC_FILE: &str = "ota-signing.pub";

/// `ganglion bundle keygen [--out DIR]`: write a new signing key (mode 0600) and its public key.
pub fn keygen(out: &Path) -> Result<(PathBuf, String), CliError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let secret = out.join(SECRET_FILE);
    if secret.exists() {
        return Err(CliError::Invalid(format!(
            "{} exists; not overwriting a signing key",
            secret.display()
        )));
    }
    let key = verify::generate_key()
        .map_err(|e| CliError::Invalid(format!("no random numbers from the OS: {e}")))?;
    let public = hex(key.verifying_key().as_bytes());
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&secret)
            .map_err(io(&secret))?;
        writeln!(f, "{}", hex(&key.to_bytes())).map_err(io(&secret))?;
    }
    let public_path = out.join(PUBLIC_FILE);
    std::fs::write(&public_path, format!("{public}\n")).map_err(io(&public_path))?;
    say(&format!("signing key: {}", secret.display()));
    say(&format!(
        "public key:  {} ({public})",
        public_path.display()
    ));
    say("add the public key to [ota] trusted_keys on the agents");
    Ok((secret, public))
}

/// What `bundle create` puts in the manifest besides the files.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Script set version.
    pub version: semver::Version,
    /// Name; default: the folder's name.
    pub name: Option<String>,
    /// Entry module inside the folder.
    pub entry: String,
    /// Target agent ids.
    pub devices: Vec<String>,
    /// Target groups.
    pub groups: Vec<String>,
    /// Oldest agent version that can run it; default: this agent's version.
    pub min_agent_version: Option<semver::Version>,
}

fn collect_files(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), CliError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            collect_files(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path.strip_prefix(root).map_err(|_| {
                CliError::Invalid(format!("{} is outside {}", path.display(), root.display()))
            })?;
            let rel = rel
                .to_str()
                .ok_or_else(|| {
                    CliError::Invalid(format!("{}: file names must be UTF-8", path.display()))
                })?
                .to_owned();
            super::bundle::check_path(&rel)
                .map_err(|e| CliError::Invalid(format!("{}: {e}", path.display())))?;
            let data = std::fs::read(&path).map_err(io(&path))?;
            out.push((rel, data));
        } else {
            return Err(CliError::Invalid(format!(
                "{}: only regular files and folders can go into a bundle (no symlinks or devices)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Read a signing key file written by `keygen`.
pub fn read_signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey, CliError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    verify::parse_signing_key(&text).ok_or_else(|| {
        CliError::Invalid(format!(
            "{}: not a signing key (64 hex digits)",
            path.display()
        ))
    })
}

/// `ganglion bundle create DIR ...`: the bundle bytes for the folder, signed with `key`.
pub fn create(
    dir: &Path,
    opts: &CreateOptions,
    key: &ed25519_dalek::SigningKey,
) -> Result<Vec<u8>, CliError> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => std::fs::canonicalize(dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "scripts".into()),
    };
    let manifest = Manifest {
        format: FORMAT,
        name,
        version: opts.version.clone(),
        entry: opts.entry.clone(),
        min_agent_version: opts
            .min_agent_version
            .clone()
            .unwrap_or_else(super::agent_version),
        target: Target {
            devices: opts.devices.clone(),
            groups: opts.groups.clone(),
        },
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        files: files
            .iter()
            .map(|(p, d)| FileEntry::of(p.as_str(), d))
            .collect(),
    };
    manifest
        .validate()
        .map_err(|e| CliError::Invalid(format!("{}: {e}", dir.display())))?;
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| CliError::Invalid(format!("manifest: {e}")))?;
    let (signer, signature) = verify::sign(key, &manifest_bytes);
    Ok(encode(
        &manifest_bytes,
        &signer,
        &signature,
        files.iter().map(|(p, d)| (p.as_str(), d.as_slice())),
    ))
}

/// Read public keys given as hex or as files holding hex.
pub fn read_public_keys(args: &[String]) -> Result<TrustedKeys, CliError> {
    let mut hexes = Vec::new();
    for a in args {
        let p = Path::new(a);
        if p.is_file() {
            hexes.push(std::fs::read_to_string(p).map_err(io(p))?.trim().to_owned());
        } else {
            hexes.push(a.clone());
        }
    }
    TrustedKeys::from_hex(&hexes).map_err(|e| CliError::Invalid(e.to_string()))
}

/// `ganglion bundle verify FILE --pubkey P...`: parse and check the signature and hashes (not
/// the target or versions, which depend on the agent). Prints the manifest summary.
pub fn verify_file(file: &Path, keys: &TrustedKeys) -> Result<Manifest, CliError> {
    let bytes = std::fs::read(file).map_err(io(file))?;
    let bundle = Bundle::parse(&bytes, usize::MAX)
        .map_err(|e| CliError::Invalid(format!("{}: {e}", file.display())))?;
    let m = &bundle.manifest;
    let any = semver::Version::new(u64::MAX, 0, 0);
    let device = m.target.devices.first().cloned().unwrap_or_default();
    let group = m.target.groups.first().cloned();
    let policy = Policy {
        keys,
        device: &device,
        group: group.as_deref(),
        running: None,
        allow_downgrade: true,
        agent_version: &any,
    };
    verify::verify(&bundle, &policy).map_err(|e| {
        CliError::Invalid(format!("{}: rejected ({}): {e}", file.display(), e.code()))
    })?;
    say(&format!(
        "{}: OK: {} {} ({} files, entry {}, signed by {}), for devices {:?} groups {:?}, agent >= {}, created {}",
        file.display(),
        m.name,
        m.version,
        m.files.len(),
        m.entry,
        hex(&bundle.signer),
        m.target.devices,
        m.target.groups,
        m.min_agent_version,
        m.created
    ));
    Ok(bundle.manifest)
}

/// Where and how `deploy` publishes.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Broker URL, `mqtt://host[:port]` or `mqtts://...`.
    pub url: String,
    /// CA file for `mqtts://` (default: system roots).
    pub ca_file: Option<PathBuf>,
    /// Target one agent by id...
    pub device: Option<String>,
    /// ...or a group.
    pub group: Option<String>,
    /// Agent topic prefix template (`{id}` = agent id), as in `[mqtt] topic_prefix`.
    pub prefix: String,
    /// Allow installing an older version.
    pub allow_downgrade: bool,
    /// Data bytes per chunk message.
    pub chunk_size: usize,
    /// Deployment id (default: generated).
    pub id: Option<String>,
    /// Give up following the status after this long.
    pub timeout: Duration,
    /// Group deploys: agents expected to answer (default: wait until the answers settle).
    pub expect: Option<usize>,
}

/// `ganglion deploy FILE ...`: publish the bundle in chunks, then follow the status topic and
/// print progress until every agent committed, rejected or rolled back. Returns whether every
/// agent committed.
pub fn deploy(file: &Path, opts: &DeployOptions) -> Result<bool, CliError> {
    let bytes = std::fs::read(file).map_err(io(file))?;
    let bundle = Bundle::parse(&bytes, usize::MAX)
        .map_err(|e| CliError::Invalid(format!("{}: {e}", file.display())))?;
    let (deploy_topic, status_filter) = match (&opts.device, &opts.group) {
        (Some(d), None) => {
            let prefix = opts.prefix.replace("{id}", d);
            (
                format!("{prefix}/ota/deploy"),
                format!("{prefix}/ota/status"),
            )
        }
        (None, Some(g)) => (
            format!("ganglion/group/{g}/ota/deploy"),
            format!("{}/ota/status", opts.prefix.replace("{id}", "+")),
        ),
        _ => {
            return Err(CliError::Invalid(
                "give exactly one of --device or --group".into(),
            ))
        }
    };
    let id = match &opts.id {
        Some(id) => id.clone(),
        None => {
            let mut r = [0u8; 6];
            getrandom::fill(&mut r)
                .map_err(|e| CliError::Invalid(format!("no random numbers: {e}")))?;
            format!("{}-{}", bundle.manifest.version, hex(&r))
        }
    };
    let chunks = split(&bytes, &id, opts.chunk_size, opts.allow_downgrade);
    say(&format!(
        "deploying {} {} ({} bytes, {} chunks) as deployment {id} to {deploy_topic}",
        bundle.manifest.name,
        bundle.manifest.version,
        bytes.len(),
        chunks.len()
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Mqtt(e.to_string()))?;
    rt.block_on(deploy_async(opts, &id, deploy_topic, status_filter, chunks))
}

async fn deploy_async(
    opts: &DeployOptions,
    id: &str,
    deploy_topic: String,
    status_filter: String,
    chunks: Vec<Vec<u8>>,
) -> Result<bool, CliError> {
    let url =
        crate::mqtt::config::parse_url(&opts.url).map_err(|e| CliError::Invalid(e.to_string()))?;
    let largest = chunks.iter().map(Vec::len).max().unwrap_or(0);
    let mut mo = MqttOptions::new(
        format!("ganglion-deploy-{}", std::process::id()),
        url.host.clone(),
        url.port,
    );
    mo.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(1024 * 1024, largest + 1024);
    if url.tls {
        let tls = crate::mqtt::config::TlsConfig {
            ca_file: opts.ca_file.clone(),
            ..Default::default()
        };
        let cfg = crate::mqtt::config::build_tls(&tls, &url.host)
            .map_err(|e| CliError::Invalid(e.to_string()))?;
        mo.set_transport(Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(cfg),
        ));
    }
    let (client, mut ev) = AsyncClient::new(mo, 16);
    let deadline = Instant::now() + opts.timeout;
    let total = chunks.len();
    let mut to_send = chunks.into_iter();
    let mut subscribed = false;
    let mut acked = 0usize;
    let mut in_flight = 0usize;
    let mut statuses: BTreeMap<String, Phase> = BTreeMap::new();
    let mut last_news = Instant::now();
    loop {
        let now = Instant::now();
        if now >= deadline {
            say(&format!("timed out after {:?}", opts.timeout));
            return Ok(false);
        }
        if acked == total && !statuses.is_empty() && statuses.values().all(|p| p.is_final()) {
            let settled = match (opts.device.is_some(), opts.expect) {
                (true, _) => true,
                (false, Some(n)) => statuses.len() >= n,
                (false, None) => now.duration_since(last_news) > Duration::from_secs(3),
            };
            if settled {
                let _ = client.disconnect().await;
                return Ok(statuses.values().all(|p| *p == Phase::Committed));
            }
        }
        let event = tokio::time::timeout(Duration::from_millis(500), ev.poll()).await;
        let event = match event {
            Err(_) => continue,
            Ok(Ok(e)) => e,
            Ok(Err(e)) => return Err(CliError::Mqtt(format!("{}: {e}", opts.url))),
        };
        match event {
            Event::Incoming(Incoming::ConnAck(_)) if !subscribed => {
                client
                    .subscribe(status_filter.clone(), rumqttc::QoS::AtLeastOnce)
                    .await
                    .map_err(|e| CliError::Mqtt(e.to_string()))?;
            }
            Event::Incoming(Incoming::SubAck(_)) if !subscribed => {
                subscribed = true;
            }
            Event::Incoming(Incoming::PubAck(_)) => {
                acked += 1;
                in_flight = in_flight.saturating_sub(1);
                if acked == total || acked.is_multiple_of(16) {
                    say(&format!("sent {acked}/{total} chunks"));
                }
            }
            Event::Incoming(Incoming::Publish(p)) => {
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&p.payload) else {
                    continue;
                };
                if v.get("deployment").and_then(|d| d.as_str()) != Some(id) {
                    continue; // an older retained status or another deployment
                }
                let Ok(phase) = serde_json::from_value::<Phase>(v["state"].clone()) else {
                    continue;
                };
                let agent = v["agent"].as_str().unwrap_or("?").to_owned();
                let mut line = format!(
                    "{agent}: {}{}",
                    v["state"].as_str().unwrap_or("?"),
                    v["version"]
                        .as_str()
                        .map(|s| format!(" {s}"))
                        .unwrap_or_default()
                );
                if let Some(r) = v["reason"].as_str() {
                    line.push_str(&format!(": {r}"));
                }
                say(&line);
                statuses.insert(agent, phase);
                last_news = Instant::now();
            }
            _ => {}
        }
        // Keep a few chunks in flight once the status subscription is in place.
        while subscribed && in_flight < 8 {
            let Some(c) = to_send.next() else { break };
            client
                .publish(deploy_topic.clone(), rumqttc::QoS::AtLeastOnce, false, c)
                .await
                .map_err(|e| CliError::Mqtt(e.to_string()))?;
            in_flight += 1;
        }
    }
}

/// `ganglion scripts list`: installed versions under `<state_dir>/scripts`, marking the
/// current one and a trial; the last status.
pub fn scripts_list(state_dir: &Path) -> Result<Vec<String>, CliError> {
    let (dir, state) = StateDir::open(&state_dir.join("scripts"), KillHooks::default())?;
    let mut lines = Vec::new();
    if state.history.is_empty() && state.trial.is_none() {
        lines.push("no versions installed: the configured scripts folder runs".to_owned());
    }
    for v in &state.history {
        let mark = if state.current.as_ref() == Some(v) {
            "* "
        } else {
            "  "
        };
        let detail = dir
            .manifest(v)
            .map(|m| {
                format!(
                    "{} (entry {}, {} files, created {})",
                    m.name,
                    m.entry,
                    m.files.len(),
                    m.created
                )
            })
            .unwrap_or_else(|e| format!("unreadable: {e}"));
        lines.push(format!("{mark}{v}  {detail}"));
    }
    if let Some(t) = &state.trial {
        lines.push(format!(
            "  {}  on trial (deployment {})",
            t.version, t.deployment
        ));
    }
    if state.current.is_none() && !state.history.is_empty() {
        lines.push("* (configured scripts folder)".to_owned());
    }
    if let Some(s) = &state.status {
        lines.push(format!("last status: {s}"));
    }
    for l in &lines {
        say(l);
    }
    Ok(lines)
}

/// `ganglion scripts rollback`: make the previous installed version current (takes effect at
/// the agent's next start; run it while the agent is stopped).
pub fn scripts_rollback(state_dir: &Path) -> Result<Option<semver::Version>, CliError> {
    let (dir, _) = StateDir::open(&state_dir.join("scripts"), KillHooks::default())?;
    let mut state = store::recover(&dir)?;
    let Some(left) = state.manual_rollback() else {
        return Err(CliError::Invalid(
            "nothing to roll back: no installed version is current".into(),
        ));
    };
    dir.save(&state)?;
    dir.remove_version(&left)?;
    let now = state
        .current
        .as_ref()
        .map_or("the configured scripts folder".into(), |v| {
            format!("version {v}")
        });
    say(&format!("rolled back from {left} to {now}"));
    Ok(state.current)
}

/// `ganglion bundle ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BundleCommand {
    /// Create a signing key pair (ota-signing.key, mode 0600, and ota-signing.pub).
    Keygen {
        /// Folder to write the keys into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Pack and sign a scripts folder.
    Create {
        /// The scripts folder.
        dir: PathBuf,
        /// Semantic version of this script set.
        #[arg(long)]
        version: semver::Version,
        /// Signing key file (from `bundle keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Target group (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Target agent id (repeatable).
        #[arg(long = "device")]
        devices: Vec<String>,
        /// Entry module inside the folder.
        #[arg(long, default_value = "main.js")]
        entry: String,
        /// Name of the script set (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// Oldest agent version that can run it (default: this agent's version).
        #[arg(long)]
        min_agent_version: Option<semver::Version>,
        /// Output file (default: NAME-VERSION.bundle).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a bundle's structure, signature and hashes.
    Verify {
        /// The bundle.
        file: PathBuf,
        /// Trusted public key: 64 hex digits or a .pub file (repeatable).
        #[arg(long = "pubkey", required = true)]
        pubkeys: Vec<String>,
    },
}

/// `ganglion deploy` arguments.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The bundle.
    pub file: PathBuf,
    /// Broker URL, mqtt://host[:port] or mqtts://host[:port].
    #[arg(long)]
    pub url: String,
    /// Deploy to one agent.
    #[arg(long, conflicts_with = "group", required_unless_present = "group")]
    pub device: Option<String>,
    /// Deploy to every agent of a group.
    #[arg(long)]
    pub group: Option<String>,
    /// Allow installing a version older than the running one.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Bytes per chunk message.
    #[arg(long, default_value_t = 64 * 1024)]
    pub chunk_size: usize,
    /// The agents' topic prefix (`{id}` = agent id), as in `[mqtt] topic_prefix`.
    #[arg(long, default_value = "ganglion/{id}")]
    pub prefix: String,
    /// Deployment id (default: VERSION-random).
    #[arg(long)]
    pub id: Option<String>,
    /// Stop following the status after this long.
    #[arg(long, default_value = "5m", value_parser = crate::config::parse_duration)]
    pub timeout: Duration,
    /// Group deploys: number of agents expected to answer.
    #[arg(long)]
    pub expect: Option<usize>,
    /// CA certificate file for mqtts:// (default: the system's roots).
    #[arg(long)]
    pub ca: Option<PathBuf>,
}

/// `ganglion scripts ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ScriptsCommand {
    /// List installed versions, the current one and the last deployment status.
    List,
    /// Make the previous installed version current (run while the agent is stopped).
    Rollback,
}

/// Run a `bundle` subcommand; returns the exit code.
pub fn run_bundle(cmd: BundleCommand) -> Result<i32, CliError> {
    match cmd {
        BundleCommand::Keygen { out } => keygen(&out).map(|_| 0),
        BundleCommand::Create {
            dir,
            version,
            key,
            groups,
            devices,
            entry,
            name,
            min_agent_version,
            out,
        } => {
            let key = read_signing_key(&key)?;
            let opts = CreateOptions {
                version,
                name,
                entry,
                devices,
                groups,
                min_agent_version,
            };
            let bytes = create(&dir, &opts, &key)?;
            let m = Bundle::parse(&bytes, usize::MAX)
                .map_err(|e| CliError::Invalid(e.to_string()))?
                .manifest;
            let out =
                out.unwrap_or_else(|| PathBuf::from(format!("{}-{}.bundle", m.name, m.version)));
            std::fs::write(&out, &bytes).map_err(io(&out))?;
            say(&format!(
                "{}: {} {} ({} files, {} bytes)",
                out.display(),
                m.name,
                m.version,
                m.files.len(),
                bytes.len()
            ));
            Ok(0)
        }
        BundleCommand::Verify { file, pubkeys } => {
            let keys = read_public_keys(&pubkeys)?;
            verify_file(&file, &keys).map(|_| 0)
        }
    }
}

/// Run `deploy`; exit code 0 when every agent committed.
pub fn run_deploy(a: DeployArgs) -> Result<i32, CliError> {
    let opts = DeployOptions {
        url: a.url,
        ca_file: a.ca,
        device: a.device,
        group: a.group,
        prefix: a.prefix,
        allow_downgrade: a.allow_downgrade,
        chunk_size: a.chunk_size,
        id: a.id,
        timeout: a.timeout,
        expect: a.expect,
    };
    deploy(&a.file, &opts).map(|ok| if ok { 0 } else { 1 })
}

/// Run a `scripts` subcommand against the state folder of `config` (default ./ganglion.toml).
pub fn run_scripts(cmd: ScriptsCommand, config: Option<&Path>) -> Result<i32, CliError> {
    let path = config.unwrap_or(Path::new("ganglion.toml"));
    let cfg = crate::config::Config::load(path).map_err(|e| CliError::Invalid(e.to_string()))?;
    match cmd {
        ScriptsCommand::List => scripts_list(&cfg.agent.state_dir).map(|_| 0),
        ScriptsCommand::Rollback => scripts_rollback(&cfg.agent.state_dir).map(|_| 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_verify() {
        let tmp = tempfile::tempdir().expect("tmp");
        let keys = tmp.path().join("keys");
        let (secret, public) = keygen(&keys).expect("keygen");
        assert!(keygen(&keys).is_err(), "never overwrites a key");
        let scripts = tmp.path().join("app");
        std::fs::create_dir_all(scripts.join("lib")).expect("mkdir");
        std::fs::write(scripts.join("main.js"), "import './lib/a.js'").expect("write");
        std::fs::write(scripts.join("lib/a.js"), "export {}").expect("write");
        let opts = CreateOptions {
            version: "1.2.3".parse().expect("v"),
            name: None,
            entry: "main.js".into(),
            devices: vec!["gw".into()],
            groups: vec![],
            min_agent_version: None,
        };
        let key = read_signing_key(&secret).expect("key");
        let bytes = create(&scripts, &opts, &key).expect("create");
        let file = tmp.path().join("app.bundle");
        std::fs::write(&file, &bytes).expect("write");
        let m = verify_file(&file, &read_public_keys(&[public]).expect("keys")).expect("verify");
        assert_eq!(m.name, "app");
        assert_eq!(m.files.len(), 2);
        let other = read_public_keys(&[hex(&[9u8; 32])]);
        if let Ok(other) = other {
            assert!(verify_file(&file, &other).is_err());
        }
        std::os::unix::fs::symlink("/etc/passwd", scripts.join("lib/evil")).expect("symlink");
        let err = create(&scripts, &opts, &key).expect_err("symlink");
        assert!(err.to_string().contains("symlink"), "{err}");
    }

    #[test]
    fn rollback_without_versions_is_an_error() {
        let tmp = tempfile::tempdir().expect("tmp");
        assert!(scripts_rollback(tmp.path()).is_err());
        let lines = scripts_list(tmp.path()).expect("list");
        assert!(lines[0].contains("no versions installed"));
    }
}
