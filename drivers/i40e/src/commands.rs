//! The admin commands bring-up uses: opcodes, where their parameters sit in the descriptor's 16
//! parameter bytes or in the indirect buffer, and how their answers are read. Values follow the
//! X710/XL710/X722 admin queue interface; each parser checks lengths and never trusts a count
//! the firmware returns beyond the bytes it returned.

/// Get version: firmware and admin queue API versions.
pub const GET_VERSION: u16 = 0x0001;
/// Driver version: tells the firmware which driver runs the PF.
pub const DRIVER_VERSION: u16 = 0x0002;
/// Queue shutdown: the driver is giving the admin queue up.
pub const QUEUE_SHUTDOWN: u16 = 0x0003;
/// Clear PXE mode: hand the receive path over from the boot ROM.
pub const CLEAR_PXE_MODE: u16 = 0x0110;
/// MAC address read: the NVM's station addresses.
pub const MAC_ADDRESS_READ: u16 = 0x0107;
/// Get switch configuration: the PF's switch elements (its VSI among them).
pub const GET_SWITCH_CONFIG: u16 = 0x0200;
/// Update VSI parameters.
pub const UPDATE_VSI_PARAMS: u16 = 0x0211;
/// Get VSI parameters.
pub const GET_VSI_PARAMS: u16 = 0x0212;
/// Add MAC/VLAN filters.
pub const ADD_MACVLAN: u16 = 0x0250;
/// Remove MAC/VLAN filters.
pub const REMOVE_MACVLAN: u16 = 0x0251;
/// Set VSI promiscuous modes.
pub const SET_VSI_PROMISCUOUS_MODES: u16 = 0x0254;
/// Get link status (also the opcode of the link status change event).
pub const GET_LINK_STATUS: u16 = 0x0607;
/// Set PHY event mask: which link events the firmware reports.
pub const SET_PHY_INT_MASK: u16 = 0x0613;

/// Admin queue API major version this driver speaks.
pub const API_MAJOR: u16 = 1;

/// Return code: the entry does not exist (a filter removed twice).
pub const RC_ENOENT: u16 = 2;
/// Return code: no space (used here for a filter the firmware had no room for).
pub const RC_ENOSPC: u16 = 16;

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn put_u16(b: &mut [u8], i: usize, v: u16) {
    b[i..i + 2].copy_from_slice(&v.to_le_bytes());
}

/// The answer to [`GET_VERSION`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Version {
    /// Firmware major.minor.
    pub fw: (u16, u16),
    /// Firmware build.
    pub fw_build: u32,
    /// Admin queue API major.minor.
    pub api: (u16, u16),
}

impl Version {
    /// Parses the response parameters.
    pub fn parse(p: &[u8; 16]) -> Self {
        Self { fw_build: u32_at(p, 4), fw: (u16_at(p, 8), u16_at(p, 10)), api: (u16_at(p, 12), u16_at(p, 14)) }
    }
}

/// [`DRIVER_VERSION`] parameters: major, minor, build, sub-build.
pub fn driver_version_params(version: [u8; 4]) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..4].copy_from_slice(&version);
    p
}

/// [`CLEAR_PXE_MODE`] parameters.
pub fn clear_pxe_params() -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = CLEAR_PXE_RX_CNT;
    p
}

/// The receive count the clear PXE mode command carries.
pub const CLEAR_PXE_RX_CNT: u8 = 0x2;

/// [`MAC_ADDRESS_READ`]: the response flag saying the LAN address is valid.
pub const MAC_READ_LAN_ADDR_VALID: u16 = 0x10;
/// Bytes of the [`MAC_ADDRESS_READ`] buffer (LAN, SAN, port and WoL addresses).
pub const MAC_READ_BUF_BYTES: usize = 24;

/// The LAN address in a [`MAC_ADDRESS_READ`] answer, if the firmware marked it valid.
pub fn parse_mac_read(p: &[u8; 16], buf: &[u8; MAC_READ_BUF_BYTES]) -> Option<[u8; 6]> {
    if u16_at(p, 0) & MAC_READ_LAN_ADDR_VALID == 0 {
        return None;
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&buf[..6]);
    (mac != [0; 6] && mac[0] & 1 == 0).then_some(mac)
}

/// A switch element type: a VSI.
pub const SWITCH_ELEMENT_VSI: u8 = 19;
/// Bytes of the [`GET_SWITCH_CONFIG`] answer's header.
pub const SWITCH_CONFIG_HEADER: usize = 16;
/// Bytes of each element after it.
pub const SWITCH_ELEMENT_BYTES: usize = 16;

