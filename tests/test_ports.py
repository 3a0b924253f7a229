"""make ui / serve / demo check their port first: a busy one is named, with the Make variable that changes it."""

from __future__ import annotations

import socket
import subprocess

from conftest import ROOT

SCRIPT = ROOT / "scripts" / "port_free.sh"


def test_a_busy_port_is_refused_in_one_line_naming_it_and_its_variable():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([str(SCRIPT), "127.0.0.1", str(port), "SERVE_PORT"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "SERVE_PORT=<port>" in result.stderr


def test_a_free_port_passes():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert subprocess.run([str(SCRIPT), "127.0.0.1", str(port), "UI_PORT"]).returncode == 0


def test_the_make_targets_check_their_ports():
    makefile = (ROOT / "Makefile").read_text()
    for variable in ("UI_PORT", "SERVE_PORT", "DEMO_PORT"):
        assert f"scripts/port_free.sh 127.0.0.1 $({variable}) {variable}" in makefile
