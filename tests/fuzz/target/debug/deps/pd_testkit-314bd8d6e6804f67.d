/work/main/tests/fuzz/target/debug/deps/pd_testkit-314bd8d6e6804f67.d: /work/main/libraries/testkit/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libpd_testkit-314bd8d6e6804f67.rmeta: /work/main/libraries/testkit/src/lib.rs

/work/main/libraries/testkit/src/lib.rs:
