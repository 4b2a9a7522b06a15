"""Deployment configs are accepted by the real programs that read them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

OPS = Path(__file__).resolve().parents[2] / "ops"


@pytest.mark.parametrize("name", ["torrc", "torrc.multi"])
def test_torrc_verifies(tmp_path, name):
    tor = shutil.which("tor") or "/usr/sbin/tor"
    if not Path(tor).exists():
        pytest.skip("tor not installed (ops/bootstrap.sh installs it)")
    text = (OPS / "tor" / name).read_text()
    # Point the data directory at a scratch folder; everything else is verified as shipped.
    local = tmp_path / "torrc"
    local.write_text("\n".join(
        f"DataDirectory {tmp_path / 'tor'}" if line.startswith("DataDirectory") else line for line in text.splitlines()))
    (tmp_path / "tor").mkdir(mode=0o700)
    r = subprocess.run([tor, "--verify-config", "-f", str(local)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Configuration was valid" in r.stdout
    assert "IsolateSOCKSAuth" in text


def test_privoxy_config_is_accepted(tmp_path):
    privoxy = shutil.which("privoxy") or "/usr/sbin/privoxy"
    if not Path(privoxy).exists():
        pytest.skip("privoxy not installed (ops/bootstrap.sh installs it)")
    r = subprocess.run([privoxy, "--config-test", str(OPS / "privoxy" / "config")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    text = (OPS / "privoxy" / "config").read_text()
    assert "forward-socks5t / 127.0.0.1:9050" in text  # remote DNS, never plain socks5
    assert "forward-socks5 " not in text


@pytest.mark.parametrize("unit", sorted(p.name for p in (OPS / "systemd").glob("*.service")))
def test_systemd_unit_verifies(tmp_path, unit):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze not available on this machine")
    root = OPS.parent
    # The units name the install location /opt/narcwatch; verify them against this checkout.
    text = (OPS / "systemd" / unit).read_text().replace("/opt/narcwatch", str(root))
    if not (root / ".venv" / "bin" / "narcwatch").exists():
        pytest.skip("virtualenv not bootstrapped")
    (tmp_path / unit).write_text(text)
    r = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Unknown key" not in r.stderr and "bad unit file" not in r.stderr
