use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use crate::parse::{decode_key, default_mac, fnv1a64};
use crate::*;

const PRIV: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PRIV_HEX: &str = "c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669";
const PUB1: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const PUB1_HEX: &str = "c53201039adba14be71f886da1d8dbe9eebded08cb111b75340078999aa9f038";
const PSK: &str = "/UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak=";
const PSK_HEX: &str = "fd4c1c48f837f215bf0fd637b5c4b514e5742b5c2e51131b4b4b1eb0910fe5a9";
const PUB2: &str = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
const PUB2_HEX: &str = "4eb32f4a83f88d842563a448cc181bb2c42a637bf12363e2fb2ef594e5965d7d";

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).unwrap();
    }
    out
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The full example: v4 + v6, two peers, PSK, IPv6 endpoint, comments,
/// mixed-case keys, odd spacing, repeated list keys.
fn full_text() -> String {
    format!(
        "# encryptor A\n\
         [Interface]\n\
         PrivateKey = {PRIV}\n\
         listenport=51820   # trailing comment\n\
         \n\
         [Peer]\n\
         PublicKey = {PUB1}\n\
         PresharedKey = {PSK}   # optional\n\
         Endpoint = 192.0.2.2:51820\n\
         AllowedIPs = 10.2.0.0/24, fd00:2::/64\n\
         AllowedIPs = 10.3.0.1/16\n\
         PersistentKeepalive = 25\n\
         \n\
         [ peer ]\n\
         \tPUBLICKEY\t=\t{PUB2}\r\n\
         Endpoint = [2001:db8::2]:51821\n\
         AllowedIPs = fd00:4::/48\n\
         PersistentKeepalive = 0\n\
         \n\
         [Encryptor]\n\
         RedAddress = 10.1.0.1/24, fd00:1::1/64\n\
         BlackAddress = 192.0.2.1/24\n\
         BlackAddress = 2001:db8::1/64\n\
         BlackGateway = 192.0.2.254\n\
         BlackGateway = 2001:db8::fffe\n\
         Bypass = 198.51.100.0/24\n\
         Drop = 10.2.99.0/24\n\
         RedMac = 02:00:00:00:01:01\n\
         BlackMac = 02-00-00-00-02-01\n"
    )
}

/// The smallest valid file; line numbers are relied on by the error tests.
fn min_lines() -> Vec<String> {
    vec![
        "[Interface]".into(),                 // 1
        format!("PrivateKey = {PRIV}"),       // 2
        "ListenPort = 51820".into(),          // 3
        "".into(),                            // 4
        "[Peer]".into(),                      // 5
        format!("PublicKey = {PUB1}"),        // 6
        "AllowedIPs = 10.2.0.0/24".into(),    // 7
        "".into(),                            // 8
        "[Encryptor]".into(),                 // 9
        "RedAddress = 10.1.0.1/24".into(),    // 10
        "BlackAddress = 192.0.2.1/24".into(), // 11
    ]
}

