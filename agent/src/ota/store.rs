//! Installed script versions: the install state as a plain struct with pure transitions
//! ([`InstallState`]) and a small filesystem layer ([`StateDir`]) that makes every transition one
//! atomic rename.
//!
//! Layout under `<state_dir>/scripts/`:
//!
//! ```text
//! state.json         the InstallState: current version, history, trial, installing, last status
//! <version>/         one folder per installed version: the bundle's files + .ganglion-manifest.json
//! .tmp-<version>/    a version being written (removed at start if a crash left it)
//! ```
//!
//! A version folder is written under `.tmp-<version>`, every file and folder fsynced, then renamed
//! into place; `state.json` is replaced by writing `state.json.tmp`, fsyncing it and renaming it
//! over the old one (then fsyncing the folder). So after a crash at any point `state.json` is
//! either the old or the new state, and the folders it names are complete.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::bundle::{Bundle, Manifest};

/// Name of the state file inside the scripts state folder.
pub const STATE_FILE: &str = "state.json";
/// Name of the manifest copy inside each version folder.
pub const MANIFEST_FILE: &str = ".ganglion-manifest.json";
/// Environment variable naming the kill point in builds with test hooks.
pub const KILL_ENV: &str = "GANGLION_OTA_KILL_AT";

/// Steps of a deployment, as published on the status topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The whole bundle arrived.
    Received,
    /// Signature, hashes, target and versions are being checked.
    Verifying,
    /// Files are being written.
    Installing,
    /// The new version runs on trial.
    Trial,
    /// The new version passed its trial and is current.
    Committed,
    /// The new version failed its trial (or the agent restarted during it); the previous runs.
    RolledBack,
    /// The bundle or transfer was refused; nothing changed.
    Rejected,
}

impl Phase {
    /// True for the phases a deployment ends in.
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Committed | Phase::RolledBack | Phase::Rejected)
    }
}

/// One status transition, persisted (the last one) so it can be republished after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// Deployment id from the deployer.
    pub deployment: String,
    /// Bundle version, when known.
    pub version: Option<String>,
    /// The phase entered.
    pub state: Phase,
    /// Short reason code (rejections and rollbacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl std::fmt::Display for StatusRecord {
    /// One line for logs and `ganglion ota status`:
    /// `deployment D version V: Phase (reason)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deployment {} version {}: {:?}",
            self.deployment,
            self.version.as_deref().unwrap_or("?"),
            self.state
        )?;
        if let Some(r) = &self.reason {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
}

/// A version on trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trial {
    /// The version being tried.
    pub version: semver::Version,
    /// Its deployment.
    pub deployment: String,
}

/// A version being written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installing {
    /// The version.
    pub version: semver::Version,
    /// Its deployment.
    pub deployment: String,
}

/// What is installed and what is in progress. Transitions are pure; [`StateDir::save`] persists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallState {
    /// The committed version; `None` runs the configured `[agent] scripts` folder.
    pub current: Option<semver::Version>,
    /// Committed versions kept on disk, oldest first (the current one last).
    pub history: Vec<semver::Version>,
    /// A version on trial (runs instead of `current` until committed or rolled back).
    pub trial: Option<Trial>,
    /// A version being written.
    pub installing: Option<Installing>,
    /// The last status transition.
    pub status: Option<StatusRecord>,
}

impl InstallState {
    /// The version that should run now (trial first).
    pub fn active(&self) -> Option<&semver::Version> {
        self.trial
            .as_ref()
            .map(|t| &t.version)
            .or(self.current.as_ref())
    }

    /// Versions whose folders must be kept.
    pub fn referenced(&self) -> Vec<&semver::Version> {
        let mut v: Vec<_> = self.history.iter().collect();
        v.extend(self.current.as_ref());
        v.extend(self.trial.as_ref().map(|t| &t.version));
        v
    }

    fn set_status(
        &mut self,
        deployment: &str,
        version: &semver::Version,
        state: Phase,
        code: Option<&str>,
        reason: Option<String>,
    ) {
        self.status = Some(StatusRecord {
            deployment: deployment.to_owned(),
            version: Some(version.to_string()),
            state,
            code: code.map(str::to_owned),
            reason,
        });
    }

    /// Start writing `version` for `deployment`.
    pub fn begin_install(&mut self, deployment: &str, version: &semver::Version) {
        self.installing = Some(Installing {
            version: version.clone(),
            deployment: deployment.to_owned(),
        });
        self.set_status(deployment, version, Phase::Installing, None, None);
    }

    /// The version folder is complete: put it on trial.
    pub fn start_trial(&mut self) -> Option<&Trial> {
        let i = self.installing.take()?;
        self.set_status(&i.deployment, &i.version, Phase::Trial, None, None);
        self.trial = Some(Trial {
            version: i.version,
            deployment: i.deployment,
        });
        self.trial.as_ref()
    }

    /// Writing failed or was interrupted: forget it.
    pub fn abort_install(&mut self, code: &str, reason: String) -> Option<Installing> {
        let i = self.installing.take()?;
        self.set_status(
            &i.deployment,
            &i.version,
            Phase::Rejected,
            Some(code),
            Some(reason),
        );
        Some(i)
    }

    /// The trial passed: it becomes current. Returns the versions no longer kept (beyond the
    /// current one and `keep` previous ones).
    pub fn commit(&mut self, keep: usize) -> Vec<semver::Version> {
        let Some(t) = self.trial.take() else {
            return Vec::new();
        };
        self.set_status(&t.deployment, &t.version, Phase::Committed, None, None);
        self.history.retain(|v| v != &t.version);
        self.history.push(t.version.clone());
        self.current = Some(t.version);
        let excess = self.history.len().saturating_sub(keep + 1);
        self.history.drain(..excess).collect()
    }

    /// The trial failed: back to `current`. Returns the abandoned trial.
    pub fn rollback(&mut self, code: &str, reason: String) -> Option<Trial> {
        let t = self.trial.take()?;
        self.set_status(
            &t.deployment,
            &t.version,
            Phase::RolledBack,
            Some(code),
            Some(reason),
        );
        Some(t)
    }

    /// After a restart: finish or undo whatever was in progress. A trial that was not
    /// committed is rolled back; a half-written install is dropped.
    pub fn recover(&mut self) {
        if let Some(t) = &self.trial {
            if self.current.as_ref() == Some(&t.version) {
                // Crashed between committing and clearing the trial (older layouts).
                self.trial = None;
            } else {
                self.rollback(
                    "interrupted",
                    format!(
                        "the agent restarted before version {} finished its trial",
                        t.version
                    ),
                );
            }
        }
        if let Some(i) = &self.installing {
            let reason = format!("the agent restarted while installing version {}", i.version);
            self.abort_install("interrupted", reason);
        }
    }

    /// `ganglion scripts rollback`: make the previous committed version current (or the
    /// configured scripts folder when there is none). Returns the version left, if any.
    pub fn manual_rollback(&mut self) -> Option<semver::Version> {
        let left = self.current.take()?;
        self.trial = None;
        self.history.retain(|v| v != &left);
        self.current = self.history.last().cloned();
        self.status = Some(StatusRecord {
            deployment: "local".into(),
            version: Some(left.to_string()),
            state: Phase::RolledBack,
            code: Some("manual".into()),
            reason: Some(format!(
                "rolled back by hand to {}",
                self.current
                    .as_ref()
                    .map_or("the configured scripts folder".into(), |v| v.to_string())
            )),
        });
        Some(left)
    }
}

