//! The link layer shared by the two stack PDs (net_red, net_black).
//!
//! An [`Iface`] owns one Ethernet interface's addresses, its neighbour cache
//! (ARP for IPv4, NDP for IPv6) and the few packets waiting for a neighbour to
//! answer. It answers ARP and neighbour solicitations for its own addresses and
//! ICMP echo requests to them by itself, and hands everything else to the PD:
//! packets to forward, and packets to its own address that the PD serves (UDP on
//! the black side). All parsing goes through smoltcp's checked `wire` views;
//! every frame that fails a check is dropped and counted, never trusted.
//!
//! The neighbour cache believes only answers to its own requests (an ARP reply or
//! neighbour advertisement for an address it asked about in the last few seconds),
//! never requests, gratuitous announcements or unasked-for replies, and never evicts
//! an entry that packets went to lately: a host on the LAN can neither redirect
//! traffic it was not asked about nor push a neighbour in use out of the cache.

#![no_std]

extern crate alloc;

pub mod fragment;
pub mod icmp_error;
pub mod mss;
pub mod reassembly;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::fmt;
use pd_api::Channel;
use pd_proto::port::{LinkInfo, PortPage};
use pd_ring::{Link, LinkError, Sender, SLOT_SIZE};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, Icmpv4Packet,
    Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, NdiscNeighborFlags,
    NdiscRepr, RawHardwareAddress, ETHERNET_HEADER_LEN,
};

/// How long a learned neighbour is trusted without being heard from.
const NEIGHBOUR_TTL_NS: u64 = 60_000_000_000;
/// A neighbour in use is asked again this long after it last answered, before it expires.
const NEIGHBOUR_REFRESH_NS: u64 = 50_000_000_000;
/// An entry used for sending this recently is in use: nothing evicts it.
const NEIGHBOUR_IN_USE_NS: u64 = 10_000_000_000;
/// How long after a request an answer to it is taken.
const ANSWER_WINDOW_NS: u64 = 5_000_000_000;
/// How long a packet waits for its neighbour before it is dropped.
const PENDING_TTL_NS: u64 = 3_000_000_000;
/// Resolution requests are repeated at most this often per neighbour.
const SOLICIT_INTERVAL_NS: u64 = 1_000_000_000;
const NEIGHBOURS: usize = 64;
const PENDING: usize = 16;
/// TTL / hop limit of the packets the interface originates.
pub const HOP_LIMIT: u8 = 64;

pd_api::counters! {
    /// Counters of the link layer.
    pub struct LinkCounters {
        /// Frames received from the NIC.
        rx_frames,
        /// Frames sent to the NIC.
        tx_frames,
        /// ARP requests for our address answered.
        arp_replies,
        /// Neighbour solicitations for our address answered.
        ndp_adverts,
        /// ICMP echo requests to our address answered.
        echo_replies,
        /// Neighbour resolution requests sent.
        solicits_sent,
        /// ARP replies and neighbour advertisements nobody asked for (or too late): not learned,
        /// so they cannot poison the cache.
        drop_unsolicited_neighbour,
        /// An answer came while every cache entry was in use: its waiting packets went out, but
        /// it was not cached (nothing in use is evicted).
        drop_neighbour_cache_full,
        /// An answer that gave a neighbour still fresh in the cache another MAC: the cached one
        /// is kept until it expires (someone else answered for it).
        drop_neighbour_conflict,
        /// A resolution request not sent: 64 others were still waiting for their answers (a
        /// neighbour in the cache is always asked again).
        drop_solicit_full,
        /// Malformed Ethernet frame.
        drop_bad_frame,
        /// Unicast frame for another MAC.
        drop_other_mac,
        /// A unicast IP packet in a broadcast or multicast frame: neither forwarded nor served
        /// (RFC 1812 5.3.4, RFC 1122 3.3.6); a second router on the link would duplicate it.
        drop_unicast_in_group_frame,
        /// Neither ARP, IPv4 nor IPv6.
        drop_ethertype,
        /// Malformed ARP.
        drop_bad_arp,
        /// Malformed IPv4 header or checksum.
        drop_bad_ipv4,
        /// Malformed IPv6 header.
        drop_bad_ipv6,
        /// Malformed or unhandled ICMP to us, or an echo request from an address no host has.
        drop_bad_icmp,
        /// Traffic to us that nothing serves (MLD, router solicitations, other protocols), and
        /// ARP requests for other hosts' addresses.
        drop_ignored,
        /// An ARP reply for another host, or from off the link.
        drop_arp_not_ours,
        /// An echo request from off the link with no gateway of its family to answer through.
        drop_no_route_back,
        /// A neighbour never answered.
        drop_unresolved,
        /// The wait queue for unresolved neighbours was full.
        drop_pending_full,
        /// Echo replies to a neighbour not in the cache refused: they may hold half the queue of
        /// packets waiting for ARP/NDP (pings from many spoofed sources).
        drop_echo_no_room,
        /// The NIC ring was full.
        drop_nic_full,
        /// The NIC ring misbehaved.
        drop_nic_ring_error,
    }
}

/// Why a stack PD could not start.
#[derive(Debug)]
pub enum InitError {
    /// A required ring is missing or malformed.
    Link(&'static str, LinkError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Link(name, e) => write!(f, "link {name}: {e}"),
        }
    }
}

