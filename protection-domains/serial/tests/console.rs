//! The serial PD's console on the host: a model 16550 in front, real console-log and status-page
//! memory behind (pd-console's writers fill them as the root task and the PD runtime do).

use pd_console::log::{LogReader, LogWriter, Source};
use pd_console::status::{StatusReader, StatusWriter};
use pd_serial::{Console, Ports, StatusPage, Uart16550, OUT_LIMIT};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::rc::Rc;

/// A 16550 model: a receive buffer the test types into, a 16-byte transmit FIFO the wire
/// drains, and IER/IIR as the datasheet has them (transmit-empty is a cause only while enabled).
#[derive(Default)]
struct Model {
    rx: VecDeque<u8>,
    tx_fifo: VecDeque<u8>,
    wire: Vec<u8>,
    ier: u8,
    mcr: u8,
    fifo_overruns: u32,
}

impl Model {
    /// The line sends everything in the FIFO.
    fn drain_wire(&mut self) {
        self.wire.extend(self.tx_fifo.drain(..));
    }
}

#[derive(Clone, Default)]
struct Uart(Rc<RefCell<Model>>);

impl Ports for Uart {
    fn read(&self, offset: u16) -> u8 {
        let mut m = self.0.borrow_mut();
        match offset {
            0 => m.rx.pop_front().unwrap_or(0),
            1 => m.ier,
            2 => {
                let rx_cause = m.ier & 1 != 0 && !m.rx.is_empty();
                let tx_cause = m.ier & 2 != 0 && m.tx_fifo.is_empty();
                if rx_cause {
                    0x04
                } else if tx_cause {
                    0x02
                } else {
                    0x01
                }
            }
            5 => u8::from(!m.rx.is_empty()) | if m.tx_fifo.is_empty() { 0x20 } else { 0 },
            _ => 0,
        }
    }
    fn write(&self, offset: u16, value: u8) {
        let mut m = self.0.borrow_mut();
        match offset {
            0 if m.tx_fifo.len() < 16 => m.tx_fifo.push_back(value),
            0 => m.fifo_overruns += 1,
            1 => m.ier = value,
            4 => m.mcr = value,
            _ => {}
        }
    }
}

/// Shared memory for a console log or a status page, which the test keeps alive.
struct Memory(Vec<u64>);

impl Memory {
    fn new(bytes: usize) -> Self {
        Self(vec![0; bytes / 8])
    }
    fn base(&mut self) -> NonNull<u8> {
        NonNull::new(self.0.as_mut_ptr().cast()).unwrap()
    }
    fn len(&self) -> usize {
        self.0.len() * 8
    }
}

struct Rig {
    memory: Vec<Memory>,
    log: LogWriter,
    pages: Vec<StatusWriter>,
    uart: Uart,
    driver: Uart16550<Uart>,
    console: Console,
}

fn rig(pds: &[&str]) -> Rig {
    let pd = pd_testkit::TestPd::new("serial");
    pd.set_now_ns(5_000_000_000);
    let mut memory = vec![Memory::new(0x10000)];
    let (base, len) = (memory[0].base(), memory[0].len());
    // SAFETY: the memory outlives the writer and reader (both in the rig) and is only reached
    // through them.
    let log = unsafe { LogWriter::init(base, len) }.unwrap();
    let reader = unsafe { LogReader::attach(base, len) }.unwrap();
    let mut pages = Vec::new();
    let mut status = Vec::new();
    for name in pds {
        let mut m = Memory::new(0x1000);
        let (base, len) = (m.base(), m.len());
        // SAFETY: as above.
        pages.push(unsafe { StatusWriter::new(base, len) }.unwrap());
        status.push(StatusPage { pd: name.to_string(), reader: unsafe { StatusReader::new(base, len) }.unwrap() });
        memory.push(m);
    }
    let uart = Uart::default();
    let driver = Uart16550::new(uart.clone());
    Rig { memory, log, pages, uart, driver, console: Console::new(Some(reader), status) }
}

impl Rig {
    /// One event: the PD drains the log and serves the UART; then the line sends the FIFO.
    /// Repeats while the UART interrupts (transmit-empty with output left), as the interrupt
    /// would wake the PD again; returns what appeared on the wire.
    fn run(&mut self) -> String {
        for _ in 0..100_000 {
            self.console.drain_log();
            self.driver.service(&mut self.console);
            let more = {
                let mut m = self.uart.0.borrow_mut();
                let pending = !m.tx_fifo.is_empty();
                m.drain_wire();
                pending || (m.ier & 2 != 0)
            };
            if !more {
                break;
            }
        }
        let wire = std::mem::take(&mut self.uart.0.borrow_mut().wire);
        String::from_utf8_lossy(&wire).into_owned()
    }

    fn type_line(&mut self, line: &str) -> String {
        self.uart.0.borrow_mut().rx.extend(line.bytes().chain(*b"\r"));
        self.run()
    }

    /// Leaves PD `pd`'s page as its writer does in the middle of publishing (sequence odd).
    fn catch_mid_publish(&mut self, pd: usize) {
        // memory[0] is the console log; the status pages follow in order. SEQ is word 0.
        self.memory[pd + 1].0[0] |= 1;
    }

    fn publish(&mut self, pd: usize, counters: &[(&str, u64)], status: &[&str]) {
        self.pages[pd].publish(4_900_000_000, |text| {
            use std::fmt::Write;
            for (name, value) in counters {
                let _ = writeln!(text, "counter {name} {value}");
            }
            for line in status {
                let _ = writeln!(text, "status {line}");
            }
        });
    }
}

#[test]
fn log_lines_reach_the_wire_in_order_through_the_16_byte_fifo() {
    let mut r = rig(&[]);
    for i in 0..50 {
        assert!(r.log.push(Source::Pd(1), format!("crypto: line {i} with some text to fill the fifo").as_bytes()));
    }
    let out = r.run();
    let lines: Vec<_> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 50);
    assert_eq!(lines[49], "crypto: line 49 with some text to fill the fifo");
    assert_eq!(r.uart.0.borrow().fifo_overruns, 0, "never more than 16 bytes into the FIFO");
    assert_eq!(r.uart.0.borrow().ier, 1, "transmit-empty interrupt off once the queue is empty");
    assert_eq!(r.uart.0.borrow().mcr & 0x08, 0x08, "OUT2 on: the interrupt reaches the bus");
    assert_eq!(r.console.counters.log_lines, 50);
}

#[test]
fn status_shows_each_pd_its_status_lines_and_a_fault_the_root_task_reported() {
    let mut r = rig(&["crypto", "net_black"]);
    r.publish(0, &[("sealed_packets", 7)], &["peer 0 abc= endpoint 192.0.2.2:51820"]);
    r.publish(1, &[("to_crypto", 3)], &[]);
    // A PD cannot fake another's fault: only the root task's line counts.
    r.log.push(Source::Pd(1), b"FAULT pd=crypto kind=vm-fault");
    r.log.push(Source::Root, b"FAULT pd=net_black kind=vm-fault addr=0x0");
    r.run();
    let out = r.type_line("status");
    assert!(out.contains("pd crypto running (status 100 ms old)"), "{out}");
    assert!(out.contains("crypto peer 0 abc= endpoint 192.0.2.2:51820"), "{out}");
    assert!(out.contains("pd net_black FAULTED (vm-fault)"), "{out}");
    assert!(!out.contains("pd crypto FAULTED"), "{out}");
    assert!(out.contains("encryptor NOT READY: net_black faulted\r\n"), "{out}");
}

#[test]
fn a_pd_the_root_task_restarted_runs_again_with_its_count() {
    let mut r = rig(&["timer", "crypto"]);
    r.publish(0, &[], &[]);
    r.publish(1, &[], &[]);
    r.log.push(Source::Root, b"FAULT pd=timer kind=vm-fault access=execute addr=0x0 ip=0x0");
    r.run();
    assert!(r.type_line("status").contains("pd timer FAULTED (vm-fault)"));
    r.log.push(Source::Root, b"RESTART pd=timer count=1");
    // Only the root task restarts PDs: a PD's line claiming one changes nothing.
    r.log.push(Source::Pd(1), b"RESTART pd=crypto count=7");
    r.run();
    let out = r.type_line("status");
    assert!(out.contains("pd timer running (status 100 ms old; restarted 1 time after faults)"), "{out}");
    assert!(out.contains("pd crypto running (status 100 ms old)\r\n"), "{out}");
    assert!(!out.contains("FAULTED"), "{out}");
    r.log.push(Source::Root, b"FAULT pd=timer kind=vm-fault access=execute addr=0x0 ip=0x0");
    r.log.push(Source::Root, b"RESTART pd=timer count=2");
    r.run();
    assert!(r.type_line("status").contains("restarted 2 times after faults"));
}

#[test]
fn status_ends_with_whether_the_encryptor_can_pass_traffic() {
    let mut r = rig(&["net_red", "crypto", "net_black"]);
    r.publish(0, &[], &["port 00:25:90:00:00:00 link up 1000 Mbit/s"]);
    r.publish(1, &[], &[]);
    r.publish(2, &[], &["port 00:25:90:00:00:01 link up 1000 Mbit/s"]);
    assert!(r.type_line("status").contains("encryptor ready\r\n"));
    // The black cable pulled: the stack's status says so, and the summary names it.
    r.publish(2, &[], &["port 00:25:90:00:00:01 link DOWN"]);
    let out = r.type_line("status");
    assert!(out.contains("net_black port 00:25:90:00:00:01 link DOWN"), "{out}");
    assert!(out.contains("encryptor NOT READY: net_black link down\r\n"), "{out}");
    // A wall clock from before the build: crypto initiates nothing, and the summary says why.
    r.publish(2, &[], &["port 00:25:90:00:00:01 link up 1000 Mbit/s"]);
    r.publish(1, &[], &["wall clock 3 s since 1970 (none: the CMOS RTC could not be read at boot) is before this build (1796000000): not initiating handshakes"]);
    let out = r.type_line("status");
    assert!(out.contains("encryptor NOT READY: crypto wall clock before its build\r\n"), "{out}");
}

#[test]
fn counters_one_pd_and_drops_above_zero() {
    let mut r = rig(&["net_red", "crypto"]);
    r.publish(0, &[("to_crypto", 5), ("drop_policy", 2), ("drop_ttl", 0)], &[]);
    r.publish(1, &[("drop_replay", 9)], &[]);
    let all = r.type_line("counters");
    assert!(all.contains("net_red to_crypto 5\r\n") && all.contains("crypto drop_replay 9\r\n"), "{all}");
    assert!(all.contains("serial commands 1\r\n"), "the serial PD's own counters come last: {all}");
    let one = r.type_line("counters crypto");
    assert!(one.contains("crypto drop_replay 9") && !one.contains("net_red"), "{one}");
    assert!(one.contains("1 counters of crypto"), "{one}");
    let drops = r.type_line("drops");
    assert!(drops.contains("net_red drop_policy 2") && drops.contains("crypto drop_replay 9"), "{drops}");
    assert!(!drops.contains("drop_ttl"), "zero drops are left out: {drops}");
    assert!(drops.contains("2 drop counters above zero"), "{drops}");
    let none = r.type_line("counters nobody");
    assert!(none.contains("no PD \"nobody\" (PDs: net_red, crypto, serial)"), "{none}");
}

#[test]
fn typing_is_echoed_edited_bounded_and_unknown_commands_are_named() {
    let mut r = rig(&[]);
    let out = r.type_line("hepx\x7f\x08lp");
    assert!(out.starts_with("hepx\x08 \x08\x08 \x08lp\r\n"), "{out:?}");
    assert!(out.contains("commands:"), "{out}");
    let out = r.type_line(&"x".repeat(200));
    assert_eq!(r.console.counters.input_overflows, 72, "past 128 characters nothing is taken");
    assert!(out.contains(&format!("unknown command \"{}\"", "x".repeat(32))), "shown cut to 32: {out}");
    r.type_line("\u{1b}[Astatus");
    assert_eq!(r.console.counters.unknown_commands, 2, "control characters are not taken as text");
}

#[test]
fn output_is_bounded_and_whole_lines_beyond_it_are_counted() {
    let mut r = rig(&[]);
    // The line is stalled: nothing leaves the FIFO while lines keep coming.
    for i in 0..5000 {
        r.console.say(format_args!("line {i:05} of a long report that does not fit the output queue"));
    }
    let kept = 5000 - r.console.counters.out_lines_dropped as usize;
    let line = "line 00000 of a long report that does not fit the output queue\r\n".len();
    assert!(kept * line <= OUT_LIMIT && (kept + 1) * line > OUT_LIMIT, "kept {kept} lines of {line} bytes");
    let out = r.run();
    assert_eq!(out.split("\r\n").filter(|l| !l.is_empty()).count(), kept, "every kept line whole");
}

#[test]
fn the_watchdog_names_a_pd_that_stops_publishing_once_and_again_when_it_answers() {
    use pd_serial::WATCHDOG_MS;
    let mut r = rig(&["net_red", "crypto", "timer"]);
    let start = 4_900_000_000;
    for pd in 0..3 {
        r.publish(pd, &[], &[]);
    }
    // At the limit: nothing to say.
    r.console.watchdog(start + WATCHDOG_MS * 1_000_000);
    assert_eq!(r.run(), "");
    // crypto keeps publishing, net_red does not; the timer faulted (the root task's to report).
    let later = start + (WATCHDOG_MS + 500) * 1_000_000;
    r.pages[1].publish(later - 100_000_000, |_| {});
    r.log.push(Source::Root, b"FAULT pd=timer kind=vm-fault addr=0x0");
    assert!(r.run().contains("FAULT pd=timer"));
    r.console.watchdog(later);
    r.console.watchdog(later + 100_000_000);
    let out = r.run();
    assert_eq!(out.matches("watchdog:").count(), 1, "said once: {out}");
    assert!(out.contains("watchdog: PD net_red has not published its status for 10500 ms: not answering\r\n"), "{out}");
    assert_eq!(r.console.counters.watchdog_not_answering, 1);
    let status = r.type_line("status");
    assert!(status.contains("pd net_red NOT ANSWERING (status "), "{status}");
    assert!(status.contains("pd crypto running"), "{status}");
    assert!(status.contains("encryptor NOT READY: net_red not answering, timer faulted\r\n"), "{status}");
    // It publishes again.
    r.pages[0].publish(later + 200_000_000, |_| {});
    r.console.watchdog(later + 300_000_000);
    assert_eq!(r.run(), "watchdog: PD net_red answers again\r\n");
    assert!(!r.type_line("status").contains("NOT ANSWERING"));
}

#[test]
fn a_pd_caught_publishing_shows_its_previous_snapshot_and_still_grows_old() {
    use pd_serial::WATCHDOG_MS;
    let mut r = rig(&["net_red", "net_black"]);
    r.publish(0, &[("to_crypto", 5)], &[]);
    r.publish(1, &[("frags_reassembled", 3)], &["port 00:25:90:00:00:01 link up 1000 Mbit/s"]);
    // Nothing read yet: there is nothing earlier to show, and the console says why.
    r.catch_mid_publish(1);
    let all = r.type_line("counters");
    assert!(all.contains("net_black (no counters: being updated)"), "{all}");
    r.publish(1, &[("frags_reassembled", 4)], &["port 00:25:90:00:00:01 link up 1000 Mbit/s"]);
    assert!(r.type_line("counters").contains("net_black frags_reassembled 4\r\n"));
    // Caught again (net_black on another core, mid-write): the last whole snapshot, counted.
    r.catch_mid_publish(1);
    let all = r.type_line("counters");
    assert!(all.contains("net_black frags_reassembled 4\r\n") && all.contains("net_red to_crypto 5\r\n"), "{all}");
    assert!(all.contains("serial status_previous_shown 1\r\n"), "{all}");
    let status = r.type_line("status");
    assert!(status.contains("net_black port 00:25:90:00:00:01 link up") && status.contains("encryptor ready"), "{status}");
    // A PD stalled half-way through publishing still grows old for the watchdog.
    r.console.watchdog(4_900_000_000 + (WATCHDOG_MS + 1) * 1_000_000);
    assert!(r.run().contains("watchdog: PD net_black has not published its status for 10001 ms"));
}

#[test]
fn the_watchdog_judges_a_pd_caught_publishing_by_what_it_last_saw_itself() {
    use pd_serial::WATCHDOG_MS;
    let mut r = rig(&["net_red"]);
    let start = 4_900_000_000;
    r.publish(0, &[], &[]);
    // No command typed: only the watchdog's own ticks have read the page.
    r.console.watchdog(start + 1_000_000);
    // The PD keeps publishing; the watchdog sees each snapshot.
    let later = start + (WATCHDOG_MS + 5_000) * 1_000_000;
    r.pages[0].publish(later - 100_000_000, |_| {});
    r.console.watchdog(later);
    // Then it is caught mid-publish at a tick: judged by the snapshot seen at `later`, so
    // not late, not reported.
    r.catch_mid_publish(0);
    r.console.watchdog(later + 200_000_000);
    assert_eq!(r.run(), "", "a healthy PD caught publishing is not reported");
    // And if it stays stalled there, it grows old and is reported once.
    r.console.watchdog(later + (WATCHDOG_MS + 1) * 1_000_000);
    assert!(r.run().contains("watchdog: PD net_red has not published its status for 10101 ms: not answering"));
}
