//! What every Intel MAC model shares, written once: the register file with the EEPROM's station
//! address loaded at reset, the receive pipeline (address filter, CRC and length checks, FCS,
//! DMA into the ring, good-frame statistics), the transmit pipeline (DMA out of the ring, FCS
//! and padding, statistics), clear-on-read statistics, link-change edges and an interrupt line
//! with moderation.
//!
//! A family's model ([`MacModel`]) keeps only what its datasheet says differently: which
//! control bits enable and shape receive and transmit, its interrupt cause and mask registers,
//! its reset and link behaviour. [`MacModel`] gives it the [`WireModel`] the conformance tests
//! drive.

use crate::conformance::{RxOutcome, WireModel};
use crate::queue::{self, DeviceFormat, RingRegs, RxDma};
use crate::{Arena, DeviceModel, Registers};
use nic_core::intel::{QueueRegs, ReceiveAddress, StatRegs, RAH_AV};
use std::rc::Rc;

/// Where a family keeps the registers the shared pipelines use.
#[derive(Debug)]
pub struct Layout {
    /// Receive queue 0.
    pub rx: QueueRegs,
    /// Transmit queue 0.
    pub tx: QueueRegs,
    /// Receive address 0 (loaded from the EEPROM at reset).
    pub address: ReceiveAddress,
    /// The statistics the driver reads.
    pub stats: StatRegs,
}

/// How the receive control registers have the MAC treat a frame.
#[derive(Clone, Copy, Debug)]
pub struct RxControl {
    /// Broadcast frames pass the filter.
    pub broadcast: bool,
    /// Every multicast frame passes.
    pub all_multicast: bool,
    /// Every unicast frame passes.
    pub promiscuous: bool,
    /// Frames with a bad CRC are stored (and flagged) rather than dropped.
    pub store_bad: bool,
    /// Frames longer than 1518 bytes are accepted.
    pub long_frames: bool,
    /// The FCS is stripped before the frame is stored.
    pub strip_fcs: bool,
    /// Receive buffer size in bytes.
    pub buffer_size: usize,
}

impl RxControl {
    /// The gigabit parts' (e1000, igb) receive control register RCTL: store bad packets (bit 2),
    /// unicast and multicast promiscuous (3, 4), long packets (5), accept broadcast (15), strip
    /// CRC (26); `buffer_size` comes from wherever the part keeps it.
    pub fn from_rctl(rctl: u32, buffer_size: usize) -> Self {
        Self {
            broadcast: rctl & 1 << 15 != 0,
            all_multicast: rctl & 1 << 4 != 0,
            promiscuous: rctl & 1 << 3 != 0,
            store_bad: rctl & 1 << 2 != 0,
            long_frames: rctl & 1 << 5 != 0,
            strip_fcs: rctl & 1 << 26 != 0,
            buffer_size,
        }
    }
}

/// How the transmit control registers have the MAC send a frame.
#[derive(Clone, Copy, Debug)]
pub struct TxControl {
    /// The MAC appends an FCS where a descriptor asks (some families also gate it globally).
    pub fcs: bool,
    /// Frames shorter than 60 bytes are padded.
    pub pad: bool,
}

/// What became of a frame in the shared receive pipeline.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Received {
    /// Stored; how many descriptors the driver still has posted, of `count`.
    Delivered { free: usize, count: usize },
    /// Filtered or dropped by the MAC before the ring.
    Refused(RxOutcome),
    /// No room in the ring: the family decides what it counts and raises.
    NoRoom,
    /// The ring registers make no ring.
    BadRing,
}

/// Stands in for the FCS on the wire (models never check it; a test sees it if not stripped).
pub const FCS: [u8; 4] = [0xDE, 0xAD, 0xBE, 0xEF];

/// The state every Intel MAC model keeps.
pub struct MacCore {
    /// DMA memory.
    pub mem: Rc<Arena>,
    /// The register file.
    pub regs: Registers,
    /// The station address the EEPROM loads into RAL0/RAH0.
    pub eeprom_mac: [u8; 6],
    /// A link partner is connected.
    pub cable: bool,
    /// Simulated time.
    pub now_us: u64,
    /// Accept long frames whatever the control registers say (to exercise the driver's
    /// multi-buffer path).
    pub accept_long: bool,
    /// Times the receive head wrapped to 0.
    pub rx_wraps: u32,
    /// Times the transmit head wrapped to 0.
    pub tx_wraps: u32,
    /// Things the driver did that a real device would not accept.
    pub protocol_errors: Vec<String>,
    /// Interrupts delivered to the CPU.
    pub interrupts_raised: u32,
    irq_asserted: bool,
    last_irq_us: Option<u64>,
    last_link: bool,
    rx_octets: u64,
    tx_octets: u64,
    tx_partial: Vec<u8>,
    layout: &'static Layout,
}

impl MacCore {
    /// A device just powered on (see [`MacCore::reset`]).
    pub fn new(mem: Rc<Arena>, eeprom_mac: [u8; 6], layout: &'static Layout) -> Self {
        let mut core = Self {
            mem,
            regs: Registers::default(),
            eeprom_mac,
            cable: true,
            now_us: 0,
            accept_long: false,
            rx_wraps: 0,
            tx_wraps: 0,
            protocol_errors: Vec::new(),
            interrupts_raised: 0,
            irq_asserted: false,
            last_irq_us: None,
            last_link: false,
            rx_octets: 0,
            tx_octets: 0,
            tx_partial: Vec::new(),
            layout,
        };
        core.reset();
        core
    }

    /// A reset: every register 0 (the family sets its other defaults after), the EEPROM's
    /// address in RAL0/RAH0 marked valid, statistics zero, the interrupt deasserted, the link
    /// considered down (so coming up is a change).
    pub fn reset(&mut self) {
        self.regs.clear();
        let (mac, a) = (self.eeprom_mac, self.layout.address);
        self.regs.set(a.ral, u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]));
        self.regs.set(a.rah, u32::from(u16::from_le_bytes([mac[4], mac[5]])) | RAH_AV);
        self.rx_octets = 0;
        self.tx_octets = 0;
        self.irq_asserted = false;
        self.last_link = false;
    }

    /// A register's value.
    pub fn reg(&self, reg: usize) -> u32 {
        self.regs.get(reg)
    }

    /// Records a protocol error.
    pub fn error(&mut self, what: impl Into<String>) {
        self.protocol_errors.push(what.into());
    }

    /// A ring as its registers describe it.
    pub fn ring(&self, q: &QueueRegs) -> RingRegs {
        RingRegs {
            base: u64::from(self.reg(q.bah)) << 32 | u64::from(self.reg(q.bal)),
            len_bytes: self.reg(q.len),
            head: self.reg(q.head),
            tail: self.reg(q.tail),
        }
    }

    /// Receive queue 0 and transmit queue 0.
    pub fn rings(&self) -> (RingRegs, RingRegs) {
        (self.ring(&self.layout.rx), self.ring(&self.layout.tx))
    }

    /// Whether the link state `up` differs from the last one seen (the family then raises its
    /// link-change cause).
    pub fn link_changed(&mut self, up: bool) -> bool {
        let changed = up != self.last_link;
        self.last_link = up;
        changed
    }

    /// Asserts the interrupt line if an unmasked cause is `pending`, the line is not asserted
    /// already, and `interval_us` (moderation) has passed since the last interrupt.
    pub fn update_irq(&mut self, pending: bool, interval_us: u64) {
        if self.irq_asserted || !pending {
            return;
        }
        if self.last_irq_us.is_none_or(|last| self.now_us - last >= interval_us) {
            self.irq_asserted = true;
            self.interrupts_raised += 1;
            self.last_irq_us = Some(self.now_us);
        }
    }

    /// The line is deasserted (the driver read the cause register, or the message was sent).
    pub fn deassert(&mut self) {
        self.irq_asserted = false;
    }

    /// The read of a statistics register (clear-on-read), or `None` if `reg` is not one.
    pub fn read_stat(&mut self, reg: usize) -> Option<u32> {
        let layout = self.layout;
        let s = &layout.stats;
        let high = |octets: &mut u64| {
            let v = (*octets >> 32) as u32 & s.octets_high_mask;
            *octets = 0;
            v
        };
        Some(match reg {
            r if r == s.good_rx_octets.0 => self.rx_octets as u32,
            r if r == s.good_rx_octets.1 => high(&mut self.rx_octets),
            r if r == s.good_tx_octets.0 => self.tx_octets as u32,
            r if r == s.good_tx_octets.1 => high(&mut self.tx_octets),
            r if r == s.crc_errors
                || r == s.good_rx_frames
                || r == s.good_tx_frames
                || s.missed.contains(&r)
                || s.no_buffer == Some(r) =>
            {
                self.regs.take(r)
            }
            _ => return None,
        })
    }

    /// The shared receive pipeline for a frame (without FCS) that reached an enabled receiver
    /// with the link up: address filter, CRC, length, FCS, DMA into receive queue 0 (descriptor
    /// format `F`, `errors` in the last descriptor's write-back), head, wraps, good-frame
    /// statistics.
    pub fn receive<F: DeviceFormat>(&mut self, ctl: &RxControl, frame: &[u8], errors: u32, bad_crc: bool) -> Received {
        assert!(frame.len() >= 14, "a frame has an Ethernet header");
        let layout = self.layout;
        let a = layout.address;
        if !crate::rig::address_filter(frame, ctl.broadcast, ctl.all_multicast, ctl.promiscuous, self.reg(a.ral), self.reg(a.rah)) {
            return Received::Refused(RxOutcome::Filtered);
        }
        if bad_crc {
            self.regs.bump(self.layout.stats.crc_errors, 1);
            if !ctl.store_bad {
                return Received::Refused(RxOutcome::DroppedBad);
            }
        }
        if frame.len() > nic_core::MAX_FRAME_LEN && !ctl.long_frames && !self.accept_long {
            return Received::Refused(RxOutcome::DroppedBad);
        }
        let mut data = frame.to_vec();
        if !ctl.strip_fcs {
            data.extend_from_slice(&FCS);
        }
        let ring = self.ring(&self.layout.rx);
        match queue::receive::<F>(&self.mem, ring, ctl.buffer_size, &data, errors, &mut self.protocol_errors) {
            RxDma::Written { head, wraps } => {
                self.rx_wraps += wraps;
                self.regs.set(self.layout.rx.head, head);
                self.regs.bump(self.layout.stats.good_rx_frames, 1);
                self.rx_octets += frame.len() as u64 + 4;
                let count = ring.len_bytes as usize / 16;
                let free = (ring.tail as usize + count - head as usize) % count;
                Received::Delivered { free, count }
            }
            RxDma::NoRoom => Received::NoRoom,
            RxDma::BadRing => Received::BadRing,
        }
    }

    /// The shared transmit pipeline: sends what transmit queue 0 holds (at most `max`
    /// descriptors of format `F`), as the frames appear on the wire, and whether any descriptor
    /// was written back.
    pub fn transmit<F: DeviceFormat>(&mut self, ctl: &TxControl, max: usize) -> (Vec<Vec<u8>>, bool) {
        let ring = self.ring(&self.layout.tx);
        let sent = queue::transmit::<F>(&self.mem, ring, max, &mut self.tx_partial, &mut self.protocol_errors);
        let mut wire = Vec::new();
        for (mut frame, ifcs) in sent.frames {
            if !ifcs || !ctl.fcs {
                self.error("frame sent without FCS");
            }
            if ctl.pad && frame.len() < nic_core::MIN_FRAME_LEN {
                frame.resize(nic_core::MIN_FRAME_LEN, 0);
            }
            self.regs.bump(self.layout.stats.good_tx_frames, 1);
            self.tx_octets += frame.len() as u64 + 4;
            wire.push(frame);
        }
        self.tx_wraps += sent.wraps;
        self.regs.set(self.layout.tx.head, sent.head);
        (wire, sent.written_back)
    }

    /// Rewrites the length in the last receive write-back to `claimed` (a broken device, or
    /// corrupted descriptor memory).
    pub fn claim_last_rx<F: DeviceFormat>(&mut self, claimed: u16) {
        let rx = self.ring(&self.layout.rx);
        let count = rx.len_bytes / 16;
        let last = rx.base + u64::from((rx.head + count - 1) % count) * 16;
        let (lo, hi) = (self.mem.read_u64(last), self.mem.read_u64(last + 8));
        let (lo, hi) = F::rx_claim(lo, hi, claimed);
        self.mem.write_u64(last, lo);
        self.mem.write_u64(last + 8, hi);
    }
}

