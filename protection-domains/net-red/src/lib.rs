//! net_red: the plaintext-side stack PD.
//!
//! It is the PCs' gateway: it answers ARP/NDP and ICMP echo for its own
//! address, and routes every other packet by the split-tunnel policy — to
//! crypto (`Tunnel`), in clear to net_black (`Bypass`, only when configured and
//! granted a link in `system.xml`), or nowhere (`Drop`, also the default).
//! Packets coming back from crypto (decrypted) or from net_black (bypass) go to
//! on-link PCs only. It never sees keys or ciphertext.

#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use encryptor_config::{lookup, Action, RedConfig, Rule};
use pd_api::{Channel, ChannelSet, Handler};
use pd_netstack::{decrement_hop_limit, ip_addresses, ip_len, Iface, Received, StackLinks};
pub use pd_netstack::InitError;
use pd_ring::{Link, RingError, SLOT_SIZE};

/// Channel to the red NIC PD (rings named `nic`).
pub const NIC: Channel = Channel::new(0);
/// Channel to crypto (rings named `crypto`).
pub const CRYPTO: Channel = Channel::new(1);
/// Channel to net_black for bypass traffic (rings named `bypass`); optional.
pub const BYPASS: Channel = Channel::new(2);
/// Channel from the timer PD.
pub const TIMER: Channel = Channel::new(3);

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
    }
}

/// The net_red PD.
pub struct NetRed {
    nic: Link,
    crypto: Link,
    bypass: Option<Link>,
    iface: Iface,
    rules: Vec<Rule>,
    /// The packet being handled, copied out of its ring.
    buf: Box<[u8; SLOT_SIZE]>,
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
        Ok(Self {
            nic,
            crypto,
            bypass,
            iface: Iface::with_addresses(config.mac, config.addresses.iter().map(|p| (p.addr, p.len))),
            rules: config.rules,
            buf: Box::new([0; SLOT_SIZE]),
            counters: Counters::default(),
        })
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
                Received::Local(_) => {
                    self.counters.drop_local += 1;
                    continue;
                }
                Received::Forward(r) => r,
            };
            let packet = &mut self.buf[range];
            let Some((_, dst)) = ip_addresses(packet) else {
                self.counters.drop_bad_ip += 1;
                continue;
            };
            let action = lookup(&self.rules, dst).unwrap_or(Action::Drop);
            let link = match (action, self.bypass.as_mut()) {
                (Action::Tunnel, _) => &mut self.crypto,
                (Action::Bypass, Some(b)) => b,
                _ => {
                    self.counters.drop_policy += 1;
                    continue;
                }
            };
            if !decrement_hop_limit(packet) {
                self.counters.drop_ttl += 1;
                continue;
            }
            match link.tx.send(packet) {
                Ok(true) if action == Action::Tunnel => self.counters.to_crypto += 1,
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
            if from_bypass && lookup(&self.rules, src) != Some(Action::Bypass) {
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
                self.counters.from_crypto += 1;
            }
            self.iface.send_ip(&mut self.nic.tx, dst, packet, now);
        }
        Ok(())
    }

}

impl Handler for NetRed {
    type Error = RingError;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), RingError> {
        let now = pd_api::now_ns();
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
}
