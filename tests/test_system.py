"""Full system: the RTL touched only through the host library, over the simulated UART.

The ``sim`` transport starts ``hdl/system.System`` (chip + UART block) in a
simulator behind a socket (``sim/rtl/bridge.py``); :class:`Board` talks to it
with the same bytes as to a board. Every result is compared with the
golden model: a random network is loaded and read back (every memory),
run with random host input (output events with full tick numbers, neuron
states, event counters), run free and stopped (the event FIFO overflowing: what is kept and what is
counted dropped), refused a STEP while
running, and soft-reset.
"""

import time

import numpy as np
import pytest

from spikeloom import protocol as P
from spikeloom.defs import PARAM_FIELDS, STATE_FIELDS
from spikeloom.host.board import Board, BoardError
from spikeloom.host.transport import SIM_GEOMETRY, SIM_LINK, SimTransport
from spikeloom.sim.top import ChipModel
from spikeloom.testing.stimulus import random_host_inputs, random_network

from conftest import SIMULATORS

TICKS = {"verilator": 120, "icarus": 30}


@pytest.fixture(scope="module", params=SIMULATORS)
def board(request):
    b = Board(SimTransport(SIM_GEOMETRY, SIM_LINK, simulator=request.param))
    yield request.param, b
    b.close()


def test_system_matches_golden(board):
    simulator, b = board
    g = SIM_GEOMETRY
    ident = b.identify()
    assert ident.id == P.PROTOCOL_ID and ident.geometry == g and ident.link == SIM_LINK

    ticks = TICKS[simulator]
    # The first seed whose network has output events in the run (chosen on
    # the golden model alone, so the comparison below means something).
    seed = 20
    while True:
        net, inputs = random_network(g, seed), random_host_inputs(g, seed, ticks)
        probe = ChipModel(net)
        if sum(len(probe.tick(inputs[t])[1]) for t in range(ticks)) > ticks // 4:
            break
        seed += 1
    b.load(net)
    # Every memory reads back as written (STATE as rest).
    back = b.read_network()
    np.testing.assert_array_equal(back.count, net.count)
    np.testing.assert_array_equal(back.sign, net.sign)
    for k in PARAM_FIELDS:
        np.testing.assert_array_equal(back.params[k], net.params[k], err_msg=k)
    for k in ("route_valid", "route_core", "route_axon"):
        np.testing.assert_array_equal(getattr(back, k), getattr(net, k), err_msg=k)
    for c in range(g.cores):
        assert all(not np.any(v) for v in b.read_state(c).values())

    t0 = b.read_regs("TICK")[0]
    events = b.run_ticks(ticks, inputs)
    model = ChipModel(net)
    want = []
    for t in range(ticks):
        _, ev = model.tick(inputs[t])
        want += [(t0 + t, c, n) for _, c, n in ev]
    assert sorted(events) == sorted(want), _first_diff(sorted(events), sorted(want))
    assert len(want) > ticks // 4, "the network must spike"
    state = b.read_state(0)
    for f in STATE_FIELDS:
        np.testing.assert_array_equal(state[f], model.state[f][0], err_msg=f)
    regs = b.registers()
    for name in ("routed", "delivered", "host_events", "output_events"):
        assert regs[name.upper()] == model.counters[name], name
    assert regs["CARRIED0"] == model.counters["carried"][0]
    assert regs["TICK"] == t0 + ticks

    # Free running: the ticks it ran equal as many STEPs of the golden model.
    b.run(period=500)
    with pytest.raises(BoardError, match="BAD_STATE"):
        b.step(1)
    time.sleep(0.3)
    b.stop()
    ran = b.read_regs("TICK")[0] - (t0 + ticks)
    assert ran > 0
    free = b.read_events()
    dropped = b.read_regs("EVENTS_DROPPED")[0]
    want = []
    for t in range(ran):
        _, ev = model.tick()
        want += [(t0 + ticks + t, c, n) for _, c, n in ev]
    # A full event FIFO drops the events that come later (one core: the
    # RTL's order is the golden model's), and counts them.
    assert len(free) + dropped == len(want)
    assert sorted(free) == want[: len(free)]

    # Soft reset: tick and counters back to 0, memories (neuron states too) kept.
    before = b.read_state(0)
    b.reset()
    regs = b.registers()
    assert regs["TICK"] == 0 and regs["ROUTED"] == 0 and regs["RUNNING"] == 0
    after = b.read_state(0)
    for f in STATE_FIELDS:
        np.testing.assert_array_equal(after[f], before[f], err_msg=f)
    assert regs["FRAMES_OK"] > 0 and regs["BAD_CRC"] == 0 and regs["OVERRUNS"] == 0


def _first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first difference at event {i}: RTL {x}, golden {y}"
    return f"RTL {len(a)} events, golden {len(b)}"


def test_cli_sim_equals_golden(tmp_path):
    """`spikeloom info` and `spikeloom run` give the same answers on --port sim and golden."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from spikeloom.host.netfile import save_network

    exe = str(Path(sys.executable).parent / "spikeloom")
    env = {**os.environ, "SPIKELOOM_SIMULATOR": SIMULATORS[0]}

    def cli(*args):
        r = subprocess.run(
            [exe, *map(str, args)], capture_output=True, text=True, env=env, timeout=600
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    def geometry_lines(text):
        return [line for line in text.splitlines() if not line.startswith("device:")]

    assert geometry_lines(cli("info", "--port", "sim")) == geometry_lines(
        cli("info", "--port", "golden")
    )
    net = tmp_path / "net.toml"
    save_network(random_network(SIM_GEOMETRY, 31), net)
    inputs = random_host_inputs(SIM_GEOMETRY, 31, 40)
    rows = ["tick,core,axon"] + [f"{t},{c},{a}" for t, ev in enumerate(inputs) for c, a in ev]
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n")
    out = {}
    for port in ("sim", "golden"):
        path = tmp_path / f"{port}.csv"
        cli(
            "-q",
            "run",
            "--network",
            net,
            "--ticks",
            40,
            "--input",
            tmp_path / "in.csv",
            "--out",
            path,
            "--port",
            port,
        )
        out[port] = path.read_text()
    assert out["sim"] == out["golden"]
    assert len(out["sim"].splitlines()) > 40, "the network must spike"


def test_a_closed_simulator_leaves_no_folder(board, tmp_path, monkeypatch):
    """Every launch makes a work folder (port file, log); closing removes it."""
    import tempfile

    simulator, _ = board  # built already
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    sim = SimTransport(SIM_GEOMETRY, SIM_LINK, simulator=simulator)
    workdir = sim.server.workdir
    assert workdir.parent == tmp_path and (workdir / "sim.log").exists()
    assert Board(sim).identify().geometry == SIM_GEOMETRY
    sim.close()
    assert sim.server.process.poll() is not None
    assert list(tmp_path.iterdir()) == []


def test_a_failed_start_leaves_no_folder(tmp_path, monkeypatch):
    """A simulator that does not start in time is stopped and its folder removed."""
    import tempfile

    from spikeloom.sim.rtl import bridge

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(RuntimeError, match="did not start in 0"):
        bridge.launch(SIM_GEOMETRY, SIM_LINK, SIMULATORS[0], startup_timeout=0)
    assert list(tmp_path.iterdir()) == []
