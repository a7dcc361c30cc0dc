//! Gets an e1000-family NIC (82540EM or 82574L) from system.xml's `<pci_device>`: reads its
//! STATUS register through the mapped BAR 0, makes it raise a link-status-change interrupt (by
//! writing the interrupt cause set register) and waits for the interrupt on its IRQ channel, by
//! INTx or MSI as system.xml says. It raises the interrupt only when the runtime's first poll
//! (pd_api::Handler::notified) has come, so that the poll cannot pass for the interrupt; causes
//! seen before that (left by firmware, say) are cleared and ignored. Then, on the 82540EM, it
//! checks DMA both ways: the NIC reads
//! a transmit descriptor and frame from the PD's DMA region and writes the descriptor's status
//! back, which proves the region's physical address. Result names start with the PD's name, so
//! that several probes can run side by side.
#![no_std]
#![no_main]

extern crate alloc;

use pd_api::{Channel, ChannelSet, Handler};
use sel4_test_pds::{result, Mmio};

const NIC_IRQ: Channel = Channel::new(4);

// 8254x registers (Intel 8254x manual, section 13): the driver's register map.
use nic_e1000::regs::{ICR, ICS, IMC, IMS, STATUS, TCTL, TDBAH, TDBAL, TDH, TDLEN, TDT};
/// Interrupt cause: link status change.
const LSC: u32 = nic_e1000::regs::ICR_LSC;

// Layout of the DMA region: a ring of 8 legacy 16-byte transmit descriptors, then a buffer.
const TX_RING: usize = 0x0000;
const TX_BUF: usize = 0x1000;
const FRAME_LEN: usize = 64;

struct NicProbe {
    regs: Mmio,
    dma: Mmio,
    /// Whether the PD has made the NIC raise its interrupt.
    raised: bool,
    interrupts: u32,
    dma_test: bool,
}

impl NicProbe {
    fn frame_byte(i: usize) -> u8 {
        match i {
            0..=5 => 0xff,
            6..=11 => [0x52, 0x54, 0x00, 0x12, 0x34, 0x56][i - 6],
            12 => 0x88,
            13 => 0xb5,
            _ => (i * 7 + 3) as u8,
        }
    }

    /// Transmits one frame from the DMA region and waits for the NIC to write the descriptor's
    /// status back: the NIC read the descriptor and the frame at the physical addresses the
    /// root task reported, and wrote into the region, which the PD sees through its mapping.
    fn dma_round_trip(&self) -> &'static str {
        let base = self.dma.phys_addr();
        if base == 0 {
            return "no physical address";
        }
        for i in 0..FRAME_LEN {
            self.dma.write8(TX_BUF + i, Self::frame_byte(i));
        }
        for i in 0..8 {
            self.dma.write64(TX_RING + i * 16, base + TX_BUF as u64);
            // Length, then CMD = EOP | IFCS | RS (report status); status cleared.
            self.dma.write32(TX_RING + i * 16 + 8, FRAME_LEN as u32 | (0x0b << 24));
            self.dma.write32(TX_RING + i * 16 + 12, 0);
        }
        self.regs.write32(TDBAL, (base + TX_RING as u64) as u32);
        self.regs.write32(TDBAH, ((base + TX_RING as u64) >> 32) as u32);
        self.regs.write32(TDLEN, 128);
        self.regs.write32(TDH, 0);
        self.regs.write32(TDT, 0);
        self.regs.write32(TCTL, 1 << 1 | 1 << 3 | 0x10 << 4 | 0x40 << 12);
        self.regs.write32(TDT, 1);
        let deadline = pd_api::now_ns() + 100_000_000;
        let done = loop {
            if self.dma.read8(TX_RING + 12) & 1 != 0 {
                break true;
            }
            if pd_api::now_ns() > deadline {
                break false;
            }
        };
        self.regs.write32(TCTL, 0);
        match (done, self.regs.read32(TDH)) {
            (true, 1) => "ok",
            (true, _) => "status written but head did not move",
            (false, _) => "no descriptor write-back",
        }
    }
}

impl Handler for NicProbe {
    type Error = &'static str;
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(NIC_IRQ) {
            return Err("notified on an unexpected channel");
        }
        // Reading ICR clears the causes and drops the (level-triggered) line before the ack.
        let cause = self.regs.read32(ICR);
        NIC_IRQ.irq_ack();
        if !self.raised {
            // The runtime's poll after init (or an interrupt left from before): now raise ours.
            self.raised = true;
            self.regs.write32(ICS, LSC);
            return Ok(());
        }
        if cause == 0 {
            return Ok(());
        }
        self.regs.write32(IMC, u32::MAX);
        self.interrupts += 1;
        let name = sel4_pd_runtime::pd_name();
        result!(format_args!("{name}_irq"), "{}", if cause & LSC != 0 && self.interrupts == 1 { "ok" } else { "fail" });
        if self.dma_test && self.interrupts == 1 {
            result!(format_args!("{name}_dma"), "{}", self.dma_round_trip().replace(' ', "_"));
        }
        Ok(())
    }
}

fn init() -> NicProbe {
    let regs = Mmio::new(pd_api::memory_region("e1000_regs").expect("e1000_regs not mapped"));
    let dma = Mmio::new(pd_api::memory_region("dma").expect("dma not mapped"));
    let name = sel4_pd_runtime::pd_name();
    let status = regs.read32(STATUS);
    result!(format_args!("{name}_status"), "{status:#x}");
    result!(format_args!("{name}_link"), "{}", if status & 2 != 0 { "up" } else { "down" });
    result!(format_args!("{name}_dma_paddr"), "{:#x}", dma.phys_addr());
    // The DMA test uses the 82540EM's legacy descriptors and a 16 KiB region, which
    // system-test.xml gives to that NIC's PD only.
    let dma_test = pd_api::memory_region("dma").is_some_and(|r| r.size() >= 0x4000);
    let probe = NicProbe { regs, dma, raised: false, interrupts: 0, dma_test };
    probe.regs.read32(ICR);
    probe.regs.write32(IMS, LSC);
    probe
}

sel4_pd_runtime::protection_domain!(init);
