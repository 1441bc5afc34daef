"""Golden model of one neuron core (``hdl/core.py``), bit-exact with the RTL.

A tick (docs/semantics.md, "Tick"): the rows active at tick t are the
neurons of this core that spiked at t - 1 (recurrent rows ``0 .. N-1``) and
the axons that received at least one event for tick t (rows ``N .. N+A-1``).
Each neuron's input is the exact sum of the crossbar weights of the active
rows in its column; every neuron is then updated once from that sum.

Vectorised: a tick is one gather-and-sum over the active rows and one
vectorised neuron update; there is no Python loop over neurons or synapses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikeloom.defs import CORE_REGIONS, Geometry, LearnConfig, Region, pack, unpack

from . import neuron
from .learning import Learner, LearnStats

__all__ = ["CoreModel", "RunResult"]


@dataclass
class RunResult:
    """What :meth:`CoreModel.run` returns: rows are ticks."""

    spikes: np.ndarray  #: (T, N) bool, every neuron's spikes
    state: dict[str, np.ndarray] = field(default_factory=dict)  #: field -> (T, N)
    inputs: np.ndarray | None = None  #: (T, N) exact summed input

    def output_events(self, params, tick0: int = 0) -> list[tuple[int, int]]:
        """(tick, neuron) of the spikes of output-enabled neurons, in order."""
        out = np.asarray(params["output"]) != 0
        ticks, neurons = np.nonzero(self.spikes & out[None, :])
        return [(int(t) + tick0, int(n)) for t, n in zip(ticks, neurons)]


class CoreModel:
    """One core: crossbar, neuron parameters and state, recurrent spikes."""

    def __init__(self, geometry: Geometry):
        self.g = geometry
        n, rows = geometry.neurons, geometry.rows
        self.count = np.zeros((rows, n), dtype=np.int64)
        self.sign = np.zeros((rows, n), dtype=np.int64)
        self.params = {f: np.zeros(n, dtype=np.int64) for f in neuron.PARAM_FIELDS}
        self.state = neuron.zero_state(geometry)
        self.last_spikes = np.zeros(n, dtype=bool)
        self.tick_count = 0
        self._weights = None
        #: Learning parameters in effect (the chip's registers) and the unit's state.
        self.learn_cfg = LearnConfig()
        self.learner = Learner(geometry)
        self.learn_stats = LearnStats()  #: what the last learn phase did

    # -- configuration ------------------------------------------------------

    @property
    def weights(self) -> np.ndarray:
        """(rows, N) signed weights; cached until the crossbar changes."""
        if self._weights is None:
            # int16 holds any weight (k <= 8); sums are taken in int32, which
            # holds rows * 255 for any legal geometry.
            self._weights = np.where(self.sign != 0, -self.count, self.count).astype(np.int16)
        return self._weights

    def set_crossbar(self, count, sign):
        self.count = np.array(count, dtype=np.int64).reshape(self.g.rows, self.g.neurons)
        self.sign = np.array(sign, dtype=np.int64).reshape(self.g.rows, self.g.neurons)
        self._weights = None

    def set_params(self, **fields):
        for k, v in fields.items():
            if k not in self.params:
                raise KeyError(f"unknown neuron parameter {k!r}")
            self.params[k] = np.broadcast_to(np.asarray(v, dtype=np.int64), self.g.neurons).copy()

    def write(self, region: Region, index: int, word: int):
        """Write one element in the configuration-port word format."""
        g = self.g
        self._check_region(region)
        fields = unpack(g.region_layout(region), word)
        if region == Region.CROSSBAR:
            r, c = divmod(index, g.neurons)
            self.count[r, c], self.sign[r, c] = fields["count"], fields["sign"]
            self._weights = None
        elif region == Region.PARAMS:
            for k, v in fields.items():
                self.params[k][index] = v
        else:
            for k, v in fields.items():
                self.state[k][index] = v

    def _check_region(self, region):
        if Region(region) not in CORE_REGIONS:
            raise ValueError(f"region {Region(region).name} is not held by a core")

    def read(self, region: Region, index: int) -> int:
        g = self.g
        self._check_region(region)
        if region == Region.CROSSBAR:
            r, c = divmod(index, g.neurons)
            return pack(g.entry_layout, count=int(self.count[r, c]), sign=int(self.sign[r, c]))
        src = self.params if region == Region.PARAMS else self.state
        return pack(g.region_layout(region), **{k: int(v[index]) for k, v in src.items()})

    # -- running ------------------------------------------------------------

    def active_rows(self, axons=()) -> np.ndarray:
        rows = np.zeros(self.g.rows, dtype=bool)
        rows[: self.g.neurons] = self.last_spikes
        ax = np.asarray(list(axons), dtype=np.int64)
        if ax.size:
            if ax.min() < 0 or ax.max() >= self.g.axons:
                raise ValueError(f"axon index out of range 0..{self.g.axons - 1}: {ax.tolist()}")
            rows[self.g.neurons + ax] = True
        return rows

    def tick(self, axons=(), phase: int = 0):
        """Advance one tick with events on ``axons`` (duplicates count once).

        ``phase`` is the tick's episode phase (the chip keeps it), used by
        the learn phase if ``learn_cfg.learn`` is set. Returns ``(spikes,
        inputs)``: (N,) bool and (N,) exact input sums.
        """
        active = self.active_rows(axons)
        rows = np.flatnonzero(active)
        inp = np.add.reduce(self.weights[rows], axis=0, dtype=np.int32).astype(np.int64)
        self.state, spikes = neuron.update(self.g, self.params, self.state, inp)
        self.learn_stats = LearnStats()
        if self.learn_cfg.learn and self.g.history:
            self.learn_stats = self.learner.learn(
                self.count, self.sign, self.params["learn"], active, spikes, self.learn_cfg, phase
            )
            self._weights = None
        self.last_spikes = spikes
        self.tick_count += 1
        return spikes, inp

    def run(self, inputs) -> RunResult:
        """Run one tick per element of ``inputs`` (each an iterable of axons)."""
        inputs = list(inputs)
        t, n = len(inputs), self.g.neurons
        spikes = np.zeros((t, n), dtype=bool)
        sums = np.zeros((t, n), dtype=np.int64)
        states = {f: np.zeros((t, n), dtype=np.int64) for f in neuron.STATE_FIELDS}
        for i, axons in enumerate(inputs):
            spikes[i], sums[i] = self.tick(axons)
            for f in neuron.STATE_FIELDS:
                states[f][i] = self.state[f]
        return RunResult(spikes=spikes, state=states, inputs=sums)
