"""Benchmark the golden model against Brian2, side by side in one run.

    python bench/model.py [--quick] [--no-brian2]

Writes ``bench/results/model.json`` and ``docs/results-model.md``
(``--quick``: a small network and sweep, written under
``build/bench/model-quick/`` instead; the test suite runs it).

The network (``network``): N = 1024 LIF neurons and A = 1024 axons on one
core, every crossbar entry present with probability 10 % (count 1 .. 7,
half of them inhibitory), threshold 40, leak 1, refractory 2; each tick 5 %
of the axons, drawn independently, get an event. The same network runs on

- ``sim.top.ChipModel`` (one core: what ``--port golden`` uses),
- ``sim.core.CoreModel``,
- Brian2 with its cython and numpy targets, if Brian2 is installed (the
  ``bench`` extra); skipped with a message where it is not.

Brian2's schedule is arranged to match docs/semantics.md §4.1 exactly: the
neuron update (leak, then the summed input, saturation, refractory) is one
integer ``run_regularly`` operation in the ``groups`` slot that consumes
the input ``I`` summed by the synapses (``I_post += w``) in the previous
time step; Brian2 step s is tick s - 1 (the axon events of tick t leave the
spike generator at step t), so the rasters must be identical on every tick
(``raster_agreement``: the fraction of ticks with the same spikes).

A synaptic event is one non-zero crossbar entry in an active row (the
recurrent rows of the neurons that spiked the tick before, and the axons
with an event); events/s is the network's events over the CPU time
(``time.process_time``) of the loop alone: the golden model's ``tick``
calls, Brian2's ``run`` after a one-step warm-up run that compiles the code
(Brian2's per-run preparation is inside). Figures are medians of 3 runs,
the implementations interleaved, with ``OPENBLAS_NUM_THREADS=1`` (set here,
before numpy loads; the golden model makes no BLAS call either way).

Learning: ticks per second of the first ticks of ``examples/digits.py``'s
training (STDP and growth on every tick, 256 COUNTER neurons) replayed on
``CoreModel`` (``examples.common.replay``), CPU time; skipped where
scikit-learn (the ``dev`` extra) is missing.

The sweep runs ``ChipModel`` alone for N = 256, 1024 and 4096 neurons in
all and 1, 5 and 20 % axon activity, on one core (A = N) and on 16 cores
(levels (4, 4), N / 16 neurons and axons per core, every neuron routing one
event to a random axon of a random core).
"""

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # noqa: E402 - before numpy loads

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

from spikeloom.defs import Geometry  # noqa: E402
from spikeloom.network import Network  # noqa: E402
from spikeloom.sim.core import CoreModel  # noqa: E402
from spikeloom.sim.top import ChipModel  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "model.json"
TABLE = ROOT / "docs" / "results-model.md"
QUICK_DIR = ROOT / "build" / "bench" / "model-quick"

PARAMS = dict(threshold=40, leak=1, refractory=2)
DENSITY, ACTIVITY, INHIBITORY = 0.10, 0.05, 0.5
FULL = dict(
    neurons=1024, ticks=1000, repeats=3, sweep_n=(256, 1024, 4096), sweep_ticks=300, digits=20000
)
QUICK = dict(neurons=128, ticks=100, repeats=1, sweep_n=(64, 256), sweep_ticks=30, digits=300)
SWEEP_ACTIVITY = (0.01, 0.05, 0.20)


def network(neurons: int, cores: int = 1, seed: int = 0) -> Network:
    """The benchmark network: ``neurons`` in all, on 1 or 16 cores (module docstring)."""
    n = neurons // cores
    levels = (1,) if cores == 1 else (4, 4)
    g = Geometry(
        levels=levels, neurons=n, axons=n, lanes=4, count_bits=3, potential_bits=12, timer_bits=4
    )
    if g.cores != cores:
        raise ValueError(f"cores = {cores}: 1 or 16")
    rng = np.random.default_rng([seed, neurons, cores])
    net = Network.empty(g)
    present = rng.random(net.count.shape) < DENSITY
    net.count[:] = np.where(present, rng.integers(1, g.max_count + 1, present.shape), 0)
    net.sign[:] = present & (rng.random(present.shape) < INHIBITORY)
    for k, v in PARAMS.items():
        net.params[k][:] = v
    if cores > 1:
        net.route_valid[:, :, 0] = 1
        net.route_core[:, :, 0] = rng.integers(0, cores, (cores, n))
        net.route_axon[:, :, 0] = rng.integers(0, n, (cores, n))
    return net.validate()


def host_inputs(g: Geometry, ticks: int, activity: float, seed: int = 1) -> list[np.ndarray]:
    """Per tick, the (K, 2) host events (core, axon): each axon with probability ``activity``."""
    rng = np.random.default_rng([seed, g.cores * g.neurons])
    out = []
    for _ in range(ticks):
        c, a = np.nonzero(rng.random((g.cores, g.axons)) < activity)
        out.append(np.stack([c, a], axis=1))
    return out


def synaptic_events(net: Network, raster: np.ndarray, host: list[np.ndarray]) -> int:
    """Non-zero entries of the active rows, summed over ticks and cores.

    ``raster``: (T, cores, N) spikes. Routed events are counted at the row
    they activate (their destination axon), like host events."""
    g = net.geometry
    nnz = np.count_nonzero(net.count, axis=2)  # (cores, rows)
    t_end = raster.shape[0]
    active = np.zeros((t_end, g.cores, g.rows), dtype=bool)
    active[1:, :, : g.neurons] = raster[:-1]
    for t, ev in enumerate(host):
        active[t, ev[:, 0], g.neurons + ev[:, 1]] = True
    if g.cores > 1:  # routed events: the spikes of t - 1 through their entry
        for t in range(1, t_end):
            c, n = np.nonzero(raster[t - 1])
            ok = net.route_valid[c, n, 0] != 0
            active[t, net.route_core[c, n, 0][ok], g.neurons + net.route_axon[c, n, 0][ok]] = True
    return int((active * nnz[None]).sum())


# -- the implementations: each returns (CPU seconds of the loop, (T, cores, N) raster) --


def run_chip(net, host):
    g = net.geometry
    chip = ChipModel(net)
    raster = np.zeros((len(host), g.cores, g.neurons), dtype=bool)
    t0 = time.process_time()
    for t, ev in enumerate(host):
        raster[t] = chip.tick(ev)[0]
    return time.process_time() - t0, raster


def run_core(net, host):
    g = net.geometry
    core = CoreModel(g)
    core.set_crossbar(net.count[0], net.sign[0])
    core.set_params(**{k: v[0] for k, v in net.params.items()})
    axons = [ev[:, 1] for ev in host]
    core.weights  # noqa: B018 - built before the loop, as ChipModel does
    raster = np.zeros((len(host), 1, g.neurons), dtype=bool)
    t0 = time.process_time()
    for t, ax in enumerate(axons):
        raster[t, 0] = core.tick(ax)[0]
    return time.process_time() - t0, raster


def import_brian2():
    """Brian2, or None if it is not installed.

    Brian2 2.9 builds its Quantity class with ``np.ndarray.ptp``, which
    NumPy 2.4 removed: while Brian2 loads, ``np.ndarray`` is a subclass
    that has it (the numpy submodules are loaded first, with the real one).
    """
    try:
        import importlib.util

        if importlib.util.find_spec("brian2") is None:
            return None
    except ValueError:  # pragma: no cover
        return None
    import numpy.fft  # noqa: F401
    import numpy.linalg  # noqa: F401
    import numpy.ma  # noqa: F401
    import numpy.polynomial  # noqa: F401
    import numpy.random  # noqa: F401
    import numpy.testing  # noqa: F401

    real = np.ndarray
    if not hasattr(real, "ptp"):

        class _WithPtp(real):
            def ptp(self, axis=None, out=None, keepdims=False):
                return np.ptp(self, axis=axis, out=out, keepdims=keepdims)

        np.ndarray = _WithPtp
    try:
        import brian2
    finally:
        np.ndarray = real
    brian2.prefs.logging.console_log_level = "WARNING"
    return brian2


def run_brian2(b2, target, net, host):
    """The network in Brian2 (module docstring); ``target``: "cython" or "numpy"."""
    g = net.geometry
    n, ticks = g.neurons, len(host)
    b2.prefs.codegen.target = target
    b2.start_scope()
    b2.defaultclock.dt = 1 * b2.ms
    update = (
        "r = int(timer > 0)\n"
        f"v = (1 - r) * int(clip(v - clip(v, -leak, leak) + I, {g.v_min}, {g.v_max}))\n"
        "timer = r * (timer - 1)\n"
        "I = 0"
    )
    eqs = (
        "v : integer\nI : integer\ntimer : integer\nr : integer\n"
        "theta : integer (constant)\nleak : integer (constant)\nrefr : integer (constant)"
    )
    neurons = b2.NeuronGroup(n, eqs, threshold="v >= theta", reset="v = 0\ntimer = refr")
    neurons.theta = net.params["threshold"][0]
    neurons.leak = net.params["leak"][0]
    neurons.refr = net.params["refractory"][0]
    neurons.run_regularly(update, when="groups")
    # Axon events of tick t leave the generator at step t; step s is tick s - 1.
    idx = np.concatenate([ev[:, 1] for ev in host])
    steps = np.concatenate([np.full(len(ev), t) for t, ev in enumerate(host)])
    axons = b2.SpikeGeneratorGroup(g.axons, idx, steps * b2.ms)
    w = np.where(net.sign[0] != 0, -net.count[0], net.count[0])
    syn = []
    for src, rows in ((neurons, w[:n]), (axons, w[n:])):
        i, j = np.nonzero(rows)
        s = b2.Synapses(src, neurons, "w : integer (constant)", on_pre="I_post += w")
        s.connect(i=i, j=j)
        s.w = rows[i, j]
        syn.append(s)
    mon = b2.SpikeMonitor(neurons)
    model = b2.Network(neurons, axons, *syn, mon)
    model.run(1 * b2.ms, namespace={})  # step 0 (tick -1): compiles; nothing can spike
    t0 = time.process_time()
    model.run(ticks * b2.ms, namespace={})
    seconds = time.process_time() - t0
    raster = np.zeros((ticks + 1, 1, n), dtype=bool)
    step = np.round(np.asarray(mon.t / b2.ms)).astype(int)
    raster[step, 0, np.asarray(mon.i)] = True
    return seconds, raster[1:]


# -- the benchmark ---------------------------------------------------------------


def comparison(size, brian2):
    """The implementations on the benchmark network, interleaved, ``repeats`` times."""
    net = network(size["neurons"])
    host = host_inputs(net.geometry, size["ticks"], ACTIVITY)
    impls = {"chip": lambda: run_chip(net, host), "core": lambda: run_core(net, host)}
    if brian2 is not None:
        for target in ("cython", "numpy"):
            impls[f"brian2_{target}"] = lambda t=target: run_brian2(brian2, t, net, host)
    times = {k: [] for k in impls}
    rasters, failed = {}, {}
    for _ in range(size["repeats"]):
        for k, run in impls.items():
            if k in failed:
                continue
            try:
                seconds, rasters[k] = run()
            except Exception as e:  # a Brian2 target that cannot build here
                if not k.startswith("brian2"):
                    raise
                failed[k] = f"{type(e).__name__}: {e}"[:500]
                print(f"{k} failed, left out: {failed[k]}")
                continue
            times[k].append(seconds)
    ref = rasters["chip"]
    events = synaptic_events(net, ref, host)
    out = {
        "neurons": size["neurons"],
        "axons": net.geometry.axons,
        "density": DENSITY,
        "axon_activity": ACTIVITY,
        "ticks": size["ticks"],
        "params": PARAMS,
        "spikes": int(ref.sum()),
        "synaptic_events": events,
        "implementations": {},
        "failed": failed,
    }
    for k, ts in times.items():
        if k in failed:
            continue
        med = statistics.median(ts)
        same = (rasters[k] == ref).all(axis=(1, 2))
        first = int(np.argmin(same)) if not same.all() else None
        out["implementations"][k] = {
            "seconds": [round(t, 4) for t in ts],
            "median_seconds": round(med, 4),
            "events_per_s": round(events / med),
            "raster_agreement": float(same.mean()),
            "first_different_tick": first,
        }
    return out


def digits_training(ticks: int) -> dict | None:
    """Ticks/s of the first ``ticks`` ticks of the digits example's training."""
    try:
        from spikeloom.examples import digits
        from spikeloom.examples.common import replay

        run = digits.build()
    except ImportError as e:
        print(f"digits training skipped: {e}")
        return None
    t0 = time.process_time()
    _, spikes = replay(run, ticks=ticks)
    seconds = time.process_time() - t0
    return {
        "ticks": ticks,
        "spikes": int(spikes.sum()),
        "seconds": round(seconds, 3),
        "ticks_per_s": round(ticks / seconds, 1),
    }


