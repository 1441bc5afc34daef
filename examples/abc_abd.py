"""A→B→C versus A→B→D: unsupervised sequence learning on one core.

    python examples/abc_abd.py [--seed S] [--no-plots]

Four letters A, B, C, D, each on ``axons_per_letter`` axons. The sequences
A→B→C and A→B→D are shown in random order, one presentation every
``period`` ticks, a letter every ``spacing`` ticks with ±``jitter`` ticks of
timing jitter (B and C/D; A opens the presentation), and random noise
spikes on every axon. Eight COUNTER neurons (docs/semantics.md §4.2: earlier
inputs weigh more) learn from an empty axon crossbar with STDP and growth
(docs/learning.md); they compete through inhibitory recurrent entries
(``sign`` 1), preset all-to-all. After training (learning off), each neuron
is labelled by the sequence it answers most on a labelling set, and the
first neuron to fire on held-out presentations (fresh jitter and noise)
gives the answer. Reversed sequences (C→B→A, D→B→A) measure whether order
matters.

Everything that reaches the core is in :func:`build`'s :class:`Replay`:
initial configuration, generator seed, per-tick inputs, learning
parameters, episode phases, and the ticks before which the host zeroes
every neuron's state. :func:`replay` runs it on the golden model; a
cocotb test can feed the same sequence to the RTL (see ``Replay``).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from spikeloom.defs import Geometry, LearnConfig, Model, next_phase
from spikeloom.sim.core import CoreModel

ROOT = Path(__file__).resolve().parent.parent
LETTERS = "ABCD"
SEQUENCES = ("ABC", "ABD")
REVERSED = ("CBA", "DBA")
SEED = 1


@dataclass(frozen=True)
class Config:
    """Every parameter of the experiment (the defaults are the documented run)."""

    # Geometry: 8 neurons, 32 axons (4 letters x 8 axons), 4-bit counts.
    neurons: int = 8
    axons_per_letter: int = 8
    count_bits: int = 4
    potential_bits: int = 12
    history: int = 16
    # Stimulus
    spacing: int = 4  #: ticks between letters
    jitter: int = 1  #: B and C/D move by -jitter .. +jitter ticks
    period: int = 16  #: ticks per presentation
    quiet: int = 2  #: last ticks of a presentation without input
    noise: float = 0.001  #: probability of a noise spike per axon and tick
    dropout: float = 0.0  #: probability that one axon of a letter misses its spike
    episode: int = 10  #: E; the host restarts the episode at every presentation
    # Neurons (COUNTER, all alike)
    threshold: int = 191
    window: int = 14
    inhibition: int = 15  #: preset count of the inhibitory recurrent entries
    # Learning: a growth phase, then a consolidation phase without growth.
    grow_presentations: int = 150
    settle_presentations: int = 100
    p_plus: float = 0.0
    p_minus: float = 0.1
    p_grow: float = 0.4
    settle_p_minus: float = 0.1
    # Evaluation
    label_presentations: int = 100  #: per sequence
    test_presentations: int = 200  #: per sequence

    @property
    def geometry(self) -> Geometry:
        return Geometry(
            neurons=self.neurons,
            axons=4 * self.axons_per_letter,
            lanes=4,
            count_bits=self.count_bits,
            potential_bits=self.potential_bits,
            history=self.history,
            fanout=1,
        )


CONFIG = Config()


@dataclass
class Replay:
    """A training run, tick by tick, as the host drives the chip.

    To replay it on the RTL: load ``model``'s crossbar, parameters and
    state (all zero) through the configuration port, seed the core's
    generator with ``seed_word``, then for each tick t: if t is in
    ``resets``, write state word 0 to every neuron; apply ``configs[t]``
    (the learning registers; ``phases[t]`` is the episode phase the chip's
    counter reaches, since E = ``period`` and every presentation starts at
    a multiple of it); inject ``inputs[t]``; run the tick. Spikes, states
    and the crossbar must match :func:`replay`'s model after every tick.
    """

    geometry: Geometry
    model: CoreModel  #: the initial configuration (learner seeded)
    seed_word: int
    configs: list[LearnConfig]
    inputs: list[list[int]]
    phases: list[int]
    resets: set[int] = field(default_factory=set)
    restarts: set[int] = field(default_factory=set)  #: ticks whose episode restarts
    sequences: list[str] = field(default_factory=list)  #: one per presentation
    period: int = 12


def letter_axons(letter: str, cfg: Config = CONFIG) -> list[int]:
    m = cfg.axons_per_letter
    k = LETTERS.index(letter)
    return list(range(k * m, (k + 1) * m))


def presentation(rng: np.random.Generator, seq: str, cfg: Config = CONFIG) -> list[list[int]]:
    """The axon events of one presentation of ``seq``: ``period`` ticks."""
    ticks = [set() for _ in range(cfg.period)]
    for k, letter in enumerate(seq):
        t = k * cfg.spacing
        if k > 0:
            t += int(rng.integers(-cfg.jitter, cfg.jitter + 1))
        axons = letter_axons(letter, cfg)
        keep = rng.random(len(axons)) >= cfg.dropout
        ticks[t].update(a for a, k in zip(axons, keep) if k)
    axons = 4 * cfg.axons_per_letter
    for t in range(cfg.period - cfg.quiet):
        ticks[t].update(np.flatnonzero(rng.random(axons) < cfg.noise).tolist())
    return [sorted(s) for s in ticks]


def initial_core(cfg: Config = CONFIG, seed: int = SEED) -> CoreModel:
    """Empty axon rows; every recurrent entry inhibitory, preset to
    ``inhibition`` except the diagonal (count 0, sign 1)."""
    g = cfg.geometry
    n = g.neurons
    core = CoreModel(g)
    count = np.zeros((g.rows, n), dtype=np.int64)
    sign = np.zeros((g.rows, n), dtype=np.int64)
    sign[:n] = 1
    count[:n] = cfg.inhibition
    np.fill_diagonal(count[:n], 0)
    core.set_crossbar(count, sign)
    core.set_params(
        model=Model.COUNTER, threshold=cfg.threshold, window=cfg.window, output=1, learn=1
    )
    core.learner.seed(seed_word(seed))
    return core


def seed_word(seed: int) -> int:
    return (0x9E3779B9 * (seed + 1)) & 0xFFFFFFFF


def _sequence_ticks(rng, seqs, cfg):
    inputs, resets = [], set()
    for seq in seqs:
        start = len(inputs)
        # The host zeroes every neuron's state before a presentation and
        # before its last (quiet) tick, so nothing carries over: no spike is
        # possible in the last tick, so no recurrent row is active at the
        # next presentation's first tick.
        resets.update({start, start + cfg.period - 1})
        inputs.extend(presentation(rng, seq, cfg))
    return inputs, resets


def build(seed: int = SEED, cfg: Config = CONFIG) -> Replay:
    """The training run of seed ``seed``: see :class:`Replay`."""
    rng = np.random.default_rng([seed, 0xABC])
    n = cfg.grow_presentations + cfg.settle_presentations
    seqs = [SEQUENCES[i] for i in rng.integers(0, 2, n)]
    inputs, resets = _sequence_ticks(rng, seqs, cfg)
    grow = LearnConfig.from_probabilities(
        p_plus=cfg.p_plus, p_minus=cfg.p_minus, p_grow=cfg.p_grow, episode=cfg.episode
    )
    settle = LearnConfig.from_probabilities(
        p_plus=cfg.p_plus, p_minus=cfg.settle_p_minus, p_grow=0.0, episode=cfg.episode
    )
    configs = [grow] * (cfg.grow_presentations * cfg.period)
    configs += [settle] * (cfg.settle_presentations * cfg.period)
    # The host restarts the episode (writes EPISODE) before every
    # presentation: phase 0 at its first tick, then the chip counts.
    restarts = set(range(0, len(configs), cfg.period))
    phases, phase = [], 0
    for t, c in enumerate(configs):
        if t in restarts:
            phase = 0
        phases.append(phase)
        phase = next_phase(phase, c.episode)
    model = initial_core(cfg, seed)
    return Replay(
        geometry=cfg.geometry,
        model=model,
        seed_word=seed_word(seed),
        configs=configs,
        inputs=inputs,
        phases=phases,
        resets=resets,
        restarts=restarts,
        sequences=seqs,
        period=cfg.period,
    )


def zero_state(core: CoreModel):
    for v in core.state.values():
        v[:] = 0


def replay(r: Replay, ticks: int | None = None, model: CoreModel | None = None):
    """Run the first ``ticks`` ticks of ``r`` (all by default) on the golden
    model (``r.model`` itself unless ``model`` is given). Returns the model
    and the (ticks, N) spike raster."""
    core = r.model if model is None else model
    t_end = len(r.inputs) if ticks is None else min(ticks, len(r.inputs))
    spikes = np.zeros((t_end, r.geometry.neurons), dtype=bool)
    for t in range(t_end):
        if t in r.resets:
            zero_state(core)
        core.learn_cfg = r.configs[t]
        spikes[t], _ = core.tick(r.inputs[t], phase=r.phases[t])
    return core, spikes


def respond(core: CoreModel, rng, seqs, cfg: Config = CONFIG):
    """Run presentations with learning off; (presentations, period, N) spikes."""
    core.learn_cfg = LearnConfig()
    inputs, resets = _sequence_ticks(rng, seqs, cfg)
    spikes = np.zeros((len(inputs), core.g.neurons), dtype=bool)
    for t, axons in enumerate(inputs):
        if t in resets:
            zero_state(core)
        spikes[t], _ = core.tick(axons)
    return spikes.reshape(len(seqs), cfg.period, -1), inputs


def first_responders(raster: np.ndarray) -> np.ndarray:
    """Neurons that spike at the earliest tick with a spike (may be empty)."""
    ticks = np.flatnonzero(raster.any(axis=1))
    return np.flatnonzero(raster[ticks[0]]) if ticks.size else np.zeros(0, dtype=np.int64)


def evaluate(core: CoreModel, seed: int = SEED, cfg: Config = CONFIG) -> dict:
    """Label the neurons, then test on held-out presentations (learning off)."""
    n = core.g.neurons
    rng = np.random.default_rng([seed, 0x1AB])
    seqs = [s for s in SEQUENCES for _ in range(cfg.label_presentations)]
    rasters, _ = respond(core, rng, seqs, cfg)
    answers = np.zeros((len(SEQUENCES), n), dtype=np.int64)
    for s, raster in zip(seqs, rasters):
        answers[SEQUENCES.index(s)] += raster.any(axis=0)
    # A neuron is labelled by the sequence it answers most (if it answers
    # at least 5 % of the labelling presentations of that sequence).
    label = np.where(
        answers.max(axis=0) >= 0.05 * cfg.label_presentations, answers.argmax(axis=0), -1
    )

    rng = np.random.default_rng([seed, 0x7E57])
    seqs = [s for s in SEQUENCES for _ in range(cfg.test_presentations)]
    rasters, _ = respond(core, rng, seqs, cfg)
    correct = silent = 0
    for s, raster in zip(seqs, rasters):
        first = [j for j in first_responders(raster) if label[j] >= 0]
        if not first:
            silent += 1
        elif {int(label[j]) for j in first} == {SEQUENCES.index(s)}:
            correct += 1
    fires_own = np.mean(
        [raster[:, label == SEQUENCES.index(s)].any() for s, raster in zip(seqs, rasters)]
    )

    seqs_r = [s for s in REVERSED for _ in range(cfg.test_presentations)]
    rasters_r, _ = respond(core, rng, seqs_r, cfg)
    rev = [raster[:, label == REVERSED.index(s)].any() for s, raster in zip(seqs_r, rasters_r)]
    any_r = [raster.any() for raster in rasters_r]
    return {
        "discrimination": correct / len(seqs),
        "silent": silent / len(seqs),
        "own_neurons_fire": float(fires_own),
        "reversed_fires_own_neurons": float(np.mean(rev)),
        "reversed_fires_any": float(np.mean(any_r)),
        "labels": label.tolist(),
        "answers": answers.tolist(),
    }


def letter_weights(core: CoreModel, cfg: Config = CONFIG) -> np.ndarray:
    """(4, N) summed signed weight of each letter's axons onto each neuron."""
    n, m = core.g.neurons, cfg.axons_per_letter
    return core.weights[n : n + 4 * m].reshape(4, m, n).sum(axis=1)


