//! Buffer rings between protection domains, in the style of sDDF's network queues.
//!
//! One direction of a link between two PDs is a [`Sender`] in the producing PD and
//! a [`Receiver`] in the consuming PD, over two shared regions:
//! - a **data** region of [`SLOT_SIZE`]-byte slots, written only by the producer
//!   (the consumer maps it read-only on seL4);
//! - a **control** region holding two queues of descriptors (offset, length): the
//!   *active* queue (producer → consumer: filled slots) and the *free* queue
//!   (consumer → producer: slots handed back).
//!
//! Everything read from shared memory is untrusted. The receiver bounds-checks
//! every descriptor and copies the bytes into the caller's private buffer before
//! handing the slot back, so the PD decides on bytes its peer can no longer
//! change. The sender tracks which slots it has lent out and rejects a forged or
//! duplicated free descriptor. A misbehaving peer yields a [`RingError`] that the
//! PD counts; it can never cause out-of-bounds access or a panic.
//!
//! **Lending without copies** (for a NIC PD whose device DMAs straight into and
//! out of the data regions, in the sDDF manner): [`Sender::reserve`] takes a free
//! slot without filling it (the PD posts it to the NIC as a receive buffer) and
//! [`Sender::commit`] later publishes it with the length the device wrote;
//! [`Receiver::take`] takes the next active slot by reference (the PD hands it to
//! the NIC to transmit) and [`Receiver::release`] hands it back once the device
//! has read it. Only a PD that never looks at the bytes itself should lend this
//! way: the producer can still rewrite a slot the consumer holds, so anything
//! the consumer *decides* on must be copied out first ([`Receiver::recv`]).
//! Both sides keep a bitmap of the slots they hold, so a slot is never lent
//! twice, and a descriptor naming a held slot is refused like any forged one.
//!
//! Wake-ups follow the signal-flag protocol documented in [`queue`]: a busy
//! pipeline makes no notifications at all.
//!
//! **Restarts**: a PD the root task restarted opens its rings with [`Link::open`] as
//! always; they re-attach by the protocol in [`rejoin`] (an epoch per end in the control
//! region). Until the other end has re-attached, a restarted end sends and receives nothing.

#![cfg_attr(not(test), no_std)]

pub mod queue;
pub mod rejoin;

use core::fmt;
use core::ptr::NonNull;
use pd_api::{Channel, MemoryRegion};
pub use queue::{queue_bytes, ConsumerQueue, Desc, ProducerQueue};
pub use rejoin::Synced;
use rejoin::{End, Rejoin};

/// Size of one buffer slot: a full Ethernet frame, or a WireGuard datagram with its header.
pub const SLOT_SIZE: usize = 2048;
/// Largest slot count a ring may have (the sender's ownership bitmap is this big).
pub const MAX_SLOTS: u32 = 4096;

/// What a misbehaving peer (or a wrong layout) can do to a ring.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RingError {
    /// The peer's queue index is further from ours than the queue holds.
    CorruptIndex,
    /// An active descriptor points outside the data region, off a slot boundary,
    /// or is longer than a slot.
    BadDescriptor,
    /// A free descriptor names no slot of the data region, or a slot that was not
    /// on loan (forged, or handed back twice).
    BadFreeDescriptor,
    /// The peer queued more descriptors than it can own; the excess was dropped.
    Overflow,
    /// The regions do not fit the ring layout.
    BadLayout,
    /// This side was asked to commit, release or unreserve a slot it does not hold
    /// (a bug in the caller, e.g. a driver handing back a buffer it was not lent).
    NotHeld,
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CorruptIndex => "ring index out of range",
            Self::BadDescriptor => "ring descriptor out of bounds",
            Self::BadFreeDescriptor => "free descriptor not on loan",
            Self::Overflow => "ring peer overflowed the queue",
            Self::BadLayout => "ring regions do not fit the layout",
            Self::NotHeld => "ring slot not held by this side",
        })
    }
}

/// The geometry of one ring direction, derived from the data region size.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Layout {
    /// Number of slots, a power of two; also each queue's capacity.
    pub slots: u32,
}

impl Layout {
    /// A layout of `slots` slots (a power of two, at most [`MAX_SLOTS`]).
    pub const fn new(slots: u32) -> Self {
        assert!(slots.is_power_of_two() && slots <= MAX_SLOTS);
        Self { slots }
    }

    /// Bytes of the data region.
    pub const fn data_bytes(self) -> usize {
        self.slots as usize * SLOT_SIZE
    }

    /// Bytes of the control region: the active queue, the free queue, then the two ends'
    /// epoch words (see [`rejoin`]).
    pub const fn ctl_bytes(self) -> usize {
        2 * queue_bytes(self.slots) + rejoin::BYTES
    }

    fn from_regions(data: &MemoryRegion, ctl: &MemoryRegion) -> Result<Self, RingError> {
        let slots = data.size() / SLOT_SIZE;
        if slots == 0 || !slots.is_power_of_two() || slots > MAX_SLOTS as usize {
            return Err(RingError::BadLayout);
        }
        let layout = Self { slots: slots as u32 };
        if ctl.size() < layout.ctl_bytes() || ctl.base().as_ptr() as usize % 64 != 0 {
            return Err(RingError::BadLayout);
        }
        Ok(layout)
    }

    fn queues(self, ctl: &MemoryRegion) -> (NonNull<u8>, NonNull<u8>) {
        let active = ctl.base();
        // SAFETY: ctl is at least ctl_bytes long (checked in from_regions).
        let free = unsafe { active.add(queue_bytes(self.slots)) };
        (active, free)
    }

    fn rejoin(self, ctl: &MemoryRegion, end: End, restarted: bool) -> Rejoin {
        // SAFETY: ctl is at least ctl_bytes long and 64-aligned (checked in from_regions), so
        // the block after the queues is inside it and aligned.
        unsafe { Rejoin::new(ctl.base().add(2 * queue_bytes(self.slots)), end, restarted) }
    }

    /// Checks an active descriptor and returns its slot number.
    fn check(self, desc: Desc) -> Option<u32> {
        let slot = self.slot_of(desc.offset)?;
        (desc.len as usize <= SLOT_SIZE).then_some(slot)
    }

    /// The slot starting at byte `offset`, if that is the start of one.
    fn slot_of(self, offset: u32) -> Option<u32> {
        let slot = offset / SLOT_SIZE as u32;
        (offset.is_multiple_of(SLOT_SIZE as u32) && slot < self.slots).then_some(slot)
    }
}

/// The producing end of one ring direction.
pub struct Sender {
    data: NonNull<u8>,
    layout: Layout,
    active: ProducerQueue,
    free: ConsumerQueue,
    /// Slots this side holds (free to fill).
    owned: SlotSet,
    /// Slots handed to the receiver and not yet given back.
    lent: SlotSet,
    /// Slots taken by [`Sender::reserve`] and not yet committed or unreserved.
    reserved: SlotSet,
    rejoin: Rejoin,
}

/// A slot taken from the sender's free slots without being filled (see
/// [`Sender::reserve`]): whoever fills it (a device, by DMA) names it by
/// [`Reserved::offset`] when it is committed.
#[derive(Debug, PartialEq, Eq)]
pub struct Reserved {
    offset: u32,
    data: NonNull<u8>,
}

