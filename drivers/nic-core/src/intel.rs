//! What the Intel MAC families driven here (e1000, igb, ixgbe) lay out alike, written once: a
//! descriptor queue's five registers, the receive address pair RAL/RAH (the station address
//! the MAC filters on), the clear-on-read statistics the [`Counters`] accumulate, and the
//! gigabit parts' STATUS register.

use crate::{poll_until, Counters, Hal, InitError, LinkState};

/// A descriptor queue's registers: base address (low, high), length in bytes, head, tail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct QueueRegs {
    /// Base address, low 32 bits (xDBAL).
    pub bal: usize,
    /// Base address, high 32 bits (xDBAH).
    pub bah: usize,
    /// Ring length in bytes (xDLEN).
    pub len: usize,
    /// Head (xDH): the device's position.
    pub head: usize,
    /// Tail (xDT): the driver's position.
    pub tail: usize,
}

impl QueueRegs {
    /// Points the queue at the ring at `phys` of `bytes` bytes, empty (head = tail = 0). The
    /// queue must be disabled while this runs (the datasheets' rule for every family).
    pub fn program<H: Hal + ?Sized>(&self, hal: &H, phys: u64, bytes: u32) {
        hal.write32(self.bal, phys as u32);
        hal.write32(self.bah, (phys >> 32) as u32);
        hal.write32(self.len, bytes);
        hal.write32(self.head, 0);
        hal.write32(self.tail, 0);
    }
}

/// RAH's Address Valid bit: the MAC filters on this entry.
pub const RAH_AV: u32 = 1 << 31;

/// A receive address register pair: RAL holds bytes 0–3, RAH bytes 4–5 and Address Valid.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReceiveAddress {
    /// RAL(0).
    pub ral: usize,
    /// RAH(0).
    pub rah: usize,
}

impl ReceiveAddress {
    /// The address in the pair, if it is marked valid and a unicast address other than all
    /// zeros (a device gone from the bus, or still in reset, reads all ones: valid bit set,
    /// ff:ff:ff:ff:ff:ff, which a port must never answer with).
    pub fn read<H: Hal + ?Sized>(&self, hal: &H) -> Option<[u8; 6]> {
        let (ral, rah) = (hal.read32(self.ral), hal.read32(self.rah));
        let mac = [ral as u8, (ral >> 8) as u8, (ral >> 16) as u8, (ral >> 24) as u8, rah as u8, (rah >> 8) as u8];
        (rah & RAH_AV != 0 && mac != [0; 6] && mac[0] & 1 == 0).then_some(mac)
    }

    /// Writes `mac` and marks it valid (RAL first: the entry is only used once RAH says valid).
    pub fn write<H: Hal + ?Sized>(&self, hal: &H, mac: [u8; 6]) {
        hal.write32(self.ral, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
        hal.write32(self.rah, u32::from(u16::from_le_bytes([mac[4], mac[5]])) | RAH_AV);
    }

    /// The station address: `wanted` programmed into the pair, or (`None`) the one the device
    /// loaded from its EEPROM/NVM, waited for up to `timeout_us` (the load follows a reset).
    pub fn station_address<H: Hal + ?Sized>(&self, hal: &mut H, wanted: Option<[u8; 6]>, timeout_us: u32) -> Result<[u8; 6], InitError> {
        if let Some(mac) = wanted {
            self.write(hal, mac);
            return Ok(mac);
        }
        if !poll_until(hal, timeout_us, 100, |h| h.read32(self.rah) & RAH_AV != 0) {
            return Err(InitError::NoMacAddress);
        }
        self.read(hal).ok_or(InitError::NoMacAddress)
    }
}

/// Where a family keeps the statistics the [`Counters`] report. Every one is clear-on-read;
/// an octet count is a pair read low half first (reading the high half clears the pair).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StatRegs {
    /// CRCERRS.
    pub crc_errors: usize,
    /// Frames missed (MPC; on ixgbe also the queue's drop count).
    pub missed: &'static [usize],
    /// Receive-no-buffer (RNBC), where the family counts it apart from `missed`.
    pub no_buffer: Option<usize>,
    /// GPRC.
    pub good_rx_frames: usize,
    /// GPTC.
    pub good_tx_frames: usize,
    /// GORCL, GORCH.
    pub good_rx_octets: (usize, usize),
    /// GOTCL, GOTCH.
    pub good_tx_octets: (usize, usize),
    /// The valid bits of the high halves (the octet counters are 36 bits wide on ixgbe).
    pub octets_high_mask: u32,
}

impl StatRegs {
    /// Adds what the registers counted since they were last read to `c`.
    pub fn accumulate<H: Hal + ?Sized>(&self, hal: &H, c: &mut Counters) {
        c.hw_crc_errors += u64::from(hal.read32(self.crc_errors));
        for &reg in self.missed {
            c.hw_rx_missed += u64::from(hal.read32(reg));
        }
        if let Some(reg) = self.no_buffer {
            c.hw_rx_no_buffer += u64::from(hal.read32(reg));
        }
        c.hw_rx_good_frames += u64::from(hal.read32(self.good_rx_frames));
        c.hw_tx_good_frames += u64::from(hal.read32(self.good_tx_frames));
        c.hw_rx_good_bytes += self.octets(hal, self.good_rx_octets);
        c.hw_tx_good_bytes += self.octets(hal, self.good_tx_octets);
    }

    fn octets<H: Hal + ?Sized>(&self, hal: &H, (lo, hi): (usize, usize)) -> u64 {
        // Low half first: reading the high half clears the pair.
        let low = u64::from(hal.read32(lo));
        low | u64::from(hal.read32(hi) & self.octets_high_mask) << 32
    }
}

/// The gigabit parts' (e1000, igb) link state from their STATUS register: full duplex (bit 0),
/// link up (bit 1), speed (bits 7:6: 10, 100, 1000 Mbit/s). All ones is a device gone from the
/// bus (or a PCIe error), not a link: down.
pub fn gigabit_link_state(status: u32) -> LinkState {
    let up = status != u32::MAX && status & 1 << 1 != 0;
    let speed_mbps = match status >> 6 & 0b11 {
        0 => 10,
        1 => 100,
        _ => 1000,
    };
    LinkState { up, speed_mbps: if up { speed_mbps } else { 0 }, full_duplex: up && status & 1 != 0 }
}
