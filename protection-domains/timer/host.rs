//! The timer PD on the host runtime: a thread that sleeps to each tick. Compiled into
//! platforms/host as its module `timer` (it uses the host platform's `HostPd`).

use crate::platform::{HostPd, STOP};
use pd_timer::Ticker;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Runs until the runtime stops: at every tick, notifies every channel the PD has.
pub fn run(pd: &'static HostPd) -> Vec<(String, u64)> {
    let mut ticker = Ticker::new(pd_api::now_ns());
    while !STOP.load(Ordering::Relaxed) {
        // Sleep to the next tick boundary (no drift); the stop flag is checked each tick.
        let wait = ticker.next_tick_ns().saturating_sub(pd_api::now_ns());
        std::thread::sleep(Duration::from_nanos(wait));
        ticker.tick(pd_api::now_ns(), pd.channel_set());
    }
    vec![("ticks".into(), ticker.ticks())]
}
