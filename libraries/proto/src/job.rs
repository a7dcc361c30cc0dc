//! crypto ⇄ crypto_worker_N: transport data to seal or open, and what came of it.
//!
//! The crypto PD keeps the tunnels, routes and rings; a worker does the AEAD. A [`Job`] names
//! a packet by where it lies (a slot of a ring the worker maps too), the session slot to use,
//! and the ring slot crypto reserved for the result. A worker answers every job, in order, with
//! one [`JobResult`], so crypto commits results in the order the packets came (a flow is never
//! reordered, however many workers there are).
//!
//! Jobs and results travel in batches, one ring message each: a little-endian `u16` count, a
//! little-endian `u16` sequence number (a result batch carries its job batch's, so that crypto
//! sees a batch lost or added instead of matching results to the wrong jobs), the worker's
//! number as a little-endian `u16` (the gate in the session table the worker works the batch
//! inside: `pd_session::gate`), two zero bytes, then the records.

/// Bytes of one job record.
pub const JOB_LEN: usize = 16;
/// Bytes of one result record.
pub const RESULT_LEN: usize = 4;
/// Bytes before the records of a batch.
pub const BATCH_HEADER_LEN: usize = 8;
/// Most records in one batch (a batch of jobs fits a ring slot).
pub const MAX_BATCH: usize = 64;

/// What a job asks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JobKind {
    /// Seal the plaintext packet at `input` (a slot of the net_red → crypto ring) into a data
    /// message at `output + ENDPOINT_HEADER_LEN` (a slot of the crypto → net_black ring that
    /// crypto reserved, endpoint header already written).
    Seal,
    /// Open the data message at `input + ENDPOINT_HEADER_LEN` (a slot of the net_black → crypto
    /// ring) and write the inner packet at `output` (a slot of the crypto → net_red ring that
    /// crypto reserved), if its source is one of the peer's AllowedIPs.
    Open,
}

/// One packet for a worker.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Job {
    /// Seal or open.
    pub kind: JobKind,
    /// The peer (its position in the config).
    pub peer: u16,
    /// Which of the peer's session slots (receiving index % 8).
    pub slot: u8,
    /// Seal: the plaintext's length; open: the message's length.
    pub len: u16,
    /// Seal: the plaintext's length with WireGuard's padding; open: unused (0).
    pub padded: u16,
    /// Byte offset of the input ring slot.
    pub input: u32,
    /// Byte offset of the output ring slot.
    pub output: u32,
}

impl Job {
    /// Writes the record into `buf` (at least [`JOB_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = match self.kind {
            JobKind::Seal => 1,
            JobKind::Open => 2,
        };
        buf[1] = self.slot;
        buf[2..4].copy_from_slice(&self.peer.to_le_bytes());
        buf[4..6].copy_from_slice(&self.len.to_le_bytes());
        buf[6..8].copy_from_slice(&self.padded.to_le_bytes());
        buf[8..12].copy_from_slice(&self.input.to_le_bytes());
        buf[12..16].copy_from_slice(&self.output.to_le_bytes());
    }

    /// Reads a record; None if it is short or names no kind.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.get(..JOB_LEN)?;
        let kind = match b[0] {
            1 => JobKind::Seal,
            2 => JobKind::Open,
            _ => return None,
        };
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Self { kind, slot: b[1], peer: u16_at(2), len: u16_at(4), padded: u16_at(6), input: u32_at(8), output: u32_at(12) })
    }
}

/// How a job ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JobStatus {
    /// Sealed or opened: the output slot holds `len` bytes (open: the inner packet as its IP
    /// header sizes it; 0 for a keepalive, whose slot holds nothing).
    Done,
    /// The session slot holds no usable session for this (empty, replaced, mid-write, or not
    /// the message's receiver index): crypto handles the packet itself.
    NoSession,
    /// The session is past Reject-After-Time or out of counters.
    Expired,
    /// Open: a counter seen before.
    Replayed,
    /// Open: a counter too far behind the window, or beyond the largest.
    BadCounter,
    /// Open: the message did not authenticate.
    Aead,
    /// Open: not a well-formed data message.
    Malformed,
    /// Open: the inner packet is not an IP packet holding its own header and length.
    MalformedInner,
    /// Open: the inner packet's source is not one of the peer's AllowedIPs.
    SourceNotAllowed,
    /// Seal: the packet's destination is not one of the peer's AllowedIPs (its ring slot was
    /// rewritten after crypto routed it): crypto handles it itself.
    Misrouted,
    /// The job named a slot outside a region, a peer or session slot the worker does not
    /// have, or a length beyond a slot: a bug in crypto, counted, nothing written.
    BadJob,
}

