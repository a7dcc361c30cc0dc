"""The documentation that is generated from the code stays in step with it."""

import os
import subprocess

import netlab

PD_GRAPH = os.path.join(netlab.ROOT, "support", "pd-graph")


def test_the_pd_graph_picture_is_drawn_from_the_current_system_xml():
    p = subprocess.run([PD_GRAPH, "--check"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr + "(docs/pd-graph.svg must be regenerated with support/pd-graph)"


def test_a_changed_system_makes_the_picture_stale(tmp_path):
    with open(netlab.SYSTEM_XML) as f:
        xml = f.read()
    same = tmp_path / "same" / "system.xml"
    same.parent.mkdir()
    same.write_text(xml)
    p = subprocess.run([PD_GRAPH, "--check", str(same)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    changed = tmp_path / "system.xml"
    changed.write_text(xml.replace('name="timer" domain="neutral" priority="250"', 'name="timer" domain="neutral" priority="249"'))
    assert changed.read_text() != xml
    p = subprocess.run([PD_GRAPH, "--check", str(changed)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "stale" in p.stderr, p.stdout + p.stderr
