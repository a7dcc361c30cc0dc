/work/main/tests/fuzz/target/debug/deps/pd_netstack-61407f4eaf00ba7b.d: /work/main/libraries/netstack/src/lib.rs /work/main/libraries/netstack/src/fragment.rs /work/main/libraries/netstack/src/icmp_error.rs /work/main/libraries/netstack/src/mss.rs /work/main/libraries/netstack/src/reassembly.rs

/work/main/tests/fuzz/target/debug/deps/libpd_netstack-61407f4eaf00ba7b.rmeta: /work/main/libraries/netstack/src/lib.rs /work/main/libraries/netstack/src/fragment.rs /work/main/libraries/netstack/src/icmp_error.rs /work/main/libraries/netstack/src/mss.rs /work/main/libraries/netstack/src/reassembly.rs

/work/main/libraries/netstack/src/lib.rs:
/work/main/libraries/netstack/src/fragment.rs:
/work/main/libraries/netstack/src/icmp_error.rs:
/work/main/libraries/netstack/src/mss.rs:
/work/main/libraries/netstack/src/reassembly.rs:
