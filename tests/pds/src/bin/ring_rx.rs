//! Receives the numbered buffers from `ring_tx` and checks every byte and the order.
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};
use pd_ring::{Receiver, RingError, SLOT_SIZE};
use sel4_test_pds::{result, ring_check, RING_BUFFERS};

const TX: Channel = Channel::new(2);

struct RingRx {
    rx: Receiver,
    received: u64,
    bad: u64,
    buf: [u8; SLOT_SIZE],
    /// When the first buffer arrived (ns), for the throughput figure.
    started_ns: Option<u64>,
}

impl RingRx {
    fn drain(&mut self) -> Result<(), RingError> {
        loop {
            while let Some(len) = self.rx.recv(&mut self.buf)? {
                self.started_ns.get_or_insert_with(pd_api::now_ns);
                if !ring_check(self.received, &self.buf[..len]) {
                    self.bad += 1;
                }
                self.received += 1;
            }
            if self.rx.take_signal_request() {
                TX.notify();
            }
            // Sleep only after asking for a signal and seeing the ring still empty.
            self.rx.request_signal();
            if self.rx.is_empty() {
                break;
            }
            self.rx.cancel_signal();
        }
        if self.received == RING_BUFFERS {
            result!("ring_buffers", "{}", self.received);
            result!("ring_bad", "{}", self.bad);
            result!("ring", "{}", if self.bad == 0 { "ok" } else { "fail" });
            // Under QEMU TCG this measures the emulator, not the design; it is reported so that
            // changes to the ring or the runtime show up.
            let elapsed = pd_api::now_ns().saturating_sub(self.started_ns.unwrap_or(0)).max(1);
            result!("ring_buffers_per_s", "{}", self.received * 1_000_000_000 / elapsed);
        }
        Ok(())
    }
}

impl Handler for RingRx {
    type Error = RingError;
    fn notified(&mut self, _channels: ChannelSet) -> Result<(), RingError> {
        self.drain()
    }
}

fn init() -> RingRx {
    let region = |name| pd_api::memory_region(name).unwrap_or_else(|| panic!("region {name} not mapped"));
    let rx = Receiver::new(region("ring_data"), region("ring_ctl")).expect("ring layout");
    let mut me = RingRx { rx, received: 0, bad: 0, buf: [0; SLOT_SIZE], started_ns: None };
    me.drain().expect("ring");
    me
}

sel4_pd_runtime::protection_domain!(init);
