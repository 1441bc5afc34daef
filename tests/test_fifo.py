"""hdl/fifo: RegisteredFIFO against a Python queue, PairFIFO against SyncFIFO(depth=2);
random writes and reads, every clock."""

import collections
import os
import random

import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import fifo
from amaranth.sim import Simulator

from spikeloom.hdl.fifo import PairFIFO, RegisteredFIFO

SEED = int(os.environ.get("SPIKELOOM_SEED", "4242"))


class _Ice40:
    family = "ice40"


class _OnIce40(Elaboratable):
    """The FIFO as the iCE40 build elaborates it (``SyncFIFOBuffered`` itself)."""

    def __init__(self, dut):
        self.dut = dut
        dut._MustUse__silence = True  # elaborated through this wrapper

    def elaborate(self, platform):
        return self.dut.elaborate(_Ice40())


@pytest.mark.parametrize("ice40", [False, True], ids=["registered", "ice40"])
@pytest.mark.parametrize("depth", [3, 4, 9])
@pytest.mark.parametrize("p_write,p_read", [(0.9, 0.3), (0.5, 0.5), (0.3, 0.95)])
def test_registered_fifo_is_a_fifo(depth, p_write, p_read, ice40):
    """Order and level match a queue of at most ``depth`` entries; nothing is lost,
    and with the reader stopped it fills to ``depth``."""
    rng = random.Random(SEED + depth)
    dut = RegisteredFIFO(width=8, depth=depth)
    latency = 2 if ice40 or depth == 3 else 3
    model = collections.deque()
    in_flight = collections.deque()  # written, not yet readable: (clock readable, value)
    seen = {"full": 0, "reads": 0}

    async def bench(ctx):
        for clock in range(3000):
            w = rng.random() < p_write
            r = rng.random() < p_read
            value = rng.randrange(256)
            ctx.set(dut.w_en, w)
            ctx.set(dut.w_data, value)
            ctx.set(dut.r_en, r)
            total = len(model) + len(in_flight)
            where = f"seed {SEED}, depth {depth}, clock {clock}"
            assert ctx.get(dut.level) == total, f"{where}: level {ctx.get(dut.level)} != {total}"
            # Never over-full; refusing only once the buffered part is full.
            if ctx.get(dut.w_rdy):
                assert total < depth, f"{where}: w_rdy with {total} of {depth}"
            else:
                assert total >= depth - 3, f"{where}: w_rdy low with {total} of {depth}"
            while in_flight and in_flight[0][0] <= clock:
                model.append(in_flight.popleft()[1])
            if ctx.get(dut.r_rdy):
                assert model, f"{where}: r_rdy with nothing readable"
                assert ctx.get(dut.r_data) == model[0], f"{where}: r_data"
                if r:
                    model.popleft()
                    seen["reads"] += 1
            if w and ctx.get(dut.w_rdy):
                in_flight.append((clock + latency, value))
            seen["full"] += total == depth
            await ctx.tick()

    sim = Simulator(_OnIce40(dut) if ice40 else dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["reads"] > 300
    if p_write > p_read:
        assert seen["full"] > 0, "the FIFO never filled"


@pytest.mark.parametrize("depth", [3, 5])
def test_registered_fifo_fills_to_depth(depth):
    dut = RegisteredFIFO(width=8, depth=depth)

    async def bench(ctx):
        ctx.set(dut.w_en, 1)
        for clock in range(4 * depth):
            ctx.set(dut.w_data, clock)
            await ctx.tick()
        assert ctx.get(dut.level) == depth
        assert not ctx.get(dut.w_rdy)
        ctx.set(dut.w_en, 0)
        ctx.set(dut.r_en, 1)
        got = []
        for _ in range(depth + 4):
            if ctx.get(dut.r_rdy):
                got.append(ctx.get(dut.r_data))
            await ctx.tick()
        assert len(got) == depth and got == sorted(got), got

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


class _Pair(Elaboratable):
    """A PairFIFO and amaranth's SyncFIFO(depth=2) side by side, same inputs."""

    def __init__(self):
        self.pair = PairFIFO(width=8)
        self.ref = fifo.SyncFIFO(width=8, depth=2)

    def elaborate(self, platform):
        m = Module()
        m.submodules.pair, m.submodules.ref = self.pair, self.ref
        for name in ("w_data", "w_en", "r_en"):
            m.d.comb += getattr(self.ref, name).eq(getattr(self.pair, name))
        return m


@pytest.mark.parametrize("p_write,p_read", [(0.9, 0.3), (0.5, 0.5), (0.3, 0.95)])
def test_pair_fifo_is_syncfifo_depth_2(p_write, p_read):
    """Ready, level and read data match ``SyncFIFO(depth=2)`` on every clock."""
    rng = random.Random(SEED + int(100 * p_write))
    top = _Pair()
    dut, ref = top.pair, top.ref
    seen = {"full": 0, "reads": 0}

    async def bench(ctx):
        for clock in range(3000):
            ctx.set(dut.w_en, rng.random() < p_write)
            ctx.set(dut.w_data, rng.randrange(256))
            ctx.set(dut.r_en, rng.random() < p_read)
            where = f"seed {SEED}, clock {clock}"
            for name in ("w_rdy", "r_rdy", "level"):
                got, want = ctx.get(getattr(dut, name)), ctx.get(getattr(ref, name))
                assert got == want, f"{where}: {name} {got}, SyncFIFO {want}"
            if ctx.get(ref.r_rdy):
                got, want = ctx.get(dut.r_data), ctx.get(ref.r_data)
                assert got == want, f"{where}: r_data {got:#x}, SyncFIFO {want:#x}"
                seen["reads"] += ctx.get(dut.r_en)
            seen["full"] += ctx.get(ref.level) == 2
            await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["reads"] > 500 and seen["full"] > 0
