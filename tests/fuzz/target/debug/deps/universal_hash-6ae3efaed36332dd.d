/work/main/tests/fuzz/target/debug/deps/universal_hash-6ae3efaed36332dd.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/universal-hash-0.5.1/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libuniversal_hash-6ae3efaed36332dd.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/universal-hash-0.5.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/universal-hash-0.5.1/src/lib.rs:
