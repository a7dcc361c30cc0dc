//! net_red: the plaintext-side stack PD.
//!
//! It is the PCs' gateway: it answers ARP/NDP and ICMP echo for its own
//! address, and routes every other packet by the split-tunnel policy — to
//! crypto (`Tunnel`), in clear to net_black (`Bypass`, only when configured and
//! granted a link in `system.xml`), or nowhere (`Drop`, also the default).
//! Packets coming back from crypto (decrypted) or from net_black (bypass) go to
//! on-link PCs only. It never sees keys or ciphertext.
//!
//! # The tunnel MTU
//!
//! PCs send packets as large as their link allows (1500 bytes), and the tunnel carries
//! at most `MTU` (the config's, default 1420): WireGuard's overhead must still fit the
//! black link. net_red is the router in front of the tunnel and does what a router does,
//! so that no packet vanishes:
//! - TCP SYNs and SYN-ACKs, both ways, get their MSS lowered to what fits (`MssClamp`),
//!   so TCP never sends a segment too large;
//! - an IPv4 packet without DF that does not fit is fragmented, each fragment a
//!   packet of its own to crypto;
//! - an IPv4 packet with DF, or an IPv6 packet (routers never fragment IPv6), gets an
//!   ICMP "fragmentation needed" / ICMPv6 "packet too big" back with the MTU (IPv6:
//!   never below 1280), at most [`ICMP_ERRORS_PER_S`] a second.

#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use core::net::IpAddr;
use core::ops::Range;
use encryptor_config::{rule_table, Action, MssClamp, PrefixTable, RedConfig, StartError};
use pd_api::{Channel, ChannelSet, Handler};
use pd_netstack::fragment::Ipv4Fragmenter;
use pd_netstack::icmp_error::{frag_needed, packet_too_big, TokenBucket};
use pd_netstack::mss::{clamp_mss, Clamp};
use pd_netstack::{decrement_hop_limit, dont_fragment, hop_limit_above_one, ip_addresses, ip_len, Iface, Received, StackLinks, HOP_LIMIT};
pub use pd_netstack::InitError;
use pd_ring::{Link, RingError, Sender, SLOT_SIZE};

/// Channel to the red NIC PD (rings named `nic`).
pub const NIC: Channel = Channel::new(0);
/// Channel to crypto (rings named `crypto`).
pub const CRYPTO: Channel = Channel::new(1);
/// Channel to net_black for bypass traffic (rings named `bypass`); optional.
pub const BYPASS: Channel = Channel::new(2);
/// Channel from the timer PD.
pub const TIMER: Channel = Channel::new(3);

/// ICMP "too big" errors sent per second at most, after a burst of [`ICMP_ERROR_BURST`]: a
/// flood of oversize packets costs a bounded number of replies.
pub const ICMP_ERRORS_PER_S: u32 = 20;
/// See [`ICMP_ERRORS_PER_S`].
pub const ICMP_ERROR_BURST: u32 = 10;
/// The PCs' link: Ethernet.
const RED_LINK_MTU: usize = 1500;

pd_api::counters! {
    /// What net_red did with packets, and every drop by reason.
    pub struct Counters {
        /// PC packets sent to crypto.
        to_crypto,
        /// PC packets sent in clear to net_black.
        to_bypass,
        /// Decrypted packets delivered to PCs.
        from_crypto,
        /// Bypass packets delivered to PCs.
        from_bypass,
        /// Destination matched a Drop rule or no rule.
        drop_policy,
        /// A PC packet from an address no other host has ([`pd_netstack::Iface::is_other_host`]:
        /// 0/8, loopback, broadcast, multicast, IPv4-mapped, subnet-router anycast, ours): a
        /// martian source, not forwarded (the far side would answer it to a group).
        drop_bad_source,
        /// TTL or hop limit ran out.
        drop_ttl,
        /// From crypto or bypass, but not for a PC on our link.
        drop_not_on_link,
        /// A bypass packet whose source no Bypass rule covers.
        drop_bypass_source,
        /// An IP packet to our own address that nothing serves.
        drop_local,
        /// Not a well-formed IP packet (from crypto or bypass).
        drop_bad_ip,
        /// The ring towards crypto or net_black was full.
        drop_ring_full,
        /// A ring misbehaved.
        ring_errors,
        /// TCP SYNs whose MSS was lowered to fit the tunnel.
        mss_clamped,
        /// Packets split into fragments to fit the tunnel (or, from crypto, the PCs' link).
        fragmented,
        /// Fragments made of them.
        fragments_sent,
        /// Packets for a PC dropped whole: the NIC ring had no room for all their fragments.
        drop_fragments_no_room,
        /// Too big for the tunnel with DF set, or IPv6 (answered by ICMP within the rate limit).
        drop_too_big,
        /// From crypto, too big for the PCs' link and not fragmentable.
        drop_too_big_for_red,
        /// ICMP "fragmentation needed" / "packet too big" sent to PCs.
        icmp_too_big_sent,
        /// ICMP errors held back by the rate limit.
        icmp_rate_limited,
    }
}

