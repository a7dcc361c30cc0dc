//! Counts the CMOS real-time clock's periodic interrupts (ports 0x70/0x71, ISA IRQ 8 = IOAPIC
//! pin 8) until TICKS, then stops them.
//!
//! The RTC holds its interrupt line asserted until register C is read, so one interrupt that
//! nobody saw (firmware enabled the periodic interrupt and it fired before the root task bound
//! the handler) would silence it for good. `init` therefore deliberately does not read
//! register C: only the runtime's poll after init (pd_api::Handler::notified) does, and
//! tests/sel4/test_sel4_boot.py boots this PD behind a firmware that leaves the RTC interrupting,
//! where the count reaches TICKS only if the root task acked the handler after binding it and
//! the runtime polled once.
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};
use sel4_pd_runtime::IoPort;
use sel4_test_pds::result;

const RTC_IRQ: Channel = Channel::new(1);
const TICKS: u32 = 50;
const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;
const REG_A: u8 = 0x0a;
const REG_B: u8 = 0x0b;
const REG_C: u8 = 0x0c;
/// Register A: 32.768 kHz time base, rate 6 = 1024 Hz.
const RATE_1024_HZ: u8 = 0x26;
/// Register B: periodic interrupt enable.
const PIE: u8 = 0x40;
/// Register C: periodic interrupt flag.
const PF: u8 = 0x40;

struct RtcProbe {
    rtc: IoPort,
    ticks: u32,
    polls: u32,
}

impl RtcProbe {
    fn read(&self, reg: u8) -> Result<u8, &'static str> {
        self.rtc.out8(INDEX, reg).and_then(|_| self.rtc.in8(DATA)).map_err(|_| "RTC port")
    }

    fn write(&self, reg: u8, value: u8) -> Result<(), &'static str> {
        self.rtc.out8(INDEX, reg).and_then(|_| self.rtc.out8(DATA, value)).map_err(|_| "RTC port")
    }
}

impl Handler for RtcProbe {
    type Error = &'static str;
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(RTC_IRQ) {
            return Err("notified on an unexpected channel");
        }
        // Reading C clears the flags and drops the line, so the next period raises a new edge.
        let c = self.read(REG_C)?;
        self.polls += 1;
        if c & PF != 0 && self.ticks < TICKS {
            self.ticks += 1;
            if self.ticks == TICKS {
                let b = self.read(REG_B)?;
                self.write(REG_B, b & !PIE)?;
                result!("rtc_ticks", "{}", self.ticks);
                pd_api::log!("{TICKS} periodic interrupts in {} wake-ups", self.polls);
            }
        }
        RTC_IRQ.irq_ack();
        Ok(())
    }
}

fn init() -> RtcProbe {
    let rtc = sel4_pd_runtime::ioport(0).expect("RTC ports not given");
    let probe = RtcProbe { rtc, ticks: 0, polls: 0 };
    let armed = probe.write(REG_A, RATE_1024_HZ).and_then(|_| probe.read(REG_B)).and_then(|b| probe.write(REG_B, b | PIE));
    assert!(armed.is_ok(), "RTC ports refused: {armed:?}");
    probe
}

sel4_pd_runtime::protection_domain!(init);
