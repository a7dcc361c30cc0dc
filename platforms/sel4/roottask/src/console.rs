//! The console: COM1 (0x3F8, 115200 8N1) driven by the root task through its I/O-port cap, for
//! its own lines and for the lines PDs send it, until the serial PD runs. The root task is the
//! only writer of the UART (the debug kernel prints there too, but only on kernel errors), so
//! lines never interleave, and it works on a release kernel, which has no DebugPutChar.
//!
//! When system.xml has a console log (`<memory_region console="true">`), the root task hands the
//! UART over: from [`attach_log`] on, every line goes into that ring, tagged with its source,
//! and the serial PD drains it to COM1 (and reads operator commands). If the serial PD faults,
//! the root task takes the UART back and prints what was left unread ([`reader_faulted`]); when
//! the serial PD is restarted, the root task hands the UART over again on a fresh log
//! ([`reader_restarted`]).

use core::cell::UnsafeCell;
use core::fmt::Write as _;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use pd_console::log::{LogReader, LogWriter, Source, TooSmall, MAX_LINE};
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
fn write_bytes(bytes: &[u8]) {
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
    emit(Source::Root, l.as_bytes());
}

/// Prints one line straight to COM1, never through the console log: for the idle watcher, a
/// second root-task thread at the lowest priority. If it took the log's lock it could be
/// preempted holding it, and the fault-serving thread would then find the lock taken. It prints
/// only when every PD, the serial PD included, is blocked.
pub fn line_direct(args: core::fmt::Arguments<'_>) {
    let mut l = LineBuffer::new();
    let _ = l.write_fmt(args);
    write_bytes(l.as_bytes());
    write_bytes(b"\n");
}

/// The console log once the UART is handed over.
struct LogSink {
    writer: LogWriter,
    base: NonNull<u8>,
    len: usize,
    /// Index of the PD that drains it (the serial PD).
    reader_pd: usize,
}

/// A console log whose reader faulted: kept to hand the UART over again if the reader restarts.
struct Parked {
    base: NonNull<u8>,
    len: usize,
    reader_pd: usize,
    doorbell: u64,
}

/// The sink, used only by the fault-serving thread (the idle watcher prints with
/// [`line_direct`]). The lock is a try-lock all the same: a thread that found it taken must not
/// spin against a lower-priority holder; it would write the UART directly instead.
struct SinkCell {
    busy: AtomicBool,
    sink: UnsafeCell<Option<LogSink>>,
    parked: UnsafeCell<Option<Parked>>,
}

// SAFETY: `sink` and `parked` are only reached while `busy` is held (see `with_sink`).
unsafe impl Sync for SinkCell {}

static SINK: SinkCell = SinkCell { busy: AtomicBool::new(false), sink: UnsafeCell::new(None), parked: UnsafeCell::new(None) };

/// The root task's cap to signal the console log's reader (0: none yet).
static DOORBELL: AtomicU64 = AtomicU64::new(0);

/// Sets the cap (a badged copy of the reader's notification) signalled after each line.
pub fn set_doorbell(cap: u64) {
    DOORBELL.store(cap, Ordering::Relaxed);
}

/// The PD that drains the console log, if the UART was handed over.
pub fn reader_pd() -> Option<usize> {
    with_sink(|sink| sink.as_ref().map(|s| s.reader_pd)).flatten()
}

fn with_sink<R>(f: impl FnOnce(&mut Option<LogSink>) -> R) -> Option<R> {
    with_console(|sink, _| f(sink))
}

fn with_console<R>(f: impl FnOnce(&mut Option<LogSink>, &mut Option<Parked>) -> R) -> Option<R> {
    if SINK.busy.swap(true, Ordering::Acquire) {
        return None;
    }
    // SAFETY: `busy` was false and is now ours: no other reference to the cells exists.
    let r = f(unsafe { &mut *SINK.sink.get() }, unsafe { &mut *SINK.parked.get() });
    SINK.busy.store(false, Ordering::Release);
    Some(r)
}

/// Sends one line to the console log if the UART was handed over, else to COM1.
pub fn emit(source: Source, bytes: &[u8]) {
    let logged = with_sink(|sink| match sink {
        // A full log counts the line as dropped; the serial PD reports the count.
        Some(s) => {
            s.writer.push(source, bytes);
            true
        }
        None => false,
    });
    if logged == Some(true) {
        let doorbell = DOORBELL.load(Ordering::Relaxed);
        if doorbell != 0 {
            sel4_abi::signal(doorbell);
        }
    } else {
        write_bytes(bytes);
        write_bytes(b"\n");
    }
}

/// Hands the UART to the PD `reader_pd`, which drains the console log at `base` (`len` bytes,
/// mapped into the root task for good).
///
/// # Safety
/// `base..base+len` stays mapped in the root task, 8-byte aligned, and is shared only with
/// `reader_pd`, which has not started yet.
pub unsafe fn attach_log(base: NonNull<u8>, len: usize, reader_pd: usize) -> Result<(), TooSmall> {
    // SAFETY: the caller's contract.
    let writer = unsafe { LogWriter::init(base, len) }?;
    with_sink(|sink| *sink = Some(LogSink { writer, base, len, reader_pd }));
    Ok(())
}

/// The PD `pd` faulted: if it was the console's reader, take the UART back and print what it
/// left unread, so the fault report and everything after it still reach the operator.
pub fn reader_faulted(pd: usize) {
    let taken = with_sink(|sink| if sink.as_ref().is_some_and(|s| s.reader_pd == pd) { sink.take() } else { None });
    if let Some(Some(s)) = taken {
        let doorbell = DOORBELL.swap(0, Ordering::Relaxed);
        let parked = Parked { base: s.base, len: s.len, reader_pd: s.reader_pd, doorbell };
        flush(s);
        with_console(|_, p| *p = Some(parked));
        line(format_args!("root: console: the serial PD stopped; COM1 is back with the root task (no operator console)"));
    }
}

/// The PD `pd` is about to start again: if it is the console's reader that faulted, hand it the
/// UART again on a fresh log (what the old one held was printed at the fault).
pub fn reader_restarted(pd: usize) {
    let parked = with_console(|_, p| if p.as_ref().is_some_and(|x| x.reader_pd == pd) { p.take() } else { None }).flatten();
    let Some(p) = parked else { return };
    line(format_args!("root: console: the serial PD starts again; COM1 goes back to it"));
    // SAFETY: the same region attach_log was given (mapped in the root task for good, shared only
    // with the reader), and the reader is stopped until the caller starts it.
    match unsafe { LogWriter::init(p.base, p.len) } {
        Ok(writer) => {
            with_sink(|sink| *sink = Some(LogSink { writer, base: p.base, len: p.len, reader_pd: p.reader_pd }));
            DOORBELL.store(p.doorbell, Ordering::Relaxed);
        }
        Err(_) => line(format_args!("root: console: the log no longer fits its region; COM1 stays with the root task")),
    }
}

/// Takes the UART back for good (fatal errors), printing what the log still holds.
fn detach() {
    if let Some(Some(s)) = with_sink(|sink| sink.take()) {
        DOORBELL.store(0, Ordering::Relaxed);
        flush(s);
    }
}

fn flush(s: LogSink) {
    // SAFETY: the same region the writer used; the reader PD is stopped (faulted) or the system
    // is ending, so the root task is the only user left.
    let Ok(mut reader) = (unsafe { LogReader::attach(s.base, s.len) }) else { return };
    let mut buf = [0u8; MAX_LINE];
    // At most what the ring can hold; a corrupt ring ends the loop through its error.
    for _ in 0..s.len {
        match reader.pop(&mut buf) {
            Ok(Some(l)) => {
                write_bytes(&buf[..l.len]);
                write_bytes(b"\n");
            }
            _ => break,
        }
    }
    let dropped = reader.dropped();
    if dropped > 0 {
        line(format_args!("root: {dropped} console lines were dropped (console log full)"));
    }
}

/// Reports an error the root task cannot recover from, ends QEMU if the isa-debug-exit device
/// is there (status 3), and stops.
pub fn fatal(args: core::fmt::Arguments<'_>) -> ! {
    detach();
    line(format_args!("root: FATAL: {args}"));
    line(format_args!("SYSTEM fatal"));
    let _ = sel4_abi::ioport_out32(seL4_CapIOPort, crate::system::DEBUG_EXIT_PORT, 1);
    loop {
        // Nothing left to do; wait on a cap nobody signals (the null slot faults harmlessly
        // into a kernel error, so spin on yield instead).
        sel4_abi::yield_now();
    }
}
