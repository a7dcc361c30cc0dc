//! The session table: the transport sessions of every peer, in a region only crypto PDs map.
//!
//! One writer, the crypto PD (its boringtun tunnels make the sessions), publishes each
//! session's indices and keys into a [`SessionSlot`]; any number of workers read them and seal
//! or open transport data with them. A slot is a sequence lock (Linux's seqcount): the writer
//! makes `seq` odd, writes, and makes it even again; a reader copies the slot and keeps the copy
//! only if `seq` was even and unchanged around it. Keys are copied word by word through atomics,
//! so a torn copy is a discarded copy, never undefined behaviour.
//!
//! The send counter and the replay window are shared by the workers and live in the slot, so the
//! writer resets them when it puts a new session there. A worker seals with its copy of the keys,
//! so it must never take a counter of the *next* session for them (two messages under one key and
//! nonce would expose both plaintexts). [`SessionSlot::claim_counter`] therefore takes the
//! counter first and checks `seq` after:
//! - writer: `seq` := odd (Relaxed); `fence(Release)`; ...; counter := start; `seq` := even (Release);
//! - worker: `n` := counter.fetch_add (Acquire); `seq` load (Relaxed); keep `n` only if `seq` is
//!   the copy's.
//!
//! If the worker's fetch_add read the reset (or anything after it), it synchronises with the
//! writer's release fence, so its `seq` load sees at least the odd value and it drops `n`. If it
//! read a value before the reset, `n` belongs to the old session, whose keys it holds.
//! tests/loom.rs checks exactly this on this code.
//!
//! Opening claims its counter in the window, and a claim must land in the window of the session
//! whose keys opened the message: a worker that opened an old session's late message (or an
//! attacker's replay of one) just as the slot is rewritten would otherwise claim a counter in the
//! new session's window and move its greatest counter, and the new session would refuse its own
//! counters up to the old one's. So a claim is a short critical section the writer waits out
//! (an RCU-like grace period, as small as it gets):
//! - worker: `openers` += 1; `fence(SeqCst)`; `seq` unchanged? claim : drop; `openers` -= 1 (Release);
//! - writer: `seq` := odd; `fence(SeqCst)`; wait for `openers` == 0 (Acquire); reset the window.
//!
//! The two SeqCst fences make it a Dekker handshake: either the worker sees the odd `seq` and
//! drops the message, or the writer sees the worker in its section and waits for it to leave,
//! and then its claim happened before the reset. A writer never waits unbounded (a worker may be
//! preempted inside the section by the writer itself, on a shared core): after
//! [`WRITER_SPINS`] looks it gives up with [`SlotBusy`], leaving `seq` odd (the slot unusable,
//! its old session no longer in use) to try again later. tests/loom.rs checks this on this code.

use crate::gate::WorkerGate;
use crate::replay::ReplayWindow;
use crate::sync::{fence, spin_loop, AtomicU32, AtomicU64, Ordering};

/// The largest counter a sender uses (WireGuard's Reject-After-Messages is 2^64 - 2^13 - 1; the
/// window this crate shares takes counters up to [`crate::replay::MAX_COUNTER`], and a session
/// is replaced long before either).
pub const MAX_SEND_COUNTER: u64 = crate::replay::MAX_COUNTER;

/// Slots each peer has in the table: one per session boringtun's tunnel keeps (its ring of 8,
/// indexed by receiving index % 8), so a slot changes only when boringtun itself replaces that
/// session, and a peer's current session always has one.
pub const SLOTS_PER_PEER: usize = 8;

/// How often a reader retries a copy that a write overlapped before it gives up for now.
const READ_ATTEMPTS: usize = 64;

/// How often a writer looks for the slot's openers to have left before it gives up for now (a
/// claim takes tens of nanoseconds; a worker preempted inside one takes a time slice).
#[cfg(not(loom))]
pub const WRITER_SPINS: usize = 1000;
/// See above (under loom each look is a yield, and two are enough to explore both outcomes).
#[cfg(loom)]
pub const WRITER_SPINS: usize = 2;

/// A write could not finish: a worker was claiming a counter in the slot's window. The slot is
/// left mid-write (no worker uses it); the writer tries again later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotBusy;

/// Why a claim in the window was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// The slot no longer holds the session (nothing was claimed).
    Stale,
    /// The window refused the counter.
    Replay(crate::replay::ReplayError),
}

