//! The serial PD: owns COM1 (a 16550 UART, ports 0x3F8–0x3FF, ISA IRQ 4) once the system runs.
//!
//! - It drains the console log, the ring into which the root task puts every console line (its
//!   own, fault reports, every PD's log lines), to the UART, so one PD writes the line.
//! - It is the operator console on the same line: `help`, `status` (each PD's state, and per
//!   peer the endpoint, latest handshake and transfer, as `wg show` gives), `counters` (each
//!   PD's packets and drops by reason).
//!
//! It learns the PDs' counters from their status pages (`status:<pd>` regions), which it maps
//! read-only, and a PD's fault from the root task's `FAULT` lines in the console log (only lines
//! whose source is the root task count: a PD cannot fake another's fault by logging the text).
//! It has no channel to any red or black PD and writes no memory they read: information flows
//! into it only, which is what lets it observe both sides (support/sdf's isolation rule).
//!
//! Output is interrupt-driven: the UART's transmit-empty interrupt refills its 16-byte FIFO, so
//! the PD never busy-waits on the line, and its work per event is bounded; the timer tick
//! (every 100 ms) polls the UART in case an edge was missed, and the root task's doorbell
//! (channel 62) says a line is waiting.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use pd_api::{Channel, ChannelSet, Handler};
use pd_console::log::{LogReader, Source, MAX_LINE};
use pd_console::status::{StatusError, StatusReader};
use sel4_pd_runtime::IoPort;

/// The UART's interrupt (system.xml `<irq pin="4" id="10" trigger="edge"/>`).
const UART_IRQ: Channel = Channel::new(10);
/// The timer PD's tick.
const TIMER: Channel = Channel::new(0);
/// The root task's doorbell: a line was appended to the console log.
const CONSOLE_LOG: Channel = Channel::new(sel4_system_spec::layout::CONSOLE_LOG_CHANNEL as usize);

// 16550 registers (offsets from the base port) and bits, named as in the datasheet.
const RBR_THR: u16 = 0;
const IER: u16 = 1;
const IIR: u16 = 2;
const MCR: u16 = 4;
const LSR: u16 = 5;
const IER_ERBFI: u8 = 1 << 0;
const IER_ETBEI: u8 = 1 << 1;
const IIR_NO_INTERRUPT: u8 = 1 << 0;
const MCR_DTR_RTS_OUT2: u8 = 0x0b;
const LSR_DR: u8 = 1 << 0;
const LSR_THRE: u8 = 1 << 5;
const TX_FIFO: usize = 16;

/// Largest amount of output held for the UART; whole lines beyond it are dropped and counted.
const OUT_LIMIT: usize = 64 * 1024;
/// Longest command line.
const INPUT_LIMIT: usize = 128;
/// Bound on interrupt causes served per event (a stuck UART must not hold the CPU).
const MAX_IIR_ROUNDS: usize = 64;
/// Bound on input bytes taken per event.
const MAX_INPUT_BYTES: usize = 256;

pd_api::counters! {
    /// The serial PD's own counters (shown by `counters` as PD `serial`).
    struct Counters {
        ticks,
        doorbells,
        log_lines,
        log_errors,
        out_lines_dropped,
        input_bytes,
        input_overflows,
        commands,
        unknown_commands,
    }
}

/// One PD's status page.
struct Page {
    pd: String,
    reader: StatusReader,
}

struct Serial {
    uart: IoPort,
    log: Option<LogReader>,
    pages: Vec<Page>,
    faults: Vec<(String, String)>,
    out: VecDeque<u8>,
    input: Vec<u8>,
    line: Vec<u8>,
    ier: u8,
    c: Counters,
}

impl Serial {
    fn port(&self, offset: u16) -> u16 {
        self.uart.base() + offset
    }

    fn read(&self, offset: u16) -> u8 {
        // A refused port read looks like "nothing there": no data, transmitter busy.
        self.uart.in8(self.port(offset)).unwrap_or(0)
    }

    fn write(&self, offset: u16, value: u8) {
        let _ = self.uart.out8(self.port(offset), value);
    }

    /// Queues one line of output (CR LF ended), or counts it dropped if the queue is full.
    fn say(&mut self, args: core::fmt::Arguments<'_>) {
        self.line.clear();
        let mut text = LineText(&mut self.line);
        let _ = text.write_fmt(args);
        self.queue_line();
    }

    fn queue_line(&mut self) {
        if self.out.len() + self.line.len() + 2 > OUT_LIMIT {
            self.c.out_lines_dropped += 1;
            return;
        }
        self.out.extend(self.line.iter().copied());
        self.out.extend(*b"\r\n");
    }

    /// Moves the console log's lines to the output queue; notes the root task's fault reports.
    fn drain_log(&mut self) {
        let Some(mut log) = self.log.take() else { return };
        let mut buf = [0u8; MAX_LINE];
        // Bounded per event: the rest waits for the next tick or transmit interrupt.
        for _ in 0..256 {
            match log.pop(&mut buf) {
                Ok(Some(l)) => {
                    self.c.log_lines += 1;
                    let text = &buf[..l.len];
                    if l.source == Source::Root {
                        self.note_fault(text);
                    }
                    self.line.clear();
                    self.line.extend_from_slice(text);
                    self.queue_line();
                }
                Ok(None) => break,
                Err(e) => {
                    self.c.log_errors += 1;
                    self.say(format_args!("serial: console log: {e}"));
                }
            }
        }
        self.log = Some(log);
    }

    /// `FAULT pd=<name> kind=<kind> ...` from the root task.
    fn note_fault(&mut self, text: &[u8]) {
        let Ok(text) = core::str::from_utf8(text) else { return };
        let Some(rest) = text.strip_prefix("FAULT pd=") else { return };
        let mut words = rest.split(' ');
        let pd = words.next().unwrap_or("");
        let kind = words.find_map(|w| w.strip_prefix("kind=")).unwrap_or("unknown");
        if !self.faults.iter().any(|(p, _)| p == pd) {
            self.faults.push((String::from(pd), String::from(kind)));
        }
    }

    /// Takes received bytes: echo, line editing, and a command per line.
    fn take_input(&mut self) {
        for _ in 0..MAX_INPUT_BYTES {
            if self.read(LSR) & LSR_DR == 0 {
                break;
            }
            let b = self.read(RBR_THR);
            self.c.input_bytes += 1;
            match b {
                b'\r' | b'\n' => {
                    self.echo(b"\r\n");
                    if !self.input.is_empty() {
                        let line = core::mem::take(&mut self.input);
                        self.command(&line);
                    }
                }
                // Backspace and DEL erase one character.
                0x08 | 0x7f => {
                    if self.input.pop().is_some() {
                        self.echo(b"\x08 \x08");
                    }
                }
                0x20..=0x7e if self.input.len() < INPUT_LIMIT => {
                    self.input.push(b);
                    self.echo(&[b]);
                }
                0x20..=0x7e => self.c.input_overflows += 1,
                _ => {}
            }
        }
    }

    /// Echoes typed input, within the same bound as all output (a stalled line must not make
    /// the queue grow without end while input keeps coming).
    fn echo(&mut self, bytes: &[u8]) {
        if self.out.len() + bytes.len() <= OUT_LIMIT {
            self.out.extend(bytes.iter().copied());
        }
    }

    fn command(&mut self, line: &[u8]) {
        self.c.commands += 1;
        let text = core::str::from_utf8(line).unwrap_or("");
        match text.trim() {
            "help" => {
                self.say(format_args!("commands:"));
                self.say(format_args!("  status    each PD's state; per peer: endpoint, latest handshake, transfer"));
                self.say(format_args!("  counters  each PD's counters: packets, drops by reason (<pd> <counter> <value>)"));
                self.say(format_args!("  counters PD   one PD's counters (a name from status, or serial)"));
                self.say(format_args!("  drops     every drop counter that is not zero"));
                self.say(format_args!("  help      this list"));
            }
            "status" => self.status(),
            "counters" => self.counters(),
            "drops" => self.drops(),
            other if other.starts_with("counters ") => self.counters_of(other["counters ".len()..].trim()),
            other => {
                self.c.unknown_commands += 1;
                let shown: String = other.chars().take(32).collect();
                self.say(format_args!("unknown command {shown:?}; try help"));
            }
        }
    }

