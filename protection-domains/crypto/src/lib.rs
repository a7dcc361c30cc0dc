//! The crypto PD: the only place where red meets black, and the only PD that
//! holds key material.
//!
//! - From net_red (plaintext IP packets): cryptokey routing picks the peer whose
//!   AllowedIPs hold the destination (longest prefix, v4 and v6); the packet is sealed
//!   in this PD's memory with the peer's current session and copied into a slot of the
//!   ring to net_black, behind an [`EndpointHeader`] naming the peer's endpoint.
//!   Without a session boringtun queues the packet and the handshake initiation goes
//!   out instead.
//! - From net_black (endpoint header + WireGuard message): the shared rate
//!   limiter checks MAC1 and answers with a cookie reply under load; the peer is
//!   found by the receiver index (or, for an initiation, by the static key it
//!   reveals); data opens in this PD's copy of the message and goes to net_red, but
//!   only if its source address is in that peer's AllowedIPs.
//!
//! # Sessions: boringtun makes them, the data path uses them (pd-session)
//!
//! boringtun's tunnels do the handshakes, cookies and timers. Transport data is sealed and
//! opened by `pd_session`, the code crypto workers on other cores will run (issue 18): after
//! every handshake event this PD publishes each session boringtun holds into one of the peer's
//! [`SessionSlot`]s (indices, keys, send counter, shared replay window) and seals and opens with
//! a [`WorkerSession`] copied from the slot; it tells boringtun what it sent and received
//! (`note_data_sent`, `note_data_received`), whose timers decide keepalives and rekeys.
//! Once a session is published boringtun never seals with it again, so no counter is used
//! twice: the slot's counter starts after the keepalive boringtun seals when it completes a
//! handshake, packets it queued for want of a session are taken out and sealed from the slot,
//! and a keepalive its timers seal is thrown away unsent and sealed again from the slot.
//! - On every timer tick: boringtun's timers (rekey, keepalive, expiry) for
//!   every peer, and the rate limiter's reset.
//!
//! Nothing is ever sent to net_black but what this PD sealed and the handshake messages and
//! cookie replies boringtun produced.
//!
//! # Time and randomness
//!
//! boringtun comes from crates.io (0.7.1) with `support/boringtun/no-std.patch` applied by
//! `support/boringtun/prepare`: without its `std` feature it reads no clock and no random source
//! of its own, but calls the hooks that [`Crypto::new`] installs with
//! `boringtun::platform::set_hooks`, and those are this PD's platform:
//! - `pd_api::now_ns()`: the monotonic clock behind boringtun's timers (rekey, keepalive, expiry,
//!   handshake retries), the rate limiter's window and the cookie secret's rotation;
//! - `pd_api::wall_clock_ns()`: the wall clock behind the TAI64N timestamp of each handshake
//!   initiation (read when a peer's handshake state is created, then advanced by the monotonic
//!   clock), which peers require to increase, also across reboots;
//! - `pd_api::fill_random()`: ephemeral keys and the rate limiter's cookie and nonce secrets.
//!
//! [`Crypto::new`] draws 1 KiB from the random source first and refuses to start if the platform
//! has none ([`InitError::NoRandomness`]) or if the sample fails a start-up health test
//! ([`InitError::RandomnessUnhealthy`]: a repeated 64-bit word, or one byte value far too often,
//! as a stuck or broken RDRAND gives); should the source fail later, the PD
//! panics rather than make a key from nothing. The hooks are plain function pointers shared by
//! the whole program; on the host, where every PD is a thread with its own platform, each call
//! resolves to the platform of the PD that makes it.

#![no_std]

extern crate alloc;

mod workers;
pub use workers::WORKER_SILENT_TICKS;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use boringtun::noise::errors::WireGuardError;
use boringtun::noise::handshake::parse_handshake_anon;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Packet, Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use core::fmt;
use core::net::{IpAddr, SocketAddr};
use encryptor_config::{cryptokey_routes, CryptoConfig, PrefixTable, StartError};
use pd_api::{Channel, ChannelSet, Handler};
use pd_proto::{EndpointHeader, ENDPOINT_HEADER_LEN};
use pd_ring::{Link, LinkError, RingError, SLOT_SIZE};
use pd_session::transport::{DATA_HEADER_LEN, DATA_OVERHEAD, REJECT_AFTER_TIME_NS};
use pd_session::{OpenError, ReplayError, SealError, SessionInfo, SessionSlot, SessionTable, SlotBusy, WorkerSession};

/// Channel to net_red (rings named `red`).
pub const RED: Channel = Channel::new(0);
/// Channel to net_black (rings named `black`).
pub const BLACK: Channel = Channel::new(1);
/// Channel from the timer PD (ticks).
pub const TIMER: Channel = Channel::new(2);

/// Handshake messages per second (all peers together) before the limiter
/// demands cookies; the value boringtun's own device uses.
const HANDSHAKE_RATE_LIMIT: u64 = 100;

/// WireGuard's message types (the first byte of every message; the whitepaper, section 5.4).
const MSG_HANDSHAKE_INITIATION: u8 = 1;
const MSG_HANDSHAKE_RESPONSE: u8 = 2;
const MSG_TRANSPORT_DATA: u8 = 4;
/// Length of a handshake initiation.
const HANDSHAKE_INITIATION_LEN: usize = 148;
/// Session slots a peer has (pd-session's table: one per session boringtun's tunnel keeps).
const SESSIONS_PER_PEER: usize = pd_session::SLOTS_PER_PEER;

/// Bytes of plaintext all peers together may hold while they wait for a handshake. boringtun
/// queues up to 256 packets per peer: over a few peers whose handshakes an attacker blackholes,
/// that alone would exhaust a PD's heap.
pub const QUEUE_BUDGET_BYTES: usize = 128 * 1024;

/// What the PD's heap must hold besides the queue budget and its peers (tests/heap.rs measures
/// the peak with one peer and with many, every one blackholed and the queue budget full; this
/// and [`HEAP_PER_PEER_BYTES`] keep the measured peak within three quarters of
/// [`heap_need`]: the allocator's overhead and fragmentation take the rest).
pub const HEAP_BASE_BYTES: usize = 96 * 1024;
/// What each peer adds to the heap's need (see [`HEAP_BASE_BYTES`]): tests/heap.rs measures
/// about 17 KiB a blackholed peer (boringtun's tunnel, the data path's eight session slots);
/// each session the data path uses adds a 1.2 KiB copy (two or three at a time).
pub const HEAP_PER_PEER_BYTES: usize = 28 * 1024;

/// What each AllowedIPs network adds to the heap's need: its place in the routing table and in
/// the parsed config (tests/heap.rs measures at most 190 bytes a prefix besides the config's
/// text, which is freed once parsed).
pub const HEAP_PER_PREFIX_BYTES: usize = 320;

/// The heap the PD needs for `peers` peers holding `prefixes` AllowedIPs networks between them.
/// On seL4 the root task sizes crypto's heap from the config (system.xml: `heap_size`, plus
/// `heap_per_peer` per peer, `heap_per_prefix` per prefix and the text's size); the PD refuses
/// to start, by name, when what it was given is less than this rather than running out of heap
/// later.
pub const fn heap_need(peers: usize, prefixes: usize) -> usize {
    HEAP_BASE_BYTES + QUEUE_BUDGET_BYTES + peers * HEAP_PER_PEER_BYTES + prefixes * HEAP_PER_PREFIX_BYTES
}

