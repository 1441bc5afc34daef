"""What the learning examples share: a training run as the host drives it.

A :class:`Replay` holds everything that reaches one core during training,
tick by tick, so the same run can be fed to the golden model
(:func:`replay`) and to the RTL (a cocotb test loads ``model`` through the
configuration port and follows the same steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikeloom.defs import Geometry, LearnConfig, Model
from spikeloom.sim.core import CoreModel
from spikeloom.sim.learning import LearnStats

__all__ = ["Replay", "replay", "zero_state"]


@dataclass
class Replay:
    """A training run, tick by tick, as the host drives the chip.

    To replay it on the RTL: write ``model``'s crossbar, neuron parameters
    and state (all zero) through the configuration port; seed the core's
    learning generator with ``seed_word`` (SEED); then for each tick t:

    1. if t is in ``resets``, write state word 0 to every neuron;
    2. the learning registers hold ``configs[t]`` (LEARN, P_PLUS, P_MINUS,
       P_GROW, EPISODE) and the tick runs at episode phase ``phases[t]``:
       the chip's own phase counter gives exactly these when the host
       writes EPISODE (which restarts the episode) before every tick in
       ``restarts``; a core-level test can drive ``phases[t]`` directly;
    3. inject ``inputs[t]`` (axon events of this core) and run the tick.

    After every tick, spikes, neuron states and the crossbar must equal
    those of :func:`replay` on a copy of ``model``.
    """

    geometry: Geometry
    model: CoreModel  #: the initial configuration (learner already seeded)
    seed_word: int  #: the value for the core's SEED command
    configs: list[LearnConfig]
    inputs: list[list[int]]
    phases: list[int]
    resets: set[int] = field(default_factory=set)  #: zero every state before these ticks
    restarts: set[int] = field(default_factory=set)  #: episode restarts before these ticks
    info: dict = field(default_factory=dict)  #: what the run shows (per presentation or sample)

    def __len__(self):
        return len(self.inputs)


def zero_state(core: CoreModel):
    """What the host's state writes of 0 do (every neuron, every field)."""
    for v in core.state.values():
        v[:] = 0


def replay(
    r: Replay,
    ticks: int | None = None,
    model: CoreModel | None = None,
    stats: LearnStats | None = None,
):
    """Run the first ``ticks`` ticks of ``r`` (all by default) on the golden
    model: ``r.model`` itself (it is trained in place) unless ``model`` is
    given. Returns the model and the (ticks, N) bool spike raster; the learn
    phases' counts are added to ``stats`` if given."""
    core = r.model if model is None else model
    t_end = len(r.inputs) if ticks is None else min(ticks, len(r.inputs))
    spikes = np.zeros((t_end, r.geometry.neurons), dtype=bool)
    for t in range(t_end):
        if t in r.resets:
            zero_state(core)
        core.learn_cfg = r.configs[t]
        spikes[t], _ = core.tick(r.inputs[t], phase=r.phases[t])
        if stats is not None:
            stats.add(core.learn_stats)
    return core, spikes


def chip_clocks(r: Replay, spikes: np.ndarray, learn_bits=None) -> dict:
    """What the training run ``r`` (its spike raster ``spikes``) costs the chip,
    from the cycle formulas of ``hdl/core.tick_cycles`` (a tick's deliver and
    update, output stalls aside) and ``hdl/learning.learn_cycles`` (a learn
    phase): ``{"ticks", "tick_clocks", "learn_clocks", "clocks"}``. Row t's
    active rows are its axon events and the neurons that spiked at t - 1;
    the learn phase's posts are the tick's spikes of learning neurons."""
    from spikeloom.hdl.core import tick_cycles
    from spikeloom.hdl.learning import learn_cycles

    g = r.geometry
    n = len(spikes)
    learn_bits = np.ones(g.neurons, dtype=bool) if learn_bits is None else learn_bits
    fired = spikes.sum(axis=1)
    posts = (spikes & learn_bits).sum(axis=1)
    tick = learn = 0
    sums = {"learn_ticks": 0, "posts": 0, "grow_rows": 0}  # learn_cycles is linear in these
    for t in range(n):
        rows = len(set(r.inputs[t])) + (int(fired[t - 1]) if t else 0)
        tick += tick_cycles(g, rows)
        cfg = r.configs[t]
        if cfg.learn and g.history:
            grow = rows if cfg.p_grow else 0
            learn += learn_cycles(g, int(posts[t]), grow)
            sums["learn_ticks"] += 1
            sums["posts"] += int(posts[t])
            sums["grow_rows"] += grow
    return {"ticks": n, "tick_clocks": tick, "learn_clocks": learn, "clocks": tick + learn, **sums}


