"""The cross-checks' designs and jobs, shared by their tests and the mutation gate.

Geometry tables and one function per cocotb job kind (core, chip, learning, UART),
so ``tests/test_mutation.py`` runs a job of the same kind as a cross-check
without importing its test module. ``design`` is the session's
``Design.get`` (``tests/conftest.py``); a ``variant`` or ``core_cls`` names
another build (a mutant).
"""

from spikeloom.defs import Geometry
from spikeloom.protocol import LinkConfig

from .harness import ChipHarness, CoreHarness

#: C++ optimisation of the cross-checks' own designs: their jobs run millions of
#: clocks, 2x (core) to 4x (16-core chip) faster than at the default -O0, for a
#: build at most twice as long. A mutant (``variant``, ``core_cls``) runs a short
#: job once: it keeps the quicker -O0 build.
CROSSCHECK_OPT = "-O1"

#: What the testbenches read below a harness's ports (``spikeloom.testing.tb``:
#: the stall reference's segment handshakes, crossbar peeks, a hang's diagnostics).
#: Only these are public in a Verilator build (``runner.build``): every signal
#: public costs a third more clocks per second and a slower build.
CHIP_VISIBLE = (
    "*",
    "inner.inflight",
    "inner.core*.busy",
    "inner.fanout*.busy",
    "inner.core*.xbar",
    "inner.bus.seg*.inputs__*",
)
CORE_VISIBLE = ("*", "inner.xbar")

SMALL = dict(count_bits=2, potential_bits=8, timer_bits=4, fanout=4, tick_bits=8)
CHIP_GEOMETRIES = {
    # One core, P = 5 and k = 4: one full-count entry is half the range.
    "l1": Geometry(
        levels=(1,),
        neurons=16,
        axons=16,
        lanes=4,
        **{**SMALL, "count_bits": 4, "potential_bits": 5},
    ),
    "l2": Geometry(levels=(2,), neurons=16, axons=32, lanes=4, **SMALL),
    "l4": Geometry(levels=(4,), neurons=16, axons=16, lanes=4, **SMALL),
    "l22": Geometry(levels=(2, 2), neurons=8, axons=16, lanes=2, **SMALL),
    "l44": Geometry(levels=(4, 4), neurons=8, axons=16, lanes=4, **SMALL),
    # Not powers of two: 6 cores (core numbers 6 and 7 do not exist), fan-out 2.
    "l32": Geometry(levels=(3, 2), neurons=8, axons=16, lanes=2, **{**SMALL, "fanout": 2}),
    # Virtual cores: V logical cores time-share one engine (no learning unit).
    "l4v2": Geometry(levels=(4,), neurons=16, axons=16, lanes=4, history=0, virtual=2, **SMALL),
    "l42v4": Geometry(levels=(4, 2), neurons=8, axons=16, lanes=2, history=0, virtual=4, **SMALL),
    # Two levels, 6 cores; one lane.
    "l23v2": Geometry(levels=(2, 3), neurons=8, axons=8, lanes=1, history=0, virtual=2, **SMALL),
}

LEARNING_GEOMETRIES = {
    # 8 neurons, 8 axons, 2 lanes, 3-bit counts, 10-bit potentials, H = 3.
    "l8a8": Geometry(
        neurons=8, axons=8, lanes=2, count_bits=3, potential_bits=10, timer_bits=4, history=3
    ),
    # One group (lanes = N), 2-bit counts, H = 1.
    "l4a4": Geometry(
        neurons=4, axons=4, lanes=4, count_bits=2, potential_bits=8, timer_bits=3, history=1
    ),
}

# Two cores, so routing and host events are in play; a short idle timeout
# and a small event FIFO, so both are exercised.
UART_GEOMETRY = Geometry(
    levels=(2,),
    neurons=16,
    axons=16,
    lanes=4,
    count_bits=2,
    potential_bits=8,
    timer_bits=4,
    tick_bits=8,
)
UART_LINK = LinkConfig(clocks_per_bit=4, rx_fifo=1024, event_fifo=64, timeout_bits=64)
#: What ``tests/cocotb_uart.py`` reaches in the system besides its pins: it reads
#: the chip's ports, core 0's tick start and the bus segments' input
#: handshakes (its tick and stall references) and the link's strobes to the
#: chip, and writes the register file's RAM (counters near their wrap). As
#: ``CHIP_VISIBLE``.
UART_VISIBLE = ("*", "link.chip__*", "chip.bus.seg*.inputs__*", "chip.core0.tick_start")
UART_WRITABLE = ("link.regs.mem",)


CORE_GEOMETRIES = {
    # 32 neurons, 32 axons, 4 lanes, 3-bit counts, 10-bit potentials.
    "n32a32": Geometry(
        neurons=32, axons=32, lanes=4, count_bits=3, potential_bits=10, timer_bits=4
    ),
    # 16 neurons, 64 axons, 8 lanes, 2-bit counts, 7-bit potentials.
    "n16a64": Geometry(neurons=16, axons=64, lanes=8, count_bits=2, potential_bits=7, timer_bits=3),
    # One group (lanes = N), 4-bit counts, 6-bit potentials (small P, large
    # k: an input saturates; thresholds clipped to 31), 8-bit ticks.
    "n8a4": Geometry(
        neurons=8, axons=4, lanes=8, count_bits=4, potential_bits=6, timer_bits=5, tick_bits=8
    ),
    # Virtual cores: 2 logical cores of 16 neurons per engine; 4 of one group each.
    "n16a16v2": Geometry(
        neurons=16,
        axons=16,
        lanes=4,
        count_bits=3,
        potential_bits=8,
        timer_bits=4,
        history=0,
        virtual=2,
        levels=(2,),
    ),
    "n8a4v4": Geometry(
        neurons=8,
        axons=4,
        lanes=8,
        count_bits=2,
        potential_bits=6,
        timer_bits=3,
        history=0,
        virtual=4,
        levels=(4,),
    ),
}


def run_core_job(design, simulator, gname, seed, cores, ticks, throttle, tag, core_cls=None):
    g = CORE_GEOMETRIES[gname]
    key = gname if core_cls is None else f"{gname}_{core_cls.__name__}"
    kwargs = {} if core_cls is None else {"core_cls": core_cls}
    opt = CROSSCHECK_OPT if core_cls is None else None
    built = design(key, lambda: CoreHarness(g, **kwargs), simulator, opt, CORE_VISIBLE)
    job = {
        "geometry": g.as_dict(),
        "seed": seed,
        "cores": cores,
        "ticks": ticks,
        "throttle": throttle,
        "readback_cores": 2,
    }
    return built.run("cocotb_core", job, tag)


def run_chip_job(
    design, simulator, gname, seed, networks, ticks, throttle, state_every, learning=0, variant=""
):
    """One cocotb job; ``variant`` names a different build (a mutant, tests/test_mutation.py)."""
    g = CHIP_GEOMETRIES[gname]
    opt = None if variant else CROSSCHECK_OPT
    built = design(f"chip_{gname}{variant}", lambda: ChipHarness(g), simulator, opt, CHIP_VISIBLE)
    job = {
        "geometry": g.as_dict(),
        "seed": seed,
        "networks": networks,
        "ticks": ticks,
        "throttle": throttle,
        "state_every": state_every,
        "readback_networks": 1,
        "learning": learning,
    }
    return built.run("cocotb_chip", job, f"s{seed}")


def run_learning_job(design, simulator, gname, seed, nets, ticks, core_cls=None):
    g = LEARNING_GEOMETRIES[gname]
    key = "learn_" + (gname if core_cls is None else f"{gname}_{core_cls.__name__}")
    kwargs = {} if core_cls is None else {"core_cls": core_cls}
    opt = CROSSCHECK_OPT if core_cls is None else None
    built = design(key, lambda: CoreHarness(g, **kwargs), simulator, opt, CORE_VISIBLE)
    job = {"geometry": g.as_dict(), "seed": seed, "nets": nets, "ticks": ticks}
    return built.run("cocotb_learning", job, f"s{seed}")


def uart_system():
    from spikeloom.hdl.system import System

    return System(UART_GEOMETRY, UART_LINK)


def uart_design(design, simulator, key="uart_system", opt=None):
    """The UART system built for ``tests/cocotb_uart.py`` (``UART_VISIBLE``)."""
    return design(key, uart_system, simulator, opt, UART_VISIBLE, UART_WRITABLE)
