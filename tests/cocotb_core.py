"""cocotb cross-check of one core against the golden model, tick by tick.

Configured by the environment (set by ``tests/test_core_crosscheck.py``):
``SPIKELOOM_JOB`` is a JSON object with the geometry, the first seed, the
number of cores, ticks per core and the throttle flag; the verdict and
measurements go to the JSON file ``SPIKELOOM_RESULT``. Each core is
generated from its own seed by ``spikeloom.testing.stimulus``, loaded through
the configuration port, run, and compared every tick: the spikes (with their
output-enable bits) in order, then every neuron's state. The first
mismatch stops the run and names the seed, tick, neuron, field, expected
and got.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock

from spikeloom.defs import CORE_REGIONS, Geometry, Region, unpack
from spikeloom.hdl.core import tick_cycles
from spikeloom.sim.neuron import STATE_FIELDS
from spikeloom.testing.stimulus import random_core, random_inputs
from spikeloom.testing.tb import HarnessTB, fail


class TB(HarnessTB):
    """One core: events are its spikes; input events are axon numbers."""

    idle_inputs = ("axon_in__valid",)
    regions = CORE_REGIONS

    def __init__(self, dut, g: Geometry):
        super().__init__(dut, g, g.spike_layout)

    async def inject(self, axons):
        # `ready` depends on the core's state only: no need to settle.
        await self.send("axon_in", axons)


@cocotb.test()
async def crosscheck(dut):
    job = json.loads(os.environ["SPIKELOOM_JOB"])
    result_path = os.environ["SPIKELOOM_RESULT"]
    g = Geometry(**job["geometry"])
    tb = TB(dut, g)
    Clock(dut.clk, 10, unit="ns").start()
    tb.throttle = dut.throttle.value = int(job.get("throttle", 0))
    tb.start_budget(tb.job_budget(job["cores"], job["ticks"]))
    cycles = []
    checked = {"cores": 0, "ticks": 0, "spikes": 0, "events": 0}
    for k in range(job["cores"]):
        seed = job["seed"] + k
        where = f"seed {seed} (core {k} of job, geometry {g})"
        model = random_core(g, seed)
        inputs = random_inputs(g, seed, job["ticks"])
        await tb.reset()
        for region in CORE_REGIONS:
            for i in range(g.region_depth(region)):
                await tb.write(region, i, model.read(region, i))
        if k < job.get("readback_cores", 1):
            for region in CORE_REGIONS:
                n = g.region_depth(region)
                got = await tb.read_many(region, range(n))
                for i in range(n):
                    if got[i] != model.read(region, i):
                        fail(
                            result_path,
                            f"{where}: readback {region.name}[{i}]: "
                            f"expected {model.read(region, i):#x} got {got[i]:#x}",
                        )
        # Odd cores get each tick's events while the previous tick runs
        # (they belong to the next tick to start), even cores between ticks.
        early = k % 2 == 1
        for t, axons in enumerate(inputs):
            tb.where = f"{where}: tick {t}"
            if not early or t == 0:
                await tb.inject(axons)
            await tb.run_tick(inputs[t + 1] if early and t + 1 < len(inputs) else ())
            active = int(model.active_rows(axons).sum())
            spikes, inp = model.tick(axons)
            cycles.append(dut.last_tick_cycles.value.to_unsigned())
            if cycles[-1] != tb.measured:
                # The core starts on the edge that samples the pulse.
                fail(
                    result_path,
                    f"{where}: tick {t}: last_tick_cycles {cycles[-1]}, but the testbench "
                    f"counted {tb.measured} clocks from the start pulse to the end of busy",
                )
            if not job.get("throttle"):
                # The documented timing (hdl/core.py) must hold exactly.
                want = tick_cycles(g, active, spikes)
                if cycles[-1] != want:
                    fail(
                        result_path,
                        f"{where}: tick {t}: last_tick_cycles expected {want} "
                        f"(L={active}, spikes {np.flatnonzero(spikes).tolist()}) got {cycles[-1]}",
                    )
            events = await tb.drain()
            out = model.params["output"]
            expected = [{"neuron": n, "output": int(out[n])} for n in np.flatnonzero(spikes)]
            if events != expected:
                fail(
                    result_path,
                    f"{where}: tick {t}: spikes differ: "
                    f"expected {[(e['neuron'], e['output']) for e in expected]} "
                    f"got {[(e['neuron'], e['output']) for e in events]} (neuron, output)",
                )
            words = await tb.read_many(Region.STATE, range(g.neurons))
            for n, word in enumerate(words):
                got = unpack(g.state_layout, word)
                for f in STATE_FIELDS:
                    if got[f] != model.state[f][n]:
                        fail(
                            result_path,
                            f"{where}: tick {t} neuron {n} field {f}: "
                            f"expected {int(model.state[f][n])} got {got[f]} "
                            f"(input {int(inp[n])}, spiked {bool(spikes[n])})",
                        )
            checked["ticks"] += 1
            checked["spikes"] += int(spikes.sum())
            checked["events"] += len(events)
        checked["cores"] += 1
    with open(result_path, "w") as f:
        json.dump({"ok": True, **checked, "cycles": cycles}, f)