def sweep(size):
    rows = []
    for cores in (1, 16):
        for n in size["sweep_n"]:
            net = network(n, cores)
            for act in SWEEP_ACTIVITY:
                host = host_inputs(net.geometry, size["sweep_ticks"], act)
                seconds, raster = run_chip(net, host)
                events = synaptic_events(net, raster, host)
                rows.append(
                    {
                        "cores": cores,
                        "neurons": n,
                        "axon_activity": act,
                        "ticks": len(host),
                        "spikes_per_tick": round(float(raster.sum()) / len(host), 1),
                        "synaptic_events": events,
                        "seconds": round(seconds, 4),
                        "ticks_per_s": round(len(host) / seconds, 1),
                        "events_per_s": round(events / seconds),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def summary(cmp: dict, brian2) -> dict:
    impl = cmp["implementations"]
    chip = impl["chip"]["events_per_s"]
    out = {"chip_events_per_s": chip, "core_events_per_s": impl["core"]["events_per_s"]}
    for target in ("cython", "numpy"):
        b = impl.get(f"brian2_{target}")
        out[f"brian2_{target}_events_per_s"] = b["events_per_s"] if b else None
        out[f"chip_vs_brian2_{target}"] = round(chip / b["events_per_s"], 3) if b else None
        out[f"raster_agreement_{target}"] = b["raster_agreement"] if b else None
    out["brian2"] = brian2.__version__ if brian2 else None
    return out


def _digits_line(d: dict | None) -> list[str]:
    if d is None:
        return ["", "Digits training: not measured (scikit-learn missing)."]
    return [
        "",
        f"Learning: the first {d['ticks']} ticks of `examples/digits.py`'s training "
        f"(STDP and growth every tick, 256 COUNTER neurons) on `CoreModel`: "
        f"{d['ticks_per_s']:.0f} ticks/s ({d['seconds']} s CPU).",
    ]


def table(res: dict) -> str:
    cmp = res["comparison"]
    impl = cmp["implementations"]
    chip = impl["chip"]["events_per_s"]
    names = {
        "chip": "`sim.top.ChipModel`, 1 core (`--port golden`)",
        "core": "`sim.core.CoreModel`",
        "brian2_cython": f"Brian2 {res['brian2']} cython",
        "brian2_numpy": f"Brian2 {res['brian2']} numpy",
    }
    lines = [
        "# Golden model speed, beside Brian2",
        "",
        "Generated by `python bench/model.py` (`bench/results/model.json`); what is",
        "measured and how is in the script's docstring. Machine: "
        f"{res['machine']}, {res['date']}, Python {res['python']}, NumPy {res['numpy']}.",
        "",
        f"Network: {cmp['neurons']} LIF neurons, {cmp['axons']} axons, "
        f"{cmp['density']:.0%} dense, {cmp['axon_activity']:.0%} of the axons active per tick, "
        f"{cmp['ticks']} ticks: {cmp['spikes']} spikes, {cmp['synaptic_events']} synaptic "
        "events. CPU time of the loop, median of "
        f"{len(impl['chip']['seconds'])} interleaved runs, OPENBLAS_NUM_THREADS=1.",
        "",
        "| implementation | CPU s | synaptic events/s | vs ChipModel | raster = ChipModel |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for k, v in impl.items():
        lines.append(
            f"| {names[k]} | {v['median_seconds']:.3f} | {v['events_per_s']:.3g} | "
            f"{v['events_per_s'] / chip:.2f} | {v['raster_agreement']:.0%} of ticks |"
        )
    for k, why in cmp["failed"].items():
        lines.append(f"| {names[k]} | failed here: {why.splitlines()[0]} | | | |")
    if res["brian2"] is None:
        lines += ["", 'Brian2 not run (not installed: `pip install -e ".[bench]"`).']
    lines += _digits_line(res["digits_training"])
    lines += [
        "",
        "## Scaling of `ChipModel`",
        "",
        "Neurons in all; 16 cores: levels (4, 4), N / 16 neurons and axons per core,",
        "one routed event per spike to a random core.",
        "",
        "| cores | neurons | axon activity | spikes/tick | ticks/s | synaptic events/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in res["sweep"]:
        lines.append(
            f"| {r['cores']} | {r['neurons']} | {r['axon_activity']:.0%} | "
            f"{r['spikes_per_tick']} | {r['ticks_per_s']:.0f} | {r['events_per_s']:.3g} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small network and sweep (smoke run)")
    ap.add_argument("--no-brian2", action="store_true", help="run the golden model only")
    args = ap.parse_args(argv)
    size = QUICK if args.quick else FULL
    brian2 = None if args.no_brian2 else import_brian2()
    if brian2 is None and not args.no_brian2:
        print('Brian2 is not installed (pip install -e ".[bench]"): golden model only')
    cmp = comparison(size, brian2)
    res = {
        **summary(cmp, brian2),
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "quick": args.quick,
        "comparison": cmp,
        "digits_training": digits_training(size["digits"]),
        "sweep": sweep(size),
    }
    results, tab = RESULTS, TABLE
    if args.quick:
        QUICK_DIR.mkdir(parents=True, exist_ok=True)
        results, tab = QUICK_DIR / "model.json", QUICK_DIR / "results-model.md"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(res, indent=1) + "\n")
    tab.write_text(table(res))
    print(json.dumps({k: v for k, v in res.items() if k not in ("comparison", "sweep")}))
    print(f"wrote {results} and {tab}")
    return res


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
