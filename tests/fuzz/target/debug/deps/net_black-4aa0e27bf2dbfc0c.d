/work/main/tests/fuzz/target/debug/deps/net_black-4aa0e27bf2dbfc0c.d: fuzz_targets/net_black.rs fuzz_targets/common.rs

/work/main/tests/fuzz/target/debug/deps/libnet_black-4aa0e27bf2dbfc0c.rmeta: fuzz_targets/net_black.rs fuzz_targets/common.rs

fuzz_targets/net_black.rs:
fuzz_targets/common.rs:
