//! The bundle container: one file holding a signed manifest and the script files.
//!
//! Our own framing rather than tar: a bundle has exactly one kind of entry (a regular file with a
//! relative path), so there is nothing to refuse about links, devices, owners or modes, and the
//! parser is a few length-prefixed reads whose every bound is checked (see `docs/ota.md`):
//!
//! ```text
//! magic      8 bytes  "GNGLBDL1"
//! manifest   u32 BE length, then that many bytes of UTF-8 JSON (at most MAX_MANIFEST)
//! signer     32 bytes Ed25519 public key of the signer
//! signature  64 bytes Ed25519 signature over the exact manifest bytes
//! count      u32 BE number of files (at most MAX_FILES)
//! per file   u16 BE path length, path (UTF-8), u32 BE data length, data
//! ```
//!
//! Nothing may follow the last file. The files must be exactly those the manifest lists, in its
//! order, with its sizes; their hashes are checked by [`super::verify`].

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// First bytes of every bundle (format version 1).
pub const MAGIC: &[u8; 8] = b"GNGLBDL1";
/// Largest manifest accepted.
pub const MAX_MANIFEST: usize = 256 * 1024;
/// Most files in one bundle.
pub const MAX_FILES: usize = 1000;
/// Longest file path, in bytes.
pub const MAX_PATH: usize = 255;
/// Deepest folder nesting of a file path.
pub const MAX_DEPTH: usize = 16;
/// Manifest format this agent writes and understands.
pub const FORMAT: u32 = 1;
/// File names starting with this are reserved for the agent's own metadata.
pub const RESERVED_PREFIX: &str = ".ganglion";

/// Why bytes are not a well-formed bundle. Every variant says what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Larger than the configured cap.
    #[error("bundle is {size} bytes, larger than the limit of {max} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// Does not start with the bundle magic.
    #[error("not a ganglion bundle (bad magic bytes)")]
    BadMagic,
    /// Ended before a field was complete.
    #[error("bundle is truncated: {0} is incomplete")]
    Truncated(String),
    /// Manifest length over the cap.
    #[error("manifest is {0} bytes, larger than the limit of {MAX_MANIFEST} bytes")]
    ManifestTooLarge(usize),
    /// File count over the cap.
    #[error("bundle has {0} files, more than the limit of {MAX_FILES}")]
    TooManyFiles(usize),
    /// Bytes after the last file.
    #[error("bundle has {0} unexpected bytes after its last file")]
    TrailingBytes(usize),
    /// A file path that could escape the version folder or is otherwise unusable.
    #[error("bad file path {path:?}: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The manifest is not valid JSON of the expected shape, or a field is unusable.
    #[error("malformed manifest: {0}")]
    MalformedManifest(String),
    /// The files in the container do not match the manifest.
    #[error("bundle files do not match the manifest: {0}")]
    Mismatch(String),
}

impl BundleError {
    /// Short machine-readable reason code for status messages.
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::TooLarge { .. } => "oversized",
            BundleError::MalformedManifest(_) => "malformed_manifest",
            BundleError::BadPath { .. } => "bad_path",
            _ => "malformed_bundle",
        }
    }
}

/// Which agents a bundle is for: any listed device id, or any agent in a listed group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Agent ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Group names (`[ota] group`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// One file of the bundle as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative path inside the version folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the contents, lower-case hex.
    pub sha256: String,
}

impl FileEntry {
    /// The entry describing `data` stored at `path`: its size and SHA-256, as the
    /// packer writes them and the verifier checks them.
    pub fn of(path: impl Into<String>, data: &[u8]) -> Self {
        FileEntry {
            path: path.into(),
            size: data.len() as u64,
            sha256: hex(&sha256(data)),
        }
    }
}

/// The signed description of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format ([`FORMAT`]).
    pub format: u32,
    /// Name of the script set (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// Semantic version of this script set.
    pub version: semver::Version,
    /// Entry module, one of `files`.
    pub entry: String,
    /// Oldest agent version that can run it.
    pub min_agent_version: semver::Version,
    /// Which agents it is for.
    pub target: Target,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
    /// Every file with its hash.
    pub files: Vec<FileEntry>,
}

/// A parsed, structurally valid bundle (not yet verified: see [`super::verify::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The exact manifest bytes the signature covers.
    pub manifest_bytes: Vec<u8>,
    /// The manifest parsed from them.
    pub manifest: Manifest,
    /// Public key of the signer.
    pub signer: [u8; 32],
    /// Ed25519 signature over `manifest_bytes`.
    pub signature: [u8; 64],
    /// File contents, in manifest order.
    pub files: Vec<Vec<u8>>,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Decode hex (either case) into exactly `N` bytes.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim().as_bytes();
    if text.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Check a bundle file path: relative, `/`-separated plain names, no `.`/`..`, no control
/// characters or backslashes, not reserved, bounded length and depth.
pub fn check_path(path: &str) -> Result<(), BundleError> {
    let bad = |reason| {
        Err(BundleError::BadPath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("empty");
    }
    if path.len() > MAX_PATH {
        return bad("longer than 255 bytes");
    }
    if path.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    if path.contains('\\') {
        return bad("backslashes are not allowed");
    }
    if path.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > MAX_DEPTH {
        return bad("nested too deep");
    }
    for part in &parts {
        match *part {
            "" => return bad("empty path component"),
            "." | ".." => return bad("`.` and `..` are not allowed"),
            _ => {}
        }
    }
    if parts[0].starts_with(RESERVED_PREFIX) {
        return bad("names starting with .ganglion are reserved");
    }
    Ok(())
}

fn check_name(field: &str, name: &str) -> Result<(), BundleError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(BundleError::MalformedManifest(format!(
            "{field} {name:?} must be 1-64 letters, digits, '.', '_' or '-'"
        )))
    }
}

impl Manifest {
    /// Parse and validate manifest JSON: shape, names, paths, hashes, entry, targets.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, BundleError> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| BundleError::MalformedManifest(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    /// The checks [`Manifest::parse`] makes after the JSON parsed.
    pub fn validate(&self) -> Result<(), BundleError> {
        let bad = |m: String| Err(BundleError::MalformedManifest(m));
        if self.format != FORMAT {
            return bad(format!(
                "format {} is not supported (this agent reads format {FORMAT})",
                self.format
            ));
        }
        check_name("name", &self.name)?;
        if self.files.is_empty() {
            return bad("files is empty".into());
        }
        if self.files.len() > MAX_FILES {
            return Err(BundleError::TooManyFiles(self.files.len()));
        }
        let mut seen = BTreeSet::new();
        for f in &self.files {
            check_path(&f.path)?;
            if unhex::<32>(&f.sha256).is_none() {
                return bad(format!(
                    "sha256 of {:?} is not 64 hex digits: {:?}",
                    f.path, f.sha256
                ));
            }
            if !seen.insert(f.path.as_str()) {
                return bad(format!("{:?} is listed twice", f.path));
            }
        }
        // A path may not be both a file and a folder ("a" and "a/b").
        for f in &self.files {
            let mut prefix = f.path.as_str();
            while let Some((parent, _)) = prefix.rsplit_once('/') {
                if seen.contains(parent) {
                    return bad(format!(
                        "{parent:?} is a file and also a folder of {:?}",
                        f.path
                    ));
                }
                prefix = parent;
            }
        }
        if !seen.contains(self.entry.as_str()) {
            return bad(format!("entry {:?} is not one of the files", self.entry));
        }
        if self.target.devices.is_empty() && self.target.groups.is_empty() {
            return bad("target names no device and no group".into());
        }
        for d in &self.target.devices {
            if d.is_empty() || d.contains(['/', '+', '#']) {
                return bad(format!("target device {d:?} is not a valid agent id"));
            }
        }
        for g in &self.target.groups {
            if g.is_empty() || g.contains(['/', '+', '#']) {
                return bad(format!("target group {g:?} is not a valid group name"));
            }
        }
        if humantime::parse_rfc3339(&self.created).is_err() {
            return bad(format!(
                "created {:?} is not an RFC 3339 UTC time",
                self.created
            ));
        }
        Ok(())
    }
}

/// Bounds-checked reader over the container bytes.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], BundleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| BundleError::Truncated(what.to_owned()))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], BundleError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u16(&mut self, what: &str) -> Result<usize, BundleError> {
        Ok(usize::from(u16::from_be_bytes(self.array(what)?)))
    }

    fn u32(&mut self, what: &str) -> Result<usize, BundleError> {
        Ok(u32::from_be_bytes(self.array(what)?) as usize)
    }
}

impl Bundle {
    /// Parse a bundle of at most `max_size` bytes. Never panics; every problem is a
    /// [`BundleError`]. Checks structure and the manifest, not the signature or hashes.
    pub fn parse(data: &[u8], max_size: usize) -> Result<Bundle, BundleError> {
        if data.len() > max_size {
            return Err(BundleError::TooLarge {
                size: data.len(),
                max: max_size,
            });
        }
        let mut r = Reader { data, pos: 0 };
        if r.take(MAGIC.len(), "magic")
            .map_err(|_| BundleError::BadMagic)?
            != MAGIC
        {
            return Err(BundleError::BadMagic);
        }
        let mlen = r.u32("manifest length")?;
        if mlen > MAX_MANIFEST {
            return Err(BundleError::ManifestTooLarge(mlen));
        }
        let manifest_bytes = r.take(mlen, "manifest")?.to_vec();
        let signer = r.array::<32>("signer key")?;
        let signature = r.array::<64>("signature")?;
        let count = r.u32("file count")?;
        if count > MAX_FILES {
            return Err(BundleError::TooManyFiles(count));
        }
        let mut raw = Vec::with_capacity(count.min(64));
        for i in 0..count {
            let plen = r.u16(&format!("path length of file #{i}"))?;
            let path = std::str::from_utf8(r.take(plen, &format!("path of file #{i}"))?).map_err(
                |_| BundleError::BadPath {
                    path: format!("file #{i}"),
                    reason: "not UTF-8",
                },
            )?;
            check_path(path)?;
            let dlen = r.u32(&format!("data length of {path:?}"))?;
            let data = r.take(dlen, &format!("data of {path:?}"))?;
            raw.push((path, data));
        }
        if r.pos != data.len() {
            return Err(BundleError::TrailingBytes(data.len() - r.pos));
        }
        let manifest = Manifest::parse(&manifest_bytes)?;
        if raw.len() != manifest.files.len() {
            return Err(BundleError::Mismatch(format!(
                "the manifest lists {} files, the bundle holds {}",
                manifest.files.len(),
                raw.len()
            )));
        }
        let mut files = Vec::with_capacity(raw.len());
        for ((path, data), entry) in raw.into_iter().zip(&manifest.files) {
            if path != entry.path {
                return Err(BundleError::Mismatch(format!(
                    "found {path:?} where the manifest lists {:?}",
                    entry.path
                )));
            }
            if data.len() as u64 != entry.size {
                return Err(BundleError::Mismatch(format!(
                    "{path:?} is {} bytes, the manifest says {}",
                    data.len(),
                    entry.size
                )));
            }
            files.push(data.to_vec());
        }
        Ok(Bundle {
            manifest_bytes,
            manifest,
            signer,
            signature,
            files,
        })
    }

    /// Serialize in the container format (the inverse of [`Bundle::parse`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(
            &self.manifest_bytes,
            &self.signer,
            &self.signature,
            self.manifest
                .files
                .iter()
                .map(|f| f.path.as_str())
                .zip(self.files.iter().map(Vec::as_slice)),
        )
    }

    /// Files as (manifest entry, contents).
    pub fn entries(&self) -> impl Iterator<Item = (&FileEntry, &[u8])> {
        self.manifest
            .files
            .iter()
            .zip(self.files.iter().map(Vec::as_slice))
    }
}