/// Most peers the PD accepts, whatever its heap (a bound on the work one datagram or tick may
/// cost: every peer's timers run on each tick).
pub const MAX_PEERS: usize = 1024;

/// Largest plaintext that fits a black slot after the endpoint header and WireGuard's overhead.
const MAX_PLAINTEXT: usize = SLOT_SIZE - ENDPOINT_HEADER_LEN - DATA_OVERHEAD;

/// Whether a message boringtun wrote is a handshake initiation (for the counters).
fn is_initiation(message: &[u8]) -> bool {
    message.len() == HANDSHAKE_INITIATION_LEN && message[0] == MSG_HANDSHAKE_INITIATION
}

pd_api::counters! {
    /// What the crypto PD did, and every drop by reason.
    pub struct Counters {
        red_rx_packets,
        sealed_packets,
        black_tx_datagrams,
        black_rx_datagrams,
        opened_packets,
        red_tx_packets,
        keepalives_rx,
        keepalives_sent,
        handshake_initiations_sent,
        handshakes_completed,
        handshakes_answered,
        cookie_replies_sent,
        timers_run_without_tick,
        initiations_withheld_clock,
        drop_red_ring_error,
        drop_black_ring_error,
        drop_not_ip,
        drop_no_route,
        drop_too_big,
        drop_no_endpoint,
        drop_queue_budget,
        drop_black_ring_full,
        drop_red_ring_full,
        drop_bad_header,
        drop_unknown_peer,
        drop_bad_index,
        drop_invalid_packet,
        drop_invalid_mac,
        drop_replay,
        drop_bad_counter,
        drop_bad_aead,
        drop_stale_timestamp,
        drop_no_session,
        drop_under_load,
        drop_wrong_state,
        drop_source_not_allowed,
        drop_malformed_inner,
        drop_other_error,
        drop_worker_ring_error,
        drop_worker_bad_job,
        workers_given_up,
        /// Workers given up because they left a batch unanswered too long
        /// (workers::WORKER_SILENT_TICKS); also counted in workers_given_up.
        workers_silent,
        /// Workers given up while inside a batch: their jobs (and ring slots) were held until
        /// they left it (pd_session::gate).
        worker_gate_waits,
    }
}

impl Counters {
    fn count_error(&mut self, e: WireGuardError) {
        use WireGuardError as E;
        let c = match e {
            E::InvalidPacket | E::IncorrectPacketLength | E::WrongPacketType => &mut self.drop_invalid_packet,
            E::InvalidMac => &mut self.drop_invalid_mac,
            E::DuplicateCounter => &mut self.drop_replay,
            E::InvalidCounter => &mut self.drop_bad_counter,
            E::InvalidAeadTag | E::WrongKey => &mut self.drop_bad_aead,
            E::InvalidTai64nTimestamp | E::WrongTai64nTimestamp => &mut self.drop_stale_timestamp,
            E::NoCurrentSession | E::ConnectionExpired => &mut self.drop_no_session,
            E::UnderLoad => &mut self.drop_under_load,
            E::WrongIndex => &mut self.drop_bad_index,
            E::UnexpectedPacket => &mut self.drop_wrong_state,
            _ => &mut self.drop_other_error,
        };
        *c += 1;
    }
}

/// Why the crypto PD could not start.
#[derive(Debug)]
pub enum InitError {
    /// A ring is missing or malformed.
    Link(&'static str, LinkError),
    /// Two peers with the same public key.
    DuplicatePeer,
    /// The platform has no strong random source: no keys can be made.
    NoRandomness,
    /// The random source's output failed the start-up health test (which one).
    RandomnessUnhealthy(&'static str),
    /// More peers than the PD takes ([`MAX_PEERS`]).
    TooManyPeers {
        /// Peers in the configuration.
        configured: usize,
    },
    /// The `session_keys` region holds fewer peers than the config has.
    SessionTableTooSmall {
        /// Peers in the configuration.
        peers: usize,
        /// Peers the region holds.
        holds: usize,
    },
    /// The `session_keys` region is not aligned for the session table, or too small for its gates.
    BadSessionTable,
    /// The system gives crypto workers but no `session_keys` region to share sessions with them.
    NoSharedSessions,
    /// Less heap than the configured peers need ([`heap_need`]).
    HeapTooSmall {
        /// Peers in the configuration.
        peers: usize,
        /// Their AllowedIPs networks, all peers together.
        prefixes: usize,
        /// Bytes they need.
        need: usize,
        /// Bytes the platform gave.
        have: usize,
    },
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Link(name, e) => write!(f, "link {name}: {e}"),
            Self::DuplicatePeer => f.write_str("two peers share a public key"),
            Self::NoRandomness => f.write_str("no strong random source (fill_random failed): refusing to make keys"),
            Self::RandomnessUnhealthy(test) => {
                write!(f, "the random source failed its start-up health test ({test}): refusing to make keys")
            }
            Self::TooManyPeers { configured } => {
                write!(f, "{configured} peers configured; this crypto PD holds at most {MAX_PEERS}")
            }
            Self::SessionTableTooSmall { peers, holds } => write!(
                f,
                "{peers} peers configured; region session_keys holds {holds} ({} bytes a peer, {} for them all)",
                SessionTable::bytes_for(1) - SessionTable::bytes_for(0),
                SessionTable::bytes_for(*peers)
            ),
            Self::BadSessionTable => f.write_str("region session_keys is not aligned for the session table, or smaller than its workers' gates"),
            Self::NoSharedSessions => f.write_str("crypto workers are linked but region session_keys is not mapped"),
            Self::HeapTooSmall { peers, prefixes, need, have } => write!(
                f,
                "{peers} peers with {prefixes} AllowedIPs networks need {} KiB of heap; this PD has {} KiB \
                 (system.xml: heap_size, heap_per_peer, heap_per_prefix)",
                need / 1024,
                have / 1024
            ),
        }
    }
}

/// boringtun's clocks and random source: this PD's platform (see the crate documentation).
static BORINGTUN_HOOKS: boringtun::platform::Hooks = boringtun::platform::Hooks {
    now_ns: pd_api::now_ns,
    wall_clock_ns: pd_api::wall_clock_ns,
    fill_random: fill_random_or_die,
};

/// boringtun's random source. It cannot fail, so a source that stops working ends the PD.
fn fill_random_or_die(buf: &mut [u8]) {
    if !pd_api::fill_random(buf) {
        panic!("crypto: the random source failed; not making keys without it");
    }
}

/// One WireGuard peer: its tunnel state machine and what the PD knows of it.
struct Peer {
    tunn: Tunn,
    public_key: [u8; 32],
    endpoint: Option<SocketAddr>,
    sessions: Box<PeerSessions>,
    /// When boringtun was first seen to have given up on this peer (its timers then return
    /// ConnectionExpired and run nothing, persistent keepalive included), while it stays so.
    expired_since_ns: Option<u64>,
}

/// A peer's sessions as the data path sees them: what this PD published into the peer's slots
/// of the session table (slot `receiving index % SESSIONS_PER_PEER`) and its own copies of
/// them, keys ready for the AEAD.
struct PeerSessions {
    /// The session each slot was given, if any (kept after the slot is retired for age, so that
    /// it is never published twice: a second publish would restart its counter and window).
    published: [Option<Published>; SESSIONS_PER_PEER],
    /// This PD's copy of each slot (None until first used, or after a change); boxed, as a
    /// copy is 1.2 KiB (ring's expanded keys) and most slots of most peers are never used.
    copies: [Option<Box<WorkerSession>>; SESSIONS_PER_PEER],
}