fn join(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// The minimal file with line `n` (1-based) replaced.
fn replaced(n: usize, text: &str) -> String {
    let mut l = min_lines();
    l[n - 1] = text.into();
    join(&l)
}

/// The minimal file with `text` inserted after line `n` (so it becomes line n+1).
fn inserted(n: usize, text: &str) -> String {
    let mut l = min_lines();
    l.insert(n, text.into());
    join(&l)
}

/// The minimal file without lines `from..=to`.
fn removed(from: usize, to: usize) -> String {
    let mut l = min_lines();
    l.drain(from - 1..to);
    join(&l)
}

#[track_caller]
fn expect_err(text: &str, line: usize, key: &str, kind: ErrorKind) {
    match Config::parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => {
            assert_eq!(
                e,
                ConfigError {
                    line,
                    key: key.into(),
                    kind
                },
                "for:\n{text}\n({e})"
            );
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("line {line}: {key}: ")),
                "{shown}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Valid files
// ---------------------------------------------------------------------------

#[test]
fn full_file_parses_to_expected_values() {
    let c = Config::parse(&full_text()).unwrap();

    assert_eq!(c.crypto.private_key, hex32(PRIV_HEX));
    assert_eq!(c.crypto.listen_port, 51820);
    assert_eq!(c.crypto.peers.len(), 2);

    let a = &c.crypto.peers[0];
    assert_eq!(a.public_key, hex32(PUB1_HEX));
    assert_eq!(a.preshared_key, Some(hex32(PSK_HEX)));
    assert_eq!(a.endpoint, Some("192.0.2.2:51820".parse().unwrap()));
    assert_eq!(
        a.allowed_ips,
        vec![p("10.2.0.0/24"), p("fd00:2::/64"), p("10.3.0.0/16")]
    );
    assert_eq!(a.persistent_keepalive, Some(25));

    let b = &c.crypto.peers[1];
    assert_eq!(b.public_key, hex32(PUB2_HEX));
    assert_eq!(b.preshared_key, None);
    assert_eq!(
        b.endpoint,
        Some(SocketAddr::new(
            IpAddr::V6("2001:db8::2".parse().unwrap()),
            51821
        ))
    );
    assert_eq!(b.allowed_ips, vec![p("fd00:4::/48")]);
    assert_eq!(b.persistent_keepalive, None);

    assert_eq!(c.red.addresses, vec![p("10.1.0.1/24"), p("fd00:1::1/64")]);
    assert_eq!(c.red.mac, [2, 0, 0, 0, 1, 1]);
    // Tunnel lines absent: the peers' AllowedIPs, plus the explicit Bypass/Drop.
    assert_eq!(
        c.red.rules,
        vec![
            Rule {
                prefix: p("198.51.100.0/24"),
                action: Action::Bypass
            },
            Rule {
                prefix: p("10.2.99.0/24"),
                action: Action::Drop
            },
            Rule {
                prefix: p("10.2.0.0/24"),
                action: Action::Tunnel
            },
            Rule {
                prefix: p("fd00:2::/64"),
                action: Action::Tunnel
            },
            Rule {
                prefix: p("10.3.0.0/16"),
                action: Action::Tunnel
            },
            Rule {
                prefix: p("fd00:4::/48"),
                action: Action::Tunnel
            },
        ]
    );

    assert_eq!(
        c.black.addresses,
        vec![p("192.0.2.1/24"), p("2001:db8::1/64")]
    );
    assert_eq!(c.black.gateway_v4, Some(Ipv4Addr::new(192, 0, 2, 254)));
    assert_eq!(c.black.gateway_v6, Some("2001:db8::fffe".parse().unwrap()));
    assert_eq!(c.black.mac, [2, 0, 0, 0, 2, 1]);
    assert_eq!(c.black.listen_port, 51820);
    assert_eq!(c.black.rules, c.red.rules, "both sides decide on the same rules");

    let (crypto, red, black) = c.clone().into_parts();
    assert_eq!((crypto, red, black), (c.crypto, c.red, c.black));
}

#[test]
fn minimal_file_and_defaults() {
    let c = Config::parse(&join(&min_lines())).unwrap();
    assert_eq!(c.crypto.peers[0].preshared_key, None);
    assert_eq!(c.crypto.peers[0].endpoint, None);
    assert_eq!(c.crypto.peers[0].persistent_keepalive, None);
    assert_eq!(c.black.gateway_v4, None);
    assert_eq!(c.black.gateway_v6, None);
    assert!(c.black.rules.iter().all(|r| r.action == Action::Tunnel));
    assert_eq!((c.red.mtu, c.red.mss_clamp), (DEFAULT_MTU, MssClamp::Auto));
    assert_eq!(c.red.mss_limits(), Some((1380, 1360)));
    assert_eq!(
        c.red.rules,
        vec![Rule {
            prefix: p("10.2.0.0/24"),
            action: Action::Tunnel
        }]
    );
}

#[test]
fn crlf_no_trailing_newline_and_keepalive_off() {
    let text = join(&min_lines()).replace('\n', "\r\n");
    assert!(Config::parse(&text).is_ok());
    let text = join(&min_lines());
    assert!(Config::parse(text.trim_end()).is_ok());
    let c = Config::parse(&inserted(7, "PersistentKeepalive = off")).unwrap();
    assert_eq!(c.crypto.peers[0].persistent_keepalive, None);
    let c = Config::parse(&inserted(7, "PersistentKeepalive = 65535")).unwrap();
    assert_eq!(c.crypto.peers[0].persistent_keepalive, Some(65535));
}

#[test]
fn debug_output_hides_secret_keys() {
    let c = Config::parse(&full_text()).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains(PRIV_HEX) && !dbg.contains(PSK_HEX), "{dbg}");
    assert!(!dbg.contains("200, 9, 243"), "{dbg}"); // private key as a byte array
    assert!(dbg.contains("<redacted>"));
    assert!(dbg.contains(PUB1_HEX)); // public keys may be shown
}

// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------

#[test]
fn default_tunnel_rules_come_from_all_peers_allowed_ips() {
    let text = inserted(7, "AllowedIPs = 10.2.0.77/24, fd00:2::1/64") // repeat (same network) + v6
        + &format!("[Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.9.0.0/16\n");
    let c = Config::parse(&text).unwrap();
    assert_eq!(
        c.crypto.peers[0].allowed_ips,
        vec![p("10.2.0.0/24"), p("fd00:2::/64")]
    );
    assert_eq!(
        c.red.rules,
        vec![
            Rule {
                prefix: p("10.2.0.0/24"),
                action: Action::Tunnel
            },
            Rule {
                prefix: p("fd00:2::/64"),
                action: Action::Tunnel
            },
            Rule {
                prefix: p("10.9.0.0/16"),
                action: Action::Tunnel
            },
        ]
    );
    assert_eq!(lookup(&c.red.rules, ip("10.9.200.1")), Some(Action::Tunnel));
    assert_eq!(lookup(&c.red.rules, ip("fd00:2::99")), Some(Action::Tunnel));
    assert_eq!(lookup(&c.red.rules, ip("10.3.0.1")), None);
}

#[test]
fn explicit_tunnel_lines_replace_the_default() {
    let text = inserted(11, "Tunnel = 10.2.0.0/16, fd00::/16")
        + "Tunnel = 10.7.0.0/16\nDrop = 10.2.99.0/24\n";
    let c = Config::parse(&text).unwrap();
    assert_eq!(
        c.red.rules,
        vec![
            Rule {
                prefix: p("10.2.0.0/16"),
                action: Action::Tunnel
            },
            Rule {
                prefix: p("fd00::/16"),
                action: Action::Tunnel
            },
            Rule {
                prefix: p("10.7.0.0/16"),
                action: Action::Tunnel
            },
            Rule {
                prefix: p("10.2.99.0/24"),
                action: Action::Drop
            },
        ]
    );
}

#[test]
fn explicit_action_overrides_a_default_tunnel_rule_of_the_same_prefix() {
    let c = Config::parse(&inserted(11, "Drop = 10.2.0.9/24")).unwrap();
    assert_eq!(
        c.red.rules,
        vec![Rule {
            prefix: p("10.2.0.0/24"),
            action: Action::Drop
        }]
    );
}

#[test]
fn lookup_longest_prefix_v4() {
    let rules = [
        Rule {
            prefix: p("0.0.0.0/0"),
            action: Action::Drop,
        },
        Rule {
            prefix: p("10.0.0.0/8"),
            action: Action::Tunnel,
        },
        Rule {
            prefix: p("10.2.0.0/16"),
            action: Action::Bypass,
        },
        Rule {
            prefix: p("10.2.99.0/24"),
            action: Action::Drop,
        },
        Rule {
            prefix: p("10.2.99.7/32"),
            action: Action::Tunnel,
        },
    ];
    assert_eq!(lookup(&rules, ip("11.0.0.1")), Some(Action::Drop));
    assert_eq!(lookup(&rules, ip("10.1.0.1")), Some(Action::Tunnel));
    assert_eq!(lookup(&rules, ip("10.2.0.1")), Some(Action::Bypass));
    assert_eq!(lookup(&rules, ip("10.2.99.1")), Some(Action::Drop));
    assert_eq!(lookup(&rules, ip("10.2.99.7")), Some(Action::Tunnel));
    // Order of the rules does not matter.
    let mut rev = rules;
    rev.reverse();
    for a in ["11.0.0.1", "10.1.0.1", "10.2.0.1", "10.2.99.1", "10.2.99.7"] {
        assert_eq!(lookup(&rev, ip(a)), lookup(&rules, ip(a)));
    }
    // A v4 /0 does not match v6.
    assert_eq!(lookup(&rules, ip("::1")), None);
    assert_eq!(lookup(&rules, ip("::ffff:10.2.99.7")), None);
}

#[test]
fn lookup_longest_prefix_v6_and_family_mismatch() {
    let rules = [
        Rule {
            prefix: p("fd00::/8"),
            action: Action::Tunnel,
        },
        Rule {
            prefix: p("fd00:2::/64"),
            action: Action::Bypass,
        },
        Rule {
            prefix: p("fd00:2::5/128"),
            action: Action::Drop,
        },
        Rule {
            prefix: p("10.0.0.0/8"),
            action: Action::Tunnel,
        },
    ];
    assert_eq!(lookup(&rules, ip("fd12::1")), Some(Action::Tunnel));
    assert_eq!(lookup(&rules, ip("fd00:2::1")), Some(Action::Bypass));
    assert_eq!(lookup(&rules, ip("fd00:2::5")), Some(Action::Drop));
    assert_eq!(lookup(&rules, ip("fe80::1")), None);
    assert_eq!(lookup(&rules, ip("2001:db8::1")), None);
    assert_eq!(lookup(&[], ip("10.0.0.1")), None);
    let all6 = [Rule {
        prefix: p("::/0"),
        action: Action::Bypass,
    }];
    assert_eq!(lookup(&all6, ip("10.0.0.1")), None);
    assert_eq!(lookup(&all6, ip("2001:db8::1")), Some(Action::Bypass));
}

#[test]
fn lookup_equal_length_tie_fails_closed() {
    let t = Rule {
        prefix: p("10.0.0.0/8"),
        action: Action::Tunnel,
    };
    let b = Rule {
        prefix: p("10.0.0.0/8"),
        action: Action::Bypass,
    };
    let d = Rule {
        prefix: p("10.0.0.0/8"),
        action: Action::Drop,
    };
    assert_eq!(lookup(&[b, t], ip("10.1.1.1")), Some(Action::Tunnel));
    assert_eq!(lookup(&[t, b], ip("10.1.1.1")), Some(Action::Tunnel));
    assert_eq!(lookup(&[d, t, b], ip("10.1.1.1")), Some(Action::Drop));
    assert_eq!(lookup(&[b, t, d], ip("10.1.1.1")), Some(Action::Drop));
    for rules in [&[b, t][..], &[t, b], &[d, t, b], &[b, t, d], &[t, d]] {
        assert_eq!(rule_table(rules).get(ip("10.1.1.1")), lookup(rules, ip("10.1.1.1")));
        assert_eq!(rule_table(rules).len(), 1);
    }
}

/// Addresses near the rules' edges: each rule's network, its last address, one past either,
/// and some of neither family's rules.
fn probes(rules: &[Rule], rng: &mut Rng) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for r in rules {
        let n = r.prefix.network();
        match n.addr {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                let last = a | !mask_v4(n.len);
                for x in [a, last, a.wrapping_sub(1), last.wrapping_add(1), a | (rng.next() as u32 & !mask_v4(n.len))] {
                    out.push(IpAddr::V4(Ipv4Addr::from(x)));
                }
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                let last = a | !mask_v6(n.len);
                for x in [a, last, a.wrapping_sub(1), last.wrapping_add(1), a | (u128::from(rng.next()) & !mask_v6(n.len))] {
                    out.push(IpAddr::V6(Ipv6Addr::from(x)));
                }
            }
        }
    }
    out.extend([ip("0.0.0.0"), ip("255.255.255.255"), ip("::"), ip("::ffff:10.0.0.1"), ip("10.0.0.1")]);
    out
}

/// The table answers as the scan does, for rule sets of nested, equal and disjoint prefixes of
/// both families (as from a config, and hand-built ones with ties and host bits set).
#[test]
fn rule_table_answers_as_the_scan_does() {
    let mut rng = Rng(0x5eed_7ab1e);
    let actions = [Action::Tunnel, Action::Bypass, Action::Drop];
    for round in 0..400 {
        let count = 1 + rng.below(if round % 10 == 0 { 300 } else { 12 });
        let rules: Vec<Rule> = (0..count)
            .map(|_| {
                // Few distinct networks, so that prefixes nest and repeat.
                let base = rng.below(4) as u32;
                let prefix = if rng.below(2) == 0 {
                    let len = rng.below(33) as u8;
                    let addr = (10 << 24) | (base << 16) | (rng.below(4) as u32) << 8 | rng.below(256) as u32;
                    Prefix { addr: IpAddr::V4(Ipv4Addr::from(addr)), len }
                } else {
                    let len = rng.below(129) as u8;
                    let addr = (0xfd00u128 << 112) | (u128::from(base) << 80) | (rng.below(4) as u128) << 64 | rng.below(256) as u128;
                    Prefix { addr: IpAddr::V6(Ipv6Addr::from(addr)), len }
                };
                Rule { prefix, action: actions[rng.below(3)] }
            })
            .collect();
        let table = rule_table(&rules);
        for a in probes(&rules, &mut rng) {
            assert_eq!(table.get(a), lookup(&rules, a), "{a} in {rules:?}");
        }
    }
}

#[test]
fn prefix_table_keeps_the_first_value_of_a_repeated_prefix_when_asked() {
    let t = PrefixTable::new([(p("10.0.0.0/8"), 1), (p("10.9.9.9/8"), 2), (p("10.1.0.0/16"), 3), (p("fd00::/8"), 4)], |a, _| a);
    assert_eq!(t.len(), 3);
    assert_eq!(t.get(ip("10.2.0.1")), Some(1));
    assert_eq!(t.get(ip("10.1.0.1")), Some(3));
    assert_eq!(t.get(ip("fd00::1")), Some(4));
    assert_eq!(t.get(ip("11.0.0.1")), None);
    assert_eq!(t.get(ip("fe80::1")), None);
    assert!(PrefixTable::<u8>::new([], |a, _| a).is_empty());
}

