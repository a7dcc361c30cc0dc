//! The model's firmware: the admin queue as the X722's firmware serves it, as far as the driver
//! uses it. It answers the commands bring-up sends from a small switch (MAC, PF, one VSI) and
//! NVM, keeps the VSI's queue map, filters and promiscuous modes, and posts link events on the
//! receive queue, one per request (a driver re-arms them with another get link status).

use nic_i40e::adminq::{flags, Desc, DESC_BYTES};
use nic_i40e::commands::*;
use nic_testkit::Arena;

/// Return codes the model answers with.
pub const RC_OK: u16 = 0;
pub const RC_ENOENT: u16 = 2;
pub const RC_EINVAL: u16 = 14;
pub const RC_ENOSYS: u16 = 17;
pub const RC_EEXIST: u16 = 13;

/// The switch the firmware builds at reset.
pub const MAC_SEID: u16 = 2;
pub const PF_SEID: u16 = 16;
pub const VSI_SEID: u16 = 390;
/// The queue set of the VSI's traffic class 0.
pub const QS_HANDLE: u16 = 0x0123;
/// The VSI's statistics index.
pub const STAT_COUNTER_IDX: u16 = 5;

/// A MAC/VLAN filter on the VSI.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Filter {
    pub mac: [u8; 6],
    /// Matches any VLAN (else VLAN `vlan` only).
    pub any_vlan: bool,
    pub vlan: u16,
}

pub struct Firmware {
    pub nvm_mac: [u8; 6],
    pub api: (u16, u16),
    /// Every command received, in order.
    pub commands: Vec<u16>,
    /// Answer `opcode` with this return code instead of doing it.
    pub fail: Option<(u16, u16)>,
    /// The firmware has hung: it completes nothing.
    pub hung: bool,
    pub filters: Vec<Filter>,
    /// SET_VSI_PROMISCUOUS_MODES flags in force.
    pub promiscuous: u16,
    /// The VSI's queue map: first PF queue and number of queues of TC 0.
    pub queue_map: Option<(u16, u16)>,
    pub pxe_cleared: bool,
    pub driver_version: Option<([u8; 4], Vec<u8>)>,
    /// PHY events masked (negative logic: a set bit suppresses the event).
    pub phy_event_mask: u16,
    /// Link status events armed (by get link status with LSE enable); one event disarms.
    pub lse_armed: bool,
    /// Link events lost for lack of a receive queue descriptor.
    pub events_lost: u32,
    /// The queue set handle of TC 0 it reports (0xFFFF: none).
    pub qs_handle: u16,
    /// The filter table is full: additions come back with match method 0xFF.
    pub filter_table_full: bool,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

impl Firmware {
    pub fn new(nvm_mac: [u8; 6]) -> Self {
        Self {
            nvm_mac,
            api: (1, 12),
            commands: Vec::new(),
            fail: None,
            hung: false,
            // The NVM's filter: the station address, VLAN 0 only.
            filters: vec![Filter { mac: nvm_mac, any_vlan: false, vlan: 0 }],
            promiscuous: 0,
            queue_map: None,
            pxe_cleared: false,
            driver_version: None,
            phy_event_mask: 0xFFFF,
            lse_armed: false,
            events_lost: 0,
            qs_handle: QS_HANDLE,
            filter_table_full: false,
        }
    }

    /// Executes the command in `desc` (its buffer in `mem`) and writes the descriptor back:
    /// DD|CMP, ERR and the return code on failure, the response parameters. `link` is the
    /// link's (up, speed code) for link status answers. Returns what went wrong with the
    /// descriptor itself (a protocol error).
    pub fn execute(&mut self, mem: &Arena, at: u64, link: (bool, u8)) -> Result<(), String> {
        let mut raw = [0u8; DESC_BYTES];
        if !mem.dma_read(at, &mut raw) {
            return Err(format!("admin queue descriptor {at:#x} outside DMA memory"));
        }
        let mut d = Desc::from_bytes(&raw);
        self.commands.push(d.opcode);
        let result = if let Some((op, rc)) = self.fail.filter(|(op, _)| *op == d.opcode) {
            let _ = op;
            Err(rc)
        } else {
            self.command(mem, &mut d, link)
        };
        d.flags |= flags::DD | flags::CMP;
        match result {
            Ok(()) => d.retval = RC_OK,
            Err(rc) => {
                d.flags |= flags::ERR;
                d.retval = rc;
            }
        }
        mem.dma_write(at, &d.to_bytes());
        Ok(())
    }

    /// Reads the command's buffer (the driver must have flagged it BUF|RD).
    fn buffer_in(mem: &Arena, d: &Desc) -> Result<Vec<u8>, u16> {
        if d.flags & flags::BUF == 0 || d.flags & flags::RD == 0 {
            return Err(RC_EINVAL);
        }
        let mut b = vec![0u8; usize::from(d.datalen)];
        if usize::from(d.datalen) > 512 && d.flags & flags::LB == 0 {
            return Err(RC_EINVAL);
        }
        if !mem.dma_read(d.buffer_address(), &mut b) {
            return Err(RC_EINVAL);
        }
        Ok(b)
    }

    /// Writes the answer into the command's buffer (at most `datalen` bytes) and sets `datalen`.
    fn buffer_out(mem: &Arena, d: &mut Desc, data: &[u8]) -> Result<(), u16> {
        if d.flags & flags::BUF == 0 {
            return Err(RC_EINVAL);
        }
        if usize::from(d.datalen) > 512 && d.flags & flags::LB == 0 {
            return Err(RC_EINVAL);
        }
        let n = data.len().min(usize::from(d.datalen));
        if !mem.dma_write(d.buffer_address(), &data[..n]) {
            return Err(RC_EINVAL);
        }
        d.datalen = n as u16;
        Ok(())
    }