    /// Copies PD `i`'s latest snapshot into `buf`: its length and age in ms, or why there is
    /// none.
    fn snapshot(&self, i: usize, buf: &mut [u8]) -> Result<(usize, u64), StatusError> {
        let s = self.pages[i].reader.read(buf)?;
        let age_ms = pd_api::now_ns().saturating_sub(s.published_ns) / 1_000_000;
        Ok((s.len, age_ms))
    }

    fn status(&mut self) {
        let mut buf = alloc::vec![0u8; 4096];
        for i in 0..self.pages.len() {
            let pd = self.pages[i].pd.clone();
            if let Some((_, kind)) = self.faults.iter().find(|(p, _)| *p == pd) {
                let kind = kind.clone();
                self.say(format_args!("pd {pd} FAULTED ({kind})"));
                continue;
            }
            match self.snapshot(i, &mut buf) {
                Ok((len, age_ms)) => {
                    self.say(format_args!("pd {pd} running (status {age_ms} ms old)"));
                    let text = core::str::from_utf8(&buf[..len]).unwrap_or("");
                    for line in text.lines().filter_map(|l| l.strip_prefix("status ")) {
                        self.say(format_args!("{pd} {line}"));
                    }
                }
                Err(e) => self.say(format_args!("pd {pd} running? (status page: {e})")),
            }
        }
        let unlisted: Vec<_> = self.faults.iter().filter(|(p, _)| !self.pages.iter().any(|g| g.pd == *p)).cloned().collect();
        for (pd, kind) in unlisted {
            self.say(format_args!("pd {pd} FAULTED ({kind})"));
        }
    }

    /// Every PD's `(pd, counter, value)`, the serial PD's own last; a PD without a readable
    /// snapshot gives `(pd, why, None)`.
    fn all_counters(&self) -> Vec<(String, String, Option<u64>)> {
        let mut buf = alloc::vec![0u8; 4096];
        let mut all = Vec::new();
        for i in 0..self.pages.len() {
            let pd = &self.pages[i].pd;
            match self.snapshot(i, &mut buf) {
                Ok((len, _)) => {
                    let text = core::str::from_utf8(&buf[..len]).unwrap_or("");
                    for line in text.lines().filter_map(|l| l.strip_prefix("counter ")) {
                        let (name, value) = line.split_once(' ').unwrap_or((line, ""));
                        all.push((pd.clone(), String::from(name), value.parse().ok()));
                    }
                }
                Err(e) => all.push((pd.clone(), alloc::format!("(no counters: {e})"), None)),
            }
        }
        let log_dropped = self.log.as_ref().map_or(0, |l| l.dropped());
        all.push((String::from("serial"), String::from("console_log_dropped"), Some(log_dropped)));
        self.c.report(&mut |name, value| all.push((String::from("serial"), String::from(name), Some(value))));
        all
    }

    /// `counters PD`: one PD's counters, then how many there were.
    fn counters_of(&mut self, pd: &str) {
        let mine: Vec<_> = self.all_counters().into_iter().filter(|(p, _, _)| p == pd).collect();
        if mine.is_empty() {
            let names: Vec<_> = self.pages.iter().map(|p| p.pd.as_str()).collect();
            let shown: String = pd.chars().take(32).collect();
            self.say(format_args!("no PD {shown:?} (PDs: {}, serial)", names.join(", ")));
            return;
        }
        for row in &mine {
            self.say_counter(row);
        }
        self.say(format_args!("{} counters of {pd}", mine.len()));
    }

