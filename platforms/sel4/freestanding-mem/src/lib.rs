//! The C library's memory functions for programs that link none (the seL4 root task and PDs):
//! `sel4-abi` exports these under the C names the compiler calls. Kept apart so that they are
//! tested on the build machine without replacing the test binary's own `memcpy`.
//!
//! Copies and fills go eight bytes per step (`rep movsq`/`rep stosq`, then the last bytes one by
//! one): under QEMU's TCG every iteration of a `rep` string instruction is emulated on its own, so
//! the byte-wise `rep movsb` these used to be made each 1500-byte frame copy in a stack PD some
//! 1500 emulated steps, half of net_red's time per packet (docs/performance.md, "CPU time per PD
//! on seL4"). On the Xeon D `rep movsq` is as fast as `rep movsb` at these sizes.

#![no_std]
// x86_64 string instructions: empty elsewhere, so that the root workspace still builds there.
#![cfg(target_arch = "x86_64")]

use core::arch::asm;

/// Copies `n` bytes from `src` to `dest`, forwards.
///
/// # Safety
/// Both pointers valid for `n` bytes; if the ranges overlap, `dest` must not lie above `src`.
#[inline]
pub unsafe fn copy_forward(dest: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller guarantees both ranges; `rep movsq` copies the n / 8 words, `rep movsb`
    // the n % 8 bytes left, forwards with the direction flag clear (the ABI's default), so an
    // overlap with dest below src reads each byte before it is overwritten.
    unsafe {
        asm!("rep movsq", "mov rcx, {tail}", "rep movsb",
             tail = in(reg) n % 8, inout("rcx") n / 8 => _, inout("rdi") dest => _, inout("rsi") src => _,
             options(nostack, preserves_flags));
    }
}

/// Copies `n` bytes from `src` to `dest`, backwards from the last byte (for an overlap with `dest`
/// above `src`). Rare: byte by byte.
///
/// # Safety
/// Both pointers valid for `n` bytes.
#[inline]
pub unsafe fn copy_backward(dest: *mut u8, src: *const u8, n: usize) {
    if n == 0 {
        return;
    }
    // SAFETY: copies backwards from the last byte with the direction flag set, then clears it
    // again as the ABI requires; the ranges are valid for n bytes (caller's contract).
    unsafe {
        asm!("std", "rep movsb", "cld",
             inout("rcx") n => _, inout("rdi") dest.add(n - 1) => _, inout("rsi") src.add(n - 1) => _, options(nostack));
    }
}

/// Copies `n` bytes; the ranges may overlap (C `memmove`).
///
/// # Safety
/// Both pointers valid for `n` bytes.
#[inline]
pub unsafe fn copy(dest: *mut u8, src: *const u8, n: usize) {
    if (dest as usize) <= (src as usize) || (dest as usize) >= (src as usize).wrapping_add(n) {
        // SAFETY: a forward copy is correct when dest is below src or the ranges do not overlap.
        unsafe { copy_forward(dest, src, n) }
    } else {
        // SAFETY: the caller's contract.
        unsafe { copy_backward(dest, src, n) }
    }
}

/// Sets `n` bytes at `dest` to `byte`.
///
/// # Safety
/// `dest` valid for `n` bytes.
#[inline]
pub unsafe fn fill(dest: *mut u8, byte: u8, n: usize) {
    // SAFETY: the caller guarantees the range; `rep stosq` stores the byte repeated in each of
    // the n / 8 words, `rep stosb` the n % 8 bytes left.
    unsafe {
        asm!("rep stosq", "mov rcx, {tail}", "rep stosb",
             tail = in(reg) n % 8, inout("rcx") n / 8 => _, inout("rdi") dest => _,
             in("rax") u64::from(byte).wrapping_mul(0x0101_0101_0101_0101),
             options(nostack, preserves_flags));
    }
}

/// Compares `n` bytes as unsigned (C `memcmp`): negative, zero or positive.
///
/// # Safety
/// Both pointers valid for `n` bytes.
pub unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller guarantees both ranges. Volatile reads: the compiler would otherwise
        // turn this loop into a call of memcmp, which is this function.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Bytes no two neighbours of which are equal, so a copy shifted by one shows.
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)).collect()
    }

    #[test]
    fn copies_and_fills_write_exactly_their_bytes_at_every_length_and_alignment() {
        for len in 0..200 {
            for (src_off, dst_off) in [(0, 0), (1, 0), (0, 3), (5, 7), (7, 1)] {
                let src = pattern(len + src_off, 1);
                let mut dst = pattern(len + dst_off + 16, 100);
                let mut want = dst.clone();
                want[dst_off..dst_off + len].copy_from_slice(&src[src_off..src_off + len]);
                // SAFETY: both ranges lie inside their vectors.
                unsafe { copy_forward(dst.as_mut_ptr().add(dst_off), src.as_ptr().add(src_off), len) };
                assert_eq!(dst, want, "copy of {len} bytes, offsets {src_off}/{dst_off}");

                want[dst_off..dst_off + len].fill(0xa5);
                // SAFETY: the range lies inside the vector.
                unsafe { fill(dst.as_mut_ptr().add(dst_off), 0xa5, len) };
                assert_eq!(dst, want, "fill of {len} bytes at offset {dst_off}");
            }
        }
    }

    #[test]
    fn overlapping_copies_go_right_both_ways() {
        for len in 0..100 {
            for shift in 1..20 {
                let orig = pattern(len + shift, 3);
                let mut up = orig.clone();
                // SAFETY: both ranges lie inside the vector.
                unsafe { copy(up.as_mut_ptr().add(shift), up.as_ptr(), len) };
                assert_eq!(&up[shift..], &orig[..len], "copy up by {shift}, {len} bytes");
                let mut down = orig.clone();
                // SAFETY: both ranges lie inside the vector.
                unsafe { copy(down.as_mut_ptr(), down.as_ptr().add(shift), len) };
                assert_eq!(&down[..len], &orig[shift..shift + len], "copy down by {shift}, {len} bytes");
            }
        }
    }

    #[test]
    fn compare_orders_by_the_first_differing_byte_as_unsigned() {
        let a = [1u8, 2, 3, 0x80];
        let b = [1u8, 2, 3, 0x7f];
        // SAFETY: the arrays are 4 bytes long.
        unsafe {
            assert_eq!(compare(a.as_ptr(), a.as_ptr(), 4), 0);
            assert!(compare(a.as_ptr(), b.as_ptr(), 4) > 0);
            assert!(compare(b.as_ptr(), a.as_ptr(), 4) < 0);
            assert_eq!(compare(a.as_ptr(), b.as_ptr(), 3), 0);
        }
    }
}
