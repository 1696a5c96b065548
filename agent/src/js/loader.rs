//! Module resolution and loading: built-in modules, `node:` aliases, relative files inside the
//! scripts folder, JSON imports, and CommonJS files imported from ES modules.
//!
//! [`resolve`] is plain path logic (tested without a JS engine); [`ScriptResolver`] and
//! [`ScriptLoader`] adapt it to rquickjs.

use std::path::{Component, Path, PathBuf};

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::{Ctx, Module};

/// Built-in modules: name → JS source of the ES module.
pub struct Builtin {
    /// Canonical name (without `node:`).
    pub name: &'static str,
    /// Whether Node has it, so `node:NAME` also resolves.
    pub node: bool,
    /// ES module source.
    pub source: &'static str,
}

/// Every built-in module the agent ships.
pub static BUILTINS: &[Builtin] = &[
    Builtin {
        name: "events",
        node: true,
        source: include_str!("../../js/events.js"),
    },
    Builtin {
        name: "assert",
        node: true,
        source: include_str!("../../js/assert.js"),
    },
    Builtin {
        name: "buffer",
        node: true,
        source: include_str!("../../js/buffer.js"),
    },
    Builtin {
        name: "timers",
        node: true,
        source: include_str!("builtins/timers.js"),
    },
    Builtin {
        name: "timers/promises",
        node: true,
        source: include_str!("builtins/timers_promises.js"),
    },
    Builtin {
        name: "ganglion:agent",
        node: false,
        source: include_str!("builtins/agent.js"),
    },
    Builtin {
        name: "ganglion:mqtt",
        node: false,
        source: include_str!("builtins/mqtt.js"),
    },
    Builtin {
        name: "ganglion:sensors",
        node: false,
        source: include_str!("builtins/sensors.js"),
    },
    Builtin {
        name: "ganglion:internal/web",
        node: false,
        source: include_str!("../../js/web.js"),
    },
    Builtin {
        name: "ganglion",
        node: false,
        source: include_str!("builtins/ganglion.js"),
    },
    Builtin {
        name: "embedded:io/digital",
        node: false,
        source: include_str!("builtins/io_digital.js"),
    },
    Builtin {
        name: "embedded:io/i2c",
        node: false,
        source: include_str!("builtins/io_i2c.js"),
    },
    Builtin {
        name: "embedded:io/smbus",
        node: false,
        source: include_str!("builtins/io_smbus.js"),
    },
    Builtin {
        name: "embedded:io/serial",
        node: false,
        source: include_str!("builtins/io_serial.js"),
    },
];

/// Look a built-in up by the name a script used (`events`, `node:events`, `ganglion:agent`).
pub fn builtin(spec: &str) -> Option<&'static Builtin> {
    if let Some(rest) = spec.strip_prefix("node:") {
        return BUILTINS.iter().find(|b| b.node && b.name == rest);
    }
    BUILTINS.iter().find(|b| b.name == spec)
}

/// Where a specifier points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A built-in module, by canonical name.
    Builtin(&'static str),
    /// A file inside the scripts folder (absolute, normalised).
    File(PathBuf),
}

impl Resolved {
    /// The module name QuickJS keys its cache on.
    pub fn module_name(&self) -> String {
        match self {
            Resolved::Builtin(n) => (*n).to_owned(),
            Resolved::File(p) => p.to_string_lossy().into_owned(),
        }
    }
}

/// Resolve `spec` imported from module `base` (a built-in name or an absolute file path);
/// relative imports may not leave `root`, the scripts folder.
pub fn resolve(root: &Path, base: &str, spec: &str) -> Result<Resolved, String> {
    if let Some(b) = builtin(spec) {
        return Ok(Resolved::Builtin(b.name));
    }
    let relative = spec.starts_with("./") || spec.starts_with("../") || spec.starts_with('/');
    if !relative {
        let known: Vec<&str> = BUILTINS
            .iter()
            .filter(|b| !b.name.contains('/') || b.node)
            .map(|b| b.name)
            .collect();
        return Err(format!(
            "Cannot find module '{spec}' imported from {base}: only built-in modules ({}) and \
             relative files inside the scripts folder can be imported",
            known.join(", ")
        ));
    }
    let base_path = Path::new(base);
    let base_dir = if base_path.is_absolute() {
        base_path.parent().unwrap_or(root).to_owned()
    } else {
        root.to_owned()
    };
    let wanted = normalize(&base_dir.join(spec));
    let root = normalize(root);
    if !wanted.starts_with(&root) {
        return Err(format!(
            "Cannot import '{spec}' from {base}: it is outside the scripts folder {}",
            root.display()
        ));
    }
    let candidates = [
        wanted.clone(),
        with_suffix(&wanted, ".js"),
        with_suffix(&wanted, ".mjs"),
        with_suffix(&wanted, ".cjs"),
        with_suffix(&wanted, ".json"),
        wanted.join("index.js"),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .map(Resolved::File)
        .ok_or_else(|| format!("Cannot find module '{spec}' imported from {base}"))
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Lexically normalise a path (resolve `.` and `..`) and make it absolute.
pub fn normalize(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_owned())
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Produce the ES module source for a file: JS as is, JSON as a default export, CommonJS
/// (`.cjs`) through the CommonJS loader so `module.exports` becomes the default export.
pub fn module_source(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => {
            serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
                format!(
                    "{}:{}:{}: invalid JSON: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                )
            })?;
            Ok(format!("export default {text};"))
        }
        Some("cjs") => Ok(format!(
            "export default globalThis[Symbol.for('ganglion.internal')].requireFile({});",
            serde_json::to_string(&path.to_string_lossy()).unwrap_or_default()
        )),
        _ => Ok(text),
    }
}

