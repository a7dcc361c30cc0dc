//! The configuration parser on arbitrary text (and arbitrary bytes, read as the
//! host runtime reads a file: lossily). Oracles: no panic; an error names a line
//! inside the file and formats; an accepted file splits into its PD parts.

#![no_main]

use encryptor_config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Config::parse(&text) {
        Ok(config) => {
            let (crypto, red, black) = config.into_parts();
            let _ = format!("{crypto:?} {red:?} {black:?}");
        }
        Err(e) => {
            let lines = text.lines().count() + 1;
            assert!(e.line <= lines, "error names line {} of a {}-line file", e.line, lines);
            let _ = e.to_string();
        }
    }
});
