//! System calls, the IPC buffer, and invocations.
//!
//! Message registers 0–3 travel in R10, R8, R9 and R15; this module always moves them between the
//! IPC buffer and those registers, so callers see one array of message registers (the IPC buffer)
//! as libsel4's `seL4_GetMR`/`seL4_SetMR` users do.

use crate::generated::syscall as sys;
use crate::{label, CPtr, Error, MessageInfo, Word};
use core::arch::asm;

/// Word index of message register 0 in the IPC buffer (word 0 is the tag).
const IPC_MR0: usize = 1;
/// Word index of the extra caps / received badges in the IPC buffer.
const IPC_CAPS: usize = 1 + 120 + 1;

/// Reads word `i` of this thread's IPC buffer.
#[inline(always)]
fn ipc_read(i: usize) -> Word {
    let v: Word;
    // SAFETY: the kernel points the GS base at this thread's IPC buffer (a mapped 4 KiB frame);
    // every index used in this module is below 512 words.
    unsafe { asm!("mov {v}, qword ptr gs:[{off}]", v = out(reg) v, off = in(reg) i * 8, options(nostack, readonly, preserves_flags)) };
    v
}

/// Writes word `i` of this thread's IPC buffer.
#[inline(always)]
fn ipc_write(i: usize, v: Word) {
    // SAFETY: as in ipc_read; the IPC buffer is memory only this thread and the kernel use.
    unsafe { asm!("mov qword ptr gs:[{off}], {v}", v = in(reg) v, off = in(reg) i * 8, options(nostack, preserves_flags)) };
}

/// Message register `i` (0..120) of the last received message.
pub fn get_mr(i: usize) -> Word {
    assert!(i < 120);
    ipc_read(IPC_MR0 + i)
}

/// Sets message register `i` (0..120) of the next message.
pub fn set_mr(i: usize, v: Word) {
    assert!(i < 120);
    ipc_write(IPC_MR0 + i, v)
}

/// Sets extra cap `i` (0..3) of the next message.
pub fn set_cap(i: usize, cptr: CPtr) {
    assert!(i < 3);
    ipc_write(IPC_CAPS + i, cptr)
}

/// One system call: returns (message info, badge or sender, MR0–3). Message registers 0–3 are
/// loaded from and stored back into the IPC buffer.
#[inline(always)]
fn raw_syscall(number: i64, dest: Word, info: Word) -> (Word, Word) {
    let (mut mr0, mut mr1, mut mr2, mut mr3) = (ipc_read(IPC_MR0), ipc_read(IPC_MR0 + 1), ipc_read(IPC_MR0 + 2), ipc_read(IPC_MR0 + 3));
    let out_info: Word;
    let out_badge: Word;
    // SAFETY: the seL4 5.0 x86_64 SYSCALL convention: number in RDX, cap in RDI, message info in
    // RSI, MR0–3 in R10/R8/R9/R15. The kernel clobbers RCX and R11 and does not preserve RSP, so
    // RSP is kept in RBX across the instruction and RBX itself in a scratch register (RBX cannot
    // be named as an operand). Invocations can change this thread's address space; the callers
    // only map memory the Rust program does not use.
    unsafe {
        asm!(
            "mov {saved_rbx}, rbx",
            "mov rbx, rsp",
            "syscall",
            "mov rsp, rbx",
            "mov rbx, {saved_rbx}",
            saved_rbx = out(reg) _,
            in("rdx") number,
            inout("rdi") dest => out_badge,
            inout("rsi") info => out_info,
            inout("r10") mr0,
            inout("r8") mr1,
            inout("r9") mr2,
            inout("r15") mr3,
            out("rcx") _,
            out("r11") _,
        );
    }
    ipc_write(IPC_MR0, mr0);
    ipc_write(IPC_MR0 + 1, mr1);
    ipc_write(IPC_MR0 + 2, mr2);
    ipc_write(IPC_MR0 + 3, mr3);
    (out_info, out_badge)
}

/// Sends `info` to `dest` and waits for the reply (seL4_Call).
pub fn call(dest: CPtr, info: MessageInfo) -> MessageInfo {
    MessageInfo(raw_syscall(sys::SysCall, dest, info.0).0)
}

/// Sends without blocking for a reply (seL4_Send); on a notification this is a signal.
pub fn send(dest: CPtr, info: MessageInfo) {
    raw_syscall(sys::SysSend, dest, info.0);
}

/// Signals a notification.
pub fn signal(dest: CPtr) {
    send(dest, MessageInfo::new(0, 0, 0, 0));
}

/// Waits on an endpoint or notification: returns the message info and the badge.
pub fn recv(src: CPtr) -> (MessageInfo, Word) {
    let (info, badge) = raw_syscall(sys::SysRecv, src, 0);
    (MessageInfo(info), badge)
}

/// Polls an endpoint or notification without blocking: (message info, badge); badge 0 and an
/// empty message when nothing was waiting.
pub fn nb_recv(src: CPtr) -> (MessageInfo, Word) {
    let (info, badge) = raw_syscall(sys::SysNBRecv, src, 0);
    (MessageInfo(info), badge)
}

/// Replies to the last caller and waits on `src` again (seL4_ReplyRecv).
pub fn reply_recv(src: CPtr, reply: MessageInfo) -> (MessageInfo, Word) {
    let (info, badge) = raw_syscall(sys::SysReplyRecv, src, reply.0);
    (MessageInfo(info), badge)
}

/// Issues system call `number` with no arguments: what a PD that tries a call its kernel does not
/// have does (tests of the release kernel use it for the debug calls; the kernel answers with an
/// unknown-syscall fault).
pub fn syscall_number(number: i64) {
    raw_syscall(number, 0, 0);
}

/// Gives up the rest of the time slice.
pub fn yield_now() {
    raw_syscall(sys::SysYield, 0, 0);
}

/// A system call off the message-register path (the debug and benchmark calls): its one
/// argument in RDI, where some of them write a result; message registers are not moved.
#[cfg(any(sel4_debug_syscalls, sel4_track_utilisation))]
fn syscall_rdi(number: i64, rdi: Word) {
    // SAFETY: these calls take their argument in RDI and may write a result there; RSP is kept
    // in RBX as for every syscall; the kernel clobbers RCX and R11 and writes at most this
    // thread's IPC buffer (memory: the asm is not `nomem`).
    unsafe {
        asm!(
            "mov {saved_rbx}, rbx",
            "mov rbx, rsp",
            "syscall",
            "mov rsp, rbx",
            "mov rbx, {saved_rbx}",
            saved_rbx = out(reg) _,
            in("rdx") number,
            inout("rdi") rdi => _,
            out("rcx") _,
            out("r11") _,
        );
    }
}

/// Writes one byte to the kernel's debug console (debug kernels only).
#[cfg(sel4_debug_syscalls)]
pub fn debug_put_char(c: u8) {
    syscall_rdi(sys::SysDebugPutChar, c as Word);
}

/// Halts the kernel (debug kernels only).
#[cfg(sel4_debug_syscalls)]
pub fn debug_halt() -> ! {
    raw_syscall(sys::SysDebugHalt, 0, 0);
    loop {
        core::hint::spin_loop();
    }
}

/// Whether the kernel keeps each thread's CPU time (a bench kernel: platforms/sel4/kernel's
/// `build-kernel bench`), so that [`thread_utilisation`] answers.
pub const TRACKS_UTILISATION: bool = cfg!(sel4_track_utilisation);

/// Starts the kernel's per-thread CPU time log (bench kernels; elsewhere nothing): from now on
/// every switch adds the time since the thread's last switch-in to it.
pub fn benchmark_start_log() {
    #[cfg(sel4_track_utilisation)]
    syscall_rdi(sys::SysBenchmarkResetLog, 0);
}

/// The TSC cycles the thread of TCB `tcb` has run since the log started, up to its latest
/// switch out (from the kernel entry that switched to it to the one that switched away); None
/// without a bench kernel, or if `tcb` is no TCB. The message words it uses are restored, so a
/// reply being prepared is not disturbed.
pub fn thread_utilisation(tcb: CPtr) -> Option<u64> {
    #[cfg(sel4_track_utilisation)]
    {
        // The kernel writes the thread's, the idle thread's and the total time into the first
        // three message words, and nothing if `tcb` is no TCB (the sentinel stays).
        let saved = [ipc_read(IPC_MR0), ipc_read(IPC_MR0 + 1), ipc_read(IPC_MR0 + 2)];
        ipc_write(IPC_MR0, Word::MAX);
        syscall_rdi(sys::SysBenchmarkGetThreadUtilisation, tcb);
        let cycles = ipc_read(IPC_MR0);
        for (i, w) in saved.into_iter().enumerate() {
            ipc_write(IPC_MR0 + i, w);
        }
        (cycles != Word::MAX).then_some(cycles as u64)
    }
    #[cfg(not(sel4_track_utilisation))]
    {
        let _ = tcb;
        None
    }
}

