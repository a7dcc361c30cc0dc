//! The encryptor's configuration file.
//!
//! One file per encryptor, in WireGuard's own format (`[Interface]`, `[Peer]`)
//! plus an `[Encryptor]` section for what WireGuard has no words for (the
//! red and black addresses, the black gateway, split-tunnel rules, MACs).
//! [`Config::parse`] reads it and rejects every malformed value with a
//! [`ConfigError`] naming the line and the key; [`Config::into_parts`] splits
//! the result so that key material goes only to the crypto PD
//! ([`CryptoConfig`]) and addresses only to the stack PDs ([`RedConfig`],
//! [`BlackConfig`]).
//!
//! The crate is `no_std` + `alloc`: it runs inside bare-metal seL4 PDs. It
//! never panics on any input.

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

use zeroize::Zeroize;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

pub use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
pub use keys::without_keys;

mod keys;
mod parse;
mod region;
mod table;
pub use table::PrefixTable;
pub use region::{parse_region, read_config, ConfigProblem, StartError, CONFIG_REGION};
pub use parse::PublicKeyText;
#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------
// Prefixes and rules
// ---------------------------------------------------------------------------

/// An address prefix (network + length), e.g. 10.2.0.0/24. `addr` is kept as
/// written (host bits allowed in RedAddress/BlackAddress, where it is the
/// interface address).
///
/// A `Prefix` built by hand with `len` above the family's width (32 or 128)
/// behaves as a full-length prefix; nothing panics.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

/// Error of `Prefix::from_str`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ParsePrefixError;

impl fmt::Display for ParsePrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid address prefix (expected e.g. 10.0.0.0/8 or fd00::/64)")
    }
}

fn mask_v4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

fn mask_v6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

impl Prefix {
    /// `addr/len`, or `None` if `len` exceeds the family's width.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        if len <= Self::max_len(addr) {
            Some(Prefix { addr, len })
        } else {
            None
        }
    }

    /// 32 for IPv4, 128 for IPv6.
    pub fn max_len(addr: IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// Whether `ip` lies in this prefix: the family must match, and the first
    /// `len` bits must be equal.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u32::from(a) ^ u32::from(b)) & mask_v4(self.len) == 0
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                (u128::from(a) ^ u128::from(b)) & mask_v6(self.len) == 0
            }
            _ => false,
        }
    }

    /// The same prefix with the host bits cleared (and `len` clamped to the
    /// family's width).
    pub fn network(&self) -> Prefix {
        let len = self.len.min(Self::max_len(self.addr));
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask_v4(len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask_v6(len))),
        };
        Prefix { addr, len }
    }
}

impl FromStr for Prefix {
    type Err = ParsePrefixError;

    /// `"10.0.0.0/8"`, `"fd00::/64"`; a bare address means /32 or /128. The
    /// length is 1 to 3 decimal digits, no sign, no spaces.
    fn from_str(s: &str) -> Result<Prefix, ParsePrefixError> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| ParsePrefixError)?;
        let max = Self::max_len(addr);
        let len = match l {
            None => max,
            Some(l) => {
                if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParsePrefixError);
                }
                let n: u16 = l.parse().map_err(|_| ParsePrefixError)?;
                if n > u16::from(max) {
                    return Err(ParsePrefixError);
                }
                n as u8
            }
        };
        Ok(Prefix { addr, len })
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// What net_red does with a packet to a destination.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    /// Encrypt and send through the tunnel.
    Tunnel,
    /// Forward in clear between red and black (split tunnel).
    Bypass,
    /// Drop.
    Drop,
}

/// One routing rule of net_red.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Rule {
    pub prefix: Prefix,
    pub action: Action,
}

/// Which of two actions given for the same prefix wins: fail-closed, Drop over Tunnel over
/// Bypass.
fn rank(a: Action) -> u8 {
    match a {
        Action::Bypass => 0,
        Action::Tunnel => 1,
        Action::Drop => 2,
    }
}

/// Longest-prefix match over rules; None when nothing matches (callers treat
/// None as Drop). A scan of every rule: the definition [`rule_table`]'s table
/// is checked against; the PDs look up in that table.
///
/// Two matching rules of the same length (only possible in hand-built rule
/// sets: [`Config::parse`] rejects them) resolve fail-closed:
/// Drop over Tunnel over Bypass.
pub fn lookup(rules: &[Rule], ip: IpAddr) -> Option<Action> {
    let mut best: Option<(u8, Action)> = None;
    for r in rules {
        if !r.prefix.contains(ip) {
            continue;
        }
        let len = r.prefix.len.min(Prefix::max_len(r.prefix.addr));
        best = match best {
            Some((bl, ba)) if bl > len || (bl == len && rank(ba) >= rank(r.action)) => {
                Some((bl, ba))
            }
            _ => Some((len, r.action)),
        };
    }
    best.map(|(_, a)| a)
}

