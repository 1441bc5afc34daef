"""Small fabric cases in Amaranth's simulator: what random networks rarely hit.

A chip of three cores (not a power of two, so ``core_bits`` can name a core
that does not exist): host events for a missing core are dropped and
counted, routing entries naming it are ignored, and the configuration port
reads back what was written in every region.
"""

from amaranth.sim import Simulator

from spikeloom.defs import Geometry, Region, pack
from spikeloom.hdl.top import Chip

G3 = Geometry(levels=(3,), neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=8, fanout=2)


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


async def send(ctx, dut, core, axon):
    ctx.set(dut.host_in.payload, {"core": core, "axon": axon})
    ctx.set(dut.host_in.valid, 1)
    await ctx.tick().until(dut.host_in.ready)
    ctx.set(dut.host_in.valid, 0)


async def run_tick(ctx, dut):
    ctx.set(dut.tick_start, 1)
    await ctx.tick()
    ctx.set(dut.tick_start, 0)
    await ctx.tick().until(~dut.busy)


def simulate(testbench):
    dut = Chip(G3)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        await testbench(ctx, dut)

    sim.add_testbench(bench)
    sim.run()


def test_missing_core_events_are_dropped_and_counted():
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
        await run_tick(ctx, dut)
        assert ctx.get(dut.host_dropped) == 1
        assert ctx.get(dut.host_events) == 1
        assert ctx.get(dut.routed) == 1  # only the entry to core 2
        assert ctx.get(dut.delivered) == 2
        assert ctx.get(dut.output_events) == 1
        assert ctx.get(dut.carried[0]) == 3  # host in, routed event, output out
        assert ctx.get(dut.tick) == 1

    simulate(tb)


def test_tick_start_waits_for_events_in_flight():
    async def tb(ctx, dut):
        # A start pulse on the clock after a host event: the event is still
        # on the bus, so the tick must wait for it (busy high meanwhile).
        await send(ctx, dut, 2, 1)
        ctx.set(dut.tick_start, 1)
        await ctx.tick()
        ctx.set(dut.tick_start, 0)
        assert ctx.get(dut.busy)
        await ctx.tick().until(~dut.busy)
        assert ctx.get(dut.delivered) == 1 and ctx.get(dut.tick) == 1

    simulate(tb)


def test_tick_start_during_a_tick_runs_the_next_one_after_it():
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
        await ctx.tick().until(~dut.busy)
        assert ctx.get(dut.tick) == 2
        assert ctx.get(dut.output_events) == 2  # fired at tick 0 and, routed, at tick 1
        assert ctx.get(dut.routed) == 2

    simulate(tb)
