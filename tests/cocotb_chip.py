"""cocotb cross-check of the multi-core chip against ``ChipModel``.

Configured like ``tests/cocotb_core.py``: ``SPIKELOOM_JOB`` (geometry, first
seed, networks, ticks, throttle, how often to read the states) and
``SPIKELOOM_RESULT`` (the verdict). Each network is generated from its seed
(``spikeloom.testing.stimulus.random_network``), loaded through the
configuration port (every region of every core, so nothing of the previous
network survives), and run with random host input, each network under its
own random backpressure on the output (``harness.THROTTLE``: never,
sometimes, mostly or nearly always refused; a job may fix one). Every tick
is compared: the output events (per core, in order; the interleaving of
cores is free), their tick stamps, and the event counters (routed,
delivered, host, output, carried per level), which also proves event
conservation: every routed or host event was delivered exactly once; and
each level's ``stalled`` against the count the testbench takes from the
segments' input handshakes (``spikeloom.testing.tb.StallReference``;
networks 0, 1 and every even one). Every neuron's state is compared every
``state_every`` ticks and on the last tick. ``last_tick_cycles`` is compared
every tick with the clocks the testbench counts from the start pulse to the
end of the barrier (on two ticks in three the testbench waits for the bus to
be empty first, so the tick starts on the pulse; on the third the start
waits for the host events still in flight). Every wait is bounded
(``tests/support/tb.py``): a deadlock fails with the seed, the tick and
where the credits are.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.utils import get_sim_time

from spikeloom.defs import (
    LEARN_LAYOUT,
    PROB_ONE,
    STATE_FIELDS,
    Geometry,
    LearnConfig,
    Region,
    pack,
)
from spikeloom.sim.top import ChipModel
from spikeloom.testing import jobs
from spikeloom.testing.harness import THROTTLE
from spikeloom.testing.stimulus import random_host_inputs, random_network
from spikeloom.testing.tb import COUNTERS, ChipTB, StallReference, fail, peek_entries


def per_core(events):
    """Events grouped by core, each core's in arrival order."""
    out = {}
    for e in events:
        out.setdefault(e[1], []).append(e)
    return out


