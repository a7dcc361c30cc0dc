/work/main/tests/fuzz/target/debug/deps/pd_api-167a795976e0f431.d: /work/main/libraries/api/src/lib.rs /work/main/libraries/api/src/platform.rs

/work/main/tests/fuzz/target/debug/deps/libpd_api-167a795976e0f431.rmeta: /work/main/libraries/api/src/lib.rs /work/main/libraries/api/src/platform.rs

/work/main/libraries/api/src/lib.rs:
/work/main/libraries/api/src/platform.rs:
