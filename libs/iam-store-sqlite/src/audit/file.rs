//! The audit log's records: one append-only file of checksummed frames.
//!
//! A frame is `[payload length: u32 LE][CRC-32 of position and payload: u32 LE][position: u64 LE]`
//! followed by the payload. The length's top four bits say what the payload is ([`FrameKind`]):
//! a record's CloudTrail JSON (0, as versions before the hash chain wrote every record), a record
//! preceded by its chain link (sequence `u64` LE and the 32-byte hash, then the JSON), a signed
//! digest, or a signing key (both JSON, see `iam_audit::integrity`). A group of records is one `write` and
//! one `fdatasync`: no page is ever rewritten, which is what the SQLite table this replaces did
//! several times per record (B-tree page, WAL frame, checkpoint copy).
//!
//! A crash can leave only the last, unacknowledged group half-written: acknowledged groups were
//! synced before anyone was answered. Opening the file finds the first frame that is cut short
//! or fails its checksum, keeps the bytes from there in `<file>.torn-<offset>` for inspection,
//! and truncates the log to the last whole frame.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Frame header: length, checksum, position.
pub(crate) const HEADER: usize = 16;
/// A chained record's link before its JSON: the sequence and the hash.
pub(crate) const LINK: usize = 40;
/// The length field's bits that carry the payload's length; the rest carry its kind.
const LENGTH_BITS: u32 = 0x0FFF_FFFF;
const KIND_SHIFT: u32 = 28;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// A record without a chain link (written before chains began).
    Record,
    /// A record and its chain link.
    Chained,
    /// A signed digest.
    Digest,
    /// A signing key.
    Key,
}

impl FrameKind {
    fn bits(self) -> u32 {
        match self {
            FrameKind::Record => 0,
            FrameKind::Chained => 1,
            FrameKind::Digest => 2,
            FrameKind::Key => 3,
        }
    }

    fn of(bits: u32) -> Option<Self> {
        match bits {
            0 => Some(FrameKind::Record),
            1 => Some(FrameKind::Chained),
            2 => Some(FrameKind::Digest),
            3 => Some(FrameKind::Key),
            _ => None,
        }
    }
}

/// A frame's payload split into its chain link (chained records only) and its JSON.
pub(crate) fn split_link(kind: FrameKind, payload: &[u8]) -> (Option<iam_audit::integrity::ChainLink>, &[u8]) {
    match (kind, payload.split_first_chunk::<8>()) {
        (FrameKind::Chained, Some((sequence, rest))) if rest.len() >= 32 => {
            let (hash, json) = rest.split_at(32);
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(hash);
            let link = iam_audit::integrity::ChainLink {
                sequence: u64::from_le_bytes(*sequence),
                hash: iam_audit::integrity::ChainHash(bytes),
            };
            (Some(link), json)
        }
        _ => (None, payload),
    }
}
/// No record is this large (a record is a few KB; a management call's before/after at most a
/// few hundred KB): a larger length is damage, not a record.
const MAX_PAYLOAD: u32 = 64 * 1024 * 1024;

/// A damaged or unreadable log.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error("audit log file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("audit log file {path}: frame at offset {offset}: {what}")]
    Corrupt { path: String, offset: u64, what: String },
}

fn checksum(position: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&position.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Appends `payload` as a record frame without a link to `buffer`; returns the frame's offset
/// within the buffer.
#[cfg(test)]
pub(crate) fn encode(buffer: &mut Vec<u8>, position: u64, payload: &[u8]) -> usize {
    encode_kind(buffer, position, FrameKind::Record, None, payload)
}

/// Appends a frame of `kind` to `buffer`, its payload `link` (a chained record's) then `body`;
/// returns the frame's offset within the buffer.
pub(crate) fn encode_kind(
    buffer: &mut Vec<u8>,
    position: u64,
    kind: FrameKind,
    link: Option<&iam_audit::integrity::ChainLink>,
    body: &[u8],
) -> usize {
    let at = buffer.len();
    let link_length = if link.is_some() { LINK } else { 0 };
    let length = u32::try_from(link_length + body.len()).unwrap_or(LENGTH_BITS) & LENGTH_BITS;
    buffer.extend_from_slice(&(length | (kind.bits() << KIND_SHIFT)).to_le_bytes());
    let crc_at = buffer.len();
    buffer.extend_from_slice(&[0; 4]);
    buffer.extend_from_slice(&position.to_le_bytes());
    let payload_at = buffer.len();
    if let Some(link) = link {
        buffer.extend_from_slice(&link.sequence.to_le_bytes());
        buffer.extend_from_slice(&link.hash.0);
    }
    buffer.extend_from_slice(body);
    let crc = checksum(position, &buffer[payload_at..]);
    buffer[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    at
}

/// A frame found while scanning.
pub(crate) struct Frame {
    pub(crate) offset: u64,
    pub(crate) position: u64,
    pub(crate) kind: FrameKind,
    /// For a chained record, its link then its JSON ([`split_link`]).
    pub(crate) payload: Vec<u8>,
}

/// The writer's handle: appends whole groups.
pub(crate) struct RecordFile {
    path: PathBuf,
    file: File,
    end: u64,
    /// `end`, for a syncer on another thread.
    shared_end: Arc<AtomicU64>,
}

impl RecordFile {
    /// Opens (creating if missing) the file for appending, after cutting any torn tail past
    /// `scan_from` (an offset known to start a frame, or the end of the file). Returns the file
    /// and every whole frame from `scan_from` on, for the index to catch up with.
    pub(crate) fn open(path: &Path, scan_from: u64) -> Result<(Self, Vec<Frame>), FileError> {
        let io = |source| FileError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let length = file.metadata().map_err(io)?.len();
        if scan_from > length {
            return Err(FileError::Corrupt {
                path: path.display().to_string(),
                offset: scan_from,
                what: format!("the index has records up to here but the file has only {length} bytes"),
            });
        }
        let (frames, whole_end) = scan(&mut file, path, scan_from, length)?;
        if whole_end < length {
            keep_torn_tail(&mut file, path, whole_end, length).map_err(io)?;
            file.set_len(whole_end).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::warn!(
                path = %path.display(),
                offset = whole_end,
                bytes = length - whole_end,
                "the audit log ended in a torn write (a crash before it was acknowledged); \
                 the partial bytes were moved aside"
            );
        }
        file.seek(SeekFrom::Start(whole_end)).map_err(io)?;
        Ok((
            RecordFile {
                path: path.to_owned(),
                file,
                end: whole_end,
                shared_end: Arc::new(AtomicU64::new(whole_end)),
            },
            frames,
        ))
    }

    /// Where the next frame goes.
    #[cfg(test)]
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Writes encoded frames at the end; with `sync`, returns only once they are on disk.
    /// After a failure the file is cut back to where it was, so a half-written group never sits
    /// in front of later ones.
    pub(crate) fn append(&mut self, frames: &[u8], sync: bool) -> std::io::Result<u64> {
        let at = self.end;
        let written = self
            .file
            .write_all(frames)
            .and_then(|()| if sync { self.file.sync_data() } else { Ok(()) });
        if let Err(error) = written {
            let _ = self.file.set_len(at);
            let _ = self.file.seek(SeekFrom::Start(at));
            return Err(error);
        }
        self.end = at + frames.len() as u64;
        self.shared_end.store(self.end, Ordering::Release);
        Ok(at)
    }

    /// A handle that syncs this file from another thread.
    pub(crate) fn syncer(&self) -> std::io::Result<RecordSync> {
        Ok(RecordSync {
            path: self.path.clone(),
            file: self.file.try_clone()?,
            end: self.shared_end.clone(),
            #[cfg(test)]
            syncs: AtomicU64::new(0),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Syncs the record file from another thread.
pub(crate) struct RecordSync {
    path: PathBuf,
    file: File,
    end: Arc<AtomicU64>,
    /// How many syncs completed (tests).
    #[cfg(test)]
    pub(crate) syncs: AtomicU64,
}

impl RecordSync {
    /// Where the writer's last frame ends.
    pub(crate) fn written_end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// `fdatasync`: every write finished before the call is durable once it returns.
    pub(crate) fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()?;
        #[cfg(test)]
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads whole frames from `from` to `length`; returns them and the end of the last whole one.
fn scan(file: &mut File, path: &Path, from: u64, length: u64) -> Result<(Vec<Frame>, u64), FileError> {
    let io = |source| FileError::Io {
        path: path.display().to_string(),
        source,
    };
    file.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, &*file);
    let mut frames = Vec::new();
    let mut offset = from;
    let mut header = [0u8; HEADER];
    while length - offset >= HEADER as u64 {
        reader.read_exact(&mut header).map_err(io)?;
        let (payload_length, kind, crc, position) = parse_header(&header);
        let Some(kind) = kind else { break };
        if payload_length > MAX_PAYLOAD || offset + (HEADER as u64) + u64::from(payload_length) > length {
            break;
        }
        let mut payload = vec![0u8; payload_length as usize];
        reader.read_exact(&mut payload).map_err(io)?;
        if checksum(position, &payload) != crc {
            break;
        }
        if let Some(previous) = frames.last().map(|f: &Frame| f.position) {
            if position != previous + 1 {
                return Err(FileError::Corrupt {
                    path: path.display().to_string(),
                    offset,
                    what: format!("position {position} follows {previous}"),
                });
            }
        }
        frames.push(Frame {
            offset,
            position,
            kind,
            payload,
        });
        offset += (HEADER as u64) + u64::from(payload_length);
    }
    Ok((frames, offset))
}

/// The payload's length and kind (`None`: no kind this version knows, which is damage), the
/// checksum and the position.
fn parse_header(header: &[u8; HEADER]) -> (u32, Option<FrameKind>, u32, u64) {
    let [l0, l1, l2, l3, c0, c1, c2, c3, p0, p1, p2, p3, p4, p5, p6, p7] = *header;
    let length = u32::from_le_bytes([l0, l1, l2, l3]);
    (
        length & LENGTH_BITS,
        FrameKind::of(length >> KIND_SHIFT),
        u32::from_le_bytes([c0, c1, c2, c3]),
        u64::from_le_bytes([p0, p1, p2, p3, p4, p5, p6, p7]),
    )
}

/// Copies the bytes past the last whole frame aside before they are cut off: they were never
/// acknowledged, but nothing is deleted without a trace.
fn keep_torn_tail(file: &mut File, path: &Path, from: u64, to: u64) -> std::io::Result<()> {
    let mut tail = vec![0u8; usize::try_from(to - from).unwrap_or(0)];
    file.read_exact_at(&mut tail, from)?;
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".torn-{from}"));
    let mut out = File::create(aside)?;
    out.write_all(&tail)?;
    out.sync_all()
}

/// Reads records by offset (any thread; `pread` needs no shared cursor).
#[derive(Debug)]
pub(crate) struct RecordReader {
    path: PathBuf,
    file: File,
}

impl RecordReader {
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        Ok(RecordReader {
            path: path.to_owned(),
            file: File::open(path)?,
        })
    }

    /// The kind and payload of the frame at `offset`, which must hold `position`.
    pub(crate) fn read(&self, offset: u64, position: u64) -> Result<(FrameKind, Vec<u8>), FileError> {
        let corrupt = |what: String| FileError::Corrupt {
            path: self.path.display().to_string(),
            offset,
            what,
        };
        let mut header = [0u8; HEADER];
        self.file
            .read_exact_at(&mut header, offset)
            .map_err(|e| corrupt(format!("unreadable header: {e}")))?;
        let (length, kind, crc, found) = parse_header(&header);
        let Some(kind) = kind.filter(|_| found == position && length <= MAX_PAYLOAD) else {
            return Err(corrupt(format!(
                "expected a frame at position {position}, found {found}"
            )));
        };
        let mut payload = vec![0u8; length as usize];
        self.file
            .read_exact_at(&mut payload, offset + HEADER as u64)
            .map_err(|e| corrupt(format!("unreadable payload: {e}")))?;
        if checksum(position, &payload) != crc {
            return Err(corrupt("checksum mismatch".into()));
        }
        Ok((kind, payload))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn group(first: u64, payloads: &[&str]) -> Vec<u8> {
        let mut buffer = Vec::new();
        for (position, payload) in (first..).zip(payloads) {
            encode(&mut buffer, position, payload.as_bytes());
        }
        buffer
    }

    #[test]
    fn frames_read_back_by_offset_and_by_scan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (mut file, found) = RecordFile::open(&path, 0).unwrap();
        assert!(found.is_empty());
        let at = file.append(&group(1, &["one", "two"]), true).unwrap();
        assert_eq!(at, 0);
        let second = file.append(&group(3, &["three"]), true).unwrap();
        assert_eq!(second, (2 * HEADER + 6) as u64);
        let reader = RecordReader::open(&path).unwrap();
        assert_eq!(reader.read(second, 3).unwrap(), (FrameKind::Record, b"three".to_vec()));
        assert!(
            reader.read(second, 4).is_err(),
            "a frame answers only for its own position"
        );
        drop(file);
        let (file, found) = RecordFile::open(&path, 0).unwrap();
        let positions: Vec<u64> = found.iter().map(|f| f.position).collect();
        assert_eq!(positions, vec![1, 2, 3]);
        assert_eq!(found[1].payload, b"two");
        assert_eq!(file.end(), second + HEADER as u64 + 5);
        // Scanning from a later frame sees only what follows it.
        let (_, found) = RecordFile::open(&path, second).unwrap();
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn a_torn_tail_is_moved_aside_and_cut_and_appends_continue_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (mut file, _) = RecordFile::open(&path, 0).unwrap();
        file.append(&group(1, &["kept"]), true).unwrap();
        let whole = file.end();
        // A crash mid-write: the header and half of the next group's payload.
        let torn = group(2, &["never acknowledged"]);
        file.append(&torn[..HEADER + 5], true).unwrap();
        drop(file);
        let (mut file, found) = RecordFile::open(&path, 0).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(file.end(), whole);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        let aside = dir.path().join(format!("audit.log.torn-{whole}"));
        assert_eq!(std::fs::read(aside).unwrap(), &torn[..HEADER + 5]);
        file.append(&group(2, &["next"]), true).unwrap();
        drop(file);
        let (_, found) = RecordFile::open(&path, 0).unwrap();
        assert_eq!(found.iter().map(|f| f.position).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(found[1].payload, b"next");
    }

    #[test]
    fn a_flipped_bit_fails_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (mut file, _) = RecordFile::open(&path, 0).unwrap();
        file.append(&group(1, &["payload"]), true).unwrap();
        drop(file);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER + 2] ^= 0x20;
        std::fs::write(&path, &bytes).unwrap();
        assert!(RecordReader::open(&path).unwrap().read(0, 1).is_err());
    }

    #[test]
    fn chained_records_digests_and_keys_carry_their_kind_and_a_record_its_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let (mut file, _) = RecordFile::open(&path, 0).unwrap();
        let link = iam_audit::integrity::ChainLink {
            sequence: 7,
            hash: iam_audit::integrity::ChainHash([9; 32]),
        };
        let mut buffer = Vec::new();
        encode(&mut buffer, 1, b"old");
        let chained = encode_kind(&mut buffer, 2, FrameKind::Chained, Some(&link), b"{\"a\":1}");
        encode_kind(&mut buffer, 3, FrameKind::Digest, None, b"{\"d\":1}");
        encode_kind(&mut buffer, 4, FrameKind::Key, None, b"{\"k\":1}");
        file.append(&buffer, true).unwrap();
        drop(file);
        let (_, found) = RecordFile::open(&path, 0).unwrap();
        let kinds: Vec<FrameKind> = found.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [FrameKind::Record, FrameKind::Chained, FrameKind::Digest, FrameKind::Key]
        );
        assert_eq!(
            split_link(found[1].kind, &found[1].payload),
            (Some(link), &b"{\"a\":1}"[..])
        );
        assert_eq!(split_link(found[0].kind, &found[0].payload), (None, &b"old"[..]));
        let (kind, payload) = RecordReader::open(&path).unwrap().read(chained as u64, 2).unwrap();
        assert_eq!(split_link(kind, &payload).0, Some(link));
    }

    #[test]
    fn an_index_ahead_of_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        assert!(matches!(RecordFile::open(&path, 100), Err(FileError::Corrupt { .. })));
    }
}
