/work/main/tests/fuzz/target/debug/deps/pd_net_black-86cfe2538c3c31ba.d: /work/main/protection-domains/net-black/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libpd_net_black-86cfe2538c3c31ba.rmeta: /work/main/protection-domains/net-black/src/lib.rs

/work/main/protection-domains/net-black/src/lib.rs:
