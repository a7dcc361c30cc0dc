/work/main/tests/fuzz/target/debug/deps/config-6631bf85a30e9d09.d: fuzz_targets/config.rs

/work/main/tests/fuzz/target/debug/deps/libconfig-6631bf85a30e9d09.rmeta: fuzz_targets/config.rs

fuzz_targets/config.rs:
