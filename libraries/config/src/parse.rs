//! The parser behind [`Config::parse`](crate::Config::parse).

use alloc::collections::btree_map::Entry;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::{
    Action, BlackConfig, Config, ConfigError, CryptoConfig, ErrorKind, IpAddr, Ipv4Addr, Ipv6Addr,
    Mac, MssClamp, PeerConfig, Prefix, RedConfig, Rule, SocketAddr, DEFAULT_MTU, MAX_MSS, MAX_MTU,
    MIN_MSS, MIN_MTU,
};

type Res<T> = Result<T, ConfigError>;

fn err(line: usize, key: &str, kind: ErrorKind) -> ConfigError {
    ConfigError {
        line,
        key: shown(key),
        kind,
    }
}

/// Key characters in one run from which text may hold a key (a key is 44 in base64, 64 in hex;
/// an IPv6 address written out in full has 32 hex digits).
const KEY_LIKE_RUN: usize = 40;

/// Whether `v` has a run of key characters (base64, URL-safe base64, hex, also split by `:`,
/// `-` or `_`) long enough to be most of a key.
fn key_like(v: &str) -> bool {
    v.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=-_:".contains(c)))
        .any(|run| run.chars().filter(|&c| c != ':').count() >= KEY_LIKE_RUN)
}

/// Whether `v` holds a key (a word that decodes as one) or may hold one ([`key_like`]).
pub(crate) fn may_hold_key(v: &str) -> bool {
    holds_key(v) || key_like(v)
}

fn holds_key(v: &str) -> bool {
    v.split(|c: char| c.is_whitespace() || c == ',').any(|t| decode_key(t).is_some())
}

