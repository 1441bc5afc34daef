"""Shared fixtures: each design variant is built once per session and reused."""

import functools
import hashlib
import os
from pathlib import Path

import pytest

from spikeloom.sim.rtl import runner
from spikeloom.testing import schedule
from spikeloom.testing.jobs import run_job

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("SPIKELOOM_BUILD", ROOT / "build" / "cocotb"))
TESTS = Path(__file__).resolve().parent

SIMULATORS = runner.simulators()
#: Multiplies the random volume (networks, cores) of the cross-checks: a deep
#: nightly run sets ``SPIKELOOM_VOLUME=10``; the default suite runs 1.
VOLUME = max(1, int(os.environ.get("SPIKELOOM_VOLUME", "1")))


def pytest_report_header(config):
    return f"spikeloom simulators: {', '.join(SIMULATORS) or 'none found'}"


def pytest_collection_modifyitems(config, items):
    """Longest first, dealt out to the xdist workers in turns (``spikeloom.testing.schedule``)."""
    estimates = schedule.load_estimates(TESTS / "durations.json")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    by_id = {item.nodeid: item for item in items}
    items[:] = [by_id[t] for t in schedule.order(list(by_id), estimates, workers)]


@functools.cache
def sources_digest() -> str:
    """A hash of the sources a design can come from (gateware, tests, mutants, examples)."""
    import amaranth

    h = hashlib.sha1(amaranth.__version__.encode())
    for d in ("spikeloom", "hdl", "sim", "tests", "examples"):
        for p in sorted((ROOT / d).rglob("*.py")):
            h.update(str(p.relative_to(ROOT)).encode() + p.read_bytes())
    return h.hexdigest()[:16]


class Design:
    """A built harness: run cocotb jobs against it.

    ``key`` names the design within a session (``make_component`` makes the
    same design under the same key); with the sources' hash it also keys
    the Verilog on disk, so the other xdist worker does not convert it again.
    ``visible``/``writable``: the signals its testbenches reach (``runner.build``).
    """

    _cache: dict = {}

    def __init__(self, key, make_component, simulator, opt=None, visible=None, writable=()):
        self.name = "harness_" + key
        self.simulator = simulator
        self.runner, self.build_dir = runner.build(
            make_component(),
            self.name,
            simulator,
            BUILD / simulator,
            opt,
            visible=visible,
            writable=writable,
            key=sources_digest(),
        )

    @classmethod
    def get(cls, key, make_component, simulator, opt=None, visible=None, writable=()):
        if (key, simulator) not in cls._cache:
            cls._cache[key, simulator] = cls(key, make_component, simulator, opt, visible, writable)
        return cls._cache[key, simulator]

    def run(self, module, job, tag):
        """The verdict of cocotb ``module`` (in tests/) on this design (``jobs.run_job``)."""
        return run_job(self.runner, self.name, self.build_dir, module, TESTS, job, tag)


@pytest.fixture(scope="session")
def design():
    return Design.get
