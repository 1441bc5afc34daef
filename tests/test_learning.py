"""RTL vs golden model for a core's learning (cocotb), and its edge cases.

Each job builds one geometry once per simulator and checks random
learning networks (``spikeloom.testing.stimulus.random_learning``; the case kind
cycles with the seed: random, saturation, pruning and regrowth, full rows,
short episodes, certain events), 200 ticks each, comparing spikes, states,
the tick's clocks and the whole crossbar after every tick. A failure names
the seed to replay with ``SPIKELOOM_SEED=<seed> pytest tests/test_learning.py``.
"""

import importlib.util
import os
import sys

import numpy as np
import pytest

from spikeloom.defs import PRNG_RESET, PROB_ONE, Geometry, LearnConfig, xorshift32
from spikeloom.hdl.core import Core
from spikeloom.sim.core import CoreModel
from spikeloom.testing.crosscheck import CORE_VISIBLE
from spikeloom.testing.crosscheck import run_learning_job as run_job
from spikeloom.testing.harness import CoreHarness
from spikeloom.testing.mutants import mutant_module

from conftest import ROOT, SIMULATORS, VOLUME

JOBS = [
    # (geometry, first seed, nets, ticks): 100 networks x 200 ticks in all.
    ("l8a8", 10000, 70, 200),
    ("l4a4", 20000, 30, 200),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("gname,seed,nets,ticks", JOBS)
def test_learning_matches_golden(design, simulator, gname, seed, nets, ticks):
    nets *= VOLUME
    if simulator == "icarus":
        # Icarus runs this testbench ~3x slower than Verilator (its clock
        # wakes Python): it checks a tenth of the networks (the same seeds).
        nets = max(3, nets // 10)
    if "SPIKELOOM_SEED" in os.environ:  # replay one network
        seed, nets = int(os.environ["SPIKELOOM_SEED"]), 1
    verdict = run_job(design, simulator, gname, seed, nets, ticks)
    assert verdict["ok"], verdict["message"]
    assert verdict["cocotb_failed"] == 0 and verdict["cocotb_tests"] == 1
    assert verdict["nets"] == nets and verdict["ticks"] == nets * ticks
    # Learning must actually act: entries change, synapses grow.
    assert verdict["changed"] > nets * 10, verdict
    assert verdict["grown"] > nets, verdict


# -- mutation check: the cross-check must catch a changed rule -------------

MUTATIONS = {
    "depression ignores the window": (
        "dec = ~pre & (u_now < self.cfg.p_minus)",
        "~pre & ",
        "",
    ),
    "growth ignores the row's synapses": ("ne.eq((n + 1) * ep)", "(n + 1) * ep", "ep"),
    "history one tick short": ("pre.eq(h2 != 0)", "h2 != 0", "h2[:-1] != 0"),
}


def mutant_core(label):
    line, old, new = MUTATIONS[label]
    module = mutant_module("learning.py", line, line.replace(old, new), label)
    name = "spikeloom_learning_mutant_" + "".join(c if c.isalnum() else "_" for c in label)
    return type(name, (Core,), {"learning_cls": module.LearningUnit})


@pytest.mark.parametrize("label", list(MUTATIONS))
def test_learning_mutant_is_caught(design, label):
    simulator = "icarus" if "icarus" in SIMULATORS else SIMULATORS[0]
    verdict = run_job(design, simulator, "l8a8", 10000, 12, 200, mutant_core(label))
    assert not verdict["ok"], f"mutant '{label}' passed the cross-check"
    assert "expected" in verdict["message"] and "got" in verdict["message"]
    print(f"mutant '{label}' caught: {verdict['message']}")


# -- edge cases of the rules, on the golden model ---------------------------

G = Geometry(neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8, timer_bits=3, history=2)


def one_neuron_fires(count, learn=1, cfg=None, seed=1):
    """A core whose neuron 0 fires on any input from axon 0 (rows active: axon 0)."""
    core = CoreModel(G)
    core.set_crossbar(count, np.zeros_like(count))
    core.set_params(threshold=1, learn=learn)
    core.learn_cfg = cfg
    core.learner.seed(seed)
    return core


def test_potentiation_saturates_at_max():
    count = np.zeros((G.rows, G.neurons), dtype=np.int64)
    count[G.neurons, 0] = G.max_count - 1  # axon 0 -> neuron 0
    core = one_neuron_fires(count, cfg=LearnConfig(learn=1, p_plus=PROB_ONE))
    for want in (G.max_count, G.max_count, G.max_count):
        spikes, _ = core.tick([0])
        assert spikes[0] and core.count[G.neurons, 0] == want
    assert core.learn_stats.draws == 1  # the saturated synapse still draws


def test_pruning_to_zero_then_regrowth():
    count = np.zeros((G.rows, G.neurons), dtype=np.int64)
    count[G.neurons, 0] = 2  # the driving synapse
    count[G.neurons + 1, 0] = 2  # axon 1, silent: depressed on every post spike
    cfg = LearnConfig(learn=1, p_plus=0, p_minus=PROB_ONE)
    core = one_neuron_fires(count, cfg=cfg)
    core.tick([0])
    core.tick([0])
    assert core.count[G.neurons + 1, 0] == 0  # pruned: 2 -> 1 -> 0
    assert core.count[G.neurons, 0] == 2  # in the window: p_plus 0, kept
    core.tick([0])
    assert core.count[G.neurons + 1, 0] == 0  # gone: no draw, no change
    # A quiet tick without learning (neuron 0's own row is active in it),
    # then growth with certainty: axon 1 gets one synapse at a random column.
    core.learn_cfg = LearnConfig()
    core.tick([])
    core.learn_cfg = LearnConfig(learn=1, p_grow=PROB_ONE)
    core.tick([1])
    assert core.learn_stats.grown == 1
    assert (core.count[G.neurons + 1] != 0).sum() == 1 and core.count[G.neurons + 1].max() == 1


def test_row_with_no_free_column_grows_nothing_but_draws():
    count = np.ones((G.rows, G.neurons), dtype=np.int64)
    core = one_neuron_fires(count, learn=0, cfg=LearnConfig(learn=1, p_grow=PROB_ONE), seed=7)
    before = core.count.copy()
    core.tick([2])
    assert np.array_equal(core.count, before)
    assert core.learn_stats.draws == 2 and core.learn_stats.grown == 0
    assert core.learner.prng == xorshift32(xorshift32(7))


def test_probability_zero_never_one_always():
    rng = np.random.default_rng(3)
    count = rng.integers(1, G.max_count + 1, (G.rows, G.neurons))
    core = one_neuron_fires(count, cfg=LearnConfig(learn=1))  # every probability 0
    for _ in range(20):
        core.tick([0, 1, 2, 3])
    assert np.array_equal(core.count, count) and core.learner.prng != PRNG_RESET
    core = one_neuron_fires(count.copy(), cfg=LearnConfig(learn=1, p_minus=PROB_ONE))
    spikes, _ = core.tick([0])
    # Only axon 0 was active: every other synapse onto a spiking neuron drops by 1.
    post = np.flatnonzero(spikes)
    want = count.copy()
    rows = [r for r in range(G.rows) if r != G.neurons]
    want[np.ix_(rows, post)] -= 1
    assert np.array_equal(core.count, want)


@pytest.mark.parametrize("episode", [0, 4])
def test_episode_scales_growth(episode):
    """Growth chance at phase phi is p_grow * (E - phi) / E (1 without episodes)."""
    grown = np.zeros(max(episode, 1))
    trials = 400
    for seed in range(trials):
        for phase in range(max(episode, 1)):
            count = np.zeros((G.rows, G.neurons), dtype=np.int64)
            core = one_neuron_fires(
                count,
                cfg=LearnConfig(learn=1, p_grow=PROB_ONE // 2, episode=episode),
                seed=seed + 1,
            )
            core.set_params(threshold=100)  # no spikes: growth only
            core.tick([3], phase=phase)
            grown[phase] += core.learn_stats.grown
    frac = grown / trials
    expect = 0.5 * (np.arange(len(frac), 0, -1) / len(frac))
    assert np.all(np.abs(frac - expect) < 0.08), (frac, expect)


def test_history_zero_has_no_learning():
    """history = 0 builds no learning unit: LEARN changes nothing, at no cost."""
    from amaranth.back import rtlil

    g0 = Geometry(neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8, history=0)
    core = CoreModel(g0)
    count = np.ones((g0.rows, g0.neurons), dtype=np.int64)
    core.set_crossbar(count, np.zeros_like(count))
    core.set_params(threshold=1, learn=1)
    core.learn_cfg = LearnConfig(learn=1, p_plus=PROB_ONE, p_minus=PROB_ONE, p_grow=PROB_ONE)
    for _ in range(3):
        spikes, _ = core.tick([0, 1])
        assert spikes.all()
    assert np.array_equal(core.count, count) and core.learner.prng == PRNG_RESET
    small = rtlil.convert(Core(g0))
    full = rtlil.convert(Core(Geometry(**{**g0.as_dict(), "history": 2})))
    assert "learn_state" not in small and "learn_state" in full


# -- the examples' training runs, replayed on the RTL ------------------------

#: (example, ticks replayed): the whole ABC/ABD training, the start of digits.
REPLAYS = [("abc_abd", 1 << 30)]


@pytest.mark.parametrize("example,ticks", REPLAYS)
def test_example_training_is_bit_exact_on_rtl(design, example, ticks):
    """examples/<example>.py's training, on the RTL core and the golden model."""
    spec = importlib.util.spec_from_file_location(
        f"spikeloom_example_{example}", ROOT / "examples" / f"{example}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    g = module.build(module.SEED).geometry
    simulator = "verilator" if "verilator" in SIMULATORS else SIMULATORS[0]
    built = design(f"replay_{example}", lambda: CoreHarness(g), simulator, None, CORE_VISIBLE)
    job = {"example": example, "seed": module.SEED, "ticks": ticks}
    verdict = built.run("cocotb_replay", job, example)
    assert verdict["ok"], verdict["message"]
    assert verdict["cocotb_failed"] == 0 and verdict["cocotb_tests"] == 1
    assert verdict["spikes"] > 0 and verdict["changed"] > 0, verdict


@pytest.mark.parametrize("k", [0, 1, 4, 5, 511, 512, 513, 1500])
def test_block_draws_equal_the_generator_step_by_step(k):
    """The learn phase's draws (jump-ahead tables, in blocks) are exactly
    the xorshift32 sequence, across block boundaries."""
    from spikeloom.sim.learning import draws

    for x in (PRNG_RESET, 1, 0xFFFF_FFFF, 0x8000_0000):
        want, y = [], x
        for _ in range(k):
            y = xorshift32(y)
            want.append(y)
        assert draws(x, k).tolist() == want
