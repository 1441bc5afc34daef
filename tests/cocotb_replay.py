"""Replay a learning example's training run on the RTL core, tick by tick.

``SPIKELOOM_JOB``: ``{"example": name, "seed": s, "ticks": k}``. The
example (``examples/<name>.py``) builds its run with ``build(seed)`` (a
``Replay``: initial core, generator seed, and per tick the learning
parameters, episode phase, axon events and state resets). The testbench
loads the initial core through the configuration port, seeds the
generator, and runs the first k ticks on the RTL while the golden model
runs them too; after every tick the spikes, every neuron's state and the
whole crossbar must agree. The verdict also carries the learn phases'
clocks (``last_tick_cycles`` less the deliver/update clocks of
``hdl/core.tick_cycles``) and the work they did, for the benchmark.
"""

import importlib.util
import json
import sys
import zlib
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock

from spikeloom.defs import CORE_REGIONS, LEARN_LAYOUT, Region, pack
from spikeloom.hdl.core import tick_cycles
from spikeloom.sim.learning import LearnStats
from spikeloom.testing import jobs
from spikeloom.testing.tb import CoreTB as TB
from spikeloom.testing.tb import fail, peek_entries

ROOT = Path(__file__).resolve().parent.parent


def load_example(name):
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"spikeloom_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@cocotb.test()
async def replay(dut):
    job = jobs.read_job()
    result_path = jobs.result_path()
    run = load_example(job["example"]).build(job["seed"])
    g, model = run.geometry, run.model
    tb = TB(dut, g)
    Clock(dut.clk, 10, unit="ns").start()
    dut.throttle.value = 0
    tb.start_budget(tb.job_budget(1, min(job["ticks"], len(run.inputs))))
    await tb.reset()
    for region in CORE_REGIONS:
        for i in range(g.region_depth(region)):
            await tb.write(region, i, model.read(region, i))
    dut.seed.value = run.seed_word
    dut.seed_we.value = 1
    await tb.cycle()
    dut.seed_we.value = 0
    zero_state = pack(g.state_layout, v=0, s=0, timer=0, active=0)
    ticks = min(job["ticks"], len(run.inputs))
    where = f"example {job['example']} seed {job['seed']}"
    totals = LearnStats()
    learn_clocks = learning_ticks = 0
    raster = []
    for t in range(ticks):
        tb.where = f"{where}: tick {t}"
        if t in run.resets:
            for n in range(g.neurons):
                await tb.write(Region.STATE, n, zero_state)
            for v in model.state.values():
                v[:] = 0
        cfg = run.configs[t]
        dut.learn_cfg.value = pack(LEARN_LAYOUT, **cfg.as_dict())
        dut.phase.value = run.phases[t]
        await tb.inject(run.inputs[t])
        await tb.run_tick()
        model.learn_cfg = cfg
        active = int(model.active_rows(run.inputs[t]).sum())
        spikes, _ = model.tick(run.inputs[t], phase=run.phases[t])
        raster.append(np.flatnonzero(spikes).tolist())
        got = dut.last_tick_cycles.value.to_unsigned()
        if got != tb.measured:
            fail(
                result_path,
                f"{where}: tick {t}: last_tick_cycles {got}, but the testbench "
                f"counted {tb.measured} clocks from the start pulse to the end of busy",
            )
        if cfg.learn:
            learn_clocks += got - tick_cycles(g, active, spikes)
            learning_ticks += 1
            totals.add(model.learn_stats)
        events = [e["neuron"] for e in await tb.drain()]
        if events != raster[-1]:
            fail(result_path, f"{where}: tick {t}: spikes expected {raster[-1]} got {events}")
        await tb.compare_states(model.state, f"{where}: tick {t}")
        got = peek_entries(dut.inner.xbar, g)
        want = model.count | (model.sign << g.count_bits)
        if not np.array_equal(got, want):
            r, c = (int(x) for x in np.argwhere(got != want)[0])
            fail(
                result_path,
                f"{where}: tick {t}: crossbar entry (row {r}, column {c}) expected "
                f"{int(want[r, c]):#x} got {int(got[r, c]):#x} (count | sign << {g.count_bits})",
            )
    jobs.write_verdict(
        result_path,
        **{
            "ticks": ticks,
            "spikes": sum(len(s) for s in raster),
            "learning_ticks": learning_ticks,
            "learn_clocks": learn_clocks,
            "visits": totals.visits,
            "changed": totals.potentiated + totals.depressed + totals.grown,
            "grown": totals.grown,
            "raster_crc": zlib.crc32(json.dumps(raster).encode()),
        },
    )
