/work/main/tests/fuzz/target/debug/deps/pd_proto-b1d0763b2daba799.d: /work/main/libraries/proto/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libpd_proto-b1d0763b2daba799.rmeta: /work/main/libraries/proto/src/lib.rs

/work/main/libraries/proto/src/lib.rs:
