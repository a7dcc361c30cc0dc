"""Boot tests of the seL4 system: the root task builds tests/sel4/system-test.xml and the PDs
report `RESULT <name> <value>` lines; the root task reports faults as `FAULT pd=... kind=...`
and ends QEMU when every PD is blocked."""
import os
import re
import subprocess

import pytest

from sel4_qemu import EXIT_IDLE, ROOT, run_qemu


def test_system_runs_to_idle_and_exits(boot):
    assert not boot.timed_out, boot.describe()
    assert "SYSTEM idle" in boot.log, boot.describe()
    assert boot.status == EXIT_IDLE, boot.describe()


def test_notifications_both_ways(boot):
    assert boot.results.get("notify") == "ok", boot.describe()
    assert int(boot.results["notify_rounds"]) == 1000


def test_ring_between_address_spaces_checks_every_buffer(boot):
    assert int(boot.results.get("ring_buffers", 0)) >= 100_000, boot.describe()
    assert int(boot.results["ring_sent"]) == int(boot.results["ring_buffers"])
    assert boot.results["ring_bad"] == "0"
    assert boot.results["ring"] == "ok"
    # A figure, not a target: TCG emulation sets it (about 70k buffers/s on the dev machine).
    assert int(boot.results["ring_buffers_per_s"]) > 0


def test_protected_call(boot):
    assert boot.results.get("ppcall") == "ok", boot.describe()


# The test PDs that fault on purpose (system-test.xml).
DELIBERATE_FAULTS = {"faulter", "panicker", "overflow", "crasher", "ro_writer", "kernel_window_reader",
                     "kernel_image_reader"}


def meltdown_probe(boot):
    """The page-fault error codes of the two kernel readers: (window, image)."""
    faults = {f["pd"]: f for f in boot.faults}
    window, image = faults["kernel_window_reader"], faults["kernel_image_reader"]
    for f in (window, image):
        assert f["kind"] == "vm-fault" and f["access"] == "read", boot.describe()
        # bit 2 (U/S): the read came from user mode
        assert int(f["fsr"], 16) & 4, boot.describe()
    assert int(window["addr"], 16) == 0xffff_ff80_0010_0000
    # The image reader read the IDT, inside the kernel image.
    assert 0xffff_ffff_8000_0000 <= int(image["addr"], 16) < 0xffff_ffff_c000_0000, boot.describe()
    return int(window["fsr"], 16), int(image["fsr"], 16)


def test_user_page_tables_map_the_kernel_image_but_not_the_physical_memory_window(boot):
    # Meltdown reads whatever the user's page tables map, supervisor-only or not. With the skim
    # window (kernel patch 0007) a user-mode read of the kernel's physical memory window faults
    # as not present (error code bit 0 clear): there is no translation to read through. The
    # control: a read of the IDT (SIDT's address), which the image mapping must keep, faults as
    # a protection violation (bit 0 set) - the probe tells mapped from unmapped.
    window, image = meltdown_probe(boot)
    assert window & 1 == 0, f"the physical memory window is mapped in user page tables (fsr {window:#x})"
    assert image & 1 == 1, f"the IDT is not mapped for user mode (fsr {image:#x})"
    assert "skim window: user address spaces map the kernel image only" in boot.log, boot.describe()
    # The debug kernel's own walk of every new user address space's kernel half (patch 0007).
    assert "skim check FAILED" not in boot.log, boot.describe()
    m = re.search(r"^skim check: a user address space maps (\d+) kernel pages, all in the kernel image$", boot.log, re.M)
    assert m and 0 < int(m.group(1)) < 512, boot.describe()


def test_a_pd_entering_the_kernel_with_nt_and_df_set_does_not_stop_it(boot):
    # seL4 5.0 kept the user's NT and DF in the kernel after SYSCALL: the next IRETQ faulted in
    # ring 0 (patch 0009 masks them). The PD yields 1000 times with both set and must finish.
    assert boot.results.get("flags") == "ok", boot.describe()


def test_the_kernel_refuses_to_map_the_last_page_below_2_pow_47(tmp_path):
    # A SYSCALL in that page's last two bytes would return to a non-canonical address, which
    # Intel's SYSRET faults on in ring 0 (patch 0009). `below` maps the page before it, which
    # must work; `edge` maps the page itself, which the kernel must refuse, and the root task
    # stops with the kernel's answer (PDs are set up in order: `below` went first).
    from conftest import build
    xml = tmp_path / "system-sysret-guard.xml"
    xml.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<system exit_when_idle="true" restart="false">
    <memory_region name="page_a" size="0x1000"/>
    <memory_region name="page_b" size="0x1000"/>
    <protection_domain name="below" priority="30">
        <program_image path="pong"/>
        <map mr="page_a" vaddr="0x7fffffffe000" perms="rw"/>
    </protection_domain>
    <protection_domain name="edge" priority="30">
        <program_image path="pong"/>
        <map mr="page_b" vaddr="0x7ffffffff000" perms="rw"/>
    </protection_domain>
</system>
""")
    d = build(xml, tmp_path / "out")
    boot = run_qemu(["-kernel", str(d / "kernel32.elf"), "-initrd", str(d / "roottask")], timeout=60)
    assert "FATAL: PD below" not in boot.log, boot.describe()
    assert "FATAL: PD edge: mapping 0x7ffffffff000" in boot.log, boot.describe()


def test_unmapped_access_is_reported_and_others_finish(boot):
    vm = [f for f in boot.faults if f.get("pd") == "faulter"]
    assert len(vm) == 1, boot.describe()
    assert vm[0]["kind"] == "vm-fault"
    assert vm[0]["access"] == "read"
    assert int(vm[0]["addr"], 16) == 0x1234_5000
    # Every other test PD still finished its work, and the faults were only the deliberate ones.
    assert {f["pd"] for f in boot.faults} == DELIBERATE_FAULTS
    assert {"notify", "ring", "ppcall"} <= boot.results.keys()


def test_panic_is_reported_by_name(boot):
    assert "panicker: PANIC: " in boot.log, boot.describe()
    assert [f["kind"] for f in boot.faults if f.get("pd") == "panicker"] == ["panic"]


def test_a_pd_that_asks_for_a_restart_is_reported_by_name_and_started_afresh(tmp_path):
    """pd_api::restart (what a NIC PD calls when its device needs a new bring-up): the root
    task reports it like a fault and starts the PD again from its image."""
    from conftest import build
    xml = tmp_path / "system.xml"
    xml.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<system exit_when_idle="true">
    <protection_domain name="restarter" priority="30">
        <program_image path="restarter"/>
    </protection_domain>
</system>
""")
    d = build(xml, tmp_path / "out")
    boot = run_qemu(["-kernel", str(d / "kernel32.elf"), "-initrd", str(d / "roottask")], timeout=60)
    assert "restarter: restarting: deliberate test restart" in boot.log, boot.describe()
    assert [f["kind"] for f in boot.faults if f.get("pd") == "restarter"] == ["restart-requested"], boot.describe()
    assert "RESTART pd=restarter count=1" in boot.log, boot.describe()
    assert "restarter: running again after 1 restart(s)" in boot.log, boot.describe()


def test_pci_inventory_lists_the_nics(boot):
    e1000 = [line for line in boot.pci if " 8086:100e " in line]
    assert len(e1000) == 1, boot.describe()
    assert " class 02.00.00 " in e1000[0] and " bar0 mem32 0x" in e1000[0]
    e1000e = [line for line in boot.pci if " 8086:10d3 " in line]
    assert len(e1000e) == 1 and " msi@0x" in e1000e[0], boot.describe()
    # The host bridge is always there, and the count line matches the lines printed.
    assert any(" 8086:1237 " in line for line in boot.pci)
    assert f"PCI {len(boot.pci)} functions" in boot.log


def test_grub_iso_boots_the_same_system_with_its_config_from_a_second_disk(built_system, tmp_path):
    """The hardware's path: GRUB finds /encryptor.conf on another disk (a USB stick or virtual
    medium; here a FAT image) and loads it as the second module."""
    iso = subprocess.run([str(ROOT / "platforms/sel4/mkiso"), str(built_system)], check=True,
                         capture_output=True, text=True, timeout=300).stdout.strip()
    config = tmp_path / "keyed.conf"
    config.write_text(KEYED_CONFIG)
    disk = tmp_path / "config.img"
    subprocess.run([str(ROOT / "platforms/sel4/mkconfig-disk"), str(config), str(disk)], check=True, timeout=60)
    boot = run_qemu(["-cdrom", iso, "-boot", "d", "-drive", f"file={disk},format=raw,if=ide,index=0",
                     "-device", "e1000", "-device", "e1000e"], timeout=180)
    assert boot.status == EXIT_IDLE, boot.describe()
    assert boot.results.get("ring") == "ok" and boot.results.get("notify") == "ok", boot.describe()
    assert boot.results.get("fill_len") == str(len(KEYED_CONFIG)), boot.describe()
    assert boot.results.get("public_keys_found") == "0", boot.describe()


def test_driver_pd_gets_its_pci_device_registers_and_intx_interrupt(boot):
    # STATUS read through the BAR the root task found and mapped: QEMU's e1000 has link up.
    assert boot.results.get("nic_intx_link") == "up", boot.describe()
    # The PD made the NIC raise an interrupt; it arrived on the PD's IRQ channel and was acked.
    assert boot.results.get("nic_intx_irq") == "ok", boot.describe()


def test_driver_pd_gets_msi_interrupts(boot):
    assert boot.results.get("nic_msi_link") == "up", boot.describe()
    assert boot.results.get("nic_msi_irq") == "ok", boot.describe()


def test_dma_regions_have_distinct_physical_addresses(boot):
    addresses = [int(boot.results.get(f"{pd}_dma_paddr", "0"), 16) for pd in ("nic_intx", "nic_msi")]
    assert all(a != 0 and a % 4096 == 0 for a in addresses), boot.describe()
    # dma0 is 16 KiB and physically contiguous, so the regions cannot overlap.
    assert abs(addresses[0] - addresses[1]) >= 0x3000


def test_nic_dma_uses_the_reported_physical_address(boot):
    # The e1000 read a transmit descriptor at the region's physical address and wrote its status
    # back, and the PD saw the write through its own mapping of the region.
    assert boot.results.get("nic_intx_dma") == "ok", boot.describe()


def test_missing_pci_device_is_a_clear_boot_error(built_system):
    boot = run_qemu(["-kernel", str(built_system / "kernel32.elf"),
                     "-initrd", str(built_system / "roottask")], timeout=60)
    assert boot.status == 3, boot.describe()
    assert "FATAL: PD nic_intx: PCI device 8086:100e #0 not found" in boot.log, boot.describe()


def test_intx_for_a_function_without_an_interrupt_pin_is_a_clear_boot_error(tmp_path):
    """QEMU's pci-testdev has no interrupt pin (its pin register reads 0): a system that gives it
    to a PD with INTx (the default) is refused by name, not routed through its line register."""
    from conftest import build
    xml = tmp_path / "system.xml"
    xml.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<system exit_when_idle="true">
    <memory_region name="dma" size="0x1000" role="dma"/>
    <protection_domain name="nic_nopin" priority="30">
        <program_image path="nic_probe"/>
        <map mr="dma" vaddr="0x40000000" perms="rw" setvar_vaddr="dma"/>
        <pci_device vendor="0x1b36" device="0x0005" irq_id="4">
            <bar index="0" vaddr="0x50000000" size="0x1000" setvar_vaddr="e1000_regs"/>
        </pci_device>
    </protection_domain>
</system>
""")
    d = build(xml, tmp_path / "out")
    boot = run_qemu(["-device", "pci-testdev", "-kernel", str(d / "kernel32.elf"), "-initrd", str(d / "roottask")], timeout=60)
    assert re.search(r"^PCI \S+ 1b36:0005 .* pin - ", boot.log, re.M), boot.describe()
    assert re.search(r"FATAL: PD nic_nopin: PCI \S+ has no INTx pin \(interrupt pin register 0\)", boot.log), boot.describe()


def test_pd_uses_its_io_ports_and_no_others(boot):
    assert boot.results.get("ioport") == "ok", boot.describe()
    assert boot.results.get("ioport_outside_refused") == "ok", boot.describe()


def test_stack_overflow_hits_the_guard_page(boot):
    # overflow has a 16 KiB stack ending at 0x3ff00000; the page below it is never mapped.
    faults = [f for f in boot.faults if f.get("pd") == "overflow"]
    assert len(faults) == 1 and faults[0]["kind"] == "vm-fault", boot.describe()
    assert faults[0]["access"] == "write"
    guard = 0x3FF0_0000 - 0x4000 - 0x1000
    assert guard <= int(faults[0]["addr"], 16) < guard + 0x1000


def test_undefined_instruction_is_reported(boot):
    faults = [f for f in boot.faults if f.get("pd") == "crasher"]
    # Vector 6 is #UD.
    assert [(f["kind"], f["number"]) for f in faults] == [("user-exception", "6")], boot.describe()


def test_timer_interrupts_through_an_ioapic_pin(boot):
    # The PIT PD counts 20 interrupts at 1 kHz; the root task must not call the system idle
    # while a PD is only waiting for its next tick.
    assert boot.results.get("pit_ticks") == "20", boot.describe()


# Boots per interrupt test: a few in CI; platforms/sel4/stress-irq sets SEL4_IRQ_BOOTS=50.
IRQ_BOOTS = int(os.environ.get("SEL4_IRQ_BOOTS", "5"))


def test_concurrent_interrupts_over_several_boots(built_concurrent_irq_system):
    d = built_concurrent_irq_system
    for _ in range(max(IRQ_BOOTS, 5)):
        boot = run_qemu(["-kernel", str(d / "kernel32.elf"), "-initrd", str(d / "roottask"),
                         "-device", "e1000"], timeout=60)
        assert boot.results.get("pit_ticks") == "20", boot.describe()
        assert boot.results.get("nic_intx_irq") == "ok", boot.describe()
        assert not boot.faults and "KERNEL EXCEPTION" not in boot.log, boot.describe()


def test_interrupts_raised_before_handover_are_not_lost(built_handover_irq_system, tmp_path):
    """GRUB plays a firmware that leaves the RTC's periodic interrupt and the e1000's INTx line
    asserted (tests/sel4/firmware-leaves-interrupts.grub): each line fires as soon as the root
    task issues its handler, before a notification is bound. Every PD must still get its
    interrupts, on every boot."""
    iso = tmp_path / "handover.iso"
    subprocess.run([str(ROOT / "platforms/sel4/mkiso"), str(built_handover_irq_system), str(iso), "--before-boot",
                    str(ROOT / "tests/sel4/firmware-leaves-interrupts.grub")], check=True, capture_output=True,
                   timeout=300)
    raced = 0
    for n in range(IRQ_BOOTS):
        boot = run_qemu(["-cdrom", str(iso), "-boot", "d", "-device", "e1000"], timeout=120)
        # The race happened when the RTC's interrupt (IRQ 24 = IOAPIC pin 8) came before its
        # handler had a notification (the debug kernel reports it).
        raced += "Undelivered IRQ: 24" in boot.log
        print(f"handover boot {n + 1}/{IRQ_BOOTS}: raced in {raced} so far; {boot.results}", flush=True)
        assert "before-boot: RTC periodic interrupt on; e1000 at" in boot.log, boot.describe()
        assert boot.status == EXIT_IDLE, boot.describe()
        assert boot.results.get("rtc_ticks") == "50", boot.describe()
        assert boot.results.get("pit_ticks") == "20", boot.describe()
        assert boot.results.get("nic_intx_irq") == "ok", boot.describe()
        assert not boot.faults and "KERNEL EXCEPTION" not in boot.log, boot.describe()
    # About 9 boots in 10 hit the window: a test that never did would prove nothing.
    assert raced >= 1, f"the RTC never fired before its handler was bound in {IRQ_BOOTS} boots"


def test_read_only_mapping_is_enforced(boot):
    faults = [f for f in boot.faults if f.get("pd") == "ro_writer"]
    assert len(faults) == 1, boot.describe()
    assert (faults[0]["kind"], faults[0]["access"]) == ("vm-fault", "write")
    assert int(faults[0]["addr"], 16) == 0x2000_0018


def test_wall_clock_and_random_source(boot):
    import time
    # The RTC is the host's clock under QEMU: within a day of the test's own.
    assert abs(int(boot.results.get("wall_clock_s", "0")) - time.time()) < 86_400, boot.describe()
    # QEMU runs with +rdrand, as the Xeon D has it.
    assert boot.results.get("random") == "ok", boot.describe()


def test_large_regions_and_many_frames(built_system):
    from conftest import build
    d = build(ROOT / "tests/sel4/system-scale.xml", ROOT / "build/sel4/system-scale")
    boot = run_qemu(["-kernel", str(d / "kernel32.elf"), "-initrd", str(d / "roottask")], timeout=120)
    assert boot.status == EXIT_IDLE, boot.describe()
    assert boot.results.get("ring") == "ok", boot.describe()
    assert int(boot.results["ring_buffers"]) == 100_000


def test_region_filled_from_a_file(boot):
    """Without a boot module, the file built into the image (the fallback)."""
    text = (ROOT / "tests/sel4/fill-test.conf").read_bytes()
    assert boot.results.get("fill_len") == str(len(text)), boot.describe()
    assert boot.results.get("fill_first_line") == "[Interface]", boot.describe()
    assert "memory_region config: no boot module 1; 81 bytes built into the image instead" in boot.log


# A config with both kinds of key (the values are test data, no one's keys).
KEYED_CONFIG = """[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
ListenPort = 51820
[Peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
presharedkey=/UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak=
"""


def boot_with_module(built_system, module):
    return run_qemu(["-kernel", str(built_system / "kernel32.elf"),
                     "-initrd", f"{built_system / 'roottask'},{module}",
                     "-device", "e1000", "-device", "e1000e"])


def test_config_module_fills_its_region_and_the_keyless_copy_holds_no_key(built_system, tmp_path):
    module = tmp_path / "keyed.conf"
    module.write_text(KEYED_CONFIG)
    boot = boot_with_module(built_system, module)
    assert boot.status == EXIT_IDLE, boot.describe()
    assert f"memory_region config: {len(KEYED_CONFIG)} bytes from boot module 1" in boot.log, boot.describe()
    assert boot.results.get("fill_len") == str(len(KEYED_CONFIG)), boot.describe()
    # The reader found both keys in `config`, and neither in the root task's keyless copy, which
    # keeps the file's lines (so a parse error names the same line in every PD).
    assert boot.results.get("config_keys") == "2", boot.describe()
    assert boot.results.get("public_keys_found") == "0", boot.describe()
    assert boot.results.get("public_lines") == str(len(KEYED_CONFIG.splitlines())), boot.describe()
    assert boot.results.get("ring") == "ok", "the rest of the system must run as before"


@pytest.mark.parametrize("size, cause", [
    (0, "is empty: left empty"),
    (0x2000 + 1, "is larger than the region (8192 bytes): left empty"),
    (300_000, "is larger than the 262144 bytes the kernel passes on: left empty"),
])
def test_a_bad_config_module_is_refused_with_its_cause_and_the_system_runs(built_system, tmp_path, size, cause):
    module = tmp_path / "bad.conf"
    module.write_bytes(b"#" * size)
    boot = boot_with_module(built_system, module)
    assert boot.status == EXIT_IDLE, boot.describe()
    assert re.search(rf"memory_region config: boot module 1 \('[^']*', {size} bytes\) {re.escape(cause)}",
                     boot.log), boot.describe()
    assert "memory_region public_config: left empty (config has no contents)" in boot.log, boot.describe()
    assert boot.results.get("fill_len") == "0", boot.describe()
    assert boot.results.get("ring") == "ok", boot.describe()


def test_release_kernel_runs_the_same_system(built_system):
    # The release configuration has no debug system calls; the console is the root task's own
    # COM1 driver, so the same lines must appear.
    from conftest import build
    d = build(ROOT / "tests/sel4/system-test.xml", ROOT / "build/sel4/system-test-release", kernel="release")
    boot = run_qemu(["-kernel", str(d / "kernel32.elf"), "-initrd", str(d / "roottask"),
                     "-device", "e1000", "-device", "e1000e"], timeout=120)
    assert boot.status == EXIT_IDLE, boot.describe()
    assert "Boot config" not in boot.log, "not the release kernel: it printed its boot messages"
    # The product kernel has the skim window too.
    window, image = meltdown_probe(boot)
    assert window & 1 == 0 and image & 1 == 1, boot.describe()
    for name in ("notify", "ring", "ppcall", "nic_intx_irq", "nic_msi_irq", "ioport"):
        assert boot.results.get(name) == "ok", boot.describe()
    assert {f["pd"] for f in boot.faults} == DELIBERATE_FAULTS


def test_the_release_kernel_has_no_debug_calls_a_pd_trying_them_faults_and_the_rest_runs():
    # The product's kernel: built without DEBUG_BUILD (build-kernel checks the binary's symbols).
    from conftest import build
    d = build(ROOT / "tests/sel4/system-debug-calls.xml", ROOT / "build/sel4/system-debug-calls", kernel="release")
    symbols = subprocess.run(["nm", str(ROOT / "build/sel4/kernel-release/kernel.elf")], capture_output=True,
                             text=True, check=True).stdout.split()
    for debug_only in ("capDL", "putDebugChar", "kprintf", "_assert_fail"):
        assert debug_only not in symbols, f"the release kernel has {debug_only}"
    # The test PD's syscall numbers are a debug kernel's.
    constants = (ROOT / "build/sel4/kernel/gen/sel4_constants.rs").read_text()
    assert re.search(r"SysDebugPutChar: i64 = -9;", constants) and re.search(r"SysDebugHalt: i64 = -10;", constants)
    boot = run_qemu(["-kernel", str(d / "kernel32.elf"), "-initrd", str(d / "roottask")], timeout=120)
    assert boot.status == EXIT_IDLE, boot.describe()
    faults = {f["pd"]: f for f in boot.faults}
    assert faults["debug_putchar"]["kind"] == "unknown-syscall" and faults["debug_putchar"]["number"] == "-9", boot.describe()
    assert faults["debug_halt"]["kind"] == "unknown-syscall" and faults["debug_halt"]["number"] == "-10", boot.describe()
    assert "returned: the kernel has the debug calls" not in boot.log, boot.describe()
    assert boot.results.get("notify") == "ok", "the other PDs must run on"


def test_a_pd_flooding_the_console_gets_a_burst_and_a_rate_and_fault_reports_still_appear():
    # On the release kernel, as the product: the root task owns COM1.
    from conftest import build
    d = build(ROOT / "tests/sel4/system-console-flood.xml", ROOT / "build/sel4/system-console-flood", kernel="release")
    boot = run_qemu(["-kernel", str(d / "kernel32.elf"), "-initrd", str(d / "roottask")], timeout=120)
    assert boot.status == EXIT_IDLE, boot.describe()
    flood = [int(k) for k in re.findall(r"^flooder: flood line (\d+)$", boot.log, re.M)]
    dropped = [int(n) for n in re.findall(r"^root: PD flooder: (\d+) log lines dropped before its last one", boot.log, re.M)]
    # The burst went through whole and in order; then the rate (20 a second) for as long as the
    # flood took; every line not printed was counted, and the count said.
    assert flood[:100] == list(range(100)) and flood == sorted(flood), boot.describe()
    took_s = int(boot.results.get("flood_ms", "-1")) / 1000
    assert 0 <= took_s and len(flood) <= 100 + 20 * took_s + 2 and dropped, (took_s, boot.describe())
    assert len(flood) + sum(dropped) == 5000, boot.describe()
    assert boot.results.get("flood_done") == "5000", boot.describe()
    assert [f["pd"] for f in boot.faults] == ["faulter"], boot.describe()
