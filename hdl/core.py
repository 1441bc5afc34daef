"""One neuron core: crossbar, input accumulators, neuron update, event lists.

The core runs one tick per ``tick_start`` pulse (docs/semantics.md §3;
golden model: ``sim/core.py``). It walks its N neurons in G = N / lanes
groups. For each group it streams the active rows of this tick (recurrent
spikes of the last tick, then axons with events) through a two-stage
pipeline: list memory → crossbar word (``lanes`` entries) → ``lanes``
accumulators, one row per clock. It then updates the group's neurons (three
pipeline stages, ``hdl/neuron.py``) and queues their spikes, one per clock,
into the next tick's recurrent list and onto ``spike_out``.

Timing, with L active rows and S spikes in the tick::

    cycles per tick = 2 + sum over groups of (B + max(1, S_g)) + (stalls)
    B = L + 5 if L > 0, else 4

with S_g the spikes of group g. Per group: L row issues, two row-pipeline
stages and the three stages of the neuron update (B), then one clock per
spike, or one clock to find there is none. ``last_tick_cycles`` reports
it; ``tick_cycles()`` computes it. Crossbar
throughput during the row phase is ``lanes`` entries per clock. The tick
stalls only on ``spike_out.ready``.

``axon_in`` accepts one axon event per clock at any time except the first
cycle of a tick; an event belongs to the next tick to start. Duplicate
events for one tick are merged by a bitmap of A flip-flops. ``spike_out``
carries every spike of the tick in increasing neuron order, with the
neuron's output-enable bit (the fan-out unit, ``hdl/fanout.py``, turns it
into output and routed events).

The ``cfg_*`` ports read and write one element (crossbar entry, neuron
parameters, neuron state) of :class:`~spikeloom.defs.Region` per clock while
``busy`` is low; read data is valid on ``cfg_rdata`` while ``cfg_rvalid``
is high (today the clock after ``cfg_re``).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeloom.defs import CORE_REGIONS, EPISODE_BITS, LEARN_LAYOUT, REGION_BITS, Geometry, Region

from .config import ConfigSignature
from .learning import LearningUnit
from .neuron import NeuronUpdate

__all__ = ["Core", "config_members", "tick_cycles"]


def config_members(geometry: Geometry, *, region: bool = True, core: bool = False) -> dict:
    """Signature members of a configuration port (``hdl/config.ConfigSignature``).

    Shared by the core, the fan-out unit and the chip, so the port is described once.
    """
    return dict(ConfigSignature(geometry, region=region, core=core).members)


def tick_cycles(geometry: Geometry, active_rows: int, spikes) -> int:
    """Clock cycles of one tick without output stalls (the module docstring).

    ``spikes`` is the tick's spike bit of every neuron, in neuron order.
    """
    g = geometry
    per_group = [
        sum(bool(x) for x in spikes[i : i + g.lanes]) for i in range(0, g.neurons, g.lanes)
    ]
    base = active_rows + 5 if active_rows else 4
    return 2 + sum(base + max(1, s) for s in per_group)


class Core(wiring.Component):
    """One spikeloom neuron core. See the module docstring for timing."""

    #: The neuron update unit instantiated per lane (tests substitute mutants).
    neuron_cls = NeuronUpdate
    #: The learning unit (tests substitute mutants).
    learning_cls = LearningUnit
    #: The configuration regions this block serves (others read as 0).
    regions = CORE_REGIONS

    def __init__(self, geometry: Geometry, core_id: int = 0):
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be a Geometry, not {geometry!r}")
        if not 0 <= core_id < geometry.cores:
            raise ValueError(f"core_id {core_id} out of range 0..{geometry.cores - 1}")
        self.geometry = geometry
        self.core_id = core_id
        g = geometry
        super().__init__(
            {
                "axon_in": In(stream.Signature(unsigned(g.axon_bits))),
                "spike_out": Out(stream.Signature(g.spike_layout)),
                "tick_start": In(1),
                "busy": Out(1),
                "last_tick_cycles": Out(32),
                **config_members(g),
                # Learning: parameters and episode phase, held for the whole tick.
                "learn_cfg": In(LEARN_LAYOUT),
                "phase": In(EPISODE_BITS),
                "seed": In(32),
                "seed_we": In(1),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        lanes, groups = g.lanes, g.groups
        lane_bits = (lanes - 1).bit_length()

        # -- memories --------------------------------------------------------
        m.submodules.xbar = xbar = Memory(
            shape=data.ArrayLayout(g.entry_layout, lanes), depth=g.rows * groups, init=[]
        )
        m.submodules.params = params = Memory(
            shape=data.ArrayLayout(g.params_layout, lanes), depth=groups, init=[]
        )
        m.submodules.state = state = Memory(
            shape=data.ArrayLayout(g.state_layout, lanes), depth=groups, init=[]
        )
        # Event lists, double-buffered: bank `bank` is this tick's, the other
        # one collects the next tick's. Address = Cat(index, bank).
        m.submodules.rec_list = rec_list = Memory(
            shape=unsigned(max(1, g.neuron_bits)), depth=2 * g.neurons, init=[]
        )
        m.submodules.axon_list = axon_list = Memory(
            shape=unsigned(max(1, g.axon_bits)), depth=2 * g.axons, init=[]
        )
        xbar_rd, xbar_wr = xbar.read_port(), xbar.write_port(granularity=1)
        par_rd, par_wr = params.read_port(), params.write_port(granularity=1)
        st_rd, st_wr = state.read_port(), state.write_port(granularity=1)
        rec_rd, rec_wr = rec_list.read_port(), rec_list.write_port()
        ax_rd, ax_wr = axon_list.read_port(), axon_list.write_port()

        # -- tick control state -------------------------------------------------
        bank = Signal()
        rec_len = Signal(range(g.neurons + 1))  # this tick's recurrent rows
        ax_len = Signal(range(g.axons + 1))  # this tick's axon rows
        next_rec_len = Signal(range(g.neurons + 1))
        next_ax_len = Signal(range(g.axons + 1))
        seen = Signal(g.axons)  # axons already listed for the next tick
        swap = Signal()  # the first cycle of a tick: banks change hands
        cycles = Signal(32)

        grp = Signal(range(groups))
        idx = Signal(range(g.rows + 1))  # next row to issue within the group
        loaded = Signal()  # state and params of `grp` are on the read ports
        row_count = rec_len + ax_len
        v1 = Signal()  # stage 1: list data on the read ports
        v1_axon = Signal()
        v2 = Signal()  # stage 2: crossbar word on the read port
        acc = [Signal(data.signed(g.acc_bits), name=f"acc{i}") for i in range(lanes)]
        spikes = Signal(lanes)
        out_en = Signal(lanes)
        learn_en = Signal(lanes)

        # -- axon events: any time but the swap cycle ------------------------
        ax = self.axon_in.payload
        m.d.comb += self.axon_in.ready.eq(~swap)
        with m.If(self.axon_in.valid & self.axon_in.ready & ~seen.bit_select(ax, 1)):
            m.d.comb += [
                ax_wr.addr.eq(Cat(next_ax_len[: g.axon_bits], ~bank)),
                ax_wr.data.eq(ax),
                ax_wr.en.eq(1),
            ]
            m.d.sync += [next_ax_len.eq(next_ax_len + 1), seen.bit_select(ax, 1).eq(1)]

        # -- row pipeline ----------------------------------------------------
        issue = Signal()
        issue_axon = idx >= rec_len
        m.d.comb += [
            rec_rd.addr.eq(Cat(idx[: g.neuron_bits], bank)),
            ax_rd.addr.eq(Cat((idx - rec_len)[: g.axon_bits], bank)),
        ]
        m.d.sync += [v1.eq(issue), v1_axon.eq(issue_axon), v2.eq(v1)]
        row = Mux(v1_axon, g.neurons + ax_rd.data, rec_rd.data)
        # Stage 2 entries, weighted.
        with m.If(v2):
            for i in range(lanes):
                e = xbar_rd.data[i]
                m.d.sync += acc[i].eq(acc[i] + Mux(e.sign, -e.count, e.count))

        # -- neuron update units ---------------------------------------------
        units = []
        for i in range(lanes):
            u = self.neuron_cls(g)
            m.submodules[f"neuron{i}"] = u
            m.d.comb += [u.params.eq(par_rd.data[i]), u.state.eq(st_rd.data[i]), u.inp.eq(acc[i])]
            units.append(u)

        # -- learning unit (docs/semantics.md §6) ------------------------------
        m.submodules.learning = lu = self.learning_cls(g)
        # A core built with history 0 has no learning unit (docs/semantics.md §6).
        learning = self.learn_cfg.learn if g.history else Const(0)
        in_learn = Signal()  # the unit has the crossbar and parameter ports
        m.d.comb += [
            lu.cfg.eq(self.learn_cfg),
            lu.phase.eq(self.phase),
            lu.seed.eq(self.seed),
            lu.seed_we.eq(self.seed_we),
            lu.xb_rdata.eq(xbar_rd.data),
            lu.par_learn.eq(Cat(*[par_rd.data[i].learn for i in range(lanes)])),
            # Every active row is issued once per group: mark it in group 0.
            lu.mark_en.eq(learning & v1 & (grp == 0)),
            lu.mark_row.eq(row),
        ]

        # -- configuration port and read-address muxes ---------------------------
        # Crossbar index = row * N + column, params/state index = neuron: the
        # low neuron_bits select the lane and word the same way for all three.
        cfg_lane = self.cfg_addr[:lane_bits]
        cfg_word = self.cfg_addr[lane_bits : g.neuron_bits]
        cfg_row = self.cfg_addr[g.neuron_bits :]
        lane_q = Signal(range(lanes))
        region_q = Signal(REGION_BITS)
        m.d.sync += self.cfg_rvalid.eq(self.cfg_re)
        with m.If(self.cfg_re):
            m.d.sync += [lane_q.eq(cfg_lane), region_q.eq(self.cfg_region)]
        lane_en = Signal(lanes)
        m.d.comb += lane_en.eq(Const(1, lanes) << cfg_lane)

        # One address for both crossbar ports (writes happen only while idle),
        # so synthesis can map the crossbar to single-port RAM (UP5K SPRAM).
        xbar_addr = Signal.like(xbar_rd.addr)
        # The read port holds its data on write cycles ("no change", as SPRAM does).
        m.d.comb += [
            xbar_rd.addr.eq(xbar_addr),
            xbar_wr.addr.eq(xbar_addr),
            xbar_rd.en.eq(xbar_wr.en == 0),
        ]
        with m.If(in_learn):
            m.d.comb += [xbar_addr.eq(lu.xb_addr), par_rd.addr.eq(lu.par_addr)]
        with m.Elif(self.busy):
            m.d.comb += [
                xbar_addr.eq(Cat(grp, row)),
                par_rd.addr.eq(grp),
                st_rd.addr.eq(grp),
            ]
        with m.Else():
            m.d.comb += [
                xbar_addr.eq(Cat(cfg_word, cfg_row)),
                par_rd.addr.eq(cfg_word),
                st_rd.addr.eq(cfg_word),
            ]
        rd_elem = {
            Region.CROSSBAR: xbar_rd.data[lane_q],
            Region.PARAMS: par_rd.data[lane_q],
            Region.STATE: st_rd.data[lane_q],
        }
        with m.Switch(region_q):
            for region, elem in rd_elem.items():
                with m.Case(region):
                    m.d.comb += self.cfg_rdata.eq(elem.as_value())

        def cfg_write(port, region, addr, layout, allowed):
            if addr is not None:
                m.d.comb += port.addr.eq(addr)
            m.d.comb += [
                port.data.eq(Cat(*[self.cfg_wdata[: layout.size]] * lanes)),
                port.en.eq(Mux(allowed & self.cfg_we & (self.cfg_region == region), lane_en, 0)),
            ]

        with m.If(in_learn):
            m.d.comb += [
                xbar_wr.data.eq(Cat(*[lu.xb_wdata.as_value()] * lanes)),
                xbar_wr.en.eq(Mux(lu.xb_we, Const(1, lanes) << lu.xb_lane, 0)),
            ]
        with m.Else():
            cfg_write(xbar_wr, Region.CROSSBAR, None, g.entry_layout, ~self.busy)
        cfg_write(par_wr, Region.PARAMS, cfg_word, g.params_layout, ~self.busy)

        # -- tick sequencer ------------------------------------------------
        neuron_of = lambda lane: Cat(lane[:lane_bits], grp)  # noqa: E731

        def next_group():
            m.d.sync += [idx.eq(0), loaded.eq(0), *[a.eq(0) for a in acc]]
            with m.If((grp == groups - 1) & learning):
                m.next = "LEARN"
            with m.Elif(grp == groups - 1):
                m.next = "FINISH"
            with m.Else():
                m.d.sync += grp.eq(grp + 1)
                m.next = "ROWS"

        with m.FSM(name="seq") as fsm:
            with m.State("IDLE"):
                cfg_write(st_wr, Region.STATE, cfg_word, g.state_layout, 1)
                with m.If(self.tick_start):
                    m.d.sync += cycles.eq(1)
                    m.next = "START"
            with m.State("START"):
                m.d.comb += swap.eq(1)
                m.d.sync += [
                    bank.eq(~bank),
                    rec_len.eq(next_rec_len),
                    ax_len.eq(next_ax_len),
                    next_rec_len.eq(0),
                    next_ax_len.eq(0),
                    seen.eq(0),
                    grp.eq(0),
                    idx.eq(0),
                    loaded.eq(0),
                    *[a.eq(0) for a in acc],
                ]
                m.next = "ROWS"
            with m.State("ROWS"):
                m.d.sync += loaded.eq(1)
                with m.If(idx < row_count):
                    m.d.comb += issue.eq(1)
                    m.d.sync += idx.eq(idx + 1)
                with m.Elif(loaded & ~v1 & ~v2):
                    # Every row of this group is in the accumulators; the
                    # neuron units' first stage registers them now.
                    m.next = "UPDATE1"
            with m.State("UPDATE1"):
                m.next = "UPDATE2"
            with m.State("UPDATE2"):
                new_spikes = Cat(*[u.spike for u in units])
                m.d.comb += [
                    st_wr.addr.eq(grp),
                    st_wr.data.eq(Cat(*[u.new_state.as_value() for u in units])),
                    st_wr.en.eq(Const(-1, lanes)),
                ]
                m.d.sync += [
                    spikes.eq(new_spikes),
                    out_en.eq(Cat(*[par_rd.data[i].output for i in range(lanes)])),
                    learn_en.eq(Cat(*[par_rd.data[i].learn for i in range(lanes)])),
                ]
                # Deciding here whether any neuron spiked would put the whole
                # update on the sequencer's critical path: SPIKES decides.
                m.next = "SPIKES"
            with m.State("SPIKES"):
                # Lowest pending spike first: increasing neuron order.
                lane = Signal(range(lanes))
                for i in reversed(range(lanes)):
                    with m.If(spikes[i]):
                        m.d.comb += lane.eq(i)
                neuron = neuron_of(lane)
                m.d.comb += [
                    self.spike_out.valid.eq(spikes != 0),
                    self.spike_out.payload.neuron.eq(neuron),
                    self.spike_out.payload.output.eq(out_en.bit_select(lane, 1)),
                ]
                with m.If(spikes == 0):
                    next_group()
                with m.Elif(self.spike_out.ready):
                    m.d.comb += [
                        rec_wr.addr.eq(Cat(next_rec_len[: g.neuron_bits], ~bank)),
                        rec_wr.data.eq(neuron),
                        rec_wr.en.eq(1),
                    ]
                    m.d.sync += [
                        next_rec_len.eq(next_rec_len + 1),
                        spikes.bit_select(lane, 1).eq(0),
                    ]
                    m.d.comb += [
                        lu.post_en.eq(learning & learn_en.bit_select(lane, 1)),
                        lu.post_neuron.eq(neuron),
                    ]
                    # The last pending spike: the group is done.
                    with m.If((spikes & (spikes - 1)) == 0):
                        next_group()
            with m.State("LEARN"):
                m.d.comb += [in_learn.eq(1), lu.start.eq(1)]
                with m.If(lu.done):
                    m.next = "FINISH"
            with m.State("FINISH"):
                m.d.sync += self.last_tick_cycles.eq(cycles)
                m.next = "IDLE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        with m.If(~fsm.ongoing("IDLE")):
            m.d.sync += cycles.eq(cycles + 1)
        return m
