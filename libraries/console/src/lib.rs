//! The shared-memory formats of the operator console.
//!
//! Two one-way structures, each with exactly one writer:
//! - [`log`]: the **console log**, a ring of whole lines that the root task appends (its own
//!   lines, fault reports, and every PD's log lines, which reach it by IPC) and the serial PD
//!   drains to COM1. The serial PD owns the UART; nobody else writes it once the serial PD runs,
//!   so lines never interleave.
//! - [`status`]: a **status page** per PD, a seqlock-protected text snapshot of the PD's
//!   counters and status lines that the PD runtime republishes every so often, and that the
//!   serial PD maps read-only. Information flows from the PDs to the console and never back,
//!   which is why the console may observe both red and black PDs (libraries/sdf's isolation check
//!   states the rule).
//!
//! And [`budget`], the rate limit the root task applies to each PD's lines before they reach
//! the log.
//!
//! Both readers treat what they read as untrusted: every length is bounded, a torn or corrupt
//! read is an error the caller counts, never a panic or an out-of-bounds access.

#![no_std]

pub mod budget;
pub mod log;
pub mod status;
mod shared;

#[cfg(test)]
mod tests;