/// Which session a slot was given: boringtun's indices repeat after 256 handshakes, so the
/// session is known by its receiving index and the first 8 bytes of its receiving key.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Published {
    receiving_index: u32,
    key_prefix: u64,
    /// When it was published (monotonic ns).
    created_ns: u64,
    /// Still in its slot (false: retired past Reject-After-Time while boringtun still holds it).
    live: bool,
}

impl Published {
    fn of(k: &boringtun::noise::SessionKeys, created_ns: u64) -> Self {
        Self { receiving_index: k.receiving_index, key_prefix: key_prefix(&k.receiving_key), created_ns, live: true }
    }

    fn same_session(&self, k: &boringtun::noise::SessionKeys) -> bool {
        self.receiving_index == k.receiving_index && self.key_prefix == key_prefix(&k.receiving_key)
    }
}

fn key_prefix(key: &[u8; 32]) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&key[..8]);
    u64::from_le_bytes(prefix)
}

impl PeerSessions {
    fn new() -> Box<Self> {
        Box::new(Self {
            published: [None; SESSIONS_PER_PEER],
            copies: core::array::from_fn(|_| None),
        })
    }

    /// The copy of the session with `receiving_index`, read again from its slot (of the peer's
    /// `slots`) if that changed.
    fn session<'a>(&'a mut self, slots: &'a [SessionSlot], receiving_index: u32) -> Option<(&'a SessionSlot, &'a WorkerSession)> {
        let s = receiving_index as usize % SESSIONS_PER_PEER;
        if !self.published[s].is_some_and(|p| p.live && p.receiving_index == receiving_index) {
            return None;
        }
        let slot = slots.get(s)?;
        let fresh = matches!(&self.copies[s], Some(c) if c.is_current(slot));
        if !fresh {
            self.copies[s] = slot.read().ok().map(|snapshot| Box::new(WorkerSession::new(snapshot)));
        }
        match &self.copies[s] {
            Some(c) if c.info().receiving_index == receiving_index => Some((slot, c)),
            _ => None,
        }
    }
}

/// What `wg show` would print for one peer (for the operator console).
#[derive(Clone, Debug)]
pub struct PeerStatus {
    /// The peer's public key.
    pub public_key: [u8; 32],
    /// Where its datagrams go (learned from authenticated traffic).
    pub endpoint: Option<SocketAddr>,
    /// Time since the latest handshake.
    pub latest_handshake: Option<core::time::Duration>,
    /// Plaintext bytes sent to / received from the peer.
    pub tx_bytes: usize,
    /// See `tx_bytes`.
    pub rx_bytes: usize,
}

/// The crypto PD.
pub struct Crypto {
    red: Link,
    black: Link,
    /// The tunnel MTU: plaintext is padded to a multiple of 16 bytes, but not beyond it.
    mtu: usize,
    private_key: StaticSecret,
    public_key: PublicKey,
    limiter: Arc<RateLimiter>,
    peers: Vec<Peer>,
    /// The crypto workers, if the system has any ([`workers`]); the next one to give a job.
    workers: Vec<workers::Worker>,
    next_worker: usize,
    /// Jobs dispatched to workers and not yet completed, oldest first.
    inflight: alloc::collections::VecDeque<workers::InFlight>,
    /// Every peer's session slots: in the `session_keys` region when the system has one (the
    /// crypto workers map it too), else in this PD's heap.
    table: SessionTable,
    /// (receiver index tag, peer index), sorted by tag: the peer a handshake response, cookie
    /// reply or data message is for. The tag is the top 24 bits of the 32-bit receiver index
    /// (boringtun numbers each peer's sessions in the low 8 bits); it is random per peer and
    /// per start, so the wire does not reveal a peer's position in the config or the order
    /// peers were added. WireGuard asks for a random index per session: here the sessions of
    /// one peer share the tag until a restart, so they can be linked to each other.
    index_tags: Vec<(u32, usize)>,
    /// Every peer's public key → peer index, sorted: a handshake initiation names its sender
    /// only by key (a scan of the peers cost a few percent of the X25519 before it with 1024).
    peer_keys: Vec<([u8; 32], usize)>,
    /// Every peer's AllowedIPs → peer index: the cryptokey routing table (longest prefix wins;
    /// a prefix given to two peers, which `Config::parse` refuses, goes to the first).
    routes: PrefixTable<usize>,
    /// The message being handled, copied out of the ring (no TOCTOU).
    packet: Box<[u8; SLOT_SIZE]>,
    /// A packet from net_red, copied out of the ring at [`DATA_HEADER_LEN`], where a data
    /// message carries it: sealed where it lies, header before and tag after, with no copy.
    plain: Box<[u8; DATA_OVERHEAD + SLOT_SIZE]>,
    /// Output for handshake messages and timer results.
    scratch: Box<[u8; SLOT_SIZE]>,
    counters: Counters,
    /// Handshakes (completed + answered) already logged as `handshake #N`.
    handshakes_logged: u64,
    /// When boringtun's timers are next due (monotonic ns): they run on the timer PD's tick, or
    /// in any pass of the loop once overdue, so that keys expire and rekeys happen even if the
    /// timer PD stops or load keeps the loop from returning.
    timers_due_ns: u64,
    /// The monotonic clock, read once per pass of the loop: the age the data path judges sessions by
    /// (a batch takes microseconds, Reject-After-Time is 180 s; a read per packet cost 1 %).
    now_ns: u64,
}

/// How often boringtun's timers run: the timer PD's tick.
pub const TIMERS_PERIOD_NS: u64 = 100_000_000;

/// The earliest wall-clock time (seconds since 1970) that can be right: when this PD's source
/// was committed (build.rs). Before it, the PD initiates no handshake: the initiation's TAI64N
/// timestamp would be from the past, which peers refuse, silently.
pub const CLOCK_FLOOR_S: u64 = parse_u64(env!("PD_CRYPTO_CLOCK_FLOOR_S"));

const fn parse_u64(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v = 0u64;
    while i < b.len() {
        v = v * 10 + (b[i] - b'0') as u64;
        i += 1;
    }
    v
}

/// Bytes of the random source's output the start-up health test looks at.
const HEALTH_SAMPLE_BYTES: usize = 1024;
/// The adaptive proportion test's cutoff: one byte value this often in the sample (expected 4
/// times) has a probability far below 2^-40 from a working source.
const HEALTH_MAX_SAME_BYTE: usize = 40;

/// Checks the platform's random source before any key is made, in the manner of NIST SP 800-90B's
/// start-up tests: a repetition count test on 64-bit words (a stuck source, such as RDRAND
/// returning all ones, repeats; a working one repeats with probability 2^-64) and an adaptive
/// proportion test on bytes.
fn random_source_health_test() -> Result<(), InitError> {
    let mut sample = [0u8; HEALTH_SAMPLE_BYTES];
    if !pd_api::fill_random(&mut sample) {
        return Err(InitError::NoRandomness);
    }
    let words: Vec<u64> = sample.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect();
    if words.windows(2).any(|w| w[0] == w[1]) {
        return Err(InitError::RandomnessUnhealthy("repetition count: a 64-bit word repeated"));
    }
    let mut counts = [0usize; 256];
    for &b in &sample {
        counts[b as usize] += 1;
    }
    if counts.iter().any(|&n| n > HEALTH_MAX_SAME_BYTE) {
        return Err(InitError::RandomnessUnhealthy("adaptive proportion: one byte value far too often"));
    }
    Ok(())
}

