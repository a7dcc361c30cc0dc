//! The contract between a NIC driver, the platform under it and the NIC PD above it.
//!
//! - [`Nic`]: what every driver crate under `drivers/` implements: batched
//!   receive and transmit of [`Buffer`]s, link state, MAC address, counters and
//!   interrupt causes.
//! - [`Hal`]: what the platform implements for the driver: register access to
//!   the mapped BAR (normally through [`Mmio`]), DMA memory ([`DmaRegion`]),
//!   interrupt acknowledge, delay and a monotonic clock.
//!
//! Buffers are owned by the caller and only *lent* to the driver: for receive the
//! caller posts empty buffers and gets them back filled; for transmit it submits
//! filled buffers and gets them back once the device has read them. A buffer is
//! named by its physical address (for the device) and an offset chosen by the
//! caller (for the caller), so a buffer may be a slot of a PD ring's data region
//! and frames move between ring and NIC without a copy.
//!
//! No function here allocates; drivers size their rings with const generics.

#![no_std]
#![warn(missing_docs)]

pub mod advanced;
mod hal;
pub mod intel;
pub mod pci;
pub mod queue;
pub mod ring;

pub use hal::{poll_until, DmaRegion, Hal, Mmio};

/// Largest frame, without FCS, the drivers send or accept: Ethernet 1514 plus one VLAN tag.
pub const MAX_FRAME_LEN: usize = 1518;

/// Shortest frame, without FCS, on the wire; the NIC pads shorter transmit frames.
pub const MIN_FRAME_LEN: usize = 60;

/// A DMA buffer lent to a driver.
///
/// `phys` is what the device is told; `offset` is the caller's own name for the
/// buffer (normally its offset in the DMA region or ring data region) and is
/// handed back unchanged; the driver never dereferences either. `len` is the
/// buffer's capacity when posted for receive, the frame length when returned
/// from receive, and the frame length when submitted for transmit.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Buffer {
    /// Physical (bus) address of the first byte.
    pub phys: u64,
    /// The caller's handle for the buffer, returned unchanged.
    pub offset: u32,
    /// Capacity (receive post) or frame length (receive result, transmit).
    pub len: u32,
}

/// Link state as the MAC reports it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct LinkState {
    /// Whether the link is up.
    pub up: bool,
    /// Negotiated speed in Mbit/s (0 when down or unknown).
    pub speed_mbps: u32,
    /// Full duplex (10GbE is always full duplex).
    pub full_duplex: bool,
}

/// What an interrupt (or a poll of the cause register) reported.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Interrupts {
    /// Frames were received (or the receive timer fired).
    pub rx: bool,
    /// Transmit descriptors were written back.
    pub tx: bool,
    /// The link changed state; read [`Nic::link`].
    pub link: bool,
    /// The receive ring ran out of descriptors or the receive FIFO overflowed.
    pub rx_overrun: bool,
    /// The descriptor count between head and tail fell below the device's threshold.
    pub rx_low: bool,
}

impl Interrupts {
    /// Whether any cause was reported.
    pub fn any(&self) -> bool {
        self.rx || self.tx || self.link || self.rx_overrun || self.rx_low
    }
}

/// Software counters kept by the driver and hardware statistics accumulated from
/// the device's clear-on-read registers.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Counters {
    /// Frames returned by [`Nic::rx_poll`].
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames the device marked bad (CRC, symbol, length errors); their buffers were re-posted.
    pub rx_errors: u64,
    /// Frames that spanned more than one buffer (too long); their buffers were re-posted.
    pub rx_oversize: u64,
    /// Frames queued by [`Nic::tx_submit`].
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Transmit buffers the device finished with, returned by [`Nic::tx_reclaim`].
    pub tx_completed: u64,
    /// Hardware: good frames received (GPRC).
    pub hw_rx_good_frames: u64,
    /// Hardware: good octets received (GORC).
    pub hw_rx_good_bytes: u64,
    /// Hardware: good frames transmitted (GPTC).
    pub hw_tx_good_frames: u64,
    /// Hardware: good octets transmitted (GOTC).
    pub hw_tx_good_bytes: u64,
    /// Hardware: frames missed for lack of receive descriptors or FIFO space (MPC).
    pub hw_rx_missed: u64,
    /// Hardware: times a frame arrived with no receive descriptor available (RNBC; e1000 only).
    pub hw_rx_no_buffer: u64,
    /// Hardware: frames received with a CRC error (CRCERRS).
    pub hw_crc_errors: u64,
    /// Fault causes the device raised that the driver cannot recover from in place (i40e: an
    /// ECC error, malicious driver detection, a global reset, a PCI exception, an HMC error);
    /// after a global reset the port stays down until the driver is brought up again.
    pub device_faults: u64,
}

impl Counters {
    /// Reports every counter by name (the shape of `pd_api::Handler::counters`).
    pub fn report(&self, report: &mut dyn FnMut(&str, u64)) {
        let all: [(&str, u64); 15] = [
            ("rx_frames", self.rx_frames),
            ("rx_bytes", self.rx_bytes),
            ("rx_errors", self.rx_errors),
            ("rx_oversize", self.rx_oversize),
            ("tx_frames", self.tx_frames),
            ("tx_bytes", self.tx_bytes),
            ("tx_completed", self.tx_completed),
            ("hw_rx_good_frames", self.hw_rx_good_frames),
            ("hw_rx_good_bytes", self.hw_rx_good_bytes),
            ("hw_tx_good_frames", self.hw_tx_good_frames),
            ("hw_tx_good_bytes", self.hw_tx_good_bytes),
            ("hw_rx_missed", self.hw_rx_missed),
            ("hw_rx_no_buffer", self.hw_rx_no_buffer),
            ("hw_crc_errors", self.hw_crc_errors),
            ("device_faults", self.device_faults),
        ];
        for (name, value) in all {
            report(name, value);
        }
    }
}

/// How to bring a device up (every driver takes the same).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// PCI device id (vendor 8086), from the platform's PCI inventory.
    pub device_id: u16,
    /// Station address to program into the receive address registers; `None` keeps the one the
    /// device loaded from its EEPROM (or NVM).
    pub mac: Option<[u8; 6]>,
    /// Accept every unicast and multicast frame.
    pub promiscuous: bool,
    /// Accept every multicast frame: IPv6 neighbour discovery reaches the stack at its
    /// solicited-node groups, which the driver is not told, so the stack filters instead.
    pub all_multicast: bool,
    /// Minimum time between interrupts in microseconds (interrupt moderation); 0 = none.
    pub interrupt_interval_us: u32,
    /// How the platform delivers the device's interrupt.
    pub interrupt: InterruptMode,
}

impl Config {
    /// The device `device_id` with its own MAC, unicast filtering, all multicast, no interrupt
    /// moderation, one interrupt line (INTx or MSI).
    pub const fn new(device_id: u16) -> Self {
        Self {
            device_id,
            mac: None,
            promiscuous: false,
            all_multicast: true,
            interrupt_interval_us: 0,
            interrupt: InterruptMode::Line,
        }
    }
}

/// How the platform set up the device's interrupt (in PCI configuration space, which the
/// platform owns): the driver programs the device's side to match.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InterruptMode {
    /// One interrupt for every cause, INTx or MSI: causes are read from the legacy cause register.
    Line,
    /// MSI-X with table entry 0 programmed and unmasked: the driver routes every cause to vector 0.
    MsiX,
}

/// Why a driver could not bring its device up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InitError {
    /// CTRL.RST did not self-clear in time.
    ResetTimeout,
    /// The EEPROM auto-read (which loads the MAC address) did not finish.
    EepromTimeout,
    /// The receive DMA engine did not report its initialisation done.
    DmaInitTimeout,
    /// A queue did not report itself enabled.
    QueueEnableTimeout,
    /// The HAL could not provide DMA memory for the descriptor rings.
    DmaAlloc,
    /// The HAL gave DMA memory that is too small or misaligned.
    DmaLayout,
    /// Neither the device nor the configuration provides a MAC address.
    NoMacAddress,
    /// The PCI device id is not one this driver supports.
    UnsupportedDevice(u16),
    /// The driver cannot use the interrupt mode the platform set up.
    UnsupportedInterruptMode,
    /// The PHY did not answer on the MDIO bus, or its semaphore was never free.
    PhyAccess,
    /// The device's firmware did not report itself ready after reset.
    FirmwareNotReady,
    /// The firmware did not complete the admin command with this opcode in time.
    AdminQueueTimeout(u16),
    /// The firmware refused the admin command `opcode` with return code `retval`.
    FirmwareError {
        /// The command's opcode.
        opcode: u16,
        /// The firmware's return code (the datasheet's admin queue error codes).
        retval: u16,
    },
    /// The firmware speaks an admin queue API major version this driver does not.
    FirmwareApiVersion(u16),
    /// The device reported a value outside what its datasheet allows (named).
    Implausible(&'static str),
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ResetTimeout => f.write_str("device reset did not complete"),
            Self::EepromTimeout => f.write_str("EEPROM auto-read did not complete"),
            Self::DmaInitTimeout => f.write_str("receive DMA initialisation did not complete"),
            Self::QueueEnableTimeout => f.write_str("queue enable was not acknowledged"),
            Self::DmaAlloc => f.write_str("no DMA memory for descriptor rings"),
            Self::DmaLayout => f.write_str("DMA memory too small or misaligned"),
            Self::NoMacAddress => f.write_str("no MAC address"),
            Self::UnsupportedDevice(id) => write!(f, "unsupported PCI device id {id:#06x}"),
            Self::UnsupportedInterruptMode => f.write_str("the driver cannot use this interrupt mode"),
            Self::PhyAccess => f.write_str("no access to the PHY"),
            Self::FirmwareNotReady => f.write_str("firmware not ready after reset"),
            Self::AdminQueueTimeout(op) => write!(f, "firmware did not answer admin command {op:#06x}"),
            Self::FirmwareError { opcode, retval } => {
                write!(f, "firmware refused admin command {opcode:#06x} with error {retval}")
            }
            Self::FirmwareApiVersion(major) => write!(f, "unsupported firmware API version {major}"),
            Self::Implausible(what) => write!(f, "the device reported an impossible {what}"),
        }
    }
}

/// A NIC driver: one receive and one transmit queue, buffers lent by the caller.
///
/// Every method is non-blocking and allocation-free. Batches are slices; a
/// method reports how many entries it handled, and the rest stay the caller's.
pub trait Nic {
    /// The station MAC address (RAL0/RAH0).
    fn mac_address(&self) -> [u8; 6];

    /// The current link state, read from the device.
    fn link(&mut self) -> LinkState;

    /// The capacity every receive buffer must have (the device writes up to this many bytes).
    fn rx_buffer_size(&self) -> usize;

    /// How many more receive buffers the ring can take now.
    fn rx_room(&self) -> usize;

    /// Posts empty buffers to the device for receive, in order, and returns how
    /// many were taken from the front of `buffers`. It stops at the first buffer
    /// that does not fit the ring or whose `len` is below [`Nic::rx_buffer_size`].
    fn rx_post(&mut self, buffers: &[Buffer]) -> usize;

    /// Moves received frames into `out` (buffer with `len` = frame length, FCS
    /// stripped) in arrival order and returns how many. Frames the device marked
    /// bad are counted and their buffers re-posted, never returned.
    fn rx_poll(&mut self, out: &mut [Buffer]) -> usize;

    /// How many more frames the transmit ring can take now; 0 is backpressure.
    fn tx_room(&self) -> usize;

    /// The shortest frame [`Nic::tx_submit`] takes (17 bytes on the X722, which stops a queue
    /// given a shorter one; 1 elsewhere: the devices pad to 60 bytes). A caller batching frames
    /// it does not control drops shorter ones first: submit stops at one, refusing the rest.
    fn tx_min_len(&self) -> usize {
        1
    }

    /// Queues filled buffers for transmit, in order, and returns how many were
    /// taken from the front of `frames`. It stops at the first frame that does
    /// not fit the ring (backpressure) or whose length is 0, below the device's
    /// minimum (17 bytes on the X722) or above [`MAX_FRAME_LEN`]. A queued buffer must not be touched until
    /// [`Nic::tx_reclaim`] returns it.
    fn tx_submit(&mut self, frames: &[Buffer]) -> usize;

    /// Moves buffers the device has finished sending into `out`, in submit
    /// order, and returns how many.
    fn tx_reclaim(&mut self, out: &mut [Buffer]) -> usize;

    /// Reads and clears the device's interrupt causes, then acknowledges the
    /// interrupt to the platform so the next one can be delivered.
    fn handle_interrupt(&mut self) -> Interrupts;

    /// Unmasks (true) or masks (false) the device's interrupt causes.
    fn set_interrupts(&mut self, enabled: bool);

    /// Why the device needs a new bring-up (its driver's init, after a reset) before it can
    /// work again, if it does: seen in [`Nic::handle_interrupt`] (a reset, registers reading all
    /// ones) or while reading the link after it (i40e: its firmware no longer answering), and the
    /// NIC PD then asks to be restarted. Most devices never say so.
    fn needs_bring_up(&self) -> Option<&'static str> {
        None
    }

    /// Accumulates the device's statistics registers (clear-on-read) into the
    /// totals and returns them with the software counters.
    fn counters(&mut self) -> Counters;
}