    fn command(&mut self, mem: &Arena, d: &mut Desc, link: (bool, u8)) -> Result<(), u16> {
        match d.opcode {
            GET_VERSION => {
                let p = &mut d.params;
                p[0..4].copy_from_slice(&0x0102_0304u32.to_le_bytes());
                p[4..8].copy_from_slice(&41_000u32.to_le_bytes());
                p[8..10].copy_from_slice(&4u16.to_le_bytes());
                p[10..12].copy_from_slice(&10u16.to_le_bytes());
                p[12..14].copy_from_slice(&self.api.0.to_le_bytes());
                p[14..16].copy_from_slice(&self.api.1.to_le_bytes());
                Ok(())
            }
            CLEAR_PXE_MODE => {
                if d.params[0] != CLEAR_PXE_RX_CNT {
                    return Err(RC_EINVAL);
                }
                if self.pxe_cleared {
                    // Out of PXE mode already (an earlier start of the driver).
                    return Err(RC_EEXIST);
                }
                self.pxe_cleared = true;
                Ok(())
            }
            MAC_ADDRESS_READ => {
                let mut b = [0u8; MAC_READ_BUF_BYTES];
                b[..6].copy_from_slice(&self.nvm_mac);
                b[12..18].copy_from_slice(&self.nvm_mac);
                Self::buffer_out(mem, d, &b)?;
                d.params[0..2].copy_from_slice(&(MAC_READ_LAN_ADDR_VALID | 0x40).to_le_bytes());
                Ok(())
            }
            GET_SWITCH_CONFIG => {
                // After a reset the firmware reports the PF's VSI alone, between the MAC (its
                // uplink) and the PF (its downlink).
                let mut b = vec![0u8; SWITCH_CONFIG_HEADER];
                let elements: [(u8, u16, u16, u16); 1] = [(SWITCH_ELEMENT_VSI, VSI_SEID, MAC_SEID, PF_SEID)];
                b[0..2].copy_from_slice(&(elements.len() as u16).to_le_bytes());
                b[2..4].copy_from_slice(&(elements.len() as u16).to_le_bytes());
                for (ty, seid, up, down) in elements {
                    let mut e = [0u8; SWITCH_ELEMENT_BYTES];
                    e[0] = ty;
                    e[2..4].copy_from_slice(&seid.to_le_bytes());
                    e[4..6].copy_from_slice(&up.to_le_bytes());
                    e[6..8].copy_from_slice(&down.to_le_bytes());
                    b.extend_from_slice(&e);
                }
                Self::buffer_out(mem, d, &b)?;
                d.params[0..2].copy_from_slice(&0u16.to_le_bytes());
                Ok(())
            }
            GET_VSI_PARAMS => {
                if u16_at(&d.params, 0) != VSI_SEID {
                    return Err(RC_ENOENT);
                }
                let mut b = [0u8; VSI_PROPERTIES_BYTES];
                for tc in 0..8 {
                    let h: u16 = if tc == 0 { self.qs_handle } else { 0xFFFF };
                    b[VSI_QS_HANDLE + 2 * tc..][..2].copy_from_slice(&h.to_le_bytes());
                }
                b[112..114].copy_from_slice(&STAT_COUNTER_IDX.to_le_bytes());
                Self::buffer_out(mem, d, &b)
            }
            UPDATE_VSI_PARAMS => {
                if u16_at(&d.params, 0) != VSI_SEID {
                    return Err(RC_ENOENT);
                }
                let b = Self::buffer_in(mem, d)?;
                if b.len() < VSI_PROPERTIES_BYTES {
                    return Err(RC_EINVAL);
                }
                if u16_at(&b, VSI_VALID_SECTIONS) & VSI_PROP_QUEUE_MAP_VALID != 0 {
                    if u16_at(&b, VSI_MAPPING_FLAGS) != VSI_QUE_MAP_CONTIG {
                        return Err(RC_EINVAL);
                    }
                    let first = u16_at(&b, VSI_QUEUE_MAPPING) & 0x7FF;
                    let tc0 = u16_at(&b, VSI_TC_MAPPING);
                    if tc0 & 0x1FF != 0 {
                        return Err(RC_EINVAL);
                    }
                    self.queue_map = Some((first, 1 << (tc0 >> 9 & 0x7)));
                }
                Ok(())
            }
            ADD_MACVLAN | REMOVE_MACVLAN => {
                let count = usize::from(u16_at(&d.params, 0));
                let seid = u16_at(&d.params, 2);
                if seid != VSI_SEID | SEID_VALID || count == 0 {
                    return Err(RC_EINVAL);
                }
                let b = Self::buffer_in(mem, d)?;
                if b.len() < count * MACVLAN_ELEMENT_BYTES {
                    return Err(RC_EINVAL);
                }
                let mut answer = b.clone();
                for (i, e) in b.chunks(MACVLAN_ELEMENT_BYTES).take(count).enumerate() {
                    let mut mac = [0u8; 6];
                    mac.copy_from_slice(&e[..6]);
                    let vlan = u16_at(e, 6);
                    let fl = u16_at(e, 8);
                    if d.opcode == ADD_MACVLAN {
                        if fl & MACVLAN_ADD_PERFECT_MATCH == 0 {
                            return Err(RC_EINVAL);
                        }
                        let f = Filter { mac, any_vlan: fl & MACVLAN_ADD_IGNORE_VLAN != 0, vlan };
                        if self.filters.contains(&f) {
                            return Err(RC_EEXIST);
                        }
                        // The firmware writes back how it matched each element.
                        let method = if self.filter_table_full { MACVLAN_MATCH_ERR_NO_RES } else { 1 };
                        answer[i * MACVLAN_ELEMENT_BYTES + MACVLAN_MATCH_METHOD] = method;
                        if !self.filter_table_full {
                            self.filters.push(f);
                        }
                    } else {
                        let any = fl & MACVLAN_DEL_IGNORE_VLAN != 0;
                        let before = self.filters.len();
                        self.filters.retain(|f| !(f.mac == mac && f.any_vlan == any && (any || f.vlan == vlan)));
                        if self.filters.len() == before {
                            return Err(RC_ENOENT);
                        }
                    }
                }
                mem.dma_write(d.buffer_address(), &answer);
                Ok(())
            }
            SET_VSI_PROMISCUOUS_MODES => {
                // The bare SEID (the filter commands' valid flag is not this field's).
                if u16_at(&d.params, 4) != VSI_SEID {
                    return Err(RC_EINVAL);
                }
                let (fl, valid) = (u16_at(&d.params, 0), u16_at(&d.params, 2));
                self.promiscuous = self.promiscuous & !valid | fl & valid;
                Ok(())
            }
            SET_PHY_INT_MASK => {
                self.phy_event_mask = u16_at(&d.params, 8);
                Ok(())
            }
            GET_LINK_STATUS => {
                match u16_at(&d.params, 0) & 0x3 {
                    0x3 => self.lse_armed = true,
                    0x2 => self.lse_armed = false,
                    _ => {}
                }
                d.params = link_params(link, self.lse_armed);
                Ok(())
            }
            DRIVER_VERSION => {
                let name = Self::buffer_in(mem, d)?;
                let mut v = [0u8; 4];
                v.copy_from_slice(&d.params[..4]);
                self.driver_version = Some((v, name));
                Ok(())
            }
            _ => Err(RC_ENOSYS),
        }
    }

    /// Whether a link change should be reported now (armed and not masked); reporting
    /// disarms.
    pub fn take_link_event(&mut self) -> bool {
        let report = self.lse_armed && self.phy_event_mask & PHY_EVENT_LINK_UPDOWN == 0;
        if report {
            self.lse_armed = false;
        }
        report
    }
}

/// Link status parameters: LSE state, PHY type 10GBASE-T, speed, link info, AN completed.
pub fn link_params(link: (bool, u8), lse: bool) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = u8::from(lse);
    p[2] = 0x13;
    p[3] = if link.0 { link.1 } else { 0 };
    p[4] = if link.0 { LINK_INFO_UP | 0x40 } else { 0x40 };
    p[5] = u8::from(link.0);
    p[8..10].copy_from_slice(&9728u16.to_le_bytes());
    p
}
