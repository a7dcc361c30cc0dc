//! The timer PD: the PC's interval timer (PIT, ports 0x40–0x43, ISA IRQ 0 = IOAPIC pin 2, edge)
//! interrupts every 50 ms; every 100 ms of TSC time it notifies its subscribers (crypto's
//! WireGuard timers, the stacks' neighbour ageing, the serial console): every PD it has a
//! channel to in system.xml, as the host runtime's timer does. Monotonic time
//! itself comes from every PD's own TSC clock (the PD runtime).
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};
use sel4_pd_runtime::IoPort;

/// The PIT's interrupt (system.xml `<irq pin="2" id="10" trigger="edge"/>`).
const PIT_IRQ: Channel = Channel::new(10);
/// Time between ticks.
const TICK_NS: u64 = 100_000_000;
const PIT_CHANNEL0: u16 = 0x40;
const PIT_COMMAND: u16 = 0x43;
/// 1.193182 MHz / 59659 ≈ 20 Hz: two interrupts per tick.
const PIT_DIVISOR: u16 = 59659;

struct Timer {
    next_tick_ns: u64,
    ticks: u64,
}

impl Handler for Timer {
    type Error = &'static str;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(PIT_IRQ) {
            return Ok(());
        }
        let now = pd_api::now_ns();
        if now >= self.next_tick_ns {
            for s in sel4_pd_runtime::notify_channels().iter() {
                s.notify();
            }
            self.ticks += 1;
            // Skip ticks missed while the system was busy rather than sending a burst.
            self.next_tick_ns = now - (now - self.next_tick_ns) % TICK_NS + TICK_NS;
        }
        PIT_IRQ.irq_ack();
        Ok(())
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        report("ticks", self.ticks);
    }
}

fn program_pit(pit: &IoPort) -> Result<(), sel4_pd_runtime::IoPortError> {
    // Channel 0, low then high byte, mode 2 (rate generator), binary.
    pit.out8(PIT_COMMAND, 0x34)?;
    pit.out8(PIT_CHANNEL0, PIT_DIVISOR as u8)?;
    pit.out8(PIT_CHANNEL0, (PIT_DIVISOR >> 8) as u8)
}

fn init() -> Timer {
    match sel4_pd_runtime::ioport(0) {
        Some(pit) => match program_pit(&pit) {
            Ok(()) => pd_api::log!("timer ready: PIT at 20 Hz, ticks every 100 ms"),
            Err(e) => pd_api::log!("PIT ports refused: {e:?}; no ticks"),
        },
        None => pd_api::log!("no I/O ports for the PIT (system.xml <ioport>); no ticks"),
    }
    Timer { next_tick_ns: pd_api::now_ns() + TICK_NS, ticks: 0 }
}

sel4_pd_runtime::protection_domain!(init);
