//! Console output of the root task through the debug kernel's putchar.

use core::fmt::Write as _;
use sel4_abi::freestanding::LineBuffer;

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
    l.flush();
}

/// Reports an error the root task cannot recover from, ends QEMU if the isa-debug-exit device
/// is there (status 3), and halts.
pub fn fatal(args: core::fmt::Arguments<'_>) -> ! {
    line(format_args!("root: FATAL: {args}"));
    line(format_args!("SYSTEM fatal"));
    let _ = sel4_abi::ioport_out32(sel4_abi::init_cap::seL4_CapIOPort, crate::system::DEBUG_EXIT_PORT, 1);
    sel4_abi::debug_halt()
}
