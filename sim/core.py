"""Golden model of one neuron core (``hdl/core.py``), bit-exact with the RTL.

A tick (docs/semantics.md, "Tick"): the rows active at tick t are the
neurons of this core that spiked at t - 1 (recurrent rows ``0 .. N-1``) and
the axons that received at least one event for tick t (rows ``N .. N+A-1``).
Each neuron's input is the exact sum of the crossbar weights of the active
rows in its column; every neuron is then updated once from that sum.

One engine, :class:`CoreStack`, runs any number of cores of one geometry
stacked ((cores, rows, N) crossbars, (cores, N) parameters and states); the
chip model (``sim/top.py``) is a stack plus routing, and :class:`CoreModel`
is a view of a stack of one core. A tick is event-driven: the crossbar rows
of the active rows are gathered and summed in integers (int16 or int32,
whichever holds ``Geometry.acc_bits``), so its cost is the active rows x N
plus a small constant, with no BLAS call; then one vectorised neuron update
(``sim/neuron.py``) and, if learning, each core's learn phase
(``sim/learning.py``). There is no Python loop over neurons or synapses.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field

import numpy as np

from spikeloom.defs import CORE_REGIONS, Geometry, LearnConfig, Region, pack, unpack

from . import neuron
from .learning import Learner, LearnStats

__all__ = ["CoreModel", "CoreStack", "RunResult", "as_indices"]


def as_indices(x) -> np.ndarray:
    """An iterable of integers (list, tuple, array, generator) as an int64 array."""
    if isinstance(x, np.ndarray):
        return x.astype(np.int64, copy=False).reshape(-1)
    if not isinstance(x, (list, tuple)):
        x = list(x)
    return np.asarray(x, dtype=np.int64).reshape(-1)


class CoreStack:
    """``cores`` cores of one geometry: crossbars, parameters, states, learning.

    ``count`` and ``sign`` are (cores, rows, N), ``params[f]`` and
    ``state[f]`` (cores, N), all int64; arrays passed in are used as they
    are (not copied), so a caller that owns them (the chip's network) sees
    learning change ``count`` in place. Parameters are read on every tick;
    the signed weights are cached, so after writing ``count`` or ``sign``
    other than through this class or the learn phase, call :meth:`changed`.
    The neuron update takes one model's rules only when every neuron of the
    stack uses that model (``sim/neuron.py``).
    """

    def __init__(self, geometry: Geometry, cores: int, count=None, sign=None, params=None):
        g = self.g = geometry
        self.cores = cores
        shape = (cores, g.rows, g.neurons)
        self.count = np.zeros(shape, dtype=np.int64) if count is None else count
        self.sign = np.zeros(shape, dtype=np.int64) if sign is None else sign
        if params is None:
            params = {f: np.zeros((cores, g.neurons), dtype=np.int64) for f in neuron.PARAM_FIELDS}
        self.params = params
        self.state = {f: np.zeros((cores, g.neurons), dtype=np.int64) for f in neuron.STATE_FIELDS}
        self.last_spikes = np.zeros((cores, g.neurons), dtype=bool)
        self.learners = [Learner(g) for _ in range(cores)]
        # Every partial sum of a column is bounded by rows * max_count, which
        # acc_bits holds (docs/semantics.md §3): int16 when it fits.
        self.acc = np.int16 if g.acc_bits <= 16 else np.int32
        self._lim = neuron.limits(g)
        self._n, self._rows = g.neurons, g.rows
        self._w = None

    def changed(self):
        """The crossbar changed: the cached weights are rebuilt on next use."""
        self._w = None

    @property
    def weights(self) -> np.ndarray:
        """(cores * rows + 1, N) signed weights, the last row all zero (padding)."""
        if self._w is None:
            g, c = self.g, self.cores
            w = np.zeros((c * g.rows + 1, g.neurons), dtype=self.acc)
            w[:-1] = np.where(self.sign != 0, -self.count, self.count).reshape(-1, g.neurons)
            self._w = w
        return self._w

    def integrate(self, active: np.ndarray) -> np.ndarray:
        """(cores, N) exact input sums of the (cores, rows) bool ``active`` rows."""
        w = self.weights
        flat = np.flatnonzero(active)
        if self.cores == 1:
            return np.take(w, flat, axis=0).sum(axis=0, dtype=self.acc)[None]
        # Pad every core's row list to the longest with the zero row, gather,
        # and sum each core's block: one gather and one sum for all cores.
        counts = np.count_nonzero(active, axis=1)
        width = int(counts.max()) if flat.size else 0
        core = flat // self._rows
        rank = np.arange(flat.size) - (np.cumsum(counts) - counts)[core]
        idx = np.full((self.cores, width), w.shape[0] - 1, dtype=np.int64)
        idx[core, rank] = flat
        return np.take(w, idx, axis=0).sum(axis=1, dtype=self.acc)

    def step(self, axons: np.ndarray, cfg: LearnConfig, phase: int, stats: LearnStats):
        """One tick of every core; ``axons`` (cores, A) bool, the active axons.

        Returns ``(spikes, inputs, active)``: (cores, N) bool, (cores, N)
        exact sums, (cores, rows) bool active rows. A learn phase runs on
        every core if ``cfg.learn`` (and the geometry has a history); its
        counts are added to ``stats``.
        """
        n = self._n
        active = np.empty((self.cores, self._rows), dtype=bool)
        active[:, :n] = self.last_spikes
        active[:, n:] = axons
        inp = self.integrate(active)
        self.state, spikes = neuron.step(self._lim, self.params, self.state, inp)
        if cfg.learn and self.g.history:
            w = self.weights[:-1].reshape(self.count.shape)
            learn_bits = self.params["learn"]
            for c, lr in enumerate(self.learners):
                lr.learn(
                    self.count[c],
                    self.sign[c],
                    learn_bits[c],
                    active[c],
                    spikes[c],
                    cfg,
                    phase,
                    weights=w[c],
                    stats=stats,
                )
        self.last_spikes = spikes
        return spikes, inp, active


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


class _CoreFields(MutableMapping):
    """Core 0's row of a stack's (1, N) field arrays, as a dict of (N,) views.

    Assigning a field writes into the stack (broadcast to N)."""

    def __init__(self, stack: CoreStack, name: str):
        self._stack, self._name = stack, name  # the stack's dict of (1, N) arrays

    def _get(self) -> dict:
        return getattr(self._stack, self._name)

    def __getitem__(self, k):
        return self._get()[k][0]

    def __setitem__(self, k, v):
        fields = self._get()
        if k not in fields:
            raise KeyError(f"unknown field {k!r}")
        fields[k][0] = np.broadcast_to(np.asarray(v, dtype=np.int64), fields[k].shape[1:])

    def __delitem__(self, k):
        raise TypeError("core fields cannot be deleted")

    def __iter__(self):
        return iter(self._get())

    def __len__(self):
        return len(self._get())


class CoreModel:
    """One core: crossbar, neuron parameters and state, recurrent spikes.

    A view of a one-core :class:`CoreStack` (the engine the chip model uses
    too): ``count``, ``sign`` (rows, N), ``params`` and ``state`` (dicts of
    (N,) arrays) are core 0's rows of the stack's arrays."""

    def __init__(self, geometry: Geometry):
        self.g = geometry
        self.stack = CoreStack(geometry, 1)
        self.tick_count = 0
        #: Learning parameters in effect (the chip's registers) and the unit's state.
        self.learn_cfg = LearnConfig()
        self.learn_stats = LearnStats()  #: what the last learn phase did
        self.params = _CoreFields(self.stack, "params")

    # -- the stack's arrays, as core 0 -----------------------------------------

    @property
    def count(self) -> np.ndarray:
        return self.stack.count[0]

    @property
    def sign(self) -> np.ndarray:
        return self.stack.sign[0]

    @property
    def state(self) -> MutableMapping:
        return _CoreFields(self.stack, "state")

    @state.setter
    def state(self, fields: dict):
        st = _CoreFields(self.stack, "state")
        for k, v in fields.items():
            st[k] = v

    @property
    def last_spikes(self) -> np.ndarray:
        return self.stack.last_spikes[0]

    @property
    def learner(self) -> Learner:
        return self.stack.learners[0]

    @property
    def weights(self) -> np.ndarray:
        """(rows, N) signed weights (int16 or int32); cached until the crossbar changes."""
        g = self.g
        return self.stack.weights[:-1].reshape(g.rows, g.neurons)

    # -- configuration ------------------------------------------------------

    def set_crossbar(self, count, sign):
        g = self.g
        self.stack.count[0] = np.asarray(count, dtype=np.int64).reshape(g.rows, g.neurons)
        self.stack.sign[0] = np.asarray(sign, dtype=np.int64).reshape(g.rows, g.neurons)
        self.stack.changed()

    def set_params(self, **fields):
        for k, v in fields.items():
            if k not in self.params:
                raise KeyError(f"unknown neuron parameter {k!r}")
            self.params[k] = v

    def write(self, region: Region, index: int, word: int):
        """Write one element in the configuration-port word format."""
        g = self.g
        self._check_region(region)
        fields = unpack(g.region_layout(region), word)
        if region == Region.CROSSBAR:
            r, c = divmod(index, g.neurons)
            self.count[r, c], self.sign[r, c] = fields["count"], fields["sign"]
            self.stack.changed()
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

    def _axons(self, axons) -> np.ndarray:
        g = self.g
        ax = as_indices(axons)
        row = np.zeros(g.axons, dtype=bool)
        if ax.size:
            if ax.view(np.uint64).max() >= g.axons:  # negative ones wrap to huge
                raise ValueError(f"axon index out of range 0..{g.axons - 1}: {ax.tolist()}")
            row[ax] = True
        return row

    def active_rows(self, axons=()) -> np.ndarray:
        """(rows,) bool: the rows a tick with events on ``axons`` would deliver."""
        return np.concatenate([self.last_spikes, self._axons(axons)])

    def tick(self, axons=(), phase: int = 0):
        """Advance one tick with events on ``axons`` (duplicates count once).

        ``phase`` is the tick's episode phase (the chip keeps it), used by
        the learn phase if ``learn_cfg.learn`` is set. Returns ``(spikes,
        inputs)``: (N,) bool and (N,) exact input sums.
        """
        self.learn_stats = LearnStats()
        spikes, inp, _ = self.stack.step(
            self._axons(axons)[None], self.learn_cfg, phase, self.learn_stats
        )
        self.tick_count += 1
        return spikes[0], inp[0]

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
                states[f][i] = self.stack.state[f][0]
        return RunResult(spikes=spikes, state=states, inputs=sums)
