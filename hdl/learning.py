"""A core's learning unit: spike history, generator, STDP and growth.

Golden model: ``sim/learning.py``; rules: docs/semantics.md §6.

During a tick with learning on, the core marks every active row
(``mark_*``, during the first group's row pass) and lists the spikes of
learning neurons (``post_*``, in increasing neuron order). After the last
group the core hands its crossbar and parameter read ports to this unit
(``start``) until ``done``. The unit walks the rows r = 0 .. N + A − 1:

* ``ROW``, ``HIST``: read, shift and write back the row's H-bit history
  (``hist``) and its mark (``cur``, cleared again);
* ``S_RD``, ``S_DEC``, ``S_WR`` per listed spike j: read entry (r, j); if
  it holds a synapse, draw once and decide to potentiate (the row was
  active in the window) or depress it (registered); write the entry back
  in place;
* if the row was marked and P_GROW ≠ 0: ``G_SCAN`` counts the row's
  synapses (one crossbar word per clock, ``G_SUM`` adds the last), ``G_U``
  draws the chance, ``G_V`` the column, ``G_DEC`` decides (registered),
  ``G_WR`` grows it.

Every read-modify-write is split into read, decide and write clocks, so
no path runs from the crossbar's output to its write enables.

Timing, with P listed spikes and M marked rows (when P_GROW ≠ 0)::

    learn cycles = 2 + (N + A) * (2 + 3 P) + M * (G + 5),   G = N / lanes

counted from the core's ``start`` to ``done`` inclusive; ``learn_cycles()``
computes it. The crossbar port is single-address (as the core's): a write
happens in the clock after its read, at the same address. Nothing stalls.
Ticks without learning never start the unit and cost nothing.

The generator (xorshift32, ``spikeloom.defs.XORSHIFT``) steps once per
draw. ``seed_we`` loads ``seed`` (0 becomes ``PRNG_RESET``) while the unit
is idle; a seed arriving during a learn phase waits for its end.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeloom.defs import (
    EPISODE_BITS,
    LEARN_LAYOUT,
    PRNG_RESET,
    PROB_BITS,
    XORSHIFT,
    Geometry,
)

__all__ = ["LearningUnit", "learn_cycles", "xorshift32_step"]


def learn_cycles(geometry: Geometry, posts: int, grow_rows: int) -> int:
    """Clocks of one learn phase (see the module docstring)."""
    g = geometry
    return 2 + g.rows * (2 + 3 * posts) + grow_rows * (g.groups + 5)


def xorshift32_step(x):
    """One generator step as an Amaranth expression (``defs.xorshift32``)."""
    a, b, c = XORSHIFT
    x = x ^ (x << a)[:32]
    x = x ^ (x >> b)
    return x ^ (x << c)[:32]


class LearningUnit(wiring.Component):
    """See the module docstring for what it does and its timing."""

    def __init__(self, geometry: Geometry):
        self.geometry = g = geometry
        xb_addr_bits = (g.rows * g.groups - 1).bit_length()
        super().__init__(
            {
                "cfg": In(LEARN_LAYOUT),
                "phase": In(EPISODE_BITS),
                "seed": In(32),
                "seed_we": In(1),
                # Marks and listed spikes of the tick in progress.
                "mark_en": In(1),
                "mark_row": In(range(g.rows)),
                "post_en": In(1),
                "post_neuron": In(max(1, g.neuron_bits)),
                # The learn phase, and the core's ports it borrows meanwhile.
                "start": In(1),
                "done": Out(1),
                "xb_addr": Out(max(1, xb_addr_bits)),
                "xb_rdata": In(data.ArrayLayout(g.entry_layout, g.lanes)),
                "xb_we": Out(1),
                "xb_lane": Out(range(g.lanes)),
                "xb_wdata": Out(g.entry_layout),
                "par_addr": Out(max(1, g.neuron_bits)),
                "par_learn": In(1),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        if g.history == 0:  # no learning hardware: the core never starts it
            m.d.comb += self.done.eq(1)
            return m
        lane_bits = (g.lanes - 1).bit_length()
        nb = g.neuron_bits

        m.submodules.hist = hist = Memory(shape=g.history, depth=g.rows, init=[])
        m.submodules.cur = cur = Memory(shape=1, depth=g.rows, init=[])
        m.submodules.post = post = Memory(shape=max(1, nb), depth=g.neurons, init=[])
        hist_rd, hist_wr = hist.read_port(), hist.write_port()
        cur_rd, cur_wr = cur.read_port(), cur.write_port()
        post_rd, post_wr = post.read_port(), post.write_port()

        prng = Signal(32, init=PRNG_RESET)
        draw = Signal()
        stepped = xorshift32_step(prng)
        u_now = stepped[:PROB_BITS]

        r = Signal(range(g.rows))
        k = Signal(range(g.neurons + 1))
        post_len = Signal(range(g.neurons + 1))
        pre = Signal()
        act = Signal()
        j = Signal(max(1, nb))
        gidx = Signal(range(g.groups))
        sv = Signal()
        n = Signal(range(g.neurons + 1))
        u = Signal(PROB_BITS)
        col = Signal(max(1, nb))
        ep = Signal(EPISODE_BITS)
        ne = Signal(len(n) + EPISODE_BITS + 1)
        lhs = Signal(len(ne) + PROB_BITS)
        rhs = Signal(PROB_BITS + 1 + EPISODE_BITS)

        # The decided write of a read-modify-write (S_DEC / G_DEC -> *_WR).
        w_en = Signal()
        w_entry = Signal(g.entry_layout)

        def lane_of(x):
            return x[:lane_bits] if lane_bits else Const(0, 1)

        def grp_of(x):
            return x[lane_bits:nb]

        def xb_at(group, row):
            m.d.comb += self.xb_addr.eq(Cat(group, row) if g.groups > 1 else row)

        # -- marks and the spike list (while the tick runs) -----------------
        m.d.comb += [
            cur_rd.addr.eq(r),
            hist_rd.addr.eq(r),
            post_wr.addr.eq(post_len),
            post_wr.data.eq(self.post_neuron),
            post_wr.en.eq(self.post_en),
        ]
        with m.If(self.post_en):
            m.d.sync += post_len.eq(post_len + 1)
        with m.If(self.mark_en):
            m.d.comb += [cur_wr.addr.eq(self.mark_row), cur_wr.data.eq(1), cur_wr.en.eq(1)]

        with m.If(draw):
            m.d.sync += prng.eq(stepped)
        seed_pend = Signal()
        seed_val = Signal(32)
        with m.If(self.seed_we):
            m.d.sync += [seed_pend.eq(1), seed_val.eq(self.seed)]

        grow_on = self.cfg.p_grow != 0
        nonzero = Cat(*[self.xb_rdata[i].count != 0 for i in range(g.lanes)])
        popcount = sum(nonzero[i] for i in range(g.lanes))

        def next_row():
            m.d.sync += [r.eq(r + 1), k.eq(0)]
            with m.If(r == g.rows - 1):
                m.next = "DONE"
            with m.Else():
                m.next = "ROW"

        def after_stdp():
            with m.If(act & grow_on):
                m.d.sync += [gidx.eq(0), sv.eq(0), n.eq(0)]
                m.next = "G_SCAN"
            with m.Else():
                next_row()

        m.d.comb += post_rd.addr.eq(k)
        with m.FSM(name="learn"):
            with m.State("IDLE"):
                with m.If(seed_pend & ~self.seed_we):
                    m.d.sync += [prng.eq(Mux(seed_val == 0, PRNG_RESET, seed_val)), seed_pend.eq(0)]
                with m.If(self.start):
                    e1 = Mux(self.cfg.episode == 0, 1, self.cfg.episode)
                    phi = Mux(self.cfg.episode == 0, 0, self.phase)
                    m.d.sync += [
                        r.eq(0),
                        k.eq(0),
                        ep.eq(e1),
                        rhs.eq(self.cfg.p_grow * (e1 - phi)),
                    ]
                    m.next = "ROW"
            with m.State("ROW"):
                m.next = "HIST"
            with m.State("HIST"):
                h2 = Signal(g.history)
                m.d.comb += [
                    h2.eq(Cat(cur_rd.data, hist_rd.data)),
                    hist_wr.addr.eq(r),
                    hist_wr.data.eq(h2),
                    hist_wr.en.eq(1),
                    cur_wr.addr.eq(r),
                    cur_wr.data.eq(0),
                    cur_wr.en.eq(1),
                ]
                m.d.sync += [pre.eq(h2 != 0), act.eq(cur_rd.data)]
                with m.If(post_len != 0):
                    m.next = "S_RD"
                with m.Elif(cur_rd.data & grow_on):
                    m.d.sync += [gidx.eq(0), sv.eq(0), n.eq(0)]
                    m.next = "G_SCAN"
                with m.Else():
                    next_row()
            with m.State("S_RD"):
                xb_at(grp_of(post_rd.data), r)
                m.d.sync += j.eq(post_rd.data)
                m.next = "S_DEC"
            with m.State("S_DEC"):
                xb_at(grp_of(j), r)
                e = self.xb_rdata[lane_of(j)]
                inc = pre & (u_now < self.cfg.p_plus) & (e.count != g.max_count)
                dec = ~pre & (u_now < self.cfg.p_minus)
                m.d.comb += draw.eq(e.count != 0)
                m.d.sync += [
                    w_en.eq(draw & (inc | dec)),
                    w_entry.sign.eq(e.sign),
                    w_entry.count.eq(Mux(inc, e.count + 1, e.count - 1)),
                ]
                m.next = "S_WR"
            with m.State("S_WR"):
                xb_at(grp_of(j), r)
                m.d.comb += [
                    self.xb_lane.eq(lane_of(j)),
                    self.xb_wdata.eq(w_entry),
                    self.xb_we.eq(w_en),
                    # The next listed spike is read now, for S_RD.
                    post_rd.addr.eq(k + 1),
                ]
                m.d.sync += k.eq(k + 1)
                with m.If(k + 1 == post_len):
                    after_stdp()
                with m.Else():
                    m.next = "S_RD"
            with m.State("G_SCAN"):
                xb_at(gidx, r)
                m.d.sync += [gidx.eq(gidx + 1), sv.eq(1)]
                with m.If(sv):
                    m.d.sync += n.eq(n + popcount)
                with m.If(gidx == g.groups - 1):
                    m.next = "G_SUM"
            with m.State("G_SUM"):
                m.d.sync += n.eq(n + popcount)
                m.next = "G_U"
            with m.State("G_U"):
                m.d.comb += draw.eq(1)
                m.d.sync += [u.eq(u_now), ne.eq((n + 1) * ep)]
                m.next = "G_V"
            with m.State("G_V"):
                c = stepped[: max(1, nb)]
                m.d.comb += [draw.eq(1), self.par_addr.eq(c)]
                xb_at(grp_of(c), r)
                m.d.sync += [col.eq(c), lhs.eq(u * ne)]
                m.next = "G_DEC"
            with m.State("G_DEC"):
                xb_at(grp_of(col), r)
                e = self.xb_rdata[lane_of(col)]
                m.d.sync += [
                    w_en.eq((lhs < rhs) & (e.count == 0) & self.par_learn),
                    w_entry.sign.eq(e.sign),
                    w_entry.count.eq(1),
                ]
                m.next = "G_WR"
            with m.State("G_WR"):
                xb_at(grp_of(col), r)
                m.d.comb += [
                    self.xb_lane.eq(lane_of(col)),
                    self.xb_wdata.eq(w_entry),
                    self.xb_we.eq(w_en),
                ]
                next_row()
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
                m.d.sync += post_len.eq(0)
                m.next = "IDLE"
        return m
