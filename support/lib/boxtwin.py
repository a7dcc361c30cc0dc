"""The box twin: QEMU shaped like the SuperMicro SYS-E300-9D (board X11SDV-4C-TLN2F), booting
the box's product ISO (support/image box) as the board boots it from IPMI virtual media.

What it has of the board:
- a q35 (PCIe) machine, 4 vCPUs, 6 GiB (RAM above 4 GiB, so DMA buffers land there too), an
  Intel IOMMU (VT-d) device, COM1 as the console;
- the I350's place: PCI bus 0x17 behind a root port on a PCIe expander bus, with two igb
  functions (QEMU's 82576, the I350's predecessor) at 17:00.0 and 17:00.1, each its own MAC;
  the X722's place: bus 0xb5 behind another root port, where an e1000e stands in (QEMU has no
  X722; nothing drives it);
- the product ISO as a CD (-cdrom) and the encryptor's config on a USB 2.0 stick, as the BMC's
  virtual media presents them;
- firmware that leaves the local APIC in x2APIC mode and puts BAR 3 of the I350 functions (their
  MSI-X tables) above 4 GiB: box/twin-firmware.grub, run by a small boot CD of its own before it
  hands over to the product ISO's own boot menu (SeaBIOS does neither of these).

What it cannot show: the I350's copper PHY and auto-negotiation (QEMU's link comes up 500 ms
after the driver restarts negotiation), the board's BIOS and ACPI tables, its interrupt routing
(the twin has one IOAPIC, the board several), the X722, and real timing.
"""
import hashlib
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_SCRIPT = ROOT / "box" / "twin-firmware.grub"
FIRMWARE_DIR = ROOT / "build" / "box-twin"
PRODUCT_ISO = ROOT / "build" / "image" / "box" / "image.iso"

# The I350 functions the box system drives (box/system.xml), and where they sit.
RED_BDF, BLACK_BDF = "17:00.0", "17:00.1"
# GRUB modules the firmware CD needs in its core image: it reads the product CD and the config
# stick with GRUB's own AHCI and EHCI drivers (the BIOS shows it neither), and loading those stops
# GRUB's BIOS disk access, so nothing may be loaded from a disk afterwards.
FIRMWARE_MODULES = ("memdisk tar normal biosdisk iso9660 fat part_msdos part_gpt ahci ehci usbms setpci wrmsr "
                    "search search_fs_file configfile multiboot echo test serial terminal").split()
SERIAL = "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\nterminal_input serial console\nterminal_output serial console\n"


def firmware_iso(more=""):
    """The twin's firmware boot CD (built once per version of box/twin-firmware.grub): a GRUB
    El Torito image whose embedded config runs the firmware script. `more` is GRUB commands run
    after the script's own and before the hand-over (tests make firmware that errs with them)."""
    script = FIRMWARE_SCRIPT.read_text()
    if more:
        handover = script.index("# The product ISO: the disk")
        script = script[:handover] + more.rstrip("\n") + "\n" + script[handover:]
    digest = hashlib.sha256((script + " ".join(FIRMWARE_MODULES)).encode()).hexdigest()[:12]
    iso = FIRMWARE_DIR / f"firmware-{digest}.iso"
    if iso.exists():
        return iso
    work = FIRMWARE_DIR / f"work-{digest}"
    (work / "memdisk" / "boot" / "grub").mkdir(parents=True, exist_ok=True)
    (work / "memdisk" / "boot" / "grub" / "grub.cfg").write_text(SERIAL + script)
    (work / "cd").mkdir(exist_ok=True)
    subprocess.run(["tar", "-C", work / "memdisk", "-cf", work / "memdisk.tar", "boot"], check=True)
    (work / "early.cfg").write_text("set root=(memdisk)\nset prefix=(memdisk)/boot/grub\n"
                                    "normal (memdisk)/boot/grub/grub.cfg\n")
    subprocess.run(["grub-mkimage", "-O", "i386-pc-eltorito", "-p", "(memdisk)/boot/grub", "-c", work / "early.cfg",
                    "-m", work / "memdisk.tar", "-o", work / "cd" / "eltorito.img", *FIRMWARE_MODULES], check=True)
    partial = iso.with_suffix(".partial")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-b", "eltorito.img", "-no-emul-boot", "-boot-load-size", "4",
                    "-boot-info-table", "-o", partial, work / "cd"], check=True, stderr=subprocess.DEVNULL)
    os.replace(partial, iso)
    return iso


def config_disk(config, out):
    """A FAT image holding `config` as /encryptor.conf (the USB stick), at `out`."""
    subprocess.run([ROOT / "platforms" / "sel4" / "mkconfig-disk", config, out], check=True, stdout=subprocess.DEVNULL)
    return out


def command(iso, config_img=None, red=None, black=None, macs=("02:25:90:00:00:00", "02:25:90:00:00:01"),
            cpu=None, extra=(), models=("igb", "igb"), boot=None, firmware=""):
    """The QEMU command line of a twin booting `iso` with the config stick `config_img`. `red` and
    `black` are TAP device names for the ports 17:00.0 and 17:00.1 (None: the port has no cable);
    `macs` are the two ports' own addresses. `models` are the QEMU devices at 17:00.0 and 17:00.1
    (tests put another device there, or None for none: a board whose port is missing). `boot`
    replaces the firmware CD, the ISO and the stick with QEMU arguments that boot a kernel
    directly (the benchmark's Linux guests on the same twin). `firmware` is more GRUB commands
    for the firmware CD to run before the hand-over (see firmware_iso)."""
    import netlab
    cpu = cpu or netlab.SEL4_CPU
    # Four cores as on the board, emulated by one host thread in turn (single-threaded TCG). Tests
    # run two twins on a 2-core host: with a thread per vCPU, Linux preempts the vCPU holding
    # seL4's kernel lock while the others spin on it (at every 2 ms tick, on every core), and
    # both twins crawl. In turn, a vCPU that spins (PAUSE) hands the thread on at once.
    cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg,thread=single", "-cpu", cpu, "-smp", "4", "-m", "6G",
           "-display", "none", "-serial", "stdio", "-monitor", "none", "-nic", "none", "-no-reboot",
           "-device", "intel-iommu",
           # Bus 0x16 on an expander bridge, a root port on it, bus 0x17 behind that: the I350.
           "-device", "pxb-pcie,id=pxb16,bus_nr=0x16,bus=pcie.0",
           "-device", "pcie-root-port,id=rp16,bus=pxb16,chassis=16,slot=0"]
    for function, (tap, mac, model) in enumerate(zip((red, black), macs, models)):
        if model is None:
            continue
        netdev = []
        if tap:
            cmd += ["-netdev", f"tap,id=port{function},ifname={tap},script=no,downscript=no"]
            netdev = [f"netdev=port{function}"]
        # Device ids port0 and port1: QMP's set_link pulls a port's cable.
        options = [f"id=port{function}", "bus=rp16", f"addr=0.{function}", f"mac={mac}", "romfile="] + netdev
        if function == 0:
            options.append("multifunction=on")
        cmd += ["-device", f"{model}," + ",".join(options)]
    cmd += ["-device", "pxb-pcie,id=pxbb4,bus_nr=0xb4,bus=pcie.0",
            "-device", "pcie-root-port,id=rpb4,bus=pxbb4,chassis=180,slot=0",
            "-device", "e1000e,bus=rpb4,addr=0.0,romfile=",
            "-device", "usb-ehci,id=ehci,bus=pcie.0"]
    if boot:
        return cmd + list(boot) + list(extra)
    # The firmware CD boots first and hands over to the product ISO.
    cmd += ["-drive", f"if=none,id=firmware,media=cdrom,readonly=on,file={firmware_iso(firmware)}",
            "-device", "ide-cd,bus=ide.1,drive=firmware,bootindex=0",
            "-cdrom", str(iso)]
    if config_img:
        cmd += ["-drive", f"if=none,id=stick,format=raw,file={config_img}",
                "-device", "usb-storage,bus=ehci.0,drive=stick"]
    return cmd + list(extra)