/// The rings of a stack PD: to its NIC, to crypto, and (only when `system.xml`
/// grants split tunnelling) the bypass link to the other stack PD.
pub struct StackLinks {
    /// Frames to and from the NIC PD.
    pub nic: Link,
    /// Packets or datagrams to and from crypto.
    pub crypto: Link,
    /// Clear packets to and from the other stack PD, if configured.
    pub bypass: Option<Link>,
}

impl StackLinks {
    /// Opens the links named `nic`, `crypto` and (optionally) `bypass` on the given channels.
    pub fn open(nic: Channel, crypto: Channel, bypass: Channel) -> Result<Self, InitError> {
        let nic = Link::open("nic", nic).map_err(|e| InitError::Link("nic", e))?;
        let crypto = Link::open("crypto", crypto).map_err(|e| InitError::Link("crypto", e))?;
        let bypass = match Link::open("bypass", bypass) {
            Ok(l) => Some(l),
            Err(LinkError::MissingRegion(_)) => None,
            Err(e) => return Err(InitError::Link("bypass", e)),
        };
        Ok(Self { nic, crypto, bypass })
    }
}

/// Whether every link a frame from the NIC may go out on has room (asking for a free signal on
/// those that do not): a stack PD reads its NIC input only then (backpressure).
pub fn nic_outputs_ready(nic: &Link, crypto: &Link, bypass: Option<&Link>) -> bool {
    nic.tx.ready() && crypto.tx.ready() && bypass.is_none_or(|b| b.tx.ready())
}

/// The end of one pass of a stack PD's `notified` loop: signals every peer that asked, arms
/// every input, and says whether input is waiting that can be handled now (the caller drains
/// again), or the PD may sleep. Input left behind a full output waits for that output's free
/// signal.
pub fn settle(nic: &mut Link, crypto: &mut Link, mut bypass: Option<&mut Link>) -> bool {
    nic.signal_peer();
    crypto.signal_peer();
    if let Some(b) = bypass.as_deref_mut() {
        b.signal_peer();
    }
    let nic_waiting = nic.arm();
    let crypto_waiting = crypto.arm();
    let bypass_waiting = bypass.as_deref_mut().is_some_and(|b| b.arm());
    (nic_waiting && nic_outputs_ready(nic, crypto, bypass.as_deref()))
        || ((crypto_waiting || bypass_waiting) && nic.tx.ready())
}

/// What became of a received frame.
#[derive(Debug)]
pub enum Received {
    /// Consumed here: ARP, NDP, an echo request to us (any reply was sent), or a
    /// counted drop.
    Handled,
    /// An IP packet not addressed to us: the PD routes it. The range is the IP
    /// packet within the frame buffer (Ethernet header and padding cut off).
    Forward(core::ops::Range<usize>),
    /// An IP packet to one of our addresses that the link layer does not serve
    /// (UDP, for instance): the PD decides.
    Local(core::ops::Range<usize>),
    /// An ICMPv6 "packet too big" to us about a UDP datagram we sent from `src_port` to
    /// `to`: the path to `to` carries at most `mtu` bytes (RFC 8201). The PD decides whether to
    /// believe it.
    PacketTooBig { to: Ipv6Addr, mtu: u32, src_port: u16 },
}

impl Received {
    /// The same, with packet ranges moved `by` bytes (past the Ethernet header).
    fn offset(self, by: usize) -> Self {
        match self {
            Received::Forward(r) => Received::Forward(by + r.start..by + r.end),
            Received::Local(r) => Received::Local(by + r.start..by + r.end),
            other => other,
        }
    }
}

#[derive(Clone, Copy)]
struct Neighbour {
    ip: IpAddr,
    mac: EthernetAddress,
    /// When it last answered us.
    heard_ns: u64,
    /// When a packet was last sent to it.
    used_ns: u64,
}

impl Neighbour {
    /// Whether this is `ip`'s entry and its answer is recent enough to send to.
    fn is_fresh(&self, ip: IpAddr, now_ns: u64) -> bool {
        self.ip == ip && now_ns.saturating_sub(self.heard_ns) < NEIGHBOUR_TTL_NS
    }
}

struct Pending {
    next_hop: IpAddr,
    queued_ns: u64,
    len: usize,
    packet: Box<[u8; SLOT_SIZE]>,
}

/// One Ethernet interface of a stack PD.
pub struct Iface {
    mac: EthernetAddress,
    v4: Option<(Ipv4Addr, u8)>,
    v6: Option<(Ipv6Addr, u8)>,
    /// Where packets to off-link addresses go (black's BlackGateway; red has none).
    gateway_v4: Option<Ipv4Addr>,
    gateway_v6: Option<Ipv6Addr>,
    neighbours: Vec<Neighbour>,
    pending: Vec<Pending>,
    /// When each neighbour was last asked for (to pace requests).
    solicited: Vec<(IpAddr, u64)>,
    /// The NIC PD's port page, where it says which MAC the NIC filters on and whether the link
    /// is up; and the link state last read from it.
    port: Option<PortPage>,
    link: Option<LinkInfo>,
    /// What the link layer did, and every drop by reason.
    pub counters: LinkCounters,
}

/// What [`Iface::follow_port`] found changed on the port page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortChange {
    /// The interface now uses the NIC's address (it differed from the one in use).
    pub mac: Option<[u8; 6]>,
    /// The link state changed (or was published for the first time).
    pub link: Option<LinkInfo>,
}

