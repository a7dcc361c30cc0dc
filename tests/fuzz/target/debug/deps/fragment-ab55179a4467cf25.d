/work/main/tests/fuzz/target/debug/deps/fragment-ab55179a4467cf25.d: fuzz_targets/fragment.rs

/work/main/tests/fuzz/target/debug/deps/libfragment-ab55179a4467cf25.rmeta: fuzz_targets/fragment.rs

fuzz_targets/fragment.rs:
