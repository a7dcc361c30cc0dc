/work/main/tests/fuzz/target/debug/deps/pd_crypto-9d64306d88ce02bc.d: /work/main/protection-domains/crypto/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libpd_crypto-9d64306d88ce02bc.rmeta: /work/main/protection-domains/crypto/src/lib.rs

/work/main/protection-domains/crypto/src/lib.rs:
