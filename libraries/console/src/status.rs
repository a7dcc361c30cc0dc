//! A PD's status page: the latest text snapshot of its counters and status lines, one writer
//! (the PD, through its runtime) and one reader (the serial PD, which maps it read-only).
//!
//! Layout: `SEQ` (offset 0), `LEN` (8), `PUBLISHED_NS` (16), text from offset 64. A seqlock:
//! the writer makes `SEQ` odd (Relaxed store, then a Release fence), writes the text, `LEN` and
//! `PUBLISHED_NS`, then makes `SEQ` even with a Release store. The reader loads `SEQ` with
//! Acquire, copies, issues an Acquire fence and loads `SEQ` again: equal and even means the copy
//! is one whole snapshot. The reader never writes, so it can map the page read-only.

use crate::shared::Shared;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{fence, Ordering};

const SEQ: usize = 0;
const LEN: usize = 8;
const PUBLISHED_NS: usize = 16;
const TEXT: usize = 64;
/// How often the reader retries a snapshot that changed under it.
const READ_ATTEMPTS: usize = 4;

/// Why a status page could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StatusError {
    /// The region is smaller than the page header.
    TooSmall,
    /// The PD has not published yet.
    NotPublished,
    /// Every attempt raced with the writer.
    Busy,
    /// The length word exceeds the page.
    Corrupt,
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooSmall => "status region too small",
            Self::NotPublished => "not published yet",
            Self::Busy => "being updated",
            Self::Corrupt => "status page length out of range",
        })
    }
}

/// The PD's side.
pub struct StatusWriter {
    mem: Shared,
    seq: u64,
}

impl StatusWriter {
    /// A writer for the page at `base`.
    ///
    /// # Safety
    /// `base..base+len` is mapped for as long as the writer is used, 8-byte aligned, and only
    /// this writer writes it.
    pub unsafe fn new(base: NonNull<u8>, len: usize) -> Result<Self, StatusError> {
        if len <= TEXT {
            return Err(StatusError::TooSmall);
        }
        // SAFETY: the caller's contract.
        let mem = unsafe { Shared::new(base, len) };
        let seq = mem.word(SEQ).load(Ordering::Relaxed) & !1;
        Ok(Self { mem, seq })
    }

    /// Replaces the snapshot with `text` (cut at the page's end, marked `...`). The page is
    /// marked as being updated only for the copy: a PD that formats its text beforehand is
    /// caught mid-update by the reader far less often than one formatting inside [`publish`].
    ///
    /// [`publish`]: Self::publish
    pub fn publish_text(&mut self, now_ns: u64, text: &str) {
        self.publish(now_ns, |page| {
            let _ = fmt::Write::write_str(page, text);
        });
    }

    /// Replaces the snapshot with what `fill` writes (cut at the page's end, marked `...`).
    pub fn publish(&mut self, now_ns: u64, fill: impl FnOnce(&mut PageText<'_>)) {
        self.seq += 1;
        self.mem.word(SEQ).store(self.seq, Ordering::Relaxed);
        fence(Ordering::Release);
        let mut text = PageText { mem: &self.mem, len: 0, cut: false };
        fill(&mut text);
        if text.cut {
            let end = text.capacity().saturating_sub(4);
            text.len = end;
            text.cut = false;
            let _ = fmt::Write::write_str(&mut text, "...\n");
        }
        self.mem.word(LEN).store(text.len as u64, Ordering::Relaxed);
        self.mem.word(PUBLISHED_NS).store(now_ns, Ordering::Relaxed);
        self.seq += 1;
        self.mem.word(SEQ).store(self.seq, Ordering::Release);
    }
}

/// The text being written into a page ([`fmt::Write`]); text past the page's end is cut.
pub struct PageText<'a> {
    mem: &'a Shared,
    len: usize,
    cut: bool,
}

impl PageText<'_> {
    fn capacity(&self) -> usize {
        self.mem.len() - TEXT
    }
}

impl fmt::Write for PageText<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.capacity() - self.len;
        let take = s.len().min(room);
        self.mem.write(TEXT + self.len, &s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            self.cut = true;
        }
        Ok(())
    }
}

/// Text formatted ahead of [`StatusWriter::publish_text`] in a fixed buffer of `N` bytes (no
/// heap, so publishing can never fail for want of it): whole pieces while they fit, then a
/// `...` line marks the cut.
pub struct StagedText<const N: usize> {
    buf: [u8; N],
    len: usize,
    cut: bool,
}

const CUT_MARK: &str = "...\n";

impl<const N: usize> StagedText<N> {
    /// Empty text.
    pub const fn new() -> Self {
        Self { buf: [0; N], len: 0, cut: false }
    }

    /// The text so far (with the cut mark, if cut).
    pub fn as_str(&self) -> &str {
        // Only whole `&str` pieces were copied in: always UTF-8.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Default for StagedText<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for StagedText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        let (piece, cut) = if self.len + s.len() + CUT_MARK.len() <= N { (s, false) } else { (CUT_MARK, true) };
        if self.len + piece.len() <= N {
            self.buf[self.len..self.len + piece.len()].copy_from_slice(piece.as_bytes());
            self.len += piece.len();
        }
        self.cut = cut;
        Ok(())
    }
}

/// One consistent snapshot copied out of a page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Snapshot {
    /// Bytes of text copied into the caller's buffer.
    pub len: usize,
    /// The publisher's monotonic clock when it published.
    pub published_ns: u64,
}

/// The serial PD's read-only view of a page.
pub struct StatusReader {
    mem: Shared,
}

impl StatusReader {
    /// A reader for the page at `base`.
    ///
    /// # Safety
    /// `base..base+len` is mapped (read-only is enough) for as long as the reader is used and
    /// 8-byte aligned.
    pub unsafe fn new(base: NonNull<u8>, len: usize) -> Result<Self, StatusError> {
        if len <= TEXT {
            return Err(StatusError::TooSmall);
        }
        // SAFETY: the caller's contract.
        Ok(Self { mem: unsafe { Shared::new(base, len) } })
    }

    /// Copies the latest whole snapshot into `buf` (cut to its size).
    pub fn read(&self, buf: &mut [u8]) -> Result<Snapshot, StatusError> {
        for _ in 0..READ_ATTEMPTS {
            let before = self.mem.word(SEQ).load(Ordering::Acquire);
            if before == 0 {
                return Err(StatusError::NotPublished);
            }
            if before % 2 == 1 {
                core::hint::spin_loop();
                continue;
            }
            let len = self.mem.word(LEN).load(Ordering::Relaxed);
            let published_ns = self.mem.word(PUBLISHED_NS).load(Ordering::Relaxed);
            let valid = len <= (self.mem.len() - TEXT) as u64;
            let take = if valid { (len as usize).min(buf.len()) } else { 0 };
            self.mem.read(TEXT, &mut buf[..take]);
            fence(Ordering::Acquire);
            if self.mem.word(SEQ).load(Ordering::Relaxed) != before {
                continue;
            }
            if !valid {
                return Err(StatusError::Corrupt);
            }
            return Ok(Snapshot { len: take, published_ns });
        }
        Err(StatusError::Busy)
    }
}
