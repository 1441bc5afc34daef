"""Seeded random cores and inputs for cross-checks and benchmarks.

A random core mixes LIF and COUNTER neurons, excitatory and inhibitory
entries, a density drawn log-uniformly from 1 % to 100 %, and parameters
that reach saturation (thresholds near the top of the range, strong
multiplicities). Everything derives from one integer seed, so a failing
case is replayed from its seed alone.
"""

from __future__ import annotations

import numpy as np

from spikeloom.defs import Geometry

from .core import CoreModel

__all__ = ["random_core", "random_inputs"]


def random_core(geometry: Geometry, seed: int) -> CoreModel:
    g = geometry
    rng = np.random.default_rng([seed, 0])
    n, rows = g.neurons, g.rows
    model = CoreModel(g)
    density = float(np.exp(rng.uniform(np.log(0.01), 0.0)))
    present = rng.random((rows, n)) < density
    count = np.where(present, rng.integers(1, g.max_count + 1, (rows, n)), 0)
    p_inhib = rng.uniform(0.0, 0.6)
    sign = (rng.random((rows, n)) < p_inhib).astype(np.int64)
    model.set_crossbar(count, sign)

    vmax = g.v_max
    # A third of the cores get thresholds in the top of the range, so the
    # potential saturates before it can cross; the rest fire often.
    if rng.random() < 1 / 3:
        threshold = rng.integers(vmax // 2, vmax + 1, n)
    else:
        threshold = rng.integers(1, max(2, 8 * g.max_count), n)
    model.set_params(
        model=rng.integers(0, 2, n),
        threshold=threshold,
        leak=rng.integers(0, max(2, g.max_count * 2), n) * (rng.random(n) < 0.7),
        refractory=rng.integers(0, min(g.timer_max, 6) + 1, n),
        window=rng.integers(0, g.timer_max + 1, n),
        direct=rng.integers(0, 2, n),
        output=(rng.random(n) < 0.8).astype(np.int64),
        learn=rng.integers(0, 2, n),
    )
    # Start from random states too (the host can write any state word).
    if rng.random() < 0.5:
        model.state = {
            "v": rng.integers(g.v_min, g.v_max + 1, n),
            "s": rng.integers(g.v_min, g.v_max + 1, n),
            "timer": rng.integers(0, g.timer_max + 1, n),
            "active": rng.integers(0, 2, n),
        }
    return model


def random_inputs(geometry: Geometry, seed: int, ticks: int) -> list[list[int]]:
    """Per tick, a list of axon events (with duplicates, in random order)."""
    rng = np.random.default_rng([seed, 1])
    activity = rng.uniform(0.0, 0.5)
    out = []
    for _ in range(ticks):
        k = rng.binomial(geometry.axons, activity)
        out.append(rng.integers(0, geometry.axons, k).tolist())
    return out
