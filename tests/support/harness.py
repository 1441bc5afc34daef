"""Test harnesses around one core and the chip: an output FIFO and a throttle.

The FIFO holds a whole tick of output (spikes of a core, output events of
the chip), so the cocotb testbench can let the simulator run a tick without
waking Python on every clock, and drain it afterwards. ``throttle`` lowers
the FIFO's write-ready pseudo-randomly (from an LFSR), to stress the
design's backpressure: only timing may change. Its modes (``THROTTLE``):
0 never, 1 about three clocks in four, 2 one in four, 3 seven in eight.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom.hdl.core import Core

#: Throttle modes by name: refused output clocks, about (see the module docstring).
THROTTLE = {"never": 0, "mostly": 1, "sometimes": 2, "nearly always": 3}


class Harness(wiring.Component):
    """``inner`` with its output stream ``source`` replaced by ``events``.

    Every other member of ``inner`` is passed through under its own name;
    ``events`` comes out of a FIFO of ``depth`` words.
    """

    def __init__(self, inner, source: str, depth: int):
        self.inner, self.source, self.depth = inner, source, depth
        members = {k: v for k, v in inner.signature.members.items() if k != source}
        self.width = inner.signature.members[source].signature.members["payload"].shape.size
        members["events"] = Out(stream.Signature(self.width))
        members["throttle"] = In(2)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        for name, member in inner.signature.members.items():
            if name == self.source:
                continue
            ours, theirs = getattr(self, name), getattr(inner, name)
            if member.is_signature:  # an input stream
                wiring.connect(m, wiring.flipped(ours), theirs)
                continue
            pairs = zip(ours, theirs) if member.dimensions else [(ours, theirs)]
            for a, b in pairs:
                m.d.comb += b.eq(a) if member.flow == In else a.eq(b)

        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=self.width, depth=self.depth)
        source = getattr(inner, self.source)
        lfsr = Signal(16, init=0xACE1)
        m.d.sync += lfsr.eq((lfsr << 1) | (lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]))
        stall = Signal()
        with m.Switch(self.throttle):
            with m.Case(1):
                m.d.comb += stall.eq(lfsr[3] | lfsr[7])
            with m.Case(2):
                m.d.comb += stall.eq(lfsr[3] & lfsr[7])
            with m.Case(3):
                m.d.comb += stall.eq(lfsr[3] | lfsr[7] | lfsr[11])
        m.d.comb += [
            q.w_data.eq(source.payload),
            q.w_en.eq(source.valid & ~stall),
            source.ready.eq(q.w_rdy & ~stall),
            self.events.payload.eq(q.r_data),
            self.events.valid.eq(q.r_rdy),
            q.r_en.eq(self.events.ready),
        ]
        return m


def CoreHarness(geometry, core_cls=Core):
    """One core; ``events`` are its spikes (``spike_layout``)."""
    # Deep enough for a whole tick: every neuron of every logical core spiking.
    return Harness(core_cls(geometry), "spike_out", geometry.virtual * geometry.neurons)


def CountedChip(geometry, queue_depth=16):
    """The chip with its counts summed into 32-bit counters, for the chip on its own.

    The chip sends how many of each counted event happened on each clock
    (``counts``, registered: ``hdl/top.COUNTER_LAG``); in the system the
    UART block keeps the counters, in block RAM (``hdl/uart_regs.py``, tested
    there). Here ``routed`` .. ``host_dropped``, ``carried[i]`` and
    ``stalled[i]`` (docs/semantics.md §5) add them up on every clock,
    wrapping at 32 bits, from reset or ``clear_counters`` (registered like
    the counts, so a clear takes effect ``COUNTER_LAG`` clocks later). The
    class is made from ``hdl/top.Chip`` when called, so a mutant in its place
    is the one counted.
    """
    from amaranth.hdl import Signal

    from spikeloom.defs import COUNTERS
    from spikeloom.hdl import top

    g, nlev = geometry, len(geometry.levels)

    class Counted(top.Chip):
        def __init__(self):
            self.geometry, self.queue_depth = g, queue_depth
            members = dict(top.Chip.signature_of(g).members)
            members |= {name: Out(32) for name in COUNTERS}
            members |= {"carried": Out(32).array(nlev), "stalled": Out(32).array(nlev)}
            members["clear_counters"] = In(1)
            wiring.Component.__init__(self, wiring.Signature(members))

        def elaborate(self, platform):
            m = super().elaborate(platform)
            clear = Signal()
            m.d.sync += clear.eq(self.clear_counters)
            totals = [(getattr(self, name), name) for name in COUNTERS]
            for i in range(nlev):
                totals += [(self.carried[i], f"carried{i}"), (self.stalled[i], f"stalled{i}")]
            for total, name in totals:
                m.d.sync += total.eq(total + self.counts[name])
                with m.If(clear):
                    m.d.sync += total.eq(0)
            return m

    return Counted()


def ChipHarness(geometry):
    """The chip (``CountedChip``); ``events`` are its output events (``event_layout``)."""
    # Every neuron fires at most once a tick.
    return Harness(CountedChip(geometry), "out", geometry.cores * geometry.neurons)
