"""Multi-core golden model: routing, tick timing, counters, equivalence."""

import numpy as np
import pytest

from spikeloom.defs import Geometry
from spikeloom.network import Network
from spikeloom.sim.core import CoreModel
from spikeloom.sim.neuron import STATE_FIELDS
from spikeloom.sim.top import ChipModel, lca_level
from spikeloom.testing.stimulus import MODEL_KINDS, random_core, random_host_inputs, random_network

G22 = Geometry(levels=(2, 2), neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8)


def relay_network(g=G22):
    """Every neuron fires on any input (threshold 1, LIF, no leak)."""
    net = Network.empty(g)
    net.params["threshold"][:] = 1
    net.params["output"][:] = 1
    return net


def test_lca_levels_by_hand():
    # (2, 2): cores 0,1 share a level-0 bus; 0 and 2 meet only at the root.
    assert lca_level(G22, [0, 0, 0, 1, 2], [0, 1, 2, 3, 3]).tolist() == [0, 0, 1, 1, 0]


def test_route_arrives_next_tick_and_counts_segments():
    net = relay_network()
    # core 0 neuron 1 -> core 3 axon 2 -> core 3 neuron 0 (weight +1)
    net.route_valid[0, 1, 0] = 1
    net.route_core[0, 1, 0] = 3
    net.route_axon[0, 1, 0] = 2
    net.count[3, G22.neurons + 2, 0] = 1
    # axon 0 of core 0 drives its neuron 1
    net.count[0, G22.neurons + 0, 1] = 1
    chip = ChipModel(net)
    spikes, events = chip.tick([(0, 0)])
    assert events == [(0, 0, 1)]  # tick 0: core 0 neuron 1 fires
    assert chip.counters["routed"] == 1
    assert chip.counters["host_events"] == 1 and chip.counters["output_events"] == 1
    assert chip.counters["delivered"] == 2  # the host event and the routed one
    # host event: 1 per level; output event: 1 per level; routed 0 -> 3
    # crosses two level-0 segments and the root: [2, 1].
    assert chip.counters["carried"].tolist() == [1 + 1 + 2, 1 + 1 + 1]
    spikes, events = chip.tick()
    assert events == [(1, 3, 0)]  # delivered at t + 1, not at t
    spikes, events = chip.tick()
    assert events == []


def test_converging_routes_activate_an_axon_once():
    net = relay_network()
    for src in (0, 1):  # neurons 0 and 1 of core 0 -> core 1 axon 3
        net.route_valid[0, src, 0] = 1
        net.route_core[0, src, 0] = 1
        net.route_axon[0, src, 0] = 3
    net.count[0, G22.neurons + 0, [0, 1]] = 1
    net.count[1, G22.neurons + 3, 2] = 1
    net.params["threshold"][1, 2] = 2  # needs 2: would fire only if counted twice
    chip = ChipModel(net)
    chip.tick([(0, 0)])
    assert chip.counters["routed"] == 2
    spikes, _ = chip.tick()
    assert not spikes[1, 2]
    assert chip.state["v"][1, 2] == 1


def test_host_event_out_of_range():
    chip = ChipModel(relay_network())
    with pytest.raises(ValueError, match="out of range"):
        chip.tick([(4, 0)])


def test_one_core_matches_core_model():
    g = Geometry(neurons=16, axons=16, lanes=4, count_bits=3, potential_bits=9, timer_bits=4)
    for seed in range(20):
        core = random_core(g, seed)
        net = Network.empty(g)
        net.count[0], net.sign[0] = core.count, core.sign
        for k, v in core.params.items():
            net.params[k][0] = v
        chip = ChipModel(net)
        for f in STATE_FIELDS:
            chip.state[f][0] = core.state[f]
        rng = np.random.default_rng(seed)
        for t in range(50):
            axons = rng.integers(0, g.axons, rng.integers(0, 6)).tolist()
            s_core, _ = core.tick(axons)
            s_chip, _ = chip.tick([(0, a) for a in axons])
            assert (s_core == s_chip[0]).all(), (seed, t)
            for f in STATE_FIELDS:
                assert (core.state[f] == chip.state[f][0]).all(), (seed, t, f)


