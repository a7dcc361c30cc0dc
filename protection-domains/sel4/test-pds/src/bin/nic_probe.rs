//! Gets an e1000-family NIC (82540EM or 82574L) from system.xml's `<pci_device>`: reads its
//! STATUS register through the mapped BAR 0, makes it raise a link-status-change interrupt (by
//! writing the interrupt cause set register) and waits for the interrupt on its IRQ channel, by
//! INTx or MSI as system.xml says. Also reports the physical address of its DMA region. Result
//! names start with the PD's name, so that several probes can run side by side.
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler, MemoryRegion};
use sel4_test_pds::result;

const NIC_IRQ: Channel = Channel::new(4);

// 82540EM register offsets (Intel 8254x manual, section 13).
const STATUS: usize = 0x0008;
const ICR: usize = 0x00c0;
const ICS: usize = 0x00c8;
const IMS: usize = 0x00d0;
const IMC: usize = 0x00d8;
/// Interrupt cause: link status change.
const LSC: u32 = 1 << 2;

struct NicProbe {
    regs: MemoryRegion,
    interrupts: u32,
}

impl NicProbe {
    fn read(&self, offset: usize) -> u32 {
        assert!(offset + 4 <= self.regs.size());
        // SAFETY: the register lies inside the BAR mapping (checked above), which the root task
        // mapped uncached for this PD only; device registers need volatile 32-bit accesses.
        unsafe { (self.regs.base().as_ptr().add(offset) as *const u32).read_volatile() }
    }

    fn write(&self, offset: usize, value: u32) {
        assert!(offset + 4 <= self.regs.size());
        // SAFETY: as in read.
        unsafe { (self.regs.base().as_ptr().add(offset) as *mut u32).write_volatile(value) }
    }
}

impl Handler for NicProbe {
    type Error = &'static str;
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(NIC_IRQ) {
            return Err("notified on an unexpected channel");
        }
        // Reading ICR clears the causes and drops the (level-triggered) line before the ack.
        let cause = self.read(ICR);
        self.write(IMC, u32::MAX);
        NIC_IRQ.irq_ack();
        self.interrupts += 1;
        let name = sel4_pd_runtime::pd_name();
        result!(format_args!("{name}_irq"), "{}", if cause & LSC != 0 && self.interrupts == 1 { "ok" } else { "fail" });
        Ok(())
    }
}

fn init() -> NicProbe {
    let regs = pd_api::memory_region("e1000_regs").expect("e1000_regs not mapped");
    let dma = pd_api::memory_region("dma").expect("dma not mapped");
    let probe = NicProbe { regs, interrupts: 0 };
    let status = probe.read(STATUS);
    let name = sel4_pd_runtime::pd_name();
    result!(format_args!("{name}_status"), "{status:#x}");
    result!(format_args!("{name}_link"), "{}", if status & 2 != 0 { "up" } else { "down" });
    result!(format_args!("{name}_dma_paddr"), "{:#x}", dma.phys_addr().unwrap_or(0));
    probe.read(ICR);
    probe.write(IMS, LSC);
    probe.write(ICS, LSC);
    probe
}

sel4_pd_runtime::protection_domain!(init);
