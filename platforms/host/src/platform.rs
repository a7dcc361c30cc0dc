//! The host platform: the PD API over threads, eventfds and shared mappings.
//!
//! Each PD is a thread. A notification is a bit OR-ed into the target PD's
//! pending badge followed by an eventfd write, which is exactly seL4's
//! notification semantics (badges accumulate until the waiter takes them).
//! Regions are anonymous shared mappings; on the host every PD can reach every
//! region (one address space), so isolation is seL4's job, not this runtime's.

use pd_api::{Channel, MemoryRegion, MessageInfo, Platform};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Set once on SIGINT/SIGTERM; every PD loop checks it after waking.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// A PD's notification object: a pending badge and an eventfd to sleep on.
pub struct Signal {
    pending: AtomicU64,
    efd: OwnedFd,
}

impl Signal {
    /// A signal with nothing pending.
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd has no memory arguments; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Self { pending: AtomicU64::new(0), efd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Raises badge bit `bit` and wakes the waiter.
    pub fn raise(&self, bit: usize) {
        self.pending.fetch_or(1 << bit, Ordering::AcqRel);
        self.wake();
    }

    /// Wakes the waiter without a badge (shutdown).
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd.
        let _ = unsafe { libc::write(self.efd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Sleeps until raised, then takes the accumulated badge.
    pub fn wait(&self) -> u64 {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our eventfd (blocking).
        let _ = unsafe { libc::read(self.efd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
        self.take()
    }

    /// Takes the accumulated badge without sleeping.
    pub fn take(&self) -> u64 {
        self.pending.swap(0, Ordering::AcqRel)
    }

    /// The eventfd, for PDs that also poll a device.
    pub fn fd(&self) -> i32 {
        self.efd.as_raw_fd()
    }

    /// Clears the eventfd counter after a poll said it was readable.
    pub fn drain_fd(&self) {
        let mut v: u64 = 0;
        // SAFETY: as in wait(); the fd is readable, so this does not block.
        let _ = unsafe { libc::read(self.efd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

/// The host CPUs this process may run on, lowest first (its affinity mask).
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer and size describe `set`, which lives across the call.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CPU_ISSET only reads the set, for indices within its size.
    Ok((0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect())
}

/// Pins the calling thread to host CPU `cpu` (a PD's `cpu` placement).
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; the pointer and size describe `set`.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One anonymous shared mapping standing for a memory region.
pub struct Mapping {
    base: NonNull<u8>,
    size: usize,
}

// SAFETY: the mapping is plain memory shared by PD threads through the ring
// crate's atomics; the pointer itself is immutable.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// A zeroed, page-aligned mapping of `size` bytes.
    pub fn new(size: usize) -> io::Result<Self> {
        // SAFETY: an anonymous mapping with no address hint; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { base: NonNull::new(p.cast()).expect("mmap returned null"), size })
    }

    /// Copies `bytes` into the mapping at `offset` (before any PD runs: filling a config
    /// region). Panics if they do not fit (the caller checks against the region's size).
    pub fn write(&self, offset: usize, bytes: &[u8]) {
        assert!(offset + bytes.len() <= self.size);
        // SAFETY: inside the mapping (checked); no PD thread exists yet to read it concurrently.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.as_ptr().add(offset), bytes.len()) };
    }

    /// The region as the PD API sees it.
    pub fn region(&self) -> MemoryRegion {
        // SAFETY: the mapping lives as long as the runtime (mappings are leaked).
        unsafe { MemoryRegion::new(self.base, self.size) }
    }
}

/// What one PD thread sees of the platform.
pub struct HostPd {
    /// The PD's name.
    pub name: String,
    /// Its notification object.
    pub signal: Arc<Signal>,
    /// Its regions by setvar name.
    pub regions: HashMap<String, MemoryRegion>,
    /// For each of its channel ids: the peer's signal and the peer's channel id.
    pub channels: HashMap<usize, (Arc<Signal>, usize)>,
    /// The runtime's time origin.
    pub epoch: Instant,
    /// When the PD panics on purpose (system.xml's test-only `inject_fault_ms`, counted from
    /// `epoch`, as the seL4 root task makes a PD fault): tests of what a PD's end does.
    pub fault_at: Option<Instant>,
    /// Set at `fault_at` (once the runtime is ready): the PD panics when it next wakes.
    pub fault_due: AtomicBool,
}

std::thread_local! {
    static MRS: RefCell<[u64; 64]> = const { RefCell::new([0; 64]) };
}

impl HostPd {
    /// Every channel this PD has an end of (system.xml), as a set.
    pub fn channel_set(&self) -> pd_api::ChannelSet {
        self.channels.keys().fold(pd_api::ChannelSet::EMPTY, |s, &c| s.with(Channel::new(c)))
    }
}

impl Platform for HostPd {
    fn pd_name(&self) -> &str {
        &self.name
    }

    fn notify(&self, channel: Channel) {
        if let Some((signal, bit)) = self.channels.get(&channel.index()) {
            signal.raise(*bit);
        }
    }

    fn irq_ack(&self, _channel: Channel) {
        // TAP devices stand in for NICs on the host: there are no interrupts.
    }

    fn pp_call(&self, channel: Channel, _msg_info: MessageInfo) -> MessageInfo {
        // The encryptor's PDs make no protected calls; the host runtime has none.
        panic!("{}: protected call on {channel} is not supported by the host runtime", self.name)
    }

    fn get_mr(&self, i: usize) -> u64 {
        MRS.with(|m| m.borrow().get(i).copied().unwrap_or(0))
    }

    fn set_mr(&self, i: usize, value: u64) {
        MRS.with(|m| {
            if let Some(r) = m.borrow_mut().get_mut(i) {
                *r = value;
            }
        })
    }

    fn memory_region(&self, name: &str) -> Option<MemoryRegion> {
        self.regions.get(name).copied()
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn wall_clock_ns(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    }

    fn wall_clock_source(&self) -> &'static str {
        "the host's clock"
    }

    fn fill_random(&self, buf: &mut [u8]) -> bool {
        fill_from_kernel(buf)
    }

    fn log(&self, args: fmt::Arguments<'_>) {
        eprintln!("[{}] {}", self.name, args);
    }

    /// The host runtime restarts no single PD (they share one process), and a PD thread that
    /// ended would leave the others running around a hole (crypto's: a silent black hole). The
    /// whole process ends instead, with the reason, for whatever supervises it to start afresh.
    fn restart(&self, why: fmt::Arguments<'_>) -> ! {
        eprintln!("[{}] restart requested: {why}; the host runtime restarts no single PD: encryptor-host exits", self.name);
        std::process::exit(75)
    }
}

/// A PD thread's life after init: the first pass that arms its rings, then one `notified` per
/// wake-up until [`STOP`]. Errors are logged (the first few, then every thousandth), never
/// fatal; returns how many there were.
pub fn serve_until_stop<H: pd_api::Handler>(pd: &HostPd, handler: &mut H) -> u64 {
    let mut errors = 0u64;
    let mut badge = pd_api::ChannelSet::EMPTY.badge();
    loop {
        if let Err(e) = handler.notified(pd_api::ChannelSet::from_badge(badge)) {
            errors += 1;
            if errors <= 10 || errors % 1000 == 0 {
                pd_api::log!("error #{errors}: {e}");
            }
        }
        badge = pd.signal.wait();
        if STOP.load(Ordering::Relaxed) {
            return errors;
        }
        if pd.fault_due.load(Ordering::Acquire) {
            panic!("{}: injected fault (system.xml inject_fault_ms)", pd.name);
        }
    }
}

/// Fills `buf` from the kernel's CSPRNG (getrandom(2)).
fn fill_from_kernel(buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes at most the remaining length into buf.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}