/// The cryptokey routing table of crypto and its workers: each peer's AllowedIPs → its index, in
/// the order given (a network given to two peers, which [`Config::parse`] refuses, goes to the
/// first).
pub fn cryptokey_routes<'a>(allowed_ips: impl IntoIterator<Item = &'a [Prefix]>) -> PrefixTable<usize> {
    PrefixTable::new(allowed_ips.into_iter().enumerate().flat_map(|(i, p)| p.iter().map(move |&a| (a, i))), |first, _| first)
}

/// `rules` as a table: [`PrefixTable::get`] answers as [`lookup`] does (ties
/// fail closed), in a few probes instead of a scan.
pub fn rule_table(rules: &[Rule]) -> PrefixTable<Action> {
    PrefixTable::new(rules.iter().map(|r| (r.prefix, r.action)), |a, b| {
        if rank(a) >= rank(b) {
            a
        } else {
            b
        }
    })
}

// ---------------------------------------------------------------------------
// The configuration
// ---------------------------------------------------------------------------

/// An Ethernet MAC address.
pub type Mac = [u8; 6];

/// Everything, as parsed. Split it with [`Config::into_parts`] so each PD gets
/// only its share.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Config {
    /// Distinct AllowedIPs networks and explicit rules (Tunnel, Bypass, Drop): what the heap of
    /// every PD that reads this config grows with, beside the peers (system.xml's
    /// `heap_per_prefix`, counted by the seL4 root task).
    pub prefixes: usize,
    pub crypto: CryptoConfig,
    pub red: RedConfig,
    pub black: BlackConfig,
}

/// Only the crypto PD ever receives this (it holds the keys). Its `Debug`
/// output does not show the private or preshared keys.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoConfig {
    pub private_key: [u8; 32],
    pub listen_port: u16,
    /// `[Interface] MTU`: crypto pads plaintext to a multiple of 16 bytes up to it.
    pub mtu: u16,
    pub peers: Vec<PeerConfig>,
}

/// Key material is wiped when the configuration that held it goes (the crypto PD keeps its keys
/// in boringtun's own types, which wipe themselves too).
impl Drop for CryptoConfig {
    fn drop(&mut self) {
        self.private_key.zeroize();
    }
}

/// One `[Peer]`. Its `Debug` output does not show the preshared key.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub public_key: [u8; 32],
    pub preshared_key: Option<[u8; 32]>,
    pub endpoint: Option<SocketAddr>,
    /// As `network()` (host bits cleared), in file order, without repeats.
    pub allowed_ips: Vec<Prefix>,
    /// None when absent, 0 or `off`.
    pub persistent_keepalive: Option<u16>,
}

impl Drop for PeerConfig {
    fn drop(&mut self) {
        if let Some(psk) = self.preshared_key.as_mut() {
            psk.zeroize();
        }
    }
}

/// Plaintext-side stack PD (net_red): no key material.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RedConfig {
    /// Interface addresses as written (v4 and v6), in file order.
    pub addresses: Vec<Prefix>,
    pub mac: Mac,
    /// Tunnel/Bypass/Drop rules, prefixes as `network()`; for [`lookup`].
    pub rules: Vec<Rule>,
    /// `[Interface] MTU`: the largest inner packet the tunnel carries whole (IPv6: at least
    /// [`IPV6_MIN_MTU`]).
    pub mtu: u16,
    /// `[Encryptor] MssClamp`.
    pub mss_clamp: MssClamp,
}

/// wg-quick's default tunnel MTU: a 1500-byte link less WireGuard over IPv6's 80 bytes.
pub const DEFAULT_MTU: u16 = 1420;
/// Smallest `MTU` accepted: the datagram size every IPv4 host must accept (RFC 791).
pub const MIN_MTU: u16 = 576;
/// Largest `MTU` accepted: the PCs' Ethernet MTU (bigger packets cannot arrive).
pub const MAX_MTU: u16 = 1500;
/// The minimum MTU of an IPv6 link (RFC 8200): the tunnel carries IPv6 packets this large
/// whatever `MTU` says, and never asks a sender for less.
pub const IPV6_MIN_MTU: u16 = 1280;
/// Range of a numeric `MssClamp`: IPv4's default MSS to a 1500-byte MTU's.
pub const MIN_MSS: u16 = 536;
/// See [`MIN_MSS`].
pub const MAX_MSS: u16 = 1460;

/// `[Encryptor] MssClamp`: how net_red lowers the MSS of TCP SYNs through the tunnel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MssClamp {
    /// What fits the tunnel MTU: MTU − 40 (IPv4), max(MTU, 1280) − 60 (IPv6). The default.
    Auto,
    /// No clamping.
    Off,
    /// At most this, for both families.
    Fixed(u16),
}

impl RedConfig {
    /// The tunnel MTU for an IPv4 (`ipv6` false) or IPv6 packet.
    pub fn tunnel_mtu(&self, ipv6: bool) -> u16 {
        if ipv6 {
            self.mtu.max(IPV6_MIN_MTU)
        } else {
            self.mtu
        }
    }

    /// The MSS limits (IPv4, IPv6) that `MssClamp` asks for, or None for `off`.
    pub fn mss_limits(&self) -> Option<(u16, u16)> {
        match self.mss_clamp {
            MssClamp::Auto => Some((self.tunnel_mtu(false) - 40, self.tunnel_mtu(true) - 60)),
            MssClamp::Off => None,
            MssClamp::Fixed(m) => Some((m, m)),
        }
    }
}

/// Ciphertext-side stack PD (net_black): no key material.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BlackConfig {
    /// Interface addresses as written (v4 and v6), in file order.
    pub addresses: Vec<Prefix>,
    pub gateway_v4: Option<Ipv4Addr>,
    pub gateway_v6: Option<Ipv6Addr>,
    pub mac: Mac,
    pub listen_port: u16,
    /// The forwarding rules, as net_red has them ([`RedConfig::rules`]): net_black forwards a
    /// packet from or to the bypass link only if its address's longest rule is Bypass, the same
    /// decision net_red makes (a Tunnel rule inside a Bypass one wins on both sides).
    pub rules: Vec<Rule>,
}

impl Config {
    /// Parses a whole file. Never panics.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        parse::parse(text)
    }

    /// Splits the configuration into each PD's share.
    pub fn into_parts(self) -> (CryptoConfig, RedConfig, BlackConfig) {
        (self.crypto, self.red, self.black)
    }
}

impl fmt::Debug for CryptoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoConfig")
            .field("private_key", &"<redacted>")
            .field("listen_port", &self.listen_port)
            .field("mtu", &self.mtu)
            .field("peers", &self.peers)
            .finish()
    }
}

impl fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerConfig")
            .field("public_key", &HexKey(&self.public_key))
            .field("preshared_key", &self.preshared_key.map(|_| "<redacted>"))
            .field("endpoint", &self.endpoint)
            .field("allowed_ips", &self.allowed_ips)
            .field("persistent_keepalive", &self.persistent_keepalive)
            .finish()
    }
}

struct HexKey<'a>(&'a [u8; 32]);

impl fmt::Debug for HexKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A rejected file: says the line number (1-based; 0 for something missing
/// from the whole file), the key (or section, written `[Peer]`) and what is
/// wrong.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConfigError {
    pub line: usize,
    pub key: String,
    pub kind: ErrorKind,
}

