//! The boot loader's modules after the root task's own (the encryptor's config file): the
//! kernel (platforms/sel4/kernel/patches/0004) copies them into the extra boot info, which it maps read-
//! write right after the boot info page, as `SEL4_BOOTINFO_HEADER_X86_BOOT_MODULE` chunks:
//!
//! | offset | field |
//! |---|---|
//! | 0 | header id, 8 bytes |
//! | 8 | header length (the whole chunk, word-aligned), 8 bytes |
//! | 16 | module number (1 = the first after the root task), 8 bytes |
//! | 24 | the module's size as loaded, 8 bytes |
//! | 32 | bytes that follow (the size, or 0 when the kernel could not take it), 8 bytes |
//! | 40 | the module's string from the boot loader, NUL-terminated |
//! | 40 + name bytes | the module's bytes |
//!
//! Every length is checked against the extra boot info's size: a bad chunk ends the walk.

use alloc::string::String;
use alloc::vec::Vec;
use sel4_abi::generated::cap::{seL4_X86_BootModuleNameBytes, SEL4_BOOTINFO_HEADER_X86_BOOT_MODULE};
use sel4_abi::BootInfo;

const PAGE: usize = 4096;
const HEADER_BYTES: usize = 40;
const NAME_BYTES: usize = seL4_X86_BootModuleNameBytes as usize;
/// What the kernel passes on at most, all modules together (patch 0004's buffer).
pub const KERNEL_LIMIT: usize = 256 * 1024;

/// One boot module.
pub struct BootModule {
    /// Its multiboot number: 1 is the first after the root task.
    pub index: u64,
    /// Its size as the boot loader loaded it.
    pub size: u64,
    /// Its name (GRUB: the `module` line's path and arguments; QEMU: the `-initrd` file).
    pub name: String,
    /// Where its bytes are in the extra boot info, or `None` when the kernel could not take
    /// them (larger than [`KERNEL_LIMIT`]).
    bytes: Option<(usize, usize)>,
}

/// The extra boot info and the modules found in it.
pub struct BootModules {
    base: *mut u8,
    len: usize,
    /// The modules, in the order the kernel wrote them.
    pub modules: Vec<BootModule>,
}

impl BootModules {
    /// Finds the modules in the extra boot info of `bi` (at `bi_addr`).
    pub fn find(bi: &BootInfo, bi_addr: usize) -> Self {
        let len = bi.extra_len as usize;
        let base = (bi_addr + PAGE) as *mut u8;
        let mut found = Self { base, len, modules: Vec::new() };
        let mut offset = 0;
        while offset + 16 <= len {
            let (id, chunk) = (found.word(offset), found.word(offset + 8) as usize);
            if chunk < 16 || chunk > len - offset {
                crate::println!("extra boot info: chunk at {offset:#x} has a bad length {chunk:#x}; ignoring the rest");
                break;
            }
            if id == SEL4_BOOTINFO_HEADER_X86_BOOT_MODULE && chunk >= HEADER_BYTES + NAME_BYTES {
                let copied = found.word(offset + 32) as usize;
                let data = offset + HEADER_BYTES + NAME_BYTES;
                let bytes = (copied <= chunk - HEADER_BYTES - NAME_BYTES).then_some((data, copied));
                let name_bytes = found.bytes(offset + HEADER_BYTES, NAME_BYTES);
                let name_len = name_bytes.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
                let name = String::from_utf8_lossy(&name_bytes[..name_len]).into_owned();
                let size = found.word(offset + 24);
                let bytes = bytes.filter(|&(_, n)| n as u64 == size);
                found.modules.push(BootModule { index: found.word(offset + 16), size, name, bytes });
            }
            offset += chunk;
        }
        found
    }

    /// The module with multiboot number `index`, if it was given.
    pub fn get(&self, index: u32) -> Option<&BootModule> {
        self.modules.iter().find(|m| m.index == index as u64)
    }

    /// The module's bytes, or `None` when the kernel did not pass them on.
    pub fn contents(&self, module: &BootModule) -> Option<Vec<u8>> {
        module.bytes.map(|(at, n)| self.bytes(at, n))
    }

    /// Zeroes every module's bytes (a config module holds keys; only the crypto PD's region
    /// keeps them once the regions are filled).
    pub fn clear(&mut self) {
        for m in &self.modules {
            if let Some((at, n)) = m.bytes {
                for i in at..at + n {
                    // SAFETY: at + n lies inside the extra boot info (checked in `find`), which
                    // the kernel mapped read-write for the root task; nothing else uses it.
                    unsafe { self.base.add(i).write_volatile(0) };
                }
            }
        }
    }

    fn bytes(&self, at: usize, n: usize) -> Vec<u8> {
        debug_assert!(at + n <= self.len);
        // SAFETY: callers stay inside [0, len) of the extra boot info (checked in `find`), which
        // the kernel mapped for the root task's whole life.
        (at..at + n).map(|i| unsafe { self.base.add(i).read_volatile() }).collect()
    }

    fn word(&self, at: usize) -> u64 {
        let b = self.bytes(at, 8);
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}
