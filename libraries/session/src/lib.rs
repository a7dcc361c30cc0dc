//! WireGuard transport sessions shared by several crypto PDs, so that sealing and opening can run
//! on more than one core (issue 18).
//!
//! The crypto PD runs boringtun's tunnels (handshakes, cookies, timers) and publishes each
//! session's indices and keys into a [`SessionSlot`] of a region that only crypto PDs map
//! ([`table`]); data-path workers copy a slot ([`SessionSlot::read`]) and seal or open transport
//! data with it ([`WorkerSession`]). What must stay correct when several workers use one session
//! lives in the slot and is updated with atomics:
//! - the send counter: each message takes the next one (fetch_add), and never one of a later
//!   session that reuses the slot ([`SessionSlot::claim_counter`]);
//! - the replay window: each counter is accepted once across all workers ([`replay`]).
//!
//! Beside the sessions the table holds a gate per worker ([`gate`]): crypto closes it when it
//! gives the worker up, before the ring slots of the worker's jobs go back into use.
//!
//! tests/loom.rs model-checks all three on this code; tests/workers.rs runs workers on threads
//! against boringtun's own tunnels.

#![no_std]

#[cfg(not(loom))]
extern crate alloc;

pub mod cpu;
pub mod gate;
pub mod replay;
mod sync;
pub mod table;
pub mod transport;

pub use gate::WorkerGate;
pub use replay::{ReplayError, ReplayWindow};
pub use table::{ClaimError, ReadError, SessionInfo, SessionSlot, SlotBusy, Snapshot, MAX_WORKERS, SLOTS_PER_PEER};
#[cfg(not(loom))]
pub use table::SessionTable;
pub use transport::{OpenError, SealError, WorkerSession};

/// Overwrites key bytes in a way the compiler keeps.
pub(crate) fn wipe(key: &mut [u8; 32]) {
    for b in key.iter_mut() {
        // SAFETY: b is a valid, aligned, exclusive reference.
        unsafe { core::ptr::write_volatile(b, 0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}
