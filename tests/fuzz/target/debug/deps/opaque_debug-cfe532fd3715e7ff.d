/work/main/tests/fuzz/target/debug/deps/opaque_debug-cfe532fd3715e7ff.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/opaque-debug-0.3.1/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libopaque_debug-cfe532fd3715e7ff.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/opaque-debug-0.3.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/opaque-debug-0.3.1/src/lib.rs:
