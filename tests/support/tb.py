"""Bus helpers shared by the cocotb testbenches of ``tests/support/harness.py`` designs.

One clock step is a falling edge: inputs change there and are sampled on
the next rising edge. A subclass names its design's idle inputs, its
output layout, how one input event is driven and the bound of one tick.

No wait can hang. Every wait on the design (a tick, a handshake, a read,
draining the output FIFO) is bounded, ``tick_bound`` clocks for a tick
(derived from ``hdl/core.tick_cycles`` and ``hdl/learning.learn_cycles``,
never re-derived here), and ``start_budget`` bounds the whole job in
simulated clocks. A wait that runs out fails the job with where it was
(``where``: seed, tick) and the design's counters (``diagnostics``).
"""

import math

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from spikeloom.defs import CORE_REGIONS, STATE_FIELDS, Geometry, Region, pack, unpack
from spikeloom.defs import COUNTERS as CHIP_COUNTERS
from spikeloom.hdl.core import Core, tick_cycles
from spikeloom.hdl.learning import learn_cycles
from spikeloom.hdl.top import COUNTER_LAG, CREDIT_LAG

from . import jobs
from .jobs import write_verdict

#: Clock period of every testbench, ns.
PERIOD = 10


def worst_core_tick(g: Geometry) -> int:
    """Clocks of a core's slowest tick: every row active, every neuron spiking, learning."""
    return tick_cycles(g, g.rows, [1] * g.neurons) + learn_cycles(g, g.neurons, g.rows)


def stall_factor(throttle) -> int:
    """How much longer than unthrottled a tick may take under the harness throttle."""
    return 16 if throttle else 1


def peek_entries(mem, g: Geometry) -> np.ndarray:
    """A core's crossbar read from its memory directly (no clocks), (rows, N).

    Each element is an entry word, ``count | sign << count_bits``. The core
    keeps ``lanes`` entries per word at address ``row * groups + group``
    (hdl/core.py); this reads every word through the simulator's handle.
    """
    eb = g.entry_layout.size
    out = np.zeros((g.rows, g.neurons), dtype=np.int64)
    for i in range(g.rows * g.groups):
        w = mem[i].value.to_unsigned()
        row, grp = divmod(i, g.groups)
        for lane in range(g.lanes):
            out[row, grp * g.lanes + lane] = (w >> (eb * lane)) & ((1 << eb) - 1)
    return out


class StallReference:
    """Each level's ``stalled`` count as the chip should read it, from the bus handshakes.

    A segment stalls on a clock on which one of its inputs is valid and not
    ready (docs/semantics.md §8), so the reference reads only the segments'
    input handshakes of ``bus`` (the ``BusTree`` instance), never the
    counters under test. Sampled once settled in each clock (after the
    falling edge) and counted at the next rising edge; a clock with one of
    ``clears`` high (a reset, ``clear_counters``) zeroes it instead. It
    wakes only on clocks on which an input is valid or a clear is high.
    ``at(t)`` is the count at time ``t`` (ns).
    """

    def __init__(self, clk, bus, g: Geometry, clears):
        self.clk, self.clears = clk, list(clears)
        self.levels = []
        for i, b in enumerate(g.levels):
            count = g.cores // math.prod(g.levels[: i + 1])
            segs = [getattr(bus, f"seg{i}_{k}") for k in range(count)]
            pairs = [
                [
                    (getattr(s, f"inputs__{j}__valid"), getattr(s, f"inputs__{j}__ready"))
                    for j in range(b + 1)
                ]
                for s in segs
            ]
            self.levels.append(pairs)
        self.valids = [v for segs in self.levels for pairs in segs for v, _ in pairs]
        self.total = [0] * len(g.levels)
        #: (time from which it holds, counts), in time order.
        self.history = [(0.0, tuple(self.total))]
        self.stopped = False
        cocotb.start_soon(self._run())

    def stop(self):
        """Stop counting (the task ends when it next wakes; no cancel mid-trigger)."""
        self.stopped = True

    def at(self, t: float) -> list:
        """The counts the chip holds at time ``t`` (ns)."""
        return list(next(c for when, c in reversed(self.history) if when <= t))

    def between(self, t0: float, t1: float) -> set:
        """Every count held at some time in ``t0`` .. ``t1`` (ns)."""
        out = {tuple(self.at(t0))}
        out.update(c for when, c in self.history if t0 <= when <= t1)
        return out

    async def _run(self):
        watched = self.valids + self.clears
        while not self.stopped:
            if not any(s.value for s in watched):
                await First(*[RisingEdge(s) for s in watched])
            await FallingEdge(self.clk)
            await ReadOnly()
            if self.stopped:
                return
            if any(c.value for c in self.clears):
                new = [0] * len(self.total)
            else:
                new = [
                    t + sum(any(v.value and not r.value for v, r in pairs) for pairs in segs)
                    for t, segs in zip(self.total, self.levels)
                ]
            if new != self.total:
                self.total = new
                self.history.append((get_sim_time("ns") + PERIOD / 2, tuple(new)))