/// Whether the wall clock can be right (not before [`CLOCK_FLOOR_S`]).
fn wall_clock_plausible() -> bool {
    pd_api::wall_clock_ns() / 1_000_000_000 >= CLOCK_FLOOR_S
}

/// Whether a heap of `have` bytes (None: unbounded, the host) holds `peers` peers with `prefixes`
/// AllowedIPs networks.
pub fn check_heap(peers: usize, prefixes: usize, have: Option<usize>) -> Result<(), InitError> {
    let need = heap_need(peers, prefixes);
    match have {
        Some(have) if have < need => Err(InitError::HeapTooSmall { peers, prefixes, need, have }),
        _ => Ok(()),
    }
}

impl Crypto {
    /// Builds the PD from its configuration and the rings the platform mapped.
    pub fn new(mut config: CryptoConfig) -> Result<Self, InitError> {
        if config.peers.len() > MAX_PEERS {
            return Err(InitError::TooManyPeers { configured: config.peers.len() });
        }
        let prefixes = config.peers.iter().map(|p| p.allowed_ips.len()).sum();
        check_heap(config.peers.len(), prefixes, pd_api::heap_bytes())?;
        random_source_health_test()?;
        boringtun::platform::set_hooks(&BORINGTUN_HOOKS);
        let red = Link::open("red", RED).map_err(|e| InitError::Link("red", e))?;
        let black = Link::open("black", BLACK).map_err(|e| InitError::Link("black", e))?;
        let workers = workers::open_workers()?;
        if !workers.is_empty() && pd_api::memory_region("session_keys").is_none() {
            return Err(InitError::NoSharedSessions);
        }
        let table = match pd_api::memory_region("session_keys") {
            Some(region) => {
                let table = SessionTable::in_region(region).ok_or(InitError::BadSessionTable)?;
                if table.peers() < config.peers.len() {
                    return Err(InitError::SessionTableTooSmall { peers: config.peers.len(), holds: table.peers() });
                }
                // A region outlives the PD: whatever a previous life published (keys included)
                // is wiped before anything new goes in. Its workers are stopped or fresh (the
                // root task restarts crypto and its workers as a group), so no claim is open.
                for p in 0..table.peers() {
                    for slot in table.peer(p).unwrap_or(&[]) {
                        slot.clear_at_start();
                    }
                }
                // Workers a previous life gave up are fresh too.
                for gate in (0..pd_session::MAX_WORKERS).filter_map(|k| table.gate(k)) {
                    gate.reopen();
                }
                table
            }
            None => SessionTable::private(config.peers.len()),
        };
        let private_key = StaticSecret::from(config.private_key);
        let public_key = PublicKey::from(&private_key);
        let limiter = Arc::new(RateLimiter::new(&public_key, HANDSHAKE_RATE_LIMIT));
        // Sized once: a Peer is about 18 KiB (boringtun's Tunn inline), and doubling a vector of
        // them would briefly need three times the room.
        let mut peers: Vec<Peer> = Vec::with_capacity(config.peers.len());
        let routes = cryptokey_routes(config.peers.iter().map(|p| p.allowed_ips.as_slice()));
        let mut peer_keys: Vec<([u8; 32], usize)> = config.peers.iter().enumerate().map(|(i, p)| (p.public_key, i)).collect();
        peer_keys.sort_unstable();
        if peer_keys.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(InitError::DuplicatePeer);
        }
        let mut index_tags: Vec<(u32, usize)> = Vec::new();
        // Taken one by one, so that each peer's preshared key is wiped as its config goes.
        for (i, p) in core::mem::take(&mut config.peers).into_iter().enumerate() {
            let tag = random_index_tag(&index_tags)?;
            index_tags.push((tag, i));
            let tunn = Tunn::new(
                private_key.clone(),
                PublicKey::from(p.public_key),
                p.preshared_key,
                p.persistent_keepalive,
                tag,
                Some(limiter.clone()),
            );
            peers.push(Peer { tunn, public_key: p.public_key, endpoint: p.endpoint, sessions: PeerSessions::new(), expired_since_ns: None });
        }
        index_tags.sort_unstable();
        Ok(Self {
            index_tags,
            peer_keys,
            mtu: usize::from(config.mtu).min(MAX_PLAINTEXT),
            red,
            black,
            private_key,
            public_key,
            limiter,
            peers,
            workers,
            next_worker: 0,
            inflight: alloc::collections::VecDeque::with_capacity(workers::MAX_IN_FLIGHT),
            table,
            routes,
            packet: Box::new([0; SLOT_SIZE]),
            plain: Box::new([0; DATA_OVERHEAD + SLOT_SIZE]),
            scratch: Box::new([0; SLOT_SIZE]),
            counters: Counters::default(),
            handshakes_logged: 0,
            timers_due_ns: pd_api::now_ns() + TIMERS_PERIOD_NS,
            now_ns: pd_api::now_ns(),
        })
    }

    /// The crypto PD as both platforms start it: from the whole config file (keys included) in
    /// its `config` region.
    pub fn start() -> Result<Self, StartError<InitError>> {
        let (crypto, _, _) = encryptor_config::read_config().map_err(StartError::Config)?.into_parts();
        let peers = crypto.peers.len();
        let pd = Self::new(crypto).map_err(StartError::Init)?;
        if !wall_clock_plausible() {
            pd_api::log!(
                "wall clock {} s since 1970 ({}) is before this build ({CLOCK_FLOOR_S} s): not initiating handshakes \
                 until it is set (peers refuse initiations from the past); answering peers' handshakes still works",
                pd_api::wall_clock_ns() / 1_000_000_000,
                pd_api::wall_clock_source()
            );
        }
        pd_api::log!("{peers} peer(s); ChaCha20-Poly1305: {}", pd_session::cpu::aead_path());
        Ok(pd)
    }

    /// Logs `handshake #N` for every handshake completed or answered since the last call (the
    /// demo and the tests count them on the console).
    fn log_handshakes(&mut self) {
        let handshakes = self.counters.handshakes_completed + self.counters.handshakes_answered;
        if handshakes > self.handshakes_logged {
            self.handshakes_logged = handshakes;
            pd_api::log!("handshake #{handshakes}");
        }
    }

    /// This PD's counters.
    pub fn counters_snapshot(&self) -> &Counters {
        &self.counters
    }

    /// Per-peer status, like `wg show`.
    pub fn peer_status(&self) -> Vec<PeerStatus> {
        self.peers
            .iter()
            .map(|p| {
                let (hs, tx, rx, _, _) = p.tunn.stats();
                PeerStatus { public_key: p.public_key, endpoint: p.endpoint, latest_handshake: hs, tx_bytes: tx, rx_bytes: rx }
            })
            .collect()
    }

    /// The peer whose sessions carry `receiver_index`, if any.
    fn peer_of_index(&self, receiver_index: u32) -> Option<usize> {
        let tag = receiver_index >> 8;
        match self.index_tags.binary_search_by_key(&tag, |&(t, _)| t) {
            Ok(k) => Some(self.index_tags[k].1),
            Err(_) => None,
        }
    }

    /// The peer whose public key is `key`, if any.
    fn peer_of_key(&self, key: &[u8; 32]) -> Option<usize> {
        let k = self.peer_keys.binary_search_by(|(have, _)| have.cmp(key)).ok()?;
        Some(self.peer_keys[k].1)
    }

    fn route(&self, dst: IpAddr) -> Option<usize> {
        self.routes.get(dst)
    }

    /// Plaintext from net_red: seal and send (with crypto workers, most packets go to them:
    /// [`workers`]).
    fn drain_red(&mut self) -> Result<(), RingError> {
        // Backpressure: take no input while the output ring is full.
        while self.black.tx.ready() {
            if self.dispatching() {
                if !self.can_dispatch() {
                    return Ok(());
                }
                let taken = match self.red.rx.take() {
                    Ok(Some(t)) => t,
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        self.counters.drop_red_ring_error += 1;
                        return Err(e);
                    }
                };
                self.counters.red_rx_packets += 1;
                if self.dispatch_seal(&taken) {
                    continue;
                }
                // Not for a worker (no session yet, say): handled here, as without workers.
                let len = taken.copy_to(&mut self.plain[DATA_HEADER_LEN..DATA_HEADER_LEN + SLOT_SIZE]);
                if let Err(e) = self.red.rx.release(taken.offset) {
                    self.counters.drop_red_ring_error += 1;
                    return Err(e);
                }
                self.red_packet(len)?;
                continue;
            }
            let window: &mut [u8; SLOT_SIZE] = (&mut self.plain[DATA_HEADER_LEN..DATA_HEADER_LEN + SLOT_SIZE])
                .try_into()
                .unwrap_or_else(|_| unreachable!("the window is SLOT_SIZE bytes"));
            let len = match self.red.rx.recv(window) {
                Ok(Some(len)) => len,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.counters.drop_red_ring_error += 1;
                    return Err(e);
                }
            };
            self.counters.red_rx_packets += 1;
            self.red_packet(len)?;
        }
        Ok(())
    }

    /// A packet from net_red, at `plain[DATA_HEADER_LEN..][..len]`: sealed and sent, or queued
    /// behind a handshake.
    fn red_packet(&mut self, len: usize) -> Result<(), RingError> {
        let Some(dst) = Tunn::dst_address(&self.plain[DATA_HEADER_LEN..DATA_HEADER_LEN + len]) else {
            self.counters.drop_not_ip += 1;
            return Ok(());
        };
        let Some(i) = self.route(dst) else {
            self.counters.drop_no_route += 1;
            return Ok(());
        };
        if len > MAX_PLAINTEXT {
            self.counters.drop_too_big += 1;
            return Ok(());
        }
        // WireGuard's padding (the whitepaper, section 5.4.6): zeros to a multiple of 16
        // bytes, not beyond the MTU, so that ciphertext lengths do not give away exact packet
        // lengths. Receivers cut it off by the IP header's length.
        // IPv6 packets: the tunnel carries 1280 bytes whatever the MTU (RFC 8200).
        let mtu = if dst.is_ipv6() { self.mtu.max(1280) } else { self.mtu };
        let padded = len.next_multiple_of(16).min(mtu).max(len);
        self.plain[DATA_HEADER_LEN + len..DATA_HEADER_LEN + padded].fill(0);
        let packet = &self.plain[DATA_HEADER_LEN..DATA_HEADER_LEN + padded];
        let peer = &mut self.peers[i];
        let c = &mut self.counters;
        let Some(endpoint) = peer.endpoint else {
            // No endpoint yet: boringtun queues it; the initiation has nowhere to go. (Never
            // with a session: boringtun would seal with it, and a published session's
            // counters are the slot's. A session sets the endpoint, so this is only a guard.)
            if peer.tunn.current_session_index().is_none() {
                let _ = peer.tunn.encapsulate(packet, &mut self.scratch[..]);
            }
            c.drop_no_endpoint += 1;
            self.hold_queue_budget();
            return Ok(());
        };
        if peer.tunn.current_session_index().is_some() {
            // Sealed in crypto's own memory, then copied out: sealing in a ring slot would
            // leave each packet in clear, for the time the cipher takes, in memory net_black
            // reads.
            let Some(n) = seal_in_place(peer, slots_of(&self.table, i), c, &mut self.plain[..], padded, self.now_ns) else {
                return Ok(());
            };
            send_to_black(&mut self.black, c, Some(endpoint), &self.plain[..n])?;
            return Ok(());
        }
        // No session: boringtun queues the packet and starts a handshake.
        let len = match peer.tunn.encapsulate(packet, &mut self.scratch[..]) {
            TunnResult::WriteToNetwork(out) if is_initiation(out) && !wall_clock_plausible() => {
                // boringtun keeps the packet queued; the initiation is not sent.
                c.initiations_withheld_clock += 1;
                self.hold_queue_budget();
                return Ok(());
            }
            TunnResult::WriteToNetwork(out) if is_initiation(out) => {
                c.handshake_initiations_sent += 1;
                out.len()
            }
            TunnResult::WriteToNetwork(_) => {
                // boringtun seals only with a session, and there is none.
                c.drop_other_error += 1;
                return Ok(());
            }
            TunnResult::Err(e) => {
                c.count_error(e);
                return Ok(());
            }
            // Queued behind a handshake already in progress.
            _ => {
                self.hold_queue_budget();
                return Ok(());
            }
        };
        // The packet that started the handshake waits in boringtun's queue.
        self.hold_queue_budget();
        self.send_scratch(Some(endpoint), len)
    }

    /// Bytes of plaintext waiting for handshakes, all peers together (each tunnel keeps its own
    /// count: O(peers)).
    pub fn queued_bytes(&self) -> usize {
        self.peers.iter().map(|p| p.tunn.queued_bytes()).sum()
    }

    /// Keeps [`Self::queued_bytes`] within [`QUEUE_BUDGET_BYTES`]: drops the oldest packet of the
    /// peer holding the most until it fits (counted as `drop_queue_budget`).
    fn hold_queue_budget(&mut self) {
        let mut total = self.queued_bytes();
        while total > QUEUE_BUDGET_BYTES {
            let Some(peer) = self.peers.iter_mut().max_by_key(|p| p.tunn.queued_bytes()) else { break };
            let Some(len) = peer.tunn.drop_oldest_queued() else { break };
            total -= len;
            self.counters.drop_queue_budget += 1;
        }
    }

    /// Sends the message in `scratch` to `endpoint` (see [`send_to_black`]).
    fn send_scratch(&mut self, endpoint: Option<SocketAddr>, len: usize) -> Result<(), RingError> {
        send_to_black(&mut self.black, &mut self.counters, endpoint, &self.scratch[..len])
    }

    /// After a handshake event: publishes the peer's sessions for the data path (new ones into
    /// their slots, gone ones out), then seals and sends what boringtun queued while there was
    /// no session. Publishing comes first: from then on only the slots' counters are used.
    fn sessions_changed(&mut self, i: usize) {
        if publish_sessions(&mut self.peers[i], slots_of(&self.table, i), i as u32, self.now_ns) {
            self.nudge_workers();
        }
        let endpoint = self.peers[i].endpoint;
        loop {
            // Queued packets stay queued while there is no session to seal them with.
            let peer = &mut self.peers[i];
            let Some(index) = peer.tunn.current_session_index() else { return };
            if peer.sessions.session(slots_of(&self.table, i), index).is_none() {
                return;
            }
            let Some(packet) = peer.tunn.take_queued_packet() else { return };
            if packet.len() > MAX_PLAINTEXT {
                self.counters.drop_too_big += 1;
                continue;
            }
            let Some(n) = seal_data(&mut self.peers[i], slots_of(&self.table, i), &mut self.counters, &packet, &mut self.scratch[..], self.now_ns) else {
                continue;
            };
            // A ring error is counted there; what follows does not depend on this message.
            let _ = self.send_scratch(endpoint, n);
        }
    }

    /// Datagrams from net_black: authenticate, open, forward.
    fn drain_black(&mut self) -> Result<(), RingError> {
        while self.red.tx.ready() && self.black.tx.ready() {
            if self.dispatching() {
                if !self.can_dispatch() {
                    return Ok(());
                }
                let taken = match self.black.rx.take() {
                    Ok(Some(t)) => t,
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        self.counters.drop_black_ring_error += 1;
                        return Err(e);
                    }
                };
                self.counters.black_rx_datagrams += 1;
                if self.dispatch_open(&taken) {
                    continue;
                }
                // Handshakes, cookies, and data without a published session: handled here.
                let len = taken.copy_to(&mut self.packet[..]);
                if let Err(e) = self.black.rx.release(taken.offset) {
                    self.counters.drop_black_ring_error += 1;
                    return Err(e);
                }
                self.handle_datagram(len);
                continue;
            }
            let len = match self.black.rx.recv(&mut self.packet) {
                Ok(Some(len)) => len,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.counters.drop_black_ring_error += 1;
                    return Err(e);
                }
            };
            self.counters.black_rx_datagrams += 1;
            self.handle_datagram(len);
        }
        Ok(())
    }

    fn handle_datagram(&mut self, len: usize) {
        let Some((EndpointHeader(src), datagram)) = EndpointHeader::parse(&self.packet[..len]) else {
            self.counters.drop_bad_header += 1;
            return;
        };
        let datagram_len = datagram.len();
        // Rate limiting and MAC1 first, before any expensive work (DoS protection).
        let packet = match self.limiter.verify_packet(Some(src.ip()), datagram, &mut self.scratch[..]) {
            Ok(packet) => packet,
            Err(TunnResult::WriteToNetwork(cookie)) => {
                let n = cookie.len();
                self.counters.cookie_replies_sent += 1;
                // A ring error is counted there; what follows does not depend on this message.
                let _ = self.send_scratch(Some(src), n);
                return;
            }
            Err(TunnResult::Err(e)) => {
                self.counters.count_error(e);
                return;
            }
            Err(_) => {
                self.counters.drop_other_error += 1;
                return;
            }
        };
        let peer_index = match &packet {
            Packet::HandshakeInit(init) => match parse_handshake_anon(&self.private_key, &self.public_key, init) {
                Ok(half) => match self.peer_of_key(&half.peer_static_public) {
                    Some(i) => Some(i),
                    None => {
                        self.counters.drop_unknown_peer += 1;
                        return;
                    }
                },
                Err(e) => {
                    self.counters.count_error(e);
                    return;
                }
            },
            Packet::HandshakeResponse(p) => self.peer_of_index(p.receiver_idx),
            Packet::PacketCookieReply(p) => self.peer_of_index(p.receiver_idx),
            Packet::PacketData(p) => self.peer_of_index(p.receiver_idx),
        };
        let Some(peer_index) = peer_index else {
            self.counters.drop_bad_index += 1;
            return;
        };
        let kind = self.packet[ENDPOINT_HEADER_LEN];
        if matches!(packet, Packet::PacketData(_)) {
            self.open_data(peer_index, src, datagram_len);
            return;
        }
        // Handshake or cookie message: any reply goes back to the network. Checked with the
        // limiter above, once: decapsulate would count it again and, at the limit's edge, answer
        // with a cookie reply, which is no proof that the sender is the peer.
        let peer = &mut self.peers[peer_index];
        match peer.tunn.handle_verified_packet(packet, &mut self.scratch[..]) {
            TunnResult::WriteToNetwork(out) => {
                let n = out.len();
                // A handshake response to an authenticated initiation, or the keepalive that
                // confirms a response: the sender holds the peer's key (or replays one of its
                // messages, which boringtun refuses before answering).
                peer.endpoint = Some(src);
                match kind {
                    MSG_HANDSHAKE_INITIATION => self.counters.handshakes_answered += 1,
                    MSG_HANDSHAKE_RESPONSE => self.counters.handshakes_completed += 1,
                    _ => {}
                }
                // A ring error is counted there; what follows does not depend on this message.
                let _ = self.send_scratch(Some(src), n);
                self.sessions_changed(peer_index);
            }
            TunnResult::Done => {
                if kind == MSG_HANDSHAKE_RESPONSE {
                    peer.endpoint = Some(src);
                    self.counters.handshakes_completed += 1;
                    self.sessions_changed(peer_index);
                }
            }
            TunnResult::Err(e) => self.counters.count_error(e),
            TunnResult::WriteToTunnelV4(..) | TunnResult::WriteToTunnelV6(..) => self.counters.drop_wrong_state += 1,
        }
    }

    /// A data message: open it in place (this PD's copy of it, `packet`) and send the plaintext
    /// to net_red.
    fn open_data(&mut self, i: usize, src: SocketAddr, datagram_len: usize) {
        let c = &mut self.counters;
        let peer = &mut self.peers[i];
        let msg = &mut self.packet[ENDPOINT_HEADER_LEN..ENDPOINT_HEADER_LEN + datagram_len];
        let Some(index) = pd_session::transport::receiver_index(msg) else {
            c.drop_invalid_packet += 1;
            return;
        };
        let Some((slot, session)) = peer.sessions.session(slots_of(&self.table, i), index) else {
            c.drop_no_session += 1;
            return;
        };
        let len = match session.open(slot, msg, self.now_ns) {
            Ok(len) => len,
            Err(e) => {
                count_open_error(c, e);
                return;
            }
        };
        // Authenticated: the peer may roam to a new endpoint, and its timers hear of it (as
        // boringtun's own open does: any message counts as received, a packet as data).
        peer.endpoint = Some(src);
        if len == 0 {
            peer.tunn.note_data_received(index, 0);
            c.keepalives_rx += 1;
            return;
        }
        c.opened_packets += 1;
        let plaintext = &msg[DATA_HEADER_LEN..DATA_HEADER_LEN + len];
        // The packet as its IP header sizes it (the sender's padding cut off); it must hold that
        // header whole, and its source must be in the peer's AllowedIPs.
        let Some((out_len, inner_src)) = pd_session::transport::inner_packet(plaintext) else {
            peer.tunn.note_data_received(index, 0);
            c.drop_malformed_inner += 1;
            return;
        };
        peer.tunn.note_data_received(index, out_len);
        // Cryptokey routing: the source must route back to this peer (a source in a longer
        // prefix of another peer is that peer's, as WireGuard has it).
        if self.routes.get(inner_src) != Some(i) {
            c.drop_source_not_allowed += 1;
            return;
        }
        let sent = self.red.tx.send_with(|slot| {
            slot[..out_len].copy_from_slice(&plaintext[..out_len]);
            Some(out_len)
        });
        match sent {
            Ok(true) => self.counters.red_tx_packets += 1,
            Ok(false) if !self.red.tx.has_room() => self.counters.drop_red_ring_full += 1,
            // Room, but the ring is detached (net_red restarting).
            Ok(false) => {}
            Err(_) => self.counters.drop_red_ring_error += 1,
        }
    }

    /// Timer tick: boringtun's timers for every peer, and the rate limiter's window.
    fn tick(&mut self) {
        self.limiter.reset_count();
        self.give_up_silent_workers();
        let mut changed = false;
        for i in 0..self.peers.len() {
            // Sessions boringtun dropped, or past Reject-After-Time, leave the slots (keys wiped).
            changed |= publish_sessions(&mut self.peers[i], slots_of(&self.table, i), i as u32, self.now_ns);
            // One message a tick at most, as boringtun's timers give it.
            let endpoint = self.peers[i].endpoint;
            let mut expired = false;
            match self.peers[i].tunn.update_timers(&mut self.scratch[..]) {
                TunnResult::WriteToNetwork(out) if is_initiation(out) && !wall_clock_plausible() => {
                    self.counters.initiations_withheld_clock += 1;
                }
                TunnResult::WriteToNetwork(out) if out.first() == Some(&MSG_TRANSPORT_DATA) => {
                    // A keepalive boringtun sealed with a published session's own counter:
                    // thrown away unsent, and sealed again from the slot.
                    out.fill(0);
                    let peer = &mut self.peers[i];
                    if let Some(n) = seal_data(peer, slots_of(&self.table, i), &mut self.counters, &[], &mut self.scratch[..], self.now_ns) {
                        let _ = self.send_scratch(endpoint, n);
                    }
                }
                TunnResult::WriteToNetwork(out) => {
                    let n = out.len();
                    if is_initiation(out) {
                        self.counters.handshake_initiations_sent += 1;
                    }
                    // A ring error is counted there; what follows does not depend on this message.
                    let _ = self.send_scratch(endpoint, n);
                }
                TunnResult::Err(WireGuardError::ConnectionExpired) => {
                    // boringtun dropped every session: so does the data path.
                    changed |= publish_sessions(&mut self.peers[i], slots_of(&self.table, i), i as u32, self.now_ns);
                    expired = true;
                }
                // A new handshake under way changes no session until it completes.
                TunnResult::Err(e) => {
                    self.counters.count_error(e);
                }
                _ => {}
            }
            if expired {
                self.retry_given_up_peer(i, endpoint);
            } else {
                self.peers[i].expired_since_ns = None;
            }
        }
        if changed {
            self.nudge_workers();
        }
    }

    /// A peer boringtun gave up on (no answer for REKEY_ATTEMPT_TIME, or no new session for
    /// three times Reject-After-Time): boringtun then runs none of its timers until red traffic
    /// comes, so a peer behind NAT that was down for longer would never be reached again. As
    /// Linux's WireGuard does, a persistent keepalive's interval after giving up starts a new
    /// handshake (whose own retries boringtun then runs, giving up again after 90 s).
    fn retry_given_up_peer(&mut self, i: usize, endpoint: Option<SocketAddr>) {
        let peer = &mut self.peers[i];
        let since = *peer.expired_since_ns.get_or_insert(self.now_ns);
        let Some(interval) = peer.tunn.persistent_keepalive() else { return };
        if endpoint.is_none() || self.now_ns.saturating_sub(since) < u64::from(interval) * 1_000_000_000 {
            return;
        }
        peer.expired_since_ns = None;
        // Not even started (its retries cost a Diffie-Hellman each) while an initiation would be
        // withheld for the clock (start_handshake checks it too, but counts nothing).
        if !wall_clock_plausible() {
            self.counters.initiations_withheld_clock += 1;
            return;
        }
        if let Some(n) = start_handshake(peer, &mut self.counters, &mut self.scratch[..]) {
            // A ring error is counted there.
            let _ = self.send_scratch(endpoint, n);
        }
    }
}

