//! What the encryptor's seL4 PD binaries share: reading the configuration a region was
//! filled with at boot, and a handler that keeps a PD which refused to start alive but idle.
#![no_std]

extern crate alloc;

use core::fmt;
use encryptor_config::Config;
use pd_api::{ChannelSet, Handler};

/// The name (`setvar_vaddr`) under which every encryptor PD finds its configuration region.
pub const CONFIG_REGION: &str = "config";

/// Largest configuration file a region can hold (the region's size limits it further).
const MAX_CONFIG: usize = 64 * 1024;

/// Why a PD has no configuration.
#[derive(Debug)]
pub enum ConfigProblem {
    /// system.xml maps no `config` region into this PD.
    NoRegion,
    /// The region was not filled (its first byte is zero): no config module was given at boot,
    /// or the root task rejected it (and said why).
    Empty,
    /// The file is not UTF-8.
    NotText,
    /// The file does not parse; the error names the line and key.
    Invalid(encryptor_config::ConfigError),
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRegion => write!(f, "no memory region named {CONFIG_REGION:?} (system.xml)"),
            Self::Empty => write!(f, "no config: the config region is empty (the root task's memory_region line above says why)"),
            Self::NotText => write!(f, "the config region does not hold UTF-8 text"),
            Self::Invalid(e) => write!(f, "config: {e}"),
        }
    }
}

/// Parses the configuration file the root task copied into this PD's `config` region (the
/// file's bytes, then zeros up to the region's end).
pub fn read_config() -> Result<Config, ConfigProblem> {
    let region = pd_api::memory_region(CONFIG_REGION).ok_or(ConfigProblem::NoRegion)?;
    let len = region.size().min(MAX_CONFIG);
    let mut bytes = alloc_copy(region, len);
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    if end == 0 {
        return Err(ConfigProblem::Empty);
    }
    bytes.truncate(end);
    let text = core::str::from_utf8(&bytes).map_err(|_| ConfigProblem::NotText)?;
    Config::parse(text).map_err(ConfigProblem::Invalid)
}

/// Copies the first `len` bytes of a region into private memory.
fn alloc_copy(region: pd_api::MemoryRegion, len: usize) -> alloc::vec::Vec<u8> {
    let mut bytes = alloc::vec![0u8; len];
    // SAFETY: the region is mapped for the PD's whole life and is at least `len` bytes
    // (`len <= region.size()`); it is read once, byte-wise volatile, into private memory, so a
    // writer elsewhere cannot change what is parsed afterwards. The config region is read-only
    // for every PD, so nobody writes it anyway.
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = unsafe { region.base().as_ptr().add(i).read_volatile() };
    }
    bytes
}

/// A PD's handler, or the reason it did not start: a PD that refuses to start says why on the
/// console once and then ignores every event (the rest of the system keeps running).
pub enum Started<H> {
    /// The PD runs.
    Running(H),
    /// The PD refused to start, for this reason (shown by the console's `status`).
    Refused(alloc::string::String),
}

impl<H: Handler> Started<H> {
    /// Runs `init`; on success does the first pass that arms the PD's rings (as the host
    /// runtime does), prints `<what> ready`, and returns the handler; on failure logs
    /// `refusing to start: <why>`.
    pub fn start<E: fmt::Display>(what: &str, init: impl FnOnce() -> Result<H, E>) -> Self {
        match init() {
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