impl PortChange {
    /// Logs what changed, if anything.
    pub fn log(&self) {
        if let Some(m) = self.mac {
            pd_api::log!("using the NIC's address {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
        }
        match self.link {
            Some(LinkInfo { up: true, speed_mbps, .. }) => pd_api::log!("link up {speed_mbps} Mbit/s"),
            Some(LinkInfo { up: false, .. }) => pd_api::log!("link down: nothing can be sent or received on this side"),
            None => {}
        }
    }
}

/// The port page the NIC PD publishes for this stack PD (`setvar_vaddr="nic_port"`), if
/// system.xml maps one.
pub fn nic_port() -> Option<PortPage> {
    let region = pd_api::memory_region("nic_port")?;
    // SAFETY: the platform maps the region for the PD's whole life (read-only here); the NIC PD
    // writes it and both sides use only PortPage's atomic words.
    unsafe { PortPage::from_raw(region.base(), region.size()) }
}

fn checksums() -> ChecksumCapabilities {
    ChecksumCapabilities::default()
}

fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(o[13]), u16::from_be_bytes([o[14], o[15]]))
}

fn multicast_mac(ip: Ipv6Addr) -> EthernetAddress {
    let o = ip.octets();
    EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

fn prefix_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len.min(128))) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

impl Iface {
    /// An interface with `mac` and at most one IPv4 and one IPv6 address (with
    /// prefix lengths, which say which neighbours are on-link).
    pub fn new(mac: [u8; 6], v4: Option<(Ipv4Addr, u8)>, v6: Option<(Ipv6Addr, u8)>) -> Self {
        Self {
            mac: EthernetAddress(mac),
            v4,
            v6,
            gateway_v4: None,
            gateway_v6: None,
            neighbours: Vec::with_capacity(NEIGHBOURS),
            pending: Vec::with_capacity(PENDING),
            solicited: Vec::new(),
            port: None,
            link: None,
            counters: LinkCounters::default(),
        }
    }

    /// Follows the NIC PD's port page from now on (see [`Iface::follow_port`]), and adopts what
    /// it already says.
    pub fn attach_port(&mut self, port: Option<PortPage>) -> PortChange {
        self.port = port;
        self.follow_port()
    }

    /// Reads the port page (two atomic loads): takes the NIC's MAC if it publishes one that
    /// differs from ours (one MAC per port: the NIC filters on its own address, so that is the
    /// one to answer with), and records the link state. Call it on every notification.
    pub fn follow_port(&mut self) -> PortChange {
        let Some(info) = self.port.as_ref().map(PortPage::read) else { return PortChange::default() };
        let mut change = PortChange::default();
        if let Some(mac) = info.mac.filter(|&m| m != self.mac.0 && EthernetAddress(m).is_unicast()) {
            self.mac = EthernetAddress(mac);
            change.mac = Some(mac);
        }
        if info.link.is_some() && info.link != self.link {
            self.link = info.link;
            change.link = info.link;
        }
        change
    }

    /// The MAC the interface answers with and sends from.
    pub fn mac(&self) -> [u8; 6] {
        self.mac.0
    }

    /// The NIC's link state, if its PD publishes one (the host runtime's TAP devices do not).
    pub fn link(&self) -> Option<LinkInfo> {
        self.link
    }

    /// Reports what the port says: the MAC in use and the link, for a PD's status page.
    pub fn port_status(&self, report: &mut dyn FnMut(fmt::Arguments<'_>)) {
        let m = self.mac.0;
        let mac = format_args!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
        match self.link {
            Some(LinkInfo { up: true, speed_mbps, .. }) => report(format_args!("port {mac} link up {speed_mbps} Mbit/s")),
            Some(LinkInfo { up: false, .. }) => report(format_args!("port {mac} link DOWN")),
            None => report(format_args!("port {mac}")),
        }
    }

    /// An interface with `mac` and the first IPv4 and first IPv6 of `addresses`
    /// (address, prefix length), as a config file lists them.
    pub fn with_addresses(mac: [u8; 6], addresses: impl Iterator<Item = (IpAddr, u8)> + Clone) -> Self {
        let v4 = addresses.clone().find_map(|(a, l)| match a {
            IpAddr::V4(a) => Some((a, l)),
            _ => None,
        });
        let v6 = addresses.into_iter().find_map(|(a, l)| match a {
            IpAddr::V6(a) => Some((a, l)),
            _ => None,
        });
        Self::new(mac, v4, v6)
    }

    /// Our IPv4 address, if any.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        self.v4.map(|(a, _)| a)
    }

