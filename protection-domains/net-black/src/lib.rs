//! net_black: the ciphertext-side stack PD.
//!
//! It carries WireGuard messages between crypto and the network as UDP over
//! IPv4 or IPv6, answers ARP/NDP and ICMP echo for its own address, resolves
//! the gateway, and drops (and counts) everything else. With bypass configured
//! it also relays clear traffic between the network and net_red, for addresses whose
//! longest rule is Bypass only (net_red's rules, net_red's decision). It never sees
//! plaintext of tunnelled traffic or keys.
//!
//! # Fragments
//!
//! A path with a smaller MTU than ours may split our peers' datagrams: fragments
//! addressed to us are put back together ([`pd_netstack::reassembly`], bounded, every
//! drop counted) before the datagram goes to crypto. Our own IPv4 datagrams leave
//! without DF and with a fresh identification, so routers on such a path can split
//! them, as Linux's WireGuard does; an ICMPv6 "packet too big" for one of our IPv6
//! datagrams lowers that endpoint's path MTU for a while. A datagram larger than the
//! black link or the path is fragmented here.

#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv6Addr, SocketAddr};
use encryptor_config::{Action, BlackConfig, PrefixTable, StartError, IPV6_MIN_MTU};
use pd_api::{Channel, ChannelSet, Handler};
use pd_netstack::fragment::{Ipv4Fragmenter, Ipv6Fragmenter};
use pd_netstack::reassembly::{Reassembler, Reassembly};
use pd_netstack::{ip_addresses, ip_len, is_link_local, Iface, Received, StackLinks, HOP_LIMIT};
pub use pd_netstack::InitError;
use pd_proto::{EndpointHeader, ENDPOINT_HEADER_LEN};
use pd_ring::{Link, RingError, SLOT_SIZE};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, UdpPacket,
    UdpRepr,
};

/// Channel to the black NIC PD (rings named `nic`).
pub const NIC: Channel = Channel::new(0);
/// Channel to crypto (rings named `crypto`).
pub const CRYPTO: Channel = Channel::new(1);
/// Channel to net_red for bypass traffic (rings named `bypass`); optional.
pub const BYPASS: Channel = Channel::new(2);
/// Channel from the timer PD.
pub const TIMER: Channel = Channel::new(3);

const UDP_HEADER_LEN: usize = 8;
/// The black link: Ethernet.
pub const BLACK_LINK_MTU: usize = 1500;
/// Endpoints whose IPv6 path MTU is remembered.
const PATH_MTUS: usize = 8;
/// How long a lowered path MTU holds (RFC 8201 §4 suggests 10 minutes at least).
const PATH_MTU_TTL_NS: u64 = 10 * 60 * 1_000_000_000;
/// The largest datagram built here: a full slot from crypto plus IP and UDP headers.
const MAX_DATAGRAM: usize = SLOT_SIZE + 48;

pd_api::counters! {
    /// What net_black did, and every drop by reason.
    pub struct Counters {
        /// WireGuard datagrams handed to crypto.
        to_crypto,
        /// WireGuard datagrams sent to the network.
        from_crypto,
        /// Clear packets relayed to net_red (bypass).
        to_bypass,
        /// Clear packets from net_red sent to the network (bypass).
        from_bypass,
        /// To our address, but not UDP to the WireGuard port.
        drop_not_wireguard,
        /// Malformed UDP (length or checksum).
        drop_bad_udp,
        /// Not for us, and its source's longest rule is not Bypass (or an address is link-local).
        drop_not_for_us,
        /// No route to the endpoint (off-link and no gateway of its family).
        drop_no_route,
        /// A message from crypto without a valid endpoint header.
        drop_bad_header,
        /// Not a well-formed IP packet (from net_red).
        drop_bad_ip,
        /// A bypass packet to a destination whose longest rule is not Bypass (net_red would not
        /// have sent it: a Tunnel rule inside a Bypass one is tunnelled), or link-local.
        drop_bypass_destination,
        /// The ring towards crypto or net_red was full.
        drop_ring_full,
        /// A ring misbehaved.
        ring_errors,
        /// A reassembled datagram too large to hand to crypto.
        drop_too_big,
        /// Our datagrams fragmented to fit the black link or the path.
        outer_fragmented,
        /// Fragments made of them.
        outer_fragments_sent,
        /// Our datagrams dropped whole: the NIC ring had no room for all their fragments.
        drop_fragments_no_room,
        /// ICMPv6 "packet too big" for our datagrams, believed (path MTU lowered).
        path_mtu_lowered,
        /// ICMPv6 "packet too big" not about our WireGuard port, or not lowering anything.
        drop_path_mtu_ignored,
        /// A datagram to the WireGuard port from an address no other host has
        /// ([`pd_netstack::Iface::is_other_host`]: 0/8, loopback, broadcast, multicast,
        /// IPv4-mapped, subnet-router anycast, ours) or from port 0: spoofed, and crypto's
        /// answer would go to a group or back to us. Also a packet for the bypass from such a
        /// source.
        drop_bad_source,
        /// A message from crypto to such an address or port (crypto answers the sources it is
        /// given; never sent to a group or to ourselves).
        drop_bad_endpoint,
        /// Our datagrams that could not be fragmented to the link or path MTU.
        drop_unfragmentable,
    }
}

