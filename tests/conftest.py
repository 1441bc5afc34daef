"""Shared fixtures: each design variant is built once per session and reused."""

import json
import os
from pathlib import Path

import pytest

from spikeloom.sim.rtl import runner

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("SPIKELOOM_BUILD", ROOT / "build" / "cocotb"))
TESTS = Path(__file__).resolve().parent

SIMULATORS = runner.simulators()
#: Multiplies the random volume (networks, cores) of the cross-checks: a deep
#: nightly run sets ``SPIKELOOM_VOLUME=10``; the default suite runs 1.
VOLUME = max(1, int(os.environ.get("SPIKELOOM_VOLUME", "1")))


def pytest_report_header(config):
    return f"spikeloom simulators: {', '.join(SIMULATORS) or 'none found'}"


class Design:
    """A built harness: run cocotb jobs against it."""

    _cache: dict = {}

    def __init__(self, key, make_component, simulator, opt=None):
        self.name = "harness_" + key
        self.simulator = simulator
        self.runner, self.build_dir = runner.build(
            make_component(), self.name, simulator, BUILD / simulator, opt
        )

    @classmethod
    def get(cls, key, make_component, simulator, opt=None):
        if (key, simulator) not in cls._cache:
            cls._cache[key, simulator] = cls(key, make_component, simulator, opt)
        return cls._cache[key, simulator]

    def run(self, module, job, tag):
        result = self.build_dir / f"result-{tag}.json"
        result.unlink(missing_ok=True)
        env = {"SPIKELOOM_JOB": json.dumps(job), "SPIKELOOM_RESULT": str(result)}
        tests, failed = runner.run(self.runner, self.name, self.build_dir, module, TESTS, env, tag)
        if result.exists():
            verdict = json.loads(result.read_text())
        else:
            log = self.build_dir / f"run-{tag}.log"
            tail = log.read_text()[-3000:] if log.exists() else "(no log)"
            verdict = {"ok": False, "message": f"simulation ended without a verdict:\n{tail}"}
        verdict["cocotb_tests"], verdict["cocotb_failed"] = tests, failed
        return verdict


@pytest.fixture(scope="session")
def design():
    return Design.get
