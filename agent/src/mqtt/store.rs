//! Durable store-and-forward queue for outgoing MQTT messages.
//!
//! A plain synchronous structure (no MQTT, no async): an append-only log split into segment files
//! `<dir>/<first-seq, 20 digits>.seg`. Every record is `[body length u32 LE][CRC32 of body u32
//! LE][body]`. A data body is `1, seq u64, qos u8, flags u8 (bit 0 = retain), topic length u16,
//! topic, payload`; with flag bit 1 (MQTT 5 properties, added later: files without it read as
//! before) the topic is followed by `accepted at (Unix ms) u64, properties length u32,
//! properties` (see [`super::props::encode`]) and then the payload. An ack body is `2, first seq
//! u64, count u32` and marks a run of records as done (acknowledged, sent at QoS 0, dropped by
//! the cap, expired or refused). Sequence numbers grow by one per appended record and never
//! repeat, also across restarts.
//!
//! Life of a record: `append` (pending) → `next_to_send` (in flight) → `ack` (done), or back to
//! pending with `requeue*` when the connection drops. On `open`, every record that is not done is
//! pending again and is handed out in sequence order. Segments are deleted from the oldest end
//! once all their records are done (compaction). A torn or corrupt record (power cut) is found by
//! its CRC; it is skipped with a warning and the scan resynchronises on the next valid record.
//!
//! In memory the store keeps an 8-byte entry per record (its place in the file, state and QoS)
//! only for the segments being sent and written. A closed segment behind a backlog, every record
//! of it waiting, is cold: it keeps only its record count and bytes, and its entries are read
//! back from the file when the sender reaches it (a record damaged meanwhile counts as corrupt).
//!
//! The byte cap bounds the *queued* bytes (records not yet done, counted with their 8-byte
//! header); on full, `drop-oldest` drops the oldest queued records one by one until the new one
//! fits, `reject-new` refuses the new one. Both are counted exactly. Acks are persisted lazily
//! (on [`Store::tick`], [`Store::sync`], drops and drop of the store); losing them in a crash
//! means a replay of already-acknowledged messages, never a loss.

use super::props::{self, MessageProperties};
use super::QoS;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{debug, warn};

/// Bytes of record framing: body length and CRC.
pub const RECORD_HEADER: u64 = 8;
/// Largest record body accepted (and believed when scanning a file).
pub const MAX_RECORD_BODY: u64 = 256 * 1024 * 1024;
const KIND_DATA: u8 = 1;
const KIND_ACK: u8 = 2;
const DATA_FIXED: usize = 1 + 8 + 1 + 1 + 2;
/// Accept time and properties length of a record with properties.
const EXT_FIXED: usize = 8 + 4;
const FLAG_RETAIN: u8 = 1;
const FLAG_PROPERTIES: u8 = 2;
const ACK_BODY: usize = 1 + 8 + 4;
/// A valid-looking record further ahead than this in sequence is treated as garbage.
const MAX_SEQ_GAP: u64 = 1 << 32;
/// Upper bound for `segment_bytes` (entry offsets are 30-bit, see [`Entry`]).
const MAX_SEGMENT_BYTES: u64 = 1 << 30;
const SEGMENT_EXT: &str = "seg";
/// Persist buffered acks once this many separate runs are waiting.
const MAX_PENDING_ACK_RUNS: usize = 256;
/// Bytes of recently appended records kept in memory, so handing them out right after the
/// append does not read them back from the file.
const RECENT_BYTES: usize = 256 * 1024;
/// Bytes read at once when a record must come back from disk: a backlog (a slow broker, an
/// in-flight window that is full, a reconnect) drains in order, so the records after it are the
/// next ones sent and one read serves many instead of one system call per message.
const READ_AHEAD: usize = 64 * 1024;

/// When appended records are flushed to stable storage with fdatasync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every append: slowest, survives power loss record by record.
    Always,
    /// At most once per interval, driven by the caller's clock in `tick` (or
    /// [`Store::tick_job`], to run the fdatasync on another thread): never in `append`, so a
    /// slow disk does not hold up the caller.
    Batch(Duration),
    /// Never: survives a crash of the agent (page cache) but not a power cut.
    Never,
}

/// What `append` does when the queued bytes would exceed the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Drop the oldest queued records (counted in `dropped`) until the new one fits.
    DropOldest,
    /// Refuse the new record with [`StoreError::Full`] (counted in `rejected`).
    RejectNew,
}

/// Tuning of a [`Store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Maximum queued bytes (records not yet done, framing included).
    pub cap_bytes: u64,
    /// Behaviour when the cap is reached.
    pub on_full: FullPolicy,
    /// Durability policy for appends.
    pub fsync: FsyncPolicy,
    /// A new segment file is started when the active one would grow beyond this.
    pub segment_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cap_bytes: 64 * 1024 * 1024,
            on_full: FullPolicy::DropOldest,
            fsync: FsyncPolicy::Batch(Duration::from_millis(100)),
            segment_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Errors of the store; I/O errors name the file and the operation.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("MQTT queue: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done ("open", "write", ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `reject-new` policy and the queue is at its cap.
    #[error("MQTT queue is full: {queued} of {cap} bytes queued, {needed} more needed (policy reject-new)")]
    Full {
        /// Queued bytes now.
        queued: u64,
        /// Bytes the new record needs.
        needed: u64,
        /// The configured cap.
        cap: u64,
    },
    /// The topic does not fit the 16-bit length of the record format (and of MQTT).
    #[error("MQTT topic of {0} bytes is longer than 65535 bytes")]
    TopicTooLong(usize),
    /// The record alone is bigger than the cap (or the record size limit).
    #[error("MQTT message of {size} bytes can never fit the queue cap of {cap} bytes")]
    TooLarge {
        /// Size of the record with framing.
        size: u64,
        /// The limit it exceeds.
        cap: u64,
    },
}

/// A second copy of a store error (a batch reports one failure for each message).
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io { op, path, source } => StoreError::Io {
            op,
            path: path.clone(),
            source: io::Error::new(source.kind(), source.to_string()),
        },
        StoreError::Full {
            queued,
            needed,
            cap,
        } => StoreError::Full {
            queued: *queued,
            needed: *needed,
            cap: *cap,
        },
        StoreError::TopicTooLong(n) => StoreError::TopicTooLong(*n),
        StoreError::TooLarge { size, cap } => StoreError::TooLarge {
            size: *size,
            cap: *cap,
        },
    }
}

/// Turns the successful results of records from sequence number `from` on into copies of `e`.
fn fail_from(results: &mut [Result<Appended, StoreError>], from: Option<u64>, e: &StoreError) {
    let Some(from) = from else { return };
    warn!(error = %e, "MQTT queue: a batch of messages could not be stored");
    for result in results {
        if matches!(result, Ok(a) if a.seq >= from) {
            *result = Err(copy_error(e));
        }
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// A message read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Monotonic sequence number assigned by `append`.
    pub seq: u64,
    /// Topic name.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Quality of service it must be published with.
    pub qos: QoS,
    /// MQTT retain flag.
    pub retain: bool,
    /// MQTT 5 properties, if the message has any.
    pub properties: Option<Box<MessageProperties>>,
    /// When the message was accepted (Unix ms); 0 for records without properties.
    pub accepted_unix_ms: u64,
}

/// The MQTT 5 part of a message to append: its properties and when it was accepted (the wall
/// clock, for the message expiry interval).
#[derive(Debug, Clone, Copy)]
struct Extension<'a> {
    /// The properties (not empty).
    properties: &'a MessageProperties,
    /// Accept time as Unix milliseconds.
    accepted_unix_ms: u64,
}

impl Extension<'_> {
    fn encoded_len(&self) -> usize {
        EXT_FIXED + props::encoded_len(self.properties)
    }
}

/// A message to append with [`Store::append_many`] (owned: the store keeps it in memory until
/// it is handed out, instead of reading it back from the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Topic name.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Quality of service it must be published with.
    pub qos: QoS,
    /// MQTT retain flag.
    pub retain: bool,
    /// MQTT 5 properties, if the message has any.
    pub properties: Option<Box<MessageProperties>>,
    /// When the message was accepted (Unix ms; kept only with properties, for the expiry).
    pub accepted_unix_ms: u64,
}

/// Writes held back while [`Store::append_many`] runs: one write for the whole batch.
#[derive(Debug, Default)]
struct Stage {
    active: bool,
    buf: Vec<u8>,
    /// Length of the active segment file where the staged bytes go.
    start: u64,
    /// Data records staged in the active segment (rolled back if the write fails).
    records: Vec<(u64, u64)>,
    /// Set when a failed write rolled back records from this sequence number on.
    rolled_back_from: Option<u64>,
    /// Tests: the next staged write fails as if the disk did.
    #[cfg(test)]
    fail_nth: u32,
    /// Tests: reading a cold segment back fails as if the disk did.
    #[cfg(test)]
    fail_reads: bool,
}

/// Result of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Sequence number of the new record.
    pub seq: u64,
    /// Older records dropped to make room (policy `drop-oldest`).
    pub dropped: u64,
}

/// Counters and gauges of the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Records waiting to be handed out (pending).
    pub queued: u64,
    /// Records handed out and not yet acked.
    pub inflight: u64,
    /// Records completed by `ack` since open.
    pub acked: u64,
    /// Records dropped by `drop-oldest` since open.
    pub dropped: u64,
    /// Appends refused by `reject-new` since open.
    pub rejected: u64,
    /// Records lost to corruption (found at open or when read back) since open.
    pub corrupt: u64,
    /// Bytes of queued + in-flight records (what the cap limits).
    pub queued_bytes: u64,
    /// Total size of the segment files.
    pub bytes_on_disk: u64,
    /// Next sequence number `append` will assign.
    pub next_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Inflight,
    Done,
}

/// One record's place in a segment file, its state and QoS, packed into 8 bytes: the queue
/// keeps one per record not yet compacted, so a backlog of a million messages (a broker away
/// for a day, or slower than the readings) holds 8 MB of them (12 MB unpacked). The offset
/// (< 2^30, [`MAX_SEGMENT_BYTES`]) carries the state in its top two bits, the record's length
/// (< 2^29: header and [`MAX_RECORD_BODY`]) the QoS in its top two bits.
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset_state: u32,
    len_qos: u32,
}

/// The low 30 bits of both [`Entry`] words: offset and length.
const ENTRY_VALUE: u32 = (1 << 30) - 1;

#[derive(Debug)]
struct Segment {
    /// Sequence number of `entries[0]`.
    base: u64,
    path: PathBuf,
    file: File,
    /// Bytes of valid data (append position for the active segment).
    size: u64,
    /// Empty while the segment is cold (see `cold`).
    entries: Vec<Entry>,
    /// Entries not done.
    live: usize,
    /// Set while the segment's entries are released ([`Store::cool`]).
    cold: Option<Cold>,
}

/// What a cold segment keeps of its entries: every one of its records waits to be sent, and
/// nothing but their number and bytes is needed until the sender reaches it, when the entries
/// are read back from the file ([`Store::warm`]). A backlog (a broker away for hours, or
/// slower than the readings) then costs memory for the segments being sent and written only,
/// not 8 bytes per waiting message.
#[derive(Debug, Clone, Copy)]
struct Cold {
    /// Records in the segment (all pending).
    count: u64,
    /// Their bytes with framing (counted in the queued bytes).
    bytes: u64,
}

impl Segment {
    fn end_seq(&self) -> u64 {
        self.base + self.cold.map_or(self.entries.len() as u64, |c| c.count)
    }
}

/// One round of fdatasync taken out of the store ([`Store::tick_job`]): duplicated descriptors of
/// the segment files (and the directory) written since the last sync, so it can run on another
/// thread while the store goes on writing. A file deleted meanwhile is synced harmlessly.
#[derive(Debug)]
pub struct SyncJob {
    files: Vec<(PathBuf, File)>,
    dir: Option<(PathBuf, File)>,
}

impl SyncJob {
    /// fdatasync of every file, then fsync of the directory; blocks.
    pub fn run(self) -> Result<(), StoreError> {
        for (path, file) in &self.files {
            file.sync_data().map_err(io_err("fsync", path))?;
        }
        if let Some((path, dir)) = &self.dir {
            dir.sync_all().map_err(io_err("sync directory", path))?;
        }
        Ok(())
    }
}

/// The durable queue. See the module documentation for the format and the guarantees.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    opts: StoreOptions,
    segments: VecDeque<Segment>,
    next_seq: u64,
    /// No pending record has a sequence number below this.
    cursor: u64,
    pending: u64,
    inflight: u64,
    queued_bytes: u64,
    acked: u64,
    dropped: u64,
    rejected: u64,
    corrupt: u64,
    /// Runs of done records not yet written as ack records.
    ack_runs: Vec<(u64, u32)>,
    /// Base of the oldest segment written since the last fdatasync (a rotation leaves the old
    /// segment's tail to sync as well); `None` when everything written is synced.
    unsynced_from: Option<u64>,
    /// A segment file was created since the directory was last synced.
    dir_unsynced: bool,
    last_sync: Instant,
    scratch: Vec<u8>,
    stage: Stage,
    /// Recently appended records in sequence order (contiguous), at most [`RECENT_BYTES`].
    recent: VecDeque<Record>,
    recent_bytes: usize,
    /// The part of a segment file last read back (see [`READ_AHEAD`]).
    read_ahead: RefCell<ReadAhead>,
    /// Tests: segment files synced on the store's own thread, in order.
    #[cfg(test)]
    synced: Vec<PathBuf>,
}

/// A window of one segment file as read from disk. Bytes below a segment's size never change
/// while the store is open, except where a failed write cuts a file back or a segment file is
/// created or deleted: those forget the window ([`ReadAhead::forget`]).
#[derive(Debug, Default)]
struct ReadAhead {
    /// Base of the segment the window is of.
    base: u64,
    /// File offset of `bytes[0]`.
    offset: u64,
    bytes: Vec<u8>,
}

impl ReadAhead {
    /// `len` bytes at `offset` of segment `base`, if the window holds them.
    fn get(&self, base: u64, offset: u64, len: usize) -> Option<&[u8]> {
        if base != self.base || offset < self.offset {
            return None;
        }
        let start = usize::try_from(offset - self.offset).ok()?;
        self.bytes.get(start..start.checked_add(len)?)
    }

    fn forget(&mut self) {
        self.bytes.clear();
    }
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.{SEGMENT_EXT}"))
}

fn encode_frame(out: &mut [u8], body_start: usize) {
    let body_len = (out.len() - body_start) as u32;
    let crc = crc32fast::hash(&out[body_start..]);
    out[body_start - 8..body_start - 4].copy_from_slice(&body_len.to_le_bytes());
    out[body_start - 4..body_start].copy_from_slice(&crc.to_le_bytes());
}

