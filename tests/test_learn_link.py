"""Learning over the link: the RTL (chip + UART block, ``--port sim``) trained
from the host, compared with the golden model bit for bit.

examples/learn.toml (a competitive layer with STDP and growth) is loaded,
its [learning] section applied (LEARN .. EPISODE, SEED) and trained on
examples/learn_in.csv for 200 ticks, through :class:`Board` in chunks:
after every chunk the whole crossbar is read back and compared with the
golden model's at the same tick, and every output event is compared. A
mismatch names the first diverging tick (or chunk), core, row, neuron and
values. Then ``spikeloom run --learn --port sim --save`` (all 400 ticks) must save exactly
what ``--port golden`` saves.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikeloom.defs import Region, unpack_array
from spikeloom.host.board import Board
from spikeloom.host.eventfile import read_inputs
from spikeloom.host.netfile import load_network
from spikeloom.host.transport import SIM_GEOMETRY, SIM_LINK, SimTransport
from spikeloom.sim.top import ChipModel

from conftest import SIMULATORS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "learn.toml"
INPUT = ROOT / "examples" / "learn_in.csv"
TICKS = 400
CHUNK = 100
LINK_TICKS = 200  #: the Board test (chunked reads of the crossbar); the CLI test runs all
SIMULATOR = "verilator" if "verilator" in SIMULATORS else (SIMULATORS or [None])[0]

pytestmark = pytest.mark.skipif(not SIMULATORS, reason="no RTL simulator")


def _crossbar(board: Board, core: int) -> np.ndarray:
    g = board.geometry
    words = board.read_mem(core, Region.CROSSBAR, 0, g.region_depth(Region.CROSSBAR))
    return unpack_array(g.entry_layout, words)["count"].reshape(g.rows, g.neurons)


def _first_event_diff(got, want) -> str:
    for x, y in zip(got, want):
        if x != y:
            return f"first diverging output event: RTL (tick, core, neuron) {x}, golden {y}"
    return f"RTL {len(got)} events, golden {len(want)} (the first {min(len(got), len(want))} agree)"


def _first_entry_diff(got, want, core: int, ticks: str) -> str:
    r, j = (int(x) for x in np.argwhere(got != want)[0])
    n = int((got != want).sum())
    return (
        f"crossbar differs after ticks {ticks}: core {core} row {r} neuron {j}: RTL count "
        f"{got[r, j]}, golden {want[r, j]} ({n} entries differ)"
    )


def test_learning_over_the_link_is_bit_exact():
    net = load_network(EXAMPLE)
    assert net.geometry == SIM_GEOMETRY
    inputs = read_inputs(INPUT, SIM_GEOMETRY)
    model = ChipModel(dataclasses.replace(net, count=net.count.copy()))
    model.set_learning(dataclasses.replace(net.learning.config, learn=1))
    for c, s in enumerate(net.learning.seeds):
        model.seed(c, s)
    with Board(SimTransport(SIM_GEOMETRY, SIM_LINK, simulator=SIMULATOR)) as board:
        board.load(net)
        board.start_learning(net.learning)
        total = 0
        for start in range(0, LINK_TICKS, CHUNK):
            chunk = {t - start: ev for t, ev in inputs.items() if start <= t < start + CHUNK}
            got = board.run_ticks(CHUNK, chunk)
            want = sorted(e for t in range(CHUNK) for e in model.tick(chunk.get(t, []))[1])
            assert got == want, _first_event_diff(got, want)
            total += len(got)
            for c in range(SIM_GEOMETRY.cores):
                xbar, gold = _crossbar(board, c), model.cores.count[c]
                ticks = f"{start}..{start + CHUNK - 1}"
                assert np.array_equal(xbar, gold), _first_entry_diff(xbar, gold, c, ticks)
        back = board.read_network(learning=True)
    changed = int((back.count != net.count).sum())
    assert total > 50 and changed > 100, f"{total} events, {changed} entries learned: too few"
    assert back.learning == net.learning


def test_cli_run_learn_on_sim_saves_what_golden_saves(tmp_path):
    exe = str(Path(sys.executable).parent / "spikeloom")
    env = {**os.environ, "SPIKELOOM_SIMULATOR": SIMULATOR}
    saved = {}
    for port in ("sim", "golden"):
        out = tmp_path / f"{port}.toml"
        r = subprocess.run(
            [exe, "-q", "run", "--learn", "--network", str(EXAMPLE), "--input", str(INPUT),
             "--ticks", str(TICKS), "--out", str(tmp_path / f"{port}.csv"), "--save", str(out),
             "--port", port],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        saved[port] = load_network(out)
    assert (tmp_path / "sim.csv").read_text() == (tmp_path / "golden.csv").read_text()
    a, b = saved["sim"], saved["golden"]
    assert np.array_equal(a.count, b.count), _first_entry_diff(a.count[0], b.count[0], 0, "all")
    assert a.learning == b.learning and int((a.count != load_network(EXAMPLE).count).sum()) > 100
