/work/main/tests/fuzz/target/debug/deps/sdf-a49595e9b9edaf59.d: /work/main/libraries/sdf/src/lib.rs /work/main/libraries/sdf/src/isolation.rs

/work/main/tests/fuzz/target/debug/deps/libsdf-a49595e9b9edaf59.rmeta: /work/main/libraries/sdf/src/lib.rs /work/main/libraries/sdf/src/isolation.rs

/work/main/libraries/sdf/src/lib.rs:
/work/main/libraries/sdf/src/isolation.rs:
