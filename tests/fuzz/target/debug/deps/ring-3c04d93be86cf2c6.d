/work/main/tests/fuzz/target/debug/deps/ring-3c04d93be86cf2c6.d: fuzz_targets/ring.rs

/work/main/tests/fuzz/target/debug/deps/libring-3c04d93be86cf2c6.rmeta: fuzz_targets/ring.rs

fuzz_targets/ring.rs:
