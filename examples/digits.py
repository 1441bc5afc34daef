"""Handwritten digits (scikit-learn ``load_digits``) learned on one core.

    python examples/digits.py [--seed S] [--no-plots] [--tune]

The 8 x 8 images (gray levels 0-16, 1797 samples, no download) are split
once, ``train_test_split(test_size=0.3, random_state=0, stratify=y)``.
Encoding: 128 axons, an ON and an OFF axon per pixel; a pixel at or above
``level`` spikes on its ON axon, a darker one on its OFF axon, all at the
first tick of the sample (so every sample is exactly 64 events). 256
COUNTER neurons (time to first spike: the neuron whose synapses agree with
most of the 64 events fires first) start from a random, dense binary
crossbar and learn without labels: post-triggered STDP removes, with
probability ``p_minus``, the synapses of rows that were silent when the
neuron fired, and growth adds synapses from active rows to random neurons.
Inhibitory recurrent entries (count ``inhibition``, all to all) let the
first neuron to fire silence the others. After training (learning off) each
neuron is labelled by the class it answers first most often on the
training set (Diehl & Cook); a test sample's answer is the vote of the
labels of the neurons that fire first.

A sample takes ``window + 2`` ticks: its 64 events at the first tick, the
counters run until they fire or time out (``window``), and the host writes
state 0 to every neuron before the first tick and before the last one.
:func:`build` returns the whole training run as a
:class:`~examples.common.Replay` (same protocol as ``examples/abc_abd.py``)
so that a test can replay its first ticks on the RTL. docs/learning.md
describes the experiment and its results.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
from spikeloom.defs import Geometry, LearnConfig  # noqa: E402
from spikeloom.examples.common import (  # noqa: E402
    Replay,
    chip_clocks,
    label_and_classify,
    replay,
    wta_core,
)
from spikeloom.sim.core import CoreModel  # noqa: E402
from spikeloom.sim.learning import LearnStats  # noqa: E402

__all__ = [
    "Config",
    "CONFIG",
    "SEED",
    "load",
    "encode",
    "initial_core",
    "build",
    "evaluate",
    "run",
    "plot_fields",
]

SEED = 0
PIXELS = 64


@dataclass(frozen=True)
class Config:
    """Every parameter of the experiment (the defaults are the documented run)."""

    neurons: int = 256
    count_bits: int = 6  #: inhibitory entries up to 63; excitatory ones stay 0/1
    potential_bits: int = 12
    history: int = 32
    lanes: int = 8
    level: int = 6  #: pixel >= level: ON axon, else OFF axon
    threshold: int = 1000  #: fires by tick 31 iff at least 32 of its synapses see an event
    window: int = 32  #: counter window W (the answer must come within it)
    inhibition: int = 63
    density: float = 0.95  #: initial probability of a (count 1) synapse per axon row
    p_plus: float = 0.0
    p_minus: float = 0.1
    p_grow: float = 0.02
    epochs: int = 2  #: passes over the training set with growth
    settle_epochs: int = 1  #: then passes without growth
    split_state: int = 0  #: train_test_split random_state (fixed by the task)

    @property
    def geometry(self) -> Geometry:
        return Geometry(
            neurons=self.neurons,
            axons=2 * PIXELS,
            lanes=self.lanes,
            count_bits=self.count_bits,
            potential_bits=self.potential_bits,
            history=self.history,
            fanout=1,
        )

    @property
    def sample_ticks(self) -> int:
        return self.window + 2


CONFIG = Config()


def load(cfg: Config = CONFIG, validation: bool = False):
    """``(X_train, y_train, X_test, y_test)``; with ``validation`` the
    training split is split again (25 %, stratified, random_state 1) and
    the held-out part stands in for the test set (for tuning)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(
        d.data, d.target, test_size=0.3, random_state=cfg.split_state, stratify=d.target
    )
    if validation:
        xtr, xte, ytr, yte = train_test_split(
            xtr, ytr, test_size=0.25, random_state=1, stratify=ytr
        )
    return xtr.astype(np.int64), ytr, xte.astype(np.int64), yte


def encode(image, cfg: Config = CONFIG) -> list[int]:
    """The 64 axon events of one image (all at the sample's first tick):
    axon p (ON) for a pixel p >= ``level``, axon 64 + p (OFF) otherwise."""
    image = np.asarray(image).reshape(-1)
    return np.where(image >= cfg.level, np.arange(PIXELS), PIXELS + np.arange(PIXELS)).tolist()


def seed_word(seed: int) -> int:
    return (0x9E3779B9 * (seed + 7)) & 0xFFFFFFFF


def initial_core(cfg: Config = CONFIG, seed: int = SEED) -> CoreModel:
    """The winner-take-all core (``common.wta_core``) before training."""
    return wta_core(cfg, seed, 0xD161, seed_word(seed))


def sample_ticks(images, cfg: Config = CONFIG):
    """Per-tick inputs and state-reset ticks for a sequence of images."""
    inputs, resets = [], set()
    quiet = [[] for _ in range(cfg.sample_ticks - 1)]
    for image in images:
        start = len(inputs)
        # State 0 before the sample and before its last tick: no spike is
        # possible in that tick (its only input is inhibitory recurrent
        # rows), so nothing reaches the next sample.
        resets.update({start, start + cfg.sample_ticks - 1})
        inputs.append(encode(image, cfg))
        inputs.extend(quiet)
    return inputs, resets


def build(seed: int = SEED, cfg: Config = CONFIG, images=None) -> Replay:
    """The training run of seed ``seed`` (see :class:`examples.common.Replay`).

    ``epochs`` passes over the training split with growth, then
    ``settle_epochs`` without, each pass in a fresh random order
    (``info["order"]``: training-set indices, one per sample; sample k
    starts at tick ``k * sample_ticks``). ``images`` replaces the training
    split (for tuning on the validation split).
    """
    if images is None:
        images = load(cfg)[0]
    rng = np.random.default_rng([seed, 0x0D1])
    passes = cfg.epochs + cfg.settle_epochs
    order = np.concatenate([rng.permutation(len(images)) for _ in range(passes)])
    inputs, resets = sample_ticks(images[order], cfg)
    grow = LearnConfig.from_probabilities(p_plus=cfg.p_plus, p_minus=cfg.p_minus, p_grow=cfg.p_grow)
    settle = LearnConfig.from_probabilities(p_plus=cfg.p_plus, p_minus=cfg.p_minus, p_grow=0.0)
    split = cfg.epochs * len(images) * cfg.sample_ticks
    configs = [grow] * split + [settle] * (len(inputs) - split)
    return Replay(
        geometry=cfg.geometry,
        model=initial_core(cfg, seed),
        seed_word=seed_word(seed),
        configs=configs,
        inputs=inputs,
        phases=[0] * len(inputs),  # no episodes (EPISODE = 0)
        resets=resets,
        info={"order": order.tolist(), "sample_ticks": cfg.sample_ticks},
    )


def evaluate(core: CoreModel, x_train, y_train, x_test, y_test, cfg: Config = CONFIG) -> dict:
    """Label the neurons on the training set, then classify the test set."""
    return label_and_classify(
        core,
        lambda images: sample_ticks(images, cfg),
        cfg.sample_ticks,
        (x_train, y_train),
        (x_test, y_test),
    )


def run(seed: int = SEED, cfg: Config = CONFIG, validation: bool = False, plots=False) -> dict:
    """Train on the training split (or its fitting part with ``validation``),
    then report accuracy on the test split (or the validation part)."""
    x_train, y_train, x_test, y_test = load(cfg, validation)
    r = build(seed, cfg, images=x_train)
    g = r.geometry
    initial_axon_synapses = int((r.model.count[g.neurons :] != 0).sum())
    t0 = time.perf_counter()
    stats = LearnStats()
    core, spikes = replay(r, stats=stats)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = evaluate(core, x_train, y_train, x_test, y_test, cfg)
    axon_synapses = int((core.count[g.neurons :] != 0).sum())
    res.update(
        seed=seed,
        split="validation" if validation else "test",
        train_samples=len(x_train),
        test_samples=len(x_test),
        train_ticks=len(r),
        train_seconds=round(seconds, 2),
        ticks_per_s=round(len(r) / seconds, 1),
        eval_seconds=round(time.perf_counter() - t1, 2),
        train_spikes=int(spikes.sum()),
        neurons=g.neurons,
        axons=g.axons,
        axon_synapses=axon_synapses,
        inhibitory_synapses=int((core.count[: g.neurons] != 0).sum()),
        initial_axon_synapses=initial_axon_synapses,
        learn_stats=asdict(stats),
        chip_clocks=chip_clocks(r, spikes),
        geometry=g.as_dict(),
        config=asdict(cfg),
    )
    res["confusion"] = confusion(y_test, res["predictions"]).tolist()
    if plots:
        plot_fields(core, res["labels"], cfg)
    return res


def confusion(y_true, y_pred) -> np.ndarray:
    """(10, 11) counts: row = true class, column = answer (last: silent)."""
    m = np.zeros((10, 11), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        m[t, p if p >= 0 else 10] += 1
    return m


def receptive_fields(core: CoreModel) -> np.ndarray:
    """(N, 8, 8): +1 where a neuron wants the pixel ON (synapse from the ON
    axon only), -1 where it wants it OFF, 0 for neither or both."""
    n = core.g.neurons
    on = core.count[n : n + PIXELS] != 0
    off = core.count[n + PIXELS : n + 2 * PIXELS] != 0
    return (on.astype(int) - off.astype(int)).T.reshape(n, 8, 8)


def plot_fields(core: CoreModel, labels, cfg: Config = CONFIG, out=None):
    """Every neuron's learned receptive field, sorted by label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out or ROOT / "docs" / "learning-digits-fields.png")
    fields = receptive_fields(core)
    labels = np.asarray(labels)
    order = np.lexsort((np.arange(len(labels)), np.where(labels < 0, 99, labels)))
    cols = 16
    rows = -(-len(order) // cols)
    fig, axs = plt.subplots(
        rows, cols, figsize=(cols * 0.8, rows * 0.95), gridspec_kw={"wspace": 0.15, "hspace": 0.45}
    )
    for ax in axs.flat:
        ax.set_axis_off()
    for ax, j in zip(axs.flat, order):
        ax.imshow(fields[j], cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(f"{labels[j]}" if labels[j] >= 0 else "–", fontsize=7, pad=1)
    fig.suptitle(
        "Learned receptive fields (red: synapse from the pixel's ON axon, blue: from its "
        "OFF axon), sorted by label",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.955)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def nearest_neighbour_reference(cfg: Config = CONFIG, prototypes=None, seed=0) -> float:
    """Not a spiking network: accuracy on the validation split of the
    classifier "class of the stored training sample that agrees with most
    of the 64 events" (the same ON/OFF code), storing all fitting samples or
    ``prototypes`` random ones. A yardstick for what binary templates of
    this code can do (docs/learning.md)."""
    x_train, y_train, x_val, y_val = load(cfg, validation=True)

    def code(x):
        v = np.zeros((len(x), 2 * PIXELS))
        for i, image in enumerate(x):
            v[i, encode(image, cfg)] = 1
        return v

    a, b = code(x_train), code(x_val)
    if prototypes:
        keep = np.random.default_rng(seed).choice(len(a), prototypes, replace=False)
        a, y_train = a[keep], y_train[keep]
    return float(np.mean(y_train[(b @ a.T).argmax(axis=1)] == y_val))


#: The grid searched on the validation split (``--tune``); the defaults of
#: :class:`Config` are its best point.
TUNE_GRID = {
    "threshold": [1000, 1100, 1200],
    "p_minus": [0.1, 0.2],
    "p_grow": [0.02, 0.05],
}


def _tune_one(args):
    seed, values = args
    cfg = replace(CONFIG, **dict(zip(TUNE_GRID, values)))
    res = run(seed, cfg, validation=True)
    return dict(zip(TUNE_GRID, values)), seed, res["accuracy"]


def tune(seeds=(0, 1)):
    """Grid search on the validation split only (the test split is not used)."""
    from multiprocessing import Pool

    jobs = [(s, v) for v in itertools.product(*TUNE_GRID.values()) for s in seeds]
    with Pool() as pool:
        out = pool.map(_tune_one, jobs)
    table = {}
    for params, _seed, acc in out:
        table.setdefault(json.dumps(params), []).append(acc)
    return sorted(((float(np.mean(v)), k) for k, v in table.items()), reverse=True)


def summary(res: dict) -> str:
    return (
        f"seed {res['seed']}: {res['split']} accuracy {res['accuracy']:.3f} "
        f"(silent {res['silent']:.3f}) with {res['neurons']} neurons "
        f"({res['labelled_neurons']} labelled), {res['axon_synapses']} axon synapses + "
        f"{res['inhibitory_synapses']} inhibitory; training {res['train_ticks']} ticks in "
        f"{res['train_seconds']} s ({res['ticks_per_s']} ticks/s)"
    )


def main(argv=None):  # pragma: no cover - command line
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--validation", action="store_true", help="score on the validation split")
    ap.add_argument("--tune", action="store_true", help="grid search on the validation split")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--set", nargs="*", default=[], help="override Config fields: name=value")
    args = ap.parse_args(argv)
    cfg = CONFIG
    for kv in args.set:
        k, v = kv.split("=")
        cfg = replace(cfg, **{k: type(getattr(cfg, k))(v)})
    if args.tune:
        for acc, params in tune():
            print(f"{acc:.3f} {params}")
        return
    res = run(args.seed, cfg, validation=args.validation, plots=not args.no_plots)
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k != "predictions"}, indent=1))
    else:
        print(summary(res))


if __name__ == "__main__":
    main()
