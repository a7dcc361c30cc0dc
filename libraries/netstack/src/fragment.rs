//! IP fragmentation, as a router (IPv4, RFC 791 §3.2) or a source host (IPv6, RFC 8200 §4.5)
//! does it: a packet larger than the next link's MTU leaves as several packets, each small
//! enough, that the destination puts back together.
//!
//! - net_red splits IPv4 packets without DF that do not fit the tunnel, before they are
//!   encrypted (each fragment becomes its own WireGuard packet);
//! - net_black splits outer datagrams that do not fit the black link (an `MTU` above what the
//!   black link carries after WireGuard's overhead).
//!
//! A fragmenter borrows the packet and writes one fragment at a time into a buffer the caller
//! gives (a ring slot), so nothing is allocated and no fragment is copied twice.

use smoltcp::wire::{IpProtocol, Ipv4Packet};

/// Why a packet cannot be fragmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentError {
    /// Not a well-formed IPv4 packet (header, options or lengths).
    Malformed,
    /// The Don't Fragment flag is set: the sender wants an ICMP error instead.
    DontFragment,
    /// The MTU leaves no room for 8 bytes of payload after the header.
    MtuTooSmall,
}

/// The smallest MTU every IPv4 link must carry (RFC 791): 60 bytes of header, 8 of data.
pub const IPV4_MIN_MTU: usize = 68;
/// The smallest MTU every IPv6 link must carry (RFC 8200 §5).
pub const IPV6_MIN_MTU: usize = 1280;
/// Length of the IPv6 fragment extension header.
pub const IPV6_FRAGMENT_HEADER_LEN: usize = 8;

/// Splits an IPv4 packet into fragments of at most `mtu` bytes.
///
/// The first fragment carries the whole header; later ones carry only the options whose
/// "copied" flag is set (RFC 791). Fragment offsets continue the packet's own, and the last
/// fragment keeps the packet's More Fragments flag, so a fragment can be split again.
pub struct Ipv4Fragmenter<'a> {
    packet: &'a [u8],
    header_len: usize,
    /// The header of the second and later fragments: the first 20 bytes and copied options.
    later_header: [u8; 60],
    later_header_len: usize,
    mtu: usize,
    /// Payload bytes already written into fragments.
    done: usize,
    finished: bool,
}

impl<'a> Ipv4Fragmenter<'a> {
    /// A fragmenter for `packet` (exactly one IPv4 packet: its total length is the slice's), or
    /// why it cannot be split for `mtu`.
    pub fn new(packet: &'a [u8], mtu: usize) -> Result<Self, FragmentError> {
        let p = Ipv4Packet::new_checked(packet).map_err(|_| FragmentError::Malformed)?;
        if p.version() != 4 || usize::from(p.total_len()) != packet.len() {
            return Err(FragmentError::Malformed);
        }
        if p.dont_frag() {
            return Err(FragmentError::DontFragment);
        }
        let header_len = usize::from(p.header_len());
        // Offsets continue the packet's own: a fragment claiming bytes past the largest
        // datagram (65 535) has no valid pieces (their offsets would not fit the field).
        if usize::from(p.frag_offset()) + (packet.len() - header_len) > usize::from(u16::MAX) {
            return Err(FragmentError::Malformed);
        }
        let mut later_header = [0u8; 60];
        later_header[..20].copy_from_slice(&packet[..20]);
        let mut later_header_len = 20;
        let options = &packet[20..header_len];
        let mut i = 0;
        while i < options.len() {
            let kind = options[i];
            let len = match kind {
                0 => break,
                1 => 1,
                _ => {
                    let len = usize::from(*options.get(i + 1).ok_or(FragmentError::Malformed)?);
                    if len < 2 || i + len > options.len() {
                        return Err(FragmentError::Malformed);
                    }
                    len
                }
            };
            if kind & 0x80 != 0 {
                later_header[later_header_len..later_header_len + len].copy_from_slice(&options[i..i + len]);
                later_header_len += len;
            }
            i += len;
        }
        // Pad with End of Option List to a whole number of 32-bit words (the buffer is zeroed).
        let later_header_len = later_header_len.next_multiple_of(4);
        if mtu < header_len + 8 || mtu < later_header_len + 8 {
            return Err(FragmentError::MtuTooSmall);
        }
        Ok(Self { packet, header_len, later_header, later_header_len, mtu, done: 0, finished: false })
    }