    /// `drops`: the drop counters that are not zero, then how many there were.
    fn drops(&mut self) {
        let nonzero: Vec<_> = self
            .all_counters()
            .into_iter()
            .filter(|(_, name, v)| (name.starts_with("drop_") || name.ends_with("_dropped")) && v.is_some_and(|v| v > 0))
            .collect();
        for row in &nonzero {
            self.say_counter(row);
        }
        self.say(format_args!("{} drop counters above zero", nonzero.len()));
    }

    fn counters(&mut self) {
        for row in &self.all_counters() {
            self.say_counter(row);
        }
    }

    /// One `<pd> <counter> <value>` line (or `<pd> (no counters: why)`).
    fn say_counter(&mut self, (pd, name, value): &(String, String, Option<u64>)) {
        match value {
            Some(v) => self.say(format_args!("{pd} {name} {v}")),
            None => self.say(format_args!("{pd} {name}")),
        }
    }

    /// Fills the transmit FIFO from the output queue and asks for the transmit-empty interrupt
    /// while output is left.
    fn transmit(&mut self) {
        if self.read(LSR) & LSR_THRE != 0 {
            for _ in 0..TX_FIFO {
                let Some(b) = self.out.pop_front() else { break };
                self.write(RBR_THR, b);
            }
        }
        let ier = if self.out.is_empty() { IER_ERBFI } else { IER_ERBFI | IER_ETBEI };
        if ier != self.ier {
            self.ier = ier;
            self.write(IER, ier);
        }
    }

    /// Serves every pending UART cause until the UART says none is left, so that its interrupt
    /// line drops and the next cause makes a new edge.
    fn service(&mut self) {
        for _ in 0..MAX_IIR_ROUNDS {
            self.take_input();
            self.transmit();
            if self.read(IIR) & IIR_NO_INTERRUPT != 0 {
                break;
            }
        }
    }
}

impl Handler for Serial {
    type Error = core::convert::Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        self.drain_log();
        self.service();
        if channels.contains(UART_IRQ) {
            UART_IRQ.irq_ack();
        }
        if channels.contains(TIMER) {
            self.c.ticks += 1;
        }
        if channels.contains(CONSOLE_LOG) {
            self.c.doorbells += 1;
        }
        Ok(())
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        self.c.report(report);
    }
}

/// `fmt::Write` into a byte vector (one line of output).
struct LineText<'a>(&'a mut Vec<u8>);

impl core::fmt::Write for LineText<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn init() -> Serial {
    let Some(uart) = sel4_pd_runtime::ioport(0) else {
        // Without the UART the PD has nothing to do; the root task still prints faults.
        panic!("no I/O ports for COM1 (system.xml <ioport id=\"0\">)");
    };
    let log = pd_api::memory_region("console_log").and_then(|r| {
        // SAFETY: the root task mapped the console log here for the PD's life and initialised it
        // before this PD started; only the root task writes lines into it.
        unsafe { LogReader::attach(r.base(), r.size()) }.ok()
    });
    let mut pages = Vec::new();
    for (name, region) in sel4_pd_runtime::regions() {
        let Some(pd) = name.strip_prefix("status:") else { continue };
        // SAFETY: mapped (read-only) for the PD's life; the reader never writes.
        if let Ok(reader) = unsafe { StatusReader::new(region.base(), region.size()) } {
            pages.push(Page { pd: String::from(pd), reader });
        }
    }
    let mut serial = Serial {
        uart,
        log,
        pages,
        faults: Vec::new(),
        out: VecDeque::new(),
        input: Vec::new(),
        line: Vec::new(),
        ier: 0,
        c: Counters::default(),
    };
    // OUT2 gates the UART's interrupt onto the ISA line on PC hardware.
    serial.write(MCR, MCR_DTR_RTS_OUT2);
    serial.ier = IER_ERBFI;
    serial.write(IER, IER_ERBFI);
    // What the root task logged before this PD ran comes first.
    serial.drain_log();
    let watched = serial.pages.len();
    let has_log = serial.log.is_some();
    serial.say(format_args!("serial: console on COM1 ({watched} PDs watched, console log {}); type help", if has_log { "attached" } else { "missing" }));
    serial.service();
    serial
}

sel4_pd_runtime::protection_domain!(init);