/// Invokes `cap` with `label`, message registers `args` and extra `caps`; returns the reply's
/// message registers 0–3, or the kernel's error code.
pub fn invoke(cap: CPtr, label: Word, args: &[Word], caps: &[CPtr]) -> Result<[Word; 4], Error> {
    for (i, a) in args.iter().enumerate() {
        set_mr(i, *a);
    }
    for (i, c) in caps.iter().enumerate() {
        set_cap(i, *c);
    }
    let reply = call(cap, MessageInfo::new(label, 0, caps.len() as Word, args.len() as Word));
    if reply.label() != 0 {
        return Err(Error(reply.label()));
    }
    Ok([get_mr(0), get_mr(1), get_mr(2), get_mr(3)])
}

/// Untyped_Retype: `num` objects of `object_type` (size `size_bits` for variable-size types)
/// into slots `dest_offset..` of the CNode at (`root`, `node_index`, `node_depth`).
#[allow(clippy::too_many_arguments)]
pub fn untyped_retype(untyped: CPtr, object_type: Word, size_bits: Word, root: CPtr, node_index: Word, node_depth: Word, dest_offset: Word, num: Word) -> Result<(), Error> {
    invoke(untyped, label::UntypedRetype, &[object_type, size_bits, node_index, node_depth, dest_offset, num], &[root]).map(drop)
}

/// CNode_Copy: copies `src` (in `src_root`) to `dest` in the CNode `root` with `rights`.
pub fn cnode_copy(root: CPtr, dest: Word, dest_depth: Word, src_root: CPtr, src: Word, src_depth: Word, rights: crate::CapRights) -> Result<(), Error> {
    invoke(root, label::CNodeCopy, &[dest, dest_depth, src, src_depth, rights.0], &[src_root]).map(drop)
}

/// CNode_Mint: copies `src` to `dest` with `rights` and `data` (a badge or CNode guard).
#[allow(clippy::too_many_arguments)]
pub fn cnode_mint(root: CPtr, dest: Word, dest_depth: Word, src_root: CPtr, src: Word, src_depth: Word, rights: crate::CapRights, data: Word) -> Result<(), Error> {
    invoke(root, label::CNodeMint, &[dest, dest_depth, src, src_depth, rights.0, data], &[src_root]).map(drop)
}

/// TCB_Configure (5.0): fault endpoint (a cptr in the thread's own CSpace), priorities, CSpace
/// and VSpace roots with their cap data, and the IPC buffer.
#[allow(clippy::too_many_arguments)]
pub fn tcb_configure(tcb: CPtr, fault_ep: Word, prio_props: Word, cspace: CPtr, cspace_data: Word, vspace: CPtr, vspace_data: Word, buffer: Word, buffer_frame: CPtr) -> Result<(), Error> {
    invoke(tcb, label::TCBConfigure, &[fault_ep, prio_props, cspace_data, vspace_data, buffer], &[cspace, vspace, buffer_frame]).map(drop)
}

/// TCB_WriteRegisters with the instruction pointer, stack pointer and first argument (RDI),
/// every other register of the user context zero (a restarted PD keeps nothing of its last
/// life in them: RBP, R8-R15 and the TLS base included); starts the thread if `resume`.
pub fn tcb_start(tcb: CPtr, rip: Word, rsp: Word, rdi: Word, resume: bool) -> Result<(), Error> {
    // seL4_UserContext in the kernel's order: RIP, RSP, RFLAGS, RAX, RBX, RCX, RDX, RSI, RDI,
    // RBP, R8-R15, the TLS (FS) base.
    let mut regs = [0; 19];
    regs[..9].copy_from_slice(&[rip, rsp, 0x202, 0, 0, 0, 0, 0, rdi]);
    let mut args = [0; 2 + 19];
    args[0] = resume as Word;
    args[1] = regs.len() as Word;
    args[2..].copy_from_slice(&regs);
    invoke(tcb, label::TCBWriteRegisters, &args, &[]).map(drop)
}

/// TCB_Suspend: the thread stops (a pending IPC of it is cancelled) until written or resumed.
pub fn tcb_suspend(tcb: CPtr) -> Result<(), Error> {
    invoke(tcb, label::TCBSuspend, &[], &[]).map(drop)
}

/// IRQHandler_Ack: the interrupt may be delivered again.
pub fn irq_ack(handler: CPtr) -> Result<(), Error> {
    invoke(handler, label::IRQAckIRQ, &[], &[]).map(drop)
}

/// TCB_SetPriority.
pub fn tcb_set_priority(tcb: CPtr, prio: u8) -> Result<(), Error> {
    invoke(tcb, label::TCBSetPriority, &[prio as Word], &[]).map(drop)
}

/// TCB_SetAffinity (SMP kernels): the core the thread runs on; a running thread moves there.
pub fn tcb_set_affinity(tcb: CPtr, core: Word) -> Result<(), Error> {
    invoke(tcb, label::TCBSetAffinity, &[core], &[]).map(drop)
}

/// TCB_BindNotification: signals to `notification` are delivered to the thread's endpoint waits.
pub fn tcb_bind_notification(tcb: CPtr, notification: CPtr) -> Result<(), Error> {
    invoke(tcb, label::TCBBindNotification, &[], &[notification]).map(drop)
}

/// X86_ASIDPool_Assign: gives a VSpace root (PML4) an ASID.
pub fn asid_pool_assign(pool: CPtr, vspace: CPtr) -> Result<(), Error> {
    invoke(pool, label::X86ASIDPoolAssign, &[], &[vspace]).map(drop)
}

/// Maps a paging structure (`map_label` is its Map label) at `vaddr` in `vspace`.
pub fn paging_map(object: CPtr, map_label: Word, vspace: CPtr, vaddr: Word) -> Result<(), Error> {
    invoke(object, map_label, &[vaddr, crate::vm_attributes::DEFAULT], &[vspace]).map(drop)
}

/// X86_Page_Map.
pub fn page_map(page: CPtr, vspace: CPtr, vaddr: Word, rights: crate::CapRights, attributes: Word) -> Result<(), Error> {
    invoke(page, label::X86PageMap, &[vaddr, rights.0, attributes], &[vspace]).map(drop)
}

/// X86_IOPageTable_Map: puts an IO page table into `iospace` on the path to `ioaddr` (the first
/// one mapped becomes the device's root, whatever `ioaddr`). The kernel fills the first empty slot
/// on that path, even a leaf slot, where the table would become a DMA-writable page: map one only
/// where [`page_map_io`] reported `FailedLookup`.
pub fn io_page_table_map(iopt: CPtr, iospace: CPtr, ioaddr: Word) -> Result<(), Error> {
    invoke(iopt, label::X86IOPageTableMap, &[ioaddr], &[iospace]).map(drop)
}

/// X86_Page_MapIO: makes a 4 KiB frame reachable by the device of `iospace` at `ioaddr`; the
/// device may read it, and write it when `rights` has write.
pub fn page_map_io(page: CPtr, iospace: CPtr, rights: crate::CapRights, ioaddr: Word) -> Result<(), Error> {
    invoke(page, label::X86PageMapIO, &[rights.0, ioaddr], &[iospace]).map(drop)
}

/// X86_Page_Unmap.
pub fn page_unmap(page: CPtr) -> Result<(), Error> {
    invoke(page, label::X86PageUnmap, &[], &[]).map(drop)
}

/// X86_Page_GetAddress: the frame's physical address.
pub fn page_get_address(page: CPtr) -> Result<Word, Error> {
    invoke(page, label::X86PageGetAddress, &[], &[]).map(|mr| mr[0])
}

/// X86_IOPort_In8.
pub fn ioport_in8(ioport: CPtr, port: u16) -> Result<u8, Error> {
    invoke(ioport, label::X86IOPortIn8, &[port as Word], &[]).map(|mr| mr[0] as u8)
}

/// X86_IOPort_In16.
pub fn ioport_in16(ioport: CPtr, port: u16) -> Result<u16, Error> {
    invoke(ioport, label::X86IOPortIn16, &[port as Word], &[]).map(|mr| mr[0] as u16)
}

/// X86_IOPort_Out16.
pub fn ioport_out16(ioport: CPtr, port: u16, value: u16) -> Result<(), Error> {
    invoke(ioport, label::X86IOPortOut16, &[port as Word, value as Word], &[]).map(drop)
}

/// X86_IOPort_In32.
pub fn ioport_in32(ioport: CPtr, port: u16) -> Result<u32, Error> {
    invoke(ioport, label::X86IOPortIn32, &[port as Word], &[]).map(|mr| mr[0] as u32)
}

/// X86_IOPort_Out8.
pub fn ioport_out8(ioport: CPtr, port: u16, value: u8) -> Result<(), Error> {
    invoke(ioport, label::X86IOPortOut8, &[port as Word, value as Word], &[]).map(drop)
}

/// X86_IOPort_Out32.
pub fn ioport_out32(ioport: CPtr, port: u16, value: u32) -> Result<(), Error> {
    invoke(ioport, label::X86IOPortOut32, &[port as Word, value as Word], &[]).map(drop)
}
