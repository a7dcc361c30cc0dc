//! The configuration parser on arbitrary text (and arbitrary bytes, read as the
//! host runtime reads a file: lossily). Oracles: no panic; an error names a line
//! inside the file and formats; an accepted file splits into its PD parts; the stack
//! PDs' keyless copy (`without_keys`) parses when the file does, with the same share for
//! the stacks, and fails on the same line when the file fails on anything but a key line
//! (key lines are crypto's alone to refuse).

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
        (Err(e), copy) => {
            let lines = text.lines().count() + 1;
            assert!(e.line <= lines, "error names line {} of a {}-line file", e.line, lines);
            let _ = e.to_string();
            // A key line (its whitespace removed, it starts with PrivateKey or PresharedKey)
            // is crypto's alone to refuse.
            let squashed: String = text.lines().nth(e.line.wrapping_sub(1)).unwrap_or("").split('#').next().unwrap_or("").chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
            if !(squashed.starts_with("privatekey") || squashed.starts_with("presharedkey")) {
                assert_eq!(copy.err().map(|c| c.line), Some(e.line), "the keyless copy fails on another line, or not");
            }
        }
        (Ok(_), Err(_)) => panic!("the file parses, its keyless copy does not"),
    }
});
