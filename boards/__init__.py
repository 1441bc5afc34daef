"""Board targets: which platform, which geometry, which link, which programmer.

Defined once here and read by ``spikeloom boards``/``build``/``program``
(``host/cli.py``), ``bench/boards.py`` and the docs. Importing this module
does not import the gateware or the platform classes (the host may list the
boards without Amaranth's vendor code); :meth:`Target.platform` does.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from spikeloom.defs import Geometry
from spikeloom.protocol import LinkConfig

__all__ = ["Target", "TARGETS", "target"]


@dataclass(frozen=True)
class Target:
    """One board: its amaranth-boards platform and the design built for it."""

    name: str
    title: str
    #: ``module:Class`` of the platform (amaranth-boards, or ``spikeloom.boards``).
    platform_class: str
    family: str  # "ice40", "ecp5" or "gowin"
    device: str
    #: Default geometry: chosen to use the device's RAM (see docs/results.md).
    geometry: Geometry
    #: Serial line rate the bitstream is built for (host: ``--baud``).
    baud: int
    #: The design's clock in Hz, made by the FPGA's PLL from the board's
    #: oscillator (``boards/pll.py``); ``None`` runs at the oscillator's rate.
    clock_hz: float | None = None
    #: Event FIFO depth of the UART block (the receive FIFO keeps its default).
    event_fifo: int = 256
    #: Programmers tried in order: (tool, arguments before the bitstream path).
    programmers: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Extra ``synth_*`` options (``-spram`` maps crossbars to the UP5K's SPRAM).
    synth_opts: tuple[str, ...] = ()
    #: yosys commands run after reading the design, before synthesis.
    script_after_read: str = ""
    #: Bitstream file suffix written by the flow.
    bitstream_suffix: str = ".bit"
    notes: str = field(default="", compare=False)

    def platform(self):
        """A new instance of the board's Amaranth platform."""
        module, _, cls = self.platform_class.partition(":")
        return getattr(importlib.import_module(module), cls)()

    def link(self, clock_hz: float) -> LinkConfig:
        return LinkConfig.for_baud(clock_hz, self.baud, event_fifo=self.event_fifo)

    def clock(self, platform) -> float:
        """The design's clock in Hz on ``platform`` (the PLL's, else the oscillator's)."""
        return self.clock_hz or platform.default_clk_frequency


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="icebreaker",
            title="1BitSquared iCEBreaker (iCE40UP5K-SG48)",
            platform_class="amaranth_boards.icebreaker:ICEBreakerPlatform",
            family="ice40",
            device="iCE40UP5K-SG48",
            # The UP5K is full (95 % of its logic) without learning: history 0
            # builds no learning unit.
            geometry=Geometry(
                levels=(1,),
                neurons=64,
                axons=64,
                potential_bits=12,
                fanout=1,
                lanes=1,
                history=0,
            ),
            baud=1_000_000,
            event_fifo=64,
            programmers=(("iceprog", ()), ("openFPGALoader", ("-b", "ice40_generic"))),
            synth_opts=("-spram",),
            # SPRAM has no initial contents, so the crossbar gives up its
            # all-zero init (``load`` writes every entry) and asks for SPRAM.
            script_after_read=(
                'delete t:$meminit_v2 r:MEMID=*xbar %i; setattr -set ram_style "huge" */xbar'
            ),
            bitstream_suffix=".bin",
        ),
        Target(
            name="ulx3s",
            title="Radiona ULX3S 85F (ECP5 LFE5U-85F-6BG381C)",
            platform_class="amaranth_boards.ulx3s:ULX3S_85F_Platform",
            family="ecp5",
            device="LFE5U-85F-6BG381C",
            geometry=Geometry(levels=(4,), neurons=256, axons=256, lanes=4),
            baud=1_000_000,
            programmers=(("openFPGALoader", ("-b", "ulx3s")), ("fujprog", ())),
        ),
        Target(
            name="tangnano9k",
            title="Sipeed Tang Nano 9K (Gowin GW1NR-LV9QN88PC6/I5)",
            platform_class="spikeloom.boards.gowin:TangNano9kPlatform",
            family="gowin",
            device="GW1NR-LV9QN88PC6/I5",
            geometry=Geometry(levels=(1,), neurons=64, axons=64, potential_bits=12, lanes=1),
            baud=1_000_000,
            programmers=(("openFPGALoader", ("-b", "tangnano9k")),),
            bitstream_suffix=".fs",
        ),
    )
}


def target(name: str) -> Target:
    """The target called ``name``; ``KeyError`` names the known ones."""
    try:
        return TARGETS[name]
    except KeyError:
        raise KeyError(f"no board called {name!r}; known boards: {', '.join(TARGETS)}") from None
