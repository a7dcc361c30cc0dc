//! Crypto workers: the AEAD of transport data on other cores (issue 18).
//!
//! When the system gives crypto links named `worker0`, `worker1`, ... (each to a
//! `crypto_worker` PD) and the `session_keys` region, crypto stops sealing and opening transport
//! data itself. For each packet that has a session it takes the ring slot without copying
//! ([`pd_ring::Receiver::take`]), reserves the slot the result goes to
//! ([`pd_ring::Sender::reserve`]), and hands a [`Job`] to the next worker in turn; jobs travel in
//! batches, one ring message per worker per pass. Workers answer each job in order, and crypto
//! completes jobs strictly in the order it dispatched them (one FIFO over all workers), so it
//! publishes results to net_black and net_red in the order the packets came.
//!
//! What needs boringtun stays here: packets without a usable session (queued behind a handshake,
//! or a handshake started), handshake and cookie messages, timers. A packet to seal that a worker
//! answers with "no session" or "expired" (the session changed after dispatch) is handled here
//! too, as if it had just arrived; a message to open is dropped (counted), as crypto's own open
//! drops one whose session is gone. A worker that breaks the job protocol (an answer that is not
//! to the batch due, a broken ring) is given up: its jobs in flight are failed, the others go on,
//! and with none left crypto does the AEAD itself. So is a worker that leaves its oldest batch
//! unanswered for [`WORKER_SILENT_TICKS`] of crypto's timer ticks (one that refused to start, or
//! hangs): jobs complete in dispatch order, so one silent worker would otherwise hold every
//! other job, and crypto's input, for ever.
//!
//! Failing a job hands its ring slots back into use, so first crypto closes the worker's gate in
//! the session table (`pd_session::gate`), inside which the worker works each batch: a worker
//! given up that runs again touches no slot. A worker given up inside a batch keeps its jobs'
//! slots (taken out of the dispatch order, so the other workers' results complete meanwhile)
//! until it leaves; one that never leaves makes crypto ask for a restart of the group.
//!
//! Crypto tells boringtun's timers of every packet the
//! workers sealed or opened, and takes the peer's endpoint from each message they authenticated,
//! as it does for its own.
//!
//! Bounds: at most [`MAX_IN_FLIGHT`] jobs, and a worker's batches in flight at most what its
//! job ring holds; past either, crypto takes no more input until results come back (the ring
//! slots it holds are the backpressure on net_red and net_black).

use super::{Counters, Crypto, InitError, SESSIONS_PER_PEER};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::vec::Vec;
use boringtun::noise::Tunn;
use core::net::SocketAddr;
use pd_api::Channel;
use pd_proto::job::{self, Job, JobKind, JobResult, JobStatus, JOB_LEN, MAX_BATCH, RESULT_LEN};
use pd_proto::{EndpointHeader, ENDPOINT_HEADER_LEN};
use pd_ring::{Link, LinkError, RingError, Taken, SLOT_SIZE};
use pd_session::transport::{DATA_HEADER_LEN, DATA_OVERHEAD, MSG_TRANSPORT_DATA, REJECT_AFTER_TIME_NS};

// Most workers crypto looks for (`worker0` to `worker7`): one gate each in the session table.
use pd_session::MAX_WORKERS;
/// The channel of `worker0`; worker N's is N after it.
const FIRST_WORKER_CHANNEL: usize = 3;
/// Most jobs in flight, all workers together.
pub const MAX_IN_FLIGHT: usize = 256;
/// A worker whose oldest batch has waited for its answer through this many of crypto's timer
/// ticks (at least 100 ms apart: 5 s) is given up. A batch takes microseconds (milliseconds
/// under TCG on a busy host), so only a worker that does not run at all is caught. Counted in
/// ticks crypto itself ran, not in clock time: a machine that stalled as a whole (a paused VM)
/// gives one tick, and no worker is blamed for it.
pub const WORKER_SILENT_TICKS: u32 = 50;

/// One worker: its link and the batches on their way.
pub(crate) struct Worker {
    link: Link,
    /// Its number (`worker<number>`), which names its gate in the session table.
    number: u16,
    /// The batch being gathered (sent at the end of a pass, or when full).
    batch: Box<[u8; SLOT_SIZE]>,
    /// Jobs in `batch`.
    batch_jobs: usize,
    /// The sequence number of the next batch sent.
    next_seq: u16,
    /// Each batch sent and not yet answered, oldest first: its sequence number and job count
    /// (a result batch must answer exactly that).
    out: VecDeque<(u16, usize)>,
    /// Batches the worker's job ring holds.
    ring_batches: usize,
    /// crypto's timer ticks the oldest batch in `out` has waited through for its answer.
    waiting_ticks: u32,
    /// The result batch being read.
    results: Box<[u8; SLOT_SIZE]>,
    results_len: usize,
    results_at: usize,
    /// The worker broke the protocol (a result batch that does not answer the oldest batch
    /// sent, a ring error) or went silent: it gets no more jobs, and its jobs in flight are
    /// failed once its gate is closed.
    broken: bool,
    /// Why it was given up (for `status`).
    given_up_why: &'static str,
    /// Given up while inside a batch (its gate would not close): crypto's timer ticks since,
    /// while its jobs, and their ring slots, stay held.
    closing: Option<u32>,
    /// Its jobs in flight when it was given up, taken out of the dispatch order (the other
    /// workers' results complete without them), failed once its gate is closed.
    held: Vec<InFlight>,
}

impl Worker {
    fn open(n: usize) -> Result<Option<Self>, InitError> {
        let name = format!("worker{n}");
        match Link::open(&name, Channel::new(FIRST_WORKER_CHANNEL + n)) {
            Ok(link) => Ok(Some(Self {
                ring_batches: link.tx.slots(),
                link,
                number: n as u16,
                batch: Box::new([0; SLOT_SIZE]),
                batch_jobs: 0,
                next_seq: 0,
                out: VecDeque::new(),
                waiting_ticks: 0,
                results: Box::new([0; SLOT_SIZE]),
                results_len: 0,
                results_at: 0,
                broken: false,
                given_up_why: "",
                closing: None,
                held: Vec::new(),
            })),
            Err(LinkError::MissingRegion(_)) => Ok(None),
            Err(e) => Err(InitError::Link("worker", e)),
        }
    }

    /// Whether a job can be added now (its batch has room, or can be sent to make room).
    fn has_room(&self) -> bool {
        !self.broken && (self.batch_jobs < MAX_BATCH || (self.out.len() < self.ring_batches && self.link.tx.has_room()))
    }

    fn push(&mut self, j: &Job) -> Result<(), RingError> {
        if self.batch_jobs == MAX_BATCH {
            self.flush()?;
            if self.batch_jobs == MAX_BATCH {
                // The job ring took nothing (has_room said it would): the caller keeps the packet.
                return Err(RingError::Overflow);
            }
        }
        let at = job::BATCH_HEADER_LEN + self.batch_jobs * JOB_LEN;
        j.emit(&mut self.batch[at..at + JOB_LEN]);
        self.batch_jobs += 1;
        Ok(())
    }

    /// Sends the batch gathered so far, if the job ring has room (else it waits for the next
    /// pass; the jobs stay in flight).
    fn flush(&mut self) -> Result<(), RingError> {
        if self.broken || self.batch_jobs == 0 || self.out.len() >= self.ring_batches {
            return Ok(());
        }
        job::emit_batch_header(&mut self.batch[..], self.batch_jobs, self.next_seq, self.number);
        let n = job::BATCH_HEADER_LEN + self.batch_jobs * JOB_LEN;
        if self.link.tx.send(&self.batch[..n])? {
            if self.out.is_empty() {
                self.waiting_ticks = 0;
            }
            self.out.push_back((self.next_seq, self.batch_jobs));
            self.next_seq = self.next_seq.wrapping_add(1);
            self.batch_jobs = 0;
        }
        Ok(())
    }