@cocotb.test()
async def crosscheck(dut):
    job = jobs.read_job()
    result_path = jobs.result_path()
    g = Geometry(**job["geometry"])
    tb = ChipTB(dut, g)
    Clock(dut.clk, 10, unit="ns").start()
    fixed = job.get("throttle")
    ticks = job["ticks"]
    state_every = job.get("state_every", 1)
    checked = {"networks": 0, "ticks": 0, "spikes": 0, "events": 0, "routed": 0, "host": 0}
    checked["learned"] = checked["stall_checked"] = 0
    hist = None
    cycles, stalled = [], [0] * len(g.levels)
    throttles = []
    tb.throttle = max(THROTTLE.values()) if fixed is None else fixed
    tb.start_budget(tb.job_budget(job["networks"], ticks))
    for k in range(job["networks"]):
        seed = job["seed"] + k
        # Backpressure of this network: fixed by the job or drawn from the seed.
        rng = np.random.default_rng([seed, 5])
        throttle = int(rng.choice(list(THROTTLE.values()))) if fixed is None else fixed
        tb.throttle = dut.throttle.value = throttle
        throttles.append(throttle)
        where = f"seed {seed} (network {k} of job, geometry {g}, throttle {throttle})"
        tb.where = where
        net = random_network(g, seed)
        host = random_host_inputs(g, seed, ticks)
        model = ChipModel(net)
        # Stalls counted from the handshakes on the first two networks (one of
        # each way of sending host input), then every other one (their cost).
        stall_ref = None
        if k < 2 or k % 2 == 0:
            stall_ref = StallReference(dut.clk, dut.inner.bus, g, [dut.rst, dut.clear_counters])
        await tb.reset()
        if job.get("learning"):
            # One learning configuration per network; every core seeded.
            # The history memories keep their contents across the reset.
            rng = np.random.default_rng([seed, 9])
            cfg = LearnConfig(
                learn=1,
                p_plus=int(rng.integers(0, PROB_ONE + 1)),
                p_minus=int(rng.integers(0, PROB_ONE // 4)),
                p_grow=int(rng.integers(0, PROB_ONE + 1)),
                episode=int(rng.choice([0, 3, 10])),
            )
            dut.learn_cfg.value = pack(LEARN_LAYOUT, **cfg.as_dict())
            model.set_learning(cfg)
            for c in range(g.cores):
                word = int(rng.integers(0, 1 << 32))
                dut.seed_core.value, dut.seed.value, dut.seed_we.value = c, word, 1
                await tb.cycle()
                model.seed(c, word)
                if hist is not None:
                    model.learners[c].hist = hist[c]
            dut.seed_we.value = 0
        for c in range(g.cores):
            for region in Region:
                await tb.write_region(c, region, net.region_words(c, region))
        if k < job.get("readback_networks", 1):
            for c in range(g.cores):
                for region in Region:
                    want = net.region_words(c, region)
                    got = await tb.read_region(c, region, len(want))
                    for i, (w, r) in enumerate(zip(want, got)):
                        if w != r:
                            fail(
                                result_path,
                                f"{where}: readback core {c} {region.name}[{i}]: "
                                f"expected {w:#x} got {r:#x}",
                            )
        # Odd networks get each tick's host events while the previous tick
        # runs (they belong to the next tick), even ones between ticks.
        early = k % 2 == 1
        for t in range(ticks):
            tb.where = f"{where}: tick {t}"
            if not early or t == 0:
                await tb.inject(host[t])
            # On the third tick of three the start may wait for host events.
            settled = early or t % 3 != 2
            if settled:
                await tb.wait_quiet()
            await tb.run_tick(host[t + 1] if early and t + 1 < ticks else ())
            spikes, expected = model.tick(host[t])
            cycles.append(dut.last_tick_cycles.value.to_unsigned())
            late = tb.measured - cycles[-1]
            slack = 0 if settled else len(host[t]) + 2 * len(g.levels) + 4
            if not 0 <= late <= slack:
                fail(
                    result_path,
                    f"{where}: tick {t}: last_tick_cycles {cycles[-1]}, but the testbench "
                    f"counted {tb.measured} clocks from the start pulse to the end of the "
                    f"barrier (the start may wait {slack} clocks for host events in flight)",
                )
            events = await tb.drain()
            got_by, want_by = per_core(events), per_core(expected)
            if got_by != want_by:
                cores = sorted(set(got_by) | set(want_by))
                diff = next(c for c in cores if got_by.get(c) != want_by.get(c))
                fail(
                    result_path,
                    f"{where}: tick {t}: output events of core {diff} differ: "
                    f"expected {want_by.get(diff, [])} got {got_by.get(diff, [])} "
                    "(tick, core, neuron)",
                )
            hw = tb.counters()
            # Host events sent during this tick (for the next) are already
            # in: each is one host event, one delivery, one hop per level.
            ahead = len(host[t + 1]) if early and t + 1 < ticks else 0
            for name in (*COUNTERS, "carried"):
                want = model.counters[name]
                if name == "carried":
                    want = (want + ahead).tolist()
                elif name in ("host_events", "delivered"):
                    want = want + ahead
                if hw[name] != want:
                    fail(
                        result_path,
                        f"{where}: tick {t}: counter {name} expected {want} got {hw[name]}",
                    )
            want = stall_ref.at(get_sim_time("ns")) if stall_ref else hw["stalled"]
            if hw["stalled"] != want:
                fail(
                    result_path,
                    f"{where}: tick {t}: counter stalled expected {want} (the segments' "
                    f"input handshakes: valid and not ready) got {hw['stalled']}",
                )
            if t % state_every == state_every - 1 or t == ticks - 1:
                for c in range(g.cores):
                    await tb.compare_states(
                        {f: model.state[f][c] for f in STATE_FIELDS},
                        f"{where}: tick {t} core {c}",
                        core=c,
                        detail=lambda n, c=c, s=spikes: f" (spiked {bool(s[c, n])})",
                    )
            if job.get("learning"):
                for c in range(g.cores):
                    got = peek_entries(getattr(dut.inner, f"core{c}").xbar, g)
                    want = net.count[c] | (net.sign[c] << g.count_bits)
                    if not np.array_equal(got, want):
                        r, j = (int(x) for x in np.argwhere(got != want)[0])
                        fail(
                            result_path,
                            f"{where}: tick {t}: core {c} crossbar entry (row {r}, column {j}) "
                            f"expected {int(want[r, j]):#x} got {int(got[r, j]):#x} "
                            f"(count | sign << {g.count_bits}; learning {cfg})",
                        )
                checked["learned"] += int(model.learn_stats.potentiated)
                checked["learned"] += int(model.learn_stats.depressed + model.learn_stats.grown)
            checked["ticks"] += 1
            checked["spikes"] += int(np.sum(spikes))
            checked["events"] += len(events)
        stalled = [a + b for a, b in zip(stalled, hw["stalled"])]
        if stall_ref:
            stall_ref.stop()
            checked["stall_checked"] += 1
        checked["routed"] += model.counters["routed"]
        checked["host"] += model.counters["host_events"]
        checked["networks"] += 1
        hist = [lr.hist for lr in model.learners]
    jobs.write_verdict(
        result_path, **{**checked, "stalled": stalled, "cycles": cycles, "throttles": throttles}
    )
