//! The system.xml reader and the isolation check on arbitrary text. Oracles: no
//! panic; the check returns a report for every system the reader accepts.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match sdf::System::parse(text) {
        Ok(sys) => {
            let report = sdf::isolation::check(&sys);
            let _ = report.ok();
            let _ = format!("{report:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