    /// The next result, in job order; None until the worker has answered. An error: the
    /// worker's answer is not the one due (the caller gives the worker up).
    fn next_result(&mut self) -> Result<Option<JobResult>, RingError> {
        if self.broken {
            return Ok(None);
        }
        if self.results_at == self.results_len {
            let Some(len) = self.link.rx.recv(&mut self.results)? else { return Ok(None) };
            let answered = job::batch_records(&self.results[..len], RESULT_LEN).map(|r| (job::batch_seq(&self.results[..len]), r.count()));
            // Results are matched to jobs by position: a batch lost, added or cut short would
            // apply every later result to the wrong job.
            if answered.is_none() || answered != self.out.pop_front() {
                return Err(RingError::BadDescriptor);
            }
            // The next batch's wait starts now (it may have been sent earlier: that only makes
            // the silence check later, never sooner).
            self.waiting_ticks = 0;
            self.results_at = 0;
            self.results_len = answered.map_or(0, |(_, n)| n);
            if self.results_len == 0 {
                return Ok(None);
            }
        }
        let at = job::BATCH_HEADER_LEN + self.results_at * RESULT_LEN;
        self.results_at += 1;
        // An unknown status is taken as a job gone wrong.
        Ok(Some(JobResult::parse(&self.results[at..at + RESULT_LEN]).unwrap_or(JobResult { status: JobStatus::BadJob, len: 0 })))
    }
}

/// The workers the platform gave this PD, in order (none: crypto does the AEAD itself).
pub(crate) fn open_workers() -> Result<Vec<Worker>, InitError> {
    let mut workers = Vec::new();
    for n in 0..MAX_WORKERS {
        match Worker::open(n)? {
            Some(w) => workers.push(w),
            None => break,
        }
    }
    Ok(workers)
}

/// A job dispatched and not yet completed.
#[derive(Clone, Copy)]
pub(crate) struct InFlight {
    worker: u8,
    peer: u16,
    what: Work,
}

#[derive(Clone, Copy)]
enum Work {
    /// A packet from net_red (held at `red`, plaintext `len` bytes) sealed into `black`.
    Seal { red: u32, black: u32, len: u16 },
    /// A message from `src` (held at `black`) with receiver `index`, opened into `red`.
    Open { black: u32, red: u32, src: SocketAddr, index: u32 },
}

impl Crypto {
    /// Whether any worker takes jobs (none linked, or every one given up: crypto does the
    /// AEAD itself).
    pub(crate) fn dispatching(&self) -> bool {
        self.workers.iter().any(|w| !w.broken)
    }

    /// The worker the next job goes to: the next in turn that has room.
    fn pick(&self) -> Option<usize> {
        let n = self.workers.len();
        (0..n).map(|k| (self.next_worker + k) % n).find(|&w| self.workers[w].has_room())
    }

    /// Whether one more packet can go to a worker now.
    pub(crate) fn can_dispatch(&self) -> bool {
        self.inflight.len() < MAX_IN_FLIGHT && self.pick().is_some()
    }

    fn dispatch(&mut self, peer: usize, what: Work, j: Job) -> Result<(), RingError> {
        let w = self.pick().ok_or(RingError::Overflow)?;
        self.workers[w].push(&j)?;
        self.next_worker = (w + 1) % self.workers.len();
        self.inflight.push_back(InFlight { worker: w as u8, peer: peer as u16, what });
        Ok(())
    }

    /// Gives worker `k` up (it broke the protocol, or went silent; `why` says which on the
    /// console): it gets no more jobs, and its jobs in flight are failed (their ring slots
    /// handed back, counted as `drop_worker_bad_job`) as soon as its gate is closed.
    fn give_up_worker(&mut self, k: usize, why: &'static str) {
        let w = &mut self.workers[k];
        if w.broken {
            return;
        }
        w.broken = true;
        w.given_up_why = why;
        w.batch_jobs = 0;
        w.out.clear();
        self.counters.workers_given_up += 1;
        pd_api::log!("crypto worker {k} {why}: given up, its jobs dropped");
        // Out of the dispatch order at once: they will be failed whatever happens, so the jobs
        // behind them (other workers') need not wait while this one's gate closes.
        let mut held: Vec<InFlight> = self.inflight.iter().copied().filter(|j| usize::from(j.worker) == k).collect();
        self.inflight.retain(|j| usize::from(j.worker) != k);
        self.workers[k].held.append(&mut held);
        self.hand_back_jobs(k);
    }

    /// Closes worker `k`'s gate and fails its jobs in flight; if the worker is inside a batch
    /// (it could still read or write their slots), leaves them held and tries again at the
    /// next tick.
    fn hand_back_jobs(&mut self, k: usize) {
        // A table has a gate for every worker crypto opens (MAX_WORKERS of each).
        let closed = self.table.gate(k).is_none_or(|g| g.close());
        let w = &mut self.workers[k];
        if !closed {
            if w.closing.is_none() {
                self.counters.worker_gate_waits += 1;
            }
            w.closing.get_or_insert(0);
            return;
        }
        w.closing = None;
        for j in core::mem::take(&mut w.held) {
            self.complete(j, JobResult { status: JobStatus::BadJob, len: 0 });
        }
    }

