//! Uses the I/O ports system.xml gives it (COM2's eight registers) and checks that the kernel
//! refuses a port outside them (COM1's scratch register, which the console uses).
#![no_std]
#![no_main]

use pd_api::Handler;
use sel4_pd_runtime::IoPortError;
use sel4_test_pds::result;

/// UART scratch register offset: any value written reads back.
const SCRATCH: u16 = 7;
const COM1: u16 = 0x3f8;

struct PortProbe;

impl Handler for PortProbe {
    type Error = &'static str;
}

fn init() -> PortProbe {
    let com2 = sel4_pd_runtime::ioport(0).expect("ioport 0 not given");
    let port = com2.base() + SCRATCH;
    let echoed = com2.out8(port, 0x5a).and_then(|_| com2.in8(port));
    result!("ioport", "{}", if echoed == Ok(0x5a) { "ok" } else { "fail" });
    let local = com2.in8(COM1 + SCRATCH);
    let kernel = com2.unchecked_in8(COM1 + SCRATCH);
    let refused = local == Err(IoPortError::OutOfRange) && matches!(kernel, Err(IoPortError::Kernel(_)));
    result!("ioport_outside_refused", "{}", if refused { "ok" } else { "fail" });
    PortProbe
}

sel4_pd_runtime::protection_domain!(init);
