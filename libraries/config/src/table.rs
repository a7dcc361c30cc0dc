//! Longest-prefix match over a fixed set of prefixes: net_red's rules, crypto's (and its
//! workers') cryptokey routing and net_black's copy of net_red's rules, looked up for every packet.
//!
//! A scan over every prefix cost each packet of a 1024-peer config (2048 prefixes) some 90 000
//! instructions in net_red and crypto together (costbench `pipeline-1024`). The table keeps one
//! sorted array per prefix length in use, longest first, and a lookup masks the address to each
//! length in turn and binary-searches its array: as many probes as there are distinct lengths
//! (a config has few), each O(log n). Built once at start; a lookup does not allocate.

use crate::Prefix;
use alloc::vec::Vec;
use core::net::IpAddr;

/// The networks of one prefix length, sorted, each once.
#[derive(Clone, Debug)]
struct Level<V> {
    /// The length's netmask, within the family's width (IPv4 in the low 32 bits).
    mask: u128,
    /// (network, value), sorted by network.
    entries: Vec<(u128, V)>,
}

/// Prefixes of both families, each with a value; [`PrefixTable::get`] gives the value of the
/// longest prefix that holds an address.
#[derive(Clone, Debug)]
pub struct PrefixTable<V> {
    /// IPv4 levels, longest prefix length first.
    v4: Vec<Level<V>>,
    /// IPv6 levels, longest prefix length first.
    v6: Vec<Level<V>>,
    /// Distinct prefixes held.
    len: usize,
}

impl<V> Default for PrefixTable<V> {
    fn default() -> Self {
        PrefixTable { v4: Vec::new(), v6: Vec::new(), len: 0 }
    }
}

/// A prefix as (is IPv6, length within the family's width, network bits).
fn key(p: &Prefix) -> (bool, u8, u128) {
    let net = p.network();
    match net.addr {
        IpAddr::V4(a) => (false, net.len, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, net.len, u128::from(a)),
    }
}

impl<V: Copy> PrefixTable<V> {
    /// The table of `items`. Host bits of a prefix are ignored (10.1.2.3/8 is 10.0.0.0/8); a
    /// prefix given twice keeps `prefer(first, second)`, folded in the order given.
    pub fn new(items: impl IntoIterator<Item = (Prefix, V)>, prefer: impl Fn(V, V) -> V) -> Self {
        let mut all: Vec<((bool, u8, u128), V)> = items.into_iter().map(|(p, v)| (key(&p), v)).collect();
        // Stable: equal prefixes stay in the order given, for `prefer`. Family, then the
        // longest first, then by network.
        all.sort_by(|(a, _), (b, _)| (a.0, b.1, a.2).cmp(&(b.0, a.1, b.2)));
        let mut table = PrefixTable::default();
        for ((v6, len, net), value) in all {
            let (levels, mask) = if v6 {
                (&mut table.v6, crate::mask_v6(len))
            } else {
                (&mut table.v4, u128::from(crate::mask_v4(len)))
            };
            match levels.last_mut() {
                Some(level) if level.mask == mask => match level.entries.last_mut() {
                    Some(last) if last.0 == net => last.1 = prefer(last.1, value),
                    _ => {
                        level.entries.push((net, value));
                        table.len += 1;
                    }
                },
                _ => {
                    levels.push(Level { mask, entries: alloc::vec![(net, value)] });
                    table.len += 1;
                }
            }
        }
        for level in table.v4.iter_mut().chain(table.v6.iter_mut()) {
            level.entries.shrink_to_fit();
        }
        table
    }

    /// The value of the longest prefix holding `ip`, if any does.
    pub fn get(&self, ip: IpAddr) -> Option<V> {
        let (levels, bits) = match ip {
            IpAddr::V4(a) => (&self.v4, u128::from(u32::from(a))),
            IpAddr::V6(a) => (&self.v6, u128::from(a)),
        };
        levels.iter().find_map(|level| {
            let net = bits & level.mask;
            level.entries.binary_search_by_key(&net, |&(n, _)| n).ok().map(|i| level.entries[i].1)
        })
    }

    /// Distinct prefixes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no prefix is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
