//! The atomics this crate uses: core's, or loom's under `--cfg loom` (tests/loom.rs), so that
//! the model checker runs this crate's own code.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
