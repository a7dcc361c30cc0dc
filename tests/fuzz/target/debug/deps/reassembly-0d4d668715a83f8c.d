/work/main/tests/fuzz/target/debug/deps/reassembly-0d4d668715a83f8c.d: fuzz_targets/reassembly.rs fuzz_targets/common.rs

/work/main/tests/fuzz/target/debug/deps/libreassembly-0d4d668715a83f8c.rmeta: fuzz_targets/reassembly.rs fuzz_targets/common.rs

fuzz_targets/reassembly.rs:
fuzz_targets/common.rs:
