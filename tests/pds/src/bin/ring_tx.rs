//! Sends RING_BUFFERS numbered buffers through a pd-ring ring to `ring_rx`, in its own address
//! space, sleeping when the ring is full (signal-flag protocol).
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};
use pd_ring::{RingError, Sender};
use sel4_test_pds::{result, ring_fill, RING_BUFFERS};

const RX: Channel = Channel::new(1);

struct RingTx {
    tx: Sender,
    next: u64,
    buf: [u8; pd_ring::SLOT_SIZE],
}

impl RingTx {
    fn pump(&mut self) -> Result<(), RingError> {
        while self.next < RING_BUFFERS {
            // Fill a private buffer and send a copy: `send` has the same shape on every version
            // of the ring crate (`send_with`'s closure changed).
            let len = ring_fill(self.next, &mut self.buf);
            if self.tx.send(&self.buf[..len])? {
                self.next += 1;
                continue;
            }
            // Full: ask for a signal when slots come back, then re-check before sleeping.
            self.tx.request_free_signal();
            if !self.tx.has_room() {
                break;
            }
        }
        if self.tx.take_signal_request() {
            RX.notify();
        }
        if self.next == RING_BUFFERS {
            result!("ring_sent", "{}", self.next);
            self.next += 1;
        }
        Ok(())
    }
}

impl Handler for RingTx {
    type Error = RingError;
    fn notified(&mut self, _channels: ChannelSet) -> Result<(), RingError> {
        self.pump()
    }
}

fn init() -> RingTx {
    let region = |name| pd_api::memory_region(name).unwrap_or_else(|| panic!("region {name} not mapped"));
    let tx = Sender::new(region("ring_data"), region("ring_ctl")).expect("ring layout");
    let mut me = RingTx { tx, next: 0, buf: [0; pd_ring::SLOT_SIZE] };
    me.pump().expect("ring");
    me
}

sel4_pd_runtime::protection_domain!(init);
