//! The station address a device loaded is taken only if it is one a port may answer with: a
//! device gone from the bus (or still in reset) reads all ones, which has RAH's valid bit set
//! and spells ff:ff:ff:ff:ff:ff; a group address is no station's either.

use nic_core::intel::ReceiveAddress;
use nic_core::InitError;
use nic_testkit::{Arena, DeviceModel, TestHal};
use std::cell::RefCell;
use std::rc::Rc;

const RA0: ReceiveAddress = ReceiveAddress { ral: 0x5400, rah: 0x5404 };
const RAH_AV: u32 = 1 << 31;

/// RAL0/RAH0 as given; every other register reads all ones.
struct Registers {
    ral: u32,
    rah: u32,
}

impl DeviceModel for Registers {
    fn read(&mut self, reg: usize) -> u32 {
        match reg {
            0x5400 => self.ral,
            0x5404 => self.rah,
            _ => u32::MAX,
        }
    }
    fn write(&mut self, _: usize, _: u32) {}
    fn advance(&mut self, _: u64) {}
    fn protocol_errors(&self) -> &[String] {
        &[]
    }
}

fn loaded(ral: u32, rah: u32) -> Result<[u8; 6], InitError> {
    let mut hal = TestHal::new(Rc::new(RefCell::new(Registers { ral, rah })), Arena::new(1 << 16), 0);
    RA0.station_address(&mut hal, None, 1000)
}

#[test]
fn only_a_unicast_station_address_is_taken_from_the_device() {
    assert_eq!(loaded(0x1200_2500, RAH_AV | 0x5634), Ok([0x00, 0x25, 0x00, 0x12, 0x34, 0x56]));
    assert_eq!(loaded(u32::MAX, u32::MAX), Err(InitError::NoMacAddress), "a device gone reads all ones");
    assert_eq!(loaded(0x0000_5e01, RAH_AV | 0x0100), Err(InitError::NoMacAddress), "a multicast address");
    assert_eq!(loaded(0, RAH_AV), Err(InitError::NoMacAddress), "all zeros");
    assert_eq!(loaded(0x1200_2500, 0x5634), Err(InitError::NoMacAddress), "not marked valid");
}