impl Reserved {
    /// Byte offset of the slot in the data region (add the region's physical address
    /// for a device).
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// The slot's first byte ([`SLOT_SIZE`] bytes, this side's until committed). A raw
    /// pointer rather than a slice: a device may write the slot while it is reserved.
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.data.as_ptr()
    }

    /// Writes `bytes` at `at` in the slot (false, nothing written, if they do not fit), before
    /// the slot is handed to whoever fills the rest.
    pub fn write(&self, at: usize, bytes: &[u8]) -> bool {
        if at.checked_add(bytes.len()).is_none_or(|end| end > SLOT_SIZE) {
            return false;
        }
        // SAFETY: at..at+len lies inside the reserved slot (checked), which lies inside the
        // data region; the slot is this side's, and no Rust reference to it exists.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.as_ptr().add(at), bytes.len()) };
        true
    }
}

/// A set of slot numbers (a bitmap over [`MAX_SLOTS`]).
struct SlotSet([u64; MAX_SLOTS as usize / 64]);

impl SlotSet {
    const EMPTY: Self = Self([0; MAX_SLOTS as usize / 64]);

    fn first_n(n: u32) -> Self {
        let mut s = Self::EMPTY;
        for slot in 0..n {
            s.insert(slot);
        }
        s
    }
    fn all_but(n: u32, except: &Self) -> Self {
        let mut s = Self::first_n(n);
        for (w, e) in s.0.iter_mut().zip(except.0.iter()) {
            *w &= !e;
        }
        s
    }
    fn union(&mut self, other: &Self) {
        for (w, o) in self.0.iter_mut().zip(other.0.iter()) {
            *w |= o;
        }
    }
    fn insert(&mut self, slot: u32) {
        self.0[slot as usize / 64] |= 1 << (slot % 64);
    }
    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
    /// Removes `slot`; false if it was not there.
    fn remove(&mut self, slot: u32) -> bool {
        let (w, b) = (slot as usize / 64, 1u64 << (slot % 64));
        let had = self.0[w] & b != 0;
        self.0[w] &= !b;
        had
    }
    fn contains(&self, slot: u32) -> bool {
        self.0[slot as usize / 64] & 1 << (slot % 64) != 0
    }
    fn first(&self) -> Option<u32> {
        self.0.iter().enumerate().find(|(_, w)| **w != 0).map(|(i, w)| i as u32 * 64 + w.trailing_zeros())
    }
}

// SAFETY: the data pointer is into a region this PD owns for the life of the ring.
unsafe impl Send for Sender {}

impl Sender {
    /// The sender over a data region and a control region, at the PD's first start.
    pub fn new(data: MemoryRegion, ctl: MemoryRegion) -> Result<Self, RingError> {
        Self::open(data, ctl, false)
    }

    /// The sender of a PD that was restarted: detached until the receiver re-attaches to it
    /// (see [`rejoin`]; [`Sender::sync`] finds out).
    pub fn rejoin(data: MemoryRegion, ctl: MemoryRegion) -> Result<Self, RingError> {
        Self::open(data, ctl, true)
    }

    fn open(data: MemoryRegion, ctl: MemoryRegion, restarted: bool) -> Result<Self, RingError> {
        let layout = Layout::from_regions(&data, &ctl)?;
        let (a, f) = layout.queues(&ctl);
        Ok(Self {
            data: data.base(),
            layout,
            // SAFETY: both queues lie inside ctl, which is 64-aligned and long enough.
            active: unsafe { ProducerQueue::new(a, layout.slots) },
            free: unsafe { ConsumerQueue::new(f, layout.slots) },
            owned: SlotSet::first_n(layout.slots),
            lent: SlotSet::EMPTY,
            reserved: SlotSet::EMPTY,
            rejoin: layout.rejoin(&ctl, End::Sender, restarted),
        })
    }

    /// Follows a restart of either end (see [`rejoin`]): if the receiver restarted, takes back
    /// every slot lent to it (the new receiver holds none) and starts the queues afresh; if
    /// this end restarted, attaches once the receiver has done that. Call it whenever the
    /// PD wakes ([`Link::arm`] does).
    pub fn sync(&mut self) -> Synced {
        let (owned, lent, reserved, slots) = (&mut self.owned, &mut self.lent, &self.reserved, self.layout.slots);
        self.rejoin.sync([&mut self.active, &mut self.free], || {
            // Reserved slots are this side's (a device may be filling them); the rest is ours again.
            *owned = SlotSet::all_but(slots, reserved);
            *lent = SlotSet::EMPTY;
        })
    }

