//! The operator console: what the serial PD does with the console log, the PDs' status pages and
//! the operator's typing, independent of the UART.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use pd_console::log::{LogReader, Source, MAX_LINE};
use pd_console::status::{StatusError, StatusReader};

/// Largest amount of output held for the UART; whole lines beyond it are dropped and counted.
pub const OUT_LIMIT: usize = 64 * 1024;
/// Longest command line.
pub const INPUT_LIMIT: usize = 128;
/// Console log lines moved per event (the rest waits for the next one: bounded work).
const LOG_LINES_PER_EVENT: usize = 256;
/// Largest status page read.
const PAGE_BYTES: usize = 4096;

pd_api::counters! {
    /// The serial PD's own counters (shown by `counters` as PD `serial`).
    pub struct Counters {
        /// Timer ticks seen.
        ticks,
        /// Doorbells from the root task (a line is waiting in the console log).
        doorbells,
        /// Console log lines written out.
        log_lines,
        /// Console log corruption noticed (a line that fails its checks).
        log_errors,
        /// Output lines dropped because the output queue was full.
        out_lines_dropped,
        /// Bytes typed.
        input_bytes,
        /// Characters typed past the command line's limit.
        input_overflows,
        /// Commands run.
        commands,
        /// Commands not known.
        unknown_commands,
        /// Status pages read while their PD was publishing a new snapshot: the previous whole
        /// one was shown instead.
        status_previous_shown,
        /// Times the watchdog found a PD not answering (its status page older than
        /// [`WATCHDOG_MS`]).
        watchdog_not_answering,
    }
}

/// One PD's status page: the PD's name and the reader of its page.
pub struct StatusPage {
    /// The PD's name (`status:<pd>` region).
    pub pd: String,
    /// The page, mapped read-only.
    pub reader: StatusReader,
}

/// A PD whose status page is older than this is reported as not answering. Every PD republishes
/// its page on the timer's ticks (every 200 ms), so this is fifty missed rounds: room for an
/// emulated machine on a busy host, and still seconds, not minutes, for an operator.
pub const WATCHDOG_MS: u64 = 10_000;

/// The operator console; see the crate documentation.
pub struct Console {
    log: Option<LogReader>,
    pages: Vec<StatusPage>,
    faults: Vec<(String, String)>,
    /// PDs the root task restarted after a fault, and how often.
    restarts: Vec<(String, u32)>,
    /// Per status page: the watchdog found the PD not answering (and said so).
    not_answering: Vec<bool>,
    /// Per status page: the last whole snapshot read (text, publication time). The console now
    /// and then catches a PD in the middle of publishing: on the PD's core, when the serial PD
    /// (above crypto and the stacks in priority) preempts it there, so that the PD cannot
    /// finish until the console is done and retrying is futile; on another core, when that
    /// core's vCPU is descheduled mid-write (TCG). The console then shows this one, normally one
    /// publication period older (its age says how old), rather than nothing. Time 0: none read
    /// yet.
    previous: Vec<(Vec<u8>, u64)>,
    /// Per status page: the publication time of the latest whole snapshot any read saw (the
    /// watchdog's every tick, and the commands'); what the watchdog judges a PD caught
    /// publishing by. 0: none seen yet.
    seen_ns: Vec<u64>,
    out: VecDeque<u8>,
    input: Vec<u8>,
    line: Vec<u8>,
    /// What the console did.
    pub counters: Counters,
}

/// `fmt::Write` into a byte vector (one line of output).
struct LineText<'a>(&'a mut Vec<u8>);

impl core::fmt::Write for LineText<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Console {
    /// A console over the console log (if system.xml gives one) and the PDs' status pages.
    pub fn new(log: Option<LogReader>, pages: Vec<StatusPage>) -> Self {
        Self {
            log,
            not_answering: alloc::vec![false; pages.len()],
            previous: alloc::vec![(Vec::new(), 0); pages.len()],
            seen_ns: alloc::vec![0; pages.len()],
            pages,
            faults: Vec::new(),
            restarts: Vec::new(),
            out: VecDeque::new(),
            input: Vec::new(),
            line: Vec::new(),
            counters: Counters::default(),
        }
    }

    /// How many PDs' status pages it watches.
    pub fn watched(&self) -> usize {
        self.pages.len()
    }

    /// Whether it has a console log to drain.
    pub fn has_log(&self) -> bool {
        self.log.is_some()
    }

    /// The next byte to send, if any.
    pub fn next_output(&mut self) -> Option<u8> {
        self.out.pop_front()
    }

    /// Whether output is waiting.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Queues one line of output (CR LF ended), or counts it dropped if the queue is full.
    pub fn say(&mut self, args: core::fmt::Arguments<'_>) {
        self.line.clear();
        let _ = LineText(&mut self.line).write_fmt(args);
        self.queue_line();
    }

    fn queue_line(&mut self) {
        if self.out.len() + self.line.len() + 2 > OUT_LIMIT {
            self.counters.out_lines_dropped += 1;
            return;
        }
        self.out.extend(self.line.iter().copied());
        self.out.extend(*b"\r\n");
    }

    /// Moves the console log's lines to the output queue, noting the root task's fault reports.
    pub fn drain_log(&mut self) {
        let Some(mut log) = self.log.take() else { return };
        let mut buf = [0u8; MAX_LINE];
        for _ in 0..LOG_LINES_PER_EVENT {
            match log.pop(&mut buf) {
                Ok(Some(l)) => {
                    self.counters.log_lines += 1;
                    let text = &buf[..l.len];
                    if l.source == Source::Root {
                        self.note_fault(text);
                    }
                    self.line.clear();
                    self.line.extend_from_slice(text);
                    self.queue_line();
                }
                Ok(None) => break,
                Err(e) => {
                    self.counters.log_errors += 1;
                    self.say(format_args!("serial: console log: {e}"));
                }
            }
        }
        self.log = Some(log);
    }

    /// The watchdog, run on each timer tick at `now_ns`: says once when a PD's status page has
    /// grown older than [`WATCHDOG_MS`] (the PD stopped answering: hung, or starved by a PD above
    /// it on its core; nothing faulted, so the root task has nothing to report) and once when it
    /// answers again. `status` shows it meanwhile. A PD that has not published yet is still
    /// starting; a faulted one is the root task's to report.
    pub fn watchdog(&mut self, now_ns: u64) {
        for i in 0..self.pages.len() {
            if self.faults.iter().any(|(p, _)| *p == self.pages[i].pd) {
                continue;
            }
            // A PD caught publishing is judged by its previous snapshot: one stalled half-way
            // (starved on its core) still grows old.
            let published_ns = match self.pages[i].reader.read(&mut []) {
                Ok(s) => {
                    self.seen_ns[i] = s.published_ns;
                    s.published_ns
                }
                Err(StatusError::Busy) if self.seen_ns[i] != 0 => self.seen_ns[i],
                Err(_) => continue,
            };
            let age_ms = now_ns.saturating_sub(published_ns) / 1_000_000;
            let late = age_ms > WATCHDOG_MS;
            if late == self.not_answering[i] {
                continue;
            }
            self.not_answering[i] = late;
            let pd = self.pages[i].pd.clone();
            if late {
                self.counters.watchdog_not_answering += 1;
                self.say(format_args!("watchdog: PD {pd} has not published its status for {age_ms} ms: not answering"));
            } else {
                self.say(format_args!("watchdog: PD {pd} answers again"));
            }
        }
    }

    /// `FAULT pd=<name> kind=<kind> ...` and `RESTART pd=<name> count=<n>` from the root task.
    fn note_fault(&mut self, text: &[u8]) {
        let Ok(text) = core::str::from_utf8(text) else { return };
        if let Some(rest) = text.strip_prefix("RESTART pd=") {
            let mut words = rest.split(' ');
            let pd = words.next().unwrap_or("");
            let Some(count) = words.find_map(|w| w.strip_prefix("count=")).and_then(|n| n.parse().ok()) else { return };
            // Running again, with fresh state.
            self.faults.retain(|(p, _)| p != pd);
            match self.restarts.iter_mut().find(|(p, _)| p == pd) {
                Some(entry) => entry.1 = count,
                None => self.restarts.push((String::from(pd), count)),
            }
            return;
        }
        let Some(rest) = text.strip_prefix("FAULT pd=") else { return };
        let mut words = rest.split(' ');
        let pd = words.next().unwrap_or("");
        let kind = words.find_map(|w| w.strip_prefix("kind=")).unwrap_or("unknown");
        if !self.faults.iter().any(|(p, _)| p == pd) {
            self.faults.push((String::from(pd), String::from(kind)));
        }
    }

