"""bench/learning.py keeps running: its ``--quick`` mode (one short training of
each experiment on the golden model, no RTL) into a temporary folder, so the
committed results are left alone."""

import json
import subprocess
import sys

from conftest import ROOT


def test_bench_learning_quick(tmp_path):
    proc = subprocess.run(
        [sys.executable, "bench/learning.py", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "learning.json").read_text())
    for key in ("mnist_accuracy", "digits_accuracy"):
        assert 0.2 < res[key] <= 1.0, key  # far above chance (0.1) even after one pass
    assert 0 <= res["abc_abd_reversed_max"] <= 1 and 0.5 < res["abc_abd_discrimination_min"] <= 1
    m = res["mnist"]
    assert m["on_board"]["board"] is not None, "the MNIST network must fit a board's core"
    assert m["on_board"]["learn_clocks"] > 0 and m["on_board"]["tick_clocks"] > 0
    table = (tmp_path / "results-learning.md").read_text()
    assert "ODIN" in table and "Diehl" in table and "NeuroCoreX" in table