    /// The session slot a data packet for peer `i` is sealed with now: its current session's,
    /// if published and not past Reject-After-Time.
    fn current_slot(&self, i: usize) -> Option<usize> {
        let peer = &self.peers[i];
        let index = peer.tunn.current_session_index()?;
        let s = index as usize % SESSIONS_PER_PEER;
        let p = peer.sessions.published[s]?;
        let fresh = self.now_ns.saturating_sub(p.created_ns) < REJECT_AFTER_TIME_NS;
        (p.live && p.receiving_index == index && fresh).then_some(s)
    }

    /// A packet from net_red, held in the ring: to a worker if its peer has a session and an
    /// endpoint (true), else false and the caller handles it.
    pub(crate) fn dispatch_seal(&mut self, taken: &Taken) -> bool {
        let mut head = [0u8; 40];
        let n = taken.copy_to(&mut head);
        let len = taken.len as usize;
        let Some(dst) = Tunn::dst_address(&head[..n]) else { return false };
        let Some(i) = self.route(dst) else { return false };
        if len > super::MAX_PLAINTEXT {
            return false;
        }
        let Some(endpoint) = self.peers[i].endpoint else { return false };
        let Some(s) = self.current_slot(i) else { return false };
        let mtu = if dst.is_ipv6() { self.mtu.max(1280) } else { self.mtu };
        let padded = len.next_multiple_of(16).min(mtu).max(len);
        let Ok(Some(out)) = self.black.tx.reserve() else { return false };
        let mut header = [0u8; ENDPOINT_HEADER_LEN];
        EndpointHeader(endpoint).emit(&mut header);
        out.write(0, &header);
        let j = Job { kind: JobKind::Seal, peer: i as u16, slot: s as u8, len: len as u16, padded: padded as u16, input: taken.offset, output: out.offset() };
        let what = Work::Seal { red: taken.offset, black: out.offset(), len: len as u16 };
        if self.dispatch(i, what, j).is_err() {
            // No worker took it: the slot goes back, and the caller handles the packet.
            self.counters.drop_worker_ring_error += 1;
            let _ = self.black.tx.unreserve(out.offset());
            return false;
        }
        true
    }