/// One session as the crypto PD publishes it (keys as bytes).
#[derive(Clone)]
pub struct SessionInfo {
    /// The peer (its position in the config).
    pub peer: u32,
    /// The index this end chose: the peer's data messages carry it.
    pub receiving_index: u32,
    /// The index the peer chose: data messages to it carry it.
    pub sending_index: u32,
    /// When the session was made (monotonic ns): workers refuse it after Reject-After-Time.
    pub created_ns: u64,
    /// Opens the peer's messages.
    pub receiving_key: [u8; 32],
    /// Seals messages to the peer.
    pub sending_key: [u8; 32],
}

impl Drop for SessionInfo {
    fn drop(&mut self) {
        crate::wipe(&mut self.receiving_key);
        crate::wipe(&mut self.sending_key);
    }
}

/// A worker's copy of a slot, with the `seq` it was taken at.
pub struct Snapshot {
    /// The slot's sequence number when copied (even).
    pub seq: u64,
    /// What the slot held.
    pub info: SessionInfo,
}

/// Why a slot could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The slot holds no session.
    Empty,
    /// Every attempt overlapped a write (the writer is busy with this slot; try later).
    Busy,
}

/// One session in shared memory (see the module documentation). All-zero bytes are an empty
/// slot, so a freshly mapped region is an empty table.
#[repr(C)]
pub struct SessionSlot {
    /// Even: stable; odd: being written.
    seq: AtomicU64,
    /// Peer + 1 (0: empty).
    peer: AtomicU32,
    receiving_index: AtomicU32,
    sending_index: AtomicU32,
    /// Workers inside a window claim ([`SessionSlot::claim_received`]).
    openers: AtomicU32,
    created_ns: AtomicU64,
    receiving_key: [AtomicU64; 4],
    sending_key: [AtomicU64; 4],
    /// The next counter to seal with (workers take them with fetch_add).
    send_counter: AtomicU64,
    /// The counters opened so far.
    replay: ReplayWindow,
}

fn store_key(words: &[AtomicU64; 4], key: &[u8; 32]) {
    for (w, b) in words.iter().zip(key.chunks_exact(8)) {
        let mut v = [0u8; 8];
        v.copy_from_slice(b);
        w.store(u64::from_le_bytes(v), Ordering::Relaxed);
    }
}

fn load_key(words: &[AtomicU64; 4]) -> [u8; 32] {
    let mut key = [0u8; 32];
    for (w, b) in words.iter().zip(key.chunks_exact_mut(8)) {
        b.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
    }
    key
}

impl Default for SessionSlot {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionSlot {
    /// An empty slot.
    pub fn new() -> Self {
        let key = || core::array::from_fn(|_| AtomicU64::new(0));
        Self {
            seq: AtomicU64::new(0),
            peer: AtomicU32::new(0),
            receiving_index: AtomicU32::new(0),
            sending_index: AtomicU32::new(0),
            openers: AtomicU32::new(0),
            created_ns: AtomicU64::new(0),
            receiving_key: key(),
            sending_key: key(),
            send_counter: AtomicU64::new(0),
            replay: ReplayWindow::new(),
        }
    }

    /// Writer only: puts `info` in the slot with a fresh window, its send counter at
    /// `next_counter`: the tunnel that made the session may have sealed with the ones before
    /// (boringtun's `SessionKeys::next_counter`). On [`SlotBusy`] the slot holds no usable
    /// session until a later call succeeds.
    pub fn publish(&self, info: &SessionInfo, next_counter: u64) -> Result<(), SlotBusy> {
        self.write(next_counter, |s| {
            s.peer.store(info.peer + 1, Ordering::Relaxed);
            s.receiving_index.store(info.receiving_index, Ordering::Relaxed);
            s.sending_index.store(info.sending_index, Ordering::Relaxed);
            s.created_ns.store(info.created_ns, Ordering::Relaxed);
            store_key(&s.receiving_key, &info.receiving_key);
            store_key(&s.sending_key, &info.sending_key);
        })
    }

    /// Writer only, when it starts: forgets any claim a stopped worker left open, then empties
    /// the slot and overwrites its keys. Only while no worker can be inside a claim: at the
    /// first boot (nothing was published), or when the root task stopped the workers to restart
    /// them with the writer (a worker stopped inside a claim never leaves it). Were a running
    /// worker inside a claim, its leaving would wrap `openers` below zero and every later write
    /// to the slot would find it busy.
    pub fn clear_at_start(&self) {
        self.openers.store(0, Ordering::Relaxed);
        let cleared = self.retire();
        debug_assert!(cleared.is_ok(), "no opener is left");
    }

    /// Writer only: empties the slot and overwrites its keys (on [`SlotBusy`] the keys stay
    /// until a later call succeeds, but no worker can use them: `seq` is odd).
    pub fn retire(&self) -> Result<(), SlotBusy> {
        self.write(0, |s| {
            s.peer.store(0, Ordering::Relaxed);
            s.receiving_index.store(0, Ordering::Relaxed);
            s.sending_index.store(0, Ordering::Relaxed);
            s.created_ns.store(0, Ordering::Relaxed);
            store_key(&s.receiving_key, &[0; 32]);
            store_key(&s.sending_key, &[0; 32]);
        })
    }

    /// The write section: `seq` odd, no opener left, the fields, the counter and window reset,
    /// `seq` even. On [`SlotBusy`] `seq` stays odd and nothing else changed.
    fn write(&self, next_counter: u64, fields: impl FnOnce(&Self)) -> Result<(), SlotBusy> {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq | 1, Ordering::Relaxed);
        // Orders the odd `seq` before every store below, for a reader that sees any of them
        // (with its Acquire fence or fetch_add) to see the odd `seq` as well (Release), and
        // before the look at `openers` (the Dekker handshake with `claim_received`).
        fence(Ordering::SeqCst);
        let mut looks = 0;
        // Acquire: a worker's claim happens before whatever follows its leaving.
        while self.openers.load(Ordering::Acquire) != 0 {
            looks += 1;
            if looks == WRITER_SPINS {
                return Err(SlotBusy);
            }
            spin_loop();
        }
        fields(self);
        self.send_counter.store(next_counter, Ordering::Relaxed);
        self.replay.reset();
        self.seq.store((seq | 1) + 1, Ordering::Release);
        Ok(())
    }

    /// The slot's sequence number now.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// A consistent copy of the slot.
    pub fn read(&self) -> Result<Snapshot, ReadError> {
        for _ in 0..READ_ATTEMPTS {
            let seq = self.seq.load(Ordering::Acquire);
            if seq & 1 != 0 {
                core::hint::spin_loop();
                continue;
            }
            let peer = self.peer.load(Ordering::Relaxed);
            let info = SessionInfo {
                peer: peer.wrapping_sub(1),
                receiving_index: self.receiving_index.load(Ordering::Relaxed),
                sending_index: self.sending_index.load(Ordering::Relaxed),
                created_ns: self.created_ns.load(Ordering::Relaxed),
                receiving_key: load_key(&self.receiving_key),
                sending_key: load_key(&self.sending_key),
            };
            // Orders the loads above before the re-check of `seq`: if any of them saw a write
            // section's store, the re-check sees that section's odd (or later) `seq`.
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == seq {
                return if peer == 0 { Err(ReadError::Empty) } else { Ok(Snapshot { seq, info }) };
            }
        }
        Err(ReadError::Busy)
    }

