//! Reassembly of IP fragments addressed to this interface (RFC 791 for IPv4, RFC 8200 §4.5 for
//! IPv6), with hard bounds, because the black side's fragments come from the untrusted network:
//!
//! - at most [`SLOTS`] datagrams in reassembly at once, each in a fixed buffer of
//!   [`MAX_PAYLOAD`] bytes allocated once: memory does not grow with the attack;
//! - at most [`MAX_FRAGMENTS`] fragments per datagram;
//! - a datagram still incomplete [`TIMEOUT_NS`] after its first fragment is dropped;
//! - when every slot is busy, the oldest reassembly is given up for the new one;
//! - fragments that overlap (RFC 5722), extend past the end a last fragment set, or past
//!   [`MAX_PAYLOAD`], discard the whole datagram (one past [`MAX_PAYLOAD`] takes no slot);
//! - an IPv6 atomic fragment (RFC 6946) is a whole packet, handled without a slot.
//!
//! Every drop is counted by reason in [`ReassemblyCounters`].

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};
use smoltcp::wire::{IpProtocol, Ipv4Packet};

/// Datagrams in reassembly at once.
pub const SLOTS: usize = 8;
/// Largest reassembled payload (after the IP header): what a ring slot can carry on.
pub const MAX_PAYLOAD: usize = pd_ring::SLOT_SIZE - 64;
/// Fragments one datagram may come in.
pub const MAX_FRAGMENTS: usize = 16;
/// How long an incomplete datagram is kept.
pub const TIMEOUT_NS: u64 = 3_000_000_000;

pd_api::counters! {
    /// What reassembly did, and every drop by reason.
    pub struct ReassemblyCounters {
        /// Fragments taken in.
        frags_received,
        /// Datagrams put back together.
        frags_reassembled,
        /// An incomplete datagram timed out.
        drop_frag_timeout,
        /// Fragments overlapped (the whole datagram is dropped).
        drop_frag_overlap,
        /// The datagram would exceed the reassembly buffer or the length its last fragment set.
        drop_frag_oversize,
        /// More fragments than one datagram may have.
        drop_frag_too_many,
        /// Every slot was busy: the oldest incomplete datagram was given up.
        drop_frag_evicted,
        /// A malformed fragment (bad lengths, a non-final fragment not a multiple of 8 bytes).
        drop_frag_malformed,
    }
}

/// Which datagram a fragment belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Key {
    V4 { src: Ipv4Addr, dst: Ipv4Addr, ident: u16, protocol: u8 },
    V6 { src: Ipv6Addr, dst: Ipv6Addr, ident: u32 },
}

struct Slot {
    key: Option<Key>,
    started_ns: u64,
    /// The payload length, known once the last fragment (More Fragments clear) arrived.
    total: Option<usize>,
    /// Received payload ranges [start, end).
    ranges: Vec<(u16, u16)>,
    /// The unfragmentable header of the rebuilt packet (IPv4 header of the first fragment, or
    /// the IPv6 header), then the payload.
    buf: Box<[u8; 60 + MAX_PAYLOAD]>,
    header_len: usize,
    /// The upper-layer protocol (IPv6: the Fragment header's next header).
    next_header: u8,
}

impl Slot {
    fn new() -> Self {
        Self {
            key: None,
            started_ns: 0,
            total: None,
            ranges: Vec::with_capacity(MAX_FRAGMENTS),
            buf: Box::new([0; 60 + MAX_PAYLOAD]),
            header_len: 0,
            next_header: 0,
        }
    }

    fn clear(&mut self) {
        self.key = None;
        self.total = None;
        self.ranges.clear();
        self.header_len = 0;
    }

    fn received(&self) -> usize {
        self.ranges.iter().map(|&(s, e)| usize::from(e - s)).sum()
    }
}

/// What became of a packet given to the reassembler.
#[derive(Debug, PartialEq, Eq)]
pub enum Reassembly<'a> {
    /// Not a fragment: use the packet as it is.
    Whole,
    /// A fragment, kept (or counted as dropped): nothing to do yet.
    Held,
    /// The last missing fragment: the whole packet, rebuilt as if it had never been
    /// fragmented (IPv4: header of the first fragment, no MF, offset 0; IPv6: no Fragment
    /// header).
    Complete(&'a [u8]),
}

/// A fragment as parsed from its packet.
struct Fragment<'p> {
    key: Key,
    /// Payload offset in bytes.
    offset: usize,
    more: bool,
    data: &'p [u8],
    /// The header to rebuild the packet with (IPv4: the packet's own; IPv6: the fixed header).
    header: &'p [u8],
    next_header: u8,
}

/// Puts fragments back together; see the module documentation for its bounds.
pub struct Reassembler {
    slots: Vec<Slot>,
    /// Where an IPv6 atomic fragment is rebuilt without its Fragment header (it takes no slot).
    atomic: Box<[u8; 40 + MAX_PAYLOAD]>,
    /// What happened, by reason.
    pub counters: ReassemblyCounters,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Reassembler {
    /// A reassembler with all its memory allocated.
    pub fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Slot::new()).collect(),
            atomic: Box::new([0; 40 + MAX_PAYLOAD]),
            counters: ReassemblyCounters::default(),
        }
    }

    /// Datagrams in reassembly now.
    pub fn in_progress(&self) -> usize {
        self.slots.iter().filter(|s| s.key.is_some()).count()
    }

    /// Takes an IPv4 packet (checked header, total length = the slice's length).
    pub fn push_ipv4(&mut self, packet: &[u8], now_ns: u64) -> Reassembly<'_> {
        let Ok(p) = Ipv4Packet::new_checked(packet) else { return Reassembly::Whole };
        if !p.more_frags() && p.frag_offset() == 0 {
            return Reassembly::Whole;
        }
        let header_len = usize::from(p.header_len());
        let key = Key::V4 { src: p.src_addr(), dst: p.dst_addr(), ident: p.ident(), protocol: p.next_header().into() };
        let fragment = Fragment {
            key,
            offset: usize::from(p.frag_offset()),
            more: p.more_frags(),
            data: &packet[header_len..],
            header: &packet[..header_len],
            next_header: p.next_header().into(),
        };
        self.push(fragment, now_ns)
    }

    /// Takes an IPv6 packet (checked fixed header, payload length = the slice's). Only a
    /// Fragment header straight after the fixed header is recognised; a packet whose first
    /// extension header is something else is returned as `Whole`.
    pub fn push_ipv6(&mut self, packet: &[u8], now_ns: u64) -> Reassembly<'_> {
        if packet.len() < 40 || IpProtocol::from(packet[6]) != IpProtocol::Ipv6Frag {
            return Reassembly::Whole;
        }
        let Some(fh) = packet.get(40..48) else {
            self.counters.frags_received += 1;
            self.counters.drop_frag_malformed += 1;
            return Reassembly::Held;
        };
        let offset_and_more = u16::from_be_bytes([fh[2], fh[3]]);
        let ident = u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]]);
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).expect("16 bytes"));
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[24..40]).expect("16 bytes"));
        let fragment = Fragment {
            key: Key::V6 { src, dst, ident },
            offset: usize::from(offset_and_more & !7),
            more: offset_and_more & 1 != 0,
            data: &packet[48..],
            header: &packet[..40],
            next_header: fh[0],
        };
        if fragment.offset == 0 && !fragment.more {
            return self.atomic(fragment);
        }
        self.push(fragment, now_ns)
    }

    /// An IPv6 atomic fragment (offset 0, no more to come: RFC 6946) is a whole packet and is
    /// handled on its own (section 4 there): it takes no slot, so it neither evicts a
    /// reassembly in progress nor, with the same identification, joins and spoils one.
    fn atomic(&mut self, f: Fragment<'_>) -> Reassembly<'_> {
        self.counters.frags_received += 1;
        let total = f.data.len();
        if total > MAX_PAYLOAD {
            self.counters.drop_frag_oversize += 1;
            return Reassembly::Held;
        }
        self.atomic[..40].copy_from_slice(f.header);
        self.atomic[40..40 + total].copy_from_slice(f.data);
        self.atomic[4..6].copy_from_slice(&(total as u16).to_be_bytes());
        self.atomic[6] = f.next_header;
        self.counters.frags_reassembled += 1;
        Reassembly::Complete(&self.atomic[..40 + total])
    }

    /// Drops reassemblies older than the timeout.
    pub fn expire(&mut self, now_ns: u64) {
        for s in &mut self.slots {
            if s.key.is_some() && now_ns.saturating_sub(s.started_ns) >= TIMEOUT_NS {
                s.clear();
                self.counters.drop_frag_timeout += 1;
            }
        }
    }

    fn push(&mut self, f: Fragment<'_>, now_ns: u64) -> Reassembly<'_> {
        self.counters.frags_received += 1;
        self.expire(now_ns);
        let end = f.offset + f.data.len();
        if (f.more && f.data.len() % 8 != 0) || f.data.is_empty() && f.more {
            self.counters.drop_frag_malformed += 1;
            return Reassembly::Held;
        }
        // Past the buffer: the datagram can never be completed. Checked before a slot is
        // taken, so that such a fragment evicts no reassembly in progress.
        if end > MAX_PAYLOAD {
            if let Some(s) = self.slots.iter_mut().find(|s| s.key == Some(f.key)) {
                s.clear();
            }
            self.counters.drop_frag_oversize += 1;
            return Reassembly::Held;
        }
        let index = match self.slots.iter().position(|s| s.key == Some(f.key)) {
            Some(i) => i,
            None => {
                let i = match self.slots.iter().position(|s| s.key.is_none()) {
                    Some(i) => i,
                    None => {
                        let i = (0..SLOTS).min_by_key(|&i| self.slots[i].started_ns).expect("SLOTS > 0");
                        self.slots[i].clear();
                        self.counters.drop_frag_evicted += 1;
                        i
                    }
                };
                let s = &mut self.slots[i];
                s.key = Some(f.key);
                s.started_ns = now_ns;
                i
            }
        };
        let s = &mut self.slots[index];
        let beyond_last = s.total.is_some_and(|t| end > t || (!f.more && end != t));
        let short_last = !f.more && s.ranges.iter().any(|&(_, e)| usize::from(e) > end);
        if beyond_last || short_last {
            s.clear();
            self.counters.drop_frag_oversize += 1;
            return Reassembly::Held;
        }
        let (start, stop) = (f.offset as u16, end as u16);
        if s.ranges.contains(&(start, stop)) && (f.more || s.total == Some(end)) {
            // An exact duplicate (the network may repeat a packet): nothing new.
            return Reassembly::Held;
        }
        if s.ranges.iter().any(|&(a, b)| start < b && a < stop) {
            s.clear();
            self.counters.drop_frag_overlap += 1;
            return Reassembly::Held;
        }
        if s.ranges.len() >= MAX_FRAGMENTS {
            s.clear();
            self.counters.drop_frag_too_many += 1;
            return Reassembly::Held;
        }
        if !f.more {
            s.total = Some(end);
        }
        if f.offset == 0 {
            if f.header.len() > 60 {
                s.clear();
                self.counters.drop_frag_malformed += 1;
                return Reassembly::Held;
            }
            s.buf[..f.header.len()].copy_from_slice(f.header);
            s.header_len = f.header.len();
            s.next_header = f.next_header;
        }
        s.ranges.push((start, stop));
        // The payload goes after the longest header there can be, and moves next to the
        // actual one when the datagram is complete.
        s.buf[60 + f.offset..60 + end].copy_from_slice(f.data);
        let Some(total) = s.total else { return Reassembly::Held };
        if s.header_len == 0 || s.received() != total {
            return Reassembly::Held;
        }
        let header_len = s.header_len;
        s.buf.copy_within(60..60 + total, header_len);
        let packet = &mut s.buf[..header_len + total];
        match f.key {
            Key::V4 { .. } => {
                let mut p = Ipv4Packet::new_unchecked(&mut *packet);
                p.set_total_len((header_len + total) as u16);
                p.set_more_frags(false);
                p.set_frag_offset(0);
                p.fill_checksum();
            }
            Key::V6 { .. } => {
                packet[4..6].copy_from_slice(&(total as u16).to_be_bytes());
                packet[6] = s.next_header;
            }
        }
        s.key = None;
        s.total = None;
        s.ranges.clear();
        self.counters.frags_reassembled += 1;
        Reassembly::Complete(&self.slots[index].buf[..header_len + total])
    }
}
