//! What a misbehaving neighbour PD can write into the rings it shares with a PD
//! under test (shared by the `misbehaving` tests of net_red, net_black and crypto,
//! which include this file by path).
//!
//! Layout (pd-ring): a control region holds the active queue, then the free
//! queue, each `queue_bytes(slots)` long: tail index at +0, head at +64, the
//! wants-signal flag at +128, 8-byte entries (offset, len) from +192.

#![allow(dead_code)]

use pd_api::MemoryRegion;
use pd_ring::{queue_bytes, SLOT_SIZE};

pub const TAIL: usize = 0;
pub const HEAD: usize = 64;
pub const ENTRIES: usize = 192;

pub fn peek(ctl: &MemoryRegion, off: usize) -> u32 {
    assert!(off + 4 <= ctl.size());
    // SAFETY: inside the test's region; single-threaded test.
    unsafe { ctl.base().as_ptr().add(off).cast::<u32>().read_volatile() }
}

pub fn poke(ctl: &MemoryRegion, off: usize, v: u32) {
    assert!(off + 4 <= ctl.size());
    // SAFETY: as for peek.
    unsafe { ctl.base().as_ptr().add(off).cast::<u32>().write_volatile(v) }
}

/// One kind of garbage, written by the neighbour into one direction of a link.
#[derive(Clone, Copy, Debug)]
pub enum Garbage {
    // --- In the direction the neighbour produces (the PD receives): its active queue.
    /// A descriptor past the end of the data region.
    OffsetPastEnd,
    /// A descriptor off a slot boundary.
    OffsetUnaligned,
    /// A descriptor longer than a slot.
    LengthTooLong,
    /// A descriptor whose offset+length wraps around u32.
    OffsetWraps,
    /// The tail index runs away (more entries than the queue holds).
    TailRunaway,
    /// The tail index runs backwards.
    TailBackwards,
    // --- In the direction the PD produces (the neighbour consumes): head and free queue.
    /// The head of the PD's active queue runs past the tail.
    HeadRunaway,
    /// A free descriptor naming no slot of the data region.
    FreeForgedOffset,
    /// A free descriptor off a slot boundary.
    FreeUnaligned,
    /// The free queue's tail runs away.
    FreeTailRunaway,
}

pub const RX_GARBAGE: [Garbage; 6] = [
    Garbage::OffsetPastEnd,
    Garbage::OffsetUnaligned,
    Garbage::LengthTooLong,
    Garbage::OffsetWraps,
    Garbage::TailRunaway,
    Garbage::TailBackwards,
];
pub const TX_GARBAGE: [Garbage; 4] =
    [Garbage::HeadRunaway, Garbage::FreeForgedOffset, Garbage::FreeUnaligned, Garbage::FreeTailRunaway];

impl Garbage {
    /// Writes the garbage. `ctl` is the far end's `ctl[1]` (what the PD receives) for
    /// the RX kinds and `ctl[0]` (what the PD sends) for the TX kinds; `slots` the
    /// ring's slot count.
    pub fn write(self, ctl: &MemoryRegion, slots: u32) {
        let q = queue_bytes(slots);
        let data_bytes = slots * SLOT_SIZE as u32;
        let active_entry = |v: (u32, u32), n: u32| {
            let tail = peek(ctl, TAIL);
            for i in 0..n {
                let e = ENTRIES + ((tail.wrapping_add(i) % slots) as usize) * 8;
                poke(ctl, e, v.0);
                poke(ctl, e + 4, v.1);
            }
            poke(ctl, TAIL, tail.wrapping_add(n));
        };
        let free_entry = |offset: u32, n: u32| {
            let tail = peek(ctl, q + TAIL);
            for i in 0..n {
                let e = q + ENTRIES + ((tail.wrapping_add(i) % slots) as usize) * 8;
                poke(ctl, e, offset);
                poke(ctl, e + 4, 0);
            }
            poke(ctl, q + TAIL, tail.wrapping_add(n));
        };
        match self {
            Self::OffsetPastEnd => active_entry((data_bytes, 64), 3),
            Self::OffsetUnaligned => active_entry((100, 64), 3),
            Self::LengthTooLong => active_entry((0, SLOT_SIZE as u32 + 1), 3),
            Self::OffsetWraps => active_entry((u32::MAX - 63, 4096), 3),
            Self::TailRunaway => poke(ctl, TAIL, peek(ctl, TAIL).wrapping_add(slots * 4 + 1)),
            Self::TailBackwards => poke(ctl, TAIL, peek(ctl, TAIL).wrapping_sub(1)),
            Self::HeadRunaway => poke(ctl, HEAD, peek(ctl, TAIL).wrapping_add(slots + 7)),
            Self::FreeForgedOffset => free_entry(data_bytes + SLOT_SIZE as u32, 3),
            Self::FreeUnaligned => free_entry(SLOT_SIZE as u32 / 2, 3),
            Self::FreeTailRunaway => poke(ctl, q + TAIL, peek(ctl, q + TAIL).wrapping_add(slots * 4 + 1)),
        }
    }

    pub fn is_rx(self) -> bool {
        RX_GARBAGE.iter().any(|g| matches!((g, self), (a, b) if core::mem::discriminant(a) == core::mem::discriminant(&b)))
    }
}