fn encode_data(
    out: &mut Vec<u8>,
    seq: u64,
    topic: &str,
    payload: &[u8],
    (qos, retain): (QoS, bool),
    ext: Option<Extension<'_>>,
) {
    out.extend_from_slice(&[0; 8]);
    let start = out.len();
    out.push(KIND_DATA);
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(qos.as_u8());
    let mut flags = if retain { FLAG_RETAIN } else { 0 };
    if ext.is_some() {
        flags |= FLAG_PROPERTIES;
    }
    out.push(flags);
    out.extend_from_slice(&(topic.len() as u16).to_le_bytes());
    out.extend_from_slice(topic.as_bytes());
    if let Some(ext) = ext {
        out.extend_from_slice(&ext.accepted_unix_ms.to_le_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        props::encode(ext.properties, out);
        let len = (out.len() - len_at - 4) as u32;
        out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(payload);
    encode_frame(out, start);
}

fn encode_ack(out: &mut Vec<u8>, first: u64, count: u32) {
    out.extend_from_slice(&[0; 8]);
    let start = out.len();
    out.push(KIND_ACK);
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    encode_frame(out, start);
}

/// A decoded record body.
enum Body<'a> {
    Data {
        seq: u64,
        qos: QoS,
        retain: bool,
        topic: &'a str,
        payload: &'a [u8],
        /// Accept time and encoded properties (records with flag bit 1).
        ext: Option<(u64, &'a [u8])>,
    },
    Ack {
        first: u64,
        count: u32,
    },
}

fn le_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

fn le_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

fn decode_body(body: &[u8]) -> Option<Body<'_>> {
    match *body.first()? {
        KIND_DATA if body.len() >= DATA_FIXED => {
            let seq = le_u64(&body[1..])?;
            let qos = QoS::try_from(body[9]).ok()?;
            let flags = body[10];
            if flags & !(FLAG_RETAIN | FLAG_PROPERTIES) != 0 {
                return None;
            }
            let retain = flags & FLAG_RETAIN != 0;
            let topic_len = usize::from(u16::from_le_bytes([body[11], body[12]]));
            let topic = body.get(DATA_FIXED..DATA_FIXED + topic_len)?;
            let topic = std::str::from_utf8(topic).ok()?;
            let mut rest = &body[DATA_FIXED + topic_len..];
            let mut ext = None;
            if flags & FLAG_PROPERTIES != 0 {
                let accepted = le_u64(rest)?;
                let len = le_u32(rest.get(8..)?)? as usize;
                let encoded = rest.get(EXT_FIXED..EXT_FIXED.checked_add(len)?)?;
                ext = Some((accepted, encoded));
                rest = &rest[EXT_FIXED + len..];
            }
            Some(Body::Data {
                seq,
                qos,
                retain,
                topic,
                payload: rest,
                ext,
            })
        }
        KIND_ACK if body.len() == ACK_BODY => Some(Body::Ack {
            first: le_u64(&body[1..])?,
            count: le_u32(&body[9..])?,
        }),
        _ => None,
    }
}

/// Parses the record at `pos` of `buf`: `(body, total length)` when the frame and CRC are valid.
fn frame_at(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let len = le_u32(buf.get(pos..)?)? as usize;
    if len == 0 || len as u64 > MAX_RECORD_BODY {
        return None;
    }
    let crc = le_u32(buf.get(pos + 4..)?)?;
    let body = buf.get(pos + 8..pos.checked_add(8 + len)?)?;
    (crc32fast::hash(body) == crc).then_some((body, 8 + len))
}

impl Store {
    /// Opens (or creates) the queue in `dir`, recovering every record that is not done.
    /// Corrupt or torn records are skipped with a warning; a torn tail of the last segment is
    /// truncated so new appends follow the last valid record.
    pub fn open(dir: &Path, mut opts: StoreOptions, now: Instant) -> Result<Store, StoreError> {
        opts.segment_bytes = opts.segment_bytes.clamp(256, MAX_SEGMENT_BYTES);
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let mut bases = Vec::new();
        for item in fs::read_dir(dir).map_err(io_err("list directory", dir))? {
            let item = item.map_err(io_err("list directory", dir))?;
            let path = item.path();
            let parsed = (path.extension().and_then(|e| e.to_str()) == Some(SEGMENT_EXT))
                .then(|| path.file_stem().and_then(|s| s.to_str()))
                .flatten()
                .and_then(|s| s.parse::<u64>().ok());
            match parsed {
                Some(base) if base > 0 => bases.push(base),
                _ => warn!(path = %path.display(), "MQTT queue: ignoring unexpected file"),
            }
        }
        bases.sort_unstable();

        let mut store = Store {
            dir: dir.to_owned(),
            opts,
            segments: VecDeque::new(),
            next_seq: 1,
            cursor: 1,
            pending: 0,
            inflight: 0,
            queued_bytes: 0,
            acked: 0,
            dropped: 0,
            rejected: 0,
            corrupt: 0,
            ack_runs: Vec::new(),
            unsynced_from: None,
            dir_unsynced: false,
            last_sync: now,
            scratch: Vec::new(),
            stage: Stage::default(),
            recent: VecDeque::new(),
            recent_bytes: 0,
            read_ahead: RefCell::default(),
            #[cfg(test)]
            synced: Vec::new(),
        };
        let mut acks = Vec::new();
        let count = bases.len();
        for (i, base) in bases.into_iter().enumerate() {
            let segment = store.load_segment(base, i + 1 == count, &mut acks)?;
            store.next_seq = store.next_seq.max(segment.end_seq()).max(segment.base);
            store.segments.push_back(segment);
        }
        for (first, count) in acks {
            for seq in first..first.saturating_add(u64::from(count)) {
                if let Some(entry) = store.entry_mut(seq) {
                    entry.set_state(State::Done);
                }
            }
        }
        for segment in &mut store.segments {
            segment.live = 0;
            for entry in &segment.entries {
                if entry.state() == State::Pending {
                    segment.live += 1;
                    store.pending += 1;
                    store.queued_bytes += u64::from(entry.len());
                }
            }
        }
        store.cursor = store.first_live_seq();
        store.compact()?;
        for i in 0..store.segments.len().saturating_sub(1) {
            store.cool(i);
        }
        if store.segments.is_empty() {
            store.new_segment()?;
            // Here, not in a later sync job: an agent that never publishes never needs the
            // thread that runs those.
            store.sync_now(now)?;
        }
        debug!(
            dir = %dir.display(),
            queued = store.pending,
            next_seq = store.next_seq,
            "MQTT queue opened"
        );
        Ok(store)
    }

    fn load_segment(
        &mut self,
        base: u64,
        is_last: bool,
        acks: &mut Vec<(u64, u32)>,
    ) -> Result<Segment, StoreError> {
        let path = segment_path(&self.dir, base);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let buf = fs::read(&path).map_err(io_err("read", &path))?;
        let mut entries: Vec<Entry> = Vec::new();
        let mut pos = 0usize;
        let mut valid_end = 0usize;
        let mut skipped_bytes = 0usize;
        while pos < buf.len() {
            if pos as u64 >= MAX_SEGMENT_BYTES {
                // Not a file this queue wrote (its segments end below this): what follows
                // cannot be indexed, so it goes the way of a corrupt tail.
                skipped_bytes += buf.len() - pos;
                break;
            }
            let expected = base + entries.len() as u64;
            let parsed = frame_at(&buf, pos).and_then(|(body, total)| {
                let body = decode_body(body)?;
                match body {
                    Body::Data { seq, .. } if seq < expected => None,
                    Body::Data { seq, .. } if seq - expected > MAX_SEQ_GAP => None,
                    _ => Some((body, total)),
                }
            });
            let Some((body, total)) = parsed else {
                pos += 1;
                skipped_bytes += 1;
                continue;
            };
            if skipped_bytes > 0 {
                warn!(
                    path = %path.display(),
                    offset = pos - skipped_bytes,
                    bytes = skipped_bytes,
                    "MQTT queue: skipped corrupt bytes (CRC mismatch or torn record)"
                );
                skipped_bytes = 0;
            }
            match body {
                Body::Data { seq, qos, .. } => {
                    if seq > expected {
                        let lost = seq - expected;
                        warn!(path = %path.display(), lost, "MQTT queue: records lost to corruption");
                        self.corrupt += lost;
                        entries.extend((0..lost).map(|_| Entry::lost()));
                    }
                    entries.push(Entry::new(pos as u64, total as u64, State::Pending, qos));
                }
                Body::Ack { first, count } => acks.push((first, count)),
            }
            pos += total;
            valid_end = pos;
        }
        if skipped_bytes > 0 {
            warn!(
                path = %path.display(),
                offset = valid_end,
                bytes = skipped_bytes,
                "MQTT queue: skipped torn or corrupt tail"
            );
            if is_last {
                file.set_len(valid_end as u64)
                    .map_err(io_err("truncate", &path))?;
            }
        }
        Ok(Segment {
            base,
            path,
            file,
            size: if is_last { valid_end } else { buf.len() } as u64,
            entries,
            live: 0,
            cold: None,
        })
    }

    fn segment_index(&self, seq: u64) -> Option<usize> {
        let i = self.segments.partition_point(|s| s.base <= seq);
        let i = i.checked_sub(1)?;
        (seq < self.segments[i].end_seq()).then_some(i)
    }

    fn entry_mut(&mut self, seq: u64) -> Option<&mut Entry> {
        let i = self.segment_index(seq)?;
        let segment = &mut self.segments[i];
        segment.entries.get_mut((seq - segment.base) as usize)
    }

    fn first_live_seq(&self) -> u64 {
        for segment in &self.segments {
            if segment.cold.is_some() {
                return segment.base;
            }
            if segment.live > 0 {
                for (i, entry) in segment.entries.iter().enumerate() {
                    if entry.state() != State::Done {
                        return segment.base + i as u64;
                    }
                }
            }
        }
        self.next_seq
    }

    fn new_segment(&mut self) -> Result<(), StoreError> {
        self.read_ahead.get_mut().forget(); // the file may replace one of the same name
        let path = segment_path(&self.dir, self.next_seq);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        // The new name is durable with the next sync (at once under `always`: the append
        // that rotated syncs before it returns).
        self.dir_unsynced |= self.opts.fsync != FsyncPolicy::Never;
        self.segments.push_back(Segment {
            base: self.next_seq,
            path,
            file,
            size: 0,
            entries: Vec::new(),
            live: 0,
            cold: None,
        });
        Ok(())
    }

    /// Deletes fully done segments from the oldest end, never the active (last) one.
    fn compact(&mut self) -> Result<(), StoreError> {
        while self.segments.len() > 1 && self.segments[0].live == 0 {
            if let Some(segment) = self.segments.pop_front() {
                self.read_ahead.get_mut().forget();
                fs::remove_file(&segment.path).map_err(io_err("delete", &segment.path))?;
                debug!(path = %segment.path.display(), "MQTT queue: segment compacted");
            }
        }
        Ok(())
    }

    /// Releases the entries of segment `i` ([`Cold`]) when every record in it is pending and
    /// the sender has not reached it: a closed segment behind a backlog. Its bytes must all be
    /// in the file (no staged write).
    fn cool(&mut self, i: usize) {
        let cursor = self.cursor;
        let Some(segment) = self.segments.get_mut(i) else {
            return;
        };
        if segment.cold.is_some()
            || segment.entries.is_empty()
            || cursor >= segment.base
            || segment.live != segment.entries.len()
            || segment.entries.iter().any(|e| e.state() != State::Pending)
        {
            return;
        }
        let bytes = segment.entries.iter().map(|e| u64::from(e.len())).sum();
        segment.cold = Some(Cold {
            count: segment.entries.len() as u64,
            bytes,
        });
        segment.entries = Vec::new();
    }

    /// Reads the entries of segment `i` back from its file if it is cold. A record that no
    /// longer passes its CRC (the disk changed it) is counted as corrupt, as on open.
    fn warm(&mut self, i: usize) -> Result<(), StoreError> {
        let Some(cold) = self.segments.get(i).and_then(|s| s.cold) else {
            return Ok(());
        };
        let base = self.segments[i].base;
        let mut entries = match self.scan_entries(i)? {
            Some(entries) => entries,
            None => {
                // Not as written: the scan of `open`, which resynchronises past damage.
                let corrupt = self.corrupt;
                let loaded = self.load_segment(base, false, &mut Vec::new())?;
                self.corrupt = corrupt;
                // A file cut short is read up to its new end from now on.
                let segment = &mut self.segments[i];
                segment.size = segment.size.min(loaded.size);
                self.read_ahead.get_mut().forget();
                loaded.entries
            }
        };
        let count = usize::try_from(cold.count).unwrap_or(usize::MAX);
        entries.truncate(count);
        entries.resize(count, Entry::lost());
        let (found, bytes) = entries
            .iter()
            .filter(|e| e.state() == State::Pending)
            .fold((0, 0), |(n, b), e| (n + 1, b + u64::from(e.len())));
        let lost = count - found;
        let segment = &mut self.segments[i];
        if lost > 0 {
            warn!(
                path = %segment.path.display(),
                lost,
                "MQTT queue: records lost to corruption (found reading a segment back)"
            );
        }
        segment.entries = entries;
        segment.cold = None;
        segment.live -= lost;
        self.pending -= lost as u64;
        self.corrupt += lost as u64;
        self.queued_bytes = self.queued_bytes.saturating_sub(cold.bytes) + bytes;
        Ok(())
    }

    /// The entries of segment `i` as its file holds them, read in [`READ_AHEAD`] pieces; `None`
    /// at the first record that is not a valid record in sequence (for `load_segment`).
    fn scan_entries(&self, i: usize) -> Result<Option<Vec<Entry>>, StoreError> {
        let segment = &self.segments[i];
        #[cfg(test)]
        if self.stage.fail_reads {
            let e = io::Error::other("test: disk failure");
            return Err(io_err("read", &segment.path)(e));
        }
        let size = usize::try_from(segment.size).unwrap_or(usize::MAX);
        let mut entries = Vec::new();
        let (mut buf, mut start) = (Vec::new(), 0usize);
        let mut pos = 0usize;
        while pos < size {
            // Record `pos` needs its header, then its body, in `buf` (file bytes from `start`).
            let mut need = RECORD_HEADER as usize;
            loop {
                if pos + need > size {
                    return Ok(None);
                }
                if pos + need > start + buf.len() {
                    let want = need.max(READ_AHEAD).min(size - pos);
                    buf.resize(want, 0);
                    match segment.file.read_exact_at(&mut buf, pos as u64) {
                        Ok(()) => {}
                        // Shorter than written: cut by something else, damage as any other.
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                        Err(e) => return Err(io_err("read", &segment.path)(e)),
                    }
                    start = pos;
                }
                if need > RECORD_HEADER as usize {
                    break;
                }
                match le_u32(&buf[pos - start..]) {
                    Some(len) if len > 0 && u64::from(len) <= MAX_RECORD_BODY => {
                        need += len as usize;
                    }
                    _ => return Ok(None),
                }
            }
            let expected = segment.base + entries.len() as u64;
            match frame_at(&buf, pos - start)
                .and_then(|(body, total)| Some((decode_body(body)?, total)))
            {
                Some((Body::Data { seq, qos, .. }, total)) if seq == expected => {
                    entries.push(Entry::new(pos as u64, total as u64, State::Pending, qos));
                }
                Some((Body::Ack { .. }, _)) => {}
                _ => return Ok(None),
            }
            pos += need;
        }
        Ok(Some(entries))
    }

    /// Marks `seq` done (without counting it as acked) and remembers to persist that: its state
    /// before, `None` for a record not in the queue or already done. Reads a cold segment's
    /// entries back first, which can fail ([`Store::warm`]).
    fn finish(&mut self, seq: u64) -> Result<Option<State>, StoreError> {
        let Some(i) = self.segment_index(seq) else {
            return Ok(None);
        };
        self.warm(i)?;
        let segment = &mut self.segments[i];
        let Some(entry) = segment.entries.get_mut((seq - segment.base) as usize) else {
            return Ok(None);
        };
        let was = entry.state();
        if was == State::Done {
            return Ok(None);
        }
        entry.set_state(State::Done);
        segment.live -= 1;
        self.queued_bytes -= u64::from(entry.len());
        match was {
            State::Pending => self.pending -= 1,
            State::Inflight => self.inflight -= 1,
            State::Done => {}
        }
        match self.ack_runs.last_mut() {
            Some((first, count)) if *first + u64::from(*count) == seq && *count < u32::MAX => {
                *count += 1
            }
            _ => self.ack_runs.push((seq, 1)),
        }
        Ok(Some(was))
    }

    /// Appends a message; it is durable per the fsync policy when this returns. With
    /// `drop-oldest` older records may be dropped to make room (reported in [`Appended`]).
    pub fn append(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        now: Instant,
    ) -> Result<Appended, StoreError> {
        self.append_with(topic, payload, qos, retain, None, now)
    }

    /// [`Store::append`] with MQTT 5 properties and the accept time stored in the record (a
    /// record without them keeps the original format).
    fn append_with(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        ext: Option<Extension<'_>>,
        now: Instant,
    ) -> Result<Appended, StoreError> {
        if topic.len() > usize::from(u16::MAX) {
            return Err(StoreError::TopicTooLong(topic.len()));
        }
        let ext = ext.filter(|e| !e.properties.is_empty());
        let ext_len = ext.map_or(0, |e| e.encoded_len());
        let size = RECORD_HEADER + (DATA_FIXED + topic.len() + ext_len + payload.len()) as u64;
        let limit = self.opts.cap_bytes.min(RECORD_HEADER + MAX_RECORD_BODY);
        if size > limit {
            return Err(StoreError::TooLarge { size, cap: limit });
        }
        let mut dropped = 0;
        if self.queued_bytes + size > self.opts.cap_bytes {
            match self.opts.on_full {
                FullPolicy::RejectNew => {
                    self.rejected += 1;
                    return Err(StoreError::Full {
                        queued: self.queued_bytes,
                        needed: size,
                        cap: self.opts.cap_bytes,
                    });
                }
                FullPolicy::DropOldest => {
                    let mut seq = self.first_live_seq();
                    let mut unreadable = None;
                    while self.queued_bytes + size > self.opts.cap_bytes && seq < self.next_seq {
                        match self.finish(seq) {
                            Ok(Some(_)) => dropped += 1,
                            Ok(None) => {}
                            Err(e) => {
                                unreadable = Some(e);
                                break;
                            }
                        }
                        seq += 1;
                    }
                    // Counted also when a cold segment could not be read back to go on.
                    self.dropped += dropped;
                    warn!(dropped, "MQTT queue full: dropped the oldest messages");
                    if let Some(e) = unreadable {
                        return Err(e);
                    }
                }
            }
        }

        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        if dropped > 0 {
            for (first, count) in self.ack_runs.drain(..) {
                encode_ack(&mut buf, first, count);
            }
        }
        let seq = self.next_seq;
        let active_size = self.segments.back().map_or(0, |s| s.size);
        let needs_rotation = self.segments.back().is_none_or(|s| !s.entries.is_empty())
            && active_size + buf.len() as u64 + size > self.opts.segment_bytes;
        if needs_rotation {
            // Acks written into the old segment stay valid: compaction only deletes from the front.
            if !buf.is_empty() {
                self.write_active(&buf)?;
                buf.clear();
            }
            self.flush_stage()?;
            self.new_segment()?;
            // Everything the closed segment holds is on disk now (the stage is flushed).
            self.cool(self.segments.len().saturating_sub(2));
        }
        let offset = self.segments.back().map_or(0, |s| s.size) + buf.len() as u64;
        encode_data(&mut buf, seq, topic, payload, (qos, retain), ext);
        let result = self.write_active(&buf);
        self.scratch = buf;
        result?;
        if let Some(segment) = self.segments.back_mut() {
            segment
                .entries
                .push(Entry::new(offset, size, State::Pending, qos));
            segment.live += 1;
        }
        if self.stage.active {
            self.stage.records.push((seq, size));
        }
        self.next_seq += 1;
        self.pending += 1;
        self.queued_bytes += size;
        if !self.stage.active && self.opts.fsync == FsyncPolicy::Always {
            self.sync_now(now)?;
        }
        self.compact()?;
        let dropped = dropped + self.bound_disk_use()?;
        Ok(Appended { seq, dropped })
    }

    /// Most bytes the segment files may take: twice the cap plus two segments of slack.
    fn disk_budget(&self) -> u64 {
        self.opts
            .cap_bytes
            .saturating_mul(2)
            .saturating_add(self.opts.segment_bytes.saturating_mul(2))
    }

    /// Compaction only deletes segments from the oldest end, so a record that is never
    /// acknowledged (while everything after it is) would pin every later segment on disk.
    /// Past the disk budget the oldest segment's remaining records are dropped (counted, with
    /// a warning), whatever the full policy. Returns how many were dropped.
    fn bound_disk_use(&mut self) -> Result<u64, StoreError> {
        let mut dropped = 0;
        while self.segments.len() > 1
            && self.segments.iter().map(|s| s.size).sum::<u64>() > self.disk_budget()
        {
            // Warm first, so that nothing below fails before the drops are counted.
            self.warm(0)?;
            let (base, end) = (self.segments[0].base, self.segments[0].end_seq());
            let mut here = 0;
            for seq in base..end {
                if self.finish(seq)?.is_some() {
                    here += 1;
                }
            }
            warn!(
                dropped = here,
                budget = self.disk_budget(),
                "MQTT queue files over budget (a message is never acknowledged?): dropped the oldest segment's messages"
            );
            // Counted at once: a failure below (or of the next segment's read-back) returns early.
            dropped += here;
            self.dropped += here;
            self.flush_acks()?;
            self.compact()?;
        }
        if self.cursor < self.segments.front().map_or(self.next_seq, |s| s.base) {
            self.cursor = self.first_live_seq();
        }
        Ok(dropped)
    }

    fn write_active(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let Some(segment) = self.segments.back_mut() else {
            return Ok(());
        };
        if self.stage.active {
            if self.stage.buf.is_empty() {
                self.stage.start = segment.size;
            }
            self.stage.buf.extend_from_slice(bytes);
            segment.size += bytes.len() as u64;
            let base = segment.base;
            self.unsynced_from.get_or_insert(base);
            return Ok(());
        }
        if let Err(e) = segment.file.write_all_at(bytes, segment.size) {
            // Cut off whatever part was written so the file ends on a record boundary.
            let _ = segment.file.set_len(segment.size);
            self.read_ahead.get_mut().forget();
            return Err(io_err("write", &segment.path)(e));
        }
        segment.size += bytes.len() as u64;
        let base = segment.base;
        self.unsynced_from.get_or_insert(base);
        Ok(())
    }

    /// Writes what [`Store::append_many`] staged. On failure the file is cut back, the staged
    /// records are taken out again (their sequence numbers reused) and
    /// `stage.rolled_back_from` says from which one.
    fn flush_stage(&mut self) -> Result<(), StoreError> {
        let Some(segment) = self.segments.back_mut() else {
            return Ok(());
        };
        if self.stage.buf.is_empty() {
            self.stage.records.clear();
            return Ok(());
        }
        let result = segment.file.write_all_at(&self.stage.buf, self.stage.start);
        #[cfg(test)]
        let result = match self.stage.fail_nth {
            0 => result,
            1 => {
                self.stage.fail_nth = 0;
                Err(io::Error::other("test: disk failure"))
            }
            n => {
                self.stage.fail_nth = n - 1;
                result
            }
        };
        self.stage.buf.clear();
        let records = std::mem::take(&mut self.stage.records);
        let Err(e) = result else {
            return Ok(());
        };
        let _ = segment.file.set_len(self.stage.start);
        segment.size = self.stage.start;
        self.read_ahead.get_mut().forget();
        let path = segment.path.clone();
        let first = records.first().map_or(self.next_seq, |&(seq, _)| seq);
        for &(_, size) in records.iter().rev() {
            if let Some(entry) = segment.entries.pop() {
                if entry.state() != State::Done {
                    segment.live -= 1;
                    self.queued_bytes -= size;
                    match entry.state() {
                        State::Pending => self.pending -= 1,
                        State::Inflight => self.inflight -= 1,
                        State::Done => {}
                    }
                }
            }
        }
        self.next_seq = first;
        self.cursor = self.cursor.min(first);
        // Acks of rolled-back records (dropped within the batch) must not mark their
        // sequence numbers, which the next records reuse, as done.
        self.ack_runs.retain_mut(|(start, count)| {
            if *start >= first {
                return false;
            }
            *count = (*count).min((first - *start) as u32);
            true
        });
        while self.recent.back().is_some_and(|r| r.seq >= first) {
            self.forget_recent_back();
        }
        self.stage.rolled_back_from = Some(first);
        Err(io_err("write", &path)(e))
    }

    /// Appends a batch with one file write (and at most one fsync) instead of one per
    /// message; each message gets its own result, as from [`Store::append`]. A failed write
    /// fails every message it carried.
    pub fn append_many(
        &mut self,
        items: impl IntoIterator<Item = NewMessage>,
        now: Instant,
    ) -> Vec<Result<Appended, StoreError>> {
        let mut results: Vec<Result<Appended, StoreError>> = Vec::new();
        self.stage.active = true;
        for item in items {
            self.stage.rolled_back_from = None;
            let properties = item.properties.filter(|p| !p.is_empty());
            let ext = properties.as_deref().map(|properties| Extension {
                properties,
                accepted_unix_ms: item.accepted_unix_ms,
            });
            let result =
                self.append_with(&item.topic, &item.payload, item.qos, item.retain, ext, now);
            match &result {
                Ok(appended) => {
                    let accepted_unix_ms = if properties.is_some() {
                        item.accepted_unix_ms
                    } else {
                        0
                    };
                    self.remember(Record {
                        seq: appended.seq,
                        topic: item.topic,
                        payload: item.payload,
                        qos: item.qos,
                        retain: item.retain,
                        properties,
                        accepted_unix_ms,
                    })
                }
                // A rotation's write failed: the batch's earlier records went with it.
                Err(e) => fail_from(&mut results, self.stage.rolled_back_from, e),
            }
            results.push(result);
        }
        self.stage.active = false;
        self.stage.rolled_back_from = None;
        if let Err(e) = self.flush_stage() {
            fail_from(&mut results, self.stage.rolled_back_from, &e);
        }
        // Under `always` even after a failed write: the records before it (in a segment that a
        // rotation closed) are reported stored, so they must be on stable storage first.
        if self.opts.fsync == FsyncPolicy::Always {
            if let Err(e) = self.sync_now(now) {
                // Written but not synced: as with `append`, the messages stay queued.
                fail_from(&mut results, Some(0), &e);
            }
        }
        results
    }

    /// Keeps a just-appended record in memory for `next_to_send` while it fits.
    fn remember(&mut self, record: Record) {
        let size = record.topic.len() + record.payload.len();
        // Once one record did not fit, later ones wait until the kept ones are handed out:
        // what is kept stays contiguous, so `take_recent` finds records in order.
        let contiguous = self.recent.back().is_none_or(|r| r.seq + 1 == record.seq);
        if contiguous && self.recent_bytes + size <= RECENT_BYTES {
            self.recent_bytes += size;
            self.recent.push_back(record);
        }
    }

    fn forget_recent_back(&mut self) {
        if let Some(r) = self.recent.pop_back() {
            self.recent_bytes -= r.topic.len() + r.payload.len();
        }
    }

    /// The in-memory copy of record `seq`, if it is the oldest one kept (older ones were sent
    /// or dropped and are forgotten on the way).
    fn take_recent(&mut self, seq: u64) -> Option<Record> {
        while let Some(front) = self.recent.front() {
            if front.seq > seq {
                return None;
            }
            let r = self.recent.pop_front()?;
            self.recent_bytes -= r.topic.len() + r.payload.len();
            if r.seq == seq {
                return Some(r);
            }
        }
        None
    }

    /// Whether the policy wants an fdatasync at `now` (if anything is unsynced).
    fn sync_due(&self, now: Instant) -> bool {
        match self.opts.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Batch(every) => now.saturating_duration_since(self.last_sync) >= every,
            FsyncPolicy::Never => false,
        }
    }

    /// Written data (or a created segment name) not yet synced.
    fn is_dirty(&self) -> bool {
        self.unsynced_from.is_some() || self.dir_unsynced
    }

    /// Takes out the fdatasync work there is: every segment file written since the last sync
    /// and the directory if a segment was created. The store counts it as synced from here; if
    /// the job fails, [`Store::sync_failed`] makes the next sync cover it again.
    fn take_sync(&mut self, now: Instant) -> Result<Option<SyncJob>, StoreError> {
        if !self.is_dirty() {
            return Ok(None);
        }
        let mut files = Vec::new();
        if let Some(from) = self.unsynced_from {
            for segment in self.segments.iter().filter(|s| s.base >= from) {
                let file = segment
                    .file
                    .try_clone()
                    .map_err(io_err("fsync", &segment.path))?;
                files.push((segment.path.clone(), file));
            }
        }
        let dir = match self.dir_unsynced {
            true => Some((
                self.dir.clone(),
                File::open(&self.dir).map_err(io_err("sync directory", &self.dir))?,
            )),
            false => None,
        };
        self.unsynced_from = None;
        self.dir_unsynced = false;
        self.last_sync = now;
        Ok(Some(SyncJob { files, dir }))
    }

    /// A [`SyncJob`] taken from this store failed: everything it may have covered counts as
    /// unsynced again, so the next sync covers it. (After a failed fdatasync Linux may have
    /// dropped the dirty pages, so a later success proves less than it seems; the failure is
    /// what the caller reports.)
    pub fn sync_failed(&mut self) {
        self.unsynced_from = self.segments.front().map(|s| s.base);
        self.dir_unsynced = self.opts.fsync != FsyncPolicy::Never;
    }

    /// Runs the sync work there is on this thread.
    fn sync_now(&mut self, now: Instant) -> Result<(), StoreError> {
        let Some(job) = self.take_sync(now)? else {
            return Ok(());
        };
        #[cfg(test)]
        let paths: Vec<PathBuf> = job.files.iter().map(|(p, _)| p.clone()).collect();
        job.run().inspect_err(|_| self.sync_failed())?;
        #[cfg(test)]
        self.synced.extend(paths);
        Ok(())
    }

    /// Writes the buffered acks (they are synced with the next sync): for a caller whose sync
    /// job is still running.
    pub fn persist_acks(&mut self) -> Result<(), StoreError> {
        self.flush_acks()
    }

    fn flush_acks(&mut self) -> Result<(), StoreError> {
        if self.ack_runs.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        for (first, count) in self.ack_runs.drain(..) {
            encode_ack(&mut buf, first, count);
        }
        let result = self.write_active(&buf);
        self.scratch = buf;
        result
    }

    /// Periodic work driven by the caller's clock: persists buffered acks and runs the batch
    /// fsync when its interval has passed.
    pub fn tick(&mut self, now: Instant) -> Result<(), StoreError> {
        self.flush_acks()?;
        match self.sync_due(now) {
            true => self.sync_now(now),
            false => Ok(()),
        }
    }

    /// [`Store::tick`] with the fdatasync handed back instead of run: the caller runs the job
    /// on another thread (and reports a failure with [`Store::sync_failed`]) while it goes on
    /// appending and sending. Acks are written here, synced with the job. Under `always` the
    /// sync runs here and no job comes back: a sync running elsewhere at the same time could
    /// take the write error an append must report (Linux reports it once per open file, and a
    /// job's descriptors share it).
    pub fn tick_job(&mut self, now: Instant) -> Result<Option<SyncJob>, StoreError> {
        if self.opts.fsync == FsyncPolicy::Always {
            return self.tick(now).map(|()| None);
        }
        self.flush_acks()?;
        match self.sync_due(now) {
            true => self.take_sync(now),
            false => Ok(None),
        }
    }

    /// Persists buffered acks and fsyncs now, whatever the policy says.
    pub fn sync(&mut self, now: Instant) -> Result<(), StoreError> {
        self.flush_acks()?;
        self.sync_now(now)
    }

    /// Whether [`Store::tick`] / [`Store::tick_job`] has work, now or once the interval has
    /// passed: buffered acks, or written data not yet synced (`batch`; `always` for the acks'
    /// own writes). When false, the caller's clock need not run: an idle gateway's queue has
    /// nothing to do until the next append or ack.
    pub fn wants_tick(&self) -> bool {
        !self.ack_runs.is_empty() || (self.opts.fsync != FsyncPolicy::Never && self.is_dirty())
    }

    /// When `tick` next has work to do under the `batch` policy: one interval after the last
    /// sync, while [`Store::wants_tick`]. For the tests' checks of the policy; the worker runs
    /// an interval timer of `fsync_interval` instead, armed while `wants_tick`.
    #[cfg(test)]
    pub fn sync_deadline(&self) -> Option<Instant> {
        match self.opts.fsync {
            FsyncPolicy::Batch(every) if self.wants_tick() => Some(self.last_sync + every),
            _ => None,
        }
    }

    /// Moves the cursor to the oldest pending record: (segment index, seq). Its segment is
    /// warm afterwards ([`Store::warm`]).
    fn seek_pending(&mut self) -> Result<Option<(usize, u64)>, StoreError> {
        while self.pending > 0 && self.cursor < self.next_seq {
            let seq = self.cursor;
            let Some(i) = self.segment_index(seq) else {
                // A gap between segments or a compacted segment: jump to the next one.
                let next = self.segments.partition_point(|s| s.base <= seq);
                self.cursor = match self.segments.get(next) {
                    Some(segment) => segment.base.max(seq + 1),
                    None => self.next_seq,
                };
                continue;
            };
            self.warm(i)?;
            let segment = &self.segments[i];
            if segment.entries[(seq - segment.base) as usize].state() == State::Pending {
                return Ok(Some((i, seq)));
            }
            self.cursor += 1;
        }
        Ok(None)
    }

    /// Sequence number and QoS of the record `next_to_send` would hand out, without reading
    /// it (lets the caller apply per-QoS limits while keeping the order). Fails when a cold
    /// segment cannot be read back ([`Store::warm`]).
    pub fn peek_next(&mut self) -> Result<Option<(u64, QoS)>, StoreError> {
        let Some((i, seq)) = self.seek_pending()? else {
            return Ok(None);
        };
        let segment = &self.segments[i];
        Ok(Some((
            seq,
            segment.entries[(seq - segment.base) as usize].qos(),
        )))
    }

    /// Hands out the oldest pending record (now in flight), reading it back from disk.
    /// Records that fail their CRC on the way back are counted as corrupt and skipped.
    pub fn next_to_send(&mut self) -> Result<Option<Record>, StoreError> {
        while let Some((i, seq)) = self.seek_pending()? {
            self.cursor = seq + 1;
            if let Some(record) = self.take_recent(seq) {
                if let Some(entry) = self.entry_mut(seq) {
                    entry.set_state(State::Inflight);
                }
                self.pending -= 1;
                self.inflight += 1;
                return Ok(Some(record));
            }
            let record = self.read_record(i, seq)?;
            match record {
                Some(record) => {
                    if let Some(entry) = self.entry_mut(seq) {
                        entry.set_state(State::Inflight);
                    }
                    self.pending -= 1;
                    self.inflight += 1;
                    return Ok(Some(record));
                }
                None => {
                    warn!(
                        path = %self.segments[i].path.display(),
                        seq,
                        "MQTT queue: record corrupt on read-back (CRC mismatch), skipped"
                    );
                    self.finish(seq)?;
                    self.corrupt += 1;
                    self.compact()?;
                }
            }
        }
        Ok(None)
    }

    /// Reads record `seq` of segment `i` back from disk; `None` when it fails its CRC or does
    /// not decode.
    fn read_record(&self, i: usize, seq: u64) -> Result<Option<Record>, StoreError> {
        let segment = &self.segments[i];
        let entry = segment.entries[(seq - segment.base) as usize];
        let (offset, len) = (entry.offset(), entry.len() as usize);
        let mut window = self.read_ahead.borrow_mut();
        if window.get(segment.base, offset, len).is_none() {
            // This record and what follows it in the file, up to the segment's valid end (all
            // of which is on disk: nothing is read while a batch is being staged).
            let rest = usize::try_from(segment.size.saturating_sub(offset)).unwrap_or(usize::MAX);
            // Reuse the bytes of the last read (overwritten below) rather than zero-filling
            // 64 KiB again for every read-ahead; only a larger window zero-fills its new part.
            let want = len.max(READ_AHEAD.min(rest));
            window.bytes.truncate(want);
            window.bytes.resize(want, 0);
            if let Err(e) = segment.file.read_exact_at(&mut window.bytes, offset) {
                window.forget();
                return Err(io_err("read", &segment.path)(e));
            }
            window.base = segment.base;
            window.offset = offset;
        }
        let Some(buf) = window.get(segment.base, offset, len) else {
            // Not after the read above (it holds at least `len` bytes from `offset`).
            let e = io::Error::from(io::ErrorKind::UnexpectedEof);
            return Err(io_err("read", &segment.path)(e));
        };
        Ok(
            frame_at(buf, 0).and_then(|(body, _)| match decode_body(body)? {
                Body::Data {
                    seq: s,
                    qos,
                    retain,
                    topic,
                    payload,
                    ext,
                } if s == seq => {
                    let (properties, accepted_unix_ms) = match ext {
                        Some((accepted, encoded)) => {
                            (Some(Box::new(props::decode(encoded)?)), accepted)
                        }
                        None => (None, 0),
                    };
                    Some(Record {
                        seq,
                        topic: topic.to_owned(),
                        payload: payload.to_vec(),
                        qos,
                        retain,
                        properties,
                        accepted_unix_ms,
                    })
                }
                _ => None,
            }),
        )
    }

    /// The topic of record `seq` while it is not done (read back from disk), e.g. to name it
    /// when the broker refuses it. `None` too while its segment is cold (never in flight).
    pub fn topic_of(&self, seq: u64) -> Option<String> {
        let i = self.segment_index(seq)?;
        let segment = &self.segments[i];
        if segment.entries.get((seq - segment.base) as usize)?.state() == State::Done {
            return None;
        }
        self.read_record(i, seq).ok().flatten().map(|r| r.topic)
    }

    /// Completes record `seq` (broker ack, or QoS 0 written to the network). Out-of-order acks
    /// are fine. Returns false when the record is unknown or already done (e.g. dropped).
    pub fn ack(&mut self, seq: u64) -> Result<bool, StoreError> {
        if self.finish(seq)?.is_none() {
            return Ok(false);
        }
        self.acked += 1;
        if self.ack_runs.len() >= MAX_PENDING_ACK_RUNS {
            self.flush_acks()?;
        }
        self.compact()?;
        Ok(true)
    }

    /// Puts one in-flight record back to pending, to be handed out again in order.
    pub fn requeue(&mut self, seq: u64) -> bool {
        match self.entry_mut(seq) {
            Some(entry) if entry.state() == State::Inflight => {
                entry.set_state(State::Pending);
                self.inflight -= 1;
                self.pending += 1;
                self.cursor = self.cursor.min(seq);
                true
            }
            _ => false,
        }
    }

    /// Puts every in-flight record back to pending (the connection dropped); returns how many.
    pub fn requeue_all(&mut self) -> u64 {
        let mut moved = 0;
        for segment in &mut self.segments {
            if moved == self.inflight {
                break;
            }
            for entry in &mut segment.entries {
                if entry.state() == State::Inflight {
                    entry.set_state(State::Pending);
                    moved += 1;
                }
            }
        }
        self.inflight -= moved;
        self.pending += moved;
        self.cursor = self.first_live_seq();
        moved
    }

    /// Current counters.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            queued: self.pending,
            inflight: self.inflight,
            acked: self.acked,
            dropped: self.dropped,
            rejected: self.rejected,
            corrupt: self.corrupt,
            queued_bytes: self.queued_bytes,
            bytes_on_disk: self.segments.iter().map(|s| s.size).sum(),
            next_seq: self.next_seq,
        }
    }

    /// The directory holding the segment files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let result = if self.opts.fsync == FsyncPolicy::Never {
            self.flush_acks()
        } else {
            self.sync(Instant::now())
        };
        if let Err(e) = result {
            warn!(error = %e, "MQTT queue: could not persist state on close");
        }
    }
}

// After every other impl block of this module: a new impl before them renumbers theirs (rustc
// disambiguates impls by position), which renames their symbols out of cross/link-order.txt.
impl Entry {
    /// `offset` must be below [`MAX_SEGMENT_BYTES`] and `len` at most a whole record
    /// (callers check both; see [`Store::load_segment`]).
    fn new(offset: u64, len: u64, state: State, qos: QoS) -> Entry {
        // Checked at compile time, inside this function: module-level `const _` items would
        // renumber the anonymous items after them (and rename their symbols, see above).
        const {
            assert!(MAX_SEGMENT_BYTES <= ENTRY_VALUE as u64 + 1);
            assert!(RECORD_HEADER + MAX_RECORD_BODY <= ENTRY_VALUE as u64);
        }
        debug_assert!(offset <= u64::from(ENTRY_VALUE) && len <= u64::from(ENTRY_VALUE));
        let mut entry = Entry {
            offset_state: offset as u32 & ENTRY_VALUE,
            len_qos: (len as u32 & ENTRY_VALUE) | u32::from(qos.as_u8()) << 30,
        };
        entry.set_state(state);
        entry
    }

    /// A record lost to corruption: nothing to read, never sent.
    fn lost() -> Entry {
        Entry::new(0, 0, State::Done, QoS::AtMostOnce)
    }