/// A lowered IPv6 path MTU to one endpoint.
#[derive(Clone, Copy)]
struct PathMtu {
    to: Ipv6Addr,
    mtu: usize,
    until_ns: u64,
}

/// The net_black PD.
pub struct NetBlack {
    nic: Link,
    crypto: Link,
    bypass: Option<Link>,
    iface: Iface,
    config: BlackConfig,
    /// The forwarding rules, longest prefix first: what may cross the bypass link.
    rules: PrefixTable<Action>,
    /// The message being handled, copied out of its ring.
    buf: Box<[u8; SLOT_SIZE]>,
    /// Where datagrams are built when their next hop is still unresolved or they are
    /// fragmented.
    out: Box<[u8; MAX_DATAGRAM]>,
    /// Where one fragment at a time is built.
    fragment: Box<[u8; SLOT_SIZE]>,
    reassembler: Reassembler,
    path_mtus: Vec<PathMtu>,
    /// Identification of our next IPv4 datagram and IPv6 fragmented datagram.
    ident_v4: u16,
    ident_v6: u32,
    counters: Counters,
}

impl NetBlack {
    /// Builds the PD from its configuration and the rings the platform mapped.
    pub fn new(config: BlackConfig) -> Result<Self, InitError> {
        let StackLinks { nic, crypto, bypass } = StackLinks::open(NIC, CRYPTO, BYPASS)?;
        // The NIC's own address, once its PD publishes it; until then (and for good on the
        // host runtime, whose TAP devices have none) the config's or the derived one.
        let mut iface = Iface::with_addresses(config.mac, config.addresses.iter().map(|p| (p.addr, p.len)));
        iface.set_gateways(config.gateway_v4, config.gateway_v6);
        iface.attach_port(pd_netstack::nic_port()).log();
        Ok(Self {
            nic,
            crypto,
            bypass,
            iface,
            rules: encryptor_config::rule_table(&config.rules),
            config,
            buf: Box::new([0; SLOT_SIZE]),
            out: Box::new([0; MAX_DATAGRAM]),
            fragment: Box::new([0; SLOT_SIZE]),
            reassembler: Reassembler::new(),
            path_mtus: Vec::with_capacity(PATH_MTUS),
            // Identifications start at random: sequential ones from a known start would tell
            // an observer how many datagrams this encryptor has sent.
            ident_v4: random_u32() as u16,
            ident_v6: random_u32(),
            counters: Counters::default(),
        })
    }

    /// net_black as both platforms start it: from the config file without its keys in its
    /// `config` region.
    pub fn start() -> Result<Self, StartError<InitError>> {
        let (_, _, black) = encryptor_config::read_config().map_err(StartError::Config)?.into_parts();
        Self::new(black).map_err(StartError::Init)
    }

    /// The largest datagram that goes whole to `dst`: the black link's MTU, or a lower path
    /// MTU learned for that IPv6 endpoint.
    fn datagram_mtu(&self, dst: IpAddr, now: u64) -> usize {
        match dst {
            IpAddr::V6(to) => self
                .path_mtus
                .iter()
                .find(|p| p.to == to && p.until_ns > now)
                .map_or(BLACK_LINK_MTU, |p| p.mtu),
            IpAddr::V4(_) => BLACK_LINK_MTU,
        }
    }

    /// An ICMPv6 "packet too big" about a datagram from our WireGuard port: remember the
    /// lower path MTU (never below IPv6's 1280) for a while.
    fn packet_too_big(&mut self, to: Ipv6Addr, mtu: u32, src_port: u16, now: u64) {
        let mtu = (mtu as usize).max(usize::from(IPV6_MIN_MTU));
        if src_port != self.config.listen_port || mtu >= self.datagram_mtu(IpAddr::V6(to), now) {
            self.counters.drop_path_mtu_ignored += 1;
            return;
        }
        let entry = PathMtu { to, mtu, until_ns: now.saturating_add(PATH_MTU_TTL_NS) };
        self.path_mtus.retain(|p| p.to != to && p.until_ns > now);
        if self.path_mtus.len() >= PATH_MTUS {
            self.path_mtus.remove(0);
        }
        self.path_mtus.push(entry);
        self.counters.path_mtu_lowered += 1;
    }

    fn in_bypass(&self, ip: IpAddr) -> bool {
        self.bypass.is_some() && self.rules.get(ip) == Some(Action::Bypass)
    }

    /// Whether every ring a frame from the network may go to has room (backpressure).
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
            match self.iface.receive(&self.buf[..len], &mut self.nic.tx, now) {
                Received::Handled => {}
                Received::PacketTooBig { to, mtu, src_port } => self.packet_too_big(to, mtu, src_port, now),
                Received::Local(r) => self.local(r, now),
                Received::Forward(r) => {
                    let packet = &self.buf[r];
                    match ip_addresses(packet) {
                        // A martian source is never relayed, whatever the rules say.
                        Some((src, _)) if !self.iface.is_other_host(src) => self.counters.drop_bad_source += 1,
                        // Link-local on either side is never forwarded (RFC 3927, 4291).
                        Some((src, dst)) if self.in_bypass(src) && !is_link_local(src) && !is_link_local(dst) => {
                            let link = self.bypass.as_mut().expect("in_bypass checked the link");
                            match link.tx.send(packet) {
                                Ok(true) => self.counters.to_bypass += 1,
                                Ok(false) => self.counters.drop_ring_full += 1,
                                Err(_) => self.counters.ring_errors += 1,
                            }
                        }
                        _ => self.counters.drop_not_for_us += 1,
                    }
                }
            }
        }
        Ok(())
    }

    /// A packet to our own address: fragments are put back together first; then only UDP to
    /// the WireGuard port goes on, to crypto.
    fn local(&mut self, range: core::ops::Range<usize>, now: u64) {
        let packet = &self.buf[range];
        let packet = match if packet[0] >> 4 == 4 {
            self.reassembler.push_ipv4(packet, now)
        } else {
            self.reassembler.push_ipv6(packet, now)
        } {
            Reassembly::Whole => packet,
            Reassembly::Held => return,
            Reassembly::Complete(whole) => whole,
        };
        deliver_datagram(packet, &self.iface, self.config.listen_port, &mut self.crypto, &mut self.counters);
    }

    fn drain_crypto(&mut self, now: u64) -> Result<(), RingError> {
        while self.nic.tx.ready() {
            let len = match self.crypto.rx.recv(&mut self.buf) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.counters.ring_errors += 1;
                    return Err(e);
                }
            };
            let Some((EndpointHeader(to), payload)) = EndpointHeader::parse(&self.buf[..len]) else {
                self.counters.drop_bad_header += 1;
                continue;
            };
            if to.port() == 0 || !self.iface.is_other_host(to.ip()) {
                self.counters.drop_bad_endpoint += 1;
                continue;
            }
            let src = match to.ip() {
                IpAddr::V4(_) => self.iface.ipv4().map(IpAddr::V4),
                IpAddr::V6(_) => self.iface.ipv6().map(IpAddr::V6),
            };
            let (Some(src), Some(hop)) = (src, self.iface.next_hop(to.ip())) else {
                self.counters.drop_no_route += 1;
                continue;
            };
            let src = SocketAddr::new(src, self.config.listen_port);
            let ip_len = ip_header_len(to.ip()) + UDP_HEADER_LEN + payload.len();
            let ident = self.ident_v4;
            self.ident_v4 = self.ident_v4.wrapping_add(1);
            let mtu = self.datagram_mtu(to.ip(), now);
            let mac = if ip_len <= mtu { self.iface.neighbour(&mut self.nic.tx, hop, now) } else { None };
            if let Some(mac) = mac {
                // Fast path: build the datagram straight into the NIC slot.
                let proto = if to.is_ipv4() { EthernetProtocol::Ipv4 } else { EthernetProtocol::Ipv6 };
                if self.iface.emit(&mut self.nic.tx, EthernetAddress(mac), proto, ip_len, |b| write_udp(b, src, to, payload, ident)) {
                    self.counters.from_crypto += 1;
                }
                continue;
            }
            // Build it aside: its next hop is unresolved (it waits in the neighbour queue), or
            // it is fragmented.
            write_udp(&mut self.out[..ip_len], src, to, payload, ident);
            if ip_len <= mtu {
                // It waits for its next hop, if the queue has room (else send_ip counts the drop).
                if self.iface.pending_room() > 0 {
                    self.counters.from_crypto += 1;
                }
                self.iface.send_ip(&mut self.nic.tx, hop, &self.out[..ip_len], now);
                continue;
            }
            let datagram = &self.out[..ip_len];
            // All or none: a datagram without its last fragments is only load for the ring and
            // the path. Fragments to a known neighbour go to the NIC ring now, maybe behind a
            // refresh request (one slot more); to an unresolved one they wait in the queue.
            let room = if self.iface.knows(hop, now) { self.nic.tx.free_slots().saturating_sub(1) } else { self.iface.pending_room() };
            if to.is_ipv4() {
                let Ok(mut f) = Ipv4Fragmenter::new(datagram, mtu) else {
                    self.counters.drop_unfragmentable += 1;
                    continue;
                };
                if room < f.count() {
                    self.counters.drop_fragments_no_room += 1;
                    continue;
                }
                self.counters.from_crypto += 1;
                self.counters.outer_fragmented += 1;
                while let Some(n) = f.write_next(&mut self.fragment[..]) {
                    self.counters.outer_fragments_sent += 1;
                    self.iface.send_ip(&mut self.nic.tx, hop, &self.fragment[..n], now);
                }
            } else {
                let Ok(mut f) = Ipv6Fragmenter::new(datagram, mtu, self.ident_v6) else {
                    self.counters.drop_unfragmentable += 1;
                    continue;
                };
                if room < f.count() {
                    self.counters.drop_fragments_no_room += 1;
                    continue;
                }
                self.counters.from_crypto += 1;
                self.counters.outer_fragmented += 1;
                self.ident_v6 = self.ident_v6.wrapping_add(1);
                while let Some(n) = f.write_next(&mut self.fragment[..]) {
                    self.counters.outer_fragments_sent += 1;
                    self.iface.send_ip(&mut self.nic.tx, hop, &self.fragment[..n], now);
                }
            }
        }
        Ok(())
    }

    fn drain_bypass(&mut self, now: u64) -> Result<(), RingError> {
        while self.nic.tx.ready() {
            let Some(link) = self.bypass.as_mut() else { return Ok(()) };
            let len = match link.rx.recv(&mut self.buf) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.counters.ring_errors += 1;
                    return Err(e);
                }
            };
            let Some(n) = ip_len(&self.buf[..len]).filter(|&n| n <= len) else {
                self.counters.drop_bad_ip += 1;
                continue;
            };
            let Some((src, dst)) = ip_addresses(&self.buf[..n]) else {
                self.counters.drop_bad_ip += 1;
                continue;
            };
            // Never forwarded from or to a link-local address (RFC 3927, 4291), whatever the
            // rules say.
            if is_link_local(src) || is_link_local(dst) || self.rules.get(dst) != Some(Action::Bypass) {
                self.counters.drop_bypass_destination += 1;
                continue;
            }
            let Some(hop) = self.iface.next_hop(dst) else {
                self.counters.drop_no_route += 1;
                continue;
            };
            self.counters.from_bypass += 1;
            self.iface.send_ip(&mut self.nic.tx, hop, &self.buf[..n], now);
        }
        Ok(())
    }

}

