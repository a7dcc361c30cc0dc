//! What a freestanding static program built from the `x86_64-unknown-linux-gnu` target needs and
//! the C library would otherwise provide: `memcpy` and friends, the unwinding symbols that
//! `core` references, a heap and a console writer. Both the root task and every PD link this.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::fmt;

/// C `memcpy` (freestanding-mem: eight bytes per step).
///
/// # Safety
/// The C contract: every pointer is valid for `n` bytes, the regions do not overlap.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's C contract is copy_forward's.
    unsafe { freestanding_mem::copy_forward(dest, src, n) };
    dest
}

/// C `memmove`: the regions may overlap.
///
/// # Safety
/// The C contract: every pointer is valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's C contract is copy's.
    unsafe { freestanding_mem::copy(dest, src, n) };
    dest
}

/// C `memset`.
///
/// # Safety
/// The C contract: `dest` is valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller's C contract is fill's; C converts c to unsigned char.
    unsafe { freestanding_mem::fill(dest, c as u8, n) };
    dest
}

/// C `memcmp`.
///
/// # Safety
/// The C contract: every pointer is valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's C contract is compare's.
    unsafe { freestanding_mem::compare(a, b, n) }
}

/// Compares `n` bytes for equality only.
///
/// # Safety
/// The C contract: every pointer is valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { freestanding_mem::compare(a, b, n) }
}

/// Referenced by `core` when it was built with unwinding; never called (panic = abort).
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// Referenced by `core` when it was built with unwinding; never called (panic = abort).
#[no_mangle]
pub extern "C" fn _Unwind_Resume() -> ! {
    // SAFETY: an undefined instruction: the thread faults and its fault handler reports it.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

/// A heap over a static array, for a program with one thread of control.
pub struct Heap<const N: usize> {
    arena: UnsafeCell<[u8; N]>,
    heap: UnsafeCell<Option<linked_list_allocator::Heap>>,
}

// SAFETY: every seL4 program here (root task, PD) runs one thread and never allocates from an
// interrupt context, so the allocator is never entered twice at once.
unsafe impl<const N: usize> Sync for Heap<N> {}

impl<const N: usize> Heap<N> {
    /// An empty heap of N bytes (set up on first use).
    pub const fn new() -> Self {
        Self { arena: UnsafeCell::new([0; N]), heap: UnsafeCell::new(None) }
    }

    #[allow(clippy::mut_from_ref)]
    fn get(&self) -> &mut linked_list_allocator::Heap {
        // SAFETY: single thread of control (see the Sync impl); the arena is used only by the heap.
        unsafe {
            let heap = &mut *self.heap.get();
            heap.get_or_insert_with(|| linked_list_allocator::Heap::new(self.arena.get().cast(), N))
        }
    }
}

impl<const N: usize> Default for Heap<N> {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: allocation is delegated to linked_list_allocator, which returns blocks of the
// requested layout inside the arena or null.
unsafe impl<const N: usize> GlobalAlloc for Heap<N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.get().allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = core::ptr::NonNull::new(ptr) {
            // SAFETY: ptr came from alloc with this layout (GlobalAlloc contract).
            unsafe { self.get().deallocate(p, layout) }
        }
    }
}

/// A heap over memory the program is given at run time (a PD's heap, which the root task maps
/// and sizes at boot): empty, so every allocation fails, until [`RegionHeap::init`].
pub struct RegionHeap {
    heap: UnsafeCell<linked_list_allocator::Heap>,
}

// SAFETY: as for Heap: one thread, never re-entered from an interrupt context.
unsafe impl Sync for RegionHeap {}

impl RegionHeap {
    /// A heap with no memory yet.
    pub const fn empty() -> Self {
        Self { heap: UnsafeCell::new(linked_list_allocator::Heap::empty()) }
    }

    /// Gives the heap `size` bytes at `base`; once, before the first allocation.
    ///
    /// # Safety
    /// `base..base + size` must be mapped, writable, used by nothing else for the rest of the
    /// program's life, and this must be the only call.
    pub unsafe fn init(&self, base: *mut u8, size: usize) {
        // SAFETY: single thread of control (see the Sync impl); the caller vouches for the memory.
        unsafe { (*self.heap.get()).init(base, size) }
    }

    /// Bytes the heap was given.
    pub fn size(&self) -> usize {
        // SAFETY: single thread of control; a read of the heap's bookkeeping.
        unsafe { (*self.heap.get()).size() }
    }
}

// SAFETY: allocation is delegated to linked_list_allocator, which returns blocks of the
// requested layout inside the memory it was given, or null (always, before init).
unsafe impl GlobalAlloc for RegionHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single thread of control (see the Sync impl).
        let heap = unsafe { &mut *self.heap.get() };
        heap.allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = core::ptr::NonNull::new(ptr) {
            // SAFETY: ptr came from alloc with this layout (GlobalAlloc contract); one thread.
            unsafe { (*self.heap.get()).deallocate(p, layout) }
        }
    }
}

/// A console line assembled in memory, so that it can be printed, or sent to the root task, in
/// one piece. Bytes past [`LineBuffer::CAPACITY`] are dropped and the line ends in `...`.
pub struct LineBuffer {
    buf: [u8; Self::CAPACITY],
    len: usize,
    truncated: bool,
}

impl LineBuffer {
    /// Most bytes of one line (what fits in the message registers of one IPC, with its length).
    pub const CAPACITY: usize = 118 * 8;

    /// An empty line.
    pub const fn new() -> Self {
        Self { buf: [0; Self::CAPACITY], len: 0, truncated: false }
    }

    /// The line's bytes (without a newline).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Default for LineBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for LineBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                if !self.truncated {
                    self.buf[self.len - 3..].copy_from_slice(b"...");
                    self.truncated = true;
                }
                break;
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}
