//! Shared pieces of the test PDs: the ring test's buffer pattern and result lines.

#![no_std]

/// Buffers the ring test sends.
pub const RING_BUFFERS: u64 = 100_000;
/// Notification round trips in the ping-pong test.
pub const PING_ROUNDS: u64 = 1000;

/// Prints a machine-readable result line: `RESULT <name> <value>`.
#[macro_export]
macro_rules! result {
    ($name:expr, $($arg:tt)*) => {
        sel4_pd_runtime::print_line(format_args!("RESULT {} {}", $name, format_args!($($arg)*)))
    };
}

/// Length of buffer `seq`: varies from 1 to 1514 bytes so that lengths are checked too.
pub fn ring_len(seq: u64) -> usize {
    1 + (seq.wrapping_mul(7919) % 1514) as usize
}

/// Fills `buf` with buffer `seq`'s content: its sequence number, then a pattern derived from it.
pub fn ring_fill(seq: u64, buf: &mut [u8]) -> usize {
    let len = ring_len(seq);
    for (i, b) in buf[..len].iter_mut().enumerate() {
        *b = (seq as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    let n = len.min(8);
    buf[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
    len
}

/// Whether `buf` is exactly buffer `seq`'s content.
pub fn ring_check(seq: u64, buf: &[u8]) -> bool {
    let mut want = [0u8; 2048];
    let len = ring_fill(seq, &mut want);
    buf.len() == len && buf == &want[..len]
}
