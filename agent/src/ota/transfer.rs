//! Chunked transfer of a bundle over MQTT: the message framing and a plain state machine that
//! reassembles chunks (in any order, repeats ignored) under a size cap and abandons transfers
//! that stall.
//!
//! A chunk message is `"GNGLCHK1"`, a u32 BE header length, a JSON [`ChunkHeader`], then the
//! chunk's bytes. Chunk `i` of `total` holds bytes `[i*chunk_size, ...)` of the bundle; every
//! chunk but the last has the same length.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::bundle::{hex, sha256, unhex};

/// First bytes of every chunk message.
pub const CHUNK_MAGIC: &[u8; 8] = b"GNGLCHK1";
/// Largest chunk header accepted.
pub const MAX_HEADER: usize = 4096;
/// Most chunks in one transfer.
pub const MAX_CHUNKS: u32 = 65_536;
/// Transfers reassembled at the same time; a further one is refused until one ends.
pub const MAX_ACTIVE: usize = 2;
/// Finished deployment ids remembered, so repeated chunks of a finished transfer are ignored.
const REMEMBER_FINISHED: usize = 32;

/// What every chunk of a deployment says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkHeader {
    /// Deployment id chosen by the deployer; status messages carry it.
    pub deployment: String,
    /// This chunk's index, from 0.
    pub index: u32,
    /// Number of chunks.
    pub total: u32,
    /// Size of the whole bundle in bytes.
    pub size: u64,
    /// SHA-256 of the whole bundle, hex.
    pub sha256: String,
    /// The operator allows installing a version older than the running one.
    #[serde(default)]
    pub allow_downgrade: bool,
}

/// A chunk message that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Not a chunk message (magic, lengths).
    #[error("not a bundle chunk message: {0}")]
    Framing(&'static str),
    /// The header is not the expected JSON or its values are impossible.
    #[error("bad chunk header: {0}")]
    Header(String),
}