    /// Our IPv6 address, if any.
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        self.v6.map(|(a, _)| a)
    }

    /// Whether `ip` is one of our addresses.
    pub fn is_ours(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.ipv4() == Some(a),
            IpAddr::V6(a) => self.ipv6() == Some(a),
        }
    }

    /// Whether `ip` is on our link (inside one of our prefixes): the addresses a stack PD
    /// forwards to or from.
    pub fn is_on_link(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(_) => self.v4.is_some_and(|(a, l)| prefix_contains(IpAddr::V4(a), l, ip)),
            IpAddr::V6(_) => self.v6.is_some_and(|(a, l)| prefix_contains(IpAddr::V6(a), l, ip)),
        }
    }

    /// Whether `ip` may be a neighbour: on our link, or an IPv6 link-local address (fe80::/10,
    /// on every link: routers are often known by theirs) while we have IPv6. Packets are never
    /// forwarded to or from link-local addresses; the interface only talks to them (a gateway,
    /// a router's ping).
    fn is_neighbour_address(&self, ip: IpAddr) -> bool {
        self.is_on_link(ip) || matches!(ip, IpAddr::V6(a) if a.is_unicast_link_local() && self.v6.is_some())
    }

    /// Sends packets to off-link addresses through these gateways (each on the link).
    pub fn set_gateways(&mut self, v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) {
        self.gateway_v4 = v4;
        self.gateway_v6 = v6;
    }

    /// The on-link next hop toward `dst`: itself if on the link, else the gateway of its
    /// family, if any.
    pub fn next_hop(&self, dst: IpAddr) -> Option<IpAddr> {
        if self.is_neighbour_address(dst) {
            return Some(dst);
        }
        match dst {
            IpAddr::V4(_) => self.gateway_v4.map(IpAddr::V4),
            IpAddr::V6(_) => self.gateway_v6.map(IpAddr::V6),
        }
    }

    /// Handles one frame from the NIC (already copied into PD-private memory).
    pub fn receive(&mut self, frame: &[u8], nic: &mut Sender, now_ns: u64) -> Received {
        self.counters.rx_frames += 1;
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.counters.drop_bad_frame += 1;
            return Received::Handled;
        };
        let dst = eth.dst_addr();
        if dst != self.mac && !dst.is_broadcast() && !dst.is_multicast() {
            self.counters.drop_other_mac += 1;
            return Received::Handled;
        }
        let src_mac = eth.src_addr();
        let base = ETHERNET_HEADER_LEN;
        let group = dst != self.mac;
        match eth.ethertype() {
            EthernetProtocol::Arp => {
                self.receive_arp(eth.payload(), nic, now_ns);
                Received::Handled
            }
            EthernetProtocol::Ipv4 => self.receive_ipv4(eth.payload(), group, nic, now_ns).offset(base),
            EthernetProtocol::Ipv6 => self.receive_ipv6(eth.payload(), group, src_mac, nic, now_ns).offset(base),
            _ => {
                self.counters.drop_ethertype += 1;
                Received::Handled
            }
        }
    }

    fn receive_arp(&mut self, payload: &[u8], nic: &mut Sender, now_ns: u64) {
        let repr = match ArpPacket::new_checked(payload).and_then(|p| ArpRepr::parse(&p)) {
            Ok(ArpRepr::EthernetIpv4 {
                operation,
                source_hardware_addr,
                source_protocol_addr,
                target_protocol_addr,
                ..
            }) => (operation, source_hardware_addr, source_protocol_addr, target_protocol_addr),
            _ => {
                self.counters.drop_bad_arp += 1;
                return;
            }
        };
        let (op, sha, spa, tpa) = repr;
        let Some(our) = self.ipv4() else {
            self.counters.drop_ignored += 1;
            return;
        };
        if !sha.is_unicast() {
            self.counters.drop_bad_arp += 1;
            return;
        }
        // Learn only answers to our own requests, from on-link senders: a request, gratuitous
        // or not, or an unasked-for reply cannot poison the cache.
        if op == ArpOperation::Reply {
            if tpa == our && self.is_on_link(IpAddr::V4(spa)) {
                self.learn_answer(IpAddr::V4(spa), sha, now_ns, nic);
            } else {
                self.counters.drop_arp_not_ours += 1;
            }
        } else if op == ArpOperation::Request && tpa != our {
            self.counters.drop_ignored += 1;
        } else if op == ArpOperation::Request {
            let reply = ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: self.mac,
                source_protocol_addr: our,
                target_hardware_addr: sha,
                target_protocol_addr: spa,
            };
            if self.emit(nic, sha, EthernetProtocol::Arp, reply.buffer_len(), |b| {
                reply.emit(&mut ArpPacket::new_unchecked(b))
            }) {
                self.counters.arp_replies += 1;
            }
        } else {
            self.counters.drop_bad_arp += 1;
        }
    }

    /// An IPv4 packet; `group`: it came in a broadcast or multicast frame.
    fn receive_ipv4(&mut self, payload: &[u8], group: bool, nic: &mut Sender, now_ns: u64) -> Received {
        let Ok(pkt) = Ipv4Packet::new_checked(payload) else {
            self.counters.drop_bad_ipv4 += 1;
            return Received::Handled;
        };
        // The version must agree with the EtherType: otherwise later stages, which
        // read the version nibble, would treat the packet as another protocol.
        if pkt.version() != 4 || !pkt.verify_checksum() {
            self.counters.drop_bad_ipv4 += 1;
            return Received::Handled;
        }
        let total = usize::from(pkt.total_len());
        let dst = pkt.dst_addr();
        if dst.is_broadcast() || dst.is_multicast() || self.is_directed_broadcast(dst) {
            self.counters.drop_ignored += 1;
            return Received::Handled;
        }
        if group {
            self.counters.drop_unicast_in_group_frame += 1;
            return Received::Handled;
        }
        if Some(dst) != self.ipv4() {
            return Received::Forward(0..total);
        }
        if pkt.next_header() != IpProtocol::Icmp {
            return Received::Local(0..total);
        }
        let caps = checksums();
        let Ok(repr) = Ipv4Repr::parse(&pkt, &caps) else {
            self.counters.drop_bad_ipv4 += 1;
            return Received::Handled;
        };
        let icmp = Icmpv4Packet::new_checked(pkt.payload()).and_then(|p| Icmpv4Repr::parse(&p, &caps));
        match icmp {
            Ok(Icmpv4Repr::EchoRequest { ident, seq_no, data }) => {
                let reply = Icmpv4Repr::EchoReply { ident, seq_no, data };
                let ip = Ipv4Repr {
                    src_addr: dst,
                    dst_addr: repr.src_addr,
                    next_header: IpProtocol::Icmp,
                    payload_len: reply.buffer_len(),
                    hop_limit: HOP_LIMIT,
                };
                let mut out = [0u8; SLOT_SIZE];
                let n = ip.buffer_len() + reply.buffer_len();
                if n > out.len() {
                    self.counters.drop_bad_icmp += 1;
                    return Received::Handled;
                }
                {
                    let mut p = Ipv4Packet::new_unchecked(&mut out[..n]);
                    ip.emit(&mut p, &caps);
                    reply.emit(&mut Icmpv4Packet::new_unchecked(p.payload_mut()), &caps);
                }
                self.reply(nic, IpAddr::V4(repr.src_addr), &out[..n], now_ns);
                Received::Handled
            }
            _ => {
                self.counters.drop_bad_icmp += 1;
                Received::Handled
            }
        }
    }

    fn is_directed_broadcast(&self, ip: Ipv4Addr) -> bool {
        self.v4.is_some_and(|(a, l)| {
            l < 31 && prefix_contains(IpAddr::V4(a), l, IpAddr::V4(ip)) && u32::from(ip) | (u32::MAX << (32 - l)) == u32::MAX
        })
    }

    /// An IPv6 packet; `group`: it came in a broadcast or multicast frame.
    fn receive_ipv6(&mut self, payload: &[u8], group: bool, src_mac: EthernetAddress, nic: &mut Sender, now_ns: u64) -> Received {
        let Ok(pkt) = Ipv6Packet::new_checked(payload) else {
            self.counters.drop_bad_ipv6 += 1;
            return Received::Handled;
        };
        let Ok(repr) = Ipv6Repr::parse(&pkt) else {
            self.counters.drop_bad_ipv6 += 1;
            return Received::Handled;
        };
        let total = 40 + repr.payload_len;
        let dst = repr.dst_addr;
        let ours = Some(dst) == self.ipv6();
        let to_solicited = self.ipv6().is_some_and(|a| dst == solicited_node(a));
        if group && !dst.is_multicast() {
            self.counters.drop_unicast_in_group_frame += 1;
            return Received::Handled;
        }
        if !ours && !dst.is_multicast() {
            if dst.is_unicast_link_local() || repr.src_addr.is_unicast_link_local() {
                self.counters.drop_ignored += 1;
                return Received::Handled;
            }
            return Received::Forward(0..total);
        }
        if repr.next_header != IpProtocol::Icmpv6 {
            if ours {
                return Received::Local(0..total);
            }
            self.counters.drop_ignored += 1;
            return Received::Handled;
        }
        let caps = checksums();
        let icmp = Icmpv6Packet::new_checked(pkt.payload())
            .and_then(|p| Icmpv6Repr::parse(&repr.src_addr, &repr.dst_addr, &p, &caps));
        match icmp {
            Ok(Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target_addr, lladdr })) => {
                if Some(target_addr) != self.ipv6() || !(ours || to_solicited) {
                    self.counters.drop_ignored += 1;
                    return Received::Handled;
                }
                // Duplicate address detection (unspecified source) is not answered.
                if repr.src_addr.is_unspecified() {
                    self.counters.drop_ignored += 1;
                    return Received::Handled;
                }
                let their_mac = lladdr.and_then(lladdr_mac).unwrap_or(src_mac);
                if !their_mac.is_unicast() || repr.hop_limit != 255 {
                    self.counters.drop_bad_icmp += 1;
                    return Received::Handled;
                }
                // Answered without learning the sender: only answers to our own solicitations are.
                let advert = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
                    flags: NdiscNeighborFlags::SOLICITED | NdiscNeighborFlags::OVERRIDE,
                    target_addr,
                    lladdr: Some(RawHardwareAddress::from(self.mac)),
                });
                self.emit_icmpv6(nic, their_mac, target_addr, repr.src_addr, 255, &advert);
                self.counters.ndp_adverts += 1;
                Received::Handled
            }
            Ok(Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert { target_addr, lladdr, .. })) => {
                let mac = lladdr.and_then(lladdr_mac).unwrap_or(src_mac);
                if repr.hop_limit == 255 && mac.is_unicast() && self.is_neighbour_address(IpAddr::V6(target_addr)) {
                    self.learn_answer(IpAddr::V6(target_addr), mac, now_ns, nic);
                } else {
                    self.counters.drop_bad_icmp += 1;
                }
                Received::Handled
            }
            Ok(Icmpv6Repr::EchoRequest { ident, seq_no, data }) if ours => {
                let reply = Icmpv6Repr::EchoReply { ident, seq_no, data };
                let mut out = [0u8; SLOT_SIZE];
                let n = 40 + reply.buffer_len();
                if n > out.len() {
                    self.counters.drop_bad_icmp += 1;
                    return Received::Handled;
                }
                write_icmpv6(&mut out[..n], dst, repr.src_addr, HOP_LIMIT, &reply);
                self.reply(nic, IpAddr::V6(repr.src_addr), &out[..n], now_ns);
                Received::Handled
            }
            Ok(Icmpv6Repr::PktTooBig { mtu, header, data }) if ours && Some(header.src_addr) == self.ipv6() => {
                match quoted_udp_source_port(header.next_header, data) {
                    Some(src_port) => Received::PacketTooBig { to: header.dst_addr, mtu, src_port },
                    None => {
                        self.counters.drop_ignored += 1;
                        Received::Handled
                    }
                }
            }
            Ok(_) => {
                self.counters.drop_ignored += 1;
                Received::Handled
            }
            Err(_) => {
                self.counters.drop_bad_icmp += 1;
                Received::Handled
            }
        }
    }

    fn emit_icmpv6(&mut self, nic: &mut Sender, to: EthernetAddress, src: Ipv6Addr, dst: Ipv6Addr, hop: u8, icmp: &Icmpv6Repr) {
        let n = 40 + icmp.buffer_len();
        self.emit(nic, to, EthernetProtocol::Ipv6, n, |b| write_icmpv6(b, src, dst, hop, icmp));
    }

    /// An ARP reply or neighbour advertisement saying `ip` is at `mac`: learned if we asked for
    /// `ip` lately (the answer closes the request), else dropped and counted.
    fn learn_answer(&mut self, ip: IpAddr, mac: EthernetAddress, now_ns: u64, nic: &mut Sender) {
        let Some(k) = self.solicited.iter().position(|s| s.0 == ip && now_ns.saturating_sub(s.1) < ANSWER_WINDOW_NS) else {
            self.counters.drop_unsolicited_neighbour += 1;
            return;
        };
        // A refresh of an entry still fresh must give the MAC we have: whoever answers first for
        // a neighbour in use cannot take its traffic over (nor close the request the neighbour's
        // own answer is due to).
        if self.neighbours.iter().find(|n| n.is_fresh(ip, now_ns)).is_some_and(|n| n.mac != mac) {
            self.counters.drop_neighbour_conflict += 1;
            return;
        }
        self.solicited.swap_remove(k);
        self.learn(ip, mac, now_ns, nic);
    }

    /// Records that `ip` is at `mac` and sends whatever waited for it. A full cache gives up
    /// its least recently used entry, but never one in use ([`NEIGHBOUR_IN_USE_NS`]).
    fn learn(&mut self, ip: IpAddr, mac: EthernetAddress, now_ns: u64, nic: &mut Sender) {
        let entry = Neighbour { ip, mac, heard_ns: now_ns, used_ns: now_ns };
        if let Some(n) = self.neighbours.iter_mut().find(|n| n.ip == ip) {
            n.mac = mac;
            n.heard_ns = now_ns;
        } else if self.neighbours.len() < NEIGHBOURS {
            self.neighbours.push(entry);
        } else if let Some(idle) = self
            .neighbours
            .iter_mut()
            .filter(|n| now_ns.saturating_sub(n.used_ns) >= NEIGHBOUR_IN_USE_NS)
            .min_by_key(|n| n.used_ns)
        {
            *idle = entry;
        } else {
            self.counters.drop_neighbour_cache_full += 1;
        }
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].next_hop == ip {
                let p = self.pending.swap_remove(i);
                self.send_frame(nic, mac, &p.packet[..p.len]);
            } else {
                i += 1;
            }
        }
    }

    /// The MAC of on-link `ip`, if known and fresh, for sending to it now: marks the entry in
    /// use, and asks `ip` again once its answer is getting old, so that a neighbour in use
    /// never expires while it keeps answering.
    pub fn neighbour(&mut self, nic: &mut Sender, ip: IpAddr, now_ns: u64) -> Option<[u8; 6]> {
        let n = self.neighbours.iter_mut().find(|n| n.is_fresh(ip, now_ns))?;
        n.used_ns = now_ns;
        let (mac, stale) = (n.mac.0, now_ns.saturating_sub(n.heard_ns) >= NEIGHBOUR_REFRESH_NS);
        if stale {
            self.solicit(nic, ip, now_ns);
        }
        Some(mac)
    }

    /// Whether `ip` can be another host's unicast address: not in 0/8, loopback, multicast,
    /// IPv4's limited broadcast or our prefix's broadcast, IPv4-mapped or -compatible IPv6, our
    /// IPv6 prefix's subnet-router anycast address, nor one of ours. A packet
    /// from anything else is spoofed or misdirected, and an answer to it would go to a group,
    /// nowhere, or back to us.
    pub fn is_other_host(&self, ip: IpAddr) -> bool {
        let group_or_none = match ip {
            // 0/8: "this network", a source only while a host has no address (RFC 1122 3.2.1.3).
            IpAddr::V4(a) => a.octets()[0] == 0 || a.is_loopback() || a.is_broadcast() || a.is_multicast() || self.is_directed_broadcast(a),
            // IPv4-mapped and -compatible addresses never appear on the wire (RFC 4291 2.5.5);
            // our prefix's subnet-router anycast address (all-zero interface identifier, 2.6.1)
            // is no host's own.
            IpAddr::V6(a) => {
                a.is_unspecified()
                    || a.is_loopback()
                    || a.is_multicast()
                    || a.to_ipv4_mapped().is_some()
                    || a.segments()[..6] == [0; 6]
                    || self.v6.is_some_and(|(ours, l)| l < 127 && prefix_contains(IpAddr::V6(ours), l, ip) && u128::from(a) << l == 0)
            }
        };
        !group_or_none && !self.is_ours(ip)
    }

    /// Sends an answer (an echo reply) to `to`, through the gateway when `to` is off the link.
    /// A request from an address no other host has ([`Iface::is_other_host`]) is not answered.
    fn reply(&mut self, nic: &mut Sender, to: IpAddr, packet: &[u8], now_ns: u64) {
        if !self.is_other_host(to) {
            self.counters.drop_bad_icmp += 1;
            return;
        }
        let Some(hop) = self.next_hop(to) else {
            self.counters.drop_no_route_back += 1;
            return;
        };
        // An answer to a neighbour not in the cache waits for it, and asks for it first. Such
        // answers may take half the waiting queue only: pings from many (spoofed) sources must
        // not keep the stack's own traffic from waiting for its next hops. That also bounds the
        // requests they make (8 waiting answers, given up after 3 s, against 64 request records
        // kept 5 s), so they cannot keep those next hops from being asked for either.
        if !self.knows(hop, now_ns) && self.pending.len() >= PENDING / 2 {
            self.counters.drop_echo_no_room += 1;
            return;
        }
        self.counters.echo_replies += 1;
        self.send_ip(nic, hop, packet, now_ns);
    }

    /// Whether `ip` is one of the configured gateways.
    fn is_gateway(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.gateway_v4 == Some(a),
            IpAddr::V6(a) => self.gateway_v6 == Some(a),
        }
    }

    /// Packets [`Iface::send_ip`] can still hold while their next hops are resolved.
    pub fn pending_room(&self) -> usize {
        PENDING.saturating_sub(self.pending.len())
    }

    /// Whether `ip`'s MAC is known and fresh: a packet to it goes to the NIC ring now (and may
    /// be preceded there by a refresh request), not to the wait queue.
    pub fn knows(&self, ip: IpAddr, now_ns: u64) -> bool {
        self.neighbours.iter().any(|n| n.is_fresh(ip, now_ns))
    }

    /// Sends an IP packet to the on-link `next_hop`: at once if its MAC is known,
    /// otherwise after resolving it (the packet waits, a bounded while).
    pub fn send_ip(&mut self, nic: &mut Sender, next_hop: IpAddr, packet: &[u8], now_ns: u64) {
        if let Some(mac) = self.neighbour(nic, next_hop, now_ns) {
            self.send_frame(nic, EthernetAddress(mac), packet);
            return;
        }
        if self.pending.len() >= PENDING || packet.len() > SLOT_SIZE {
            self.counters.drop_pending_full += 1;
        } else {
            let mut buf = Box::new([0u8; SLOT_SIZE]);
            buf[..packet.len()].copy_from_slice(packet);
            self.pending.push(Pending { next_hop, queued_ns: now_ns, len: packet.len(), packet: buf });
        }
        self.solicit(nic, next_hop, now_ns);
    }

    /// Writes a frame around an IP packet straight into a NIC slot.
    fn send_frame(&mut self, nic: &mut Sender, to: EthernetAddress, packet: &[u8]) {
        let proto = if packet.first().is_some_and(|b| b >> 4 == 6) { EthernetProtocol::Ipv6 } else { EthernetProtocol::Ipv4 };
        self.emit(nic, to, proto, packet.len(), |b| b.copy_from_slice(packet));
    }

    /// Emits an Ethernet frame of `len` payload bytes written by `fill` into a NIC
    /// slot. Returns whether it was queued.
    pub fn emit(
        &mut self,
        nic: &mut Sender,
        to: EthernetAddress,
        ethertype: EthernetProtocol,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> bool {
        let mac = self.mac;
        let sent = nic.send_with(|slot| {
            let total = ETHERNET_HEADER_LEN + len;
            let buf = slot.get_mut(..total)?;
            let mut frame = EthernetFrame::new_unchecked(buf);
            EthernetRepr { src_addr: mac, dst_addr: to, ethertype }.emit(&mut frame);
            fill(frame.payload_mut());
            Some(total)
        });
        match sent {
            Ok(true) => {
                self.counters.tx_frames += 1;
                true
            }
            Ok(false) => {
                self.counters.drop_nic_full += 1;
                false
            }
            Err(_) => {
                self.counters.drop_nic_ring_error += 1;
                false
            }
        }
    }

    /// Asks who has `ip` (ARP or NDP), at most once per interval. Each request is recorded for
    /// [`ANSWER_WINDOW_NS`] (only answers to recorded requests are learned); a request for a
    /// new neighbour is not sent while 64 others are still within their window, so a flood of
    /// requests cannot push out the record of one whose answer is due. A neighbour in the
    /// cache, and a configured gateway (not yet in the cache after a start, or gone from it), is
    /// asked whatever that flood: its record is one of at most 66 more.
    fn solicit(&mut self, nic: &mut Sender, ip: IpAddr, now_ns: u64) {
        self.solicited.retain(|s| now_ns.saturating_sub(s.1) < ANSWER_WINDOW_NS);
        let known = self.solicited.iter().position(|s| s.0 == ip);
        let exempt = self.neighbours.iter().any(|n| n.ip == ip) || self.is_gateway(ip);
        match known {
            Some(k) if now_ns.saturating_sub(self.solicited[k].1) < SOLICIT_INTERVAL_NS => return,
            None if !exempt && self.solicited.len() >= NEIGHBOURS => {
                self.counters.drop_solicit_full += 1;
                return;
            }
            _ => {}
        }
        let sent = match ip {
            IpAddr::V4(target) => {
                let Some(our) = self.ipv4() else { return };
                let req = ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    source_hardware_addr: self.mac,
                    source_protocol_addr: our,
                    target_hardware_addr: EthernetAddress([0; 6]),
                    target_protocol_addr: target,
                };
                self.emit(nic, EthernetAddress::BROADCAST, EthernetProtocol::Arp, req.buffer_len(), |b| {
                    req.emit(&mut ArpPacket::new_unchecked(b))
                })
            }
            IpAddr::V6(target) => {
                let Some(our) = self.ipv6() else { return };
                let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
                    target_addr: target,
                    lladdr: Some(RawHardwareAddress::from(self.mac)),
                });
                let group = solicited_node(target);
                self.emit_icmpv6(nic, multicast_mac(group), our, group, 255, &ns);
                true
            }
        };
        if sent {
            self.counters.solicits_sent += 1;
            match known {
                Some(k) => self.solicited[k].1 = now_ns,
                None => self.solicited.push((ip, now_ns)),
            }
        }
    }

    /// Periodic work: drops packets whose neighbour never answered, asks again
    /// for the others.
    pub fn tick(&mut self, nic: &mut Sender, now_ns: u64) {
        let before = self.pending.len();
        self.pending.retain(|p| now_ns.saturating_sub(p.queued_ns) < PENDING_TTL_NS);
        self.counters.drop_unresolved += (before - self.pending.len()) as u64;
        let mut hops: [Option<IpAddr>; PENDING] = [None; PENDING];
        for (h, p) in hops.iter_mut().zip(&self.pending) {
            *h = Some(p.next_hop);
        }
        for hop in hops.into_iter().flatten() {
            self.solicit(nic, hop, now_ns);
        }
    }
}

/// The UDP source port in what an ICMPv6 error quotes after the IPv6 header whose next header is
/// `next_header`: the UDP header itself, or behind a Fragment header of a first fragment (a
/// datagram we fragmented; a later fragment quotes no UDP header). None for anything else.
fn quoted_udp_source_port(next_header: IpProtocol, data: &[u8]) -> Option<u16> {
    let udp = match next_header {
        IpProtocol::Udp => data,
        IpProtocol::Ipv6Frag => {
            // Next header, reserved, offset (13 bits) and flags, identification.
            let frag = data.get(..8)?;
            let offset = u16::from_be_bytes([frag[2], frag[3]]) >> 3;
            if IpProtocol::from(frag[0]) != IpProtocol::Udp || offset != 0 {
                return None;
            }
            &data[8..]
        }
        _ => return None,
    };
    Some(u16::from_be_bytes([*udp.first()?, *udp.get(1)?]))
}

/// The Ethernet address in an NDP link-layer address option.
fn lladdr_mac(l: RawHardwareAddress) -> Option<EthernetAddress> {
    let b: [u8; 6] = l.as_bytes().try_into().ok()?;
    Some(EthernetAddress(b))
}

fn write_icmpv6(buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, icmp: &Icmpv6Repr) {
    let ip = Ipv6Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::Icmpv6, payload_len: icmp.buffer_len(), hop_limit };
    let mut p = Ipv6Packet::new_unchecked(buf);
    ip.emit(&mut p);
    icmp.emit(&src, &dst, &mut Icmpv6Packet::new_unchecked(p.payload_mut()), &checksums());
}

/// Whether `ip` is link-local (IPv4 169.254.0.0/16, RFC 3927; IPv6 fe80::/10, RFC 4291): a
/// router forwards no packet from or to one.
pub fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => a.is_unicast_link_local(),
    }
}

/// Decrements the TTL (IPv4, fixing the checksum) or hop limit (IPv6) of a packet
/// being forwarded. Returns false if the packet must not be forwarded (it would
/// expire, or it is not a well-formed IP packet).
pub fn decrement_hop_limit(packet: &mut [u8]) -> bool {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let Ok(mut p) = Ipv4Packet::new_checked(&mut *packet) else { return false };
            let ttl = p.hop_limit();
            if ttl <= 1 {
                return false;
            }
            p.set_hop_limit(ttl - 1);
            p.fill_checksum();
            true
        }
        Some(6) => {
            let Ok(mut p) = Ipv6Packet::new_checked(&mut *packet) else { return false };
            let hl = p.hop_limit();
            if hl <= 1 {
                return false;
            }
            p.set_hop_limit(hl - 1);
            true
        }
        _ => false,
    }
}

/// Whether a checked IPv4 or IPv6 packet may be forwarded: its hop limit is above 1 (what
/// [`decrement_hop_limit`] checks, without changing the packet).
pub fn hop_limit_above_one(packet: &[u8]) -> bool {
    match packet.first().map(|b| b >> 4) {
        Some(4) => Ipv4Packet::new_checked(packet).is_ok_and(|p| p.hop_limit() > 1),
        Some(6) => Ipv6Packet::new_checked(packet).is_ok_and(|p| p.hop_limit() > 1),
        _ => false,
    }
}

