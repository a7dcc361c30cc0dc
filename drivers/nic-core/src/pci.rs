//! PCI configuration-space helpers a driver needs for itself: enabling memory
//! decoding and bus mastering, and programming the MSI capability (on seL4 the
//! kernel does not program MSI; the driver of the device does).

/// Access to one PCI function's configuration space, provided by the platform
/// (port I/O 0xCF8/0xCFC or ECAM). Offsets are dword-aligned.
pub trait ConfigSpace {
    /// Reads the dword at `offset`.
    fn read32(&self, offset: u16) -> u32;
    /// Writes the dword at `offset`.
    fn write32(&mut self, offset: u16, value: u32);
}

/// Command register (16 bits at 0x04; the status register is the upper half of the dword).
pub const COMMAND: u16 = 0x04;
/// Command: respond to memory-space accesses (the BAR).
pub const COMMAND_MEMORY: u16 = 1 << 1;
/// Command: allow the device to master the bus (DMA; MSI writes are DMA too).
pub const COMMAND_BUS_MASTER: u16 = 1 << 2;
/// Command: stop asserting INTx.
pub const COMMAND_INTX_DISABLE: u16 = 1 << 10;
/// Status: a capability list is present.
const STATUS_CAP_LIST: u32 = 1 << 4;
/// Capabilities pointer.
const CAP_PTR: u16 = 0x34;
/// Capability id of MSI.
pub const CAP_ID_MSI: u8 = 0x05;

/// MSI message control bits.
const MSI_ENABLE: u16 = 1 << 0;
const MSI_MME_MASK: u16 = 0b111 << 4;
const MSI_64BIT: u16 = 1 << 7;

/// The x86 local-APIC message address window.
pub const MSI_ADDRESS_BASE: u32 = 0xFEE0_0000;

fn read16(cfg: &impl ConfigSpace, offset: u16) -> u16 {
    (cfg.read32(offset & !3) >> ((offset & 2) * 8)) as u16
}

fn write16(cfg: &mut impl ConfigSpace, offset: u16, value: u16) {
    let aligned = offset & !3;
    let shift = (offset & 2) * 8;
    let mut dword = cfg.read32(aligned);
    if aligned == COMMAND {
        // The status half is write-1-to-clear: writing back what was read would clear error flags.
        dword &= 0x0000_FFFF;
    }
    dword = (dword & !(0xFFFF << shift)) | (u32::from(value) << shift);
    cfg.write32(aligned, dword);
}

/// Sets bits in the command register, leaving the rest (and the status register) alone.
pub fn set_command_bits(cfg: &mut impl ConfigSpace, bits: u16) {
    let command = read16(cfg, COMMAND);
    write16(cfg, COMMAND, command | bits);
}

/// Enables memory decoding and bus mastering: needed before the driver touches
/// the BAR or the device DMAs.
pub fn enable_memory_and_bus_master(cfg: &mut impl ConfigSpace) {
    set_command_bits(cfg, COMMAND_MEMORY | COMMAND_BUS_MASTER);
}

/// The offset of the first capability with `id`, if the function has one.
pub fn find_capability(cfg: &impl ConfigSpace, id: u8) -> Option<u16> {
    if cfg.read32(COMMAND) >> 16 & STATUS_CAP_LIST == 0 {
        return None;
    }
    let mut at = (cfg.read32(CAP_PTR) & 0xFC) as u16;
    // A corrupt list could loop; 48 is every possible dword-aligned capability slot.
    for _ in 0..48 {
        if at < 0x40 {
            return None;
        }
        let header = cfg.read32(at);
        if header as u8 == id {
            return Some(at);
        }
        at = ((header >> 8) & 0xFC) as u16;
    }
    None
}

/// Why MSI could not be configured.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MsiError {
    /// The function has no MSI capability.
    NoMsiCapability,
}