/// Build a chunk message.
pub fn encode_chunk(header: &ChunkHeader, data: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(12 + h.len() + data.len());
    out.extend_from_slice(CHUNK_MAGIC);
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

/// Parse a chunk message into its header and data. Never panics.
pub fn decode_chunk(msg: &[u8]) -> Result<(ChunkHeader, &[u8]), ChunkError> {
    let rest = msg
        .strip_prefix(CHUNK_MAGIC.as_slice())
        .ok_or(ChunkError::Framing("bad magic bytes"))?;
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(ChunkError::Framing("truncated header length"))?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_HEADER || len > rest.len() {
        return Err(ChunkError::Framing("header length out of range"));
    }
    let (h, data) = rest.split_at(len);
    let header: ChunkHeader =
        serde_json::from_slice(h).map_err(|e| ChunkError::Header(e.to_string()))?;
    if header.deployment.is_empty()
        || header.deployment.len() > 128
        || header.deployment.chars().any(char::is_control)
    {
        return Err(ChunkError::Header(
            "deployment id must be 1-128 printable characters".into(),
        ));
    }
    if header.total == 0 || header.total > MAX_CHUNKS || header.index >= header.total {
        return Err(ChunkError::Header(format!(
            "chunk {} of {} is impossible",
            header.index, header.total
        )));
    }
    if unhex::<32>(&header.sha256).is_none() {
        return Err(ChunkError::Header("sha256 is not 64 hex digits".into()));
    }
    Ok((header, data))
}

/// Split a bundle into chunk messages of at most `chunk_size` data bytes each.
pub fn split(
    bundle: &[u8],
    deployment: &str,
    chunk_size: usize,
    allow_downgrade: bool,
) -> Vec<Vec<u8>> {
    let chunk_size = chunk_size.max(1);
    let total = bundle.len().div_ceil(chunk_size).max(1) as u32;
    let digest = hex(&sha256(bundle));
    (0..total)
        .map(|i| {
            let start = i as usize * chunk_size;
            let end = (start + chunk_size).min(bundle.len());
            encode_chunk(
                &ChunkHeader {
                    deployment: deployment.to_owned(),
                    index: i,
                    total,
                    size: bundle.len() as u64,
                    sha256: digest.clone(),
                    allow_downgrade,
                },
                &bundle[start..end],
            )
        })
        .collect()
}

/// What one chunk did to the transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// The first chunk of a new deployment.
    Started {
        /// The deployment.
        deployment: String,
    },
    /// A further chunk was stored.
    Progress {
        /// The deployment.
        deployment: String,
        /// Distinct chunks received so far.
        received: u32,
        /// Chunks in the transfer.
        total: u32,
    },
    /// A chunk seen before, or a chunk of a deployment already finished: nothing changed.
    Duplicate,
    /// All chunks are here and the whole-bundle hash matches.
    Complete {
        /// The deployment.
        deployment: String,
        /// The reassembled bundle.
        bundle: Vec<u8>,
        /// From the chunk headers.
        allow_downgrade: bool,
    },
    /// The transfer is refused (it is forgotten; a new deployment id starts over).
    Rejected {
        /// The deployment.
        deployment: String,
        /// Short reason code.
        code: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// A transfer given up on because chunks stopped arriving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned {
    /// The deployment.
    pub deployment: String,
    /// Distinct chunks received.
    pub received: u32,
    /// Chunks in the transfer.
    pub total: u32,
}

#[derive(Debug)]
struct Transfer {
    header: ChunkHeader,
    chunks: BTreeMap<u32, Vec<u8>>,
    bytes: u64,
    last_activity: Instant,
}

/// Reassembles deployments from chunks. Plain state: feed it chunks and clock ticks, act on
/// what it returns.
#[derive(Debug)]
pub struct Transfers {
    max_size: u64,
    timeout: Duration,
    active: BTreeMap<String, Transfer>,
    finished: VecDeque<String>,
}

impl Transfers {
    /// Bundles up to `max_size` bytes; transfers idle for `timeout` are abandoned.
    pub fn new(max_size: u64, timeout: Duration) -> Transfers {
        Transfers {
            max_size,
            timeout,
            active: BTreeMap::new(),
            finished: VecDeque::new(),
        }
    }

    fn finish(&mut self, deployment: &str) {
        self.active.remove(deployment);
        self.finished.push_back(deployment.to_owned());
        while self.finished.len() > REMEMBER_FINISHED {
            self.finished.pop_front();
        }
    }

    fn reject(&mut self, deployment: &str, code: &'static str, reason: String) -> ChunkOutcome {
        self.finish(deployment);
        ChunkOutcome::Rejected {
            deployment: deployment.to_owned(),
            code,
            reason,
        }
    }

    /// Take one decoded chunk received at `now`.
    pub fn on_chunk(&mut self, now: Instant, header: ChunkHeader, data: &[u8]) -> ChunkOutcome {
        let id = header.deployment.clone();
        if self.finished.contains(&id) {
            return ChunkOutcome::Duplicate;
        }
        if header.size > self.max_size {
            return self.reject(
                &id,
                "oversized",
                format!(
                    "bundle is {} bytes, larger than the limit of {} bytes",
                    header.size, self.max_size
                ),
            );
        }
        let started = !self.active.contains_key(&id);
        if started && self.active.len() >= MAX_ACTIVE {
            return self.reject(
                &id,
                "busy",
                format!("{MAX_ACTIVE} other transfers are in progress"),
            );
        }
        let t = self.active.entry(id.clone()).or_insert_with(|| Transfer {
            header: header.clone(),
            chunks: BTreeMap::new(),
            bytes: 0,
            last_activity: now,
        });
        let h = &t.header;
        if h.total != header.total || h.size != header.size || h.sha256 != header.sha256 {
            let reason = format!(
                "chunk {} disagrees with earlier chunks about total, size or sha256",
                header.index
            );
            return self.reject(&id, "inconsistent_chunks", reason);
        }
        if t.chunks.contains_key(&header.index) {
            t.last_activity = now;
            return ChunkOutcome::Duplicate;
        }
        t.bytes += data.len() as u64;
        if t.bytes > t.header.size {
            let reason = format!(
                "chunks hold more than the announced {} bytes",
                t.header.size
            );
            return self.reject(&id, "oversized", reason);
        }
        t.chunks.insert(header.index, data.to_vec());
        t.last_activity = now;
        let received = t.chunks.len() as u32;
        let total = t.header.total;
        if received < total {
            return if started {
                ChunkOutcome::Started { deployment: id }
            } else {
                ChunkOutcome::Progress {
                    deployment: id,
                    received,
                    total,
                }
            };
        }
        let mut bundle = Vec::with_capacity(t.bytes as usize);
        for c in t.chunks.values() {
            bundle.extend_from_slice(c);
        }
        let allow_downgrade = t.header.allow_downgrade;
        let expected = t.header.sha256.to_ascii_lowercase();
        let size = t.header.size;
        if bundle.len() as u64 != size {
            let reason = format!(
                "all {total} chunks hold {} bytes, the transfer announced {size} (truncated)",
                bundle.len()
            );
            return self.reject(&id, "truncated", reason);
        }
        if hex(&sha256(&bundle)) != expected {
            let reason = "the reassembled bundle does not match the announced SHA-256".into();
            return self.reject(&id, "transfer_hash_mismatch", reason);
        }
        self.finish(&id);
        ChunkOutcome::Complete {
            deployment: id,
            bundle,
            allow_downgrade,
        }
    }

    /// Abandon transfers idle for longer than the timeout as of `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Abandoned> {
        let stale: Vec<String> = self
            .active
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(t.last_activity) >= self.timeout)
            .map(|(id, _)| id.clone())
            .collect();
        stale
            .into_iter()
            .filter_map(|id| {
                let t = self.active.remove(&id)?;
                self.finished.push_back(id.clone());
                Some(Abandoned {
                    deployment: id,
                    received: t.chunks.len() as u32,
                    total: t.header.total,
                })
            })
            .collect()
    }

    /// Transfers in progress.
    pub fn active(&self) -> usize {
        self.active.len()
    }

    /// When the next transfer would time out, if any is in progress.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.active
            .values()
            .map(|t| t.last_activity + self.timeout)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(t: &mut Transfers, now: Instant, msg: &[u8]) -> ChunkOutcome {
        let (h, d) = decode_chunk(msg).expect("decodes");
        t.on_chunk(now, h, d)
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn out_of_order_and_repeated_chunks_reassemble() {
        let bundle = data(1000);
        let msgs = split(&bundle, "d1", 300, true);
        assert_eq!(msgs.len(), 4);
        let mut t = Transfers::new(10_000, Duration::from_secs(30));
        let now = Instant::now();
        assert!(matches!(
            feed(&mut t, now, &msgs[2]),
            ChunkOutcome::Started { .. }
        ));
        assert_eq!(feed(&mut t, now, &msgs[2]), ChunkOutcome::Duplicate);
        assert!(matches!(
            feed(&mut t, now, &msgs[0]),
            ChunkOutcome::Progress {
                received: 2,
                total: 4,
                ..
            }
        ));
        feed(&mut t, now, &msgs[3]);
        match feed(&mut t, now, &msgs[1]) {
            ChunkOutcome::Complete {
                deployment,
                bundle: b,
                allow_downgrade,
            } => {
                assert_eq!(deployment, "d1");
                assert_eq!(b, bundle);
                assert!(allow_downgrade);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.active(), 0);
        // A late repeat of a finished deployment changes nothing.
        assert_eq!(feed(&mut t, now, &msgs[0]), ChunkOutcome::Duplicate);
    }

    #[test]
    fn single_chunk_and_empty_bundle() {
        let mut t = Transfers::new(10_000, Duration::from_secs(30));
        let msgs = split(b"abc", "d", 300, false);
        assert!(matches!(
            feed(&mut t, Instant::now(), &msgs[0]),
            ChunkOutcome::Complete { .. }
        ));
        let msgs = split(b"", "e", 300, false);
        assert_eq!(msgs.len(), 1);
        assert!(matches!(
            feed(&mut t, Instant::now(), &msgs[0]),
            ChunkOutcome::Complete { .. }
        ));
    }

    #[test]
    fn size_cap_is_enforced_up_front_and_by_bytes() {
        let mut t = Transfers::new(500, Duration::from_secs(30));
        let msgs = split(&data(1000), "big", 100, false);
        match feed(&mut t, Instant::now(), &msgs[0]) {
            ChunkOutcome::Rejected { code, .. } => assert_eq!(code, "oversized"),
            other => panic!("{other:?}"),
        }
        // A sender that lies about the size is stopped once the bytes exceed it.
        let mut lying = Vec::new();
        for (i, part) in data(600).chunks(200).enumerate() {
            let h = ChunkHeader {
                deployment: "liar".into(),
                index: i as u32,
                total: 3,
                size: 400,
                sha256: hex(&[0; 32]),
                allow_downgrade: false,
            };
            lying.push(encode_chunk(&h, part));
        }
        feed(&mut t, Instant::now(), &lying[0]);
        feed(&mut t, Instant::now(), &lying[1]);
        match feed(&mut t, Instant::now(), &lying[2]) {
            ChunkOutcome::Rejected { code, .. } => assert_eq!(code, "oversized"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_and_corrupted_transfers_are_rejected() {
        let bundle = data(900);
        let mut t = Transfers::new(10_000, Duration::from_secs(30));
        // The announced size says 900, but the last chunk lost its tail.
        let mut msgs = split(&bundle, "cut", 300, false);
        let last = msgs.len() - 1;
        let cut = msgs[last].len() - 50;
        msgs[last].truncate(cut);
        for m in &msgs[..last] {
            feed(&mut t, Instant::now(), m);
        }
        match feed(&mut t, Instant::now(), &msgs[last]) {
            ChunkOutcome::Rejected { code, .. } => assert_eq!(code, "truncated"),
            other => panic!("{other:?}"),
        }
        let mut msgs = split(&bundle, "flip", 300, false);
        let n = msgs[1].len() - 1;
        msgs[1][n] ^= 1;
        let outcomes: Vec<_> = msgs
            .iter()
            .map(|m| feed(&mut t, Instant::now(), m))
            .collect();
        assert!(matches!(
            outcomes.last(),
            Some(ChunkOutcome::Rejected {
                code: "transfer_hash_mismatch",
                ..
            })
        ));
    }

    #[test]
    fn stalled_transfer_is_abandoned_and_can_resume_before() {
        let bundle = data(900);
        let msgs = split(&bundle, "slow", 300, false);
        let mut t = Transfers::new(10_000, Duration::from_secs(30));
        let t0 = Instant::now();
        feed(&mut t, t0, &msgs[0]);
        // Resumed within the timeout: progress continues.
        let t1 = t0 + Duration::from_secs(20);
        assert!(t.expire(t1).is_empty());
        feed(&mut t, t1, &msgs[1]);
        assert_eq!(t.next_deadline(), Some(t1 + Duration::from_secs(30)));
        assert!(t.expire(t1 + Duration::from_secs(29)).is_empty());
        let gone = t.expire(t1 + Duration::from_secs(30));
        assert_eq!(
            gone,
            vec![Abandoned {
                deployment: "slow".into(),
                received: 2,
                total: 3
            }]
        );
        assert_eq!(t.active(), 0);
        assert_eq!(feed(&mut t, t1, &msgs[2]), ChunkOutcome::Duplicate);
    }

    #[test]
    fn inconsistent_headers_and_too_many_transfers() {
        let mut t = Transfers::new(10_000, Duration::from_secs(30));
        let a = split(&data(600), "x", 300, false);
        let b = split(&data(601), "x", 300, false);
        feed(&mut t, Instant::now(), &a[0]);
        assert!(matches!(
            feed(&mut t, Instant::now(), &b[1]),
            ChunkOutcome::Rejected {
                code: "inconsistent_chunks",
                ..
            }
        ));
        for id in ["p", "q"] {
            feed(
                &mut t,
                Instant::now(),
                &split(&data(600), id, 300, false)[0],
            );
        }
        assert!(matches!(
            feed(
                &mut t,
                Instant::now(),
                &split(&data(600), "r", 300, false)[0]
            ),
            ChunkOutcome::Rejected { code: "busy", .. }
        ));
    }

    #[test]
    fn bad_frames_are_errors() {
        assert!(decode_chunk(b"").is_err());
        assert!(decode_chunk(b"GNGLCHK1\0\0").is_err());
        assert!(decode_chunk(b"GNGLCHK1\0\0\0\x05{}").is_err());
        assert!(decode_chunk(b"GNGLCHK1\0\0\0\x02{}").is_err());
        let h = ChunkHeader {
            deployment: "d".into(),
            index: 3,
            total: 3,
            size: 1,
            sha256: hex(&[0; 32]),
            allow_downgrade: false,
        };
        let err = decode_chunk(&encode_chunk(&h, b"x")).expect_err("index");
        assert!(err.to_string().contains("3 of 3"), "{err}");
    }
}
