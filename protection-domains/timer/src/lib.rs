//! The timer PD: every [`TICK_NS`] of monotonic time it notifies every PD it has a channel to
//! in system.xml (crypto's WireGuard timers, the stacks' neighbour ageing, the serial console).
//! Monotonic time itself comes from every PD's own clock (`pd_api::now_ns`); the timer PD only
//! says when to look at it.
//!
//! The platforms differ only in what wakes it: on seL4 the PC's interval timer (PIT, `sel4/`),
//! on the host runtime a sleeping thread (`host.rs`, compiled into platforms/host). Both ask
//! a [`Ticker`] whether a tick is due.

#![no_std]

/// Time between ticks.
pub const TICK_NS: u64 = 100_000_000;

/// When ticks are due: every [`TICK_NS`], on a fixed grid from the start, with the ticks that
/// fell while the PD could not run skipped rather than sent in a burst.
#[derive(Clone, Debug)]
pub struct Ticker {
    next_tick_ns: u64,
    ticks: u64,
}

impl Ticker {
    /// The first tick is due one period after `now_ns`.
    pub fn new(now_ns: u64) -> Self {
        Self { next_tick_ns: now_ns + TICK_NS, ticks: 0 }
    }

    /// Whether a tick is due at `now_ns`; if so it is counted and the next one scheduled.
    pub fn due(&mut self, now_ns: u64) -> bool {
        if now_ns < self.next_tick_ns {
            return false;
        }
        self.ticks += 1;
        let late = now_ns - self.next_tick_ns;
        self.next_tick_ns = now_ns - late % TICK_NS + TICK_NS;
        true
    }

    /// When the next tick is due.
    pub fn next_tick_ns(&self) -> u64 {
        self.next_tick_ns
    }

    /// Ticks given so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Notifies every channel in `subscribers` if a tick is due at `now_ns`.
    pub fn tick(&mut self, now_ns: u64, subscribers: pd_api::ChannelSet) {
        if self.due(now_ns) {
            for c in subscribers.iter() {
                c.notify();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_come_on_a_fixed_grid_and_missed_ones_are_skipped_not_bunched() {
        let mut t = Ticker::new(1_000);
        assert!(!t.due(1_000 + TICK_NS - 1));
        assert!(t.due(1_000 + TICK_NS + 7), "due once the period has passed");
        assert_eq!(t.next_tick_ns(), 1_000 + 2 * TICK_NS, "on the grid, not 7 ns later");
        assert!(!t.due(1_000 + TICK_NS + 8), "once per period");
        // The PD was starved for 3.5 periods: one tick, then back on the grid.
        assert!(t.due(1_000 + 5 * TICK_NS + TICK_NS / 2));
        assert!(!t.due(1_000 + 5 * TICK_NS + TICK_NS / 2 + 1));
        assert_eq!(t.next_tick_ns(), 1_000 + 6 * TICK_NS);
        assert_eq!(t.ticks(), 2);
    }

    #[test]
    fn a_tick_notifies_every_subscriber() {
        let pd = pd_testkit::TestPd::new("timer");
        let mut t = Ticker::new(0);
        let subscribers = pd_api::ChannelSet::EMPTY.with(pd_api::Channel::new(0)).with(pd_api::Channel::new(3));
        t.tick(TICK_NS / 2, subscribers);
        assert!(pd.take_notifications().is_empty());
        t.tick(TICK_NS, subscribers);
        assert_eq!(pd.take_notifications(), [0, 3]);
    }
}
