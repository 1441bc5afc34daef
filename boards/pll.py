"""The board's ``sync`` clock: its oscillator through the FPGA's PLL.

:func:`pll_params` finds divider settings that give the requested clock
exactly (or raises ``ValueError`` naming it); :class:`ClockGenerator`
instantiates the PLL (iCE40 ``SB_PLL40_PAD``, ECP5 ``EHXPLLL``, Gowin
``rPLL``) and holds
``sync`` in reset until the PLL locks (and two clocks more). A target whose clock equals its
oscillator's gets no PLL (the platform's own ``sync`` domain).
"""

from __future__ import annotations

from amaranth.hdl import (
    ClockDomain,
    ClockSignal,
    Const,
    Elaboratable,
    Instance,
    Module,
    ResetSignal,
    Signal,
)
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer

__all__ = ["ClockGenerator", "pll_params"]


def _ice40(f_in: float, f_out: float) -> dict:
    # iCE40 sysCLOCK PLL (SB_PLL40, "SIMPLE" feedback): PFD = f_in / (DIVR+1)
    # in 10..133 MHz, VCO = PFD * (DIVF+1) in 533..1066 MHz, out = VCO / 2**DIVQ.
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divq in range(1, 7):
            divf = round(f_out * 2**divq / pfd) - 1
            vco = pfd * (divf + 1)
            if 0 <= divf < 128 and 533e6 <= vco <= 1066e6 and vco / 2**divq == f_out:
                bounds = (17e6, 26e6, 44e6, 66e6, 101e6)
                filt = 1 + sum(pfd >= b for b in bounds)
                return {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filt}
    raise ValueError(f"no iCE40 PLL setting makes {f_out / 1e6:g} MHz from {f_in / 1e6:g} MHz")


def _ecp5(f_in: float, f_out: float) -> dict:
    # ECP5 EHXPLLL, CLKOP feedback: PFD = f_in / CLKI_DIV >= 3.125 MHz,
    # out = PFD * CLKFB_DIV, VCO = out * CLKOP_DIV in 400..800 MHz.
    for clki in range(1, 129):
        pfd = f_in / clki
        if pfd < 3.125e6:
            break
        fb = round(f_out / pfd)
        if not 1 <= fb <= 128 or pfd * fb != f_out:
            continue
        for op in range(1, 129):
            if 400e6 <= f_out * op <= 800e6:
                return {"CLKI_DIV": clki, "CLKFB_DIV": fb, "CLKOP_DIV": op}
    raise ValueError(f"no ECP5 PLL setting makes {f_out / 1e6:g} MHz from {f_in / 1e6:g} MHz")


#: The Gowin rPLL's output dividers.
_GOWIN_ODIV = (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)


def _gowin(f_in: float, f_out: float) -> dict:
    # Gowin GW1N(R)-9 rPLL (UG286): out = f_in * (FBDIV_SEL+1) / (IDIV_SEL+1),
    # PFD = f_in / (IDIV_SEL+1) >= 3 MHz, VCO = out * ODIV_SEL in 400..1200 MHz.
    for idiv in range(64):
        if f_in / (idiv + 1) < 3e6:
            break
        fb = round(f_out * (idiv + 1) / f_in) - 1
        if not 0 <= fb < 64 or f_in * (fb + 1) / (idiv + 1) != f_out:
            continue
        for odiv in reversed(_GOWIN_ODIV):  # the fastest VCO in range
            if 400e6 <= f_out * odiv <= 1200e6:
                return {"IDIV_SEL": idiv, "FBDIV_SEL": fb, "ODIV_SEL": odiv}
    raise ValueError(f"no Gowin PLL setting makes {f_out / 1e6:g} MHz from {f_in / 1e6:g} MHz")


def pll_params(family: str, f_in: float, f_out: float) -> dict:
    """Divider settings of ``family``'s PLL for ``f_out`` from ``f_in`` (Hz), exact."""
    solvers = {"ice40": _ice40, "ecp5": _ecp5, "gowin": _gowin}
    if family not in solvers:
        raise ValueError(f"no PLL support for the {family} family")
    return solvers[family](float(f_in), float(f_out))


class ClockGenerator(Elaboratable):
    """Drives the ``sync`` domain at ``clock_hz`` from the platform's default clock.

    ``sync`` is held in reset until the PLL reports lock (and for two clocks
    after, synchronised).
    """

    def __init__(self, family: str, clock_hz: float):
        self.family, self.clock_hz = family, clock_hz

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        f_in = platform.default_clk_frequency
        p = pll_params(self.family, f_in, self.clock_hz)
        pin = platform.request(platform.default_clk, dir="-")
        lock = Signal()
        clk = Signal()
        m.d.comb += ClockSignal("sync").eq(clk)
        if self.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=Const(p["DIVR"], 4),
                p_DIVF=Const(p["DIVF"], 7),
                p_DIVQ=Const(p["DIVQ"], 3),
                p_FILTER_RANGE=Const(p["FILTER_RANGE"], 3),
                io_PACKAGEPIN=pin.io,
                i_RESETB=Const(1),
                i_BYPASS=Const(0),
                o_PLLOUTGLOBAL=clk,
                o_LOCK=lock,
            )
        elif self.family == "gowin":
            m.submodules.clk_buf = buf = io.Buffer("i", pin)
            m.submodules.pll = Instance(
                "rPLL",
                p_DEVICE=platform.family,  # "GW1NR-9C"
                p_FCLKIN=f"{f_in / 1e6:g}",
                p_IDIV_SEL=p["IDIV_SEL"],
                p_FBDIV_SEL=p["FBDIV_SEL"],
                p_ODIV_SEL=p["ODIV_SEL"],
                p_DYN_IDIV_SEL="false",
                p_DYN_FBDIV_SEL="false",
                p_DYN_ODIV_SEL="false",
                p_DYN_DA_EN="false",
                p_PSDA_SEL="0000",
                p_DUTYDA_SEL="1000",
                p_CLKFB_SEL="internal",
                p_CLKOUT_BYPASS="false",
                p_CLKOUTP_BYPASS="false",
                p_CLKOUTD_BYPASS="false",
                p_DYN_SDIV_SEL=2,
                p_CLKOUTD_SRC="CLKOUT",
                p_CLKOUTD3_SRC="CLKOUT",
                i_CLKIN=buf.i,
                i_CLKFB=Const(0),
                i_RESET=Const(0),
                i_RESET_P=Const(0),
                i_FBDSEL=Const(0, 6),
                i_IDSEL=Const(0, 6),
                i_ODSEL=Const(0, 6),
                i_PSDA=Const(0, 4),
                i_DUTYDA=Const(0, 4),
                i_FDLY=Const(0, 4),
                o_CLKOUT=clk,
                o_LOCK=lock,
            )
        else:
            m.submodules.clk_buf = buf = io.Buffer("i", pin)
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{f_in / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{self.clock_hz / 1e6:g}",
                p_CLKI_DIV=p["CLKI_DIV"],
                p_CLKFB_DIV=p["CLKFB_DIV"],
                p_CLKOP_DIV=p["CLKOP_DIV"],
                p_CLKOP_CPHASE=(p["CLKOP_DIV"] - 1) // 2,
                p_CLKOP_FPHASE=0,
                p_CLKOP_ENABLE="ENABLED",
                p_FEEDBK_PATH="CLKOP",
                p_PLLRST_ENA="DISABLED",
                p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED",
                p_OUTDIVIDER_MUXA="DIVA",
                i_CLKI=buf.i,
                i_CLKFB=clk,
                i_RST=Const(0),
                i_STDBY=Const(0),
                i_PHASESEL0=Const(0),
                i_PHASESEL1=Const(0),
                i_PHASEDIR=Const(1),
                i_PHASESTEP=Const(1),
                i_PHASELOADREG=Const(1),
                i_PLLWAKESYNC=Const(0),
                i_ENCLKOP=Const(0),
                o_CLKOP=clk,
                o_LOCK=lock,
            )
        # Reset while the PLL is unlocked, through two plain flip-flops (an
        # asynchronous-reset synchroniser trips a yosys assertion in the ECP5
        # flow's abc9 pass).
        locked = Signal()
        m.submodules.lock_sync = FFSynchronizer(lock, locked, o_domain="sync")
        m.d.comb += ResetSignal("sync").eq(~locked)
        platform.add_clock_constraint(clk, self.clock_hz)
        return m
