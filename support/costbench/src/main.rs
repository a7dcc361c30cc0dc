//! `costbench <seal|crypto|pipeline|pipeline-1024|dispatch> <packets>`: does the named work for
//! `packets` packets of 1420 bytes of plaintext (a full tunnel MTU), so that
//! running it under `valgrind --tool=callgrind` at two packet counts gives the
//! instructions per packet (the difference divided by the difference), free of
//! set-up costs:
//! - `seal`: ChaCha20-Poly1305 seal with ring, the AEAD the crypto PD uses: the
//!   physical limit of the data path on one core;
//! - `crypto`: the crypto PD's encrypt path: ring in, cryptokey routing,
//!   boringtun's data message, ring out;
//! - `pipeline`: net_red → crypto → net_black with Ethernet frames in and out:
//!   the whole red-to-black path of the host encryptor except the TAP syscalls;
//! - `pipeline-1024`: `pipeline` with crypto's most peers (1024, each with an IPv4 and an IPv6
//!   prefix, as a branch-office config has them), the packets going to the last one: what a
//!   router's table of that size costs per packet in net_red and crypto;
//! - `dispatch`: the `crypto` path with one crypto worker doing the AEAD (crypto takes the
//!   packet, hands the worker a job, publishes its result); under callgrind with
//!   `--toggle-collect='*CryptoWorker*'` only the worker's share is counted, the rest being
//!   crypto's (the dispatcher's cost per packet bounds how many workers it can feed).

use boringtun::x25519::{PublicKey, StaticSecret};
use encryptor_config::{Action, BlackConfig, CryptoConfig, PeerConfig, Prefix, RedConfig, Rule};
use pd_api::{ChannelSet, Handler};
use pd_testkit::{FarEnd, TestPd};

use std::hint::black_box;

const PAYLOAD: usize = 1420;
const BATCH: usize = 32;

fn ipv4_packet(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[..20].copy_from_slice(&[0x45, 0, (len >> 8) as u8, len as u8, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 2, 10, 2, 0, 2]);
    let sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p
}

fn checksum(h: &[u8]) -> u16 {
    let mut s: u32 = h.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn seal(n: usize) {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
    let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &[7; 32]).unwrap());
    let mut buf = ipv4_packet(PAYLOAD);
    for i in 0..n as u64 {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&i.to_le_bytes());
        let tag = key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf).unwrap();
        let _ = black_box(tag);
    }
}

struct CryptoBox {
    pd: &'static TestPd,
    crypto: pd_crypto::Crypto,
    red: FarEnd,
    black: FarEnd,
}

fn crypto_box(name: &str, secret: [u8; 32], peer_secret: [u8; 32], endpoint: Option<&str>, allowed: &str) -> CryptoBox {
    let pd = TestPd::new(name);
    let red = pd.link("red", 512);
    let black = pd.link("black", 512);
    let peer = PeerConfig {
        public_key: PublicKey::from(&StaticSecret::from(peer_secret)).to_bytes(),
        preshared_key: None,
        endpoint: endpoint.map(|e| e.parse().unwrap()),
        allowed_ips: vec![allowed.parse::<Prefix>().unwrap()],
        persistent_keepalive: None,
    };
    let crypto = pd_crypto::Crypto::new(CryptoConfig { private_key: secret, listen_port: 51820, mtu: 1420, peers: vec![peer] }).unwrap();
    CryptoBox { pd, crypto, red, black }
}

impl CryptoBox {
    fn run(&mut self, ch: pd_api::Channel) {
        self.pd.enter();
        self.crypto.notified(ChannelSet::EMPTY.with(ch)).unwrap();
    }
}

/// Two crypto PDs with an established session; returns the sending one.
fn established() -> CryptoBox {
    let mut a = crypto_box("crypto_a", [1; 32], [2; 32], Some("192.0.2.2:51820"), "10.2.0.0/24");
    let mut b = crypto_box("crypto_b", [2; 32], [1; 32], None, "10.1.0.0/24");
    handshake(&mut a, &mut b);
    a
}

/// A handshake between `a` (192.0.2.1, the initiator) and `b` (192.0.2.2), started by a packet
/// from a's red side; a's black ring is left empty.
fn handshake(a: &mut CryptoBox, b: &mut CryptoBox) {
    a.red.send(&ipv4_packet(100));
    a.run(pd_crypto::RED);
    for _ in 0..2 {
        for m in a.black.drain() {
            b.black.send(&rewrite_from(&m, "192.0.2.1:51820"));
        }
        b.run(pd_crypto::BLACK);
        for m in b.black.drain() {
            a.black.send(&rewrite_from(&m, "192.0.2.2:51820"));
        }
        a.run(pd_crypto::BLACK);
    }
    a.black.drain();
}

fn rewrite_from(m: &[u8], from: &str) -> Vec<u8> {
    let mut out = m.to_vec();
    pd_proto::EndpointHeader(from.parse().unwrap()).emit(&mut out);
    out
}

fn crypto_path(n: usize) {
    let mut a = established();
    let packet = ipv4_packet(PAYLOAD);
    let mut done = 0;
    while done < n {
        let k = BATCH.min(n - done);
        for _ in 0..k {
            a.red.send(&packet);
        }
        a.run(pd_crypto::RED);
        let out = a.black.drain();
        assert_eq!(out.len(), k);
        done += k;
    }
}

/// `established()` with one crypto worker wired as a system file wires it, run in turn.
fn dispatch_path(n: usize) {
    let pd = TestPd::new("crypto_w");
    let red = pd.link("red", 512);
    let black = pd.link("black", 512);
    let keys = pd.region("session_keys", pd_session::SessionTable::bytes_for(1));
    let wpd = TestPd::new("crypto_worker_0");
    pd.connect("worker0", wpd, "crypto", 16);
    wpd.map("session_keys", keys);
    for (theirs, mine) in [("red_rx_data", "red_in_data"), ("red_tx_data", "red_out_data"), ("black_rx_data", "black_in_data"), ("black_tx_data", "black_out_data")] {
        wpd.map(mine, pd.mapped(theirs).unwrap());
    }
    let mut worker = pd_crypto_worker::CryptoWorker::new(vec![vec!["10.2.0.0/24".parse::<Prefix>().unwrap()]]).unwrap();
    pd.enter();
    let peer = PeerConfig {
        public_key: PublicKey::from(&StaticSecret::from([2; 32])).to_bytes(),
        preshared_key: None,
        endpoint: Some("192.0.2.2:51820".parse().unwrap()),
        allowed_ips: vec!["10.2.0.0/24".parse::<Prefix>().unwrap()],
        persistent_keepalive: None,
    };
    let crypto = pd_crypto::Crypto::new(CryptoConfig { private_key: [1; 32], listen_port: 51820, mtu: 1420, peers: vec![peer] }).unwrap();
    let mut a = CryptoBox { pd, crypto, red, black };
    let mut b = crypto_box("crypto_b", [2; 32], [1; 32], None, "10.1.0.0/24");
    handshake(&mut a, &mut b);
    let packet = ipv4_packet(PAYLOAD);
    let mut done = 0;
    while done < n {
        let k = BATCH.min(n - done);
        for _ in 0..k {
            a.red.send(&packet);
        }
        a.run(pd_crypto::RED);
        wpd.enter();
        worker.notified(ChannelSet::EMPTY).unwrap();
        a.run(pd_api::Channel::new(3));
        let out = a.black.drain();
        assert_eq!(out.len(), k, "every packet sealed by the worker and published");
        done += k;
    }
}

/// An Ethernet/IPv4/UDP frame from the peer (192.0.2.2:51820) to us (192.0.2.1:51820).
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 2, 1, 2, 0, 0, 0, 7, 7, 8, 0];
    let total = 28 + payload.len();
    let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 2, 192, 0, 2, 1];
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    let ulen = 8 + payload.len();
    f.extend_from_slice(&[0xca, 0x6c, 0xca, 0x6c, (ulen >> 8) as u8, ulen as u8, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// The UDP payload of a frame net_black sent.
fn udp_payload(frame: &[u8]) -> &[u8] {
    &frame[14 + 28..]
}

/// The peers besides the measured one in `pipeline-1024`: an IPv4 /24 and an IPv6 /64 each,
/// none of them the measured peer's 10.2.0.0/24.
fn other_peers(count: usize) -> Vec<PeerConfig> {
    (0..count)
        .map(|k| {
            let mut secret = [0u8; 32];
            secret[1..9].copy_from_slice(&(k as u64 + 1000).to_le_bytes());
            PeerConfig {
                public_key: PublicKey::from(&StaticSecret::from(secret)).to_bytes(),
                preshared_key: None,
                endpoint: Some(format!("198.51.100.{}:51820", 1 + k % 250).parse().unwrap()),
                allowed_ips: vec![
                    format!("10.{}.{}.0/24", 10 + k / 250, k % 250).parse().unwrap(),
                    format!("fd00:{}:{}::/64", 10 + k / 250, k % 250).parse().unwrap(),
                ],
                persistent_keepalive: None,
            }
        })
        .collect()
}

/// net_red → crypto → net_black, with `others` peers configured before the one the packets go
/// to (net_red's Tunnel rules are every peer's prefixes, as `Config::parse` derives them).
fn pipeline(n: usize, others: usize) {
    // net_red ⇄ crypto ⇄ net_black on shared rings, as system.xml joins them;
    // the test plays the two NICs and, for the handshake, the remote peer.
    let mut peers = other_peers(others);
    let red_pd = TestPd::new("net_red");
    let crypto_pd = TestPd::new("crypto");
    let black_pd = TestPd::new("net_black");
    let mut red_nic = red_pd.link("nic", 512);
    let mut black_nic = black_pd.link("nic", 512);
    red_pd.connect("crypto", crypto_pd, "red", 512);
    crypto_pd.connect("black", black_pd, "crypto", 512);
    red_pd.enter();
    let mut red = pd_net_red::NetRed::new(RedConfig {
        addresses: vec!["10.1.0.1/24".parse().unwrap()],
        mac: [2, 0, 0, 0, 1, 1],
        rules: peers
            .iter()
            .flat_map(|p| p.allowed_ips.iter())
            .chain([&"10.2.0.0/24".parse().unwrap()])
            .map(|&prefix| Rule { prefix, action: Action::Tunnel })
            .collect(),
        mtu: encryptor_config::DEFAULT_MTU,
        mss_clamp: encryptor_config::MssClamp::Auto,
    })
    .unwrap();
    crypto_pd.enter();
    peers.push(PeerConfig {
        public_key: PublicKey::from(&StaticSecret::from([2; 32])).to_bytes(),
        preshared_key: None,
        endpoint: Some("192.0.2.2:51820".parse().unwrap()),
        allowed_ips: vec!["10.2.0.0/24".parse::<Prefix>().unwrap()],
        persistent_keepalive: None,
    });
    let mut crypto = pd_crypto::Crypto::new(CryptoConfig { private_key: [1; 32], listen_port: 51820, mtu: 1420, peers }).unwrap();
    black_pd.enter();
    let mut black = pd_net_black::NetBlack::new(BlackConfig {
        addresses: vec!["192.0.2.1/24".parse().unwrap()],
        gateway_v4: None,
        gateway_v6: None,
        mac: [2, 0, 0, 0, 2, 1],
        listen_port: 51820,
        rules: vec![],
    })
    .unwrap();
    let mut peer_box = crypto_box("peer", [2; 32], [1; 32], None, "10.1.0.0/24");

    // Runs the three PDs once, in pipeline order and back, woken on `channels`.
    let run = |channels: ChannelSet, red: &mut pd_net_red::NetRed, crypto: &mut pd_crypto::Crypto, black: &mut pd_net_black::NetBlack| {
        red_pd.enter();
        red.notified(channels).unwrap();
        crypto_pd.enter();
        crypto.notified(channels).unwrap();
        black_pd.enter();
        black.notified(channels).unwrap();
    };
    // Every channel, the timers' included: for the handshake.
    let step = |red: &mut _, crypto: &mut _, black: &mut _| run(ChannelSet::from_badge(0b1111), red, crypto, black);
    // The handshake through net_black: its initiation waits while net_black asks for the peer's
    // MAC, which the peer's ARP reply gives it.
    let mut frame = vec![2, 0, 0, 0, 1, 1, 2, 0, 0, 0, 9, 9, 8, 0];
    frame.extend_from_slice(&ipv4_packet(PAYLOAD));
    red_nic.send(&frame);
    step(&mut red, &mut crypto, &mut black);
    let mut arp_reply = vec![2, 0, 0, 0, 2, 1];
    arp_reply.extend_from_slice(&[2, 0, 0, 0, 7, 7, 8, 6, 0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 7, 7, 192, 0, 2, 2, 2, 0, 0, 0, 2, 1, 192, 0, 2, 1]);
    black_nic.send(&arp_reply);
    step(&mut red, &mut crypto, &mut black);
    for _ in 0..2 {
        for f in black_nic.drain().iter().filter(|f| f.len() > 42 && f[12..14] == [8, 0]) {
            peer_box.black.send(&rewrite_from(&[&[4u8; 20][..], udp_payload(f)].concat(), "192.0.2.1:51820"));
        }
        peer_box.run(pd_crypto::BLACK);
        for m in peer_box.black.drain() {
            black_nic.send(&udp_frame(&m[pd_proto::ENDPOINT_HEADER_LEN..]));
        }
        step(&mut red, &mut crypto, &mut black);
    }
    black_nic.drain();

    let mut done = 0;
    while done < n {
        let k = BATCH.min(n - done);
        for _ in 0..k {
            red_nic.send(&frame);
        }
        // The data channels only (0 and 1 in all three PDs: net_red's NIC and CRYPTO, crypto's
        // RED and BLACK, net_black's NIC and CRYPTO). The timers tick on their own period, as
        // in the system: crypto's tick runs every peer's timers, which with 1024 peers would
        // outweigh a batch if it ran for each one.
        run(ChannelSet::EMPTY.with(pd_crypto::RED).with(pd_crypto::BLACK), &mut red, &mut crypto, &mut black);
        let out = black_nic.drain();
        assert_eq!(out.len(), k, "every frame leaves on the black side");
        done += k;
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    match mode.as_str() {
        "seal" => seal(n),
        "crypto" => crypto_path(n),
        "pipeline" => pipeline(n, 0),
        "pipeline-1024" => pipeline(n, pd_crypto::MAX_PEERS - 1),
        "dispatch" => dispatch_path(n),
        _ => {
            eprintln!("usage: costbench <seal|crypto|pipeline|pipeline-1024|dispatch> <packets>");
            std::process::exit(2);
        }
    }
}
