//! The ring consumer and producer against a peer that controls the shared
//! control region: every index, descriptor and flag the PD reads from shared
//! memory comes from the fuzzer. The PD's Receiver must only ever copy from
//! inside the data region and never return more than a slot; its Sender must
//! only ever write inside its data region; neither may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pd_api::MemoryRegion;
use pd_ring::{queue_bytes, Layout, Receiver, Sender, SLOT_SIZE};
use std::ptr::NonNull;

const SLOTS: u32 = 8;

/// Zeroed, 64-byte-aligned memory (freed at the end of the run).
struct Mem {
    words: Vec<u64>,
    bytes: usize,
}

impl Mem {
    fn new(bytes: usize) -> Self {
        Self { words: vec![0u64; bytes / 8 + 8], bytes }
    }
    fn region(&mut self) -> MemoryRegion {
        let p = self.words.as_mut_ptr() as usize;
        let aligned = (p + 63) & !63;
        // SAFETY: aligned..aligned+bytes lies inside `words`, which outlives the ring.
        unsafe { MemoryRegion::new(NonNull::new(aligned as *mut u8).unwrap(), self.bytes) }
    }
}

/// Writes a 32-bit word into the control region as the peer would.
fn poke32(ctl: &MemoryRegion, offset: usize, value: u32) {
    let off = (offset % ctl.size()) & !3;
    // SAFETY: off + 4 <= size (size is a multiple of 64); single-threaded.
    unsafe { ctl.base().as_ptr().add(off).cast::<u32>().write_volatile(value) }
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.0.get(..4)?;
        let v = u32::from_le_bytes(b.try_into().unwrap());
        self.0 = &self.0[4..];
        Some(v)
    }
}

fuzz_target!(|data: &[u8]| {
    let layout = Layout::new(SLOTS);
    let q = queue_bytes(SLOTS);
    // Ring 1: the peer produces, the PD's Receiver consumes.
    let (mut d1, mut c1) = (Mem::new(layout.data_bytes()), Mem::new(layout.ctl_bytes()));
    // Ring 2: the PD's Sender produces, the peer consumes (and forges free descriptors).
    let (mut d2, mut c2) = (Mem::new(layout.data_bytes()), Mem::new(layout.ctl_bytes()));
    let (data1, ctl1) = (d1.region(), c1.region());
    let (data2, ctl2) = (d2.region(), c2.region());
    let mut rx = Receiver::new(data1, ctl1).unwrap();
    let mut tx = Sender::new(data2, ctl2).unwrap();
    let mut out = [0u8; SLOT_SIZE];
    let mut input = Input(data);
    let mut steps = 0;
    while let Some(op) = input.u8() {
        steps += 1;
        if steps > 4096 {
            break;
        }
        match op % 12 {
            // The peer scribbles a word anywhere in either control region.
            0 => {
                let (Some(off), Some(v)) = (input.u32(), input.u32()) else { break };
                poke32(&ctl1, off as usize, v);
            }
            1 => {
                let (Some(off), Some(v)) = (input.u32(), input.u32()) else { break };
                poke32(&ctl2, off as usize, v);
            }
            // The peer writes an active descriptor (offset, len) into entry i and moves the tail.
            2 => {
                let (Some(i), Some(offset), Some(len), Some(tail)) = (input.u8(), input.u32(), input.u32(), input.u32())
                else {
                    break;
                };
                let e = 192 + (i as usize % SLOTS as usize) * 8;
                poke32(&ctl1, e, offset);
                poke32(&ctl1, e + 4, len);
                poke32(&ctl1, 0, tail);
            }
            // The peer hands back a (possibly forged) free descriptor to the PD's sender.
            3 => {
                let (Some(i), Some(offset), Some(tail)) = (input.u8(), input.u32(), input.u32()) else { break };
                let e = q + 192 + (i as usize % SLOTS as usize) * 8;
                poke32(&ctl2, e, offset);
                poke32(&ctl2, e + 4, 0);
                poke32(&ctl2, q, tail);
            }
            // The peer consumes from the PD's active queue (moves the head).
            4 => {
                let Some(head) = input.u32() else { break };
                poke32(&ctl2, 64, head);
            }
            5..=7 => {
                if let Ok(Some(n)) = rx.recv(&mut out) {
                    assert!(n <= SLOT_SIZE);
                }
            }
            8 | 9 => {
                let Some(len) = input.u8() else { break };
                let bytes = vec![0xA5u8; len as usize * 8];
                let _ = tx.send(&bytes);
            }
            10 => {
                let _ = tx.ready();
                let _ = tx.has_room();
                let _ = tx.take_signal_request();
                tx.request_free_signal();
            }
            _ => {
                rx.request_signal();
                let _ = rx.is_empty();
                rx.cancel_signal();
                let _ = rx.take_signal_request();
            }
        }
    }
    drop((rx, tx));
    drop((d1, c1, d2, c2));
});