/// The net_red PD.
pub struct NetRed {
    nic: Link,
    crypto: Link,
    bypass: Option<Link>,
    iface: Iface,
    /// Routing rules (longest prefix wins; no match drops).
    rules: PrefixTable<Action>,
    /// The tunnel MTU for IPv4 and for IPv6 packets.
    mtu_v4: u16,
    mtu_v6: u16,
    mss_clamp: MssClamp,
    /// MSS limits (IPv4, IPv6), or None with `MssClamp = off`.
    mss: Option<(u16, u16)>,
    icmp_errors: TokenBucket,
    /// The packet being handled, copied out of its ring.
    buf: Box<[u8; SLOT_SIZE]>,
    /// Where ICMP errors and fragments for the PCs are built.
    out: Box<[u8; SLOT_SIZE]>,
    counters: Counters,
}

impl NetRed {
    /// Builds the PD from its configuration and the rings the platform mapped. The
    /// bypass link is optional: without it, Bypass rules drop.
    pub fn new(config: RedConfig) -> Result<Self, InitError> {
        let StackLinks { nic, crypto, bypass } = StackLinks::open(NIC, CRYPTO, BYPASS)?;
        if bypass.is_none() && config.rules.iter().any(|r| r.action == Action::Bypass) {
            // The operator asked for split tunnelling that system.xml does not grant.
            pd_api::log!("Bypass rules are configured but system.xml gives no bypass link: they drop");
        }
        // The NIC's own address, once its PD publishes it; until then (and for good on the
        // host runtime, whose TAP devices have none) the config's or the derived one.
        let mut iface = Iface::with_addresses(config.mac, config.addresses.iter().map(|p| (p.addr, p.len)));
        iface.attach_port(pd_netstack::nic_port()).log();
        Ok(Self {
            nic,
            crypto,
            bypass,
            iface,
            mtu_v4: config.tunnel_mtu(false),
            mtu_v6: config.tunnel_mtu(true),
            mss_clamp: config.mss_clamp,
            mss: config.mss_limits(),
            icmp_errors: TokenBucket::new(ICMP_ERRORS_PER_S, ICMP_ERROR_BURST),
            rules: rule_table(&config.rules),
            buf: Box::new([0; SLOT_SIZE]),
            out: Box::new([0; SLOT_SIZE]),
            counters: Counters::default(),
        })
    }

    /// net_red as both platforms start it: from the config file without its keys in its
    /// `config` region.
    pub fn start() -> Result<Self, StartError<InitError>> {
        let (_, red, _) = encryptor_config::read_config().map_err(StartError::Config)?.into_parts();
        Self::new(red).map_err(StartError::Init)
    }

    /// Lowers the MSS of a TCP SYN in `packet` to what fits the tunnel.
    fn clamp(mss: Option<(u16, u16)>, counters: &mut Counters, packet: &mut [u8]) {
        if let Some((v4, v6)) = mss {
            if let Clamp::Lowered(_) = clamp_mss(packet, v4, v6) {
                counters.mss_clamped += 1;
            }
        }
    }

    /// A PC's packet for the tunnel (in `buf[range]`, its hop limit checked above 1 but not yet
    /// decremented): whole if it fits, in fragments if it may be split, else an ICMP error back
    /// to the PC.
    fn to_tunnel(&mut self, range: Range<usize>, now: u64) {
        let packet = &mut self.buf[range.clone()];
        let ipv6 = packet[0] >> 4 == 6;
        let mtu = usize::from(if ipv6 { self.mtu_v6 } else { self.mtu_v4 });
        if packet.len() > mtu && (ipv6 || dont_fragment(packet)) {
            // Answered before this router changes the packet (hop limit, MSS): the error quotes
            // it as the PC sent it, as Linux's forwarding does.
            return self.too_big(range, now);
        }
        decrement_hop_limit(packet);
        Self::clamp(self.mss, &mut self.counters, packet);
        if packet.len() <= mtu {
            match self.crypto.tx.send(packet) {
                Ok(true) => self.counters.to_crypto += 1,
                Ok(false) => self.counters.drop_ring_full += 1,
                Err(_) => self.counters.ring_errors += 1,
            }
            return;
        }
        match Ipv4Fragmenter::new(packet, mtu) {
            Ok(fragments) => {
                if send_fragments(fragments, &mut self.crypto.tx, &mut self.counters) {
                    self.counters.to_crypto += 1;
                }
            }
            // IPv6 and DF packets were answered above.
            Err(_) => self.counters.drop_bad_ip += 1,
        }
    }

