"""Map a global directed graph of neurons onto the cores of one geometry.

A graph is a dense integer matrix ``weights`` of shape (M, M) over M global
neurons: ``weights[i, j]`` is the synapse from neuron i to neuron j, 0 is no
synapse. :func:`map_graph` places every global neuron on a (core, neuron)
slot and turns the graph into a :class:`~spikeloom.network.Network`:

* an edge between two neurons of one core is a crossbar entry in the
  recurrent row of its source (rows ``0 .. N-1``);
* the edges of a source neuron into another core share ONE axon of that
  core: the source gets one routing entry ``(valid, core, axon)`` per
  destination core, and the axon's crossbar row (``N + axon``) holds the
  weights onto every target of that source in that core.

So a source's spike at tick t reaches its local targets through its
recurrent row and its remote targets through one axon per destination core
at t + 1, each exactly once (docs/semantics.md §3), and the effective global
weight matrix of the network is exactly ``weights``. Every way a graph can
fail to fit (too many neurons, a placement collision, a weight beyond
``count_bits``, a neuron with more destination cores than ``fanout``, a core
with more remote sources than ``axons``) raises
:class:`~spikeloom.network.NetworkError` naming the offender.

:func:`small_world` generates Watts-Strogatz-style test graphs with one
cluster per core.
"""

from __future__ import annotations

import numpy as np

from spikeloom.defs import Geometry
from spikeloom.network import PARAM_FIELDS, Network, NetworkError

__all__ = ["map_graph", "small_world"]


# -- helpers -------------------------------------------------------------------


def _as_int_array(value, what: str) -> np.ndarray:
    """``value`` as an int64 array; integral floats are accepted, nothing else."""
    arr = np.asarray(value)
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            bad = np.argwhere(~(np.isfinite(arr) & (arr == np.round(arr))))[0]
            where = list(int(x) for x in bad)
            raise NetworkError(f"{what}{where} = {arr[tuple(bad)]!r}: not an integer")
        return arr.astype(np.int64)
    raise NetworkError(f"{what}: integers expected, got dtype {arr.dtype}")


def _placement(geometry: Geometry, m: int, placement) -> tuple[np.ndarray, np.ndarray]:
    """(core, neuron) of every global neuron, checked for range and collisions."""
    g = geometry
    if placement is None:
        i = np.arange(m, dtype=np.int64)
        return i // g.neurons, i % g.neurons
    arr = np.asarray(placement)
    if arr.dtype.names:  # a structured (M,) array of (core, neuron) records
        arr = np.stack([arr[name] for name in arr.dtype.names[:2]], axis=-1)
    elif arr.dtype == object:  # an (M,) array of (core, neuron) tuples
        arr = np.array([tuple(p) for p in arr.ravel()]).reshape(-1, 2)
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    arr = _as_int_array(arr, "placement")
    if arr.shape != (m, 2):
        raise NetworkError(
            f"placement: shape {arr.shape}, expected ({m}, 2): one (core, neuron) "
            f"pair per global neuron"
        )
    core, neuron = arr[:, 0], arr[:, 1]
    for name, vals, hi in (("core", core, g.cores - 1), ("neuron", neuron, g.neurons - 1)):
        bad = np.flatnonzero((vals < 0) | (vals > hi))
        if bad.size:
            i = int(bad[0])
            raise NetworkError(
                f"placement[{i}] = (core {int(core[i])}, neuron {int(neuron[i])}): "
                f"{name} out of range 0..{hi} for this geometry"
            )
    slot = core * g.neurons + neuron
    order = np.argsort(slot, kind="stable")
    dup = np.flatnonzero(slot[order][1:] == slot[order][:-1])
    if dup.size:
        a, b = int(order[dup[0]]), int(order[dup[0] + 1])
        raise NetworkError(
            f"placement collision: global neurons {a} and {b} are both placed on "
            f"core {int(core[a])} neuron {int(neuron[a])}"
        )
    return core, neuron


def _rank_in_groups(sorted_groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of a sorted array."""
    starts = np.searchsorted(sorted_groups, sorted_groups, side="left")
    return np.arange(sorted_groups.size, dtype=np.int64) - starts


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# -- the mapper ------------------------------------------------------------------


def map_graph(geometry: Geometry, weights, placement=None, params=None) -> Network:
    """Map the directed graph ``weights`` onto ``geometry``; return a valid Network.

    ``weights``: (M, M) integers, ``weights[i, j]`` the synapse from global
    neuron i to global neuron j (0 = none, negative = inhibitory), with
    M <= cores * N. Integral floats are accepted.

    ``placement``: where each global neuron lives, as an (M, 2) array (or a
    sequence / object or structured (M,) array) of (core, neuron) pairs. By
    default global neuron i is neuron ``i % N`` of core ``i // N``. Slots no
    global neuron is placed on are left empty (no synapses, no routes, zero
    parameters).

    ``params``: optional dict field -> (M,) array (a scalar is broadcast) of
    neuron parameters (``spikeloom.network.PARAM_FIELDS``), placed like the
    neurons. Fields not given are zero; no defaults are invented here (note
    that a zero threshold is legal in hardware but rarely meant).

    The result, deterministic for given inputs:

    * an edge i -> j with both on core c: ``count/sign[c, n_i, n_j]``;
    * for each source i and each other core d holding targets of i: one axon
      ``a`` of d, allocated per destination core in increasing global index
      of the source (axons 0, 1, ... in that order); one valid routing entry
      ``(d, a)`` of i, entries filled from slot 0 in increasing d, the rest
      invalid (all zero); and ``count/sign[d, N + a, n_j]`` for every target
      j of i on d. No axon is shared by two sources, and no routing entry
      points to the source's own core.
    * absent synapses have count 0 and sign 0.

    Raises :class:`NetworkError` (checked in this order; the first problem
    found is reported, for weights, fan-out and axons with how many more
    there are): bad shapes or
    non-integers, more neurons than ``cores * N``, a placement out of range
    or colliding, a bad parameter field, a weight with ``|w| > 2**k - 1``, a
    neuron needing more than ``fanout`` destination cores, a core needing
    more than ``axons`` axons. Finally ``Network.validate()`` is called.
    """
    g = geometry
    if not isinstance(g, Geometry):
        raise TypeError(f"geometry: a spikeloom.defs.Geometry expected, got {type(g).__name__}")
    n_, a_, f_, c_ = g.neurons, g.axons, g.fanout, g.cores

    w = _as_int_array(weights, "weights")
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise NetworkError(f"weights: shape {w.shape}, expected a square (M, M) matrix")
    m = w.shape[0]
    if m > c_ * n_:
        raise NetworkError(
            f"weights: {m} global neurons do not fit {c_} cores x {n_} neurons = "
            f"{c_ * n_} neuron slots"
        )
    core, neuron = _placement(g, m, placement)

    net = Network.empty(g)

    # Parameters, placed like the neurons.
    widths = {name: fl.width for name, fl in g.params_layout}
    for key, value in (params or {}).items():
        if key not in PARAM_FIELDS:
            raise NetworkError(f"params: unknown field {key!r}; known: {', '.join(PARAM_FIELDS)}")
        arr = _as_int_array(value, f"params.{key}")
        if arr.ndim == 0:
            arr = np.full(m, int(arr), dtype=np.int64)
        if arr.shape != (m,):
            raise NetworkError(f"params.{key}: shape {arr.shape}, expected ({m},)")
        hi = (1 << widths[key]) - 1
        bad = np.flatnonzero((arr < 0) | (arr > hi))
        if bad.size:
            i = int(bad[0])
            raise NetworkError(
                f"params.{key} of global neuron {i} (core {int(core[i])}, neuron "
                f"{int(neuron[i])}) = {int(arr[i])}: out of range 0..{hi}"
            )
        net.params[key][core, neuron] = arr

    # Weights must fit count_bits.
    over = np.argwhere(np.abs(w) > g.max_count)
    if over.size:
        i, j = (int(x) for x in over[0])
        more = f" ({_plural(len(over) - 1, 'more edge')} too)" if len(over) > 1 else ""
        raise NetworkError(
            f"weight {int(w[i, j])} on edge {i}->{j} does not fit count_bits = "
            f"{g.count_bits}: |w| must be <= {g.max_count}{more}"
        )

    src, dst = np.nonzero(w)  # row-major: sorted by source, then target
    val = w[src, dst]
    count, sign = np.abs(val), (val < 0).astype(np.int64)
    sc, dc = core[src], core[dst]
    local = sc == dc

    # Local edges: recurrent rows.
    net.count[sc[local], neuron[src[local]], neuron[dst[local]]] = count[local]
    net.sign[sc[local], neuron[src[local]], neuron[dst[local]]] = sign[local]

    # Remote edges: one (source, destination core) pair per axon and route.
    r_src, r_dc = src[~local], dc[~local]
    pair_key = np.unique(r_src * c_ + r_dc)  # sorted by source, then core
    p_src, p_dc = pair_key // c_, pair_key % c_

    need_routes = np.bincount(p_src, minlength=m)
    over = np.flatnonzero(need_routes > f_)
    if over.size:
        i = int(over[0])
        dests = p_dc[p_src == i].tolist()
        more = f"; {_plural(len(over), 'neuron')} in all exceed it" if len(over) > 1 else ""
        raise NetworkError(
            f"fan-out exhausted: global neuron {i} (core {int(core[i])}, neuron "
            f"{int(neuron[i])}) needs {len(dests)} routing entries, one per destination "
            f"core {dests}, but fanout F = {f_}{more}"
        )

    need_axons = np.bincount(p_dc, minlength=c_)
    over = np.flatnonzero(need_axons > a_)
    if over.size:
        d = int(over[0])
        more = f"; {_plural(len(over), 'core')} in all exceed it" if len(over) > 1 else ""
        raise NetworkError(
            f"axons exhausted: core {d} needs {int(need_axons[d])} axons, one per remote "
            f"source neuron, but axons A = {a_}{more}"
        )

    # Routing slot: rank of the pair among its source's pairs (increasing core).
    slot = _rank_in_groups(p_src)
    # Axon: rank of the pair among its destination core's pairs (increasing source).
    by_dest = np.lexsort((p_src, p_dc))
    axon = np.empty_like(pair_key)
    axon[by_dest] = _rank_in_groups(p_dc[by_dest])

    net.route_valid[core[p_src], neuron[p_src], slot] = 1
    net.route_core[core[p_src], neuron[p_src], slot] = p_dc
    net.route_axon[core[p_src], neuron[p_src], slot] = axon

    # Axon rows: every remote edge through its pair's axon.
    edge_pair = np.searchsorted(pair_key, r_src * c_ + r_dc)
    row = n_ + axon[edge_pair]
    r_dst = dst[~local]
    net.count[r_dc, row, neuron[r_dst]] = count[~local]
    net.sign[r_dc, row, neuron[r_dst]] = sign[~local]

    return net.validate()


# -- a test-graph generator ------------------------------------------------------


def small_world(
    geometry: Geometry,
    *,
    seed,
    degree: int = 8,
    p_rewire: float = 0.1,
    p_inhibitory: float = 0.2,
    max_weight: int | None = None,
) -> np.ndarray:
    """A Watts-Strogatz-style directed graph over all ``cores * N`` neurons.

    Returns an (M, M) int64 weight matrix, M = cores * N, meant for
    :func:`map_graph` with the default placement (global neuron i is neuron
    ``i % N`` of core ``i // N``), so each core holds one cluster.

    Construction:

    1. Lattice: neuron n of core c has ``degree`` distinct targets on a ring
       of its own core: neurons n+1, n-1, n+2, n-2, ... (mod N), in that
       order; with ``degree == N`` the last one is n itself (a recurrent
       self-synapse, which the crossbar allows). ``0 <= degree <= N``.
    2. Rewiring: each of these edges independently, with probability
       ``p_rewire``, is replaced by an edge to a uniformly random neuron of
       another core (a long-range link). The rewired targets of one source
       are distinct (drawn without replacement), so no two edges ever
       collapse into one. With a single core there is no other core and no
       edge is rewired.
    3. Weights: each edge gets a magnitude uniform in ``1 .. max_weight``
       (default ``2**count_bits - 1``) and is inhibitory (negative) with
       probability ``p_inhibitory``.

    Guarantees: deterministic for a given geometry, seed and arguments
    (``numpy.random.default_rng(seed)``); every neuron has exactly
    ``degree`` out-edges, all non-zero, ``|w| <= max_weight``; edges that are
    not rewired stay in the source's core, so ``p_rewire = 0`` gives a graph
    with no edge between cores (no routing entries once mapped); nothing is
    dropped or clipped to fit the geometry.

    Limits: a neuron's destination cores are at most its rewired edges, so
    ``degree <= fanout`` (or ``cores - 1 <= fanout``) guarantees the fan-out
    fits. Axons are not guaranteed: a core receives on average
    ``N * degree * p_rewire`` rewired edges (from at most that many distinct
    sources) and needs one axon per distinct source, so keep that well below
    ``axons`` (it always fits when ``(cores - 1) * N <= axons``). A draw that
    does not fit, or a ``max_weight`` beyond ``count_bits``, is left as it is
    for :func:`map_graph` to report.
    """
    g = geometry
    n_, c_ = g.neurons, g.cores
    m = c_ * n_
    degree = int(degree)
    if not 0 <= degree <= n_:
        raise ValueError(f"degree = {degree}: must be in 0 .. neurons ({n_})")
    for name, p in (("p_rewire", p_rewire), ("p_inhibitory", p_inhibitory)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} = {p!r}: must be a probability in 0 .. 1")
    max_weight = g.max_count if max_weight is None else int(max_weight)
    if max_weight < 1:
        raise ValueError(f"max_weight = {max_weight}: must be >= 1")

    rng = np.random.default_rng(seed)

    # 1. Ring lattice inside each core.
    k = np.arange(degree)
    offsets = np.where(k % 2 == 0, k // 2 + 1, -(k // 2 + 1))
    if degree == n_:
        offsets[-1] = 0  # the N-th distinct neighbour on a ring of N is oneself
    i = np.arange(m)
    src = np.repeat(i, degree).reshape(m, degree)
    c, n = i // n_, i % n_
    dst = c[:, None] * n_ + (n[:, None] + offsets[None, :]) % n_

    # 2. Rewire to distinct neurons of other cores.
    rewire = rng.random((m, degree)) < p_rewire
    if c_ == 1:
        rewire[:] = False
    for s in np.flatnonzero(rewire.any(axis=1)):
        cols = np.flatnonzero(rewire[s])
        pick = rng.choice(m - n_, size=cols.size, replace=False)
        own = (s // n_) * n_
        dst[s, cols] = np.where(pick < own, pick, pick + n_)  # skip the own core

    # 3. Weights.
    magnitude = rng.integers(1, max_weight + 1, size=(m, degree))
    inhibitory = rng.random((m, degree)) < p_inhibitory

    weights = np.zeros((m, m), dtype=np.int64)
    weights[src, dst] = np.where(inhibitory, -magnitude, magnitude)
    return weights
