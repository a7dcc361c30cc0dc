//! The seL4 side of the PD API: a PD crate writes `sel4_pd_runtime::protection_domain!(init)`
//! with `fn init() -> impl pd_api::Handler`, and this crate supplies the rest.
//!
//! The root task starts the PD at `_start` with the stack pointer at the top of its stack, RDI
//! holding how often it restarted the PD after a fault (0 at boot), and its info page ([`sel4_system_spec::pd_info::PdInfo`]) mapped read-only. The runtime installs the
//! platform, calls `init`, then loops: wait on the PD's endpoint (to which its notification is
//! bound), dispatch a protected call (badge bit 27 set) to `Handler::protected` and reply, or a
//! notification word to `Handler::notified`. A panic prints the PD's name and message and is
//! reported to the root task through the fault endpoint; the PD then stays blocked. Console
//! lines go to the root task too (a call on the fault endpoint), which prints each whole.

#![no_std]

extern crate alloc;

use core::fmt::Write as _;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use pd_api::{Channel, ChannelSet, Handler, MemoryRegion, MessageInfo, Platform};
use sel4_abi::freestanding::{LineBuffer, RegionHeap};
use sel4_system_spec::layout;
use sel4_system_spec::pd_info::{self, PdInfo};

pub use pd_api;

/// The PD's heap: the memory the root task mapped at `HEAP_VADDR`, as large as the info page
/// says (system.xml's `heap_size`, grown with the config's peers for crypto).
#[global_allocator]
static HEAP: RegionHeap = RegionHeap::empty();

/// Bytes of heap this PD was given (0 before the runtime set it up).
pub fn heap_bytes() -> usize {
    HEAP.size()
}

core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    // The root task set RSP to the top of the stack; align it for the call as the ABI wants.
    // RDI (the restart count) is the call's first argument as it stands.
    "and rsp, -16",
    "call {main}",
    "ud2",
    main = sym runtime_main,
);

extern "Rust" {
    /// Defined by [`protection_domain!`]: runs the PD's init and event loop.
    fn __sel4_pd_main() -> !;
}

/// How often the root task restarted this PD (its `_start` argument; see [`Platform::restarts`]).
static RESTARTS: AtomicU64 = AtomicU64::new(0);

extern "C" fn runtime_main(restarts: u64) -> ! {
    RESTARTS.store(restarts, Ordering::Relaxed);
    // SAFETY: the symbol is defined by the protection_domain! macro in the PD's binary crate.
    unsafe { __sel4_pd_main() }
}

/// The PD's info page, written by the root task before the PD started.
fn info() -> &'static PdInfo {
    // SAFETY: the root task maps the info page read-only at INFO_VADDR in every PD before it
    // starts the PD, and never changes it afterwards.
    unsafe { &*(layout::INFO_VADDR as *const PdInfo) }
}

/// This PD's name.
pub fn pd_name() -> &'static str {
    pd_info::name_str(&info().name)
}

struct Sel4Platform;

/// What the PD costs the kernel, reported on its status page beside the handler's counters
/// (`runtime_wakeups`, `runtime_signals`, `runtime_irq_acks`): divided by packets, the
/// notifications and system calls per packet (docs/performance.md). One thread per PD, so
/// relaxed increments suffice.
static WAKEUPS: AtomicU64 = AtomicU64::new(0);
static SIGNALS: AtomicU64 = AtomicU64::new(0);
static IRQ_ACKS: AtomicU64 = AtomicU64::new(0);

fn count(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

static PLATFORM: Sel4Platform = Sel4Platform;
static PLATFORM_REF: &dyn Platform = &PLATFORM;

impl Platform for Sel4Platform {
    fn pd_name(&self) -> &str {
        pd_name()
    }

    fn notify(&self, channel: Channel) {
        if info().notify_channels & (1 << channel.index()) == 0 {
            panic!("notify on {channel}, which this PD has no notification for");
        }
        count(&SIGNALS);
        sel4_abi::signal(layout::SLOT_NOTIFY + channel.index() as u64);
    }

    fn irq_ack(&self, channel: Channel) {
        if info().irq_channels & (1 << channel.index()) == 0 {
            panic!("irq_ack on {channel}, which is not an IRQ channel of this PD");
        }
        count(&IRQ_ACKS);
        if let Err(e) = sel4_abi::invoke(layout::SLOT_IRQ + channel.index() as u64, sel4_abi::label::IRQAckIRQ, &[], &[]) {
            panic!("irq_ack on {channel}: {e}");
        }
    }

    fn pp_call(&self, channel: Channel, msg: MessageInfo) -> MessageInfo {
        if info().ppcall_channels & (1 << channel.index()) == 0 {
            panic!("protected call on {channel}, which this PD may not call on");
        }
        let info = sel4_abi::MessageInfo::new(msg.label(), 0, 0, msg.count() as u64);
        let reply = sel4_abi::call(layout::SLOT_PPCALL + channel.index() as u64, info);
        MessageInfo::new(reply.label(), reply.length() as usize)
    }

    fn get_mr(&self, i: usize) -> u64 {
        sel4_abi::get_mr(i)
    }

    fn set_mr(&self, i: usize, value: u64) {
        sel4_abi::set_mr(i, value)
    }

    fn memory_region(&self, name: &str) -> Option<MemoryRegion> {
        let info = info();
        let regions = &info.regions[..(info.region_count as usize).min(pd_info::MAX_REGIONS)];
        let r = regions.iter().find(|r| pd_info::name_str(&r.name) == name)?;
        // SAFETY: the root task mapped `size` bytes at `vaddr` for the life of the PD, and the
        // region is shared memory that pd-api users reach only through MemoryRegion's contract.
        let region = unsafe { MemoryRegion::new(NonNull::new(r.vaddr as *mut u8)?, r.size as usize) };
        Some(if r.paddr != 0 { region.with_phys_addr(r.paddr) } else { region })
    }

    fn now_ns(&self) -> u64 {
        // SAFETY: RDTSC only reads the time-stamp counter.
        let tsc = unsafe { core::arch::x86_64::_rdtsc() };
        let mhz = info().tsc_mhz.max(1);
        (tsc as u128 * 1000 / mhz as u128) as u64
    }

    fn wall_clock_ns(&self) -> u64 {
        let info = info();
        // SAFETY: RDTSC only reads the time-stamp counter.
        let tsc = unsafe { core::arch::x86_64::_rdtsc() };
        let since_boot = (tsc.saturating_sub(info.boot_tsc) as u128 * 1000 / info.tsc_mhz.max(1) as u128) as u64;
        info.boot_unix_ns + since_boot
    }

    fn wall_clock_source(&self) -> &'static str {
        if info().boot_unix_ns == 0 {
            "none: the CMOS RTC could not be read at boot"
        } else {
            "the CMOS RTC, read at boot"
        }
    }

    fn fill_random(&self, buf: &mut [u8]) -> bool {
        hw_random(buf)
    }

    fn log(&self, args: core::fmt::Arguments<'_>) {
        let mut line = LineBuffer::new();
        let _ = write!(line, "{}: {}", pd_name(), args);
        send_line(line.as_bytes());
    }

    fn restarts(&self) -> u32 {
        RESTARTS.load(Ordering::Relaxed) as u32
    }

    fn heap_bytes(&self) -> Option<usize> {
        Some(heap_bytes())
    }

    fn restart(&self, why: core::fmt::Arguments<'_>) -> ! {
        let mut line = LineBuffer::new();
        let _ = write!(line, "{}: restarting: {}", pd_name(), why);
        send_line(line.as_bytes());
        // The root task handles this as a fault (it never replies): it stops the PD, stops its
        // devices' DMA, and starts it again from its image.
        loop {
            sel4_abi::call(layout::SLOT_FAULT, sel4_abi::MessageInfo::new(layout::RESTART_LABEL, 0, 0, 0));
        }
    }
}

/// The channels this PD may notify (its channel ends in system.xml), as a set.
pub fn notify_channels() -> ChannelSet {
    ChannelSet::from_badge(info().notify_channels)
}

/// Every region mapped into this PD under a name (`setvar_vaddr`), in system.xml's order: for a
/// PD that finds its regions by a name pattern (the serial PD's `status:<pd>` pages).
pub fn regions() -> impl Iterator<Item = (&'static str, MemoryRegion)> {
    let info = info();
    info.regions[..(info.region_count as usize).min(pd_info::MAX_REGIONS)].iter().filter_map(|r| {
        let name = pd_info::name_str(&r.name);
        Some((name, PLATFORM.memory_region(name)?))
    })
}

pub use sel4_system_spec::pd_info::PciInfo;

/// The `index`-th PCI function system.xml gives this PD (`<pci_device>`, in document order), as
/// the root task found it on the bus and set up its interrupt (seL4 only: on the host a NIC PD
/// drives a TAP device).
pub fn pci_device(index: usize) -> Option<PciInfo> {
    let info = info();
    info.pci[..(info.pci_count as usize).min(pd_info::MAX_PCI)].get(index).copied()
}

/// A range of I/O ports this PD was given by `<ioport id base size>` (x86; seL4 only: the host
/// runtime has no port I/O, so this lives here rather than in pd-api).
#[derive(Clone, Copy, Debug)]
pub struct IoPort {
    cap: u64,
    base: u16,
    size: u16,
}

/// Why a port access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoPortError {
    /// The port is outside the range system.xml gives this PD.
    OutOfRange,
    /// The kernel refused (the cap's range is narrower than the info page says).
    Kernel(u64),
}

impl IoPort {
    fn check(&self, port: u16, width: u16) -> Result<(), IoPortError> {
        let end = self.base as u32 + self.size as u32;
        if port < self.base || port as u32 + width as u32 > end {
            return Err(IoPortError::OutOfRange);
        }
        Ok(())
    }

    /// First port of the range.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// Reads a byte.
    pub fn in8(&self, port: u16) -> Result<u8, IoPortError> {
        self.check(port, 1)?;
        sel4_abi::ioport_in8(self.cap, port).map_err(|e| IoPortError::Kernel(e.0))
    }

    /// Writes a byte.
    pub fn out8(&self, port: u16, value: u8) -> Result<(), IoPortError> {
        self.check(port, 1)?;
        sel4_abi::ioport_out8(self.cap, port, value).map_err(|e| IoPortError::Kernel(e.0))
    }

    /// Reads 16 bits.
    pub fn in16(&self, port: u16) -> Result<u16, IoPortError> {
        self.check(port, 2)?;
        sel4_abi::ioport_in16(self.cap, port).map_err(|e| IoPortError::Kernel(e.0))
    }

    /// Writes 16 bits.
    pub fn out16(&self, port: u16, value: u16) -> Result<(), IoPortError> {
        self.check(port, 2)?;
        sel4_abi::ioport_out16(self.cap, port, value).map_err(|e| IoPortError::Kernel(e.0))
    }

    /// Reads 32 bits.
    pub fn in32(&self, port: u16) -> Result<u32, IoPortError> {
        self.check(port, 4)?;
        sel4_abi::ioport_in32(self.cap, port).map_err(|e| IoPortError::Kernel(e.0))
    }

    /// Writes 32 bits.
    pub fn out32(&self, port: u16, value: u32) -> Result<(), IoPortError> {
        self.check(port, 4)?;
        sel4_abi::ioport_out32(self.cap, port, value).map_err(|e| IoPortError::Kernel(e.0))
    }

    /// The same cap with no local range check, so that a test can watch the kernel refuse.
    #[doc(hidden)]
    pub fn unchecked_in8(&self, port: u16) -> Result<u8, IoPortError> {
        sel4_abi::ioport_in8(self.cap, port).map_err(|e| IoPortError::Kernel(e.0))
    }
}

/// The I/O port range `id` of this PD, if system.xml gives it one.
pub fn ioport(id: u32) -> Option<IoPort> {
    let [base, size] = *info().ioports.get(id as usize)?;
    (size != 0).then_some(IoPort { cap: layout::SLOT_IOPORT + id as u64, base, size })
}

/// Fills `buf` from the CPU's random number generator: RDRAND words (the Xeon D has it; QEMU's
/// `qemu64` model needs `+rdrand`), each XORed with an RDSEED word where the CPU has RDSEED
/// (the Xeon D does; QEMU with `+rdseed`). RDRAND is a generator reseeded from the entropy
/// source, RDSEED the conditioned entropy source itself: the XOR is as unpredictable as the
/// better of the two, so a flaw in RDRAND's generator alone does not make keys predictable.
/// Both may fail transiently (RDSEED often does under load): each word is retried a few times;
/// RDRAND failing fails the call, RDSEED failing leaves that word to RDRAND.
fn hw_random(buf: &mut [u8]) -> bool {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // CPUID leaf 1 exists on every x86_64 CPU; leaf 7 where leaf 0 says so.
    let has_rdrand = __cpuid(1).ecx & (1 << 30) != 0;
    let has_rdseed = __cpuid(0).eax >= 7 && __cpuid_count(7, 0).ebx & (1 << 18) != 0;
    if !has_rdrand {
        return false;
    }
    for chunk in buf.chunks_mut(8) {
        let mut word = 0u64;
        // SAFETY: CPUID said the CPU has RDRAND.
        let ok = (0..10).any(|_| unsafe { rdrand(&mut word) });
        if !ok {
            return false;
        }
        if has_rdseed {
            let mut seed = 0u64;
            // SAFETY: CPUID said the CPU has RDSEED.
            if (0..10).any(|_| unsafe { rdseed(&mut seed) }) {
                word ^= seed;
            }
        }
        chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
    }
    true
}

/// One RDRAND; true if the CPU delivered a random word.
///
/// # Safety
/// The CPU must support RDRAND (CPUID.1:ECX bit 30).
#[target_feature(enable = "rdrand")]
unsafe fn rdrand(word: &mut u64) -> bool {
    // The caller checked CPUID (this function's contract); the intrinsic writes only `word`.
    core::arch::x86_64::_rdrand64_step(word) == 1
}

/// One RDSEED; true if the CPU delivered a seed word.
///
/// # Safety
/// The CPU must support RDSEED (CPUID.(EAX=7,ECX=0):EBX bit 18).
#[target_feature(enable = "rdseed")]
unsafe fn rdseed(word: &mut u64) -> bool {
    // The caller checked CPUID (this function's contract); the intrinsic writes only `word`.
    core::arch::x86_64::_rdseed64_step(word) == 1
}

/// Prints a line without the PD-name prefix (for machine-readable `RESULT` lines).
pub fn print_line(args: core::fmt::Arguments<'_>) {
    let mut line = LineBuffer::new();
    let _ = line.write_fmt(args);
    send_line(line.as_bytes());
}

/// Hands one console line to the root task, which prints it whole (so lines of different PDs
/// never interleave) on COM1 and replies.
fn send_line(bytes: &[u8]) {
    sel4_abi::set_mr(0, bytes.len() as u64);
    for (i, chunk) in bytes.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        sel4_abi::set_mr(1 + i, u64::from_le_bytes(word));
    }
    let words = 1 + bytes.len().div_ceil(8) as u64;
    sel4_abi::call(layout::SLOT_FAULT, sel4_abi::MessageInfo::new(layout::LOG_LABEL, 0, 0, words));
}

/// Installs the platform, builds the handler and runs the event loop. Called by the code that
/// [`protection_domain!`] generates.
pub fn run<H: Handler>(init: impl FnOnce() -> H) -> ! {
    if info().magic != pd_info::MAGIC {
        // SAFETY: without its info page the PD cannot run; the fault reports it to the root task.
        unsafe { core::arch::asm!("ud2", options(noreturn)) }
    }
    // SAFETY: the root task mapped heap_bytes of fresh memory at HEAP_VADDR for this PD alone;
    // nothing has allocated yet (this is the runtime's first act) and this is the only init.
    unsafe { HEAP.init(layout::HEAP_VADDR as *mut u8, info().heap_bytes as usize) };
    pd_api::set_platform(&PLATFORM_REF);
    let restarts = RESTARTS.load(Ordering::Relaxed);
    if restarts > 0 {
        pd_api::log!("started again after a fault (restart {restarts}): fresh state, rings re-attaching");
    }
    let mut handler = init();
    let mut status = StatusPublisher::find();
    // Poll every device once now that it is armed (Handler::notified says why).
    if info().irq_channels != 0 {
        let irqs = ChannelSet::from_badge(info().irq_channels);
        if let Err(e) = handler.notified(irqs) {
            pd_api::log!("notified({:#x}) failed: {e}", irqs.badge());
        }
    }
    let mut reply: Option<sel4_abi::MessageInfo> = None;
    loop {
        if let Some(s) = status.as_mut() {
            s.maybe_publish(&handler);
        }
        let (msg, badge) = match reply.take() {
            Some(r) => sel4_abi::reply_recv(layout::SLOT_ENDPOINT, r),
            None => sel4_abi::recv(layout::SLOT_ENDPOINT),
        };
        count(&WAKEUPS);
        if badge & layout::PPCALL_BADGE_FLAG != 0 {
            let channel = Channel::new((badge & 0x3f) as usize);
            let request = MessageInfo::new(msg.label(), msg.length() as usize);
            let answer = handler.protected(channel, request).unwrap_or_else(|e| {
                pd_api::log!("protected call on {channel} failed: {e}");
                MessageInfo::new(u64::MAX, 0)
            });
            reply = Some(sel4_abi::MessageInfo::new(answer.label(), 0, 0, answer.count() as u64));
        } else {
            let channels = ChannelSet::from_badge(layout::channels_of_word(badge));
            if let Err(e) = handler.notified(channels) {
                pd_api::log!("notified({:#x}) failed: {e}", channels.badge());
            }
        }
    }
}

/// Republishes the PD's counters and status lines on its status page (a region mapped under
/// the name `status`, read by the serial PD's console), at most every [`STATUS_PERIOD_NS`]: the
/// check after each event is one TSC read, so a busy PD pays next to nothing for it.
struct StatusPublisher {
    writer: pd_console::status::StatusWriter,
    next_ns: u64,
}

/// Most text a status page carries: a 4 KiB page less its header (the serial PD reads no more).
const STATUS_TEXT_BYTES: usize = 4096 - 64;

/// Shortest time between two status publications.
pub const STATUS_PERIOD_NS: u64 = 200_000_000;

impl StatusPublisher {
    fn find() -> Option<Self> {
        let region = PLATFORM.memory_region("status")?;
        // SAFETY: the root task mapped the region for the PD's life, page-aligned. The serial
        // PD maps it read-only (the isolation check requires that of an observer); if
        // system.xml gave a second PD write access, that PD could only garble the text, which
        // the reader treats as untrusted and bounds-checks.
        match unsafe { pd_console::status::StatusWriter::new(region.base(), region.size()) } {
            Ok(writer) => Some(Self { writer, next_ns: 0 }),
            Err(e) => {
                pd_api::log!("status page not used: {e}");
                None
            }
        }
    }

