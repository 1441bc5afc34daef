"""The configuration port: element access to a block's memories (``Region``).

One element (crossbar entry, neuron parameters, neuron state, route) per
clock while the chip is not busy. Writes: one clock of ``cfg_we``. Reads:
``cfg_rdata`` is valid on the clock ``cfg_rvalid`` is high, at least one
clock after ``cfg_re``; the latency is the block's own and may grow, so a
reader waits for the strobe instead of counting clocks.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikeloom.defs import REGION_BITS, Geometry

__all__ = ["ConfigSignature"]


class ConfigSignature(wiring.Signature):
    """The configuration port, seen from the block that serves it.

    ``region`` adds the :class:`~spikeloom.defs.Region` select, ``core`` the
    core select of a multi-core chip.
    """

    def __init__(self, geometry: Geometry, *, region: bool = True, core: bool = False):
        g = geometry
        members = {}
        if core:
            members["cfg_core"] = In(g.core_bits)
        if region:
            members["cfg_region"] = In(REGION_BITS)
        members.update(
            {
                "cfg_addr": In(g.cfg_addr_bits),
                "cfg_wdata": In(g.cfg_data_bits),
                "cfg_we": In(1),
                "cfg_re": In(1),
                "cfg_rdata": Out(g.cfg_data_bits),
                # High for one clock when cfg_rdata holds the element of the last cfg_re.
                "cfg_rvalid": Out(1),
            }
        )
        super().__init__(members)
