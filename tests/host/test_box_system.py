"""box/system.xml (the SYS-E300-9D and its twin) and its variants (system-10g.xml: the X722 ports;
system-ixgbe.xml: an add-in ixgbe card) are system.xml with other NIC PDs, and nothing else: the
PD graph, regions, mappings, priorities and channels an auditor checked in system.xml hold on the
box too. Fails when they drift apart."""
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NIC_PDS = ("nic_red", "nic_black")


def without_nic_devices(path):
    """The system as text, with the NIC PDs' program and PCI device left out."""
    system = ET.parse(path).getroot()
    for pd in system.iter("protection_domain"):
        if pd.get("name") in NIC_PDS:
            for child in list(pd):
                if child.tag in ("program_image", "pci_device"):
                    pd.remove(child)
    for el in system.iter():
        # Indentation is not content.
        el.text = el.text if (el.text or "").strip() else None
        el.tail = None
    return ET.tostring(system, encoding="unicode")


def nic_devices(path):
    system = ET.parse(path).getroot()
    out = {}
    for pd in system.iter("protection_domain"):
        if pd.get("name") in NIC_PDS:
            dev = pd.find("pci_device")
            out[pd.get("name")] = (pd.find("program_image").get("path"), dict(dev.attrib), dev.find("bar").get("setvar_vaddr"))
    return out


BOX_SYSTEMS = ["box/system.xml", "box/system-10g.xml", "box/system-ixgbe.xml"]


@pytest.mark.parametrize("box_system", BOX_SYSTEMS)
def test_the_box_systems_differ_from_system_xml_only_in_their_nic_pds(box_system):
    assert without_nic_devices(ROOT / box_system) == without_nic_devices(ROOT / "system.xml")


def test_the_box_system_drives_two_i350_ports_by_address_with_msix():
    assert nic_devices(ROOT / "box/system.xml") == {
        "nic_red": ("nic_igb.elf", {"bdf": "17:00.0", "irq": "msix"}, "igb_regs"),
        "nic_black": ("nic_igb.elf", {"bdf": "17:00.1", "irq": "msix"}, "igb_regs"),
    }


def test_the_10g_variant_drives_the_two_x722_ports_by_address():
    assert nic_devices(ROOT / "box/system-10g.xml") == {
        "nic_red": ("nic_i40e.elf", {"bdf": "b5:00.0", "irq": "msix"}, "i40e_regs"),
        "nic_black": ("nic_i40e.elf", {"bdf": "b5:00.1", "irq": "msix"}, "i40e_regs"),
    }


def test_the_ixgbe_variant_drives_both_ports_of_one_card_with_one_line_each():
    # nic_ixgbe refuses MSI-X: the driver handles one interrupt line.
    assert nic_devices(ROOT / "box/system-ixgbe.xml") == {
        "nic_red": ("nic_ixgbe.elf", {"id": "8086:10fb", "index": "0", "irq": "msi"}, "ixgbe_regs"),
        "nic_black": ("nic_ixgbe.elf", {"id": "8086:10fb", "index": "1", "irq": "msi"}, "ixgbe_regs"),
    }


def test_the_comparison_sees_a_change_outside_the_nic_pds():
    text = (ROOT / "box/system.xml").read_text().replace('name="crypto" domain="crypto" priority="190"',
                                                         'name="crypto" domain="crypto" priority="191"')
    changed = ROOT / "build" / "test-box-system-changed.xml"
    changed.parent.mkdir(exist_ok=True)
    changed.write_text(text)
    try:
        assert without_nic_devices(changed) != without_nic_devices(ROOT / "system.xml")
    finally:
        changed.unlink()