/// An Intel MAC model: its family's [`DeviceModel`] over a [`MacCore`]. Implementing it gives
/// the model the [`WireModel`] the conformance tests drive.
pub trait MacModel: DeviceModel {
    /// The family's descriptor format.
    type Format: DeviceFormat;
    /// The write-back error bits of a receive error the MAC stores anyway (RXE).
    const RX_ERROR: u32;
    /// The shared state.
    fn core(&self) -> &MacCore;
    /// The shared state.
    fn core_mut(&mut self) -> &mut MacCore;
    /// A frame (without FCS) arrives from the wire, flagged with `errors`, with a bad CRC if
    /// `bad_crc`: the family checks its enables and link, runs [`MacCore::receive`] and raises
    /// its causes.
    fn receive(&mut self, frame: &[u8], errors: u32, bad_crc: bool) -> RxOutcome;
    /// The device sends at most `max` descriptors: the family checks its enables and link,
    /// runs [`MacCore::transmit`] and raises its causes.
    fn send(&mut self, max: usize) -> Vec<Vec<u8>>;
    /// The link partner comes or goes: the family updates its link state and raises its
    /// link-change cause.
    fn link_partner(&mut self, connected: bool);
}

impl<M: MacModel> WireModel for M {
    fn inject(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, false)
    }
    fn inject_flagged(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, M::RX_ERROR, false)
    }
    fn inject_bad_crc(&mut self, frame: &[u8]) -> RxOutcome {
        self.receive(frame, 0, true)
    }
    fn inject_claiming(&mut self, frame: &[u8], claimed: u16) -> RxOutcome {
        let outcome = self.receive(frame, 0, false);
        if outcome == RxOutcome::Delivered {
            self.core_mut().claim_last_rx::<M::Format>(claimed);
        }
        outcome
    }
    fn accept_long_frames(&mut self) {
        self.core_mut().accept_long = true;
    }
    fn transmit(&mut self, max: usize) -> Vec<Vec<u8>> {
        self.send(max)
    }
    fn eeprom_mac(&self) -> [u8; 6] {
        self.core().eeprom_mac
    }
    fn wraps(&self) -> (u32, u32) {
        (self.core().rx_wraps, self.core().tx_wraps)
    }
    fn rings(&self) -> (RingRegs, RingRegs) {
        self.core().rings()
    }
    fn interrupts_raised(&self) -> u32 {
        self.core().interrupts_raised
    }
    fn set_cable(&mut self, connected: bool) {
        self.link_partner(connected);
    }
}
