//! A test platform for PD crates.
//!
//! A test builds the PD under test inside a [`TestPd`] (which installs itself as
//! the thread's platform), gives it rings with [`TestPd::link`], and plays the
//! neighbouring PDs through the returned [`FarEnd`]s: what it sends there the PD
//! receives, and what the PD sends comes out there. Time is set by the test.

pub mod frames;

use pd_api::{Channel, MemoryRegion, MessageInfo, Platform};
use pd_ring::{Layout, Receiver, Sender, SLOT_SIZE};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Zeroed, 64-byte-aligned memory standing in for a shared region (leaked: tests are short).
fn region(bytes: usize) -> MemoryRegion {
    let words: &'static mut [u64] = Box::leak(vec![0u64; bytes / 8 + 8].into_boxed_slice());
    let p = words.as_mut_ptr() as usize;
    let aligned = (p + 63) & !63;
    // SAFETY: aligned..aligned+bytes lies inside the leaked allocation, which lives forever.
    unsafe { MemoryRegion::new(NonNull::new(aligned as *mut u8).unwrap(), bytes) }
}

/// A test's hook on the PD's notifications (see [`on_notify`]).
type NotifyHook = Box<dyn FnMut(usize)>;

thread_local! {
    /// What runs whenever the PD on this thread notifies a channel (see [`on_notify`]).
    static ON_NOTIFY: RefCell<Option<NotifyHook>> = const { RefCell::new(None) };
}

/// Runs `hook` with the channel's index each time the PD on this thread notifies one, until
/// [`clear_notify_hook`]: a test's way to act as the neighbours would while the PD is inside
/// one `notified` call. A PD signals its peers between draining its inputs and arming them, so
/// a hook that refills an input there keeps the PD's loop going, as sustained load from PDs on
/// other cores does. (The neighbour's end must ask for signals: `rx.request_signal()`.)
pub fn on_notify(hook: impl FnMut(usize) + 'static) {
    ON_NOTIFY.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
}

/// Removes the hook [`on_notify`] set (from outside a hook: inside one it is put back after).
pub fn clear_notify_hook() {
    ON_NOTIFY.with(|h| *h.borrow_mut() = None);
}

/// The PD under test's platform.
pub struct TestPd {
    name: String,
    regions: Mutex<HashMap<String, MemoryRegion>>,
    notified: Mutex<Vec<usize>>,
    now: AtomicU64,
    wall: AtomicU64,
}

/// `TestPd::wall` when the test has not set the wall clock.
const REAL_WALL_CLOCK: u64 = u64::MAX;