/// Write the container from its parts; paths and data are taken as given (tests use this to
/// build deliberately broken bundles). Lengths over the field widths are truncated, which
/// [`Bundle::parse`] then rejects.
pub fn encode<'a>(
    manifest: &[u8],
    signer: &[u8; 32],
    signature: &[u8; 64],
    files: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Vec<u8> {
    let files: Vec<_> = files.collect();
    let mut out = Vec::with_capacity(
        manifest.len()
            + 256
            + files
                .iter()
                .map(|(p, d)| p.len() + d.len() + 6)
                .sum::<usize>(),
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(manifest.len() as u32).to_be_bytes());
    out.extend_from_slice(manifest);
    out.extend_from_slice(signer);
    out.extend_from_slice(signature);
    out.extend_from_slice(&(files.len() as u32).to_be_bytes());
    for (path, data) in files {
        out.extend_from_slice(&(path.len() as u16).to_be_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: &[(&str, &[u8])]) -> Manifest {
        Manifest {
            format: FORMAT,
            name: "app".into(),
            version: semver::Version::new(1, 0, 0),
            entry: "main.js".into(),
            min_agent_version: semver::Version::new(0, 1, 0),
            target: Target {
                devices: vec!["gw-1".into()],
                groups: vec![],
            },
            created: "2026-11-01T12:00:00Z".into(),
            files: files.iter().map(|(p, d)| FileEntry::of(*p, d)).collect(),
        }
    }

    fn build(m: &Manifest, files: &[(&str, &[u8])]) -> Vec<u8> {
        let bytes = serde_json::to_vec(m).expect("json");
        encode(&bytes, &[1; 32], &[2; 64], files.iter().copied())
    }

    const FILES: &[(&str, &[u8])] = &[("main.js", b"console.log(1)"), ("lib/x.js", b"export {}")];

    #[test]
    fn round_trip() {
        let m = manifest(FILES);
        let bytes = build(&m, FILES);
        let b = Bundle::parse(&bytes, 1 << 20).expect("parses");
        assert_eq!(b.manifest, m);
        assert_eq!(b.files[1], b"export {}");
        assert_eq!(b.signer, [1; 32]);
        assert_eq!(b.to_bytes(), bytes);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let m = manifest(FILES);
        let bytes = build(&m, FILES);
        for n in 0..bytes.len() {
            let err = Bundle::parse(&bytes[..n], 1 << 20).expect_err("truncated");
            assert!(
                matches!(err, BundleError::Truncated(_) | BundleError::BadMagic),
                "{n}: {err}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(
            Bundle::parse(&extra, 1 << 20),
            Err(BundleError::TrailingBytes(1))
        );
    }

    #[test]
    fn size_cap() {
        let m = manifest(FILES);
        let bytes = build(&m, FILES);
        let err = Bundle::parse(&bytes, 10).expect_err("too big");
        assert_eq!(err.code(), "oversized");
    }

    #[test]
    fn hostile_paths_are_refused() {
        for p in [
            "/etc/passwd",
            "../x.js",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "",
            ".ganglion-manifest.json",
            "a\nb",
        ] {
            assert!(check_path(p).is_err(), "{p:?} accepted");
        }
        for p in ["main.js", "lib/a.b.js", "..hidden", "a/.b"] {
            assert!(check_path(p).is_ok(), "{p:?} refused");
        }
        let files: &[(&str, &[u8])] = &[("main.js", b"1"), ("../evil.js", b"2")];
        let bytes = build(&manifest(&files[..1]), files);
        assert!(matches!(
            Bundle::parse(&bytes, 1 << 20),
            Err(BundleError::BadPath { .. })
        ));
    }

    #[test]
    fn manifest_must_match_files() {
        let m = manifest(FILES);
        let swapped = [FILES[1], FILES[0]];
        let err = Bundle::parse(&build(&m, &swapped), 1 << 20).expect_err("order");
        assert!(matches!(err, BundleError::Mismatch(_)), "{err}");
        let err = Bundle::parse(&build(&m, &FILES[..1]), 1 << 20).expect_err("missing");
        assert!(err.to_string().contains("lists 2 files"), "{err}");
        let longer: &[(&str, &[u8])] = &[("main.js", b"console.log(12)"), FILES[1]];
        let err = Bundle::parse(&build(&m, longer), 1 << 20).expect_err("size");
        assert!(
            err.to_string().contains("bytes, the manifest says"),
            "{err}"
        );
    }

    #[test]
    fn manifest_checks() {
        let mut m = manifest(FILES);
        m.entry = "nope.js".into();
        assert!(m
            .validate()
            .expect_err("entry")
            .to_string()
            .contains("entry"));
        let mut m = manifest(FILES);
        m.target = Target::default();
        assert!(m.validate().is_err());
        let mut m = manifest(FILES);
        m.files.push(m.files[0].clone());
        assert!(m.validate().expect_err("dup").to_string().contains("twice"));
        let mut m = manifest(&[("main.js", b"1"), ("main.js/x", b"2")]);
        m.entry = "main.js".into();
        assert!(m.validate().is_err());
        let mut m = manifest(FILES);
        m.created = "yesterday".into();
        assert!(m.validate().is_err());
        let mut m = manifest(FILES);
        m.name = "a b".into();
        assert!(m.validate().is_err());
        let err = Manifest::parse(b"{\"format\":1}").expect_err("fields");
        assert_eq!(err.code(), "malformed_manifest");
        let err = Manifest::parse(b"not json").expect_err("json");
        assert!(matches!(err, BundleError::MalformedManifest(_)));
    }

    /// A cheap stand-in for the cargo-fuzz target that runs with every `cargo test`: 20 000
    /// random mutations (flips, truncations, insertions, length-field edits) of a valid bundle.
    /// None panics, and whatever still parses serialises back to the same bytes.
    #[test]
    fn random_mutations_never_panic() {
        let m = manifest(FILES);
        let good = build(&m, FILES);
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut b = good.clone();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % b.len().max(1);
                match next() % 5 {
                    0 => b[at] ^= 1 << (next() % 8),
                    1 => b.truncate(at),
                    2 => b.insert(at, next() as u8),
                    3 => {
                        // Length fields: manifest length at 8..12.
                        let v = next() as u8;
                        if b.len() > 11 {
                            b[8 + (next() as usize % 4)] = v;
                        }
                    }
                    _ => {
                        if at < b.len() {
                            b.remove(at);
                        }
                    }
                }
                if b.is_empty() {
                    break;
                }
            }
            if let Ok(p) = Bundle::parse(&b, 1 << 20) {
                assert_eq!(p.to_bytes(), b);
                parsed += 1;
            }
        }
        // Some mutations (e.g. in file data) still parse; the round trip was checked on them.
        assert!(parsed > 0);
    }

    #[test]
    fn hex_round_trip() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex::<4>("0001ABff"), Some(bytes));
        assert_eq!(unhex::<4>("0001ab"), None);
        assert_eq!(unhex::<2>("zz00"), None);
        assert_eq!(unhex::<2>("é0"), None);
    }
}
