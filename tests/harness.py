"""Test harnesses around one core and the chip: an output FIFO and a throttle.

The FIFO holds a whole tick of spikes, so the cocotb testbench can
let the simulator run a tick without waking Python on every clock, and
drain the events afterwards. ``throttle`` lowers the FIFO's write-ready on
three clocks of four (pseudo-randomly, from an LFSR), to stress the core's
backpressure: only timing may change.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom.hdl.core import Core


def _throttled(m, throttle, source, q):
    """Statements feeding stream ``source`` into FIFO ``q``; with ``throttle``
    high, the FIFO refuses on about three clocks in four (an LFSR)."""
    lfsr = Signal(16, init=0xACE1)
    m.d.sync += lfsr.eq((lfsr << 1) | (lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]))
    stall = throttle & (lfsr[3] | lfsr[7])
    return [
        q.w_data.eq(source.payload),
        q.w_en.eq(source.valid & ~stall),
        source.ready.eq(q.w_rdy & ~stall),
    ]


class CoreHarness(wiring.Component):
    def __init__(self, geometry, core_cls=Core):
        self.geometry = geometry
        self.core = core_cls(geometry)
        members = {
            name: member
            for name, member in self.core.signature.members.items()
            if name != "spike_out"
        }
        members["events"] = Out(stream.Signature(geometry.spike_layout.size))
        members["throttle"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        g = self.geometry
        m.submodules.core = core = self.core
        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=g.spike_layout.size, depth=g.neurons)
        for name, member in core.signature.members.items():
            if name == "spike_out":
                continue
            if member.is_port:
                ours, theirs = getattr(self, name), getattr(core, name)
                if member.flow == In:
                    m.d.comb += theirs.eq(ours)
                else:
                    m.d.comb += ours.eq(theirs)
        wiring.connect(m, wiring.flipped(self.axon_in), core.axon_in)

        m.d.comb += _throttled(m, self.throttle, core.spike_out, q)
        m.d.comb += [
            self.events.payload.eq(q.r_data),
            self.events.valid.eq(q.r_rdy),
            q.r_en.eq(self.events.ready),
        ]
        return m


class ChipHarness(wiring.Component):
    """The chip with an output FIFO (one tick of events) and a throttle."""

    def __init__(self, geometry):
        from spikeloom.hdl.top import Chip

        self.geometry = geometry
        self.chip = Chip(geometry)
        members = {
            name: member for name, member in self.chip.signature.members.items() if name != "out"
        }
        members["events"] = Out(stream.Signature(geometry.event_layout.size))
        members["throttle"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        g = self.geometry
        m.submodules.chip = chip = self.chip
        depth = g.cores * g.neurons  # every neuron fires at most once a tick
        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=g.event_layout.size, depth=depth)
        for name, member in chip.signature.members.items():
            if name in ("out", "host_in"):
                continue
            ours, theirs = getattr(self, name), getattr(chip, name)
            pairs = zip(ours, theirs) if member.dimensions else [(ours, theirs)]
            for a, b in pairs:
                m.d.comb += b.eq(a) if member.flow == In else a.eq(b)
        wiring.connect(m, wiring.flipped(self.host_in), chip.host_in)
        m.d.comb += _throttled(m, self.throttle, chip.out, q)
        m.d.comb += [
            self.events.payload.eq(q.r_data),
            self.events.valid.eq(q.r_rdy),
            q.r_en.eq(self.events.ready),
        ]
        return m
