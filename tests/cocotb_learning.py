"""cocotb cross-check of a core's learning against the golden model.

Configured like ``tests/cocotb_core.py`` (``SPIKELOOM_JOB``,
``SPIKELOOM_RESULT``; set by ``tests/test_learning.py``). Each network
comes from ``spikeloom.testing.stimulus.random_learning(seed)``: it is loaded
through the configuration port, its generator seeded, and run with the
tick's learning parameters and episode phase on the core's inputs. After
every tick the spikes, every neuron's state, the tick's clock count and
the whole crossbar are compared; the first mismatch stops the run and names
the seed, tick, and the entry (row, column) or neuron with expected and
got values.
"""

import time
from collections import defaultdict

import cocotb
import numpy as np
from cocotb.clock import Clock

from spikeloom.defs import CORE_REGIONS, LEARN_LAYOUT, Geometry, Region, pack
from spikeloom.hdl.core import tick_cycles
from spikeloom.hdl.learning import learn_cycles
from spikeloom.testing import jobs
from spikeloom.testing.stimulus import random_learning
from spikeloom.testing.tb import CoreTB as TB
from spikeloom.testing.tb import fail, peek_entries


def entries(g, words):
    """(count, sign) arrays (rows, N) from crossbar entry words."""
    words = np.asarray(words, dtype=np.int64).reshape(g.rows, g.neurons)
    k = g.count_bits
    return words & ((1 << k) - 1), (words >> k) & 1


async def read_crossbar(tb, g):
    """The whole crossbar through the configuration port (one entry per clock)."""
    return entries(g, await tb.read_many(Region.CROSSBAR, range(g.region_depth(Region.CROSSBAR))))


def peek_crossbar(dut, g):
    """The whole crossbar read from the RTL memory (no clocks: cheap every tick)."""
    return entries(g, peek_entries(dut.inner.xbar, g))


@cocotb.test()
async def crosscheck(dut):
    job = jobs.read_job()
    result_path = jobs.result_path()
    g = Geometry(**job["geometry"])
    tb = TB(dut, g)
    Clock(dut.clk, 10, unit="ns").start()
    dut.throttle.value = 0
    tb.start_budget(tb.job_budget(job["nets"], job["ticks"]))
    totals = {"nets": 0, "ticks": 0, "spikes": 0, "changed": 0, "grown": 0, "learn_cycles": 0}
    totals["visits"] = 0
    # The history memory keeps its contents across a reset (as every
    # memory does): each network starts from the history the last one left.
    hist = None
    prof = defaultdict(float)
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        prof[name] += now - clock[0]
        clock[0] = now

    for k in range(job["nets"]):
        seed = job["seed"] + k
        where = f"seed {seed} (net {k} of job, geometry {g})"
        model, seed_word, configs, inputs, phases = random_learning(g, seed, job["ticks"])
        if hist is not None:
            model.learner.hist = hist
        await tb.reset()
        for region in CORE_REGIONS:
            for i in range(g.region_depth(region)):
                await tb.write(region, i, model.read(region, i))
        dut.seed.value = seed_word
        dut.seed_we.value = 1
        await tb.cycle()
        dut.seed_we.value = 0
        model.learner.seed(seed_word)
        for t, axons in enumerate(inputs):
            tb.where = f"{where}: tick {t}"
            cfg = configs[t]
            dut.learn_cfg.value = pack(LEARN_LAYOUT, **cfg.as_dict())
            dut.phase.value = phases[t]
            lap("other")
            await tb.inject(axons)
            lap("inject")
            await tb.run_tick()
            lap("tick")
            model.learn_cfg = cfg
            before = model.count.copy()
            active = int(model.active_rows(axons).sum())
            spikes, inp = model.tick(axons, phase=phases[t])
            st = model.learn_stats
            got_cycles = dut.last_tick_cycles.value.to_unsigned()
            want = tick_cycles(g, active, spikes)
            if cfg.learn:
                posts = int((spikes & (model.params["learn"] != 0)).sum())
                grow_rows = active if cfg.p_grow else 0
                want += learn_cycles(g, posts, grow_rows)
                totals["learn_cycles"] += learn_cycles(g, posts, grow_rows)
            if got_cycles != tb.measured:
                fail(
                    result_path,
                    f"{where}: tick {t}: last_tick_cycles {got_cycles}, but the testbench "
                    f"counted {tb.measured} clocks from the start pulse to the end of busy",
                )
            if got_cycles != want:
                fail(
                    result_path,
                    f"{where}: tick {t}: last_tick_cycles expected {want} got {got_cycles} "
                    f"(learning {cfg})",
                )
            lap("model")
            events = await tb.drain()
            lap("drain")
            expected = [int(n) for n in np.flatnonzero(spikes)]
            if [e["neuron"] for e in events] != expected:
                fail(
                    result_path,
                    f"{where}: tick {t}: spikes differ: expected {expected} "
                    f"got {[e['neuron'] for e in events]}",
                )
            await tb.compare_states(model.state, f"{where}: tick {t}")
            lap("state")
            count, sign = peek_crossbar(dut, g)
            lap("peek")
            bad = np.argwhere((count != model.count) | (sign != model.sign))
            if bad.size:
                r, c = (int(x) for x in bad[0])
                fail(
                    result_path,
                    f"{where}: tick {t}: crossbar entry (row {r}, column {c}) "
                    f"expected count {int(model.count[r, c])} sign {int(model.sign[r, c])} "
                    f"got count {int(count[r, c])} sign {int(sign[r, c])} "
                    f"(before the tick: count {int(before[r, c])}; {len(bad)} entries differ; "
                    f"learning {cfg}, phase {phases[t]})",
                )
            totals["ticks"] += 1
            totals["spikes"] += int(spikes.sum())
            totals["changed"] += int((model.count != before).sum())
            totals["grown"] += st.grown
            totals["visits"] += st.visits
        # The configuration port must show the same crossbar as the memory.
        port, mem = await read_crossbar(tb, g), peek_crossbar(dut, g)
        if not all(np.array_equal(a, b) for a, b in zip(port, mem)):
            fail(result_path, f"{where}: the crossbar read through the port differs")
        totals["nets"] += 1
        hist = model.learner.hist
    jobs.write_verdict(result_path, **{**totals, "profile": prof})
