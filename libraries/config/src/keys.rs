//! The configuration file without its key material, for the PDs that must never hold a key.

use crate::parse::{breaks_a_line, decode_key, may_hold_key, ENCRYPTOR_KEYS, INTERFACE_KEYS, PEER_KEYS};
use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroize;

/// The all-zero key, in the file's base64 spelling: it parses as a key and is no secret.
const ZERO_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// `config` with its key material taken out, line for line (so that a parse error in the
/// result names the same line as in the original): the result parses wherever the original
/// does, with the same share for the stack PDs, and where the original fails on anything but a
/// key line, it fails on the same line. Key lines are crypto's to check:
/// - a key line (with its whitespace removed, it starts with `PrivateKey` or `PresharedKey` in
///   any case, so `Private Key = ...` or a missing `=` cannot smuggle a key through) becomes
///   `PrivateKey = ` the all-zero key, or an empty line for a preshared key;
/// - a `PublicKey` line holding one of the file's secrets (a key pasted in the wrong place)
///   gets the zero key, which the parser refuses there as it refuses the original;
/// - other lines stay as written if they are blank, a section header or `name = value` with a
///   name some section takes, without key material (whole or broken by whitespace), or a
///   well-formed `PublicKey` line; every other line (a key wrapped onto a line of its own or
///   its rest, a misspelt name, a line holding a character that ends a line for some reader,
///   such as a lone carriage return, a NUL, a form feed or U+2028, which could show a second
///   line with a key) fails in the original and becomes a lone DEL, which the parser refuses at
///   that line too;
/// - comments are dropped (they may quote a key).
pub fn without_keys(config: &str) -> String {
    // The file's secrets, to keep a PublicKey line holding one out (the parser refuses such a
    // line; the copy gives it the zero key, which it refuses at the same line). Sorted for the
    // lookups (a file may have a thousand peers), wiped when done; sized first, so that no
    // buffer is left behind with keys in it as the vector grows.
    let mut secrets: Vec<[u8; 32]> = Vec::with_capacity(config.lines().count());
    secrets.extend(config.lines().filter_map(|line| key_value(line.split('#').next().unwrap_or(""), &["PrivateKey", "PresharedKey"])));
    secrets.sort_unstable();
    let mut out = String::with_capacity(config.len());
    for line in config.lines() {
        if line.chars().any(breaks_a_line) {
            out.push_str("\u{7f}\n");
            continue;
        }
        let content = line.split('#').next().unwrap_or("");
        let squashed = content.chars().filter(|c| !c.is_whitespace());
        let key_name = ["PrivateKey", "PresharedKey"].into_iter().find(|name| starts_with_ignore_case(squashed.clone(), name));
        let public_key = key_value(content, &["PublicKey"]);
        if let Some(name) = key_name {
            // Key lines are crypto's to check (it refuses a bad one and names the line; the
            // stacks start): the private key becomes the zero key, which the stacks' parse
            // needs; a preshared key line becomes empty.
            if name == "PrivateKey" {
                out.push_str("PrivateKey = ");
                out.push_str(ZERO_KEY);
            }
        } else if public_key.is_some_and(|k| secrets.binary_search(&k).is_ok()) {
            out.push_str("PublicKey = ");
            out.push_str(ZERO_KEY);
        } else if public_key.is_some() || may_stand(content) {
            out.push_str(content.trim_end());
        } else {
            out.push('\u{7f}');
        }
        out.push('\n');
    }
    secrets.iter_mut().for_each(|k| k.zeroize());
    out
}

/// The key of a line (no comment) that the parser reads as `name = <key>` for one of `names`.
fn key_value(content: &str, names: &[&str]) -> Option<[u8; 32]> {
    let (k, v) = content.split_once('=')?;
    names.iter().any(|n| k.trim().eq_ignore_ascii_case(n)).then(|| decode_key(v.trim())).flatten()
}

/// Whether a line (no comment, no key line) may stand in the copy as written: blank, one of
/// the three section headers, or `name = value` with a name some section takes and a value
/// without key material (with its whitespace taken out too: a key broken by a space). Every other line fails in the
/// original (a missing `=`, an unknown or spaced name), so the lone DEL it becomes fails there
/// as well; that catches the rest of a key wrapped onto the next line, however short.
fn may_stand(content: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let line = content.trim();
    if line.is_empty() {
        return true;
    }
    if line.starts_with('[') {
        // A section header as the parser takes it; anything else after a `[` fails there.
        let name = line.strip_prefix('[').and_then(|r| r.strip_suffix(']')).map(str::trim);
        return name.is_some_and(|n| ["Interface", "Peer", "Encryptor"].iter().any(|k| k.eq_ignore_ascii_case(n)));
    }
    let Some((name, value)) = line.split_once('=') else { return false };
    let name = name.trim();
    let known = INTERFACE_KEYS.iter().chain(&PEER_KEYS).chain(&ENCRYPTOR_KEYS).any(|k| k.eq_ignore_ascii_case(name));
    known && !may_hold_key(value) && !may_hold_key(&squash(value))
}

fn starts_with_ignore_case(mut chars: impl Iterator<Item = char>, prefix: &str) -> bool {
    prefix.chars().all(|p| chars.next().is_some_and(|c| c.eq_ignore_ascii_case(&p)))
}
