"""One neuron core: crossbar, input accumulators, neuron update pipeline, event lists.

The core runs one tick per ``tick_start`` pulse (docs/semantics.md §3;
golden model: ``sim/core.py``). It walks its N neurons in G = N / lanes
groups of ``lanes`` columns, with two engines that overlap:

- the **row engine** streams the active rows of this tick (recurrent spikes
  of the last tick, then axons with events) through a five-stage pipeline,
  one row per clock: list memory → registered row → crossbar word
  (``lanes`` entries) → registered word → ``lanes`` accumulators. When a group's rows are summed
  it hands the sums to the update engine and starts the next group.
- the **update engine** updates the handed-over group's neurons one per
  clock: parameter and state memories one word per neuron (N deep), a
  registered read, the neuron pipeline (``hdl/neuron.py``), the state
  written back. Spikes leave on ``spike_out`` in increasing neuron order
  and go into the next tick's recurrent list.

So ``lanes`` is only the crossbar word width (entries summed per clock); one
more lane costs an accumulator, a sum register and a wider mux, no block RAM.

Timing, with L active rows in the tick::

    cycles per tick = r + (G - 1) * max(r, lanes) + lanes + UPDATE_STAGES + START_CYCLES
    r = L + ROW_STAGES if L > 0, else 1

**Virtual cores** (``Geometry.virtual`` = V > 1): the engine holds V
logical cores, every memory V times as deep (neuron n of logical core vc at
``Cat(n, vc)``, crossbar words at ``Cat(vc, group, row)``), and walks the V
cores' groups in turn, so the row phase above repeats per logical core
(``r`` from that core's rows; ``tick_cycles()`` takes one L per core).
``axon_in`` carries ``Cat(axon, vc)``, ``spike_out`` the neuron as
``Cat(n, vc)``, ``cfg_vc`` selects the logical core of the configuration
port. No learning unit (one per engine would serve V cores).

(``tick_cycles()``; ``last_tick_cycles`` reports it). Spikes cost no clock:
the tick stalls only on ``spike_out.ready`` (the whole update pipeline holds
while a spike waits). Crossbar throughput during the row phase is ``lanes``
entries per clock.

``axon_in`` accepts one axon event per clock at any time except the three
clocks in which a tick starts (and, after a reset, the V * A clocks of INIT,
which clears the listed-axon bitmaps, with ``busy`` high; a ``tick_start``
then waits for its end); an event belongs to the next tick to start.
Duplicate events for one tick are merged by a bitmap in block RAM, one per
list bank. ``spike_out`` carries every spike of the tick in increasing neuron order, with the
neuron's output-enable bit (the fan-out unit, ``hdl/fanout.py``, turns it
into output and routed events).

The ``cfg_*`` ports read and write one element (crossbar entry, neuron
parameters, neuron state) of :class:`~spikeloom.defs.Region` per clock while
no tick runs (INIT included); read data is valid on ``cfg_rdata`` while ``cfg_rvalid``
is high (three clocks after ``cfg_re``: the read, then two registers).
"""

from types import SimpleNamespace

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeloom.defs import CORE_REGIONS, EPISODE_BITS, LEARN_LAYOUT, REGION_BITS, Geometry, Region

from .config import ConfigSignature
from .learning import LearningUnit
from .neuron import LATENCY, NeuronUpdate

__all__ = ["Core", "config_members", "tick_cycles", "ROW_STAGES", "UPDATE_STAGES", "START_CYCLES"]

#: Clocks of a group's row phase beyond its L row issues: list read, registered
#: row, crossbar read, registered word, accumulate.
ROW_STAGES = 5
#: Clocks from a neuron's issue to its state write: the read address, the
#: registered memory outputs, then the neuron pipeline.
UPDATE_STAGES = 2 + LATENCY
#: The remaining clocks of a tick, from the states around the groups (START,
#: START2, in which the events taken before the start are listed, SWAP, DRAIN,
#: FINISH).
START_CYCLES = 5


def config_members(geometry: Geometry, *, region: bool = True, core: bool = False) -> dict:
    """Signature members of a configuration port (``hdl/config.ConfigSignature``).

    Shared by the core, the fan-out unit and the chip, so the port is described once.
    """
    return dict(ConfigSignature(geometry, region=region, core=core).members)