// ---------------------------------------------------------------------------
// Prefix
// ---------------------------------------------------------------------------

#[test]
fn prefix_parsing() {
    assert_eq!(
        p("10.0.0.0/8"),
        Prefix {
            addr: ip("10.0.0.0"),
            len: 8
        }
    );
    assert_eq!(
        p("10.1.2.3"),
        Prefix {
            addr: ip("10.1.2.3"),
            len: 32
        }
    );
    assert_eq!(
        p("fd00::1"),
        Prefix {
            addr: ip("fd00::1"),
            len: 128
        }
    );
    assert_eq!(p("0.0.0.0/0").len, 0);
    assert_eq!(p("::/0").len, 0);
    assert_eq!(p("1.2.3.4/32").len, 32);
    assert_eq!(p("::1/128").len, 128);
    assert_eq!(p("10.0.0.0/008").len, 8);
    for bad in [
        "",
        "/",
        "/8",
        "10.0.0.0/",
        "10.0.0.0/33",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        " 10.0.0.0/8",
        "10.0.0.0 /8",
        "10.0.0.0/8/8",
        "10.0.0/8",
        "10.0.0.256/8",
        "fd00::/129",
        "fd00::/1000",
        "fd00::/256",
        "fd00::/0x10",
        "[fd00::]/64",
        "fd00:::/64",
        "host/8",
        "010.0.0.0/8",
        "10.0.0.0/٣",
    ] {
        assert_eq!(bad.parse::<Prefix>(), Err(ParsePrefixError), "{bad:?}");
    }
    assert_eq!(p("fd00:2::/64").to_string(), "fd00:2::/64");
    assert_eq!(p("10.2.0.1/24").to_string(), "10.2.0.1/24");
    assert_eq!(p("10.2.0.1").to_string(), "10.2.0.1/32");
    assert_eq!(Prefix::new(ip("10.0.0.0"), 33), None);
    assert_eq!(Prefix::new(ip("::"), 128), Some(p("::/128")));
}

#[test]
fn prefix_contains_and_network() {
    let any4 = p("0.0.0.0/0");
    assert!(any4.contains(ip("255.255.255.255")) && any4.contains(ip("0.0.0.0")));
    assert!(!any4.contains(ip("::")));
    let any6 = p("::/0");
    assert!(any6.contains(ip("ffff::1")) && !any6.contains(ip("1.2.3.4")));
    let host = p("10.2.0.7/32");
    assert!(host.contains(ip("10.2.0.7")) && !host.contains(ip("10.2.0.6")));
    let host6 = p("fd00::7/128");
    assert!(host6.contains(ip("fd00::7")) && !host6.contains(ip("fd00::6")));
    let net = p("10.2.0.1/24"); // host bits set: compare only the first 24 bits
    assert!(net.contains(ip("10.2.0.200")) && !net.contains(ip("10.2.1.0")));
    let odd = p("10.2.128.0/17");
    assert!(odd.contains(ip("10.2.255.255")) && !odd.contains(ip("10.2.127.255")));
    let v6 = p("fd00:2::/63");
    assert!(v6.contains(ip("fd00:2:0:1::1")) && !v6.contains(ip("fd00:2:0:2::1")));
    // Mapped v4 addresses are v6: no cross-family match.
    assert!(!p("10.0.0.0/8").contains(ip("::ffff:10.0.0.1")));

    assert_eq!(p("10.2.0.77/24").network(), p("10.2.0.0/24"));
    assert_eq!(p("10.2.0.77/0").network(), p("0.0.0.0/0"));
    assert_eq!(p("10.2.0.77/32").network(), p("10.2.0.77/32"));
    assert_eq!(p("fd00:2::1:2:3/64").network(), p("fd00:2::/64"));
    assert_eq!(p("fd00:2::1/128").network(), p("fd00:2::1/128"));
    assert_eq!(p("ffff::1/1").network(), p("8000::/1"));

    // Hand-built out-of-range lengths do not panic and act as full length.
    let wild = Prefix {
        addr: ip("10.0.0.1"),
        len: 200,
    };
    assert!(wild.contains(ip("10.0.0.1")) && !wild.contains(ip("10.0.0.2")));
    assert_eq!(wild.network(), p("10.0.0.1/32"));
    let wild6 = Prefix {
        addr: ip("fd00::1"),
        len: 255,
    };
    assert!(wild6.contains(ip("fd00::1")) && !wild6.contains(ip("fd00::2")));
    assert_eq!(
        lookup(
            &[Rule {
                prefix: wild,
                action: Action::Drop
            }],
            ip("10.0.0.1")
        ),
        Some(Action::Drop)
    );
}

// ---------------------------------------------------------------------------
// MACs and keys
// ---------------------------------------------------------------------------

#[test]
fn default_macs_are_derived_deterministically() {
    let c = Config::parse(&join(&min_lines())).unwrap();
    assert_eq!(c.red.mac, default_mac("red", &p("10.1.0.1/24")));
    assert_eq!(c.black.mac, default_mac("black", &p("192.0.2.1/24")));
    assert_ne!(c.red.mac, c.black.mac);
    for m in [c.red.mac, c.black.mac] {
        assert_eq!(m[0], 0x02); // locally administered, unicast
    }
    let h = fnv1a64(b"red 10.1.0.1/24").to_be_bytes();
    assert_eq!(c.red.mac[1..], h[..5]);
    // The same file gives the same MACs; a different address another.
    assert_eq!(
        Config::parse(&join(&min_lines())).unwrap().red.mac,
        c.red.mac
    );
    let other = Config::parse(&replaced(10, "RedAddress=10.2.0.1/24")).unwrap();
    assert_ne!(other.red.mac, c.red.mac);
    assert_eq!(other.black.mac, c.black.mac);
    // Spacing in the file does not matter.
    let spaced = Config::parse(&replaced(10, "RedAddress =   10.1.0.1/24 ")).unwrap();
    assert_eq!(spaced.red.mac, c.red.mac);
    // FNV-1a test vectors.
    assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
    assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
}

#[test]
fn a_default_mac_never_equals_the_other_sides() {
    let c = Config::parse(&join(&min_lines())).unwrap();
    let red = c.red.mac;
    let text = inserted(
        11,
        &format!(
            "BlackMac = {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            red[0], red[1], red[2], red[3], red[4], red[5]
        ),
    );
    let c = Config::parse(&text).unwrap();
    assert_eq!(c.black.mac, red);
    assert_ne!(c.red.mac, c.black.mac);
}

#[test]
fn base64_keys() {
    assert_eq!(decode_key(PRIV), Some(hex32(PRIV_HEX)));
    assert_eq!(decode_key(PSK), Some(hex32(PSK_HEX)));
    assert_eq!(
        decode_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        Some([0; 32])
    );
    assert_eq!(
        decode_key("//////////////////////////////////////////8="),
        Some([0xff; 32])
    );
    for bad in [
        "",
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk", // no padding
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk==", // 45 chars
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBml=", // non-canonical last char
        "yAnz5TF-lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", // url-safe alphabet
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fB k=", // space
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm==", // 31 bytes
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmké", // non-ASCII
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3f=mk=", // '=' inside
    ] {
        assert_eq!(decode_key(bad), None, "{bad:?}");
    }
}

// ---------------------------------------------------------------------------
// Errors: each kind names the right line and key
// ---------------------------------------------------------------------------

#[test]
fn error_structure_errors() {
    use ErrorKind::*;
    expect_err(&inserted(0, "[Foo]"), 1, "[Foo]", UnknownSection);
    expect_err(&inserted(4, "[Peer"), 5, "[Peer", UnknownSection);
    expect_err(&inserted(4, "[Peer] x"), 5, "[Peer] x", UnknownSection);
    expect_err(&inserted(4, "[]"), 5, "[]", UnknownSection);
    expect_err(
        &(join(&min_lines()) + "[interface]\n"),
        12,
        "[Interface]",
        DuplicateSection { first_line: 1 },
    );
    expect_err(
        &(join(&min_lines()) + "[Encryptor]\n"),
        12,
        "[Encryptor]",
        DuplicateSection { first_line: 9 },
    );
    expect_err(
        &inserted(0, "ListenPort = 1"),
        1,
        "ListenPort",
        KeyOutsideSection,
    );
    expect_err(
        &replaced(3, "ListenPort 51820"),
        3,
        "ListenPort",
        MissingEquals,
    );
    expect_err(
        &inserted(3, "Address = 10.0.0.1/24"),
        4,
        "Address",
        UnknownKey {
            section: "[Interface]",
        },
    );
    expect_err(
        &inserted(3, "FwMark = 1"),
        4,
        "FwMark",
        UnknownKey {
            section: "[Interface]",
        },
    );
    expect_err(
        &inserted(7, "Endpiont = 192.0.2.2:1"),
        8,
        "Endpiont",
        UnknownKey { section: "[Peer]" },
    );
    expect_err(
        &inserted(11, "ListenPort = 1"),
        12,
        "ListenPort",
        UnknownKey {
            section: "[Encryptor]",
        },
    );
    expect_err(
        &inserted(11, " = 1"),
        12,
        "",
        UnknownKey {
            section: "[Encryptor]",
        },
    );
}

#[test]
fn missing_equals_does_not_echo_key_material() {
    let e = Config::parse(&replaced(2, &format!("PrivateKey {PRIV}"))).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str(), &e.kind),
        (2, "PrivateKey", &ErrorKind::MissingEquals)
    );
    assert!(!e.to_string().contains(PRIV));
    let e = Config::parse(&replaced(2, &format!("PrivateKey:{PRIV}"))).unwrap_err();
    assert_eq!(
        (e.line, e.kind.clone()),
        (
            2,
            ErrorKind::UnknownKey {
                section: "[Interface]"
            }
        )
    );
    // Once it showed the first 20 characters, half of them the key's: now nothing of it.
    assert_eq!(e.key, "(not shown: it may hold a key)");
    let e = Config::parse(&replaced(2, &format!("  PrivateKey\t{PRIV} # no equals"))).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str(), &e.kind),
        (2, "PrivateKey", &ErrorKind::MissingEquals)
    );
    let e = Config::parse(&replaced(2, &format!("PrivateKey{PRIV}"))).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::UnknownKey {
            section: "[Interface]"
        }
    );
    assert_eq!(e.key, "(not shown: it may hold a key)");
    let e = Config::parse(&replaced(2, "PrivateKey = AAAA")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadKey);
    assert!(!e.to_string().contains("AAAA"), "{e}");
}

#[test]
fn error_duplicates() {
    use ErrorKind::*;
    expect_err(
        &inserted(3, "listenport = 1"),
        4,
        "ListenPort",
        Duplicate { first_line: 3 },
    );
    expect_err(
        &inserted(3, &format!("PrivateKey = {PRIV}")),
        4,
        "PrivateKey",
        Duplicate { first_line: 2 },
    );
    // Duplicate is reported even when the second value is malformed.
    expect_err(
        &inserted(3, "ListenPort = x"),
        4,
        "ListenPort",
        Duplicate { first_line: 3 },
    );
    expect_err(
        &inserted(7, &format!("PublicKey = {PUB2}")),
        8,
        "PublicKey",
        Duplicate { first_line: 6 },
    );
    let text = inserted(7, &format!("PresharedKey = {PSK}\npresharedkey = {PSK}"));
    expect_err(&text, 9, "PresharedKey", Duplicate { first_line: 8 });
    let text = inserted(7, "Endpoint = 192.0.2.2:1\nEndpoint = 192.0.2.2:1");
    expect_err(&text, 9, "Endpoint", Duplicate { first_line: 8 });
    let text = inserted(7, "PersistentKeepalive = 1\nPersistentKeepalive = 1");
    expect_err(&text, 9, "PersistentKeepalive", Duplicate { first_line: 8 });
    let text = inserted(
        11,
        "BlackGateway = 192.0.2.254\nBlackGateway = 2001:db8::1\nBlackGateway = 192.0.2.253",
    );
    expect_err(&text, 14, "BlackGateway", Duplicate { first_line: 12 });
    let text = inserted(11, "RedMac = 02:00:00:00:00:01\nredmac = 02:00:00:00:00:01");
    expect_err(&text, 13, "RedMac", Duplicate { first_line: 12 });
    let text = inserted(
        11,
        "BlackMac = 02:00:00:00:00:01\nBlackMac = 02:00:00:00:00:01",
    );
    expect_err(&text, 13, "BlackMac", Duplicate { first_line: 12 });
}

#[test]
fn error_bad_keys() {
    for bad in [
        "",
        "abc",
        "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBml=",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
    ] {
        expect_err(
            &replaced(2, &format!("PrivateKey = {bad}")),
            2,
            "PrivateKey",
            ErrorKind::BadKey,
        );
        expect_err(
            &replaced(6, &format!("PublicKey = {bad}")),
            6,
            "PublicKey",
            ErrorKind::BadKey,
        );
        expect_err(
            &inserted(6, &format!("PresharedKey={bad}")),
            7,
            "PresharedKey",
            ErrorKind::BadKey,
        );
    }
}

#[test]
fn error_bad_port_display() {
    let e = Config::parse(&replaced(3, "ListenPort = 99999")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3: ListenPort: port must be 1-65535, got \"99999\""
    );
    for bad in [
        "0",
        "65536",
        "-1",
        "+1",
        "",
        "51820x",
        "0x10",
        "5 1",
        "000051820",
    ] {
        expect_err(
            &replaced(3, &format!("ListenPort = {bad}")),
            3,
            "ListenPort",
            ErrorKind::BadPort(bad.into()),
        );
    }
    for good in ["1", "65535", "00080"] {
        assert!(
            Config::parse(&replaced(3, &format!("ListenPort = {good}"))).is_ok(),
            "{good}"
        );
    }
}

#[test]
fn error_bad_endpoint() {
    for bad in [
        "example.com:51820",
        "192.0.2.2",
        "192.0.2.2:",
        "[2001:db8::2]",
        "2001:db8::2:51820",
        "192.0.2.2:0",
        "192.0.2.2:65536",
        "0.0.0.0:51820",
        "[::]:51820",
        "224.0.0.1:51820",
        "255.255.255.255:1",
        "[ff02::1]:1",
        "192.0.2.2:51820, 192.0.2.3:51820",
    ] {
        expect_err(
            &inserted(6, &format!("Endpoint = {bad}")),
            7,
            "Endpoint",
            ErrorKind::BadEndpoint(bad.into()),
        );
    }
}

#[test]
fn error_bad_keepalive() {
    for bad in ["65536", "-1", "x", "", "on", "25s"] {
        expect_err(
            &inserted(6, &format!("PersistentKeepalive = {bad}")),
            7,
            "PersistentKeepalive",
            ErrorKind::BadKeepalive(bad.into()),
        );
    }
}

#[test]
fn error_bad_prefixes() {
    use ErrorKind::BadPrefix;
    for bad in ["10.2.0.0/33", "fd00::/129", "10.2.0.0/", "nonsense", ""] {
        expect_err(
            &replaced(7, &format!("AllowedIPs = {bad}")),
            7,
            "AllowedIPs",
            BadPrefix(bad.into()),
        );
        expect_err(
            &replaced(10, &format!("RedAddress = {bad}")),
            10,
            "RedAddress",
            BadPrefix(bad.into()),
        );
        expect_err(
            &replaced(11, &format!("BlackAddress = {bad}")),
            11,
            "BlackAddress",
            BadPrefix(bad.into()),
        );
        for key in ["Tunnel", "Bypass", "Drop"] {
            expect_err(
                &inserted(11, &format!("{key} = {bad}")),
                12,
                key,
                BadPrefix(bad.into()),
            );
        }
    }
    // An empty list element, and the bad element of a list.
    expect_err(
        &replaced(7, "AllowedIPs = 10.2.0.0/24,"),
        7,
        "AllowedIPs",
        BadPrefix("".into()),
    );
    expect_err(
        &replaced(7, "AllowedIPs = 10.2.0.0/24, fd00::/200"),
        7,
        "AllowedIPs",
        BadPrefix("fd00::/200".into()),
    );
    // An interface address needs a real prefix length.
    expect_err(
        &replaced(10, "RedAddress = 10.1.0.1/0"),
        10,
        "RedAddress",
        BadPrefix("10.1.0.1/0".into()),
    );
}

#[test]
fn error_bad_addresses() {
    use ErrorKind::BadAddress;
    // Besides no host's address: our own may not be loopback, nor an IPv4 prefix's network or
    // broadcast address (a /31 or /32 has neither).
    for bad in ["0.0.0.0/8", "224.0.0.1/24", "::/64", "ff02::1/64", "127.0.0.1/8", "::1/128", "10.1.0.0/24", "10.1.0.255/24", "10.1.0.3/30"] {
        expect_err(
            &replaced(10, &format!("RedAddress = {bad}")),
            10,
            "RedAddress",
            BadAddress(bad.into()),
        );
        expect_err(
            &replaced(11, &format!("BlackAddress = {bad}")),
            11,
            "BlackAddress",
            BadAddress(bad.into()),
        );
    }
    for bad in [
        "192.0.2.254/24",
        "gateway",
        "",
        "0.0.0.0",
        "ff02::2",
        "255.255.255.255",
    ] {
        expect_err(
            &inserted(11, &format!("BlackGateway = {bad}")),
            12,
            "BlackGateway",
            BadAddress(bad.into()),
        );
    }
}