    /// Whether this end may use the ring (false while a restarted end waits for its peer).
    pub fn attached(&self) -> bool {
        self.rejoin.attached()
    }

    /// How many slots the ring has.
    pub fn slots(&self) -> usize {
        self.layout.slots as usize
    }

    /// A slot to fill. When this side holds none, it takes back everything the
    /// receiver has returned; a returned slot that was not on loan (forged, or
    /// handed back twice) is refused, so a slot still queued is never reused.
    fn take_slot(&mut self) -> Result<Option<u32>, RingError> {
        if !self.rejoin.attached() {
            // Detached: the free queue is not ours to read yet (see rejoin).
            let slot = self.owned.first();
            if let Some(slot) = slot {
                self.owned.remove(slot);
            }
            return Ok(slot);
        }
        // A corrupt free queue breaks the ring even while this side still holds
        // slots: report it at once rather than after the slots run out.
        let returned = !self.free.is_empty()?;
        if returned && self.owned.first().is_none() {
            while let Some(desc) = self.free.dequeue()? {
                match self.layout.slot_of(desc.offset) {
                    Some(slot) if self.lent.remove(slot) => self.owned.insert(slot),
                    _ => return Err(RingError::BadFreeDescriptor),
                }
            }
        }
        let slot = self.owned.first();
        if let Some(slot) = slot {
            self.owned.remove(slot);
        }
        Ok(slot)
    }

    /// Fills a slot with `fill` (given the whole slot, returning the length used,
    /// or None to send nothing) and queues it. `Ok(false)`: nothing was sent, because
    /// no slot is free (the receiver is behind; the caller drops or retries later)
    /// or `fill` declined.
    pub fn send_with(&mut self, fill: impl FnOnce(&mut [u8]) -> Option<usize>) -> Result<bool, RingError> {
        if !self.rejoin.attached() || self.active.is_full()? {
            return Ok(false);
        }
        let Some(slot) = self.take_slot()? else { return Ok(false) };
        // SAFETY: slot < slots so the slot lies inside the data region; only this
        // PD writes the data region, and the slot is not on loan, so nothing else
        // reads it while the reference lives.
        let buf = unsafe {
            core::slice::from_raw_parts_mut(self.data.as_ptr().add(slot as usize * SLOT_SIZE), SLOT_SIZE)
        };
        let Some(len) = fill(buf) else {
            self.owned.insert(slot);
            return Ok(false);
        };
        let len = len.min(SLOT_SIZE);
        // Full was checked above, but the receiver's head may have moved since (a receiver that
        // corrupts it): a slot that was not queued stays ours, not on loan.
        match self.active.enqueue(Desc { offset: slot * SLOT_SIZE as u32, len: len as u32 }) {
            Ok(true) => {
                self.lent.insert(slot);
                Ok(true)
            }
            not_queued => {
                self.owned.insert(slot);
                not_queued
            }
        }
    }

    /// Takes a free slot without filling it, for a device to fill by DMA; publish it
    /// with [`Sender::commit`] or give it back with [`Sender::unreserve`]. `Ok(None)`
    /// when no slot is free (the receiver is behind). A reserved slot counts as
    /// taken: [`Sender::send`] never hands it out.
    pub fn reserve(&mut self) -> Result<Option<Reserved>, RingError> {
        let Some(slot) = self.take_slot()? else { return Ok(None) };
        self.reserved.insert(slot);
        let offset = slot * SLOT_SIZE as u32;
        // SAFETY: slot < slots, so the slot lies inside the data region.
        let data = unsafe { self.data.add(offset as usize) };
        Ok(Some(Reserved { offset, data }))
    }

