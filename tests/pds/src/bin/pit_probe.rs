//! Drives the PC's interval timer (PIT, ports 0x40–0x43, ISA IRQ 0 = IOAPIC pin 2, edge) as the
//! timer PD will: 1 kHz periodic interrupts, counted until TICKS, then stopped.
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};
use sel4_pd_runtime::IoPort;
use sel4_test_pds::result;

const TIMER_IRQ: Channel = Channel::new(1);
const TICKS: u32 = 20;
const CHANNEL0: u16 = 0x40;
const COMMAND: u16 = 0x43;
/// 1.193182 MHz / 1193 ≈ 1 kHz.
const DIVISOR: u16 = 1193;

struct PitProbe {
    pit: IoPort,
    ticks: u32,
    start_ns: u64,
}

impl Handler for PitProbe {
    type Error = &'static str;
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(TIMER_IRQ) {
            return Err("notified on an unexpected channel");
        }
        self.ticks += 1;
        if self.ticks == TICKS {
            // Mode 0 without a count loaded: the counter waits, so no more interrupts.
            self.pit.out8(COMMAND, 0x30).map_err(|_| "PIT port")?;
            let ms = (pd_api::now_ns() - self.start_ns) / 1_000_000;
            result!("pit_ticks", "{}", self.ticks);
            pd_api::log!("{TICKS} ticks in {ms} ms of TSC time");
        }
        TIMER_IRQ.irq_ack();
        Ok(())
    }
}

fn init() -> PitProbe {
    let pit = sel4_pd_runtime::ioport(0).expect("PIT ports not given");
    // Channel 0, low then high byte, mode 2 (rate generator), binary.
    let programmed = pit
        .out8(COMMAND, 0x34)
        .and_then(|_| pit.out8(CHANNEL0, DIVISOR as u8))
        .and_then(|_| pit.out8(CHANNEL0, (DIVISOR >> 8) as u8));
    assert!(programmed.is_ok(), "PIT ports refused: {programmed:?}");
    PitProbe { pit, ticks: 0, start_ns: pd_api::now_ns() }
}

sel4_pd_runtime::protection_domain!(init);
