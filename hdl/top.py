"""The multi-core chip: cores, fan-out units, the bus tree, the tick barrier.

Golden model: ``sim/top.py``; semantics: docs/semantics.md §5.

Each core's spikes go through its fan-out unit (``hdl/fanout.py``) onto the
bus tree (``hdl/router.py``); routed and host events arrive at the cores'
``axon_in`` and belong to the next tick to start. Output events leave at
the root, stamped here with the tick they were fired in.

Tick barrier (credit counting): ``inflight`` counts the packets on the bus,
up by one for every packet that enters it (from a fan-out unit or
``host_in``) and down by one for every packet that leaves it (into a core's
``axon_in`` or out of ``out``), each term registered and then summed, so
the count runs two clocks behind the handshakes. A tick is over on the
first clock at which every core and every fan-out unit is idle (a unit that
sends is busy), ``inflight`` is 0 and no registered entering term is pending
(a host event entering then belongs to the next tick):
then every event of the tick, routed or output, has been delivered and
nothing of it can still be moving. ``tick_start`` starts the next tick
at that point (the cores see it one clock later, from a register); a start
requested earlier, while a tick runs or events are still in flight, waits
for it with ``busy`` high (one request is held: pulses while a start is
already waiting merge with it).
Host events accepted before the ``tick_start`` pulse belong to that tick,
events accepted after it to the next one: ``host_in`` is closed from the
pulse until the tick has started.

Timing: a tick lasts from its start until the barrier sees the chip
quiet (``last_tick_cycles``): at least the slowest core's tick, plus what
the fan-out units and the bus still hold then (each bus hop is one clock;
a segment moves one packet per clock). Outputs stall on ``out.ready``, and
then everything queued behind them waits: only timing changes.

Counts (``counts``, ``count_layout``): per clock, how many of each counted
event happened, registered (``COUNTER_LAG`` clock behind the fabric): routed
events sent, events delivered to cores, host events in, output events out,
host events dropped because their core does not exist; per level, packets
carried and stalled segment-clocks (``hdl/router.py``). The 32-bit
counters of docs/semantics.md §5 are kept by the UART block, in block RAM
(``hdl/uart_regs.py``), so no 32-bit adder is here.

Configuration: ``cfg_core`` selects the core; ``Region.ROUTES`` goes to its
fan-out unit, the other regions to the core. Allowed while ``busy`` is low;
``cfg_rdata`` is valid while ``cfg_rvalid`` is high (the selected unit's
strobe, registered: four clocks after ``cfg_re`` for a routing entry,
five for a core's element, as each unit's port is registered; a reader
waits for it rather than counting clocks). A write takes effect one clock
after ``cfg_we``.
"""

import math

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom.defs import COUNTERS, EPISODE_BITS, LEARN_LAYOUT, Geometry, Region

from .core import Core, config_members
from .fanout import Fanout
from .fifo import PairFIFO
from .router import BusTree

__all__ = ["Chip", "COUNTER_LAG", "CREDIT_LAG", "count_max", "count_layout"]

#: Clocks by which the chip's counts trail the fabric.
COUNTER_LAG = 1
#: Clocks by which the tick barrier's credit count trails the handshakes.
CREDIT_LAG = 2


def count_max(geometry: Geometry) -> dict[str, int]:
    """The most of each count in one clock: ``COUNTERS``, then ``carried{i}``, ``stalled{i}``.

    The register names are these, upper case (``protocol.registers``).
    """
    g = geometry
    most = dict.fromkeys(COUNTERS, 1) | {"routed": g.engines, "delivered": g.engines}
    segments = [g.cores // math.prod(g.levels[: i + 1]) for i in range(len(g.levels))]
    most |= {f"carried{i}": n for i, n in enumerate(segments)}
    return most | {f"stalled{i}": n for i, n in enumerate(segments)}


def count_layout(geometry: Geometry) -> data.StructLayout:
    """The chip's ``counts`` port: one field per counter, as wide as its most per clock."""
    return data.StructLayout({k: range(n + 1) for k, n in count_max(geometry).items()})


class Chip(wiring.Component):
    """All cores of ``geometry`` on one bus tree. See the module docstring."""

    def __init__(self, geometry: Geometry, queue_depth: int = 16):
        g = geometry
        self.geometry = g
        self.queue_depth = queue_depth
        super().__init__(self.signature_of(g))

    @staticmethod
    def signature_of(geometry: Geometry) -> wiring.Signature:
        """The chip's ports, without making a chip (the UART block's port is its flip)."""
        g = geometry
        return wiring.Signature(
            {
                "host_in": In(stream.Signature(g.axon_event_layout)),
                "out": Out(stream.Signature(g.event_layout)),
                "tick_start": In(1),
                "busy": Out(1),
                "tick": Out(g.tick_bits),
                "last_tick_cycles": Out(32),
                **config_members(g, core=True),
                "counts": Out(count_layout(g)),
                # Learning (docs/semantics.md section 6).
                "learn_cfg": In(LEARN_LAYOUT),
                "episode_restart": In(1),
                "phase": Out(EPISODE_BITS),
                "seed": In(32),
                "seed_core": In(g.core_bits),
                "seed_we": In(1),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        m.submodules.bus = bus = BusTree(g)
        # One core engine and one fan-out unit per V logical cores. An
        # engine's packets enter the bus at its first core's port (its cores
        # share a leaf segment, which routes by destination); the others idle.
        cores = [Core(g, e) for e in range(g.engines)]
        fans = [Fanout(g, e, self.queue_depth) for e in range(g.engines)]
        for e, (core, fan) in enumerate(zip(cores, fans)):
            m.submodules[f"core{e}"] = core
            m.submodules[f"fanout{e}"] = fan
            mine = range(e * g.virtual, (e + 1) * g.virtual)
            wiring.connect(m, core.spike_out, fan.spike_in)
            wiring.connect(m, fan.packet_out, bus.up_in[mine[0]])
            for c in mine[1:]:
                m.d.comb += bus.up_in[c].valid.eq(0)
            self._axons(m, core, [bus.down_out[c] for c in mine])

        # -- host input (events to nonexistent cores are dropped) -----------
        # Closed from the tick_start pulse until the tick starts, so an event
        # belongs to the tick it was sent before (module docstring). Accepted
        # events wait in a two-entry queue (counted in flight), which keeps
        # the host's handshake off the bus arbiter's paths.
        pending = Signal()
        starting = Signal()  # the barrier's START clock
        host_open = ~self.tick_start & ~pending & ~starting
        host_ok = self.host_in.payload.core < g.cores
        m.submodules.host_q = host_q = PairFIFO(width=g.packet_layout.size)
        host_pkt = Signal(g.packet_layout)
        m.d.comb += [
            host_pkt.output.eq(0),
            host_pkt.core.eq(self.host_in.payload.core),
            host_pkt.index.eq(self.host_in.payload.axon),
            host_q.w_data.eq(host_pkt),
            host_q.w_en.eq(self.host_in.valid & host_ok & host_open),
            self.host_in.ready.eq((host_q.w_rdy | ~host_ok) & host_open),
            bus.host_in.payload.eq(host_q.r_data),
            bus.host_in.valid.eq(host_q.r_rdy),
            host_q.r_en.eq(bus.host_in.ready),
        ]
        host_take = host_q.w_en & host_q.w_rdy
        host_drop = self.host_in.valid & ~host_ok & host_open

        # -- output events, stamped with the tick in progress ----------------
        m.d.comb += [
            self.out.payload.tick.eq(self.tick),
            self.out.payload.core.eq(bus.out.payload.core),
            self.out.payload.neuron.eq(bus.out.payload.index),
            self.out.valid.eq(bus.out.valid),
            bus.out.ready.eq(self.out.ready),
        ]
        out_take = self.out.valid & self.out.ready

        # -- credit count and counters -------------------------------------
        sent = [f.packet_out.valid & f.packet_out.ready for f in fans]
        routed = [s & ~f.packet_out.payload.output for s, f in zip(sent, fans)]
        delivered = [c.axon_in.valid & c.axon_in.ready for c in cores]
        # The credit terms are registered bit by bit, then summed into a
        # register, so no handshake path reaches an adder; the count runs two
        # clocks behind the handshakes, and the barrier waits while an
        # entering term is pending.
        ent_bits = Signal(len(sent) + 1)
        ent_q = Signal(range(len(sent) + 2))
        leave_bits = Signal(len(delivered) + 1)
        leave_q = Signal(range(len(delivered) + 2))
        inflight = Signal(16)
        assert CREDIT_LAG == 2
        m.d.sync += [
            ent_bits.eq(Cat(*sent, host_take)),
            leave_bits.eq(Cat(*delivered, out_take)),
            ent_q.eq(sum(ent_bits)),
            leave_q.eq(sum(leave_bits)),
            inflight.eq(inflight + ent_q - leave_q),
        ]

        # Counts are registered (the counters run COUNTER_LAG clocks behind
        # the fabric), so no handshake path leaves the chip through them.
        assert COUNTER_LAG == 1
        counts = {"routed": sum(routed), "delivered": sum(delivered), "host_events": host_take}
        counts |= {"output_events": out_take, "host_dropped": host_drop}
        for i in range(len(g.levels)):
            counts |= {f"carried{i}": bus.carried[i], f"stalled{i}": bus.stalled[i]}
        for name, count in counts.items():
            m.d.sync += self.counts[name].eq(count)

        # -- tick barrier ----------------------------------------------------
        idle = ~Cat(*[c.busy for c in cores], *[f.busy for f in fans]).any()
        # Host events are left out on purpose: host_in is closed whenever a
        # start is decided, and one accepted while a tick runs belongs to the
        # next tick (it is counted in flight, so that tick waits for it). This
        # keeps the link's handshake off the barrier's path.
        # A fan-out unit that sends is busy (its output buffer holds the
        # packet), so `idle` covers the packets leaving the fan-out units.
        quiet = idle & (inflight == 0) & (ent_q == 0) & ~ent_bits.any()
        cycles = Signal(32)
        start = Signal()
        # Learning parameters and the episode phase are taken when a tick
        # starts, so a register write during a tick changes the next one.
        # `phase` is the phase of the next tick to start.
        learn_q = Signal(LEARN_LAYOUT)
        phase_q = Signal(EPISODE_BITS)
        ep = self.learn_cfg.episode
        with m.If(self.episode_restart):
            m.d.sync += self.phase.eq(0)
        with m.Elif(start):
            m.d.sync += self.phase.eq(Mux((ep == 0) | (self.phase + 1 >= ep), 0, self.phase + 1))
        with m.If(start):
            m.d.sync += [learn_q.eq(self.learn_cfg), phase_q.eq(self.phase)]
        for c, core in enumerate(cores):
            # Each engine's start is its own flip-flop of `start`, high on the
            # START clock like `starting`, so the barrier's decision and the
            # routes to the engines across the chip are separate paths.
            start_q = Signal(name=f"tick_start{c}")
            m.d.sync += start_q.eq(start)
            m.d.comb += [
                core.tick_start.eq(start_q),
                core.learn_cfg.eq(learn_q),
                core.phase.eq(phase_q),
                core.seed.eq(self.seed),
                core.seed_we.eq(self.seed_we & (self.seed_core == c * g.virtual)),
            ]
        with m.FSM(name="barrier") as fsm:
            with m.State("IDLE"):
                with m.If((self.tick_start | pending) & quiet):
                    m.d.comb += start.eq(1)
                    m.d.sync += [pending.eq(0), cycles.eq(1)]
                    m.next = "START"
                with m.Elif(self.tick_start):
                    m.d.sync += pending.eq(1)
            with m.State("START"):
                # The cores' tick_start: their flip-flops of `start` (above).
                m.d.comb += starting.eq(1)
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(self.tick_start):
                    m.d.sync += pending.eq(1)
                m.next = "RUN"
            with m.State("RUN"):
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(self.tick_start):
                    m.d.sync += pending.eq(1)  # the next tick, once this one is over
                with m.If(quiet):
                    m.d.sync += [self.tick.eq(self.tick + 1), self.last_tick_cycles.eq(cycles)]
                    m.next = "IDLE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE") | pending)

        self._config(m, cores, fans)
        return m

    def _axons(self, m, core, downs):
        """Events for an engine's logical cores, one per clock (the lowest first)."""
        g = self.geometry
        if len(downs) == 1:
            m.d.comb += [
                core.axon_in.payload.eq(downs[0].payload.index),
                core.axon_in.valid.eq(downs[0].valid),
                downs[0].ready.eq(core.axon_in.ready),
            ]
            return
        sel = Signal(range(len(downs)))
        for v in reversed(range(len(downs))):
            with m.If(downs[v].valid):
                m.d.comb += sel.eq(v)
        m.d.comb += [
            core.axon_in.payload.eq(
                Cat(Array(d.payload.index[: g.axon_bits] for d in downs)[sel], sel)
            ),
            core.axon_in.valid.eq(Cat(*[d.valid for d in downs]).any()),
        ]
        for v, d in enumerate(downs):
            m.d.comb += d.ready.eq(core.axon_in.ready & (sel == v))

    def _config(self, m, cores, fans):
        """The configuration port: ``cfg_core`` selects a fan-out unit or an engine."""
        g = self.geometry
        routes = self.cfg_region == Region.ROUTES
        engine = self.cfg_core[g.virtual_bits :]
        units = [(f, engine == e, routes) for e, f in enumerate(fans)]
        units += [(core, engine == e, ~routes) for e, core in enumerate(cores)]
        # Each unit's port is registered (one clock), so the link's decode
        # and the long routes to the engines' block RAM write enables are
        # separate paths; a write is decided against `busy` here.
        for k, (unit, here, mine) in enumerate(units):
            vc = self.cfg_core[: g.virtual_bits]
            ports = [
                (unit.cfg_addr, self.cfg_addr),
                (unit.cfg_wdata, self.cfg_wdata),
                (unit.cfg_we, self.cfg_we & here & mine & ~self.busy),
                (unit.cfg_re, self.cfg_re & here & mine),
            ]
            if k >= len(fans):  # a core
                ports.append((unit.cfg_region, self.cfg_region))
            if g.virtual_bits:
                ports.append((unit.cfg_vc, vc))
            for port, value in ports:
                reg = Signal.like(port, name=f"cfg{k}_{port.name}")
                m.d.sync += reg.eq(value)
                m.d.comb += port.eq(reg)
        # Only the addressed unit strobes cfg_rvalid, so its data is picked
        # by its strobe (an AND-OR, no select to pipeline), then registered.
        picked = 0
        for unit in [*cores, *fans]:
            picked = picked | Mux(unit.cfg_rvalid, unit.cfg_rdata, 0)
        m.d.sync += [
            self.cfg_rdata.eq(picked),
            self.cfg_rvalid.eq(Cat(*[u.cfg_rvalid for u in [*cores, *fans]]).any()),
        ]
