//! The protection-domain (PD) API.
//!
//! Every PD crate is written against this API and nothing else that is
//! platform-specific. Its shape follows rust-sel4's `sel4-microkit`: a PD is
//! a [`Handler`] that is told which [`Channel`]s were notified, it notifies its
//! peers with [`Channel::notify`], acknowledges interrupts with
//! [`Channel::irq_ack`], and reaches its shared memory by region name.
//!
//! Two platforms implement [`Platform`]: the seL4 PD runtime (one PD per
//! address space, so one global hook) and the Linux host runtime (one PD per
//! thread, so the hook is thread-local under the `std` feature).

#![cfg_attr(not(feature = "std"), no_std)]

use core::fmt;
use core::ptr::NonNull;

mod platform;
pub use platform::{set_platform, with_platform, Platform};

/// Highest channel index plus one: a [`ChannelSet`] is a 64-bit badge, one bit per channel.
pub const MAX_CHANNELS: usize = 63;

/// One end of a channel, as numbered by the `id` in `system.xml`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Channel(usize);

impl Channel {
    /// The channel with `id` from `system.xml`. Panics at compile time (in const
    /// context) or at start-up if `id` is out of range: ids are program constants.
    pub const fn new(id: usize) -> Self {
        assert!(id < MAX_CHANNELS);
        Self(id)
    }

    /// The channel's id.
    pub const fn index(self) -> usize {
        self.0
    }

    /// Signals the PD at the other end of this channel.
    pub fn notify(self) {
        with_platform(|p| p.notify(self))
    }

    /// Acknowledges the interrupt delivered on this channel so that the next one can arrive.
    pub fn irq_ack(self) {
        with_platform(|p| p.irq_ack(self))
    }

    /// Makes a protected procedure call to the PD at the other end (which must have a
    /// higher priority) and returns its reply.
    pub fn pp_call(self, msg_info: MessageInfo) -> MessageInfo {
        with_platform(|p| p.pp_call(self, msg_info))
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel {}", self.0)
    }
}

/// The set of channels delivered by one notification (the notification badge).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct ChannelSet(u64);

impl ChannelSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// A set from a raw badge.
    pub const fn from_badge(badge: u64) -> Self {
        Self(badge)
    }

    /// The raw badge.
    pub const fn badge(self) -> u64 {
        self.0
    }

    /// Whether `channel` is in the set.
    pub const fn contains(self, channel: Channel) -> bool {
        self.0 & (1 << channel.0) != 0
    }

    /// The set with `channel` added.
    pub const fn with(self, channel: Channel) -> Self {
        Self(self.0 | 1 << channel.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The channels in the set, lowest id first.
    pub fn iter(self) -> impl Iterator<Item = Channel> {
        let mut bits = self.0;
        core::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(Channel(i))
        })
    }
}

/// The header of a protected-call message: a label and a count of message registers.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct MessageInfo {
    label: u64,
    count: usize,
}

impl MessageInfo {
    /// A message with `label` and `count` message registers.
    pub const fn new(label: u64, count: usize) -> Self {
        Self { label, count }
    }

    /// The message label.
    pub const fn label(self) -> u64 {
        self.label
    }

    /// How many message registers the message carries.
    pub const fn count(self) -> usize {
        self.count
    }
}

/// Reads message register `i` of the current protected call.
pub fn get_mr(i: usize) -> u64 {
    with_platform(|p| p.get_mr(i))
}

/// Writes message register `i` for the next protected call or reply.
pub fn set_mr(i: usize, value: u64) {
    with_platform(|p| p.set_mr(i, value))
}

/// A shared-memory region mapped into this PD, found by the name `system.xml`
/// gives it (`setvar_vaddr`).
#[derive(Clone, Copy, Debug)]
pub struct MemoryRegion {
    base: NonNull<u8>,
    size: usize,
    phys_addr: Option<u64>,
}

// SAFETY: a region is plain shared memory; every access to it goes through the
// ring crate's atomics and volatile copies, which tolerate a concurrent peer.
unsafe impl Send for MemoryRegion {}
unsafe impl Sync for MemoryRegion {}

impl MemoryRegion {
    /// A region descriptor for `size` bytes at `base`.
    ///
    /// # Safety
    /// `base..base+size` must stay mapped for the life of the PD and must not
    /// be used as ordinary Rust references by anyone (it is shared memory).
    pub const unsafe fn new(base: NonNull<u8>, size: usize) -> Self {
        Self { base, size, phys_addr: None }
    }

    /// The same region, recorded as physically contiguous from `phys_addr` (what a driver
    /// programs into a device for DMA). Platforms without physical addresses never call this.
    pub const fn with_phys_addr(self, phys_addr: u64) -> Self {
        Self { phys_addr: Some(phys_addr), ..self }
    }

    /// The physical address of the first byte, if the platform knows it (seL4 DMA and device
    /// regions); `None` on the host runtime.
    pub const fn phys_addr(&self) -> Option<u64> {
        self.phys_addr
    }

    /// The first byte of the region.
    pub const fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// The region's size in bytes.
    pub const fn size(&self) -> usize {
        self.size
    }

