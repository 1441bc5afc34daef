"""Fan-out unit of one core engine: spikes in, output and routed events out.

Each spike from the core (``spike_layout``) is queued, its ``fanout``
routing entries (``route_layout``, one memory word per neuron) are read,
and it leaves as bus packets (``packet_layout``): first an output event if
the neuron is output-enabled, then one routed event per valid entry, in
entry order (docs/semantics.md §5). An entry whose core does not exist is
ignored. Golden model: ``sim/top.py``.

Timing: a spike's routing word is read as the spike arrives and queued
with it (the table's output drives nothing but the queue, whose read side
is registered: ECP5 timing); a spike's first packet is on ``packet_out``
six clocks after the spike is taken, and a spike that makes k packets
occupies the emitter for max(1, k) clocks when ``packet_out`` is ready (a
stream of spikes costs no bubbles).
The spike queue (``queue_depth`` spikes) lets the core run ahead;
``spike_in.ready`` is registered, and the core stalls only when the queue
is nearly full. ``packet_out`` goes through a two-entry buffer, so
no combinational path crosses into the bus. ``busy`` is high while any
spike or packet is held here.

The ``cfg_*`` ports read and write one routing entry (index = neuron *
fanout + entry) per clock while ``busy`` is low; read data is valid on
``cfg_rdata`` (registered) two clocks after ``cfg_re``.

With virtual cores (``Geometry.virtual`` = V > 1) one unit serves the
engine's V logical cores: spikes carry ``Cat(neuron, vc)``
(``Core.spike_layout_of``), the table holds V cores' words, ``cfg_vc``
selects one for the configuration port, and output events name core
``engine * V + vc``.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeloom.defs import Geometry

from .core import Core, config_members
from .fifo import PairFIFO, RegisteredFIFO

__all__ = ["Fanout"]


class Fanout(wiring.Component):
    """Routing table and packet emitter of core engine ``engine`` (its V cores)."""

    def __init__(self, geometry: Geometry, engine: int = 0, queue_depth: int = 16):
        if not 0 <= engine < geometry.engines:
            raise ValueError(f"engine {engine} out of range 0..{geometry.engines - 1}")
        if queue_depth < 1:
            raise ValueError(f"queue_depth = {queue_depth}: must be >= 1")
        self.geometry = geometry
        self.engine = engine
        self.queue_depth = queue_depth
        g = geometry
        self.spike_layout = Core.spike_layout_of(g)
        super().__init__(
            {
                "spike_in": In(stream.Signature(self.spike_layout)),
                "packet_out": Out(stream.Signature(g.packet_layout)),
                "busy": Out(1),
                **config_members(g, region=False),
                **({"cfg_vc": In(g.virtual_bits)} if g.virtual_bits else {}),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        fan = g.fanout
        fan_bits = (fan - 1).bit_length()
        entry = g.route_layout

        nb, vb = g.neuron_bits, g.virtual_bits
        m.submodules.routes = routes = Memory(
            shape=data.ArrayLayout(entry, fan), depth=g.virtual * g.neurons, init=[]
        )
        rd, wr = routes.read_port(), routes.write_port(granularity=1)
        # A queued spike carries its routing word and which of its F + 1
        # packets are due (item 0: the output event, items 1..F: valid entries).
        queued = data.StructLayout(
            {"neuron": self.spike_layout["neuron"].shape, "due": fan + 1, "word": routes.shape}
        )
        # A spike is accepted while the queue's level, registered, shows room
        # for it and the spikes in flight; the queue is written without a
        # check, so it has three places more than it ever holds (its `w_rdy`
        # is high up to level depth - 4).
        m.submodules.queue = queue = RegisteredFIFO(width=queued.size, depth=self.queue_depth + 3)
        m.submodules.obuf = obuf = PairFIFO(width=g.packet_layout.size)

        # -- the spike's routing word: read as it arrives, queued with it ------
        # The table's output only goes into the queue (ECP5 timing: no logic
        # after a block RAM's slow output).
        room = Signal()
        s_valid = Signal()
        s_spike = Signal(self.spike_layout)
        take = self.spike_in.valid & room
        m.d.comb += self.spike_in.ready.eq(room)
        m.d.sync += [
            room.eq(queue.level + s_valid + take < self.queue_depth),
            s_valid.eq(take),
            s_spike.eq(self.spike_in.payload),
        ]
        word_in = data.ArrayLayout(entry, fan)(rd.data)
        # An entry naming a core that does not exist (possible only when
        # ``cores`` is not a power of two) is ignored, like an invalid one.
        valid_bits = Cat(*[word_in[f].valid & (word_in[f].core < g.cores) for f in range(fan)])
        m.d.comb += [
            queue.w_data.eq(Cat(s_spike.neuron, s_spike.output, valid_bits, rd.data)),
            queue.w_en.eq(s_valid),
        ]
        m.d.comb += [
            self.packet_out.payload.eq(obuf.r_data),
            self.packet_out.valid.eq(obuf.r_rdy),
            obuf.r_en.eq(self.packet_out.ready),
        ]

        # -- emitter: the current spike's due packets, lowest item first -------
        head = queued(queue.r_data)
        cur_neuron = Signal.like(head.neuron)
        word = Signal(routes.shape)
        rem = Signal(fan + 1)
        item = Signal(range(fan + 1))
        for i in reversed(range(fan + 1)):
            with m.If(rem[i]):
                m.d.comb += item.eq(i)
        route = word[(item - 1)[:fan_bits] if fan > 1 else 0]
        pkt = g.packet_layout(Signal(g.packet_layout.size))
        # The output event names its logical core: engine * V + vc.
        source = Cat(cur_neuron[nb:], Const(self.engine, max(1, g.core_bits - vb)))
        with m.If(item == 0):
            m.d.comb += [pkt.output.eq(1), pkt.core.eq(source), pkt.index.eq(cur_neuron[:nb])]
        with m.Else():
            m.d.comb += [pkt.output.eq(0), pkt.core.eq(route.core), pkt.index.eq(route.axon)]
        m.d.comb += [obuf.w_data.eq(pkt), obuf.w_en.eq(rem != 0)]

        sent = (rem != 0) & obuf.w_rdy
        left = Mux(sent, rem & ~(Const(1, fan + 1) << item), rem)
        pop = (left == 0) & queue.r_rdy
        m.d.comb += queue.r_en.eq(pop)
        m.d.sync += rem.eq(left)
        with m.If(pop):
            m.d.sync += [cur_neuron.eq(head.neuron), rem.eq(head.due), word.eq(head.word)]

        # -- routing-table read address and configuration port ---------------
        cfg_entry = self.cfg_addr[:fan_bits] if fan > 1 else Const(0, 1)
        cfg_vc = self.cfg_vc if vb else Const(0, 0)
        cfg_neuron = Cat(self.cfg_addr[fan_bits : fan_bits + max(1, nb)], cfg_vc)
        entry_q = Signal(range(fan))
        # Read data is registered: valid two clocks after cfg_re.
        rvalid1 = Signal()
        m.d.sync += [rvalid1.eq(self.cfg_re), self.cfg_rvalid.eq(rvalid1)]
        with m.If(self.cfg_re):
            m.d.sync += entry_q.eq(cfg_entry)
        with m.If(self.busy):
            m.d.comb += rd.addr.eq(self.spike_in.payload.neuron)
        with m.Else():
            m.d.comb += rd.addr.eq(cfg_neuron)
        m.d.sync += self.cfg_rdata.eq(rd.data[entry_q].as_value())
        m.d.comb += [
            wr.addr.eq(cfg_neuron),
            wr.data.eq(Cat(*[self.cfg_wdata[: entry.size]] * fan)),
            wr.en.eq(Mux(self.cfg_we & ~self.busy, Const(1, fan) << cfg_entry, 0)),
        ]
        m.d.comb += self.busy.eq(
            self.spike_in.valid | s_valid | (queue.level != 0) | (rem != 0) | (obuf.level != 0)
        )
        return m