/// Sends a finished message (ciphertext or handshake, from this PD's memory) to `endpoint`: the
/// only way anything reaches the black ring, so only finished messages ever lie there.
fn send_to_black(black: &mut Link, c: &mut Counters, endpoint: Option<SocketAddr>, msg: &[u8]) -> Result<(), RingError> {
    let Some(endpoint) = endpoint else {
        c.drop_no_endpoint += 1;
        return Ok(());
    };
    let sent = black.tx.send_with(|slot| {
        EndpointHeader(endpoint).emit(slot);
        slot[ENDPOINT_HEADER_LEN..ENDPOINT_HEADER_LEN + msg.len()].copy_from_slice(msg);
        Some(ENDPOINT_HEADER_LEN + msg.len())
    });
    match sent {
        Ok(true) => c.black_tx_datagrams += 1,
        Ok(false) => c.drop_black_ring_full += 1,
        Err(e) => {
            c.drop_black_ring_error += 1;
            return Err(e);
        }
    }
    Ok(())
}

/// Seals `plaintext` for `peer` with its current session into `out` (private memory): the
/// length of the message to send, or None with the drop counted. A session past
/// Reject-After-Time (the peer did not rekey) drops the packet and, if none is under way,
/// starts a handshake: the message is then that initiation.
fn seal_data(peer: &mut Peer, slots: &[SessionSlot], c: &mut Counters, plaintext: &[u8], out: &mut [u8], now_ns: u64) -> Option<usize> {
    let len = plaintext.len();
    if out.len() < len + DATA_OVERHEAD {
        c.drop_too_big += 1;
        return None;
    }
    out[DATA_HEADER_LEN..DATA_HEADER_LEN + len].copy_from_slice(plaintext);
    seal_in_place(peer, slots, c, out, len, now_ns)
}

