"""Bus helpers shared by the cocotb testbenches of ``tests/harness.py`` designs.

One clock step is a falling edge: inputs change there and are sampled on
the next rising edge. A subclass names its design's idle inputs, its
output layout and how one input event is driven.
"""

import json

import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly

from spikeloom.defs import Geometry, unpack


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


class Mismatch(AssertionError):
    pass


def fail(result_path, msg):
    """Record a verdict for pytest and stop the cocotb test."""
    with open(result_path, "w") as f:
        json.dump({"ok": False, "message": msg}, f)
    raise Mismatch(msg)


class HarnessTB:
    #: Inputs held low at reset, besides the ones every harness has.
    idle_inputs = ()

    def __init__(self, dut, g: Geometry, event_layout):
        self.dut, self.g, self.event_layout = dut, g, event_layout
        self.clk = dut.clk

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
        for clock in range(len(indices) + 16):
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

    async def send(self, stream, words, ready_follows_valid=False):
        """Drive ``words`` into input stream ``stream``, one handshake each.

        With ``ready_follows_valid`` the design's ready depends on valid
        combinationally, so it is read once the values have settled.
        """
        d = self.dut
        payload, valid = getattr(d, f"{stream}__payload"), getattr(d, f"{stream}__valid")
        ready = getattr(d, f"{stream}__ready")
        for w in words:
            payload.value = int(w)
            valid.value = 1
            while True:
                if ready_follows_valid:
                    await ReadOnly()
                taken = bool(ready.value)
                await FallingEdge(self.clk)
                if taken:
                    break
        valid.value = 0

    async def inject(self, events):  # pragma: no cover - per design
        raise NotImplementedError

    async def run_tick(self, during=()):
        """Run one tick; inject ``during`` (next tick's events) while it runs."""
        d = self.dut
        d.tick_start.value = 1
        await self.cycle()
        d.tick_start.value = 0
        await self.inject(during)
        while d.busy.value:
            await FallingEdge(d.busy)
            await self.cycle()

    async def drain(self):
        """Everything in the output FIFO, unpacked, in order."""
        d = self.dut
        events = []
        d.events__ready.value = 1
        while d.events__valid.value:
            events.append(unpack(self.event_layout, d.events__payload.value.to_unsigned()))
            await self.cycle()
        d.events__ready.value = 0
        return events
