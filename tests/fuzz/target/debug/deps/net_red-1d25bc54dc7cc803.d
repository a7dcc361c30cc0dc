/work/main/tests/fuzz/target/debug/deps/net_red-1d25bc54dc7cc803.d: fuzz_targets/net_red.rs fuzz_targets/common.rs

/work/main/tests/fuzz/target/debug/deps/libnet_red-1d25bc54dc7cc803.rmeta: fuzz_targets/net_red.rs fuzz_targets/common.rs

fuzz_targets/net_red.rs:
fuzz_targets/common.rs:
