//! Which of ring's ChaCha20-Poly1305 implementations this CPU and kernel give the data path.
//!
//! ring picks at run time, by CPUID: its AVX2 code when the CPU has AVX2 and BMI2 *and* the
//! kernel enabled AVX state (CPUID.1:ECX.OSXSAVE with XCR0's SSE and YMM bits), else its SSE4.1
//! code, else portable scalar code. They differ much in cost, so the crypto PD names the one it
//! got in its boot log: an seL4 kernel that saves only FXSAVE state, or a QEMU CPU model without
//! these features, shows there (tests/sel4/test_encryptor.py requires AVX2 in that line). This
//! repeats ring's tests (ring 0.17's cpu/intel.rs and its C cpuid set-up); it does not call
//! ring's private detection.

use core::fmt;

/// A ChaCha20-Poly1305 implementation of ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AeadPath {
    /// 256-bit vectors: AVX2 and BMI2, AVX state enabled by the kernel.
    Avx2,
    /// 128-bit vectors: SSE4.1.
    Sse41,
    /// Scalar code.
    Portable,
}

impl fmt::Display for AeadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AeadPath::Avx2 => "AVX2",
            AeadPath::Sse41 => "SSE4.1",
            AeadPath::Portable => "portable (no SSE4.1)",
        })
    }
}

/// The implementation ring uses for ChaCha20-Poly1305 on this CPU under this kernel.
#[cfg(target_arch = "x86_64")]
pub fn aead_path() -> AeadPath {
    use core::arch::x86_64::__cpuid_count;
    const BIT_SSE41: u32 = 1 << 19;
    const BIT_OSXSAVE: u32 = 1 << 27;
    const BIT_AVX2: u32 = 1 << 5;
    const BIT_BMI2: u32 = 1 << 8;
    /// XCR0: SSE (XMM) and AVX (YMM upper halves) state enabled.
    const XCR0_SSE_YMM: u64 = 0b110;
    // Leaf 7 is read only where leaf 0 says the CPU has it.
    let (max_leaf, leaf1, leaf7) = (__cpuid_count(0, 0).eax, __cpuid_count(1, 0), __cpuid_count(7, 0));
    let leaf7_ebx = if max_leaf >= 7 { leaf7.ebx } else { 0 };
    let ymm_enabled = leaf1.ecx & BIT_OSXSAVE != 0 && xcr0() & XCR0_SSE_YMM == XCR0_SSE_YMM;
    if ymm_enabled && leaf7_ebx & BIT_AVX2 != 0 && leaf7_ebx & BIT_BMI2 != 0 && leaf1.ecx & BIT_SSE41 != 0 {
        AeadPath::Avx2
    } else if leaf1.ecx & BIT_SSE41 != 0 {
        AeadPath::Sse41
    } else {
        AeadPath::Portable
    }
}

/// The enabled-state register XCR0; call only when CPUID says OSXSAVE.
#[cfg(target_arch = "x86_64")]
fn xcr0() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: XGETBV with ECX = 0 reads XCR0 and is legal in user mode once the kernel set
    // CR4.OSXSAVE, which CPUID.1:ECX.OSXSAVE reflects and the caller checked; it touches no memory.
    unsafe { core::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags)) };
    u64::from(high) << 32 | u64::from(low)
}

/// Not x86: ring's generic code (the crypto PDs run on x86_64 only).
#[cfg(not(target_arch = "x86_64"))]
pub fn aead_path() -> AeadPath {
    AeadPath::Portable
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn the_path_agrees_with_std_feature_detection() {
        // std's detection also checks OSXSAVE and XCR0 for AVX2.
        extern crate std;
        let expected = if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("bmi2") && std::is_x86_feature_detected!("sse4.1") {
            AeadPath::Avx2
        } else if std::is_x86_feature_detected!("sse4.1") {
            AeadPath::Sse41
        } else {
            AeadPath::Portable
        };
        assert_eq!(aead_path(), expected);
    }
}
