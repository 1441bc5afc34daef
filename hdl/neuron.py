"""Neuron update unit: one neuron, one tick, LIF or COUNTER.

From the neuron's parameters, its state and its exact summed input it
computes the new state and the spike bit, following docs/semantics.md §4
(golden model: ``sim/neuron.py``). Three pipeline stages, so that no clock
period holds more than two carry chains:

- stage 1 (registered): the leaked LIF potential ``leak(v)``;
- stage 2 (registered): the LIF potential ``sat(leak(v) + I)``, the COUNTER
  slope ``sat(s0 + I)`` and the partial sum ``v0 + direct·I``;
- stage 3 (combinational): the COUNTER potential, both threshold compares,
  the timeout and the new-state muxes.

Latency: ``new_state`` and ``spike`` are valid two clocks after the inputs
settle, and the inputs must be held through those clocks (the core holds
them: its accumulators and memory read addresses do not move during an
update).
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikeloom.defs import Geometry, Model

__all__ = ["NeuronUpdate"]


class NeuronUpdate(wiring.Component):
    """Three-stage neuron update (latency 2 clocks, inputs held 3 clocks).

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
        pot = signed(g.potential_bits)

        def sat(x):
            return Mux(x > g.v_max, g.v_max, Mux(x < g.v_min, g.v_min, x))

        # -- stage 1 -----------------------------------------------------
        v = st.v
        leaked = Signal(pot, name="leaked")
        with m.If(v > 0):
            m.d.sync += leaked.eq(Mux(v > p.leak, v - p.leak, 0))
        with m.Elif(v < 0):
            m.d.sync += leaked.eq(Mux(-v > p.leak, v + p.leak, 0))
        with m.Else():
            m.d.sync += leaked.eq(0)

        # -- stage 2 -----------------------------------------------------
        lif_sum = Signal(wide, name="lif_sum")
        m.d.comb += lif_sum.eq(leaked + inp)

        start = ~st.active & (inp != 0)
        s0 = Mux(start, 0, st.s)
        v0 = Mux(start, 0, st.v)
        c_s_sum = Signal(wide, name="c_s_sum")
        m.d.comb += c_s_sum.eq(s0 + inp)

        lif_v = Signal(pot, name="lif_v")  # sat(leak(v) + I)
        c_s = Signal(pot, name="c_s")  # sat(s0 + I)
        c_vd = Signal(wide, name="c_vd")  # v0 + direct * I, not yet saturated
        m.d.sync += [
            lif_v.eq(sat(lif_sum)),
            c_s.eq(sat(c_s_sum)),
            c_vd.eq(v0 + Mux(p.direct, inp, 0)),
        ]

        # -- stage 3 (inputs still held) -----------------------------------
        refractory = st.timer != 0
        lif_spike = ~refractory & (lif_v >= p.threshold)

        run = st.active | start
        age0 = Mux(start, 0, st.timer)
        c_v_sum = Signal(wide, name="c_v_sum")
        c_v = Signal(pot, name="c_v")
        c_age = Signal(range(g.timer_max + 1), name="c_age")
        m.d.comb += [
            c_v_sum.eq(c_vd + c_s),
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
