//! The NIC PD's data path with the e1000 driver on its register-level model (the drivers'
//! tests/model), the ring link "net" in DMA memory, and the test playing the stack PD.
//!
//! What would fail if the PD still copied: the addresses in the NIC's receive and transmit
//! descriptors are the ring slots' physical addresses, the stack PD sees each frame in the slot
//! the NIC wrote, and a transmit slot stays out of the stack PD's hands until the NIC is done.

#[path = "../../../drivers/e1000/tests/model/mod.rs"]
mod model;

use model::E1000Model;
use nic_testkit::conformance::{RxOutcome, WireModel};
use nic_core::{DmaRegion, Nic};
use nic_e1000::regs::{RDBAH, RDBAL, TDBAH, TDBAL};
use nic_e1000::{Config, E1000};
use nic_testkit::{Arena, TestHal, PHYS_BASE};
use pd_api::{ChannelSet, Handler, MemoryRegion};
use pd_nic::{DmaLayout, FrameMover, MoverConfig, NET, NIC_IRQ};
use pd_ring::{Desc, SLOT_SIZE};
use pd_testkit::{FarEnd, TestPd};
use std::cell::{RefCell, RefMut};
use std::rc::Rc;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const PEER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];
const ARENA_BYTES: usize = 4 << 20;
/// Descriptor rings (TestHal::dma_alloc).
const DESC_AREA: usize = 256 << 10;
/// The PD's own DMA region (copy buffers; its descriptor pool is unused under TestHal).
const NIC_DMA: (usize, usize) = (256 << 10, 256 << 10);
/// The ring data regions, 32 slots each: nic→stack and stack→nic.
const TO_STACK: usize = 1 << 20;
const FROM_STACK: usize = 2 << 20;
const SLOTS: usize = 32;
/// Descriptors per NIC ring: 15 buffers at most with the device.
const DESCS: usize = 16;

type Driver = E1000<TestHal<E1000Model>, DESCS, DESCS>;

struct Rig {
    mover: FrameMover<Driver>,
    hal: TestHal<E1000Model>,
    stack: FarEnd,
}

fn region(arena: &Arena, offset: usize, len: usize, with_phys: bool) -> MemoryRegion {
    let r: DmaRegion = arena.region(offset, len);
    // SAFETY: the arena outlives the test (the rig keeps it through the HAL).
    let m = unsafe { MemoryRegion::new(r.virt(), r.len()) };
    if with_phys {
        m.with_phys_addr(r.phys())
    } else {
        m
    }
}

fn no_rekick(_: &Driver) {}
fn no_report(_: &str, _: u64) {}

/// The PD over an e1000 model; `phys`: whether the ring data regions have a physical address.
fn rig(phys: bool) -> Rig {
    let pd = TestPd::new("nic");
    let arena = Arena::new(ARENA_BYTES);
    let device = Rc::new(RefCell::new(E1000Model::new(arena.clone(), MAC)));
    let hal = TestHal::new(device, arena.clone(), DESC_AREA);
    let config = Config { all_multicast: false, ..Config::new(0x100E) };
    let nic = Driver::new(hal.clone(), config).expect("init");
    let ring_bytes = SLOTS * SLOT_SIZE;
    let stack =
        pd.link_over("net", region(&arena, TO_STACK, ring_bytes, phys), region(&arena, FROM_STACK, ring_bytes, phys));
    let dma = DmaLayout::split(region(&arena, NIC_DMA.0, NIC_DMA.1, true), 16, 16).unwrap();
    let config = MoverConfig { rekick: no_rekick, tx_headroom: 0, zero_copy: true, report: no_report };
    let mover = FrameMover::new(nic, &dma, config).expect("mover");
    Rig { mover, hal, stack }
}

impl Rig {
    fn model(&self) -> RefMut<'_, E1000Model> {
        self.hal.device.borrow_mut()
    }

    fn irq(&mut self) {
        self.mover.notified(ChannelSet::EMPTY.with(NIC_IRQ)).unwrap();
    }

    fn net(&mut self) {
        self.mover.notified(ChannelSet::EMPTY.with(NET)).unwrap();
    }

    /// The buffer address in each of the first `n` descriptors of the ring based at the
    /// registers `bal`/`bah`.
    fn descriptor_addresses(&self, bal: usize, bah: usize, n: usize) -> Vec<u64> {
        let m = self.model();
        let base = u64::from(m.reg(bah)) << 32 | u64::from(m.reg(bal));
        (0..n as u64).map(|i| self.hal.arena.read_u64(base + 16 * i)).collect()
    }

    fn assert_clean(&self) {
        let m = self.hal.device.borrow();
        assert!(m.core.protocol_errors.is_empty(), "device saw: {:?}", m.core.protocol_errors);
        assert_eq!(self.hal.arena.faults(), 0, "DMA outside memory");
    }
}

