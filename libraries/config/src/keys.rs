//! The configuration file without its key material, for the PDs that must never hold a key.

use crate::parse::{breaks_a_line, decode_key, may_hold_key};
use alloc::string::String;

/// The all-zero key, in the file's base64 spelling: it parses as a key and is no secret.
const ZERO_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
/// What an invalid key line's value becomes: not a key, so the copy fails there as well.
const NOT_A_KEY: &str = "(not a key)";

/// `config` with its key material taken out, line for line (so that a parse error in the
/// result names the same line as in the original, and the result parses wherever the original
/// does and fails where it fails: the stack PDs read the same format; only the keys differ):
/// - a key line (with its whitespace removed, it starts with `PrivateKey` or `PresharedKey` in
///   any case, so `Private Key = ...` or a missing `=` cannot smuggle a key through) keeps its
///   name; its value becomes the all-zero key if the parser would take the line as that key,
///   else a value that is no key (the copy then fails on that line too);
/// - any other line that holds or may hold a key (a key wrapped onto a line of its own, under
///   a misspelt name...) but a `PublicKey` line, and a line holding a character that ends a
///   line for some reader (a lone carriage return, a NUL, a form feed, U+2028), which could
///   show a second line with a key, becomes a lone DEL, which the parser refuses at that line
///   as it refuses the original;
/// - comments are dropped (they may quote a key).
pub fn without_keys(config: &str) -> String {
    let mut out = String::with_capacity(config.len());
    for line in config.lines() {
        if line.chars().any(breaks_a_line) {
            out.push_str("\u{7f}\n");
            continue;
        }
        let content = line.split('#').next().unwrap_or("");
        let squashed = content.chars().filter(|c| !c.is_whitespace());
        let key_name = ["PrivateKey", "PresharedKey"].into_iter().find(|name| starts_with_ignore_case(squashed.clone(), name));
        if let Some(name) = key_name {
            let valid = content.split_once('=').is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case(name) && decode_key(v.trim()).is_some());
            out.push_str(name);
            out.push_str(" = ");
            out.push_str(if valid { ZERO_KEY } else { NOT_A_KEY });
        } else if !starts_with_ignore_case(squashed, "publickey") && may_hold_key(content) {
            out.push('\u{7f}');
        } else {
            out.push_str(content.trim_end());
        }
        out.push('\n');
    }
    out
}

fn starts_with_ignore_case(mut chars: impl Iterator<Item = char>, prefix: &str) -> bool {
    prefix.chars().all(|p| chars.next().is_some_and(|c| c.eq_ignore_ascii_case(&p)))
}
