"""The learn phase's cost, measured on the RTL (Verilator, through cocotb).

``measure(example, seed, ticks)`` replays the first ``ticks`` ticks of
``examples/<example>.py``'s training run on the RTL core with
``tests/cocotb_replay.py`` (bit-exact against the golden model on every
tick, or it raises) and returns the learn phases' clocks and work:

- ``learn_clocks``: clocks of every learn phase (the RTL's
  ``last_tick_cycles`` less the tick's deliver and update clocks);
- ``visits``: crossbar entries visited by STDP (rows x learning post spikes);
- ``changed``: entries whose count changed (STDP and growth);
- ``cycles_per_synapse_update`` = learn_clocks / visits, and
  ``cycles_per_changed_synapse`` = learn_clocks / changed.

Used by ``bench/learning.py``; runs alone as ``python bench/learning_rtl.py
[example] [ticks]``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

from spikeloom.sim.rtl import runner
from spikeloom.testing.harness import CoreHarness
from spikeloom.testing.jobs import run_job

ROOT = Path(__file__).resolve().parent.parent


def _example(name):
    spec = importlib.util.spec_from_file_location(
        f"spikeloom_example_{name}", ROOT / "examples" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def measure(example: str, seed: int | None = None, ticks: int = 1 << 30) -> dict:
    module = _example(example)
    seed = module.SEED if seed is None else seed
    g = module.build(seed).geometry
    name = f"bench_learn_{example}"
    simr, build_dir = runner.build(
        CoreHarness(g), name, "verilator", ROOT / "build" / "bench" / "verilator"
    )
    job = {"example": example, "seed": seed, "ticks": ticks}
    t0 = time.perf_counter()
    r = run_job(simr, name, build_dir, "cocotb_replay", ROOT / "tests", job, f"r{seed}")
    del r["cocotb_tests"], r["cocotb_failed"]
    if not r["ok"]:
        raise SystemExit(f"RTL and golden model differ: {r['message']}")
    r["geometry"] = g.as_dict()
    r["sim_seconds"] = round(time.perf_counter() - t0, 1)
    r["cycles_per_synapse_update"] = round(r["learn_clocks"] / max(1, r["visits"]), 2)
    r["cycles_per_changed_synapse"] = round(r["learn_clocks"] / max(1, r["changed"]), 2)
    r["learn_clocks_per_tick"] = round(r["learn_clocks"] / max(1, r["learning_ticks"]), 1)
    return r


if __name__ == "__main__":  # pragma: no cover
    example = sys.argv[1] if len(sys.argv) > 1 else "abc_abd"
    ticks = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 30
    print(json.dumps(measure(example, ticks=ticks), indent=1))
