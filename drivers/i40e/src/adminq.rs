//! The admin queue: how the driver talks to the X722's firmware.
//!
//! Two rings of 32-byte descriptors in host memory: the send queue (ATQ) carries commands to the
//! firmware, which writes each descriptor back (DD, return code, response parameters) and moves
//! the head register past it; the receive queue (ARQ) is filled by the driver with empty
//! buffers, and the firmware writes events into them (link changes) and moves its head. Commands
//! are sent one at a time and polled to completion with a timeout; an indirect command's data
//! travels in one DMA buffer the driver keeps for that.

use crate::regs::*;
use core::sync::atomic::{fence, Ordering};
use nic_core::{poll_until, DmaRegion, Hal, InitError};

/// Bytes per admin queue descriptor.
pub const DESC_BYTES: usize = 32;
/// Send queue descriptors.
pub const ATQ_LEN: usize = 16;
/// Receive queue descriptors (events).
pub const ARQ_LEN: usize = 16;
/// Bytes of each receive queue buffer (events carry at most this much data; more is cut).
pub const ARQ_BUF_BYTES: usize = 512;
/// Bytes of the indirect command buffer (get switch configuration answers fit in 4 KiB).
pub const CMD_BUF_BYTES: usize = 4096;
/// How long the firmware may take to complete one command.
pub const COMMAND_TIMEOUT_US: u32 = 250_000;

/// Descriptor flags (bytes 0-1).
pub mod flags {
    /// Descriptor done: the firmware wrote it back.
    pub const DD: u16 = 1 << 0;
    /// Completed (with DD).
    pub const CMP: u16 = 1 << 1;
    /// The command failed: the return code says why.
    pub const ERR: u16 = 1 << 2;
    /// The buffer is larger than 512 bytes.
    pub const LB: u16 = 1 << 9;
    /// The firmware reads the buffer (data to the firmware).
    pub const RD: u16 = 1 << 10;
    /// The descriptor names a buffer.
    pub const BUF: u16 = 1 << 12;
    /// No interrupt on completion (the driver polls).
    pub const SI: u16 = 1 << 13;
}

/// One admin queue descriptor: flags, opcode, data length, return value, a cookie echoed back
/// and 16 bytes of parameters (for an indirect command the last eight hold the buffer address).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Desc {
    /// `flags::*`.
    pub flags: u16,
    /// The command or event.
    pub opcode: u16,
    /// Bytes in the buffer.
    pub datalen: u16,
    /// The firmware's return code (0 = OK).
    pub retval: u16,
    /// Echoed back unchanged.
    pub cookie: u64,
    /// Command parameters or response.
    pub params: [u8; 16],
}

impl Desc {
    /// A direct command: `opcode` with `params`.
    pub fn command(opcode: u16, params: [u8; 16]) -> Self {
        Self { flags: flags::SI, opcode, params, ..Self::default() }
    }

    /// The descriptor as it sits in memory (little endian).
    pub fn to_bytes(&self) -> [u8; DESC_BYTES] {
        let mut b = [0u8; DESC_BYTES];
        b[0..2].copy_from_slice(&self.flags.to_le_bytes());
        b[2..4].copy_from_slice(&self.opcode.to_le_bytes());
        b[4..6].copy_from_slice(&self.datalen.to_le_bytes());
        b[6..8].copy_from_slice(&self.retval.to_le_bytes());
        b[8..12].copy_from_slice(&((self.cookie >> 32) as u32).to_le_bytes());
        b[12..16].copy_from_slice(&(self.cookie as u32).to_le_bytes());
        b[16..32].copy_from_slice(&self.params);
        b
    }

    /// A descriptor read from memory.
    pub fn from_bytes(b: &[u8; DESC_BYTES]) -> Self {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut params = [0u8; 16];
        params.copy_from_slice(&b[16..32]);
        Self {
            flags: u16_at(0),
            opcode: u16_at(2),
            datalen: u16_at(4),
            retval: u16_at(6),
            cookie: u64::from(u32_at(8)) << 32 | u64::from(u32_at(12)),
            params,
        }
    }

    /// Sets the indirect buffer's address in the last eight parameter bytes (high half first).
    pub fn set_buffer_address(&mut self, phys: u64) {
        self.params[8..12].copy_from_slice(&((phys >> 32) as u32).to_le_bytes());
        self.params[12..16].copy_from_slice(&(phys as u32).to_le_bytes());
    }

    /// The indirect buffer's address.
    pub fn buffer_address(&self) -> u64 {
        let p = &self.params;
        u64::from(u32::from_le_bytes([p[8], p[9], p[10], p[11]])) << 32
            | u64::from(u32::from_le_bytes([p[12], p[13], p[14], p[15]]))
    }
}

/// What an indirect command does with the command buffer.
#[derive(Clone, Copy, Debug)]
pub enum Data<'a> {
    /// A direct command: no buffer.
    None,
    /// The firmware reads these bytes.
    ToFirmware(&'a [u8]),
    /// The firmware writes up to this many bytes (read them with [`AdminQueue::response`]).
    FromFirmware(usize),
}

/// An event the firmware posted on the receive queue.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// The event (the opcode of the command whose answer it resembles).
    pub opcode: u16,
    /// Its parameters.
    pub params: [u8; 16],
}

/// The driver's side of both admin queues.
pub struct AdminQueue {
    atq: DmaRegion,
    arq: DmaRegion,
    arq_bufs: DmaRegion,
    buf: DmaRegion,
    atq_next: usize,
    arq_next: usize,
    cookie: u64,
}

impl AdminQueue {
    /// Allocates both rings, the receive buffers and the command buffer, and programs the queue
    /// registers; the receive queue starts with every buffer posted.
    pub fn new<H: Hal + ?Sized>(hal: &mut H) -> Result<Self, InitError> {
        let mut alloc = |bytes: usize| hal.dma_alloc(bytes, 4096).ok_or(InitError::DmaAlloc);
        let atq = alloc(ATQ_LEN * DESC_BYTES)?;
        let arq = alloc(ARQ_LEN * DESC_BYTES)?;
        let arq_bufs = alloc(ARQ_LEN * ARQ_BUF_BYTES)?;
        let buf = alloc(CMD_BUF_BYTES)?;
        let mut aq = Self { atq, arq, arq_bufs, buf, atq_next: 0, arq_next: 0, cookie: 0 };
        aq.program(hal)?;
        Ok(aq)
    }

    /// (Re)programs both queues from scratch in the memory they already have: every receive
    /// buffer posted, both heads and tails at 0.
    pub fn program<H: Hal + ?Sized>(&mut self, hal: &mut H) -> Result<(), InitError> {
        self.atq.zero();
        self.arq.zero();
        for i in 0..ARQ_LEN {
            self.arm_arq(i);
        }
        self.atq_next = 0;
        self.arq_next = 0;
        // Queues off while their registers change; the length register's ENABLE turns each on.
        for (bal, bah, len, head, tail, ring, count) in [
            (PF_ATQBAL, PF_ATQBAH, PF_ATQLEN, PF_ATQH, PF_ATQT, &self.atq, ATQ_LEN),
            (PF_ARQBAL, PF_ARQBAH, PF_ARQLEN, PF_ARQH, PF_ARQT, &self.arq, ARQ_LEN),
        ] {
            hal.write32(len, 0);
            hal.write32(head, 0);
            hal.write32(tail, 0);
            hal.write32(bal, ring.phys() as u32);
            hal.write32(bah, (ring.phys() >> 32) as u32);
            hal.write32(len, count as u32 | AQLEN_ENABLE);
            if hal.read32(bal) != ring.phys() as u32 {
                // The registers did not take the value: the device is not there or still in reset.
                return Err(InitError::FirmwareNotReady);
            }
        }
        fence(Ordering::Release);
        hal.write32(PF_ARQT, (ARQ_LEN - 1) as u32);
        Ok(())
    }

    /// Whether the firmware dropped events for lack of receive descriptors since the last
    /// call (the overflow flag, cleared here).
    pub fn take_overflow<H: Hal + ?Sized>(&self, hal: &H) -> bool {
        let len = hal.read32(PF_ARQLEN);
        let flagged = len & (AQLEN_OVFL | AQLEN_CRIT) != 0;
        if flagged {
            hal.write32(PF_ARQLEN, len & !(AQLEN_OVFL | AQLEN_CRIT));
        }
        flagged
    }

    /// Turns both queues off (before a reset the driver asks for, or when giving the device up).
    pub fn shutdown<H: Hal + ?Sized>(&self, hal: &H) {
        hal.write32(PF_ATQLEN, 0);
        hal.write32(PF_ARQLEN, 0);
    }

    fn arm_arq(&self, i: usize) {
        let mut d = Desc {
            flags: flags::BUF | if ARQ_BUF_BYTES > 512 { flags::LB } else { 0 },
            datalen: ARQ_BUF_BYTES as u16,
            ..Desc::default()
        };
        d.set_buffer_address(self.arq_bufs.phys() + (i * ARQ_BUF_BYTES) as u64);
        self.arq.write_bytes(i * DESC_BYTES, &d.to_bytes());
    }

    /// Sends `desc` (its opcode, parameters and flags; the buffer fields are filled in for
    /// `data`) and waits for the firmware to complete it. Returns the written-back descriptor:
    /// its `params` hold the response, its `datalen` how many bytes of the buffer the firmware
    /// wrote.
    pub fn send<H: Hal + ?Sized>(&mut self, hal: &mut H, mut desc: Desc, data: Data<'_>) -> Result<Desc, InitError> {
        let opcode = desc.opcode;
        match data {
            Data::None => desc.datalen = 0,
            Data::ToFirmware(bytes) => {
                let n = bytes.len().min(CMD_BUF_BYTES);
                self.buf.write_bytes(0, &bytes[..n]);
                desc.flags |= flags::BUF | flags::RD | if n > 512 { flags::LB } else { 0 };
                desc.datalen = n as u16;
                desc.set_buffer_address(self.buf.phys());
            }
            Data::FromFirmware(n) => {
                let n = n.min(CMD_BUF_BYTES);
                self.buf.zero();
                desc.flags |= flags::BUF | if n > 512 { flags::LB } else { 0 };
                desc.datalen = n as u16;
                desc.set_buffer_address(self.buf.phys());
            }
        }
        self.cookie += 1;
        desc.cookie = self.cookie;
        desc.retval = 0;
        let slot = self.atq_next;
        self.atq.write_bytes(slot * DESC_BYTES, &desc.to_bytes());
        self.atq_next = (slot + 1) % ATQ_LEN;
        // The descriptor (and buffer) must be in memory before the firmware is told.
        fence(Ordering::Release);
        hal.write32(PF_ATQT, self.atq_next as u32);
        let next = self.atq_next as u32;
        if !poll_until(hal, COMMAND_TIMEOUT_US, 10, |h| h.read32(PF_ATQH) == next) {
            return Err(InitError::AdminQueueTimeout(opcode));
        }
        fence(Ordering::Acquire);
        let mut raw = [0u8; DESC_BYTES];
        self.atq.read_bytes(slot * DESC_BYTES, &mut raw);
        let done = Desc::from_bytes(&raw);
        if done.flags & flags::DD == 0 || done.cookie != desc.cookie || done.opcode != opcode {
            // The head moved past a descriptor the firmware did not write back.
            return Err(InitError::AdminQueueTimeout(opcode));
        }
        // The return code is the low byte (the open drivers mask it so too).
        let retval = done.retval & 0xFF;
        if done.flags & flags::ERR != 0 || retval != 0 {
            return Err(InitError::FirmwareError { opcode, retval });
        }
        Ok(done)
    }

    /// The first `out.len()` bytes the firmware wrote into the command buffer.
    pub fn response(&self, out: &mut [u8]) {
        let n = out.len().min(CMD_BUF_BYTES);
        self.buf.read_bytes(0, &mut out[..n]);
    }

    /// The next event the firmware posted, if any; its descriptor goes back to the firmware.
    pub fn next_event<H: Hal + ?Sized>(&mut self, hal: &H) -> Option<Event> {
        let head = (hal.read32(PF_ARQH) & AQLEN_LEN_MASK) as usize;
        if head >= ARQ_LEN || head == self.arq_next {
            return None;
        }
        fence(Ordering::Acquire);
        let i = self.arq_next;
        let mut raw = [0u8; DESC_BYTES];
        self.arq.read_bytes(i * DESC_BYTES, &mut raw);
        let d = Desc::from_bytes(&raw);
        let event = Event { opcode: d.opcode, params: d.params };
        self.arm_arq(i);
        fence(Ordering::Release);
        hal.write32(PF_ARQT, i as u32);
        self.arq_next = (i + 1) % ARQ_LEN;
        Some(event)
    }
}
