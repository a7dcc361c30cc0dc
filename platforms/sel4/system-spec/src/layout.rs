//! Where the root task puts things in every PD, and which CSpace slots hold which caps. The root
//! task and the PD runtime both use these; nothing else may depend on them.

/// Virtual address of the PD's IPC buffer.
pub const IPC_BUFFER_VADDR: u64 = 0x3fe0_0000;
/// Virtual address of the PD's read-only info page ([`crate::pd_info::PdInfo`]).
pub const INFO_VADDR: u64 = 0x3fe0_1000;
/// One past the top of the PD's stack; the page below the stack is left unmapped as a guard.
pub const STACK_TOP: u64 = 0x3ff0_0000;
/// Where the PD's heap starts (its size is in the info page): above every address system.xml
/// may give a region or a BAR, so a heap of any size fits.
pub const HEAP_VADDR: u64 = 0x100_0000_0000;
/// The largest heap the root task gives a PD (a config with more peers than fit is cut to it,
/// and crypto then refuses to start for want of heap, saying so). Each page costs the root task
/// two of its 65536 CNode slots (the mapping and the copy kept to zero it on a restart): 64 MiB
/// is half of them; crypto with 1024 peers gets some 24 MiB.
pub const MAX_HEAP_BYTES: u64 = 64 << 20;

/// log2 of the slot count of a PD's CNode.
pub const CNODE_BITS: u64 = 8;
/// The PD's endpoint, on which it receives protected calls and (bound) notifications.
pub const SLOT_ENDPOINT: u64 = 1;
/// The fault endpoint (badged with the PD index), named in the PD's TCB; the panic handler
/// reports through it too.
pub const SLOT_FAULT: u64 = 3;
/// Slot of the notification cap to the peer of channel `id`: `SLOT_NOTIFY + id`.
pub const SLOT_NOTIFY: u64 = 10;
/// Slot of the endpoint cap for protected calls on channel `id`: `SLOT_PPCALL + id`.
pub const SLOT_PPCALL: u64 = 80;
/// Slot of the IRQ handler cap of IRQ channel `id`: `SLOT_IRQ + id`.
pub const SLOT_IRQ: u64 = 150;
/// Slot of the I/O-port cap of range `id`: `SLOT_IOPORT + id`.
pub const SLOT_IOPORT: u64 = 220;
/// Highest I/O-port range id plus one.
pub const MAX_IOPORT_RANGES: u32 = 16;
/// The PD's own TCB, given only under a kernel that keeps each thread's CPU time (the bench
/// kernel) and used only to read that time (`runtime_cpu_ns` on its status page).
pub const SLOT_OWN_TCB: u64 = SLOT_IOPORT + MAX_IOPORT_RANGES as u64;
const _: () = assert!(SLOT_OWN_TCB < 1 << CNODE_BITS);
/// Highest channel id plus one.
pub const MAX_CHANNELS: u32 = 63;

/// seL4 5.0 endpoint badges are 28 bits wide: bit 27 marks a protected call, the low bits the
/// caller's channel id. Notification bit 27 is therefore never used for a channel.
pub const PPCALL_BADGE_FLAG: u64 = 1 << 27;

/// The notification-word bit that carries channel `id`.
pub const fn notify_bit(id: u32) -> u64 {
    if id < 27 {
        1 << id
    } else {
        1 << (id + 1)
    }
}

/// The channel on which the root task rings the console-log reader (the serial PD) after it
/// appends a line: no PD-to-PD channel of that PD may use this id (libraries/sdf checks).
pub const CONSOLE_LOG_CHANNEL: u32 = 62;

/// The channel-id set (bit = id) of a notification word.
pub const fn channels_of_word(word: u64) -> u64 {
    let low = word & ((1 << 27) - 1);
    let high = (word >> 28) << 27;
    low | high
}

/// The label of the message a panicking PD sends on its fault endpoint (no kernel fault label
/// is this large).
pub const PANIC_LABEL: u64 = 0x7a11;
/// The label of the message a PD sends on its fault endpoint to be restarted
/// (`pd_api::restart`): reported and handled as a fault.
pub const RESTART_LABEL: u64 = 0x7a13;
/// The label of a console line a PD sends on its fault endpoint (a call: the root task prints
/// the line whole and replies). MR0 is the length in bytes, MR1.. the bytes, 8 per register,
/// little-endian.
pub const LOG_LABEL: u64 = 0x7a12;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_has_a_distinct_bit_that_round_trips() {
        let mut all = 0u64;
        for id in 0..MAX_CHANNELS {
            let bit = notify_bit(id);
            assert_eq!(all & bit, 0);
            assert_eq!(bit & PPCALL_BADGE_FLAG, 0);
            all |= bit;
            assert_eq!(channels_of_word(bit), 1 << id);
        }
    }
}
