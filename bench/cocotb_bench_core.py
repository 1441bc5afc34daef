"""cocotb side of bench/core.py: run a core at a set activity, record cycles.

The job (``SPIKELOOM_JOB``) names a geometry, a seed, an axon activity and a
tick count. Only the crossbar's non-zero entries are written (the memory
starts at zero after configuration of the rest), the golden model runs
beside the RTL, and every tick's output events are compared with it, so a
benchmark number never comes from a design that computes something else.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from spikeloom.defs import Geometry, Region, pack
from spikeloom.sim.core import CoreModel


@cocotb.test()
async def bench(dut):
    job = json.loads(os.environ["SPIKELOOM_JOB"])
    g = Geometry(**job["geometry"])
    rng = np.random.default_rng(job["seed"])
    clk = dut.clk
    Clock(clk, 10, unit="ns").start()

    async def cycle():
        await FallingEdge(clk)

    for name in ("tick_start", "cfg_we", "cfg_re", "axon_in__valid", "events__ready", "throttle"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await cycle()
    dut.rst.value = 0

    model = CoreModel(g)
    present = rng.random((g.rows, g.neurons)) < job["density"]
    count = np.where(present, rng.integers(1, g.max_count + 1, (g.rows, g.neurons)), 0)
    sign = (rng.random((g.rows, g.neurons)) < 0.3) & present
    model.set_crossbar(count, sign)
    model.set_params(model=0, threshold=job["threshold"], leak=1, refractory=2, output=1)

    async def write(region, index, word):
        dut.cfg_region.value = int(region)
        dut.cfg_addr.value = int(index)
        dut.cfg_wdata.value = word
        dut.cfg_we.value = 1
        await cycle()
        dut.cfg_we.value = 0

    for i in np.flatnonzero(present.ravel()):
        await write(Region.CROSSBAR, i, model.read(Region.CROSSBAR, int(i)))
    for n in range(g.neurons):
        await write(Region.PARAMS, n, model.read(Region.PARAMS, n))
        await write(Region.STATE, n, pack(g.state_layout, v=0, s=0, timer=0, active=0))

    rows, spikes, cycles = [], [], []
    mask = (1 << g.tick_bits) - 1
    for t in range(job["ticks"]):
        axons = np.flatnonzero(rng.random(g.axons) < job["activity"]).tolist()
        for a in axons:
            dut.axon_in__payload.value = a
            dut.axon_in__valid.value = 1
            await cycle()
        dut.axon_in__valid.value = 0
        rows.append(int(model.active_rows(axons).sum()))
        fired, _ = model.tick(axons)
        dut.tick_start.value = 1
        await cycle()
        dut.tick_start.value = 0
        while dut.busy.value:
            await FallingEdge(dut.busy)
            await cycle()
        cycles.append(dut.last_tick_cycles.value.to_unsigned())
        spikes.append(fired.astype(int).tolist())
        got = []
        dut.events__ready.value = 1
        while dut.events__valid.value:
            got.append(dut.events__payload.value.to_unsigned())
            await cycle()
        dut.events__ready.value = 0
        want = [
            pack(g.event_layout, tick=t & mask, core=0, neuron=int(n))
            for n in np.flatnonzero(fired)
        ]
        assert got == want, f"tick {t}: RTL events differ from the golden model"
    with open(os.environ["SPIKELOOM_RESULT"], "w") as f:
        json.dump({"ok": True, "rows": rows, "spikes": spikes, "cycles": cycles}, f)