def tick_cycles(geometry: Geometry, active_rows, spikes=None) -> int:
    """Clock cycles of one engine's tick without output stalls (the module docstring).

    ``active_rows``: the active rows of each of the engine's ``virtual``
    logical cores, in order (a number: the same for each). ``spikes`` (the
    tick's spike bits) is accepted for callers that have it; spikes cost no
    clock in this core.
    """
    g = geometry
    if isinstance(active_rows, (int, np.integer)):
        active_rows = [int(active_rows)] * g.virtual
    if len(active_rows) != g.virtual:
        raise ValueError(f"{len(active_rows)} row counts for {g.virtual} logical cores")
    r = [L + ROW_STAGES if L else 1 for L in active_rows]
    rows = r[0] + (g.groups - 1) * max(r[0], g.lanes)
    rows += sum(g.groups * max(rv, g.lanes) for rv in r[1:])
    return rows + g.lanes + UPDATE_STAGES + START_CYCLES


class Core(wiring.Component):
    """One spikeloom neuron core. See the module docstring for timing."""

    #: The neuron update pipeline (tests substitute mutants).
    neuron_cls = NeuronUpdate
    #: The learning unit (tests substitute mutants).
    learning_cls = LearningUnit
    #: The configuration regions this block serves (others read as 0).
    regions = CORE_REGIONS
    #: Crossbar as one memory per lane (True), one wide memory (False), or
    #: chosen by the platform (None: per lane on every FPGA but the iCE40).
    per_lane_crossbar = None

    def __init__(self, geometry: Geometry, core_id: int = 0):
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be a Geometry, not {geometry!r}")
        if not 0 <= core_id < geometry.cores:
            raise ValueError(f"core_id {core_id} out of range 0..{geometry.cores - 1}")
        self.geometry = geometry
        self.core_id = core_id
        g = geometry
        vb = g.virtual_bits
        super().__init__(
            {
                # The axon, then (V > 1) the logical core within the engine.
                "axon_in": In(stream.Signature(unsigned(g.axon_bits + vb))),
                "spike_out": Out(stream.Signature(self.spike_layout_of(g))),
                "tick_start": In(1),
                "busy": Out(1),
                "last_tick_cycles": Out(32),
                **config_members(g),
                # V > 1: the logical core the configuration port addresses.
                **({"cfg_vc": In(vb)} if vb else {}),
                # Learning: parameters and episode phase, held for the whole tick.
                "learn_cfg": In(LEARN_LAYOUT),
                "phase": In(EPISODE_BITS),
                "seed": In(32),
                "seed_we": In(1),
            }
        )

    @staticmethod
    def spike_layout_of(geometry: Geometry) -> data.StructLayout:
        """``spike_out``'s payload: ``spike_layout`` with the neuron number
        extended by the logical core (``neuron + N * vc``; the same for V = 1)."""
        g = geometry
        return data.StructLayout(
            {"neuron": unsigned(max(1, g.neuron_bits + g.virtual_bits)), "output": unsigned(1)}
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        lanes, groups = g.lanes, g.groups
        lane_bits = (lanes - 1).bit_length()
        V, vb, nb, ab = g.virtual, g.virtual_bits, g.neuron_bits, g.axon_bits
        grp_bits = (groups - 1).bit_length()

        def pick(values, vc):  # the element of logical core `vc`
            return values[0] if V == 1 else Array(values)[vc]

        # -- memories --------------------------------------------------------
        # One word per neuron (as tinyODIN stores them): N deep, not lanes wide.
        # Every memory holds the V logical cores' words: neuron n of logical
        # core vc at Cat(n, vc), crossbar words at Cat(vc, group, row).
        n_all = V * g.neurons
        m.submodules.params = params = Memory(shape=g.params_layout, depth=n_all, init=[])
        m.submodules.state = state = Memory(shape=g.state_layout, depth=n_all, init=[])
        # Event lists, double-buffered: bank `bank` is this tick's, the other
        # one collects the next tick's. Address = Cat(index, bank, vc).
        m.submodules.rec_list = rec_list = Memory(
            shape=unsigned(max(1, nb)), depth=2 * n_all, init=[]
        )
        m.submodules.axon_list = axon_list = Memory(
            shape=unsigned(max(1, ab)), depth=2 * V * g.axons, init=[]
        )
        xbar_rd, xbar_wr = self._crossbar(m, platform)
        par_rd, par_wr = params.read_port(), params.write_port()
        st_rd, st_wr = state.read_port(), state.write_port()
        rec_rd, rec_wr = rec_list.read_port(), rec_list.write_port()
        ax_rd, ax_wr = axon_list.read_port(), axon_list.write_port()

        # -- tick control state -------------------------------------------------
        bank = Signal()

        def per_core(name, n):  # one counter per logical core
            return [Signal(range(n + 1), name=f"{name}{v}") for v in range(V)]

        rec_len = per_core("rec_len", g.neurons)  # this tick's recurrent rows
        ax_len = per_core("ax_len", g.axons)  # this tick's axon rows
        next_rec_len = per_core("next_rec_len", g.neurons)
        next_ax_len = per_core("next_ax_len", g.axons)
        swap = Signal()  # banks change hands
        scrub = Signal(range(V * g.axons))  # INIT: the bitmap address being cleared
        clear_en = Signal()  # group 0 reads an axon of this tick's list
        cycles = Signal(32)

        # -- axon events: one per clock, but not while a tick starts ------------
        # Which axons are listed for the next tick is kept in block RAM, one
        # bitmap per list bank: events set bits in the next tick's bitmap
        # (read, then written the clock after; the read is transparent, so
        # back-to-back duplicates merge), and the current tick's bits are
        # cleared as group 0 reads its axon list, so that bitmap is empty
        # again when the banks next change hands. After a reset, INIT
        # clears both (memories keep their contents through a soft reset).
        ax = self.axon_in.payload
        seen_mems = [Memory(shape=1, depth=V * g.axons, init=[]) for _ in range(2)]
        seen_wr, seen_rd = [], []
        for b, mem in enumerate(seen_mems):
            m.submodules[f"seen{b}"] = mem
            seen_wr.append(mem.write_port())
            seen_rd.append(mem.read_port(transparent_for=(seen_wr[-1],)))
        accepting = Signal()
        e_valid = Signal()
        e_ax = Signal.like(ax, reset_less=True)  # Cat(axon, vc): the bitmap address too
        m.d.comb += self.axon_in.ready.eq(accepting)
        m.d.sync += [e_valid.eq(self.axon_in.valid & accepting), e_ax.eq(ax)]
        for rd in seen_rd:
            m.d.comb += rd.addr.eq(ax)
        # The bitmap's output is registered before the decision (ECP5: a
        # block RAM's output drives only a register), so an event is listed
        # two clocks after it is taken; its bit is written then, too late for
        # the next event's read, so a duplicate right behind is caught by
        # comparing with the last decision.
        d_valid, d_listed, last_new = Signal(), Signal(), Signal()
        d_ax, last_ax = Signal.like(ax, reset_less=True), Signal.like(ax, reset_less=True)
        d_vc = d_ax[ab:]
        m.d.sync += [
            d_valid.eq(e_valid),
            d_ax.eq(e_ax),
            d_listed.eq(Mux(bank, seen_rd[0].data, seen_rd[1].data)),  # the next tick's
        ]
        new_event = d_valid & ~d_listed & ~(last_new & (last_ax == d_ax))
        m.d.sync += [last_new.eq(new_event), last_ax.eq(d_ax)]
        with m.If(new_event):
            m.d.comb += [
                ax_wr.addr.eq(Cat(pick(next_ax_len, d_vc)[:ab], ~bank, d_vc)),
                ax_wr.data.eq(d_ax[:ab]),
                ax_wr.en.eq(1),
            ]
            for v, n in enumerate(next_ax_len):
                with m.If((d_vc == v) if vb else 1):
                    m.d.sync += n.eq(n + 1)

        # -- row engine: list -> crossbar word -> registered word -> accumulators
        grp = Signal(grp_bits + vb)  # Cat(group, vc): the engine's groups in order
        grp_local, vc = grp[:grp_bits], grp[grp_bits:]
        idx = Signal(range(g.rows + 1))  # next row to issue within the group
        # This group's logical core: its recurrent rows and all its rows,
        # registered when the group starts (SWAP, handoff), so no adder sits
        # between the list lengths and the issue decision.
        cur_rec_len = Signal(range(g.neurons + 1))
        row_count = Signal(range(g.rows + 1))
        issue = Signal()
        issue_axon = idx >= cur_rec_len
        v1, v1_axon, v2, v2_axon, v3, v4 = (
            Signal(name=n) for n in ("v1", "v1_axon", "v2", "v2_axon", "v3", "v4")
        )
        # Data registers are not reset (RESET goes to the control flip-flops
        # only, so its net stays small): each is written before it is used.
        row = Signal(range(g.rows), reset_less=True)  # the listed row, registered
        row_axon = Signal(max(1, ab), reset_less=True)  # its axon (an axon row)
        word = Signal(data.ArrayLayout(g.entry_layout, lanes), reset_less=True)
        acc = [Signal(signed(g.acc_bits), name=f"acc{i}", reset_less=True) for i in range(lanes)]
        m.d.comb += [
            rec_rd.addr.eq(Cat(idx[:nb], bank, vc)),
            ax_rd.addr.eq(Cat((idx - cur_rec_len)[:ab], bank, vc)),
        ]
        m.d.sync += [v1.eq(issue), v1_axon.eq(issue_axon), v2.eq(v1), v2_axon.eq(v1_axon)]
        m.d.sync += [v3.eq(v2), v4.eq(v3)]
        # Block-RAM outputs drive no logic but a register (ECP5 timing): the
        # list word, then the crossbar word, are registered.
        m.d.sync += [
            row.eq(Mux(v1_axon, g.neurons + ax_rd.data, rec_rd.data)),
            row_axon.eq(ax_rd.data),
            word.eq(xbar_rd.data),
        ]
        with m.If(v4):
            for i in range(lanes):
                e = word[i]
                m.d.sync += acc[i].eq(acc[i] + Mux(e.sign, -e.count, e.count))
        rows_drained = ~v1 & ~v2 & ~v3 & ~v4
        m.d.comb += clear_en.eq(v2 & v2_axon & (grp_local == 0))
        in_init = Signal()
        for b, wr in enumerate(seen_wr):
            with m.If(in_init):
                m.d.comb += [wr.addr.eq(scrub), wr.data.eq(0), wr.en.eq(1)]
            with m.Elif(bank == b):  # this tick's bitmap: cleared as listed
                m.d.comb += [
                    wr.addr.eq(Cat(row_axon[:ab], vc)),
                    wr.data.eq(0),
                    wr.en.eq(clear_en),
                ]
            with m.Else():  # the next tick's: set by new events
                m.d.comb += [wr.addr.eq(d_ax), wr.data.eq(1), wr.en.eq(new_event)]

        # -- update engine: one neuron per clock --------------------------------
        tag_bits = max(1, nb + vb)  # the neuron's number in the engine
        m.submodules.neuron = nu = self.neuron_cls(g, tag_bits)
        sums = [Signal(signed(g.acc_bits), name=f"sum{i}", reset_less=True) for i in range(lanes)]
        u_busy = Signal()  # a handed-over group still has neurons to issue
        # The sums are taken one clock after the handoff decision, by a
        # register, so its wide fan-out (every sum and accumulator) has a
        # clock of its own and the decision (which spans both engines) drives
        # only the engines' counters.
        load = Signal()
        u_grp = Signal.like(grp)
        u_lane = Signal(range(lanes))
        adv = Signal()  # the pipeline advances (no spike waits for spike_out)
        # The engine starts in the clock the sums are loaded, reading the first
        # from its accumulator (see load).
        u_issue = (u_busy | load) & adv
        # u_lane == lanes - 1, kept as a flip-flop so the handoff decision
        # (which spans both engines) has no comparator in it.
        u_at_last = Signal(init=lanes == 1)
        u_last = u_issue & u_at_last
        handoff = Signal()  # the row engine starts its next group
        n0 = Cat(u_lane, u_grp)
        q0_valid, q0_tag = Signal(), Signal(tag_bits, reset_less=True)
        q0_inp = Signal(signed(g.acc_bits), reset_less=True)
        q1_valid, q1_tag = Signal(), Signal(tag_bits, reset_less=True)
        q1_inp = Signal(signed(g.acc_bits), reset_less=True)
        q1_par = Signal(g.params_layout, reset_less=True)
        q1_st = Signal(g.state_layout, reset_less=True)
        m.d.sync += load.eq(handoff)
        with m.If(u_issue):
            at_last = (u_lane == lanes - 2) if lanes > 1 else 1
            m.d.sync += [u_lane.eq(u_lane + 1), u_at_last.eq(at_last)]
        with m.If(handoff):  # the engine issues its last neuron by now
            m.d.sync += [u_grp.eq(grp), u_lane.eq(0), u_at_last.eq(lanes == 1)]
        with m.If(load):
            m.d.sync += [
                u_busy.eq(1),
                *[s.eq(a) for s, a in zip(sums, acc)],
                *[a.eq(0) for a in acc],
            ]
        with m.If(u_last):  # also in the loading clock, if lanes is 1
            m.d.sync += u_busy.eq(0)
        with m.If(adv):
            m.d.sync += [
                q0_valid.eq(u_issue),
                q0_tag.eq(n0),
                q0_inp.eq(Mux(load, acc[0], Array(sums)[u_lane])),
                # Registered memory outputs.
                q1_valid.eq(q0_valid),
                q1_tag.eq(q0_tag),
                q1_inp.eq(q0_inp),
                q1_par.eq(par_rd.data),
                q1_st.eq(st_rd.data),
            ]
        m.d.comb += [
            par_rd.en.eq(adv),
            st_rd.en.eq(adv),
            nu.en.eq(adv),
            nu.valid.eq(q1_valid),
            nu.tag.eq(q1_tag),
            nu.inp.eq(q1_inp),
            nu.params.eq(q1_par),
            nu.state.eq(q1_st),
        ]
        pipe_empty = ~load & ~u_busy & ~q0_valid & ~q1_valid & ~nu.busy

        # -- spikes out, into the next tick's recurrent list -------------------
        fire = Signal()
        m.d.comb += [
            self.spike_out.valid.eq(nu.spike),
            self.spike_out.payload.neuron.eq(nu.o_tag),
            self.spike_out.payload.output.eq(nu.o_output),
            adv.eq(~(nu.spike & ~self.spike_out.ready)),
            fire.eq(nu.spike & self.spike_out.ready),
        ]
        o_vc = nu.o_tag[nb:]
        with m.If(fire):
            m.d.comb += [
                rec_wr.addr.eq(Cat(pick(next_rec_len, o_vc)[:nb], ~bank, o_vc)),
                rec_wr.data.eq(nu.o_tag[:nb]),
                rec_wr.en.eq(1),
            ]
            for v, n in enumerate(next_rec_len):
                with m.If((o_vc == v) if vb else 1):
                    m.d.sync += n.eq(n + 1)

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
            lu.par_learn.eq(par_rd.data.learn),
            # Every active row is issued once per group: mark it in group 0.
            lu.mark_en.eq(learning & v2 & (grp_local == 0)),
            lu.mark_row.eq(row),
            lu.post_en.eq(learning & fire & nu.o_learn),
            lu.post_neuron.eq(nu.o_tag),
        ]

        ticking = Signal()  # a tick runs: the memories are the engines'
        cfg_vc = self.cfg_vc if vb else Const(0, 0)
        regs = (word, q1_par, q1_st)
        self._config(m, ticking, regs, xbar_wr, par_wr, st_wr, nu, adv, cfg_vc)
        # Read addresses: the learning unit, the tick's engines, or the port.
        cfg_word = self.cfg_addr[lane_bits:nb]
        cfg_row = self.cfg_addr[nb:]
        cfg_neuron = Cat(self.cfg_addr[:nb], cfg_vc)
        xbar_addr = Signal.like(xbar_rd.addr)
        with m.If(in_learn):
            m.d.comb += [xbar_addr.eq(lu.xb_addr), par_rd.addr.eq(lu.par_addr)]
        with m.Elif(ticking):
            m.d.comb += [
                xbar_addr.eq(Cat(vc, grp_local, row)),
                par_rd.addr.eq(n0),
                st_rd.addr.eq(n0),
            ]
        with m.Else():
            m.d.comb += [
                xbar_addr.eq(Cat(cfg_vc, cfg_word, cfg_row)),
                par_rd.addr.eq(cfg_neuron),
                st_rd.addr.eq(cfg_neuron),
            ]
        # One address for both crossbar ports (writes happen only while idle or
        # learning), so synthesis can map the crossbar to single-port RAM (UP5K
        # SPRAM). The read port holds its data on write cycles, as SPRAM does.
        m.d.comb += [
            xbar_rd.addr.eq(xbar_addr),
            xbar_wr.addr.eq(xbar_addr),
            xbar_rd.en.eq(xbar_wr.en == 0),
        ]
        with m.If(in_learn):
            m.d.comb += [
                xbar_wr.data.eq(Cat(*[lu.xb_wdata.as_value()] * lanes)),
                xbar_wr.en.eq(Mux(lu.xb_we, Const(1, lanes) << lu.xb_lane, 0)),
            ]

        # -- tick sequencer ------------------------------------------------
        start_pend = Signal()  # a tick_start that came during INIT
        with m.FSM(name="seq", init="INIT") as fsm:
            with m.State("INIT"):
                m.d.comb += in_init.eq(1)
                m.d.sync += scrub.eq(scrub + 1)
                with m.If(self.tick_start):
                    m.d.sync += start_pend.eq(1)
                with m.If(scrub == V * g.axons - 1):
                    m.next = "IDLE"
            with m.State("IDLE"):
                m.d.comb += accepting.eq(1)
                with m.If(self.tick_start | start_pend):
                    m.d.sync += [cycles.eq(1), start_pend.eq(0)]
                    m.next = "START"
            with m.State("START"):
                m.next = "START2"
            with m.State("START2"):
                # The last event accepted before the start is listed now.
                m.next = "SWAP"
            with m.State("SWAP"):
                m.d.comb += swap.eq(1)
                m.d.sync += [
                    bank.eq(~bank),
                    *[a.eq(b) for a, b in zip(rec_len + ax_len, next_rec_len + next_ax_len)],
                    *[n.eq(0) for n in next_rec_len + next_ax_len],
                    grp.eq(0),
                    idx.eq(0),
                    cur_rec_len.eq(next_rec_len[0]),
                    row_count.eq(next_rec_len[0] + next_ax_len[0]),
                    *[a.eq(0) for a in acc],
                ]
                m.next = "ROWS"
            with m.State("ROWS"):
                m.d.comb += accepting.eq(1)
                with m.If(idx != row_count):  # idx counts up from 0 to row_count
                    m.d.comb += issue.eq(1)
                    m.d.sync += idx.eq(idx + 1)
                with m.Elif(rows_drained & ((~u_busy & ~load) | u_last)):
                    # The group's sums are complete and the update engine
                    # takes them now (it reads each sum as it issues).
                    m.d.comb += handoff.eq(1)
                    m.d.sync += idx.eq(0)
                    with m.If(grp == V * groups - 1):
                        m.next = "DRAIN"
                    with m.Else():
                        nvc = (grp + 1)[grp_bits:]
                        m.d.sync += [
                            grp.eq(grp + 1),
                            cur_rec_len.eq(pick(rec_len, nvc)),
                            row_count.eq(pick(rec_len, nvc) + pick(ax_len, nvc)),
                        ]
            with m.State("DRAIN"):
                m.d.comb += accepting.eq(1)
                with m.If(pipe_empty & learning):
                    m.next = "LEARN"
                with m.Elif(pipe_empty):
                    m.next = "FINISH"
            with m.State("LEARN"):
                m.d.comb += [accepting.eq(1), in_learn.eq(1), lu.start.eq(1)]
                with m.If(lu.done):
                    m.next = "FINISH"
            with m.State("FINISH"):
                m.d.comb += accepting.eq(1)
                m.d.sync += self.last_tick_cycles.eq(cycles)
                m.next = "IDLE"
        idle = fsm.ongoing("IDLE") | fsm.ongoing("INIT")
        m.d.comb += [self.busy.eq(~fsm.ongoing("IDLE")), ticking.eq(~idle)]
        with m.If(~idle):
            m.d.sync += cycles.eq(cycles + 1)
        return m

    def _crossbar(self, m, platform):
        """The crossbar memory's read and write ports (``addr``, ``data``, ``en``).

        One memory of ``lanes``-entry words, with a write enable per entry
        (the iCE40 maps it to SPRAM, whose nibble enables fit 4-bit entries),
        or, on other FPGAs, one memory per lane, so that any entry width maps
        to block RAM without sub-byte write enables. The same words either way.
        """
        g = self.geometry
        word = data.ArrayLayout(g.entry_layout, g.lanes)
        depth = g.virtual * g.rows * g.groups
        per_lane = self.per_lane_crossbar
        if per_lane is None:
            family = str(getattr(platform, "family", "")).lower()
            per_lane = platform is not None and family != "ice40"
        if not per_lane:
            m.submodules.xbar = xbar = Memory(shape=word, depth=depth, init=[])
            return xbar.read_port(), xbar.write_port(granularity=1)
        rd = SimpleNamespace(
            addr=Signal(range(depth), name="xbar_raddr"),
            en=Signal(name="xbar_ren"),
            data=Signal(word, name="xbar_rdata"),
        )
        wr = SimpleNamespace(
            addr=Signal(range(depth), name="xbar_waddr"),
            en=Signal(g.lanes, name="xbar_wen"),
            data=Signal(word, name="xbar_wdata"),
        )
        for i in range(g.lanes):
            mem = m.submodules[f"xbar_lane{i}"] = Memory(shape=g.entry_layout, depth=depth, init=[])
            r, w = mem.read_port(), mem.write_port()
            m.d.comb += [
                r.addr.eq(rd.addr),
                r.en.eq(rd.en),
                rd.data[i].eq(r.data),
                w.addr.eq(wr.addr),
                w.en.eq(wr.en[i]),
                w.data.eq(wr.data[i]),
            ]
        return rd, wr

    def _config(self, m, ticking, regs, xbar_wr, par_wr, st_wr, nu, adv, cfg_vc):
        """The configuration port's read data and writes (addresses: elaborate).

        ``regs``: the registered memory outputs (crossbar word, parameters, state).
        """
        word, q1_par, q1_st = regs
        g = self.geometry
        lanes = g.lanes
        lane_bits = (lanes - 1).bit_length()
        cfg_lane = self.cfg_addr[:lane_bits]
        cfg_neuron = Cat(self.cfg_addr[: g.neuron_bits], cfg_vc)
        lane_q, lane_q2 = Signal(range(lanes)), Signal(range(lanes))
        region_q, region_q2 = Signal(REGION_BITS), Signal(REGION_BITS)
        # Read data is picked from the memories' registered outputs (the
        # engines' `word`, `q1_par`, `q1_st`, which follow the read ports
        # while no tick runs), so a block RAM's output drives only a
        # register (ECP5 timing): valid three clocks after cfg_re.
        rvalid1, rvalid2 = Signal(), Signal()
        m.d.sync += [rvalid1.eq(self.cfg_re), rvalid2.eq(rvalid1), self.cfg_rvalid.eq(rvalid2)]
        with m.If(self.cfg_re):
            m.d.sync += [lane_q.eq(cfg_lane), region_q.eq(self.cfg_region)]
        m.d.sync += [lane_q2.eq(lane_q), region_q2.eq(region_q)]
        rd_elem = {
            Region.CROSSBAR: word[lane_q2],
            Region.PARAMS: q1_par,
            Region.STATE: q1_st,
        }
        with m.Switch(region_q2):
            for region, elem in rd_elem.items():
                with m.Case(region):
                    m.d.sync += self.cfg_rdata.eq(elem.as_value())

        def writes(region):
            return self.cfg_we & (self.cfg_region == region) & ~ticking

        lane_en = Const(1, lanes) << cfg_lane
        with m.If(~ticking):
            m.d.comb += [
                xbar_wr.data.eq(Cat(*[self.cfg_wdata[: g.entry_layout.size]] * lanes)),
                xbar_wr.en.eq(Mux(writes(Region.CROSSBAR), lane_en, 0)),
            ]
        m.d.comb += [
            par_wr.addr.eq(cfg_neuron),
            par_wr.data.eq(self.cfg_wdata[: g.params_layout.size]),
            par_wr.en.eq(writes(Region.PARAMS)),
        ]
        with m.If(nu.o_valid):  # the update engine writes back
            m.d.comb += [st_wr.addr.eq(nu.o_tag), st_wr.data.eq(nu.new_state), st_wr.en.eq(adv)]
        with m.Else():
            m.d.comb += [
                st_wr.addr.eq(cfg_neuron),
                st_wr.data.eq(self.cfg_wdata[: g.state_layout.size]),
                st_wr.en.eq(writes(Region.STATE)),
            ]
