//! A boringtun tunnel leaves no session key in its own memory once the session is gone
//! (WireGuard's forward secrecy: keys are erased when they expire). ring's key types keep the raw
//! ChaCha20 key and wipe nothing, and boringtun took an expired session out of its slot before
//! dropping it, so the slot kept both keys; support/boringtun/session-keys.patch wipes them in
//! place. Copies on the stack while a session is derived and built are not tracked.
//!
//! The tunnels' clock is this file's own (tests/common: the hooks are process-wide, and each test
//! file is its own process), so a test can let 181 simulated seconds pass.

mod common;

use boringtun::noise::Tunn;
use common::{pair, SKIP_NS};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// The clock is shared: tests that move it run one at a time.
static CLOCK: Mutex<()> = Mutex::new(());

/// Our tunnel A after a complete handshake with the peer's B, on the heap (where the crypto PD
/// keeps its tunnels), and A's session keys (receiving, sending).
fn handshaken() -> (Box<Tunn>, Tunn, [u8; 32], [u8; 32]) {
    let (a, b) = pair(8);
    let keys = a.session_keys().next().expect("A has a session");
    let (receiving, sending) = (keys.receiving_key, keys.sending_key);
    (Box::new(a), b, receiving, sending)
}

/// How many times `key` lies in the `size` bytes at `at`.
///
/// This reads the tunnel's memory as the machine holds it, padding and unused enum space
/// included: bytes Rust's abstract machine calls uninitialised, which Miri would refuse to read.
/// What the test is about is exactly those bytes (a key left where no field is any more).
///
/// # Safety
/// `at` points to `size` bytes that stay allocated meanwhile.
unsafe fn copies(at: *const u8, size: usize, key: &[u8; 32]) -> usize {
    // SAFETY: allocated, as the caller promised (see above on the bytes no field covers).
    let bytes = unsafe { std::slice::from_raw_parts(at, size) };
    bytes.windows(32).filter(|w| w == key).count()
}

#[test]
fn an_expired_session_leaves_no_key_in_its_tunnel() {
    let _clock = CLOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (mut a, _b, receiving, sending) = handshaken();
    let held = |t: &Tunn, key| {
        // SAFETY: `t` is a live tunnel of this size.
        unsafe { copies((t as *const Tunn).cast(), std::mem::size_of::<Tunn>(), key) }
    };
    // The bytes boringtun keeps for session_keys() and ring's key: each key twice while in use.
    assert!(held(&a, &receiving) >= 2 && held(&a, &sending) >= 2, "{} {}", held(&a, &receiving), held(&a, &sending));
    // Past Reject-After-Time (180 s) the session is dropped at the next timer pass.
    SKIP_NS.fetch_add(181_000_000_000, Ordering::SeqCst);
    let mut buf = [0u8; 2048];
    let _ = a.update_timers(&mut buf);
    assert!(a.session_keys().next().is_none(), "the session outlived Reject-After-Time");
    assert_eq!((held(&a, &receiving), held(&a, &sending)), (0, 0), "an expired session's key is left in its tunnel");
}

#[test]
fn a_dropped_tunnel_leaves_no_session_key_behind() {
    let _clock = CLOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (a, _b, receiving, sending) = handshaken();
    let a = Box::into_raw(a);
    let size = std::mem::size_of::<Tunn>();
    // SAFETY: `a` is the live tunnel allocated above.
    let held = unsafe { (copies(a.cast(), size, &receiving), copies(a.cast(), size, &sending)) };
    assert!(held.0 >= 2 && held.1 >= 2, "{held:?}");
    // SAFETY: dropped once, here; the memory stays allocated until the dealloc below.
    unsafe { std::ptr::drop_in_place(a) };
    // SAFETY: still allocated (its value was dropped in place).
    let left = unsafe { (copies(a.cast(), size, &receiving), copies(a.cast(), size, &sending)) };
    assert_eq!(left, (0, 0), "a dropped tunnel's session key is left in freed memory");
    // SAFETY: allocated by Box::new with this layout; its value was dropped in place.
    unsafe { std::alloc::dealloc(a.cast(), std::alloc::Layout::new::<Tunn>()) };
}