    /// Answers a packet too big for the tunnel with ICMP "fragmentation needed" (IPv4, DF) or
    /// "packet too big" (IPv6), within the rate limit, from our address on the PC's link.
    fn too_big(&mut self, range: Range<usize>, now: u64) {
        self.counters.drop_too_big += 1;
        let original = &self.buf[range];
        let Some((src, _)) = ip_addresses(original) else { return };
        // Only to a host on the PCs' link (drain_nic already dropped martian sources; checked
        // again here so that no caller can make this answer a group or ourselves).
        if !self.iface.is_on_link(src) || !self.iface.is_other_host(src) {
            return;
        }
        if !self.icmp_errors.take(now) {
            self.counters.icmp_rate_limited += 1;
            return;
        }
        let len = match src {
            IpAddr::V4(_) => self.iface.ipv4().and_then(|us| frag_needed(&mut self.out[..], us, original, self.mtu_v4, HOP_LIMIT)),
            IpAddr::V6(_) => self
                .iface
                .ipv6()
                .and_then(|us| packet_too_big(&mut self.out[..], us, original, u32::from(self.mtu_v6), HOP_LIMIT)),
        };
        if let Some(len) = len {
            self.counters.icmp_too_big_sent += 1;
            self.iface.send_ip(&mut self.nic.tx, src, &self.out[..len], now);
        }
    }

    /// A packet from crypto or net_black for the PC at `dst` (in `buf[..len]`): whole, or in
    /// fragments if it is larger than the PCs' link carries.
    fn to_pc(&mut self, len: usize, dst: IpAddr, now: u64) {
        if len <= RED_LINK_MTU {
            self.iface.send_ip(&mut self.nic.tx, dst, &self.buf[..len], now);
            return;
        }
        let Ok(mut fragments) = Ipv4Fragmenter::new(&self.buf[..len], RED_LINK_MTU) else {
            self.counters.drop_too_big_for_red += 1;
            return;
        };
        // All or none (see send_fragments): to a known neighbour, with a slot for a refresh
        // request that may go first; to an unresolved one, room in the queue where they wait.
        let room = if self.iface.knows(dst, now) { self.nic.tx.free_slots().saturating_sub(1) } else { self.iface.pending_room() };
        if room < fragments.count() {
            self.counters.drop_fragments_no_room += 1;
            return;
        }
        self.counters.fragmented += 1;
        while let Some(n) = fragments.write_next(&mut self.out[..]) {
            self.counters.fragments_sent += 1;
            self.iface.send_ip(&mut self.nic.tx, dst, &self.out[..n], now);
        }
    }

    /// Whether every ring a PC packet may go to has room (backpressure).
    fn nic_outputs_ready(&self) -> bool {
        pd_netstack::nic_outputs_ready(&self.nic, &self.crypto, self.bypass.as_ref())
    }