fn ip_header_len(ip: IpAddr) -> usize {
    if ip.is_ipv4() {
        20
    } else {
        40
    }
}

/// A UDP datagram to our address (one IP packet, whole): to crypto with its source endpoint if
/// it is for the WireGuard port, else counted.
fn deliver_datagram(packet: &[u8], iface: &Iface, listen_port: u16, crypto: &mut Link, counters: &mut Counters) {
    let caps = ChecksumCapabilities::default();
    let (src, dst, proto, payload) = match packet[0] >> 4 {
        4 => {
            let Ok(p) = Ipv4Packet::new_checked(packet) else { return counters.drop_bad_udp += 1 };
            let hl = usize::from(p.header_len());
            (IpAddress::Ipv4(p.src_addr()), IpAddress::Ipv4(p.dst_addr()), p.next_header(), &packet[hl..])
        }
        _ => {
            let Ok(p) = Ipv6Packet::new_checked(packet) else { return counters.drop_bad_udp += 1 };
            (IpAddress::Ipv6(p.src_addr()), IpAddress::Ipv6(p.dst_addr()), p.next_header(), &packet[40..])
        }
    };
    if proto != IpProtocol::Udp {
        return counters.drop_not_wireguard += 1;
    }
    let Ok(udp) = UdpPacket::new_checked(payload) else { return counters.drop_bad_udp += 1 };
    // Over IPv6 the UDP checksum is mandatory (RFC 8200 8.1); smoltcp takes zero for "none".
    if matches!(src, IpAddress::Ipv6(_)) && udp.checksum() == 0 {
        return counters.drop_bad_udp += 1;
    }
    let Ok(repr) = UdpRepr::parse(&udp, &src, &dst, &caps) else { return counters.drop_bad_udp += 1 };
    if repr.dst_port != listen_port {
        return counters.drop_not_wireguard += 1;
    }
    if repr.src_port == 0 || !iface.is_other_host(IpAddr::from(src)) {
        return counters.drop_bad_source += 1;
    }
    let data = udp.payload();
    if ENDPOINT_HEADER_LEN + data.len() > SLOT_SIZE {
        return counters.drop_too_big += 1;
    }
    let from = SocketAddr::new(IpAddr::from(src), repr.src_port);
    let sent = crypto.tx.send_with(|slot| {
        let total = ENDPOINT_HEADER_LEN + data.len();
        let buf = slot.get_mut(..total)?;
        EndpointHeader(from).emit(buf);
        buf[ENDPOINT_HEADER_LEN..].copy_from_slice(data);
        Some(total)
    });
    match sent {
        Ok(true) => counters.to_crypto += 1,
        Ok(false) => counters.drop_ring_full += 1,
        Err(_) => counters.ring_errors += 1,
    }
}

