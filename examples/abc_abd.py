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

Everything that reaches the core during training is in :func:`build`'s
:class:`~examples.common.Replay`: initial configuration, generator seed,
per-tick inputs, learning registers, episode phases, and the ticks before
which the host zeroes every neuron's state. :func:`examples.common.replay`
runs it on the golden model; a cocotb test can feed the same sequence to
the RTL. docs/learning.md describes the experiment and its results.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
from spikeloom.defs import Geometry, LearnConfig, Model, next_phase  # noqa: E402
from spikeloom.examples.common import Replay, chip_clocks, replay, zero_state  # noqa: E402
from spikeloom.sim.core import CoreModel  # noqa: E402
from spikeloom.sim.learning import LearnStats  # noqa: E402

__all__ = ["Config", "CONFIG", "SEED", "build", "initial_core", "evaluate", "run", "plot"]

LETTERS = "ABCD"
SEQUENCES = ("ABC", "ABD")
REVERSED = ("CBA", "DBA")
SEED = 1


@dataclass(frozen=True)
class Config:
    """Every parameter of the experiment (the defaults are the documented run)."""

    # Geometry: 8 neurons, 64 axons (4 letters x 16 axons), 6-bit counts.
    neurons: int = 8
    axons_per_letter: int = 16
    count_bits: int = 6
    potential_bits: int = 12
    history: int = 28
    # Stimulus
    spacing: int = 8  #: ticks between letters (A at tick 0, B at 8, C/D at 16)
    jitter: int = 1  #: B and C/D move by -jitter .. +jitter ticks
    period: int = 28  #: ticks per presentation
    quiet: int = 2  #: last ticks of a presentation without input
    noise: float = 0.001  #: probability of a noise spike per axon and tick
    dropout: float = 0.0  #: probability that one axon of a letter misses its spike
    episode: int = 18  #: E; the host restarts the episode at every presentation
    # Neurons (COUNTER, all alike)
    threshold: int = 734
    window: int = 26
    inhibition: int = 63  #: preset count of the inhibitory recurrent entries
    # Learning: a growth phase, then a consolidation phase without growth.
    grow_presentations: int = 170
    settle_presentations: int = 60
    p_plus: float = 0.0
    p_minus: float = 0.2
    p_grow: float = 1.0
    settle_p_minus: float = 0.2
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
        kept = rng.random(len(axons)) >= cfg.dropout
        ticks[t].update(a for a, keep in zip(axons, kept) if keep)
    for t in range(cfg.period - cfg.quiet):
        ticks[t].update(np.flatnonzero(rng.random(4 * cfg.axons_per_letter) < cfg.noise).tolist())
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
    """The training run of seed ``seed`` (see :class:`examples.common.Replay`).

    ``grow_presentations`` presentations with growth, then
    ``settle_presentations`` without; a sequence is drawn at random for each
    (``info["sequences"]``). Ticks ``k * period`` start presentation k.
    """
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
    return Replay(
        geometry=cfg.geometry,
        model=initial_core(cfg, seed),
        seed_word=seed_word(seed),
        configs=configs,
        inputs=inputs,
        phases=phases,
        resets=resets,
        restarts=restarts,
        info={"sequences": seqs, "period": cfg.period},
    )


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
    stats = LearnStats()
    core, spikes = replay(r, stats=stats)
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
        learn_stats=asdict(stats),
        chip_clocks=chip_clocks(r, spikes),
        geometry=cfg.geometry.as_dict(),
        config=asdict(cfg),
    )
    if plots:
        plot(core, res, seed, cfg)
    return res


def plot(core: CoreModel, res: dict, seed: int = SEED, cfg: Config = CONFIG, out=None):
    """The learned crossbar and the rasters of three test presentations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out or ROOT / "docs" / "learning-abc.png")
    n, m = core.g.neurons, cfg.axons_per_letter
    labels = res["labels"]
    names = [f"n{j}\n{SEQUENCES[lab] if lab >= 0 else '-'}" for j, lab in enumerate(labels)]
    fig = plt.figure(figsize=(13, 6.2))
    grid = fig.add_gridspec(2, 3, width_ratios=[1.25, 1, 1], height_ratios=[1, 1])

    ax = fig.add_subplot(grid[:, 0])
    w = core.weights.astype(int)
    lim = max(1, int(np.abs(w[n:]).max()))
    im = ax.imshow(
        np.clip(w, -lim, lim),
        aspect="auto",
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        interpolation="nearest",
    )
    ax.set_xticks(range(n), names, fontsize=8)
    ticks = [n // 2] + [n + k * m + m // 2 for k in range(4)]
    ax.set_yticks(ticks, ["recurrent\n(inhib.)"] + [f"axons {c}" for c in LETTERS], fontsize=8)
    for y in [n - 0.5] + [n + k * m - 0.5 for k in range(1, 4)]:
        ax.axhline(y, color="k", lw=0.6)
    ax.set_title(
        f"Learned crossbar (signed weight; inhibition −{int(-w[:n].min())} clipped)", fontsize=9
    )
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)

    rng = np.random.default_rng([seed, 0x9107])
    shows = ["ABC", "ABD", "CBA", "DBA"]
    rasters, inputs = respond(core, rng, shows, cfg)
    colors = dict(zip(LETTERS, ["tab:blue", "tab:orange", "tab:green", "tab:red"]))
    for k, (seq, raster) in enumerate(zip(shows, rasters)):
        ax = fig.add_subplot(grid[k // 2, 1 + k % 2])
        for t in range(cfg.period):
            for a in inputs[k * cfg.period + t]:
                ax.plot(t, -1 - a * 8 / (4 * m), ".", ms=2.5, color=colors[LETTERS[a // m]])
        ts, js = np.nonzero(raster)
        for t, j in zip(ts, js):
            lab = labels[j]
            c = "tab:green" if lab == 0 else "tab:red" if lab == 1 else "gray"
            ax.plot(t, j, "s", ms=6, color=c)
        ax.set_ylim(-10, n)
        ax.set_xlim(-0.5, cfg.period - 0.5)
        ax.set_yticks(
            list(range(n)) + [-1 - 8 * (k2 * m + m / 2) / (4 * m) for k2 in range(4)],
            [f"n{j}" for j in range(n)] + list(LETTERS),
            fontsize=7,
        )
        ax.axvline(cfg.window - 0.5, color="gray", lw=0.5, ls=":")
        ax.set_title(f"test {'→'.join(seq)}: spikes of ABC (green) / ABD (red) neurons", fontsize=8)
        ax.set_xlabel("tick in presentation", fontsize=8)
    fig.suptitle(
        f"A→B→C vs A→B→D on one core (seed {seed}): discrimination "
        f"{res['discrimination']:.3f}, reversed sequence fires its neurons "
        f"{res['reversed_fires_own_neurons']:.3f}",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def sweep(seeds=range(1, 9), lengths=(110, 140, 170, 200, 230), cfg: Config = CONFIG):
    """Discrimination and reversed-sequence firing against the length of the
    growth phase, over several seeds (docs/learning.md)."""
    from multiprocessing import Pool

    jobs = [(seed, replace(cfg, grow_presentations=n)) for n in lengths for seed in seeds]
    with Pool() as pool:
        results = pool.starmap(run, jobs)
    rows = []
    for n in lengths:
        rs = [r for r in results if r["config"]["grow_presentations"] == n]
        d = [r["discrimination"] for r in rs]
        v = [r["reversed_fires_own_neurons"] for r in rs]
        rows.append(
            {
                "grow_presentations": n,
                "train_ticks": rs[0]["train_ticks"],
                "discrimination_mean": round(float(np.mean(d)), 3),
                "discrimination_min": round(float(np.min(d)), 3),
                "reversed_mean": round(float(np.mean(v)), 3),
                "reversed_max": round(float(np.max(v)), 3),
            }
        )
    return rows


def summary(res: dict) -> str:
    lw = np.array(res["letter_weights"])
    lines = [
        f"seed {res['seed']}: {res['train_ticks']} training ticks in {res['train_seconds']} s "
        f"({res['ticks_per_s']} ticks/s), {res['axon_synapses']} axon synapses",
        f"discrimination {res['discrimination']:.3f} (silent {res['silent']:.3f}); reversed "
        f"sequence fires its neurons {res['reversed_fires_own_neurons']:.3f}, any neuron "
        f"{res['reversed_fires_any']:.3f}",
        "neuron  label  weight A  B  C  D",
    ]
    for j, lab in enumerate(res["labels"]):
        name = SEQUENCES[lab] if lab >= 0 else "-"
        lines.append(f"  n{j}    {name:4s}   " + " ".join(f"{int(w):2d}" for w in lw[:, j]))
    return "\n".join(lines)


def main(argv=None):  # pragma: no cover - command line
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON")
    ap.add_argument("--sweep", action="store_true", help="growth-phase length over seeds 1-8")
    ap.add_argument("--set", nargs="*", default=[], help="override Config fields: name=value")
    args = ap.parse_args(argv)
    cfg = CONFIG
    for kv in args.set:
        k, v = kv.split("=")
        cfg = replace(cfg, **{k: type(getattr(cfg, k))(v)})
    if args.sweep:
        for row in sweep(cfg=cfg):
            print(json.dumps(row))
        return
    res = run(args.seed, cfg, plots=not args.no_plots)
    print(json.dumps(res, indent=1) if args.json else summary(res))


if __name__ == "__main__":
    main()
