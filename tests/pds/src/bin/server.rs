//! Answers protected calls: label 7 with (a, b) → label 8 with 2a + b.
#![no_std]
#![no_main]

use pd_api::{Channel, Handler, MessageInfo};

struct Server;

impl Handler for Server {
    type Error = &'static str;
    fn protected(&mut self, _channel: Channel, msg: MessageInfo) -> Result<MessageInfo, Self::Error> {
        if msg.label() != 7 || msg.count() != 2 {
            return Err("unexpected request");
        }
        pd_api::set_mr(0, pd_api::get_mr(0) * 2 + pd_api::get_mr(1));
        Ok(MessageInfo::new(8, 1))
    }
}

fn init() -> Server {
    Server
}

sel4_pd_runtime::protection_domain!(init);
