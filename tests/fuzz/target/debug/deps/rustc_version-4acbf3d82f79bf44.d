/work/main/tests/fuzz/target/debug/deps/rustc_version-4acbf3d82f79bf44.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rustc_version-0.4.1/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/librustc_version-4acbf3d82f79bf44.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rustc_version-0.4.1/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/librustc_version-4acbf3d82f79bf44.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rustc_version-0.4.1/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rustc_version-0.4.1/src/lib.rs:
