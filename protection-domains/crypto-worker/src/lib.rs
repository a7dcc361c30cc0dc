//! A crypto worker PD: seals and opens WireGuard transport data for the crypto PD, so that the
//! AEAD, the costliest work per packet, runs on as many cores as there are workers (issue 18).
//!
//! The crypto PD keeps everything else: boringtun's handshakes and timers, routing, the rings to
//! net_red and net_black. For each transport packet it hands a worker a [`Job`] over the link
//! named `crypto`: where the packet lies (a slot of a ring from net_red or net_black, which the
//! worker maps read-only), which session slot to use, and the slot it reserved in the ring to
//! net_black or net_red for the result, which the worker maps writable. The worker answers each
//! job, in order, with a [`JobResult`]; crypto then publishes the result slots in the order the
//! packets came, so no flow is reordered however many workers share the work.
//!
//! - Seal: the plaintext is copied into this PD's memory, padded, sealed there with the
//!   session's next counter (`pd_session`: the counter is shared by every worker), and only the
//!   finished message is copied into the black ring slot. Plaintext never lies in memory a black
//!   PD maps.
//! - Open: the message is copied into this PD's memory, its counter checked against the
//!   session's shared replay window, opened, the counter claimed (a replay sent to two workers
//!   is accepted by one), and the inner packet, if its source is one of the peer's AllowedIPs,
//!   copied into the red ring slot.
//!
//! Crypto may give a worker up (it broke the job protocol, or went silent) and hand the ring
//! slots of its jobs to others; the worker works each batch inside its gate in the session
//! table (`pd_session::gate`), which crypto closes first, so a worker given up that runs again
//! touches no slot (its batches are counted, `batches_after_give_up`, and not answered).
//!
//! Keys: the worker reads sessions from the `session_keys` region, which only crypto PDs map,
//! and copies them into its own memory to use them. It never sees the static private key or the
//! preshared keys: its config region is the file with its keys taken out (it needs the peers'
//! AllowedIPs only).

#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use encryptor_config::{cryptokey_routes, Prefix, PrefixTable, StartError};
use pd_api::{Channel, ChannelSet, Handler, MemoryRegion};
use pd_proto::job::{self, Job, JobKind, JobResult, JobStatus, JOB_LEN, RESULT_LEN};
use pd_proto::ENDPOINT_HEADER_LEN;
use pd_ring::{Link, LinkError, RingError, SLOT_SIZE};
use pd_session::transport::{inner_destination, inner_packet, DATA_HEADER_LEN, DATA_OVERHEAD};
use pd_session::{OpenError, ReplayError, SealError, SessionTable, WorkerSession, SLOTS_PER_PEER};

/// Channel to the crypto PD (the link named `crypto`).
pub const CRYPTO: Channel = Channel::new(0);

/// Largest plaintext a job may seal: what fits a black slot after the endpoint header and
/// WireGuard's overhead.
const MAX_PLAINTEXT: usize = SLOT_SIZE - ENDPOINT_HEADER_LEN - DATA_OVERHEAD;

pd_api::counters! {
    /// What the worker did, and every job that did not end in a packet, by reason.
    pub struct Counters {
        job_batches,
        sealed_packets,
        opened_packets,
        keepalives_rx,
        no_session,
        expired,
        misrouted,
        drop_replay,
        drop_bad_counter,
        drop_bad_aead,
        drop_malformed,
        drop_malformed_inner,
        drop_source_not_allowed,
        bad_jobs,
        bad_batches,
        batches_after_give_up,
        drop_ring_error,
    }
}

/// Why a worker could not start.
#[derive(Debug)]
pub enum InitError {
    /// The link to crypto is missing or malformed.
    Link(LinkError),
    /// A region the worker needs is not mapped (its name).
    MissingRegion(&'static str),
    /// The session_keys region is not aligned for the table, or too small for its gates.
    BadSessionTable,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Link(e) => write!(f, "link crypto: {e}"),
            Self::MissingRegion(name) => write!(f, "region {name} is not mapped"),
            Self::BadSessionTable => f.write_str("region session_keys is not aligned for the session table, or smaller than its workers' gates"),
        }
    }
}

/// The regions the worker reads packets from and writes results to (ring data regions of
/// crypto's links, mapped by name).
struct Rings {
    /// net_red → crypto slots (read-only): plaintext to seal.
    red_in: MemoryRegion,
    /// crypto → net_black slots: sealed messages.
    black_out: MemoryRegion,
    /// net_black → crypto slots (read-only): messages to open.
    black_in: MemoryRegion,
    /// crypto → net_red slots: opened packets.
    red_out: MemoryRegion,
}

/// The crypto worker PD.
pub struct CryptoWorker {
    crypto: Link,
    rings: Rings,
    table: SessionTable,
    /// Peers in the config (a job's peer number is below it).
    peers: usize,
    /// Every peer's AllowedIPs → peer number (config order): crypto's cryptokey routing table.
    routes: PrefixTable<usize>,
    /// This PD's copy of each session slot it used (peer * SLOTS_PER_PEER + slot), read again
    /// when the slot changes; boxed, as a copy holds ring's expanded keys (1.2 KiB).
    copies: Vec<Option<Box<WorkerSession>>>,
    /// Indices of `copies` that hold one (checked on every wake, see [`CryptoWorker::drop_stale_copies`]).
    held: Vec<usize>,
    /// The batch of jobs being worked, copied out of the ring.
    jobs: Box<[u8; SLOT_SIZE]>,
    /// The batch of results being written.
    results: Box<[u8; SLOT_SIZE]>,
    /// The packet being sealed or opened, in this PD's memory.
    buf: Box<[u8; DATA_OVERHEAD + SLOT_SIZE]>,
    counters: Counters,
    /// The monotonic clock, read once per batch (sessions' ages).
    now_ns: u64,
    /// ring's ChaCha20-Poly1305 code on this core (for `status`: the AEAD is this PD's work).
    aead: pd_session::cpu::AeadPath,
}

impl CryptoWorker {
    /// Builds the worker from the regions and link the platform mapped, and the peers'
    /// AllowedIPs (in config order).
    pub fn new(allowed_ips: Vec<Vec<Prefix>>) -> Result<Self, InitError> {
        let region = |name: &'static str| pd_api::memory_region(name).ok_or(InitError::MissingRegion(name));
        let rings = Rings {
            red_in: region("red_in_data")?,
            black_out: region("black_out_data")?,
            black_in: region("black_in_data")?,
            red_out: region("red_out_data")?,
        };
        let table = SessionTable::in_region(region("session_keys")?).ok_or(InitError::BadSessionTable)?;
        let crypto = Link::open("crypto", CRYPTO).map_err(InitError::Link)?;
        let copies = (0..table.peers() * SLOTS_PER_PEER).map(|_| None).collect();
        Ok(Self {
            crypto,
            rings,
            table,
            peers: allowed_ips.len(),
            routes: cryptokey_routes(allowed_ips.iter().map(Vec::as_slice)),
            copies,
            held: Vec::new(),
            jobs: Box::new([0; SLOT_SIZE]),
            results: Box::new([0; SLOT_SIZE]),
            buf: Box::new([0; DATA_OVERHEAD + SLOT_SIZE]),
            counters: Counters::default(),
            now_ns: pd_api::now_ns(),
            aead: pd_session::cpu::aead_path(),
        })
    }

    /// The worker as both platforms start it: the peers' AllowedIPs from its config region
    /// (the config file with its keys taken out).
    pub fn start() -> Result<Self, StartError<InitError>> {
        let (mut crypto, _, _) = encryptor_config::read_config().map_err(StartError::Config)?.into_parts();
        let allowed_ips = core::mem::take(&mut crypto.peers).into_iter().map(|mut p| core::mem::take(&mut p.allowed_ips)).collect();
        Self::new(allowed_ips).map_err(StartError::Init)
    }

