//! net_black: the ciphertext-side stack PD.
//!
//! It carries WireGuard messages between crypto and the network as UDP over
//! IPv4 or IPv6, answers ARP/NDP and ICMP echo for its own address, resolves
//! the gateway, and drops (and counts) everything else. With bypass configured
//! it also relays clear traffic between the network and net_red for the bypass
//! prefixes only. It never sees plaintext of tunnelled traffic or keys.

#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use encryptor_config::{BlackConfig, Prefix};
use pd_api::{Channel, ChannelSet, Handler};
use pd_netstack::{ip_addresses, ip_len, Iface, Received, StackLinks, HOP_LIMIT};
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
        /// Not for us, and no bypass rule covers it.
        drop_not_for_us,
        /// No route to the endpoint (off-link and no gateway of its family).
        drop_no_route,
        /// A message from crypto without a valid endpoint header.
        drop_bad_header,
        /// Not a well-formed IP packet (from net_red).
        drop_bad_ip,
        /// A bypass packet to a destination no bypass prefix covers.
        drop_bypass_destination,
        /// The ring towards crypto or net_red was full.
        drop_ring_full,
        /// A ring misbehaved.
        ring_errors,
    }
}

/// The net_black PD.
pub struct NetBlack {
    nic: Link,
    crypto: Link,
    bypass: Option<Link>,
    iface: Iface,
    config: BlackConfig,
    bypass_prefixes: Vec<Prefix>,
    /// The message being handled, copied out of its ring.
    buf: Box<[u8; SLOT_SIZE]>,
    /// Where datagrams are built when their next hop is still unresolved.
    out: Box<[u8; SLOT_SIZE]>,
    counters: Counters,
}

impl NetBlack {
    /// Builds the PD from its configuration and the rings the platform mapped.
    pub fn new(config: BlackConfig) -> Result<Self, InitError> {
        let StackLinks { nic, crypto, bypass } = StackLinks::open(NIC, CRYPTO, BYPASS)?;
        Ok(Self {
            nic,
            crypto,
            bypass,
            iface: Iface::with_addresses(config.mac, config.addresses.iter().map(|p| (p.addr, p.len))),
            bypass_prefixes: config.bypass.clone(),
            config,
            buf: Box::new([0; SLOT_SIZE]),
            out: Box::new([0; SLOT_SIZE]),
            counters: Counters::default(),
        })
    }

    fn next_hop(&self, dst: IpAddr) -> Option<IpAddr> {
        if self.iface.is_on_link(dst) {
            return Some(dst);
        }
        match dst {
            IpAddr::V4(_) => self.config.gateway_v4.map(IpAddr::V4),
            IpAddr::V6(_) => self.config.gateway_v6.map(IpAddr::V6),
        }
    }