    /// Publishes the reserved slot at `offset` with `len` bytes (at most a slot) on
    /// the active queue. `Ok(false)`: the active queue is full (only a peer that
    /// corrupts its index can cause that) or this end is detached (restarted, waiting for its
    /// peer to re-attach); the slot stays reserved. `NotHeld`: no
    /// slot is reserved at `offset`.
    pub fn commit(&mut self, offset: u32, len: usize) -> Result<bool, RingError> {
        let slot = self.reserved_slot(offset)?;
        if len > SLOT_SIZE {
            return Err(RingError::BadDescriptor);
        }
        if !self.rejoin.attached() || !self.active.enqueue(Desc { offset, len: len as u32 })? {
            return Ok(false);
        }
        self.reserved.remove(slot);
        self.lent.insert(slot);
        Ok(true)
    }

    /// Gives the reserved slot at `offset` back to the free slots unpublished.
    pub fn unreserve(&mut self, offset: u32) -> Result<(), RingError> {
        let slot = self.reserved_slot(offset)?;
        self.reserved.remove(slot);
        self.owned.insert(slot);
        Ok(())
    }

    fn reserved_slot(&self, offset: u32) -> Result<u32, RingError> {
        self.layout.slot_of(offset).filter(|&s| self.reserved.contains(s)).ok_or(RingError::NotHeld)
    }

    /// Queues a copy of `bytes` (at most a slot).
    pub fn send(&mut self, bytes: &[u8]) -> Result<bool, RingError> {
        if bytes.len() > SLOT_SIZE {
            return Err(RingError::BadDescriptor);
        }
        self.send_with(|buf| {
            buf[..bytes.len()].copy_from_slice(bytes);
            Some(bytes.len())
        })
    }

    /// After a batch: whether the receiver asked to be signalled (cleared here).
    pub fn take_signal_request(&mut self) -> bool {
        self.rejoin.attached() && self.active.take_signal_request()
    }

    /// Asks the receiver to signal when it frees slots (the sender ran dry).
    /// Re-check with [`Sender::has_room`] before sleeping. Detached, it asks nothing: the
    /// receiver's echo comes with a notification.
    pub fn request_free_signal(&self) {
        if self.rejoin.attached() {
            self.free.request_signal();
        }
    }

    /// Whether a send would find a slot now; if not, asks the receiver for a
    /// signal when it frees one, so that the caller may stop consuming its own
    /// input and sleep (backpressure) without losing the wake-up.
    ///
    /// A ring whose peer corrupted it counts as ready: the send then fails with
    /// the error, which the caller counts. Waiting on a broken peer would stall
    /// every other ring the caller serves, with nothing counted.
    pub fn ready(&self) -> bool {
        match self.room() {
            Ok(true) | Err(_) => true,
            Ok(false) => {
                self.request_free_signal();
                !matches!(self.room(), Ok(false))
            }
        }
    }

    /// How many sends in a row would find a slot now, without the receiver doing anything: the
    /// slots this side holds and those the receiver has handed back, as far as the active
    /// queue takes them. For a caller that must send several messages or none (the fragments
    /// of one packet). A corrupt ring counts as having room: the send then reports it.
    pub fn free_slots(&self) -> usize {
        if !self.rejoin.attached() {
            return 0;
        }
        let (Ok(returned), Ok(room)) = (self.free.len(), self.active.room()) else { return usize::MAX };
        (self.owned.count() + returned).min(room) as usize
    }

    /// Whether a send would find a slot now (false when the ring is corrupt).
    pub fn has_room(&self) -> bool {
        matches!(self.room(), Ok(true))
    }

    fn room(&self) -> Result<bool, RingError> {
        if !self.rejoin.attached() || self.active.is_full()? {
            return Ok(false);
        }
        Ok(self.owned.first().is_some() || !self.free.is_empty()?)
    }
}

