"""The network mapper (host/mapper.py) and the small-world generator."""

import re

import numpy as np
import pytest

from spikeloom.defs import Geometry
from spikeloom.host.mapper import map_graph, small_world
from spikeloom.network import PARAM_FIELDS, NetworkError

# Two cores of four neurons: small enough to write every array out.
G2 = Geometry(levels=(2,), neurons=4, axons=4, fanout=2, count_bits=3, lanes=2)
# The round-trip geometry of the brief: 4 cores of 8 neurons, 8 axons, F = 4.
G22 = Geometry(levels=(2, 2), neurons=8, axons=8, fanout=4, count_bits=3, lanes=2)


# -- an independent reading of a Network back into a weight matrix ----------------


def effective_weights(net) -> np.ndarray:
    """Weight from every (core, neuron) slot to every slot, as the chip applies it.

    Slot s = core * N + neuron. A spike of s reaches its own core through its
    recurrent row and every *distinct* (core, axon) of its valid routing
    entries through that axon's row (an axon active twice counts once).
    """
    g = net.geometry
    c_, n_ = g.cores, g.neurons
    w = np.where(net.sign == 1, -net.count, net.count)  # (C, R, N)
    out = np.zeros((c_ * n_, c_ * n_), dtype=np.int64)
    for c in range(c_):
        for n in range(n_):
            s = c * n_ + n
            out[s, c * n_ : (c + 1) * n_] += w[c, n]
            axons = {
                (int(net.route_core[c, n, f]), int(net.route_axon[c, n, f]))
                for f in range(g.fanout)
                if net.route_valid[c, n, f]
            }
            for d, a in axons:
                out[s, d * n_ : (d + 1) * n_] += w[d, n_ + a]
    return out


def expected_physical(g, weights, placement=None) -> np.ndarray:
    """``weights`` scattered onto slots; unplaced slots stay empty."""
    m = weights.shape[0]
    if placement is None:
        slot = np.arange(m)
    else:
        p = np.asarray(placement)
        slot = p[:, 0] * g.neurons + p[:, 1]
    out = np.zeros((g.cores * g.neurons,) * 2, dtype=np.int64)
    out[np.ix_(slot, slot)] = weights
    return out


def check_structure(net):
    """Invariants of the mapper's allocation, beyond the weights."""
    g = net.geometry
    valid = net.route_valid.astype(bool)
    # Valid entries are packed from slot 0; invalid entries are all zero.
    assert np.all(np.diff(valid.astype(int), axis=2) <= 0)
    assert not net.route_core[~valid].any() and not net.route_axon[~valid].any()
    # No route to the source's own core.
    own = np.arange(g.cores)[:, None, None]
    assert not np.any(valid & (net.route_core == own))
    # One axon per (source, destination core): no axon has two sources, and a
    # source never has two entries for one core.
    used = list(zip(net.route_core[valid].tolist(), net.route_axon[valid].tolist()))
    assert len(used) == len(set(used))
    for c in range(g.cores):
        for n in range(g.neurons):
            dests = net.route_core[c, n][valid[c, n]].tolist()
            assert dests == sorted(set(dests))
    # Axon rows without a route into them are empty; so is the sign of count 0.
    used = set(used)
    for d in range(g.cores):
        for a in range(g.axons):
            if (d, a) not in used:
                assert not net.count[d, g.neurons + a].any(), (d, a)
    assert not net.sign[net.count == 0].any()


# -- hand-built cases ----------------------------------------------------------------


def test_two_cores_by_hand():
    w = np.zeros((8, 8), dtype=int)
    w[0, 1] = 3  # core 0: n0 -> n1
    w[1, 1] = -2  # core 0: self-synapse of n1
    w[2, 1] = 2  # core 0: n2 -> n1
    w[2, 5] = 4  # core 0 n2 -> core 1 n1  } one axon of core 1 (axon 0)
    w[2, 6] = -1  # core 0 n2 -> core 1 n2 }
    w[3, 4] = 1  # core 0 n3 -> core 1 n0: axon 1 of core 1
    w[6, 7] = -5  # core 1: n2 -> n3
    w[7, 0] = 7  # core 1 n3 -> core 0 n0: axon 0 of core 0
    net = map_graph(G2, w)

    # fmt: off
    count = [
        [  # core 0: rows n0..n3, then axons 0..3
            [0, 3, 0, 0], [0, 2, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0],
            [7, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0],
        ],
        [  # core 1
            [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 5], [0, 0, 0, 0],
            [0, 4, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0],
        ],
    ]
    sign = [
        [
            [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0],
            [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0],
        ],
        [
            [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0],
            [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0],
        ],
    ]
    # (valid, core, axon) per neuron, F = 2 entries each
    routes = [
        [[(0, 0, 0), (0, 0, 0)], [(0, 0, 0), (0, 0, 0)],
         [(1, 1, 0), (0, 0, 0)], [(1, 1, 1), (0, 0, 0)]],
        [[(0, 0, 0), (0, 0, 0)], [(0, 0, 0), (0, 0, 0)],
         [(0, 0, 0), (0, 0, 0)], [(1, 0, 0), (0, 0, 0)]],
    ]
    # fmt: on
    routes = np.array(routes)
    assert net.count.tolist() == count
    assert net.sign.tolist() == sign
    assert net.route_valid.tolist() == routes[..., 0].tolist()
    assert net.route_core.tolist() == routes[..., 1].tolist()
    assert net.route_axon.tolist() == routes[..., 2].tolist()
    assert all(not net.params[k].any() for k in PARAM_FIELDS)
    assert np.array_equal(effective_weights(net), w)


def test_slot_and_axon_order_by_hand():
    # 4 cores of 2 neurons; F = 2, A = 2.
    g = Geometry(levels=(4,), neurons=2, axons=2, fanout=2, count_bits=2, lanes=1)
    w = np.zeros((8, 8), dtype=int)
    w[0, 7] = 1  # core 0 n0 -> core 3 n1
    w[0, 3] = -3  # core 0 n0 -> core 1 n1
    w[6, 2] = 2  # core 3 n0 -> core 1 n0
    w[6, 3] = 1  # core 3 n0 -> core 1 n1
    net = map_graph(g, w)
    # Routing entries in increasing destination core, from slot 0.
    assert net.route_valid[0, 0].tolist() == [1, 1]
    assert net.route_core[0, 0].tolist() == [1, 3]
    assert net.route_axon[0, 0].tolist() == [0, 0]
    # Core 1's axons in increasing global source: 0 gets axon 0, 6 gets axon 1.
    assert net.route_valid[3, 0].tolist() == [1, 0]
    assert (net.route_core[3, 0, 0], net.route_axon[3, 0, 0]) == (1, 1)
    assert net.count[1, 2:].tolist() == [[0, 3], [2, 1]]
    assert net.sign[1, 2:].tolist() == [[0, 1], [0, 0]]
    assert net.count[3, 2:].tolist() == [[0, 1], [0, 0]]
    assert not net.count[[0, 2]].any() and not net.count[:, :2].any()
    assert net.route_valid.sum() == 3
    assert np.array_equal(effective_weights(net), w)


def test_placement_and_params_by_hand():
    placement = [(1, 3), (0, 0), (1, 0)]  # global neuron -> (core, neuron)
    w = np.array([[0, 0, 2], [-3, 0, 0], [0, 1, 0]])
    net = map_graph(G2, w, placement=placement, params={"threshold": [5, 6, 7], "output": 1})
    # 0 -> 2 is local to core 1: row 3 (neuron 3), column 0.
    assert net.count[1, 3].tolist() == [2, 0, 0, 0]
    # 1 -> 0 goes core 0 n0 -> core 1 n3 through axon 0 of core 1.
    assert (net.route_valid[0, 0, 0], net.route_core[0, 0, 0], net.route_axon[0, 0, 0]) == (
        1,
        1,
        0,
    )
    assert net.count[1, 4].tolist() == [0, 0, 0, 3] and net.sign[1, 4].tolist() == [0, 0, 0, 1]
    # 2 -> 1 goes core 1 n0 -> core 0 n0 through axon 0 of core 0.
    assert (net.route_valid[1, 0, 0], net.route_core[1, 0, 0], net.route_axon[1, 0, 0]) == (
        1,
        0,
        0,
    )
    assert net.count[0, 4].tolist() == [1, 0, 0, 0]
    assert net.route_valid.sum() == 2
    assert net.params["threshold"].tolist() == [[6, 0, 0, 0], [7, 0, 0, 5]]
    assert net.params["output"].tolist() == [[1, 0, 0, 0], [1, 0, 0, 1]]
    assert not net.params["leak"].any()
    assert np.array_equal(effective_weights(net), expected_physical(G2, w, placement))
    # The same placement as an (M, 2) array or an (M,) object array of pairs.
    obj = np.empty(3, dtype=object)
    obj[:] = placement
    for p in (np.array(placement), obj):
        again = map_graph(G2, w, placement=p)
        assert np.array_equal(again.count, net.count)
        assert np.array_equal(again.route_axon, net.route_axon)


def test_empty_and_partial_graphs():
    net = map_graph(G2, np.zeros((0, 0), dtype=int))
    assert not net.count.any() and not net.route_valid.any()
    net = map_graph(G2, np.zeros((3, 3)))  # integral floats are fine
    assert not net.count.any()
    w = np.zeros((5, 5), dtype=int)
    w[4, 0] = -7  # core 1 n0 -> core 0 n0
    net = map_graph(G2, w)
    assert (net.count[0, 4, 0], net.sign[0, 4, 0]) == (7, 1)
    assert np.array_equal(effective_weights(net), expected_physical(G2, w))


# -- the round trip ------------------------------------------------------------------


def needs(g, w, placement=None):
    """Destination cores per global neuron and remote sources per core, by brute force."""
    m = w.shape[0]
    core = np.arange(m) // g.neurons if placement is None else np.asarray(placement)[:, 0]
    dests = [{int(core[j]) for j in np.flatnonzero(w[i])} - {int(core[i])} for i in range(m)]
    sources = [{i for i in range(m) if d in dests[i]} for d in range(g.cores)]
    return [len(x) for x in dests], [len(x) for x in sources]


@pytest.mark.parametrize("degree", [2, 4, 7, 8])
@pytest.mark.parametrize("p_rewire", [0.0, 0.05, 0.1, 0.3])
def test_round_trip_small_world(degree, p_rewire):
    g = G22
    mapped = 0
    for seed in range(6):
        w = small_world(g, seed=seed, degree=degree, p_rewire=p_rewire)
        # The default placement, and one that keeps the clusters together but
        # shuffles the cores and the neurons inside each core.
        rng = np.random.default_rng(1000 + seed)
        cores = rng.permutation(g.cores)
        neurons = np.stack([rng.permutation(g.neurons) for _ in range(g.cores)])
        i = np.arange(g.cores * g.neurons)
        shuffled = np.stack([cores[i // g.neurons], neurons[i // g.neurons, i % g.neurons]], 1)
        placements = [None, shuffled]
        for placement in placements:
            fan, axons = needs(g, w, placement)
            if max(fan) > g.fanout or max(axons) > g.axons:
                what = "fan-out" if max(fan) > g.fanout else "axons"
                with pytest.raises(NetworkError, match=what):
                    map_graph(g, w, placement=placement)
                continue
            net = map_graph(g, w, placement=placement)
            check_structure(net)
            assert np.array_equal(effective_weights(net), expected_physical(g, w, placement))
            # One routing entry and one axon per (source, destination core).
            assert net.route_valid.sum() == sum(fan)
            mapped += 1
    if p_rewire <= 0.1 and degree <= 4:
        assert mapped == 12  # small p_rewire: everything fits this geometry
    assert mapped > 0 or p_rewire == 0.3


def test_round_trip_scattered_placement():
    # Clusters scattered at random over a geometry whose limits cannot bind
    # ((cores - 1) * N <= A and cores - 1 <= F), with free slots left over.
    g = Geometry(levels=(2, 2), neurons=4, axons=16, fanout=4, count_bits=2, lanes=2)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        w = small_world(g, seed=seed, degree=3, p_rewire=0.2)[:13, :13]
        slots = rng.permutation(g.cores * g.neurons)[:13]
        placement = np.stack([slots // g.neurons, slots % g.neurons], axis=1)
        net = map_graph(g, w, placement=placement)
        check_structure(net)
        assert np.array_equal(effective_weights(net), expected_physical(g, w, placement))


def test_small_world_fanout_guarantee_degree_within_fanout():
    # degree <= F: the fan-out always fits, even when every edge is rewired;
    # (cores - 1) * N <= A: the axons always fit.
    g = Geometry(levels=(8,), neurons=4, axons=32, fanout=2, count_bits=2, lanes=1)
    for seed in range(5):
        w = small_world(g, seed=seed, degree=2, p_rewire=1.0)
        net = map_graph(g, w)
        check_structure(net)
        assert np.array_equal(effective_weights(net), w)


# -- errors ----------------------------------------------------------------------------


def test_fanout_exhausted_names_the_neuron():
    g = Geometry(levels=(4,), neurons=2, axons=4, fanout=2, count_bits=2, lanes=1)
    w = np.zeros((8, 8), dtype=int)
    w[3, [0, 4, 6]] = 1  # core 1 n1 -> cores 0, 2, 3
    with pytest.raises(NetworkError) as e:
        map_graph(g, w)
    msg = str(e.value)
    assert "fan-out" in msg
    assert "global neuron 3" in msg and "core 1, neuron 1" in msg
    assert "needs 3" in msg and "[0, 2, 3]" in msg and "F = 2" in msg


def test_axons_exhausted_names_the_core():
    g = Geometry(levels=(2,), neurons=4, axons=2, fanout=2, count_bits=2, lanes=1)
    w = np.zeros((8, 8), dtype=int)
    w[[0, 1, 3], 6] = 1  # three sources on core 0 -> core 1
    with pytest.raises(NetworkError) as e:
        map_graph(g, w)
    msg = str(e.value)
    assert "axons exhausted" in msg and "core 1" in msg and "needs 3 axons" in msg
    assert "A = 2" in msg
    w[3, 6] = 0
    map_graph(g, w)  # two fit


def test_weight_beyond_count_bits_names_the_edge():
    w = np.zeros((8, 8), dtype=int)
    w[2, 5] = -8  # k = 3: |w| <= 7
    with pytest.raises(NetworkError) as e:
        map_graph(G2, w)
    msg = str(e.value)
    assert "2->5" in msg and "-8" in msg and "7" in msg and "count_bits = 3" in msg
    # small_world does not clip a max_weight beyond count_bits: map_graph reports it.
    w = small_world(G22, seed=0, degree=4, p_rewire=0.0, max_weight=9)
    with pytest.raises(NetworkError, match=r"edge \d+->\d+ does not fit count_bits"):
        map_graph(G22, w)


def test_too_many_neurons():
    with pytest.raises(NetworkError, match=r"9 global neurons do not fit 2 cores x 4 neurons = 8"):
        map_graph(G2, np.zeros((9, 9), dtype=int))


def test_placement_errors():
    w = np.zeros((3, 3), dtype=int)
    with pytest.raises(NetworkError) as e:
        map_graph(G2, w, placement=[(0, 1), (1, 2), (0, 1)])
    msg = str(e.value)
    assert "collision" in msg and "global neurons 0 and 2" in msg and "core 0 neuron 1" in msg
    with pytest.raises(NetworkError, match=r"placement\[1\].*core out of range 0\.\.1"):
        map_graph(G2, w, placement=[(0, 1), (2, 0), (0, 2)])
    with pytest.raises(NetworkError, match=r"placement\[2\].*neuron out of range 0\.\.3"):
        map_graph(G2, w, placement=[(0, 1), (1, 0), (0, 4)])
    with pytest.raises(NetworkError, match=r"placement: shape \(2, 2\), expected \(3, 2\)"):
        map_graph(G2, w, placement=[(0, 1), (1, 0)])


def test_shape_and_params_errors():
    with pytest.raises(NetworkError, match="square"):
        map_graph(G2, np.zeros((3, 4), dtype=int))
    with pytest.raises(NetworkError, match="not an integer"):
        map_graph(G2, np.full((2, 2), 0.5))
    w = np.zeros((3, 3), dtype=int)
    with pytest.raises(NetworkError, match="unknown field 'thresh'"):
        map_graph(G2, w, params={"thresh": [1, 1, 1]})
    with pytest.raises(NetworkError, match=r"params.leak: shape \(2,\), expected \(3,\)"):
        map_graph(G2, w, params={"leak": [1, 1]})
    with pytest.raises(NetworkError, match=r"params.model of global neuron 1 .* = 2"):
        map_graph(G2, w, params={"model": [0, 2, 1]})


def test_map_graph_result_is_validated():
    w = small_world(G22, seed=3, degree=4, p_rewire=0.05)
    net = map_graph(G22, w, params={"threshold": np.full(32, 3)})
    assert net.validate() is net
    assert net.count.shape == (4, 16, 8) and net.route_core.shape == (4, 8, 4)


# -- the generator ----------------------------------------------------------------------


def test_small_world_is_deterministic():
    a = small_world(G22, seed=42)
    b = small_world(G22, seed=42)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, small_world(G22, seed=43))
    assert a.shape == (32, 32) and a.dtype == np.int64


def test_small_world_without_rewiring_stays_local():
    g = G22
    for degree in (0, 3, 8):
        w = small_world(g, seed=1, degree=degree, p_rewire=0.0)
        core = np.arange(32) // g.neurons
        src, dst = np.nonzero(w)
        assert np.all(core[src] == core[dst])
        assert np.all((w != 0).sum(axis=1) == degree)
        net = map_graph(g, w)
        assert not net.route_valid.any() and not net.count[:, g.neurons :].any()
        assert np.array_equal(effective_weights(net), w)
    # degree = N - 1: the whole core but oneself; degree = N: oneself too.
    assert not np.diagonal(small_world(g, seed=0, degree=7, p_rewire=0.0)).any()
    assert np.all(np.diagonal(small_world(g, seed=0, degree=8, p_rewire=0.0)) != 0)


def test_small_world_lattice_order():
    w = small_world(G22, seed=0, degree=3, p_rewire=0.0)
    # Neuron 0 of core 1 (global 8): ring neighbours +1, -1, +2 within core 1.
    assert np.flatnonzero(w[8]).tolist() == [9, 10, 15]


def test_small_world_full_rewiring_leaves_every_core():
    g = G22
    w = small_world(g, seed=5, degree=6, p_rewire=1.0)
    core = np.arange(32) // g.neurons
    src, dst = np.nonzero(w)
    assert np.all(core[src] != core[dst])
    assert np.all((w != 0).sum(axis=1) == 6)  # distinct targets: nothing collapsed


def test_small_world_weights():
    w = small_world(G22, seed=7, degree=8, p_rewire=0.2, p_inhibitory=0.3)
    nz = w[w != 0]
    assert nz.size == 32 * 8
    assert np.abs(nz).min() >= 1 and np.abs(nz).max() == 7  # default 2**k - 1
    assert 0.15 < np.mean(nz < 0) < 0.45
    assert set(np.abs(nz).tolist()) == set(range(1, 8))
    w = small_world(G22, seed=7, degree=4, p_inhibitory=0.0, max_weight=2)
    assert set(w[w != 0].tolist()) == {1, 2}
    w = small_world(G22, seed=7, degree=4, p_inhibitory=1.0)
    assert np.all(w <= 0)


def test_small_world_single_core_and_bad_arguments():
    g = Geometry(levels=(1,), neurons=8, axons=8, fanout=4, count_bits=3, lanes=2)
    w = small_world(g, seed=0, degree=4, p_rewire=0.5)  # no other core: all local
    assert np.all((w != 0).sum(axis=1) == 4)
    assert not map_graph(g, w).route_valid.any()
    for kwargs, what in (
        ({"degree": 9}, "degree"),
        ({"degree": -1}, "degree"),
        ({"p_rewire": 1.5}, "p_rewire"),
        ({"p_inhibitory": -0.1}, "p_inhibitory"),
        ({"max_weight": 0}, "max_weight"),
    ):
        with pytest.raises(ValueError, match=re.escape(what)):
            small_world(G22, seed=0, **kwargs)
