//! `encryptor-host`: the encryptor on the Linux host runtime.
//!
//! It reads `system.xml`, creates every memory region as a shared mapping, fills the config
//! regions from the `--config` file as the seL4 root task fills them from its boot module
//! (`boot_module="1"`: the whole file; `fill_without_keys`: the file without its keys), and runs
//! every PD of the system as a thread. The stack and crypto PDs are the same crates the seL4
//! images link, started the same way (`start()` reads the PD's config region); the NIC PDs
//! (those with `<host_tap>`) become TAP-device PDs (protection-domains/nic/host.rs) and the
//! timer PD a thread that sleeps to each tick (protection-domains/timer/host.rs). The serial PD
//! has no host form: the runtime's console is its own stdout and stderr. It runs until SIGINT or
//! SIGTERM, then prints every PD's counters (`counter <pd>.<name> <value>`) and exits 0.

mod platform;
#[path = "../../../protection-domains/nic/host.rs"]
mod tap;
#[path = "../../../protection-domains/timer/host.rs"]
mod timer;

use encryptor_config::Config;
use pd_api::Handler;
use platform::{HostPd, Mapping, Signal, STOP};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

const USAGE: &str = "usage:
  encryptor-host --config FILE --red TAP --black TAP [--system system.xml]
      run the encryptor; TAP devices must exist; stop with SIGINT/SIGTERM
  encryptor-host check-config FILE
      parse a config file and report the first error (line and key)
  encryptor-host check-system FILE
      parse and check a system description";

struct Args {
    config: String,
    red: String,
    black: String,
    system: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut config, mut red, mut black, mut system) = (None, None, None, None);
    while let Some(a) = args.next() {
        let slot = match a.as_str() {
            "--config" => &mut config,
            "--red" => &mut red,
            "--black" => &mut black,
            "--system" => &mut system,
            _ => return Err(format!("unknown argument {a}")),
        };
        *slot = Some(args.next().ok_or_else(|| format!("{a} needs a value"))?);
    }
    Ok(Args {
        config: config.ok_or("--config is required")?,
        red: red.ok_or("--red is required")?,
        black: black.ok_or("--black is required")?,
        system: system.unwrap_or_else(|| "system.xml".into()),
    })
}

fn read_config_text(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Config::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok(text)
}

fn read_config(path: &str) -> Result<Config, String> {
    Config::parse(&read_config_text(path)?).map_err(|e| format!("{path}: {e}"))
}

fn read_system(path: &str) -> Result<sdf::System, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    sdf::System::parse(&text).map_err(|e| format!("{path}: {e}"))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let result = match args.peek().map(String::as_str) {
        Some("check-config") => args.nth(1).ok_or_else(|| USAGE.to_string()).and_then(|p| {
            read_config(&p).map(|c| {
                let mss = match (c.red.mss_clamp, c.red.mss_limits()) {
                    (encryptor_config::MssClamp::Auto, Some((v4, v6))) => format!("auto (IPv4 {v4}, IPv6 {v6})"),
                    (_, Some((v4, _))) => format!("{v4}"),
                    (_, None) => "off".to_string(),
                };
                println!(
                    "{p}: ok ({} peers, MTU {} (IPv6 {}), MssClamp {mss})",
                    c.crypto.peers.len(),
                    c.red.tunnel_mtu(false),
                    c.red.tunnel_mtu(true)
                )
            })
        }),
        Some("check-system") => args.nth(1).ok_or_else(|| USAGE.to_string()).and_then(|p| {
            read_system(&p).map(|s| println!("{p}: ok ({} protection domains)", s.protection_domains.len()))
        }),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => parse_args(args).and_then(run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("encryptor-host: {e}");
            ExitCode::from(2)
        }
    }
}

/// What a PD thread hands back when it ends.
type Report = Result<Vec<(String, u64)>, String>;

fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local set; pthread_sigmask on the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn run(args: Args) -> Result<(), String> {
    // Checked before anything is created: a bad file is refused with its line and key.
    let config = read_config_text(&args.config)?;
    let system = read_system(&args.system)?;
    // Threads inherit the mask: only the main thread takes SIGINT/SIGTERM, in sigwait.
    let sigset = block_signals();

    let epoch = Instant::now();
    let mut mappings = HashMap::new();
    for r in &system.memory_regions {
        let m = Mapping::new(r.size as usize).map_err(|e| format!("region {}: {e}", r.name))?;
        mappings.insert(r.name.clone(), Box::leak(Box::new(m)) as &'static Mapping);
    }
    // The config regions, as the root task fills them from boot module 1 (the config file).
    for r in &system.memory_regions {
        let text = match (&r.boot_module, &r.fill_without_keys) {
            (Some(1), _) => config.clone(),
            (_, Some(_)) => encryptor_config::without_keys(&config),
            _ => continue,
        };
        if text.len() >= r.size as usize {
            return Err(format!("{}: {} bytes do not fit region {} ({} bytes)", args.config, text.len(), r.name, r.size));
        }
        mappings[&r.name].write(0, text.as_bytes());
    }
    let mut signals = HashMap::new();
    for pd in &system.protection_domains {
        signals.insert(pd.name.clone(), Arc::new(Signal::new().map_err(|e| e.to_string())?));
    }
    let mut pds: Vec<&'static HostPd> = Vec::new();
    for pd in &system.protection_domains {
        let regions = pd
            .maps
            .iter()
            .filter_map(|m| Some((m.setvar_vaddr.clone()?, mappings[&m.mr].region())))
            .collect();
        let mut channels = HashMap::new();
        for id in 0..=sdf::MAX_CHANNEL_ID {
            // An end with notify="false" cannot signal its peer here either.
            if let Some(end) = system.notify_peer(&pd.name, id) {
                channels.insert(usize::from(id), (signals[&end.pd].clone(), usize::from(end.id)));
            }
        }
        let fault_at = pd.inject_fault_ms.map(|ms| epoch + std::time::Duration::from_millis(ms.into()));
        let host = HostPd { name: pd.name.clone(), signal: signals[&pd.name].clone(), regions, channels, epoch, fault_at, fault_due: false.into() };
        pds.push(Box::leak(Box::new(host)));
    }

    // Placement (`cpu`): PD core k runs on the k-th CPU this process may use, when there is one
    // for every core the system names. Otherwise Linux's scheduler places the threads: folding
    // the cores onto fewer CPUs (modulo their number, as it once did) put four of system.xml's
    // PDs on one CPU of a 2-CPU host, beside the PCs' programs and the kernel's TAP work, and cut
    // TCP through the pair from 741 to 200 Mbit/s (2026-12-04). A system that places nothing
    // (every cpu 0) is also left to the scheduler: pinning every thread to one CPU only slows.
    let cores = system.protection_domains.iter().map(|p| usize::from(p.cpu) + 1).max().unwrap_or(1);
    let allowed = platform::allowed_cpus().map_err(|e| format!("sched_getaffinity: {e}"))?;
    let cpus = if cores > 1 && allowed.len() >= cores {
        allowed
    } else {
        if cores > 1 {
            eprintln!(
                "encryptor-host: the system places PDs on {cores} cores and this process may use {} CPU(s): \
                 placement not applied, Linux's scheduler places the PD threads",
                allowed.len()
            );
        }
        Vec::new()
    };

    // The PD implementations, by program image (TAP PDs by <host_tap>).
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let mut threads = Vec::new();
    for (spec, &pd) in system.protection_domains.iter().zip(&pds) {
        let ready = ready_tx.clone();
        let image = spec.program_image.trim_end_matches(".elf");
        if pd.fault_at.is_some() && (spec.host_tap.is_some() || !matches!(image, "crypto" | "crypto_worker" | "net_red" | "net_black")) {
            return Err(format!("{}: the host runtime injects faults (inject_fault_ms) only into crypto, its workers and the stack PDs", spec.name));
        }
        let body: Box<dyn FnOnce() -> Report + Send> = if let Some(side) = &spec.host_tap {
            let name = if side == "red" { args.red.clone() } else { args.black.clone() };
            let tap = tap::open(&name).map_err(|e| format!("{}: TAP {name}: {e}", spec.name))?;
            Box::new(move || {
                pd_api::set_platform(pd);
                let _ = ready.send(Ok(()));
                let c = tap::run(pd, tap)?;
                Ok(collect(|r| c.report(r)))
            })
        } else {
            match image {
                "crypto" => Box::new(move || serve(pd, ready, pd_crypto::Crypto::start)),
                "crypto_worker" => Box::new(move || serve(pd, ready, pd_crypto_worker::CryptoWorker::start)),
                "net_red" => Box::new(move || serve(pd, ready, pd_net_red::NetRed::start)),
                "net_black" => Box::new(move || serve(pd, ready, pd_net_black::NetBlack::start)),
                // The host runtime's console is its own stdout and stderr: no serial PD.
                "serial" => continue,
                "timer" => Box::new(move || {
                    pd_api::set_platform(pd);
                    let _ = ready.send(Ok(()));
                    Ok(timer::run(pd))
                }),
                other => return Err(format!("{}: the host runtime has no PD for program image {other}", spec.name)),
            }
        };
        let body: Box<dyn FnOnce() -> Report + Send> = match cpus.get(usize::from(spec.cpu)) {
            Some(&cpu) => {
                eprintln!("encryptor-host: PD {} on host CPU {cpu} (cpu {})", spec.name, spec.cpu);
                let (name, ready) = (spec.name.clone(), ready_tx.clone());
                Box::new(move || {
                    if let Err(e) = platform::pin_current_thread(cpu) {
                        // Said on the ready channel: start-up waits for every PD's word.
                        let e = format!("{name}: pinning to CPU {cpu}: {e}");
                        let _ = ready.send(Err(e.clone()));
                        return Err(e);
                    }
                    drop(ready);
                    body()
                })
            }
            None => body,
        };
        let t = thread::Builder::new().name(spec.name.clone()).spawn(body).map_err(|e| e.to_string())?;
        threads.push((spec.name.clone(), t));
    }
    drop(ready_tx);
    let mut failed = None;
    for _ in 0..threads.len() {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed = Some(e),
            Err(_) => failed = Some("a PD ended during start-up".into()),
        }
    }
    if failed.is_none() {
        // From here a PD thread that panics would leave a hole the others run around (crypto's:
        // a silent black hole): the process ends instead, after the panic's message, for its
        // supervisor to start afresh (as seL4's root task restarts a faulted PD).
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            eprintln!("encryptor-host: a PD panicked: exiting");
            std::process::exit(70);
        }));
        // A PD with a fault to inject is woken at its time (it may have nothing else to wake
        // it), once the hook above is in place: a fault due earlier waits for it.
        for &pd in pds.iter().filter(|pd| pd.fault_at.is_some()) {
            thread::spawn(move || {
                if let Some(wait) = pd.fault_at.and_then(|t| t.checked_duration_since(Instant::now())) {
                    thread::sleep(wait);
                }
                pd.fault_due.store(true, Ordering::Release);
                pd.signal.wake();
            });
        }
        println!("encryptor-host: ready ({} PDs)", threads.len());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut sig = 0;
        // SAFETY: waits for one of the blocked signals in the set.
        unsafe { libc::sigwait(&sigset, &mut sig) };
        eprintln!("encryptor-host: signal {sig}, stopping");
    }
    STOP.store(true, Ordering::SeqCst);
    for pd in &pds {
        pd.signal.wake();
    }
    for (name, t) in threads {
        match t.join() {
            Ok(Ok(counters)) => {
                for (k, v) in counters {
                    println!("counter {name}.{k} {v}");
                }
            }
            Ok(Err(e)) => failed = failed.or(Some(format!("{name}: {e}"))),
            Err(_) => failed = failed.or(Some(format!("{name}: panicked"))),
        }
    }
    failed.map_or(Ok(()), Err)
}

fn collect(report: impl FnOnce(&mut dyn FnMut(&str, u64))) -> Vec<(String, u64)> {
    let mut v = Vec::new();
    report(&mut |k, n| v.push((k.to_string(), n)));
    v
}

/// Runs a PD handler: init, then `platform::serve_until_stop`; returns its counters.
fn serve<H: Handler, E: std::fmt::Display>(
    pd: &'static HostPd,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
    init: impl FnOnce() -> Result<H, E>,
) -> Report {
    pd_api::set_platform(pd);
    let mut handler = match init() {
        Ok(h) => h,
        Err(e) => {
            let msg = format!("{}: {e}", pd.name);
            let _ = ready.send(Err(msg.clone()));
            return Err(msg);
        }
    };
    let _ = ready.send(Ok(()));
    let errors = platform::serve_until_stop(pd, &mut handler);
    let mut v = collect(|r| handler.counters(r));
    v.push(("handler_errors".into(), errors));
    Ok(v)
}
