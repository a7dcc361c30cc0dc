/work/main/tests/fuzz/target/debug/deps/encryptor_config-450d7b9b5c6174fe.d: /work/main/libraries/config/src/lib.rs /work/main/libraries/config/src/keys.rs /work/main/libraries/config/src/parse.rs /work/main/libraries/config/src/region.rs

/work/main/tests/fuzz/target/debug/deps/libencryptor_config-450d7b9b5c6174fe.rmeta: /work/main/libraries/config/src/lib.rs /work/main/libraries/config/src/keys.rs /work/main/libraries/config/src/parse.rs /work/main/libraries/config/src/region.rs

/work/main/libraries/config/src/lib.rs:
/work/main/libraries/config/src/keys.rs:
/work/main/libraries/config/src/parse.rs:
/work/main/libraries/config/src/region.rs:
