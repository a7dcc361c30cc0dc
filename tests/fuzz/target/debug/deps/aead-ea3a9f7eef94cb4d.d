/work/main/tests/fuzz/target/debug/deps/aead-ea3a9f7eef94cb4d.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/aead-0.5.2/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libaead-ea3a9f7eef94cb4d.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/aead-0.5.2/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/aead-0.5.2/src/lib.rs:
