"""The router and link benchmarks keep running: short runs into a temporary folder.

``bench/router.py --quick`` measures a tree and a flat bus of four cores on
the RTL (three rewiring points); ``bench/uart.py --steps 3`` measures the
link on the RTL (the ``--port sim`` device's build) and the ``--port sim``
CLI. Both write their JSON and table where ``--out`` says, so the committed
results are left alone.
"""

import json
import subprocess
import sys

from conftest import ROOT


def bench(script, tmp_path, *args):
    proc = subprocess.run(
        [sys.executable, f"bench/{script}", *args, "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_bench_router_quick(tmp_path):
    bench("router.py", tmp_path, "--quick")
    res = json.loads((tmp_path / "router.json").read_text())
    # The tree carries local traffic in parallel: more events per clock than one bus.
    assert res["local_events_per_clock"] > res["flat_local_events_per_clock"] > 0
    assert (tmp_path / "results-router.md").exists() and (tmp_path / "router-sweep.png").exists()


def test_bench_uart_short(tmp_path):
    bench("uart.py", tmp_path, "--steps", "3")
    res = json.loads((tmp_path / "uart.json").read_text())
    assert 0 < res["upload_efficiency"] <= 1 and 0 < res["line_utilisation"] <= 1
    assert len(res["step_roundtrip_clocks"]) == 3 and res["sim_load_run_s"] > 0
    assert (tmp_path / "results-uart.md").exists()