impl TestPd {
    /// A platform for PD `name`, installed on this thread.
    pub fn new(name: &str) -> &'static Self {
        let pd: &'static Self = Box::leak(Box::new(Self {
            name: name.into(),
            regions: Mutex::new(HashMap::new()),
            notified: Mutex::new(Vec::new()),
            now: AtomicU64::new(1_000_000_000),
            wall: AtomicU64::new(REAL_WALL_CLOCK),
        }));
        pd.enter();
        pd
    }

    /// Makes this the thread's platform again (when a test drives two PDs).
    pub fn enter(&'static self) {
        pd_api::set_platform(self);
    }

    /// Gives the PD a link called `name` with `slots` slots per direction and
    /// returns the neighbour's end of it.
    pub fn link(&self, name: &str, slots: u32) -> FarEnd {
        let layout = Layout::new(slots);
        let (tx_data, tx_ctl) = (region(layout.data_bytes()), region(layout.ctl_bytes()));
        let (rx_data, rx_ctl) = (region(layout.data_bytes()), region(layout.ctl_bytes()));
        let mut r = self.regions.lock().unwrap();
        r.insert(format!("{name}_tx_data"), tx_data);
        r.insert(format!("{name}_tx_ctl"), tx_ctl);
        r.insert(format!("{name}_rx_data"), rx_data);
        r.insert(format!("{name}_rx_ctl"), rx_ctl);
        FarEnd {
            // What the PD sends (its tx) we receive, and the other way round.
            rx: Receiver::new(tx_data, tx_ctl).unwrap(),
            tx: Sender::new(rx_data, rx_ctl).unwrap(),
            ctl: [tx_ctl, rx_ctl],
            data: [tx_data, rx_data],
        }
    }

    /// As [`TestPd::link`], over data regions the test provides (e.g. DMA memory with a
    /// physical address, for a NIC PD that lends ring slots to its device); the control
    /// regions are made here. Each data region must fit a ring layout.
    pub fn link_over(&self, name: &str, tx_data: MemoryRegion, rx_data: MemoryRegion) -> FarEnd {
        let slots = (tx_data.size() / SLOT_SIZE) as u32;
        let layout = Layout::new(slots);
        let (tx_ctl, rx_ctl) = (region(layout.ctl_bytes()), region(layout.ctl_bytes()));
        let mut r = self.regions.lock().unwrap();
        r.insert(format!("{name}_tx_data"), tx_data);
        r.insert(format!("{name}_tx_ctl"), tx_ctl);
        r.insert(format!("{name}_rx_data"), rx_data);
        r.insert(format!("{name}_rx_ctl"), rx_ctl);
        FarEnd {
            rx: Receiver::new(tx_data, tx_ctl).unwrap(),
            tx: Sender::new(rx_data, rx_ctl).unwrap(),
            ctl: [tx_ctl, rx_ctl],
            data: [tx_data, rx_data],
        }
    }

    /// Joins link `name` of this PD to link `peer_name` of PD `peer` with shared
    /// rings, as `system.xml` would: what one sends, the other receives.
    pub fn connect(&self, name: &str, peer: &TestPd, peer_name: &str, slots: u32) {
        let layout = Layout::new(slots);
        let (ab_data, ab_ctl) = (region(layout.data_bytes()), region(layout.ctl_bytes()));
        let (ba_data, ba_ctl) = (region(layout.data_bytes()), region(layout.ctl_bytes()));
        let mut r = self.regions.lock().unwrap();
        r.insert(format!("{name}_tx_data"), ab_data);
        r.insert(format!("{name}_tx_ctl"), ab_ctl);
        r.insert(format!("{name}_rx_data"), ba_data);
        r.insert(format!("{name}_rx_ctl"), ba_ctl);
        let mut p = peer.regions.lock().unwrap();
        p.insert(format!("{peer_name}_tx_data"), ba_data);
        p.insert(format!("{peer_name}_tx_ctl"), ba_ctl);
        p.insert(format!("{peer_name}_rx_data"), ab_data);
        p.insert(format!("{peer_name}_rx_ctl"), ab_ctl);
    }

    /// Gives the PD a zeroed region of `bytes` under `name` (e.g. a port or status page the test
    /// plays the other PD of) and returns it.
    pub fn region(&self, name: &str, bytes: usize) -> MemoryRegion {
        let mr = region(bytes);
        self.regions.lock().unwrap().insert(name.into(), mr);
        mr
    }

    /// Maps `region` (another PD's, say) into this PD under `name`, as system.xml maps one
    /// region into several PDs.
    pub fn map(&self, name: &str, region: MemoryRegion) {
        self.regions.lock().unwrap().insert(name.into(), region);
    }

    /// The region this PD maps under `name`.
    pub fn mapped(&self, name: &str) -> Option<MemoryRegion> {
        self.regions.lock().unwrap().get(name).copied()
    }

    /// Sets the monotonic clock.
    pub fn set_now_ns(&self, ns: u64) {
        self.now.store(ns, Ordering::Relaxed);
    }

    /// Sets the wall clock (nanoseconds since 1970) to `ns` from now on, or back to real time with
    /// `None`.
    pub fn set_wall_clock_ns(&self, ns: Option<u64>) {
        self.wall.store(ns.unwrap_or(REAL_WALL_CLOCK), Ordering::Relaxed);
    }

    /// Advances the monotonic clock.
    pub fn advance_ns(&self, ns: u64) {
        self.now.fetch_add(ns, Ordering::Relaxed);
    }

    /// Channels the PD notified since the last call.
    pub fn take_notifications(&self) -> Vec<usize> {
        std::mem::take(&mut self.notified.lock().unwrap())
    }
}

impl Platform for TestPd {
    fn pd_name(&self) -> &str {
        &self.name
    }
    fn notify(&self, channel: Channel) {
        self.notified.lock().unwrap().push(channel.index());
        // Taken out while it runs: a hook cannot recurse into itself.
        if let Some(mut hook) = ON_NOTIFY.with(|h| h.borrow_mut().take()) {
            hook(channel.index());
            ON_NOTIFY.with(|h| {
                let mut slot = h.borrow_mut();
                if slot.is_none() {
                    *slot = Some(hook);
                }
            });
        }
    }
    fn irq_ack(&self, _channel: Channel) {}
    fn pp_call(&self, _channel: Channel, _msg_info: MessageInfo) -> MessageInfo {
        MessageInfo::new(u64::MAX, 0)
    }
    fn get_mr(&self, _i: usize) -> u64 {
        0
    }
    fn set_mr(&self, _i: usize, _value: u64) {}
    fn memory_region(&self, name: &str) -> Option<MemoryRegion> {
        self.regions.lock().unwrap().get(name).copied()
    }
    fn now_ns(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
    fn wall_clock_ns(&self) -> u64 {
        match self.wall.load(Ordering::Relaxed) {
            // Tests see real wall time unless they set it: TAI64N timestamps must increase
            // between runs too.
            REAL_WALL_CLOCK => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64),
            set => set,
        }
    }
    fn wall_clock_source(&self) -> &'static str {
        "the test's clock"
    }
    fn fill_random(&self, buf: &mut [u8]) -> bool {
        // Tests need unpredictable keys as much as the product does.
        std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, buf)).is_ok()
    }
    fn log(&self, args: fmt::Arguments<'_>) {
        eprintln!("[{}] {}", self.name, args);
    }
}

/// The neighbour's end of one of the PD's links.
pub struct FarEnd {
    /// Sends to the PD.
    pub tx: Sender,
    /// Receives what the PD sent.
    pub rx: Receiver,
    /// The two control regions (what the PD sends, what it receives), for tests
    /// that corrupt queues.
    pub ctl: [MemoryRegion; 2],
    /// The two data regions (what the PD sends, what it receives), for tests that watch what a
    /// neighbour could read there.
    pub data: [MemoryRegion; 2],
}

impl FarEnd {
    /// Sends one buffer to the PD (panics if the ring is full: a test bug).
    pub fn send(&mut self, bytes: &[u8]) {
        assert!(self.tx.send(bytes).unwrap(), "ring to the PD is full");
    }

    /// Everything the PD has sent, oldest first.
    pub fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; SLOT_SIZE];
        while let Some(n) = self.rx.recv(&mut buf).unwrap() {
            out.push(buf[..n].to_vec());
        }
        out
    }

    /// What the PD has sent, oldest first, up to the first slot that does not read (a ring the
    /// test has corrupted) and at most 64 messages.
    pub fn drain_until_error(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; SLOT_SIZE];
        while out.len() < 64 {
            match self.rx.recv(&mut buf) {
                Ok(Some(n)) => out.push(buf[..n].to_vec()),
                _ => break,
            }
        }
        out
    }
}

/// Watches every ring slot of a region from another thread, as a PD mapping it would read it,
/// for 16 marker bytes at one offset into the slots (plaintext where a sealed message's payload
/// would lie, say). [`SlotWatcher::finish`] says how often it saw them.
pub struct SlotWatcher {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl SlotWatcher {
    /// Starts watching `region` for `marker` at `at` bytes into each slot.
    pub fn start(region: MemoryRegion, at: usize, marker: [u8; 16]) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (base, len) = (region.base().as_ptr() as usize, region.size());
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = 0;
                let mut window = [0u8; 16];
                while !stop.load(Ordering::Relaxed) {
                    for slot in (0..len).step_by(SLOT_SIZE) {
                        for (i, byte) in window.iter_mut().enumerate() {
                            // SAFETY: slot + at + 16 lies inside the region (at + 16 <= SLOT_SIZE,
                            // asserted below), which the test's PDs keep mapped (leaked) while this
                            // runs; a volatile read of memory others write is what a PD mapping
                            // the region does (it may see any mix of old and new bytes).
                            *byte = unsafe { ((base + slot + at + i) as *const u8).read_volatile() };
                        }
                        if window == marker {
                            seen += 1;
                        }
                    }
                }
                seen
            })
        };
        assert!(at + 16 <= SLOT_SIZE, "the marker lies inside a slot");
        Self { stop, thread }
    }

    /// Stops watching: how many times the marker was seen.
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}