/// rquickjs resolver over [`resolve`].
pub struct ScriptResolver {
    root: PathBuf,
}

impl ScriptResolver {
    /// Resolve relative imports inside `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root: normalize(&root),
        }
    }
}

impl Resolver for ScriptResolver {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        resolve(&self.root, base, name)
            .map(|r| r.module_name())
            .map_err(|msg| rquickjs::Error::new_resolving_message(base, name, msg))
    }
}

/// rquickjs loader for built-ins and script files.
pub struct ScriptLoader;

impl Loader for ScriptLoader {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, rquickjs::module::Declared>> {
        if let Some(b) = builtin(name) {
            return Module::declare(ctx.clone(), name, b.source);
        }
        let source = module_source(Path::new(name))
            .map_err(|msg| rquickjs::Error::new_loading_message(name, msg))?;
        Module::declare(ctx.clone(), name, source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("scripts");
        std::fs::create_dir_all(root.join("lib/util")).expect("mkdir");
        for f in [
            "main.js",
            "lib/a.js",
            "lib/util/index.js",
            "data.json",
            "old.cjs",
        ] {
            std::fs::write(root.join(f), "").expect("write");
        }
        std::fs::write(dir.path().join("secret.js"), "").expect("write");
        dir
    }

    #[test]
    fn builtins_and_node_prefix() {
        let root = Path::new("/s");
        assert_eq!(
            resolve(root, "/s/m.js", "events"),
            Ok(Resolved::Builtin("events"))
        );
        assert_eq!(
            resolve(root, "/s/m.js", "node:events"),
            Ok(Resolved::Builtin("events"))
        );
        assert_eq!(
            resolve(root, "/s/m.js", "node:timers/promises"),
            Ok(Resolved::Builtin("timers/promises"))
        );
        assert_eq!(
            resolve(root, "/s/m.js", "ganglion:agent"),
            Ok(Resolved::Builtin("ganglion:agent"))
        );
        assert!(resolve(root, "/s/m.js", "node:ganglion:agent").is_err());
        let err = resolve(root, "/s/m.js", "node:fs").expect_err("no fs");
        assert!(err.contains("Cannot find module 'node:fs'"), "{err}");
        let err = resolve(root, "/s/m.js", "lodash").expect_err("bare");
        assert!(err.contains("events"), "lists built-ins: {err}");
    }

    #[test]
    fn relative_files_with_extensions_and_index() {
        let dir = tree();
        let root = dir.path().join("scripts");
        let main = root.join("main.js").to_string_lossy().into_owned();
        let r = |s| resolve(&root, &main, s);
        assert_eq!(r("./lib/a"), Ok(Resolved::File(root.join("lib/a.js"))));
        assert_eq!(r("./lib/a.js"), Ok(Resolved::File(root.join("lib/a.js"))));
        assert_eq!(
            r("./lib/util"),
            Ok(Resolved::File(root.join("lib/util/index.js")))
        );
        assert_eq!(r("./data.json"), Ok(Resolved::File(root.join("data.json"))));
        assert_eq!(r("./old"), Ok(Resolved::File(root.join("old.cjs"))));
        let from_lib = root.join("lib/a.js").to_string_lossy().into_owned();
        assert_eq!(
            resolve(&root, &from_lib, "../main.js"),
            Ok(Resolved::File(root.join("main.js")))
        );
        let err = r("./missing").expect_err("missing");
        assert!(
            err.contains("Cannot find module './missing' imported from"),
            "{err}"
        );
        assert!(err.contains("main.js"), "{err}");
    }

    #[test]
    fn imports_cannot_leave_the_scripts_folder() {
        let dir = tree();
        let root = dir.path().join("scripts");
        let main = root.join("main.js").to_string_lossy().into_owned();
        let err = resolve(&root, &main, "../secret.js").expect_err("escape");
        assert!(err.contains("outside the scripts folder"), "{err}");
    }

    #[test]
    fn json_modules_are_checked_with_line_numbers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.json");
        std::fs::write(&good, "{\"a\": [1, 2]}").expect("write");
        assert_eq!(
            module_source(&good).expect("valid"),
            "export default {\"a\": [1, 2]};"
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\n  \"a\": 1,\n  oops\n}").expect("write");
        let err = module_source(&bad).expect_err("invalid");
        assert!(err.contains("bad.json:3:"), "{err}");
    }

    /// The bootstrap installs web.js's globals lazily by name: its list must be web.js's GLOBALS.
    #[test]
    fn bootstrap_lazy_web_globals_match_web_js() {
        fn names(source: &str, start: &str, end: char) -> Vec<String> {
            let from = source.find(start).expect(start) + start.len();
            let body = &source[from..from + source[from..].find(end).expect("end")];
            let mut v: Vec<String> = body
                .split(',')
                .map(|n| n.trim().trim_matches('\'').to_owned())
                .filter(|n| !n.is_empty())
                .collect();
            v.sort();
            v
        }
        let web = BUILTINS
            .iter()
            .find(|b| b.name == "ganglion:internal/web")
            .expect("web builtin");
        let ours = names(include_str!("bootstrap.js"), "const WEB_GLOBALS = [", ']');
        assert_eq!(names(web.source, "const GLOBALS = {", '}'), ours);
        assert!(ours.contains(&"TextEncoder".to_owned()), "{ours:?}");
    }
}
