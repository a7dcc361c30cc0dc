/work/main/tests/fuzz/target/debug/deps/sdf-a23b70072bcfdd60.d: fuzz_targets/sdf.rs

/work/main/tests/fuzz/target/debug/deps/libsdf-a23b70072bcfdd60.rmeta: fuzz_targets/sdf.rs

fuzz_targets/sdf.rs:
