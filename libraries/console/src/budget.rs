//! A rate limit for one source of console lines (the root task keeps one per PD): a token bucket
//! of [`BURST`] lines, refilled at [`LINES_PER_SECOND`]. A PD that logs in a loop (a red PD fed
//! frames that each make it log, say) then costs the console a bounded share of COM1 and of the
//! log ring, and the lines it loses are counted and reported when it is next let through.

/// Lines a PD may log at once (start-up messages, a counter report).
pub const BURST: u64 = 100;
/// Lines a second a PD may log for good.
pub const LINES_PER_SECOND: u64 = 20;

const NS_PER_S: u64 = 1_000_000_000;

/// Whether a line may go to the console.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Admit {
    /// Yes.
    Yes,
    /// Yes, and this many lines before it were dropped (say so first).
    AfterDropping(u64),
    /// No: drop it (counted).
    No,
}

/// One source's budget.
#[derive(Clone, Copy, Debug)]
pub struct LineBudget {
    /// Tokens in line-nanoseconds (one line is [`NS_PER_S`]), so that refilling needs no division.
    tokens: u64,
    /// When the tokens were last refilled; None before the first line.
    last_ns: Option<u64>,
    /// Lines dropped since the last one let through.
    dropped: u64,
}

impl Default for LineBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl LineBudget {
    /// A full bucket.
    pub const fn new() -> Self {
        Self { tokens: BURST * NS_PER_S, last_ns: None, dropped: 0 }
    }

    /// Whether a line that comes at `now_ns` (a monotonic clock) may go out.
    pub fn admit(&mut self, now_ns: u64) -> Admit {
        let elapsed = self.last_ns.map_or(0, |last| now_ns.saturating_sub(last));
        // A clock that went back refills nothing now and nothing twice later.
        self.last_ns = Some(self.last_ns.map_or(now_ns, |last| last.max(now_ns)));
        self.tokens = self.tokens.saturating_add(elapsed.saturating_mul(LINES_PER_SECOND)).min(BURST * NS_PER_S);
        if self.tokens < NS_PER_S {
            self.dropped += 1;
            return Admit::No;
        }
        self.tokens -= NS_PER_S;
        match core::mem::take(&mut self.dropped) {
            0 => Admit::Yes,
            n => Admit::AfterDropping(n),
        }
    }
}
