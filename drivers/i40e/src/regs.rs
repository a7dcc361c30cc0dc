//! X722 registers the driver uses (byte offsets in BAR 0), named as in the X710/XL710/X722
//! register map. Queue-indexed registers take the PF-relative queue number; HMC registers
//! indexed by function take the PF number.
#![allow(non_snake_case, missing_docs)]

// Reset and identity.
pub const PFGEN_CTRL: usize = 0x0009_2400;
pub const PFGEN_CTRL_PFSWR: u32 = 1 << 0;
pub const GLGEN_RSTAT: usize = 0x000B_8188;
pub const GLGEN_RSTAT_DEVSTATE_MASK: u32 = 0x3;
pub const GLGEN_RSTCTL: usize = 0x000B_8180;
pub const GLGEN_RSTCTL_GRSTDEL_MASK: u32 = 0x3F;
pub const GLNVM_ULD: usize = 0x000B_6008;
pub const GLNVM_ULD_CONF_CORE_DONE: u32 = 1 << 3;
pub const GLNVM_ULD_CONF_GLOBAL_DONE: u32 = 1 << 4;
pub const PF_FUNC_RID: usize = 0x0009_C000;
pub const PF_FUNC_RID_FUNCTION_NUMBER_MASK: u32 = 0x7;
pub const GLPCI_CAPSUP: usize = 0x000B_E4A8;
pub const GLPCI_CAPSUP_ARI_EN: u32 = 1 << 4;
pub const PFGEN_PORTNUM: usize = 0x001C_0480;
pub const PFGEN_PORTNUM_PORT_NUM_MASK: u32 = 0x3;
pub const PFLAN_QALLOC: usize = 0x001C_0400;
pub const PFLAN_QALLOC_FIRSTQ_MASK: u32 = 0x7FF;
pub const PFLAN_QALLOC_LASTQ_SHIFT: u32 = 16;
pub const PFLAN_QALLOC_LASTQ_MASK: u32 = 0x7FF << PFLAN_QALLOC_LASTQ_SHIFT;
pub const PFLAN_QALLOC_VALID: u32 = 1 << 31;
pub const GLLAN_RCTL_0: usize = 0x0012_A500;
pub const GLLAN_RCTL_0_PXE_MODE: u32 = 1 << 0;

// Admin queue.
pub const PF_ATQBAL: usize = 0x0008_0000;
pub const PF_ATQBAH: usize = 0x0008_0100;
pub const PF_ATQLEN: usize = 0x0008_0200;
pub const PF_ATQH: usize = 0x0008_0300;
pub const PF_ATQT: usize = 0x0008_0400;
pub const PF_ARQBAL: usize = 0x0008_0080;
pub const PF_ARQBAH: usize = 0x0008_0180;
pub const PF_ARQLEN: usize = 0x0008_0280;
pub const PF_ARQH: usize = 0x0008_0380;
pub const PF_ARQT: usize = 0x0008_0480;
/// Length registers: the queue is enabled (same bit in ATQLEN and ARQLEN).
pub const AQLEN_ENABLE: u32 = 1 << 31;
/// Length registers: the firmware hit a critical error on this queue.
pub const AQLEN_CRIT: u32 = 1 << 30;
/// Length registers: overflow (ARQ: an event was lost for lack of a descriptor).
pub const AQLEN_OVFL: u32 = 1 << 29;
/// Length registers: the length field.
pub const AQLEN_LEN_MASK: u32 = 0x3FF;

// LAN queues.
pub const fn QTX_ENA(q: usize) -> usize {
    0x0010_0000 + 4 * q
}
pub const fn QRX_ENA(q: usize) -> usize {
    0x0012_0000 + 4 * q
}
/// QTX_ENA / QRX_ENA: the driver asks for the queue on.
pub const QENA_REQ: u32 = 1 << 0;
/// QTX_ENA / QRX_ENA: the device reports the queue on.
pub const QENA_STAT: u32 = 1 << 2;
pub const fn QTX_CTL(q: usize) -> usize {
    0x0010_4000 + 4 * q
}
pub const QTX_CTL_PFVF_Q_PF: u32 = 0x2;
pub const QTX_CTL_PF_INDX_SHIFT: u32 = 2;
pub const fn QTX_TAIL(q: usize) -> usize {
    0x0010_8000 + 4 * q
}
pub const fn QRX_TAIL(q: usize) -> usize {
    0x0012_8000 + 4 * q
}
pub const fn QTX_HEAD(q: usize) -> usize {
    0x000E_4000 + 4 * q
}
/// Transmit queue pre-configuration, one register per block of 128 absolute queues.
pub const fn GLLAN_TXPRE_QDIS(block: usize) -> usize {
    0x000E_6500 + 4 * block
}
pub const GLLAN_TXPRE_QDIS_QINDX_MASK: u32 = 0x7FF;
pub const GLLAN_TXPRE_QDIS_SET_QDIS: u32 = 1 << 30;
pub const GLLAN_TXPRE_QDIS_CLEAR_QDIS: u32 = 1 << 31;

// LAN HMC.
pub const PFHMC_SDCMD: usize = 0x000C_0000;
pub const PFHMC_SDCMD_PMSDWR: u32 = 1 << 31;
pub const PFHMC_SDDATALOW: usize = 0x000C_0100;
pub const PFHMC_SDDATALOW_PMSDVALID: u32 = 1 << 0;
/// PMSDTYPE (bit 1): 0 = paged, 1 = direct.
pub const PFHMC_SDDATALOW_PMSDTYPE_DIRECT: u32 = 1 << 1;
pub const PFHMC_SDDATALOW_PMSDBPCOUNT_SHIFT: u32 = 2;
pub const PFHMC_SDDATALOW_PMSDDATALOW_MASK: u32 = 0xFFFF_F000;
pub const PFHMC_SDDATAHIGH: usize = 0x000C_0200;
pub const PFHMC_PDINV: usize = 0x000C_0300;
pub const PFHMC_PDINV_PMPDIDX_SHIFT: u32 = 16;
pub const PFHMC_ERRORINFO: usize = 0x000C_0400;
pub const PFHMC_ERRORINFO_ERROR_DETECTED: u32 = 1 << 31;
/// The backing-page count the drivers put in every segment descriptor.
pub const HMC_MAX_BP_COUNT: u32 = 512;
pub const GLHMC_LANTXOBJSZ: usize = 0x000C_2004;
pub const GLHMC_LANQMAX: usize = 0x000C_2008;
pub const GLHMC_LANQMAX_PMLANQMAX_MASK: usize = 0x7FF;
pub const GLHMC_LANRXOBJSZ: usize = 0x000C_200C;
pub const fn GLHMC_LANTXBASE(pf: usize) -> usize {
    0x000C_6200 + 4 * pf
}
pub const fn GLHMC_LANTXCNT(pf: usize) -> usize {
    0x000C_6300 + 4 * pf
}
pub const fn GLHMC_LANRXBASE(pf: usize) -> usize {
    0x000C_6400 + 4 * pf
}
pub const fn GLHMC_LANRXCNT(pf: usize) -> usize {
    0x000C_6500 + 4 * pf
}
pub const fn GLHMC_FCOEDDPBASE(pf: usize) -> usize {
    0x000C_6600 + 4 * pf
}
pub const fn GLHMC_FCOEDDPCNT(pf: usize) -> usize {
    0x000C_6700 + 4 * pf
}
pub const fn GLHMC_FCOEFBASE(pf: usize) -> usize {
    0x000C_6800 + 4 * pf
}
pub const fn GLHMC_FCOEFCNT(pf: usize) -> usize {
    0x000C_6900 + 4 * pf
}

// Interrupts: vector 0 (the "other" causes, and in one-line or one-vector mode the queues).
pub const PFINT_ICR0: usize = 0x0003_8780;
pub const PFINT_ICR0_INTEVENT: u32 = 1 << 0;
pub const PFINT_ICR0_QUEUE_0: u32 = 1 << 1;
pub const PFINT_ICR0_ECC_ERR: u32 = 1 << 16;
pub const PFINT_ICR0_MAL_DETECT: u32 = 1 << 19;
pub const PFINT_ICR0_GRST: u32 = 1 << 20;
pub const PFINT_ICR0_PCI_EXCEPTION: u32 = 1 << 21;
pub const PFINT_ICR0_HMC_ERR: u32 = 1 << 26;
pub const PFINT_ICR0_ADMINQ: u32 = 1 << 30;
pub const PFINT_ICR0_SWINT: u32 = 1 << 31;
pub const PFINT_ICR0_ENA: usize = 0x0003_8800;
pub const PFINT_DYN_CTL0: usize = 0x0003_8480;
pub const PFINT_DYN_CTL0_INTENA: u32 = 1 << 0;
pub const PFINT_DYN_CTL0_CLEARPBA: u32 = 1 << 1;
pub const PFINT_DYN_CTL0_SWINT_TRIG: u32 = 1 << 2;
pub const PFINT_DYN_CTL0_ITR_INDX_SHIFT: u32 = 3;
pub const PFINT_DYN_CTL0_SW_ITR_INDX_ENA: u32 = 1 << 24;
/// Write descriptors back when the ITR expires even with the interrupt off (polled use).
pub const PFINT_DYN_CTL0_WB_ON_ITR: u32 = 1 << 30;
/// ITR index "none": a write that changes no interval.
pub const ITR_NONE: u32 = 3;
pub const PFINT_LNKLST0: usize = 0x0003_8500;
pub const PFINT_LNKLST_FIRSTQ_TYPE_SHIFT: u32 = 11;
pub const fn PFINT_ITR0(itr: usize) -> usize {
    0x0003_8000 + 128 * itr
}
pub const PFINT_ITR_INTERVAL_MASK: u32 = 0xFFF;
pub const PFINT_STAT_CTL0: usize = 0x0003_8400;
pub const fn QINT_RQCTL(q: usize) -> usize {
    0x0003_A000 + 4 * q
}
pub const fn QINT_TQCTL(q: usize) -> usize {
    0x0003_C000 + 4 * q
}
/// QINT_RQCTL / QINT_TQCTL fields.
pub const QINT_MSIX_INDX_MASK: u32 = 0xFF;
pub const QINT_ITR_INDX_SHIFT: u32 = 11;
pub const QINT_NEXTQ_INDX_SHIFT: u32 = 16;
pub const QINT_NEXTQ_TYPE_SHIFT: u32 = 27;
pub const QINT_CAUSE_ENA: u32 = 1 << 30;
/// Queue types in interrupt lists.
pub const QUEUE_TYPE_RX: u32 = 0;
pub const QUEUE_TYPE_TX: u32 = 1;
/// Next-queue index that ends an interrupt list.
pub const QUEUE_END_OF_LIST: u32 = 0x7FF;
/// ITR indexes the driver gives receive and transmit causes.
pub const ITR_RX: usize = 0;
pub const ITR_TX: usize = 1;

// Port statistics (index: the port number, stride 8); not cleared by reads or by a PF reset.
pub const fn GLPRT(base: usize, port: usize) -> usize {
    base + 8 * port
}
/// 48-bit counters: low 32 bits at the offset, high 16 at offset + 4.
pub const GLPRT_GORCL: usize = 0x0030_0000;
pub const GLPRT_UPRCL: usize = 0x0030_05A0;
pub const GLPRT_MPRCL: usize = 0x0030_05C0;
pub const GLPRT_BPRCL: usize = 0x0030_05E0;
pub const GLPRT_GOTCL: usize = 0x0030_0680;
pub const GLPRT_UPTCL: usize = 0x0030_09C0;
pub const GLPRT_MPTCL: usize = 0x0030_09E0;
pub const GLPRT_BPTCL: usize = 0x0030_0A00;
/// 32-bit counters.
pub const GLPRT_CRCERRS: usize = 0x0030_0080;
pub const GLPRT_RDPC: usize = 0x0030_0600;
