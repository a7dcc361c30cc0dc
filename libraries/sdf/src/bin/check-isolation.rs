//! `check-isolation [system.xml]`: the red/black isolation check (see `sdf::isolation`).
//! Exits 0 and prints `isolation: ok` when every rule holds; exits 1 with one line
//! per violation otherwise. Bypass paths are reported either way.

use std::process::ExitCode;

fn main() -> ExitCode {
    let path = std::env::args().nth(1).unwrap_or_else(|| "system.xml".into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("check-isolation: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let sys = match sdf::System::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("check-isolation: {e}");
            return ExitCode::from(2);
        }
    };
    let report = sdf::isolation::check(&sys);
    for b in &report.bypass_paths {
        println!("bypass: {b}");
    }
    if report.bypass_paths.is_empty() {
        println!("bypass: none (no red-black path outside crypto)");
    }
    for v in &report.violations {
        println!("VIOLATION: {v}");
    }
    if report.ok() {
        println!("isolation: ok ({} PDs, {} regions, {} channels)", sys.protection_domains.len(), sys.memory_regions.len(), sys.channels.len());
        ExitCode::SUCCESS
    } else {
        println!("isolation: FAILED ({} violations)", report.violations.len());
        ExitCode::from(1)
    }
}
