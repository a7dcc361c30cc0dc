//! Sends notifications to `pong` and counts the answers: notifications in both directions.
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};
use sel4_test_pds::{result, PING_ROUNDS};

const PONG: Channel = Channel::new(0);

struct Ping {
    answers: u64,
}

impl Handler for Ping {
    type Error = &'static str;
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if !channels.contains(PONG) {
            return Err("notified on an unexpected channel");
        }
        self.answers += 1;
        if self.answers < PING_ROUNDS {
            PONG.notify();
        } else {
            result!("notify", "ok");
            result!("notify_rounds", "{}", self.answers);
        }
        Ok(())
    }
}

fn init() -> Ping {
    PONG.notify();
    Ping { answers: 0 }
}

sel4_pd_runtime::protection_domain!(init);