    /// Takes one typed byte: echo, line editing, and a command at each line's end.
    pub fn input(&mut self, b: u8) {
        self.counters.input_bytes += 1;
        match b {
            b'\r' | b'\n' => {
                self.echo(b"\r\n");
                if !self.input.is_empty() {
                    let line = core::mem::take(&mut self.input);
                    self.command(&line);
                }
            }
            // Backspace and DEL erase one character.
            0x08 | 0x7f => {
                if self.input.pop().is_some() {
                    self.echo(b"\x08 \x08");
                }
            }
            0x20..=0x7e if self.input.len() < INPUT_LIMIT => {
                self.input.push(b);
                self.echo(&[b]);
            }
            0x20..=0x7e => self.counters.input_overflows += 1,
            _ => {}
        }
    }

    /// Echoes typed input, within the same bound as all output (a stalled line must not make
    /// the queue grow without end while input keeps coming).
    fn echo(&mut self, bytes: &[u8]) {
        if self.out.len() + bytes.len() <= OUT_LIMIT {
            self.out.extend(bytes.iter().copied());
        }
    }

    fn command(&mut self, line: &[u8]) {
        self.counters.commands += 1;
        let text = core::str::from_utf8(line).unwrap_or("");
        match text.trim() {
            "help" => {
                self.say(format_args!("commands:"));
                self.say(format_args!("  status    each PD's state; per peer: endpoint, latest handshake, transfer"));
                self.say(format_args!("  counters  each PD's counters: packets, drops by reason (<pd> <counter> <value>)"));
                self.say(format_args!("  counters PD   one PD's counters (a name from status, or serial)"));
                self.say(format_args!("  drops     every drop counter that is not zero"));
                self.say(format_args!("  help      this list"));
            }
            "status" => self.status(),
            "counters" => self.counters_all(),
            "drops" => self.drops(),
            other if other.starts_with("counters ") => self.counters_of(other["counters ".len()..].trim()),
            other => {
                self.counters.unknown_commands += 1;
                let shown: String = other.chars().take(32).collect();
                self.say(format_args!("unknown command {shown:?}; try help"));
            }
        }
    }

    /// Copies PD `i`'s latest whole snapshot into `buf` (while the PD is publishing, the one
    /// before it): its length and age in ms, or why there is none.
    fn snapshot(&mut self, i: usize, buf: &mut [u8]) -> Result<(usize, u64), StatusError> {
        let (len, published_ns) = match self.pages[i].reader.read(buf) {
            Ok(s) => {
                let (text, at) = &mut self.previous[i];
                text.clear();
                text.extend_from_slice(&buf[..s.len]);
                *at = s.published_ns;
                self.seen_ns[i] = s.published_ns;
                (s.len, s.published_ns)
            }
            Err(StatusError::Busy) if self.previous[i].1 != 0 => {
                self.counters.status_previous_shown += 1;
                let (text, at) = &self.previous[i];
                let len = text.len().min(buf.len());
                buf[..len].copy_from_slice(&text[..len]);
                (len, *at)
            }
            Err(e) => return Err(e),
        };
        let age_ms = pd_api::now_ns().saturating_sub(published_ns) / 1_000_000;
        Ok((len, age_ms))
    }

    fn status(&mut self) {
        let mut buf = alloc::vec![0u8; PAGE_BYTES];
        // Why the encryptor cannot pass traffic now, for the summary line.
        let mut not_ready: Vec<String> = Vec::new();
        for i in 0..self.pages.len() {
            let pd = self.pages[i].pd.clone();
            if let Some((_, kind)) = self.faults.iter().find(|(p, _)| *p == pd) {
                let kind = kind.clone();
                self.say(format_args!("pd {pd} FAULTED ({kind})"));
                not_ready.push(alloc::format!("{pd} faulted"));
                continue;
            }
            match self.snapshot(i, &mut buf) {
                Ok((_, age_ms)) if self.not_answering[i] => {
                    self.say(format_args!("pd {pd} NOT ANSWERING (status {age_ms} ms old)"));
                    not_ready.push(alloc::format!("{pd} not answering"));
                }
                Ok((len, age_ms)) => {
                    match self.restarts.iter().find(|(p, _)| *p == pd).map(|r| r.1) {
                        Some(n) => self.say(format_args!(
                            "pd {pd} running (status {age_ms} ms old; restarted {n} time{} after faults)",
                            if n == 1 { "" } else { "s" }
                        )),
                        None => self.say(format_args!("pd {pd} running (status {age_ms} ms old)")),
                    }
                    let text = core::str::from_utf8(&buf[..len]).unwrap_or("");
                    for line in text.lines().filter_map(|l| l.strip_prefix("status ")) {
                        self.say(format_args!("{pd} {line}"));
                        if line.contains("link DOWN") {
                            not_ready.push(alloc::format!("{pd} link down"));
                        }
                        if line.starts_with("refused to start") {
                            not_ready.push(alloc::format!("{pd} refused to start"));
                        }
                        if line.ends_with("not initiating handshakes") {
                            not_ready.push(alloc::format!("{pd} wall clock before its build"));
                        }
                    }
                }
                Err(e) => {
                    self.say(format_args!("pd {pd} running? (status page: {e})"));
                    not_ready.push(alloc::format!("{pd} not reporting"));
                }
            }
        }
        let unlisted: Vec<_> = self.faults.iter().filter(|(p, _)| !self.pages.iter().any(|g| g.pd == *p)).cloned().collect();
        for (pd, kind) in unlisted {
            self.say(format_args!("pd {pd} FAULTED ({kind})"));
            not_ready.push(alloc::format!("{pd} faulted"));
        }
        if not_ready.is_empty() {
            self.say(format_args!("encryptor ready"));
        } else {
            self.say(format_args!("encryptor NOT READY: {}", not_ready.join(", ")));
        }
    }

    /// Every PD's `(pd, counter, value)`, the serial PD's own last; a PD without a readable
    /// snapshot gives `(pd, why, None)`.
    fn all_counters(&mut self) -> Vec<(String, String, Option<u64>)> {
        let mut buf = alloc::vec![0u8; PAGE_BYTES];
        let mut all = Vec::new();
        for i in 0..self.pages.len() {
            let pd = self.pages[i].pd.clone();
            match self.snapshot(i, &mut buf) {
                Ok((len, _)) => {
                    let text = core::str::from_utf8(&buf[..len]).unwrap_or("");
                    for line in text.lines().filter_map(|l| l.strip_prefix("counter ")) {
                        let (name, value) = line.split_once(' ').unwrap_or((line, ""));
                        all.push((pd.clone(), String::from(name), value.parse().ok()));
                    }
                }
                Err(e) => all.push((pd.clone(), alloc::format!("(no counters: {e})"), None)),
            }
        }
        let log_dropped = self.log.as_ref().map_or(0, |l| l.dropped());
        all.push((String::from("serial"), String::from("console_log_dropped"), Some(log_dropped)));
        self.counters.report(&mut |name, value| all.push((String::from("serial"), String::from(name), Some(value))));
        all
    }

    /// `counters PD`: one PD's counters, then how many there were.
    fn counters_of(&mut self, pd: &str) {
        let mine: Vec<_> = self.all_counters().into_iter().filter(|(p, _, _)| p == pd).collect();
        if mine.is_empty() {
            let names: Vec<_> = self.pages.iter().map(|p| p.pd.as_str()).collect();
            let shown: String = pd.chars().take(32).collect();
            self.say(format_args!("no PD {shown:?} (PDs: {}, serial)", names.join(", ")));
            return;
        }
        for row in &mine {
            self.say_counter(row);
        }
        self.say(format_args!("{} counters of {pd}", mine.len()));
    }

    /// `drops`: the drop counters that are not zero, then how many there were.
    fn drops(&mut self) {
        let nonzero: Vec<_> = self
            .all_counters()
            .into_iter()
            .filter(|(_, name, v)| (name.starts_with("drop_") || name.ends_with("_dropped")) && v.is_some_and(|v| v > 0))
            .collect();
        for row in &nonzero {
            self.say_counter(row);
        }
        self.say(format_args!("{} drop counters above zero", nonzero.len()));
    }

    fn counters_all(&mut self) {
        for row in &self.all_counters() {
            self.say_counter(row);
        }
    }

    /// One `<pd> <counter> <value>` line (or `<pd> (no counters: why)`).
    fn say_counter(&mut self, (pd, name, value): &(String, String, Option<u64>)) {
        match value {
            Some(v) => self.say(format_args!("{pd} {name} {v}")),
            None => self.say(format_args!("{pd} {name}")),
        }
    }
}
