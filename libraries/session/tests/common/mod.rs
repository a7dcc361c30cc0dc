//! What the session tests share: boringtun's platform hooks over this process's clock, and a
//! handshake between two tunnels.

// Each test file uses its part.
#![allow(dead_code)]

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

/// Simulated nanoseconds added to the monotonic clock: a test that lets time pass adds here.
/// The hooks are process-wide (each test file is its own process), so tests that move the
/// clock run one at a time, and only in a file whose other tests do not mind.
pub static SKIP_NS: AtomicU64 = AtomicU64::new(0);

/// The monotonic clock the tunnels and the tests read.
pub fn now_ns() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + SKIP_NS.load(Ordering::SeqCst)
}

pub static HOOKS: boringtun::platform::Hooks = boringtun::platform::Hooks {
    now_ns,
    wall_clock_ns: || SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64,
    fill_random: |buf| std::fs::File::open("/dev/urandom").unwrap().read_exact(buf).unwrap(),
};

pub fn secret() -> StaticSecret {
    let mut k = [0u8; 32];
    (HOOKS.fill_random)(&mut k);
    StaticSecret::from(k)
}

/// A handshake between a fresh tunnel A (ours, index tag `tag`) and the peer's B; returns both.
pub fn pair(tag: u32) -> (Tunn, Tunn) {
    boringtun::platform::set_hooks(&HOOKS);
    let (a_key, b_key) = (secret(), secret());
    let mut a = Tunn::new(a_key.clone(), PublicKey::from(&b_key), None, None, tag, None);
    let mut b = Tunn::new(b_key, PublicKey::from(&a_key), None, None, tag + 1, None);
    let mut buf = [0u8; 2048];
    let mut out = [0u8; 2048];
    let init = match a.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        r => panic!("no initiation: {r:?}"),
    };
    let response = match b.decapsulate(None, &init, &mut out) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        r => panic!("no response: {r:?}"),
    };
    let keepalive = match a.decapsulate(None, &response, &mut out) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        r => panic!("no keepalive: {r:?}"),
    };
    // B's session becomes usable with A's first data message.
    assert!(matches!(b.decapsulate(None, &keepalive, &mut out), TunnResult::Done));
    (a, b)
}
