"""Golden model of a multi-core chip (``hdl/top.py``): cores, routing, bus tree.

Bit-exact with the RTL's results (spikes, states, output events, per-level
event counts); timing is not modelled. The cores are one
:class:`~spikeloom.sim.core.CoreStack` (the engine :class:`CoreModel` uses
too); routing is array work over the tick's spiking neurons only: no
Python loop over cores, neurons or events.

Routing (docs/semantics.md §5): a spike of neuron n of core c at tick t
sends one event per valid routing entry (c, n, f) to axon
``route_axon[c, n, f]`` of core ``route_core[c, n, f]``, active at t + 1.
An entry naming a core that does not exist is ignored, and the axon is
taken modulo A (its low ``axon_bits`` bits, as the core's axon input), so a
route to axon 1 with A = 1 reaches axon 0. Host events for tick t and
routed events are merged per axon (an axon is active or not); a host event
for a core that does not exist is dropped and counted in ``host_dropped``
only. Per level of the bus tree, ``carried[l]`` counts the events that
crossed a segment of that level: an event between cores whose lowest
common ancestor is at level L crosses two segments of each level below L
and one of level L; host events descend from the root (one segment per
level) and output events climb to it (one per level).
"""

from __future__ import annotations

import math

import numpy as np

from spikeloom.defs import COUNTERS, Geometry, LearnConfig, next_phase
from spikeloom.network import Network

from .core import CoreStack, as_indices
from .learning import LearnStats

__all__ = ["ChipModel", "lca_level"]


