"""A new user's path: bad input gets one line, boards come from the table, nothing is lost.

The board tests read ``spikeloom.boards.TARGETS`` (never copies of its
values), so they follow the table when the boards change.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spikeloom.boards import TARGETS
from spikeloom.host import encode
from spikeloom.host.cli.options import describe
from spikeloom.host.eventfile import read_events
from spikeloom.host.netfile import load_network
from spikeloom.host.transport import SerialTransport, default_baud, open_transport
from spikeloom.sim.top import ChipModel

ROOT = Path(__file__).resolve().parent.parent
SPIKELOOM = str(Path(sys.executable).parent / "spikeloom")
NET = ROOT / "examples" / "net.toml"
NIR = ROOT / "examples" / "snntorch_mlp.nir"


def run(*args, env=None, timeout=120):
    full = {k: v for k, v in os.environ.items() if k != "SPIKELOOM_PORT"}
    full.update(env or {})
    return subprocess.run(
        [SPIKELOOM, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=full
    )


def one_line_error(r, *words) -> str:
    """Non-zero exit, no traceback, exactly one "Error:" line, holding every word."""
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, r.stderr
    for w in words:
        assert w in errors[0], r.stderr
    return errors[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expected_events(net, ticks):
    chip = ChipModel(copy.deepcopy(net))
    out = []
    for t in range(ticks):
        _, events = chip.tick([])
        out += [(t, c, n) for _, c, n in events]
    return sorted(out)


@pytest.fixture
def served():
    """A golden device serving examples/net.toml; yields its URL."""
    proc = subprocess.Popen(
        [SPIKELOOM, "serve", "--port", "golden", "--listen", "127.0.0.1:0", "--network", NET],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    url = re.search(r"socket://[\d.]+:\d+", line).group(0)
    yield url, proc
    proc.terminate()
    proc.wait(10)


# -- bad input: one line naming the value ----------------------------------------------------


def test_csv_number_beyond_int64_is_named(tmp_path):
    (tmp_path / "in.csv").write_text(f"tick,core,axon\n0,0,{1 << 63}\n")
    r = run("run", "--ticks", 2, "-i", tmp_path / "in.csv", "-o", tmp_path / "o.csv")
    one_line_error(r, "in.csv line 2", f"axon {1 << 63}", "out of range")


def test_serve_listen_port_out_of_range_is_named():
    r = run("serve", "--listen", "127.0.0.1:99999")
    one_line_error(r, "127.0.0.1:99999", "0..65535")


def test_absurd_baud_is_named():
    r = run("info", "--baud", 10**12, "--port", "/dev/null")
    one_line_error(r, "--baud", str(10**12))


def test_socket_url_with_a_bad_port_is_named():
    r = run("info", "--port", "socket://localhost:notaport")
    one_line_error(r, "socket://localhost:notaport", "'notaport' is not a number")


def test_a_near_miss_of_golden_gets_a_hint():
    one_line_error(run("info", "--port", "gloden"), "'gloden'", "did you mean golden?")
    one_line_error(run("info", "--port", "smi"), "did you mean sim?")


def test_a_port_from_the_environment_is_named_as_such():
    r = run("info", env={"SPIKELOOM_PORT": "/dev/does-not-exist"})
    one_line_error(r, "cannot open /dev/does-not-exist", "came from $SPIKELOOM_PORT")
    r = run("info", env={"SPIKELOOM_PORT": "gloden"})
    one_line_error(r, "(from $SPIKELOOM_PORT)", "did you mean golden?")


def test_version():
    r = run("--version")
    assert r.returncode == 0 and re.fullmatch(r"spikeloom \d+\.\d+\.\S+\n", r.stdout), r.stdout


def test_a_busy_server_is_reported_as_busy(served):
    url, _ = served
    holder = SerialTransport(url)  # another client, being served
    try:
        time.sleep(0.3)
        one_line_error(run("info", "--port", url), "is busy", "serving another client")
    finally:
        holder.close()
    r = run("info", "--port", url)  # served again once the other one is gone
    assert r.returncode == 0, r.stderr


def test_unwritable_output_is_refused_before_the_run(tmp_path):
    r = run("run", "--ticks", 5, "--network", NET, "-o", tmp_path / "no" / "out.csv")
    one_line_error(r, "out.csv: cannot write: no directory")
    r = run("run", "--ticks", 5, "--network", NET, "-o", tmp_path / "o.csv", "--plot", tmp_path)
    assert "is a directory" in one_line_error(r)
    assert not (tmp_path / "o.csv").exists()


def test_ticks_beyond_the_tick_register_or_hours_are_refused_with_an_estimate(tmp_path):
    r = run("run", "--ticks", 99999999999, "--network", NET, "-o", tmp_path / "o.csv")
    one_line_error(r, "--ticks 99999999999", "TICK register", "4294967296")
    r = run("run", "--ticks", 99999999, "--network", NET, "-o", tmp_path / "o.csv")
    one_line_error(r, "--ticks 99999999", "would take at least", "hours", "--long")


def test_probe_names_bad_neurons(tmp_path):
    r = run("run", "--ticks", 3, "--network", NET, "-o", tmp_path / "o.csv", "--probe", "0:64")
    one_line_error(r, "0:64", "neurons 0..63")
    r = run("run", "--ticks", 3, "--network", NET, "-o", tmp_path / "o.csv", "--probe", "x")
    one_line_error(r, "'x' is not CORE:NEURON")


# -- boards from the table ----------------------------------------------------------------------


def test_baud_default_follows_the_board_table():
    assert default_baud() == min(t.baud for t in TARGETS.values())
    for t in TARGETS.values():
        assert default_baud(t) == t.baud
    assert SerialTransport("loop://").baud == default_baud()
    help_text = " ".join(run("info", "--help").stdout.split())
    assert f"without --board {default_baud()}" in help_text


@pytest.mark.parametrize("name", list(TARGETS))
def test_info_on_golden_with_a_board_has_its_geometry_and_event_fifo(name):
    t = TARGETS[name]
    r = run("info", "--port", "golden", "--board", name)
    assert r.returncode == 0, r.stderr
    g = t.geometry
    assert f"neurons={g.neurons}, axons={g.axons}" in r.stdout
    assert f"potential_bits={g.potential_bits}" in r.stdout
    assert f"event FIFO {t.event_fifo} events" in r.stdout


@pytest.mark.parametrize("name", list(TARGETS))
def test_import_nir_for_a_board_takes_its_geometry_and_loads_there(name, tmp_path):
    t = TARGETS[name]
    out = tmp_path / "mlp.toml"
    r = run("import-nir", NIR, "--board", name, "--out", out, "--check-ticks", 0)
    assert r.returncode == 0, r.stderr
    assert load_network(out).geometry == t.geometry
    r = run("check-network", out, "--board", name)
    assert r.returncode == 0 and f"valid spikeloom network for {name}" in r.stdout
    r = run("run", "--network", out, "--board", name, "--ticks", 5, "-o", tmp_path / "o.csv")
    assert r.returncode == 0, r.stderr


def test_a_geometry_mismatch_names_the_board_the_fields_and_the_flag(tmp_path):
    net = load_network(NET)
    others = [t for t in TARGETS.values() if t.geometry != net.geometry]
    assert others, "the example network must not have a board's geometry (it tests the refusal)"
    t = others[0]
    differ = [k for k, v in net.geometry.as_dict().items() if v != t.geometry.as_dict()[k]]
    for args in (
        ("check-network", NET, "--board", t.name),
        ("run", "--network", NET, "--board", t.name, "--ticks", 3, "-o", tmp_path / "o.csv"),
        ("load", NET, "--board", t.name),
    ):
        line = one_line_error(run(*args), f"does not fit the {t.name} board", "--board")
        for k in differ:
            assert k in line


def test_geometry_options_are_defined_once():
    for name in ("__init__.py", "net.py", "build.py", "board.py", "encode.py"):
        text = (ROOT / "host" / "cli" / name).read_text()
        assert "GEOMETRY_FIELDS" not in text, name  # the options live in host/cli/options.py
        assert "tuple(int(x)" not in text, name  # and so does --levels parsing
        assert "join(map(str" not in text, name  # formatting: host.board.describe
    assert describe(TARGETS["icebreaker"].geometry).startswith("levels=")


# -- nothing lost -------------------------------------------------------------------------------


def _interrupted_run(tmp_path, url, stop):
    out = tmp_path / "out.csv"
    proc = subprocess.Popen(
        [SPIKELOOM, "run", "--ticks", "200000", "--port", url, "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A user's Ctrl-C is not ignored; an xdist worker may ignore SIGINT,
        # and a child inherits that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Stopped once events are being written (a loaded machine can take
    # longer than the usual 3 s to get there).
    deadline = time.monotonic() + 60
    time.sleep(3)
    while not (out.exists() and out.stat().st_size > 100) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop(proc)
    _, err = proc.communicate(timeout=60)
    r = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    line = one_line_error(r, "output events received were written to", str(out))
    upto = int(re.search(r"complete up to tick (\d+)", line).group(1))
    count = int(re.search(r"(\d+) output events received", line).group(1))
    events = read_events(out)
    assert len(events) == count and upto > 10
    expected = expected_events(load_network(NET), upto + 1)
    assert [e for e in events if e[0] <= upto] == expected
    return line


def test_ctrl_c_keeps_every_event_and_says_up_to_which_tick(tmp_path, served):
    url, _ = served
    line = _interrupted_run(tmp_path, url, lambda p: p.send_signal(signal.SIGINT))
    assert line.startswith("Error: interrupted")


def test_a_lost_link_keeps_every_event_and_says_up_to_which_tick(tmp_path, served):
    url, server = served
    line = _interrupted_run(tmp_path, url, lambda p: server.kill())
    assert "lost" in line or "no answer" in line


# -- encoders -----------------------------------------------------------------------------------


def test_rate_encoder_is_seeded_and_follows_the_rates():
    a = encode.rate([0.0, 0.5, 1.0], 2000, seed=4)
    assert a == encode.rate([0.0, 0.5, 1.0], 2000, seed=4)
    assert a != encode.rate([0.0, 0.5, 1.0], 2000, seed=5)
    arr = encode.to_array(a)
    counts = np.bincount(arr[:, 2], minlength=3)
    assert counts[0] == 0 and counts[2] == 2000 and 900 < counts[1] < 1100
    p = encode.to_array(encode.rate([1.0], 4000, seed=1, kind="poisson", first_axon=5, core=2))
    assert set(p[:, 1]) == {2} and set(p[:, 2]) == {5}
    assert abs(len(p) / 4000 - (1 - np.exp(-1))) < 0.03
    with pytest.raises(encode.EncodeError, match="value 1 is 1.5"):
        encode.rate([0.1, 1.5], 3)
    with pytest.raises(encode.EncodeError, match="10000000000 ticks x 1 values"):
        encode.rate([0.5], 10**10)


def test_latency_encoder_puts_the_largest_value_first():
    ev = encode.latency([0.0, 0.25, 1.0, 0.5], 9)
    assert ev == {0: [(0, 2)], 4: [(0, 3)], 6: [(0, 1)]}


def test_encode_cli_writes_an_input_file_run_reads(tmp_path):
    out = tmp_path / "rates.csv"
    r = run("encode", "--rate", "0.5,0.5", "--ticks", 40, "--seed", 2, "-o", out)
    assert r.returncode == 0, r.stderr
    r = run("run", "--network", NET, "--ticks", 40, "-i", out, "-o", tmp_path / "o.csv")
    assert r.returncode == 0, r.stderr
    one_line_error(run("encode", "--rate", "2", "--ticks", 3, "-o", out), "value 0 is 2")


# -- probes -------------------------------------------------------------------------------------


def test_probes_record_the_golden_models_state_every_tick(tmp_path):
    net = load_network(NET)
    out = tmp_path / "o.csv"
    r = run("run", "--network", NET, "--ticks", 30, "-o", out, "--probe", "0:16,0:32",
            "-i", ROOT / "examples" / "in.csv", "--plot", tmp_path / "p.png")  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = np.loadtxt(tmp_path / "o.probes.csv", delimiter=",", skiprows=1, dtype=np.int64)
    from spikeloom.host.eventfile import read_inputs

    inputs = read_inputs(ROOT / "examples" / "in.csv")
    chip = ChipModel(copy.deepcopy(net))
    want = []
    for t in range(30):
        chip.tick(inputs.get(t, []))
        for n in (16, 32):
            want.append([t, 0, n, *(int(chip.state[k][0, n]) for k in ("v", "s", "timer"))])
    np.testing.assert_array_equal(rows[:, :6], np.array(want))
    assert (tmp_path / "p.png").stat().st_size > 0


def test_library_transport_defaults_to_the_table_baud():
    t = open_transport("loop://")
    try:
        assert t.baud == default_baud()
    finally:
        t.close()


# -- progress on long steps ---------------------------------------------------------------------


def test_build_stages_are_told_from_the_flows_files(tmp_path):
    from spikeloom.boards.build import NAME, STAGES, flow_stage

    assert flow_stage(tmp_path, ".bin") == 0  # synthesis: nextpnr has not started
    tim = tmp_path / f"{NAME}.tim"
    tim.write_text("Info: Placing..\n")
    assert STAGES[flow_stage(tmp_path, ".bin")] == "place (nextpnr)"
    tim.write_text("Info: Placing..\nInfo: Routing..\n")
    assert STAGES[flow_stage(tmp_path, ".bin")] == "route (nextpnr)"
    (tmp_path / f"{NAME}.bin").write_bytes(b"")
    assert STAGES[flow_stage(tmp_path, ".bin")] == "pack (bitstream)"


def test_the_sim_build_estimate_comes_from_measured_builds(tmp_path, monkeypatch):
    from spikeloom.host.transport import SIM_GEOMETRY, SIM_LINK
    from spikeloom.sim.rtl import bridge

    monkeypatch.setenv("SPIKELOOM_SIM_CACHE", str(tmp_path))
    assert not bridge.is_built(SIM_GEOMETRY, SIM_LINK, "verilator")
    assert bridge.build_estimate() == bridge.DEFAULT_BUILD_SECONDS
    bridge._record_build(100.0)
    bridge._record_build(200.0)
    assert bridge.build_estimate() == 150.0


def test_the_shipped_example_is_what_make_net_makes():
    import importlib.util

    from spikeloom.host.eventfile import read_inputs

    spec = importlib.util.spec_from_file_location("make_net", ROOT / "examples" / "make_net.py")
    make_net = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_net)
    made, shipped = make_net.network(), load_network(NET)
    assert made.geometry == shipped.geometry
    np.testing.assert_array_equal(made.count, shipped.count)
    np.testing.assert_array_equal(made.sign, shipped.sign)
    for k, v in made.params.items():
        np.testing.assert_array_equal(v, shipped.params[k])
    assert read_inputs(ROOT / "examples" / "in.csv") == make_net.inputs()
    # Without input the pacemaker drives the chain: neuron k fires at ticks k, k + 10, ...
    events = expected_events(shipped, 30)
    assert [(t, n) for t, _, n in events if n == 3] == [(3, 3), (13, 3), (23, 3)]