    /// A datagram from net_black, held in the ring: a data message for a published session goes
    /// to a worker (true); anything else is the caller's.
    pub(crate) fn dispatch_open(&mut self, taken: &Taken) -> bool {
        let mut head = [0u8; ENDPOINT_HEADER_LEN + DATA_HEADER_LEN];
        if taken.copy_to(&mut head) < head.len() || (taken.len as usize) < ENDPOINT_HEADER_LEN + DATA_OVERHEAD {
            return false;
        }
        let Some((EndpointHeader(src), msg)) = EndpointHeader::parse(&head) else { return false };
        if msg[..4] != [MSG_TRANSPORT_DATA, 0, 0, 0] {
            return false;
        }
        let index = u32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]);
        let Some(i) = self.peer_of_index(index) else { return false };
        let s = index as usize % SESSIONS_PER_PEER;
        if !self.peers[i].sessions.published[s].is_some_and(|p| p.live && p.receiving_index == index) {
            return false;
        }
        let Ok(Some(out)) = self.red.tx.reserve() else { return false };
        let len = taken.len as usize - ENDPOINT_HEADER_LEN;
        let j = Job { kind: JobKind::Open, peer: i as u16, slot: s as u8, len: len as u16, padded: 0, input: taken.offset, output: out.offset() };
        let what = Work::Open { black: taken.offset, red: out.offset(), src, index };
        if self.dispatch(i, what, j).is_err() {
            // No worker took it: the slot goes back, and the caller handles the datagram.
            self.counters.drop_worker_ring_error += 1;
            let _ = self.red.tx.unreserve(out.offset());
            return false;
        }
        true
    }

    /// Sends every worker the jobs gathered this pass.
    pub(crate) fn flush_workers(&mut self) {
        for k in 0..self.workers.len() {
            if self.workers[k].flush().is_err() {
                self.counters.drop_worker_ring_error += 1;
                self.give_up_worker(k, "broke the job protocol");
            }
        }
    }

    /// On each of crypto's timer ticks: gives up every worker whose oldest batch has waited
    /// through more than [`WORKER_SILENT_TICKS`] ticks (see the module documentation). Answers
    /// already in the rings are taken first.
    ///
    /// A worker given up inside a batch is waited for here: its jobs are failed once it has
    /// left. One still inside after [`WORKER_SILENT_TICKS`] more ticks hangs in the middle of
    /// a batch; its slots can never be handed back safely, so crypto asks to be started
    /// afresh, with its workers (the root task restarts them as a group).
    pub(crate) fn give_up_silent_workers(&mut self) {
        self.collect();
        for k in 0..self.workers.len() {
            if let Some(ticks) = self.workers[k].closing {
                self.hand_back_jobs(k);
                if let Some(waited) = self.workers[k].closing.as_mut() {
                    *waited = ticks + 1;
                    if *waited > WORKER_SILENT_TICKS {
                        pd_api::restart(format_args!("crypto worker {k} stayed inside a batch through {WORKER_SILENT_TICKS} timer ticks after it was given up"));
                    }
                }
                continue;
            }
            let w = &mut self.workers[k];
            if w.broken || w.out.is_empty() {
                continue;
            }
            w.waiting_ticks += 1;
            if w.waiting_ticks > WORKER_SILENT_TICKS {
                self.counters.workers_silent += 1;
                self.give_up_worker(k, "left a batch unanswered for 50 timer ticks");
            }
        }
    }

    /// Completes dispatched jobs in order, as far as workers have answered. True if any was.
    pub(crate) fn collect(&mut self) -> bool {
        let mut any = false;
        while let Some(&head) = self.inflight.front() {
            let result = match self.workers[usize::from(head.worker)].next_result() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => {
                    // A broken result ring, or an answer not to the batch due: its jobs are
                    // failed (so the others' go on completing).
                    self.counters.drop_worker_ring_error += 1;
                    self.give_up_worker(usize::from(head.worker), "broke the job protocol");
                    continue;
                }
            };
            self.inflight.pop_front();
            self.complete(head, result);
            any = true;
        }
        any
    }

    fn complete(&mut self, job: InFlight, r: JobResult) {
        let i = usize::from(job.peer);
        match job.what {
            Work::Seal { red, black, len } => {
                let len = usize::from(len);
                let r = if ENDPOINT_HEADER_LEN + usize::from(r.len) > SLOT_SIZE { JobResult { status: JobStatus::BadJob, len: 0 } } else { r };
                if r.status == JobStatus::Done {
                    let peer = &mut self.peers[i];
                    peer.tunn.note_data_sent(len);
                    self.counters.sealed_packets += 1;
                    match self.black.tx.commit(black, ENDPOINT_HEADER_LEN + usize::from(r.len)) {
                        Ok(true) => self.counters.black_tx_datagrams += 1,
                        Ok(false) => {
                            let _ = self.black.tx.unreserve(black);
                            self.counters.drop_black_ring_full += 1;
                        }
                        Err(_) => {
                            let _ = self.black.tx.unreserve(black);
                            self.counters.drop_black_ring_error += 1;
                        }
                    }
                    self.release_red(red);
                    return;
                }
                if self.black.tx.unreserve(black).is_err() {
                    self.counters.drop_black_ring_error += 1;
                }
                match r.status {
                    // The session changed after dispatch (or the packet is not the routed peer's:
                    // net_red rewrote its slot): handled here, as if it had just come (routed
                    // again; a handshake may start, or it is sealed with the new session).
                    JobStatus::NoSession | JobStatus::Expired | JobStatus::Misrouted => {
                        let ok = self.red.rx.read_held(red, &mut self.plain[DATA_HEADER_LEN..DATA_HEADER_LEN + len]);
                        self.release_red(red);
                        if ok.is_ok() {
                            let _ = self.red_packet(len);
                        }
                    }
                    status => {
                        count_failed_job(&mut self.counters, status);
                        self.release_red(red);
                    }
                }
            }
            Work::Open { black, red, src, index } => {
                let r = if usize::from(r.len) > SLOT_SIZE { JobResult { status: JobStatus::BadJob, len: 0 } } else { r };
                let authenticated = matches!(r.status, JobStatus::Done | JobStatus::MalformedInner | JobStatus::SourceNotAllowed);
                if authenticated {
                    // The peer may roam, and its timers hear of the message (as crypto's own open).
                    self.peers[i].endpoint = Some(src);
                    let inner = if r.status == JobStatus::Done { usize::from(r.len) } else { 0 };
                    self.peers[i].tunn.note_data_received(index, inner);
                }
                let publish = r.status == JobStatus::Done && r.len > 0;
                if publish {
                    self.counters.opened_packets += 1;
                    match self.red.tx.commit(red, usize::from(r.len)) {
                        Ok(true) => self.counters.red_tx_packets += 1,
                        Ok(false) => {
                            let _ = self.red.tx.unreserve(red);
                            self.counters.drop_red_ring_full += 1;
                        }
                        Err(_) => {
                            let _ = self.red.tx.unreserve(red);
                            self.counters.drop_red_ring_error += 1;
                        }
                    }
                } else {
                    if self.red.tx.unreserve(red).is_err() {
                        self.counters.drop_red_ring_error += 1;
                    }
                    match r.status {
                        JobStatus::Done => self.counters.keepalives_rx += 1,
                        status => count_failed_job(&mut self.counters, status),
                    }
                }
                if self.black.rx.release(black).is_err() {
                    self.counters.drop_black_ring_error += 1;
                }
            }
        }
    }

    fn release_red(&mut self, offset: u32) {
        if self.red.rx.release(offset).is_err() {
            self.counters.drop_red_ring_error += 1;
        }
    }

    /// The `status` line on the workers (none: no line): which take jobs, and why any other
    /// was given up.
    pub(crate) fn workers_status(&self, report: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
        if self.workers.is_empty() {
            return;
        }
        let taking = self.workers.iter().filter(|w| !w.broken).count();
        report(format_args!("workers {}, {taking} taking jobs", self.workers.len()));
        for (k, w) in self.workers.iter().enumerate().filter(|(_, w)| w.broken) {
            let wait = if w.closing.is_some() { "; its jobs held until it leaves the batch it is in" } else { "" };
            report(format_args!("worker {k} given up: {}{wait}", w.given_up_why));
        }
    }

    /// Wakes every worker whatever it asked for: a session slot changed, and a worker drops
    /// its copies of sessions no longer in their slots (their keys with them) when it wakes,
    /// not only when a job next names the slot, which may be never.
    pub(crate) fn nudge_workers(&self) {
        for w in &self.workers {
            w.link.channel.notify();
        }
    }

    /// Notifies every worker that asked for a signal.
    pub(crate) fn signal_workers(&mut self) {
        for w in &mut self.workers {
            w.link.signal_peer();
        }
    }

    /// Before crypto sleeps: asks every worker for a signal on its results; true if the results
    /// crypto completes next came meanwhile (or a job ring's room for a waiting batch). Another
    /// worker's results do not count: crypto cannot use them before the oldest job's, and
    /// looping on them would spin, on a shared core, while the worker it waits for never runs.
    pub(crate) fn arm_workers(&mut self) -> bool {
        let next = self.inflight.front().map(|j| usize::from(j.worker));
        let mut more = false;
        for (k, w) in self.workers.iter_mut().enumerate().filter(|(_, w)| !w.broken) {
            if w.link.arm() && next == Some(k) {
                more = true;
            }
            if w.batch_jobs > 0 && w.out.len() < w.ring_batches && w.link.tx.ready() && w.link.tx.has_room() {
                more = true;
            }
        }
        more
    }
}

/// Counts a job that ended without a packet (the reasons crypto's own open counts).
fn count_failed_job(c: &mut Counters, status: JobStatus) {
    *match status {
        JobStatus::Done => return,
        JobStatus::NoSession | JobStatus::Expired | JobStatus::Misrouted => &mut c.drop_no_session,
        JobStatus::Replayed => &mut c.drop_replay,
        JobStatus::BadCounter => &mut c.drop_bad_counter,
        JobStatus::Aead => &mut c.drop_bad_aead,
        JobStatus::Malformed => &mut c.drop_invalid_packet,
        JobStatus::MalformedInner => &mut c.drop_malformed_inner,
        JobStatus::SourceNotAllowed => &mut c.drop_source_not_allowed,
        JobStatus::BadJob => &mut c.drop_worker_bad_job,
    } += 1;
}
