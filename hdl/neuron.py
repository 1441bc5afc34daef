"""Neuron update unit: a pipeline that updates one neuron per clock, LIF or COUNTER.

From a neuron's parameters, its state and its exact summed input it
computes the new state and the spike bit, following docs/semantics.md §4
(golden model: ``sim/neuron.py``). Every stage carries what the later
stages need, so a new neuron can enter on every clock:

- stage 1 (registered): the leaked LIF potential ``leak(v)``;
- stage 2 (registered): the LIF potential ``sat(leak(v) + I)``, the COUNTER
  slope ``sat(s0 + I)`` and the partial sum ``v0 + direct·I``;
- stage 3 (registered outputs): the COUNTER potential, both threshold
  compares, the timeout and the new-state muxes.

No clock period holds more than two carry chains. Latency: :data:`LATENCY`
clocks from ``valid`` (with its inputs) to ``o_valid`` (with ``new_state``,
``spike`` and the carried ``o_tag``, ``o_output``, ``o_learn``). Throughput:
one neuron per clock while ``en`` is high; with ``en`` low every stage holds.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikeloom.defs import Geometry, Model

__all__ = ["NeuronUpdate", "LATENCY"]

#: Clocks from a neuron's inputs to its registered result.
LATENCY = 3


class NeuronUpdate(wiring.Component):
    """Three-stage neuron update pipeline (see the module docstring).

    Ports: ``valid``, ``tag`` (the neuron index, ``tag_bits`` wide), ``params``, ``state`` and
    ``inp`` (signed, ``acc_bits`` wide) in, ``en`` (advance); ``o_valid``,
    ``o_tag``, ``new_state``, ``spike``, ``o_output`` and ``o_learn`` (the
    neuron's output-enable and learn bits) out; ``busy`` while a neuron is in it.
    """

    def __init__(self, geometry: Geometry, tag_bits: int | None = None):
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be a Geometry, not {geometry!r}")
        self.geometry = g = geometry
        tag = tag_bits or max(1, g.neuron_bits)
        super().__init__(
            {
                "en": In(1, init=1),
                "valid": In(1),
                "tag": In(tag),
                "params": In(g.params_layout),
                "state": In(g.state_layout),
                "inp": In(signed(g.acc_bits)),
                "o_valid": Out(1),
                "o_tag": Out(tag),
                "new_state": Out(g.state_layout),
                "spike": Out(1),
                "o_output": Out(1),
                "o_learn": Out(1),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        # Wide enough for v + s + 2*I without wrapping before saturation.
        wide = signed(max(g.acc_bits, g.potential_bits) + 3)
        pot = signed(g.potential_bits)

        def sat(x):
            # In range iff the bits from P-1 up are all equal (no comparator
            # chain: a short LUT tree on the top bits).
            top = x[g.potential_bits - 1 :]
            ok = (top == 0) | (top == (1 << len(top)) - 1)
            return Mux(ok, x[: g.potential_bits], Mux(x[-1], g.v_min, g.v_max))

        def carry(prefix, **signals):
            """Registered copies of ``signals``, advanced with ``en``."""
            out = []
            for name, s in signals.items():
                # Only `valid` is reset: the data follow it (RESET's net stays small).
                r = Signal(s.shape(), name=f"{prefix}_{name}", reset_less=name != "valid")
                with m.If(self.en):
                    m.d.sync += r.eq(s)
                out.append(r)
            return out

        # -- stage 1 -----------------------------------------------------
        p0, st0 = self.params, self.state
        v = st0.v
        # leak(v) with one adder chain per side: v - λ for v >= 0 (0 if that
        # is not positive), v + λ for v < 0 (0 if that is not negative).
        down = Signal(signed(g.potential_bits + 1), name="down")
        up = Signal(signed(g.potential_bits + 1), name="up")
        m.d.comb += [down.eq(v - p0.leak), up.eq(v + p0.leak)]
        leaked = Signal(pot, name="leaked", reset_less=True)
        with m.If(self.en):
            m.d.sync += leaked.eq(Mux(v[-1], Mux(up[-1], up, 0), Mux(down[-1], 0, down)))
        v1, tag1, p1, st1, inp1 = carry(
            "s1", valid=self.valid, tag=self.tag, p=p0, st=st0, inp=self.inp
        )

        # -- stage 2 -----------------------------------------------------
        lif_sum = Signal(wide, name="lif_sum")
        c_s_sum = Signal(wide, name="c_s_sum")
        start1 = ~st1.active & (inp1 != 0)
        m.d.comb += [
            lif_sum.eq(leaked + inp1),
            c_s_sum.eq(Mux(start1, 0, st1.s) + inp1),
        ]
        lif_v = Signal(pot, name="lif_v", reset_less=True)  # sat(leak(v) + I)
        c_s = Signal(pot, name="c_s", reset_less=True)  # sat(s0 + I)
        c_vd = Signal(wide, name="c_vd", reset_less=True)  # v0 + direct * I, not yet saturated
        with m.If(self.en):
            m.d.sync += [
                lif_v.eq(sat(lif_sum)),
                c_s.eq(sat(c_s_sum)),
                c_vd.eq(Mux(start1, 0, st1.v) + Mux(p1.direct, inp1, 0)),
            ]
        v2, tag2, p2, st2, start2 = carry("s2", valid=v1, tag=tag1, p=p1, st=st1, start=start1)

        # -- stage 3 -------------------------------------------------------
        refractory = st2.timer != 0
        lif_spike = ~refractory & (lif_v >= p2.threshold)

        run = st2.active | start2
        age0 = Mux(start2, 0, st2.timer)
        c_v_sum = Signal(wide, name="c_v_sum")
        c_v = Signal(pot, name="c_v")
        c_age = Signal(range(g.timer_max + 1), name="c_age")
        m.d.comb += [
            c_v_sum.eq(c_vd + c_s),
            c_v.eq(sat(c_v_sum)),
            c_age.eq(Mux(age0 == g.timer_max, g.timer_max, age0 + 1)),
        ]
        c_spike = run & (c_v >= p2.threshold)
        c_clear = run & (c_spike | (c_age >= p2.window))

        ns = Signal(g.state_layout, name="ns")
        spike = Signal(name="spike3")
        with m.If(p2.model == Model.COUNTER):
            m.d.comb += spike.eq(c_spike)
            with m.If(c_clear):
                m.d.comb += [ns.v.eq(0), ns.s.eq(0), ns.timer.eq(0), ns.active.eq(0)]
            with m.Elif(run):
                m.d.comb += [ns.v.eq(c_v), ns.s.eq(c_s), ns.timer.eq(c_age), ns.active.eq(1)]
            with m.Else():
                m.d.comb += ns.eq(st2)
        with m.Else():
            m.d.comb += [spike.eq(lif_spike), ns.s.eq(st2.s), ns.active.eq(st2.active)]
            with m.If(refractory):
                m.d.comb += [ns.v.eq(0), ns.timer.eq(st2.timer - 1)]
            with m.Elif(lif_spike):
                m.d.comb += [ns.v.eq(0), ns.timer.eq(p2.refractory)]
            with m.Else():
                m.d.comb += [ns.v.eq(lif_v), ns.timer.eq(0)]
        with m.If(self.en):
            m.d.sync += [
                self.o_valid.eq(v2),
                self.o_tag.eq(tag2),
                self.new_state.eq(ns),
                self.spike.eq(spike & v2),
                self.o_output.eq(p2.output),
                self.o_learn.eq(p2.learn),
            ]
        m.d.comb += self.busy.eq(v1 | v2 | self.o_valid)
        return m
