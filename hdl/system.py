"""The system: the chip (``hdl/top.py``) behind its UART block (``hdl/uart.py``).

Two pins and ``active``. Golden model: ``sim/uart.py`` on ``sim/top.py``.
Timing is the link's and the chip's (see their docstrings); this block adds
no logic but the soft reset, which restarts the chip's logic on RESET.
"""

from amaranth.hdl import Module, ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikeloom.defs import Geometry
from spikeloom.protocol import LinkConfig

from .top import Chip
from .uart import Link

__all__ = ["System"]


class System(wiring.Component):
    """The chip behind its UART block: two pins and ``active``.

    ``active`` (for simulation harnesses and LEDs) is high while the link
    or the chip has work left.
    """

    def __init__(self, geometry: Geometry, link: LinkConfig, queue_depth: int = 16):
        self.geometry = geometry
        self.link = link
        self.queue_depth = queue_depth
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "active": Out(1)})

    def elaborate(self, platform):
        m = Module()
        chip = Chip(self.geometry, self.queue_depth)
        link = Link(self.geometry, self.link)
        # A soft reset restarts the chip's logic; memories keep their contents.
        m.submodules.chip = ResetInserter(link.soft_reset)(chip)
        m.submodules.link = link
        m.d.comb += [link.rx.eq(self.rx), self.tx.eq(link.tx), self.active.eq(link.active)]
        wiring.connect(m, link.chip, chip)
        return m
