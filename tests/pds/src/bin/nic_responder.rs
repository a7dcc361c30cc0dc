//! The stack-side test peer of a NIC PD (tests/sel4/test_nic.py, platforms/sel4/bench-nic): on
//! the ring link "nic" (channel 0) it answers ARP requests and ICMP echo requests for its own
//! address, counts UDP datagrams to port [`COUNT_PORT`], and when a datagram to [`MARKER_PORT`]
//! arrives it prints its counts as `RESULT` lines, asks the NIC PD to print its counters
//! (channel [`NIC_REPORT`]) and sends [`BURST`] UDP frames back to the marker's sender, to port
//! [`BURST_PORT`].
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};
use pd_ring::{Link, RingError, SLOT_SIZE};
use sel4_test_pds::result;

const NIC: Channel = Channel::new(0);
const NIC_REPORT: Channel = Channel::new(1);
/// The responder's MAC address (the test gives QEMU's NIC the same one).
const OWN_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x4e, 0x49, 0x43];
/// The responder's IPv4 address.
const OWN_IP: [u8; 4] = [10, 77, 0, 2];
/// UDP port whose datagrams are counted.
const COUNT_PORT: u16 = 9000;
/// UDP port of the end-of-test marker.
const MARKER_PORT: u16 = 9001;
/// UDP port the burst goes to.
const BURST_PORT: u16 = 9002;
/// Frames in the burst sent after the marker.
const BURST: u64 = 1000;
/// Payload bytes of each burst datagram.
const BURST_PAYLOAD: usize = 64;

const ETH_ARP: u16 = 0x0806;
const ETH_IPV4: u16 = 0x0800;

struct Responder {
    link: Link,
    frame: [u8; SLOT_SIZE],
    udp_frames: u64,
    first_udp_ns: u64,
    last_udp_ns: u64,
    arp_replies: u64,
    echo_replies: u64,
    ignored: u64,
    reply_dropped: u64,
    ring_errors: u64,
    /// Where the burst goes (MAC, IP, source port of the marker) and how many frames are left.
    burst_to: Option<([u8; 6], [u8; 4])>,
    burst_left: u64,
    burst_sent: u64,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The Internet checksum (RFC 1071) of `bytes`.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = if pair.len() == 2 { u16::from_be_bytes([pair[0], pair[1]]) } else { u16::from(pair[0]) << 8 };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes an IPv4 header (20 bytes, no options) at `ip` for `payload_len` bytes of `proto`.
fn ipv4_header(ip: &mut [u8], proto: u8, src: [u8; 4], dst: [u8; 4], payload_len: usize) {
    let total = (20 + payload_len) as u16;
    ip[..20].copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let sum = checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
}

impl Responder {
    /// Handles one received frame of `len` bytes in `self.frame`.
    fn handle(&mut self, len: usize) {
        let f = &self.frame[..len];
        if len < 14 {
            self.ignored += 1;
            return;
        }
        match be16(f, 12) {
            ETH_ARP => self.arp(len),
            ETH_IPV4 => self.ipv4(len),
            _ => self.ignored += 1,
        }
    }

    fn arp(&mut self, len: usize) {
        let f = &self.frame[..len];
        // Ethernet/IPv4 request (opcode 1) for our address.
        if len < 42 || be16(f, 14) != 1 || be16(f, 16) != ETH_IPV4 || be16(f, 20) != 1 || f[38..42] != OWN_IP {
            self.ignored += 1;
            return;
        }
        let mut sender_mac = [0u8; 6];
        sender_mac.copy_from_slice(&f[22..28]);
        let mut sender_ip = [0u8; 4];
        sender_ip.copy_from_slice(&f[28..32]);
        let sent = self.link.tx.send_with(|out| {
            out[..42].fill(0);
            out[0..6].copy_from_slice(&sender_mac);
            out[6..12].copy_from_slice(&OWN_MAC);
            out[12..14].copy_from_slice(&ETH_ARP.to_be_bytes());
            out[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2]);
            out[22..28].copy_from_slice(&OWN_MAC);
            out[28..32].copy_from_slice(&OWN_IP);
            out[32..38].copy_from_slice(&sender_mac);
            out[38..42].copy_from_slice(&sender_ip);
            Some(60)
        });
        self.count_reply(sent, true);
    }

    fn count_reply(&mut self, sent: Result<bool, RingError>, arp: bool) {
        match sent {
            Ok(true) if arp => self.arp_replies += 1,
            Ok(true) => self.echo_replies += 1,
            Ok(false) => self.reply_dropped += 1,
            Err(_) => self.ring_errors += 1,
        }
    }

    fn ipv4(&mut self, len: usize) {
        let f = &self.frame[..len];
        if len < 34 || f[14] >> 4 != 4 || f[30..34] != OWN_IP {
            self.ignored += 1;
            return;
        }
        let header_len = usize::from(f[14] & 0x0f) * 4;
        let total = usize::from(be16(f, 16));
        if header_len < 20 || total < header_len || 14 + total > len {
            self.ignored += 1;
            return;
        }
        let l4 = 14 + header_len;
        let l4_len = total - header_len;
        match f[23] {
            1 if l4_len >= 8 && f[l4] == 8 => self.echo(l4, l4_len),
            17 if l4_len >= 8 => {
                let port = be16(f, l4 + 2);
                if port == COUNT_PORT {
                    let now = pd_api::now_ns();
                    if self.udp_frames == 0 {
                        self.first_udp_ns = now;
                    }
                    self.last_udp_ns = now;
                    self.udp_frames += 1;
                } else if port == MARKER_PORT {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&f[6..12]);
                    let mut ip = [0u8; 4];
                    ip.copy_from_slice(&f[26..30]);
                    self.marker(mac, ip);
                } else {
                    self.ignored += 1;
                }
            }
            _ => self.ignored += 1,
        }
    }

    /// Answers the echo request whose ICMP message is `l4..l4+l4_len` of `self.frame`.
    fn echo(&mut self, l4: usize, l4_len: usize) {
        let mut dst_mac = [0u8; 6];
        dst_mac.copy_from_slice(&self.frame[6..12]);
        let mut dst_ip = [0u8; 4];
        dst_ip.copy_from_slice(&self.frame[26..30]);
        let request = &self.frame[l4..l4 + l4_len];
        let sent = self.link.tx.send_with(|out| {
            let len = 34 + l4_len;
            if len > out.len() {
                return None;
            }
            out[0..6].copy_from_slice(&dst_mac);
            out[6..12].copy_from_slice(&OWN_MAC);
            out[12..14].copy_from_slice(&ETH_IPV4.to_be_bytes());
            ipv4_header(&mut out[14..34], 1, OWN_IP, dst_ip, l4_len);
            out[34..len].copy_from_slice(request);
            out[34] = 0; // echo reply
            out[36..38].fill(0);
            let sum = checksum(&out[34..len]);
            out[36..38].copy_from_slice(&sum.to_be_bytes());
            Some(len.max(60))
        });
        self.count_reply(sent, false);
    }

    fn marker(&mut self, mac: [u8; 6], ip: [u8; 4]) {
        result!("nic_responder_udp_frames", "{}", self.udp_frames);
        let elapsed = self.last_udp_ns.saturating_sub(self.first_udp_ns);
        let pps = if self.udp_frames > 1 && elapsed > 0 { (self.udp_frames - 1) * 1_000_000_000 / elapsed } else { 0 };
        result!("nic_responder_udp_pps", "{}", pps);
        result!("nic_responder_arp_replies", "{}", self.arp_replies);
        result!("nic_responder_echo_replies", "{}", self.echo_replies);
        result!("nic_responder_ignored", "{}", self.ignored);
        result!("nic_responder_reply_dropped", "{}", self.reply_dropped);
        result!("nic_responder_ring_errors", "{}", self.ring_errors);
        NIC_REPORT.notify();
        self.burst_to = Some((mac, ip));
        self.burst_left = BURST;
    }

    /// Sends what is left of the burst while the ring has room.
    fn burst(&mut self) {
        let Some((mac, ip)) = self.burst_to else { return };
        while self.burst_left > 0 && self.link.tx.ready() {
            let seq = self.burst_sent;
            let sent = self.link.tx.send_with(|out| {
                let udp_len = 8 + BURST_PAYLOAD;
                out[0..6].copy_from_slice(&mac);
                out[6..12].copy_from_slice(&OWN_MAC);
                out[12..14].copy_from_slice(&ETH_IPV4.to_be_bytes());
                ipv4_header(&mut out[14..34], 17, OWN_IP, ip, udp_len);
                out[34..36].copy_from_slice(&BURST_PORT.to_be_bytes());
                out[36..38].copy_from_slice(&BURST_PORT.to_be_bytes());
                out[38..40].copy_from_slice(&(udp_len as u16).to_be_bytes());
                out[40..42].fill(0); // no UDP checksum
                out[42..50].copy_from_slice(&seq.to_be_bytes());
                out[50..34 + udp_len].fill(0xa5);
                Some(34 + udp_len)
            });
            match sent {
                Ok(true) => {
                    self.burst_sent += 1;
                    self.burst_left -= 1;
                }
                _ => break,
            }
        }
        if self.burst_left == 0 {
            self.burst_to = None;
            result!("nic_responder_burst_sent", "{}", self.burst_sent);
        }
    }
}

impl Responder {
    /// Handles every frame waiting in the ring, then re-arms (the ring protocol's idle state).
    fn drain(&mut self) -> Result<(), RingError> {
        // Bounded: each round handles at most the ring's slots, and the PD yields after 64 rounds
        // (the NIC PD signals again for frames it queues later).
        for _ in 0..64 {
            let mut handled = 0;
            while handled < 256 {
                let Some(len) = self.link.rx.recv(&mut self.frame)? else { break };
                self.handle(len);
                handled += 1;
            }
            self.burst();
            self.link.signal_peer();
            if !self.link.arm() {
                break;
            }
        }
        Ok(())
    }
}

impl Handler for Responder {
    type Error = RingError;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), RingError> {
        self.drain()
    }
}

fn init() -> Responder {
    let link = Link::open("nic", NIC).expect("link nic is not mapped");
    let mut responder = Responder {
        link,
        frame: [0; SLOT_SIZE],
        udp_frames: 0,
        first_udp_ns: 0,
        last_udp_ns: 0,
        arp_replies: 0,
        echo_replies: 0,
        ignored: 0,
        reply_dropped: 0,
        ring_errors: 0,
        burst_to: None,
        burst_left: 0,
        burst_sent: 0,
    };
    // Frames the NIC PD queued before this PD started, then the idle state of the ring protocol
    // (a signal requested), which drain() ends in.
    if let Err(e) = responder.drain() {
        pd_api::log!("ring error at start: {e}");
    }
    responder
}

sel4_pd_runtime::protection_domain!(init);