/// A filesystem problem with the scripts state, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An OS error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `state.json` exists but cannot be read as a state.
    #[error("{}: corrupt install state: {message}", path.display())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A test hook stopped here (only in builds with test hooks).
    #[error("killed at test hook {0:?}")]
    Killed(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Kill-injection points for the crash-safety tests. In builds with `cfg(test)` or the
/// `ota-test-hooks` feature, [`KillHooks::from_env`] reads [`KILL_ENV`] and the named point
/// ends the process like a kill; otherwise every point is a no-op.
#[derive(Debug, Clone, Default)]
pub struct KillHooks {
    #[cfg(any(test, feature = "ota-test-hooks"))]
    at: Option<String>,
    #[cfg(any(test, feature = "ota-test-hooks"))]
    exit: bool,
}

impl KillHooks {
    /// Hooks from the environment (test-hook builds only; none otherwise).
    pub fn from_env() -> KillHooks {
        #[cfg(any(test, feature = "ota-test-hooks"))]
        {
            KillHooks {
                at: std::env::var(KILL_ENV).ok().filter(|s| !s.is_empty()),
                exit: true,
            }
        }
        #[cfg(not(any(test, feature = "ota-test-hooks")))]
        KillHooks::default()
    }

    /// Unit tests: the point returns [`StoreError::Killed`] instead of exiting.
    #[cfg(test)]
    pub fn error_at(point: &str) -> KillHooks {
        KillHooks {
            at: Some(point.to_owned()),
            exit: false,
        }
    }

    /// Pass the kill point `name`.
    pub fn point(&self, name: &str) -> Result<(), StoreError> {
        #[cfg(any(test, feature = "ota-test-hooks"))]
        if self.at.as_deref() == Some(name) {
            if self.exit {
                tracing::warn!("ota test hook: killing the agent at {name:?}");
                std::process::exit(137);
            }
            return Err(StoreError::Killed(name.to_owned()));
        }
        let _ = name;
        Ok(())
    }
}

/// The scripts state folder: loads and saves [`InstallState`], writes version folders.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
    /// Kill points (tests).
    pub hooks: KillHooks,
}

fn fsync_dir(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io(path))
}

