"""A synchronous FIFO whose read data comes from flip-flops, not a block RAM.

``amaranth.lib.fifo.SyncFIFOBuffered`` drives ``r_data`` straight from its
memory's read port, and its ``r_en`` reaches the memory's clock enable. In
block RAM that output is slow (5.8 ns clock-to-out on the ECP5, a third of a
50 MHz clock), so logic that decodes ``r_data`` and decides ``r_en`` made the
critical paths of the link and the fan-out unit. :class:`RegisteredFIFO`
puts a two-entry FIFO in flip-flops behind the buffered one: the block
RAM's output goes only into those registers, and ``r_en`` reaches only them.

Same ports as ``amaranth.lib.fifo`` (``w_data``, ``w_en``, ``w_rdy``,
``r_data``, ``r_en``, ``r_rdy``, ``level``) and the same capacity
(``depth``). Timing: a write is readable three clocks later (two more than
``SyncFIFOBuffered``); one write and one read per clock; nothing stalls but
a full or empty FIFO.
"""

from amaranth.hdl import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisteredFIFO"]


class RegisteredFIFO(wiring.Component):
    """``width`` bits, ``depth`` (at least 3) entries; see the module docstring."""

    def __init__(self, *, width: int, depth: int):
        if depth < 3:
            raise ValueError(f"depth = {depth}: a RegisteredFIFO holds at least 3 entries")
        self.width, self.depth = width, depth
        super().__init__(
            {
                "w_data": In(width),
                "w_en": In(1),
                "w_rdy": Out(1),
                "r_data": Out(width),
                "r_en": In(1),
                "r_rdy": Out(1),
                "level": Out(range(depth + 1)),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.bulk = bulk = fifo.SyncFIFOBuffered(width=self.width, depth=self.depth - 2)
        m.submodules.out = out = fifo.SyncFIFO(width=self.width, depth=2)
        m.d.comb += [
            bulk.w_data.eq(self.w_data),
            bulk.w_en.eq(self.w_en),
            self.w_rdy.eq(bulk.w_rdy),
            out.w_data.eq(bulk.r_data),
            out.w_en.eq(bulk.r_rdy),
            bulk.r_en.eq(out.w_rdy),
            self.r_data.eq(out.r_data),
            self.r_rdy.eq(out.r_rdy),
            out.r_en.eq(self.r_en),
            self.level.eq(bulk.level + out.level),
        ]
        return m
