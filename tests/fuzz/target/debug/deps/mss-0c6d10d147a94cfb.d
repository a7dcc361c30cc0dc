/work/main/tests/fuzz/target/debug/deps/mss-0c6d10d147a94cfb.d: fuzz_targets/mss.rs

/work/main/tests/fuzz/target/debug/deps/libmss-0c6d10d147a94cfb.rmeta: fuzz_targets/mss.rs

fuzz_targets/mss.rs:
