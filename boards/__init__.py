"""Board targets: which platform, which geometry, which link, which programmer.

Defined once here and read by ``spikeloom boards``/``build``/``program``
(``host/cli/build.py``), ``bench/boards.py`` and the docs. Importing this module
does not import the gateware or the platform classes (the host may list the
boards without Amaranth's vendor code); :meth:`Target.platform` does.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace

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


_ULX3S = Target(
    name="ulx3s",
    title="Radiona ULX3S 85F (ECP5 LFE5U-85F-6BG381C)",
    platform_class="amaranth_boards.ulx3s:ULX3S_85F_Platform",
    family="ecp5",
    device="LFE5U-85F-6BG381C",
    # 32 cores of 128 neurons on a two-level tree, four per engine (virtual
    # cores: 8 engines); 2-bit entries (k = 1) so that the 1 M crossbar
    # entries fit the EBR (196 of 208), 16 per clock per engine. 60 MHz
    # (25 MHz through the PLL): placed at 68.2 (an 80 MHz build placed at
    # 61.7). Held by a core's update engine -> group handoff, whose logic
    # nextpnr spreads across the die beside the core's scattered crossbar EBR.
    geometry=Geometry(
        levels=(8, 4),
        neurons=128,
        axons=128,
        count_bits=1,
        potential_bits=12,
        fanout=2,
        lanes=16,
        history=0,
        virtual=4,
    ),
    clock_hz=60e6,
    baud=1_000_000,
    programmers=(("openFPGALoader", ("-b", "ulx3s")), ("fujprog", ())),
)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="icebreaker",
            title="1BitSquared iCEBreaker (iCE40UP5K-SG48)",
            platform_class="amaranth_boards.icebreaker:ICEBreakerPlatform",
            family="ice40",
            device="iCE40UP5K-SG48",
            # Two cores on one engine and one fan-out unit (virtual cores):
            # their crossbars (32-bit words, 8 four-bit entries per clock)
            # fill all four SPRAMs: 512 neurons, 256 K synapses, 5084 of 5280
            # logic cells, 29.0 MHz placed. No learning unit: it needs
            # V = 1, and a second engine does not fit beside the UART block
            # (docs/results.md).
            geometry=Geometry(
                levels=(2,),
                neurons=256,
                axons=256,
                potential_bits=12,
                fanout=1,
                lanes=8,
                history=0,
                virtual=2,
            ),
            clock_hz=24e6,
            baud=1_000_000,
            event_fifo=64,
            programmers=(("iceprog", ()), ("openFPGALoader", ("-b", "ice40_generic"))),
            # -spram: crossbars to SPRAM; -dsp: learning multipliers to SB_MAC16.
            synth_opts=("-spram", "-dsp"),
            # SPRAM has no initial contents, so the crossbar gives up its
            # all-zero init (``load`` writes every entry) and asks for SPRAM.
            script_after_read=(
                'delete t:$meminit_v2 r:MEMID=*xbar %i; setattr -set ram_style "huge" */xbar'
            ),
            bitstream_suffix=".bin",
        ),
        _ULX3S,
        # The same board and flow, another geometry and clock.
        replace(
            _ULX3S,
            name="ulx3s-learn",
            title="Radiona ULX3S 85F, learning variant (holds examples/digits.py's network)",
            # The default's 2-bit entries cannot hold the digits network (k = 6,
            # H = 32): two cores with learning units, 7-bit entries, 256 axons
            # (a 16 x 16 input image). 40 MHz: a 30 MHz build placed at 45.7
            # once the learning unit's read-modify-writes were split.
            geometry=Geometry(
                levels=(2,),
                neurons=256,
                axons=256,
                count_bits=6,
                potential_bits=12,
                fanout=1,
                lanes=8,
                history=32,
            ),
            clock_hz=40e6,
        ),
        Target(
            name="tangnano9k",
            title="Sipeed Tang Nano 9K (Gowin GW1NR-LV9QN88PC6/I5)",
            platform_class="spikeloom.boards.gowin:TangNano9kPlatform",
            family="gowin",
            device="GW1NR-LV9QN88PC6/I5",
            # One core of 256 neurons; 2-bit entries (k = 1) so the crossbar
            # (16 per clock) fits the 26 BSRAM beside the rest; no room for
            # the learning unit's memories (history 0). Two routing entries
            # per neuron (one core: its recurrent synapses are crossbar rows):
            # yosys 0.60 maps a fan-out of 4's routing table to dual-port
            # BSRAM, two more than the device has.
            geometry=Geometry(
                levels=(1,),
                neurons=256,
                axons=64,
                count_bits=1,
                potential_bits=12,
                fanout=2,
                lanes=16,
                history=0,
            ),
            # 27 -> 54 MHz (rPLL); placed at 89.7 MHz.
            clock_hz=54e6,
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
