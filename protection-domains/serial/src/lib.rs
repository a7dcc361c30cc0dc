//! The serial PD: owns the UART (COM1 on the PC, which the SuperMicro box's IPMI serial-over-LAN
//! carries) once the system runs.
//!
//! - It drains the console log, the ring into which the seL4 root task puts every console line
//!   (its own, fault reports, every PD's log lines), to the UART, so one PD writes the line.
//! - It is the operator console on the same line ([`Console`]): `help`, `status` (each PD's
//!   state, and per peer the endpoint, latest handshake and transfer, as `wg show` gives),
//!   `counters` (each PD's packets and drops by reason), `counters PD`, `drops`.
//!
//! It learns the PDs' counters from their status pages (`status:<pd>` regions), which it maps
//! read-only, and a PD's fault from the root task's `FAULT` lines in the console log (only lines
//! whose source is the root task count: a PD cannot fake another's fault by logging the text).
//! It has no channel to any red or black PD and writes no memory they read: information flows
//! into it only, which is what lets it observe both sides (the isolation check's observer rule).
//!
//! [`Uart16550`] drives the UART through a [`Ports`] trait (the seL4 entry gives it I/O ports),
//! interrupt-driven: the transmit-empty interrupt refills the 16-byte FIFO, so the PD never
//! busy-waits on the line and its work per event is bounded.
//!
//! The host runtime has no serial PD: its console is its own stdout and stderr.

#![no_std]

extern crate alloc;

mod console;
mod uart;

pub use console::{Console, Counters, StatusPage, INPUT_LIMIT, OUT_LIMIT, WATCHDOG_MS};
pub use uart::{Ports, Uart16550};
