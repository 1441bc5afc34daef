"""Neuron update unit: one neuron, one tick, LIF or COUNTER.

Purely combinational: from the neuron's parameters, its state and its exact
summed input it computes the new state and the spike bit, following
docs/semantics.md section 4 (golden model: ``sim/neuron.py``). The core
instantiates one unit per lane and registers its outputs into the state
memory, so the unit's depth (leak, one wide add, saturate, compare) sets the
core's critical path.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikeloom.defs import Geometry, Model

__all__ = ["NeuronUpdate"]


class NeuronUpdate(wiring.Component):
    """Combinational neuron update (zero latency).

    Ports: ``params``, ``state`` and ``inp`` (signed, ``acc_bits`` wide) in;
    ``new_state`` and ``spike`` out.
    """

    def __init__(self, geometry: Geometry):
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be a Geometry, not {geometry!r}")
        self.geometry = geometry
        super().__init__(
            {
                "params": In(geometry.params_layout),
                "state": In(geometry.state_layout),
                "inp": In(signed(geometry.acc_bits)),
                "new_state": Out(geometry.state_layout),
                "spike": Out(1),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        p, st, inp = self.params, self.state, self.inp
        # Wide enough for v + s + 2*I without wrapping before saturation.
        wide = signed(max(g.acc_bits, g.potential_bits) + 3)

        def sat(x):
            return Mux(x > g.v_max, g.v_max, Mux(x < g.v_min, g.v_min, x))

        # -- LIF ---------------------------------------------------------
        v = st.v
        leaked = Signal(signed(g.potential_bits), name="leaked")
        with m.If(v > 0):
            m.d.comb += leaked.eq(Mux(v > p.leak, v - p.leak, 0))
        with m.Elif(v < 0):
            m.d.comb += leaked.eq(Mux(-v > p.leak, v + p.leak, 0))
        lif_sum = Signal(wide, name="lif_sum")
        lif_v = Signal(signed(g.potential_bits), name="lif_v")
        m.d.comb += [lif_sum.eq(leaked + inp), lif_v.eq(sat(lif_sum))]
        refractory = st.timer != 0
        lif_spike = ~refractory & (lif_v >= p.threshold)

        # -- COUNTER -----------------------------------------------------
        start = ~st.active & (inp != 0)
        run = st.active | start
        s0 = Mux(start, 0, st.s)
        v0 = Mux(start, 0, st.v)
        age0 = Mux(start, 0, st.timer)
        c_s_sum = Signal(wide, name="c_s_sum")
        c_s = Signal(signed(g.potential_bits), name="c_s")
        c_v_sum = Signal(wide, name="c_v_sum")
        c_v = Signal(signed(g.potential_bits), name="c_v")
        c_age = Signal(range(g.timer_max + 1), name="c_age")
        m.d.comb += [
            c_s_sum.eq(s0 + inp),
            c_s.eq(sat(c_s_sum)),
            c_v_sum.eq(v0 + c_s + Mux(p.direct, inp, 0)),
            c_v.eq(sat(c_v_sum)),
            c_age.eq(Mux(age0 == g.timer_max, g.timer_max, age0 + 1)),
        ]
        c_spike = run & (c_v >= p.threshold)
        c_clear = run & (c_spike | (c_age >= p.window))

        ns = self.new_state
        with m.If(p.model == Model.COUNTER):
            m.d.comb += self.spike.eq(c_spike)
            with m.If(c_clear):
                m.d.comb += [ns.v.eq(0), ns.s.eq(0), ns.timer.eq(0), ns.active.eq(0)]
            with m.Elif(run):
                m.d.comb += [ns.v.eq(c_v), ns.s.eq(c_s), ns.timer.eq(c_age), ns.active.eq(1)]
            with m.Else():
                m.d.comb += ns.eq(st)
        with m.Else():
            m.d.comb += [self.spike.eq(lif_spike), ns.s.eq(st.s), ns.active.eq(st.active)]
            with m.If(refractory):
                m.d.comb += [ns.v.eq(0), ns.timer.eq(st.timer - 1)]
            with m.Elif(lif_spike):
                m.d.comb += [ns.v.eq(0), ns.timer.eq(p.refractory)]
            with m.Else():
                m.d.comb += [ns.v.eq(lif_v), ns.timer.eq(0)]
        return m
