//! The wall clock at boot, from the PC's CMOS real-time clock (ports 0x70/0x71), so that PDs can
//! tell wall-clock time (WireGuard's handshake timestamps must grow across reboots).

use sel4_abi::CPtr;

const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;

fn read(ioport: CPtr, register: u8) -> Option<u8> {
    // Bit 7 of the index port would disable NMIs; keep it clear.
    sel4_abi::ioport_out8(ioport, INDEX, register & 0x7f).ok()?;
    sel4_abi::ioport_in8(ioport, DATA).ok()
}

/// Days from 1970-01-01 to year-month-day (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the Unix epoch now, or None if the RTC cannot be read or makes no sense.
/// The RTC keeps UTC on QEMU and on servers set up for Linux.
pub fn unix_ns(ioport: CPtr) -> Option<u64> {
    // Wait out an update in progress (status A bit 7), then read twice until stable.
    let snapshot = || -> Option<[u8; 7]> {
        for _ in 0..100_000 {
            if read(ioport, 0x0a)? & 0x80 == 0 {
                break;
            }
        }
        Some([read(ioport, 0x00)?, read(ioport, 0x02)?, read(ioport, 0x04)?, read(ioport, 0x07)?, read(ioport, 0x08)?, read(ioport, 0x09)?, read(ioport, 0x32)?])
    };
    let mut t = snapshot()?;
    for _ in 0..4 {
        let again = snapshot()?;
        if again == t {
            break;
        }
        t = again;
    }
    let status_b = read(ioport, 0x0b)?;
    let bcd = status_b & 0x04 == 0;
    let decode = |v: u8| if bcd { (v >> 4) * 10 + (v & 0x0f) } else { v } as i64;
    let [sec, min, hour_raw, day, month, year, century] = t;
    let mut hour = decode(hour_raw & 0x7f);
    if status_b & 0x02 == 0 {
        // 12-hour clock: 12 AM is midnight (hour 0), 12 PM noon; bit 7 says PM.
        hour = hour % 12 + if hour_raw & 0x80 != 0 { 12 } else { 0 };
    }
    let century = match decode(century) {
        19..=21 => decode(century),
        _ => 20,
    };
    let year = century * 100 + decode(year);
    let (month, day, min, sec) = (decode(month), decode(day), decode(min), decode(sec));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    u64::try_from(secs).ok().map(|s| s * 1_000_000_000)
}

/// Starts the RTC's periodic interrupt at 8 Hz (status A's rate 13 on the 32.768 kHz time base;
/// status B's PIE), for the root task's restart timer.
pub fn periodic_start(ioport: CPtr) {
    let Some(a) = read(ioport, 0x0a) else { return };
    write(ioport, 0x0a, (a & 0xf0) | 13);
    let Some(b) = read(ioport, 0x0b) else { return };
    write(ioport, 0x0b, b | 0x40);
    periodic_ack(ioport);
}

/// Reads status C, which the RTC needs before it raises its interrupt again.
pub fn periodic_ack(ioport: CPtr) {
    let _ = read(ioport, 0x0c);
}

fn write(ioport: CPtr, register: u8, value: u8) {
    let _ = sel4_abi::ioport_out8(ioport, INDEX, register & 0x7f);
    let _ = sel4_abi::ioport_out8(ioport, DATA, value);
}
