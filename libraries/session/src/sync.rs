//! The atomics this crate uses: core's, or loom's under `--cfg loom` (tests/loom.rs), so that
//! the model checker runs this crate's own code.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// A busy-wait step: the CPU's pause, or a yield to loom's scheduler.
#[cfg(not(loom))]
pub(crate) fn spin_loop() {
    core::hint::spin_loop();
}
/// See above.
#[cfg(loom)]
pub(crate) fn spin_loop() {
    loom::thread::yield_now();
}