/// The consuming end of one ring direction.
pub struct Receiver {
    data: NonNull<u8>,
    layout: Layout,
    active: ConsumerQueue,
    free: ProducerQueue,
    /// Slots taken by [`Receiver::take`] and not yet released.
    held: SlotSet,
    /// Slots taken from a sender that restarted since, not yet released: their release goes
    /// nowhere (the new sender never lent them).
    orphaned: SlotSet,
    rejoin: Rejoin,
}

/// An active slot taken without copying (see [`Receiver::take`]): checked to lie
/// inside the data region; the producer's until [`Receiver::release`]d.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    /// Byte offset of the slot in the data region (add the region's physical
    /// address for a device).
    pub offset: u32,
    /// Bytes the producer said it wrote (at most [`SLOT_SIZE`]).
    pub len: u32,
    data: NonNull<u8>,
}

impl Taken {
    /// The slot's first byte. A raw pointer: the producer can still write the slot,
    /// so its bytes are only fit for a device to read, or to be copied out.
    pub fn as_ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }

    /// Copies the slot's first bytes (as many as `out` holds, at most `len`) into `out` and
    /// returns how many: the copy is this side's to decide on.
    pub fn copy_to(&self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len as usize);
        // SAFETY: len <= SLOT_SIZE (checked when taken), so 0..n lies inside the slot, inside the
        // data region; `out` is private memory.
        unsafe { core::ptr::copy_nonoverlapping(self.data.as_ptr(), out.as_mut_ptr(), n) };
        n
    }
}

// SAFETY: the data pointer is into a region mapped for the life of the ring.
unsafe impl Send for Receiver {}

impl Receiver {
    /// The receiver over the producer's data region and the shared control region, at the
    /// PD's first start.
    pub fn new(data: MemoryRegion, ctl: MemoryRegion) -> Result<Self, RingError> {
        Self::open(data, ctl, false)
    }

    /// The receiver of a PD that was restarted (see [`Sender::rejoin`]).
    pub fn rejoin(data: MemoryRegion, ctl: MemoryRegion) -> Result<Self, RingError> {
        Self::open(data, ctl, true)
    }

    fn open(data: MemoryRegion, ctl: MemoryRegion, restarted: bool) -> Result<Self, RingError> {
        let layout = Layout::from_regions(&data, &ctl)?;
        let (a, f) = layout.queues(&ctl);
        Ok(Self {
            data: data.base(),
            layout,
            // SAFETY: both queues lie inside ctl, which is 64-aligned and long enough.
            active: unsafe { ConsumerQueue::new(a, layout.slots) },
            free: unsafe { ProducerQueue::new(f, layout.slots) },
            held: SlotSet::EMPTY,
            orphaned: SlotSet::EMPTY,
            rejoin: layout.rejoin(&ctl, End::Receiver, restarted),
        })
    }

    /// As [`Sender::sync`]: if the sender restarted, the slots this side holds become orphans
    /// (a device may still be reading them; their release is dropped) and the queues start
    /// afresh.
    pub fn sync(&mut self) -> Synced {
        let (orphaned, held) = (&mut self.orphaned, &mut self.held);
        self.rejoin.sync([&mut self.active, &mut self.free], || {
            orphaned.union(held);
            *held = SlotSet::EMPTY;
        })
    }

    /// Whether this end may use the ring (false while a restarted end waits for its peer).
    pub fn attached(&self) -> bool {
        self.rejoin.attached()
    }

    /// The next active descriptor, checked: inside the data region, at most a slot,
    /// and not naming a slot this side still holds (the producer cannot lend one
    /// slot twice).
    fn next(&mut self) -> Result<Option<(u32, Desc)>, RingError> {
        if !self.rejoin.attached() {
            return Ok(None);
        }
        let Some(desc) = self.active.dequeue()? else { return Ok(None) };
        match self.layout.check(desc) {
            Some(slot) if !self.held.contains(slot) => Ok(Some((slot, desc))),
            _ => Err(RingError::BadDescriptor),
        }
    }