#[test]
fn mtu_and_mss_clamp_set_the_tunnel_limits() {
    let c = Config::parse(&inserted(3, "MTU = 1500")).unwrap();
    assert_eq!((c.red.tunnel_mtu(false), c.red.tunnel_mtu(true)), (1500, 1500));
    assert_eq!(c.red.mss_limits(), Some((1460, 1440)));
    // Below IPv6's minimum the tunnel still carries 1280-byte IPv6 packets.
    let c = Config::parse(&inserted(3, "mtu = 1000")).unwrap();
    assert_eq!((c.red.tunnel_mtu(false), c.red.tunnel_mtu(true)), (1000, 1280));
    assert_eq!(c.red.mss_limits(), Some((960, 1220)));
    let c = Config::parse(&inserted(11, "MssClamp = off")).unwrap();
    assert_eq!(c.red.mss_limits(), None);
    let c = Config::parse(&inserted(11, "MssClamp = 1200")).unwrap();
    assert_eq!(c.red.mss_limits(), Some((1200, 1200)));
    let c = Config::parse(&inserted(11, "MssClamp = AUTO")).unwrap();
    assert_eq!(c.red.mss_clamp, MssClamp::Auto);
    // The stacks' keyless copy keeps both.
    let text = inserted(3, "MTU = 1400");
    assert_eq!(Config::parse(&without_keys(&text)).unwrap().red.mtu, 1400);
}

#[test]
fn error_bad_mtu_and_mss_clamp() {
    for bad in ["575", "1501", "9000", "-1", "", "1420 bytes", "0x500", "99999999"] {
        expect_err(&inserted(3, &format!("MTU = {bad}")), 4, "MTU", ErrorKind::BadMtu(bad.into()));
    }
    expect_err(
        &join(&[min_lines(), vec!["[Interface]".into()]].concat()),
        12,
        "[Interface]",
        ErrorKind::DuplicateSection { first_line: 1 },
    );
    let twice = {
        let mut l = min_lines();
        l.insert(3, "MTU = 1400".into());
        l.insert(4, "MTU = 1300".into());
        join(&l)
    };
    expect_err(&twice, 5, "MTU", ErrorKind::Duplicate { first_line: 4 });
    for bad in ["535", "1461", "on", "", "auto,off"] {
        expect_err(
            &inserted(11, &format!("MssClamp = {bad}")),
            12,
            "MssClamp",
            ErrorKind::BadMssClamp(bad.into()),
        );
    }
}

#[test]
fn error_bad_macs() {
    for bad in [
        "01:00:00:00:00:01", // multicast
        "00:00:00:00:00:00",
        "02:00:00:00:01",
        "02:00:00:00:01:01:01",
        "02:00:00:00:01:1g",
        "02:00:00:00:01:001",
        "2:0:0:0:1:1",
        "02:00-00:00:01:01",
        "",
    ] {
        expect_err(
            &inserted(11, &format!("RedMac = {bad}")),
            12,
            "RedMac",
            ErrorKind::BadMac(bad.into()),
        );
        expect_err(
            &inserted(11, &format!("BlackMac = {bad}")),
            12,
            "BlackMac",
            ErrorKind::BadMac(bad.into()),
        );
    }
}

/// A gateway is a neighbour: neighbour resolution reaches only the black link, so a gateway off
/// it, or our own address, would leave every off-link endpoint unreachable without a word.
#[test]
fn a_gateway_must_be_on_the_black_link() {
    for bad in ["192.0.3.254", "10.0.0.1", "192.0.2.1", "192.0.2.0", "192.0.2.255"] {
        expect_err(&inserted(11, &format!("BlackGateway = {bad}")), 12, "BlackGateway", ErrorKind::GatewayOffLink);
    }
    let v6 = inserted(11, "BlackAddress = 2001:db8::1/64");
    for bad in ["2001:db8:1::1", "2001:db8::1", "fd00::1"] {
        let text = v6.clone() + &format!("BlackGateway = {bad}\n");
        expect_err(&text, 13, "BlackGateway", ErrorKind::GatewayOffLink);
    }
    // On the link: inside the prefix, or (IPv6) link-local, as routers often announce themselves.
    for good in ["192.0.2.254", "2001:db8::fffe", "fe80::1"] {
        let text = v6.clone() + &format!("BlackGateway = {good}\n");
        let c = Config::parse(&text).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(c.black.gateway_v4.map(IpAddr::V4) == Some(ip(good)) || c.black.gateway_v6.map(IpAddr::V6) == Some(ip(good)));
    }
    // A link-local gateway needs an IPv6 address on the link to be asked from.
    expect_err(&inserted(11, "BlackGateway = fe80::1"), 12, "BlackGateway", ErrorKind::GatewayFamily);
}

#[test]
fn error_families() {
    expect_err(
        &inserted(11, "BlackGateway = 2001:db8::1"),
        12,
        "BlackGateway",
        ErrorKind::GatewayFamily,
    );
    let text = replaced(11, "BlackAddress = 2001:db8::1/64") + "BlackGateway = 192.0.2.254\n";
    expect_err(&text, 12, "BlackGateway", ErrorKind::GatewayFamily);
    expect_err(
        &inserted(7, "Endpoint = [2001:db8::2]:51820"),
        8,
        "Endpoint",
        ErrorKind::EndpointFamily,
    );
    // A v6 gateway and endpoint are fine once there is a v6 black address.
    let text = inserted(7, "Endpoint = [2001:db8::2]:51820")
        + "BlackAddress = 2001:db8::1/64\nBlackGateway = 2001:db8::fffe\n";
    assert!(Config::parse(&text).is_ok());
}

#[test]
fn error_conflicting_rules() {
    let text =
        inserted(11, "Tunnel = 10.2.0.0/16") + "Bypass = 10.3.0.0/16, 10.2.1.1/16 # same network\n";
    expect_err(
        &text,
        13,
        "Bypass",
        ErrorKind::ConflictingRule { first_line: 12 },
    );
    // The same action twice is harmless and kept once.
    let c = Config::parse(&(inserted(11, "Drop = 10.9.0.0/16") + "Drop = 10.9.0.0/16\n")).unwrap();
    assert_eq!(
        c.red
            .rules
            .iter()
            .filter(|r| r.action == Action::Drop)
            .count(),
        1
    );
}

#[test]
fn error_missing_keys_and_sections() {
    use ErrorKind::*;
    expect_err(&removed(2, 2), 1, "[Interface]", Missing("PrivateKey"));
    expect_err(&removed(3, 3), 1, "[Interface]", Missing("ListenPort"));
    expect_err(&removed(1, 4), 0, "[Interface]", Missing("[Interface]"));
    expect_err(&removed(6, 6), 5, "[Peer]", Missing("PublicKey"));
    expect_err(&removed(7, 7), 5, "[Peer]", Missing("AllowedIPs"));
    expect_err(&removed(5, 8), 0, "[Peer]", NoPeers);
    expect_err(&removed(9, 11), 0, "[Encryptor]", Missing("[Encryptor]"));
    expect_err(&removed(10, 10), 9, "[Encryptor]", Missing("RedAddress"));
    expect_err(&removed(11, 11), 9, "[Encryptor]", Missing("BlackAddress"));
    // A second, empty peer is reported at its own header.
    let text = inserted(8, "[Peer]");
    expect_err(&text, 9, "[Peer]", Missing("PublicKey"));
    let e = Config::parse(&removed(9, 11)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 0: [Encryptor]: the [Encryptor] section is missing"
    );
    let e = Config::parse(&removed(2, 2)).unwrap_err();
    assert_eq!(e.to_string(), "line 1: [Interface]: missing PrivateKey");
    assert_eq!(Config::parse("").unwrap_err().kind, Missing("[Interface]"));
}

#[test]
fn error_duplicate_peer_and_overlap() {
    let text = inserted(
        8,
        &format!("[Peer]\nPublicKey = {PUB1}\nAllowedIPs = 10.3.0.0/24"),
    );
    expect_err(
        &text,
        10,
        "PublicKey",
        ErrorKind::DuplicatePeer { first_line: 6 },
    );
    let text = inserted(
        8,
        &format!("[Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.3.0.0/24, 10.2.0.9/24"),
    );
    expect_err(
        &text,
        11,
        "AllowedIPs",
        ErrorKind::OverlappingAllowedIps { first_line: 7 },
    );
    // Nested (not equal) prefixes in two peers are allowed, like in WireGuard.
    let text = inserted(
        8,
        &format!("[Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.2.0.0/16"),
    );
    assert!(Config::parse(&text).is_ok());
}

/// A network written again for the same peer (also with other host bits) is kept once and
/// counted once; one of an earlier peer, written many times, is refused at its first writing,
/// after the checks of the peers before it (a peer without a key is still reported first).
#[test]
fn repeated_networks_are_kept_once_and_counted_once() {
    let repeats = ", 10.2.0.0/24".repeat(1000) + ", 10.2.0.77/24, fd00::1, fd00::1";
    let c = Config::parse(&replaced(7, &format!("AllowedIPs = 10.2.0.0/24{repeats}"))).unwrap();
    assert_eq!(c.crypto.peers[0].allowed_ips, vec![p("10.2.0.0/24"), p("fd00::1/128")]);
    assert_eq!(c.prefixes, 2);
    assert_eq!(c.red.rules.len(), 2);
    // Explicit rules count too (a Drop of a peer's network is one rule, that network once).
    let c = Config::parse(&inserted(11, "Bypass = 198.51.100.0/24, 203.0.113.0/24\nDrop = 10.2.0.0/24")).unwrap();
    assert_eq!(c.prefixes, 1 + 3);
    assert_eq!(c.red.rules.len(), 3);
    let later = format!("[Peer]\nPublicKey = {PUB2}\nAllowedIPs = 10.3.0.0/24{}", ", 10.2.0.9/24".repeat(1000));
    expect_err(&inserted(8, &later), 11, "AllowedIPs", ErrorKind::OverlappingAllowedIps { first_line: 7 });
    let keyless = format!("[Peer]\nAllowedIPs = 10.4.0.0/24\n{later}");
    expect_err(&inserted(8, &keyless), 9, "[Peer]", ErrorKind::Missing("PublicKey"));
}

/// Each side has one address of each family (the stack answers one): a second one is refused,
/// not ignored; the same address again is the same address.
#[test]
fn a_second_address_of_one_family_is_refused() {
    let c = Config::parse(&replaced(10, "RedAddress = 10.1.0.1/24, fd00:1::1/64, 10.1.0.1/24")).unwrap();
    assert_eq!(c.red.addresses, vec![p("10.1.0.1/24"), p("fd00:1::1/64")]);
    expect_err(&replaced(10, "RedAddress = 10.1.0.1/24, 10.5.0.1/24"), 10, "RedAddress", ErrorKind::SecondAddress { first_line: 10 });
    expect_err(&inserted(11, "BlackAddress = 2001:db8::1/64, 2001:db8::2/64"), 12, "BlackAddress", ErrorKind::SecondAddress { first_line: 12 });
    let many = (0..30_000).map(|k| format!("::{:x}/1", k + 2)).collect::<Vec<_>>().join(",");
    expect_err(&inserted(11, &format!("BlackAddress = {many}")), 12, "BlackAddress", ErrorKind::SecondAddress { first_line: 12 });
}

#[test]
fn every_error_kind_displays() {
    use ErrorKind::*;
    let kinds = [
        UnknownSection,
        DuplicateSection { first_line: 1 },
        KeyOutsideSection,
        MissingEquals,
        UnknownKey { section: "[Peer]" },
        Duplicate { first_line: 1 },
        BadKey,
        BadPort("x".into()),
        BadAddress("x".into()),
        BadPrefix("x".into()),
        BadEndpoint("x".into()),
        BadKeepalive("x".into()),
        BadMac("x".into()),
        BadMtu("x".into()),
        BadMssClamp("x".into()),
        SecondAddress { first_line: 1 },
        GatewayFamily,
        GatewayOffLink,
        EndpointFamily,
        ConflictingRule { first_line: 1 },
        Missing("PublicKey"),
        Missing("[Peer]"),
        DuplicatePeer { first_line: 1 },
        OverlappingAllowedIps { first_line: 1 },
        NoPeers,
    ];
    for kind in kinds {
        let e = ConfigError {
            line: 7,
            key: "K".into(),
            kind,
        };
        let s = e.to_string();
        assert!(s.starts_with("line 7: K: ") && s.len() > 12, "{s}");
    }
}

#[test]
fn long_values_are_cut_in_errors() {
    let long = "9.".repeat(500);
    let e = Config::parse(&replaced(3, &format!("ListenPort = {long}"))).unwrap_err();
    match e.kind {
        ErrorKind::BadPort(v) => assert_eq!(v, format!("{}...", "9.".repeat(32))),
        k => panic!("{k:?}"),
    }
    // A long run of base64 could be a key: not shown at all.
    let e = Config::parse(&replaced(3, &format!("ListenPort = {}", "9".repeat(1000)))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadPort("(not shown: it may hold a key)".into()));
}

// ---------------------------------------------------------------------------
// Never panics
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn check_no_panic(text: &str) {
    match Config::parse(text) {
        Ok(c) => {
            let _ = format!("{c:?}");
            for r in &c.red.rules {
                let _ = lookup(&c.red.rules, r.prefix.addr);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

#[test]
fn garbage_and_mutated_inputs_never_panic() {
    let full = full_text();
    assert!(Config::parse(&full).is_ok());

    // Every prefix and every suffix of a valid file.
    for (i, _) in full.char_indices() {
        check_no_panic(&full[..i]);
        check_no_panic(&full[i..]);
    }

    let lines: Vec<&str> = full.lines().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet: Vec<char> = "[]=#,:/.- \t\r\n0123456789abcdefABCDEF+xyzé\u{0}\u{feff}%"
        .chars()
        .collect();

    for round in 0..3000 {
        let mut ls: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        let victim = rng.below(ls.len());
        match round % 6 {
            // A line of random bytes (lossily UTF-8).
            0 => {
                let bytes: Vec<u8> = (0..rng.below(80)).map(|_| rng.next() as u8).collect();
                ls[victim] = String::from_utf8_lossy(&bytes).into_owned();
            }
            // A line of characters that matter to the parser.
            1 => {
                ls[victim] = (0..rng.below(60))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect();
            }
            // Keep the key, random value.
            2 => {
                let key = ls[victim].split('=').next().unwrap_or("").to_string();
                let val: String = (0..rng.below(50))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect();
                ls[victim] = format!("{key}={val}");
            }
            // Point mutations across the line.
            3 => {
                let mut chars: Vec<char> = ls[victim].chars().collect();
                for _ in 0..1 + rng.below(4) {
                    if chars.is_empty() {
                        break;
                    }
                    let at = rng.below(chars.len());
                    match rng.below(3) {
                        0 => chars[at] = alphabet[rng.below(alphabet.len())],
                        1 => {
                            chars.remove(at);
                        }
                        _ => chars.insert(at, alphabet[rng.below(alphabet.len())]),
                    }
                }
                ls[victim] = chars.into_iter().collect();
            }
            // Drop a line, or duplicate one elsewhere.
            4 => {
                if rng.below(2) == 0 {
                    ls.remove(victim);
                } else {
                    let l = ls[victim].clone();
                    let at = rng.below(ls.len());
                    ls.insert(at, l);
                }
            }
            // Shuffle a few lines.
            _ => {
                for _ in 0..3 {
                    let a = rng.below(ls.len());
                    let b = rng.below(ls.len());
                    ls.swap(a, b);
                }
            }
        }
        check_no_panic(&ls.join("\n"));
    }

    // Pure garbage.
    for _ in 0..500 {
        let bytes: Vec<u8> = (0..rng.below(400)).map(|_| rng.next() as u8).collect();
        check_no_panic(&String::from_utf8_lossy(&bytes));
    }
    for s in [
        "[",
        "]",
        "=",
        "#",
        "[[Peer]]",
        "\u{0}",
        "é=é",
        "[Peer]\n=",
        "[Interface]\n=\n",
    ] {
        check_no_panic(s);
    }
    // Many peers and lines: still fine.
    let mut big = join(&min_lines());
    for i in 0..300 {
        big += &format!("Drop = 10.{}.{}.0/24\n", i / 256, i % 256);
    }
    assert!(Config::parse(&big).is_ok());
}

// ---------------------------------------------------------------------------
// support/gen-demo-configs
// ---------------------------------------------------------------------------

fn wg_pubkey(private_b64: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wg pubkey");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{private_b64}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The base64 value of `key` in a file's text.
fn value_of<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        .map(|(_, v)| v.split('#').next().unwrap().trim())
        .unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn gen_demo_configs_makes_a_matching_pair() {
    use std::path::PathBuf;
    use std::process::Command;

    if Command::new("wg").arg("--version").output().is_err() {
        std::println!("skipped: `wg` (wireguard-tools) is not on PATH");
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../support/gen-demo-configs");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("gen-demo-configs-{}-{nanos}", std::process::id()));
    let out = Command::new(&script)
        .arg(&dir)
        .output()
        .expect("run gen-demo-configs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();

    let path_a = dir.join("enc_a.conf");
    let path_b = dir.join("enc_b.conf");
    assert!(
        printed.contains(path_a.to_str().unwrap()) && printed.contains(path_b.to_str().unwrap()),
        "{printed}"
    );
    let text_a = std::fs::read_to_string(&path_a).unwrap();
    let text_b = std::fs::read_to_string(&path_b).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path_a).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "private keys must not be group/world readable"
        );
    }
    let a = Config::parse(&text_a).unwrap_or_else(|e| panic!("enc_a.conf: {e}"));
    let b = Config::parse(&text_b).unwrap_or_else(|e| panic!("enc_b.conf: {e}"));
    let _ = std::fs::remove_dir_all(&dir);

    // Each side's peer key is the other side's public key, as `wg pubkey` derives it.
    let pub_a = decode_key(&wg_pubkey(value_of(&text_a, "PrivateKey"))).unwrap();
    let pub_b = decode_key(&wg_pubkey(value_of(&text_b, "PrivateKey"))).unwrap();
    assert_ne!(pub_a, pub_b);
    assert_eq!(a.crypto.peers.len(), 1);
    assert_eq!(b.crypto.peers.len(), 1);
    let (pa, pb) = (&a.crypto.peers[0], &b.crypto.peers[0]);
    assert_eq!(pa.public_key, pub_b);
    assert_eq!(pb.public_key, pub_a);
    assert!(pa.preshared_key.is_some());
    assert_eq!(pa.preshared_key, pb.preshared_key);

    assert_eq!(a.crypto.listen_port, 51820);
    assert_eq!(b.crypto.listen_port, 51820);
    assert_eq!(pa.endpoint, Some("192.0.2.2:51820".parse().unwrap()));
    assert_eq!(pb.endpoint, Some("192.0.2.1:51820".parse().unwrap()));
    assert_eq!(pa.allowed_ips, vec![p("10.2.0.0/24"), p("fd00:2::/64")]);
    assert_eq!(pb.allowed_ips, vec![p("10.1.0.0/24"), p("fd00:1::/64")]);
    assert_eq!(pa.persistent_keepalive, Some(25));
    assert_eq!(pb.persistent_keepalive, Some(25));

    assert_eq!(a.red.addresses, vec![p("10.1.0.1/24"), p("fd00:1::1/64")]);
    assert_eq!(b.red.addresses, vec![p("10.2.0.1/24"), p("fd00:2::1/64")]);
    assert_eq!(a.black.addresses, vec![p("192.0.2.1/24")]);
    assert_eq!(b.black.addresses, vec![p("192.0.2.2/24")]);
    assert_eq!(lookup(&a.red.rules, ip("10.2.0.5")), Some(Action::Tunnel));
    assert_eq!(lookup(&a.red.rules, ip("fd00:2::5")), Some(Action::Tunnel));
    assert_eq!(lookup(&b.red.rules, ip("10.1.0.5")), Some(Action::Tunnel));
    assert_eq!(lookup(&b.red.rules, ip("10.2.0.5")), None);
    // The four MACs of the demo are all different.
    let macs = [a.red.mac, a.black.mac, b.red.mac, b.black.mac];
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(macs[i], macs[j]);
        }
    }
}

#[test]
fn public_key_text_is_the_inverse_of_decoding() {
    for key in [hex32(PRIV_HEX), hex32(PSK_HEX), [0; 32], [0xff; 32]] {
        let text = alloc::format!("{}", crate::PublicKeyText::new(&key));
        assert_eq!(text.len(), 44);
        assert_eq!(decode_key(&text), Some(key), "{text}");
    }
    assert_eq!(alloc::format!("{}", crate::PublicKeyText::new(&hex32(PRIV_HEX))), PRIV);
}

// ---------------------------------------------------------------------------
// without_keys: the stack PDs' copy of the file
// ---------------------------------------------------------------------------

#[test]
fn without_keys_takes_out_every_key_and_keeps_the_rest() {
    let text = full_text();
    let public = without_keys(&text);
    for secret in [PRIV, PSK, &PRIV[..12], &PSK[..12]] {
        assert!(!public.contains(secret), "{secret} left in:\n{public}");
    }
    assert_eq!(public.lines().count(), text.lines().count(), "line numbers must stay the same");
    let (crypto, red, black) = Config::parse(&text).unwrap().into_parts();
    let (public_crypto, public_red, public_black) = Config::parse(&public).unwrap().into_parts();
    assert_eq!((public_red, public_black), (red, black), "the stack PDs' share must not change");
    assert_eq!(public_crypto.private_key, [0; 32]);
    assert!(public_crypto.peers.iter().all(|p| p.preshared_key.is_none_or(|k| k == [0; 32])));
    assert_eq!(public_crypto.peers.len(), crypto.peers.len());
}

#[test]
fn without_keys_catches_odd_spellings_and_comments() {
    let text = format!(
        "[Interface]\n  private key={PRIV}\nPrivateKey {PRIV}\nListenPort = 1 # was {PSK}\n[Peer]\n\tPRESHAREDKEY\t=\t{PSK}\r\nPreShared Key {PSK}\n"
    );
    let public = without_keys(&text);
    assert!(!public.contains(&PRIV[..12]) && !public.contains(&PSK[..12]), "{public}");
    assert_eq!(public.lines().count(), 7, "{public}");
    assert_eq!(public.lines().nth(3), Some("ListenPort = 1"));
}

/// Key lines are crypto's to check: whatever is wrong with one (its value, its spelling, its
/// place, a second one), the copy holds none of it and parses as the rest of the file does, so
/// the stacks start while crypto names the line.
#[test]
fn key_lines_are_cryptos_to_check_and_never_reach_the_copy() {
    let short = &PSK[..20];
    let bad = [
        replaced(2, "PrivateKey = not-a-key"),
        replaced(2, &format!("PrivateKey {PRIV}")),
        replaced(2, &format!("Private Key = {PRIV}")),
        inserted(7, &format!("PresharedKey = {short}")),
        inserted(7, &format!("PresharedKey = {PSK}\nPresharedKey = {PSK}")),
        inserted(3, &format!("PresharedKey = {PSK}")),
        format!("PresharedKey = {PSK}\n{}", join(&min_lines())),
    ];
    for text in bad {
        assert!(Config::parse(&text).is_err(), "{text}");
        let public = without_keys(&text);
        assert!(Config::parse(&public).is_ok(), "{text}\n{public}");
        assert!(!public.contains(&PRIV[..12]) && !public.contains(short) && !public.contains(&PSK[..12]), "{public}");
    }
}

/// A key where no key line is (wrapped onto a line of its own, under a misspelt name, after a
/// Unicode line separator) never reaches the copy; the copy fails on that line as crypto does.
#[test]
fn a_key_outside_a_key_line_never_reaches_the_copy() {
    for text in [
        replaced(2, &format!("PrivateKey =\n{PRIV}")),
        replaced(2, &format!("Private_Key = {PRIV}")),
        replaced(2, &format!("PrivKey = {PRIV}")),
        replaced(3, &format!("ListenPort = 51820 # old:\u{2028}PrivateKey = {PRIV}")),
        inserted(7, &PSK_HEX.to_string()),
        // Our own private key pasted as the peer's public key (in its hex spelling).
        replaced(6, &format!("PublicKey = {PRIV_HEX}")),
        // A key wrapped after a few characters: its rest, short, on the next line.
        replaced(2, &format!("PrivateKey = {}\n{}", &PRIV[..5], &PRIV[5..])),
        replaced(2, &format!("PrivateKey = {}\n   {}", &PRIV[..3], &PRIV[3..])),
        // Bracketed.
        replaced(5, &format!("[Peer] {PRIV}")),
    ] {
        let original = Config::parse(&text).unwrap_err();
        let public = without_keys(&text);
        assert!(!public.contains(&PRIV[6..18]) && !public.contains(&PSK_HEX[..12]), "{public}");
        assert_eq!(public.lines().count(), text.lines().count(), "{public}");
        // The copy fails too: on the same line, or (when the original's first error is on a key
        // line, crypto's alone) on the line that held the rest of the key.
        let copy = Config::parse(&public).expect_err(&public);
        if !is_key_line(&text, original.line) {
            assert_eq!(copy.line, original.line, "{text}\n{public}");
        }
    }
}

/// Whether line `n` (1-based) of `text` is a key line as `without_keys` sees one.
fn is_key_line(text: &str, n: usize) -> bool {
    let squashed: String = text.lines().nth(n.wrapping_sub(1)).unwrap_or("").split('#').next().unwrap_or("").chars().filter(|c| !c.is_whitespace()).collect();
    let lower = squashed.to_ascii_lowercase();
    lower.starts_with("privatekey") || lower.starts_with("presharedkey")
}

/// The copy's promise on many files made from the minimal one by random edits (lines put in,
/// words of key lines, keys and separators thrown in at the ends of words): it parses exactly
/// when the original does, fails on the same line when it does not, gives the stack PDs the
/// same share when it parses, and holds no private or preshared key, whole or broken by
/// whitespace. (A key cut by other characters is out of reach of any such copy: its pieces
/// look like any other text.)
#[test]
fn without_keys_agrees_with_the_original_on_random_edits() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let words = [
        PRIV, PSK, PUB1, PRIV_HEX, PSK_HEX, "PrivateKey", "PresharedKey", "PublicKey", "Private Key", "=", " = ", "#", "[Peer]",
        "[Interface]", "AllowedIPs = 10.9.0.0/16", "Endpoint = 192.0.2.9:51820", "\t", " ", "ListenPort = 1", "x",
        "2001:0db8:0000:0000:0000:0000:0000:0001/128", ",", "\u{2028}", "AllowedIPs=2001:0db8:0000:0000:0000:0000:0000:0002/128",
        "BlackGateway=2001:0db8:0000:0000:0000:0000:0000:fffe", "\n",
    ];
    for case in 0..20_000 {
        let mut lines = min_lines();
        for _ in 0..1 + next(4) {
            let mut line = String::new();
            for _ in 0..1 + next(4) {
                line.push_str(words[next(words.len())]);
            }
            if next(2) == 0 {
                lines.insert(next(lines.len() + 1), line);
            } else {
                // At a word's end: the line's start or end, or a whitespace character.
                let at = next(lines.len());
                let ends: Vec<usize> = [0, lines[at].len()]
                    .into_iter()
                    .chain(lines[at].char_indices().filter(|(_, c)| c.is_whitespace()).map(|(i, _)| i))
                    .collect();
                lines[at].insert_str(ends[next(ends.len())], &line);
            }
        }
        let text = join(&lines);
        let public = without_keys(&text);
        // The secrets the file declares (a key line the parser takes); a key it does not declare
        // may stand as a peer's public key.
        let declared: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split('#').next()?.split_once('='))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("PrivateKey") || k.trim().eq_ignore_ascii_case("PresharedKey"))
            .map(|(_, v)| v.trim())
            .collect();
        for line in public.lines() {
            let well_formed_public = line.split_once('=').is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("PublicKey") && [PUB1, PRIV, PSK, PRIV_HEX, PSK_HEX].contains(&v.trim()));
            for secret in [PRIV, PSK, PRIV_HEX, PSK_HEX] {
                let undeclared_public = well_formed_public && !declared.iter().any(|d| decode_key(d) == decode_key(secret));
                assert!(!line.contains(&secret[..12]) || undeclared_public, "case {case}: {secret} in the copy's line {line:?} of\n{text}");
            }
        }
        match (Config::parse(&text), Config::parse(&public)) {
            (Ok(original), Ok(copy)) => {
                let (_, red, black) = original.into_parts();
                let (_, copy_red, copy_black) = copy.into_parts();
                assert_eq!((copy_red, copy_black), (red, black), "case {case}:\n{text}");
            }
            (Err(a), Err(b)) if !is_key_line(&text, a.line) => assert_eq!(a.line, b.line, "case {case}:\n{text}\n{public}"),
            // A key line is crypto's to refuse: the copy goes on.
            (Err(a), _) if is_key_line(&text, a.line) => {}
            (a, b) => panic!("case {case}: original {:?}, copy {:?}\n{text}\n---\n{public}", a.err(), b.err()),
        }
    }
}

#[test]
fn a_secret_or_the_zero_key_as_a_peers_public_key_is_refused() {
    let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for key in [PRIV, zero] {
        expect_err(&replaced(6, &format!("PublicKey = {key}")), 6, "PublicKey", ErrorKind::NotAPublicKey);
    }
    let with_psk = inserted(7, &format!("PresharedKey = {PSK}"));
    let text = with_psk.replace(&format!("PublicKey = {PUB1}"), &format!("PublicKey = {PSK}"));
    expect_err(&text, 6, "PublicKey", ErrorKind::NotAPublicKey);
}

/// Long IPv6 addresses written out in full, with or without spaces around `=`, are no key: the
/// copy keeps them and parses as the original does.
#[test]
fn long_ipv6_addresses_stay_in_the_copy() {
    let text = join(&[
        min_lines(),
        vec![
            "BlackAddress=2001:0db8:0000:0000:0000:0000:0000:0001/64".into(),
            "BlackGateway=2001:0db8:0000:0000:0000:0000:0000:fffe".into(),
            "Tunnel=2001:0db8:0001:0000:0000:0000:0000:0000/48".into(),
        ],
    ]
    .concat());
    let original = Config::parse(&text).unwrap();
    let copy = Config::parse(&without_keys(&text)).unwrap();
    assert_eq!(copy.into_parts().1, original.into_parts().1);
}

#[test]
fn without_keys_keeps_the_line_number_of_an_error() {
    let mut lines = min_lines();
    lines.insert(2, "# a comment".into());
    let broken = lines.iter().position(|l| l.starts_with("ListenPort")).unwrap();
    lines[broken] = "ListenPort = not-a-port".into();
    let text = lines.join("\n");
    let original = Config::parse(&text).unwrap_err();
    let public = Config::parse(&without_keys(&text)).unwrap_err();
    assert_eq!(original.line, broken + 1);
    assert_eq!(public.line, original.line);
}

#[test]
fn without_keys_blanks_lines_that_hide_a_second_line() {
    // A lone CR or a NUL inside a line: one line for the parser, two for a terminal.
    for sep in ["\r", "\0", "\x0c", "\x0b"] {
        let text = format!("[Interface]\nListenPort = 51820{sep}PrivateKey = {PRIV}\nAddress = 10.0.0.1/24\n");
        let public = without_keys(&text);
        assert!(!public.contains(&PRIV[..12]), "{sep:?}: {public:?}");
        assert_eq!(public.lines().count(), text.lines().count(), "{sep:?}");
    }
}

#[test]
fn a_line_with_a_control_character_is_refused_by_crypto_and_the_stacks_alike() {
    // A form feed trim() would have taken as whitespace: crypto would route 10.9.0.0/16 while
    // the stacks' copy (the line blanked) would not know it.
    for sep in ["\x0c", "\r", "\0", "\x0b"] {
        let mut lines = min_lines();
        let at = lines.iter().position(|l| l.starts_with("AllowedIPs")).unwrap();
        // (A space after it: a CR right before the LF would be a CR LF line end.)
        lines[at] = format!("{}, 10.9.0.0/16{sep} ", lines[at]);
        let text = lines.join("\n");
        let e = Config::parse(&text).unwrap_err();
        assert_eq!((e.line, &e.kind), (at + 1, &ErrorKind::ControlCharacter), "{sep:?}: {e}");
        let public = Config::parse(&without_keys(&text)).unwrap_err();
        assert_eq!((public.line, &public.kind), (at + 1, &ErrorKind::ControlCharacter), "{sep:?}");
    }
    // Tabs and CR LF line ends are fine.
    let text = min_lines().join("\r\n").replace(" = ", "\t=\t");
    assert!(Config::parse(&text).is_ok() && Config::parse(&without_keys(&text)).is_ok());
}

#[test]
fn errors_never_echo_a_key_or_control_characters() {
    let key_in_wrong_place = format!("[Interface]\nPrivateKey = {PRIV}\nListenPort = {PSK}\n");
    let e = Config::parse(&key_in_wrong_place).unwrap_err();
    assert!(!format!("{e}").contains(&PSK[..12]), "{e}");
    let hidden = format!("[Interface]\nPrivateKey = {PRIV}\nListenPort = 1\rPrivateKey = {PSK}\n");
    let e = Config::parse(&hidden).unwrap_err();
    let shown = format!("{e}");
    assert!(!shown.contains(&PSK[..12]) && !shown.contains('\r'), "{shown:?}");
    // A key run into another line's value, in either spelling, with or without its padding.
    for key in [PSK, PSK_HEX, &PSK[..43], &PSK[4..]] {
        for glued in [format!("ListenPort = 51820PrivateKey={key}"), format!("ListenPort = 51820,{key}"), format!("Endpoint = x{key}:51820")] {
            let text = format!("[Interface]\nPrivateKey = {PRIV}\n{glued}\n");
            let e = Config::parse(&text).unwrap_err();
            let shown = format!("{e}");
            assert!(!shown.contains(&key[..12]) && !shown.contains(&key[key.len() - 12..]), "{glued}: {shown}");
        }
    }
    // A line holding only a key (it reads as a key name), and keys split by separators.
    for line in [PSK.to_string(), PSK.trim_end_matches('=').to_string(), PSK.replace('+', "-").replace('/', "_")] {
        let e = Config::parse(&format!("[Interface]\nPrivateKey = {PRIV}\n{line}\n")).unwrap_err();
        assert!(!format!("{e}").contains(&PSK[..8]), "{line}: {e}");
    }
    let colons: Vec<String> = PSK_HEX.as_bytes().chunks(2).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let e = Config::parse(&format!("[Interface]\nPrivateKey = {PRIV}\nListenPort = {}\n", colons.join(":"))).unwrap_err();
    assert!(!format!("{e}").contains(&colons[..4].join(":")), "{e}");
    // Ordinary mistakes are still shown as written.
    let e = Config::parse(&format!("[Interface]\nPrivateKey = {PRIV}\nListenPort = 51820x\n")).unwrap_err();
    assert!(format!("{e}").contains("51820x"), "{e}");
}

#[test]
fn key_material_is_wiped_when_the_config_goes() {
    use core::mem::ManuallyDrop;
    let peer = PeerConfig {
        public_key: hex32(PUB1_HEX),
        preshared_key: Some(hex32(PSK_HEX)),
        endpoint: None,
        allowed_ips: vec![p("10.2.0.0/24")],
        persistent_keepalive: None,
    };
    let mut config = ManuallyDrop::new(CryptoConfig { private_key: hex32(PRIV_HEX), listen_port: 51820, mtu: 1420, peers: vec![] });
    let mut peer = ManuallyDrop::new(peer);
    let (key, psk) = (&config.private_key as *const [u8; 32], peer.preshared_key.as_ref().unwrap() as *const [u8; 32]);
    // SAFETY: each value is dropped once, in place; its memory stays allocated (ManuallyDrop), and
    // a [u8; 32] is plain bytes, readable after its owner's drop ran.
    unsafe {
        ManuallyDrop::drop(&mut config);
        ManuallyDrop::drop(&mut peer);
        assert_eq!(core::ptr::read_volatile(key), [0; 32], "private key wiped");
        assert_eq!(core::ptr::read_volatile(psk), [0; 32], "preshared key wiped");
    }
}
