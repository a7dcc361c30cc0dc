//! Asks to be restarted on its first start (`pd_api::restart`), then runs: the root task must
//! report the request by name and start the PD afresh.
#![no_std]
#![no_main]

use pd_api::Handler;

struct Restarter;

impl Handler for Restarter {
    type Error = &'static str;
}

fn init() -> Restarter {
    let n = pd_api::restarts();
    if n == 0 {
        pd_api::restart(format_args!("deliberate test restart"));
    }
    pd_api::log!("running again after {n} restart(s)");
    Restarter
}

sel4_pd_runtime::protection_domain!(init);
