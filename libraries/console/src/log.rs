//! The console log: whole lines from one writer (the root task) to one reader (the serial PD).
//!
//! Layout (all words little-endian `u64`, each on its own cache line):
//! - `WRITTEN` (offset 0): bytes ever appended; stored by the writer with Release after the
//!   record's bytes, so a reader that loads it with Acquire sees the whole record;
//! - `READ` (offset 64): bytes ever consumed; stored by the reader with Release after it copied
//!   the record out, so the writer that loads it with Acquire may reuse those bytes;
//! - `DROPPED` (offset 128): lines the writer dropped because the ring was full;
//! - the data area from offset 192 to the end: records of a 4-byte header (`len: u16`,
//!   `source: u16`) and `len` bytes of text, wrapping around the end byte by byte.
//!
//! The writer never waits: a line that does not fit is counted in `DROPPED` (the console must
//! not stall the root task's fault handling). PD lines may not use the last quarter of the ring
//! ([`ROOT_RESERVE_SHARE`]): however fast PDs log, the root task's own lines (fault reports)
//! still fit. The reader checks every position and length it
//! reads; a corrupt ring is reported once and the reader skips to the writer's position.

use crate::shared::Shared;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

const WRITTEN: usize = 0;
const READ: usize = 64;
const DROPPED: usize = 128;
const DATA: usize = 192;
const RECORD_HEADER: usize = 4;

/// Longest line a record carries; longer lines are cut.
pub const MAX_LINE: usize = 1024;
/// The root task's reserve: PD lines leave 1/ROOT_RESERVE_SHARE of the data area free.
pub const ROOT_RESERVE_SHARE: u64 = 4;
/// Smallest region that holds the header and one longest line.
pub const MIN_REGION: usize = DATA + RECORD_HEADER + MAX_LINE;

/// Who wrote a line: the root task (trusted: fault reports come only from it) or a PD (by its
/// index in the system description; its text is whatever the PD logged).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    /// The root task.
    Root,
    /// The PD with this index.
    Pd(u16),
}

impl Source {
    const ROOT: u16 = u16::MAX;

    fn encode(self) -> u16 {
        match self {
            Self::Root => Self::ROOT,
            Self::Pd(i) => i.min(Self::ROOT - 1),
        }
    }

    fn decode(v: u16) -> Self {
        if v == Self::ROOT {
            Self::Root
        } else {
            Self::Pd(v)
        }
    }
}

/// Why a region cannot hold a console log.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TooSmall;

impl fmt::Display for TooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a console log region needs at least {MIN_REGION} bytes")
    }
}

/// What a reader can find wrong with the ring.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LogError {
    /// The writer's position is behind the reader's or further ahead than the ring holds.
    CorruptPosition,
    /// A record header gives a length beyond [`MAX_LINE`] or beyond what was written.
    CorruptRecord,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CorruptPosition => "console log position out of range",
            Self::CorruptRecord => "console log record length out of range",
        })
    }
}

fn check(len: usize) -> Result<usize, TooSmall> {
    if len < MIN_REGION {
        return Err(TooSmall);
    }
    Ok(len - DATA)
}

/// The writing end (the root task).
pub struct LogWriter {
    mem: Shared,
    capacity: u64,
    written: u64,
}

impl LogWriter {
    /// Starts an empty log in the region: zeroes the header, so call it before the reader runs.
    ///
    /// # Safety
    /// `base..base+len` is mapped for as long as the writer is used, 8-byte aligned, and shared
    /// only with one [`LogReader`].
    pub unsafe fn init(base: NonNull<u8>, len: usize) -> Result<Self, TooSmall> {
        let capacity = check(len)? as u64;
        // SAFETY: the caller's contract.
        let mem = unsafe { Shared::new(base, len) };
        for w in [WRITTEN, READ, DROPPED] {
            mem.word(w).store(0, Ordering::Relaxed);
        }
        Ok(Self { mem, capacity, written: 0 })
    }