/// What is wrong. Where a variant carries a `String`, it is the offending
/// value as written (cut to 64 characters); key values (`BadKey`) are never
/// echoed, nor are the rest of lines that fail to parse as `Key = Value`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// A `[...]` line that is not `[Interface]`, `[Peer]` or `[Encryptor]`
    /// (key: the line as written).
    UnknownSection,
    /// `[Interface]` or `[Encryptor]` given a second time.
    DuplicateSection { first_line: usize },
    /// A `Key = Value` line before any section header.
    KeyOutsideSection,
    /// A line that is neither a section header nor `Key = Value` (key: its
    /// first word).
    MissingEquals,
    /// A key this section does not know (`section` is e.g. "[Peer]").
    UnknownKey { section: &'static str },
    /// A single-valued key given twice in one section.
    Duplicate { first_line: usize },
    /// Not 32 bytes in canonical base64 (44 characters ending in `=`).
    BadKey,
    /// Not a port 1-65535.
    BadPort(String),
    /// Not an IP address, or one that cannot be an interface address or
    /// gateway (unspecified, multicast).
    BadAddress(String),
    /// Not `address/length` (or a bare address), or a length too long for
    /// the family; also a /0 interface address.
    BadPrefix(String),
    /// Not `IPv4:port` or `[IPv6]:port` with port 1-65535 and a unicast
    /// address (host names are not resolved).
    BadEndpoint(String),
    /// Not 0-65535 or `off`.
    BadKeepalive(String),
    /// Not six hex pairs separated by `:` or `-`, or not a unicast address.
    BadMac(String),
    /// An `MTU` outside [`MIN_MTU`]..=[`MAX_MTU`].
    BadMtu(String),
    /// An `MssClamp` other than `auto`, `off` or [`MIN_MSS`]..=[`MAX_MSS`].
    BadMssClamp(String),
    /// A second RedAddress (or BlackAddress) of one IP family: each side has one address of
    /// each (line: the second one).
    SecondAddress { first_line: usize },
    /// A BlackGateway of a family no BlackAddress has.
    GatewayFamily,
    /// A BlackGateway off the black link: outside its BlackAddress's prefix (and, for IPv6, not
    /// link-local), that address itself, or an IPv4 prefix's network or broadcast address.
    /// Neighbour resolution would never reach it.
    GatewayOffLink,
    /// A peer Endpoint of a family no BlackAddress has.
    EndpointFamily,
    /// The same prefix given two different actions (Tunnel/Bypass/Drop).
    ConflictingRule { first_line: usize },
    /// A required key absent (line: its section header; key: the section) or
    /// a required section absent (line 0; key and payload: the section).
    Missing(&'static str),
    /// The same PublicKey in two peers (line and key: the second one).
    DuplicatePeer { first_line: usize },
    /// A peer's PublicKey that is no public key: all zeros, or a secret of this file (its
    /// PrivateKey or a PresharedKey, pasted in the wrong place).
    NotAPublicKey,
    /// The same prefix in two peers' AllowedIPs (line: the second one).
    OverlappingAllowedIps { first_line: usize },
    /// No `[Peer]` section at all (line 0).
    NoPeers,
    /// A control character other than a tab in a line (a lone carriage return, a form feed,
    /// a NUL).
    ControlCharacter,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnknownSection => {
                f.write_str("unknown section (expected [Interface], [Peer] or [Encryptor])")
            }
            ErrorKind::DuplicateSection { first_line } => {
                write!(f, "section given twice (first on line {first_line})")
            }
            ErrorKind::KeyOutsideSection => f.write_str("key before any [section] header"),
            ErrorKind::MissingEquals => f.write_str("expected `Key = Value` or a [section] header"),
            ErrorKind::UnknownKey { section } => write!(f, "unknown key in {section}"),
            ErrorKind::Duplicate { first_line } => {
                write!(f, "given twice (first on line {first_line})")
            }
            ErrorKind::BadKey => f.write_str(
                "must be 32 bytes in base64, 44 characters ending in '=' (value not shown)",
            ),
            ErrorKind::BadPort(v) => write!(f, "port must be 1-65535, got {v:?}"),
            ErrorKind::BadAddress(v) => {
                write!(f, "must be a unicast IPv4 or IPv6 address, got {v:?}")
            }
            ErrorKind::BadPrefix(v) => write!(
                f,
                "must be address/length such as 10.0.0.0/24 or fd00::/64, got {v:?}"
            ),
            ErrorKind::BadEndpoint(v) => write!(
                f,
                "must be IPv4:port or [IPv6]:port with port 1-65535 (no host names), got {v:?}"
            ),
            ErrorKind::BadKeepalive(v) => {
                write!(f, "must be 0-65535 seconds or \"off\", got {v:?}")
            }
            ErrorKind::BadMac(v) => {
                write!(
                    f,
                    "must be a unicast MAC such as 02:00:00:00:01:01, got {v:?}"
                )
            }
            ErrorKind::BadMtu(v) => write!(f, "must be {MIN_MTU}-{MAX_MTU} bytes, got {v:?}"),
            ErrorKind::BadMssClamp(v) => {
                write!(f, "must be auto, off or {MIN_MSS}-{MAX_MSS} bytes, got {v:?}")
            }
            ErrorKind::SecondAddress { first_line } => write!(
                f,
                "a side has one address of each IP family; this family's is on line {first_line}"
            ),
            ErrorKind::GatewayFamily => {
                f.write_str("no BlackAddress of the same IP family as this gateway")
            }
            ErrorKind::GatewayOffLink => f.write_str(
                "the gateway must be a host on the black link: inside the BlackAddress's prefix \
                 (or IPv6 link-local, fe80::/10), not that address, nor its network or broadcast address",
            ),
            ErrorKind::EndpointFamily => {
                f.write_str("no BlackAddress of the same IP family as this endpoint")
            }
            ErrorKind::ConflictingRule { first_line } => write!(
                f,
                "the same prefix is given another action on line {first_line}"
            ),
            ErrorKind::Missing(what) if what.starts_with('[') => {
                write!(f, "the {what} section is missing")
            }
            ErrorKind::Missing(what) => write!(f, "missing {what}"),
            ErrorKind::NotAPublicKey => f.write_str(
                "this is no peer's public key: it is all zeros, or this file's PrivateKey or a PresharedKey (a secret pasted in the wrong place)",
            ),
            ErrorKind::DuplicatePeer { first_line } => {
                write!(f, "this PublicKey is already a peer (line {first_line})")
            }
            ErrorKind::OverlappingAllowedIps { first_line } => write!(
                f,
                "this prefix is already allowed for another peer (line {first_line})"
            ),
            ErrorKind::NoPeers => f.write_str("at least one [Peer] section is required"),
            ErrorKind::ControlCharacter => f.write_str(
                "control character in the line (only tabs are allowed; a lone carriage return or a form feed often comes from an editor)",
            ),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.key, self.kind)
    }
}

impl core::error::Error for ConfigError {}
