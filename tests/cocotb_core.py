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

from spikeloom.defs import CORE_REGIONS, Geometry
from spikeloom.hdl.core import tick_cycles
from spikeloom.testing.stimulus import random_core, random_inputs
from spikeloom.testing.tb import CoreTB as TB
from spikeloom.testing.tb import fail


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
    V = g.virtual
    for k in range(job["cores"] // V):
        # One engine's V logical cores, each from its own seed.
        seeds = [job["seed"] + k * V + v for v in range(V)]
        where = f"seeds {seeds} (engine {k} of job, geometry {g})"
        models = [random_core(g, seed) for seed in seeds]
        inputs = [random_inputs(g, seed, job["ticks"]) for seed in seeds]
        await tb.reset()
        await load(tb, models, readback=k < job.get("readback_cores", 1), where=where)
        # Odd engines get each tick's events while the previous tick runs
        # (they belong to the next tick to start), even ones between ticks.
        early = k % 2 == 1
        for t in range(job["ticks"]):
            tb.where = f"{where}: tick {t}"
            if not early or t == 0:
                await tb.inject(engine_events(g, inputs, t))
            nxt = engine_events(g, inputs, t + 1) if early and t + 1 < job["ticks"] else ()
            await tb.run_tick(nxt)
            active = [int(mo.active_rows(inp[t]).sum()) for mo, inp in zip(models, inputs)]
            ticked = [mo.tick(inp[t]) for mo, inp in zip(models, inputs)]
            cycles.append(dut.last_tick_cycles.value.to_unsigned())
            check_cycles(tb, result_path, cycles[-1], active, ticked, job)
            events = await tb.drain()
            expected = [
                {"neuron": v * g.neurons + n, "output": int(mo.params["output"][n])}
                for v, (mo, (spikes, _)) in enumerate(zip(models, ticked))
                for n in np.flatnonzero(spikes)
            ]
            if events != expected:
                fail(
                    result_path,
                    f"{where}: tick {t}: spikes differ: "
                    f"expected {[(e['neuron'], e['output']) for e in expected]} "
                    f"got {[(e['neuron'], e['output']) for e in events]} "
                    f"(neuron + N * logical core, output)",
                )
            for v, (mo, (spikes, inp)) in enumerate(zip(models, ticked)):
                await check_state(tb, result_path, f"{where}: tick {t}", v, mo, spikes, inp)
                checked["spikes"] += int(spikes.sum())
            checked["ticks"] += V
            checked["events"] += len(events)
        checked["cores"] += V
    with open(result_path, "w") as f:
        json.dump({"ok": True, **checked, "cycles": cycles}, f)


def select(tb, v):
    """Point the configuration port at logical core ``v`` of the engine."""
    if tb.g.virtual > 1:
        tb.dut.cfg_vc.value = v


def engine_events(g, inputs, t):
    """Tick ``t``'s axon events of every logical core: ``axon | vc << axon_bits``."""
    return [a | v << g.axon_bits for v, inp in enumerate(inputs) for a in inp[t]]


async def load(tb, models, readback, where):
    """Write each logical core's memories through the configuration port (and read back)."""
    g = tb.g
    for v, model in enumerate(models):
        select(tb, v)
        for region in CORE_REGIONS:
            for i in range(g.region_depth(region)):
                await tb.write(region, i, model.read(region, i))
    if not readback:
        return
    for v, model in enumerate(models):
        select(tb, v)
        for region in CORE_REGIONS:
            n = g.region_depth(region)
            got = await tb.read_many(region, range(n))
            for i in range(n):
                if got[i] != model.read(region, i):
                    fail(
                        tb.result_path,
                        f"{where}: logical core {v}: readback {region.name}[{i}]: "
                        f"expected {model.read(region, i):#x} got {got[i]:#x}",
                    )


def check_cycles(tb, result_path, got, active, ticked, job):
    """The tick's clocks against the testbench's count and, unthrottled, the formula."""
    if got != tb.measured:
        # The core starts on the edge that samples the pulse.
        fail(
            result_path,
            f"{tb.where}: last_tick_cycles {got}, but the testbench "
            f"counted {tb.measured} clocks from the start pulse to the end of busy",
        )
    if not job.get("throttle"):
        # The documented timing (hdl/core.py) must hold exactly.
        want = tick_cycles(tb.g, active)
        if got != want:
            spikes = [np.flatnonzero(s).tolist() for s, _ in ticked]
            fail(
                result_path,
                f"{tb.where}: last_tick_cycles expected {want} "
                f"(L={active} per logical core, spikes {spikes}) got {got}",
            )


async def check_state(tb, result_path, where, v, model, spikes, inp):
    """Every neuron's state of logical core ``v`` against the model."""
    select(tb, v)
    await tb.compare_states(
        model.state,
        f"{where} logical core {v}",
        detail=lambda n: f" (input {int(inp[n])}, spiked {bool(spikes[n])})",
    )