class Mismatch(AssertionError):
    pass


class Hang(Mismatch):
    """A wait on the design ran out of its bound (a deadlock or a lost credit)."""


def fail(result_path, msg):
    """Record a verdict for pytest and stop the cocotb test."""
    write_verdict(result_path, ok=False, message=msg)
    raise Mismatch(msg)


class HarnessTB:
    #: Inputs held low at reset, besides the ones every harness has.
    idle_inputs = ()

    def __init__(self, dut, g: Geometry, event_layout):
        self.dut, self.g, self.event_layout = dut, g, event_layout
        self.clk = dut.clk
        self.result_path = jobs.result_path()
        #: Where the job is (seed, tick), for a watchdog's message.
        self.where = "before the first network"
        self.throttle = 0
        #: Clocks from the last ``run_tick``'s start pulse to the end of its tick.
        self.measured = None

    @property
    def tick_bound(self) -> int:
        """Clocks a tick may take at most (a subclass adds its own terms)."""
        return 4 * worst_core_tick(self.g) * stall_factor(self.throttle) + 1000

    def diagnostics(self) -> str:
        """The design's state for a watchdog message (a subclass adds counters)."""
        d = self.dut
        return f"busy {int(d.busy.value)}, events valid {int(d.events__valid.value)}"

    def hang(self, what):
        fail(
            self.result_path,
            f"{self.where}: watchdog: {what} (sim time {get_sim_time('ns'):.0f} ns; "
            f"{self.diagnostics()})",
        )

    def job_budget(self, units: int, ticks: int) -> int:
        """Clocks for ``units`` networks (or cores) of ``ticks`` ticks each, generously."""
        config = sum(self.g.region_depth(r) for r in self.regions) * self.g.cores
        return units * (ticks * self.tick_bound + 8 * config + 1000)

    #: The configuration regions a network loads (for ``job_budget``).
    regions = ()

    def start_budget(self, clocks: int):
        """Fail the job if it is still running after ``clocks`` simulated clocks."""

        async def budget():
            await Timer(clocks * PERIOD, unit="ns")
            self.hang(f"the job's budget of {clocks} clocks ran out")

        return cocotb.start_soon(budget())

    async def cycle(self, n=1):
        for _ in range(n):
            await FallingEdge(self.clk)

    async def reset(self):
        d = self.dut
        for name in ("tick_start", "cfg_we", "cfg_re", "events__ready", *self.idle_inputs):
            getattr(d, name).value = 0
        # Learning inputs (Icarus leaves an undriven input at z): off.
        for name in ("learn_cfg", "phase", "seed", "seed_we", "seed_core", "episode_restart"):
            if hasattr(d, name):
                getattr(d, name).value = 0
        d.rst.value = 1
        await self.cycle(2)
        d.rst.value = 0
        await self.cycle()

    def _select(self, region, core):
        self.dut.cfg_region.value = int(region)
        if core is not None:
            self.dut.cfg_core.value = core

    async def write(self, region, index, word, core=None):
        d = self.dut
        self._select(region, core)
        d.cfg_addr.value = index
        d.cfg_wdata.value = word
        d.cfg_we.value = 1
        await self.cycle()
        d.cfg_we.value = 0

    async def read_many(self, region, indices, core=None):
        """Pipelined reads, one ``cfg_re`` per clock; data taken on ``cfg_rvalid``."""
        d = self.dut
        indices = list(indices)
        out = []
        self._select(region, core)
        for clock in range(len(indices) + 64):
            if clock < len(indices):
                d.cfg_re.value = 1
                d.cfg_addr.value = indices[clock]
            else:
                d.cfg_re.value = 0
            await self.cycle()
            if d.cfg_rvalid.value:
                out.append(d.cfg_rdata.value.to_unsigned())
            if len(out) == len(indices):
                break
        d.cfg_re.value = 0
        if len(out) != len(indices):
            raise Mismatch(f"{len(indices)} reads, {len(out)} cfg_rvalid strobes")
        return out

    async def compare_states(self, state, where, core=None, detail=lambda n: ""):
        """Every neuron's state read through the port against the model's ``state``.

        ``state[field][n]`` (one core's); the first difference fails the job,
        naming ``where``, the neuron, the field and ``detail(n)``.
        """
        words = await self.read_many(Region.STATE, range(self.g.neurons), core=core)
        for n, word in enumerate(words):
            got = unpack(self.g.state_layout, word)
            for f in STATE_FIELDS:
                if got[f] != state[f][n]:
                    fail(
                        self.result_path,
                        f"{where} neuron {n} field {f}: "
                        f"expected {int(state[f][n])} got {got[f]}{detail(n)}",
                    )

    async def send(self, stream, words, ready_follows_valid=False):
        """Drive ``words`` into input stream ``stream``, one handshake each.

        With ``ready_follows_valid`` the design's ready depends on valid
        combinationally, so it is read once the values have settled. A word
        not taken within ``tick_bound`` clocks fails the job.
        """
        d = self.dut
        payload, valid = getattr(d, f"{stream}__payload"), getattr(d, f"{stream}__valid")
        ready = getattr(d, f"{stream}__ready")
        bound = self.tick_bound
        for i, w in enumerate(words):
            payload.value = int(w)
            valid.value = 1
            for _ in range(bound):
                if ready_follows_valid:
                    await ReadOnly()
                taken = bool(ready.value)
                await FallingEdge(self.clk)
                if taken:
                    break
            else:
                self.hang(f"{stream} word {i} of {len(words)} not taken within {bound} clocks")
        valid.value = 0

    async def inject(self, events):  # pragma: no cover - per design
        raise NotImplementedError

    async def run_tick(self, during=()):
        """Run one tick; inject ``during`` (next tick's events) while it runs.

        Sets ``measured``: the clocks from the rising edge that samples the
        start pulse to the one after which ``busy`` is low (a design whose
        tick starts on that edge reports the same in ``last_tick_cycles``).
        A tick longer than ``tick_bound`` clocks fails the job.
        """
        d = self.dut
        d.tick_start.value = 1
        t0 = get_sim_time("ns") + PERIOD / 2  # the rising edge that samples it
        deadline = t0 + self.tick_bound * PERIOD
        await self.cycle()
        d.tick_start.value = 0
        if during:  # the tick may end while they go in: watch for it meanwhile
            end = cocotb.start_soon(self._tick_end(deadline))
            await self.inject(during)
            t1 = await end
        else:
            t1 = await self._tick_end(deadline)
        if t1 is None:
            self.hang(f"tick not over within {self.tick_bound} clocks of its start pulse")
        self.measured = round((t1 - t0) / PERIOD)

    async def _tick_end(self, deadline):
        """The time ``busy`` falls for good (None past ``deadline``)."""
        d = self.dut
        fell = get_sim_time("ns")
        while d.busy.value:
            left = deadline - get_sim_time("ns")
            if left <= 0:
                return None
            timer = Timer(left, unit="ns")
            if await First(FallingEdge(d.busy), timer) is timer:
                return None
            fell = get_sim_time("ns")
            await self.cycle()
        return fell

    async def drain(self):
        """Everything in the output FIFO, unpacked, in order."""
        d = self.dut
        events = []
        d.events__ready.value = 1
        for _ in range(self.drain_bound):
            if not d.events__valid.value:
                break
            events.append(unpack(self.event_layout, d.events__payload.value.to_unsigned()))
            await self.cycle()
        else:
            self.hang(f"the output FIFO still valid after {self.drain_bound} events")
        d.events__ready.value = 0
        return events

    @property
    def drain_bound(self) -> int:
        """More events than the harness FIFO holds."""
        return 4 * self.g.cores * self.g.neurons + 16


# The chip's counters the golden model also keeps (it refuses what the chip
# would count in host_dropped).
COUNTERS = tuple(name for name in CHIP_COUNTERS if name != "host_dropped")


class ChipTB(HarnessTB):
    """The chip: events are output events; input events are (core, axon)."""

    idle_inputs = ("host_in__valid", "clear_counters")
    regions = tuple(Region)

    def __init__(self, dut, g: Geometry):
        super().__init__(dut, g, g.event_layout)

    @property
    def tick_bound(self) -> int:
        """The slowest core's tick, then every possible event over every hop, generously."""
        g = self.g
        events = g.cores * (g.neurons * (g.fanout + 1) + g.axons)
        hops = 2 * len(g.levels) + 1
        work = 4 * worst_core_tick(g) + 4 * events * hops
        return work * stall_factor(self.throttle) + 1000

    def diagnostics(self) -> str:
        """Counters, credits in flight and which units are busy (where they are visible)."""
        d, g = self.dut, self.g
        parts = [super().diagnostics(), f"counters {self.counters()}"]
        try:
            parts.append(f"inflight {d.inner.inflight.value.to_unsigned()}")
        except (AttributeError, ValueError):
            parts.append("inflight not visible")
        for unit in ("core", "fanout"):
            try:
                busy = [int(getattr(d.inner, f"{unit}{e}").busy.value) for e in range(g.engines)]
                parts.append(f"{unit} busy {busy}")
            except (AttributeError, ValueError):
                parts.append(f"{unit} busy not visible")
        return "; ".join(parts)

    async def wait_quiet(self):
        """Wait until every routed and host event is delivered: the bus is empty.

        Between ticks (cores and fan-out units idle, every output taken) the
        packets on the bus are ``routed + host_events - delivered``. The
        counters trail the fabric by ``COUNTER_LAG`` clocks: the last event
        sent must be counted first; the barrier's credit count trails them by
        ``CREDIT_LAG - COUNTER_LAG`` more clocks, after which a start is not held.
        """
        d = self.dut
        await self.cycle(COUNTER_LAG)
        for _ in range(self.tick_bound):
            moving = d.routed.value.to_unsigned() + d.host_events.value.to_unsigned()
            if (moving - d.delivered.value.to_unsigned()) % (1 << 32) == 0:
                if CREDIT_LAG > COUNTER_LAG:
                    await self.cycle(CREDIT_LAG - COUNTER_LAG)
                return
            await self.cycle()
        self.hang("host events not delivered between ticks")

    async def write_region(self, core, region, words):
        for i, w in enumerate(words):
            await self.write(region, i, w, core=core)

    async def read_region(self, core, region, n):
        return await self.read_many(region, range(n), core=core)

    async def inject(self, events):
        lay = self.g.axon_event_layout
        words = [pack(lay, core=c, axon=a) for c, a in events]
        # host_in.ready depends on valid through the root arbiter.
        await self.send("host_in", words, ready_follows_valid=True)

    async def drain(self):
        return [(e["tick"], e["core"], e["neuron"]) for e in await super().drain()]

    def counters(self):
        d = self.dut
        got = {name: getattr(d, name).value.to_unsigned() for name in COUNTERS}
        for name in ("carried", "stalled"):
            got[name] = [
                getattr(d, f"{name}__{i}").value.to_unsigned() for i in range(len(self.g.levels))
            ]
        return got


class CoreTB(HarnessTB):
    """One core (``CoreHarness``): events are its spikes; input events are
    axon numbers (``Cat(axon, vc)`` for an engine of virtual cores)."""

    idle_inputs = ("axon_in__valid",)
    regions = CORE_REGIONS

    def __init__(self, dut, g: Geometry):
        super().__init__(dut, g, Core.spike_layout_of(g))

    async def inject(self, axons):
        # `ready` depends on the core's state only: no need to settle.
        await self.send("axon_in", axons)
