"""The job protocol between pytest (or a benchmark) and a cocotb module, both sides.

The sending side, :func:`run_job`, puts the job (a JSON object) in
``SPIKELOOM_JOB`` and a result path in ``SPIKELOOM_RESULT``, runs the cocotb
module against a built design and returns the verdict: a JSON object with
``ok``, ``message`` and whatever the module measured, plus ``cocotb_tests``
and ``cocotb_failed``. A run that ends without a verdict (a crash, an
exception) gets ``ok`` False and the tail of its log as the message.

The cocotb side reads its job with :func:`read_job` and writes its verdict
with :func:`write_verdict` (``spikeloom.testing.tb.fail`` for a failure).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["JOB", "RESULT", "run_job", "read_job", "result_path", "write_verdict"]

JOB, RESULT = "SPIKELOOM_JOB", "SPIKELOOM_RESULT"


def run_job(simr, name: str, build_dir: Path, module: str, test_dir: Path, job: dict, tag: str):
    """Run cocotb ``module`` (in ``test_dir``) on the built design with ``job``; the verdict."""
    from spikeloom.sim.rtl import runner

    result = build_dir / f"result-{tag}.json"
    result.unlink(missing_ok=True)
    env = {JOB: json.dumps(job), RESULT: str(result)}
    tests, failed = runner.run(simr, name, build_dir, module, test_dir, env, tag)
    if result.exists():
        verdict = json.loads(result.read_text())
    else:
        log = build_dir / f"run-{tag}.log"
        tail = log.read_text()[-3000:] if log.exists() else "(no log)"
        verdict = {"ok": False, "message": f"simulation ended without a verdict:\n{tail}"}
    verdict["cocotb_tests"], verdict["cocotb_failed"] = tests, failed
    return verdict


def read_job() -> dict:
    """The job of this cocotb run."""
    return json.loads(os.environ[JOB])


def result_path() -> str:
    """Where this cocotb run's verdict goes."""
    return os.environ.get(RESULT, "result.json")


def write_verdict(path: str | None = None, ok: bool = True, message: str = "", **fields):
    """Write the verdict (to ``path``, default :func:`result_path`)."""
    with open(path or result_path(), "w") as f:
        json.dump({"ok": ok, "message": message, **fields}, f)
