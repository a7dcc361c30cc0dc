//! The configuration parser on arbitrary text (and arbitrary bytes, read as the
//! host runtime reads a file: lossily). Oracles: no panic; an error names a line
//! inside the file and formats; an accepted file splits into its PD parts; the stack
//! PDs' keyless copy (`without_keys`) parses exactly when the file does, fails on the
//! same line, and gives the stacks the same share.

#![no_main]

use encryptor_config::{without_keys, Config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let copy = without_keys(&text);
    match (Config::parse(&text), Config::parse(&copy)) {
        (Ok(config), Ok(stacks)) => {
            let (crypto, red, black) = config.into_parts();
            let _ = format!("{crypto:?} {red:?} {black:?}");
            let (_, copy_red, copy_black) = stacks.into_parts();
            assert!(copy_red == red && copy_black == black, "the keyless copy gives the stacks another share");
        }
        (Err(e), Err(copy_e)) => {
            let lines = text.lines().count() + 1;
            assert!(e.line <= lines, "error names line {} of a {}-line file", e.line, lines);
            let _ = e.to_string();
            assert_eq!(copy_e.line, e.line, "the keyless copy fails on another line");
        }
        (original, copy) => panic!("the file parses: {}, its keyless copy: {}", original.is_ok(), copy.is_ok()),
    }
});
