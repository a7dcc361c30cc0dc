//! `crypto-scaling` measures what it says: a short run with and without workers ends with a
//! figure for each, and the bench itself checks (exiting 1 otherwise) that every data message
//! had a sealed 1420-byte packet's length, that the peer opened the sampled ones, and that no
//! PD thread failed. The figures themselves are not asserted: speed belongs to benchmarks.

use std::process::Command;

#[test]
fn a_short_run_seals_real_messages_with_and_without_workers() {
    let out = Command::new(env!("CARGO_BIN_EXE_crypto-scaling"))
        .args(["--workers", "0,2", "--seconds", "0.3", "--reps", "1"])
        .output()
        .expect("run crypto-scaling");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "crypto-scaling failed:\n{stdout}\n{stderr}");
    for w in [0, 2] {
        let line = stdout.lines().find(|l| l.starts_with(&format!("RESULT crypto_workers_{w}_pps "))).unwrap_or_else(|| panic!("no result for {w} workers:\n{stdout}"));
        let pps: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(pps > 0.0, "{line}");
    }
}
