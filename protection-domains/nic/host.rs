//! The NIC PD on the host runtime: a TAP device stands in for the NIC, and this PD moves
//! Ethernet frames between it and its ring link to the stack PD ("net"), copying each frame
//! once. Compiled into platforms/host as its module `tap` (it uses the host platform's
//! `HostPd` and waits on the TAP device's file descriptor).

use crate::platform::{HostPd, STOP};
use pd_api::Channel;
use pd_ring::{Link, SLOT_SIZE};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;

/// Channel to the stack PD.
pub const NET: Channel = Channel::new(0);
/// Frames moved per direction before the other direction gets a turn.
const BATCH: usize = 64;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;

pd_api::counters! {
    /// What a TAP PD moved, and what it dropped.
    pub struct Counters {
        /// Frames read from the TAP device into the ring.
        rx_frames,
        /// Frames written from the ring to the TAP device.
        tx_frames,
        /// Writes the TAP device refused.
        tx_errors,
        /// Ring errors from the stack PD.
        ring_errors,
        /// Times the ring to the stack PD was full.
        rx_ring_full,
    }
}

/// Opens the existing TAP device `name` (non-blocking, no packet information header).
pub fn open(name: &str) -> io::Result<OwnedFd> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name {name:?}")));
    }
    // SAFETY: a plain open of a NUL-terminated path; the result is checked.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // struct ifreq: 16 bytes of name, then the flags (short) in the union.
    let mut ifr = [0u8; 40];
    ifr[..name.len()].copy_from_slice(name.as_bytes());
    let flags = (libc::IFF_TAP | libc::IFF_NO_PI) as i16;
    ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: TUNSETIFF reads and writes a struct ifreq, which ifr is large enough for.
    if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, ifr.as_mut_ptr()) } < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")));
    }
    Ok(fd)
}

/// Runs the TAP PD until shutdown; returns its counters.
pub fn run(pd: &'static HostPd, tap: OwnedFd) -> Result<Counters, String> {
    let mut link = Link::open("net", NET).map_err(|e| format!("{}: {e}", pd.name))?;
    let mut c = Counters::default();
    let mut buf = Box::new([0u8; SLOT_SIZE]);
    let fd = tap.as_raw_fd();
    while !STOP.load(Ordering::Relaxed) {
        // TAP → ring.
        let mut starved = false;
        for _ in 0..BATCH {
            if !link.tx.has_room() {
                link.tx.request_free_signal();
                if !link.tx.has_room() {
                    c.rx_ring_full += 1;
                    starved = true;
                    break;
                }
            }
            let sent = link.tx.send_with(|slot| {
                // SAFETY: reads at most the slot's length into the slot.
                let n = unsafe { libc::read(fd, slot.as_mut_ptr().cast(), slot.len()) };
                (n > 0).then_some(n as usize)
            });
            match sent {
                Ok(true) => c.rx_frames += 1,
                Ok(false) => break,
                Err(_) => {
                    c.ring_errors += 1;
                    break;
                }
            }
        }
        // Ring → TAP.
        for _ in 0..BATCH {
            match link.rx.recv(&mut buf) {
                Ok(Some(n)) => {
                    // SAFETY: writes n ≤ SLOT_SIZE initialised bytes from buf.
                    let w = unsafe { libc::write(fd, buf.as_ptr().cast(), n) };
                    if w == n as isize {
                        c.tx_frames += 1;
                    } else {
                        c.tx_errors += 1;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    c.ring_errors += 1;
                    break;
                }
            }
        }
        link.signal_peer();
        if link.arm() {
            continue;
        }
        // Sleep until the TAP has a frame (unless the ring is full) or the stack PD signals.
        let mut fds = [
            libc::pollfd { fd, events: if starved { 0 } else { libc::POLLIN }, revents: 0 },
            libc::pollfd { fd: pd.signal.fd(), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: polls two valid pollfd entries.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 500) };
        if fds[1].revents & libc::POLLIN != 0 {
            pd.signal.drain_fd();
            pd.signal.take();
        }
    }
    Ok(c)
}
