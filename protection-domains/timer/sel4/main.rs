//! The timer PD on seL4: the PC's interval timer (PIT, ports 0x40–0x43, ISA IRQ 0 = IOAPIC pin 2,
//! edge) interrupts 20 times a second; on each interrupt the [`pd_timer::Ticker`] says whether a
//! tick is due for every PD the timer has a channel to.
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};
use pd_timer::Ticker;
use sel4_pd_runtime::IoPort;

/// The PIT's interrupt (system.xml `<irq pin="2" id="10" trigger="edge"/>`).
const PIT_IRQ: Channel = Channel::new(10);
const PIT_CHANNEL0: u16 = 0x40;
const PIT_COMMAND: u16 = 0x43;
/// 1.193182 MHz / 59659 ≈ 20 Hz: two interrupts per tick.
const PIT_DIVISOR: u16 = 59659;

struct Timer(Ticker);

impl Handler for Timer {
    type Error = core::convert::Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(PIT_IRQ) {
            self.0.tick(pd_api::now_ns(), sel4_pd_runtime::notify_channels());
            PIT_IRQ.irq_ack();
        }
        Ok(())
    }

    fn counters(&self, report: &mut dyn FnMut(&str, u64)) {
        report("ticks", self.0.ticks());
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
    Timer(Ticker::new(pd_api::now_ns()))
}

sel4_pd_runtime::protection_domain!(init);