    /// Takes the next buffer without copying it; hand its slot back with
    /// [`Receiver::release`]. `Ok(None)` when the ring is empty. A bad descriptor
    /// is consumed and reported, so the next call moves on.
    pub fn take(&mut self) -> Result<Option<Taken>, RingError> {
        let Some((slot, desc)) = self.next()? else { return Ok(None) };
        self.held.insert(slot);
        // SAFETY: check() put the slot inside the data region.
        let data = unsafe { self.data.add(desc.offset as usize) };
        Ok(Some(Taken { offset: desc.offset, len: desc.len, data }))
    }

    /// Hands the slot at `offset`, taken with [`Receiver::take`], back to the sender
    /// (in any order). `NotHeld`: this side holds no slot there.
    pub fn release(&mut self, offset: u32) -> Result<(), RingError> {
        let slot = self.layout.slot_of(offset).ok_or(RingError::NotHeld)?;
        // An orphan first: a device finishes with it before the slot's new loan, in order.
        if self.orphaned.remove(slot) {
            return Ok(());
        }
        if !self.held.remove(slot) {
            return Err(RingError::NotHeld);
        }
        if !self.free.enqueue(Desc { offset, len: 0 })? {
            // More descriptors than slots: the peer lied; the slot is lost to it.
            return Err(RingError::Overflow);
        }
        Ok(())
    }

    /// Copies the first `out.len()` bytes (at most a slot) of the slot at `offset`, which this
    /// side took with [`Receiver::take`] and still holds, into `out`. `NotHeld`: it holds no
    /// slot there.
    pub fn read_held(&self, offset: u32, out: &mut [u8]) -> Result<(), RingError> {
        let slot = self.layout.slot_of(offset).filter(|&s| self.held.contains(s)).ok_or(RingError::NotHeld)?;
        let n = out.len().min(SLOT_SIZE);
        // SAFETY: the slot lies inside the data region (slot_of) and 0..n inside the slot; `out`
        // is private memory. The producer may rewrite the slot: the copy is then of what it read.
        unsafe { core::ptr::copy_nonoverlapping(self.data.as_ptr().add(slot as usize * SLOT_SIZE), out.as_mut_ptr(), n) };
        Ok(())
    }

    /// Copies the next buffer into `out` and hands its slot back. `Ok(None)` when
    /// the ring is empty. A bad descriptor is consumed and reported, so the next
    /// call moves on.
    pub fn recv(&mut self, out: &mut [u8; SLOT_SIZE]) -> Result<Option<usize>, RingError> {
        let Some((_slot, desc)) = self.next()? else { return Ok(None) };
        let len = desc.len as usize;
        // SAFETY: check() put offset+len inside the data region. The producer owns
        // the bytes; a misbehaving producer rewriting them concurrently can only
        // change the copied values, which are then ours alone (no TOCTOU).
        unsafe {
            core::ptr::copy_nonoverlapping(self.data.as_ptr().add(desc.offset as usize), out.as_mut_ptr(), len)
        };
        if !self.free.enqueue(Desc { offset: desc.offset, len: 0 })? {
            // More descriptors than slots: the peer lied; we keep going.
            return Err(RingError::Overflow);
        }
        Ok(Some(len))
    }

    /// Asks the sender for a signal on its next send; re-check with
    /// [`Receiver::is_empty`] before sleeping, and cancel if there is work.
    pub fn request_signal(&self) {
        if self.rejoin.attached() {
            self.active.request_signal();
        }
    }

    /// Withdraws a signal request.
    pub fn cancel_signal(&self) {
        if self.rejoin.attached() {
            self.active.cancel_signal();
        }
    }

    /// Whether nothing is waiting (a corrupt ring counts as empty: there is nothing
    /// trustworthy to read; so does a detached one).
    pub fn is_empty(&self) -> bool {
        !self.rejoin.attached() || !matches!(self.active.is_empty(), Ok(false))
    }