/// Characters that end a line for some reader though not for this parser: control characters
/// but the tab (a lone carriage return, a NUL, a form feed...) and Unicode's line and paragraph
/// separators, which editors and viewers may show as line breaks.
pub(crate) fn breaks_a_line(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

/// A value as echoed in an error: at most 64 characters.
fn shown(v: &str) -> String {
    // Never echo what could be key material put in the wrong place, or text that a terminal
    // would not show as written.
    if v.chars().any(|c| c.is_control() || breaks_a_line(c)) {
        return String::from("(not shown: it holds control characters)");
    }
    if holds_key(v) {
        return String::from("(not shown: it holds a key)");
    }
    // A key run into other text (`51820PrivateKey=...`), cut short, without its padding or split
    // by separators.
    if key_like(v) {
        return String::from("(not shown: it may hold a key)");
    }
    match v.char_indices().nth(64) {
        Some((i, _)) => {
            let mut s = String::from(&v[..i]);
            s.push_str("...");
            s
        }
        None => String::from(v),
    }
}

/// An unrecognised key as echoed in an error: at most 20 characters (longer
/// than any real key), so that a value run into its key is barely shown; nothing of it if it
/// may be a key itself (a line holding only a key reads as a key name).
fn unknown_key(k: &str) -> &str {
    if key_like(k) {
        return "(not shown: it may hold a key)";
    }
    match k.char_indices().nth(20) {
        Some((i, _)) => &k[..i],
        None => k,
    }
}

/// A value with the line it came from.
type At<T> = Option<(T, usize)>;

fn set_once<T>(slot: &mut At<T>, value: T, line: usize, key: &str) -> Res<()> {
    if let Some((_, first_line)) = slot {
        return Err(err(
            line,
            key,
            ErrorKind::Duplicate {
                first_line: *first_line,
            },
        ));
    }
    *slot = Some((value, line));
    Ok(())
}

/// Fails if the key was given before, without parsing the new value.
fn check_once<T>(slot: &At<T>, line: usize, key: &str) -> Res<()> {
    match slot {
        Some((_, first_line)) => Err(err(
            line,
            key,
            ErrorKind::Duplicate {
                first_line: *first_line,
            },
        )),
        None => Ok(()),
    }
}

struct Interface {
    header: usize,
    private_key: At<[u8; 32]>,
    listen_port: At<u16>,
    mtu: At<u16>,
}

struct Peer {
    header: usize,
    public_key: At<[u8; 32]>,
    preshared_key: At<[u8; 32]>,
    endpoint: At<SocketAddr>,
    allowed_ips: Vec<(Prefix, usize)>,
    /// Whether `allowed_ips` holds a network of an earlier peer (which `finish` refuses).
    overlap_kept: bool,
    keepalive: At<Option<u16>>,
}

struct Encryptor {
    header: usize,
    red: Vec<(Prefix, usize)>,
    black: Vec<(Prefix, usize)>,
    gateway_v4: At<Ipv4Addr>,
    gateway_v6: At<Ipv6Addr>,
    /// Explicit Tunnel/Bypass/Drop rules with their lines.
    rules: Vec<(Rule, usize)>,
    /// Prefix (as a sortable key) -> (action, line), to catch conflicts.
    rule_index: BTreeMap<PrefixKey, (Action, usize)>,
    tunnel_given: bool,
    red_mac: At<Mac>,
    black_mac: At<Mac>,
    mss_clamp: At<MssClamp>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Interface,
    Peer,
    Encryptor,
}

/// A prefix as an ordered key: family, network bits (big-endian: byte order is numeric order;
/// bytes, not a u128, so that a key takes 18 bytes, not 32), length.
type PrefixKey = (u8, [u8; 16], u8);

fn prefix_key(p: &Prefix) -> PrefixKey {
    let n = p.network();
    match n.addr {
        IpAddr::V4(a) => (4, u128::from(u32::from(a)).to_be_bytes(), n.len),
        IpAddr::V6(a) => (6, u128::from(a).to_be_bytes(), n.len),
    }
}

pub(crate) fn parse(text: &str) -> Res<Config> {
    let mut section = Section::None;
    let mut interface: Option<Interface> = None;
    let mut peers: Vec<Peer> = Vec::new();
    let mut encryptor: Option<Encryptor> = None;
    // Every AllowedIPs network read so far -> (peer index, line) of its first writing.
    let mut networks: BTreeMap<PrefixKey, (usize, usize)> = BTreeMap::new();

    for (idx, raw) in text.lines().enumerate() {
        let n = idx + 1;
        // A lone carriage return, a form feed, a NUL...: `trim` would take some of them as
        // whitespace, but a person or a program splitting lines there sees other lines than
        // this parser does, and the key-free copy the stack PDs read turns such a line into a
        // lone DEL (keys::without_keys). Refused, so that every PD reads the same configuration.
        if raw.chars().any(breaks_a_line) {
            return Err(err(n, "", ErrorKind::ControlCharacter));
        }
        let line = match raw.find('#') {
            Some(i) => &raw[..i],
            None => raw,
        }
        .trim();
        if line.is_empty() {
            continue;
        }

        if line.starts_with('[') {
            let name = line
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .map(str::trim);
            match name {
                Some(s) if s.eq_ignore_ascii_case("Interface") => {
                    if let Some(i) = &interface {
                        return Err(err(
                            n,
                            "[Interface]",
                            ErrorKind::DuplicateSection {
                                first_line: i.header,
                            },
                        ));
                    }
                    interface = Some(Interface {
                        header: n,
                        private_key: None,
                        listen_port: None,
                        mtu: None,
                    });
                    section = Section::Interface;
                }
                Some(s) if s.eq_ignore_ascii_case("Peer") => {
                    peers.push(Peer {
                        header: n,
                        public_key: None,
                        preshared_key: None,
                        endpoint: None,
                        allowed_ips: Vec::new(),
                        overlap_kept: false,
                        keepalive: None,
                    });
                    section = Section::Peer;
                }
                Some(s) if s.eq_ignore_ascii_case("Encryptor") => {
                    if let Some(e) = &encryptor {
                        return Err(err(
                            n,
                            "[Encryptor]",
                            ErrorKind::DuplicateSection {
                                first_line: e.header,
                            },
                        ));
                    }
                    encryptor = Some(Encryptor {
                        header: n,
                        red: Vec::new(),
                        black: Vec::new(),
                        gateway_v4: None,
                        gateway_v6: None,
                        rules: Vec::new(),
                        rule_index: BTreeMap::new(),
                        tunnel_given: false,
                        red_mac: None,
                        black_mac: None,
                        mss_clamp: None,
                    });
                    section = Section::Encryptor;
                }
                _ => return Err(err(n, line, ErrorKind::UnknownSection)),
            }
            continue;
        }

        // A key is one word. Without `=` before the value, the value (maybe
        // key material, whose base64 padding is an `=`) must not be echoed:
        // only the first word is, cut short.
        let split = line.split_once('=').map(|(k, v)| (k.trim(), v.trim()));
        let (key, value) = match split {
            Some((k, v)) if !k.contains(char::is_whitespace) => (k, v),
            _ => {
                let first = line.split_whitespace().next().unwrap_or("");
                let first = first.split('=').next().unwrap_or("");
                return Err(err(n, unknown_key(first), ErrorKind::MissingEquals));
            }
        };

        match section {
            Section::None => return Err(err(n, unknown_key(key), ErrorKind::KeyOutsideSection)),
            Section::Interface => {
                if let Some(i) = interface.as_mut() {
                    interface_key(i, n, key, value)?;
                }
            }
            Section::Peer => {
                let index = peers.len().wrapping_sub(1);
                if let Some(p) = peers.last_mut() {
                    peer_key(p, index, &mut networks, n, key, value)?;
                }
            }
            Section::Encryptor => {
                if let Some(e) = encryptor.as_mut() {
                    encryptor_key(e, n, key, value)?;
                }
            }
        }
    }

    finish(interface, peers, encryptor, networks)
}

/// The keys each section takes.
pub(crate) const INTERFACE_KEYS: [&str; 3] = ["PrivateKey", "ListenPort", "MTU"];
/// See [`INTERFACE_KEYS`].
pub(crate) const PEER_KEYS: [&str; 5] = ["PublicKey", "PresharedKey", "Endpoint", "AllowedIPs", "PersistentKeepalive"];
/// See [`INTERFACE_KEYS`].
pub(crate) const ENCRYPTOR_KEYS: [&str; 9] =
    ["RedAddress", "BlackAddress", "BlackGateway", "Tunnel", "Bypass", "Drop", "RedMac", "BlackMac", "MssClamp"];

/// Matches `key` case-insensitively against the known names; returns the
/// canonical spelling.
fn known(key: &str, names: &[&'static str]) -> Option<&'static str> {
    names.iter().copied().find(|k| k.eq_ignore_ascii_case(key))
}

fn interface_key(i: &mut Interface, n: usize, key: &str, value: &str) -> Res<()> {
    match known(key, &INTERFACE_KEYS) {
        Some(k @ "PrivateKey") => {
            check_once(&i.private_key, n, k)?;
            let v = decode_key(value).ok_or_else(|| err(n, k, ErrorKind::BadKey))?;
            set_once(&mut i.private_key, v, n, k)
        }
        Some(k @ "ListenPort") => {
            check_once(&i.listen_port, n, k)?;
            let v = parse_port(value).ok_or_else(|| err(n, k, ErrorKind::BadPort(shown(value))))?;
            set_once(&mut i.listen_port, v, n, k)
        }
        Some(k @ "MTU") => {
            check_once(&i.mtu, n, k)?;
            let v = parse_u16(value)
                .filter(|m| (MIN_MTU..=MAX_MTU).contains(m))
                .ok_or_else(|| err(n, k, ErrorKind::BadMtu(shown(value))))?;
            set_once(&mut i.mtu, v, n, k)
        }
        _ => Err(err(
            n,
            unknown_key(key),
            ErrorKind::UnknownKey {
                section: "[Interface]",
            },
        )),
    }
}

/// A key of peer number `index`; `networks` holds every AllowedIPs network read so far.
fn peer_key(p: &mut Peer, index: usize, networks: &mut BTreeMap<PrefixKey, (usize, usize)>, n: usize, key: &str, value: &str) -> Res<()> {
    match known(key, &PEER_KEYS) {
        Some(k @ "PublicKey") => {
            check_once(&p.public_key, n, k)?;
            let v = decode_key(value).ok_or_else(|| err(n, k, ErrorKind::BadKey))?;
            set_once(&mut p.public_key, v, n, k)
        }
        Some(k @ "PresharedKey") => {
            check_once(&p.preshared_key, n, k)?;
            let v = decode_key(value).ok_or_else(|| err(n, k, ErrorKind::BadKey))?;
            set_once(&mut p.preshared_key, v, n, k)
        }
        Some(k @ "Endpoint") => {
            check_once(&p.endpoint, n, k)?;
            let v = parse_endpoint(value)
                .ok_or_else(|| err(n, k, ErrorKind::BadEndpoint(shown(value))))?;
            set_once(&mut p.endpoint, v, n, k)
        }
        Some(k @ "AllowedIPs") => {
            for item in value.split(',') {
                let item = item.trim();
                let prefix = parse_route(item)
                    .ok_or_else(|| err(n, k, ErrorKind::BadPrefix(shown(item))))?;
                // A network written twice for this peer is kept once (read, not stored: a
                // line of repeats would otherwise take heap the root task does not count).
                // Another peer's network is kept for `finish` to refuse, after the checks of
                // the peers before this one.
                match networks.entry(prefix_key(&prefix)) {
                    Entry::Occupied(o) if o.get().0 == index => {}
                    // The first is enough for the error (and repeats must not fill the heap).
                    Entry::Occupied(_) if !p.overlap_kept => {
                        p.overlap_kept = true;
                        p.allowed_ips.push((prefix, n));
                    }
                    Entry::Occupied(_) => {}
                    Entry::Vacant(v) => {
                        v.insert((index, n));
                        p.allowed_ips.push((prefix, n));
                    }
                }
            }
            Ok(())
        }
        Some(k @ "PersistentKeepalive") => {
            check_once(&p.keepalive, n, k)?;
            let v = parse_keepalive(value)
                .ok_or_else(|| err(n, k, ErrorKind::BadKeepalive(shown(value))))?;
            set_once(&mut p.keepalive, v, n, k)
        }
        _ => Err(err(
            n,
            unknown_key(key),
            ErrorKind::UnknownKey { section: "[Peer]" },
        )),
    }
}

fn encryptor_key(e: &mut Encryptor, n: usize, key: &str, value: &str) -> Res<()> {
    match known(key, &ENCRYPTOR_KEYS) {
        Some(k @ ("RedAddress" | "BlackAddress")) => {
            let list = if k == "RedAddress" {
                &mut e.red
            } else {
                &mut e.black
            };
            for item in value.split(',') {
                let item = item.trim();
                let prefix = parse_interface_address(n, k, item)?;
                if list.iter().any(|(q, _)| *q == prefix) {
                    continue;
                }
                // The stack answers one address of each family: a second would be ignored.
                let v4 = prefix.addr.is_ipv4();
                if let Some(&(_, first_line)) = list.iter().find(|(q, _)| q.addr.is_ipv4() == v4) {
                    return Err(err(n, k, ErrorKind::SecondAddress { first_line }));
                }
                list.push((prefix, n));
            }
            Ok(())
        }
        Some(k @ "BlackGateway") => {
            let ip = parse_unicast(value)
                .ok_or_else(|| err(n, k, ErrorKind::BadAddress(shown(value))))?;
            match ip {
                IpAddr::V4(a) => set_once(&mut e.gateway_v4, a, n, k),
                IpAddr::V6(a) => set_once(&mut e.gateway_v6, a, n, k),
            }
        }
        Some(k @ ("Tunnel" | "Bypass" | "Drop")) => {
            let action = match k {
                "Tunnel" => Action::Tunnel,
                "Bypass" => Action::Bypass,
                _ => Action::Drop,
            };
            if action == Action::Tunnel {
                e.tunnel_given = true;
            }
            for item in value.split(',') {
                let item = item.trim();
                let prefix = parse_route(item)
                    .ok_or_else(|| err(n, k, ErrorKind::BadPrefix(shown(item))))?;
                match e.rule_index.get(&prefix_key(&prefix)) {
                    Some(&(a, _)) if a == action => {}
                    Some(&(_, first_line)) => {
                        return Err(err(n, k, ErrorKind::ConflictingRule { first_line }));
                    }
                    None => {
                        e.rule_index.insert(prefix_key(&prefix), (action, n));
                        e.rules.push((Rule { prefix, action }, n));
                    }
                }
            }
            Ok(())
        }
        Some(k @ ("RedMac" | "BlackMac")) => {
            let slot = if k == "RedMac" {
                &mut e.red_mac
            } else {
                &mut e.black_mac
            };
            check_once(slot, n, k)?;
            let mac = parse_mac(value).ok_or_else(|| err(n, k, ErrorKind::BadMac(shown(value))))?;
            set_once(slot, mac, n, k)
        }
        Some(k @ "MssClamp") => {
            check_once(&e.mss_clamp, n, k)?;
            let v = parse_mss_clamp(value)
                .ok_or_else(|| err(n, k, ErrorKind::BadMssClamp(shown(value))))?;
            set_once(&mut e.mss_clamp, v, n, k)
        }
        _ => Err(err(
            n,
            unknown_key(key),
            ErrorKind::UnknownKey {
                section: "[Encryptor]",
            },
        )),
    }
}

fn finish(
    interface: Option<Interface>,
    peers: Vec<Peer>,
    encryptor: Option<Encryptor>,
    networks: BTreeMap<PrefixKey, (usize, usize)>,
) -> Res<Config> {
    // [Interface]
    let Some(iface) = interface else {
        return Err(err(0, "[Interface]", ErrorKind::Missing("[Interface]")));
    };
    let Some((private_key, _)) = iface.private_key else {
        return Err(err(
            iface.header,
            "[Interface]",
            ErrorKind::Missing("PrivateKey"),
        ));
    };
    let Some((listen_port, _)) = iface.listen_port else {
        return Err(err(
            iface.header,
            "[Interface]",
            ErrorKind::Missing("ListenPort"),
        ));
    };

    // [Peer]s
    if peers.is_empty() {
        return Err(err(0, "[Peer]", ErrorKind::NoPeers));
    }
    let mut seen_keys: BTreeMap<[u8; 32], usize> = BTreeMap::new();
    let preshared: BTreeSet<[u8; 32]> = peers.iter().filter_map(|q| q.preshared_key.map(|(k, _)| k)).collect();
    let mut out_peers = Vec::with_capacity(peers.len());
    for (pi, p) in peers.iter().enumerate() {
        let Some((public_key, key_line)) = p.public_key else {
            return Err(err(p.header, "[Peer]", ErrorKind::Missing("PublicKey")));
        };
        if p.allowed_ips.is_empty() {
            return Err(err(p.header, "[Peer]", ErrorKind::Missing("AllowedIPs")));
        }
        // The keyless copy the stack PDs read (keys::without_keys) gives such a line the zero
        // key: it must fail here too, at the same line.
        if public_key == [0; 32] || public_key == private_key || preshared.contains(&public_key) {
            return Err(err(key_line, "PublicKey", ErrorKind::NotAPublicKey));
        }
        if let Some(&first_line) = seen_keys.get(&public_key) {
            return Err(err(
                key_line,
                "PublicKey",
                ErrorKind::DuplicatePeer { first_line },
            ));
        }
        seen_keys.insert(public_key, key_line);
        // Each network was kept once, by its first peer: one kept by another peer (an earlier
        // one) is refused here, in the order of the peers.
        for (prefix, line) in &p.allowed_ips {
            match networks.get(&prefix_key(prefix)) {
                Some(&(first, first_line)) if first != pi => {
                    return Err(err(
                        *line,
                        "AllowedIPs",
                        ErrorKind::OverlappingAllowedIps { first_line },
                    ));
                }
                _ => {}
            }
        }
        let allowed_ips: Vec<Prefix> = p.allowed_ips.iter().map(|(q, _)| *q).collect();
        out_peers.push(PeerConfig {
            public_key,
            preshared_key: p.preshared_key.map(|(k, _)| k),
            endpoint: p.endpoint.map(|(e, _)| e),
            allowed_ips,
            persistent_keepalive: p.keepalive.and_then(|(k, _)| k),
        });
    }

    // [Encryptor]
    let Some(enc) = encryptor else {
        return Err(err(0, "[Encryptor]", ErrorKind::Missing("[Encryptor]")));
    };
    if enc.red.is_empty() {
        return Err(err(
            enc.header,
            "[Encryptor]",
            ErrorKind::Missing("RedAddress"),
        ));
    }
    if enc.black.is_empty() {
        return Err(err(
            enc.header,
            "[Encryptor]",
            ErrorKind::Missing("BlackAddress"),
        ));
    }
    let black_v4 = enc.black.iter().any(|(p, _)| p.addr.is_ipv4());
    let black_v6 = enc.black.iter().any(|(p, _)| p.addr.is_ipv6());
    if let (Some((_, line)), false) = (enc.gateway_v4, black_v4) {
        return Err(err(line, "BlackGateway", ErrorKind::GatewayFamily));
    }
    if let (Some((_, line)), false) = (enc.gateway_v6, black_v6) {
        return Err(err(line, "BlackGateway", ErrorKind::GatewayFamily));
    }
    let gateways = enc.gateway_v4.map(|(a, n)| (IpAddr::V4(a), n)).into_iter().chain(enc.gateway_v6.map(|(a, n)| (IpAddr::V6(a), n)));
    for (gateway, line) in gateways {
        let link_local = matches!(gateway, IpAddr::V6(a) if a.is_unicast_link_local());
        let a_host = |p: &Prefix| !names_network_or_broadcast(p.len, gateway);
        let on_link = enc.black.iter().any(|(p, _)| p.addr != gateway && ((p.contains(gateway) && a_host(p)) || (link_local && p.addr.is_ipv6())));
        if !on_link {
            return Err(err(line, "BlackGateway", ErrorKind::GatewayOffLink));
        }
    }
    for p in &peers {
        if let Some((ep, line)) = p.endpoint {
            if (ep.is_ipv4() && !black_v4) || (ep.is_ipv6() && !black_v6) {
                return Err(err(line, "Endpoint", ErrorKind::EndpointFamily));
            }
        }
    }

    // net_red's rules: explicit ones, plus (without any Tunnel line) one
    // Tunnel rule per AllowedIPs prefix not already given an explicit action.
    // No index of the derived rules is needed: no two peers' prefixes are the same network
    // (checked above), so only the explicit rules can hold one already.
    let derived = if enc.tunnel_given { 0 } else { networks.len() };
    let mut rules: Vec<Rule> = Vec::with_capacity(enc.rules.len() + derived);
    rules.extend(enc.rules.iter().map(|(r, _)| *r));
    if !enc.tunnel_given {
        for peer in &out_peers {
            for prefix in &peer.allowed_ips {
                if !enc.rule_index.contains_key(&prefix_key(prefix)) {
                    rules.push(Rule {
                        prefix: prefix.network(),
                        action: Action::Tunnel,
                    });
                }
            }
        }
    }
    // The heap a PD reading this config needs grows with these (system.xml's heap_per_prefix).
    let prefixes = networks.len() + enc.rules.len();
    drop(networks);
    // net_black decides bypass on the same rules (see BlackConfig::rules).
    let black_rules = rules.clone();

    // MACs: explicit, or derived from the first address of that side.
    let red_addresses: Vec<Prefix> = enc.red.iter().map(|(p, _)| *p).collect();
    let black_addresses: Vec<Prefix> = enc.black.iter().map(|(p, _)| *p).collect();
    let (red_mac, black_mac) = macs(
        enc.red_mac.map(|(m, _)| m),
        enc.black_mac.map(|(m, _)| m),
        &red_addresses[0],
        &black_addresses[0],
    );

    Ok(Config {
        prefixes,
        crypto: CryptoConfig {
            private_key,
            listen_port,
            mtu: iface.mtu.map_or(DEFAULT_MTU, |(m, _)| m),
            peers: out_peers,
        },
        red: RedConfig {
            addresses: red_addresses,
            mac: red_mac,
            rules,
            mtu: iface.mtu.map_or(DEFAULT_MTU, |(m, _)| m),
            mss_clamp: enc.mss_clamp.map_or(MssClamp::Auto, |(c, _)| c),
        },
        black: BlackConfig {
            addresses: black_addresses,
            gateway_v4: enc.gateway_v4.map(|(a, _)| a),
            gateway_v6: enc.gateway_v6.map(|(a, _)| a),
            mac: black_mac,
            listen_port,
            rules: black_rules,
        },
    })
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// 1-65535, decimal digits only.
fn parse_port(v: &str) -> Option<u16> {
    match parse_u16(v)? {
        0 => None,
        p => Some(p),
    }
}

/// 0-65535, decimal digits only (no sign, at most 5 digits).
fn parse_u16(v: &str) -> Option<u16> {
    if v.is_empty() || v.len() > 5 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u32>().ok().and_then(|n| u16::try_from(n).ok())
}

/// `auto`, `off`, or a segment size in MIN_MSS..=MAX_MSS.
fn parse_mss_clamp(v: &str) -> Option<MssClamp> {
    if v.eq_ignore_ascii_case("auto") {
        return Some(MssClamp::Auto);
    }
    if v.eq_ignore_ascii_case("off") {
        return Some(MssClamp::Off);
    }
    parse_u16(v).filter(|m| (MIN_MSS..=MAX_MSS).contains(m)).map(MssClamp::Fixed)
}

/// `off` or 0 -> None; 1-65535 -> Some.
fn parse_keepalive(v: &str) -> Option<Option<u16>> {
    if v.eq_ignore_ascii_case("off") {
        return Some(None);
    }
    match parse_u16(v)? {
        0 => Some(None),
        s => Some(Some(s)),
    }
}

/// Not unspecified, multicast or the IPv4 broadcast address.
fn is_unicast(ip: IpAddr) -> bool {
    !(ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::V4(Ipv4Addr::BROADCAST))
}

fn parse_unicast(v: &str) -> Option<IpAddr> {
    let ip: IpAddr = v.parse().ok()?;
    is_unicast(ip).then_some(ip)
}

/// `a.b.c.d:port` or `[v6]:port`, unicast address, port 1-65535.
fn parse_endpoint(v: &str) -> Option<SocketAddr> {
    let sa: SocketAddr = v.parse().ok()?;
    (is_unicast(sa.ip()) && sa.port() != 0).then_some(sa)
}

/// A destination prefix (AllowedIPs, Tunnel, Bypass, Drop), as `network()`.
fn parse_route(v: &str) -> Option<Prefix> {
    v.parse::<Prefix>().ok().map(|p| p.network())
}

/// Whether `addr` is, in an IPv4 prefix of length `len` (up to /30), its first or last address,
/// which name the network and its broadcast, no host.
fn names_network_or_broadcast(len: u8, addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) if len <= 30 => {
            let host_bits = u32::MAX >> len;
            let h = u32::from(a) & host_bits;
            h == 0 || h == host_bits
        }
        _ => false,
    }
}

/// An interface address with its prefix length, kept as written.
fn parse_interface_address(n: usize, key: &str, v: &str) -> Res<Prefix> {
    let p: Prefix = v
        .parse()
        .map_err(|_| err(n, key, ErrorKind::BadPrefix(shown(v))))?;
    if p.len == 0 {
        return Err(err(n, key, ErrorKind::BadPrefix(shown(v))));
    }
    // Our own address must be a host's: not loopback, nor a network or broadcast address.
    if !is_unicast(p.addr) || p.addr.is_loopback() || names_network_or_broadcast(p.len, p.addr) {
        return Err(err(n, key, ErrorKind::BadAddress(shown(v))));
    }
    Ok(p)
}

/// Six hex pairs separated by `:` (or all by `-`); unicast and not all-zero.
fn parse_mac(v: &str) -> Option<Mac> {
    let sep = if v.contains('-') { '-' } else { ':' };
    let mut mac = [0u8; 6];
    let mut parts = v.split(sep);
    for byte in mac.iter_mut() {
        let part = parts.next()?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    if parts.next().is_some() || mac[0] & 1 != 0 || mac == [0; 6] {
        return None;
    }
    Some(mac)
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `02:` followed by the first 5 bytes (big-endian) of FNV-1a-64 of
/// `"<side> <address>"`, e.g. `"red 10.1.0.1/24"` (the address in its
/// `Display` form, so spacing in the file does not matter).
pub(crate) fn default_mac(side: &str, address: &Prefix) -> Mac {
    let mut text = String::new();
    let _ = write!(text, "{side} {address}");
    let h = fnv1a64(text.as_bytes()).to_be_bytes();
    [0x02, h[0], h[1], h[2], h[3], h[4]]
}

/// The two MACs: explicit ones as given; a derived one that would equal the
/// other side's gets its last bit flipped.
fn macs(
    red: Option<Mac>,
    black: Option<Mac>,
    red_addr: &Prefix,
    black_addr: &Prefix,
) -> (Mac, Mac) {
    match (red, black) {
        (Some(r), Some(b)) => (r, b),
        (Some(r), None) => {
            let mut b = default_mac("black", black_addr);
            if b == r {
                b[5] ^= 1;
            }
            (r, b)
        }
        (None, Some(b)) => {
            let mut r = default_mac("red", red_addr);
            if r == b {
                r[5] ^= 1;
            }
            (r, b)
        }
        (None, None) => {
            let r = default_mac("red", red_addr);
            let mut b = default_mac("black", black_addr);
            if b == r {
                b[5] ^= 1;
            }
            (r, b)
        }
    }
}

/// A WireGuard key: exactly 44 characters of standard base64 ending in one
/// `=`, canonical (the unused low bits of the last character are zero).
pub(crate) fn decode_key(s: &str) -> Option<[u8; 32]> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let b = s.as_bytes();
    if b.len() != 44 || b[43] != b'=' {
        return None;
    }
    let mut out = [0u8; 32];
    // Ten full groups of 4 characters -> 30 bytes.
    for g in 0..10 {
        let mut v = 0u32;
        for &c in &b[g * 4..g * 4 + 4] {
            v = (v << 6) | val(c)?;
        }
        out[g * 3] = (v >> 16) as u8;
        out[g * 3 + 1] = (v >> 8) as u8;
        out[g * 3 + 2] = v as u8;
    }
    // Last group: 3 characters + '=' -> 2 bytes, 2 leftover bits must be 0.
    let v = (val(b[40])? << 12) | (val(b[41])? << 6) | val(b[42])?;
    if v & 0b11 != 0 {
        return None;
    }
    out[30] = (v >> 10) as u8;
    out[31] = (v >> 2) as u8;
    Some(out)
}

/// A public key as WireGuard writes it (standard base64, 44 characters), for status output.
/// Only for public keys: the config's secrets are never printed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKeyText([u8; 44]);

impl PublicKeyText {
    /// The base64 text of `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = [b'='; 44];
        for (g, chunk) in key.chunks(3).enumerate() {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out[g * 4 + i] = ALPHABET[(v >> (18 - 6 * i) & 63) as usize];
            }
        }
        Self(out)
    }
}

impl core::fmt::Display for PublicKeyText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Only ASCII from ALPHABET and '=' is ever stored.
        f.write_str(core::str::from_utf8(&self.0).unwrap_or("?"))
    }
}
