"""Seeded random cores and inputs for cross-checks and benchmarks.

A random core has excitatory and inhibitory entries, a density drawn
log-uniformly from 1 % to 100 %, and parameters that reach saturation
(thresholds near the top of the range, strong multiplicities). Its neuron
models follow the seed (``MODEL_KINDS``): all LIF, all COUNTER, or mixed
(and, for a chip, cores of different kinds). Thresholds and leaks are
drawn within their P - 1 bits, so any geometry works, including small P
with large k. Everything derives from one integer seed, so a failing case
is replayed from its seed alone.
"""

from __future__ import annotations

import numpy as np

from spikeloom.defs import PROB_ONE, Geometry, LearnConfig, next_phase
from spikeloom.sim.core import CoreModel

__all__ = [
    "random_core",
    "random_inputs",
    "random_learning",
    "random_network",
    "random_host_inputs",
    "relay_traffic",
]

#: Neuron models of a random core (``seed % 4``) and of a random network
#: (``seed % 5``; "cores": each core all LIF, all COUNTER or mixed).
MODEL_KINDS = ("mixed", "lif", "counter", "mixed", "cores")

#: The kinds of learning cases ``random_learning`` cycles through (seed % 6).
LEARNING_KINDS = ("random", "saturate", "prune_regrow", "full_rows", "episodes", "certain")


def _below(geometry: Geometry, hi: int) -> int:
    """``hi`` lowered so that a draw below it fits a P - 1 bit field."""
    return min(hi, geometry.v_max + 1)


def _models(kind: str, drawn: np.ndarray, rng) -> np.ndarray:
    """Neuron models of ``kind`` (``drawn``: a random 0/1 draw of the shape)."""
    if kind == "lif":
        return np.zeros_like(drawn)
    if kind == "counter":
        return np.ones_like(drawn)
    if kind == "cores":  # per core (rows of ``drawn``): LIF, COUNTER or mixed
        per_core = rng.integers(0, 3, drawn.shape[0])[:, None]
        return np.where(per_core == 2, drawn, per_core)
    return drawn


def random_core(geometry: Geometry, seed: int) -> CoreModel:
    """A random core; its neuron models are ``MODEL_KINDS[seed % 4]``."""
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
        threshold = rng.integers(1, _below(g, max(2, 8 * g.max_count)), n)
    model.set_params(
        model=_models(MODEL_KINDS[seed % 4], rng.integers(0, 2, n), None),
        threshold=threshold,
        leak=rng.integers(0, _below(g, max(2, g.max_count * 2)), n) * (rng.random(n) < 0.7),
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


def random_network(geometry: Geometry, seed: int):
    """A random small-world network for ``geometry``, with extra wiring.

    The graph comes from :func:`spikeloom.host.mapper.small_world` (degree,
    rewiring probability and inhibitory fraction drawn from the seed; the
    rewiring probability is halved until the mapping fits). On top of it:
    random weights on the axon rows the mapping left free (host input
    rows), and random extra routing entries in free fan-out slots, which
    may target the source's own core or an axon that other sources also
    reach (so routed events converge and merge). Neuron parameters are
    drawn as in :func:`random_core`, most neurons output-enabled; the
    models are ``MODEL_KINDS[seed % 5]``.
    """
    from spikeloom.host.mapper import map_graph, small_world
    from spikeloom.network import NetworkError

    g = geometry
    rng = np.random.default_rng([seed, 2])
    n, c = g.neurons, g.cores
    degree = int(rng.integers(1, min(n, g.fanout, 6) + 1))
    p_rewire = float(rng.choice([0.0, rng.uniform(0, 0.3), rng.uniform(0, 1)]))
    p_inhib = float(rng.uniform(0.0, 0.5))
    while True:
        w = small_world(g, seed=[seed, 3], degree=degree, p_rewire=p_rewire, p_inhibitory=p_inhib)
        try:
            net = map_graph(g, w)
            break
        except NetworkError:
            p_rewire /= 2

    used = np.zeros((c, g.axons), dtype=bool)
    used[net.route_core[net.route_valid != 0], net.route_axon[net.route_valid != 0]] = True
    free = ~used[:, :, None] & (rng.random((c, g.axons, n)) < rng.uniform(0.05, 0.5))
    rows = net.count[:, n:, :]
    rows[free] = rng.integers(1, g.max_count + 1, int(free.sum()))
    net.sign[:, n:, :][free] = rng.random(int(free.sum())) < p_inhib

    extra = (net.route_valid == 0) & (rng.random(net.route_valid.shape) < rng.uniform(0, 0.3))
    k = int(extra.sum())
    net.route_valid[extra] = 1
    net.route_core[extra] = rng.integers(0, c, k)
    net.route_axon[extra] = rng.integers(0, g.axons, k)

    shape = (c, n)
    vmax = g.v_max
    if rng.random() < 0.2:
        threshold = rng.integers(vmax // 2, vmax + 1, shape)
    else:
        threshold = rng.integers(1, _below(g, max(2, 4 * g.max_count)), shape)
    kind = MODEL_KINDS[seed % len(MODEL_KINDS)]
    net.params.update(
        model=_models(kind, rng.integers(0, 2, shape), np.random.default_rng([seed, 8])),
        threshold=threshold,
        leak=rng.integers(0, _below(g, max(2, g.max_count)), shape) * (rng.random(shape) < 0.5),
        refractory=rng.integers(0, min(g.timer_max, 4) + 1, shape),
        window=rng.integers(0, g.timer_max + 1, shape),
        direct=rng.integers(0, 2, shape),
        output=(rng.random(shape) < 0.85).astype(np.int64),
        learn=rng.integers(0, 2, shape),
    )
    return net.validate()


def random_host_inputs(geometry: Geometry, seed: int, ticks: int) -> list[list[tuple[int, int]]]:
    """Per tick, a list of host events (core, axon), with duplicates."""
    g = geometry
    rng = np.random.default_rng([seed, 4])
    rate = rng.uniform(0.0, 0.2)
    out = []
    for _ in range(ticks):
        k = rng.binomial(g.cores * g.axons, rate)
        cores, axons = rng.integers(0, g.cores, k), rng.integers(0, g.axons, k)
        out.append(list(zip(cores.tolist(), axons.tolist())))
    return out


def relay_traffic(geometry: Geometry, rewiring: float, seed: int):
    """The router benchmark's network: constant load, tunable locality.

    Every neuron fires on every tick once started (LIF, threshold 1, axon
    a drives neuron a with weight 1; no recurrent synapses, no outputs).
    Entry f of neuron n of core c routes to axon n of core pi_{n,f}(c),
    where pi_{n,f} is a permutation of the cores: at ``rewiring`` 0 it is
    the shift c -> c + f + 1 within c's level-0 block (traffic between
    siblings, or back into the core itself when f + 1 is a multiple of
    ``levels[0]``: one level-0 hop either way); each core then joins, with probability ``rewiring``,
    a random subset whose targets are shuffled among themselves (long-range
    links). A permutation keeps every axon at exactly ``fanout`` events a
    tick, so the load (cores * N * fanout routed events a tick) does not
    depend on ``rewiring``; only the distances do. Needs ``axons >= N``.
    """
    from spikeloom.network import Network

    g = geometry
    if g.axons < g.neurons:
        raise ValueError("relay_traffic needs axons >= neurons")
    rng = np.random.default_rng([seed, 5])
    c, n, b = g.cores, g.neurons, g.levels[0]
    net = Network.empty(g)
    net.params["threshold"][:] = 1
    idx = np.arange(n)
    net.count[:, n + idx, idx] = 1
    cores = np.arange(c)
    for f in range(g.fanout):
        local = (cores // b) * b + (cores + f + 1) % b
        for k in range(n):
            target = local.copy()
            moved = np.flatnonzero(rng.random(c) < rewiring)
            target[moved] = target[rng.permutation(moved)]
            net.route_valid[:, k, f] = 1
            net.route_core[:, k, f] = target
            net.route_axon[:, k, f] = k
    return net.validate()


def random_learning(geometry: Geometry, seed: int, ticks: int):
    """A random core with learning: ``(model, seed_word, configs, inputs, phases)``.

    ``configs[t]`` is the LearnConfig of tick t (learning is switched off on
    about one tick in eight), ``phases[t]`` its episode phase, ``inputs[t]``
    its axon events. The case kind (``LEARNING_KINDS[seed % 6]``) steers it
    toward an edge: counts at the maximum with certain potentiation,
    certain pruning to 0 then regrowth, rows with no free column, short
    episodes, probabilities 0 and 1.
    """
    g = geometry
    kind = LEARNING_KINDS[seed % len(LEARNING_KINDS)]
    rng = np.random.default_rng([seed, 7])
    model = random_core(g, seed)
    n = g.neurons
    model.params["learn"] = (rng.random(n) < 0.8).astype(np.int64)
    # Enough activity for learning to act: lower thresholds for half the cases.
    if rng.random() < 0.5:
        model.params["threshold"] = rng.integers(1, _below(g, max(2, 3 * g.max_count)), n)
    count, sign = model.count.copy(), model.sign.copy()
    if kind == "saturate":
        count = np.where(count > 0, g.max_count, 0)
    elif kind == "full_rows":
        full = rng.random(g.rows) < 0.5
        count[full] = rng.integers(1, g.max_count + 1, (int(full.sum()), n))
    model.set_crossbar(count, sign)

    def prob():
        return int(rng.choice([0, PROB_ONE, rng.integers(0, PROB_ONE + 1)], p=[0.15, 0.15, 0.7]))

    base = {
        "random": dict(p_plus=prob(), p_minus=prob(), p_grow=prob()),
        "saturate": dict(p_plus=PROB_ONE, p_minus=prob(), p_grow=prob()),
        "prune_regrow": dict(p_plus=0, p_minus=PROB_ONE, p_grow=PROB_ONE),
        "full_rows": dict(p_plus=prob(), p_minus=prob(), p_grow=PROB_ONE),
        "episodes": dict(p_plus=prob(), p_minus=prob(), p_grow=PROB_ONE),
        "certain": dict(p_plus=PROB_ONE, p_minus=PROB_ONE, p_grow=PROB_ONE),
    }[kind]
    episode = int(rng.integers(1, 6)) if kind == "episodes" else int(rng.choice([0, 0, 7, 50]))
    configs, phases, phase = [], [], 0
    for t in range(ticks):
        on = int(rng.random() >= 1 / 8)
        if kind == "prune_regrow" and t >= ticks // 2:
            # First prune everything that is not potentiated, then regrow.
            base = dict(p_plus=PROB_ONE, p_minus=0, p_grow=PROB_ONE)
        configs.append(LearnConfig(learn=on, episode=episode, **base))
        phases.append(phase)
        phase = next_phase(phase, episode)
    seed_word = int(rng.integers(0, 1 << 32)) if rng.random() < 0.9 else 0
    return model, seed_word, configs, random_inputs(g, seed, ticks), phases
