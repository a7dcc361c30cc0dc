use super::*;

const REAL: &str = include_str!("../../../system.xml");

#[test]
fn the_real_system_parses() {
    let s = System::parse(REAL).unwrap();
    let names: Vec<_> = s.protection_domains.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["nic_red", "net_red", "crypto", "net_black", "nic_black", "timer"]);
    assert_eq!(s.pd("nic_red").unwrap().host_tap.as_deref(), Some("red"));
    assert_eq!(s.peer("net_red", 1).unwrap(), &End { pd: "crypto".into(), id: 0 });
    let crypto = s.pd("crypto").unwrap();
    assert!(crypto.maps.iter().any(|m| m.setvar_vaddr.as_deref() == Some("black_tx_data") && m.perms.write));
    assert!(crypto.maps.iter().any(|m| m.setvar_vaddr.as_deref() == Some("red_rx_data") && !m.perms.write));
}

fn reject(xml: &str, expect: &str) {
    let e = System::parse(xml).expect_err(xml);
    assert!(e.to_string().contains(expect), "error {e:?} does not mention {expect:?}");
}

#[test]
fn broken_descriptions_are_rejected_with_names() {
    let pd = |body: &str| format!("<system><memory_region name=\"m\" size=\"0x1000\"/><memory_region name=\"n\" size=\"0x2000\"/><protection_domain name=\"a\"><program_image path=\"a.elf\"/>{body}</protection_domain><protection_domain name=\"b\"><program_image path=\"b.elf\"/></protection_domain></system>");
    reject(&pd(r#"<map mr="nope" vaddr="0x1000"/>"#), "nope");
    reject(&pd(r#"<map mr="m" vaddr="0x1001"/>"#), "page-aligned");
    reject(&pd(r#"<map mr="n" vaddr="0x1000"/><map mr="m" vaddr="0x2000"/>"#), "overlaps the mapping of n");
    reject(&pd(r#"<map mr="m" vaddr="0x1000" perms="rq"/>"#), "perms");
    reject(&pd(r#"<map mr="m" vaddr="0x1000" setvar_vaddr="x"/><map mr="n" vaddr="0x4000" setvar_vaddr="x"/>"#), "setvar_vaddr x");
    reject(&pd(r#"<pci_device id="8086"/>"#), "vvvv:dddd");
    reject(&pd(r#"<pci_device bdf="00:20.0"/>"#), "bb:dd.f");
    reject(&pd(r#"<host_tap side="green"/>"#), "green");
    reject(&pd(r#"<irq id="1"/>"#), "ioapic");
    reject(&pd(r#"<irq ioapic="11" id="63"/>"#), "above 62");
    reject(&pd(r#"<frobnicate/>"#), "frobnicate");
    reject("<system><memory_region name=\"m\" size=\"100\"/></system>", "4 KiB");
    reject("<system><memory_region name=\"m\" size=\"0x1000\"/><memory_region name=\"m\" size=\"0x1000\"/></system>", "defined twice");
    reject("<system><protection_domain name=\"a\"/></system>", "program_image");
    reject("<system><protection_domain name=\"a\"><program_image path=\"x\"/></protection_domain><channel><end pd=\"a\" id=\"1\"/><end pd=\"zz\" id=\"1\"/></channel></system>", "zz");
    reject("<system><protection_domain name=\"a\" priority=\"255\"><program_image path=\"x\"/></protection_domain></system>", "priority");
    reject("<system><bogus/></system>", "bogus");
    reject("<system", "system.xml line 1");
    let dup = "<system><protection_domain name=\"a\"><program_image path=\"x\"/></protection_domain><protection_domain name=\"b\"><program_image path=\"y\"/></protection_domain><channel><end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"1\"/></channel><channel><end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"2\"/></channel></system>";
    reject(dup, "channel id 1 is used twice");
}

#[test]
fn errors_carry_the_line() {
    let e = System::parse("<system>\n\n<memory_region name=\"m\" size=\"zz\"/>\n</system>").unwrap_err();
    assert_eq!(e.line, 3);
}
