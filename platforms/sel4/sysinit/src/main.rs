//! `sel4-sysinit SYSTEM.xml -o IMAGE [-L DIR]... [--fill REGION=FILE]...`, or `sel4-sysinit --check SYSTEM.xml` to
//! check a description without building an image, or `sel4-sysinit --programs SYSTEM.xml` to list
//! the PD programs it names (one per line, `.elf` dropped: what platforms/sel4/build compiles).
//!
//! Reads a Microkit-style system description, checks it, and writes the system image the root
//! task links in: the encoded spec followed by every PD's program (found in the `-L` directories).
//! See `sel4_sysinit::parse` for the accepted elements.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut xml = None;
    let mut out = None;
    let mut search = Vec::new();
    let mut check_only = false;
    let mut list_programs = false;
    let mut fills = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--check" => check_only = true,
            "--programs" => list_programs = true,
            "--fill" => match args.next().as_deref().and_then(|a| a.split_once('=')) {
                Some((region, path)) => fills.push((region.to_string(), PathBuf::from(path))),
                None => {
                    eprintln!("sel4-sysinit: --fill needs REGION=FILE");
                    return ExitCode::from(2);
                }
            },
            "-o" => out = args.next().map(PathBuf::from),
            "-L" => search.extend(args.next().map(PathBuf::from)),
            _ if xml.is_none() => xml = Some(PathBuf::from(a)),
            _ => {
                eprintln!("sel4-sysinit: unexpected argument {a}");
                return ExitCode::from(2);
            }
        }
    }
    if let (true, Some(xml)) = (check_only || list_programs, &xml) {
        let text = match std::fs::read_to_string(xml) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("sel4-sysinit: {}: {e}", xml.display());
                return ExitCode::FAILURE;
            }
        };
        return match sel4_sysinit::parse(&text) {
            Ok((_, programs)) if list_programs => {
                let mut names: Vec<&str> = programs.iter().map(|p| p.trim_end_matches(".elf")).collect();
                names.sort_unstable();
                names.dedup();
                for name in names {
                    println!("{name}");
                }
                ExitCode::SUCCESS
            }
            Ok((sys, _)) => {
                println!("{}: {} PDs, {} regions, {} channels: ok", xml.display(), sys.pds.len(), sys.regions.len(), sys.channels.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sel4-sysinit: {}: {e}", xml.display());
                ExitCode::FAILURE
            }
        };
    }
    let (Some(xml), Some(out)) = (xml, out) else {
        eprintln!("usage: sel4-sysinit SYSTEM.xml -o IMAGE [-L PROGRAM_DIR]... [--fill REGION=FILE]...   or   sel4-sysinit --check|--programs SYSTEM.xml");
        return ExitCode::from(2);
    };
    if search.is_empty() {
        search.push(xml.parent().map(PathBuf::from).unwrap_or_default());
    }
    match sel4_sysinit::build_image(&xml, &search, &fills) {
        Ok((image, summary)) => {
            if let Err(e) = std::fs::write(&out, image) {
                eprintln!("sel4-sysinit: {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sel4-sysinit: {}: {e}", xml.display());
            ExitCode::FAILURE
        }
    }
}