def test_routing_matches_per_core_reference():
    """An independent reference: one CoreModel per core, routes by loops."""
    g = Geometry(levels=(2, 2), neurons=8, axons=8, lanes=2, count_bits=3, potential_bits=9)
    for seed in range(10):
        rng = np.random.default_rng(seed)
        cores = [random_core(g, 100 * seed + c) for c in range(g.cores)]
        net = Network.empty(g)
        for c, core in enumerate(cores):
            net.count[c], net.sign[c] = core.count, core.sign
            for k, v in core.params.items():
                net.params[k][c] = v
        net.route_valid[:] = rng.random(net.route_valid.shape) < 0.4
        net.route_core[:] = rng.integers(0, g.cores, net.route_core.shape)
        net.route_axon[:] = rng.integers(0, g.axons, net.route_axon.shape)
        chip = ChipModel(net)
        for f in STATE_FIELDS:
            for c, core in enumerate(cores):
                chip.state[f][c] = core.state[f]
        routed = [[] for _ in cores]
        for t in range(40):
            host = [
                (int(c), int(a)) for c, a in rng.integers(0, 8, (rng.integers(0, 6), 2)) % [4, 8]
            ]
            inbox = [list(r) for r in routed]
            for c, a in host:
                inbox[c].append(a)
            routed = [[] for _ in cores]
            for c, core in enumerate(cores):
                spikes, _ = core.tick(inbox[c])
                for n in np.flatnonzero(spikes):
                    for f in range(g.fanout):
                        if net.route_valid[c, n, f]:
                            routed[net.route_core[c, n, f]].append(net.route_axon[c, n, f])
            s_chip, _ = chip.tick(host)
            for c, core in enumerate(cores):
                assert (core.last_spikes == s_chip[c]).all(), (seed, t, c)
                assert (core.state["v"] == chip.state["v"][c]).all(), (seed, t, c)


def test_mapped_small_world_equals_one_big_core():
    """A mapped network must behave like its graph on one large core.

    Local and routed synapses both act one tick after the spike, and the
    mapper gives every (source, destination core) pair its own axon, so the
    chip is equivalent to one core whose recurrent rows are the graph.
    """
    from spikeloom.host.mapper import map_graph, small_world

    g = Geometry(levels=(2, 2), neurons=8, axons=8, lanes=2, count_bits=3, fanout=4)
    m = g.cores * g.neurons
    big = Geometry(neurons=m, axons=2, lanes=2, count_bits=3, potential_bits=g.potential_bits)
    routed = checked = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        weights = small_world(g, seed=seed, degree=3, p_rewire=0.05)
        params = {
            "model": rng.integers(0, 2, m),
            "threshold": rng.integers(1, 6, m),
            "leak": rng.integers(0, 2, m),
            "refractory": rng.integers(0, 3, m),
            "window": rng.integers(1, 6, m),
            "direct": rng.integers(0, 2, m),
            "output": np.ones(m, dtype=np.int64),
        }
        params["model"][:4] = 0
        params["threshold"][:4] = 0  # pacemakers: fire whenever not refractory
        params["refractory"][:4] = 3
        try:
            net = map_graph(g, weights, params=params)
        except ValueError:
            continue  # this draw does not fit (the mapper's own tests cover that)
        chip = ChipModel(net)
        ref = CoreModel(big)
        count = np.zeros((big.rows, m), dtype=np.int64)
        count[:m] = np.abs(weights)
        ref.set_crossbar(count, np.vstack([weights < 0, np.zeros((2, m), bool)]))
        ref.set_params(**params)
        fired = 0
        for t in range(60):
            s_chip, _ = chip.tick()
            s_ref, _ = ref.tick()
            assert (s_chip.reshape(-1) == s_ref).all(), (seed, t)
            assert (chip.state["v"].reshape(-1) == ref.state["v"]).all(), (seed, t)
            fired += int(s_ref.sum())
        assert fired > 60  # the network did something
        routed += chip.counters["routed"]
        checked += 1
    assert checked >= 4 and routed > 0  # and spikes did cross between cores


# -- neuron models, missing cores and axons (docs/semantics.md §5) ----------


@pytest.mark.parametrize("levels", [(1,), (2,), (4,)])
def test_all_counter_chip_routes_only_spikes(levels):
    """An all-COUNTER chip: spikes are bool, and only real spikes route.

    Neuron 1 of core 0 fires at tick 0 (input 1 + direct = 2 >= 2) and routes
    to axon 2 of the last core, whose neuron 0 (weight 3) fires at tick 1.
    Nothing else has input, so nothing else may happen (a spike vector of
    integers once indexed the routing table and woke other axons)."""
    g = Geometry(levels=levels, neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8)
    last = g.cores - 1
    net = Network.empty(g)
    net.params["model"][:] = 1
    net.params["threshold"][:] = 2
    net.params["window"][:] = 3
    net.params["direct"][:] = 1
    net.params["output"][:] = 1
    net.count[0, g.neurons + 0, 1] = 1
    net.route_valid[0, 1, 0] = 1
    net.route_core[0, 1, 0] = last
    net.route_axon[0, 1, 0] = 2
    net.count[last, g.neurons + 2, 0] = 3
    # Valid entries of neurons that never fire: they must send nothing.
    net.route_valid[:, 2:, :] = 1
    net.route_axon[:, 2:, :] = 3
    net.count[:, g.neurons + 3, :] = 3
    chip = ChipModel(net)
    spikes, events = chip.tick([(0, 0)])
    assert spikes.dtype == bool
    assert events == [(0, 0, 1)] and chip.counters["routed"] == 1
    spikes, events = chip.tick()
    assert spikes.dtype == bool and events == [(1, last, 0)]
    for t in range(2, 8):
        spikes, events = chip.tick()
        assert not spikes.any() and events == [], t
    assert chip.counters["routed"] == 1 and chip.counters["delivered"] == 2
    assert not chip.pending.any()


def test_host_event_for_missing_core_is_dropped_and_counted():
    # 3 cores: core field 2 bits, core 3 does not exist. 1 core: field 1 bit.
    for levels, missing in (((3,), 3), ((1,), 1)):
        g = Geometry(levels=levels, neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8)
        net = relay_network(g)
        net.count[:, g.neurons + 1, 0] = 1
        chip = ChipModel(net)
        spikes, _ = chip.tick([(missing, 1), (0, 1), (missing, 0)])
        assert spikes[0, 0] and spikes.sum() == 1
        c = chip.counters
        assert c["host_dropped"] == 2
        # Only the event taken counts as a host event, is delivered and carried.
        assert c["host_events"] == 1 and c["delivered"] == 1
        assert c["carried"].tolist() == [1 + 1] * len(levels)  # host + output event
        with pytest.raises(ValueError, match="out of range"):
            chip.tick([(1 << g.core_bits, 0)])  # the core field cannot hold it


def test_route_to_missing_core_is_ignored_with_one_core():
    """cores = 1: the core field is 1 bit, so an entry can name core 1."""
    g = Geometry(levels=(1,), neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8)
    net = relay_network(g)
    net.count[0, g.neurons, 0] = 1
    net.count[0, g.neurons + 1, 2] = 1
    chip = ChipModel(net)
    # As the link writes it (validate() would refuse it): entry 0 to core 1.
    net.route_valid[0, 0, :2] = 1
    net.route_core[0, 0, :2] = [1, 0]
    net.route_axon[0, 0, :2] = [1, 1]
    chip.reload()
    chip.tick([(0, 0)])
    assert chip.counters["routed"] == 1  # entry 1 only
    spikes, _ = chip.tick()
    assert spikes[0].tolist() == [False, False, True, False]


def test_route_to_axon_one_with_one_axon_reaches_axon_zero():
    """axons = 1: the axon field is 1 bit; the core takes its low 0 bits."""
    g = Geometry(levels=(2,), neurons=4, axons=1, lanes=2, count_bits=2, potential_bits=8)
    net = relay_network(g)
    net.count[0, g.neurons, 0] = 1  # axon 0 of core 0 -> neuron 0
    net.count[1, g.neurons, 3] = 1  # axon 0 of core 1 -> neuron 3
    chip = ChipModel(net)
    net.route_valid[0, 0, 0] = 1
    net.route_core[0, 0, 0] = 1
    net.route_axon[0, 0, 0] = 1
    chip.reload()
    spikes, _ = chip.tick([(0, 1)])  # a host event names axon 1 too
    assert spikes[0, 0] and chip.counters["host_events"] == 1
    spikes, _ = chip.tick()
    assert spikes[1].tolist() == [False, False, False, True]
    assert chip.counters["delivered"] == 2


def test_core_model_is_a_view_of_the_chip_engine():
    """CoreModel and ChipModel run the same engine (sim.core.CoreStack)."""
    from spikeloom.sim.core import CoreStack

    g = Geometry(neurons=8, axons=8, lanes=2, count_bits=2, potential_bits=8)
    core = random_core(g, 2)
    assert isinstance(core.stack, CoreStack)
    assert isinstance(ChipModel(relay_network()).cores, CoreStack)
    core.state["v"][3] = 5
    core.params["threshold"] = 7
    assert core.stack.state["v"][0, 3] == 5
    assert (core.stack.params["threshold"][0] == 7).all()


def test_random_networks_fit_small_potentials_and_vary_models():
    """P = 5 with k = 4 (thresholds clipped to 15 < 4 * max_count): every
    seed gives a valid network; the seeds cycle all-LIF, all-COUNTER, mixed
    chips and chips of cores of different kinds, and they all run."""
    g = Geometry(levels=(2, 2), neurons=8, axons=8, lanes=2, count_bits=4, potential_bits=5)
    seen = set()
    for seed in range(20):
        net = random_network(g, seed)  # validates
        m = net.params["model"]
        kind = MODEL_KINDS[seed % len(MODEL_KINDS)]
        per_core = {"L" if not r.any() else "C" if r.all() else "M" for r in m}
        if kind in ("lif", "counter"):
            assert per_core == {kind[0].upper()}, (seed, kind)
        seen |= per_core
        chip = ChipModel(net)
        for ev in random_host_inputs(g, seed, 20):
            spikes, _ = chip.tick(ev)
            assert spikes.dtype == bool
    assert seen == {"L", "C", "M"}


# -- the same edge cases on the RTL (Amaranth's simulator) -----------------


def _rtl_run(g, net, host, ticks):
    """``net`` loaded into ``hdl.top.Chip`` through its configuration port;
    ``host[t]`` injected before tick t. Per tick the sorted (core, neuron)
    output events, then the counters."""
    from amaranth.sim import Simulator

    from spikeloom.defs import Region
    from spikeloom.hdl.top import COUNTERS
    from spikeloom.testing.fabric import send, write
    from spikeloom.testing.harness import CountedChip

    dut = CountedChip(g)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    out = {}

    async def tb(ctx):
        ctx.set(dut.out.ready, 1)
        for c in range(g.cores):
            for region in Region:
                for i, word in enumerate(net.region_words(c, region)):
                    if word:
                        await write(ctx, dut, c, region, i, word)
        events = []
        for t in range(ticks):
            for core, axon in host[t] if t < len(host) else ():
                await send(ctx, dut, core, axon)
            ctx.set(dut.tick_start, 1)
            await ctx.tick()
            ctx.set(dut.tick_start, 0)
            got = []
            while True:
                if ctx.get(dut.out.valid):
                    got.append((ctx.get(dut.out.payload.core), ctx.get(dut.out.payload.neuron)))
                if not ctx.get(dut.busy):
                    break
                await ctx.tick()
            events.append(sorted(got))
        out["events"] = events
        out["counters"] = {n: ctx.get(getattr(dut, n)) for n in COUNTERS}
        out["carried"] = [ctx.get(dut.carried[i]) for i in range(len(g.levels))]

    sim.add_testbench(tb)
    sim.run()
    return out


def test_rtl_and_model_agree_on_missing_cores_and_one_axon():
    """cores = 1 (a route and a host event name core 1) and A = 1 (a route
    and a host event name axon 1), on the RTL and on the golden model."""
    cases = []
    # One core: n0 routes to core 1 (ignored) and to its own axon 1 (-> n2).
    g1 = Geometry(levels=(1,), neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8)
    net = relay_network(g1)
    net.count[0, g1.neurons + 0, 0] = 1
    net.count[0, g1.neurons + 1, 2] = 1
    cases.append((g1, net, [(1, 1), (0, 0)], {(0, 0, 0): (1, 1), (0, 0, 1): (0, 1)}, (0, 2)))
    # A = 1: axon 1 is axon 0; core 0 n0 routes to core 1 axon 1 (-> n3).
    ga = Geometry(levels=(2,), neurons=4, axons=1, lanes=2, count_bits=2, potential_bits=8)
    net = relay_network(ga)
    net.count[0, ga.neurons, 0] = 1
    net.count[1, ga.neurons, 3] = 1
    cases.append((ga, net, [(0, 1)], {(0, 0, 0): (1, 1)}, (1, 3)))
    for g, net, host, routes, reached in cases:
        chip = ChipModel(net.validate())
        # The out-of-range fields, written as the link would (validate() refuses them).
        for (c, n, f), (core, axon) in routes.items():
            net.route_valid[c, n, f] = 1
            net.route_core[c, n, f] = core
            net.route_axon[c, n, f] = axon
        chip.reload()
        model = [[(c, n) for _, c, n in chip.tick(host if t == 0 else ())[1]] for t in range(3)]
        assert model == [[(0, 0)], [reached], []], (g, model)
        assert chip.counters["host_dropped"] == (1 if g is g1 else 0)
        rtl = _rtl_run(g, net, [host], 3)
        assert rtl["events"] == model, (g, rtl["events"], model)
        counters = {k: v for k, v in chip.counters.items() if k != "carried"}
        assert rtl["counters"] == counters, (g, rtl["counters"], counters)
        assert rtl["carried"] == chip.counters["carried"].tolist()
