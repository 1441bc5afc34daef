"""The spikeloom command line, run as a real subprocess."""

import subprocess
import sys
from pathlib import Path

SPIKELOOM = str(Path(sys.executable).parent / "spikeloom")


def run(*args):
    return subprocess.run([SPIKELOOM, *args], capture_output=True, text=True, timeout=120)


def test_verilog_writes_the_chip(tmp_path):
    out = tmp_path / "chip.v"
    r = run("verilog", "--levels", "2,2", "--neurons", "8", "--axons", "8", "--lanes", "2",
            "-o", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "module spikeloom_chip" in text
    # Four cores, four fan-out units, and the segments of a (2, 2) tree.
    for c in range(4):
        assert f"module \\spikeloom_chip.core{c} " in text
        assert f"module \\spikeloom_chip.fanout{c} " in text
    for seg in ("seg0_0", "seg0_1", "seg1_0"):
        assert f"module \\spikeloom_chip.bus.{seg} " in text
    assert "module \\spikeloom_chip.bus.seg0_2 " not in text


def test_verilog_one_core(tmp_path):
    out = tmp_path / "core.v"
    r = run("verilog", "--block", "core", "--neurons", "8", "--axons", "8", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "module spikeloom_core" in out.read_text()


def test_bad_geometry_is_named_and_fails():
    r = run("geometry", "--neurons", "12")
    assert r.returncode != 0
    assert "Geometry.neurons = 12" in r.stderr and "power of two" in r.stderr


def test_bad_levels_is_named_and_fails():
    r = run("geometry", "--levels", "2,x")
    assert r.returncode != 0
    assert "--levels" in r.stderr
