//! The serial PD on seL4: COM1's ports (0x3F8–0x3FF) and interrupt (ISA IRQ 4), the console log
//! the root task fills, and every PD's status page (`status:<pd>` regions), read-only. The
//! timer's tick (every 100 ms) polls the UART in case an edge was missed, and the root task's
//! doorbell (channel 62) says a line is waiting.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use pd_api::{Channel, ChannelSet, Handler};
use pd_console::log::LogReader;
use pd_console::status::StatusReader;
use pd_serial::{Console, Ports, StatusPage, Uart16550};
use sel4_pd_runtime::IoPort;

/// The UART's interrupt (system.xml `<irq pin="4" id="10" trigger="edge"/>`).
const UART_IRQ: Channel = Channel::new(10);
/// The timer PD's tick.
const TIMER: Channel = Channel::new(0);
/// The root task's doorbell: a line was appended to the console log.
const CONSOLE_LOG: Channel = Channel::new(sel4_system_spec::layout::CONSOLE_LOG_CHANNEL as usize);

struct Com1(IoPort);

impl Ports for Com1 {
    fn read(&self, offset: u16) -> u8 {
        self.0.in8(self.0.base() + offset).unwrap_or(0)
    }
    fn write(&self, offset: u16, value: u8) {
        let _ = self.0.out8(self.0.base() + offset, value);
    }
}

struct Serial {
    uart: Uart16550<Com1>,
    console: Console,
}

impl Handler for Serial {
    type Error = core::convert::Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        self.console.drain_log();
        self.uart.service(&mut self.console);
        if channels.contains(UART_IRQ) {
            UART_IRQ.irq_ack();
        }
        if channels.contains(TIMER) {
            self.console.counters.ticks += 1;
            self.console.watchdog(pd_api::now_ns());
        }
        if channels.contains(CONSOLE_LOG) {
            self.console.counters.doorbells += 1;
        }
        Ok(())
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        self.console.counters.report(report);
    }
}

fn init() -> Serial {
    let Some(ports) = sel4_pd_runtime::ioport(0) else {
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
            pages.push(StatusPage { pd: String::from(pd), reader });
        }
    }
    let mut console = Console::new(log, pages);
    let uart = Uart16550::new(Com1(ports));
    // What the root task logged before this PD ran comes first.
    console.drain_log();
    let (watched, log) = (console.watched(), if console.has_log() { "attached" } else { "missing" });
    console.say(format_args!("serial: console on COM1 ({watched} PDs watched, console log {log}); type help"));
    let mut serial = Serial { uart, console };
    serial.uart.service(&mut serial.console);
    serial
}

sel4_pd_runtime::protection_domain!(init);