    fn offset(self) -> u64 {
        u64::from(self.offset_state & ENTRY_VALUE)
    }

    fn len(self) -> u32 {
        self.len_qos & ENTRY_VALUE
    }

    fn state(self) -> State {
        match self.offset_state >> 30 {
            0 => State::Pending,
            1 => State::Inflight,
            _ => State::Done,
        }
    }

    fn set_state(&mut self, state: State) {
        let bits = match state {
            State::Pending => 0,
            State::Inflight => 1,
            State::Done => 2,
        };
        self.offset_state = (self.offset_state & ENTRY_VALUE) | bits << 30;
    }

    fn qos(self) -> QoS {
        match self.len_qos >> 30 {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(cap: u64, on_full: FullPolicy) -> StoreOptions {
        StoreOptions {
            cap_bytes: cap,
            on_full,
            fsync: FsyncPolicy::Never,
            segment_bytes: 1024,
        }
    }

    /// A store in `dir` with a 1 MiB cap that rejects new records when full.
    fn open_plain(dir: &Path) -> Store {
        Store::open(dir, opts(1 << 20, FullPolicy::RejectNew), Instant::now()).expect("open")
    }

    /// Size with framing of a record with `topic` and `payload`.
    fn rec_size(topic: &str, payload: &[u8]) -> u64 {
        RECORD_HEADER + (DATA_FIXED + topic.len() + payload.len()) as u64
    }

    fn drain(store: &mut Store) -> Vec<Record> {
        let mut out = Vec::new();
        while let Some(r) = store.next_to_send().expect("read") {
            out.push(r);
        }
        out
    }

    fn seqs(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .expect("ls")
            .map(|e| e.expect("entry").path())
            .collect();
        v.sort();
        v
    }

    fn fill(store: &mut Store, n: u64, qos: QoS) {
        for i in 0..n {
            store
                .append(
                    "t/x",
                    format!("m{i:04}").as_bytes(),
                    qos,
                    false,
                    Instant::now(),
                )
                .expect("append");
        }
    }

    #[test]
    fn entries_pack_offset_length_state_and_qos_into_8_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 8);
        let big_offset = MAX_SEGMENT_BYTES - 1;
        let big_len = RECORD_HEADER + MAX_RECORD_BODY;
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for state in [State::Pending, State::Inflight, State::Done] {
                for (offset, len) in [(0, 0), (1, 9), (big_offset, big_len)] {
                    let mut e = Entry::new(offset, len, state, qos);
                    assert_eq!(
                        (e.offset(), u64::from(e.len()), e.state(), e.qos()),
                        (offset, len, state, qos)
                    );
                    // A state change leaves the rest as it was.
                    for next in [State::Done, State::Pending, State::Inflight] {
                        e.set_state(next);
                        assert_eq!(
                            (e.offset(), u64::from(e.len()), e.state(), e.qos()),
                            (offset, len, next, qos)
                        );
                    }
                }
            }
        }
        let lost = Entry::lost();
        assert_eq!((lost.len(), lost.state()), (0, State::Done));
    }

    #[test]
    fn append_read_ack_roundtrip() {
        let dir = tempfile::tempdir().expect("tmp");
        let now = Instant::now();
        let mut s =
            Store::open(dir.path(), opts(1 << 20, FullPolicy::RejectNew), now).expect("open");
        let a = s
            .append("a/b", b"hello", QoS::AtLeastOnce, true, now)
            .expect("append");
        let b = s
            .append("c", b"", QoS::AtMostOnce, false, now)
            .expect("append");
        assert_eq!((a.seq, b.seq, a.dropped), (1, 2, 0));
        assert_eq!(s.stats().queued, 2);
        let r = s.next_to_send().expect("read").expect("some");
        assert_eq!(
            r,
            Record {
                seq: 1,
                topic: "a/b".into(),
                payload: b"hello".to_vec(),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: None,
                accepted_unix_ms: 0,
            }
        );
        let r2 = s.next_to_send().expect("read").expect("some");
        assert_eq!((r2.seq, r2.qos, r2.retain), (2, QoS::AtMostOnce, false));
        assert!(s.next_to_send().expect("read").is_none());
        let st = s.stats();
        assert_eq!((st.queued, st.inflight), (0, 2));
        // Out-of-order acks.
        assert!(s.ack(2).expect("ack"));
        assert!(s.ack(1).expect("ack"));
        assert!(!s.ack(1).expect("ack"), "double ack is refused");
        assert!(!s.ack(99).expect("ack"), "unknown seq");
        let st = s.stats();
        assert_eq!(
            (st.queued, st.inflight, st.acked, st.queued_bytes),
            (0, 0, 2, 0)
        );
    }

    #[test]
    fn restart_replays_unacked_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let mut s = open_plain(dir.path());
            fill(&mut s, 100, QoS::AtLeastOnce);
            let out = drain(&mut s);
            assert_eq!(out.len(), 100);
            for seq in [1, 2, 3, 50, 51, 99] {
                assert!(s.ack(seq).expect("ack"));
            }
            // Dropped without an explicit sync: acks are persisted by Drop.
        }
        let mut s = open_plain(dir.path());
        let st = s.stats();
        assert_eq!((st.queued, st.inflight, st.next_seq), (94, 0, 101));
        let out = drain(&mut s);
        let expected: Vec<u64> = (4..=100).filter(|s| ![50, 51, 99].contains(s)).collect();
        assert_eq!(seqs(&out), expected);
        assert_eq!(out[0].payload, b"m0003");
        // New appends continue the sequence.
        let a = s
            .append("t", b"x", QoS::AtLeastOnce, false, Instant::now())
            .expect("append");
        assert_eq!(a.seq, 101);
    }

    #[test]
    fn restart_without_ack_persistence_replays_everything_unacked() {
        // Simulates a crash: acks still buffered in memory are lost (mem::forget skips Drop),
        // so already-acked records come back (duplicates), but nothing is lost.
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = open_plain(dir.path());
        fill(&mut s, 10, QoS::AtLeastOnce);
        drain(&mut s);
        s.ack(1).expect("ack");
        s.tick(Instant::now()).expect("tick"); // ack of 1 persisted
        s.ack(2).expect("ack"); // not persisted
        std::mem::forget(s);
        let mut s = open_plain(dir.path());
        assert_eq!(seqs(&drain(&mut s)), (2..=10).collect::<Vec<_>>());
    }

    #[test]
    fn requeue_replays_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = open_plain(dir.path());
        fill(&mut s, 10, QoS::AtLeastOnce);
        let first = drain(&mut s);
        assert_eq!(first.len(), 10);
        s.ack(3).expect("ack");
        s.ack(7).expect("ack");
        assert_eq!(s.requeue_all(), 8);
        assert_eq!(seqs(&drain(&mut s)), vec![1, 2, 4, 5, 6, 8, 9, 10]);
        assert!(s.requeue(9));
        assert!(s.requeue(4));
        assert!(!s.requeue(3), "done records are not requeued");
        assert_eq!(seqs(&drain(&mut s)), vec![4, 9]);
    }

    #[test]
    fn peek_shows_the_next_record_without_taking_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let now = Instant::now();
        let mut s =
            Store::open(dir.path(), opts(1 << 20, FullPolicy::RejectNew), now).expect("open");
        assert_eq!(s.peek_next().expect("peek"), None);
        s.append("a", b"1", QoS::ExactlyOnce, false, now)
            .expect("append");
        s.append("a", b"2", QoS::AtMostOnce, false, now)
            .expect("append");
        assert_eq!(s.peek_next().expect("peek"), Some((1, QoS::ExactlyOnce)));
        assert_eq!(
            s.peek_next().expect("peek"),
            Some((1, QoS::ExactlyOnce)),
            "peek does not consume"
        );
        assert_eq!(s.next_to_send().expect("read").map(|r| r.seq), Some(1));
        assert_eq!(s.peek_next().expect("peek"), Some((2, QoS::AtMostOnce)));
        drop(s);
        let mut s =
            Store::open(dir.path(), opts(1 << 20, FullPolicy::RejectNew), now).expect("reopen");
        assert_eq!(
            s.peek_next().expect("peek"),
            Some((1, QoS::ExactlyOnce)),
            "QoS known after a restart"
        );
    }

    #[test]
    fn segments_rotate_and_compact_when_fully_acked() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = open_plain(dir.path());
        let payload = [7u8; 200];
        for _ in 0..20 {
            s.append("t", &payload, QoS::AtLeastOnce, false, Instant::now())
                .expect("append");
        }
        let files = segment_files(dir.path()).len();
        assert!(files >= 4, "1024-byte segments rotate, got {files}");
        let out = drain(&mut s);
        // Ack everything but the last record: all segments but the active one go.
        for r in &out[..19] {
            s.ack(r.seq).expect("ack");
        }
        assert_eq!(segment_files(dir.path()).len(), 1);
        assert!(s.stats().bytes_on_disk <= 1024 + 64);
        s.ack(20).expect("ack");
        let st = s.stats();
        assert_eq!((st.queued, st.inflight, st.acked), (0, 0, 20));
        drop(s);
        let s = open_plain(dir.path());
        assert_eq!((s.stats().queued, s.stats().next_seq), (0, 21));
    }

    #[test]
    fn out_of_order_ack_blocks_compaction_only_until_acked() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = open_plain(dir.path());
        let payload = [1u8; 300];
        for _ in 0..9 {
            s.append("t", &payload, QoS::AtLeastOnce, false, Instant::now())
                .expect("append");
        }
        let before = segment_files(dir.path()).len();
        drain(&mut s);
        for seq in 2..=9 {
            s.ack(seq).expect("ack");
        }
        assert_eq!(
            segment_files(dir.path()).len(),
            before,
            "seq 1 pins the head"
        );
        s.ack(1).expect("ack");
        assert_eq!(segment_files(dir.path()).len(), 1);
    }

    #[test]
    fn cap_drop_oldest_counts_exactly() {
        let dir = tempfile::tempdir().expect("tmp");
        let one = rec_size("t/x", b"m0000");
        let mut s = Store::open(
            dir.path(),
            opts(10 * one, FullPolicy::DropOldest),
            Instant::now(),
        )
        .expect("open");
        let mut reported = 0;
        for i in 0..25u64 {
            let a = s
                .append(
                    "t/x",
                    format!("m{i:04}").as_bytes(),
                    QoS::AtLeastOnce,
                    false,
                    Instant::now(),
                )
                .expect("append");
            reported += a.dropped;
            assert_eq!(a.dropped, u64::from(i >= 10));
        }
        let st = s.stats();
        assert_eq!(
            (st.dropped, reported, st.queued, st.queued_bytes),
            (15, 15, 10, 10 * one)
        );
        let out = drain(&mut s);
        assert_eq!(seqs(&out), (16..=25).collect::<Vec<_>>());
        assert_eq!(out[0].payload, b"m0015");
        drop(s);
        // Drops are persisted: they do not come back after a restart.
        let mut s = Store::open(
            dir.path(),
            opts(10 * one, FullPolicy::DropOldest),
            Instant::now(),
        )
        .expect("reopen");
        assert_eq!(seqs(&drain(&mut s)), (16..=25).collect::<Vec<_>>());
    }

    #[test]
    fn cap_drop_oldest_big_record_drops_several() {
        let dir = tempfile::tempdir().expect("tmp");
        let one = rec_size("t", b"aaaa");
        let mut s = Store::open(
            dir.path(),
            opts(10 * one, FullPolicy::DropOldest),
            Instant::now(),
        )
        .expect("open");
        for _ in 0..10 {
            s.append("t", b"aaaa", QoS::AtMostOnce, false, Instant::now())
                .expect("append");
        }
        // Needs the room of 3 small records (2 * one + a bit).
        let big = vec![0u8; (2 * one) as usize + 1];
        let a = s
            .append("t", &big, QoS::AtLeastOnce, false, Instant::now())
            .expect("append");
        assert_eq!(a.dropped, 3);
        assert_eq!(s.stats().dropped, 3);
        assert_eq!(s.stats().queued, 8);
        // Bigger than the cap: refused whatever the policy.
        let huge = vec![0u8; (10 * one) as usize];
        assert!(matches!(
            s.append("t", &huge, QoS::AtLeastOnce, false, Instant::now()),
            Err(StoreError::TooLarge { .. })
        ));
        assert_eq!(s.stats().dropped, 3);
    }

    #[test]
    fn cap_drop_oldest_includes_inflight_and_ignores_late_ack() {
        let dir = tempfile::tempdir().expect("tmp");
        let one = rec_size("t/x", b"m0000");
        let mut s = Store::open(
            dir.path(),
            opts(3 * one, FullPolicy::DropOldest),
            Instant::now(),
        )
        .expect("open");
        fill(&mut s, 3, QoS::AtLeastOnce);
        assert_eq!(s.next_to_send().expect("read").map(|r| r.seq), Some(1));
        fill(&mut s, 1, QoS::AtLeastOnce);
        let st = s.stats();
        assert_eq!((st.dropped, st.inflight, st.queued), (1, 0, 3));
        assert!(
            !s.ack(1).expect("ack"),
            "ack of a dropped record is ignored"
        );
        assert_eq!(s.stats().acked, 0);
    }

    #[test]
    fn a_record_never_acked_does_not_pin_the_disk() {
        let dir = tempfile::tempdir().expect("tmp");
        let payload = [0u8; 100];
        let one = rec_size("t", &payload);
        let mut o = opts(5 * one, FullPolicy::RejectNew);
        o.segment_bytes = 4 * one; // 4 records per segment
        let mut s = Store::open(dir.path(), o, Instant::now()).expect("open");
        s.append("t", &payload, QoS::AtLeastOnce, false, Instant::now())
            .expect("append");
        let pinned = s.next_to_send().expect("read").expect("record");
        let mut dropped = 0;
        for _ in 0..200 {
            let a = s
                .append("t", &payload, QoS::AtLeastOnce, false, Instant::now())
                .expect("append");
            dropped += a.dropped;
            let r = s.next_to_send().expect("read").expect("record");
            s.ack(r.seq).expect("ack");
            assert!(s.stats().bytes_on_disk <= s.disk_budget() + one + 64);
        }
        assert_eq!(dropped, 1, "only the pinned record is given up");
        assert_eq!(s.stats().dropped, 1);
        assert!(!s.ack(pinned.seq).expect("ack"), "its late ack is ignored");
        assert_eq!(s.stats().queued + s.stats().inflight, 0);
    }

    #[test]
    fn cap_reject_new_counts_exactly() {
        let dir = tempfile::tempdir().expect("tmp");
        let one = rec_size("t/x", b"m0000");
        let mut s = Store::open(
            dir.path(),
            opts(10 * one, FullPolicy::RejectNew),
            Instant::now(),
        )
        .expect("open");
        let mut refused = 0;
        for i in 0..25u64 {
            match s.append(
                "t/x",
                format!("m{i:04}").as_bytes(),
                QoS::AtLeastOnce,
                false,
                Instant::now(),
            ) {
                Ok(a) => assert_eq!(a.dropped, 0),
                Err(StoreError::Full {
                    queued,
                    needed,
                    cap,
                }) => {
                    assert_eq!((queued, needed, cap), (10 * one, one, 10 * one));
                    refused += 1;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let st = s.stats();
        assert_eq!(
            (refused, st.rejected, st.dropped, st.queued),
            (15, 15, 0, 10)
        );
        // Acking frees room again.
        let out = drain(&mut s);
        assert_eq!(seqs(&out), (1..=10).collect::<Vec<_>>());
        s.ack(1).expect("ack");
        let a = s
            .append("t/x", b"m9999", QoS::AtLeastOnce, false, Instant::now())
            .expect("room after ack");
        assert_eq!(
            a.seq, 11,
            "rejected appends do not consume sequence numbers"
        );
        assert!(s
            .append("t/x", b"m9999", QoS::AtLeastOnce, false, Instant::now())
            .is_err());
        assert_eq!(s.stats().rejected, 16);
    }

    /// Byte offset of the start of record number `index` (0-based) of a single-segment file.
    fn record_offset(file: &[u8], index: usize) -> usize {
        let mut pos = 0;
        for _ in 0..index {
            let len = u32::from_le_bytes(file[pos..pos + 4].try_into().expect("4")) as usize;
            pos += 8 + len;
        }
        pos
    }

    fn only_segment(dir: &Path) -> PathBuf {
        let files = segment_files(dir);
        assert_eq!(files.len(), 1);
        files[0].clone()
    }

    #[test]
    fn truncated_tail_is_skipped_and_rest_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let mut s = open_plain(dir.path());
            fill(&mut s, 5, QoS::AtLeastOnce);
        }
        let path = only_segment(dir.path());
        let bytes = fs::read(&path).expect("read");
        let cut = record_offset(&bytes, 4) + 11; // mid-way through the 5th record
        fs::write(&path, &bytes[..cut]).expect("truncate");
        let mut s = open_plain(dir.path());
        assert_eq!(
            fs::metadata(&path).expect("stat").len(),
            record_offset(&bytes, 4) as u64,
            "torn tail truncated"
        );
        let a = s
            .append("t/x", b"after", QoS::AtLeastOnce, false, Instant::now())
            .expect("append after the torn tail");
        assert_eq!(
            a.seq, 5,
            "the torn record never completed, its seq is reused"
        );
        drop(s);
        let mut s = open_plain(dir.path());
        let out = drain(&mut s);
        assert_eq!(seqs(&out), vec![1, 2, 3, 4, 5]);
        assert_eq!(out[4].payload, b"after");
        assert_eq!(s.stats().corrupt, 0);
    }

    #[test]
    fn truncated_header_is_skipped() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let mut s = open_plain(dir.path());
            fill(&mut s, 3, QoS::AtLeastOnce);
        }
        let path = only_segment(dir.path());
        let bytes = fs::read(&path).expect("read");
        let cut = record_offset(&bytes, 2) + 3; // inside the 3rd record's length field
        fs::write(&path, &bytes[..cut]).expect("truncate");
        let mut s = open_plain(dir.path());
        assert_eq!(seqs(&drain(&mut s)), vec![1, 2]);
    }

    #[test]
    fn corrupt_byte_in_the_middle_loses_only_that_record() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let mut s = open_plain(dir.path());
            fill(&mut s, 6, QoS::AtLeastOnce);
        }
        let path = only_segment(dir.path());
        let mut bytes = fs::read(&path).expect("read");
        let at = record_offset(&bytes, 2) + 20; // inside the payload of record 3
        bytes[at] ^= 0x55;
        fs::write(&path, &bytes).expect("write");
        let mut s = open_plain(dir.path());
        let out = drain(&mut s);
        assert_eq!(seqs(&out), vec![1, 2, 4, 5, 6]);
        assert_eq!(out[2].payload, b"m0003");
        assert_eq!(s.stats().corrupt, 1);
        assert_eq!(
            fs::metadata(&path).expect("stat").len(),
            bytes.len() as u64,
            "mid-file corruption does not truncate the valid records after it"
        );
        let a = s
            .append("t", b"x", QoS::AtLeastOnce, false, Instant::now())
            .expect("append");
        assert_eq!(a.seq, 7);
    }

    #[test]
    fn corrupt_length_field_resyncs_on_next_record() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let mut s = open_plain(dir.path());
            fill(&mut s, 4, QoS::AtLeastOnce);
        }
        let path = only_segment(dir.path());
        let mut bytes = fs::read(&path).expect("read");
        let at = record_offset(&bytes, 1);
        bytes[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        fs::write(&path, &bytes).expect("write");
        let mut s = open_plain(dir.path());
        assert_eq!(seqs(&drain(&mut s)), vec![1, 3, 4]);
        assert_eq!(s.stats().corrupt, 1);
    }

    #[test]
    fn corruption_after_open_is_caught_on_read_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = open_plain(dir.path());
        fill(&mut s, 3, QoS::AtLeastOnce);
        let path = only_segment(dir.path());
        let mut bytes = fs::read(&path).expect("read");
        let at = record_offset(&bytes, 1) + 12;
        bytes[at] ^= 1;
        fs::write(&path, &bytes).expect("write");
        assert_eq!(seqs(&drain(&mut s)), vec![1, 3]);
        let st = s.stats();
        assert_eq!((st.corrupt, st.inflight, st.queued), (1, 2, 0));
    }

    #[test]
    fn garbage_files_and_empty_dir() {
        let dir = tempfile::tempdir().expect("tmp");
        fs::write(dir.path().join("notes.txt"), b"hi").expect("write");
        fs::write(dir.path().join("00000000000000000001.seg"), b"\x01\x02\x03").expect("write");
        let mut s = open_plain(dir.path());
        assert!(s.next_to_send().expect("read").is_none());
        let a = s
            .append("t", b"x", QoS::AtMostOnce, false, Instant::now())
            .expect("append");
        assert_eq!(a.seq, 1);
        drop(s);
        let mut s = open_plain(dir.path());
        assert_eq!(seqs(&drain(&mut s)), vec![1]);
    }

    #[test]
    fn sequence_survives_full_compaction() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let mut s = open_plain(dir.path());
            let payload = [0u8; 400];
            for _ in 0..7 {
                s.append("t", &payload, QoS::AtMostOnce, false, Instant::now())
                    .expect("append");
            }
            for r in drain(&mut s) {
                s.ack(r.seq).expect("ack");
            }
        }
        let mut s = open_plain(dir.path());
        assert_eq!(s.stats().queued, 0);
        let a = s
            .append("t", b"x", QoS::AtMostOnce, false, Instant::now())
            .expect("append");
        assert_eq!(a.seq, 8);
    }

    #[test]
    fn batch_fsync_follows_the_callers_clock() {
        let dir = tempfile::tempdir().expect("tmp");
        let t0 = Instant::now();
        let mut o = opts(1 << 20, FullPolicy::RejectNew);
        o.fsync = FsyncPolicy::Batch(Duration::from_millis(100));
        let mut s = Store::open(dir.path(), o, t0).expect("open");
        s.append("t", b"1", QoS::AtLeastOnce, false, t0)
            .expect("append");
        assert_eq!(s.sync_deadline(), Some(t0 + Duration::from_millis(100)));
        s.append(
            "t",
            b"2",
            QoS::AtLeastOnce,
            false,
            t0 + Duration::from_millis(50),
        )
        .expect("append");
        assert!(s.is_dirty(), "not yet synced within the interval");
        s.append(
            "t",
            b"3",
            QoS::AtLeastOnce,
            false,
            t0 + Duration::from_millis(150),
        )
        .expect("append");
        assert!(s.is_dirty(), "batch: an append never syncs, only tick does");
        s.tick(t0 + Duration::from_millis(99)).expect("tick");
        assert!(s.is_dirty());
        s.tick(t0 + Duration::from_millis(100)).expect("tick");
        assert!(!s.is_dirty(), "synced once the interval passed");
        assert_eq!(s.sync_deadline(), None);

        let mut o = opts(1 << 20, FullPolicy::RejectNew);
        o.fsync = FsyncPolicy::Always;
        let dir2 = tempfile::tempdir().expect("tmp");
        let mut s = Store::open(dir2.path(), o, t0).expect("open");
        s.append("t", b"1", QoS::AtLeastOnce, false, t0)
            .expect("append");
        assert!(!s.is_dirty(), "always: synced by append");
        let sent = s.next_to_send().expect("read").expect("record");
        s.ack(sent.seq).expect("ack");
        assert!(
            s.tick_job(t0).expect("tick").is_none(),
            "always: the tick syncs here, no job is handed out"
        );
        assert!(!s.is_dirty(), "always: the ack was written and synced");
    }

    #[test]
    fn the_clock_is_wanted_only_while_there_is_work() {
        let t0 = Instant::now();
        let every = Duration::from_millis(100);
        for (policy, after_append) in [
            (FsyncPolicy::Batch(every), true),
            (FsyncPolicy::Always, false),
            (FsyncPolicy::Never, false),
        ] {
            let dir = tempfile::tempdir().expect("tmp");
            let mut o = opts(1 << 20, FullPolicy::RejectNew);
            o.fsync = policy;
            let mut s = Store::open(dir.path(), o, t0).expect("open");
            assert!(
                !s.wants_tick(),
                "{policy:?}: a fresh queue has nothing to do"
            );
            s.append("t", b"1", QoS::AtLeastOnce, false, t0)
                .expect("append");
            assert_eq!(s.wants_tick(), after_append, "{policy:?}: after an append");
            s.tick(t0 + every).expect("tick");
            assert!(!s.wants_tick(), "{policy:?}: synced (or never synced)");
            s.sync_failed();
            assert_eq!(
                s.wants_tick(),
                policy != FsyncPolicy::Never,
                "{policy:?}: a failed sync is tried again"
            );
            s.tick(t0 + every * 2).expect("tick");
            let sent = s.next_to_send().expect("read").expect("record");
            s.ack(sent.seq).expect("ack");
            assert!(s.wants_tick(), "{policy:?}: an ack waits to be written");
            s.tick(t0 + every * 3).expect("tick");
            assert!(
                !s.wants_tick(),
                "{policy:?}: the ack written (and synced, except under never)"
            );
        }
    }

    /// Paths a sync job covers (segment files, then the directory if it is synced).
    fn job_paths(job: &SyncJob) -> (Vec<PathBuf>, bool) {
        let files = job.files.iter().map(|(p, _)| p.clone()).collect();
        (files, job.dir.is_some())
    }

    fn segment_paths(s: &Store) -> Vec<PathBuf> {
        s.segments.iter().map(|seg| seg.path.clone()).collect()
    }

    #[test]
    fn a_sync_job_covers_every_segment_written_since_the_last_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let t0 = Instant::now();
        let every = Duration::from_millis(100);
        let mut o = opts(1 << 20, FullPolicy::RejectNew);
        o.fsync = FsyncPolicy::Batch(every);
        let mut s = Store::open(dir.path(), o, t0).expect("open");
        assert!(
            s.tick_job(t0 + every).expect("tick").is_none(),
            "the first segment's name was synced by open"
        );

        // Rotations: the tails of the segments before the active one must be synced too.
        for i in 0..40u32 {
            s.append("t", &[i as u8; 100], QoS::AtLeastOnce, false, t0)
                .expect("append");
        }
        assert!(
            s.segments.len() >= 3,
            "rotated: {} segments",
            s.segments.len()
        );
        assert!(
            s.tick_job(t0 + every / 2).expect("tick").is_none(),
            "not yet due"
        );
        let job = s.tick_job(t0 + every * 2).expect("tick").expect("a job");
        assert_eq!(job_paths(&job), (segment_paths(&s), true));
        assert!(!s.is_dirty(), "counted as synced once taken");
        assert_eq!(s.sync_deadline(), None);

        // Only the active segment written since: only it, no directory.
        s.append("t", b"x", QoS::AtLeastOnce, false, t0 + every * 2)
            .expect("append");
        let active = segment_paths(&s).pop().expect("active");
        let (files, dir_synced) =
            job_paths(&s.tick_job(t0 + every * 3).expect("tick").expect("a job"));
        assert_eq!((files, dir_synced), (vec![active], false));

        // A failed job: the next one covers everything again.
        s.append("t", b"y", QoS::AtLeastOnce, false, t0 + every * 3)
            .expect("append");
        let failed = s.tick_job(t0 + every * 4).expect("tick").expect("a job");
        drop(failed);
        s.sync_failed();
        assert!(s.is_dirty());
        let retry = s.tick_job(t0 + every * 5).expect("tick").expect("a job");
        assert_eq!(job_paths(&retry), (segment_paths(&s), true));
        retry.run().expect("sync");
        assert!(
            s.tick_job(t0 + every * 6).expect("tick").is_none(),
            "all synced"
        );
    }

    fn batch_of(n: u32) -> impl Iterator<Item = NewMessage> {
        (0..n).map(|i| outgoing("t", &format!("{i:0100}"), QoS::AtLeastOnce))
    }

    #[test]
    fn always_syncs_every_segment_a_rotating_batch_wrote_before_it_returns() {
        let dir = tempfile::tempdir().expect("tmp");
        let t0 = Instant::now();
        let mut o = opts(1 << 20, FullPolicy::RejectNew);
        o.fsync = FsyncPolicy::Always;
        let mut s = Store::open(dir.path(), o.clone(), t0).expect("open");
        let results = s.append_many(batch_of(30), t0);
        assert!(results.iter().all(|r| r.is_ok()));
        assert!(s.segments.len() >= 3, "rotated within the batch");
        let mut synced = s.synced.clone();
        synced.sort();
        synced.dedup();
        assert_eq!(synced, segment_paths(&s), "the closed segments' tails too");
        assert!(!s.is_dirty());

        // The batch's last write fails after a rotation: what went into the closed segment is
        // reported stored, so it was synced before the results came back.
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = Store::open(dir.path(), o, t0).expect("open");
        s.stage.fail_nth = 2; // the rotation's write succeeds, the final one fails
        let results = s.append_many(batch_of(12), t0);
        let stored = results.iter().take_while(|r| r.is_ok()).count();
        assert!(
            stored > 0 && results[stored..].iter().all(|r| r.is_err()),
            "some stored, then the failed write's: {results:?}"
        );
        assert_eq!(s.segments.len(), 2);
        assert!(
            s.synced.contains(&s.segments[0].path),
            "the closed segment was synced: {:?}",
            s.synced
        );
        assert_eq!(s.stats().queued, stored as u64);
    }

    #[test]
    fn long_topic_is_stored_intact() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = open_plain(dir.path());
        let topic = "é".repeat(30_000); // 60000 bytes, larger than a segment
        s.append(&topic, b"p", QoS::ExactlyOnce, true, Instant::now())
            .expect("append");
        s.append("small", b"q", QoS::AtLeastOnce, false, Instant::now())
            .expect("append");
        drop(s);
        let mut s = open_plain(dir.path());
        let out = drain(&mut s);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].topic, topic);
        assert_eq!((out[0].qos, out[0].retain), (QoS::ExactlyOnce, true));
        assert_eq!(out[1].topic, "small");
    }

    fn props() -> MessageProperties {
        MessageProperties {
            payload_format_utf8: Some(true),
            message_expiry: Some(90),
            content_type: Some("application/json".into()),
            response_topic: Some("gw/reply".into()),
            correlation_data: Some(vec![0, 0xff, 7]),
            user_properties: vec![("k".into(), "v1".into()), ("k".into(), "v2".into())],
            subscription_identifiers: vec![],
        }
    }

    #[test]
    fn properties_and_accept_time_round_trip_across_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let o = opts(1 << 20, FullPolicy::RejectNew);
        let mut s = Store::open(dir.path(), o.clone(), Instant::now()).expect("open");
        let p = props();
        let ext = Extension {
            properties: &p,
            accepted_unix_ms: 1_700_000_000_123,
        };
        s.append_with(
            "a",
            b"{}",
            QoS::AtLeastOnce,
            true,
            Some(ext),
            Instant::now(),
        )
        .expect("append");
        s.append("b", b"plain", QoS::AtMostOnce, false, Instant::now())
            .expect("append");
        let empty = MessageProperties::default();
        let none = Extension {
            properties: &empty,
            accepted_unix_ms: 5,
        };
        s.append_with(
            "c",
            b"x",
            QoS::AtMostOnce,
            false,
            Some(none),
            Instant::now(),
        )
        .expect("append");
        // The queued bytes count the properties; empty ones keep the original format.
        let expected = rec_size("a", b"{}")
            + (EXT_FIXED + props::encoded_len(&p)) as u64
            + rec_size("b", b"plain")
            + rec_size("c", b"x");
        assert_eq!(s.stats().queued_bytes, expected);
        assert_eq!(s.topic_of(1).as_deref(), Some("a"));
        drop(s);

        let mut s = Store::open(dir.path(), o, Instant::now()).expect("reopen");
        let out = drain(&mut s);
        assert_eq!(seqs(&out), vec![1, 2, 3]);
        assert_eq!(out[0].properties.as_deref(), Some(&p));
        assert_eq!(out[0].accepted_unix_ms, 1_700_000_000_123);
        assert_eq!((&out[0].payload[..], out[0].retain), (&b"{}"[..], true));
        assert_eq!(
            (out[1].properties.as_ref(), out[1].accepted_unix_ms),
            (None, 0)
        );
        assert_eq!(out[1].payload, b"plain");
        assert_eq!(out[2].properties, None, "empty properties are not stored");
        s.ack(1).expect("ack");
        assert_eq!(s.topic_of(1), None, "done");
        assert_eq!(s.topic_of(2).as_deref(), Some("b"), "in flight");
    }

    /// A queue file written before properties existed (bytes spelled out here, not produced by
    /// today's encoder) still reads, and new records with properties can follow it.
    #[test]
    fn a_queue_file_in_the_original_format_still_reads() {
        let dir = tempfile::tempdir().expect("tmp");
        let frame = |body: Vec<u8>| {
            let mut out = (body.len() as u32).to_le_bytes().to_vec();
            out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
            out.extend_from_slice(&body);
            out
        };
        let data = |seq: u64, qos: u8, flags: u8, topic: &[u8], payload: &[u8]| {
            let mut b = vec![1u8];
            b.extend_from_slice(&seq.to_le_bytes());
            b.extend_from_slice(&[qos, flags]);
            b.extend_from_slice(&(topic.len() as u16).to_le_bytes());
            b.extend_from_slice(topic);
            b.extend_from_slice(payload);
            frame(b)
        };
        let mut file = data(1, 1, 0, b"old/one", b"first");
        file.extend(data(2, 2, 1, b"old/two", b"second"));
        file.extend(data(3, 0, 0, b"old/three", b""));
        let mut ack = vec![2u8];
        ack.extend_from_slice(&1u64.to_le_bytes());
        ack.extend_from_slice(&1u32.to_le_bytes());
        file.extend(frame(ack)); // record 1 was acknowledged
        fs::write(dir.path().join(format!("{:020}.seg", 1)), &file).expect("write");

        let o = opts(1 << 20, FullPolicy::RejectNew);
        let mut s = Store::open(dir.path(), o.clone(), Instant::now()).expect("open");
        assert_eq!((s.stats().queued, s.stats().corrupt), (2, 0));
        let p = props();
        let ext = Extension {
            properties: &p,
            accepted_unix_ms: 42,
        };
        let appended = s
            .append_with(
                "new",
                b"n",
                QoS::AtLeastOnce,
                false,
                Some(ext),
                Instant::now(),
            )
            .expect("append");
        assert_eq!(appended.seq, 4);
        let out = drain(&mut s);
        assert_eq!(seqs(&out), vec![2, 3, 4]);
        assert_eq!(
            (
                out[0].topic.as_str(),
                &out[0].payload[..],
                out[0].qos,
                out[0].retain
            ),
            ("old/two", &b"second"[..], QoS::ExactlyOnce, true)
        );
        assert_eq!(out[0].properties, None);
        assert_eq!(
            (out[1].topic.as_str(), out[1].qos),
            ("old/three", QoS::AtMostOnce)
        );
        assert_eq!(out[2].properties.as_deref(), Some(&p));
        // Unknown flag bits are not guessed at: such a record counts as corrupt.
        drop(s);
        let dir2 = tempfile::tempdir().expect("tmp");
        fs::write(
            dir2.path().join(format!("{:020}.seg", 1)),
            data(1, 1, 4, b"t", b"p"),
        )
        .expect("write");
        let s = Store::open(dir2.path(), o, Instant::now()).expect("open");
        assert_eq!(s.stats().queued, 0);
    }

    fn outgoing(topic: &str, payload: &str, qos: QoS) -> NewMessage {
        NewMessage {
            topic: topic.to_owned(),
            payload: payload.as_bytes().to_vec(),
            qos,
            retain: false,
            properties: None,
            accepted_unix_ms: 0,
        }
    }

    #[test]
    fn append_many_is_one_write_read_from_memory_and_durable() {
        let dir = tempfile::tempdir().expect("tmp");
        let now = Instant::now();
        let mut o = opts(1 << 20, FullPolicy::RejectNew);
        o.segment_bytes = 1 << 20;
        let mut s = Store::open(dir.path(), o.clone(), now).expect("open");
        let batch: Vec<NewMessage> = (0..50)
            .map(|i| outgoing("b/t", &format!("m{i}"), QoS::AtLeastOnce))
            .collect();
        let results = s.append_many(batch.clone(), now);
        let seqs_in: Vec<u64> = results
            .iter()
            .map(|r| r.as_ref().expect("appended").seq)
            .collect();
        assert_eq!(seqs_in, (1..=50).collect::<Vec<_>>());
        assert_eq!(s.recent.len(), 50, "kept in memory");
        let file = segment_files(dir.path()).remove(0);
        assert_eq!(
            fs::metadata(&file).expect("stat").len(),
            s.stats().bytes_on_disk
        );
        // Handed out from memory, in order, with the right contents.
        let first = s.next_to_send().expect("read").expect("record");
        assert_eq!((first.seq, first.payload.as_slice()), (1, &b"m0"[..]));
        assert_eq!(s.recent.len(), 49);
        // A requeued record is read back from the file; the others still come from memory.
        assert!(s.requeue(1));
        let again = drain(&mut s);
        assert_eq!(seqs(&again), (1..=50).collect::<Vec<_>>());
        assert_eq!(again[1].payload, b"m1");
        assert!(s.recent.is_empty());
        // Reopened without acks: the same 50 records come back from disk.
        drop(s);
        let mut s = Store::open(dir.path(), o, now).expect("reopen");
        let back = drain(&mut s);
        assert_eq!(back.len(), 50);
        assert_eq!(back[49].payload, b"m49");
        assert_eq!(back[49].topic, "b/t");
    }

    /// A backlog bigger than what is kept in memory comes back from disk a window at a time,
    /// across segment boundaries, in order and byte for byte; a batch cut back after a failed
    /// write and written again at the same offsets reads back as written the second time.
    #[test]
    fn a_backlog_is_read_back_in_windows_with_the_right_contents() {
        let dir = tempfile::tempdir().expect("tmp");
        let now = Instant::now();
        let mut o = opts(64 << 20, FullPolicy::RejectNew);
        o.segment_bytes = 200 * 1024;
        let mut s = Store::open(dir.path(), o, now).expect("open");
        let payload = |i: usize, tag: &str| format!("{tag}{i:0>290}");
        let append = |s: &mut Store, range: std::ops::Range<usize>, tag: &str| {
            let batch: Vec<NewMessage> = range
                .map(|i| outgoing("b/t", &payload(i, tag), QoS::AtLeastOnce))
                .collect();
            s.append_many(batch, now)
        };
        for start in (0..4000).step_by(100) {
            assert!(append(&mut s, start..start + 100, "a")
                .iter()
                .all(Result::is_ok));
        }
        assert!(segment_files(dir.path()).len() >= 5, "several segments");
        let first = (0..2000)
            .map(|_| s.next_to_send().expect("read").expect("record"))
            .collect::<Vec<_>>();
        s.stage.fail_nth = 1;
        assert!(append(&mut s, 4000..4100, "x").iter().all(Result::is_err));
        assert!(append(&mut s, 4000..4100, "b").iter().all(Result::is_ok));
        let rest = drain(&mut s);
        assert_eq!(seqs(&first), (1..=2000).collect::<Vec<_>>());
        assert_eq!(seqs(&rest), (2001..=4100).collect::<Vec<_>>());
        for (i, r) in first.iter().chain(&rest).enumerate() {
            let tag = if i < 4000 { "a" } else { "b" };
            assert_eq!(r.payload, payload(i, tag).as_bytes(), "record {}", r.seq);
        }
        assert_eq!(s.stats().corrupt, 0);
    }

    #[test]
    fn append_many_reports_each_refusal_and_rotates_segments() {
        let dir = tempfile::tempdir().expect("tmp");
        let now = Instant::now();
        let size = rec_size("t", b"0123456789");
        let mut o = opts(size * 30, FullPolicy::RejectNew);
        o.segment_bytes = 256;
        let mut s = Store::open(dir.path(), o.clone(), now).expect("open");
        let batch: Vec<NewMessage> = (0..40)
            .map(|_| outgoing("t", "0123456789", QoS::AtMostOnce))
            .collect();
        let results = s.append_many(batch, now);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 30, "the cap holds 30");
        assert!(results[30..]
            .iter()
            .all(|r| matches!(r, Err(StoreError::Full { .. }))));
        assert_eq!(s.stats().rejected, 10);
        assert!(
            segment_files(dir.path()).len() > 1,
            "segments of 256 bytes rotated"
        );
        drop(s);
        let mut s = Store::open(dir.path(), o, now).expect("reopen");
        assert_eq!(seqs(&drain(&mut s)), (1..=30).collect::<Vec<_>>());
    }

    #[test]
    fn append_many_failed_write_rolls_the_batch_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let now = Instant::now();
        let size = rec_size("t", b"xxxx");
        let mut o = opts(size * 4, FullPolicy::DropOldest);
        o.segment_bytes = 1 << 20;
        let mut s = Store::open(dir.path(), o.clone(), now).expect("open");
        s.append("t", b"old1", QoS::AtLeastOnce, false, now)
            .expect("append");
        s.stage.fail_nth = 1;
        // Six records into a cap of four: two drops, then the write fails.
        let batch: Vec<NewMessage> = (0..6)
            .map(|i| outgoing("t", &format!("new{i}"), QoS::AtLeastOnce))
            .collect();
        let results = s.append_many(batch, now);
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(StoreError::Io { op: "write", .. }))));
        let st = s.stats();
        assert_eq!((st.next_seq, st.queued), (2, 0), "{st:?}");
        assert!(s.recent.is_empty());
        // The next batch reuses the sequence numbers; no stale ack marks them done.
        let results = s.append_many(vec![outgoing("t", "ok", QoS::AtLeastOnce)], now);
        assert_eq!(results[0].as_ref().expect("appended").seq, 2);
        s.sync(now).expect("sync");
        drop(s);
        let mut s = Store::open(dir.path(), o, now).expect("reopen");
        let back = drain(&mut s);
        // old1's drop was recorded in the failed write, so it is replayed (at least once,
        // never lost); seq 2 is the new record, not a rolled-back one.
        assert_eq!(seqs(&back), vec![1, 2]);
        assert_eq!(
            (back[0].payload.as_slice(), back[1].payload.as_slice()),
            (&b"old1"[..], &b"ok"[..])
        );
    }

    /// Segments whose entries are released, and entries held by all segments.
    fn cold_and_held(s: &Store) -> (usize, usize) {
        let cold = s.segments.iter().filter(|g| g.cold.is_some()).count();
        (cold, s.segments.iter().map(|g| g.entries.len()).sum())
    }

    /// 200 records of 29 bytes in segments of 1024 bytes: 35 per segment, six segments.
    fn backlog(dir: &Path, cap: u64, on_full: FullPolicy) -> Store {
        let mut s = Store::open(dir, opts(cap, on_full), Instant::now()).expect("open");
        fill(&mut s, 200, QoS::AtLeastOnce);
        assert_eq!(rec_size("t/x", b"m0000"), 29);
        s
    }

    /// A [`backlog`] and the file of its segment `i`, which is cold.
    fn cold_segment(dir: &Path, i: usize) -> (Store, PathBuf) {
        let s = backlog(dir, 1 << 20, FullPolicy::RejectNew);
        assert!(s.segments[i].cold.is_some());
        let path = segment_files(dir)[i].clone();
        (s, path)
    }

    fn payloads(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
            .collect()
    }

    #[test]
    fn a_backlog_keeps_entries_only_where_records_are_sent_and_written() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = backlog(dir.path(), 1 << 20, FullPolicy::RejectNew);
        // Segments 2-5 wait behind the one the sender starts in; the active one is written.
        assert_eq!(s.segments.len(), 6);
        assert_eq!(cold_and_held(&s), (4, 35 + 25));
        assert_eq!((s.stats().queued, s.stats().queued_bytes), (200, 200 * 29));
        let first = s.next_to_send().expect("read").expect("record");
        assert_eq!((first.seq, cold_and_held(&s)), (1, (4, 60)));
        let mut all = vec![first];
        all.extend(drain(&mut s));
        assert_eq!(seqs(&all), (1..=200).collect::<Vec<_>>());
        let expected: Vec<String> = (0..200).map(|i| format!("m{i:04}")).collect();
        assert_eq!(payloads(&all), expected);
        assert_eq!(cold_and_held(&s).0, 0);
        for seq in 1..=200 {
            assert!(s.ack(seq).expect("ack"));
        }
        let st = s.stats();
        assert_eq!(
            (st.queued, st.inflight, st.queued_bytes, st.corrupt),
            (0, 0, 0, 0)
        );
        assert_eq!(s.segments.len(), 1);
    }

    #[test]
    fn drop_oldest_reaches_into_cold_segments_exactly() {
        let dir = tempfile::tempdir().expect("tmp");
        // Room for 150 records: the sender has none out, so 50 are dropped from its segment
        // and the next (cold) one.
        let mut s = backlog(dir.path(), 150 * 29, FullPolicy::DropOldest);
        let st = s.stats();
        assert_eq!(
            (st.dropped, st.queued, st.queued_bytes),
            (50, 150, 150 * 29)
        );
        let back = drain(&mut s);
        assert_eq!(seqs(&back), (51..=200).collect::<Vec<_>>());
        assert_eq!(payloads(&back)[0], "m0050");
        assert_eq!(s.stats().inflight, 150);
    }

    #[test]
    fn a_record_damaged_in_a_cold_segment_is_counted_and_the_rest_are_sent() {
        let dir = tempfile::tempdir().expect("tmp");
        // Record 80 is the 10th of the third segment (cold): flip a payload byte.
        let (mut s, path) = cold_segment(dir.path(), 2);
        let mut bytes = fs::read(&path).expect("read");
        bytes[9 * 29 + 27] ^= 1;
        fs::write(&path, &bytes).expect("write");
        let back = drain(&mut s);
        let mut expected: Vec<u64> = (1..=200).collect();
        expected.retain(|&seq| seq != 80);
        assert_eq!(seqs(&back), expected);
        let st = s.stats();
        assert_eq!((st.corrupt, st.queued, st.inflight), (1, 0, 199));
        for seq in expected {
            assert!(s.ack(seq).expect("ack"));
        }
        assert_eq!(s.stats().queued_bytes, 0);
    }

    #[test]
    fn a_cold_segment_cut_short_loses_only_its_tail() {
        let dir = tempfile::tempdir().expect("tmp");
        // The second segment (records 36-70) keeps 10 records and half of the 11th.
        let (mut s, path) = cold_segment(dir.path(), 1);
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.set_len(10 * 29 + 14).expect("truncate");
        let back = drain(&mut s);
        let expected: Vec<u64> = (1..=45).chain(71..=200).collect();
        assert_eq!(seqs(&back), expected);
        let st = s.stats();
        assert_eq!((st.corrupt, st.queued, st.inflight), (25, 0, 175));
        assert_eq!(st.queued_bytes, 175 * 29);
    }

    #[test]
    fn a_reopened_backlog_is_cold_behind_the_sender_and_sent_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = backlog(dir.path(), 1 << 20, FullPolicy::RejectNew);
        for _ in 0..40 {
            let r = s.next_to_send().expect("read").expect("record");
            assert!(s.ack(r.seq).expect("ack"));
        }
        s.sync(Instant::now()).expect("sync");
        drop(s);
        let mut s = open_plain(dir.path());
        // The first segment is gone, the sender is in the second; third to fifth are cold.
        assert_eq!(cold_and_held(&s), (3, 35 + 25));
        assert_eq!(s.stats().queued_bytes, 160 * 29);
        // A reconnect puts everything in flight back; the order holds across cold segments.
        for _ in 0..50 {
            s.next_to_send().expect("read").expect("record");
        }
        assert_eq!(s.requeue_all(), 50);
        assert_eq!(seqs(&drain(&mut s)), (41..=200).collect::<Vec<_>>());
    }

    #[test]
    fn an_unreadable_cold_segment_fails_the_append_and_keeps_the_count() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = backlog(dir.path(), 200 * 29, FullPolicy::DropOldest);
        s.stage.fail_reads = true;
        // The new record needs room: the sender's segment (35 records) is dropped, then the
        // next one, cold, cannot be read back.
        let big = vec![b'x'; 40 * 29];
        let err = s
            .append("t/x", &big, QoS::AtLeastOnce, false, Instant::now())
            .expect_err("unreadable");
        assert!(matches!(err, StoreError::Io { op: "read", .. }), "{err}");
        let st = s.stats();
        assert_eq!((st.dropped, st.queued, st.next_seq), (35, 165, 201));
        assert_eq!(st.queued_bytes, 165 * 29);
        // Once the disk reads again, the rest goes out in order.
        s.stage.fail_reads = false;
        let peeked = s.peek_next().expect("peek");
        assert_eq!(peeked, Some((36, QoS::AtLeastOnce)));
        assert_eq!(seqs(&drain(&mut s)), (36..=200).collect::<Vec<_>>());
    }
}
