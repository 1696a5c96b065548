//! `ganglion check`: validate a config and compile every script without running anything.
//! Each problem is one line naming the file (and line/column where known).

use std::path::{Path, PathBuf};

use rquickjs::{Context, Module, Runtime};

use crate::config::Config;
use crate::js::errors::describe_error;
use crate::js::loader::{self, ScriptLoader, ScriptResolver};

/// Compile every `.js`/`.mjs` file under `root` (and validate `.json`), returning problems.
pub fn check_scripts(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    collect(root, &mut files);
    files.sort();
    let mut problems = Vec::new();
    if files.is_empty() {
        problems.push(format!("{}: no scripts found", root.display()));
        return problems;
    }
    let (rt, ctx) = match Runtime::new().and_then(|rt| Context::full(&rt).map(|c| (rt, c))) {
        Ok(x) => x,
        Err(e) => return vec![format!("cannot create the JS runtime: {e}")],
    };
    // Imports are resolved at compile time, so a missing or escaping import is reported too.
    rt.set_loader(ScriptResolver::new(root.to_owned()), ScriptLoader);
    for file in files {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "json" || ext == "cjs" {
            if let Err(e) = loader::module_source(&file) {
                problems.push(e);
            }
            continue;
        }
        let source = match std::fs::read_to_string(&file) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{}: {e}", file.display()));
                continue;
            }
        };
        let name = loader::normalize(&file).to_string_lossy().into_owned();
        ctx.with(|ctx| {
            if let Err(e) = Module::declare(ctx.clone(), name.clone(), source) {
                problems.push(locate(&name, &describe_error(&ctx, &e)));
            }
        });
    }
    drop(ctx);
    drop(rt);
    problems
}

/// Turn "SyntaxError: msg\n    at /f.js:3:5" into "/f.js:3:5: SyntaxError: msg".
pub fn locate(file: &str, described: &str) -> String {
    let mut lines = described.lines();
    let head = lines.next().unwrap_or_default();
    let at = lines
        .filter_map(|l| l.trim().strip_prefix("at "))
        .map(|l| l.trim_start_matches('(').trim_end_matches(')'))
        .map(|l| l.rsplit(" (").next().unwrap_or(l).to_owned())
        .find(|l| l.starts_with(file));
    match at {
        Some(loc) => format!("{loc}: {head}"),
        None => format!("{file}: {head}"),
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("js" | "mjs" | "cjs" | "json")
        ) {
            out.push(path);
        }
    }
}

/// Check a config file: parse it, then compile its scripts.
pub fn check_config(path: &Path) -> Vec<String> {
    match Config::load(path) {
        Ok(cfg) => {
            let mut problems = Vec::new();
            if !cfg.entry_path().is_file() {
                problems.push(format!(
                    "{}: [agent] entry: {} does not exist",
                    path.display(),
                    cfg.entry_path().display()
                ));
            }
            if let Err(msg) = crate::devices::load_board(&cfg.agent.board, &cfg.base_dir) {
                problems.push(format!("{}: [agent] board: {msg}", path.display()));
            }
            problems.extend(crate::sensors::config::check_config(&cfg));
            problems.extend(check_scripts(&cfg.agent.scripts));
            problems
        }
        Err(e) => vec![e.to_string()],
    }
}

/// Check a board file: every problem names the file, line and key (unknown pin, duplicate line,
/// bad address, unknown key).
pub fn check_board(path: &Path) -> Vec<String> {
    match ganglion_devices::board::Board::load(path) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(|p| p.to_string()).collect(),
    }
}

/// Check a single script (and its folder's other scripts, which it may import).
pub fn check_script(file: &Path) -> Vec<String> {
    if !file.is_file() {
        return vec![format!("{}: no such file", file.display())];
    }
    let cfg = Config::for_script(file);
    check_scripts(&cfg.agent.scripts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("good.js"), "export const a = 1;\n").expect("write");
        std::fs::write(dir.path().join("bad.js"), "const a = 1;\nconst b = ;\n").expect("write");
        std::fs::write(dir.path().join("bad.json"), "{ nope }").expect("write");
        std::fs::write(dir.path().join("imp.js"), "import './gone.js';\n").expect("write");
        let problems = check_scripts(dir.path());
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("imp.js") && p.contains("gone.js")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("bad.js:2")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("SyntaxError")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("bad.json:1:")),
            "{problems:?}"
        );
    }

    #[test]
    fn boards_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.js"), "1;\n").expect("write");
        let cfg = dir.path().join("ganglion.toml");
        std::fs::write(
            &cfg,
            "[agent]\nboard = \"raspberry-pi-9\"\nscripts = \".\"\n",
        )
        .expect("write");
        let problems = check_config(&cfg);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("[agent] board") && p.contains("raspberry-pi-9")),
            "{problems:?}"
        );
        let board = dir.path().join("b.toml");
        std::fs::write(&board, "name = \"b\"\nbogus = 1\n").expect("write");
        let problems = check_board(&board);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("b.toml") && p.contains("bogus")),
            "{problems:?}"
        );
        assert!(check_board(std::path::Path::new("../board-configs/sim.toml")).is_empty());
    }

    #[test]
    fn clean_folder_has_no_problems() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.js"), "import './lib.js';\n").expect("write");
        std::fs::write(dir.path().join("lib.js"), "export default 1;\n").expect("write");
        assert!(check_scripts(dir.path()).is_empty());
    }
}
