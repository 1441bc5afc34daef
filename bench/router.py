"""Benchmark the bus tree: cycles per tick and events per clock vs. locality.

    python bench/router.py [--quick] [--table-only]

``--quick`` (the test suite's) runs the same code on a 4-core tree (2, 2)
and a flat bus of 4, three points of few ticks: it proves the benchmark
runs, it does not measure the 16-core fabric.

Writes ``bench/results/router.json``, ``docs/results-router.md`` and the
plot ``docs/router-sweep.png``. Sixteen cores (N = A = 16, F = 2) run the
relay traffic of ``spikeloom.testing.stimulus.relay_traffic``: every neuron
fires every tick and sends F routed events, 512 a tick, whatever the
rewiring probability; the probability only moves targets from sibling
cores (same level-0 segment) to random cores. The same networks run on the
hierarchical tree (levels 4 x 4) and on a flat bus (one segment of 16
cores), on the RTL in simulation (Icarus if installed, else Verilator),
with the golden model checking the event counters on every tick.

Figures, per point, over the measured ticks: cycles per tick
(``last_tick_cycles``: from the tick's start until every event has been
delivered), routed events per clock (``events_per_clock``), packet moves
per clock on each level, and stalled segment-clocks.
"""

import argparse
import json
import math
import platform
import time
from pathlib import Path

from spikeloom.defs import Geometry
from spikeloom.hdl.core import tick_cycles
from spikeloom.sim.rtl import runner
from spikeloom.testing.harness import ChipHarness
from spikeloom.testing.jobs import run_job

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "bench" / "results" / "router.json"
TABLE = ROOT / "docs" / "results-router.md"
PLOT = ROOT / "docs" / "router-sweep.png"
BASE = dict(neurons=16, axons=16, lanes=4, count_bits=2, potential_bits=8, fanout=2, timer_bits=4)
FABRICS = {"tree": (4, 4), "flat": (16,)}
#: ``--quick``: the same shapes on four cores (two small builds instead of two large ones).
QUICK_FABRICS = {"tree": (2, 2), "flat": (4,)}


def measure(levels, rewirings, warmup, ticks, seed=1):
    g = Geometry(levels=levels, **BASE)
    simulator = "icarus" if "icarus" in runner.simulators() else "verilator"
    name = "bench_router_" + "x".join(map(str, levels))
    simr, build_dir = runner.build(
        ChipHarness(g), name, simulator, ROOT / "build" / "bench" / simulator
    )
    job = {
        "geometry": g.as_dict(),
        "seed": seed,
        "rewiring": rewirings,
        "warmup": warmup,
        "ticks": ticks,
    }
    verdict = run_job(simr, name, build_dir, "cocotb_bench_router", ROOT / "bench", job, "router")
    if not verdict["ok"]:
        raise SystemExit(f"router benchmark failed on {levels}: {verdict['message']}")
    out = []
    for p in verdict["points"]:
        clocks = sum(p["cycles"])
        out.append(
            {
                "rewiring": p["rewiring"],
                "cycles_per_tick": clocks / len(p["cycles"]),
                "events_per_clock": p["routed"] / clocks,
                "routed_per_tick": p["routed"] / len(p["cycles"]),
                "carried_per_clock": [c / clocks for c in p["carried"]],
                "stalled_per_clock": [s / clocks for s in p["stalled"]],
            }
        )
    return {"levels": list(levels), "simulator": simulator, "geometry": g.as_dict(), "points": out}


def core_cycles(levels=FABRICS["tree"]):
    """One relay core's tick by the formula: N recurrent + N axon rows, all fire."""
    g = Geometry(levels=tuple(levels), **BASE)
    return tick_cycles(g, 2 * g.neurons, [1] * g.neurons)


def plot(res):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("tree", "o-"), ("flat", "s--")):
        pts = res[key]["points"]
        x = [p["rewiring"] for p in pts]
        label = f"{key} {tuple(res[key]['levels'])}"
        ax1.plot(x, [p["cycles_per_tick"] for p in pts], style, label=label)
        ax2.plot(x, [p["events_per_clock"] for p in pts], style, label=f"{label}: routed")
    tree = res["tree"]["points"]
    for i in range(len(res["tree"]["levels"])):
        ax2.plot(
            [p["rewiring"] for p in tree],
            [p["carried_per_clock"][i] for p in tree],
            ":",
            label=f"tree level {i}: packet moves",
        )
    ax1.set_xlabel("rewiring probability")
    ax1.set_ylabel("cycles per tick")
    ax1.set_ylim(bottom=0)
    ax2.set_xlabel("rewiring probability")
    ax2.set_ylabel("per clock")
    ax2.set_ylim(bottom=0)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{_cores(res)} cores, {_load(res)} routed events per tick (bench/router.py)")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)


_WORDS = {2: "two", 3: "three", 4: "four", 8: "eight", 16: "sixteen"}


def _word(k: int) -> str:
    return _WORDS.get(k, str(k))


def _cores(res) -> int:
    return math.prod(res["tree"]["levels"])


def _load(res) -> int:
    g = res["tree"]["geometry"]
    return _cores(res) * g["neurons"] * g["fanout"]


def _fabric_lines(res) -> list[str]:
    """What the fabrics are: the cores, their traffic, the tree's and the flat bus's shape."""
    g, levels, cores = res["tree"]["geometry"], res["tree"]["levels"], _cores(res)
    n, f, b = g["neurons"], g["fanout"], levels[0]
    return [
        f"{_word(cores).capitalize()} cores (N = A = {n}, fan-out {f}) relay every neuron's "
        f"spike to {_word(f)} other",
        f"cores on every tick: {_load(res)} routed events per tick at every rewiring probability.",
        "At probability 0 every event stays between siblings of one level-0 segment;",
        f"rewiring sends events to random cores. The tree is levels {tuple(levels)}: "
        f"{_word(cores // b)} level-0",
        f"segments of {_word(b)} cores and a root; the flat bus is one segment of {cores} cores.",
    ]


def write_table(res):
    tree, flat = res["tree"], res["flat"]
    n, segs = tree["geometry"]["neurons"], _cores(res) // tree["levels"][0]
    lines = [
        "# Router benchmark results",
        "",
        "Generated by `python bench/router.py` from `bench/results/router.json`; do not edit.",
        f"Measured on {res['machine']} on {res['date']}, RTL in {tree['simulator']}.",
        "",
        *_fabric_lines(res),
        "Cycles per tick run from the tick's start until every event has been",
        "delivered (the barrier); events per clock are routed events ÷ those cycles.",
        "",
        f"**Local traffic (rewiring 0): tree {res['local_events_per_clock']:.2f} "
        f"events/clock, flat bus {res['flat_local_events_per_clock']:.2f}.**",
        "",
        f"A core's own tick takes {res['core_cycles_per_tick']} clocks here (the timing",
        f"formula of `hdl/core.py`, {2 * n} active rows, {n} spikes), so at low rewiring the tree",
        "finishes shortly after the cores do: it is core-bound there, and its events per",
        f"clock are a lower bound on what its {_word(segs)} level-0 segments can carry. "
        "The flat bus",
        f"is bus-bound everywhere ({_load(res)} events at most one per clock).",
        "",
        "| rewiring | tree cycles/tick | tree events/clock | level-0 moves/clock "
        "| root moves/clock | tree stalls/clock | flat cycles/tick | flat events/clock "
        "| flat stalls/clock |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t, f in zip(tree["points"], flat["points"]):
        lines.append(
            f"| {t['rewiring']:.2f} | {t['cycles_per_tick']:.1f} | {t['events_per_clock']:.2f} "
            f"| {t['carried_per_clock'][0]:.2f} | {t['carried_per_clock'][-1]:.2f} "
            f"| {sum(t['stalled_per_clock']):.2f} | {f['cycles_per_tick']:.1f} "
            f"| {f['events_per_clock']:.2f} | {sum(f['stalled_per_clock']):.2f} |"
        )
    lines += [
        "",
        "Moves count a packet once per segment it crosses (two level-0 moves and one",
        "root move for an event between level-0 blocks). Stalls count segment-clocks",
        "in which a packet waited at a segment's input and did not move.",
        "",
        "![cycles per tick and events per clock against rewiring](router-sweep.png)",
        "",
    ]
    TABLE.write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="three points, few ticks")
    ap.add_argument("--table-only", action="store_true", help="redo the table and plot")
    ap.add_argument("--out", type=Path, help="write the JSON, table and plot here instead")
    args = ap.parse_args(argv)
    if args.out:  # the suite's quick run leaves the committed results alone
        global RESULTS, TABLE, PLOT
        args.out.mkdir(parents=True, exist_ok=True)
        RESULTS, TABLE, PLOT = (args.out / p.name for p in (RESULTS, TABLE, PLOT))
    if args.table_only:
        res = json.loads(RESULTS.read_text())
    else:
        fabrics = QUICK_FABRICS if args.quick else FABRICS
        rewirings = [0.0, 0.5, 1.0] if args.quick else [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
        warmup, ticks = (2, 3) if args.quick else (2, 10)
        res = {
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "date": time.strftime("%Y-%m-%d"),
        }
        for key, levels in fabrics.items():
            res[key] = measure(levels, rewirings, warmup, ticks)
            print(key, json.dumps(res[key]["points"][0]))
        res["local_events_per_clock"] = res["tree"]["points"][0]["events_per_clock"]
        res["flat_local_events_per_clock"] = res["flat"]["points"][0]["events_per_clock"]
        res["sweep"] = [
            {k: p[k] for k in ("rewiring", "cycles_per_tick", "events_per_clock")}
            | {"carried_per_clock": p["carried_per_clock"]}
            for p in res["tree"]["points"]
        ]
        res["flat_sweep"] = [
            {k: p[k] for k in ("rewiring", "cycles_per_tick", "events_per_clock")}
            for p in res["flat"]["points"]
        ]
    res["core_cycles_per_tick"] = core_cycles(res["tree"]["levels"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    write_table(res)
    plot(res)
    print(f"wrote {RESULTS}, {TABLE}, {PLOT}")


if __name__ == "__main__":
    main()