    fn maybe_publish<H: Handler>(&mut self, handler: &H) {
        let now = PLATFORM.now_ns();
        if now < self.next_ns {
            return;
        }
        self.next_ns = now + STATUS_PERIOD_NS;
        // Formatted on the stack first, then copied: the page is marked as being updated only
        // for the copy (the serial PD, above most PDs in priority, can preempt a PD in the
        // middle of it).
        let text = &mut pd_console::status::StagedText::<STATUS_TEXT_BYTES>::new();
        handler.counters(&mut |name, value| {
            let _ = writeln!(text, "counter {name} {value}");
        });
        for (name, counter) in [("runtime_wakeups", &WAKEUPS), ("runtime_signals", &SIGNALS), ("runtime_irq_acks", &IRQ_ACKS)] {
            let _ = writeln!(text, "counter {name} {}", counter.load(Ordering::Relaxed));
        }
        // Under a bench kernel, the PD's CPU time so far (to its latest switch out; the kernel
        // entry that switches to a thread counts as that thread's): divided by packets, its
        // cost per packet on seL4.
        if let Some(cycles) = sel4_abi::thread_utilisation(layout::SLOT_OWN_TCB) {
            let _ = writeln!(text, "counter runtime_cpu_ns {}", u128::from(cycles) * 1000 / u128::from(info().tsc_mhz.max(1)));
        }
        handler.status(&mut |line| {
            let _ = writeln!(text, "status {line}");
        });
        self.writer.publish_text(now, text.as_str());
    }
}

/// A PD's handler, or the reason it did not start: a PD that refuses to start says why on the
/// console once and then ignores every event (the rest of the system keeps running).
pub enum Started<H> {
    /// The PD runs. Its handler lives on the heap: a NIC PD's holds its descriptor bookkeeping
    /// (kilobytes), which the 64 KiB stack would otherwise carry through every frame of start-up.
    Running(alloc::boxed::Box<H>),
    /// The PD refused to start, for this reason (shown by the console's `status`).
    Refused(alloc::string::String),
}

impl<H: Handler> Started<H> {
    /// Runs `init`; on success does the first pass that arms the PD's rings (as the host
    /// runtime does), prints `<what> ready`, and returns the handler; on failure logs
    /// `refusing to start: <why>`.
    pub fn start<E: core::fmt::Display>(what: &str, init: impl FnOnce() -> Result<H, E>) -> Self {
        match init().map(alloc::boxed::Box::new) {
            Ok(mut h) => {
                if let Err(e) = h.notified(ChannelSet::EMPTY) {
                    pd_api::log!("first pass: {e}");
                }
                pd_api::log!("{what} ready");
                Self::Running(h)
            }
            Err(e) => {
                pd_api::log!("refusing to start: {e}");
                Self::Refused(alloc::format!("{e}"))
            }
        }
    }
}

impl<H: Handler> Handler for Started<H> {
    type Error = H::Error;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        match self {
            Self::Running(h) => h.notified(channels),
            Self::Refused(_) => Ok(()),
        }
    }

    fn protected(&mut self, channel: pd_api::Channel, msg_info: pd_api::MessageInfo) -> Result<pd_api::MessageInfo, Self::Error> {
        match self {
            Self::Running(h) => h.protected(channel, msg_info),
            Self::Refused(_) => Ok(pd_api::MessageInfo::new(u64::MAX, 0)),
        }
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        if let Self::Running(h) = self {
            h.counters(report);
        }
    }

    fn status(&self, report: &mut dyn FnMut(core::fmt::Arguments<'_>)) {
        match self {
            Self::Running(h) => h.status(report),
            Self::Refused(why) => report(format_args!("refused to start: {why}")),
        }
    }
}

/// Declares the PD's entry: `protection_domain!(init)` with `fn init() -> impl Handler`.
#[macro_export]
macro_rules! protection_domain {
    ($init:path) => {
        #[no_mangle]
        fn __sel4_pd_main() -> ! {
            $crate::run($init)
        }
    };
}

#[panic_handler]
fn panic(panic: &core::panic::PanicInfo) -> ! {
    let mut line = LineBuffer::new();
    let _ = write!(line, "{}: PANIC: {}", pd_name(), panic);
    send_line(line.as_bytes());
    // Report to the root task like a fault; it never replies, so the PD stays blocked here.
    loop {
        sel4_abi::call(layout::SLOT_FAULT, sel4_abi::MessageInfo::new(layout::PANIC_LABEL, 0, 0, 0));
    }
}
