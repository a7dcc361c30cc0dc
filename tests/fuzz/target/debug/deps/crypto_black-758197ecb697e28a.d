/work/main/tests/fuzz/target/debug/deps/crypto_black-758197ecb697e28a.d: fuzz_targets/crypto_black.rs fuzz_targets/common.rs

/work/main/tests/fuzz/target/debug/deps/libcrypto_black-758197ecb697e28a.rmeta: fuzz_targets/crypto_black.rs fuzz_targets/common.rs

fuzz_targets/crypto_black.rs:
fuzz_targets/common.rs:
