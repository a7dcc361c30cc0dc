/*
 * The project's seL4 5.0.0 kernel configuration for x86_64 pc99.
 *
 * Replaces include/plat/pc99/autoconf.h in the build copy of the kernel tree (the shipped file is
 * a test configuration with x2APIC and an IOMMU, and the include order prefers it to any copy in
 * the build directory). Chosen so that one kernel boots under QEMU 10 TCG (-cpu ...,+x2apic) and on
 * the Xeon D board: x2APIC (the kernel switches the local APIC to x2APIC mode itself, so it works
 * whichever mode firmware handed over in), IOAPIC interrupts with room for every IOAPIC the board's
 * MADT lists (the Xeon D-2100 has one per PCIe stack besides the PCH's; 5.0 skips any beyond
 * MAX_NUM_IOAPIC with a warning, but then cannot route their pins), FS/GS base through MSRs, SYSCALL entry, XSAVE FPU
 * state so user threads may use SSE and AVX, 1 GiB pages, up to four cores (SMP: the kernel starts every CPU
 * the MADT lists, up to MAX_NUM_NODES, under one kernel lock; the root task places each PD on its
 * system.xml `cpu` by TCB affinity), and VT-d DMA remapping (IOMMU): the
 * kernel turns translation on for every PCI device at boot when the firmware's ACPI DMAR table
 * lists an IOMMU, and the root task gives each NIC an IO space holding only its DMA regions.
 * DEBUG_BUILD and PRINTING (debug flavour only) give the DebugPutChar syscall and kernel messages,
 * IOMMU faults among them. Off: PCID, VT-x, the hardware debug API and VERIFICATION_BUILD.
 */
#ifndef PROJECT_SEL4_AUTOCONF_H
#define PROJECT_SEL4_AUTOCONF_H
#define AUTOCONF_INCLUDED

#define CONFIG_ARCH_X86 1
#define CONFIG_ARCH_X86_64 1
/* Accept any CPU model at boot (the model table in boot_sys.c predates the Xeon D-2100). */
#define CONFIG_ARCH_X86_GENERIC 1
#define CONFIG_PLAT_PC99 1
#define CONFIG_WORD_SIZE 64
/* The D-2123IT's four cores (Hyper-Threading off: docs/hardware.md). More than 1 turns SMP on. */
#define CONFIG_MAX_NUM_NODES 4

#define CONFIG_X2APIC 1
#define CONFIG_IRQ_IOAPIC 1
#define CONFIG_MAX_NUM_IOAPIC 8
#define CONFIG_FSGSBASE_MSR 1
#define CONFIG_SYSCALL 1
#define CONFIG_HAVE_FPU 1
/* XSAVE with x87, SSE and AVX state (XCR0 = 7), so that user code may use AVX2: ring's fastest
 * ChaCha20-Poly1305 needs it, and it tests for it the right way (CPUID.OSXSAVE and XCR0's YMM
 * bits), so under FXSAVE the Xeon D's AVX2 went unused and the crypto PD ran ring's SSE4.1 code.
 * 832 bytes: the legacy area (512), the XSAVE header (64) and the YMM upper halves (256).
 * XSAVEOPT saves only what changed. The kernel refuses to boot on a CPU without XSAVE and AVX:
 * x86 before 2011, and Atom-class cores such as the Atom C3000's (docs/hardware.md; such a board
 * needs FXSAVE back here). QEMU's CPU model has both: netlab.SEL4_CPU. AVX-512 state (XCR0
 * bits 5-7, 1.6 KiB more) is left off: ring has no AVX-512 ChaCha20 and it would not fit a TCB. */
#define CONFIG_XSAVE 1
#define CONFIG_XSAVE_XSAVEOPT 1
#define CONFIG_XSAVE_FEATURE_SET 7
#define CONFIG_XSAVE_SIZE 832
#define CONFIG_FPU_MAX_RESTORES_SINCE_SWITCH 64
#define CONFIG_HUGE_PAGE 1
#define CONFIG_HAVE_CACHE 1
#define CONFIG_CACHE_LN_SZ 64
#define CONFIG_IOMMU 1
#define CONFIG_MAX_RMRR_ENTRIES 32
/* No video mode request in the multiboot header: the console is COM1 only. */
#define CONFIG_MULTIBOOT_GRAPHICS_MODE_NONE 1

#define CONFIG_DEBUG_BUILD 1
#define CONFIG_PRINTING 1
#define CONFIG_IRQ_REPORTING 1
#define CONFIG_USER_STACK_TRACE_LENGTH 16

/* Speculative-execution mitigations (patches/0007, docs/security.md): on for every flavour but
 * release-unmitigated, which build-kernel makes for the cost benchmark only.
 * Meltdown: user address spaces map only the kernel image, not the physical memory window. */
#define CONFIG_KERNEL_SKIM_WINDOW 1
/* Spectre v2: the kernel is compiled with retpolines (build-kernel adds the compiler flags and
 * checks the binary has no indirect branch left), and IBPB on a switch of address space where
 * the CPU offers it. */
#define CONFIG_KERNEL_X86_RETPOLINE 1
#define CONFIG_KERNEL_X86_IBPB_ON_CONTEXT_SWITCH 1
/* ... and the return stack buffer refilled on such a switch (Skylake falls back to the branch
 * target buffer when it runs dry, which retpolines do not cover). */
#define CONFIG_KERNEL_X86_RSB_ON_CONTEXT_SWITCH 1
/* LazyFP: each thread's FPU/SSE state loaded before it runs (eager switching), never another
 * thread's left behind CR0.TS. */
#define CONFIG_KERNEL_X86_EAGER_FPU 1
/* MDS: VERW on every return to user mode. */
#define CONFIG_KERNEL_X86_MDS_VERW_ON_EXIT 1
/* L1TF: L1 data cache flush on a switch of address space where the CPU offers it. */
#define CONFIG_KERNEL_X86_L1D_FLUSH_ON_CONTEXT_SWITCH 1

#define CONFIG_FASTPATH 1
#define CONFIG_KERNEL_STACK_BITS 12
/* 65536 slots (2 MiB): the root task holds one cap per 4 KiB frame of every region and mapping,
 * and the product's sixteen 1 MiB ring regions, mapped twice each, alone need over 8000. */
#define CONFIG_ROOT_CNODE_SIZE_BITS 16
#define CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS 167
#define CONFIG_NUM_DOMAINS 1
#define CONFIG_NUM_PRIORITIES 256
#define CONFIG_TIMER_TICK_MS 2
#define CONFIG_TIME_SLICE 5
#define CONFIG_RETYPE_FAN_OUT_LIMIT 256
#define CONFIG_MAX_NUM_WORK_UNITS_PER_PREEMPTION 100

#endif
