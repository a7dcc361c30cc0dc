"""System-file variants that the product images and the tests build from the shipped files.

`support/image --crypto-workers 2` uses it for the product, the tests and benchmarks through
netlab; it only rewrites XML text, so the image command needs nothing else of the test lab."""

import re


def with_crypto_workers(text, workers=2, cpus=(1, 3)):
    """system.xml's text with `workers` crypto worker PDs (protection-domains/crypto-worker)
    added: the session_keys region crypto and the workers share, a job ring each way between
    crypto and each worker, each worker's maps of crypto's ring data (the packets it reads, the
    slots it writes results into), a keyless config, a status page the console reads and the
    timer's tick. Worker N runs on cpu `cpus[N % len(cpus)]` at priority 185 (below crypto: on a
    shared core crypto dispatches a batch, then the worker runs it).

    Crypto shares writable memory with its workers (the session table, the result slots in its
    rings), so the root task restarts them as a group (platforms/sel4/sysinit's restart_group):
    a fault in any of them stops the others, and all start afresh together."""
    # session_keys holds the workers' gates and 8 session slots for each of crypto's 1024 peers
    # (pd_session::SessionTable::bytes_for(MAX_PEERS), checked by crypto-worker's tests).
    regions = """    <memory_region name="session_keys" role="session_keys" size="0x4e1000" />
    <memory_region name="crypto_workers_config" role="config" size="0x40000" fill_without_keys="crypto_config" />
"""
    crypto_maps = """        <map mr="session_keys" vaddr="0x12000000" perms="rw" setvar_vaddr="session_keys" />
"""
    pds, serial_maps, channels = "", "", ""
    for n in range(workers):
        regions += f"""    <memory_region name="crypto_to_crypto_worker_{n}_data" role="ring_data" size="0x8000" />
    <memory_region name="crypto_to_crypto_worker_{n}_ctl" role="ring_ctl" size="0x1000" />
    <memory_region name="crypto_worker_{n}_to_crypto_data" role="ring_data" size="0x8000" />
    <memory_region name="crypto_worker_{n}_to_crypto_ctl" role="ring_ctl" size="0x1000" />
    <memory_region name="crypto_worker_{n}_status" role="status" size="0x1000" />
"""
        base = 0x21000000 + n * 0x100000
        crypto_maps += f"""        <map mr="crypto_to_crypto_worker_{n}_data" vaddr="{base:#x}" perms="rw" setvar_vaddr="worker{n}_tx_data" />
        <map mr="crypto_to_crypto_worker_{n}_ctl" vaddr="{base + 0x10000:#x}" perms="rw" setvar_vaddr="worker{n}_tx_ctl" />
        <map mr="crypto_worker_{n}_to_crypto_data" vaddr="{base + 0x20000:#x}" perms="r" setvar_vaddr="worker{n}_rx_data" />
        <map mr="crypto_worker_{n}_to_crypto_ctl" vaddr="{base + 0x30000:#x}" perms="rw" setvar_vaddr="worker{n}_rx_ctl" />
"""
        pds += f"""    <protection_domain name="crypto_worker_{n}" domain="crypto" priority="185" cpu="{cpus[n % len(cpus)]}" heap_per_peer="0x800" heap_per_prefix="320" heap_peers_of="crypto_workers_config">
        <program_image path="crypto_worker.elf" />
        <map mr="crypto_worker_{n}_status" vaddr="0x11000000" perms="rw" setvar_vaddr="status" />
        <map mr="crypto_workers_config" vaddr="0x10000000" perms="r" setvar_vaddr="config" />
        <map mr="session_keys" vaddr="0x12000000" perms="rw" setvar_vaddr="session_keys" />
        <map mr="net_red_to_crypto_data" vaddr="0x20000000" perms="r" setvar_vaddr="red_in_data" />
        <map mr="crypto_to_net_red_data" vaddr="0x20200000" perms="rw" setvar_vaddr="red_out_data" />
        <map mr="net_black_to_crypto_data" vaddr="0x20400000" perms="r" setvar_vaddr="black_in_data" />
        <map mr="crypto_to_net_black_data" vaddr="0x20600000" perms="rw" setvar_vaddr="black_out_data" />
        <map mr="crypto_to_crypto_worker_{n}_data" vaddr="0x20800000" perms="r" setvar_vaddr="crypto_rx_data" />
        <map mr="crypto_to_crypto_worker_{n}_ctl" vaddr="0x20810000" perms="rw" setvar_vaddr="crypto_rx_ctl" />
        <map mr="crypto_worker_{n}_to_crypto_data" vaddr="0x20820000" perms="rw" setvar_vaddr="crypto_tx_data" />
        <map mr="crypto_worker_{n}_to_crypto_ctl" vaddr="0x20830000" perms="rw" setvar_vaddr="crypto_tx_ctl" />
    </protection_domain>
"""
        serial_maps += f"""        <map mr="crypto_worker_{n}_status" vaddr="{0x11100000 + n * 0x1000:#x}" perms="r" setvar_vaddr="status:crypto_worker_{n}" />
"""
        channels += f"""    <channel><end pd="crypto" id="{3 + n}" /><end pd="crypto_worker_{n}" id="0" /></channel>
    <channel><end pd="timer" id="{6 + n}" /><end pd="crypto_worker_{n}" id="1" notify="false" /></channel>
"""

    def after(text, pattern, insert):
        m = re.search(pattern, text, re.S)
        assert m, f"system.xml has no {pattern!r}"
        return text[:m.end()] + insert + text[m.end():]

    text = text.replace('    <memory_region name="console_log"', regions + '    <memory_region name="console_log"', 1)
    text = after(text, r'<protection_domain name="crypto" .*?setvar_vaddr="black_rx_ctl" />\n', crypto_maps)
    text = after(text, r'<protection_domain name="crypto" .*?</protection_domain>\n', pds)
    text = after(text, r'<protection_domain name="serial" .*?setvar_vaddr="status:timer" />\n', serial_maps)
    return text.replace("</system>", channels + "</system>", 1)
