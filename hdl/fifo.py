"""Synchronous FIFOs whose read data comes from flip-flops.

:class:`PairFIFO` is a two-entry FIFO with ``amaranth.lib.fifo.SyncFIFO``'s
ports and timing (``depth=2``: a write is readable on the next clock; one
write and one read per clock; ``w_rdy`` is low only when it holds two), held
in two explicit registers. A depth-2 ``SyncFIFO`` becomes LUT RAM on the
ECP5, whose asynchronous read is slow and which tripped a yosys abc9
assertion (``abc_ops_reintegrate.cc:596``) in large ULX3S builds; the bus
segments' outputs, the fan-out units' output buffers and the chip's host
queue use this one instead.

``amaranth.lib.fifo.SyncFIFOBuffered`` drives ``r_data`` straight from its
memory's read port, and its ``r_en`` reaches the memory's clock enable. In
block RAM that output is slow (5.8 ns clock-to-out on the ECP5, a third of a
50 MHz clock), so logic that decodes ``r_data`` and decides ``r_en`` made the
critical paths of the link and the fan-out unit. :class:`RegisteredFIFO`
puts a :class:`PairFIFO` behind the buffered FIFO: the block
RAM's output goes only into its registers, and ``r_en`` reaches only them.

Same ports as ``amaranth.lib.fifo`` (``w_data``, ``w_en``, ``w_rdy``,
``r_data``, ``r_en``, ``r_rdy``, ``level``), at most ``depth`` entries
(``level`` counts them all). ``w_rdy`` is the buffered part's: it can be
low from ``level`` = ``depth`` − 3 on while entries move to the registers,
so a writer that must never be refused keeps ``level`` ≤ ``depth`` − 4;
once the reader stops, the FIFO fills to ``depth``. Timing: a write is
readable three clocks later (one more than ``SyncFIFOBuffered``; two at
``depth`` 3); one write and one read per clock; nothing stalls but
a full or empty FIFO. On the iCE40, whose block RAM output is fast, it is
``SyncFIFOBuffered`` itself (two clocks; no registers, fewer logic cells).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PairFIFO", "RegisteredFIFO"]


def _fifo_ports(width, depth):
    return {
        "w_data": In(width),
        "w_en": In(1),
        "w_rdy": Out(1),
        "r_data": Out(width),
        "r_en": In(1),
        "r_rdy": Out(1),
        "level": Out(range(depth + 1)),
    }


class PairFIFO(wiring.Component):
    """``width`` bits, two entries in flip-flops; see the module docstring."""

    def __init__(self, *, width: int):
        self.width, self.depth = width, 2
        super().__init__(_fifo_ports(width, 2))

    def elaborate(self, platform):
        m = Module()
        head, tail = Signal(self.width), Signal(self.width)  # `head` is read first
        n = self.level
        take = self.w_en & self.w_rdy
        give = self.r_en & self.r_rdy
        m.d.comb += [
            self.w_rdy.eq(n != 2),
            self.r_rdy.eq(n != 0),
            self.r_data.eq(head),
        ]
        m.d.sync += n.eq(n + take - give)
        with m.If(give):
            m.d.sync += head.eq(tail)
        with m.If(take):
            with m.If((n == 0) | ((n == 1) & give)):
                m.d.sync += head.eq(self.w_data)
            with m.Else():
                m.d.sync += tail.eq(self.w_data)
        return m


class RegisteredFIFO(wiring.Component):
    """``width`` bits, ``depth`` (at least 3) entries; see the module docstring."""

    def __init__(self, *, width: int, depth: int):
        if depth < 3:
            raise ValueError(f"depth = {depth}: a RegisteredFIFO holds at least 3 entries")
        self.width, self.depth = width, depth
        super().__init__(_fifo_ports(width, depth))

    def elaborate(self, platform):
        m = Module()
        if str(getattr(platform, "family", "")).lower() == "ice40":
            return self._plain(m)  # its block RAM's output is fast: no registers
        m.submodules.bulk = bulk = fifo.SyncFIFOBuffered(width=self.width, depth=self.depth - 2)
        m.submodules.regs = regs = PairFIFO(width=self.width)
        m.d.comb += [
            bulk.w_data.eq(self.w_data),
            bulk.w_en.eq(self.w_en),
            self.w_rdy.eq(bulk.w_rdy),
            regs.w_data.eq(bulk.r_data),
            regs.w_en.eq(bulk.r_rdy),
            bulk.r_en.eq(regs.w_rdy),
            self.r_data.eq(regs.r_data),
            self.r_rdy.eq(regs.r_rdy),
            regs.r_en.eq(self.r_en),
            self.level.eq(bulk.level + regs.level),
        ]
        return m

    def _plain(self, m):
        """``SyncFIFOBuffered`` itself (it meets the contract above)."""
        m.submodules.bulk = bulk = fifo.SyncFIFOBuffered(width=self.width, depth=self.depth)
        m.d.comb += [
            bulk.w_data.eq(self.w_data),
            bulk.w_en.eq(self.w_en),
            self.w_rdy.eq(bulk.w_rdy),
            self.r_data.eq(bulk.r_data),
            self.r_rdy.eq(bulk.r_rdy),
            bulk.r_en.eq(self.r_en),
            self.level.eq(bulk.level),
        ]
        return m
