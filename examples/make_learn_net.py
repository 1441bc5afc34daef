"""Make the shipped learning example (examples/learn.toml + learn.npz, examples/learn_in.csv).

One core of the ``sim``/``golden`` devices' default geometry
(``spikeloom.host.transport.SIM_GEOMETRY``: 64 neurons, 64 axons, H = 8),
a small competitive layer that learns from the host's input:

* neurons 0..15, LIF (threshold 6, leak 1, refractory 4), output- and
  learning-enabled, each with random count-1 synapses from half of the 64
  axons, and inhibiting each other (count 7, sign 1);
* the input presents four random patterns of 16 axons (one every 10 ticks,
  in a seeded random order, each axon of the pattern at tick 0 or 1 of its
  presentation), with one noise event per tick (``spikeloom.host.encode``'s
  Bernoulli rate code, seeded);
* ``[learning]``: p+ = 0.1, p- = 0.05, p_grow = 0.02, no episodes, seed 7.

``spikeloom run --learn --network examples/learn.toml --input
examples/learn_in.csv`` trains it; ``--save`` writes the learned network.
Run ``python -m spikeloom.examples.make_learn_net`` to remake the files (they are
committed; the result is the same every time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikeloom.defs import LearnConfig
from spikeloom.host.encode import rate
from spikeloom.host.eventfile import write_inputs
from spikeloom.host.netfile import save_network
from spikeloom.host.transport import SIM_GEOMETRY
from spikeloom.network import Learning, Network

HERE = Path(__file__).resolve().parent
LAYER = 16
PATTERNS = 4
PATTERN_AXONS = 16
PERIOD = 10
TICKS = 400
SEED = 7
LEARNING = Learning(
    LearnConfig.from_probabilities(p_plus=0.1, p_minus=0.05, p_grow=0.02), seeds=(SEED,)
)


def network() -> Network:
    """The learning example on SIM_GEOMETRY (one core)."""
    g = SIM_GEOMETRY
    rng = np.random.default_rng(SEED)
    net = Network.empty(g)
    p = net.params
    p["threshold"][0, :] = g.v_max  # unused neurons never fire
    p["threshold"][0, :LAYER] = 6
    p["leak"][0, :LAYER] = 1
    p["refractory"][0, :LAYER] = 4
    p["output"][0, :LAYER] = 1
    p["learn"][0, :LAYER] = 1
    net.count[0, g.neurons :, :LAYER] = rng.random((g.axons, LAYER)) < 0.5
    net.count[0, :LAYER, :LAYER] = 7
    net.sign[0, :LAYER, :LAYER] = 1
    np.fill_diagonal(net.count[0, :LAYER, :LAYER], 0)
    net.learning = LEARNING
    return net.validate()


def inputs() -> dict[int, list[tuple[int, int]]]:
    """Pattern presentations every PERIOD ticks, plus Bernoulli noise (seeded)."""
    g = SIM_GEOMETRY
    rng = np.random.default_rng(SEED + 1)
    patterns = [rng.choice(g.axons, PATTERN_AXONS, replace=False) for _ in range(PATTERNS)]
    out = rate(np.full(g.axons, 1.0 / g.axons), TICKS, seed=SEED + 2)
    for start in range(0, TICKS, PERIOD):
        pattern = patterns[rng.integers(PATTERNS)]
        late = rng.random(PATTERN_AXONS) < 0.5
        for a, dt in zip(pattern, late):
            out.setdefault(start + int(dt), []).append((0, int(a)))
    return {t: sorted(set(ev)) for t, ev in sorted(out.items())}


def main() -> None:
    meta = {
        "name": "learn-example",
        "source": "examples/make_learn_net.py",
        "description": f"competitive layer (neurons 0..{LAYER - 1}) learning {PATTERNS} "
        f"patterns of {PATTERN_AXONS} axons",
    }
    save_network(network(), HERE / "learn.toml", meta=meta)
    write_inputs(HERE / "learn_in.csv", inputs())
    print(f"wrote {HERE / 'learn.toml'}, {HERE / 'learn.npz'} and {HERE / 'learn_in.csv'}")


if __name__ == "__main__":
    main()
