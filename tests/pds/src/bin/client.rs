//! Makes protected calls to `server` and checks the replies.
#![no_std]
#![no_main]

use pd_api::{Channel, Handler, MessageInfo};
use sel4_test_pds::result;

const SERVER: Channel = Channel::new(0);

struct Client;

impl Handler for Client {
    type Error = &'static str;
}

fn init() -> Client {
    let mut ok = true;
    for x in [21u64, 1 << 40, 7] {
        pd_api::set_mr(0, x);
        pd_api::set_mr(1, 5);
        let reply = SERVER.pp_call(MessageInfo::new(7, 2));
        ok &= reply.label() == 8 && reply.count() == 1 && pd_api::get_mr(0) == x * 2 + 5;
    }
    result!("ppcall", "{}", if ok { "ok" } else { "fail" });
    // A figure, not a check: the IPC round trip (client -> server -> client, two address-space
    // switches), which the kernel's speculation mitigations make dearer (support/bench-mitigations).
    const ROUNDS: u64 = 20_000;
    let start = pd_api::now_ns();
    for x in 0..ROUNDS {
        pd_api::set_mr(0, x);
        pd_api::set_mr(1, 1);
        SERVER.pp_call(MessageInfo::new(7, 2));
    }
    result!("ppcall_round_trip_ns", "{}", (pd_api::now_ns() - start) / ROUNDS);
    Client
}

sel4_pd_runtime::protection_domain!(init);
