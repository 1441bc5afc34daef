"""Learning from the host on the golden model: the network file's [learning]
section, ``Board.start_learning``/``read_network(learning=True)``, and
``spikeloom run --learn --save`` / ``spikeloom save``. The RTL over the link is
tests/test_learn_link.py."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikeloom.defs import LEARN_FIELDS, LearnConfig
from spikeloom.examples import make_learn_net
from spikeloom.host.board import Board, BoardError
from spikeloom.host.eventfile import read_events, read_inputs
from spikeloom.host.netfile import load_network, save_network
from spikeloom.host.transport import SIM_GEOMETRY, GoldenTransport
from spikeloom.network import LEARNING_KEYS, Learning, Network, NetworkError
from spikeloom.sim.top import ChipModel

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "learn.toml"
INPUT = ROOT / "examples" / "learn_in.csv"
EXE = str(Path(sys.executable).parent / "spikeloom")
TICKS = make_learn_net.TICKS


def golden_training(net: Network, inputs, ticks: int):
    """What a device does after load + start_learning: (model, events by tick)."""
    model = ChipModel(dataclasses.replace(net, count=net.count.copy()))
    model.set_learning(dataclasses.replace(net.learning.config, learn=1))
    for c, s in enumerate(net.learning.seeds):
        model.seed(c, s)
    events = [model.tick(inputs.get(t, []))[1] for t in range(ticks)]
    return model, events


def test_the_shipped_example_is_what_make_learn_net_makes(tmp_path):
    net = load_network(EXAMPLE)
    want = make_learn_net.network()
    np.testing.assert_array_equal(net.count, want.count)
    assert net.learning == want.learning == make_learn_net.LEARNING
    assert read_inputs(INPUT, SIM_GEOMETRY) == make_learn_net.inputs()


def test_learning_section_round_trips(tmp_path):
    net = make_learn_net.network()
    path = save_network(net, tmp_path / "n.toml")
    back = load_network(path)
    assert back.learning == net.learning
    text = path.read_text()
    assert "[learning]" in text and all(f"\n{k} = " in text for k in LEARNING_KEYS)
    net.learning = Learning(LearnConfig(p_minus=5), seeds=None)  # seeds are optional
    assert load_network(save_network(net, tmp_path / "m.toml")).learning == net.learning
    net.learning = None  # and so is the section
    path = save_network(net, tmp_path / "o.toml")
    assert "[learning]" not in path.read_text() and load_network(path).learning is None


def _edit(tmp_path, old: str, new: str) -> Path:
    shutil.copy(EXAMPLE.with_suffix(".npz"), tmp_path / "learn.npz")
    text = EXAMPLE.read_text()
    assert old in text
    (tmp_path / "learn.toml").write_text(text.replace(old, new))
    return tmp_path / "learn.toml"


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "p_minus = 3277",
            "p_minus = 65537",
            r"learning\.p_minus = 65537: out of range 0\.\.65536",
        ),
        ("episode = 0", "episode = -1", r"learning\.episode = -1: out of range"),
        ("learn = 1", "learn = 2", r"learning\.learn = 2: out of range 0\.\.1"),
        ("p_grow = 1311\n", "", r"learning\.p_grow: missing"),
        ("p_plus = 6554", 'p_plus = "0.1"', r"learning\.p_plus: expected an integer, got '0\.1'"),
        ("episode = 0", "episode = 0\nrate = 3", r"learning\.rate: unknown key \(known: learn,"),
        ("seed = [\n    7,\n]", "seed = [7, 8]", r"learning\.seed: 2 seeds, expected one per core"),
        ("seed = [\n    7,\n]", "seed = 7", r"learning\.seed: expected a list of integers"),
        ("seed = [\n    7,\n]", "seed = [4294967296]", r"learning\.seed\[0\] = 4294967296"),
        ("[learning]", "[learning.sub]", r"learning\.sub: unknown key"),
    ],
)
def test_a_bad_learning_section_is_refused_naming_the_field(tmp_path, old, new, message):
    with pytest.raises(NetworkError, match=r"learn\.toml: " + message):
        load_network(_edit(tmp_path, old, new))


def test_board_learns_and_reads_back_what_the_golden_model_learns():
    net = load_network(EXAMPLE)
    inputs = read_inputs(INPUT, SIM_GEOMETRY)
    with Board(GoldenTransport(SIM_GEOMETRY)) as board:
        board.load(net)
        cfg = board.start_learning(net.learning)
        assert cfg == net.learning.config and board.learning().learn == 1
        events = board.run_ticks(TICKS, inputs)
        back = board.read_network(learning=True)
    model, want = golden_training(net, inputs, TICKS)
    assert sorted(events) == sorted(e for ev in want for e in ev)
    assert len(events) > 50, "the example must spike"
    assert int((back.count != net.count).sum()) > 100, "the example must learn"
    np.testing.assert_array_equal(back.count, model.cores.count)
    np.testing.assert_array_equal(back.sign, net.sign)
    assert back.learning == net.learning  # registers LEARN .. EPISODE and the seeds sent
    assert {k: back.params[k].tolist() for k in net.params} == {
        k: v.tolist() for k, v in net.params.items()
    }


def test_board_without_a_learning_unit_refuses_to_learn():
    g = dataclasses.replace(SIM_GEOMETRY, history=0)
    with Board(GoldenTransport(g)) as board:
        with pytest.raises(BoardError, match="has no learning unit"):
            board.start_learning()
        assert board.read_network(learning=True).learning is None


def test_seeds_are_known_after_reset_and_unknown_before():
    with Board(GoldenTransport(SIM_GEOMETRY)) as board:
        assert board.read_network(learning=True).learning.seeds is None
        board.reset()
        assert board.read_network(learning=True).learning.seeds == (0,)
        board.seed(0, 99)
        assert board.read_network(learning=True).learning.seeds == (99,)


def cli(*args, cwd=None, ok=True):
    r = subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert (r.returncode == 0) == ok, r.stderr
    assert "Traceback" not in r.stderr
    return r


def test_cli_run_learn_save_then_reload_and_run_again(tmp_path):
    saved = tmp_path / "learned.toml"
    r = cli("-q", "run", "--learn", "--network", EXAMPLE, "--input", INPUT, "--ticks", TICKS,
            "--out", tmp_path / "ev.csv", "--save", saved)  # fmt: skip
    assert f"network saved to {saved}" in r.stdout
    net, back = load_network(EXAMPLE), load_network(saved)
    model, want = golden_training(net, read_inputs(INPUT, SIM_GEOMETRY), TICKS)
    np.testing.assert_array_equal(back.count, model.cores.count)
    assert back.learning == net.learning
    got = read_events(tmp_path / "ev.csv")
    assert got == sorted(e for ev in want for e in ev)
    # The saved network loads and runs again (learning off, then on).
    assert "valid spikeloom network" in cli("check-network", saved).stdout
    cli("-q", "run", "--network", saved, "--input", INPUT, "--ticks", 50, "--out",
        tmp_path / "again.csv")  # fmt: skip
    cli("-q", "run", "--learn", "--network", saved, "--input", INPUT, "--ticks", 50, "--out",
        tmp_path / "again2.csv", "--save", tmp_path / "twice.toml")  # fmt: skip
    assert load_network(tmp_path / "twice.toml").learning == net.learning


def test_cli_learn_errors_are_one_line(tmp_path):
    plain = ROOT / "examples" / "net.toml"
    r = cli("run", "--learn", "--network", plain, "--ticks", 5, "--out", tmp_path / "e.csv",
            ok=False)  # fmt: skip
    assert "no [learning] section" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("run", "--network", EXAMPLE, "--ticks", 5, "--out", tmp_path / "e.csv", "--save",
            tmp_path / "x.npz", ok=False)  # fmt: skip
    assert "must end in .toml" in r.stderr
    r = cli("save", tmp_path / "nodir" / "x.toml", ok=False)
    assert "no directory" in r.stderr


def test_cli_save_reads_a_device(tmp_path):
    # A fresh golden device: every memory zero, the learning registers 0.
    cli("-q", "save", tmp_path / "empty.toml")
    net = load_network(tmp_path / "empty.toml")
    assert not net.count.any() and net.geometry == SIM_GEOMETRY
    assert net.learning.config.as_dict() == dict.fromkeys(LEARN_FIELDS, 0)