    /// This PD's counters.
    pub fn counters_snapshot(&self) -> &Counters {
        &self.counters
    }

    /// Works one batch of jobs (`self.jobs[..len]`) and sends its results.
    fn run_batch(&mut self, len: usize) -> Result<(), RingError> {
        self.counters.job_batches += 1;
        let jobs = *self.jobs;
        let Some(records) = job::batch_records(&jobs[..len], JOB_LEN) else {
            // crypto sent something that is not a batch: nothing can be answered.
            self.counters.bad_batches += 1;
            return Ok(());
        };
        let (seq, worker) = (job::batch_seq(&jobs[..len]), job::batch_worker(&jobs[..len]));
        // Every ring slot a job names is touched inside the gate: once crypto has given this
        // worker up, the slots are back in use by others.
        match self.table.gate(usize::from(worker)) {
            Some(gate) if gate.enter() => {}
            Some(_) => {
                self.counters.batches_after_give_up += 1;
                return Ok(());
            }
            None => {
                self.counters.bad_batches += 1;
                return Ok(());
            }
        }
        let mut count = 0;
        for record in records {
            let result = match Job::parse(record) {
                Some(j) => self.run(&j),
                None => JobResult { status: JobStatus::BadJob, len: 0 },
            };
            self.count(result.status);
            let at = job::BATCH_HEADER_LEN + count * RESULT_LEN;
            result.emit(&mut self.results[at..at + RESULT_LEN]);
            count += 1;
        }
        if let Some(gate) = self.table.gate(usize::from(worker)) {
            gate.leave();
        }
        job::emit_batch_header(&mut self.results[..], count, seq, worker);
        let n = job::BATCH_HEADER_LEN + count * RESULT_LEN;
        match self.crypto.tx.send(&self.results[..n]) {
            Ok(true) => Ok(()),
            // crypto keeps no more batches in flight than the ring holds: not reached.
            Ok(false) => {
                self.counters.drop_ring_error += 1;
                Ok(())
            }
            Err(e) => {
                self.counters.drop_ring_error += 1;
                Err(e)
            }
        }
    }

    fn count(&mut self, status: JobStatus) {
        let c = &mut self.counters;
        *match status {
            // Counted where the kind is known.
            JobStatus::Done => return,
            JobStatus::NoSession => &mut c.no_session,
            JobStatus::Expired => &mut c.expired,
            JobStatus::Replayed => &mut c.drop_replay,
            JobStatus::BadCounter => &mut c.drop_bad_counter,
            JobStatus::Aead => &mut c.drop_bad_aead,
            JobStatus::Malformed => &mut c.drop_malformed,
            JobStatus::MalformedInner => &mut c.drop_malformed_inner,
            JobStatus::SourceNotAllowed => &mut c.drop_source_not_allowed,
            JobStatus::Misrouted => &mut c.misrouted,
            JobStatus::BadJob => &mut c.bad_jobs,
        } += 1;
    }

    fn run(&mut self, j: &Job) -> JobResult {
        let status = |status| JobResult { status, len: 0 };
        let slot_aligned = |offset: u32| offset as usize % SLOT_SIZE == 0;
        if usize::from(j.peer) >= self.peers
            || usize::from(j.slot) >= SLOTS_PER_PEER
            || !slot_aligned(j.input)
            || !slot_aligned(j.output)
        {
            return status(JobStatus::BadJob);
        }
        if !self.refresh(usize::from(j.peer), usize::from(j.slot)) {
            return status(JobStatus::NoSession);
        }
        match j.kind {
            JobKind::Seal => self.seal(j),
            JobKind::Open => self.open(j),
        }
        .unwrap_or_else(status)
    }

