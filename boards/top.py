"""The top level of a board build: the UART pins, the System, an activity LED.

The System (``hdl/system.py``: chip + UART block) runs in the platform's default
``sync`` domain, clocked by the board's oscillator with the platform's
power-on reset. The receive pin is synchronised inside the UART block.
LED 0 is lit while the chip or the link has work (``System.active``).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module

from spikeloom.defs import Geometry
from spikeloom.hdl.system import System
from spikeloom.protocol import LinkConfig

__all__ = ["BoardTop"]


class BoardTop(Elaboratable):
    def __init__(self, geometry: Geometry, link: LinkConfig):
        self.geometry = geometry
        self.link = link

    def elaborate(self, platform):
        m = Module()
        m.submodules.system = system = System(self.geometry, self.link)
        uart = platform.request("uart", 0)
        m.d.comb += [system.rx.eq(uart.rx.i), uart.tx.o.eq(system.tx)]
        if ("led", 0) in platform.resources:
            m.d.comb += platform.request("led", 0).o.eq(system.active)
        return m