/// Programs the function's MSI capability to deliver one message: a fixed,
/// edge-triggered `vector` to the local APIC `apic_id` (address 0xFEE00000 |
/// apic_id << 12, data = vector), enables MSI and disables INTx. Returns the
/// capability's offset.
pub fn configure_msi(cfg: &mut impl ConfigSpace, apic_id: u8, vector: u8) -> Result<u16, MsiError> {
    let cap = find_capability(cfg, CAP_ID_MSI).ok_or(MsiError::NoMsiCapability)?;
    let control = read16(cfg, cap + 2);
    // Disabled while the message is half written, so no stray message goes out.
    write16(cfg, cap + 2, control & !MSI_ENABLE);
    cfg.write32(cap + 4, MSI_ADDRESS_BASE | u32::from(apic_id) << 12);
    let data_at = if control & MSI_64BIT != 0 {
        cfg.write32(cap + 8, 0);
        cap + 12
    } else {
        cap + 8
    };
    write16(cfg, data_at, u16::from(vector));
    // One message (MME = 0): the driver demultiplexes causes through ICR.
    write16(cfg, cap + 2, (control & !MSI_MME_MASK) | MSI_ENABLE);
    set_command_bits(cfg, COMMAND_INTX_DISABLE);
    Ok(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function's config space as 64 dwords, with write masks for the read-only parts.
    struct FakeConfig {
        dwords: [u32; 64],
        writes: usize,
    }

    impl ConfigSpace for FakeConfig {
        fn read32(&self, offset: u16) -> u32 {
            self.dwords[offset as usize / 4]
        }
        fn write32(&mut self, offset: u16, value: u32) {
            self.writes += 1;
            let i = offset as usize / 4;
            if offset == COMMAND {
                // Status bits 31:16 are RW1C: a 1 written clears them.
                let status = (self.dwords[i] >> 16) & !(value >> 16);
                self.dwords[i] = status << 16 | (value & 0xFFFF);
            } else {
                self.dwords[i] = value;
            }
        }
    }

    /// The 82574L's layout: PM at 0xC8, MSI (64-bit) at 0xD0, PCIe at 0xE0, MSI-X at 0xA0.
    fn e1000e_like(msi_64bit: bool) -> FakeConfig {
        let mut d = [0u32; 64];
        d[0] = 0x10D3_8086;
        // Status: capability list, plus a latched error bit (bit 13 of status) that must survive.
        d[1] = (STATUS_CAP_LIST | 1 << 13) << 16 | 0x0003;
        d[CAP_PTR as usize / 4] = 0xC8;
        d[0xC8 / 4] = 0x01 | 0xD0 << 8; // PM -> MSI
        let control: u32 = if msi_64bit { 0x0080 } else { 0x0000 };
        d[0xD0 / 4] = CAP_ID_MSI as u32 | 0xE0 << 8 | control << 16; // MSI -> PCIe
        d[0xE0 / 4] = 0x10 | 0xA0 << 8; // PCIe -> MSI-X
        d[0xA0 / 4] = 0x11; // MSI-X, end
        FakeConfig { dwords: d, writes: 0 }
    }

    #[test]
    fn finds_msi_through_the_capability_chain() {
        let cfg = e1000e_like(true);
        assert_eq!(find_capability(&cfg, CAP_ID_MSI), Some(0xD0));
        assert_eq!(find_capability(&cfg, 0x11), Some(0xA0));
        assert_eq!(find_capability(&cfg, 0x09), None);
    }

    #[test]
    fn programs_64bit_msi_for_one_vector() {
        let mut cfg = e1000e_like(true);
        assert_eq!(configure_msi(&mut cfg, 3, 0x41), Ok(0xD0));
        assert_eq!(cfg.dwords[0xD4 / 4], 0xFEE0_3000, "message address");
        assert_eq!(cfg.dwords[0xD8 / 4], 0, "upper address");
        assert_eq!(cfg.dwords[0xDC / 4] & 0xFFFF, 0x41, "message data = vector");
        let control = cfg.dwords[0xD0 / 4] >> 16;
        assert_eq!(control & 1, 1, "MSI enabled");
        assert_eq!(control & 0x70, 0, "one message");
        assert_eq!(cfg.dwords[0xD0 / 4] & 0xFFFF, 0xE005, "header untouched");
        let command = (cfg.dwords[1] & 0xFFFF) as u16;
        assert_eq!(command & COMMAND_INTX_DISABLE, COMMAND_INTX_DISABLE);
        assert_eq!(command & 0x3, 0x3, "memory/io enables kept");
        assert_ne!(cfg.dwords[1] >> 16 & 1 << 13, 0, "latched status bit not cleared by our write");
    }

    #[test]
    fn programs_32bit_msi_data_right_after_the_address() {
        let mut cfg = e1000e_like(false);
        configure_msi(&mut cfg, 0, 0x30).unwrap();
        assert_eq!(cfg.dwords[0xD4 / 4], 0xFEE0_0000);
        assert_eq!(cfg.dwords[0xD8 / 4] & 0xFFFF, 0x30);
        assert_eq!(cfg.dwords[0xDC / 4], 0, "nothing written past a 32-bit capability's data");
    }

    #[test]
    fn no_capability_list_means_no_msi() {
        let mut cfg = e1000e_like(true);
        cfg.dwords[1] &= !(STATUS_CAP_LIST << 16);
        assert_eq!(configure_msi(&mut cfg, 0, 0x30), Err(MsiError::NoMsiCapability));
        assert_eq!(cfg.writes, 0);
    }

    #[test]
    fn bus_master_and_memory_enable() {
        let mut cfg = e1000e_like(true);
        cfg.dwords[1] &= !0xFFFF;
        enable_memory_and_bus_master(&mut cfg);
        assert_eq!(cfg.dwords[1] & 0xFFFF, (COMMAND_MEMORY | COMMAND_BUS_MASTER) as u32);
    }
}
