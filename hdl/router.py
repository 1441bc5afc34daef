"""The hierarchical bus tree that carries events between cores.

Cores are the leaves. Level i of the tree has C / prod(levels[:i+1])
segments, each joining ``levels[i]`` children (cores at level 0, segments
of level i-1 above); the top level is one root segment (docs/semantics.md
§5; golden model: ``sim/top.py``).

Every segment (:class:`Segment`) is one arbiter that moves at most one
packet per clock from one of its inputs (each child's upward stream, the
parent's downward stream; at the root, host input instead) into one of its
outputs (each child's downward stream, the parent's upward stream; at the
root, the output stream). A routed packet climbs while its destination
core is outside the segment's block, so it turns at the lowest common
ancestor and descends; output packets climb to the root and leave; host
packets enter at the root and descend. Sibling segments work in parallel.

Timing: every output is a two-entry FIFO in flip-flops (``hdl/fifo.py``)
owned by the segment, so each
hop costs one clock of latency and nothing combinational crosses a
segment boundary. The arbiter grants, round robin, only inputs whose
target output has room; a blocked packet never holds the segment while
another could move, and nothing can deadlock: downward packets always
drain into the cores (which accept an axon event on every clock but one
per tick), upward ones into the root output or downward paths.
"""

import math

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom.defs import Geometry

from .fifo import PairFIFO

__all__ = ["Segment", "BusTree"]


class Segment(wiring.Component):
    """One bus segment: ``level`` of the tree, block ``index`` of that level.

    Inputs ``0 .. b-1`` are the children's upward streams, input ``b`` the
    parent's downward stream (host input at the root). Outputs ``0 .. b-1``
    go down to the children, output ``b`` up to the parent (out of the chip
    at the root). ``carried`` pulses when a packet moves; ``stalled`` when a
    packet waited at an input and did not move this clock.
    """

    def __init__(self, geometry: Geometry, level: int, index: int):
        g = geometry
        self.geometry, self.level, self.index = g, level, index
        self.branch = b = g.levels[level]
        self.child_span = math.prod(g.levels[:level])  # cores per child
        self.span = self.child_span * b  # cores in this segment's block
        self.is_root = level == len(g.levels) - 1
        pkt = stream.Signature(g.packet_layout)
        super().__init__(
            {
                "inputs": In(pkt).array(b + 1),
                "outputs": Out(pkt).array(b + 1),
                "carried": Out(1),
                "stalled": Out(1),
            }
        )

    def _target(self, m, p):
        """The output a packet goes to (combinational)."""
        b, lo = self.branch, self.index * self.span
        target = Signal(range(b + 1), init=b)
        in_block = (p.core >= lo) & (p.core < lo + self.span)
        with m.If(~p.output & (in_block if not self.is_root else 1)):
            for j in range(b):
                with m.If(p.core >= lo + j * self.child_span):
                    m.d.comb += target.eq(j)
        return target

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        n = self.branch + 1
        bufs = []
        for o in range(n):
            buf = PairFIFO(width=g.packet_layout.size)
            m.submodules[f"out{o}"] = buf
            port = self.outputs[o]
            m.d.comb += [
                port.payload.eq(buf.r_data),
                port.valid.eq(buf.r_rdy),
                buf.r_en.eq(port.ready),
            ]
            bufs.append(buf)
        room = Cat(*[buf.w_rdy for buf in bufs])

        targets = [self._target(m, self.inputs[i].payload) for i in range(n)]
        eligible = Cat(*[self.inputs[i].valid & room.bit_select(targets[i], 1) for i in range(n)])
        waiting = Cat(*[self.inputs[i].valid for i in range(n)])

        # Round robin: the lowest eligible input above the last grant, else
        # the lowest eligible input.
        last = Signal(range(n))
        above = Cat(*[eligible[i] & (last < i) for i in range(n)])
        grant = Signal(range(n))
        for i in reversed(range(n)):
            with m.If(eligible[i]):
                m.d.comb += grant.eq(i)
        with m.If(above != 0):
            for i in reversed(range(n)):
                with m.If(above[i]):
                    m.d.comb += grant.eq(i)
        move = eligible != 0
        with m.If(move):
            m.d.sync += last.eq(grant)

        target = Signal(range(n))
        payload = Signal(g.packet_layout.size)
        with m.Switch(grant):
            for i in range(n):
                with m.Case(i):
                    m.d.comb += [
                        target.eq(targets[i]),
                        payload.eq(self.inputs[i].payload),
                        self.inputs[i].ready.eq(move),
                    ]
        for o, buf in enumerate(bufs):
            m.d.comb += [buf.w_data.eq(payload), buf.w_en.eq(move & (target == o))]
        granted = Signal(n)
        m.d.comb += granted.eq(move << grant)
        m.d.comb += [
            self.carried.eq(move),
            self.stalled.eq((waiting & ~granted) != 0),
        ]
        return m


class BusTree(wiring.Component):
    """All segments of ``geometry.levels``, wired leaves first.

    ``up_in[c]`` takes core c's packets, ``down_out[c]`` delivers axon events
    to core c (the packet's ``index`` is the axon). ``host_in`` enters and
    ``out`` leaves at the root. Per level and per clock, ``carried`` and
    ``stalled`` give the number of segments of that level that moved a packet
    and that stalled (the chip accumulates them, ``hdl/top.py``).
    """

    def __init__(self, geometry: Geometry):
        g = geometry
        self.geometry = g
        pkt = stream.Signature(g.packet_layout)
        nlev = len(g.levels)
        super().__init__(
            {
                "up_in": In(pkt).array(g.cores),
                "down_out": Out(pkt).array(g.cores),
                "host_in": In(pkt),
                "out": Out(pkt),
                "carried": Out(range(g.cores + 1)).array(nlev),
                "stalled": Out(range(g.cores + 1)).array(nlev),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        levels = []
        for i in range(len(g.levels)):
            count = g.cores // math.prod(g.levels[: i + 1])
            segs = [Segment(g, i, k) for k in range(count)]
            for k, s in enumerate(segs):
                m.submodules[f"seg{i}_{k}"] = s
            levels.append(segs)

        for i, segs in enumerate(levels):
            b = g.levels[i]
            for k, s in enumerate(segs):
                for j in range(b):
                    if i == 0:
                        c = k * b + j
                        wiring.connect(m, wiring.flipped(self.up_in[c]), s.inputs[j])
                        wiring.connect(m, s.outputs[j], wiring.flipped(self.down_out[c]))
                    else:
                        child = levels[i - 1][k * b + j]
                        cb = g.levels[i - 1]
                        wiring.connect(m, child.outputs[cb], s.inputs[j])
                        wiring.connect(m, s.outputs[j], child.inputs[cb])
        root = levels[-1][0]
        rb = g.levels[-1]
        wiring.connect(m, wiring.flipped(self.host_in), root.inputs[rb])
        wiring.connect(m, root.outputs[rb], wiring.flipped(self.out))

        for i, segs in enumerate(levels):
            m.d.comb += [
                self.carried[i].eq(sum(s.carried for s in segs)),
                self.stalled[i].eq(sum(s.stalled for s in segs)),
            ]
        return m
