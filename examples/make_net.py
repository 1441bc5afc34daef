"""Make the shipped example network (examples/net.toml + net.npz) and input (examples/in.csv).

One core of the ``sim``/``golden`` devices' default geometry
(``spikeloom.host.transport.SIM_GEOMETRY``: 64 neurons, 64 axons):

* neuron 0, a pacemaker: threshold 0 and a refractory period of 9 ticks, so
  it fires every 10 ticks with no input at all;
* neurons 1..15, a chain: each fires one tick after the one before it, so
  every pacemaker spike sends a diagonal wave across the raster;
* neurons 16..31, an input layer: axon a excites neuron 16 + a by 4 against
  a threshold of 6 and a leak of 2, so it takes two input spikes on
  consecutive ticks (4 - 2 + 4 = 6) to fire;
* neuron 32, an inhibitor: it sums the input layer (weight 1 each, threshold
  8) and, when it fires, inhibits the whole layer by 7.

Every one of these neurons is output-enabled. The input file drives axons
0..15 with rate-coded spikes (``spikeloom.host.encode.rate``, seeded), the
rate rising with the axon number. Run ``python -m examples.make_net`` to
remake the files (they are committed; the result is the same every time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikeloom.host.encode import rate
from spikeloom.host.eventfile import write_inputs
from spikeloom.host.netfile import save_network
from spikeloom.host.transport import SIM_GEOMETRY
from spikeloom.network import Network

HERE = Path(__file__).resolve().parent
CHAIN = range(1, 16)
LAYER = range(16, 32)
INHIBITOR = 32
TICKS = 100


def network() -> Network:
    """The example network on SIM_GEOMETRY (one core)."""
    g = SIM_GEOMETRY
    net = Network.empty(g)
    p = net.params
    p["threshold"][0, :] = g.v_max  # unused neurons never fire
    p["threshold"][0, 0] = 0  # the pacemaker: fires whenever it is not refractory
    p["refractory"][0, 0] = 9
    for k in CHAIN:
        net.count[0, k - 1, k] = g.max_count  # neuron k - 1's row onto column k
        p["threshold"][0, k] = g.max_count - 1
        p["leak"][0, k] = 1
    for a, k in enumerate(LAYER):
        net.count[0, g.neurons + a, k] = 4  # axon a's row onto column k
        p["threshold"][0, k] = 6
        p["leak"][0, k] = 2
        net.count[0, k, INHIBITOR] = 1
        net.count[0, INHIBITOR, k] = g.max_count
        net.sign[0, INHIBITOR, k] = 1
    p["threshold"][0, INHIBITOR] = 8
    p["leak"][0, INHIBITOR] = 1
    p["output"][0, : INHIBITOR + 1] = 1
    return net.validate()


def inputs() -> dict[int, list[tuple[int, int]]]:
    """Rate-coded host input for axons 0..15: rate 0.05 .. 0.8 per tick, seed 1."""
    rates = np.linspace(0.05, 0.8, len(LAYER))
    return rate(rates, TICKS, seed=1)


def main() -> None:
    meta = {
        "name": "example",
        "source": "examples/make_net.py",
        "description": "pacemaker (neuron 0), chain 1..15, input layer 16..31 on axons "
        "0..15, inhibitor 32",
    }
    save_network(network(), HERE / "net.toml", meta=meta)
    write_inputs(HERE / "in.csv", inputs())
    print(f"wrote {HERE / 'net.toml'}, {HERE / 'net.npz'} and {HERE / 'in.csv'}")


if __name__ == "__main__":
    main()
