//! The config file as a platform hands it to a PD: the file's bytes at the start of the PD's
//! memory region named [`CONFIG_REGION`], then zeros. On seL4 the root task fills the region
//! from a boot module (crypto: the whole file; the stack PDs: [`without_keys`](crate::without_keys)
//! of it); the host runtime fills it from `--config` the same way.

use crate::{Config, ConfigError};
use alloc::vec::Vec;
use core::fmt;

/// The name (`setvar_vaddr`) under which every encryptor PD finds its configuration region.
pub const CONFIG_REGION: &str = "config";

/// Why a PD has no configuration.
#[derive(Debug)]
pub enum ConfigProblem {
    /// system.xml maps no `config` region into this PD.
    NoRegion,
    /// The region was not filled (its first byte is zero): no config was given at boot, or the
    /// platform rejected it (and said why).
    Empty,
    /// The file is not UTF-8.
    NotText,
    /// A NUL byte inside the file, at this offset (the file would end there for this PD).
    NulInside(usize),
    /// The file does not parse; the error names the line and key.
    Invalid(ConfigError),
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRegion => write!(f, "no memory region named {CONFIG_REGION:?} (system.xml)"),
            Self::Empty => write!(f, "no config: the config region is empty (the platform's memory_region line above says why)"),
            Self::NotText => write!(f, "the config region does not hold UTF-8 text"),
            Self::NulInside(at) => write!(f, "the config holds a NUL byte at offset {at}, text after it: not reading half a file"),
            Self::Invalid(e) => write!(f, "config: {e}"),
        }
    }
}

/// Why a PD did not start: its configuration, or what the PD made of it.
#[derive(Debug)]
pub enum StartError<E> {
    /// The config region.
    Config(ConfigProblem),
    /// The PD's own start-up (its rings, its randomness...).
    Init(E),
}

impl<E: fmt::Display> fmt::Display for StartError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(p) => p.fmt(f),
            Self::Init(e) => e.fmt(f),
        }
    }
}

/// Parses the configuration file in this PD's `config` region.
pub fn read_config() -> Result<Config, ConfigProblem> {
    let region = pd_api::memory_region(CONFIG_REGION).ok_or(ConfigProblem::NoRegion)?;
    parse_region(region)
}

/// Parses the configuration file at the start of `region`.
pub fn parse_region(region: pd_api::MemoryRegion) -> Result<Config, ConfigProblem> {
    // SAFETY (both loops): the region is mapped for the PD's whole life and is `region.size()`
    // bytes; it is read byte-wise volatile. The config region is read-only for every PD, so
    // nobody writes it between the two reads; were it written, the copy stops at its first
    // zero or at `len`, whichever comes first, and what is parsed is the private copy.
    // The file's length first: the heap gets the text, not the region (256 KiB for 1024 peers,
    // most of the heap of a crypto PD with a few).
    let base = region.base().as_ptr();
    let len = (0..region.size()).find(|&i| unsafe { base.add(i).read_volatile() } == 0).unwrap_or(region.size());
    let mut bytes = Vec::with_capacity(len);
    for i in 0..len {
        let b = unsafe { base.add(i).read_volatile() };
        if b == 0 {
            break;
        }
        bytes.push(b);
    }
    if bytes.is_empty() {
        return Err(ConfigProblem::Empty);
    }
    // The platform fills the region with the file, then zeros: a byte after the first zero is a
    // NUL inside the file (a damaged file), whose end this PD must not guess.
    if (len..region.size()).any(|i| unsafe { base.add(i).read_volatile() } != 0) {
        return Err(ConfigProblem::NulInside(len));
    }
    let text = core::str::from_utf8(&bytes).map_err(|_| ConfigProblem::NotText)?;
    Config::parse(text).map_err(ConfigProblem::Invalid)
}