def lca_level(geometry: Geometry, src, dst) -> np.ndarray:
    """Level of the lowest bus segment joining cores ``src`` and ``dst``."""
    src, dst = np.asarray(src), np.asarray(dst)
    level = np.full(np.broadcast(src, dst).shape, len(geometry.levels) - 1)
    # A level-i segment joins the cores of one block of prod(levels[:i+1]).
    for i in reversed(range(len(geometry.levels))):
        span = math.prod(geometry.levels[: i + 1])
        level = np.where((src // span) == (dst // span), i, level)
    return level


class ChipModel:
    """All cores of one geometry, with routing between them."""

    def __init__(self, network: Network):
        network.validate()
        self.net = network
        self.g = g = network.geometry
        self.cores = CoreStack(g, g.cores)
        self.reload()
        self.pending = np.zeros((g.cores, g.axons), dtype=bool)  # routed, for next tick
        self.tick_count = 0
        # Learning (docs/semantics.md section 6): the chip's parameters, the
        # episode phase of the next tick, and every core's unit.
        self.learn_cfg = LearnConfig()
        self.phase = 0
        self.learn_stats = LearnStats()  #: summed over every learn phase so far
        nlev = len(g.levels)
        self.counters = {
            "carried": np.zeros(nlev, dtype=np.int64),  # per level, all segments
            # routed: events sent between cores (= delivered); delivered: events
            # into cores' axon inputs (routed + host); host_dropped: host events
            # for a core that does not exist.
            **{name: 0 for name in COUNTERS},
        }

    # -- the cores' arrays ---------------------------------------------------

    @property
    def state(self) -> dict:
        """Field -> (cores, N) neuron states."""
        return self.cores.state

    @state.setter
    def state(self, value: dict):
        self.cores.state = value

    @property
    def params(self) -> dict:
        return self.cores.params

    @property
    def last_spikes(self) -> np.ndarray:
        return self.cores.last_spikes

    @last_spikes.setter
    def last_spikes(self, value):
        self.cores.last_spikes = np.asarray(value, dtype=bool)

    @property
    def learners(self):
        return self.cores.learners

    def reload(self):
        """Take the network's arrays again (after the caller changed them in
        place, as the link model's memory writes do); dynamic state is kept."""
        network, g, st = self.net, self.g, self.cores
        st.count, st.sign = network.count, network.sign
        st.params = {k: np.asarray(v, dtype=np.int64) for k, v in network.params.items()}
        st.changed()
        st.weights  # noqa: B018 - built here, not in the first tick
        # An entry naming a core that does not exist is ignored (as in
        # hdl/fanout.py); the core takes the axon's low axon_bits bits.
        valid = (network.route_valid != 0) & (network.route_core < g.cores)
        target = network.route_core * g.axons + (network.route_axon & (g.axons - 1))
        n = g.cores * g.neurons
        self._valid = valid.reshape(n, g.fanout)
        self._target = target.reshape(n, g.fanout)
        self._routes = np.count_nonzero(self._valid, axis=1)  # events per spike
        self._any_route = bool(self._routes.any())
        # A host event's fields: core_bits and max(1, axon_bits) bits.
        self._field_max = (1 << g.core_bits, 1 << max(1, g.axon_bits))
        # Segments crossed per level by a spike's routed events (all entries).
        lev = lca_level(g, np.arange(g.cores)[:, None, None], network.route_core)
        hops = [np.where(lev > i, 2, np.where(lev == i, 1, 0)) for i in range(len(g.levels))]
        self._hops = np.stack([(h * valid).sum(axis=2).reshape(n) for h in hops], axis=1)

    def set_learning(self, cfg: LearnConfig):
        """Set the learning parameters (the phase goes on: see restart_episode)."""
        self.learn_cfg = cfg

    def restart_episode(self):
        """The next tick is tick 0 of an episode (a write of EPISODE does this)."""
        self.phase = 0

    def seed(self, core: int, value: int):
        """Seed core ``core``'s learning generator (SEED)."""
        if not 0 <= core < self.g.cores:
            raise ValueError(f"core {core} out of range 0..{self.g.cores - 1}")
        self.learners[core].seed(value)

    def soft_reset(self):
        """What RESET does to the chip's logic: tick 0, no pending events,
        counters 0, episode phase 0, generators at their reset value. The
        memories (crossbar, parameters, neuron states, histories) are kept."""
        self.last_spikes = np.zeros_like(self.last_spikes)
        self.pending[:] = False
        self.tick_count = 0
        self.phase = 0
        for k, v in self.counters.items():
            self.counters[k] = np.zeros_like(v) if isinstance(v, np.ndarray) else 0
        for lr in self.learners:
            lr.reset()

    def _host(self, host_events) -> np.ndarray:
        """The host events taken, as flat axon indices; counts the dropped ones.

        An event is (core, axon) in the host port's fields: a value the
        fields cannot hold raises ValueError; a core that does not exist
        drops the event (``host_dropped``)."""
        g = self.g
        ev = as_indices(host_events).reshape(-1, 2)
        if not ev.size:
            return ev[:, 0]
        u = ev.view(np.uint64)  # a negative value wraps to a huge one
        hi = (int(u[:, 0].max()), int(u[:, 1].max()))
        if hi[0] >= self._field_max[0] or hi[1] >= self._field_max[1]:
            raise ValueError(
                f"host event out of range (cores {g.cores}, axons {g.axons}): {ev.tolist()}"
            )
        core, axon = ev[:, 0], ev[:, 1]
        if hi[1] >= g.axons:  # A = 1: the core takes the axon's low axon_bits bits
            axon = axon & (g.axons - 1)
        flat = core * g.axons + axon
        if hi[0] >= g.cores:
            ok = core < g.cores
            self.counters["host_dropped"] += int(ev.shape[0] - np.count_nonzero(ok))
            flat = flat[ok]
        return flat

    def tick(self, host_events=()):
        """Advance one tick. ``host_events``: iterable of (core, axon), or a
        (K, 2) array.

        Returns ``(spikes, events)``: (cores, N) bool, and the output events
        ``[(tick, core, neuron), ...]`` sorted by core, then neuron (the
        hardware's interleaving of cores is not part of the semantics).
        """
        g = self.g
        host = self._host(host_events)
        axons = self.pending
        axons.reshape(-1)[host] = True
        phase, self.phase = self.phase, next_phase(self.phase, self.learn_cfg.episode)
        spikes, _, _ = self.cores.step(axons, self.learn_cfg, phase, self.learn_stats)

        fired = np.flatnonzero(spikes)  # c * N + n, in core then neuron order
        axons.fill(False)  # the stack took its copy: now the next tick's routed events
        c = self.counters
        if self._any_route and fired.size:
            axons.reshape(-1)[self._target[fired][self._valid[fired]]] = True
            routed = int(self._routes[fired].sum())
            c["routed"] += routed
            c["delivered"] += routed
            c["carried"] += self._hops[fired].sum(axis=0)
        out = fired[self.params["output"].reshape(-1)[fired] != 0] if fired.size else fired
        c["delivered"] += host.size
        c["host_events"] += host.size
        c["output_events"] += out.size
        c["carried"] += host.size + out.size
        self.tick_count += 1
        if not out.size:
            return spikes, []
        stamp = (self.tick_count - 1) & ((1 << g.tick_bits) - 1)
        core, neuron = np.divmod(out, g.neurons)
        return spikes, [(stamp, a, b) for a, b in zip(core.tolist(), neuron.tolist())]
