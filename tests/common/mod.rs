//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

pub mod gate;
pub mod mosquitto;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn ganglion() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ganglion"));
    c.env("GANGLION_LOG", "info");
    c.env_remove("RUST_LOG");
    c
}

/// A scratch folder with files in it.
pub struct Scripts {
    pub dir: tempfile::TempDir,
}

impl Scripts {
    /// Create a folder holding `files` (relative path, contents).
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let p = dir.path().join(name);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(p, text).expect("write");
        }
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// An agent folder: `ganglion.toml` (scripts here, state in `state/`, the sim board or
/// `board.toml` when `board` is given, then `extra` config text), `main.js` and the board file.
pub fn agent_folder(extra: &str, script: &str, board: Option<&str>) -> Scripts {
    let board_name = if board.is_some() { "board.toml" } else { "sim" };
    let config = format!(
        "[agent]\nscripts = \".\"\nentry = \"main.js\"\nstate_dir = \"state\"\nboard = \"{board_name}\"\n{extra}"
    );
    let mut files = vec![("ganglion.toml", config.as_str()), ("main.js", script)];
    if let Some(b) = board {
        files.push(("board.toml", b));
    }
    Scripts::new(&files)
}

/// `ganglion run --config <folder>/ganglion.toml`.
pub fn run_command(s: &Scripts) -> Command {
    let mut cmd = ganglion();
    cmd.args(["run", "--config"]).arg(s.path("ganglion.toml"));
    cmd
}

/// What a finished run printed.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Lines logged by scripts (console.*), without the log prefix.
    pub fn script_lines(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.split_once(" script: ").map(|(_, m)| m))
            .filter_map(|m| m.rfind(" script=").map(|i| m[..i].to_owned()))
            .collect()
    }

    /// Panic with the whole output unless `needle` was logged.
    #[track_caller]
    pub fn assert_logged(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle),
            "expected {needle:?} in the output:\n{}",
            self.stderr
        );
    }
}

/// Wait for a child with a hard limit (tests never hang), collecting its output.
pub fn finish(mut child: Child, limit: Duration) -> Run {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        status.is_some(),
        "ganglion did not finish within {limit:?}:\n{stderr}"
    );
    Run {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
    }
}

/// Run `ganglion run FILE` and wait (30 s at most).
pub fn run_file(file: &Path) -> Run {
    let child = ganglion()
        .arg("run")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ganglion");
    finish(child, Duration::from_secs(30))
}

/// Run one script given as source.
pub fn run_js(source: &str) -> Run {
    let s = Scripts::new(&[("main.js", source)]);
    run_file(&s.path("main.js"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// A running child whose stderr is collected in the background, for tests that interact with it.
pub struct Live {
    pub child: Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Live {
    /// Spawn `cmd` with stderr captured line by line.
    pub fn spawn(mut cmd: Command) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                }
                line.clear();
            }
        });
        Self {
            child,
            log,
            reader: Some(reader),
        }
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Wait until `needle` was logged (panics with the log after `limit`).
    #[track_caller]
    pub fn wait_for(&self, needle: &str, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{needle:?} not logged within {limit:?}:\n{}", self.log());
    }

    /// Send a signal by name (TERM, INT, KILL).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{name} failed");
    }

    /// Wait for exit (killing it after `limit`) and return what it printed.
    pub fn finish(mut self, limit: Duration) -> Run {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break Some(s);
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let stderr = self.log();
        assert!(
            status.is_some(),
            "ganglion did not finish within {limit:?}:\n{stderr}"
        );
        Run {
            code: status.and_then(|s| s.code()),
            stdout: String::new(),
            stderr,
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
