//! The crypto PD's clock floor: the time of the newest commit of the tree it is built from (or
//! SOURCE_DATE_EPOCH, for builds outside git). A wall clock earlier than that is wrong for sure;
//! the PD then initiates no handshake (peers refuse initiations whose timestamp went back).
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let floor = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse::<u64>().ok()).or_else(|| {
        let git = |args: &[&str]| {
            Command::new("git").args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        // Rebuild when HEAD moves.
        if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
            println!("cargo:rerun-if-changed={dir}/HEAD");
            if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
                println!("cargo:rerun-if-changed={dir}/{head}");
            }
        }
        git(&["log", "-1", "--format=%ct"]).and_then(|t| t.parse().ok())
    });
    if floor.is_none() {
        println!("cargo:warning=pd-crypto: no git history and no SOURCE_DATE_EPOCH: the wall clock goes unchecked");
    }
    println!("cargo:rustc-env=PD_CRYPTO_CLOCK_FLOOR_S={}", floor.unwrap_or(0));
}