/// Whether `packet` is an IPv4 packet with Don't Fragment set (false for anything else).
pub fn dont_fragment(packet: &[u8]) -> bool {
    packet.first().map(|b| b >> 4) == Some(4) && Ipv4Packet::new_checked(packet).is_ok_and(|p| p.dont_frag())
}

/// The source and destination addresses of an IP packet, checked.
pub fn ip_addresses(packet: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match packet.first()? >> 4 {
        4 => {
            let p = Ipv4Packet::new_checked(packet).ok()?;
            Some((IpAddr::V4(p.src_addr()), IpAddr::V4(p.dst_addr())))
        }
        6 => {
            let p = Ipv6Packet::new_checked(packet).ok()?;
            Some((IpAddr::V6(p.src_addr()), IpAddr::V6(p.dst_addr())))
        }
        _ => None,
    }
}

/// The length an IP packet claims for itself (checked against `packet`), so that
/// Ethernet padding or trailing garbage is cut off.
pub fn ip_len(packet: &[u8]) -> Option<usize> {
    match packet.first()? >> 4 {
        4 => Ipv4Packet::new_checked(packet).ok().map(|p| usize::from(p.total_len())),
        6 => Ipv6Packet::new_checked(packet).ok().map(|p| 40 + usize::from(p.payload_len())),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