    fn drain_nic(&mut self, now: u64) -> Result<(), RingError> {
        while self.nic_outputs_ready() {
            let len = match self.nic.rx.recv(&mut self.buf) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.counters.ring_errors += 1;
                    return Err(e);
                }
            };
            let range = match self.iface.receive(&self.buf[..len], &mut self.nic.tx, now) {
                Received::Handled => continue,
                // net_red sends no datagrams of its own, so no path MTU concerns it.
                Received::Local(_) | Received::PacketTooBig { .. } => {
                    self.counters.drop_local += 1;
                    continue;
                }
                Received::Forward(r) => r,
            };
            let packet = &mut self.buf[range.clone()];
            let Some((src, dst)) = ip_addresses(packet) else {
                self.counters.drop_bad_ip += 1;
                continue;
            };
            if !self.iface.is_other_host(src) {
                self.counters.drop_bad_source += 1;
                continue;
            }
            let action = self.rules.get(dst).unwrap_or(Action::Drop);
            if action == Action::Drop || (action == Action::Bypass && self.bypass.is_none()) {
                self.counters.drop_policy += 1;
                continue;
            }
            if action == Action::Tunnel {
                // The hop limit is decremented in to_tunnel, after a packet too big is answered.
                if !hop_limit_above_one(packet) {
                    self.counters.drop_ttl += 1;
                    continue;
                }
                self.to_tunnel(range, now);
                continue;
            }
            if !decrement_hop_limit(packet) {
                self.counters.drop_ttl += 1;
                continue;
            }
            let bypass = self.bypass.as_mut().expect("checked above");
            match bypass.tx.send(packet) {
                Ok(true) => self.counters.to_bypass += 1,
                Ok(false) => self.counters.drop_ring_full += 1,
                Err(_) => self.counters.ring_errors += 1,
            }
        }
        Ok(())
    }

    /// Delivers packets from crypto (`from_bypass` false) or net_black to PCs.
    fn drain_inbound(&mut self, from_bypass: bool, now: u64) -> Result<(), RingError> {
        while self.nic.tx.ready() {
            let link = if from_bypass {
                match self.bypass.as_mut() {
                    Some(l) => l,
                    None => return Ok(()),
                }
            } else {
                &mut self.crypto
            };
            let len = match link.rx.recv(&mut self.buf) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.counters.ring_errors += 1;
                    return Err(e);
                }
            };
            let Some(len) = ip_len(&self.buf[..len]).filter(|&n| n <= len) else {
                self.counters.drop_bad_ip += 1;
                continue;
            };
            let packet = &mut self.buf[..len];
            let Some((src, dst)) = ip_addresses(packet) else {
                self.counters.drop_bad_ip += 1;
                continue;
            };
            if from_bypass && self.rules.get(src) != Some(Action::Bypass) {
                self.counters.drop_bypass_source += 1;
                continue;
            }
            if !self.iface.is_on_link(dst) || self.iface.is_ours(dst) {
                self.counters.drop_not_on_link += 1;
                continue;
            }
            if !decrement_hop_limit(packet) {
                self.counters.drop_ttl += 1;
                continue;
            }
            if from_bypass {
                self.counters.from_bypass += 1;
            } else {
                Self::clamp(self.mss, &mut self.counters, packet);
                self.counters.from_crypto += 1;
            }
            self.to_pc(len, dst, now);
        }
        Ok(())
    }

}

impl Handler for NetRed {
    type Error = RingError;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), RingError> {
        let now = pd_api::now_ns();
        self.iface.follow_port().log();
        if channels.contains(TIMER) {
            self.iface.tick(&mut self.nic.tx, now);
        }
        let mut result = Ok(());
        loop {
            for r in [self.drain_nic(now), self.drain_inbound(false, now), self.drain_inbound(true, now)] {
                if r.is_err() {
                    result = r;
                }
            }
            let more = pd_netstack::settle(&mut self.nic, &mut self.crypto, self.bypass.as_mut());
            if !more || result.is_err() {
                return result;
            }
        }
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        self.iface.counters.report(report);
        self.counters.report(report);
    }

    /// The port (MAC, link), the tunnel MTU and the MSS clamp in force.
    fn status(&self, report: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
        self.iface.port_status(report);
        report(format_args!("tunnel mtu {} (ipv6 {})", self.mtu_v4, self.mtu_v6));
        match (self.mss_clamp, self.mss) {
            (MssClamp::Off, _) | (_, None) => report(format_args!("mss clamp off")),
            (c, Some((v4, v6))) => report(format_args!(
                "mss clamp {} (ipv4 {v4}, ipv6 {v6})",
                if c == MssClamp::Auto { "auto" } else { "fixed" }
            )),
        }
    }
}

/// Sends every fragment of a packet to `ring`, counting them, or none if the ring has not room
/// for all (false; counted as one drop_ring_full).
fn send_fragments(mut fragments: Ipv4Fragmenter<'_>, ring: &mut Sender, counters: &mut Counters) -> bool {
    // All or none: a packet without its last fragments is only load for the ring.
    if ring.free_slots() < fragments.count() {
        counters.drop_ring_full += 1;
        return false;
    }
    counters.fragmented += 1;
    while !fragments.is_done() {
        match ring.send_with(|slot| fragments.write_next(slot)) {
            Ok(true) => counters.fragments_sent += 1,
            Ok(false) => {
                counters.drop_ring_full += 1;
                return false;
            }
            Err(_) => {
                counters.ring_errors += 1;
                return false;
            }
        }
    }
    true
}
