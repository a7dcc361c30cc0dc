//! The hook through which the PD API reaches the platform that runs the PD.

use crate::{Channel, MemoryRegion, MessageInfo};
use core::fmt;

/// What a platform provides to the PD it runs. The seL4 PD runtime implements
/// it with system calls; the host runtime with eventfds and shared mappings.
pub trait Platform: Sync {
    /// This PD's name from `system.xml`.
    fn pd_name(&self) -> &str;
    /// Signals the other end of `channel`.
    fn notify(&self, channel: Channel);
    /// Acknowledges the interrupt of an IRQ channel.
    fn irq_ack(&self, channel: Channel);
    /// A protected procedure call over `channel`.
    fn pp_call(&self, channel: Channel, msg_info: MessageInfo) -> MessageInfo;
    /// Message register `i` of the current call.
    fn get_mr(&self, i: usize) -> u64;
    /// Sets message register `i`.
    fn set_mr(&self, i: usize, value: u64);
    /// The region mapped under `name`, if any.
    fn memory_region(&self, name: &str) -> Option<MemoryRegion>;
    /// Monotonic nanoseconds.
    fn now_ns(&self) -> u64;
    /// Wall-clock nanoseconds since the Unix epoch (WireGuard's TAI64N handshake
    /// timestamps must keep increasing across reboots).
    fn wall_clock_ns(&self) -> u64;
    /// Where the wall clock comes from, for the operator (e.g. "the CMOS RTC, read at boot").
    fn wall_clock_source(&self) -> &'static str {
        "unknown"
    }
    /// Fills `buf` from a cryptographically strong source; false if the platform
    /// has none (the caller must then refuse to make keys).
    fn fill_random(&self, buf: &mut [u8]) -> bool;
    /// One log line.
    fn log(&self, args: fmt::Arguments<'_>);
    /// How often this PD was started again after a fault (0 on its first start). A restarted
    /// PD has fresh memory but finds its shared regions as its previous life left them: its
    /// rings re-attach (pd-ring's rejoin protocol) instead of trusting those indices.
    fn restarts(&self) -> u32 {
        0
    }
    /// The bytes of heap this PD was given, if the platform bounds it (seL4: system.xml's
    /// `heap_size`, grown with the config's peers where the system says so); `None` on the host.
    fn heap_bytes(&self) -> Option<usize> {
        None
    }
    /// Ends this PD so that the platform starts it afresh, for a PD that found state it cannot
    /// recover in place (a device that needs a new bring-up): on seL4 the root task reports it
    /// like a fault (`kind=restart-requested`) and restarts the PD as it restarts a faulted one.
    /// The host runtime ends the whole process with `why`; platforms that do not restart PDs
    /// (the test kit) panic with it.
    fn restart(&self, why: fmt::Arguments<'_>) -> ! {
        panic!("{}: restart requested: {why}", self.pd_name())
    }
}

#[cfg(feature = "std")]
mod hook {
    use super::Platform;
    use std::cell::Cell;

    std::thread_local! {
        static PLATFORM: Cell<Option<&'static dyn Platform>> = const { Cell::new(None) };
    }

    /// Installs the platform for the PD running on this thread.
    pub fn set_platform(platform: &'static dyn Platform) {
        PLATFORM.with(|p| p.set(Some(platform)));
    }

    pub(crate) fn get() -> Option<&'static dyn Platform> {
        PLATFORM.with(|p| p.get())
    }
}

#[cfg(not(feature = "std"))]
mod hook {
    use super::Platform;
    use core::sync::atomic::{AtomicPtr, Ordering};

    // A thin pointer to a static fat reference: one PD per address space.
    static PLATFORM: AtomicPtr<&'static dyn Platform> = AtomicPtr::new(core::ptr::null_mut());

    /// Installs the platform for this PD (once, before its handler runs).
    pub fn set_platform(platform: &'static &'static dyn Platform) {
        PLATFORM.store(platform as *const _ as *mut _, Ordering::Release);
    }

    pub(crate) fn get() -> Option<&'static dyn Platform> {
        let p = PLATFORM.load(Ordering::Acquire);
        // SAFETY: the pointer is null or was made from a `&'static &'static dyn Platform`.
        unsafe { p.as_ref().copied() }
    }
}

pub use hook::set_platform;

/// Runs `f` with this PD's platform. Calling the PD API before the platform is
/// installed is a bug of the platform, not of the PD: it panics with that message.
pub fn with_platform<R>(f: impl FnOnce(&'static dyn Platform) -> R) -> R {
    match hook::get() {
        Some(p) => f(p),
        None => panic!("pd-api used before the platform installed itself"),
    }
}
