//! Copies the constants generated from the kernel build (platforms/sel4/kernel/build-kernel) into OUT_DIR.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../../..");
    let generated = std::env::var("SEL4_KERNEL_BUILD")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("build/sel4/kernel"))
        .join("gen/sel4_constants.rs");
    println!("cargo:rerun-if-env-changed=SEL4_KERNEL_BUILD");
    println!("cargo:rerun-if-changed={}", generated.display());
    let text = std::fs::read_to_string(&generated).unwrap_or_else(|e| {
        panic!("{}: {e}; run platforms/sel4/kernel/build-kernel first", generated.display())
    });
    // Debug kernels have the DebugPutChar/DebugHalt system calls; release kernels do not.
    println!("cargo:rustc-check-cfg=cfg(sel4_debug_syscalls)");
    if text.contains("SysDebugPutChar") {
        println!("cargo:rustc-cfg=sel4_debug_syscalls");
    }
    // Bench kernels (build-kernel bench) keep each thread's CPU time and have its system calls.
    println!("cargo:rustc-check-cfg=cfg(sel4_track_utilisation)");
    if text.contains("SysBenchmarkGetThreadUtilisation") {
        println!("cargo:rustc-cfg=sel4_track_utilisation");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("sel4_constants.rs");
    std::fs::write(out, text).unwrap();
}
