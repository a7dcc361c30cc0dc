//! The port page: what a NIC PD tells its stack PD about its port, so that the stack uses the
//! address the NIC filters on (one MAC per port: the NIC's own, from its EEPROM) and knows
//! whether the link is up.
//!
//! Layout: two 64-bit words, written by the NIC PD only (the stack PD maps the page read-only).
//! - `MAC` (offset 0): bit 63 set once the address is published, bits 47:0 the address (byte 0
//!   of the address in bits 7:0).
//! - `LINK` (offset 8): bit 63 set once the link state is published, bit 62 link up, bits 61:32
//!   a count of link changes, bits 31:0 the speed in Mbit/s.
//!
//! Each word is one atomic store (Release) and one atomic load (Acquire): a reader never sees a
//! torn value, and a word's meaning does not depend on the other's. A NIC without an address of
//! its own (the host runtime's TAP devices) publishes no MAC, and the stack keeps the one its
//! config gives.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

/// Bytes of the page that carry meaning.
pub const PORT_PAGE_BYTES: usize = 16;

const PUBLISHED: u64 = 1 << 63;
const LINK_UP: u64 = 1 << 62;
const CHANGES_SHIFT: u32 = 32;
const CHANGES_MASK: u64 = (1 << 30) - 1;

/// What a port page says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortInfo {
    /// The port's station address, once published.
    pub mac: Option<[u8; 6]>,
    /// The link state, once published.
    pub link: Option<LinkInfo>,
}

/// A port's link state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkInfo {
    /// Carrier: the link is up.
    pub up: bool,
    /// Speed in Mbit/s (0 when down).
    pub speed_mbps: u32,
    /// How many times the link changed since the NIC PD started (wraps at 2^30).
    pub changes: u32,
}

/// A mapped port page, for its writer (the NIC PD) or its reader (the stack PD).
#[derive(Clone, Copy, Debug)]
pub struct PortPage {
    words: NonNull<AtomicU64>,
}

// SAFETY: the page is reached only through atomics (see `from_raw`'s contract).
unsafe impl Send for PortPage {}

impl PortPage {
    /// The port page at `base`, `len` bytes; `None` if it is smaller than [`PORT_PAGE_BYTES`] or
    /// not 8-byte aligned.
    ///
    /// # Safety
    /// `base..base+len` stays mapped for as long as the page is used, and every other user of it
    /// goes through this type (atomic words only).
    pub unsafe fn from_raw(base: NonNull<u8>, len: usize) -> Option<Self> {
        (len >= PORT_PAGE_BYTES && base.as_ptr() as usize % 8 == 0).then_some(Self { words: base.cast() })
    }

    fn word(&self, index: usize) -> &AtomicU64 {
        debug_assert!(index < PORT_PAGE_BYTES / 8);
        // SAFETY: index 0 or 1 lies within the PORT_PAGE_BYTES that `from_raw` checked, aligned;
        // the mapping outlives `self` (its contract).
        unsafe { &*self.words.as_ptr().add(index) }
    }

    /// Publishes the port's station address.
    pub fn publish_mac(&self, mac: [u8; 6]) {
        let mut bytes = [0u8; 8];
        bytes[..6].copy_from_slice(&mac);
        self.word(0).store(PUBLISHED | u64::from_le_bytes(bytes), Ordering::Release);
    }

    /// Publishes the link state; `changed` counts a change (pass false for the first report).
    pub fn publish_link(&self, up: bool, speed_mbps: u32, changed: bool) {
        let previous = self.word(1).load(Ordering::Relaxed);
        let changes = (previous >> CHANGES_SHIFT & CHANGES_MASK) + u64::from(changed && previous & PUBLISHED != 0);
        let word = PUBLISHED
            | if up { LINK_UP } else { 0 }
            | (changes & CHANGES_MASK) << CHANGES_SHIFT
            | u64::from(if up { speed_mbps } else { 0 });
        self.word(1).store(word, Ordering::Release);
    }

    /// What the page says now.
    pub fn read(&self) -> PortInfo {
        let mac_word = self.word(0).load(Ordering::Acquire);
        let link_word = self.word(1).load(Ordering::Acquire);
        let mac = (mac_word & PUBLISHED != 0).then(|| {
            let b = mac_word.to_le_bytes();
            [b[0], b[1], b[2], b[3], b[4], b[5]]
        });
        let link = (link_word & PUBLISHED != 0).then(|| LinkInfo {
            up: link_word & LINK_UP != 0,
            speed_mbps: link_word as u32,
            changes: (link_word >> CHANGES_SHIFT & CHANGES_MASK) as u32,
        });
        PortInfo { mac, link }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(buf: &mut [u64; 2]) -> PortPage {
        // SAFETY: the buffer outlives the page in each test and is only used through it.
        unsafe { PortPage::from_raw(NonNull::new(buf.as_mut_ptr() as *mut u8).unwrap(), 16).unwrap() }
    }

    #[test]
    fn nothing_is_published_until_written() {
        let mut buf = [0u64; 2];
        assert_eq!(page(&mut buf).read(), PortInfo::default());
    }

    #[test]
    fn mac_and_link_round_trip() {
        let mut buf = [0u64; 2];
        let p = page(&mut buf);
        p.publish_mac([0x00, 0x25, 0x90, 0xaa, 0xbb, 0xcc]);
        p.publish_link(false, 0, false);
        assert_eq!(p.read().mac, Some([0x00, 0x25, 0x90, 0xaa, 0xbb, 0xcc]));
        assert_eq!(p.read().link, Some(LinkInfo { up: false, speed_mbps: 0, changes: 0 }));
        p.publish_link(true, 1000, true);
        p.publish_link(false, 1000, true);
        p.publish_link(true, 100, true);
        assert_eq!(p.read().link, Some(LinkInfo { up: true, speed_mbps: 100, changes: 3 }));
    }

    #[test]
    fn a_small_or_misaligned_page_is_refused() {
        let mut buf = [0u64; 3];
        let base = NonNull::new(buf.as_mut_ptr() as *mut u8).unwrap();
        // SAFETY: the buffer outlives the calls; nothing is read or written.
        unsafe {
            assert!(PortPage::from_raw(base, 8).is_none());
            assert!(PortPage::from_raw(base.add(4), 16).is_none());
        }
    }
}