fn frame(dst: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x88, 0xB5]);
    f.extend_from_slice(&seq.to_be_bytes());
    while f.len() < len {
        f.push((f.len() as u32 ^ seq) as u8);
    }
    f
}

fn read_taken(t: &pd_ring::Taken) -> Vec<u8> {
    // SAFETY: the slot lies in the test's ring memory and nothing writes it meanwhile.
    unsafe { std::slice::from_raw_parts(t.as_ptr(), t.len as usize) }.to_vec()
}

#[test]
fn receive_buffers_are_ring_slots_and_frames_arrive_in_them() {
    let mut r = rig(true);
    let ring = PHYS_BASE + TO_STACK as u64;
    let posted = r.descriptor_addresses(RDBAL, RDBAH, DESCS - 1);
    for (i, &a) in posted.iter().enumerate() {
        assert!(a >= ring && a < ring + (SLOTS * SLOT_SIZE) as u64, "descriptor {i}: {a:#x} is not in the ring");
        assert_eq!((a - ring) % SLOT_SIZE as u64, 0, "descriptor {i}: not a slot start");
    }
    let frames: Vec<Vec<u8>> = (0..5).map(|s| frame(MAC, s, 60 + 100 * s as usize)).collect();
    for f in &frames {
        assert_eq!(r.model().inject(f), RxOutcome::Delivered);
    }
    r.irq();
    for (i, f) in frames.iter().enumerate() {
        let t = r.stack.rx.take().unwrap().expect("frame for the stack");
        assert_eq!(PHYS_BASE + TO_STACK as u64 + u64::from(t.offset), posted[i], "frame {i} is in the slot the NIC wrote");
        assert_eq!(&read_taken(&t), f);
        r.stack.rx.release(t.offset).unwrap();
    }
    let c = r.mover.counters();
    assert_eq!((c.rx_to_ring, c.rx_zero_copy, c.rx_copied), (5, 5, 0));
    r.assert_clean();
}

