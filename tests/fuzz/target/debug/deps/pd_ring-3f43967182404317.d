/work/main/tests/fuzz/target/debug/deps/pd_ring-3f43967182404317.d: /work/main/libraries/ring/src/lib.rs /work/main/libraries/ring/src/queue.rs

/work/main/tests/fuzz/target/debug/deps/libpd_ring-3f43967182404317.rmeta: /work/main/libraries/ring/src/lib.rs /work/main/libraries/ring/src/queue.rs

/work/main/libraries/ring/src/lib.rs:
/work/main/libraries/ring/src/queue.rs:
