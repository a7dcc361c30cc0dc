//! What each memory region starts with: a boot module (the encryptor's config file, so that one
//! image serves every encryptor), else the bytes built into the image (`fill`), and for the
//! stack PDs' regions (`fill_without_keys`) their source's contents with the keys taken out
//! (`encryptor_config::without_keys`, the same code the host tools use). Every region left
//! empty says why on the console; the PD reading it then refuses to start, and the rest of the
//! system runs.

use crate::boot_modules::{BootModules, KERNEL_LIMIT};
use crate::println;
use alloc::vec::Vec;
use sel4_system_spec::System;

/// The initial contents of every region (`None`: left zero), in region order.
pub fn initial_contents(system: &System, image: &[u8], modules: &BootModules) -> Vec<Option<Vec<u8>>> {
    let mut contents: Vec<Option<Vec<u8>>> = system.regions.iter().map(|r| primary(r, image, modules)).collect();
    for (k, region) in system.regions.iter().enumerate() {
        let Some(source) = region.without_keys_of else { continue };
        let source_name = &system.regions[source as usize].name;
        let derived = match &contents[source as usize] {
            None => {
                println!("memory_region {}: left empty ({source_name} has no contents)", region.name);
                None
            }
            Some(bytes) => match core::str::from_utf8(bytes) {
                Err(_) => {
                    println!("memory_region {}: left empty ({source_name} is not UTF-8 text)", region.name);
                    None
                }
                Ok(text) => {
                    let mut public = encryptor_config::without_keys(text).into_bytes();
                    // Sized for the whole file: give back what the keys took.
                    public.shrink_to_fit();
                    if public.len() as u64 > region.size {
                        println!("memory_region {}: left empty ({source_name} without its keys is {} bytes, the region {})", region.name, public.len(), region.size);
                        None
                    } else {
                        println!("memory_region {}: {} bytes, {source_name} without its keys", region.name, public.len());
                        Some(public)
                    }
                }
            },
        };
        contents[k] = derived;
    }
    let used = |index: u64| system.regions.iter().any(|r| r.boot_module.is_some_and(|m| m as u64 == index));
    for m in modules.modules.iter().filter(|m| !used(m.index)) {
        println!("boot module {} ('{}', {} bytes): no memory_region takes it (boot_module=\"{}\"); ignored", m.index, m.name, m.size, m.index);
    }
    contents
}

/// A region's own contents: its boot module, else its image fill.
fn primary(region: &sel4_system_spec::MemoryRegion, image: &[u8], modules: &BootModules) -> Option<Vec<u8>> {
    let name = &region.name;
    let built_in = region.fill.map(|(offset, len)| image[offset as usize..(offset + len) as usize].to_vec());
    let Some(index) = region.boot_module else {
        if let Some(bytes) = &built_in {
            println!("memory_region {name}: {} bytes of initial contents (built into the image)", bytes.len());
        }
        return built_in;
    };
    let Some(module) = modules.get(index) else {
        if let Some(bytes) = built_in {
            println!("memory_region {name}: no boot module {index}; {} bytes built into the image instead", bytes.len());
            return Some(bytes);
        }
        println!(
            "memory_region {name}: boot module {index} missing: left empty (GRUB: a second `module` line; QEMU: -initrd \"roottask,FILE\")"
        );
        return None;
    };
    let what = alloc::format!("boot module {index} ('{}', {} bytes)", module.name, module.size);
    let Some(bytes) = modules.contents(module) else {
        println!("memory_region {name}: {what} is larger than the {KERNEL_LIMIT} bytes the kernel passes on: left empty");
        return None;
    };
    if bytes.is_empty() {
        println!("memory_region {name}: {what} is empty: left empty");
        None
    } else if bytes.len() as u64 > region.size {
        println!("memory_region {name}: {what} is larger than the region ({} bytes): left empty", region.size);
        // It may hold keys: wipe the copy before its memory goes back to the heap.
        wipe(&mut [Some(bytes)]);
        None
    } else {
        println!("memory_region {name}: {} bytes from {what}", bytes.len());
        Some(bytes)
    }
}

/// Overwrites contents that may hold keys before their memory goes back to the heap.
pub fn wipe(contents: &mut [Option<Vec<u8>>]) {
    for bytes in contents.iter_mut().flatten() {
        bytes.fill(0);
        // Keeps the compiler from dropping the stores to memory about to be freed.
        core::hint::black_box(&bytes);
    }
}