    /// Appends one line (cut to [`MAX_LINE`] bytes); false if it did not fit and was counted as
    /// dropped.
    pub fn push(&mut self, source: Source, line: &[u8]) -> bool {
        let line = &line[..line.len().min(MAX_LINE)];
        let need = (RECORD_HEADER + line.len()) as u64;
        let read = self.mem.word(READ).load(Ordering::Acquire);
        // A reader position outside [written - capacity, written] is the reader's corruption:
        // the writer cannot tell what is free, so it drops rather than overwrite unread text.
        let used = self.written.wrapping_sub(read);
        let reserve = if source == Source::Root { 0 } else { self.capacity / ROOT_RESERVE_SHARE };
        if used > self.capacity || self.capacity - used < need + reserve {
            self.mem.word(DROPPED).fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let len = line.len() as u16;
        let mut header = [0u8; RECORD_HEADER];
        header[..2].copy_from_slice(&len.to_le_bytes());
        header[2..].copy_from_slice(&source.encode().to_le_bytes());
        self.copy_in(self.written, &header);
        self.copy_in(self.written + RECORD_HEADER as u64, line);
        self.written += need;
        self.mem.word(WRITTEN).store(self.written, Ordering::Release);
        true
    }

    fn copy_in(&self, pos: u64, bytes: &[u8]) {
        let start = (pos % self.capacity) as usize;
        let first = bytes.len().min(self.capacity as usize - start);
        self.mem.write(DATA + start, &bytes[..first]);
        self.mem.write(DATA, &bytes[first..]);
    }

    /// Lines dropped so far because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.mem.word(DROPPED).load(Ordering::Relaxed)
    }
}

/// One line taken from the log.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Line {
    /// Who wrote it.
    pub source: Source,
    /// Bytes copied into the caller's buffer.
    pub len: usize,
}

/// The reading end (the serial PD).
pub struct LogReader {
    mem: Shared,
    capacity: u64,
    read: u64,
}

impl LogReader {
    /// Attaches to a log the writer initialised, starting at its current end of consumed text.
    ///
    /// # Safety
    /// As for [`LogWriter::init`], from the reader's side.
    pub unsafe fn attach(base: NonNull<u8>, len: usize) -> Result<Self, TooSmall> {
        let capacity = check(len)? as u64;
        // SAFETY: the caller's contract.
        let mem = unsafe { Shared::new(base, len) };
        let read = mem.word(READ).load(Ordering::Relaxed);
        Ok(Self { mem, capacity, read })
    }

    /// Takes the next line into `buf` (at least [`MAX_LINE`] bytes, else the line is cut), or
    /// `None` if there is none. On corruption the reader skips everything written so far.
    pub fn pop(&mut self, buf: &mut [u8]) -> Result<Option<Line>, LogError> {
        let written = self.mem.word(WRITTEN).load(Ordering::Acquire);
        let available = written.wrapping_sub(self.read);
        if available == 0 {
            return Ok(None);
        }
        if available > self.capacity || available < RECORD_HEADER as u64 {
            self.skip_to(written);
            return Err(if available > self.capacity { LogError::CorruptPosition } else { LogError::CorruptRecord });
        }
        let mut header = [0u8; RECORD_HEADER];
        self.copy_out(self.read, &mut header);
        let len = u16::from_le_bytes([header[0], header[1]]) as usize;
        let source = Source::decode(u16::from_le_bytes([header[2], header[3]]));
        if len > MAX_LINE || (RECORD_HEADER + len) as u64 > available {
            self.skip_to(written);
            return Err(LogError::CorruptRecord);
        }
        let take = len.min(buf.len());
        self.copy_out(self.read + RECORD_HEADER as u64, &mut buf[..take]);
        self.skip_to(self.read + (RECORD_HEADER + len) as u64);
        Ok(Some(Line { source, len: take }))
    }

    fn skip_to(&mut self, pos: u64) {
        self.read = pos;
        self.mem.word(READ).store(pos, Ordering::Release);
    }

    fn copy_out(&self, pos: u64, out: &mut [u8]) {
        let start = (pos % self.capacity) as usize;
        let first = out.len().min(self.capacity as usize - start);
        let (a, b) = out.split_at_mut(first);
        self.mem.read(DATA + start, a);
        self.mem.read(DATA, b);
    }

    /// Lines the writer dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.mem.word(DROPPED).load(Ordering::Relaxed)
    }
}