    /// Takes the next send counter for a message sealed with `snapshot`'s keys, or None if the
    /// slot no longer holds that session (re-read it) or its counters are used up (the handshake
    /// PD must make a new one). See the module documentation for why the check comes after.
    pub fn claim_counter(&self, snapshot: &Snapshot) -> Option<u64> {
        let n = self.send_counter.fetch_add(1, Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != snapshot.seq || n > MAX_SEND_COUNTER {
            return None;
        }
        Some(n)
    }

    /// Messages sealed with this slot's session so far (tests and diagnostics; nothing rekeys on
    /// a message count: sealing stops at [`MAX_SEND_COUNTER`], far below Reject-After-Messages,
    /// and REKEY_AFTER_TIME comes long before either).
    pub fn sent(&self) -> u64 {
        self.send_counter.load(Ordering::Relaxed)
    }

    /// The session's replay window (see [`crate::replay`]), for looks; claims go through
    /// [`Self::claim_received`].
    pub fn replay(&self) -> &ReplayWindow {
        &self.replay
    }

    /// Accepts `counter` of a message that `snapshot`'s keys opened, in this slot's window, if
    /// the slot still holds that session (see the module documentation: the writer does not
    /// reset the window while a claim is in progress).
    pub fn claim_received(&self, snapshot: &Snapshot, counter: u64) -> Result<(), ClaimError> {
        self.openers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let result = if self.seq.load(Ordering::Relaxed) == snapshot.seq {
            self.replay.accept(counter).map_err(ClaimError::Replay)
        } else {
            Err(ClaimError::Stale)
        };
        // Release: the claim happens before the writer's reset, which waits for this.
        self.openers.fetch_sub(1, Ordering::Release);
        result
    }
}

/// Most crypto workers a table has gates for ([`SessionTable::gate`]).
pub const MAX_WORKERS: usize = 8;

/// The session table in a `session_keys` region: first a [`WorkerGate`] for each of
/// [`MAX_WORKERS`] workers, then [`SLOTS_PER_PEER`] slots for each peer, peer `p`'s at
/// `p * SLOTS_PER_PEER`. The region is zeroed when mapped, which is an empty table with every
/// gate open.
#[cfg(not(loom))]
pub struct SessionTable {
    slots: Slots,
}

#[cfg(not(loom))]
enum Slots {
    /// In a region crypto PDs share.
    Shared(&'static [WorkerGate; MAX_WORKERS], &'static [SessionSlot]),
    /// In this PD's heap (a crypto PD that shares its sessions with no worker).
    Private(alloc::boxed::Box<[WorkerGate; MAX_WORKERS]>, alloc::boxed::Box<[SessionSlot]>),
}

/// Bytes of the gates before the slots (a whole number of slot alignments: the slots after
/// them stay aligned).
#[cfg(not(loom))]
const GATES_BYTES: usize = core::mem::size_of::<[WorkerGate; MAX_WORKERS]>();
#[cfg(not(loom))]
const _: () = assert!(GATES_BYTES % core::mem::align_of::<SessionSlot>() == 0);

#[cfg(not(loom))]
impl SessionTable {
    /// Bytes a table for `peers` peers needs (the workers' gates included).
    pub const fn bytes_for(peers: usize) -> usize {
        GATES_BYTES + peers * SLOTS_PER_PEER * core::mem::size_of::<SessionSlot>()
    }

    /// The table in `region` (as many whole peers as fit after the gates), or None if the
    /// region is not aligned for it or too small for the gates.
    pub fn in_region(region: pd_api::MemoryRegion) -> Option<Self> {
        let base = region.base().as_ptr();
        let align = core::mem::align_of::<SessionSlot>().max(core::mem::align_of::<WorkerGate>());
        if base as usize % align != 0 || region.size() < GATES_BYTES {
            return None;
        }
        let peers = (region.size() - GATES_BYTES) / (Self::bytes_for(1) - GATES_BYTES);
        // SAFETY: the region stays mapped for the life of the PD (MemoryRegion's contract) and
        // holds the gates from its aligned base, then `peers * SLOTS_PER_PEER` slots (aligned:
        // GATES_BYTES is a multiple of their alignment). Gates and slots are atomics only, for
        // which every bit pattern is a value (all zero: open, empty), so whatever another
        // crypto PD wrote there is valid, and shared references to atomics may alias.
        let (gates, slots) = unsafe {
            (
                &*base.cast::<[WorkerGate; MAX_WORKERS]>(),
                core::slice::from_raw_parts(base.add(GATES_BYTES).cast::<SessionSlot>(), peers * SLOTS_PER_PEER),
            )
        };
        Some(Self { slots: Slots::Shared(gates, slots) })
    }

    /// A table of `peers` peers in this PD's own memory.
    pub fn private(peers: usize) -> Self {
        let gates = alloc::boxed::Box::new(core::array::from_fn(|_| WorkerGate::new()));
        Self { slots: Slots::Private(gates, (0..peers * SLOTS_PER_PEER).map(|_| SessionSlot::new()).collect()) }
    }

    fn slots(&self) -> &[SessionSlot] {
        match &self.slots {
            Slots::Shared(_, s) => s,
            Slots::Private(_, s) => s,
        }
    }

    /// Worker `k`'s gate (see [`crate::gate`]), if `k` is below [`MAX_WORKERS`].
    pub fn gate(&self, k: usize) -> Option<&WorkerGate> {
        match &self.slots {
            Slots::Shared(g, _) => g.get(k),
            Slots::Private(g, _) => g.get(k),
        }
    }

    /// How many peers the table holds.
    pub fn peers(&self) -> usize {
        self.slots().len() / SLOTS_PER_PEER
    }

    /// Peer `peer`'s slots, if the table holds it.
    pub fn peer(&self, peer: usize) -> Option<&[SessionSlot]> {
        self.slots().get(peer * SLOTS_PER_PEER..(peer + 1) * SLOTS_PER_PEER)
    }
}