impl JobStatus {
    const ALL: [Self; 11] = [
        Self::Done,
        Self::NoSession,
        Self::Expired,
        Self::Replayed,
        Self::BadCounter,
        Self::Aead,
        Self::Malformed,
        Self::MalformedInner,
        Self::SourceNotAllowed,
        Self::BadJob,
        Self::Misrouted,
    ];
}

/// What a worker answers to one job.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct JobResult {
    /// How it ended.
    pub status: JobStatus,
    /// Bytes written to the output slot (after the endpoint header, for a seal).
    pub len: u16,
}

impl JobResult {
    /// Writes the record into `buf` (at least [`RESULT_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = Self::code(self.status);
        buf[1] = 0;
        buf[2..4].copy_from_slice(&self.len.to_le_bytes());
    }

    fn code(status: JobStatus) -> u8 {
        JobStatus::ALL.iter().position(|&s| s == status).unwrap_or(JobStatus::ALL.len() - 1) as u8
    }

    /// Reads a record; None if it is short or its status is unknown.
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.get(..RESULT_LEN)?;
        let status = *JobStatus::ALL.get(usize::from(b[0]))?;
        Some(Self { status, len: u16::from_le_bytes([b[2], b[3]]) })
    }
}

/// Writes a batch header for `count` records, sequence number `seq`, of worker `worker`, into
/// `buf` (at least [`BATCH_HEADER_LEN`] bytes).
pub fn emit_batch_header(buf: &mut [u8], count: usize, seq: u16, worker: u16) {
    buf[..2].copy_from_slice(&(count as u16).to_le_bytes());
    buf[2..4].copy_from_slice(&seq.to_le_bytes());
    buf[4..6].copy_from_slice(&worker.to_le_bytes());
    buf[6..8].fill(0);
}

/// A batch's sequence number (0 if the header is short: [`batch_records`] refuses it).
pub fn batch_seq(msg: &[u8]) -> u16 {
    msg.get(2..4).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
}

/// The number of the worker a batch is for (0 if the header is short: [`batch_records`]
/// refuses it).
pub fn batch_worker(msg: &[u8]) -> u16 {
    msg.get(4..6).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
}

/// The records of a batch of `record_len`-byte records: None if the header is short, the count
/// exceeds [`MAX_BATCH`], or the message is shorter than the count says.
pub fn batch_records(msg: &[u8], record_len: usize) -> Option<impl Iterator<Item = &[u8]>> {
    let count = usize::from(u16::from_le_bytes([*msg.first()?, *msg.get(1)?]));
    let body = msg.get(BATCH_HEADER_LEN..BATCH_HEADER_LEN + count * record_len)?;
    (count <= MAX_BATCH).then(|| body.chunks_exact(record_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_results_survive_emit_and_parse() {
        let job = Job { kind: JobKind::Open, peer: 1023, slot: 7, len: 1452, padded: 0, input: 2048 * 511, output: 2048 * 3 };
        let mut buf = [0u8; JOB_LEN];
        job.emit(&mut buf);
        assert_eq!(Job::parse(&buf), Some(job));
        for status in JobStatus::ALL {
            let r = JobResult { status, len: 1400 };
            let mut buf = [0u8; RESULT_LEN];
            r.emit(&mut buf);
            assert_eq!(JobResult::parse(&buf), Some(r));
        }
    }

    #[test]
    fn malformed_records_and_batches_are_refused() {
        assert_eq!(Job::parse(&[3; JOB_LEN]), None, "unknown kind");
        assert_eq!(Job::parse(&[1; JOB_LEN - 1]), None, "short");
        assert_eq!(JobResult::parse(&[11, 0, 0, 0]), None, "unknown status");
        let mut msg = [0u8; BATCH_HEADER_LEN + 2 * RESULT_LEN];
        emit_batch_header(&mut msg, 3, 7, 5);
        assert!(batch_records(&msg, RESULT_LEN).is_none(), "count beyond the message");
        emit_batch_header(&mut msg, 2, 7, 5);
        assert_eq!(batch_records(&msg, RESULT_LEN).unwrap().count(), 2);
        assert_eq!((batch_seq(&msg), batch_worker(&msg)), (7, 5));
        let mut big = [0u8; BATCH_HEADER_LEN + (MAX_BATCH + 1) * RESULT_LEN];
        emit_batch_header(&mut big, MAX_BATCH + 1, 0, 0);
        assert!(batch_records(&big, RESULT_LEN).is_none(), "count beyond MAX_BATCH");
        assert!(batch_records(&[1], RESULT_LEN).is_none(), "no header");
        assert!(batch_records(&[0; BATCH_HEADER_LEN - 1], RESULT_LEN).is_none(), "a short header");
    }
}
