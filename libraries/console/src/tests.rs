use crate::log::{LogError, LogReader, LogWriter, Source, MAX_LINE, MIN_REGION};
use crate::status::{StatusError, StatusReader, StatusWriter};
use core::fmt::Write as _;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

extern crate std;
use std::vec;
use std::vec::Vec;

/// An 8-aligned zeroed buffer standing in for a shared region.
fn region(bytes: usize) -> Vec<u64> {
    vec![0u64; bytes / 8]
}

fn base(r: &mut [u64]) -> NonNull<u8> {
    NonNull::new(r.as_mut_ptr() as *mut u8).unwrap()
}

fn word(r: &[u64], offset: usize) -> &AtomicU64 {
    // SAFETY: test-only view of an aligned element of the buffer.
    unsafe { &*(r.as_ptr().add(offset / 8) as *const AtomicU64) }
}

#[test]
fn log_lines_arrive_whole_in_order_with_their_source() {
    let mut r = region(4096);
    let b = base(&mut r);
    let mut w = unsafe { LogWriter::init(b, 4096) }.unwrap();
    let mut rd = unsafe { LogReader::attach(b, 4096) }.unwrap();
    let mut buf = [0u8; MAX_LINE];
    assert_eq!(rd.pop(&mut buf), Ok(None));
    // Enough lines to wrap the data area several times.
    for i in 0..500u16 {
        let text = std::format!("line {i} {}", "x".repeat(i as usize % 40));
        let source = if i % 3 == 0 { Source::Root } else { Source::Pd(i % 7) };
        assert!(w.push(source, text.as_bytes()));
        let line = rd.pop(&mut buf).unwrap().unwrap();
        assert_eq!(line.source, source);
        assert_eq!(&buf[..line.len], text.as_bytes());
    }
    assert_eq!(rd.pop(&mut buf), Ok(None));
    assert_eq!(w.dropped(), 0);
}

#[test]
fn a_full_log_drops_and_counts_instead_of_overwriting() {
    let mut r = region(MIN_REGION.next_multiple_of(8));
    let len = r.len() * 8;
    let b = base(&mut r);
    let mut w = unsafe { LogWriter::init(b, len) }.unwrap();
    let mut rd = unsafe { LogReader::attach(b, len) }.unwrap();
    let line = [b'a'; 300];
    let mut pushed = 0;
    while w.push(Source::Root, &line) {
        pushed += 1;
    }
    assert!(pushed >= 3);
    assert!(!w.push(Source::Pd(1), &line));
    assert_eq!(w.dropped(), 2);
    assert_eq!(rd.dropped(), 2);
    let mut buf = [0u8; MAX_LINE];
    for _ in 0..pushed {
        let l = rd.pop(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..l.len], &line[..]);
    }
    assert_eq!(rd.pop(&mut buf), Ok(None));
    // Room again once read.
    assert!(w.push(Source::Pd(1), b"after"));
}

#[test]
fn pds_cannot_fill_the_root_tasks_reserve() {
    let mut r = region(8192);
    let b = base(&mut r);
    let mut w = unsafe { LogWriter::init(b, 8192) }.unwrap();
    let line = [b'p'; 100];
    let mut pd_lines = 0;
    while w.push(Source::Pd(3), &line) {
        pd_lines += 1;
    }
    assert!(pd_lines > 40, "PDs get most of the ring ({pd_lines} lines)");
    // A quarter of the ring is still there for the root task's fault reports.
    let mut root_lines = 0;
    while w.push(Source::Root, &line) {
        root_lines += 1;
    }
    assert!(root_lines >= (8192 - 192) / 4 / 104, "{root_lines}");
    assert_eq!(w.dropped(), 2);
}

#[test]
fn over_long_lines_are_cut_to_max_line() {
    let mut r = region(8192);
    let b = base(&mut r);
    let mut w = unsafe { LogWriter::init(b, 8192) }.unwrap();
    let mut rd = unsafe { LogReader::attach(b, 8192) }.unwrap();
    assert!(w.push(Source::Root, &[b'z'; MAX_LINE + 100]));
    let mut buf = [0u8; MAX_LINE + 100];
    assert_eq!(rd.pop(&mut buf).unwrap().unwrap().len, MAX_LINE);
}

#[test]
fn a_corrupt_log_is_an_error_then_the_reader_resynchronises() {
    let mut r = region(4096);
    let b = base(&mut r);
    let mut w = unsafe { LogWriter::init(b, 4096) }.unwrap();
    let mut rd = unsafe { LogReader::attach(b, 4096) }.unwrap();
    let mut buf = [0u8; MAX_LINE];
    // A writer position far ahead of anything the ring holds.
    word(&r, 0).store(1 << 40, Ordering::Relaxed);
    assert_eq!(rd.pop(&mut buf), Err(LogError::CorruptPosition));
    assert_eq!(rd.pop(&mut buf), Ok(None));
    // A record header claiming more than MAX_LINE bytes.
    let mut w2 = unsafe { LogWriter::init(b, 4096) }.unwrap();
    let mut rd2 = unsafe { LogReader::attach(b, 4096) }.unwrap();
    assert!(w2.push(Source::Root, b"hello"));
    let data = 192 / 8;
    r[data] = (r[data] & !0xffff) | 0xfff0;
    assert_eq!(rd2.pop(&mut buf), Err(LogError::CorruptRecord));
    assert_eq!(rd2.pop(&mut buf), Ok(None));
    assert!(w2.push(Source::Root, b"again"));
    let l = rd2.pop(&mut buf).unwrap().unwrap();
    assert_eq!(&buf[..l.len], b"again");
    let _ = &mut w;
}

#[test]
fn a_reader_position_out_of_range_makes_the_writer_drop_not_overwrite() {
    let mut r = region(4096);
    let b = base(&mut r);
    let mut w = unsafe { LogWriter::init(b, 4096) }.unwrap();
    word(&r, 64).store(12345, Ordering::Relaxed);
    assert!(!w.push(Source::Root, b"x"));
    assert_eq!(w.dropped(), 1);
}

#[test]
fn status_snapshots_replace_each_other_whole() {
    let mut r = region(256);
    let b = base(&mut r);
    let mut w = unsafe { StatusWriter::new(b, 256) }.unwrap();
    let rd = unsafe { StatusReader::new(b, 256) }.unwrap();
    let mut buf = [0u8; 256];
    assert_eq!(rd.read(&mut buf), Err(StatusError::NotPublished));
    w.publish(7, |t| {
        let _ = writeln!(t, "rx_frames 3");
    });
    let s = rd.read(&mut buf).unwrap();
    assert_eq!((&buf[..s.len], s.published_ns), (&b"rx_frames 3\n"[..], 7));
    w.publish(9, |t| {
        let _ = writeln!(t, "rx_frames 4");
    });
    let s = rd.read(&mut buf).unwrap();
    assert_eq!((&buf[..s.len], s.published_ns), (&b"rx_frames 4\n"[..], 9));
}

#[test]
fn a_status_page_that_overflows_is_cut_and_marked() {
    let mut r = region(128);
    let b = base(&mut r);
    let mut w = unsafe { StatusWriter::new(b, 128) }.unwrap();
    let rd = unsafe { StatusReader::new(b, 128) }.unwrap();
    w.publish(1, |t| {
        for i in 0..100 {
            let _ = writeln!(t, "counter_{i} {i}");
        }
    });
    let mut buf = [0u8; 128];
    let s = rd.read(&mut buf).unwrap();
    assert_eq!(s.len, 64);
    assert!(buf[..s.len].ends_with(b"...\n"));
}

#[test]
fn text_formatted_beforehand_is_published_whole_or_cut_and_marked() {
    let mut r = region(128);
    let b = base(&mut r);
    let mut w = unsafe { StatusWriter::new(b, 128) }.unwrap();
    let rd = unsafe { StatusReader::new(b, 128) }.unwrap();
    // 128 bytes less the 64-byte header: 64 bytes of text.
    let mut buf = [0u8; 128];
    w.publish_text(3, "counter rx 1\n");
    let s = rd.read(&mut buf).unwrap();
    assert_eq!((&buf[..s.len], s.published_ns), (&b"counter rx 1\n"[..], 3));
    // One byte more than the page holds: cut, and the cut marked.
    let long = "x".repeat(65);
    w.publish_text(4, &long);
    let s = rd.read(&mut buf).unwrap();
    assert_eq!(s.len, 64);
    assert!(buf[..s.len].ends_with(b"...\n") && buf[..60].iter().all(|&c| c == b'x'));
    // Exactly what the page holds: whole, unmarked.
    w.publish_text(5, &long[1..]);
    let s = rd.read(&mut buf).unwrap();
    assert_eq!(&buf[..s.len], &long.as_bytes()[1..]);
}

#[test]
fn staged_text_takes_whole_pieces_then_marks_the_cut() {
    use crate::status::StagedText;
    let mut t = StagedText::<16>::new();
    let _ = write!(t, "ab{}", 12);
    assert_eq!(t.as_str(), "ab12");
    // 4 + 9 + the mark's 4 would pass 16: the piece is left out and the mark ends the text.
    let _ = write!(t, "123456789");
    assert_eq!(t.as_str(), "ab12...\n");
    let _ = write!(t, "x");
    assert_eq!(t.as_str(), "ab12...\n", "nothing after the cut");
    // Multi-byte characters stay whole: the text is always UTF-8.
    let mut t = StagedText::<8>::new();
    let _ = write!(t, "é");
    let _ = write!(t, "éé");
    assert_eq!(t.as_str(), "é...\n");
}

#[test]
fn a_torn_or_corrupt_status_page_is_reported_not_returned() {
    let mut r = region(256);
    let b = base(&mut r);
    let mut w = unsafe { StatusWriter::new(b, 256) }.unwrap();
    let rd = unsafe { StatusReader::new(b, 256) }.unwrap();
    w.publish(1, |t| {
        let _ = write!(t, "ok");
    });
    let mut buf = [0u8; 256];
    // A writer stuck mid-update (odd sequence).
    let seq = word(&r, 0).load(Ordering::Relaxed);
    word(&r, 0).store(seq + 1, Ordering::Relaxed);
    assert_eq!(rd.read(&mut buf), Err(StatusError::Busy));
    // A length beyond the page.
    word(&r, 0).store(seq + 2, Ordering::Relaxed);
    word(&r, 8).store(1 << 20, Ordering::Relaxed);
    assert_eq!(rd.read(&mut buf), Err(StatusError::Corrupt));
    assert!(unsafe { StatusReader::new(b, 64) }.is_err());
}

mod budget {
    use crate::budget::{Admit, LineBudget, BURST, LINES_PER_SECOND};
    extern crate std;
    use std::vec::Vec;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_burst_passes_then_the_rate_holds_and_drops_are_reported() {
        let mut b = LineBudget::new();
        // A PD logging 1000 lines as fast as it can: the burst only.
        let first: Vec<Admit> = (0..1000).map(|k| b.admit(1_000 * MS + k)).collect();
        assert!(first[..BURST as usize].iter().all(|&a| a == Admit::Yes));
        assert!(first[BURST as usize..].iter().all(|&a| a == Admit::No));
        // One line's worth of time later: one line, which says how many went before it.
        let later = 1_000 * MS + 1000 + 1_000 * MS / LINES_PER_SECOND;
        assert_eq!(b.admit(later), Admit::AfterDropping(900));
        assert_eq!(b.admit(later), Admit::No);
        // Ten seconds of a line every millisecond: about the rate gets through.
        let mut passed = 0;
        for k in 1..=10_000u64 {
            if b.admit(later + k * MS) != Admit::No {
                passed += 1;
            }
        }
        assert!((10 * LINES_PER_SECOND - 1..=10 * LINES_PER_SECOND + 1).contains(&passed), "{passed}");
    }

    #[test]
    fn a_quiet_source_gets_its_burst_back_and_time_going_backwards_costs_nothing() {
        let mut b = LineBudget::new();
        for _ in 0..BURST {
            assert_eq!(b.admit(5 * MS), Admit::Yes);
        }
        assert_eq!(b.admit(5 * MS), Admit::No);
        assert_eq!(b.admit(0), Admit::No, "a clock that goes back refills nothing");
        let refilled = 5 * MS + 3600 * 1_000 * MS;
        assert_eq!(b.admit(refilled), Admit::AfterDropping(2));
        for _ in 1..BURST {
            assert_eq!(b.admit(refilled), Admit::Yes);
        }
        assert_eq!(b.admit(refilled), Admit::No, "the bucket holds BURST lines, not an hour's worth");
        assert_eq!(b.admit(u64::MAX), Admit::AfterDropping(1), "no overflow at the clock's end");
    }
}
