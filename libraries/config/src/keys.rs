//! The configuration file without its key material, for the PDs that must never hold a key.

use alloc::string::String;

/// The all-zero key, in the file's base64 spelling: it parses as a key and is no secret.
const ZERO_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// `config` with its key material taken out, line for line (so that a parse error in the
/// result names the same line as in the original): the `PrivateKey` value becomes the
/// all-zero key, a `PresharedKey` line becomes empty, and comments are dropped (they may quote
/// a key). A line counts as a key line when, with its whitespace removed, it starts with the
/// key's name in any case, so `Private Key = ...` or a missing `=` cannot smuggle a key
/// through. A line holding a control character other than a tab (a lone carriage return, a
/// NUL, a form feed) could show a second line, with a key, to a person or a program that
/// splits there; the parser refuses such a line, and here it becomes a lone DEL, which the
/// parser refuses at the same line. The result parses wherever the original does, and fails
/// where it fails (the stack PDs read the same format); only the keys differ.
pub fn without_keys(config: &str) -> String {
    let mut out = String::with_capacity(config.len());
    for line in config.lines() {
        if line.chars().any(|c| c.is_control() && c != '\t') {
            out.push_str("\u{7f}\n");
            continue;
        }
        let content = line.split('#').next().unwrap_or("");
        let squashed = content.chars().filter(|c| !c.is_whitespace());
        if starts_with_ignore_case(squashed.clone(), "privatekey") {
            out.push_str("PrivateKey = ");
            out.push_str(ZERO_KEY);
        } else if !starts_with_ignore_case(squashed, "presharedkey") {
            out.push_str(content.trim_end());
        }
        out.push('\n');
    }
    out
}

fn starts_with_ignore_case(mut chars: impl Iterator<Item = char>, prefix: &str) -> bool {
    prefix.chars().all(|p| chars.next().is_some_and(|c| c.eq_ignore_ascii_case(&p)))
}