/// [`seal_data`] for plaintext that already lies at `buf[DATA_HEADER_LEN..][..len]`.
fn seal_in_place(peer: &mut Peer, slots: &[SessionSlot], c: &mut Counters, out: &mut [u8], len: usize, now_ns: u64) -> Option<usize> {
    let Some(index) = peer.tunn.current_session_index() else {
        c.drop_no_session += 1;
        return None;
    };
    let Some((slot, session)) = peer.sessions.session(slots, index) else {
        // Published right after boringtun makes it; retired past Reject-After-Time.
        out[DATA_HEADER_LEN..DATA_HEADER_LEN + len].fill(0);
        c.drop_no_session += 1;
        return start_handshake(peer, c, out);
    };
    match session.seal(slot, out, len, now_ns) {
        Ok(n) => {
            peer.tunn.note_data_sent(len);
            if len == 0 {
                c.keepalives_sent += 1;
            } else {
                c.sealed_packets += 1;
            }
            Some(n)
        }
        Err(SealError::TooBig) => {
            c.drop_too_big += 1;
            None
        }
        Err(SealError::Stale) => {
            out[DATA_HEADER_LEN..DATA_HEADER_LEN + len].fill(0);
            c.drop_no_session += 1;
            None
        }
        Err(SealError::Expired) => {
            out[DATA_HEADER_LEN..DATA_HEADER_LEN + len].fill(0);
            c.drop_no_session += 1;
            start_handshake(peer, c, out)
        }
    }
}

/// A handshake initiation in `out` if none is under way (boringtun's rule) and the wall clock
/// can be right: its length.
fn start_handshake(peer: &mut Peer, c: &mut Counters, out: &mut [u8]) -> Option<usize> {
    if !wall_clock_plausible() {
        return None;
    }
    match peer.tunn.format_handshake_initiation(out, false) {
        TunnResult::WriteToNetwork(m) if is_initiation(m) => {
            c.handshake_initiations_sent += 1;
            Some(m.len())
        }
        _ => None,
    }
}

/// The session slots of peer `i` (the table holds every configured peer: checked at start).
fn slots_of(table: &SessionTable, i: usize) -> &[SessionSlot] {
    table.peer(i).unwrap_or(&[])
}

/// Mirrors the sessions boringtun holds for peer `p` in its `slots`: a session boringtun has in
/// its ring position `s` and slot `s` was not given is published there (the one before, if
/// any, is gone from boringtun); a slot whose session boringtun dropped, or which is past
/// Reject-After-Time, is retired (its keys overwritten). A session is published at most once:
/// publishing restarts the slot's counter from boringtun's, which would repeat nonces.
/// Returns whether a slot changed (a session published, replaced or retired): the workers'
/// copies of the old one are then stale, and their keys should go.
fn publish_sessions(peer: &mut Peer, slots: &[SessionSlot], p: u32, now_ns: u64) -> bool {
    if slots.len() < SESSIONS_PER_PEER {
        return false;
    }
    let mut changed = false;
    let sessions = &mut peer.sessions;
    let mut held = [false; SESSIONS_PER_PEER];
    for k in peer.tunn.session_keys() {
        let s = k.receiving_index as usize % SESSIONS_PER_PEER;
        if sessions.published[s].is_some_and(|old| old.same_session(&k)) {
            held[s] = true;
            continue;
        }
        let info = SessionInfo {
            peer: p,
            receiving_index: k.receiving_index,
            sending_index: k.sending_index,
            created_ns: now_ns,
            receiving_key: k.receiving_key,
            sending_key: k.sending_key,
        };
        sessions.copies[s] = None;
        held[s] = true;
        changed = true;
        // Busy: a worker is claiming a counter of the slot's old session; the slot is left
        // unusable and unrecorded, so the next call (the next handshake event, or the next
        // timer tick at most 100 ms later) publishes again. Meanwhile the session has no
        // published slot: its packets are dropped (drop_no_session; one red packet starts a
        // handshake as with an expired session). Rare: a claim is a few instructions.
        sessions.published[s] = match slots[s].publish(&info, k.next_counter) {
            Ok(()) => Some(Published::of(&k, now_ns)),
            Err(SlotBusy) => None,
        };
    }
    for s in 0..SESSIONS_PER_PEER {
        let Some(published) = sessions.published[s] else { continue };
        let expired = published.live && now_ns.saturating_sub(published.created_ns) >= REJECT_AFTER_TIME_NS;
        if !held[s] || expired {
            changed = true;
            if published.live && slots[s].retire() == Err(SlotBusy) {
                // Unusable meanwhile (see above); retired again on the next call.
                sessions.copies[s] = None;
                continue;
            }
            sessions.copies[s] = None;
            sessions.published[s] = if held[s] { Some(Published { live: false, ..published }) } else { None };
        }
    }
    changed
}