    /// Copies `out.len()` bytes from `offset` into `out`; false (nothing copied) if they are
    /// not all inside the region. Another PD may be writing them: the copy is then of whatever
    /// bytes it read, which are this PD's own from here on.
    pub fn copy_out(&self, offset: usize, out: &mut [u8]) -> bool {
        if offset.checked_add(out.len()).is_none_or(|end| end > self.size) {
            return false;
        }
        // SAFETY: offset..offset+len is inside the mapped region (checked above; the mapping
        // lives as long as the PD); `out` is private memory that cannot overlap a shared region.
        unsafe { core::ptr::copy_nonoverlapping(self.base.as_ptr().add(offset), out.as_mut_ptr(), out.len()) };
        true
    }

    /// Copies `bytes` into the region at `offset`; false (nothing copied) if they do not all
    /// fit. The region must be mapped writable to this PD.
    pub fn copy_in(&self, offset: usize, bytes: &[u8]) -> bool {
        if offset.checked_add(bytes.len()).is_none_or(|end| end > self.size) {
            return false;
        }
        // SAFETY: as in copy_out; no Rust reference to shared memory exists to alias with.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.as_ptr().add(offset), bytes.len()) };
        true
    }
}

/// Looks up the memory region this PD maps under `name`.
pub fn memory_region(name: &str) -> Option<MemoryRegion> {
    with_platform(|p| p.memory_region(name))
}

/// Monotonic time since an arbitrary origin (boot), in nanoseconds.
pub fn now_ns() -> u64 {
    with_platform(|p| p.now_ns())
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn wall_clock_ns() -> u64 {
    with_platform(|p| p.wall_clock_ns())
}

/// Where the wall clock comes from (for the operator).
pub fn wall_clock_source() -> &'static str {
    with_platform(|p| p.wall_clock_source())
}

/// Fills `buf` with strong random bytes; false if the platform has no good source.
pub fn fill_random(buf: &mut [u8]) -> bool {
    with_platform(|p| p.fill_random(buf))
}

/// How often the platform started this PD again after a fault (0: this is its first start).
pub fn restarts() -> u32 {
    with_platform(|p| p.restarts())
}

/// The bytes of heap the platform gave this PD, if it bounds it (see `Platform::heap_bytes`).
pub fn heap_bytes() -> Option<usize> {
    with_platform(|p| p.heap_bytes())
}

/// Ends this PD so that the platform starts it afresh (see `Platform::restart`): for state it
/// cannot recover in place, never for bad input (that is a counted drop).
pub fn restart(why: fmt::Arguments<'_>) -> ! {
    with_platform(|p| p.restart(why));
    // Platform::restart does not return.
    unreachable!()
}

/// Writes a line to this PD's log (the console on seL4, stderr on the host).
pub fn log(args: fmt::Arguments<'_>) {
    with_platform(|p| p.log(args))
}

/// Logs a formatted line, prefixed with the PD's name by the platform.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => { $crate::log(format_args!($($arg)*)) };
}

/// What a PD does when events arrive. The platform calls these methods one at a
/// time from the PD's single thread of control; a PD never blocks inside them.
pub trait Handler {
    /// The error a handler method may return; the platform reports it by PD name
    /// and keeps the PD running.
    type Error: fmt::Display;

    /// Called with every channel that was notified since the last call (and every
    /// interrupt delivered on an IRQ channel). The PD drains its rings here.
    ///
    /// Right after `init`, the platform calls it once with all of the PD's IRQ
    /// channels, whether or not they fired: an interrupt raised before the PD ran
    /// may have been consumed before anyone listened (an edge, or an MSI), so a
    /// driver polls its device once after arming it. An IRQ channel in `channels`
    /// therefore means "look at the device", not "it interrupted".
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        let _ = channels;
        Ok(())
    }

    /// Called when the PD at the other end of `channel` makes a protected call.
    /// The returned message is the reply; message registers are read with
    /// [`get_mr`] and written with [`set_mr`].
    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        let _ = (channel, msg_info);
        Ok(MessageInfo::new(u64::MAX, 0))
    }

    /// Reports the PD's counters (packets, drops by reason) as name/value pairs,
    /// for the operator console and the host runtime's exit report.
    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        let _ = report;
    }

    /// Reports the PD's state for the operator console's `status` command, one line per call
    /// (crypto: one line per peer, as `wg show` gives). Most PDs have nothing to add to their
    /// counters and keep this default.
    fn status(&self, report: &mut dyn FnMut(fmt::Arguments<'_>)) {
        let _ = report;
    }
}

/// Declares a struct of `u64` counters with a `report` method that feeds
/// [`Handler::counters`]: one place names each counter.
///
/// ```
/// pd_api::counters! {
///     /// Counters of an example PD.
///     pub struct Counters { rx_frames, drop_bad_frame }
/// }
/// let mut c = Counters::default();
/// c.rx_frames += 1;
/// let mut seen = Vec::new();
/// c.report(&mut |name, v| seen.push((name.to_string(), v)));
/// assert_eq!(seen[0], ("rx_frames".to_string(), 1));
/// ```
#[macro_export]
macro_rules! counters {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($(#[$fm:meta])* $field:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Default, Clone, Debug)]
        $vis struct $name { $($(#[$fm])* pub $field: u64),* }

        impl $name {
            /// Reports every counter by name.
            pub fn report(&self, report: &mut dyn FnMut(&str, u64)) {
                $(report(stringify!($field), self.$field);)*
            }
        }
    };
}
