//! A NIC driver gone bad (tests/sel4/test_iommu.py): it programs its 82574L (QEMU e1000e) to
//! transmit from, and receive into, `victim`, a region it maps read-only but that is not in its
//! device's `<io_address_space>` (in the product, think of the crypto PD's config). With VT-d the
//! NIC's DMA there must fault while its DMA to its own region `dma` keeps working; without, the
//! victim's bytes leave on the wire and a received frame overwrites them, which is what the test
//! shows so that it can fail.
//!
//! Polling only (no interrupt), legacy descriptors, one step after another, each with a deadline:
//! 1. `escape_tx_legit`: a frame from `dma` (the NIC works);
//! 2. `escape_tx_victim`: a frame whose buffer is the victim's physical address;
//! 3. `escape_rx_victim`: a receive buffer at the victim's address; the test keeps sending frames;
//!    `escape_victim` then says whether the victim's bytes are `intact` or `overwritten`;
//! 4. `escape_rx_legit`: a receive buffer in `dma` gets a frame (the NIC still works).
#![no_std]
#![no_main]

extern crate alloc;

use pd_api::{ChannelSet, Handler};
use sel4_test_pds::{result, Mmio};

// 82574L registers (legacy descriptor interface, as the 8254x's): the driver's register map.
use nic_e1000::regs::{
    CTRL, CTRL_SLU, IMC, RCTL, RCTL_BAM, RCTL_EN, RCTL_MPE, RCTL_UPE, RDBAH, RDBAL, RDH, RDLEN, RDT, STATUS, STATUS_LU, TCTL, TCTL_EN,
    TDBAH, TDBAL, TDH, TDLEN, TDT,
};

/// RCTL: enable, unicast and multicast promiscuous, broadcast accept, 2048-byte buffers.
const RCTL_ON: u32 = RCTL_EN | RCTL_UPE | RCTL_MPE | RCTL_BAM;
/// TCTL: enable, pad short packets, collision threshold and distance.
const TCTL_ON: u32 = TCTL_EN | 1 << 3 | 0x10 << 4 | 0x40 << 12;

// The `dma` region: transmit ring, receive ring, then 2 KiB buffers.
const TX_RING: usize = 0x0000;
const RX_RING: usize = 0x1000;
const TX_BUF: usize = 0x2000;
const RX_BUF: usize = 0x3000;
const RING_LEN: u32 = 8 * 16;
const FRAME_LEN: usize = 128;
/// What a legitimate frame carries after its Ethernet header.
const LEGIT: &[u8] = b"LEGIT-FRAME-FROM-MY-OWN-DMA-REGION";
/// What the test's frames start with after their Ethernet header.
const HOST: &[u8] = b"HOST-FRAME";

struct DmaEscape;

fn wait(deadline_ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = pd_api::now_ns() + deadline_ms * 1_000_000;
    loop {
        if done() {
            return true;
        }
        if pd_api::now_ns() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// Posts transmit descriptor `i` (buffer `phys`, `len` bytes) and waits for its write-back.
fn transmit(regs: &Mmio, dma: &Mmio, i: usize, phys: u64, len: usize) -> &'static str {
    let d = TX_RING + i * 16;
    dma.write64(d, phys);
    // Length, then CMD = EOP | IFCS | RS; status cleared.
    dma.write32(d + 8, len as u32 | 0x0b << 24);
    dma.write32(d + 12, 0);
    regs.write32(TDT, (i + 1) as u32);
    if wait(1000, || dma.read8(d + 12) & 1 != 0) {
        "sent"
    } else {
        "no_write_back"
    }
}

/// Posts receive descriptor `i` (buffer `phys`) and waits for a frame to be written back to it.
fn receive(regs: &Mmio, dma: &Mmio, i: usize, phys: u64) -> bool {
    let d = RX_RING + i * 16;
    dma.write64(d, phys);
    dma.write64(d + 8, 0);
    regs.write32(RDT, (i + 1) as u32);
    wait(5000, || dma.read8(d + 12) & 1 != 0)
}

fn run() -> Result<(), &'static str> {
    let regs = Mmio::new(pd_api::memory_region("e1000e_regs").ok_or("e1000e_regs not mapped")?);
    let dma = Mmio::new(pd_api::memory_region("dma").ok_or("dma not mapped")?);
    let victim = Mmio::new(pd_api::memory_region("victim").ok_or("victim not mapped")?);
    let (base, victim_phys) = (dma.phys_addr(), victim.phys_addr());
    let victim_bytes = || core::array::from_fn::<u8, 64, _>(|k| victim.read8(k));
    let before = victim_bytes();
    result!("escape_victim_phys", "{victim_phys:#x}");

    regs.write32(IMC, u32::MAX);
    regs.write32(CTRL, regs.read32(CTRL) | CTRL_SLU);
    result!("escape_link", "{}", if wait(3000, || regs.read32(STATUS) & STATUS_LU != 0) { "up" } else { "down" });
    for (ring, bal, bah, len, head, tail) in [(TX_RING, TDBAL, TDBAH, TDLEN, TDH, TDT), (RX_RING, RDBAL, RDBAH, RDLEN, RDH, RDT)] {
        for k in 0..RING_LEN as usize {
            dma.write8(ring + k, 0);
        }
        regs.write32(bal, (base + ring as u64) as u32);
        regs.write32(bah, ((base + ring as u64) >> 32) as u32);
        regs.write32(len, RING_LEN);
        regs.write32(head, 0);
        regs.write32(tail, 0);
    }
    regs.write32(TCTL, TCTL_ON);

    // 1. From its own region: broadcast, ethertype 0x88b5 (local experimental), the marker.
    for i in 0..FRAME_LEN {
        dma.write8(TX_BUF + i, match i {
            0..=5 => 0xff,
            6..=11 => 0x02,
            12 => 0x88,
            13 => 0xb5,
            _ => LEGIT.get(i - 14).copied().unwrap_or(0),
        });
    }
    result!("escape_tx_legit", "{}", transmit(&regs, &dma, 0, base + TX_BUF as u64, FRAME_LEN));
    // 2. From the victim: its first bytes would be the frame.
    result!("escape_tx_victim", "{}", transmit(&regs, &dma, 1, victim_phys, 64));
    // 3. Into the victim.
    regs.write32(RCTL, RCTL_ON);
    result!("escape_rx_victim", "{}", if receive(&regs, &dma, 0, victim_phys) { "written_back" } else { "none" });
    result!("escape_victim", "{}", if victim_bytes() == before { "intact" } else { "overwritten" });
    // 4. Into its own region.
    let got = receive(&regs, &dma, 1, base + RX_BUF as u64) && (0..HOST.len()).all(|k| dma.read8(RX_BUF + 14 + k) == HOST[k]);
    result!("escape_rx_legit", "{}", if got { "ok" } else { "none" });
    regs.write32(RCTL, 0);
    regs.write32(TCTL, 0);
    Ok(())
}

impl Handler for DmaEscape {
    type Error = &'static str;
    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn init() -> DmaEscape {
    if let Err(e) = run() {
        result!("escape_error", "{}", e.replace(' ', "_"));
    }
    result!("escape_done", "yes");
    DmaEscape
}

sel4_pd_runtime::protection_domain!(init);
