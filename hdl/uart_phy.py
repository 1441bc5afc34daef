"""The line PHY of the UART block: 8N1 receiver and transmitter.

Timing: ``clocks_per_bit`` clocks per bit (at least 4, any larger value:
the timers are as wide as it needs). The receiver synchronises ``rx``
(two flip-flops), finds the start bit's falling edge and samples every bit
in its middle; a byte is out one bit time after its last data bit's
middle (``valid`` for one clock). The transmitter takes a byte when idle
and sends 10 bit times; ``data.ready`` is high again after the stop bit.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx"]


class UartRx(wiring.Component):
    """8N1 receiver: one byte on ``data`` with ``valid`` for one clock, per character.

    A character whose stop bit is 0 raises ``framing_error`` for one clock
    instead, and the receiver then waits for the line to go high, so a
    break counts once. ``busy`` is high while a character is on the line.
    """

    def __init__(self, clocks_per_bit: int):
        self.cpb = clocks_per_bit
        super().__init__(
            {
                "rx": In(1, init=1),
                "data": Out(8),
                "valid": Out(1),
                "framing_error": Out(1),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.cpb + 1))
        bit = Signal(range(10))
        shreg = Signal(8)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.cpb // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.comb += self.busy.eq(1)
                with m.If(timer == 0):
                    with m.If(rx):  # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(self.cpb - 1), bit.eq(0)]
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                m.d.comb += self.busy.eq(1)
                with m.If(timer == 0):
                    m.d.sync += timer.eq(self.cpb - 1)
                    with m.If(bit == 8):
                        with m.If(rx):
                            m.d.comb += self.valid.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.d.comb += self.framing_error.eq(1)
                            m.next = "BREAK"
                    with m.Else():
                        m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), bit.eq(bit + 1)]
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("BREAK"):
                m.d.comb += self.busy.eq(1)
                with m.If(rx):
                    m.next = "IDLE"
        m.d.comb += self.data.eq(shreg)
        return m


class UartTx(wiring.Component):
    """8N1 transmitter: takes a byte from ``data`` when idle; 10 bit times per byte."""

    def __init__(self, clocks_per_bit: int):
        self.cpb = clocks_per_bit
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.cpb))
        bits = Signal(range(11))
        shreg = Signal(10, init=0x3FF)
        m.d.comb += self.tx.eq(shreg[0])
        m.d.comb += self.data.ready.eq(bits == 0)
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [
                shreg.eq(Cat(Const(0, 1), self.data.payload, Const(1, 1))),
                bits.eq(10),
                timer.eq(self.cpb - 1),
            ]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [
                    shreg.eq(Cat(shreg[1:], Const(1, 1))),
                    bits.eq(bits - 1),
                    timer.eq(self.cpb - 1),
                ]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
