/work/main/tests/fuzz/target/debug/deps/roxmltree-c668a48c208e535d.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/parse.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/tokenizer.rs

/work/main/tests/fuzz/target/debug/deps/libroxmltree-c668a48c208e535d.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/lib.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/parse.rs /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/tokenizer.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/lib.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/parse.rs:
/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/roxmltree-0.20.0/src/tokenizer.rs:
