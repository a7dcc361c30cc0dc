//! A config region as a platform fills it (the file, then zeros) and what a PD makes of it.

use encryptor_config::{parse_region, ConfigProblem};
use pd_testkit::TestPd;

const CONFIG: &str = "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nListenPort = 51820\n\n[Peer]\nPublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\nAllowedIPs = 10.2.0.0/24\n\n[Encryptor]\nRedAddress = 10.1.0.1/24\nBlackAddress = 192.0.2.1/24\n";

/// A region of `size` bytes holding `bytes` at its start.
fn region(name: &str, bytes: &[u8], size: usize) -> pd_api::MemoryRegion {
    let pd = TestPd::new(name);
    let region = pd.region("config", size);
    // SAFETY: the region was just made, `size` bytes (more than `bytes`), used by this thread only.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), region.base().as_ptr(), bytes.len()) };
    region
}

#[test]
fn the_file_then_zeros_parses() {
    let c = parse_region(region("region_ok", CONFIG.as_bytes(), 4096)).unwrap();
    assert_eq!(c.crypto.peers.len(), 1);
}

#[test]
fn an_empty_region_or_bytes_that_are_not_text_are_refused_by_name() {
    assert!(matches!(parse_region(region("region_empty", b"", 4096)), Err(ConfigProblem::Empty)));
    assert!(matches!(parse_region(region("region_binary", &[0xff, 0xfe, b'['], 4096)), Err(ConfigProblem::NotText)));
}

/// A NUL inside the file (a damaged file) would end it early for the PD, which would then read
/// half a config (the peers after it gone) where the root task, counting the whole module, saw
/// another: refused, naming the offset.
#[test]
fn text_after_a_nul_is_refused_not_cut_off() {
    let cut = CONFIG.find("[Encryptor]").unwrap();
    let mut damaged = CONFIG.as_bytes().to_vec();
    damaged[cut - 1] = 0;
    match parse_region(region("region_nul", &damaged, 4096)) {
        Err(e @ ConfigProblem::NulInside(at)) => {
            assert_eq!(at, cut - 1);
            assert!(e.to_string().contains(&format!("NUL byte at offset {}", cut - 1)), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // A file that fills its region exactly has no zero after it: read whole.
    assert!(parse_region(region("region_full", CONFIG.as_bytes(), CONFIG.len())).is_ok());
}