/// Four random bytes from the platform, or zeros without a random source.
fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    let _ = pd_api::fill_random(&mut b);
    u32::from_le_bytes(b)
}

/// Writes IP + UDP headers and `payload` into `buf` (exactly the packet's length).
/// The IPv4 UDP checksum is left zero, which RFC 768 allows and WireGuard's own
/// authentication makes redundant; IPv6 requires it, so it is computed there. IPv4 datagrams
/// carry `ident` and no DF, so a router before a smaller MTU may fragment them.
fn write_udp(buf: &mut [u8], src: SocketAddr, dst: SocketAddr, payload: &[u8], ident: u16) {
    let caps = ChecksumCapabilities::default();
    let udp_len = UDP_HEADER_LEN + payload.len();
    let udp = UdpRepr { src_port: src.port(), dst_port: dst.port() };
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let ip = Ipv4Repr { src_addr: s, dst_addr: d, next_header: IpProtocol::Udp, payload_len: udp_len, hop_limit: HOP_LIMIT };
            let mut p = Ipv4Packet::new_unchecked(buf);
            ip.emit(&mut p, &caps);
            p.set_dont_frag(false);
            p.set_ident(ident);
            p.fill_checksum();
            let mut u = UdpPacket::new_unchecked(p.payload_mut());
            u.set_src_port(udp.src_port);
            u.set_dst_port(udp.dst_port);
            u.set_len(udp_len as u16);
            u.set_checksum(0);
            u.payload_mut()[..payload.len()].copy_from_slice(payload);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ip = Ipv6Repr { src_addr: s, dst_addr: d, next_header: IpProtocol::Udp, payload_len: udp_len, hop_limit: HOP_LIMIT };
            let mut p = Ipv6Packet::new_unchecked(buf);
            ip.emit(&mut p);
            let (sa, da) = (IpAddress::Ipv6(s), IpAddress::Ipv6(d));
            udp.emit(
                &mut UdpPacket::new_unchecked(p.payload_mut()),
                &sa,
                &da,
                payload.len(),
                |b| b.copy_from_slice(payload),
                &caps,
            );
        }
        _ => unreachable!("callers pick the source of the destination's family"),
    }
}

impl Handler for NetBlack {
    type Error = RingError;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), RingError> {
        let now = pd_api::now_ns();
        self.iface.follow_port().log();
        if channels.contains(TIMER) {
            self.iface.tick(&mut self.nic.tx, now);
            self.reassembler.expire(now);
        }
        let mut result = Ok(());
        loop {
            for r in [self.drain_nic(now), self.drain_crypto(now), self.drain_bypass(now)] {
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
        self.reassembler.counters.report(report);
        self.counters.report(report);
    }

    /// The port: the MAC in use and the link.
    fn status(&self, report: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
        self.iface.port_status(report);
    }
}
