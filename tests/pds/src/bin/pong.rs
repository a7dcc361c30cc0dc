//! Answers every notification from `ping` with one of its own.
#![no_std]
#![no_main]

use pd_api::{Channel, ChannelSet, Handler};

const PING: Channel = Channel::new(3);

struct Pong;

impl Handler for Pong {
    type Error = &'static str;
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(PING) {
            PING.notify();
        }
        Ok(())
    }
}

fn init() -> Pong {
    Pong
}

sel4_pd_runtime::protection_domain!(init);
