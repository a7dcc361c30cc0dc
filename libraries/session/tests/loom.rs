//! Model checks (loom) of the shared session state, on the real code of `src/replay.rs` and
//! `src/table.rs` (built with `--cfg loom`, their atomics and fences are loom's). support/test
//! runs:
//!
//!     RUSTFLAGS="--cfg loom" cargo test --release -p pd-session --test loom
//!
//! - Two workers accepting the same counter: exactly one wins, in every interleaving.
//! - A worker claiming a send counter while the crypto PD replaces the session in its slot:
//!   a counter it keeps is always one of the session whose keys it copied (never the new
//!   session's, which would seal two messages under one key and nonce).
//! - A worker copying a slot while it is rewritten gets the old session whole, the new one
//!   whole, or nothing; never keys of one with indices of the other.
//! - A worker claiming a received counter of the old session while the slot is rewritten claims
//!   it in the old session's window or not at all: the new session's window is untouched.
//! - A worker working a batch while crypto gives it up (`src/gate.rs`): what it wrote inside its
//!   gate happens before crypto reuses the ring slot, or it never enters.
//!
//! Weakening the orderings these depend on makes them fail (checked by hand when written: the
//! writer's Release fence in `SessionSlot::write` removed, or the claim's fetch_add made
//! Relaxed, and loom finds a kept counter of the new session; the reader's Acquire fence
//! removed, and it finds a torn copy; either SeqCst fence of the claim's handshake made
//! Release/Acquire, or the claim's `seq` check taken out, and it finds the new session's
//! window moved; the gate's leave made Relaxed, and loom finds the worker's write racing
//! crypto's).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use pd_session::{ClaimError, ReplayError, ReplayWindow, SessionInfo, SessionSlot, SlotBusy, WorkerGate};

#[test]
fn two_workers_accept_one_counter_once() {
    loom::model(|| {
        let w = Arc::new(ReplayWindow::new());
        let w2 = w.clone();
        let t = thread::spawn(move || w2.accept(70).is_ok());
        let here = w.accept(70).is_ok();
        let there = t.join().unwrap();
        assert!(here ^ there, "exactly one worker accepts the counter");
        assert_eq!(w.accept(70), Err(ReplayError::Replayed));
    });
}

#[test]
fn a_slot_reuse_and_an_acceptance_race_safely() {
    // One worker accepts a counter of the block that a second worker's newer counter evicts
    // from the same word: the old counter is accepted before or refused after, never lost and
    // then accepted twice.
    loom::model(|| {
        let w = Arc::new(ReplayWindow::new());
        let w2 = w.clone();
        let newer = 5 + 32 * pd_session::replay::SLOTS as u64;
        let t = thread::spawn(move || w2.accept(newer).is_ok());
        let first = w.accept(5);
        assert!(t.join().unwrap());
        let again = w.accept(5);
        assert!(!(first.is_ok() && again.is_ok()), "counter 5 accepted twice");
    });
}

fn info(tag: u8) -> SessionInfo {
    SessionInfo {
        peer: 0,
        receiving_index: u32::from(tag),
        sending_index: u32::from(tag) << 8,
        created_ns: 0,
        receiving_key: [tag; 32],
        sending_key: [tag; 32],
    }
}


#[test]
fn a_kept_counter_belongs_to_the_session_whose_keys_the_worker_holds() {
    loom::model(|| {
        let slot = Arc::new(SessionSlot::new());
        slot.publish(&info(1), 1000).unwrap();
        let copy = slot.read().unwrap();
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || slot.publish(&info(2), 2000).unwrap())
        };
        if let Some(n) = slot.claim_counter(&copy) {
            assert_eq!(copy.info.sending_key, [1; 32]);
            // Session 1's counters start at 1000, session 2's at 2000.
            assert!((1000..2000).contains(&n), "kept counter {n} is not session 1's");
        }
        writer.join().unwrap();
    });
}

#[test]
fn a_copy_is_one_session_whole() {
    // A copy is a dozen loads against the writer's two dozen stores: every interleaving is too
    // many for loom; a torn copy needs the writer preempted once or twice, which this bound
    // explores exhaustively.
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.check(|| {
        let slot = Arc::new(SessionSlot::new());
        slot.publish(&info(1), 1000).unwrap();
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || slot.publish(&info(2), 2000).unwrap())
        };
        if let Ok(s) = slot.read() {
            let tag = s.info.receiving_index as u8;
            assert!(tag == 1 || tag == 2);
            assert_eq!(s.info.sending_index, u32::from(tag) << 8);
            assert_eq!(s.info.receiving_key, [tag; 32]);
            assert_eq!(s.info.sending_key, [tag; 32]);
        }
        writer.join().unwrap();
    });
}

#[test]
fn a_late_claim_of_the_old_session_never_lands_in_the_new_sessions_window() {
    loom::model(|| {
        let slot = Arc::new(SessionSlot::new());
        slot.publish(&info(1), 0).unwrap();
        let copy = slot.read().unwrap();
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || slot.publish(&info(2), 0))
        };
        // Far ahead of the new session's counters: claimed in its window, it would make the new
        // session refuse counter 0 as too old.
        let late = 3 * pd_session::replay::WINDOW;
        let claimed = slot.claim_received(&copy, late);
        if writer.join().unwrap() == Err(SlotBusy) {
            // The writer gave up while the claim was in progress; it tries again.
            slot.publish(&info(2), 0).unwrap();
        }
        assert!(matches!(claimed, Ok(()) | Err(ClaimError::Stale)));
        let new = slot.read().unwrap();
        assert_eq!(new.info.receiving_index, 2);
        assert_eq!(slot.claim_received(&new, 0), Ok(()), "the old session's claim moved the new session's window");
    });
}

#[test]
fn a_worker_given_up_never_touches_a_slot_crypto_took_back() {
    loom::model(|| {
        let gate = Arc::new(WorkerGate::new());
        // A ring slot of one of the worker's jobs (a plain cell: loom reports any access to it
        // that is not ordered with the other thread's).
        let slot = Arc::new(loom::cell::UnsafeCell::new(0u8));
        let worker = {
            let (gate, slot) = (gate.clone(), slot.clone());
            thread::spawn(move || {
                if gate.enter() {
                    // SAFETY: inside the gate the slot is the worker's (what the model checks).
                    slot.with_mut(|p| unsafe { *p = 1 });
                    gate.leave();
                    true
                } else {
                    false
                }
            })
        };
        // Crypto gives the worker up: it closes the gate (waiting while the worker is inside)
        // and hands the slot to another packet.
        while !gate.close() {
            thread::yield_now();
        }
        // SAFETY: the gate is closed: the slot is crypto's again (what the model checks).
        slot.with_mut(|p| unsafe { *p = 2 });
        let worked = worker.join().unwrap();
        assert!(!gate.enter(), "a worker given up never enters again");
        // SAFETY: both threads are done.
        let last = slot.with(|p| unsafe { *p });
        assert_eq!(last, 2, "the worker (worked: {worked}) wrote after crypto");
    });
}
