/work/main/tests/fuzz/target/debug/deps/boringtun-65f92143f12297e6.d: /work/main/build/vendor/boringtun-0.7.1/src/lib.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/mod.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/errors.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/handshake.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/rate_limiter.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/session.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/timers.rs /work/main/build/vendor/boringtun-0.7.1/src/platform.rs /work/main/build/vendor/boringtun-0.7.1/src/sleepyinstant/mod.rs

/work/main/tests/fuzz/target/debug/deps/libboringtun-65f92143f12297e6.rmeta: /work/main/build/vendor/boringtun-0.7.1/src/lib.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/mod.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/errors.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/handshake.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/rate_limiter.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/session.rs /work/main/build/vendor/boringtun-0.7.1/src/noise/timers.rs /work/main/build/vendor/boringtun-0.7.1/src/platform.rs /work/main/build/vendor/boringtun-0.7.1/src/sleepyinstant/mod.rs

/work/main/build/vendor/boringtun-0.7.1/src/lib.rs:
/work/main/build/vendor/boringtun-0.7.1/src/noise/mod.rs:
/work/main/build/vendor/boringtun-0.7.1/src/noise/errors.rs:
/work/main/build/vendor/boringtun-0.7.1/src/noise/handshake.rs:
/work/main/build/vendor/boringtun-0.7.1/src/noise/rate_limiter.rs:
/work/main/build/vendor/boringtun-0.7.1/src/noise/session.rs:
/work/main/build/vendor/boringtun-0.7.1/src/noise/timers.rs:
/work/main/build/vendor/boringtun-0.7.1/src/platform.rs:
/work/main/build/vendor/boringtun-0.7.1/src/sleepyinstant/mod.rs:
