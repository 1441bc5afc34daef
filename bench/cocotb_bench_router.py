"""cocotb side of bench/router.py: run relay traffic, record cycles and counters.

The job (``SPIKELOOM_JOB``) names a geometry, a seed, the rewiring
probabilities, and the warm-up and measured ticks. For each probability
the network of ``spikeloom.testing.stimulus.relay_traffic`` is loaded, started
by one host event per relay axon, and run; the golden model runs beside it
and the hardware counters must equal its counts on every tick, so the
numbers always come from a fabric that delivered every event.
"""

import cocotb
from cocotb.clock import Clock

from spikeloom.defs import Geometry, Region
from spikeloom.sim.top import ChipModel
from spikeloom.testing import jobs
from spikeloom.testing.stimulus import relay_traffic
from spikeloom.testing.tb import COUNTERS, ChipTB


@cocotb.test()
async def bench(dut):
    job = jobs.read_job()
    g = Geometry(**job["geometry"])
    tb = ChipTB(dut, g)
    Clock(dut.clk, 10, unit="ns").start()
    dut.throttle.value = 0
    points = []
    for rewiring in job["rewiring"]:
        net = relay_traffic(g, rewiring, job["seed"])
        model = ChipModel(net)
        await tb.reset()
        for c in range(g.cores):
            for region in Region:
                await tb.write_region(c, region, net.region_words(c, region))
        start = [(c, a) for c in range(g.cores) for a in range(g.neurons)]
        cycles = []
        for t in range(job["warmup"] + job["ticks"]):
            events = start if t == 0 else []
            await tb.inject(events)
            await tb.run_tick()
            model.tick(events)
            hw = tb.counters()
            for name in (*COUNTERS, "carried"):
                want = model.counters[name]
                want = want.tolist() if name == "carried" else want
                assert hw[name] == want, f"tick {t}: counter {name}: {hw[name]} != {want}"
            cycles.append(dut.last_tick_cycles.value.to_unsigned())
            if t == job["warmup"] - 1:
                base = hw
        measured = cycles[job["warmup"] :]
        points.append(
            {
                "rewiring": rewiring,
                "cycles": measured,
                "routed": hw["routed"] - base["routed"],
                "carried": [a - b for a, b in zip(hw["carried"], base["carried"])],
                "stalled": [a - b for a, b in zip(hw["stalled"], base["stalled"])],
            }
        )
    jobs.write_verdict(**{"points": points})
