//! Makes a debug system call: DebugPutChar as `debug_putchar`, DebugHalt as `debug_halt` (its PD
//! name says which). On the release kernel neither exists: the kernel must answer with a fault
//! (the root task reports it) and the rest of the system run on. The numbers are a debug
//! kernel's (build/sel4/kernel/gen; tests/sel4/test_sel4_boot.py checks them against it): a
//! release kernel has no constants for calls it does not have.
#![no_std]
#![no_main]

use pd_api::Handler;

const SYS_DEBUG_PUT_CHAR: i64 = -9;
const SYS_DEBUG_HALT: i64 = -10;

struct DebugCaller;

impl Handler for DebugCaller {
    type Error = &'static str;
}

fn init() -> DebugCaller {
    let (what, number) = match sel4_pd_runtime::pd_name() {
        "debug_halt" => ("DebugHalt", SYS_DEBUG_HALT),
        _ => ("DebugPutChar", SYS_DEBUG_PUT_CHAR),
    };
    pd_api::log!("calling {what} ({number})");
    sel4_abi::syscall_number(number);
    pd_api::log!("{what} returned: the kernel has the debug calls");
    DebugCaller
}

sel4_pd_runtime::protection_domain!(init);
