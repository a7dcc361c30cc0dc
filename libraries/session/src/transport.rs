//! Sealing and opening WireGuard transport data messages outside boringtun (the whitepaper,
//! section 5.4.6): type 4, three zero bytes, the receiver's index (LE), the counter (LE 64),
//! then ChaCha20-Poly1305 of the padded packet under the session's key, with the counter as
//! the nonce's last 8 bytes and no associated data.
//!
//! Both directions work in the worker's private memory: the plaintext is sealed where it lies
//! and only then may the caller copy the message to a ring the black side reads; a message is
//! copied out of the black side's ring first and opened in the copy.

use crate::replay::ReplayError;
use crate::table::{ClaimError, SessionInfo, SessionSlot, Snapshot};
use core::mem::MaybeUninit;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};

/// Bytes before the ciphertext: type, reserved, receiver index, counter.
pub const DATA_HEADER_LEN: usize = 16;
/// The AEAD's tag after the ciphertext.
pub const TAG_LEN: usize = 16;
/// What a data message adds to its plaintext.
pub const DATA_OVERHEAD: usize = DATA_HEADER_LEN + TAG_LEN;
/// WireGuard's message type for transport data.
pub const MSG_TRANSPORT_DATA: u8 = 4;
/// WireGuard's Reject-After-Time: no message is sealed or opened with an older session.
pub const REJECT_AFTER_TIME_NS: u64 = 180_000_000_000;

/// Why a worker could not seal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The slot holds another session now: read it again.
    Stale,
    /// The session is older than Reject-After-Time, or its counters are used up: it needs a
    /// handshake.
    Expired,
    /// The buffer cannot hold the header, the plaintext and the tag.
    TooBig,
}

/// Why a worker did not open a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Not a transport data message, or shorter than one can be.
    Malformed,
    /// For another session than this one.
    WrongIndex,
    /// The counter was refused (replayed, too old, too large).
    Replay(ReplayError),
    /// The tag did not verify: forged or corrupted, or under another key.
    Aead,
    /// The slot holds another session now: the message is dropped.
    Stale,
    /// The session is older than Reject-After-Time.
    Expired,
}

/// The receiver index of a transport data message, for finding its session (None if `msg` is
/// not one).
pub fn receiver_index(msg: &[u8]) -> Option<u32> {
    if msg.len() < DATA_OVERHEAD || msg[0] != MSG_TRANSPORT_DATA || msg[1..4] != [0, 0, 0] {
        return None;
    }
    Some(u32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]))
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aead_key(bytes: &[u8; 32]) -> LessSafeKey {
    // ChaCha20-Poly1305 takes any 32 bytes; ring fails only on a wrong length.
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, bytes).unwrap_or_else(|_| unreachable!()))
}

/// A ring AEAD key whose memory is overwritten when it goes. ring's key types hold the raw
/// ChaCha20 key and wipe nothing on drop: every session copy dropped (retired, replaced) left
/// both keys in freed heap.
struct WipedKey(MaybeUninit<LessSafeKey>);

impl WipedKey {
    fn new(bytes: &[u8; 32]) -> Self {
        Self(MaybeUninit::new(aead_key(bytes)))
    }

    fn get(&self) -> &LessSafeKey {
        // SAFETY: initialised in new; only drop ends that, and nothing reads it after.
        unsafe { self.0.assume_init_ref() }
    }
}

impl Drop for WipedKey {
    fn drop(&mut self) {
        // SAFETY: initialised in new and dropped here once; afterwards the storage is only
        // written, as bytes (MaybeUninit<LessSafeKey> is plain memory of its size).
        unsafe {
            self.0.assume_init_drop();
            let bytes = self.0.as_mut_ptr().cast::<u8>();
            for i in 0..core::mem::size_of::<LessSafeKey>() {
                core::ptr::write_volatile(bytes.add(i), 0);
            }
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }
}

/// A worker's session: a consistent copy of a slot, its keys ready for the AEAD (wiped when
/// the copy goes, as the snapshot's are).
pub struct WorkerSession {
    snapshot: Snapshot,
    opener: WipedKey,
    sealer: WipedKey,
}

impl WorkerSession {
    /// Prepares the keys of `snapshot` (from [`SessionSlot::read`]).
    pub fn new(snapshot: Snapshot) -> Self {
        let opener = WipedKey::new(&snapshot.info.receiving_key);
        let sealer = WipedKey::new(&snapshot.info.sending_key);
        Self { snapshot, opener, sealer }
    }

    /// The session's indices and keys, as published.
    pub fn info(&self) -> &SessionInfo {
        &self.snapshot.info
    }

    /// Whether the slot still holds this session.
    pub fn is_current(&self, slot: &SessionSlot) -> bool {
        slot.seq() == self.snapshot.seq
    }

    fn expired(&self, now_ns: u64) -> bool {
        now_ns.saturating_sub(self.snapshot.info.created_ns) >= REJECT_AFTER_TIME_NS
    }

    /// Seals the `len` bytes of plaintext at `buf[DATA_HEADER_LEN..]` in place with the next
    /// counter of `slot` (which must be the slot this session was read from), writes the header
    /// before and the tag after, and returns the message's length.
    pub fn seal(&self, slot: &SessionSlot, buf: &mut [u8], len: usize, now_ns: u64) -> Result<usize, SealError> {
        let total = DATA_OVERHEAD + len;
        if buf.len() < total {
            return Err(SealError::TooBig);
        }
        if self.expired(now_ns) {
            return Err(SealError::Expired);
        }
        let counter = match slot.claim_counter(&self.snapshot) {
            Some(n) => n,
            None if !self.is_current(slot) => return Err(SealError::Stale),
            None => return Err(SealError::Expired),
        };
        buf[0] = MSG_TRANSPORT_DATA;
        buf[1..4].fill(0);
        buf[4..8].copy_from_slice(&self.snapshot.info.sending_index.to_le_bytes());
        buf[8..16].copy_from_slice(&counter.to_le_bytes());
        let (body, rest) = buf[DATA_HEADER_LEN..].split_at_mut(len);
        let tag = self
            .sealer
            .get()
            .seal_in_place_separate_tag(nonce(counter), Aad::empty(), body)
            .unwrap_or_else(|_| unreachable!("ChaCha20-Poly1305 seals any length a slot holds"));
        rest[..TAG_LEN].copy_from_slice(tag.as_ref());
        Ok(total)
    }

    /// Opens the data message `msg` (a private copy) in place: on success the plaintext is
    /// `msg[DATA_HEADER_LEN..DATA_HEADER_LEN + n]` and `n` is returned. The counter is checked
    /// against the slot's shared window before the AEAD (replays cost no decryption) and claimed
    /// after it (a forgery cannot block the real message).
    pub fn open(&self, slot: &SessionSlot, msg: &mut [u8], now_ns: u64) -> Result<usize, OpenError> {
        let index = receiver_index(msg).ok_or(OpenError::Malformed)?;
        if index != self.snapshot.info.receiving_index {
            return Err(OpenError::WrongIndex);
        }
        if self.expired(now_ns) {
            return Err(OpenError::Expired);
        }
        let mut c = [0u8; 8];
        c.copy_from_slice(&msg[8..16]);
        let counter = u64::from_le_bytes(c);
        slot.replay().check(counter).map_err(OpenError::Replay)?;
        let body_len = msg.len() - DATA_OVERHEAD;
        let (body, tag) = msg[DATA_HEADER_LEN..].split_at_mut(body_len);
        let tag = Tag::try_from(&tag[..]).map_err(|_| OpenError::Malformed)?;
        self.opener
            .get()
            .open_in_place_separate_tag(nonce(counter), Aad::empty(), tag, body, 0..)
            .map_err(|_| OpenError::Aead)?;
        let n = body.len();
        // Claimed in this session's window, or not at all (SessionSlot::claim_received).
        if let Err(e) = slot.claim_received(&self.snapshot, counter) {
            body.fill(0);
            return Err(match e {
                ClaimError::Stale => OpenError::Stale,
                ClaimError::Replay(e) => OpenError::Replay(e),
            });
        }
        Ok(n)
    }
}

/// The length an opened packet's IP header gives it (padding after it cut off) and its source
/// address; None if it is not an IP packet that holds its own header whole and its stated
/// length. (WireGuard delivers a packet only if this source is one of the peer's AllowedIPs.)
pub fn inner_packet(packet: &[u8]) -> Option<(usize, core::net::IpAddr)> {
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
            let src: [u8; 4] = packet[12..16].try_into().ok()?;
            (ihl >= 20 && total >= ihl && total <= packet.len()).then_some((total, core::net::IpAddr::from(src)))
        }
        Some(6) if packet.len() >= 40 => {
            let total = 40 + usize::from(u16::from_be_bytes([packet[4], packet[5]]));
            let src: [u8; 16] = packet[8..24].try_into().ok()?;
            (total <= packet.len()).then_some((total, core::net::IpAddr::from(src)))
        }
        _ => None,
    }
}

/// An IP packet's destination address, if it holds the fixed part of its header.
pub fn inner_destination(packet: &[u8]) -> Option<core::net::IpAddr> {
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => Some(core::net::IpAddr::from(<[u8; 4]>::try_from(&packet[16..20]).ok()?)),
        Some(6) if packet.len() >= 40 => Some(core::net::IpAddr::from(<[u8; 16]>::try_from(&packet[24..40]).ok()?)),
        _ => None,
    }
}