    fn in_bypass(&self, ip: IpAddr) -> bool {
        self.bypass.is_some() && self.bypass_prefixes.iter().any(|p| p.contains(ip))
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
                Received::Local(r) => self.local(r),
                Received::Forward(r) => {
                    let packet = &self.buf[r];
                    match ip_addresses(packet) {
                        Some((src, _)) if self.in_bypass(src) => {
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

    /// A packet to our own address: only UDP to the WireGuard port goes on, to crypto.
    fn local(&mut self, range: core::ops::Range<usize>) {
        let packet = &self.buf[range];
        let caps = ChecksumCapabilities::default();
        let (src, dst, proto, payload) = match packet[0] >> 4 {
            4 => {
                let Ok(p) = Ipv4Packet::new_checked(packet) else { return self.counters.drop_bad_udp += 1 };
                if p.more_frags() || p.frag_offset() != 0 {
                    return self.counters.drop_not_wireguard += 1;
                }
                let hl = usize::from(p.header_len());
                (IpAddress::Ipv4(p.src_addr()), IpAddress::Ipv4(p.dst_addr()), p.next_header(), &packet[hl..])
            }
            _ => {
                let Ok(p) = Ipv6Packet::new_checked(packet) else { return self.counters.drop_bad_udp += 1 };
                (IpAddress::Ipv6(p.src_addr()), IpAddress::Ipv6(p.dst_addr()), p.next_header(), &packet[40..])
            }
        };
        if proto != IpProtocol::Udp {
            return self.counters.drop_not_wireguard += 1;
        }
        let Ok(udp) = UdpPacket::new_checked(payload) else { return self.counters.drop_bad_udp += 1 };
        let Ok(repr) = UdpRepr::parse(&udp, &src, &dst, &caps) else { return self.counters.drop_bad_udp += 1 };
        if repr.dst_port != self.config.listen_port {
            return self.counters.drop_not_wireguard += 1;
        }
        let data = udp.payload();
        let from = SocketAddr::new(IpAddr::from(src), repr.src_port);
        let sent = self.crypto.tx.send_with(|slot| {
            let total = ENDPOINT_HEADER_LEN + data.len();
            let buf = slot.get_mut(..total)?;
            EndpointHeader(from).emit(buf);
            buf[ENDPOINT_HEADER_LEN..].copy_from_slice(data);
            Some(total)
        });
        match sent {
            Ok(true) => self.counters.to_crypto += 1,
            Ok(false) => self.counters.drop_ring_full += 1,
            Err(_) => self.counters.ring_errors += 1,
        }
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
            let src = match to.ip() {
                IpAddr::V4(_) => self.iface.ipv4().map(IpAddr::V4),
                IpAddr::V6(_) => self.iface.ipv6().map(IpAddr::V6),
            };
            let (Some(src), Some(hop)) = (src, self.next_hop(to.ip())) else {
                self.counters.drop_no_route += 1;
                continue;
            };
            let src = SocketAddr::new(src, self.config.listen_port);
            let ip_len = ip_header_len(to.ip()) + UDP_HEADER_LEN + payload.len();
            if let Some(mac) = self.iface.neighbour(hop, now) {
                // Fast path: build the datagram straight into the NIC slot.
                let proto = if to.is_ipv4() { EthernetProtocol::Ipv4 } else { EthernetProtocol::Ipv6 };
                if self.iface.emit(&mut self.nic.tx, EthernetAddress(mac), proto, ip_len, |b| write_udp(b, src, to, payload)) {
                    self.counters.from_crypto += 1;
                }
            } else if ip_len <= SLOT_SIZE {
                write_udp(&mut self.out[..ip_len], src, to, payload);
                self.iface.send_ip(&mut self.nic.tx, hop, &self.out[..ip_len], now);
                self.counters.from_crypto += 1;
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
            let Some((_, dst)) = ip_addresses(&self.buf[..n]) else {
                self.counters.drop_bad_ip += 1;
                continue;
            };
            if !self.bypass_prefixes.iter().any(|p| p.contains(dst)) {
                self.counters.drop_bypass_destination += 1;
                continue;
            }
            let Some(hop) = self.next_hop(dst) else {
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

/// Writes IP + UDP headers and `payload` into `buf` (exactly the packet's length).
/// The IPv4 UDP checksum is left zero, which RFC 768 allows and WireGuard's own
/// authentication makes redundant; IPv6 requires it, so it is computed there.
fn write_udp(buf: &mut [u8], src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
    let caps = ChecksumCapabilities::default();
    let udp_len = UDP_HEADER_LEN + payload.len();
    let udp = UdpRepr { src_port: src.port(), dst_port: dst.port() };
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let ip = Ipv4Repr { src_addr: s, dst_addr: d, next_header: IpProtocol::Udp, payload_len: udp_len, hop_limit: HOP_LIMIT };
            let mut p = Ipv4Packet::new_unchecked(buf);
            ip.emit(&mut p, &caps);
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
        if channels.contains(TIMER) {
            self.iface.tick(&mut self.nic.tx, now);
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
        self.counters.report(report);
    }
}