def first_responders(core: CoreModel, inputs, resets, period: int) -> list[np.ndarray]:
    """With learning off: for each sample (``period`` ticks of ``inputs``, its
    state zeroed at the ticks in ``resets``), the neurons that spike at the
    earliest tick with a spike (empty if none fires within the window)."""
    core.learn_cfg = LearnConfig()
    out, first = [], None
    for t, axons in enumerate(inputs):
        if t % period == 0:
            if t:
                out.append(first)
            first = None
        if t in resets:
            zero_state(core)
        spikes, _ = core.tick(axons)
        if first is None and spikes.any():
            first = np.flatnonzero(spikes)
    out.append(first)
    return [np.zeros(0, dtype=np.int64) if f is None else f for f in out]


def label_and_classify(core: CoreModel, ticks, period: int, train, test) -> dict:
    """Label each neuron with the class it answers most on ``train`` (images,
    labels), then classify ``test`` by the labels of its first responders
    (Diehl & Cook). ``ticks(images)`` gives (inputs, resets)."""
    answers = np.zeros((10, core.g.neurons), dtype=np.int64)
    for first, y in zip(first_responders(core, *ticks(train[0]), period), train[1]):
        answers[y, first] += 1
    labels = np.where(answers.sum(axis=0) > 0, answers.argmax(axis=0), -1)
    correct = silent = 0
    predictions = []
    y_test = test[1]
    for first, y in zip(first_responders(core, *ticks(test[0]), period), y_test):
        votes = labels[first]
        votes = votes[votes >= 0]
        if votes.size == 0:
            silent += 1
            predictions.append(-1)
            continue
        # ties between classes go to the smaller class index
        pred = int(np.bincount(votes, minlength=10).argmax())
        predictions.append(pred)
        correct += int(pred == y)
    return {
        "accuracy": float(correct / len(y_test)),
        "silent": float(silent / len(y_test)),
        "labelled_neurons": int((labels >= 0).sum()),
        "labels": labels.tolist(),
        "predictions": predictions,
    }


def wta_core(cfg, seed: int, salt: int, seed_word: int) -> CoreModel:
    """A winner-take-all learning core of ``cfg`` (geometry, density,
    inhibition, threshold, window): random binary axon rows (count 1 with
    probability ``density``, drawn from ``[seed, salt]``), all-to-all
    inhibitory recurrent entries (count ``inhibition``, diagonal 0), every
    neuron COUNTER, output- and learning-enabled, the generator seeded with
    ``seed_word``."""
    g = cfg.geometry
    n = g.neurons
    rng = np.random.default_rng([seed, salt])
    count = np.zeros((g.rows, n), dtype=np.int64)
    sign = np.zeros((g.rows, n), dtype=np.int64)
    count[n:] = rng.random((g.axons, n)) < cfg.density
    sign[:n] = 1
    count[:n] = cfg.inhibition
    np.fill_diagonal(count[:n], 0)
    core = CoreModel(g)
    core.set_crossbar(count, sign)
    core.set_params(
        model=Model.COUNTER, threshold=cfg.threshold, window=cfg.window, output=1, learn=1
    )
    core.learner.seed(seed_word)
    return core