    /// Reads session slot `slot` of `peer` into this PD's copy again if the slot changed; false
    /// if the slot holds no session (or is being written), or the table has no such peer.
    fn refresh(&mut self, peer: usize, slot: usize) -> bool {
        let Some(shared) = self.table.peer(peer).and_then(|s| s.get(slot)) else { return false };
        let Some(copy) = self.copies.get_mut(peer * SLOTS_PER_PEER + slot) else { return false };
        if !matches!(copy, Some(c) if c.is_current(shared)) {
            let was_held = copy.is_some();
            *copy = shared.read().ok().map(|s| Box::new(WorkerSession::new(s)));
            match (was_held, copy.is_some()) {
                (false, true) => self.held.push(peer * SLOTS_PER_PEER + slot),
                (true, false) => self.held.retain(|&k| k != peer * SLOTS_PER_PEER + slot),
                _ => {}
            }
        }
        copy.is_some()
    }

    /// Drops the copies of sessions no longer in their slots (retired or replaced), whose keys
    /// go with them (WorkerSession wipes them). crypto wakes the workers when a slot changes,
    /// so a retired session's keys do not outlive it here until a job names its slot again.
    fn drop_stale_copies(&mut self) {
        let (table, copies) = (&self.table, &mut self.copies);
        self.held.retain(|&k| {
            let current = table
                .peer(k / SLOTS_PER_PEER)
                .and_then(|slots| slots.get(k % SLOTS_PER_PEER))
                .is_some_and(|slot| copies[k].as_ref().is_some_and(|c| c.is_current(slot)));
            if !current {
                copies[k] = None;
            }
            current
        });
    }

    fn seal(&mut self, j: &Job) -> Result<JobResult, JobStatus> {
        let (len, padded) = (usize::from(j.len), usize::from(j.padded));
        if len > padded || padded > MAX_PLAINTEXT {
            return Err(JobStatus::BadJob);
        }
        let body = &mut self.buf[DATA_HEADER_LEN..DATA_HEADER_LEN + padded];
        if !self.rings.red_in.copy_out(j.input as usize, &mut body[..len]) {
            return Err(JobStatus::BadJob);
        }
        body[len..].fill(0);
        // The packet as copied must be for this peer: crypto routed it on its own look at the
        // ring slot, which net_red could rewrite since (a restarted net_red refills slots crypto
        // still holds).
        let to_peer = inner_destination(&body[..len]).is_some_and(|dst| self.routes.get(dst) == Some(usize::from(j.peer)));
        if !to_peer {
            body.fill(0);
            return Err(JobStatus::Misrouted);
        }
        let now = self.now_ns;
        let (slot, session) = slot_and_copy(&self.table, &self.copies, j).ok_or(JobStatus::NoSession)?;
        let sealed = session.seal(slot, &mut self.buf[..], padded, now);
        let n = match sealed {
            Ok(n) => n,
            Err(e) => {
                self.buf[DATA_HEADER_LEN..DATA_HEADER_LEN + padded].fill(0);
                return Err(match e {
                    SealError::TooBig => JobStatus::BadJob,
                    SealError::Stale => JobStatus::NoSession,
                    SealError::Expired => JobStatus::Expired,
                });
            }
        };
        // Only the finished message goes to the black slot.
        if !self.rings.black_out.copy_in(j.output as usize + ENDPOINT_HEADER_LEN, &self.buf[..n]) {
            return Err(JobStatus::BadJob);
        }
        self.counters.sealed_packets += 1;
        Ok(JobResult { status: JobStatus::Done, len: n as u16 })
    }

