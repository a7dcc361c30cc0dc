use super::*;

const REAL: &str = include_str!("../../../system.xml");

#[test]
fn the_real_system_parses() {
    let s = System::parse(REAL).unwrap();
    let names: Vec<_> = s.protection_domains.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["nic_red", "net_red", "crypto", "net_black", "nic_black", "timer", "serial"]);
    let logs: Vec<_> = s.memory_regions.iter().filter(|r| r.console).map(|r| r.name.as_str()).collect();
    assert_eq!(logs, ["console_log"]);
    assert_eq!(s.pd("nic_red").unwrap().host_tap.as_deref(), Some("red"));
    assert_eq!(s.peer("net_red", 1).unwrap(), &End { pd: "crypto".into(), id: 0, pp: false, notify: true });
    let crypto = s.pd("crypto").unwrap();
    assert!(crypto.maps.iter().any(|m| m.setvar_vaddr.as_deref() == Some("black_tx_data") && m.perms.write));
    assert!(crypto.maps.iter().any(|m| m.setvar_vaddr.as_deref() == Some("red_rx_data") && !m.perms.write));
}

#[test]
fn an_end_with_notify_false_cannot_signal_its_peer() {
    // What the host runtime wires (and the root task mirrors): the timer ticks its peers, and
    // none of them can signal the timer back.
    let s = System::parse(REAL).unwrap();
    assert_eq!(s.notify_peer("timer", 1).map(|e| e.pd.as_str()), Some("net_red"));
    assert_eq!(s.peer("net_red", 3).map(|e| e.pd.as_str()), Some("timer"));
    assert!(s.notify_peer("net_red", 3).is_none(), "net_red's end is notify=\"false\"");
    assert!(s.notify_peer("net_red", 1).is_some(), "ring ends notify both ways");
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
    reject(&pd(r#"<irq pci="0" id="1"/>"#), "has 0 pci_device");
    reject(&pd(r#"<pci_device bdf="00:03.0" irq_id="2"/><irq pin="4" id="2"/>"#), "channel id 2 is used twice");
    reject(&pd(r#"<map mr="m" vaddr="0x50000000"/><pci_device bdf="00:03.0"><bar index="0" vaddr="0x50000000" size="0x1000"/></pci_device>"#), "overlaps the mapping of m");
    reject(&pd(r#"<ioport base="0x3f8" size="8"/><ioport id="0" base="0x60" size="1"/>"#), "ioport id 0 is used twice");
    reject(&pd(r#"<irq pin="4" id="1" polarity="sideways"/>"#), "polarity");
    reject(&pd(r#"<irq ioapic="11" id="63"/>"#), "above 62");
    reject(&pd(r#"<frobnicate/>"#), "frobnicate");
    let console = |region: &str, maps: &str| format!("<system>{region}<protection_domain name=\"s\"><program_image path=\"s.elf\"/>{maps}</protection_domain><protection_domain name=\"t\"><program_image path=\"t.elf\"/>{maps}</protection_domain></system>");
    let log = r#"<memory_region name="log" size="0x4000" console="true"/>"#;
    reject(&console(log, r#"<map mr="log" vaddr="0x10000000"/>"#), "exactly one PD");
    reject(&console(r#"<memory_region name="log" size="0x4000" console="true" secret="true"/>"#, ""), "plain RAM");
    reject(&console(&format!("{log}<memory_region name=\"log2\" size=\"0x4000\" console=\"true\"/>"), ""), "both console logs");
    let one_reader = r#"<system><memory_region name="log" size="0x4000" console="true"/><protection_domain name="s"><program_image path="s.elf"/><map mr="log" vaddr="0x10000000" perms="r"/></protection_domain></system>"#;
    reject(one_reader, "must map it rw");
    let rung = REAL.replace(r#"<end pd="serial" id="0" notify="false" />"#, r#"<end pd="serial" id="62" notify="false" />"#);
    assert_ne!(rung, REAL);
    reject(&rung, "channel id 62");
    let irq62 = REAL.replace(r#"<irq pin="4" id="10" trigger="edge" />"#, r#"<irq pin="4" id="62" trigger="edge" />"#);
    assert_ne!(irq62, REAL);
    reject(&irq62, "channel id 62");
    reject("<system><memory_region name=\"m\" size=\"100\"/></system>", "4 KiB");
    reject("<system><memory_region name=\"m\" size=\"0x1000\"/><memory_region name=\"m\" size=\"0x1000\"/></system>", "defined twice");
    reject("<system><protection_domain name=\"a\"/></system>", "program_image");
    reject("<system><protection_domain name=\"a\"><program_image path=\"x\"/></protection_domain><channel><end pd=\"a\" id=\"1\"/><end pd=\"zz\" id=\"1\"/></channel></system>", "zz");
    reject("<system><protection_domain name=\"a\" priority=\"255\"><program_image path=\"x\"/></protection_domain></system>", "priority");
    reject("<system><protection_domain name=\"a\" cpu=\"64\"><program_image path=\"x\"/></protection_domain></system>", "cpu 64");
    reject("<system exit_when_idle=\"true\"><protection_domain name=\"a\" cpu=\"1\"><program_image path=\"x\"/></protection_domain></system>", "idle watcher");
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

mod isolation_check {
    use super::REAL;
    use crate::{isolation, System};

    fn check(xml: &str) -> isolation::Report {
        isolation::check(&System::parse(xml).unwrap())
    }

    fn rejected(xml: &str, names: &[&str]) {
        let r = check(xml);
        assert!(!r.ok(), "accepted a broken system");
        let all = r.violations.join("\n");
        for n in names {
            assert!(all.contains(n), "violations do not name {n}:\n{all}");
        }
    }

    /// The real system with `extra` inserted before the closing tag of PD `pd`.
    fn with_map(pd: &str, extra: &str) -> String {
        let start = REAL.find(&format!("<protection_domain name=\"{pd}\"")).unwrap();
        let end = start + REAL[start..].find("</protection_domain>").unwrap();
        format!("{}{extra}\n{}", &REAL[..end], &REAL[end..])
    }

    #[test]
    fn the_real_system_is_isolated_and_has_no_bypass() {
        let r = check(REAL);
        assert!(r.ok(), "{:?}", r.violations);
        assert!(r.bypass_paths.is_empty());
    }

    #[test]
    fn the_box_system_is_isolated_and_has_no_bypass() {
        let r = check(include_str!("../../../box/system.xml"));
        assert!(r.ok(), "{:?}", r.violations);
        assert!(r.bypass_paths.is_empty());
    }

    #[test]
    fn the_box_variants_are_isolated_and_have_no_bypass() {
        for xml in [include_str!("../../../box/system-10g.xml"), include_str!("../../../box/system-ixgbe.xml")] {
            let r = check(xml);
            assert!(r.ok() && r.bypass_paths.is_empty(), "{:?} {:?}", r.violations, r.bypass_paths);
        }
    }

    #[test]
    fn black_mapping_a_red_ring_is_rejected() {
        rejected(&with_map("net_black", r#"<map mr="net_red_to_crypto_data" vaddr="0x7000000" perms="r" />"#), &["net_red_to_crypto_data", "net_black"]);
    }

    #[test]
    fn keys_outside_crypto_are_rejected() {
        rejected(&with_map("net_red", r#"<map mr="crypto_config" vaddr="0x7000000" perms="r" />"#), &["crypto_config", "net_red"]);
    }

    #[test]
    fn a_direct_nic_channel_across_sides_is_rejected() {
        let xml = REAL.replace("</system>", "<channel><end pd=\"nic_red\" id=\"9\" /><end pd=\"net_black\" id=\"9\" /></channel></system>");
        rejected(&xml, &["nic_red:9", "net_black:9"]);
    }

    #[test]
    fn a_second_writer_of_a_data_region_is_rejected() {
        let xml = REAL.replacen(
            r#"<map mr="crypto_to_net_black_data" vaddr="0x20000000" perms="r""#,
            r#"<map mr="crypto_to_net_black_data" vaddr="0x20000000" perms="rw""#,
            1,
        );
        assert_ne!(xml, REAL, "the test must change the file");
        rejected(&xml, &["crypto_to_net_black_data", "2 writers"]);
    }

    #[test]
    fn roles_are_declared_not_read_from_names() {
        // A ring's data under a name without "_data": its role still allows one writer only.
        let renamed = REAL.replace("crypto_to_net_black_data", "crypto_to_net_black_buffers");
        let xml = renamed.replacen(
            r#"<map mr="crypto_to_net_black_buffers" vaddr="0x20000000" perms="r""#,
            r#"<map mr="crypto_to_net_black_buffers" vaddr="0x20000000" perms="rw""#,
            1,
        );
        assert_ne!(xml, renamed, "the test must change the file");
        rejected(&xml, &["ring_data region crypto_to_net_black_buffers", "2 writers"]);
        // A status page written by the console, a config region written by its PD, a NIC's DMA
        // memory mapped into a second PD.
        let xml = REAL.replace(
            r#"<map mr="crypto_status" vaddr="0x11002000" perms="r""#,
            r#"<map mr="crypto_status" vaddr="0x11002000" perms="rw""#,
        );
        rejected(&xml, &["status region crypto_status has 2 writers"]);
        // The stack PD writing its NIC's port page (it could then lie to itself about the MAC).
        let xml = REAL.replace(
            r#"<map mr="nic_red_port" vaddr="0x11100000" perms="r""#,
            r#"<map mr="nic_red_port" vaddr="0x11100000" perms="rw""#,
        );
        assert_ne!(xml, REAL, "the test must change the file");
        rejected(&xml, &["port region nic_red_port has 2 writers"]);
        let xml = REAL.replace(
            r#"<map mr="net_red_config" vaddr="0x10000000" perms="r""#,
            r#"<map mr="net_red_config" vaddr="0x10000000" perms="rw""#,
        );
        rejected(&xml, &["config region net_red_config is writable by net_red"]);
        rejected(&with_map("net_red", r#"<map mr="nic_red_dma" vaddr="0x7000000" perms="r" />"#), &["dma region nic_red_dma", "2 PDs"]);
        // An unknown role is a parse error, not a silent plain region.
        let unknown = REAL.replace(r#"name="nic_red_to_net_red_data" role="ring_data""#, r#"name="nic_red_to_net_red_data" role="ring""#);
        assert_ne!(unknown, REAL, "the test must change the file");
        assert!(System::parse(&unknown).is_err());
    }

    #[test]
    fn a_device_claimed_twice_or_by_crypto_is_rejected() {
        let xml = with_map("crypto", r#"<pci_device id="8086:10d3" index="0" />"#);
        rejected(&xml, &["claimed by more than one PD", "crypto PD crypto owns"]);
    }

    #[test]
    fn a_neutral_pd_bridging_the_sides_is_rejected() {
        let xml = with_map("timer", r#"<map mr="nic_red_to_net_red_data" vaddr="0x7000000" perms="r" /><map mr="nic_black_to_net_black_data" vaddr="0x7200000" perms="r" />"#);
        rejected(&xml, &["neutral PD timer"]);
    }

    #[test]
    fn the_console_may_observe_both_sides_but_not_write_or_signal_them() {
        // Writable access to a status page it shares with a red PD.
        let xml = REAL.replace(
            r#"<map mr="net_red_status" vaddr="0x11001000" perms="r""#,
            r#"<map mr="net_red_status" vaddr="0x11001000" perms="rw""#,
        );
        assert_ne!(xml, REAL, "the test must change the file");
        rejected(&xml, &["neutral PD serial", "maps net_red_status writable"]);
        // A channel to a black PD.
        let xml = REAL.replace("</system>", "<channel><end pd=\"serial\" id=\"5\" /><end pd=\"net_black\" id=\"9\" /></channel></system>");
        rejected(&xml, &["neutral PD serial", "channels to net_black"]);
        // A channel to crypto (which reaches both sides), and a NIC of its own.
        let xml = REAL.replace("</system>", "<channel><end pd=\"serial\" id=\"5\" /><end pd=\"crypto\" id=\"9\" /></channel></system>");
        rejected(&xml, &["neutral PD serial", "channels to crypto"]);
        rejected(&with_map("serial", r#"<pci_device id="8086:10fb" index="0" />"#), &["neutral PD serial", "owns a device"]);
    }

    #[test]
    fn crypto_cut_off_from_a_side_is_rejected() {
        let xml = REAL.replace(r#"<channel><end pd="crypto" id="1" /><end pd="net_black" id="1" /></channel>"#, "");
        assert_ne!(xml, REAL);
        rejected(&xml, &["crypto has no channel to the Black side"]);
    }

    /// A bypass link between the stacks: a region net_red writes and net_black reads, and a
    /// channel between them; `declared` says whether they carry bypass="true".
    fn with_bypass(declared: bool) -> String {
        let attr = if declared { r#" bypass="true""# } else { "" };
        let xml = with_map("net_red", r#"<map mr="bypass_data" vaddr="0x7000000" perms="rw" setvar_vaddr="bypass_tx_data" />"#).replace(
            "<memory_region name=\"crypto_config\"",
            &format!("<memory_region name=\"bypass_data\" size=\"0x1000\"{attr} /><memory_region name=\"crypto_config\""),
        );
        with_map_in(&xml, "net_black", r#"<map mr="bypass_data" vaddr="0x7000000" perms="r" setvar_vaddr="bypass_rx_data" />"#)
            .replace("</system>", &format!("<channel{attr}><end pd=\"net_red\" id=\"2\" /><end pd=\"net_black\" id=\"2\" /></channel></system>"))
    }

    #[test]
    fn a_declared_bypass_link_between_the_stacks_passes_and_is_reported() {
        let r = check(&with_bypass(true));
        assert!(r.ok(), "{:?}", r.violations);
        assert_eq!(r.bypass_paths.len(), 2, "{:?}", r.bypass_paths);
    }

    #[test]
    fn an_undeclared_bypass_link_is_refused_by_name() {
        rejected(&with_bypass(false), &["region bypass_data is shared by red PD net_red and black PD net_black", "channel net_red:2 <-> net_black:2"]);
        // Declared, but reaching a neutral PD too: no longer a link between the sides.
        let xml = with_map_in(&with_bypass(true), "timer", r#"<map mr="bypass_data" vaddr="0x7000000" perms="r" />"#);
        rejected(&xml, &["bypass region bypass_data must join red and black PDs only"]);
    }

    #[test]
    fn a_relay_through_a_neutral_pd_is_refused() {
        // The timer's channels carried ticks both ways: net_red could signal the timer, which
        // signals net_black, a one-bit-at-a-time path around crypto.
        let xml = REAL.replace(r#"<end pd="net_red" id="3" notify="false" />"#, r#"<end pd="net_red" id="3" />"#);
        assert_ne!(xml, REAL);
        rejected(&xml, &["information flows from red PD net_red to black PD net_black outside crypto: net_red -> timer (notification net_red:3 -> timer:1) -> net_black"]);
        // A neutral PD with no memory of either side, joined to both by protected calls.
        let relay = r#"<protection_domain name="relay" priority="240"><program_image path="relay.elf" /></protection_domain>"#;
        let xml = REAL.replacen("<channel>", &format!("{relay}<channel>"), 1).replacen(
            "</system>",
            r#"<channel><end pd="net_red" id="20" pp="true" notify="false" /><end pd="relay" id="1" notify="false" /></channel><channel><end pd="net_black" id="20" pp="true" notify="false" /><end pd="relay" id="2" notify="false" /></channel></system>"#,
            1,
        );
        rejected(&xml, &["information flows from red PD net_red to black PD net_black outside crypto: net_red -> relay (protected call net_red:20 -> relay:1) -> net_black (reply relay:2 -> net_black:20)"]);
        // Memory of one side read by a neutral PD with a channel to the other.
        let xml = with_map("timer", r#"<map mr="net_red_status" vaddr="0x7000000" perms="r" />"#);
        rejected(&xml, &["information flows from red PD net_red to black PD net_black outside crypto: net_red -> timer (region net_red_status) -> net_black (notification timer:2 -> net_black:3)"]);
    }

    #[test]
    fn boot_module_regions_are_key_material() {
        let xml = REAL.replace(r#"secret="true" boot_module="1""#, r#"boot_module="1""#);
        assert_ne!(xml, REAL);
        assert!(check(&xml).ok(), "unmapped elsewhere: fine");
        let xml = with_map_in(&xml, "net_red", r#"<map mr="crypto_config" vaddr="0x7000000" perms="r" />"#);
        rejected(&xml, &["boot module region crypto_config (key material) is mapped into net_red"]);
    }

    #[test]
    fn session_keys_regions_are_crypto_only() {
        // Crypto and a second crypto-domain PD (a data-path worker) share the session slots.
        let region = r#"<memory_region name="sessions" role="session_keys" size="0x10000" />"#;
        let xml = REAL.replacen("<memory_region ", &format!("{region}\n    <memory_region "), 1);
        let xml = with_map_in(&xml, "crypto", r#"<map mr="sessions" vaddr="0x7000000" perms="rw" />"#);
        let worker = r#"<protection_domain name="crypto_worker_1" domain="crypto"><program_image path="w.elf" /><map mr="sessions" vaddr="0x7000000" perms="rw" /></protection_domain>"#;
        let xml = xml.replacen("<channel>", &format!("{worker}\n    <channel>"), 1);
        assert!(check(&xml).ok(), "{:?}", check(&xml).violations);
        // Not marked secret: the role alone makes it key material.
        let leaked = with_map_in(&xml, "net_black", r#"<map mr="sessions" vaddr="0x7000000" perms="r" />"#);
        rejected(&leaked, &["session_keys region sessions (key material) is mapped into net_black"]);
        let leaked = with_map_in(&xml, "serial", r#"<map mr="sessions" vaddr="0x7000000" perms="r" />"#);
        rejected(&leaked, &["session_keys region sessions (key material) is mapped into serial"]);
    }

    #[test]
    fn crypto_and_its_workers_may_fill_one_ring_but_nobody_else_may() {
        // A crypto worker writes results into the slots crypto reserved in its ring to net_black
        // (support/lib/netlab.py's with_crypto_workers): three crypto PDs write that ring.
        let worker = |name: &str, domain: &str| {
            format!(
                r#"<protection_domain name="{name}" domain="{domain}"><program_image path="w.elf" /><map mr="crypto_to_net_black_data" vaddr="0x7000000" perms="rw" /></protection_domain>"#
            )
        };
        let xml = REAL.replacen("<channel>", &format!("{}\n{}\n    <channel>", worker("crypto_worker_0", "crypto"), worker("crypto_worker_1", "crypto")), 1);
        assert!(check(&xml).ok(), "{:?}", check(&xml).violations);
        // A writer of another domain among them: refused (and a red-black path besides).
        let xml = REAL.replacen("<channel>", &format!("{}\n{}\n    <channel>", worker("crypto_worker_0", "crypto"), worker("crypto_worker_1", "black")), 1);
        rejected(&xml, &["ring_data region crypto_to_net_black_data has 3 writers (crypto,crypto_worker_0,crypto_worker_1)"]);
    }

    #[test]
    fn reserved_and_shared_io_ports_and_interrupts_are_refused() {
        rejected(&with_map("net_red", r#"<ioport base="0xcf8" size="8" />"#), &["PD net_red is given I/O ports 0xcf8-0xcff", "PCI configuration space"]);
        rejected(&with_map("serial", r#"<ioport id="1" base="0x90" size="4" />"#), &["0x92: the system control port"]);
        // (Two PDs' overlapping I/O ports are already a parse error.)
        assert!(System::parse(&with_map("net_black", r#"<ioport base="0x3fc" size="2" />"#)).is_err());
        rejected(&with_map("net_red", r#"<irq pin="2" id="11" trigger="edge" />"#), &["IOAPIC pin 2 is given to PD net_red and to PD timer"]);
        rejected(&with_map("crypto", r#"<ioport base="0x2f8" size="8" />"#), &["crypto PD crypto owns I/O ports"]);
    }

    fn with_map_in(xml: &str, pd: &str, extra: &str) -> String {
        let start = xml.find(&format!("<protection_domain name=\"{pd}\"")).unwrap();
        let end = start + xml[start..].find("</protection_domain>").unwrap();
        format!("{}{extra}\n{}", &xml[..end], &xml[end..])
    }
}

#[test]
fn the_sel4_extensions_parse() {
    let xml = r#"<system exit_when_idle="true">
        <memory_region name="buf" size="0x2000" fill="buf.bin"/>
        <protection_domain name="a" priority="10" stack_size="0x4000">
            <program_image path="a.elf"/>
            <map mr="buf" vaddr="0x20000000" perms="rw" setvar_vaddr="buf"/>
        </protection_domain>
        <protection_domain name="b" priority="20">
            <program_image path="b.elf"/>
            <irq pin="11" id="5" trigger="edge" polarity="low"/>
            <pci_device vendor="0x8086" device="0x100e" index="1" irq_id="6" irq="msi">
                <bar index="0" vaddr="0x50000000" size="0x20000" setvar_vaddr="regs"/>
            </pci_device>
            <ioport id="3" base="0x3f8" size="8"/>
        </protection_domain>
        <channel><end pd="a" id="1" pp="true"/><end pd="b" id="2"/></channel>
    </system>"#;
    let s = System::parse(xml).unwrap();
    assert!(s.exit_when_idle);
    assert_eq!(s.memory_regions[0].fill.as_deref(), Some("buf.bin"));
    assert_eq!(s.pd("a").unwrap().stack_size, Some(0x4000));
    let b = s.pd("b").unwrap();
    assert_eq!(b.irqs[0].source, IrqSource::Ioapic { pin: 11, level: false, active_low: true });
    let nic = &b.pci_devices[0];
    assert_eq!(nic.select, PciSelect::Id { vendor: 0x8086, device: 0x100e, index: 1 });
    assert_eq!(nic.bars, [PciBar { index: 0, vaddr: 0x5000_0000, size: 0x20000, setvar_vaddr: Some("regs".into()) }]);
    assert_eq!((nic.irq_id, nic.irq), (Some(6), crate::PciIrq::Msi));
    assert_eq!(b.ioports, [IoPort { id: Some(3), base: 0x3f8, size: 8 }]);
    assert!(s.channels[0].ends[0].pp);
    reject(&xml.replace("priority=\"20\"", "priority=\"5\""), "protected call");
    reject(&xml.replace("irq_id=\"6\"", "irq_id=\"5\""), "channel id 5 is used twice");
    reject(&xml.replace("fill=\"buf.bin\"", "fill=\"buf.bin\" phys_addr=\"0x1000\""), "fill and phys_addr");
    let public = xml.replace("<protection_domain name=\"a\"", "<memory_region name=\"pub\" size=\"0x1000\" fill_without_keys=\"buf\"/><protection_domain name=\"a\"");
    assert_eq!(System::parse(&public).unwrap().region("pub").unwrap().fill_without_keys.as_deref(), Some("buf"));
    reject(&public.replace("fill_without_keys=\"buf\"", "fill_without_keys=\"nope\""), "names no memory_region nope");
    let module = xml.replace("fill=\"buf.bin\"", "fill=\"buf.bin\" boot_module=\"1\"");
    assert_eq!(System::parse(&module).unwrap().region("buf").unwrap().boot_module, Some(1));
    reject(&xml.replace("fill=\"buf.bin\"", "boot_module=\"0\""), "boot_module must be 1..8");
    reject(&xml.replace("fill=\"buf.bin\"", "boot_module=\"1\" phys_addr=\"0x1000\""), "boot_module and phys_addr");
    reject(&public.replace("fill_without_keys=\"buf\"", "fill_without_keys=\"buf\" boot_module=\"2\""), "goes with neither");
    let two = xml.replace("<ioport id=\"3\"", "<ioport base=\"0x3fc\" size=\"2\"/></protection_domain><protection_domain name=\"c\"><program_image path=\"c\"/><ioport id=\"3\"");
    reject(&two, "overlaps one given to");
}

#[test]
fn io_address_spaces_hold_only_what_the_driver_maps() {
    let xml = |iomaps: &str, policy: &str| {
        format!(
            r#"<system {policy}>
        <memory_region name="dma" size="0x2000"/>
        <memory_region name="tx" size="0x1000"/>
        <memory_region name="other" size="0x1000"/>
        <memory_region name="keys" size="0x1000" secret="true"/>
        <memory_region name="regs" size="0x1000" phys_addr="0xfe000000"/>
        <protection_domain name="nic">
            <program_image path="nic.elf"/>
            <map mr="dma" vaddr="0x20000000" perms="rw"/>
            <map mr="tx" vaddr="0x20100000" perms="r"/>
            <map mr="regs" vaddr="0x20200000" perms="rw"/>
            <pci_device bdf="00:03.0"><io_address_space domain_id="1">{iomaps}</io_address_space></pci_device>
        </protection_domain>
        <protection_domain name="other_pd"><program_image path="o.elf"/><map mr="other" vaddr="0x20000000"/><map mr="keys" vaddr="0x21000000"/></protection_domain>
    </system>"#
        )
    };
    let good = xml(r#"<iomap mr="dma" perms="rw"/><iomap mr="tx" perms="r"/>"#, "");
    let s = System::parse(&good).unwrap();
    assert_eq!(s.iommu, IommuPolicy::Required, "the secure default");
    let space = s.pd("nic").unwrap().pci_devices[0].io_address_space.as_ref().unwrap();
    assert_eq!(space.domain_id, 1);
    assert_eq!(space.maps, [IoMap { mr: "dma".into(), write: true }, IoMap { mr: "tx".into(), write: false }]);
    assert_eq!(System::parse(&xml("", r#"iommu="optional""#)).unwrap().iommu, IommuPolicy::Optional);
    reject(&xml("", r#"iommu="maybe""#), "required or optional");
    reject(&xml(r#"<iomap mr="other"/>"#, ""), "gives the device a region that nic does not map");
    // The crypto PDs' session slots are key material even unmarked: no device reaches them.
    let sessions = xml(r#"<iomap mr="sessions" perms="rw"/>"#, "")
        .replace(r#"<memory_region name="other""#, r#"<memory_region name="sessions" role="session_keys" size="0x1000"/><memory_region name="other""#)
        .replace(r#"<map mr="tx" vaddr="0x20100000" perms="r"/>"#, r#"<map mr="tx" vaddr="0x20100000" perms="r"/><map mr="sessions" vaddr="0x20300000" perms="rw"/>"#);
    reject(&sessions, "a device may reach plain RAM only");
    reject(&xml(r#"<iomap mr="tx" perms="rw"/>"#, ""), "maps read-only");
    reject(&xml(r#"<iomap mr="regs" perms="r"/>"#, ""), "plain RAM only");
    reject(&xml(r#"<iomap mr="nope"/>"#, ""), r#"<iomap mr="nope"> names no memory_region"#);
    reject(&xml(r#"<iomap mr="dma"/><iomap mr="dma"/>"#, ""), "appears twice");
    reject(&xml(r#"<iomap mr="dma" perms="x"/>"#, ""), "must be r or rw");
    reject(&good.replace(r#"domain_id="1""#, r#"domain_id="0""#), "0 is reserved");
    let twice = good.replace(
        "</pci_device>",
        r#"</pci_device><pci_device bdf="00:04.0"><io_address_space domain_id="1"><iomap mr="dma"/></io_address_space></pci_device>"#,
    );
    reject(&twice, "domain_id 1 is used by two devices");
}

#[test]
fn cpu_places_a_pd_and_defaults_to_core_0() {
    let sys = System::parse(
        r#"<system><protection_domain name="a" cpu="3"><program_image path="x"/></protection_domain>
           <protection_domain name="b"><program_image path="y"/></protection_domain></system>"#,
    )
    .unwrap();
    assert_eq!((sys.protection_domains[0].cpu, sys.protection_domains[1].cpu), (3, 0));
}

#[test]
fn a_heap_grows_with_the_peers_of_a_config_region_only() {
    let sys = |attrs: &str| {
        format!(
            r#"<system><memory_region name="cfg" role="config" size="0x1000"/><memory_region name="ring" role="ring_data" size="0x1000"/><protection_domain name="c" {attrs}><program_image path="c.elf"/></protection_domain></system>"#
        )
    };
    let s = System::parse(&sys(r#"heap_size="0x40000" heap_per_peer="0x6000" heap_peers_of="cfg""#)).unwrap();
    let c = s.pd("c").unwrap();
    assert_eq!((c.heap_size, c.heap_per_peer, c.heap_peers_of.as_deref()), (Some(0x40000), 0x6000, Some("cfg")));
    let plain = System::parse(&sys("")).unwrap();
    assert_eq!((plain.pd("c").unwrap().heap_size, plain.pd("c").unwrap().heap_per_peer), (None, 0));
    reject(&sys(r#"heap_size="0x1001""#), "heap_size is not a positive multiple of 4 KiB");
    reject(&sys(r#"heap_size="0x8000000""#), "up to 64 MiB");
    // Per peer in whole KiB (the root task rounds the total up to pages).
    let small = System::parse(&sys(r#"heap_per_peer="0x800" heap_peers_of="cfg""#)).unwrap();
    assert_eq!(small.pd("c").unwrap().heap_per_peer, 0x800);
    reject(&sys(r#"heap_per_peer="0x900" heap_peers_of="cfg""#), "heap_per_peer is not a multiple of 1 KiB");
    reject(&sys(r#"heap_per_peer="0x1000""#), "heap_per_peer and heap_peers_of go together");
    reject(&sys(r#"heap_per_peer="0x1000" heap_peers_of="ring""#), "heap_peers_of names no memory_region with role=\"config\": ring");
    reject(&sys(r#"heap_per_peer="0x1000" heap_peers_of="nope""#), "nope");
    // Per AllowedIPs prefix in bytes, beside the per-peer part.
    let prefixes = System::parse(&sys(r#"heap_per_peer="0x800" heap_per_prefix="320" heap_peers_of="cfg""#)).unwrap();
    assert_eq!((prefixes.pd("c").unwrap().heap_per_prefix, small.pd("c").unwrap().heap_per_prefix), (320, 0));
    reject(&sys(r#"heap_per_prefix="320""#), "heap_per_prefix needs heap_peers_of");
    reject(&sys(r#"heap_per_peer="0x800" heap_per_prefix="0x20000" heap_peers_of="cfg""#), "heap_per_prefix is above 64 KiB");
}
