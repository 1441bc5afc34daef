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

from spikeloom.hdl.core import Core
from spikeloom.testing.crosscheck import run_core_job as run_job

from conftest import SIMULATORS, VOLUME

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