    fn open(&mut self, j: &Job) -> Result<JobResult, JobStatus> {
        let len = usize::from(j.len);
        if !(DATA_OVERHEAD..=SLOT_SIZE - ENDPOINT_HEADER_LEN).contains(&len) {
            return Err(JobStatus::Malformed);
        }
        if !self.rings.black_in.copy_out(j.input as usize + ENDPOINT_HEADER_LEN, &mut self.buf[..len]) {
            return Err(JobStatus::BadJob);
        }
        let now = self.now_ns;
        let (slot, session) = slot_and_copy(&self.table, &self.copies, j).ok_or(JobStatus::NoSession)?;
        let opened = session.open(slot, &mut self.buf[..len], now);
        let n = opened.map_err(|e| match e {
            OpenError::Malformed => JobStatus::Malformed,
            OpenError::WrongIndex | OpenError::Stale => JobStatus::NoSession,
            OpenError::Expired => JobStatus::Expired,
            OpenError::Replay(ReplayError::Replayed) => JobStatus::Replayed,
            OpenError::Replay(ReplayError::TooOld | ReplayError::TooLarge) => JobStatus::BadCounter,
            OpenError::Aead => JobStatus::Aead,
        })?;
        if n == 0 {
            self.counters.keepalives_rx += 1;
            return Ok(JobResult { status: JobStatus::Done, len: 0 });
        }
        let plaintext = &self.buf[DATA_HEADER_LEN..DATA_HEADER_LEN + n];
        let (out_len, src) = inner_packet(plaintext).ok_or(JobStatus::MalformedInner)?;
        // Cryptokey routing, as crypto checks it: the source routes back to this peer.
        if self.routes.get(src) != Some(usize::from(j.peer)) {
            return Err(JobStatus::SourceNotAllowed);
        }
        if !self.rings.red_out.copy_in(j.output as usize, &plaintext[..out_len]) {
            return Err(JobStatus::BadJob);
        }
        self.counters.opened_packets += 1;
        Ok(JobResult { status: JobStatus::Done, len: out_len as u16 })
    }
}

/// The session slot a job names and this PD's copy of it (after [`CryptoWorker::refresh`]).
fn slot_and_copy<'a>(
    table: &'a SessionTable,
    copies: &'a [Option<Box<WorkerSession>>],
    j: &Job,
) -> Option<(&'a pd_session::SessionSlot, &'a WorkerSession)> {
    let (peer, slot) = (usize::from(j.peer), usize::from(j.slot));
    let shared = table.peer(peer)?.get(slot)?;
    let copy = copies.get(peer * SLOTS_PER_PEER + slot)?.as_deref()?;
    Some((shared, copy))
}

impl Handler for CryptoWorker {
    type Error = RingError;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), RingError> {
        self.drop_stale_copies();
        let mut result = Ok(());
        loop {
            // A batch is taken only with room for its results.
            while self.crypto.tx.ready() {
                let len = match self.crypto.rx.recv(&mut self.jobs) {
                    Ok(Some(len)) => len,
                    Ok(None) => break,
                    Err(e) => {
                        self.counters.drop_ring_error += 1;
                        result = Err(e);
                        break;
                    }
                };
                // Sessions' ages are judged by this: fresh for each batch, however long crypto
                // keeps this loop fed.
                self.now_ns = pd_api::now_ns();
                if let Err(e) = self.run_batch(len) {
                    result = Err(e);
                    break;
                }
                // Each batch's results at once, not after the last batch queued: crypto
                // completes them and dispatches more while this worker works on (a signal only
                // if crypto sleeps waiting for them).
                self.crypto.signal_peer();
            }
            self.crypto.signal_peer();
            if !(self.crypto.arm() && self.crypto.tx.ready()) || result.is_err() {
                break;
            }
        }
        result
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        self.counters.report(report);
    }

    /// The AEAD code it runs and the sessions it holds copies of: what an operator checks when
    /// the workers' share of the work (their counters) looks wrong.
    fn status(&self, report: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
        let held = self.copies.iter().filter(|c| c.is_some()).count();
        report(format_args!(
            "ChaCha20-Poly1305: {}; session copies {held} (of {} slots for {} peers)",
            self.aead,
            self.copies.len(),
            self.table.peers()
        ));
    }
}
