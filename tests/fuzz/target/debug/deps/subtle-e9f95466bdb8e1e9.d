/work/main/tests/fuzz/target/debug/deps/subtle-e9f95466bdb8e1e9.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libsubtle-e9f95466bdb8e1e9.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/subtle-2.6.1/src/lib.rs:
