"""cocotb side of bench/core.py: run a core at a set activity, record cycles.

The job (``SPIKELOOM_JOB``) names a geometry, a seed, an axon activity and a
tick count. Only the crossbar's non-zero entries are written (the memory
starts at zero after configuration of the rest), the golden model runs
beside the RTL, and every tick's spikes are compared with it, so a
benchmark number never comes from a design that computes something else.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock

from spikeloom.defs import Geometry, Region, pack
from spikeloom.sim.core import CoreModel
from spikeloom.testing import jobs
from spikeloom.testing.tb import CoreTB as TB


@cocotb.test()
async def bench(dut):
    job = jobs.read_job()
    g = Geometry(**job["geometry"])
    rng = np.random.default_rng(job["seed"])
    tb = TB(dut, g)
    Clock(dut.clk, 10, unit="ns").start()
    dut.throttle.value = 0
    await tb.reset()

    model = CoreModel(g)
    present = rng.random((g.rows, g.neurons)) < job["density"]
    count = np.where(present, rng.integers(1, g.max_count + 1, (g.rows, g.neurons)), 0)
    sign = (rng.random((g.rows, g.neurons)) < 0.3) & present
    model.set_crossbar(count, sign)
    model.set_params(model=0, threshold=job["threshold"], leak=1, refractory=2, output=1)
    for i in np.flatnonzero(present.ravel()):
        await tb.write(Region.CROSSBAR, int(i), model.read(Region.CROSSBAR, int(i)))
    for n in range(g.neurons):
        await tb.write(Region.PARAMS, n, model.read(Region.PARAMS, n))
        await tb.write(Region.STATE, n, pack(g.state_layout, v=0, s=0, timer=0, active=0))

    rows, spikes, cycles = [], [], []
    for t in range(job["ticks"]):
        axons = np.flatnonzero(rng.random(g.axons) < job["activity"]).tolist()
        await tb.inject(axons)
        rows.append(int(model.active_rows(axons).sum()))
        fired, _ = model.tick(axons)
        await tb.run_tick()
        cycles.append(dut.last_tick_cycles.value.to_unsigned())
        spikes.append(fired.astype(int).tolist())
        got = await tb.drain()
        want = [{"neuron": int(n), "output": 1} for n in np.flatnonzero(fired)]
        assert got == want, f"tick {t}: RTL spikes differ from the golden model"
    jobs.write_verdict(**{"rows": rows, "spikes": spikes, "cycles": cycles})