/// A switch element of a [`GET_SWITCH_CONFIG`] answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SwitchElement {
    /// Element type (`SWITCH_ELEMENT_*`).
    pub element_type: u8,
    /// Its switch element id.
    pub seid: u16,
    /// The element above it.
    pub uplink_seid: u16,
    /// The element below it.
    pub downlink_seid: u16,
}

/// The first VSI of a [`GET_SWITCH_CONFIG`] answer in `buf`: the PF's own VSI, which the
/// firmware creates at reset. The element count says how much is there (as the open drivers
/// read it, not the returned length); elements past the buffer's end are not read.
pub fn first_vsi(buf: &[u8]) -> Option<SwitchElement> {
    if buf.len() < SWITCH_CONFIG_HEADER {
        return None;
    }
    let reported = usize::from(u16_at(buf, 0));
    (0..reported)
        .map(|i| SWITCH_CONFIG_HEADER + i * SWITCH_ELEMENT_BYTES)
        .take_while(|&at| at + SWITCH_ELEMENT_BYTES <= buf.len())
        .map(|at| SwitchElement {
            element_type: buf[at],
            seid: u16_at(buf, at + 2),
            uplink_seid: u16_at(buf, at + 4),
            downlink_seid: u16_at(buf, at + 6),
        })
        .find(|e| e.element_type == SWITCH_ELEMENT_VSI)
}

/// [`GET_SWITCH_CONFIG`] parameters: start from the first element.
pub fn switch_config_params() -> [u8; 16] {
    [0; 16]
}

/// Bytes of the VSI properties buffer.
pub const VSI_PROPERTIES_BYTES: usize = 128;
/// VSI properties: where `valid_sections` sits.
pub const VSI_VALID_SECTIONS: usize = 0;
/// Section flag: the queue mapping section is valid.
pub const VSI_PROP_QUEUE_MAP_VALID: u16 = 0x0040;
/// VSI properties: `mapping_flags` (contiguous or not).
pub const VSI_MAPPING_FLAGS: usize = 28;
/// Queues are contiguous from `queue_mapping[0]`.
pub const VSI_QUE_MAP_CONTIG: u16 = 0x0;
/// VSI properties: `queue_mapping[16]`.
pub const VSI_QUEUE_MAPPING: usize = 30;
/// VSI properties: `tc_mapping[8]`.
pub const VSI_TC_MAPPING: usize = 62;
/// VSI properties: `qs_handle[8]`, the queue set of each traffic class.
pub const VSI_QS_HANDLE: usize = 96;

/// [`GET_VSI_PARAMS`] / [`UPDATE_VSI_PARAMS`] parameters for the VSI `seid`.
pub fn vsi_params(seid: u16) -> [u8; 16] {
    let mut p = [0u8; 16];
    put_u16(&mut p, 0, seid);
    p
}

/// The queue set handle of traffic class 0 in a VSI properties buffer.
pub fn qs_handle_tc0(props: &[u8; VSI_PROPERTIES_BYTES]) -> u16 {
    u16_at(props, VSI_QS_HANDLE)
}

/// The VSI properties update that gives the VSI `queues` (a power of two) contiguous queues
/// from PF queue `first`, all in traffic class 0.
pub fn queue_map_update(first: u16, queues: u16) -> [u8; VSI_PROPERTIES_BYTES] {
    let mut b = [0u8; VSI_PROPERTIES_BYTES];
    put_u16(&mut b, VSI_VALID_SECTIONS, VSI_PROP_QUEUE_MAP_VALID);
    put_u16(&mut b, VSI_MAPPING_FLAGS, VSI_QUE_MAP_CONTIG);
    put_u16(&mut b, VSI_QUEUE_MAPPING, first);
    // TC 0: queue offset 0 (bits 8:0), log2 of the queue count (bits 12:9).
    put_u16(&mut b, VSI_TC_MAPPING, (queues.trailing_zeros() as u16) << 9);
    b
}

/// A MAC/VLAN filter element's flags (add): match the address exactly, any VLAN.
pub const MACVLAN_ADD_PERFECT_MATCH: u16 = 0x0001;
/// Add: ignore the VLAN tag.
pub const MACVLAN_ADD_IGNORE_VLAN: u16 = 0x0004;
/// Remove: an exact match.
pub const MACVLAN_DEL_PERFECT_MATCH: u16 = 0x0001;
/// Remove: ignore the VLAN tag.
pub const MACVLAN_DEL_IGNORE_VLAN: u16 = 0x0008;
/// A SEID field holds a valid SEID.
pub const SEID_VALID: u16 = 0x8000;
/// Bytes of one MAC/VLAN element.
pub const MACVLAN_ELEMENT_BYTES: usize = 16;
/// Add: where the firmware writes back how it matched the element.
pub const MACVLAN_MATCH_METHOD: usize = 12;
/// Add: the element found no room.
pub const MACVLAN_MATCH_ERR_NO_RES: u8 = 0xFF;

/// [`ADD_MACVLAN`] / [`REMOVE_MACVLAN`] parameters: one element, for the VSI `seid`.
pub fn macvlan_params(seid: u16) -> [u8; 16] {
    let mut p = [0u8; 16];
    put_u16(&mut p, 0, 1);
    put_u16(&mut p, 2, seid | SEID_VALID);
    p
}

/// One MAC/VLAN element for `mac` with `flags`.
pub fn macvlan_element(mac: [u8; 6], flags: u16) -> [u8; MACVLAN_ELEMENT_BYTES] {
    let mut e = [0u8; MACVLAN_ELEMENT_BYTES];
    e[..6].copy_from_slice(&mac);
    put_u16(&mut e, 8, flags);
    e
}

/// Promiscuous flag: every unicast frame.
pub const PROMISC_UNICAST: u16 = 0x0001;
/// Promiscuous flag: every multicast frame.
pub const PROMISC_MULTICAST: u16 = 0x0002;
/// Promiscuous flag: broadcast frames.
pub const PROMISC_BROADCAST: u16 = 0x0004;

/// [`SET_VSI_PROMISCUOUS_MODES`] parameters: `flags` for the VSI `seid` (all three modes set
/// explicitly, on or off; the SEID bare, without the valid flag the filter commands take).
pub fn promiscuous_params(seid: u16, flags: u16) -> [u8; 16] {
    let mut p = [0u8; 16];
    put_u16(&mut p, 0, flags);
    put_u16(&mut p, 2, PROMISC_UNICAST | PROMISC_MULTICAST | PROMISC_BROADCAST);
    put_u16(&mut p, 4, seid & 0x3FF);
    p
}

/// PHY event: link up or down.
pub const PHY_EVENT_LINK_UPDOWN: u16 = 0x0002;
/// PHY event: media not available.
pub const PHY_EVENT_MEDIA_NA: u16 = 0x0004;
/// PHY event: the module failed qualification.
pub const PHY_EVENT_MODULE_QUAL_FAIL: u16 = 0x0100;

/// [`SET_PHY_INT_MASK`] parameters: report only the events not set in `mask` (the mask bits
/// suppress events).
pub fn phy_int_mask_params(report: u16) -> [u8; 16] {
    let mut p = [0u8; 16];
    put_u16(&mut p, 8, !report);
    p
}

/// Link status events on (in [`GET_LINK_STATUS`]'s command flags).
pub const LSE_ENABLE: u16 = 0x3;

/// [`GET_LINK_STATUS`] parameters, turning link status events on.
pub fn link_status_params() -> [u8; 16] {
    let mut p = [0u8; 16];
    put_u16(&mut p, 0, LSE_ENABLE);
    p
}

/// `link_info`: the link is up.
pub const LINK_INFO_UP: u8 = 0x01;
/// `link_speed` codes.
pub const LINK_SPEED_100MB: u8 = 0x02;
/// 1 Gb/s.
pub const LINK_SPEED_1GB: u8 = 0x04;
/// 10 Gb/s.
pub const LINK_SPEED_10GB: u8 = 0x08;
/// 40 Gb/s.
pub const LINK_SPEED_40GB: u8 = 0x10;
/// 20 Gb/s.
pub const LINK_SPEED_20GB: u8 = 0x20;
/// 25 Gb/s.
pub const LINK_SPEED_25GB: u8 = 0x40;

/// Link up and speed (Mb/s) in a [`GET_LINK_STATUS`] answer or link event.
pub fn parse_link_status(p: &[u8; 16]) -> (bool, u32) {
    let up = p[4] & LINK_INFO_UP != 0;
    let speed = match p[3] {
        LINK_SPEED_100MB => 100,
        LINK_SPEED_1GB => 1_000,
        LINK_SPEED_10GB => 10_000,
        LINK_SPEED_20GB => 20_000,
        LINK_SPEED_25GB => 25_000,
        LINK_SPEED_40GB => 40_000,
        _ => 0,
    };
    (up, if up { speed } else { 0 })
}