    fn payload(&self) -> &'a [u8] {
        &self.packet[self.header_len..]
    }

    /// Whether every fragment has been written.
    pub fn is_done(&self) -> bool {
        self.finished
    }

    /// The header length and payload bytes of the fragment that starts at payload offset
    /// `done`, and whether it is the last.
    fn next_chunk(&self, done: usize) -> (usize, usize, bool) {
        let header_len = if done == 0 { self.header_len } else { self.later_header_len };
        let room = self.mtu - header_len;
        let rest = self.payload().len() - done;
        if rest <= room {
            (header_len, rest, true)
        } else {
            (header_len, room & !7, false)
        }
    }

    /// How many fragments the packet makes in all.
    pub fn count(&self) -> usize {
        let (mut done, mut n) = (0, 0);
        loop {
            let (_, chunk, last) = self.next_chunk(done);
            n += 1;
            if last {
                return n;
            }
            done += chunk;
        }
    }

    /// Writes the next fragment into `buf` and returns its length, or None when all are written
    /// or `buf` is too small for the next one.
    pub fn write_next(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.finished {
            return None;
        }
        let (header_len, chunk, last) = self.next_chunk(self.done);
        let header = if self.done == 0 { &self.packet[..header_len] } else { &self.later_header[..header_len] };
        let total = header_len + chunk;
        let out = buf.get_mut(..total)?;
        out[..header_len].copy_from_slice(header);
        out[header_len..].copy_from_slice(&self.payload()[self.done..self.done + chunk]);
        let original = Ipv4Packet::new_unchecked(self.packet);
        let mut p = Ipv4Packet::new_unchecked(out);
        p.set_header_len(header_len as u8);
        p.set_total_len(total as u16);
        p.set_more_frags(!last || original.more_frags());
        p.set_frag_offset(original.frag_offset() + self.done as u16);
        p.fill_checksum();
        self.done += chunk;
        self.finished = last;
        Some(total)
    }
}

/// Splits an IPv6 packet that this host originates (a 40-byte header, no extension headers,
/// then the upper-layer payload) into fragments of at most `mtu` bytes with a Fragment header
/// carrying `ident`.
pub struct Ipv6Fragmenter<'a> {
    packet: &'a [u8],
    mtu: usize,
    ident: u32,
    done: usize,
    finished: bool,
}

impl<'a> Ipv6Fragmenter<'a> {
    /// A fragmenter for `packet`, or why it cannot be split for `mtu` (at least the IPv6 minimum).
    pub fn new(packet: &'a [u8], mtu: usize, ident: u32) -> Result<Self, FragmentError> {
        if packet.len() < 40 || packet[0] >> 4 != 6 || 40 + usize::from(u16::from_be_bytes([packet[4], packet[5]])) != packet.len() {
            return Err(FragmentError::Malformed);
        }
        if IpProtocol::from(packet[6]) == IpProtocol::Ipv6Frag {
            return Err(FragmentError::Malformed);
        }
        if mtu < IPV6_MIN_MTU {
            return Err(FragmentError::MtuTooSmall);
        }
        Ok(Self { packet, mtu, ident, done: 0, finished: false })
    }

    /// How many fragments the packet makes in all.
    pub fn count(&self) -> usize {
        (self.packet.len() - 40).div_ceil(self.chunk()).max(1)
    }

    fn chunk(&self) -> usize {
        (self.mtu - 40 - IPV6_FRAGMENT_HEADER_LEN) & !7
    }

    /// Whether every fragment has been written.
    pub fn is_done(&self) -> bool {
        self.finished
    }

    /// Writes the next fragment into `buf` and returns its length, or None when all are written
    /// or `buf` is too small for the next one.
    pub fn write_next(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.finished {
            return None;
        }
        let payload = &self.packet[40..];
        let rest = payload.len() - self.done;
        let (chunk, last) = if rest <= self.chunk() { (rest, true) } else { (self.chunk(), false) };
        let total = 40 + IPV6_FRAGMENT_HEADER_LEN + chunk;
        let out = buf.get_mut(..total)?;
        out[..40].copy_from_slice(&self.packet[..40]);
        out[4..6].copy_from_slice(&((IPV6_FRAGMENT_HEADER_LEN + chunk) as u16).to_be_bytes());
        out[6] = IpProtocol::Ipv6Frag.into();
        let offset_and_more = (self.done as u16) | u16::from(!last);
        out[40] = self.packet[6];
        out[41] = 0;
        out[42..44].copy_from_slice(&offset_and_more.to_be_bytes());
        out[44..48].copy_from_slice(&self.ident.to_be_bytes());
        out[48..].copy_from_slice(&payload[self.done..self.done + chunk]);
        self.done += chunk;
        self.finished = last;
        Some(total)
    }
}
