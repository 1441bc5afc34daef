"""RTL vs golden model for one core, on seeded random cores (cocotb).

Each geometry is built once per simulator; two of them are engines of 2 and
4 virtual cores (``Geometry.virtual``), their logical cores loaded and
checked one by one. 340 random cores in all (on
Verilator; a fifth of them on Icarus), 100 to 300 ticks each, compared
every tick (events and every neuron's state). The cores' neuron models
cycle with the seed (mixed, all LIF, all COUNTER:
``spikeloom.testing.stimulus.MODEL_KINDS``). The throttled jobs stall the
output stream on 3 clocks in 4: only timing may change. A failure message
names the seed to replay with
``SPIKELOOM_SEED=<seed> pytest tests/test_core_crosscheck.py``.
"""

import os

import pytest

from spikeloom.defs import Geometry
from spikeloom.hdl.core import Core
from spikeloom.testing.harness import CoreHarness

from conftest import SIMULATORS, VOLUME

GEOMETRIES = {
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
JOBS = [
    # (geometry, first seed, cores, ticks, throttle)
    ("n32a32", 1000, 100, 100, 0),
    ("n16a64", 2000, 100, 100, 0),
    ("n8a4", 3000, 30, 300, 0),
    ("n32a32", 4000, 10, 100, 1),
    ("n16a64", 5000, 10, 100, 1),
    ("n16a16v2", 6000, 40, 100, 0),
    ("n8a4v4", 6100, 40, 100, 0),
    ("n16a16v2", 6200, 10, 100, 1),
]


def run_job(design, simulator, gname, seed, cores, ticks, throttle, tag, core_cls=None):
    g = GEOMETRIES[gname]
    key = gname if core_cls is None else f"{gname}_{core_cls.__name__}"
    kwargs = {} if core_cls is None else {"core_cls": core_cls}
    built = design(key, lambda: CoreHarness(g, **kwargs), simulator)
    job = {
        "geometry": g.as_dict(),
        "seed": seed,
        "cores": cores,
        "ticks": ticks,
        "throttle": throttle,
        "readback_cores": 2,
    }
    return built.run("cocotb_core", job, tag)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("gname,seed,cores,ticks,throttle", JOBS)
def test_core_matches_golden(design, simulator, gname, seed, cores, ticks, throttle):
    cores *= VOLUME
    if simulator == "icarus":
        # Icarus runs this testbench ~4x slower than Verilator: it checks a
        # fifth of the cores (the same seeds), Verilator checks all of them.
        cores = max(5, cores // 5)
    if "SPIKELOOM_SEED" in os.environ:  # replay one core
        seed, cores = int(os.environ["SPIKELOOM_SEED"]), 1
    verdict = run_job(design, simulator, gname, seed, cores, ticks, throttle, f"s{seed}")
    assert verdict["ok"], verdict["message"]
    assert verdict["cocotb_failed"] == 0 and verdict["cocotb_tests"] == 1
    assert verdict["cores"] == cores and verdict["ticks"] == cores * ticks
    # The random cores must exercise the design: spikes and output events.
    assert verdict["spikes"] > cores * ticks // 10, verdict
    assert verdict["events"] > 0, verdict


class PerLaneCore(Core):
    """The crossbar as one memory per lane, as it is built for the ECP5 and Gowin."""

    per_lane_crossbar = True


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_per_lane_crossbar_matches_golden(design, simulator):
    verdict = run_job(design, simulator, "n16a64", 2500, 30, 100, 1, "perlane", PerLaneCore)
    assert verdict["ok"], verdict["message"]
    assert verdict["cores"] == 30 and verdict["spikes"] > 0 and verdict["events"] > 0
