"""The golden-model benchmark's quick mode (``bench/model.py --quick``).

Runs the script as the README does, then checks what it wrote: the
summary keys, the sweep, and, where Brian2 is installed, that both of its
targets produced the golden model's raster on every tick.
"""

import importlib.util
import json
import subprocess
import sys

from conftest import ROOT

KEYS = (
    "chip_events_per_s",
    "core_events_per_s",
    "brian2_cython_events_per_s",
    "brian2_numpy_events_per_s",
    "chip_vs_brian2_cython",
    "chip_vs_brian2_numpy",
    "raster_agreement_cython",
    "raster_agreement_numpy",
)


def test_bench_model_quick():
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "model.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = ROOT / "build" / "bench" / "model-quick"
    res = json.loads((out / "model.json").read_text())
    for k in KEYS:
        assert k in res, k
    cmp = res["comparison"]
    assert cmp["synaptic_events"] > 0 and cmp["spikes"] > 0
    impl = cmp["implementations"]
    assert impl["core"]["raster_agreement"] == 1.0  # CoreModel = ChipModel
    assert res["chip_events_per_s"] > 0 and res["core_events_per_s"] > 0
    if importlib.util.find_spec("brian2") is not None:
        assert res["raster_agreement_cython"] == 1.0, impl["brian2_cython"]
        assert res["raster_agreement_numpy"] == 1.0, impl["brian2_numpy"]
        assert res["chip_vs_brian2_cython"] > 0
    else:
        assert res["brian2_cython_events_per_s"] is None
        assert "Brian2 is not installed" in run.stdout
    assert {(r["cores"], r["neurons"]) for r in res["sweep"]} == {
        (c, n) for c in (1, 16) for n in (64, 256)
    }
    assert "| implementation |" in (out / "results-model.md").read_text()