def run(seed: int = SEED, cfg: Config = CONFIG, plots: bool = False) -> dict:
    r = build(seed, cfg)
    t0 = time.perf_counter()
    core, spikes = replay(r)
    seconds = time.perf_counter() - t0
    res = evaluate(core, seed, cfg)
    res.update(
        seed=seed,
        train_ticks=len(r.inputs),
        train_seconds=round(seconds, 3),
        ticks_per_s=round(len(r.inputs) / seconds, 1),
        train_spikes=int(spikes.sum()),
        synapses=int((core.count != 0).sum()),
        axon_synapses=int((core.count[core.g.neurons :] != 0).sum()),
        letter_weights=letter_weights(core, cfg).tolist(),
        geometry=cfg.geometry.as_dict(),
        config=asdict(cfg),
    )
    if plots:
        plot(core, res, seed, cfg)
    return res


def plot(core, res, seed, cfg, out=ROOT / "docs" / "learning-abc.png"):  # pragma: no cover
    pass


def main(argv=None):  # pragma: no cover - command line
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--set", nargs="*", default=[], help="override Config fields: name=value")
    args = ap.parse_args(argv)
    cfg = CONFIG
    for kv in args.set:
        k, v = kv.split("=")
        cfg = replace(cfg, **{k: type(getattr(cfg, k))(v)})
    res = run(args.seed, cfg, plots=not args.no_plots)
    print(json.dumps({k: v for k, v in res.items() if k != "config"}, indent=1))


if __name__ == "__main__":
    main()
