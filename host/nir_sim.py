"""A float reference of an imported NIR graph, and its agreement with the chip.

:func:`simulate` runs the graph as :func:`~spikeloom.host.nir_import.import_nir`
discretised it (``ImportReport.reference``), in float64 numpy with no
quantisation: per tick, ``v <- v - (v - v_leak) * dt / tau + sum(W_eff * s) +
b_eff``, a spike when v exceeds ``v_threshold`` (NIR), reset to ``v_reset``.
It keeps spikeloom's timing (a layer fed by a population sees its spikes of
the tick before; host input arrives in the same tick) and gives the biases
from tick 0, so what differs from the chip is what the import approximated:
quantised weights and thresholds, the linear leak, the bias from tick 1, and
"reaches" against "exceeds".

:func:`agreement` drives both with the same seeded rate-coded input and
compares each neuron's spike count.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from spikeloom.network import Network

from .encode import rate
from .nir_import import BIAS, ImportReport

__all__ = ["simulate", "chip_spikes", "agreement", "Agreement"]


def simulate(report: ImportReport, axons: np.ndarray) -> np.ndarray:
    """Spikes (ticks, N) of the float reference for host input ``axons`` (ticks, A) booleans."""
    g = report.geometry
    ticks = len(axons)
    out = np.zeros((ticks, g.neurons), dtype=bool)
    state = {p.name: p.rest.copy() for p in report.reference}
    last = np.zeros(g.neurons, dtype=bool)
    for t in range(ticks):
        active = np.concatenate([last, axons[t]]).astype(np.float64)
        now = np.zeros(g.neurons, dtype=bool)
        for p in report.reference:
            drive = np.zeros(len(p.rest))
            for src, rows, eff in p.incoming:
                drive += eff[0] if src == BIAS else active[rows] @ eff
            v = state[p.name]
            v += -(v - p.rest) * p.decay + drive
            fired = v > p.threshold
            v[fired] = p.rest[fired]
            now[p.first_neuron : p.first_neuron + len(v)] = fired
        out[t] = now
        last = now
    return out


def chip_spikes(net: Network, axons: np.ndarray) -> np.ndarray:
    """Spikes (ticks, N) of core 0 of the golden model (``ChipModel``) for the same input."""
    from spikeloom.sim.top import ChipModel

    chip = ChipModel(copy.deepcopy(net))
    out = np.zeros((len(axons), net.geometry.neurons), dtype=bool)
    for t, row in enumerate(axons):
        spikes, _ = chip.tick([(0, int(a)) for a in np.flatnonzero(row)])
        out[t] = spikes[0]
    return out


@dataclass
class Agreement:
    """Per-neuron spike counts of the chip against the float reference."""

    ticks: int
    neurons: int
    within: float  #: fraction of neurons whose counts differ by at most max(2, 20 %)
    correlation: float  #: Pearson r of the counts (nan if either is constant)
    reference_spikes: int
    chip_spikes: int
    populations: list  #: (name, within, reference spikes, chip spikes)

    def __str__(self) -> str:
        lines = [
            f"agreement with the float reference over {self.ticks} ticks of rate-coded input: "
            f"{self.within:.0%} of {self.neurons} neurons within max(2, 20 %) spikes; "
            f"count correlation {self.correlation:.3f}; {self.chip_spikes} spikes on the chip, "
            f"{self.reference_spikes} in the reference"
        ]
        for name, within, ref, hw in self.populations:
            lines.append(f"  {name:<16} {within:>5.0%} within; spikes {hw} chip, {ref} reference")
        return "\n".join(lines)


def _within(ref: np.ndarray, hw: np.ndarray) -> np.ndarray:
    return np.abs(hw - ref) <= np.maximum(2, 0.2 * ref)


def agreement(
    net: Network, report: ImportReport, ticks: int = 200, seed: int = 0, rates=(0.05, 0.5)
) -> Agreement:
    """Run chip (golden model) and reference on the same input; compare spike counts.

    Input: each used axon fires with its own probability per tick, drawn
    uniformly from ``rates`` (seeded), Bernoulli.
    """
    g = report.geometry
    used = sum(i.size for i in report.inputs)
    rng = np.random.default_rng(seed)
    events = rate(rng.uniform(*rates, used), ticks, seed=seed)
    axons = np.zeros((ticks, g.axons), dtype=bool)
    for t, ev in events.items():
        axons[t, [a for _, a in ev]] = True
    ref = simulate(report, axons).sum(axis=0)
    hw = chip_spikes(net, axons).sum(axis=0)
    pops, cols = [], []
    for p in report.reference:
        c = np.arange(p.first_neuron, p.first_neuron + len(p.rest))
        cols.append(c)
        ok = _within(ref[c], hw[c])
        pops.append((p.name, float(ok.mean()), int(ref[c].sum()), int(hw[c].sum())))
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=int)
    r, h = ref[c].astype(float), hw[c].astype(float)
    corr = float(np.corrcoef(r, h)[0, 1]) if r.std() > 0 and h.std() > 0 else float("nan")
    return Agreement(
        ticks=ticks,
        neurons=len(c),
        within=float(_within(r, h).mean()) if len(c) else 1.0,
        correlation=corr,
        reference_spikes=int(r.sum()),
        chip_spikes=int(h.sum()),
        populations=pops,
    )