#[test]
fn transmit_reads_the_stack_slots_and_frees_them_only_when_done() {
    let mut r = rig(true);
    let frames: Vec<Vec<u8>> = (0..SLOTS as u32).map(|s| frame(PEER, s, 64 + s as usize)).collect();
    for f in &frames {
        r.stack.send(f);
    }
    assert!(!r.stack.tx.has_room());
    r.net();
    // The NIC took 15 (its ring holds N-1) and reads them in place.
    let ring = PHYS_BASE + FROM_STACK as u64;
    let addrs = r.descriptor_addresses(TDBAL, TDBAH, DESCS - 1);
    for (i, &a) in addrs.iter().enumerate() {
        assert_eq!(a, ring + (i * SLOT_SIZE) as u64, "TX descriptor {i} names the stack's slot {i}");
    }
    r.net();
    assert!(!r.stack.tx.has_room(), "no slot comes back before the NIC sends it");
    assert_eq!(r.model().transmit(4), frames[..4]);
    r.irq();
    assert!(r.stack.tx.has_room(), "slots come back once the NIC reports them done");
    let mut wire = frames[..4].to_vec();
    for _ in 0..10 {
        wire.extend(r.model().transmit(usize::MAX));
        r.irq();
    }
    assert_eq!(wire, frames, "every frame, in order, exactly");
    let c = r.mover.counters();
    assert_eq!((c.tx_to_nic, c.tx_zero_copy, c.tx_copied), (SLOTS as u64, SLOTS as u64, 0));
    for _ in 0..SLOTS {
        assert!(r.stack.tx.send(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab").unwrap(), "all slots back");
    }
    r.assert_clean();
}

#[test]
fn rings_wrap_both_ways_with_a_slow_stack() {
    let mut r = rig(true);
    let mut seq = 0u32;
    let mut got = Vec::new();
    let mut sent = Vec::new();
    let mut wire = Vec::new();
    for round in 0..40u32 {
        // Wire → stack: seven frames, the stack keeps up to three slots for a while.
        let batch: Vec<Vec<u8>> = (0..7).map(|i| frame(MAC, seq + i, 60 + ((seq + i) % 90) as usize)).collect();
        seq += 7;
        for f in &batch {
            assert_eq!(r.model().inject(f), RxOutcome::Delivered, "round {round}");
        }
        r.irq();
        let mut held = Vec::new();
        while let Some(t) = r.stack.rx.take().unwrap() {
            got.push(read_taken(&t));
            held.push(t.offset);
        }
        for off in held {
            r.stack.rx.release(off).unwrap();
        }
        r.net();
        // Stack → wire: five frames.
        for i in 0..5 {
            let f = frame(PEER, round * 5 + i, 70 + i as usize);
            r.stack.send(&f);
            sent.push(f);
        }
        r.net();
        wire.extend(r.model().transmit(usize::MAX));
        r.irq();
        let expect: Vec<Vec<u8>> = (0..seq).map(|s| frame(MAC, s, 60 + (s % 90) as usize)).collect();
        assert_eq!(got, expect, "round {round}");
    }
    assert_eq!(wire, sent);
    let (rx_wraps, tx_wraps) = r.model().wraps();
    assert!(rx_wraps >= 10 && tx_wraps >= 10);
    let c = r.mover.counters();
    assert_eq!((c.rx_zero_copy, c.rx_copied, c.tx_zero_copy, c.tx_copied), (280, 0, 200, 0));
    assert_eq!(c.drop_ring_error, 0);
    r.assert_clean();
}

#[test]
fn a_stack_that_keeps_its_slots_starves_the_nic_which_counts_then_recovers() {
    let mut r = rig(true);
    // 32 slots: 15 with the NIC, 17 left to refill with. The stack frees nothing.
    let mut delivered = 0;
    for s in 0..40 {
        if r.model().inject(&frame(MAC, s, 64)) == RxOutcome::Delivered {
            delivered += 1;
        }
        r.irq();
    }
    assert_eq!(delivered, SLOTS as u32, "15 posted at start, then 17 refills: every slot once");
    assert!(r.mover.counters().rx_ring_full > 0, "the PD found no free slot");
    assert_eq!(r.mover.nic().counters().hw_rx_missed, 40 - delivered as u64, "the NIC counted the rest");
    // The stack catches up: its frees refill the NIC, and frames flow again.
    let mut taken = 0;
    while r.stack.rx.recv(&mut [0u8; SLOT_SIZE]).unwrap().is_some() {
        taken += 1;
    }
    assert_eq!(taken, delivered);
    r.net();
    assert_eq!(r.model().inject(&frame(MAC, 100, 64)), RxOutcome::Delivered);
    r.irq();
    let mut out = [0u8; SLOT_SIZE];
    assert_eq!(r.stack.rx.recv(&mut out).unwrap(), Some(64));
    assert_eq!(out[14..18], 100u32.to_be_bytes());
    r.assert_clean();
}

#[test]
fn bad_and_duplicate_descriptors_from_the_stack_are_counted_not_sent() {
    let mut r = rig(true);
    let ctl = r.stack.ctl[1];
    // A forged active queue: out of bounds, longer than the NIC sends, empty, then one good,
    // then the good slot again while the NIC still holds it.
    let forged = [
        Desc { offset: SLOTS as u32 * SLOT_SIZE as u32, len: 64 },
        Desc { offset: 0, len: 1600 },
        Desc { offset: SLOT_SIZE as u32, len: 0 },
        Desc { offset: 2 * SLOT_SIZE as u32, len: 64 },
        Desc { offset: 2 * SLOT_SIZE as u32, len: 64 },
    ];
    let words = ctl.base().as_ptr().cast::<u32>();
    for (i, d) in forged.iter().enumerate() {
        // SAFETY: test memory: the active queue of the stack→nic control region (entries from
        // byte 192, eight bytes each; tail at byte 0).
        unsafe {
            *words.add(48 + 2 * i) = d.offset;
            *words.add(48 + 2 * i + 1) = d.len;
            *words = i as u32 + 1;
        }
        r.net();
    }
    let c = r.mover.counters().clone();
    assert_eq!(c.drop_ring_error, 2, "out of bounds, duplicate");
    assert_eq!((c.drop_tx_oversize, c.drop_tx_empty), (1, 1));
    assert_eq!(c.tx_zero_copy, 1);
    assert_eq!(r.model().transmit(usize::MAX).len(), 1, "only the good frame went out");
    r.assert_clean();
}

#[test]
fn without_physical_addresses_the_pd_copies_and_says_so() {
    let mut r = rig(false);
    let dma_start = PHYS_BASE + NIC_DMA.0 as u64;
    for &a in &r.descriptor_addresses(RDBAL, RDBAH, DESCS - 1) {
        assert!(a >= dma_start && a < dma_start + NIC_DMA.1 as u64, "receive buffers are the PD's own");
    }
    let f = frame(MAC, 1, 100);
    r.model().inject(&f);
    r.irq();
    assert_eq!(r.stack.drain(), vec![f]);
    let g = frame(PEER, 2, 80);
    r.stack.send(&g);
    r.net();
    assert_eq!(r.model().transmit(usize::MAX), vec![g]);
    let c = r.mover.counters();
    assert_eq!((c.rx_copied, c.rx_zero_copy, c.tx_copied, c.tx_zero_copy), (1, 0, 1, 0));
    r.assert_clean();
}
