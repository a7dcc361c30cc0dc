//! A driver under test over its register model: the HAL, the driver, and receive and transmit
//! buffers carved from the arena's data area, with the helpers every driver's tests use.

use crate::{Arena, DeviceModel, TestHal};
use nic_core::{Buffer, DmaRegion, Nic};
use std::cell::RefMut;

/// Size of the arena every rig uses.
pub const ARENA_BYTES: usize = 1 << 20;
/// The arena's first part, where `dma_alloc` takes descriptor rings from.
pub const DESC_AREA: usize = 256 << 10;
/// Where the buffers start.
pub const DATA_OFFSET: usize = 512 << 10;
/// Buffer size.
pub const SLOT: u32 = 2048;
/// Buffers in the data area, used round robin.
pub const SLOTS: u32 = 64;
/// The link partner's MAC in the frames the tests make.
pub const PEER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x77];

/// A model's DMA arena and a HAL over the model: what a driver is built on.
pub fn hal<M: DeviceModel>(model: impl FnOnce(std::rc::Rc<Arena>) -> M) -> TestHal<M> {
    let arena = Arena::new(ARENA_BYTES);
    let device = std::rc::Rc::new(std::cell::RefCell::new(model(arena.clone())));
    TestHal::new(device, arena, DESC_AREA)
}

/// A driver `N` on a model `M`.
pub struct Rig<N, M> {
    /// The driver.
    pub nic: N,
    /// A handle on the HAL the driver was given (the model, the arena, the register log).
    pub hal: TestHal<M>,
    data: DmaRegion,
    next_slot: u32,
}

impl<N: Nic, M: DeviceModel> Rig<N, M> {
    /// A rig around a driver built on `hal`.
    pub fn new(nic: N, hal: TestHal<M>) -> Self {
        let data = hal.arena.region(DATA_OFFSET, (SLOT * SLOTS) as usize);
        Self { nic, hal, data, next_slot: 0 }
    }

    /// The device model.
    pub fn model(&self) -> RefMut<'_, M> {
        self.hal.device.borrow_mut()
    }

    /// The next `n` buffers of the data area (round robin), at full capacity.
    pub fn slots(&mut self, n: usize) -> Vec<Buffer> {
        (0..n)
            .map(|_| {
                let b = self.data.buffer(self.next_slot * SLOT, SLOT).unwrap();
                self.next_slot = (self.next_slot + 1) % SLOTS;
                b
            })
            .collect()
    }

    /// Posts `n` buffers for receive; all must be taken.
    pub fn post(&mut self, n: usize) -> Vec<Buffer> {
        let bufs = self.slots(n);
        assert_eq!(self.nic.rx_post(&bufs), n);
        bufs
    }

    /// What a buffer holds, as the CPU sees it.
    pub fn bytes(&self, b: &Buffer) -> Vec<u8> {
        self.hal.arena.bytes(DATA_OFFSET + b.offset as usize, b.len as usize)
    }

    /// A buffer holding `frame`, for transmit.
    pub fn tx_buffer(&mut self, frame: &[u8]) -> Buffer {
        let mut b = self.slots(1)[0];
        self.data.write_bytes(b.offset as usize, frame);
        b.len = frame.len() as u32;
        b
    }

    /// Up to `max` received frames.
    pub fn poll(&mut self, max: usize) -> Vec<Buffer> {
        let mut out = vec![Buffer::default(); max];
        let n = self.nic.rx_poll(&mut out);
        out.truncate(n);
        out
    }

    /// Up to `max` transmit buffers the device is done with.
    pub fn reclaim(&mut self, max: usize) -> Vec<Buffer> {
        let mut out = vec![Buffer::default(); max];
        let n = self.nic.tx_reclaim(&mut out);
        out.truncate(n);
        out
    }

    /// The device saw nothing a real one would misbehave on, and no DMA fell outside memory.
    pub fn assert_clean(&self) {
        let m = self.hal.device.borrow();
        assert!(m.protocol_errors().is_empty(), "device saw: {:?}", m.protocol_errors());
        assert_eq!(self.hal.arena.faults(), 0, "DMA outside memory");
    }
}

/// A test frame of `len` bytes to `dst` from [`PEER_MAC`], EtherType 0x88B5 (local
/// experimental), carrying `seq` and a pattern.
pub fn frame(dst: [u8; 6], seq: u32, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x88, 0xB5]);
    f.extend_from_slice(&seq.to_be_bytes());
    while f.len() < len {
        f.push((f.len() as u32 ^ seq) as u8);
    }
    f
}

/// The receive address filter of the Intel MACs, as a model evaluates it: broadcast when
/// `broadcast` is accepted, multicast when all multicast is (`multicast`), any unicast when
/// promiscuous (`unicast`), else only the station address in RAL0/RAH0 while its
/// address-valid bit (RAH bit 31) is set.
pub fn address_filter(dst: &[u8], broadcast: bool, multicast: bool, unicast: bool, ral: u32, rah: u32) -> bool {
    if dst[..6] == [0xFF; 6] {
        return broadcast;
    }
    if dst[0] & 1 != 0 {
        return multicast;
    }
    unicast || (rah & 1 << 31 != 0 && dst[..4] == ral.to_le_bytes() && dst[4..6] == rah.to_le_bytes()[..2])
}
