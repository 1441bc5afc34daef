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

from .nir_import import BIAS, ImportReport

__all__ = ["simulate", "chip_spikes", "agreement", "Agreement"]


def simulate(report: ImportReport, inputs: dict) -> dict:
    """Spikes of the float reference: population -> (ticks, size) booleans.

    ``inputs``: Input name -> (ticks, size) booleans (its spikes each tick).
    """
    ticks = len(next(iter(inputs.values()))) if inputs else 0
    out = {p.name: np.zeros((ticks, len(p.rest)), dtype=bool) for p in report.reference}
    state = {p.name: p.rest.copy() for p in report.reference}
    last = {p.name: np.zeros(len(p.rest)) for p in report.reference}
    for t in range(ticks):
        now = {}
        for p in report.reference:
            drive = np.zeros(len(p.rest))
            for src, eff in p.incoming:
                if src == BIAS:
                    drive += eff[0]
                elif src in inputs:
                    drive += inputs[src][t].astype(np.float64) @ eff
                else:
                    drive += last[src] @ eff
            v = state[p.name]
            v += -(v - p.rest) * p.decay + drive
            fired = v > p.threshold
            v[fired] = p.rest[fired]
            now[p.name] = fired.astype(np.float64)
            out[p.name][t] = fired
        last = now
    return out


def chip_spikes(net: Network, report: ImportReport, inputs: dict) -> dict:
    """Spikes of the golden model (``ChipModel``) for the same input, by population."""
    from spikeloom.sim.top import ChipModel

    chip = ChipModel(copy.deepcopy(net))
    ticks = len(next(iter(inputs.values()))) if inputs else 0
    out = {p.name: np.zeros((ticks, len(p.rest)), dtype=bool) for p in report.reference}
    for t in range(ticks):
        events = [
            (i.core, i.first_axon + int(k))
            for i in report.inputs
            for k in np.flatnonzero(inputs[i.name][t])
        ]
        spikes, _ = chip.tick(events)
        for p in report.reference:
            out[p.name][t] = spikes[p.core, p.first_neuron : p.first_neuron + len(p.rest)]
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

    Input: each value of each Input fires with its own probability per
    tick, drawn uniformly from ``rates`` (seeded), Bernoulli; an Input
    placed on several cores gets the same events on each.
    """
    rng = np.random.default_rng(seed)
    sizes = {i.name: i.size for i in report.inputs}
    inputs = {}
    for name in sorted(sizes):
        p = rng.uniform(*rates, sizes[name])
        inputs[name] = rng.random((ticks, sizes[name])) < p
    ref_spikes = simulate(report, inputs)
    hw_spikes = chip_spikes(net, report, inputs)
    pops, refs, hws = [], [], []
    for p in report.reference:
        ref, hw = ref_spikes[p.name].sum(axis=0), hw_spikes[p.name].sum(axis=0)
        refs.append(ref)
        hws.append(hw)
        ok = _within(ref, hw)
        pops.append((p.name, float(ok.mean()), int(ref.sum()), int(hw.sum())))
    r = np.concatenate(refs).astype(float) if refs else np.zeros(0)
    h = np.concatenate(hws).astype(float) if hws else np.zeros(0)
    corr = float(np.corrcoef(r, h)[0, 1]) if r.std() > 0 and h.std() > 0 else float("nan")
    return Agreement(
        ticks=ticks,
        neurons=len(r),
        within=float(_within(r, h).mean()) if len(r) else 1.0,
        correlation=corr,
        reference_spikes=int(r.sum()),
        chip_spikes=int(h.sum()),
        populations=pops,
    )