fn count_open_error(c: &mut Counters, e: OpenError) {
    let counter = match e {
        OpenError::Malformed => &mut c.drop_invalid_packet,
        OpenError::Replay(ReplayError::Replayed) => &mut c.drop_replay,
        OpenError::Replay(ReplayError::TooOld | ReplayError::TooLarge) => &mut c.drop_bad_counter,
        OpenError::Aead => &mut c.drop_bad_aead,
        OpenError::WrongIndex | OpenError::Stale | OpenError::Expired => &mut c.drop_no_session,
    };
    *counter += 1;
}

/// A random 24-bit receiver index tag that no peer in `taken` has.
fn random_index_tag(taken: &[(u32, usize)]) -> Result<u32, InitError> {
    // With 2^24 tags, a collision is rare; a bounded number of draws keeps start-up finite.
    for _ in 0..64 {
        let mut bytes = [0u8; 4];
        if !pd_api::fill_random(&mut bytes) {
            return Err(InitError::NoRandomness);
        }
        let tag = u32::from_le_bytes(bytes) >> 8;
        if !taken.iter().any(|&(t, _)| t == tag) {
            return Ok(tag);
        }
    }
    Err(InitError::NoRandomness)
}

impl Handler for Crypto {
    type Error = RingError;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), RingError> {
        // Crypto keeps its own clock: the timers run on the tick, and in any pass once overdue.
        let now = pd_api::now_ns();
        self.now_ns = now;
        if channels.contains(TIMER) {
            self.tick();
            self.timers_due_ns = now + TIMERS_PERIOD_NS;
        }
        // Drain until both inputs are empty with signals armed: no lost wake-ups.
        let mut result = Ok(());
        loop {
            // Sessions' ages are judged by this: fresh for each pass under sustained load.
            self.now_ns = pd_api::now_ns();
            // Overdue timers run here, in every pass: under sustained load this loop does not
            // return, and the tick that would run them waits behind it (rekeys, handshake
            // retries, the retiring of expired sessions and the silent-worker check with it).
            if self.now_ns >= self.timers_due_ns {
                self.counters.timers_run_without_tick += 1;
                self.tick();
                self.timers_due_ns = self.now_ns + TIMERS_PERIOD_NS;
            }
            // Workers' results first: they free ring slots and jobs for this pass.
            self.collect();
            if let Err(e) = self.drain_red() {
                result = Err(e);
            }
            if let Err(e) = self.drain_black() {
                result = Err(e);
            }
            self.flush_workers();
            self.red.signal_peer();
            self.black.signal_peer();
            self.signal_workers();
            // Input left behind a full output waits for that output's free signal, and input
            // left for want of a worker's room waits for its results.
            let room = !self.dispatching() || self.can_dispatch();
            let more_red = self.red.arm() && self.black.tx.ready() && room;
            let more_black = self.black.arm() && self.red.tx.ready() && self.black.tx.ready() && room;
            let more_results = self.arm_workers();
            if !(more_red || more_black || more_results) || result.is_err() {
                break;
            }
        }
        self.log_handshakes();
        result
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        self.counters.report(report);
    }

    /// One line per peer, as `wg show` gives: public key, endpoint, latest handshake, transfer.
    fn status(&self, report: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
        report(format_args!("interface public key {}", encryptor_config::PublicKeyText::new(self.public_key.as_bytes())));
        let (now, source) = (pd_api::wall_clock_ns() / 1_000_000_000, pd_api::wall_clock_source());
        if wall_clock_plausible() {
            report(format_args!("wall clock {now} s since 1970 ({source})"));
        } else {
            report(format_args!(
                "wall clock {now} s since 1970 ({source}) is before this build ({CLOCK_FLOOR_S}): not initiating handshakes"
            ));
        }
        self.workers_status(report);
        // The count first: with many peers the page (4 KiB) cuts the list, and says so (`...`).
        let peers = self.peer_status();
        let sessions = peers.iter().filter(|p| p.latest_handshake.is_some()).count();
        report(format_args!("peers {} configured, {sessions} with a handshake", peers.len()));
        for (i, p) in peers.iter().enumerate() {
            let key = encryptor_config::PublicKeyText::new(&p.public_key);
            let endpoint = EndpointText(p.endpoint);
            let (rx, tx) = (p.rx_bytes, p.tx_bytes);
            match p.latest_handshake {
                Some(ago) => report(format_args!(
                    "peer {i} {key} endpoint {endpoint} latest-handshake {} s ago transfer {rx} B received, {tx} B sent",
                    ago.as_secs()
                )),
                None => report(format_args!("peer {i} {key} endpoint {endpoint} latest-handshake never transfer {rx} B received, {tx} B sent")),
            }
        }
    }
}

/// An endpoint for status lines: the address, or `(none)` before the peer was heard from.
struct EndpointText(Option<SocketAddr>);

impl core::fmt::Display for EndpointText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("(none)"),
        }
    }
}
