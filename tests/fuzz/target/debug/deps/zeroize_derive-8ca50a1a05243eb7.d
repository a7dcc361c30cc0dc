/work/main/tests/fuzz/target/debug/deps/zeroize_derive-8ca50a1a05243eb7.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/zeroize_derive-1.5.0/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libzeroize_derive-8ca50a1a05243eb7.so: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/zeroize_derive-1.5.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/zeroize_derive-1.5.0/src/lib.rs:
