/work/main/tests/fuzz/target/debug/deps/pd_net_red-4b90c73b9120129b.d: /work/main/protection-domains/net-red/src/lib.rs

/work/main/tests/fuzz/target/debug/deps/libpd_net_red-4b90c73b9120129b.rmeta: /work/main/protection-domains/net-red/src/lib.rs

/work/main/protection-domains/net-red/src/lib.rs:
