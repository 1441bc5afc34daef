"""The top level of a board build: the UART pins, the System, an activity LED.

The System (``hdl/system.py``: chip + UART block) runs in the ``sync`` domain:
the board's oscillator through the FPGA's PLL when the target names a clock
(``boards/pll.py``; reset until the PLL locks), else the platform's own
domain at the oscillator's rate with its power-on reset. The receive pin is
synchronised inside the UART block.
LED 0 is lit while the chip or the link has work (``System.active``).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module

from spikeloom.defs import Geometry
from spikeloom.hdl.system import System
from spikeloom.protocol import LinkConfig

from .pll import ClockGenerator

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    def __init__(self, geometry: Geometry, link: LinkConfig, family=None, clock_hz=None):
        self.geometry = geometry
        self.link = link
        self.family, self.clock_hz = family, clock_hz

    def elaborate(self, platform):
        m = Module()
        if self.clock_hz and self.clock_hz != platform.default_clk_frequency:
            m.submodules.clock = ClockGenerator(self.family, self.clock_hz)
        m.submodules.system = system = System(self.geometry, self.link)
        uart = platform.request("uart", 0)
        m.d.comb += [system.rx.eq(uart.rx.i), uart.tx.o.eq(system.tx)]
        if ("led", 0) in platform.resources:
            # Registered: the LED pin is far from everything that drives `active`.
            m.d.sync += platform.request("led", 0).o.eq(system.active)
        return m