impl StateDir {
    /// Open (creating) the folder and load its state; missing state is the empty state.
    pub fn open(root: &Path, hooks: KillHooks) -> Result<(StateDir, InstallState), StoreError> {
        fs::create_dir_all(root).map_err(io(root))?;
        let dir = StateDir {
            root: root.to_owned(),
            hooks,
        };
        let state = dir.load()?;
        Ok((dir, state))
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Read `state.json` (the empty state when it does not exist).
    pub fn load(&self) -> Result<InstallState, StoreError> {
        let path = self.root.join(STATE_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                path,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(InstallState::default()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Replace `state.json` atomically (temp file, fsync, rename, fsync folder).
    pub fn save(&self, state: &InstallState) -> Result<(), StoreError> {
        let path = self.root.join(STATE_FILE);
        let tmp = self.root.join(format!("{STATE_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        fsync_dir(&self.root)
    }

    /// Folder of an installed version.
    pub fn version_dir(&self, v: &semver::Version) -> PathBuf {
        self.root.join(v.to_string())
    }

    /// Write the bundle's files as version folder `<version>/` through `.tmp-<version>/`.
    /// Kill points: `staging` (after the first file), `staged` (after the rename).
    pub fn stage(&self, bundle: &Bundle) -> Result<PathBuf, StoreError> {
        let v = &bundle.manifest.version;
        let tmp = self.root.join(format!(".tmp-{v}"));
        let dest = self.version_dir(v);
        for stale in [&tmp, &dest] {
            if stale.exists() {
                fs::remove_dir_all(stale).map_err(io(stale))?;
            }
        }
        fs::create_dir(&tmp).map_err(io(&tmp))?;
        let mut dirs = vec![tmp.clone()];
        let mut first = true;
        for (entry, data) in bundle.entries() {
            let path = tmp.join(&entry.path);
            if let Some(parent) = path.parent() {
                if !parent.exists() {
                    fs::create_dir_all(parent).map_err(io(parent))?;
                }
                if !dirs.iter().any(|d| d == parent) {
                    dirs.push(parent.to_owned());
                }
            }
            write_synced(&path, data)?;
            if first {
                first = false;
                self.hooks.point("staging")?;
            }
        }
        write_synced(&tmp.join(MANIFEST_FILE), &bundle.manifest_bytes)?;
        // Deepest folders first, so every folder entry is durable before its parent's.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in &dirs {
            fsync_dir(d)?;
        }
        fs::rename(&tmp, &dest).map_err(io(&dest))?;
        fsync_dir(&self.root)?;
        self.hooks.point("staged")?;
        Ok(dest)
    }

    /// The manifest of an installed version.
    pub fn manifest(&self, v: &semver::Version) -> Result<Manifest, StoreError> {
        let path = self.version_dir(v).join(MANIFEST_FILE);
        let bytes = fs::read(&path).map_err(io(&path))?;
        Manifest::parse(&bytes).map_err(|e| StoreError::Corrupt {
            path,
            message: e.to_string(),
        })
    }

    /// Remove a version folder (missing is fine).
    pub fn remove_version(&self, v: &semver::Version) -> Result<(), StoreError> {
        let dir = self.version_dir(v);
        match fs::remove_dir_all(&dir) {
            Ok(()) => fsync_dir(&self.root),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&dir)(e)),
        }
    }

    /// Remove temp folders and version folders the state does not name (left by a crash).
    pub fn cleanup(&self, state: &InstallState) -> Result<Vec<String>, StoreError> {
        let keep: Vec<String> = state.referenced().iter().map(|v| v.to_string()).collect();
        let mut removed = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(io(&self.root))? {
            let entry = entry.map_err(io(&self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let stale = if name.starts_with(".tmp-") {
                true
            } else {
                is_dir && name.parse::<semver::Version>().is_ok() && !keep.contains(&name)
            };
            if stale {
                let p = entry.path();
                if is_dir {
                    fs::remove_dir_all(&p).map_err(io(&p))?;
                } else {
                    fs::remove_file(&p).map_err(io(&p))?;
                }
                removed.push(name);
            }
        }
        if !removed.is_empty() {
            fsync_dir(&self.root)?;
        }
        Ok(removed)
    }
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let mut f = File::create(path).map_err(io(path))?;
    f.write_all(data).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Install steps run by the agent, with their kill points, as one function the tests drive:
/// mark installing (`installing`), write the folder (`staging`, `staged`), mark trial (`trial`).
pub fn install(
    dir: &StateDir,
    state: &mut InstallState,
    deployment: &str,
    bundle: &Bundle,
) -> Result<PathBuf, StoreError> {
    state.begin_install(deployment, &bundle.manifest.version);
    dir.save(state)?;
    dir.hooks.point("installing")?;
    let path = match dir.stage(bundle) {
        Ok(p) => p,
        Err(e @ StoreError::Killed(_)) => return Err(e),
        Err(e) => {
            let _ = dir.remove_version(&bundle.manifest.version);
            state.abort_install("install_failed", e.to_string());
            dir.save(state)?;
            return Err(e);
        }
    };
    state.start_trial();
    dir.save(state)?;
    dir.hooks.point("trial")?;
    Ok(path)
}

/// Commit the trial, persist, and remove versions beyond `keep` (kill points `committing`
/// before and `committed` after the state switch).
pub fn commit(dir: &StateDir, state: &mut InstallState, keep: usize) -> Result<(), StoreError> {
    dir.hooks.point("committing")?;
    let pruned = state.commit(keep);
    dir.save(state)?;
    dir.hooks.point("committed")?;
    for v in pruned {
        dir.remove_version(&v)?;
    }
    Ok(())
}

/// Roll the trial back, persist, remove its folder (kill point `rolling_back` before).
pub fn rollback(
    dir: &StateDir,
    state: &mut InstallState,
    code: &str,
    reason: String,
) -> Result<Option<Trial>, StoreError> {
    dir.hooks.point("rolling_back")?;
    let t = state.rollback(code, reason);
    dir.save(state)?;
    if let Some(t) = &t {
        dir.remove_version(&t.version)?;
    }
    Ok(t)
}

/// Start-up: recover from a crash, persist, clean stray folders. Returns the recovered state.
pub fn recover(dir: &StateDir) -> Result<InstallState, StoreError> {
    let mut state = dir.load()?;
    let before = state.clone();
    state.recover();
    if state != before {
        dir.save(&state)?;
    }
    dir.cleanup(&state)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::super::bundle::{encode, hex, sha256, FileEntry, Target, FORMAT};
    use super::*;

    fn bundle(version: &str, body: &str) -> Bundle {
        let files: Vec<(String, Vec<u8>)> = vec![
            (
                "main.js".into(),
                format!("import './lib/a.js'; {body}").into_bytes(),
            ),
            ("lib/a.js".into(), format!("// {version}").into_bytes()),
        ];
        let m = Manifest {
            format: FORMAT,
            name: "app".into(),
            version: version.parse().expect("v"),
            entry: "main.js".into(),
            min_agent_version: "0.1.0".parse().expect("v"),
            target: Target {
                devices: vec!["gw".into()],
                groups: vec![],
            },
            created: "2026-11-01T00:00:00Z".into(),
            files: files
                .iter()
                .map(|(p, d)| FileEntry::of(p.as_str(), d))
                .collect(),
        };
        let mb = serde_json::to_vec(&m).expect("json");
        let bytes = encode(
            &mb,
            &[0; 32],
            &[0; 64],
            files.iter().map(|(p, d)| (p.as_str(), d.as_slice())),
        );
        Bundle::parse(&bytes, 1 << 20).expect("parse")
    }

    fn v(s: &str) -> semver::Version {
        s.parse().expect("version")
    }

    /// The version a fresh start would run and whether its folder is complete.
    fn check_consistent(root: &Path) -> Option<semver::Version> {
        let (dir, _) = StateDir::open(root, KillHooks::default()).expect("open");
        let state = recover(&dir).expect("recover");
        assert!(state.trial.is_none() && state.installing.is_none());
        let active = state.active().cloned();
        if let Some(a) = &active {
            let m = dir.manifest(a).expect("manifest of the active version");
            for f in &m.files {
                let data = fs::read(dir.version_dir(a).join(&f.path)).expect("file present");
                assert_eq!(hex(&sha256(&data)), f.sha256, "{} complete", f.path);
            }
        }
        for e in fs::read_dir(root).expect("read") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with(".tmp-"), "stray {name}");
        }
        active
    }

    #[test]
    fn install_commit_and_keep_n() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (dir, mut state) = StateDir::open(tmp.path(), KillHooks::default()).expect("open");
        for (i, ver) in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"].iter().enumerate() {
            let path =
                install(&dir, &mut state, &format!("d{i}"), &bundle(ver, "")).expect("install");
            assert!(path.join("lib/a.js").is_file());
            assert_eq!(state.active(), Some(&v(ver)));
            commit(&dir, &mut state, 2).expect("commit");
        }
        assert_eq!(state.current, Some(v("1.3.0")));
        assert_eq!(state.history, vec![v("1.1.0"), v("1.2.0"), v("1.3.0")]);
        assert!(!dir.version_dir(&v("1.0.0")).exists());
        assert!(dir.version_dir(&v("1.1.0")).exists());
        assert_eq!(dir.load().expect("load"), state);
        assert_eq!(
            state.status.as_ref().map(|s| s.state),
            Some(Phase::Committed)
        );
    }

    #[test]
    fn rollback_keeps_current() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (dir, mut state) = StateDir::open(tmp.path(), KillHooks::default()).expect("open");
        install(&dir, &mut state, "a", &bundle("1.0.0", "")).expect("install");
        commit(&dir, &mut state, 3).expect("commit");
        install(&dir, &mut state, "b", &bundle("2.0.0", "")).expect("install");
        let t = rollback(&dir, &mut state, "errors", "too many".into()).expect("rollback");
        assert_eq!(t.map(|t| t.version), Some(v("2.0.0")));
        assert_eq!(state.active(), Some(&v("1.0.0")));
        assert!(!dir.version_dir(&v("2.0.0")).exists());
        let s = state.status.clone().expect("status");
        assert_eq!(
            (s.state, s.code.as_deref()),
            (Phase::RolledBack, Some("errors"))
        );
    }

    #[test]
    fn manual_rollback_walks_history() {
        let mut s = InstallState::default();
        for ver in ["1.0.0", "2.0.0"] {
            s.begin_install("d", &v(ver));
            s.start_trial();
            s.commit(5);
        }
        assert_eq!(s.manual_rollback(), Some(v("2.0.0")));
        assert_eq!(s.current, Some(v("1.0.0")));
        assert_eq!(s.manual_rollback(), Some(v("1.0.0")));
        assert_eq!(s.current, None);
        assert_eq!(s.manual_rollback(), None);
    }

    /// Crash at every kill point of an install (and of the commit) and restart: the state
    /// always names a complete version, the old one unless the commit was durable.
    #[test]
    fn crash_at_every_step_leaves_a_complete_version() {
        let points = [
            ("installing", "1.0.0", Phase::Rejected),
            ("staging", "1.0.0", Phase::Rejected),
            ("staged", "1.0.0", Phase::Rejected),
            ("trial", "1.0.0", Phase::RolledBack),
            ("committing", "1.0.0", Phase::RolledBack),
            ("committed", "2.0.0", Phase::Committed),
        ];
        for (point, expect, status) in points {
            let tmp = tempfile::tempdir().expect("tmp");
            let (dir, mut state) = StateDir::open(tmp.path(), KillHooks::default()).expect("open");
            install(&dir, &mut state, "a", &bundle("1.0.0", "")).expect("install");
            commit(&dir, &mut state, 3).expect("commit");
            let (mut dir, mut state) =
                StateDir::open(tmp.path(), KillHooks::default()).expect("reopen");
            dir.hooks = KillHooks::error_at(point);
            let res = install(&dir, &mut state, "b", &bundle("2.0.0", "x"))
                .and_then(|_| commit(&dir, &mut state, 3));
            assert!(
                matches!(res, Err(StoreError::Killed(_))),
                "{point}: {res:?}"
            );
            assert_eq!(check_consistent(tmp.path()), Some(v(expect)), "{point}");
            let (dir, _) = StateDir::open(tmp.path(), KillHooks::default()).expect("open");
            let s = dir.load().expect("load").status.expect("status");
            assert_eq!(s.state, status, "{point}");
            assert_eq!(s.version.as_deref(), Some("2.0.0"), "{point}");
            assert_eq!(s.deployment, "b", "{point}");
        }
    }

    #[test]
    fn crash_on_first_install_runs_the_configured_folder() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (mut dir, mut state) = StateDir::open(tmp.path(), KillHooks::default()).expect("open");
        dir.hooks = KillHooks::error_at("staging");
        assert!(install(&dir, &mut state, "a", &bundle("1.0.0", "")).is_err());
        assert_eq!(check_consistent(tmp.path()), None);
    }

    #[test]
    fn corrupt_state_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        fs::write(tmp.path().join(STATE_FILE), b"{nope").expect("write");
        let err = StateDir::open(tmp.path(), KillHooks::default()).expect_err("corrupt");
        assert!(err.to_string().contains("state.json"), "{err}");
    }

    #[test]
    fn kill_points_are_inert_without_hooks() {
        assert!(KillHooks::default().point("staging").is_ok());
        assert!(matches!(
            KillHooks::error_at("x").point("x"),
            Err(StoreError::Killed(p)) if p == "x"
        ));
    }
}
