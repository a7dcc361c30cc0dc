//! The descriptor-queue engine every driver shares: posting receive buffers, taking received
//! frames back (multi-buffer frames and error frames counted and re-posted), queueing frames for
//! transmit and reclaiming them, with the tail-register write batched once per call.
//!
//! A driver supplies only its descriptor format ([`DescFormat`]) and its tail registers; the
//! buffers are the caller's and only lent (see the crate documentation), so a buffer may be a
//! slot of a PD ring and frames move without a copy. Everything a device wrote back is checked
//! before it is believed: a length beyond the buffer posted is a counted drop, never a frame.

use crate::ring::DescRing;
use crate::{Buffer, Counters, Hal, InitError, MAX_FRAME_LEN};
use core::marker::PhantomData;

/// What the device wrote back into a receive descriptor, once it is done with it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RxDone {
    /// Bytes written into the buffer (FCS stripped).
    pub len: u16,
    /// The last buffer of the frame.
    pub eop: bool,
    /// The device marked the frame bad (CRC, symbol, length or other receive errors).
    pub error: bool,
}

/// A device family's 16-byte descriptor format: how its descriptors are written and how its
/// write-back is read. All of what the drivers need from a write-back sits in the upper eight
/// bytes (`hi`) on every family this project drives.
pub trait DescFormat {
    /// The receive descriptor (`lo`, `hi`) that posts `buffer` (its capacity is `buffer.len`).
    fn rx_desc(buffer: &Buffer) -> (u64, u64);

    /// The receive write-back, or `None` while the device has not written this descriptor back.
    fn rx_done(hi: u64) -> Option<RxDone>;

    /// The transmit descriptor (`lo`, `hi`) that sends `frame`, one frame per descriptor, with
    /// the FCS appended by the device and status written back.
    fn tx_desc(frame: &Buffer) -> (u64, u64);

    /// Whether the device has written a transmit descriptor back (sent it).
    fn tx_done(hi: u64) -> bool;

    /// The shortest frame the device may be given to send (it pads to 60 bytes itself); a
    /// shorter one is refused like an empty one.
    const MIN_TX_LEN: u32 = 1;
}

/// A receive queue of `N` descriptors of format `F` whose tail register is `tail_reg`.
pub struct RxQueue<F: DescFormat, const N: usize> {
    ring: DescRing<N>,
    tail_reg: usize,
    buffer_size: usize,
    /// The current frame spans several buffers (longer than one buffer): dropped to its EOP.
    discarding: bool,
    /// Where [`RxQueue::newly_done`] last saw the written-back descriptors end.
    done_mark: usize,
    _format: PhantomData<F>,
}

impl<F: DescFormat, const N: usize> RxQueue<F, N> {
    /// A queue in fresh DMA memory (aligned to `align`) for buffers of `buffer_size` bytes (what
    /// the device is told it may write); nothing is posted until [`RxQueue::post`].
    pub fn new<H: Hal + ?Sized>(hal: &mut H, align: usize, tail_reg: usize, buffer_size: usize) -> Result<Self, InitError> {
        Ok(Self { ring: DescRing::new(hal, align)?, tail_reg, buffer_size, discarding: false, done_mark: 0, _format: PhantomData })
    }

    /// Physical address of the ring (for the base-address registers).
    pub fn phys(&self) -> u64 {
        self.ring.phys()
    }

    /// Ring length in bytes (for the length register).
    pub fn bytes(&self) -> u32 {
        self.ring.bytes()
    }

    /// The capacity every posted buffer must have.
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// How many more buffers the ring can take.
    pub fn room(&self) -> usize {
        self.ring.room()
    }

    /// Whether the device wrote descriptors back since the last call: for a device whose
    /// interrupt cause does not say which queue fired.
    pub fn newly_done(&mut self) -> bool {
        let end = self.ring.done_end(|hi| F::rx_done(hi).is_some());
        core::mem::replace(&mut self.done_mark, end) != end
    }

    /// Posts buffers from the front of `buffers`, in order, until the ring is full or a buffer
    /// is smaller than the buffer size; returns how many. One tail write for the batch.
    pub fn post<H: Hal + ?Sized>(&mut self, hal: &H, buffers: &[Buffer]) -> usize {
        let mut posted = 0;
        for buffer in buffers {
            if self.ring.room() == 0 || (buffer.len as usize) < self.buffer_size {
                break;
            }
            let (lo, hi) = F::rx_desc(buffer);
            self.ring.push(*buffer, lo, hi);
            posted += 1;
        }
        if posted > 0 {
            self.publish(hal);
        }
        posted
    }

    fn publish<H: Hal + ?Sized>(&self, hal: &H) {
        self.ring.publish();
        hal.write32(self.tail_reg, self.ring.tail());
    }

    /// Moves received frames into `out` (each buffer's `len` now the frame's length), in
    /// arrival order, and returns how many. A frame that spans buffers, one the device marked
    /// bad, and one whose written length exceeds its buffer are counted and their buffers
    /// posted again, never returned.
    pub fn poll<H: Hal + ?Sized>(&mut self, hal: &H, out: &mut [Buffer], counters: &mut Counters) -> usize {
        let mut filled = 0;
        let mut reposted = false;
        // At most a ring's worth of drops per call: a device that writes DD into descriptors it
        // was never given back (the dropped ones, re-posted below) cannot keep the PD here. Good
        // frames do not count, so a burst of bad ones does not leave good ones behind.
        let mut dropped = 0;
        while filled < out.len() && dropped < N {
            let Some(done) = self.ring.peek_status().and_then(F::rx_done) else { break };
            let mut buffer = self.ring.pop();
            let drop = if self.discarding || !done.eop {
                // A fragment of a frame longer than one buffer: count it once, drop to its EOP.
                if !self.discarding {
                    counters.rx_oversize += 1;
                }
                self.discarding = !done.eop;
                true
            } else if done.error {
                counters.rx_errors += 1;
                true
            } else if usize::from(done.len) > buffer.len as usize || usize::from(done.len) > self.buffer_size {
                // A device (or a corrupted descriptor) claiming more than it was given.
                counters.rx_oversize += 1;
                true
            } else {
                false
            };
            if drop {
                dropped += 1;
                // The slot was just taken back, so there is room.
                let (lo, hi) = F::rx_desc(&buffer);
                self.ring.push(buffer, lo, hi);
                reposted = true;
                continue;
            }
            buffer.len = u32::from(done.len);
            out[filled] = buffer;
            filled += 1;
            counters.rx_frames += 1;
            counters.rx_bytes += u64::from(done.len);
        }
        if reposted {
            self.publish(hal);
        }
        filled
    }
}

/// A transmit queue of `N` descriptors of format `F` whose tail register is `tail_reg`.
pub struct TxQueue<F: DescFormat, const N: usize> {
    ring: DescRing<N>,
    tail_reg: usize,
    /// Where [`TxQueue::newly_done`] last saw the written-back descriptors end.
    done_mark: usize,
    _format: PhantomData<F>,
}

impl<F: DescFormat, const N: usize> TxQueue<F, N> {
    /// A queue in fresh DMA memory (aligned to `align`).
    pub fn new<H: Hal + ?Sized>(hal: &mut H, align: usize, tail_reg: usize) -> Result<Self, InitError> {
        Ok(Self { ring: DescRing::new(hal, align)?, tail_reg, done_mark: 0, _format: PhantomData })
    }

    /// Physical address of the ring (for the base-address registers).
    pub fn phys(&self) -> u64 {
        self.ring.phys()
    }

    /// Ring length in bytes (for the length register).
    pub fn bytes(&self) -> u32 {
        self.ring.bytes()
    }

    /// How many more frames the ring can take; 0 is backpressure.
    pub fn room(&self) -> usize {
        self.ring.room()
    }

    /// The shortest frame [`TxQueue::submit`] takes ([`DescFormat::MIN_TX_LEN`], at least 1).
    pub fn min_len(&self) -> usize {
        F::MIN_TX_LEN.max(1) as usize
    }

    /// Queues frames from the front of `frames`, in order, until the ring is full or a frame's
    /// length is below the format's [`DescFormat::MIN_TX_LEN`] (0 always is) or above
    /// [`MAX_FRAME_LEN`]; returns how many. One tail write for the batch.
    pub fn submit<H: Hal + ?Sized>(&mut self, hal: &H, frames: &[Buffer], counters: &mut Counters) -> usize {
        let mut queued = 0;
        for frame in frames {
            if self.ring.room() == 0 || frame.len == 0 || frame.len < F::MIN_TX_LEN || frame.len as usize > MAX_FRAME_LEN {
                break;
            }
            let (lo, hi) = F::tx_desc(frame);
            self.ring.push(*frame, lo, hi);
            counters.tx_frames += 1;
            counters.tx_bytes += u64::from(frame.len);
            queued += 1;
        }
        if queued > 0 {
            self.ring.publish();
            hal.write32(self.tail_reg, self.ring.tail());
        }
        queued
    }

    /// Whether the device finished frames since the last call (see [`RxQueue::newly_done`]).
    pub fn newly_done(&mut self) -> bool {
        let end = self.ring.done_end(F::tx_done);
        core::mem::replace(&mut self.done_mark, end) != end
    }

    /// Moves the buffers the device has sent into `out`, in submit order; returns how many.
    pub fn reclaim(&mut self, out: &mut [Buffer], counters: &mut Counters) -> usize {
        let mut done = 0;
        while done < out.len() {
            let Some(hi) = self.ring.peek_status() else { break };
            if !F::tx_done(hi) {
                break;
            }
            out[done] = self.ring.pop();
            done += 1;
        }
        counters.tx_completed += done as u64;
        done
    }
}

/// The `Nic` methods that are a driver's descriptor queues', for the driver's `impl Nic` block:
/// it names its fields `hal`, `rx` (an [`RxQueue`]), `tx` (a [`TxQueue`]) and `counters`.
#[macro_export]
macro_rules! queue_methods {
    () => {
        fn rx_buffer_size(&self) -> usize {
            self.rx.buffer_size()
        }

        fn rx_room(&self) -> usize {
            self.rx.room()
        }

        fn rx_post(&mut self, buffers: &[$crate::Buffer]) -> usize {
            self.rx.post(&self.hal, buffers)
        }

        fn rx_poll(&mut self, out: &mut [$crate::Buffer]) -> usize {
            self.rx.poll(&self.hal, out, &mut self.counters)
        }

        fn tx_room(&self) -> usize {
            self.tx.room()
        }

        fn tx_min_len(&self) -> usize {
            self.tx.min_len()
        }

        fn tx_submit(&mut self, frames: &[$crate::Buffer]) -> usize {
            self.tx.submit(&self.hal, frames, &mut self.counters)
        }

        fn tx_reclaim(&mut self, out: &mut [$crate::Buffer]) -> usize {
            self.tx.reclaim(out, &mut self.counters)
        }
    };
}