    /// After handing slots back: whether the sender asked to be signalled (cleared here).
    pub fn take_signal_request(&mut self) -> bool {
        self.rejoin.attached() && self.free.take_signal_request()
    }
}

/// Both directions of a link to one peer PD, and the channel to signal it on.
///
/// Region names follow one convention: the PD maps `<link>_tx_data`,
/// `<link>_tx_ctl` (its sending direction) and `<link>_rx_data`, `<link>_rx_ctl`.
pub struct Link {
    /// Our sending direction.
    pub tx: Sender,
    /// Our receiving direction.
    pub rx: Receiver,
    /// The channel to the peer.
    pub channel: Channel,
}

/// Why a link could not be set up.
#[derive(Clone, Copy, Debug)]
pub enum LinkError {
    /// The PD does not map a region the link needs.
    MissingRegion(&'static str),
    /// The regions do not fit a ring.
    Ring(RingError),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingRegion(which) => write!(f, "link region {which} is not mapped"),
            Self::Ring(e) => write!(f, "{e}"),
        }
    }
}

impl Link {
    /// The link named `name`, from the regions the platform mapped for this PD. In a PD the
    /// platform restarted ([`pd_api::restarts`]) both directions re-attach (see [`rejoin`]):
    /// the peer is notified, and the link carries nothing until it has answered.
    pub fn open(name: &str, channel: Channel) -> Result<Self, LinkError> {
        let region = |suffix: &'static str| {
            let mut buf = [0u8; 64];
            let full = concat_name(&mut buf, name, suffix);
            pd_api::memory_region(full).ok_or(LinkError::MissingRegion(suffix))
        };
        let restarted = pd_api::restarts() > 0;
        let tx = Sender::open(region("_tx_data")?, region("_tx_ctl")?, restarted).map_err(LinkError::Ring)?;
        let rx = Receiver::open(region("_rx_data")?, region("_rx_ctl")?, restarted).map_err(LinkError::Ring)?;
        if restarted {
            channel.notify();
        }
        Ok(Self { tx, rx, channel })
    }

    /// Follows a restart of either end in both directions (see [`rejoin`]), notifying the
    /// peer when it restarted (it waits for our echo). True if anything changed: the caller
    /// then looks at the link again before it sleeps.
    pub fn sync(&mut self) -> bool {
        let tx = self.tx.sync();
        let rx = self.rx.sync();
        if tx.peer_restarted || rx.peer_restarted {
            self.channel.notify();
        }
        tx.changed() || rx.changed()
    }

    /// Whether both directions are attached (false while a restarted PD waits for its peer).
    pub fn attached(&self) -> bool {
        self.tx.attached() && self.rx.attached()
    }

    /// Notifies the peer once if either of its queues asked for a signal.
    pub fn signal_peer(&mut self) {
        let a = self.tx.take_signal_request();
        let b = self.rx.take_signal_request();
        if a || b {
            self.channel.notify();
        }
    }

    /// Before the PD goes idle: asks for a signal on new input and returns true if
    /// input arrived meanwhile (the caller must then keep draining).
    /// Syncs first ([`Link::sync`]): a change counts as input.
    pub fn arm(&mut self) -> bool {
        if self.sync() {
            return true;
        }
        self.rx.request_signal();
        if self.rx.is_empty() {
            return false;
        }
        self.rx.cancel_signal();
        true
    }
}

fn concat_name<'a>(buf: &'a mut [u8; 64], a: &str, b: &str) -> &'a str {
    let n = (a.len() + b.len()).min(buf.len());
    let an = a.len().min(n);
    buf[..an].copy_from_slice(&a.as_bytes()[..an]);
    buf[an..n].copy_from_slice(&b.as_bytes()[..n - an]);
    core::str::from_utf8(&buf[..n]).unwrap_or("")
}


#[cfg(test)]
mod tests;
