//! The console: COM1 (0x3F8, 115200 8N1) driven by the root task through its I/O-port cap, for
//! its own lines and for the lines PDs send it. The root task is the only writer of the UART
//! (the debug kernel prints there too, but only on kernel errors), so lines never interleave, and
//! it works on a release kernel, which has no DebugPutChar.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, Ordering};
use sel4_abi::freestanding::LineBuffer;
use sel4_abi::init_cap::seL4_CapIOPort;

const COM1: u16 = 0x3f8;
const LINE_STATUS: u16 = COM1 + 5;
/// Line status: transmit holding register empty.
const THR_EMPTY: u8 = 1 << 5;

static READY: AtomicBool = AtomicBool::new(false);

/// Programs COM1 for 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on, no interrupts.
fn init() {
    let io = seL4_CapIOPort;
    let setup = [(1, 0x00), (3, 0x80), (0, 0x01), (1, 0x00), (3, 0x03), (2, 0xc7), (4, 0x03)];
    for (offset, value) in setup {
        let _ = sel4_abi::ioport_out8(io, COM1 + offset, value);
    }
    READY.store(true, Ordering::Relaxed);
}

/// Writes bytes to COM1, LF as CR LF.
pub fn write_bytes(bytes: &[u8]) {
    if !READY.load(Ordering::Relaxed) {
        init();
    }
    for &b in bytes {
        if b == b'\n' {
            put(b'\r');
        }
        put(b);
    }
}

fn put(b: u8) {
    // Bounded wait: a UART that never drains must not stop the system.
    for _ in 0..100_000 {
        if sel4_abi::ioport_in8(seL4_CapIOPort, LINE_STATUS).map_or(true, |s| s & THR_EMPTY != 0) {
            break;
        }
    }
    let _ = sel4_abi::ioport_out8(seL4_CapIOPort, COM1, b);
}

/// Prints one line prefixed with `root: `.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => { $crate::console::line(format_args!("root: {}", format_args!($($arg)*))) };
}

/// Prints one line as given (machine-readable lines: `PCI`, `FAULT`, `RESULT`, `SYSTEM`).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::console::line(format_args!($($arg)*)) };
}

/// Prints one formatted line.
pub fn line(args: core::fmt::Arguments<'_>) {
    let mut l = LineBuffer::new();
    let _ = l.write_fmt(args);
    write_bytes(l.as_bytes());
    write_bytes(b"\n");
}

/// Reports an error the root task cannot recover from, ends QEMU if the isa-debug-exit device
/// is there (status 3), and stops.
pub fn fatal(args: core::fmt::Arguments<'_>) -> ! {
    line(format_args!("root: FATAL: {args}"));
    line(format_args!("SYSTEM fatal"));
    let _ = sel4_abi::ioport_out32(seL4_CapIOPort, crate::system::DEBUG_EXIT_PORT, 1);
    loop {
        // Nothing left to do; wait on a cap nobody signals (the null slot faults harmlessly
        // into a kernel error, so spin on yield instead).
        sel4_abi::yield_now();
    }
}
