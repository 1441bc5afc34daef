"""bench/core.py keeps running: its quick mode, into a temporary folder.

The quick mode builds the iCEBreaker default core (N = A = 64, the board's
lanes) in Verilator, runs it at two activities beside the golden model
(every tick's spikes compared) and writes core.json with the keys the
results page reads. The UP5K synthesis is left to the full run.
"""

import json
import subprocess
import sys

from conftest import ROOT


def test_bench_core_quick(tmp_path):
    proc = subprocess.run(
        [sys.executable, "bench/core.py", "--quick", "--no-synth", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "core.json").read_text())
    assert res["entries_per_clock"] >= 1
    assert 0 < res["entries_per_clock_measured_max"] <= res["entries_per_clock"]
    assert res["golden_synaptic_events_per_s"] > 0
    assert res["cycles"] and all(p["formula_matches"] for p in res["cycles"]), res["cycles"]
    assert (tmp_path / "results-core.md").read_text().startswith("# Core benchmark results")
