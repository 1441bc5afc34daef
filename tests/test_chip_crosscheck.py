"""RTL vs golden model for the multi-core chip, on random small-world networks.

Geometries (1,), (2,), (4,), (2, 2), (4, 4) and (3, 2), and three with
virtual cores (2 or 4 logical cores per engine), each built once per
simulator. 120 random networks with host input on Verilator (a tenth of them
on Icarus), 100 ticks each; the networks' neuron models cycle with the seed
(all LIF, all COUNTER, mixed, cores of different kinds:
``spikeloom.testing.stimulus.MODEL_KINDS``), and the one-core job has small
potentials and large counts (P = 5, k = 4: thresholds clipped to 15); the
(2,) job runs 300 ticks with 8-bit stamps, so the stamp wraps. Every tick is
compared: output events, tick stamps, event counters (conservation: every
routed and host event delivered exactly once, and the per-level counts of
the golden model), and neuron states (every tick, or every 2 or 5 on the
larger chips). One job learns on every core (random learning parameters and
seeds) and compares every core's whole crossbar after every tick. Every
network runs under random backpressure on the output (never, sometimes,
mostly or nearly always refused, drawn from its seed), so every level's
segments fill; two jobs fix it at about 3 clocks in 4. Only timing may
change; the tick's clocks are compared with the testbench's count every
tick, and each level's stalled segment-clocks with the testbench's count
from the segments' handshakes (networks 0, 1 and every even one). No job
can hang (bounded waits, ``tests/support/tb.py``).
``SPIKELOOM_VOLUME`` multiplies the networks. Replay a failure with
``SPIKELOOM_SEED=<seed> pytest tests/test_chip_crosscheck.py``.
"""

import os

import pytest

from spikeloom.testing.crosscheck import run_chip_job as run_job

from conftest import SIMULATORS, VOLUME

JOBS = [
    # (geometry, first seed, networks, ticks, throttle, state_every, learning);
    # throttle None: drawn per network (harness.THROTTLE).
    ("l1", 18000, 10, 100, None, 1, 0),
    ("l2", 10000, 10, 300, None, 1, 0),
    ("l4", 11000, 20, 100, None, 2, 0),
    # The two longest jobs in halves (the same seeds), so two workers share them.
    ("l22", 12000, 15, 100, None, 1, 0),
    ("l22", 12015, 15, 100, None, 1, 0),
    ("l44", 13000, 4, 100, None, 5, 0),
    ("l44", 13004, 4, 100, None, 5, 0),
    ("l22", 14000, 10, 100, 1, 5, 0),
    ("l44", 15000, 6, 100, 1, 5, 0),
    ("l32", 16000, 10, 100, None, 1, 0),
    ("l4v2", 19000, 10, 100, None, 1, 0),
    ("l42v4", 19100, 10, 100, None, 1, 0),
    ("l23v2", 19200, 10, 100, None, 1, 0),
    # Learning on every core, routed events included; crossbars compared every tick.
    ("l22", 17000, 10, 100, None, 1, 1),
]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("gname,seed,networks,ticks,throttle,state_every,learning", JOBS)
def test_chip_matches_golden(
    design, simulator, gname, seed, networks, ticks, throttle, state_every, learning
):
    networks *= VOLUME
    if simulator == "icarus":
        # Icarus is slower per network: it checks a tenth of them (the same
        # seeds), Verilator all of them.
        networks = max(2, networks // 10)
    if "SPIKELOOM_SEED" in os.environ:  # replay one network
        seed, networks = int(os.environ["SPIKELOOM_SEED"]), 1
    verdict = run_job(
        design, simulator, gname, seed, networks, ticks, throttle, state_every, learning
    )
    assert verdict["ok"], verdict["message"]
    assert verdict["cocotb_failed"] == 0 and verdict["cocotb_tests"] == 1
    assert verdict["networks"] == networks and verdict["ticks"] == networks * ticks
    # The networks must exercise the fabric: spikes, routed and host events.
    assert verdict["spikes"] > networks * ticks, verdict
    assert verdict["routed"] > networks * ticks // 10, verdict
    assert verdict["host"] > 0 and verdict["events"] > 0, verdict
    assert verdict["stall_checked"] >= min(networks, 2), verdict
    if learning:
        assert verdict["learned"] > networks * 10, verdict
    if any(verdict["throttles"]):
        # Backpressure filled the segments of every level.
        assert all(n > 0 for n in verdict["stalled"]), verdict["stalled"]
