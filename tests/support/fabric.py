"""Small fabric cases in Amaranth's simulator: what random networks rarely hit.

The checks (``CHECKS``) are run by ``tests/test_fabric_units.py`` and, against
each mutant, by the mutation gate (``tests/test_mutation.py``).

A chip of three cores (not a power of two, so ``core_bits`` can name a core
that does not exist): host events for a missing core are dropped and
counted, routing entries naming it are ignored, and the configuration port
reads back what was written in every region. The counters of
docs/semantics.md §5 in their corner cases (the chip's counts per clock,
summed by ``spikeloom.testing.harness.CountedChip``): each compared on every
clock with the handshakes the testbench sees (``host_dropped`` across a
tick-start pulse, events refused while a start is pending), at their
32-bit wrap, and cleared in the middle of a tick. ``last_tick_cycles`` is
compared with the clocks counted from the start pulse. A bus segment
(``hdl/router.py``) on random traffic and random output room: ``carried``
and ``stalled`` on every clock against its handshakes, and every packet at
its output, in order; a packet held behind a full output stalls exactly
the clocks it waits. Where the system keeps those counters, the UART
block's register file (``hdl/uart_regs.py``): every read exact under
counts at their most per clock, reads, clears and wraps. Every wait is
bounded: a deadlock fails, never hangs.
"""

import random

from amaranth.sim import Simulator

from spikeloom.defs import Geometry, Region, pack
from spikeloom.hdl import router, top

from .harness import CountedChip

G3 = Geometry(levels=(3,), neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8, fanout=2)
G22 = Geometry(levels=(2, 2), neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8, fanout=2)
#: Clocks any wait of these small cases may take (a watchdog, not a timing spec).
BOUND = 400
MASK = (1 << 32) - 1


async def write(ctx, dut, core, region, index, word):
    ctx.set(dut.cfg_core, core)
    ctx.set(dut.cfg_region, int(region))
    ctx.set(dut.cfg_addr, index)
    ctx.set(dut.cfg_wdata, word)
    ctx.set(dut.cfg_we, 1)
    await ctx.tick()
    ctx.set(dut.cfg_we, 0)


async def read(ctx, dut, core, region, index):
    ctx.set(dut.cfg_core, core)
    ctx.set(dut.cfg_region, int(region))
    ctx.set(dut.cfg_addr, index)
    ctx.set(dut.cfg_re, 1)
    await ctx.tick()
    ctx.set(dut.cfg_re, 0)
    for _ in range(8):
        if ctx.get(dut.cfg_rvalid):
            return ctx.get(dut.cfg_rdata)
        await ctx.tick()
    raise AssertionError("no cfg_rvalid within 8 clocks of cfg_re")


def counters(ctx, dut):
    """Every chip counter by name (per-level ones as lists)."""
    got = {name: ctx.get(getattr(dut, name)) for name in top.COUNTERS}
    for name in ("carried", "stalled"):
        got[name] = [ctx.get(x) for x in getattr(dut, name)]
    return got


async def send(ctx, dut, core, axon):
    ctx.set(dut.host_in.payload, {"core": core, "axon": axon})
    ctx.set(dut.host_in.valid, 1)
    for _ in range(BOUND):
        if ctx.get(dut.host_in.ready):
            await ctx.tick()
            ctx.set(dut.host_in.valid, 0)
            return
        await ctx.tick()
    raise AssertionError(f"watchdog: host event not taken in {BOUND} clocks: {counters(ctx, dut)}")


async def run_tick(ctx, dut):
    """One tick; returns the clocks from the edge that takes the pulse until ``busy`` is low."""
    ctx.set(dut.tick_start, 1)
    await ctx.tick()
    ctx.set(dut.tick_start, 0)
    return await until_idle(ctx, dut)


async def until_idle(ctx, dut):
    """Clocks until ``busy`` is low (bounded: a deadlock fails)."""
    for clocks in range(BOUND):
        if not ctx.get(dut.busy):
            return clocks
        await ctx.tick()
    raise AssertionError(f"watchdog: busy for {BOUND} clocks: {counters(ctx, dut)}")


def simulate(testbench, geometry=G3):
    dut = CountedChip(geometry)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        await testbench(ctx, dut)

    sim.add_testbench(bench)
    sim.run()


def check_missing_core_events_are_dropped_and_counted():
    g = G3
    entry = g.route_layout

    async def tb(ctx, dut):
        ctx.set(dut.out.ready, 1)
        # Core 0: axon 1 drives neuron 2 (threshold 1, output on); neuron 2
        # routes entry 0 to core 3 (does not exist), entry 1 to core 2 axon 3.
        await write(ctx, dut, 0, Region.CROSSBAR, (g.neurons + 1) * g.neurons + 2, 1)
        params = pack(g.params_layout, threshold=1, output=1)
        await write(ctx, dut, 0, Region.PARAMS, 2, params)
        await write(ctx, dut, 0, Region.ROUTES, 2 * g.fanout + 0, pack(entry, valid=1, core=3))
        await write(ctx, dut, 0, Region.ROUTES, 2 * g.fanout + 1,
                    pack(entry, valid=1, core=2, axon=3))  # fmt: skip
        assert await read(ctx, dut, 0, Region.ROUTES, 2 * g.fanout + 1) == pack(
            entry, valid=1, core=2, axon=3
        )
        assert await read(ctx, dut, 0, Region.PARAMS, 2) == params
        await send(ctx, dut, 3, 0)  # no such core
        await send(ctx, dut, 0, 1)
        await ctx.tick().repeat(4)  # delivered: the tick starts on its pulse
        clocks = await run_tick(ctx, dut)
        assert ctx.get(dut.last_tick_cycles) == clocks
        assert ctx.get(dut.host_dropped) == 1
        assert ctx.get(dut.host_events) == 1
        assert ctx.get(dut.routed) == 1  # only the entry to core 2
        assert ctx.get(dut.delivered) == 2
        assert ctx.get(dut.output_events) == 1
        assert ctx.get(dut.carried[0]) == 3  # host in, routed event, output out
        assert ctx.get(dut.tick) == 1

    simulate(tb)


def check_tick_start_waits_for_events_in_flight():
    async def tb(ctx, dut):
        # A start pulse on the clock after a host event: the event is still
        # on the bus, so the tick must wait for it (busy high meanwhile).
        await send(ctx, dut, 2, 1)
        ctx.set(dut.tick_start, 1)
        await ctx.tick()
        ctx.set(dut.tick_start, 0)
        assert ctx.get(dut.busy)
        await until_idle(ctx, dut)
        assert ctx.get(dut.delivered) == 1 and ctx.get(dut.tick) == 1

    simulate(tb)


def check_tick_start_during_a_tick_runs_the_next_one_after_it():
    g = G3

    async def tb(ctx, dut):
        ctx.set(dut.out.ready, 1)
        # Neuron 0 of core 1 fires on every tick it gets axon 0; it routes
        # to core 1 axon 0 itself, so it keeps firing once started.
        await write(ctx, dut, 1, Region.CROSSBAR, g.neurons * g.neurons + 0, 1)
        await write(ctx, dut, 1, Region.PARAMS, 0, pack(g.params_layout, threshold=1, output=1))
        await write(ctx, dut, 1, Region.ROUTES, 0, pack(g.route_layout, valid=1, core=1, axon=0))
        await send(ctx, dut, 1, 0)
        ctx.set(dut.tick_start, 1)
        await ctx.tick()
        ctx.set(dut.tick_start, 0)
        await ctx.tick().repeat(4)  # the host event is in, tick 0 runs
        assert ctx.get(dut.busy) and ctx.get(dut.delivered) == 1
        ctx.set(dut.tick_start, 1)  # the second pulse arrives while tick 0 runs
        await ctx.tick()
        ctx.set(dut.tick_start, 0)
        # The host cannot slip an event into tick 1's start: refused until then.
        assert not ctx.get(dut.host_in.ready)
        await until_idle(ctx, dut)
        assert ctx.get(dut.tick) == 2
        assert ctx.get(dut.output_events) == 2  # fired at tick 0 and, routed, at tick 1
        assert ctx.get(dut.routed) == 2

    simulate(tb)


# -- counters against the handshakes, on every clock -------------------------


class Observer:
    """Counts the chip's port handshakes, clock by clock, and checks the counters.

    ``step`` samples the ports (settled, before the edge), lets one clock
    pass and asserts that ``host_events``, ``host_dropped`` and
    ``output_events`` equal the handshakes seen since reset (mod 2^32,
    from ``base``). ``pending`` is True while a start pulse was given and
    host events are still on the bus (the tick cannot have started): the
    host input must be closed then.
    """

    def __init__(self, g, base=0):
        self.g = g
        self.host = self.dropped = self.out = base
        self.pending = False

    async def step(self, ctx, dut):
        g = self.g
        if ctx.get(dut.tick_start):
            self.pending = True  # closed from the pulse on
        in_flight = ctx.get(dut.delivered) != ctx.get(dut.host_events) + ctx.get(dut.routed)
        taken = ctx.get(dut.host_in.valid) and ctx.get(dut.host_in.ready)
        if self.pending and ctx.get(dut.host_in.valid):
            assert not taken, "host event taken between a start pulse and the tick's start"
        if not in_flight:
            self.pending = False  # quiet: a pending start starts on this edge
        missing = ctx.get(dut.host_in.payload.core) >= g.cores
        # The counters run COUNTER_LAG (one) clock behind: after this edge
        # they hold the handshakes of the clocks before this one.
        want = [self.host & MASK, self.dropped & MASK, self.out & MASK]
        self.host += taken and not missing
        self.dropped += taken and missing
        self.out += ctx.get(dut.out.valid) and ctx.get(dut.out.ready)
        await ctx.tick()
        got = [ctx.get(dut.host_events), ctx.get(dut.host_dropped), ctx.get(dut.output_events)]
        assert got == want, f"(host_events, host_dropped, output_events) {got}, handshakes {want}"

    async def send(self, ctx, dut, core, axon, start=False):
        """Offer one host event (with a start pulse on its first clock if ``start``)."""
        ctx.set(dut.host_in.payload, {"core": core, "axon": axon})
        ctx.set(dut.host_in.valid, 1)
        ctx.set(dut.tick_start, int(start))
        for _ in range(BOUND):
            taken = ctx.get(dut.host_in.ready)
            await self.step(ctx, dut)
            ctx.set(dut.tick_start, 0)
            if taken:
                ctx.set(dut.host_in.valid, 0)
                return
        raise AssertionError(f"watchdog: host event not taken: {counters(ctx, dut)}")

    async def until_idle(self, ctx, dut):
        for clocks in range(1, BOUND):
            await self.step(ctx, dut)
            if not ctx.get(dut.busy):
                return clocks
        raise AssertionError(f"watchdog: tick not over in {BOUND} clocks: {counters(ctx, dut)}")


async def load_ring(ctx, dut, g):
    """Every neuron of every core fires on axon 0 (an output event) and sends
    events to axons 0 and 1 of the next core: a ring that never stops."""
    for c in range(g.cores):
        nxt = (c + 1) % g.cores
        for n in range(g.neurons):
            await write(ctx, dut, c, Region.CROSSBAR, g.neurons * g.neurons + n, 1)
            await write(ctx, dut, c, Region.PARAMS, n, pack(g.params_layout, threshold=1, output=1))
            for f in range(g.fanout):
                entry = pack(g.route_layout, valid=1, core=nxt, axon=f)
                await write(ctx, dut, c, Region.ROUTES, n * g.fanout + f, entry)


def check_host_dropped_and_host_events_across_a_tick_start_pulse():
    async def tb(ctx, dut):
        obs = Observer(G3)
        ctx.set(dut.out.ready, 1)
        # A missing core's event offered on the clock of the start pulse:
        # refused until the tick starts, then dropped and counted once.
        await obs.send(ctx, dut, 3, 0, start=True)
        assert obs.dropped == 1
        await obs.until_idle(ctx, dut)
        # An event in flight, then the pulse with a missing core's event
        # held across it, then one for an existing core held across the
        # pending start.
        await obs.send(ctx, dut, 2, 1)
        await obs.send(ctx, dut, 3, 1, start=True)
        await obs.send(ctx, dut, 1, 2)
        await obs.until_idle(ctx, dut)
        assert (obs.host, obs.dropped) == (2, 2) and ctx.get(dut.delivered) == 2

    simulate(tb)


def check_events_refused_while_a_start_is_pending():
    g = G3

    async def tb(ctx, dut):
        obs = Observer(g)
        ctx.set(dut.out.ready, 1)
        # Four events for core 2 on the bus, then a pulse: the start waits
        # for them, and an event held meanwhile is refused (Observer).
        for axon in range(4):
            await obs.send(ctx, dut, 2, axon)
        ctx.set(dut.tick_start, 1)
        await obs.step(ctx, dut)
        ctx.set(dut.tick_start, 0)
        assert ctx.get(dut.busy) and obs.pending
        await obs.send(ctx, dut, 0, 3)
        await obs.until_idle(ctx, dut)
        assert ctx.get(dut.tick) == 1 and ctx.get(dut.delivered) == 5

    simulate(tb)


def check_counters_wrap_at_32_bits():
    g = G3
    entry = g.route_layout

    async def tb(ctx, dut):
        for name in top.COUNTERS:
            ctx.set(getattr(dut, name), MASK)
        for name in ("carried", "stalled"):
            for x in getattr(dut, name):
                ctx.set(x, MASK)
        obs = Observer(g, base=MASK)
        ctx.set(dut.out.ready, 0)  # three output events wait: the root stalls
        for n in (1, 2, 3):
            await write(ctx, dut, 0, Region.CROSSBAR, (g.neurons + 1) * g.neurons + n, 1)
            await write(ctx, dut, 0, Region.PARAMS, n, pack(g.params_layout, threshold=1, output=1))
        await write(ctx, dut, 0, Region.ROUTES, 2 * g.fanout + 1, pack(entry, valid=1, core=2))
        await obs.send(ctx, dut, 3, 0)
        await obs.send(ctx, dut, 0, 1)
        await ctx.tick().repeat(4)
        ctx.set(dut.tick_start, 1)
        await obs.step(ctx, dut)
        ctx.set(dut.tick_start, 0)
        for _ in range(30):
            await obs.step(ctx, dut)
        ctx.set(dut.out.ready, 1)
        await obs.until_idle(ctx, dut)
        got = counters(ctx, dut)
        # Each wraps: one routed, host and dropped event, two delivered,
        # three output events, five carried (host, routed, three outputs).
        want = {"routed": 0, "delivered": 1, "host_events": 0, "output_events": 2}
        want |= {"host_dropped": 0, "carried": [4]}
        assert {k: got[k] for k in want} == want, got
        assert 0 < got["stalled"][0] < 100, got  # it wrapped, then counted the wait

    simulate(tb)


def ring_run(clear_at=None, clocks=300):
    """Counters after every clock of three ring ticks (pulses at 0, 100, 200), output stalls."""
    g = G3
    trace = []

    async def tb(ctx, dut):
        await load_ring(ctx, dut, g)
        for c in range(g.cores):
            await send(ctx, dut, c, 0)
        rng = random.Random(5)
        for k in range(clocks):
            ctx.set(dut.tick_start, int(k in (0, 100, 200)))
            ctx.set(dut.clear_counters, int(k == clear_at))
            ctx.set(dut.out.ready, rng.random() < 0.3)
            await ctx.tick()
            trace.append(counters(ctx, dut))
        assert ctx.get(dut.tick) == 3 and not ctx.get(dut.busy)

    simulate(tb)
    return trace


def check_clear_counters_in_the_middle_of_a_tick():
    ref = ring_run()
    # The clock of the clear: half way through the second tick's routed events.
    half = (ref[100]["routed"] + ref[199]["routed"]) // 2
    c = next(k for k in range(100, 200) if ref[k]["routed"] >= half)
    assert ref[100]["routed"] < ref[c]["routed"] < ref[199]["routed"], "no tick around the clear"
    assert ref[199]["stalled"][0] > ref[c]["stalled"][0] > ref[100]["stalled"][0]
    cleared = ring_run(clear_at=c)
    # The clear, like every increment, takes effect COUNTER_LAG clocks later.
    d = c + top.COUNTER_LAG
    assert cleared[:d] == ref[:d]
    for k in range(d, len(ref)):
        want = {}
        for name, v in ref[k].items():
            if isinstance(v, list):
                want[name] = [(a - b) & MASK for a, b in zip(v, ref[d][name])]
            else:
                want[name] = (v - ref[d][name]) & MASK
        assert cleared[k] == want, f"clock {k} (cleared at {c}): {cleared[k]} != {want}"
    assert any(cleared[-1]["stalled"]) and cleared[-1]["output_events"] > 0


def check_last_tick_cycles_counts_from_the_start_pulse():
    g = G3

    async def tb(ctx, dut):
        obs = Observer(g)
        ctx.set(dut.out.ready, 1)
        await load_ring(ctx, dut, g)
        await obs.send(ctx, dut, 1, 0)
        await ctx.tick().repeat(4)  # delivered: quiet at the pulse
        for _ in range(3):
            ctx.set(dut.tick_start, 1)
            await obs.step(ctx, dut)
            ctx.set(dut.tick_start, 0)
            clocks = await obs.until_idle(ctx, dut)
            assert ctx.get(dut.last_tick_cycles) == clocks
            # The ring's routed event arrives while the tick runs: quiet now.
        assert ctx.get(dut.tick) == 3

    simulate(tb)


# -- one bus segment against its handshakes ----------------------------------


def segment_target(seg, p):
    """Where ``p`` (a dict) must go: a child's index, or ``branch`` (up / out)."""
    lo = seg.index * seg.span
    inside = seg.is_root or lo <= p["core"] < lo + seg.span
    if p["output"] or not inside:
        return seg.branch
    return (p["core"] - lo) // seg.child_span


def random_packet(g, rng, up):
    if up and rng.random() < 0.4:
        return {"output": 1, "core": rng.randrange(g.cores), "index": rng.randrange(g.neurons)}
    return {"output": 0, "core": rng.randrange(g.cores), "index": rng.randrange(g.axons)}


def simulate_segment(g, level, index, testbench):
    seg = router.Segment(g, level, index)
    sim = Simulator(seg)
    sim.add_clock(1e-6)

    async def bench(ctx):
        await testbench(ctx, seg)

    sim.add_testbench(bench)
    sim.run()


async def segment_clock(ctx, seg, ready, sent, got, totals):
    """One clock: outputs' ready set, handshakes observed, counts checked."""
    n = seg.branch + 1
    for o in range(n):
        ctx.set(seg.outputs[o].ready, ready[o])
    valid = [bool(ctx.get(seg.inputs[i].valid)) for i in range(n)]
    taken = [v and bool(ctx.get(seg.inputs[i].ready)) for i, v in enumerate(valid)]
    assert sum(taken) <= 1, f"a segment took {sum(taken)} packets in one clock"
    carried, stalled = any(taken), any(v and not t for v, t in zip(valid, taken))
    assert ctx.get(seg.carried) == carried, f"carried {ctx.get(seg.carried)}, handshakes {taken}"
    assert ctx.get(seg.stalled) == stalled, (
        f"stalled {ctx.get(seg.stalled)}, but inputs waiting {valid} and taken {taken}"
    )
    totals["carried"] += carried
    totals["stalled"] += stalled
    for i in range(n):
        if taken[i]:
            sent.append(ctx.get(seg.inputs[i].payload.as_value()))
    for o in range(n):
        if ready[o] and ctx.get(seg.outputs[o].valid):
            got[o].append(ctx.get(seg.outputs[o].payload.as_value()))
    await ctx.tick()
    return taken


def check_segment_random(g, level, index, seed, clocks=300):
    from spikeloom.defs import unpack

    rng = random.Random(seed)

    async def tb(ctx, seg):
        n = seg.branch + 1
        queues = [[] for _ in range(n)]
        for i in range(n):
            for _ in range(30):
                p = random_packet(g, rng, up=i < seg.branch)
                if i == seg.branch and not seg.is_root:
                    # From the parent: only packets for this block come down.
                    lo = seg.index * seg.span
                    p = {"output": 0, "core": lo + rng.randrange(seg.span), "index": 1}
                queues[i].append(pack(g.packet_layout, **p))
        sent, got, totals = [], [[] for _ in range(n)], {"carried": 0, "stalled": 0}
        room = [rng.choice([0.0, 0.3, 0.9, 1.0]) for _ in range(n)]
        for k in range(clocks):
            for i in range(n):
                ctx.set(seg.inputs[i].valid, bool(queues[i]))
                if queues[i]:
                    ctx.set(seg.inputs[i].payload.as_value(), queues[i][0])
            drain = k >= clocks - 80  # the last clocks: every output ready
            ready = [drain or rng.random() < room[o] for o in range(n)]
            taken = await segment_clock(ctx, seg, ready, sent, got, totals)
            for i in range(n):
                if taken[i]:
                    queues[i].pop(0)
        assert not any(queues), "packets never taken"
        want = [[] for _ in range(n)]
        for w in sent:
            want[segment_target(seg, unpack(g.packet_layout, w))].append(w)
        assert got == want, "packets lost, duplicated, reordered or misrouted"
        assert totals["stalled"] > 0 and totals["carried"] == len(sent)

    simulate_segment(g, level, index, tb)


def check_segment_counts_and_routes_on_random_traffic():
    check_segment_random(G3, 0, 0, seed=1)
    check_segment_random(G22, 0, 1, seed=2)
    check_segment_random(G22, 1, 0, seed=3)


def check_segment_stalls_exactly_while_a_packet_waits_behind_a_full_output():
    g = G3

    async def tb(ctx, seg):
        n = seg.branch + 1
        # Three output events from child 0; the output stays refused for 20
        # clocks: two fill its buffer, the third waits.
        queue = [pack(g.packet_layout, output=1, core=0, index=i) for i in range(3)]
        sent, got, totals = [], [[] for _ in range(n)], {"carried": 0, "stalled": 0}
        ready = [1] * seg.branch + [0]
        for k in range(20):
            ctx.set(seg.inputs[0].valid, bool(queue))
            if queue:
                ctx.set(seg.inputs[0].payload.as_value(), queue[0])
            taken = await segment_clock(ctx, seg, ready, sent, got, totals)
            if taken[0]:
                queue.pop(0)
            assert totals == {"carried": min(k + 1, 2), "stalled": max(0, k - 1)}, (k, totals)
        ready[seg.branch] = 1
        for _ in range(6):
            ctx.set(seg.inputs[0].valid, bool(queue))
            taken = await segment_clock(ctx, seg, ready, sent, got, totals)
            if taken[0]:
                queue.pop(0)
        # The buffer frees a place the clock after ready rises: one more clock of wait.
        assert totals == {"carried": 3, "stalled": 19} and len(got[seg.branch]) == 3

    simulate_segment(g, 0, 0, tb)


# -- the bus tree's per-level counts against its segments' handshakes --------


def check_bus_tree_counts_each_level_from_its_segments():
    """Per clock, a level's ``carried`` and ``stalled`` are the number of its
    segments that moved a packet and that had one waiting (their inputs'
    handshakes), on random traffic with random room at the cores and the
    output; every packet arrives where it was sent."""
    from spikeloom.defs import unpack

    g = G22
    made = []

    names = router.BusTree.elaborate.__globals__  # where the tree looks its segments up
    real = names["Segment"]

    class Recorded(real):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    names["Segment"] = Recorded
    try:
        bus = router.BusTree(g)
        sim = Simulator(bus)  # elaborates: the segments are made now
    finally:
        names["Segment"] = real
    sim.add_clock(1e-6)
    rng = random.Random(7)
    lay = g.packet_layout
    ins = [*bus.up_in, bus.host_in]
    outs = [*bus.down_out, bus.out]

    async def tb(ctx):
        queues = [[] for _ in ins]
        for c in range(g.cores):
            for _ in range(25):
                queues[c].append(pack(lay, **random_packet(g, rng, up=True)))
        for _ in range(25):
            queues[g.cores].append(pack(lay, **random_packet(g, rng, up=False)))
        room = [rng.choice([0.2, 0.6, 1.0]) for _ in outs]
        sent, got = [], [[] for _ in outs]
        totals = [[0, 0] for _ in g.levels]
        for k in range(600):
            drain = k >= 450
            for i, q in enumerate(queues):
                ctx.set(ins[i].valid, bool(q))
                if q:
                    ctx.set(ins[i].payload.as_value(), q[0])
            for o, port in enumerate(outs):
                ctx.set(port.ready, drain or rng.random() < room[o])
            for i in range(len(g.levels)):
                segs = [s for s in made if s.level == i]
                moved = waited = 0
                for s in segs:
                    v = [ctx.get(p.valid) for p in s.inputs]
                    r = [ctx.get(p.ready) for p in s.inputs]
                    moved += any(a and b for a, b in zip(v, r))
                    waited += any(a and not b for a, b in zip(v, r))
                assert ctx.get(bus.carried[i]) == moved, (k, i, "carried")
                assert ctx.get(bus.stalled[i]) == waited, (k, i, "stalled")
                totals[i][0] += moved
                totals[i][1] += waited
            for i, q in enumerate(queues):
                if q and ctx.get(ins[i].ready):
                    sent.append(q.pop(0))
            for o, port in enumerate(outs):
                if ctx.get(port.valid) and ctx.get(port.ready):
                    got[o].append(ctx.get(port.payload.as_value()))
            await ctx.tick()
        assert not any(queues), "packets never taken"
        for o in range(len(outs)):
            want = sorted(
                w
                for w in sent
                if (g.cores if unpack(lay, w)["output"] else unpack(lay, w)["core"]) == o
            )
            assert sorted(got[o]) == want, f"output {o}: packets lost, duplicated or misrouted"
        assert all(c > 0 and s > 0 for c, s in totals), totals

    sim.add_testbench(tb)
    sim.run()


# -- the chip counters in the UART block's register file ---------------------


def check_link_keeps_every_chip_count_through_reads_clears_and_wraps(clocks=4000, seed=11):
    """The register file (``hdl/uart_regs.py``) keeps the chip counters in block
    RAM from the chip's counts: random counts up to their most per clock
    (bursts at the most, for minutes of requests back to back, so pending
    counts outgrow a byte), EVENTS_DROPPED's strobe, and READ, CLEAR and INC
    requests. Every READ returns exactly the counts up to the clock its
    request was taken, since the last CLEAR taken (which keeps the counts
    from the clock after it), from presets a few hundred short of 2**32, so
    the counters wrap; counts on the clock a pending count is taken, or a
    counter is read or cleared, are not lost. At the end every counter reads
    its total."""
    from spikeloom import protocol as P
    from spikeloom.hdl import uart
    from spikeloom.hdl.uart_regs import RegOp

    g = G22
    link = P.LinkConfig(clocks_per_bit=4, event_fifo=16, timeout_bits=64)
    regs = uart.RegisterFile(g, link, 5)
    # (HOST_DROPPED is not kept: the link never sends an event it would count.)
    most = {name.upper(): n for name, n in top.count_max(g).items()}
    most = {name: n for name, n in most.items() if name in regs.pending_widths}
    assert len(most) == len(top.count_max(g)) - 1
    names = [*most, "EVENTS_DROPPED"]
    addr = P.register_map(g)
    rng = random.Random(seed)
    sim = Simulator(regs)  # elaborates: regs.mem is there
    sim.add_clock(1e-6)

    async def tb(ctx):
        want = {n: (1 << 32) - rng.randrange(1, 400) for n in names}
        want["FRAMES_OK"] = 0
        for name, value in want.items():
            for b in range(4):
                ctx.set(regs.mem.data[4 * addr[name] + b], (value >> (8 * b)) & 0xFF)
        total = dict(want)  # the counts so far (unbounded), from each counter's last clear
        reads = []  # (name, expected value): READs taken, rvalid not seen yet
        burst = 0
        checked = 0
        for k in range(clocks + 600):
            if k % 500 == 0:
                burst = rng.random() < 0.5  # counts at their most, requests back to back
            counting = k < clocks
            for name, n in most.items():
                count = n if burst else rng.choice([0, 0, rng.randrange(n + 1)])
                ctx.set(regs.chip_counts[name.lower()], count * counting)
                total[name] += count * counting
            dropped = counting and (burst or rng.random() < 0.3)
            ctx.set(regs.count_events_dropped, dropped)
            total["EVENTS_DROPPED"] += dropped
            if not ctx.get(regs.req.valid) and (burst or rng.random() < 0.1) and counting:
                op = rng.choice([RegOp.READ] * 4 + [RegOp.CLEAR, RegOp.INC])
                name = "FRAMES_OK" if op == RegOp.INC else rng.choice(names + ["FRAMES_OK"])
                ctx.set(regs.req.payload, {"op": op, "addr": addr[name], "data": 0})
                ctx.set(regs.req.valid, 1)
            if ctx.get(regs.rvalid):
                name, value = reads.pop(0)
                got = ctx.get(regs.rdata)
                assert got == value & MASK, f"clock {k}: {name} read {got}, counted {value & MASK}"
                checked += 1
            taken = ctx.get(regs.req.valid) and ctx.get(regs.req.ready)
            if taken:
                # Taken on this edge: its value (or the clear) is that of the counts so far.
                op = ctx.get(regs.req.payload.op)
                name = next(n for n in total if addr[n] == ctx.get(regs.req.payload.addr))
                if op == RegOp.INC:
                    total[name] += 1
                if op == RegOp.READ:
                    reads.append((name, total[name]))
                if op == RegOp.CLEAR:
                    total[name] = 0
            await ctx.tick()
            if taken:
                ctx.set(regs.req.valid, 0)
        assert not ctx.get(regs.busy), "pending counts left 600 clocks after the last count"
        for name in total:
            ctx.set(regs.req.payload, {"op": RegOp.READ, "addr": addr[name], "data": 0})
            ctx.set(regs.req.valid, 1)
            for _ in range(BOUND):  # taken on the edge after a clock with ready high
                if ctx.get(regs.req.ready):
                    break
                await ctx.tick()
            await ctx.tick()
            ctx.set(regs.req.valid, 0)
            for _ in range(BOUND):
                if ctx.get(regs.rvalid):
                    break
                await ctx.tick()
            got = ctx.get(regs.rdata)
            assert got == total[name] & MASK, f"{name} read {got} at the end, counted {total[name]}"
        assert not reads and checked > 100, (checked, reads)

    sim.add_testbench(tb)
    sim.run()


#: Every check, in file order (``tests/test_fabric_units.py`` runs each; so does the
#: mutation gate's ``units`` job).
CHECKS = [
    check_missing_core_events_are_dropped_and_counted,
    check_tick_start_waits_for_events_in_flight,
    check_tick_start_during_a_tick_runs_the_next_one_after_it,
    check_host_dropped_and_host_events_across_a_tick_start_pulse,
    check_events_refused_while_a_start_is_pending,
    check_counters_wrap_at_32_bits,
    check_clear_counters_in_the_middle_of_a_tick,
    check_last_tick_cycles_counts_from_the_start_pulse,
    check_segment_counts_and_routes_on_random_traffic,
    check_segment_stalls_exactly_while_a_packet_waits_behind_a_full_output,
    check_bus_tree_counts_each_level_from_its_segments,
    check_link_keeps_every_chip_count_through_reads_clears_and_wraps,
]
