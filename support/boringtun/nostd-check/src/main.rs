//! Proof that the crypto PD links with no operating system underneath: a freestanding static ELF
//! that builds a `Crypto` PD, drives all its handler paths (red: seal, black: open, timer ticks),
//! and also seals and opens with boringtun's `Tunn` directly, so that all of it must link.
//! Built by `support/boringtun/check-nostd`; it is never run (its platform is a stub).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use boringtun::noise::Tunn;
use boringtun::x25519::{PublicKey, StaticSecret};
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::fmt;
use core::hint::black_box;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use encryptor_config::{CryptoConfig, PeerConfig};
use pd_api::{Channel, ChannelSet, Handler, MemoryRegion, MessageInfo, Platform};

/// A platform that has nothing: no rings, a counter for a clock. `black_box` keeps the compiler
/// from proving any path dead.
struct Stub;

static TICKS: AtomicU64 = AtomicU64::new(0);

impl Platform for Stub {
    fn pd_name(&self) -> &str {
        "crypto"
    }
    fn notify(&self, _: Channel) {}
    fn irq_ack(&self, _: Channel) {}
    fn pp_call(&self, _: Channel, msg_info: MessageInfo) -> MessageInfo {
        msg_info
    }
    fn get_mr(&self, _: usize) -> u64 {
        0
    }
    fn set_mr(&self, _: usize, _: u64) {}
    fn memory_region(&self, _: &str) -> Option<MemoryRegion> {
        black_box(None)
    }
    fn now_ns(&self) -> u64 {
        TICKS.fetch_add(1_000_000, Ordering::Relaxed)
    }
    fn wall_clock_ns(&self) -> u64 {
        black_box(1_700_000_000_000_000_000) + self.now_ns()
    }
    fn fill_random(&self, buf: &mut [u8]) -> bool {
        // Not a random source: the check only links.
        buf.fill(black_box(0x5a));
        black_box(true)
    }
    fn log(&self, args: fmt::Arguments<'_>) {
        black_box(args);
    }
}

static PLATFORM: &dyn Platform = &Stub;

#[no_mangle]
pub extern "C" fn _start() -> ! {
    pd_api::set_platform(&PLATFORM);

    let peer = PeerConfig {
        public_key: black_box([2; 32]),
        preshared_key: black_box(None),
        endpoint: None,
        allowed_ips: vec![],
        persistent_keepalive: black_box(Some(25)),
    };
    let config = CryptoConfig { private_key: black_box([1; 32]), listen_port: 51820, peers: vec![peer] };
    if let Ok(mut crypto) = pd_crypto::Crypto::new(config) {
        let all = ChannelSet::EMPTY.with(pd_crypto::RED).with(pd_crypto::BLACK).with(pd_crypto::TIMER);
        let _ = crypto.notified(black_box(all));
        black_box(&crypto);
    }

    let mine = StaticSecret::from(black_box([3; 32]));
    let theirs = PublicKey::from(&StaticSecret::from(black_box([4; 32])));
    let mut tunn = Tunn::new(mine, theirs, None, None, 0, None);
    let mut sealed = [0u8; 256];
    let mut opened = [0u8; 256];
    black_box(tunn.encapsulate(black_box(&[0x45; 60]), &mut sealed));
    black_box(tunn.decapsulate(None, black_box(&sealed[..92]), &mut opened));
    black_box(tunn.update_timers(&mut opened));
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// A bump allocator over a static arena (freeing is a no-op): enough for a link check.
struct Bump;

const ARENA_SIZE: usize = 1 << 20;

struct Arena(UnsafeCell<[u8; ARENA_SIZE]>);

// SAFETY: `Bump` hands out disjoint ranges of the arena (the offset only grows, atomically).
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_SIZE]));
static USED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = ARENA.0.get() as usize;
        let mut used = USED.load(Ordering::Relaxed);
        loop {
            let start = (base + used + layout.align() - 1) & !(layout.align() - 1);
            let end = start - base + layout.size();
            if end > ARENA_SIZE {
                return core::ptr::null_mut();
            }
            match USED.compare_exchange_weak(used, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return start as *mut u8,
                Err(now) => used = now,
            }
        }
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump;

// What the C library would provide. Volatile byte accesses keep the compiler from turning these
// loops back into calls to themselves.

#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller guarantees both ranges are valid for n bytes (C contract).
        unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
    }
    dest
}

#[no_mangle]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize) <= (src as usize) {
        // SAFETY: as memcpy; copying forwards is right when dest starts at or before src.
        return unsafe { memcpy(dest, src, n) };
    }
    for i in (0..n).rev() {
        // SAFETY: the caller guarantees both ranges are valid for n bytes (C contract).
        unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
    }
    dest
}

#[no_mangle]
pub unsafe extern "C" fn memset(s: *mut u8, c: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller guarantees the range is valid for n bytes (C contract).
        unsafe { s.add(i).write_volatile(c as u8) };
    }
    s
}

#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller guarantees both ranges are valid for n bytes (C contract).
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

// The precompiled core library refers to these (it is built for unwinding); with panic=abort
// they are never called.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

#[no_mangle]
pub extern "C" fn _Unwind_Resume() -> ! {
    loop {
        core::hint::spin_loop();
    }
}
