"""The spikeloom board commands, run as real subprocesses against the golden model."""

import copy
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikeloom import protocol as P
from spikeloom.host.netfile import save_network
from spikeloom.host.transport import SIM_GEOMETRY
from spikeloom.sim.top import ChipModel
from spikeloom.testing.stimulus import random_host_inputs, random_network

SPIKELOOM = str(Path(sys.executable).parent / "spikeloom")


def run(*args, env=None):
    full_env = {**os.environ, "SPIKELOOM_PORT": "golden", **(env or {})}
    return subprocess.run(
        [SPIKELOOM, *map(str, args)], capture_output=True, text=True, timeout=120, env=full_env
    )


def failed(r, *words):
    """A clean failure: non-zero exit, every word in the message, no traceback."""
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    return True


def expected_events(net, inputs, ticks):
    chip = ChipModel(copy.deepcopy(net))
    out = []
    for t in range(ticks):
        _, events = chip.tick(inputs[t])
        out += [(t, c, n) for _, c, n in events]
    return sorted(out)


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    d = tmp_path_factory.mktemp("net")
    net = random_network(SIM_GEOMETRY, 7)
    path = save_network(net, d / "net.toml")
    return net, path


def write_inputs(path, inputs):
    with open(path, "w") as f:
        f.write("tick,core,axon\n")
        for t, events in enumerate(inputs):
            for c, a in events:
                f.write(f"{t},{c},{a}\n")


def test_info_identifies_the_golden_device():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert f"0x{P.PROTOCOL_ID:08X}" in r.stdout
    assert "neurons=64" in r.stdout and "axons=64" in r.stdout
    assert "4 clocks per bit" in r.stdout and "receive FIFO 1024 bytes" in r.stdout


def test_load_and_run_writes_the_chip_models_events(tmp_path, network):
    net, path = network
    ticks = 40
    inputs = random_host_inputs(SIM_GEOMETRY, 7, ticks)
    write_inputs(tmp_path / "in.csv", inputs)
    out, png = tmp_path / "out.csv", tmp_path / "raster.png"
    r = run("run", "--ticks", ticks, "--network", path, "--input", tmp_path / "in.csv",
            "--out", out, "--plot", png)  # fmt: skip
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["tick", "core", "neuron"]
    events = [tuple(map(int, row)) for row in rows[1:]]
    expected = expected_events(net, inputs, ticks)
    assert expected and events == expected
    assert f"{len(expected)} output events" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000

    # The same run from NPZ input to NPZ output.
    arr = np.array([(t, c, a) for t, ev in enumerate(inputs) for c, a in ev], dtype=np.int32)
    np.savez(tmp_path / "in.npz", events=arr)
    r = run("-q", "run", "-n", ticks, "--network", path, "-i", tmp_path / "in.npz",
            "-o", tmp_path / "out.npz")  # fmt: skip
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "out.npz") as f:
        assert [tuple(e) for e in f["events"].tolist()] == expected


def test_load_status_read_and_write_on_a_served_device(tmp_path, network):
    _, path = network
    serve = subprocess.Popen(
        [SPIKELOOM, "serve", "--port", "golden", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = serve.stdout.readline()
        url = re.search(r"socket://[\d.]+:\d+", line).group(0)
        r = run("load", path, "--port", url)
        assert r.returncode == 0, r.stderr
        assert f"loaded {path}" in r.stdout

        r = run("write", "reg", "SCRATCH", "0x1234", "7", "--port", url)  # SCRATCH, PERIOD
        assert r.returncode == 0, r.stderr
        r = run("read", "reg", "scratch", "--count", "2", "--port", url)
        assert r.returncode == 0, r.stderr
        assert re.search(r"SCRATCH\s+4660\s+0x00001234", r.stdout)
        assert re.search(r"PERIOD\s+7\s+0x00000007", r.stdout)
        r = run("write", "reg", "TICK", "1", "--port", url)
        assert failed(r, "WRITE_REG TICK", "BAD_ADDRESS", "TICK is read-only")

        r = run("write", "mem", "0", "crossbar", "3", "count=5,sign=1", "0x2", "--port", url)
        assert r.returncode == 0, r.stderr
        r = run("read", "mem", "0", "CROSSBAR", "3", "--count", "2", "--port", url)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert "count=5 sign=1" in lines[0] and "row 0 col 3" in lines[0]
        assert "count=2 sign=0" in lines[1]

        # Learning: parameters not given are kept; --off keeps the probabilities.
        r = run("learn", "--p-plus", "0.5", "--episode", "5", "--seed", "9", "--port", url)
        assert r.returncode == 0, r.stderr
        assert "learning on" in r.stdout and "seeded core 0 with 9" in r.stdout
        r = run("learn", "--off", "--p-grow", "1", "--port", url)
        assert r.returncode == 0, r.stderr
        assert "learning off" in r.stdout
        assert re.search(r"p_plus\s+0\.5 \(32768/65536\)", r.stdout)
        assert re.search(r"p_grow\s+1 \(65536/65536\)", r.stdout)
        assert re.search(r"episode\s+5 ticks", r.stdout)
        r = run("read", "reg", "LEARN", "--count", "5", "--port", url)
        assert r.returncode == 0, r.stderr
        values = [int(line.split()[2]) for line in r.stdout.splitlines()]
        assert values == [0, 32768, 0, 65536, 5]
        r = run("write", "reg", "P_MINUS", "65537", "--port", url)
        assert failed(r, "BAD_ADDRESS", "P_MINUS = 65537 is over its maximum 65536")

        r = run("status", "--port", url)
        assert r.returncode == 0, r.stderr
        assert re.search(r"SCRATCH\s*│\s*4660", r.stdout)
        assert re.search(r"BAD_ADDRESS\s*│\s*2\s", r.stdout)
        assert re.search(r"P_PLUS\s*│\s*32768", r.stdout)
        assert re.search(r"FRAMES_OK\s*│\s*\d+", r.stdout)
    finally:
        serve.terminate()
        serve.wait(10)


def test_learn_sets_and_shows_learning_and_names_bad_values():
    r = run("learn", "--p-plus", "0.1", "--p-minus", "0.05", "--p-grow", "0.02",
            "--episode", "20", "--seed", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "the golden model: learning on"
    assert re.search(r"p_plus\s+0\.100006 \(6554/65536\)", r.stdout)
    assert re.search(r"p_minus\s+0\.0500031 \(3277/65536\)", r.stdout)
    assert re.search(r"p_grow\s+0\.0200043 \(1311/65536\)", r.stdout)
    assert re.search(r"episode\s+20 ticks", r.stdout) and re.search(r"phase\s+0 ", r.stdout)
    assert lines[-1] == "seeded core 0 with 1"
    assert "lives only as long as this command" in r.stderr
    r = run("learn")
    assert r.returncode == 0 and "learning off" in r.stdout and "(no episodes)" in r.stdout
    assert failed(run("learn", "--p-plus", "1.5"), "--p-plus", "1.5 is not in the range")
    assert failed(run("learn", "--episode", "65536"), "--episode", "65536 is not in the range")
    assert failed(run("learn", "--seed", "1", "--core", "1"), "core 1: the device has cores 0..0")
    assert failed(run("learn", "--core", "0"), "give --seed too")


def test_read_mem_decodes_fields_and_names_bad_regions():
    r = run("read", "mem", "0", "params", "2")
    assert r.returncode == 0, r.stderr
    assert "model=0 threshold=0 leak=0" in r.stdout
    r = run("read", "mem", "0", "weights", "2")
    assert failed(r, "no memory region 'weights'")
    r = run("read", "reg", "NOPE")
    assert failed(r, "no register named 'NOPE'")


def test_missing_port_is_named():
    r = run("info", "--port", "/dev/does-not-exist")
    assert failed(r, "cannot open /dev/does-not-exist: No such file or directory")


def test_silent_port_gives_no_answer():
    master, slave = os.openpty()
    try:
        r = run("info", "--port", os.ttyname(slave), "--timeout", "0.3")
        assert failed(r, "no answer from", "within 0.3 s", "is a spikeloom bitstream loaded")
    finally:
        os.close(master)
        os.close(slave)


def test_corrupt_network_file_is_named(tmp_path, network):
    _, path = network
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text())
    (tmp_path / "net.npz").write_bytes(b"not a zip archive")
    r = run("load", bad)
    assert failed(r, "net.npz")
    bad.write_text("format = [unclosed\n")
    r = run("run", "--ticks", "3", "--network", bad, "--out", tmp_path / "o.csv")
    assert failed(r, "bad.toml", "not valid TOML")


def test_bad_input_lines_are_named(tmp_path):
    (tmp_path / "in.csv").write_text("tick,core,axon\n0,0,1\n\n2,0,x\n")
    r = run("run", "--ticks", "5", "--input", tmp_path / "in.csv", "--out", tmp_path / "o.csv")
    assert failed(r, "in.csv line 4: axon 'x' is not a whole number")
    (tmp_path / "in.csv").write_text("tick,core,axon\n0,0,1\n1,0,64\n")
    r = run("run", "--ticks", "5", "--input", tmp_path / "in.csv", "--out", tmp_path / "o.csv")
    assert failed(r, "in.csv line 3: axon 64 out of range: the device has axons 0..63")
    (tmp_path / "in.csv").write_text("time,core,axon\n")
    r = run("run", "--ticks", "5", "--input", tmp_path / "in.csv", "--out", tmp_path / "o.csv")
    assert failed(r, "in.csv line 1: header", "expected 'tick,core,axon'")
    r = run("run", "--ticks", "5", "--out", tmp_path / "o.txt")
    assert failed(r, "o.txt: unknown event file format")
    assert not (tmp_path / "o.csv").exists()
